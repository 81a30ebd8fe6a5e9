/*
 * mlinfra check: evaluates compliance policies (terraform-compliance feature files) and
 * change windows against a plan, without terraform, GitHub or Azure.
 *
 * Orchestration only: policy/policy.h loads and runs the feature files, policy/plan.h reads
 * the plan, policy/window.h evaluates the change windows, policy/render.h writes the report.
 * The report goes to stdout (or --output); errors go to the log (stderr).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "policy/plan.h"
#include "policy/policy.h"
#include "policy/render.h"
#include "policy/window.h"
#include "report/sarif.h"
#include "terraform/changes.h"
#include "terraform/tfsource.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/banned.h"

static const char usage[] =
    "usage: mlinfra check --plan FILE --policies DIR [--format FORMAT] [--no-early-exit]\n"
    "                     [--environment NAME] [--change-windows FILE] [--now TIME]\n"
    "                     [--output FILE] [--tf-dir DIR]\n"
    "\n"
    "Evaluates compliance policies (terraform-compliance feature files) and change windows\n"
    "against a plan, and reports every scenario as passed, failed or skipped, with the\n"
    "failing resources and values.\n"
    "\n"
    "options:\n"
    "  --plan FILE            the plan as JSON: the output of 'terraform show -json PLANFILE'\n"
    "  --policies DIR         the folder of *.feature files (searched recursively), or one\n"
    "                         .feature file\n"
    "  --format FORMAT        text (default), json, junit (JUnit XML), terraform-compliance\n"
    "                         (the console lines terraform-compliance prints), or sarif\n"
    "                         (SARIF 2.1.0 for code scanning, docs/extras.md)\n"
    "  --tf-dir DIR           with sarif: the configuration the plan was made from, to point\n"
    "                         results at the .tf lines of the resources (default:\n"
    "                         environments/NAME for --environment NAME, when it exists)\n"
    "  --no-early-exit        a failing step goes on over every resource and reports each,\n"
    "                         instead of stopping the scenario at the first failure\n"
    "  --environment NAME     the environment the plan is for: evaluates the change windows\n"
    "  --change-windows FILE  the change-window file (default: DIR/change-windows.yml, when\n"
    "                         it exists)\n"
    "  --now TIME             evaluate change windows at this ISO 8601 time, e.g.\n"
    "                         2025-11-21T10:00:00Z (default: $MLINFRA_NOW, else the clock)\n"
    "  --output FILE          write the report to FILE instead of stdout\n"
    "  -h, --help             this text\n"
    "\n"
    "Set TFC_ERROR=NAME to rename the 'Failure' header of failure messages.\n"
    "See docs/policies.md for the policy language and the change-window syntax.\n"
    "\n"
    "exit codes: 0 no scenario failed and no change window is closed, 1 an error (a plan or\n"
    "policy that does not load), 2 usage error, 3 a scenario failed or a change window is\n"
    "closed.\n";

struct options {
    const char *plan;
    const char *policies;
    const char *format;
    const char *environment;
    const char *windows;
    const char *now;
    const char *output;
    const char *tf_dir;
    int no_early_exit;
};

static int take(int argc, char **argv, int *i, const char *name, const char **value, int *err)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *value = a + n + 1;
        return 1;
    }
    if (a[n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        *err = mi_cmd_usage_error("check", "%s needs a value", name);
        return 1;
    }
    *value = argv[++*i];
    return 1;
}

static int parse_options(int argc, char **argv, struct options *o, int *help)
{
    for (int i = 1; i < argc; i++) {
        int err = 0;
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            *help = 1;
            return 0;
        }
        if (!strcmp(a, "--no-early-exit")) {
            o->no_early_exit = 1;
            continue;
        }
        if (take(argc, argv, &i, "--plan", &o->plan, &err) ||
            take(argc, argv, &i, "--policies", &o->policies, &err) ||
            take(argc, argv, &i, "--format", &o->format, &err) ||
            take(argc, argv, &i, "--environment", &o->environment, &err) ||
            take(argc, argv, &i, "--change-windows", &o->windows, &err) ||
            take(argc, argv, &i, "--now", &o->now, &err) ||
            take(argc, argv, &i, "--output", &o->output, &err) ||
            take(argc, argv, &i, "--tf-dir", &o->tf_dir, &err)) {
            if (err)
                return err;
            continue;
        }
        return mi_cmd_usage_error("check", "unexpected argument '%s'", a);
    }
    if (!o->plan)
        return mi_cmd_usage_error("check", "--plan FILE is required");
    if (!o->policies)
        return mi_cmd_usage_error("check", "--policies DIR is required");
    if (o->format && strcmp(o->format, "sarif") != 0 && mi_policy_format_parse(o->format) < 0)
        return mi_cmd_usage_error("check",
                                  "unknown format '%s' (text, json, junit, "
                                  "terraform-compliance, sarif)",
                                  o->format);
    if (o->environment && !*o->environment)
        return mi_cmd_usage_error("check", "--environment needs a name");
    return 0;
}

/* SARIF (issue 9): the results pointed at the resources' .tf lines, the plan's sensitive
 * values redacted. A configuration or plan model that cannot be read only costs the .tf
 * locations or the extra redaction list (the log registry still applies), with a warning. */
