/*
 * azure_blob.c - Azure Blob Storage REST calls over http.h.
 *
 * Layout: the client, request signing (Shared Key), the one function that makes a call,
 * error messages, a small XML reader for Azure's responses, and the operations.
 */
#include "remote/azure_blob.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util/error.h"
#include "util/banned.h"

#define MAX_HEADERS 48
#define MAX_QUERY 8
/* Azure error bodies and listings are small; a list page of 5000 blobs with metadata stays
 * well under this. */
#define MAX_LIST_RESPONSE (32u * 1024u * 1024u)

enum auth_kind { AUTH_SHARED_KEY, AUTH_SAS, AUTH_BEARER };

struct mi_azblob {
    char *endpoint;      /* without trailing slash */
    char *endpoint_path; /* the endpoint's path ("/devstoreaccount1" path-style, else "") */
    char *account;
    char *container;
    enum auth_kind auth;
    unsigned char key[64];
    size_t key_len;
    char *sas; /* without '?' */
    mi_azblob_token_fn token;
    void *token_ctx;
    char *ca_file;
    struct mi_http_retry retry;
    int have_retry;
    long timeout_ms;
};

/* ============================================================================================
 * The client
 * ========================================================================================== */

char *mi_azblob_endpoint_for_account(const char *account)
{
    return mi_xasprintf("https://%s.blob.core.windows.net", account);
}

const char *mi_azblob_auth_name(const struct mi_azblob *c)
{
    switch (c->auth) {
    case AUTH_SHARED_KEY:
        return "shared key";
    case AUTH_SAS:
        return "SAS token";
    case AUTH_BEARER:
        return "bearer token";
    }
    return "?";
}

/* The account name from the endpoint: "http://127.0.0.1:10000/devstoreaccount1" (path-style,
 * as Azurite and other emulators serve it) or "https://acct.blob.core.windows.net". */
static char *account_from_endpoint(const char *endpoint, const char *path)
{
    if (path[0] == '/' && path[1]) {
        const char *seg = path + 1;
        size_t n = strcspn(seg, "/");
        return mi_xstrndup(seg, n);
    }
    const char *host = strstr(endpoint, "://");
    host = host ? host + 3 : endpoint;
    size_t n = strcspn(host, ".:/");
    return mi_xstrndup(host, n);
}

int mi_azblob_new(struct mi_azblob **out, const struct mi_azblob_config *cfg)
{
    *out = NULL;
    if (!cfg->endpoint || !*cfg->endpoint)
        return mi_error_set(MI_EUSAGE, "azure blob: no endpoint (set AZURE_STORAGE_ACCOUNT or "
                                       "AZURE_STORAGE_BLOB_ENDPOINT)");
    if (strncmp(cfg->endpoint, "https://", 8) != 0 && strncmp(cfg->endpoint, "http://", 7) != 0)
        return mi_error_set(MI_EUSAGE, "azure blob: endpoint '%s' is not an http(s) URL",
                            cfg->endpoint);
    if (strpbrk(cfg->endpoint, "?#@"))
        return mi_error_set(MI_EUSAGE, "azure blob: the endpoint must not carry a query, "
                                       "fragment or credentials; pass a SAS token in "
                                       "AZURE_STORAGE_SAS_TOKEN");
    if (!cfg->container || !*cfg->container)
        return mi_error_set(MI_EUSAGE, "azure blob: no container (AZURE_STORAGE_CONTAINER)");
    int nauth = (cfg->shared_key && *cfg->shared_key) + (cfg->sas_token && *cfg->sas_token) +
                (cfg->token != NULL);
    if (nauth == 0)
        return mi_error_set(MI_EAUTH,
                            "azure blob: no credentials: set AZURE_STORAGE_KEY, "
                            "AZURE_STORAGE_SAS_TOKEN, or AZURE_CLIENT_ID and AZURE_TENANT_ID "
                            "for OIDC federation");
    if (nauth > 1)
        return mi_error_set(MI_EUSAGE, "azure blob: more than one kind of credential given; "
                                       "set only one of AZURE_STORAGE_KEY, "
                                       "AZURE_STORAGE_SAS_TOKEN, AZURE_CLIENT_ID");

    struct mi_azblob *c = mi_xcalloc(1, sizeof(*c));
    size_t el = strlen(cfg->endpoint);
    while (el && cfg->endpoint[el - 1] == '/')
        el--;
    c->endpoint = mi_xstrndup(cfg->endpoint, el);
    const char *host = strstr(c->endpoint, "://") + 3;
    const char *path = strchr(host, '/');
    c->endpoint_path = mi_xstrdup(path ? path : "");
    c->account = cfg->account && *cfg->account
                     ? mi_xstrdup(cfg->account)
                     : account_from_endpoint(c->endpoint, c->endpoint_path);
    c->container = mi_xstrdup(cfg->container);
    c->ca_file = cfg->ca_file ? mi_xstrdup(cfg->ca_file) : NULL;
    c->timeout_ms = cfg->timeout_ms;
    if (cfg->retry) {
        c->retry = *cfg->retry;
        c->have_retry = 1;
    }
    if (cfg->shared_key && *cfg->shared_key) {
        c->auth = AUTH_SHARED_KEY;
        const char *end = NULL;
        if (sodium_base642bin(c->key, sizeof(c->key), cfg->shared_key, strlen(cfg->shared_key),
                              " \t\r\n", &c->key_len, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
            c->key_len == 0) {
            mi_azblob_free(c);
            return mi_error_set(MI_EUSAGE, "azure blob: AZURE_STORAGE_KEY is not a base64 "
                                           "account key (copy key1 or key2 of the storage "
                                           "account)");
        }
    } else if (cfg->sas_token && *cfg->sas_token) {
        c->auth = AUTH_SAS;
        c->sas = mi_xstrdup(cfg->sas_token[0] == '?' ? cfg->sas_token + 1 : cfg->sas_token);
    } else {
        c->auth = AUTH_BEARER;
        c->token = cfg->token;
        c->token_ctx = cfg->token_ctx;
        if (strncmp(c->endpoint, "https://", 8) != 0) {
            mi_azblob_free(c);
            return mi_error_set(MI_EUSAGE, "azure blob: a bearer token is only sent over "
                                           "HTTPS; the endpoint is plain HTTP");
        }
    }
    *out = c;
    return 0;
}

void mi_azblob_free(struct mi_azblob *c)
{
    if (!c)
        return;
    sodium_memzero(c->key, sizeof(c->key));
    if (c->sas)
        sodium_memzero(c->sas, strlen(c->sas));
    free(c->sas);
    free(c->endpoint);
    free(c->endpoint_path);
    free(c->account);
    free(c->container);
    free(c->ca_file);
    free(c);
}

/* ============================================================================================
 * Metadata and properties
 * ========================================================================================== */

void mi_azblob_meta_set(struct mi_azblob_meta *m, const char *name, const char *value)
{
    for (size_t i = 0; i < m->len; i++) {
        if (strcasecmp(m->items[i].name, name) == 0) {
            free(m->items[i].value);
            m->items[i].value = mi_xstrdup(value);
            return;
        }
    }
    m->items = mi_xrealloc(m->items, (m->len + 1) * sizeof(*m->items));
    m->items[m->len].name = mi_xstrdup(name);
    m->items[m->len].value = mi_xstrdup(value);
    m->len++;
}

const char *mi_azblob_meta_get(const struct mi_azblob_meta *m, const char *name)
{
    for (size_t i = 0; i < m->len; i++)
        if (strcasecmp(m->items[i].name, name) == 0)
            return m->items[i].value;
    return NULL;
}

void mi_azblob_meta_release(struct mi_azblob_meta *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->len; i++) {
        free(m->items[i].name);
        free(m->items[i].value);
    }
    free(m->items);
    m->items = NULL;
    m->len = 0;
}

