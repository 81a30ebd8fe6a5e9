#include "gitrepo.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testsupport.h"
#include "util/buf.h"
#include "util/fs.h"

static void check(int err, const char *what)
{
    if (err < 0) {
        const git_error *e = git_error_last();
        cr_assert_fail("libgit2: %s: %s", what, e && e->message ? e->message : "?");
    }
}

struct mi_test_repo *mi_test_repo_init(void)
{
    git_libgit2_init();
    struct mi_test_repo *r = mi_xcalloc(1, sizeof(*r));
    r->dir = mi_test_tmpdir();
    check(git_repository_init(&r->repo, r->dir, 0), "init");
    return r;
}

void mi_test_repo_free(struct mi_test_repo *r)
{
    if (!r)
        return;
    git_repository_free(r->repo);
    mi_test_rmtree(r->dir);
    free(r->dir);
    free(r);
    git_libgit2_shutdown();
}

static char *full_path(struct mi_test_repo *r, const char *path)
{
    return mi_xasprintf("%s/%s", r->dir, path);
}

static void make_parent(const char *full)
{
    char *dir = mi_xstrdup(full);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        cr_assert_eq(mi_fs_mkdir_p(dir, 0755), 0, "mkdir %s", dir);
    }
    free(dir);
}

void mi_test_repo_write(struct mi_test_repo *r, const char *path, const char *content)
{
    char *full = full_path(r, path);
    make_parent(full);
    FILE *f = fopen(full, "wb");
    cr_assert(f, "cannot write %s", full);
    fputs(content, f);
    fclose(f);
    free(full);
}

void mi_test_repo_remove(struct mi_test_repo *r, const char *path)
{
    char *full = full_path(r, path);
    cr_assert_eq(unlink(full), 0, "cannot remove %s", full);
    free(full);
}

void mi_test_repo_rename(struct mi_test_repo *r, const char *from, const char *to)
{
    char *a = full_path(r, from), *b = full_path(r, to);
    make_parent(b);
    cr_assert_eq(rename(a, b), 0, "cannot rename %s to %s", a, b);
    free(a);
    free(b);
}

void mi_test_repo_symlink(struct mi_test_repo *r, const char *path, const char *target)
{
    char *full = full_path(r, path);
    make_parent(full);
    cr_assert_eq(symlink(target, full), 0, "cannot link %s", full);
    free(full);
}

char *mi_test_repo_commit(struct mi_test_repo *r, const char *message)
{
    git_index *index = NULL;
    git_oid tree_id, commit_id;
    git_tree *tree = NULL;
    git_signature *sig = NULL;
    git_commit *parent = NULL;
    git_reference *head = NULL;
    check(git_repository_index(&index, r->repo), "index");
    /* Start from an empty index so the tree is exactly the working tree. */
    check(git_index_clear(index), "index clear");
    check(git_index_add_all(index, NULL, GIT_INDEX_ADD_FORCE, NULL, NULL), "add all");
    check(git_index_write(index), "index write");
    check(git_index_write_tree(&tree_id, index), "write tree");
    check(git_tree_lookup(&tree, r->repo, &tree_id), "tree lookup");
    check(git_signature_new(&sig, "mlinfra test", "test@example.invalid", 1700000000, 0),
          "signature");
    int has_head = git_repository_head(&head, r->repo) == 0;
    if (has_head)
        check(git_commit_lookup(&parent, r->repo, git_reference_target(head)), "parent");
    const git_commit *parents[1] = {parent};
    check(git_commit_create(&commit_id, r->repo, "HEAD", sig, sig, NULL, message, tree,
                            has_head ? 1 : 0, parents),
          "commit");
    git_commit_free(parent);
    git_reference_free(head);
    git_signature_free(sig);
    git_tree_free(tree);
    git_index_free(index);
    char *hex = mi_xmalloc(GIT_OID_HEXSZ + 1);
    git_oid_tostr(hex, GIT_OID_HEXSZ + 1, &commit_id);
    return hex;
}

void mi_test_repo_reset(struct mi_test_repo *r, const char *commit_hex)
{
    git_oid id;
    git_object *obj = NULL;
    check(git_oid_fromstr(&id, commit_hex), "oid");
    check(git_object_lookup(&obj, r->repo, &id, GIT_OBJECT_COMMIT), "lookup");
    check(git_repository_set_head_detached(r->repo, &id), "detach");
    git_checkout_options opts;
    check(git_checkout_options_init(&opts, GIT_CHECKOUT_OPTIONS_VERSION), "checkout options");
    opts.checkout_strategy = GIT_CHECKOUT_FORCE | GIT_CHECKOUT_REMOVE_UNTRACKED;
    check(git_reset(r->repo, obj, GIT_RESET_HARD, &opts), "reset");
    git_object_free(obj);
}

void mi_test_repo_branch(struct mi_test_repo *r, const char *name, const char *commit_hex)
{
    git_oid id;
    git_commit *c = NULL;
    git_reference *ref = NULL;
    check(git_oid_fromstr(&id, commit_hex), "oid");
    check(git_commit_lookup(&c, r->repo, &id), "lookup");
    check(git_branch_create(&ref, r->repo, name, c, 1), "branch");
    git_reference_free(ref);
    git_commit_free(c);
}
