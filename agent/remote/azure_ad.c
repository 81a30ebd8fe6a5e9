/* azure_ad.c - GitHub OIDC federation to an Azure AD access token (see azure_ad.h). */
#include "remote/azure_ad.h"

#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/error.h"
#include "util/banned.h"

/* Refresh this long before expiry, so a token never lapses in the middle of a call. */
#define REFRESH_MARGIN_S 300
/* Token responses are small JSON documents. */
#define MAX_TOKEN_RESPONSE (256u * 1024u)

struct mi_azure_ad {
    char *id_url;
    char *id_request_token;
    char *client_id;
    char *tenant_id;
    char *authority;
    char *audience;
    char *scope;
    char *ca_file;
    struct mi_http_retry retry;
    int have_retry;
    void (*on_token)(void *ctx, const char *secret);
    void *on_token_ctx;

    pthread_mutex_t lock;
    char *token;
    time_t expires;
};

static const char *env_or_null(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

void mi_azure_ad_config_from_env(struct mi_azure_ad_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->id_token_request_url = env_or_null("ACTIONS_ID_TOKEN_REQUEST_URL");
    cfg->id_token_request_token = env_or_null("ACTIONS_ID_TOKEN_REQUEST_TOKEN");
    cfg->client_id = env_or_null("AZURE_CLIENT_ID");
    cfg->tenant_id = env_or_null("AZURE_TENANT_ID");
    cfg->authority_host = env_or_null("AZURE_AUTHORITY_HOST");
}

/* Secrets go over HTTPS, or to a loopback test double. */
static int secure_url(const char *url)
{
    if (strncmp(url, "https://", 8) == 0)
        return 1;
    return strncmp(url, "http://127.0.0.1:", 17) == 0 ||
           strncmp(url, "http://127.0.0.1/", 17) == 0 ||
           strncmp(url, "http://localhost:", 17) == 0 || strncmp(url, "http://[::1]:", 13) == 0;
}

static int safe_tenant(const char *t)
{
    for (const char *p = t; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '.'))
            return 0;
    return *t != '\0';
}

int mi_azure_ad_new(struct mi_azure_ad **out, const struct mi_azure_ad_config *cfg)
{
    *out = NULL;
    if (!cfg->client_id || !cfg->tenant_id)
        return mi_error_set(MI_EUSAGE, "azure ad: OIDC federation needs both AZURE_CLIENT_ID and "
                                       "AZURE_TENANT_ID");
    if (!safe_tenant(cfg->tenant_id))
        return mi_error_set(MI_EUSAGE,
                            "azure ad: AZURE_TENANT_ID '%.80s' is not a tenant id "
                            "or domain",
                            cfg->tenant_id);
    if (!cfg->id_token_request_url || !cfg->id_token_request_token)
        return mi_error_set(MI_EAUTH,
                            "azure ad: ACTIONS_ID_TOKEN_REQUEST_URL/TOKEN are not set: give the "
                            "job `permissions: id-token: write` so GitHub issues an OIDC token "
                            "(a pull request from a fork never gets one)");
    const char *authority =
        cfg->authority_host ? cfg->authority_host : MI_AZURE_AD_DEFAULT_AUTHORITY;
    if (!secure_url(authority))
        return mi_error_set(MI_EUSAGE,
                            "azure ad: AZURE_AUTHORITY_HOST '%s' must be an https "
                            "URL",
                            authority);
    if (!secure_url(cfg->id_token_request_url))
        return mi_error_set(MI_EUSAGE, "azure ad: ACTIONS_ID_TOKEN_REQUEST_URL is not an https "
                                       "URL");
    struct mi_azure_ad *ad = mi_xcalloc(1, sizeof(*ad));
    ad->id_url = mi_xstrdup(cfg->id_token_request_url);
    ad->id_request_token = mi_xstrdup(cfg->id_token_request_token);
    ad->client_id = mi_xstrdup(cfg->client_id);
    ad->tenant_id = mi_xstrdup(cfg->tenant_id);
    size_t al = strlen(authority);
    while (al && authority[al - 1] == '/')
        al--;
    ad->authority = mi_xstrndup(authority, al);
    ad->audience = mi_xstrdup(cfg->audience ? cfg->audience : MI_AZURE_AD_GITHUB_AUDIENCE);
    ad->scope = mi_xstrdup(cfg->scope ? cfg->scope : MI_AZURE_AD_STORAGE_SCOPE);
    ad->ca_file = cfg->ca_file ? mi_xstrdup(cfg->ca_file) : NULL;
    if (cfg->retry) {
        ad->retry = *cfg->retry;
        ad->have_retry = 1;
    }
    ad->on_token = cfg->on_token;
    ad->on_token_ctx = cfg->on_token_ctx;
    pthread_mutex_init(&ad->lock, NULL);
    *out = ad;
    return 0;
}

