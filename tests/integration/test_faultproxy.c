/* faultproxy (tests/doubles/faultproxy): each fault really happens to a client talking to an
 * HTTP stub through it: resets and truncations are transport errors, a stall runs into the
 * client's time limit, latency makes a transfer measurably slower, and the selection of
 * connections (every Nth, the next K, after skipping M) is exact. Pass-through keeps every
 * byte. The client is the agent's own remote/http, so these are the errors the agent sees. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "faultproxy_ctl.h"
#include "httpstub.h"
#include "remote/http.h"
#include "testsupport.h"
#include "util/error.h"

static struct mi_httpstub *stub;
static struct mi_faultproxy *proxy;

static void setup(void)
{
    /* The stub answers on sockets the proxy may have reset; writing there raises SIGPIPE,
     * which must not end the test process. */
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    stub = mi_httpstub_start();
    proxy = mi_faultproxy_start(mi_httpstub_port(stub));
}

static void teardown(void)
{
    mi_faultproxy_stop(proxy);
    mi_httpstub_stop(stub);
    curl_global_cleanup();
}

TestSuite(faultproxy, .init = setup, .fini = teardown, .timeout = 60);

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* A body of n bytes that is not all one value, so a reordering or a lost piece shows. */
static char *make_body(size_t n)
{
    char *b = mi_xmalloc(n + 1);
    unsigned x = 2463534242u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b[i] = (char)('a' + x % 26);
    }
    b[n] = '\0';
    return b;
}

/* One request through the proxy; returns mi_http_send's result, the response in *resp. */
static int request(struct mi_http_response *resp, const char *method, const char *body,
                   long timeout_ms)
{
    char *u = mi_xasprintf("%s/blob", mi_faultproxy_url(proxy));
    struct mi_http_request req = {.method = method,
                                  .url = u,
                                  .body = body,
                                  .body_len = body ? strlen(body) : 0,
                                  .timeout_ms = timeout_ms ? timeout_ms : 20000,
                                  .connect_timeout_ms = 5000};
    int rc = mi_http_send(resp, &req);
    free(u);
    return rc;
}

/* A GET through the proxy: 0 with status 200 and the expected body, or the error code. */
static int get_ok(const char *expect)
{
    struct mi_http_response resp = MI_HTTP_RESPONSE_INIT;
    int rc = request(&resp, "GET", NULL, 0);
    if (rc == 0) {
        cr_assert_eq(resp.status, 200);
        cr_assert_str_eq(resp.body.ptr, expect);
    }
    mi_http_response_release(&resp);
    return rc;
}

Test(faultproxy, pass_through_keeps_every_byte_both_ways)
{
    char *down = make_body(1 << 20);
    char *up = make_body(300000);
    mi_httpstub_push(stub, &(struct mi_httpstub_response){200, NULL, down});

    struct mi_http_response resp = MI_HTTP_RESPONSE_INIT;
    cr_assert_eq(request(&resp, "PUT", up, 0), 0, "%s", mi_error_last());
    cr_assert_eq(resp.status, 200);
    cr_assert_eq(resp.body.len, strlen(down));
    cr_assert(memcmp(resp.body.ptr, down, resp.body.len) == 0, "response changed on the way");
    const struct mi_httpstub_request *seen = mi_httpstub_request(stub, 0);
    cr_assert_eq(seen->body.len, strlen(up));
    cr_assert(memcmp(seen->body.ptr, up, seen->body.len) == 0, "request changed on the way");

    cr_assert_eq(mi_faultproxy_wait_idle(proxy, 20000), 0);
    struct mi_faultproxy_stats st;
    mi_faultproxy_stats(proxy, &st);
    cr_assert_eq(st.connections, 1);
    cr_assert_eq(st.selected, 0);
    cr_assert_geq(st.bytes_down, (unsigned long long)strlen(down));
    cr_assert_geq(st.bytes_up, (unsigned long long)strlen(up));
    mi_http_response_release(&resp);
    free(down);
    free(up);
}

