/* context/context: run context from GitHub's recorded payloads (tests/fixtures/events) and
 * from the GITHUB_* variables; malformed and hostile payloads. */
#include <criterion/criterion.h>
#include <git2.h>
#include <stdlib.h>
#include <string.h>

#include "context/context.h"
#include "events.h"
#include "testsupport.h"
#include "util/error.h"

static void setup(void)
{
    git_libgit2_init();
}

static void teardown(void)
{
    git_libgit2_shutdown();
}

TestSuite(context, .init = setup, .fini = teardown);

/* Parses a payload; event may be NULL to infer the kind. */
static int parse(struct mi_context **out, const char *event, json_t *payload)
{
    char *text = mi_test_event_text(payload);
    int rc = mi_context_parse_event(out, event, text, strlen(text), "event.json");
    free(text);
    return rc;
}

static struct mi_context *parse_ok(const char *event, json_t *payload)
{
    struct mi_context *c = NULL;
    cr_assert_eq(parse(&c, event, payload), 0, "%s", mi_error_last());
    return c;
}

static void expect_error(const char *event, json_t *payload, int code, const char *needle)
{
    struct mi_context *c = NULL;
    int rc = parse(&c, event, payload);
    cr_assert_eq(rc, code, "rc %d, message: %s", rc, mi_error_last());
    cr_assert_null(c);
    cr_assert(strstr(mi_error_last(), needle), "message '%s' lacks '%s'", mi_error_last(), needle);
}

Test(context, pull_request_opened)
{
    json_t *p = mi_test_event_load("pull_request.opened.json");
    struct mi_context *c = parse_ok("pull_request", p);
    cr_assert_eq(c->kind, MI_EVENT_PULL_REQUEST);
    cr_assert_str_eq(c->action, "opened");
    cr_assert_str_eq(c->branch, "master");
    cr_assert_str_eq(c->head_ref, "changes");
    cr_assert_eq(c->pr_number, 2);
    cr_assert_str_eq(c->repository, "Codertocat/Hello-World");
    cr_assert_str_eq(c->base_sha,
                     json_string_value(json_object_get(
                         json_object_get(json_object_get(p, "pull_request"), "base"), "sha")));
    cr_assert_str_eq(c->head_sha, "ec26c3e57ca3a959ca5aad62de7213c562f8c821");
    cr_assert_not(c->fork);
    cr_assert_not(c->merged);
    cr_assert_str_eq(c->ref, "refs/heads/master");
    mi_context_free(c);
    json_decref(p);
}

Test(context, pull_request_synchronize_reopened_closed)
{
    const char *files[] = {"pull_request.synchronize.json", "pull_request.reopened.json",
                           "pull_request.closed.json"};
    const char *actions[] = {"synchronize", "reopened", "closed"};
    for (int i = 0; i < 3; i++) {
        json_t *p = mi_test_event_load(files[i]);
        struct mi_context *c = parse_ok("pull_request", p);
        cr_assert_eq(c->kind, MI_EVENT_PULL_REQUEST);
        cr_assert_str_eq(c->action, actions[i]);
        cr_assert_str_eq(c->branch, "master");
        cr_assert(mi_context_sha_valid(c->head_sha));
        cr_assert_not(c->merged, "%s", files[i]);
        mi_context_free(c);
        json_decref(p);
    }
}

Test(context, pull_request_closed_merged)
{
    json_t *p = mi_test_event_load("pull_request.closed.json");
    mi_test_event_set(p, "pull_request.merged", json_true());
    struct mi_context *c = parse_ok("pull_request", p);
    cr_assert(c->merged);
    cr_assert_str_eq(c->action, "closed");
    cr_assert_str_eq(c->merge_sha, "c4295bd74fb0f4fda03689c3df3f2803b658fd85");
    mi_context_free(c);
    json_decref(p);
}

