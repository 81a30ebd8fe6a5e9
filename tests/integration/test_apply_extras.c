/* Issue 9's extras in `mlinfra apply`, end to end with the built binary: plan on a pull
 * request, merge in a temporary repository, apply on the push - against the terraform double,
 * the GitHub double (every request checked against GitHub's OpenAPI description), a local
 * plan store, and a local HTTP server standing in for the service (the health check):
 *   - a GitHub deployment moves in_progress -> success with the service address;
 *   - the health check reports reachable / not reachable in the log, summary, step outputs
 *     and comment, and fails the job only when configured so;
 *   - a plan older than apply.plan_max_age is refused (exit 4) with advice to re-plan;
 *   - apply.deployments: false records none; a token without `deployments: write` is a
 *     warning naming it, and the apply goes on.
 * The world is tests/support/cycle.h's, with the service added. */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cycle.h"
#include "events.h"
#include "github_double.h"
#include "gitrepo.h"
#include "httpstub.h"
#include "testsupport.h"
#include "util/error.h"
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

#define FIXTURE_URL "http://127.0.0.1:5000"

/* The cycle of tests/support/cycle.h (GitHub, a local plan store) plus the service: a local
 * server that the plan's service_url output names, for the health check. */
struct world {
    struct mi_cycle c;
    struct mi_httpstub *service;
    char *plan_json; /* the fixture with the service address pointing at the stub */
    char *env[4];    /* the cycle's extra_env */
};

static void world_init(struct world *w, const char *apply_yaml)
{
    memset(w, 0, sizeof(*w));
    struct mi_cycle_options o = {1, 0, apply_yaml};
    mi_cycle_init_with(&w->c, &o);
    w->c.run_timeout_ms = 90000;

    w->service = mi_httpstub_start();
    char *fixture = mi_test_path("tests/fixtures/plans/local-example.json");
    mi_buf text = MI_BUF_INIT, out = MI_BUF_INIT;
    cr_assert_eq(mi_fs_read_file(&text, fixture, 0), 0, "%s", mi_error_last());
    const char *url = mi_httpstub_url(w->service);
    for (const char *p = text.ptr;;) {
        const char *hit = strstr(p, FIXTURE_URL);
        if (!hit) {
            mi_buf_adds(&out, p);
            break;
        }
        mi_buf_add(&out, p, (size_t)(hit - p));
        mi_buf_adds(&out, url);
        p = hit + strlen(FIXTURE_URL);
    }
    w->plan_json = mi_cycle_path(&w->c, "plan.json");
    cr_assert_eq(mi_fs_write_file_atomic(w->plan_json, out.ptr, out.len, 0644), 0);
    mi_buf_release(&text);
    mi_buf_release(&out);
    free(fixture);
    w->env[0] = mi_xasprintf("TFDOUBLE_PLAN_JSON=%s", w->plan_json);
    w->env[1] = mi_xstrdup("MLINFRA_NOW=");
    w->c.extra_env = (const char *const *)w->env;
}

static void world_free(struct world *w)
{
    mi_httpstub_stop(w->service);
    mi_cycle_free(&w->c);
    free(w->plan_json);
    free(w->env[0]);
    free(w->env[1]);
}

/* A pull request #pr changing the environment, planned (and stored), then merged with a
 * merge commit; returns the merge commit. */
static char *plan_and_merge(struct world *w, long long pr)
{
    return mi_cycle_planned_merge(&w->c, pr, w->c.base, "dev: two replicas", "replicas = 2\n",
                                  NULL);
}

static void run_apply(struct mi_test_run *out, struct world *w, const char *merge,
                      const char *const *extra)
{
    mi_cycle_run_apply(out, &w->c, w->c.base, merge, NULL, extra);
}

static int tf_applies(struct world *w)
{
    return mi_cycle_tf_runs(&w->c, "apply");
}

static char *read_text(struct world *w, const char *name)
{
    return mi_cycle_read(&w->c, name);
}

