/*
 * applied.c - the comment's "Applied" section. See applied.h for the rules.
 */
#include "report/applied.h"

#include <string.h>

#include "report/comment.h"
#include "util/banned.h"

/* The end of terraform's output shown for a failed apply. */
#define ERROR_TAIL_MAX 20000
#define VALUE_MAX 300

static void code_span(mi_buf *out, const char *s, size_t len)
{
    size_t run = 0, best = 0;
    for (size_t i = 0; i < len; i++) {
        run = s[i] == '`' ? run + 1 : 0;
        if (run > best)
            best = run;
    }
    int pad = best > 0 || (len && (s[0] == '`' || s[len - 1] == '`'));
    for (size_t i = 0; i <= best; i++)
        mi_buf_addch(out, '`');
    if (pad)
        mi_buf_addch(out, ' ');
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '\n' || c == '\r')
            mi_buf_addch(out, ' ');
        else if (c == '|')
            mi_buf_adds(out, "\\|");
        else
            mi_buf_addch(out, c);
    }
    if (pad)
        mi_buf_addch(out, ' ');
    for (size_t i = 0; i <= best; i++)
        mi_buf_addch(out, '`');
}

static void plain(mi_buf *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '<')
            mi_buf_adds(out, "&lt;");
        else if (*s == '>')
            mi_buf_adds(out, "&gt;");
        else if (*s == '&')
            mi_buf_adds(out, "&amp;");
        else if (*s == '@')
            mi_buf_adds(out, "@\xe2\x80\x8b");
        else if (*s == '\n')
            mi_buf_addch(out, ' ');
        else
            mi_buf_addch(out, *s);
    }
}

void mi_report_applied_section(mi_buf *out, const struct mi_report_applied *in)
{
    mi_buf raw = MI_BUF_INIT;
    mi_buf_adds(&raw, "\n#### ");
    switch (in->result) {
    case MI_REPORT_APPLY_OK:
        mi_buf_adds(&raw, "✅ Applied");
        break;
    case MI_REPORT_APPLY_FAILED:
        mi_buf_adds(&raw, "❌ Apply failed");
        break;
    case MI_REPORT_APPLY_REFUSED:
        mi_buf_adds(&raw, "⛔ Not applied: the plan was refused");
        break;
    }
    if (in->environment) {
        mi_buf_adds(&raw, " to ");
        code_span(&raw, in->environment, strlen(in->environment));
    }
    mi_buf_adds(&raw, "\n\n");
    if (in->summary) {
        plain(&raw, in->summary);
        mi_buf_adds(&raw, "\n\n");
    }
    if (in->address) {
        mi_buf_adds(&raw, "**Service address:** ");
        code_span(&raw, in->address, strlen(in->address));
        mi_buf_adds(&raw, "\n\n");
    }
    mi_buf_adds(&raw, "| When | Plan id | Commit | Run |\n|---|---|---|---|\n| ");
    if (in->when)
        plain(&raw, in->when);
    mi_buf_adds(&raw, " | ");
    if (in->plan_id)
        code_span(&raw, in->plan_id, strlen(in->plan_id));
    mi_buf_adds(&raw, " | ");
    if (in->commit)
        code_span(&raw, in->commit, strlen(in->commit) > 12 ? 12 : strlen(in->commit));
    mi_buf_adds(&raw, " | ");
    if (in->run_url)
        mi_buf_addf(&raw, "[workflow run](%s)", in->run_url);
    mi_buf_adds(&raw, " |\n\n");
    if (in->outputs_len) {
        mi_buf_adds(&raw, "| Output | Value |\n|---|---|\n");
        for (size_t i = 0; i < in->outputs_len; i++) {
            const struct mi_report_output *o = &in->outputs[i];
            mi_buf_adds(&raw, "| ");
            code_span(&raw, o->name, strlen(o->name));
            mi_buf_adds(&raw, " | ");
            if (o->sensitive || !o->value) {
                mi_buf_adds(&raw, "_(sensitive)_");
            } else {
                size_t len = strlen(o->value);
                code_span(&raw, o->value, len > VALUE_MAX ? VALUE_MAX : len);
            }
            mi_buf_adds(&raw, " |\n");
        }
        mi_buf_addch(&raw, '\n');
    }
    if (in->error_text && in->error_text_len) {
        const char *s = in->error_text;
        size_t len = in->error_text_len;
        if (len > ERROR_TAIL_MAX) {
            s += len - ERROR_TAIL_MAX;
            len = ERROR_TAIL_MAX;
            const char *nl = memchr(s, '\n', len);
            if (nl) {
                len -= (size_t)(nl + 1 - s);
                s = nl + 1;
            }
        }
        size_t run = 0, best = 0;
        for (size_t i = 0; i < len; i++) {
            run = s[i] == '`' ? run + 1 : 0;
            if (run > best)
                best = run;
        }
        size_t ticks = best + 1 < 3 ? 3 : best + 1;
        mi_buf_adds(&raw, "<details open><summary>The end of terraform's output</summary>\n\n");
        for (size_t i = 0; i < ticks; i++)
            mi_buf_addch(&raw, '`');
        mi_buf_adds(&raw, "text\n");
        mi_buf_add(&raw, s, len);
        if (len && s[len - 1] != '\n')
            mi_buf_addch(&raw, '\n');
        for (size_t i = 0; i < ticks; i++)
            mi_buf_addch(&raw, '`');
        mi_buf_adds(&raw, "\n\n</details>\n\n");
    }
    if (in->extra)
        mi_buf_adds(&raw, in->extra);
    mi_buf_adds(out, MI_REPORT_APPLIED_BEGIN);
    mi_report_redact(out, raw.ptr, raw.len, in->secrets, in->secrets_len);
    mi_buf_adds(out, MI_REPORT_APPLIED_END "\n\n");
    mi_buf_release(&raw);
}

