/* mlinfra apply on a pull_request_target event, end to end (docs/SECURITY.md, section 2).
 *
 * pull_request_target runs with the base repository's secrets and a write token for a fork's
 * pull request too. apply runs on the push of a merge, so it refuses every pull request event
 * before it reads the checkout or the store: a merged fork's pull request wired to apply
 * through pull_request_target "closed" included. plan and detect on the event are tested with
 * their commands (test_plan.c, test_detect.c). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "testsupport.h"
#include "util/buf.h"
#include "util/fs.h"

#define PLAN_KEY "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

static void run_apply(struct mi_test_run *r, const char *dir, const char *event_path)
{
    char *env[] = {
        "GITHUB_ACTIONS=true",
        "GITHUB_EVENT_NAME=pull_request_target",
        mi_xasprintf("GITHUB_EVENT_PATH=%s", event_path),
        "GITHUB_REPOSITORY=Codertocat/Hello-World",
        "GITHUB_REF=refs/heads/master",
        "GITHUB_SHA=",
        "GITHUB_TOKEN=",
        mi_xasprintf("GITHUB_WORKSPACE=%s", dir),
        mi_xasprintf("MLINFRA_STORE=file://%s/store", dir),
        "MLINFRA_PLAN_KEY=" PLAN_KEY,
        "MLINFRA_TERRAFORM=/nonexistent/terraform",
        NULL,
    };
    char *argv[] = {(char *)mi_test_binary(), "apply", NULL};
    mi_test_run_cmd(r, argv, env, dir, 20000);
    free(env[2]);
    free(env[7]);
    free(env[8]);
}

Test(pull_request_target, apply_refuses_the_event_for_forks_and_own_branches)
{
    const char *heads[] = {"mallory/Hello-World", "Codertocat/Hello-World"};
    for (int i = 0; i < 2; i++) {
        char *dir = mi_test_tmpdir();
        json_t *ev = mi_test_event_load("pull_request.closed.json");
        mi_test_event_set(ev, "pull_request.merged", json_true());
        mi_test_event_set_str(ev, "pull_request.head.repo.full_name", heads[i]);
        char *path = mi_test_event_write(ev, dir, "event.json");
        struct mi_test_run r;
        run_apply(&r, dir, path);
        cr_assert_eq(r.exit_code, 2, "%s: exit %d; stderr:\n%s", heads[i], r.exit_code, r.err.ptr);
        cr_assert(strstr(r.err.ptr, "apply runs on a push to an environment's branch, not on a "
                                    "pull_request_target event"),
                  "%s", r.err.ptr);
        char *store = mi_xasprintf("%s/store", dir);
        cr_assert_not(mi_fs_exists(store), "%s: the store was touched", heads[i]);
        cr_assert_not(mi_test_leaks(r.err.ptr, PLAN_KEY), "the plan key leaked:\n%s", r.err.ptr);
        free(store);
        mi_test_run_release(&r);
        free(path);
        json_decref(ev);
        mi_test_rmtree(dir);
        free(dir);
    }
}