/* The states of the deployment statuses GitHub received, in order, joined by ','; and the
 * environment_url of the last one. */
static void deployment_story(struct world *w, mi_buf *states, char **last_url)
{
    json_t *reqs = mi_test_github_get(w->c.gh, "requests");
    size_t i;
    json_t *r;
    *last_url = NULL;
    json_array_foreach(reqs, i, r)
    {
        const char *path = json_string_value(json_object_get(r, "path"));
        const char *method = json_string_value(json_object_get(r, "method"));
        if (!path || strcmp(method, "POST") != 0 || !strstr(path, "/deployments/") ||
            !strstr(path, "/statuses"))
            continue;
        json_t *body = json_object_get(r, "body");
        mi_buf_addf(states, "%s%s", states->len ? "," : "",
                    json_string_value(json_object_get(body, "state")));
        free(*last_url);
        const char *u = json_string_value(json_object_get(body, "environment_url"));
        *last_url = u ? mi_xstrdup(u) : NULL;
    }
    json_decref(reqs);
}

TestSuite(apply_extras, .timeout = 180);

Test(apply_extras, deployment_and_health_check_of_a_reachable_service)
{
    struct world w;
    world_init(&w, "apply:\n  health_check:\n    output: service_url\n    path: /health\n"
                   "    tries: 3\n");
    mi_httpstub_push(w.service, &(struct mi_httpstub_response){200, NULL, "OK"});
    char *merge = plan_and_merge(&w, 7);
    struct mi_test_run r;
    run_apply(&r, &w, merge, NULL);
    cr_assert_eq(r.exit_code, 0, "apply (%d):\n%s", r.exit_code, r.err.ptr);
    cr_assert_eq(tf_applies(&w), 1);
    cr_assert(strstr(r.err.ptr, "recorded GitHub deployment"), "%s", r.err.ptr);
    cr_assert(strstr(r.err.ptr, "/health: reachable (HTTP 200"), "%s", r.err.ptr);

    /* The service was asked for /health. */
    cr_assert_geq(mi_httpstub_request_count(w.service), 1);
    cr_assert_str_eq(mi_httpstub_request(w.service, 0)->target, "/health");

    /* The deployment: in_progress, then success with the service address. */
    mi_buf states = MI_BUF_INIT;
    char *url = NULL;
    deployment_story(&w, &states, &url);
    cr_assert_str_eq(states.ptr, "in_progress,success");
    cr_assert_str_eq(url, mi_httpstub_url(w.service));
    json_t *reqs = mi_test_github_get(w.c.gh, "requests");
    int created = 0;
    size_t i;
    json_t *q;
    json_array_foreach(reqs, i, q)
    {
        const char *path = json_string_value(json_object_get(q, "path"));
        if (path && strstr(path, "/deployments") && !strstr(path, "/statuses")) {
            json_t *body = json_object_get(q, "body");
            cr_assert_str_eq(json_string_value(json_object_get(body, "ref")), merge);
            cr_assert_str_eq(json_string_value(json_object_get(body, "environment")), "dev");
            cr_assert_eq(json_integer_value(
                             json_object_get(json_object_get(body, "payload"), "pull_request")),
                         7);
            created++;
        }
    }
    json_decref(reqs);
    cr_assert_eq(created, 1);

    /* The summary, the step outputs and the comment carry the result. */
    char *summary = read_text(&w, "summary");
    cr_assert(strstr(summary, "### Health check"), "%s", summary);
    cr_assert(strstr(summary, "| `service_url` |"), "%s", summary);
    cr_assert(strstr(summary, "✅ reachable | 200 |"), "%s", summary);
    char *out = read_text(&w, "output");
    cr_assert(strstr(out, "healthy=true\n"), "%s", out);
    char *body = mi_cycle_comment_on(&w.c, 7);
    cr_assert(body && strstr(body, "### Health check") && strstr(body, "✅ reachable"), "%s",
              body ? body : "(no comment)");
    /* Inside the Applied section, so a re-run replaces it rather than adding another. */
    const char *h = strstr(body, "### Health check");
    const char *end = strstr(body, "<!-- /mlinfra:applied -->");
    cr_assert(end && h < end, "%s", body);
    mi_test_github_assert_conforming(w.c.gh);

    free(body);
    free(out);
    free(summary);
    free(url);
    mi_buf_release(&states);
    mi_test_run_release(&r);
    free(merge);
    world_free(&w);
}

