/* remote/http: statuses are data, transport failures are errors naming the endpoint,
 * retries follow the policy and Retry-After, caps hold, secrets stay out of messages. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "httpstub.h"
#include "remote/http.h"
#include "util/error.h"

static struct mi_httpstub *stub;

static void setup(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    stub = mi_httpstub_start();
}

static void teardown(void)
{
    mi_httpstub_stop(stub);
    curl_global_cleanup();
}

TestSuite(http, .init = setup, .fini = teardown);

static char *url(const char *path)
{
    return mi_xasprintf("%s%s", mi_httpstub_url(stub), path);
}

Test(http, status_and_headers_are_returned)
{
    mi_httpstub_push(stub, &(struct mi_httpstub_response){404, "X-Thing: One\r\nETag: \"abc\"\r\n",
                                                          "{\"message\":\"Not Found\"}"});
    char *u = url("/repos/o/r?x=1");
    const char *hdrs[] = {"Authorization: Bearer tok", "Accept: application/json", NULL};
    struct mi_http_request req = {.method = "GET", .url = u, .headers = hdrs};
    struct mi_http_response resp = MI_HTTP_RESPONSE_INIT;
    cr_assert_eq(mi_http_send(&resp, &req), 0, "%s", mi_error_last());
    cr_assert_eq(resp.status, 404);
    cr_assert_str_eq(resp.body.ptr, "{\"message\":\"Not Found\"}");
    cr_assert_str_eq(mi_http_response_header(&resp, "x-thing"), "One");
    cr_assert_str_eq(mi_http_response_header(&resp, "ETAG"), "\"abc\"");
    cr_assert_null(mi_http_response_header(&resp, "missing"));
    const struct mi_httpstub_request *seen = mi_httpstub_request(stub, 0);
    cr_assert_str_eq(seen->target, "/repos/o/r?x=1");
    cr_assert(strstr(seen->headers.ptr, "Authorization: Bearer tok"));
    mi_http_response_release(&resp);
    free(u);
}

Test(http, body_is_sent_with_method)
{
    mi_httpstub_push(stub, &(struct mi_httpstub_response){201, NULL, "created"});
    char *u = url("/x");
    struct mi_http_request req = {.method = "PATCH", .url = u, .body = "{\"a\":1}", .body_len = 7};
    struct mi_http_response resp = MI_HTTP_RESPONSE_INIT;
    cr_assert_eq(mi_http_send(&resp, &req), 0, "%s", mi_error_last());
    cr_assert_eq(resp.status, 201);
    const struct mi_httpstub_request *seen = mi_httpstub_request(stub, 0);
    cr_assert_str_eq(seen->method, "PATCH");
    cr_assert_str_eq(seen->body.ptr, "{\"a\":1}");
    mi_http_response_release(&resp);
    free(u);
}

Test(http, retries_5xx_then_succeeds)
{
    mi_httpstub_push(stub, &(struct mi_httpstub_response){502, NULL, "bad gateway"});
    mi_httpstub_push(stub, &(struct mi_httpstub_response){503, "Retry-After: 0\r\n", "busy"});
    mi_httpstub_push(stub, &(struct mi_httpstub_response){200, NULL, "ok"});
    char *u = url("/r");
    struct mi_http_request req = {.method = "GET", .url = u};
    struct mi_http_retry pol = {.max_attempts = 5, .base_delay_ms = 1, .max_delay_ms = 5};
    struct mi_http_response resp = MI_HTTP_RESPONSE_INIT;
    int attempts = 0;
    cr_assert_eq(mi_http_send_retry(&resp, &req, &pol, &attempts), 0, "%s", mi_error_last());
    cr_assert_eq(resp.status, 200);
    cr_assert_eq(attempts, 3);
    mi_http_response_release(&resp);
    free(u);
}

Test(http, no_retry_on_4xx)
{
    mi_httpstub_push(stub, &(struct mi_httpstub_response){401, NULL, "bad credentials"});
    mi_httpstub_push(stub, &(struct mi_httpstub_response){200, NULL, "ok"});
    char *u = url("/r");
    struct mi_http_request req = {.method = "GET", .url = u};
    struct mi_http_retry pol = {.max_attempts = 5, .base_delay_ms = 1, .max_delay_ms = 5};
    struct mi_http_response resp = MI_HTTP_RESPONSE_INIT;
    int attempts = 0;
    cr_assert_eq(mi_http_send_retry(&resp, &req, &pol, &attempts), 0);
    cr_assert_eq(resp.status, 401);
    cr_assert_eq(attempts, 1);
    mi_http_response_release(&resp);
    free(u);
}

static int secondary_limit(const struct mi_http_response *r, long *delay, void *ctx)
{
    (void)ctx;
    (void)delay;
    return r->status == 403 && mi_http_response_header(r, "retry-after") != NULL;
}

Test(http, classifier_adds_retry_and_gives_up_at_max)
{
    mi_httpstub_push(stub, &(struct mi_httpstub_response){403, "Retry-After: 1\r\n", "limit"});
    char *u = url("/r");
    struct mi_http_request req = {.method = "GET", .url = u};
    struct mi_http_retry pol = {
        .max_attempts = 3, .base_delay_ms = 1, .max_delay_ms = 10, .classify = secondary_limit};
    struct mi_http_response resp = MI_HTTP_RESPONSE_INIT;
    int attempts = 0;
    cr_assert_eq(mi_http_send_retry(&resp, &req, &pol, &attempts), 0);
    cr_assert_eq(resp.status, 403);
    cr_assert_eq(attempts, 3);
    cr_assert_eq(mi_httpstub_request_count(stub), 3);
    mi_http_response_release(&resp);
    free(u);
}

Test(http, dropped_connection_is_an_error_naming_endpoint_without_query)
{
    mi_httpstub_push(stub, &(struct mi_httpstub_response){200, NULL, NULL, 0, 1, 0});
    char *u = url("/container/blob?sig=SECRETSIG&sv=2025");
    struct mi_http_request req = {.method = "GET", .url = u};
    struct mi_http_response resp = MI_HTTP_RESPONSE_INIT;
    int rc = mi_http_send(&resp, &req);
    cr_assert_lt(rc, 0);
    cr_assert(strstr(mi_error_last(), "/container/blob"), "%s", mi_error_last());
    cr_assert_null(strstr(mi_error_last(), "SECRETSIG"), "query leaked: %s", mi_error_last());
    mi_http_response_release(&resp);
    free(u);
}

Test(http, timeout_is_reported_as_such)
{
    mi_httpstub_push(stub, &(struct mi_httpstub_response){200, NULL, "late", 1500});
    char *u = url("/slow");
    struct mi_http_request req = {.method = "GET", .url = u, .timeout_ms = 200};
    struct mi_http_response resp = MI_HTTP_RESPONSE_INIT;
    cr_assert_eq(mi_http_send(&resp, &req), MI_ETIMEOUT, "%s", mi_error_last());
    mi_http_response_release(&resp);
    free(u);
}

Test(http, truncated_body_is_an_error)
{
    mi_httpstub_push(stub, &(struct mi_httpstub_response){200, NULL, "partial", 0, 0, 1});
    char *u = url("/cut");
    struct mi_http_request req = {.method = "GET", .url = u, .timeout_ms = 2000};
    struct mi_http_response resp = MI_HTTP_RESPONSE_INIT;
    cr_assert_lt(mi_http_send(&resp, &req), 0);
    mi_http_response_release(&resp);
    free(u);
}

Test(http, response_cap_is_enforced)
{
    mi_httpstub_push(stub, &(struct mi_httpstub_response){200, NULL, "0123456789abcdef"});
    char *u = url("/big");
    struct mi_http_request req = {.method = "GET", .url = u, .max_response = 8};
    struct mi_http_response resp = MI_HTTP_RESPONSE_INIT;
    cr_assert_lt(mi_http_send(&resp, &req), 0);
    cr_assert(strstr(mi_error_last(), "limit of 8 bytes"), "%s", mi_error_last());
    mi_http_response_release(&resp);
    free(u);
}

struct sink {
    mi_buf got;
};

static int sink_write(void *ctx, const char *data, size_t len)
{
    mi_buf_add(&((struct sink *)ctx)->got, data, len);
    return 0;
}

Test(http, streams_success_bodies_and_buffers_errors)
{
    mi_httpstub_push(stub, &(struct mi_httpstub_response){200, NULL, "streamed-data"});
    mi_httpstub_push(stub, &(struct mi_httpstub_response){409, NULL, "<Error>lease</Error>"});
    char *u = url("/s");
    struct sink sk = {MI_BUF_INIT};
    struct mi_http_request req = {
        .method = "GET", .url = u, .write_body = sink_write, .write_ctx = &sk};
    struct mi_http_response resp = MI_HTTP_RESPONSE_INIT;
    cr_assert_eq(mi_http_send(&resp, &req), 0, "%s", mi_error_last());
    cr_assert_str_eq(sk.got.ptr, "streamed-data");
    cr_assert_eq(resp.body.len, 0);
    mi_buf_reset(&sk.got);
    cr_assert_eq(mi_http_send(&resp, &req), 0);
    cr_assert_eq(resp.status, 409);
    cr_assert_eq(sk.got.len, 0);
    cr_assert_str_eq(resp.body.ptr, "<Error>lease</Error>");
    mi_buf_release(&sk.got);
    mi_http_response_release(&resp);
    free(u);
}

Test(http, retry_after_parses_seconds_and_dates)
{
    struct mi_http_header h = {"retry-after", "7"};
    struct mi_http_response r = {429, MI_BUF_INIT, &h, 1};
    cr_assert_eq(mi_http_retry_after_ms(&r), 7000);
    h.value = "Wed, 21 Oct 2015 07:28:00 GMT"; /* in the past: retry now */
    cr_assert_eq(mi_http_retry_after_ms(&r), 0);
    h.value = "soon";
    cr_assert_eq(mi_http_retry_after_ms(&r), -1);
    r.headers_len = 0;
    cr_assert_eq(mi_http_retry_after_ms(&r), -1);
}

