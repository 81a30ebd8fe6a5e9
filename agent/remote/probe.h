/*
 * probe.h - the health check after apply: HTTP GET of the service's reported address plus a
 * configured path (MLflow answers "OK" on /health), tried a bounded number of times within a
 * bounded total time, with a growing wait between tries, because a load balancer that was
 * just created takes a while to route (connections refused, 502/503) before it answers.
 *
 *   struct mi_probe_options o = {.base = "http://20.1.2.3", .path = "/health"};
 *   struct mi_probe_result r = MI_PROBE_RESULT_INIT;
 *   mi_probe_run(&r, &o);            r.reachable, r.status, r.latency_ms, r.attempts, r.error
 *   mi_probe_result_release(&r);
 *
 * Rules:
 *  - An unreachable service is a result, not an error: mi_probe_run returns 0 whether or not
 *    the service answered, and the caller decides whether that fails the job. It returns a
 *    negative code only for a bad address or path (MI_EUSAGE) and for cancellation
 *    (MI_ECANCELLED, util/cancel.h), with the message set.
 *  - Only http and https are probed (the address comes from terraform outputs, which are data:
 *    "file:///etc/passwd" is refused). A bare host or host:port gets "http://".
 *  - A try succeeds when the status is within [healthy_min, healthy_max] (default 200..299).
 *    Any other status, a refused connection, a timeout or a dropped connection is retried
 *    until max_tries tries were made or total_timeout_ms has passed, whichever comes first.
 *    Each try is cut to the time left; a wait that would end after the deadline is not made.
 *  - The body of a healthy answer is read and discarded (a UI page may be large); other
 *    bodies are capped at 64 KiB and not kept. The result never holds response text, so it
 *    can go into a PR comment without leaking what the service said.
 *  - The result owns its strings (mi_probe_result_release frees them; releasing a result
 *    twice is safe). Nothing here prints; on_attempt lets the command log each try.
 */
#ifndef MI_REMOTE_PROBE_H
#define MI_REMOTE_PROBE_H

#include "util/buf.h"

#define MI_PROBE_DEFAULT_PATH "/"
#define MI_PROBE_DEFAULT_TRIES 10
#define MI_PROBE_DEFAULT_TOTAL_MS 300000L /* 5 minutes */
#define MI_PROBE_DEFAULT_TRY_MS 10000L
#define MI_PROBE_DEFAULT_BASE_DELAY_MS 2000L
#define MI_PROBE_DEFAULT_MAX_DELAY_MS 30000L

/* What one try did, for on_attempt. Strings are borrowed for the duration of the call. */
struct mi_probe_attempt {
    int number;         /* 1-based */
    long status;        /* HTTP status, 0 when no answer arrived */
    long latency_ms;    /* time the try took */
    int healthy;        /* this try succeeded */
    const char *error;  /* why it did not succeed; NULL when healthy */
    long next_delay_ms; /* wait before the next try; -1 when there is none */
};

struct mi_probe_options {
    const char *base;      /* the service's address: URL, host or host:port (required) */
    const char *path;      /* joined to base with one '/'; NULL: "/" (may carry a query) */
    int max_tries;         /* 0: MI_PROBE_DEFAULT_TRIES */
    long total_timeout_ms; /* 0: MI_PROBE_DEFAULT_TOTAL_MS */
    long try_timeout_ms;   /* 0: MI_PROBE_DEFAULT_TRY_MS */
    long base_delay_ms;    /* first wait, doubled after each try; 0: default */
    long max_delay_ms;     /* cap on one wait; 0: default */
    long healthy_min;      /* 0: 200 */
    long healthy_max;      /* 0: 299 */
    int follow_redirects;  /* follow up to 5 redirects (http.h) */
    const char *ca_file;   /* NULL: the system's CAs */
    /* Called after every try (may be NULL). */
    void (*on_attempt)(void *ctx, const struct mi_probe_attempt *a);
    void *ctx;
};

struct mi_probe_result {
    char *url;       /* what was probed (no userinfo: see mi_probe_url) */
    int reachable;   /* a try got a healthy status */
    long status;     /* status of the last try; 0 when the last try got no answer */
    long latency_ms; /* of the successful try; -1 when none succeeded */
    int attempts;    /* tries made */
    long elapsed_ms; /* from the first try to the end */
    int timed_out;   /* stopped by total_timeout_ms rather than max_tries */
    char *error;     /* why the last try failed; NULL when reachable */
};

#define MI_PROBE_RESULT_INIT                                                                       \
    {                                                                                              \
        NULL, 0, 0, -1, 0, 0, 0, NULL                                                              \
    }

/* Probes as described above. See the rules for what is an error. */
int mi_probe_run(struct mi_probe_result *out, const struct mi_probe_options *o);
void mi_probe_result_release(struct mi_probe_result *r);

/* The URL to probe: base (with "http://" when it names no scheme) and path joined by exactly
 * one '/'. MI_EUSAGE for an empty base, a scheme other than http(s), userinfo ("user:pw@"),
 * whitespace or control characters. Caller frees *out. */
int mi_probe_url(char **out, const char *base, const char *path);

#endif
