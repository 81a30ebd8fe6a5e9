/*
 * plandiff.h - what changed between two plans of one pull request: a compact change summary
 * of a plan (per resource address its action, per output its action), serialised as JSON to
 * be kept beside the sealed plan, and the difference of two summaries (resources added to or
 * dropped from the change set, actions that changed) for the comment's "Changes since the
 * previous plan" section (report/plandiff.h).
 *
 * The summary holds addresses and action words only - never attribute values - so it is not
 * secret and may be stored unencrypted next to the sealed plan (a companion blob; it is too
 * large for blob metadata, which Azure caps at 8 KiB).
 *
 * JSON (keys sorted, no whitespace, so equal summaries are equal bytes):
 *     {"format":"mlinfra.plan-summary/1","head_sha":"<sha or null>",
 *      "outputs":{"name":"update",...},"resources":{"address":"create",...}}
 * Actions are the words of mi_tfplan_action_name ("create", "update", "replace", "delete",
 * "read", "forget"), plus "move" and "import" for a resource that only moves or is only
 * imported. A resource with no change (no-op, not moved or imported) is not in the summary.
 * A deposed object is listed as "ADDRESS (deposed KEY)".
 *
 * Rules:
 *  - Summaries and diffs own every string in them and are freed with their _free (NULL-safe).
 *    Entries are sorted by address (bytewise), so two summaries compare in one pass.
 *  - mi_plandiff_summary_parse refuses anything else than the format above (MI_ERR naming
 *    the source and what is wrong): an unknown format, a non-string action, an unknown
 *    action word, more than MI_PLANDIFF_MAX_BYTES of text.
 *  - Nothing here prints, reads files or talks to the store.
 */
#ifndef MI_TERRAFORM_PLANDIFF_H
#define MI_TERRAFORM_PLANDIFF_H

#include <stddef.h>

#include "terraform/changes.h"
#include "util/buf.h"

#define MI_PLANDIFF_FORMAT "mlinfra.plan-summary/1"
/* Largest summary text accepted (a 100 000-change plan is about 8 MiB). */
#define MI_PLANDIFF_MAX_BYTES ((size_t)64 * 1024 * 1024)

struct mi_plandiff_item {
    char *address; /* resource address, or output name */
    char *action;  /* see above */
};

struct mi_plandiff_summary {
    char *head_sha; /* the commit planned; may be NULL */
    struct mi_plandiff_item *resources;
    size_t resources_len;
    struct mi_plandiff_item *outputs;
    size_t outputs_len;
};

/* The summary of a parsed plan; head_sha may be NULL. Cannot fail. */
void mi_plandiff_summarize(struct mi_plandiff_summary **out, const struct mi_tfplan *plan,
                           const char *head_sha);
/* Appends the canonical JSON. */
void mi_plandiff_summary_to_json(mi_buf *out, const struct mi_plandiff_summary *s);
/* Parses JSON written by mi_plandiff_summary_to_json; source names the text in messages. */
int mi_plandiff_summary_parse(struct mi_plandiff_summary **out, const char *json, size_t len,
                              const char *source);
void mi_plandiff_summary_free(struct mi_plandiff_summary *s);

enum mi_plandiff_kind {
    MI_PLANDIFF_ADDED,   /* in the new plan's change set, not in the previous one's */
    MI_PLANDIFF_DROPPED, /* in the previous change set, no longer changed */
    MI_PLANDIFF_CHANGED, /* in both, with another action */
};

struct mi_plandiff_entry {
    enum mi_plandiff_kind kind;
    int is_output;
    char *address;
    char *before; /* previous action; NULL when added */
    char *after;  /* new action; NULL when dropped */
};

struct mi_plandiff {
    char *previous_head_sha; /* may be NULL */
    char *head_sha;          /* may be NULL */
    /* Resources first, then outputs; each part sorted by address. */
    struct mi_plandiff_entry *entries;
    size_t len;
    size_t added, dropped, changed; /* counts over entries */
    size_t unchanged;               /* in both change sets with the same action */
};

/* The difference from previous to current. Cannot fail. */
void mi_plandiff_compare(struct mi_plandiff **out, const struct mi_plandiff_summary *previous,
                         const struct mi_plandiff_summary *current);
void mi_plandiff_free(struct mi_plandiff *d);

#endif
