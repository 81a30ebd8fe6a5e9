#include "remote/http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util/cancel.h"
#include "util/clock.h"
#include "util/error.h"

#define DEFAULT_MAX_RESPONSE (16u * 1024u * 1024u)
/* Headers are small; a server sending more than this is broken or hostile. */
#define MAX_HEADER_BYTES (256u * 1024u)
#define MAX_HEADERS 200

static struct mi_http_limits limits;

void mi_http_set_limits(const struct mi_http_limits *l)
{
    limits = *l;
}

const struct mi_http_limits *mi_http_get_limits(void)
{
    return &limits;
}

/* The smaller of a request's own limit and the process-wide bound (0 means none). */
static long bounded(long own, long bound)
{
    return bound > 0 && bound < own ? bound : own;
}

struct transfer {
    const struct mi_http_request *req;
    struct mi_http_response *resp;
    size_t header_bytes;
    int sink_error;   /* write_body failed: its message is already set */
    int over_cap;     /* buffered body exceeded max_response */
    int source_error; /* read_body failed: its message is already set */
    int streaming;    /* status known to be 2xx and a sink is set */
    int bytes_moved;  /* some body byte reached the sink: a retry needs reset_sink */
    int headers_done; /* the blank line that ends the last header block arrived */
    /* The stall clock of the process-wide limit: when a byte last moved either way. */
    long long moved; /* header, body and upload bytes seen so far */
    long last_move_ms;
    int stalled; /* aborted by the stall limit */
};

void mi_http_response_release(struct mi_http_response *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->headers_len; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
    r->headers = NULL;
    r->headers_len = 0;
    mi_buf_release(&r->body);
    r->status = 0;
}

static void response_reset(struct mi_http_response *r)
{
    mi_http_response_release(r);
    mi_buf_init(&r->body);
}

const char *mi_http_response_header(const struct mi_http_response *r, const char *name)
{
    /* The last occurrence wins, as for repeated headers after a redirect. */
    for (size_t i = r->headers_len; i > 0; i--)
        if (strcasecmp(r->headers[i - 1].name, name) == 0)
            return r->headers[i - 1].value;
    return NULL;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userp)
{
    struct transfer *t = userp;
    size_t len = size * nmemb;
    t->header_bytes += len;
    if (t->header_bytes > MAX_HEADER_BYTES)
        return 0;
    if ((len == 2 && data[0] == '\r' && data[1] == '\n') || (len == 1 && data[0] == '\n')) {
        t->headers_done = 1;
        return len;
    }
    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        /* A new status line (after 100-continue or a redirect): forget earlier headers. */
        t->headers_done = 0;
        struct mi_http_response *r = t->resp;
        for (size_t i = 0; i < r->headers_len; i++) {
            free(r->headers[i].name);
            free(r->headers[i].value);
        }
        r->headers_len = 0;
        return len;
    }
    const char *colon = memchr(data, ':', len);
    if (!colon || t->resp->headers_len >= MAX_HEADERS)
        return len;
    size_t nlen = (size_t)(colon - data);
    const char *v = colon + 1;
    const char *end = data + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    struct mi_http_response *r = t->resp;
    r->headers = mi_xrealloc(r->headers, (r->headers_len + 1) * sizeof(*r->headers));
    char *name = mi_xstrndup(data, nlen);
    for (char *p = name; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    r->headers[r->headers_len].name = name;
    r->headers[r->headers_len].value = mi_xstrndup(v, (size_t)(end - v));
    r->headers_len++;
    return len;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    struct transfer *t = userp;
    size_t len = size * nmemb;
    const struct mi_http_request *req = t->req;
    if (!t->streaming && req->write_body) {
        /* The status is final once body bytes flow; stream only successful bodies. */
        t->streaming = t->resp->status >= 200 && t->resp->status < 300;
    }
    if (t->streaming) {
        t->bytes_moved = 1;
        if (req->write_body(req->write_ctx, data, len) < 0) {
            t->sink_error = 1;
            return 0;
        }
        return len;
    }
    size_t cap = req->max_response ? req->max_response : DEFAULT_MAX_RESPONSE;
    if (t->resp->body.len + len > cap) {
        t->over_cap = 1;
        return 0;
    }
    mi_buf_add(&t->resp->body, data, len);
    return len;
}

static size_t on_read(char *buf, size_t size, size_t nmemb, void *userp)
{
    struct transfer *t = userp;
    size_t n = t->req->read_body(t->req->read_ctx, buf, size * nmemb);
    if (n == (size_t)-1) {
        t->source_error = 1;
        return CURL_READFUNC_ABORT;
    }
    return n;
}

/* Cancellation, and the process-wide stall limit: libcurl's own low-speed check averages over
 * its last five seconds, so a transfer that stops after some bytes moved would run on for
 * seconds past a short limit; libcurl calls this at least once a second, moving or not. */
