/*
 * render.c - policy results and change windows as text, JSON, JUnit XML and
 * terraform-compliance's console transcript.
 */
#include "policy/render.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

/* ==== results helpers (policy.h) =========================================================== */

void mi_policy_result_foreach(const struct mi_policy_result *r, mi_policy_visit_fn fn, void *ctx)
{
    if (!r)
        return;
    for (size_t f = 0; f < r->nfeatures; f++) {
        const struct mi_policy_feature *ft = &r->features[f];
        for (size_t i = 0; i < ft->nitems; i++) {
            const struct mi_policy_item *it = &ft->items[i];
            if (it->scenario)
                fn(ctx, ft, it, it->scenario);
            for (size_t k = 0; k < it->nrows; k++)
                fn(ctx, ft, it, &it->rows[k]);
        }
    }
}

const char *mi_policy_scenario_skip_reason(const struct mi_policy_scenario *s)
{
    for (size_t i = 0; i < s->nsteps; i++) {
        const struct mi_policy_step *st = &s->steps[i];
        for (size_t k = 0; k < st->nevents; k++)
            if (st->events[k].kind == MI_PEV_SKIP)
                return st->events[k].text;
        for (size_t k = 0; k < st->nafter; k++)
            if (st->after_events[k].kind == MI_PEV_SKIP)
                return st->after_events[k].text;
    }
    return NULL;
}

int mi_policy_scenario_line(const struct mi_policy_scenario *s)
{
    return s->row >= 0 && s->row_line > 0 ? s->row_line : s->line;
}

size_t mi_policy_scenario_violations(const struct mi_policy_scenario *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->nfailures; i++)
        n += s->failures[i].warning ? 0 : 1;
    return n;
}

int mi_policy_format_parse(const char *name)
{
    if (!strcmp(name, "text"))
        return MI_POLICY_FORMAT_TEXT;
    if (!strcmp(name, "json"))
        return MI_POLICY_FORMAT_JSON;
    if (!strcmp(name, "junit"))
        return MI_POLICY_FORMAT_JUNIT;
    if (!strcmp(name, "terraform-compliance"))
        return MI_POLICY_FORMAT_TFC;
    return -1;
}

static size_t u8len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

static void pad(mi_buf *b, const char *s, size_t width)
{
    mi_buf_adds(b, s);
    for (size_t n = u8len(s); n < width; n++)
        mi_buf_addch(b, ' ');
}

/* ==== terraform-compliance's console transcript ============================================ */

static void tfc_events(mi_buf *b, const struct mi_policy_event *e, size_t n)
{
    size_t last = 7; /* strlen("Failure") */
    for (size_t i = 0; i < n; i++) {
        switch (e[i].kind) {
        case MI_PEV_FAILURE:
        case MI_PEV_WARNING:
            if (e[i].header[0]) {
                last = strlen(e[i].header);
                mi_buf_addf(b, "\t\t%s: %s\n", e[i].header, e[i].text);
            } else {
                mi_buf_adds(b, "\t\t");
                for (size_t k = 0; k < last + 1; k++)
                    mi_buf_addch(b, ' ');
                mi_buf_addf(b, " %s\n", e[i].text);
            }
            break;
        case MI_PEV_SKIP:
            mi_buf_addf(b, "\t* SKIPPING: %s\n", e[i].text);
            break;
        case MI_PEV_NOTICE:
            mi_buf_addf(b, "\t! WARNING: %s\n", e[i].text);
            break;
        }
    }
}

static void tfc_tags(mi_buf *b, char **tags, size_t n, const char *indent)
{
    for (size_t i = 0; i < n; i++)
        mi_buf_addf(b, "%s@%s\n", indent, tags[i]);
}

/* A failure reason as the console shows it: radish's blank reason starts with a carriage
 * return, which the recorded transcripts have as a line break. */
