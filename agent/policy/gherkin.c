/*
 * gherkin.c - a line-driven state machine after radish's FeatureParser, with the same
 * states (feature, background, scenario, step, examples, examples row, step text) and the
 * same decisions about what a line is.
 */
#include "policy/gherkin.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/banned.h"

/* Feature files are text written by people; anything bigger is a mistake. */
#define MAX_FEATURE_BYTES (16 * 1024 * 1024)

#define GROW(arr, n, cap)                                                                      \
    do {                                                                                       \
        if ((n) == (cap)) {                                                                    \
            (cap) = (cap) ? (cap) * 2 : 4;                                                     \
            (arr) = mi_xrealloc((arr), (cap) * sizeof(*(arr)));                                \
        }                                                                                      \
    } while (0)

enum state { S_FEATURE, S_BACKGROUND, S_SCENARIO, S_STEP, S_EXAMPLES, S_EXAMPLES_ROW, S_STEP_TEXT };

struct gp {
    const char *path;
    struct mi_gh_feature *f;
    enum state st;
    int line;
    /* pending tags for the next feature or scenario */
    struct mi_gh_tag *tags;
    size_t ntags, tcap;
    size_t bcap, scap;     /* capacities of background steps and scenarios */
    size_t stepcap;        /* capacity of the current scenario's steps */
    size_t excap;          /* capacity of the current outline's examples */
    int in_background;     /* the current step container is the background */
    enum mi_gh_ctx ctx;    /* radish keeps the context class across scenarios */
    int text_indent;       /* column of the opening """, -1 outside step text */
};

static const char *ws = " \t\r\n\f\v";

static int is_ws(char c)
{
    return c && strchr(ws, c) != NULL;
}

/* Python's str.strip() for ASCII whitespace (and the Unicode spaces a file might hold are
 * left alone; radish reads UTF-8 and strips Unicode whitespace too, a corner we accept). */
static void strip(const char **s, size_t *len)
{
    while (*len && is_ws(**s)) {
        (*s)++;
        (*len)--;
    }
    while (*len && is_ws((*s)[*len - 1]))
        (*len)--;
}

static char *dup_strip(const char *s, size_t len)
{
    strip(&s, &len);
    return mi_xstrndup(s, len);
}

/* radish's _detect_keyword: ^keyword\s*:(.*)$ ; returns the stripped rest or NULL. */
static char *detect_keyword(const char *kw, const char *line, size_t len)
{
    size_t kl = strlen(kw);
    if (len < kl || memcmp(line, kw, kl) != 0)
        return NULL;
    size_t i = kl;
    while (i < len && is_ws(line[i]))
        i++;
    if (i >= len || line[i] != ':')
        return NULL;
    i++;
    /* "(.*)$" without DOTALL: the rest must hold no newline; a stripped line has none. */
    return dup_strip(line + i, len - i);
}

static int detect_tag(const char *line, size_t len)
{
    return len >= 2 && line[0] == '@' && !is_ws(line[1]) && line[1] != '(';
}

/* "Scenario Loop N: name" */
static char *detect_loop(const char *line, size_t len, int *iterations)
{
    const char *kw = "Scenario Loop ";
    size_t kl = strlen(kw);
    if (len <= kl || memcmp(line, kw, kl) != 0)
        return NULL;
    size_t i = kl;
    long n = 0;
    size_t d = i;
    while (i < len && line[i] >= '0' && line[i] <= '9') {
        if (n < 100000)
            n = n * 10 + (line[i] - '0');
        i++;
    }
    if (i == d || i >= len || line[i] != ':')
        return NULL;
    *iterations = (int)n;
    return dup_strip(line + i + 1, len - i - 1);
}

static int detect_scenario_type(const char *line, size_t len)
{
    char *s;
    int it;
    if ((s = detect_keyword("Scenario", line, len)) || (s = detect_keyword("Scenario Outline", line, len)) ||
        (s = detect_loop(line, len, &it))) {
        free(s);
        return 1;
    }
    return detect_tag(line, len);
}

