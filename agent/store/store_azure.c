/*
 * store_azure.c - the plan store in an Azure Blob container (store_backend.h).
 *
 * Sealed plans stream from the sealer straight into the request bodies: one Put Blob when the
 * sealed plan fits in a block, otherwise Put Block per block and a Put Block List that commits
 * them with the metadata. Memory stays at the sealer's chunk buffers whatever the plan size.
 * A retried request replays its body by rewinding the sealer to the block's start (seal.h
 * guarantees the same bytes). Locks are blob leases on the .lock blob.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "remote/azure_ad.h"
#include "remote/azure_blob.h"
#include "store/store_backend.h"
#include "util/error.h"
#include "util/banned.h"

struct azure_be {
    struct mi_azblob *c;
    struct mi_azure_ad *ad;
    size_t block_size;
    int page_size;
    int container_ready;
};

struct azure_lock {
    char *name;
    char *lease_id;
};

static int ensure_container(struct azure_be *a)
{
    if (a->container_ready)
        return 0;
    int rc = mi_azblob_create_container(a->c);
    /* A SAS or role scoped to the container may not create it, but the container may well
     * exist: carry on, and let the real operation report what is wrong. */
    if (rc == 0 || rc == MI_EAUTH) {
        a->container_ready = 1;
        return 0;
    }
    return rc;
}

/* --- streaming the sealer into request bodies ------------------------------------------- */

struct sealer_src {
    struct mi_sealer *s;
    long long limit; /* bytes of this body */
    long long sent;
};

static size_t src_read(void *ctx, char *buf, size_t len)
{
    struct sealer_src *src = ctx;
    long long left = src->limit - src->sent;
    if (left <= 0)
        return 0;
    size_t want = (long long)len < left ? len : (size_t)left;
    size_t got = 0;
    if (mi_sealer_read(src->s, buf, want, &got) < 0)
        return (size_t)-1;
    src->sent += (long long)got;
    return got;
}

static int src_rewind(void *ctx)
{
    struct sealer_src *src = ctx;
    src->sent = 0;
    return mi_sealer_rewind(src->s);
}

/* Whether the blob holds exactly what this run wrote: metadata (every non-empty value we sent,
 * and nothing else) and, when size >= 0, its length. A conditional write that fails its
 * condition (409/412) after a retry may have run into our own earlier attempt, whose answer
 * was lost in transit; this tells that case from a change by someone else. The metadata of a
 * plan names it exactly (its binding, the plan's SHA-256, when it was made, its status), so an
 * equal blob is the same plan. When it is not ours, the conflict's message is kept. */
static int holds_own_write(struct azure_be *a, const char *name, const struct mi_azblob_meta *meta,
                           long long size)
{
    char *why = mi_xstrdup(mi_error_last());
    int code = mi_error_last_code();
    struct mi_azblob_props now;
    int ours = mi_azblob_get_properties(a->c, name, &now) == 0;
    if (ours) {
        size_t sent = 0;
        for (size_t i = 0; i < meta->len; i++) {
            if (!meta->items[i].value || !*meta->items[i].value)
                continue;
            const char *v = mi_azblob_meta_get(&now.meta, meta->items[i].name);
            ours &= v && strcmp(v, meta->items[i].value) == 0;
            sent++;
        }
        ours &= now.meta.len == sent && (size < 0 || now.content_length == size);
        mi_azblob_props_release(&now);
    }
    if (!ours)
        mi_error_set(code, "%s", why);
    free(why);
    return ours;
}

