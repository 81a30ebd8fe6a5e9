/* mlinfra detect end to end: the built binary on temporary repositories, driven by GitHub's
 * recorded event payloads (adjusted to the repository's commits), checked through its JSON on
 * stdout, its $GITHUB_OUTPUT file and its exit code. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "events.h"
#include "gitrepo.h"
#include "testsupport.h"
#include "util/buf.h"
#include "util/fs.h"

/* ---------------------------------------------------------------------------------------
 * A repository: environments dev and prod (own branches), dev uses modules/a which uses
 * modules/b; prod uses modules/c. `base` is the common commit; `head` (branch feature) changes
 * what a test asks for.
 */
struct world {
    struct mi_test_repo *r;
    char *tmp;    /* events and outputs */
    char *base;   /* commit on dev and prod */
    char *head;   /* the pull request's head */
    char *output; /* $GITHUB_OUTPUT */
};

static void world_init(struct world *w, const char *config)
{
    memset(w, 0, sizeof(*w));
    w->r = mi_test_repo_init();
    w->tmp = mi_test_tmpdir();
    w->output = mi_xasprintf("%s/github_output", w->tmp);
    mi_test_repo_write(w->r, "environments/dev/main.tf",
                       "module \"a\" {\n  source = \"../../modules/a\"\n}\n");
    mi_test_repo_write(w->r, "environments/prod/main.tf",
                       "module \"c\" {\n  source = \"../../modules/c\"\n}\n");
    mi_test_repo_write(w->r, "modules/a/main.tf", "module \"b\" {\n  source = \"../b\"\n}\n");
    mi_test_repo_write(w->r, "modules/b/main.tf", "resource \"null_resource\" \"b\" {}\n");
    mi_test_repo_write(w->r, "modules/c/main.tf", "resource \"null_resource\" \"c\" {}\n");
    mi_test_repo_write(w->r, "docs/README.md", "docs\n");
    if (config)
        mi_test_repo_write(w->r, "mlinfra.yml", config);
    w->base = mi_test_repo_commit(w->r, "base");
    mi_test_repo_branch(w->r, "dev", w->base);
    mi_test_repo_branch(w->r, "prod", w->base);
}

/* Commits the working tree as the pull request's head (on top of base). */
static void world_head(struct world *w)
{
    free(w->head);
    w->head = mi_test_repo_commit(w->r, "head");
    mi_test_repo_branch(w->r, "feature", w->head);
}

static void world_free(struct world *w)
{
    mi_test_rmtree(w->tmp);
    free(w->tmp);
    free(w->output);
    free(w->base);
    free(w->head);
    mi_test_repo_free(w->r);
}

/* A recorded pull_request payload aimed at this repository. */
static json_t *pr_event(struct world *w, const char *fixture, const char *base_branch)
{
    json_t *p = mi_test_event_load(fixture);
    mi_test_event_set_str(p, "pull_request.base.ref", base_branch);
    mi_test_event_set_str(p, "pull_request.base.sha", w->base);
    mi_test_event_set_str(p, "pull_request.head.sha", w->head);
    mi_test_event_set_str(p, "pull_request.head.ref", "feature");
    return p;
}

static json_t *push_event(const char *fixture, const char *branch, const char *before,
                          const char *after)
{
    json_t *p = mi_test_event_load(fixture);
    char *ref = mi_xasprintf("refs/heads/%s", branch);
    mi_test_event_set_str(p, "ref", ref);
    mi_test_event_set_str(p, "before", before);
    mi_test_event_set_str(p, "after", after);
    mi_test_event_set(p, "created", json_boolean(strspn(before, "0") == 40));
    free(ref);
    return p;
}

struct result {
    struct mi_test_run run;
    json_t *json; /* stdout parsed, or NULL */
};