/* Removes [from, to) from b. */
static void cut(mi_buf *b, size_t from, size_t to)
{
    memmove(b->ptr + from, b->ptr + to, b->len - to);
    mi_buf_truncate(b, b->len - (to - from));
}

void mi_report_comment_with_applied(mi_buf *out, const char *body, const char *section,
                                    size_t max_bytes)
{
    size_t max = max_bytes ? max_bytes : MI_REPORT_COMMENT_MAX;
    mi_buf b = MI_BUF_INIT;
    mi_buf_adds(&b, body);

    /* An earlier section goes: this one replaces it. */
    char *begin = strstr(b.ptr, MI_REPORT_APPLIED_BEGIN);
    char *end = begin ? strstr(begin, MI_REPORT_APPLIED_END) : NULL;
    if (begin && end) {
        size_t to = (size_t)(end - b.ptr) + strlen(MI_REPORT_APPLIED_END);
        while (to < b.len && b.ptr[to] == '\n')
            to++;
        cut(&b, (size_t)(begin - b.ptr), to);
    }

    size_t slen = strlen(section);
    if (b.len + slen > max) {
        const char *open = "<details><summary>Output of <code>terraform plan</code>";
        char *d = strstr(b.ptr, open);
        char *close = d ? strstr(d, "</details>") : NULL;
        if (d && close) {
            size_t from = (size_t)(d - b.ptr);
            size_t to = (size_t)(close - b.ptr) + strlen("</details>");
            cut(&b, from, to);
            const char *note = "_The plan output was removed to make room for the apply "
                               "report; the plan run's log has it._";
            mi_buf tail = MI_BUF_INIT;
            mi_buf_adds(&tail, b.ptr + from);
            mi_buf_truncate(&b, from);
            mi_buf_adds(&b, note);
            mi_buf_add(&b, tail.ptr, tail.len);
            mi_buf_release(&tail);
        }
    }
    if (b.len + slen > max) {
        const char *note = "\n\n_(the plan report above was cut to fit GitHub's size limit)_\n\n";
        size_t keep = max > slen + strlen(note) ? max - slen - strlen(note) : 0;
        while (keep > 0 && b.ptr[keep - 1] != '\n')
            keep--;
        mi_buf_truncate(&b, keep);
        mi_buf_adds(&b, note);
    }

    /* The section goes right after the heading, where a reader looks first. */
    char *heading = strstr(b.ptr, "\n### ");
    char *after = heading ? strstr(heading + 1, "\n\n") : NULL;
    if (after) {
        size_t at = (size_t)(after - b.ptr) + 2;
        mi_buf_add(out, b.ptr, at);
        mi_buf_add(out, section, slen);
        mi_buf_add(out, b.ptr + at, b.len - at);
    } else {
        mi_buf_add(out, b.ptr, b.len);
        mi_buf_adds(out, "\n\n");
        mi_buf_add(out, section, slen);
    }
    mi_buf_release(&b);
}
