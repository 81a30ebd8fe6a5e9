/* remote/deploy: one GitHub deployment per apply, moved in_progress -> success/failure, against
 * the GitHub double, which checks every request against GitHub's OpenAPI description. */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <stdlib.h>
#include <string.h>

#include "github_double.h"
#include "remote/deploy.h"
#include "remote/github.h"
#include "util/error.h"

#define RUN_URL "https://github.com/octo-org/infra/actions/runs/42"
#define PLAN_ID "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

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

static struct mi_test_github *g;
static mi_github *gh;

static mi_github *client_with(const char *token)
{
    struct mi_github_options o = {0};
    o.api_url = g->url;
    o.token = token;
    o.repository = MI_TEST_GITHUB_REPO;
    o.user_agent = "mlinfra-tests";
    o.retry.max_attempts = 3;
    o.retry.base_delay_ms = 10;
    o.retry.max_delay_ms = 1000;
    mi_github *c = NULL;
    cr_assert_eq(mi_github_new(&c, &o), 0, "%s", mi_error_last());
    return c;
}

static void setup(void)
{
    g = mi_test_github_start();
    mi_test_github_seed_default(g);
    gh = client_with(MI_TEST_GITHUB_TOKEN);
}

static void teardown(void)
{
    mi_github_free(gh);
    mi_test_github_stop(g);
}

TestSuite(deploy, .init = setup, .fini = teardown, .timeout = 120);

static struct mi_deploy_options options(void)
{
    struct mi_deploy_options o = {0};
    o.environment = "dev";
    o.ref = MI_TEST_GITHUB_HEAD_SHA;
    o.log_url = RUN_URL;
    o.plan_id = PLAN_ID;
    o.pr = 1;
    return o;
}

/* The states of the statuses the double received for deployments, in the order sent. */
static void assert_status_requests(const char *const *want, size_t n)
{
    json_t *reqs = mi_test_github_get(g, "requests");
    size_t seen = 0;
    size_t i;
    json_t *r;
    json_array_foreach(reqs, i, r)
    {
        const char *path = json_string_value(json_object_get(r, "path"));
        const char *method = json_string_value(json_object_get(r, "method"));
        if (!path || !strstr(path, "/statuses") || strcmp(method, "POST") != 0)
            continue;
        cr_assert_lt(seen, n, "more status requests than expected");
        const char *state = json_string_value(json_object_get(json_object_get(r, "body"), "state"));
        cr_assert_str_eq(state, want[seen], "status %zu", seen);
        seen++;
    }
    cr_assert_eq(seen, n);
    json_decref(reqs);
}

Test(deploy, successful_apply_moves_in_progress_then_success_with_the_address)
{
    struct mi_deploy_options o = options();
    struct mi_deploy *d = NULL;
    cr_assert_eq(mi_deploy_start(&d, gh, &o), 0, "%s", mi_error_last());
    cr_assert_not_null(d);
    cr_assert_gt(d->id, 0);
    cr_assert_str_eq(d->state, "in_progress");
    cr_assert_eq(
        mi_deploy_finish(d, gh, MI_DEPLOY_SUCCESS, "http://20.1.2.3:5000", "applied " PLAN_ID), 0,
        "%s", mi_error_last());
    cr_assert_str_eq(d->state, "success");

    /* What GitHub now holds: the statuses, newest first, with the address on success. */
    struct mi_github_deployment_status_list l = MI_GITHUB_DEPLOYMENT_STATUS_LIST_INIT;
    cr_assert_eq(mi_github_deployment_statuses_list(&l, gh, d->id), 0, "%s", mi_error_last());
    cr_assert_eq(l.len, 2);
    cr_assert_str_eq(l.items[0].state, "success");
    cr_assert_str_eq(l.items[0].environment_url, "http://20.1.2.3:5000");
    cr_assert_str_eq(l.items[0].environment, "dev");
    cr_assert_str_eq(l.items[0].log_url, RUN_URL);
    cr_assert_str_eq(l.items[1].state, "in_progress");
    mi_github_deployment_status_list_release(&l);

    /* The requests: one deployment for dev at the commit, with the PR and plan in its
     * payload, then the statuses in order. */
    json_t *reqs = mi_test_github_get(g, "requests");
    json_t *first = json_array_get(reqs, 0);
    cr_assert_str_eq(json_string_value(json_object_get(first, "method")), "POST");
    cr_assert(strstr(json_string_value(json_object_get(first, "path")), "/deployments"));
    json_t *body = json_object_get(first, "body");
    cr_assert_str_eq(json_string_value(json_object_get(body, "ref")), MI_TEST_GITHUB_HEAD_SHA);
    cr_assert_str_eq(json_string_value(json_object_get(body, "environment")), "dev");
    cr_assert_str_eq(json_string_value(json_object_get(body, "description")),
                     "mlinfra apply of pull request #1");
    json_t *payload = json_object_get(body, "payload");
    cr_assert_str_eq(json_string_value(json_object_get(payload, "plan_id")), PLAN_ID);
    cr_assert_eq(json_integer_value(json_object_get(payload, "pull_request")), 1);
    json_decref(reqs);
    static const char *const want[] = {"in_progress", "success"};
    assert_status_requests(want, 2);
    cr_assert_eq(mi_test_github_count(g, "POST", "/deployments"), 3);
    mi_test_github_assert_conforming(g);
    mi_deploy_free(d);
    mi_deploy_free(NULL);
}