/* Runs mlinfra detect with the event (NULL: no event variables) and extra arguments. */
static void detect(struct result *res, struct world *w, const char *event_name, json_t *event,
                   const char *const extra[])
{
    char *event_path = event ? mi_test_event_write(event, w->tmp, "event.json") : NULL;
    char *env_name = mi_xasprintf("GITHUB_EVENT_NAME=%s", event_name ? event_name : "");
    char *env_path = mi_xasprintf("GITHUB_EVENT_PATH=%s", event_path ? event_path : "");
    char *env_out = mi_xasprintf("GITHUB_OUTPUT=%s", w->output);
    char *env[] = {env_name,
                   env_path,
                   env_out,
                   "GITHUB_ACTIONS=",
                   "GITHUB_WORKSPACE=",
                   "GITHUB_SHA=",
                   "GITHUB_REF=",
                   "GITHUB_REPOSITORY=octo/infra",
                   NULL};
    const char *argv[32] = {mi_test_binary(), "detect", "--repo", w->r->dir};
    size_t n = 4;
    for (size_t i = 0; extra && extra[i]; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    unlink(w->output);
    mi_test_run_cmd(&res->run, (char *const *)argv, env, w->tmp, 20000);
    json_error_t err;
    int is_json = res->run.exit_code == 0 && res->run.out.ptr[0] == '{';
    res->json = is_json ? json_loads(res->run.out.ptr, 0, &err) : NULL;
    if (is_json)
        cr_assert(res->json, "stdout is not JSON (%s):\n%s", err.text, res->run.out.ptr);
    free(env_name);
    free(env_path);
    free(env_out);
    free(event_path);
}

static void result_release(struct result *res)
{
    json_decref(res->json);
    mi_test_run_release(&res->run);
}

static void expect_exit(struct result *res, int code)
{
    cr_assert_eq(res->run.exit_code, code, "exit %d (want %d); stderr:\n%s\nstdout:\n%s",
                 res->run.exit_code, code, res->run.err.ptr, res->run.out.ptr);
}

/* The names in environments[], comma-separated. */
static char *selected(const struct result *res)
{
    mi_buf b = MI_BUF_INIT;
    json_t *envs = json_object_get(res->json, "environments");
    size_t i;
    json_t *e;
    json_array_foreach(envs, i, e)
    {
        mi_buf_addf(&b, "%s%s", i ? "," : "", json_string_value(json_object_get(e, "name")));
    }
    return mi_buf_detach(&b);
}

/* The first reason given for the first environment selected (borrowed). */
static json_t *first_reason(const struct result *res)
{
    json_t *env = json_array_get(json_object_get(res->json, "environments"), 0);
    return json_array_get(json_object_get(env, "reasons"), 0);
}

static void expect_selected(const struct result *res, const char *want)
{
    char *got = selected(res);
    cr_assert_str_eq(got, want, "stdout:\n%s\nstderr:\n%s", res->run.out.ptr, res->run.err.ptr);
    free(got);
    cr_assert_eq(json_is_true(json_object_get(res->json, "skip")), *want == '\0');
}

static const char *jget(json_t *root, const char *key)
{
    return json_string_value(json_object_get(root, key));
}

/* ---------------------------------------------------------------------------------------
 * $GITHUB_OUTPUT, parsed the way the runner reads it.
 */
struct outputs {
    char *names[16];
    char *values[16];
    char *delims[16];
    size_t n;
};

static void outputs_read(struct outputs *o, const char *path)
{
    memset(o, 0, sizeof(*o));
    mi_buf text = MI_BUF_INIT;
    cr_assert_eq(mi_fs_read_file(&text, path, 0), 0, "no $GITHUB_OUTPUT written");
    char *p = text.ptr;
    while (*p) {
        char *eol = strchr(p, '\n');
        cr_assert(eol, "unterminated line in $GITHUB_OUTPUT");
        *eol = '\0';
        char *heredoc = strstr(p, "<<");
        char *eq = strchr(p, '=');
        cr_assert(o->n < 16);
        if (heredoc && (!eq || heredoc < eq)) {
            *heredoc = '\0';
            const char *delim = heredoc + 2;
            o->names[o->n] = mi_xstrdup(p);
            o->delims[o->n] = mi_xstrdup(delim);
            mi_buf v = MI_BUF_INIT;
            p = eol + 1;
            for (;;) {
                eol = strchr(p, '\n');
                cr_assert(eol, "heredoc for %s not closed", o->names[o->n]);
                *eol = '\0';
                if (strcmp(p, delim) == 0)
                    break;
                if (v.len)
                    mi_buf_addch(&v, '\n');
                mi_buf_adds(&v, p);
                p = eol + 1;
            }
            o->values[o->n++] = mi_buf_detach(&v);
        } else {
            cr_assert(eq, "bad line in $GITHUB_OUTPUT: %s", p);
            *eq = '\0';
            o->names[o->n] = mi_xstrdup(p);
            o->values[o->n++] = mi_xstrdup(eq + 1);
        }
        p = eol + 1;
    }
    mi_buf_release(&text);
}

static const char *output(const struct outputs *o, const char *name)
{
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->names[i], name) == 0)
            return o->values[i];
    cr_assert_fail("no output '%s'", name);
    return NULL;
}

static void outputs_release(struct outputs *o)
{
    for (size_t i = 0; i < o->n; i++) {
        free(o->names[i]);
        free(o->values[i]);
        free(o->delims[i]);
    }
}

/* ---------------------------------------------------------------------------------------
 * Pull requests.
 */

