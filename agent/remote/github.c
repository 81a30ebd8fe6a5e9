/*
 * github.c - the GitHub REST client (see github.h for the rules).
 *
 * jansson references: every json_t * this file owns comes from json_loadb or json_object /
 * json_array and is released with json_decref on the function's single done: path; values
 * reached with json_object_get / json_array_get are borrowed from their parent and never
 * released; json_object_set_new takes the reference it is given.
 */
#include "remote/github.h"

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util/cancel.h"
#include "util/error.h"
#include "util/banned.h"

#ifndef MLINFRA_VERSION
#define MLINFRA_VERSION "0"
#endif

#define DEFAULT_API_URL "https://api.github.com"
#define API_VERSION "2022-11-28"
#define DEFAULT_TIMEOUT_MS 60000L
/* A page of 100 comments of 65,536 four-byte characters is about 26 MB of JSON. */
#define MAX_RESPONSE (64u * 1024u * 1024u)
/* A runaway pagination (a server that always says "next") stops here. */
#define MAX_PAGES 1000
/* GitHub asks for at least a minute when a secondary limit comes without Retry-After. */
#define SECONDARY_DEFAULT_DELAY_MS 60000L
#define DEPLOYMENT_DESCRIPTION_MAX 140

struct mi_github {
    char *api_url;    /* no trailing slash */
    char *origin;     /* scheme://host[:port] of api_url, for the pagination check */
    char *repository; /* owner/name */
    char *repo_path;  /* "/repos/<owner>/<name>", escaped */
    char *auth_header;
    char *ua_header;
    char *bot_login;
    char *identity; /* cached login, NULL until asked */
    int identity_fallback;
    struct mi_http_retry retry;
    long timeout_ms;
    long connect_timeout_ms;
    int per_page;
};

/* ---- small helpers -----------------------------------------------------------------------------
 */

static char *json_str_dup(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? mi_xstrdup(json_string_value(v)) : NULL;
}

static long long json_id(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}

static char *json_nested_str_dup(json_t *obj, const char *outer, const char *key)
{
    json_t *o = json_object_get(obj, outer);
    return json_is_object(o) ? json_str_dup(o, key) : NULL;
}

static int has_ctl(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return 1;
    return 0;
}

static int repo_name_ok(const char *s, size_t len)
{
    if (len == 0 || len > 100)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return 0;
    }
    return !(len == 1 && s[0] == '.') && !(len == 2 && s[0] == '.' && s[1] == '.');
}

