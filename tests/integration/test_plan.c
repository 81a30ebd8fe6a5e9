/* End-to-end tests of `mlinfra plan`: the built binary against the GitHub REST double
 * (tests/doubles/github, requests checked against GitHub's OpenAPI description) and the
 * terraform double (tests/doubles/terraform), for a pull request event from GitHub's own
 * recorded payloads. */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "events.h"
#include "github_double.h"
#include "gitrepo.h"
#include "testsupport.h"
#include "util/fs.h"

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

/* A value that is sensitive in the aks fixture's plan JSON, planted in terraform's text. */
#define PLANTED_SECRET "new-db-password-Xk42!"

struct world {
    struct mi_test_github *gh;
    char *dir; /* temporary: repo/, event.json, output, summary, tf.log */
    char *repo;
    char *envdir; /* repo/environments/dev */
    char *event;
    char *output;
    char *summary;
    char *tflog;
    char *terraform;
    const char *event_name; /* GITHUB_EVENT_NAME: "pull_request" unless a test says */
};

/* The plan key of the runs that store their plan. */
#define STORE_PLAN_KEY "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

static void write_text(const char *path, const char *text)
{
    cr_assert_eq(mi_fs_write_file_atomic(path, text, strlen(text), 0644), 0);
}

static void use_plan(struct world *w, const char *fixture)
{
    char *rel = mi_xasprintf("tests/fixtures/plans/%s", fixture);
    char *src = mi_test_path(rel);
    char *dst = mi_xasprintf("%s/.tfdouble/plan.json", w->envdir);
    mi_buf data = MI_BUF_INIT;
    cr_assert_eq(mi_fs_read_file(&data, src, 0), 0);
    cr_assert_eq(mi_fs_write_file_atomic(dst, data.ptr, data.len, 0644), 0);
    mi_buf_release(&data);
    free(dst);
    free(src);
    free(rel);
}

static void write_event(struct world *w, const char *head_repo)
{
    json_t *ev = mi_test_event_pull_request(
        &(struct mi_test_pr_event){1, MI_TEST_GITHUB_REPO, head_repo, "dev",
                                   MI_TEST_GITHUB_BASE_SHA, "feature-1", MI_TEST_GITHUB_HEAD_SHA});
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
    w->repo = mi_xasprintf("%s/repo", w->dir);
    w->envdir = mi_xasprintf("%s/environments/dev", w->repo);
    char *tfd = mi_xasprintf("%s/.tfdouble", w->envdir);
    cr_assert_eq(mi_fs_mkdir_p(tfd, 0755), 0);
    free(tfd);
    char *main_tf = mi_xasprintf("%s/main.tf", w->envdir);
    write_text(main_tf, "resource \"terraform_data\" \"mlflow\" {\n  input = \"x\"\n}\n");
    free(main_tf);
    w->output = mi_xasprintf("%s/github_output", w->dir);
    w->summary = mi_xasprintf("%s/step_summary", w->dir);
    w->tflog = mi_xasprintf("%s/tf.log", w->dir);
    w->terraform = mi_test_terraform_double();
    w->event_name = "pull_request";
    write_event(w, MI_TEST_GITHUB_REPO);
}

static void teardown(struct world *w)
{
    mi_test_github_stop(w->gh);
    mi_test_rmtree(w->dir);
    free(w->dir);
    free(w->repo);
    free(w->envdir);
    free(w->event);
    free(w->output);
    free(w->summary);
    free(w->tflog);
    free(w->terraform);
}

/* Runs `mlinfra plan [args]` as the workflow would; extra_env ("K=V", NULL-terminated) on
 * top of the workflow's variables. */
