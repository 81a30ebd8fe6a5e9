/*
 * path.h - repository-relative paths, environment names and watch patterns.
 *
 * Rules:
 *  - Every path this module hands back is repository-relative and normalized: no leading
 *    '/', no '.' or '..' component, no empty component, no trailing '/'. The repository
 *    root itself is the empty string "".
 *  - A path that is absolute, contains a control character or a backslash, or climbs
 *    above the repository root with '..' is refused (MI_EUSAGE, message quoting the path);
 *    callers add their own context (file and line) with mi_error_prefix.
 *  - Strings returned through `char **out` are allocated: caller frees.
 *  - Nothing here touches the file system: these are string operations, so they are safe
 *    on hostile input from an event payload, a config file or a .tf file.
 */
#ifndef MI_CONTEXT_PATH_H
#define MI_CONTEXT_PATH_H

#include <stddef.h>

/* Longest environment name accepted; also bounds what an event can make us echo back. */
#define MI_ENV_NAME_MAX 63

/* 1 when name matches [a-z0-9][a-z0-9_-]* and is at most MI_ENV_NAME_MAX bytes. */
int mi_path_env_name_valid(const char *name);

/* Normalizes a repository-relative path (see the rules above). "" and "." give "". */
int mi_path_normalize(char **out, const char *path);

/* Resolves rel (relative to the repository-relative directory dir, "" for the root) and
 * normalizes the result; fails when it leaves the repository. */
int mi_path_resolve(char **out, const char *dir, const char *rel);

/* 1 when path equals dir or lies below it ("a/b" is under "a", "ab" is not). Every path is
 * under "". Both arguments normalized. */
int mi_path_under(const char *path, const char *dir);

/* 1 when s contains a glob character ('*', '?' or '['). */
int mi_path_has_glob(const char *s);

/* Matches a normalized path against a watch pattern:
 *  - without glob characters, the pattern names a file or a directory: it matches itself and
 *    everything below it;
 *  - '*' matches within one path component, '?' one character other than '/', '[...]' a
 *    character class ('!' or '^' negates), and a component that is exactly '**' matches zero
 *    or more whole components. A pattern matching a directory also matches what is below it.
 * Returns 1 on a match, 0 otherwise. Bounded: no exponential backtracking on '**'. */
int mi_path_glob_match(const char *pattern, const char *path);

/* A set of repository-relative directories, for pruning a tree walk to the parts that can
 * matter. Add, then sort once, then ask. `all` set: every directory matters. */
struct mi_path_set {
    char **dirs; /* owned; sorted and without duplicates after mi_path_set_sort */
    size_t n;
    int all;
};
#define MI_PATH_SET_INIT                                                                           \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void mi_path_set_add(struct mi_path_set *set, const char *dir);
void mi_path_set_sort(struct mi_path_set *set);
void mi_path_set_release(struct mi_path_set *set);
/* 1 when dir is a member, lies below a member, or holds a member below it: a walk that is
 * at dir must go on into it. */
int mi_path_set_touches(const struct mi_path_set *set, const char *dir);
/* The leading components of a watch pattern before its first glob (the directory its matches
 * must lie in); "" when the first component has a glob. Caller frees. */
char *mi_path_glob_base(const char *pattern);

#endif
