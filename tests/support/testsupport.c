#include "testsupport.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

const char *mi_test_source_dir(void)
{
    const char *env = getenv("MLINFRA_SOURCE_DIR");
    return env && *env ? env : MLINFRA_SOURCE_DIR;
}

const char *mi_test_binary(void)
{
    const char *env = getenv("MLINFRA_BINARY");
    return env && *env ? env : MLINFRA_BINARY;
}

char *mi_test_path(const char *relative)
{
    return mi_xasprintf("%s/%s", mi_test_source_dir(), relative);
}

char *mi_test_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char *templ = mi_xasprintf("%s/mlinfra-test-XXXXXX", base && *base ? base : "/tmp");
    cr_assert(mkdtemp(templ) != NULL, "mkdtemp %s: %s", templ, strerror(errno));
    return templ;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Only what mi_test_tmpdir made, or something inside it, is ever removed: a test whose path
 * went wrong (an unset variable, a stray "..") must not delete the checkout it runs in. */
void mi_test_rmtree(const char *path)
{
    if (!path)
        return;
    const char *base = getenv("TMPDIR");
    char *prefix = mi_xasprintf("%s/mlinfra-test-", base && *base ? base : "/tmp");
    int ours = strncmp(path, prefix, strlen(prefix)) == 0 && !strstr(path, "/../") &&
               strlen(path) >= strlen(prefix) + 6;
    free(prefix);
    if (!ours) {
        fprintf(stderr, "mi_test_rmtree: refusing to remove '%s': not a test directory\n", path);
        abort();
    }
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int mi_test_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    cr_assert(bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0);
    socklen_t len = sizeof(addr);
    cr_assert(getsockname(fd, (struct sockaddr *)&addr, &len) == 0);
    close(fd);
    return ntohs(addr.sin_port);
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int mi_test_wait_port(int port, int timeout_ms)
{
    long deadline = now_ms() + timeout_ms;
    while (now_ms() < deadline) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in addr = {0};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons((uint16_t)port);
        int ok = connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;
        close(fd);
        if (ok)
            return 0;
        usleep(50 * 1000);
    }
    return -1;
}

static char **build_env(char *const extra[])
{
    size_t n = 0, m = 0;
    while (environ[n])
        n++;
    while (extra && extra[m])
        m++;
    char **env = mi_xcalloc(n + m + 1, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int overridden = 0;
        const char *eq = strchr(environ[i], '=');
        size_t klen = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
        for (size_t j = 0; j < m; j++) {
            const char *eq2 = strchr(extra[j], '=');
            if (eq2 && (size_t)(eq2 - extra[j]) == klen && strncmp(extra[j], environ[i], klen) == 0)
                overridden = 1;
        }
        if (!overridden)
            env[k++] = environ[i];
    }
    for (size_t j = 0; j < m; j++) {
        const char *eq = strchr(extra[j], '=');
        if (eq && eq[1] != '\0')
            env[k++] = extra[j];
    }
    env[k] = NULL;
    return env;
}

void mi_test_run_cmd(struct mi_test_run *out, char *const argv[], char *const env_extra[],
                     const char *cwd, int timeout_ms)
{
    mi_buf_init(&out->out);
    mi_buf_init(&out->err);
    int po[2], pe[2];
    cr_assert(pipe(po) == 0 && pipe(pe) == 0);
    char **env = build_env(env_extra);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        dup2(devnull, 0);
        dup2(po[1], 1);
        dup2(pe[1], 2);
        close(po[0]);
        close(pe[0]);
        if (cwd && chdir(cwd) != 0)
            _exit(126);
        execve(argv[0], argv, env);
        _exit(127);
    }
    free(env);
    close(po[1]);
    close(pe[1]);
    long deadline = now_ms() + timeout_ms;
    int open_fds = 2;
    struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
    char chunk[65536];
    int timed_out = 0;
    while (open_fds > 0) {
        long left = deadline - now_ms();
        if (left <= 0) {
            timed_out = 1;
            kill(pid, SIGKILL);
            break;
        }
        int r = poll(fds, 2, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP | POLLERR))) {
                ssize_t n = read(fds[i].fd, chunk, sizeof(chunk));
                if (n > 0) {
                    mi_buf_add(i == 0 ? &out->out : &out->err, chunk, (size_t)n);
                } else {
                    close(fds[i].fd);
                    fds[i].fd = -1;
                    open_fds--;
                }
            }
        }
    }
    for (int i = 0; i < 2; i++)
        if (fds[i].fd >= 0)
            close(fds[i].fd);
    int status = 0;
    waitpid(pid, &status, 0);
    out->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    cr_assert(!timed_out, "%s did not finish within %d ms; stderr so far:\n%s", argv[0], timeout_ms,
              out->err.ptr);
}

void mi_test_run_release(struct mi_test_run *r)
{
    mi_buf_release(&r->out);
    mi_buf_release(&r->err);
}

