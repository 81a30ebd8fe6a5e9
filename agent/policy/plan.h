/*
 * plan.h - the plan model policies are evaluated against, built once from the output of
 * `terraform show -json` (or a state file's JSON).
 *
 * It is terraform-compliance's model of a plan, so policies behave as they do there:
 *  - resources: planned_values (root and child modules), replaced by resource_changes
 *    entries whose "values" are change.after (deleted resources drop out), each with its
 *    "actions"; module resources carry their module's "source";
 *  - references from the configuration are "mounted": a resource referencing another gets
 *    the other's values under the other's type (or the referencing resource's "type"
 *    argument, which is how security group rules join their group), in both directions,
 *    with the addresses under terraform-compliance.mounted_resources*; arguments that are
 *    unknown until apply become the referenced address;
 *  - configuration blocks fill in what the provider left out of the planned values;
 *  - unknown-after-apply attributes are remembered per resource type (after_unknown) so
 *    "resource that supports X" finds types where X is only known after apply;
 *  - every string that is itself a JSON document is decoded ("jsonify"), ASG-style
 *    tag lists gain key: value entries;
 *  - data sources, variables, configuration variables, outputs and providers.
 *
 * Rules:
 *  - mi_plan_load* return a model the caller frees with mi_plan_free (NULL-safe). The model
 *    is immutable afterwards and may be shared by any number of evaluations (read-only).
 *  - Every value lives in the model's arena; pointers into it are borrowed.
 *  - Errors name the file and position; never prints, never exits.
 */
#ifndef MI_POLICY_PLAN_H
#define MI_POLICY_PLAN_H

#include <stddef.h>

#include "policy/value.h"

#define MI_PLAN_MAX_BYTES ((size_t)2 * 1024 * 1024 * 1024)

/* Keys terraform-compliance adds to resources. */
#define MI_PLAN_MOUNTED "terraform-compliance.mounted"
#define MI_PLAN_MOUNTED_RESOURCES "terraform-compliance.mounted_resources"
#define MI_PLAN_MOUNTED_ADDRESSES "terraform-compliance.mounted_resources.addresses"
#define MI_PLAN_MOUNTED_ADDRESS_LIST "terraform-compliance.mounted_resources.addresses_list"

typedef struct mi_plan {
    mi_arena arena;
    mi_value doc;              /* the whole document as read */
    mi_value resources;        /* dict: address -> managed resource (mounted, decoded) */
    mi_value resources_raw;    /* dict: address -> resource as before mounting */
    mi_value data;             /* dict: address -> data source */
    mi_value variables;        /* dict: name -> {"value": ...} (the plan's variables) */
    mi_value config_variables; /* dict: name -> configuration variable block */
    mi_value config_outputs;   /* dict: name -> {address, value, sensitive, type} */
    mi_value config_providers; /* dict: provider_config */
    mi_value after_unknown;    /* dict: resource type -> merged change.after_unknown */
    int is_state;              /* the document is a state (has "values"), not a plan */
    char **warnings;           /* what terraform-compliance prints while reading the plan */
    size_t nwarnings;
    size_t source_bytes;       /* size of the JSON read */
} mi_plan;

int mi_plan_load_file(mi_plan **out, const char *path);
int mi_plan_load_mem(mi_plan **out, const char *name, const char *data, size_t len);
void mi_plan_free(mi_plan *p);

/* terraform-compliance's recursive_jsonify: strings holding a JSON document become that
 * document, recursively. Returns v itself (no allocation) when nothing changes. */
mi_value mi_plan_jsonify(mi_arena *a, const mi_value *v);

#endif
