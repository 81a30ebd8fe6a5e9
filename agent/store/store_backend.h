/*
 * store_backend.h - what a plan-store backend provides (store_azure.c, store_local.c);
 * internal to agent/store/. store.c owns the policy (names, statuses, verification, the lock
 * renewal thread); a backend only moves bytes and metadata and holds or frees locks.
 *
 * Rules:
 *  - Metadata is a list of name/value pairs (the type of remote/azure_blob.h serves both
 *    backends): names are C# identifiers, values printable ASCII.
 *  - Every function returns 0 or a negative MI_E* code with the message set, naming the
 *    object. MI_ENOTFOUND when the object does not exist, MI_ECONFLICT when held by someone
 *    else or changed concurrently.
 *  - lock_renew may be called from the lock's renewal thread while the store's thread uses
 *    the backend: backends must allow that.
 */
#ifndef MI_STORE_BACKEND_H
#define MI_STORE_BACKEND_H

#include "remote/azure_blob.h"
#include "store/seal.h"
#include "store/store.h"

/* Decides, atomically with the write, whether an existing object may be replaced (0) or not
 * (a negative code with the message set). existing is NULL when there is none. */
typedef int (*mi_store_replace_fn)(void *ctx, const struct mi_azblob_meta *existing);
/* Edits metadata in place, atomically with its write; a negative code aborts the update. */
typedef int (*mi_store_edit_fn)(void *ctx, struct mi_azblob_meta *meta);
/* One listed object; a negative code stops the listing. */
typedef int (*mi_store_each_fn)(void *ctx, const char *name, long long size,
                                const struct mi_azblob_meta *meta);

struct mi_store_backend_ops {
    int (*put)(void *be, const char *name, struct mi_sealer *sealer,
               const struct mi_azblob_meta *meta, mi_store_replace_fn may_replace, void *ctx);
    int (*head)(void *be, const char *name, struct mi_azblob_meta *meta, long long *size);
    int (*get)(void *be, const char *name, const struct mi_azblob_sink *sink);
    int (*update_meta)(void *be, const char *name, mi_store_edit_fn edit, void *ctx);
    int (*list)(void *be, const char *prefix, mi_store_each_fn each, void *ctx);
    int (*remove)(void *be, const char *name);

    /* Tries once; MI_ECONFLICT when held. *handle is the backend's (freed by lock_release). */
    int (*lock_try)(void *be, const char *name, int lease_s, const char *holder, void **handle);
    int (*lock_renew)(void *be, void *handle);
    int (*lock_release)(void *be, void *handle);
    int (*lock_info)(void *be, const char *name, struct mi_store_lock_info *out);
    int (*lock_break)(void *be, const char *name);

    void (*free)(void *be);

    /* Writes a small unsealed object (a plan's companion summary) whole, replacing any
     * previous one; readers see the old object or the new one, never a part. Read it back
     * with get and delete it with remove. */
    int (*put_small)(void *be, const char *name, const void *data, size_t len);
};

struct mi_store_backend {
    const struct mi_store_backend_ops *ops;
    void *be;
    char *description;
    int remote;
};

int mi_store_backend_azure(struct mi_store_backend *out, const struct mi_store_config *cfg);
int mi_store_backend_local(struct mi_store_backend *out, const char *dir);

/* The backend and repository of an open store (borrowed), for the store's other files
 * (store_summary.c); defined in store.c, which owns struct mi_store. */
struct mi_store_backend *mi_store_backend_of(struct mi_store *s);
const char *mi_store_repository_of(const struct mi_store *s);

/* The suffix of a plan's companion summary: "<plan name>" MI_STORE_SUMMARY_SUFFIX. The
 * backends' remove removes it with its plan. */
#define MI_STORE_SUMMARY_SUFFIX ".summary.json"

#endif
