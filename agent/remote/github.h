/*
 * github.h - the GitHub REST client: the authenticated identity, issue comments (the PR
 * comment of DESIGN.md section 8), commit -> pull request resolution, pull requests and their
 * reviews, deployments and deployment statuses.
 *
 * Rules:
 *  - One mi_github per repository and thread; it is not thread-safe. It copies everything in
 *    its options, so they may be freed after mi_github_new. mi_github_free(NULL) is a no-op.
 *  - Every request carries "Authorization: Bearer TOKEN", "Accept: application/vnd.github+json",
 *    "X-GitHub-Api-Version: 2022-11-28" and a User-Agent. The base URL is options.api_url
 *    (GITHUB_API_URL; GitHub Enterprise Server is ".../api/v3"), without a trailing slash.
 *  - Retries (via http.h): transport errors and 5xx with backoff; secondary rate limits (403 or
 *    429 with Retry-After, or x-ratelimit-remaining: 0 with x-ratelimit-reset) after the delay
 *    GitHub asks for, capped by options.retry.max_delay_ms. A primary-limit reset further away
 *    than that cap (or a Retry-After longer than it) is not waited for: the call fails saying
 *    when the limit lifts; a rate-limit failure is MI_ERR, not MI_EAUTH. Other 4xx are never
 *    retried. Creates that are not idempotent (comment, deployment) are resent only after a
 *    rate-limit refusal, never after a transport error or 5xx that may have taken effect;
 *    mi_github_comment_upsert looks for the comment again before it tries once more.
 *  - Defaults: 4 attempts, 1 s first backoff, 60 s cap on a wait, 60 s per request.
 *  - Errors: 401 and 403 return MI_EAUTH, 404 MI_ENOTFOUND, 409 MI_ECONFLICT, anything else
 *    MI_ERR. The message names the method and endpoint, GitHub's own message, and for 401/403/
 *    404 the workflow permission the call needs (e.g. "pull-requests: write"). The token never
 *    appears in a message. The caller should still register it with mi_log_mask().
 *  - Pagination follows the Link header's rel="next" until it is absent, and only to URLs on
 *    the same scheme and host as api_url (a next link elsewhere is an error: the token must not
 *    leave for another host). Page size is options.per_page (default and maximum 100).
 *  - Returned structs and lists are owned by the caller and freed with their _free/_release
 *    function; every char * field in them is owned by the struct (NULL when GitHub sent null).
 *    Borrowed strings are marked "borrowed" and live as long as the mi_github.
 *  - Nothing here prints, logs or exits.
 */
#ifndef MI_GITHUB_H
#define MI_GITHUB_H

#include <stddef.h>

#include "remote/http.h"

/* GitHub refuses issue comments longer than this many characters (Unicode code points). */
#define MI_GITHUB_COMMENT_MAX 65536

/* The login GITHUB_TOKEN's comments are written by. */
#define MI_GITHUB_ACTIONS_BOT "github-actions[bot]"

struct mi_github_options {
    const char *api_url;    /* NULL: "https://api.github.com" */
    const char *token;      /* required */
    const char *repository; /* "owner/name", required */
    const char *user_agent; /* NULL: "mlinfra/VERSION" */
    /* Identity to assume when GET /user is refused with 403, as it is for GITHUB_TOKEN and
     * other GitHub App installation tokens. NULL: MI_GITHUB_ACTIONS_BOT. An App token should
     * set "<app-slug>[bot]". */
    const char *bot_login;
    struct mi_http_retry retry; /* zeros: the defaults above; classify is set by this module */
    long timeout_ms;            /* per request; 0: 60 000 */
    long connect_timeout_ms;    /* 0: http.h default */
    int per_page;               /* 0: 100 */
};

typedef struct mi_github mi_github;

/* Fills o with borrowed values from the environment: GITHUB_API_URL, GITHUB_TOKEN,
 * GITHUB_REPOSITORY, MLINFRA_GITHUB_BOT_LOGIN. Unset variables stay NULL; other fields zero. */
void mi_github_options_from_env(struct mi_github_options *o);

/* Checks the options (token and "owner/name" present, api_url http(s)); MI_EUSAGE if not. */
int mi_github_new(mi_github **out, const struct mi_github_options *opts);
void mi_github_free(mi_github *gh);

/* The repository "owner/name" and the API base URL (borrowed). */
const char *mi_github_repository(const mi_github *gh);
const char *mi_github_api_url(const mi_github *gh);