Test(apply_extras, unreachable_service_fails_the_job_only_when_configured)
{
    for (int fail = 0; fail < 2; fail++) {
        struct world w;
        world_init(&w, fail ? "apply:\n  health_check:\n    path: /health\n    tries: 2\n"
                              "    fail_on_unreachable: true\n"
                            : "apply:\n  health_check:\n    path: /health\n    tries: 2\n");
        mi_httpstub_push(w.service, &(struct mi_httpstub_response){500, NULL, "internal detail"});
        char *merge = plan_and_merge(&w, 8);
        struct mi_test_run r;
        run_apply(&r, &w, merge, NULL);
        cr_assert_eq(r.exit_code, fail ? 1 : 0, "fail_on_unreachable %d: exit %d:\n%s", fail,
                     r.exit_code, r.err.ptr);
        cr_assert_eq(tf_applies(&w), 1);
        cr_assert(strstr(r.err.ptr, "not reachable after 2 tries"), "%s", r.err.ptr);
        cr_assert_eq(mi_httpstub_request_count(w.service), 2);
        char *out = read_text(&w, "output");
        cr_assert(strstr(out, "healthy=false\n"), "%s", out);
        cr_assert(strstr(out, "result=applied\n"), "the apply itself succeeded: %s", out);
        char *summary = read_text(&w, "summary");
        cr_assert(strstr(summary, "❌ not reachable"), "%s", summary);
        cr_assert(!strstr(summary, "internal detail"), "%s", summary);
        cr_assert(strstr(summary, fail ? "failed the job" : "does not fail the job"), "%s",
                  summary);
        /* The deployment succeeded: the infrastructure was applied. */
        mi_buf states = MI_BUF_INIT;
        char *url = NULL;
        deployment_story(&w, &states, &url);
        cr_assert_str_eq(states.ptr, "in_progress,success");
        mi_test_github_assert_conforming(w.c.gh);
        free(url);
        mi_buf_release(&states);
        free(summary);
        free(out);
        mi_test_run_release(&r);
        free(merge);
        world_free(&w);
    }
}

/* "MLINFRA_NOW=<the time days from now>", the agent's clock for one run. */
static void now_in_days(char *out, size_t size, long days)
{
    time_t later = time(NULL) + days * 86400;
    struct tm tm;
    gmtime_r(&later, &tm);
    strftime(out, size, "MLINFRA_NOW=%Y-%m-%dT%H:%M:%SZ", &tm);
}

Test(apply_extras, expired_plan_is_refused_with_advice_to_replan)
{
    struct world w;
    world_init(&w, NULL);
    char *merge = plan_and_merge(&w, 9);
    /* Eight days after the plan was made. */
    char when[64];
    now_in_days(when, sizeof(when), 8);
    const char *extra[] = {when, NULL};
    struct mi_test_run r;
    run_apply(&r, &w, merge, extra);
    cr_assert_eq(r.exit_code, 4, "exit %d:\n%s", r.exit_code, r.err.ptr);
    cr_assert(strstr(r.err.ptr, "plans older than 7 days are not applied: re-plan"), "%s",
              r.err.ptr);
    cr_assert(strstr(r.err.ptr, "of pull request #9"), "%s", r.err.ptr);
    cr_assert_eq(tf_applies(&w), 0, "an expired plan reached terraform apply");
    cr_assert_eq(mi_test_github_count(w.c.gh, "POST", "/deployments"), 0);
    char *out = read_text(&w, "output");
    cr_assert(strstr(out, "result=refused\n"), "%s", out);
    free(out);
    mi_test_run_release(&r);
    free(merge);
    world_free(&w);
}