static int az_put(void *be, const char *name, struct mi_sealer *sealer,
                  const struct mi_azblob_meta *meta, mi_store_replace_fn may_replace, void *ctx)
{
    struct azure_be *a = be;
    struct mi_azblob_props props = {0};
    char **ids = NULL;
    size_t nids = 0;
    int rc = ensure_container(a);
    if (rc < 0)
        return rc;
    /* What is there now decides whether it may be replaced; the write is then conditional on
     * it staying so (If-Match its ETag, or If-None-Match * when there was nothing). */
    rc = mi_azblob_get_properties(a->c, name, &props);
    if (rc < 0 && rc != MI_ENOTFOUND)
        return rc;
    int exists = rc == 0;
    if ((rc = may_replace(ctx, exists ? &props.meta : NULL)) < 0)
        goto done;
    struct mi_azblob_cond cond = {0};
    if (exists)
        cond.if_match = props.etag;
    else
        cond.if_none_match = "*";

    uint64_t total = mi_sealer_size(sealer);
    if (total <= a->block_size) {
        mi_sealer_mark(sealer);
        struct sealer_src src = {sealer, (long long)total, 0};
        struct mi_azblob_source body = {src_read, src_rewind, &src, (long long)total};
        rc = mi_azblob_put_stream(a->c, name, &body, meta, &cond);
    } else {
        size_t nblocks = (size_t)((total + a->block_size - 1) / a->block_size);
        ids = mi_xcalloc(nblocks, sizeof(*ids));
        for (uint64_t off = 0; off < total; off += a->block_size) {
            uint64_t len = total - off < a->block_size ? total - off : a->block_size;
            ids[nids] = mi_azblob_block_id((unsigned long)nids);
            mi_sealer_mark(sealer);
            struct sealer_src src = {sealer, (long long)len, 0};
            struct mi_azblob_source body = {src_read, src_rewind, &src, (long long)len};
            rc = mi_azblob_put_block(a->c, name, ids[nids], &body);
            nids++;
            if (rc < 0)
                goto done;
        }
        rc = mi_azblob_put_block_list(a->c, name, ids, nids, meta, &cond);
    }
    if (rc == MI_ECONFLICT && holds_own_write(a, name, meta, (long long)total))
        rc = 0;
    if (rc == MI_ECONFLICT)
        mi_error_prefix("the plan changed in the store while this run uploaded it (another run "
                        "stored the same plan at the same time); run again");
done:
    for (size_t i = 0; i < nids; i++)
        free(ids[i]);
    free(ids);
    mi_azblob_props_release(&props);
    return rc;
}

static void copy_meta(struct mi_azblob_meta *dst, const struct mi_azblob_meta *src)
{
    for (size_t i = 0; i < src->len; i++)
        mi_azblob_meta_set(dst, src->items[i].name, src->items[i].value);
}

static int az_head(void *be, const char *name, struct mi_azblob_meta *meta, long long *size)
{
    struct azure_be *a = be;
    struct mi_azblob_props props;
    int rc = mi_azblob_get_properties(a->c, name, &props);
    if (rc < 0)
        return rc;
    copy_meta(meta, &props.meta);
    *size = props.content_length;
    mi_azblob_props_release(&props);
    return 0;
}

static int az_get(void *be, const char *name, const struct mi_azblob_sink *sink)
{
    struct azure_be *a = be;
    return mi_azblob_get(a->c, name, sink, NULL);
}

/* Read, edit, write If-Match; a concurrent change (412) starts over with what is new. */
static int az_update_meta(void *be, const char *name, mi_store_edit_fn edit, void *ctx)
{
    struct azure_be *a = be;
    int rc = 0;
    for (int attempt = 0; attempt < 5; attempt++) {
        struct mi_azblob_props props;
        if ((rc = mi_azblob_get_properties(a->c, name, &props)) < 0)
            return rc;
        rc = edit(ctx, &props.meta);
        if (rc == 0) {
            struct mi_azblob_cond cond = {.if_match = props.etag};
            rc = mi_azblob_set_metadata(a->c, name, &props.meta, &cond);
            if (rc == MI_ECONFLICT && holds_own_write(a, name, &props.meta, -1))
                rc = 0;
        }
        mi_azblob_props_release(&props);
        if (rc != MI_ECONFLICT)
            return rc;
    }
    return mi_error_prefix("metadata kept changing under this update");
}

