/*
 * modules.c - local module graph from `module` blocks, read from a commit's tree.
 *
 * jansson (for *.tf.json): the root is owned by mi_modules_scan_tf_json and decref'd on
 * return; everything under it is borrowed.
 */
#include "context/modules.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "context/path.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/banned.h"

/* ---------------------------------------------------------------------------------------
 * Scanning native syntax. Just enough of HCL's lexical structure to know where we are:
 * comments, quoted strings with templates, heredocs and braces. Only top-level
 * `module <label> { ... source = "<literal>" ... }` matters.
 */

enum tok { T_EOF, T_IDENT, T_STRING, T_LBRACE, T_RBRACE, T_EQ, T_OTHER };

struct lexer {
    const char *p, *end;
    int line;
    mi_buf str;      /* the value of the last T_STRING */
    int str_literal; /* 1 when that string had no template sequence */
    const char *ident;
    size_t ident_len;
};

/* Nested templates ("${ "${ x }" }") deeper than this are skipped as opaque. */
#define MAX_TEMPLATE_DEPTH 32

static void skip_string(struct lexer *lx, int depth, int keep);

/* Skips a template sequence after "${" or "%{" up to its closing '}'. */
static void skip_template(struct lexer *lx, int depth)
{
    int braces = 1;
    while (lx->p < lx->end && braces > 0) {
        char c = *lx->p;
        if (c == '\n') {
            lx->line++;
            lx->p++;
        } else if (c == '"') {
            lx->p++;
            if (depth < MAX_TEMPLATE_DEPTH)
                skip_string(lx, depth + 1, 0);
        } else if (c == '{') {
            braces++;
            lx->p++;
        } else if (c == '}') {
            braces--;
            lx->p++;
        } else {
            lx->p++;
        }
    }
}

/* After the opening quote: up to and including the closing quote. With keep, the value goes
 * to lx->str and lx->str_literal says whether it was a plain literal. */
static void skip_string(struct lexer *lx, int depth, int keep)
{
    while (lx->p < lx->end) {
        char c = *lx->p;
        if (c == '"') {
            lx->p++;
            return;
        }
        if (c == '\n') {
            /* Quoted strings cannot span lines: stop here and let the lexer carry on. */
            return;
        }
        if (c == '\\' && lx->p + 1 < lx->end) {
            char e = lx->p[1];
            if (keep)
                mi_buf_addch(&lx->str, e == 'n' ? '\n' : e == 't' ? '\t' : e);
            lx->p += 2;
            continue;
        }
        if ((c == '$' || c == '%') && lx->p + 2 < lx->end && lx->p[1] == c && lx->p[2] == '{') {
            /* "$${" and "%%{" are the escapes for a literal "${" and "%{". */
            if (keep)
                mi_buf_add(&lx->str, lx->p + 1, 2);
            lx->p += 3;
            continue;
        }
        if ((c == '$' || c == '%') && lx->p + 1 < lx->end && lx->p[1] == '{') {
            lx->p += 2;
            if (keep)
                lx->str_literal = 0;
            skip_template(lx, depth);
            continue;
        }
        if (keep)
            mi_buf_addch(&lx->str, c);
        lx->p++;
    }
}

static int is_ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (unsigned char)c >= 0x80;
}

static int is_ident_char(char c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9') || c == '-';
}

/* Skips a heredoc body after "<<" or "<<-": the marker, then lines until one that holds only
 * the marker (leading white space allowed). */
static void skip_heredoc(struct lexer *lx)
{
    if (lx->p < lx->end && *lx->p == '-')
        lx->p++;
    const char *m = lx->p;
    while (lx->p < lx->end && is_ident_char(*lx->p))
        lx->p++;
    size_t mlen = (size_t)(lx->p - m);
    if (!mlen)
        return;
    while (lx->p < lx->end && *lx->p != '\n')
        lx->p++;
    while (lx->p < lx->end) {
        lx->p++; /* the '\n' */
        lx->line++;
        const char *s = lx->p;
        while (s < lx->end && (*s == ' ' || *s == '\t'))
            s++;
        const char *eol = s;
        while (eol < lx->end && *eol != '\n')
            eol++;
        const char *t = eol;
        while (t > s && (t[-1] == ' ' || t[-1] == '\t' || t[-1] == '\r'))
            t--;
        lx->p = eol;
        if ((size_t)(t - s) == mlen && memcmp(s, m, mlen) == 0)
            return;
    }
}