static int on_progress(void *userp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    struct transfer *t = userp;
    (void)dltotal;
    (void)ultotal;
    if (mi_cancel_requested())
        return 1;
    if (limits.stall_timeout_ms <= 0)
        return 0;
    long long moved = (long long)dlnow + (long long)ulnow + (long long)t->header_bytes;
    long now = mi_clock_ms();
    if (moved != t->moved || !t->last_move_ms) {
        t->moved = moved;
        t->last_move_ms = now;
        return 0;
    }
    if (now - t->last_move_ms >= limits.stall_timeout_ms) {
        t->stalled = 1;
        return 1;
    }
    return 0;
}

/* libcurl reports the status only after the headers; capture it in the header callback's
 * stead by asking after each header block is complete. */
static size_t on_header_status(char *data, size_t size, size_t nmemb, void *userp)
{
    struct transfer *t = userp;
    size_t len = size * nmemb;
    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        const char *sp = memchr(data, ' ', len);
        if (sp && sp + 4 <= data + len)
            t->resp->status = strtol(sp + 1, NULL, 10);
    }
    return on_header(data, size, nmemb, userp);
}

char *mi_http_endpoint(const char *url)
{
    const char *start = url;
    const char *scheme = strstr(url, "://");
    mi_buf b = MI_BUF_INIT;
    if (scheme) {
        mi_buf_add(&b, url, (size_t)(scheme + 3 - url));
        start = scheme + 3;
        /* Drop userinfo: it would be a credential. */
        const char *at = strchr(start, '@');
        const char *slash = strchr(start, '/');
        if (at && (!slash || at < slash))
            start = at + 1;
    }
    size_t n = strcspn(start, "?#");
    mi_buf_add(&b, start, n);
    return mi_buf_detach(&b);
}

/* Set by send_once when a body callback (not the network) ended the transfer. */
static _Thread_local int callback_failed;

static int send_once(struct mi_http_response *out, const struct mi_http_request *req,
                     int *bytes_moved)
{
    const char *method = req->method ? req->method : "GET";
    response_reset(out);
    struct transfer t = {0};
    t.req = req;
    t.resp = out;
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers = NULL;
    char *endpoint = mi_http_endpoint(req->url);
    int rc = 0;
    CURL *curl = curl_easy_init();
    if (!curl) {
        rc = mi_error_set(MI_ERR, "http: cannot initialise libcurl for %s %s", req->method,
                          endpoint);
        goto done;
    }
    for (const char *const *h = req->headers; h && *h; h++)
        headers = curl_slist_append(headers, *h);
    /* libcurl adds "Expect: 100-continue" to large uploads; Azure and GitHub do not need it
     * and it costs a round trip. */
    headers = curl_slist_append(headers, "Expect:");

    curl_easy_setopt(curl, CURLOPT_URL, req->url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, req->follow_redirects ? 1L : 0L);
    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 5L);
    long timeout_ms = bounded(req->timeout_ms ? req->timeout_ms : 300000L, limits.timeout_ms);
    long connect_ms =
        bounded(req->connect_timeout_ms ? req->connect_timeout_ms : 10000L, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    /* The request's own stall limit; the process-wide one is on_progress's. */
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
                     req->low_speed_timeout_s ? req->low_speed_timeout_s : 60L);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header_status);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &t);
    curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
    if (req->ca_file)
        curl_easy_setopt(curl, CURLOPT_CAINFO, req->ca_file);

    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (req->read_body) {
        curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(curl, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(curl, CURLOPT_READDATA, &t);
        curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->body_size);
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body ? (const char *)req->body : "");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    }

    CURLcode res = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (status)
        out->status = status;
    /* libcurl takes a connection that closes inside the header block, after the status line,
     * for a whole answer without the headers that never came (a missing ETag, lease id or
     * metadata would then pass for absent); it is a broken response, like a short body. */
    if (res == CURLE_OK && status && !t.headers_done) {
        rc = mi_error_set(MI_ERR,
                          "http: %s %s: the connection closed inside the response's "
                          "headers (HTTP %ld)",
                          method, endpoint, status);
        goto done;
    }
    if (res == CURLE_OK)
        goto done;
    if (t.sink_error || t.source_error) {
        callback_failed = 1;
        rc = mi_error_prefix("http: %s %s", method, endpoint);
        goto done;
    }
    if (res == CURLE_ABORTED_BY_CALLBACK && t.stalled) {
        rc = mi_error_set(MI_ETIMEOUT,
                          "http: %s %s: no data moved for %ld ms "
                          "(MLINFRA_HTTP_STALL_TIMEOUT)",
                          method, endpoint, limits.stall_timeout_ms);
        goto done;
    }
    if (res == CURLE_ABORTED_BY_CALLBACK && mi_cancel_requested()) {
        rc = mi_error_set(MI_ECANCELLED, "http: %s %s: cancelled by signal %d", method, endpoint,
                          mi_cancel_requested());
        goto done;
    }
    if (t.over_cap) {
        rc =
            mi_error_set(MI_ERR, "http: %s %s: response larger than the limit of %zu bytes", method,
                         endpoint, req->max_response ? req->max_response : DEFAULT_MAX_RESPONSE);
        goto done;
    }
    if (t.header_bytes > MAX_HEADER_BYTES) {
        rc = mi_error_set(MI_ERR, "http: %s %s: response headers larger than %u bytes", method,
                          endpoint, MAX_HEADER_BYTES);
        goto done;
    }
    rc = mi_error_set(res == CURLE_OPERATION_TIMEDOUT ? MI_ETIMEOUT : MI_ERR, "http: %s %s: %s",
                      method, endpoint, errbuf[0] ? errbuf : curl_easy_strerror(res));
