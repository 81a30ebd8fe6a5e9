/*
 * set.h - the loaded policy set, shared by policy.c (loading, binding) and eval.c
 * (running). Internal to agent/policy/: other folders use policy.h.
 *
 * Rules: everything here is owned by the mi_policy_set and immutable after loading.
 */
#ifndef MI_POLICY_SET_H
#define MI_POLICY_SET_H

#include <stddef.h>

#include "policy/gherkin.h"
#include "policy/steps.h"

struct ptag {
    char *name;
    char *arg;
};

struct pstep {
    char *sentence;     /* as written (placeholders and constants filled in) */
    char *ctx_sentence; /* what the pattern was matched with ("And" replaced) */
    int line;
    enum mi_gh_ctx ctx;
    int counted;    /* one of the scenario's own steps */
    int background; /* from the Background */
    int runable;    /* outline templates are printed, never run */
    struct mi_step_binding bind;
};

struct pscenario {
    char *keyword;
    char *name;
    int line;
    struct ptag *tags; /* the scenario's own tags (outline tags for rows) */
    size_t ntags;
    struct ptag *all_tags; /* own tags, then the feature's: what the tag logic reads */
    size_t nall_tags;
    struct pstep *steps; /* background, preconditions, own steps: the order they run */
    size_t nsteps;
    int row; /* outline row or loop iteration, -1 otherwise */
    char **cells;
    size_t ncells;
    int row_line;
};

struct pitem {
    int is_outline;
    int is_loop;
    struct pscenario *scenario;
    /* outline / loop */
    char *keyword;
    char *name;
    int line;
    struct ptag *tags;
    size_t ntags;
    char **template_steps;
    size_t ntemplate;
    char **header;
    size_t nheader;
    int iterations;
    struct pscenario *rows;
    size_t nrows;
};

struct pfeature {
    char *path;
    char *name;
    int line;
    struct ptag *tags;
    size_t ntags;
    char **description;
    size_t ndescription;
    char *background;
    char **background_steps;
    size_t nbackground;
    struct pitem *items;
    size_t nitems;
};

struct mi_policy_set {
    struct pfeature *features;
    size_t nfeatures;
};

#endif