static enum tok next_token(struct lexer *lx)
{
    while (lx->p < lx->end) {
        char c = *lx->p;
        if (c == '\n') {
            lx->line++;
            lx->p++;
        } else if (c == ' ' || c == '\t' || c == '\r') {
            lx->p++;
        } else if (c == '#' || (c == '/' && lx->p + 1 < lx->end && lx->p[1] == '/')) {
            while (lx->p < lx->end && *lx->p != '\n')
                lx->p++;
        } else if (c == '/' && lx->p + 1 < lx->end && lx->p[1] == '*') {
            lx->p += 2;
            while (lx->p < lx->end && !(*lx->p == '*' && lx->p + 1 < lx->end && lx->p[1] == '/')) {
                if (*lx->p == '\n')
                    lx->line++;
                lx->p++;
            }
            lx->p = lx->p + 2 <= lx->end ? lx->p + 2 : lx->end;
        } else if (c == '"') {
            lx->p++;
            mi_buf_reset(&lx->str);
            lx->str_literal = 1;
            skip_string(lx, 0, 1);
            return T_STRING;
        } else if (c == '<' && lx->p + 1 < lx->end && lx->p[1] == '<') {
            lx->p += 2;
            skip_heredoc(lx);
            return T_OTHER;
        } else if (c == '{') {
            lx->p++;
            return T_LBRACE;
        } else if (c == '}') {
            lx->p++;
            return T_RBRACE;
        } else if (c == '=') {
            lx->p++;
            if (lx->p < lx->end && (*lx->p == '=' || *lx->p == '>')) {
                lx->p++;
                return T_OTHER;
            }
            return T_EQ;
        } else if (is_ident_start(c)) {
            lx->ident = lx->p;
            while (lx->p < lx->end && is_ident_char(*lx->p))
                lx->p++;
            lx->ident_len = (size_t)(lx->p - lx->ident);
            return T_IDENT;
        } else {
            lx->p++;
            return T_OTHER;
        }
    }
    return T_EOF;
}

static int ident_is(const struct lexer *lx, const char *word)
{
    size_t n = strlen(word);
    return lx->ident_len == n && memcmp(lx->ident, word, n) == 0;
}

void mi_modules_scan_tf(const char *text, size_t len, mi_module_source_fn fn, void *ctx)
{
    struct lexer lx = {text, text + len, 1, MI_BUF_INIT, 0, NULL, 0};
    long depth = 0;    /* brace depth */
    int head = 0;      /* top level: 1 after `module`, 2 after its label */
    int in_module = 0; /* inside a module block (its body is depth 1) */
    int attr = 0;      /* in a module body: 1 after `source`, 2 after `=` */
    int attr_line = 0;
    enum tok t;
    while ((t = next_token(&lx)) != T_EOF) {
        if (t == T_LBRACE) {
            if (depth == 0 && head == 2)
                in_module = 1;
            depth++;
            head = 0;
            attr = 0;
            continue;
        }
        if (t == T_RBRACE) {
            if (depth > 0)
                depth--;
            if (depth == 0)
                in_module = 0;
            head = 0;
            attr = 0;
            continue;
        }
        if (depth == 0) {
            if (t == T_IDENT && head == 0 && ident_is(&lx, "module"))
                head = 1;
            else if ((t == T_STRING || t == T_IDENT) && head == 1)
                head = 2;
            else
                head = 0;
            continue;
        }
        if (!in_module || depth != 1)
            continue;
        if (t == T_IDENT && ident_is(&lx, "source")) {
            attr = 1;
            attr_line = lx.line;
        } else if (t == T_EQ && attr == 1) {
            attr = 2;
        } else if (t == T_STRING && attr == 2) {
            if (lx.str_literal && strlen(lx.str.ptr) == lx.str.len)
                fn(ctx, lx.str.ptr, attr_line);
            attr = 0;
        } else {
            attr = 0;
        }
    }
    mi_buf_release(&lx.str);
}

