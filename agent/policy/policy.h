/*
 * policy.h - the compliance engine: terraform-compliance feature files evaluated natively
 * against a plan model (plan.h). This is the API `check`, `plan` and `apply` use.
 *
 *   struct mi_policy_set *set;   mi_policy_load(&set, "policies");        feature files
 *   mi_plan *plan;               mi_plan_load_file(&plan, "plan.json");    the plan
 *   struct mi_policy_result *r;  mi_policy_evaluate(&r, set, plan, &opts);
 *   r->violations > 0  ->  exit 3;  render with mi_policy_render (render.h),
 *   or walk the scenarios with mi_policy_result_foreach (below)
 *
 * Change windows are a separate module (window.h) that commands evaluate next to this one.
 *
 * Semantics are terraform-compliance's (cli @ f45a4fe9 on radish 0.18.2): the same step
 * grammar, the same stash, the same skip/failure rules and messages, so the console format
 * reproduces its output. Results are structured for other renderers: per scenario the
 * feature file and line, the state, and per failure the message, the resource address, the
 * offending value and the step line, so `plan` can turn them into PR-comment rows and
 * `::error file=...,line=...` annotations.
 *
 * Rules:
 *  - A policy set and a result are owned by the caller and freed with their _free
 *    (NULL-safe). A result does not point into the set or the plan: it can outlive both.
 *  - mi_policy_load fails (MI_EUSAGE, message with file and line) on a syntax error, an
 *    unknown step or an unresolvable @precondition: policies are checked before any plan.
 *  - mi_policy_evaluate only fails on internal errors; violations are results, not errors.
 *  - The set and the plan are read-only during evaluation, so several evaluations may run
 *    in parallel threads over the same set and plan.
 *  - Never prints, never exits.
 */
#ifndef MI_POLICY_POLICY_H
#define MI_POLICY_POLICY_H

#include <stddef.h>

#include "policy/plan.h"

enum mi_policy_state {
    MI_POLICY_UNTESTED = 0,
    MI_POLICY_PASSED,
    MI_POLICY_FAILED,
    MI_POLICY_SKIPPED,
};

const char *mi_policy_state_name(enum mi_policy_state s); /* "passed", "failed"... */

/* A line terraform-compliance prints while a step runs, before the step's own line. */
enum mi_policy_event_kind {
    MI_PEV_FAILURE, /* "\t\tFailure: text" (no early exit) */
    MI_PEV_WARNING, /* "\t\t<tag>: text" under @warning-like tags */
    MI_PEV_SKIP,    /* "\t* SKIPPING: text" */
    MI_PEV_NOTICE,  /* "\t! WARNING: text" (deprecated step forms) */
};

struct mi_policy_event {
    enum mi_policy_event_kind kind;
    char *header; /* Failure, the tag as written, SKIPPING, WARNING */
    char *text;
};

/* One violation (or, with warning set, one finding under a no-failure tag). */
struct mi_policy_failure {
    char *message;
    char *address; /* the resource the failure is about, or NULL */
    char *value;   /* the offending value as Python prints it, or NULL */
    int line;      /* feature-file line of the failing step */
    int warning;   /* reported under @warning (or another no-failure tag): not a violation */
};

struct mi_policy_step {
    char *sentence; /* as written, outline placeholders filled in */
    int line;
    enum mi_policy_state state;
    int counted;    /* the scenario's own step (background and preconditions are not) */
    int background; /* comes from the Background */
    struct mi_policy_event *events; /* printed before the step's line */
    size_t nevents;
    struct mi_policy_event *after_events; /* printed after it (resource exclusion skips) */
    size_t nafter;
    char *error_name;   /* when failed: "Failure", "TypeError"... */
    char *error_reason; /* printed after the step line */
};