static void tfc_reason(mi_buf *b, const char *name, const char *reason)
{
    mi_buf_addf(b, "          %s: ", name ? name : "Failure");
    for (const char *p = reason ? reason : ""; *p; p++)
        mi_buf_addch(b, *p == '\r' ? '\n' : *p);
    mi_buf_addch(b, '\n');
}

static void tfc_step(mi_buf *b, const struct mi_policy_step *st, int print_line)
{
    tfc_events(b, st->events, st->nevents);
    if (print_line)
        mi_buf_addf(b, "        %s\n", st->sentence);
    tfc_events(b, st->after_events, st->nafter);
    if (print_line && st->state == MI_POLICY_FAILED)
        tfc_reason(b, st->error_name, st->error_reason);
}

static void tfc_row(mi_buf *b, const struct mi_policy_item *it, const struct mi_policy_scenario *s,
                    const size_t *widths)
{
    for (size_t i = 0; i < s->nsteps; i++)
        tfc_step(b, &s->steps[i], 0);
    if (it->is_loop) {
        char num[32];
        snprintf(num, sizeof(num), "%d", s->row);
        mi_buf_adds(b, "        | ");
        pad(b, num, 18);
        mi_buf_adds(b, " |\n");
    } else {
        mi_buf_adds(b, "        |");
        for (size_t c = 0; c < s->ncells; c++) {
            mi_buf_addch(b, ' ');
            pad(b, s->cells[c], c < it->nheader ? widths[c] : 0);
            mi_buf_adds(b, " |");
        }
        mi_buf_addch(b, '\n');
    }
    if (s->state == MI_POLICY_FAILED) {
        for (size_t i = 0; i < s->nsteps; i++) {
            const struct mi_policy_step *st = &s->steps[i];
            if ((st->counted || st->background) && st->state == MI_POLICY_FAILED) {
                tfc_reason(b, st->error_name, st->error_reason);
                break;
            }
        }
    }
}

static void counts_line(mi_buf *b, const char *what, const struct mi_policy_counts *c)
{
    mi_buf_addf(b, "%zu %s (%zu passed", c->total, what, c->passed);
    if (c->failed)
        mi_buf_addf(b, ", %zu failed", c->failed);
    if (c->skipped)
        mi_buf_addf(b, ", %zu skipped", c->skipped);
    mi_buf_adds(b, ")\n");
}

static void windows_lines(mi_buf *b, const struct mi_window_report *w, const char *zone,
                          const char *indent)
{
    char now[64], local[64];
    mi_window_format_utc(now, sizeof(now), w->now);
    mi_buf_addf(b, "%schange windows for %s at %s (%s): %s\n", indent, w->environment, now, w->path,
                w->open ? "open" : "CLOSED");
    for (size_t i = 0; i < w->nhits; i++)
        mi_buf_addf(b, "%s  closed by change window '%s' (%s:%d): %s\n", indent, w->hits[i].name,
                    w->path, w->hits[i].line, w->hits[i].message);
    if (!w->open) {
        if (w->opens_at >= 0) {
            mi_window_format_local(local, sizeof(local), w->opens_at, zone);
            mi_window_format_utc(now, sizeof(now), w->opens_at);
            mi_buf_addf(b, "%s  the window opens again at %s (%s)\n", indent, local, now);
        } else {
            mi_buf_addf(b, "%s  the window does not open within the next 14 days\n", indent);
        }
    }
}

