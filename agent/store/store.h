/*
 * store.h - the plan store (DESIGN.md section 7): sealed plans kept per repository,
 * environment, pull request and head commit, the environment lock, and the record of which
 * plan was applied. Two backends behave the same: an Azure Blob container, and a local
 * directory (file://PATH, the default when no storage account is configured).
 *
 * Names (blob names, or paths under the directory):
 *     <repository>/<environment>/pr-<n>/<head-sha>.tfplan.sealed   a sealed plan
 *     <repository>/<environment>/.lock                             the environment's lock
 * A plan's binding is also kept as metadata (blob metadata, or a .json file beside it), with
 * its status: sealed, applied (never applied again) or failed.
 *
 * Rules:
 *  - One store handle serves one repository. Operations that read or write plaintext take a
 *    keyring; listing, locks and pruning do not need the key.
 *  - mi_store_get verifies everything (seal.h) before the plan appears at plan_path; on any
 *    failure nothing is written there. An applied plan is refused unless asked for.
 *  - A lock is a blob lease (Azure), which a background thread renews while held, or an
 *    open-file lock (local: fcntl F_OFD_SETLK, flock's semantics). mi_store_unlock releases
 *    it; a holder that dies without releasing leaves an Azure lease that expires after its
 *    duration (15-60 s); a local lock ends with its process. Locks are broken only by
 *    mi_store_break_lock.
 *  - Errors: MI_ENOTFOUND (no such plan), MI_EREFUSED (does not verify, already applied),
 *    MI_ECONFLICT (locked by someone else, concurrent change), MI_EAUTH, MI_EUSAGE, MI_ERR;
 *    messages name the plan (environment, PR, commit) and the store. No secret appears.
 *  - Returned structures are owned by the caller (the _release functions free them).
 *  - Nothing here prints. A store handle is used from one thread (plus its locks' renewal
 *    threads, which this module manages).
 */
#ifndef MI_STORE_H
#define MI_STORE_H

#include "remote/http.h"
#include "store/seal.h"

#define MI_STORE_DEFAULT_CONTAINER "mlinfra-plans"
#define MI_STORE_DEFAULT_DIR ".mlinfra/plans"

struct mi_store_config {
    /* "file://PATH" for a local directory; NULL: Azure when account or endpoint is set, the
     * local default directory otherwise. */
    const char *url;
    const char *local_default; /* NULL: MI_STORE_DEFAULT_DIR (relative to the cwd) */

    const char *account;        /* AZURE_STORAGE_ACCOUNT */
    const char *endpoint;       /* AZURE_STORAGE_BLOB_ENDPOINT (overrides the account's) */
    const char *container;      /* AZURE_STORAGE_CONTAINER; NULL: MI_STORE_DEFAULT_CONTAINER */
    const char *shared_key;     /* AZURE_STORAGE_KEY */
    const char *sas_token;      /* AZURE_STORAGE_SAS_TOKEN */
    const char *client_id;      /* AZURE_CLIENT_ID, with tenant_id: OIDC federation */
    const char *tenant_id;      /* AZURE_TENANT_ID */
    const char *authority_host; /* AZURE_AUTHORITY_HOST */
    const char *id_token_request_url;   /* ACTIONS_ID_TOKEN_REQUEST_URL */
    const char *id_token_request_token; /* ACTIONS_ID_TOKEN_REQUEST_TOKEN */
    const char *ca_file;                /* NULL: the system's CAs */
    /* Called with each token obtained by OIDC federation, to mask it (util/log.h). It may run
     * on a lock's renewal thread. */
    void (*on_secret)(void *ctx, const char *secret);
    void *on_secret_ctx;

    const struct mi_http_retry *retry; /* NULL: http.h's defaults */
    long timeout_ms;                   /* per request; 0: http.h's default */
    /* Plans larger than this go up as blocks of this size; 0: 8 MiB. */
    size_t block_size;
    /* Page size of listings; 0: the service's default. */
    int list_page_size;
};

/* Fills cfg from the environment (MLINFRA_STORE and the variables named above); the strings
 * are borrowed from the environment. */
void mi_store_config_from_env(struct mi_store_config *cfg);

struct mi_store;

int mi_store_open(struct mi_store **out, const struct mi_store_config *cfg, const char *repository);
/* "azure blob container 'c' at https://..." or "local directory '/path'" (borrowed). */
const char *mi_store_describe(const struct mi_store *s);
/* 1 for the Azure backend, 0 for the local one. */
int mi_store_is_remote(const struct mi_store *s);
void mi_store_free(struct mi_store *s);

/* The name of a plan in the store (caller frees); NULL when a part is not valid. */
char *mi_store_plan_name(const char *repository, const char *environment, long long pr,
                         const char *head_sha);

/* --- plans ----------------------------------------------------------------------------- */

enum mi_store_status { MI_STORE_SEALED, MI_STORE_APPLIED, MI_STORE_FAILED };

struct mi_store_entry {
    char *name;
    struct mi_seal_binding binding; /* from metadata (list, stat) or the verified header (get) */
    enum mi_store_status status;
    char *status_at;     /* when it was applied or failed */
    char *status_by;     /* who applied it (run id or URL) */
    char *status_detail; /* why it failed */
    long long size;      /* sealed bytes; -1 unknown */
};

void mi_store_entry_release(struct mi_store_entry *e);
const char *mi_store_status_name(enum mi_store_status s);