static void wipe_free(char *s)
{
    if (s) {
        sodium_memzero(s, strlen(s));
        free(s);
    }
}

void mi_azure_ad_free(struct mi_azure_ad *ad)
{
    if (!ad)
        return;
    wipe_free(ad->id_request_token);
    wipe_free(ad->token);
    free(ad->id_url);
    free(ad->client_id);
    free(ad->tenant_id);
    free(ad->authority);
    free(ad->audience);
    free(ad->scope);
    free(ad->ca_file);
    pthread_mutex_destroy(&ad->lock);
    free(ad);
}

/* "error_description" (first line) or "message" of a JSON error body, else NULL. */
static char *json_error_text(const mi_buf *body)
{
    json_t *root = json_loadb(body->ptr, body->len, 0, NULL);
    if (!root)
        return NULL;
    const char *t = json_string_value(json_object_get(root, "error_description"));
    if (!t)
        t = json_string_value(json_object_get(root, "message"));
    const char *code = json_string_value(json_object_get(root, "error"));
    char *out = NULL;
    if (t || code) {
        mi_buf b = MI_BUF_INIT;
        if (code)
            mi_buf_adds(&b, code);
        if (t) {
            if (code)
                mi_buf_adds(&b, ": ");
            size_t n = strcspn(t, "\r\n");
            mi_buf_add(&b, t, n > 400 ? 400 : n);
        }
        out = mi_buf_detach(&b);
    }
    json_decref(root);
    return out;
}

/* Step 1: GitHub's OIDC ID token for audience. */
static int github_id_token(struct mi_azure_ad *ad, char **out)
{
    mi_buf url = MI_BUF_INIT, authz = MI_BUF_INIT;
    mi_buf_adds(&url, ad->id_url);
    mi_buf_adds(&url, strchr(ad->id_url, '?') ? "&audience=" : "?audience=");
    mi_http_escape(&url, ad->audience, 0);
    mi_buf_addf(&authz, "Authorization: Bearer %s", ad->id_request_token);
    const char *headers[] = {authz.ptr, "Accept: application/json", NULL};
    struct mi_http_request req = {.method = "GET",
                                  .url = url.ptr,
                                  .headers = headers,
                                  .max_response = MAX_TOKEN_RESPONSE,
                                  .ca_file = ad->ca_file};
    struct mi_http_response resp = MI_HTTP_RESPONSE_INIT;
    json_t *root = NULL;
    int rc = mi_http_send_retry(&resp, &req, ad->have_retry ? &ad->retry : NULL, NULL);
    if (rc < 0) {
        mi_error_prefix("azure ad: requesting GitHub's OIDC token");
        goto done;
    }
    if (resp.status != 200) {
        char *why = json_error_text(&resp.body);
        rc = mi_error_set(resp.status == 401 || resp.status == 403 ? MI_EAUTH : MI_ERR,
                          "azure ad: GitHub refused an OIDC token (HTTP %ld%s%s): check the "
                          "job's `permissions: id-token: write`",
                          resp.status, why ? ": " : "", why ? why : "");
        free(why);
        goto done;
    }
    root = json_loadb(resp.body.ptr, resp.body.len, 0, NULL);
    const char *v = root ? json_string_value(json_object_get(root, "value")) : NULL;
    if (!v || !*v) {
        rc = mi_error_set(MI_ERR, "azure ad: GitHub's OIDC token response has no \"value\"");
        goto done;
    }
    *out = mi_xstrdup(v);
done:
    json_decref(root);
    mi_http_response_release(&resp);
    sodium_memzero(authz.ptr, authz.len);
    mi_buf_release(&authz);
    mi_buf_release(&url);
    return rc;
}

static void form_field(mi_buf *b, const char *k, const char *v)
{
    if (b->len)
        mi_buf_addch(b, '&');
    mi_buf_adds(b, k);
    mi_buf_addch(b, '=');
    mi_http_escape(b, v, 0);
}