/* ---- identity ------------------------------------------------------------------------------ */

/* The login whose comments are ours: GET /user, or bot_login when that is refused with 403
 * (installation tokens). Asked once and cached. *out is borrowed. *fallback (may be NULL) is
 * set to 1 when bot_login was assumed. */
int mi_github_identity(const char **out, mi_github *gh, int *fallback);

/* ---- issue comments ------------------------------------------------------------------------ */

struct mi_github_comment {
    long long id;
    char *body;
    char *user_login;
    char *html_url;
    char *created_at;
    char *updated_at;
};

struct mi_github_comment_list {
    struct mi_github_comment *items;
    size_t len;
};

#define MI_GITHUB_COMMENT_LIST_INIT                                                                \
    {                                                                                              \
        NULL, 0                                                                                    \
    }

void mi_github_comment_free(struct mi_github_comment *c);
void mi_github_comment_list_release(struct mi_github_comment_list *l);

/* Every comment of issue or pull request `number`, all pages, oldest first. */
int mi_github_comments_list(struct mi_github_comment_list *out, mi_github *gh, long long number);

/* The oldest comment on `number` written by our identity whose body contains marker.
 * MI_ENOTFOUND (with a message) when there is none; comments by anyone else never match. */
int mi_github_comment_find(struct mi_github_comment **out, mi_github *gh, long long number,
                           const char *marker);

/* Create / update / get one comment. Bodies over MI_GITHUB_COMMENT_MAX characters or not valid
 * UTF-8 are refused with MI_EUSAGE before anything is sent. */
int mi_github_comment_create(struct mi_github_comment **out, mi_github *gh, long long number,
                             const char *body);
int mi_github_comment_update(struct mi_github_comment **out, mi_github *gh, long long comment_id,
                             const char *body);
int mi_github_comment_get(struct mi_github_comment **out, mi_github *gh, long long comment_id);

/* Finds our comment carrying marker and updates it in place, or creates one when there is
 * none: never a second comment. The body should contain the marker so it is found next time.
 * *created (may be NULL) is 1 when a new comment was made. */
int mi_github_comment_upsert(struct mi_github_comment **out, mi_github *gh, long long number,
                             const char *marker, const char *body, int *created);

/* Unicode code points in a UTF-8 string, as GitHub counts a comment's length; -1 when s is not
 * valid UTF-8. */
long mi_github_body_chars(const char *s, size_t len);

/* ---- pull requests ------------------------------------------------------------------------- */

struct mi_github_pull {
    long long number;
    char *state; /* "open" or "closed" */
    int merged;  /* merged_at is set */
    int draft;
    char *title;
    char *html_url;
    char *user_login;
    char *head_sha;
    char *head_ref;
    char *head_repo; /* head.repo.full_name; NULL when the fork was deleted */
    char *base_ref;
    char *base_sha;
    char *merge_commit_sha; /* the merge, squash or last rebased commit once merged */
    char *merged_at;
};

struct mi_github_pull_list {
    struct mi_github_pull *items;
    size_t len;
};

#define MI_GITHUB_PULL_LIST_INIT                                                                   \
    {                                                                                              \
        NULL, 0                                                                                    \
    }

void mi_github_pull_free(struct mi_github_pull *p);
void mi_github_pull_list_release(struct mi_github_pull_list *l);

int mi_github_pull_get(struct mi_github_pull **out, mi_github *gh, long long number);

/* GET /repos/{owner}/{repo}/commits/{sha}/pulls, all pages. */
int mi_github_commit_pulls(struct mi_github_pull_list *out, mi_github *gh, const char *sha);

/* The pull request a pushed commit `sha` merged (the apply flow). Among the commit's pulls
 * whose base is base_ref (NULL: any): the merged one whose merge_commit_sha is sha (merge
 * commits, squash merges, the last commit of a rebase merge); else the single merged one (an
 * earlier commit of a rebase merge); else the single one of any state. MI_ENOTFOUND when there
 * is none, MI_ERR naming the candidates when more than one fits. The caller checks ->merged. */
int mi_github_pull_for_commit(struct mi_github_pull **out, mi_github *gh, const char *sha,
                              const char *base_ref);

/* ---- reviews ------------------------------------------------------------------------------- */

struct mi_github_review {
    long long id;
    char *user_login;
    char *state; /* APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED, PENDING */
    char *commit_id;
    char *submitted_at;
};

