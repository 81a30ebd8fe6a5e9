/*
 * outputs.h - `terraform output -json` read into a list of named values, for the apply
 * report (the service address in the job summary, step outputs and the PR comment).
 *
 * The JSON is terraform's: {"name": {"sensitive": bool, "type": ..., "value": ...}, ...}.
 *
 * Rules:
 *  - A sensitive output's value is never kept: the list holds its name and sensitive = 1 and
 *    value NULL. So that it can still be masked wherever terraform might print it, the
 *    on_secret callback (may be NULL) receives, before the JSON is dropped, the value's text
 *    and every string inside it (a sensitive map or list hides each of its strings).
 *  - A string value is its contents; any other value is its compact JSON text.
 *  - Entries are in terraform's order (sorted by name). The list owns every string;
 *    mi_tf_outputs_release frees them and leaves an empty list (releasing twice is safe).
 *  - jansson: the parsed document lives only inside mi_tf_outputs_parse.
 *  - Never prints, never exits.
 */
#ifndef MI_TERRAFORM_OUTPUTS_H
#define MI_TERRAFORM_OUTPUTS_H

#include <stddef.h>

struct mi_tf_output {
    char *name;
    char *value; /* NULL when sensitive */
    int sensitive;
};

struct mi_tf_outputs {
    struct mi_tf_output *items;
    size_t len;
};

#define MI_TF_OUTPUTS_INIT                                                                         \
    {                                                                                              \
        NULL, 0                                                                                    \
    }

/* Parses terraform's output JSON; source names it in messages. MI_ERR for anything that is
 * not a JSON object of output objects. */
int mi_tf_outputs_parse(struct mi_tf_outputs *out, const char *json, size_t len, const char *source,
                        void (*on_secret)(void *ctx, const char *secret), void *ctx);

/* The output called name, or NULL (borrowed). */
const struct mi_tf_output *mi_tf_outputs_find(const struct mi_tf_outputs *o, const char *name);

void mi_tf_outputs_release(struct mi_tf_outputs *o);

#endif
