/*
 * plan.c - builds the plan model (plan.h) the way terraform-compliance's TerraformParser
 * does: parse resources, parse the configuration, mount references, add actions and module
 * sources, decode JSON strings, expand tags.
 *
 * The build phase mutates resources (mounting appends to lists, configuration blocks are
 * merged in), so it works on "mnodes": mutable wrappers that start frozen around the parsed
 * values and copy a container only when it is first changed. Shared mnodes stay shared,
 * which reproduces Python's aliasing (a mounted value is the same object wherever it is
 * mounted). At the end every mnode is frozen back into an immutable value.
 */
#include "policy/plan.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/vjson.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/banned.h"

/* ==== small value helpers =============================================================== */

static const mi_value *vget(const mi_value *d, const char *key)
{
    return mi_value_get(d, key);
}

static int v_is_dict(const mi_value *v)
{
    return v && v->kind == MI_V_DICT;
}

static int v_is_list(const mi_value *v)
{
    return v && v->kind == MI_V_LIST;
}

/* d.get(key, {}) for chains of .get(): anything that is not a dict reads as {}. */
static mi_value vget_dict(const mi_value *d, const char *key)
{
    const mi_value *v = vget(d, key);
    return v_is_dict(v) ? *v : mi_v_empty_dict();
}

static int str_eq(const mi_value *v, const char *s)
{
    return v && v->kind == MI_V_STR && v->n == strlen(s) && memcmp(v->u.s, s, v->n) == 0;
}

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int key_ieq(mi_key *k, const char *needle, size_t nlen)
{
    if (MI_KEY_LEN(k) != nlen)
        return 0;
    for (size_t i = 0; i < nlen; i++) {
        unsigned char a = (unsigned char)k[i], b = (unsigned char)needle[i];
        if (a >= 'A' && a <= 'Z')
            a = (unsigned char)(a + 32);
        if (b >= 'A' && b <= 'Z')
            b = (unsigned char)(b + 32);
        if (a != b)
            return 0;
    }
    return 1;
}

/* seek_key_in_dict: every (key, value) whose key equals needle (ASCII case-insensitive),
 * depth first, not descending into a match. Calls fn for each. */
typedef void (*seek_fn)(void *ctx, mi_key *key, const mi_value *v);

static void seek_key(const mi_value *hay, const char *needle, size_t nlen, seek_fn fn, void *ctx,
                     int depth)
{
    if (depth > MI_VJSON_MAX_DEPTH * 2)
        return;
    if (hay->kind == MI_V_DICT) {
        for (uint32_t i = 0; i < hay->n; i++) {
            mi_key *k = hay->u.kv[i].key;
            if (key_ieq(k, needle, nlen))
                fn(ctx, k, &hay->u.kv[i].v);
            else
                seek_key(&hay->u.kv[i].v, needle, nlen, fn, ctx, depth + 1);
        }
    } else if (hay->kind == MI_V_LIST) {
        for (uint32_t i = 0; i < hay->n; i++)
            seek_key(&hay->u.items[i], needle, nlen, fn, ctx, depth + 1);
    }
}

/* ==== jsonify =========================================================================== */

/* flags bit on values produced by the first jsonify pass: nothing below would change in a
 * second pass, so the steps' own recursive_jsonify can return them as they are. */
#define FLAG_STABLE 1

static int same_value(const mi_value *x, const mi_value *y)
{
    return x->kind == y->kind && x->n == y->n && x->u.i == y->u.i;
}

/* mark: set the stable flag on unchanged children in place (only while building the model,
 * which nobody else can see yet). */
static mi_value jsonify(mi_arena *a, const mi_value *v, int depth, int *stable, int mark)
{
    if (depth > MI_VJSON_MAX_DEPTH * 2) {
        *stable = 1;
        return *v;
    }
    if (v->flags & FLAG_STABLE) {
        *stable = 1;
        return *v;
    }
    switch (v->kind) {
    case MI_V_STR: {
        mi_value parsed;
        if (!mi_vjson_try(a, v->u.s, v->n, &parsed)) {
            *stable = 1;
            return *v;
        }
        if (parsed.kind == MI_V_LIST || parsed.kind == MI_V_DICT)
            return jsonify(a, &parsed, depth + 1, stable, mark);
        /* A decoded string may decode again next time: not stable. */
        *stable = parsed.kind != MI_V_STR || !mi_vjson_try(a, parsed.u.s, parsed.n, &(mi_value){0});
        if (*stable)
            parsed.flags |= FLAG_STABLE;
        return parsed;
    }
    case MI_V_LIST: {
        mi_value *items = NULL;
        int all_stable = 1;
        for (uint32_t i = 0; i < v->n; i++) {
            int st;
            mi_value nv = jsonify(a, &v->u.items[i], depth + 1, &st, mark);
            all_stable &= st;
            if (mark && st && same_value(&nv, &v->u.items[i]))
                ((mi_value *)v->u.items)[i].flags |= FLAG_STABLE;
            if (!items && !same_value(&nv, &v->u.items[i])) {
                items = mi_arena_alloc(a, v->n * sizeof(*items));
                memcpy(items, v->u.items, i * sizeof(*items));
            }
            if (items)
                items[i] = nv;
        }
        mi_value out = items ? mi_v_list_of(items, v->n) : *v;
        if (all_stable)
            out.flags |= FLAG_STABLE;
        *stable = all_stable;
        return out;
    }
    case MI_V_DICT: {
        mi_kv *kv = NULL;
        int all_stable = 1;
        for (uint32_t i = 0; i < v->n; i++) {
            int st;
            mi_value nv = jsonify(a, &v->u.kv[i].v, depth + 1, &st, mark);
            all_stable &= st;
            if (mark && st && same_value(&nv, &v->u.kv[i].v))
                ((mi_kv *)v->u.kv)[i].v.flags |= FLAG_STABLE;
            if (!kv && !same_value(&nv, &v->u.kv[i].v)) {
                kv = mi_arena_alloc(a, v->n * sizeof(*kv));
                memcpy(kv, v->u.kv, i * sizeof(*kv));
            }
            if (kv) {
                kv[i].key = v->u.kv[i].key;
                kv[i].v = nv;
            }
        }
        mi_value out = kv ? mi_v_dict_of(kv, v->n) : *v;
        if (all_stable)
            out.flags |= FLAG_STABLE;
        *stable = all_stable;
        return out;
    }
    default:
        *stable = 1;
        return *v;
    }
}

mi_value mi_plan_jsonify(mi_arena *a, const mi_value *v)
{
    int st;
    return jsonify(a, v, 0, &st, 0);
}

/* ==== mutable nodes ===================================================================== */

enum mkind { MN_FROZEN, MN_DICT, MN_LIST };

struct mnode {
    enum mkind kind;
    mi_value frozen;
    mi_key **keys;
    struct mnode **vals;
    size_t n, cap;
    int done;
    mi_value final;
};

struct build {
    mi_plan *p;
    mi_arena tmp; /* mnodes and scratch, released after the build */
    struct mnode **all;
    size_t nall, capall;
};

static struct mnode *mn_new(struct build *b, const mi_value *v)
{
    struct mnode *m = mi_arena_zalloc(&b->tmp, sizeof(*m));
    m->kind = MN_FROZEN;
    m->frozen = v ? *v : mi_v_null();
    if (b->nall == b->capall) {
        b->capall = b->capall ? b->capall * 2 : 1024;
        b->all = mi_xrealloc(b->all, b->capall * sizeof(*b->all));
    }
    b->all[b->nall++] = m;
    return m;
}

static enum mi_vkind mn_kind(const struct mnode *m)
{
    if (m->kind == MN_DICT)
        return MI_V_DICT;
    if (m->kind == MN_LIST)
        return MI_V_LIST;
    return (enum mi_vkind)m->frozen.kind;
}

static void mn_reserve(struct mnode *m, size_t n)
{
    if (n <= m->cap)
        return;
    size_t ncap = m->cap ? m->cap * 2 : 8;
    while (ncap < n)
        ncap *= 2;
    m->vals = mi_xrealloc(m->vals, ncap * sizeof(*m->vals));
    if (m->kind == MN_DICT)
        m->keys = mi_xrealloc(m->keys, ncap * sizeof(*m->keys));
    m->cap = ncap;
}

/* Makes a frozen dict or list mutable; its children become frozen nodes. */
static void mn_thaw(struct build *b, struct mnode *m)
{
    if (m->kind != MN_FROZEN)
        return;
    mi_value v = m->frozen;
    if (v.kind == MI_V_DICT) {
        m->kind = MN_DICT;
        mn_reserve(m, v.n ? v.n : 4);
        for (uint32_t i = 0; i < v.n; i++) {
            m->keys[i] = v.u.kv[i].key;
            m->vals[i] = mn_new(b, &v.u.kv[i].v);
        }
        m->n = v.n;
    } else if (v.kind == MI_V_LIST) {
        m->kind = MN_LIST;
        m->keys = NULL;
        mn_reserve(m, v.n ? v.n : 4);
        for (uint32_t i = 0; i < v.n; i++)
            m->vals[i] = mn_new(b, &v.u.items[i]);
        m->n = v.n;
    }
}

