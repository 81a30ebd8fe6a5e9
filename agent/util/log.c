#include "util/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/buf.h"

static FILE *log_stream;
static int github_mode;
static int use_colour;
static int debug_enabled;
static int in_group;

/* The registry is shared with the store's lease-renewal thread, which may mask a refreshed
 * token while the main thread logs. */
static pthread_mutex_t secrets_lock = PTHREAD_MUTEX_INITIALIZER;
static char **secrets;
static size_t secrets_len;

static FILE *stream(void)
{
    return log_stream ? log_stream : stderr;
}

static void decide_colour(void)
{
    const char *no_colour = getenv("NO_COLOR");
    use_colour = !github_mode && !(no_colour && *no_colour) && isatty(fileno(stream()));
}

void mi_log_init(void)
{
    const char *gh = getenv("GITHUB_ACTIONS");
    const char *dbg = getenv("MLINFRA_DEBUG");
    const char *rdbg = getenv("RUNNER_DEBUG");
    github_mode = gh && strcmp(gh, "true") == 0;
    debug_enabled = (dbg && *dbg && strcmp(dbg, "0") != 0) || (rdbg && strcmp(rdbg, "1") == 0);
    decide_colour();
}

void mi_log_set_stream(FILE *s)
{
    log_stream = s;
    decide_colour();
}

int mi_log_is_github(void)
{
    return github_mode;
}

void mi_log_redact(mi_buf *out, const char *text, size_t len)
{
    pthread_mutex_lock(&secrets_lock);
    size_t i = 0;
    while (i < len) {
        size_t hit_len = 0;
        for (size_t s = 0; s < secrets_len; s++) {
            size_t sl = strlen(secrets[s]);
            if (sl <= len - i && memcmp(text + i, secrets[s], sl) == 0 && sl > hit_len)
                hit_len = sl;
        }
        if (hit_len) {
            mi_buf_adds(out, "***");
            i += hit_len;
        } else {
            mi_buf_addch(out, text[i]);
            i++;
        }
    }
    pthread_mutex_unlock(&secrets_lock);
}

void mi_log_mask(const char *secret)
{
    if (!secret || strlen(secret) < 4)
        return;
    pthread_mutex_lock(&secrets_lock);
    for (size_t i = 0; i < secrets_len; i++)
        if (strcmp(secrets[i], secret) == 0) {
            pthread_mutex_unlock(&secrets_lock);
            return;
        }
    secrets = mi_xrealloc(secrets, (secrets_len + 1) * sizeof(*secrets));
    secrets[secrets_len++] = mi_xstrdup(secret);
    pthread_mutex_unlock(&secrets_lock);
    if (github_mode) {
        /* The runner needs the value itself to mask it; this line is consumed, not shown. */
        mi_buf b = MI_BUF_INIT;
        mi_log_escape_data(&b, secret);
        fprintf(stream(), "::add-mask::%s\n", b.ptr);
        mi_buf_release(&b);
    }
}

void mi_log_mask_reset(void)
{
    pthread_mutex_lock(&secrets_lock);
    for (size_t i = 0; i < secrets_len; i++)
        free(secrets[i]);
    free(secrets);
    secrets = NULL;
    secrets_len = 0;
    pthread_mutex_unlock(&secrets_lock);
}

void mi_log_escape_data(mi_buf *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '%')
            mi_buf_adds(out, "%25");
        else if (*s == '\r')
            mi_buf_adds(out, "%0D");
        else if (*s == '\n')
            mi_buf_adds(out, "%0A");
        else
            mi_buf_addch(out, *s);
    }
}

void mi_log_escape_property(mi_buf *out, const char *s)
{
    for (; *s; s++) {
        if (*s == ':')
            mi_buf_adds(out, "%3A");
        else if (*s == ',')
            mi_buf_adds(out, "%2C");
        else if (*s == '%')
            mi_buf_adds(out, "%25");
        else if (*s == '\r')
            mi_buf_adds(out, "%0D");
        else if (*s == '\n')
            mi_buf_adds(out, "%0A");
        else
            mi_buf_addch(out, *s);
    }
}

