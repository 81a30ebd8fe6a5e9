/*
 * tfsource.c - resource address -> declaring .tf file and line (tfsource.h).
 *
 * The lexer below knows just enough HCL to tell top-level block headers from everything
 * else: it skips strings (with nested ${...} / %{...} templates, which may hold strings of
 * their own), heredocs, comments, and counts braces. At depth 0 it collects a block header
 * (an identifier, then labels, then '{'); at depth 1 inside a `module` block it collects a
 * literal `source = "..."`.
 */
#include "terraform/tfsource.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/banned.h"

/* ---- collected blocks -------------------------------------------------------------------- */

struct collect {
    struct mi_tfsource_block *blocks;
    size_t len, cap;
};

static void collect_add(struct collect *c, char *address, const char *file, int line)
{
    if (c->len == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 32;
        c->blocks = mi_xrealloc(c->blocks, c->cap * sizeof(*c->blocks));
    }
    c->blocks[c->len].address = address;
    c->blocks[c->len].file = mi_xstrdup(file);
    c->blocks[c->len].line = line;
    c->len++;
}

struct module_call {
    char *name;
    char *source; /* literal source, or NULL */
};

struct file_scan {
    const char *file;
    const char *prefix; /* "module.a." or "" */
    struct collect *out;
    int follow_modules; /* collect module calls */
    struct module_call *modules;
    size_t nmodules;
};

/* ---- the lexer ----------------------------------------------------------------------------- */

struct lexer {
    const char *s;
    size_t len, i;
    int line;
};

static int is_ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_ident(char c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9') || c == '-';
}

static void advance(struct lexer *l)
{
    if (l->s[l->i] == '\n')
        l->line++;
    l->i++;
}

static void skip_expr(struct lexer *l, int depth);

/* At the opening quote; leaves i after the closing one (or at the end). A template's
 * content is skipped as an expression, so quotes inside it do not end the string. When lit
 * is not NULL and the string has no template, its raw content is appended to lit. */
static void skip_string(struct lexer *l, int depth, mi_buf *lit, int *templated)
{
    advance(l);
    while (l->i < l->len) {
        char c = l->s[l->i];
        if (c == '\\' && l->i + 1 < l->len) {
            if (lit)
                mi_buf_add(lit, l->s + l->i, 2);
            advance(l);
            advance(l);
            continue;
        }
        if (c == '"') {
            advance(l);
            return;
        }
        if (c == '\n') /* HCL strings do not span lines; resynchronise at the newline */
            return;
        if ((c == '$' || c == '%') && l->i + 1 < l->len && l->s[l->i + 1] == '{') {
            /* "$${" and "%%{" are escapes for a literal "${" / "%{". */
            if (l->i > 0 && l->s[l->i - 1] == c) {
                advance(l);
                continue;
            }
            if (templated)
                *templated = 1;
            advance(l);
            advance(l);
            skip_expr(l, depth + 1);
            continue;
        }
        if (lit)
            mi_buf_addch(lit, c);
        advance(l);
    }
}

/* Skips a heredoc whose "<<" is at i: to the line that holds only its delimiter. */
static void skip_heredoc(struct lexer *l)
{
    size_t j = l->i + 2;
    if (j < l->len && l->s[j] == '-')
        j++;
    size_t start = j;
    while (j < l->len && is_ident(l->s[j]))
        j++;
    size_t dlen = j - start;
    if (dlen == 0) { /* not a heredoc: a "<<" elsewhere */
        advance(l);
        advance(l);
        return;
    }
    const char *delim = l->s + start;
    while (l->i < j)
        advance(l);
    /* Skip the rest of the opening line, then line by line. */
    while (l->i < l->len && l->s[l->i] != '\n')
        advance(l);
    while (l->i < l->len) {
        advance(l); /* the newline */
        size_t k = l->i;
        while (k < l->len && (l->s[k] == ' ' || l->s[k] == '\t'))
            k++;
        size_t e = k;
        while (e < l->len && l->s[e] != '\n' && l->s[e] != '\r')
            e++;
        int done = e - k == dlen && memcmp(l->s + k, delim, dlen) == 0;
        while (l->i < e)
            advance(l);
        if (done)
            return;
        while (l->i < l->len && l->s[l->i] != '\n')
            advance(l);
    }
}