static struct mnode *mn_get(struct build *b, struct mnode *m, const char *key, size_t len)
{
    if (mn_kind(m) != MI_V_DICT)
        return NULL;
    if (m->kind == MN_FROZEN) {
        /* Reading does not need a mutable copy, but callers may mutate what they get:
         * thaw so the child node is the one stored. */
        mn_thaw(b, m);
    }
    for (size_t i = 0; i < m->n; i++)
        if (MI_KEY_LEN(m->keys[i]) == len && memcmp(m->keys[i], key, len) == 0)
            return m->vals[i];
    return NULL;
}

static const mi_value *mn_peek(const struct mnode *m, const char *key)
{
    /* Read-only lookup on a node that may be frozen. */
    if (m->kind == MN_FROZEN)
        return vget(&m->frozen, key);
    return NULL;
}

static void mn_set(struct build *b, struct mnode *m, mi_key *key, struct mnode *child)
{
    mn_thaw(b, m);
    size_t len = MI_KEY_LEN(key);
    for (size_t i = 0; i < m->n; i++) {
        if (MI_KEY_LEN(m->keys[i]) == len && memcmp(m->keys[i], key, len) == 0) {
            m->vals[i] = child;
            return;
        }
    }
    mn_reserve(m, m->n + 1);
    m->keys[m->n] = key;
    m->vals[m->n] = child;
    m->n++;
}

static void mn_set_str(struct build *b, struct mnode *m, const char *key, struct mnode *child)
{
    mn_set(b, m, mi_value_key(&b->p->arena, key, strlen(key)), child);
}

static void mn_append(struct build *b, struct mnode *m, struct mnode *child)
{
    mn_thaw(b, m);
    mn_reserve(m, m->n + 1);
    m->vals[m->n++] = child;
}

static int mn_has(struct build *b, struct mnode *m, const char *key)
{
    return mn_get(b, m, key, strlen(key)) != NULL;
}

static mi_value mn_final(struct build *b, struct mnode *m, int depth)
{
    if (m->kind == MN_FROZEN)
        return m->frozen;
    if (m->done)
        return m->final;
    /* Mark first so a (pathological) cycle cannot recurse forever. */
    m->done = 1;
    m->final = mi_v_null();
    if (depth > MI_VJSON_MAX_DEPTH * 4)
        return m->final;
    mi_arena *a = &b->p->arena;
    if (m->kind == MN_DICT) {
        mi_kv *kv = m->n ? mi_arena_alloc(a, m->n * sizeof(*kv)) : NULL;
        for (size_t i = 0; i < m->n; i++) {
            kv[i].key = m->keys[i];
            kv[i].v = mn_final(b, m->vals[i], depth + 1);
        }
        m->final = mi_v_dict_of(kv, m->n);
    } else {
        mi_value *items = m->n ? mi_arena_alloc(a, m->n * sizeof(*items)) : NULL;
        for (size_t i = 0; i < m->n; i++)
            items[i] = mn_final(b, m->vals[i], depth + 1);
        m->final = mi_v_list_of(items, m->n);
    }
    return m->final;
}

/* Python's a != b between a node and a value. */
static int mn_eq(struct build *b, struct mnode *m, const mi_value *v, int depth)
{
    if (m->kind == MN_FROZEN)
        return mi_value_eq(&m->frozen, v);
    if (depth > MI_VJSON_MAX_DEPTH * 2)
        return 0;
    if (mn_kind(m) != (enum mi_vkind)v->kind || m->n != v->n)
        return 0;
    if (m->kind == MN_LIST) {
        for (size_t i = 0; i < m->n; i++)
            if (!mn_eq(b, m->vals[i], &v->u.items[i], depth + 1))
                return 0;
        return 1;
    }
    for (size_t i = 0; i < m->n; i++) {
        const mi_value *o = mi_value_getn(v, m->keys[i], MI_KEY_LEN(m->keys[i]));
        if (!o || !mn_eq(b, m->vals[i], o, depth + 1))
            return 0;
    }
    return 1;
}

/* helper.merge_dicts(source, target): target's missing keys and extra list elements go
 * into source; matching dicts and lists merge recursively. */
static void merge_dicts(struct build *b, struct mnode *src, const mi_value *tgt, int depth)
{
    if (depth > MI_VJSON_MAX_DEPTH * 2)
        return;
    if (mn_kind(src) == MI_V_LIST && tgt->kind == MI_V_LIST) {
        mn_thaw(b, src);
        for (uint32_t i = 0; i < tgt->n; i++) {
            const mi_value *value = &tgt->u.items[i];
            if (i >= src->n) {
                mn_append(b, src, mn_new(b, value));
            } else if (value->kind == MI_V_DICT && mn_kind(src->vals[i]) == MI_V_DICT) {
                merge_dicts(b, src->vals[i], value, depth + 1);
            } else if (value->kind == MI_V_LIST && mn_kind(src->vals[i]) == MI_V_LIST) {
                merge_dicts(b, src->vals[i], value, depth + 1);
            }
        }
    }
    if (mn_kind(src) == MI_V_DICT && tgt->kind == MI_V_DICT) {
        mn_thaw(b, src);
        for (uint32_t i = 0; i < tgt->n; i++) {
            mi_key *k = tgt->u.kv[i].key;
            const mi_value *value = &tgt->u.kv[i].v;
            struct mnode *have = mn_get(b, src, k, MI_KEY_LEN(k));
            if (!have) {
                mn_set(b, src, k, mn_new(b, value));
            } else if (value->kind == MI_V_DICT && mn_kind(have) == MI_V_DICT) {
                merge_dicts(b, have, value, depth + 1);
            } else if (value->kind == MI_V_LIST && mn_kind(have) == MI_V_LIST) {
                merge_dicts(b, have, value, depth + 1);
            }
        }
    }
}

/* ==== ordered address maps ============================================================== */

struct entry {
    char *addr;        /* arena string */
    size_t addr_len;
    struct mnode *res; /* the resource dict */
    size_t order;
    /* mounting bookkeeping */
    char **mounted_list; /* addresses_list, insertion ordered, deduplicated */
    size_t nmounted, capmounted;
};

struct amap {
    struct entry *e;
    size_t n, cap;
    size_t *slots; /* hash index: entry index + 1 */
    size_t scap;
    size_t *sorted; /* entry indexes sorted by address, for prefix scans */
};

static uint32_t hash_str(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

static void amap_reindex(struct amap *m)
{
    free(m->slots);
    m->scap = 64;
    while (m->scap < m->n * 2 + 2)
        m->scap *= 2;
    m->slots = mi_xcalloc(m->scap, sizeof(*m->slots));
    for (size_t i = 0; i < m->n; i++) {
        size_t h = hash_str(m->e[i].addr, m->e[i].addr_len) & (m->scap - 1);
        while (m->slots[h])
            h = (h + 1) & (m->scap - 1);
        m->slots[h] = i + 1;
    }
}

static struct entry *amap_find(const struct amap *m, const char *addr, size_t len)
{
    if (!m->slots)
        return NULL;
    size_t h = hash_str(addr, len) & (m->scap - 1);
    while (m->slots[h]) {
        struct entry *e = &m->e[m->slots[h] - 1];
        if (e->addr_len == len && memcmp(e->addr, addr, len) == 0)
            return e;
        h = (h + 1) & (m->scap - 1);
    }
    return NULL;
}

/* Python's d[addr] = res: replaces in place or appends. */
static struct entry *amap_set(struct build *b, struct amap *m, const char *addr, size_t len,
                              struct mnode *res)
{
    struct entry *e = amap_find(m, addr, len);
    if (e) {
        e->res = res;
        return e;
    }
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->e = mi_xrealloc(m->e, m->cap * sizeof(*m->e));
    }
    e = &m->e[m->n];
    memset(e, 0, sizeof(*e));
    e->addr = mi_arena_strndup(&b->p->arena, addr, len);
    e->addr_len = len;
    e->res = res;
    e->order = m->n;
    m->n++;
    if (m->n * 2 >= m->scap)
        amap_reindex(m);
    else {
        size_t h = hash_str(addr, len) & (m->scap - 1);
        while (m->slots[h])
            h = (h + 1) & (m->scap - 1);
        m->slots[h] = m->n;
    }
    return e;
}

static struct amap *sort_ctx;

static int cmp_addr(const void *x, const void *y)
{
    const struct entry *a = &sort_ctx->e[*(const size_t *)x];
    const struct entry *b = &sort_ctx->e[*(const size_t *)y];
    return strcmp(a->addr, b->addr);
}