static int az_list(void *be, const char *prefix, mi_store_each_fn each, void *ctx)
{
    struct azure_be *a = be;
    char *marker = NULL;
    int rc = 0;
    do {
        struct mi_azblob_page page;
        if ((rc = mi_azblob_list(a->c, prefix, marker, a->page_size, &page)) < 0) {
            /* A container that does not exist yet holds no plans. */
            if (rc == MI_ENOTFOUND && !marker)
                rc = 0;
            break;
        }
        for (size_t i = 0; i < page.len && rc == 0; i++)
            rc = each(ctx, page.items[i].name, page.items[i].content_length, &page.items[i].meta);
        free(marker);
        marker = page.next_marker ? mi_xstrdup(page.next_marker) : NULL;
        mi_azblob_page_release(&page);
    } while (marker && rc == 0);
    free(marker);
    return rc;
}

static int az_remove(void *be, const char *name)
{
    struct azure_be *a = be;
    int rc = mi_azblob_delete(a->c, name, NULL);
    if (rc < 0)
        return rc;
    /* The plan's companion summary goes with it. It is not secret and is only read to
     * compare plans, so one that is missing or cannot be deleted is no failure. */
    char *sname = mi_xasprintf("%s" MI_STORE_SUMMARY_SUFFIX, name);
    if (mi_azblob_delete(a->c, sname, NULL) < 0)
        mi_error_clear();
    free(sname);
    return 0;
}

static int az_put_small(void *be, const char *name, const void *data, size_t len)
{
    struct azure_be *a = be;
    int rc = ensure_container(a);
    if (rc < 0)
        return rc;
    return mi_azblob_put(a->c, name, data, len, NULL, NULL);
}

/* --- locks ------------------------------------------------------------------------------ */

static int az_lock_try(void *be, const char *name, int lease_s, const char *holder, void **handle)
{
    struct azure_be *a = be;
    char *lease = NULL;
    int rc = ensure_container(a);
    if (rc < 0)
        return rc;
    rc = mi_azblob_lease_acquire(a->c, name, lease_s, NULL, &lease);
    if (rc == MI_ENOTFOUND) {
        /* The first lock of an environment: create its lock blob. Another run may be doing
         * the same at this moment; whoever's blob it is, it can be leased. */
        struct mi_azblob_cond only_new = {.if_none_match = "*"};
        rc = mi_azblob_put(a->c, name, "", 0, NULL, &only_new);
        if (rc < 0 && rc != MI_ECONFLICT)
            return rc;
        rc = mi_azblob_lease_acquire(a->c, name, lease_s, NULL, &lease);
    }
    if (rc < 0)
        return rc;
    /* Say who holds it, for whoever finds it locked. Informational: a failure here does not
     * undo the lock. */
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    struct mi_azblob_meta m = MI_AZBLOB_META_INIT;
    mi_azblob_meta_set(&m, "holder", holder);
    mi_azblob_meta_set(&m, "since", when);
    struct mi_azblob_cond with = {.lease_id = lease};
    mi_azblob_set_metadata(a->c, name, &m, &with);
    mi_azblob_meta_release(&m);
    struct azure_lock *l = mi_xcalloc(1, sizeof(*l));
    l->name = mi_xstrdup(name);
    l->lease_id = lease;
    *handle = l;
    return 0;
}

static int az_lock_renew(void *be, void *handle)
{
    struct azure_be *a = be;
    struct azure_lock *l = handle;
    return mi_azblob_lease_renew(a->c, l->name, l->lease_id);
}

static int az_lock_release(void *be, void *handle)
{
    struct azure_be *a = be;
    struct azure_lock *l = handle;
    int rc = mi_azblob_lease_release(a->c, l->name, l->lease_id);
    free(l->name);
    free(l->lease_id);
    free(l);
    return rc;
}