done:
    if (rc == 0 && out->status == 0)
        rc = mi_error_set(MI_ERR, "http: %s %s: no HTTP status in the response", method, endpoint);
    curl_slist_free_all(headers);
    if (curl)
        curl_easy_cleanup(curl);
    free(endpoint);
    *bytes_moved = t.bytes_moved;
    return rc;
}

int mi_http_send(struct mi_http_response *out, const struct mi_http_request *req)
{
    int moved = 0;
    return send_once(out, req, &moved);
}

long mi_http_retry_after_ms(const struct mi_http_response *r)
{
    const char *v = mi_http_response_header(r, "retry-after");
    if (!v || !*v)
        return -1;
    char *end = NULL;
    long secs = strtol(v, &end, 10);
    if (end && end != v && *end == '\0')
        return secs < 0 ? -1 : (secs > 86400 ? 86400000L : secs * 1000L);
    struct tm tm = {0};
    const char *p = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!p)
        return -1;
    time_t when = timegm(&tm);
    time_t now = time(NULL);
    return when > now ? (long)(when - now) * 1000L : 0;
}

static int default_retryable(long status)
{
    return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 ||
           status == 504;
}

static long backoff_ms(long base, int attempt)
{
    long d = base;
    for (int i = 1; i < attempt && d < 3600000L; i++)
        d *= 2;
    /* Jitter of up to a quarter spreads retries of concurrent jobs apart. */
    unsigned int seed = (unsigned int)time(NULL) ^ (unsigned int)attempt;
    return d + (long)(rand_r(&seed) % (int)(d / 4 + 1));
}

int mi_http_send_retry(struct mi_http_response *out, const struct mi_http_request *req,
                       const struct mi_http_retry *policy, int *attempts)
{
    int max_attempts = policy && policy->max_attempts ? policy->max_attempts : 4;
    long base = limits.retry_delay_ms > 0         ? limits.retry_delay_ms
                : policy && policy->base_delay_ms ? policy->base_delay_ms
                                                  : 500;
    long cap = policy && policy->max_delay_ms ? policy->max_delay_ms : 60000;
    int rc = 0;
    int attempt = 0;
    for (;;) {
        attempt++;
        if (attempt > 1) {
            if (req->rewind_body && req->rewind_body(req->read_ctx) < 0)
                break;
            if (req->reset_sink && req->reset_sink(req->write_ctx) < 0)
                break;
        }
        int moved = 0;
        callback_failed = 0;
        rc = send_once(out, req, &moved);
        long delay = 0;
        int retry = 0;
        if (rc == MI_ECANCELLED)
            break;
        /* A body callback refused the data (a plan that does not verify): resending the
         * same bytes cannot change that. */
        if (rc < 0 && callback_failed)
            break;
        if (rc < 0) {
            /* Transport failure. Streamed data cannot be replayed without the hooks. */
            const char *m = req->method ? req->method : "GET";
            int idempotent = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 ||
                             strcmp(m, "PUT") == 0 || strcmp(m, "DELETE") == 0;
            int replayable = (!req->read_body || req->rewind_body) &&
                             (!req->write_body || req->reset_sink || !moved);
            retry = idempotent && replayable;
        } else {
            if (policy && policy->classify)
                retry = policy->classify(out, &delay, policy->classify_ctx);
            if (retry < 0)
                break;
            if (!retry)
                retry = default_retryable(out->status);
            long after = mi_http_retry_after_ms(out);
            if (retry && after >= 0 && delay == 0)
                delay = after;
        }
        if (!retry || attempt >= max_attempts)
            break;
        if (delay <= 0)
            delay = backoff_ms(base, attempt);
        if (delay > cap)
            delay = cap;
        if (mi_cancel_sleep_ms(delay) < 0) {
            rc = MI_ECANCELLED;
            break;
        }
    }
    if (attempts)
        *attempts = attempt;
    if (rc < 0 && attempt > 1)
        mi_error_prefix("after %d attempts", attempt);
    return rc;
}

void mi_http_escape(mi_buf *out, const char *s, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~' ||
            (keep_slash && *p == '/')) {
            mi_buf_addch(out, (char)*p);
        } else {
            mi_buf_addch(out, '%');
            mi_buf_addch(out, hex[*p >> 4]);
            mi_buf_addch(out, hex[*p & 15]);
        }
    }
}
