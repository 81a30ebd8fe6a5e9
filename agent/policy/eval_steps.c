/*
 * eval_steps.c - the meaning of every step: terraform-compliance's step functions
 * (cli @ f45a4fe9), one C function per Python function, in the order of its steps/ folder.
 *
 * Each function follows the Python statement by statement, including where the original
 * raises (TypeError on a lookup in a list of one string, KeyError on a missing 'address'):
 * a policy that fails or passes there fails or passes here, with the same message. Where the
 * original has a plain bug that makes a step useless (the provider branch of "it must
 * contain" empties the stash before reading it), the step does what the documentation says
 * instead; docs/policies.md lists these few places.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/eval.h"
#include "util/banned.h"

#define TRY(x)                                                                                     \
    do {                                                                                           \
        if ((x) < 0)                                                                               \
            return -1;                                                                             \
    } while (0)

static const char *arg(const struct pstep *ps, const char *name)
{
    return mi_step_arg(&ps->bind, name);
}

static int has_field(const struct pstep *ps, const char *name)
{
    return mi_step_field(&ps->bind, name) != NULL;
}

/* The context's name, as Python would print it (or an AttributeError). */
static int ctx_name(struct ev *ev, const char **out)
{
    if (!ev->ctx.name)
        return ev_raise(ev, "AttributeError", "'Context' object has no attribute 'name'");
    *out = ev->ctx.name;
    return 0;
}

static int ctx_stash(struct ev *ev, mi_value *out)
{
    if (!ev->ctx.has_stash)
        return ev_raise(ev, "AttributeError", "'Context' object has no attribute 'stash'");
    *out = ev->ctx.stash;
    return 0;
}

static const char *ctx_type(struct ev *ev)
{
    return ev->ctx.type ? ev->ctx.type : "";
}

/* ', '.join(context.addresses) */
static int joined_addresses(struct ev *ev, mi_buf *out)
{
    if (!ev->ctx.has_addresses)
        return ev_raise(ev, "AttributeError", "'Context' object has no attribute 'addresses'");
    if (ev->ctx.addresses.kind == MI_V_STR) {
        /* a string of one address (provider, data, variable) is shown as it is */
        mi_buf_add(out, ev->ctx.addresses.u.s, ev->ctx.addresses.n);
        return 0;
    }
    return py_join(ev, ", ", &ev->ctx.addresses, out);
}

/* get_resource_address_list_from_stash */
static int address_list(struct ev *ev, const mi_value *list, mi_value *out)
{
    mi_value *items;
    size_t n;
    TRY(py_iter(ev, list, &items, &n));
    mi_vlist res = MI_VLIST_INIT;
    struct ev_strset seen = {0};
    mi_value key = mi_v_str_static("address", 7);
    for (size_t i = 0; i < n; i++) {
        int in;
        if (py_in(ev, &key, &items[i], &in) < 0)
            goto fail;
        if (!in)
            continue;
        mi_value a;
        if (py_getitem(ev, &items[i], "address", &a) < 0)
            goto fail;
        if (a.kind == MI_V_STR) {
            if (ev_strset_add(&seen, a.u.s, a.n))
                mi_vlist_push(&res, a);
            continue;
        }
        int dup = 0;
        for (size_t k = 0; k < res.n; k++)
            if (py_eq(&res.items[k], &a))
                dup = 1;
        if (!dup)
            mi_vlist_push(&res, a);
    }
    ev_strset_release(&seen);
    *out = mi_vlist_finish(&res, &ev->a);
    return 0;
fail:
    ev_strset_release(&seen);
    mi_vlist_release(&res);
    return -1;
}

static void cumulative_extend(struct ev *ev, const mi_value *stash)
{
    mi_value *items;
    size_t n;
    if (py_iter(ev, stash, &items, &n) < 0) {
        ev->raised = 0; /* extend() of a non-iterable cannot happen with these stashes */
        return;
    }
    for (size_t i = 0; i < n; i++)
        mi_vlist_push(&ev->ctx.cumulative, items[i]);
}

/* ==== GIVEN: i_have_name_section_configured ============================================= */

static const struct {
    const char *alias, *type;
} resource_name[] = {
    {"AWS Auto-Scaling Group", "aws_autoscaling_group"},
    {"AWS EBS volume", "aws_ebs_volume"},
    {"AWS EC2 instance", "aws_instance"},
    {"AWS EFS file system", "aws_efs_file_system"},
    {"AWS ELB resource", "aws_elb"},
    {"AWS EMR Security Configuration", "aws_emr_security_configuration"},
    {"AWS Internet Gateway", "aws_internet_gateway"},
    {"AWS Launch Configuration", "aws_launch_configuration"},
    {"AWS RDS instance", "aws_db_instance"},
    {"AWS Route Table", "aws_route_table"},
    {"AWS S3 Bucket", "aws_s3_bucket"},
    {"AWS Security Group", "aws_security_group"},
    {"AWS VPC", "aws_vpc"},
    {"Azure SQL Database", "azurerm_sql_database"},
    {"Azure Storage Account", "azurerm_storage_account"},
    {"AWS Subnet", "aws_subnet"},
    {"AWS ElastiCache Replication Group", "aws_elasticache_replication_group"},
    {"AWS Elastic Cache Replication Group", "aws_elasticache_replication_group"},
};

static const char *convert_resource_type(const char *name)
{
    for (size_t i = 0; i < sizeof(resource_name) / sizeof(resource_name[0]); i++)
        if (strcmp(name, resource_name[i].alias) == 0)
            return resource_name[i].type;
    return name;
}

/* find_resources_by_type: managed resources of the type (every resource for "any"). */
static int find_resources_by_type(struct ev *ev, const char *type, mi_vlist *out)
{
    const mi_value *res = &ev->plan->resources;
    int any = strcmp(type, "any") == 0;
    for (uint32_t i = 0; i < res->n; i++) {
        const mi_value *r = &res->u.kv[i].v;
        if (any) {
            mi_vlist_push(out, *r);
            continue;
        }
        mi_value t;
        TRY(py_getitem(ev, r, "type", &t));
        int eq;
        TRY(m_equals_s(ev, &t, type, &eq));
        if (!eq)
            continue;
        mi_value mode;
        TRY(py_getitem(ev, r, "mode", &mode));
        if (mode.kind == MI_V_STR && strcmp(mode.u.s, "managed") == 0)
            mi_vlist_push(out, *r);
    }
    return 0;
}

/* Is there a dict key equal (case-insensitively) to needle anywhere in v? */
static int has_key_deep(const mi_value *v, const char *needle, size_t nl, int depth)
{
    if (depth > 512)
        return 0;
    if (v->kind == MI_V_DICT) {
        for (uint32_t i = 0; i < v->n; i++) {
            mi_key *k = v->u.kv[i].key;
            if (MI_KEY_LEN(k) == nl && strncasecmp(k, needle, nl) == 0)
                return 1;
            if (has_key_deep(&v->u.kv[i].v, needle, nl, depth + 1))
                return 1;
        }
    } else if (v->kind == MI_V_LIST) {
        for (uint32_t i = 0; i < v->n; i++)
            if (has_key_deep(&v->u.items[i], needle, nl, depth + 1))
                return 1;
    }
    return 0;
}

static void add_type_once(mi_vlist *types, const mi_value *t)
{
    for (size_t i = 0; i < types->n; i++)
        if (py_eq(&types->items[i], t))
            return;
    mi_vlist_push(types, *t);
}

/* remove_mounted_resources + transform_asg_style_tags on one resource (a new dict). */
static int prepare_supporting(struct ev *ev, const mi_value *r, mi_value *out)
{
    mi_arena *a = &ev->a;
    const mi_value *vals = mi_value_get(r, "values");
    if (!vals || vals->kind != MI_V_DICT) {
        *out = *r;
        return 0;
    }
    mi_vdict vd = MI_VDICT_INIT;
    mi_vdict_from(&vd, vals);
    const mi_value *mounted = mi_value_get(r, MI_PLAN_MOUNTED_RESOURCES);
    if (mounted && mounted->kind == MI_V_DICT) {
        for (uint32_t i = 0; i < mounted->n; i++) {
            const mi_value *mt = &mounted->u.kv[i].v;
            if (mt->kind == MI_V_STR)
                mi_vdict_del(&vd, mt->u.s, mt->n);
        }
    }
    mi_value nv = mi_vdict_finish(&vd, a);
    const mi_value *tag = mi_value_get(&nv, "tag");
    const mi_value *tags = mi_value_get(&nv, "tags");
    mi_value tagsv = tags ? *tags : mi_v_null();
    if (!tags || !mi_value_truthy(tags))
        tagsv = mi_v_empty_dict();
    if (tag && mi_value_truthy(tag)) {
        mi_value *items;
        size_t n;
        TRY(py_iter(ev, tag, &items, &n));
        mi_vdict td = MI_VDICT_INIT;
        if (tagsv.kind != MI_V_DICT) {
            mi_vdict_release(&td);
            return ev_raise(ev, "TypeError", "list indices must be integers or slices, not str");
        }
        mi_vdict_from(&td, &tagsv);
        for (size_t i = 0; i < n; i++) {
            const mi_value *k = mi_value_get(&items[i], "key");
            const mi_value *v = mi_value_get(&items[i], "value");
            if (items[i].kind != MI_V_DICT || !k || !v)
                continue;
            mi_buf kb = MI_BUF_INIT;
            mi_value_str(&kb, k);
            mi_vdict_set(&td, mi_value_key(a, kb.ptr, kb.len), *v);
            mi_buf_release(&kb);
        }
        tagsv = mi_vdict_finish(&td, a);
    }
    mi_vdict vd2 = MI_VDICT_INIT;
    mi_vdict_from(&vd2, &nv);
    mi_vdict_set_str(&vd2, a, "tags", tagsv);
    nv = mi_vdict_finish(&vd2, a);
    mi_vdict rd = MI_VDICT_INIT;
    mi_vdict_from(&rd, r);
    mi_vdict_set_str(&rd, a, "values", nv);
    *out = mi_vdict_finish(&rd, a);
    return 0;
}

static void set_selected(struct ev *ev, const char *type, const char *name, mi_value stash)
{
    ev->ctx.has_type = 1;
    ev->ctx.type = mi_arena_strndup(&ev->a, type, strlen(type));
    ev->ctx.name = mi_arena_strndup(&ev->a, name, strlen(name));
    ev->ctx.has_stash = 1;
    ev->ctx.stash = stash;
    cumulative_extend(ev, &stash);
}

