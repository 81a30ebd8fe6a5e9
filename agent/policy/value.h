/*
 * value.h - the compact, Python-like values the compliance engine evaluates.
 *
 * terraform-compliance is a Python program: its steps compare, print and search dicts,
 * lists, strings, numbers, booleans and None with Python's rules (True == 1, "It is set
 * to False", "{'a': 1}"). This module gives the engine the same values in C, small enough
 * that a 100 MB plan fits in memory a few times over.
 *
 * Rules:
 *  - Every value lives in an arena (mi_arena). Nothing here is freed one by one: the arena
 *    that holds a value is released as a whole, and a value never outlives its arena.
 *  - Values are immutable once built. Functions that "change" a value return a new one that
 *    shares the unchanged parts, so a plan model can be shared by every scenario.
 *  - A mi_value is 16 bytes and is stored by value inside lists and dicts; strings are
 *    NUL-terminated byte strings (UTF-8) with an explicit length (they may hold NUL).
 *  - Dict keys are length-prefixed strings (mi_value_key); a dict keeps insertion order, as
 *    Python's does. Lookups are linear: dicts in a plan are small. Callers needing an index
 *    over many entries (resources by address) build their own.
 *  - MI_V_ABSENT is the "no value" marker (terraform-compliance's Null): it never appears
 *    inside a list or dict.
 *  - Out of memory aborts (util/buf.h); nothing else here fails.
 */
#ifndef MI_POLICY_VALUE_H
#define MI_POLICY_VALUE_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* ---- arena ---------------------------------------------------------------------------- */

struct mi_arena_chunk;
typedef struct mi_arena {
    struct mi_arena_chunk *head;
    size_t used_total; /* bytes handed out, for statistics */
    size_t chunk_size;
} mi_arena;

#define MI_ARENA_INIT {NULL, 0, 0}

