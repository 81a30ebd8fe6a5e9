/*
 * select.h - which environments a run concerns, and why.
 *
 * Candidates are the environments whose branch is the run's branch (a pull request's base,
 * the pushed or dispatched branch; every environment for a local run without a branch). A
 * workflow_dispatch naming an environment narrows the candidates to it. A candidate is
 * affected when a changed path (either path of a rename) lies in its directory, matches one
 * of its watched paths, or lies in a local module it uses directly or through other local
 * modules (context/modules.h, read at the commit compared against). A full run affects every
 * candidate.
 *
 * Ownership: struct mi_selection owns copies of everything it holds (it does not point into
 * the configuration or the changes); mi_selection_free(NULL) is a no-op. Never prints,
 * never exits.
 */
#ifndef MI_CONTEXT_SELECT_H
#define MI_CONTEXT_SELECT_H

#include <git2.h>
#include <stddef.h>

#include "context/changes.h"
#include "context/config.h"
#include "context/context.h"

/* Reasons kept per environment; the rest are counted. */
#define MI_SELECT_MAX_REASONS 20

enum mi_reason_kind {
    MI_REASON_DIRECTORY, /* a changed path in the environment's directory */
    MI_REASON_WATCH,     /* a changed path matching a watched path */
    MI_REASON_MODULE,    /* a changed path in a local module it uses */
    MI_REASON_FULL_RUN,  /* no comparison: every candidate is affected */
};

struct mi_reason {
    enum mi_reason_kind kind;
    char *path;                   /* the changed path that matched (NULL for a full run) */
    char *renamed_from;           /* path is a rename's new name: its old name */
    char *renamed_to;             /* path is a rename's old name: its new name */
    enum mi_change_status status; /* the change behind it (not for a full run) */
    char *pattern;                /* MI_REASON_WATCH: the watched path that matched */
    char **chain; /* MI_REASON_MODULE: module directories from the environment's own use to
                   * the module holding the path */
    size_t nchain;
    char *detail; /* MI_REASON_FULL_RUN: why */
};

struct mi_selected {
    char *name;
    char *directory;
    char *branch;
    int require_approval;
    struct mi_reason *reasons; /* at most MI_SELECT_MAX_REASONS */
    size_t nreasons;
    size_t total_reasons; /* how many changed paths affect it in all */
};

struct mi_selection {
    struct mi_selected *envs; /* affected environments, in configuration order */
    size_t n;
    char **candidates; /* names of the environments of the run's branch */
    size_t ncandidates;
    char *skip_reason; /* when n == 0: why nothing is affected */
    char **warnings;   /* module sources skipped and the like */
    size_t nwarnings;
    struct mi_select_state *state; /* private: the module graph between the steps */
};

/* First step: the candidates of the run's branch (s->candidates), or a skip_reason when
 * there are none - then there is no need to look at the history at all. Fails (MI_EUSAGE)
 * when a dispatch names an environment that does not exist or is not on the branch. */
int mi_select_candidates(struct mi_selection **out, const struct mi_config *cfg,
                         const struct mi_context *ctx);

/* Optional step between the two: the directories a change must lie in (or hold) to concern
 * a candidate - their directories, the local modules they use (read at commit `to`), and
 * the leading folders of their watched paths - for mi_changes_collect to stay within. The
 * module graph is kept for mi_select_affected. */
int mi_select_scope(struct mi_selection *s, const struct mi_config *cfg, git_repository *repo,
                    const git_oid *to, struct mi_path_set *out);

/* Second step: which candidates the changes affect (s->envs), or a skip_reason. Reads the
 * module graph at changes->to. */
int mi_select_affected(struct mi_selection *s, const struct mi_config *cfg,
                       const struct mi_context *ctx, const struct mi_changes *changes,
                       git_repository *repo);

/* Both steps. */
int mi_select_environments(struct mi_selection **out, const struct mi_config *cfg,
                           const struct mi_context *ctx, const struct mi_changes *changes,
                           git_repository *repo);

void mi_selection_free(struct mi_selection *s);

#endif
