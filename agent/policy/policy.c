/*
 * policy.c - loading a policy set: finding feature files, parsing them, resolving
 * @precondition and @constant tags, expanding outlines and loops, and binding every step
 * to the grammar, so that nothing can go wrong for a syntactic reason once a plan is
 * evaluated.
 */
#include "policy/policy.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "policy/gherkin.h"
#include "policy/regex.h"
#include "policy/set.h"
#include "policy/steps.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/banned.h"

#define MAX_FEATURE_FILES 10000
#define MAX_DIR_DEPTH 32
#define MAX_PRECONDITION_DEPTH 16

const char *mi_policy_state_name(enum mi_policy_state s)
{
    switch (s) {
    case MI_POLICY_PASSED:
        return "passed";
    case MI_POLICY_FAILED:
        return "failed";
    case MI_POLICY_SKIPPED:
        return "skipped";
    default:
        return "untested";
    }
}

/* ==== finding files ===================================================================== */

struct paths {
    char **p;
    size_t n, cap;
};

static void paths_add(struct paths *ps, char *p)
{
    if (ps->n == ps->cap) {
        ps->cap = ps->cap ? ps->cap * 2 : 16;
        ps->p = mi_xrealloc(ps->p, ps->cap * sizeof(*ps->p));
    }
    ps->p[ps->n++] = p;
}

static void paths_free(struct paths *ps)
{
    for (size_t i = 0; i < ps->n; i++)
        free(ps->p[i]);
    free(ps->p);
    memset(ps, 0, sizeof(*ps));
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int find_features(struct paths *out, const char *dir, int depth)
{
    if (depth > MAX_DIR_DEPTH)
        return mi_error_set(MI_EUSAGE, "policies: '%s' nests directories too deeply", dir);
    DIR *d = opendir(dir);
    if (!d)
        return mi_error_errno(errno == ENOENT ? MI_ENOTFOUND : MI_ERR,
                              "policies: cannot read directory '%s'", dir);
    struct paths here = {0};
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        paths_add(&here, mi_fs_join(dir, de->d_name));
    }
    closedir(d);
    qsort(here.p, here.n, sizeof(char *), cmp_str);
    int rc = 0;
    for (size_t i = 0; i < here.n && rc == 0; i++) {
        struct stat st;
        if (stat(here.p[i], &st) != 0)
            continue; /* a dangling link is not a policy */
        if (S_ISDIR(st.st_mode)) {
            rc = find_features(out, here.p[i], depth + 1);
        } else if (S_ISREG(st.st_mode) && ends_with(here.p[i], ".feature")) {
            if (out->n >= MAX_FEATURE_FILES)
                rc = mi_error_set(MI_EUSAGE, "policies: more than %d feature files under '%s'",
                                  MAX_FEATURE_FILES, dir);
            else {
                paths_add(out, here.p[i]);
                here.p[i] = NULL;
            }
        }
    }
    paths_free(&here);
    return rc;
}

/* ==== loading state ===================================================================== */

struct parsed {
    char *path;
    char *real; /* realpath, to recognise the same file under another name */
    struct mi_gh_feature *f;
};

struct loader {
    struct parsed *files;
    size_t nfiles, cap;
    /* precondition resolution stack, for cycles */
    const char *stack[MAX_PRECONDITION_DEPTH];
    int depth;
};

static void loader_free(struct loader *l)
{
    for (size_t i = 0; i < l->nfiles; i++) {
        free(l->files[i].path);
        free(l->files[i].real);
        mi_gh_feature_free(l->files[i].f);
    }
    free(l->files);
}

static char *real_path(const char *p)
{
    char buf[PATH_MAX];
    if (realpath(p, buf))
        return mi_xstrdup(buf);
    /* A feature given as text has no file: compare the names as written, without "./". */
    while (p[0] == '.' && p[1] == '/')
        p += 2;
    return mi_xstrdup(p);
}

static struct parsed *loader_add(struct loader *l, const char *path, struct mi_gh_feature *f)
{
    if (l->nfiles == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->files = mi_xrealloc(l->files, l->cap * sizeof(*l->files));
    }
    struct parsed *p = &l->files[l->nfiles++];
    p->path = mi_xstrdup(path);
    p->real = real_path(path);
    p->f = f;
    return p;
}

