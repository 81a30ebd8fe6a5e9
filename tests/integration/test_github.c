/* The GitHub client (agent/remote/github.h) against the GitHub REST double, which checks every
 * request against GitHub's OpenAPI description. Each test ends by asserting that the double
 * saw no non-conforming request and gave no answer outside GitHub's response schemas. */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <stdlib.h>
#include <string.h>

#include "github_double.h"
#include "remote/github.h"
#include "remote/http.h"
#include "util/error.h"

#define MARKER "<!-- mlinfra:plan env=dev -->"

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

/* A client for the double with short retry delays: the retry decisions are what is tested. */
static mi_github *client_with(const char *token, const char *api_suffix, long timeout_ms)
{
    char *api = mi_xasprintf("%s%s", g->url, api_suffix ? api_suffix : "");
    struct mi_github_options o = {0};
    o.api_url = api;
    o.token = token;
    o.repository = MI_TEST_GITHUB_REPO;
    o.user_agent = "mlinfra-tests";
    o.retry.max_attempts = 4;
    o.retry.base_delay_ms = 10;
    o.retry.max_delay_ms = 2000;
    o.timeout_ms = timeout_ms;
    mi_github *c = NULL;
    int rc = mi_github_new(&c, &o);
    cr_assert_eq(rc, 0, "mi_github_new: %s", mi_error_last());
    free(api);
    return c;
}

static void setup(void)
{
    g = mi_test_github_start();
    mi_test_github_seed_default(g);
    gh = client_with(MI_TEST_GITHUB_TOKEN, NULL, 10000);
}

static void teardown(void)
{
    mi_github_free(gh);
    gh = NULL;
    mi_test_github_stop(g);
    g = NULL;
}

TestSuite(github, .init = setup, .fini = teardown, .timeout = 120);

static void seed_comments(const char *user, int count, const char *body)
{
    char *json = mi_xasprintf("{\"repos\":[{\"full_name\":\"%s\",\"comments\":[{\"issue\":1,"
                              "\"user\":\"%s\",\"count\":%d,\"body\":\"%s\"}]}]}",
                              MI_TEST_GITHUB_REPO, user, count, body);
    mi_test_github_seed(g, json);
    free(json);
}

/* The comments of PR #1 as the double holds them. */
static json_t *double_comments(void)
{
    json_t *state = mi_test_github_get(g, "state");
    json_t *repo = json_object_get(json_object_get(state, "repos"), "octo-org/infra");
    json_t *comments = json_incref(json_object_get(repo, "comments"));
    json_decref(state);
    cr_assert(json_is_array(comments));
    return comments;
}

static size_t comments_by_with(json_t *comments, const char *user, const char *needle)
{
    size_t n = 0, i;
    json_t *c;
    json_array_foreach(comments, i, c)
    {
        const char *u = json_string_value(json_object_get(c, "user"));
        const char *b = json_string_value(json_object_get(c, "body"));
        if (u && strcmp(u, user) == 0 && b && strstr(b, needle))
            n++;
    }
    return n;
}

/* ---- identity ------------------------------------------------------------------------------ */

Test(github, identity_of_installation_token_falls_back_to_the_bot)
{
    const char *me = NULL;
    int fallback = -1;
    cr_assert_eq(mi_github_identity(&me, gh, &fallback), 0, "%s", mi_error_last());
    cr_assert_str_eq(me, MI_TEST_GITHUB_BOT);
    cr_assert_eq(fallback, 1);
    /* Cached: a second call asks nothing. */
    cr_assert_eq(mi_github_identity(&me, gh, NULL), 0);
    cr_assert_eq(mi_test_github_count(g, "GET", "/user"), 1);
    mi_test_github_assert_conforming(g);
}

Test(github, identity_of_user_token_comes_from_get_user)
{
    mi_github *u = client_with(MI_TEST_GITHUB_USER_TOKEN, NULL, 10000);
    const char *me = NULL;
    int fallback = -1;
    cr_assert_eq(mi_github_identity(&me, u, &fallback), 0, "%s", mi_error_last());
    cr_assert_str_eq(me, MI_TEST_GITHUB_USER);
    cr_assert_eq(fallback, 0);
    mi_github_free(u);
    mi_test_github_assert_conforming(g);
}

/* ---- comments and pagination --------------------------------------------------------------- */

Test(github, lists_all_250_comments_across_pages)
{
    seed_comments("someone", 250, "filler {i}");
    struct mi_github_comment_list list = MI_GITHUB_COMMENT_LIST_INIT;
    cr_assert_eq(mi_github_comments_list(&list, gh, 1), 0, "%s", mi_error_last());
    cr_assert_eq(list.len, 250);
    cr_assert_str_eq(list.items[0].body, "filler 1");
    cr_assert_str_eq(list.items[249].body, "filler 250");
    for (size_t i = 1; i < list.len; i++)
        cr_assert_gt(list.items[i].id, list.items[i - 1].id, "comments out of order at %zu", i);
    cr_assert_str_eq(list.items[7].user_login, "someone");
    cr_assert(strstr(list.items[7].html_url, "#issuecomment-"));
    mi_github_comment_list_release(&list);
    /* per_page=100: exactly three pages, following the Link header. */
    cr_assert_eq(mi_test_github_count(g, "GET", "/issues/1/comments"), 3);
    json_t *reqs = mi_test_github_get(g, "requests");
    json_t *last = json_array_get(reqs, json_array_size(reqs) - 1);
    json_t *q = json_object_get(last, "query");
    cr_assert_str_eq(json_string_value(json_object_get(q, "page")), "3");
    cr_assert_str_eq(json_string_value(json_object_get(q, "per_page")), "100");
    json_decref(reqs);
    mi_test_github_assert_conforming(g);
}

