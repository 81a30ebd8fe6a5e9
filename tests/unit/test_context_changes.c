/* context/changes: tree-against-tree changed paths, renames, and which commits each kind of
 * run compares, including the shallow-history fallbacks. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "context/changes.h"
#include "context/path.h"
#include "gitrepo.h"
#include "testsupport.h"
#include "util/buf.h"
#include "util/error.h"

/* "A:path;R:new<old;..." in the order of the list (sorted by path). */
static char *describe(const struct mi_changes *c)
{
    mi_buf b = MI_BUF_INIT;
    for (size_t i = 0; i < c->n; i++) {
        mi_buf_addf(&b, "%c:%s", (char)c->items[i].status, c->items[i].path);
        if (c->items[i].old_path)
            mi_buf_addf(&b, "<%s", c->items[i].old_path);
        mi_buf_addch(&b, ';');
    }
    return mi_buf_detach(&b);
}

static struct mi_changes *between(struct mi_test_repo *r, const char *a, const char *b)
{
    git_oid from, to;
    git_oid_fromstr(&from, a);
    git_oid_fromstr(&to, b);
    struct mi_changes *c = NULL;
    cr_assert_eq(mi_changes_between(&c, r->repo, &from, &to), 0, "%s", mi_error_last());
    return c;
}

static void expect_between(struct mi_test_repo *r, const char *a, const char *b, const char *want)
{
    struct mi_changes *c = between(r, a, b);
    char *got = describe(c);
    cr_assert_str_eq(got, want);
    free(got);
    mi_changes_free(c);
}

Test(changes, adds_modifies_deletes_and_subtrees)
{
    struct mi_test_repo *r = mi_test_repo_init();
    mi_test_repo_write(r, "a/keep.txt", "same");
    mi_test_repo_write(r, "a/edit.txt", "one");
    mi_test_repo_write(r, "a/drop.txt", "x");
    mi_test_repo_write(r, "old/x/y.txt", "y");
    mi_test_repo_write(r, "big/unchanged/1.txt", "1");
    char *c1 = mi_test_repo_commit(r, "one");
    mi_test_repo_write(r, "a/edit.txt", "two");
    mi_test_repo_remove(r, "a/drop.txt");
    mi_test_repo_write(r, "a/new.txt", "new");
    mi_test_repo_remove(r, "old/x/y.txt");
    mi_test_repo_write(r, "fresh/deep/z.txt", "z");
    char *c2 = mi_test_repo_commit(r, "two");
    expect_between(r, c1, c2,
                   "D:a/drop.txt;M:a/edit.txt;A:a/new.txt;A:fresh/deep/z.txt;D:old/x/y.txt;");
    /* The other way round, and a commit against itself. */
    expect_between(r, c2, c1,
                   "A:a/drop.txt;M:a/edit.txt;D:a/new.txt;D:fresh/deep/z.txt;A:old/x/y.txt;");
    expect_between(r, c1, c1, "");
    free(c1);
    free(c2);
    mi_test_repo_free(r);
}

Test(changes, renames_count_both_paths)
{
    struct mi_test_repo *r = mi_test_repo_init();
    mi_test_repo_write(r, "environments/dev/main.tf", "resource {}\n");
    mi_test_repo_write(r, "modules/a/vars.tf", "variable \"x\" {}\n");
    char *c1 = mi_test_repo_commit(r, "one");
    /* An exact rename is one entry carrying both paths; a rename with edits is its old path
     * deleted and its new one added. Either way both paths are there. */
    mi_test_repo_rename(r, "environments/dev/main.tf", "shared/main.tf");
    mi_test_repo_rename(r, "modules/a/vars.tf", "modules/b/vars.tf");
    mi_test_repo_write(r, "modules/b/vars.tf", "variable \"y\" {}\n");
    char *c2 = mi_test_repo_commit(r, "two");
    expect_between(r, c1, c2,
                   "D:modules/a/vars.tf;A:modules/b/vars.tf;R:shared/main.tf<environments/dev/"
                   "main.tf;");
    free(c1);
    free(c2);
    mi_test_repo_free(r);
}