/* Lower-cased scheme://host[:port] of an http(s) URL; NULL when it is not one. */
static char *url_origin(const char *url)
{
    const char *rest;
    if (strncasecmp(url, "https://", 8) == 0)
        rest = url + 8;
    else if (strncasecmp(url, "http://", 7) == 0)
        rest = url + 7;
    else
        return NULL;
    size_t hostlen = strcspn(rest, "/?#");
    if (hostlen == 0 || memchr(rest, '@', hostlen))
        return NULL;
    char *o = mi_xstrndup(url, (size_t)(rest - url) + hostlen);
    for (char *p = o; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return o;
}

static int same_origin(const mi_github *gh, const char *url)
{
    char *o = url_origin(url);
    int same = o && strcmp(o, gh->origin) == 0;
    free(o);
    return same;
}

long mi_github_body_chars(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *end = p + len;
    long n = 0;
    while (p < end) {
        unsigned char c = *p;
        size_t need;
        uint32_t cp;
        if (c < 0x80) {
            p++;
            n++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            cp = c & 0x07;
        } else {
            return -1;
        }
        if ((size_t)(end - p) < need + 1)
            return -1;
        for (size_t i = 1; i <= need; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return -1;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        /* Overlong forms, surrogates and code points past U+10FFFF are not UTF-8. */
        if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return -1;
        p += need + 1;
        n++;
    }
    return n;
}

/* ---- header parsing ----------------------------------------------------------------------------
 */

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* Whether a rel value (space-separated tokens, maybe quoted) holds the token "next". */
static int rel_has_next(const char *v, size_t len)
{
    size_t i = 0;
    while (i < len) {
        while (i < len && v[i] == ' ')
            i++;
        size_t start = i;
        while (i < len && v[i] != ' ')
            i++;
        if (i - start == 4 && strncasecmp(v + start, "next", 4) == 0)
            return 1;
    }
    return 0;
}

char *mi_github_link_next(const char *link)
{
    if (!link)
        return NULL;
    const char *p = link;
    for (;;) {
        p = skip_ws(p);
        while (*p == ',')
            p = skip_ws(p + 1);
        if (!*p)
            return NULL;
        if (*p != '<')
            return NULL;
        const char *url = p + 1;
        const char *close = strchr(url, '>');
        if (!close)
            return NULL;
        size_t url_len = (size_t)(close - url);
        p = close + 1;
        int is_next = 0;
        /* Parameters: ; name=token | ; name="quoted" */
        for (;;) {
            p = skip_ws(p);
            if (*p != ';')
                break;
            p = skip_ws(p + 1);
            const char *name = p;
            while (*p && *p != '=' && *p != ';' && *p != ',' && *p != ' ' && *p != '\t')
                p++;
            size_t name_len = (size_t)(p - name);
            p = skip_ws(p);
            const char *val = p;
            size_t val_len = 0;
            if (*p == '=') {
                p = skip_ws(p + 1);
                if (*p == '"') {
                    val = ++p;
                    while (*p && *p != '"') {
                        if (*p == '\\' && p[1])
                            p++;
                        p++;
                    }
                    if (*p != '"')
                        return NULL;
                    val_len = (size_t)(p - val);
                    p++;
                } else {
                    val = p;
                    while (*p && *p != ';' && *p != ',' && *p != ' ' && *p != '\t')
                        p++;
                    val_len = (size_t)(p - val);
                }
            }
            if (name_len == 3 && strncasecmp(name, "rel", 3) == 0 && rel_has_next(val, val_len))
                is_next = 1;
        }
        p = skip_ws(p);
        if (*p && *p != ',')
            return NULL;
        if (is_next) {
            if (url_len == 0)
                return NULL;
            for (size_t i = 0; i < url_len; i++) {
                unsigned char c = (unsigned char)url[i];
                if (c <= 0x20 || c == 0x7f || c == '<')
                    return NULL;
            }
            return mi_xstrndup(url, url_len);
        }
    }
}

/* A whole decimal number (after trimming blanks) into *out; 0 when it is one. */
static int parse_ll(const char *s, long long *out)
{
    if (!s)
        return -1;
    s = skip_ws(s);
    if (!*s || *s == '-' || *s == '+')
        return -1;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (end == s)
        return -1;
    end = (char *)skip_ws(end);
    if (*end)
        return -1;
    *out = v;
    return 0;
}

long mi_github_rate_limit_delay_ms(const struct mi_http_response *r, long long now_s)
{
    long after = mi_http_retry_after_ms(r);
    if (after >= 0)
        return after > 86400000L ? 86400000L : after;
    long long remaining, reset;
    if (parse_ll(mi_http_response_header(r, "x-ratelimit-remaining"), &remaining) == 0 &&
        remaining == 0 && parse_ll(mi_http_response_header(r, "x-ratelimit-reset"), &reset) == 0) {
        /* A reset in the past (clock skew) still deserves a short pause. */
        if (reset <= now_s)
            return 1000;
        long long secs = reset - now_s;
        if (secs > 86400)
            secs = 86400;
        long ms = (long)secs * 1000L;
        return ms < 1000 ? 1000 : ms;
    }
    return -1;
}

static int body_mentions_rate_limit(const struct mi_http_response *r)
{
    /* The body is JSON with a "message"; searching the text is enough and needs no parse. */
    const char *b = r->body.ptr;
    return strcasestr(b, "rate limit") != NULL;
}

int mi_github_is_rate_limited(const struct mi_http_response *r)
{
    if (r->status == 429)
        return 1;
    if (r->status != 403)
        return 0;
    if (mi_http_response_header(r, "retry-after"))
        return 1;
    long long remaining;
    if (parse_ll(mi_http_response_header(r, "x-ratelimit-remaining"), &remaining) == 0 &&
        remaining == 0)
        return 1;
    return body_mentions_rate_limit(r);
}

/* ---- the client --------------------------------------------------------------------------------
 */

void mi_github_options_from_env(struct mi_github_options *o)
{
    memset(o, 0, sizeof(*o));
    o->api_url = getenv("GITHUB_API_URL");
    o->token = getenv("GITHUB_TOKEN");
    o->repository = getenv("GITHUB_REPOSITORY");
    o->bot_login = getenv("MLINFRA_GITHUB_BOT_LOGIN");
    if (o->api_url && !*o->api_url)
        o->api_url = NULL;
    if (o->bot_login && !*o->bot_login)
        o->bot_login = NULL;
}

/* The retry classifier: GitHub's rate limits come as 403 (or 429) and say how long to wait. */
static int classify(const struct mi_http_response *resp, long *delay_ms, void *ctx)
{
    const mi_github *gh = ctx;
    if (!mi_github_is_rate_limited(resp))
        return 0;
    long cap = gh->retry.max_delay_ms ? gh->retry.max_delay_ms : 60000L;
    long d = mi_github_rate_limit_delay_ms(resp, (long long)time(NULL));
    if (d < 0)
        d = SECONDARY_DEFAULT_DELAY_MS < cap ? SECONDARY_DEFAULT_DELAY_MS : cap;
    /* A primary limit resetting later than we are willing to wait cannot be waited out: fail
     * now and say when, rather than sleep and fail anyway. */
    if (d > cap)
        return 0;
    *delay_ms = d > 0 ? d : 1;
    return 1;
}

int mi_github_new(mi_github **out, const struct mi_github_options *opts)
{
    *out = NULL;
    const char *api = opts->api_url && *opts->api_url ? opts->api_url : DEFAULT_API_URL;
    if (!opts->token || !*opts->token)
        return mi_error_set(
            MI_EUSAGE, "github: no token (set GITHUB_TOKEN, or the action's github-token input)");
    if (has_ctl(opts->token) || strchr(opts->token, ' '))
        return mi_error_set(MI_EUSAGE, "github: the token contains spaces or control characters");
    if (!opts->repository || !*opts->repository)
        return mi_error_set(MI_EUSAGE,
                            "github: no repository (set GITHUB_REPOSITORY to owner/name)");
    const char *slash = strchr(opts->repository, '/');
    if (!slash || !repo_name_ok(opts->repository, (size_t)(slash - opts->repository)) ||
        !repo_name_ok(slash + 1, strlen(slash + 1)))
        return mi_error_set(MI_EUSAGE, "github: repository '%s' is not of the form owner/name",
                            opts->repository);
    char *origin = url_origin(api);
    if (!origin || has_ctl(api) || strchr(api, ' ') || strchr(api, '?') || strchr(api, '#')) {
        free(origin);
        return mi_error_set(MI_EUSAGE, "github: API URL '%s' is not an http(s) URL", api);
    }
    if (opts->user_agent && has_ctl(opts->user_agent)) {
        free(origin);
        return mi_error_set(MI_EUSAGE, "github: the user agent contains control characters");
    }
    if (opts->bot_login && (has_ctl(opts->bot_login) || !*opts->bot_login)) {
        free(origin);
        return mi_error_set(MI_EUSAGE, "github: bot login '%s' is not a login", opts->bot_login);
    }

    mi_github *gh = mi_xcalloc(1, sizeof(*gh));
    gh->origin = origin;
    size_t alen = strlen(api);
    while (alen > 0 && api[alen - 1] == '/')
        alen--;
    gh->api_url = mi_xstrndup(api, alen);
    gh->repository = mi_xstrdup(opts->repository);
    mi_buf b = MI_BUF_INIT;
    mi_buf_adds(&b, "/repos/");
    char *owner = mi_xstrndup(opts->repository, (size_t)(slash - opts->repository));
    mi_http_escape(&b, owner, 0);
    free(owner);
    mi_buf_addch(&b, '/');
    mi_http_escape(&b, slash + 1, 0);
    gh->repo_path = mi_buf_detach(&b);
    gh->auth_header = mi_xasprintf("Authorization: Bearer %s", opts->token);
    gh->ua_header = mi_xasprintf("User-Agent: %s", opts->user_agent && *opts->user_agent
                                                       ? opts->user_agent
                                                       : "mlinfra/" MLINFRA_VERSION);
    gh->bot_login = mi_xstrdup(opts->bot_login ? opts->bot_login : MI_GITHUB_ACTIONS_BOT);
    gh->retry = opts->retry;
    if (!gh->retry.max_attempts)
        gh->retry.max_attempts = 4;
    if (mi_http_get_limits()->retry_delay_ms > 0)
        gh->retry.base_delay_ms = mi_http_get_limits()->retry_delay_ms;
    if (!gh->retry.base_delay_ms)
        gh->retry.base_delay_ms = 1000;
    if (!gh->retry.max_delay_ms)
        gh->retry.max_delay_ms = 60000;
    gh->retry.classify = classify;
    gh->retry.classify_ctx = gh;
    gh->timeout_ms = opts->timeout_ms ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
    gh->connect_timeout_ms = opts->connect_timeout_ms;
    gh->per_page = opts->per_page > 0 && opts->per_page <= 100 ? opts->per_page : 100;
    *out = gh;
    return 0;
}

void mi_github_free(mi_github *gh)
{
    if (!gh)
        return;
    if (gh->auth_header) {
        /* The token should not outlive the client in freed memory. */
        volatile char *p = gh->auth_header;
        while (*p)
            *p++ = 0;
        free(gh->auth_header);
    }
    free(gh->api_url);
    free(gh->origin);
    free(gh->repository);
    free(gh->repo_path);
    free(gh->ua_header);
    free(gh->bot_login);
    free(gh->identity);
    free(gh);
}

const char *mi_github_repository(const mi_github *gh)
{
    return gh->repository;
}

const char *mi_github_api_url(const mi_github *gh)
{
    return gh->api_url;
}

/* ---- requests ----------------------------------------------------------------------------------
 */

struct call {
    const char *method;
    const char *url;        /* absolute */
    const char *body;       /* JSON text or NULL */
    const char *permission; /* the workflow permission the call needs, for messages */
    const char *subject;    /* what a 404 means is missing, e.g. "pull request #4" */
    int once;               /* not idempotent: never resent after an ambiguous failure */
};

/* GitHub's "message" (and its first "errors" entry) from an error body, into b. */
static void add_github_message(mi_buf *b, const struct mi_http_response *resp)
{
    json_t *j = json_loadb(resp->body.ptr, resp->body.len, 0, NULL);
    json_t *msg = json_object_get(j, "message");
    if (json_is_string(msg)) {
        mi_buf_addf(b, " %s", json_string_value(msg));
        json_t *errs = json_object_get(j, "errors");
        json_t *e0 = json_array_get(errs, 0);
        json_t *em = json_object_get(e0, "message");
        json_t *ef = json_object_get(e0, "field");
        json_t *ec = json_object_get(e0, "code");
        if (json_is_string(em))
            mi_buf_addf(b, " (%s)", json_string_value(em));
        else if (json_is_string(ef) && json_is_string(ec))
            mi_buf_addf(b, " (%s: %s)", json_string_value(ef), json_string_value(ec));
    } else if (resp->body.len > 0) {
        /* Not JSON (a proxy's HTML page): a short, single-line excerpt. */
        mi_buf_adds(b, " ");
        size_t n = resp->body.len < 120 ? resp->body.len : 120;
        for (size_t i = 0; i < n; i++) {
            char c = resp->body.ptr[i];
            mi_buf_addch(b, (c == '\n' || c == '\r' || c == '\t') ? ' ' : c);
        }
        if (resp->body.len > n)
            mi_buf_adds(b, "...");
    }
    json_decref(j);
}

static int status_error(const struct call *c, const struct mi_http_response *resp, int attempts)
{
    char *endpoint = mi_http_endpoint(c->url);
    mi_buf m = MI_BUF_INIT;
    int code = MI_ERR;
    long st = resp->status;
    mi_buf_addf(&m, "github: %s %s: %ld", c->method, endpoint, st);
    add_github_message(&m, resp);
    const char *accepted = mi_http_response_header(resp, "x-accepted-github-permissions");
    if (mi_github_is_rate_limited(resp)) {
        long d = mi_github_rate_limit_delay_ms(resp, (long long)time(NULL));
        mi_buf_adds(&m, ": GitHub's rate limit");
        if (d > 0) {
            time_t when = time(NULL) + d / 1000;
            struct tm tm;
            char at[32] = "";
            if (gmtime_r(&when, &tm))
                strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm);
            mi_buf_addf(&m, " lifts in %ld s (at %s)", (d + 999) / 1000, at);
        }
        mi_buf_addf(&m, "; gave up after %d attempt%s", attempts, attempts == 1 ? "" : "s");
        code = MI_ERR;
    } else if (st == 401) {
        mi_buf_adds(&m, ": the token is missing, expired or revoked (check GITHUB_TOKEN or the "
                        "action's github-token input)");
        code = MI_EAUTH;
    } else if (st == 403) {
        mi_buf_addf(&m,
                    ": the workflow's token lacks the `%s` permission (grant it under "
                    "`permissions:` in the workflow)",
                    c->permission);
        if (accepted && !has_ctl(accepted))
            mi_buf_addf(&m, "; GitHub accepts: %s", accepted);
        code = MI_EAUTH;
    } else if (st == 404) {
        mi_buf_addf(&m, ": %s does not exist, or the token cannot see it (it needs `%s`)",
                    c->subject ? c->subject : "the resource", c->permission);
        code = MI_ENOTFOUND;
    } else if (st == 409) {
        code = MI_ECONFLICT;
    } else if (st >= 500) {
        mi_buf_addf(&m, ": GitHub failed; gave up after %d attempt%s", attempts,
                    attempts == 1 ? "" : "s");
        if (c->once && attempts == 1)
            mi_buf_adds(&m, " (not resent: the request may have taken effect)");
    }
    int rc = mi_error_set(code, "%s", m.ptr);
    mi_buf_release(&m);
    free(endpoint);
    return rc;
}

/*
 * Sends one call. Idempotent calls retry through http.h with the GitHub classifier. A call
 * marked once is resent only after answers that prove GitHub did nothing (rate-limit
 * refusals); a transport failure or 5xx is reported, and *ambiguous (may be NULL) is set so
 * the caller can check the state before trying again. On success resp holds a 2xx answer.
 */
static int send_call(struct mi_http_response *resp, mi_github *gh, const struct call *c,
                     int *ambiguous)
{
    const char *headers[7];
    size_t n = 0;
    headers[n++] = gh->auth_header;
    headers[n++] = "Accept: application/vnd.github+json";
    headers[n++] = "X-GitHub-Api-Version: " API_VERSION;
    headers[n++] = gh->ua_header;
    if (c->body)
        headers[n++] = "Content-Type: application/json; charset=utf-8";
    headers[n] = NULL;

    struct mi_http_request req = {0};
    req.method = c->method;
    req.url = c->url;
    req.headers = headers;
    req.body = c->body;
    req.body_len = c->body ? strlen(c->body) : 0;
    req.max_response = MAX_RESPONSE;
    req.timeout_ms = gh->timeout_ms;
    req.connect_timeout_ms = gh->connect_timeout_ms;

    if (ambiguous)
        *ambiguous = 0;
    int attempts = 0;
    int rc;
    if (!c->once) {
        rc = mi_http_send_retry(resp, &req, &gh->retry, &attempts);
    } else {
        rc = 0;
        for (;;) {
            attempts++;
            rc = mi_http_send(resp, &req);
            if (rc < 0) {
                if (ambiguous)
                    *ambiguous = rc != MI_ECANCELLED;
                break;
            }
            long delay = 0;
            if (attempts >= gh->retry.max_attempts || !classify(resp, &delay, gh))
                break;
            if (mi_cancel_sleep_ms(delay) < 0) {
                rc = mi_error_set(MI_ECANCELLED,
                                  "github: %s %s: cancelled while waiting for "
                                  "the rate limit",
                                  c->method, c->url);
                break;
            }
        }
        if (rc == 0 && resp->status >= 500 && ambiguous)
            *ambiguous = 1;
    }
    if (rc < 0)
        return mi_error_prefix("github");
    if (resp->status < 200 || resp->status > 299)
        return status_error(c, resp, attempts);
    return 0;
}

/* Sends a call whose 2xx answer is JSON and parses it into *out (caller decrefs). */
static int call_json(json_t **out, mi_github *gh, const struct call *c, int *ambiguous)
{
    struct mi_http_response resp = MI_HTTP_RESPONSE_INIT;
    *out = NULL;
    int rc = send_call(&resp, gh, c, ambiguous);
    if (rc < 0)
        goto done;
    json_error_t jerr;
    *out = json_loadb(resp.body.ptr, resp.body.len, 0, &jerr);
    if (!*out) {
        char *endpoint = mi_http_endpoint(c->url);
        rc = mi_error_set(MI_ERR, "github: %s %s: the answer is not JSON: %s (line %d)", c->method,
                          endpoint, jerr.text, jerr.line);
        free(endpoint);
    }
done:
    mi_http_response_release(&resp);
    return rc;
}

static int unexpected(const struct call *c, const char *wanted)
{
    char *endpoint = mi_http_endpoint(c->url);
    int rc = mi_error_set(MI_ERR, "github: %s %s: unexpected answer: expected %s", c->method,
                          endpoint, wanted);
    free(endpoint);
    return rc;
}

/* Calls a paginated list endpoint and gives each element of every page to add(). */
typedef void (*add_fn)(void *list, json_t *item);

static int call_list(mi_github *gh, const char *path, const char *permission, const char *subject,
                     add_fn add, void *list)
{
    char *url = mi_xasprintf("%s%s%sper_page=%d", gh->api_url, path, strchr(path, '?') ? "&" : "?",
                             gh->per_page);
    struct mi_http_response resp = MI_HTTP_RESPONSE_INIT;
    json_t *page = NULL;
    int rc = 0;
    for (int pages = 0;; pages++) {
        struct call c = {"GET", url, NULL, permission, subject, 0};
        if (pages >= MAX_PAGES) {
            rc = mi_error_set(MI_ERR, "github: GET %s%s: more than %d pages; giving up",
                              gh->api_url, path, MAX_PAGES);
            goto done;
        }
        mi_http_response_release(&resp);
        rc = send_call(&resp, gh, &c, NULL);
        if (rc < 0)
            goto done;
        json_error_t jerr;
        page = json_loadb(resp.body.ptr, resp.body.len, 0, &jerr);
        if (!json_is_array(page)) {
            rc = unexpected(&c, "a JSON array");
            goto done;
        }
        size_t i;
        json_t *item;
        json_array_foreach(page, i, item)
        {
            if (!json_is_object(item)) {
                rc = unexpected(&c, "an array of objects");
                goto done;
            }
            add(list, item);
        }
        json_decref(page);
        page = NULL;
        char *next = mi_github_link_next(mi_http_response_header(&resp, "link"));
        if (!next)
            break;
        if (!same_origin(gh, next)) {
            char *endpoint = mi_http_endpoint(next);
            rc = mi_error_set(MI_ERR,
                              "github: GET %s%s: the next page is on another host (%s); not "
                              "sending the token there",
                              gh->api_url, path, endpoint);
            free(endpoint);
            free(next);
            goto done;
        }
        free(url);
        url = next;
    }
done:
    json_decref(page);
    mi_http_response_release(&resp);
    free(url);
    return rc;
}

/* ---- identity ----------------------------------------------------------------------------------
 */

int mi_github_identity(const char **out, mi_github *gh, int *fallback)
{
    *out = NULL;
    if (gh->identity) {
        *out = gh->identity;
        if (fallback)
            *fallback = gh->identity_fallback;
        return 0;
    }
    char *url = mi_xasprintf("%s/user", gh->api_url);
    struct call c = {"GET", url, NULL, "a user token", "the authenticated user", 0};
    struct mi_http_response resp = MI_HTTP_RESPONSE_INIT;
    json_t *j = NULL;
    int rc = send_call(&resp, gh, &c, NULL);
    if (rc == MI_EAUTH && resp.status == 403 && !mi_github_is_rate_limited(&resp)) {
        /* Installation tokens (GITHUB_TOKEN, GitHub Apps) may not read /user; their comments
         * are written by the App's bot account. */
        mi_error_clear();
        gh->identity = mi_xstrdup(gh->bot_login);
        gh->identity_fallback = 1;
        rc = 0;
        goto found;
    }
    if (rc < 0)
        goto done;
    j = json_loadb(resp.body.ptr, resp.body.len, 0, NULL);
    json_t *login = json_object_get(j, "login");
    if (!json_is_string(login) || !*json_string_value(login)) {
        rc = unexpected(&c, "a user with a login");
        goto done;
    }
    gh->identity = mi_xstrdup(json_string_value(login));
    gh->identity_fallback = 0;
found:
    *out = gh->identity;
    if (fallback)
        *fallback = gh->identity_fallback;
done:
    json_decref(j);
    mi_http_response_release(&resp);
    free(url);
    return rc;
}

/* ---- comments ----------------------------------------------------------------------------------
 */

static void comment_from_json(struct mi_github_comment *c, json_t *j)
{
    memset(c, 0, sizeof(*c));
    c->id = json_id(j, "id");
    c->body = json_str_dup(j, "body");
    c->user_login = json_nested_str_dup(j, "user", "login");
    c->html_url = json_str_dup(j, "html_url");
    c->created_at = json_str_dup(j, "created_at");
    c->updated_at = json_str_dup(j, "updated_at");
}

static void comment_release(struct mi_github_comment *c)
{
    free(c->body);
    free(c->user_login);
    free(c->html_url);
    free(c->created_at);
    free(c->updated_at);
}

void mi_github_comment_free(struct mi_github_comment *c)
{
    if (!c)
        return;
    comment_release(c);
    free(c);
}

void mi_github_comment_list_release(struct mi_github_comment_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->len; i++)
        comment_release(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->len = 0;
}

static void add_comment(void *list, json_t *item)
{
    struct mi_github_comment_list *l = list;
    l->items = mi_xrealloc(l->items, (l->len + 1) * sizeof(*l->items));
    comment_from_json(&l->items[l->len++], item);
}

int mi_github_comments_list(struct mi_github_comment_list *out, mi_github *gh, long long number)
{
    out->items = NULL;
    out->len = 0;
    char *path = mi_xasprintf("%s/issues/%lld/comments", gh->repo_path, number);
    char *subject = mi_xasprintf("pull request or issue #%lld", number);
    int rc = call_list(gh, path, "pull-requests: read", subject, add_comment, out);
    if (rc < 0)
        mi_github_comment_list_release(out);
    free(path);
    free(subject);
    return rc;
}

static int check_body(const char *what, const char *body)
{
    if (!body)
        return mi_error_set(MI_EUSAGE, "github: %s: no body", what);
    long chars = mi_github_body_chars(body, strlen(body));
    if (chars < 0)
        return mi_error_set(MI_EUSAGE, "github: %s: the body is not valid UTF-8", what);
    if (chars > MI_GITHUB_COMMENT_MAX)
        return mi_error_set(MI_EUSAGE,
                            "github: %s: the body has %ld characters, over GitHub's limit of %d; "
                            "not sent",
                            what, chars, MI_GITHUB_COMMENT_MAX);
    return 0;
}

static char *body_json(const char *body)
{
    mi_buf b = MI_BUF_INIT;
    mi_buf_adds(&b, "{\"body\":\"");
    mi_buf_add_json_escaped(&b, body);
    mi_buf_adds(&b, "\"}");
    return mi_buf_detach(&b);
}

static int comment_call(struct mi_github_comment **out, mi_github *gh, struct call *c,
                        int *ambiguous)
{
    json_t *j = NULL;
    *out = NULL;
    int rc = call_json(&j, gh, c, ambiguous);
    if (rc < 0)
        goto done;
    if (!json_is_object(j) || !json_is_integer(json_object_get(j, "id"))) {
        rc = unexpected(c, "a comment with an id");
        goto done;
    }
    *out = mi_xcalloc(1, sizeof(**out));
    comment_from_json(*out, j);
done:
    json_decref(j);
    return rc;
}

static int create_comment(struct mi_github_comment **out, mi_github *gh, long long number,
                          const char *body, int *ambiguous)
{
    *out = NULL;
    if (ambiguous)
        *ambiguous = 0;
    int rc = check_body("create comment", body);
    if (rc < 0)
        return rc;
    char *url = mi_xasprintf("%s%s/issues/%lld/comments", gh->api_url, gh->repo_path, number);
    char *subject = mi_xasprintf("pull request or issue #%lld", number);
    char *json = body_json(body);
    struct call c = {"POST", url, json, "pull-requests: write", subject, 1};
    rc = comment_call(out, gh, &c, ambiguous);
    free(json);
    free(subject);
    free(url);
    return rc;
}

int mi_github_comment_create(struct mi_github_comment **out, mi_github *gh, long long number,
                             const char *body)
{
    return create_comment(out, gh, number, body, NULL);
}

int mi_github_comment_update(struct mi_github_comment **out, mi_github *gh, long long comment_id,
                             const char *body)
{
    *out = NULL;
    int rc = check_body("update comment", body);
    if (rc < 0)
        return rc;
    char *url = mi_xasprintf("%s%s/issues/comments/%lld", gh->api_url, gh->repo_path, comment_id);
    char *subject = mi_xasprintf("comment %lld", comment_id);
    char *json = body_json(body);
    /* PATCH with the whole body is idempotent: resending it is safe. */
    struct call c = {"PATCH", url, json, "pull-requests: write", subject, 0};
    rc = comment_call(out, gh, &c, NULL);
    free(json);
    free(subject);
    free(url);
    return rc;
}

int mi_github_comment_get(struct mi_github_comment **out, mi_github *gh, long long comment_id)
{
    char *url = mi_xasprintf("%s%s/issues/comments/%lld", gh->api_url, gh->repo_path, comment_id);
    char *subject = mi_xasprintf("comment %lld", comment_id);
    struct call c = {"GET", url, NULL, "pull-requests: read", subject, 0};
    int rc = comment_call(out, gh, &c, NULL);
    free(subject);
    free(url);
    return rc;
}

int mi_github_comment_find(struct mi_github_comment **out, mi_github *gh, long long number,
                           const char *marker)
{
    *out = NULL;
    if (!marker || !*marker)
        return mi_error_set(MI_EUSAGE, "github: find comment: empty marker");
    const char *me = NULL;
    int rc = mi_github_identity(&me, gh, NULL);
    if (rc < 0)
        return rc;
    struct mi_github_comment_list list = MI_GITHUB_COMMENT_LIST_INIT;
    rc = mi_github_comments_list(&list, gh, number);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < list.len; i++) {
        struct mi_github_comment *c = &list.items[i];
        /* Logins are case-insensitive on GitHub. Anyone can paste the marker: only ours count. */
        if (c->user_login && strcasecmp(c->user_login, me) == 0 && c->body &&
            strstr(c->body, marker)) {
            *out = mi_xmalloc(sizeof(**out));
            **out = *c;
            memset(c, 0, sizeof(*c));
            break;
        }
    }
    mi_github_comment_list_release(&list);
    if (!*out)
        return mi_error_set(MI_ENOTFOUND, "github: no comment by %s with marker '%s' on #%lld", me,
                            marker, number);
    return 0;
}