Test(github, sends_the_headers_github_wants)
{
    struct mi_github_pull *p = NULL;
    cr_assert_eq(mi_github_pull_get(&p, gh, 1), 0, "%s", mi_error_last());
    mi_github_pull_free(p);
    json_t *reqs = mi_test_github_get(g, "requests");
    json_t *h = json_object_get(json_array_get(reqs, 0), "headers");
    cr_assert_str_eq(json_string_value(json_object_get(h, "accept")),
                     "application/vnd.github+json");
    cr_assert_str_eq(json_string_value(json_object_get(h, "x-github-api-version")), "2022-11-28");
    cr_assert_str_eq(json_string_value(json_object_get(h, "user-agent")), "mlinfra-tests");
    cr_assert_str_eq(json_string_value(json_object_get(h, "authorization")), "Bearer ***");
    json_decref(reqs);
    mi_test_github_assert_conforming(g);
}

Test(github, upsert_creates_once_then_updates_in_place_past_many_pages)
{
    seed_comments("someone", 250, "filler {i}");
    struct mi_github_comment *c = NULL;
    int created = -1;
    cr_assert_eq(mi_github_comment_upsert(&c, gh, 1, MARKER, MARKER "\nfirst plan", &created), 0,
                 "%s", mi_error_last());
    cr_assert_eq(created, 1);
    long long id = c->id;
    cr_assert(c->html_url && strstr(c->html_url, "/pull/1#issuecomment-"), "%s", c->html_url);
    cr_assert_str_eq(c->user_login, MI_TEST_GITHUB_BOT);
    mi_github_comment_free(c);

    /* A second push: the comment is on page 3 now and must be found and edited, not doubled. */
    cr_assert_eq(mi_github_comment_upsert(&c, gh, 1, MARKER, MARKER "\nsecond plan", &created), 0,
                 "%s", mi_error_last());
    cr_assert_eq(created, 0);
    cr_assert_eq(c->id, id);
    cr_assert_str_eq(c->body, MARKER "\nsecond plan");
    mi_github_comment_free(c);

    json_t *comments = double_comments();
    cr_assert_eq(json_array_size(comments), 251);
    cr_assert_eq(comments_by_with(comments, MI_TEST_GITHUB_BOT, MARKER), 1);
    cr_assert_eq(comments_by_with(comments, MI_TEST_GITHUB_BOT, "second plan"), 1);
    json_decref(comments);
    cr_assert_eq(mi_test_github_count(g, "POST", "/comments"), 1);
    cr_assert_eq(mi_test_github_count(g, "PATCH", "/issues/comments/"), 1);

    struct mi_github_comment *got = NULL;
    cr_assert_eq(mi_github_comment_get(&got, gh, id), 0, "%s", mi_error_last());
    cr_assert_str_eq(got->body, MARKER "\nsecond plan");
    mi_github_comment_free(got);
    mi_test_github_assert_conforming(g);
}

Test(github, another_users_comment_with_our_marker_is_ignored)
{
    seed_comments("mallory", 1, MARKER " pasted by someone else");
    struct mi_github_comment *found = NULL;
    cr_assert_eq(mi_github_comment_find(&found, gh, 1, MARKER), MI_ENOTFOUND);
    cr_assert_null(found);

    struct mi_github_comment *c = NULL;
    int created = 0;
    cr_assert_eq(mi_github_comment_upsert(&c, gh, 1, MARKER, MARKER "\nours", &created), 0, "%s",
                 mi_error_last());
    cr_assert_eq(created, 1);
    mi_github_comment_free(c);
    json_t *comments = double_comments();
    cr_assert_eq(comments_by_with(comments, "mallory", "pasted by someone else"), 1,
                 "mallory's comment was edited");
    cr_assert_eq(comments_by_with(comments, MI_TEST_GITHUB_BOT, MARKER), 1);
    json_decref(comments);
    cr_assert_eq(mi_test_github_count(g, "PATCH", NULL), 0);

    /* With a user token the identity is that user: the bot's comment is someone else's now. */
    mi_github *u = client_with(MI_TEST_GITHUB_USER_TOKEN, NULL, 10000);
    cr_assert_eq(mi_github_comment_find(&found, u, 1, MARKER), MI_ENOTFOUND);
    cr_assert(strstr(mi_error_last(), MI_TEST_GITHUB_USER), "%s", mi_error_last());
    mi_github_free(u);
    mi_test_github_assert_conforming(g);
}

