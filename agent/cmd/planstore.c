/*
 * planstore.c - the plan store as plan and apply use it. See planstore.h.
 */
#include "cmd/planstore.h"

#include <stdlib.h>
#include <string.h>

#include "context/fingerprint.h"
#include "store/seal.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/banned.h"

int mi_planstore_open(struct mi_store **out, const char *repo_dir, const char *repository,
                      void (*on_secret)(void *ctx, const char *secret))
{
    struct mi_store_config sc;
    mi_store_config_from_env(&sc);
    /* The local default lives in the repository, so plan and apply find the same store
     * whatever directory they are started from. */
    char *local = mi_fs_join(repo_dir, MI_STORE_DEFAULT_DIR);
    sc.local_default = local;
    sc.on_secret = on_secret;
    int rc = mi_store_open(out, &sc, repository);
    free(local);
    return rc;
}

int mi_planstore_put(const struct mi_planstore_plan *p,
                     void (*on_secret)(void *ctx, const char *secret), char **where)
{
    *where = NULL;
    struct mi_fingerprint *fp = NULL;
    struct mi_store *store = NULL;
    struct mi_seal_keyring keys;
    int have_keys = 0;
    struct mi_seal_binding b;
    memset(&b, 0, sizeof(b));
    int rc = mi_seal_keyring_from_env(&keys);
    if (rc < 0)
        goto done;
    have_keys = 1;
    if ((rc = mi_fingerprint_at(&fp, p->repo_dir, NULL, p->env_dir)) < 0)
        goto done;
    if ((rc = mi_planstore_open(&store, p->repo_dir, p->repository, on_secret)) < 0)
        goto done;
    b.repository = mi_xstrdup(p->repository);
    b.environment = mi_xstrdup(p->environment);
    b.pr = p->pr;
    b.head_sha = mi_xstrdup(p->head_sha ? p->head_sha : "");
    b.config_fingerprint = mi_xstrdup(fp->value);
    b.terraform_version = mi_xstrdup(p->terraform_version ? p->terraform_version : "unknown");
    if ((rc = mi_store_put(store, &keys, &b, p->plan_file)) < 0)
        goto done;
    *where = mi_xstrdup(mi_store_describe(store));
done:
    mi_seal_binding_release(&b);
    if (have_keys)
        mi_seal_keyring_wipe(&keys);
    mi_store_free(store);
    mi_fingerprint_free(fp);
    return rc;
}