int mi_github_comment_upsert(struct mi_github_comment **out, mi_github *gh, long long number,
                             const char *marker, const char *body, int *created)
{
    *out = NULL;
    if (created)
        *created = 0;
    int rc = check_body("upsert comment", body);
    if (rc < 0)
        return rc;
    /*
     * A create that failed in transit (connection lost, a 5xx) may still have created the
     * comment. Resending it blindly could post a second one, so every round looks for our
     * comment first and updates it when it is there.
     */
    for (int round = 1;; round++) {
        struct mi_github_comment *found = NULL;
        rc = mi_github_comment_find(&found, gh, number, marker);
        if (rc == 0) {
            long long id = found->id;
            mi_github_comment_free(found);
            return mi_github_comment_update(out, gh, id, body);
        }
        if (rc != MI_ENOTFOUND)
            return rc;
        mi_error_clear();
        int ambiguous = 0;
        rc = create_comment(out, gh, number, body, &ambiguous);
        if (rc == 0) {
            if (created)
                *created = 1;
            return 0;
        }
        if (!ambiguous || round >= gh->retry.max_attempts)
            return rc;
        long delay = gh->retry.base_delay_ms;
        for (int i = 1; i < round && delay < gh->retry.max_delay_ms; i++)
            delay *= 2;
        if (delay > gh->retry.max_delay_ms)
            delay = gh->retry.max_delay_ms;
        if (mi_cancel_sleep_ms(delay) < 0)
            return mi_error_set(MI_ECANCELLED, "github: upsert comment on #%lld: cancelled",
                                number);
    }
}

