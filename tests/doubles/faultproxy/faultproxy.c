/*
 * faultproxy - a loopback TCP proxy that injects network faults, for the hardening tests.
 *
 *   faultproxy --listen PORT --target PORT [--control FILE] [--stats FILE]
 *
 * It listens on 127.0.0.1:PORT and forwards every connection to 127.0.0.1:TARGET (Azurite,
 * the GitHub double, an HTTP stub). It only ever binds and connects to the loopback address.
 *
 * Control. Before each accepted connection the control file is read again, so a test changes
 * the fault for the connections that come next by rewriting the file (write a temporary file,
 * then rename it over the control file). A missing or empty file means pass-through. The file
 * holds `key=value` words separated by blanks or newlines; `#` starts a comment:
 *
 *   fault=pass|reset|truncate|stall  what happens to a selected connection (default pass)
 *   after=N        the first N bytes in the counted direction are forwarded; the fault fires
 *                  when byte N+1 arrives at the proxy (default 0)
 *   dir=down|up|both  the direction counted and slowed: down is the response (target to
 *                  client), up the request (client to target) (default down)
 *   stall_ms=T     for fault=stall: stop forwarding both ways for T ms, then resume; 0 or
 *                  "forever" holds the connection until the client gives up (default forever)
 *   latency_ms=T   sleep T ms before forwarding each chunk in the counted direction; it
 *                  combines with any fault (default 0)
 *   chunk=N        the largest piece forwarded at once (default 16384)
 *   skip=N         let the first N connections after this control was loaded pass untouched
 *   every=N        then select every Nth connection (default 1: all)
 *   next=K         select at most K connections, then pass everything (default 0: no limit)
 *   gen=WORD       ignored; a new value makes the same fault count its connections afresh
 *
 * Counting starts again whenever the file's content changes. A reset closes the client's
 * socket with SO_LINGER 0 (the client sees ECONNRESET) and aborts the target connection the
 * same way; a truncate closes the client's side with a FIN (the client sees a short response)
 * and aborts the target. A control file that does not parse makes the proxy reset every
 * connection until it is fixed, and says why in the stats file and on stderr, so a typo in a
 * test fails loudly instead of passing through.
 *
 * Log (stderr). For each connection that sent anything, its first request line ("conn 3: GET
 * /path HTTP/1.1"), the first line of the answer as the target sent it ("conn 3: answer
 * HTTP/1.1 200 OK", logged even when a fault then keeps it from the client) and, once it is
 * over, the bytes it carried ("conn 3: closed after 310 up and 522 down bytes"); one line per
 * injected fault ("conn 3: reset after 0 up bytes"); control errors.
 *
 * Stats. After each connection opens, is faulted and closes, the stats file (written
 * atomically) holds one `key=value` per line: connections, selected, resets, truncates,
 * stalls, active, bytes_up, bytes_down, control_errors and error (the last control error).
 * A connection's fault is counted before the client can see it.
 *
 * One thread per connection; the proxy is meant for tests and holds no limits beyond the
 * kernel's. It exits on SIGTERM or SIGINT (default actions), and when the process that
 * started it ends (PR_SET_PDEATHSIG), so a crashed test leaves no proxy behind.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONTROL 4096
#define DEFAULT_CHUNK 16384
#define MAX_CHUNK 65536

enum fault { FAULT_PASS, FAULT_RESET, FAULT_TRUNCATE, FAULT_STALL };
enum { DIR_UP = 1, DIR_DOWN = 2, DIR_BOTH = 3 };

struct rule {
    enum fault fault;
    unsigned long long after;
    int dirs;
    long stall_ms; /* 0: forever */
    long latency_ms;
    size_t chunk;
    unsigned long skip, every, next;
    int invalid; /* the control file did not parse: reset everything */
};

struct stats {
    unsigned long connections, selected, resets, truncates, stalls, control_errors;
    long active;
    unsigned long long bytes_up, bytes_down;
    char error[256];
};

static const char *control_path;
static const char *stats_path;
static int target_port;

static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static struct stats stats;

/* The accept thread alone reads the control file, so these need no lock. */
static char control_text[MAX_CONTROL + 1];
static size_t control_len;
static struct rule current;
static unsigned long rule_seen, rule_selected;

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "faultproxy: %s\n", line);
}

/* ------------------------------------------------------------------------------------------
 * Stats
 * ------------------------------------------------------------------------------------------ */

