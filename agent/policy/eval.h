/*
 * eval.h - the evaluator's insides, shared by eval.c (the scenario runner, radish's rules)
 * and eval_steps.c (the step implementations, terraform-compliance's rules). Internal to
 * agent/policy/: other folders use policy.h.
 *
 * terraform-compliance is Python, and policies depend on its exact behaviour, including
 * its accidents (a lookup on a list of one string raises TypeError, an address list joined
 * character by character). The helpers here model the few Python operations the steps use
 * on mi_values, including where Python would raise: a helper that "raises" records the
 * exception in the run (ev_raise) and returns -1, and every caller passes -1 straight up, so
 * the step fails with the exception's name and text exactly where the original's would.
 *
 * Rules:
 *  - Everything a scenario builds lives in the scenario's arena (ev->a); the plan model is
 *    read-only and shared.
 *  - ev_fail is terraform-compliance's Error(): with early exit it "raises" (returns -1)
 *    unless a no-failure tag is set; otherwise it records the message and returns 0, and the
 *    step goes on.
 *  - Never prints, never exits: what would be printed is recorded as events on the step.
 */
#ifndef MI_POLICY_EVAL_H
#define MI_POLICY_EVAL_H

#include <stddef.h>

#include "policy/plan.h"
#include "policy/policy.h"
#include "policy/regex.h"
#include "policy/set.h"
#include "policy/value.h"
#include "util/buf.h"

/* ---- Python-like values ------------------------------------------------------------------ */

/* terraform-compliance's Null sentinel (a class, so truthy) and the TypeError class that
 * Match.get returns for a haystack that is not a dict: both are MI_V_ABSENT, told apart by
 * flags. They never go into lists or dicts. */
#define PY_NULL_FLAG 0
#define PY_TYPEERROR_FLAG 1

static inline mi_value py_null(void)
{
    mi_value v = {0};
    return v;
}
static inline mi_value py_typeerror_obj(void)
{
    mi_value v = {0};
    v.flags = PY_TYPEERROR_FLAG;
    return v;
}
static inline int py_is_null(const mi_value *v)
{
    return v->kind == MI_V_ABSENT && v->flags == PY_NULL_FLAG;
}
static inline int py_is_simple(const mi_value *v)
{
    return v->kind == MI_V_STR || v->kind == MI_V_BOOL || v->kind == MI_V_INT ||
           v->kind == MI_V_FLOAT;
}

/* ---- step and scenario run state ------------------------------------------------------- */

enum ev_state { ST_UNTESTED = 0, ST_RUNNING, ST_PASSED, ST_FAILED, ST_SKIPPED };

struct ev_event {
    enum mi_policy_event_kind kind;
    char *header;
    char *text;
};

struct ev_step {
    const struct pstep *ps;
    enum ev_state state;
    int runable;
    struct ev_event *events;
    size_t nevents, capevents;
    struct ev_event *after;
    size_t nafter, capafter;
    char *error_name;
    char *error_reason;
};

struct ev_failure {
    char *message;
    char *address;
    char *value;
    int line;
    int warning;
};

struct ev_regex_cache;

/* radish's scenario context plus the tag state terraform-compliance keeps on it. Fields
 * that Python code tests with hasattr() have a has_ flag. */
struct ev_ctx {
    int has_type;
    const char *type;
    const char *name;
    int has_stash;
    mi_value stash;
    int has_cumulative;
    mi_vlist cumulative;
    int has_addresses;
    mi_value addresses; /* a list of strings, or a string */
    int has_address;
    mi_value address;
    int has_property_name;
    const char *property_name;
    /* look_for_bdd_tags */
    int tags_read;
    int case_sensitive;
    int no_failure;
    const char *failure_class;
    int no_skip;
    const char *skip_class;
    int *noskip_lines; /* -1: every line */
    size_t nnoskip_lines;
    int bad_tags;
    mi_buf exclude; /* the @exclude_ regexes joined with '|' */
    /* in-step variables of the current step */
    int has_haystack;
    mi_value haystack;
};

struct ev {
    mi_arena a; /* the current scenario's arena */
    const mi_plan *plan;
    const struct mi_policy_options *opts;
    const struct pscenario *scenario;
    struct ev_ctx ctx;
    struct ev_step *steps;
    size_t nsteps;
    struct ev_step *cur;
    struct ev_failure *failures;
    size_t nfailures, capfailures;
    /* the exception being raised, if any */
    int raised;
    char *exc_name;
    char *exc_msg;
    struct ev_regex_cache *rx;
    int internal_error; /* an error that is not a step failure (out of budget) */
};

/* ---- exceptions, Error(), skip_step() (eval.c) ------------------------------------------- */