Test(detect, pull_request_module_chain_and_step_outputs)
{
    struct world w;
    world_init(&w, NULL);
    mi_test_repo_write(w.r, "modules/b/main.tf", "resource \"null_resource\" \"b2\" {}\n");
    world_head(&w);
    json_t *ev = pr_event(&w, "pull_request.opened.json", "dev");
    struct result res;
    detect(&res, &w, "pull_request", ev, NULL);
    expect_exit(&res, 0);
    expect_selected(&res, "dev");
    cr_assert_str_eq(jget(res.json, "event"), "pull_request");
    cr_assert_str_eq(jget(res.json, "action"), "opened");
    cr_assert_str_eq(jget(res.json, "repository"), "octo/infra");
    cr_assert_str_eq(jget(json_object_get(res.json, "compare"), "method"), "merge-base");
    json_t *env = json_array_get(json_object_get(res.json, "environments"), 0);
    cr_assert_str_eq(jget(env, "directory"), "environments/dev");
    json_t *reason = json_array_get(json_object_get(env, "reasons"), 0);
    cr_assert_str_eq(jget(reason, "kind"), "module");
    cr_assert_str_eq(jget(reason, "path"), "modules/b/main.tf");
    json_t *chain = json_object_get(reason, "modules");
    cr_assert_eq(json_array_size(chain), 2);
    cr_assert_str_eq(json_string_value(json_array_get(chain, 0)), "modules/a");
    cr_assert_str_eq(json_string_value(json_array_get(chain, 1)), "modules/b");
    char *matrix = json_dumps(json_object_get(res.json, "matrix"), JSON_COMPACT);
    cr_assert_str_eq(
        matrix, "{\"include\":[{\"environment\":\"dev\",\"directory\":\"environments/dev\"}]}");

    struct outputs o;
    outputs_read(&o, w.output);
    cr_assert_str_eq(output(&o, "environments"), "[\"dev\"]");
    cr_assert_str_eq(output(&o, "matrix"), matrix);
    cr_assert_str_eq(output(&o, "skip"), "false");
    cr_assert_str_eq(output(&o, "fork"), "false");
    cr_assert_str_eq(output(&o, "full_run"), "false");
    /* The multi-line result uses a random delimiter and holds the same document. */
    const char *result = output(&o, "result");
    const char *delim = NULL;
    for (size_t i = 0; i < o.n; i++)
        if (!strcmp(o.names[i], "result"))
            delim = o.delims[i];
    cr_assert(delim && strncmp(delim, "ghadelimiter_", 13) == 0 && strlen(delim) == 13 + 32,
              "delimiter '%s'", delim ? delim : "(none)");
    json_t *again = json_loads(result, 0, NULL);
    cr_assert(json_equal(again, res.json), "result output differs from stdout");
    json_decref(again);
    char *first = mi_xstrdup(delim);
    outputs_release(&o);

    /* A second run picks a new delimiter. */
    result_release(&res);
    detect(&res, &w, "pull_request", ev, NULL);
    outputs_read(&o, w.output);
    for (size_t i = 0; i < o.n; i++)
        if (o.delims[i])
            cr_assert_str_neq(o.delims[i], first);
    outputs_release(&o);
    free(first);
    free(matrix);
    result_release(&res);
    json_decref(ev);
    world_free(&w);
}

Test(detect, recorded_pull_request_actions)
{
    struct world w;
    world_init(&w, NULL);
    mi_test_repo_write(w.r, "environments/dev/variables.tf", "variable \"x\" {}\n");
    world_head(&w);
    const char *fixtures[] = {"pull_request.synchronize.json", "pull_request.reopened.json"};
    for (size_t i = 0; i < 2; i++) {
        json_t *ev = pr_event(&w, fixtures[i], "dev");
        struct result res;
        detect(&res, &w, "pull_request", ev, NULL);
        expect_exit(&res, 0);
        expect_selected(&res, "dev");
        result_release(&res);
        json_decref(ev);
    }
    /* Closed without merging: nothing to do. */
    json_t *ev = pr_event(&w, "pull_request.closed.json", "dev");
    struct result res;
    detect(&res, &w, "pull_request", ev, NULL);
    expect_exit(&res, 0);
    expect_selected(&res, "");
    cr_assert(strstr(jget(res.json, "skip_reason"), "closed without merging"));
    struct outputs o;
    outputs_read(&o, w.output);
    cr_assert_str_eq(output(&o, "skip"), "true");
    cr_assert_str_eq(output(&o, "matrix"), "{\"include\":[]}");
    outputs_release(&o);
    result_release(&res);
    /* Closed by merging: the environment it changed. */
    mi_test_event_set(ev, "pull_request.merged", json_true());
    detect(&res, &w, "pull_request", ev, NULL);
    expect_exit(&res, 0);
    expect_selected(&res, "dev");
    result_release(&res);
    json_decref(ev);
    world_free(&w);
}