static void run_plan_args(struct mi_test_run *r, struct world *w, const char *token,
                          char *const extra_env[], const char *const args[])
{
    char *env[40];
    size_t n = 0;
    env[n++] = mi_xasprintf("GITHUB_ACTIONS=true");
    env[n++] = mi_xasprintf("GITHUB_EVENT_NAME=%s", w->event_name);
    env[n++] = mi_xasprintf("GITHUB_EVENT_PATH=%s", w->event);
    env[n++] = mi_xasprintf("GITHUB_REPOSITORY=%s", MI_TEST_GITHUB_REPO);
    env[n++] = mi_xasprintf("GITHUB_REF=refs/pull/1/merge");
    env[n++] = mi_xasprintf("GITHUB_SHA=2222222222222222222222222222222222222222");
    env[n++] = mi_xasprintf("GITHUB_API_URL=%s", w->gh->url);
    env[n++] = mi_xasprintf("GITHUB_TOKEN=%s", token ? token : "");
    env[n++] = mi_xasprintf("GITHUB_WORKSPACE=%s", w->repo);
    env[n++] = mi_xasprintf("GITHUB_OUTPUT=%s", w->output);
    env[n++] = mi_xasprintf("GITHUB_STEP_SUMMARY=%s", w->summary);
    env[n++] = mi_xasprintf("RUNNER_TEMP=%s", w->dir);
    env[n++] = mi_xasprintf("MLINFRA_TERRAFORM=%s", w->terraform);
    env[n++] = mi_xasprintf("TFDOUBLE_LOG=%s", w->tflog);
    env[n++] = mi_xasprintf("GITHUB_SERVER_URL=https://github.com");
    env[n++] = mi_xasprintf("GITHUB_RUN_ID=77");
    for (size_t i = 0; extra_env && extra_env[i]; i++)
        env[n++] = mi_xstrdup(extra_env[i]);
    env[n] = NULL;
    char *argv[16] = {(char *)mi_test_binary(), "plan", NULL};
    for (size_t i = 0; args && args[i] && i < 12; i++) {
        argv[2 + i] = (char *)args[i];
        argv[3 + i] = NULL;
    }
    mi_test_run_cmd(r, argv, env, w->repo, 60000);
    for (size_t i = 0; i < n; i++)
        free(env[i]);
}

static void run_plan(struct mi_test_run *r, struct world *w, const char *token,
                     char *const extra_env[])
{
    run_plan_args(r, w, token, extra_env, NULL);
}

/* The comments on pull request #1 (a new reference). */
static json_t *comments(struct world *w)
{
    json_t *state = mi_test_github_get(w->gh, "state");
    json_t *c = json_object_get(
        json_object_get(json_object_get(state, "repos"), MI_TEST_GITHUB_REPO), "comments");
    json_t *list = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(c, i, x) if (json_integer_value(json_object_get(x, "issue")) == 1)
        json_array_append(list, x);
    json_decref(state);
    return list;
}

static const char *comment_body(json_t *list, size_t i)
{
    return json_string_value(json_object_get(json_array_get(list, i), "body"));
}

/* 1 when secret shows in a line of the log other than the ::add-mask:: command that hands it
 * to the runner for masking (which the runner consumes and never shows). from: only after
 * this text (NULL: the whole log). */
/* mi_test_leaks from the first occurrence of from on (NULL: the whole log). */
static int log_leaks(const char *log, const char *secret, const char *from)
{
    const char *f = from ? strstr(log, from) : NULL;
    return mi_test_leaks(f ? f : log, secret);
}

static char *read_file(const char *path)
{
    mi_buf b = MI_BUF_INIT;
    cr_assert_eq(mi_fs_read_file(&b, path, 0), 0, "%s", path);
    return mi_buf_detach(&b);
}