static void scan_json_block(json_t *block, mi_module_source_fn fn, void *ctx)
{
    json_t *src = json_is_object(block) ? json_object_get(block, "source") : NULL;
    if (json_is_string(src) && strlen(json_string_value(src)) == json_string_length(src))
        fn(ctx, json_string_value(src), 0);
}

int mi_modules_scan_tf_json(const char *text, size_t len, mi_module_source_fn fn, void *ctx)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, 0, &jerr);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        return MI_ERR;
    }
    /* "module": {"name": {...}} or {"name": [{...}, ...]}, or a list of such objects. */
    json_t *mods = json_object_get(root, "module");
    json_t *list = json_is_array(mods) ? mods : NULL;
    size_t nlist = list ? json_array_size(list) : 1;
    for (size_t k = 0; k < nlist; k++) {
        json_t *m = list ? json_array_get(list, k) : mods;
        if (!json_is_object(m))
            continue;
        const char *name;
        json_t *body;
        json_object_foreach(m, name, body)
        {
            if (json_is_array(body)) {
                for (size_t i = 0; i < json_array_size(body); i++)
                    scan_json_block(json_array_get(body, i), fn, ctx);
            } else {
                scan_json_block(body, fn, ctx);
            }
        }
    }
    json_decref(root);
    return 0;
}

/* ---------------------------------------------------------------------------------------
 * The graph: one parsed entry per directory, and the trees read on the way, each in a small
 * string-keyed open-addressing hash table.
 */

struct strmap {
    char **keys;
    void **vals;
    size_t cap, count;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static size_t strmap_slot(const struct strmap *m, const char *key)
{
    size_t i = (size_t)(hash_str(key) & (m->cap - 1));
    while (m->keys[i] && strcmp(m->keys[i], key) != 0)
        i = (i + 1) & (m->cap - 1);
    return i;
}

/* The value stored for key; *found says whether there was one (values may be NULL). */
static void *strmap_get(const struct strmap *m, const char *key, int *found)
{
    *found = 0;
    if (!m->cap)
        return NULL;
    size_t i = strmap_slot(m, key);
    *found = m->keys[i] != NULL;
    return m->vals[i];
}

static void strmap_put(struct strmap *m, const char *key, void *val)
{
    if ((m->count + 1) * 10 > m->cap * 7) {
        struct strmap old = *m;
        m->cap = old.cap ? old.cap * 2 : 64;
        m->keys = mi_xcalloc(m->cap, sizeof(char *));
        m->vals = mi_xcalloc(m->cap, sizeof(void *));
        for (size_t i = 0; i < old.cap; i++) {
            if (old.keys[i]) {
                size_t j = strmap_slot(m, old.keys[i]);
                m->keys[j] = old.keys[i];
                m->vals[j] = old.vals[i];
            }
        }
        free(old.keys);
        free(old.vals);
    }
    size_t i = strmap_slot(m, key);
    if (!m->keys[i]) {
        m->keys[i] = mi_xstrdup(key);
        m->count++;
    }
    m->vals[i] = val;
}

struct edge {
    char *target; /* resolved directory */
    char *source; /* as written */
    char *file;
    int line;
};

struct node {
    char *dir;
    int exists;
    struct edge *edges;
    size_t nedges;
    char **warnings;
    size_t nwarnings;
    unsigned stamp; /* traversal that last visited it */
};

struct scanned;
static void scanned_free(struct scanned *sc);

struct mi_module_graph {
    git_repository *repo;
    git_tree *root;
    struct strmap nodes; /* dir -> struct node * */
    struct strmap trees; /* dir -> git_tree *, NULL when the commit has no such directory */
    struct strmap blobs; /* blob id + syntax -> struct scanned * */
    unsigned stamp;
};

static void node_warn(struct node *n, char *msg)
{
    n->warnings = mi_xrealloc(n->warnings, (n->nwarnings + 1) * sizeof(char *));
    n->warnings[n->nwarnings++] = msg;
}

static void node_free(struct node *n)
{
    for (size_t i = 0; i < n->nedges; i++) {
        free(n->edges[i].target);
        free(n->edges[i].source);
        free(n->edges[i].file);
    }
    free(n->edges);
    for (size_t i = 0; i < n->nwarnings; i++)
        free(n->warnings[i]);
    free(n->warnings);
    free(n->dir);
    free(n);
}

void mi_module_graph_free(struct mi_module_graph *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->nodes.cap; i++) {
        if (g->nodes.keys[i]) {
            free(g->nodes.keys[i]);
            node_free(g->nodes.vals[i]);
        }
    }
    for (size_t i = 0; i < g->trees.cap; i++) {
        if (g->trees.keys[i]) {
            free(g->trees.keys[i]);
            git_tree_free(g->trees.vals[i]);
        }
    }
    for (size_t i = 0; i < g->blobs.cap; i++) {
        if (g->blobs.keys[i]) {
            free(g->blobs.keys[i]);
            scanned_free(g->blobs.vals[i]);
        }
    }
    free(g->blobs.keys);
    free(g->blobs.vals);
    free(g->nodes.keys);
    free(g->nodes.vals);
    free(g->trees.keys);
    free(g->trees.vals);
    git_tree_free(g->root);
    free(g);
}

