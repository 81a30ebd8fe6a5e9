/* End-to-end tests of the comment's "Changes since the previous plan" section (issue 9): the
 * built binary against the GitHub REST double and the terraform double, with a local plan
 * store. A first push is planned and sealed with its change summary beside it; a second push
 * of the same pull request (another head commit) plans another change set, and the updated
 * comment says what was added to it, dropped from it and what changed action. */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "events.h"
#include "github_double.h"
#include "gitrepo.h"
#include "store/store.h"
#include "testsupport.h"
#include "util/error.h"
#include "util/fs.h"

#define PLAN_KEY "MLINFRA_PLAN_KEY=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define SECTION "### Changes since the previous plan"

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    (void)set;
    mi_test_github_share_begin();
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    (void)stats;
    mi_test_github_share_end();
}

struct world {
    struct mi_test_github *gh;
    struct mi_test_repo *git;
    char *dir; /* temporary: event.json, output, summary, tf.log, store/ */
    char *event;
    char *output;
    char *summary;
    char *tflog;
    char *terraform;
    char *store;
    char *store_env;
};

static json_t *load_fixture(const char *name)
{
    char *rel = mi_xasprintf("tests/fixtures/plans/%s", name);
    char *path = mi_test_path(rel);
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    cr_assert(j, "%s: %s", path, err.text);
    free(path);
    free(rel);
    return j;
}

/* Commits the plan the terraform double will report; returns the new commit (caller frees). */
static char *push_plan(struct world *w, json_t *plan, const char *message)
{
    char *text = json_dumps(plan, JSON_INDENT(1));
    mi_test_repo_write(w->git, "environments/dev/.tfdouble/plan.json", text);
    free(text);
    return mi_test_repo_commit(w->git, message);
}

static void write_event(struct world *w, const char *head_sha)
{
    json_t *ev = mi_test_event_pull_request(&(struct mi_test_pr_event){
        1, MI_TEST_GITHUB_REPO, NULL, "dev", MI_TEST_GITHUB_BASE_SHA, "feature-1", head_sha});
    free(w->event);
    w->event = mi_test_event_write(ev, w->dir, "event.json");
    json_decref(ev);
}

static void setup(struct world *w)
{
    memset(w, 0, sizeof(*w));
    w->gh = mi_test_github_start();
    mi_test_github_seed_default(w->gh);
    w->dir = mi_test_tmpdir();
    /* The checkout is a git repository: the seal binds its commit's configuration. */
    w->git = mi_test_repo_init();
    mi_test_repo_write(w->git, "environments/dev/main.tf",
                       "resource \"terraform_data\" \"x\" {}\n");
    w->output = mi_xasprintf("%s/github_output", w->dir);
    w->summary = mi_xasprintf("%s/step_summary", w->dir);
    w->tflog = mi_xasprintf("%s/tf.log", w->dir);
    w->terraform = mi_test_terraform_double();
    w->store = mi_xasprintf("%s/store", w->dir);
    w->store_env = mi_xasprintf("MLINFRA_STORE=file://%s", w->store);
}

static void teardown(struct world *w)
{
    mi_test_github_stop(w->gh);
    mi_test_repo_free(w->git);
    mi_test_rmtree(w->dir);
    free(w->dir);
    free(w->event);
    free(w->output);
    free(w->summary);
    free(w->tflog);
    free(w->terraform);
    free(w->store);
    free(w->store_env);
}

/* Runs `mlinfra plan` as the workflow would for a push of head_sha. */
static void run_plan(struct mi_test_run *r, struct world *w, const char *head_sha)
{
    write_event(w, head_sha);
    char *env[40];
    size_t n = 0;
    env[n++] = mi_xasprintf("GITHUB_ACTIONS=true");
    env[n++] = mi_xasprintf("GITHUB_EVENT_NAME=pull_request");
    env[n++] = mi_xasprintf("GITHUB_EVENT_PATH=%s", w->event);
    env[n++] = mi_xasprintf("GITHUB_REPOSITORY=%s", MI_TEST_GITHUB_REPO);
    env[n++] = mi_xasprintf("GITHUB_REF=refs/pull/1/merge");
    env[n++] = mi_xasprintf("GITHUB_SHA=2222222222222222222222222222222222222222");
    env[n++] = mi_xasprintf("GITHUB_API_URL=%s", w->gh->url);
    env[n++] = mi_xasprintf("GITHUB_TOKEN=%s", MI_TEST_GITHUB_TOKEN);
    env[n++] = mi_xasprintf("GITHUB_WORKSPACE=%s", w->git->dir);
    env[n++] = mi_xasprintf("GITHUB_OUTPUT=%s", w->output);
    env[n++] = mi_xasprintf("GITHUB_STEP_SUMMARY=%s", w->summary);
    env[n++] = mi_xasprintf("RUNNER_TEMP=%s", w->dir);
    env[n++] = mi_xasprintf("MLINFRA_TERRAFORM=%s", w->terraform);
    env[n++] = mi_xasprintf("TFDOUBLE_LOG=%s", w->tflog);
    env[n++] = mi_xstrdup(w->store_env);
    env[n++] = mi_xstrdup(PLAN_KEY);
    env[n] = NULL;
    char *argv[] = {(char *)mi_test_binary(), "plan", NULL};
    mi_test_run_cmd(r, argv, env, w->git->dir, 60000);
    for (size_t i = 0; i < n; i++)
        free(env[i]);
}

