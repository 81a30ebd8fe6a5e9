/*
 * mlinfra plan: plan one environment of a pull request and report it (DESIGN.md section 1,
 * the plan flow).
 *
 * Orchestration only: the run context and configuration (context/), terraform
 * (terraform/runner.h), the change model (terraform/changes.h), the comment
 * (report/comment.h), GitHub (remote/github.h) and step outputs (report/step_output.h) do the
 * work. This file decides the order, what is logged, and the exit code of DESIGN.md
 * section 9: 0 planned (with or without changes), 1 a step failed (after the comment that
 * says so is posted), 2 usage (and a fork's head on pull_request_target, refused before
 * anything is read from the checkout), 3 a policy failed (after the comment is posted).
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/planstore.h"
#include "context/config.h"
#include "context/context.h"
#include "context/path.h"
#include "policy/plan.h"
#include "policy/policy.h"
#include "remote/github.h"
#include "report/comment.h"
#include "report/plandiff.h"
#include "report/step_output.h"
#include "terraform/changes.h"
#include "terraform/plandiff.h"
#include "terraform/runner.h"
#include "util/buf.h"
#include "util/cancel.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"
#include "report/sarif.h"
#include "terraform/tfsource.h"
#include "util/banned.h"

static const char usage[] =
    "usage: mlinfra plan [--environment NAME] [--directory DIR] [options]\n"
    "\n"
    "Plans one environment: terraform init, validate, plan and show in its directory,\n"
    "checks the plan against the policies, and reports it as the pull request's comment\n"
    "(created, or updated in place on every push), the job summary and step outputs.\n"
    "Without GITHUB_TOKEN or a pull request the comment is printed to stdout instead.\n"
    "\n"
    "options:\n"
    "  --environment NAME    the environment (default: the one whose branch is the pull\n"
    "                        request's base branch, from mlinfra.yml or environments/*)\n"
    "  --directory DIR       its root module, relative to the repository (default: from\n"
    "                        the configuration)\n"
    "  --repo DIR            the repository (default: $GITHUB_WORKSPACE, else the current\n"
    "                        directory)\n"
    "  --config FILE         the configuration (default: mlinfra.yml in the repository)\n"
    "  --event FILE          the event payload (default: $GITHUB_EVENT_PATH)\n"
    "  --event-name NAME     the event name (default: $GITHUB_EVENT_NAME)\n"
    "  --pr N                the pull request to comment on (default: the event's)\n"
    "  --head-sha SHA        the commit planned (default: the event's head commit)\n"
    "  --backend-config K=V  passed to terraform init as -backend-config (repeatable)\n"
    "  --var-file FILE       passed to terraform plan as -var-file (repeatable)\n"
    "  --lock-timeout DUR    how long terraform waits for the state lock (default 5m)\n"
    "  --timeout SECONDS     time limit of each terraform command (default 3600)\n"
    "  --plan-out FILE       keep a copy of the saved plan here (it holds secrets)\n"
    "  --sarif FILE          write the policy results as SARIF 2.1.0 to FILE, for code\n"
    "                        scanning (docs/extras.md)\n"
    "  --no-comment          do not post the comment (the summary and outputs are written)\n"
    "  --github-output FILE  step outputs (default: $GITHUB_OUTPUT)\n"
    "  --step-summary FILE   job summary (default: $GITHUB_STEP_SUMMARY)\n"
    "  -h, --help            this text\n"
    "\n"
    "environment: MLINFRA_TERRAFORM (terraform binary), GITHUB_TOKEN, GITHUB_API_URL,\n"
    "GITHUB_REPOSITORY, RUNNER_TEMP.\n"
    "\n"
    "step outputs: has_changes, add, change, destroy, replace, plan_id, stored, comment_url,\n"
    "status.\n"
    "\n"
    "exit codes: 0 planned, 1 a terraform step or GitHub failed, 2 usage or configuration\n"
    "error (policies that do not load included; a fork's pull request on\n"
    "pull_request_target, which is never planned), 3 a policy failed.\n";

#define MAX_REPEATED 32

struct options {
    const char *environment;
    const char *directory;
    const char *repo;
    const char *config;
    const char *event;
    const char *event_name;
    const char *pr;
    const char *head_sha;
    const char *backend_config[MAX_REPEATED + 1];
    size_t nbackend;
    const char *var_files[MAX_REPEATED + 1];
    size_t nvar_files;
    const char *lock_timeout;
    const char *timeout;
    const char *plan_out;
    const char *sarif;
    const char *github_output;
    const char *step_summary;
    int no_comment;
};

/* ---- options -------------------------------------------------------------------------- */

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
        *err = mi_cmd_usage_error("plan", "%s needs a value", name);
        return 1;
    }
    *value = argv[++*i];
    return 1;
}

