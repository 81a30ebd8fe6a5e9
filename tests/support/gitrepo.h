/*
 * gitrepo.h - temporary git repositories for tests, built with libgit2 (no git process).
 *
 * A repository has a working tree in a fresh temporary directory. Write, delete or link
 * files in the working tree, then commit: the commit records the whole working tree (added,
 * changed and deleted files) on top of the current HEAD. mi_test_repo_reset moves HEAD (and
 * the working tree) to any commit, so histories with branches are built by resetting to the
 * fork point and committing again. Commit ids come back as 40-hex strings (caller frees).
 * Every function aborts the test (cr_assert) on failure. mi_test_repo_free removes the
 * directory; NULL is a no-op.
 */
#ifndef MI_TEST_GITREPO_H
#define MI_TEST_GITREPO_H

#include <git2.h>

struct mi_test_repo {
    char *dir; /* working tree (no trailing '/') */
    git_repository *repo;
};

struct mi_test_repo *mi_test_repo_init(void);
void mi_test_repo_free(struct mi_test_repo *r);

/* Writes content to path (relative to the working tree, directories created). */
void mi_test_repo_write(struct mi_test_repo *r, const char *path, const char *content);
/* Removes path (a file) from the working tree. */
void mi_test_repo_remove(struct mi_test_repo *r, const char *path);
/* Renames a file in the working tree (directories of the new path created). */
void mi_test_repo_rename(struct mi_test_repo *r, const char *from, const char *to);
/* Creates a symbolic link at path pointing at target. */
void mi_test_repo_symlink(struct mi_test_repo *r, const char *path, const char *target);

/* Commits the working tree on top of HEAD (the first commit has no parent); moves the
 * current branch, or a detached HEAD. Returns the new commit's id. */
char *mi_test_repo_commit(struct mi_test_repo *r, const char *message);
/* Points HEAD at commit (detached) and makes the working tree match it. */
void mi_test_repo_reset(struct mi_test_repo *r, const char *commit_hex);
/* Creates or moves branch name to commit. */
void mi_test_repo_branch(struct mi_test_repo *r, const char *name, const char *commit_hex);

#endif
