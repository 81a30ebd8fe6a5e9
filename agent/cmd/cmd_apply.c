/*
 * mlinfra apply: on a push to an environment's branch, apply exactly the plan that was
 * reviewed on the pull request the push merged, or nothing (DESIGN.md section 1, the apply
 * flow; issue 8).
 *
 * Orchestration only. The phases, in order, each a function below:
 *
 *   1. context      the run (push event), the configuration, the environment, the commit
 *   2. resolve      the pull request the commit merged and its head (GitHub, or the history
 *                   and the plan store for a run without GitHub, or --pr/--head-sha)
 *   3. rules        never a fork's plan; the approving review (require_approval); the
 *                   change window (policy/window.h), evaluated again now
 *   4. fingerprint  the configuration at the merge commit (context/fingerprint.h)
 *   5. lock         the plan key, the store, the environment's lock (waits for another apply)
 *   6. fetch        already applied? failed before? fetch and verify the sealed plan; compare
 *                   its configuration fingerprint with the merge commit's
 *   7. terraform    init, apply PLAN (streamed); mark the plan applied, or failed
 *   8. outputs      terraform output -json: the configured outputs, the service address
 *   9. unlock       on every path (the finish: label), SIGTERM included (util/cancel.h)
 *  10. report       job summary, step outputs, the PR comment's "Applied" section
 *
 * Issue 9's extras hook in at marked places: plan expiry in fetch, the GitHub deployment
 * around terraform, the health probe after outputs.
 *
 * Exit codes (DESIGN.md section 9): 0 applied, already applied (a re-run of the same job:
 * nothing is changed and the outputs are reported again), or nothing to apply (a push that
 * merged no pull request, unless --unplanned=fail); 1 terraform or an operation failed, or
 * the run was cancelled; 2 usage or configuration; 3 the change window is closed or the
 * required approving review is missing; 4 the plan was refused: missing, tampered, made for
 * other configuration, stale, failed before, from a fork.
 */
#include <errno.h>
#include <git2.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/planstore.h"
#include "context/config.h"
#include "context/context.h"
#include "context/fingerprint.h"
#include "context/merged.h"
#include "context/path.h"
#include "policy/window.h"
#include "remote/deploy.h"
#include "remote/github.h"
#include "remote/probe.h"
#include "report/applied.h"
#include "report/comment.h"
#include "report/health.h"
#include "report/step_output.h"
#include "store/expiry.h"
#include "store/seal.h"
#include "store/store.h"
#include "terraform/outputs.h"
#include "terraform/runner.h"
#include "util/buf.h"
#include "util/cancel.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/banned.h"

static const char usage[] =
    "usage: mlinfra apply [--environment NAME] [options]\n"
    "\n"
    "Applies the plan reviewed on the pull request that a push merged: finds the pull\n"
    "request and its head commit (merge, squash and rebase merges), fetches its sealed plan\n"
    "from the plan store and verifies it, checks that the configuration at the merge commit\n"
    "is the one planned, takes the environment's lock, runs terraform init and terraform\n"
    "apply PLAN, marks the plan applied and reports the configured outputs (the service\n"
    "address) in the job summary, the step outputs and the pull request's comment.\n"
    "Without GITHUB_TOKEN the pull request is found from the history (the pushed commit or\n"
    "a parent of it is the head of a stored plan) and the report is printed to stdout.\n"
    "\n"
    "options:\n"
    "  --environment NAME    the environment (default: $MLINFRA_ENVIRONMENT, else the one\n"
    "                        whose branch was pushed)\n"
    "  --repo DIR            the repository (default: $GITHUB_WORKSPACE, else the current\n"
    "                        directory); its checkout must be the pushed commit\n"
    "  --config FILE         the configuration (default: mlinfra.yml in the repository)\n"
    "  --event FILE          the event payload (default: $GITHUB_EVENT_PATH)\n"
    "  --event-name NAME     the event name (default: $GITHUB_EVENT_NAME)\n"
    "  --sha SHA             the pushed commit (default: the event's, else HEAD)\n"
    "  --pr N --head-sha SHA apply this pull request's plan (no look-up)\n"
    "  --unplanned skip|fail what a push that merged no pull request does: skip (exit 0,\n"
    "                        the default) or fail (exit 4); also $MLINFRA_APPLY_UNPLANNED\n"
    "  --retry-failed        apply a plan whose earlier apply failed (refused otherwise)\n"
    "  --now TIME            evaluate the change windows at this ISO 8601 time instead of\n"
    "                        the clock (also $MLINFRA_NOW)\n"
    "  --lock-wait SECONDS   how long to wait for another apply of the environment\n"
    "                        (default 900)\n"
    "  --backend-config K=V  passed to terraform init as -backend-config (repeatable)\n"
    "  --lock-timeout DUR    how long terraform waits for the state lock (default 5m)\n"
    "  --timeout SECONDS     time limit of each terraform command (default 3600)\n"
    "  --no-comment          do not update the pull request's comment\n"
    "  --github-output FILE  step outputs (default: $GITHUB_OUTPUT)\n"
    "  --step-summary FILE   job summary (default: $GITHUB_STEP_SUMMARY)\n"
    "  -h, --help            this text\n"
    "\n"
    "environment: MLINFRA_PLAN_KEY (required), MLINFRA_STORE (file://DIR) or the\n"
    "AZURE_STORAGE_* settings of the plan store, MLINFRA_TERRAFORM, GITHUB_TOKEN,\n"
    "GITHUB_API_URL, GITHUB_REPOSITORY, RUNNER_TEMP.\n"
    "\n"
    "step outputs: applied, result (applied, already-applied, skipped, refused, blocked,\n"
    "failed, cancelled, error), pr, head_sha, plan_id, address, and every configured\n"
    "terraform output that is not sensitive, by its name.\n"
    "\n"
    "exit codes: 0 applied, already applied or nothing to apply; 1 terraform or an\n"
    "operation failed, or cancelled; 2 usage or configuration error; 3 change window\n"
    "closed or approving review missing; 4 plan refused (missing, tampered, made for other\n"
    "configuration, stale, failed before, from a fork).\n";

#define MAX_REPEATED 32
#define DEFAULT_LOCK_WAIT_S 900
#define LOCK_POLL_MS 500

struct options {
    const char *environment;
    const char *repo;
    const char *config;
    const char *event;
    const char *event_name;
    const char *sha;
    const char *pr;
    const char *head_sha;
    const char *unplanned;
    const char *now;
    const char *lock_wait;
    const char *backend_config[MAX_REPEATED + 1];
    size_t nbackend;
    const char *lock_timeout;
    const char *timeout;
    const char *github_output;
    const char *step_summary;
    int retry_failed;
    int no_comment;
};

/* How the run ended; decides the exit code, the report and the step outputs. */
enum outcome {
    OUT_NONE = 0,
    OUT_APPLIED,   /* terraform applied the plan */
    OUT_ALREADY,   /* the plan had been applied before: nothing done */
    OUT_SKIPPED,   /* nothing to apply (no pull request, a deleted branch) */
    OUT_REFUSED,   /* the plan was refused (exit 4) */
    OUT_BLOCKED,   /* a rule says not now (exit 3) */
    OUT_FAILED,    /* terraform apply failed (exit 1) */
    OUT_CANCELLED, /* SIGTERM/SIGINT (exit 1) */
    OUT_ERROR,     /* anything else went wrong (exit 1, or 2 for usage) */
};

static const char *outcome_name(enum outcome o)
{
    switch (o) {
    case OUT_APPLIED:
        return "applied";
    case OUT_ALREADY:
        return "already-applied";
    case OUT_SKIPPED:
        return "skipped";
    case OUT_REFUSED:
        return "refused";
    case OUT_BLOCKED:
        return "blocked";
    case OUT_FAILED:
        return "failed";
    case OUT_CANCELLED:
        return "cancelled";
    default:
        return "error";
    }
}