Test(detect, fork_pull_requests_are_flagged)
{
    struct world w;
    world_init(&w, NULL);
    mi_test_repo_write(w.r, "environments/prod/main.tf", "# changed by a stranger\n");
    world_head(&w);
    json_t *ev = pr_event(&w, "pull_request.opened.json", "prod");
    mi_test_event_set_str(ev, "pull_request.head.repo.full_name", "mallory/infra");
    struct result res;
    detect(&res, &w, "pull_request", ev, NULL);
    expect_exit(&res, 0);
    expect_selected(&res, "prod");
    cr_assert(json_is_true(json_object_get(res.json, "fork")));
    cr_assert(strstr(res.run.err.ptr, "comes from a fork (mallory/infra)"), "%s", res.run.err.ptr);
    struct outputs o;
    outputs_read(&o, w.output);
    cr_assert_str_eq(output(&o, "fork"), "true");
    outputs_release(&o);
    result_release(&res);
    json_decref(ev);
    world_free(&w);
}

/* detect runs no code of the pull request, so under pull_request_target it still answers for
 * a fork, flags it, and warns that plan will refuse it; a same-repository head is as usual. */
Test(detect, fork_under_pull_request_target_is_flagged_and_warned_about)
{
    struct world w;
    world_init(&w, NULL);
    mi_test_repo_write(w.r, "environments/prod/main.tf", "# changed by a stranger\n");
    world_head(&w);
    json_t *ev = pr_event(&w, "pull_request.synchronize.json", "prod");
    mi_test_event_set_str(ev, "pull_request.head.repo.full_name", "mallory/infra");
    struct result res;
    detect(&res, &w, "pull_request_target", ev, NULL);
    expect_exit(&res, 0);
    expect_selected(&res, "prod");
    cr_assert_str_eq(jget(res.json, "event"), "pull_request_target");
    cr_assert(json_is_true(json_object_get(res.json, "fork")));
    cr_assert(strstr(res.run.err.ptr, "comes from a fork (mallory/infra) and this "
                                      "pull_request_target run holds this repository's secrets"),
              "%s", res.run.err.ptr);
    cr_assert(strstr(res.run.err.ptr, "mlinfra plan refuses to plan it"), "%s", res.run.err.ptr);
    cr_assert_null(strstr(res.run.err.ptr, "it gets no secrets"), "%s", res.run.err.ptr);
    struct outputs o;
    outputs_read(&o, w.output);
    cr_assert_str_eq(output(&o, "fork"), "true");
    outputs_release(&o);
    result_release(&res);

    /* The head in the base repository (the recorded one): no fork, no warning. */
    mi_test_event_set_str(ev, "pull_request.head.repo.full_name", "Codertocat/Hello-World");
    detect(&res, &w, "pull_request_target", ev, NULL);
    expect_exit(&res, 0);
    expect_selected(&res, "prod");
    cr_assert(json_is_false(json_object_get(res.json, "fork")));
    cr_assert_null(strstr(res.run.err.ptr, "comes from a fork"), "%s", res.run.err.ptr);
    result_release(&res);
    json_decref(ev);
    world_free(&w);
}

