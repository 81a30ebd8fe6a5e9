/*
 * runner.c - terraform subcommands over util/proc.h. See runner.h for the rules.
 *
 * jansson: validate and version output is parsed into owned C strings; the json_t documents
 * are decref'd before returning.
 */
#include "terraform/runner.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/proc.h"
#include "util/banned.h"

/* Terraform's output kept for the comment's error tail. */
#define CAPTURE_MAX (4u * 1024u * 1024u)
/* Plan JSON can be large: a 10,000-resource plan is tens of megabytes. */
#define JSON_MAX ((size_t)1 << 30)

struct mi_tf {
    char *binary;
    char *workdir;
    char **env;
    long timeout_ms;
    long grace_ms;
    struct mi_tf_hooks hooks;
};

int mi_tf_new(mi_tf **out, const struct mi_tf_options *opts)
{
    *out = NULL;
    if (!opts->workdir)
        return mi_error_set(MI_EUSAGE, "terraform: no working directory given");
    const char *name = opts->binary;
    const char *env_name = getenv("MLINFRA_TERRAFORM");
    if (!name)
        name = env_name && *env_name ? env_name : "terraform";
    char *binary = NULL;
    int rc = mi_proc_which(&binary, name, NULL);
    if (rc < 0) {
        mi_error_prefix("cannot find terraform (set MLINFRA_TERRAFORM to its path)");
        return rc;
    }
    mi_tf *tf = mi_xcalloc(1, sizeof(*tf));
    tf->binary = binary;
    tf->workdir = mi_xstrdup(opts->workdir);
    size_t n = 0;
    while (opts->extra_env && opts->extra_env[n])
        n++;
    const char **set = mi_xcalloc(n + 4, sizeof(char *));
    set[0] = "TF_IN_AUTOMATION=1";
    set[1] = "TF_INPUT=0";
    set[2] = "CHECKPOINT_DISABLE=1";
    for (size_t i = 0; i < n; i++)
        set[3 + i] = opts->extra_env[i];
    static const char *const unset[] = {"MLINFRA_PLAN_KEY", NULL};
    tf->env = mi_proc_env_build(set, unset);
    free(set);
    tf->timeout_ms = opts->timeout_ms;
    tf->grace_ms = opts->grace_ms;
    tf->hooks = opts->hooks;
    *out = tf;
    return 0;
}

void mi_tf_free(mi_tf *tf)
{
    if (!tf)
        return;
    free(tf->binary);
    free(tf->workdir);
    mi_proc_env_free(tf->env);
    free(tf);
}

const char *mi_tf_binary(const mi_tf *tf)
{
    return tf->binary;
}

void mi_tf_run_release(struct mi_tf_run *r)
{
    if (!r)
        return;
    mi_buf_release(&r->output);
    r->exit_code = -1;
    r->dropped = 0;
    r->elapsed_ms = 0;
}

/* ---- one step ----------------------------------------------------------------------------- */

static void on_line(void *ctx, const char *line, size_t len, int is_stderr)
{
    const struct mi_tf_hooks *h = ctx;
    if (h->line)
        h->line(h->ctx, line, len, is_stderr);
}

/* Runs `terraform args...` as the step `title`; json, when set, collects stdout. Returns
 * an error only when terraform could not run to its end; *exit_code is for the caller. */
static int run_step(mi_tf *tf, const char *title, const char *const *args, mi_buf *json,
                    struct mi_tf_run *run, int *exit_code)
{
    size_t n = 0;
    while (args[n])
        n++;
    char **argv = mi_xcalloc(n + 2, sizeof(char *));
    argv[0] = "terraform";
    for (size_t i = 0; i < n; i++)
        argv[i + 1] = (char *)args[i];

    struct mi_proc_opts o = {0};
    o.path = tf->binary;
    o.argv = argv;
    o.env = tf->env;
    o.cwd = tf->workdir;
    o.timeout_ms = tf->timeout_ms;
    o.grace_ms = tf->grace_ms;
    o.on_line = on_line;
    o.line_ctx = &tf->hooks;
    o.capture_max = CAPTURE_MAX;
    o.stdout_sink = json;
    o.stdout_max = JSON_MAX;

    if (tf->hooks.step_begin)
        tf->hooks.step_begin(tf->hooks.ctx, title);
    struct mi_proc_result res = MI_PROC_RESULT_INIT;
    int rc = mi_proc_run(&res, &o);
    if (tf->hooks.step_end)
        tf->hooks.step_end(tf->hooks.ctx, title, res.exit_code, res.elapsed_ms);
    free(argv);