static void amap_sort(struct amap *m)
{
    free(m->sorted);
    m->sorted = mi_xmalloc((m->n ? m->n : 1) * sizeof(*m->sorted));
    for (size_t i = 0; i < m->n; i++)
        m->sorted[i] = i;
    sort_ctx = m;
    qsort(m->sorted, m->n, sizeof(*m->sorted), cmp_addr);
    sort_ctx = NULL;
}

static int cmp_size(const void *x, const void *y)
{
    size_t a = *(const size_t *)x, b = *(const size_t *)y;
    return a < b ? -1 : a > b;
}

/* Indexes (in insertion order) of every address starting with prefix. Caller frees. */
static size_t amap_prefix(const struct amap *m, const char *prefix, size_t **out)
{
    size_t plen = strlen(prefix);
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(m->e[m->sorted[mid]].addr, prefix) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t n = 0, cap = 0;
    size_t *res = NULL;
    for (size_t i = lo; i < m->n && strncmp(m->e[m->sorted[i]].addr, prefix, plen) == 0; i++) {
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            res = mi_xrealloc(res, cap * sizeof(*res));
        }
        res[n++] = m->sorted[i];
    }
    if (n > 1)
        qsort(res, n, sizeof(*res), cmp_size);
    *out = res;
    return n;
}

static void amap_free(struct amap *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->e[i].mounted_list);
    free(m->e);
    free(m->slots);
    free(m->sorted);
    memset(m, 0, sizeof(*m));
}

/* ==== the parser state ================================================================== */

struct tn_group {
    char *key;
    size_t *idx;
    size_t n, cap;
};

struct tfp {
    struct build b;
    mi_plan *p;
    const mi_value *doc;
    struct amap resources, raw, data, config;
    /* type.name -> list of resource indexes, built after the resources are known */
    struct tn_group *tn;
    size_t ntn, tncap;
    size_t *tn_slots;
    size_t tn_scap;
    mi_vdict after_unknown;    /* type -> after_unknown */
    struct mnode **au_nodes;   /* per after_unknown entry, mutable */
    mi_value config_variables, config_providers;
    mi_vdict outputs;
    mi_buf warn;
};

static void warn_line(struct tfp *t, const char *line)
{
    t->p->warnings = mi_xrealloc(t->p->warnings, (t->p->nwarnings + 1) * sizeof(char *));
    t->p->warnings[t->p->nwarnings++] = mi_xstrdup(line);
}

static int is_type_data(const mi_value *res)
{
    /* TerraformParser.is_type(resource, 'data') */
    const mi_value *mode = vget(res, "mode");
    if (mode)
        return str_eq(mode, "data");
    const mi_value *addr = vget(res, "address");
    if (!addr || addr->kind != MI_V_STR)
        return 0;
    return addr->n >= 4 && memcmp(addr->u.s, "data", 4) == 0 && (addr->n == 4 || addr->u.s[4] == '.');
}

/* ---- _parse_resources ------------------------------------------------------------------ */

struct collect {
    const mi_value **v;
    size_t n, cap;
};

static void collect_exact(void *ctx, mi_key *key, const mi_value *v)
{
    /* findings.get('resources', []): only an exactly spelled key yields the list */
    struct collect *c = ctx;
    (void)key;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->v = mi_xrealloc(c->v, c->cap * sizeof(*c->v));
    }
    c->v[c->n++] = v;
}

struct collect_named {
    struct collect c;
    const char *exact;
};

static void collect_if_exact(void *ctx, mi_key *key, const mi_value *v)
{
    struct collect_named *cn = ctx;
    if (strcmp(key, cn->exact) == 0)
        collect_exact(&cn->c, key, v);
}

static void add_resource_obj(struct tfp *t, const mi_value *res)
{
    if (!v_is_dict(res))
        return;
    const mi_value *addr = vget(res, "address");
    if (!addr || addr->kind != MI_V_STR)
        return;
    struct mnode *m = mn_new(&t->b, res);
    if (is_type_data(res))
        amap_set(&t->b, &t->data, addr->u.s, addr->n, m);
    else
        amap_set(&t->b, &t->resources, addr->u.s, addr->n, m);
}

static void parse_module_resources(struct tfp *t, const mi_value *root)
{
    struct collect_named cn = {{0}, "resources"};
    seek_key(root, "resources", 9, collect_if_exact, &cn, 0);
    for (size_t i = 0; i < cn.c.n; i++) {
        const mi_value *lst = cn.c.v[i];
        if (!v_is_list(lst))
            continue;
        for (uint32_t j = 0; j < lst->n; j++)
            add_resource_obj(t, &lst->u.items[j]);
    }
    free(cn.c.v);
}

static void remember_after_unknown(struct tfp *t, const mi_value *res, const mi_value *au)
{
    mi_arena *a = &t->p->arena;
    const char *type = "";
    size_t tlen = 0;
    const mi_value *tv = vget(res, "type");
    if (tv && tv->kind == MI_V_STR && tv->n) {
        type = tv->u.s;
        tlen = tv->n;
    } else {
        const mi_value *addr = vget(res, "address");
        if (addr && addr->kind == MI_V_STR && addr->n) {
            const char *dot = memchr(addr->u.s, '.', addr->n);
            type = addr->u.s;
            tlen = dot ? (size_t)(dot - addr->u.s) : addr->n;
        }
    }
    for (size_t i = 0; i < t->after_unknown.n; i++) {
        mi_key *k = t->after_unknown.kv[i].key;
        if (MI_KEY_LEN(k) == tlen && memcmp(k, type, tlen) == 0) {
            struct mnode *have = t->au_nodes[i];
            if (mn_kind(have) != MI_V_DICT || au->kind != MI_V_DICT)
                return;
            for (uint32_t j = 0; j < au->n; j++) {
                mi_key *ak = au->u.kv[j].key;
                if (!mn_get(&t->b, have, ak, MI_KEY_LEN(ak)))
                    mn_set(&t->b, have, ak, mn_new(&t->b, &au->u.kv[j].v));
            }
            return;
        }
    }
    mi_vdict_set(&t->after_unknown, mi_value_key(a, type, tlen), mi_v_null());
    t->au_nodes = mi_xrealloc(t->au_nodes, t->after_unknown.n * sizeof(*t->au_nodes));
    t->au_nodes[t->after_unknown.n - 1] = mn_new(&t->b, au);
}

static void parse_resources(struct tfp *t)
{
    const mi_value *doc = t->doc;
    mi_value pv = vget_dict(doc, "planned_values");
    mi_value root = vget_dict(&pv, "root_module");
    parse_module_resources(t, &root);
    mi_value vals = vget_dict(doc, "values");
    mi_value vroot = vget_dict(&vals, "root_module");
    parse_module_resources(t, &vroot);
    /* prior_state and the state's child_modules pass in terraform-compliance can never
     * yield a resource (they look for keys that cannot hold a 'resources' list). */
    const mi_value *rcs = vget(doc, "resource_changes");
    if (!v_is_list(rcs))
        return;
    mi_arena *a = &t->p->arena;
    for (uint32_t i = 0; i < rcs->n; i++) {
        const mi_value *rc = &rcs->u.items[i];
        if (!v_is_dict(rc))
            continue;
        const mi_value *addr = vget(rc, "address");
        if (!addr || addr->kind != MI_V_STR)
            continue;
        mi_value change = vget_dict(rc, "change");
        const mi_value *actions = vget(&change, "actions");
        if (v_is_list(actions) && actions->n == 1 && str_eq(&actions->u.items[0], "delete"))
            continue;
        const mi_value *after = vget(&change, "after");
        mi_value values = after ? *after : mi_v_empty_dict();
        mi_vdict d = MI_VDICT_INIT;
        mi_vdict_from(&d, rc);
        mi_vdict_set_str(&d, a, "values", values);
        mi_vdict_del(&d, "change", 6);
        mi_value res = mi_vdict_finish(&d, a);
        const mi_value *au = vget(&change, "after_unknown");
        mi_value auv = au ? *au : mi_v_empty_dict();
        remember_after_unknown(t, &res, &auv);
        struct mnode *m = mn_new(&t->b, &res);
        if (is_type_data(&res))
            amap_set(&t->b, &t->data, addr->u.s, addr->n, m);
        else
            amap_set(&t->b, &t->resources, addr->u.s, addr->n, m);
    }
}

/* ---- _parse_configurations ------------------------------------------------------------- */