Test(detect, renames_and_no_op_changes)
{
    struct world w;
    world_init(&w, NULL);
    /* Moving prod's file away affects prod through its old path. */
    mi_test_repo_rename(w.r, "environments/prod/main.tf", "attic/prod-main.tf");
    world_head(&w);
    json_t *ev = pr_event(&w, "pull_request.opened.json", "prod");
    struct result res;
    detect(&res, &w, "pull_request", ev, NULL);
    expect_exit(&res, 0);
    expect_selected(&res, "prod");
    json_t *reason = first_reason(&res);
    cr_assert_str_eq(jget(reason, "path"), "environments/prod/main.tf");
    /* attic/ concerns no environment, so it is not looked into: the move shows as the
     * deletion it is for prod. Asked for every path, the two halves pair up. */
    cr_assert_str_eq(jget(reason, "change"), "deleted");
    cr_assert_null(json_object_get(reason, "renamed_to"));
    cr_assert_eq(json_integer_value(
                     json_object_get(json_object_get(res.json, "compare"), "unexamined_dirs")),
                 1);
    result_release(&res);
    const char *all[] = {"--all-paths", NULL};
    detect(&res, &w, "pull_request", ev, all);
    expect_exit(&res, 0);
    expect_selected(&res, "prod");
    reason = first_reason(&res);
    cr_assert_str_eq(jget(reason, "change"), "renamed");
    cr_assert_str_eq(jget(reason, "renamed_to"), "attic/prod-main.tf");
    result_release(&res);
    json_decref(ev);

    /* A move between two places that concern prod pairs up without asking: from modules/c,
     * which prod uses, into prod's directory. */
    mi_test_repo_reset(w.r, w.base);
    mi_test_repo_rename(w.r, "modules/c/main.tf", "environments/prod/c.tf");
    world_head(&w);
    ev = pr_event(&w, "pull_request.opened.json", "prod");
    detect(&res, &w, "pull_request", ev, NULL);
    expect_exit(&res, 0);
    expect_selected(&res, "prod");
    reason = first_reason(&res);
    cr_assert_str_eq(jget(reason, "kind"), "directory");
    cr_assert_str_eq(jget(reason, "path"), "environments/prod/c.tf");
    cr_assert_str_eq(jget(reason, "renamed_from"), "modules/c/main.tf");
    result_release(&res);
    json_decref(ev);

    /* Docs only, and an empty commit: skip, exit 0. */
    mi_test_repo_reset(w.r, w.base);
    mi_test_repo_write(w.r, "docs/README.md", "better docs\n");
    world_head(&w);
    ev = pr_event(&w, "pull_request.opened.json", "dev");
    detect(&res, &w, "pull_request", ev, NULL);
    expect_exit(&res, 0);
    expect_selected(&res, "");
    /* docs/ concerns no environment: counted, not looked into. */
    json_t *cmp = json_object_get(res.json, "compare");
    cr_assert_eq(json_integer_value(json_object_get(cmp, "changed_paths")), 0);
    cr_assert_eq(json_integer_value(json_object_get(cmp, "unexamined_dirs")), 1);
    cr_assert(strstr(jget(res.json, "skip_reason"), "1 changed folder elsewhere not looked into"),
              "%s", jget(res.json, "skip_reason"));
    result_release(&res);
    json_decref(ev);
    mi_test_repo_reset(w.r, w.base);
    world_head(&w);
    ev = pr_event(&w, "pull_request.opened.json", "dev");
    detect(&res, &w, "pull_request", ev, NULL);
    expect_exit(&res, 0);
    expect_selected(&res, "");
    cr_assert(strstr(res.run.err.ptr, "nothing to do"), "%s", res.run.err.ptr);
    result_release(&res);
    json_decref(ev);
    world_free(&w);
}

Test(detect, paths_that_are_not_utf8_stay_valid_json)
{
    struct world w;
    world_init(&w, NULL);
    mi_test_repo_write(w.r, "environments/dev/caf\xe9.tf", "# latin-1 name\n");
    world_head(&w);
    json_t *ev = pr_event(&w, "pull_request.opened.json", "dev");
    struct result res;
    detect(&res, &w, "pull_request", ev, NULL);
    expect_exit(&res, 0);
    expect_selected(&res, "dev");
    json_t *reason = first_reason(&res);
    cr_assert_str_eq(jget(reason, "path"), "environments/dev/caf\xef\xbf\xbd.tf");
    result_release(&res);
    json_decref(ev);
    world_free(&w);
}

/* ---------------------------------------------------------------------------------------
 * Pushes and manual runs.
 */

Test(detect, recorded_push_payloads)
{
    struct world w;
    world_init(&w, NULL);
    mi_test_repo_write(w.r, "modules/c/main.tf", "resource \"null_resource\" \"c2\" {}\n");
    world_head(&w);
    /* before..after */
    json_t *ev = push_event("push.branch-created.json", "prod", w.base, w.head);
    struct result res;
    detect(&res, &w, "push", ev, NULL);
    expect_exit(&res, 0);
    expect_selected(&res, "prod");
    cr_assert_str_eq(jget(json_object_get(res.json, "compare"), "method"), "before..after");
    cr_assert(json_is_null(json_object_get(res.json, "pull_request")));
    result_release(&res);
    json_decref(ev);

    /* A new branch (GitHub's recording as is: before all zeros): a full run, said so. */
    ev = push_event("push.branch-created.json", "dev", "0000000000000000000000000000000000000000",
                    w.head);
    detect(&res, &w, "push", ev, NULL);
    expect_exit(&res, 0);
    expect_selected(&res, "dev");
    cr_assert(json_is_true(json_object_get(res.json, "full_run")));
    cr_assert(strstr(jget(res.json, "full_run_reason"), "new branch"));
    cr_assert(strstr(res.run.err.ptr, "full run"), "%s", res.run.err.ptr);
    struct outputs o;
    outputs_read(&o, w.output);
    cr_assert_str_eq(output(&o, "full_run"), "true");
    outputs_release(&o);
    result_release(&res);
    json_decref(ev);

    /* A force-push whose before is unknown here: a full run too. */
    ev = push_event("push.branch-created.json", "dev", "2222222222222222222222222222222222222222",
                    w.head);
    mi_test_event_set(ev, "forced", json_true());
    detect(&res, &w, "push", ev, NULL);
    expect_exit(&res, 0);
    expect_selected(&res, "dev");
    cr_assert(strstr(jget(res.json, "full_run_reason"), "force-push or shallow clone"));
    result_release(&res);
    json_decref(ev);

    /* Tags, created and deleted, as recorded: no environment. */
    const char *tags[] = {"push.tag-created.json", "push.tag-deleted.json"};
    for (int i = 0; i < 2; i++) {
        ev = mi_test_event_load(tags[i]);
        detect(&res, &w, "push", ev, NULL);
        expect_exit(&res, 0);
        expect_selected(&res, "");
        cr_assert(strstr(jget(res.json, "skip_reason"), "refs/tags/simple-tag"), "%s",
                  jget(res.json, "skip_reason"));
        result_release(&res);
        json_decref(ev);
    }
    world_free(&w);
}

