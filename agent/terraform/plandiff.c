/*
 * plandiff.c - change summaries of plans and their differences (plandiff.h).
 *
 * jansson is used only to parse a summary: json_loadb gives the one reference, every value
 * below it is borrowed (json_object_get, json_object_foreach), and the document is decref'd
 * on the single exit path. Writing needs no jansson: keys are sorted here and escaped with
 * mi_buf_add_json_escaped.
 */
#include "terraform/plandiff.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/banned.h"

static const char *const known_actions[] = {"create", "update", "replace", "delete", "read",
                                            "forget", "move",   "import",  NULL};

static int action_known(const char *a)
{
    for (size_t i = 0; known_actions[i]; i++)
        if (strcmp(a, known_actions[i]) == 0)
            return 1;
    return 0;
}

static int cmp_item(const void *a, const void *b)
{
    const struct mi_plandiff_item *x = a, *y = b;
    return strcmp(x->address, y->address);
}

/* Sorts and drops repeated addresses (the first one stays). */
static void sort_unique(struct mi_plandiff_item *items, size_t *len)
{
    if (*len < 2)
        return;
    qsort(items, *len, sizeof(*items), cmp_item);
    size_t w = 1;
    for (size_t r = 1; r < *len; r++) {
        if (strcmp(items[r].address, items[w - 1].address) == 0) {
            free(items[r].address);
            free(items[r].action);
            continue;
        }
        items[w++] = items[r];
    }
    *len = w;
}

/* ---- summary --------------------------------------------------------------------------- */

/* The word for what happens to a resource, or NULL when nothing does. */
static const char *resource_action(const struct mi_tfplan_resource *r)
{
    if (r->action != MI_TFPLAN_NOOP)
        return mi_tfplan_is_replace(r->action) ? "replace" : mi_tfplan_action_name(r->action);
    if (r->importing)
        return "import";
    if (r->previous_address && strcmp(r->previous_address, r->address) != 0)
        return "move";
    return NULL;
}

void mi_plandiff_summarize(struct mi_plandiff_summary **out, const struct mi_tfplan *plan,
                           const char *head_sha)
{
    struct mi_plandiff_summary *s = mi_xcalloc(1, sizeof(*s));
    s->head_sha = head_sha ? mi_xstrdup(head_sha) : NULL;
    if (plan->resources_len)
        s->resources = mi_xcalloc(plan->resources_len, sizeof(*s->resources));
    for (size_t i = 0; i < plan->resources_len; i++) {
        const struct mi_tfplan_resource *r = &plan->resources[i];
        const char *a = resource_action(r);
        if (!a || !r->address)
            continue;
        struct mi_plandiff_item *it = &s->resources[s->resources_len++];
        it->address = r->deposed ? mi_xasprintf("%s (deposed %s)", r->address, r->deposed)
                                 : mi_xstrdup(r->address);
        it->action = mi_xstrdup(a);
    }
    sort_unique(s->resources, &s->resources_len);
    if (plan->outputs_len)
        s->outputs = mi_xcalloc(plan->outputs_len, sizeof(*s->outputs));
    for (size_t i = 0; i < plan->outputs_len; i++) {
        const struct mi_tfplan_output *o = &plan->outputs[i];
        if (o->action == MI_TFPLAN_NOOP || !o->name)
            continue;
        struct mi_plandiff_item *it = &s->outputs[s->outputs_len++];
        it->address = mi_xstrdup(o->name);
        it->action = mi_xstrdup(mi_tfplan_is_replace(o->action) ? "replace"
                                                                : mi_tfplan_action_name(o->action));
    }
    sort_unique(s->outputs, &s->outputs_len);
    *out = s;
}

static void add_json_string(mi_buf *out, const char *s)
{
    mi_buf_addch(out, '"');
    mi_buf_add_json_escaped(out, s);
    mi_buf_addch(out, '"');
}

static void add_items(mi_buf *out, const struct mi_plandiff_item *items, size_t len)
{
    mi_buf_addch(out, '{');
    for (size_t i = 0; i < len; i++) {
        if (i)
            mi_buf_addch(out, ',');
        add_json_string(out, items[i].address);
        mi_buf_addch(out, ':');
        add_json_string(out, items[i].action);
    }
    mi_buf_addch(out, '}');
}

void mi_plandiff_summary_to_json(mi_buf *out, const struct mi_plandiff_summary *s)
{
    mi_buf_adds(out, "{\"format\":\"" MI_PLANDIFF_FORMAT "\",\"head_sha\":");
    if (s->head_sha)
        add_json_string(out, s->head_sha);
    else
        mi_buf_adds(out, "null");
    mi_buf_adds(out, ",\"outputs\":");
    add_items(out, s->outputs, s->outputs_len);
    mi_buf_adds(out, ",\"resources\":");
    add_items(out, s->resources, s->resources_len);
    mi_buf_addch(out, '}');
}

static int parse_items(struct mi_plandiff_item **items, size_t *len, json_t *obj,
                       const char *source, const char *key)
{
    if (!json_is_object(obj))
        return mi_error_set(MI_ERR, "plan summary %s: '%s' is not an object", source, key);
    size_t n = json_object_size(obj);
    *items = n ? mi_xcalloc(n, sizeof(**items)) : NULL;
    *len = 0;
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        if (!json_is_string(v) || !action_known(json_string_value(v)))
            return mi_error_set(MI_ERR,
                                "plan summary %s: %s '%.200s': the action is not one of "
                                "create, update, replace, delete, read, forget, move, "
                                "import",
                                source, key, k);
        (*items)[*len].address = mi_xstrdup(k);
        (*items)[*len].action = mi_xstrdup(json_string_value(v));
        (*len)++;
    }
    sort_unique(*items, len);
    return 0;
}