static int take_repeated(int argc, char **argv, int *i, const char *name, const char **list,
                         size_t *n, int *err)
{
    const char *v = NULL;
    if (!take(argc, argv, i, name, &v, err))
        return 0;
    if (*err)
        return 1;
    if (*n >= MAX_REPEATED) {
        *err = mi_cmd_usage_error("plan", "%s given more than %d times", name, MAX_REPEATED);
        return 1;
    }
    list[(*n)++] = v;
    list[*n] = NULL;
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
        if (!strcmp(a, "--no-comment")) {
            o->no_comment = 1;
            continue;
        }
        if (take(argc, argv, &i, "--environment", &o->environment, &err) ||
            take(argc, argv, &i, "--directory", &o->directory, &err) ||
            take(argc, argv, &i, "--repo", &o->repo, &err) ||
            take(argc, argv, &i, "--config", &o->config, &err) ||
            take(argc, argv, &i, "--event-name", &o->event_name, &err) ||
            take(argc, argv, &i, "--event", &o->event, &err) ||
            take(argc, argv, &i, "--pr", &o->pr, &err) ||
            take(argc, argv, &i, "--head-sha", &o->head_sha, &err) ||
            take_repeated(argc, argv, &i, "--backend-config", o->backend_config, &o->nbackend,
                          &err) ||
            take_repeated(argc, argv, &i, "--var-file", o->var_files, &o->nvar_files, &err) ||
            take(argc, argv, &i, "--lock-timeout", &o->lock_timeout, &err) ||
            take(argc, argv, &i, "--timeout", &o->timeout, &err) ||
            take(argc, argv, &i, "--plan-out", &o->plan_out, &err) ||
            take(argc, argv, &i, "--sarif", &o->sarif, &err) ||
            take(argc, argv, &i, "--github-output", &o->github_output, &err) ||
            take(argc, argv, &i, "--step-summary", &o->step_summary, &err)) {
            if (err)
                return err;
            continue;
        }
        return mi_cmd_usage_error("plan", "unknown option '%s'", a);
    }
    return 0;
}

/* ---- terraform's output in the log --------------------------------------------------- */

static void on_step_begin(void *ctx, const char *title)
{
    (void)ctx;
    mi_log_group_begin("%s", title);
}

static void on_line(void *ctx, const char *line, size_t len, int is_stderr)
{
    (void)ctx;
    (void)is_stderr;
    mi_buf b = MI_BUF_INIT;
    mi_buf_add(&b, line, len);
    mi_buf_addch(&b, '\n');
    mi_log_raw(b.ptr, b.len);
    mi_buf_release(&b);
}

static void on_step_end(void *ctx, const char *title, int exit_code, long elapsed_ms)
{
    (void)ctx;
    mi_log_group_end();
    mi_log_debug("%s: exit code %d after %ld ms", title, exit_code, elapsed_ms);
}

/* ---- the plan's id: SHA-256 of the saved plan file ----------------------------------- */

static int plan_sha256(char **out, const char *path)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return mi_error_errno(MI_ERR, "cannot read the saved plan '%s'", path);
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    unsigned char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        crypto_hash_sha256_update(&st, chunk, n);
    int failed = ferror(f);
    fclose(f);
    if (failed)
        return mi_error_set(MI_ERR, "cannot read the saved plan '%s'", path);
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&st, digest);
    char hex[crypto_hash_sha256_BYTES * 2 + 1];
    sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
    *out = mi_xasprintf("sha256:%s", hex);
    return 0;
}

static int copy_file(const char *from, const char *to)
{
    mi_buf data = MI_BUF_INIT;
    int rc = mi_fs_read_file(&data, from, 0);
    if (rc == 0)
        rc = mi_fs_write_file_atomic(to, data.ptr, data.len, 0600);
    sodium_memzero(data.ptr, data.len);
    mi_buf_release(&data);
    return rc;
}

/* ---- the environment ----------------------------------------------------------------- */

struct target {
    char *name;
    char *directory;    /* repository-relative */
    char *policies_dir; /* repository-relative */
};