Test(detect, workflow_dispatch)
{
    struct world w;
    world_init(&w, "defaults:\n  branch: main\n");
    world_head(&w);
    json_t *ev = mi_test_event_load("workflow_dispatch.json"); /* refs/heads/main, as recorded */
    struct result res;
    detect(&res, &w, "workflow_dispatch", ev, NULL);
    expect_exit(&res, 0);
    expect_selected(&res, "dev,prod");
    cr_assert(json_is_true(json_object_get(res.json, "full_run")));
    result_release(&res);
    mi_test_event_set_str(ev, "inputs.environment", "prod");
    detect(&res, &w, "workflow_dispatch", ev, NULL);
    expect_exit(&res, 0);
    expect_selected(&res, "prod");
    result_release(&res);
    mi_test_event_set_str(ev, "inputs.environment", "qa");
    detect(&res, &w, "workflow_dispatch", ev, NULL);
    expect_exit(&res, 2);
    cr_assert(strstr(res.run.err.ptr, "no environment 'qa'"), "%s", res.run.err.ptr);
    result_release(&res);
    json_decref(ev);
    world_free(&w);
}

Test(detect, one_branch_with_several_environments)
{
    struct world w;
    world_init(&w, "defaults:\n  branch: main\nenvironments:\n  dev: {}\n  prod: {}\n"
                   "  qa:\n    directory: environments/qa\n    watch: [docs]\n");
    mi_test_repo_write(w.r, "modules/b/main.tf", "# b\n");
    mi_test_repo_write(w.r, "modules/c/main.tf", "# c\n");
    world_head(&w);
    json_t *ev = pr_event(&w, "pull_request.opened.json", "main");
    struct result res;
    detect(&res, &w, "pull_request", ev, NULL);
    expect_exit(&res, 0);
    expect_selected(&res, "dev,prod");
    cr_assert_eq(json_array_size(json_object_get(json_object_get(res.json, "matrix"), "include")),
                 2);
    cr_assert_eq(json_array_size(json_object_get(res.json, "candidates")), 3);
    result_release(&res);
    json_decref(ev);
    world_free(&w);
}

/* ---------------------------------------------------------------------------------------
 * Hostile and broken input.
 */

Test(detect, hostile_branch_names)
{
    struct world w;
    world_init(&w, NULL);
    mi_test_repo_write(w.r, "environments/dev/main.tf", "# x\n");
    world_head(&w);
    /* Not branch names at all: refused, exit 1, the field named. */
    const char *bad[] = {"../x", "a b", "x\"; touch pwned; \"", "dev\nprod"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *ev = pr_event(&w, "pull_request.opened.json", bad[i]);
        struct result res;
        detect(&res, &w, "pull_request", ev, NULL);
        expect_exit(&res, 1);
        cr_assert(strstr(res.run.err.ptr, "pull_request.base.ref"), "%s", res.run.err.ptr);
        cr_assert_not(mi_fs_exists(w.output), "outputs written for a refused event");
        result_release(&res);
        json_decref(ev);
    }
    /* Valid git names that mean something to a shell: plain data, no environment. */
    const char *odd[] = {"$(touch${IFS}pwned)", "q\"uote'", "`touch${IFS}pwned`"};
    for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
        json_t *ev = pr_event(&w, "pull_request.opened.json", odd[i]);
        struct result res;
        detect(&res, &w, "pull_request", ev, NULL);
        expect_exit(&res, 0);
        expect_selected(&res, "");
        cr_assert_str_eq(jget(res.json, "branch"), odd[i]);
        result_release(&res);
        json_decref(ev);
    }
    char *p1 = mi_fs_join(w.tmp, "pwned"), *p2 = mi_fs_join(w.r->dir, "pwned");
    cr_assert_not(mi_fs_exists(p1) || mi_fs_exists(p2), "a branch name was executed");
    free(p1);
    free(p2);
    world_free(&w);
}