static const char *level_word(enum mi_log_level level)
{
    switch (level) {
    case MI_LOG_DEBUG:
        return "debug";
    case MI_LOG_INFO:
        return "info";
    case MI_LOG_NOTICE:
        return "notice";
    case MI_LOG_WARNING:
        return "warning";
    case MI_LOG_ERROR:
        return "error";
    }
    return "info";
}

static const char *level_colour(enum mi_log_level level)
{
    switch (level) {
    case MI_LOG_DEBUG:
        return "\033[2m";
    case MI_LOG_NOTICE:
        return "\033[36m";
    case MI_LOG_WARNING:
        return "\033[33m";
    case MI_LOG_ERROR:
        return "\033[31m";
    default:
        return "";
    }
}

static void emit(enum mi_log_level level, const char *file, int line, const char *title,
                 const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));
static void emit(enum mi_log_level level, const char *file, int line, const char *title,
                 const char *fmt, va_list ap)
{
    if (level == MI_LOG_DEBUG && !debug_enabled)
        return;
    mi_buf raw = MI_BUF_INIT, msg = MI_BUF_INIT, out = MI_BUF_INIT;
    mi_buf_vaddf(&raw, fmt, ap);
    mi_log_redact(&msg, raw.ptr, raw.len);

    if (github_mode) {
        if (level == MI_LOG_INFO) {
            mi_buf_add(&out, msg.ptr, msg.len);
        } else {
            mi_buf_addf(&out, "::%s", level_word(level));
            int props = 0;
            if (file) {
                mi_buf_adds(&out, " file=");
                mi_log_escape_property(&out, file);
                props = 1;
                if (line > 0)
                    mi_buf_addf(&out, ",line=%d", line);
            }
            if (title) {
                mi_buf_adds(&out, props ? ",title=" : " title=");
                mi_log_escape_property(&out, title);
            }
            mi_buf_adds(&out, "::");
            mi_log_escape_data(&out, msg.ptr);
        }
    } else {
        if (file) {
            mi_buf_adds(&out, file);
            if (line > 0)
                mi_buf_addf(&out, ":%d", line);
            mi_buf_adds(&out, ": ");
        }
        if (level != MI_LOG_INFO) {
            if (use_colour)
                mi_buf_addf(&out, "%s%s\033[0m: ", level_colour(level), level_word(level));
            else
                mi_buf_addf(&out, "%s: ", level_word(level));
        }
        if (title)
            mi_buf_addf(&out, "%s: ", title);
        mi_buf_add(&out, msg.ptr, msg.len);
    }
    mi_buf_addch(&out, '\n');
    fwrite(out.ptr, 1, out.len, stream());
    fflush(stream());
    mi_buf_release(&raw);
    mi_buf_release(&msg);
    mi_buf_release(&out);
}

void mi_log(enum mi_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(level, NULL, 0, NULL, fmt, ap);
    va_end(ap);
}

void mi_log_annotate(enum mi_log_level level, const char *file, int line, const char *title,
                     const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(level, file, line, title, fmt, ap);
    va_end(ap);
}

void mi_log_group_begin(const char *fmt, ...)
{
    mi_buf raw = MI_BUF_INIT, msg = MI_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    mi_buf_vaddf(&raw, fmt, ap);
    va_end(ap);
    mi_log_redact(&msg, raw.ptr, raw.len);
    if (in_group)
        mi_log_group_end();
    if (github_mode)
        fprintf(stream(), "::group::%s\n", msg.ptr);
    else if (use_colour)
        fprintf(stream(), "\033[1m== %s\033[0m\n", msg.ptr);
    else
        fprintf(stream(), "== %s\n", msg.ptr);
    fflush(stream());
    in_group = 1;
    mi_buf_release(&raw);
    mi_buf_release(&msg);
}

void mi_log_group_end(void)
{
    if (!in_group)
        return;
    if (github_mode)
        fputs("::endgroup::\n", stream());
    fflush(stream());
    in_group = 0;
}

void mi_log_raw(const char *data, size_t len)
{
    mi_buf msg = MI_BUF_INIT;
    mi_log_redact(&msg, data, len);
    fwrite(msg.ptr, 1, msg.len, stream());
    fflush(stream());
    mi_buf_release(&msg);
}
