/*
 * fingerprint.h - the configuration fingerprint of an environment at a commit: what `plan`
 * seals into a plan's binding and what `apply` recomputes at the merge commit, so a plan is
 * applied only to the configuration it was made from (DESIGN.md section 6, issue 8).
 *
 * What it covers: the git tree of the environment's directory and the tree of every local
 * module it uses, directly or through other local modules (context/modules.h), all read
 * from the commit's object database, never from the working tree. Two commits have the same
 * fingerprint exactly when each of those directories has the same tree id in both and the
 * same set of module directories is used.
 *
 * The value is "sha256:" and 64 hex digits: SHA-256 of a canonical manifest
 *
 *     mlinfra-config-fingerprint/1\n
 *     <path>\t<tree id in hex, or "-" when the directory is missing>\n     (one per directory)
 *
 * with the directories sorted bytewise and the repository root written as ".". The manifest
 * entries are kept in the struct so that a mismatch can name the directories that differ
 * (mi_fingerprint_describe_diff).
 *
 * Rules:
 *  - struct mi_fingerprint owns everything in it; mi_fingerprint_free(NULL) is a no-op.
 *  - The repository is borrowed and not kept.
 *  - Module sources that could not be followed (outside the repository, unreadable) are not
 *    covered; they are listed in `warnings` for the command to show.
 *  - Never prints, never exits.
 */
#ifndef MI_CONTEXT_FINGERPRINT_H
#define MI_CONTEXT_FINGERPRINT_H

#include <git2.h>
#include <stddef.h>

#include "util/buf.h"

#define MI_FINGERPRINT_FORMAT "mlinfra-config-fingerprint/1"

struct mi_fingerprint_entry {
    char *path; /* repository-relative directory ("" for the root) */
    char *tree; /* tree id in hex; NULL when the directory does not exist at the commit */
};

struct mi_fingerprint {
    char *value;                          /* "sha256:<64 hex>" */
    char *commit;                         /* the commit it was computed at, in hex */
    struct mi_fingerprint_entry *entries; /* sorted by path, without duplicates */
    size_t n;
    char **warnings;
    size_t nwarnings;
};

/* The fingerprint of the environment whose root configuration is env_dir (repository-
 * relative, normalized) at commit. */
int mi_fingerprint_compute(struct mi_fingerprint **out, git_repository *repo, const git_oid *commit,
                           const char *env_dir);

/* The same for a revision (a commit id, "HEAD", any git_revparse syntax; NULL: HEAD) of the
 * repository at repo_dir (opened without searching parent directories). */
int mi_fingerprint_at(struct mi_fingerprint **out, const char *repo_dir, const char *rev,
                      const char *env_dir);

void mi_fingerprint_free(struct mi_fingerprint *f);

/* Appends the canonical manifest (what the value hashes). */
void mi_fingerprint_manifest(mi_buf *out, const struct mi_fingerprint *f);

/* Appends to out, comma-separated, the directories whose trees differ between `planned` and
 * `now`: "modules/storage (changed)", "modules/cache (now used, not planned)",
 * "modules/old (planned, no longer used)", "environments/dev (missing)". Returns how many. */
size_t mi_fingerprint_describe_diff(mi_buf *out, const struct mi_fingerprint *planned,
                                    const struct mi_fingerprint *now);

#endif