Test(faultproxy, reset_in_response_is_a_transport_error_after_the_server_saw_the_request)
{
    char *body = make_body(5000);
    mi_httpstub_push(stub, &(struct mi_httpstub_response){200, NULL, body});
    mi_faultproxy_set(proxy, &(struct mi_fault){.kind = MI_FAULT_RESET, .after = 100});

    struct mi_http_response resp = MI_HTTP_RESPONSE_INIT;
    int rc = request(&resp, "GET", NULL, 0);
    cr_assert_lt(rc, 0, "a reset connection must be an error, got status %ld", resp.status);
    cr_assert_eq(rc, MI_ERR);
    cr_assert(strstr(mi_error_last(), "GET http://127.0.0.1:"), "%s", mi_error_last());
    /* The request went through whole: the server acted, only the answer was lost. */
    cr_assert_eq(mi_httpstub_request_count(stub), 1);

    struct mi_faultproxy_stats st;
    mi_faultproxy_stats(proxy, &st);
    cr_assert_eq(st.resets, 1);
    cr_assert_eq(st.selected, 1);
    mi_http_response_release(&resp);
    free(body);
}

Test(faultproxy, reset_in_request_keeps_it_from_the_server)
{
    mi_httpstub_push(stub, &(struct mi_httpstub_response){201, NULL, "stored"});
    mi_faultproxy_set(proxy, &(struct mi_fault){.kind = MI_FAULT_RESET, .dir = MI_FAULT_UP});

    char *up = make_body(100000);
    struct mi_http_response resp = MI_HTTP_RESPONSE_INIT;
    cr_assert_lt(request(&resp, "PUT", up, 0), 0);
    cr_assert_eq(mi_faultproxy_wait_idle(proxy, 20000), 0);
    struct mi_faultproxy_stats st;
    mi_faultproxy_stats(proxy, &st);
    cr_assert_eq(st.resets, 1);
    cr_assert_eq(st.bytes_up, 0, "no request byte may reach the server");
    cr_assert_eq(mi_httpstub_request_count(stub), 0);
    mi_http_response_release(&resp);
    free(up);
}

Test(faultproxy, reset_midway_through_an_upload)
{
    mi_httpstub_push(stub, &(struct mi_httpstub_response){201, NULL, "stored"});
    mi_faultproxy_set(proxy,
                      &(struct mi_fault){.kind = MI_FAULT_RESET, .dir = MI_FAULT_UP, .after = 50000});

    char *up = make_body(200000);
    struct mi_http_response resp = MI_HTTP_RESPONSE_INIT;
    cr_assert_lt(request(&resp, "PUT", up, 0), 0);
    cr_assert_eq(mi_faultproxy_wait_idle(proxy, 20000), 0);
    struct mi_faultproxy_stats st;
    mi_faultproxy_stats(proxy, &st);
    cr_assert_eq(st.resets, 1);
    cr_assert_eq(st.bytes_up, 50000, "exactly the bytes before the fault are forwarded");
    mi_http_response_release(&resp);
    free(up);
}

Test(faultproxy, truncated_response_is_an_error)
{
    char *body = make_body(4000);
    mi_httpstub_push(stub, &(struct mi_httpstub_response){200, NULL, body});
    mi_faultproxy_set(proxy, &(struct mi_fault){.kind = MI_FAULT_TRUNCATE, .after = 1000});

    struct mi_http_response resp = MI_HTTP_RESPONSE_INIT;
    int rc = request(&resp, "GET", NULL, 0);
    cr_assert_lt(rc, 0, "a short body must not pass for a response (status %ld, %zu bytes)",
                 resp.status, resp.body.len);
    cr_assert_eq(mi_faultproxy_wait_idle(proxy, 20000), 0);
    struct mi_faultproxy_stats st;
    mi_faultproxy_stats(proxy, &st);
    cr_assert_eq(st.truncates, 1);
    cr_assert_eq(st.bytes_down, 1000);
    mi_http_response_release(&resp);
    free(body);
}

