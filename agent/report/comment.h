/*
 * comment.h - the PR comment and job summary of a plan (DESIGN.md section 8), in GitHub
 * flavoured markdown.
 *
 * Rules:
 *  - mi_report_plan_comment appends the whole comment to out. The input is borrowed; nothing
 *    is kept after the call. Nothing here prints, reads the environment or talks to GitHub.
 *  - The comment opens with the hidden marker line of mi_report_marker, so the same comment is
 *    found again and edited in place.
 *  - It always fits in max_bytes (default MI_REPORT_COMMENT_MAX). Bytes are counted, not
 *    characters, so the limit holds however GitHub counts. When the full comment does not
 *    fit, the plan text is cut first (at a line, saying how much was cut), then the passing
 *    and skipped policy rows become a count, then the resource tables lose rows (saying how
 *    many). The status line, the counts, the "changes since the previous plan" section, the
 *    replacement warning and the policy failures are never cut.
 *  - Redaction: every sensitive value of the plan (mi_tfplan.sensitive), every extra secret
 *    given, and everything registered with mi_log_mask is replaced by "***" in every part of
 *    the comment, the plan text and error text included - before the size is measured, so a
 *    cut can never leave half a secret behind.
 *  - Text from outside (addresses, attribute values, policy messages, terraform output) is
 *    escaped for the place it lands: code spans and fences are chosen longer than any run of
 *    backticks in their content, table cells have their pipes and newlines escaped, and free
 *    text has its HTML and @-mentions neutralised.
 */
#ifndef MI_REPORT_COMMENT_H
#define MI_REPORT_COMMENT_H

#include <stddef.h>

#include "terraform/changes.h"
#include "util/buf.h"

/* GitHub's limit on an issue comment (and the job summary's practical page size). */
#define MI_REPORT_COMMENT_MAX 65536

enum mi_report_policy_result {
    MI_REPORT_POLICY_PASSED,
    MI_REPORT_POLICY_FAILED,
    MI_REPORT_POLICY_SKIPPED,
};

/* One scenario's outcome, as the policy engine reports it. */
struct mi_report_policy {
    const char *feature;  /* the feature file, repository-relative */
    const char *scenario; /* the scenario's name */
    int line;             /* the scenario's line in the feature file (0: unknown) */
    enum mi_report_policy_result result;
    const char *message; /* why it failed or was skipped; may be NULL */
};

struct mi_report_plan {
    const char *environment;       /* required */
    const char *directory;         /* the environment's directory; may be NULL */
    const char *head_sha;          /* the commit planned; may be NULL */
    const char *plan_id;           /* the sealed plan's id; NULL: "not stored" */
    const char *run_url;           /* the workflow run; may be NULL */
    const char *terraform_version; /* may be NULL */

    /* Success: the change model and terraform plan's own text. */
    const struct mi_tfplan *plan;
    const char *plan_text;
    size_t plan_text_len;
    size_t plan_text_dropped; /* bytes the capture had already dropped from its start */

    /* Failure: the step that failed ("init", "validate", "plan", "show") and what it said. */
    const char *failed_step;
    const char *error_text;
    size_t error_text_len;

    /* Policies; evaluated 0 means they were not run (the section says why: policy_note). */
    const struct mi_report_policy *policies;
    size_t policies_len;
    int policies_evaluated;
    const char *policy_note;

    /* Markdown shown under the counts: the "Changes since the previous plan" section
     * (report/plandiff.h); may be NULL. It is redacted like the rest, and as part of the
     * comment's head it is never cut (its renderer keeps it short). */
    const char *since_previous;

    /* Extra lines shown under the status (a fork's plan not stored, ...). */
    const char *const *notes;
    size_t notes_len;

    /* Secrets beyond the plan's own and the log registry's; may be NULL. */
    const char *const *secrets;
    size_t secrets_len;

    size_t max_bytes; /* 0: MI_REPORT_COMMENT_MAX */
};

/* Appends "<!-- mlinfra:plan env=NAME -->" (no newline). */
void mi_report_marker(mi_buf *out, const char *environment);

/* Renders the comment (see the rules above). Cannot fail. */
void mi_report_plan_comment(mi_buf *out, const struct mi_report_plan *in);

/* The one-line status the comment opens with, as plain text (for logs and step outputs):
 * "3 to add, 1 to change, 1 to destroy (1 replacement)", "no changes", "terraform init
 * failed", with ", N policy failures" appended when there are some. */
void mi_report_plan_status(mi_buf *out, const struct mi_report_plan *in);

/* Replaces the given secrets (any order) and the log registry's in text; appends to out. */
void mi_report_redact(mi_buf *out, const char *text, size_t len, const char *const *secrets,
                      size_t secrets_len);

#endif