Test(http, escape_and_endpoint)
{
    mi_buf b = MI_BUF_INIT;
    mi_http_escape(&b, "org/repo/dev/pr-1/a b.tfplan", 1);
    cr_assert_str_eq(b.ptr, "org/repo/dev/pr-1/a%20b.tfplan");
    mi_buf_reset(&b);
    mi_http_escape(&b, "a/b&c=d", 0);
    cr_assert_str_eq(b.ptr, "a%2Fb%26c%3Dd");
    mi_buf_release(&b);
    char *e = mi_http_endpoint("https://user:pw@host.example/path/x?sig=1#f");
    cr_assert_str_eq(e, "https://host.example/path/x");
    free(e);
}

static int veto_429(const struct mi_http_response *r, long *delay, void *ctx)
{
    (void)delay;
    (void)ctx;
    return r->status == 429 ? -1 : 0;
}

Test(http, classifier_can_veto_a_default_retry)
{
    mi_httpstub_push(stub, &(struct mi_httpstub_response){429, NULL, "come back tomorrow"});
    char *u = url("/r");
    struct mi_http_request req = {.method = "GET", .url = u};
    struct mi_http_retry pol = {
        .max_attempts = 4, .base_delay_ms = 1, .max_delay_ms = 5, .classify = veto_429};
    struct mi_http_response resp = MI_HTTP_RESPONSE_INIT;
    int attempts = 0;
    cr_assert_eq(mi_http_send_retry(&resp, &req, &pol, &attempts), 0);
    cr_assert_eq(resp.status, 429);
    cr_assert_eq(attempts, 1);
    mi_http_response_release(&resp);
    free(u);
}

