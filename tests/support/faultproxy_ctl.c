#include "faultproxy_ctl.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testsupport.h"
#include "util/buf.h"

struct mi_faultproxy {
    struct mi_test_server *server;
    char *url;
    char *control;
    char *stats;
    unsigned long gen;
    unsigned long probes; /* connections made by the start-up probe, hidden from stats */
};

static const char *proxy_binary(void)
{
    const char *env = getenv("MLINFRA_FAULTPROXY");
    return env && *env ? env : MLINFRA_FAULTPROXY;
}

struct mi_faultproxy *mi_faultproxy_start(int target_port)
{
    const char *bin = proxy_binary();
    cr_assert(access(bin, X_OK) == 0, "faultproxy binary %s is missing: build the tests", bin);
    char *target = mi_xasprintf("%d", target_port);
    const char *argv[] = {bin,         "--listen",      "{PORT}",  "--target",    target,
                          "--control", "{DIR}/control", "--stats", "{DIR}/stats", NULL};
    struct mi_faultproxy *p = mi_xcalloc(1, sizeof(*p));
    p->server = mi_test_server_start("faultproxy", argv);
    free(target);
    p->url = mi_xasprintf("http://127.0.0.1:%d", p->server->port);
    p->control = mi_xasprintf("%s/control", p->server->workdir);
    p->stats = mi_xasprintf("%s/stats", p->server->workdir);

    /* mi_test_server_start made one connection to see the port was up. Once the proxy has
     * accepted and closed it, it is left out of the counts, so tests count their own. */
    struct mi_faultproxy_stats st;
    for (int waited = 0;; waited += 10) {
        mi_faultproxy_stats(p, &st);
        if (st.connections >= 1 && st.active == 0)
            break;
        cr_assert(waited < 10000, "faultproxy: start-up probe never finished (log: %s)",
                  p->server->log);
        usleep(10 * 1000);
    }
    p->probes = st.connections;
    return p;
}

int mi_faultproxy_port(const struct mi_faultproxy *p)
{
    return p->server->port;
}

const char *mi_faultproxy_url(const struct mi_faultproxy *p)
{
    return p->url;
}

const char *mi_faultproxy_control_path(const struct mi_faultproxy *p)
{
    return p->control;
}

const char *mi_faultproxy_log_path(const struct mi_faultproxy *p)
{
    return p->server->log;
}

/* The proxy reads the file on every accept; renaming a complete file over it means it never
 * sees half a fault. */
static void write_control(struct mi_faultproxy *p, const char *text)
{
    char *tmp = mi_xasprintf("%s.tmp", p->control);
    FILE *f = fopen(tmp, "w");
    cr_assert(f, "faultproxy: cannot write %s: %s", tmp, strerror(errno));
    fprintf(f, "gen=%lu\n%s\n", ++p->gen, text);
    cr_assert(fclose(f) == 0, "faultproxy: cannot write %s: %s", tmp, strerror(errno));
    cr_assert(rename(tmp, p->control) == 0, "faultproxy: rename %s: %s", tmp, strerror(errno));
    free(tmp);
}

void mi_faultproxy_set_spec(struct mi_faultproxy *p, const char *spec)
{
    write_control(p, spec ? spec : "");
}

void mi_faultproxy_set(struct mi_faultproxy *p, const struct mi_fault *f)
{
    static const char *const kinds[] = {"pass", "reset", "truncate", "stall"};
    static const char *const dirs[] = {"down", "up", "both"};
    if (!f) {
        write_control(p, "fault=pass");
        return;
    }
    cr_assert((unsigned)f->kind < 4 && (unsigned)f->dir < 3, "faultproxy: bad fault");
    mi_buf b = MI_BUF_INIT;
    mi_buf_addf(&b, "fault=%s dir=%s after=%llu", kinds[f->kind], dirs[f->dir], f->after);
    if (f->kind == MI_FAULT_STALL)
        mi_buf_addf(&b, " stall_ms=%ld", f->stall_ms);
    if (f->latency_ms)
        mi_buf_addf(&b, " latency_ms=%ld", f->latency_ms);
    if (f->chunk)
        mi_buf_addf(&b, " chunk=%zu", f->chunk);
    mi_buf_addf(&b, " skip=%lu every=%lu next=%lu", f->skip, f->every ? f->every : 1, f->next);
    write_control(p, b.ptr);
    mi_buf_release(&b);
}

void mi_faultproxy_stats(const struct mi_faultproxy *p, struct mi_faultproxy_stats *out)
{
    memset(out, 0, sizeof(*out));
    FILE *f = fopen(p->stats, "r");
    cr_assert(f, "faultproxy: no stats file %s: %s", p->stats, strerror(errno));
    char line[512];
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        const char *k = line, *v = eq + 1;
        unsigned long long n = strtoull(v, NULL, 10);
        if (strcmp(k, "connections") == 0)
            out->connections = (unsigned long)n;
        else if (strcmp(k, "selected") == 0)
            out->selected = (unsigned long)n;
        else if (strcmp(k, "resets") == 0)
            out->resets = (unsigned long)n;
        else if (strcmp(k, "truncates") == 0)
            out->truncates = (unsigned long)n;
        else if (strcmp(k, "stalls") == 0)
            out->stalls = (unsigned long)n;
        else if (strcmp(k, "control_errors") == 0)
            out->control_errors = (unsigned long)n;
        else if (strcmp(k, "active") == 0)
            out->active = strtol(v, NULL, 10);
        else if (strcmp(k, "bytes_up") == 0)
            out->bytes_up = n;
        else if (strcmp(k, "bytes_down") == 0)
            out->bytes_down = n;
        else if (strcmp(k, "error") == 0)
            snprintf(out->error, sizeof(out->error), "%s", v);
    }
    fclose(f);
    out->connections -= out->connections >= p->probes ? p->probes : out->connections;
}

int mi_faultproxy_wait_idle(const struct mi_faultproxy *p, int timeout_ms)
{
    for (int waited = 0;; waited += 10) {
        struct mi_faultproxy_stats st;
        mi_faultproxy_stats(p, &st);
        if (st.active == 0)
            return 0;
        if (waited >= timeout_ms)
            return -1;
        usleep(10 * 1000);
    }
}

void mi_faultproxy_stop(struct mi_faultproxy *p)
{
    if (!p)
        return;
    mi_test_server_stop(p->server);
    free(p->url);
    free(p->control);
    free(p->stats);
    free(p);
}