/* ---- pull requests -----------------------------------------------------------------------------
 */

static void pull_from_json(struct mi_github_pull *p, json_t *j)
{
    memset(p, 0, sizeof(*p));
    p->number = json_id(j, "number");
    p->state = json_str_dup(j, "state");
    p->merged_at = json_str_dup(j, "merged_at");
    json_t *merged = json_object_get(j, "merged");
    p->merged = json_is_true(merged) || p->merged_at != NULL;
    p->draft = json_is_true(json_object_get(j, "draft"));
    p->title = json_str_dup(j, "title");
    p->html_url = json_str_dup(j, "html_url");
    p->user_login = json_nested_str_dup(j, "user", "login");
    json_t *head = json_object_get(j, "head");
    p->head_sha = json_str_dup(head, "sha");
    p->head_ref = json_str_dup(head, "ref");
    p->head_repo = json_nested_str_dup(head, "repo", "full_name");
    json_t *base = json_object_get(j, "base");
    p->base_ref = json_str_dup(base, "ref");
    p->base_sha = json_str_dup(base, "sha");
    p->merge_commit_sha = json_str_dup(j, "merge_commit_sha");
}

static void pull_release(struct mi_github_pull *p)
{
    free(p->state);
    free(p->title);
    free(p->html_url);
    free(p->user_login);
    free(p->head_sha);
    free(p->head_ref);
    free(p->head_repo);
    free(p->base_ref);
    free(p->base_sha);
    free(p->merge_commit_sha);
    free(p->merged_at);
}

