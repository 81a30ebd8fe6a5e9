/*
 * store.c - the plan store's policy over its backends (store_backend.h): names, metadata and
 * statuses, verified downloads, listing and pruning, and environment locks with their renewal
 * thread.
 */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/store_backend.h"
#include "util/cancel.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/banned.h"

#define PLAN_SUFFIX ".tfplan.sealed"
#define FORMAT_NAME "mlinfra-sealed-plan-1"

struct mi_store {
    struct mi_store_backend backend;
    char *repository;
    size_t block_size;
};

/* ============================================================================================
 * Configuration and opening
 * ========================================================================================== */

static const char *env_or_null(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

void mi_store_config_from_env(struct mi_store_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->url = env_or_null("MLINFRA_STORE");
    cfg->account = env_or_null("AZURE_STORAGE_ACCOUNT");
    cfg->endpoint = env_or_null("AZURE_STORAGE_BLOB_ENDPOINT");
    cfg->container = env_or_null("AZURE_STORAGE_CONTAINER");
    cfg->shared_key = env_or_null("AZURE_STORAGE_KEY");
    cfg->sas_token = env_or_null("AZURE_STORAGE_SAS_TOKEN");
    cfg->client_id = env_or_null("AZURE_CLIENT_ID");
    cfg->tenant_id = env_or_null("AZURE_TENANT_ID");
    cfg->authority_host = env_or_null("AZURE_AUTHORITY_HOST");
    cfg->id_token_request_url = env_or_null("ACTIONS_ID_TOKEN_REQUEST_URL");
    cfg->id_token_request_token = env_or_null("ACTIONS_ID_TOKEN_REQUEST_TOKEN");
}

int mi_store_open(struct mi_store **out, const struct mi_store_config *cfg, const char *repository)
{
    *out = NULL;
    if (!repository || !mi_seal_valid_repository(repository))
        return mi_error_set(MI_EUSAGE, "store: repository '%s' is not of the form owner/name",
                            repository ? repository : "");
    struct mi_store *s = mi_xcalloc(1, sizeof(*s));
    s->repository = mi_xstrdup(repository);
    s->block_size = cfg->block_size ? cfg->block_size : 8u * 1024u * 1024u;
    int rc;
    if (cfg->url) {
        if (strncmp(cfg->url, "file://", 7) != 0 || !cfg->url[7]) {
            rc = mi_error_set(MI_EUSAGE,
                              "store: '%s' is not a store URL (use file://PATH, or "
                              "AZURE_STORAGE_ACCOUNT for Azure)",
                              cfg->url);
        } else {
            rc = mi_store_backend_local(&s->backend, cfg->url + 7);
        }
    } else if (cfg->account || cfg->endpoint) {
        rc = mi_store_backend_azure(&s->backend, cfg);
    } else {
        rc = mi_store_backend_local(&s->backend,
                                    cfg->local_default ? cfg->local_default : MI_STORE_DEFAULT_DIR);
    }
    if (rc < 0) {
        free(s->repository);
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

const char *mi_store_describe(const struct mi_store *s)
{
    return s->backend.description;
}

int mi_store_is_remote(const struct mi_store *s)
{
    return s->backend.remote;
}

void mi_store_free(struct mi_store *s)
{
    if (!s)
        return;
    if (s->backend.ops)
        s->backend.ops->free(s->backend.be);
    free(s->backend.description);
    free(s->repository);
    free(s);
}

/* ============================================================================================
 * Names, entries and metadata
 * ========================================================================================== */

char *mi_store_plan_name(const char *repository, const char *environment, long long pr,
                         const char *head_sha)
{
    if (!repository || !mi_seal_valid_repository(repository) ||
        !mi_seal_valid_environment(environment) || pr < 1 || !mi_seal_valid_commit(head_sha))
        return NULL;
    return mi_xasprintf("%s/%s/pr-%lld/%s" PLAN_SUFFIX, repository, environment, pr, head_sha);
}

static int plan_name_or_fail(char **out, const struct mi_store *s, const char *environment,
                             long long pr, const char *head_sha)
{
    *out = mi_store_plan_name(s->repository, environment, pr, head_sha);
    if (*out)
        return 0;
    if (!mi_seal_valid_environment(environment))
        return mi_error_set(MI_EUSAGE, "store: environment '%s' is not a valid name",
                            environment ? environment : "");
    if (pr < 1)
        return mi_error_set(MI_EUSAGE, "store: %lld is not a pull request number", pr);
    return mi_error_set(MI_EUSAGE, "store: '%s' is not a full lower-case commit id",
                        head_sha ? head_sha : "");
}

/* "environment 'production', PR #7, commit 1111111111" - how messages name a plan. */
static char *plan_label(const char *environment, long long pr, const char *head_sha)
{
    return mi_xasprintf("plan for environment '%s', PR #%lld, commit %.12s", environment, pr,
                        head_sha);
}

const char *mi_store_status_name(enum mi_store_status s)
{
    switch (s) {
    case MI_STORE_APPLIED:
        return "applied";
    case MI_STORE_FAILED:
        return "failed";
    default:
        return "sealed";
    }
}

void mi_store_entry_release(struct mi_store_entry *e)
{
    if (!e)
        return;
    free(e->name);
    mi_seal_binding_release(&e->binding);
    free(e->status_at);
    free(e->status_by);
    free(e->status_detail);
    memset(e, 0, sizeof(*e));
}

void mi_store_list_release(struct mi_store_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->len; i++)
        mi_store_entry_release(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->len = 0;
}

static void meta_from_binding(struct mi_azblob_meta *m, const struct mi_seal_binding *b)
{
    char pr[32];
    snprintf(pr, sizeof(pr), "%lld", b->pr);
    mi_azblob_meta_set(m, "format", FORMAT_NAME);
    mi_azblob_meta_set(m, "repository", b->repository);
    mi_azblob_meta_set(m, "environment", b->environment);
    mi_azblob_meta_set(m, "pr", pr);
    mi_azblob_meta_set(m, "head_sha", b->head_sha);
    mi_azblob_meta_set(m, "config_fingerprint", b->config_fingerprint);
    mi_azblob_meta_set(m, "plan_sha256", b->plan_sha256);
    mi_azblob_meta_set(m, "terraform_version", b->terraform_version);
    mi_azblob_meta_set(m, "created_at", b->created_at);
    mi_azblob_meta_set(m, "status", "sealed");
}

static char *meta_dup(const struct mi_azblob_meta *m, const char *name)
{
    const char *v = mi_azblob_meta_get(m, name);
    return v && *v ? mi_xstrdup(v) : NULL;
}

static enum mi_store_status status_from_meta(const struct mi_azblob_meta *m)
{
    const char *st = m ? mi_azblob_meta_get(m, "status") : NULL;
    if (st && strcmp(st, "applied") == 0)
        return MI_STORE_APPLIED;
    if (st && strcmp(st, "failed") == 0)
        return MI_STORE_FAILED;
    return MI_STORE_SEALED;
}

/* Fills an entry from a name and its metadata. Metadata is informational (the sealed
 * header is what gets verified); missing parts are taken from the name. */
static void entry_from_meta(struct mi_store_entry *e, const char *name, long long size,
                            const struct mi_azblob_meta *m)
{
    memset(e, 0, sizeof(*e));
    e->name = mi_xstrdup(name);
    e->size = size;
    struct mi_seal_binding *b = &e->binding;
    b->repository = meta_dup(m, "repository");
    b->environment = meta_dup(m, "environment");
    b->head_sha = meta_dup(m, "head_sha");
    b->config_fingerprint = meta_dup(m, "config_fingerprint");
    b->plan_sha256 = meta_dup(m, "plan_sha256");
    b->terraform_version = meta_dup(m, "terraform_version");
    b->created_at = meta_dup(m, "created_at");
    const char *pr = mi_azblob_meta_get(m, "pr");
    b->pr = pr ? strtoll(pr, NULL, 10) : 0;
    /* <repo owner>/<repo name>/<env>/pr-<n>/<sha>.tfplan.sealed */
    const char *parts[5] = {0};
    size_t lens[5] = {0};
    const char *p = name;
    int n = 0;
    while (n < 5 && p) {
        const char *slash = strchr(p, '/');
        parts[n] = p;
        lens[n] = slash ? (size_t)(slash - p) : strlen(p);
        n++;
        p = slash ? slash + 1 : NULL;
    }
    if (n == 5) {
        if (!b->environment)
            b->environment = mi_xstrndup(parts[2], lens[2]);
        if (!b->pr && lens[3] > 3 && strncmp(parts[3], "pr-", 3) == 0)
            b->pr = strtoll(parts[3] + 3, NULL, 10);
        size_t sl = strlen(PLAN_SUFFIX);
        if (!b->head_sha && lens[4] > sl)
            b->head_sha = mi_xstrndup(parts[4], lens[4] - sl);
        if (!b->repository)
            b->repository = mi_xstrndup(name, lens[0] + 1 + lens[1]);
    }
    e->status = status_from_meta(m);
    e->status_at = meta_dup(m, "status_at");
    e->status_by = meta_dup(m, "status_by");
    e->status_detail = meta_dup(m, "status_detail");
}

static void now_rfc3339(char *out, size_t len)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Keeps a value Azure accepts in a header: printable ASCII, single spaces, no surrounding
 * spaces, short. */
static char *meta_value(const char *s, size_t max)
{
    mi_buf b = MI_BUF_INIT;
    for (const char *p = s ? s : ""; *p && b.len < max; p++) {
        char ch = (*p >= 0x20 && *p <= 0x7e) ? *p : '?';
        if (ch == ' ' && b.len && b.ptr[b.len - 1] == ' ')
            continue;
        mi_buf_addch(&b, ch);
    }
    while (b.len && b.ptr[b.len - 1] == ' ')
        mi_buf_truncate(&b, b.len - 1);
    size_t lead = 0;
    while (lead < b.len && b.ptr[lead] == ' ')
        lead++;
    char *out = mi_xstrdup(b.ptr + lead);
    mi_buf_release(&b);
    return out;
}

/* ============================================================================================
 * Put
 * ========================================================================================== */

struct replace_ctx {
    const char *label;
};

static int refuse_applied(void *ctx, const struct mi_azblob_meta *existing)
{
    struct replace_ctx *r = ctx;
    if (existing && status_from_meta(existing) == MI_STORE_APPLIED) {
        const char *at = mi_azblob_meta_get(existing, "status_at");
        return mi_error_set(MI_EREFUSED,
                            "store: the %s was already applied%s%s; it is never replaced", r->label,
                            at ? " at " : "", at ? at : "");
    }
    return 0;
}

int mi_store_put(struct mi_store *s, const struct mi_seal_keyring *keys,
                 struct mi_seal_binding *binding, const char *plan_path)
{
    char *name = NULL, *label = NULL;
    struct mi_sealer *sealer = NULL;
    struct mi_azblob_meta meta = MI_AZBLOB_META_INIT;
    int fd = -1, rc = 0;
    if (!binding->repository)
        binding->repository = mi_xstrdup(s->repository);
    if (strcmp(binding->repository, s->repository) != 0)
        return mi_error_set(MI_EUSAGE,
                            "store: the binding is for repository '%s', the store "
                            "for '%s'",
                            binding->repository, s->repository);
    if ((rc = plan_name_or_fail(&name, s, binding->environment, binding->pr, binding->head_sha)) <
        0)
        return rc;
    label = plan_label(binding->environment, binding->pr, binding->head_sha);
    fd = open(plan_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = mi_error_errno(errno == ENOENT ? MI_ENOTFOUND : MI_ERR,
                            "store: cannot open the "
                            "plan '%s'",
                            plan_path);
        goto done;
    }
    if (!binding->plan_sha256) {
        char hex[65];
        if ((rc = mi_seal_sha256_fd(hex, fd, plan_path)) < 0)
            goto done;
        binding->plan_sha256 = mi_xstrdup(hex);
    }
    if (!binding->created_at)
        mi_seal_binding_set_now(binding);
    if ((rc = mi_sealer_new(&sealer, keys, binding, fd)) < 0)
        goto done;
    meta_from_binding(&meta, binding);
    struct replace_ctx rctx = {label};
    rc = s->backend.ops->put(s->backend.be, name, sealer, &meta, refuse_applied, &rctx);
    if (rc < 0 && rc != MI_EREFUSED)
        mi_error_prefix("store: storing the %s in %s", label, s->backend.description);
done:
    mi_azblob_meta_release(&meta);
    mi_sealer_free(sealer);
    if (fd >= 0)
        close(fd);
    free(label);
    free(name);
    return rc;
}

/* ============================================================================================
 * Get
 * ========================================================================================== */

struct get_ctx {
    struct mi_unsealer *u;
    struct mi_seal_output *o;
    int refused;
    char why[1024];
};

static int get_write(void *ctx, const char *data, size_t len)
{
    struct get_ctx *g = ctx;
    int rc = mi_unsealer_write(g->u, data, len);
    if (rc == MI_EREFUSED && !g->refused) {
        g->refused = 1;
        snprintf(g->why, sizeof(g->why), "%s", mi_error_last());
    }
    return rc;
}

/* Before a retried download: start the plaintext over. A refusal is final - retrying cannot
 * make a tampered plan verify - so it stops the retries. */
static int get_reset(void *ctx)
{
    struct get_ctx *g = ctx;
    if (g->refused)
        return MI_EREFUSED;
    mi_unsealer_reset(g->u);
    return mi_seal_output_truncate(g->o);
}

int mi_store_get(struct mi_store *s, const struct mi_seal_keyring *keys,
                 const struct mi_seal_expect *expect, const char *plan_path, int allow_applied,
                 struct mi_store_entry *out)
{
    char *name = NULL, *label = NULL;
    struct mi_azblob_meta meta = MI_AZBLOB_META_INIT;
    struct get_ctx g = {0};
    long long size = -1;
    int rc;
    if (out)
        memset(out, 0, sizeof(*out));
    if (!expect->environment || !expect->head_sha || expect->pr < 1)
        return mi_error_set(MI_EUSAGE, "store: get needs the environment, PR and head commit");
    if (expect->repository && strcmp(expect->repository, s->repository) != 0)
        return mi_error_set(MI_EUSAGE,
                            "store: expected repository '%s' but the store is for "
                            "'%s'",
                            expect->repository, s->repository);
    if ((rc = plan_name_or_fail(&name, s, expect->environment, expect->pr, expect->head_sha)) < 0)
        return rc;
    label = plan_label(expect->environment, expect->pr, expect->head_sha);
    rc = s->backend.ops->head(s->backend.be, name, &meta, &size);
    if (rc == MI_ENOTFOUND) {
        rc = mi_error_set(MI_ENOTFOUND,
                          "store: no sealed %s in %s (was it planned and "
                          "uploaded?)",
                          label, s->backend.description);
        goto done;
    }
    if (rc < 0)
        goto done;
    if (!allow_applied && status_from_meta(&meta) == MI_STORE_APPLIED) {
        const char *at = mi_azblob_meta_get(&meta, "status_at");
        const char *by = mi_azblob_meta_get(&meta, "status_by");
        rc = mi_error_set(MI_EREFUSED,
                          "store: the %s was already applied%s%s%s%s; a plan is "
                          "applied only once",
                          label, at ? " at " : "", at ? at : "", by ? " by " : "", by ? by : "");
        goto done;
    }
    struct mi_seal_expect want = *expect;
    want.repository = s->repository;
    if ((rc = mi_seal_output_open(&g.o, plan_path)) < 0)
        goto done;
    if ((rc = mi_unsealer_new(&g.u, keys, &want, mi_seal_output_write, g.o)) < 0)
        goto done;
    struct mi_azblob_sink sink = {get_write, get_reset, &g};
    rc = s->backend.ops->get(s->backend.be, name, &sink);
    if (rc == 0) {
        rc = mi_unsealer_finish(g.u);
        if (rc == MI_EREFUSED) {
            g.refused = 1;
            snprintf(g.why, sizeof(g.why), "%s", mi_error_last());
        }
    }
    if (g.refused) {
        /* Say what did not verify, without the transport's framing around it. */
        rc = mi_error_set(MI_EREFUSED, "store: the %s was refused: %s", label, g.why);
        goto done;
    }
    if (rc < 0)
        goto done;
    if ((rc = mi_seal_output_commit(g.o)) < 0)
        goto done;
    if (out) {
        entry_from_meta(out, name, size, &meta);
        mi_seal_binding_release(&out->binding);
        mi_seal_binding_copy(&out->binding, mi_unsealer_binding(g.u));
    }
done:
    mi_unsealer_free(g.u);
    mi_seal_output_free(g.o);
    mi_azblob_meta_release(&meta);
    free(label);
    free(name);
    return rc;
}

int mi_store_stat(struct mi_store *s, const char *environment, long long pr, const char *head_sha,
                  struct mi_store_entry *out)
{
    memset(out, 0, sizeof(*out));
    char *name = NULL;
    struct mi_azblob_meta meta = MI_AZBLOB_META_INIT;
    long long size = -1;
    int rc = plan_name_or_fail(&name, s, environment, pr, head_sha);
    if (rc < 0)
        return rc;
    rc = s->backend.ops->head(s->backend.be, name, &meta, &size);
    if (rc == MI_ENOTFOUND) {
        char *label = plan_label(environment, pr, head_sha);
        rc = mi_error_set(MI_ENOTFOUND, "store: no sealed %s in %s", label, s->backend.description);
        free(label);
    }
    if (rc == 0)
        entry_from_meta(out, name, size, &meta);
    mi_azblob_meta_release(&meta);
    free(name);
    return rc;
}

/* ============================================================================================
 * Listing
 * ========================================================================================== */

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int collect(void *ctx, const char *name, long long size, const struct mi_azblob_meta *m)
{
    struct mi_store_list *l = ctx;
    if (!ends_with(name, PLAN_SUFFIX))
        return 0;
    l->items = mi_xrealloc(l->items, (l->len + 1) * sizeof(*l->items));
    entry_from_meta(&l->items[l->len++], name, size, m);
    return 0;
}

static int newest_first(const void *a, const void *b)
{
    const struct mi_store_entry *x = a, *y = b;
    const char *cx = x->binding.created_at ? x->binding.created_at : "";
    const char *cy = y->binding.created_at ? y->binding.created_at : "";
    int c = strcmp(cy, cx);
    return c ? c : strcmp(x->name, y->name);
}

int mi_store_list(struct mi_store *s, const char *environment, struct mi_store_list *out)
{
    memset(out, 0, sizeof(*out));
    if (environment && !mi_seal_valid_environment(environment))
        return mi_error_set(MI_EUSAGE, "store: environment '%s' is not a valid name", environment);
    char *prefix = environment ? mi_xasprintf("%s/%s/", s->repository, environment)
                               : mi_xasprintf("%s/", s->repository);
    int rc = s->backend.ops->list(s->backend.be, prefix, collect, out);
    free(prefix);
    if (rc < 0) {
        mi_store_list_release(out);
        return rc;
    }
    if (out->len > 1)
        qsort(out->items, out->len, sizeof(*out->items), newest_first);
    return 0;
}

/* ============================================================================================
 * Status marks
 * ========================================================================================== */

struct mark_ctx {
    enum mi_store_status status;
    const char *label;
    const char *by;
    const char *reason;
};

static int edit_status(void *ctx, struct mi_azblob_meta *m)
{
    struct mark_ctx *mc = ctx;
    if (status_from_meta(m) == MI_STORE_APPLIED) {
        const char *at = mi_azblob_meta_get(m, "status_at");
        const char *by = mi_azblob_meta_get(m, "status_by");
        return mi_error_set(MI_EREFUSED,
                            "store: the %s was already applied%s%s%s%s; a plan is "
                            "applied only once",
                            mc->label, at ? " at " : "", at ? at : "", by ? " by " : "",
                            by ? by : "");
    }
    char when[32];
    now_rfc3339(when, sizeof(when));
    mi_azblob_meta_set(m, "status", mi_store_status_name(mc->status));
    mi_azblob_meta_set(m, "status_at", when);
    char *by = meta_value(mc->by ? mc->by : "", 200);
    mi_azblob_meta_set(m, "status_by", by);
    free(by);
    char *why = meta_value(mc->reason ? mc->reason : "", 200);
    mi_azblob_meta_set(m, "status_detail", why);
    free(why);
    return 0;
}

static int mark(struct mi_store *s, const char *environment, long long pr, const char *head_sha,
                enum mi_store_status status, const char *by, const char *reason)
{
    char *name = NULL;
    int rc = plan_name_or_fail(&name, s, environment, pr, head_sha);
    if (rc < 0)
        return rc;
    char *label = plan_label(environment, pr, head_sha);
    struct mark_ctx mc = {status, label, by, reason};
    rc = s->backend.ops->update_meta(s->backend.be, name, edit_status, &mc);
    if (rc == MI_ENOTFOUND)
        rc = mi_error_set(MI_ENOTFOUND, "store: no sealed %s in %s to mark %s", label,
                          s->backend.description, mi_store_status_name(status));
    free(label);
    free(name);
    return rc;
}

int mi_store_mark_applied(struct mi_store *s, const char *environment, long long pr,
                          const char *head_sha, const char *by)
{
    return mark(s, environment, pr, head_sha, MI_STORE_APPLIED, by, NULL);
}

int mi_store_mark_failed(struct mi_store *s, const char *environment, long long pr,
                         const char *head_sha, const char *by, const char *reason)
{
    return mark(s, environment, pr, head_sha, MI_STORE_FAILED, by, reason);
}

int mi_store_remove(struct mi_store *s, const char *environment, long long pr, const char *head_sha)
{
    char *name = NULL;
    int rc = plan_name_or_fail(&name, s, environment, pr, head_sha);
    if (rc < 0)
        return rc;
    rc = s->backend.ops->remove(s->backend.be, name);
    free(name);
    return rc;
}

/* ============================================================================================
 * Pruning
 * ========================================================================================== */

static int parse_time(const char *s, time_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *end = s ? strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm) : NULL;
    if (!end || *end)
        return -1;
    *out = timegm(&tm);
    return 0;
}

int mi_store_prune(struct mi_store *s, const struct mi_store_prune_options *o,
                   struct mi_store_list *removed)
{
    struct mi_store_list all;
    if (removed)
        memset(removed, 0, sizeof(*removed));
    int rc = mi_store_list(s, o->environment, &all);
    if (rc < 0)
        return rc;
    time_t now = time(NULL);
    for (size_t i = 0; i < all.len; i++) {
        struct mi_store_entry *e = &all.items[i];
        int go = 0;
        time_t created;
        if (o->older_than_s > 0 && parse_time(e->binding.created_at, &created) == 0 &&
            (long long)(now - created) > o->older_than_s)
            go = 1;
        if (!go && o->is_closed && e->binding.environment && e->binding.pr > 0) {
            int closed = 0;
            if ((rc = o->is_closed(o->ctx, e->binding.environment, e->binding.pr, &closed)) < 0)
                break;
            go = closed;
        }
        if (!go)
            continue;
        if (!o->dry_run && (rc = s->backend.ops->remove(s->backend.be, e->name)) < 0 &&
            rc != MI_ENOTFOUND)
            break;
        rc = 0;
        if (removed) {
            removed->items =
                mi_xrealloc(removed->items, (removed->len + 1) * sizeof(*removed->items));
            removed->items[removed->len++] = *e;
            memset(e, 0, sizeof(*e));
        }
    }
    mi_store_list_release(&all);
    return rc;
}

/* ============================================================================================
 * Locks
 * ========================================================================================== */

struct mi_store_lock {
    struct mi_store *store;
    char *environment;
    void *handle;
    int lease_s;

    pthread_t thread;
    int thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    int lost;
    char lost_msg[1024];
};

static char *lock_name(const struct mi_store *s, const char *environment)
{
    return mi_xasprintf("%s/%s/.lock", s->repository, environment);
}

/* Renews the lease every third of its duration. A renewal the HTTP layer could not save
 * (after its own retries) is tried again at the next tick; once the lease has gone unrenewed
 * for its whole duration, or the service says it is no longer ours, the lock is lost. */
static void *renew_main(void *arg)
{
    struct mi_store_lock *l = arg;
    long interval_ms = l->lease_s * 1000L / 3;
    long last_ok = mi_clock_ms();
    pthread_mutex_lock(&l->mu);
    while (!l->stop) {
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += interval_ms / 1000;
        deadline.tv_nsec += (interval_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
        while (!l->stop && pthread_cond_timedwait(&l->cv, &l->mu, &deadline) != ETIMEDOUT)
            ;
        if (l->stop)
            break;
        pthread_mutex_unlock(&l->mu);
        int rc = l->store->backend.ops->lock_renew(l->store->backend.be, l->handle);
        pthread_mutex_lock(&l->mu);
        if (rc == 0) {
            last_ok = mi_clock_ms();
            continue;
        }
        if (rc == MI_ECONFLICT || rc == MI_ENOTFOUND ||
            mi_clock_ms() - last_ok >= l->lease_s * 1000L) {
            l->lost = 1;
            snprintf(l->lost_msg, sizeof(l->lost_msg), "%s", mi_error_last());
            break;
        }
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static void lock_conflict_message(struct mi_store *s, const char *environment, long waited_ms)
{
    struct mi_store_lock_info info = {0};
    char *name = lock_name(s, environment);
    int have = 0;
    /* A holder writes who it is just after taking the lock; a loser of a close race may look
     * in between, so it looks again briefly before saying "locked" without a name. */
    for (int attempt = 0; attempt < 10; attempt++) {
        mi_store_lock_info_release(&info);
        have = s->backend.ops->lock_info(s->backend.be, name, &info) == 0 && info.locked;
        if (!have || info.holder)
            break;
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    mi_error_set(MI_ECONFLICT,
                 "store: environment '%s' is locked%s%s%s%s (waited %ld s): another run is "
                 "applying it; wait for it, or if that run is gone, break the lock with "
                 "`mlinfra store unlock --break %s`",
                 environment, have && info.holder ? " by " : "",
                 have && info.holder ? info.holder : "", have && info.since ? " since " : "",
                 have && info.since ? info.since : "", waited_ms / 1000, environment);
    mi_store_lock_info_release(&info);
    free(name);
}

int mi_store_lock(struct mi_store *s, const char *environment,
                  const struct mi_store_lock_options *o, struct mi_store_lock **out)
{
    *out = NULL;
    if (!mi_seal_valid_environment(environment))
        return mi_error_set(MI_EUSAGE, "store: environment '%s' is not a valid name",
                            environment ? environment : "");
    int lease_s = o && o->lease_s ? o->lease_s : 30;
    if (lease_s < 15 || lease_s > 60)
        return mi_error_set(MI_EUSAGE, "store: a lock's lease lasts 15 to 60 seconds, not %d",
                            lease_s);
    long wait_ms = o ? o->wait_ms : 0;
    long poll_ms = o && o->poll_ms ? o->poll_ms : 1000;
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    char *holder = o && o->holder ? mi_xstrdup(o->holder)
                                  : mi_xasprintf("pid %ld on %s", (long)getpid(), host);
    char *clean_holder = meta_value(holder, 200);
    char *name = lock_name(s, environment);
    void *handle = NULL;
    long start = mi_clock_ms();
    int rc;
    for (;;) {
        rc = s->backend.ops->lock_try(s->backend.be, name, lease_s, clean_holder, &handle);
        if (rc != MI_ECONFLICT)
            break;
        long waited = mi_clock_ms() - start;
        if (waited >= wait_ms) {
            lock_conflict_message(s, environment, waited);
            break;
        }
        long nap = poll_ms < wait_ms - waited ? poll_ms : wait_ms - waited;
        if ((rc = mi_cancel_sleep_ms(nap)) < 0)
            break;
    }
    free(name);
    free(holder);
    free(clean_holder);
    if (rc < 0)
        return rc;

    struct mi_store_lock *l = mi_xcalloc(1, sizeof(*l));
    l->store = s;
    l->environment = mi_xstrdup(environment);
    l->handle = handle;
    l->lease_s = lease_s;
    pthread_mutex_init(&l->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (s->backend.ops->lock_renew) {
        /* The renewal thread takes no signals: SIGTERM and SIGINT must reach the main thread,
         * whose waits they interrupt so the cancellation path (and unlock) runs promptly. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        int started = pthread_create(&l->thread, NULL, renew_main, l);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (started != 0) {
            s->backend.ops->lock_release(s->backend.be, handle);
            l->handle = NULL;
            mi_store_unlock(l);
            return mi_error_set(MI_ERR, "store: cannot start the lock renewal thread");
        }
        l->thread_started = 1;
    }
    *out = l;
    return 0;
}

int mi_store_lock_check(struct mi_store_lock *l)
{
    pthread_mutex_lock(&l->mu);
    int lost = l->lost;
    char msg[sizeof(l->lost_msg)];
    memcpy(msg, l->lost_msg, sizeof(msg));
    pthread_mutex_unlock(&l->mu);
    if (!lost)
        return 0;
    return mi_error_set(MI_ECONFLICT,
                        "store: the lock on environment '%s' was lost (renewing "
                        "it failed: %s)",
                        l->environment, msg);
}

int mi_store_unlock(struct mi_store_lock *l)
{
    if (!l)
        return 0;
    if (l->thread_started) {
        pthread_mutex_lock(&l->mu);
        l->stop = 1;
        pthread_cond_signal(&l->cv);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->thread, NULL);
    }
    int rc = 0;
    if (l->handle) {
        rc = l->store->backend.ops->lock_release(l->store->backend.be, l->handle);
        if (rc < 0)
            mi_error_prefix("store: releasing the lock on environment '%s'", l->environment);
    }
    /* A lock lost while held is worth an error even when the release went through: what ran
     * under it may have overlapped with another holder. */
    if (l->lost)
        rc = mi_error_set(MI_ECONFLICT,
                          "store: the lock on environment '%s' was lost while "
                          "held (renewing it failed: %s)",
                          l->environment, l->lost_msg);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    free(l->environment);
    free(l);
    return rc;
}

void mi_store_lock_info_release(struct mi_store_lock_info *i)
{
    if (!i)
        return;
    free(i->holder);
    free(i->since);
    free(i->state);
    memset(i, 0, sizeof(*i));
}

int mi_store_lock_info(struct mi_store *s, const char *environment, struct mi_store_lock_info *out)
{
    memset(out, 0, sizeof(*out));
    if (!mi_seal_valid_environment(environment))
        return mi_error_set(MI_EUSAGE, "store: environment '%s' is not a valid name",
                            environment ? environment : "");
    char *name = lock_name(s, environment);
    int rc = s->backend.ops->lock_info(s->backend.be, name, out);
    free(name);
    return rc;
}

int mi_store_break_lock(struct mi_store *s, const char *environment)
{
    if (!mi_seal_valid_environment(environment))
        return mi_error_set(MI_EUSAGE, "store: environment '%s' is not a valid name",
                            environment ? environment : "");
    char *name = lock_name(s, environment);
    int rc = s->backend.ops->lock_break(s->backend.be, name);
    free(name);
    return rc;
}

/* ============================================================================================
 * Access for the store's other files (store_backend.h)
 * ========================================================================================== */

struct mi_store_backend *mi_store_backend_of(struct mi_store *s)
{
    return &s->backend;
}

const char *mi_store_repository_of(const struct mi_store *s)
{
    return s->repository;
}