void mi_arena_init(mi_arena *a);
/* Frees every allocation of the arena; it can be used again afterwards. */
void mi_arena_release(mi_arena *a);
/* size bytes aligned to 8, never NULL (aborts on exhaustion). Contents are undefined. */
void *mi_arena_alloc(mi_arena *a, size_t size);
void *mi_arena_zalloc(mi_arena *a, size_t size);
char *mi_arena_strndup(mi_arena *a, const char *s, size_t n);
char *mi_arena_printf(mi_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- values --------------------------------------------------------------------------- */

enum mi_vkind {
    MI_V_ABSENT = 0, /* no value (Python's sentinel Null) */
    MI_V_NULL,       /* JSON null, Python None */
    MI_V_BOOL,
    MI_V_INT,
    MI_V_FLOAT,
    MI_V_STR,
    MI_V_LIST,
    MI_V_DICT,
};

/* Dict keys: the string bytes, NUL-terminated, with the length stored just before them. */
typedef const char mi_key;
#define MI_KEY_LEN(k) (((const uint32_t *)(const void *)(k))[-1])

struct mi_kv;
typedef struct mi_value {
    uint8_t kind;
    uint8_t flags; /* free for the owner of the value (the plan model marks values) */
    uint16_t spare;
    uint32_t n; /* string length, list length, dict entry count */
    union {
        int64_t i; /* MI_V_INT, MI_V_BOOL (0/1) */
        double f;
        const char *s;
        struct mi_value *items;
        struct mi_kv *kv;
    } u;
} mi_value;

typedef struct mi_kv {
    mi_key *key;
    mi_value v;
} mi_kv;

static inline mi_value mi_v_absent(void)
{
    mi_value v = {0};
    return v;
}
mi_value mi_v_null(void);
mi_value mi_v_bool(int b);
mi_value mi_v_int(int64_t i);
mi_value mi_v_float(double f);
/* Copies s into the arena. */
mi_value mi_v_str(mi_arena *a, const char *s, size_t len);
mi_value mi_v_cstr(mi_arena *a, const char *s);
/* Borrows s, which must outlive the value and be NUL-terminated at s[len]. */
mi_value mi_v_str_static(const char *s, size_t len);
/* A list or dict over an array the caller filled (arena memory, not copied). */
mi_value mi_v_list_of(mi_value *items, size_t n);
mi_value mi_v_dict_of(mi_kv *kv, size_t n);
mi_value mi_v_empty_list(void);
mi_value mi_v_empty_dict(void);

/* A dict key with its length prefix (copied into the arena). */
mi_key *mi_value_key(mi_arena *a, const char *s, size_t len);

static inline int mi_v_is(const mi_value *v, enum mi_vkind k)
{
    return v->kind == k;
}
static inline int mi_v_is_str(const mi_value *v)
{
    return v->kind == MI_V_STR;
}
/* bool, int or float: a Python number */
static inline int mi_v_is_num(const mi_value *v)
{
    return v->kind == MI_V_BOOL || v->kind == MI_V_INT || v->kind == MI_V_FLOAT;
}
/* str, bool, int, float: what terraform-compliance calls a simple type */
static inline int mi_v_is_scalar(const mi_value *v)
{
    return v->kind == MI_V_STR || mi_v_is_num(v);
}
static inline int mi_v_is_container(const mi_value *v)
{
    return v->kind == MI_V_LIST || v->kind == MI_V_DICT;
}

/* ---- building lists and dicts --------------------------------------------------------- */

/* A growable list or dict in malloc memory, turned into an arena value by _finish. */
typedef struct mi_vlist {
    mi_value *items;
    size_t n, cap;
} mi_vlist;
#define MI_VLIST_INIT {NULL, 0, 0}
void mi_vlist_push(mi_vlist *l, mi_value v);
/* Copies the items into the arena, releases the builder. */
mi_value mi_vlist_finish(mi_vlist *l, mi_arena *a);
void mi_vlist_release(mi_vlist *l);

typedef struct mi_vdict {
    mi_kv *kv;
    size_t n, cap;
} mi_vdict;
#define MI_VDICT_INIT {NULL, 0, 0}
/* Python's d[key] = v: replaces the value in place if the key exists, appends otherwise. */
void mi_vdict_set(mi_vdict *d, mi_key *key, mi_value v);
void mi_vdict_set_str(mi_vdict *d, mi_arena *a, const char *key, mi_value v);
/* Starts the builder from an existing dict's entries (the dict is not changed). */
void mi_vdict_from(mi_vdict *d, const mi_value *dict);
int mi_vdict_del(mi_vdict *d, const char *key, size_t len);
mi_value mi_vdict_finish(mi_vdict *d, mi_arena *a);
void mi_vdict_release(mi_vdict *d);

/* ---- access --------------------------------------------------------------------------- */

/* d[key] with exact (case-sensitive) key comparison; NULL if d is no dict or lacks key. */
const mi_value *mi_value_get(const mi_value *d, const char *key);
const mi_value *mi_value_getn(const mi_value *d, const char *key, size_t len);
/* The same with ASCII case-insensitive key comparison (terraform-compliance's Match.get). */
const mi_value *mi_value_get_ci(const mi_value *d, const char *key, size_t len, int ci);
/* d[key] as a string or NULL. */
const char *mi_value_get_str(const mi_value *d, const char *key);

/* ---- Python semantics ----------------------------------------------------------------- */

/* Python's bool(v). */
int mi_value_truthy(const mi_value *v);
/* Python's a == b (True == 1 == 1.0, dicts compare without order). */
int mi_value_eq(const mi_value *a, const mi_value *b);
/* Appends Python's str(v): strings as they are, containers as repr. */
void mi_value_str(mi_buf *out, const mi_value *v);
/* Appends Python's repr(v) ('abc', True, None, [1, 'a'], {'k': 'v'}). */
void mi_value_repr(mi_buf *out, const mi_value *v);
/* Appends repr of a Python str with the given bytes. */
void mi_value_repr_str(mi_buf *out, const char *s, size_t len);
/* Python's str(v) as an arena string (the value itself for strings). */
const char *mi_value_to_cstr(mi_arena *a, const mi_value *v, size_t *len_out);
/* Appends Python's repr of a float (shortest round-trip, 1e-05, 1e+16, inf, nan). */
void mi_value_float_repr(mi_buf *out, double f);
/* The kind's Python type name (str, int, dict...). */
const char *mi_value_type_name(const mi_value *v);

/* Deep copy into another arena (to keep a value after its arena is released). */
mi_value mi_value_clone(mi_arena *a, const mi_value *v);

#endif
