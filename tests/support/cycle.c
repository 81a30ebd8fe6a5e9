/* The plan -> merge -> apply cycle of the end-to-end tests (test_apply.c, test_faults.c,
 * test_secrets.c): a temporary git repository holding a small platform, a plan store (a local
 * directory or a container in the shared Azurite), the terraform double, maybe the GitHub
 * double; helpers to make pull requests and merges, run `mlinfra plan` and `mlinfra apply` as
 * a workflow would, and read back what they left. */
#include "cycle.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <git2.h>
#include <jansson.h>
#include <libgen.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "azuretest.h"
#include "context/fingerprint.h"
#include "events.h"
#include "store/seal.h"
#include "util/error.h"
#include "util/fs.h"
/* The template plan's directory (mi_cycle_template_make). */
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

void mi_cycle_template_make(void)
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
        setenv("MI_CYCLE_TEMPLATE_PLAN", path, 1);
        free(path);
    }
    unsetenv("TFDOUBLE_PLAN_JSON");
    unsetenv("TFDOUBLE_STATE");
    free(state);
    free(fixture);
    free(tf);
    free(bin);
}

void mi_cycle_template_remove(void)
{
    if (template_dir)
        mi_test_rmtree(template_dir);
    free(template_dir);
    template_dir = NULL;
    unsetenv("MI_CYCLE_TEMPLATE_PLAN");
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

static void write_base_files(struct mi_cycle *w, const char *config_extra)
{
    char *yml = mi_xasprintf("%s%s", mlinfra_yml, config_extra ? config_extra : "");
    mi_test_repo_write(w->r, "mlinfra.yml", yml);
    free(yml);
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

void mi_cycle_init(struct mi_cycle *w, int github, int azure)
{
    struct mi_cycle_options o = {github, azure, NULL};
    mi_cycle_init_with(w, &o);
}

void mi_cycle_init_with(struct mi_cycle *w, const struct mi_cycle_options *o)
{
    int github = o->github, azure = o->azure;
    memset(w, 0, sizeof(*w));
    cr_assert(sodium_init() >= 0);
    w->dir = mi_test_tmpdir();
    w->r = mi_test_repo_init();
    write_base_files(w, o->config_extra);
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
    w->terraform = mi_test_terraform_double();
    if (github) {
        w->gh = mi_test_github_start();
        mi_test_github_seed_default(w->gh);
    }
}

void mi_cycle_free(struct mi_cycle *w)
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

char *mi_cycle_path(struct mi_cycle *w, const char *name)
{
    return mi_xasprintf("%s/%s", w->dir, name);
}

struct mi_store *mi_cycle_open_store(struct mi_cycle *w)
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
    cr_assert_eq(mi_store_open(&s, &cfg, MI_CYCLE_REPO), 0, "%s", mi_error_last());
    free(endpoint);
    return s;
}

/* The environment of a workflow run; extra ("K=V") on top. Caller frees with mi_cycle_env_free. */
/* Sets "K=V" in env[0..n): replaces an earlier K (the child would see the first of two), else
 * appends. Returns the new count. */
static size_t env_put(char **env, size_t n, const char *kv)
{
    const char *eq = strchr(kv, '=');
    cr_assert(eq, "'%s' is not K=V", kv);
    size_t klen = (size_t)(eq - kv) + 1;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(env[i], kv, klen) == 0) {
            free(env[i]);
            env[i] = mi_xstrdup(kv);
            return n;
        }
    }
    cr_assert(n < 63, "too many variables for a run");
    env[n] = mi_xstrdup(kv);
    return n + 1;
}