static void render_tfc(mi_buf *b, const struct mi_policy_render_input *in)
{
    const struct mi_policy_result *r = in->result;
    mi_buf_adds(b, "mlinfra check (terraform-compliance console format)\n\n");
    mi_buf_addf(b, "> Features\t: %s\n", in->policies_path ? in->policies_path : "");
    mi_buf_addf(b, "> Plan File\t: %s\n", in->plan_path ? in->plan_path : "");
    if (r && r->early_exit)
        mi_buf_adds(b, "* INFO\t\t: Scenario executions will stop on first step failure.\n");
    mi_buf_adds(b, "* Running in non-interactive mode.\n\n> Running tests. \n\n");
    for (size_t f = 0; r && f < r->nfeatures; f++) {
        const struct mi_policy_feature *ft = &r->features[f];
        tfc_tags(b, ft->tags, ft->ntags, "");
        mi_buf_addf(b, "Feature: %s  # %s", ft->name, ft->path);
        for (size_t i = 0; i < ft->ndescription; i++)
            mi_buf_addf(b, "\n    %s", ft->description[i]);
        if (ft->background) {
            mi_buf_addf(b, "\n\n    Background: %s", ft->background);
            for (size_t i = 0; i < ft->nbackground; i++)
                mi_buf_addf(b, "\n\n        %s", ft->background_steps[i]);
        }
        mi_buf_addch(b, '\n');
        for (size_t i = 0; i < ft->nnotices; i++)
            mi_buf_addf(b, "%s\n", ft->notices[i]);
        for (size_t i = 0; i < ft->nitems; i++) {
            const struct mi_policy_item *it = &ft->items[i];
            mi_buf_addch(b, '\n');
            if (it->scenario) {
                const struct mi_policy_scenario *s = it->scenario;
                tfc_tags(b, s->tags, s->ntags, "    ");
                mi_buf_addf(b, "    %s: %s\n", s->keyword, s->name);
                for (size_t k = 0; k < s->nsteps; k++)
                    tfc_step(b, &s->steps[k], 1);
                continue;
            }
            tfc_tags(b, it->tags, it->ntags, "    ");
            if (it->is_loop)
                mi_buf_addf(b, "    %s %d: %s\n", it->keyword, it->iterations, it->name);
            else
                mi_buf_addf(b, "    %s: %s\n", it->keyword, it->name);
            for (size_t k = 0; k < it->ntemplate; k++)
                mi_buf_addf(b, "        %s\n", it->template_steps[k]);
            size_t *widths = mi_xcalloc(it->nheader ? it->nheader : 1, sizeof(size_t));
            for (size_t c = 0; c < it->nheader; c++) {
                widths[c] = u8len(it->header[c]);
                for (size_t k = 0; k < it->nrows; k++)
                    if (c < it->rows[k].ncells && u8len(it->rows[k].cells[c]) > widths[c])
                        widths[c] = u8len(it->rows[k].cells[c]);
            }
            if (it->is_loop) {
                mi_buf_addf(b, "\n    Iterations: %d\n", it->iterations);
            } else {
                mi_buf_adds(b, "\n    Examples:\n        |");
                for (size_t c = 0; c < it->nheader; c++) {
                    mi_buf_addch(b, ' ');
                    pad(b, it->header[c], widths[c]);
                    mi_buf_adds(b, " |");
                }
                mi_buf_addch(b, '\n');
            }
            for (size_t k = 0; k < it->nrows; k++)
                tfc_row(b, it, &it->rows[k], widths);
            free(widths);
        }
        mi_buf_addch(b, '\n');
    }
    if (r) {
        counts_line(b, "features", &r->feature_counts);
        counts_line(b, "scenarios", &r->scenario_counts);
        counts_line(b, "steps", &r->step_counts);
    }
    if (in->windows && in->windows->evaluated) {
        mi_buf_addch(b, '\n');
        windows_lines(b, in->windows, in->window_zone, "");
    }
}

/* ==== text ============================================================================== */

struct text_ctx {
    mi_buf *b;
};