Test(plan, comment_created_then_updated_in_place)
{
    struct world w;
    setup(&w);
    use_plan(&w, "aks_mlflow_replace.json");
    char *txt = mi_xasprintf("%s/.tfdouble/plan.txt", w.envdir);
    write_text(txt, "Terraform will perform the following actions:\n"
                    "  # azurerm_key_vault_secret.db_password will be updated in-place\n"
                    "      value = \"" PLANTED_SECRET "\"\n"
                    "Plan: 3 to add, 2 to change, 3 to destroy.\n");
    struct mi_test_run r;
    run_plan(&r, &w, MI_TEST_GITHUB_TOKEN, NULL);
    cr_assert_eq(r.exit_code, 0, "stderr:\n%s", r.err.ptr);
    cr_assert(strstr(r.err.ptr, "::group::terraform plan"), "log groups: %s", r.err.ptr);
    /* terraform's own plan output streams live, before its JSON tells which values are
     * sensitive (real terraform prints "(sensitive value)" there); from then on the value is
     * masked in everything the agent writes. */
    cr_assert_not(log_leaks(r.err.ptr, PLANTED_SECRET, "::add-mask::" PLANTED_SECRET),
                  "the log leaks the secret: %s", r.err.ptr);

    json_t *list = comments(&w);
    cr_assert_eq(json_array_size(list), 1);
    const char *body = comment_body(list, 0);
    cr_assert(strncmp(body, "<!-- mlinfra:plan env=dev -->", 29) == 0);
    cr_assert(strstr(body, "**Plan: 1 to import, 3 to add, 2 to change, 3 to destroy "
                           "(2 replacements).**"),
              "%s", body);
    cr_assert(strstr(body, "2 resources will be replaced"));
    cr_assert(strstr(body, "`default_node_pool[0].vm_size`"));
    cr_assert(strstr(body, "`111111111111`"), "head commit");
    cr_assert(strstr(body, "`sha256:"), "plan id");
    cr_assert(strstr(body, "https://github.com/octo-org/infra/actions/runs/77"));
    cr_assert(strstr(body, PLANTED_SECRET) == NULL, "the comment leaks the secret");
    cr_assert(strstr(body, "value = \"***\""));
    json_decref(list);

    char *out = read_file(w.output);
    cr_assert(strstr(out, "has_changes=true\n"), "%s", out);
    cr_assert(strstr(out, "add=3\n"));
    cr_assert(strstr(out, "change=2\n"));
    cr_assert(strstr(out, "destroy=3\n"));
    cr_assert(strstr(out, "replace=2\n"));
    cr_assert(strstr(out, "plan_id=sha256:"));
    cr_assert(strstr(out, "stored=false\n"), "no plan key, yet stored: %s", out);
    cr_assert(strstr(out, "comment_url=http"), "%s", out);
    free(out);
    char *summary = read_file(w.summary);
    cr_assert(strstr(summary, "<!-- mlinfra:plan env=dev -->"));
    cr_assert(strstr(summary, PLANTED_SECRET) == NULL);
    free(summary);
    char *log = read_file(w.tflog);
    cr_assert(strstr(log, "\tinit\t-input=false\t-no-color"), "%s", log);
    cr_assert(strstr(log, "\tplan\t-input=false\t-no-color\t-out="));
    cr_assert(strstr(log, "\t-detailed-exitcode\t-lock-timeout=5m"));
    cr_assert(strstr(log, "TF_IN_AUTOMATION=1"));
    free(log);
    mi_test_run_release(&r);

    /* A second push with another plan: the same comment is edited, no second one. */
    unlink(txt);
    use_plan(&w, "tc_issue_522_drift.json");
    unlink(w.output);
    run_plan(&r, &w, MI_TEST_GITHUB_TOKEN, NULL);
    cr_assert_eq(r.exit_code, 0, "stderr:\n%s", r.err.ptr);
    list = comments(&w);
    cr_assert_eq(json_array_size(list), 1, "updated in place, not duplicated");
    body = comment_body(list, 0);
    cr_assert(strstr(body, "`aws_lambda_function.lambda`"), "%s", body);
    cr_assert(strstr(body, "default_node_pool") == NULL, "the old plan is gone");
    json_decref(list);
    cr_assert_eq(mi_test_github_count(w.gh, "POST", "/issues/1/comments"), 1);
    cr_assert_eq(mi_test_github_count(w.gh, "PATCH", "/issues/comments/"), 1);
    mi_test_github_assert_conforming(w.gh);
    free(txt);
    mi_test_run_release(&r);
    teardown(&w);
}

Test(plan, no_changes)
{
    struct world w;
    setup(&w);
    use_plan(&w, "tc_issue_173_empty.json");
    struct mi_test_run r;
    run_plan(&r, &w, MI_TEST_GITHUB_TOKEN, NULL);
    cr_assert_eq(r.exit_code, 0, "stderr:\n%s", r.err.ptr);
    json_t *list = comments(&w);
    cr_assert_eq(json_array_size(list), 1);
    cr_assert(strstr(comment_body(list, 0), "**No changes.**"));
    json_decref(list);
    char *out = read_file(w.output);
    cr_assert(strstr(out, "has_changes=false\n"), "%s", out);
    cr_assert(strstr(out, "add=0\n"));
    free(out);
    mi_test_run_release(&r);
    teardown(&w);
}

