/*
 * context.c - the run context from the GITHUB_* variables and the event payload.
 *
 * jansson references: the payload root is owned by parse_payload and decref'd on its single
 * done: path; every json_t below it is borrowed (json_object_get) and copied into the
 * context as C strings before the root goes.
 */
#include "context/context.h"

#include <git2.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "context/path.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/banned.h"

/* ---------------------------------------------------------------------------------------
 * Validation.
 */

int mi_context_sha_valid(const char *hex)
{
    if (!hex)
        return 0;
    size_t n = 0;
    for (; hex[n]; n++) {
        char c = hex[n];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
    }
    return n == 40 || n == 64;
}

int mi_context_sha_is_zero(const char *hex)
{
    if (!mi_context_sha_valid(hex))
        return 0;
    for (; *hex; hex++)
        if (*hex != '0')
            return 0;
    return 1;
}

int mi_context_branch_valid(const char *name)
{
    if (!name || !*name || strlen(name) > 255)
        return 0;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return 0;
    /* "HEAD" and names starting with '-' are valid refs but would read as a revision or an
     * option if anything ever handed them on; no environment branch is called that. */
    if (name[0] == '-' || strcmp(name, "HEAD") == 0)
        return 0;
    char *ref = mi_xasprintf("refs/heads/%s", name);
    int valid = 0;
    if (git_reference_name_is_valid(&valid, ref) < 0)
        valid = 0;
    free(ref);
    return valid;
}

static int repo_name_valid(const char *s)
{
    const char *slash = strchr(s, '/');
    if (!slash || slash == s || !slash[1] || strchr(slash + 1, '/') || strlen(s) > 200)
        return 0;
    for (const char *p = s; *p; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_' || c == '.' || c == '/';
        if (!ok)
            return 0;
    }
    return strcmp(slash + 1, ".") != 0 && strcmp(slash + 1, "..") != 0;
}

/* A value from the payload, made safe to put in a message: at most 80 bytes, control
 * characters escaped. */
static const char *shown(mi_buf *b, const char *v)
{
    mi_buf_reset(b);
    size_t i = 0;
    for (const unsigned char *p = (const unsigned char *)v; *p && i < 80; p++, i++) {
        if (*p < 0x20 || *p == 0x7f)
            mi_buf_addf(b, "\\x%02x", *p);
        else
            mi_buf_addch(b, (char)*p);
    }
    if (strlen(v) > 80)
        mi_buf_adds(b, "...");
    return b->ptr;
}

const char *mi_context_kind_name(enum mi_event_kind kind)
{
    switch (kind) {
    case MI_EVENT_PULL_REQUEST:
        return "pull_request";
    case MI_EVENT_PUSH:
        return "push";
    case MI_EVENT_WORKFLOW_DISPATCH:
        return "workflow_dispatch";
    case MI_EVENT_LOCAL:
        return "local";
    case MI_EVENT_OTHER:
        return "other";
    }
    return "other";
}

void mi_context_free(struct mi_context *ctx)
{
    if (!ctx)
        return;
    free(ctx->event_name);
    free(ctx->action);
    free(ctx->repository);
    free(ctx->ref);
    free(ctx->sha);
    free(ctx->branch);
    free(ctx->base_sha);
    free(ctx->head_sha);
    free(ctx->head_ref);
    free(ctx->merge_sha);
    free(ctx->base_repo);
    free(ctx->head_repo);
    free(ctx->before);
    free(ctx->after);
    free(ctx->input_environment);
    free(ctx);
}

int mi_context_fork_with_secrets(const struct mi_context *ctx)
{
    return ctx && ctx->kind == MI_EVENT_PULL_REQUEST && ctx->base_context && ctx->fork;
}

/* ---------------------------------------------------------------------------------------
 * Reading the payload. Each getter names the field by its dotted path in messages.
 */

struct reader {
    const char *source;
    mi_buf show;
};

enum { OPTIONAL = 0, REQUIRED = 1 };

static int bad_type(struct reader *r, const char *field, const char *want)
{
    return mi_error_set(MI_ERR, "event: %s: '%s' is not %s", r->source, field, want);
}

/* Borrowed object at key, or NULL when absent/null. */
static int get_object(struct reader *r, json_t *parent, const char *key, const char *field,
                      int required, json_t **out)
{
    *out = NULL;
    json_t *v = parent ? json_object_get(parent, key) : NULL;
    if (!v || json_is_null(v)) {
        if (required)
            return mi_error_set(MI_ERR, "event: %s: '%s' is missing", r->source, field);
        return 0;
    }
    if (!json_is_object(v))
        return bad_type(r, field, "an object");
    *out = v;
    return 0;
}