    if (run) {
        mi_buf_release(&run->output);
        run->output = res.output;
        mi_buf_init(&res.output);
        run->exit_code = res.exit_code;
        run->dropped = res.dropped;
        run->elapsed_ms = res.elapsed_ms;
    }
    *exit_code = res.exit_code;
    mi_proc_result_release(&res);
    if (rc < 0)
        mi_error_prefix("%s", title);
    return rc;
}

static int step_failed(const char *title, int exit_code)
{
    if (exit_code > 128)
        return mi_error_set(MI_ERR, "%s was killed by signal %d", title, exit_code - 128);
    return mi_error_set(MI_ERR, "%s failed (exit code %d)", title, exit_code);
}

/* ---- the subcommands ------------------------------------------------------------------------ */

int mi_tf_init(mi_tf *tf, const char *const *backend_config, struct mi_tf_run *run)
{
    size_t n = 0;
    while (backend_config && backend_config[n])
        n++;
    const char **args = mi_xcalloc(n + 4, sizeof(char *));
    char **owned = mi_xcalloc(n + 1, sizeof(char *));
    size_t k = 0;
    args[k++] = "init";
    args[k++] = "-input=false";
    args[k++] = "-no-color";
    for (size_t i = 0; i < n; i++) {
        owned[i] = mi_xasprintf("-backend-config=%s", backend_config[i]);
        args[k++] = owned[i];
    }
    int code = -1;
    int rc = run_step(tf, "terraform init", args, NULL, run, &code);
    if (rc == 0 && code != 0)
        rc = step_failed("terraform init", code);
    for (size_t i = 0; i < n; i++)
        free(owned[i]);
    free(owned);
    free(args);
    return rc;
}

void mi_tf_validation_release(struct mi_tf_validation *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->diags_len; i++) {
        free(v->diags[i].severity);
        free(v->diags[i].summary);
        free(v->diags[i].detail);
        free(v->diags[i].filename);
    }
    free(v->diags);
    memset(v, 0, sizeof(*v));
}

static char *dup_json_str(json_t *v)
{
    return json_is_string(v) ? mi_xstrdup(json_string_value(v)) : NULL;
}

static int parse_validation(struct mi_tf_validation *out, const mi_buf *json)
{
    json_error_t err;
    json_t *doc = json_loadb(json->ptr, json->len, 0, &err);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return mi_error_set(MI_ERR, "terraform validate -json: output is not a JSON object: %s",
                            doc ? "wrong type" : err.text);
    }
    out->valid = json_is_true(json_object_get(doc, "valid"));
    out->error_count = (size_t)json_integer_value(json_object_get(doc, "error_count"));
    out->warning_count = (size_t)json_integer_value(json_object_get(doc, "warning_count"));
    json_t *diags = json_object_get(doc, "diagnostics");
    size_t n = json_array_size(diags);
    if (n) {
        out->diags = mi_xcalloc(n, sizeof(*out->diags));
        size_t i;
        json_t *d;
        json_array_foreach(diags, i, d)
        {
            struct mi_tf_diag *x = &out->diags[out->diags_len++];
            x->severity = dup_json_str(json_object_get(d, "severity"));
            x->summary = dup_json_str(json_object_get(d, "summary"));
            x->detail = dup_json_str(json_object_get(d, "detail"));
            json_t *range = json_object_get(d, "range");
            x->filename = dup_json_str(json_object_get(range, "filename"));
            json_t *start = json_object_get(range, "start");
            x->line = (int)json_integer_value(json_object_get(start, "line"));
            x->column = (int)json_integer_value(json_object_get(start, "column"));
        }
    }
    json_decref(doc);
    return 0;
}

int mi_tf_validate(mi_tf *tf, struct mi_tf_validation *out, struct mi_tf_run *run)
{
    memset(out, 0, sizeof(*out));
    static const char *const args[] = {"validate", "-json", "-no-color", NULL};
    mi_buf json = MI_BUF_INIT;
    int code = -1;
    int rc = run_step(tf, "terraform validate", args, &json, run, &code);
    /* validate -json prints its JSON even when the configuration is invalid. */
    if (rc == 0 && !json.len) {
        rc = code != 0 ? step_failed("terraform validate", code)
                       : mi_error_set(MI_ERR, "terraform validate -json printed nothing");
    } else if (rc == 0) {
        rc = parse_validation(out, &json);
        if (rc < 0 && code != 0)
            rc = step_failed("terraform validate", code);
        else if (rc == 0 && (!out->valid || code != 0))
            rc = mi_error_set(MI_ERR,
                              "terraform validate: the configuration is invalid: "
                              "%zu error%s",
                              out->error_count, out->error_count == 1 ? "" : "s");
    }
    /* The diagnostics, as text, are what the comment's error tail should show. */
    if (run && rc < 0) {
        for (size_t i = 0; i < out->diags_len; i++) {
            const struct mi_tf_diag *d = &out->diags[i];
            mi_buf_addf(&run->output, "%s: %s", d->severity ? d->severity : "error",
                        d->summary ? d->summary : "");
            if (d->filename)
                mi_buf_addf(&run->output, " (%s line %d)", d->filename, d->line);
            mi_buf_addch(&run->output, '\n');
            if (d->detail)
                mi_buf_addf(&run->output, "%s\n", d->detail);
        }
    }
    mi_buf_release(&json);
    return rc;
}