static void text_scenario(void *ctx, const struct mi_policy_feature *f,
                          const struct mi_policy_item *it, const struct mi_policy_scenario *s)
{
    (void)it;
    mi_buf *b = ((struct text_ctx *)ctx)->b;
    const char *tag = s->state == MI_POLICY_PASSED    ? "PASS"
                      : s->state == MI_POLICY_FAILED  ? "FAIL"
                      : s->state == MI_POLICY_SKIPPED ? "SKIP"
                                                      : "----";
    size_t warnings = s->nfailures - mi_policy_scenario_violations(s);
    if (s->state == MI_POLICY_SKIPPED && warnings && !mi_policy_scenario_skip_reason(s))
        tag = "WARN";
    mi_buf_addf(b, "%s  %s:%d  %s\n", tag, f->path, mi_policy_scenario_line(s), s->name);
    for (size_t i = 0; i < s->nfailures; i++) {
        const struct mi_policy_failure *fl = &s->failures[i];
        mi_buf_addf(b, "      %s%s\n", fl->warning ? "warning: " : "", fl->message);
        if (fl->address || fl->value) {
            mi_buf_adds(b, "        ");
            if (fl->address)
                mi_buf_addf(b, "resource: %s", fl->address);
            if (fl->value)
                mi_buf_addf(b, "%svalue: %s", fl->address ? "  " : "", fl->value);
            mi_buf_addf(b, "  (step at line %d)\n", fl->line);
        }
    }
    if (s->state == MI_POLICY_SKIPPED) {
        const char *why = mi_policy_scenario_skip_reason(s);
        if (why)
            mi_buf_addf(b, "      skipped: %s\n", why);
    }
}

static void render_text(mi_buf *b, const struct mi_policy_render_input *in)
{
    const struct mi_policy_result *r = in->result;
    if (r) {
        struct text_ctx c = {b};
        mi_policy_result_foreach(r, text_scenario, &c);
        if (r->scenario_counts.total)
            mi_buf_addch(b, '\n');
        mi_buf_addf(b,
                    "policies: %zu scenario%s in %zu feature%s: %zu passed, %zu failed, %zu "
                    "skipped",
                    r->scenario_counts.total, r->scenario_counts.total == 1 ? "" : "s",
                    r->feature_counts.total, r->feature_counts.total == 1 ? "" : "s",
                    r->scenario_counts.passed, r->scenario_counts.failed,
                    r->scenario_counts.skipped + r->scenario_counts.untested);
        if (r->warnings)
            mi_buf_addf(b, ", %zu warning%s", r->warnings, r->warnings == 1 ? "" : "s");
        mi_buf_addch(b, '\n');
    }
    if (in->windows && in->windows->evaluated)
        windows_lines(b, in->windows, in->window_zone, "");
}

/* ==== JSON =============================================================================== */

static void jstr(mi_buf *b, const char *s)
{
    if (!s) {
        mi_buf_adds(b, "null");
        return;
    }
    mi_buf_addch(b, '"');
    mi_buf_add_json_escaped(b, s);
    mi_buf_addch(b, '"');
}

static void jcounts(mi_buf *b, const struct mi_policy_counts *c)
{
    mi_buf_addf(b, "{\"total\":%zu,\"passed\":%zu,\"failed\":%zu,\"skipped\":%zu,\"untested\":%zu}",
                c->total, c->passed, c->failed, c->skipped, c->untested);
}

struct json_ctx {
    mi_buf *b;
    int first;
};