Test(github, refuses_a_body_over_githubs_limit_before_sending)
{
    char *body = mi_xmalloc(MI_GITHUB_COMMENT_MAX + 2);
    memset(body, 'a', MI_GITHUB_COMMENT_MAX + 1);
    body[MI_GITHUB_COMMENT_MAX + 1] = '\0';
    struct mi_github_comment *c = NULL;
    cr_assert_eq(mi_github_comment_create(&c, gh, 1, body), MI_EUSAGE);
    cr_assert(strstr(mi_error_last(), "65537 characters"), "%s", mi_error_last());
    cr_assert_eq(mi_test_github_count(g, NULL, NULL), 0, "a request was sent");

    /* Exactly the limit is fine, and the limit is in characters, not bytes. */
    body[MI_GITHUB_COMMENT_MAX] = '\0';
    cr_assert_eq(mi_github_comment_create(&c, gh, 1, body), 0, "%s", mi_error_last());
    mi_github_comment_free(c);
    free(body);
    mi_buf wide = MI_BUF_INIT;
    for (int i = 0; i < MI_GITHUB_COMMENT_MAX; i++)
        mi_buf_adds(&wide, "\xc3\xa9"); /* U+00E9, two bytes */
    cr_assert_eq(mi_github_comment_create(&c, gh, 1, wide.ptr), 0, "%s", mi_error_last());
    mi_github_comment_free(c);
    mi_buf_addch(&wide, 'x');
    cr_assert_eq(mi_github_comment_create(&c, gh, 1, wide.ptr), MI_EUSAGE);
    mi_buf_release(&wide);
    cr_assert_eq(mi_github_comment_create(&c, gh, 1, "bad \xff utf-8"), MI_EUSAGE);
    cr_assert_eq(mi_test_github_count(g, "POST", NULL), 2);
    mi_test_github_assert_conforming(g);
}

Test(github, enterprise_api_url_with_a_path_works)
{
    mi_github *e = client_with(MI_TEST_GITHUB_TOKEN, "/api/v3/", 10000);
    const char *api = mi_github_api_url(e);
    cr_assert(strlen(api) > 7 && strcmp(api + strlen(api) - 7, "/api/v3") == 0,
              "trailing slash kept: %s", api);
    seed_comments("someone", 150, "filler {i}");
    struct mi_github_comment_list list = MI_GITHUB_COMMENT_LIST_INIT;
    cr_assert_eq(mi_github_comments_list(&list, e, 1), 0, "%s", mi_error_last());
    cr_assert_eq(list.len, 150);
    mi_github_comment_list_release(&list);
    json_t *reqs = mi_test_github_get(g, "requests");
    cr_assert_eq(json_array_size(reqs), 2);
    for (size_t i = 0; i < 2; i++)
        cr_assert_str_eq(json_string_value(json_object_get(json_array_get(reqs, i), "prefix")),
                         "/api/v3");
    json_decref(reqs);
    mi_github_free(e);
    mi_test_github_assert_conforming(g);
}

Test(github, refuses_to_follow_a_next_link_to_another_host)
{
    seed_comments("someone", 150, "filler {i}");
    mi_test_github_seed(g, "{\"link_base\":\"http://203.0.113.9:1\"}");
    struct mi_github_comment_list list = MI_GITHUB_COMMENT_LIST_INIT;
    cr_assert_eq(mi_github_comments_list(&list, gh, 1), MI_ERR);
    cr_assert(strstr(mi_error_last(), "another host"), "%s", mi_error_last());
    cr_assert_eq(list.len, 0);
    cr_assert_eq(mi_test_github_count(g, NULL, NULL), 1);
    mi_test_github_assert_conforming(g);
}

/* ---- transient failures -------------------------------------------------------------------- */

Test(github, recovers_from_500s)
{
    mi_test_github_fail(g, "{\"path\":\"/issues/1/comments\",\"method\":\"GET\",\"status\":500,"
                           "\"count\":2}");
    struct mi_github_comment_list list = MI_GITHUB_COMMENT_LIST_INIT;
    cr_assert_eq(mi_github_comments_list(&list, gh, 1), 0, "%s", mi_error_last());
    mi_github_comment_list_release(&list);
    cr_assert_eq(mi_test_github_count(g, "GET", "/comments"), 3);
    mi_test_github_assert_conforming(g);
}

Test(github, recovers_from_a_502_on_update)
{
    struct mi_github_comment *c = NULL;
    cr_assert_eq(mi_github_comment_create(&c, gh, 1, MARKER "\nv1"), 0, "%s", mi_error_last());
    long long id = c->id;
    mi_github_comment_free(c);
    mi_test_github_fail(g, "{\"path\":\"/issues/comments/\",\"method\":\"PATCH\",\"status\":502,"
                           "\"body\":\"<html><body>502 Bad Gateway</body></html>\"}");
    cr_assert_eq(mi_github_comment_update(&c, gh, id, MARKER "\nv2"), 0, "%s", mi_error_last());
    cr_assert_str_eq(c->body, MARKER "\nv2");
    mi_github_comment_free(c);
    cr_assert_eq(mi_test_github_count(g, "PATCH", NULL), 2);
    mi_test_github_assert_conforming(g);
}