int ev_raise(struct ev *ev, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Error(step, message): address and value describe the failure for the results API. */
int ev_fail(struct ev *ev, const char *address, const mi_value *value, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* skip_step(step, resource=None, message=None). */
int ev_skip(struct ev *ev, const char *resource, const char *message);
void ev_event(struct ev *ev, enum mi_policy_event_kind kind, const char *header, const char *text);

/* ---- Python helpers (eval.c) --------------------------------------------------------------- */

int py_truthy(const mi_value *v);
/* str(v) appended to out. */
void py_str(mi_buf *out, const mi_value *v);
/* str(v) as an arena string. */
const char *py_cstr(struct ev *ev, const mi_value *v);
/* Python ==, with Null and the TypeError object equal only to themselves. */
int py_eq(const mi_value *a, const mi_value *b);
/* Python's `x in haystack` (dict keys, list items, substring); raises TypeError otherwise. */
int py_in(struct ev *ev, const mi_value *needle, const mi_value *haystack, int *out);
/* len(v); raises TypeError for values without one. */
int py_len(struct ev *ev, const mi_value *v, size_t *out);
/* The items `for x in v` visits (dict keys as strings); raises TypeError when v is not
 * iterable. The list is arena memory. */
int py_iter(struct ev *ev, const mi_value *v, mi_value **items, size_t *n);
/* v[0]-style subscript of a list, dict (by integer key: KeyError) or string. */
int py_index0(struct ev *ev, const mi_value *v, mi_value *out);
/* d.get(key, default) for a dict; AttributeError when d is no dict. */
int py_get(struct ev *ev, const mi_value *d, const char *key, const mi_value *dflt, mi_value *out);
/* d[key]: KeyError when missing, TypeError when d is no dict. */
int py_getitem(struct ev *ev, const mi_value *d, const char *key, mi_value *out);
/* ', '.join(v) over a list of strings or a string's characters. */
int py_join(struct ev *ev, const char *sep, const mi_value *v, mi_buf *out);
mi_value py_str_value(struct ev *ev, const char *s);
mi_value py_list(struct ev *ev, const mi_value *items, size_t n);
/* A one-entry dict {key: v}. */
mi_value py_dict1(struct ev *ev, mi_key *key, const mi_value *v);

/* A set of strings (addresses) for de-duplication in O(1), so that a plan with thousands of
 * resources does not cost a quadratic scan. Strings are borrowed. */
struct ev_strset {
    const char **slot;
    size_t *len;
    size_t n, cap;
};
/* Adds s; returns 1 when it was new, 0 when it was there already. */
int ev_strset_add(struct ev_strset *set, const char *s, size_t len);
int ev_strset_has(const struct ev_strset *set, const char *s, size_t len);
void ev_strset_release(struct ev_strset *set);

/* ---- terraform-compliance's Match (eval.c) ------------------------------------------------ */

int m_equals(struct ev *ev, const mi_value *a, const mi_value *b, int *out);
int m_equals_s(struct ev *ev, const mi_value *a, const char *b, int *out);
/* Match.get: a non-dict haystack gives the TypeError object (not an exception). */
int m_get(struct ev *ev, const mi_value *hay, const char *needle, const mi_value *dflt,
          mi_value *out);
int m_contains(struct ev *ev, const mi_value *hay, const mi_value *needle, int *out);
int m_contains_s(struct ev *ev, const mi_value *hay, const char *needle, int *out);
/* Match.seek_key_in_dict: a list of {key: value} dicts. */
int m_seek_key(struct ev *ev, const mi_value *hay, const char *needle, mi_value *out);
/* The module-level seek_key_in_dict (always case-insensitive). */
mi_value seek_key_ci(struct ev *ev, const mi_value *hay, const char *needle);
/* Match.seek_regex_key_in_dict_values: the matched strings. */
int m_seek_regex_key(struct ev *ev, const mi_value *hay, const char *key_name, const char *needle,
                     mi_value *out);
/* The module-level one (always IGNORECASE). */
int seek_regex_key_ci(struct ev *ev, const mi_value *hay, const char *key_name, const char *needle,
                      mi_value *out);
/* Match.seek_value_in_dict: a list of findings {values, address}. */
int m_seek_value(struct ev *ev, const char *needle, const mi_value *hay, mi_value *out);
/* re.match(pattern, subject, flags) (IGNORECASE unless case-sensitive, or forced). Returns
 * 1 / 0 in *matched; span of the match in *end when not NULL. Raises re.error on a bad
 * pattern. */
int ev_regex_match(struct ev *ev, const char *pattern, const char *subject, size_t len, int flags,
                   int *matched, long *end);
int m_regex_match(struct ev *ev, const char *pattern, const mi_value *subject, int *matched);

/* ---- steps (eval_steps.c) -------------------------------------------------------------------- */

/* Runs one bound step against the scenario context. Returns 0, or -1 when it raised. */
int ev_run_step(struct ev *ev, const struct pstep *ps);
/* look_for_bdd_tags: reads the scenario's tags into the context (may call ev_fail). */
int ev_read_tags(struct ev *ev);

#endif
