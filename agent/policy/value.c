/*
 * value.c - arena, compact values and the Python semantics terraform-compliance relies on:
 * truthiness, ==, str() and repr().
 */
#include "policy/value.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

/* ==== arena ============================================================================= */

struct mi_arena_chunk {
    struct mi_arena_chunk *next;
    size_t size, used;
    /* max_align_t keeps the payload aligned for any value we store. */
    _Alignas(16) unsigned char data[];
};

#define ARENA_MIN_CHUNK (64 * 1024)
#define ARENA_MAX_CHUNK (4 * 1024 * 1024)

void mi_arena_init(mi_arena *a)
{
    a->head = NULL;
    a->used_total = 0;
    a->chunk_size = 0;
}

void mi_arena_release(mi_arena *a)
{
    struct mi_arena_chunk *c = a->head;
    while (c) {
        struct mi_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    mi_arena_init(a);
}

void *mi_arena_alloc(mi_arena *a, size_t size)
{
    size = (size + 7) & ~(size_t)7;
    if (size == 0)
        size = 8;
    struct mi_arena_chunk *c = a->head;
    if (c && c->size - c->used >= size) {
        void *p = c->data + c->used;
        c->used += size;
        a->used_total += size;
        return p;
    }
    /* Chunks grow with the arena so a big plan needs few mallocs, but stay bounded so
     * the unused tail of the last chunk stays small. Big requests get their own chunk,
     * linked behind the current one so the current chunk keeps serving small ones. */
    if (a->chunk_size < ARENA_MIN_CHUNK)
        a->chunk_size = ARENA_MIN_CHUNK;
    else if (a->chunk_size < ARENA_MAX_CHUNK)
        a->chunk_size *= 2;
    if (size > a->chunk_size / 4) {
        struct mi_arena_chunk *big = mi_xmalloc(sizeof(*big) + size);
        big->size = size;
        big->used = size;
        if (c) {
            big->next = c->next;
            c->next = big;
        } else {
            big->next = NULL;
            a->head = big;
        }
        a->used_total += size;
        return big->data;
    }
    struct mi_arena_chunk *n = mi_xmalloc(sizeof(*n) + a->chunk_size);
    n->size = a->chunk_size;
    n->used = size;
    n->next = a->head;
    a->head = n;
    a->used_total += size;
    return n->data;
}

void *mi_arena_zalloc(mi_arena *a, size_t size)
{
    void *p = mi_arena_alloc(a, size);
    memset(p, 0, size);
    return p;
}

char *mi_arena_strndup(mi_arena *a, const char *s, size_t n)
{
    char *p = mi_arena_alloc(a, n + 1);
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *mi_arena_printf(mi_arena *a, const char *fmt, ...)
{
    mi_buf b = MI_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    mi_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    char *p = mi_arena_strndup(a, b.ptr, b.len);
    mi_buf_release(&b);
    return p;
}

/* ==== constructors ====================================================================== */

mi_value mi_v_null(void)
{
    mi_value v = {0};
    v.kind = MI_V_NULL;
    return v;
}

mi_value mi_v_bool(int b)
{
    mi_value v = {0};
    v.kind = MI_V_BOOL;
    v.u.i = b ? 1 : 0;
    return v;
}

mi_value mi_v_int(int64_t i)
{
    mi_value v = {0};
    v.kind = MI_V_INT;
    v.u.i = i;
    return v;
}

mi_value mi_v_float(double f)
{
    mi_value v = {0};
    v.kind = MI_V_FLOAT;
    v.u.f = f;
    return v;
}

mi_value mi_v_str_static(const char *s, size_t len)
{
    mi_value v = {0};
    v.kind = MI_V_STR;
    v.n = (uint32_t)len;
    v.u.s = s;
    return v;
}

mi_value mi_v_str(mi_arena *a, const char *s, size_t len)
{
    return mi_v_str_static(mi_arena_strndup(a, s, len), len);
}

mi_value mi_v_cstr(mi_arena *a, const char *s)
{
    return mi_v_str(a, s, strlen(s));
}

mi_value mi_v_list_of(mi_value *items, size_t n)
{
    mi_value v = {0};
    v.kind = MI_V_LIST;
    v.n = (uint32_t)n;
    v.u.items = items;
    return v;
}

mi_value mi_v_dict_of(mi_kv *kv, size_t n)
{
    mi_value v = {0};
    v.kind = MI_V_DICT;
    v.n = (uint32_t)n;
    v.u.kv = kv;
    return v;
}

mi_value mi_v_empty_list(void)
{
    return mi_v_list_of(NULL, 0);
}

mi_value mi_v_empty_dict(void)
{
    return mi_v_dict_of(NULL, 0);
}

mi_key *mi_value_key(mi_arena *a, const char *s, size_t len)
{
    char *p = mi_arena_alloc(a, sizeof(uint32_t) + len + 1);
    uint32_t l = (uint32_t)len;
    memcpy(p, &l, sizeof(l));
    if (len)
        memcpy(p + sizeof(uint32_t), s, len);
    p[sizeof(uint32_t) + len] = '\0';
    return p + sizeof(uint32_t);
}

/* ==== builders ========================================================================== */

void mi_vlist_push(mi_vlist *l, mi_value v)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->items = mi_xrealloc(l->items, l->cap * sizeof(*l->items));
    }
    l->items[l->n++] = v;
}

