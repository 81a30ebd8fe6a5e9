/*
 * steps.h - the terraform-compliance step grammar: 111 patterns and how a line binds.
 *
 * The table is terraform-compliance's (cli @ f45a4fe9, run on radish 0.18.2) in its
 * registration order, with the regular expressions parse_type compiles for each pattern.
 * A step line binds as radish binds it: "And" is replaced by the keyword of the step's
 * context class, every pattern is searched (case-insensitive, DOTALL) in order, the first
 * hit that reaches the end of the line wins, otherwise the hit reaching furthest. Field
 * values are converted as the custom types do (quotes removed from ANY/PROPERTY values,
 * SECTION only for resource(s)/provider(s)/data(s)/variable(s), {n:d} as an integer).
 *
 * Rules:
 *  - The table and its compiled regexes are process-wide and immutable after the first
 *    call (initialised once, thread-safe).
 *  - A binding owns its strings: mi_step_binding_release frees them.
 *  - Never prints, never exits.
 */
#ifndef MI_POLICY_STEPS_H
#define MI_POLICY_STEPS_H

#include <stddef.h>

enum mi_step_fn {
    F_GIVEN,
    F_META_HAS,
    F_META_HAS_NOT,
    F_KEY_IS,
    F_KEY_IS_NOT,
    F_IT_CONTAINS,
    F_IT_HAS,
    F_IT_HAS_NOT,
    F_REFERENCED,
    F_SG,
    F_MUST_CONTAIN,
    F_MUST_NOT_CONTAIN,
    F_ENABLED,
    F_ACTION,
    F_EXPECT,
    F_VALUE_MATCH,
    F_SINGULAR_MATCH,
    F_ANY_MATCH,
    F_NULL,
    F_EQUAL,
    F_VALUE_CONTAIN,
    F_FAIL,
    F_KEY_CONDITION,
    F_FLATTEN,
    F_IN,
    F_NOT_IN,
};

/* Variant bits */
#define V_REGEX 1 /* the compared value is a regular expression */
#define V_COVER 2 /* subset/superset steps: the haystack must be covered */

struct mi_step_def {
    int order;            /* 1-based registration order */
    const char *keyword;  /* Given, When, Then */
    const char *pattern;  /* as written in steps.py */
    const char *regex;    /* as parse_type compiles it */
    enum mi_step_fn fn;
    int variant;
    const char *fields;   /* "name:TYPE,..." in pattern order */
    int corpus_uses;      /* how many corpus steps bind to it (documentation, tests) */
};

extern const struct mi_step_def mi_step_defs[];
extern const size_t mi_step_ndefs;

#define MI_STEP_MAX_FIELDS 5

struct mi_step_field {
    const char *name;  /* borrowed from the table */
    const char *type;  /* ANY, PROPERTY, PROPERTY_COMPAT, SECTION, d, RAW (untyped) */
    char *raw;         /* the matched text */
    char *value;       /* converted; NULL when a SECTION word is not a known section */
    long number;       /* for type d */
};

struct mi_step_binding {
    const struct mi_step_def *def;
    char *sentence; /* context-sensitive sentence the pattern was matched on */
    struct mi_step_field fields[MI_STEP_MAX_FIELDS];
    int nfields;
    int perfect; /* the match reached the end of the sentence */
};

/* The sentence a step is matched with: a leading "and " (any case) becomes the context
 * keyword ("Given "); caller frees. */
char *mi_steps_context_sentence(const char *sentence, const char *ctx_keyword);

/* Binds a context-sensitive sentence. Returns 0, or MI_ENOTFOUND (message set: "unknown
 * step") when no pattern matches, or MI_ERR when matching ran out of budget. */
int mi_steps_bind(struct mi_step_binding *out, const char *sentence);
void mi_step_binding_release(struct mi_step_binding *b);

/* The field's converted value, NULL when absent (or a SECTION that converted to None). */
const char *mi_step_arg(const struct mi_step_binding *b, const char *name);
const struct mi_step_field *mi_step_field(const struct mi_step_binding *b, const char *name);

/* Removes every '"' and '\'' (the ANY/PROPERTY converters); caller frees. */
char *mi_steps_strip_quotes(const char *s);

#endif
