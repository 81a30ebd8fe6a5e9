/*
 * vjson.c - a streaming JSON reader that builds value.h values.
 *
 * Containers are collected on one shared scratch stack and copied into the arena, exactly
 * sized, when they close; keys go through an intern table so equal keys share one pointer,
 * which also makes the duplicate-key check a pointer comparison.
 */
#include "policy/vjson.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/error.h"
#include "util/banned.h"

#define READ_BLOCK (256 * 1024)

/* ---- key interning -------------------------------------------------------------------- */

struct intern {
    mi_key **slots;
    size_t cap, n;
};

static uint32_t hash_bytes(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

static mi_key *intern_key(struct intern *t, mi_arena *a, const char *s, size_t len)
{
    if (!t)
        return mi_value_key(a, s, len);
    if (t->n * 2 >= t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 1024;
        mi_key **ns = mi_xcalloc(ncap, sizeof(*ns));
        for (size_t i = 0; i < t->cap; i++) {
            mi_key *k = t->slots[i];
            if (!k)
                continue;
            size_t j = hash_bytes(k, MI_KEY_LEN(k)) & (ncap - 1);
            while (ns[j])
                j = (j + 1) & (ncap - 1);
            ns[j] = k;
        }
        free(t->slots);
        t->slots = ns;
        t->cap = ncap;
    }
    size_t j = hash_bytes(s, len) & (t->cap - 1);
    while (t->slots[j]) {
        mi_key *k = t->slots[j];
        if (MI_KEY_LEN(k) == len && memcmp(k, s, len) == 0)
            return k;
        j = (j + 1) & (t->cap - 1);
    }
    mi_key *k = mi_value_key(a, s, len);
    t->slots[j] = k;
    t->n++;
    return k;
}

/* ---- reader --------------------------------------------------------------------------- */

struct reader {
    const char *name;
    int fd; /* -1: memory only */
    const unsigned char *p, *end;
    unsigned char *block; /* owned read buffer for fd input */
    size_t total, max_bytes;
    int line;
    const unsigned char *line_start; /* for the column; reset on refill */
    int col_base;
    int strict; /* jsonify mode: no NaN, no lone surrogates, no errors recorded */
    int io_error;
    mi_arena *arena;
    struct intern *keys;
    mi_buf scratch; /* string bytes being decoded */
    mi_value *stack;
    mi_key **kstack;
    size_t sn, scap;
    int failed;
};

static int refill(struct reader *r)
{
    if (r->fd < 0 || r->io_error)
        return 0;
    r->col_base += (int)(r->end - r->line_start);
    for (;;) {
        ssize_t n = read(r->fd, r->block, READ_BLOCK);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            mi_error_errno(MI_ERR, "cannot read '%s'", r->name);
            r->io_error = 1;
            return 0;
        }
        if (n == 0)
            return 0;
        r->total += (size_t)n;
        if (r->max_bytes && r->total > r->max_bytes) {
            mi_error_set(MI_ERR, "'%s' is larger than the limit of %zu bytes", r->name,
                         r->max_bytes);
            r->io_error = 1;
            return 0;
        }
        r->p = r->block;
        r->end = r->block + n;
        r->line_start = r->p;
        return 1;
    }
}

static inline int peek(struct reader *r)
{
    if (r->p == r->end && !refill(r))
        return -1;
    return *r->p;
}

static inline void advance(struct reader *r)
{
    if (*r->p == '\n') {
        r->line++;
        r->line_start = r->p + 1;
        r->col_base = 0;
    }
    r->p++;
}

static int fail(struct reader *r, const char *what)
{
    if (!r->failed && !r->strict && !r->io_error) {
        int col = r->col_base + (int)(r->p - r->line_start) + 1;
        mi_error_set(MI_ERR, "%s:%d:%d: %s", r->name, r->line, col, what);
    }
    r->failed = 1;
    return -1;
}