Test(context, pull_request_from_a_fork_is_flagged)
{
    json_t *p = mi_test_event_load("pull_request.opened.json");
    mi_test_event_set_str(p, "pull_request.head.repo.full_name", "mallory/Hello-World");
    struct mi_context *c = parse_ok("pull_request", p);
    cr_assert(c->fork);
    cr_assert_str_eq(c->head_repo, "mallory/Hello-World");
    cr_assert_str_eq(c->base_repo, "Codertocat/Hello-World");
    mi_context_free(c);
    /* A head repository that was deleted cannot be shown to be ours: a fork, too. */
    mi_test_event_set(p, "pull_request.head.repo", json_null());
    c = parse_ok("pull_request_target", p);
    cr_assert(c->fork);
    cr_assert_null(c->head_repo);
    mi_context_free(c);
    json_decref(p);
}

/* pull_request_target carries pull_request's payload; what differs is that its run holds the
 * base repository's secrets and a write token, so a fork's head must be told apart. */
Test(context, pull_request_target_is_read_as_a_pull_request_in_the_base_context)
{
    const char *files[] = {"pull_request.opened.json", "pull_request.synchronize.json",
                           "pull_request.reopened.json"};
    for (int i = 0; i < 3; i++) {
        json_t *p = mi_test_event_load(files[i]);
        struct mi_context *c = parse_ok("pull_request_target", p);
        cr_assert_eq(c->kind, MI_EVENT_PULL_REQUEST, "%s", files[i]);
        cr_assert_str_eq(c->event_name, "pull_request_target");
        cr_assert(c->base_context, "%s", files[i]);
        cr_assert_not(c->fork, "%s: the recorded head is the base repository", files[i]);
        cr_assert_not(mi_context_fork_with_secrets(c), "%s", files[i]);
        cr_assert_str_eq(c->branch, "master");
        cr_assert(mi_context_sha_valid(c->head_sha));
        mi_context_free(c);

        /* The same payload as pull_request (or with the name left to inference) is not. */
        c = parse_ok("pull_request", p);
        cr_assert_not(c->base_context, "%s", files[i]);
        mi_context_free(c);
        c = parse_ok(NULL, p);
        cr_assert_str_eq(c->event_name, "pull_request");
        cr_assert_not(c->base_context, "%s", files[i]);
        mi_context_free(c);
        json_decref(p);
    }
}

Test(context, fork_under_pull_request_target_is_flagged_as_holding_secrets)
{
    json_t *p = mi_test_event_load("pull_request.synchronize.json");
    mi_test_event_set_str(p, "pull_request.head.repo.full_name", "mallory/Hello-World");
    struct mi_context *c = parse_ok("pull_request_target", p);
    cr_assert(c->fork);
    cr_assert(c->base_context);
    cr_assert(mi_context_fork_with_secrets(c));
    cr_assert_str_eq(c->head_repo, "mallory/Hello-World");
    mi_context_free(c);

    /* Under pull_request GitHub gives a fork's run no secrets: a fork, but not this case. */
    c = parse_ok("pull_request", p);
    cr_assert(c->fork);
    cr_assert_not(mi_context_fork_with_secrets(c));
    mi_context_free(c);

    /* A deleted head repository cannot be shown to be ours. */
    mi_test_event_set(p, "pull_request.head.repo", json_null());
    c = parse_ok("pull_request_target", p);
    cr_assert(mi_context_fork_with_secrets(c));
    cr_assert_null(c->head_repo);
    mi_context_free(c);

    /* A closed (merged) fork pull request is still one. */
    json_decref(p);
    p = mi_test_event_load("pull_request.closed.json");
    mi_test_event_set(p, "pull_request.merged", json_true());
    mi_test_event_set_str(p, "pull_request.head.repo.full_name", "mallory/Hello-World");
    c = parse_ok("pull_request_target", p);
    cr_assert(mi_context_fork_with_secrets(c));
    mi_context_free(c);
    json_decref(p);

    cr_assert_not(mi_context_fork_with_secrets(NULL));
}