/* Everything one apply knows; every owned field is freed in run_release. */
struct run {
    const struct options *o;
    struct mi_context *ctx;
    struct mi_config *cfg;
    const struct mi_config_env *env; /* borrowed from cfg */
    char *repo_dir;
    char *workdir; /* the environment's directory on disk */
    char *repository;
    char *commit; /* the pushed (merge) commit */
    char *run_url;
    char *holder; /* who we are, for the lock and the applied mark */

    mi_github *gh; /* NULL: a run without GitHub */
    long long pr;
    char *head_sha;
    char *pr_url;

    struct mi_fingerprint *fingerprint; /* at the merge commit */
    struct mi_seal_keyring keys;
    int have_keys;
    struct mi_store *store;
    struct mi_store_lock *lock;
    struct mi_store_entry entry; /* the verified plan's binding */
    char *plan_id;
    char *tmpdir;
    char *plan_file;

    mi_tf *tf;
    struct mi_tf_run tf_run; /* terraform apply's output */
    int apply_started;       /* terraform apply ran (the state may have changed) */
    struct mi_tf_outputs outputs;
    char *address;

    /* Issue 9 (docs/extras.md): the GitHub deployment and the health check. */
    struct mi_deploy *deploy;      /* NULL: none recorded */
    struct mi_probe_result health; /* attempts 0: not probed */
    char *health_name;             /* the output probed */
    int health_failed;             /* unreachable and apply.health_check.fail_on_unreachable */

    int cancelled; /* the signal that cancelled the run, once noticed */
    int unmarked;  /* applied, but marking the plan applied failed (exit 1) */
    enum outcome outcome;
    int error_code; /* for OUT_ERROR: the MI_E* code */
    char *why;      /* one line: what happened */
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
        *err = mi_cmd_usage_error("apply", "%s needs a value", name);
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
        const char *backend = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            *help = 1;
            return 0;
        }
        if (!strcmp(a, "--no-comment")) {
            o->no_comment = 1;
            continue;
        }
        if (!strcmp(a, "--retry-failed")) {
            o->retry_failed = 1;
            continue;
        }
        if (take(argc, argv, &i, "--backend-config", &backend, &err)) {
            if (err)
                return err;
            if (o->nbackend >= MAX_REPEATED)
                return mi_cmd_usage_error("apply", "--backend-config given more than %d times",
                                          MAX_REPEATED);
            o->backend_config[o->nbackend++] = backend;
            o->backend_config[o->nbackend] = NULL;
            continue;
        }
        if (take(argc, argv, &i, "--environment", &o->environment, &err) ||
            take(argc, argv, &i, "--repo", &o->repo, &err) ||
            take(argc, argv, &i, "--config", &o->config, &err) ||
            take(argc, argv, &i, "--event-name", &o->event_name, &err) ||
            take(argc, argv, &i, "--event", &o->event, &err) ||
            take(argc, argv, &i, "--sha", &o->sha, &err) ||
            take(argc, argv, &i, "--pr", &o->pr, &err) ||
            take(argc, argv, &i, "--head-sha", &o->head_sha, &err) ||
            take(argc, argv, &i, "--unplanned", &o->unplanned, &err) ||
            take(argc, argv, &i, "--now", &o->now, &err) ||
            take(argc, argv, &i, "--lock-wait", &o->lock_wait, &err) ||
            take(argc, argv, &i, "--lock-timeout", &o->lock_timeout, &err) ||
            take(argc, argv, &i, "--timeout", &o->timeout, &err) ||
            take(argc, argv, &i, "--github-output", &o->github_output, &err) ||
            take(argc, argv, &i, "--step-summary", &o->step_summary, &err)) {
            if (err)
                return err;
            continue;
        }
        return mi_cmd_usage_error("apply", "unknown option '%s'", a);
    }
    return 0;
}

static int parse_positive(long long *out, const char *text)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || !end || end == text || *end || v <= 0)
        return -1;
    *out = v;
    return 0;
}

/* ---- outcome bookkeeping ------------------------------------------------------------- */

/* Ends the run with outcome and the current error message as the reason; returns rc so a
 * phase can `return stop(r, OUT_REFUSED, rc);`. */
static int stop(struct run *r, enum outcome outcome, int rc)
{
    r->outcome = outcome;
    r->error_code = rc;
    free(r->why);
    r->why = mi_xstrdup(mi_error_last());
    return rc < 0 ? rc : MI_ERR;
}

