#include "azuretest.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testsupport.h"
#include "util/error.h"

const struct mi_http_retry mi_azuretest_fast_retry = {
    .max_attempts = 3, .base_delay_ms = 10, .max_delay_ms = 50};

static struct mi_test_server *shared;

void mi_azuretest_shared_start(void)
{
    shared = mi_test_azurite_start(NULL);
    char port[16];
    snprintf(port, sizeof(port), "%d", shared->port);
    setenv("MI_TEST_AZURITE_PORT", port, 1);
}

void mi_azuretest_shared_stop(void)
{
    mi_test_server_stop(shared);
    shared = NULL;
}

int mi_azuretest_port(void)
{
    const char *p = getenv("MI_TEST_AZURITE_PORT");
    cr_assert(p && *p, "no shared Azurite: the test file must call mi_azuretest_shared_start "
                       "from its PRE_ALL hook");
    return (int)strtol(p, NULL, 10);
}

char *mi_azuretest_endpoint(void)
{
    return mi_xasprintf("http://127.0.0.1:%d/%s", mi_azuretest_port(), MI_AZURITE_ACCOUNT);
}

static void append_escaped(mi_buf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            mi_buf_addch(out, (char)*p);
        } else {
            mi_buf_addch(out, '%');
            mi_buf_addch(out, hex[*p >> 4]);
            mi_buf_addch(out, hex[*p & 15]);
        }
    }
}

char *mi_azuretest_container_sas(const char *container, const char *permissions, const char *expiry)
{
    cr_assert(sodium_init() >= 0);
    /* signedPermissions, signedStart, signedExpiry, canonicalizedResource, signedIdentifier,
     * signedIP, signedProtocol, signedVersion, signedResource, signedSnapshotTime,
     * signedEncryptionScope, rscc, rscd, rsce, rscl, rsct. */
    mi_buf sts = MI_BUF_INIT;
    mi_buf_addf(&sts, "%s\n\n%s\n/blob/%s/%s\n\n\n\n%s\nc\n\n\n\n\n\n\n", permissions, expiry,
                MI_AZURITE_ACCOUNT, container, MI_AZBLOB_API_VERSION);
    unsigned char key[64];
    size_t klen = 0;
    cr_assert(sodium_base642bin(key, sizeof(key), MI_AZURITE_KEY, strlen(MI_AZURITE_KEY), NULL,
                                &klen, NULL, sodium_base64_VARIANT_ORIGINAL) == 0);
    unsigned char mac[32];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, klen);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)sts.ptr, sts.len);
    crypto_auth_hmacsha256_final(&st, mac);
    char b64[64];
    sodium_bin2base64(b64, sizeof(b64), mac, sizeof(mac), sodium_base64_VARIANT_ORIGINAL);
    mi_buf tok = MI_BUF_INIT;
    mi_buf_addf(&tok, "sv=%s&sr=c&sp=%s&se=", MI_AZBLOB_API_VERSION, permissions);
    append_escaped(&tok, expiry);
    mi_buf_adds(&tok, "&sig=");
    append_escaped(&tok, b64);
    mi_buf_release(&sts);
    return mi_buf_detach(&tok);
}

struct mi_azblob *mi_azuretest_client(const char *endpoint, const char *container)
{
    char *ep = endpoint ? mi_xstrdup(endpoint) : mi_azuretest_endpoint();
    struct mi_azblob_config cfg = {.endpoint = ep,
                                   .container = container,
                                   .shared_key = MI_AZURITE_KEY,
                                   .retry = &mi_azuretest_fast_retry,
                                   .timeout_ms = 60000};
    struct mi_azblob *c = NULL;
    cr_assert_eq(mi_azblob_new(&c, &cfg), 0, "%s", mi_error_last());
    cr_assert_eq(mi_azblob_create_container(c), 0, "%s", mi_error_last());
    free(ep);
    return c;
}

struct mi_azblob *mi_azuretest_sas_client(const char *endpoint, const char *container,
                                          const char *sas)
{
    char *ep = endpoint ? mi_xstrdup(endpoint) : mi_azuretest_endpoint();
    struct mi_azblob_config cfg = {.endpoint = ep,
                                   .container = container,
                                   .sas_token = sas,
                                   .retry = &mi_azuretest_fast_retry,
                                   .timeout_ms = 60000};
    struct mi_azblob *c = NULL;
    cr_assert_eq(mi_azblob_new(&c, &cfg), 0, "%s", mi_error_last());
    free(ep);
    return c;
}