Test(http, post_is_not_resent_after_a_lost_answer)
{
    mi_httpstub_push(stub, &(struct mi_httpstub_response){201, NULL, NULL, 0, 1, 0});
    char *u = url("/comments");
    struct mi_http_request req = {.method = "POST", .url = u, .body = "{}", .body_len = 2};
    struct mi_http_retry pol = {.max_attempts = 4, .base_delay_ms = 1, .max_delay_ms = 5};
    struct mi_http_response resp = MI_HTTP_RESPONSE_INIT;
    int attempts = 0;
    cr_assert_lt(mi_http_send_retry(&resp, &req, &pol, &attempts), 0);
    cr_assert_eq(attempts, 1, "a POST was resent after its answer was lost");
    mi_http_response_release(&resp);
    free(u);
}

Test(http, get_is_resent_after_a_dropped_connection)
{
    mi_httpstub_push(stub, &(struct mi_httpstub_response){200, NULL, NULL, 0, 1, 0});
    mi_httpstub_push(stub, &(struct mi_httpstub_response){200, NULL, "ok"});
    char *u = url("/r");
    struct mi_http_request req = {.method = "GET", .url = u};
    struct mi_http_retry pol = {.max_attempts = 4, .base_delay_ms = 1, .max_delay_ms = 5};
    struct mi_http_response resp = MI_HTTP_RESPONSE_INIT;
    int attempts = 0;
    cr_assert_eq(mi_http_send_retry(&resp, &req, &pol, &attempts), 0, "%s", mi_error_last());
    cr_assert_eq(attempts, 2);
    cr_assert_str_eq(resp.body.ptr, "ok");
    mi_http_response_release(&resp);
    free(u);
}

/* The process-wide limits (MLINFRA_HTTP_*): a bound applies to requests without their own
 * limit, lowers a larger one, and never raises a smaller one. */