int mi_plandiff_summary_parse(struct mi_plandiff_summary **out, const char *json, size_t len,
                              const char *source)
{
    *out = NULL;
    if (!source)
        source = "(text)";
    if (len > MI_PLANDIFF_MAX_BYTES)
        return mi_error_set(MI_ERR, "plan summary %s: %zu bytes is more than the limit of %zu",
                            source, len, MI_PLANDIFF_MAX_BYTES);
    json_error_t jerr;
    json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    struct mi_plandiff_summary *s = NULL;
    int rc = 0;
    if (!doc) {
        rc = mi_error_set(MI_ERR, "plan summary %s: line %d: %s", source, jerr.line, jerr.text);
        goto done;
    }
    json_t *format = json_object_get(doc, "format");
    if (!json_is_object(doc) || !json_is_string(format) ||
        strcmp(json_string_value(format), MI_PLANDIFF_FORMAT) != 0) {
        rc = mi_error_set(MI_ERR, "plan summary %s: not a summary of format '%s'", source,
                          MI_PLANDIFF_FORMAT);
        goto done;
    }
    s = mi_xcalloc(1, sizeof(*s));
    json_t *head = json_object_get(doc, "head_sha");
    if (json_is_string(head)) {
        s->head_sha = mi_xstrdup(json_string_value(head));
    } else if (head && !json_is_null(head)) {
        rc = mi_error_set(MI_ERR, "plan summary %s: 'head_sha' is not a string", source);
        goto done;
    }
    rc = parse_items(&s->resources, &s->resources_len, json_object_get(doc, "resources"), source,
                     "resources");
    if (rc == 0)
        rc = parse_items(&s->outputs, &s->outputs_len, json_object_get(doc, "outputs"), source,
                         "outputs");
done:
    json_decref(doc);
    if (rc < 0) {
        mi_plandiff_summary_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

static void items_free(struct mi_plandiff_item *items, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        free(items[i].address);
        free(items[i].action);
    }
    free(items);
}

void mi_plandiff_summary_free(struct mi_plandiff_summary *s)
{
    if (!s)
        return;
    free(s->head_sha);
    items_free(s->resources, s->resources_len);
    items_free(s->outputs, s->outputs_len);
    free(s);
}

/* ---- difference ------------------------------------------------------------------------ */

static void add_entry(struct mi_plandiff *d, enum mi_plandiff_kind kind, int is_output,
                      const char *address, const char *before, const char *after)
{
    struct mi_plandiff_entry *e = &d->entries[d->len++];
    e->kind = kind;
    e->is_output = is_output;
    e->address = mi_xstrdup(address);
    e->before = before ? mi_xstrdup(before) : NULL;
    e->after = after ? mi_xstrdup(after) : NULL;
    if (kind == MI_PLANDIFF_ADDED)
        d->added++;
    else if (kind == MI_PLANDIFF_DROPPED)
        d->dropped++;
    else
        d->changed++;
}

/* Both lists are sorted and free of repeats, so one merge pass finds every difference. */
static void merge(struct mi_plandiff *d, const struct mi_plandiff_item *a, size_t na,
                  const struct mi_plandiff_item *b, size_t nb, int is_output)
{
    size_t i = 0, j = 0;
    while (i < na || j < nb) {
        int c = i >= na ? 1 : j >= nb ? -1 : strcmp(a[i].address, b[j].address);
        if (c < 0) {
            add_entry(d, MI_PLANDIFF_DROPPED, is_output, a[i].address, a[i].action, NULL);
            i++;
        } else if (c > 0) {
            add_entry(d, MI_PLANDIFF_ADDED, is_output, b[j].address, NULL, b[j].action);
            j++;
        } else {
            if (strcmp(a[i].action, b[j].action) != 0)
                add_entry(d, MI_PLANDIFF_CHANGED, is_output, a[i].address, a[i].action,
                          b[j].action);
            else
                d->unchanged++;
            i++;
            j++;
        }
    }
}

void mi_plandiff_compare(struct mi_plandiff **out, const struct mi_plandiff_summary *previous,
                         const struct mi_plandiff_summary *current)
{
    struct mi_plandiff *d = mi_xcalloc(1, sizeof(*d));
    d->previous_head_sha = previous->head_sha ? mi_xstrdup(previous->head_sha) : NULL;
    d->head_sha = current->head_sha ? mi_xstrdup(current->head_sha) : NULL;
    size_t cap = previous->resources_len + current->resources_len + previous->outputs_len +
                 current->outputs_len;
    if (cap)
        d->entries = mi_xcalloc(cap, sizeof(*d->entries));
    merge(d, previous->resources, previous->resources_len, current->resources,
          current->resources_len, 0);
    merge(d, previous->outputs, previous->outputs_len, current->outputs, current->outputs_len, 1);
    *out = d;
}

void mi_plandiff_free(struct mi_plandiff *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->len; i++) {
        free(d->entries[i].address);
        free(d->entries[i].before);
        free(d->entries[i].after);
    }
    free(d->entries);
    free(d->previous_head_sha);
    free(d->head_sha);
    free(d);
}