struct mi_store_list {
    struct mi_store_entry *items;
    size_t len;
};

void mi_store_list_release(struct mi_store_list *l);

/* Seals plan_path and stores it. The binding's repository must be the store's (NULL: set to
 * it); a NULL created_at becomes now and a NULL plan_sha256 is computed (both written back
 * into *binding). Replacing a plan already applied is refused (MI_EREFUSED). */
int mi_store_put(struct mi_store *s, const struct mi_seal_keyring *keys,
                 struct mi_seal_binding *binding, const char *plan_path);

/* Fetches the plan expect names (environment, pr and head_sha are required; a
 * config_fingerprint, when given, must match), verifies it and writes it to plan_path.
 * An applied plan is refused unless allow_applied. out (may be NULL) gets the entry. */
int mi_store_get(struct mi_store *s, const struct mi_seal_keyring *keys,
                 const struct mi_seal_expect *expect, const char *plan_path, int allow_applied,
                 struct mi_store_entry *out);

/* The entry of one plan, from its metadata (no key needed). */
int mi_store_stat(struct mi_store *s, const char *environment, long long pr, const char *head_sha,
                  struct mi_store_entry *out);

/* Every plan of the repository (environment NULL) or of one environment, newest first. */
int mi_store_list(struct mi_store *s, const char *environment, struct mi_store_list *out);

/* Marks the plan applied by `by` (a run id or URL). A plan already applied is refused
 * (MI_EREFUSED), so one plan is never applied twice. */
int mi_store_mark_applied(struct mi_store *s, const char *environment, long long pr,
                          const char *head_sha, const char *by);
/* Marks the plan failed, with a short reason (kept to printable ASCII, 200 characters). */
int mi_store_mark_failed(struct mi_store *s, const char *environment, long long pr,
                         const char *head_sha, const char *by, const char *reason);
int mi_store_remove(struct mi_store *s, const char *environment, long long pr,
                    const char *head_sha);

struct mi_store_prune_options {
    long long older_than_s; /* remove plans created longer ago than this; 0: not by age */
    /* Optional: sets *closed to 1 when the pull request is closed (its plans are removed
     * whatever their age). Returns 0 or an error, which stops the prune. */
    int (*is_closed)(void *ctx, const char *environment, long long pr, int *closed);
    void *ctx;
    const char *environment; /* NULL: every environment */
    int dry_run;             /* report what would go, remove nothing */
};

/* Removes old plans; removed (may be NULL) lists them. */
int mi_store_prune(struct mi_store *s, const struct mi_store_prune_options *o,
                   struct mi_store_list *removed);

/* --- the environment lock --------------------------------------------------------------- */

struct mi_store_lock_options {
    long wait_ms;       /* how long to wait for a lock held by someone else; 0: do not wait */
    int lease_s;        /* Azure lease duration, 15..60; 0: 30 */
    long poll_ms;       /* how often to try again while waiting; 0: 1000 */
    const char *holder; /* who is taking it (shown to others): a run URL or id; NULL: pid */
};

struct mi_store_lock;

/* Takes the environment's lock, waiting up to o->wait_ms. MI_ECONFLICT names the holder. */
int mi_store_lock(struct mi_store *s, const char *environment,
                  const struct mi_store_lock_options *o, struct mi_store_lock **out);
/* 0 while the lock is held; MI_ECONFLICT when renewing it failed (it may have been broken or
 * expired), with the reason. Check before an irreversible step. */
int mi_store_lock_check(struct mi_store_lock *l);
/* Releases the lock and frees l (NULL is a no-op). An error says the release failed (the
 * lease then expires by itself) or that the lock had been lost while held. */
int mi_store_unlock(struct mi_store_lock *l);

struct mi_store_lock_info {
    int locked;
    char *holder; /* who took it, when known */
    char *since;  /* when */
    char *state;  /* Azure's lease state, or "held"/"free" */
};

void mi_store_lock_info_release(struct mi_store_lock_info *i);
int mi_store_lock_info(struct mi_store *s, const char *environment, struct mi_store_lock_info *out);
/* Breaks the environment's lock at once (an operator's decision: the holder is gone). */
int mi_store_break_lock(struct mi_store *s, const char *environment);

/* --- plan summaries (store_summary.c) ------------------------------------------------------
 * A small unsealed companion object beside a sealed plan, "<plan name>.summary.json": the
 * plan's change summary (terraform/plandiff.h), which holds addresses and action words only,
 * never values, so it needs no key. It is kept to compare the next plan of the same pull
 * request with this one. mi_store_remove and mi_store_prune remove it with its plan (the
 * backends' remove does). The text is stored as given; the caller parses what it reads.
 * Errors: MI_ENOTFOUND (no summary), MI_EUSAGE (an invalid name part), MI_ERR (larger than
 * MI_STORE_SUMMARY_MAX when read), and the backend's. */

#define MI_STORE_SUMMARY_MAX ((size_t)64 * 1024 * 1024)

/* Stores json (len bytes) as the summary of the plan environment/pr/head_sha, replacing any. */
int mi_store_put_summary(struct mi_store *s, const char *environment, long long pr,
                         const char *head_sha, const char *json, size_t len);
/* Appends the summary of the plan environment/pr/head_sha to out (nothing on failure). */
int mi_store_get_summary(struct mi_store *s, const char *environment, long long pr,
                         const char *head_sha, mi_buf *out);

#endif