Test(github, waits_out_a_secondary_rate_limit_with_retry_after)
{
    mi_test_github_fail(g, "{\"path\":\"/pulls/1\",\"kind\":\"secondary_rate_limit\","
                           "\"retry_after\":1,\"count\":1}");
    struct mi_github_pull *p = NULL;
    cr_assert_eq(mi_github_pull_get(&p, gh, 1), 0, "%s", mi_error_last());
    cr_assert_eq(p->number, 1);
    mi_github_pull_free(p);
    cr_assert_eq(mi_test_github_count(g, "GET", "/pulls/1"), 2);
    mi_test_github_assert_conforming(g);
}

Test(github, secondary_rate_limit_on_a_create_is_retried_without_a_duplicate)
{
    mi_test_github_fail(g, "{\"path\":\"/issues/1/comments\",\"method\":\"POST\","
                           "\"kind\":\"secondary_rate_limit\",\"retry_after\":0,\"count\":2}");
    struct mi_github_comment *c = NULL;
    int created = 0;
    cr_assert_eq(mi_github_comment_upsert(&c, gh, 1, MARKER, MARKER "\nx", &created), 0, "%s",
                 mi_error_last());
    cr_assert_eq(created, 1);
    mi_github_comment_free(c);
    cr_assert_eq(mi_test_github_count(g, "POST", NULL), 3);
    json_t *comments = double_comments();
    cr_assert_eq(json_array_size(comments), 1);
    json_decref(comments);
    mi_test_github_assert_conforming(g);
}

Test(github, waits_for_a_primary_rate_limit_reset_that_is_near)
{
    mi_test_github_fail(g, "{\"path\":\"/reviews\",\"kind\":\"rate_limit\",\"reset_in\":1,"
                           "\"count\":1}");
    struct mi_github_review_list l = MI_GITHUB_REVIEW_LIST_INIT;
    cr_assert_eq(mi_github_reviews_list(&l, gh, 1), 0, "%s", mi_error_last());
    mi_github_review_list_release(&l);
    cr_assert_eq(mi_test_github_count(g, "GET", "/reviews"), 2);
    mi_test_github_assert_conforming(g);
}

Test(github, does_not_wait_for_a_rate_limit_beyond_its_cap)
{
    mi_test_github_fail(g, "{\"path\":\"/reviews\",\"kind\":\"rate_limit\",\"reset_in\":3600,"
                           "\"count\":5}");
    struct mi_github_review_list l = MI_GITHUB_REVIEW_LIST_INIT;
    cr_assert_eq(mi_github_reviews_list(&l, gh, 1), MI_ERR);
    cr_assert(strstr(mi_error_last(), "rate limit"), "%s", mi_error_last());
    cr_assert(strstr(mi_error_last(), "lifts in"), "%s", mi_error_last());
    cr_assert_null(strstr(mi_error_last(), "permission"), "%s", mi_error_last());
    cr_assert_eq(mi_test_github_count(g, "GET", "/reviews"), 1);

    mi_test_github_fail(g, "{\"path\":\"/pulls/1\",\"kind\":\"secondary_rate_limit\","
                           "\"retry_after\":600,\"count\":5}");
    struct mi_github_pull *p = NULL;
    cr_assert_eq(mi_github_pull_get(&p, gh, 1), MI_ERR);
    cr_assert(strstr(mi_error_last(), "secondary rate limit"), "%s", mi_error_last());
    cr_assert_eq(mi_test_github_count(g, "GET", NULL), 2, "the 403 was retried");
    mi_test_github_assert_conforming(g);
}

Test(github, recovers_from_a_dropped_connection)
{
    mi_test_github_fail(g, "{\"path\":\"/pulls/1\",\"drop\":true,\"count\":1}");
    struct mi_github_pull *p = NULL;
    cr_assert_eq(mi_github_pull_get(&p, gh, 1), 0, "%s", mi_error_last());
    mi_github_pull_free(p);
    cr_assert_eq(mi_test_github_count(g, "GET", "/pulls/1"), 2);
    mi_test_github_assert_conforming(g);
}

Test(github, upsert_after_a_create_lost_in_transit_never_doubles_the_comment)
{
    /* The first create is carried out but its answer is lost: the retry must find it. */
    mi_test_github_fail(g, "{\"path\":\"/issues/1/comments\",\"method\":\"POST\","
                           "\"drop_after\":true,\"count\":1}");
    struct mi_github_comment *c = NULL;
    int created = -1;
    cr_assert_eq(mi_github_comment_upsert(&c, gh, 1, MARKER, MARKER "\nplan", &created), 0, "%s",
                 mi_error_last());
    cr_assert_eq(created, 0, "the lost create was repeated instead of found");
    mi_github_comment_free(c);
    json_t *comments = double_comments();
    cr_assert_eq(json_array_size(comments), 1);
    json_decref(comments);
    cr_assert_eq(mi_test_github_count(g, "POST", NULL), 1);

    /* A create dropped before it took effect is made again, once. */
    mi_test_github_fail(g, "{\"path\":\"/issues/1/comments\",\"method\":\"POST\","
                           "\"drop\":true,\"count\":1}");
    const char *other = "<!-- mlinfra:plan env=staging -->";
    cr_assert_eq(mi_github_comment_upsert(&c, gh, 1, other, other, &created), 0, "%s",
                 mi_error_last());
    cr_assert_eq(created, 1);
    mi_github_comment_free(c);
    comments = double_comments();
    cr_assert_eq(json_array_size(comments), 2);
    json_decref(comments);
    mi_test_github_assert_conforming(g);
}