/* Called with stats_lock held. Written to a temporary file and renamed, so a reader never
 * sees half a file. */
static void stats_write_locked(void)
{
    if (!stats_path)
        return;
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", stats_path) >= (int)sizeof(tmp))
        return;
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    fprintf(f,
            "connections=%lu\nselected=%lu\nresets=%lu\ntruncates=%lu\nstalls=%lu\nactive=%ld\n"
            "bytes_up=%llu\nbytes_down=%llu\ncontrol_errors=%lu\nerror=%s\n",
            stats.connections, stats.selected, stats.resets, stats.truncates, stats.stalls,
            stats.active, stats.bytes_up, stats.bytes_down, stats.control_errors, stats.error);
    if (fclose(f) == 0)
        rename(tmp, stats_path);
}

static void stats_update(unsigned long *counter, long active_delta)
{
    pthread_mutex_lock(&stats_lock);
    if (counter)
        (*counter)++;
    stats.active += active_delta;
    stats_write_locked();
    pthread_mutex_unlock(&stats_lock);
}

static void stats_add_bytes(int dir, size_t n)
{
    pthread_mutex_lock(&stats_lock);
    if (dir == DIR_UP)
        stats.bytes_up += n;
    else
        stats.bytes_down += n;
    pthread_mutex_unlock(&stats_lock);
}

/* ------------------------------------------------------------------------------------------
 * Control file
 * ------------------------------------------------------------------------------------------ */

static int parse_num(const char *v, unsigned long long max, unsigned long long *out)
{
    if (*v < '0' || *v > '9')
        return -1;
    errno = 0;
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || *end || n > max)
        return -1;
    *out = n;
    return 0;
}

/* Parses text into r; on failure returns -1 with the reason in err. */
static int parse_rule(char *text, struct rule *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof(*r));
    r->fault = FAULT_PASS;
    r->dirs = DIR_DOWN;
    r->chunk = DEFAULT_CHUNK;
    r->every = 1;

    /* Comments run to the end of their line. */
    for (char *p = text; *p; p++) {
        if (*p == '#')
            while (*p && *p != '\n')
                *p++ = ' ';
        if (!*p)
            break;
    }
    char *save = NULL;
    for (char *w = strtok_r(text, " \t\r\n", &save); w; w = strtok_r(NULL, " \t\r\n", &save)) {
        char *eq = strchr(w, '=');
        if (!eq) {
            snprintf(err, errlen, "control: '%s' is not key=value", w);
            return -1;
        }
        *eq = '\0';
        const char *k = w, *v = eq + 1;
        unsigned long long n = 0;
        int bad = 0;
        if (strcmp(k, "fault") == 0) {
            if (strcmp(v, "pass") == 0)
                r->fault = FAULT_PASS;
            else if (strcmp(v, "reset") == 0)
                r->fault = FAULT_RESET;
            else if (strcmp(v, "truncate") == 0)
                r->fault = FAULT_TRUNCATE;
            else if (strcmp(v, "stall") == 0)
                r->fault = FAULT_STALL;
            else
                bad = 1;
        } else if (strcmp(k, "dir") == 0) {
            if (strcmp(v, "down") == 0)
                r->dirs = DIR_DOWN;
            else if (strcmp(v, "up") == 0)
                r->dirs = DIR_UP;
            else if (strcmp(v, "both") == 0)
                r->dirs = DIR_BOTH;
            else
                bad = 1;
        } else if (strcmp(k, "after") == 0) {
            bad = parse_num(v, ULLONG_MAX, &r->after) != 0;
        } else if (strcmp(k, "stall_ms") == 0) {
            if (strcmp(v, "forever") == 0)
                r->stall_ms = 0;
            else if (!(bad = parse_num(v, LONG_MAX / 1000, &n) != 0))
                r->stall_ms = (long)n;
        } else if (strcmp(k, "latency_ms") == 0) {
            if (!(bad = parse_num(v, 3600000, &n) != 0))
                r->latency_ms = (long)n;
        } else if (strcmp(k, "chunk") == 0) {
            if (!(bad = parse_num(v, MAX_CHUNK, &n) != 0 || n == 0))
                r->chunk = (size_t)n;
        } else if (strcmp(k, "skip") == 0) {
            if (!(bad = parse_num(v, ULONG_MAX, &n) != 0))
                r->skip = (unsigned long)n;
        } else if (strcmp(k, "every") == 0) {
            if (!(bad = parse_num(v, ULONG_MAX, &n) != 0 || n == 0))
                r->every = (unsigned long)n;
        } else if (strcmp(k, "next") == 0) {
            if (!(bad = parse_num(v, ULONG_MAX, &n) != 0))
                r->next = (unsigned long)n;
        } else if (strcmp(k, "gen") != 0) {
            snprintf(err, errlen, "control: unknown key '%s'", k);
            return -1;
        }
        if (bad) {
            snprintf(err, errlen, "control: bad value '%s' for %s", v, k);
            return -1;
        }
    }
    return 0;
}