static void json_scenario(void *ctx, const struct mi_policy_feature *f,
                          const struct mi_policy_item *it, const struct mi_policy_scenario *s)
{
    struct json_ctx *c = ctx;
    mi_buf *b = c->b;
    if (!c->first)
        mi_buf_addch(b, ',');
    c->first = 0;
    mi_buf_adds(b, "\n    {\"feature\":");
    jstr(b, f->path);
    mi_buf_adds(b, ",\"feature_name\":");
    jstr(b, f->name);
    mi_buf_adds(b, ",\"name\":");
    jstr(b, s->name);
    mi_buf_addf(b, ",\"line\":%d,\"keyword\":", mi_policy_scenario_line(s));
    jstr(b, s->keyword);
    if (s->row >= 0) {
        mi_buf_adds(b, ",\"outline\":");
        jstr(b, it->name);
        mi_buf_addf(b, ",\"row\":%d,\"outline_line\":%d", s->row, it->line);
    }
    mi_buf_adds(b, ",\"status\":");
    jstr(b, mi_policy_state_name(s->state));
    mi_buf_adds(b, ",\"tags\":[");
    for (size_t i = 0; i < s->ntags; i++) {
        if (i)
            mi_buf_addch(b, ',');
        jstr(b, s->tags[i]);
    }
    for (int pass = 0; pass < 2; pass++) {
        mi_buf_adds(b, pass ? "],\"warnings\":[" : "],\"failures\":[");
        int first = 1;
        for (size_t i = 0; i < s->nfailures; i++) {
            const struct mi_policy_failure *fl = &s->failures[i];
            if (fl->warning != pass)
                continue;
            if (!first)
                mi_buf_addch(b, ',');
            first = 0;
            mi_buf_adds(b, "{\"message\":");
            jstr(b, fl->message);
            mi_buf_adds(b, ",\"address\":");
            jstr(b, fl->address);
            mi_buf_adds(b, ",\"value\":");
            jstr(b, fl->value);
            mi_buf_addf(b, ",\"line\":%d}", fl->line);
        }
    }
    mi_buf_adds(b, "],\"skip_reason\":");
    jstr(b, s->state == MI_POLICY_SKIPPED ? mi_policy_scenario_skip_reason(s) : NULL);
    mi_buf_adds(b, ",\"steps\":[");
    for (size_t i = 0; i < s->nsteps; i++) {
        const struct mi_policy_step *st = &s->steps[i];
        if (i)
            mi_buf_addch(b, ',');
        mi_buf_adds(b, "{\"sentence\":");
        jstr(b, st->sentence);
        mi_buf_addf(b, ",\"line\":%d,\"status\":", st->line);
        jstr(b, mi_policy_state_name(st->state));
        if (st->background || !st->counted)
            mi_buf_addf(b, ",\"from\":\"%s\"", st->background ? "background" : "precondition");
        if (st->state == MI_POLICY_FAILED) {
            mi_buf_adds(b, ",\"error\":");
            jstr(b, st->error_name);
            mi_buf_adds(b, ",\"reason\":");
            jstr(b, st->error_reason);
        }
        mi_buf_addch(b, '}');
    }
    mi_buf_adds(b, "]}");
}

static void json_windows(mi_buf *b, const struct mi_window_report *w, const char *zone)
{
    if (!w || !w->evaluated) {
        mi_buf_adds(b, "{\"evaluated\":false}");
        return;
    }
    char t[64];
    mi_buf_adds(b, "{\"evaluated\":true,\"file\":");
    jstr(b, w->path);
    mi_buf_adds(b, ",\"environment\":");
    jstr(b, w->environment);
    mi_window_format_utc(t, sizeof(t), w->now);
    mi_buf_adds(b, ",\"now\":");
    jstr(b, t);
    mi_buf_addf(b, ",\"rules\":%zu,\"open\":%s,\"closed_by\":[", w->nrules,
                w->open ? "true" : "false");
    for (size_t i = 0; i < w->nhits; i++) {
        if (i)
            mi_buf_addch(b, ',');
        mi_buf_adds(b, "{\"name\":");
        jstr(b, w->hits[i].name);
        mi_buf_adds(b, ",\"action\":");
        jstr(b, w->hits[i].action);
        mi_buf_adds(b, ",\"message\":");
        jstr(b, w->hits[i].message);
        mi_buf_addf(b, ",\"line\":%d}", w->hits[i].line);
    }
    mi_buf_adds(b, "],\"opens_at\":");
    if (!w->open && w->opens_at >= 0) {
        mi_window_format_utc(t, sizeof(t), w->opens_at);
        jstr(b, t);
        mi_window_format_local(t, sizeof(t), w->opens_at, zone);
        mi_buf_adds(b, ",\"opens_at_local\":");
        jstr(b, t);
    } else {
        mi_buf_adds(b, "null");
    }
    mi_buf_addch(b, '}');
}

