/*
 * changes.c - terraform plan JSON -> struct mi_tfplan. See changes.h for the rules.
 *
 * jansson: the document is loaded once and decref'd on the one exit path of
 * mi_tfplan_parse; everything below borrows from it (json_object_get and friends) and copies
 * out what it keeps as strings.
 */
#include "terraform/changes.h"

#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/banned.h"

/* ====================================================================================== */
/* small helpers                                                                          */
/* ====================================================================================== */

static char *dup_str(json_t *v)
{
    return json_is_string(v) ? mi_xstrdup(json_string_value(v)) : NULL;
}

static char *dump_compact(json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s) {
        /* jansson only fails here on allocation. */
        return mi_xstrdup("null");
    }
    char *copy = mi_xstrdup(s);
    free(s);
    return copy;
}

/* A sensitivity or unknown mask for a child: true propagates down, objects and arrays are
 * indexed, anything else means "not marked". */
static json_t *mask_key(json_t *mask, const char *key)
{
    if (json_is_true(mask))
        return mask;
    return json_is_object(mask) ? json_object_get(mask, key) : NULL;
}

static json_t *mask_index(json_t *mask, size_t i)
{
    if (json_is_true(mask))
        return mask;
    return json_is_array(mask) ? json_array_get(mask, i) : NULL;
}

static int is_ident(const char *s)
{
    if (!*s || !(isalpha((unsigned char)*s) || *s == '_'))
        return 0;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_' || *s == '-'))
            return 0;
    return 1;
}

static void path_add_key(mi_buf *p, const char *key)
{
    if (is_ident(key)) {
        if (p->len)
            mi_buf_addch(p, '.');
        mi_buf_adds(p, key);
    } else {
        mi_buf_adds(p, "[\"");
        mi_buf_add_json_escaped(p, key);
        mi_buf_adds(p, "\"]");
    }
}

/* ====================================================================================== */
/* sensitive values                                                                       */
/* ====================================================================================== */

struct secrets {
    char **items;
    size_t len, cap;
};

static void secret_add(struct secrets *s, const char *v, size_t len)
{
    if (len < MI_TFPLAN_SECRET_MIN)
        return;
    if (s->len == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->items = mi_xrealloc(s->items, s->cap * sizeof(*s->items));
    }
    s->items[s->len++] = mi_xstrndup(v, len);
}

static void secret_add_value(struct secrets *s, json_t *v)
{
    if (json_is_string(v)) {
        const char *str = json_string_value(v);
        size_t len = json_string_length(v);
        secret_add(s, str, len);
        /* A multi-line secret (a key, a kubeconfig) shows line by line in plan text. */
        if (memchr(str, '\n', len)) {
            const char *p = str, *end = str + len;
            while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
                while (l && (p[l - 1] == '\r' || p[l - 1] == ' '))
                    l--;
                const char *q = p;
                while (l && (*q == ' ' || *q == '\t')) {
                    q++;
                    l--;
                }
                if (l >= 8)
                    secret_add(s, q, l);
                p += (nl ? (size_t)(nl - p) + 1 : (size_t)(end - p));
            }
        }
    } else if (json_is_integer(v) || json_is_real(v)) {
        char *d = dump_compact(v);
        secret_add(s, d, strlen(d));
        free(d);
    } else if (json_is_object(v)) {
        const char *k;
        json_t *c;
        json_object_foreach(v, k, c) secret_add_value(s, c);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c) secret_add_value(s, c);
    }
}

/* Collects the parts of value that mask marks sensitive. */
static void secret_walk(struct secrets *s, json_t *value, json_t *mask)
{
    if (!value || !mask)
        return;
    if (json_is_true(mask)) {
        secret_add_value(s, value);
    } else if (json_is_object(mask) && json_is_object(value)) {
        const char *k;
        json_t *m;
        json_object_foreach(mask, k, m) secret_walk(s, json_object_get(value, k), m);
    } else if (json_is_array(mask) && json_is_array(value)) {
        size_t i;
        json_t *m;
        json_array_foreach(mask, i, m) secret_walk(s, json_array_get(value, i), m);
    }
}

/* A module's resources in prior_state / planned_values, and its child modules. */
static void secret_walk_module(struct secrets *s, json_t *module)
{
    json_t *resources = json_object_get(module, "resources");
    size_t i;
    json_t *r;
    json_array_foreach(resources, i, r)
        secret_walk(s, json_object_get(r, "values"), json_object_get(r, "sensitive_values"));
    json_t *children = json_object_get(module, "child_modules");
    json_array_foreach(children, i, r) secret_walk_module(s, r);
}

