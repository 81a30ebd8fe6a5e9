/*
 * applied.h - the "Applied" section that `mlinfra apply` adds to a plan's PR comment
 * (DESIGN.md section 8): the result, the time, the plan that ran and the service address.
 *
 * Rules:
 *  - The section sits between the markers MI_REPORT_APPLIED_BEGIN and MI_REPORT_APPLIED_END,
 *    so a re-run replaces it instead of adding a second one.
 *  - Sensitive outputs are never shown (their value is not even read); every value and the
 *    error text are redacted with the log registry and the given secrets (comment.h).
 *  - mi_report_comment_with_applied keeps the whole comment within max_bytes: when the section
 *    does not fit, the plan output is removed from the old body first (saying so), then the
 *    body is cut at a line; the section itself is never cut.
 *  - Input is borrowed; nothing here prints or talks to GitHub.
 */
#ifndef MI_REPORT_APPLIED_H
#define MI_REPORT_APPLIED_H

#include <stddef.h>

#include "util/buf.h"

#define MI_REPORT_APPLIED_BEGIN "<!-- mlinfra:applied -->"
#define MI_REPORT_APPLIED_END "<!-- /mlinfra:applied -->"

struct mi_report_output {
    const char *name;
    const char *value; /* as text (a string's contents, or compact JSON) */
    int sensitive;     /* shown as "(sensitive)", value ignored */
};

enum mi_report_apply_result {
    MI_REPORT_APPLY_OK,
    MI_REPORT_APPLY_FAILED,
    MI_REPORT_APPLY_REFUSED, /* the plan was not applied: stale, tampered, mismatched, ... */
};

struct mi_report_applied {
    enum mi_report_apply_result result;
    const char *environment;
    const char *when;    /* "2025-01-31T12:00:00Z" */
    const char *plan_id; /* the plan that ran (or was refused); may be NULL */
    const char *commit;  /* the merge commit; may be NULL */
    const char *run_url; /* may be NULL */
    const char *address; /* the service address (MLflow's URL); may be NULL */
    const char *summary; /* one line: "Apply complete! Resources: 1 added..." or why */
    const struct mi_report_output *outputs;
    size_t outputs_len;
    const char *error_text; /* terraform's output tail, for a failure; may be NULL */
    size_t error_text_len;
    /* Markdown added at the end of the section, inside its markers (issue 9: the health
     * check, report/health.h); redacted like the rest; may be NULL. */
    const char *extra;
    const char *const *secrets;
    size_t secrets_len;
};

/* Appends the section, markers included. */
void mi_report_applied_section(mi_buf *out, const struct mi_report_applied *in);

/* Appends to out the comment body with its applied section replaced by (or, without one,
 * followed by) section, within max_bytes (0: MI_REPORT_COMMENT_MAX). */
void mi_report_comment_with_applied(mi_buf *out, const char *body, const char *section,
                                    size_t max_bytes);

#endif