Test(faultproxy, truncation_inside_the_headers_is_an_error)
{
    mi_httpstub_push(stub, &(struct mi_httpstub_response){200, NULL, "fine"});
    mi_faultproxy_set(proxy, &(struct mi_fault){.kind = MI_FAULT_TRUNCATE, .after = 10});
    struct mi_http_response resp = MI_HTTP_RESPONSE_INIT;
    cr_assert_lt(request(&resp, "GET", NULL, 0), 0);
    mi_http_response_release(&resp);
}

Test(faultproxy, stall_forever_runs_into_the_client_time_limit)
{
    mi_httpstub_push(stub, &(struct mi_httpstub_response){200, NULL, "late"});
    /* Held on the request's first byte, so the outcome does not depend on how fast the
     * stub answers (under valgrind it may take longer than the client's time limit). */
    mi_faultproxy_set(proxy, &(struct mi_fault){.kind = MI_FAULT_STALL, .dir = MI_FAULT_UP});

    struct mi_http_response resp = MI_HTTP_RESPONSE_INIT;
    cr_assert_eq(request(&resp, "GET", NULL, 300), MI_ETIMEOUT, "%s", mi_error_last());
    /* The proxy lets go once the client gave up, so stalls do not pile up connections. */
    cr_assert_eq(mi_faultproxy_wait_idle(proxy, 20000), 0);
    struct mi_faultproxy_stats st;
    mi_faultproxy_stats(proxy, &st);
    cr_assert_eq(st.stalls, 1);
    cr_assert_eq(st.bytes_up, 0);
    cr_assert_eq(mi_httpstub_request_count(stub), 0);
    mi_http_response_release(&resp);
}

Test(faultproxy, finite_stall_delays_then_completes)
{
    char *body = make_body(3000);
    mi_httpstub_push(stub, &(struct mi_httpstub_response){200, NULL, body});
    mi_faultproxy_set(proxy,
                      &(struct mi_fault){.kind = MI_FAULT_STALL, .after = 500, .stall_ms = 300});
    long t0 = now_ms();
    cr_assert_eq(get_ok(body), 0, "%s", mi_error_last());
    /* A lower bound only: the proxy slept at least this long before the rest moved. */
    cr_assert_geq(now_ms() - t0, 300);
    struct mi_faultproxy_stats st;
    mi_faultproxy_stats(proxy, &st);
    cr_assert_eq(st.stalls, 1);
    free(body);
}

Test(faultproxy, latency_per_chunk_slows_the_transfer)
{
    char *body = make_body(8192);
    mi_httpstub_push(stub, &(struct mi_httpstub_response){200, NULL, body});
    mi_faultproxy_set(proxy, &(struct mi_fault){.latency_ms = 20, .chunk = 1024});
    long t0 = now_ms();
    cr_assert_eq(get_ok(body), 0, "%s", mi_error_last());
    /* At least nine chunks of the body and headers each waited 20 ms. */
    cr_assert_geq(now_ms() - t0, 8 * 20);
    struct mi_faultproxy_stats st;
    mi_faultproxy_stats(proxy, &st);
    cr_assert_eq(st.selected, 1);
    cr_assert_eq(st.resets + st.truncates + st.stalls, 0);
    free(body);
}

