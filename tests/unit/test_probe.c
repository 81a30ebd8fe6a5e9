/* remote/probe and report/health: the health check after apply, against local servers that
 * come up late, never answer, or answer 500; and its markdown. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "httpstub.h"
#include "remote/probe.h"
#include "report/health.h"
#include "util/error.h"
#include "util/log.h"

static void setup(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void teardown(void)
{
    mi_log_mask_reset();
    curl_global_cleanup();
}

TestSuite(probe, .init = setup, .fini = teardown);
TestSuite(health, .init = setup, .fini = teardown);

/* ---- a server that is not there yet ---------------------------------------------------- */

/* A socket bound to a loopback port but not listening refuses connections, as a load
 * balancer without a backend does; listen() later makes the service "come up" at the same
 * address. Answers follow `script` (the last one repeats). */
struct late_server {
    int fd;
    int port;
    char url[64];
    pthread_t thread;
    int started;
    volatile int stopping;
    const int *script;
    size_t script_len, next;
    int up_after; /* listen after this many tries */
    int requests;
};

static void *late_serve(void *arg)
{
    struct late_server *s = arg;
    while (!s->stopping) {
        struct pollfd p = {s->fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            continue;
        char buf[4096];
        size_t got = 0;
        while (got < sizeof(buf) - 1) {
            ssize_t n = read(c, buf + got, sizeof(buf) - 1 - got);
            if (n <= 0)
                break;
            got += (size_t)n;
            buf[got] = '\0';
            if (strstr(buf, "\r\n\r\n"))
                break;
        }
        int status = s->script[s->next < s->script_len ? s->next++ : s->script_len - 1];
        s->requests++;
        char resp[256];
        int len =
            snprintf(resp, sizeof(resp),
                     "HTTP/1.1 %d X\r\nConnection: close\r\nContent-Length: 2\r\n\r\nOK", status);
        /* MSG_NOSIGNAL: a probe that gave up and closed must not SIGPIPE the test. */
        ssize_t w = send(c, resp, (size_t)len, MSG_NOSIGNAL);
        (void)w;
        close(c);
    }
    return NULL;
}

static void late_init(struct late_server *s, const int *script, size_t n, int up_after)
{
    memset(s, 0, sizeof(*s));
    s->script = script;
    s->script_len = n;
    s->up_after = up_after;
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(s->fd >= 0);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert(bind(s->fd, (struct sockaddr *)&addr, sizeof(addr)) == 0);
    socklen_t len = sizeof(addr);
    getsockname(s->fd, (struct sockaddr *)&addr, &len);
    s->port = ntohs(addr.sin_port);
    snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", s->port);
}

static void late_up(struct late_server *s)
{
    cr_assert(listen(s->fd, 16) == 0);
    pthread_create(&s->thread, NULL, late_serve, s);
    s->started = 1;
}

static void late_stop(struct late_server *s)
{
    s->stopping = 1;
    if (s->started)
        pthread_join(s->thread, NULL);
    close(s->fd);
}

/* Records every try; brings the late server up once it has been refused enough. */
struct seen {
    struct mi_probe_attempt a[16];
    char *errors[16];
    int n;
    struct late_server *late;
};

static void on_attempt(void *ctx, const struct mi_probe_attempt *a)
{
    struct seen *s = ctx;
    if (s->n < 16) {
        s->a[s->n] = *a;
        s->errors[s->n] = a->error ? mi_xstrdup(a->error) : NULL;
        s->n++;
    }
    if (s->late && !s->late->started && a->number == s->late->up_after)
        late_up(s->late);
}

static void seen_release(struct seen *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->errors[i]);
}

/* ---- the probe ------------------------------------------------------------------------ */

