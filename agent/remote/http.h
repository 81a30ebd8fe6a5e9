/*
 * http.h - HTTP over libcurl for the clients in remote/ (GitHub, Azure Blob, Azure AD).
 *
 * Rules:
 *  - A request describes one call; mi_http_send makes it once, mi_http_send_retry makes it
 *    with retries (408/429/500/502/503/504, and whatever the caller's classifier adds),
 *    honouring Retry-After (seconds or HTTP date) up to policy.max_delay_ms. After a transport
 *    failure only idempotent methods (GET, HEAD, PUT, DELETE) are resent: a POST or PATCH whose
 *    answer was lost may have taken effect, so the caller decides (look, then try again).
 *  - An HTTP status is not an error: the call succeeds when a response arrived, and the
 *    caller reads out->status. Errors (negative MI_E* codes) are transport failures, time
 *    limits, caps exceeded and cancellation; their message names method and endpoint (the URL
 *    without its query string, which may hold a SAS token) and curl's own text.
 *  - Bodies: either in memory (body/body_len) or streamed from read_body; responses either
 *    buffered into out->body (capped at max_response bytes, default 16 MiB) or streamed to
 *    write_body. A retried streamed request needs rewind_body / reset_sink, else it is not
 *    retried after the first byte moved.
 *  - The response owns its memory; mi_http_response_release frees it. Header names are stored
 *    lower-cased; mi_http_response_header returns a borrowed value or NULL.
 *  - Cancellation (util/cancel.h) aborts a transfer in progress with MI_ECANCELLED.
 *  - Nothing here prints or logs. Header values passed in are never echoed into errors, so
 *    an Authorization header cannot leak through a message.
 */
#ifndef MI_HTTP_H
#define MI_HTTP_H

#include <stddef.h>

#include "util/buf.h"

struct mi_http_header {
    char *name; /* lower-case */
    char *value;
};

struct mi_http_response {
    long status;
    mi_buf body;
    struct mi_http_header *headers;
    size_t headers_len;
};

#define MI_HTTP_RESPONSE_INIT {0, MI_BUF_INIT, NULL, 0}

struct mi_http_request {
    const char *method; /* "GET", "PUT", "POST", "PATCH", "DELETE", "HEAD" */
    const char *url;
    const char *const *headers; /* "Name: value" strings, NULL-terminated; may be NULL */

    const void *body; /* in-memory request body (may be NULL with body_len 0) */
    size_t body_len;

    /* Streamed request body: returns bytes written into buf (0 at end) or (size_t)-1 on error
     * (the callback sets the error message). body_size is sent as Content-Length. */
    size_t (*read_body)(void *ctx, char *buf, size_t len);
    int (*rewind_body)(void *ctx);
    void *read_ctx;
    long long body_size;

    /* Streamed response body: return 0 to continue, negative (message set) to abort. Called
     * only for responses with status 200..299; other statuses are buffered for the error. */
    int (*write_body)(void *ctx, const char *data, size_t len);
    int (*reset_sink)(void *ctx);
    void *write_ctx;

    size_t max_response;      /* cap on a buffered body; 0: 16 MiB */
    long timeout_ms;          /* whole transfer; 0: 300 000 */
    long connect_timeout_ms;  /* 0: 10 000 */
    long low_speed_timeout_s; /* abort if under 1 byte/s for this long; 0: 60 */
    int follow_redirects;
    /* PEM file of CA certificates to trust instead of the system's (a private CA, or a test
     * server's self-signed certificate); NULL: the system's. Added for azure_blob.h. */
    const char *ca_file;
};

struct mi_http_retry {
    int max_attempts;   /* total tries including the first; 0: 4 */
    long base_delay_ms; /* first backoff, doubled each time with jitter; 0: 500 */
    long max_delay_ms;  /* cap on any single wait, Retry-After included; 0: 60 000 */
    /* Extra retry decisions (GitHub's secondary rate limit is a 403). Return 1 to retry and
     * set *delay_ms (0: default backoff); 0 to keep the default decision; -1 to stop now
     * (a rate limit that resets in hours is not worth waiting for). */
    int (*classify)(const struct mi_http_response *resp, long *delay_ms, void *ctx);
    void *classify_ctx;
};

/* Process-wide bounds on every request, for operators who want a run to give up sooner than
 * the clients' own limits (a flaky runner network, a test). Set once, before any thread
 * starts (main.c, from MLINFRA_HTTP_*; docs/configuration.md). A zero field changes nothing;
 * a time bound lowers a request's own limit and never raises it; retry_delay_ms replaces the
 * first wait between retries of every client (it still doubles after each try, and
 * Retry-After still wins). */
struct mi_http_limits {
    long timeout_ms;       /* whole transfer, connection included */
    long stall_timeout_ms; /* no byte moved for this long */
    long retry_delay_ms;   /* first backoff */
};
void mi_http_set_limits(const struct mi_http_limits *limits);
const struct mi_http_limits *mi_http_get_limits(void);

/* One attempt. */
int mi_http_send(struct mi_http_response *out, const struct mi_http_request *req);
/* With retries; out holds the last response. *attempts (may be NULL) gets the tries made. */
int mi_http_send_retry(struct mi_http_response *out, const struct mi_http_request *req,
                       const struct mi_http_retry *policy, int *attempts);

const char *mi_http_response_header(const struct mi_http_response *r, const char *name);
void mi_http_response_release(struct mi_http_response *r);

/* Appends s percent-encoded (RFC 3986 unreserved kept; '/' kept when keep_slash). */
void mi_http_escape(mi_buf *out, const char *s, int keep_slash);
/* The URL without query string and userinfo, for messages (caller frees). */
char *mi_http_endpoint(const char *url);
/* Parses Retry-After (delta seconds or HTTP date) into milliseconds; -1 when absent/invalid. */
long mi_http_retry_after_ms(const struct mi_http_response *r);

#endif