static int gerr(struct gp *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int gerr(struct gp *g, const char *fmt, ...)
{
    mi_buf b = MI_BUF_INIT;
    mi_buf_addf(&b, "%s:%d: ", g->path, g->line);
    va_list ap;
    va_start(ap, fmt);
    mi_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    int rc = mi_error_set(MI_EUSAGE, "%s", b.ptr);
    mi_buf_release(&b);
    return rc;
}

static void parse_tags(struct gp *g, const char *line, size_t len)
{
    /* radish splits the line on '@' and reads "@" + part.strip() as one tag each. */
    size_t i = 0;
    while (i <= len) {
        size_t j = i;
        while (j < len && line[j] != '@')
            j++;
        if (i > 0) { /* the text before the first '@' is no tag */
            const char *part = line + i;
            size_t plen = j - i;
            strip(&part, &plen);
            /* ^@([^\s(]+)(?:\((.*?)\))? */
            size_t k = 0;
            while (k < plen && !is_ws(part[k]) && part[k] != '(')
                k++;
            if (k > 0) {
                GROW(g->tags, g->ntags, g->tcap);
                struct mi_gh_tag *t = &g->tags[g->ntags++];
                t->name = mi_xstrndup(part, k);
                t->arg = NULL;
                t->line = g->line;
                if (k < plen && part[k] == '(') {
                    const char *close = memchr(part + k + 1, ')', plen - k - 1);
                    if (close)
                        t->arg = mi_xstrndup(part + k + 1, (size_t)(close - part - k - 1));
                }
            }
        }
        i = j + 1;
    }
}

static void take_tags(struct gp *g, struct mi_gh_tag **tags, size_t *n)
{
    *tags = g->tags;
    *n = g->ntags;
    g->tags = NULL;
    g->ntags = g->tcap = 0;
}

size_t mi_gh_split_cells(const char *line, size_t len, char ***out)
{
    char **cells = NULL;
    size_t n = 0, cap = 0;
    mi_buf cur = MI_BUF_INIT;
    for (size_t i = 0; i < len; i++) {
        char c = line[i];
        if (c == '\\') {
            if (i + 1 < len)
                mi_buf_addch(&cur, line[++i]);
            else
                mi_buf_addch(&cur, '\\');
        } else if (c == '|') {
            GROW(cells, n, cap);
            cells[n++] = mi_buf_detach(&cur);
        } else {
            mi_buf_addch(&cur, c);
        }
    }
    GROW(cells, n, cap);
    cells[n++] = mi_buf_detach(&cur);
    *out = cells;
    return n;
}

/* Cells [1:-1] of a split row, stripped. */
static size_t inner_cells(char **cells, size_t n, char ***out)
{
    size_t m = n >= 2 ? n - 2 : 0;
    char **res = mi_xcalloc(m ? m : 1, sizeof(*res));
    for (size_t i = 0; i < m; i++)
        res[i] = dup_strip(cells[i + 1], strlen(cells[i + 1]));
    for (size_t i = 0; i < n; i++)
        free(cells[i]);
    free(cells);
    *out = res;
    return m;
}

static struct mi_gh_scenario *cur_scenario(struct gp *g)
{
    return g->f->nscenarios ? &g->f->scenarios[g->f->nscenarios - 1] : NULL;
}

static struct mi_gh_step *last_step(struct gp *g)
{
    if (g->in_background)
        return g->f->nbackground ? &g->f->background[g->f->nbackground - 1] : NULL;
    struct mi_gh_scenario *s = cur_scenario(g);
    return s && s->nsteps ? &s->steps[s->nsteps - 1] : NULL;
}

static int parse_scenario(struct gp *g, const char *line, size_t len)
{
    enum mi_gh_kind kind = MI_GH_SCENARIO;
    const char *keyword = "Scenario";
    int iterations = 0;
    char *name = detect_keyword("Scenario", line, len);
    if (!name) {
        name = detect_keyword("Scenario Outline", line, len);
        kind = MI_GH_OUTLINE;
        keyword = "Scenario Outline";
    }
    if (!name) {
        name = detect_loop(line, len, &iterations);
        kind = MI_GH_LOOP;
        keyword = "Scenario Loop";
    }
    if (!name) {
        if (detect_tag(line, len)) {
            parse_tags(g, line, len);
            return 0;
        }
        char *l = mi_xstrndup(line, len);
        int rc = gerr(g, "expected a scenario or a tag on this line, found '%s'", l);
        free(l);
        return rc;
    }
    for (size_t i = 0; i < g->f->nscenarios; i++) {
        if (strcmp(g->f->scenarios[i].name, name) == 0) {
            int rc = gerr(g, "scenario '%s' is defined twice in this feature", name);
            free(name);
            return rc;
        }
    }
    GROW(g->f->scenarios, g->f->nscenarios, g->scap);
    struct mi_gh_scenario *s = &g->f->scenarios[g->f->nscenarios++];
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    s->keyword = mi_xstrdup(keyword);
    s->name = name;
    s->line = g->line;
    s->iterations = iterations;
    take_tags(g, &s->tags, &s->ntags);
    g->stepcap = 0;
    g->excap = 0;
    g->in_background = 0;
    g->st = S_STEP;
    return 0;
}

static void add_step(struct gp *g, const char *line, size_t len)
{
    /* The first word decides the context class; And (and anything else) inherits it. */
    size_t w = 0;
    while (w < len && !is_ws(line[w]))
        w++;
    char first[8];
    if (w < sizeof(first)) {
        for (size_t i = 0; i < w; i++) {
            char c = line[i];
            first[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
        }
        first[w] = '\0';
        if (strcmp(first, "given") == 0)
            g->ctx = MI_GH_GIVEN;
        else if (strcmp(first, "when") == 0)
            g->ctx = MI_GH_WHEN;
        else if (strcmp(first, "then") == 0)
            g->ctx = MI_GH_THEN;
        else if (strcmp(first, "but") == 0)
            g->ctx = MI_GH_BUT;
    }
    struct mi_gh_step *st;
    if (g->in_background) {
        GROW(g->f->background, g->f->nbackground, g->bcap);
        st = &g->f->background[g->f->nbackground++];
    } else {
        struct mi_gh_scenario *s = cur_scenario(g);
        GROW(s->steps, s->nsteps, g->stepcap);
        st = &s->steps[s->nsteps++];
    }
    memset(st, 0, sizeof(*st));
    st->sentence = mi_xstrndup(line, len);
    st->ctx = g->ctx;
    st->line = g->line;
}

static void add_step_text(struct gp *g, const char *raw, size_t rawlen)
{
    const char *s = raw;
    size_t len = rawlen;
    strip(&s, &len);
    struct mi_gh_step *st = last_step(g);
    char *text = NULL;
    if (len >= 3 && memcmp(s, "\"\"\"", 3) == 0 && g->text_indent < 0) {
        g->text_indent = (int)(memchr(raw, '"', rawlen) ? (const char *)memchr(raw, '"', rawlen) - raw : 0);
        const char *rest = s + 3;
        size_t rl = len - 3;
        while (rl && is_ws(rest[rl - 1]))
            rl--;
        if (rl)
            text = mi_xstrndup(rest, rl);
    } else if (len >= 3 && memcmp(s + len - 3, "\"\"\"", 3) == 0 && g->text_indent >= 0) {
        g->st = S_STEP;
        size_t l = rawlen;
        while (l && is_ws(raw[l - 1]))
            l--;
        l = l >= 3 ? l - 3 : 0;
        size_t i = 0;
        while (i < l && (int)i < g->text_indent && is_ws(raw[i]))
            i++;
        size_t e = l;
        while (e > i && is_ws(raw[e - 1]))
            e--;
        g->text_indent = -1;
        if (e > i)
            text = mi_xstrndup(raw + i, e - i);
    } else {
        size_t l = rawlen;
        size_t i = 0;
        while (i < l && (int)i < g->text_indent && is_ws(raw[i]))
            i++;
        while (l > i && is_ws(raw[l - 1]))
            l--;
        text = mi_xstrndup(raw + i, l - i);
    }
    if (text) {
        if (st) {
            st->text = mi_xrealloc(st->text, (st->ntext + 1) * sizeof(char *));
            st->text[st->ntext++] = text;
        } else {
            free(text);
        }
    }
}

static int parse_line(struct gp *g, const char *raw, size_t rawlen)
{
    const char *line = raw;
    size_t len = rawlen;
    strip(&line, &len);
    if (len == 0)
        return 0;
    if (line[0] == '#') {
        /* "^# language: (.*)" on the unstripped line */
        const char *lk = "# language: ";
        size_t ll = strlen(lk);
        if (rawlen >= ll && memcmp(raw, lk, ll) == 0) {
            const char *lang = raw + ll;
            size_t langlen = rawlen - ll;
            strip(&lang, &langlen);
            if (!(langlen == 2 && memcmp(lang, "en", 2) == 0)) {
                char *l = mi_xstrndup(lang, langlen);
                int rc = gerr(g, "language '%s' is not supported (only English keywords)", l);
                free(l);
                return rc;
            }
        }
        return 0;
    }
    if (g->f->name) {
        char *s = detect_keyword("Feature", line, len);
        if (s) {
            free(s);
            return gerr(g, "only one Feature per feature file");
        }
        s = detect_keyword("Background", line, len);
        if (s) {
            free(s);
            if (g->f->has_background)
                return gerr(g, "the Background block may only appear once in a Feature");
            if (g->f->nscenarios)
                return gerr(g, "the Background block must be placed before any Scenario block");
        }
    }
    switch (g->st) {
    case S_FEATURE: {
        char *name = detect_keyword("Feature", line, len);
        if (!name) {
            if (detect_tag(line, len)) {
                parse_tags(g, line, len);
                return 0;
            }
            char *l = mi_xstrndup(line, len);
            int rc = gerr(g, "expected 'Feature:' or a tag, found '%s'", l);
            free(l);
            return rc;
        }
        g->f->name = name;
        g->f->line = g->line;
        take_tags(g, &g->f->tags, &g->f->ntags);
        g->st = S_BACKGROUND;
        return 0;
    }
    case S_BACKGROUND: {
        char *name = detect_keyword("Background", line, len);
        if (!name) {
            if (detect_scenario_type(line, len)) {
                g->st = S_SCENARIO;
                return parse_scenario(g, line, len);
            }
            g->f->description =
                mi_xrealloc(g->f->description, (g->f->ndescription + 1) * sizeof(char *));
            g->f->description[g->f->ndescription++] = mi_xstrndup(line, len);
            return 0;
        }
        g->f->has_background = 1;
        g->f->background_name = name;
        g->f->background_line = g->line;
        g->in_background = 1;
        g->st = S_STEP;
        return 0;
    }
    case S_SCENARIO:
        return parse_scenario(g, line, len);
    case S_STEP: {
        if (detect_scenario_type(line, len)) {
            g->st = S_SCENARIO;
            return parse_scenario(g, line, len);
        }
        if (len >= 3 && memcmp(line, "\"\"\"", 3) == 0) {
            if (!last_step(g))
                return gerr(g, "step text without a step before it");
            g->st = S_STEP_TEXT;
            add_step_text(g, raw, rawlen);
            return 0;
        }
        if (line[0] == '|') {
            struct mi_gh_step *st = last_step(g);
            if (!st)
                return gerr(g, "step table without a step before it");
            char **cells;
            size_t n = mi_gh_split_cells(line, len, &cells);
            char **inner;
            size_t m = inner_cells(cells, n, &inner);
            st->table = mi_xrealloc(st->table, (st->ntable + 1) * sizeof(*st->table));
            st->table_cols = mi_xrealloc(st->table_cols, (st->ntable + 1) * sizeof(size_t));
            st->table[st->ntable] = inner;
            st->table_cols[st->ntable] = m;
            st->ntable++;
            return 0;
        }
        char *ex = detect_keyword("Examples", line, len);
        if (ex) {
            free(ex);
            g->st = S_EXAMPLES;
            if (!g->in_background && cur_scenario(g))
                cur_scenario(g)->examples_line = g->line;
            return 0;
        }
        add_step(g, line, len);
        return 0;
    }
    case S_EXAMPLES: {
        struct mi_gh_scenario *s = g->in_background ? NULL : cur_scenario(g);
        if (!s || s->kind != MI_GH_OUTLINE)
            return gerr(g, "only a Scenario Outline can have Examples");
        /* The header is split on every '|' (no unescaping), as radish does. */
        char **cells = NULL;
        size_t n = 0, cap = 0, start = 0;
        for (size_t i = 0; i <= len; i++) {
            if (i == len || line[i] == '|') {
                GROW(cells, n, cap);
                cells[n++] = mi_xstrndup(line + start, i - start);
                start = i + 1;
            }
        }
        s->nheader = inner_cells(cells, n, &s->examples_header);
        g->st = S_EXAMPLES_ROW;
        return 0;
    }
    case S_EXAMPLES_ROW: {
        if (detect_scenario_type(line, len)) {
            g->st = S_SCENARIO;
            return parse_scenario(g, line, len);
        }
        struct mi_gh_scenario *s = cur_scenario(g);
        char **cells;
        size_t n = mi_gh_split_cells(line, len, &cells);
        GROW(s->examples, s->nexamples, g->excap);
        struct mi_gh_example *ex = &s->examples[s->nexamples++];
        ex->ncells = inner_cells(cells, n, &ex->cells);
        ex->line = g->line;
        return 0;
    }
    case S_STEP_TEXT:
        add_step_text(g, raw, rawlen);
        return 0;
    }
    return 0;
}

static void free_tags(struct mi_gh_tag *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(t[i].name);
        free(t[i].arg);
    }
    free(t);
}

static void free_steps(struct mi_gh_step *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(s[i].sentence);
        for (size_t j = 0; j < s[i].ntext; j++)
            free(s[i].text[j]);
        free(s[i].text);
        for (size_t j = 0; j < s[i].ntable; j++) {
            for (size_t k = 0; k < s[i].table_cols[j]; k++)
                free(s[i].table[j][k]);
            free(s[i].table[j]);
        }
        free(s[i].table);
        free(s[i].table_cols);
    }
    free(s);
}