mi_value mi_vlist_finish(mi_vlist *l, mi_arena *a)
{
    mi_value *items = NULL;
    if (l->n) {
        items = mi_arena_alloc(a, l->n * sizeof(*items));
        memcpy(items, l->items, l->n * sizeof(*items));
    }
    mi_value v = mi_v_list_of(items, l->n);
    mi_vlist_release(l);
    return v;
}

void mi_vlist_release(mi_vlist *l)
{
    free(l->items);
    l->items = NULL;
    l->n = l->cap = 0;
}

static int key_eq(mi_key *k, const char *s, size_t len)
{
    return MI_KEY_LEN(k) == len && memcmp(k, s, len) == 0;
}

void mi_vdict_set(mi_vdict *d, mi_key *key, mi_value v)
{
    size_t klen = MI_KEY_LEN(key);
    for (size_t i = 0; i < d->n; i++) {
        if (key_eq(d->kv[i].key, key, klen)) {
            d->kv[i].v = v;
            return;
        }
    }
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 8;
        d->kv = mi_xrealloc(d->kv, d->cap * sizeof(*d->kv));
    }
    d->kv[d->n].key = key;
    d->kv[d->n].v = v;
    d->n++;
}

void mi_vdict_set_str(mi_vdict *d, mi_arena *a, const char *key, mi_value v)
{
    mi_vdict_set(d, mi_value_key(a, key, strlen(key)), v);
}

void mi_vdict_from(mi_vdict *d, const mi_value *dict)
{
    d->n = 0;
    if (dict->kind != MI_V_DICT)
        return;
    if (d->cap < dict->n) {
        d->cap = dict->n + 4;
        d->kv = mi_xrealloc(d->kv, d->cap * sizeof(*d->kv));
    }
    if (dict->n)
        memcpy(d->kv, dict->u.kv, dict->n * sizeof(*d->kv));
    d->n = dict->n;
}

int mi_vdict_del(mi_vdict *d, const char *key, size_t len)
{
    for (size_t i = 0; i < d->n; i++) {
        if (key_eq(d->kv[i].key, key, len)) {
            memmove(d->kv + i, d->kv + i + 1, (d->n - i - 1) * sizeof(*d->kv));
            d->n--;
            return 1;
        }
    }
    return 0;
}