Test(changes, type_changes_and_file_to_directory)
{
    struct mi_test_repo *r = mi_test_repo_init();
    mi_test_repo_write(r, "conf", "a file");
    mi_test_repo_write(r, "link", "a file too");
    char *c1 = mi_test_repo_commit(r, "one");
    mi_test_repo_remove(r, "conf");
    mi_test_repo_write(r, "conf/inner.tf", "now a directory");
    mi_test_repo_remove(r, "link");
    mi_test_repo_symlink(r, "link", "conf");
    char *c2 = mi_test_repo_commit(r, "two");
    expect_between(r, c1, c2, "D:conf;A:conf/inner.tf;T:link;");
    free(c1);
    free(c2);
    mi_test_repo_free(r);
}

static struct mi_context *pr_context(const char *base, const char *head, const char *merge)
{
    struct mi_context *c = mi_xcalloc(1, sizeof(*c));
    c->kind = MI_EVENT_PULL_REQUEST;
    c->event_name = mi_xstrdup("pull_request");
    c->action = mi_xstrdup("synchronize");
    c->branch = mi_xstrdup("dev");
    c->pr_number = 7;
    c->base_sha = mi_xstrdup(base);
    c->head_sha = mi_xstrdup(head);
    c->sha = merge ? mi_xstrdup(merge) : NULL;
    return c;
}

static struct mi_context *push_context(const char *before, const char *after)
{
    struct mi_context *c = mi_xcalloc(1, sizeof(*c));
    c->kind = MI_EVENT_PUSH;
    c->event_name = mi_xstrdup("push");
    c->branch = mi_xstrdup("dev");
    c->before = mi_xstrdup(before);
    c->after = mi_xstrdup(after);
    return c;
}

static const char ZERO[] = "0000000000000000000000000000000000000000";
static const char ABSENT[] = "1111111111111111111111111111111111111111";

static struct mi_changes *for_context(struct mi_test_repo *r, struct mi_context *ctx)
{
    struct mi_changes *c = NULL;
    cr_assert_eq(mi_changes_for_context(&c, r->repo, ctx, NULL, NULL), 0, "%s", mi_error_last());
    return c;
}

/* base ---- b1 (base branch moves on: touches base-only.txt)
 *   \
 *    h1 (pull request: touches pr.txt) */
struct history {
    struct mi_test_repo *r;
    char *base, *b1, *h1, *merge;
};

static void history(struct history *h)
{
    h->r = mi_test_repo_init();
    mi_test_repo_write(h->r, "common.txt", "c");
    h->base = mi_test_repo_commit(h->r, "base");
    mi_test_repo_write(h->r, "base-only.txt", "b");
    h->b1 = mi_test_repo_commit(h->r, "base moves on");
    mi_test_repo_reset(h->r, h->base);
    mi_test_repo_write(h->r, "pr.txt", "p");
    h->h1 = mi_test_repo_commit(h->r, "pull request");
    h->merge = NULL;
}

static void history_free(struct history *h)
{
    free(h->base);
    free(h->b1);
    free(h->h1);
    free(h->merge);
    mi_test_repo_free(h->r);
}

Test(changes, pull_request_uses_the_merge_base)
{
    struct history h;
    history(&h);
    struct mi_context *ctx = pr_context(h.b1, h.h1, NULL);
    struct mi_changes *c = for_context(h.r, ctx);
    char *got = describe(c);
    cr_assert_str_eq(got, "A:pr.txt;", "the base branch's own change is not the PR's");
    cr_assert_str_eq(c->method, "merge-base");
    cr_assert_eq(c->nnotes, 0);
    char hex[41];
    cr_assert_str_eq(git_oid_tostr(hex, sizeof(hex), &c->from), h.base);
    cr_assert_str_eq(git_oid_tostr(hex, sizeof(hex), &c->to), h.h1);
    free(got);
    mi_changes_free(c);
    mi_context_free(ctx);

    /* Closed without merging: nothing to do. Closed by merging: as before. */
    ctx = pr_context(h.b1, h.h1, NULL);
    free(ctx->action);
    ctx->action = mi_xstrdup("closed");
    c = for_context(h.r, ctx);
    cr_assert(c->nothing_to_do);
    cr_assert(strstr(c->reason, "closed without merging"), "%s", c->reason);
    mi_changes_free(c);
    ctx->merged = 1;
    c = for_context(h.r, ctx);
    cr_assert_not(c->nothing_to_do);
    cr_assert_eq(c->n, 1);
    mi_changes_free(c);
    mi_context_free(ctx);
    history_free(&h);
}