/* The body of the plan comment on pull request #1 (caller frees); there must be one. */
static char *the_comment(struct world *w)
{
    json_t *state = mi_test_github_get(w->gh, "state");
    json_t *c = json_object_get(
        json_object_get(json_object_get(state, "repos"), MI_TEST_GITHUB_REPO), "comments");
    char *body = NULL;
    size_t i, found = 0;
    json_t *x;
    json_array_foreach(c, i, x)
    {
        if (json_integer_value(json_object_get(x, "issue")) != 1)
            continue;
        found++;
        free(body);
        body = mi_xstrdup(json_string_value(json_object_get(x, "body")));
    }
    json_decref(state);
    cr_assert_eq(found, 1, "one plan comment, edited in place");
    return body;
}

static json_t *change_of(json_t *plan, const char *address)
{
    json_t *rcs = json_object_get(plan, "resource_changes");
    size_t i;
    json_t *rc;
    json_array_foreach(rcs, i, rc)
    {
        if (!strcmp(json_string_value(json_object_get(rc, "address")), address))
            return rc;
    }
    cr_assert_fail("the fixture has no %s", address);
    return NULL;
}

static void set_actions(json_t *plan, const char *address, const char *action)
{
    json_t *change = json_object_get(change_of(plan, address), "change");
    json_object_set_new(change, "actions", json_pack("[s]", action));
}

/* Fixture B: A with one resource no longer changed (dropped), one more changed (added) and
 * one changing action (changed). */
static json_t *fixture_b(void)
{
    json_t *b = load_fixture("aks_mlflow_replace.json");
    /* added: a copy of a created resource under another name */
    json_t *extra = json_deep_copy(change_of(b, "module.mlflow.random_password.db"));
    json_object_set_new(extra, "address", json_string("module.mlflow.random_password.extra"));
    json_object_set_new(extra, "name", json_string("extra"));
    json_array_append_new(json_object_get(b, "resource_changes"), extra);
    set_actions(b, "module.mlflow.random_password.db", "no-op"); /* create -> dropped */
    json_t *c = json_object_get(change_of(b, "azurerm_key_vault_secret.db_password"), "change");
    json_object_set_new(c, "actions", json_pack("[s]", "delete")); /* update -> delete */
    json_object_set_new(c, "after", json_null());
    json_object_set_new(c, "after_unknown", json_object());
    json_object_set_new(c, "after_sensitive", json_false());
    return b;
}

static char *row_of(const char *body, const char *address)
{
    char *needle = mi_xasprintf("| `%s` |", address);
    const char *p = strstr(body, needle);
    free(needle);
    if (!p)
        return NULL;
    const char *end = strchr(p, '\n');
    return mi_xstrndup(p, end ? (size_t)(end - p) : strlen(p));
}