mi_value mi_vdict_finish(mi_vdict *d, mi_arena *a)
{
    mi_kv *kv = NULL;
    if (d->n) {
        kv = mi_arena_alloc(a, d->n * sizeof(*kv));
        memcpy(kv, d->kv, d->n * sizeof(*kv));
    }
    mi_value v = mi_v_dict_of(kv, d->n);
    mi_vdict_release(d);
    return v;
}

void mi_vdict_release(mi_vdict *d)
{
    free(d->kv);
    d->kv = NULL;
    d->n = d->cap = 0;
}

/* ==== access ============================================================================ */

const mi_value *mi_value_getn(const mi_value *d, const char *key, size_t len)
{
    if (!d || d->kind != MI_V_DICT)
        return NULL;
    for (uint32_t i = 0; i < d->n; i++)
        if (key_eq(d->u.kv[i].key, key, len))
            return &d->u.kv[i].v;
    return NULL;
}

const mi_value *mi_value_get(const mi_value *d, const char *key)
{
    return mi_value_getn(d, key, strlen(key));
}

static int ascii_ieq(const char *a, const char *b, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x + 32);
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y + 32);
        if (x != y)
            return 0;
    }
    return 1;
}

const mi_value *mi_value_get_ci(const mi_value *d, const char *key, size_t len, int ci)
{
    if (!ci)
        return mi_value_getn(d, key, len);
    if (!d || d->kind != MI_V_DICT)
        return NULL;
    for (uint32_t i = 0; i < d->n; i++) {
        mi_key *k = d->u.kv[i].key;
        if (MI_KEY_LEN(k) == len && ascii_ieq(k, key, len))
            return &d->u.kv[i].v;
    }
    return NULL;
}

const char *mi_value_get_str(const mi_value *d, const char *key)
{
    const mi_value *v = mi_value_get(d, key);
    return v && v->kind == MI_V_STR ? v->u.s : NULL;
}

/* ==== Python semantics ================================================================== */

int mi_value_truthy(const mi_value *v)
{
    switch (v->kind) {
    case MI_V_ABSENT:
        return 1; /* Null is an object, and objects are true */
    case MI_V_NULL:
        return 0;
    case MI_V_BOOL:
    case MI_V_INT:
        return v->u.i != 0;
    case MI_V_FLOAT:
        return v->u.f != 0.0;
    case MI_V_STR:
    case MI_V_LIST:
    case MI_V_DICT:
        return v->n != 0;
    }
    return 0;
}

static int num_eq(const mi_value *a, const mi_value *b)
{
    if (a->kind != MI_V_FLOAT && b->kind != MI_V_FLOAT)
        return a->u.i == b->u.i;
    if (a->kind == MI_V_FLOAT && b->kind == MI_V_FLOAT)
        return a->u.f == b->u.f;
    /* int against float: exact, as Python compares them */
    double f = a->kind == MI_V_FLOAT ? a->u.f : b->u.f;
    int64_t i = a->kind == MI_V_FLOAT ? b->u.i : a->u.i;
    if (!isfinite(f) || f != floor(f) || f < -9.2233720368547758e18 || f >= 9.2233720368547758e18)
        return 0;
    return (int64_t)f == i;
}

int mi_value_eq(const mi_value *a, const mi_value *b)
{
    if (mi_v_is_num(a) && mi_v_is_num(b))
        return num_eq(a, b);
    if (a->kind != b->kind)
        return 0;
    switch (a->kind) {
    case MI_V_ABSENT:
    case MI_V_NULL:
        return 1;
    case MI_V_STR:
        return a->n == b->n && memcmp(a->u.s, b->u.s, a->n) == 0;
    case MI_V_LIST:
        if (a->n != b->n)
            return 0;
        for (uint32_t i = 0; i < a->n; i++)
            if (!mi_value_eq(&a->u.items[i], &b->u.items[i]))
                return 0;
        return 1;
    case MI_V_DICT:
        if (a->n != b->n)
            return 0;
        for (uint32_t i = 0; i < a->n; i++) {
            mi_key *k = a->u.kv[i].key;
            const mi_value *o = mi_value_getn(b, k, MI_KEY_LEN(k));
            if (!o || !mi_value_eq(&a->u.kv[i].v, o))
                return 0;
        }
        return 1;
    default:
        return 0;
    }
}

