/*
 * gherkin.h - reads terraform-compliance feature files the way radish 0.18 does.
 *
 * Feature (one per file, with description lines), Background (at most one, before the
 * scenarios), Scenario, Scenario Outline with Examples tables (cells split on unescaped '|',
 * backslashes removed as radish does), Scenario Loop N with Iterations, tags (several per
 * line, "@name(arg)"), "#" comment lines, And/But steps taking the context of the step
 * before them, step text blocks and step tables (kept, not used by any step).
 * Only English keywords; a "# language:" header naming another language is an error.
 *
 * Rules:
 *  - mi_gh_parse returns a feature the caller frees with mi_gh_feature_free (NULL-safe);
 *    every string in it is owned by the feature.
 *  - Errors are set with the file and line: "policies/x.feature:12: ...".
 *  - Preconditions are not resolved here (they name other files); see policy.c.
 *  - Never prints, never exits; any input (also binary garbage) yields a feature or an error.
 */
#ifndef MI_POLICY_GHERKIN_H
#define MI_POLICY_GHERKIN_H

#include <stddef.h>

struct mi_gh_tag {
    char *name; /* without '@', as written */
    char *arg;  /* text inside (...), or NULL */
    int line;
};

enum mi_gh_ctx { MI_GH_NONE = 0, MI_GH_GIVEN, MI_GH_WHEN, MI_GH_THEN, MI_GH_BUT };

struct mi_gh_step {
    char *sentence; /* the stripped line as written ("And its value must ...") */
    enum mi_gh_ctx ctx; /* context class (And takes the previous step's) */
    int line;
    char **text; /* step text lines ("""), may be NULL */
    size_t ntext;
    char ***table; /* rows of cells: first row is the header */
    size_t *table_cols;
    size_t ntable;
};

struct mi_gh_example {
    char **cells;
    size_t ncells;
    int line;
};

enum mi_gh_kind { MI_GH_SCENARIO, MI_GH_OUTLINE, MI_GH_LOOP };

struct mi_gh_scenario {
    enum mi_gh_kind kind;
    char *keyword; /* "Scenario", "Scenario Outline", "Scenario Loop" */
    char *name;
    int line;
    struct mi_gh_tag *tags;
    size_t ntags;
    struct mi_gh_step *steps;
    size_t nsteps;
    /* outlines */
    char **examples_header;
    size_t nheader;
    struct mi_gh_example *examples;
    size_t nexamples;
    int examples_line;
    /* loops */
    int iterations;
};

struct mi_gh_feature {
    char *path;
    char *name;
    int line;
    struct mi_gh_tag *tags;
    size_t ntags;
    char **description;
    size_t ndescription;
    int has_background;
    char *background_name;
    int background_line;
    struct mi_gh_step *background;
    size_t nbackground;
    struct mi_gh_scenario *scenarios;
    size_t nscenarios;
};

/* Parses len bytes of text read from path (used for messages and kept in the feature). */
int mi_gh_parse(struct mi_gh_feature **out, const char *path, const char *text, size_t len);
/* Reads and parses the file. */
int mi_gh_parse_file(struct mi_gh_feature **out, const char *path);
void mi_gh_feature_free(struct mi_gh_feature *f);

/* Keyword of a context class with a capital letter ("Given"), "" for none. */
const char *mi_gh_ctx_keyword(enum mi_gh_ctx c);

/* radish's utils.split_unescape on '|': cells between unescaped pipes, a backslash keeps the
 * next character and is dropped. Returns the cell count; *out is malloc'ed (caller frees
 * each cell and the array). */
size_t mi_gh_split_cells(const char *line, size_t len, char ***out);

#endif