/* Skips a comment at i, if there is one; 1 when it did. */
static int skip_comment(struct lexer *l)
{
    char c = l->s[l->i];
    char n = l->i + 1 < l->len ? l->s[l->i + 1] : '\0';
    if (c == '#' || (c == '/' && n == '/')) {
        while (l->i < l->len && l->s[l->i] != '\n')
            advance(l);
        return 1;
    }
    if (c == '/' && n == '*') {
        advance(l);
        advance(l);
        while (l->i < l->len && !(l->s[l->i] == '*' && l->i + 1 < l->len && l->s[l->i + 1] == '/'))
            advance(l);
        if (l->i < l->len) {
            advance(l);
            advance(l);
        }
        return 1;
    }
    return 0;
}

/* Inside a template's ${...}: skips to the matching '}'. Recursion is bounded: a pathological
 * nesting gives up and lets the caller resynchronise. */
static void skip_expr(struct lexer *l, int depth)
{
    int braces = 0;
    if (depth > 32) {
        while (l->i < l->len && l->s[l->i] != '\n')
            advance(l);
        return;
    }
    while (l->i < l->len) {
        char c = l->s[l->i];
        if (skip_comment(l))
            continue;
        if (c == '"') {
            skip_string(l, depth, NULL, NULL);
            continue;
        }
        if (c == '{')
            braces++;
        if (c == '}') {
            if (braces == 0) {
                advance(l);
                return;
            }
            braces--;
        }
        advance(l);
    }
}

/* ---- block headers --------------------------------------------------------------------- */

#define MAX_TOKENS 4

struct header {
    mi_buf tok[MAX_TOKENS]; /* type and labels */
    int n;
    int line;
    int bad; /* something that is not a label came before '{' */
};

static void header_reset(struct header *h)
{
    for (int i = 0; i < MAX_TOKENS; i++)
        mi_buf_reset(&h->tok[i]);
    h->n = 0;
    h->line = 0;
    h->bad = 0;
}

static void header_push(struct header *h, const char *s, size_t len, int line)
{
    if (h->n == 0)
        h->line = line;
    if (h->n >= MAX_TOKENS) {
        h->bad = 1;
        return;
    }
    mi_buf_add(&h->tok[h->n], s, len);
    h->n++;
}

static void on_block(struct file_scan *fs, struct header *h)
{
    if (h->bad || h->n < 2)
        return;
    const char *kind = h->tok[0].ptr;
    if (strcmp(kind, "resource") == 0 && h->n == 3) {
        collect_add(fs->out, mi_xasprintf("%s%s.%s", fs->prefix, h->tok[1].ptr, h->tok[2].ptr),
                    fs->file, h->line);
    } else if (strcmp(kind, "data") == 0 && h->n == 3) {
        collect_add(fs->out, mi_xasprintf("%sdata.%s.%s", fs->prefix, h->tok[1].ptr, h->tok[2].ptr),
                    fs->file, h->line);
    } else if (strcmp(kind, "module") == 0 && h->n == 2 && fs->follow_modules) {
        fs->modules = mi_xrealloc(fs->modules, (fs->nmodules + 1) * sizeof(*fs->modules));
        fs->modules[fs->nmodules].name = mi_xstrdup(h->tok[1].ptr);
        fs->modules[fs->nmodules].source = NULL;
        fs->nmodules++;
    }
}

