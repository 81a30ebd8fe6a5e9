/* End-to-end tests of `mlinfra apply` (issue 8): the built binary runs the whole cycle -
 * `mlinfra plan` on a pull request event, a merge in a temporary git repository, `mlinfra
 * apply` on the push event - against the terraform double (tests/doubles/terraform, which
 * keeps state serial and lineage so a stale saved plan fails as terraform's does), the GitHub
 * REST double (requests checked against GitHub's OpenAPI description) and Azurite or a local
 * plan store. */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <jansson.h>
#include <libgen.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "azuretest.h"
#include "context/fingerprint.h"
#include "events.h"
#include "github_double.h"
#include "gitrepo.h"
#include "store/seal.h"
#include "store/store.h"
#include "testsupport.h"
#include "util/error.h"
#include "util/fs.h"

extern char **environ;

/* A saved plan of the terraform double (tests/fixtures/plans/local-example.json against no
 * state), made once for the whole executable: tests whose subject is not the plan command
 * seal this file into the store themselves (seed_plan), as `mlinfra plan` does, which saves
 * four terraform runs per plan. Its path reaches the tests as MI_TEST_APPLY_PLAN. */
static char *template_dir;

static int run_double(const char *dir, char *const argv[])
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);
        if (devnull < 0 || chdir(dir) != 0)
            _exit(126);
        dup2(devnull, 0);
        dup2(devnull, 1);
        execv(argv[0], argv);
        _exit(127);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void make_template_plan(void)
{
    char *bin = mi_xstrdup(mi_test_binary());
    char *tf = mi_xasprintf("%s/doubles/terraform", dirname(bin));
    char *fixture = mi_test_path("tests/fixtures/plans/local-example.json");
    template_dir = mi_test_tmpdir();
    char *state = mi_xasprintf("%s/none.tfstate", template_dir);
    setenv("TFDOUBLE_PLAN_JSON", fixture, 1);
    setenv("TFDOUBLE_STATE", state, 1);
    char *init[] = {tf, "init", "-input=false", NULL};
    char *plan[] = {tf, "plan", "-input=false", "-out=template.tfplan", NULL};
    if (run_double(template_dir, init) == 0 && run_double(template_dir, plan) == 0) {
        char *path = mi_xasprintf("%s/template.tfplan", template_dir);
        setenv("MI_TEST_APPLY_PLAN", path, 1);
        free(path);
    }
    unsetenv("TFDOUBLE_PLAN_JSON");
    unsetenv("TFDOUBLE_STATE");
    free(state);
    free(fixture);
    free(tf);
    free(bin);
}

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    (void)set;
    mi_test_github_share_begin();
    mi_azuretest_shared_start();
    make_template_plan();
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    (void)stats;
    mi_azuretest_shared_stop();
    mi_test_github_share_end();
    if (template_dir)
        mi_test_rmtree(template_dir);
    free(template_dir);
}

#define REPO MI_TEST_GITHUB_REPO
#define PLAN_KEY "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
/* The sensitive output's value in tests/fixtures/plans/local-example.json. */
#define SECRET "local-demo-password"
#define SERVICE_URL "http://127.0.0.1:5000"

/* ---- the world: a repository, a plan store, terraform, maybe GitHub ------------------- */

struct world {
    struct mi_test_repo *r;
    char *dir;       /* temporary: events, outputs, the terraform state, the local store */
    char *store_url; /* file://...; NULL with Azure */
    char *container; /* Azure container; NULL with the local store */
    char *tfstate;
    char *tflog;
    char *terraform;
    struct mi_test_github *gh;    /* NULL: a run without GitHub */
    char *base;                   /* the first commit on branch dev */
    const char *const *extra_env; /* added to every run (NULL-terminated) */
};

static char *terraform_double(void)
{
    char *bin = mi_xstrdup(mi_test_binary());
    char *path = mi_xasprintf("%s/doubles/terraform", dirname(bin));
    free(bin);
    cr_assert(access(path, X_OK) == 0, "the terraform double is not built: %s", path);
    return path;
}

static const char mlinfra_yml[] = "version: 1\n"
                                  "environments:\n"
                                  "  dev:\n"
                                  "    directory: environments/dev\n"
                                  "    outputs: [service_ip, service_url, tracking_password]\n"
                                  "  production:\n"
                                  "    directory: environments/production\n"
                                  "    require_approval: true\n"
                                  "    outputs: [service_url]\n";

static void write_base_files(struct world *w)
{
    mi_test_repo_write(w->r, "mlinfra.yml", mlinfra_yml);
    for (int i = 0; i < 2; i++) {
        const char *env = i ? "production" : "dev";
        char *p = mi_xasprintf("environments/%s/main.tf", env);
        mi_test_repo_write(w->r, p,
                           "module \"net\" {\n  source = \"../../modules/net\"\n}\n"
                           "resource \"terraform_data\" \"mlflow_ip\" {\n"
                           "  input = \"127.0.0.1\"\n}\n");
        free(p);
    }
    mi_test_repo_write(w->r, "modules/net/main.tf", "# the network\n");
    mi_test_repo_write(w->r, "README.md", "# platform\n");
}

/* azure: keep plans in Azurite (a container of their own) instead of a local directory. */
static void world_init(struct world *w, int github, int azure)
{
    memset(w, 0, sizeof(*w));
    cr_assert(sodium_init() >= 0);
    w->dir = mi_test_tmpdir();
    w->r = mi_test_repo_init();
    write_base_files(w);
    w->base = mi_test_repo_commit(w->r, "the platform");
    mi_test_repo_branch(w->r, "dev", w->base);
    if (azure) {
        static int n;
        w->container = mi_xasprintf("apply-%ld-%d", (long)getpid(), ++n);
    } else {
        w->store_url = mi_xasprintf("file://%s/plans", w->dir);
    }
    w->tfstate = mi_xasprintf("%s/terraform.tfstate", w->dir);
    w->tflog = mi_xasprintf("%s/tf.log", w->dir);
    w->terraform = terraform_double();
    if (github) {
        w->gh = mi_test_github_start();
        mi_test_github_seed_default(w->gh);
    }
}

static void world_free(struct world *w)
{
    mi_test_github_stop(w->gh);
    mi_test_repo_free(w->r);
    mi_test_rmtree(w->dir);
    free(w->dir);
    free(w->store_url);
    free(w->container);
    free(w->tfstate);
    free(w->tflog);
    free(w->terraform);
    free(w->base);
}

static char *path_in(struct world *w, const char *name)
{
    return mi_xasprintf("%s/%s", w->dir, name);
}

static struct mi_store *open_store(struct world *w)
{
    struct mi_store_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    char *endpoint = NULL;
    if (w->store_url) {
        cfg.url = w->store_url;
    } else {
        endpoint = mi_azuretest_endpoint();
        cfg.endpoint = endpoint;
        cfg.account = MI_AZURITE_ACCOUNT;
        cfg.shared_key = MI_AZURITE_KEY;
        cfg.container = w->container;
        cfg.retry = &mi_azuretest_fast_retry;
    }
    struct mi_store *s = NULL;
    cr_assert_eq(mi_store_open(&s, &cfg, REPO), 0, "%s", mi_error_last());
    free(endpoint);
    return s;
}

