/*
 * path.c - string-only handling of repository-relative paths and watch patterns.
 */
#include "context/path.h"

#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/error.h"
#include "util/banned.h"

int mi_path_env_name_valid(const char *name)
{
    if (!name || !*name)
        return 0;
    size_t n = strlen(name);
    if (n > MI_ENV_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '-' && c != '_')))
            return 0;
    }
    return 1;
}

static int check_chars(const char *path)
{
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return mi_error_set(MI_EUSAGE, "path contains a control character");
        if (*p == '\\')
            return mi_error_set(MI_EUSAGE, "path '%s' contains a backslash", path);
    }
    return 0;
}

/* Appends the components of path to out (which holds a normalized path), applying '.' and
 * '..'. The original text is only for the message. */
static int append_components(mi_buf *out, const char *path, const char *whole)
{
    const char *p = path;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 0 || (len == 1 && p[0] == '.')) {
            /* empty component ("a//b", trailing '/') or '.': nothing to do */
        } else if (len == 2 && p[0] == '.' && p[1] == '.') {
            if (out->len == 0)
                return mi_error_set(MI_EUSAGE, "path '%s' leaves the repository", whole);
            char *last = strrchr(out->ptr, '/');
            mi_buf_truncate(out, last ? (size_t)(last - out->ptr) : 0);
        } else {
            if (out->len)
                mi_buf_addch(out, '/');
            mi_buf_add(out, p, len);
        }
        p += len;
        if (*p == '/')
            p++;
    }
    return 0;
}

int mi_path_normalize(char **out, const char *path)
{
    *out = NULL;
    int rc = check_chars(path);
    if (rc)
        return rc;
    if (path[0] == '/')
        return mi_error_set(MI_EUSAGE,
                            "path '%s' is absolute; paths are relative to the "
                            "repository root",
                            path);
    mi_buf b = MI_BUF_INIT;
    rc = append_components(&b, path, path);
    if (rc) {
        mi_buf_release(&b);
        return rc;
    }
    *out = mi_buf_detach(&b);
    return 0;
}

int mi_path_resolve(char **out, const char *dir, const char *rel)
{
    *out = NULL;
    int rc = check_chars(rel);
    if (rc)
        return rc;
    if (rel[0] == '/')
        return mi_error_set(MI_EUSAGE, "path '%s' is absolute", rel);
    mi_buf whole = MI_BUF_INIT, b = MI_BUF_INIT;
    mi_buf_addf(&whole, "%s%s%s", dir, *dir ? "/" : "", rel);
    rc = append_components(&b, dir, whole.ptr);
    if (!rc)
        rc = append_components(&b, rel, whole.ptr);
    if (rc)
        mi_buf_release(&b);
    else
        *out = mi_buf_detach(&b);
    mi_buf_release(&whole);
    return rc;
}