Test(github, a_slow_answer_within_the_timeout_arrives)
{
    mi_test_github_fail(g, "{\"path\":\"/pulls/1\",\"delay_ms\":300,\"count\":1}");
    struct mi_github_pull *p = NULL;
    cr_assert_eq(mi_github_pull_get(&p, gh, 1), 0, "%s", mi_error_last());
    mi_github_pull_free(p);
    cr_assert_eq(mi_test_github_count(g, "GET", "/pulls/1"), 1);
    mi_test_github_assert_conforming(g);
}

Test(github, an_answer_slower_than_the_timeout_fails_as_a_timeout)
{
    mi_github *quick = client_with(MI_TEST_GITHUB_TOKEN, NULL, 300);
    mi_test_github_fail(g, "{\"path\":\"/pulls/1\",\"delay_ms\":3000,\"count\":10}");
    struct mi_github_pull *p = NULL;
    cr_assert_eq(mi_github_pull_get(&p, quick, 1), MI_ETIMEOUT, "%s", mi_error_last());
    cr_assert(strstr(mi_error_last(), "/repos/octo-org/infra/pulls/1"), "%s", mi_error_last());
    cr_assert(strstr(mi_error_last(), "after 4 attempts"), "%s", mi_error_last());
    cr_assert_null(p);
    mi_github_free(quick);
    cr_assert_eq(mi_test_github_count(g, "GET", "/pulls/1"), 4);
    mi_test_github_assert_conforming(g);
}

/* ---- permanent failures -------------------------------------------------------------------- */

Test(github, bad_credentials_are_reported_once_as_auth)
{
    mi_github *bad = client_with("ghs_not_a_token_anyone_issued", NULL, 10000);
    struct mi_github_comment_list list = MI_GITHUB_COMMENT_LIST_INIT;
    cr_assert_eq(mi_github_comments_list(&list, bad, 1), MI_EAUTH);
    const char *m = mi_error_last();
    cr_assert(strstr(m, "401") && strstr(m, "Bad credentials") && strstr(m, "GITHUB_TOKEN"), "%s",
              m);
    cr_assert_null(strstr(m, "ghs_not_a_token"), "the token leaked into: %s", m);
    mi_github_free(bad);
    cr_assert_eq(mi_test_github_count(g, NULL, NULL), 1, "a 401 was retried");
    mi_test_github_assert_conforming(g);
}

Test(github, forbidden_comment_names_the_missing_permission)
{
    mi_github *ro = client_with(MI_TEST_GITHUB_READONLY_TOKEN, NULL, 10000);
    struct mi_github_comment *c = NULL;
    cr_assert_eq(mi_github_comment_upsert(&c, ro, 1, MARKER, MARKER "\nx", NULL), MI_EAUTH);
    const char *m = mi_error_last();
    cr_assert(strstr(m, "403"), "%s", m);
    cr_assert(strstr(m, "pull-requests: write"), "%s", m);
    cr_assert(strstr(m, "POST "), "%s", m);
    cr_assert(strstr(m, "/repos/octo-org/infra/issues/1/comments"), "%s", m);
    cr_assert(strstr(m, "Resource not accessible by integration"), "%s", m);
    cr_assert_null(c);
    mi_github_free(ro);
    cr_assert_eq(mi_test_github_count(g, "POST", NULL), 1, "a 403 was retried");
    mi_test_github_assert_conforming(g);
}

Test(github, missing_pull_request_is_not_found_with_the_permission_named)
{
    struct mi_github_pull *p = NULL;
    cr_assert_eq(mi_github_pull_get(&p, gh, 99), MI_ENOTFOUND);
    cr_assert(strstr(mi_error_last(), "404"), "%s", mi_error_last());
    cr_assert(strstr(mi_error_last(), "pull request #99"), "%s", mi_error_last());
    cr_assert(strstr(mi_error_last(), "pull-requests: read"), "%s", mi_error_last());
    cr_assert_eq(mi_test_github_count(g, NULL, NULL), 1);
    mi_test_github_assert_conforming(g);
}

Test(github, server_errors_that_persist_are_reported_after_the_retries)
{
    mi_test_github_fail(g, "{\"path\":\"/pulls/1\",\"status\":503,\"count\":10}");
    struct mi_github_pull *p = NULL;
    cr_assert_eq(mi_github_pull_get(&p, gh, 1), MI_ERR);
    cr_assert(strstr(mi_error_last(), "503"), "%s", mi_error_last());
    cr_assert(strstr(mi_error_last(), "4 attempts"), "%s", mi_error_last());
    cr_assert_eq(mi_test_github_count(g, NULL, NULL), 4);
    mi_test_github_assert_conforming(g);
}

/* ---- commit -> pull request ---------------------------------------------------------------- */

#define SHA(c) c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c