/* The environment of a workflow run; extra ("K=V") on top. Caller frees with free_env. */
static char **run_env(struct world *w, const char *event_name, const char *event,
                      const char *const *extra)
{
    char **env = mi_xcalloc(64, sizeof(char *));
    size_t n = 0;
    env[n++] = mi_xasprintf("GITHUB_ACTIONS=true");
    env[n++] = mi_xasprintf("GITHUB_EVENT_NAME=%s", event_name);
    env[n++] = mi_xasprintf("GITHUB_EVENT_PATH=%s", event);
    env[n++] = mi_xasprintf("GITHUB_REPOSITORY=%s", REPO);
    env[n++] = mi_xasprintf("GITHUB_WORKSPACE=%s", w->r->dir);
    env[n++] = mi_xasprintf("GITHUB_SERVER_URL=https://github.com");
    env[n++] = mi_xasprintf("GITHUB_RUN_ID=%ld", (long)getpid());
    env[n++] = mi_xasprintf("RUNNER_TEMP=%s", w->dir);
    env[n++] = mi_xasprintf("MLINFRA_TERRAFORM=%s", w->terraform);
    env[n++] = mi_xasprintf("MLINFRA_PLAN_KEY=%s", PLAN_KEY);
    env[n++] = mi_xasprintf("TFDOUBLE_LOG=%s", w->tflog);
    env[n++] = mi_xasprintf("TFDOUBLE_STATE=%s", w->tfstate);
    char *fixture = mi_test_path("tests/fixtures/plans/local-example.json");
    env[n++] = mi_xasprintf("TFDOUBLE_PLAN_JSON=%s", fixture);
    free(fixture);
    if (w->gh) {
        env[n++] = mi_xasprintf("GITHUB_API_URL=%s", w->gh->url);
        env[n++] = mi_xasprintf("GITHUB_TOKEN=%s", MI_TEST_GITHUB_TOKEN);
    } else {
        env[n++] = mi_xasprintf("GITHUB_TOKEN=");
    }
    if (w->store_url) {
        env[n++] = mi_xasprintf("MLINFRA_STORE=%s", w->store_url);
        env[n++] = mi_xasprintf("AZURE_STORAGE_ACCOUNT=");
        env[n++] = mi_xasprintf("AZURE_STORAGE_BLOB_ENDPOINT=");
    } else {
        char *endpoint = mi_azuretest_endpoint();
        env[n++] = mi_xasprintf("MLINFRA_STORE=");
        env[n++] = mi_xasprintf("AZURE_STORAGE_ACCOUNT=%s", MI_AZURITE_ACCOUNT);
        env[n++] = mi_xasprintf("AZURE_STORAGE_KEY=%s", MI_AZURITE_KEY);
        env[n++] = mi_xasprintf("AZURE_STORAGE_BLOB_ENDPOINT=%s", endpoint);
        env[n++] = mi_xasprintf("AZURE_STORAGE_CONTAINER=%s", w->container);
        free(endpoint);
    }
    env[n++] = mi_xasprintf("GITHUB_OUTPUT=%s/output", w->dir);
    env[n++] = mi_xasprintf("GITHUB_STEP_SUMMARY=%s/summary", w->dir);
    for (size_t i = 0; w->extra_env && w->extra_env[i]; i++)
        env[n++] = mi_xstrdup(w->extra_env[i]);
    for (size_t i = 0; extra && extra[i]; i++)
        env[n++] = mi_xstrdup(extra[i]);
    env[n] = NULL;
    return env;
}

static void free_env(char **env)
{
    for (size_t i = 0; env[i]; i++)
        free(env[i]);
    free(env);
}

static void truncate_file(struct world *w, const char *name)
{
    char *p = path_in(w, name);
    cr_assert_eq(mi_fs_write_file_atomic(p, "", 0, 0644), 0);
    free(p);
}

static char *read_text(struct world *w, const char *name)
{
    char *p = path_in(w, name);
    mi_buf b = MI_BUF_INIT;
    int rc = mi_fs_read_file(&b, p, 0);
    free(p);
    if (rc == MI_ENOTFOUND)
        return mi_xstrdup("");
    cr_assert_eq(rc, 0, "%s", mi_error_last());
    return mi_buf_detach(&b);
}

/* 1 when the file name in the world's directory contains text. */
static int file_has(struct world *w, const char *name, const char *text)
{
    char *t = read_text(w, name);
    int found = strstr(t, text) != NULL;
    free(t);
    return found;
}

/* How many times terraform ran `sub` (the double's log: one line per invocation). */
static int tf_runs(struct world *w, const char *sub)
{
    char *log = read_text(w, "tf.log");
    char *needle = mi_xasprintf("\t%s\t", sub);
    int n = 0;
    for (const char *p = log; (p = strstr(p, needle)); p++)
        n++;
    free(needle);
    free(log);
    return n;
}

/* ---- history ----------------------------------------------------------------------------- */

/* terraform's working directories are not part of any commit (a real repository ignores
 * them; the test's commits take the whole working tree, and a reset keeps them). */
static void clean_terraform_dirs(struct world *w)
{
    for (int i = 0; i < 2; i++) {
        char *tfdir =
            mi_xasprintf("%s/environments/%s/.terraform", w->r->dir, i ? "production" : "dev");
        mi_test_rmtree(tfdir);
        free(tfdir);
    }
}

/* A pull request: from `from`, the files written (path, content, ... NULL) committed. */
static char *pr_commit(struct world *w, const char *from, const char *message, ...)
{
    mi_test_repo_reset(w->r, from);
    clean_terraform_dirs(w);
    va_list ap;
    va_start(ap, message);
    for (const char *p; (p = va_arg(ap, const char *));)
        mi_test_repo_write(w->r, p, va_arg(ap, const char *));
    va_end(ap);
    return mi_test_repo_commit(w->r, message);
}

static void oid_of(git_oid *out, const char *hex)
{
    cr_assert_eq(git_oid_fromstr(out, hex), 0);
}

static char *create_commit(struct world *w, const git_oid *tree_id, const char *message,
                           const char *const *parents_hex, size_t nparents)
{
    git_tree *tree = NULL;
    git_signature *sig = NULL;
    const git_commit *parents[4] = {NULL};
    cr_assert_eq(git_tree_lookup(&tree, w->r->repo, tree_id), 0);
    cr_assert_eq(git_signature_new(&sig, "mlinfra test", "test@example.invalid", 1700000100, 0), 0);
    for (size_t i = 0; i < nparents; i++) {
        git_oid id;
        oid_of(&id, parents_hex[i]);
        cr_assert_eq(git_commit_lookup((git_commit **)&parents[i], w->r->repo, &id), 0);
    }
    git_oid cid;
    cr_assert_eq(
        git_commit_create(&cid, w->r->repo, NULL, sig, sig, NULL, message, tree, nparents, parents),
        0, "%s", git_error_last() ? git_error_last()->message : "");
    for (size_t i = 0; i < nparents; i++)
        git_commit_free((git_commit *)parents[i]);
    git_signature_free(sig);
    git_tree_free(tree);
    char *hex = mi_xmalloc(GIT_OID_HEXSZ + 1);
    git_oid_tostr(hex, GIT_OID_HEXSZ + 1, &cid);
    return hex;
}

/* The tree a real merge of theirs into ours gives. */
static void merged_tree(struct world *w, git_oid *out, const char *ours, const char *theirs)
{
    git_oid a, b;
    git_commit *ca = NULL, *cb = NULL;
    git_index *index = NULL;
    oid_of(&a, ours);
    oid_of(&b, theirs);
    cr_assert_eq(git_commit_lookup(&ca, w->r->repo, &a), 0);
    cr_assert_eq(git_commit_lookup(&cb, w->r->repo, &b), 0);
    cr_assert_eq(git_merge_commits(&index, w->r->repo, ca, cb, NULL), 0);
    cr_assert(!git_index_has_conflicts(index), "the test's merge has conflicts");
    cr_assert_eq(git_index_write_tree_to(out, index, w->r->repo), 0);
    git_index_free(index);
    git_commit_free(ca);
    git_commit_free(cb);
}

