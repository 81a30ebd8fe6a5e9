/*
 * context.h - the run context: what GitHub tells us about this run, from the GITHUB_*
 * variables and the event payload at GITHUB_EVENT_PATH.
 *
 * Rules:
 *  - Everything taken from the payload is validated here, before anyone else sees it:
 *    commit ids are 40 (SHA-1) or 64 (SHA-256) lowercase hex digits, branch names are valid
 *    git ref names, the repository is "owner/name", an environment asked for by a dispatch is a
 *    valid environment name (context/path.h). A payload that fails a check is refused with a
 *    message naming the field; nothing unchecked reaches a path or a process.
 *  - struct mi_context owns all of its strings; mi_context_free(NULL) is a no-op.
 *  - Fields that the event does not carry are NULL (strings) or 0.
 *  - jansson: the parsed payload lives only inside mi_context_parse_event; no json_t escapes.
 *  - This module reads the process environment (getenv) and the event file; it never prints,
 *    never exits, never touches the repository.
 */
#ifndef MI_CONTEXT_CONTEXT_H
#define MI_CONTEXT_CONTEXT_H

#include <stddef.h>

/* The largest event payload accepted (GitHub caps webhook payloads at 25 MB). */
#define MI_EVENT_MAX_BYTES (25u * 1024u * 1024u)

enum mi_event_kind {
    MI_EVENT_PULL_REQUEST,      /* pull_request, pull_request_target (base_context set) */
    MI_EVENT_PUSH,              /* push */
    MI_EVENT_WORKFLOW_DISPATCH, /* workflow_dispatch */
    MI_EVENT_LOCAL,             /* no event: commits and branch given on the command line */
    MI_EVENT_OTHER,             /* any other event (schedule, ...): a full run of GITHUB_REF */
};

struct mi_context {
    enum mi_event_kind kind;
    char *event_name; /* as GitHub names it: "pull_request", "push", ... */
    char *action;     /* pull_request: "opened", "synchronize", "reopened", "closed", ... */
    char *repository; /* "owner/name" */
    char *ref;        /* the full ref: payload's for push/dispatch, else GITHUB_REF */
    char *sha;        /* GITHUB_SHA (for a pull request, the test merge commit) */
    /* The branch that names the environment: a pull request's base branch, the pushed or
     * dispatched branch. NULL when the ref is not a branch (a tag). */
    char *branch;

    /* pull_request */
    long pr_number;
    char *base_sha;  /* base branch tip when the event was sent */
    char *head_sha;  /* the pull request's head commit */
    char *head_ref;  /* the head branch (in the head repository) */
    char *merge_sha; /* merge_commit_sha when the payload has one */
    char *base_repo; /* "owner/name" of the base repository */
    char *head_repo; /* "owner/name" of the head repository, NULL when it was deleted */
    int merged;      /* closed by merging */
    int fork;        /* head repository differs from the base one (or is gone) */
    /* pull_request_target: the run is in the base repository's context, with its secrets and
     * a write token, whatever repository the head comes from (pull_request gives a fork's
     * run neither). */
    int base_context;

    /* push */
    char *before; /* may be the all-zero id: a new branch */
    char *after;  /* the all-zero id when the branch was deleted */
    int created, deleted, forced;

    /* workflow_dispatch: inputs.environment, when given (validated name) */
    char *input_environment;
};

/* Parses an event payload. event_name NULL infers the kind from the payload's shape
 * (pull_request object, before/after, inputs). source names the payload in messages (a
 * file path). Does not read the environment. */
int mi_context_parse_event(struct mi_context **out, const char *event_name, const char *json,
                           size_t len, const char *source);

/* The context of this run: reads GITHUB_EVENT_NAME, GITHUB_EVENT_PATH, GITHUB_REPOSITORY,
 * GITHUB_REF, GITHUB_SHA; event_name and event_path, when not NULL, take precedence over the
 * variables. Fails (MI_EUSAGE) when there is no event file to read. */
int mi_context_load(struct mi_context **out, const char *event_name, const char *event_path);

/* A context for a run without an event (command line: base and head revisions, branch).
 * branch may be NULL (every environment is a candidate); it is validated otherwise. */
int mi_context_local(struct mi_context **out, const char *branch);

void mi_context_free(struct mi_context *ctx);

/* 1 when the run holds the base repository's secrets while the pull request's head is a
 * fork's code (pull_request_target from a fork): terraform run on that head would hand the
 * secrets to the fork's author. 0 otherwise, and for NULL. */
int mi_context_fork_with_secrets(const struct mi_context *ctx);

/* 1 when name is a valid git branch name (refs/heads/<name> is a valid ref, no control
 * characters, at most 255 bytes). */
int mi_context_branch_valid(const char *name);
/* 1 when hex is a full commit id: 40 or 64 lowercase hex digits. */
int mi_context_sha_valid(const char *hex);
/* 1 when hex is a commit id made of zeros only (GitHub's "no commit"). */
int mi_context_sha_is_zero(const char *hex);

const char *mi_context_kind_name(enum mi_event_kind kind);

#endif
