/*
 * changes.h - the change model: what a terraform plan will do, read from `terraform show -json
 * PLANFILE` (terraform's JSON output format, format_version 0.x and 1.x).
 *
 * Rules:
 *  - mi_tfplan_parse builds a struct mi_tfplan that owns every string and array in it;
 *    mi_tfplan_free(NULL) is a no-op. Nothing in it points into the JSON text, and no json_t
 *    escapes this module (jansson values are borrowed while walking, the document is
 *    decref'd on the single exit path).
 *  - Values are kept as compact JSON text ("\"eastus\"", "3", "{\"a\":1}"), so a reader can tell
 *    a string from a number. A sensitive value is never stored in an attribute: before/after
 *    are NULL and the *_sensitive flag is set. Sensitive values are collected only into
 *    `sensitive`, the list a redactor needs (values of at least MI_TFPLAN_SECRET_MIN bytes,
 *    plus each line of a multi-line value, distinct, longest first).
 *  - Counts follow terraform's "Plan: X to add, Y to change, Z to destroy": a replacement
 *    counts once in add and once in destroy, and again in `replace`.
 *  - A document that is not a plan (not an object, no format_version, a major format version
 *    we do not know, a resource change without address or actions, an unknown action) is
 *    refused with MI_ERR and a message naming the source and the entry.
 *  - Nothing here prints, exits or runs terraform.
 */
#ifndef MI_TERRAFORM_CHANGES_H
#define MI_TERRAFORM_CHANGES_H

#include <stddef.h>

/* Shortest sensitive value collected for redaction (shorter ones, like "1" or "true", would
 * blank out half a plan; util/log.h uses the same threshold). */
#define MI_TFPLAN_SECRET_MIN 4
/* Changed attributes kept per resource; attrs_total says how many there were. */
#define MI_TFPLAN_ATTRS_MAX 64

enum mi_tfplan_action {
    MI_TFPLAN_NOOP,
    MI_TFPLAN_CREATE,
    MI_TFPLAN_READ,
    MI_TFPLAN_UPDATE,
    MI_TFPLAN_REPLACE_DBC, /* ["delete","create"]: destroy first, then create (downtime) */
    MI_TFPLAN_REPLACE_CBD, /* ["create","delete"]: create_before_destroy */
    MI_TFPLAN_DELETE,
    MI_TFPLAN_FORGET, /* ["forget"]: removed from state, object left alone (removed block) */
};
#define MI_TFPLAN_ACTION_COUNT 8

struct mi_tfplan_attr {
    char *path;   /* "tags.env", "rule[0].port", "tags[\"a.b\"]" */
    char *before; /* compact JSON; NULL when absent or sensitive */
    char *after;  /* compact JSON; NULL when absent, unknown or sensitive */
    unsigned before_sensitive : 1;
    unsigned after_sensitive : 1;
    unsigned after_unknown : 1;      /* "(known after apply)" */
    unsigned forces_replacement : 1; /* under one of replace_paths */
};

struct mi_tfplan_resource {
    char *address;
    char *previous_address; /* moved from (a `moved` block or a renamed index); else NULL */
    char *module_address;   /* NULL in the root module */
    char *mode;             /* "managed" or "data" */
    char *type;
    char *name;
    char *provider_name;
    char *deposed; /* deposed object key; NULL for the current object */
    enum mi_tfplan_action action;
    char *action_reason; /* terraform's action_reason, e.g. "replace_because_cannot_update" */
    int importing;       /* the change imports an existing object */
    char *import_id;     /* importing.id when given */
    /* Changed attributes (for create: the known non-null ones; none for delete, forget). */
    struct mi_tfplan_attr *attrs;
    size_t attrs_len;
    size_t attrs_total;
    /* The attributes that force a replacement, as paths ("name", "ingress[0].port"). */
    char **replace_paths;
    size_t replace_paths_len;
};

struct mi_tfplan_output {
    char *name;
    enum mi_tfplan_action action;
    char *before; /* compact JSON; NULL when absent or sensitive */
    char *after;  /* compact JSON; NULL when absent, unknown or sensitive */
    int sensitive;
    int after_unknown;
};

struct mi_tfplan_counts {
    size_t add, change, destroy; /* as terraform's "Plan:" line */
    size_t replace;              /* of which replacements */
    size_t read, import, move, forget, noop;
    size_t outputs; /* output values that change */
};

struct mi_tfplan {
    char *format_version;
    char *terraform_version;
    struct mi_tfplan_resource *resources; /* resource_changes, in the plan's order (no-ops too) */
    size_t resources_len;
    struct mi_tfplan_resource *drift; /* resource_drift: changes made outside terraform */
    size_t drift_len;
    struct mi_tfplan_output *outputs; /* output_changes, no-ops included */
    size_t outputs_len;
    struct mi_tfplan_counts counts;
    char **sensitive; /* values to redact (see the rules) */
    size_t sensitive_len;
    int errored;  /* the plan stopped on an error (terraform 1.4+) */
    int complete; /* 0 when terraform deferred changes to a later plan */
};

int mi_tfplan_parse(struct mi_tfplan **out, const char *json, size_t len, const char *source);
/* Reads and parses a file (capped at 1 GiB). */
int mi_tfplan_load(struct mi_tfplan **out, const char *path);
void mi_tfplan_free(struct mi_tfplan *c);

/* 1 when applying the plan would change anything: a resource action other than no-op, a
 * move, an import, or an output change (terraform's own rule for "No changes."). */
int mi_tfplan_has_changes(const struct mi_tfplan *c);

/* "create", "update", "replace", ... (the word terraform uses; both replace orders give
 * "replace"). */
const char *mi_tfplan_action_name(enum mi_tfplan_action a);
/* 1 for both replacement orders. */
int mi_tfplan_is_replace(enum mi_tfplan_action a);

#endif
