/*
 * window.h - change windows: when an environment may be deployed (docs/policies.md).
 *
 * A change-window file (policies/change-windows.yml) lists rules that close an environment
 * ("deny": no deploys to production on Fridays, a freeze between two dates) or that open it
 * only at certain times ("allow": staging in office hours), each in an IANA time zone.
 * `check` and `plan` evaluate it against the current time, `apply` again at apply time.
 *
 * Rules:
 *  - mi_window_load/parse validate the whole file (keys, day names, times, time zones,
 *    start <= end, unique names) and fail with MI_EUSAGE naming the file and line; a missing
 *    file is MI_ENOTFOUND so callers can treat "no file" as "no windows".
 *  - A set is immutable; evaluation never changes it. The caller frees sets and reports.
 *  - Time zones come from the TZ database (/usr/share/zoneinfo, or $TZDIR). Conversions
 *    switch the process's TZ variable for their duration and restore it, so evaluation is
 *    not thread-safe: call it from one thread, as the agent does.
 *  - The clock is never read here except by mi_window_now, which prefers an override (the
 *    command's --now) and MLINFRA_NOW, so tests fix time.
 *  - Never prints, never exits.
 */
#ifndef MI_POLICY_WINDOW_H
#define MI_POLICY_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#define MI_WINDOW_MAX_BYTES (1024u * 1024u)
/* How far ahead "opens again at" is searched. */
#define MI_WINDOW_LOOKAHEAD_SECONDS (14 * 24 * 3600)

struct mi_window_set;

/* A rule that closes the environment at the evaluated time. */
struct mi_window_hit {
    char *name;
    char *action;  /* "deny", or "allow" when no allow rule matched (name: the allow rules) */
    char *message; /* the rule's message, or a generated one */
    int line;      /* line of the rule in the file */
};

struct mi_window_report {
    int evaluated; /* 0: no file or no environment given; the rest is empty */
    char *path;    /* the file evaluated */
    char *environment;
    int64_t now; /* seconds since the epoch */
    int open;    /* 1: deploying is allowed now */
    struct mi_window_hit *hits;
    size_t nhits;
    int64_t opens_at; /* when closed: the next time it opens, or -1 beyond the lookahead */
    size_t nrules;    /* rules that apply to the environment */
};

int mi_window_load(struct mi_window_set **out, const char *path);
int mi_window_parse(struct mi_window_set **out, const char *name, const char *text, size_t len);
void mi_window_set_free(struct mi_window_set *set);
size_t mi_window_set_rules(const struct mi_window_set *set);

/* Evaluates the windows for environment at now. Fails only on an internal error (a time
 * zone that vanished after loading). */
int mi_window_evaluate(struct mi_window_report *out, const struct mi_window_set *set,
                       const char *environment, int64_t now);
void mi_window_report_release(struct mi_window_report *r);

/* Parses an ISO 8601 instant: YYYY-MM-DDTHH:MM[:SS[.frac]] with Z or +HH:MM/-HH:MM (a time
 * without an offset is UTC), or a bare date (midnight UTC); also seconds since the epoch
 * written as "@N". MI_EUSAGE with the text quoted on anything else. */
int mi_window_parse_instant(int64_t *out, const char *text);
/* The time to evaluate at: override if given, else $MLINFRA_NOW, else the clock. */
int mi_window_now(int64_t *out, const char *override);
/* Formats an instant as ISO 8601 in UTC ("2025-11-21T10:00:00Z") into buf. */
void mi_window_format_utc(char *buf, size_t len, int64_t t);
/* Formats an instant in a time zone ("2025-11-21T11:00:00+01:00"); UTC when the zone
 * cannot be used. */
void mi_window_format_local(char *buf, size_t len, int64_t t, const char *zone);
/* The zone of the first rule of a report's hits (for display), or "UTC". Borrowed. */
const char *mi_window_set_zone(const struct mi_window_set *set);

#endif