Test(detect, environment_on_an_odd_branch_is_data)
{
    struct world w;
    world_init(&w, "environments:\n  dev:\n    branch: \"$(id)\"\n");
    mi_test_repo_write(w.r, "modules/b/main.tf", "# b\n");
    world_head(&w);
    json_t *ev = pr_event(&w, "pull_request.opened.json", "$(id)");
    struct result res;
    detect(&res, &w, "pull_request", ev, NULL);
    expect_exit(&res, 0);
    expect_selected(&res, "dev");
    result_release(&res);
    json_decref(ev);
    world_free(&w);
}

Test(detect, malformed_event_and_config)
{
    struct world w;
    world_init(&w, "environments:\n  dev:\n    branch: dev\n    require_approval: maybe\n");
    world_head(&w);
    json_t *ev = pr_event(&w, "pull_request.opened.json", "dev");
    struct result res;
    detect(&res, &w, "pull_request", ev, NULL);
    expect_exit(&res, 2);
    cr_assert(strstr(res.run.err.ptr, "mlinfra.yml:4: environments.dev.require_approval: "
                                      "expected true or false, got 'maybe'"),
              "%s", res.run.err.ptr);
    result_release(&res);

    /* A configuration named on the command line. */
    char *cfg = mi_fs_join(w.tmp, "other.yml");
    cr_assert_eq(mi_fs_write_file_atomic(cfg, "environments:\n  dev: {branch: [\n", 31, 0644), 0);
    const char *args[] = {"--config", cfg, NULL};
    detect(&res, &w, "pull_request", ev, args);
    expect_exit(&res, 2);
    cr_assert(strstr(res.run.err.ptr, "other.yml:3:"), "%s", res.run.err.ptr);
    cr_assert(strstr(res.run.err.ptr, "malformed YAML"), "%s", res.run.err.ptr);
    result_release(&res);
    free(cfg);
    json_decref(ev);

    /* A payload that is not JSON. */
    char *bad = mi_fs_join(w.tmp, "bad.json");
    cr_assert_eq(mi_fs_write_file_atomic(bad, "{\"action\": \"opened\",\n  \"pull", 28, 0644), 0);
    const char *args2[] = {"--event", bad, "--event-name", "pull_request", NULL};
    detect(&res, &w, NULL, NULL, args2);
    expect_exit(&res, 1);
    cr_assert(strstr(res.run.err.ptr, "bad.json:2:"), "%s", res.run.err.ptr);
    cr_assert(strstr(res.run.err.ptr, "malformed JSON"), "%s", res.run.err.ptr);
    result_release(&res);
    free(bad);
    world_free(&w);
}

Test(detect, usage_and_operational_errors)
{
    struct world w;
    world_init(&w, NULL);
    world_head(&w);
    struct result res;
    const char *help[] = {"--help", NULL};
    detect(&res, &w, NULL, NULL, help);
    expect_exit(&res, 0);
    json_decref(res.json);
    res.json = NULL;
    cr_assert(strstr(res.run.out.ptr, "usage: mlinfra detect"));
    mi_test_run_release(&res.run);

    const char *unknown[] = {"--frobnicate", NULL};
    detect(&res, &w, NULL, NULL, unknown);
    expect_exit(&res, 2);
    cr_assert(strstr(res.run.err.ptr, "unknown option '--frobnicate'"));
    result_release(&res);

    const char *half[] = {"--base", "HEAD", NULL};
    detect(&res, &w, NULL, NULL, half);
    expect_exit(&res, 2);
    result_release(&res);

    detect(&res, &w, NULL, NULL, NULL);
    expect_exit(&res, 2);
    cr_assert(strstr(res.run.err.ptr, "GITHUB_EVENT_PATH"), "%s", res.run.err.ptr);
    result_release(&res);

    /* Not a repository. */
    json_t *ev = pr_event(&w, "pull_request.opened.json", "dev");
    const char *norepo[] = {"--repo", w.tmp, NULL};
    detect(&res, &w, "pull_request", ev, norepo);
    expect_exit(&res, 1);
    cr_assert(strstr(res.run.err.ptr, "cannot open the repository"), "%s", res.run.err.ptr);
    result_release(&res);

    /* $GITHUB_OUTPUT that cannot be written. */
    free(w.output);
    w.output = mi_xstrdup("/nonexistent-dir/github_output");
    detect(&res, &w, "pull_request", ev, NULL);
    expect_exit(&res, 1);
    cr_assert(strstr(res.run.err.ptr, "/nonexistent-dir/github_output"), "%s", res.run.err.ptr);
    result_release(&res);
    json_decref(ev);
    world_free(&w);
}