/* Re-reads the control file; when its content changed, parses it and restarts counting. */
static void control_reload(void)
{
    char text[MAX_CONTROL + 1];
    size_t len = 0;
    if (control_path) {
        FILE *f = fopen(control_path, "r");
        if (f) {
            len = fread(text, 1, MAX_CONTROL, f);
            fclose(f);
        }
    }
    text[len] = '\0';
    if (len == control_len && memcmp(text, control_text, len) == 0)
        return;
    memcpy(control_text, text, len + 1);
    control_len = len;
    rule_seen = rule_selected = 0;

    char err[256] = "";
    if (parse_rule(text, &current, err, sizeof(err)) != 0) {
        current.invalid = 1;
        logf_("%s (resetting every connection until the control file is fixed)", err);
        pthread_mutex_lock(&stats_lock);
        stats.control_errors++;
        snprintf(stats.error, sizeof(stats.error), "%s", err);
        stats_write_locked();
        pthread_mutex_unlock(&stats_lock);
        return;
    }
    pthread_mutex_lock(&stats_lock);
    stats.error[0] = '\0';
    stats_write_locked();
    pthread_mutex_unlock(&stats_lock);
}

/* Whether the next connection is selected by the current rule (accept thread only). */
static int control_select(void)
{
    unsigned long i = ++rule_seen;
    if (current.invalid)
        return 1;
    if (i <= current.skip || (i - current.skip) % current.every != 0)
        return 0;
    if (current.next && rule_selected >= current.next)
        return 0;
    rule_selected++;
    return 1;
}

/* ------------------------------------------------------------------------------------------
 * One connection
 * ------------------------------------------------------------------------------------------ */

