#include "util/error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Messages longer than this are cut; they are for people, and 4 KiB is a screenful. */
#define MI_ERROR_MAX 4096

static _Thread_local char last_message[MI_ERROR_MAX];
static _Thread_local int last_code;

int mi_error_setv(int code, const char *fmt, va_list ap)
{
    vsnprintf(last_message, sizeof(last_message), fmt, ap);
    last_code = code;
    return code;
}

int mi_error_set(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mi_error_setv(code, fmt, ap);
    va_end(ap);
    return code;
}

int mi_error_errno(int code, const char *fmt, ...)
{
    int saved = errno;
    char head[MI_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof(head), fmt, ap);
    va_end(ap);
    return mi_error_set(code, "%s: %s", head, strerror(saved));
}

int mi_error_prefix(const char *fmt, ...)
{
    char head[MI_ERROR_MAX];
    char old[MI_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof(head), fmt, ap);
    va_end(ap);
    memcpy(old, last_message, sizeof(old));
    /* Truncation is acceptable: the message is for a person and already 4 KiB long. */
    size_t hl = strlen(head);
    if (hl > sizeof(last_message) - 3)
        hl = sizeof(last_message) - 3;
    memcpy(last_message, head, hl);
    memcpy(last_message + hl, ": ", 2);
    size_t room = sizeof(last_message) - hl - 3;
    size_t ol = strnlen(old, room);
    memcpy(last_message + hl + 2, old, ol);
    last_message[hl + 2 + ol] = '\0';
    return last_code;
}

const char *mi_error_last(void)
{
    return last_message[0] ? last_message : "unknown error";
}

int mi_error_last_code(void)
{
    return last_code;
}

void mi_error_clear(void)
{
    last_message[0] = '\0';
    last_code = MI_OK;
}

int mi_error_exit_code(int code)
{
    switch (code) {
    case MI_OK:
        return MI_EXIT_OK;
    case MI_EUSAGE:
        return MI_EXIT_USAGE;
    case MI_EPOLICY:
        return MI_EXIT_POLICY;
    case MI_EREFUSED:
        return MI_EXIT_REFUSED;
    default:
        return MI_EXIT_ERROR;
    }
}
