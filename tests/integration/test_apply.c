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
#include "cycle.h"
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

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    (void)set;
    mi_cycle_share_begin();
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    (void)stats;
    mi_cycle_share_end();
}

struct bg {
    pid_t pid;
    char *err_path;
};

static struct bg start_apply(struct mi_cycle *w, const char *before, const char *after,
                             const char *name, const char *const *extra)
{
    char *event = mi_cycle_push_event(w, before, after);
    char **env = mi_cycle_env(w, "push", event, extra);
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
    mi_cycle_env_free(env);
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

TestSuite(apply, .timeout = 120);

/* Plan on the pull request, merge, apply against Azurite and the GitHub double: the outputs
 * reach the summary, the step outputs and the comment; the sensitive one never; a re-run
 * reports "already applied" and changes nothing. */
Test(apply, plan_merge_apply_reports_outputs_then_rerun_is_already_applied)
{
    struct mi_cycle w;
    mi_cycle_init(&w, 1, 1);
    char *head = NULL;
    char *merge =
        mi_cycle_planned_merge(&w, 7, w.base, "dev: two replicas", "replicas = 2\n", &head);

    struct mi_test_run r;
    mi_cycle_run_apply(&r, &w, w.base, merge, NULL, NULL);
    cr_assert_eq(r.exit_code, 0, "apply failed (%d):\n%s", r.exit_code, r.err.ptr);
    cr_assert(strstr(r.err.ptr, "merged pull request #7"), "%s", r.err.ptr);
    cr_assert(strstr(r.err.ptr, "service address: " MI_CYCLE_SERVICE_URL), "%s", r.err.ptr);
    cr_assert(!mi_test_leaks(r.err.ptr, MI_CYCLE_SECRET) &&
                  !mi_test_leaks(r.out.ptr, MI_CYCLE_SECRET),
              "the secret leaked");
    cr_assert_eq(mi_cycle_tf_runs(&w, "apply"), 1);

    char *out = mi_cycle_read(&w, "output");
    cr_assert(strstr(out, "applied=true\n"), "%s", out);
    cr_assert(strstr(out, "result=applied\n"), "%s", out);
    cr_assert(strstr(out, "pr=7\n"), "%s", out);
    cr_assert(strstr(out, "service_url=" MI_CYCLE_SERVICE_URL "\n"), "%s", out);
    cr_assert(strstr(out, "service_ip=127.0.0.1\n"), "%s", out);
    cr_assert(strstr(out, "address=" MI_CYCLE_SERVICE_URL "\n"), "%s", out);
    cr_assert(!strstr(out, "tracking_password") && !strstr(out, MI_CYCLE_SECRET), "%s", out);
    char *summary = mi_cycle_read(&w, "summary");
    cr_assert(strstr(summary, "Applied") && strstr(summary, MI_CYCLE_SERVICE_URL), "%s", summary);
    cr_assert(strstr(summary, "Apply complete! Resources: 3 added"), "%s", summary);
    cr_assert(!strstr(summary, MI_CYCLE_SECRET), "%s", summary);

    /* One comment: the plan's, now with the Applied section. */
    char *body = mi_cycle_comment_on(&w, 7);
    cr_assert(body, "no comment on the pull request");
    cr_assert(strstr(body, "<!-- mlinfra:plan env=dev -->"), "%s", body);
    cr_assert(strstr(body, "3 to add"), "the plan report is gone:\n%s", body);
    cr_assert(strstr(body, "Applied to `dev`"), "%s", body);
    cr_assert(strstr(body, "**Service address:** `" MI_CYCLE_SERVICE_URL "`"), "%s", body);
    cr_assert(strstr(body, "`tracking_password` | _(sensitive)_"), "%s", body);
    cr_assert(!strstr(body, MI_CYCLE_SECRET), "%s", body);
    size_t patches = mi_test_github_count(w.gh, "PATCH", "/comments/");

    /* The plan is marked applied in the store. */
    mi_cycle_store_status(&w, head, 7, MI_STORE_APPLIED, NULL);

    /* The same job again: nothing applied, exit 0, the outputs reported again. */
    struct mi_test_run again;
    mi_cycle_run_apply(&again, &w, w.base, merge, NULL, NULL);
    cr_assert_eq(again.exit_code, 0, "re-run (%d):\n%s", again.exit_code, again.err.ptr);
    cr_assert(strstr(again.err.ptr, "already applied"), "%s", again.err.ptr);
    cr_assert_eq(mi_cycle_tf_runs(&w, "apply"), 1, "the re-run ran terraform apply");
    cr_assert_eq(mi_test_github_count(w.gh, "PATCH", "/comments/"), patches,
                 "the re-run changed the comment");
    char *out2 = mi_cycle_read(&w, "output");
    cr_assert(strstr(out2, "applied=false\n") && strstr(out2, "result=already-applied\n"), "%s",
              out2);
    cr_assert(strstr(out2, "service_url=" MI_CYCLE_SERVICE_URL "\n"), "%s", out2);
    mi_test_github_assert_conforming(w.gh);

    free(out2);
    free(body);
    free(summary);
    free(out);
    mi_test_run_release(&again);
    mi_test_run_release(&r);
    free(merge);
    free(head);
    mi_cycle_free(&w);
}

/* Without GitHub (local store, no token): the merge commit's parent is the planned head. */
Test(apply, local_run_finds_the_pull_request_in_the_history)
{
    struct mi_cycle w;
    mi_cycle_init(&w, 0, 0);
    char *head = mi_cycle_pr_commit(&w, w.base, "dev: change", "environments/dev/terraform.tfvars",
                                    "replicas = 3\n", NULL);
    mi_cycle_plan_ok(&w, 3, head, w.base);
    char *merge = mi_cycle_merge_commit(&w, w.base, head, 3);
    struct mi_test_run r;
    mi_cycle_run_apply(&r, &w, w.base, merge, NULL, NULL);
    cr_assert_eq(r.exit_code, 0, "apply (%d):\n%s", r.exit_code, r.err.ptr);
    cr_assert(strstr(r.err.ptr, "merged pull request #3"), "%s", r.err.ptr);
    /* No token: the report is printed. */
    cr_assert(strstr(r.out.ptr, "<!-- mlinfra:applied -->"), "%s", r.out.ptr);
    cr_assert(strstr(r.out.ptr, MI_CYCLE_SERVICE_URL), "%s", r.out.ptr);
    cr_assert(!strstr(r.out.ptr, MI_CYCLE_SECRET), "%s", r.out.ptr);
    mi_cycle_store_status(&w, head, 3, MI_STORE_APPLIED, NULL);
    mi_test_run_release(&r);
    free(merge);
    free(head);
    mi_cycle_free(&w);
}

/* ==========================================================================================
 * Plans that are refused (exit 4)
 * ======================================================================================== */

/* Two pull requests planned against the same state; the first is applied; the second one's
 * configuration is unchanged by the first (it touched only the README), so the fingerprint
 * agrees - but the state moved on, and terraform's "Saved plan is stale" refuses it. */
Test(apply, second_pull_request_applied_after_the_first_is_stale)
{
    struct mi_cycle w;
    mi_cycle_init(&w, 0, 0);
    char *head1 =
        mi_cycle_pr_commit(&w, w.base, "docs", "README.md", "# platform, documented\n", NULL);
    char *head2 = mi_cycle_pr_commit(&w, w.base, "dev: change", "environments/dev/terraform.tfvars",
                                     "replicas = 4\n", NULL);
    mi_cycle_seed_plan(&w, 1, head1);
    mi_cycle_seed_plan(&w, 2, head2);

    char *m1 = mi_cycle_merge_commit(&w, w.base, head1, 1);
    struct mi_test_run r1;
    mi_cycle_run_apply(&r1, &w, w.base, m1, NULL, NULL);
    cr_assert_eq(r1.exit_code, 0, "first apply (%d):\n%s", r1.exit_code, r1.err.ptr);

    char *m2 = mi_cycle_merge_commit(&w, m1, head2, 2);
    struct mi_test_run r2;
    mi_cycle_run_apply(&r2, &w, m1, m2, NULL, NULL);
    cr_assert_eq(r2.exit_code, 4, "second apply (%d):\n%s", r2.exit_code, r2.err.ptr);
    cr_assert(strstr(r2.err.ptr, "stale"), "%s", r2.err.ptr);
    cr_assert(strstr(r2.err.ptr, "plan again"), "%s", r2.err.ptr);
    cr_assert(strstr(r2.out.ptr, "Not applied"), "%s", r2.out.ptr);
    cr_assert_eq(mi_cycle_tf_runs(&w, "apply"), 2, "terraform apply ran %d times",
                 mi_cycle_tf_runs(&w, "apply"));
    mi_cycle_store_status(&w, head2, 2, MI_STORE_FAILED, "stale");
    char *out = mi_cycle_read(&w, "output");
    cr_assert(strstr(out, "result=refused\n") && strstr(out, "applied=false\n"), "%s", out);
    free(out);

    /* A failed plan is not retried silently. */
    struct mi_test_run r3;
    mi_cycle_run_apply(&r3, &w, m1, m2, NULL, NULL);
    cr_assert_eq(r3.exit_code, 4, "re-run (%d):\n%s", r3.exit_code, r3.err.ptr);
    cr_assert(strstr(r3.err.ptr, "not retried silently"), "%s", r3.err.ptr);
    cr_assert_eq(mi_cycle_tf_runs(&w, "apply"), 2);

    mi_test_run_release(&r1);
    mi_test_run_release(&r2);
    mi_test_run_release(&r3);
    free(m1);
    free(m2);
    free(head1);
    free(head2);
    mi_cycle_free(&w);
}

/* A second pull request that changed the same environment: when it merges after the first,
 * the merge commit's configuration is not the one it planned. */
Test(apply, second_pull_request_changing_the_environment_is_refused_by_fingerprint)
{
    struct mi_cycle w;
    mi_cycle_init(&w, 0, 0);
    char *head1 = mi_cycle_pr_commit(&w, w.base, "one", "environments/dev/a.tf", "# a\n", NULL);
    char *head2 = mi_cycle_pr_commit(&w, w.base, "two", "environments/dev/b.tf", "# b\n", NULL);
    mi_cycle_seed_plan(&w, 1, head1);
    mi_cycle_seed_plan(&w, 2, head2);
    char *m1 = mi_cycle_merge_commit(&w, w.base, head1, 1);
    struct mi_test_run r1;
    mi_cycle_run_apply(&r1, &w, w.base, m1, NULL, NULL);
    cr_assert_eq(r1.exit_code, 0, "%s", r1.err.ptr);
    char *m2 = mi_cycle_merge_commit(&w, m1, head2, 2);
    struct mi_test_run r2;
    mi_cycle_run_apply(&r2, &w, m1, m2, NULL, NULL);
    cr_assert_eq(r2.exit_code, 4, "(%d):\n%s", r2.exit_code, r2.err.ptr);
    cr_assert(strstr(r2.err.ptr, "environments/dev (changed)"), "%s", r2.err.ptr);
    cr_assert_eq(mi_cycle_tf_runs(&w, "apply"), 1, "terraform apply ran for a refused plan");
    mi_test_run_release(&r1);
    mi_test_run_release(&r2);
    free(m1);
    free(m2);
    free(head1);
    free(head2);
    mi_cycle_free(&w);
}

/* Someone changed a module the environment uses after the plan (a push to dev): the merge
 * commit's configuration differs, and the message names the module. */
Test(apply, configuration_changed_after_plan_is_refused_naming_the_paths)
{
    struct mi_cycle w;
    mi_cycle_init(&w, 0, 0);
    char *head = mi_cycle_pr_commit(&w, w.base, "dev: change", "environments/dev/terraform.tfvars",
                                    "replicas = 2\n", NULL);
    mi_cycle_seed_plan(&w, 5, head);
    char *direct = mi_cycle_pr_commit(&w, w.base, "net: a direct change", "modules/net/main.tf",
                                      "# the network, changed\n", NULL);
    char *merge = mi_cycle_merge_commit(&w, direct, head, 5);
    struct mi_test_run r;
    mi_cycle_run_apply(&r, &w, direct, merge, NULL, NULL);
    cr_assert_eq(r.exit_code, 4, "(%d):\n%s", r.exit_code, r.err.ptr);
    cr_assert(strstr(r.err.ptr, "modules/net (changed)"), "%s", r.err.ptr);
    cr_assert(!strstr(r.err.ptr, "environments/dev (changed)"), "%s", r.err.ptr);
    cr_assert(strstr(r.err.ptr, "plan again"), "%s", r.err.ptr);
    cr_assert_eq(mi_cycle_tf_runs(&w, "apply"), 0);
    /* Refused before terraform: the plan stays as it was. */
    mi_cycle_store_status(&w, head, 5, MI_STORE_SEALED, NULL);
    mi_test_run_release(&r);
    free(merge);
    free(direct);
    free(head);
    mi_cycle_free(&w);
}

/* A byte of the sealed plan flipped in the store: refused, terraform never runs. */
Test(apply, tampered_plan_is_refused)
{
    struct mi_cycle w;
    mi_cycle_init(&w, 0, 0);
    char *head =
        mi_cycle_pr_commit(&w, w.base, "dev", "environments/dev/terraform.tfvars", "x = 1\n", NULL);
    mi_cycle_seed_plan(&w, 4, head);
    char *name = mi_store_plan_name(MI_CYCLE_REPO, "dev", 4, head);
    char *sealed = mi_xasprintf("%s/plans/%s", w.dir, name);
    mi_buf data = MI_BUF_INIT;
    cr_assert_eq(mi_fs_read_file(&data, sealed, 0), 0, "%s", mi_error_last());
    cr_assert(data.len > 200);
    data.ptr[data.len - 100] ^= 0x01;
    cr_assert_eq(mi_fs_write_file_atomic(sealed, data.ptr, data.len, 0600), 0);
    mi_buf_release(&data);
    char *merge = mi_cycle_merge_commit(&w, w.base, head, 4);
    struct mi_test_run r;
    mi_cycle_run_apply(&r, &w, w.base, merge, NULL, NULL);
    cr_assert_eq(r.exit_code, 4, "(%d):\n%s", r.exit_code, r.err.ptr);
    cr_assert(strstr(r.err.ptr, "refused"), "%s", r.err.ptr);
    cr_assert_eq(mi_cycle_tf_runs(&w, "apply"), 0);
    cr_assert(mi_cycle_file_has(&w, "output", "result=refused\n"));
    mi_test_run_release(&r);
    free(merge);
    free(sealed);
    free(name);
    free(head);
    mi_cycle_free(&w);
}

/* A merged pull request that was never planned. */
Test(apply, missing_plan_is_refused)
{
    struct mi_cycle w;
    mi_cycle_init(&w, 1, 0);
    char *head =
        mi_cycle_pr_commit(&w, w.base, "dev", "environments/dev/terraform.tfvars", "y = 1\n", NULL);
    char *merge = mi_cycle_merge_commit(&w, w.base, head, 9);
    mi_cycle_seed_pull(&w, 9, head, w.base, 1, merge, NULL);
    struct mi_test_run r;
    mi_cycle_run_apply(&r, &w, w.base, merge, NULL, NULL);
    cr_assert_eq(r.exit_code, 4, "(%d):\n%s", r.exit_code, r.err.ptr);
    cr_assert(strstr(r.err.ptr, "no plan of environment 'dev' for pull request #9"), "%s",
              r.err.ptr);
    cr_assert_eq(mi_cycle_tf_runs(&w, "init"), 0);
    /* The author learns it on the pull request. */
    char *body = mi_cycle_comment_on(&w, 9);
    cr_assert(body && strstr(body, "Not applied"), "%s", body ? body : "(no comment)");
    free(body);
    mi_test_github_assert_conforming(w.gh);
    mi_test_run_release(&r);
    free(merge);
    free(head);
    mi_cycle_free(&w);
}

/* A pull request from a fork: never applied, whatever the store holds. */
Test(apply, fork_pull_request_is_refused)
{
    struct mi_cycle w;
    mi_cycle_init(&w, 1, 0);
    char *head =
        mi_cycle_pr_commit(&w, w.base, "dev", "environments/dev/terraform.tfvars", "z = 1\n", NULL);
    char *merge = mi_cycle_merge_commit(&w, w.base, head, 11);
    mi_cycle_seed_pull(&w, 11, head, w.base, 1, merge, "\"head_repo\":\"mallory/infra\"");
    struct mi_test_run r;
    mi_cycle_run_apply(&r, &w, w.base, merge, NULL, NULL);
    cr_assert_eq(r.exit_code, 4, "(%d):\n%s", r.exit_code, r.err.ptr);
    cr_assert(strstr(r.err.ptr, "fork"), "%s", r.err.ptr);
    cr_assert_eq(mi_cycle_tf_runs(&w, "init"), 0);
    mi_test_run_release(&r);
    free(merge);
    free(head);
    mi_cycle_free(&w);
}

/* A direct push (no pull request): nothing applied; skip by default, fail when configured. */
Test(apply, push_that_merged_no_pull_request_skips_or_fails)
{
    struct mi_cycle w;
    mi_cycle_init(&w, 1, 0);
    char *direct = mi_cycle_pr_commit(&w, w.base, "direct", "environments/dev/c.tf", "# c\n", NULL);
    char *json = mi_xasprintf(
        "{\"repos\":[{\"full_name\":\"" MI_CYCLE_REPO "\",\"commits\":[\"%s\"]}]}", direct);
    mi_test_github_seed(w.gh, json);
    free(json);
    struct mi_test_run r;
    mi_cycle_run_apply(&r, &w, w.base, direct, NULL, NULL);
    cr_assert_eq(r.exit_code, 0, "(%d):\n%s", r.exit_code, r.err.ptr);
    cr_assert(strstr(r.err.ptr, "merged no pull request"), "%s", r.err.ptr);
    cr_assert(mi_cycle_file_has(&w, "output", "result=skipped\n"));
    cr_assert_eq(mi_cycle_tf_runs(&w, "init"), 0);

    const char *const fail[] = {"--unplanned", "fail", NULL};
    struct mi_test_run f;
    mi_cycle_run_apply(&f, &w, w.base, direct, fail, NULL);
    cr_assert_eq(f.exit_code, 4, "(%d):\n%s", f.exit_code, f.err.ptr);
    const char *const env_fail[] = {"MLINFRA_APPLY_UNPLANNED=fail", NULL};
    struct mi_test_run g;
    mi_cycle_run_apply(&g, &w, w.base, direct, NULL, env_fail);
    cr_assert_eq(g.exit_code, 4, "(%d):\n%s", g.exit_code, g.err.ptr);
    mi_test_run_release(&r);
    mi_test_run_release(&f);
    mi_test_run_release(&g);
    free(direct);
    mi_cycle_free(&w);
}

/* ==========================================================================================
 * Merges GitHub makes: squash and rebase
 * ======================================================================================== */

Test(apply, squash_merge_is_resolved)
{
    struct mi_cycle w;
    mi_cycle_init(&w, 1, 0);
    char *h1 =
        mi_cycle_pr_commit(&w, w.base, "one", "environments/dev/terraform.tfvars", "a = 1\n", NULL);
    char *head =
        mi_cycle_pr_commit(&w, h1, "two", "environments/dev/terraform.tfvars", "a = 2\n", NULL);
    mi_cycle_seed_plan(&w, 12, head);
    char *squash = mi_cycle_squash_commit(&w, w.base, head, 12);
    char *extra = mi_xasprintf("\"commits\":[\"%s\",\"%s\"]", h1, head);
    mi_cycle_seed_pull(&w, 12, head, w.base, 1, squash, extra);
    struct mi_test_run r;
    mi_cycle_run_apply(&r, &w, w.base, squash, NULL, NULL);
    cr_assert_eq(r.exit_code, 0, "(%d):\n%s", r.exit_code, r.err.ptr);
    cr_assert(strstr(r.err.ptr, "merged pull request #12"), "%s", r.err.ptr);
    mi_cycle_store_status(&w, head, 12, MI_STORE_APPLIED, NULL);
    mi_test_run_release(&r);
    free(extra);
    free(squash);
    free(head);
    free(h1);
    mi_cycle_free(&w);
}

Test(apply, rebase_merge_is_resolved)
{
    struct mi_cycle w;
    mi_cycle_init(&w, 1, 0);
    char *h1 =
        mi_cycle_pr_commit(&w, w.base, "one", "environments/dev/terraform.tfvars", "b = 1\n", NULL);
    char *head =
        mi_cycle_pr_commit(&w, h1, "two", "environments/dev/terraform.tfvars", "b = 2\n", NULL);
    mi_cycle_seed_pull(&w, 13, head, w.base, 0, NULL, NULL);
    mi_cycle_seed_plan(&w, 13, head);
    char *r1 = mi_cycle_rebased_commit(&w, w.base, h1);
    char *r2 = mi_cycle_rebased_commit(&w, r1, head);
    cr_assert_str_neq(r2, head);
    char *extra = mi_xasprintf("\"commits\":[\"%s\",\"%s\"],\"rebased_commits\":[\"%s\",\"%s\"]",
                               h1, head, r1, r2);
    mi_cycle_seed_pull(&w, 13, head, w.base, 1, r2, extra);
    struct mi_test_run r;
    mi_cycle_run_apply(&r, &w, w.base, r2, NULL, NULL);
    cr_assert_eq(r.exit_code, 0, "(%d):\n%s", r.exit_code, r.err.ptr);
    cr_assert(strstr(r.err.ptr, "merged pull request #13"), "%s", r.err.ptr);
    mi_cycle_store_status(&w, head, 13, MI_STORE_APPLIED, NULL);
    mi_test_github_assert_conforming(w.gh);
    mi_test_run_release(&r);
    free(extra);
    free(r1);
    free(r2);
    free(head);
    free(h1);
    mi_cycle_free(&w);
}

/* ==========================================================================================
 * Locks, cancellation, failures
 * ======================================================================================== */

/* Two applies of one environment at once: both wait while the lock is held (here by the
 * test, as by a third run), then run one after the other: one applies, the other finds the
 * plan applied. terraform apply runs once. */
Test(apply, concurrent_applies_are_serialized)
{
    struct mi_cycle w;
    mi_cycle_init(&w, 0, 0);
    char *head =
        mi_cycle_pr_commit(&w, w.base, "dev", "environments/dev/terraform.tfvars", "c = 1\n", NULL);
    mi_cycle_seed_plan(&w, 21, head);
    char *merge = mi_cycle_merge_commit(&w, w.base, head, 21);
    mi_test_repo_reset(w.r, merge);

    struct mi_store *s = mi_cycle_open_store(&w);
    struct mi_store_lock *held = NULL;
    struct mi_store_lock_options lo = {0};
    lo.holder = "the test";
    cr_assert_eq(mi_store_lock(s, "dev", &lo, &held), 0, "%s", mi_error_last());

    struct bg a = start_apply(&w, w.base, merge, "a", NULL);
    struct bg b = start_apply(&w, w.base, merge, "b", NULL);
    wait_for_text(a.err_path, "waiting up to");
    wait_for_text(b.err_path, "waiting up to");
    cr_assert_eq(mi_cycle_tf_runs(&w, "init"), 0, "an apply went on without the lock");
    cr_assert_eq(mi_store_unlock(held), 0, "%s", mi_error_last());

    int ea = wait_exit(&a), eb = wait_exit(&b);
    char *ta = bg_err(&a), *tb = bg_err(&b);
    cr_assert_eq(ea, 0, "a (%d):\n%s", ea, ta);
    cr_assert_eq(eb, 0, "b (%d):\n%s", eb, tb);
    int a_applied = strstr(ta, "applied pull request #21") != NULL;
    int b_applied = strstr(tb, "applied pull request #21") != NULL;
    cr_assert(a_applied != b_applied, "exactly one run applies:\n--- a\n%s\n--- b\n%s", ta, tb);
    cr_assert(strstr(a_applied ? tb : ta, "already applied"), "%s", a_applied ? tb : ta);
    cr_assert_eq(mi_cycle_tf_runs(&w, "apply"), 1);
    free(ta);
    free(tb);
    free(a.err_path);
    free(b.err_path);
    mi_store_free(s);
    free(merge);
    free(head);
    mi_cycle_free(&w);
}

/* SIGTERM (a cancelled workflow) while terraform applies: terraform is interrupted, the
 * plan marked failed, and the Azure lease released at once (not left to expire). */
Test(apply, cancelled_apply_releases_the_lock)
{
    struct mi_cycle w;
    mi_cycle_init(&w, 0, 1);
    char *head =
        mi_cycle_pr_commit(&w, w.base, "dev", "environments/dev/terraform.tfvars", "d = 1\n", NULL);
    mi_cycle_seed_plan(&w, 22, head);
    char *merge = mi_cycle_merge_commit(&w, w.base, head, 22);
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

    struct mi_store *s = mi_cycle_open_store(&w);
    struct mi_store_lock_info info;
    cr_assert_eq(mi_store_lock_info(s, "dev", &info), 0, "%s", mi_error_last());
    cr_assert_eq(info.locked, 0, "the lock is still held (%s)", info.state ? info.state : "");
    mi_store_lock_info_release(&info);
    struct mi_store_lock *l = NULL;
    struct mi_store_lock_options lo = {0};
    cr_assert_eq(mi_store_lock(s, "dev", &lo, &l), 0, "%s", mi_error_last());
    cr_assert_eq(mi_store_unlock(l), 0);
    mi_store_free(s);
    mi_cycle_store_status(&w, head, 22, MI_STORE_FAILED, "cancelled");
    free(ta);
    free(a.err_path);
    free(merge);
    free(head);
    mi_cycle_free(&w);
}

/* terraform apply fails: reported with the error tail, the plan marked failed, and not
 * retried unless asked. */
Test(apply, failed_apply_is_reported_and_not_retried_silently)
{
    struct mi_cycle w;
    mi_cycle_init(&w, 1, 0);
    char *head =
        mi_cycle_pr_commit(&w, w.base, "dev", "environments/dev/terraform.tfvars", "e = 1\n", NULL);
    mi_cycle_seed_pull(&w, 23, head, w.base, 0, NULL, NULL);
    mi_cycle_plan_ok(&w, 23, head, w.base);
    char *merge = mi_cycle_merge_commit(&w, w.base, head, 23);
    mi_cycle_seed_pull(&w, 23, head, w.base, 1, merge, NULL);
    const char *const failing[] = {
        "TFDOUBLE_FAIL=apply", "TFDOUBLE_FAIL_MESSAGE=Quota exceeded for Standard_D8s_v5", NULL};
    struct mi_test_run r;
    mi_cycle_run_apply(&r, &w, w.base, merge, NULL, failing);
    cr_assert_eq(r.exit_code, 1, "(%d):\n%s", r.exit_code, r.err.ptr);
    char *summary = mi_cycle_read(&w, "summary");
    cr_assert(strstr(summary, "Apply failed"), "%s", summary);
    cr_assert(strstr(summary, "Quota exceeded"), "the error tail is missing:\n%s", summary);
    char *body = mi_cycle_comment_on(&w, 23);
    cr_assert(body && strstr(body, "Apply failed") && strstr(body, "Quota exceeded"), "%s",
              body ? body : "(none)");
    cr_assert(strstr(body, "3 to add"), "%s", body);
    mi_cycle_store_status(&w, head, 23, MI_STORE_FAILED, NULL);

    struct mi_test_run again;
    mi_cycle_run_apply(&again, &w, w.base, merge, NULL, NULL);
    cr_assert_eq(again.exit_code, 4, "(%d):\n%s", again.exit_code, again.err.ptr);
    cr_assert(strstr(again.err.ptr, "--retry-failed"), "%s", again.err.ptr);

    const char *const retry[] = {"--retry-failed", NULL};
    struct mi_test_run third;
    mi_cycle_run_apply(&third, &w, w.base, merge, retry, NULL);
    cr_assert_eq(third.exit_code, 0, "(%d):\n%s", third.exit_code, third.err.ptr);
    mi_cycle_store_status(&w, head, 23, MI_STORE_APPLIED, NULL);
    mi_test_github_assert_conforming(w.gh);
    free(body);
    free(summary);
    mi_test_run_release(&r);
    mi_test_run_release(&again);
    mi_test_run_release(&third);
    free(merge);
    free(head);
    mi_cycle_free(&w);
}

/* ==========================================================================================
 * Rules: the approving review, the change window
 * ======================================================================================== */

static void pr_into_production(struct mi_cycle *w, long long pr, char **head_out)
{
    /* Branch production shares dev's first commit here; its environment has its own
     * directory. */
    char *head =
        mi_cycle_pr_commit(w, w->base, "production", "environments/production/terraform.tfvars",
                           "replicas = 3\n", NULL);
    char *json = mi_xasprintf(
        "{\"repos\":[{\"full_name\":\"" MI_CYCLE_REPO "\",\"pulls\":[{\"number\":%lld,"
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

static void apply_production(struct mi_test_run *out, struct mi_cycle *w, const char *merge,
                             const char *const *extra)
{
    mi_test_repo_reset(w->r, merge);
    json_t *ev = mi_test_event_load("push.branch-created.json");
    mi_test_event_set_str(ev, "ref", "refs/heads/production");
    mi_test_event_set_str(ev, "before", w->base);
    mi_test_event_set_str(ev, "after", merge);
    mi_test_event_set(ev, "created", json_false());
    mi_test_event_set_str(ev, "repository.full_name", MI_CYCLE_REPO);
    char *event = mi_test_event_write(ev, w->dir, "push.json");
    json_decref(ev);
    mi_cycle_truncate(w, "output");
    char **env = mi_cycle_env(w, "push", event, extra);
    char *argv[] = {(char *)mi_test_binary(), "apply", NULL};
    mi_test_run_cmd(out, argv, env, w->r->dir, 60000);
    mi_cycle_env_free(env);
    free(event);
}

Test(apply, required_approval_and_closed_change_window_block_with_exit_3)
{
    struct mi_cycle w;
    mi_cycle_init(&w, 1, 0);
    char *head = NULL;
    pr_into_production(&w, 31, &head);
    mi_cycle_seed_plan_for(&w, "production", 31, head);
    char *merge = mi_cycle_merge_commit(&w, w.base, head, 31);
    char *json =
        mi_xasprintf("{\"repos\":[{\"full_name\":\"" MI_CYCLE_REPO
                     "\",\"pulls\":[{\"number\":31,\"head_sha\":\"%s\","
                     "\"base_ref\":\"production\",\"merged\":true,\"merge_commit_sha\":\"%s\"}]}]}",
                     head, merge);
    mi_test_github_seed(w.gh, json);
    free(json);

    /* No approving review: blocked. */
    struct mi_test_run r;
    apply_production(&r, &w, merge, NULL);
    cr_assert_eq(r.exit_code, 3, "(%d):\n%s", r.exit_code, r.err.ptr);
    cr_assert(strstr(r.err.ptr, "requires an approving review"), "%s", r.err.ptr);
    cr_assert_eq(mi_cycle_tf_runs(&w, "init"), 0);
    cr_assert(mi_cycle_file_has(&w, "output", "result=blocked\n"));

    /* Approved, but a change window closes production on Fridays. */
    json =
        mi_xasprintf("{\"repos\":[{\"full_name\":\"" MI_CYCLE_REPO "\",\"reviews\":[{\"pull\":31,"
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
    mi_cycle_clean_terraform_dirs(&w);
    char *with_window = mi_test_repo_commit(w.r, "change windows");
    json =
        mi_xasprintf("{\"repos\":[{\"full_name\":\"" MI_CYCLE_REPO "\",\"pulls\":[{\"number\":31,"
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
    cr_assert_eq(mi_cycle_tf_runs(&w, "init"), 0);

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
    mi_cycle_free(&w);
}

/* Rotating the plan key (docs/plan-store.md): a plan sealed with the old key still applies
 * while the old key is MLINFRA_PLAN_KEY_PREVIOUS; new plans are sealed with the new key; once
 * the previous key is removed, a plan sealed with the old one is refused (exit 4) with the key
 * ids named, and nothing is applied. Plans go through the real `mlinfra plan`. */
#define NEW_PLAN_KEY "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="
Test(apply, key_rotation_keeps_waiting_plans_until_the_previous_key_is_removed)
{
    struct mi_cycle w;
    mi_cycle_init(&w, 1, 1);
    const char *const rotating[] = {"MLINFRA_PLAN_KEY=" NEW_PLAN_KEY,
                                    "MLINFRA_PLAN_KEY_PREVIOUS=" MI_CYCLE_PLAN_KEY, NULL};
    const char *const rotated[] = {"MLINFRA_PLAN_KEY=" NEW_PLAN_KEY, NULL};

    /* Planned before the rotation: sealed with the old key (the world's default). */
    char *head1 = NULL;
    char *m1 =
        mi_cycle_planned_merge(&w, 51, w.base, "dev: two replicas", "replicas = 2\n", &head1);

    /* Applied during the rotation. */
    struct mi_test_run r1;
    mi_cycle_run_apply(&r1, &w, w.base, m1, NULL, rotating);
    cr_assert_eq(r1.exit_code, 0, "apply during rotation (%d):\n%s", r1.exit_code, r1.err.ptr);
    cr_assert_eq(mi_cycle_tf_runs(&w, "apply"), 1);
    cr_assert(!mi_test_leaks(r1.err.ptr, NEW_PLAN_KEY) &&
                  !mi_test_leaks(r1.err.ptr, MI_CYCLE_PLAN_KEY),
              "a plan key leaked:\n%s", r1.err.ptr);
    mi_cycle_store_status(&w, head1, 51, MI_STORE_APPLIED, NULL);

    /* Planned during the rotation: sealed with the new key, so it applies after it. */
    char *head2 = mi_cycle_pr_commit(&w, m1, "dev: three replicas",
                                     "environments/dev/terraform.tfvars", "replicas = 3\n", NULL);
    mi_cycle_seed_pull(&w, 52, head2, m1, 0, NULL, NULL);
    w.extra_env = rotating;
    mi_cycle_plan_ok(&w, 52, head2, m1);
    w.extra_env = NULL;
    char *m2 = mi_cycle_merge_commit(&w, m1, head2, 52);
    mi_cycle_seed_pull(&w, 52, head2, m1, 1, m2, NULL);
    struct mi_test_run r2;
    mi_cycle_run_apply(&r2, &w, m1, m2, NULL, rotated);
    cr_assert_eq(r2.exit_code, 0, "apply after rotation (%d):\n%s", r2.exit_code, r2.err.ptr);
    cr_assert_eq(mi_cycle_tf_runs(&w, "apply"), 2);

    /* A plan sealed with the old key, still waiting when the previous key is removed. */
    char *head3 = NULL;
    char *m3 = mi_cycle_planned_merge(&w, 53, m2, "dev: four replicas", "replicas = 4\n", &head3);
    struct mi_test_run r3;
    mi_cycle_run_apply(&r3, &w, m2, m3, NULL, rotated);
    cr_assert_eq(r3.exit_code, 4, "old-key plan after rotation (%d):\n%s", r3.exit_code,
                 r3.err.ptr);
    cr_assert(strstr(r3.err.ptr, "key id"), "the refusal does not name the key ids:\n%s",
              r3.err.ptr);
    cr_assert(strstr(r3.err.ptr, "MLINFRA_PLAN_KEY_PREVIOUS"),
              "the refusal does not say how to keep old plans during a rotation:\n%s", r3.err.ptr);
    cr_assert_eq(mi_cycle_tf_runs(&w, "apply"), 2,
                 "terraform apply ran on a plan it could not open");
    cr_assert(!mi_test_leaks(r3.err.ptr, NEW_PLAN_KEY) &&
                  !mi_test_leaks(r3.err.ptr, MI_CYCLE_PLAN_KEY),
              "a plan key leaked:\n%s", r3.err.ptr);

    mi_test_run_release(&r1);
    mi_test_run_release(&r2);
    mi_test_run_release(&r3);
    free(head1);
    free(head2);
    free(head3);
    free(m1);
    free(m2);
    free(m3);
    mi_cycle_free(&w);
}