static int get_string(struct reader *r, json_t *parent, const char *key, const char *field,
                      int required, char **out)
{
    *out = NULL;
    json_t *v = parent ? json_object_get(parent, key) : NULL;
    if (!v || json_is_null(v)) {
        if (required)
            return mi_error_set(MI_ERR, "event: %s: '%s' is missing", r->source, field);
        return 0;
    }
    if (!json_is_string(v))
        return bad_type(r, field, "a string");
    /* A NUL inside the string would make the C copy say something else than the JSON. */
    if (strlen(json_string_value(v)) != json_string_length(v))
        return mi_error_set(MI_ERR, "event: %s: '%s' contains a NUL character", r->source, field);
    *out = mi_xstrdup(json_string_value(v));
    return 0;
}

static int get_bool(struct reader *r, json_t *parent, const char *key, const char *field, int *out)
{
    *out = 0;
    json_t *v = parent ? json_object_get(parent, key) : NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v))
        return bad_type(r, field, "true or false");
    *out = json_is_true(v);
    return 0;
}

static int get_sha(struct reader *r, json_t *parent, const char *key, const char *field,
                   int required, char **out)
{
    int rc = get_string(r, parent, key, field, required, out);
    if (rc || !*out)
        return rc;
    if (!mi_context_sha_valid(*out)) {
        rc = mi_error_set(MI_ERR, "event: %s: '%s' is not a commit id: '%s'", r->source, field,
                          shown(&r->show, *out));
        free(*out);
        *out = NULL;
    }
    return rc;
}

static int get_branch(struct reader *r, json_t *parent, const char *key, const char *field,
                      int required, char **out)
{
    int rc = get_string(r, parent, key, field, required, out);
    if (rc || !*out)
        return rc;
    if (!mi_context_branch_valid(*out)) {
        rc = mi_error_set(MI_ERR, "event: %s: '%s' is not a valid branch name: '%s'", r->source,
                          field, shown(&r->show, *out));
        free(*out);
        *out = NULL;
    }
    return rc;
}

static int get_repo_name(struct reader *r, json_t *repo, const char *field, char **out)
{
    int rc = get_string(r, repo, "full_name", field, REQUIRED, out);
    if (rc)
        return rc;
    if (!repo_name_valid(*out)) {
        rc = mi_error_set(MI_ERR, "event: %s: '%s' is not an owner/name repository: '%s'",
                          r->source, field, shown(&r->show, *out));
        free(*out);
        *out = NULL;
    }
    return rc;
}

/* Splits refs/heads/<branch>; a tag or other ref leaves branch NULL. The whole ref is
 * validated as a git ref name first. */
static int branch_from_ref(struct reader *r, const char *ref, const char *field, char **branch)
{
    *branch = NULL;
    int valid = 0;
    if (git_reference_name_is_valid(&valid, ref) < 0 || !valid)
        return mi_error_set(MI_ERR, "event: %s: '%s' is not a valid ref: '%s'", r->source, field,
                            shown(&r->show, ref));
    if (strncmp(ref, "refs/heads/", 11) != 0)
        return 0;
    if (!mi_context_branch_valid(ref + 11))
        return mi_error_set(MI_ERR, "event: %s: '%s' is not a valid branch name: '%s'", r->source,
                            field, shown(&r->show, ref + 11));
    *branch = mi_xstrdup(ref + 11);
    return 0;
}

static int parse_pull_request(struct reader *r, json_t *root, struct mi_context *c)
{
    json_t *pr, *base, *head, *base_repo, *head_repo;
    int rc;
    if ((rc = get_string(r, root, "action", "action", OPTIONAL, &c->action)) ||
        (rc = get_object(r, root, "pull_request", "pull_request", REQUIRED, &pr)) ||
        (rc = get_object(r, pr, "base", "pull_request.base", REQUIRED, &base)) ||
        (rc = get_object(r, pr, "head", "pull_request.head", REQUIRED, &head)) ||
        (rc = get_branch(r, base, "ref", "pull_request.base.ref", REQUIRED, &c->branch)) ||
        (rc = get_sha(r, base, "sha", "pull_request.base.sha", REQUIRED, &c->base_sha)) ||
        (rc = get_branch(r, head, "ref", "pull_request.head.ref", REQUIRED, &c->head_ref)) ||
        (rc = get_sha(r, head, "sha", "pull_request.head.sha", REQUIRED, &c->head_sha)) ||
        (rc = get_sha(r, pr, "merge_commit_sha", "pull_request.merge_commit_sha", OPTIONAL,
                      &c->merge_sha)) ||
        (rc = get_bool(r, pr, "merged", "pull_request.merged", &c->merged)) ||
        (rc = get_object(r, base, "repo", "pull_request.base.repo", REQUIRED, &base_repo)) ||
        (rc = get_object(r, head, "repo", "pull_request.head.repo", OPTIONAL, &head_repo)) ||
        (rc = get_repo_name(r, base_repo, "pull_request.base.repo.full_name", &c->base_repo)))
        return rc;
    if (head_repo &&
        (rc = get_repo_name(r, head_repo, "pull_request.head.repo.full_name", &c->head_repo)))
        return rc;
    json_t *num = json_object_get(pr, "number");
    if (!num)
        num = json_object_get(root, "number");
    if (!json_is_integer(num) || json_integer_value(num) <= 0)
        return mi_error_set(MI_ERR, "event: %s: 'pull_request.number' is not a positive integer",
                            r->source);
    c->pr_number = (long)json_integer_value(num);
    /* A deleted head repository cannot be shown to be ours, so it counts as a fork: the
     * safe side, since forks get no secrets and are never applied. */
    c->fork = !c->head_repo || strcmp(c->head_repo, c->base_repo) != 0;
    c->ref = mi_xasprintf("refs/heads/%s", c->branch);
    if (!c->repository)
        c->repository = mi_xstrdup(c->base_repo);
    return 0;
}