/* Output values in a state or planned-values representation: {name: {sensitive, value}}. */
static void secret_walk_outputs(struct secrets *s, json_t *outputs)
{
    const char *k;
    json_t *o;
    json_object_foreach(outputs, k, o) if (json_is_true(json_object_get(o, "sensitive")))
        secret_add_value(s, json_object_get(o, "value"));
}

static int cmp_secret(const void *a, const void *b)
{
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    size_t lx = strlen(x), ly = strlen(y);
    if (lx != ly)
        return lx > ly ? -1 : 1;
    return strcmp(x, y);
}

static void secrets_finish(struct mi_tfplan *c, struct secrets *s)
{
    if (s->len)
        qsort(s->items, s->len, sizeof(*s->items), cmp_secret);
    size_t k = 0;
    for (size_t i = 0; i < s->len; i++) {
        if (k && strcmp(s->items[k - 1], s->items[i]) == 0) {
            free(s->items[i]);
            continue;
        }
        s->items[k++] = s->items[i];
    }
    c->sensitive = s->items;
    c->sensitive_len = k;
}

/* ====================================================================================== */
/* attribute differences                                                                  */
/* ====================================================================================== */

struct attrs {
    struct mi_tfplan_resource *rc;
    size_t cap;
};

static void attr_record(struct attrs *a, const char *path, json_t *before, json_t *after, int bsens,
                        int asens, int unknown)
{
    struct mi_tfplan_resource *rc = a->rc;
    rc->attrs_total++;
    if (rc->attrs_len >= MI_TFPLAN_ATTRS_MAX)
        return;
    if (rc->attrs_len == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 8;
        rc->attrs = mi_xrealloc(rc->attrs, a->cap * sizeof(*rc->attrs));
    }
    struct mi_tfplan_attr *ac = &rc->attrs[rc->attrs_len++];
    memset(ac, 0, sizeof(*ac));
    ac->path = mi_xstrdup(path);
    ac->before_sensitive = bsens != 0;
    ac->after_sensitive = asens != 0;
    ac->after_unknown = unknown != 0;
    if (before && !bsens)
        ac->before = dump_compact(before);
    if (after && !asens && !unknown)
        ac->after = dump_compact(after);
}

static void diff_walk(struct attrs *a, mi_buf *path, json_t *before, json_t *after, json_t *bmask,
                      json_t *amask, json_t *umask, int depth)
{
    int unknown = json_is_true(umask);
    int bsens = json_is_true(bmask), asens = json_is_true(amask);
    if (json_is_null(before))
        before = NULL;
    if (json_is_null(after) && !unknown)
        after = NULL;

    /* Recurse while both sides (or the unknown mask) are the same kind of container. */
    int plain = !unknown && !bsens && !asens && depth < 32;
    if (plain && (!before || json_is_object(before)) && (!after || json_is_object(after)) &&
        (json_is_object(before) || json_is_object(after) || json_is_object(umask))) {
        size_t mark = path->len;
        const char *k;
        json_t *v;
        json_object_foreach(before, k, v)
        {
            path_add_key(path, k);
            diff_walk(a, path, v, json_object_get(after, k), mask_key(bmask, k), mask_key(amask, k),
                      mask_key(umask, k), depth + 1);
            mi_buf_truncate(path, mark);
        }
        json_object_foreach(after, k, v)
        {
            if (before && json_object_get(before, k))
                continue;
            path_add_key(path, k);
            diff_walk(a, path, NULL, v, mask_key(bmask, k), mask_key(amask, k), mask_key(umask, k),
                      depth + 1);
            mi_buf_truncate(path, mark);
        }
        json_object_foreach(umask, k, v)
        {
            if ((before && json_object_get(before, k)) || (after && json_object_get(after, k)))
                continue;
            path_add_key(path, k);
            diff_walk(a, path, NULL, NULL, mask_key(bmask, k), mask_key(amask, k), v, depth + 1);
            mi_buf_truncate(path, mark);
        }
        return;
    }
    if (plain && (!before || json_is_array(before)) && (!after || json_is_array(after)) &&
        (json_is_array(before) || json_is_array(after) || json_is_array(umask))) {
        size_t n = json_array_size(before);
        if (json_array_size(after) > n)
            n = json_array_size(after);
        if (json_array_size(umask) > n)
            n = json_array_size(umask);
        size_t mark = path->len;
        for (size_t i = 0; i < n; i++) {
            mi_buf_addf(path, "[%zu]", i);
            diff_walk(a, path, json_array_get(before, i), json_array_get(after, i),
                      mask_index(bmask, i), mask_index(amask, i), mask_index(umask, i), depth + 1);
            mi_buf_truncate(path, mark);
        }
        return;
    }
    if (!unknown && !bsens && !asens && before && after && json_equal(before, after))
        return;
    if (!unknown && !bsens && !asens && !before && !after)
        return;
    /* A sensitive value that stays the same is not a change either, but we cannot show the
     * comparison; terraform's own renderer hides it the same way. */
    if ((bsens || asens) && before && after && json_equal(before, after))
        return;
    attr_record(a, path->len ? path->ptr : "(value)", before, unknown ? NULL : after, bsens, asens,
                unknown);
}