static int step_given(struct ev *ev, const struct pstep *ps)
{
    const char *name = arg(ps, "name");
    const struct mi_step_field *tf = mi_step_field(&ps->bind, "type_name");
    const char *type_name = tf ? tf->value : "resource";
    if (!type_name)
        return ev_raise(ev, "AssertionError",
                        "None configuration type does not exist or not implemented yet. Use "
                        "resource(s), provider(s), variable(s), output(s) or data(s) instead.");
    char type[16];
    snprintf(type, sizeof(type), "%s", type_name);
    size_t tl = strlen(type);
    if (tl && type[tl - 1] == 's')
        type[tl - 1] = '\0';
    TRY(ev_read_tags(ev));
    ev->ctx.has_cumulative = 1;
    const mi_plan *p = ev->plan;
    mi_arena *a = &ev->a;

    if (!strcmp(name, "a resource") || !strcmp(name, "any resource") ||
        !strcmp(name, "resources")) {
        mi_vlist l = MI_VLIST_INIT;
        for (uint32_t i = 0; i < p->resources_raw.n; i++)
            mi_vlist_push(&l, p->resources_raw.u.kv[i].v);
        mi_value stash = mi_vlist_finish(&l, a);
        set_selected(ev, type, name, stash);
        TRY(address_list(ev, &stash, &ev->ctx.addresses));
        ev->ctx.has_addresses = 1;
        ev->ctx.has_property_name = 1;
        ev->ctx.property_name = ev->ctx.type;
        return 0;
    }
    if (!strcmp(name, "an output") || !strcmp(name, "any output") || !strcmp(name, "outputs")) {
        mi_vlist l = MI_VLIST_INIT;
        for (uint32_t i = 0; i < p->config_outputs.n; i++)
            mi_vlist_push(&l, p->config_outputs.u.kv[i].v);
        mi_value stash = mi_vlist_finish(&l, a);
        set_selected(ev, "output", name, stash);
        /* the address list of the outputs dict itself: its keys, as strings */
        TRY(address_list(ev, &p->config_outputs, &ev->ctx.addresses));
        ev->ctx.has_addresses = 1;
        ev->ctx.has_property_name = 1;
        ev->ctx.property_name = "output";
        return 0;
    }
    if (!strcmp(name, "a variable") || !strcmp(name, "any variable") ||
        !strcmp(name, "variables")) {
        mi_vlist l = MI_VLIST_INIT;
        for (uint32_t i = 0; i < p->config_variables.n; i++)
            mi_vlist_push(&l, mi_plan_jsonify(a, &p->config_variables.u.kv[i].v));
        set_selected(ev, "variable", name, mi_vlist_finish(&l, a));
        ev->ctx.has_addresses = 1;
        ev->ctx.addresses = mi_v_str_static("variable", 8);
        ev->ctx.has_property_name = 1;
        ev->ctx.property_name = "variable";
        return 0;
    }
    if (strncmp(name, "resource that supports", 22) == 0) {
        /* re.match(r'resource that supports (.*)', name).group(1) */
        if (strncmp(name, "resource that supports ", 23) != 0)
            return ev_raise(ev, "AttributeError", "'NoneType' object has no attribute 'group'");
        const char *prop = name + 23;
        size_t pl = strcspn(prop, "\n");
        char *filter = mi_arena_strndup(a, prop, pl);
        mi_vlist types = MI_VLIST_INIT;
        const mi_value *raw = &p->resources_raw;
        for (uint32_t i = 0; i < raw->n; i++) {
            mi_key *addr = raw->u.kv[i].key;
            const mi_value *r = &raw->u.kv[i].v;
            int hit = (MI_KEY_LEN(addr) == strlen(filter) && strcasecmp(addr, filter) == 0) ||
                      has_key_deep(r, filter, strlen(filter), 0);
            if (!hit)
                continue;
            const mi_value *t = r->kind == MI_V_DICT ? mi_value_get(r, "type") : NULL;
            mi_value tv = t ? *t : mi_v_str_static(addr, MI_KEY_LEN(addr));
            add_type_once(&types, &tv);
        }
        /* types where the attribute is only known after apply */
        const mi_value *au = &p->after_unknown;
        for (uint32_t i = 0; i < au->n; i++) {
            mi_key *t = au->u.kv[i].key;
            if ((MI_KEY_LEN(t) == strlen(filter) && strcasecmp(t, filter) == 0) ||
                has_key_deep(&au->u.kv[i].v, filter, strlen(filter), 0)) {
                mi_value tv = mi_v_str_static(t, MI_KEY_LEN(t));
                add_type_once(&types, &tv);
            }
        }
        mi_vlist list = MI_VLIST_INIT;
        int rc = 0;
        for (size_t i = 0; i < types.n && rc == 0; i++) {
            if (types.items[i].kind != MI_V_STR)
                continue;
            mi_vlist found = MI_VLIST_INIT;
            rc = find_resources_by_type(ev, types.items[i].u.s, &found);
            for (size_t k = 0; k < found.n && rc == 0; k++) {
                mi_value prepared;
                rc = prepare_supporting(ev, &found.items[k], &prepared);
                if (rc == 0)
                    mi_vlist_push(&list, prepared);
            }
            mi_vlist_release(&found);
        }
        mi_vlist_release(&types);
        if (rc < 0) {
            mi_vlist_release(&list);
            return -1;
        }
        if (list.n) {
            mi_value stash = mi_vlist_finish(&list, a);
            set_selected(ev, type, name, stash);
            TRY(address_list(ev, &stash, &ev->ctx.addresses));
            ev->ctx.has_addresses = 1;
            ev->ctx.has_property_name = 1;
            ev->ctx.property_name = ev->ctx.type;
            return 0;
        }
        mi_vlist_release(&list);
        return ev_skip(ev, name, NULL);
    }
    if (!strcmp(type, "resource")) {
        name = convert_resource_type(name);
        mi_vlist list = MI_VLIST_INIT;
        if (find_resources_by_type(ev, name, &list) < 0) {
            mi_vlist_release(&list);
            return -1;
        }
        if (list.n) {
            mi_value stash = mi_vlist_finish(&list, a);
            set_selected(ev, type, name, stash);
            TRY(address_list(ev, &stash, &ev->ctx.addresses));
            ev->ctx.has_addresses = 1;
            ev->ctx.has_property_name = 1;
            ev->ctx.property_name = ev->ctx.type;
            return 0;
        }
        mi_vlist_release(&list);
    } else if (!strcmp(type, "variable")) {
        mi_value found;
        mi_value none = mi_v_null();
        TRY(m_get(ev, &p->variables, name, &none, &found));
        if (py_truthy(&found) && found.kind != MI_V_ABSENT) {
            mi_value one = mi_plan_jsonify(a, &found);
            set_selected(ev, type, name, py_list(ev, &one, 1));
            ev->ctx.has_addresses = 1;
            ev->ctx.addresses = py_str_value(ev, name);
            ev->ctx.has_property_name = 1;
            ev->ctx.property_name = "variable";
            return 0;
        }
    } else if (!strcmp(type, "provider")) {
        mi_vlist list = MI_VLIST_INIT;
        const mi_value *pc = &p->config_providers;
        for (uint32_t i = 0; i < pc->n; i++) {
            const mi_value *v = &pc->u.kv[i].v;
            if (v->kind != MI_V_DICT)
                continue;
            const mi_value *pn = mi_value_get(v, "name");
            mi_value pnv = pn ? *pn : mi_v_null();
            int eq;
            if (m_equals_s(ev, &pnv, name, &eq) < 0) {
                mi_vlist_release(&list);
                return -1;
            }
            if (eq)
                mi_vlist_push(&list, *v);
        }
        if (list.n) {
            set_selected(ev, type, name, mi_vlist_finish(&list, a));
            ev->ctx.has_addresses = 1;
            ev->ctx.addresses = py_str_value(ev, name);
            ev->ctx.has_address = 1;
            ev->ctx.address = py_str_value(ev, name);
            ev->ctx.has_property_name = 1;
            ev->ctx.property_name = "provider";
            return 0;
        }
        mi_vlist_release(&list);
    } else if (!strcmp(type, "data")) {
        name = convert_resource_type(name);
        mi_vlist list = MI_VLIST_INIT;
        const mi_value *d = &p->data;
        for (uint32_t i = 0; i < d->n; i++) {
            mi_value t;
            int eq = 0;
            if (py_getitem(ev, &d->u.kv[i].v, "type", &t) < 0 ||
                m_equals_s(ev, &t, name, &eq) < 0) {
                mi_vlist_release(&list);
                return -1;
            }
            if (eq)
                mi_vlist_push(&list, d->u.kv[i].v);
        }
        if (list.n) {
            set_selected(ev, type, name, mi_vlist_finish(&list, a));
            ev->ctx.has_addresses = 1;
            ev->ctx.addresses = py_str_value(ev, name);
            ev->ctx.has_address = 1;
            ev->ctx.address = py_str_value(ev, name);
            ev->ctx.has_property_name = 1;
            ev->ctx.property_name = "data";
            return 0;
        }
        mi_vlist_release(&list);
    }
    return ev_skip(ev, name, NULL);
}

/* ==== WHEN: its_key_metadata_has_something ============================================== */

/* Match.contains, or with a regex: any key / item whose str() re.match-es it. */
static int contains_cmp(struct ev *ev, const mi_value *hay, const char *value, int is_regex,
                        int *out)
{
    if (!is_regex)
        return m_contains_s(ev, hay, value, out);
    *out = 0;
    mi_value *items;
    size_t n;
    if (hay->kind != MI_V_DICT && hay->kind != MI_V_LIST)
        return ev_raise(ev, "TypeError", "%s", "");
    TRY(py_iter(ev, hay, &items, &n));
    for (size_t i = 0; i < n && !*out; i++)
        TRY(m_regex_match(ev, value, &items[i], out));
    return 0;
}

/* Match.equals, or with a regex: re.match(value, str(x)). */
static int equals_cmp(struct ev *ev, const mi_value *x, const char *value, int is_regex, int *out)
{
    if (!is_regex)
        return m_equals_s(ev, x, value, out);
    return m_regex_match(ev, value, x, out);
}

static int step_metadata(struct ev *ev, const struct pstep *ps, int has_step)
{
    int is_regex = ps->bind.def->variant & V_REGEX;
    const char *key = arg(ps, "key");
    const char *value = is_regex ? arg(ps, "search_regex") : arg(ps, "value");
    mi_value kv = py_str_value(ev, key);
    int eq;
    TRY(m_equals_s(ev, &kv, "values", &eq));
    if (eq)
        TRY(ev_fail(ev, NULL, NULL,
                    "The key \"values\" is not metadata, please use the \"When its property has "
                    "something\" step instead."));
    mi_value stash;
    TRY(ctx_stash(ev, &stash));
    mi_value *items;
    size_t n;
    TRY(py_iter(ev, &stash, &items, &n));
    mi_vlist found = MI_VLIST_INIT;
    for (size_t i = 0; i < n; i++) {
        mi_value dflt = mi_v_empty_dict(), km;
        m_get(ev, &items[i], key, &dflt, &km);
        if (km.kind != MI_V_LIST && km.kind != MI_V_DICT)
            km = py_list(ev, &km, 1);
        int has;
        if (contains_cmp(ev, &km, value, is_regex, &has) < 0) {
            mi_vlist_release(&found);
            return -1;
        }
        if (has_step != has)
            continue;
        mi_vlist_push(&found, items[i]);
    }
    ev->ctx.stash = mi_vlist_finish(&found, &ev->a);
    ev->ctx.has_stash = 1;
    if (ev->ctx.stash.n == 0) {
        char *msg = has_step ? mi_xasprintf("Could not find \"%s\" in \"%s\" metadata.", value, key)
                             : mi_xasprintf("Found \"%s\" in \"%s\" metadata for all resources.",
                                            value, key);
        int rc = ev_skip(ev, NULL, msg);
        free(msg);
        return rc;
    }
    return 0;
}

/* ==== WHEN: its_key_is_value, its_key_is_not_value ====================================== */

#define R_MOUNT_ADDR_PTR MI_PLAN_MOUNTED_ADDRESSES
#define R_MOUNT_ADDR_PTR_LIST MI_PLAN_MOUNTED_ADDRESS_LIST

static int key_is_skip(struct ev *ev, const mi_value *object_key, int unbound, const char *key,
                       const char *orig_key, const char *value, const char *dict_value, int negate)
{
    if (unbound)
        return ev_raise(ev, "UnboundLocalError",
                        "local variable 'object_key' referenced before assignment");
    mi_buf addrs = MI_BUF_INIT;
    if (joined_addresses(ev, &addrs) < 0) {
        mi_buf_release(&addrs);
        return -1;
    }
    char *msg;
    if (py_is_null(object_key))
        msg = mi_xasprintf("Could not find %s in %s.", key, addrs.ptr);
    else if (!dict_value)
        msg = mi_xasprintf("%s %s %s in %s.", negate ? "Found" : "Can not find", value, orig_key,
                           addrs.ptr);
    else
        msg = mi_xasprintf("%s %s=%s %s in %s.", negate ? "Found" : "Can not find", value,
                           dict_value, orig_key, addrs.ptr);
    mi_buf_release(&addrs);
    int rc = ev_skip(ev, NULL, msg);
    free(msg);
    return rc;
}

static int is_int_or_bool(const mi_value *v)
{
    return v->kind == MI_V_INT || v->kind == MI_V_BOOL;
}

/* x.split('[')[0] for a string */
static mi_value before_bracket(struct ev *ev, const mi_value *s)
{
    const char *b = memchr(s->u.s, '[', s->n);
    if (!b)
        return *s;
    return mi_v_str(&ev->a, s->u.s, (size_t)(b - s->u.s));
}

static int step_key_is(struct ev *ev, const struct pstep *ps, int negate)
{
    int regex_value = (ps->bind.def->variant & V_REGEX) && !has_field(ps, "dict_value");
    int regex_dict = (ps->bind.def->variant & V_REGEX) && has_field(ps, "dict_value");
    const char *key = arg(ps, "key");
    const char *orig_key = key;
    const char *value = regex_value ? arg(ps, "search_regex") : arg(ps, "value");
    const char *dict_value = has_field(ps, "dict_value") ? arg(ps, "dict_value") : NULL;
    const char *address = has_field(ps, "address") ? arg(ps, "address") : NULL;
    if (strcmp(key, "reference") == 0)
        key = address ? R_MOUNT_ADDR_PTR : R_MOUNT_ADDR_PTR_LIST;
    mi_value stash;
    TRY(ctx_stash(ev, &stash));
    mi_value *objs;
    size_t n;
    TRY(py_iter(ev, &stash, &objs, &n));
    mi_vlist found = MI_VLIST_INIT;
    mi_value object_key = py_null();
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const mi_value *obj = &objs[i];
        mi_value empty = mi_v_empty_dict();
        if ((rc = py_get(ev, obj, "values", &empty, &object_key)) < 0)
            break;
        if (!negate) {
            if (object_key.kind == MI_V_LIST) {
                for (uint32_t k = 0; k < object_key.n && rc == 0; k++) {
                    const mi_value *el = &object_key.u.items[k];
                    if (el->kind != MI_V_DICT)
                        continue;
                    mi_value fk;
                    m_get(ev, el, key, NULL, &fk);
                    if (fk.kind == MI_V_STR || is_int_or_bool(&fk)) {
                        int eq;
                        if ((rc = equals_cmp(ev, &fk, value, regex_value, &eq)) < 0)
                            break;
                        if (eq)
                            mi_vlist_push(&found, *el);
                    }
                }
                if (rc < 0)
                    break;
            } else {
                mi_value nul = py_null();
                m_get(ev, &object_key, key, &nul, &object_key);
            }
        } else {
            if (object_key.kind == MI_V_LIST) {
                mi_vlist keys = MI_VLIST_INIT;
                for (uint32_t k = 0; k < object_key.n && rc == 0; k++) {
                    mi_value nul = py_null(), g;
                    m_get(ev, &object_key.u.items[k], key, &nul, &g);
                    int eq;
                    if ((rc = equals_cmp(ev, &g, value, regex_value, &eq)) < 0)
                        break;
                    if (!eq)
                        mi_vlist_push(&keys, g);
                }
                mi_vlist kept = MI_VLIST_INIT;
                for (size_t k = 0; k < keys.n; k++)
                    if (!py_is_null(&keys.items[k]))
                        mi_vlist_push(&kept, keys.items[k]);
                mi_vlist_release(&keys);
                object_key = mi_vlist_finish(&kept, &ev->a);
                if (rc < 0)
                    break;
            } else {
                mi_value nul = py_null();
                m_get(ev, &object_key, key, &nul, &object_key);
            }
        }
        if (py_is_null(&object_key)) {
            mi_value nul = py_null();
            m_get(ev, obj, key, &nul, &object_key);
            if (!negate && address && object_key.kind == MI_V_DICT) {
                int has;
                if ((rc = m_contains_s(ev, &object_key, address, &has)) < 0)
                    break;
                if (has)
                    m_get(ev, &object_key, address, &nul, &object_key);
            }
        }
        if (negate && address && object_key.kind == MI_V_DICT) {
            int has;
            mi_value nul = py_null();
            if ((rc = m_contains_s(ev, &object_key, address, &has)) < 0)
                break;
            if (has)
                m_get(ev, &object_key, address, &nul, &object_key);
        }
        int take = 0;
        if (object_key.kind == MI_V_STR) {
            object_key = before_bracket(ev, &object_key);
            int eq;
            if ((rc = equals_cmp(ev, &object_key, value, regex_value, &eq)) < 0)
                break;
            take = negate ? !eq : eq;
        } else if (is_int_or_bool(&object_key)) {
            int eq;
            if ((rc = equals_cmp(ev, &object_key, value, regex_value, &eq)) < 0)
                break;
            take = negate ? !eq : eq;
        } else if (object_key.kind == MI_V_LIST) {
            mi_value list = object_key;
            if (!negate) {
                /* [str(v) for v in object_key] */
                mi_value *sv = mi_arena_alloc(&ev->a, (list.n ? list.n : 1) * sizeof(*sv));
                for (uint32_t k = 0; k < list.n; k++)
                    sv[k] = mi_v_cstr(&ev->a, py_cstr(ev, &list.u.items[k]));
                list = mi_v_list_of(sv, list.n);
            }
            int has;
            if ((rc = contains_cmp(ev, &list, value, regex_value, &has)) < 0)
                break;
            take = negate ? !has : has;
        } else if (object_key.kind == MI_V_DICT) {
            if (!negate) {
                mi_value cand;
                mi_value none = mi_v_null();
                if (regex_value) {
                    /* the regex picks the key */
                    cand = mi_v_absent();
                    for (uint32_t k = 0; k < object_key.n && rc == 0; k++) {
                        mi_value kk = mi_v_str_static(object_key.u.kv[k].key,
                                                      MI_KEY_LEN(object_key.u.kv[k].key));
                        int m;
                        if ((rc = m_regex_match(ev, value, &kk, &m)) < 0)
                            break;
                        if (m) {
                            cand = object_key.u.kv[k].v;
                            break;
                        }
                    }
                    if (rc < 0)
                        break;
                    if (cand.kind == MI_V_ABSENT)
                        cand = none;
                } else {
                    m_get(ev, &object_key, value, &none, &cand);
                }
                if (cand.kind != MI_V_NULL) {
                    if (!dict_value) {
                        take = 1;
                    } else {
                        int eq;
                        if ((rc = equals_cmp(ev, &cand, dict_value, regex_dict, &eq)) < 0)
                            break;
                        take = eq;
                    }
                }
            } else {
                int has;
                if ((rc = contains_cmp(ev, &object_key, value, regex_value, &has)) < 0)
                    break;
                if (!has) {
                    take = 1;
                } else if (dict_value) {
                    mi_value cand;
                    mi_value none = mi_v_null();
                    m_get(ev, &object_key, value, &none, &cand);
                    mi_value cs = py_str_value(ev, py_cstr(ev, &cand));
                    int eq;
                    if ((rc = equals_cmp(ev, &cs, dict_value, regex_dict, &eq)) < 0)
                        break;
                    take = !eq;
                }
            }
        } else if (object_key.kind == MI_V_NULL) {
            mi_value none = mi_v_str_static("None", 4);
            int eq;
            if ((rc = equals_cmp(ev, &none, value, regex_value, &eq)) < 0)
                break;
            take = negate ? !eq : eq;
        }
        if (take)
            mi_vlist_push(&found, *obj);
    }
    if (rc < 0) {
        mi_vlist_release(&found);
        return -1;
    }
    if (found.n) {
        ev->ctx.stash = mi_vlist_finish(&found, &ev->a);
        TRY(address_list(ev, &ev->ctx.stash, &ev->ctx.addresses));
        ev->ctx.has_addresses = 1;
        return 0;
    }
    mi_vlist_release(&found);
    return key_is_skip(ev, &object_key, n == 0, key, orig_key, value, dict_value, negate);
}