struct conn {
    unsigned long id;
    int client, target;
    int selected;
    struct rule rule;
    unsigned long long counted;  /* bytes forwarded in the counted direction(s) */
    int stalled;                 /* a finite stall happened already */
    int named;                   /* its request line is in the log */
    int answered;                /* its response's first line is in the log */
    unsigned long long up, down; /* bytes forwarded each way */
};

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Closes fd so that the peer sees a reset instead of an orderly end. */
static void abort_fd(int *fd)
{
    if (*fd < 0)
        return;
    struct linger lg = {1, 0};
    setsockopt(*fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(*fd);
    *fd = -1;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Holds the connection without forwarding for ms milliseconds (0: until the client goes
 * away). Returns 1 when the client hung up meanwhile. */
static int hold(struct conn *c, long ms)
{
    long deadline = ms > 0 ? now_ms() + ms : 0;
    for (;;) {
        int timeout = -1;
        if (ms > 0) {
            long left = deadline - now_ms();
            if (left <= 0)
                return 0;
            timeout = (int)(left > 1000 ? 1000 : left);
        }
        /* Only hang-ups are watched, so nothing is read while the connection is held. */
        struct pollfd p = {c->client, POLLRDHUP, 0};
        int r = poll(&p, 1, timeout);
        if (r < 0 && errno != EINTR)
            return 1;
        if (r > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
            return 1;
    }
}

/* Ends the client's side with a FIN and waits a little for the client to close, so that
 * unread request bytes in our receive queue do not turn the FIN into a reset. */
static void finish_client(struct conn *c)
{
    shutdown(c->client, SHUT_WR);
    char sink[4096];
    long deadline = now_ms() + 2000;
    for (;;) {
        long left = deadline - now_ms();
        if (left <= 0)
            break;
        struct pollfd p = {c->client, POLLIN, 0};
        if (poll(&p, 1, (int)left) <= 0)
            break;
        ssize_t n = recv(c->client, sink, sizeof(sink), 0);
        if (n <= 0)
            break;
    }
    close_fd(&c->client);
}

static const char *dir_name(int d)
{
    return d == DIR_UP ? "up" : d == DIR_DOWN ? "down" : "both";
}

/* The fault fires: 1 when the connection is over, 0 when forwarding goes on. */
static int fire(struct conn *c)
{
    const struct rule *r = &c->rule;
    switch (r->fault) {
    case FAULT_RESET:
        logf_("conn %lu: reset after %llu %s bytes", c->id, c->counted, dir_name(r->dirs));
        stats_update(&stats.resets, 0);
        abort_fd(&c->client);
        abort_fd(&c->target);
        return 1;
    case FAULT_TRUNCATE:
        logf_("conn %lu: truncated after %llu %s bytes", c->id, c->counted, dir_name(r->dirs));
        stats_update(&stats.truncates, 0);
        abort_fd(&c->target);
        finish_client(c);
        return 1;
    case FAULT_STALL:
        if (c->stalled)
            return 0;
        c->stalled = 1;
        if (r->stall_ms)
            logf_("conn %lu: stalled after %llu %s bytes for %ld ms", c->id, c->counted,
                  dir_name(r->dirs), r->stall_ms);
        else
            logf_("conn %lu: stalled after %llu %s bytes until the client leaves", c->id,
                  c->counted, dir_name(r->dirs));
        stats_update(&stats.stalls, 0);
        if (hold(c, r->stall_ms) || r->stall_ms == 0) {
            abort_fd(&c->target);
            close_fd(&c->client);
            return 1;
        }
        return 0;
    case FAULT_PASS:
        break;
    }
    return 0;
}

static int connect_target(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((uint16_t)target_port);
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* Forwards n bytes read in direction d, applying the rule; 1 when the connection is over.
 * The first bytes each way are logged as the connection's request and answer lines. */
static int forward(struct conn *c, int d, const char *buf, size_t n)
{
    const struct rule *r = &c->rule;
    int counted = c->selected && (r->dirs & d);
    size_t off = 0;
    if (d == DIR_UP && !c->named) {
        /* The request line names the connection in the log ("conn 7: PUT /a/b?comp=lease
         * HTTP/1.1"), so a test can tell which request a connection number carried, even
         * one that a fault kept from the target. Usually the first read holds all of it. */
        size_t len = 0;
        while (len < n && len < 300 && buf[len] != '\r' && buf[len] != '\n')
            len++;
        logf_("conn %lu: %.*s", c->id, (int)len, buf);
        c->named = 1;
    }
    if (d == DIR_DOWN && !c->answered) {
        size_t len = 0;
        while (len < n && len < 100 && buf[len] != '\r' && buf[len] != '\n')
            len++;
        logf_("conn %lu: answer %.*s", c->id, (int)len, buf);
        c->answered = 1;
    }
    while (off < n) {
        size_t piece = n - off;
        if (counted && r->fault != FAULT_PASS && !c->stalled) {
            if (c->counted >= r->after) {
                if (fire(c))
                    return 1;
                continue;
            }
            if (piece > r->after - c->counted)
                piece = (size_t)(r->after - c->counted);
        }
        if (piece > r->chunk)
            piece = r->chunk;
        if (counted && r->latency_ms)
            sleep_ms(r->latency_ms);
        /* The target is connected just before the first request byte goes to it, so a
         * fault that fires on the request's first byte keeps the request from it entirely. */
        if (d == DIR_UP && c->target < 0 && (c->target = connect_target()) < 0) {
            logf_("conn %lu: cannot connect to 127.0.0.1:%d: %s", c->id, target_port,
                  strerror(errno));
            abort_fd(&c->client);
            return 1;
        }
        if (send_all(d == DIR_UP ? c->target : c->client, buf + off, piece) != 0) {
            /* The receiver went away: pass that on to the sender as a reset. */
            abort_fd(&c->client);
            abort_fd(&c->target);
            return 1;
        }
        stats_add_bytes(d, piece);
        if (d == DIR_UP)
            c->up += piece;
        else
            c->down += piece;
        if (counted)
            c->counted += piece;
        off += piece;
    }
    return 0;
}

static void *serve(void *arg)
{
    struct conn *c = arg;
    char buf[MAX_CHUNK];

    if (c->rule.invalid) {
        stats_update(&stats.resets, 0);
        abort_fd(&c->client);
        goto done;
    }
    /* eof[0]: the client finished sending (up); eof[1]: the target did (down). The target is
     * connected when the first request byte is forwarded (see forward), so a connection that
     * only probes the port (a test waiting for the proxy to come up) never reaches the
     * target: every target here is an HTTP server, which waits for the client to speak. */
    int eof[2] = {0, 0};
    while (c->client >= 0 && !(eof[0] && eof[1])) {
        struct pollfd p[2] = {{eof[0] ? -1 : c->client, POLLIN, 0},
                              {eof[1] || c->target < 0 ? -1 : c->target, POLLIN, 0}};
        int r = poll(p, 2, -1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < 2 && c->client >= 0; i++) {
            if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            int d = i == 0 ? DIR_UP : DIR_DOWN;
            ssize_t n = recv(p[i].fd, buf, c->rule.chunk, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                /* The sender aborted: the receiver sees an abort too. */
                abort_fd(&c->client);
                abort_fd(&c->target);
                break;
            }
            if (n == 0 && c->target < 0) {
                /* The client left without a word. */
                eof[0] = eof[1] = 1;
                break;
            }
            if (n == 0) {
                eof[i] = 1;
                shutdown(i == 0 ? c->target : c->client, SHUT_WR);
                continue;
            }
            if (forward(c, d, buf, (size_t)n))
                break;
        }
    }
    close_fd(&c->client);
    close_fd(&c->target);
    if (c->named)
        logf_("conn %lu: closed after %llu up and %llu down bytes", c->id, c->up, c->down);
done:
    stats_update(NULL, -1);
    free(c);
    return NULL;
}

/* ------------------------------------------------------------------------------------------
 * Main
 * ------------------------------------------------------------------------------------------ */

static int usage(void)
{
    fprintf(stderr, "usage: faultproxy --listen PORT --target PORT [--control FILE] "
                    "[--stats FILE]\n");
    return 2;
}

static int parse_port(const char *s)
{
    unsigned long long n;
    if (!s || parse_num(s, 65535, &n) != 0 || n == 0)
        return -1;
    return (int)n;
}

int main(int argc, char **argv)
{
    int listen_port = -1;
    /* Every option takes a value: they come in pairs. */
    for (int i = 1; i < argc; i += 2) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--listen") == 0)
            listen_port = parse_port(v);
        else if (strcmp(argv[i], "--target") == 0)
            target_port = parse_port(v);
        else if (strcmp(argv[i], "--control") == 0 && v)
            control_path = v;
        else if (strcmp(argv[i], "--stats") == 0 && v)
            stats_path = v;
        else
            return usage();
    }
    if (listen_port <= 0 || target_port <= 0)
        return usage();

    signal(SIGPIPE, SIG_IGN);
    /* A test that crashes never stops its servers; the proxy goes when its starter does. */
    pid_t starter = getppid();
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != starter)
        return 1;
    /* Until a control file appears, the rule is the empty text's: pass everything. */
    char empty[1] = "", err[256];
    parse_rule(empty, &current, err, sizeof(err));
    /* The stats file exists before the port accepts anything, so a reader never misses it. */
    pthread_mutex_lock(&stats_lock);
    stats_write_locked();
    pthread_mutex_unlock(&stats_lock);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0) {
        logf_("socket: %s", strerror(errno));
        return 1;
    }
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((uint16_t)listen_port);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(lfd, 128) != 0) {
        logf_("cannot listen on 127.0.0.1:%d: %s", listen_port, strerror(errno));
        return 1;
    }
    logf_("listening on 127.0.0.1:%d, forwarding to 127.0.0.1:%d", listen_port, target_port);

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    unsigned long next_id = 0;
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE) {
                sleep_ms(10);
                continue;
            }
            logf_("accept: %s", strerror(errno));
            return 1;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        control_reload();
        struct conn *c = calloc(1, sizeof(*c));
        if (!c) {
            close(fd);
            continue;
        }
        c->id = ++next_id;
        c->client = fd;
        c->target = -1;
        c->selected = control_select();
        c->rule = current;
        pthread_mutex_lock(&stats_lock);
        stats.connections++;
        stats.active++;
        if (c->selected && !current.invalid && (current.fault != FAULT_PASS || current.latency_ms))
            stats.selected++;
        stats_write_locked();
        pthread_mutex_unlock(&stats_lock);
        pthread_t t;
        if (pthread_create(&t, &attr, serve, c) != 0) {
            abort_fd(&c->client);
            free(c);
            stats_update(NULL, -1);
        }
    }
}