void mi_gh_feature_free(struct mi_gh_feature *f)
{
    if (!f)
        return;
    free(f->path);
    free(f->name);
    free_tags(f->tags, f->ntags);
    for (size_t i = 0; i < f->ndescription; i++)
        free(f->description[i]);
    free(f->description);
    free(f->background_name);
    free_steps(f->background, f->nbackground);
    for (size_t i = 0; i < f->nscenarios; i++) {
        struct mi_gh_scenario *s = &f->scenarios[i];
        free(s->keyword);
        free(s->name);
        free_tags(s->tags, s->ntags);
        free_steps(s->steps, s->nsteps);
        for (size_t j = 0; j < s->nheader; j++)
            free(s->examples_header[j]);
        free(s->examples_header);
        for (size_t j = 0; j < s->nexamples; j++) {
            for (size_t k = 0; k < s->examples[j].ncells; k++)
                free(s->examples[j].cells[k]);
            free(s->examples[j].cells);
        }
        free(s->examples);
    }
    free(f->scenarios);
    free(f);
}

int mi_gh_parse(struct mi_gh_feature **out, const char *path, const char *text, size_t len)
{
    *out = NULL;
    struct gp g = {0};
    g.path = path;
    g.f = mi_xcalloc(1, sizeof(*g.f));
    g.f->path = mi_xstrdup(path);
    g.st = S_FEATURE;
    g.text_indent = -1;
    int rc = 0;
    /* A UTF-8 byte order mark is not part of the first line. */
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        text += 3;
        len -= 3;
    }
    size_t i = 0;
    while (i < len && rc == 0) {
        size_t j = i;
        while (j < len && text[j] != '\n')
            j++;
        g.line++;
        /* A NUL byte cannot be in a feature file radish would read as text. */
        if (memchr(text + i, '\0', j - i)) {
            rc = gerr(&g, "binary data (NUL byte) in a feature file");
            break;
        }
        rc = parse_line(&g, text + i, j - i);
        i = j + 1;
    }
    if (rc == 0 && !g.f->name)
        rc = mi_error_set(MI_EUSAGE, "%s: no 'Feature:' found", path);
    if (rc == 0 && g.st == S_STEP_TEXT)
        rc = mi_error_set(MI_EUSAGE, "%s: step text (\"\"\") is not closed at the end of the file",
                          path);
    free_tags(g.tags, g.ntags);
    if (rc < 0) {
        mi_gh_feature_free(g.f);
        return rc;
    }
    *out = g.f;
    return 0;
}

int mi_gh_parse_file(struct mi_gh_feature **out, const char *path)
{
    mi_buf b = MI_BUF_INIT;
    int rc = mi_fs_read_file(&b, path, MAX_FEATURE_BYTES);
    if (rc == 0)
        rc = mi_gh_parse(out, path, b.ptr, b.len);
    mi_buf_release(&b);
    return rc;
}

const char *mi_gh_ctx_keyword(enum mi_gh_ctx c)
{
    switch (c) {
    case MI_GH_GIVEN:
        return "Given";
    case MI_GH_WHEN:
        return "When";
    case MI_GH_THEN:
        return "Then";
    case MI_GH_BUT:
        return "But";
    default:
        return "";
    }
}