Test(context, load_takes_pull_request_target_from_github_event_name)
{
    char *dir = mi_test_tmpdir();
    json_t *p = mi_test_event_load("pull_request.opened.json");
    mi_test_event_set_str(p, "pull_request.head.repo.full_name", "mallory/Hello-World");
    char *path = mi_test_event_write(p, dir, "event.json");
    setenv("GITHUB_EVENT_NAME", "pull_request_target", 1);
    struct mi_context *c = NULL;
    cr_assert_eq(mi_context_load(&c, NULL, path), 0, "%s", mi_error_last());
    cr_assert(mi_context_fork_with_secrets(c));
    mi_context_free(c);
    /* An explicit name (--event-name) wins over the variable, both ways. */
    cr_assert_eq(mi_context_load(&c, "pull_request", path), 0, "%s", mi_error_last());
    cr_assert_not(mi_context_fork_with_secrets(c));
    mi_context_free(c);
    setenv("GITHUB_EVENT_NAME", "pull_request", 1);
    cr_assert_eq(mi_context_load(&c, "pull_request_target", path), 0, "%s", mi_error_last());
    cr_assert(mi_context_fork_with_secrets(c));
    mi_context_free(c);
    unsetenv("GITHUB_EVENT_NAME");
    json_decref(p);
    free(path);
    mi_test_rmtree(dir);
    free(dir);
}

Test(context, push_of_a_new_branch)
{
    json_t *p = mi_test_event_load("push.branch-created.json");
    struct mi_context *c = parse_ok("push", p);
    cr_assert_eq(c->kind, MI_EVENT_PUSH);
    cr_assert_str_eq(c->branch, "master");
    cr_assert(c->created);
    cr_assert(mi_context_sha_is_zero(c->before));
    cr_assert_str_eq(c->after, "6113728f27ae82c7b1a177c8d03f9e96e0adf246");
    mi_context_free(c);
    json_decref(p);
}

Test(context, push_of_tags_names_no_branch)
{
    json_t *p = mi_test_event_load("push.tag-created.json");
    struct mi_context *c = parse_ok("push", p);
    cr_assert_null(c->branch);
    cr_assert_str_eq(c->ref, "refs/tags/simple-tag");
    mi_context_free(c);
    json_decref(p);
    p = mi_test_event_load("push.tag-deleted.json");
    c = parse_ok("push", p);
    cr_assert(c->deleted);
    cr_assert(mi_context_sha_is_zero(c->after));
    mi_context_free(c);
    json_decref(p);
}

Test(context, workflow_dispatch)
{
    json_t *p = mi_test_event_load("workflow_dispatch.json");
    struct mi_context *c = parse_ok("workflow_dispatch", p);
    cr_assert_eq(c->kind, MI_EVENT_WORKFLOW_DISPATCH);
    cr_assert_str_eq(c->branch, "main");
    cr_assert_null(c->input_environment);
    mi_context_free(c);
    mi_test_event_set_str(p, "inputs.environment", "staging");
    c = parse_ok("workflow_dispatch", p);
    cr_assert_str_eq(c->input_environment, "staging");
    mi_context_free(c);
    mi_test_event_set_str(p, "inputs.environment", "../prod");
    expect_error("workflow_dispatch", p, MI_EUSAGE, "not a valid environment name");
    mi_test_event_set(p, "inputs.environment", json_integer(3));
    expect_error("workflow_dispatch", p, MI_ERR, "inputs.environment");
    json_decref(p);
}

Test(context, infers_the_event_from_the_payload)
{
    const char *files[] = {"pull_request.opened.json", "push.branch-created.json",
                           "workflow_dispatch.json"};
    enum mi_event_kind kinds[] = {MI_EVENT_PULL_REQUEST, MI_EVENT_PUSH, MI_EVENT_WORKFLOW_DISPATCH};
    for (int i = 0; i < 3; i++) {
        json_t *p = mi_test_event_load(files[i]);
        struct mi_context *c = parse_ok(NULL, p);
        cr_assert_eq(c->kind, kinds[i], "%s", files[i]);
        mi_context_free(c);
        json_decref(p);
    }
    json_t *p = json_pack("{s:i}", "zen", 1);
    expect_error(NULL, p, MI_EUSAGE, "cannot tell the event kind");
    json_decref(p);
}

