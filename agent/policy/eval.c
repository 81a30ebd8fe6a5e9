/*
 * eval.c - runs a loaded policy set against a plan model: radish's scenario runner (step
 * states, skips, early exit, backgrounds, preconditions, outlines), terraform-compliance's
 * hooks (tags, in-step variables, resource exclusion), its Error() and skip_step(), the
 * Python operations the steps need, and the results of policy.h.
 */
#include "policy/eval.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/vjson.h"
#include "util/error.h"
#include "util/banned.h"

/* ==== exceptions, Error(), skip_step() ================================================== */

static char *vfmt(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
static char *vfmt(const char *fmt, va_list ap)
{
    mi_buf b = MI_BUF_INIT;
    mi_buf_vaddf(&b, fmt, ap);
    return mi_buf_detach(&b);
}

int ev_raise(struct ev *ev, const char *name, const char *fmt, ...)
{
    if (ev->raised)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    char *msg = vfmt(fmt, ap);
    va_end(ap);
    ev->raised = 1;
    free(ev->exc_name);
    free(ev->exc_msg);
    ev->exc_name = mi_xstrdup(name);
    ev->exc_msg = msg;
    return -1;
}

static void push_event(struct ev_event **arr, size_t *n, size_t *cap,
                       enum mi_policy_event_kind kind, const char *header, const char *text)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 4;
        *arr = mi_xrealloc(*arr, *cap * sizeof(**arr));
    }
    struct ev_event *e = &(*arr)[(*n)++];
    e->kind = kind;
    e->header = mi_xstrdup(header ? header : "");
    e->text = mi_xstrdup(text ? text : "");
}

void ev_event(struct ev *ev, enum mi_policy_event_kind kind, const char *header, const char *text)
{
    struct ev_step *s = ev->cur;
    if (!s)
        return;
    push_event(&s->events, &s->nevents, &s->capevents, kind, header, text);
}

static void record_failure(struct ev *ev, const char *msg, const char *address,
                           const mi_value *value, int warning)
{
    if (ev->nfailures == ev->capfailures) {
        ev->capfailures = ev->capfailures ? ev->capfailures * 2 : 4;
        ev->failures = mi_xrealloc(ev->failures, ev->capfailures * sizeof(*ev->failures));
    }
    struct ev_failure *f = &ev->failures[ev->nfailures++];
    f->message = mi_xstrdup(msg);
    f->address = address ? mi_xstrdup(address) : NULL;
    f->value = NULL;
    if (value && value->kind != MI_V_ABSENT) {
        mi_buf b = MI_BUF_INIT;
        py_str(&b, value);
        f->value = mi_buf_detach(&b);
    }
    f->line = ev->cur ? ev->cur->ps->line : 0;
    f->warning = warning;
}

int ev_fail(struct ev *ev, const char *address, const mi_value *value, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = vfmt(fmt, ap);
    va_end(ap);
    struct ev_ctx *c = &ev->ctx;
    const char *name = ev->opts && ev->opts->error_name ? ev->opts->error_name : "Failure";
    if (c->no_failure && c->failure_class)
        name = c->failure_class;
    record_failure(ev, msg, address, value, c->no_failure);
    size_t nlen = strlen(name);
    int rc = 0;
    if (ev->opts && ev->opts->no_early_exit) {
        /* Every line printed now, the step marked and the step goes on. */
        const char *p = msg;
        int first = 1;
        for (;;) {
            const char *nl = strchr(p, '\n');
            char *line = nl ? mi_xstrndup(p, (size_t)(nl - p)) : mi_xstrdup(p);
            ev_event(ev, c->no_failure ? MI_PEV_WARNING : MI_PEV_FAILURE, first ? name : "", line);
            free(line);
            first = 0;
            if (!nl)
                break;
            p = nl + 1;
        }
        if (!c->no_failure) {
            ev->cur->state = ST_FAILED;
            free(ev->cur->error_name);
            free(ev->cur->error_reason);
            ev->cur->error_name = mi_xstrdup(name);
            mi_buf r = MI_BUF_INIT;
            mi_buf_addch(&r, '\r');
            for (size_t i = 0; i < nlen; i++)
                mi_buf_addch(&r, ' ');
            ev->cur->error_reason = mi_buf_detach(&r);
        } else {
            ev->cur->state = ST_SKIPPED;
        }
    } else if (!c->no_failure) {
        /* Raised: continuation lines are indented under the header. */
        mi_buf r = MI_BUF_INIT;
        const char *p = msg;
        int first = 1;
        for (;;) {
            const char *nl = strchr(p, '\n');
            size_t l = nl ? (size_t)(nl - p) : strlen(p);
            if (!first) {
                mi_buf_adds(&r, "\n\t\t");
                for (size_t i = 0; i < nlen + 1; i++)
                    mi_buf_addch(&r, ' ');
                mi_buf_adds(&r, " : ");
            }
            mi_buf_add(&r, p, l);
            first = 0;
            if (!nl)
                break;
            p = nl + 1;
        }
        rc = ev_raise(ev, name, "%s", r.ptr);
        mi_buf_release(&r);
    } else {
        /* A no-failure tag: the finding is reported under the tag's name, nothing fails. */
        ev_event(ev, MI_PEV_WARNING, name, msg);
        ev->cur->state = ST_SKIPPED;
    }
    free(msg);
    return rc;
}

int ev_skip(struct ev *ev, const char *resource, const char *message)
{
    struct ev_ctx *c = &ev->ctx;
    char *own = NULL;
    if (!resource)
        resource = "any";
    if (!message)
        message = own = mi_xasprintf("Can not find %s defined in target terraform plan.", resource);
    if (c->no_skip) {
        int hit = 0;
        for (size_t i = 0; i < c->nnoskip_lines; i++)
            if (c->noskip_lines[i] == -1 || c->noskip_lines[i] == ev->cur->ps->line)
                hit = 1;
        if (hit) {
            int rc = ev_fail(ev, NULL, NULL, "%s", message);
            free(own);
            return rc;
        }
    }
    ev_event(ev, MI_PEV_SKIP, "SKIPPING", message);
    ev->cur->state = ST_SKIPPED;
    for (size_t i = 0; i < ev->nsteps; i++)
        ev->steps[i].runable = 0;
    free(own);
    return 0;
}

/* ==== Python values ====================================================================== */

int py_truthy(const mi_value *v)
{
    if (v->kind == MI_V_ABSENT)
        return 1; /* the Null class and the TypeError class are objects */
    return mi_value_truthy(v);
}

void py_str(mi_buf *out, const mi_value *v)
{
    if (v->kind == MI_V_ABSENT) {
        mi_buf_adds(out, v->flags == PY_TYPEERROR_FLAG
                             ? "<class 'TypeError'>"
                             : "<class 'terraform_compliance.common.helper.Null'>");
        return;
    }
    mi_value_str(out, v);
}

const char *py_cstr(struct ev *ev, const mi_value *v)
{
    if (v->kind == MI_V_STR)
        return v->u.s;
    mi_buf b = MI_BUF_INIT;
    py_str(&b, v);
    char *s = mi_arena_strndup(&ev->a, b.ptr, b.len);
    mi_buf_release(&b);
    return s;
}