/* remove_constant_values: {"constant_value": X} entries of dicts become X. */
static mi_value remove_constants(mi_arena *a, const mi_value *v, int depth)
{
    if (depth > MI_VJSON_MAX_DEPTH * 2)
        return *v;
    if (v->kind == MI_V_DICT) {
        mi_kv *kv = NULL;
        for (uint32_t i = 0; i < v->n; i++) {
            const mi_value *val = &v->u.kv[i].v;
            mi_value nv;
            if (val->kind == MI_V_DICT && val->n == 1 &&
                MI_KEY_LEN(val->u.kv[0].key) == 14 && memcmp(val->u.kv[0].key, "constant_value", 14) == 0)
                nv = val->u.kv[0].v;
            else if (val->kind == MI_V_DICT || val->kind == MI_V_LIST)
                nv = remove_constants(a, val, depth + 1);
            else
                nv = *val;
            if (!kv && memcmp(&nv, val, sizeof(nv)) != 0) {
                kv = mi_arena_alloc(a, v->n * sizeof(*kv));
                memcpy(kv, v->u.kv, i * sizeof(*kv));
            }
            if (kv) {
                kv[i].key = v->u.kv[i].key;
                kv[i].v = nv;
            }
        }
        return kv ? mi_v_dict_of(kv, v->n) : *v;
    }
    if (v->kind == MI_V_LIST) {
        mi_value *items = NULL;
        for (uint32_t i = 0; i < v->n; i++) {
            mi_value nv = remove_constants(a, &v->u.items[i], depth + 1);
            if (!items && memcmp(&nv, &v->u.items[i], sizeof(nv)) != 0) {
                items = mi_arena_alloc(a, v->n * sizeof(*items));
                memcpy(items, v->u.items, i * sizeof(*items));
            }
            if (items)
                items[i] = nv;
        }
        return items ? mi_v_list_of(items, v->n) : *v;
    }
    return *v;
}

static void process_module_calls(struct tfp *t, const mi_value *calls, const char *parent,
                                 mi_vlist *out, int depth)
{
    if (!v_is_dict(calls) || depth > 64)
        return;
    mi_arena *a = &t->p->arena;
    for (uint32_t i = 0; i < calls->n; i++) {
        mi_key *k = calls->u.kv[i].key;
        const mi_value *v = &calls->u.kv[i].v;
        char *name = parent ? mi_arena_printf(a, "%s.module.%s", parent, k)
                            : mi_arena_printf(a, "module.%s", k);
        const mi_value *src = vget(v, "source");
        mi_value source = src ? *src : mi_v_str_static("", 0);
        mi_value module = vget_dict(v, "module");
        const mi_value *res = vget(&module, "resources");
        if (res) {
            if (v_is_list(res)) {
                for (uint32_t j = 0; j < res->n; j++) {
                    const mi_value *r = &res->u.items[j];
                    if (!v_is_dict(r))
                        continue;
                    const mi_value *addr = vget(r, "address");
                    mi_vdict d = MI_VDICT_INIT;
                    mi_vdict_from(&d, r);
                    mi_buf nb = MI_BUF_INIT;
                    mi_buf_addf(&nb, "%s.", name);
                    if (addr)
                        mi_value_str(&nb, addr);
                    mi_vdict_set_str(&d, a, "address", mi_v_str(a, nb.ptr, nb.len));
                    mi_buf_release(&nb);
                    mi_vdict_set_str(&d, a, "source", source);
                    mi_vlist_push(out, mi_vdict_finish(&d, a));
                }
            }
        }
        const mi_value *mc = vget(&module, "module_calls");
        if (mc)
            process_module_calls(t, mc, name, out, depth + 1);
    }
}

struct last_found {
    const mi_value *v;
    const char *exact;
    int exact_key;
};

static void collect_last(void *ctx, mi_key *key, const mi_value *v)
{
    struct last_found *lf = ctx;
    lf->v = v;
    lf->exact_key = strcmp(key, lf->exact) == 0;
}

static void output_from(struct tfp *t, mi_key *key, const mi_value *value)
{
    mi_arena *a = &t->p->arena;
    mi_vdict o = MI_VDICT_INIT;
    mi_vdict_set_str(&o, a, "address", mi_v_str_static(key, MI_KEY_LEN(key)));
    mi_value outv = mi_v_empty_dict();
    int has_type = 0;
    mi_value typev = mi_v_null();
    if (v_is_dict(value)) {
        const mi_value *expr = vget(value, "expression");
        if (v_is_dict(expr)) {
            const mi_value *refs = vget(expr, "references");
            const mi_value *cv = vget(expr, "constant_value");
            if (refs) {
                outv = *refs;
                has_type = 1;
                typev = mi_v_str_static("object", 6);
            } else if (cv) {
                outv = *cv;
            }
        }
    }
    mi_vdict_set_str(&o, a, "value", outv);
    if (has_type)
        mi_vdict_set_str(&o, a, "type", typev);
    const mi_value *sens = v_is_dict(value) ? vget(value, "sensitive") : NULL;
    if (sens) {
        mi_buf sb = MI_BUF_INIT;
        mi_value_str(&sb, sens);
        for (size_t i = 0; i < sb.len; i++)
            if (sb.ptr[i] >= 'A' && sb.ptr[i] <= 'Z')
                sb.ptr[i] = (char)(sb.ptr[i] + 32);
        mi_vdict_set_str(&o, a, "sensitive", mi_v_str(a, sb.ptr, sb.len));
        mi_buf_release(&sb);
    } else {
        mi_vdict_set_str(&o, a, "sensitive", mi_v_str_static("false", 5));
    }
    const mi_value *tp = v_is_dict(value) ? vget(value, "type") : NULL;
    if (tp) {
        mi_vdict_set_str(&o, a, "type", *tp);
    } else if (!has_type) {
        const char *name = NULL;
        switch (outv.kind) {
        case MI_V_LIST:
            name = "list";
            break;
        case MI_V_DICT:
            name = "map";
            break;
        case MI_V_STR:
            name = "string";
            break;
        case MI_V_INT:
        case MI_V_BOOL: /* Python: isinstance(True, int) */
            name = "integer";
            break;
        default:
            break;
        }
        if (name)
            mi_vdict_set_str(&o, a, "type", mi_v_cstr(a, name));
    }
    mi_value ov = mi_vdict_finish(&o, a);
    mi_vdict_set(&t->outputs, key, ov);
}

static void collect_outputs(void *ctx, mi_key *key, const mi_value *v)
{
    struct tfp *t = ctx;
    if (strcmp(key, "outputs") != 0 || !v_is_dict(v))
        return;
    for (uint32_t i = 0; i < v->n; i++)
        output_from(t, v->u.kv[i].key, &v->u.kv[i].v);
}

static void parse_configurations(struct tfp *t)
{
    mi_arena *a = &t->p->arena;
    mi_value cfg = vget_dict(t->doc, "configuration");
    mi_value root = vget_dict(&cfg, "root_module");
    mi_vlist all = MI_VLIST_INIT;
    const mi_value *res = vget(&root, "resources");
    if (v_is_list(res))
        for (uint32_t i = 0; i < res->n; i++)
            mi_vlist_push(&all, res->u.items[i]);
    const mi_value *mc = vget(&root, "module_calls");
    if (mc)
        process_module_calls(t, mc, NULL, &all, 0);
    for (size_t i = 0; i < all.n; i++) {
        mi_value r = remove_constants(a, &all.items[i], 0);
        if (!v_is_dict(&r))
            continue;
        const mi_value *addr = vget(&r, "address");
        if (!addr || addr->kind != MI_V_STR)
            continue;
        struct mnode *m = mn_new(&t->b, &r);
        if (is_type_data(&r))
            amap_set(&t->b, &t->data, addr->u.s, addr->n, m);
        else
            amap_set(&t->b, &t->config, addr->u.s, addr->n, m);
    }
    mi_vlist_release(&all);
    struct last_found lf = {NULL, "variables", 0};
    seek_key(&root, "variables", 9, collect_last, &lf, 0);
    t->config_variables = (lf.v && lf.exact_key && v_is_dict(lf.v)) ? *lf.v : mi_v_empty_dict();
    struct last_found lp = {NULL, "provider_config", 0};
    seek_key(&cfg, "provider_config", 15, collect_last, &lp, 0);
    t->config_providers = (lp.v && lp.exact_key && v_is_dict(lp.v)) ? *lp.v : mi_v_empty_dict();
    seek_key(&cfg, "outputs", 7, collect_outputs, t, 0);
}

/* ---- _mount_references ----------------------------------------------------------------- */