Test(plan, only_output_changes)
{
    struct world w;
    setup(&w);
    use_plan(&w, "tc_issue_242_outputs_only.json");
    struct mi_test_run r;
    run_plan(&r, &w, MI_TEST_GITHUB_TOKEN, NULL);
    cr_assert_eq(r.exit_code, 0, "stderr:\n%s", r.err.ptr);
    json_t *list = comments(&w);
    const char *body = comment_body(list, 0);
    cr_assert(strstr(body, "0 to add, 0 to change, 0 to destroy; 1 output to change"), "%s", body);
    cr_assert(strstr(body, "| `emails` | create |"));
    json_decref(list);
    char *out = read_file(w.output);
    cr_assert(strstr(out, "has_changes=true\n"), "terraform said exit code 2: %s", out);
    free(out);
    mi_test_run_release(&r);
    teardown(&w);
}

Test(plan, terraform_failing_at_each_step_is_reported)
{
    const char *steps[] = {"init", "plan", "show"};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        struct world w;
        setup(&w);
        use_plan(&w, "aks_mlflow_replace.json");
        char fail[64], msg[128];
        snprintf(fail, sizeof(fail), "TFDOUBLE_FAIL=%s", steps[i]);
        snprintf(msg, sizeof(msg), "TFDOUBLE_FAIL_MESSAGE=injected %s failure", steps[i]);
        char *extra[] = {fail, msg, NULL};
        struct mi_test_run r;
        run_plan(&r, &w, MI_TEST_GITHUB_TOKEN, extra);
        cr_assert_eq(r.exit_code, 1, "%s: stderr:\n%s", steps[i], r.err.ptr);
        json_t *list = comments(&w);
        cr_assert_eq(json_array_size(list), 1, "%s: the failure is commented", steps[i]);
        const char *body = comment_body(list, 0);
        char want[128];
        snprintf(want, sizeof(want), "**`terraform %s` failed**", steps[i]);
        cr_assert(strstr(body, want), "%s: %s", steps[i], body);
        snprintf(want, sizeof(want), "injected %s failure", steps[i]);
        cr_assert(strstr(body, want), "%s: error tail: %s", steps[i], body);
        json_decref(list);
        char *out = read_file(w.output);
        cr_assert(strstr(out, "has_changes=false\n"));
        free(out);
        mi_test_run_release(&r);
        teardown(&w);
    }
}

Test(plan, validate_diagnostics_become_annotations)
{
    struct world w;
    setup(&w);
    char *vj = mi_xasprintf("%s/.tfdouble/validate.json", w.envdir);
    write_text(vj, "{\"format_version\":\"1.0\",\"valid\":false,\"error_count\":1,"
                   "\"warning_count\":0,\"diagnostics\":[{\"severity\":\"error\","
                   "\"summary\":\"Unsupported argument\",\"detail\":\"An argument named "
                   "\\\"inptu\\\" is not expected here.\",\"range\":{\"filename\":\"main.tf\","
                   "\"start\":{\"line\":2,\"column\":3,\"byte\":40},\"end\":{\"line\":2,"
                   "\"column\":8,\"byte\":45}}}]}");
    free(vj);
    struct mi_test_run r;
    run_plan(&r, &w, MI_TEST_GITHUB_TOKEN, NULL);
    cr_assert_eq(r.exit_code, 1);
    cr_assert(strstr(r.err.ptr, "::error file=environments/dev/main.tf,line=2,"
                                "title=Unsupported argument::An argument named \"inptu\" is not "
                                "expected here."),
              "%s", r.err.ptr);
    json_t *list = comments(&w);
    const char *body = comment_body(list, 0);
    cr_assert(strstr(body, "**`terraform validate` failed**"));
    cr_assert(strstr(body, "Unsupported argument (main.tf line 2)"), "%s", body);
    json_decref(list);
    mi_test_run_release(&r);
    teardown(&w);
}