static void seed_merges(void)
{
    mi_test_github_seed(
        g,
        "{\"repos\":[{\"full_name\":\"octo-org/infra\",\"pulls\":["
        /* #2 merged with a merge commit */
        "{\"number\":2,\"head_sha\":\"" SHA(
            "2") "\",\"base_ref\":\"dev\",\"merged\":true,"
                 "\"merge_commit_sha\":\"" SHA(
                     "a") "\"},"
                          /* #3 squash-merged: the squash commit is new, the PR's commits are not on
                             dev */
                          "{\"number\":3,\"head_sha\":\"" SHA("3") "\",\"commits\":[\"" SHA(
                              "4") "\"],"
                                   "\"base_ref\":\"dev\",\"merged\":true,\"merge_commit_sha\":"
                                   "\"" SHA(
                                       "b") "\"},"
                                            /* #5 rebase-merged: two rebased commits, the last one
                                               is merge_commit_sha */
                                            "{\"number\":5,\"head_sha\":\"" SHA(
                                                "5") "\",\"base_ref\":\"dev\",\"merged\":true,"
                                                     "\"rebased_commits\":[\"" SHA("c") "\",\"" SHA(
                                                         "d") "\"],"
                                                              "\"merge_commit_sha\":\"" SHA(
                                                                  "d") "\"},"
                                                                       /* #6 into staging, and #7
                                                                          into dev, both merged and
                                                                          both containing commit e
                                                                        */
                                                                       "{\"number\":6,\"head_sha\":"
                                                                       "\"" SHA(
                                                                           "e") "\",\"base_ref\":"
                                                                                "\"staging\","
                                                                                "\"merged\":true,"
                                                                                "\"merge_commit_"
                                                                                "sha\":\"" SHA(
                                                                                    "6") "\"},"
                                                                                         "{\"number"
                                                                                         "\":7,"
                                                                                         "\"head_"
                                                                                         "sha\":"
                                                                                         "\"" SHA("7") "\",\"commits\":[\"" SHA(
                                                                                             "e") "\"],"
                                                                                                  "\"base_ref\":\"dev\",\"merged\":true,\"merge_commit_sha\":\"" SHA(
                                                                                                      "8") "\"},"
                                                                                                           "{\"number\":8,\"head_sha\":\"" SHA("9") "\",\"commits\":[\"" SHA(
                                                                                                               "e") "\"],"
                                                                                                                    "\"base_ref\":\"dev\",\"merged\":true,\"merge_commit_sha\":\"" SHA(
                                                                                                                        "f") "\"}"
                                                                                                                             "],\"commits\":[\"" SHA(
                                                                                                                                 "0") "\"]}]}");
}

static long long pull_for(const char *sha, const char *base, int *merged)
{
    struct mi_github_pull *p = NULL;
    int rc = mi_github_pull_for_commit(&p, gh, sha, base);
    if (rc < 0)
        return rc;
    long long n = p->number;
    if (merged)
        *merged = p->merged;
    mi_github_pull_free(p);
    return n;
}

Test(github, resolves_merge_squash_and_rebase_merges)
{
    seed_merges();
    int merged = 0;
    cr_assert_eq(pull_for(SHA("a"), "dev", &merged), 2, "%s", mi_error_last());
    cr_assert_eq(merged, 1);
    cr_assert_eq(pull_for(SHA("b"), "dev", NULL), 3, "%s", mi_error_last());
    cr_assert_eq(pull_for(SHA("d"), "dev", NULL), 5, "%s", mi_error_last());
    /* An earlier commit of a rebase merge still names its one merged PR. */
    cr_assert_eq(pull_for(SHA("c"), "dev", NULL), 5, "%s", mi_error_last());
    /* The open PR #1's head: the single PR, not merged. */
    cr_assert_eq(pull_for(MI_TEST_GITHUB_HEAD_SHA, NULL, &merged), 1, "%s", mi_error_last());
    cr_assert_eq(merged, 0);
    mi_test_github_assert_conforming(g);
}

Test(github, commit_pulls_reports_ambiguity_and_absence)
{
    seed_merges();
    cr_assert_eq(pull_for(SHA("e"), "staging", NULL), 6, "%s", mi_error_last());
    cr_assert_eq(pull_for(SHA("e"), "dev", NULL), MI_ERR);
    cr_assert(strstr(mi_error_last(), "#7") && strstr(mi_error_last(), "#8"), "%s",
              mi_error_last());
    cr_assert_eq(pull_for(SHA("a"), "production", NULL), MI_ENOTFOUND);
    cr_assert(strstr(mi_error_last(), "production"), "%s", mi_error_last());
    /* A known commit in no pull request. */
    cr_assert_eq(pull_for(SHA("0"), NULL, NULL), MI_ENOTFOUND);
    /* A commit GitHub does not know: its 422 is an error, not "no PR". */
    cr_assert_eq(pull_for(SHA("9") "0", NULL, NULL), MI_ERR);
    cr_assert_eq(pull_for("../../etc", NULL, NULL), MI_EUSAGE);
    mi_test_github_assert_conforming(g);
}