static void build_type_name_index(struct tfp *t)
{
    /* type + "\0" + name -> resource indexes in order */
    t->tn_scap = 64;
    while (t->tn_scap < t->resources.n * 2 + 2)
        t->tn_scap *= 2;
    t->tn_slots = mi_xcalloc(t->tn_scap, sizeof(*t->tn_slots));
    for (size_t i = 0; i < t->resources.n; i++) {
        struct mnode *r = t->resources.e[i].res;
        const mi_value *ty = mn_peek(r, "type"), *nm = mn_peek(r, "name");
        if (!ty || !nm || ty->kind != MI_V_STR || nm->kind != MI_V_STR)
            continue;
        mi_buf k = MI_BUF_INIT;
        mi_buf_add(&k, ty->u.s, ty->n);
        mi_buf_addch(&k, '.');
        mi_buf_add(&k, nm->u.s, nm->n);
        size_t h = hash_str(k.ptr, k.len) & (t->tn_scap - 1);
        size_t slot = 0;
        while (t->tn_slots[h]) {
            if (strcmp(t->tn[t->tn_slots[h] - 1].key, k.ptr) == 0) {
                slot = t->tn_slots[h];
                break;
            }
            h = (h + 1) & (t->tn_scap - 1);
        }
        if (!slot) {
            if (t->ntn == t->tncap) {
                t->tncap = t->tncap ? t->tncap * 2 : 64;
                t->tn = mi_xrealloc(t->tn, t->tncap * sizeof(*t->tn));
            }
            memset(&t->tn[t->ntn], 0, sizeof(t->tn[0]));
            t->tn[t->ntn].key = mi_buf_detach(&k);
            t->ntn++;
            slot = t->ntn;
            t->tn_slots[h] = slot;
        } else {
            mi_buf_release(&k);
        }
        struct tn_group *g = &t->tn[slot - 1];
        if (g->n == g->cap) {
            g->cap = g->cap ? g->cap * 2 : 4;
            g->idx = mi_xrealloc(g->idx, g->cap * sizeof(*g->idx));
        }
        g->idx[g->n++] = i;
    }
}

/* Resources whose type and name are these (TerraformParser's fallback lookup). */
static size_t by_type_name(struct tfp *t, const char *type, size_t tlen, const char *name,
                           size_t nlen, const size_t **idx)
{
    mi_buf k = MI_BUF_INIT;
    mi_buf_add(&k, type, tlen);
    mi_buf_addch(&k, '.');
    mi_buf_add(&k, name, nlen);
    size_t h = hash_str(k.ptr, k.len) & (t->tn_scap - 1);
    size_t n = 0;
    *idx = NULL;
    while (t->tn_slots[h]) {
        if (strcmp(t->tn[t->tn_slots[h] - 1].key, k.ptr) == 0) {
            *idx = t->tn[t->tn_slots[h] - 1].idx;
            n = t->tn[t->tn_slots[h] - 1].n;
            break;
        }
        h = (h + 1) & (t->tn_scap - 1);
    }
    mi_buf_release(&k);
    return n;
}

/* A list of addresses (entry indexes in the resources map, or foreign strings). */
struct alist {
    char **s; /* addresses (may point at names not in the map) */
    size_t n, cap;
};

static void alist_add(struct alist *l, char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->s = mi_xrealloc(l->s, l->cap * sizeof(*l->s));
    }
    l->s[l->n++] = s;
}

/* helper.strip_iterations: removes every "[...]" group's text (as the Python does, by
 * replacing each captured "x]" substring). */
static char *strip_iterations(const char *addr)
{
    mi_buf caps = MI_BUF_INIT; /* captured pieces separated by \0 */
    size_t ncap = 0;
    int flag = 0;
    mi_buf cur = MI_BUF_INIT;
    for (const char *p = addr; *p; p++) {
        if (*p == '[') {
            flag = 1;
            mi_buf_reset(&cur);
        } else if (*p == ']') {
            flag = 0;
            mi_buf_add(&caps, cur.ptr, cur.len);
            mi_buf_addch(&caps, ']');
            mi_buf_addch(&caps, '\0');
            ncap++;
        }
        if (flag)
            mi_buf_addch(&cur, *p);
    }
    char *res = mi_xstrdup(addr);
    const char *c = caps.ptr;
    for (size_t i = 0; i < ncap; i++) {
        size_t cl = strlen(c);
        if (cl) {
            /* str.replace(c, ''): every occurrence */
            mi_buf o = MI_BUF_INIT;
            const char *s = res;
            const char *hit;
            while ((hit = strstr(s, c)) != NULL) {
                mi_buf_add(&o, s, (size_t)(hit - s));
                s = hit + cl;
            }
            mi_buf_adds(&o, s);
            free(res);
            res = mi_buf_detach(&o);
        }
        c += cl + 1;
    }
    mi_buf_release(&caps);
    mi_buf_release(&cur);
    return res;
}

static size_t count_char(const char *s, char ch)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == ch;
    return n;
}

/* _find_resource_from_name */
static void find_resource_from_name(struct tfp *t, const char *name, const char *module_addr,
                                    struct alist *out)
{
    struct entry *e = amap_find(&t->resources, name, strlen(name));
    if (e) {
        alist_add(out, e->addr);
        return;
    }
    size_t start_n = out->n;
    if (module_addr) {
        char *full = mi_xasprintf("%s.%s", module_addr, name);
        e = amap_find(&t->resources, full, strlen(full));
        if (e) {
            alist_add(out, e->addr);
            free(full);
            return;
        }
        /* Only keys starting with a module address can match below; a root resource's
         * "module address" is its own address, which no longer address can extend
         * into an iterated module path. */
        size_t *idx = NULL;
        size_t n = amap_prefix(&t->resources, module_addr, &idx);
        char *full_stripped = NULL;
        for (size_t i = 0; i < n; i++) {
            const char *key = t->resources.e[idx[i]].addr;
            if (strchr(key, '[')) {
                if (!full_stripped)
                    full_stripped = strip_iterations(full);
                char *ks = strip_iterations(key);
                if (strcmp(ks, full_stripped) == 0)
                    alist_add(out, t->resources.e[idx[i]].addr);
                free(ks);
            } else if (starts_with(name, "module") && starts_with(key, "module")) {
                alist_add(out, t->resources.e[idx[i]].addr);
            }
        }
        free(idx);
        free(full_stripped);
        free(full);
        if (out->n > start_n)
            return;
    }
    const char *dot = strchr(name, '.');
    if (!dot)
        return; /* Python would fail to unpack; nothing to mount */
    size_t tlen = (size_t)(dot - name);
    const char *id = dot + 1;
    const char *dot2 = strchr(id, '.');
    size_t idlen = dot2 ? (size_t)(dot2 - id) : strlen(id);
    if (tlen == 6 && memcmp(name, "module", 6) == 0) {
        if (!dot2)
            return;
        const char *out_id = dot2 + 1;
        const char *dot3 = strchr(out_id, '.');
        size_t olen = dot3 ? (size_t)(dot3 - out_id) : strlen(out_id);
        mi_value cfg = vget_dict(t->doc, "configuration");
        mi_value root = vget_dict(&cfg, "root_module");
        mi_value calls = vget_dict(&root, "module_calls");
        const mi_value *mod = mi_value_getn(&calls, id, idlen);
        mi_value modv = v_is_dict(mod) ? *mod : mi_v_empty_dict();
        mi_value modm = vget_dict(&modv, "module");
        mi_value outs = vget_dict(&modm, "outputs");
        const mi_value *ov = mi_value_getn(&outs, out_id, olen);
        mi_value outv = v_is_dict(ov) ? *ov : mi_v_empty_dict();
        const mi_value *refs;
        if (vget(&outv, "expression")) {
            mi_value ex = vget_dict(&outv, "expression");
            refs = vget(&ex, "references");
        } else {
            refs = vget(&outv, "value");
        }
        size_t before = out->n;
        if (v_is_list(refs)) {
            for (uint32_t i = 0; i < refs->n; i++) {
                mi_buf rb = MI_BUF_INIT;
                mi_buf_add(&rb, "module.", 7);
                mi_buf_add(&rb, id, idlen);
                mi_buf_addch(&rb, '.');
                mi_value_str(&rb, &refs->u.items[i]);
                alist_add(out, mi_arena_strndup(&t->p->arena, rb.ptr, rb.len));
                mi_buf_release(&rb);
            }
        }
        if (out->n == before) {
            size_t *idx = NULL;
            size_t n = amap_prefix(&t->resources, name, &idx);
            for (size_t i = 0; i < n; i++)
                alist_add(out, t->resources.e[idx[i]].addr);
            free(idx);
        }
        return;
    }
    const size_t *idx;
    size_t n = by_type_name(t, name, tlen, id, idlen, &idx);
    for (size_t i = 0; i < n; i++)
        alist_add(out, t->resources.e[idx[i]].addr);
}

/* get_most_child_module */
static char *most_child_module(const char *module)
{
    char *copy = mi_xstrdup(module);
    char *cur = NULL;
    char *save = NULL;
    char *prev = NULL;
    for (char *tok = strtok_r(copy, ".", &save); tok; tok = strtok_r(NULL, ".", &save)) {
        if (prev && strcmp(prev, "module") == 0)
            cur = tok;
        prev = tok;
    }
    char *res = mi_xstrdup(cur ? cur : module);
    free(copy);
    return res;
}