void mi_github_pull_free(struct mi_github_pull *p)
{
    if (!p)
        return;
    pull_release(p);
    free(p);
}

void mi_github_pull_list_release(struct mi_github_pull_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->len; i++)
        pull_release(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->len = 0;
}

int mi_github_pull_get(struct mi_github_pull **out, mi_github *gh, long long number)
{
    *out = NULL;
    char *url = mi_xasprintf("%s%s/pulls/%lld", gh->api_url, gh->repo_path, number);
    char *subject = mi_xasprintf("pull request #%lld", number);
    struct call c = {"GET", url, NULL, "pull-requests: read", subject, 0};
    json_t *j = NULL;
    int rc = call_json(&j, gh, &c, NULL);
    if (rc < 0)
        goto done;
    if (!json_is_object(j) || !json_is_integer(json_object_get(j, "number"))) {
        rc = unexpected(&c, "a pull request");
        goto done;
    }
    *out = mi_xcalloc(1, sizeof(**out));
    pull_from_json(*out, j);
done:
    json_decref(j);
    free(subject);
    free(url);
    return rc;
}

static void add_pull(void *list, json_t *item)
{
    struct mi_github_pull_list *l = list;
    l->items = mi_xrealloc(l->items, (l->len + 1) * sizeof(*l->items));
    pull_from_json(&l->items[l->len++], item);
}

