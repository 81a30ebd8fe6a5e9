#include "util/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char mi_buf_empty[1];

static void die_oom(size_t n)
{
    fprintf(stderr, "mlinfra: fatal: out of memory allocating %zu bytes\n", n);
    abort();
}

void *mi_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die_oom(n);
    return p;
}

void *mi_xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        die_oom(count * size);
    return p;
}

void *mi_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        die_oom(n);
    return q;
}

char *mi_xstrdup(const char *s)
{
    return mi_xstrndup(s, strlen(s));
}

char *mi_xstrndup(const char *s, size_t n)
{
    char *p = mi_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *mi_xasprintf(const char *fmt, ...)
{
    mi_buf b = MI_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    mi_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    return mi_buf_detach(&b);
}

void mi_buf_init(mi_buf *b)
{
    b->ptr = mi_buf_empty;
    b->len = 0;
    b->cap = 0;
}

void mi_buf_release(mi_buf *b)
{
    if (b->cap)
        free(b->ptr);
    mi_buf_init(b);
}

char *mi_buf_detach(mi_buf *b)
{
    char *p = b->cap ? b->ptr : mi_xstrdup("");
    mi_buf_init(b);
    return p;
}

void mi_buf_grow(mi_buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len - 1)
        die_oom(SIZE_MAX);
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (b->cap) {
        b->ptr = mi_xrealloc(b->ptr, cap);
    } else {
        b->ptr = mi_xmalloc(cap);
        b->ptr[0] = '\0';
    }
    b->cap = cap;
}

void mi_buf_add(mi_buf *b, const void *data, size_t len)
{
    if (!len)
        return;
    mi_buf_grow(b, len);
    memcpy(b->ptr + b->len, data, len);
    b->len += len;
    b->ptr[b->len] = '\0';
}

void mi_buf_adds(mi_buf *b, const char *s)
{
    mi_buf_add(b, s, strlen(s));
}

void mi_buf_addch(mi_buf *b, char c)
{
    mi_buf_add(b, &c, 1);
}

void mi_buf_vaddf(mi_buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n <= 0)
        return;
    mi_buf_grow(b, (size_t)n);
    vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void mi_buf_addf(mi_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mi_buf_vaddf(b, fmt, ap);
    va_end(ap);
}

void mi_buf_reset(mi_buf *b)
{
    mi_buf_truncate(b, 0);
}

void mi_buf_truncate(mi_buf *b, size_t len)
{
    if (len >= b->len)
        return;
    b->len = len;
    b->ptr[len] = '\0';
}

void mi_buf_add_json_escaped(mi_buf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            mi_buf_adds(b, "\\\"");
            break;
        case '\\':
            mi_buf_adds(b, "\\\\");
            break;
        case '\n':
            mi_buf_adds(b, "\\n");
            break;
        case '\r':
            mi_buf_adds(b, "\\r");
            break;
        case '\t':
            mi_buf_adds(b, "\\t");
            break;
        default:
            if (*p < 0x20)
                mi_buf_addf(b, "\\u%04x", *p);
            else
                mi_buf_addch(b, (char)*p);
        }
    }
}