int py_eq(const mi_value *a, const mi_value *b)
{
    if (a->kind == MI_V_ABSENT || b->kind == MI_V_ABSENT)
        return a->kind == b->kind && a->flags == b->flags;
    return mi_value_eq(a, b);
}

static const char *type_name(const mi_value *v)
{
    if (v->kind == MI_V_ABSENT)
        return "type";
    return mi_value_type_name(v);
}

int py_in(struct ev *ev, const mi_value *needle, const mi_value *hay, int *out)
{
    *out = 0;
    switch (hay->kind) {
    case MI_V_DICT:
        if (needle->kind != MI_V_STR) {
            if (needle->kind == MI_V_LIST || needle->kind == MI_V_DICT)
                return ev_raise(ev, "TypeError", "unhashable type: '%s'", type_name(needle));
            return 0;
        }
        *out = mi_value_getn(hay, needle->u.s, needle->n) != NULL;
        return 0;
    case MI_V_LIST:
        for (uint32_t i = 0; i < hay->n; i++)
            if (py_eq(&hay->u.items[i], needle)) {
                *out = 1;
                return 0;
            }
        return 0;
    case MI_V_STR:
        if (needle->kind != MI_V_STR)
            return ev_raise(ev, "TypeError",
                            "'in <string>' requires string as left operand, not %s",
                            type_name(needle));
        if (needle->n == 0) {
            *out = 1;
            return 0;
        }
        *out = memmem(hay->u.s, hay->n, needle->u.s, needle->n) != NULL;
        return 0;
    default:
        return ev_raise(ev, "TypeError", "argument of type '%s' is not iterable", type_name(hay));
    }
}

int py_len(struct ev *ev, const mi_value *v, size_t *out)
{
    switch (v->kind) {
    case MI_V_STR: {
        /* characters, not bytes */
        size_t n = 0;
        for (uint32_t i = 0; i < v->n; i++)
            if (((unsigned char)v->u.s[i] & 0xC0) != 0x80)
                n++;
        *out = n;
        return 0;
    }
    case MI_V_LIST:
    case MI_V_DICT:
        *out = v->n;
        return 0;
    default:
        return ev_raise(ev, "TypeError", "object of type '%s' has no len()", type_name(v));
    }
}

int py_iter(struct ev *ev, const mi_value *v, mi_value **items, size_t *n)
{
    *items = NULL;
    *n = 0;
    switch (v->kind) {
    case MI_V_LIST:
        *items = v->u.items;
        *n = v->n;
        return 0;
    case MI_V_DICT: {
        mi_value *it = mi_arena_alloc(&ev->a, (v->n ? v->n : 1) * sizeof(*it));
        for (uint32_t i = 0; i < v->n; i++)
            it[i] = mi_v_str_static(v->u.kv[i].key, MI_KEY_LEN(v->u.kv[i].key));
        *items = it;
        *n = v->n;
        return 0;
    }
    case MI_V_STR: {
        mi_value *it = mi_arena_alloc(&ev->a, (v->n ? v->n : 1) * sizeof(*it));
        size_t k = 0;
        for (uint32_t i = 0; i < v->n;) {
            uint32_t j = i + 1;
            while (j < v->n && ((unsigned char)v->u.s[j] & 0xC0) == 0x80)
                j++;
            it[k++] = mi_v_str(&ev->a, v->u.s + i, j - i);
            i = j;
        }
        *items = it;
        *n = k;
        return 0;
    }
    default:
        return ev_raise(ev, "TypeError", "'%s' object is not iterable", type_name(v));
    }
}

int py_index0(struct ev *ev, const mi_value *v, mi_value *out)
{
    switch (v->kind) {
    case MI_V_LIST:
        if (v->n == 0)
            return ev_raise(ev, "IndexError", "list index out of range");
        *out = v->u.items[0];
        return 0;
    case MI_V_DICT:
        return ev_raise(ev, "KeyError", "0");
    case MI_V_STR: {
        if (v->n == 0)
            return ev_raise(ev, "IndexError", "string index out of range");
        uint32_t j = 1;
        while (j < v->n && ((unsigned char)v->u.s[j] & 0xC0) == 0x80)
            j++;
        *out = mi_v_str(&ev->a, v->u.s, j);
        return 0;
    }
    default:
        return ev_raise(ev, "TypeError", "'%s' object is not subscriptable", type_name(v));
    }
}

int py_get(struct ev *ev, const mi_value *d, const char *key, const mi_value *dflt, mi_value *out)
{
    if (d->kind != MI_V_DICT)
        return ev_raise(ev, "AttributeError", "'%s' object has no attribute 'get'", type_name(d));
    const mi_value *v = mi_value_get(d, key);
    *out = v ? *v : (dflt ? *dflt : mi_v_null());
    return 0;
}

int py_getitem(struct ev *ev, const mi_value *d, const char *key, mi_value *out)
{
    if (d->kind == MI_V_STR || d->kind == MI_V_LIST)
        return ev_raise(ev, "TypeError", "%s indices must be integers",
                        d->kind == MI_V_STR ? "string" : "list");
    if (d->kind != MI_V_DICT)
        return ev_raise(ev, "TypeError", "'%s' object is not subscriptable", type_name(d));
    const mi_value *v = mi_value_get(d, key);
    if (!v) {
        mi_buf b = MI_BUF_INIT;
        mi_value_repr_str(&b, key, strlen(key));
        int rc = ev_raise(ev, "KeyError", "%s", b.ptr);
        mi_buf_release(&b);
        return rc;
    }
    *out = *v;
    return 0;
}

int py_join(struct ev *ev, const char *sep, const mi_value *v, mi_buf *out)
{
    mi_value *items;
    size_t n;
    if (py_iter(ev, v, &items, &n) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (items[i].kind != MI_V_STR)
            return ev_raise(ev, "TypeError", "sequence item %zu: expected str instance, %s found",
                            i, type_name(&items[i]));
        if (i)
            mi_buf_adds(out, sep);
        mi_buf_add(out, items[i].u.s, items[i].n);
    }
    return 0;
}

mi_value py_str_value(struct ev *ev, const char *s)
{
    return mi_v_cstr(&ev->a, s ? s : "");
}

mi_value py_list(struct ev *ev, const mi_value *items, size_t n)
{
    mi_value *it = mi_arena_alloc(&ev->a, (n ? n : 1) * sizeof(*it));
    if (n)
        memcpy(it, items, n * sizeof(*it));
    return mi_v_list_of(it, n);
}

mi_value py_dict1(struct ev *ev, mi_key *key, const mi_value *v)
{
    mi_kv *kv = mi_arena_alloc(&ev->a, sizeof(*kv));
    kv->key = key;
    kv->v = *v;
    return mi_v_dict_of(kv, 1);
}

/* ==== string sets ======================================================================= */

