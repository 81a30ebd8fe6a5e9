/* The configuration fingerprint (context/fingerprint.h) and the merge candidates of a pushed
 * commit (context/merged.h), on temporary repositories built with libgit2. */
#include <criterion/criterion.h>
#include <git2.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "context/fingerprint.h"
#include "context/merged.h"
#include "gitrepo.h"
#include "util/buf.h"
#include "util/error.h"

static struct mi_test_repo *r;

static void setup(void)
{
    cr_assert(sodium_init() >= 0);
    git_libgit2_init();
    r = mi_test_repo_init();
    mi_test_repo_write(r, "environments/dev/main.tf",
                       "module \"app\" {\n  source = \"../../modules/app\"\n}\n");
    mi_test_repo_write(r, "modules/app/main.tf",
                       "module \"db\" {\n  source = \"../db\"\n}\n"
                       "module \"db_again\" {\n  source = \"../db\"\n}\n");
    mi_test_repo_write(r, "modules/db/main.tf", "# db\n");
    mi_test_repo_write(r, "modules/unused/main.tf", "# not used by dev\n");
    mi_test_repo_write(r, "README.md", "# readme\n");
}

static void teardown(void)
{
    mi_test_repo_free(r);
    git_libgit2_shutdown();
}

TestSuite(fingerprint, .init = setup, .fini = teardown);
TestSuite(merged, .init = setup, .fini = teardown);

static struct mi_fingerprint *at(const char *commit)
{
    struct mi_fingerprint *f = NULL;
    cr_assert_eq(mi_fingerprint_at(&f, r->dir, commit, "environments/dev"), 0, "%s",
                 mi_error_last());
    return f;
}

Test(fingerprint, covers_the_environment_and_its_modules_transitively_once_each)
{
    char *c = mi_test_repo_commit(r, "one");
    struct mi_fingerprint *f = at(c);
    cr_assert_eq(f->n, 3);
    cr_assert_str_eq(f->entries[0].path, "environments/dev");
    cr_assert_str_eq(f->entries[1].path, "modules/app");
    cr_assert_str_eq(f->entries[2].path, "modules/db");
    for (size_t i = 0; i < f->n; i++)
        cr_assert(f->entries[i].tree && strlen(f->entries[i].tree) == 40);
    cr_assert_eq(strncmp(f->value, "sha256:", 7), 0);
    cr_assert_eq(strlen(f->value), 7 + 64);
    cr_assert_str_eq(f->commit, c);

    /* The value is the SHA-256 of the manifest, which is what the header says it is. */
    mi_buf m = MI_BUF_INIT;
    mi_fingerprint_manifest(&m, f);
    static const char start[] = MI_FINGERPRINT_FORMAT "\nenvironments/dev\t";
    cr_assert_eq(strncmp(m.ptr, start, strlen(start)), 0, "%s", m.ptr);
    unsigned char d[32];
    crypto_hash_sha256(d, (const unsigned char *)m.ptr, m.len);
    char hex[65];
    sodium_bin2hex(hex, sizeof(hex), d, sizeof(d));
    cr_assert_str_eq(f->value + 7, hex);
    mi_buf_release(&m);
    mi_fingerprint_free(f);
    free(c);
}

Test(fingerprint, ignores_paths_outside_the_configuration)
{
    char *c1 = mi_test_repo_commit(r, "one");
    mi_test_repo_write(r, "README.md", "# changed\n");
    mi_test_repo_write(r, "modules/unused/main.tf", "# changed\n");
    char *c2 = mi_test_repo_commit(r, "two");
    struct mi_fingerprint *a = at(c1), *b = at(c2);
    cr_assert_str_eq(a->value, b->value);
    mi_buf d = MI_BUF_INIT;
    cr_assert_eq(mi_fingerprint_describe_diff(&d, a, b), 0);
    cr_assert_str_eq(d.ptr, "");
    mi_buf_release(&d);
    mi_fingerprint_free(a);
    mi_fingerprint_free(b);
    free(c1);
    free(c2);
}

Test(fingerprint, names_a_changed_module_two_levels_down)
{
    char *c1 = mi_test_repo_commit(r, "one");
    mi_test_repo_write(r, "modules/db/main.tf", "# db, bigger\n");
    char *c2 = mi_test_repo_commit(r, "two");
    struct mi_fingerprint *a = at(c1), *b = at(c2);
    cr_assert_str_neq(a->value, b->value);
    mi_buf d = MI_BUF_INIT;
    cr_assert_eq(mi_fingerprint_describe_diff(&d, a, b), 1);
    cr_assert_str_eq(d.ptr, "modules/db (changed)");
    mi_buf_release(&d);
    mi_fingerprint_free(a);
    mi_fingerprint_free(b);
    free(c1);
    free(c2);
}