int mi_tf_plan(mi_tf *tf, const char *plan_file, const char *lock_timeout,
               const char *const *extra_args, int *has_changes, struct mi_tf_run *run)
{
    *has_changes = 0;
    size_t n = 0;
    while (extra_args && extra_args[n])
        n++;
    const char **args = mi_xcalloc(n + 8, sizeof(char *));
    char *out_arg = mi_xasprintf("-out=%s", plan_file);
    char *lock_arg = mi_xasprintf("-lock-timeout=%s", lock_timeout ? lock_timeout : "0s");
    size_t k = 0;
    args[k++] = "plan";
    args[k++] = "-input=false";
    args[k++] = "-no-color";
    args[k++] = out_arg;
    args[k++] = "-detailed-exitcode";
    args[k++] = lock_arg;
    for (size_t i = 0; i < n; i++)
        args[k++] = extra_args[i];
    int code = -1;
    int rc = run_step(tf, "terraform plan", args, NULL, run, &code);
    if (rc == 0) {
        if (code == 2)
            *has_changes = 1;
        else if (code != 0)
            rc = step_failed("terraform plan", code);
    }
    free(out_arg);
    free(lock_arg);
    free(args);
    return rc;
}

int mi_tf_show_json(mi_tf *tf, const char *plan_file, mi_buf *json, struct mi_tf_run *run)
{
    const char *args[] = {"show", "-json", "-no-color", plan_file, NULL};
    int code = -1;
    int rc = run_step(tf, "terraform show", args, json, run, &code);
    if (rc == 0 && code != 0)
        rc = step_failed("terraform show", code);
    return rc;
}

int mi_tf_apply(mi_tf *tf, const char *plan_file, const char *lock_timeout, struct mi_tf_run *run)
{
    char *lock_arg = mi_xasprintf("-lock-timeout=%s", lock_timeout ? lock_timeout : "0s");
    const char *args[] = {"apply",  "-input=false", "-no-color", "-auto-approve",
                          lock_arg, plan_file,      NULL};
    struct mi_tf_run local = MI_TF_RUN_INIT;
    struct mi_tf_run *r = run ? run : &local;
    int code = -1;
    int rc = run_step(tf, "terraform apply", args, NULL, r, &code);
    if (rc == 0 && code != 0) {
        if (strstr(r->output.ptr, "Saved plan is stale"))
            rc = mi_error_set(MI_EREFUSED, "terraform apply: the saved plan is stale: the state "
                                           "changed after the plan was made; plan again");
        else
            rc = step_failed("terraform apply", code);
    }
    mi_tf_run_release(&local);
    free(lock_arg);
    return rc;
}

int mi_tf_output_json(mi_tf *tf, mi_buf *json, struct mi_tf_run *run)
{
    static const char *const args[] = {"output", "-json", "-no-color", NULL};
    int code = -1;
    int rc = run_step(tf, "terraform output", args, json, run, &code);
    if (rc == 0 && code != 0)
        rc = step_failed("terraform output", code);
    return rc;
}

int mi_tf_version(mi_tf *tf, char **version, struct mi_tf_run *run)
{
    *version = NULL;
    static const char *const args[] = {"version", "-json", NULL};
    mi_buf json = MI_BUF_INIT;
    int code = -1;
    int rc = run_step(tf, "terraform version", args, &json, run, &code);
    if (rc == 0 && code != 0)
        rc = step_failed("terraform version", code);
    if (rc == 0) {
        json_t *doc = json_loadb(json.ptr, json.len, 0, NULL);
        const char *v = json_string_value(json_object_get(doc, "terraform_version"));
        if (v)
            *version = mi_xstrdup(v);
        else
            rc = mi_error_set(MI_ERR, "terraform version -json: no terraform_version in its "
                                      "output");
        json_decref(doc);
    }
    mi_buf_release(&json);
    return rc;
}