Test(deploy, failed_apply_ends_in_failure_without_an_address)
{
    struct mi_deploy_options o = options();
    o.production = 1;
    o.description = "apply of #1";
    struct mi_deploy *d = NULL;
    cr_assert_eq(mi_deploy_start(&d, gh, &o), 0, "%s", mi_error_last());
    cr_assert_eq(mi_deploy_finish(d, gh, MI_DEPLOY_FAILURE, "http://20.1.2.3:5000",
                                  "terraform apply failed: Error: quota exceeded"),
                 0, "%s", mi_error_last());
    struct mi_github_deployment_status_list l = MI_GITHUB_DEPLOYMENT_STATUS_LIST_INIT;
    cr_assert_eq(mi_github_deployment_statuses_list(&l, gh, d->id), 0, "%s", mi_error_last());
    cr_assert_eq(l.len, 2);
    cr_assert_str_eq(l.items[0].state, "failure");
    cr_assert(!l.items[0].environment_url || !*l.items[0].environment_url,
              "a failed deployment links nowhere: %s", l.items[0].environment_url);
    mi_github_deployment_status_list_release(&l);
    static const char *const want[] = {"in_progress", "failure"};
    assert_status_requests(want, 2);
    json_t *reqs = mi_test_github_get(g, "requests");
    json_t *body = json_object_get(json_array_get(reqs, 0), "body");
    cr_assert(json_is_true(json_object_get(body, "production_environment")));
    json_decref(reqs);
    mi_test_github_assert_conforming(g);
    mi_deploy_free(d);
}

Test(deploy, refused_plan_ends_in_error)
{
    struct mi_deploy_options o = options();
    o.plan_id = NULL;
    o.pr = 0;
    struct mi_deploy *d = NULL;
    cr_assert_eq(mi_deploy_start(&d, gh, &o), 0, "%s", mi_error_last());
    cr_assert_eq(mi_deploy_finish(d, gh, MI_DEPLOY_ERROR, NULL, "plan refused: expired"), 0, "%s",
                 mi_error_last());
    static const char *const want[] = {"in_progress", "error"};
    assert_status_requests(want, 2);
    json_t *reqs = mi_test_github_get(g, "requests");
    json_t *body = json_object_get(json_array_get(reqs, 0), "body");
    cr_assert_str_eq(json_string_value(json_object_get(body, "description")), "mlinfra apply");
    cr_assert_null(json_object_get(json_object_get(body, "payload"), "plan_id"));
    json_decref(reqs);
    mi_test_github_assert_conforming(g);
    mi_deploy_free(d);
}