Test(context, other_events_are_kept_by_name)
{
    json_t *p = json_pack("{s:s}", "schedule", "0 4 * * *");
    struct mi_context *c = parse_ok("schedule", p);
    cr_assert_eq(c->kind, MI_EVENT_OTHER);
    cr_assert_str_eq(c->event_name, "schedule");
    mi_context_free(c);
    expect_error("sched$(id)", p, MI_EUSAGE, "not an event name");
    json_decref(p);
}

Test(context, hostile_branch_names)
{
    /* Not valid git branch names: refused, with the field named. */
    const char *bad[] = {"../x", "a b",  "x; rm -rf /", "a..b", "-x",       "x.lock",
                         "a\nb", "HEAD", "a~1",         "a:b",  "refs/../x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *p = mi_test_event_load("pull_request.opened.json");
        mi_test_event_set_str(p, "pull_request.base.ref", bad[i]);
        expect_error("pull_request", p, MI_ERR, "pull_request.base.ref");
        json_decref(p);
        p = mi_test_event_load("push.branch-created.json");
        char *ref = mi_xasprintf("refs/heads/%s", bad[i]);
        mi_test_event_set_str(p, "ref", ref);
        expect_error("push", p, MI_ERR, "ref");
        free(ref);
        json_decref(p);
    }
    /* Valid git names that would be dangerous in a shell are plain data here. */
    const char *odd[] = {"$(id)", "q\"uote'", "`id`", "feat/$HOME"};
    for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
        json_t *p = mi_test_event_load("pull_request.opened.json");
        mi_test_event_set_str(p, "pull_request.base.ref", odd[i]);
        struct mi_context *c = parse_ok("pull_request", p);
        cr_assert_str_eq(c->branch, odd[i]);
        mi_context_free(c);
        json_decref(p);
    }
}

Test(context, malformed_payloads)
{
    struct mi_context *c = NULL;
    const char *trunc = "{\"action\": \"opened\", \"pull_request\": {";
    cr_assert_eq(mi_context_parse_event(&c, "pull_request", trunc, strlen(trunc), "ev.json"),
                 MI_ERR);
    cr_assert(strstr(mi_error_last(), "ev.json:1:"), "%s", mi_error_last());
    cr_assert(strstr(mi_error_last(), "malformed JSON"), "%s", mi_error_last());
    cr_assert_eq(mi_context_parse_event(&c, "push", "[1,2]", 5, "ev.json"), MI_ERR);
    cr_assert(strstr(mi_error_last(), "not a JSON object"));
    const char *dup = "{\"ref\":\"refs/heads/a\",\"ref\":\"refs/heads/b\"}";
    cr_assert_eq(mi_context_parse_event(&c, "push", dup, strlen(dup), "ev.json"), MI_ERR);
    const char *nul = "{\"ref\":\"refs/heads/a\\u0000b\",\"before\":\"\",\"after\":\"\"}";
    cr_assert_eq(mi_context_parse_event(&c, "push", nul, strlen(nul), "ev.json"), MI_ERR);
    cr_assert(strstr(mi_error_last(), "NUL"), "%s", mi_error_last());
    cr_assert_null(c);

    json_t *p = mi_test_event_load("pull_request.opened.json");
    mi_test_event_set(p, "pull_request.head.sha", json_integer(12));
    expect_error("pull_request", p, MI_ERR, "'pull_request.head.sha' is not a string");
    mi_test_event_set_str(p, "pull_request.head.sha", "ec26c3e; touch /tmp/x");
    expect_error("pull_request", p, MI_ERR, "is not a commit id");
    mi_test_event_set_str(p, "pull_request.head.sha", "EC26C3E57CA3A959CA5AAD62DE7213C562F8C821");
    expect_error("pull_request", p, MI_ERR, "is not a commit id");
    json_decref(p);

    p = mi_test_event_load("pull_request.opened.json");
    json_object_del(json_object_get(p, "pull_request"), "base");
    expect_error("pull_request", p, MI_ERR, "'pull_request.base' is missing");
    json_decref(p);

    p = mi_test_event_load("pull_request.opened.json");
    mi_test_event_set_str(p, "pull_request.base.repo.full_name", "../../etc");
    expect_error("pull_request", p, MI_ERR, "not an owner/name repository");
    json_decref(p);

    p = mi_test_event_load("push.branch-created.json");
    mi_test_event_set(p, "forced", json_string("yes"));
    expect_error("push", p, MI_ERR, "'forced' is not true or false");
    json_decref(p);
}