static void fetch_resource_by_variable(struct tfp *t, const char *module_addr, const char *var,
                                       struct alist *out)
{
    char *target = most_child_module(module_addr);
    /* variable.replace('var.', '') */
    mi_buf sv = MI_BUF_INIT;
    const char *s = var, *hit;
    while ((hit = strstr(s, "var.")) != NULL) {
        mi_buf_add(&sv, s, (size_t)(hit - s));
        s = hit + 4;
    }
    mi_buf_adds(&sv, s);
    mi_value cfg = vget_dict(t->doc, "configuration");
    mi_value root = vget_dict(&cfg, "root_module");
    mi_value calls = vget_dict(&root, "module_calls");
    mi_value mod = vget_dict(&calls, target);
    mi_value exprs = vget_dict(&mod, "expressions");
    mi_value ex = vget_dict(&exprs, sv.ptr);
    const mi_value *refs = vget(&ex, "references");
    if (v_is_list(refs))
        for (uint32_t i = 0; i < refs->n; i++)
            if (refs->u.items[i].kind == MI_V_STR)
                alist_add(out, (char *)refs->u.items[i].u.s);
    mi_buf_release(&sv);
    free(target);
}

struct refcollect {
    struct collect c;
};

static void collect_any(void *ctx, mi_key *key, const mi_value *v)
{
    struct refcollect *rc = ctx;
    /* seek_key_in_dict returns {key: value}; the caller reads ref.get('references') */
    if (strcmp(key, "references") == 0)
        collect_exact(&rc->c, key, v);
    else {
        static const mi_value none = {0};
        collect_exact(&rc->c, key, &none); /* a finding without the exact key */
    }
}

/* ref_list: parameter -> addresses, in insertion order */
struct reflist {
    mi_key **param;
    struct alist *targets;
    size_t n, cap;
};

static struct alist *reflist_get(struct reflist *r, mi_key *param, int create)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->param[i] == param || strcmp(r->param[i], param) == 0)
            return &r->targets[i];
    if (!create)
        return NULL;
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 8;
        r->param = mi_xrealloc(r->param, r->cap * sizeof(*r->param));
        r->targets = mi_xrealloc(r->targets, r->cap * sizeof(*r->targets));
    }
    r->param[r->n] = param;
    memset(&r->targets[r->n], 0, sizeof(r->targets[0]));
    return &r->targets[r->n++];
}

static void reflist_free(struct reflist *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->targets[i].s);
    free(r->param);
    free(r->targets);
}

/* extract_resource_type_from_address */
static char *type_from_address(const char *addr)
{
    const char *last = strrchr(addr, '.');
    if (!last)
        return mi_xstrdup(addr);
    const char *p = last;
    while (p > addr && p[-1] != '.')
        p--;
    return mi_xstrndup(p, (size_t)(last - p));
}

/* The raw node of a resource, shared by every place it is mounted into. */
static struct mnode *raw_values_node(struct tfp *t, struct entry *raw)
{
    return mn_get(&t->b, raw->res, "values", 6);
}

static void add_mounted_address(struct tfp *t, struct entry *target, char *addr)
{
    for (size_t i = 0; i < target->nmounted; i++)
        if (strcmp(target->mounted_list[i], addr) == 0)
            return;
    (void)t;
    if (target->nmounted == target->capmounted) {
        target->capmounted = target->capmounted ? target->capmounted * 2 : 8;
        target->mounted_list =
            mi_xrealloc(target->mounted_list, target->capmounted * sizeof(char *));
    }
    target->mounted_list[target->nmounted++] = addr;
}

/* _mount_resources(source, {parameter: targets}, ref_type) */
static void mount_resources(struct tfp *t, const struct alist *source, mi_key *param,
                            const struct alist *targets, const char *ref_type)
{
    struct build *b = &t->b;
    mi_arena *a = &t->p->arena;
    for (size_t si = 0; si < source->n; si++) {
        struct entry *src = amap_find(&t->resources, source->s[si], strlen(source->s[si]));
        if (!src || !mn_has(b, src->res, "values"))
            continue;
        struct entry *src_raw = amap_find(&t->raw, src->addr, src->addr_len);
        for (size_t ti = 0; ti < targets->n; ti++) {
            struct entry *tgt = amap_find(&t->resources, targets->s[ti], strlen(targets->s[ti]));
            if (!tgt || !mn_has(b, tgt->res, "values") || !src_raw)
                continue;
            struct mnode *rv = raw_values_node(t, src_raw);
            if (!rv || mn_kind(rv) == MI_V_NULL) {
                char *w = mi_xasprintf("! WARNING (mounting): The resource \"%s\" has no values "
                                       "set. This is a terraform provider bug. Its recommended to "
                                       "remove/fix this resource within your state.",
                                       src->addr);
                warn_line(t, w);
                free(w);
                struct mnode *empty = mn_new(b, NULL);
                empty->frozen = mi_v_empty_dict();
                mn_set_str(b, src_raw->res, "values", empty);
                struct mnode *empty2 = mn_new(b, NULL);
                empty2->frozen = mi_v_empty_dict();
                mn_set_str(b, src->res, "values", empty2);
                rv = empty;
            }
            if (mn_kind(rv) == MI_V_DICT) {
                struct mnode *tru = mn_new(b, NULL);
                tru->frozen = mi_v_bool(1);
                mn_set_str(b, rv, MI_PLAN_MOUNTED, tru);
            }
            struct mnode *tres = tgt->res;
            if (!mn_has(b, tres, MI_PLAN_MOUNTED_RESOURCES)) {
                struct mnode *d = mn_new(b, NULL);
                d->frozen = mi_v_empty_dict();
                mn_set_str(b, tres, MI_PLAN_MOUNTED_RESOURCES, d);
            }
            if (!mn_has(b, tres, MI_PLAN_MOUNTED_ADDRESSES)) {
                struct mnode *d = mn_new(b, NULL);
                d->frozen = mi_v_empty_dict();
                mn_set_str(b, tres, MI_PLAN_MOUNTED_ADDRESSES, d);
            }
            struct mnode *tv = mn_get(b, tres, "values", 6);
            if (mn_kind(tv) != MI_V_DICT) {
                /* not values: resources[target]['values'] = dict() */
                tv = mn_new(b, NULL);
                tv->frozen = mi_v_empty_dict();
                mn_set_str(b, tres, "values", tv);
            }
            struct mnode *slot = mn_get(b, tv, ref_type, strlen(ref_type));
            if (!slot) {
                slot = mn_new(b, NULL);
                slot->frozen = mi_v_empty_list();
                mn_set_str(b, tv, ref_type, slot);
            }
            if (mn_kind(slot) == MI_V_LIST) {
                mn_append(b, slot, rv);
            } else {
                /* Python would fail here (append on a non-list); keep the value and the
                 * mounted one side by side instead of giving up on the plan. */
                struct mnode *l = mn_new(b, NULL);
                l->frozen = mi_v_empty_list();
                mn_append(b, l, slot);
                mn_append(b, l, rv);
                mn_set_str(b, tv, ref_type, l);
            }
            struct mnode *mr = mn_get(b, tres, MI_PLAN_MOUNTED_RESOURCES,
                                      strlen(MI_PLAN_MOUNTED_RESOURCES));
            struct mnode *rt = mn_new(b, NULL);
            rt->frozen = mi_v_cstr(a, ref_type);
            mn_set(b, mr, param, rt);
            struct mnode *ma = mn_get(b, tres, MI_PLAN_MOUNTED_ADDRESSES,
                                      strlen(MI_PLAN_MOUNTED_ADDRESSES));
            /* the source list object itself */
            mi_value *items = mi_arena_alloc(a, (source->n ? source->n : 1) * sizeof(*items));
            for (size_t k = 0; k < source->n; k++)
                items[k] = mi_v_cstr(a, source->s[k]);
            struct mnode *sl = mn_new(b, NULL);
            sl->frozen = mi_v_list_of(items, source->n);
            mn_set(b, ma, param, sl);
            for (size_t k = 0; k < source->n; k++)
                add_mounted_address(t, tgt, source->s[k]);
            struct mnode *sv = mn_get(b, src->res, "values", 6);
            if (sv && mn_kind(sv) == MI_V_DICT && !mn_get(b, sv, param, MI_KEY_LEN(param))) {
                struct mnode *addr = mn_new(b, NULL);
                addr->frozen = mi_v_str_static(tgt->addr, tgt->addr_len);
                mn_set(b, sv, param, addr);
            }
        }
    }
}

static const char *invalid_refs[] = {"var.", "each.", "count."};

static int is_invalid_ref(const char *r)
{
    for (size_t i = 0; i < sizeof(invalid_refs) / sizeof(invalid_refs[0]); i++)
        if (starts_with(r, invalid_refs[i]))
            return 1;
    return 0;
}

