/*
 * merged.h - which pull-request head a pushed commit may have merged, from the history alone.
 *
 * On GitHub the apply asks the API which pull request a pushed commit merged
 * (remote/github.h: mi_github_pull_for_commit), which also understands squash and rebase
 * merges. A run without GitHub (a local run, no token) can still tell a merge from the
 * commits: a fast-forward makes the pushed commit the pull request's head itself, and a merge
 * commit has the head as one of its other parents. Those commits are the candidates; the
 * caller matches them against the heads of the stored plans.
 *
 * Rules: out owns the strings and the array (mi_merged_candidates_release frees them;
 * releasing twice is safe). The repository is borrowed. Never prints, never exits.
 */
#ifndef MI_CONTEXT_MERGED_H
#define MI_CONTEXT_MERGED_H

#include <git2.h>
#include <stddef.h>

struct mi_merged_candidates {
    char **shas; /* the pushed commit, then its parents after the first, as hex */
    size_t n;
};

/* The candidates for commit (hex). MI_ENOTFOUND when the commit is not in the repository. */
int mi_merged_candidates(struct mi_merged_candidates *out, git_repository *repo,
                         const char *commit_hex);

void mi_merged_candidates_release(struct mi_merged_candidates *c);

#endif