static void render_json(mi_buf *b, const struct mi_policy_render_input *in)
{
    const struct mi_policy_result *r = in->result;
    mi_buf_adds(b, "{\n  \"format_version\": 1,\n  \"plan\": ");
    jstr(b, in->plan_path);
    mi_buf_adds(b, ",\n  \"policies\": ");
    jstr(b, in->policies_path);
    if (r) {
        mi_buf_adds(b, ",\n  \"summary\": {\"features\":");
        jcounts(b, &r->feature_counts);
        mi_buf_adds(b, ",\"scenarios\":");
        jcounts(b, &r->scenario_counts);
        mi_buf_adds(b, ",\"steps\":");
        jcounts(b, &r->step_counts);
        mi_buf_addf(b, ",\"violations\":%zu,\"warnings\":%zu,\"early_exit\":%s}", r->violations,
                    r->warnings, r->early_exit ? "true" : "false");
        mi_buf_adds(b, ",\n  \"scenarios\": [");
        struct json_ctx c = {b, 1};
        mi_policy_result_foreach(r, json_scenario, &c);
        mi_buf_adds(b, "\n  ]");
    }
    mi_buf_adds(b, ",\n  \"change_windows\": ");
    json_windows(b, in->windows, in->window_zone);
    int closed = in->windows && in->windows->evaluated && !in->windows->open;
    mi_buf_addf(b, ",\n  \"passed\": %s\n}\n",
                (!r || r->violations == 0) && !closed ? "true" : "false");
}

/* ==== JUnit XML ============================================================================ */

/* XML text: escaped, and without the control characters XML 1.0 cannot hold. */
static void xml(mi_buf *b, const char *s)
{
    if (!s)
        return;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '<':
            mi_buf_adds(b, "&lt;");
            break;
        case '>':
            mi_buf_adds(b, "&gt;");
            break;
        case '&':
            mi_buf_adds(b, "&amp;");
            break;
        case '"':
            mi_buf_adds(b, "&quot;");
            break;
        case '\'':
            mi_buf_adds(b, "&apos;");
            break;
        default:
            if (*p < 0x20 && *p != '\t' && *p != '\n')
                break;
            mi_buf_addch(b, (char)*p);
        }
    }
}

struct junit_ctx {
    mi_buf *b;
    const struct mi_policy_feature *feature;
    size_t tests, failures, skipped;
    int count_only;
};

static void junit_scenario(void *ctx, const struct mi_policy_feature *f,
                           const struct mi_policy_item *it, const struct mi_policy_scenario *s)
{
    (void)it;
    struct junit_ctx *c = ctx;
    if (f != c->feature)
        return;
    c->tests++;
    if (s->state == MI_POLICY_FAILED)
        c->failures++;
    else if (s->state != MI_POLICY_PASSED)
        c->skipped++;
    if (c->count_only)
        return;
    mi_buf *b = c->b;
    mi_buf_adds(b, "    <testcase classname=\"");
    xml(b, f->path);
    mi_buf_adds(b, "\" name=\"");
    xml(b, s->name);
    mi_buf_adds(b, "\" file=\"");
    xml(b, f->path);
    mi_buf_addf(b, "\" line=\"%d\" time=\"0\">\n", mi_policy_scenario_line(s));
    if (s->state == MI_POLICY_FAILED) {
        const char *first = NULL;
        for (size_t i = 0; i < s->nfailures && !first; i++)
            if (!s->failures[i].warning)
                first = s->failures[i].message;
        mi_buf_adds(b, "      <failure type=\"policy\" message=\"");
        xml(b, first ? first : "failed");
        mi_buf_adds(b, "\">");
        for (size_t i = 0; i < s->nfailures; i++) {
            const struct mi_policy_failure *fl = &s->failures[i];
            if (fl->warning)
                continue;
            xml(b, fl->message);
            if (fl->address) {
                mi_buf_adds(b, " [resource: ");
                xml(b, fl->address);
                mi_buf_adds(b, "]");
            }
            if (fl->value) {
                mi_buf_adds(b, " [value: ");
                xml(b, fl->value);
                mi_buf_adds(b, "]");
            }
            mi_buf_addf(b, " (%s:%d)\n", f->path, fl->line);
        }
        mi_buf_adds(b, "</failure>\n");
    } else if (s->state != MI_POLICY_PASSED) {
        const char *why = mi_policy_scenario_skip_reason(s);
        mi_buf_adds(b, "      <skipped message=\"");
        xml(b, why ? why : "skipped");
        mi_buf_adds(b, "\"/>\n");
    }
    int warn = 0;
    for (size_t i = 0; i < s->nfailures; i++) {
        if (!s->failures[i].warning)
            continue;
        if (!warn)
            mi_buf_adds(b, "      <system-out>");
        warn = 1;
        mi_buf_adds(b, "warning: ");
        xml(b, s->failures[i].message);
        mi_buf_addch(b, '\n');
    }
    if (warn)
        mi_buf_adds(b, "</system-out>\n");
    mi_buf_adds(b, "    </testcase>\n");
}