/* replace_paths entries are arrays of keys (strings) and indexes (numbers). */
static char *render_path(json_t *steps)
{
    mi_buf p = MI_BUF_INIT;
    size_t i;
    json_t *s;
    json_array_foreach(steps, i, s)
    {
        if (json_is_string(s))
            path_add_key(&p, json_string_value(s));
        else if (json_is_integer(s))
            mi_buf_addf(&p, "[%lld]", (long long)json_integer_value(s));
    }
    if (!p.len)
        mi_buf_adds(&p, "(whole object)");
    return mi_buf_detach(&p);
}

static int path_under(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    if (strncmp(path, prefix, n) != 0)
        return 0;
    return path[n] == '\0' || path[n] == '.' || path[n] == '[';
}

/* ====================================================================================== */
/* resource changes                                                                       */
/* ====================================================================================== */

static int parse_actions(enum mi_tfplan_action *out, json_t *actions)
{
    size_t n = json_array_size(actions);
    const char *a0 = n > 0 ? json_string_value(json_array_get(actions, 0)) : NULL;
    const char *a1 = n > 1 ? json_string_value(json_array_get(actions, 1)) : NULL;
    if (!a0 || n > 2)
        return -1;
    if (n == 1) {
        static const struct {
            const char *name;
            enum mi_tfplan_action action;
        } one[] = {{"no-op", MI_TFPLAN_NOOP},    {"create", MI_TFPLAN_CREATE},
                   {"read", MI_TFPLAN_READ},     {"update", MI_TFPLAN_UPDATE},
                   {"delete", MI_TFPLAN_DELETE}, {"forget", MI_TFPLAN_FORGET}};
        for (size_t i = 0; i < sizeof(one) / sizeof(one[0]); i++) {
            if (strcmp(a0, one[i].name) == 0) {
                *out = one[i].action;
                return 0;
            }
        }
        return -1;
    }
    if (!a1)
        return -1;
    if (strcmp(a0, "delete") == 0 && strcmp(a1, "create") == 0)
        *out = MI_TFPLAN_REPLACE_DBC;
    else if (strcmp(a0, "create") == 0 && strcmp(a1, "delete") == 0)
        *out = MI_TFPLAN_REPLACE_CBD;
    else if (strcmp(a0, "create") == 0 && strcmp(a1, "forget") == 0)
        *out = MI_TFPLAN_CREATE; /* terraform 1.7+: a new object, the old one left alone */
    else
        return -1;
    return 0;
}

static void actions_text(mi_buf *b, json_t *actions)
{
    char *d = actions ? dump_compact(actions) : mi_xstrdup("(missing)");
    mi_buf_adds(b, d);
    free(d);
}

/* Terraform 1.0 wrote resource_drift entries without "address"; rebuild it from the parts
 * the way terraform prints it: [module.][data.]type.name[index]. */
static char *synthesize_address(json_t *j)
{
    const char *type = json_string_value(json_object_get(j, "type"));
    const char *name = json_string_value(json_object_get(j, "name"));
    if (!type || !name)
        return NULL;
    const char *module = json_string_value(json_object_get(j, "module_address"));
    const char *mode = json_string_value(json_object_get(j, "mode"));
    mi_buf b = MI_BUF_INIT;
    if (module)
        mi_buf_addf(&b, "%s.", module);
    if (mode && strcmp(mode, "data") == 0)
        mi_buf_adds(&b, "data.");
    mi_buf_addf(&b, "%s.%s", type, name);
    json_t *index = json_object_get(j, "index");
    if (json_is_integer(index) || json_is_string(index)) {
        char *d = dump_compact(index);
        mi_buf_addf(&b, "[%s]", d);
        free(d);
    }
    return mi_buf_detach(&b);
}