Test(deploy, token_without_permission_names_deployments_write)
{
    mi_github *ro = client_with(MI_TEST_GITHUB_READONLY_TOKEN);
    struct mi_deploy_options o = options();
    struct mi_deploy *d = (void *)1;
    int rc = mi_deploy_start(&d, ro, &o);
    cr_assert_eq(rc, MI_EAUTH, "%d %s", rc, mi_error_last());
    cr_assert_null(d);
    cr_assert(strstr(mi_error_last(), "deployment of environment 'dev': cannot create it"), "%s",
              mi_error_last());
    cr_assert(strstr(mi_error_last(), "deployments: write"), "%s", mi_error_last());
    cr_assert_null(strstr(mi_error_last(), MI_TEST_GITHUB_READONLY_TOKEN));
    cr_assert_eq(mi_test_github_count(g, "POST", "/statuses"), 0);
    mi_github_free(ro);
    mi_test_github_assert_conforming(g);
}

Test(deploy, status_failure_after_creation_still_hands_back_the_deployment)
{
    /* in_progress is refused for good (422 is not retried): the deployment exists, so the
     * caller gets it and can still finish it. */
    mi_test_github_fail(g, "{\"path\":\"/statuses\",\"method\":\"POST\",\"status\":422,"
                           "\"count\":1}");
    struct mi_deploy_options o = options();
    struct mi_deploy *d = NULL;
    int rc = mi_deploy_start(&d, gh, &o);
    cr_assert_lt(rc, 0);
    cr_assert(strstr(mi_error_last(), "cannot mark it in progress"), "%s", mi_error_last());
    cr_assert_not_null(d);
    cr_assert_str_eq(d->state, "pending");
    cr_assert_eq(mi_deploy_finish(d, gh, MI_DEPLOY_SUCCESS, "http://20.1.2.3:5000", NULL), 0, "%s",
                 mi_error_last());
    cr_assert_str_eq(d->state, "success");
    mi_deploy_free(d);
    mi_test_github_assert_conforming(g);
}

Test(deploy, transient_server_error_on_a_status_is_retried)
{
    mi_test_github_fail(g, "{\"path\":\"/statuses\",\"method\":\"POST\",\"status\":502,"
                           "\"count\":1}");
    struct mi_deploy_options o = options();
    struct mi_deploy *d = NULL;
    cr_assert_eq(mi_deploy_start(&d, gh, &o), 0, "%s", mi_error_last());
    cr_assert_eq(mi_deploy_finish(d, gh, MI_DEPLOY_SUCCESS, "http://20.1.2.3:5000", NULL), 0, "%s",
                 mi_error_last());
    /* One in_progress refused with 502 and resent, then success. */
    static const char *const want[] = {"in_progress", "in_progress", "success"};
    assert_status_requests(want, 3);
    mi_deploy_free(d);
    mi_test_github_assert_conforming(g);
}

Test(deploy, unknown_ref_is_an_error_with_githubs_message)
{
    struct mi_deploy_options o = options();
    o.ref = "no-such-branch";
    struct mi_deploy *d = NULL;
    int rc = mi_deploy_start(&d, gh, &o);
    cr_assert_lt(rc, 0);
    cr_assert_null(d);
    cr_assert(strstr(mi_error_last(), "No ref found"), "%s", mi_error_last());
    mi_test_github_assert_conforming(g);
}

Test(deploy, missing_environment_or_commit_is_a_usage_error)
{
    struct mi_deploy_options o = options();
    o.environment = NULL;
    struct mi_deploy *d = NULL;
    cr_assert_eq(mi_deploy_start(&d, gh, &o), MI_EUSAGE);
    o = options();
    o.ref = "";
    cr_assert_eq(mi_deploy_start(&d, gh, &o), MI_EUSAGE);
    cr_assert_null(d);
    cr_assert_eq(mi_deploy_finish(NULL, gh, MI_DEPLOY_SUCCESS, NULL, NULL), MI_EUSAGE);
    cr_assert_eq(mi_test_github_count(g, NULL, NULL), 0);
}