Test(github, pull_request_fields_are_read)
{
    struct mi_github_pull *p = NULL;
    cr_assert_eq(mi_github_pull_get(&p, gh, 1), 0, "%s", mi_error_last());
    cr_assert_str_eq(p->state, "open");
    cr_assert_str_eq(p->head_sha, MI_TEST_GITHUB_HEAD_SHA);
    cr_assert_str_eq(p->head_ref, "feature-1");
    cr_assert_str_eq(p->base_ref, "dev");
    cr_assert_str_eq(p->head_repo, MI_TEST_GITHUB_REPO);
    cr_assert_str_eq(p->user_login, "octocat");
    cr_assert_str_eq(p->title, "Scale the MLflow nodes");
    cr_assert_null(p->merge_commit_sha);
    cr_assert_eq(p->merged, 0);
    mi_github_pull_free(p);
    mi_test_github_assert_conforming(g);
}

/* ---- reviews ------------------------------------------------------------------------------- */

Test(github, approval_follows_each_reviewers_latest_decision)
{
    mi_test_github_seed(
        g, "{\"repos\":[{\"full_name\":\"octo-org/infra\",\"reviews\":["
           "{\"pull\":1,\"user\":\"alice\",\"state\":\"APPROVED\",\"commit_id\":\"" SHA(
               "0") "\"},"
                    "{\"pull\":1,\"user\":\"bob\",\"state\":\"CHANGES_REQUESTED\"},"
                    "{\"pull\":1,\"user\":\"carol\",\"state\":\"APPROVED\"},"
                    "{\"pull\":1,\"user\":\"carol\",\"state\":\"COMMENTED\"},"
                    "{\"pull\":1,\"user\":\"bob\",\"state\":\"APPROVED\"}]}]}");
    struct mi_github_approval a = MI_GITHUB_APPROVAL_INIT;
    cr_assert_eq(mi_github_pull_approval(&a, gh, 1, NULL), 0, "%s", mi_error_last());
    cr_assert_eq(a.approvals, 3);
    cr_assert_eq(a.changes_requested, 0);
    cr_assert_str_eq(a.approvers, "alice, bob, carol");
    mi_github_approval_release(&a);
    /* alice approved an older commit: on the head she does not count. */
    cr_assert_eq(mi_github_pull_approval(&a, gh, 1, MI_TEST_GITHUB_HEAD_SHA), 0);
    cr_assert_eq(a.approvals, 2);
    cr_assert_str_eq(a.approvers, "bob, carol");
    mi_github_approval_release(&a);

    mi_test_github_seed(g, "{\"repos\":[{\"full_name\":\"octo-org/infra\",\"reviews\":["
                           "{\"pull\":1,\"user\":\"carol\",\"state\":\"CHANGES_REQUESTED\"}]}]}");
    cr_assert_eq(mi_github_pull_approval(&a, gh, 1, NULL), 0);
    cr_assert_eq(a.approvals, 2);
    cr_assert_eq(a.changes_requested, 1);
    mi_github_approval_release(&a);
    mi_test_github_assert_conforming(g);
}

/* ---- deployments --------------------------------------------------------------------------- */

Test(github, deployment_moves_through_its_statuses)
{
    struct mi_github_deployment_request d = {0};
    d.ref = MI_TEST_GITHUB_HEAD_SHA;
    d.environment = "dev";
    d.description = "mlinfra apply of PR #1";
    d.payload_json = "{\"plan_id\":\"abc\",\"pr\":1}";
    long long id = 0;
    cr_assert_eq(mi_github_deployment_create(&id, gh, &d), 0, "%s", mi_error_last());
    cr_assert_gt(id, 0);

    struct mi_github_deployment_status_request s = {0};
    s.state = "in_progress";
    s.log_url = "https://github.com/octo-org/infra/actions/runs/1";
    long long sid = 0;
    cr_assert_eq(mi_github_deployment_status_create(&sid, gh, id, &s), 0, "%s", mi_error_last());
    s.state = "success";
    s.environment_url = "http://20.1.2.3:5000";
    s.description = "applied; MLflow at http://20.1.2.3:5000 and a description longer than one "
                    "hundred and forty characters, which GitHub would refuse, so it is shortened";
    cr_assert_eq(mi_github_deployment_status_create(&sid, gh, id, &s), 0, "%s", mi_error_last());

    struct mi_github_deployment_status_list l = MI_GITHUB_DEPLOYMENT_STATUS_LIST_INIT;
    cr_assert_eq(mi_github_deployment_statuses_list(&l, gh, id), 0, "%s", mi_error_last());
    cr_assert_eq(l.len, 2);
    cr_assert_str_eq(l.items[0].state, "success");
    cr_assert_str_eq(l.items[0].environment_url, "http://20.1.2.3:5000");
    cr_assert_str_eq(l.items[0].environment, "dev");
    cr_assert_eq(strlen(l.items[0].description), 140);
    cr_assert_str_eq(l.items[1].state, "in_progress");
    mi_github_deployment_status_list_release(&l);

    /* The next successful deployment of dev retires this one (auto_inactive by default). */
    long long id2 = 0;
    cr_assert_eq(mi_github_deployment_create(&id2, gh, &d), 0, "%s", mi_error_last());
    s.description = NULL;
    cr_assert_eq(mi_github_deployment_status_create(&sid, gh, id2, &s), 0, "%s", mi_error_last());
    cr_assert_eq(mi_github_deployment_statuses_list(&l, gh, id), 0, "%s", mi_error_last());
    cr_assert_eq(l.len, 3);
    cr_assert_str_eq(l.items[0].state, "inactive");
    mi_github_deployment_status_list_release(&l);

    /* The request the double received: no auto-merge, no required contexts. */
    json_t *reqs = mi_test_github_get(g, "requests");
    json_t *body = json_object_get(json_array_get(reqs, 0), "body");
    cr_assert(json_is_false(json_object_get(body, "auto_merge")));
    cr_assert_eq(json_array_size(json_object_get(body, "required_contexts")), 0);
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(body, "payload"), "plan_id")), "abc");
    json_decref(reqs);
    mi_test_github_assert_conforming(g);
}