/* ==== WHEN it contains / has / does not have, THEN it must (not) contain ================ */

enum contain_mode { CM_OLD, CM_HAS, CM_HAS_NOT, CM_MUST, CM_MUST_NOT };

static int is_empty_found(const mi_value *v)
{
    /* found_value in (Null, [], '', {}) */
    if (py_is_null(v))
        return 1;
    if ((v->kind == MI_V_LIST || v->kind == MI_V_DICT || v->kind == MI_V_STR) && v->n == 0)
        return 1;
    return 0;
}

/* The resource as a step sees it: {'values': x, 'address': x, 'type': name} when it is not
 * a dict with all three keys. */
static int wrap_resource(struct ev *ev, const mi_value *r, mi_value *out)
{
    if (r->kind == MI_V_DICT && mi_value_get(r, "values") && mi_value_get(r, "address") &&
        mi_value_get(r, "type")) {
        *out = *r;
        return 0;
    }
    const char *name = NULL;
    TRY(ctx_name(ev, &name));
    mi_kv *kv = mi_arena_alloc(&ev->a, 3 * sizeof(*kv));
    kv[0].key = mi_value_key(&ev->a, "values", 6);
    kv[0].v = *r;
    kv[1].key = mi_value_key(&ev->a, "address", 7);
    kv[1].v = *r;
    kv[2].key = mi_value_key(&ev->a, "type", 4);
    kv[2].v = py_str_value(ev, name);
    *out = mi_v_dict_of(kv, 3);
    return 0;
}

static mi_value prop_entry(struct ev *ev, const mi_value *address, const mi_value *values)
{
    mi_kv *kv = mi_arena_alloc(&ev->a, 3 * sizeof(*kv));
    kv[0].key = mi_value_key(&ev->a, "address", 7);
    kv[0].v = *address;
    kv[1].key = mi_value_key(&ev->a, "values", 6);
    kv[1].v = *values;
    kv[2].key = mi_value_key(&ev->a, "type", 4);
    kv[2].v = py_str_value(ev, ev->ctx.name);
    return mi_v_dict_of(kv, 3);
}

static int contain_resources(struct ev *ev, enum contain_mode mode, const char *something,
                             const mi_value *stash, mi_vlist *props, mi_vlist *found_addrs);

/* found_value of a WHEN step (it contains / it has / it does not have) for one resource. */
static int find_value(struct ev *ev, enum contain_mode mode, const char *something,
                      const mi_value *resource, mi_value *found_value)
{
    mi_arena *a = &ev->a;
    mi_value values;
    mi_value expr_default = mi_v_empty_dict(), expressions;
    TRY(py_get(ev, resource, "expressions", &expr_default, &expressions));
    TRY(py_get(ev, resource, "values", &expressions, &values));
    if (!py_truthy(&values))
        TRY(m_seek_key(ev, resource, something, &values));
    *found_value = py_null();
    mi_value found_key = py_null();
    mi_key *skey = mi_value_key(a, something, strlen(something));
    if (values.kind == MI_V_DICT) {
        if (mode == CM_OLD) {
            /* match.get(values, something, seek(...)); a non-list is wrapped */
            mi_value dflt;
            TRY(m_seek_key(ev, &values, something, &dflt));
            m_get(ev, &values, something, &dflt, &found_key);
            if (found_key.kind != MI_V_LIST) {
                mi_value one = py_dict1(ev, skey, &found_key);
                found_key = py_list(ev, &one, 1);
            }
        } else {
            /* the direct value, wrapped, else what a deep search finds */
            mi_value nul = py_null();
            m_get(ev, &values, something, &nul, &found_key);
            if (!py_is_null(&found_key)) {
                mi_value one = py_dict1(ev, skey, &found_key);
                found_key = py_list(ev, &one, 1);
            } else {
                TRY(m_seek_key(ev, &values, something, &found_key));
            }
        }
        if (found_key.n) {
            if (found_key.n == 1) {
                int in;
                TRY(m_contains_s(ev, &found_key.u.items[0], something, &in));
                if (in)
                    found_key = found_key.u.items[0];
            }
            if (found_key.kind == MI_V_DICT)
                m_get(ev, &found_key, something, &found_key, found_value);
            else
                *found_value = found_key;
        }
    } else if (values.kind == MI_V_LIST) {
        mi_vlist fv = MI_VLIST_INIT;
        int replaced = 0;
        for (uint32_t i = 0; i < values.n; i++) {
            const mi_value *value = &values.u.items[i];
            if (value->kind == MI_V_DICT) {
                if (m_seek_key(ev, value, something, &found_key) < 0)
                    goto fail;
                if (found_key.n == 0) {
                    if (m_seek_regex_key(ev, value, "key", something, &found_key) < 0)
                        goto fail;
                    if (found_key.n) {
                        found_key = found_key.u.items[0];
                        const mi_value *vv = mi_value_get(value, "value");
                        *found_value = vv ? *vv : mi_v_null();
                        replaced = 1;
                        break;
                    }
                }
            } else if (value->kind == MI_V_LIST) {
                /* The original reruns the whole step on the inner list as its stash and
                 * unpacks (something, prop_list), which raises when nothing was found. */
                mi_vlist inner = MI_VLIST_INIT;
                enum contain_mode im = mode == CM_HAS_NOT ? CM_HAS : mode;
                if (contain_resources(ev, im, something, value, &inner, NULL) < 0) {
                    mi_vlist_release(&inner);
                    goto fail;
                }
                if (!inner.n) {
                    mi_vlist_release(&inner);
                    char *msg = mi_xasprintf("Can not find any %s property for %s resource in "
                                             "terraform plan.",
                                             something, ev->ctx.name ? ev->ctx.name : "");
                    if (ev_skip(ev, ev->ctx.name, msg) == 0)
                        ev_raise(ev, "TypeError", "cannot unpack non-iterable NoneType object");
                    free(msg);
                    goto fail;
                }
                mi_value pl = mi_vlist_finish(&inner, a);
                ev->ctx.stash = pl;
                found_key = py_str_value(ev, something);
                mi_vlist_release(&fv);
                for (uint32_t k = 0; k < pl.n; k++)
                    mi_vlist_push(&fv, pl.u.items[k]);
            } else if (mode == CM_HAS && py_is_simple(value)) {
                int eq;
                if (m_equals_s(ev, value, something, &eq) < 0)
                    goto fail;
                if (eq) {
                    found_key = *value;
                    mi_vlist_push(&fv, *value);
                }
            }
            if (!py_is_null(&found_key)) {
                size_t len;
                if (py_len(ev, &found_key, &len) < 0)
                    goto fail;
                if (len) {
                    if (len == 1 && py_index0(ev, &found_key, &found_key) < 0)
                        goto fail;
                    if (found_key.kind == MI_V_DICT) {
                        mi_value g;
                        m_get(ev, &found_key, something, &found_key, &g);
                        mi_vlist_push(&fv, g);
                    }
                }
            }
        }
        if (!replaced)
            *found_value = mi_vlist_finish(&fv, a);
        else
            mi_vlist_release(&fv);
        goto post;
    fail:
        mi_vlist_release(&fv);
        return -1;
    }
post:
    if (found_value->kind == MI_V_DICT) {
        const mi_value *cv = mi_value_get(found_value, "constant_value");
        if (cv)
            *found_value = *cv;
    }
    return 0;
}

static int must_resources(struct ev *ev, enum contain_mode mode, const char *something,
                          const mi_value *stash, int child, mi_vlist *props);

static int is_found(const mi_value *v)
{
    /* not in (Null, [], '', {}) */
    return !is_empty_found(v);
}

/* it_must_contain_something / it_must_not_contain_something for one resource: every value
 * found becomes its own stash entry. */
static int must_values(struct ev *ev, enum contain_mode mode, const char *something,
                       const mi_value *resource, int child, mi_vlist *props)
{
    mi_arena *a = &ev->a;
    mi_value values;
    mi_value expr_default = mi_v_empty_dict(), expressions;
    TRY(py_get(ev, resource, "expressions", &expr_default, &expressions));
    TRY(py_get(ev, resource, "values", &expressions, &values));
    if (!py_truthy(&values))
        TRY(m_seek_key(ev, resource, something, &values));
    mi_vlist found = MI_VLIST_INIT;
    mi_value found_key = py_null();
    int passed = 0, rc = 0;
    mi_key *skey = mi_value_key(a, something, strlen(something));
    if (values.kind == MI_V_DICT) {
        mi_value nul = py_null();
        m_get(ev, &values, something, &nul, &found_key);
        if (!py_is_null(&found_key)) {
            mi_value one = py_dict1(ev, skey, &found_key);
            found_key = py_list(ev, &one, 1);
        } else {
            TRY(m_seek_key(ev, &values, something, &found_key));
        }
        for (uint32_t i = 0; i < found_key.n; i++) {
            const mi_value *kv = &found_key.u.items[i];
            if (kv->kind != MI_V_DICT)
                continue;
            mi_value g, none = mi_v_null();
            m_get(ev, kv, something, &none, &g);
            /* '' and {} are values; only [] is "not set" */
            if (!(g.kind == MI_V_LIST && g.n == 0)) {
                mi_vlist_push(&found, g);
                passed = 1;
            }
        }
    } else if (values.kind == MI_V_LIST) {
        for (uint32_t i = 0; i < values.n && rc == 0; i++) {
            const mi_value *value = &values.u.items[i];
            if (value->kind == MI_V_DICT) {
                if ((rc = m_seek_key(ev, value, something, &found_key)) < 0)
                    break;
                if (found_key.n == 0) {
                    if ((rc = m_seek_regex_key(ev, value, "key", something, &found_key)) < 0)
                        break;
                    if (found_key.n) {
                        found_key = found_key.u.items[0];
                        /* found_values.extend(value.get('value')) */
                        const mi_value *vv = mi_value_get(value, "value");
                        mi_value vval = vv ? *vv : mi_v_null();
                        mi_value *items;
                        size_t n;
                        if (vval.kind == MI_V_NULL) {
                            rc = ev_raise(ev, "TypeError", "'NoneType' object is not iterable");
                            break;
                        }
                        if ((rc = py_iter(ev, &vval, &items, &n)) < 0)
                            break;
                        for (size_t k = 0; k < n; k++)
                            mi_vlist_push(&found, items[k]);
                        passed = 1;
                        continue;
                    }
                }
            } else if (value->kind == MI_V_LIST) {
                mi_vlist inner = MI_VLIST_INIT;
                if ((rc = must_resources(ev, CM_MUST, something, value, 1, &inner)) < 0) {
                    mi_vlist_release(&inner);
                    break;
                }
                if (!inner.n) {
                    mi_vlist_release(&inner);
                    rc = ev_raise(ev, "TypeError", "cannot unpack non-iterable NoneType object");
                    break;
                }
                for (size_t k = 0; k < inner.n; k++)
                    mi_vlist_push(props, inner.items[k]);
                mi_vlist_release(&inner);
                passed = 1;
            } else if (py_is_simple(value)) {
                int eq;
                if ((rc = m_equals_s(ev, value, something, &eq)) < 0)
                    break;
                if (eq) {
                    mi_vlist_push(&found, *value);
                    passed = 1;
                }
            }
            if (!py_is_null(&found_key) && found_key.kind != MI_V_STR) {
                mi_value *inst;
                size_t n;
                if ((rc = py_iter(ev, &found_key, &inst, &n)) < 0)
                    break;
                for (size_t k = 0; k < n; k++) {
                    if (inst[k].kind != MI_V_DICT)
                        continue;
                    mi_value g, nul = py_null();
                    m_get(ev, &inst[k], something, &nul, &g);
                    if (is_found(&g)) {
                        mi_vlist_push(&found, g);
                        passed = 1;
                    }
                }
            }
        }
    }
    if (rc < 0) {
        mi_vlist_release(&found);
        return -1;
    }
    mi_value addr;
    if (py_getitem(ev, resource, "address", &addr) < 0) {
        mi_vlist_release(&found);
        return -1;
    }
    for (size_t i = 0; i < found.n; i++) {
        mi_value v = found.items[i];
        if (v.kind == MI_V_DICT) {
            const mi_value *cv = mi_value_get(&v, "constant_value");
            if (cv)
                v = *cv;
        }
        if (mode == CM_MUST)
            mi_vlist_push(props, prop_entry(ev, &addr, &v));
    }
    mi_vlist_release(&found);
    if (child)
        return 0;
    mi_value t, empty = mi_v_str_static("", 0);
    if (mode == CM_MUST && !passed) {
        TRY(py_get(ev, resource, "type", &empty, &t));
        return ev_fail(ev, py_cstr(ev, &addr), NULL, "%s (%s) does not have %s property.",
                       py_cstr(ev, &addr), py_cstr(ev, &t), something);
    }
    if (mode == CM_MUST_NOT && passed) {
        TRY(py_get(ev, resource, "type", &empty, &t));
        return ev_fail(ev, py_cstr(ev, &addr), NULL, "%s property exists in %s (%s).", something,
                       py_cstr(ev, &addr), py_cstr(ev, &t));
    }
    return 0;
}