struct mi_policy_scenario {
    char *keyword; /* Scenario, Scenario Outline, Scenario Loop */
    char *name;    /* outline rows: the outline's name with the row's values put in for its
                      placeholders, or "<outline name> - row N" when it has none */
    int line;
    char **tags; /* as written, without '@', "name(arg)" with an argument */
    size_t ntags;
    enum mi_policy_state state;
    struct mi_policy_step *steps;
    size_t nsteps;
    struct mi_policy_failure *failures;
    size_t nfailures;
    /* outline rows */
    int row;            /* 0-based row, -1 for a plain scenario */
    char **cells;
    size_t ncells;
    int row_line;
};

/* A scenario, or an outline (or loop) with its expanded rows. */
struct mi_policy_item {
    int is_outline;
    int is_loop;
    struct mi_policy_scenario *scenario; /* plain scenario */
    /* outline / loop */
    char *keyword;
    char *name;
    int line;
    char **tags;
    size_t ntags;
    char **template_steps;
    size_t ntemplate;
    char **header;
    size_t nheader;
    int iterations;
    struct mi_policy_scenario *rows;
    size_t nrows;
};

struct mi_policy_feature {
    char *path;
    char *name;
    int line;
    char **tags;
    size_t ntags;
    char **description;
    size_t ndescription;
    char *background; /* Background name, NULL without one */
    char **background_steps;
    size_t nbackground;
    struct mi_policy_item *items;
    size_t nitems;
    enum mi_policy_state state;
    char **notices; /* plan warnings printed under this feature's header */
    size_t nnotices;
};

struct mi_policy_counts {
    size_t total, passed, failed, skipped, untested;
};

struct mi_policy_result {
    struct mi_policy_feature *features;
    size_t nfeatures;
    struct mi_policy_counts feature_counts, scenario_counts, step_counts;
    size_t violations; /* failed scenarios */
    size_t warnings;   /* findings under no-failure tags */
    int early_exit;    /* evaluated with early exit (affects the console transcript) */
};

struct mi_policy_options {
    int no_early_exit;      /* evaluate every resource of a failing step (terraform-compliance
                               without -q) instead of stopping the scenario at the first */
    const char *error_name; /* name of the failure header (TFC_ERROR), NULL: "Failure" */
};

struct mi_policy_set;

/* Reads every *.feature file under dir (recursively, in path order). dir may also be a
 * single .feature file. */
int mi_policy_load(struct mi_policy_set **out, const char *dir);
/* One feature file given as text (tests, fuzzing); path names it in messages. */
int mi_policy_load_text(struct mi_policy_set **out, const char *path, const char *text,
                        size_t len);
void mi_policy_set_free(struct mi_policy_set *set);
size_t mi_policy_set_features(const struct mi_policy_set *set);
size_t mi_policy_set_scenarios(const struct mi_policy_set *set);

int mi_policy_evaluate(struct mi_policy_result **out, const struct mi_policy_set *set,
                       const mi_plan *plan, const struct mi_policy_options *opts);
void mi_policy_result_free(struct mi_policy_result *r);

/* ---- reading results (for renderers: PR comments, annotations, SARIF, JUnit) ----------- */

/* Calls fn for every scenario that ran, outline rows included, in file order. it is the
 * scenario's item (an outline for rows). */
typedef void (*mi_policy_visit_fn)(void *ctx, const struct mi_policy_feature *f,
                                   const struct mi_policy_item *it,
                                   const struct mi_policy_scenario *s);
void mi_policy_result_foreach(const struct mi_policy_result *r, mi_policy_visit_fn fn, void *ctx);
/* Why a scenario was skipped: the text of its first SKIPPING line, or NULL. Borrowed. */
const char *mi_policy_scenario_skip_reason(const struct mi_policy_scenario *s);
/* The feature-file line to point at: an outline row's Examples line, else the scenario's. */
int mi_policy_scenario_line(const struct mi_policy_scenario *s);
/* Number of failures that are violations (not under a no-failure tag). */
size_t mi_policy_scenario_violations(const struct mi_policy_scenario *s);

#endif