Test(http, process_timeout_bounds_requests_without_their_own)
{
    mi_http_set_limits(&(struct mi_http_limits){.timeout_ms = 300});
    mi_httpstub_push(stub, &(struct mi_httpstub_response){200, NULL, "late", 4000});
    char *u = url("/slow");
    struct mi_http_request req = {.method = "GET", .url = u};
    struct mi_http_response resp = MI_HTTP_RESPONSE_INIT;
    cr_assert_eq(mi_http_send(&resp, &req), MI_ETIMEOUT, "%s", mi_error_last());
    mi_http_response_release(&resp);
    free(u);
    mi_http_set_limits(&(struct mi_http_limits){0});
}

Test(http, process_timeout_never_raises_a_request_limit)
{
    mi_http_set_limits(&(struct mi_http_limits){.timeout_ms = 10000});
    mi_httpstub_push(stub, &(struct mi_httpstub_response){200, NULL, "late", 1500});
    char *u = url("/slow");
    struct mi_http_request req = {.method = "GET", .url = u, .timeout_ms = 200};
    struct mi_http_response resp = MI_HTTP_RESPONSE_INIT;
    cr_assert_eq(mi_http_send(&resp, &req), MI_ETIMEOUT, "%s", mi_error_last());
    mi_http_response_release(&resp);
    free(u);
    mi_http_set_limits(&(struct mi_http_limits){0});
}

/* The policy asks for a minute between tries; the process-wide first delay replaces it, so
 * three tries end well within the test's time limit (without it, the test times out). */
Test(http, process_retry_delay_replaces_the_policy_delay, .timeout = 30)
{
    mi_http_set_limits(&(struct mi_http_limits){.retry_delay_ms = 5});
    mi_httpstub_push(stub, &(struct mi_httpstub_response){503, NULL, "busy"});
    mi_httpstub_push(stub, &(struct mi_httpstub_response){503, NULL, "busy"});
    mi_httpstub_push(stub, &(struct mi_httpstub_response){200, NULL, "ok"});
    char *u = url("/r");
    struct mi_http_request req = {.method = "GET", .url = u};
    struct mi_http_retry pol = {.max_attempts = 3, .base_delay_ms = 60000, .max_delay_ms = 60000};
    struct mi_http_response resp = MI_HTTP_RESPONSE_INIT;
    int attempts = 0;
    cr_assert_eq(mi_http_send_retry(&resp, &req, &pol, &attempts), 0, "%s", mi_error_last());
    cr_assert_eq(resp.status, 200);
    cr_assert_eq(attempts, 3);
    mi_http_response_release(&resp);
    free(u);
    mi_http_set_limits(&(struct mi_http_limits){0});
}

/* A server that answers with its headers and the start of the body, then goes silent for
 * ten seconds (or until the client hangs up). */
struct silent_server {
    int listener;
    int port;
    pthread_t thread;
};

static void *silent_main(void *arg)
{
    struct silent_server *srv = arg;
    int c = accept(srv->listener, NULL, NULL);
    if (c < 0)
        return NULL;
    char buf[4096];
    (void)!recv(c, buf, sizeof(buf), 0);
    static const char part[] = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nthe first bytes";
    (void)!send(c, part, sizeof(part) - 1, MSG_NOSIGNAL);
    struct pollfd p = {c, POLLIN, 0};
    (void)poll(&p, 1, 10000);
    close(c);
    return NULL;
}

/* The stall limit counts from the last byte that moved, not libcurl's five-second average:
 * its message names the limit (libcurl's own check says "Operation too slow"). */
Test(http, process_stall_limit_ends_a_transfer_that_stops_midway, .timeout = 30)
{
    struct silent_server srv;
    srv.listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(srv.listener, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(a);
    cr_assert_eq(getsockname(srv.listener, (struct sockaddr *)&a, &len), 0);
    cr_assert_eq(listen(srv.listener, 1), 0);
    srv.port = ntohs(a.sin_port);
    cr_assert_eq(pthread_create(&srv.thread, NULL, silent_main, &srv), 0);

    mi_http_set_limits(&(struct mi_http_limits){.stall_timeout_ms = 1000});
    char *u = mi_xasprintf("http://127.0.0.1:%d/half", srv.port);
    struct mi_http_request req = {.method = "GET", .url = u};
    struct mi_http_response resp = MI_HTTP_RESPONSE_INIT;
    cr_assert_eq(mi_http_send(&resp, &req), MI_ETIMEOUT, "%s", mi_error_last());
    cr_assert(strstr(mi_error_last(), "no data moved for 1000 ms"), "%s", mi_error_last());
    mi_http_response_release(&resp);
    free(u);
    mi_http_set_limits(&(struct mi_http_limits){0});
    pthread_join(srv.thread, NULL);
    close(srv.listener);
}
