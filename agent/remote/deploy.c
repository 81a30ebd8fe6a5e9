/*
 * deploy.c - one GitHub deployment per apply, moved through its statuses (deploy.h).
 */
#include "remote/deploy.h"

#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/error.h"
#include "util/banned.h"

const char *mi_deploy_state_name(enum mi_deploy_outcome outcome)
{
    switch (outcome) {
    case MI_DEPLOY_SUCCESS:
        return "success";
    case MI_DEPLOY_FAILURE:
        return "failure";
    case MI_DEPLOY_ERROR:
    default:
        return "error";
    }
}

/* A failure of a deployment call, with what was being done in front of github.h's message
 * (which already names the permission for 401/403/404). */
static int failed(int rc, const char *what, const char *environment)
{
    mi_error_prefix("deployment of environment '%s': cannot %s", environment, what);
    return rc;
}

int mi_deploy_start(struct mi_deploy **out, mi_github *gh, const struct mi_deploy_options *o)
{
    *out = NULL;
    if (!o->environment || !*o->environment || !o->ref || !*o->ref)
        return mi_error_set(MI_EUSAGE, "deployment: the environment and the commit are required");

    struct mi_deploy *d = NULL;
    mi_buf payload = MI_BUF_INIT, desc = MI_BUF_INIT;
    mi_buf_adds(&payload, "{\"tool\":\"mlinfra\"");
    if (o->pr > 0)
        mi_buf_addf(&payload, ",\"pull_request\":%lld", o->pr);
    if (o->plan_id) {
        mi_buf_adds(&payload, ",\"plan_id\":\"");
        mi_buf_add_json_escaped(&payload, o->plan_id);
        mi_buf_addch(&payload, '"');
    }
    mi_buf_addch(&payload, '}');
    if (o->description)
        mi_buf_adds(&desc, o->description);
    else if (o->pr > 0)
        mi_buf_addf(&desc, "mlinfra apply of pull request #%lld", o->pr);
    else
        mi_buf_adds(&desc, "mlinfra apply");

    struct mi_github_deployment_request req = {0};
    req.ref = o->ref;
    req.environment = o->environment;
    req.description = desc.ptr;
    req.task = "deploy";
    req.payload_json = payload.ptr;
    req.production = o->production;
    long long id = 0;
    int rc = mi_github_deployment_create(&id, gh, &req);
    if (rc < 0) {
        failed(rc, "create it", o->environment);
        goto done;
    }
    d = mi_xcalloc(1, sizeof(*d));
    d->id = id;
    d->environment = mi_xstrdup(o->environment);
    d->log_url = o->log_url ? mi_xstrdup(o->log_url) : NULL;
    d->state = "pending";
    *out = d;

    struct mi_github_deployment_status_request st = {0};
    st.state = "in_progress";
    st.log_url = d->log_url;
    st.description = "terraform apply is running";
    long long sid = 0;
    rc = mi_github_deployment_status_create(&sid, gh, d->id, &st);
    if (rc < 0) {
        failed(rc, "mark it in progress", o->environment);
        goto done;
    }
    d->state = "in_progress";
done:
    mi_buf_release(&payload);
    mi_buf_release(&desc);
    return rc;
}

int mi_deploy_finish(struct mi_deploy *d, mi_github *gh, enum mi_deploy_outcome outcome,
                     const char *environment_url, const char *description)
{
    if (!d)
        return mi_error_set(MI_EUSAGE, "deployment: finish without a deployment");
    struct mi_github_deployment_status_request st = {0};
    st.state = mi_deploy_state_name(outcome);
    st.log_url = d->log_url;
    st.environment_url = outcome == MI_DEPLOY_SUCCESS ? environment_url : NULL;
    st.description = description;
    long long sid = 0;
    int rc = mi_github_deployment_status_create(&sid, gh, d->id, &st);
    if (rc < 0) {
        mi_buf what = MI_BUF_INIT;
        mi_buf_addf(&what, "mark it %s", st.state);
        failed(rc, what.ptr, d->environment);
        mi_buf_release(&what);
        return rc;
    }
    d->state = st.state;
    return 0;
}

void mi_deploy_free(struct mi_deploy *d)
{
    if (!d)
        return;
    free(d->environment);
    free(d->log_url);
    free(d);
}