Test(changes, pull_request_fallbacks_for_missing_history)
{
    struct history h;
    history(&h);
    /* Unrelated histories (as when the merge-base is cut off): base..head, said so. */
    mi_test_repo_reset(h.r, h.base);
    git_repository_set_head(h.r->repo, "refs/heads/orphan"); /* unborn: next commit is a root */
    mi_test_repo_write(h.r, "orphan.txt", "o");
    char *orphan = mi_test_repo_commit(h.r, "unrelated root");
    struct mi_context *ctx = pr_context(h.b1, orphan, NULL);
    struct mi_changes *c = for_context(h.r, ctx);
    cr_assert_str_eq(c->method, "base..head");
    cr_assert_eq(c->nnotes, 1);
    cr_assert(strstr(c->notes[0], "no merge-base"), "%s", c->notes[0]);
    mi_changes_free(c);
    mi_context_free(ctx);
    free(orphan);

    /* Head not in the clone, but the test merge commit is: merge commit vs first parent. */
    git_oid b1, h1, tree_id, merge_id;
    git_commit *pb = NULL, *ph = NULL;
    git_tree *tree = NULL;
    git_signature *sig = NULL;
    git_oid_fromstr(&b1, h.b1);
    git_oid_fromstr(&h1, h.h1);
    git_commit_lookup(&pb, h.r->repo, &b1);
    git_commit_lookup(&ph, h.r->repo, &h1);
    /* The merge result: the pull request's tree is enough for the test. */
    git_oid_cpy(&tree_id, git_commit_tree_id(ph));
    git_tree_lookup(&tree, h.r->repo, &tree_id);
    git_signature_new(&sig, "t", "t@example.invalid", 1700000000, 0);
    const git_commit *parents[2] = {pb, ph};
    cr_assert_eq(
        git_commit_create(&merge_id, h.r->repo, NULL, sig, sig, NULL, "merge", tree, 2, parents),
        0);
    char merge_hex[41];
    git_oid_tostr(merge_hex, sizeof(merge_hex), &merge_id);
    git_signature_free(sig);
    git_tree_free(tree);
    git_commit_free(pb);
    git_commit_free(ph);
    ctx = pr_context(h.b1, ABSENT, merge_hex);
    c = for_context(h.r, ctx);
    cr_assert_str_eq(c->method, "merge-commit");
    char *got = describe(c);
    /* First parent b1 has base-only.txt, the merge tree (the PR's) does not. */
    cr_assert_str_eq(got, "D:base-only.txt;A:pr.txt;");
    cr_assert(strstr(c->notes[0], "merge commit"), "%s", c->notes[0]);
    free(got);
    mi_changes_free(c);
    mi_context_free(ctx);

    /* Nothing usable: a full run, with the missing commit named. */
    ctx = pr_context(h.b1, ABSENT, NULL);
    c = for_context(h.r, ctx);
    cr_assert(c->full_run);
    cr_assert_str_eq(c->method, "full-run");
    cr_assert(strstr(c->reason, "head commit 111111111111 is not in the clone"), "%s", c->reason);
    mi_changes_free(c);
    mi_context_free(ctx);
    history_free(&h);
}

Test(changes, push_compares_before_and_after)
{
    struct history h;
    history(&h);
    struct mi_context *ctx = push_context(h.base, h.b1);
    struct mi_changes *c = for_context(h.r, ctx);
    char *got = describe(c);
    cr_assert_str_eq(got, "A:base-only.txt;");
    cr_assert_str_eq(c->method, "before..after");
    free(got);
    mi_changes_free(c);
    mi_context_free(ctx);

    /* A forced push from an unrelated line: the trees are compared all the same. */
    ctx = push_context(h.b1, h.h1);
    ctx->forced = 1;
    c = for_context(h.r, ctx);
    got = describe(c);
    cr_assert_str_eq(got, "D:base-only.txt;A:pr.txt;");
    cr_assert_eq(c->nnotes, 1);
    free(got);
    mi_changes_free(c);
    mi_context_free(ctx);

    ctx = push_context(ZERO, h.b1);
    c = for_context(h.r, ctx);
    cr_assert(c->full_run);
    cr_assert(strstr(c->reason, "new branch"), "%s", c->reason);
    cr_assert(c->has_to);
    mi_changes_free(c);
    mi_context_free(ctx);

    ctx = push_context(ABSENT, h.b1);
    c = for_context(h.r, ctx);
    cr_assert(c->full_run);
    cr_assert(strstr(c->reason, "force-push or shallow clone"), "%s", c->reason);
    mi_changes_free(c);
    mi_context_free(ctx);

    ctx = push_context(h.b1, ZERO);
    c = for_context(h.r, ctx);
    cr_assert(c->nothing_to_do);
    cr_assert(strstr(c->reason, "deleted"));
    mi_changes_free(c);
    mi_context_free(ctx);

    ctx = push_context(h.b1, ABSENT);
    c = NULL;
    cr_assert_eq(mi_changes_for_context(&c, h.r->repo, ctx, NULL, NULL), MI_ERR);
    cr_assert(strstr(mi_error_last(), "is not in the repository"), "%s", mi_error_last());
    cr_assert_null(c);
    mi_context_free(ctx);
    history_free(&h);
}