static int az_lock_info(void *be, const char *name, struct mi_store_lock_info *out)
{
    struct azure_be *a = be;
    struct mi_azblob_props props;
    memset(out, 0, sizeof(*out));
    int rc = mi_azblob_get_properties(a->c, name, &props);
    if (rc == MI_ENOTFOUND) {
        out->state = mi_xstrdup("free");
        return 0;
    }
    if (rc < 0)
        return rc;
    const char *st = props.lease_state ? props.lease_state : "available";
    out->locked = strcmp(st, "leased") == 0 || strcmp(st, "breaking") == 0;
    out->state = mi_xstrdup(st);
    const char *h = mi_azblob_meta_get(&props.meta, "holder");
    const char *since = mi_azblob_meta_get(&props.meta, "since");
    out->holder = h ? mi_xstrdup(h) : NULL;
    out->since = since ? mi_xstrdup(since) : NULL;
    mi_azblob_props_release(&props);
    return 0;
}

static int az_lock_break(void *be, const char *name)
{
    struct azure_be *a = be;
    struct mi_store_lock_info info;
    int rc = az_lock_info(be, name, &info);
    if (rc < 0)
        return rc;
    int locked = info.locked;
    mi_store_lock_info_release(&info);
    if (!locked)
        return mi_error_set(MI_ENOTFOUND, "store: '%s' is not locked", name);
    return mi_azblob_lease_break(a->c, name, 0, NULL);
}

static void az_free(void *be)
{
    struct azure_be *a = be;
    if (!a)
        return;
    mi_azblob_free(a->c);
    mi_azure_ad_free(a->ad);
    free(a);
}

static const struct mi_store_backend_ops azure_ops = {
    az_put,      az_head,       az_get,          az_update_meta, az_list,       az_remove,
    az_lock_try, az_lock_renew, az_lock_release, az_lock_info,   az_lock_break, az_free,
    az_put_small,
};

int mi_store_backend_azure(struct mi_store_backend *out, const struct mi_store_config *cfg)
{
    memset(out, 0, sizeof(*out));
    struct azure_be *a = mi_xcalloc(1, sizeof(*a));
    a->block_size = cfg->block_size ? cfg->block_size : 8u * 1024u * 1024u;
    a->page_size = cfg->list_page_size;
    char *endpoint =
        cfg->endpoint ? mi_xstrdup(cfg->endpoint) : mi_azblob_endpoint_for_account(cfg->account);
    struct mi_azblob_config bc = {.endpoint = endpoint,
                                  .account = cfg->account,
                                  .container =
                                      cfg->container ? cfg->container : MI_STORE_DEFAULT_CONTAINER,
                                  .shared_key = cfg->shared_key,
                                  .sas_token = cfg->sas_token,
                                  .ca_file = cfg->ca_file,
                                  .retry = cfg->retry,
                                  .timeout_ms = cfg->timeout_ms};
    int rc = 0;
    if (!cfg->shared_key && !cfg->sas_token && (cfg->client_id || cfg->tenant_id)) {
        struct mi_azure_ad_config ac = {.id_token_request_url = cfg->id_token_request_url,
                                        .id_token_request_token = cfg->id_token_request_token,
                                        .client_id = cfg->client_id,
                                        .tenant_id = cfg->tenant_id,
                                        .authority_host = cfg->authority_host,
                                        .ca_file = cfg->ca_file,
                                        .retry = cfg->retry,
                                        .on_token = cfg->on_secret,
                                        .on_token_ctx = cfg->on_secret_ctx};
        if ((rc = mi_azure_ad_new(&a->ad, &ac)) < 0)
            goto fail;
        bc.token = mi_azure_ad_token_fn;
        bc.token_ctx = a->ad;
    }
    if ((rc = mi_azblob_new(&a->c, &bc)) < 0)
        goto fail;
    out->ops = &azure_ops;
    out->be = a;
    out->remote = 1;
    out->description = mi_xasprintf("azure blob container '%s' at %s", bc.container, endpoint);
    free(endpoint);
    return 0;
fail:
    mi_error_prefix("store");
    free(endpoint);
    az_free(a);
    return rc;
}