Test(plan, github_failing_transiently_is_recovered)
{
    struct world w;
    setup(&w);
    use_plan(&w, "aks_mlflow_replace.json");
    mi_test_github_fail(w.gh, "[{\"path\": \"/issues/1/comments\", \"method\": \"GET\", "
                              "\"status\": 502, \"count\": 1},"
                              "{\"path\": \"/issues/1/comments\", \"method\": \"POST\", "
                              "\"kind\": \"secondary_rate_limit\", \"retry_after\": 1, "
                              "\"count\": 1}]");
    struct mi_test_run r;
    run_plan(&r, &w, MI_TEST_GITHUB_TOKEN, NULL);
    cr_assert_eq(r.exit_code, 0, "stderr:\n%s", r.err.ptr);
    json_t *list = comments(&w);
    cr_assert_eq(json_array_size(list), 1);
    json_decref(list);
    cr_assert_geq(mi_test_github_count(w.gh, "POST", "/issues/1/comments"), 2, "retried");
    mi_test_run_release(&r);
    teardown(&w);
}

Test(plan, github_failing_permanently_is_a_clear_error)
{
    struct world w;
    setup(&w);
    use_plan(&w, "aks_mlflow_replace.json");
    struct mi_test_run r;
    run_plan(&r, &w, MI_TEST_GITHUB_READONLY_TOKEN, NULL);
    cr_assert_eq(r.exit_code, 1, "stderr:\n%s", r.err.ptr);
    cr_assert(strstr(r.err.ptr, "cannot post the plan comment"), "%s", r.err.ptr);
    cr_assert(strstr(r.err.ptr, "pull-requests: write"), "names the permission: %s", r.err.ptr);
    cr_assert_not(log_leaks(r.err.ptr, MI_TEST_GITHUB_READONLY_TOKEN, NULL), "token leaked");
    char *summary = read_file(w.summary);
    cr_assert(strstr(summary, "**Plan: 1 to import"), "the summary is still written");
    free(summary);
    mi_test_run_release(&r);
    teardown(&w);
}

Test(plan, without_a_token_the_comment_is_printed)
{
    struct world w;
    setup(&w);
    use_plan(&w, "aks_mlflow_replace.json");
    struct mi_test_run r;
    run_plan(&r, &w, NULL, NULL);
    cr_assert_eq(r.exit_code, 0, "stderr:\n%s", r.err.ptr);
    cr_assert(strncmp(r.out.ptr, "<!-- mlinfra:plan env=dev -->", 29) == 0, "%s", r.out.ptr);
    cr_assert_eq(mi_test_github_count(w.gh, NULL, NULL), 0, "nothing sent to GitHub");
    mi_test_run_release(&r);
    teardown(&w);
}

Test(plan, fork_pull_request_is_planned_and_says_it_is_not_stored)
{
    struct world w;
    setup(&w);
    use_plan(&w, "aks_mlflow_replace.json");
    write_event(&w, "someone-else/infra");
    struct mi_test_run r;
    run_plan(&r, &w, MI_TEST_GITHUB_TOKEN, NULL);
    cr_assert_eq(r.exit_code, 0, "stderr:\n%s", r.err.ptr);
    json_t *list = comments(&w);
    cr_assert(strstr(comment_body(list, 0), "comes from a fork"), "%s", comment_body(list, 0));
    json_decref(list);
    char *out = read_file(w.output);
    cr_assert(strstr(out, "stored=false\n"), "%s", out);
    free(out);
    mi_test_run_release(&r);
    teardown(&w);
}

/* Under pull_request_target the run holds this repository's secrets and a write token even
 * for a fork, and terraform runs part of what it plans: nothing runs, nothing is posted or
 * stored, and the refusal says which event, which fork and what to use instead. */