Test(probe, service_that_comes_up_late_is_reachable)
{
    /* Refused twice, then up but answering 503 (backend starting), then 200. */
    static const int script[] = {503, 200};
    struct late_server late;
    late_init(&late, script, 2, 2);
    struct seen seen = {.late = &late};
    struct mi_probe_options o = {.base = late.url,
                                 .path = "/health",
                                 .max_tries = 6,
                                 .try_timeout_ms = 5000,
                                 .base_delay_ms = 5,
                                 .on_attempt = on_attempt,
                                 .ctx = &seen};
    struct mi_probe_result r = MI_PROBE_RESULT_INIT;
    cr_assert_eq(mi_probe_run(&r, &o), 0, "%s", mi_error_last());
    late_stop(&late);

    cr_assert(r.reachable);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.attempts, 4);
    cr_assert_geq(r.latency_ms, 0);
    cr_assert_null(r.error);
    cr_assert_eq(late.requests, 2);
    cr_assert_eq(seen.n, 4);
    /* The first two were refused (no HTTP status), the third answered 503. */
    cr_assert_eq(seen.a[0].status, 0);
    cr_assert(seen.errors[0] && strstr(seen.errors[0], "/health"), "%s", seen.errors[0]);
    cr_assert_eq(seen.a[1].status, 0);
    cr_assert_eq(seen.a[2].status, 503);
    cr_assert(strstr(seen.errors[2], "503"), "%s", seen.errors[2]);
    cr_assert(seen.a[3].healthy);
    /* Backoff doubles: 5, 10, 20; the successful try has no next wait. */
    cr_assert_eq(seen.a[0].next_delay_ms, 5);
    cr_assert_eq(seen.a[1].next_delay_ms, 10);
    cr_assert_eq(seen.a[2].next_delay_ms, 20);
    cr_assert_eq(seen.a[3].next_delay_ms, -1);
    char *want = mi_xasprintf("%s/health", late.url);
    cr_assert_str_eq(r.url, want);
    free(want);
    seen_release(&seen);
    mi_probe_result_release(&r);
    mi_probe_result_release(&r); /* twice is safe */
}

Test(probe, service_that_never_comes_up_is_unreachable_after_max_tries)
{
    static const int script[] = {200};
    struct late_server late;
    late_init(&late, script, 1, 99); /* never listens */
    struct seen seen = {0};
    struct mi_probe_options o = {.base = late.url,
                                 .path = "health",
                                 .max_tries = 3,
                                 .base_delay_ms = 1,
                                 .on_attempt = on_attempt,
                                 .ctx = &seen};
    struct mi_probe_result r = MI_PROBE_RESULT_INIT;
    cr_assert_eq(mi_probe_run(&r, &o), 0, "%s", mi_error_last());
    late_stop(&late);
    cr_assert_not(r.reachable);
    cr_assert_eq(r.attempts, 3);
    cr_assert_eq(r.status, 0);
    cr_assert_eq(r.latency_ms, -1);
    cr_assert_not(r.timed_out);
    cr_assert(r.error && strstr(r.error, "onnect"), "%s", r.error);
    cr_assert_eq(seen.a[2].next_delay_ms, -1);
    seen_release(&seen);
    mi_probe_result_release(&r);
}

Test(probe, server_that_never_answers_times_out)
{
    struct mi_httpstub *stub = mi_httpstub_start();
    /* Accepts, then says nothing for longer than a try may take. */
    mi_httpstub_push(stub, &(struct mi_httpstub_response){200, NULL, "OK", .delay_ms = 600});
    struct mi_probe_options o = {.base = mi_httpstub_url(stub),
                                 .path = "/health",
                                 .max_tries = 2,
                                 .try_timeout_ms = 150,
                                 .base_delay_ms = 1};
    struct mi_probe_result r = MI_PROBE_RESULT_INIT;
    cr_assert_eq(mi_probe_run(&r, &o), 0, "%s", mi_error_last());
    cr_assert_not(r.reachable);
    cr_assert_eq(r.attempts, 2);
    cr_assert_eq(r.status, 0);
    cr_assert(r.error && strstr(r.error, "timed out"), "%s", r.error);
    mi_httpstub_stop(stub);
    mi_probe_result_release(&r);
}

Test(probe, total_time_limit_stops_the_tries)
{
    struct mi_httpstub *stub = mi_httpstub_start();
    mi_httpstub_push(stub, &(struct mi_httpstub_response){503, NULL, "starting"});
    /* The second wait (200 ms) would end after the 100 ms budget: the probe stops early. */
    struct mi_probe_options o = {.base = mi_httpstub_url(stub),
                                 .max_tries = 10,
                                 .total_timeout_ms = 100,
                                 .base_delay_ms = 200};
    struct mi_probe_result r = MI_PROBE_RESULT_INIT;
    cr_assert_eq(mi_probe_run(&r, &o), 0, "%s", mi_error_last());
    cr_assert_not(r.reachable);
    cr_assert(r.timed_out);
    cr_assert_eq(r.attempts, 1);
    cr_assert_eq(r.status, 503);
    mi_httpstub_stop(stub);
    mi_probe_result_release(&r);
}