static int sha_ok(const char *sha)
{
    /* A SHA or a branch name; never something that changes the path. */
    if (!sha || !*sha || strlen(sha) > 255 || has_ctl(sha))
        return 0;
    return strstr(sha, "..") == NULL && sha[0] != '/';
}

int mi_github_commit_pulls(struct mi_github_pull_list *out, mi_github *gh, const char *sha)
{
    out->items = NULL;
    out->len = 0;
    if (!sha_ok(sha))
        return mi_error_set(MI_EUSAGE, "github: commit pulls: '%s' is not a commit SHA",
                            sha ? sha : "");
    mi_buf path = MI_BUF_INIT;
    mi_buf_addf(&path, "%s/commits/", gh->repo_path);
    mi_http_escape(&path, sha, 0);
    mi_buf_adds(&path, "/pulls");
    char *subject = mi_xasprintf("commit %s", sha);
    int rc = call_list(gh, path.ptr, "contents: read", subject, add_pull, out);
    if (rc < 0)
        mi_github_pull_list_release(out);
    free(subject);
    mi_buf_release(&path);
    return rc;
}

int mi_github_pull_for_commit(struct mi_github_pull **out, mi_github *gh, const char *sha,
                              const char *base_ref)
{
    *out = NULL;
    struct mi_github_pull_list all = MI_GITHUB_PULL_LIST_INIT;
    int rc = mi_github_commit_pulls(&all, gh, sha);
    if (rc < 0)
        return rc;
    ssize_t exact = -1, merged_one = -1, any_one = -1;
    int merged_count = 0, any_count = 0;
    for (size_t i = 0; i < all.len; i++) {
        struct mi_github_pull *p = &all.items[i];
        if (base_ref && (!p->base_ref || strcmp(p->base_ref, base_ref) != 0))
            continue;
        any_count++;
        any_one = (ssize_t)i;
        if (p->merged) {
            merged_count++;
            merged_one = (ssize_t)i;
            if (p->merge_commit_sha && strcasecmp(p->merge_commit_sha, sha) == 0 && exact < 0)
                exact = (ssize_t)i;
        }
    }
    ssize_t pick = exact >= 0                            ? exact
                   : merged_count == 1                   ? merged_one
                   : merged_count == 0 && any_count == 1 ? any_one
                                                         : -1;
    if (pick >= 0) {
        *out = mi_xmalloc(sizeof(**out));
        **out = all.items[pick];
        memset(&all.items[pick], 0, sizeof(all.items[pick]));
    } else if (any_count == 0) {
        rc = mi_error_set(MI_ENOTFOUND, "github: commit %s belongs to no pull request%s%s%s", sha,
                          base_ref ? " into '" : "", base_ref ? base_ref : "", base_ref ? "'" : "");
    } else {
        mi_buf list = MI_BUF_INIT;
        for (size_t i = 0; i < all.len; i++) {
            struct mi_github_pull *p = &all.items[i];
            if (base_ref && (!p->base_ref || strcmp(p->base_ref, base_ref) != 0))
                continue;
            if (merged_count > 0 && !p->merged)
                continue;
            mi_buf_addf(&list, "%s#%lld", list.len ? ", " : "", p->number);
        }
        rc = mi_error_set(MI_ERR,
                          "github: commit %s is in several %spull requests%s%s%s (%s); cannot "
                          "tell which one it merged",
                          sha, merged_count ? "merged " : "", base_ref ? " into '" : "",
                          base_ref ? base_ref : "", base_ref ? "'" : "", list.ptr);
        mi_buf_release(&list);
    }
    mi_github_pull_list_release(&all);
    return rc;
}

