/*
 * sarif.h - policy results (policy/policy.h) as SARIF 2.1.0, the format GitHub code scanning
 * and other tools read (`mlinfra check --format sarif`, `mlinfra plan --sarif FILE`).
 *
 * What it writes: one run of the tool "mlinfra"; one rule per scenario (id
 * "<feature file stem>/<scenario name as a slug>", so it survives edits that move lines; an
 * outline's rows share their outline's rule); one result per violation - per failure the
 * engine recorded, or one per failed scenario that recorded none - at level "error", and one
 * per finding under a no-failure tag (@warning) at level "warning". Passing and skipped
 * scenarios give no result.
 *
 * Where a result points: at the resource's declaration in the .tf files when the resource's
 * address is found in `sources` (terraform/tfsource.h: terraform's plan JSON carries no file
 * or line), with the failing step's feature-file line as a related location; otherwise at
 * the failing step's line in the feature file. Paths are repository-relative (uriBaseId
 * %SRCROOT%) when they lie under repo_root, percent-encoded.
 *
 * Rules:
 *  - The result is borrowed; the document is appended to a caller-owned mi_buf (pretty
 *    printed, UTF-8; invalid UTF-8 from a feature file is replaced by U+FFFD). jansson builds
 *    it inside this module: every json_*_set_new takes its reference, the root is decref'd
 *    once on return; nothing escapes.
 *  - Redaction: every text from the plan (messages, offending values) goes through
 *    mi_report_redact (report/comment.h) with the given secrets and the log registry, so a
 *    sensitive value cannot reach a code-scanning upload.
 *  - Only fails when jansson cannot serialise (MI_ERR); never prints, never reads the
 *    environment. Reading the .tf files is the caller's (mi_tfsource_scan), once per run.
 */
#ifndef MI_REPORT_SARIF_H
#define MI_REPORT_SARIF_H

#include <stddef.h>

#include "policy/policy.h"
#include "terraform/tfsource.h"
#include "util/buf.h"

#define MI_SARIF_SCHEMA "https://json.schemastore.org/sarif-2.1.0.json"

struct mi_sarif_options {
    /* The repository's root: paths under it become relative URIs based on %SRCROOT%.
     * NULL: the current directory. */
    const char *repo_root;
    /* Resource locations from the environment's .tf files; may be NULL. */
    const struct mi_tfsource *sources;
    /* Sets runs[0].automationDetails.id to "mlinfra/policies/<environment>/", so GitHub keeps
     * one category of alerts per environment; may be NULL. */
    const char *environment;
    /* Values to redact besides the log registry's (mi_tfplan.sensitive); may be NULL. */
    const char *const *secrets;
    size_t secrets_len;
};

/* Appends the SARIF log of r. */
int mi_sarif_render(mi_buf *out, const struct mi_policy_result *r,
                    const struct mi_sarif_options *o);

/* The rule id of a scenario: "<stem of feature_path>/<slug of scenario name>", lower-case
 * letters, digits and '-' (caller frees). */
char *mi_sarif_rule_id(const char *feature_path, const char *scenario_name);

#endif