Test(fingerprint, names_modules_added_to_and_dropped_from_the_configuration)
{
    char *c1 = mi_test_repo_commit(r, "one");
    mi_test_repo_write(r, "modules/app/main.tf",
                       "module \"cache\" {\n  source = \"../unused\"\n}\n");
    char *c2 = mi_test_repo_commit(r, "two");
    struct mi_fingerprint *a = at(c1), *b = at(c2);
    mi_buf d = MI_BUF_INIT;
    cr_assert_eq(mi_fingerprint_describe_diff(&d, a, b), 3, "%s", d.ptr);
    cr_assert(strstr(d.ptr, "modules/app (changed)"), "%s", d.ptr);
    cr_assert(strstr(d.ptr, "modules/unused (now used, not planned)"), "%s", d.ptr);
    cr_assert(strstr(d.ptr, "modules/db (planned, no longer used)"), "%s", d.ptr);
    mi_buf_release(&d);
    mi_fingerprint_free(a);
    mi_fingerprint_free(b);
    free(c1);
    free(c2);
}

Test(fingerprint, a_missing_environment_directory_has_a_fingerprint_that_differs)
{
    char *c1 = mi_test_repo_commit(r, "one");
    struct mi_fingerprint *a = at(c1), *gone = NULL;
    cr_assert_eq(mi_fingerprint_at(&gone, r->dir, c1, "environments/nope"), 0, "%s",
                 mi_error_last());
    cr_assert_eq(gone->n, 1);
    cr_assert_null(gone->entries[0].tree);
    cr_assert_str_neq(a->value, gone->value);
    mi_fingerprint_free(a);
    mi_fingerprint_free(gone);
    free(c1);
}

Test(fingerprint, an_unknown_revision_is_an_error)
{
    char *c1 = mi_test_repo_commit(r, "one");
    struct mi_fingerprint *f = NULL;
    cr_assert_lt(mi_fingerprint_at(&f, r->dir, "0123456789012345678901234567890123456789",
                                   "environments/dev"),
                 0);
    cr_assert_null(f);
    cr_assert(strstr(mi_error_last(), "0123456789"), "%s", mi_error_last());
    free(c1);
}

Test(merged, a_merge_commit_offers_itself_and_its_merged_parent)
{
    char *base = mi_test_repo_commit(r, "base");
    mi_test_repo_write(r, "README.md", "# head\n");
    char *head = mi_test_repo_commit(r, "head");
    mi_test_repo_reset(r, base);
    mi_test_repo_write(r, "environments/dev/x.tf", "# x\n");
    char *side = mi_test_repo_commit(r, "side");

    git_oid ids[2];
    git_commit *parents[2] = {NULL, NULL};
    git_oid_fromstr(&ids[0], side);
    git_oid_fromstr(&ids[1], head);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(git_commit_lookup(&parents[i], r->repo, &ids[i]), 0);
    git_signature *sig = NULL;
    cr_assert_eq(git_signature_new(&sig, "t", "t@example.invalid", 1700000000, 0), 0);
    git_oid merge;
    git_tree *tree = NULL;
    cr_assert_eq(git_commit_tree(&tree, parents[0]), 0);
    cr_assert_eq(git_commit_create(&merge, r->repo, NULL, sig, sig, NULL, "merge", tree, 2,
                                   (const git_commit **)parents),
                 0);
    char hex[GIT_OID_HEXSZ + 1];
    git_oid_tostr(hex, sizeof(hex), &merge);

    struct mi_merged_candidates c = {NULL, 0};
    cr_assert_eq(mi_merged_candidates(&c, r->repo, hex), 0, "%s", mi_error_last());
    cr_assert_eq(c.n, 2);
    cr_assert_str_eq(c.shas[0], hex);
    cr_assert_str_eq(c.shas[1], head);
    mi_merged_candidates_release(&c);
    mi_merged_candidates_release(&c);

    /* A plain commit (a fast-forward) offers only itself. */
    cr_assert_eq(mi_merged_candidates(&c, r->repo, head), 0);
    cr_assert_eq(c.n, 1);
    cr_assert_str_eq(c.shas[0], head);
    mi_merged_candidates_release(&c);

    cr_assert_eq(mi_merged_candidates(&c, r->repo, "1111111111111111111111111111111111111111"),
                 MI_ENOTFOUND);
    cr_assert_eq(mi_merged_candidates(&c, r->repo, "not-a-sha"), MI_EUSAGE);

    git_tree_free(tree);
    git_signature_free(sig);
    for (int i = 0; i < 2; i++)
        git_commit_free(parents[i]);
    free(base);
    free(head);
    free(side);
}