Test(github, deployment_without_permission_names_deployments_write)
{
    mi_github *ro = client_with(MI_TEST_GITHUB_READONLY_TOKEN, NULL, 10000);
    struct mi_github_deployment_request d = {0};
    d.ref = "dev";
    d.environment = "dev";
    long long id = 0;
    cr_assert_eq(mi_github_deployment_create(&id, ro, &d), MI_EAUTH);
    cr_assert(strstr(mi_error_last(), "deployments: write"), "%s", mi_error_last());
    d.payload_json = "[1]";
    cr_assert_eq(mi_github_deployment_create(&id, ro, &d), MI_EUSAGE);
    struct mi_github_deployment_status_request s = {0};
    s.state = "done";
    cr_assert_eq(mi_github_deployment_status_create(&id, ro, 1, &s), MI_EUSAGE);
    mi_github_free(ro);
    cr_assert_eq(mi_test_github_count(g, NULL, NULL), 1);
    mi_test_github_assert_conforming(g);
}

/* ---- the double itself --------------------------------------------------------------------- */

static long raw(const char *method, const char *path, const char *body, int with_ua,
                const char *content_type)
{
    char *url = mi_xasprintf("%s%s", g->url, path);
    char *ct = mi_xasprintf("Content-Type: %s", content_type ? content_type : "application/json");
    const char *headers[] = {"Authorization: Bearer " MI_TEST_GITHUB_TOKEN,
                             "Accept: application/vnd.github+json",
                             "X-GitHub-Api-Version: 2022-11-28",
                             ct,
                             with_ua ? "User-Agent: raw-test" : "User-Agent:",
                             NULL};
    struct mi_http_request req = {0};
    req.method = method;
    req.url = url;
    req.headers = headers;
    req.body = body;
    req.body_len = body ? strlen(body) : 0;
    struct mi_http_response resp = MI_HTTP_RESPONSE_INIT;
    cr_assert_eq(mi_http_send(&resp, &req), 0, "%s", mi_error_last());
    long st = resp.status;
    mi_http_response_release(&resp);
    free(url);
    free(ct);
    return st;
}

static size_t violation_count(void)
{
    json_t *v = mi_test_github_get(g, "violations");
    size_t n = json_array_size(json_object_get(v, "violations"));
    json_decref(v);
    return n;
}

Test(github, the_double_rejects_requests_that_do_not_conform)
{
    const char *comments = "/repos/octo-org/infra/issues/1/comments";
    /* The control: a conforming request passes. */
    cr_assert_eq(raw("POST", comments, "{\"body\":\"ok\"}", 1, NULL), 201);
    cr_assert_eq(violation_count(), 0);
    /* A create-comment body without `body`. */
    cr_assert_eq(raw("POST", comments, "{\"text\":\"hi\"}", 1, NULL), 422);
    cr_assert_eq(violation_count(), 1);
    /* `body` of the wrong type. */
    cr_assert_eq(raw("POST", comments, "{\"body\":42}", 1, NULL), 422);
    /* A wrong-typed query parameter, and an unknown one. */
    cr_assert_eq(raw("GET", "/repos/octo-org/infra/issues/1/comments?per_page=many", NULL, 1, NULL),
                 422);
    cr_assert_eq(raw("GET", "/repos/octo-org/infra/issues/1/comments?perpage=10", NULL, 1, NULL),
                 422);
    /* A path parameter of the wrong type. */
    cr_assert_eq(raw("GET", "/repos/octo-org/infra/pulls/one", NULL, 1, NULL), 404);
    /* No User-Agent: GitHub refuses these outright. */
    cr_assert_eq(raw("GET", "/repos/octo-org/infra/pulls/1", NULL, 0, NULL), 403);
    /* A path and a method that are not in the description. */
    cr_assert_eq(raw("GET", "/repos/octo-org/infra/plans", NULL, 1, NULL), 404);
    cr_assert_eq(raw("PUT", "/repos/octo-org/infra/pulls/1", "{}", 1, NULL), 404);
    /* Not JSON, and not declared as JSON. */
    cr_assert_eq(raw("POST", comments, "{body:", 1, NULL), 400);
    cr_assert_eq(raw("POST", comments, "body=x", 1, "application/x-www-form-urlencoded"), 415);
    /* A deployment status with a state outside the enum. */
    cr_assert_eq(raw("POST", "/repos/octo-org/infra/deployments/1/statuses", "{\"state\":\"done\"}",
                     1, NULL),
                 422);
    cr_assert_eq(violation_count(), 11);
    /* Nothing of the rejected ones was stored. */
    json_t *comments_now = double_comments();
    cr_assert_eq(json_array_size(comments_now), 1);
    json_decref(comments_now);
}