Test(apply_extras, plan_max_age_is_configurable)
{
    struct world w;
    world_init(&w, "apply:\n  plan_max_age: never\n  deployments: false\n");
    char *merge = plan_and_merge(&w, 10);
    char when[64];
    now_in_days(when, sizeof(when), 400);
    const char *extra[] = {when, NULL};
    struct mi_test_run r;
    run_apply(&r, &w, merge, extra);
    cr_assert_eq(r.exit_code, 0, "exit %d:\n%s", r.exit_code, r.err.ptr);
    cr_assert_eq(tf_applies(&w), 1);
    /* deployments: false records none; no health check was configured. */
    cr_assert_eq(mi_test_github_count(w.c.gh, "POST", "/deployments"), 0);
    cr_assert_eq(mi_httpstub_request_count(w.service), 0);
    char *out = read_text(&w, "output");
    cr_assert(strstr(out, "healthy=\n"), "%s", out);
    free(out);
    mi_test_run_release(&r);
    free(merge);
    world_free(&w);
}

Test(apply_extras, token_without_deployments_write_is_a_warning)
{
    struct world w;
    world_init(&w, NULL);
    char *merge = plan_and_merge(&w, 11);
    /* A token that may do everything but deployments. */
    mi_test_github_seed(w.c.gh, "{\"tokens\":[{\"token\":\"ghs_nodeploy_0123456789\","
                                "\"login\":\"github-actions[bot]\",\"installation\":true,"
                                "\"permissions\":{\"contents\":\"read\",\"issues\":\"write\","
                                "\"pull_requests\":\"write\",\"metadata\":\"read\"}}]}");
    const char *const nodeploy[] = {"GITHUB_TOKEN=ghs_nodeploy_0123456789", NULL};
    struct mi_test_run r;
    run_apply(&r, &w, merge, nodeploy);
    cr_assert_eq(r.exit_code, 0, "exit %d:\n%s", r.exit_code, r.err.ptr);
    cr_assert_eq(tf_applies(&w), 1);
    cr_assert(strstr(r.err.ptr, "::warning::deployment of environment 'dev': cannot create it"),
              "%s", r.err.ptr);
    cr_assert(strstr(r.err.ptr, "deployments: write"), "%s", r.err.ptr);
    cr_assert(!mi_test_leaks(r.err.ptr, "ghs_nodeploy_0123456789"), "the token leaked:\n%s",
              r.err.ptr);
    mi_test_github_assert_conforming(w.c.gh);
    mi_test_run_release(&r);
    free(merge);
    world_free(&w);
}

/* ---- plan --sarif ------------------------------------------------------------------------ */

TestSuite(plan_extras, .timeout = 120);

/* A policy the example plan violates: the violations come out as SARIF, each pointing at
 * the resource's declaration in the environment's .tf file when it has one, else at the
 * feature step. */