static int must_resources(struct ev *ev, enum contain_mode mode, const char *something,
                          const mi_value *stash, int child, mi_vlist *props)
{
    mi_value *items;
    size_t n;
    TRY(py_iter(ev, stash, &items, &n));
    for (size_t i = 0; i < n; i++) {
        mi_value resource;
        TRY(wrap_resource(ev, &items[i], &resource));
        TRY(must_values(ev, mode, something, &resource, child, props));
    }
    return 0;
}

/* The resource/data branch of the WHEN steps over one stash. props receives the new stash
 * entries (or the resources kept), found_addrs the addresses that have the property
 * (it_does_not_have_something). */
static int contain_resources(struct ev *ev, enum contain_mode mode, const char *something,
                             const mi_value *stash, mi_vlist *props, mi_vlist *found_addrs)
{
    if (mode == CM_MUST || mode == CM_MUST_NOT)
        return must_resources(ev, mode, something, stash, 0, props);
    mi_value *items;
    size_t n;
    TRY(py_iter(ev, stash, &items, &n));
    for (size_t i = 0; i < n; i++) {
        mi_value resource;
        TRY(wrap_resource(ev, &items[i], &resource));
        mi_value found_value;
        TRY(find_value(ev, mode, something, &resource, &found_value));
        mi_value addr;
        TRY(py_getitem(ev, &resource, "address", &addr));
        int found = !is_empty_found(&found_value);
        if (!found)
            continue;
        if (mode == CM_OLD)
            mi_vlist_push(props, prop_entry(ev, &addr, &found_value));
        else if (mode == CM_HAS)
            mi_vlist_push(props, resource);
        else if (found_addrs)
            mi_vlist_push(found_addrs, addr);
    }
    return 0;
}

/* provider_data.get('name', addresses) + '.' + provider_data.get('alias', '\b') */
static mi_value provider_address(struct ev *ev, const mi_value *provider)
{
    mi_buf b = MI_BUF_INIT;
    const mi_value *nm = mi_value_get(provider, "name");
    if (nm)
        py_str(&b, nm);
    else if (ev->ctx.has_addresses)
        py_str(&b, &ev->ctx.addresses);
    mi_buf_addch(&b, '.');
    const mi_value *al = mi_value_get(provider, "alias");
    if (al)
        py_str(&b, al);
    else
        mi_buf_addch(&b, '\b');
    mi_value v = mi_v_str(&ev->a, b.ptr, b.len);
    mi_buf_release(&b);
    return v;
}

static int step_contain(struct ev *ev, const struct pstep *ps, enum contain_mode mode)
{
    const char *something = arg(ps, "something");
    mi_arena *a = &ev->a;
    if (mode == CM_OLD) {
        char *w = mi_xasprintf("\"When it contains %s\" step functionality will be changed on "
                               "future versions and the functionality will be same as \"When it "
                               "has %s\" step. Please use the latter.",
                               something, something);
        ev_event(ev, MI_PEV_NOTICE, "WARNING", w);
        free(w);
    }
    mi_value stash;
    TRY(ctx_stash(ev, &stash));
    const char *type = ctx_type(ev);
    int must = mode == CM_MUST || mode == CM_MUST_NOT;
    if (!strcmp(type, "resource") || !strcmp(type, "data")) {
        mi_vlist props = MI_VLIST_INIT, addrs = MI_VLIST_INIT;
        int rc = contain_resources(ev, mode, something, &stash, &props, &addrs);
        if (rc < 0) {
            mi_vlist_release(&props);
            mi_vlist_release(&addrs);
            return -1;
        }
        if (mode == CM_HAS_NOT) {
            mi_value *items;
            size_t n;
            struct ev_strset have = {0};
            for (size_t k = 0; k < addrs.n; k++)
                if (addrs.items[k].kind == MI_V_STR)
                    ev_strset_add(&have, addrs.items[k].u.s, addrs.items[k].n);
            rc = py_iter(ev, &stash, &items, &n);
            for (size_t i = 0; i < n && rc == 0; i++) {
                mi_value addr;
                if ((rc = py_getitem(ev, &items[i], "address", &addr)) < 0)
                    break;
                int in = 0;
                if (addr.kind == MI_V_STR)
                    in = ev_strset_has(&have, addr.u.s, addr.n);
                else
                    for (size_t k = 0; k < addrs.n; k++)
                        if (py_eq(&addrs.items[k], &addr))
                            in = 1;
                if (!in)
                    mi_vlist_push(&props, items[i]);
            }
            ev_strset_release(&have);
            mi_vlist_release(&addrs);
            if (rc < 0) {
                mi_vlist_release(&props);
                return -1;
            }
            ev->ctx.has_property_name = 1;
            ev->ctx.property_name = mi_arena_strndup(a, something, strlen(something));
            if (props.n) {
                ev->ctx.stash = mi_vlist_finish(&props, a);
                return 0;
            }
            mi_vlist_release(&props);
            if (ev->cur->state == ST_FAILED)
                return 0;
            char *msg = mi_xasprintf("All objects (%s) coming from previous step has %s property.",
                                     ev->ctx.name ? ev->ctx.name : "", something);
            rc = ev_skip(ev, ev->ctx.name, msg);
            free(msg);
            return rc;
        }
        mi_vlist_release(&addrs);
        if (props.n) {
            if (mode != CM_MUST_NOT) {
                ev->ctx.stash = mi_vlist_finish(&props, a);
                ev->ctx.has_property_name = 1;
                ev->ctx.property_name = mi_arena_strndup(a, something, strlen(something));
            } else {
                mi_vlist_release(&props);
            }
            return 0;
        }
        mi_vlist_release(&props);
        if (must)
            return 0;
        if (ev->cur->state != ST_FAILED) {
            char *msg = mi_xasprintf("Can not find any %s property for %s resource in terraform "
                                     "plan.",
                                     something, ev->ctx.name ? ev->ctx.name : "");
            rc = ev_skip(ev, ev->ctx.name, msg);
            free(msg);
            TRY(rc);
        }
        /* the original then falls through to the generic skip below */
    } else if (!strcmp(type, "provider")) {
        mi_value *items;
        size_t n;
        TRY(py_iter(ev, &stash, &items, &n));
        mi_buf addrs = MI_BUF_INIT;
        if (ev->ctx.has_addresses)
            py_str(&addrs, &ev->ctx.addresses);
        if (mode == CM_OLD) {
            for (size_t i = 0; i < n; i++) {
                mi_value values;
                if (m_seek_key(ev, &items[i], something, &values) < 0)
                    goto provider_fail;
                if (values.n) {
                    ev->ctx.stash = values;
                    ev->ctx.has_property_name = 1;
                    ev->ctx.property_name = mi_arena_strndup(a, something, strlen(something));
                    ev->ctx.has_address = 1;
                    ev->ctx.address = provider_address(ev, &items[i]);
                    mi_buf_release(&addrs);
                    return 0;
                }
            }
        } else if (mode == CM_HAS || mode == CM_MUST) {
            mi_vlist props = MI_VLIST_INIT;
            for (size_t i = 0; i < n; i++) {
                mi_value values;
                if (m_seek_key(ev, &items[i], something, &values) < 0) {
                    mi_vlist_release(&props);
                    goto provider_fail;
                }
                if (values.n) {
                    for (uint32_t k = 0; k < values.n; k++)
                        mi_vlist_push(&props, mode == CM_HAS ? items[i] : values.u.items[k]);
                    ev->ctx.has_property_name = 1;
                    ev->ctx.property_name = mi_arena_strndup(a, something, strlen(something));
                    ev->ctx.has_address = 1;
                    ev->ctx.address = provider_address(ev, &items[i]);
                } else if (mode == CM_MUST) {
                    if (ev_fail(ev, addrs.ptr, NULL, "%s %s does not have %s property.", addrs.ptr,
                                type, something) < 0) {
                        mi_vlist_release(&props);
                        goto provider_fail;
                    }
                }
            }
            if (props.n) {
                ev->ctx.stash = mi_vlist_finish(&props, a);
                mi_buf_release(&addrs);
                return 0;
            }
            mi_vlist_release(&props);
            if (mode == CM_MUST) {
                int rc = ev_fail(ev, addrs.ptr, NULL, "%s %s does not have %s property.", addrs.ptr,
                                 type, something);
                mi_buf_release(&addrs);
                return rc;
            }
        } else if (mode == CM_HAS_NOT) {
            mi_vlist keep = MI_VLIST_INIT;
            for (size_t i = 0; i < n; i++) {
                mi_value values;
                if (m_seek_key(ev, &items[i], something, &values) < 0) {
                    mi_vlist_release(&keep);
                    goto provider_fail;
                }
                if (values.n) {
                    mi_vlist_release(&keep);
                    mi_buf_release(&addrs);
                    return 0;
                }
                mi_vlist_push(&keep, items[i]);
            }
            if (keep.n) {
                ev->ctx.stash = mi_vlist_finish(&keep, a);
                ev->ctx.has_property_name = 1;
                ev->ctx.property_name = mi_arena_strndup(a, something, strlen(something));
            } else {
                mi_vlist_release(&keep);
            }
            mi_buf_release(&addrs);
            return 0;
        } else if (mode == CM_MUST_NOT) {
            for (size_t i = 0; i < n; i++) {
                mi_value values;
                if (m_seek_key(ev, &items[i], something, &values) < 0)
                    goto provider_fail;
                if (values.n && ev_fail(ev, addrs.ptr, NULL, "%s %s does not have %s property.",
                                        addrs.ptr, type, something) < 0)
                    goto provider_fail;
            }
            mi_buf_release(&addrs);
            return 0;
        }
        mi_buf_release(&addrs);
        goto generic;
    provider_fail:
        mi_buf_release(&addrs);
        return -1;
    }
generic:
    if (must || mode == CM_HAS_NOT)
        return 0;
    if (ev->cur->state == ST_FAILED)
        return 0;
    char *msg =
        mi_xasprintf("Skipping the step since %s type does not have %s property.", type, something);
    int rc = ev_skip(ev, ev->ctx.name, msg);
    free(msg);
    return rc;
}

/* ==== THEN: property_is_enabled =========================================================== */

static const char *property_match(const char *something, const char *type)
{
    static const struct {
        const char *prop, *type, *key;
    } list[] = {
        {"encryption at rest", "aws_db_instance", "storage_encrypted"},
        {"encryption at rest", "ebs_block_device", "encrypted"},
        {"encryption at rest", "aws_ebs_volume", "encrypted"},
        {"encryption at rest", "azurerm_storage_account", "enable_blob_encryption"},
        {"encryption at rest", "azurerm_sql_database", "encryption"},
        {"encryption at rest", "aws_s3_bucket", "server_side_encryption_configuration"},
        {"encryption at rest", "aws_elasticache_replication_group", "at_rest_encryption_enabled"},
        {"encryption at rest", "aws_emr_security_configuration", "EnableAtRestEncryption"},
        {"encryption in flight", "aws_elasticache_replication_group", "transit_encryption_enabled"},
        {"encryption in flight", "aws_emr_security_configuration", "EnableInTransitEncryption"},
    };
    for (size_t i = 0; i < sizeof(list) / sizeof(list[0]); i++)
        if (!strcmp(something, list[i].prop) && type && !strcmp(type, list[i].type))
            return list[i].key;
    return something;
}