static int stop_with(struct run *r, enum outcome outcome, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int stop_with(struct run *r, enum outcome outcome, int rc, const char *fmt, ...)
{
    mi_buf b = MI_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    mi_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    mi_error_set(rc, "%s", b.ptr);
    mi_buf_release(&b);
    return stop(r, outcome, rc);
}

static void now_utc(char *out, size_t len)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
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

/* A cancelled workflow sends SIGTERM and kills us a few seconds later. Once the signal has
 * stopped what was running, the cleanup must still reach the store - mark the plan, release
 * the Azure lease - and every HTTP transfer gives up while the flag is set; so the flag is
 * noted here and cleared. A second signal sets it again and cuts the cleanup short (the
 * lease then expires by itself). */
static void note_cancel(struct run *r)
{
    int sig = mi_cancel_requested();
    if (sig) {
        r->cancelled = sig;
        mi_cancel_reset();
    }
}

/* ==========================================================================================
 * 1. context
 * ======================================================================================== */

static int pick_environment(struct run *r)
{
    const struct options *o = r->o;
    const char *wanted = o->environment ? o->environment : mi_cmd_env("MLINFRA_ENVIRONMENT");
    const char *branch = r->ctx ? r->ctx->branch : NULL;
    if (wanted) {
        if (!mi_path_env_name_valid(wanted))
            return stop_with(r, OUT_ERROR, MI_EUSAGE, "'%s' is not a valid environment name",
                             wanted);
        r->env = mi_config_env_find(r->cfg, wanted);
        if (!r->env)
            return stop_with(r, OUT_ERROR, MI_EUSAGE, "no environment '%s' in %s", wanted,
                             r->cfg->path ? r->cfg->path : "environments/");
        /* A push to one branch never applies the plans of another branch's environment. */
        if (branch && r->env->branch && strcmp(branch, r->env->branch) != 0)
            return stop_with(r, OUT_ERROR, MI_EUSAGE,
                             "the push is to branch '%s' but environment '%s' is deployed from "
                             "branch '%s'",
                             branch, r->env->name, r->env->branch);
        return 0;
    }
    if (!branch)
        return stop_with(r, OUT_ERROR, MI_EUSAGE,
                         "no environment to apply: the run names no branch (use --environment)");
    for (size_t i = 0; i < r->cfg->nenvs; i++) {
        const struct mi_config_env *e = &r->cfg->envs[i];
        if (!e->branch || strcmp(e->branch, branch) != 0)
            continue;
        if (r->env)
            return stop_with(r, OUT_ERROR, MI_EUSAGE,
                             "branch '%s' names more than one environment ('%s', '%s'): choose "
                             "with --environment",
                             branch, r->env->name, e->name);
        r->env = e;
    }
    if (!r->env)
        return stop_with(r, OUT_ERROR, MI_EUSAGE,
                         "no environment is deployed from branch '%s' (use --environment)", branch);
    return 0;
}

/* The commit checked out in the repository, which is what terraform will read. */
static int checked_out_commit(char **out, const char *repo_dir)
{
    *out = NULL;
    git_repository *repo = NULL;
    git_object *head = NULL;
    int rc = 0;
    if (git_repository_open_ext(&repo, repo_dir, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0 ||
        git_revparse_single(&head, repo, "HEAD^{commit}") < 0) {
        const git_error *e = git_error_last();
        rc = mi_error_set(MI_EUSAGE, "git: cannot read the commit checked out at '%s': %s",
                          repo_dir, e && e->message ? e->message : "unknown error");
    } else {
        char hex[GIT_OID_HEXSZ + 1];
        *out = mi_xstrdup(git_oid_tostr(hex, sizeof(hex), git_object_id(head)));
    }
    git_object_free(head);
    git_repository_free(repo);
    return rc;
}

static int phase_context(struct run *r)
{
    const struct options *o = r->o;
    int rc;
    const char *event_path = o->event ? o->event : mi_cmd_env("GITHUB_EVENT_PATH");
    if (event_path) {
        rc = mi_context_load(&r->ctx, o->event_name, event_path);
        if (rc < 0)
            return stop(r, OUT_ERROR, rc);
        if (r->ctx->kind == MI_EVENT_PULL_REQUEST)
            return stop_with(r, OUT_ERROR, MI_EUSAGE,
                             "apply runs on a push to an environment's branch, not on a %s "
                             "event (plan runs on pull requests)",
                             r->ctx->event_name ? r->ctx->event_name : "pull_request");
    }
    r->repo_dir = mi_xstrdup(o->repo                           ? o->repo
                             : mi_cmd_env("GITHUB_WORKSPACE") ? getenv("GITHUB_WORKSPACE")
                                                               : ".");
    char *cfg_path = o->config ? mi_xstrdup(o->config) : mi_fs_join(r->repo_dir, "mlinfra.yml");
    rc = mi_config_load(&r->cfg, cfg_path, o->config ? NULL : "mlinfra.yml", o->config != NULL);
    free(cfg_path);
    if (rc == 0)
        rc = mi_config_discover(r->cfg, r->repo_dir);
    if (rc < 0)
        return stop(r, OUT_ERROR, rc);
    for (size_t i = 0; i < r->cfg->nwarnings; i++)
        mi_log_warn("%s", r->cfg->warnings[i]);
    if ((rc = pick_environment(r)) < 0)
        return rc;
    r->workdir = mi_fs_join(r->repo_dir, r->env->directory);

    const char *repository = mi_cmd_env("GITHUB_REPOSITORY");
    if (!repository && r->ctx)
        repository = r->ctx->repository;
    if (!repository)
        return stop_with(r, OUT_ERROR, MI_EUSAGE,
                         "the repository's name is unknown: set GITHUB_REPOSITORY (owner/name)");
    r->repository = mi_xstrdup(repository);

    if (mi_cmd_env("GITHUB_SERVER_URL") && mi_cmd_env("GITHUB_RUN_ID"))
        r->run_url = mi_xasprintf("%s/%s/actions/runs/%s", getenv("GITHUB_SERVER_URL"),
                                  r->repository, getenv("GITHUB_RUN_ID"));
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    r->holder = r->run_url ? mi_xstrdup(r->run_url)
                           : mi_xasprintf("mlinfra apply, pid %ld on %s", (long)getpid(), host);

    /* The commit: what was pushed, and what is checked out must be it. */
    if (r->ctx && r->ctx->kind == MI_EVENT_PUSH && r->ctx->deleted) {
        r->outcome = OUT_SKIPPED;
        r->why = mi_xasprintf("the push deleted branch '%s': nothing to apply",
                              r->ctx->branch ? r->ctx->branch : "");
        return MI_ERR;
    }
    const char *pushed = o->sha                                    ? o->sha
                         : r->ctx && r->ctx->kind == MI_EVENT_PUSH ? r->ctx->after
                         : r->ctx                                  ? r->ctx->sha
                                                                   : mi_cmd_env("GITHUB_SHA");
    if (pushed && !mi_context_sha_valid(pushed))
        return stop_with(r, OUT_ERROR, MI_EUSAGE, "'%s' is not a full commit id", pushed);
    char *head = NULL;
    if ((rc = checked_out_commit(&head, r->repo_dir)) < 0)
        return stop(r, OUT_ERROR, rc);
    if (pushed && strcmp(pushed, head) != 0) {
        rc = stop_with(r, OUT_ERROR, MI_EUSAGE,
                       "the checkout at '%s' is commit %.12s, not the pushed commit %.12s: "
                       "check out the pushed commit before applying",
                       r->repo_dir, head, pushed);
        free(head);
        return rc;
    }
    r->commit = head;
    if (!mi_fs_is_dir(r->workdir))
        return stop_with(r, OUT_ERROR, MI_EUSAGE,
                         "environment '%s': directory '%s' does not exist at commit %.12s",
                         r->env->name, r->env->directory, r->commit);
    return 0;
}

/* ==========================================================================================
 * 2. resolve: which pull request did the push merge?
 * ======================================================================================== */

static int unplanned(struct run *r, const char *why)
{
    const char *mode = r->o->unplanned ? r->o->unplanned : mi_cmd_env("MLINFRA_APPLY_UNPLANNED");
    int fail = mode && strcmp(mode, "fail") == 0;
    return stop_with(r, fail ? OUT_REFUSED : OUT_SKIPPED, fail ? MI_EREFUSED : MI_ENOTFOUND,
                     "nothing applied to '%s': %s", r->env->name, why);
}

static int resolve_github(struct run *r)
{
    struct mi_github_pull *pull = NULL;
    int rc = mi_github_pull_for_commit(&pull, r->gh, r->commit, r->env->branch);
    if (rc == MI_ENOTFOUND) {
        char *why = mi_xasprintf("commit %.12s merged no pull request into '%s' (a direct "
                                 "push has no reviewed plan)",
                                 r->commit, r->env->branch);
        rc = unplanned(r, why);
        free(why);
        return rc;
    }
    if (rc < 0)
        return stop(r, OUT_ERROR, rc);
    if (!pull->merged) {
        char *why = mi_xasprintf("commit %.12s belongs to pull request #%lld, which is not "
                                 "merged: the push did not merge it",
                                 r->commit, pull->number);
        mi_github_pull_free(pull);
        rc = unplanned(r, why);
        free(why);
        return rc;
    }
    r->pr = pull->number;
    r->head_sha = pull->head_sha ? mi_xstrdup(pull->head_sha) : NULL;
    r->pr_url = pull->html_url ? mi_xstrdup(pull->html_url) : NULL;
    /* DESIGN.md section 5: nothing that came from a fork is ever applied. */
    int fork = !pull->head_repo || strcasecmp(pull->head_repo, r->repository) != 0;
    mi_github_pull_free(pull);
    if (!r->head_sha || !mi_context_sha_valid(r->head_sha))
        return stop_with(r, OUT_ERROR, MI_ERR,
                         "github: pull request #%lld has no valid head "
                         "commit",
                         r->pr);
    if (fork)
        return stop_with(r, OUT_REFUSED, MI_EREFUSED,
                         "pull request #%lld comes from a fork (or its repository is gone): a "
                         "fork's changes are never applied",
                         r->pr);
    return 0;
}

/* Without GitHub: a stored plan of this environment whose head is the pushed commit (a
 * fast-forward) or one of its merged parents (a merge commit). */
static int resolve_local(struct run *r)
{
    git_repository *repo = NULL;
    struct mi_merged_candidates cand = {NULL, 0};
    struct mi_store_list list = {NULL, 0};
    int rc = 0;
    if (git_repository_open_ext(&repo, r->repo_dir, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0) {
        const git_error *e = git_error_last();
        rc = stop_with(r, OUT_ERROR, MI_ERR, "git: cannot open '%s': %s", r->repo_dir,
                       e && e->message ? e->message : "unknown error");
        goto done;
    }
    if ((rc = mi_merged_candidates(&cand, repo, r->commit)) < 0 ||
        (rc = mi_store_list(r->store, r->env->name, &list)) < 0) {
        rc = stop(r, OUT_ERROR, rc);
        goto done;
    }
    const struct mi_store_entry *found = NULL;
    for (size_t c = 0; c < cand.n && !found; c++)
        for (size_t i = 0; i < list.len && !found; i++)
            if (list.items[i].binding.head_sha &&
                strcmp(list.items[i].binding.head_sha, cand.shas[c]) == 0)
                found = &list.items[i];
    if (!found) {
        char *why = mi_xasprintf("commit %.12s merged no pull request with a stored plan (no "
                                 "plan of '%s' in %s has it or one of its merged parents as "
                                 "head; without GITHUB_TOKEN squash and rebase merges are not "
                                 "recognised: pass --pr and --head-sha)",
                                 r->commit, r->env->name, mi_store_describe(r->store));
        rc = unplanned(r, why);
        free(why);
        goto done;
    }
    r->pr = found->binding.pr;
    r->head_sha = mi_xstrdup(found->binding.head_sha);
done:
    mi_store_list_release(&list);
    mi_merged_candidates_release(&cand);
    git_repository_free(repo);
    return rc;
}

static int open_store(struct run *r)
{
    if (r->store)
        return 0;
    int rc = mi_planstore_open(&r->store, r->repo_dir, r->repository, mi_cmd_mask_secret);
    if (rc < 0)
        return stop(r, OUT_ERROR, rc);
    mi_log_info("plan store: %s", mi_store_describe(r->store));
    return 0;
}

static int phase_resolve(struct run *r)
{
    const struct options *o = r->o;
    int rc;
    const char *token = mi_cmd_env("GITHUB_TOKEN");
    if (token) {
        struct mi_github_options go = {0};
        mi_github_options_from_env(&go);
        go.repository = r->repository;
        if ((rc = mi_github_new(&r->gh, &go)) < 0)
            return stop(r, OUT_ERROR, rc);
    }
    if (o->pr || o->head_sha) {
        if (!o->pr || !o->head_sha)
            return stop_with(r, OUT_ERROR, MI_EUSAGE, "--pr and --head-sha go together");
        if (parse_positive(&r->pr, o->pr) < 0)
            return stop_with(r, OUT_ERROR, MI_EUSAGE,
                             "--pr wants a pull request number, not "
                             "'%s'",
                             o->pr);
        if (!mi_context_sha_valid(o->head_sha))
            return stop_with(r, OUT_ERROR, MI_EUSAGE,
                             "--head-sha wants a full commit id, not "
                             "'%s'",
                             o->head_sha);
        r->head_sha = mi_xstrdup(o->head_sha);
        mi_log_notice("applying the plan of pull request #%lld (head %.12s), as asked", r->pr,
                      r->head_sha);
        return 0;
    }
    if (r->gh) {
        rc = resolve_github(r);
    } else {
        mi_log_notice("GITHUB_TOKEN is not set: looking for the merged pull request in the "
                      "history and the plan store");
        rc = open_store(r);
        if (rc == 0)
            rc = resolve_local(r);
    }
    if (rc < 0)
        return rc;
    mi_log_notice("commit %.12s merged pull request #%lld (head %.12s)", r->commit, r->pr,
                  r->head_sha);
    return 0;
}

/* ==========================================================================================
 * 3. rules
 * ======================================================================================== */

static int check_approval(struct run *r)
{
    if (!r->env->require_approval)
        return 0;
    if (!r->gh)
        return stop_with(r, OUT_ERROR, MI_EUSAGE,
                         "environment '%s' requires an approving review, which cannot be "
                         "checked without GITHUB_TOKEN",
                         r->env->name);
    struct mi_github_approval a = MI_GITHUB_APPROVAL_INIT;
    int rc = mi_github_pull_approval(&a, r->gh, r->pr, r->head_sha);
    if (rc < 0) {
        mi_github_approval_release(&a);
        return stop(r, OUT_ERROR, rc);
    }
    if (a.approvals > 0 && a.changes_requested == 0) {
        mi_log_info("pull request #%lld is approved by %s", r->pr, a.approvers ? a.approvers : "");
        mi_github_approval_release(&a);
        return 0;
    }
    rc = stop_with(r, OUT_BLOCKED, MI_EPOLICY,
                   "environment '%s' requires an approving review of the planned commit "
                   "%.12s: pull request #%lld has %d approval%s and %d request%s for changes",
                   r->env->name, r->head_sha, r->pr, a.approvals, a.approvals == 1 ? "" : "s",
                   a.changes_requested, a.changes_requested == 1 ? "" : "s");
    mi_github_approval_release(&a);
    return rc;
}

/* The change windows (policies/change-windows.yml, or change_windows: in mlinfra.yml),
 * evaluated again now: the clock has moved since the plan. No file means no windows. */
static int check_change_window(struct run *r)
{
    const char *file = r->cfg->change_windows;
    if (!file)
        return 0;
    struct mi_window_set *set = NULL;
    struct mi_window_report rep;
    memset(&rep, 0, sizeof(rep));
    int64_t now = 0;
    char *path = mi_fs_join(r->repo_dir, file);
    int rc = mi_window_now(&now, r->o->now);
    if (rc < 0) {
        rc = stop(r, OUT_ERROR, rc);
        goto done;
    }
    rc = mi_window_load(&set, path);
    if (rc == MI_ENOTFOUND) {
        rc = 0;
        goto done;
    }
    if (rc == 0)
        rc = mi_window_evaluate(&rep, set, r->env->name, now);
    if (rc < 0) {
        /* A file that does not load is not guessed around (docs/policies.md): exit 1. */
        rc = stop(r, OUT_ERROR, rc == MI_EUSAGE ? MI_ERR : rc);
        goto done;
    }
    if (!rep.evaluated || rep.open) {
        mi_log_info("change windows (%s): '%s' may be deployed now", file, r->env->name);
        goto done;
    }
    mi_buf why = MI_BUF_INIT;
    for (size_t i = 0; i < rep.nhits; i++)
        mi_buf_addf(&why, "%s%s (%s:%d): %s", i ? "; " : "", rep.hits[i].name, file,
                    rep.hits[i].line, rep.hits[i].message ? rep.hits[i].message : "");
    char when[64] = "";
    if (rep.opens_at >= 0) {
        char local[64];
        mi_window_format_utc(when, sizeof(when), rep.opens_at);
        mi_window_format_local(local, sizeof(local), rep.opens_at, mi_window_set_zone(set));
        mi_buf_addf(&why, ". It opens again at %s (%s): re-run this job then", local, when);
    } else {
        mi_buf_adds(&why, ". It does not open within the next 14 days");
    }
    rc = stop_with(r, OUT_BLOCKED, MI_EPOLICY,
                   "the change window of environment '%s' is closed: %s. Nothing was applied",
                   r->env->name, why.ptr);
    mi_buf_release(&why);
done:
    mi_window_report_release(&rep);
    mi_window_set_free(set);
    free(path);
    return rc;
}

static int phase_rules(struct run *r)
{
    int rc = check_approval(r);
    if (rc == 0)
        rc = check_change_window(r);
    return rc;
}

/* ==========================================================================================
 * 4. fingerprint of the configuration at the merge commit
 * ======================================================================================== */

static int phase_fingerprint(struct run *r)
{
    int rc = mi_fingerprint_at(&r->fingerprint, r->repo_dir, r->commit, r->env->directory);
    if (rc < 0)
        return stop(r, OUT_ERROR, rc);
    for (size_t i = 0; i < r->fingerprint->nwarnings; i++)
        mi_log_warn("%s", r->fingerprint->warnings[i]);
    mi_log_debug("configuration fingerprint of '%s' at %.12s: %s (%zu directories)", r->env->name,
                 r->commit, r->fingerprint->value, r->fingerprint->n);
    return 0;
}

/* ==========================================================================================
 * 5. lock
 * ======================================================================================== */

static int phase_lock(struct run *r)
{
    int rc = mi_seal_keyring_from_env(&r->keys);
    if (rc < 0)
        return stop(r, OUT_ERROR, rc);
    r->have_keys = 1;
    if ((rc = open_store(r)) < 0)
        return rc;
    long long wait_s = DEFAULT_LOCK_WAIT_S;
    if (r->o->lock_wait && parse_positive(&wait_s, r->o->lock_wait) < 0 &&
        strcmp(r->o->lock_wait, "0") != 0)
        return stop_with(r, OUT_ERROR, MI_EUSAGE, "--lock-wait wants seconds, not '%s'",
                         r->o->lock_wait);
    if (r->o->lock_wait && strcmp(r->o->lock_wait, "0") == 0)
        wait_s = 0;
    struct mi_store_lock_options lo = {0};
    lo.holder = r->holder;
    lo.poll_ms = LOCK_POLL_MS;
    rc = mi_store_lock(r->store, r->env->name, &lo, &r->lock);
    if (rc == MI_ECONFLICT && wait_s > 0) {
        /* Another apply of this environment is running: say so, then wait our turn. */
        mi_log_notice("waiting up to %lld s for the lock: %s", wait_s, mi_error_last());
        lo.wait_ms = (long)(wait_s * 1000);
        rc = mi_store_lock(r->store, r->env->name, &lo, &r->lock);
    }
    if (rc == MI_ECANCELLED)
        return stop(r, OUT_CANCELLED, rc);
    if (rc < 0)
        return stop(r, OUT_ERROR, rc);
    mi_log_info("took the lock of environment '%s'", r->env->name);
    return 0;
}

/* ==========================================================================================
 * 6. fetch and verify the plan
 * ======================================================================================== */

/* The plans the store holds for this pull request, for a "missing plan" message. */
static void other_plans(mi_buf *out, struct run *r)
{
    struct mi_store_list list = {NULL, 0};
    if (mi_store_list(r->store, r->env->name, &list) < 0)
        return;
    size_t n = 0;
    for (size_t i = 0; i < list.len; i++) {
        const struct mi_seal_binding *b = &list.items[i].binding;
        if (b->pr != r->pr || !b->head_sha)
            continue;
        mi_buf_addf(out, "%s%.12s (%s)", n++ ? ", " : "", b->head_sha,
                    mi_store_status_name(list.items[i].status));
    }
    mi_store_list_release(&list);
}

static int phase_fetch(struct run *r)
{
    struct mi_store_entry st;
    int rc = mi_store_stat(r->store, r->env->name, r->pr, r->head_sha, &st);
    if (rc == MI_ENOTFOUND) {
        mi_buf others = MI_BUF_INIT;
        other_plans(&others, r);
        rc = stop_with(r, OUT_REFUSED, MI_EREFUSED,
                       "no plan of environment '%s' for pull request #%lld at its head commit "
                       "%.12s in %s%s%s%s: nothing was applied; re-run the pull request's plan "
                       "job before merging",
                       r->env->name, r->pr, r->head_sha, mi_store_describe(r->store),
                       others.len ? " (it has plans for older commits: " : "", others.ptr,
                       others.len ? ")" : "");
        mi_buf_release(&others);
        return rc;
    }
    if (rc < 0)
        return stop(r, OUT_ERROR, rc);
    enum mi_store_status status = st.status;
    if (status == MI_STORE_APPLIED) {
        r->outcome = OUT_ALREADY;
        r->why = mi_xasprintf("the plan of pull request #%lld (head %.12s) was already applied%s%s"
                              "%s%s; nothing was changed",
                              r->pr, r->head_sha, st.status_at ? " at " : "",
                              st.status_at ? st.status_at : "", st.status_by ? " by " : "",
                              st.status_by ? st.status_by : "");
        if (st.binding.plan_sha256)
            r->plan_id = mi_xasprintf("sha256:%s", st.binding.plan_sha256);
        mi_store_entry_release(&st);
        return MI_ERR;
    }
    if (status == MI_STORE_FAILED && !r->o->retry_failed) {
        rc = stop_with(
            r, OUT_REFUSED, MI_EREFUSED,
            "the plan of pull request #%lld (head %.12s) failed to apply before%s%s%s%s: "
            "a failed plan is not retried silently; re-plan (push to the pull request "
            "or re-run its plan job), or re-run with --retry-failed after checking the "
            "state",
            r->pr, r->head_sha, st.status_at ? " at " : "", st.status_at ? st.status_at : "",
            st.status_detail ? ": " : "", st.status_detail ? st.status_detail : "");
        mi_store_entry_release(&st);
        return rc;
    }
    mi_store_entry_release(&st);

    const char *temp_base = mi_cmd_env("RUNNER_TEMP") ? getenv("RUNNER_TEMP")
                            : mi_cmd_env("TMPDIR")    ? getenv("TMPDIR")
                                                       : "/tmp";
    r->tmpdir = mi_xasprintf("%s/mlinfra-apply-XXXXXX", temp_base);
    if (!mkdtemp(r->tmpdir)) {
        rc = mi_error_errno(MI_ERR, "cannot create a directory in '%s'", temp_base);
        free(r->tmpdir);
        r->tmpdir = NULL;
        return stop(r, OUT_ERROR, rc);
    }
    r->plan_file = mi_xasprintf("%s/plan.tfplan", r->tmpdir);
    struct mi_seal_expect expect = {0};
    expect.repository = r->repository;
    expect.environment = r->env->name;
    expect.pr = r->pr;
    expect.head_sha = r->head_sha;
    rc = mi_store_get(r->store, &r->keys, &expect, r->plan_file, 0, &r->entry);
    if (rc == MI_EREFUSED || rc == MI_ENOTFOUND)
        return stop(r, OUT_REFUSED, MI_EREFUSED);
    if (rc == MI_ECANCELLED)
        return stop(r, OUT_CANCELLED, rc);
    if (rc < 0)
        return stop(r, OUT_ERROR, rc);
    r->plan_id = mi_xasprintf("sha256:%s", r->entry.binding.plan_sha256);
    mi_log_info("verified the sealed plan %s (made %s with terraform %s)", r->plan_id,
                r->entry.binding.created_at, r->entry.binding.terraform_version);

    /* The binding is authenticated: its fingerprint is the configuration that was planned. */
    if (strcmp(r->entry.binding.config_fingerprint, r->fingerprint->value) != 0) {
        mi_buf diff = MI_BUF_INIT;
        struct mi_fingerprint *planned = NULL;
        /* The planned commit names the directories that differ when it is in the clone (a
         * merge commit's parent; a squashed or rebased head only while its branch exists). */
        if (mi_fingerprint_at(&planned, r->repo_dir, r->head_sha, r->env->directory) == 0 &&
            strcmp(planned->value, r->entry.binding.config_fingerprint) == 0)
            mi_fingerprint_describe_diff(&diff, planned, r->fingerprint);
        if (!diff.len) {
            mi_buf_adds(&diff, "the planned commit is not in this clone, so the directories "
                               "cannot be told apart; the configuration covers ");
            for (size_t i = 0; i < r->fingerprint->n; i++)
                mi_buf_addf(&diff, "%s%s", i ? ", " : "",
                            *r->fingerprint->entries[i].path ? r->fingerprint->entries[i].path
                                                             : ".");
        }
        rc = stop_with(r, OUT_REFUSED, MI_EREFUSED,
                       "the configuration of '%s' at the merge commit %.12s is not the one "
                       "planned at %.12s; it changed after the plan in: %s. Nothing was applied: "
                       "update the pull request's branch and plan again",
                       r->env->name, r->commit, r->head_sha, diff.ptr);
        mi_buf_release(&diff);
        mi_fingerprint_free(planned);
        return rc;
    }
    /* Issue 9: a plan older than apply.plan_max_age is refused, with advice to re-plan. The
     * clock is the change windows' (--now, MLINFRA_NOW), so tests can fix it. */
    int64_t now = 0;
    if ((rc = mi_window_now(&now, r->o->now)) < 0)
        return stop(r, OUT_ERROR, rc);
    if ((rc = mi_expiry_enforce(r->entry.binding.created_at, r->cfg->apply.plan_max_age_s,
                                (long long)now, r->env->name, r->pr, r->head_sha)) < 0)
        return stop(r, OUT_REFUSED, rc);
    return 0;
}

/* ==========================================================================================
 * 7. terraform init and apply
 * ======================================================================================== */

/* Issue 9: the GitHub deployment of this apply (remote/deploy.h). Recording it is a report:
 * a failure is a warning and never stops or fails the apply. */
static void deploy_start(struct run *r)
{
    if (!r->gh || !r->cfg->apply.deployments)
        return;
    struct mi_deploy_options d = {0};
    d.environment = r->env->name;
    d.ref = r->commit;
    d.log_url = r->run_url;
    d.plan_id = r->plan_id;
    d.pr = r->pr;
    d.production = strcmp(r->env->name, "production") == 0; /* GitHub's own default */
    if (mi_deploy_start(&r->deploy, r->gh, &d) < 0)
        mi_log_warn("%s (the apply goes on; apply.deployments: false turns deployments off)",
                    mi_error_last());
    else
        mi_log_info("recorded GitHub deployment %lld of '%s'", r->deploy->id, r->env->name);
}

static void deploy_finish(struct run *r)
{
    if (!r->deploy)
        return;
    enum mi_deploy_outcome how = r->outcome == OUT_APPLIED ? MI_DEPLOY_SUCCESS
                                 : r->apply_started        ? MI_DEPLOY_FAILURE
                                                           : MI_DEPLOY_ERROR;
    mi_buf desc = MI_BUF_INIT;
    mi_log_redact(&desc, r->why ? r->why : outcome_name(r->outcome),
                  strlen(r->why ? r->why : outcome_name(r->outcome)));
    if (mi_deploy_finish(r->deploy, r->gh, how, r->address, desc.ptr) < 0)
        mi_log_warn("%s", mi_error_last());
    mi_buf_release(&desc);
}

/* Creates the terraform runner and runs init. Returns 0 or the error code with the message
 * set; the caller decides what a failure means (the apply fails, a re-run's report goes
 * without outputs). init's output is kept in r->tf_run for the report. */
static int terraform_ready(struct run *r)
{
    if (r->tf)
        return 0;
    long long timeout_s = 3600;
    if (r->o->timeout && parse_positive(&timeout_s, r->o->timeout) < 0)
        return mi_error_set(MI_EUSAGE, "--timeout wants seconds, not '%s'", r->o->timeout);
    struct mi_tf_options to = {0};
    to.binary = r->cfg->terraform_binary;
    to.workdir = r->workdir;
    to.timeout_ms = (long)(timeout_s * 1000);
    to.hooks.step_begin = on_step_begin;
    to.hooks.line = on_line;
    to.hooks.step_end = on_step_end;
    int rc = mi_tf_new(&r->tf, &to);
    if (rc < 0)
        return rc;
    mi_tf_run_release(&r->tf_run);
    rc = mi_tf_init(r->tf, r->o->nbackend ? r->o->backend_config : NULL, &r->tf_run);
    if (rc < 0) {
        mi_tf_free(r->tf);
        r->tf = NULL;
    }
    return rc;
}

/* The last "Apply complete! ..." line of terraform's output. */
static char *apply_summary(const mi_buf *output)
{
    const char *hit = NULL;
    for (const char *p = output->ptr; (p = strstr(p, "Apply complete!")); p++)
        hit = p;
    if (!hit)
        return NULL;
    const char *eol = strchr(hit, '\n');
    return mi_xstrndup(hit, eol ? (size_t)(eol - hit) : strlen(hit));
}

static void mark_failed(struct run *r, const char *reason)
{
    if (mi_store_mark_failed(r->store, r->env->name, r->pr, r->head_sha, r->holder, reason) < 0)
        mi_log_warn("cannot mark the plan failed: %s", mi_error_last());
}

static int phase_terraform(struct run *r)
{
    /* init changes no infrastructure: after a failed init the plan stays as it was. */
    int rc = terraform_ready(r);
    if (rc < 0)
        return stop(r, rc == MI_ECANCELLED ? OUT_CANCELLED : OUT_ERROR, rc);
    mi_tf_run_release(&r->tf_run);
    /* The last moment to stop without changing anything. */
    if (mi_cancel_requested())
        return stop_with(r, OUT_CANCELLED, MI_ECANCELLED,
                         "cancelled before terraform apply: nothing was applied");
    if ((rc = mi_store_lock_check(r->lock)) < 0)
        return stop(r, OUT_ERROR, rc);
    deploy_start(r);
    r->apply_started = 1;
    rc = mi_tf_apply(r->tf, r->plan_file, r->o->lock_timeout ? r->o->lock_timeout : "5m",
                     &r->tf_run);
    if (rc == MI_EREFUSED) {
        mark_failed(r, "stale: the state changed after the plan was made");
        return stop_with(r, OUT_REFUSED, MI_EREFUSED,
                         "terraform refused the plan of pull request #%lld: the saved plan is "
                         "stale (the state changed after the plan was made, e.g. another pull "
                         "request was applied first). Nothing was applied: update the pull "
                         "request's branch and plan again",
                         r->pr);
    }
    if (rc == MI_ECANCELLED) {
        note_cancel(r);
        mark_failed(r, "cancelled during terraform apply");
        return stop_with(r, OUT_CANCELLED, rc,
                         "cancelled during terraform apply, which was interrupted: the state "
                         "may be partly changed; re-plan before applying again");
    }
    if (rc < 0) {
        char *reason = mi_xstrdup(mi_error_last());
        mark_failed(r, reason);
        free(reason);
        return stop(r, OUT_FAILED, rc);
    }
    rc = mi_store_mark_applied(r->store, r->env->name, r->pr, r->head_sha, r->holder);
    if (rc < 0) {
        /* terraform did apply, and the report says so; the job fails so that someone looks
         * at the store. The state's new serial makes the plan stale, so it cannot run twice
         * even without the mark. */
        mi_log_error("mlinfra apply: the plan was applied but could not be marked so: %s",
                     mi_error_last());
        r->unmarked = 1;
    }
    r->outcome = OUT_APPLIED;
    r->why = apply_summary(&r->tf_run.output);
    if (!r->why)
        r->why = mi_xstrdup("Apply complete!");
    return 0;
}

/* ==========================================================================================
 * 8. outputs
 * ======================================================================================== */

static void on_probe_attempt(void *ctx, const struct mi_probe_attempt *a)
{
    (void)ctx;
    if (a->healthy)
        mi_log_info("health check: try %d: HTTP %ld in %ld ms", a->number, a->status,
                    a->latency_ms);
    else
        mi_log_info("health check: try %d: %s%s", a->number, a->error ? a->error : "failed",
                    a->next_delay_ms >= 0 ? "; trying again" : "");
}

/* Issue 9: probes the service address (remote/probe.h) after apply and on a re-run of one:
 * the address of apply.health_check.output, else the reported address. */
static void health_check(struct run *r)
{
    const struct mi_config_health_check *hc = &r->cfg->apply.health_check;
    if (!hc->enabled)
        return;
    const char *address = r->address;
    const char *name = NULL;
    if (hc->output) {
        const struct mi_tf_output *out = mi_tf_outputs_find(&r->outputs, hc->output);
        address = out && !out->sensitive ? out->value : NULL;
        name = hc->output;
        if (!address)
            mi_log_warn("health check: output '%s' is %s", hc->output,
                        out ? "sensitive, so it is not probed" : "not among terraform's outputs");
    } else {
        for (size_t i = 0; address && i < r->env->noutputs; i++) {
            const struct mi_tf_output *out = mi_tf_outputs_find(&r->outputs, r->env->outputs[i]);
            if (out && out->value && strcmp(out->value, address) == 0) {
                name = out->name;
                break;
            }
        }
    }
    if (!address) {
        mi_log_info("health check: no service address to probe");
        return;
    }
    struct mi_probe_options po = {0};
    po.base = address;
    po.path = hc->path;
    po.max_tries = hc->tries;
    po.total_timeout_ms = (long)(hc->timeout_s * 1000);
    po.on_attempt = on_probe_attempt;
    mi_log_group_begin("health check of %s", address);
    int rc = mi_probe_run(&r->health, &po);
    mi_log_group_end();
    if (rc < 0) {
        mi_log_warn("health check: %s", mi_error_last());
        mi_probe_result_release(&r->health);
        return;
    }
    r->health_name = name ? mi_xstrdup(name) : NULL;
    mi_buf line = MI_BUF_INIT;
    mi_report_health_line(&line, &r->health);
    if (r->health.reachable) {
        mi_log_notice("health check: %s", line.ptr);
    } else if (hc->fail_on_unreachable) {
        mi_log_error("health check: %s (apply.health_check.fail_on_unreachable: the job fails)",
                     line.ptr);
        r->health_failed = 1;
    } else {
        mi_log_warn("health check: %s", line.ptr);
    }
    mi_buf_release(&line);
}

static int is_url(const char *s)
{
    return s && (strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0);
}

/* Reads terraform's outputs. Failing to read them is reported, but does not undo or fail an
 * apply that happened. */
static void phase_outputs(struct run *r)
{
    if (!r->env->noutputs)
        return;
    if (terraform_ready(r) < 0) {
        mi_log_warn("cannot read the outputs: %s", mi_error_last());
        return;
    }
    mi_buf json = MI_BUF_INIT;
    struct mi_tf_run run = MI_TF_RUN_INIT;
    int rc = mi_tf_output_json(r->tf, &json, &run);
    if (rc == 0)
        rc = mi_tf_outputs_parse(&r->outputs, json.ptr, json.len, "terraform output -json",
                                 mi_cmd_mask_secret, NULL);
    if (rc < 0)
        mi_log_warn("cannot read the outputs: %s", mi_error_last());
    sodium_memzero(json.ptr, json.len);
    mi_buf_release(&json);
    mi_tf_run_release(&run);
    if (rc < 0)
        return;
    for (size_t i = 0; i < r->env->noutputs; i++) {
        const struct mi_tf_output *out = mi_tf_outputs_find(&r->outputs, r->env->outputs[i]);
        if (!out)
            mi_log_warn("output '%s' (configured for '%s') is not among terraform's outputs",
                        r->env->outputs[i], r->env->name);
        else if (!r->address && !out->sensitive && is_url(out->value))
            r->address = mi_xstrdup(out->value);
    }
    health_check(r);
}

/* ==========================================================================================
 * 10. report
 * ======================================================================================== */

static int exit_code_of(const struct run *r)
{
    switch (r->outcome) {
    case OUT_APPLIED:
        return r->unmarked ? MI_EXIT_ERROR : MI_EXIT_OK;
    case OUT_ALREADY:
    case OUT_SKIPPED:
        return MI_EXIT_OK;
    case OUT_REFUSED:
        return MI_EXIT_REFUSED;
    case OUT_BLOCKED:
        return MI_EXIT_POLICY;
    case OUT_ERROR:
        return r->error_code == MI_EUSAGE ? MI_EXIT_USAGE : MI_EXIT_ERROR;
    default:
        return MI_EXIT_ERROR;
    }
}

/* The configured outputs as report rows; value pointers borrow from r->outputs. */
static size_t report_outputs(struct mi_report_output **rows, const struct run *r)
{
    *rows = mi_xcalloc(r->env->noutputs + 1, sizeof(**rows));
    size_t n = 0;
    for (size_t i = 0; i < r->env->noutputs; i++) {
        const struct mi_tf_output *out = mi_tf_outputs_find(&r->outputs, r->env->outputs[i]);
        if (!out)
            continue;
        (*rows)[n].name = out->name;
        (*rows)[n].value = out->sensitive ? NULL : out->value;
        (*rows)[n].sensitive = out->sensitive;
        n++;
    }
    return n;
}

static void render_section(mi_buf *out, const struct run *r, const char *when)
{
    struct mi_report_output *rows = NULL;
    size_t nrows = report_outputs(&rows, r);
    struct mi_report_applied in = {0};
    in.result = r->outcome == OUT_APPLIED ? MI_REPORT_APPLY_OK
                : r->outcome == OUT_FAILED || r->outcome == OUT_CANCELLED ||
                        (r->outcome == OUT_ERROR && r->apply_started)
                    ? MI_REPORT_APPLY_FAILED
                    : MI_REPORT_APPLY_REFUSED;
    in.environment = r->env->name;
    in.when = when;
    in.plan_id = r->plan_id;
    in.commit = r->commit;
    in.run_url = r->run_url;
    in.address = r->address;
    in.summary = r->why;
    in.outputs = rows;
    in.outputs_len = nrows;
    mi_buf health = MI_BUF_INIT;
    if (r->health.attempts) {
        struct mi_report_health row = {r->health_name, &r->health,
                                       r->cfg->apply.health_check.fail_on_unreachable};
        mi_report_health_section(&health, &row, 1);
        in.extra = health.ptr;
    }
    if ((r->outcome == OUT_FAILED || r->outcome == OUT_REFUSED || r->outcome == OUT_CANCELLED) &&
        r->tf_run.output.len) {
        in.error_text = r->tf_run.output.ptr;
        in.error_text_len = r->tf_run.output.len;
    }
    mi_report_applied_section(out, &in);
    mi_buf_release(&health);
    free(rows);
}

static int update_comment(char **url_out, struct run *r, const char *section)
{
    mi_buf marker = MI_BUF_INIT, body = MI_BUF_INIT;
    struct mi_github_comment *found = NULL, *written = NULL;
    mi_report_marker(&marker, r->env->name);
    int rc = mi_github_comment_find(&found, r->gh, r->pr, marker.ptr);
    if (rc == 0) {
        mi_report_comment_with_applied(&body, found->body ? found->body : marker.ptr, section, 0);
        rc = mi_github_comment_update(&written, r->gh, found->id, body.ptr);
    } else if (rc == MI_ENOTFOUND) {
        /* The plan's comment is gone (deleted by hand): the report stands on its own, with
         * the marker so that it is found next time. */
        mi_buf head = MI_BUF_INIT;
        mi_buf_addf(&head, "%s\n", marker.ptr);
        mi_report_comment_with_applied(&body, head.ptr, section, 0);
        mi_buf_release(&head);
        rc = mi_github_comment_create(&written, r->gh, r->pr, body.ptr);
    }
    if (rc == 0 && written && written->html_url)
        *url_out = mi_xstrdup(written->html_url);
    mi_github_comment_free(found);
    mi_github_comment_free(written);
    mi_buf_release(&marker);
    mi_buf_release(&body);
    return rc;
}

static void write_step_outputs(const struct run *r, const char *path)
{
    if (!path)
        return;
    mi_buf out = MI_BUF_INIT;
    char num[32];
    static const char *const reserved[] = {"applied", "result",  "pr",      "head_sha",
                                           "plan_id", "address", "healthy", NULL};
    mi_step_output_add(&out, "applied", r->outcome == OUT_APPLIED ? "true" : "false");
    mi_step_output_add(&out, "result", outcome_name(r->outcome));
    snprintf(num, sizeof(num), "%lld", r->pr);
    mi_step_output_add(&out, "pr", r->pr ? num : "");
    mi_step_output_add(&out, "head_sha", r->head_sha ? r->head_sha : "");
    mi_step_output_add(&out, "plan_id", r->plan_id ? r->plan_id : "");
    mi_step_output_add(&out, "address", r->address ? r->address : "");
    mi_step_output_add(&out, "healthy",
                       !r->health.attempts   ? ""
                       : r->health.reachable ? "true"
                                             : "false");
    for (size_t i = 0; r->env && i < r->env->noutputs; i++) {
        const struct mi_tf_output *o = mi_tf_outputs_find(&r->outputs, r->env->outputs[i]);
        if (!o || o->sensitive)
            continue;
        int clash = 0;
        for (size_t k = 0; reserved[k]; k++)
            clash |= strcmp(reserved[k], o->name) == 0;
        if (clash) {
            mi_log_warn("output '%s' has the name of one of apply's own step outputs: not "
                        "written as a step output",
                        o->name);
            continue;
        }
        mi_buf value = MI_BUF_INIT;
        mi_log_redact(&value, o->value, strlen(o->value));
        if (mi_step_output_add(&out, o->name, value.ptr) < 0)
            mi_log_warn("output '%s': %s", o->name, mi_error_last());
        mi_buf_release(&value);
    }
    if (mi_step_output_write(path, &out) < 0)
        mi_log_warn("cannot write step outputs: %s", mi_error_last());
    mi_buf_release(&out);
}

static void phase_report(struct run *r)
{
    char when[32];
    now_utc(when, sizeof(when));
    mi_buf section = MI_BUF_INIT, summary = MI_BUF_INIT;
    /* An "Applied" section belongs to a pull request whose plan was acted on: not to a run
     * that did nothing (skipped, already applied) or that failed before it knew the plan. */
    int has_section = r->env && r->pr && r->outcome != OUT_ALREADY && r->outcome != OUT_SKIPPED &&
                      !(r->outcome == OUT_ERROR && !r->apply_started) &&
                      !(r->outcome == OUT_CANCELLED && !r->apply_started);
    if (has_section)
        render_section(&section, r, when);

    const char *summary_path =
        r->o->step_summary ? r->o->step_summary : mi_cmd_env("GITHUB_STEP_SUMMARY");
    if (summary_path && r->env) {
        mi_buf_addf(&summary, "## mlinfra apply: %s\n\n", r->env->name);
        if (has_section) {
            mi_buf_add(&summary, section.ptr, section.len);
        } else {
            mi_buf line = MI_BUF_INIT;
            mi_buf_addf(&line, "**%s**: %s\n\n", outcome_name(r->outcome), r->why ? r->why : "");
            if (r->outcome == OUT_ALREADY && r->address)
                mi_buf_addf(&line, "**Service address:** %s\n\n", r->address);
            mi_log_redact(&summary, line.ptr, line.len);
            mi_buf_release(&line);
        }
        if (mi_fs_append_file(summary_path, summary.ptr, summary.len) < 0)
            mi_log_warn("cannot write the job summary: %s", mi_error_last());
    }

    if (has_section) {
        if (r->o->no_comment) {
            mi_log_info("comment not updated (--no-comment)");
        } else if (!r->gh) {
            mi_log_notice("GITHUB_TOKEN is not set: printing the apply report instead of adding "
                          "it to pull request #%lld's comment",
                          r->pr);
            fwrite(section.ptr, 1, section.len, stdout);
            fflush(stdout);
        } else if (r->cancelled || mi_cancel_requested()) {
            /* The runner kills us shortly: the log and the summary have the report. */
            mi_log_warn("cancelled: the pull request's comment was not updated");
        } else {
            char *url = NULL;
            if (update_comment(&url, r, section.ptr) == 0)
                mi_log_notice("added the apply report to pull request #%lld: %s", r->pr,
                              url ? url : "");
            else
                mi_log_warn("cannot update the comment of pull request #%lld: %s", r->pr,
                            mi_error_last());
            free(url);
        }
    }

    write_step_outputs(r, r->o->github_output ? r->o->github_output : mi_cmd_env("GITHUB_OUTPUT"));
    mi_buf_release(&section);
    mi_buf_release(&summary);
}

/* ---- the command ----------------------------------------------------------------------- */

static void run_release(struct run *r)
{
    if (r->plan_file) {
        /* The plain plan holds secrets: it does not outlive the run. */
        unlink(r->plan_file);
        free(r->plan_file);
    }
    if (r->tmpdir) {
        rmdir(r->tmpdir);
        free(r->tmpdir);
    }
    if (r->have_keys)
        mi_seal_keyring_wipe(&r->keys);
    mi_store_entry_release(&r->entry);
    mi_store_free(r->store);
    mi_fingerprint_free(r->fingerprint);
    mi_tf_outputs_release(&r->outputs);
    mi_deploy_free(r->deploy);
    mi_probe_result_release(&r->health);
    free(r->health_name);
    mi_tf_run_release(&r->tf_run);
    mi_tf_free(r->tf);
    mi_github_free(r->gh);
    mi_config_free(r->cfg);
    mi_context_free(r->ctx);
    free(r->repo_dir);
    free(r->workdir);
    free(r->repository);
    free(r->commit);
    free(r->run_url);
    free(r->holder);
    free(r->head_sha);
    free(r->pr_url);
    free(r->plan_id);
    free(r->address);
    free(r->why);
}

static void unlock(struct run *r)
{
    if (!r->lock)
        return;
    if (mi_store_unlock(r->lock) < 0)
        mi_log_warn("releasing the lock of '%s': %s", r->env->name, mi_error_last());
    else
        mi_log_info("released the lock of environment '%s'", r->env->name);
    r->lock = NULL;
}

static void log_outcome(const struct run *r)
{
    const char *why = r->why ? r->why : "";
    switch (r->outcome) {
    case OUT_APPLIED:
        mi_log_notice("environment '%s': applied pull request #%lld: %s", r->env->name, r->pr, why);
        if (r->address)
            mi_log_notice("service address: %s", r->address);
        break;
    case OUT_ALREADY:
        mi_log_notice("%s", why);
        if (r->address)
            mi_log_notice("service address: %s", r->address);
        break;
    case OUT_SKIPPED:
        mi_log_warn("%s", why);
        break;
    default:
        mi_log_error("mlinfra apply: %s", why);
        break;
    }
}

int mi_cmd_apply(int argc, char **argv)
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
    const char *unplanned_mode = o.unplanned ? o.unplanned : mi_cmd_env("MLINFRA_APPLY_UNPLANNED");
    if (unplanned_mode && strcmp(unplanned_mode, "skip") != 0 &&
        strcmp(unplanned_mode, "fail") != 0)
        return mi_cmd_usage_error("apply", "--unplanned wants skip or fail, not '%s'",
                                  unplanned_mode);
    /* SIGTERM from a cancelled workflow only sets a flag: every phase below returns through
     * the same path, so the lock is released and the plan marked on the way out. */
    mi_cancel_install();

    mi_cmd_mask_secret_env();

    struct run r;
    memset(&r, 0, sizeof(r));
    r.o = &o;
    r.entry.size = -1;
    struct mi_tf_run empty_run = MI_TF_RUN_INIT;
    r.tf_run = empty_run;

    if (phase_context(&r) < 0 || phase_resolve(&r) < 0 || phase_rules(&r) < 0 ||
        phase_fingerprint(&r) < 0)
        goto finish;
    mi_log_notice("pull request #%lld, environment '%s' (%s)", r.pr, r.env->name, r.env->directory);
    if (phase_lock(&r) < 0)
        goto finish;
    if (phase_fetch(&r) == 0)
        phase_terraform(&r);
    /* The outputs are read for a successful apply and for a re-run of one. */
    if (r.outcome == OUT_APPLIED || r.outcome == OUT_ALREADY)
        phase_outputs(&r);

finish:
    note_cancel(&r);
    unlock(&r);
    if (r.outcome == OUT_NONE) {
        r.outcome = OUT_ERROR;
        r.why = mi_xstrdup(mi_error_last());
    }
    if (r.cancelled && r.outcome == OUT_ERROR)
        r.outcome = OUT_CANCELLED;
    deploy_finish(&r);
    if (r.env) {
        log_outcome(&r);
        phase_report(&r);
    } else {
        mi_log_error("mlinfra apply: %s", r.why ? r.why : "");
        write_step_outputs(&r, o.github_output ? o.github_output : mi_cmd_env("GITHUB_OUTPUT"));
    }
    int exit_code = exit_code_of(&r);
    if (r.health_failed && exit_code == MI_EXIT_OK)
        exit_code = MI_EXIT_ERROR;
    run_release(&r);
    return exit_code;
}