Test(changes, dispatch_other_and_local)
{
    struct history h;
    history(&h);
    struct mi_context *ctx = mi_xcalloc(1, sizeof(*ctx));
    ctx->kind = MI_EVENT_WORKFLOW_DISPATCH;
    ctx->event_name = mi_xstrdup("workflow_dispatch");
    struct mi_changes *c = for_context(h.r, ctx);
    cr_assert(c->full_run);
    mi_changes_free(c);
    ctx->kind = MI_EVENT_OTHER;
    c = for_context(h.r, ctx);
    cr_assert(c->full_run);
    mi_changes_free(c);
    mi_context_free(ctx);

    cr_assert_eq(mi_context_local(&ctx, NULL), 0);
    cr_assert_eq(mi_changes_for_context(&c, h.r->repo, ctx, h.b1, h.h1), 0, "%s", mi_error_last());
    char *got = describe(c);
    cr_assert_str_eq(got, "A:pr.txt;");
    free(got);
    mi_changes_free(c);
    cr_assert_eq(mi_changes_for_context(&c, h.r->repo, ctx, "no-such-rev", h.h1), MI_EUSAGE);
    cr_assert(strstr(mi_error_last(), "no-such-rev"));
    mi_context_free(ctx);
    mi_changes_free(NULL);
    history_free(&h);
}

Test(changes, a_scope_keeps_the_walk_to_what_matters)
{
    struct mi_test_repo *r = mi_test_repo_init();
    mi_test_repo_write(r, "environments/dev/main.tf", "x");
    mi_test_repo_write(r, "services/a/1.txt", "1");
    mi_test_repo_write(r, "services/b/2.txt", "2");
    mi_test_repo_write(r, "top.txt", "t");
    char *c1 = mi_test_repo_commit(r, "one");
    mi_test_repo_write(r, "environments/dev/main.tf", "y");
    mi_test_repo_write(r, "environments/prod/main.tf", "new");
    mi_test_repo_write(r, "services/a/1.txt", "changed");
    mi_test_repo_write(r, "services/b/2.txt", "changed");
    mi_test_repo_write(r, "top.txt", "changed");
    char *c2 = mi_test_repo_commit(r, "two");
    struct mi_changes *c = NULL;
    struct mi_context *ctx = NULL;
    cr_assert_eq(mi_context_local(&ctx, NULL), 0);
    cr_assert_eq(mi_changes_plan(&c, r->repo, ctx, c1, c2), 0, "%s", mi_error_last());
    cr_assert_eq(c->n, 0, "a plan lists nothing yet");
    struct mi_path_set scope = MI_PATH_SET_INIT;
    mi_path_set_add(&scope, "environments/dev");
    mi_path_set_sort(&scope);
    cr_assert_eq(mi_changes_collect(c, r->repo, &scope), 0, "%s", mi_error_last());
    char *got = describe(c);
    /* Files at a level the walk passes through are listed; environments/prod and services
     * are not entered, only counted. */
    cr_assert_str_eq(got, "M:environments/dev/main.tf;M:top.txt;");
    cr_assert_eq(c->pruned, 2);
    free(got);
    mi_changes_free(c);
    mi_path_set_release(&scope);
    mi_context_free(ctx);
    free(c1);
    free(c2);
    mi_test_repo_free(r);
}