static int parse_push(struct reader *r, json_t *root, struct mi_context *c)
{
    int rc;
    if ((rc = get_string(r, root, "ref", "ref", REQUIRED, &c->ref)) ||
        (rc = branch_from_ref(r, c->ref, "ref", &c->branch)) ||
        (rc = get_sha(r, root, "before", "before", REQUIRED, &c->before)) ||
        (rc = get_sha(r, root, "after", "after", REQUIRED, &c->after)) ||
        (rc = get_bool(r, root, "created", "created", &c->created)) ||
        (rc = get_bool(r, root, "deleted", "deleted", &c->deleted)) ||
        (rc = get_bool(r, root, "forced", "forced", &c->forced)))
        return rc;
    /* The ids are what the diff uses; the flags are GitHub's summary of them. */
    if (mi_context_sha_is_zero(c->before))
        c->created = 1;
    if (mi_context_sha_is_zero(c->after))
        c->deleted = 1;
    return 0;
}

static int parse_dispatch(struct reader *r, json_t *root, struct mi_context *c)
{
    int rc;
    json_t *inputs;
    if ((rc = get_string(r, root, "ref", "ref", REQUIRED, &c->ref)) ||
        (rc = branch_from_ref(r, c->ref, "ref", &c->branch)) ||
        (rc = get_object(r, root, "inputs", "inputs", OPTIONAL, &inputs)))
        return rc;
    json_t *env = inputs ? json_object_get(inputs, "environment") : NULL;
    if (env && json_is_string(env) && json_string_length(env) > 0) {
        if ((rc = get_string(r, inputs, "environment", "inputs.environment", REQUIRED,
                             &c->input_environment)))
            return rc;
        if (!mi_path_env_name_valid(c->input_environment))
            return mi_error_set(MI_EUSAGE,
                                "event: %s: 'inputs.environment' is not a valid environment "
                                "name (expected [a-z0-9][a-z0-9_-]*): '%s'",
                                r->source, shown(&r->show, c->input_environment));
    } else if (env && !json_is_null(env) && !json_is_string(env)) {
        return bad_type(r, "inputs.environment", "a string");
    }
    return 0;
}

static const char *infer_event_name(json_t *root)
{
    if (json_is_object(json_object_get(root, "pull_request")))
        return "pull_request";
    if (json_object_get(root, "inputs") && json_object_get(root, "ref") &&
        json_object_get(root, "workflow"))
        return "workflow_dispatch";
    if (json_object_get(root, "before") && json_object_get(root, "after") &&
        json_object_get(root, "ref"))
        return "push";
    return NULL;
}

static int event_name_valid(const char *s)
{
    if (!*s || strlen(s) > 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || *s == '_'))
            return 0;
    return 1;
}

