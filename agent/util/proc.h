/*
 * proc.h - running a child process (terraform) the way STYLE.md rule 8 asks (after git's
 * run-command.h).
 *
 * Rules:
 *  - The caller gives the program's path (resolved by us: mi_proc_which), the whole argv and
 *    the whole environment. Nothing goes through a shell, nothing is looked up in PATH by
 *    exec, and an argument is never re-parsed: a branch name stays one argument.
 *  - Between fork and exec the child only makes async-signal-safe calls (setpgid, dup2,
 *    chdir, sigaction, sigprocmask, execve, write, _exit). An exec failure (missing program,
 *    no permission, bad cwd) reaches the parent through a close-on-exec pipe, so the caller
 *    gets "cannot run '/usr/bin/terraform': Permission denied" instead of a mysterious 127.
 *  - File descriptors: the pipes are created close-on-exec; the child gets /dev/null as stdin
 *    and the write ends of the output pipes as stdout and stderr, nothing else. The parent
 *    closes every descriptor it made before mi_proc_run returns, on every path.
 *  - The child runs in its own process group. On a time limit or on cancellation
 *    (util/cancel.h: SIGTERM or SIGINT to us), the group gets one SIGINT - terraform's
 *    "stop gracefully" signal, which it forwards to its providers and answers by releasing
 *    the state lock - then, after grace_ms, SIGKILL. mi_proc_run then returns MI_ETIMEOUT or
 *    MI_ECANCELLED.
 *  - Output: stderr, and stdout unless it is collected (stdout_sink), is split into whole
 *    lines and handed to on_line (without the '\n'), so a log redactor never sees half a
 *    secret; a line longer than MI_PROC_LINE_MAX is handed over in pieces. The same bytes are
 *    captured in result.output, capped at capture_max: past the cap the oldest text is
 *    dropped (the tail, where errors are, is kept) and result.dropped counts it.
 *  - A non-zero exit is not an error of mi_proc_run: it returns 0 and the caller reads
 *    result.exit_code. Errors are: the child could not start, a cap was exceeded on the
 *    collected stdout, the time limit passed, or cancellation.
 *  - Nothing here prints. Not thread-safe with respect to SIGCHLD handlers (none are set).
 */
#ifndef MI_PROC_H
#define MI_PROC_H

#include <stddef.h>

#include "util/buf.h"

#define MI_PROC_LINE_MAX 65536

/* Called for each line of output; is_stderr says which stream it came from. */
typedef void (*mi_proc_line_fn)(void *ctx, const char *line, size_t len, int is_stderr);

struct mi_proc_opts {
    const char *path;        /* absolute or relative path of the program (not searched) */
    char *const *argv;       /* argv[0] is what the child sees as its name; NULL-terminated */
    char *const *env;        /* the complete environment, NULL-terminated; NULL: empty */
    const char *cwd;         /* NULL: ours */
    long timeout_ms;         /* 0: no limit */
    long grace_ms;           /* after SIGINT, before SIGKILL; 0: 10 000 */
    mi_proc_line_fn on_line; /* may be NULL */
    void *line_ctx;
    size_t capture_max; /* cap on result.output; 0: 1 MiB */
    /* When set, stdout is appended here whole (not split into lines, not captured), up to
     * stdout_max bytes (0: 256 MiB); more is an error and stops the child. */
    mi_buf *stdout_sink;
    size_t stdout_max;
};

struct mi_proc_result {
    int exit_code;   /* exit status; 128 + signal when killed by a signal; -1 when not run */
    int term_signal; /* the signal that ended it, or 0 */
    mi_buf output;   /* captured stdout (unless collected) and stderr, interleaved */
    size_t dropped;  /* bytes dropped from the front of output */
    long elapsed_ms;
};

#define MI_PROC_RESULT_INIT                                                                        \
    {                                                                                              \
        -1, 0, MI_BUF_INIT, 0, 0                                                                   \
    }

void mi_proc_result_release(struct mi_proc_result *r);

/* Runs the program and waits for it (see the rules above). out is initialised here. */
int mi_proc_run(struct mi_proc_result *out, const struct mi_proc_opts *opts);

/* Finds name: a name containing '/' is taken as a path; otherwise each directory of
 * path_var (a PATH-style list; NULL: $PATH) is tried. The file must be a regular executable.
 * MI_ENOTFOUND when it is nowhere. *out is allocated (caller frees). */
int mi_proc_which(char **out, const char *name, const char *path_var);

/* A copy of the current environment with changes applied: each "K=V" in set replaces or adds
 * K, each name in unset is removed (both may be NULL). Caller frees with mi_proc_env_free. */
char **mi_proc_env_build(const char *const *set, const char *const *unset);
void mi_proc_env_free(char **env);

#endif
