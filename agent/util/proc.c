/*
 * proc.c - fork/exec with pipes, a deadline and cancellation. See proc.h for the rules.
 */
#include "util/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/cancel.h"
#include "util/error.h"
#include "util/banned.h"

extern char **environ;

/* How long we keep reading after the child exited while something it started still holds
 * the pipes open (a provider plugin that outlived terraform). */
#define DRAIN_AFTER_EXIT_MS 1000
/* Upper bound on one poll(2) wait, so a signal that arrives just before poll is noticed. */
#define POLL_SLICE_MS 100

void mi_proc_result_release(struct mi_proc_result *r)
{
    if (!r)
        return;
    mi_buf_release(&r->output);
    r->exit_code = -1;
    r->term_signal = 0;
    r->dropped = 0;
    r->elapsed_ms = 0;
}

/* ---- output handling ------------------------------------------------------------------- */

struct stream {
    int fd;
    int is_stderr;
    mi_buf partial; /* the line being assembled */
};

struct run {
    const struct mi_proc_opts *opts;
    struct mi_proc_result *res;
    size_t capture_max;
    size_t stdout_max;
    int sink_overflow;
};

static void capture(struct run *r, const char *data, size_t len)
{
    mi_buf *o = &r->res->output;
    mi_buf_add(o, data, len);
    if (o->len <= r->capture_max)
        return;
    /* Keep the newest three quarters of the cap, starting at a line boundary. */
    size_t drop = o->len - r->capture_max / 4 * 3;
    const char *nl = memchr(o->ptr + drop, '\n', o->len - drop);
    if (nl)
        drop = (size_t)(nl - o->ptr) + 1;
    memmove(o->ptr, o->ptr + drop, o->len - drop);
    mi_buf_truncate(o, o->len - drop);
    r->res->dropped += drop;
}

static void emit_line(struct run *r, struct stream *s, const char *line, size_t len)
{
    if (r->opts->on_line)
        r->opts->on_line(r->opts->line_ctx, line, len, s->is_stderr);
    capture(r, line, len);
    capture(r, "\n", 1);
}

static void feed(struct run *r, struct stream *s, const char *data, size_t len)
{
    if (!s->is_stderr && r->opts->stdout_sink) {
        mi_buf *sink = r->opts->stdout_sink;
        if (sink->len + len > r->stdout_max) {
            r->sink_overflow = 1;
            return;
        }
        mi_buf_add(sink, data, len);
        return;
    }
    mi_buf_add(&s->partial, data, len);
    size_t start = 0;
    for (;;) {
        const char *nl = memchr(s->partial.ptr + start, '\n', s->partial.len - start);
        if (!nl)
            break;
        size_t end = (size_t)(nl - s->partial.ptr);
        size_t line_len = end - start;
        if (line_len && s->partial.ptr[end - 1] == '\r')
            line_len--;
        emit_line(r, s, s->partial.ptr + start, line_len);
        start = end + 1;
    }
    while (s->partial.len - start > MI_PROC_LINE_MAX) {
        emit_line(r, s, s->partial.ptr + start, MI_PROC_LINE_MAX);
        start += MI_PROC_LINE_MAX;
    }
    if (start) {
        memmove(s->partial.ptr, s->partial.ptr + start, s->partial.len - start);
        mi_buf_truncate(&s->partial, s->partial.len - start);
    }
}

static void finish_stream(struct run *r, struct stream *s)
{
    if (s->partial.len)
        emit_line(r, s, s->partial.ptr, s->partial.len);
    mi_buf_release(&s->partial);
}

/* ---- the child side: async-signal-safe only ------------------------------------------- */

struct exec_failure {
    int stage; /* 0 dup2, 1 chdir, 2 execve */
    int err;
};

static void child_fail(int report_fd, int stage)
{
    struct exec_failure f = {stage, errno};
    ssize_t ignored = write(report_fd, &f, sizeof(f));
    (void)ignored;
    _exit(127);
}