static struct parsed *loader_get(struct loader *l, const char *path)
{
    char *r = real_path(path);
    for (size_t i = 0; i < l->nfiles; i++) {
        if (strcmp(l->files[i].real, r) == 0) {
            free(r);
            return &l->files[i];
        }
    }
    free(r);
    struct mi_gh_feature *f = NULL;
    if (mi_gh_parse_file(&f, path) < 0)
        return NULL;
    return loader_add(l, path, f);
}

/* ==== tags, constants ================================================================== */

static struct ptag *copy_tags(const struct mi_gh_tag *t, size_t n)
{
    struct ptag *o = mi_xcalloc(n ? n : 1, sizeof(*o));
    for (size_t i = 0; i < n; i++) {
        o[i].name = mi_xstrdup(t[i].name);
        o[i].arg = t[i].arg ? mi_xstrdup(t[i].arg) : NULL;
    }
    return o;
}

static void free_tags(struct ptag *t, size_t n)
{
    if (!t)
        return;
    for (size_t i = 0; i < n; i++) {
        free(t[i].name);
        free(t[i].arg);
    }
    free(t);
}

struct constants {
    char **name, **value;
    size_t n;
};

static void constants_add_from(struct constants *c, const struct mi_gh_tag *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(t[i].name, "constant") != 0 || !t[i].arg)
            continue;
        const char *colon = strchr(t[i].arg, ':');
        if (!colon)
            continue;
        const char *ns = t[i].arg, *ne = colon;
        while (ns < ne && (*ns == ' ' || *ns == '\t'))
            ns++;
        while (ne > ns && (ne[-1] == ' ' || ne[-1] == '\t'))
            ne--;
        const char *vs = colon + 1, *ve = vs + strlen(vs);
        while (vs < ve && (*vs == ' ' || *vs == '\t'))
            vs++;
        while (ve > vs && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        c->name = mi_xrealloc(c->name, (c->n + 1) * sizeof(char *));
        c->value = mi_xrealloc(c->value, (c->n + 1) * sizeof(char *));
        c->name[c->n] = mi_xstrndup(ns, (size_t)(ne - ns));
        c->value[c->n] = mi_xstrndup(vs, (size_t)(ve - vs));
        c->n++;
    }
}

static void constants_free(struct constants *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->name[i]);
        free(c->value[i]);
    }
    free(c->name);
    free(c->value);
    memset(c, 0, sizeof(*c));
}

static char *replace_all(const char *s, const char *from, const char *to)
{
    size_t fl = strlen(from);
    if (!fl)
        return mi_xstrdup(s);
    mi_buf b = MI_BUF_INIT;
    const char *hit;
    while ((hit = strstr(s, from)) != NULL) {
        mi_buf_add(&b, s, (size_t)(hit - s));
        mi_buf_adds(&b, to);
        s = hit + fl;
    }
    mi_buf_adds(&b, s);
    return mi_buf_detach(&b);
}

static char *expand_constants(const char *s, const struct constants *c)
{
    char *cur = mi_xstrdup(s);
    for (size_t i = 0; i < c->n; i++) {
        char *pat = mi_xasprintf("${%s}", c->name[i]);
        char *next = replace_all(cur, pat, c->value[i]);
        free(pat);
        free(cur);
        cur = next;
    }
    return cur;
}

/* ==== steps ============================================================================= */

struct steplist {
    struct pstep *s;
    size_t n, cap;
};

static void free_step(struct pstep *s)
{
    free(s->sentence);
    free(s->ctx_sentence);
    mi_step_binding_release(&s->bind);
}

static void steplist_add(struct steplist *l, const struct mi_gh_step *gs, const char *sentence,
                         int line, int counted, int background)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->s = mi_xrealloc(l->s, l->cap * sizeof(*l->s));
    }
    struct pstep *p = &l->s[l->n++];
    memset(p, 0, sizeof(*p));
    p->sentence = mi_xstrdup(sentence);
    p->line = line;
    p->ctx = gs->ctx;
    p->counted = counted;
    p->background = background;
    p->runable = 1;
}