static int step_enabled(struct ev *ev, const struct pstep *ps)
{
    const char *something = arg(ps, "something");
    mi_value stash;
    TRY(ctx_stash(ev, &stash));
    mi_value *items;
    size_t n;
    TRY(py_iter(ev, &stash, &items, &n));
    for (size_t i = 0; i < n; i++) {
        const mi_value *r = &items[i];
        if (r->kind != MI_V_DICT)
            continue;
        if (!strcmp(something, "encryption at rest") ||
            !strcmp(something, "encryption in flight")) {
            mi_value t;
            TRY(py_getitem(ev, r, "type", &t));
            something = property_match(something, t.kind == MI_V_STR ? t.u.s : NULL);
        }
        const mi_value *vals = mi_value_get(r, "values");
        mi_value valsv = vals ? *vals : mi_v_empty_dict();
        mi_value pv;
        TRY(m_seek_key(ev, &valsv, something, &pv));
        if (pv.n) {
            pv = pv.u.items[0];
            if (pv.kind == MI_V_DICT) {
                mi_value nul = py_null();
                m_get(ev, &pv, something, &nul, &pv);
            }
        }
        if (!py_truthy(&pv)) {
            const mi_value *addr = mi_value_get(r, "address");
            const char *as = addr ? py_cstr(ev, addr) : "resource";
            mi_buf vb = MI_BUF_INIT;
            py_str(&vb, &pv);
            int rc = ev_fail(ev, as, &pv, "Resource %s does not have %s property enabled (%s=%s).",
                             as, something, something, vb.ptr);
            mi_buf_release(&vb);
            TRY(rc);
        }
    }
    return 0;
}

/* ==== THEN: security groups ================================================================ */

/* A set of ports 1..65535 as a bitmap. */
struct portset {
    uint8_t bits[65536 / 8];
};

static void ps_clear(struct portset *s)
{
    memset(s->bits, 0, sizeof(s->bits));
}
static void ps_add(struct portset *s, long p)
{
    if (p >= 0 && p < 65536)
        s->bits[p / 8] |= (uint8_t)(1u << (p % 8));
}
static int ps_has(const struct portset *s, long p)
{
    return p >= 0 && p < 65536 && (s->bits[p / 8] & (1u << (p % 8)));
}
static void ps_range(struct portset *s, long a, long b)
{
    if (b < a) {
        long t = a;
        a = b;
        b = t;
    }
    for (long p = a; p <= b; p++)
        ps_add(s, p);
}
static size_t ps_count(const struct portset *s)
{
    size_t n = 0;
    for (size_t i = 0; i < sizeof(s->bits); i++)
        n += (size_t)__builtin_popcount(s->bits[i]);
    return n;
}

struct sg_rule {
    struct portset ports;
    int proto[3]; /* tcp, udp, icmp */
    char *other_proto;
    mi_value cidr; /* list or string */
    const char *address;
};

static const char *const protos[3] = {"tcp", "udp", "icmp"};

static int sg_int(struct ev *ev, const mi_value *v, long *out)
{
    if (v->kind == MI_V_INT || v->kind == MI_V_BOOL) {
        *out = (long)v->u.i;
        return 0;
    }
    if (v->kind == MI_V_FLOAT) {
        *out = (long)v->u.f;
        return 0;
    }
    if (v->kind == MI_V_STR) {
        char *end = NULL;
        long x = strtol(v->u.s, &end, 10);
        if (end && end != v->u.s && *end == '\0') {
            *out = x;
            return 0;
        }
        return ev_raise(ev, "ValueError", "invalid literal for int() with base 10: '%s'", v->u.s);
    }
    return ev_raise(ev, "TypeError",
                    "int() argument must be a string, a bytes-like object or a number, not '%s'",
                    mi_value_type_name(v));
}

static int is_falsy_port(const mi_value *v)
{
    return v->kind == MI_V_ABSENT || v->kind == MI_V_NULL || !mi_value_truthy(v);
}

static int is_zero(const mi_value *v)
{
    return (v->kind == MI_V_INT || v->kind == MI_V_BOOL) ? v->u.i == 0
           : v->kind == MI_V_FLOAT                       ? v->u.f == 0
                                                         : 0;
}

/* SecurityGroupRule(**kwargs) */
static int sg_rule_init(struct ev *ev, struct sg_rule *r, const mi_value *from_v,
                        const mi_value *to_v, const char *ports_str, const mi_value *proto_v,
                        const mi_value *cidr)
{
    memset(r, 0, sizeof(*r));
    ps_clear(&r->ports);
    /* protocol */
    if (proto_v->kind == MI_V_INT || proto_v->kind == MI_V_BOOL ||
        (proto_v->kind == MI_V_STR &&
         (!strcmp(proto_v->u.s, "-1") || !strcmp(proto_v->u.s, "any")))) {
        r->proto[0] = r->proto[1] = r->proto[2] = 1;
    } else if (proto_v->kind == MI_V_STR) {
        char *l = mi_arena_strndup(&ev->a, proto_v->u.s, proto_v->n);
        for (char *p = l; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p + 32);
        int known = 0;
        for (int i = 0; i < 3; i++)
            if (!strcmp(l, protos[i])) {
                r->proto[i] = 1;
                known = 1;
            }
        if (!known)
            r->other_proto = l;
    } else {
        return ev_raise(ev, "AttributeError", "'%s' object has no attribute 'lower'",
                        mi_value_type_name(proto_v));
    }
    /* ports */
    mi_value f = *from_v, t = *to_v;
    if (ports_str && !strcmp(ports_str, "any")) {
        f = mi_v_int(0);
        t = mi_v_int(0);
    }
    if (is_zero(&f) && is_zero(&t))
        t = mi_v_int(65535);
    if (is_falsy_port(&f) && is_falsy_port(&t)) {
        if (!ports_str || !strcmp(ports_str, "None")) {
            ps_range(&r->ports, 1, 65535);
        } else if (strchr(ports_str, '-')) {
            const char *dash = strchr(ports_str, '-');
            char *a = mi_xstrndup(ports_str, (size_t)(dash - ports_str));
            mi_value av = mi_v_str(&ev->a, a, strlen(a)), bv = py_str_value(ev, dash + 1);
            free(a);
            long x, y;
            if (strchr(dash + 1, '-'))
                return ev_raise(ev, "ValueError", "too many values to unpack (expected 2)");
            TRY(sg_int(ev, &av, &x));
            TRY(sg_int(ev, &bv, &y));
            x = x > 0 ? x : 1;
            y = y > 0 ? y : 1;
            ps_range(&r->ports, x, y);
        } else if (strchr(ports_str, ',')) {
            char *dup = mi_xstrdup(ports_str);
            char *save = NULL;
            for (char *tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                mi_value tv = py_str_value(ev, tok);
                long x;
                if (sg_int(ev, &tv, &x) < 0) {
                    free(dup);
                    return -1;
                }
                if (x > 0)
                    ps_add(&r->ports, x);
            }
            free(dup);
        } else {
            int numeric = *ports_str != '\0';
            for (const char *p = ports_str; *p; p++)
                if (*p < '0' || *p > '9')
                    numeric = 0;
            if (!numeric)
                return ev_raise(ev, "TerraformComplianceInternalFailure",
                                "Unexpected situation. Please report this port structure: %s",
                                ports_str);
            ps_add(&r->ports, strtol(ports_str, NULL, 10));
        }
    } else {
        long x = 0, y = 0;
        if (!(f.kind == MI_V_NULL || f.kind == MI_V_ABSENT))
            TRY(sg_int(ev, &f, &x));
        if (!(t.kind == MI_V_NULL || t.kind == MI_V_ABSENT))
            TRY(sg_int(ev, &t, &y));
        x = x > 0 ? x : 1;
        y = y > 0 ? y : 1;
        ps_range(&r->ports, x, y);
    }
    r->cidr = *cidr;
    if (cidr->kind == MI_V_NULL)
        return ev_raise(ev, "TerraformComplianceInvalidData", "A cidr range must be given.");
    if (cidr->kind != MI_V_LIST && cidr->kind != MI_V_STR)
        return ev_raise(ev, "TerraformComplianceInvalidData", "Invalid CIDR Type <class '%s'> : %s",
                        mi_value_type_name(cidr), py_cstr(ev, cidr));
    return 0;
}

/* IPv4 a.b.c.d/n (netaddr's IPNetwork: host bits allowed, a missing prefix is /32). */
static int parse_cidr(const char *s, uint32_t *net, int *prefix)
{
    unsigned a[4];
    int n = 0;
    const char *p = s;
    for (int i = 0; i < 4; i++) {
        if (*p < '0' || *p > '9')
            return -1;
        unsigned v = 0;
        int digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 4) {
            v = v * 10 + (unsigned)(*p - '0');
            p++;
            digits++;
        }
        if (v > 255)
            return -1;
        a[i] = v;
        n++;
        if (i < 3) {
            if (*p != '.')
                return -1;
            p++;
        }
    }
    int pre = 32;
    if (*p == '/') {
        p++;
        if (*p < '0' || *p > '9')
            return -1;
        pre = 0;
        while (*p >= '0' && *p <= '9')
            pre = pre * 10 + (*p++ - '0');
        if (pre > 32)
            return -1;
    }
    if (*p)
        return -1;
    (void)n;
    uint32_t ip = (a[0] << 24) | (a[1] << 16) | (a[2] << 8) | a[3];
    uint32_t mask = pre ? 0xFFFFFFFFu << (32 - pre) : 0;
    *net = ip & mask;
    *prefix = pre;
    return 0;
}

/* is_ip_in_cidr(ip_cidr, cidr) */
static int is_ip_in_cidr(struct ev *ev, const char *ip_cidr, const mi_value *cidrs, int *out)
{
    static const char *is_ip =
        "(1[0-9][0-9]|2[0-4][0-9]|25[0-5]|[0-9][0-9]|[0-9])\\.(1[0-9][0-9]|2[0-4][0-9]|25[0-5]|"
        "[0-9][0-9]|[0-9])\\.(1[0-9][0-9]|2[0-4][0-9]|25[0-5]|[0-9][0-9]|[0-9])\\.(1[0-9][0-9]|2["
        "0-4][0-9]|25[0-5]|[0-9][0-9]|[0-9])\\/(3[0-2]|2[0-9]|1[0-9]|[0-9])";
    int m;
    TRY(ev_regex_match(ev, is_ip, ip_cidr, strlen(ip_cidr), 0, &m, NULL));
    mi_value *items;
    size_t n;
    TRY(py_iter(ev, cidrs, &items, &n));
    *out = 0;
    if (m) {
        uint32_t gnet;
        int gpre;
        if (parse_cidr(ip_cidr, &gnet, &gpre) < 0)
            return ev_raise(ev, "AddrFormatError", "invalid IPNetwork %s", ip_cidr);
        for (size_t i = 0; i < n; i++) {
            const char *c = py_cstr(ev, &items[i]);
            uint32_t net;
            int pre;
            if (parse_cidr(c, &net, &pre) < 0) {
                if (strchr(c, ':'))
                    continue; /* an IPv6 network never contains an IPv4 one */
                return ev_raise(ev, "AddrFormatError", "invalid IPNetwork %s", c);
            }
            uint32_t mask = pre ? 0xFFFFFFFFu << (32 - pre) : 0;
            if (gpre >= pre && (gnet & mask) == net) {
                *out = 1;
                return 0;
            }
        }
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        const char *c = py_cstr(ev, &items[i]);
        TRY(ev_regex_match(ev, ip_cidr, c, strlen(c), 0, &m, NULL));
        if (!m)
            return 0;
    }
    *out = 1;
    return 0;
}

static void ports_text(mi_buf *b, const struct portset *s, size_t *count)
{
    size_t n = ps_count(s);
    *count = n;
    if (n == 1) {
        for (long p = 0; p < 65536; p++)
            if (ps_has(s, p))
                mi_buf_addf(b, "%ld", p);
        return;
    }
    mi_buf_addch(b, '(');
    int first = 1;
    for (long p = 0; p < 65536; p++) {
        if (!ps_has(s, p))
            continue;
        mi_buf_addf(b, first ? "%ld" : ",%ld", p);
        first = 0;
    }
    mi_buf_addch(b, ')');
}

static void protos_text(mi_buf *b, const int *proto, const char *other)
{
    int n = 0;
    for (int i = 0; i < 3; i++)
        n += proto[i];
    if (other)
        n++;
    if (n == 1) {
        for (int i = 0; i < 3; i++)
            if (proto[i])
                mi_buf_adds(b, protos[i]);
        if (other)
            mi_buf_adds(b, other);
        return;
    }
    mi_buf_addch(b, '(');
    int first = 1;
    for (int i = 0; i < 3; i++) {
        if (!proto[i])
            continue;
        mi_buf_addf(b, first ? "%s" : ",%s", protos[i]);
        first = 0;
    }
    if (other)
        mi_buf_addf(b, first ? "%s" : ",%s", other);
    mi_buf_addch(b, ')');
}