Test(plan_diff, second_push_shows_what_changed_since_the_previous_plan)
{
    struct world w;
    setup(&w);
    json_t *a = load_fixture("aks_mlflow_replace.json");
    char *sha_a = push_plan(&w, a, "plan A");
    json_decref(a);

    /* The first plan of the PR has nothing to compare with. */
    struct mi_test_run r;
    run_plan(&r, &w, sha_a);
    cr_assert_eq(r.exit_code, 0, "stderr:\n%s", r.err.ptr);
    char *body = the_comment(&w);
    cr_assert(strstr(body, "**Plan: ") != NULL, "%s", body);
    cr_assert(strstr(body, SECTION) == NULL, "a first plan has no such section:\n%s", body);
    free(body);
    char *summary_a = mi_xasprintf("%s/%s/dev/pr-1/%s.tfplan.sealed.summary.json", w.store,
                                   MI_TEST_GITHUB_REPO, sha_a);
    mi_buf text = MI_BUF_INIT;
    cr_assert_eq(mi_fs_read_file(&text, summary_a, 0), 0, "no summary beside the plan: %s",
                 r.err.ptr);
    cr_assert(strstr(text.ptr, "\"format\":\"mlinfra.plan-summary/1\""), "%s", text.ptr);
    cr_assert(strstr(text.ptr, "\"module.mlflow.random_password.db\":\"create\""), "%s", text.ptr);
    cr_assert(strstr(text.ptr, "new-db-password") == NULL, "no values in the summary");
    mi_buf_release(&text);
    mi_test_run_release(&r);

    /* The second push: another commit of the same PR, another change set. */
    json_t *b = fixture_b();
    char *sha_b = push_plan(&w, b, "plan B");
    json_decref(b);
    cr_assert(strcmp(sha_a, sha_b) != 0);
    run_plan(&r, &w, sha_b);
    cr_assert_eq(r.exit_code, 0, "stderr:\n%s", r.err.ptr);
    body = the_comment(&w);
    const char *at = strstr(body, SECTION);
    cr_assert(at, "the updated comment has the section:\n%s", body);
    /* Under the counts, before the commit table and the plan's own tables. */
    cr_assert(strstr(body, "**Plan: ") < at, "%s", body);
    const char *table = strstr(at, "| Environment |");
    cr_assert(table, "%s", body);
    char *sec = mi_xstrndup(at, (size_t)(table - at));
    cr_assert(strstr(sec, "1 added to the change set, 1 dropped from it, 1 with another action"),
              "%s", sec);
    char *short_a = mi_xstrndup(sha_a, 7);
    cr_assert(strstr(sec, short_a), "names the previous commit:\n%s", sec);
    free(short_a);

    char *row = row_of(sec, "module.mlflow.random_password.extra");
    cr_assert(row, "the added resource is listed:\n%s", sec);
    cr_assert(strstr(row, "**create**"), "%s", row);
    free(row);
    row = row_of(sec, "module.mlflow.random_password.db");
    cr_assert(row, "the dropped resource is listed:\n%s", sec);
    cr_assert(strstr(row, "create") && strstr(row, "no change"), "%s", row);
    free(row);
    row = row_of(sec, "azurerm_key_vault_secret.db_password");
    cr_assert(row, "the resource with another action is listed:\n%s", sec);
    cr_assert(strstr(row, "| update |") && strstr(row, "**delete**"), "%s", row);
    free(row);
    /* Unchanged entries of both change sets are not rows. */
    cr_assert_null(row_of(sec, "module.mlflow.helm_release.mlflow"), "%s", sec);
    cr_assert_null(row_of(sec, "azurerm_resource_group.main"), "%s", sec);
    free(sec);
    free(body);
    mi_test_github_assert_conforming(w.gh);

    /* The new plan got its own summary, and removing a plan removes its summary. */
    char *summary_b = mi_xasprintf("%s/%s/dev/pr-1/%s.tfplan.sealed.summary.json", w.store,
                                   MI_TEST_GITHUB_REPO, sha_b);
    cr_assert(mi_fs_exists(summary_b));
    struct mi_store_config cfg = {0};
    cfg.url = w.store_env + strlen("MLINFRA_STORE=");
    struct mi_store *s = NULL;
    cr_assert_eq(mi_store_open(&s, &cfg, MI_TEST_GITHUB_REPO), 0, "%s", mi_error_last());
    mi_buf got = MI_BUF_INIT;
    cr_assert_eq(mi_store_get_summary(s, "dev", 1, sha_b, &got), 0, "%s", mi_error_last());
    cr_assert(strstr(got.ptr, "\"module.mlflow.random_password.extra\":\"create\""), "%s", got.ptr);
    mi_buf_release(&got);
    cr_assert_eq(mi_store_remove(s, "dev", 1, sha_a), 0, "%s", mi_error_last());
    cr_assert_not(mi_fs_exists(summary_a), "the summary went with its plan");
    cr_assert_eq(mi_store_get_summary(s, "dev", 1, sha_a, &got), MI_ENOTFOUND);
    cr_assert_eq(got.len, 0);
    mi_store_free(s);

    free(summary_a);
    free(summary_b);
    free(sha_a);
    free(sha_b);
    mi_test_run_release(&r);
    teardown(&w);
}

/* A previous plan whose summary is unreadable costs the section, never the plan. */
Test(plan_diff, a_corrupt_previous_summary_is_a_warning)
{
    struct world w;
    setup(&w);
    json_t *a = load_fixture("aks_mlflow_replace.json");
    char *sha_a = push_plan(&w, a, "plan A");
    struct mi_test_run r;
    run_plan(&r, &w, sha_a);
    cr_assert_eq(r.exit_code, 0, "stderr:\n%s", r.err.ptr);
    mi_test_run_release(&r);
    char *summary_a = mi_xasprintf("%s/%s/dev/pr-1/%s.tfplan.sealed.summary.json", w.store,
                                   MI_TEST_GITHUB_REPO, sha_a);
    const char *junk = "{\"format\":\"something-else/9\"}";
    cr_assert_eq(mi_fs_write_file_atomic(summary_a, junk, strlen(junk), 0600), 0);

    mi_test_repo_write(w.git, "environments/dev/main.tf",
                       "resource \"terraform_data\" \"x\" {}\n# another commit\n");
    char *sha_b = push_plan(&w, a, "plan A again, another commit");
    json_decref(a);
    run_plan(&r, &w, sha_b);
    cr_assert_eq(r.exit_code, 0, "stderr:\n%s", r.err.ptr);
    cr_assert(strstr(r.err.ptr, "::warning::"), "warned:\n%s", r.err.ptr);
    char *body = the_comment(&w);
    cr_assert(strstr(body, SECTION) == NULL, "%s", body);
    cr_assert(strstr(body, "not stored") == NULL, "the plan was still stored:\n%s", body);
    free(body);
    free(summary_a);
    free(sha_a);
    free(sha_b);
    mi_test_run_release(&r);
    teardown(&w);
}