static void skip_ws(struct reader *r)
{
    for (;;) {
        int c = peek(r);
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
            advance(r);
        else
            return;
    }
}

static void push(struct reader *r, mi_key *k, mi_value v)
{
    if (r->sn == r->scap) {
        r->scap = r->scap ? r->scap * 2 : 1024;
        r->stack = mi_xrealloc(r->stack, r->scap * sizeof(*r->stack));
        r->kstack = mi_xrealloc(r->kstack, r->scap * sizeof(*r->kstack));
    }
    r->kstack[r->sn] = k;
    r->stack[r->sn] = v;
    r->sn++;
}

static int expect_word(struct reader *r, const char *w)
{
    for (const char *q = w; *q; q++) {
        if (peek(r) != (unsigned char)*q)
            return fail(r, "invalid literal");
        advance(r);
    }
    return 0;
}

static void put_utf8(mi_buf *b, uint32_t cp)
{
    if (cp < 0x80) {
        mi_buf_addch(b, (char)cp);
    } else if (cp < 0x800) {
        mi_buf_addch(b, (char)(0xC0 | (cp >> 6)));
        mi_buf_addch(b, (char)(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        mi_buf_addch(b, (char)(0xE0 | (cp >> 12)));
        mi_buf_addch(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
        mi_buf_addch(b, (char)(0x80 | (cp & 0x3F)));
    } else {
        mi_buf_addch(b, (char)(0xF0 | (cp >> 18)));
        mi_buf_addch(b, (char)(0x80 | ((cp >> 12) & 0x3F)));
        mi_buf_addch(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
        mi_buf_addch(b, (char)(0x80 | (cp & 0x3F)));
    }
}

static int hex4(struct reader *r, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int c = peek(r);
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return fail(r, "invalid \\u escape");
        v = v * 16 + (uint32_t)d;
        advance(r);
    }
    *out = v;
    return 0;
}

/* Handles the escape whose letter c (after the backslash) was just consumed. */
static int read_escape(struct reader *r, int c)
{
    switch (c) {
    case '"':
    case '\\':
    case '/':
        mi_buf_addch(&r->scratch, (char)c);
        return 0;
    case 'b':
        mi_buf_addch(&r->scratch, '\b');
        return 0;
    case 'f':
        mi_buf_addch(&r->scratch, '\f');
        return 0;
    case 'n':
        mi_buf_addch(&r->scratch, '\n');
        return 0;
    case 'r':
        mi_buf_addch(&r->scratch, '\r');
        return 0;
    case 't':
        mi_buf_addch(&r->scratch, '\t');
        return 0;
    case 'u':
        break;
    default:
        return fail(r, "invalid escape in string");
    }
    uint32_t cp;
    if (hex4(r, &cp) < 0)
        return -1;
    if (cp >= 0xDC00 && cp < 0xE000) {
        if (r->strict)
            return fail(r, "lone surrogate");
        put_utf8(&r->scratch, cp);
        return 0;
    }
    if (cp < 0xD800 || cp >= 0xDC00) {
        put_utf8(&r->scratch, cp);
        return 0;
    }
    /* A high surrogate should be followed by an escaped low one. */
    if (peek(r) != '\\') {
        if (r->strict)
            return fail(r, "lone surrogate");
        put_utf8(&r->scratch, cp);
        return 0;
    }
    advance(r);
    int c2 = peek(r);
    if (c2 < 0)
        return fail(r, "unterminated string");
    advance(r);
    if (c2 != 'u') {
        if (r->strict)
            return fail(r, "lone surrogate");
        put_utf8(&r->scratch, cp);
        return read_escape(r, c2);
    }
    uint32_t lo;
    if (hex4(r, &lo) < 0)
        return -1;
    if (lo >= 0xDC00 && lo < 0xE000) {
        put_utf8(&r->scratch, 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00));
        return 0;
    }
    if (r->strict)
        return fail(r, "lone surrogate");
    put_utf8(&r->scratch, cp);
    put_utf8(&r->scratch, lo);
    return 0;
}

/* Reads a string (the opening quote already consumed) into r->scratch. */
static int read_string(struct reader *r)
{
    mi_buf_reset(&r->scratch);
    for (;;) {
        if (r->p == r->end && !refill(r))
            return fail(r, "unterminated string");
        /* Copy the run of plain bytes in one go. */
        const unsigned char *s = r->p;
        while (s < r->end && *s != '"' && *s != '\\' && *s >= 0x20)
            s++;
        if (s > r->p) {
            mi_buf_add(&r->scratch, r->p, (size_t)(s - r->p));
            r->p = s;
            continue;
        }
        int c = *r->p;
        if (c == '"') {
            advance(r);
            return 0;
        }
        if (c < 0x20)
            return fail(r, "control character in string");
        advance(r); /* backslash */
        c = peek(r);
        if (c < 0)
            return fail(r, "unterminated string");
        advance(r);
        if (read_escape(r, c) < 0)
            return -1;
    }
}

static int read_number(struct reader *r, mi_value *out)
{
    char num[64];
    size_t n = 0;
    int is_float = 0;
    int c = peek(r);
    if (c == '-') {
        num[n++] = '-';
        advance(r);
        c = peek(r);
        if (c == 'I') {
            if (r->strict || expect_word(r, "Infinity") < 0)
                return fail(r, "invalid number");
            *out = mi_v_float(-INFINITY);
            return 0;
        }
    }
    if (c == '0') {
        num[n++] = '0';
        advance(r);
        c = peek(r);
    } else if (c >= '1' && c <= '9') {
        while (c >= '0' && c <= '9') {
            if (n < sizeof(num) - 1)
                num[n++] = (char)c;
            else
                is_float = 2; /* too long for int64 and our buffer: keep as float */
            advance(r);
            c = peek(r);
        }
    } else {
        return fail(r, "invalid number");
    }
    if (c == '.') {
        is_float = is_float ? is_float : 1;
        if (n < sizeof(num) - 1)
            num[n++] = '.';
        advance(r);
        c = peek(r);
        if (!(c >= '0' && c <= '9'))
            return fail(r, "invalid number: digit expected after '.'");
        while (c >= '0' && c <= '9') {
            if (n < sizeof(num) - 1)
                num[n++] = (char)c;
            advance(r);
            c = peek(r);
        }
    }
    if (c == 'e' || c == 'E') {
        is_float = is_float ? is_float : 1;
        if (n < sizeof(num) - 1)
            num[n++] = 'e';
        advance(r);
        c = peek(r);
        if (c == '+' || c == '-') {
            if (n < sizeof(num) - 1)
                num[n++] = (char)c;
            advance(r);
            c = peek(r);
        }
        if (!(c >= '0' && c <= '9'))
            return fail(r, "invalid number: digit expected in exponent");
        while (c >= '0' && c <= '9') {
            if (n < sizeof(num) - 1)
                num[n++] = (char)c;
            advance(r);
            c = peek(r);
        }
    }
    num[n] = '\0';
    if (is_float == 2) {
        /* Digits beyond our buffer: the magnitude is huge; a float approximates it. */
        *out = mi_v_float(num[0] == '-' ? -INFINITY : INFINITY);
        return 0;
    }
    if (!is_float) {
        errno = 0;
        char *end = NULL;
        long long v = strtoll(num, &end, 10);
        if (errno == 0 && end && *end == '\0') {
            *out = mi_v_int(v);
            return 0;
        }
    }
    *out = mi_v_float(strtod(num, NULL));
    return 0;
}

static int parse_value(struct reader *r, mi_value *out, int depth);

static int finish_container(struct reader *r, size_t base, int is_dict, mi_value *out)
{
    size_t n = r->sn - base;
    if (!is_dict) {
        mi_value *items = NULL;
        if (n) {
            items = mi_arena_alloc(r->arena, n * sizeof(*items));
            memcpy(items, r->stack + base, n * sizeof(*items));
        }
        *out = mi_v_list_of(items, n);
        r->sn = base;
        return 0;
    }
    /* Repeated keys: Python keeps the first position with the last value. Small objects
     * compare keys directly; large ones use a hash of the (interned) key pointers. */
    size_t w = 0;
    mi_kv *kv = n ? mi_arena_alloc(r->arena, n * sizeof(*kv)) : NULL;
    size_t hcap = 0;
    uint32_t *slots = NULL; /* index+1 into kv */
    if (n > 16) {
        hcap = 32;
        while (hcap < n * 2)
            hcap *= 2;
        slots = mi_xcalloc(hcap, sizeof(*slots));
    }
    for (size_t i = 0; i < n; i++) {
        mi_key *k = r->kstack[base + i];
        size_t klen = MI_KEY_LEN(k);
        size_t found = SIZE_MAX;
        if (slots) {
            size_t h = hash_bytes(k, klen) & (hcap - 1);
            while (slots[h]) {
                mi_key *o = kv[slots[h] - 1].key;
                if (o == k || (MI_KEY_LEN(o) == klen && memcmp(o, k, klen) == 0)) {
                    found = slots[h] - 1;
                    break;
                }
                h = (h + 1) & (hcap - 1);
            }
            if (found == SIZE_MAX)
                slots[h] = (uint32_t)(w + 1);
        } else {
            for (size_t j = 0; j < w; j++) {
                mi_key *o = kv[j].key;
                if (o == k || (MI_KEY_LEN(o) == klen && memcmp(o, k, klen) == 0)) {
                    found = j;
                    break;
                }
            }
        }
        if (found != SIZE_MAX) {
            kv[found].v = r->stack[base + i];
        } else {
            kv[w].key = k;
            kv[w].v = r->stack[base + i];
            w++;
        }
    }
    free(slots);
    *out = mi_v_dict_of(kv, w);
    r->sn = base;
    return 0;
}

static int parse_container(struct reader *r, int is_dict, mi_value *out, int depth)
{
    if (depth >= MI_VJSON_MAX_DEPTH)
        return fail(r, "nesting too deep");
    advance(r); /* [ or { */
    size_t base = r->sn;
    skip_ws(r);
    int close = is_dict ? '}' : ']';
    if (peek(r) == close) {
        advance(r);
        *out = is_dict ? mi_v_empty_dict() : mi_v_empty_list();
        return 0;
    }
    for (;;) {
        mi_key *key = NULL;
        if (is_dict) {
            if (peek(r) != '"')
                return fail(r, "expected a string key");
            advance(r);
            if (read_string(r) < 0)
                return -1;
            key = intern_key(r->keys, r->arena, r->scratch.ptr, r->scratch.len);
            skip_ws(r);
            if (peek(r) != ':')
                return fail(r, "expected ':' after key");
            advance(r);
            skip_ws(r);
        }
        mi_value v;
        if (parse_value(r, &v, depth + 1) < 0)
            return -1;
        push(r, key, v);
        skip_ws(r);
        int c = peek(r);
        if (c == ',') {
            advance(r);
            skip_ws(r);
            continue;
        }
        if (c == close) {
            advance(r);
            return finish_container(r, base, is_dict, out);
        }
        return fail(r, is_dict ? "expected ',' or '}' after object member"
                               : "expected ',' or ']' after array element");
    }
}

static int parse_value(struct reader *r, mi_value *out, int depth)
{
    int c = peek(r);
    switch (c) {
    case '{':
        return parse_container(r, 1, out, depth);
    case '[':
        return parse_container(r, 0, out, depth);
    case '"':
        advance(r);
        if (read_string(r) < 0)
            return -1;
        *out = mi_v_str(r->arena, r->scratch.ptr, r->scratch.len);
        return 0;
    case 't':
        if (expect_word(r, "true") < 0)
            return -1;
        *out = mi_v_bool(1);
        return 0;
    case 'f':
        if (expect_word(r, "false") < 0)
            return -1;
        *out = mi_v_bool(0);
        return 0;
    case 'n':
        if (expect_word(r, "null") < 0)
            return -1;
        *out = mi_v_null();
        return 0;
    case 'N':
        if (r->strict || expect_word(r, "NaN") < 0)
            return fail(r, "invalid literal");
        *out = mi_v_float(NAN);
        return 0;
    case 'I':
        if (r->strict || expect_word(r, "Infinity") < 0)
            return fail(r, "invalid literal");
        *out = mi_v_float(INFINITY);
        return 0;
    case -1:
        return fail(r, "unexpected end of input");
    default:
        if (c == '-' || (c >= '0' && c <= '9'))
            return read_number(r, out);
        return fail(r, "unexpected character");
    }
}

static int parse_document(struct reader *r, mi_value *out)
{
    skip_ws(r);
    if (peek(r) < 0 && !r->io_error)
        return fail(r, "empty document");
    int rc = parse_value(r, out, 0);
    if (rc == 0) {
        skip_ws(r);
        if (peek(r) >= 0)
            rc = fail(r, "extra data after the JSON document");
    }
    if (r->io_error)
        rc = -1;
    return rc;
}

static void reader_release(struct reader *r)
{
    mi_buf_release(&r->scratch);
    free(r->stack);
    free(r->kstack);
    free(r->block);
    if (r->keys)
        free(r->keys->slots);
}

int mi_vjson_parse_file(mi_arena *a, const char *path, size_t max_bytes, mi_value *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mi_error_errno(errno == ENOENT ? MI_ENOTFOUND : MI_ERR, "cannot open '%s'", path);
    struct intern keys = {0};
    struct reader r = {0};
    r.name = path;
    r.fd = fd;
    r.block = mi_xmalloc(READ_BLOCK);
    r.p = r.end = r.line_start = r.block;
    r.max_bytes = max_bytes;
    r.line = 1;
    r.arena = a;
    r.keys = &keys;
    mi_buf_init(&r.scratch);
    int rc = parse_document(&r, out);
    close(fd);
    reader_release(&r);
    return rc < 0 ? MI_ERR : 0;
}

int mi_vjson_parse_mem(mi_arena *a, const char *name, const char *data, size_t len,
                       mi_value *out)
{
    struct intern keys = {0};
    struct reader r = {0};
    r.name = name;
    r.fd = -1;
    r.p = r.line_start = (const unsigned char *)data;
    r.end = r.p + len;
    r.line = 1;
    r.arena = a;
    r.keys = &keys;
    mi_buf_init(&r.scratch);
    int rc = parse_document(&r, out);
    reader_release(&r);
    return rc < 0 ? MI_ERR : 0;
}

int mi_vjson_try(mi_arena *a, const char *s, size_t len, mi_value *out)
{
    /* Cheap rejection first: most strings are plain words, never JSON. */
    size_t i = 0;
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    if (i == len)
        return 0;
    char c = s[i];
    if (!(c == '{' || c == '[' || c == '"' || c == '-' || (c >= '0' && c <= '9') || c == 't' ||
          c == 'f' || c == 'n'))
        return 0;
    struct reader r = {0};
    r.name = "";
    r.fd = -1;
    r.p = r.line_start = (const unsigned char *)s;
    r.end = r.p + len;
    r.line = 1;
    r.arena = a;
    r.keys = NULL;
    r.strict = 1;
    mi_buf_init(&r.scratch);
    mi_value v;
    int rc = parse_document(&r, &v);
    reader_release(&r);
    if (rc < 0)
        return 0;
    *out = v;
    return 1;
}