static void mount_references(struct tfp *t)
{
    struct build *b = &t->b;
    mi_arena *a = &t->p->arena;
    for (size_t ci = 0; ci < t->config.n; ci++) {
        struct entry *ce = &t->config.e[ci];
        const char *resource = ce->addr;
        const mi_value *cr = &ce->res->frozen;
        const mi_value *ctype = vget(cr, "type"), *cname = vget(cr, "name");
        mi_buf rel = MI_BUF_INIT;
        if (ctype)
            mi_value_str(&rel, ctype);
        mi_buf_addch(&rel, '.');
        if (cname)
            mi_value_str(&rel, cname);
        /* current_module_address = address.replace('.' + relative, '') */
        mi_buf cur = MI_BUF_INIT;
        {
            const char *addr = resource;
            mi_buf needle = MI_BUF_INIT;
            mi_buf_addch(&needle, '.');
            mi_buf_add(&needle, rel.ptr, rel.len);
            const char *s = addr, *hit;
            while ((hit = strstr(s, needle.ptr)) != NULL) {
                mi_buf_add(&cur, s, (size_t)(hit - s));
                s = hit + needle.len;
            }
            mi_buf_adds(&cur, s);
            mi_buf_release(&needle);
        }
        const mi_value *exprs = vget(cr, "expressions");
        if (!exprs) {
            mi_buf_release(&rel);
            mi_buf_release(&cur);
            continue;
        }
        struct reflist refs = {0};
        if (v_is_dict(exprs)) {
            for (uint32_t ei = 0; ei < exprs->n; ei++) {
                mi_key *key = exprs->u.kv[ei].key;
                const mi_value *value = &exprs->u.kv[ei].v;
                struct alist valid = {0};
                if (mi_v_is_container(value)) {
                    struct refcollect rc = {{0}};
                    /* seek_key_in_dict(value, 'references'): each finding is {k: v}; only
                     * the last finding with a truthy exact 'references' list counts,
                     * because the loop resets valid_references for every one. */
                    seek_key(value, "references", 10, collect_any, &rc, 0);
                    for (size_t fi = 0; fi < rc.c.n; fi++) {
                        const mi_value *rl = rc.c.v[fi];
                        if (!rl || rl->kind == MI_V_ABSENT || !mi_value_truthy(rl))
                            continue;
                        valid.n = 0;
                        if (!v_is_list(rl))
                            continue;
                        for (uint32_t ri = 0; ri < rl->n; ri++) {
                            const mi_value *r = &rl->u.items[ri];
                            if (r->kind != MI_V_STR)
                                continue;
                            if (starts_with(r->u.s, "var"))
                                fetch_resource_by_variable(t, cur.ptr, r->u.s, &valid);
                            if (!is_invalid_ref(r->u.s))
                                alist_add(&valid, (char *)r->u.s);
                        }
                    }
                    free(rc.c.v);
                }
                for (size_t vi = 0; vi < valid.n; vi++) {
                    const char *ref = valid.s[vi];
                    if (count_char(ref, '.') < 2 && starts_with(ref, "module")) {
                        if (vget(cr, "for_each_expression")) {
                            size_t *idx = NULL;
                            size_t n = amap_prefix(&t->resources, resource, &idx);
                            struct alist assumed = {0};
                            for (size_t k = 0; k < n; k++) {
                                const char *kk = t->resources.e[idx[k]].addr + strlen(resource);
                                const char *d = strchr(kk, '.');
                                size_t kl = d ? (size_t)(d - kk) : strlen(kk);
                                alist_add(&assumed, mi_arena_printf(a, "%s%.*s", ref, (int)kl, kk));
                            }
                            free(idx);
                            struct alist amb = {0};
                            for (size_t r = 0; r < t->resources.n; r++) {
                                for (size_t q = 0; q < assumed.n; q++) {
                                    if (starts_with(t->resources.e[r].addr, assumed.s[q])) {
                                        alist_add(reflist_get(&refs, key, 1), t->resources.e[r].addr);
                                        alist_add(&amb, t->resources.e[r].addr);
                                    }
                                }
                            }
                            char *w = mi_xasprintf("! WARNING (mounting): The reference \"%s\" in "
                                                   "resource %s is ambiguous. It will be mounted to "
                                                   "the following resources:",
                                                   ref, resource);
                            warn_line(t, w);
                            free(w);
                            for (size_t q = 0; q < amb.n; q++) {
                                w = mi_xasprintf("%zu. %s", q + 1, amb.s[q]);
                                warn_line(t, w);
                                free(w);
                            }
                            free(assumed.s);
                            free(amb.s);
                        } else {
                            char *w = mi_xasprintf("! WARNING (mounting): The reference \"%s\" in "
                                                   "resource %s is ambiguous. It will not be "
                                                   "mounted.",
                                                   ref, resource);
                            warn_line(t, w);
                            free(w);
                            continue;
                        }
                    } else {
                        find_resource_from_name(t, ref, cur.ptr, reflist_get(&refs, key, 1));
                    }
                }
                free(valid.s);
                /* Synchronise configuration constants into the planned values. */
                struct alist targets = {0};
                struct entry *self = amap_find(&t->resources, resource, strlen(resource));
                if (self) {
                    alist_add(&targets, self->addr);
                } else {
                    size_t *idx = NULL;
                    size_t n = amap_prefix(&t->resources, resource, &idx);
                    for (size_t k = 0; k < n; k++)
                        alist_add(&targets, t->resources.e[idx[k]].addr);
                    free(idx);
                }
                for (size_t k = 0; k < targets.n; k++) {
                    struct entry *tr = amap_find(&t->resources, targets.s[k], strlen(targets.s[k]));
                    struct mnode *vals = tr ? mn_get(b, tr->res, "values", 6) : NULL;
                    if (!vals || mn_kind(vals) == MI_V_NULL || mn_kind(vals) != MI_V_DICT)
                        continue;
                    struct mnode *have = mn_get(b, vals, key, MI_KEY_LEN(key));
                    enum mi_vkind hk = have ? mn_kind(have) : MI_V_NULL;
                    enum mi_vkind vk = (enum mi_vkind)value->kind;
                    int same_type = hk == vk;
                    if (!same_type || !have)
                        continue;
                    if (mn_eq(b, have, value, 0))
                        continue;
                    if (vk == MI_V_LIST || vk == MI_V_DICT)
                        merge_dicts(b, have, value, 0);
                }
                free(targets.s);
            }
        }
        if (refs.n) {
            const mi_value *tv = v_is_dict(exprs) ? vget(exprs, "type") : NULL;
            char *ref_type = NULL;
            int has_refs = tv && ((tv->kind == MI_V_DICT && vget(tv, "references")) ||
                                  (tv->kind == MI_V_STR && strstr(tv->u.s, "references")));
            if (has_refs) {
                const char *d = strchr(resource, '.');
                ref_type = d ? mi_xstrndup(resource, (size_t)(d - resource)) : mi_xstrdup(resource);
            } else if (!tv || !mi_value_truthy(tv)) {
                ref_type = type_from_address(resource);
            } else {
                mi_buf rb = MI_BUF_INIT;
                mi_value_str(&rb, tv);
                ref_type = mi_buf_detach(&rb);
            }
            struct alist src = {0};
            find_resource_from_name(t, resource, NULL, &src);
            if (!src.n)
                find_resource_from_name(t, rel.ptr, cur.ptr, &src);
            for (size_t pi = 0; pi < refs.n; pi++)
                mount_resources(t, &src, refs.param[pi], &refs.targets[pi], ref_type);
            for (size_t pi = 0; pi < refs.n; pi++) {
                for (size_t ti = 0; ti < refs.targets[pi].n; ti++) {
                    char *target = refs.targets[pi].s[ti];
                    char *rt = type_from_address(target);
                    struct alist one = {0};
                    alist_add(&one, target);
                    mount_resources(t, &one, refs.param[pi], &src, rt);
                    free(one.s);
                    free(rt);
                }
            }
            free(src.s);
            free(ref_type);
        }
        reflist_free(&refs);
        mi_buf_release(&rel);
        mi_buf_release(&cur);
    }
}

/* ---- actions, module sources, tags ----------------------------------------------------- */

static void add_action_status(struct tfp *t)
{
    const mi_value *rcs = vget(t->doc, "resource_changes");
    if (!v_is_list(rcs))
        return;
    for (uint32_t i = 0; i < rcs->n; i++) {
        const mi_value *rc = &rcs->u.items[i];
        const mi_value *addr = vget(rc, "address");
        if (!addr || addr->kind != MI_V_STR)
            continue;
        struct entry *e = amap_find(&t->resources, addr->u.s, addr->n);
        if (!e)
            continue;
        mi_value change = vget_dict(rc, "change");
        const mi_value *actions = vget(&change, "actions");
        struct mnode *an = mn_new(&t->b, actions);
        if (!actions)
            an->frozen = mi_v_null();
        mn_set_str(&t->b, e->res, "actions", an);
    }
}