Test(detect, local_revisions)
{
    struct world w;
    world_init(&w, NULL);
    mi_test_repo_write(w.r, "modules/b/main.tf", "# b\n");
    world_head(&w);
    const char *args[] = {"--base", "dev", "--head", "feature", NULL};
    struct result res;
    detect(&res, &w, NULL, NULL, args);
    expect_exit(&res, 0);
    expect_selected(&res, "dev");
    cr_assert_str_eq(jget(res.json, "event"), "local");
    result_release(&res);
    const char *args2[] = {"--base", "dev", "--head", "feature", "--branch", "prod", NULL};
    detect(&res, &w, NULL, NULL, args2);
    expect_exit(&res, 0);
    expect_selected(&res, "");
    result_release(&res);
    const char *args3[] = {"--base", "dev", "--head", "no-such-branch", NULL};
    detect(&res, &w, NULL, NULL, args3);
    expect_exit(&res, 2);
    cr_assert(strstr(res.run.err.ptr, "no-such-branch"));
    result_release(&res);
    world_free(&w);
}

/* ---------------------------------------------------------------------------------------
 * Shallow clones, made with the git command as actions/checkout makes them.
 */

static void clone_with_git(struct world *w, const char *depth, const char *branch, const char *dest)
{
    char *url = mi_xasprintf("file://%s", w->r->dir);
    char *argv[] = {"/usr/bin/git", "clone",        "-q", "--depth",    (char *)depth,
                    "--branch",     (char *)branch, url,  (char *)dest, NULL};
    char *env[] = {"GIT_CONFIG_NOSYSTEM=1", "HOME=/nonexistent", NULL};
    struct mi_test_run r;
    mi_test_run_cmd(&r, argv, env, NULL, 20000);
    cr_assert_eq(r.exit_code, 0, "git clone: %s", r.err.ptr);
    mi_test_run_release(&r);
    free(url);
}

Test(detect, shallow_clones_fall_back_and_say_so)
{
    cr_assert_eq(access("/usr/bin/git", X_OK), 0, "the git command is needed for this test");
    struct world w;
    world_init(&w, NULL);
    mi_test_repo_write(w.r, "modules/b/main.tf", "# one\n");
    world_head(&w);
    char *mid = mi_xstrdup(w.head);
    mi_test_repo_write(w.r, "docs/README.md", "two\n");
    world_head(&w);

    /* Depth 1: only the head commit. A push from base: its before is not there. */
    char *clone = mi_fs_join(w.tmp, "clone1");
    clone_with_git(&w, "1", "feature", clone);
    json_t *ev = push_event("push.branch-created.json", "dev", w.base, w.head);
    const char *args[] = {"--repo", clone, NULL};
    struct result res;
    detect(&res, &w, "push", ev, args);
    expect_exit(&res, 0);
    expect_selected(&res, "dev");
    cr_assert(json_is_true(json_object_get(res.json, "full_run")));
    cr_assert(strstr(jget(res.json, "full_run_reason"), "not in the clone"), "%s",
              jget(res.json, "full_run_reason"));
    result_release(&res);
    json_decref(ev);
    /* A pull request whose base is not in the clone: a full run, said so. */
    ev = pr_event(&w, "pull_request.opened.json", "dev");
    detect(&res, &w, "pull_request", ev, args);
    expect_exit(&res, 0);
    expect_selected(&res, "dev");
    cr_assert(strstr(jget(res.json, "full_run_reason"), "base commit"), "%s",
              jget(res.json, "full_run_reason"));
    result_release(&res);
    json_decref(ev);
    free(clone);

    /* Depth 2: mid and head are there, base is not; a push of mid..head compares exactly. */
    clone = mi_fs_join(w.tmp, "clone2");
    clone_with_git(&w, "2", "feature", clone);
    const char *args2[] = {"--repo", clone, NULL};
    ev = push_event("push.branch-created.json", "dev", mid, w.head);
    detect(&res, &w, "push", ev, args2);
    expect_exit(&res, 0);
    expect_selected(&res, ""); /* mid..head only touches docs */
    cr_assert_str_eq(jget(json_object_get(res.json, "compare"), "method"), "before..after");
    result_release(&res);
    json_decref(ev);
    free(clone);
    free(mid);
    world_free(&w);
}
