/*
 * azure_ad.h - an Azure AD (Microsoft Entra ID) access token for Azure Storage, obtained on a
 * GitHub Actions runner by OIDC federation, without any stored secret:
 *
 *   1. GitHub's ID token: GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=api://AzureADTokenExchange
 *      with "Authorization: Bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN" (the workflow needs
 *      `permissions: id-token: write`).
 *   2. The client-assertion grant: POST {authority}/{tenant}/oauth2/v2.0/token with client_id,
 *      scope https://storage.azure.com/.default, grant_type=client_credentials,
 *      client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer and the
 *      ID token as client_assertion. The app registration needs a federated credential for
 *      this repository.
 *
 * Rules:
 *  - Tokens are cached and refreshed five minutes before they expire. mi_azure_ad_token is
 *    thread-safe (the plan store's lock renewal thread may refresh a token); it returns a copy
 *    the caller frees (and should wipe).
 *  - on_token, when set, is called with every new secret (the ID token and the access token)
 *    so the command can mask it (util/log.h). It runs on whichever thread refreshed the token,
 *    under this module's lock.
 *  - Tokens never appear in error messages; Azure AD's own error (an AADSTS code and its
 *    first line) does, with what to check.
 *  - Secrets travel only over HTTPS, except to a loopback address (test doubles).
 *  - Nothing here prints; mi_azure_ad_config_from_env is the only reader of the environment.
 */
#ifndef MI_AZURE_AD_H
#define MI_AZURE_AD_H

#include "remote/http.h"

#define MI_AZURE_AD_DEFAULT_AUTHORITY "https://login.microsoftonline.com"
#define MI_AZURE_AD_GITHUB_AUDIENCE "api://AzureADTokenExchange"
#define MI_AZURE_AD_STORAGE_SCOPE "https://storage.azure.com/.default"

struct mi_azure_ad_config {
    const char *id_token_request_url;   /* ACTIONS_ID_TOKEN_REQUEST_URL */
    const char *id_token_request_token; /* ACTIONS_ID_TOKEN_REQUEST_TOKEN */
    const char *client_id;              /* AZURE_CLIENT_ID */
    const char *tenant_id;              /* AZURE_TENANT_ID */
    const char *authority_host;         /* AZURE_AUTHORITY_HOST; NULL: the public cloud's */
    const char *audience;               /* NULL: MI_AZURE_AD_GITHUB_AUDIENCE */
    const char *scope;                  /* NULL: MI_AZURE_AD_STORAGE_SCOPE */
    const char *ca_file;                /* NULL: the system's CAs */
    const struct mi_http_retry *retry;  /* NULL: http.h's defaults */
    void (*on_token)(void *ctx, const char *secret);
    void *on_token_ctx;
};

/* Fills cfg with borrowed getenv() values (the strings live as long as the environment). */
void mi_azure_ad_config_from_env(struct mi_azure_ad_config *cfg);

struct mi_azure_ad;

/* Checks the configuration (MI_EUSAGE / MI_EAUTH saying what is missing); fetches nothing. */
int mi_azure_ad_new(struct mi_azure_ad **out, const struct mi_azure_ad_config *cfg);
/* A valid access token (caller frees). */
int mi_azure_ad_token(struct mi_azure_ad *ad, char **token_out);
/* The same as an azure_blob.h token callback: ctx is the mi_azure_ad. */
int mi_azure_ad_token_fn(void *ctx, char **token_out);
void mi_azure_ad_free(struct mi_azure_ad *ad);

#endif