static int pick_environment(struct target *t, const struct options *o, const struct mi_context *ctx,
                            const char *repo)
{
    struct mi_config *cfg = NULL;
    int rc = 0;
    char *cfg_path = o->config ? mi_xstrdup(o->config) : mi_fs_join(repo, "mlinfra.yml");
    rc = mi_config_load(&cfg, cfg_path, o->config ? NULL : "mlinfra.yml", o->config != NULL);
    if (rc == 0)
        rc = mi_config_discover(cfg, repo);
    if (rc < 0)
        goto done;
    const struct mi_config_env *env = NULL;
    if (o->environment) {
        if (!mi_path_env_name_valid(o->environment)) {
            rc = mi_error_set(MI_EUSAGE, "'%s' is not a valid environment name", o->environment);
            goto done;
        }
        env = mi_config_env_find(cfg, o->environment);
        if (!env && !o->directory) {
            rc = mi_error_set(MI_EUSAGE,
                              "no environment '%s' in %s (give --directory to plan a "
                              "directory that is not configured)",
                              o->environment, cfg->path ? cfg->path : "environments/");
            goto done;
        }
    } else if (ctx && ctx->branch) {
        for (size_t i = 0; i < cfg->nenvs; i++) {
            if (cfg->envs[i].branch && strcmp(cfg->envs[i].branch, ctx->branch) == 0) {
                if (env) {
                    rc = mi_error_set(MI_EUSAGE,
                                      "branch '%s' names more than one environment "
                                      "('%s', '%s'): choose with --environment",
                                      ctx->branch, env->name, cfg->envs[i].name);
                    goto done;
                }
                env = &cfg->envs[i];
            }
        }
    }
    if (!env && !(o->environment && o->directory)) {
        rc = mi_error_set(MI_EUSAGE, "no environment to plan: %s (use --environment)",
                          ctx && ctx->branch ? "no environment has the pull request's base branch"
                                             : "the run names no branch");
        goto done;
    }
    t->name = mi_xstrdup(env ? env->name : o->environment);
    t->policies_dir = mi_xstrdup(cfg->policies_dir ? cfg->policies_dir : "policies");
    if (o->directory) {
        rc = mi_path_normalize(&t->directory, o->directory);
        if (rc < 0) {
            mi_error_prefix("--directory");
            goto done;
        }
    } else {
        t->directory = mi_xstrdup(env->directory);
    }
done:
    free(cfg_path);
    mi_config_free(cfg);
    return rc;
}

/* ---- policies -------------------------------------------------------------------------- */

/* The policy results as comment rows, with the strings the rows point to. */
struct policy_rows {
    struct mi_report_policy *rows;
    size_t n, cap;
    char **owned;
    size_t nowned, owned_cap;
    size_t violations;
};

static const char *keep(struct policy_rows *pr, char *s)
{
    if (pr->nowned == pr->owned_cap) {
        pr->owned_cap = pr->owned_cap ? pr->owned_cap * 2 : 16;
        pr->owned = mi_xrealloc(pr->owned, pr->owned_cap * sizeof(char *));
    }
    pr->owned[pr->nowned++] = s;
    return s;
}

static void policy_rows_release(struct policy_rows *pr)
{
    for (size_t i = 0; i < pr->nowned; i++)
        free(pr->owned[i]);
    free(pr->owned);
    free(pr->rows);
    memset(pr, 0, sizeof(*pr));
}

/* A feature file's path as the repository knows it (annotations and the comment). */
static const char *repo_relative(const char *path, const char *repo)
{
    size_t n = strlen(repo);
    if (strncmp(path, repo, n) == 0 && path[n] == '/')
        path += n + 1;
    while (path[0] == '.' && path[1] == '/')
        path += 2;
    return path;
}

static void add_scenario_row(struct policy_rows *pr, const char *feature,
                             const struct mi_policy_scenario *sc)
{
    if (pr->n == pr->cap) {
        pr->cap = pr->cap ? pr->cap * 2 : 16;
        pr->rows = mi_xrealloc(pr->rows, pr->cap * sizeof(*pr->rows));
    }
    struct mi_report_policy *row = &pr->rows[pr->n++];
    memset(row, 0, sizeof(*row));
    row->feature = feature;
    row->scenario = sc->name;
    row->line = sc->row_line > 0 ? sc->row_line : sc->line;
    row->result = sc->state == MI_POLICY_FAILED   ? MI_REPORT_POLICY_FAILED
                  : sc->state == MI_POLICY_PASSED ? MI_REPORT_POLICY_PASSED
                                                  : MI_REPORT_POLICY_SKIPPED;
    mi_buf msg = MI_BUF_INIT;
    size_t failures = 0;
    for (size_t i = 0; i < sc->nfailures; i++) {
        const struct mi_policy_failure *f = &sc->failures[i];
        if (f->warning)
            continue;
        if (failures++ == 0)
            mi_buf_adds(&msg, f->message ? f->message : "failed");
        mi_log_annotate(MI_LOG_ERROR, feature, f->line, sc->name, "%s",
                        f->message ? f->message : "policy failed");
    }
    if (failures > 1)
        mi_buf_addf(&msg, " (and %zu more)", failures - 1);
    if (!failures && sc->state == MI_POLICY_FAILED) {
        for (size_t i = 0; i < sc->nsteps && !msg.len; i++)
            if (sc->steps[i].state == MI_POLICY_FAILED && sc->steps[i].error_reason)
                mi_buf_adds(&msg, sc->steps[i].error_reason);
        mi_log_annotate(MI_LOG_ERROR, feature, row->line, sc->name, "%s",
                        msg.len ? msg.ptr : "policy failed");
    }
    if (sc->state == MI_POLICY_FAILED)
        pr->violations++;
    if (msg.len)
        row->message = keep(pr, mi_buf_detach(&msg));
    mi_buf_release(&msg);
}

/* Loads and evaluates the policies against the plan JSON. A missing folder means no
 * policies; a folder that does not load is an error (MI_EUSAGE) reported in the comment. */