/* ---- reviews -----------------------------------------------------------------------------------
 */

static void add_review(void *list, json_t *item)
{
    struct mi_github_review_list *l = list;
    l->items = mi_xrealloc(l->items, (l->len + 1) * sizeof(*l->items));
    struct mi_github_review *r = &l->items[l->len++];
    r->id = json_id(item, "id");
    r->user_login = json_nested_str_dup(item, "user", "login");
    r->state = json_str_dup(item, "state");
    r->commit_id = json_str_dup(item, "commit_id");
    r->submitted_at = json_str_dup(item, "submitted_at");
}

void mi_github_review_list_release(struct mi_github_review_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->len; i++) {
        free(l->items[i].user_login);
        free(l->items[i].state);
        free(l->items[i].commit_id);
        free(l->items[i].submitted_at);
    }
    free(l->items);
    l->items = NULL;
    l->len = 0;
}

int mi_github_reviews_list(struct mi_github_review_list *out, mi_github *gh, long long number)
{
    out->items = NULL;
    out->len = 0;
    char *path = mi_xasprintf("%s/pulls/%lld/reviews", gh->repo_path, number);
    char *subject = mi_xasprintf("pull request #%lld", number);
    int rc = call_list(gh, path, "pull-requests: read", subject, add_review, out);
    if (rc < 0)
        mi_github_review_list_release(out);
    free(path);
    free(subject);
    return rc;
}

void mi_github_approval_release(struct mi_github_approval *a)
{
    if (!a)
        return;
    free(a->approvers);
    a->approvers = NULL;
    a->approvals = 0;
    a->changes_requested = 0;
}

int mi_github_pull_approval(struct mi_github_approval *out, mi_github *gh, long long number,
                            const char *head_sha)
{
    out->approvals = 0;
    out->changes_requested = 0;
    out->approvers = NULL;
    struct mi_github_review_list reviews = MI_GITHUB_REVIEW_LIST_INIT;
    int rc = mi_github_reviews_list(&reviews, gh, number);
    if (rc < 0)
        return rc;
    /* decision[i] is the latest deciding review of the reviewer first seen at i. */
    const struct mi_github_review **decision = mi_xcalloc(reviews.len + 1, sizeof(*decision));
    for (size_t i = 0; i < reviews.len; i++) {
        const struct mi_github_review *r = &reviews.items[i];
        if (!r->user_login || !r->state)
            continue;
        if (strcmp(r->state, "APPROVED") != 0 && strcmp(r->state, "CHANGES_REQUESTED") != 0 &&
            strcmp(r->state, "DISMISSED") != 0)
            continue;
        if (head_sha && (!r->commit_id || strcasecmp(r->commit_id, head_sha) != 0))
            continue;
        size_t slot = i;
        for (size_t k = 0; k < i; k++) {
            if (decision[k] && strcasecmp(decision[k]->user_login, r->user_login) == 0) {
                slot = k;
                break;
            }
        }
        decision[slot] = r;
    }
    mi_buf who = MI_BUF_INIT;
    for (size_t i = 0; i < reviews.len; i++) {
        if (!decision[i])
            continue;
        if (strcmp(decision[i]->state, "APPROVED") == 0) {
            out->approvals++;
            mi_buf_addf(&who, "%s%s", who.len ? ", " : "", decision[i]->user_login);
        } else if (strcmp(decision[i]->state, "CHANGES_REQUESTED") == 0) {
            out->changes_requested++;
        }
    }
    if (who.len)
        out->approvers = mi_buf_detach(&who);
    mi_buf_release(&who);
    free(decision);
    mi_github_review_list_release(&reviews);
    return 0;
}

/* ---- deployments -------------------------------------------------------------------------------
 */

static char *dump(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    if (!s)
        abort(); /* jansson fails only when out of memory */
    char *copy = mi_xstrdup(s);
    free(s);
    return copy;
}

/* s shortened to at most max code points (s is valid UTF-8); caller frees. */
static char *utf8_prefix(const char *s, long max)
{
    const unsigned char *p = (const unsigned char *)s;
    long n = 0;
    while (*p && n < max) {
        p++;
        while ((*p & 0xc0) == 0x80)
            p++;
        n++;
    }
    return mi_xstrndup(s, (size_t)((const char *)p - s));
}

