/* remote/azure_ad: GitHub OIDC federation against a token-endpoint double that checks the
 * client-assertion grant field by field, and the resulting bearer token accepted by Azurite
 * in its OAuth mode (HTTPS with a self-signed certificate made here). */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "azuretest.h"
#include "remote/azure_ad.h"
#include "remote/azure_blob.h"
#include "store/store.h"
#include "testsupport.h"
#include "util/error.h"
#include "util/fs.h"

#define TENANT "11111111-2222-3333-4444-555555555555"
#define CLIENT "66666666-7777-8888-9999-000000000000"
#define REQTOK "runner-request-token-0123456789"

static struct mi_test_server *oidc;
static char *stats_path;
static char *id_url, *authority;

static void start_oidc(const char *client_id, const char *expires_in)
{
    char *server = mi_test_path("tests/doubles/oidc/server.js");
    const char *argv[] = {"node",
                          server,
                          "--port",
                          "{PORT}",
                          "--tenant",
                          TENANT,
                          "--client-id",
                          client_id,
                          "--request-token",
                          REQTOK,
                          "--expires-in",
                          expires_in,
                          "--stats",
                          "{DIR}/stats.jsonl",
                          NULL};
    oidc = mi_test_server_start("oidc-double", argv);
    stats_path = mi_xasprintf("%s/stats.jsonl", oidc->workdir);
    id_url = mi_xasprintf("http://127.0.0.1:%d/idtoken?api-version=2.0", oidc->port);
    authority = mi_xasprintf("http://127.0.0.1:%d", oidc->port);
    free(server);
}