Test(probe, server_error_is_not_reachable_with_its_status)
{
    struct mi_httpstub *stub = mi_httpstub_start();
    mi_httpstub_push(stub, &(struct mi_httpstub_response){500, NULL, "secret internal detail"});
    struct mi_probe_options o = {
        .base = mi_httpstub_url(stub), .path = "/health", .max_tries = 3, .base_delay_ms = 1};
    struct mi_probe_result r = MI_PROBE_RESULT_INIT;
    cr_assert_eq(mi_probe_run(&r, &o), 0, "%s", mi_error_last());
    cr_assert_not(r.reachable);
    cr_assert_eq(r.status, 500);
    cr_assert_eq(r.attempts, 3);
    cr_assert_eq(mi_httpstub_request_count(stub), 3);
    cr_assert(strstr(r.error, "HTTP 500"), "%s", r.error);
    /* What the service said is not kept. */
    cr_assert_null(strstr(r.error, "secret internal detail"));
    const struct mi_httpstub_request *req = mi_httpstub_request(stub, 0);
    cr_assert_str_eq(req->method, "GET");
    cr_assert_str_eq(req->target, "/health");
    mi_httpstub_stop(stub);
    mi_probe_result_release(&r);
}

Test(probe, healthy_range_is_configurable)
{
    struct mi_httpstub *stub = mi_httpstub_start();
    mi_httpstub_push(stub, &(struct mi_httpstub_response){302, "Location: /login\r\n", ""});
    struct mi_probe_options o = {
        .base = mi_httpstub_url(stub), .max_tries = 1, .healthy_min = 200, .healthy_max = 399};
    struct mi_probe_result r = MI_PROBE_RESULT_INIT;
    cr_assert_eq(mi_probe_run(&r, &o), 0, "%s", mi_error_last());
    cr_assert(r.reachable);
    cr_assert_eq(r.status, 302);
    mi_httpstub_stop(stub);
    mi_probe_result_release(&r);
}

Test(probe, large_healthy_body_is_discarded)
{
    struct mi_httpstub *stub = mi_httpstub_start();
    size_t n = 300 * 1024;
    char *big = mi_xmalloc(n + 1);
    memset(big, 'x', n);
    big[n] = '\0';
    mi_httpstub_push(stub, &(struct mi_httpstub_response){200, NULL, big});
    struct mi_probe_options o = {.base = mi_httpstub_url(stub), .max_tries = 1};
    struct mi_probe_result r = MI_PROBE_RESULT_INIT;
    cr_assert_eq(mi_probe_run(&r, &o), 0, "%s", mi_error_last());
    cr_assert(r.reachable, "%s", r.error);
    mi_httpstub_stop(stub);
    free(big);
    mi_probe_result_release(&r);
}

Test(probe, bad_addresses_are_usage_errors)
{
    struct mi_probe_result r = MI_PROBE_RESULT_INIT;
    const char *bad[] = {"",        "file:///etc/passwd", "ftp://host/", "http://user:pw@host/",
                         "http://", "host name",          "http://h/\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct mi_probe_options o = {.base = bad[i]};
        cr_assert_eq(mi_probe_run(&r, &o), MI_EUSAGE, "accepted '%s'", bad[i]);
        cr_assert_null(strstr(mi_error_last(), "pw"), "%s", mi_error_last());
        mi_probe_result_release(&r);
    }
    struct mi_probe_options o = {0};
    cr_assert_eq(mi_probe_run(&r, &o), MI_EUSAGE);
}