int mi_module_graph_new(struct mi_module_graph **out, git_repository *repo, const git_oid *commit)
{
    *out = NULL;
    git_commit *c = NULL;
    git_tree *t = NULL;
    char hex[GIT_OID_HEXSZ + 1];
    if (git_commit_lookup(&c, repo, commit) < 0 || git_commit_tree(&t, c) < 0) {
        const git_error *e = git_error_last();
        git_commit_free(c);
        return mi_error_set(MI_ERR, "git: reading the tree of %s: %s",
                            git_oid_tostr(hex, sizeof(hex), commit),
                            e && e->message ? e->message : "unknown error");
    }
    git_commit_free(c);
    struct mi_module_graph *g = mi_xcalloc(1, sizeof(*g));
    g->repo = repo;
    g->root = t;
    *out = g;
    return 0;
}

/* The tree of a directory of the commit (borrowed, cached), or NULL when there is none.
 * Parent trees are cached on the way: many environments and modules share their parents
 * ("environments", "modules"), and reading a large parent tree again for each would cost
 * more than everything else. */
static int tree_at(struct mi_module_graph *g, const char *dir, git_tree **out)
{
    *out = NULL;
    if (!*dir) {
        *out = g->root;
        return 0;
    }
    int found;
    git_tree *t = strmap_get(&g->trees, dir, &found);
    if (found) {
        *out = t;
        return 0;
    }
    const char *slash = strrchr(dir, '/');
    char *parent_dir = slash ? mi_xstrndup(dir, (size_t)(slash - dir)) : mi_xstrdup("");
    const char *name = slash ? slash + 1 : dir;
    git_tree *parent = NULL;
    int rc = tree_at(g, parent_dir, &parent);
    free(parent_dir);
    if (rc)
        return rc;
    const git_tree_entry *e = parent ? git_tree_entry_byname(parent, name) : NULL;
    if (e && git_tree_entry_type(e) == GIT_OBJECT_TREE) {
        if (git_tree_lookup(&t, g->repo, git_tree_entry_id(e)) < 0) {
            const git_error *ge = git_error_last();
            return mi_error_set(MI_ERR, "git: reading '%s': %s", dir,
                                ge && ge->message ? ge->message : "unknown error");
        }
    }
    strmap_put(&g->trees, dir, t);
    *out = t;
    return 0;
}

struct parse_ctx {
    struct node *node;
    const char *file; /* repository-relative path of the file being scanned */
};

