/*
 * probe.c - the health check of a reported service address (probe.h).
 */
#include "remote/probe.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "remote/http.h"
#include "util/cancel.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/banned.h"

/* Bodies of unhealthy answers are only buffered because http.h buffers them; nobody reads
 * them, so a small cap is enough and keeps a misbehaving service from costing memory. */
#define PROBE_MAX_BODY (64 * 1024)

/* ---- the URL ----------------------------------------------------------------------------- */

int mi_probe_url(char **out, const char *base, const char *path)
{
    *out = NULL;
    if (!base || !*base)
        return mi_error_set(MI_EUSAGE, "health check: no address to probe");
    for (const char *p = base; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return mi_error_set(MI_EUSAGE,
                                "health check: address '%.200s' contains whitespace "
                                "or a control character",
                                base);
    for (const char *p = path ? path : ""; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return mi_error_set(MI_EUSAGE,
                                "health check: path '%.200s' contains whitespace or "
                                "a control character",
                                path);

    const char *sep = strstr(base, "://");
    const char *host;
    mi_buf url = MI_BUF_INIT;
    if (sep) {
        size_t slen = (size_t)(sep - base);
        if (!((slen == 4 && strncasecmp(base, "http", 4) == 0) ||
              (slen == 5 && strncasecmp(base, "https", 5) == 0)))
            return mi_error_set(MI_EUSAGE,
                                "health check: address '%.200s' is not an http or "
                                "https URL",
                                base);
        host = sep + 3;
        mi_buf_add(&url, base, slen);
        mi_buf_adds(&url, "://");
    } else {
        host = base;
        mi_buf_adds(&url, "http://");
    }
    /* The authority ends at the first '/', '?' or '#'. Userinfo in it would be a credential
     * written into a comment; refuse it rather than guess how to hide it. */
    size_t alen = strcspn(host, "/?#");
    if (alen == 0) {
        mi_buf_release(&url);
        return mi_error_set(MI_EUSAGE, "health check: address '%.200s' names no host", base);
    }
    if (memchr(host, '@', alen)) {
        mi_buf_release(&url);
        return mi_error_set(MI_EUSAGE, "health check: the address must not carry a user name or "
                                       "password");
    }
    mi_buf_adds(&url, host);
    const char *p = path && *path ? path : MI_PROBE_DEFAULT_PATH;
    /* A base with a query or fragment cannot take a path after it. */
    if (strpbrk(host, "?#") && strcmp(p, "/") != 0) {
        mi_buf_release(&url);
        return mi_error_set(MI_EUSAGE,
                            "health check: address '%.200s' has a query or fragment, "
                            "so path '%.200s' cannot be added to it",
                            base, p);
    }
    if (!strpbrk(host, "?#")) {
        while (url.len && url.ptr[url.len - 1] == '/')
            mi_buf_truncate(&url, url.len - 1);
        while (*p == '/')
            p++;
        mi_buf_addch(&url, '/');
        mi_buf_adds(&url, p);
    }
    *out = mi_buf_detach(&url);
    return 0;
}

/* ---- the probe --------------------------------------------------------------------------- */

static int discard(void *ctx, const char *data, size_t len)
{
    (void)ctx;
    (void)data;
    (void)len;
    return 0;
}

static int reset_discard(void *ctx)
{
    (void)ctx;
    return 0;
}

void mi_probe_result_release(struct mi_probe_result *r)
{
    if (!r)
        return;
    free(r->url);
    free(r->error);
    struct mi_probe_result empty = MI_PROBE_RESULT_INIT;
    *r = empty;
}

/* The wait before try n+1 (n >= 1): base doubled per try, capped. */
static long delay_after(const struct mi_probe_options *o, int n)
{
    long base = o->base_delay_ms > 0 ? o->base_delay_ms : MI_PROBE_DEFAULT_BASE_DELAY_MS;
    long cap = o->max_delay_ms > 0 ? o->max_delay_ms : MI_PROBE_DEFAULT_MAX_DELAY_MS;
    long d = base;
    for (int i = 1; i < n && d < cap; i++)
        d *= 2;
    return d < cap ? d : cap;
}

int mi_probe_run(struct mi_probe_result *out, const struct mi_probe_options *o)
{
    struct mi_probe_result empty = MI_PROBE_RESULT_INIT;
    *out = empty;
    int rc = mi_probe_url(&out->url, o->base, o->path);
    if (rc < 0)
        return rc;

    int tries = o->max_tries > 0 ? o->max_tries : MI_PROBE_DEFAULT_TRIES;
    long total = o->total_timeout_ms > 0 ? o->total_timeout_ms : MI_PROBE_DEFAULT_TOTAL_MS;
    long per_try = o->try_timeout_ms > 0 ? o->try_timeout_ms : MI_PROBE_DEFAULT_TRY_MS;
    long lo = o->healthy_min > 0 ? o->healthy_min : 200;
    long hi = o->healthy_max > 0 ? o->healthy_max : 299;
    static const char *const headers[] = {
        "Accept: */*", "User-Agent: mlinfra/" MLINFRA_VERSION " (health check)", NULL};

    long start = mi_clock_ms();
    long deadline = start + total;
    for (int n = 1; n <= tries; n++) {
        long left = deadline - mi_clock_ms();
        if (left <= 0) {
            out->timed_out = 1;
            break;
        }
        long limit = per_try < left ? per_try : left;
        struct mi_http_request req = {0};
        req.method = "GET";
        req.url = out->url;
        req.headers = headers;
        req.write_body = discard;
        req.reset_sink = reset_discard;
        req.max_response = PROBE_MAX_BODY;
        req.timeout_ms = limit;
        req.connect_timeout_ms = limit;
        req.low_speed_timeout_s = limit / 1000 > 0 ? limit / 1000 : 1;
        req.follow_redirects = o->follow_redirects;
        req.ca_file = o->ca_file;
        struct mi_http_response resp = MI_HTTP_RESPONSE_INIT;

        long t0 = mi_clock_ms();
        int hrc = mi_http_send(&resp, &req);
        long took = mi_clock_ms() - t0;
        out->attempts = n;
        out->status = hrc == 0 ? resp.status : 0;
        mi_http_response_release(&resp);
        if (hrc == MI_ECANCELLED) {
            rc = hrc;
            goto done;
        }
        free(out->error);
        out->error = NULL;
        int healthy = hrc == 0 && out->status >= lo && out->status <= hi;
        if (healthy) {
            out->reachable = 1;
            out->latency_ms = took;
        } else if (hrc < 0) {
            out->error = mi_xstrdup(mi_error_last());
        } else {
            out->error =
                mi_xasprintf("answered HTTP %ld (healthy is %ld..%ld)", out->status, lo, hi);
        }

        long wait = -1;
        if (!healthy && n < tries) {
            wait = delay_after(o, n);
            if (mi_clock_ms() + wait >= deadline)
                wait = -1;
        }
        if (o->on_attempt) {
            struct mi_probe_attempt a = {n, out->status, took, healthy, out->error, wait};
            o->on_attempt(o->ctx, &a);
        }
        if (healthy)
            break;
        if (n < tries && wait < 0) {
            out->timed_out = 1;
            break;
        }
        if (wait > 0 && (rc = mi_cancel_sleep_ms(wait)) < 0)
            goto done;
    }
    rc = 0;
done:
    out->elapsed_ms = mi_clock_ms() - start;
    if (rc < 0)
        mi_error_prefix("health check of %s", out->url);
    return rc;
}