static int parse_resource_change(struct mi_tfplan_resource *rc, json_t *j, const char *source,
                                 const char *list, size_t idx, struct secrets *secrets)
{
    memset(rc, 0, sizeof(*rc));
    json_t *change = json_object_get(j, "change");
    rc->address = dup_str(json_object_get(j, "address"));
    if (!rc->address && json_is_object(j))
        rc->address = synthesize_address(j);
    if (!json_is_object(j) || !rc->address || !json_is_object(change))
        return mi_error_set(MI_ERR, "%s: %s[%zu] is not a resource change (no address or change)",
                            source, list, idx);
    json_t *actions = json_object_get(change, "actions");
    if (parse_actions(&rc->action, actions) < 0) {
        mi_buf b = MI_BUF_INIT;
        actions_text(&b, actions);
        int code = mi_error_set(MI_ERR, "%s: %s[%zu] (%s): unknown actions %s", source, list, idx,
                                rc->address, b.ptr);
        mi_buf_release(&b);
        return code;
    }
    rc->previous_address = dup_str(json_object_get(j, "previous_address"));
    rc->module_address = dup_str(json_object_get(j, "module_address"));
    rc->mode = dup_str(json_object_get(j, "mode"));
    rc->type = dup_str(json_object_get(j, "type"));
    rc->name = dup_str(json_object_get(j, "name"));
    rc->provider_name = dup_str(json_object_get(j, "provider_name"));
    rc->deposed = dup_str(json_object_get(j, "deposed"));
    rc->action_reason = dup_str(json_object_get(j, "action_reason"));
    json_t *importing = json_object_get(change, "importing");
    if (json_is_object(importing)) {
        rc->importing = 1;
        rc->import_id = dup_str(json_object_get(importing, "id"));
    }

    json_t *before = json_object_get(change, "before");
    json_t *after = json_object_get(change, "after");
    json_t *bmask = json_object_get(change, "before_sensitive");
    json_t *amask = json_object_get(change, "after_sensitive");
    json_t *umask = json_object_get(change, "after_unknown");
    secret_walk(secrets, before, bmask);
    secret_walk(secrets, after, amask);

    json_t *rp = json_object_get(change, "replace_paths");
    if (json_array_size(rp)) {
        rc->replace_paths = mi_xcalloc(json_array_size(rp), sizeof(char *));
        size_t i;
        json_t *p;
        json_array_foreach(rp, i, p) rc->replace_paths[rc->replace_paths_len++] = render_path(p);
    }

    if (rc->action != MI_TFPLAN_DELETE && rc->action != MI_TFPLAN_FORGET &&
        rc->action != MI_TFPLAN_NOOP) {
        struct attrs a = {rc, 0};
        mi_buf path = MI_BUF_INIT;
        diff_walk(&a, &path, before, after, bmask, amask, umask, 0);
        mi_buf_release(&path);
        for (size_t i = 0; i < rc->attrs_len; i++)
            for (size_t k = 0; k < rc->replace_paths_len; k++)
                if (path_under(rc->attrs[i].path, rc->replace_paths[k]) ||
                    path_under(rc->replace_paths[k], rc->attrs[i].path))
                    rc->attrs[i].forces_replacement = 1;
    }
    return 0;
}

static void resource_change_release(struct mi_tfplan_resource *rc)
{
    free(rc->address);
    free(rc->previous_address);
    free(rc->module_address);
    free(rc->mode);
    free(rc->type);
    free(rc->name);
    free(rc->provider_name);
    free(rc->deposed);
    free(rc->action_reason);
    free(rc->import_id);
    for (size_t i = 0; i < rc->attrs_len; i++) {
        free(rc->attrs[i].path);
        free(rc->attrs[i].before);
        free(rc->attrs[i].after);
    }
    free(rc->attrs);
    for (size_t i = 0; i < rc->replace_paths_len; i++)
        free(rc->replace_paths[i]);
    free(rc->replace_paths);
}

