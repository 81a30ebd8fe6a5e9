/*
 * error.h - the one way modules report failure.
 *
 * Rules:
 *  - A function that can fail returns int: 0 on success, a negative MI_E* code on failure.
 *  - The message is set once, where the failure is first known, with its context (file and
 *    line, the value, the endpoint) and any third-party text (strerror, curl, libgit2,
 *    libyaml). Callers on the way up pass the code through and do not overwrite the message;
 *    they may add a prefix with mi_error_prefix() to say what they were doing.
 *  - The last error is per thread. mi_error_last() returns a borrowed string, valid until
 *    the next mi_error_* call on the same thread; never NULL.
 *  - Modules never print and never exit; commands (agent/cmd) report errors and choose the
 *    exit code, via mi_error_exit_code().
 */
#ifndef MI_ERROR_H
#define MI_ERROR_H

#include <stdarg.h>

enum mi_error_code {
    MI_OK = 0,
    MI_ERR = -1,          /* operational failure: I/O, network, bad data */
    MI_ENOTFOUND = -2,    /* the thing looked for does not exist */
    MI_EAUTH = -3,        /* credentials missing, wrong or lacking a permission */
    MI_ECONFLICT = -4,    /* held by someone else: a lease, a lock */
    MI_EPOLICY = -5,      /* a policy was violated or a change window is closed */
    MI_EREFUSED = -6,     /* a plan was refused: tampered, stale, mismatched, applied */
    MI_EUSAGE = -7,       /* the caller's arguments or configuration are wrong */
    MI_ETIMEOUT = -8,     /* a time limit passed */
    MI_ECANCELLED = -9,   /* a signal asked us to stop */
};

/* Exit codes of DESIGN.md section 9. */
enum mi_exit_code {
    MI_EXIT_OK = 0,
    MI_EXIT_ERROR = 1,
    MI_EXIT_USAGE = 2,
    MI_EXIT_POLICY = 3,
    MI_EXIT_REFUSED = 4,
};

/* Sets the thread's last error and returns code, so callers can write
 * `return mi_error_set(MI_ERR, "config: %s:%d: unknown key '%s'", path, line, key);` */
int mi_error_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int mi_error_setv(int code, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Like mi_error_set, with ": strerror(errno)" appended (errno read on entry). */
int mi_error_errno(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Puts "prefix: " in front of the current message; returns the current code. */
int mi_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

const char *mi_error_last(void);
int mi_error_last_code(void);
void mi_error_clear(void);

/* The exit code a command should return for an error code. */
int mi_error_exit_code(int code);

#endif