/* GitHub's "Create a merge commit": parents base tip and head. */
static char *merge_commit(struct world *w, const char *base_tip, const char *head, long long pr)
{
    git_oid tree;
    merged_tree(w, &tree, base_tip, head);
    char *msg = mi_xasprintf("Merge pull request #%lld from feature-%lld", pr, pr);
    const char *parents[2] = {base_tip, head};
    char *m = create_commit(w, &tree, msg, parents, 2);
    free(msg);
    return m;
}

/* "Squash and merge": the merged tree, one parent. */
static char *squash_commit(struct world *w, const char *base_tip, const char *head, long long pr)
{
    git_oid tree;
    merged_tree(w, &tree, base_tip, head);
    char *msg = mi_xasprintf("The change (#%lld)", pr);
    const char *parents[1] = {base_tip};
    char *m = create_commit(w, &tree, msg, parents, 1);
    free(msg);
    return m;
}

/* "Rebase and merge" of one commit onto base_tip: a new commit with the same tree. */
static char *rebased_commit(struct world *w, const char *base_tip, const char *commit)
{
    git_oid id;
    git_commit *c = NULL;
    oid_of(&id, commit);
    cr_assert_eq(git_commit_lookup(&c, w->r->repo, &id), 0);
    git_oid tree = *git_commit_tree_id(c);
    char *msg = mi_xasprintf("%s (rebased)", git_commit_message(c));
    git_commit_free(c);
    const char *parents[1] = {base_tip};
    char *r = create_commit(w, &tree, msg, parents, 1);
    free(msg);
    return r;
}

/* ---- GitHub state ------------------------------------------------------------------------- */

static void seed_pull(struct world *w, long long pr, const char *head, const char *base_sha,
                      int merged, const char *merge_sha, const char *extra_json)
{
    char *json =
        mi_xasprintf("{\"repos\":[{\"full_name\":\"" REPO "\",\"pulls\":[{\"number\":%lld,"
                     "\"title\":\"Change %lld\",\"user\":\"octocat\",\"head_ref\":\"feature-%lld\","
                     "\"head_sha\":\"%s\",\"base_ref\":\"dev\",\"base_sha\":\"%s\",\"merged\":%s"
                     "%s%s%s%s%s}]}]}",
                     pr, pr, pr, head, base_sha, merged ? "true" : "false",
                     merge_sha ? ",\"merge_commit_sha\":\"" : "", merge_sha ? merge_sha : "",
                     merge_sha ? "\"" : "", extra_json ? "," : "", extra_json ? extra_json : "");
    mi_test_github_seed(w->gh, json);
    free(json);
}

/* The body of our comment on pull request pr (caller frees), or NULL. */
static char *comment_on(struct world *w, long long pr)
{
    json_t *state = mi_test_github_get(w->gh, "state");
    json_t *c = json_object_get(json_object_get(json_object_get(state, "repos"), REPO), "comments");
    char *body = NULL;
    size_t i;
    json_t *x;
    json_array_foreach(c, i, x)
    {
        if (json_integer_value(json_object_get(x, "issue")) == pr) {
            cr_assert(body == NULL, "more than one comment on pull request #%lld", pr);
            body = mi_xstrdup(json_string_value(json_object_get(x, "body")));
        }
    }
    json_decref(state);
    return body;
}

/* ---- running the agent -------------------------------------------------------------------- */

static void run_plan(struct mi_test_run *out, struct world *w, long long pr, const char *head,
                     const char *base_sha)
{
    mi_test_repo_reset(w->r, head);
    json_t *ev = mi_test_event_load("pull_request.synchronize.json");
    mi_test_event_set(ev, "number", json_integer(pr));
    mi_test_event_set(ev, "pull_request.number", json_integer(pr));
    mi_test_event_set_str(ev, "pull_request.base.ref", "dev");
    mi_test_event_set_str(ev, "pull_request.base.sha", base_sha);
    mi_test_event_set_str(ev, "pull_request.head.ref", "feature");
    mi_test_event_set_str(ev, "pull_request.head.sha", head);
    mi_test_event_set_str(ev, "repository.full_name", REPO);
    mi_test_event_set_str(ev, "pull_request.base.repo.full_name", REPO);
    mi_test_event_set_str(ev, "pull_request.head.repo.full_name", REPO);
    char *event = mi_test_event_write(ev, w->dir, "pull_request.json");
    json_decref(ev);
    char **env = run_env(w, "pull_request", event, NULL);
    char *argv[] = {(char *)mi_test_binary(), "plan", "--environment", "dev", NULL};
    mi_test_run_cmd(out, argv, env, w->r->dir, 60000);
    free_env(env);
    free(event);
}

/* Plans pull request pr at head and checks that it was stored. */
static void plan_ok(struct world *w, long long pr, const char *head, const char *base_sha)
{
    struct mi_test_run r;
    run_plan(&r, w, pr, head, base_sha);
    cr_assert_eq(r.exit_code, 0, "plan failed (%d):\n%s", r.exit_code, r.err.ptr);
    cr_assert(strstr(r.err.ptr, "sealed the plan"), "the plan was not stored:\n%s", r.err.ptr);
    mi_test_run_release(&r);
}

/* What `mlinfra plan` stores for pull request pr at head, without running it: the template
 * plan sealed with the configuration fingerprint of head (cmd/planstore.c does the same). */
static void seed_plan_for(struct world *w, const char *env, long long pr, const char *head)
{
    const char *plan = getenv("MI_TEST_APPLY_PLAN");
    cr_assert(plan && *plan, "the template plan was not made (the terraform double failed)");
    struct mi_fingerprint *fp = NULL;
    char *dir = mi_xasprintf("environments/%s", env);
    cr_assert_eq(mi_fingerprint_at(&fp, w->r->dir, head, dir), 0, "%s", mi_error_last());
    free(dir);
    struct mi_seal_keyring keys;
    cr_assert_eq(mi_seal_keyring_from_base64(&keys, PLAN_KEY, NULL), 0);
    struct mi_seal_binding b;
    memset(&b, 0, sizeof(b));
    b.environment = mi_xstrdup(env);
    b.pr = pr;
    b.head_sha = mi_xstrdup(head);
    b.config_fingerprint = mi_xstrdup(fp->value);
    b.terraform_version = mi_xstrdup("1.11.4");
    struct mi_store *s = open_store(w);
    cr_assert_eq(mi_store_put(s, &keys, &b, plan), 0, "%s", mi_error_last());
    mi_store_free(s);
    mi_seal_binding_release(&b);
    mi_seal_keyring_wipe(&keys);
    mi_fingerprint_free(fp);
}

static void seed_plan(struct world *w, long long pr, const char *head)
{
    seed_plan_for(w, "dev", pr, head);
}

static char *push_event(struct world *w, const char *before, const char *after)
{
    json_t *ev = mi_test_event_load("push.branch-created.json");
    mi_test_event_set_str(ev, "ref", "refs/heads/dev");
    mi_test_event_set_str(ev, "before", before);
    mi_test_event_set_str(ev, "after", after);
    mi_test_event_set(ev, "created", json_false());
    mi_test_event_set_str(ev, "repository.full_name", REPO);
    char *path = mi_test_event_write(ev, w->dir, "push.json");
    json_decref(ev);
    return path;
}