int mi_github_deployment_create(long long *out_id, mi_github *gh,
                                const struct mi_github_deployment_request *req)
{
    *out_id = 0;
    if (!req->ref || !*req->ref || !req->environment || !*req->environment)
        return mi_error_set(MI_EUSAGE,
                            "github: create deployment: ref and environment are required");
    json_t *payload = NULL;
    json_t *body = NULL;
    json_t *answer = NULL;
    char *url = NULL;
    char *text = NULL;
    int rc = 0;
    if (req->payload_json) {
        json_error_t jerr;
        payload = json_loads(req->payload_json, 0, &jerr);
        if (!json_is_object(payload)) {
            rc = mi_error_set(MI_EUSAGE,
                              "github: create deployment: payload is not a JSON object%s%s",
                              payload ? "" : ": ", payload ? "" : jerr.text);
            goto done;
        }
    }
    body = json_object();
    json_object_set_new(body, "ref", json_string(req->ref));
    json_object_set_new(body, "environment", json_string(req->environment));
    json_object_set_new(body, "task", json_string(req->task ? req->task : "deploy"));
    /* The merge already passed its checks, and merging the default branch into it would deploy
     * something nobody planned. */
    json_object_set_new(body, "auto_merge", json_false());
    json_object_set_new(body, "required_contexts", json_array());
    json_object_set_new(body, "transient_environment", json_boolean(req->transient));
    json_object_set_new(body, "production_environment", json_boolean(req->production));
    if (req->description)
        json_object_set_new(body, "description", json_string(req->description));
    if (payload) {
        json_object_set_new(body, "payload", payload);
        payload = NULL;
    }
    if (!json_object_get(body, "ref") || !json_object_get(body, "environment")) {
        rc = mi_error_set(MI_EUSAGE, "github: create deployment: ref or environment is not UTF-8");
        goto done;
    }
    text = dump(body);
    url = mi_xasprintf("%s%s/deployments", gh->api_url, gh->repo_path);
    struct call c = {"POST", url, text, "deployments: write", "the repository", 1};
    struct mi_http_response resp = MI_HTTP_RESPONSE_INIT;
    rc = send_call(&resp, gh, &c, NULL);
    if (rc == 0 && resp.status == 202) {
        rc = mi_error_set(MI_ERR,
                          "github: POST %s/deployments: GitHub merged the default branch "
                          "into %s instead of creating a deployment",
                          gh->repository, req->ref);
    } else if (rc == 0) {
        answer = json_loadb(resp.body.ptr, resp.body.len, 0, NULL);
        if (!json_is_integer(json_object_get(answer, "id")))
            rc = unexpected(&c, "a deployment with an id");
        else
            *out_id = json_id(answer, "id");
    }
    mi_http_response_release(&resp);
done:
    json_decref(payload);
    json_decref(body);
    json_decref(answer);
    free(text);
    free(url);
    return rc;
}

static const char *const status_states[] = {"error",  "failure", "inactive", "in_progress",
                                            "queued", "pending", "success",  NULL};

int mi_github_deployment_status_create(long long *out_id, mi_github *gh, long long deployment_id,
                                       const struct mi_github_deployment_status_request *req)
{
    *out_id = 0;
    int known = 0;
    for (size_t i = 0; req->state && status_states[i]; i++)
        if (strcmp(req->state, status_states[i]) == 0)
            known = 1;
    if (!known)
        return mi_error_set(MI_EUSAGE, "github: deployment status: unknown state '%s'",
                            req->state ? req->state : "");
    json_t *body = json_object();
    json_t *answer = NULL;
    char *text = NULL;
    char *url = NULL;
    char *subject = NULL;
    int rc = 0;
    json_object_set_new(body, "state", json_string(req->state));
    if (req->environment_url)
        json_object_set_new(body, "environment_url", json_string(req->environment_url));
    if (req->log_url)
        json_object_set_new(body, "log_url", json_string(req->log_url));
    if (req->description) {
        if (mi_github_body_chars(req->description, strlen(req->description)) < 0) {
            rc = mi_error_set(MI_EUSAGE, "github: deployment status: description is not UTF-8");
            goto done;
        }
        char *d = utf8_prefix(req->description, DEPLOYMENT_DESCRIPTION_MAX);
        json_object_set_new(body, "description", json_string(d));
        free(d);
    }
    if (req->keep_previous_active)
        json_object_set_new(body, "auto_inactive", json_false());
    text = dump(body);
    url = mi_xasprintf("%s%s/deployments/%lld/statuses", gh->api_url, gh->repo_path, deployment_id);
    subject = mi_xasprintf("deployment %lld", deployment_id);
    /* A repeated status is harmless, so this one retries like a read. */
    struct call c = {"POST", url, text, "deployments: write", subject, 0};
    rc = call_json(&answer, gh, &c, NULL);
    if (rc < 0)
        goto done;
    if (!json_is_integer(json_object_get(answer, "id"))) {
        rc = unexpected(&c, "a deployment status with an id");
        goto done;
    }
    *out_id = json_id(answer, "id");
done:
    json_decref(body);
    json_decref(answer);
    free(text);
    free(url);
    free(subject);
    return rc;
}

static void add_status(void *list, json_t *item)
{
    struct mi_github_deployment_status_list *l = list;
    l->items = mi_xrealloc(l->items, (l->len + 1) * sizeof(*l->items));
    struct mi_github_deployment_status *s = &l->items[l->len++];
    s->id = json_id(item, "id");
    s->state = json_str_dup(item, "state");
    s->environment = json_str_dup(item, "environment");
    s->environment_url = json_str_dup(item, "environment_url");
    s->log_url = json_str_dup(item, "log_url");
    s->description = json_str_dup(item, "description");
    s->created_at = json_str_dup(item, "created_at");
}

void mi_github_deployment_status_list_release(struct mi_github_deployment_status_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->len; i++) {
        struct mi_github_deployment_status *s = &l->items[i];
        free(s->state);
        free(s->environment);
        free(s->environment_url);
        free(s->log_url);
        free(s->description);
        free(s->created_at);
    }
    free(l->items);
    l->items = NULL;
    l->len = 0;
}

int mi_github_deployment_statuses_list(struct mi_github_deployment_status_list *out, mi_github *gh,
                                       long long deployment_id)
{
    out->items = NULL;
    out->len = 0;
    char *path = mi_xasprintf("%s/deployments/%lld/statuses", gh->repo_path, deployment_id);
    char *subject = mi_xasprintf("deployment %lld", deployment_id);
    int rc = call_list(gh, path, "deployments: read", subject, add_status, out);
    if (rc < 0)
        mi_github_deployment_status_list_release(out);
    free(path);
    free(subject);
    return rc;
}