char **mi_cycle_env(struct mi_cycle *w, const char *event_name, const char *event,
                    const char *const *extra)
{
    char **env = mi_xcalloc(64, sizeof(char *));
    size_t n = 0;
    env[n++] = mi_xasprintf("GITHUB_ACTIONS=true");
    env[n++] = mi_xasprintf("GITHUB_EVENT_NAME=%s", event_name);
    env[n++] = mi_xasprintf("GITHUB_EVENT_PATH=%s", event);
    env[n++] = mi_xasprintf("GITHUB_REPOSITORY=%s", MI_CYCLE_REPO);
    env[n++] = mi_xasprintf("GITHUB_WORKSPACE=%s", w->r->dir);
    env[n++] = mi_xasprintf("GITHUB_SERVER_URL=https://github.com");
    env[n++] = mi_xasprintf("GITHUB_RUN_ID=%ld", (long)getpid());
    env[n++] = mi_xasprintf("RUNNER_TEMP=%s", w->dir);
    env[n++] = mi_xasprintf("MLINFRA_TERRAFORM=%s", w->terraform);
    env[n++] = mi_xasprintf("MLINFRA_PLAN_KEY=%s", MI_CYCLE_PLAN_KEY);
    env[n++] = mi_xasprintf("TFDOUBLE_LOG=%s", w->tflog);
    env[n++] = mi_xasprintf("TFDOUBLE_STATE=%s", w->tfstate);
    char *fixture = mi_test_path("tests/fixtures/plans/local-example.json");
    env[n++] = mi_xasprintf("TFDOUBLE_PLAN_JSON=%s", fixture);
    free(fixture);
    if (w->gh) {
        env[n++] = mi_xasprintf("GITHUB_API_URL=%s", w->github_url ? w->github_url : w->gh->url);
        env[n++] = mi_xasprintf("GITHUB_TOKEN=%s", MI_TEST_GITHUB_TOKEN);
    } else {
        env[n++] = mi_xasprintf("GITHUB_TOKEN=");
    }
    if (w->store_url) {
        env[n++] = mi_xasprintf("MLINFRA_STORE=%s", w->store_url);
        env[n++] = mi_xasprintf("AZURE_STORAGE_ACCOUNT=");
        env[n++] = mi_xasprintf("AZURE_STORAGE_BLOB_ENDPOINT=");
    } else {
        char *endpoint =
            w->azure_endpoint ? mi_xstrdup(w->azure_endpoint) : mi_azuretest_endpoint();
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
        n = env_put(env, n, w->extra_env[i]);
    for (size_t i = 0; extra && extra[i]; i++)
        n = env_put(env, n, extra[i]);
    env[n] = NULL;
    return env;
}

void mi_cycle_env_free(char **env)
{
    for (size_t i = 0; env[i]; i++)
        free(env[i]);
    free(env);
}

void mi_cycle_truncate(struct mi_cycle *w, const char *name)
{
    char *p = mi_cycle_path(w, name);
    cr_assert_eq(mi_fs_write_file_atomic(p, "", 0, 0644), 0);
    free(p);
}

char *mi_cycle_read(struct mi_cycle *w, const char *name)
{
    char *p = mi_cycle_path(w, name);
    mi_buf b = MI_BUF_INIT;
    int rc = mi_fs_read_file(&b, p, 0);
    free(p);
    if (rc == MI_ENOTFOUND)
        return mi_xstrdup("");
    cr_assert_eq(rc, 0, "%s", mi_error_last());
    return mi_buf_detach(&b);
}

/* 1 when the file name in the world's directory contains text. */
int mi_cycle_file_has(struct mi_cycle *w, const char *name, const char *text)
{
    char *t = mi_cycle_read(w, name);
    int found = strstr(t, text) != NULL;
    free(t);
    return found;
}

/* How many times terraform ran `sub` (the double's log: one line per invocation). */
int mi_cycle_tf_runs(struct mi_cycle *w, const char *sub)
{
    char *log = mi_cycle_read(w, "tf.log");
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
void mi_cycle_clean_terraform_dirs(struct mi_cycle *w)
{
    for (int i = 0; i < 2; i++) {
        char *tfdir =
            mi_xasprintf("%s/environments/%s/.terraform", w->r->dir, i ? "production" : "dev");
        mi_test_rmtree(tfdir);
        free(tfdir);
    }
}

/* A pull request: from `from`, the files written (path, content, ... NULL) committed. */
char *mi_cycle_pr_commit(struct mi_cycle *w, const char *from, const char *message, ...)
{
    mi_test_repo_reset(w->r, from);
    mi_cycle_clean_terraform_dirs(w);
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

static char *create_commit(struct mi_cycle *w, const git_oid *tree_id, const char *message,
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
static void merged_tree(struct mi_cycle *w, git_oid *out, const char *ours, const char *theirs)
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
char *mi_cycle_merge_commit(struct mi_cycle *w, const char *base_tip, const char *head,
                            long long pr)
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
char *mi_cycle_squash_commit(struct mi_cycle *w, const char *base_tip, const char *head,
                             long long pr)
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
char *mi_cycle_rebased_commit(struct mi_cycle *w, const char *base_tip, const char *commit)
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

void mi_cycle_seed_pull(struct mi_cycle *w, long long pr, const char *head, const char *base_sha,
                        int merged, const char *merge_sha, const char *extra_json)
{
    char *json =
        mi_xasprintf("{\"repos\":[{\"full_name\":\"" MI_CYCLE_REPO "\",\"pulls\":[{\"number\":%lld,"
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
char *mi_cycle_comment_on(struct mi_cycle *w, long long pr)
{
    json_t *state = mi_test_github_get(w->gh, "state");
    json_t *c = json_object_get(json_object_get(json_object_get(state, "repos"), MI_CYCLE_REPO),
                                "comments");
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

void mi_cycle_run_plan(struct mi_test_run *out, struct mi_cycle *w, long long pr, const char *head,
                       const char *base_sha)
{
    mi_test_repo_reset(w->r, head);
    mi_cycle_truncate(w, "output");
    mi_cycle_truncate(w, "summary");
    json_t *ev = mi_test_event_pull_request(
        &(struct mi_test_pr_event){pr, MI_CYCLE_REPO, NULL, "dev", base_sha, "feature", head});
    char *event = mi_test_event_write(ev, w->dir, "pull_request.json");
    json_decref(ev);
    char **env = mi_cycle_env(w, "pull_request", event, NULL);
    char *argv[] = {(char *)mi_test_binary(), "plan", "--environment", "dev", NULL};
    mi_test_run_cmd(out, argv, env, w->r->dir, w->run_timeout_ms ? w->run_timeout_ms : 60000);
    mi_cycle_env_free(env);
    free(event);
}

/* Plans pull request pr at head and checks that it was stored. */
void mi_cycle_plan_ok(struct mi_cycle *w, long long pr, const char *head, const char *base_sha)
{
    struct mi_test_run r;
    mi_cycle_run_plan(&r, w, pr, head, base_sha);
    cr_assert_eq(r.exit_code, 0, "plan failed (%d):\n%s", r.exit_code, r.err.ptr);
    cr_assert(strstr(r.err.ptr, "sealed the plan"), "the plan was not stored:\n%s", r.err.ptr);
    cr_assert(mi_cycle_file_has(w, "output", "stored=true\n"),
              "the step outputs do not say the plan was stored");
    mi_test_run_release(&r);
}

/* What `mlinfra plan` stores for pull request pr at head, without running it: the template
 * plan sealed with the configuration fingerprint of head (cmd/planstore.c does the same). */
void mi_cycle_seed_plan_for(struct mi_cycle *w, const char *env, long long pr, const char *head)
{
    const char *plan = getenv("MI_CYCLE_TEMPLATE_PLAN");
    cr_assert(plan && *plan, "the template plan was not made (the terraform double failed)");
    struct mi_fingerprint *fp = NULL;
    char *dir = mi_xasprintf("environments/%s", env);
    cr_assert_eq(mi_fingerprint_at(&fp, w->r->dir, head, dir), 0, "%s", mi_error_last());
    free(dir);
    struct mi_seal_keyring keys;
    cr_assert_eq(mi_seal_keyring_from_base64(&keys, MI_CYCLE_PLAN_KEY, NULL), 0);
    struct mi_seal_binding b;
    memset(&b, 0, sizeof(b));
    b.environment = mi_xstrdup(env);
    b.pr = pr;
    b.head_sha = mi_xstrdup(head);
    b.config_fingerprint = mi_xstrdup(fp->value);
    b.terraform_version = mi_xstrdup("1.11.4");
    struct mi_store *s = mi_cycle_open_store(w);
    cr_assert_eq(mi_store_put(s, &keys, &b, plan), 0, "%s", mi_error_last());
    mi_store_free(s);
    mi_seal_binding_release(&b);
    mi_seal_keyring_wipe(&keys);
    mi_fingerprint_free(fp);
}

void mi_cycle_seed_plan(struct mi_cycle *w, long long pr, const char *head)
{
    mi_cycle_seed_plan_for(w, "dev", pr, head);
}

char *mi_cycle_push_event(struct mi_cycle *w, const char *before, const char *after)
{
    json_t *ev = mi_test_event_load("push.branch-created.json");
    mi_test_event_set_str(ev, "ref", "refs/heads/dev");
    mi_test_event_set_str(ev, "before", before);
    mi_test_event_set_str(ev, "after", after);
    mi_test_event_set(ev, "created", json_false());
    mi_test_event_set_str(ev, "repository.full_name", MI_CYCLE_REPO);
    char *path = mi_test_event_write(ev, w->dir, "push.json");
    json_decref(ev);
    return path;
}

/* Runs `mlinfra apply [args]` for a push of after onto before (the checkout moved to after). */
void mi_cycle_run_apply(struct mi_test_run *out, struct mi_cycle *w, const char *before,
                        const char *after, const char *const *args, const char *const *extra)
{
    mi_test_repo_reset(w->r, after);
    char *event = mi_cycle_push_event(w, before, after);
    mi_cycle_truncate(w, "output");
    mi_cycle_truncate(w, "summary");
    char **env = mi_cycle_env(w, "push", event, extra);
    char *argv[16] = {(char *)mi_test_binary(), "apply", NULL};
    for (size_t i = 0; args && args[i] && i < 12; i++) {
        argv[2 + i] = (char *)args[i];
        argv[3 + i] = NULL;
    }
    mi_test_run_cmd(out, argv, env, w->r->dir, w->run_timeout_ms ? w->run_timeout_ms : 60000);
    mi_cycle_env_free(env);
    free(event);
}

/* A run in the background: stdout and stderr go to files. */
void mi_cycle_store_status(struct mi_cycle *w, const char *head, long long pr,
                           enum mi_store_status want, const char *detail_part)
{
    struct mi_store *s = mi_cycle_open_store(w);
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

void mi_cycle_share_begin(void)
{
    mi_test_github_share_begin();
    mi_azuretest_shared_start();
    mi_cycle_template_make();
}

void mi_cycle_share_end(void)
{
    mi_azuretest_shared_stop();
    mi_test_github_share_end();
    mi_cycle_template_remove();
}

char *mi_cycle_planned_merge(struct mi_cycle *w, long long pr, const char *from,
                             const char *message, const char *tfvars, char **head_out)
{
    char *head =
        mi_cycle_pr_commit(w, from, message, "environments/dev/terraform.tfvars", tfvars, NULL);
    mi_cycle_seed_pull(w, pr, head, from, 0, NULL, NULL);
    mi_cycle_plan_ok(w, pr, head, from);
    char *merge = mi_cycle_merge_commit(w, from, head, pr);
    mi_cycle_seed_pull(w, pr, head, from, 1, merge, NULL);
    if (head_out)
        *head_out = head;
    else
        free(head);
    return merge;
}
