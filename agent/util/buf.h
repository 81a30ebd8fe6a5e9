/*
 * buf.h - the growing string buffer every module builds text with (after git's strbuf).
 *
 * Rules:
 *  - b->ptr is never NULL after mi_buf_init or MI_BUF_INIT and always NUL-terminated, so it
 *    can be passed to any function wanting a C string; b->len excludes the NUL.
 *  - A buffer owns its memory; mi_buf_release frees it and leaves an empty buffer.
 *    mi_buf_detach hands the memory to the caller (caller frees) and resets the buffer.
 *  - Out of memory aborts with a message (as git does); nothing else here fails.
 *  - For data read from the network, check mi_buf_len against a cap before appending.
 */
#ifndef MI_BUF_H
#define MI_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct mi_buf {
    char *ptr;
    size_t len;
    size_t cap;
} mi_buf;

extern char mi_buf_empty[];
#define MI_BUF_INIT {mi_buf_empty, 0, 0}

void mi_buf_init(mi_buf *b);
void mi_buf_release(mi_buf *b);
char *mi_buf_detach(mi_buf *b);
void mi_buf_grow(mi_buf *b, size_t extra);
void mi_buf_add(mi_buf *b, const void *data, size_t len);
void mi_buf_adds(mi_buf *b, const char *s);
void mi_buf_addch(mi_buf *b, char c);
void mi_buf_addf(mi_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mi_buf_vaddf(mi_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void mi_buf_reset(mi_buf *b);
void mi_buf_truncate(mi_buf *b, size_t len);
/* Appends s with JSON string escaping (no surrounding quotes). */
void mi_buf_add_json_escaped(mi_buf *b, const char *s);

/* Memory helpers that abort on exhaustion. */
void *mi_xmalloc(size_t n);
void *mi_xcalloc(size_t count, size_t size);
void *mi_xrealloc(void *p, size_t n);
char *mi_xstrdup(const char *s);
char *mi_xstrndup(const char *s, size_t n);
char *mi_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