static int bind_steps(struct steplist *l, const char *path, const struct constants *c,
                      int row_line)
{
    for (size_t i = 0; i < l->n; i++) {
        struct pstep *p = &l->s[i];
        char *expanded = expand_constants(p->sentence, c);
        p->ctx_sentence = mi_steps_context_sentence(expanded, mi_gh_ctx_keyword(p->ctx));
        free(expanded);
        int rc = mi_steps_bind(&p->bind, p->ctx_sentence);
        if (rc < 0) {
            if (row_line > 0 && row_line != p->line)
                return mi_error_prefix("%s:%d (Examples row at line %d)", path, p->line, row_line);
            if (row_line > 0)
                return mi_error_prefix("%s:%d (Examples row)", path, p->line);
            return mi_error_prefix("%s:%d", path, p->line);
        }
    }
    return 0;
}

static int precondition_steps(struct loader *l, const struct mi_gh_feature *f, size_t upto,
                              const struct mi_gh_scenario *s, struct steplist *out);

/* Steps a scenario contributes as a precondition: its background, its own preconditions,
 * its steps (radish's Scenario.all_steps). */
static int scenario_all_steps(struct loader *l, const struct mi_gh_feature *f, size_t index,
                              struct steplist *out)
{
    const struct mi_gh_scenario *s = &f->scenarios[index];
    for (size_t i = 0; i < f->nbackground; i++)
        steplist_add(out, &f->background[i], f->background[i].sentence, f->background[i].line, 0,
                     1);
    int rc = precondition_steps(l, f, index, s, out);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < s->nsteps; i++)
        steplist_add(out, &s->steps[i], s->steps[i].sentence, s->steps[i].line, 0, 0);
    return 0;
}

/* Appends the steps of every @precondition(file.feature: Scenario) of scenario s (the
 * upto-th scenario of f: a precondition in the same file must come before it). */