int mi_context_parse_event(struct mi_context **out, const char *event_name, const char *json,
                           size_t len, const char *source)
{
    *out = NULL;
    struct reader r = {source ? source : "payload", MI_BUF_INIT};
    struct mi_context *c = mi_xcalloc(1, sizeof(*c));
    json_error_t jerr;
    json_t *root = NULL;
    int rc = 0;

    if (len > MI_EVENT_MAX_BYTES) {
        rc = mi_error_set(MI_ERR, "event: %s: payload of %zu bytes is larger than %u bytes",
                          r.source, len, MI_EVENT_MAX_BYTES);
        goto done;
    }
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        rc = mi_error_set(MI_ERR, "event: %s:%d:%d: malformed JSON: %s", r.source, jerr.line,
                          jerr.column, jerr.text);
        goto done;
    }
    if (!json_is_object(root)) {
        rc = mi_error_set(MI_ERR, "event: %s: the payload is not a JSON object", r.source);
        goto done;
    }
    if (!event_name || !*event_name) {
        event_name = infer_event_name(root);
        if (!event_name) {
            rc = mi_error_set(MI_EUSAGE,
                              "event: %s: cannot tell the event kind from the payload; "
                              "set GITHUB_EVENT_NAME or --event-name",
                              r.source);
            goto done;
        }
    }
    if (!event_name_valid(event_name)) {
        rc =
            mi_error_set(MI_EUSAGE, "event: '%s' is not an event name", shown(&r.show, event_name));
        goto done;
    }
    c->event_name = mi_xstrdup(event_name);

    json_t *repo = NULL;
    if ((rc = get_object(&r, root, "repository", "repository", OPTIONAL, &repo)))
        goto done;
    if (repo && (rc = get_repo_name(&r, repo, "repository.full_name", &c->repository)))
        goto done;

    if (strcmp(event_name, "pull_request") == 0 || strcmp(event_name, "pull_request_target") == 0) {
        /* Both carry the same payload; they differ in what the run is given (context.h). */
        c->kind = MI_EVENT_PULL_REQUEST;
        c->base_context = strcmp(event_name, "pull_request_target") == 0;
        rc = parse_pull_request(&r, root, c);
    } else if (strcmp(event_name, "push") == 0) {
        c->kind = MI_EVENT_PUSH;
        rc = parse_push(&r, root, c);
    } else if (strcmp(event_name, "workflow_dispatch") == 0) {
        c->kind = MI_EVENT_WORKFLOW_DISPATCH;
        rc = parse_dispatch(&r, root, c);
    } else {
        c->kind = MI_EVENT_OTHER;
    }

done:
    json_decref(root);
    mi_buf_release(&r.show);
    if (rc)
        mi_context_free(c);
    else
        *out = c;
    return rc;
}

/* ---------------------------------------------------------------------------------------
 * The environment.
 */

static const char *env_or_null(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

int mi_context_load(struct mi_context **out, const char *event_name, const char *event_path)
{
    *out = NULL;
    mi_buf data = MI_BUF_INIT, show = MI_BUF_INIT;
    struct mi_context *c = NULL;
    int rc = 0;
    if (!event_name)
        event_name = env_or_null("GITHUB_EVENT_NAME");
    if (!event_path)
        event_path = env_or_null("GITHUB_EVENT_PATH");
    if (!event_path) {
        rc =
            mi_error_set(MI_EUSAGE, "event: no event payload: GITHUB_EVENT_PATH is not set "
                                    "(outside GitHub Actions, pass --event FILE or --base/--head)");
        goto done;
    }
    if ((rc = mi_fs_read_file(&data, event_path, MI_EVENT_MAX_BYTES))) {
        mi_error_prefix("event");
        goto done;
    }
    if ((rc = mi_context_parse_event(&c, event_name, data.ptr, data.len, event_path)))
        goto done;

    const char *repo = env_or_null("GITHUB_REPOSITORY");
    if (repo) {
        if (!repo_name_valid(repo)) {
            rc = mi_error_set(MI_ERR, "event: GITHUB_REPOSITORY is not owner/name: '%s'",
                              shown(&show, repo));
            goto done;
        }
        free(c->repository);
        c->repository = mi_xstrdup(repo);
    }
    const char *sha = env_or_null("GITHUB_SHA");
    if (sha) {
        if (!mi_context_sha_valid(sha)) {
            rc = mi_error_set(MI_ERR, "event: GITHUB_SHA is not a commit id: '%s'",
                              shown(&show, sha));
            goto done;
        }
        c->sha = mi_xstrdup(sha);
    }
    const char *ref = env_or_null("GITHUB_REF");
    if (ref && !c->ref) {
        /* Only events without a ref of their own (schedule, ...) take GITHUB_REF. */
        struct reader r = {"GITHUB_REF", MI_BUF_INIT};
        c->ref = mi_xstrdup(ref);
        rc = branch_from_ref(&r, ref, "GITHUB_REF", &c->branch);
        mi_buf_release(&r.show);
        if (rc)
            goto done;
    }

done:
    mi_buf_release(&data);
    mi_buf_release(&show);
    if (rc)
        mi_context_free(c);
    else
        *out = c;
    return rc;
}

int mi_context_local(struct mi_context **out, const char *branch)
{
    *out = NULL;
    if (branch && !mi_context_branch_valid(branch)) {
        mi_buf show = MI_BUF_INIT;
        int rc = mi_error_set(MI_EUSAGE, "'%s' is not a valid branch name", shown(&show, branch));
        mi_buf_release(&show);
        return rc;
    }
    struct mi_context *c = mi_xcalloc(1, sizeof(*c));
    c->kind = MI_EVENT_LOCAL;
    c->event_name = mi_xstrdup("local");
    if (branch) {
        c->branch = mi_xstrdup(branch);
        c->ref = mi_xasprintf("refs/heads/%s", branch);
    }
    *out = c;
    return 0;
}