/* Runs `mlinfra apply [args]` for a push of after onto before (the checkout moved to after). */
static void run_apply(struct mi_test_run *out, struct world *w, const char *before,
                      const char *after, const char *const *args, const char *const *extra)
{
    mi_test_repo_reset(w->r, after);
    char *event = push_event(w, before, after);
    truncate_file(w, "output");
    truncate_file(w, "summary");
    char **env = run_env(w, "push", event, extra);
    char *argv[16] = {(char *)mi_test_binary(), "apply", NULL};
    for (size_t i = 0; args && args[i] && i < 12; i++) {
        argv[2 + i] = (char *)args[i];
        argv[3 + i] = NULL;
    }
    mi_test_run_cmd(out, argv, env, w->r->dir, 60000);
    free_env(env);
    free(event);
}

/* A run in the background: stdout and stderr go to files. */
struct bg {
    pid_t pid;
    char *err_path;
};

static struct bg start_apply(struct world *w, const char *before, const char *after,
                             const char *name, const char *const *extra)
{
    char *event = push_event(w, before, after);
    char **env = run_env(w, "push", event, extra);
    /* The child's environment: ours, overridden by env ("K=" removes K). */
    size_t n = 0;
    while (environ[n])
        n++;
    size_t m = 0;
    while (env[m])
        m++;
    char **all = mi_xcalloc(n + m + 1, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(environ[i], '=');
        size_t len = eq ? (size_t)(eq - environ[i]) + 1 : strlen(environ[i]);
        int overridden = 0;
        for (size_t j = 0; j < m; j++)
            overridden |= strncmp(env[j], environ[i], len) == 0;
        if (!overridden)
            all[k++] = environ[i];
    }
    for (size_t j = 0; j < m; j++)
        if (strchr(env[j], '=')[1] != '\0') /* "K=" only removes K */
            all[k++] = env[j];
    all[k] = NULL;
    struct bg b;
    b.err_path = mi_xasprintf("%s/%s.err", w->dir, name);
    char *out_path = mi_xasprintf("%s/%s.out", w->dir, name);
    char *argv[] = {(char *)mi_test_binary(), "apply", NULL};
    b.pid = fork();
    cr_assert(b.pid >= 0);
    if (b.pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(b.err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in < 0 || o < 0 || e < 0 || chdir(w->r->dir) != 0)
            _exit(126);
        dup2(in, 0);
        dup2(o, 1);
        dup2(e, 2);
        execve(argv[0], argv, all);
        _exit(127);
    }
    free(all);
    free(out_path);
    free_env(env);
    free(event);
    return b;
}