static int step_sg(struct ev *ev, const struct pstep *ps)
{
    const char *condition = arg(ps, "condition");
    const char *proto = arg(ps, "proto");
    const char *port = arg(ps, "port");
    const char *cidr = arg(ps, "cidr");
    mi_value stash;
    TRY(ctx_stash(ev, &stash));
    mi_value *sgs;
    size_t nsg;
    TRY(py_iter(ev, &stash, &sgs, &nsg));
    for (size_t s = 0; s < nsg; s++) {
        mi_value values, address;
        TRY(py_getitem(ev, &sgs[s], "values", &values));
        TRY(py_getitem(ev, &sgs[s], "address", &address));
        const char *sg_address = py_cstr(ev, &address);
        mi_value proto_v = py_str_value(ev, proto), cidr_v = py_str_value(ev, cidr);
        mi_value none = mi_v_null();
        struct sg_rule *given = mi_xcalloc(1, sizeof(*given));
        int rc = sg_rule_init(ev, given, &none, &none, port, &proto_v, &cidr_v);
        mi_value rules = values;
        if (rc == 0 && rules.kind == MI_V_DICT)
            rules = py_list(ev, &rules, 1);
        int singular = 1, exact = 0;
        if (rc == 0) {
            if (!strcmp(condition, "must only")) {
                singular = 0;
                exact = 1;
            } else if (!strcmp(condition, "must")) {
                singular = 0;
            } else if (strcmp(condition, "must not") != 0) {
                rc = ev_raise(ev, "TerraformComplianceInternalFailure",
                              "You can only use \"must have\", \"must not have\" and \"must only "
                              "have\" conditions on this step for now.You tried to use \"%s\"",
                              condition);
            }
        }
        mi_value *ritems = NULL;
        size_t nr = 0;
        if (rc == 0)
            rc = py_iter(ev, &rules, &ritems, &nr);
        struct portset *found = mi_xcalloc(1, sizeof(*found));
        struct sg_rule *rule = mi_xcalloc(1, sizeof(*rule));
        int failed_singular = 0;
        for (size_t i = 0; i < nr && rc == 0 && !failed_singular; i++) {
            const mi_value *rd = &ritems[i];
            if (rd->kind != MI_V_DICT) {
                rc = ev_raise(ev, "AttributeError", "'%s' object has no attribute 'get'",
                              mi_value_type_name(rd));
                break;
            }
            const mi_value *cb = mi_value_get(rd, "cidr_blocks");
            if (!cb || !mi_value_truthy(cb))
                continue;
            const mi_value *fp = mi_value_get(rd, "from_port");
            const mi_value *tp = mi_value_get(rd, "to_port");
            const mi_value *pr = mi_value_get(rd, "protocol");
            const mi_value *pt = mi_value_get(rd, "port");
            mi_value fpv = fp ? *fp : mi_v_null(), tpv = tp ? *tp : mi_v_null();
            mi_value prv = pr ? *pr : mi_v_str_static("-1", 2);
            const char *pstr = pt ? py_cstr(ev, pt) : "None";
            if ((rc = sg_rule_init(ev, rule, &fpv, &tpv, pstr, &prv, cb)) < 0)
                break;
            int network, protocol = 0, ports = 0;
            if ((rc = is_ip_in_cidr(ev, cidr, &rule->cidr, &network)) < 0)
                break;
            struct portset inter;
            for (size_t k = 0; k < sizeof(inter.bits); k++) {
                inter.bits[k] = given->ports.bits[k] & rule->ports.bits[k];
                ports |= inter.bits[k] != 0;
            }
            int pinter[3];
            for (int k = 0; k < 3; k++) {
                pinter[k] = given->proto[k] && rule->proto[k];
                protocol |= pinter[k];
            }
            const char *other = NULL;
            if (given->other_proto && rule->other_proto &&
                !strcmp(given->other_proto, rule->other_proto)) {
                other = rule->other_proto;
                protocol = 1;
            }
            if (singular) {
                if (network && ports && protocol) {
                    mi_buf m = MI_BUF_INIT, pt_b = MI_BUF_INIT, pr_b = MI_BUF_INIT,
                           cb_b = MI_BUF_INIT;
                    size_t np;
                    protos_text(&pr_b, pinter, other);
                    ports_text(&pt_b, &inter, &np);
                    mi_value *cits;
                    size_t ncit = 0;
                    if (py_iter(ev, &rule->cidr, &cits, &ncit) == 0) {
                        if (ncit == 1)
                            py_str(&cb_b, &cits[0]);
                        else
                            py_join(ev, ", ", &rule->cidr, &cb_b);
                    }
                    mi_buf_addf(&m, "%s/%s port%s defined within %s network%s in %s.", pr_b.ptr,
                                pt_b.ptr, np == 1 ? " is" : "s are", cb_b.ptr, ncit == 1 ? "" : "s",
                                sg_address);
                    rc = ev_fail(ev, sg_address, NULL, "%s", m.ptr);
                    mi_buf_release(&m);
                    mi_buf_release(&pt_b);
                    mi_buf_release(&pr_b);
                    mi_buf_release(&cb_b);
                    failed_singular = 1;
                }
            } else if (network && protocol) {
                for (size_t k = 0; k < sizeof(found->bits); k++)
                    found->bits[k] |= rule->ports.bits[k];
            }
        }
        if (rc == 0 && !singular) {
            mi_buf errors = MI_BUF_INIT;
            struct portset diff;
            size_t np;
            mi_buf pr_b = MI_BUF_INIT;
            protos_text(&pr_b, given->proto, given->other_proto);
            int ok;
            if (exact) {
                ok = memcmp(found->bits, given->ports.bits, sizeof(found->bits)) == 0;
                if (!ok) {
                    int any = 0, disjoint = 1;
                    for (size_t k = 0; k < sizeof(diff.bits); k++) {
                        diff.bits[k] = given->ports.bits[k] & (uint8_t)~found->bits[k];
                        any |= diff.bits[k] != 0;
                        if (given->ports.bits[k] & found->bits[k])
                            disjoint = 0;
                    }
                    if (any) {
                        mi_buf pb = MI_BUF_INIT;
                        ports_text(&pb, &diff, &np);
                        mi_buf_addf(&errors, "%s/%s port%s not defined within %s network in %s.",
                                    pr_b.ptr, pb.ptr, np == 1 ? " is" : "s are", cidr, sg_address);
                        mi_buf_release(&pb);
                    }
                    any = 0;
                    for (size_t k = 0; k < sizeof(diff.bits); k++) {
                        diff.bits[k] = found->bits[k] & (uint8_t)~given->ports.bits[k];
                        any |= diff.bits[k] != 0;
                    }
                    if (any) {
                        mi_buf pb = MI_BUF_INIT;
                        ports_text(&pb, &diff, &np);
                        if (errors.len)
                            mi_buf_addch(&errors, '\n');
                        mi_buf_addf(&errors, "%s/%s port%s defined within %s network in %s.",
                                    pr_b.ptr, pb.ptr, np == 1 ? " is" : "s are", cidr, sg_address);
                        mi_buf_release(&pb);
                    }
                    if (disjoint) {
                        if (errors.len)
                            mi_buf_addch(&errors, '\n');
                        mi_buf_addf(&errors,
                                    "None of the ports given defined within %s network in %s.",
                                    cidr, sg_address);
                    }
                }
            } else {
                int any = 0;
                for (size_t k = 0; k < sizeof(diff.bits); k++) {
                    diff.bits[k] = given->ports.bits[k] & (uint8_t)~found->bits[k];
                    any |= diff.bits[k] != 0;
                }
                ok = !any;
                if (any) {
                    mi_buf pb = MI_BUF_INIT;
                    ports_text(&pb, &diff, &np);
                    mi_buf_addf(&errors, "%s/%s port%s not defined within %s network in %s.",
                                pr_b.ptr, pb.ptr, np == 1 ? " is" : "s are", cidr, sg_address);
                    mi_buf_release(&pb);
                }
            }
            if (!ok)
                rc = ev_fail(ev, sg_address, NULL, "%s", errors.ptr);
            mi_buf_release(&errors);
            mi_buf_release(&pr_b);
        }
        free(found);
        free(rule);
        free(given);
        TRY(rc);
    }
    return 0;
}

/* ==== WHEN: I count them; THEN: its value must be <op> than <n> ============================ */

static int step_action(struct ev *ev, const struct pstep *ps)
{
    const char *action = arg(ps, "action_type");
    if (strcmp(action, "count") != 0)
        return ev_raise(ev, "TerraformComplianceNotImplemented",
                        "Invalid action_type in the scenario: %s", action);
    mi_value stash;
    TRY(ctx_stash(ev, &stash));
    if (stash.kind != MI_V_LIST)
        return 0;
    static const char *const types_list[] = {"resource", "variable", "provider", "data",
                                             "resource that supports tags"};
    int in_types = 0;
    if (ev->ctx.has_property_name && ev->ctx.property_name)
        for (size_t i = 0; i < 5; i++)
            if (!strcmp(ev->ctx.property_name, types_list[i]))
                in_types = 1;
    mi_kv *kv = mi_arena_alloc(&ev->a, sizeof(*kv));
    kv->key = mi_value_key(&ev->a, "values", 6);
    if (in_types) {
        kv->v = mi_v_int((int64_t)stash.n);
        ev->ctx.stash = mi_v_dict_of(kv, 1);
        return 0;
    }
    mi_value first;
    TRY(py_index0(ev, &stash, &first));
    if (first.kind == MI_V_DICT) {
        const mi_value *fv = mi_value_get(&first, "values");
        if (fv && py_truthy(fv)) {
            mi_value found = seek_key_ci(ev, &stash, "values");
            int64_t count = 0;
            for (uint32_t i = 0; i < found.n; i++) {
                const mi_value *v = mi_value_get(&found.u.items[i], "values");
                if (v && py_truthy(v) && v->kind != MI_V_INT && v->kind != MI_V_BOOL &&
                    v->kind != MI_V_STR) {
                    size_t len;
                    TRY(py_len(ev, v, &len));
                    count += (int64_t)len;
                } else {
                    count += 1;
                }
            }
            kv->v = mi_v_int(count);
            ev->ctx.stash = mi_v_dict_of(kv, 1);
        }
    } else {
        kv->v = mi_v_int((int64_t)stash.n);
        ev->ctx.stash = mi_v_dict_of(kv, 1);
    }
    return 0;
}