static int evaluate_policies(struct mi_report_plan *in, struct policy_rows *pr,
                             struct mi_policy_result **result, const char *repo,
                             const char *policies_dir, const mi_buf *plan_json)
{
    struct mi_policy_set *set = NULL;
    mi_plan *model = NULL;
    char *dir = mi_fs_join(repo, policies_dir);
    int rc = 0;
    in->policies_evaluated = 0;
    if (!mi_fs_is_dir(dir)) {
        in->policy_note =
            keep(pr, mi_xasprintf("No policies: the repository has no %s/ folder.", policies_dir));
        goto done;
    }
    rc = mi_policy_load(&set, dir);
    if (rc == 0)
        rc = mi_plan_load_mem(&model, "terraform show -json", plan_json->ptr, plan_json->len);
    if (rc == 0) {
        struct mi_policy_options po = {0};
        rc = mi_policy_evaluate(result, set, model, &po);
    }
    if (rc < 0) {
        in->policy_note =
            keep(pr, mi_xasprintf("Policies could not be evaluated: %s", mi_error_last()));
        goto done;
    }
    for (size_t f = 0; f < (*result)->nfeatures; f++) {
        const struct mi_policy_feature *feat = &(*result)->features[f];
        const char *path = repo_relative(feat->path, repo);
        for (size_t i = 0; i < feat->nitems; i++) {
            const struct mi_policy_item *it = &feat->items[i];
            if (it->scenario)
                add_scenario_row(pr, path, it->scenario);
            for (size_t r = 0; r < it->nrows; r++)
                add_scenario_row(pr, path, &it->rows[r]);
        }
    }
    in->policies = pr->rows;
    in->policies_len = pr->n;
    in->policies_evaluated = 1;
done:
    free(dir);
    mi_plan_free(model);
    mi_policy_set_free(set);
    return rc;
}

/* Issue 9: --sarif FILE, the policy results as SARIF 2.1.0 (report/sarif.h), pointed at the
 * .tf lines of the environment's resources. Written even without results (an empty run), so
 * an upload step after this one always finds a file; failing to write it is a warning. */
static void write_sarif(const char *path, const struct mi_policy_result *result,
                        const char *repo, const char *workdir, const char *environment,
                        const struct mi_tfplan *plan)
{
    struct mi_tfsource *sources = NULL;
    if (mi_tfsource_scan(&sources, workdir) < 0)
        mi_log_warn("--sarif: results point at the feature files only: %s", mi_error_last());
    struct mi_sarif_options so = {0};
    so.repo_root = repo;
    so.sources = sources;
    so.environment = environment;
    so.secrets = plan ? (const char *const *)plan->sensitive : NULL;
    so.secrets_len = plan ? plan->sensitive_len : 0;
    mi_buf out = MI_BUF_INIT;
    if (mi_sarif_render(&out, result, &so) < 0 ||
        mi_fs_write_file_atomic(path, out.ptr, out.len, 0644) < 0)
        mi_log_warn("--sarif: %s", mi_error_last());
    else
        mi_log_info("wrote the policy results as SARIF to %s", path);
    mi_buf_release(&out);
    mi_tfsource_free(sources);
}

/* ---- reporting ------------------------------------------------------------------------- */

struct report_targets {
    const char *github_output;
    const char *step_summary;
};

static void write_outputs(const char *path, const struct mi_tfplan *plan, int has_changes,
                          const char *plan_id, int stored, const char *comment_url,
                          const char *status)
{
    if (!path)
        return;
    mi_buf out = MI_BUF_INIT;
    char num[32];
    mi_step_output_add(&out, "has_changes", has_changes ? "true" : "false");
    snprintf(num, sizeof(num), "%zu", plan ? plan->counts.add : 0);
    mi_step_output_add(&out, "add", num);
    snprintf(num, sizeof(num), "%zu", plan ? plan->counts.change : 0);
    mi_step_output_add(&out, "change", num);
    snprintf(num, sizeof(num), "%zu", plan ? plan->counts.destroy : 0);
    mi_step_output_add(&out, "destroy", num);
    snprintf(num, sizeof(num), "%zu", plan ? plan->counts.replace : 0);
    mi_step_output_add(&out, "replace", num);
    mi_step_output_add(&out, "plan_id", plan_id ? plan_id : "");
    mi_step_output_add(&out, "stored", stored ? "true" : "false");
    mi_step_output_add(&out, "comment_url", comment_url ? comment_url : "");
    mi_step_output_add(&out, "status", status);
    if (mi_step_output_write(path, &out) < 0)
        mi_log_warn("cannot write step outputs: %s", mi_error_last());
    mi_buf_release(&out);
}

/* The "Changes since the previous plan" section (issue 9): the newest stored plan of the
 * same environment and pull request for another commit is the previous plan; its companion
 * summary is compared with this plan's. Appends nothing when there is no previous plan or it
 * has no summary. Anything that goes wrong is a warning: the section is a courtesy, never a
 * reason to fail the plan. */
