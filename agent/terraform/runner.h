/*
 * runner.h - running terraform: init, validate, plan, show, apply, output, version.
 *
 * Rules:
 *  - The binary is found by us: opts.binary, else $MLINFRA_TERRAFORM, else "terraform" in
 *    PATH (util/proc.h: mi_proc_which). It runs in opts.workdir, without a shell, with the
 *    agent's environment plus TF_IN_AUTOMATION=1, TF_INPUT=0 and CHECKPOINT_DISABLE=1 (no
 *    version check call home) and without MLINFRA_PLAN_KEY (terraform never needs the key
 *    that seals plans). Every command gets -no-color where terraform accepts it.
 *  - Each command is one "step": hooks.step_begin("terraform plan"), every output line to
 *    hooks.line, hooks.step_end. The command layer turns these into a collapsible log group
 *    (this module never prints). Lines reach the hook whole, so log redaction sees them whole.
 *  - struct mi_tf_run receives what the step printed (stdout and stderr interleaved, the tail
 *    kept under a cap) and its exit code, on success and on failure alike, so a caller can
 *    show the error tail. JSON-producing commands (validate -json, show -json, output -json,
 *    version -json) collect stdout separately and do not stream it.
 *  - A terraform command that exits non-zero is an error (MI_ERR) whose message names the
 *    step and the exit code; "Saved plan is stale" at apply is MI_EREFUSED. Time limits and
 *    cancellation come back as MI_ETIMEOUT / MI_ECANCELLED after terraform was interrupted
 *    (SIGINT, then SIGKILL after the grace period), so its state lock is released.
 *  - mi_tf_free(NULL) is a no-op; results are owned by the caller and released with their
 *    _release function.
 */
#ifndef MI_TERRAFORM_RUNNER_H
#define MI_TERRAFORM_RUNNER_H

#include <stddef.h>

#include "util/buf.h"

struct mi_tf_hooks {
    void (*step_begin)(void *ctx, const char *title);
    void (*line)(void *ctx, const char *line, size_t len, int is_stderr);
    void (*step_end)(void *ctx, const char *title, int exit_code, long elapsed_ms);
    void *ctx;
};

struct mi_tf_options {
    const char *binary;           /* NULL: $MLINFRA_TERRAFORM or "terraform" in PATH */
    const char *workdir;          /* the root module's directory; required */
    long timeout_ms;              /* per command; 0: no limit */
    long grace_ms;                /* after SIGINT; 0: util/proc.h's default (10 s) */
    const char *const *extra_env; /* "K=V" strings added to terraform's environment */
    struct mi_tf_hooks hooks;
};

typedef struct mi_tf mi_tf;

int mi_tf_new(mi_tf **out, const struct mi_tf_options *opts);
void mi_tf_free(mi_tf *tf);
/* The resolved binary (borrowed). */
const char *mi_tf_binary(const mi_tf *tf);

struct mi_tf_run {
    int exit_code;  /* -1 when terraform did not run */
    mi_buf output;  /* captured output (tail kept) */
    size_t dropped; /* bytes dropped from the front of output */
    long elapsed_ms;
};

#define MI_TF_RUN_INIT                                                                             \
    {                                                                                              \
        -1, MI_BUF_INIT, 0, 0                                                                      \
    }

void mi_tf_run_release(struct mi_tf_run *r);

/* terraform init -input=false -no-color [-backend-config=X ...]. backend_config may be NULL. */
int mi_tf_init(mi_tf *tf, const char *const *backend_config, struct mi_tf_run *run);

struct mi_tf_diag {
    char *severity; /* "error" or "warning" */
    char *summary;
    char *detail;   /* may be NULL */
    char *filename; /* as terraform gives it (relative to workdir); NULL when sourceless */
    int line, column;
};

struct mi_tf_validation {
    int valid;
    size_t error_count, warning_count;
    struct mi_tf_diag *diags;
    size_t diags_len;
};

#define MI_TF_VALIDATION_INIT                                                                      \
    {                                                                                              \
        0, 0, 0, NULL, 0                                                                           \
    }

void mi_tf_validation_release(struct mi_tf_validation *v);

/* terraform validate -json -no-color. The diagnostics are parsed whatever the outcome;
 * returns MI_ERR ("the configuration is invalid: N errors") when it is not valid. */
int mi_tf_validate(mi_tf *tf, struct mi_tf_validation *out, struct mi_tf_run *run);

/* terraform plan -input=false -no-color -out=PLAN -detailed-exitcode -lock-timeout=T
 * [extra_args...]. *has_changes gets 0 (exit 0) or 1 (exit 2). lock_timeout NULL: "0s". */
int mi_tf_plan(mi_tf *tf, const char *plan_file, const char *lock_timeout,
               const char *const *extra_args, int *has_changes, struct mi_tf_run *run);

/* terraform show -json -no-color PLAN; the JSON (stdout) is appended to json. */
int mi_tf_show_json(mi_tf *tf, const char *plan_file, mi_buf *json, struct mi_tf_run *run);

/* terraform apply -input=false -no-color -auto-approve -lock-timeout=T PLAN. A stale plan
 * gives MI_EREFUSED. */
int mi_tf_apply(mi_tf *tf, const char *plan_file, const char *lock_timeout, struct mi_tf_run *run);

/* terraform output -json -no-color; the JSON object is appended to json. */
int mi_tf_output_json(mi_tf *tf, mi_buf *json, struct mi_tf_run *run);

/* terraform version -json; *version gets "1.9.8" (caller frees). */
int mi_tf_version(mi_tf *tf, char **version, struct mi_tf_run *run);

#endif
