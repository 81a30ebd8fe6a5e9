/*
 * store_summary.c - a plan's companion summary in the store (store.h, "plan summaries"):
 * a small unsealed object named "<plan name>.summary.json", written whole through the
 * backend's put_small and read back through its get.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store_backend.h"
#include "util/error.h"
#include "util/banned.h"

static int summary_name(char **out, struct mi_store *s, const char *environment, long long pr,
                        const char *head_sha)
{
    char *plan = mi_store_plan_name(mi_store_repository_of(s), environment, pr, head_sha);
    if (!plan) {
        *out = NULL;
        return mi_error_set(MI_EUSAGE,
                            "store: no plan summary name for environment '%s', PR %lld, "
                            "commit '%s'",
                            environment ? environment : "", pr, head_sha ? head_sha : "");
    }
    *out = mi_xasprintf("%s" MI_STORE_SUMMARY_SUFFIX, plan);
    free(plan);
    return 0;
}

int mi_store_put_summary(struct mi_store *s, const char *environment, long long pr,
                         const char *head_sha, const char *json, size_t len)
{
    if (!json)
        return mi_error_set(MI_EUSAGE, "store: no plan summary to store");
    if (len > MI_STORE_SUMMARY_MAX)
        return mi_error_set(MI_EUSAGE, "store: a plan summary of %zu bytes is too large", len);
    char *name = NULL;
    int rc = summary_name(&name, s, environment, pr, head_sha);
    if (rc < 0)
        return rc;
    struct mi_store_backend *b = mi_store_backend_of(s);
    rc = b->ops->put_small(b->be, name, json, len);
    if (rc < 0)
        mi_error_prefix("storing the plan summary of environment '%s', PR %lld, commit %s in "
                        "the %s",
                        environment, pr, head_sha, b->description);
    free(name);
    return rc;
}

struct sink_ctx {
    mi_buf *buf;
    size_t start; /* out's length before the read, to drop a partial read */
};

static int sink_write(void *ctx, const char *data, size_t len)
{
    struct sink_ctx *c = ctx;
    if (c->buf->len - c->start + len > MI_STORE_SUMMARY_MAX)
        return mi_error_set(MI_ERR, "store: the plan summary is larger than %zu bytes",
                            MI_STORE_SUMMARY_MAX);
    mi_buf_add(c->buf, data, len);
    return 0;
}

static int sink_reset(void *ctx)
{
    struct sink_ctx *c = ctx;
    mi_buf_truncate(c->buf, c->start);
    return 0;
}

int mi_store_get_summary(struct mi_store *s, const char *environment, long long pr,
                         const char *head_sha, mi_buf *out)
{
    char *name = NULL;
    int rc = summary_name(&name, s, environment, pr, head_sha);
    if (rc < 0)
        return rc;
    struct mi_store_backend *b = mi_store_backend_of(s);
    struct sink_ctx c = {out, out->len};
    struct mi_azblob_sink sink = {sink_write, sink_reset, &c};
    rc = b->ops->get(b->be, name, &sink);
    if (rc < 0) {
        sink_reset(&c);
        if (rc != MI_ENOTFOUND)
            mi_error_prefix("reading the plan summary of environment '%s', PR %lld, commit %s "
                            "from the %s",
                            environment, pr, head_sha, b->description);
    }
    free(name);
    return rc;
}