static void scan_text(struct file_scan *fs, const char *text, size_t len)
{
    struct lexer l = {text, len, 0, 1};
    struct header h;
    for (int i = 0; i < MAX_TOKENS; i++)
        mi_buf_init(&h.tok[i]);
    header_reset(&h);
    int depth = 0;
    int in_module = 0;   /* the current depth-1 block is a module call */
    int want_source = 0; /* 1: saw `source` at depth 1; 2: and '=' */
    mi_buf lit = MI_BUF_INIT;

    while (l.i < l.len) {
        char c = l.s[l.i];
        if (c == '\n') {
            /* Block headers sit on one line. */
            if (depth == 0 && h.n)
                h.bad = 1;
            want_source = 0;
            advance(&l);
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\r') {
            advance(&l);
            continue;
        }
        if (skip_comment(&l))
            continue;
        if (c == '<' && l.i + 1 < l.len && l.s[l.i + 1] == '<') {
            skip_heredoc(&l);
            if (depth == 0)
                h.bad = 1;
            want_source = 0;
            continue;
        }
        if (c == '"') {
            int line = l.line, templated = 0;
            mi_buf_reset(&lit);
            skip_string(&l, 0, &lit, &templated);
            if (depth == 0) {
                if (templated || h.n == 0)
                    h.bad = 1;
                else
                    header_push(&h, lit.ptr, lit.len, line);
            } else if (depth == 1 && in_module && want_source == 2) {
                if (!templated && fs->nmodules) {
                    struct module_call *m = &fs->modules[fs->nmodules - 1];
                    free(m->source);
                    m->source = mi_xstrdup(lit.ptr);
                }
                want_source = 0;
            } else {
                want_source = 0;
            }
            continue;
        }
        if (is_ident_start(c)) {
            size_t start = l.i;
            int line = l.line;
            while (l.i < l.len && is_ident(l.s[l.i]))
                advance(&l);
            if (depth == 0)
                header_push(&h, l.s + start, l.i - start, line);
            else if (depth == 1 && in_module)
                want_source = l.i - start == 6 && memcmp(l.s + start, "source", 6) == 0 ? 1 : 0;
            continue;
        }
        if (c == '=' && depth == 1 && want_source == 1) {
            want_source = 2;
            advance(&l);
            continue;
        }
        if (c == '{') {
            if (depth == 0) {
                in_module = !h.bad && h.n == 2 && strcmp(h.tok[0].ptr, "module") == 0;
                on_block(fs, &h);
                header_reset(&h);
            }
            depth++;
            want_source = 0;
            advance(&l);
            continue;
        }
        if (c == '}') {
            if (depth > 0)
                depth--;
            if (depth == 0)
                in_module = 0;
            want_source = 0;
            advance(&l);
            continue;
        }
        /* Anything else: at depth 0 it ends any header in progress. */
        if (depth == 0 && h.n)
            h.bad = 1;
        want_source = 0;
        advance(&l);
    }
    for (int i = 0; i < MAX_TOKENS; i++)
        mi_buf_release(&h.tok[i]);
    mi_buf_release(&lit);
}

/* ---- directories ------------------------------------------------------------------------- */

/* Lexically normalizes a path: drops "." steps and folds "x/.."; keeps leading "..". */
static char *normalize(const char *path)
{
    int absolute = path[0] == '/';
    char *copy = mi_xstrdup(path);
    char **steps = mi_xcalloc(strlen(path) + 1, sizeof(*steps));
    size_t n = 0;
    char *save = NULL;
    for (char *t = strtok_r(copy, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (strcmp(t, ".") == 0)
            continue;
        if (strcmp(t, "..") == 0 && n > 0 && strcmp(steps[n - 1], "..") != 0) {
            n--;
            continue;
        }
        if (strcmp(t, "..") == 0 && absolute)
            continue;
        steps[n++] = t;
    }
    mi_buf b = MI_BUF_INIT;
    if (absolute)
        mi_buf_addch(&b, '/');
    for (size_t i = 0; i < n; i++) {
        if (i)
            mi_buf_addch(&b, '/');
        mi_buf_adds(&b, steps[i]);
    }
    if (!b.len)
        mi_buf_addch(&b, '.');
    free(steps);
    free(copy);
    return mi_buf_detach(&b);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

struct visit {
    char **dirs; /* directories on the current module chain (cycle guard) */
    size_t n;
};

static void scan_dir(struct collect *out, const char *dir, const char *prefix, int depth,
                     struct visit *v)
{
    if (depth > MI_TFSOURCE_MAX_DEPTH)
        return;
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->dirs[i], dir) == 0)
            return;
    DIR *d = opendir(dir);
    if (!d)
        return;
    char **names = NULL;
    size_t nn = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len < 4 || strcmp(de->d_name + len - 3, ".tf") != 0 || de->d_name[0] == '.')
            continue;
        names = mi_xrealloc(names, (nn + 1) * sizeof(*names));
        names[nn++] = mi_xstrdup(de->d_name);
    }
    closedir(d);
    if (nn > 1)
        qsort(names, nn, sizeof(*names), cmp_names);

    v->dirs = mi_xrealloc(v->dirs, (v->n + 1) * sizeof(*v->dirs));
    v->dirs[v->n++] = mi_xstrdup(dir);
    for (size_t i = 0; i < nn; i++) {
        char *path = mi_fs_join(dir, names[i]);
        struct stat st;
        mi_buf text = MI_BUF_INIT;
        /* lstat: a symbolic link is not followed, wherever it points. */
        if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= MI_TFSOURCE_MAX_FILE &&
            mi_fs_read_file(&text, path, MI_TFSOURCE_MAX_FILE) == 0) {
            char *file = normalize(path);
            struct file_scan fs = {file, prefix, out, 1, NULL, 0};
            scan_text(&fs, text.ptr, text.len);
            for (size_t m = 0; m < fs.nmodules; m++) {
                const char *src = fs.modules[m].source;
                if (src && (strncmp(src, "./", 2) == 0 || strncmp(src, "../", 3) == 0)) {
                    char *joined = mi_fs_join(dir, src);
                    char *sub = normalize(joined);
                    char *sub_prefix = mi_xasprintf("%smodule.%s.", prefix, fs.modules[m].name);
                    scan_dir(out, sub, sub_prefix, depth + 1, v);
                    free(sub_prefix);
                    free(sub);
                    free(joined);
                }
                free(fs.modules[m].name);
                free(fs.modules[m].source);
            }
            free(fs.modules);
            free(file);
        }
        mi_error_clear();
        mi_buf_release(&text);
        free(path);
        free(names[i]);
    }
    free(names);
    free(v->dirs[--v->n]);
}