static void on_source(void *vctx, const char *source, int line)
{
    struct parse_ctx *pc = vctx;
    struct node *n = pc->node;
    /* Terraform takes a source as a local path only when it starts like one. */
    if (strncmp(source, "./", 2) != 0 && strncmp(source, "../", 3) != 0)
        return;
    char *target = NULL;
    if (mi_path_resolve(&target, n->dir, source) < 0) {
        node_warn(n, mi_xasprintf("%s:%d: module source '%s' is outside the repository; not "
                                  "followed",
                                  pc->file, line, source));
        mi_error_clear();
        return;
    }
    n->edges = mi_xrealloc(n->edges, (n->nedges + 1) * sizeof(*n->edges));
    struct edge *e = &n->edges[n->nedges++];
    e->target = target;
    e->source = mi_xstrdup(source);
    e->file = mi_xstrdup(pc->file);
    e->line = line;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* Reads the .tf and .tf.json files of dir (one level, as Terraform does) into n. */
/* What scanning one file's content found: kept per blob id, because environments share
 * boilerplate files (backend.tf, versions.tf, variables.tf) byte for byte, and reading and
 * scanning each copy again was most of the cost of a large graph. */
struct scanned {
    enum { SCAN_OK, SCAN_TOO_BIG, SCAN_BAD_JSON } status;
    char **sources;
    int *lines;
    size_t n;
};

static void collect_source(void *vctx, const char *source, int line)
{
    struct scanned *sc = vctx;
    sc->sources = mi_xrealloc(sc->sources, (sc->n + 1) * sizeof(char *));
    sc->lines = mi_xrealloc(sc->lines, (sc->n + 1) * sizeof(int));
    sc->sources[sc->n] = mi_xstrdup(source);
    sc->lines[sc->n++] = line;
}

static void scanned_free(struct scanned *sc)
{
    if (!sc)
        return;
    for (size_t i = 0; i < sc->n; i++)
        free(sc->sources[i]);
    free(sc->sources);
    free(sc->lines);
    free(sc);
}

static int scan_blob(struct mi_module_graph *g, const git_tree_entry *e, int json, const char *file,
                     struct scanned **out)
{
    char hex[GIT_OID_HEXSZ + 2];
    git_oid_tostr(hex, GIT_OID_HEXSZ + 1, git_tree_entry_id(e));
    /* Native and JSON syntax read the same bytes differently. */
    size_t len = strlen(hex);
    hex[len] = json ? 'j' : 't';
    hex[len + 1] = '\0';
    int found;
    *out = strmap_get(&g->blobs, hex, &found);
    if (found)
        return 0;
    git_blob *blob = NULL;
    if (git_blob_lookup(&blob, g->repo, git_tree_entry_id(e)) < 0) {
        const git_error *ge = git_error_last();
        return mi_error_set(MI_ERR, "git: reading '%s': %s", file,
                            ge && ge->message ? ge->message : "unknown error");
    }
    struct scanned *sc = mi_xcalloc(1, sizeof(*sc));
    const char *text = git_blob_rawcontent(blob);
    size_t size = (size_t)git_blob_rawsize(blob);
    if (size > MI_MODULES_MAX_FILE_BYTES)
        sc->status = SCAN_TOO_BIG;
    else if (json && mi_modules_scan_tf_json(text, size, collect_source, sc) < 0)
        sc->status = SCAN_BAD_JSON;
    else if (!json)
        mi_modules_scan_tf(text, size, collect_source, sc);
    git_blob_free(blob);
    strmap_put(&g->blobs, hex, sc);
    *out = sc;
    return 0;
}

/* Reads the .tf and .tf.json files of dir (one level, as Terraform does) into n. */
static int parse_dir(struct mi_module_graph *g, struct node *n)
{
    git_tree *tree = NULL;
    int rc = tree_at(g, n->dir, &tree);
    if (rc || !tree)
        return rc; /* no such directory: exists stays 0 */
    n->exists = 1;
    size_t count = git_tree_entrycount(tree);
    for (size_t i = 0; i < count && !rc; i++) {
        const git_tree_entry *e = git_tree_entry_byindex(tree, i);
        const char *name = git_tree_entry_name(e);
        int json = ends_with(name, ".tf.json");
        if (!json && !ends_with(name, ".tf"))
            continue;
        git_filemode_t mode = git_tree_entry_filemode(e);
        if (mode != GIT_FILEMODE_BLOB && mode != GIT_FILEMODE_BLOB_EXECUTABLE)
            continue; /* symbolic links are not followed; directories named x.tf are not files */
        char *file = *n->dir ? mi_xasprintf("%s/%s", n->dir, name) : mi_xstrdup(name);
        struct scanned *sc = NULL;
        rc = scan_blob(g, e, json, file, &sc);
        if (!rc && sc->status == SCAN_TOO_BIG)
            node_warn(n, mi_xasprintf("%s: larger than %u bytes; its module blocks were not "
                                      "read",
                                      file, MI_MODULES_MAX_FILE_BYTES));
        if (!rc && sc->status == SCAN_BAD_JSON)
            node_warn(n,
                      mi_xasprintf("%s: not a JSON object; its module blocks were not read", file));
        if (!rc) {
            struct parse_ctx pc = {n, file};
            for (size_t k = 0; k < sc->n; k++)
                on_source(&pc, sc->sources[k], sc->lines[k]);
        }
        free(file);
    }
    return rc;
}

static int get_node(struct mi_module_graph *g, const char *dir, struct node **out)
{
    int found;
    struct node *n = strmap_get(&g->nodes, dir, &found);
    if (found) {
        *out = n;
        return 0;
    }
    n = mi_xcalloc(1, sizeof(*n));
    n->dir = mi_xstrdup(dir);
    int rc = parse_dir(g, n);
    if (rc) {
        node_free(n);
        return rc;
    }
    strmap_put(&g->nodes, dir, n);
    *out = n;
    return 0;
}

void mi_module_list_free(struct mi_module_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].dir);
        free(l->items[i].file);
    }
    free(l->items);
    for (size_t i = 0; i < l->nwarnings; i++)
        free(l->warnings[i]);
    free(l->warnings);
    free(l);
}