static char *substitute(const char *arg, int port, const char *dir)
{
    mi_buf b = MI_BUF_INIT;
    for (const char *p = arg; *p;) {
        if (strncmp(p, "{PORT}", 6) == 0) {
            mi_buf_addf(&b, "%d", port);
            p += 6;
        } else if (strncmp(p, "{DIR}", 5) == 0) {
            mi_buf_adds(&b, dir);
            p += 5;
        } else {
            mi_buf_addch(&b, *p++);
        }
    }
    return mi_buf_detach(&b);
}

struct mi_test_server *mi_test_server_start(const char *name, const char *const argv[])
{
    struct mi_test_server *s = mi_xcalloc(1, sizeof(*s));
    s->name = mi_xstrdup(name);
    s->workdir = mi_test_tmpdir();
    s->log = mi_xasprintf("%s/server.log", s->workdir);
    for (int attempt = 0; attempt < 3; attempt++) {
        s->port = mi_test_free_port();
        size_t n = 0;
        while (argv[n])
            n++;
        char **args = mi_xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++)
            args[i] = substitute(argv[i], s->port, s->workdir);
        pid_t pid = fork();
        cr_assert(pid >= 0);
        if (pid == 0) {
            int logfd = open(s->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
            int devnull = open("/dev/null", O_RDONLY);
            dup2(devnull, 0);
            dup2(logfd, 1);
            dup2(logfd, 2);
            setpgid(0, 0);
            /* A test runner killed by its time limit must not leave its server behind. */
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            execvp(args[0], args);
            _exit(127);
        }
        for (size_t i = 0; i < n; i++)
            free(args[i]);
        free(args);
        s->pid = pid;
        long deadline = now_ms() + 30000;
        int up = 0;
        while (now_ms() < deadline) {
            int status;
            if (waitpid(pid, &status, WNOHANG) == pid) {
                s->pid = 0;
                break;
            }
            if (mi_test_wait_port(s->port, 100) == 0) {
                up = 1;
                break;
            }
        }
        if (up)
            return s;
        if (s->pid) {
            kill(-s->pid, SIGKILL);
            waitpid(s->pid, NULL, 0);
            s->pid = 0;
        }
    }
    mi_buf log = MI_BUF_INIT;
    FILE *f = fopen(s->log, "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof(line), f))
            mi_buf_adds(&log, line);
        fclose(f);
    }
    cr_assert_fail("test server %s (%s) did not come up on 127.0.0.1; its output:\n%s", name,
                   argv[0], log.ptr);
    return NULL;
}

struct mi_test_server *mi_test_azurite_start(const char *const extra_args[])
{
    char *bin = mi_test_path("tests/node_modules/.bin/azurite-blob");
    cr_assert(access(bin, X_OK) == 0,
              "%s is missing: run `npm ci` in tests/ (the README's test command does)", bin);
    const char *base[] = {bin,      "--blobHost",         "127.0.0.1",  "--blobPort",
                          "{PORT}", "--disableTelemetry", "--location", "{DIR}"};
    size_t nb = sizeof(base) / sizeof(base[0]), ne = 0;
    while (extra_args && extra_args[ne])
        ne++;
    const char **argv = mi_xcalloc(nb + ne + 1, sizeof(char *));
    for (size_t i = 0; i < nb; i++)
        argv[i] = base[i];
    for (size_t i = 0; i < ne; i++)
        argv[nb + i] = extra_args[i];
    struct mi_test_server *s = mi_test_server_start("azurite", argv);
    free(argv);
    free(bin);
    return s;
}

void mi_test_server_stop(struct mi_test_server *s)
{
    if (!s)
        return;
    if (s->pid > 0) {
        kill(-s->pid, SIGTERM);
        for (int i = 0; i < 50; i++) {
            if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
                s->pid = 0;
                break;
            }
            usleep(100 * 1000);
        }
        if (s->pid) {
            kill(-s->pid, SIGKILL);
            waitpid(s->pid, NULL, 0);
        }
    }
    mi_test_rmtree(s->workdir);
    free(s->workdir);
    free(s->log);
    free(s->name);
    free(s);
}

int mi_test_leaks_n(const char *data, size_t len, const char *secret)
{
    size_t sl = strlen(secret);
    for (const char *p = data; sl && (p = memmem(p, len - (size_t)(p - data), secret, sl)); p++) {
        const char *bol = p;
        while (bol > data && bol[-1] != '\n')
            bol--;
        if ((size_t)(p - bol) < 12 || strncmp(bol, "::add-mask::", 12) != 0)
            return 1;
    }
    return 0;
}

int mi_test_leaks(const char *text, const char *secret)
{
    return mi_test_leaks_n(text ? text : "", text ? strlen(text) : 0, secret);
}

char *mi_test_terraform_double(void)
{
    char *bin = mi_xstrdup(mi_test_binary());
    char *path = mi_xasprintf("%s/doubles/terraform", dirname(bin));
    free(bin);
    cr_assert(access(path, X_OK) == 0, "the terraform double is not built: %s", path);
    return path;
}