void mi_value_float_repr(mi_buf *out, double f)
{
    if (isnan(f)) {
        mi_buf_adds(out, "nan");
        return;
    }
    if (isinf(f)) {
        mi_buf_adds(out, f < 0 ? "-inf" : "inf");
        return;
    }
    /* The shortest digits that read back as the same double, as Python's repr does. */
    char digits[40];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(digits, sizeof(digits), "%.*e", prec - 1, f);
        if (strtod(digits, NULL) == f)
            break;
    }
    /* digits is now "[-]d.ddde[+-]XX": take the mantissa digits and the exponent apart. */
    const char *p = digits;
    int neg = 0;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    char mant[24];
    size_t mn = 0;
    for (; *p && *p != 'e'; p++)
        if (*p != '.' && mn < sizeof(mant) - 1)
            mant[mn++] = *p;
    mant[mn] = '\0';
    long exp10 = *p == 'e' ? strtol(p + 1, NULL, 10) : 0;
    while (mn > 1 && mant[mn - 1] == '0')
        mant[--mn] = '\0';
    if (neg)
        mi_buf_addch(out, '-');
    if (exp10 < -4 || exp10 >= 16) {
        mi_buf_addch(out, mant[0]);
        if (mn > 1) {
            mi_buf_addch(out, '.');
            mi_buf_adds(out, mant + 1);
        }
        mi_buf_addf(out, "e%c%02ld", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
        return;
    }
    if (exp10 < 0) {
        mi_buf_adds(out, "0.");
        for (long i = -1; i > exp10; i--)
            mi_buf_addch(out, '0');
        mi_buf_adds(out, mant);
        return;
    }
    /* exp10 >= 0: integer part has exp10+1 digits */
    for (long i = 0; i <= exp10; i++)
        mi_buf_addch(out, (size_t)i < mn ? mant[i] : '0');
    mi_buf_addch(out, '.');
    if ((size_t)exp10 + 1 < mn)
        mi_buf_adds(out, mant + exp10 + 1);
    else
        mi_buf_addch(out, '0');
}

/* Decodes one UTF-8 sequence; returns its length, 0 for an invalid byte. */
static size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t n;
    uint32_t v;
    if ((c & 0xE0) == 0xC0) {
        n = 2;
        v = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3;
        v = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4;
        v = c & 0x07;
    } else {
        return 0;
    }
    if (n > len)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    *cp = v;
    return n;
}

void mi_value_repr_str(mi_buf *out, const char *s, size_t len)
{
    /* Python prefers single quotes, and switches to double quotes when the text holds a
     * single quote but no double quote. */
    int has_sq = memchr(s, '\'', len) != NULL;
    int has_dq = memchr(s, '"', len) != NULL;
    char q = (has_sq && !has_dq) ? '"' : '\'';
    mi_buf_addch(out, q);
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned char c = p[i];
        if (c == (unsigned char)q || c == '\\') {
            mi_buf_addch(out, '\\');
            mi_buf_addch(out, (char)c);
            i++;
        } else if (c == '\n') {
            mi_buf_adds(out, "\\n");
            i++;
        } else if (c == '\r') {
            mi_buf_adds(out, "\\r");
            i++;
        } else if (c == '\t') {
            mi_buf_adds(out, "\\t");
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            mi_buf_addf(out, "\\x%02x", c);
            i++;
        } else if (c < 0x80) {
            mi_buf_addch(out, (char)c);
            i++;
        } else {
            uint32_t cp;
            size_t n = utf8_decode(p + i, len - i, &cp);
            if (n == 0) {
                mi_buf_addf(out, "\\x%02x", c);
                i++;
            } else if (cp < 0xA1 || cp == 0xAD) {
                mi_buf_addf(out, "\\x%02x", (unsigned)cp);
                i += n;
            } else {
                mi_buf_add(out, p + i, n);
                i += n;
            }
        }
    }
    mi_buf_addch(out, q);
}

