/*
 * deploy.h - a GitHub deployment for one apply (issue 9): created for the environment and the
 * commit applied, moved to in_progress while terraform runs, then to success (with
 * environment_url set to the reported service address, which GitHub shows on the pull request
 * and on the repository's Environments page) or failure. The workflow needs
 * `permissions: deployments: write`; a token without it gets MI_EAUTH and a message that
 * names it.
 *
 *   struct mi_deploy *d = NULL;
 *   mi_deploy_start(&d, gh, &opts);                 POST deployments, POST status in_progress
 *   ... terraform apply ...
 *   mi_deploy_finish(d, gh, MI_DEPLOY_SUCCESS, "http://20.1.2.3:5000", "applied plan sha256:...");
 *   mi_deploy_free(d);
 *
 * Rules:
 *  - mi_deploy_start sets *out as soon as the deployment exists, even when the in_progress
 *    status then fails, so the caller can still finish it; *out is NULL when creating it
 *    failed. The caller frees *out with mi_deploy_free (NULL-safe) in every case.
 *  - Errors come from remote/github.h (401/403 MI_EAUTH naming `deployments: write`, 404
 *    MI_ENOTFOUND, 422 MI_ERR with GitHub's message), prefixed with the environment. Whether a
 *    failed deployment fails the job is the command's decision (the documented behaviour: it
 *    is reported as a warning; the apply's own result decides the exit code).
 *  - The payload GitHub stores with the deployment holds the pull request and the plan id, so
 *    the Environments page links a deployment to the reviewed plan. No secret goes in it.
 *  - Nothing here prints.
 */
#ifndef MI_REMOTE_DEPLOY_H
#define MI_REMOTE_DEPLOY_H

#include "remote/github.h"

struct mi_deploy_options {
    const char *environment; /* required: the GitHub environment's name (ours) */
    const char *ref;         /* required: the commit applied (the merge commit's SHA) */
    const char *log_url;     /* the workflow run's URL; may be NULL */
    const char *plan_id;     /* the applied plan's id, kept in the payload; may be NULL */
    long long pr;            /* the pull request, kept in the payload; 0: none */
    const char *description; /* NULL: "mlinfra apply of pull request #N" */
    int production;          /* GitHub's production_environment flag */
};

enum mi_deploy_outcome {
    MI_DEPLOY_SUCCESS, /* applied: "success", with the service address */
    MI_DEPLOY_FAILURE, /* terraform apply failed: "failure" */
    MI_DEPLOY_ERROR,   /* nothing was applied (refused plan, cancelled run): "error" */
};

struct mi_deploy {
    long long id; /* the deployment's id */
    char *environment;
    char *log_url;     /* may be NULL */
    const char *state; /* the last state set: "in_progress", "success", ... (static) */
};

int mi_deploy_start(struct mi_deploy **out, mi_github *gh, const struct mi_deploy_options *o);

/* Sets the final status. environment_url is only sent on success (may be NULL); description
 * may be NULL (GitHub shortens nothing: github.h cuts it to 140 characters). */
int mi_deploy_finish(struct mi_deploy *d, mi_github *gh, enum mi_deploy_outcome outcome,
                     const char *environment_url, const char *description);

void mi_deploy_free(struct mi_deploy *d);

/* "success", "failure", "error". */
const char *mi_deploy_state_name(enum mi_deploy_outcome outcome);

#endif