static int cmp_block(const void *a, const void *b)
{
    const struct mi_tfsource_block *x = a, *y = b;
    int c = strcmp(x->address, y->address);
    return c ? c : strcmp(x->file, y->file);
}

static void finish(struct mi_tfsource **out, struct collect *c)
{
    if (c->len > 1)
        qsort(c->blocks, c->len, sizeof(*c->blocks), cmp_block);
    struct mi_tfsource *s = mi_xcalloc(1, sizeof(*s));
    s->blocks = c->blocks;
    s->len = c->len;
    *out = s;
}

int mi_tfsource_scan(struct mi_tfsource **out, const char *dir)
{
    *out = NULL;
    DIR *d = opendir(dir);
    if (!d)
        return mi_error_errno(errno == ENOENT ? MI_ENOTFOUND : MI_ERR,
                              "cannot read the configuration directory '%s'", dir);
    closedir(d);
    struct collect c = {0};
    struct visit v = {0};
    char *root = normalize(dir);
    scan_dir(&c, root, "", 0, &v);
    free(root);
    free(v.dirs);
    finish(out, &c);
    return 0;
}

void mi_tfsource_scan_text(struct mi_tfsource **out, const char *text, size_t len, const char *file)
{
    struct collect c = {0};
    struct file_scan fs = {file, "", &c, 0, NULL, 0};
    scan_text(&fs, text, len);
    finish(out, &c);
}

/* ---- lookups ------------------------------------------------------------------------------- */

/* The address without instance keys. */
static char *strip_keys(const char *a)
{
    mi_buf b = MI_BUF_INIT;
    for (size_t i = 0; a[i];) {
        if (a[i] != '[') {
            mi_buf_addch(&b, a[i++]);
            continue;
        }
        i++;
        if (a[i] == '"') {
            i++;
            while (a[i] && a[i] != '"')
                i += a[i] == '\\' && a[i + 1] ? 2 : 1;
            if (a[i])
                i++;
        }
        while (a[i] && a[i] != ']')
            i++;
        if (a[i])
            i++;
    }
    return mi_buf_detach(&b);
}

const struct mi_tfsource_block *mi_tfsource_find(const struct mi_tfsource *s, const char *address)
{
    if (!s || !address || !s->len)
        return NULL;
    char *key = strip_keys(address);
    size_t lo = 0, hi = s->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(s->blocks[mid].address, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    const struct mi_tfsource_block *b =
        lo < s->len && strcmp(s->blocks[lo].address, key) == 0 ? &s->blocks[lo] : NULL;
    free(key);
    return b;
}

void mi_tfsource_free(struct mi_tfsource *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->len; i++) {
        free(s->blocks[i].address);
        free(s->blocks[i].file);
    }
    free(s->blocks);
    free(s);
}