static int py_int(struct ev *ev, const mi_value *v, long long *out)
{
    if (v->kind == MI_V_INT || v->kind == MI_V_BOOL) {
        *out = v->u.i;
        return 0;
    }
    /* int(str): surrounding whitespace, a sign, digits and single underscores */
    const char *s = v->u.s;
    size_t n = v->n;
    while (n && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f' || *s == '\v')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--;
    char buf[64];
    size_t k = 0;
    int ok = n > 0 && n < sizeof(buf);
    for (size_t i = 0; ok && i < n; i++) {
        char c = s[i];
        if (c == '_' && i > 0 && i + 1 < n && s[i - 1] >= '0' && s[i - 1] <= '9' &&
            s[i + 1] >= '0' && s[i + 1] <= '9')
            continue;
        if ((c == '-' || c == '+') && i == 0)
            buf[k++] = c;
        else if (c >= '0' && c <= '9')
            buf[k++] = c;
        else
            ok = 0;
    }
    buf[k] = '\0';
    if (ok && (k == 0 || ((buf[0] == '-' || buf[0] == '+') && k == 1)))
        ok = 0;
    if (!ok) {
        mi_buf r = MI_BUF_INIT;
        mi_value_repr(&r, v);
        int rc = ev_raise(ev, "ValueError", "invalid literal for int() with base 10: %s", r.ptr);
        mi_buf_release(&r);
        return rc;
    }
    *out = strtoll(buf, NULL, 10);
    return 0;
}

static int expect_rec(struct ev *ev, const char *op, long number, const mi_value *values, int depth)
{
    if (depth > 512)
        return 0;
    if (values->kind == MI_V_LIST) {
        for (uint32_t i = 0; i < values->n; i++)
            TRY(expect_rec(ev, op, number, &values->u.items[i], depth + 1));
        return 0;
    }
    if (values->kind == MI_V_DICT) {
        const mi_value *t = mi_value_get(values, "type");
        if (t) {
            ev->ctx.has_property_name = 1;
            ev->ctx.property_name = py_cstr(ev, t);
        }
        const mi_value *ad = mi_value_get(values, "address");
        if (ad) {
            ev->ctx.address = *ad;
        } else {
            if (!ev->ctx.has_addresses)
                return ev_raise(ev, "AttributeError",
                                "'Context' object has no attribute 'addresses'");
            ev->ctx.address = ev->ctx.addresses;
        }
        ev->ctx.has_address = 1;
        if (ev->ctx.address.kind == MI_V_LIST && ev->ctx.address.n == 1)
            ev->ctx.address = ev->ctx.address.u.items[0];
        const mi_value *v = mi_value_get(values, "values");
        mi_value vv = v ? *v : py_null();
        return expect_rec(ev, op, number, &vv, depth + 1);
    }
    if (values->kind == MI_V_INT || values->kind == MI_V_BOOL || values->kind == MI_V_STR) {
        long long x = 0;
        TRY(py_int(ev, values, &x));
        int ok;
        const char *what;
        if (!strcmp(op, "more") || !strcmp(op, "greater") || !strcmp(op, "bigger")) {
            ok = x > number;
            what = "is not more than";
        } else if (!strcmp(op, "more and equal") || !strcmp(op, "greater and equal") ||
                   !strcmp(op, "bigger and equal")) {
            ok = x >= number;
            what = "is not more and equal than";
        } else if (!strcmp(op, "less") || !strcmp(op, "lesser") || !strcmp(op, "smaller")) {
            ok = x < number;
            what = "is not less than";
        } else if (!strcmp(op, "less and equal") || !strcmp(op, "lesser and equal") ||
                   !strcmp(op, "smaller and equal")) {
            ok = x <= number;
            what = "is not less and equal than";
        } else if (!strcmp(op, "equal")) {
            ok = x == number;
            what = "is not equal to";
        } else {
            return ev_raise(ev, "TerraformComplianceNotImplemented", "Invalid operator: %s", op);
        }
        if (!ok) {
            const char *addr = ev->ctx.has_address ? py_cstr(ev, &ev->ctx.address) : "None";
            mi_value xv = mi_v_int(x);
            TRY(ev_fail(ev, addr, &xv, "for %s on %s. %lld %s %ld.", addr,
                        ev->ctx.property_name ? ev->ctx.property_name : "None", x, what, number));
        }
    }
    return 0;
}

static int step_expect(struct ev *ev, const struct pstep *ps)
{
    const struct mi_step_field *nf = mi_step_field(&ps->bind, "number");
    mi_value stash;
    TRY(ctx_stash(ev, &stash));
    return expect_rec(ev, arg(ps, "operator"), nf ? nf->number : 0, &stash, 0);
}

/* ==== THEN: its value must (not) match the "regex" regex =================================== */

struct match_run {
    const char *condition;
    const char *regex;
    const mi_value *values; /* for the failure message */
};

static int regex_fail(struct ev *ev, const struct match_run *m, const char *name,
                      const mi_value *values)
{
    const char *text = !strcmp(m->condition, "must not") ? "matches" : "does not match";
    const char *pattern = !strcmp(m->regex, "\x00") ? "Null/None" : m->regex;
    mi_buf vb = MI_BUF_INIT;
    py_str(&vb, values);
    int rc = ev_fail(ev, name, values, "%s property in %s %s %s with %s %s regex. It is set to %s.",
                     ev->ctx.property_name ? ev->ctx.property_name : "None", name ? name : "None",
                     ctx_type(ev), text, pattern,
                     ev->ctx.case_sensitive ? "case sensitive" : "case insensitive", vb.ptr);
    mi_buf_release(&vb);
    return rc;
}

/* get_resource_name_from_stash(stash, alternative, address).get('address') */
static int resource_name_from_stash(struct ev *ev, const mi_value *alternative, int alt_is_empty,
                                    mi_buf *out)
{
    if (ev->ctx.has_address && ev->ctx.address.kind != MI_V_NULL) {
        py_str(out, &ev->ctx.address);
        return 0;
    }
    int alt_ok =
        !alt_is_empty && (alternative->kind == MI_V_STR || alternative->kind == MI_V_BOOL ||
                          alternative->kind == MI_V_NULL);
    if (!alt_ok)
        return ev_raise(ev, "AttributeError", "'NoneType' object has no attribute 'get'");
    const mi_value *stash = &ev->ctx.stash;
    if (stash->kind == MI_V_LIST) {
        mi_value first;
        TRY(py_index0(ev, stash, &first));
        mi_value key = mi_v_str_static("address", 7);
        int in;
        TRY(py_in(ev, &key, &first, &in));
        const mi_value *a = first.kind == MI_V_DICT ? mi_value_get(&first, "address") : NULL;
        if (in && a && a->kind != MI_V_NULL) {
            mi_buf b = MI_BUF_INIT;
            py_str(&b, a);
            /* .replace('[0]', '') */
            const char *s = b.ptr, *hit;
            while ((hit = strstr(s, "[0]")) != NULL) {
                mi_buf_add(out, s, (size_t)(hit - s));
                s = hit + 3;
            }
            mi_buf_adds(out, s);
            mi_buf_release(&b);
        } else {
            py_str(out, &first);
        }
        return 0;
    }
    mi_value key = mi_v_str_static("address", 7);
    int in;
    TRY(py_in(ev, &key, alternative, &in));
    py_str(out, alternative);
    return 0;
}

static int match_rec(struct ev *ev, const struct match_run *m, const mi_value *values, int top,
                     int depth)
{
    if (depth > 512)
        return 0;
    if (py_is_simple(values) || values->kind == MI_V_NULL) {
        int matched;
        TRY(m_regex_match(ev, m->regex, values, &matched));
        if ((!strcmp(m->condition, "must") && !matched) ||
            (!strcmp(m->condition, "must not") && matched)) {
            mi_buf name = MI_BUF_INIT;
            if (!ev->ctx.has_address) {
                mi_buf_release(&name);
                return ev_raise(ev, "AttributeError",
                                "'Context' object has no attribute 'address'");
            }
            if (resource_name_from_stash(ev, values, top, &name) < 0) {
                mi_buf_release(&name);
                return -1;
            }
            int rc = regex_fail(ev, m, name.ptr, values);
            mi_buf_release(&name);
            return rc;
        }
        return 0;
    }
    if (values->kind == MI_V_LIST) {
        for (uint32_t i = 0; i < values->n; i++)
            TRY(match_rec(ev, m, &values->u.items[i], 0, depth + 1));
        return 0;
    }
    if (values->kind == MI_V_DICT) {
        if (!ev->ctx.has_address) {
            ev->ctx.has_address = 1;
            ev->ctx.address = mi_v_null();
        }
        const mi_value *ad = mi_value_get(values, "address");
        if (ad)
            ev->ctx.address = *ad;
        const mi_value *vv = mi_value_get(values, "values");
        if (vv) {
            if (vv->kind == MI_V_NULL && !strcmp(m->regex, "\x00") &&
                !strcmp(m->condition, "must not")) {
                if (top)
                    return ev_raise(ev, "AttributeError",
                                    "type object 'EmptyStash' has no attribute 'get'");
                const mi_value *a = mi_value_get(values, "address");
                mi_value none = mi_v_null();
                return regex_fail(ev, m, a ? py_cstr(ev, a) : "None", &none);
            }
            return match_rec(ev, m, vv, 0, depth + 1);
        }
        for (uint32_t i = 0; i < values->n; i++)
            TRY(match_rec(ev, m, &values->u.kv[i].v, 0, depth + 1));
        return 0;
    }
    return 0;
}

static int step_value_match(struct ev *ev, const struct pstep *ps, const char *regex_override)
{
    struct match_run m = {arg(ps, "condition"),
                          regex_override ? regex_override : arg(ps, "search_regex"), NULL};
    mi_value stash;
    TRY(ctx_stash(ev, &stash));
    return match_rec(ev, &m, &stash, 1, 0);
}

static int step_singular_match(struct ev *ev, const struct pstep *ps)
{
    mi_value stash;
    TRY(ctx_stash(ev, &stash));
    const char *pn = ev->ctx.property_name ? ev->ctx.property_name : "None";
    if (stash.kind == MI_V_DICT) {
        if (!mi_value_get(&stash, "values"))
            return ev_fail(ev, NULL, NULL,
                           "%s is multivalued! Please use any/all versions of this step instead.",
                           pn);
    } else if (stash.kind == MI_V_LIST) {
        for (uint32_t i = 0; i < stash.n; i++) {
            mi_value r = stash.u.items[i];
            if (r.kind == MI_V_DICT) {
                const mi_value *v = mi_value_get(&r, "values");
                if (v)
                    r = *v;
            }
            if ((r.kind == MI_V_DICT || r.kind == MI_V_LIST) && r.n > 1)
                return ev_fail(ev, NULL, NULL,
                               "%s is multivalued! Please use any/all versions of this step "
                               "instead.",
                               pn);
        }
    }
    return step_value_match(ev, ps, NULL);
}

static int any_search(struct ev *ev, const struct match_run *m, const mi_value *values, int *found,
                      int depth)
{
    if (*found || depth > 512)
        return 0;
    if (py_is_simple(values) || values->kind == MI_V_NULL) {
        int matched;
        TRY(m_regex_match(ev, m->regex, values, &matched));
        if ((!strcmp(m->condition, "must") && matched) ||
            (!strcmp(m->condition, "must not") && !matched))
            *found = 1;
        return 0;
    }
    if (values->kind == MI_V_LIST) {
        for (uint32_t i = 0; i < values->n && !*found; i++)
            TRY(any_search(ev, m, &values->u.items[i], found, depth + 1));
        return 0;
    }
    if (values->kind == MI_V_DICT) {
        if (!ev->ctx.has_address) {
            ev->ctx.has_address = 1;
            ev->ctx.address = mi_v_null();
        }
        const mi_value *ad = mi_value_get(values, "address");
        if (ad)
            ev->ctx.address = *ad;
        const mi_value *vv = mi_value_get(values, "values");
        if (vv)
            return any_search(ev, m, vv, found, depth + 1);
        for (uint32_t i = 0; i < values->n && !*found; i++)
            TRY(any_search(ev, m, &values->u.kv[i].v, found, depth + 1));
    }
    return 0;
}

static int step_any_match(struct ev *ev, const struct pstep *ps)
{
    struct match_run m = {arg(ps, "condition"), arg(ps, "search_regex"), NULL};
    mi_value stash;
    TRY(ctx_stash(ev, &stash));
    int found = 0;
    TRY(any_search(ev, &m, &stash, &found, 0));
    if (found)
        return 0;
    if (!ev->ctx.has_address)
        return ev_raise(ev, "AttributeError", "'Context' object has no attribute 'address'");
    mi_buf name = MI_BUF_INIT;
    if (resource_name_from_stash(ev, &stash, 1, &name) < 0) {
        mi_buf_release(&name);
        return -1;
    }
    int rc = regex_fail(ev, &m, name.ptr, &stash);
    mi_buf_release(&name);
    return rc;
}

/* ==== THEN: its value must (not) be null / be X / contain X ================================= */

static int is_null_value(struct ev *ev, const mi_value *x, int *out)
{
    *out = 0;
    if (x->kind == MI_V_NULL || py_is_null(x) ||
        ((x->kind == MI_V_LIST || x->kind == MI_V_DICT) && x->n == 0)) {
        *out = 1;
        return 0;
    }
    if (x->kind == MI_V_STR)
        return ev_regex_match(ev, "(\\x00|^$)$", x->u.s, x->n,
                              ev->ctx.case_sensitive ? 0 : MI_RE_IGNORECASE, out, NULL);
    return 0;
}

static int step_null(struct ev *ev, const struct pstep *ps)
{
    const char *condition = arg(ps, "condition");
    if (strcmp(condition, "must") != 0 && strcmp(condition, "must not") != 0)
        TRY(ev_fail(ev, NULL, NULL, "Condition must be one of \"must\" or \"must not\""));
    int must = !strcmp(condition, "must");
    mi_value stash;
    TRY(ctx_stash(ev, &stash));
    mi_value *items;
    size_t n;
    TRY(py_iter(ev, &stash, &items, &n));
    const char *pn = ev->ctx.property_name ? ev->ctx.property_name : "None";
    for (size_t i = 0; i < n; i++) {
        mi_value values, dflt = mi_v_empty_dict();
        TRY(py_get(ev, &items[i], "values", &dflt, &values));
        const mi_value *ad = mi_value_get(&items[i], "address");
        const char *addr = ad ? py_cstr(ev, ad) : (ev->ctx.name ? ev->ctx.name : "None");
        int isnull;
        TRY(is_null_value(ev, &values, &isnull));
        if ((isnull && !must) || (!isnull && must)) {
            mi_buf vb = MI_BUF_INIT;
            py_str(&vb, &values);
            int rc = ev_fail(ev, addr, &values,
                             "%s property in %s is considered to be %s. It is set to \"%s\".", pn,
                             addr, isnull ? "Null" : "not Null", vb.ptr);
            mi_buf_release(&vb);
            TRY(rc);
        } else if (values.kind == MI_V_DICT || values.kind == MI_V_LIST) {
            int all_null = 1;
            for (uint32_t k = 0; k < values.n; k++) {
                const mi_value *v =
                    values.kind == MI_V_DICT ? &values.u.kv[k].v : &values.u.items[k];
                int nn;
                TRY(is_null_value(ev, v, &nn));
                if (!nn) {
                    all_null = 0;
                    break;
                }
            }
            if ((all_null && !must) || (!all_null && must)) {
                mi_buf vb = MI_BUF_INIT;
                py_str(&vb, &values);
                int rc = ev_fail(ev, addr, &values,
                                 "Multivalued %s property in %s is considered to be %s. It is set "
                                 "to \"%s\".",
                                 pn, addr, all_null ? "Null" : "not Null", vb.ptr);
                mi_buf_release(&vb);
                TRY(rc);
            }
        }
    }
    return 0;
}

static int step_equal(struct ev *ev, const struct pstep *ps)
{
    const char *match = arg(ps, "match");
    /* `match not in ('null')` is a substring test on the string 'null' */
    if (strstr("null", match))
        return 0;
    mi_buf rx = MI_BUF_INIT;
    mi_buf_addch(&rx, '^');
    mi_regex_escape(&rx, match, strlen(match));
    mi_buf_addch(&rx, '$');
    char *regex = mi_arena_strndup(&ev->a, rx.ptr, rx.len);
    mi_buf_release(&rx);
    return step_value_match(ev, ps, regex);
}

static int contain_rec(struct ev *ev, const char *condition, const char *value, const mi_value *in,
                       mi_value *ret, int depth)
{
    mi_value values = *in;
    if (depth > 512) {
        *ret = values;
        return 0;
    }
    if (values.kind == MI_V_LIST) {
        mi_value list = values;
        for (uint32_t i = 0; i < list.n; i++)
            TRY(contain_rec(ev, condition, value, &list.u.items[i], &values, depth + 1));
    }
    if (py_is_simple(&values)) {
        mi_kv *kv = mi_arena_alloc(&ev->a, 2 * sizeof(*kv));
        kv[0].key = mi_value_key(&ev->a, "values", 6);
        kv[0].v = values;
        kv[1].key = mi_value_key(&ev->a, "address", 7);
        if (ev->ctx.has_address)
            kv[1].v = ev->ctx.address;
        else if (ev->ctx.has_addresses)
            kv[1].v = ev->ctx.addresses;
        else
            return ev_raise(ev, "AttributeError", "'Context' object has no attribute 'addresses'");
        values = mi_v_dict_of(kv, 2);
    }
    mi_value found;
    TRY(m_seek_value(ev, value, &values, &found));
    int must = !strcmp(condition, "must");
    if (must && found.n == 0) {
        mi_buf objects = MI_BUF_INIT;
        if (values.kind == MI_V_LIST) {
            for (uint32_t i = 0; i < values.n; i++) {
                mi_value a, dflt = mi_v_str_static("???", 3);
                if (py_get(ev, &values.u.items[i], "address", &dflt, &a) < 0) {
                    mi_buf_release(&objects);
                    return -1;
                }
                if (a.kind != MI_V_STR) {
                    mi_buf_release(&objects);
                    return ev_raise(ev, "TypeError",
                                    "sequence item %u: expected str instance, %s found", i,
                                    mi_value_type_name(&a));
                }
                if (i)
                    mi_buf_adds(&objects, ", ");
                mi_buf_add(&objects, a.u.s, a.n);
            }
        } else if (values.kind == MI_V_DICT) {
            const mi_value *a = mi_value_get(&values, "address");
            mi_value av = a ? *a : mi_v_null();
            py_str(&objects, &av);
        } else {
            mi_buf_release(&objects);
            return ev_raise(ev, "AttributeError", "'%s' object has no attribute 'get'",
                            mi_value_type_name(&values));
        }
        int rc = ev_fail(ev, objects.ptr, NULL, "%s could not found in %s.", value, objects.ptr);
        mi_buf_release(&objects);
        TRY(rc);
    } else if (!must && found.n) {
        mi_buf addr = MI_BUF_INIT;
        mi_value first = found.u.items[0];
        const mi_value *a = first.kind == MI_V_DICT ? mi_value_get(&first, "address") : NULL;
        if (first.kind == MI_V_STR && memmem(first.u.s, first.n, "address", 7)) {
            mi_buf_release(&addr);
            return ev_raise(ev, "TypeError", "string indices must be integers");
        }
        if (a && a->kind != MI_V_NULL) {
            mi_buf b = MI_BUF_INIT;
            py_str(&b, a);
            const char *s = b.ptr, *hit;
            while ((hit = strstr(s, "[0]")) != NULL) {
                mi_buf_add(&addr, s, (size_t)(hit - s));
                s = hit + 3;
            }
            mi_buf_adds(&addr, s);
            mi_buf_release(&b);
        } else {
            py_str(&addr, &first);
        }
        int rc = ev_fail(ev, addr.ptr, NULL, "%s found in %s.", value, addr.ptr);
        mi_buf_release(&addr);
        TRY(rc);
    }
    *ret = values;
    return 0;
}

static int step_value_contain(struct ev *ev, const struct pstep *ps)
{
    const char *condition = arg(ps, "condition");
    if (strcmp(condition, "must") != 0 && strcmp(condition, "must not") != 0)
        return ev_raise(ev, "TerraformComplianceNotImplemented",
                        "Condition should be one of: `must`, `must not`");
    mi_value stash, ret;
    TRY(ctx_stash(ev, &stash));
    return contain_rec(ev, condition, arg(ps, "value"), &stash, &ret, 0);
}

/* ==== THEN: it must fail; its key must be value; flatten; must be in ======================= */

static int step_fail(struct ev *ev)
{
    const char *name = NULL;
    TRY(ctx_name(ev, &name));
    mi_buf addrs = MI_BUF_INIT;
    if (joined_addresses(ev, &addrs) < 0) {
        mi_buf_release(&addrs);
        return -1;
    }
    int rc = ev_fail(ev, addrs.ptr, NULL, "Forcefully failing the scenario on %s (%s) %s", name,
                     addrs.ptr, ctx_type(ev));
    mi_buf_release(&addrs);
    return rc;
}

static int step_key_condition(struct ev *ev, const struct pstep *ps)
{
    const char *key = arg(ps, "key");
    const char *condition = arg(ps, "condition");
    const char *value = arg(ps, "value");
    if (strcmp(condition, "must") != 0 && strcmp(condition, "must not") != 0)
        return ev_raise(ev, "TerraformComplianceNotImplemented",
                        "This step only accepts \"must\" and \"must not\" as a condition.");
    int cond = !strcmp(condition, "must");
    mi_value stash;
    TRY(ctx_stash(ev, &stash));
    if (!py_truthy(&stash)) {
        TRY(ev_fail(ev, NULL, NULL,
                    "No entities found for this step to process. Check your filtering steps in "
                    "this scenario."));
        return 0;
    }
    mi_buf obj_address = MI_BUF_INIT;
    if (ev->ctx.has_address) {
        py_str(&obj_address, &ev->ctx.address);
    } else if (ev->ctx.has_addresses) {
        if (py_join(ev, ", ", &ev->ctx.addresses, &obj_address) < 0) {
            mi_buf_release(&obj_address);
            return -1;
        }
    } else {
        mi_buf_adds(&obj_address, ev->ctx.name ? ev->ctx.name : "None");
    }
    const char *oa = mi_arena_strndup(&ev->a, obj_address.ptr, obj_address.len);
    mi_buf_release(&obj_address);
    mi_value *items;
    size_t n;
    TRY(py_iter(ev, &stash, &items, &n));
    mi_vlist found_values = MI_VLIST_INIT;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const mi_value *entity = &items[i];
        mi_value found;
        if (entity->kind == MI_V_DICT || entity->kind == MI_V_LIST) {
            mi_value target = *entity;
            const char *where = oa;
            if (entity->kind == MI_V_LIST) {
                char *k = mi_xasprintf("not_%s", key);
                mi_key *kk = mi_value_key(&ev->a, k, strlen(k));
                free(k);
                target = py_dict1(ev, kk, entity);
            } else {
                const mi_value *a = mi_value_get(entity, "address");
                if (a)
                    where = py_cstr(ev, a);
            }
            if ((rc = m_seek_regex_key(ev, &target, key, value, &found)) < 0)
                break;
            if (!found.n && cond) {
                rc = ev_fail(ev, where, NULL, "Can not find %s in %s property of %s.", value, key,
                             where);
            } else if (found.n && !cond) {
                mi_buf j = MI_BUF_INIT;
                mi_value fv = mi_v_list_of(found_values.items, found_values.n);
                py_join(ev, ", ", &fv, &j);
                rc = ev_fail(ev, oa, &found.u.items[0], "Found %s(%s) in %s property of %s.", value,
                             j.ptr, key, oa);
                mi_buf_release(&j);
            }
            if (rc == 0 && found.n)
                mi_vlist_push(&found_values, found.u.items[0]);
        } else if (entity->kind == MI_V_STR || entity->kind == MI_V_INT ||
                   entity->kind == MI_V_BOOL) {
            if (cond)
                rc = ev_fail(ev, oa, NULL, "Can not find %s in %s property of %s.", value, key, oa);
        }
    }
    if (rc < 0) {
        mi_vlist_release(&found_values);
        return -1;
    }
    size_t nfound = found_values.n;
    ev->ctx.stash = mi_vlist_finish(&found_values, &ev->a);
    if (nfound && !cond) {
        mi_buf j = MI_BUF_INIT;
        py_join(ev, ", ", &ev->ctx.stash, &j);
        rc = ev_fail(ev, oa, NULL, "Found %s(%s) in %s property of %s.", value, j.ptr, key, oa);
        mi_buf_release(&j);
        TRY(rc);
    } else if (nfound != n && cond) {
        TRY(ev_fail(ev, oa, NULL, "Can not find %s in %s property of %s.", value, key, oa));
    }
    return 0;
}

