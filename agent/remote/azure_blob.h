/*
 * azure_blob.h - the parts of the Azure Blob Storage REST API the plan store needs, over
 * remote/http.h, with the API version pinned (MI_AZBLOB_API_VERSION).
 *
 * Rules:
 *  - One client talks to one container. Authorisation is exactly one of: Shared Key (the
 *    account key signs every request, canonicalised as Azure documents it), a SAS token
 *    (appended to every URL), or a bearer token from a callback (Azure AD, see azure_ad.h).
 *  - Every call is retried on transport errors, timeouts, 408/429/500/502/503/504 (Azure's
 *    "server busy" is a 503) with backoff, as http.h does; streamed bodies are retried only
 *    through their rewind/reset hooks.
 *  - Errors: MI_ENOTFOUND (404), MI_EAUTH (401/403, with what to check for the auth in use),
 *    MI_ECONFLICT (409 lease held / blob exists, 412 condition or lease id), MI_ERR otherwise.
 *    Messages name the operation, container and blob and carry Azure's error code and message;
 *    they never contain a key, a SAS token or a bearer token (URLs lose their query string).
 *  - Metadata names are C# identifiers, values printable ASCII without surrounding or
 *    repeated spaces (as Azure's signing rules need); an empty value is not stored. Names
 *    read back are lower-case.
 *  - Structures returned through out-parameters are owned by the caller, who releases them
 *    with the matching _release. Nothing here prints or logs. A client may be used from
 *    several threads at once (each call is independent; the token callback must be
 *    thread-safe).
 */
#ifndef MI_AZURE_BLOB_H
#define MI_AZURE_BLOB_H

#include <stddef.h>

#include "remote/http.h"

/* Supported by Azure Storage and by Azurite 3.35. */
#define MI_AZBLOB_API_VERSION "2025-01-05"

/* Returns a bearer token (caller frees) or a negative MI_E* code with the message set. */
typedef int (*mi_azblob_token_fn)(void *ctx, char **token_out);

struct mi_azblob_config {
    /* Blob service endpoint: "https://ACCOUNT.blob.core.windows.net" or path-style
     * "http://127.0.0.1:10000/devstoreaccount1" (Azurite); no trailing slash needed. */
    const char *endpoint;
    const char *account;    /* for Shared Key; NULL: the first label of the endpoint's host,
                               or its first path segment for a path-style endpoint */
    const char *container;  /* required */
    const char *shared_key; /* base64 account key */
    const char *sas_token;  /* query string, with or without a leading '?' */
    mi_azblob_token_fn token;
    void *token_ctx;
    const char *ca_file;               /* PEM CA bundle for HTTPS; NULL: the system's */
    const struct mi_http_retry *retry; /* NULL: http.h's defaults */
    long timeout_ms;                   /* per request; 0: http.h's default */
};

struct mi_azblob;

int mi_azblob_new(struct mi_azblob **out, const struct mi_azblob_config *cfg);
void mi_azblob_free(struct mi_azblob *c);
/* "https://ACCOUNT.blob.core.windows.net" (caller frees). */
char *mi_azblob_endpoint_for_account(const char *account);
/* Which authorisation the client uses: "shared key", "SAS token" or "bearer token". */
const char *mi_azblob_auth_name(const struct mi_azblob *c);

/* --- metadata ---------------------------------------------------------------------------- */

struct mi_azblob_kv {
    char *name;
    char *value;
};

struct mi_azblob_meta {
    struct mi_azblob_kv *items;
    size_t len;
};

#define MI_AZBLOB_META_INIT                                                                        \
    {                                                                                              \
        NULL, 0                                                                                    \
    }

/* Sets (replacing) name = value; both copied. */
void mi_azblob_meta_set(struct mi_azblob_meta *m, const char *name, const char *value);
/* The value for name (case-insensitive), borrowed, or NULL. */
const char *mi_azblob_meta_get(const struct mi_azblob_meta *m, const char *name);
void mi_azblob_meta_release(struct mi_azblob_meta *m);
/* 0 if every name and value is acceptable to Azure; MI_EUSAGE naming the offender. */
int mi_azblob_meta_validate(const struct mi_azblob_meta *m);

struct mi_azblob_props {
    long long content_length;
    char *etag;
    char *last_modified;  /* as Azure sends it (RFC 1123) */
    char *lease_state;    /* available, leased, expired, breaking, broken */
    char *lease_duration; /* infinite or fixed, while leased */
    struct mi_azblob_meta meta;
};

void mi_azblob_props_release(struct mi_azblob_props *p);

/* Preconditions of a write or delete; every field may be NULL. */
struct mi_azblob_cond {
    const char *if_match;      /* an ETag */
    const char *if_none_match; /* "*": only if the blob does not exist */
    const char *lease_id;      /* required when the blob is leased */
};