static void setup(void)
{
    cr_assert(sodium_init() >= 0);
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void teardown(void)
{
    mi_test_server_stop(oidc);
    oidc = NULL;
    free(stats_path);
    free(id_url);
    free(authority);
    curl_global_cleanup();
}

TestSuite(azure_ad, .init = setup, .fini = teardown);

static const struct mi_http_retry fast = {.max_attempts = 2, .base_delay_ms = 10};

static struct mi_azure_ad_config config(void)
{
    struct mi_azure_ad_config cfg = {.id_token_request_url = id_url,
                                     .id_token_request_token = REQTOK,
                                     .client_id = CLIENT,
                                     .tenant_id = TENANT,
                                     .authority_host = authority,
                                     .retry = &fast};
    return cfg;
}

/* Lines of the double's log containing needle. */
static int stats_count(const char *needle)
{
    mi_buf b = MI_BUF_INIT;
    if (mi_fs_read_file(&b, stats_path, 0) < 0)
        return 0;
    int n = 0;
    for (const char *p = b.ptr; (p = strstr(p, needle)); p++)
        n++;
    mi_buf_release(&b);
    return n;
}

static char *jwt_claims(const char *jwt)
{
    const char *dot = strchr(jwt, '.');
    cr_assert_not_null(dot);
    const char *end = strchr(dot + 1, '.');
    cr_assert_not_null(end);
    unsigned char out[4096];
    size_t n = 0;
    cr_assert(sodium_base642bin(out, sizeof(out) - 1, dot + 1, (size_t)(end - dot - 1), NULL, &n,
                                NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0);
    out[n] = '\0';
    return mi_xstrdup((char *)out);
}

struct seen {
    int calls;
    char last[4096];
};

static void on_token(void *ctx, const char *secret)
{
    struct seen *s = ctx;
    s->calls++;
    snprintf(s->last, sizeof(s->last), "%s", secret);
}

Test(azure_ad, client_assertion_grant_yields_a_storage_token_and_caches_it)
{
    start_oidc(CLIENT, "3599");
    struct mi_azure_ad_config cfg = config();
    struct seen seen = {0};
    cfg.on_token = on_token;
    cfg.on_token_ctx = &seen;
    struct mi_azure_ad *ad = NULL;
    cr_assert_eq(mi_azure_ad_new(&ad, &cfg), 0, "%s", mi_error_last());
    char *tok = NULL;
    cr_assert_eq(mi_azure_ad_token(ad, &tok), 0, "%s", mi_error_last());
    char *claims = jwt_claims(tok);
    cr_assert(strstr(claims, "\"aud\":\"https://storage.azure.com\""), "%s", claims);
    cr_assert(strstr(claims, "\"iss\":\"https://sts.windows.net/" TENANT "/\""), "%s", claims);
    /* Both secrets were offered for masking, the access token last. */
    cr_assert_eq(seen.calls, 2);
    cr_assert_str_eq(seen.last, tok);
    /* The double saw exactly one of each request, with the GitHub audience. */
    cr_assert_eq(stats_count("\"path\":\"/idtoken\""), 1);
    cr_assert_eq(stats_count("\"audience\":\"api://AzureADTokenExchange\""), 1);
    cr_assert_eq(stats_count("/oauth2/v2.0/token"), 1);
    cr_assert_eq(stats_count("refused"), 0);
    /* Cached: no new requests. */
    char *again = NULL;
    cr_assert_eq(mi_azure_ad_token(ad, &again), 0);
    cr_assert_str_eq(again, tok);
    cr_assert_eq(stats_count("/oauth2/v2.0/token"), 1);
    free(again);
    free(claims);
    free(tok);
    mi_azure_ad_free(ad);
}

Test(azure_ad, short_lived_tokens_are_refreshed)
{
    start_oidc(CLIENT, "1");
    struct mi_azure_ad_config cfg = config();
    struct mi_azure_ad *ad = NULL;
    cr_assert_eq(mi_azure_ad_new(&ad, &cfg), 0);
    char *a = NULL, *b = NULL;
    cr_assert_eq(mi_azure_ad_token(ad, &a), 0, "%s", mi_error_last());
    cr_assert_eq(mi_azure_ad_token(ad, &b), 0, "%s", mi_error_last());
    cr_assert_eq(stats_count("/oauth2/v2.0/token"), 2, "an expiring token must be refreshed");
    free(a);
    free(b);
    mi_azure_ad_free(ad);
}

Test(azure_ad, unknown_client_says_what_to_fix)
{
    start_oidc("someone-else", "3599");
    struct mi_azure_ad_config cfg = config();
    struct mi_azure_ad *ad = NULL;
    cr_assert_eq(mi_azure_ad_new(&ad, &cfg), 0);
    char *tok = NULL;
    cr_assert_eq(mi_azure_ad_token(ad, &tok), MI_EAUTH);
    cr_assert(strstr(mi_error_last(), "AADSTS700016"), "%s", mi_error_last());
    cr_assert(strstr(mi_error_last(), "federated credential"), "%s", mi_error_last());
    cr_assert(!strstr(mi_error_last(), "Trace ID"), "only the first line: %s", mi_error_last());
    cr_assert(!strstr(mi_error_last(), "eyJ"), "a token leaked: %s", mi_error_last());
    cr_assert_null(tok);
    mi_azure_ad_free(ad);
}

Test(azure_ad, wrong_tenant_and_request_token_are_refused_clearly)
{
    start_oidc(CLIENT, "3599");
    struct mi_azure_ad_config cfg = config();
    cfg.tenant_id = "other-tenant";
    struct mi_azure_ad *ad = NULL;
    char *tok = NULL;
    cr_assert_eq(mi_azure_ad_new(&ad, &cfg), 0);
    cr_assert_eq(mi_azure_ad_token(ad, &tok), MI_EAUTH);
    cr_assert(strstr(mi_error_last(), "AADSTS90002"), "%s", mi_error_last());
    mi_azure_ad_free(ad);

    cfg = config();
    cfg.id_token_request_token = "stale";
    cr_assert_eq(mi_azure_ad_new(&ad, &cfg), 0);
    cr_assert_eq(mi_azure_ad_token(ad, &tok), MI_EAUTH);
    cr_assert(strstr(mi_error_last(), "id-token: write"), "%s", mi_error_last());
    cr_assert(!strstr(mi_error_last(), "stale"), "request token leaked: %s", mi_error_last());
    mi_azure_ad_free(ad);
}

Test(azure_ad, missing_settings_are_named)
{
    struct mi_azure_ad *ad = NULL;
    struct mi_azure_ad_config cfg = {.client_id = CLIENT, .tenant_id = TENANT};
    cr_assert_eq(mi_azure_ad_new(&ad, &cfg), MI_EAUTH);
    cr_assert(strstr(mi_error_last(), "id-token: write"), "%s", mi_error_last());
    struct mi_azure_ad_config nocl = {.tenant_id = TENANT};
    cr_assert_eq(mi_azure_ad_new(&ad, &nocl), MI_EUSAGE);
    cr_assert(strstr(mi_error_last(), "AZURE_CLIENT_ID"), "%s", mi_error_last());
    struct mi_azure_ad_config plain = {.client_id = CLIENT,
                                       .tenant_id = TENANT,
                                       .id_token_request_url = "https://x/",
                                       .id_token_request_token = "t",
                                       .authority_host = "http://login.example.com"};
    cr_assert_eq(mi_azure_ad_new(&ad, &plain), MI_EUSAGE, "secrets over plain HTTP");
    struct mi_azure_ad_config tenant = {.client_id = CLIENT,
                                        .tenant_id = "../x",
                                        .id_token_request_url = "https://x/",
                                        .id_token_request_token = "t"};
    cr_assert_eq(mi_azure_ad_new(&ad, &tenant), MI_EUSAGE);
}

/* --- Azurite in OAuth mode -------------------------------------------------------------- */

static void make_cert(const char *dir, char **cert, char **key)
{
    *cert = mi_xasprintf("%s/cert.pem", dir);
    *key = mi_xasprintf("%s/key.pem", dir);
    char *keyout = mi_xasprintf("%s", *key), *out = mi_xasprintf("%s", *cert);
    char *argv[] = {"/usr/bin/openssl",
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-keyout",
                    keyout,
                    "-out",
                    out,
                    "-days",
                    "2",
                    "-subj",
                    "/CN=127.0.0.1",
                    "-addext",
                    "subjectAltName=IP:127.0.0.1",
                    NULL};
    struct mi_test_run r;
    mi_test_run_cmd(&r, argv, NULL, NULL, 60000);
    cr_assert_eq(r.exit_code, 0, "openssl: %s", r.err.ptr);
    mi_test_run_release(&r);
    free(keyout);
    free(out);
}

static int static_token(void *ctx, char **out)
{
    *out = mi_xstrdup(ctx);
    return 0;
}

Test(azure_ad, azurite_oauth_mode_accepts_the_federated_token)
{
    start_oidc(CLIENT, "3599");
    char *dir = mi_test_tmpdir();
    char *cert = NULL, *key = NULL;
    make_cert(dir, &cert, &key);
    const char *extra[] = {"--oauth", "basic", "--cert", cert, "--key", key, NULL};
    struct mi_test_server *az = mi_test_azurite_start(extra);
    char *ep = mi_xasprintf("https://127.0.0.1:%d/devstoreaccount1", az->port);

    struct mi_azure_ad_config adcfg = config();
    struct mi_azure_ad *ad = NULL;
    cr_assert_eq(mi_azure_ad_new(&ad, &adcfg), 0);
    struct mi_azblob_config cfg = {.endpoint = ep,
                                   .container = "oauth",
                                   .token = mi_azure_ad_token_fn,
                                   .token_ctx = ad,
                                   .ca_file = cert,
                                   .retry = &fast};
    struct mi_azblob *c = NULL;
    cr_assert_eq(mi_azblob_new(&c, &cfg), 0, "%s", mi_error_last());
    cr_assert_str_eq(mi_azblob_auth_name(c), "bearer token");
    cr_assert_eq(mi_azblob_create_container(c), 0, "%s", mi_error_last());
    cr_assert_eq(mi_azblob_put(c, "a/b", "sealed", 6, NULL, NULL), 0, "%s", mi_error_last());
    mi_buf b = MI_BUF_INIT;
    cr_assert_eq(mi_azblob_get_buf(c, "a/b", &b, 100), 0, "%s", mi_error_last());
    cr_assert_str_eq(b.ptr, "sealed");
    char *lease = NULL;
    cr_assert_eq(mi_azblob_lease_acquire(c, "a/b", 15, NULL, &lease), 0, "%s", mi_error_last());
    cr_assert_eq(mi_azblob_lease_release(c, "a/b", lease), 0, "%s", mi_error_last());
    cr_assert_eq(stats_count("/oauth2/v2.0/token"), 1, "the token is reused across calls");
    mi_azblob_free(c);

    /* A token for another audience is refused, with the role hint. */
    const char *wrong =
        "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL2V4YW1wbGUuY29tIiwiaXNzIjoiaH"
        "R0cHM6Ly9zdHMud2luZG93cy5uZXQvdC8iLCJuYmYiOjEsImV4cCI6NDEwMjQ0NDgwMH0.c2ln";
    struct mi_azblob_config bad = cfg;
    bad.token = static_token;
    bad.token_ctx = (void *)wrong;
    cr_assert_eq(mi_azblob_new(&c, &bad), 0);
    cr_assert_eq(mi_azblob_get_buf(c, "a/b", &b, 100), MI_EAUTH);
    cr_assert(strstr(mi_error_last(), "Storage Blob Data Contributor"), "%s", mi_error_last());
    cr_assert(!strstr(mi_error_last(), "eyJ"), "token leaked: %s", mi_error_last());
    mi_azblob_free(c);

    /* The plan store over the same federation, configured as the agent configures it. */
    struct seen seen = {0};
    struct mi_store_config sc = {.endpoint = ep,
                                 .container = "oauth-store",
                                 .client_id = CLIENT,
                                 .tenant_id = TENANT,
                                 .authority_host = authority,
                                 .id_token_request_url = id_url,
                                 .id_token_request_token = REQTOK,
                                 .ca_file = cert,
                                 .on_secret = on_token,
                                 .on_secret_ctx = &seen,
                                 .retry = &fast};
    struct mi_store *s = NULL;
    cr_assert_eq(mi_store_open(&s, &sc, "acme/infra"), 0, "%s", mi_error_last());
    char *plan = mi_xasprintf("%s/p.plan", dir), *back = mi_xasprintf("%s/back.plan", dir);
    cr_assert_eq(mi_fs_write_file_atomic(plan, "plan", 4, 0600), 0);
    struct mi_seal_keyring keys;
    cr_assert_eq(
        mi_seal_keyring_from_base64(&keys, "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=", NULL),
        0);
    struct mi_seal_binding bind = {0};
    bind.environment = mi_xstrdup("production");
    bind.pr = 3;
    bind.head_sha = mi_xstrdup("3333333333333333333333333333333333333333");
    bind.config_fingerprint = mi_xstrdup("f");
    bind.terraform_version = mi_xstrdup("1.9.5");
    cr_assert_eq(mi_store_put(s, &keys, &bind, plan), 0, "%s", mi_error_last());
    struct mi_seal_expect want = {"acme/infra", "production", 3, bind.head_sha, NULL};
    cr_assert_eq(mi_store_get(s, &keys, &want, back, 0, NULL), 0, "%s", mi_error_last());
    struct mi_store_lock *lock = NULL;
    cr_assert_eq(mi_store_lock(s, "production", NULL, &lock), 0, "%s", mi_error_last());
    cr_assert_eq(mi_store_unlock(lock), 0, "%s", mi_error_last());
    cr_assert_eq(seen.calls, 2, "the ID token and the access token are offered for masking");
    mi_seal_binding_release(&bind);
    mi_store_free(s);
    free(plan);
    free(back);

    /* A bearer token is never sent over plain HTTP. */
    bad.endpoint = "http://127.0.0.1:1/devstoreaccount1";
    cr_assert_eq(mi_azblob_new(&c, &bad), MI_EUSAGE);

    mi_buf_release(&b);
    free(lease);
    mi_azure_ad_free(ad);
    mi_test_server_stop(az);
    free(ep);
    free(cert);
    free(key);
    mi_test_rmtree(dir);
    free(dir);
}