static int step_flatten(struct ev *ev)
{
    mi_value stash;
    TRY(ctx_stash(ev, &stash));
    mi_value *items;
    size_t n;
    TRY(py_iter(ev, &stash, &items, &n));
    mi_vlist flat = MI_VLIST_INIT, addrs = MI_VLIST_INIT;
    for (size_t i = 0; i < n; i++) {
        mi_value v, a;
        if (py_get(ev, &items[i], "values", &items[i], &v) < 0 ||
            py_get(ev, &items[i], "address", &items[i], &a) < 0) {
            mi_vlist_release(&flat);
            mi_vlist_release(&addrs);
            return -1;
        }
        mi_vlist_push(&flat, v);
        mi_vlist_push(&addrs, a);
    }
    if (!flat.n) {
        mi_vlist_release(&flat);
        mi_vlist_release(&addrs);
        return 0;
    }
    mi_value al = mi_vlist_finish(&addrs, &ev->a);
    mi_buf j = MI_BUF_INIT;
    if (py_join(ev, ", ", &al, &j) < 0) {
        mi_buf_release(&j);
        mi_vlist_release(&flat);
        return -1;
    }
    mi_kv *kv = mi_arena_alloc(&ev->a, 2 * sizeof(*kv));
    kv[0].key = mi_value_key(&ev->a, "address", 7);
    kv[0].v = mi_v_str(&ev->a, j.ptr, j.len);
    kv[1].key = mi_value_key(&ev->a, "values", 6);
    kv[1].v = mi_vlist_finish(&flat, &ev->a);
    ev->ctx.stash = mi_v_dict_of(kv, 2);
    mi_buf_release(&j);
    return 0;
}

/* Match.issubset(a, b) over iterables that are not strings. */
static int issubset(struct ev *ev, const mi_value *a, const mi_value *b, int *out)
{
    if (a->kind == MI_V_STR || b->kind == MI_V_STR)
        return ev_raise(ev, "TerraformComplianceInternalFailure", "%s should be a non-str iterable",
                        py_cstr(ev, a->kind == MI_V_STR ? a : b));
    mi_value *ai, *bi;
    size_t an, bn;
    TRY(py_iter(ev, a, &ai, &an));
    TRY(py_iter(ev, b, &bi, &bn));
    int ci = !ev->ctx.case_sensitive;
    for (size_t i = 0; i < an; i++) {
        if (!ci && (ai[i].kind == MI_V_LIST || ai[i].kind == MI_V_DICT))
            return ev_raise(ev, "TypeError", "unhashable type: '%s'", mi_value_type_name(&ai[i]));
        int hit = 0;
        for (size_t k = 0; k < bn && !hit; k++) {
            if (ci) {
                mi_buf x = MI_BUF_INIT, y = MI_BUF_INIT;
                py_str(&x, &ai[i]);
                py_str(&y, &bi[k]);
                hit = x.len == y.len && strncasecmp(x.ptr, y.ptr, x.len) == 0;
                mi_buf_release(&x);
                mi_buf_release(&y);
            } else {
                hit = py_eq(&ai[i], &bi[k]);
            }
        }
        if (!hit) {
            *out = 0;
            return 0;
        }
    }
    *out = 1;
    return 0;
}

static int step_in(struct ev *ev, const struct pstep *ps, int negate)
{
    int cover = ps->bind.def->variant & V_COVER;
    const char *haystack = arg(ps, "haystack");
    mi_value stash;
    TRY(ctx_stash(ev, &stash));
    mi_value *items;
    size_t n;
    TRY(py_iter(ev, &stash, &items, &n));
    mi_vlist vals = MI_VLIST_INIT;
    for (size_t i = 0; i < n; i++) {
        mi_value v;
        if (py_getitem(ev, &items[i], "values", &v) < 0) {
            mi_vlist_release(&vals);
            return -1;
        }
        mi_vlist_push(&vals, v);
    }
    mi_value values = mi_vlist_finish(&vals, &ev->a);
    for (uint32_t i = 0; i < values.n; i++)
        if (!py_is_simple(&values.u.items[i]))
            TRY(ev_fail(ev, NULL, &values.u.items[i],
                        "Values are not in the correct type. (bool, str, int, float)"));
    if (!ev->ctx.has_haystack) {
        TRY(ev_fail(ev, NULL, NULL, "Could not resolve haystack: %s", haystack));
        return ev_raise(ev, "KeyError", "'haystack'");
    }
    mi_value parsed = ev->ctx.haystack;
    int sub;
    if (!cover)
        TRY(issubset(ev, &values, &parsed, &sub));
    else
        TRY(issubset(ev, &parsed, &values, &sub));
    if (!negate && !sub)
        return ev_fail(ev, NULL, NULL,
                       cover ? "Selected resources does not cover %s."
                             : "%s does not cover selected resources.",
                       haystack);
    if (negate && sub)
        return ev_fail(ev, NULL, NULL,
                       cover ? "Selected resources cover %s." : "%s covers selected resources.",
                       haystack);
    return 0;
}

static int step_referenced(struct ev *ev, const struct pstep *ps)
{
    const char *ref = arg(ps, "reference_address");
    mi_value stash;
    TRY(ctx_stash(ev, &stash));
    if (!py_truthy(&stash))
        return ev_fail(ev, NULL, NULL,
                       "No entities found for this step to process. Check your filtering steps "
                       "in this scenario.");
    mi_value *items;
    size_t n;
    TRY(py_iter(ev, &stash, &items, &n));
    for (size_t i = 0; i < n; i++) {
        if (items[i].kind != MI_V_DICT)
            return ev_raise(ev, "TerraformComplianceInternalFailure",
                            "Unexpected resource structure: %s", py_cstr(ev, &items[i]));
        const mi_value *list = mi_value_get(&items[i], R_MOUNT_ADDR_PTR_LIST);
        if (list && list->kind == MI_V_LIST) {
            for (uint32_t k = 0; k < list->n; k++) {
                if (list->u.items[k].kind != MI_V_STR)
                    continue;
                int m;
                TRY(ev_regex_match(ev, ref, list->u.items[k].u.s, list->u.items[k].n, 0, &m, NULL));
                if (m)
                    return 0;
            }
        }
        const mi_value *a = mi_value_get(&items[i], "address");
        const char *as = a ? py_cstr(ev, a) : "None";
        TRY(ev_fail(ev, as, NULL, "%s is not referenced within %s.", ref, as));
    }
    return 0;
}

/* ==== dispatch ============================================================================= */

int ev_run_step(struct ev *ev, const struct pstep *ps)
{
    const struct mi_step_def *d = ps->bind.def;
    if (!d)
        return ev_raise(ev, "StepDefinitionNotFoundError", "no step matches '%s'", ps->sentence);
    switch (d->fn) {
    case F_GIVEN:
        return step_given(ev, ps);
    case F_META_HAS:
        return step_metadata(ev, ps, 1);
    case F_META_HAS_NOT:
        return step_metadata(ev, ps, 0);
    case F_KEY_IS:
        return step_key_is(ev, ps, 0);
    case F_KEY_IS_NOT:
        return step_key_is(ev, ps, 1);
    case F_IT_CONTAINS:
        return step_contain(ev, ps, CM_OLD);
    case F_IT_HAS:
        return step_contain(ev, ps, CM_HAS);
    case F_IT_HAS_NOT:
        return step_contain(ev, ps, CM_HAS_NOT);
    case F_REFERENCED:
        return step_referenced(ev, ps);
    case F_SG:
        return step_sg(ev, ps);
    case F_MUST_CONTAIN:
        return step_contain(ev, ps, CM_MUST);
    case F_MUST_NOT_CONTAIN:
        return step_contain(ev, ps, CM_MUST_NOT);
    case F_ENABLED:
        return step_enabled(ev, ps);
    case F_ACTION:
        return step_action(ev, ps);
    case F_EXPECT:
        return step_expect(ev, ps);
    case F_VALUE_MATCH:
        return step_value_match(ev, ps, NULL);
    case F_SINGULAR_MATCH:
        return step_singular_match(ev, ps);
    case F_ANY_MATCH:
        return step_any_match(ev, ps);
    case F_NULL:
        return step_null(ev, ps);
    case F_EQUAL:
        return step_equal(ev, ps);
    case F_VALUE_CONTAIN:
        return step_value_contain(ev, ps);
    case F_FAIL:
        return step_fail(ev);
    case F_KEY_CONDITION:
        return step_key_condition(ev, ps);
    case F_FLATTEN:
        return step_flatten(ev);
    case F_IN:
        return step_in(ev, ps, 0);
    case F_NOT_IN:
        return step_in(ev, ps, 1);
    }
    return ev_raise(ev, "StepDefinitionNotFoundError", "no step matches '%s'", ps->sentence);
}