Test(faultproxy, every_nth_connection_is_faulted)
{
    mi_httpstub_push(stub, &(struct mi_httpstub_response){200, NULL, "ok"});
    mi_faultproxy_set(proxy, &(struct mi_fault){.kind = MI_FAULT_RESET, .every = 2});
    int expect[] = {0, 1, 0, 1, 0, 1};
    for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++)
        cr_assert_eq(get_ok("ok") < 0, expect[i], "connection %zu", i + 1);

    /* Setting the fault again starts counting again: the next one is the first. */
    mi_faultproxy_set(proxy, &(struct mi_fault){.kind = MI_FAULT_RESET, .every = 2});
    cr_assert_eq(get_ok("ok"), 0);
    cr_assert_lt(get_ok("ok"), 0);
    struct mi_faultproxy_stats st;
    mi_faultproxy_stats(proxy, &st);
    cr_assert_eq(st.connections, 8);
    cr_assert_eq(st.resets, 4);
}

Test(faultproxy, next_k_connections_after_skipping_m)
{
    mi_httpstub_push(stub, &(struct mi_httpstub_response){200, NULL, "ok"});
    mi_faultproxy_set(proxy, &(struct mi_fault){.kind = MI_FAULT_TRUNCATE, .after = 5,
                                                .skip = 1, .next = 2});
    int expect[] = {0, 1, 1, 0, 0};
    for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++)
        cr_assert_eq(get_ok("ok") < 0, expect[i], "connection %zu", i + 1);
    struct mi_faultproxy_stats st;
    mi_faultproxy_stats(proxy, &st);
    cr_assert_eq(st.truncates, 2);
    cr_assert_eq(st.selected, 2);
}

Test(faultproxy, retries_get_through_a_burst_of_resets)
{
    mi_httpstub_push(stub, &(struct mi_httpstub_response){200, NULL, "finally"});
    mi_faultproxy_set(proxy, &(struct mi_fault){.kind = MI_FAULT_RESET, .next = 2});
    char *u = mi_xasprintf("%s/r", mi_faultproxy_url(proxy));
    struct mi_http_request req = {.method = "GET", .url = u, .timeout_ms = 20000};
    struct mi_http_retry pol = {.max_attempts = 4, .base_delay_ms = 1, .max_delay_ms = 5};
    struct mi_http_response resp = MI_HTTP_RESPONSE_INIT;
    int attempts = 0;
    cr_assert_eq(mi_http_send_retry(&resp, &req, &pol, &attempts), 0, "%s", mi_error_last());
    cr_assert_eq(resp.status, 200);
    cr_assert_str_eq(resp.body.ptr, "finally");
    cr_assert_eq(attempts, 3);
    mi_http_response_release(&resp);
    free(u);
}

Test(faultproxy, pass_after_a_fault_restores_the_connection)
{
    mi_httpstub_push(stub, &(struct mi_httpstub_response){200, NULL, "ok"});
    mi_faultproxy_set(proxy, &(struct mi_fault){.kind = MI_FAULT_RESET});
    cr_assert_lt(get_ok("ok"), 0);
    mi_faultproxy_set(proxy, NULL);
    cr_assert_eq(get_ok("ok"), 0, "%s", mi_error_last());
}

Test(faultproxy, bad_control_text_resets_everything_and_says_why)
{
    mi_httpstub_push(stub, &(struct mi_httpstub_response){200, NULL, "ok"});
    mi_faultproxy_set_spec(proxy, "fault=explode");
    cr_assert_lt(get_ok("ok"), 0, "a typo in a fault must not pass silently");
    struct mi_faultproxy_stats st;
    mi_faultproxy_stats(proxy, &st);
    cr_assert_eq(st.control_errors, 1);
    cr_assert(strstr(st.error, "explode"), "error: %s", st.error);

    mi_faultproxy_set_spec(proxy, "fault=stall after=12 # comment\n stall_ms=zero");
    cr_assert_lt(get_ok("ok"), 0);
    mi_faultproxy_stats(proxy, &st);
    cr_assert(strstr(st.error, "stall_ms"), "error: %s", st.error);

    mi_faultproxy_set_spec(proxy, "fault=pass # all well again");
    cr_assert_eq(get_ok("ok"), 0, "%s", mi_error_last());
    mi_faultproxy_stats(proxy, &st);
    cr_assert_str_empty(st.error);
}