Test(plan_extras, sarif_of_the_policy_results)
{
    struct world w;
    world_init(&w, NULL);
    mi_test_repo_reset(w.c.r, w.c.base);
    mi_test_repo_write(w.c.r, "policies/data.feature",
                       "Feature: terraform_data is tagged\n"
                       "\n"
                       "  Scenario: Every terraform_data has an owner\n"
                       "    Given I have terraform_data defined\n"
                       "    Then it must contain owner\n"
                       "\n"
                       "  Scenario: The URL resource has a team\n"
                       "    Given I have terraform_data defined\n"
                       "    When its name is mlflow_url\n"
                       "    Then it must contain team\n");
    mi_test_repo_write(w.c.r, "environments/dev/terraform.tfvars", "replicas = 2\n");
    /* The resource the failing scenario names, on line 1 (the SARIF location checked below). */
    mi_test_repo_write(w.c.r, "environments/dev/main.tf",
                       "resource \"terraform_data\" \"mlflow_url\" {\n  input = \"x\"\n}\n");
    char *head = mi_test_repo_commit(w.c.r, "a policy");
    json_t *ev = mi_test_event_pull_request(
        &(struct mi_test_pr_event){12, MI_CYCLE_REPO, NULL, "dev", w.c.base, NULL, head});
    char *event = mi_test_event_write(ev, w.c.dir, "pull_request.json");
    json_decref(ev);
    char **env = mi_cycle_env(&w.c, "pull_request", event, NULL);
    char *sarif = mi_xasprintf("%s/policies.sarif", w.c.dir);
    char *argv[] = {(char *)mi_test_binary(), "plan",    "--environment", "dev",
                    "--no-comment",           "--sarif", sarif,           NULL};
    struct mi_test_run r;
    mi_test_run_cmd(&r, argv, env, w.c.r->dir, 60000);
    cr_assert_eq(r.exit_code, 3, "plan (%d):\n%s", r.exit_code, r.err.ptr);

    mi_buf text = MI_BUF_INIT;
    cr_assert_eq(mi_fs_read_file(&text, sarif, 0), 0, "no SARIF written:\n%s", r.err.ptr);
    /* tests/scripts/test_sarif.sh validates it against the SARIF schema. */
    const char *dump = getenv("MLINFRA_SARIF_DUMP_DIR");
    if (dump && *dump) {
        char *copy = mi_xasprintf("%s/plan-sarif-option.sarif", dump);
        cr_assert_eq(mi_fs_write_file_atomic(copy, text.ptr, text.len, 0644), 0);
        free(copy);
    }
    json_error_t jerr;
    json_t *doc = json_loadb(text.ptr, text.len, 0, &jerr);
    cr_assert_not_null(doc, "%s", jerr.text);
    json_t *run = json_array_get(json_object_get(doc, "runs"), 0);
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(run, "automationDetails"), "id")),
        "mlinfra/policies/dev/");
    json_t *results = json_object_get(run, "results");
    cr_assert_geq(json_array_size(results), 1, "%s", text.ptr);
    int at_tf = 0, at_feature = 0;
    size_t i;
    json_t *res;
    json_array_foreach(results, i, res)
    {
        const char *rule = json_string_value(json_object_get(res, "ruleId"));
        json_t *phys = json_object_get(json_array_get(json_object_get(res, "locations"), 0),
                                       "physicalLocation");
        const char *uri =
            json_string_value(json_object_get(json_object_get(phys, "artifactLocation"), "uri"));
        long line =
            (long)json_integer_value(json_object_get(json_object_get(phys, "region"), "startLine"));
        if (strcmp(rule, "data/the-url-resource-has-a-team") == 0 &&
            strcmp(uri, "environments/dev/main.tf") == 0 && line == 1)
            at_tf++;
        else if (strcmp(rule, "data/every-terraform-data-has-an-owner") == 0 &&
                 strcmp(uri, "policies/data.feature") == 0 && line == 5)
            at_feature++;
        else
            cr_assert_fail("unexpected result %s at %s:%ld", rule, uri, line);
    }
    /* terraform_data.mlflow_url is declared in main.tf (its result points there, the step a
     * related location); the first resource failing the other is only in the plan. */
    cr_assert_eq(at_tf, 1, "%s", text.ptr);
    cr_assert_geq(at_feature, 1, "%s", text.ptr);
    cr_assert(!strstr(text.ptr, "local-demo-password"), "a sensitive value leaked");
    json_decref(doc);
    mi_buf_release(&text);
    mi_test_run_release(&r);
    free(sarif);
    mi_cycle_env_free(env);
    free(event);
    free(head);
    world_free(&w);
}
