/*
 * outputs.c - `terraform output -json`. See outputs.h.
 *
 * jansson: json_loadb gives the one reference this file owns (root); everything read from it
 * is borrowed and copied out before the single json_decref.
 */
#include "terraform/outputs.h"

#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/error.h"
#include "util/banned.h"

/* Every string inside v, for masking a sensitive value piece by piece. */
static void each_string(json_t *v, void (*fn)(void *, const char *), void *ctx)
{
    if (json_is_string(v)) {
        fn(ctx, json_string_value(v));
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) each_string(x, fn, ctx);
    } else if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) each_string(x, fn, ctx);
    }
}

static char *value_text(json_t *v)
{
    if (json_is_string(v))
        return mi_xstrdup(json_string_value(v));
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
    if (!s)
        return mi_xstrdup("null");
    char *copy = mi_xstrdup(s);
    free(s);
    return copy;
}

int mi_tf_outputs_parse(struct mi_tf_outputs *out, const char *json, size_t len, const char *source,
                        void (*on_secret)(void *ctx, const char *secret), void *ctx)
{
    memset(out, 0, sizeof(*out));
    json_error_t err;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
    if (!root)
        return mi_error_set(MI_ERR, "%s: not JSON: %s (line %d)", source, err.text, err.line);
    int rc = 0;
    if (!json_is_object(root)) {
        rc = mi_error_set(MI_ERR, "%s: expected a JSON object of outputs", source);
        goto done;
    }
    out->items = mi_xcalloc(json_object_size(root) + 1, sizeof(*out->items));
    const char *name;
    json_t *o;
    json_object_foreach(root, name, o)
    {
        if (!json_is_object(o) || !json_object_get(o, "value")) {
            rc = mi_error_set(MI_ERR, "%s: output '%.100s' is not an object with a value", source,
                              name);
            goto done;
        }
        json_t *value = json_object_get(o, "value");
        struct mi_tf_output *item = &out->items[out->len++];
        item->name = mi_xstrdup(name);
        item->sensitive = json_is_true(json_object_get(o, "sensitive"));
        if (!item->sensitive) {
            item->value = value_text(value);
        } else if (on_secret) {
            char *text = value_text(value);
            on_secret(ctx, text);
            sodium_memzero(text, strlen(text));
            free(text);
            each_string(value, on_secret, ctx);
        }
    }
done:
    json_decref(root);
    if (rc < 0)
        mi_tf_outputs_release(out);
    return rc;
}

const struct mi_tf_output *mi_tf_outputs_find(const struct mi_tf_outputs *o, const char *name)
{
    for (size_t i = 0; i < o->len; i++)
        if (strcmp(o->items[i].name, name) == 0)
            return &o->items[i];
    return NULL;
}

void mi_tf_outputs_release(struct mi_tf_outputs *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->len; i++) {
        free(o->items[i].name);
        free(o->items[i].value);
    }
    free(o->items);
    o->items = NULL;
    o->len = 0;
}