static int render_sarif(mi_buf *out, const struct options *o, const struct mi_policy_result *result)
{
    char *dir = o->tf_dir        ? mi_xstrdup(o->tf_dir)
                : o->environment ? mi_xasprintf("environments/%s", o->environment)
                                 : NULL;
    struct mi_tfsource *sources = NULL;
    if (dir && (o->tf_dir || mi_fs_is_dir(dir)) && mi_tfsource_scan(&sources, dir) < 0)
        mi_log_warn("check: results will point at the feature files only: %s", mi_error_last());
    struct mi_tfplan *tfplan = NULL;
    if (mi_tfplan_load(&tfplan, o->plan) < 0)
        mi_log_warn("check: %s", mi_error_last());
    struct mi_sarif_options so = {0};
    so.sources = sources;
    so.environment = o->environment;
    so.secrets = tfplan ? (const char *const *)tfplan->sensitive : NULL;
    so.secrets_len = tfplan ? tfplan->sensitive_len : 0;
    int rc = mi_sarif_render(out, result, &so);
    mi_tfplan_free(tfplan);
    mi_tfsource_free(sources);
    free(dir);
    return rc;
}

/* Loading errors are the input's fault but not the command line's: exit 1, not 2. */
static int fail_input(int code)
{
    mi_log_error("mlinfra check: %s", mi_error_last());
    return code == MI_EUSAGE || code == MI_ENOTFOUND ? MI_EXIT_ERROR : mi_error_exit_code(code);
}

int mi_cmd_check(int argc, char **argv)
{
    struct options o = {0};
    int help = 0;
    int rc = parse_options(argc, argv, &o, &help);
    if (rc)
        return rc;
    if (help) {
        fputs(usage, stdout);
        return MI_EXIT_OK;
    }
    struct mi_policy_set *set = NULL;
    mi_plan *plan = NULL;
    struct mi_policy_result *result = NULL;
    struct mi_window_set *windows = NULL;
    struct mi_window_report report;
    mi_buf out = MI_BUF_INIT;
    char *windows_path = NULL;
    int exit_code = MI_EXIT_OK;
    memset(&report, 0, sizeof(report));

    int64_t now;
    if ((rc = mi_window_now(&now, o.now)) < 0) {
        exit_code = mi_cmd_usage_error("check", "%s", mi_error_last());
        goto done;
    }
    /* Policies first: a syntax error is reported before a big plan is read. */
    if ((rc = mi_policy_load(&set, o.policies)) < 0) {
        exit_code = fail_input(rc);
        goto done;
    }
    if (o.windows) {
        windows_path = mi_xstrdup(o.windows);
    } else if (mi_fs_is_dir(o.policies)) {
        windows_path = mi_fs_join(o.policies, "change-windows.yml");
        if (!mi_fs_exists(windows_path)) {
            free(windows_path);
            windows_path = mi_fs_join(o.policies, "change-windows.yaml");
            if (!mi_fs_exists(windows_path)) {
                free(windows_path);
                windows_path = NULL;
            }
        }
    }
    if (windows_path && (rc = mi_window_load(&windows, windows_path)) < 0) {
        exit_code = fail_input(rc);
        goto done;
    }
    if ((rc = mi_plan_load_file(&plan, o.plan)) < 0) {
        exit_code = fail_input(rc);
        goto done;
    }
    struct mi_policy_options po = {0};
    po.no_early_exit = o.no_early_exit;
    const char *tfc_error = getenv("TFC_ERROR");
    po.error_name = tfc_error && *tfc_error ? tfc_error : NULL;
    if ((rc = mi_policy_evaluate(&result, set, plan, &po)) < 0) {
        exit_code = fail_input(rc);
        goto done;
    }
    if (windows && o.environment &&
        (rc = mi_window_evaluate(&report, windows, o.environment, now)) < 0) {
        exit_code = fail_input(rc);
        goto done;
    }
    if (!windows && o.environment)
        mi_log_debug("check: no change-window file, so no change windows for %s", o.environment);

    struct mi_policy_render_input in = {result, &report, o.plan, o.policies,
                                        mi_window_set_zone(windows)};
    if (o.format && strcmp(o.format, "sarif") == 0) {
        if ((rc = render_sarif(&out, &o, result)) < 0) {
            exit_code = fail_input(rc);
            goto done;
        }
    } else {
        int format = o.format ? mi_policy_format_parse(o.format) : MI_POLICY_FORMAT_TEXT;
        mi_policy_render(&out, (enum mi_policy_format)format, &in);
    }
    if (o.output) {
        if ((rc = mi_fs_write_file_atomic(o.output, out.ptr, out.len, 0644)) < 0) {
            exit_code = fail_input(rc);
            goto done;
        }
    } else {
        fwrite(out.ptr, 1, out.len, stdout);
        fflush(stdout);
    }
    if (result->violations)
        exit_code = MI_EXIT_POLICY;
    if (report.evaluated && !report.open) {
        mi_log_error("mlinfra check: the change window for %s is closed: %s", report.environment,
                     report.nhits ? report.hits[0].message : "closed");
        exit_code = MI_EXIT_POLICY;
    }
done:
    mi_buf_release(&out);
    mi_window_report_release(&report);
    mi_window_set_free(windows);
    free(windows_path);
    mi_policy_result_free(result);
    mi_plan_free(plan);
    mi_policy_set_free(set);
    return exit_code;
}
