/*
 * planstore.h - what `plan` and `apply` share about the plan store: which store they open
 * (the same one, whichever directory they start in) and how a plan is sealed into it, bound
 * to the configuration fingerprint of the commit that was planned (context/fingerprint.h).
 *
 * Orchestration shared by two commands, so it lives beside them: it ties context/ (the
 * fingerprint), store/ (sealing, the store) and the process environment (MLINFRA_STORE,
 * AZURE_STORAGE_*, MLINFRA_PLAN_KEY) together. It never prints and never exits; errors come
 * back with their message set, as everywhere.
 */
#ifndef MI_CMD_PLANSTORE_H
#define MI_CMD_PLANSTORE_H

#include "store/store.h"

/* Opens the plan store configured by the environment (store.h: mi_store_config_from_env).
 * Without a store URL or an Azure account it is the local directory
 * <repo_dir>/.mlinfra/plans. on_secret (may be NULL) gets tokens obtained by OIDC, to mask. */
int mi_planstore_open(struct mi_store **out, const char *repo_dir, const char *repository,
                      void (*on_secret)(void *ctx, const char *secret));

struct mi_planstore_plan {
    const char *repo_dir;    /* the checkout that was planned (its HEAD is fingerprinted) */
    const char *repository;  /* "owner/name" */
    const char *environment; /* its name */
    const char *env_dir;     /* its directory, repository-relative */
    long long pr;            /* >= 1 */
    const char *head_sha;    /* the pull request's head commit */
    const char *terraform_version;
    const char *plan_file; /* the saved plan */
};

/* Seals plan_file with MLINFRA_PLAN_KEY and stores it, bound to p and to the configuration
 * fingerprint of the checked-out commit. *where (caller frees) describes the store. */
int mi_planstore_put(const struct mi_planstore_plan *p,
                     void (*on_secret)(void *ctx, const char *secret), char **where);

#endif