static void render_junit(mi_buf *b, const struct mi_policy_render_input *in)
{
    const struct mi_policy_result *r = in->result;
    const struct mi_window_report *w = in->windows;
    int windows = w && w->evaluated;
    size_t tests = r ? r->scenario_counts.total : 0;
    size_t failures = r ? r->scenario_counts.failed : 0;
    size_t skipped = r ? r->scenario_counts.skipped + r->scenario_counts.untested : 0;
    if (windows) {
        tests++;
        failures += w->open ? 0 : 1;
    }
    mi_buf_adds(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    mi_buf_addf(b,
                "<testsuites name=\"mlinfra check\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" "
                "skipped=\"%zu\">\n",
                tests, failures, skipped);
    for (size_t f = 0; r && f < r->nfeatures; f++) {
        const struct mi_policy_feature *ft = &r->features[f];
        struct junit_ctx c = {b, ft, 0, 0, 0, 1};
        mi_policy_result_foreach(r, junit_scenario, &c);
        mi_buf_adds(b, "  <testsuite name=\"");
        xml(b, ft->name);
        mi_buf_adds(b, "\" file=\"");
        xml(b, ft->path);
        mi_buf_addf(b, "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\">\n", c.tests,
                    c.failures, c.skipped);
        c.count_only = 0;
        c.tests = c.failures = c.skipped = 0;
        mi_policy_result_foreach(r, junit_scenario, &c);
        mi_buf_adds(b, "  </testsuite>\n");
    }
    if (windows) {
        mi_buf_addf(b, "  <testsuite name=\"change windows\" file=\"");
        xml(b, w->path);
        mi_buf_addf(b, "\" tests=\"1\" failures=\"%d\" errors=\"0\" skipped=\"0\">\n",
                    w->open ? 0 : 1);
        mi_buf_adds(b, "    <testcase classname=\"change-windows\" name=\"");
        xml(b, w->environment);
        mi_buf_adds(b, "\" time=\"0\">\n");
        if (!w->open) {
            mi_buf t = MI_BUF_INIT;
            windows_lines(&t, w, in->window_zone, "");
            mi_buf_adds(b, "      <failure type=\"change-window\" message=\"");
            xml(b, w->nhits ? w->hits[0].message : "change window closed");
            mi_buf_adds(b, "\">");
            xml(b, t.ptr);
            mi_buf_adds(b, "</failure>\n");
            mi_buf_release(&t);
        }
        mi_buf_adds(b, "    </testcase>\n  </testsuite>\n");
    }
    mi_buf_adds(b, "</testsuites>\n");
}

void mi_policy_render(mi_buf *out, enum mi_policy_format format,
                      const struct mi_policy_render_input *in)
{
    switch (format) {
    case MI_POLICY_FORMAT_JSON:
        render_json(out, in);
        break;
    case MI_POLICY_FORMAT_JUNIT:
        render_junit(out, in);
        break;
    case MI_POLICY_FORMAT_TFC:
        render_tfc(out, in);
        break;
    default:
        render_text(out, in);
        break;
    }
}