static int wait_exit(struct bg *b)
{
    int status = 0;
    cr_assert_eq(waitpid(b->pid, &status, 0), b->pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static char *bg_err(struct bg *b)
{
    mi_buf t = MI_BUF_INIT;
    cr_assert_eq(mi_fs_read_file(&t, b->err_path, 0), 0);
    return mi_buf_detach(&t);
}

/* Waits (up to 30 s) until the file at path contains text: a condition, not a timing. */
static void wait_for_text(const char *path, const char *text)
{
    for (int i = 0; i < 3000; i++) {
        mi_buf t = MI_BUF_INIT;
        int found = mi_fs_read_file(&t, path, 0) == 0 && strstr(t.ptr, text);
        mi_buf_release(&t);
        if (found)
            return;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    mi_buf t = MI_BUF_INIT;
    mi_fs_read_file(&t, path, 0);
    cr_assert_fail("'%s' never appeared in %s:\n%s", text, path, t.ptr);
}

/* 1 when secret shows in a line other than the ::add-mask:: command that hands it to the
 * runner (which never shows it). */
static int leaks(const char *text, const char *secret)
{
    for (const char *p = text; (p = strstr(p, secret)); p++) {
        const char *bol = p;
        while (bol > text && bol[-1] != '\n')
            bol--;
        if (strncmp(bol, "::add-mask::", 12) != 0)
            return 1;
    }
    return 0;
}

static void store_status(struct world *w, const char *head, long long pr, enum mi_store_status want,
                         const char *detail_part)
{
    struct mi_store *s = open_store(w);
    struct mi_store_entry e;
    cr_assert_eq(mi_store_stat(s, "dev", pr, head, &e), 0, "%s", mi_error_last());
    cr_assert_eq(e.status, want, "plan status is %s, not %s", mi_store_status_name(e.status),
                 mi_store_status_name(want));
    if (detail_part)
        cr_assert(e.status_detail && strstr(e.status_detail, detail_part),
                  "status detail '%s' lacks '%s'", e.status_detail ? e.status_detail : "",
                  detail_part);
    mi_store_entry_release(&e);
    mi_store_free(s);
}

/* ==========================================================================================
 * The whole cycle
 * ======================================================================================== */

TestSuite(apply, .timeout = 120);

/* Plan on the pull request, merge, apply against Azurite and the GitHub double: the outputs
 * reach the summary, the step outputs and the comment; the sensitive one never; a re-run
 * reports "already applied" and changes nothing. */
Test(apply, plan_merge_apply_reports_outputs_then_rerun_is_already_applied)
{
    struct world w;
    world_init(&w, 1, 1);
    char *head = pr_commit(&w, w.base, "dev: two replicas", "environments/dev/terraform.tfvars",
                           "replicas = 2\n", NULL);
    seed_pull(&w, 7, head, w.base, 0, NULL, NULL);
    plan_ok(&w, 7, head, w.base);
    char *merge = merge_commit(&w, w.base, head, 7);
    seed_pull(&w, 7, head, w.base, 1, merge, NULL);

    struct mi_test_run r;
    run_apply(&r, &w, w.base, merge, NULL, NULL);
    cr_assert_eq(r.exit_code, 0, "apply failed (%d):\n%s", r.exit_code, r.err.ptr);
    cr_assert(strstr(r.err.ptr, "merged pull request #7"), "%s", r.err.ptr);
    cr_assert(strstr(r.err.ptr, "service address: " SERVICE_URL), "%s", r.err.ptr);
    cr_assert(!leaks(r.err.ptr, SECRET) && !leaks(r.out.ptr, SECRET), "the secret leaked");
    cr_assert_eq(tf_runs(&w, "apply"), 1);

    char *out = read_text(&w, "output");
    cr_assert(strstr(out, "applied=true\n"), "%s", out);
    cr_assert(strstr(out, "result=applied\n"), "%s", out);
    cr_assert(strstr(out, "pr=7\n"), "%s", out);
    cr_assert(strstr(out, "service_url=" SERVICE_URL "\n"), "%s", out);
    cr_assert(strstr(out, "service_ip=127.0.0.1\n"), "%s", out);
    cr_assert(strstr(out, "address=" SERVICE_URL "\n"), "%s", out);
    cr_assert(!strstr(out, "tracking_password") && !strstr(out, SECRET), "%s", out);
    char *summary = read_text(&w, "summary");
    cr_assert(strstr(summary, "Applied") && strstr(summary, SERVICE_URL), "%s", summary);
    cr_assert(strstr(summary, "Apply complete! Resources: 3 added"), "%s", summary);
    cr_assert(!strstr(summary, SECRET), "%s", summary);

    /* One comment: the plan's, now with the Applied section. */
    char *body = comment_on(&w, 7);
    cr_assert(body, "no comment on the pull request");
    cr_assert(strstr(body, "<!-- mlinfra:plan env=dev -->"), "%s", body);
    cr_assert(strstr(body, "3 to add"), "the plan report is gone:\n%s", body);
    cr_assert(strstr(body, "Applied to `dev`"), "%s", body);
    cr_assert(strstr(body, "**Service address:** `" SERVICE_URL "`"), "%s", body);
    cr_assert(strstr(body, "`tracking_password` | _(sensitive)_"), "%s", body);
    cr_assert(!strstr(body, SECRET), "%s", body);
    size_t patches = mi_test_github_count(w.gh, "PATCH", "/comments/");

    /* The plan is marked applied in the store. */
    store_status(&w, head, 7, MI_STORE_APPLIED, NULL);

    /* The same job again: nothing applied, exit 0, the outputs reported again. */
    struct mi_test_run again;
    run_apply(&again, &w, w.base, merge, NULL, NULL);
    cr_assert_eq(again.exit_code, 0, "re-run (%d):\n%s", again.exit_code, again.err.ptr);
    cr_assert(strstr(again.err.ptr, "already applied"), "%s", again.err.ptr);
    cr_assert_eq(tf_runs(&w, "apply"), 1, "the re-run ran terraform apply");
    cr_assert_eq(mi_test_github_count(w.gh, "PATCH", "/comments/"), patches,
                 "the re-run changed the comment");
    char *out2 = read_text(&w, "output");
    cr_assert(strstr(out2, "applied=false\n") && strstr(out2, "result=already-applied\n"), "%s",
              out2);
    cr_assert(strstr(out2, "service_url=" SERVICE_URL "\n"), "%s", out2);
    mi_test_github_assert_conforming(w.gh);

    free(out2);
    free(body);
    free(summary);
    free(out);
    mi_test_run_release(&again);
    mi_test_run_release(&r);
    free(merge);
    free(head);
    world_free(&w);
}

/* Without GitHub (local store, no token): the merge commit's parent is the planned head. */
Test(apply, local_run_finds_the_pull_request_in_the_history)
{
    struct world w;
    world_init(&w, 0, 0);
    char *head = pr_commit(&w, w.base, "dev: change", "environments/dev/terraform.tfvars",
                           "replicas = 3\n", NULL);
    plan_ok(&w, 3, head, w.base);
    char *merge = merge_commit(&w, w.base, head, 3);
    struct mi_test_run r;
    run_apply(&r, &w, w.base, merge, NULL, NULL);
    cr_assert_eq(r.exit_code, 0, "apply (%d):\n%s", r.exit_code, r.err.ptr);
    cr_assert(strstr(r.err.ptr, "merged pull request #3"), "%s", r.err.ptr);
    /* No token: the report is printed. */
    cr_assert(strstr(r.out.ptr, "<!-- mlinfra:applied -->"), "%s", r.out.ptr);
    cr_assert(strstr(r.out.ptr, SERVICE_URL), "%s", r.out.ptr);
    cr_assert(!strstr(r.out.ptr, SECRET), "%s", r.out.ptr);
    store_status(&w, head, 3, MI_STORE_APPLIED, NULL);
    mi_test_run_release(&r);
    free(merge);
    free(head);
    world_free(&w);
}

/* ==========================================================================================
 * Plans that are refused (exit 4)
 * ======================================================================================== */

/* Two pull requests planned against the same state; the first is applied; the second one's
 * configuration is unchanged by the first (it touched only the README), so the fingerprint
 * agrees - but the state moved on, and terraform's "Saved plan is stale" refuses it. */
Test(apply, second_pull_request_applied_after_the_first_is_stale)
{
    struct world w;
    world_init(&w, 0, 0);
    char *head1 = pr_commit(&w, w.base, "docs", "README.md", "# platform, documented\n", NULL);
    char *head2 = pr_commit(&w, w.base, "dev: change", "environments/dev/terraform.tfvars",
                            "replicas = 4\n", NULL);
    seed_plan(&w, 1, head1);
    seed_plan(&w, 2, head2);

    char *m1 = merge_commit(&w, w.base, head1, 1);
    struct mi_test_run r1;
    run_apply(&r1, &w, w.base, m1, NULL, NULL);
    cr_assert_eq(r1.exit_code, 0, "first apply (%d):\n%s", r1.exit_code, r1.err.ptr);

    char *m2 = merge_commit(&w, m1, head2, 2);
    struct mi_test_run r2;
    run_apply(&r2, &w, m1, m2, NULL, NULL);
    cr_assert_eq(r2.exit_code, 4, "second apply (%d):\n%s", r2.exit_code, r2.err.ptr);
    cr_assert(strstr(r2.err.ptr, "stale"), "%s", r2.err.ptr);
    cr_assert(strstr(r2.err.ptr, "plan again"), "%s", r2.err.ptr);
    cr_assert(strstr(r2.out.ptr, "Not applied"), "%s", r2.out.ptr);
    cr_assert_eq(tf_runs(&w, "apply"), 2, "terraform apply ran %d times", tf_runs(&w, "apply"));
    store_status(&w, head2, 2, MI_STORE_FAILED, "stale");
    char *out = read_text(&w, "output");
    cr_assert(strstr(out, "result=refused\n") && strstr(out, "applied=false\n"), "%s", out);
    free(out);

    /* A failed plan is not retried silently. */
    struct mi_test_run r3;
    run_apply(&r3, &w, m1, m2, NULL, NULL);
    cr_assert_eq(r3.exit_code, 4, "re-run (%d):\n%s", r3.exit_code, r3.err.ptr);
    cr_assert(strstr(r3.err.ptr, "not retried silently"), "%s", r3.err.ptr);
    cr_assert_eq(tf_runs(&w, "apply"), 2);

    mi_test_run_release(&r1);
    mi_test_run_release(&r2);
    mi_test_run_release(&r3);
    free(m1);
    free(m2);
    free(head1);
    free(head2);
    world_free(&w);
}

/* A second pull request that changed the same environment: when it merges after the first,
 * the merge commit's configuration is not the one it planned. */
Test(apply, second_pull_request_changing_the_environment_is_refused_by_fingerprint)
{
    struct world w;
    world_init(&w, 0, 0);
    char *head1 = pr_commit(&w, w.base, "one", "environments/dev/a.tf", "# a\n", NULL);
    char *head2 = pr_commit(&w, w.base, "two", "environments/dev/b.tf", "# b\n", NULL);
    seed_plan(&w, 1, head1);
    seed_plan(&w, 2, head2);
    char *m1 = merge_commit(&w, w.base, head1, 1);
    struct mi_test_run r1;
    run_apply(&r1, &w, w.base, m1, NULL, NULL);
    cr_assert_eq(r1.exit_code, 0, "%s", r1.err.ptr);
    char *m2 = merge_commit(&w, m1, head2, 2);
    struct mi_test_run r2;
    run_apply(&r2, &w, m1, m2, NULL, NULL);
    cr_assert_eq(r2.exit_code, 4, "(%d):\n%s", r2.exit_code, r2.err.ptr);
    cr_assert(strstr(r2.err.ptr, "environments/dev (changed)"), "%s", r2.err.ptr);
    cr_assert_eq(tf_runs(&w, "apply"), 1, "terraform apply ran for a refused plan");
    mi_test_run_release(&r1);
    mi_test_run_release(&r2);
    free(m1);
    free(m2);
    free(head1);
    free(head2);
    world_free(&w);
}

/* Someone changed a module the environment uses after the plan (a push to dev): the merge
 * commit's configuration differs, and the message names the module. */
Test(apply, configuration_changed_after_plan_is_refused_naming_the_paths)
{
    struct world w;
    world_init(&w, 0, 0);
    char *head = pr_commit(&w, w.base, "dev: change", "environments/dev/terraform.tfvars",
                           "replicas = 2\n", NULL);
    seed_plan(&w, 5, head);
    char *direct = pr_commit(&w, w.base, "net: a direct change", "modules/net/main.tf",
                             "# the network, changed\n", NULL);
    char *merge = merge_commit(&w, direct, head, 5);
    struct mi_test_run r;
    run_apply(&r, &w, direct, merge, NULL, NULL);
    cr_assert_eq(r.exit_code, 4, "(%d):\n%s", r.exit_code, r.err.ptr);
    cr_assert(strstr(r.err.ptr, "modules/net (changed)"), "%s", r.err.ptr);
    cr_assert(!strstr(r.err.ptr, "environments/dev (changed)"), "%s", r.err.ptr);
    cr_assert(strstr(r.err.ptr, "plan again"), "%s", r.err.ptr);
    cr_assert_eq(tf_runs(&w, "apply"), 0);
    /* Refused before terraform: the plan stays as it was. */
    store_status(&w, head, 5, MI_STORE_SEALED, NULL);
    mi_test_run_release(&r);
    free(merge);
    free(direct);
    free(head);
    world_free(&w);
}

/* A byte of the sealed plan flipped in the store: refused, terraform never runs. */
Test(apply, tampered_plan_is_refused)
{
    struct world w;
    world_init(&w, 0, 0);
    char *head = pr_commit(&w, w.base, "dev", "environments/dev/terraform.tfvars", "x = 1\n", NULL);
    seed_plan(&w, 4, head);
    char *name = mi_store_plan_name(REPO, "dev", 4, head);
    char *sealed = mi_xasprintf("%s/plans/%s", w.dir, name);
    mi_buf data = MI_BUF_INIT;
    cr_assert_eq(mi_fs_read_file(&data, sealed, 0), 0, "%s", mi_error_last());
    cr_assert(data.len > 200);
    data.ptr[data.len - 100] ^= 0x01;
    cr_assert_eq(mi_fs_write_file_atomic(sealed, data.ptr, data.len, 0600), 0);
    mi_buf_release(&data);
    char *merge = merge_commit(&w, w.base, head, 4);
    struct mi_test_run r;
    run_apply(&r, &w, w.base, merge, NULL, NULL);
    cr_assert_eq(r.exit_code, 4, "(%d):\n%s", r.exit_code, r.err.ptr);
    cr_assert(strstr(r.err.ptr, "refused"), "%s", r.err.ptr);
    cr_assert_eq(tf_runs(&w, "apply"), 0);
    cr_assert(file_has(&w, "output", "result=refused\n"));
    mi_test_run_release(&r);
    free(merge);
    free(sealed);
    free(name);
    free(head);
    world_free(&w);
}

/* A merged pull request that was never planned. */
Test(apply, missing_plan_is_refused)
{
    struct world w;
    world_init(&w, 1, 0);
    char *head = pr_commit(&w, w.base, "dev", "environments/dev/terraform.tfvars", "y = 1\n", NULL);
    char *merge = merge_commit(&w, w.base, head, 9);
    seed_pull(&w, 9, head, w.base, 1, merge, NULL);
    struct mi_test_run r;
    run_apply(&r, &w, w.base, merge, NULL, NULL);
    cr_assert_eq(r.exit_code, 4, "(%d):\n%s", r.exit_code, r.err.ptr);
    cr_assert(strstr(r.err.ptr, "no plan of environment 'dev' for pull request #9"), "%s",
              r.err.ptr);
    cr_assert_eq(tf_runs(&w, "init"), 0);
    /* The author learns it on the pull request. */
    char *body = comment_on(&w, 9);
    cr_assert(body && strstr(body, "Not applied"), "%s", body ? body : "(no comment)");
    free(body);
    mi_test_github_assert_conforming(w.gh);
    mi_test_run_release(&r);
    free(merge);
    free(head);
    world_free(&w);
}

/* A pull request from a fork: never applied, whatever the store holds. */
Test(apply, fork_pull_request_is_refused)
{
    struct world w;
    world_init(&w, 1, 0);
    char *head = pr_commit(&w, w.base, "dev", "environments/dev/terraform.tfvars", "z = 1\n", NULL);
    char *merge = merge_commit(&w, w.base, head, 11);
    seed_pull(&w, 11, head, w.base, 1, merge, "\"head_repo\":\"mallory/infra\"");
    struct mi_test_run r;
    run_apply(&r, &w, w.base, merge, NULL, NULL);
    cr_assert_eq(r.exit_code, 4, "(%d):\n%s", r.exit_code, r.err.ptr);
    cr_assert(strstr(r.err.ptr, "fork"), "%s", r.err.ptr);
    cr_assert_eq(tf_runs(&w, "init"), 0);
    mi_test_run_release(&r);
    free(merge);
    free(head);
    world_free(&w);
}

/* A direct push (no pull request): nothing applied; skip by default, fail when configured. */
Test(apply, push_that_merged_no_pull_request_skips_or_fails)
{
    struct world w;
    world_init(&w, 1, 0);
    char *direct = pr_commit(&w, w.base, "direct", "environments/dev/c.tf", "# c\n", NULL);
    char *json =
        mi_xasprintf("{\"repos\":[{\"full_name\":\"" REPO "\",\"commits\":[\"%s\"]}]}", direct);
    mi_test_github_seed(w.gh, json);
    free(json);
    struct mi_test_run r;
    run_apply(&r, &w, w.base, direct, NULL, NULL);
    cr_assert_eq(r.exit_code, 0, "(%d):\n%s", r.exit_code, r.err.ptr);
    cr_assert(strstr(r.err.ptr, "merged no pull request"), "%s", r.err.ptr);
    cr_assert(file_has(&w, "output", "result=skipped\n"));
    cr_assert_eq(tf_runs(&w, "init"), 0);

    const char *const fail[] = {"--unplanned", "fail", NULL};
    struct mi_test_run f;
    run_apply(&f, &w, w.base, direct, fail, NULL);
    cr_assert_eq(f.exit_code, 4, "(%d):\n%s", f.exit_code, f.err.ptr);
    const char *const env_fail[] = {"MLINFRA_APPLY_UNPLANNED=fail", NULL};
    struct mi_test_run g;
    run_apply(&g, &w, w.base, direct, NULL, env_fail);
    cr_assert_eq(g.exit_code, 4, "(%d):\n%s", g.exit_code, g.err.ptr);
    mi_test_run_release(&r);
    mi_test_run_release(&f);
    mi_test_run_release(&g);
    free(direct);
    world_free(&w);
}

/* ==========================================================================================
 * Merges GitHub makes: squash and rebase
 * ======================================================================================== */

Test(apply, squash_merge_is_resolved)
{
    struct world w;
    world_init(&w, 1, 0);
    char *h1 = pr_commit(&w, w.base, "one", "environments/dev/terraform.tfvars", "a = 1\n", NULL);
    char *head = pr_commit(&w, h1, "two", "environments/dev/terraform.tfvars", "a = 2\n", NULL);
    seed_plan(&w, 12, head);
    char *squash = squash_commit(&w, w.base, head, 12);
    char *extra = mi_xasprintf("\"commits\":[\"%s\",\"%s\"]", h1, head);
    seed_pull(&w, 12, head, w.base, 1, squash, extra);
    struct mi_test_run r;
    run_apply(&r, &w, w.base, squash, NULL, NULL);
    cr_assert_eq(r.exit_code, 0, "(%d):\n%s", r.exit_code, r.err.ptr);
    cr_assert(strstr(r.err.ptr, "merged pull request #12"), "%s", r.err.ptr);
    store_status(&w, head, 12, MI_STORE_APPLIED, NULL);
    mi_test_run_release(&r);
    free(extra);
    free(squash);
    free(head);
    free(h1);
    world_free(&w);
}

Test(apply, rebase_merge_is_resolved)
{
    struct world w;
    world_init(&w, 1, 0);
    char *h1 = pr_commit(&w, w.base, "one", "environments/dev/terraform.tfvars", "b = 1\n", NULL);
    char *head = pr_commit(&w, h1, "two", "environments/dev/terraform.tfvars", "b = 2\n", NULL);
    seed_pull(&w, 13, head, w.base, 0, NULL, NULL);
    seed_plan(&w, 13, head);
    char *r1 = rebased_commit(&w, w.base, h1);
    char *r2 = rebased_commit(&w, r1, head);
    cr_assert_str_neq(r2, head);
    char *extra = mi_xasprintf("\"commits\":[\"%s\",\"%s\"],\"rebased_commits\":[\"%s\",\"%s\"]",
                               h1, head, r1, r2);
    seed_pull(&w, 13, head, w.base, 1, r2, extra);
    struct mi_test_run r;
    run_apply(&r, &w, w.base, r2, NULL, NULL);
    cr_assert_eq(r.exit_code, 0, "(%d):\n%s", r.exit_code, r.err.ptr);
    cr_assert(strstr(r.err.ptr, "merged pull request #13"), "%s", r.err.ptr);
    store_status(&w, head, 13, MI_STORE_APPLIED, NULL);
    mi_test_github_assert_conforming(w.gh);
    mi_test_run_release(&r);
    free(extra);
    free(r1);
    free(r2);
    free(head);
    free(h1);
    world_free(&w);
}

/* ==========================================================================================
 * Locks, cancellation, failures
 * ======================================================================================== */

/* Two applies of one environment at once: both wait while the lock is held (here by the
 * test, as by a third run), then run one after the other: one applies, the other finds the
 * plan applied. terraform apply runs once. */
Test(apply, concurrent_applies_are_serialized)
{
    struct world w;
    world_init(&w, 0, 0);
    char *head = pr_commit(&w, w.base, "dev", "environments/dev/terraform.tfvars", "c = 1\n", NULL);
    seed_plan(&w, 21, head);
    char *merge = merge_commit(&w, w.base, head, 21);
    mi_test_repo_reset(w.r, merge);

    struct mi_store *s = open_store(&w);
    struct mi_store_lock *held = NULL;
    struct mi_store_lock_options lo = {0};
    lo.holder = "the test";
    cr_assert_eq(mi_store_lock(s, "dev", &lo, &held), 0, "%s", mi_error_last());

    struct bg a = start_apply(&w, w.base, merge, "a", NULL);
    struct bg b = start_apply(&w, w.base, merge, "b", NULL);
    wait_for_text(a.err_path, "waiting up to");
    wait_for_text(b.err_path, "waiting up to");
    cr_assert_eq(tf_runs(&w, "init"), 0, "an apply went on without the lock");
    cr_assert_eq(mi_store_unlock(held), 0, "%s", mi_error_last());

    int ea = wait_exit(&a), eb = wait_exit(&b);
    char *ta = bg_err(&a), *tb = bg_err(&b);
    cr_assert_eq(ea, 0, "a (%d):\n%s", ea, ta);
    cr_assert_eq(eb, 0, "b (%d):\n%s", eb, tb);
    int a_applied = strstr(ta, "applied pull request #21") != NULL;
    int b_applied = strstr(tb, "applied pull request #21") != NULL;
    cr_assert(a_applied != b_applied, "exactly one run applies:\n--- a\n%s\n--- b\n%s", ta, tb);
    cr_assert(strstr(a_applied ? tb : ta, "already applied"), "%s", a_applied ? tb : ta);
    cr_assert_eq(tf_runs(&w, "apply"), 1);
    free(ta);
    free(tb);
    free(a.err_path);
    free(b.err_path);
    mi_store_free(s);
    free(merge);
    free(head);
    world_free(&w);
}

/* SIGTERM (a cancelled workflow) while terraform applies: terraform is interrupted, the
 * plan marked failed, and the Azure lease released at once (not left to expire). */
Test(apply, cancelled_apply_releases_the_lock)
{
    struct world w;
    world_init(&w, 0, 1);
    char *head = pr_commit(&w, w.base, "dev", "environments/dev/terraform.tfvars", "d = 1\n", NULL);
    seed_plan(&w, 22, head);
    char *merge = merge_commit(&w, w.base, head, 22);
    mi_test_repo_reset(w.r, merge);
    const char *const slow[] = {"TFDOUBLE_SLEEP_MS=60000", "TFDOUBLE_SLEEP_STEP=apply", NULL};
    struct bg a = start_apply(&w, w.base, merge, "a", slow);
    wait_for_text(w.tflog, "\tapply\t");
    /* The double has started applying; give it the workflow's cancellation. */
    wait_for_text(a.err_path, "::group::terraform apply");
    cr_assert_eq(kill(a.pid, SIGTERM), 0);
    int ea = wait_exit(&a);
    char *ta = bg_err(&a);
    cr_assert_eq(ea, 1, "(%d):\n%s", ea, ta);
    cr_assert(strstr(ta, "cancelled"), "%s", ta);
    cr_assert(strstr(ta, "released the lock"), "%s", ta);

    struct mi_store *s = open_store(&w);
    struct mi_store_lock_info info;
    cr_assert_eq(mi_store_lock_info(s, "dev", &info), 0, "%s", mi_error_last());
    cr_assert_eq(info.locked, 0, "the lock is still held (%s)", info.state ? info.state : "");
    mi_store_lock_info_release(&info);
    struct mi_store_lock *l = NULL;
    struct mi_store_lock_options lo = {0};
    cr_assert_eq(mi_store_lock(s, "dev", &lo, &l), 0, "%s", mi_error_last());
    cr_assert_eq(mi_store_unlock(l), 0);
    mi_store_free(s);
    store_status(&w, head, 22, MI_STORE_FAILED, "cancelled");
    free(ta);
    free(a.err_path);
    free(merge);
    free(head);
    world_free(&w);
}

/* terraform apply fails: reported with the error tail, the plan marked failed, and not
 * retried unless asked. */
Test(apply, failed_apply_is_reported_and_not_retried_silently)
{
    struct world w;
    world_init(&w, 1, 0);
    char *head = pr_commit(&w, w.base, "dev", "environments/dev/terraform.tfvars", "e = 1\n", NULL);
    seed_pull(&w, 23, head, w.base, 0, NULL, NULL);
    plan_ok(&w, 23, head, w.base);
    char *merge = merge_commit(&w, w.base, head, 23);
    seed_pull(&w, 23, head, w.base, 1, merge, NULL);
    const char *const failing[] = {
        "TFDOUBLE_FAIL=apply", "TFDOUBLE_FAIL_MESSAGE=Quota exceeded for Standard_D8s_v5", NULL};
    struct mi_test_run r;
    run_apply(&r, &w, w.base, merge, NULL, failing);
    cr_assert_eq(r.exit_code, 1, "(%d):\n%s", r.exit_code, r.err.ptr);
    char *summary = read_text(&w, "summary");
    cr_assert(strstr(summary, "Apply failed"), "%s", summary);
    cr_assert(strstr(summary, "Quota exceeded"), "the error tail is missing:\n%s", summary);
    char *body = comment_on(&w, 23);
    cr_assert(body && strstr(body, "Apply failed") && strstr(body, "Quota exceeded"), "%s",
              body ? body : "(none)");
    cr_assert(strstr(body, "3 to add"), "%s", body);
    store_status(&w, head, 23, MI_STORE_FAILED, NULL);

    struct mi_test_run again;
    run_apply(&again, &w, w.base, merge, NULL, NULL);
    cr_assert_eq(again.exit_code, 4, "(%d):\n%s", again.exit_code, again.err.ptr);
    cr_assert(strstr(again.err.ptr, "--retry-failed"), "%s", again.err.ptr);

    const char *const retry[] = {"--retry-failed", NULL};
    struct mi_test_run third;
    run_apply(&third, &w, w.base, merge, retry, NULL);
    cr_assert_eq(third.exit_code, 0, "(%d):\n%s", third.exit_code, third.err.ptr);
    store_status(&w, head, 23, MI_STORE_APPLIED, NULL);
    mi_test_github_assert_conforming(w.gh);
    free(body);
    free(summary);
    mi_test_run_release(&r);
    mi_test_run_release(&again);
    mi_test_run_release(&third);
    free(merge);
    free(head);
    world_free(&w);
}

/* ==========================================================================================
 * Rules: the approving review, the change window
 * ======================================================================================== */

static void pr_into_production(struct world *w, long long pr, char **head_out)
{
    /* Branch production shares dev's first commit here; its environment has its own
     * directory. */
    char *head = pr_commit(w, w->base, "production", "environments/production/terraform.tfvars",
                           "replicas = 3\n", NULL);
    char *json = mi_xasprintf(
        "{\"repos\":[{\"full_name\":\"" REPO "\",\"pulls\":[{\"number\":%lld,"
        "\"head_ref\":\"feature-%lld\",\"head_sha\":\"%s\",\"base_ref\":\"production\","
        "\"base_sha\":\"%s\"}]}]}",
        pr, pr, head, w->base);
    mi_test_github_seed(w->gh, json);
    free(json);
    *head_out = head;
}

/* "MLINFRA_NOW=@<epoch>": a moment on the next given weekday (0 Sunday .. 6 Saturday) in
 * both UTC and Amsterdam time, within 6 days and 3 hours from now - so the change windows
 * see that day while a plan made now is not yet too old (apply.plan_max_age, 7 days) and
 * not in the future. */
static char *now_on(int wday)
{
    time_t t = time(NULL) + 60;
    struct tm tm;
    gmtime_r(&t, &tm);
    if (tm.tm_hour >= 21) /* Amsterdam is already on the next day */
        t += (24 - tm.tm_hour) * 3600 + 1800;
    gmtime_r(&t, &tm);
    t += ((wday - tm.tm_wday + 7) % 7) * 86400;
    return mi_xasprintf("MLINFRA_NOW=@%lld", (long long)t);
}

static void apply_production(struct mi_test_run *out, struct world *w, const char *merge,
                             const char *const *extra)
{
    mi_test_repo_reset(w->r, merge);
    json_t *ev = mi_test_event_load("push.branch-created.json");
    mi_test_event_set_str(ev, "ref", "refs/heads/production");
    mi_test_event_set_str(ev, "before", w->base);
    mi_test_event_set_str(ev, "after", merge);
    mi_test_event_set(ev, "created", json_false());
    mi_test_event_set_str(ev, "repository.full_name", REPO);
    char *event = mi_test_event_write(ev, w->dir, "push.json");
    json_decref(ev);
    truncate_file(w, "output");
    char **env = run_env(w, "push", event, extra);
    char *argv[] = {(char *)mi_test_binary(), "apply", NULL};
    mi_test_run_cmd(out, argv, env, w->r->dir, 60000);
    free_env(env);
    free(event);
}

Test(apply, required_approval_and_closed_change_window_block_with_exit_3)
{
    struct world w;
    world_init(&w, 1, 0);
    char *head = NULL;
    pr_into_production(&w, 31, &head);
    seed_plan_for(&w, "production", 31, head);
    char *merge = merge_commit(&w, w.base, head, 31);
    char *json = mi_xasprintf(
        "{\"repos\":[{\"full_name\":\"" REPO "\",\"pulls\":[{\"number\":31,\"head_sha\":\"%s\","
        "\"base_ref\":\"production\",\"merged\":true,\"merge_commit_sha\":\"%s\"}]}]}",
        head, merge);
    mi_test_github_seed(w.gh, json);
    free(json);

    /* No approving review: blocked. */
    struct mi_test_run r;
    apply_production(&r, &w, merge, NULL);
    cr_assert_eq(r.exit_code, 3, "(%d):\n%s", r.exit_code, r.err.ptr);
    cr_assert(strstr(r.err.ptr, "requires an approving review"), "%s", r.err.ptr);
    cr_assert_eq(tf_runs(&w, "init"), 0);
    cr_assert(file_has(&w, "output", "result=blocked\n"));

    /* Approved, but a change window closes production on Fridays. */
    json = mi_xasprintf("{\"repos\":[{\"full_name\":\"" REPO "\",\"reviews\":[{\"pull\":31,"
                        "\"user\":\"alice\",\"state\":\"APPROVED\",\"commit_id\":\"%s\"}]}]}",
                        head);
    mi_test_github_seed(w.gh, json);
    free(json);
    mi_test_repo_write(w.r, "policies/change-windows.yml",
                       "version: 1\ntimezone: Europe/Amsterdam\nwindows:\n"
                       "  - name: no-friday-production-deploys\n"
                       "    environments: [production]\n    days: [fri]\n"
                       "    message: Not on Fridays.\n");
    /* The window file is read from the checkout; commit it on top of the merge. */
    clean_terraform_dirs(&w);
    char *with_window = mi_test_repo_commit(w.r, "change windows");
    json = mi_xasprintf("{\"repos\":[{\"full_name\":\"" REPO "\",\"pulls\":[{\"number\":31,"
                        "\"head_sha\":\"%s\",\"merged\":true,\"merge_commit_sha\":\"%s\"}]}]}",
                        head, with_window);
    mi_test_github_seed(w.gh, json);
    free(json);
    char *on_friday = now_on(5), *on_monday = now_on(1);
    const char *const friday[] = {on_friday, NULL};
    struct mi_test_run f;
    apply_production(&f, &w, with_window, friday);
    cr_assert_eq(f.exit_code, 3, "(%d):\n%s", f.exit_code, f.err.ptr);
    cr_assert(strstr(f.err.ptr, "change window"), "%s", f.err.ptr);
    cr_assert(strstr(f.err.ptr, "Not on Fridays"), "%s", f.err.ptr);
    cr_assert_eq(tf_runs(&w, "init"), 0);

    /* On Monday the same run applies. */
    const char *const monday[] = {on_monday, NULL};
    struct mi_test_run m;
    apply_production(&m, &w, with_window, monday);
    cr_assert_eq(m.exit_code, 0, "(%d):\n%s", m.exit_code, m.err.ptr);
    cr_assert(strstr(m.err.ptr, "approved by alice"), "%s", m.err.ptr);
    mi_test_github_assert_conforming(w.gh);

    mi_test_run_release(&r);
    mi_test_run_release(&f);
    mi_test_run_release(&m);
    free(on_friday);
    free(on_monday);
    free(with_window);
    free(merge);
    free(head);
    world_free(&w);
}