static size_t str_hash(const char *s, size_t len)
{
    size_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static int strset_find(const struct ev_strset *set, const char *s, size_t len, size_t *slot)
{
    size_t h = str_hash(s, len) & (set->cap - 1);
    while (set->slot[h]) {
        if (set->len[h] == len && memcmp(set->slot[h], s, len) == 0) {
            *slot = h;
            return 1;
        }
        h = (h + 1) & (set->cap - 1);
    }
    *slot = h;
    return 0;
}

int ev_strset_has(const struct ev_strset *set, const char *s, size_t len)
{
    size_t slot;
    return set->cap && strset_find(set, s, len, &slot);
}

int ev_strset_add(struct ev_strset *set, const char *s, size_t len)
{
    if ((set->n + 1) * 2 > set->cap) {
        struct ev_strset bigger = {0};
        bigger.cap = set->cap ? set->cap * 2 : 64;
        bigger.slot = mi_xcalloc(bigger.cap, sizeof(*bigger.slot));
        bigger.len = mi_xcalloc(bigger.cap, sizeof(*bigger.len));
        for (size_t i = 0; i < set->cap; i++) {
            if (!set->slot[i])
                continue;
            size_t slot;
            strset_find(&bigger, set->slot[i], set->len[i], &slot);
            bigger.slot[slot] = set->slot[i];
            bigger.len[slot] = set->len[i];
            bigger.n++;
        }
        ev_strset_release(set);
        *set = bigger;
    }
    size_t slot;
    if (strset_find(set, s, len, &slot))
        return 0;
    set->slot[slot] = s;
    set->len[slot] = len;
    set->n++;
    return 1;
}

void ev_strset_release(struct ev_strset *set)
{
    free(set->slot);
    free(set->len);
    memset(set, 0, sizeof(*set));
}

/* ==== regular expressions ================================================================ */

struct rx_entry {
    char *pattern;
    int flags;
    mi_regex *re;
    char *error; /* compile error, remembered */
};

struct ev_regex_cache {
    struct rx_entry *e;
    size_t n, cap;
};

static void rx_cache_free(struct ev_regex_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->e[i].pattern);
        free(c->e[i].error);
        mi_regex_free(c->e[i].re);
    }
    free(c->e);
    free(c);
}

static int rx_get(struct ev *ev, const char *pattern, int flags, mi_regex **out)
{
    if (!ev->rx)
        ev->rx = mi_xcalloc(1, sizeof(*ev->rx));
    struct ev_regex_cache *c = ev->rx;
    for (size_t i = 0; i < c->n; i++) {
        if (c->e[i].flags == flags && strcmp(c->e[i].pattern, pattern) == 0) {
            if (!c->e[i].re)
                return ev_raise(ev, "re.error", "%s", c->e[i].error);
            *out = c->e[i].re;
            return 0;
        }
    }
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->e = mi_xrealloc(c->e, c->cap * sizeof(*c->e));
    }
    struct rx_entry *e = &c->e[c->n++];
    e->pattern = mi_xstrdup(pattern);
    e->flags = flags;
    e->re = NULL;
    e->error = NULL;
    if (mi_regex_compile(&e->re, pattern, strlen(pattern), flags) < 0) {
        e->re = NULL;
        e->error = mi_xstrdup(mi_error_last());
        return ev_raise(ev, "re.error", "%s", e->error);
    }
    *out = e->re;
    return 0;
}

int ev_regex_match(struct ev *ev, const char *pattern, const char *subject, size_t len, int flags,
                   int *matched, long *end)
{
    mi_regex *re = NULL;
    *matched = 0;
    if (rx_get(ev, pattern, flags, &re) < 0)
        return -1;
    mi_regex_span spans[1 + 64];
    mi_regex_span *sp = mi_regex_groups(re) < 64 ? spans : NULL;
    int rc = mi_regex_exec(re, subject, len, 0, 1, sp);
    if (rc == MI_REGEX_EBUDGET)
        return ev_raise(ev, "RegexBudgetExceeded",
                        "the regex '%s' needs too much work on a %zu-byte value", pattern, len);
    *matched = rc == 1;
    if (end)
        *end = (rc == 1 && sp) ? sp[0].end : -1;
    return 0;
}

static int match_flags(struct ev *ev)
{
    return ev->ctx.case_sensitive ? 0 : MI_RE_IGNORECASE;
}

int m_regex_match(struct ev *ev, const char *pattern, const mi_value *subject, int *matched)
{
    mi_buf b = MI_BUF_INIT;
    py_str(&b, subject);
    int rc = ev_regex_match(ev, pattern, b.ptr, b.len, match_flags(ev), matched, NULL);
    mi_buf_release(&b);
    return rc;
}

/* ==== terraform-compliance's Match ======================================================= */

/* str(x).lower() == str(y).lower(), ASCII folding (Python folds Unicode too; policies and
 * plans compare ASCII identifiers). */