void mi_value_repr(mi_buf *out, const mi_value *v)
{
    switch (v->kind) {
    case MI_V_ABSENT:
        mi_buf_adds(out, "<class 'terraform_compliance.common.helper.Null'>");
        return;
    case MI_V_NULL:
        mi_buf_adds(out, "None");
        return;
    case MI_V_BOOL:
        mi_buf_adds(out, v->u.i ? "True" : "False");
        return;
    case MI_V_INT:
        mi_buf_addf(out, "%lld", (long long)v->u.i);
        return;
    case MI_V_FLOAT:
        mi_value_float_repr(out, v->u.f);
        return;
    case MI_V_STR:
        mi_value_repr_str(out, v->u.s, v->n);
        return;
    case MI_V_LIST:
        mi_buf_addch(out, '[');
        for (uint32_t i = 0; i < v->n; i++) {
            if (i)
                mi_buf_adds(out, ", ");
            mi_value_repr(out, &v->u.items[i]);
        }
        mi_buf_addch(out, ']');
        return;
    case MI_V_DICT:
        mi_buf_addch(out, '{');
        for (uint32_t i = 0; i < v->n; i++) {
            if (i)
                mi_buf_adds(out, ", ");
            mi_value_repr_str(out, v->u.kv[i].key, MI_KEY_LEN(v->u.kv[i].key));
            mi_buf_adds(out, ": ");
            mi_value_repr(out, &v->u.kv[i].v);
        }
        mi_buf_addch(out, '}');
        return;
    }
}

void mi_value_str(mi_buf *out, const mi_value *v)
{
    if (v->kind == MI_V_STR)
        mi_buf_add(out, v->u.s, v->n);
    else
        mi_value_repr(out, v);
}

const char *mi_value_to_cstr(mi_arena *a, const mi_value *v, size_t *len_out)
{
    if (v->kind == MI_V_STR) {
        if (len_out)
            *len_out = v->n;
        return v->u.s;
    }
    mi_buf b = MI_BUF_INIT;
    mi_value_str(&b, v);
    char *s = mi_arena_strndup(a, b.ptr, b.len);
    if (len_out)
        *len_out = b.len;
    mi_buf_release(&b);
    return s;
}

const char *mi_value_type_name(const mi_value *v)
{
    switch (v->kind) {
    case MI_V_ABSENT:
        return "Null";
    case MI_V_NULL:
        return "NoneType";
    case MI_V_BOOL:
        return "bool";
    case MI_V_INT:
        return "int";
    case MI_V_FLOAT:
        return "float";
    case MI_V_STR:
        return "str";
    case MI_V_LIST:
        return "list";
    case MI_V_DICT:
        return "dict";
    }
    return "object";
}

mi_value mi_value_clone(mi_arena *a, const mi_value *v)
{
    switch (v->kind) {
    case MI_V_STR:
        return mi_v_str(a, v->u.s, v->n);
    case MI_V_LIST: {
        mi_value *items = v->n ? mi_arena_alloc(a, v->n * sizeof(*items)) : NULL;
        for (uint32_t i = 0; i < v->n; i++)
            items[i] = mi_value_clone(a, &v->u.items[i]);
        return mi_v_list_of(items, v->n);
    }
    case MI_V_DICT: {
        mi_kv *kv = v->n ? mi_arena_alloc(a, v->n * sizeof(*kv)) : NULL;
        for (uint32_t i = 0; i < v->n; i++) {
            mi_key *k = v->u.kv[i].key;
            kv[i].key = mi_value_key(a, k, MI_KEY_LEN(k));
            kv[i].v = mi_value_clone(a, &v->u.kv[i].v);
        }
        return mi_v_dict_of(kv, v->n);
    }
    default:
        return *v;
    }
}