int mi_azblob_meta_validate(const struct mi_azblob_meta *m)
{
    for (size_t i = 0; m && i < m->len; i++) {
        const char *n = m->items[i].name, *v = m->items[i].value;
        int ok = n[0] && (isalpha((unsigned char)n[0]) || n[0] == '_');
        for (const char *p = n; ok && *p; p++)
            ok = isalnum((unsigned char)*p) || *p == '_';
        if (!ok)
            return mi_error_set(MI_EUSAGE,
                                "azure blob: metadata name '%.64s' is not a C# "
                                "identifier",
                                n);
        size_t vl = strlen(v);
        /* Azure folds runs of spaces and trims values before checking a signature; values
         * that need neither sign the same everywhere. */
        if (vl && (v[0] == ' ' || v[vl - 1] == ' ' || strstr(v, "  ")))
            return mi_error_set(MI_EUSAGE,
                                "azure blob: metadata '%s' has surrounding or "
                                "repeated spaces",
                                n);
        for (const char *p = v; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
                return mi_error_set(MI_EUSAGE,
                                    "azure blob: metadata '%s' holds a character Azure does "
                                    "not accept in a header",
                                    n);
    }
    return 0;
}

void mi_azblob_props_release(struct mi_azblob_props *p)
{
    if (!p)
        return;
    free(p->etag);
    free(p->last_modified);
    free(p->lease_state);
    free(p->lease_duration);
    mi_azblob_meta_release(&p->meta);
    memset(p, 0, sizeof(*p));
}

static char *dup_header(const struct mi_http_response *r, const char *name)
{
    const char *v = mi_http_response_header(r, name);
    return v ? mi_xstrdup(v) : NULL;
}

static void props_from_response(struct mi_azblob_props *p, const struct mi_http_response *r)
{
    memset(p, 0, sizeof(*p));
    const char *cl = mi_http_response_header(r, "content-length");
    p->content_length = cl ? strtoll(cl, NULL, 10) : -1;
    p->etag = dup_header(r, "etag");
    p->last_modified = dup_header(r, "last-modified");
    p->lease_state = dup_header(r, "x-ms-lease-state");
    p->lease_duration = dup_header(r, "x-ms-lease-duration");
    for (size_t i = 0; i < r->headers_len; i++)
        if (strncmp(r->headers[i].name, "x-ms-meta-", 10) == 0)
            mi_azblob_meta_set(&p->meta, r->headers[i].name + 10, r->headers[i].value);
}

/* ============================================================================================
 * A call: URL, headers, signature, retries
 * ========================================================================================== */

struct call {
    const char *op; /* "Put Blob", for messages */
    const char *method;
    const char *name; /* NULL for a container-level call */
    struct {
        const char *k;
        const char *v;
    } q[MAX_QUERY];
    int nq;
    struct {
        char *name; /* lower-case */
        char *value;
    } h[MAX_HEADERS];
    int nh;
    const void *body;
    size_t body_len;
    const struct mi_azblob_source *src;
    const struct mi_azblob_sink *sink;
    size_t max_response;
};

static void call_query(struct call *c, const char *k, const char *v)
{
    if (c->nq < MAX_QUERY) {
        c->q[c->nq].k = k;
        c->q[c->nq].v = v;
        c->nq++;
    }
}

static void call_header(struct call *c, const char *name, const char *value)
{
    if (c->nh >= MAX_HEADERS) {
        fprintf(stderr, "fatal: azure blob: too many headers\n");
        abort();
    }
    char *n = mi_xstrdup(name);
    for (char *p = n; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    c->h[c->nh].name = n;
    c->h[c->nh].value = mi_xstrdup(value);
    c->nh++;
}

static void call_release(struct call *c)
{
    for (int i = 0; i < c->nh; i++) {
        free(c->h[i].name);
        if (c->h[i].value)
            sodium_memzero(c->h[i].value, strlen(c->h[i].value));
        free(c->h[i].value);
    }
    c->nh = 0;
}

static const char *call_get_header(const struct call *c, const char *name)
{
    for (int i = 0; i < c->nh; i++)
        if (strcmp(c->h[i].name, name) == 0)
            return c->h[i].value;
    return NULL;
}

static void add_meta_headers(struct call *c, const struct mi_azblob_meta *m)
{
    for (size_t i = 0; m && i < m->len; i++) {
        /* libcurl drops a header with an empty value, and the signature must cover exactly
         * what is sent: an empty value is simply not stored. */
        if (!m->items[i].value[0])
            continue;
        char *n = mi_xasprintf("x-ms-meta-%s", m->items[i].name);
        call_header(c, n, m->items[i].value);
        free(n);
    }
}

static void add_cond_headers(struct call *c, const struct mi_azblob_cond *cond)
{
    if (!cond)
        return;
    if (cond->if_match)
        call_header(c, "if-match", cond->if_match);
    if (cond->if_none_match)
        call_header(c, "if-none-match", cond->if_none_match);
    if (cond->lease_id)
        call_header(c, "x-ms-lease-id", cond->lease_id);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The request path as sent: endpoint path, container, escaped blob name. */
static void append_path(mi_buf *out, const struct mi_azblob *cl, const struct call *c)
{
    mi_buf_adds(out, cl->endpoint_path);
    mi_buf_addch(out, '/');
    mi_http_escape(out, cl->container, 0);
    if (c->name) {
        mi_buf_addch(out, '/');
        mi_http_escape(out, c->name, 1);
    }
}

/* Shared Key signature, per "Authorize with Shared Key" (Blob service, version 2009-09-19
 * and later): the verb, twelve standard headers (Content-Length empty when zero), the x-ms-
 * headers sorted by name, and the canonicalised resource - "/account" + the URI path, then
 * each query parameter as "\nname:value" sorted by name, values unescaped. */
static char *shared_key_auth(const struct mi_azblob *cl, const struct call *c, long long clen)
{
    static const char *const std[] = {"content-encoding",
                                      "content-language",
                                      NULL,
                                      "content-md5",
                                      "content-type",
                                      "date",
                                      "if-modified-since",
                                      "if-match",
                                      "if-none-match",
                                      "if-unmodified-since",
                                      "range"};
    mi_buf s = MI_BUF_INIT;
    mi_buf_adds(&s, c->method);
    mi_buf_addch(&s, '\n');
    for (size_t i = 0; i < sizeof(std) / sizeof(std[0]); i++) {
        if (!std[i]) {
            if (clen > 0)
                mi_buf_addf(&s, "%lld", clen);
        } else {
            const char *v = call_get_header(c, std[i]);
            if (v)
                mi_buf_adds(&s, v);
        }
        mi_buf_addch(&s, '\n');
    }
    const char *xms[MAX_HEADERS];
    int nx = 0;
    for (int i = 0; i < c->nh; i++)
        if (strncmp(c->h[i].name, "x-ms-", 5) == 0)
            xms[nx++] = c->h[i].name;
    qsort(xms, (size_t)nx, sizeof(xms[0]), cmp_str);
    for (int i = 0; i < nx; i++)
        mi_buf_addf(&s, "%s:%s\n", xms[i], call_get_header(c, xms[i]));
    mi_buf_addf(&s, "/%s", cl->account);
    append_path(&s, cl, c);
    const char *qk[MAX_QUERY];
    for (int i = 0; i < c->nq; i++)
        qk[i] = c->q[i].k;
    qsort(qk, (size_t)c->nq, sizeof(qk[0]), cmp_str);
    for (int i = 0; i < c->nq; i++)
        for (int j = 0; j < c->nq; j++)
            if (strcmp(c->q[j].k, qk[i]) == 0)
                mi_buf_addf(&s, "\n%s:%s", c->q[j].k, c->q[j].v);

    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, cl->key, cl->key_len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)s.ptr, s.len);
    crypto_auth_hmacsha256_final(&st, mac);
    char b64[sodium_base64_ENCODED_LEN(crypto_auth_hmacsha256_BYTES,
                                       sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof(b64), mac, sizeof(mac), sodium_base64_VARIANT_ORIGINAL);
    mi_buf_release(&s);
    return mi_xasprintf("SharedKey %s:%s", cl->account, b64);
}

static void http_date(char *out, size_t len)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    snprintf(out, len, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static char *describe(const struct mi_azblob *cl, const struct call *c)
{
    if (c->name)
        return mi_xasprintf("azure blob: %s '%s' in container '%s'", c->op, c->name, cl->container);
    return mi_xasprintf("azure blob: %s of container '%s'", c->op, cl->container);
}

static int perform(struct mi_azblob *cl, struct call *c, struct mi_http_response *resp)
{
    char date[64];
    http_date(date, sizeof(date));
    call_header(c, "x-ms-date", date);
    call_header(c, "x-ms-version", MI_AZBLOB_API_VERSION);
    long long clen = c->src ? c->src->size : (long long)c->body_len;

    mi_buf url = MI_BUF_INIT;
    mi_buf_adds(&url, cl->endpoint);
    mi_buf_truncate(&url, url.len - strlen(cl->endpoint_path));
    append_path(&url, cl, c);
    for (int i = 0; i < c->nq; i++) {
        mi_buf_addch(&url, i == 0 ? '?' : '&');
        mi_http_escape(&url, c->q[i].k, 0);
        mi_buf_addch(&url, '=');
        mi_http_escape(&url, c->q[i].v, 0);
    }
    if (cl->auth == AUTH_SAS) {
        mi_buf_addch(&url, c->nq ? '&' : '?');
        mi_buf_adds(&url, cl->sas);
    }

    int rc = 0;
    char *auth = NULL;
    if (cl->auth == AUTH_SHARED_KEY) {
        auth = shared_key_auth(cl, c, clen);
    } else if (cl->auth == AUTH_BEARER) {
        char *tok = NULL;
        if ((rc = cl->token(cl->token_ctx, &tok)) < 0) {
            char *what = describe(cl, c);
            mi_error_prefix("%s", what);
            free(what);
            goto done;
        }
        auth = mi_xasprintf("Bearer %s", tok);
        sodium_memzero(tok, strlen(tok));
        free(tok);
    }

    /* Every header we send, plus "Content-Type:" to stop libcurl adding a form type to a
     * body-less PUT or DELETE, which would break the signature. */
    const char *hv[MAX_HEADERS + 3];
    char *owned[MAX_HEADERS + 3];
    int n = 0;
    int have_ct = call_get_header(c, "content-type") != NULL;
    for (int i = 0; i < c->nh; i++)
        owned[n++] = mi_xasprintf("%s: %s", c->h[i].name, c->h[i].value);
    if (auth)
        owned[n++] = mi_xasprintf("Authorization: %s", auth);
    if (!have_ct)
        owned[n++] = mi_xstrdup("Content-Type:");
    for (int i = 0; i < n; i++)
        hv[i] = owned[i];
    hv[n] = NULL;

    struct mi_http_request req = {0};
    req.method = c->method;
    req.url = url.ptr;
    req.headers = hv;
    req.timeout_ms = cl->timeout_ms;
    req.max_response = c->max_response;
    req.ca_file = cl->ca_file;
    if (c->src) {
        req.read_body = c->src->read;
        req.rewind_body = c->src->rewind;
        req.read_ctx = c->src->ctx;
        req.body_size = c->src->size;
    } else {
        req.body = c->body;
        req.body_len = c->body_len;
    }
    if (c->sink) {
        req.write_body = c->sink->write;
        req.reset_sink = c->sink->reset;
        req.write_ctx = c->sink->ctx;
    }
    rc = mi_http_send_retry(resp, &req, cl->have_retry ? &cl->retry : NULL, NULL);
    if (rc < 0) {
        char *what = describe(cl, c);
        mi_error_prefix("%s", what);
        free(what);
    }
    for (int i = 0; i < n; i++) {
        sodium_memzero(owned[i], strlen(owned[i]));
        free(owned[i]);
    }
done:
    if (auth) {
        sodium_memzero(auth, strlen(auth));
        free(auth);
    }
    /* A SAS URL is a credential. */
    sodium_memzero(url.ptr, url.len);
    mi_buf_release(&url);
    return rc;
}

/* ============================================================================================
 * A small XML reader: enough for Azure's error bodies and List Blobs (elements, text,
 * entities, CDATA; attributes, comments and declarations skipped). It never trusts the
 * input: every scan is bounded by the end of the buffer.
 * ========================================================================================== */

enum xml_kind { X_OPEN, X_CLOSE, X_EMPTY, X_TEXT, X_END, X_ERROR };

struct xml {
    const char *p, *end;
};

static const char *xml_find(const char *p, const char *end, const char *what)
{
    size_t n = strlen(what);
    for (; p + n <= end; p++)
        if (memcmp(p, what, n) == 0)
            return p;
    return NULL;
}

static int xml_name_char(char ch)
{
    return isalnum((unsigned char)ch) || ch == '-' || ch == '_' || ch == '.' || ch == ':' ||
           (unsigned char)ch >= 0x80;
}

static void xml_put_utf8(mi_buf *out, unsigned long cp)
{
    if (cp < 0x80) {
        mi_buf_addch(out, (char)cp);
    } else if (cp < 0x800) {
        mi_buf_addch(out, (char)(0xc0 | (cp >> 6)));
        mi_buf_addch(out, (char)(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
        mi_buf_addch(out, (char)(0xe0 | (cp >> 12)));
        mi_buf_addch(out, (char)(0x80 | ((cp >> 6) & 0x3f)));
        mi_buf_addch(out, (char)(0x80 | (cp & 0x3f)));
    } else {
        mi_buf_addch(out, (char)(0xf0 | (cp >> 18)));
        mi_buf_addch(out, (char)(0x80 | ((cp >> 12) & 0x3f)));
        mi_buf_addch(out, (char)(0x80 | ((cp >> 6) & 0x3f)));
        mi_buf_addch(out, (char)(0x80 | (cp & 0x3f)));
    }
}

/* Decodes text with entities into out; -1 on a malformed entity. */
static int xml_text(mi_buf *out, const char *p, const char *end)
{
    while (p < end) {
        if (*p != '&') {
            const char *amp = memchr(p, '&', (size_t)(end - p));
            const char *stop = amp ? amp : end;
            mi_buf_add(out, p, (size_t)(stop - p));
            p = stop;
            continue;
        }
        const char *semi = memchr(p, ';', (size_t)(end - p) < 12 ? (size_t)(end - p) : 12);
        if (!semi)
            return -1;
        size_t n = (size_t)(semi - p - 1);
        const char *e = p + 1;
        if (n == 3 && memcmp(e, "amp", 3) == 0)
            mi_buf_addch(out, '&');
        else if (n == 2 && memcmp(e, "lt", 2) == 0)
            mi_buf_addch(out, '<');
        else if (n == 2 && memcmp(e, "gt", 2) == 0)
            mi_buf_addch(out, '>');
        else if (n == 4 && memcmp(e, "quot", 4) == 0)
            mi_buf_addch(out, '"');
        else if (n == 4 && memcmp(e, "apos", 4) == 0)
            mi_buf_addch(out, '\'');
        else if (n >= 2 && e[0] == '#') {
            unsigned long cp = 0;
            int hex = e[1] == 'x' || e[1] == 'X';
            const char *d = e + 1 + hex;
            if (d >= semi)
                return -1;
            for (; d < semi; d++) {
                int v = isdigit((unsigned char)*d) ? *d - '0'
                        : hex && isxdigit((unsigned char)*d)
                            ? (tolower((unsigned char)*d) - 'a' + 10)
                            : -1;
                if (v < 0)
                    return -1;
                cp = cp * (hex ? 16 : 10) + (unsigned long)v;
                if (cp > 0x10ffff)
                    return -1;
            }
            if (cp == 0)
                return -1;
            xml_put_utf8(out, cp);
        } else {
            return -1;
        }
        p = semi + 1;
    }
    return 0;
}

/* The next token. For X_OPEN, X_CLOSE and X_EMPTY, name and nlen point into the input; for X_TEXT
 * the decoded text is appended to text. */
static enum xml_kind xml_next(struct xml *x, const char **name, size_t *nlen, mi_buf *text)
{
    for (;;) {
        if (x->p >= x->end)
            return X_END;
        if (*x->p != '<') {
            const char *lt = memchr(x->p, '<', (size_t)(x->end - x->p));
            const char *stop = lt ? lt : x->end;
            if (xml_text(text, x->p, stop) < 0)
                return X_ERROR;
            x->p = stop;
            return X_TEXT;
        }
        const char *p = x->p + 1;
        if (p >= x->end)
            return X_ERROR;
        if (*p == '?') {
            const char *q = xml_find(p, x->end, "?>");
            if (!q)
                return X_ERROR;
            x->p = q + 2;
            continue;
        }
        if (*p == '!') {
            if (x->end - p >= 3 && memcmp(p, "!--", 3) == 0) {
                const char *q = xml_find(p + 3, x->end, "-->");
                if (!q)
                    return X_ERROR;
                x->p = q + 3;
                continue;
            }
            if (x->end - p >= 8 && memcmp(p, "![CDATA[", 8) == 0) {
                const char *q = xml_find(p + 8, x->end, "]]>");
                if (!q)
                    return X_ERROR;
                mi_buf_add(text, p + 8, (size_t)(q - p - 8));
                x->p = q + 3;
                return X_TEXT;
            }
            const char *q = memchr(p, '>', (size_t)(x->end - p));
            if (!q)
                return X_ERROR;
            x->p = q + 1;
            continue;
        }
        int closing = *p == '/';
        if (closing)
            p++;
        const char *n0 = p;
        while (p < x->end && xml_name_char(*p))
            p++;
        if (p == n0 || p >= x->end)
            return X_ERROR;
        *name = n0;
        *nlen = (size_t)(p - n0);
        /* Skip attributes, honouring quotes so a '>' inside a value does not end the tag. */
        char quote = 0;
        while (p < x->end) {
            if (quote) {
                if (*p == quote)
                    quote = 0;
            } else if (*p == '"' || *p == '\'') {
                quote = *p;
            } else if (*p == '>') {
                break;
            }
            p++;
        }
        if (p >= x->end)
            return X_ERROR;
        int empty = !closing && p[-1] == '/';
        x->p = p + 1;
        return closing ? X_CLOSE : empty ? X_EMPTY : X_OPEN;
    }
}

static int name_is(const char *n, size_t len, const char *want)
{
    return strlen(want) == len && memcmp(n, want, len) == 0;
}

/* The text of the first <tag> element anywhere in the document (caller frees), or NULL. */
static char *xml_first_text(const char *xml, size_t len, const char *tag)
{
    struct xml x = {xml, xml + len};
    mi_buf text = MI_BUF_INIT;
    const char *name;
    size_t nlen;
    int inside = 0;
    for (;;) {
        enum xml_kind k = xml_next(&x, &name, &nlen, &text);
        if (k == X_END || k == X_ERROR)
            break;
        if (k == X_OPEN && name_is(name, nlen, tag)) {
            inside = 1;
            mi_buf_reset(&text);
        } else if (k == X_CLOSE && inside && name_is(name, nlen, tag)) {
            return mi_buf_detach(&text);
        } else if (!inside) {
            mi_buf_reset(&text);
        }
    }
    mi_buf_release(&text);
    return NULL;
}

#define XML_MAX_DEPTH 32

int mi_azblob_parse_list(struct mi_azblob_page *out, const char *xml, size_t len)
{
    memset(out, 0, sizeof(*out));
    struct xml x = {xml, xml + len};
    struct {
        const char *n;
        size_t len;
    } stack[XML_MAX_DEPTH];
    int depth = 0;
    mi_buf text = MI_BUF_INIT;
    struct mi_azblob_item *item = NULL;
    int saw_root = 0;
    int rc = 0;
    for (;;) {
        const char *name = NULL;
        size_t nlen = 0;
        enum xml_kind k = xml_next(&x, &name, &nlen, &text);
        if (k == X_END)
            break;
        if (k == X_ERROR) {
            rc = mi_error_set(MI_ERR, "azure blob: List Blobs: malformed XML at byte %zu",
                              (size_t)(x.p - xml));
            goto done;
        }
        if (k == X_TEXT)
            continue;
        if (k == X_OPEN || k == X_EMPTY) {
            if (depth == 0) {
                if (!name_is(name, nlen, "EnumerationResults")) {
                    rc = mi_error_set(MI_ERR, "azure blob: List Blobs: unexpected document");
                    goto done;
                }
                saw_root = 1;
            }
            if (depth >= XML_MAX_DEPTH) {
                rc = mi_error_set(MI_ERR, "azure blob: List Blobs: XML nested too deeply");
                goto done;
            }
            stack[depth].n = name;
            stack[depth].len = nlen;
            depth++;
            mi_buf_reset(&text);
            if (depth == 3 && name_is(name, nlen, "Blob") &&
                name_is(stack[1].n, stack[1].len, "Blobs")) {
                out->items = mi_xrealloc(out->items, (out->len + 1) * sizeof(*out->items));
                item = &out->items[out->len++];
                memset(item, 0, sizeof(*item));
                item->content_length = -1;
            }
            if (k == X_OPEN)
                continue;
            /* An empty element closes at once, with empty text. */
        } else if (depth == 0 || nlen != stack[depth - 1].len ||
                   memcmp(name, stack[depth - 1].n, nlen) != 0) {
            rc = mi_error_set(MI_ERR, "azure blob: List Blobs: mismatched closing tag");
            goto done;
        }
        /* Closing (or empty) element at stack[depth-1]: file its text. */
        const char *el = stack[depth - 1].n;
        size_t ell = stack[depth - 1].len;
        if (depth == 2 && name_is(el, ell, "NextMarker") && text.len) {
            free(out->next_marker);
            out->next_marker = mi_xstrdup(text.ptr);
        } else if (item && depth == 4 && name_is(stack[2].n, stack[2].len, "Blob")) {
            if (name_is(el, ell, "Name")) {
                free(item->name);
                item->name = mi_xstrdup(text.ptr);
            }
        } else if (item && depth == 5 && name_is(stack[3].n, stack[3].len, "Properties")) {
            if (name_is(el, ell, "Content-Length"))
                item->content_length = strtoll(text.ptr, NULL, 10);
            else if (name_is(el, ell, "Etag")) {
                free(item->etag);
                item->etag = mi_xstrdup(text.ptr);
            } else if (name_is(el, ell, "Last-Modified")) {
                free(item->last_modified);
                item->last_modified = mi_xstrdup(text.ptr);
            } else if (name_is(el, ell, "LeaseState")) {
                free(item->lease_state);
                item->lease_state = mi_xstrdup(text.ptr);
            }
        } else if (item && depth == 5 && name_is(stack[3].n, stack[3].len, "Metadata")) {
            char *mname = mi_xstrndup(el, ell);
            for (char *p = mname; *p; p++)
                *p = (char)tolower((unsigned char)*p);
            mi_azblob_meta_set(&item->meta, mname, text.ptr);
            free(mname);
        }
        if (depth == 3 && name_is(el, ell, "Blob") && item) {
            if (!item->name) {
                rc = mi_error_set(MI_ERR, "azure blob: List Blobs: a blob without a name");
                goto done;
            }
            item = NULL;
        }
        depth--;
        mi_buf_reset(&text);
    }
    if (!saw_root || depth != 0)
        rc = mi_error_set(MI_ERR, "azure blob: List Blobs: truncated or empty XML");
done:
    mi_buf_release(&text);
    if (rc < 0)
        mi_azblob_page_release(out);
    return rc;
}

void mi_azblob_page_release(struct mi_azblob_page *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->len; i++) {
        free(p->items[i].name);
        free(p->items[i].last_modified);
        free(p->items[i].etag);
        free(p->items[i].lease_state);
        mi_azblob_meta_release(&p->items[i].meta);
    }
    free(p->items);
    free(p->next_marker);
    memset(p, 0, sizeof(*p));
}

/* ============================================================================================
 * Errors: what went wrong and what to do about it
 * ========================================================================================== */

static int is_lease_code(const char *code)
{
    return code && strncmp(code, "Lease", 5) == 0;
}

static int fail_status(const struct mi_azblob *cl, const struct call *c,
                       const struct mi_http_response *r)
{
    const char *hcode = mi_http_response_header(r, "x-ms-error-code");
    char *code = hcode ? mi_xstrdup(hcode) : xml_first_text(r->body.ptr, r->body.len, "Code");
    char *msg = xml_first_text(r->body.ptr, r->body.len, "Message");
    if (msg) {
        /* Azure appends "RequestId:...\nTime:..." on further lines; the first says it all. */
        msg[strcspn(msg, "\r\n")] = '\0';
        if (strlen(msg) > 300)
            msg[300] = '\0';
    }
    char *what = describe(cl, c);
    mi_buf detail = MI_BUF_INIT;
    mi_buf_addf(&detail, "HTTP %ld", r->status);
    if (code)
        mi_buf_addf(&detail, " %s", code);
    if (msg && *msg)
        mi_buf_addf(&detail, ": %s", msg);
    int rc;
    if (r->status == 404) {
        rc = mi_error_set(MI_ENOTFOUND, "%s: not found (%s)", what, detail.ptr);
    } else if (r->status == 401 || r->status == 403) {
        const char *hint;
        switch (cl->auth) {
        case AUTH_SHARED_KEY:
            hint = "check that AZURE_STORAGE_KEY is a current key of the storage account "
                   "named by AZURE_STORAGE_ACCOUNT, and that the runner's clock is right";
            break;
        case AUTH_SAS:
            hint = "check that AZURE_STORAGE_SAS_TOKEN is for this account and container, has "
                   "not expired, and grants read, add, create, write, delete and list (sp=racwdl)";
            break;
        default:
            hint = "check that the identity of AZURE_CLIENT_ID has the 'Storage Blob Data "
                   "Contributor' role on the storage account or container";
            break;
        }
        rc = mi_error_set(MI_EAUTH, "%s: access denied with the %s (%s); %s", what,
                          mi_azblob_auth_name(cl), detail.ptr, hint);
    } else if ((r->status == 409 || r->status == 412) && is_lease_code(code)) {
        rc = mi_error_set(MI_ECONFLICT,
                          "%s: the blob is leased by someone else (%s): another run holds "
                          "this lock or lease; wait for it to finish, or break it with "
                          "`mlinfra store unlock --break` if that run is gone",
                          what, detail.ptr);
    } else if (r->status == 409 || r->status == 412) {
        rc = mi_error_set(MI_ECONFLICT, "%s: conflict (%s)", what, detail.ptr);
    } else {
        rc = mi_error_set(MI_ERR, "%s: %s", what, detail.ptr);
    }
    free(what);
    free(code);
    free(msg);
    mi_buf_release(&detail);
    return rc;
}

/* Makes the call and maps any status outside [ok_lo, ok_hi] to an error. */
static int run(struct mi_azblob *cl, struct call *c, struct mi_http_response *resp, long ok_lo,
               long ok_hi)
{
    int rc = perform(cl, c, resp);
    if (rc == 0 && (resp->status < ok_lo || resp->status > ok_hi))
        rc = fail_status(cl, c, resp);
    call_release(c);
    return rc;
}

/* ============================================================================================
 * Operations
 * ========================================================================================== */

int mi_azblob_create_container(struct mi_azblob *c)
{
    struct call call = {.op = "Create Container", .method = "PUT"};
    call_query(&call, "restype", "container");
    struct mi_http_response r = MI_HTTP_RESPONSE_INIT;
    int rc = perform(c, &call, &r);
    if (rc == 0 && r.status != 201) {
        const char *code = mi_http_response_header(&r, "x-ms-error-code");
        if (!(r.status == 409 && code && strcmp(code, "ContainerAlreadyExists") == 0))
            rc = fail_status(c, &call, &r);
    }
    call_release(&call);
    mi_http_response_release(&r);
    return rc;
}

int mi_azblob_put(struct mi_azblob *c, const char *name, const void *data, size_t len,
                  const struct mi_azblob_meta *meta, const struct mi_azblob_cond *cond)
{
    int rc = mi_azblob_meta_validate(meta);
    if (rc < 0)
        return rc;
    struct call call = {.op = "Put Blob", .method = "PUT", .name = name};
    call_header(&call, "content-type", "application/octet-stream");
    call_header(&call, "x-ms-blob-type", "BlockBlob");
    add_meta_headers(&call, meta);
    add_cond_headers(&call, cond);
    call.body = data ? data : "";
    call.body_len = len;
    struct mi_http_response r = MI_HTTP_RESPONSE_INIT;
    rc = run(c, &call, &r, 201, 201);
    mi_http_response_release(&r);
    return rc;
}

int mi_azblob_put_stream(struct mi_azblob *c, const char *name, const struct mi_azblob_source *src,
                         const struct mi_azblob_meta *meta, const struct mi_azblob_cond *cond)
{
    int rc = mi_azblob_meta_validate(meta);
    if (rc < 0)
        return rc;
    struct call call = {.op = "Put Blob", .method = "PUT", .name = name, .src = src};
    call_header(&call, "content-type", "application/octet-stream");
    call_header(&call, "x-ms-blob-type", "BlockBlob");
    add_meta_headers(&call, meta);
    add_cond_headers(&call, cond);
    struct mi_http_response r = MI_HTTP_RESPONSE_INIT;
    rc = run(c, &call, &r, 201, 201);
    mi_http_response_release(&r);
    return rc;
}

char *mi_azblob_block_id(unsigned long index)
{
    char raw[32];
    int n = snprintf(raw, sizeof(raw), "mlinfra-block-%010lu", index);
    char b64[sodium_base64_ENCODED_LEN(sizeof(raw), sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)raw, (size_t)n,
                      sodium_base64_VARIANT_ORIGINAL);
    return mi_xstrdup(b64);
}

int mi_azblob_put_block(struct mi_azblob *c, const char *name, const char *block_id,
                        const struct mi_azblob_source *src)
{
    struct call call = {.op = "Put Block", .method = "PUT", .name = name, .src = src};
    call_query(&call, "comp", "block");
    call_query(&call, "blockid", block_id);
    call_header(&call, "content-type", "application/octet-stream");
    struct mi_http_response r = MI_HTTP_RESPONSE_INIT;
    int rc = run(c, &call, &r, 201, 201);
    mi_http_response_release(&r);
    return rc;
}

int mi_azblob_put_block_list(struct mi_azblob *c, const char *name, char *const *block_ids,
                             size_t n, const struct mi_azblob_meta *meta,
                             const struct mi_azblob_cond *cond)
{
    int rc = mi_azblob_meta_validate(meta);
    if (rc < 0)
        return rc;
    mi_buf body = MI_BUF_INIT;
    mi_buf_adds(&body, "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
    for (size_t i = 0; i < n; i++)
        mi_buf_addf(&body, "<Latest>%s</Latest>", block_ids[i]);
    mi_buf_adds(&body, "</BlockList>");
    struct call call = {.op = "Put Block List", .method = "PUT", .name = name};
    call_query(&call, "comp", "blocklist");
    call_header(&call, "content-type", "application/xml");
    add_meta_headers(&call, meta);
    add_cond_headers(&call, cond);
    call.body = body.ptr;
    call.body_len = body.len;
    struct mi_http_response r = MI_HTTP_RESPONSE_INIT;
    rc = run(c, &call, &r, 201, 201);
    mi_http_response_release(&r);
    mi_buf_release(&body);
    return rc;
}

int mi_azblob_get(struct mi_azblob *c, const char *name, const struct mi_azblob_sink *sink,
                  struct mi_azblob_props *props)
{
    struct call call = {.op = "Get Blob", .method = "GET", .name = name, .sink = sink};
    struct mi_http_response r = MI_HTTP_RESPONSE_INIT;
    int rc = run(c, &call, &r, 200, 200);
    if (rc == 0 && props)
        props_from_response(props, &r);
    mi_http_response_release(&r);
    return rc;
}

struct buf_sink {
    mi_buf *out;
    size_t start, max;
};

static int buf_sink_write(void *ctx, const char *data, size_t len)
{
    struct buf_sink *s = ctx;
    if (s->out->len - s->start + len > s->max)
        return mi_error_set(MI_ERR, "blob larger than the limit of %zu bytes", s->max);
    mi_buf_add(s->out, data, len);
    return 0;
}

static int buf_sink_reset(void *ctx)
{
    struct buf_sink *s = ctx;
    mi_buf_truncate(s->out, s->start);
    return 0;
}

int mi_azblob_get_buf(struct mi_azblob *c, const char *name, mi_buf *out, size_t max)
{
    struct buf_sink bs = {out, out->len, max};
    struct mi_azblob_sink sink = {buf_sink_write, buf_sink_reset, &bs};
    return mi_azblob_get(c, name, &sink, NULL);
}

int mi_azblob_get_properties(struct mi_azblob *c, const char *name, struct mi_azblob_props *out)
{
    memset(out, 0, sizeof(*out));
    struct call call = {.op = "Get Blob Properties", .method = "HEAD", .name = name};
    struct mi_http_response r = MI_HTTP_RESPONSE_INIT;
    int rc = run(c, &call, &r, 200, 200);
    if (rc == 0)
        props_from_response(out, &r);
    mi_http_response_release(&r);
    return rc;
}

int mi_azblob_set_metadata(struct mi_azblob *c, const char *name, const struct mi_azblob_meta *meta,
                           const struct mi_azblob_cond *cond)
{
    int rc = mi_azblob_meta_validate(meta);
    if (rc < 0)
        return rc;
    struct call call = {.op = "Set Blob Metadata", .method = "PUT", .name = name};
    call_query(&call, "comp", "metadata");
    add_meta_headers(&call, meta);
    add_cond_headers(&call, cond);
    struct mi_http_response r = MI_HTTP_RESPONSE_INIT;
    rc = run(c, &call, &r, 200, 200);
    mi_http_response_release(&r);
    return rc;
}

int mi_azblob_delete(struct mi_azblob *c, const char *name, const struct mi_azblob_cond *cond)
{
    struct call call = {.op = "Delete Blob", .method = "DELETE", .name = name};
    add_cond_headers(&call, cond);
    struct mi_http_response r = MI_HTTP_RESPONSE_INIT;
    int rc = run(c, &call, &r, 202, 202);
    mi_http_response_release(&r);
    return rc;
}

int mi_azblob_list(struct mi_azblob *c, const char *prefix, const char *marker, int max_results,
                   struct mi_azblob_page *out)
{
    memset(out, 0, sizeof(*out));
    char maxbuf[24];
    struct call call = {.op = "List Blobs", .method = "GET", .max_response = MAX_LIST_RESPONSE};
    call_query(&call, "restype", "container");
    call_query(&call, "comp", "list");
    call_query(&call, "include", "metadata");
    if (prefix && *prefix)
        call_query(&call, "prefix", prefix);
    if (marker && *marker)
        call_query(&call, "marker", marker);
    if (max_results > 0) {
        snprintf(maxbuf, sizeof(maxbuf), "%d", max_results);
        call_query(&call, "maxresults", maxbuf);
    }
    struct mi_http_response r = MI_HTTP_RESPONSE_INIT;
    int rc = run(c, &call, &r, 200, 200);
    if (rc == 0)
        rc = mi_azblob_parse_list(out, r.body.ptr, r.body.len);
    mi_http_response_release(&r);
    return rc;
}

/* ============================================================================================
 * Leases
 * ========================================================================================== */

char *mi_azblob_uuid(void)
{
    unsigned char b[16];
    randombytes_buf(b, sizeof(b));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    return mi_xasprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                        b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
                        b[12], b[13], b[14], b[15]);
}

int mi_azblob_lease_acquire(struct mi_azblob *c, const char *name, int duration_s,
                            const char *proposed_id, char **lease_id_out)
{
    *lease_id_out = NULL;
    if (duration_s != -1 && (duration_s < 15 || duration_s > 60))
        return mi_error_set(MI_EUSAGE,
                            "azure blob: a lease lasts 15 to 60 seconds or is "
                            "infinite (-1), not %d",
                            duration_s);
    /* Proposing the id makes a retried acquire (after a lost response) idempotent: Azure
     * accepts acquiring again with the id of the active lease. */
    char *id = proposed_id ? mi_xstrdup(proposed_id) : mi_azblob_uuid();
    char dur[16];
    snprintf(dur, sizeof(dur), "%d", duration_s);
    struct call call = {.op = "Acquire Lease", .method = "PUT", .name = name};
    call_query(&call, "comp", "lease");
    call_header(&call, "x-ms-lease-action", "acquire");
    call_header(&call, "x-ms-lease-duration", dur);
    call_header(&call, "x-ms-proposed-lease-id", id);
    struct mi_http_response r = MI_HTTP_RESPONSE_INIT;
    int rc = run(c, &call, &r, 201, 201);
    if (rc == 0) {
        const char *got = mi_http_response_header(&r, "x-ms-lease-id");
        *lease_id_out = mi_xstrdup(got ? got : id);
    }
    mi_http_response_release(&r);
    free(id);
    return rc;
}

static int lease_simple(struct mi_azblob *c, const char *op, const char *action, const char *name,
                        const char *lease_id)
{
    struct call call = {.op = op, .method = "PUT", .name = name};
    call_query(&call, "comp", "lease");
    call_header(&call, "x-ms-lease-action", action);
    call_header(&call, "x-ms-lease-id", lease_id);
    struct mi_http_response r = MI_HTTP_RESPONSE_INIT;
    int rc = run(c, &call, &r, 200, 200);
    mi_http_response_release(&r);
    return rc;
}

int mi_azblob_lease_renew(struct mi_azblob *c, const char *name, const char *lease_id)
{
    return lease_simple(c, "Renew Lease", "renew", name, lease_id);
}

int mi_azblob_lease_release(struct mi_azblob *c, const char *name, const char *lease_id)
{
    return lease_simple(c, "Release Lease", "release", name, lease_id);
}

int mi_azblob_lease_break(struct mi_azblob *c, const char *name, int break_period_s,
                          int *remaining_s)
{
    char period[16];
    struct call call = {.op = "Break Lease", .method = "PUT", .name = name};
    call_query(&call, "comp", "lease");
    call_header(&call, "x-ms-lease-action", "break");
    if (break_period_s >= 0) {
        snprintf(period, sizeof(period), "%d", break_period_s);
        call_header(&call, "x-ms-lease-break-period", period);
    }
    struct mi_http_response r = MI_HTTP_RESPONSE_INIT;
    int rc = run(c, &call, &r, 202, 202);
    if (rc == 0 && remaining_s) {
        const char *t = mi_http_response_header(&r, "x-ms-lease-time");
        *remaining_s = t ? (int)strtol(t, NULL, 10) : 0;
    }
    mi_http_response_release(&r);
    return rc;
}