static void add_module_call_source(struct tfp *t)
{
    for (size_t i = 0; i < t->resources.n; i++) {
        struct entry *e = &t->resources.e[i];
        /* '.'.join(word.split('[')[0] for word in address.split('.')) */
        mi_buf fixed = MI_BUF_INIT;
        const char *s = e->addr;
        int first = 1;
        for (;;) {
            const char *dot = strchr(s, '.');
            size_t wl = dot ? (size_t)(dot - s) : strlen(s);
            const char *br = memchr(s, '[', wl);
            if (!first)
                mi_buf_addch(&fixed, '.');
            mi_buf_add(&fixed, s, br ? (size_t)(br - s) : wl);
            first = 0;
            if (!dot)
                break;
            s = dot + 1;
        }
        struct entry *c = amap_find(&t->config, fixed.ptr, fixed.len);
        mi_buf_release(&fixed);
        if (!c)
            continue;
        const mi_value *src = vget(&c->res->frozen, "source");
        if (src)
            mn_set_str(&t->b, e->res, "source", mn_new(&t->b, src));
    }
}

/* _expand_resource_tags: tags given as [{key, value}] also get key: value entries. */
static mi_value expand_tags(mi_arena *a, const mi_value *res)
{
    const mi_value *values = vget(res, "values");
    if (!v_is_dict(values))
        return *res;
    const mi_value *tags = vget(values, "tags");
    if (!v_is_list(tags))
        return *res;
    int changed = 0;
    mi_value *items = mi_arena_alloc(a, (tags->n ? tags->n : 1) * sizeof(*items));
    for (uint32_t i = 0; i < tags->n; i++) {
        const mi_value *tag = &tags->u.items[i];
        items[i] = *tag;
        const mi_value *k = vget(tag, "key"), *v = vget(tag, "value");
        if (!v_is_dict(tag) || !k || !v)
            continue;
        mi_vdict d = MI_VDICT_INIT;
        mi_vdict_from(&d, tag);
        mi_buf kb = MI_BUF_INIT;
        mi_value_str(&kb, k);
        mi_vdict_set(&d, mi_value_key(a, kb.ptr, kb.len), *v);
        mi_buf_release(&kb);
        items[i] = mi_vdict_finish(&d, a);
        changed = 1;
    }
    if (!changed)
        return *res;
    mi_vdict vd = MI_VDICT_INIT;
    mi_vdict_from(&vd, values);
    mi_vdict_set_str(&vd, a, "tags", mi_v_list_of(items, tags->n));
    mi_value nv = mi_vdict_finish(&vd, a);
    mi_vdict rd = MI_VDICT_INIT;
    mi_vdict_from(&rd, res);
    mi_vdict_set_str(&rd, a, "values", nv);
    return mi_vdict_finish(&rd, a);
}

/* ---- assembling the model -------------------------------------------------------------- */

static mi_value finish_map(struct tfp *t, struct amap *m, int jsonify_it, int expand)
{
    mi_arena *a = &t->p->arena;
    mi_kv *kv = m->n ? mi_arena_alloc(a, m->n * sizeof(*kv)) : NULL;
    for (size_t i = 0; i < m->n; i++) {
        struct entry *e = &m->e[i];
        if (e->nmounted) {
            /* addresses_list as an attribute of the resource */
            mi_value *items = mi_arena_alloc(a, e->nmounted * sizeof(*items));
            for (size_t k = 0; k < e->nmounted; k++)
                items[k] = mi_v_cstr(a, e->mounted_list[k]);
            struct mnode *l = mn_new(&t->b, NULL);
            l->frozen = mi_v_list_of(items, e->nmounted);
            mn_set_str(&t->b, e->res, MI_PLAN_MOUNTED_ADDRESS_LIST, l);
        }
        mi_value v = mn_final(&t->b, e->res, 0);
        if (jsonify_it) {
            int st;
            v = jsonify(a, &v, 0, &st, 1);
        }
        if (expand)
            v = expand_tags(a, &v);
        kv[i].key = mi_value_key(a, e->addr, e->addr_len);
        kv[i].v = v;
    }
    return mi_v_dict_of(kv, m->n);
}

static void tfp_release(struct tfp *t)
{
    amap_free(&t->resources);
    amap_free(&t->raw);
    amap_free(&t->data);
    amap_free(&t->config);
    for (size_t i = 0; i < t->ntn; i++) {
        free(t->tn[i].key);
        free(t->tn[i].idx);
    }
    free(t->tn);
    free(t->tn_slots);
    mi_vdict_release(&t->after_unknown);
    free(t->au_nodes);
    mi_vdict_release(&t->outputs);
    for (size_t i = 0; i < t->b.nall; i++) {
        free(t->b.all[i]->keys);
        free(t->b.all[i]->vals);
    }
    free(t->b.all);
    mi_arena_release(&t->b.tmp);
    mi_buf_release(&t->warn);
}

static int build_model(mi_plan *p)
{
    if (p->doc.kind != MI_V_DICT)
        return mi_error_set(MI_ERR, "the plan is not a JSON object (found %s); expected the output "
                                    "of 'terraform show -json'",
                            mi_value_type_name(&p->doc));
    struct tfp t = {0};
    t.p = p;
    t.b.p = p;
    mi_arena_init(&t.b.tmp);
    t.doc = &p->doc;
    mi_arena *a = &p->arena;
    p->is_state = vget(&p->doc, "values") != NULL;
    parse_resources(&t);
    /* resources_raw = deepcopy(resources): separate nodes around the same values */
    for (size_t i = 0; i < t.resources.n; i++) {
        struct entry *e = &t.resources.e[i];
        struct mnode *copy = mn_new(&t.b, &e->res->frozen);
        amap_set(&t.b, &t.raw, e->addr, e->addr_len, copy);
    }
    if (!p->is_state) {
        const mi_value *vars = vget(&p->doc, "variables");
        p->variables = v_is_dict(vars) ? *vars : mi_v_empty_dict();
        parse_configurations(&t);
    } else {
        p->variables = mi_v_empty_dict();
        t.config_variables = mi_v_empty_dict();
        t.config_providers = mi_v_empty_dict();
    }
    amap_reindex(&t.resources);
    amap_sort(&t.resources);
    build_type_name_index(&t);
    mount_references(&t);
    add_action_status(&t);
    add_module_call_source(&t);
    p->resources = finish_map(&t, &t.resources, 1, 1);
    p->resources_raw = finish_map(&t, &t.raw, 1, 0);
    p->data = finish_map(&t, &t.data, 1, 0);
    {
        int st;
        p->variables = jsonify(a, &p->variables, 0, &st, 1);
        p->config_providers = jsonify(a, &t.config_providers, 0, &st, 1);
    }
    p->config_variables = t.config_variables;
    p->config_outputs = mi_vdict_finish(&t.outputs, a);
    mi_kv *kv = t.after_unknown.n ? mi_arena_alloc(a, t.after_unknown.n * sizeof(*kv)) : NULL;
    for (size_t i = 0; i < t.after_unknown.n; i++) {
        int st;
        kv[i].key = t.after_unknown.kv[i].key;
        mi_value v = mn_final(&t.b, t.au_nodes[i], 0);
        kv[i].v = jsonify(a, &v, 0, &st, 1);
    }
    p->after_unknown = mi_v_dict_of(kv, t.after_unknown.n);
    tfp_release(&t);
    return 0;
}

static mi_plan *plan_new(void)
{
    mi_plan *p = mi_xcalloc(1, sizeof(*p));
    mi_arena_init(&p->arena);
    return p;
}

int mi_plan_load_file(mi_plan **out, const char *path)
{
    *out = NULL;
    mi_plan *p = plan_new();
    int rc = mi_vjson_parse_file(&p->arena, path, MI_PLAN_MAX_BYTES, &p->doc);
    if (rc < 0) {
        mi_error_prefix("plan");
        mi_plan_free(p);
        return rc;
    }
    rc = build_model(p);
    if (rc < 0) {
        mi_error_prefix("plan: %s", path);
        mi_plan_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

int mi_plan_load_mem(mi_plan **out, const char *name, const char *data, size_t len)
{
    *out = NULL;
    mi_plan *p = plan_new();
    int rc = mi_vjson_parse_mem(&p->arena, name, data, len, &p->doc);
    if (rc < 0) {
        mi_error_prefix("plan");
        mi_plan_free(p);
        return rc;
    }
    p->source_bytes = len;
    rc = build_model(p);
    if (rc < 0) {
        mi_error_prefix("plan: %s", name);
        mi_plan_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void mi_plan_free(mi_plan *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nwarnings; i++)
        free(p->warnings[i]);
    free(p->warnings);
    mi_arena_release(&p->arena);
    free(p);
}