static void child_fd(int from, int to, int report_fd)
{
    if (from == to) {
        /* dup2 onto itself keeps close-on-exec; clear it so the child inherits the fd. */
        if (fcntl(to, F_SETFD, 0) < 0)
            child_fail(report_fd, 0);
    } else if (dup2(from, to) < 0) {
        child_fail(report_fd, 0);
    }
}

static void child(const struct mi_proc_opts *o, char *const *envp, int in_fd, int out_fd,
                  int err_fd, int report_fd)
{
    setpgid(0, 0);
    child_fd(in_fd, 0, report_fd);
    child_fd(out_fd, 1, report_fd);
    child_fd(err_fd, 2, report_fd);
    if (o->cwd && chdir(o->cwd) < 0)
        child_fail(report_fd, 1);
    /* Our handlers (cancel.h) must not run in the child, and terraform must start with the
     * default dispositions and an empty mask, as it would from a shell. */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, &sa, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(o->path, o->argv, envp);
    child_fail(report_fd, 2);
}

/* ---- the parent side ------------------------------------------------------------------- */

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

static int read_exec_report(int fd, struct exec_failure *f)
{
    size_t got = 0;
    while (got < sizeof(*f)) {
        ssize_t n = read(fd, (char *)f + got, sizeof(*f) - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    return got == sizeof(*f);
}

int mi_proc_run(struct mi_proc_result *out, const struct mi_proc_opts *opts)
{
    out->exit_code = -1;
    out->term_signal = 0;
    out->dropped = 0;
    out->elapsed_ms = 0;
    mi_buf_init(&out->output);

    struct run r = {opts, out, opts->capture_max ? opts->capture_max : 1024 * 1024,
                    opts->stdout_max ? opts->stdout_max : (size_t)256 * 1024 * 1024, 0};
    struct stream streams[2] = {{-1, 0, MI_BUF_INIT}, {-1, 1, MI_BUF_INIT}};
    int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1}, rep_pipe[2] = {-1, -1};
    int devnull = -1;
    char *empty_env[] = {NULL};
    char *const *envp = opts->env ? opts->env : empty_env;
    const char *name = opts->argv && opts->argv[0] ? opts->argv[0] : opts->path;
    int rc = 0;
    pid_t pid = -1;
    long start = mi_clock_ms();

    if (!opts->path || !opts->argv || !opts->argv[0])
        return mi_error_set(MI_EUSAGE, "proc: no program or argv given");

    if (pipe2(out_pipe, O_CLOEXEC) < 0 || pipe2(err_pipe, O_CLOEXEC) < 0 ||
        pipe2(rep_pipe, O_CLOEXEC) < 0) {
        rc = mi_error_errno(MI_ERR, "cannot run '%s': pipe", opts->path);
        goto done;
    }
    devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0) {
        rc = mi_error_errno(MI_ERR, "cannot run '%s': /dev/null", opts->path);
        goto done;
    }

    /* Block every signal across fork so no handler of ours runs in the child before it has
     * reset the dispositions; the parent restores its mask right after. */
    sigset_t all, saved;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &saved);
    pid = fork();
    if (pid == 0)
        child(opts, envp, devnull, out_pipe[1], err_pipe[1], rep_pipe[1]);
    int fork_errno = errno;
    if (pid > 0)
        setpgid(pid, pid); /* also in the parent, so a signal sent at once reaches the group */
    sigprocmask(SIG_SETMASK, &saved, NULL);
    if (pid < 0) {
        errno = fork_errno;
        rc = mi_error_errno(MI_ERR, "cannot run '%s': fork", opts->path);
        goto done;
    }
    close_fd(&out_pipe[1]);
    close_fd(&err_pipe[1]);
    close_fd(&rep_pipe[1]);
    close_fd(&devnull);

    struct exec_failure failure;
    int failed = read_exec_report(rep_pipe[0], &failure);
    close_fd(&rep_pipe[0]);
    if (failed) {
        waitpid(pid, NULL, 0);
        pid = -1;
        if (failure.stage == 1)
            rc = mi_error_set(MI_ERR, "cannot enter '%s' to run '%s': %s", opts->cwd, opts->path,
                              strerror(failure.err));
        else
            rc = mi_error_set(failure.err == ENOENT ? MI_ENOTFOUND : MI_ERR, "cannot run '%s': %s",
                              opts->path, strerror(failure.err));
        goto done;
    }

    streams[0].fd = out_pipe[0];
    streams[1].fd = err_pipe[0];
    out_pipe[0] = err_pipe[0] = -1;

    long deadline = opts->timeout_ms > 0 ? start + opts->timeout_ms : 0;
    long grace = opts->grace_ms > 0 ? opts->grace_ms : 10000;
    long kill_at = 0, exited_at = 0;
    int stopping = 0; /* 0 running, MI_ETIMEOUT or MI_ECANCELLED once we asked it to stop */
    int killed = 0, status = 0, reaped = 0;
    char chunk[65536];

    while (streams[0].fd >= 0 || streams[1].fd >= 0 || !reaped) {
        long now = mi_clock_ms();
        if (!stopping && deadline && now >= deadline)
            stopping = MI_ETIMEOUT;
        if (!stopping && mi_cancel_requested())
            stopping = MI_ECANCELLED;
        if (!stopping && r.sink_overflow)
            stopping = MI_ERR;
        if (stopping && !kill_at && !reaped) {
            if (stopping == MI_ERR) {
                kill(-pid, SIGKILL);
                killed = 1;
            } else {
                kill(-pid, SIGINT);
            }
            kill_at = now + grace;
        }
        if (kill_at && !killed && now >= kill_at && !reaped) {
            kill(-pid, SIGKILL);
            killed = 1;
        }
        if (!reaped) {
            pid_t w = waitpid(pid, &status, WNOHANG);
            if (w == pid) {
                reaped = 1;
                exited_at = now;
            }
        }
        if (reaped && exited_at && now - exited_at > DRAIN_AFTER_EXIT_MS)
            break;
        if (streams[0].fd < 0 && streams[1].fd < 0) {
            if (reaped)
                break;
            /* Pipes closed but the child still runs: wait for it in slices. */
            struct timespec ts = {0, 10 * 1000000L};
            nanosleep(&ts, NULL);
            continue;
        }

        long wait = POLL_SLICE_MS;
        if (deadline && !stopping && deadline - now < wait)
            wait = deadline - now;
        if (kill_at && !killed && kill_at - now < wait)
            wait = kill_at - now;
        if (wait < 0)
            wait = 0;
        struct pollfd fds[2];
        nfds_t nfds = 0;
        int which[2];
        for (int i = 0; i < 2; i++) {
            if (streams[i].fd >= 0) {
                fds[nfds].fd = streams[i].fd;
                fds[nfds].events = POLLIN;
                fds[nfds].revents = 0;
                which[nfds++] = i;
            }
        }
        int pr = poll(fds, nfds, (int)wait);
        if (pr < 0) {
            if (errno == EINTR)
                continue;
            rc = mi_error_errno(MI_ERR, "'%s': poll", name);
            kill(-pid, SIGKILL);
            killed = 1;
            break;
        }
        for (nfds_t i = 0; i < nfds; i++) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            struct stream *s = &streams[which[i]];
            ssize_t n = read(s->fd, chunk, sizeof(chunk));
            if (n < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (n <= 0) {
                close_fd(&s->fd);
                continue;
            }
            feed(&r, s, chunk, (size_t)n);
        }
    }
    if (!reaped) {
        /* Something outside the child kept the pipes; the child itself must still go. */
        kill(-pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    pid = -1;
    finish_stream(&r, &streams[0]);
    finish_stream(&r, &streams[1]);
    out->elapsed_ms = mi_clock_ms() - start;
    if (WIFEXITED(status)) {
        out->exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        out->term_signal = WTERMSIG(status);
        out->exit_code = 128 + out->term_signal;
    }
    if (rc)
        goto done;
    if (stopping == MI_ETIMEOUT)
        rc = mi_error_set(MI_ETIMEOUT, "'%s' did not finish within %ld ms and was stopped%s", name,
                          opts->timeout_ms, killed ? " (killed after the grace period)" : "");
    else if (stopping == MI_ECANCELLED)
        rc = mi_error_set(MI_ECANCELLED, "'%s' was stopped: cancelled by signal %d%s", name,
                          mi_cancel_requested(), killed ? " (killed after the grace period)" : "");
    else if (stopping == MI_ERR)
        rc = mi_error_set(MI_ERR, "'%s' wrote more than %zu bytes to stdout; stopped", name,
                          r.stdout_max);

done:
    if (pid > 0) {
        kill(-pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    close_fd(&out_pipe[0]);
    close_fd(&out_pipe[1]);
    close_fd(&err_pipe[0]);
    close_fd(&err_pipe[1]);
    close_fd(&rep_pipe[0]);
    close_fd(&rep_pipe[1]);
    close_fd(&devnull);
    close_fd(&streams[0].fd);
    close_fd(&streams[1].fd);
    mi_buf_release(&streams[0].partial);
    mi_buf_release(&streams[1].partial);
    return rc;
}

/* ---- program lookup and environment ---------------------------------------------------- */

static int is_executable_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int mi_proc_which(char **out, const char *name, const char *path_var)
{
    *out = NULL;
    if (!name || !*name)
        return mi_error_set(MI_EUSAGE, "no program name given");
    if (strchr(name, '/')) {
        if (!is_executable_file(name)) {
            if (access(name, F_OK) != 0)
                return mi_error_errno(MI_ENOTFOUND, "'%s'", name);
            return mi_error_set(MI_ERR, "'%s' is not an executable file", name);
        }
        *out = mi_xstrdup(name);
        return 0;
    }
    if (!path_var)
        path_var = getenv("PATH");
    if (!path_var || !*path_var)
        path_var = "/usr/local/bin:/usr/bin:/bin";
    const char *p = path_var;
    while (*p) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        /* An empty component means the current directory to a shell; a workflow's checkout
         * must not be able to plant a "terraform" there, so we skip it. */
        if (len) {
            char *candidate = mi_xasprintf("%.*s/%s", (int)len, p, name);
            if (is_executable_file(candidate)) {
                *out = candidate;
                return 0;
            }
            free(candidate);
        }
        p += len;
        if (*p == ':')
            p++;
    }
    return mi_error_set(MI_ENOTFOUND, "'%s' was not found in PATH", name);
}

static int same_key(const char *entry, const char *key, size_t key_len)
{
    return strncmp(entry, key, key_len) == 0 && entry[key_len] == '=';
}

char **mi_proc_env_build(const char *const *set, const char *const *unset)
{
    size_t n = 0, m = 0;
    while (environ && environ[n])
        n++;
    while (set && set[m])
        m++;
    char **env = mi_xcalloc(n + m + 1, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int drop = 0;
        for (size_t j = 0; set && set[j] && !drop; j++) {
            const char *eq = strchr(set[j], '=');
            if (eq && same_key(environ[i], set[j], (size_t)(eq - set[j])))
                drop = 1;
        }
        for (size_t j = 0; unset && unset[j] && !drop; j++)
            if (same_key(environ[i], unset[j], strlen(unset[j])))
                drop = 1;
        if (!drop)
            env[k++] = mi_xstrdup(environ[i]);
    }
    for (size_t j = 0; j < m; j++)
        if (strchr(set[j], '='))
            env[k++] = mi_xstrdup(set[j]);
    env[k] = NULL;
    return env;
}

void mi_proc_env_free(char **env)
{
    if (!env)
        return;
    for (size_t i = 0; env[i]; i++)
        free(env[i]);
    free(env);
}