struct mi_github_review_list {
    struct mi_github_review *items;
    size_t len;
};

#define MI_GITHUB_REVIEW_LIST_INIT                                                                 \
    {                                                                                              \
        NULL, 0                                                                                    \
    }

void mi_github_review_list_release(struct mi_github_review_list *l);

/* Every review of pull request `number`, all pages, in GitHub's (chronological) order. */
int mi_github_reviews_list(struct mi_github_review_list *out, mi_github *gh, long long number);

struct mi_github_approval {
    int approvals;         /* reviewers whose latest deciding review is APPROVED */
    int changes_requested; /* reviewers whose latest deciding review is CHANGES_REQUESTED */
    char *approvers;       /* their logins, ", "-separated; NULL when none */
};

#define MI_GITHUB_APPROVAL_INIT                                                                    \
    {                                                                                              \
        0, 0, NULL                                                                                 \
    }

void mi_github_approval_release(struct mi_github_approval *a);

/* Summarises the reviews of `number` as GitHub does: per reviewer the latest APPROVED,
 * CHANGES_REQUESTED or DISMISSED review counts (COMMENTED and PENDING do not change a
 * decision). With head_sha set, only reviews of that commit count (an approval of an older
 * push is stale). Approved means approvals > 0 && changes_requested == 0. */
int mi_github_pull_approval(struct mi_github_approval *out, mi_github *gh, long long number,
                            const char *head_sha);

/* ---- deployments --------------------------------------------------------------------------- */

struct mi_github_deployment_request {
    const char *ref;          /* SHA, branch or tag; required */
    const char *environment;  /* required */
    const char *description;  /* may be NULL */
    const char *task;         /* NULL: "deploy" */
    const char *payload_json; /* a JSON object as text, or NULL */
    int transient;
    int production;
};

/* Creates a deployment (auto_merge false, required_contexts empty: the merge already passed
 * its checks). Needs "deployments: write". *out_id gets the deployment id. */
int mi_github_deployment_create(long long *out_id, mi_github *gh,
                                const struct mi_github_deployment_request *req);

struct mi_github_deployment_status_request {
    const char *state; /* error, failure, inactive, in_progress, queued, pending, success */
    const char *environment_url; /* the service address; may be NULL */
    const char *log_url;         /* the run's URL; may be NULL */
    const char *description;     /* may be NULL; shortened to GitHub's 140 characters */
    /* 0 (the default): on success GitHub marks the environment's earlier deployments
     * inactive; 1: leave them as they are (auto_inactive false). */
    int keep_previous_active;
};

struct mi_github_deployment_status {
    long long id;
    char *state;
    char *environment;
    char *environment_url;
    char *log_url;
    char *description;
    char *created_at;
};

struct mi_github_deployment_status_list {
    struct mi_github_deployment_status *items;
    size_t len;
};

#define MI_GITHUB_DEPLOYMENT_STATUS_LIST_INIT                                                      \
    {                                                                                              \
        NULL, 0                                                                                    \
    }

void mi_github_deployment_status_list_release(struct mi_github_deployment_status_list *l);

int mi_github_deployment_status_create(long long *out_id, mi_github *gh, long long deployment_id,
                                       const struct mi_github_deployment_status_request *req);
/* All statuses of a deployment, newest first (GitHub's order). */
int mi_github_deployment_statuses_list(struct mi_github_deployment_status_list *out, mi_github *gh,
                                       long long deployment_id);

/* ---- header parsing (exported for the fuzz target and tests) -------------------------------- */

/* The URL of rel="next" in a Link header value (RFC 8288: "<url>; rel=\"next\", ..."), caller
 * frees; NULL when there is none or the header is malformed. */
char *mi_github_link_next(const char *link);

/* How long GitHub asks us to wait before retrying response r, in milliseconds: Retry-After
 * when present; else, when x-ratelimit-remaining is 0, until x-ratelimit-reset (epoch seconds)
 * measured from now_s (epoch seconds), at least 1 000. -1 when r says nothing about waiting. */
long mi_github_rate_limit_delay_ms(const struct mi_http_response *r, long long now_s);

/* Whether r is a rate-limit refusal (429, or 403 with Retry-After, x-ratelimit-remaining: 0,
 * or a "rate limit" message) rather than a permission problem. */
int mi_github_is_rate_limited(const struct mi_http_response *r);

#endif