/* Step 2: the client-assertion grant. */
static int exchange(struct mi_azure_ad *ad, const char *assertion, char **token_out,
                    long *expires_in)
{
    mi_buf url = MI_BUF_INIT, body = MI_BUF_INIT;
    mi_buf_addf(&url, "%s/%s/oauth2/v2.0/token", ad->authority, ad->tenant_id);
    form_field(&body, "client_id", ad->client_id);
    form_field(&body, "scope", ad->scope);
    form_field(&body, "grant_type", "client_credentials");
    form_field(&body, "client_assertion_type",
               "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
    form_field(&body, "client_assertion", assertion);
    const char *headers[] = {"Content-Type: application/x-www-form-urlencoded",
                             "Accept: application/json", NULL};
    struct mi_http_request req = {.method = "POST",
                                  .url = url.ptr,
                                  .headers = headers,
                                  .body = body.ptr,
                                  .body_len = body.len,
                                  .max_response = MAX_TOKEN_RESPONSE,
                                  .ca_file = ad->ca_file};
    struct mi_http_response resp = MI_HTTP_RESPONSE_INIT;
    json_t *root = NULL;
    int rc = mi_http_send_retry(&resp, &req, ad->have_retry ? &ad->retry : NULL, NULL);
    if (rc < 0) {
        mi_error_prefix("azure ad: token request for client %s", ad->client_id);
        goto done;
    }
    if (resp.status != 200) {
        char *why = json_error_text(&resp.body);
        rc = mi_error_set(resp.status == 400 || resp.status == 401 || resp.status == 403 ? MI_EAUTH
                                                                                         : MI_ERR,
                          "azure ad: %s/%s refused the GitHub OIDC token for client %s (HTTP "
                          "%ld%s%s); check that the app registration AZURE_CLIENT_ID has a "
                          "federated credential whose issuer is "
                          "https://token.actions.githubusercontent.com, audience %s, and "
                          "subject matching this workflow (repo:OWNER/REPO:environment:NAME, "
                          ":ref:refs/heads/BRANCH or :pull_request)",
                          ad->authority, ad->tenant_id, ad->client_id, resp.status, why ? ": " : "",
                          why ? why : "", ad->audience);
        free(why);
        goto done;
    }
    root = json_loadb(resp.body.ptr, resp.body.len, 0, NULL);
    const char *tok = root ? json_string_value(json_object_get(root, "access_token")) : NULL;
    json_t *exp = root ? json_object_get(root, "expires_in") : NULL;
    if (!tok || !*tok) {
        rc = mi_error_set(MI_ERR, "azure ad: the token response has no access_token");
        goto done;
    }
    /* expires_in is a number, or (older endpoints) a string of digits. */
    long secs = 3600;
    if (json_is_integer(exp))
        secs = (long)json_integer_value(exp);
    else if (json_is_string(exp))
        secs = strtol(json_string_value(exp), NULL, 10);
    *expires_in = secs > 0 ? secs : 60;
    *token_out = mi_xstrdup(tok);
done:
    json_decref(root);
    mi_http_response_release(&resp);
    sodium_memzero(body.ptr, body.len);
    mi_buf_release(&body);
    mi_buf_release(&url);
    return rc;
}

int mi_azure_ad_token(struct mi_azure_ad *ad, char **token_out)
{
    *token_out = NULL;
    int rc = 0;
    pthread_mutex_lock(&ad->lock);
    time_t now = time(NULL);
    if (!ad->token || now >= ad->expires) {
        char *assertion = NULL, *tok = NULL;
        long expires_in = 0;
        rc = github_id_token(ad, &assertion);
        if (rc == 0) {
            if (ad->on_token)
                ad->on_token(ad->on_token_ctx, assertion);
            rc = exchange(ad, assertion, &tok, &expires_in);
        }
        wipe_free(assertion);
        if (rc == 0) {
            if (ad->on_token)
                ad->on_token(ad->on_token_ctx, tok);
            wipe_free(ad->token);
            ad->token = tok;
            long keep =
                expires_in > 2 * REFRESH_MARGIN_S ? expires_in - REFRESH_MARGIN_S : expires_in / 2;
            ad->expires = now + keep;
        }
    }
    if (rc == 0)
        *token_out = mi_xstrdup(ad->token);
    pthread_mutex_unlock(&ad->lock);
    return rc;
}

int mi_azure_ad_token_fn(void *ctx, char **token_out)
{
    return mi_azure_ad_token(ctx, token_out);
}