Test(plan, fork_head_under_pull_request_target_is_refused)
{
    struct world w;
    setup(&w);
    use_plan(&w, "aks_mlflow_replace.json");
    write_event(&w, "mallory/infra");
    w.event_name = "pull_request_target";
    char *store = mi_xasprintf("%s/store", w.dir);
    char *store_env = mi_xasprintf("MLINFRA_STORE=file://%s", store);
    char *extra[] = {store_env,
                     "MLINFRA_PLAN_KEY=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", NULL};
    struct mi_test_run r;
    run_plan(&r, &w, MI_TEST_GITHUB_TOKEN, extra);
    cr_assert_eq(r.exit_code, 2, "stderr:\n%s", r.err.ptr);
    cr_assert(strstr(r.err.ptr, "refusing to plan pull request #1"), "%s", r.err.ptr);
    cr_assert(strstr(r.err.ptr, "fork (mallory/infra)"), "%s", r.err.ptr);
    cr_assert(strstr(r.err.ptr, "pull_request_target event"), "%s", r.err.ptr);
    cr_assert(strstr(r.err.ptr, "on the pull_request event instead"), "%s", r.err.ptr);
    cr_assert(strstr(r.err.ptr, "::error::"), "the refusal is an annotation: %s", r.err.ptr);
    cr_assert_not(mi_fs_exists(w.tflog), "terraform ran on the fork's code");
    cr_assert_eq(mi_test_github_count(w.gh, NULL, NULL), 0, "nothing sent to GitHub");
    cr_assert_not(mi_fs_exists(store), "something was stored");
    cr_assert_not(log_leaks(r.err.ptr, STORE_PLAN_KEY, NULL));

    /* The same pull request on pull_request (no secrets for a fork) is planned as before. */
    w.event_name = "pull_request";
    mi_test_run_release(&r);
    run_plan(&r, &w, MI_TEST_GITHUB_TOKEN, NULL);
    cr_assert_eq(r.exit_code, 0, "stderr:\n%s", r.err.ptr);
    cr_assert(mi_fs_exists(w.tflog));
    free(store_env);
    free(store);
    mi_test_run_release(&r);
    teardown(&w);
}

/* A run that can store its plan: the checkout is a git repository (the seal binds the
 * configuration fingerprint of its commit), with a local store and a plan key. The run's
 * result goes to r; returns the path the sealed plan must have (caller frees). */
static char *plan_into_store(struct world *w, struct mi_test_run *r)
{
    struct mi_test_repo *git = mi_test_repo_init();
    mi_test_repo_write(git, "environments/dev/main.tf", "resource \"terraform_data\" \"x\" {}\n");
    char *fixture = mi_test_path("tests/fixtures/plans/aks_mlflow_replace.json");
    mi_buf plan_json = MI_BUF_INIT;
    cr_assert_eq(mi_fs_read_file(&plan_json, fixture, 0), 0);
    mi_test_repo_write(git, "environments/dev/.tfdouble/plan.json", plan_json.ptr);
    free(mi_test_repo_commit(git, "environment"));
    free(w->repo);
    w->repo = mi_xstrdup(git->dir);
    char *store = mi_xasprintf("%s/store", w->dir);
    char *store_env = mi_xasprintf("MLINFRA_STORE=file://%s", store);
    char *extra[] = {store_env, "MLINFRA_PLAN_KEY=" STORE_PLAN_KEY, NULL};
    run_plan(r, w, MI_TEST_GITHUB_TOKEN, extra);
    char *sealed = mi_xasprintf("%s/%s/dev/pr-1/%s.tfplan.sealed", store, MI_TEST_GITHUB_REPO,
                                MI_TEST_GITHUB_HEAD_SHA);
    free(store_env);
    free(store);
    free(fixture);
    mi_buf_release(&plan_json);
    mi_test_repo_free(git);
    return sealed;
}

/* A head in this repository is as trusted under pull_request_target as under pull_request:
 * planned, commented and sealed for apply. */
Test(plan, same_repository_head_under_pull_request_target_is_planned_and_stored)
{
    struct world w;
    setup(&w);
    w.event_name = "pull_request_target";
    struct mi_test_run r;
    char *sealed = plan_into_store(&w, &r);
    cr_assert_eq(r.exit_code, 0, "stderr:\n%s", r.err.ptr);
    cr_assert_null(strstr(r.err.ptr, "refusing"), "%s", r.err.ptr);
    cr_assert(mi_fs_exists(sealed), "no sealed plan at %s; stderr:\n%s", sealed, r.err.ptr);
    char *out = read_file(w.output);
    cr_assert(strstr(out, "stored=true\n"), "%s", out);
    free(out);
    json_t *list = comments(&w);
    cr_assert_eq(json_array_size(list), 1);
    cr_assert_null(strstr(comment_body(list, 0), "comes from a fork"));
    json_decref(list);
    free(sealed);
    mi_test_run_release(&r);
    teardown(&w);
}