static void list_warn(struct mi_module_list *l, char *msg)
{
    l->warnings = mi_xrealloc(l->warnings, (l->nwarnings + 1) * sizeof(char *));
    l->warnings[l->nwarnings++] = msg;
}

static void copy_warnings(struct mi_module_list *l, const struct node *n)
{
    for (size_t i = 0; i < n->nwarnings; i++)
        list_warn(l, mi_xstrdup(n->warnings[i]));
}

int mi_module_graph_for_dir(struct mi_module_list **out, struct mi_module_graph *g, const char *dir)
{
    *out = NULL;
    struct mi_module_list *l = mi_xcalloc(1, sizeof(*l));
    size_t cap = 0;
    struct node *start;
    int rc = get_node(g, dir, &start);
    if (rc)
        goto done;
    g->stamp++;
    start->stamp = g->stamp;
    copy_warnings(l, start);
    /* Breadth first: items double as the queue; item k's edges are expanded in turn. */
    struct node *current = start;
    size_t via = MI_MODULE_DIRECT;
    size_t k = 0;
    for (;;) {
        for (size_t e = 0; e < current->nedges; e++) {
            const struct edge *ed = &current->edges[e];
            struct node *t;
            if ((rc = get_node(g, ed->target, &t)))
                goto done;
            if (t->stamp == g->stamp)
                continue;
            t->stamp = g->stamp;
            if (!t->exists)
                list_warn(l, mi_xasprintf("%s:%d: module source '%s' (%s) is not a directory "
                                          "in the commit",
                                          ed->file, ed->line, ed->source, ed->target));
            copy_warnings(l, t);
            if (l->n == cap) {
                cap = cap ? cap * 2 : 8;
                l->items = mi_xrealloc(l->items, cap * sizeof(*l->items));
            }
            struct mi_module_use *u = &l->items[l->n++];
            u->dir = mi_xstrdup(t->dir);
            u->via = via;
            u->file = mi_xstrdup(ed->file);
            u->line = ed->line;
        }
        if (k >= l->n)
            break;
        int found;
        current = strmap_get(&g->nodes, l->items[k].dir, &found);
        via = k++;
    }
done:
    if (rc)
        mi_module_list_free(l);
    else
        *out = l;
    return rc;
}

int mi_modules_for_env(struct mi_module_list **out, git_repository *repo, const git_oid *commit,
                       const char *env_dir)
{
    *out = NULL;
    struct mi_module_graph *g = NULL;
    int rc = mi_module_graph_new(&g, repo, commit);
    if (!rc)
        rc = mi_module_graph_for_dir(out, g, env_dir);
    mi_module_graph_free(g);
    return rc;
}

size_t mi_module_list_chain(const struct mi_module_list *l, size_t i, const char ***dirs)
{
    size_t n = 0;
    for (size_t k = i; k != MI_MODULE_DIRECT; k = l->items[k].via)
        n++;
    const char **v = mi_xcalloc(n ? n : 1, sizeof(char *));
    size_t pos = n;
    for (size_t k = i; k != MI_MODULE_DIRECT; k = l->items[k].via)
        v[--pos] = l->items[k].dir;
    *dirs = v;
    return n;
}