static int precondition_steps(struct loader *l, const struct mi_gh_feature *f, size_t upto,
                              const struct mi_gh_scenario *s, struct steplist *out)
{
    for (size_t t = 0; t < s->ntags; t++) {
        if (strcmp(s->tags[t].name, "precondition") != 0)
            continue;
        const char *arg = s->tags[t].arg ? s->tags[t].arg : "";
        /* (.*?\.feature): (.*) */
        const char *feat = strstr(arg, ".feature: ");
        if (!feat)
            return mi_error_set(MI_EUSAGE,
                                "%s:%d: @precondition must name 'file.feature: Scenario name', "
                                "found '%s'",
                                f->path, s->tags[t].line, arg);
        char *file = mi_xstrndup(arg, (size_t)(feat - arg) + 8);
        const char *want = feat + 10;
        char *dir = mi_xstrdup(f->path);
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = '\0';
        else {
            free(dir);
            dir = mi_xstrdup(".");
        }
        char *ppath = mi_fs_join(dir, file);
        free(dir);
        if (l->depth >= MAX_PRECONDITION_DEPTH) {
            int rc = mi_error_set(MI_EUSAGE, "%s:%d: preconditions nest too deeply (a cycle?)",
                                  f->path, s->tags[t].line);
            free(file);
            free(ppath);
            return rc;
        }
        const struct mi_gh_feature *pf = NULL;
        size_t limit;
        char *rp = real_path(ppath), *rf = real_path(f->path);
        int same = strcmp(rp, rf) == 0;
        free(rp);
        free(rf);
        if (same) {
            pf = f;
            limit = upto; /* only scenarios defined before this one */
        } else {
            struct parsed *p = loader_get(l, ppath);
            if (!p) {
                int rc = mi_error_prefix("%s:%d: @precondition", f->path, s->tags[t].line);
                free(file);
                free(ppath);
                return rc;
            }
            pf = p->f;
            limit = pf->nscenarios;
        }
        size_t found = SIZE_MAX;
        for (size_t i = 0; i < limit; i++)
            if (strcmp(pf->scenarios[i].name, want) == 0)
                found = i;
        if (found == SIZE_MAX || pf->scenarios[found].kind != MI_GH_SCENARIO) {
            int rc = mi_error_set(MI_EUSAGE,
                                  "%s:%d: cannot import precondition scenario '%s' from feature "
                                  "'%s': no such scenario%s",
                                  f->path, s->tags[t].line, want, ppath,
                                  same ? " defined before this one" : "");
            free(file);
            free(ppath);
            return rc;
        }
        for (int d = 0; d < l->depth; d++) {
            if (l->stack[d] == pf->scenarios[found].name) {
                int rc = mi_error_set(MI_EUSAGE, "%s:%d: cyclic @precondition on '%s'", f->path,
                                      s->tags[t].line, want);
                free(file);
                free(ppath);
                return rc;
            }
        }
        l->stack[l->depth++] = pf->scenarios[found].name;
        int rc = scenario_all_steps(l, pf, found, out);
        l->depth--;
        free(file);
        free(ppath);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ==== building the set ================================================================== */

static struct ptag *merge_tags(const struct ptag *own, size_t nown, const struct ptag *feat,
                               size_t nfeat, size_t *n)
{
    *n = nown + nfeat;
    struct ptag *o = mi_xcalloc(*n ? *n : 1, sizeof(*o));
    for (size_t i = 0; i < nown; i++) {
        o[i].name = mi_xstrdup(own[i].name);
        o[i].arg = own[i].arg ? mi_xstrdup(own[i].arg) : NULL;
    }
    for (size_t i = 0; i < nfeat; i++) {
        o[nown + i].name = mi_xstrdup(feat[i].name);
        o[nown + i].arg = feat[i].arg ? mi_xstrdup(feat[i].arg) : NULL;
    }
    return o;
}

static void free_scenario(struct pscenario *s)
{
    free(s->keyword);
    free(s->name);
    free_tags(s->tags, s->ntags);
    free_tags(s->all_tags, s->nall_tags);
    for (size_t i = 0; i < s->nsteps; i++)
        free_step(&s->steps[i]);
    free(s->steps);
    for (size_t i = 0; i < s->ncells; i++)
        free(s->cells[i]);
    free(s->cells);
}

static void add_background(struct steplist *l, const struct mi_gh_feature *f)
{
    for (size_t i = 0; i < f->nbackground; i++)
        steplist_add(l, &f->background[i], f->background[i].sentence, f->background[i].line, 0,
                     1);
}

static int build_scenario(struct loader *l, const struct mi_gh_feature *f, size_t index,
                          struct pfeature *pf, struct pscenario *out)
{
    const struct mi_gh_scenario *s = &f->scenarios[index];
    memset(out, 0, sizeof(*out));
    out->keyword = mi_xstrdup(s->keyword);
    out->name = mi_xstrdup(s->name);
    out->line = s->line;
    out->row = -1;
    out->tags = copy_tags(s->tags, s->ntags);
    out->ntags = s->ntags;
    out->all_tags = merge_tags(out->tags, out->ntags, pf->tags, pf->ntags, &out->nall_tags);
    struct steplist sl = {0};
    add_background(&sl, f);
    int rc = precondition_steps(l, f, index, s, &sl);
    for (size_t i = 0; rc == 0 && i < s->nsteps; i++)
        steplist_add(&sl, &s->steps[i], s->steps[i].sentence, s->steps[i].line, 1, 0);
    out->steps = sl.s;
    out->nsteps = sl.n;
    if (rc < 0)
        return rc;
    struct constants c = {0};
    constants_add_from(&c, s->tags, s->ntags);
    constants_add_from(&c, f->tags, f->ntags);
    rc = bind_steps(&sl, f->path, &c, 0);
    constants_free(&c);
    return rc;
}

/* ScenarioOutline._replace_examples_in_sentence over dict(zip(header, row)). */
static char *fill_placeholders(const char *sentence, char **header, size_t nheader, char **cells,
                               size_t ncells)
{
    char *cur = mi_xstrdup(sentence);
    size_t n = nheader < ncells ? nheader : ncells;
    for (size_t i = 0; i < n; i++) {
        /* dict(zip(...)): a repeated header keeps its first position, last value */
        int first = 1;
        for (size_t j = 0; j < i; j++)
            if (strcmp(header[j], header[i]) == 0)
                first = 0;
        if (!first)
            continue;
        const char *val = cells[i];
        for (size_t j = i + 1; j < n; j++)
            if (strcmp(header[j], header[i]) == 0)
                val = cells[j];
        char *pat = mi_xasprintf("<%s>", header[i]);
        char *next = replace_all(cur, pat, val);
        free(pat);
        free(cur);
        cur = next;
    }
    return cur;
}

static int build_outline(const struct mi_gh_feature *f, const struct mi_gh_scenario *s,
                         struct pfeature *pf, struct pitem *it)
{
    it->is_outline = s->kind == MI_GH_OUTLINE;
    it->is_loop = s->kind == MI_GH_LOOP;
    it->keyword = mi_xstrdup(s->keyword);
    it->name = mi_xstrdup(s->name);
    it->line = s->line;
    it->tags = copy_tags(s->tags, s->ntags);
    it->ntags = s->ntags;
    it->iterations = s->iterations;
    it->ntemplate = s->nsteps;
    it->template_steps = mi_xcalloc(s->nsteps ? s->nsteps : 1, sizeof(char *));
    for (size_t i = 0; i < s->nsteps; i++)
        it->template_steps[i] = mi_xstrdup(s->steps[i].sentence);
    it->nheader = s->nheader;
    it->header = mi_xcalloc(s->nheader ? s->nheader : 1, sizeof(char *));
    for (size_t i = 0; i < s->nheader; i++)
        it->header[i] = mi_xstrdup(s->examples_header[i]);
    size_t nrows = it->is_loop ? (size_t)(s->iterations > 0 ? s->iterations : 0) : s->nexamples;
    if (nrows > 100000)
        return mi_error_set(MI_EUSAGE, "%s:%d: too many iterations", f->path, s->line);
    it->rows = mi_xcalloc(nrows ? nrows : 1, sizeof(*it->rows));
    for (size_t r = 0; r < nrows; r++) {
        struct pscenario *row = &it->rows[r];
        it->nrows = r + 1;
        row->keyword = mi_xstrdup(s->keyword);
        row->name = it->is_loop ? mi_xasprintf("%s - iteration %zu", s->name, r)
                                : mi_xasprintf("%s - row %zu", s->name, r);
        row->line = s->line;
        row->row = (int)r;
        row->tags = copy_tags(s->tags, s->ntags);
        row->ntags = s->ntags;
        row->all_tags = merge_tags(row->tags, row->ntags, pf->tags, pf->ntags, &row->nall_tags);
        struct steplist sl = {0};
        add_background(&sl, f);
        if (it->is_loop) {
            row->row_line = s->line;
            for (size_t i = 0; i < s->nsteps; i++)
                steplist_add(&sl, &s->steps[i], s->steps[i].sentence, s->steps[i].line, 1, 0);
        } else {
            const struct mi_gh_example *ex = &s->examples[r];
            row->row_line = ex->line;
            row->ncells = ex->ncells;
            row->cells = mi_xcalloc(ex->ncells ? ex->ncells : 1, sizeof(char *));
            for (size_t i = 0; i < ex->ncells; i++)
                row->cells[i] = mi_xstrdup(ex->cells[i]);
            for (size_t i = 0; i < s->nsteps; i++) {
                char *sent = fill_placeholders(s->steps[i].sentence, s->examples_header,
                                               s->nheader, ex->cells, ex->ncells);
                steplist_add(&sl, &s->steps[i], sent, ex->line, 1, 0);
                free(sent);
            }
        }
        row->steps = sl.s;
        row->nsteps = sl.n;
        struct constants c = {0};
        constants_add_from(&c, s->tags, s->ntags);
        constants_add_from(&c, f->tags, f->ntags);
        int rc = bind_steps(&sl, f->path, &c, it->is_loop ? 0 : row->row_line);
        constants_free(&c);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static void free_item(struct pitem *it)
{
    if (it->scenario) {
        free_scenario(it->scenario);
        free(it->scenario);
    }
    free(it->keyword);
    free(it->name);
    free_tags(it->tags, it->ntags);
    for (size_t i = 0; i < it->ntemplate; i++)
        free(it->template_steps[i]);
    free(it->template_steps);
    for (size_t i = 0; i < it->nheader; i++)
        free(it->header[i]);
    free(it->header);
    for (size_t i = 0; i < it->nrows; i++)
        free_scenario(&it->rows[i]);
    free(it->rows);
}

static void free_feature(struct pfeature *pf)
{
    free(pf->path);
    free(pf->name);
    free_tags(pf->tags, pf->ntags);
    for (size_t i = 0; i < pf->ndescription; i++)
        free(pf->description[i]);
    free(pf->description);
    free(pf->background);
    for (size_t i = 0; i < pf->nbackground; i++)
        free(pf->background_steps[i]);
    free(pf->background_steps);
    for (size_t i = 0; i < pf->nitems; i++)
        free_item(&pf->items[i]);
    free(pf->items);
}

static int build_feature(struct loader *l, const struct mi_gh_feature *f, struct pfeature *pf)
{
    memset(pf, 0, sizeof(*pf));
    pf->path = mi_xstrdup(f->path);
    pf->name = mi_xstrdup(f->name);
    pf->line = f->line;
    pf->tags = copy_tags(f->tags, f->ntags);
    pf->ntags = f->ntags;
    pf->ndescription = f->ndescription;
    pf->description = mi_xcalloc(f->ndescription ? f->ndescription : 1, sizeof(char *));
    for (size_t i = 0; i < f->ndescription; i++)
        pf->description[i] = mi_xstrdup(f->description[i]);
    if (f->has_background) {
        pf->background = mi_xstrdup(f->background_name);
        pf->nbackground = f->nbackground;
        pf->background_steps = mi_xcalloc(f->nbackground ? f->nbackground : 1, sizeof(char *));
        for (size_t i = 0; i < f->nbackground; i++)
            pf->background_steps[i] = mi_xstrdup(f->background[i].sentence);
    }
    pf->items = mi_xcalloc(f->nscenarios ? f->nscenarios : 1, sizeof(*pf->items));
    for (size_t i = 0; i < f->nscenarios; i++) {
        struct pitem *it = &pf->items[i];
        pf->nitems = i + 1;
        int rc;
        if (f->scenarios[i].kind == MI_GH_SCENARIO) {
            it->scenario = mi_xcalloc(1, sizeof(*it->scenario));
            rc = build_scenario(l, f, i, pf, it->scenario);
        } else {
            rc = build_outline(f, &f->scenarios[i], pf, it);
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int load_paths(struct mi_policy_set **out, struct loader *l, size_t nroots)
{
    struct mi_policy_set *set = mi_xcalloc(1, sizeof(*set));
    set->features = mi_xcalloc(nroots ? nroots : 1, sizeof(*set->features));
    int rc = 0;
    for (size_t i = 0; i < nroots && rc == 0; i++) {
        const struct mi_gh_feature *f = l->files[i].f;
        /* radish ignores a feature without scenarios */
        if (f->nscenarios == 0)
            continue;
        rc = build_feature(l, f, &set->features[set->nfeatures]);
        set->nfeatures++;
    }
    if (rc < 0) {
        mi_policy_set_free(set);
        return rc;
    }
    *out = set;
    return 0;
}

int mi_policy_load(struct mi_policy_set **out, const char *dir)
{
    *out = NULL;
    struct paths files = {0};
    int rc;
    struct stat st;
    if (stat(dir, &st) != 0)
        return mi_error_errno(errno == ENOENT ? MI_ENOTFOUND : MI_ERR, "policies: cannot read '%s'",
                              dir);
    if (S_ISDIR(st.st_mode)) {
        rc = find_features(&files, dir, 0);
        if (rc < 0) {
            paths_free(&files);
            return rc;
        }
    } else {
        paths_add(&files, mi_xstrdup(dir));
    }
    struct loader l = {0};
    for (size_t i = 0; i < files.n; i++) {
        struct mi_gh_feature *f = NULL;
        rc = mi_gh_parse_file(&f, files.p[i]);
        if (rc < 0) {
            loader_free(&l);
            paths_free(&files);
            return rc;
        }
        loader_add(&l, files.p[i], f);
    }
    size_t nroots = files.n;
    paths_free(&files);
    rc = load_paths(out, &l, nroots);
    loader_free(&l);
    return rc;
}

int mi_policy_load_text(struct mi_policy_set **out, const char *path, const char *text,
                        size_t len)
{
    *out = NULL;
    struct mi_gh_feature *f = NULL;
    int rc = mi_gh_parse(&f, path, text, len);
    if (rc < 0)
        return rc;
    struct loader l = {0};
    loader_add(&l, path, f);
    rc = load_paths(out, &l, 1);
    loader_free(&l);
    return rc;
}

void mi_policy_set_free(struct mi_policy_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->nfeatures; i++)
        free_feature(&set->features[i]);
    free(set->features);
    free(set);
}

size_t mi_policy_set_features(const struct mi_policy_set *set)
{
    return set->nfeatures;
}

size_t mi_policy_set_scenarios(const struct mi_policy_set *set)
{
    size_t n = 0;
    for (size_t i = 0; i < set->nfeatures; i++)
        for (size_t j = 0; j < set->features[i].nitems; j++)
            n += set->features[i].items[j].scenario ? 1 : set->features[i].items[j].nrows;
    return n;
}