Test(plan, terraform_over_its_time_limit_is_interrupted_and_reported)
{
    struct world w;
    setup(&w);
    use_plan(&w, "aks_mlflow_replace.json");
    char *extra[] = {"TFDOUBLE_SLEEP_MS=30000", "TFDOUBLE_SLEEP_STEP=plan", NULL};
    const char *args[] = {"--timeout", "1", NULL};
    struct mi_test_run r;
    run_plan_args(&r, &w, MI_TEST_GITHUB_TOKEN, extra, args);
    cr_assert_eq(r.exit_code, 1, "stderr:\n%s", r.err.ptr);
    /* terraform got SIGINT (its graceful stop) and said so before exiting. */
    cr_assert(strstr(r.err.ptr, "Interrupt received."), "%s", r.err.ptr);
    cr_assert(strstr(r.err.ptr, "did not finish within 1000 ms"), "%s", r.err.ptr);
    json_t *list = comments(&w);
    cr_assert(strstr(comment_body(list, 0), "**`terraform plan` failed**"));
    json_decref(list);
    mi_test_run_release(&r);
    teardown(&w);
}

Test(plan, policy_failures_are_rows_annotations_and_exit_3)
{
    struct world w;
    setup(&w);
    use_plan(&w, "aks_mlflow_replace.json");
    char *dir = mi_xasprintf("%s/policies", w.repo);
    cr_assert_eq(mi_fs_mkdir_p(dir, 0755), 0);
    char *feature = mi_xasprintf("%s/tags.feature", dir);
    write_text(feature, "Feature: Tags\n"
                        "\n"
                        "  Scenario: Resource groups name their owner\n"
                        "    Given I have azurerm_resource_group defined\n"
                        "    Then it must contain tags\n"
                        "    And it must contain owner\n"
                        "\n"
                        "  Scenario: Resource groups have tags\n"
                        "    Given I have azurerm_resource_group defined\n"
                        "    Then it must contain tags\n");
    struct mi_test_run r;
    run_plan(&r, &w, MI_TEST_GITHUB_TOKEN, NULL);
    json_t *list = comments(&w);
    cr_assert_eq(json_array_size(list), 1, "stderr:\n%s", r.err.ptr);
    const char *body = comment_body(list, 0);
    cr_assert_eq(r.exit_code, 3, "stderr:\n%s", r.err.ptr);
    cr_assert(strstr(body, "| ❌ failed | Resource groups name their owner | "
                           "`policies/tags.feature:3` |"),
              "%s", body);
    cr_assert(strstr(body, "| ✅ passed | Resource groups have tags |"), "%s", body);
    cr_assert(strstr(body, "1 policy scenario failed"));
    cr_assert(strstr(r.err.ptr, "::error file=policies/tags.feature,line="), "%s", r.err.ptr);
    json_decref(list);
    free(feature);
    free(dir);
    mi_test_run_release(&r);
    teardown(&w);
}

Test(plan, plan_is_sealed_into_the_store_for_apply)
{
    struct world w;
    setup(&w);
    struct mi_test_run r;
    char *sealed = plan_into_store(&w, &r);
    cr_assert_eq(r.exit_code, 0, "stderr:\n%s", r.err.ptr);
    cr_assert(mi_fs_exists(sealed), "no sealed plan at %s; stderr:\n%s", sealed, r.err.ptr);
    json_t *list = comments(&w);
    const char *body = comment_body(list, 0);
    cr_assert(strstr(body, "not stored") == NULL, "%s", body);
    cr_assert(strstr(body, "MLINFRA_PLAN_KEY") == NULL);
    json_decref(list);
    cr_assert_not(log_leaks(r.err.ptr, STORE_PLAN_KEY, NULL), "the plan key leaked");
    free(sealed);
    mi_test_run_release(&r);
    teardown(&w);
}