static void since_previous_section(mi_buf *section, struct mi_store *store, const char *environment,
                                   long long pr, const char *head_sha,
                                   const struct mi_plandiff_summary *current)
{
    struct mi_store_list l;
    if (mi_store_list(store, environment, &l) < 0) {
        mi_log_warn("cannot look for the previous plan to compare with: %s", mi_error_last());
        return;
    }
    /* mi_store_list returns the newest first. */
    const struct mi_store_entry *prev = NULL;
    for (size_t i = 0; i < l.len && !prev; i++) {
        const struct mi_store_entry *e = &l.items[i];
        if (e->binding.pr == pr && e->binding.head_sha && strcmp(e->binding.head_sha, head_sha))
            prev = e;
    }
    if (!prev) {
        mi_store_list_release(&l);
        return;
    }
    mi_buf text = MI_BUF_INIT;
    struct mi_plandiff_summary *previous = NULL;
    struct mi_plandiff *d = NULL;
    int rc = mi_store_get_summary(store, environment, pr, prev->binding.head_sha, &text);
    if (rc == MI_ENOTFOUND) {
        mi_error_clear();
        mi_log_info("the previous plan (commit %s) has no change summary to compare with",
                    prev->binding.head_sha);
    } else if (rc < 0) {
        mi_log_warn("cannot read the previous plan's change summary: %s", mi_error_last());
    } else if (mi_plandiff_summary_parse(&previous, text.ptr, text.len,
                                         "the previous plan's change summary") < 0) {
        mi_log_warn("%s", mi_error_last());
    } else {
        mi_plandiff_compare(&d, previous, current);
        mi_report_plandiff_section(section, d, 0);
    }
    mi_plandiff_free(d);
    mi_plandiff_summary_free(previous);
    mi_buf_release(&text);
    mi_store_list_release(&l);
}

/* Posts or updates the comment. Returns 0, or the error code with the message set. */
static int post_comment(char **url_out, const char *body, const char *environment, long long pr,
                        int *created)
{
    struct mi_github_options go = {0};
    mi_github_options_from_env(&go);
    mi_github *gh = NULL;
    struct mi_github_comment *c = NULL;
    mi_buf marker = MI_BUF_INIT;
    mi_report_marker(&marker, environment);
    int rc = mi_github_new(&gh, &go);
    if (rc == 0)
        rc = mi_github_comment_upsert(&c, gh, pr, marker.ptr, body, created);
    if (rc == 0 && c && c->html_url)
        *url_out = mi_xstrdup(c->html_url);
    mi_github_comment_free(c);
    mi_github_free(gh);
    mi_buf_release(&marker);
    return rc;
}

/* ---- the command ----------------------------------------------------------------------- */