int mi_path_under(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    if (n == 0)
        return 1;
    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

int mi_path_has_glob(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}

/* ---------------------------------------------------------------------------------------
 * Globs. A component matcher with the usual single-star backtracking (linear in practice,
 * quadratic at worst), and a table over (pattern component, path component) for '**', so
 * no input can make matching exponential.
 */

/* Matches a bracket expression at p (just after '['); returns the length consumed up to and
 * including ']' and sets *hit, or 0 when the class is unterminated (then '[' is literal). */
static size_t match_class(const char *p, size_t plen, char c, int *hit)
{
    size_t i = 0;
    int negate = 0;
    if (i < plen && (p[i] == '!' || p[i] == '^')) {
        negate = 1;
        i++;
    }
    int found = 0;
    size_t first = i;
    while (i < plen && (p[i] != ']' || i == first)) {
        char lo = p[i];
        if (i + 2 < plen && p[i + 1] == '-' && p[i + 2] != ']') {
            char hi = p[i + 2];
            if (c >= lo && c <= hi)
                found = 1;
            i += 3;
        } else {
            if (c == lo)
                found = 1;
            i++;
        }
    }
    if (i >= plen)
        return 0;
    *hit = found != negate;
    return i + 1;
}

static int match_component(const char *p, size_t plen, const char *s, size_t slen)
{
    size_t pi = 0, si = 0;
    size_t star_p = (size_t)-1, star_s = 0;
    while (si < slen) {
        if (pi < plen && p[pi] == '*') {
            star_p = ++pi;
            star_s = si;
            continue;
        }
        if (pi < plen) {
            if (p[pi] == '?') {
                pi++;
                si++;
                continue;
            }
            if (p[pi] == '[') {
                int hit = 0;
                size_t used = match_class(p + pi + 1, plen - pi - 1, s[si], &hit);
                if (used) {
                    if (hit) {
                        pi += used + 1;
                        si++;
                        continue;
                    }
                } else if (s[si] == '[') {
                    pi++;
                    si++;
                    continue;
                }
            } else if (p[pi] == s[si]) {
                pi++;
                si++;
                continue;
            }
        }
        if (star_p == (size_t)-1)
            return 0;
        pi = star_p;
        si = ++star_s;
    }
    while (pi < plen && p[pi] == '*')
        pi++;
    return pi == plen;
}

struct comp {
    const char *s;
    size_t len;
};

static size_t split(const char *s, struct comp **out)
{
    size_t n = 0, cap = 8;
    struct comp *v = mi_xmalloc(cap * sizeof(*v));
    while (*s) {
        const char *slash = strchr(s, '/');
        size_t len = slash ? (size_t)(slash - s) : strlen(s);
        if (len) {
            if (n == cap) {
                cap *= 2;
                v = mi_xrealloc(v, cap * sizeof(*v));
            }
            v[n].s = s;
            v[n].len = len;
            n++;
        }
        s += len;
        if (*s == '/')
            s++;
    }
    *out = v;
    return n;
}

int mi_path_glob_match(const char *pattern, const char *path)
{
    if (!mi_path_has_glob(pattern)) {
        /* Normalized patterns have no trailing '/', so this is the file-or-directory rule. */
        return mi_path_under(path, pattern);
    }
    struct comp *pc = NULL, *sc = NULL;
    size_t np = split(pattern, &pc), ns = split(path, &sc);
    /* ok[i*(ns+1)+j]: pattern components i.. match a prefix of path components j.. */
    unsigned char *ok = mi_xcalloc((np + 1) * (ns + 1), 1);
    for (size_t j = 0; j <= ns; j++)
        ok[np * (ns + 1) + j] = 1;
    for (size_t i = np; i-- > 0;) {
        int dstar = pc[i].len == 2 && pc[i].s[0] == '*' && pc[i].s[1] == '*';
        for (size_t j = ns + 1; j-- > 0;) {
            unsigned char v;
            if (dstar)
                v = ok[(i + 1) * (ns + 1) + j] || (j < ns && ok[i * (ns + 1) + j + 1]);
            else
                v = j < ns && ok[(i + 1) * (ns + 1) + j + 1] &&
                    match_component(pc[i].s, pc[i].len, sc[j].s, sc[j].len);
            ok[i * (ns + 1) + j] = v;
        }
    }
    int r = ok[0];
    free(ok);
    free(pc);
    free(sc);
    return r;
}

/* ---------------------------------------------------------------------------------------
 * Directory sets.
 */

void mi_path_set_add(struct mi_path_set *set, const char *dir)
{
    if (!*dir) {
        set->all = 1;
        return;
    }
    set->dirs = mi_xrealloc(set->dirs, (set->n + 1) * sizeof(char *));
    set->dirs[set->n++] = mi_xstrdup(dir);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void mi_path_set_sort(struct mi_path_set *set)
{
    if (!set->n)
        return;
    qsort(set->dirs, set->n, sizeof(char *), cmp_str);
    size_t k = 1;
    for (size_t i = 1; i < set->n; i++) {
        if (strcmp(set->dirs[i], set->dirs[k - 1]) == 0)
            free(set->dirs[i]);
        else
            set->dirs[k++] = set->dirs[i];
    }
    set->n = k;
}

void mi_path_set_release(struct mi_path_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        free(set->dirs[i]);
    free(set->dirs);
    set->dirs = NULL;
    set->n = 0;
    set->all = 0;
}

/* First member >= key (len bytes of key). */
static size_t set_lower_bound(const struct mi_path_set *set, const char *key, size_t len)
{
    size_t lo = 0, hi = set->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *m = set->dirs[mid];
        int c = strncmp(m, key, len);
        if (c == 0 && m[len] != '\0')
            c = 1; /* m is longer: it sorts after key */
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int set_has(const struct mi_path_set *set, const char *key, size_t len)
{
    size_t at = set_lower_bound(set, key, len);
    return at < set->n && strncmp(set->dirs[at], key, len) == 0 && set->dirs[at][len] == '\0';
}

int mi_path_set_touches(const struct mi_path_set *set, const char *dir)
{
    if (set->all || !*dir)
        return 1;
    size_t len = strlen(dir);
    /* dir itself or one of its ancestors is a member. */
    for (size_t i = 1; i <= len; i++)
        if ((i == len || dir[i] == '/') && set_has(set, dir, i))
            return 1;
    /* A member lies below dir: the first member after "dir/" starts with it. */
    char *slash = mi_xmalloc(len + 2);
    memcpy(slash, dir, len);
    slash[len] = '/';
    slash[len + 1] = '\0';
    size_t at = set_lower_bound(set, slash, len + 1);
    int below = at < set->n && strncmp(set->dirs[at], slash, len + 1) == 0;
    free(slash);
    return below;
}

char *mi_path_glob_base(const char *pattern)
{
    mi_buf b = MI_BUF_INIT;
    const char *p = pattern;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        int glob = 0;
        for (size_t i = 0; i < len; i++)
            if (p[i] == '*' || p[i] == '?' || p[i] == '[')
                glob = 1;
        if (glob)
            break;
        if (b.len)
            mi_buf_addch(&b, '/');
        mi_buf_add(&b, p, len);
        p += len;
        if (*p == '/')
            p++;
    }
    return mi_buf_detach(&b);
}
