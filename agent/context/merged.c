/*
 * merged.c - pull-request head candidates of a pushed commit. See merged.h.
 */
#include "context/merged.h"

#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/error.h"
#include "util/banned.h"

int mi_merged_candidates(struct mi_merged_candidates *out, git_repository *repo,
                         const char *commit_hex)
{
    memset(out, 0, sizeof(*out));
    git_oid oid;
    git_commit *c = NULL;
    if (git_oid_fromstr(&oid, commit_hex) < 0)
        return mi_error_set(MI_EUSAGE, "git: '%s' is not a commit id", commit_hex);
    int rc = git_commit_lookup(&c, repo, &oid);
    if (rc < 0) {
        const git_error *e = git_error_last();
        return mi_error_set(rc == GIT_ENOTFOUND ? MI_ENOTFOUND : MI_ERR,
                            "git: commit %s is not in the repository: %s", commit_hex,
                            e && e->message ? e->message : "unknown error");
    }
    unsigned int parents = git_commit_parentcount(c);
    out->shas = mi_xcalloc(parents + 1, sizeof(char *));
    char hex[GIT_OID_HEXSZ + 1];
    out->shas[out->n++] = mi_xstrdup(git_oid_tostr(hex, sizeof(hex), &oid));
    /* The first parent is the branch the push moved: it was there before the merge. */
    for (unsigned int i = 1; i < parents; i++)
        out->shas[out->n++] =
            mi_xstrdup(git_oid_tostr(hex, sizeof(hex), git_commit_parent_id(c, i)));
    git_commit_free(c);
    return 0;
}

void mi_merged_candidates_release(struct mi_merged_candidates *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        free(c->shas[i]);
    free(c->shas);
    c->shas = NULL;
    c->n = 0;
}