int mi_cmd_plan(int argc, char **argv)
{
    struct options o;
    memset(&o, 0, sizeof(o));
    int help = 0;
    int rc = parse_options(argc, argv, &o, &help);
    if (rc)
        return rc;
    if (help) {
        fputs(usage, stdout);
        return MI_EXIT_OK;
    }
    mi_cancel_install();

    /* Secrets we know of are masked before anything can print them. */
    mi_cmd_mask_secret_env();

    int exit_code = MI_EXIT_ERROR;
    struct mi_context *ctx = NULL;
    struct target target = {NULL, NULL, NULL};
    mi_tf *tf = NULL;
    struct mi_tf_run run = MI_TF_RUN_INIT;
    struct mi_tf_validation validation = MI_TF_VALIDATION_INIT;
    struct mi_tfplan *plan = NULL;
    mi_buf json = MI_BUF_INIT, comment = MI_BUF_INIT, status = MI_BUF_INIT;
    mi_buf since = MI_BUF_INIT, summary_json = MI_BUF_INIT;
    struct mi_plandiff_summary *summary = NULL;
    struct mi_store *diff_store = NULL;
    char *repo = NULL, *workdir = NULL, *tmpdir = NULL, *plan_file = NULL, *plan_id = NULL;
    char *tf_version = NULL, *comment_url = NULL, *run_url = NULL;
    const char *failed_step = NULL;
    char *failure = NULL;
    int has_changes = 0;
    const char *notes[4];
    size_t nnotes = 0;
    struct policy_rows policy_rows;
    struct mi_policy_result *policy_result = NULL;
    int policy_error = 0;
    memset(&policy_rows, 0, sizeof(policy_rows));

    /* The run: context, repository, environment. */
    const char *event_path = o.event ? o.event : mi_cmd_env("GITHUB_EVENT_PATH");
    if (event_path) {
        rc = mi_context_load(&ctx, o.event_name, event_path);
        if (rc < 0) {
            exit_code = mi_cmd_fail("plan", rc);
            goto done;
        }
    }
    /* pull_request_target gives the run this repository's secrets and a write token even
     * when the head is a fork's, and terraform runs part of the code it plans: the run stops
     * before anything in the checkout is read. A usage error (2), as for apply on a pull
     * request: the workflow calls the agent on the wrong event, and only changing it helps. */
    if (mi_context_fork_with_secrets(ctx)) {
        const char *fork_repo = ctx->head_repo ? ctx->head_repo : "a deleted repository";
        rc = mi_error_set(MI_EUSAGE,
                          "refusing to plan pull request #%ld: its head comes from a fork (%s) "
                          "and this run is a %s event, which holds this repository's secrets "
                          "and a write token; planning the fork's code would hand them to its "
                          "author; run mlinfra plan on the pull_request event instead (a fork's "
                          "pull request is then planned without secrets, and never stored or "
                          "applied)",
                          ctx->pr_number, fork_repo, ctx->event_name);
        exit_code = mi_cmd_fail("plan", rc);
        goto done;
    }
    repo = mi_xstrdup(o.repo                            ? o.repo
                      : mi_cmd_env("GITHUB_WORKSPACE") ? getenv("GITHUB_WORKSPACE")
                                                        : ".");
    rc = pick_environment(&target, &o, ctx, repo);
    if (rc < 0) {
        exit_code = mi_cmd_fail("plan", rc);
        goto done;
    }
    workdir = mi_fs_join(repo, target.directory);
    if (!mi_fs_is_dir(workdir)) {
        exit_code = mi_cmd_fail("plan", mi_error_set(MI_EUSAGE,
                                                     "environment '%s': directory "
                                                     "'%s' does not exist",
                                                     target.name, target.directory));
        goto done;
    }
    long long pr = ctx ? ctx->pr_number : 0;
    if (o.pr) {
        char *end = NULL;
        errno = 0;
        pr = strtoll(o.pr, &end, 10);
        if (errno || !end || *end || pr <= 0) {
            exit_code =
                mi_cmd_usage_error("plan", "--pr wants a pull request number, not '%s'", o.pr);
            goto done;
        }
    }
    const char *head_sha = o.head_sha             ? o.head_sha
                           : ctx && ctx->head_sha ? ctx->head_sha
                           : ctx                  ? ctx->sha
                                                  : mi_cmd_env("GITHUB_SHA");
    long timeout_s = 3600;
    if (o.timeout) {
        char *end = NULL;
        timeout_s = strtol(o.timeout, &end, 10);
        if (!end || *end || timeout_s <= 0) {
            exit_code = mi_cmd_usage_error("plan", "--timeout wants seconds, not '%s'", o.timeout);
            goto done;
        }
    }
    if (mi_cmd_env("GITHUB_SERVER_URL") && mi_cmd_env("GITHUB_REPOSITORY") &&
        mi_cmd_env("GITHUB_RUN_ID"))
        run_url = mi_xasprintf("%s/%s/actions/runs/%s", getenv("GITHUB_SERVER_URL"),
                               getenv("GITHUB_REPOSITORY"), getenv("GITHUB_RUN_ID"));
    int fork = ctx && ctx->fork;
    if (fork)
        notes[nnotes++] = "This pull request comes from a fork, which gets no secrets: the plan "
                          "was made but not stored, so it cannot be applied from here. A "
                          "maintainer can re-run it from a branch of this repository.";
    mi_log_notice("planning environment '%s' in %s%s", target.name, target.directory,
                  pr ? "" : " (no pull request)");

    /* A private directory for the saved plan, which holds secrets. */
    const char *temp_base = mi_cmd_env("RUNNER_TEMP") ? getenv("RUNNER_TEMP")
                            : mi_cmd_env("TMPDIR")    ? getenv("TMPDIR")
                                                       : "/tmp";
    tmpdir = mi_xasprintf("%s/mlinfra-plan-XXXXXX", temp_base);
    if (!mkdtemp(tmpdir)) {
        exit_code = mi_cmd_fail("plan", mi_error_errno(MI_ERR,
                                                       "cannot create a directory in "
                                                       "'%s'",
                                                       temp_base));
        free(tmpdir);
        tmpdir = NULL;
        goto done;
    }
    plan_file = mi_xasprintf("%s/plan.tfplan", tmpdir);

    /* Terraform. */
    struct mi_tf_options to = {0};
    to.workdir = workdir;
    to.timeout_ms = timeout_s * 1000;
    to.hooks.step_begin = on_step_begin;
    to.hooks.line = on_line;
    to.hooks.step_end = on_step_end;
    rc = mi_tf_new(&tf, &to);
    if (rc < 0) {
        exit_code = mi_cmd_fail("plan", rc);
        goto done;
    }
    /* terraform's version comes with the plan JSON; asking `terraform version` would cost a
     * process start for nothing. */

    rc = mi_tf_init(tf, o.nbackend ? o.backend_config : NULL, &run);
    if (rc < 0) {
        failed_step = "init";
        goto report;
    }
    rc = mi_tf_validate(tf, &validation, &run);
    for (size_t i = 0; i < validation.diags_len; i++) {
        const struct mi_tf_diag *d = &validation.diags[i];
        char *file = NULL;
        if (d->filename && mi_path_resolve(&file, target.directory, d->filename) < 0)
            file = NULL; /* a path outside the repository is reported without a location */
        int is_error = d->severity && strcmp(d->severity, "error") == 0;
        mi_log_annotate(is_error ? MI_LOG_ERROR : MI_LOG_WARNING, file, file ? d->line : 0,
                        d->summary, "%s",
                        d->detail    ? d->detail
                        : d->summary ? d->summary
                                     : "");
        free(file);
    }
    if (rc < 0) {
        failed_step = "validate";
        goto report;
    }
    const char *extra[MAX_REPEATED + 1];
    char *var_args[MAX_REPEATED];
    for (size_t i = 0; i < o.nvar_files; i++) {
        var_args[i] = mi_xasprintf("-var-file=%s", o.var_files[i]);
        extra[i] = var_args[i];
    }
    extra[o.nvar_files] = NULL;
    rc = mi_tf_plan(tf, plan_file, o.lock_timeout ? o.lock_timeout : "5m", extra, &has_changes,
                    &run);
    for (size_t i = 0; i < o.nvar_files; i++)
        free(var_args[i]);
    if (rc < 0) {
        failed_step = "plan";
        goto report;
    }
    struct mi_tf_run show_run = MI_TF_RUN_INIT;
    rc = mi_tf_show_json(tf, plan_file, &json, &show_run);
    if (rc == 0)
        rc = mi_tfplan_parse(&plan, json.ptr, json.len, "terraform show -json");
    if (rc < 0) {
        failed_step = "show";
        mi_buf_addf(&show_run.output, "%s\n", mi_error_last());
        mi_tf_run_release(&run);
        run = show_run;
        goto report;
    }
    mi_tf_run_release(&show_run);
    /* Addresses and actions only, to compare the next plan of this PR with (issue 9). */
    mi_plandiff_summarize(&summary, plan, head_sha);
    if (plan->terraform_version)
        tf_version = mi_xstrdup(plan->terraform_version);
    rc = plan_sha256(&plan_id, plan_file);
    if (rc < 0) {
        failed_step = "show";
        goto report;
    }
    if (o.plan_out && copy_file(plan_file, o.plan_out) < 0)
        mi_log_warn("--plan-out: %s", mi_error_last());

report:;
    struct mi_report_plan in = {0};
    in.environment = target.name;
    in.directory = target.directory;
    in.head_sha = head_sha;
    in.plan_id = plan_id;
    in.run_url = run_url;
    in.terraform_version = tf_version;
    in.notes = notes;
    if (failed_step) {
        failure = mi_xstrdup(mi_error_last());
        mi_log_error("mlinfra plan: %s", failure);
        in.failed_step = failed_step;
        if (!run.output.len)
            mi_buf_addf(&run.output, "%s\n", failure);
        in.error_text = run.output.ptr;
        in.error_text_len = run.output.len;
        in.policy_note = "Policies were not evaluated: there is no plan.";
    } else {
        in.plan = plan;
        in.plan_text = run.output.ptr;
        in.plan_text_len = run.output.len;
        in.plan_text_dropped = run.dropped;
        if (evaluate_policies(&in, &policy_rows, &policy_result, repo, target.policies_dir, &json) <
            0) {
            policy_error = 1;
            mi_log_error("mlinfra plan: %s", in.policy_note);
        }
    }
    if (o.sarif)
        write_sarif(o.sarif, policy_result, repo, workdir, target.name, plan);
    sodium_memzero(json.ptr, json.len);
    mi_buf_release(&json);
    /* The sealed plan, for mlinfra apply (cmd/planstore.h; added with issue 8). A plan that
     * violates a policy is not stored: it must never be applied. */
    int store_failed = 0;
    int stored = 0;
    if (!failed_step && !fork) {
        const char *repository = mi_cmd_env("GITHUB_REPOSITORY") ? getenv("GITHUB_REPOSITORY")
                                 : ctx                            ? ctx->repository
                                                                  : NULL;
        char *where = NULL;
        if (policy_error || policy_rows.violations) {
            notes[nnotes++] = "The plan violates a policy, so it was not stored: it cannot be "
                              "applied.";
        } else if (!pr || !head_sha || !repository) {
            notes[nnotes++] = "This run has no pull request, so the plan was not stored.";
        } else if (!mi_cmd_env("MLINFRA_PLAN_KEY")) {
            mi_log_warn("MLINFRA_PLAN_KEY is not set: the plan is not stored");
            notes[nnotes++] = "MLINFRA_PLAN_KEY is not set, so the plan was not stored: it "
                              "cannot be applied.";
        } else {
            /* What changed since the previous plan of this PR, read before this plan is
             * stored. The store is opened once more for it (planstore.c keeps its own). */
            if (summary && mi_planstore_open(&diff_store, repo, repository, mi_cmd_mask_secret) < 0) {
                mi_log_warn("cannot open the plan store to compare with the previous plan: %s",
                            mi_error_last());
                diff_store = NULL;
            }
            if (diff_store)
                since_previous_section(&since, diff_store, target.name, pr, head_sha, summary);
            struct mi_planstore_plan sp = {repo, repository, target.name, target.directory,
                                           pr,   head_sha,   tf_version,  plan_file};
            if (mi_planstore_put(&sp, mi_cmd_mask_secret, &where) < 0) {
                mi_log_error("mlinfra plan: cannot store the sealed plan: %s", mi_error_last());
                notes[nnotes++] = "The plan could not be stored (see the run's log): it cannot "
                                  "be applied until it is planned again.";
                store_failed = 1;
            } else {
                mi_log_notice("sealed the plan of pull request #%lld into %s", pr, where);
                stored = 1;
                /* Its change summary beside it, for the next plan's comparison. */
                if (diff_store) {
                    mi_plandiff_summary_to_json(&summary_json, summary);
                    if (mi_store_put_summary(diff_store, target.name, pr, head_sha,
                                             summary_json.ptr, summary_json.len) < 0)
                        mi_log_warn("cannot store the plan's change summary (the next plan "
                                    "will not show what changed since this one): %s",
                                    mi_error_last());
                }
            }
        }
        free(where);
    }
    in.notes_len = nnotes;
    if (since.len)
        in.since_previous = since.ptr;
    mi_report_plan_comment(&comment, &in);
    mi_report_plan_status(&status, &in);
    /* The plan's sensitive values are masked from here on (after rendering, so the runner's
     * masks do not slow the comment's own redaction). */
    for (size_t i = 0; plan && i < plan->sensitive_len; i++)
        mi_log_mask(plan->sensitive[i]);

    const char *summary_path = o.step_summary ? o.step_summary : mi_cmd_env("GITHUB_STEP_SUMMARY");
    if (summary_path) {
        mi_buf s = MI_BUF_INIT;
        mi_buf_add(&s, comment.ptr, comment.len);
        mi_buf_addch(&s, '\n');
        if (mi_fs_append_file(summary_path, s.ptr, s.len) < 0)
            mi_log_warn("cannot write the job summary: %s", mi_error_last());
        mi_buf_release(&s);
    }

    int github_failed = 0;
    const char *token = mi_cmd_env("GITHUB_TOKEN");
    if (o.no_comment) {
        mi_log_info("comment not posted (--no-comment)");
    } else if (!token || !pr) {
        /* A local run: the comment is the command's result. */
        mi_log_notice("%s: printing the comment instead of posting it",
                      !token ? "GITHUB_TOKEN is not set" : "this run has no pull request");
        fwrite(comment.ptr, 1, comment.len, stdout);
        fflush(stdout);
    } else {
        int created = 0;
        rc = post_comment(&comment_url, comment.ptr, target.name, pr, &created);
        if (rc == 0) {
            mi_log_notice("%s the plan comment on pull request #%lld: %s",
                          created ? "created" : "updated", pr, comment_url ? comment_url : "");
        } else if (fork && rc == MI_EAUTH) {
            mi_log_warn("cannot comment on a pull request from a fork (its token is read-only): "
                        "%s; the job summary has the plan",
                        mi_error_last());
        } else {
            mi_log_error("mlinfra plan: cannot post the plan comment: %s", mi_error_last());
            github_failed = 1;
        }
    }

    write_outputs(o.github_output ? o.github_output : mi_cmd_env("GITHUB_OUTPUT"), plan,
                  failed_step ? 0 : has_changes, plan_id, stored, comment_url, status.ptr);

    if (failed_step || github_failed || store_failed) {
        exit_code = MI_EXIT_ERROR;
    } else if (policy_error) {
        exit_code = MI_EXIT_USAGE;
    } else {
        mi_log_notice("environment '%s': %s", target.name, status.ptr);
        exit_code = policy_rows.violations ? MI_EXIT_POLICY : MI_EXIT_OK;
    }

done:
    if (plan_file)
        unlink(plan_file);
    if (tmpdir)
        rmdir(tmpdir);
    free(failure);
    free(run_url);
    free(comment_url);
    free(tf_version);
    free(plan_id);
    free(plan_file);
    free(tmpdir);
    free(workdir);
    free(repo);
    free(target.name);
    free(target.directory);
    free(target.policies_dir);
    policy_rows_release(&policy_rows);
    mi_policy_result_free(policy_result);
    mi_buf_release(&json);
    mi_buf_release(&comment);
    mi_buf_release(&status);
    mi_buf_release(&since);
    mi_buf_release(&summary_json);
    mi_plandiff_summary_free(summary);
    mi_store_free(diff_store);
    mi_tfplan_free(plan);
    mi_tf_validation_release(&validation);
    mi_tf_run_release(&run);
    mi_tf_free(tf);
    mi_context_free(ctx);
    return exit_code;
}