static int str_ieq(const char *a, size_t an, const char *b, size_t bn, int ci)
{
    if (an != bn)
        return 0;
    if (!ci)
        return memcmp(a, b, an) == 0;
    for (size_t i = 0; i < an; i++) {
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

int m_equals(struct ev *ev, const mi_value *a, const mi_value *b, int *out)
{
    *out = 0;
    if (!py_is_simple(a) || !py_is_simple(b))
        return ev_raise(ev, "TypeError", "%s", "");
    if (a->kind == MI_V_STR && b->kind == MI_V_STR) {
        *out = str_ieq(a->u.s, a->n, b->u.s, b->n, !ev->ctx.case_sensitive);
        return 0;
    }
    mi_buf x = MI_BUF_INIT, y = MI_BUF_INIT;
    mi_value_str(&x, a);
    mi_value_str(&y, b);
    *out = str_ieq(x.ptr, x.len, y.ptr, y.len, !ev->ctx.case_sensitive);
    mi_buf_release(&x);
    mi_buf_release(&y);
    return 0;
}

int m_equals_s(struct ev *ev, const mi_value *a, const char *b, int *out)
{
    mi_value bv = mi_v_str_static(b, strlen(b));
    return m_equals(ev, a, &bv, out);
}

int m_get(struct ev *ev, const mi_value *hay, const char *needle, const mi_value *dflt,
          mi_value *out)
{
    if (hay->kind != MI_V_DICT) {
        *out = py_typeerror_obj();
        return 0;
    }
    size_t nl = strlen(needle);
    int ci = !ev->ctx.case_sensitive;
    for (uint32_t i = 0; i < hay->n; i++) {
        mi_key *k = hay->u.kv[i].key;
        if (str_ieq(k, MI_KEY_LEN(k), needle, nl, ci)) {
            *out = hay->u.kv[i].v;
            return 0;
        }
    }
    *out = dflt ? *dflt : mi_v_null();
    return 0;
}

int m_contains(struct ev *ev, const mi_value *hay, const mi_value *needle, int *out)
{
    *out = 0;
    if (hay->kind == MI_V_DICT) {
        for (uint32_t i = 0; i < hay->n; i++) {
            mi_value k = mi_v_str_static(hay->u.kv[i].key, MI_KEY_LEN(hay->u.kv[i].key));
            if (m_equals(ev, &k, needle, out) < 0)
                return -1;
            if (*out)
                return 0;
        }
        return 0;
    }
    if (hay->kind == MI_V_LIST) {
        for (uint32_t i = 0; i < hay->n; i++) {
            if (m_equals(ev, &hay->u.items[i], needle, out) < 0)
                return -1;
            if (*out)
                return 0;
        }
        return 0;
    }
    return ev_raise(ev, "TypeError", "%s", "");
}

int m_contains_s(struct ev *ev, const mi_value *hay, const char *needle, int *out)
{
    mi_value n = mi_v_str_static(needle, strlen(needle));
    return m_contains(ev, hay, &n, out);
}

static void seek_key_rec(struct ev *ev, const mi_value *hay, const char *needle, size_t nl, int ci,
                         mi_vlist *found, int depth)
{
    if (depth > MI_VJSON_MAX_DEPTH * 2)
        return;
    if (hay->kind == MI_V_DICT) {
        for (uint32_t i = 0; i < hay->n; i++) {
            mi_key *k = hay->u.kv[i].key;
            if (str_ieq(k, MI_KEY_LEN(k), needle, nl, ci))
                mi_vlist_push(found, py_dict1(ev, k, &hay->u.kv[i].v));
            else
                seek_key_rec(ev, &hay->u.kv[i].v, needle, nl, ci, found, depth + 1);
        }
    } else if (hay->kind == MI_V_LIST) {
        for (uint32_t i = 0; i < hay->n; i++)
            seek_key_rec(ev, &hay->u.items[i], needle, nl, ci, found, depth + 1);
    }
}

int m_seek_key(struct ev *ev, const mi_value *hay, const char *needle, mi_value *out)
{
    mi_vlist found = MI_VLIST_INIT;
    seek_key_rec(ev, hay, needle, strlen(needle), !ev->ctx.case_sensitive, &found, 0);
    *out = mi_vlist_finish(&found, &ev->a);
    return 0;
}

mi_value seek_key_ci(struct ev *ev, const mi_value *hay, const char *needle)
{
    mi_vlist found = MI_VLIST_INIT;
    seek_key_rec(ev, hay, needle, strlen(needle), 1, &found, 0);
    return mi_vlist_finish(&found, &ev->a);
}

static int seek_regex_rec(struct ev *ev, const mi_value *hay, const char *key_name,
                          const char *regex, int key_matched, int ci, mi_vlist *found, int depth)
{
    if (depth > MI_VJSON_MAX_DEPTH * 2)
        return 0;
    size_t kl = strlen(key_name);
    if (hay->kind == MI_V_DICT) {
        for (uint32_t i = 0; i < hay->n; i++) {
            mi_key *k = hay->u.kv[i].key;
            mi_value value = hay->u.kv[i].v;
            if (value.kind == MI_V_BOOL || value.kind == MI_V_INT || value.kind == MI_V_FLOAT) {
                mi_buf b = MI_BUF_INIT;
                mi_value_str(&b, &value);
                value = mi_v_str(&ev->a, b.ptr, b.len);
                mi_buf_release(&b);
            }
            if (str_ieq(k, MI_KEY_LEN(k), key_name, kl, ci) || key_matched) {
                if (value.kind == MI_V_STR) {
                    int m;
                    long end;
                    if (ev_regex_match(ev, regex, value.u.s, value.n, ci ? MI_RE_IGNORECASE : 0, &m,
                                       &end) < 0)
                        return -1;
                    if (m)
                        mi_vlist_push(found, mi_v_str(&ev->a, value.u.s, (size_t)end));
                    /* else: recursing into a string finds nothing */
                } else if (value.kind == MI_V_DICT) {
                    if (seek_regex_rec(ev, &value, key_name, regex, 1, ci, found, depth + 1) < 0)
                        return -1;
                } else if (value.kind == MI_V_LIST) {
                    for (uint32_t j = 0; j < value.n; j++)
                        if (seek_regex_rec(ev, &value.u.items[j], key_name, regex, 1, ci, found,
                                           depth + 1) < 0)
                            return -1;
                }
            } else if (seek_regex_rec(ev, &value, key_name, regex, key_matched, ci, found,
                                      depth + 1) < 0) {
                return -1;
            }
        }
    } else if (hay->kind == MI_V_LIST) {
        for (uint32_t i = 0; i < hay->n; i++)
            if (seek_regex_rec(ev, &hay->u.items[i], key_name, regex, key_matched, ci, found,
                               depth + 1) < 0)
                return -1;
    }
    return 0;
}

static int seek_regex(struct ev *ev, const mi_value *hay, const char *key_name, const char *needle,
                      int ci, mi_value *out)
{
    char *regex = mi_xasprintf("^%s$", needle);
    mi_vlist found = MI_VLIST_INIT;
    int rc = seek_regex_rec(ev, hay, key_name, regex, 0, ci, &found, 0);
    free(regex);
    *out = mi_vlist_finish(&found, &ev->a);
    return rc;
}

int m_seek_regex_key(struct ev *ev, const mi_value *hay, const char *key_name, const char *needle,
                     mi_value *out)
{
    return seek_regex(ev, hay, key_name, needle, !ev->ctx.case_sensitive, out);
}

int seek_regex_key_ci(struct ev *ev, const mi_value *hay, const char *key_name, const char *needle,
                      mi_value *out)
{
    return seek_regex(ev, hay, key_name, needle, 1, out);
}

static int finding(struct ev *ev, const char *needle, const mi_value *address, mi_vlist *out)
{
    mi_kv *kv = mi_arena_alloc(&ev->a, 2 * sizeof(*kv));
    kv[0].key = mi_value_key(&ev->a, "values", 6);
    kv[0].v = py_str_value(ev, needle);
    kv[1].key = mi_value_key(&ev->a, "address", 7);
    kv[1].v = address ? *address : mi_v_null();
    mi_vlist_push(out, mi_v_dict_of(kv, 2));
    return 0;
}

static int seek_value_rec(struct ev *ev, const char *needle, const mi_value *hay,
                          const mi_value *address, mi_vlist *out, int depth)
{
    if (depth > MI_VJSON_MAX_DEPTH * 2)
        return 0;
    int eq;
    if (py_is_simple(hay)) {
        if (m_equals_s(ev, hay, needle, &eq) < 0)
            return -1;
        if (eq)
            finding(ev, needle, NULL, out);
    } else if (hay->kind == MI_V_DICT) {
        mi_value addr;
        if (address && address->kind != MI_V_NULL && address->kind != MI_V_ABSENT) {
            addr = *address;
        } else {
            const mi_value *a = mi_value_get(hay, "address");
            addr = a ? *a : mi_v_null();
        }
        for (uint32_t i = 0; i < hay->n; i++) {
            const mi_value *value = &hay->u.kv[i].v;
            if (value->kind == MI_V_DICT || value->kind == MI_V_LIST) {
                if (seek_value_rec(ev, needle, value, NULL, out, depth + 1) < 0)
                    return -1;
            } else if (py_is_simple(value)) {
                if (m_equals_s(ev, value, needle, &eq) < 0)
                    return -1;
                if (eq)
                    finding(ev, needle, &addr, out);
            }
        }
    } else if (hay->kind == MI_V_LIST) {
        int all_str = 1;
        for (uint32_t i = 0; i < hay->n; i++)
            if (hay->u.items[i].kind != MI_V_STR)
                all_str = 0;
        for (uint32_t i = 0; i < hay->n; i++) {
            if (all_str) {
                if (m_equals_s(ev, &hay->u.items[i], needle, &eq) < 0)
                    return -1;
                if (eq)
                    mi_vlist_push(out, hay->u.items[i]);
            } else if (seek_value_rec(ev, needle, &hay->u.items[i], NULL, out, depth + 1) < 0) {
                return -1;
            }
        }
    }
    return 0;
}

int m_seek_value(struct ev *ev, const char *needle, const mi_value *hay, mi_value *out)
{
    mi_vlist found = MI_VLIST_INIT;
    int rc = seek_value_rec(ev, needle, hay, NULL, &found, 0);
    *out = mi_vlist_finish(&found, &ev->a);
    return rc;
}

/* ==== tags (look_for_bdd_tags) ============================================================ */

static const char *const no_failure_tags[] = {"warning",   "no-failure", "no-fail", "info",
                                              "nofailure", "nofail",     "dontfail"};
static const char *const case_sensitive_tags[] = {"case-sensitive", "case_sensitive",
                                                  "casesensitive", "case-sensitivity"};
static const char *const no_skip_tags[] = {"noskip", "no-skip", "dontskip", "failonskip",
                                           "fail-on-skip"};
static const char *const exclude_tags[] = {"exclude", "ignore"};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static int in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return 1;
    return 0;
}

/* If lname is "<prefix>_<rest>" for a prefix in list (searched anywhere, as re.search does),
 * returns the position of <rest>. */
static const char *after_prefix(const char *lname, const char *const *list, size_t n,
                                const char *infix)
{
    for (const char *p = lname; *p; p++) {
        for (size_t i = 0; i < n; i++) {
            size_t l = strlen(list[i]);
            if (strncmp(p, list[i], l) == 0 && strncmp(p + l, infix, strlen(infix)) == 0)
                return p + l + strlen(infix);
        }
    }
    return NULL;
}

static void add_noskip_line(struct ev_ctx *c, int line)
{
    c->noskip_lines = mi_xrealloc(c->noskip_lines, (c->nnoskip_lines + 1) * sizeof(int));
    c->noskip_lines[c->nnoskip_lines++] = line;
}

int ev_read_tags(struct ev *ev)
{
    struct ev_ctx *c = &ev->ctx;
    const struct pscenario *s = ev->scenario;
    c->no_failure = 0;
    c->failure_class = NULL;
    c->no_skip = 0;
    c->skip_class = NULL;
    free(c->noskip_lines);
    c->noskip_lines = NULL;
    c->nnoskip_lines = 0;
    c->bad_tags = 0;
    mi_buf_reset(&c->exclude);
    int case_insensitive = 1;
    for (size_t i = 0; i < s->nall_tags; i++) {
        const char *name = s->all_tags[i].name;
        char *lname = mi_xstrdup(name);
        for (char *p = lname; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p + 32);
        const char *rest;
        if (in_list(lname, no_failure_tags, NELEM(no_failure_tags))) {
            c->no_failure = 1;
            c->failure_class = name;
        } else if (in_list(lname, case_sensitive_tags, NELEM(case_sensitive_tags))) {
            case_insensitive = 0;
        } else if (in_list(lname, no_skip_tags, NELEM(no_skip_tags))) {
            c->no_skip = 1;
            c->skip_class = name;
            free(c->noskip_lines);
            c->noskip_lines = NULL;
            c->nnoskip_lines = 0;
            add_noskip_line(c, -1);
        } else if ((rest = after_prefix(lname, no_skip_tags, NELEM(no_skip_tags), "_at_line")) !=
                   NULL) {
            /* (noskip|...)_at_lines?((_\d*)*): the numbers after it, '_' separated */
            if (*rest == 's')
                rest++;
            c->no_skip = 1;
            c->skip_class = name;
            const char *p = rest;
            while (*p == '_' || (*p >= '0' && *p <= '9'))
                p++;
            char *nums = mi_xstrndup(rest, (size_t)(p - rest));
            /* strip('_').split('_'), each int(): an empty piece is a ValueError */
            char *q = nums;
            while (*q == '_')
                q++;
            size_t ql = strlen(q);
            while (ql && q[ql - 1] == '_')
                q[--ql] = '\0';
            int ok = 1;
            int lines[64];
            size_t nl = 0;
            char *save = NULL;
            if (!*q) {
                ok = 0;
            } else {
                char *dup = mi_xstrdup(q);
                for (size_t k = 0; dup[k]; k++)
                    if (dup[k] == '_' && (dup[k + 1] == '_' || dup[k + 1] == '\0'))
                        ok = 0;
                for (char *t = strtok_r(dup, "_", &save); t && ok; t = strtok_r(NULL, "_", &save)) {
                    char *end = NULL;
                    long v = strtol(t, &end, 10);
                    if (!end || *end || v < 0 || v > 1000000)
                        ok = 0;
                    else if (nl < NELEM(lines))
                        lines[nl++] = (int)v;
                }
                free(dup);
            }
            free(nums);
            if (!ok) {
                free(lname);
                return ev_fail(ev, NULL, NULL,
                               "A tag was determined to be a noskip, but line numbers could not "
                               "be grouped by the regex (%s)_at_lines?((_\\d*)*)\ninvalid literal "
                               "for int() with base 10: ''",
                               "noskip|no-skip|dontskip|failonskip|fail-on-skip");
            }
            int general = c->nnoskip_lines == 1 && c->noskip_lines[0] == -1;
            if (!general)
                for (size_t k = 0; k < nl; k++)
                    add_noskip_line(c, lines[k]);
        } else if ((rest = after_prefix(lname, exclude_tags, NELEM(exclude_tags), "_")) != NULL &&
                   rest[0] && strchr(rest + 1, '.') && strchr(rest + 1, '.')[1] != '\0') {
            if (c->exclude.len)
                mi_buf_addch(&c->exclude, '|');
            mi_buf_addf(&c->exclude, "(%s)", rest);
        }
        free(lname);
    }
    c->case_sensitive = s->nall_tags > 0 && !case_insensitive;
    c->tags_read = 1;
    if (c->no_failure && c->no_skip) {
        c->no_failure = 0;
        c->bad_tags = 1;
        return ev_fail(ev, NULL, NULL, "@%s and @%s tags can not be used at the same time.",
                       c->failure_class, c->skip_class);
    }
    return 0;
}

/* ==== hooks ================================================================================ */

/* parse_in_step_variables: "{type.path.[i].[a:b]}" in a step argument, resolved against
 * everything the scenario's Given steps selected. Only "haystack" is read by a step, but
 * every argument is resolved, as a bad one fails the step in the original too. */
static int resolve_variable(struct ev *ev, const char *text, mi_value *out, int *found)
{
    *found = 0;
    /* (.*){(.*)}(.*): the last '{' that has a '}' after it, and the last '}' */
    const char *close = strrchr(text, '}');
    if (!close)
        return 0;
    const char *open = NULL;
    for (const char *p = text; p < close; p++)
        if (*p == '{')
            open = p;
    if (!open || strchr(text, '\n'))
        return 0;
    *found = 1;
    char *prefix = mi_xstrndup(text, (size_t)(open - text));
    char *query = mi_xstrndup(open + 1, (size_t)(close - open - 1));
    const char *suffix = close + 1;
    int rc = 0;
    mi_vlist res = MI_VLIST_INIT;
    /* query.split('.'): the first part names a resource type */
    char *save = query, *part = query;
    char *dot = strchr(part, '.');
    if (dot)
        *dot = '\0';
    save = dot ? dot + 1 : NULL;
    for (size_t i = 0; i < ev->ctx.cumulative.n; i++) {
        const mi_value *r = &ev->ctx.cumulative.items[i];
        mi_value t;
        if ((rc = py_getitem(ev, r, "type", &t)) < 0)
            goto done;
        int eq;
        if ((rc = m_equals_s(ev, &t, part, &eq)) < 0)
            goto done;
        if (eq)
            mi_vlist_push(&res, *r);
    }
    while (save) {
        part = save;
        dot = strchr(part, '.');
        if (dot)
            *dot = '\0';
        save = dot ? dot + 1 : NULL;
        if (!res.n)
            break;
        /* \[([0-9]*)(:)?([0-9]*)\] with re.match: the part starts with it */
        int is_index = 0, has_colon = 0;
        long i1 = -1, i2 = -1;
        if (part[0] == '[' && strcmp(part, "[]") != 0) {
            const char *p = part + 1;
            const char *d1 = p;
            while (*p >= '0' && *p <= '9')
                p++;
            const char *e1 = p;
            if (*p == ':') {
                has_colon = 1;
                p++;
            }
            const char *d2 = p;
            while (*p >= '0' && *p <= '9')
                p++;
            const char *e2 = p;
            if (*p == ']' && (has_colon || e1 == d1 || d2 == e2)) {
                is_index = 1;
                if (e1 > d1)
                    i1 = strtol(d1, NULL, 10);
                if (e2 > d2)
                    i2 = strtol(d2, NULL, 10);
                if (!has_colon && e1 == d1 && e2 > d2)
                    is_index = 0; /* "[5]" parsed as group 3 cannot happen: digits go to 1 */
            }
        }
        mi_vlist next = MI_VLIST_INIT;
        if (is_index && !has_colon) {
            if (i1 < 0) {
                rc = ev_raise(ev, "ValueError", "invalid literal for int() with base 10: ''");
                mi_vlist_release(&next);
                goto done;
            }
            for (size_t k = 0; k < res.n; k++) {
                const mi_value *r = &res.items[k];
                if (r->kind == MI_V_LIST || r->kind == MI_V_STR) {
                    mi_value *items;
                    size_t n;
                    py_iter(ev, r, &items, &n);
                    if ((size_t)i1 >= n) {
                        rc = ev_raise(ev, "IndexError", "list index out of range");
                        mi_vlist_release(&next);
                        goto done;
                    }
                    mi_vlist_push(&next, items[i1]);
                } else if (r->kind == MI_V_DICT) {
                    rc = ev_raise(ev, "KeyError", "%ld", i1);
                    mi_vlist_release(&next);
                    goto done;
                } else {
                    rc =
                        ev_raise(ev, "TypeError", "'%s' object is not subscriptable", type_name(r));
                    mi_vlist_release(&next);
                    goto done;
                }
            }
        } else if (is_index) {
            size_t a = i1 >= 0 ? (size_t)i1 : 0;
            size_t b = i2 >= 0 ? (size_t)i2 : res.n;
            if (b > res.n)
                b = res.n;
            for (size_t k = a; k < b; k++) {
                mi_value *items;
                size_t n;
                if ((rc = py_iter(ev, &res.items[k], &items, &n)) < 0) {
                    mi_vlist_release(&next);
                    goto done;
                }
                for (size_t j = 0; j < n; j++)
                    mi_vlist_push(&next, items[j]);
            }
        } else {
            for (size_t k = 0; k < res.n; k++) {
                int has;
                const mi_value *r = &res.items[k];
                if ((rc = m_contains_s(ev, r, part, &has)) < 0) {
                    mi_vlist_release(&next);
                    goto done;
                }
                if (has) {
                    mi_value v;
                    m_get(ev, r, part, NULL, &v);
                    if (v.kind == MI_V_ABSENT)
                        v = mi_v_null();
                    mi_vlist_push(&next, v);
                }
            }
        }
        mi_vlist_release(&res);
        res = next;
    }
    if (*prefix || *suffix) {
        for (size_t k = 0; k < res.n; k++) {
            if (!py_is_simple(&res.items[k])) {
                rc = ev_raise(ev, "TypeError",
                              "Improper in step variable usage. Can't mix affixes with non-str in "
                              "step variabes.");
                goto done;
            }
        }
        for (size_t k = 0; k < res.n; k++) {
            mi_buf b = MI_BUF_INIT;
            mi_buf_adds(&b, prefix);
            mi_value_str(&b, &res.items[k]);
            mi_buf_adds(&b, suffix);
            res.items[k] = mi_v_str(&ev->a, b.ptr, b.len);
            mi_buf_release(&b);
        }
    }
    *out = mi_vlist_finish(&res, &ev->a);
done:
    mi_vlist_release(&res);
    free(prefix);
    free(query);
    return rc;
}

static int in_step_variables(struct ev *ev, const struct pstep *ps)
{
    ev->ctx.has_haystack = 0;
    for (int i = 0; i < ps->bind.nfields; i++) {
        const struct mi_step_field *f = &ps->bind.fields[i];
        if (strcmp(f->name, "search_regex") == 0)
            continue;
        mi_value v;
        int found;
        if (resolve_variable(ev, f->raw, &v, &found) < 0)
            return -1;
        if (found && strcmp(f->name, "haystack") == 0) {
            ev->ctx.has_haystack = 1;
            ev->ctx.haystack = v;
        }
    }
    return 0;
}

/* exclude_resources: after a Given, resources whose address matches an @exclude_ tag go. */
static int exclude_resources(struct ev *ev)
{
    struct ev_ctx *c = &ev->ctx;
    if (!c->exclude.len || !c->has_stash || !py_truthy(&c->stash))
        return 0;
    mi_value *items;
    size_t n;
    if (py_iter(ev, &c->stash, &items, &n) < 0)
        return -1;
    mi_vlist keep = MI_VLIST_INIT;
    for (size_t i = 0; i < n; i++) {
        mi_value addr;
        mi_value empty = mi_v_str_static("", 0);
        if (py_get(ev, &items[i], "address", &empty, &addr) < 0) {
            mi_vlist_release(&keep);
            return -1;
        }
        int m;
        if (m_regex_match(ev, c->exclude.ptr, &addr, &m) < 0) {
            mi_vlist_release(&keep);
            return -1;
        }
        if (!m)
            mi_vlist_push(&keep, items[i]);
    }
    c->stash = mi_vlist_finish(&keep, &ev->a);
    if (c->stash.n == 0) {
        /* printed after the step's line: the hook runs once the step is written */
        struct ev_step *s = ev->cur;
        size_t before = s->nevents;
        int rc = ev_skip(ev, c->name, NULL);
        while (s->nevents > before) {
            struct ev_event *e = &s->events[before];
            push_event(&s->after, &s->nafter, &s->capafter, e->kind, e->header, e->text);
            free(e->header);
            free(e->text);
            memmove(e, e + 1, (s->nevents - before - 1) * sizeof(*e));
            s->nevents--;
        }
        return rc;
    }
    return 0;
}

/* ==== the scenario runner ================================================================= */

static void ctx_release(struct ev_ctx *c)
{
    mi_vlist_release(&c->cumulative);
    free(c->noskip_lines);
    mi_buf_release(&c->exclude);
    memset(c, 0, sizeof(*c));
}

static void clear_exception(struct ev *ev)
{
    ev->raised = 0;
    free(ev->exc_name);
    free(ev->exc_msg);
    ev->exc_name = ev->exc_msg = NULL;
}

/* Runs every step of s (background, preconditions, own steps) as radish does. */
static void run_scenario(struct ev *ev, const struct pscenario *s)
{
    mi_arena_release(&ev->a);
    ctx_release(&ev->ctx);
    mi_buf_init(&ev->ctx.exclude);
    ev->scenario = s;
    ev->nsteps = s->nsteps;
    ev->steps = mi_xcalloc(s->nsteps ? s->nsteps : 1, sizeof(*ev->steps));
    for (size_t i = 0; i < s->nsteps; i++) {
        ev->steps[i].ps = &s->steps[i];
        ev->steps[i].runable = 1;
    }
    int failed_before = 0;
    for (size_t i = 0; i < s->nsteps; i++) {
        struct ev_step *st = &ev->steps[i];
        if (failed_before) {
            st->state = ST_SKIPPED;
            continue;
        }
        if (!st->runable) {
            st->state = ST_UNTESTED;
            continue;
        }
        ev->cur = st;
        st->state = ST_RUNNING;
        clear_exception(ev);
        int rc = 0;
        int given = st->ps->bind.def && st->ps->bind.def->fn == F_GIVEN;
        if (!given && !(ev->ctx.tags_read && ev->ctx.bad_tags))
            rc = in_step_variables(ev, st->ps);
        if (rc == 0)
            rc = ev_run_step(ev, st->ps);
        if (rc < 0 || ev->raised) {
            st->state = ST_FAILED;
            free(st->error_name);
            free(st->error_reason);
            st->error_name = mi_xstrdup(ev->exc_name ? ev->exc_name : "Exception");
            st->error_reason = mi_xstrdup(ev->exc_msg ? ev->exc_msg : "");
        } else if (st->state == ST_RUNNING) {
            st->state = ST_PASSED;
        }
        if (given && st->state != ST_FAILED) {
            clear_exception(ev);
            if (exclude_resources(ev) < 0 || ev->raised) {
                st->state = ST_FAILED;
                free(st->error_name);
                free(st->error_reason);
                st->error_name = mi_xstrdup(ev->exc_name ? ev->exc_name : "Exception");
                st->error_reason = mi_xstrdup(ev->exc_msg ? ev->exc_msg : "");
            }
        }
        if (st->state == ST_FAILED)
            failed_before = 1;
    }
    ev->cur = NULL;
    clear_exception(ev);
}

/* ==== results ============================================================================= */

static enum mi_policy_state to_state(enum ev_state s)
{
    switch (s) {
    case ST_PASSED:
        return MI_POLICY_PASSED;
    case ST_FAILED:
        return MI_POLICY_FAILED;
    case ST_SKIPPED:
        return MI_POLICY_SKIPPED;
    default:
        return MI_POLICY_UNTESTED;
    }
}

static char **dup_strv(char *const *v, size_t n)
{
    char **o = mi_xcalloc(n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        o[i] = mi_xstrdup(v[i]);
    return o;
}

static char **tags_strv(const struct ptag *t, size_t n)
{
    char **o = mi_xcalloc(n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        o[i] = t[i].arg ? mi_xasprintf("%s(%s)", t[i].name, t[i].arg) : mi_xstrdup(t[i].name);
    return o;
}

static struct mi_policy_event *take_events(struct ev_event *e, size_t n)
{
    struct mi_policy_event *o = mi_xcalloc(n ? n : 1, sizeof(*o));
    for (size_t i = 0; i < n; i++) {
        o[i].kind = e[i].kind;
        o[i].header = e[i].header;
        o[i].text = e[i].text;
    }
    free(e);
    return o;
}

/* Moves the run of a scenario into its result. */
static void fill_scenario(struct ev *ev, const struct pscenario *s, struct mi_policy_scenario *out)
{
    memset(out, 0, sizeof(*out));
    out->keyword = mi_xstrdup(s->keyword);
    out->name = mi_xstrdup(s->name);
    out->line = s->line;
    out->tags = tags_strv(s->tags, s->ntags);
    out->ntags = s->ntags;
    out->row = s->row;
    out->cells = dup_strv(s->cells, s->ncells);
    out->ncells = s->ncells;
    out->row_line = s->row_line;
    out->nsteps = ev->nsteps;
    out->steps = mi_xcalloc(ev->nsteps ? ev->nsteps : 1, sizeof(*out->steps));
    out->state = MI_POLICY_PASSED;
    int decided = 0;
    for (size_t i = 0; i < ev->nsteps; i++) {
        struct ev_step *st = &ev->steps[i];
        struct mi_policy_step *o = &out->steps[i];
        o->sentence = mi_xstrdup(st->ps->sentence);
        o->line = st->ps->line;
        o->state = to_state(st->state);
        o->counted = st->ps->counted;
        o->background = st->ps->background;
        o->events = take_events(st->events, st->nevents);
        o->nevents = st->nevents;
        o->after_events = take_events(st->after, st->nafter);
        o->nafter = st->nafter;
        o->error_name = st->error_name;
        o->error_reason = st->error_reason;
        /* radish: the scenario's state is its first background or own step not passed */
        if (!decided && (st->ps->counted || st->ps->background) && st->state != ST_PASSED) {
            out->state = to_state(st->state);
            decided = 1;
        }
    }
    free(ev->steps);
    ev->steps = NULL;
    ev->nsteps = 0;
    out->failures = mi_xcalloc(ev->nfailures ? ev->nfailures : 1, sizeof(*out->failures));
    out->nfailures = ev->nfailures;
    for (size_t i = 0; i < ev->nfailures; i++) {
        out->failures[i].message = ev->failures[i].message;
        out->failures[i].address = ev->failures[i].address;
        out->failures[i].value = ev->failures[i].value;
        out->failures[i].line = ev->failures[i].line;
        out->failures[i].warning = ev->failures[i].warning;
    }
    free(ev->failures);
    ev->failures = NULL;
    ev->nfailures = ev->capfailures = 0;
    /* A failed step that left no failure record (an exception) still names its reason. */
    if (out->state == MI_POLICY_FAILED) {
        int any = 0;
        for (size_t i = 0; i < out->nfailures; i++)
            any |= !out->failures[i].warning;
        if (!any) {
            for (size_t i = 0; i < out->nsteps; i++) {
                struct mi_policy_step *st = &out->steps[i];
                if (st->state != MI_POLICY_FAILED)
                    continue;
                out->failures =
                    mi_xrealloc(out->failures, (out->nfailures + 1) * sizeof(*out->failures));
                struct mi_policy_failure *f = &out->failures[out->nfailures++];
                memset(f, 0, sizeof(*f));
                f->message = mi_xasprintf("%s: %s", st->error_name ? st->error_name : "Error",
                                          st->error_reason ? st->error_reason : "");
                f->line = st->line;
                break;
            }
        }
    }
}

/* An outline row is named after its outline with the row's values put in for the
 * placeholders ("tag <t>" -> "tag Name"), which is what a reader of a PR comment or a JUnit
 * report needs; an outline whose name has no placeholder keeps radish's "name - row N". */
static void name_row(struct mi_policy_scenario *row, const struct pitem *it)
{
    mi_buf b = MI_BUF_INIT;
    int replaced = 0;
    for (const char *p = it->name; *p;) {
        int hit = 0;
        if (*p == '<') {
            for (size_t c = 0; c < it->nheader && c < row->ncells; c++) {
                size_t hl = strlen(it->header[c]);
                if (!strncmp(p + 1, it->header[c], hl) && p[1 + hl] == '>') {
                    mi_buf_adds(&b, row->cells[c]);
                    p += hl + 2;
                    hit = replaced = 1;
                    break;
                }
            }
        }
        if (!hit)
            mi_buf_addch(&b, *p++);
    }
    if (replaced) {
        free(row->name);
        row->name = mi_buf_detach(&b);
    }
    mi_buf_release(&b);
}

static void count(struct mi_policy_counts *c, enum mi_policy_state s)
{
    c->total++;
    switch (s) {
    case MI_POLICY_PASSED:
        c->passed++;
        break;
    case MI_POLICY_FAILED:
        c->failed++;
        break;
    case MI_POLICY_SKIPPED:
        c->skipped++;
        break;
    default:
        c->untested++;
        break;
    }
}

static void account_scenario(struct mi_policy_result *r, const struct mi_policy_scenario *s)
{
    count(&r->scenario_counts, s->state);
    if (s->state == MI_POLICY_FAILED)
        r->violations++;
    for (size_t i = 0; i < s->nfailures; i++)
        r->warnings += s->failures[i].warning ? 1 : 0;
    for (size_t i = 0; i < s->nsteps; i++)
        if (s->steps[i].counted)
            count(&r->step_counts, s->steps[i].state);
}

int mi_policy_evaluate(struct mi_policy_result **out, const struct mi_policy_set *set,
                       const mi_plan *plan, const struct mi_policy_options *opts)
{
    *out = NULL;
    static const struct mi_policy_options defaults = {0};
    struct ev ev;
    memset(&ev, 0, sizeof(ev));
    mi_arena_init(&ev.a);
    mi_buf_init(&ev.ctx.exclude);
    ev.plan = plan;
    ev.opts = opts ? opts : &defaults;
    struct mi_policy_result *r = mi_xcalloc(1, sizeof(*r));
    r->early_exit = !ev.opts->no_early_exit;
    r->nfeatures = set->nfeatures;
    r->features = mi_xcalloc(set->nfeatures ? set->nfeatures : 1, sizeof(*r->features));
    for (size_t f = 0; f < set->nfeatures; f++) {
        const struct pfeature *pf = &set->features[f];
        struct mi_policy_feature *rf = &r->features[f];
        rf->path = mi_xstrdup(pf->path);
        rf->name = mi_xstrdup(pf->name);
        rf->line = pf->line;
        rf->tags = tags_strv(pf->tags, pf->ntags);
        rf->ntags = pf->ntags;
        rf->description = dup_strv(pf->description, pf->ndescription);
        rf->ndescription = pf->ndescription;
        rf->background = pf->background ? mi_xstrdup(pf->background) : NULL;
        rf->background_steps = dup_strv(pf->background_steps, pf->nbackground);
        rf->nbackground = pf->nbackground;
        rf->notices = dup_strv(plan->warnings, plan->nwarnings);
        rf->nnotices = plan->nwarnings;
        rf->nitems = pf->nitems;
        rf->items = mi_xcalloc(pf->nitems ? pf->nitems : 1, sizeof(*rf->items));
        rf->state = MI_POLICY_PASSED;
        int decided = 0;
        for (size_t i = 0; i < pf->nitems; i++) {
            const struct pitem *pi = &pf->items[i];
            struct mi_policy_item *ri = &rf->items[i];
            enum mi_policy_state item_state = MI_POLICY_PASSED;
            ri->is_outline = pi->is_outline;
            ri->is_loop = pi->is_loop;
            if (pi->scenario) {
                ri->scenario = mi_xcalloc(1, sizeof(*ri->scenario));
                run_scenario(&ev, pi->scenario);
                fill_scenario(&ev, pi->scenario, ri->scenario);
                account_scenario(r, ri->scenario);
                item_state = ri->scenario->state;
            } else {
                ri->keyword = mi_xstrdup(pi->keyword);
                ri->name = mi_xstrdup(pi->name);
                ri->line = pi->line;
                ri->tags = tags_strv(pi->tags, pi->ntags);
                ri->ntags = pi->ntags;
                ri->template_steps = dup_strv(pi->template_steps, pi->ntemplate);
                ri->ntemplate = pi->ntemplate;
                ri->header = dup_strv(pi->header, pi->nheader);
                ri->nheader = pi->nheader;
                ri->iterations = pi->iterations;
                ri->nrows = pi->nrows;
                ri->rows = mi_xcalloc(pi->nrows ? pi->nrows : 1, sizeof(*ri->rows));
                int row_decided = 0;
                for (size_t k = 0; k < pi->nrows; k++) {
                    run_scenario(&ev, &pi->rows[k]);
                    fill_scenario(&ev, &pi->rows[k], &ri->rows[k]);
                    if (pi->is_outline)
                        name_row(&ri->rows[k], pi);
                    account_scenario(r, &ri->rows[k]);
                    if (!row_decided && ri->rows[k].state != MI_POLICY_PASSED) {
                        item_state = ri->rows[k].state;
                        row_decided = 1;
                    }
                }
            }
            if (!decided && item_state != MI_POLICY_PASSED) {
                rf->state = item_state;
                decided = 1;
            }
        }
        count(&r->feature_counts, rf->state);
    }
    ctx_release(&ev.ctx);
    mi_arena_release(&ev.a);
    rx_cache_free(ev.rx);
    clear_exception(&ev);
    *out = r;
    return 0;
}

/* ==== freeing results ===================================================================== */

static void free_strv(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void free_events(struct mi_policy_event *e, size_t n)
{
    if (!e)
        return;
    for (size_t i = 0; i < n; i++) {
        free(e[i].header);
        free(e[i].text);
    }
    free(e);
}

static void free_scenario_result(struct mi_policy_scenario *s)
{
    free(s->keyword);
    free(s->name);
    free_strv(s->tags, s->ntags);
    for (size_t i = 0; i < s->nsteps; i++) {
        struct mi_policy_step *st = &s->steps[i];
        free(st->sentence);
        free_events(st->events, st->nevents);
        free_events(st->after_events, st->nafter);
        free(st->error_name);
        free(st->error_reason);
    }
    free(s->steps);
    for (size_t i = 0; i < s->nfailures; i++) {
        free(s->failures[i].message);
        free(s->failures[i].address);
        free(s->failures[i].value);
    }
    free(s->failures);
    free_strv(s->cells, s->ncells);
}

void mi_policy_result_free(struct mi_policy_result *r)
{
    if (!r)
        return;
    for (size_t f = 0; f < r->nfeatures; f++) {
        struct mi_policy_feature *ft = &r->features[f];
        free(ft->path);
        free(ft->name);
        free_strv(ft->tags, ft->ntags);
        free_strv(ft->description, ft->ndescription);
        free(ft->background);
        free_strv(ft->background_steps, ft->nbackground);
        free_strv(ft->notices, ft->nnotices);
        for (size_t i = 0; i < ft->nitems; i++) {
            struct mi_policy_item *it = &ft->items[i];
            if (it->scenario) {
                free_scenario_result(it->scenario);
                free(it->scenario);
            }
            free(it->keyword);
            free(it->name);
            free_strv(it->tags, it->ntags);
            free_strv(it->template_steps, it->ntemplate);
            free_strv(it->header, it->nheader);
            for (size_t k = 0; k < it->nrows; k++)
                free_scenario_result(&it->rows[k]);
            free(it->rows);
        }
        free(ft->items);
    }
    free(r->features);
    free(r);
}