Test(probe, url_joins_base_and_path)
{
    struct {
        const char *base, *path, *want;
    } cases[] = {
        {"20.1.2.3", "/health", "http://20.1.2.3/health"},
        {"20.1.2.3:5000", "health", "http://20.1.2.3:5000/health"},
        {"https://mlflow.example.com/", "/health", "https://mlflow.example.com/health"},
        {"HTTPS://mlflow.example.com/base/", "/api/2.0/ping",
         "HTTPS://mlflow.example.com/base/api/2.0/ping"},
        {"http://h", NULL, "http://h/"},
        {"http://h?x=1", NULL, "http://h?x=1"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *u = NULL;
        cr_assert_eq(mi_probe_url(&u, cases[i].base, cases[i].path), 0, "%s", mi_error_last());
        cr_assert_str_eq(u, cases[i].want);
        free(u);
    }
    char *u = NULL;
    cr_assert_eq(mi_probe_url(&u, "http://h?x=1", "/health"), MI_EUSAGE);
    cr_assert_null(u);
}

/* ---- the markdown ---------------------------------------------------------------------- */

Test(health, section_shows_both_outcomes_escaped)
{
    struct mi_probe_result ok = {.url = "http://20.1.2.3/health",
                                 .reachable = 1,
                                 .status = 200,
                                 .latency_ms = 85,
                                 .attempts = 3};
    struct mi_probe_result bad = {.url = "http://x|y/health",
                                  .status = 500,
                                  .latency_ms = -1,
                                  .attempts = 10,
                                  .elapsed_ms = 62000,
                                  .error = "answered HTTP 500 <b>|@team"};
    struct mi_report_health rows[] = {{"mlflow_url", &ok, 1}, {NULL, &bad, 0}};
    mi_buf out = MI_BUF_INIT;
    mi_report_health_section(&out, rows, 2);
    cr_assert(strstr(out.ptr, "### Health check\n"));
    cr_assert(strstr(out.ptr, "| `mlflow_url` | `http://20.1.2.3/health` | ✅ reachable | 200 | "
                              "85 ms | 3 |\n"),
              "%s", out.ptr);
    cr_assert(strstr(out.ptr, "| `service` | `http://x\\|y/health` | ❌ not reachable: answered "
                              "HTTP 500 &lt;b&gt;\\|@\xe2\x80\x8bteam | 500 | – | 10 |\n"),
              "%s", out.ptr);
    cr_assert(strstr(out.ptr, "does not fail the job"));
    cr_assert_null(strstr(out.ptr, "failed the job"));
    mi_buf_release(&out);

    rows[1].required = 1;
    mi_report_health_section(&out, rows, 2);
    cr_assert(strstr(out.ptr, "**The health check failed the job:** 1 required service"), "%s",
              out.ptr);
    mi_buf_release(&out);
}

Test(health, masked_values_never_appear)
{
    mi_log_mask("s3cr3t-token");
    struct mi_probe_result r = {.url = "http://h/health?key=s3cr3t-token",
                                .status = 0,
                                .latency_ms = -1,
                                .attempts = 1,
                                .timed_out = 1,
                                .error = "GET http://h/health?key=s3cr3t-token: timed out"};
    struct mi_report_health row = {"svc", &r, 0};
    mi_buf out = MI_BUF_INIT;
    mi_report_health_section(&out, &row, 1);
    cr_assert_null(strstr(out.ptr, "s3cr3t"), "%s", out.ptr);
    cr_assert(strstr(out.ptr, "no answer"));
    cr_assert(strstr(out.ptr, "time limit reached"));
    mi_buf_reset(&out);
    mi_report_health_line(&out, &r);
    cr_assert_null(strstr(out.ptr, "s3cr3t"), "%s", out.ptr);
    cr_assert(strstr(out.ptr, "not reachable after 1 try in 0 ms (time limit reached)"), "%s",
              out.ptr);
    mi_buf_release(&out);
}

Test(health, line_for_reachable_service)
{
    struct mi_probe_result r = {.url = "http://h/health",
                                .reachable = 1,
                                .status = 200,
                                .latency_ms = 12345,
                                .attempts = 1};
    mi_buf out = MI_BUF_INIT;
    mi_report_health_line(&out, &r);
    cr_assert_str_eq(out.ptr, "http://h/health: reachable (HTTP 200, 12 s, 1 try)");
    mi_buf_release(&out);
    mi_report_health_section(&out, NULL, 0);
    cr_assert(strstr(out.ptr, "No service address to probe."));
    mi_buf_release(&out);
}