Test(context, load_reads_the_github_variables)
{
    char *path = mi_test_path("tests/fixtures/events/push.branch-created.json");
    setenv("GITHUB_EVENT_NAME", "push", 1);
    setenv("GITHUB_EVENT_PATH", path, 1);
    setenv("GITHUB_REPOSITORY", "octo/infra", 1);
    setenv("GITHUB_SHA", "6113728f27ae82c7b1a177c8d03f9e96e0adf246", 1);
    setenv("GITHUB_REF", "refs/heads/ignored", 1);
    struct mi_context *c = NULL;
    cr_assert_eq(mi_context_load(&c, NULL, NULL), 0, "%s", mi_error_last());
    cr_assert_eq(c->kind, MI_EVENT_PUSH);
    cr_assert_str_eq(c->repository, "octo/infra");
    cr_assert_str_eq(c->branch, "master", "the payload's ref wins over GITHUB_REF");
    cr_assert_str_eq(c->sha, "6113728f27ae82c7b1a177c8d03f9e96e0adf246");
    mi_context_free(c);

    setenv("GITHUB_SHA", "not-a-sha", 1);
    cr_assert_eq(mi_context_load(&c, NULL, NULL), MI_ERR);
    cr_assert(strstr(mi_error_last(), "GITHUB_SHA"));
    unsetenv("GITHUB_SHA");

    setenv("GITHUB_REPOSITORY", "no-slash", 1);
    cr_assert_eq(mi_context_load(&c, NULL, NULL), MI_ERR);
    unsetenv("GITHUB_REPOSITORY");

    cr_assert_eq(mi_context_load(&c, NULL, "/nonexistent/event.json"), MI_ENOTFOUND);
    cr_assert(strstr(mi_error_last(), "/nonexistent/event.json"), "%s", mi_error_last());

    unsetenv("GITHUB_EVENT_PATH");
    cr_assert_eq(mi_context_load(&c, NULL, NULL), MI_EUSAGE);
    cr_assert(strstr(mi_error_last(), "GITHUB_EVENT_PATH"));

    /* An event without a ref of its own takes GITHUB_REF. */
    char *dir = mi_test_tmpdir();
    char *sched = mi_xasprintf("%s/schedule.json", dir);
    FILE *f = fopen(sched, "w");
    fputs("{\"schedule\":\"0 4 * * *\"}", f);
    fclose(f);
    setenv("GITHUB_REF", "refs/heads/main", 1);
    cr_assert_eq(mi_context_load(&c, "schedule", sched), 0, "%s", mi_error_last());
    cr_assert_eq(c->kind, MI_EVENT_OTHER);
    cr_assert_str_eq(c->branch, "main");
    mi_context_free(c);
    setenv("GITHUB_REF", "refs/heads/a b", 1);
    cr_assert_eq(mi_context_load(&c, "schedule", sched), MI_ERR);
    unsetenv("GITHUB_REF");
    unsetenv("GITHUB_EVENT_NAME");
    mi_test_rmtree(dir);
    free(sched);
    free(dir);
    free(path);
}

Test(context, local_runs)
{
    struct mi_context *c = NULL;
    cr_assert_eq(mi_context_local(&c, "dev"), 0);
    cr_assert_eq(c->kind, MI_EVENT_LOCAL);
    cr_assert_str_eq(c->branch, "dev");
    mi_context_free(c);
    cr_assert_eq(mi_context_local(&c, NULL), 0);
    cr_assert_null(c->branch);
    mi_context_free(c);
    cr_assert_eq(mi_context_local(&c, "../x"), MI_EUSAGE);
    mi_context_free(NULL);
}