/* --- containers and blobs --------------------------------------------------------------- */

/* Creates the container; an existing one is fine. */
int mi_azblob_create_container(struct mi_azblob *c);

/* Put Blob from memory (up to 5000 MiB by the API; meant for small blobs). */
int mi_azblob_put(struct mi_azblob *c, const char *name, const void *data, size_t len,
                  const struct mi_azblob_meta *meta, const struct mi_azblob_cond *cond);

/* A streamed request body: read returns bytes (0 at end) or (size_t)-1 with the message
 * set; rewind goes back to the start of this body (for a retry). */
struct mi_azblob_source {
    size_t (*read)(void *ctx, char *buf, size_t len);
    int (*rewind)(void *ctx);
    void *ctx;
    long long size;
};

/* Put Blob with a streamed body of src->size bytes. */
int mi_azblob_put_stream(struct mi_azblob *c, const char *name, const struct mi_azblob_source *src,
                         const struct mi_azblob_meta *meta, const struct mi_azblob_cond *cond);
/* The block id for block number index: base64 of a fixed-width string, as Azure requires
 * all ids of a blob to have the same length (caller frees). */
char *mi_azblob_block_id(unsigned long index);
/* Put Block (up to 4000 MiB by the API). */
int mi_azblob_put_block(struct mi_azblob *c, const char *name, const char *block_id,
                        const struct mi_azblob_source *src);
/* Put Block List: commits the blocks, in order, as the blob's content. */
int mi_azblob_put_block_list(struct mi_azblob *c, const char *name, char *const *block_ids,
                             size_t n, const struct mi_azblob_meta *meta,
                             const struct mi_azblob_cond *cond);

/* A streamed response body: write gets each piece of a successful response; reset starts
 * over before a retry. */
struct mi_azblob_sink {
    int (*write)(void *ctx, const char *data, size_t len);
    int (*reset)(void *ctx);
    void *ctx;
};

/* Get Blob, streamed into sink; props (may be NULL) receives the blob's properties. */
int mi_azblob_get(struct mi_azblob *c, const char *name, const struct mi_azblob_sink *sink,
                  struct mi_azblob_props *props);
/* Get Blob into memory, at most max bytes (MI_ERR when larger). */
int mi_azblob_get_buf(struct mi_azblob *c, const char *name, mi_buf *out, size_t max);
/* Get Blob Properties (metadata included). */
int mi_azblob_get_properties(struct mi_azblob *c, const char *name, struct mi_azblob_props *out);
/* Set Blob Metadata: replaces all of the blob's metadata with meta. */
int mi_azblob_set_metadata(struct mi_azblob *c, const char *name, const struct mi_azblob_meta *meta,
                           const struct mi_azblob_cond *cond);
int mi_azblob_delete(struct mi_azblob *c, const char *name, const struct mi_azblob_cond *cond);

/* --- listing ----------------------------------------------------------------------------- */

struct mi_azblob_item {
    char *name;
    long long content_length;
    char *last_modified;
    char *etag;
    char *lease_state;
    struct mi_azblob_meta meta;
};

struct mi_azblob_page {
    struct mi_azblob_item *items;
    size_t len;
    char *next_marker; /* NULL on the last page */
};

/* One page of List Blobs under prefix (may be NULL), starting at marker (NULL: the first
 * page), at most max_results (0: the service's default of 5000), metadata included. */
int mi_azblob_list(struct mi_azblob *c, const char *prefix, const char *marker, int max_results,
                   struct mi_azblob_page *out);
void mi_azblob_page_release(struct mi_azblob_page *p);
/* Parses a List Blobs response body (exposed for tests and fuzzing). */
int mi_azblob_parse_list(struct mi_azblob_page *out, const char *xml, size_t len);

/* --- leases ------------------------------------------------------------------------------ */

/* Acquires a lease of duration_s (15..60, or -1 for infinite) with proposed_id (a UUID; NULL:
 * a random one). *lease_id_out (caller frees) is the lease id. MI_ECONFLICT when someone
 * else holds it. */
int mi_azblob_lease_acquire(struct mi_azblob *c, const char *name, int duration_s,
                            const char *proposed_id, char **lease_id_out);
int mi_azblob_lease_renew(struct mi_azblob *c, const char *name, const char *lease_id);
int mi_azblob_lease_release(struct mi_azblob *c, const char *name, const char *lease_id);
/* Breaks the lease; break_period_s 0 breaks it at once, -1 lets it run out. *remaining_s (may
 * be NULL) receives the seconds until it is broken. */
int mi_azblob_lease_break(struct mi_azblob *c, const char *name, int break_period_s,
                          int *remaining_s);

/* A random UUID (version 4), for lease ids (caller frees). */
char *mi_azblob_uuid(void);

#endif
