/*
 * changes.h - which paths a run changes, from the repository's history (libgit2).
 *
 * The comparison is tree against tree, the way `git diff --name-only` does it: subtrees with
 * the same id are skipped whole, file contents are never read or diffed. A rename shows up as
 * its old path deleted and its new path added, so both paths always count; when the content
 * is byte-identical the two are paired into one MI_CHANGE_RENAMED entry that carries both.
 *
 * Which commits are compared (mi_changes_for_context):
 *  - pull request: the merge-base of base and head, against head. When the merge-base is not
 *    in the history (shallow clone), base against head directly; when those commits are not
 *    in the clone either, the test merge commit (GITHUB_SHA / merge_commit_sha) against its
 *    first parent; failing all that, a full run. Closed without merging: nothing to do.
 *  - push: before..after. A new branch (before is all zeros) or a `before` that is not in the
 *    clone (force-push, shallow clone) is a full run; a deleted branch is nothing to do.
 *  - workflow_dispatch and other events: a full run.
 *  - local (command line): merge-base of the two revisions against the second, as for a PR.
 * Every fallback is said in `notes` and in `method`, for the command to show.
 *
 * Ownership: struct mi_changes owns its entries and strings; mi_changes_free(NULL) is a
 * no-op. The repository is borrowed and not kept. Never prints, never exits.
 */
#ifndef MI_CONTEXT_CHANGES_H
#define MI_CONTEXT_CHANGES_H

#include <git2.h>
#include <stddef.h>

#include "context/context.h"
#include "context/path.h"

enum mi_change_status {
    MI_CHANGE_ADDED = 'A',
    MI_CHANGE_DELETED = 'D',
    MI_CHANGE_MODIFIED = 'M',
    MI_CHANGE_TYPECHANGE = 'T', /* file <-> symbolic link <-> submodule */
    MI_CHANGE_RENAMED = 'R',    /* path is the new name, old_path the old one */
};

struct mi_change {
    char *path;     /* repository-relative */
    char *old_path; /* MI_CHANGE_RENAMED only, else NULL */
    enum mi_change_status status;
};

struct mi_changes {
    struct mi_change *items; /* sorted by path */
    size_t n;
    size_t pruned; /* changed subtrees not looked into: outside the scope of the collection */

    /* How the paths were found: "merge-base", "base..head", "merge-commit", "before..after",
     * "revisions", "full-run" or "none". */
    const char *method;
    int full_run;      /* every candidate environment is affected */
    char *reason;      /* full run or nothing to do: why */
    int nothing_to_do; /* e.g. a deleted branch, a pull request closed without merging */
    int has_from, has_to;
    git_oid from, to; /* the commits compared; `to` is where configurations are read */

    char **notes; /* fallbacks taken, in sentences */
    size_t nnotes;
};

/* Every change between the trees of two commits. */
int mi_changes_between(struct mi_changes **out, git_repository *repo, const git_oid *from,
                       const git_oid *to);

/* The plan of a run (see the rules above): which commits it compares (from, to, method,
 * notes), or a full run, or nothing to do. Reads commits, not trees: items stay empty until
 * mi_changes_collect. For MI_EVENT_LOCAL, base_rev and head_rev are revisions (any
 * git_revparse syntax); they are ignored otherwise. */
int mi_changes_plan(struct mi_changes **out, git_repository *repo, const struct mi_context *ctx,
                    const char *base_rev, const char *head_rev);

/* Fills the changed paths of a plan (nothing for a full run or nothing to do). With a scope,
 * changed subtrees that neither hold nor lie in one of its directories are not entered (and
 * counted in `pruned`): a change there cannot concern any environment, and skipping it keeps
 * the cost proportional to the part of the repository that matters. NULL: every path. */
int mi_changes_collect(struct mi_changes *c, git_repository *repo, const struct mi_path_set *scope);

/* mi_changes_plan, then mi_changes_collect of every path. */
int mi_changes_for_context(struct mi_changes **out, git_repository *repo,
                           const struct mi_context *ctx, const char *base_rev,
                           const char *head_rev);

void mi_changes_free(struct mi_changes *c);

#endif