static int parse_resource_list(struct mi_tfplan_resource **out, size_t *out_len, json_t *list,
                               const char *source, const char *name, struct secrets *secrets)
{
    if (list && !json_is_array(list) && !json_is_null(list))
        return mi_error_set(MI_ERR, "%s: %s is not an array", source, name);
    size_t n = json_array_size(list);
    if (!n)
        return 0;
    *out = mi_xcalloc(n, sizeof(**out));
    for (size_t i = 0; i < n; i++) {
        int rc =
            parse_resource_change(&(*out)[i], json_array_get(list, i), source, name, i, secrets);
        (*out_len)++; /* counted even on failure so the partial entry is released */
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ====================================================================================== */
/* outputs and counts                                                                     */
/* ====================================================================================== */

static int parse_outputs(struct mi_tfplan *c, json_t *outputs, const char *source,
                         struct secrets *secrets)
{
    if (!outputs || json_is_null(outputs))
        return 0;
    if (!json_is_object(outputs))
        return mi_error_set(MI_ERR, "%s: output_changes is not an object", source);
    size_t n = json_object_size(outputs);
    if (!n)
        return 0;
    c->outputs = mi_xcalloc(n, sizeof(*c->outputs));
    const char *name;
    json_t *change;
    json_object_foreach(outputs, name, change)
    {
        struct mi_tfplan_output *o = &c->outputs[c->outputs_len++];
        o->name = mi_xstrdup(name);
        json_t *actions = json_object_get(change, "actions");
        if (parse_actions(&o->action, actions) < 0) {
            mi_buf b = MI_BUF_INIT;
            actions_text(&b, actions);
            int code = mi_error_set(MI_ERR, "%s: output_changes.%s: unknown actions %s", source,
                                    name, b.ptr);
            mi_buf_release(&b);
            return code;
        }
        json_t *before = json_object_get(change, "before");
        json_t *after = json_object_get(change, "after");
        json_t *bs = json_object_get(change, "before_sensitive");
        json_t *as = json_object_get(change, "after_sensitive");
        secret_walk(secrets, before, bs);
        secret_walk(secrets, after, as);
        o->sensitive =
            json_is_true(bs) || json_is_true(as) || json_is_object(as) || json_is_array(as);
        o->after_unknown = json_is_true(json_object_get(change, "after_unknown"));
        if (!o->sensitive) {
            if (before && !json_is_null(before))
                o->before = dump_compact(before);
            if (after && !json_is_null(after) && !o->after_unknown)
                o->after = dump_compact(after);
        }
    }
    return 0;
}

static void count(struct mi_tfplan *c)
{
    struct mi_tfplan_counts *n = &c->counts;
    for (size_t i = 0; i < c->resources_len; i++) {
        const struct mi_tfplan_resource *rc = &c->resources[i];
        switch (rc->action) {
        case MI_TFPLAN_NOOP:
            n->noop++;
            break;
        case MI_TFPLAN_CREATE:
            n->add++;
            break;
        case MI_TFPLAN_READ:
            n->read++;
            break;
        case MI_TFPLAN_UPDATE:
            n->change++;
            break;
        case MI_TFPLAN_REPLACE_DBC:
        case MI_TFPLAN_REPLACE_CBD:
            n->add++;
            n->destroy++;
            n->replace++;
            break;
        case MI_TFPLAN_DELETE:
            n->destroy++;
            break;
        case MI_TFPLAN_FORGET:
            n->forget++;
            break;
        }
        if (rc->importing)
            n->import++;
        if (rc->previous_address && strcmp(rc->previous_address, rc->address) != 0)
            n->move++;
    }
    for (size_t i = 0; i < c->outputs_len; i++)
        if (c->outputs[i].action != MI_TFPLAN_NOOP)
            n->outputs++;
}

/* Root module variables declared sensitive: their values are in the plan's "variables". */
static void sensitive_variables(struct secrets *s, json_t *doc)
{
    json_t *decls = json_object_get(
        json_object_get(json_object_get(doc, "configuration"), "root_module"), "variables");
    json_t *values = json_object_get(doc, "variables");
    const char *name;
    json_t *decl;
    json_object_foreach(decls, name, decl) if (json_is_true(json_object_get(decl, "sensitive")))
        secret_add_value(s, json_object_get(json_object_get(values, name), "value"));
}

/* ====================================================================================== */
/* entry points                                                                           */
/* ====================================================================================== */

int mi_tfplan_parse(struct mi_tfplan **out, const char *json, size_t len, const char *source)
{
    *out = NULL;
    json_error_t jerr;
    struct mi_tfplan *c = NULL;
    struct secrets secrets = {NULL, 0, 0};
    int rc = 0;
    json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        rc = mi_error_set(MI_ERR, "%s:%d:%d: not valid JSON: %s", source, jerr.line, jerr.column,
                          jerr.text);
        goto done;
    }
    if (!json_is_object(doc)) {
        rc = mi_error_set(MI_ERR, "%s: not a terraform plan (the JSON is not an object)", source);
        goto done;
    }
    const char *fv = json_string_value(json_object_get(doc, "format_version"));
    if (!fv) {
        rc = mi_error_set(MI_ERR, "%s: not a terraform plan (no format_version)", source);
        goto done;
    }
    /* Terraform keeps the format backward compatible within a major version. */
    if (!(fv[0] == '0' || fv[0] == '1') || (fv[1] != '.' && fv[1] != '\0')) {
        rc = mi_error_set(MI_ERR, "%s: plan format_version %s is not supported (0.x and 1.x are)",
                          source, fv);
        goto done;
    }
    c = mi_xcalloc(1, sizeof(*c));
    c->format_version = mi_xstrdup(fv);
    c->terraform_version = dup_str(json_object_get(doc, "terraform_version"));
    c->errored = json_is_true(json_object_get(doc, "errored"));
    json_t *complete = json_object_get(doc, "complete");
    c->complete = complete ? json_is_true(complete) : 1;

    rc = parse_resource_list(&c->resources, &c->resources_len,
                             json_object_get(doc, "resource_changes"), source, "resource_changes",
                             &secrets);
    if (rc < 0)
        goto done;
    rc = parse_resource_list(&c->drift, &c->drift_len, json_object_get(doc, "resource_drift"),
                             source, "resource_drift", &secrets);
    if (rc < 0)
        goto done;
    rc = parse_outputs(c, json_object_get(doc, "output_changes"), source, &secrets);
    if (rc < 0)
        goto done;
    count(c);

    json_t *prior = json_object_get(json_object_get(doc, "prior_state"), "values");
    json_t *planned = json_object_get(doc, "planned_values");
    secret_walk_module(&secrets, json_object_get(prior, "root_module"));
    secret_walk_outputs(&secrets, json_object_get(prior, "outputs"));
    secret_walk_module(&secrets, json_object_get(planned, "root_module"));
    secret_walk_outputs(&secrets, json_object_get(planned, "outputs"));
    sensitive_variables(&secrets, doc);

done:
    if (c)
        secrets_finish(c, &secrets);
    else
        free(secrets.items);
    json_decref(doc);
    if (rc < 0) {
        mi_tfplan_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

int mi_tfplan_load(struct mi_tfplan **out, const char *path)
{
    *out = NULL;
    mi_buf b = MI_BUF_INIT;
    int rc = mi_fs_read_file(&b, path, (size_t)1 << 30);
    if (rc == 0)
        rc = mi_tfplan_parse(out, b.ptr, b.len, path);
    mi_buf_release(&b);
    return rc;
}

void mi_tfplan_free(struct mi_tfplan *c)
{
    if (!c)
        return;
    free(c->format_version);
    free(c->terraform_version);
    for (size_t i = 0; i < c->resources_len; i++)
        resource_change_release(&c->resources[i]);
    free(c->resources);
    for (size_t i = 0; i < c->drift_len; i++)
        resource_change_release(&c->drift[i]);
    free(c->drift);
    for (size_t i = 0; i < c->outputs_len; i++) {
        free(c->outputs[i].name);
        free(c->outputs[i].before);
        free(c->outputs[i].after);
    }
    free(c->outputs);
    for (size_t i = 0; i < c->sensitive_len; i++)
        free(c->sensitive[i]);
    free(c->sensitive);
    free(c);
}

int mi_tfplan_has_changes(const struct mi_tfplan *c)
{
    if (!c)
        return 0;
    const struct mi_tfplan_counts *n = &c->counts;
    return n->add || n->change || n->destroy || n->read || n->import || n->move || n->forget ||
           n->outputs;
}

const char *mi_tfplan_action_name(enum mi_tfplan_action a)
{
    switch (a) {
    case MI_TFPLAN_NOOP:
        return "no-op";
    case MI_TFPLAN_CREATE:
        return "create";
    case MI_TFPLAN_READ:
        return "read";
    case MI_TFPLAN_UPDATE:
        return "update";
    case MI_TFPLAN_REPLACE_DBC:
    case MI_TFPLAN_REPLACE_CBD:
        return "replace";
    case MI_TFPLAN_DELETE:
        return "delete";
    case MI_TFPLAN_FORGET:
        return "forget";
    }
    return "unknown";
}

int mi_tfplan_is_replace(enum mi_tfplan_action a)
{
    return a == MI_TFPLAN_REPLACE_DBC || a == MI_TFPLAN_REPLACE_CBD;
}
