/*
 * plandiff.c - "Changes since the previous plan" (plandiff.h).
 */
#include "report/plandiff.h"

#include <string.h>

#include "report/md.h"
#include "util/log.h"
#include "util/banned.h"

static void short_sha(mi_buf *out, const char *sha)
{
    size_t n = strlen(sha);
    mi_md_code(out, sha, n > 7 ? 7 : n, 0);
}

static void counted(mi_buf *out, int *first, size_t n, const char *what)
{
    if (!n)
        return;
    mi_buf_addf(out, "%s%zu %s", *first ? "" : ", ", n, what);
    *first = 0;
}

void mi_report_plandiff_section(mi_buf *out, const struct mi_plandiff *d, size_t max_rows)
{
    if (!max_rows)
        max_rows = MI_REPORT_PLANDIFF_ROWS;
    mi_buf s = MI_BUF_INIT;
    mi_buf_adds(&s, "### Changes since the previous plan\n\n");
    if (d->previous_head_sha) {
        mi_buf_adds(&s, "Compared with the plan of ");
        short_sha(&s, d->previous_head_sha);
        mi_buf_adds(&s, ": ");
    } else {
        mi_buf_adds(&s, "Compared with the previous plan: ");
    }
    if (d->len == 0) {
        mi_buf_adds(&s, "no difference - the same resources change, with the same actions.\n");
        goto out;
    }
    int first = 1;
    counted(&s, &first, d->added, "added to the change set");
    counted(&s, &first, d->dropped, "dropped from it");
    counted(&s, &first, d->changed, "with another action");
    mi_buf_adds(&s, ".\n\n| Resource | Before | Now |\n| --- | --- | --- |\n");
    size_t shown = d->len < max_rows ? d->len : max_rows;
    for (size_t i = 0; i < shown; i++) {
        const struct mi_plandiff_entry *e = &d->entries[i];
        mi_buf_adds(&s, "| ");
        if (e->is_output)
            mi_buf_adds(&s, "output ");
        mi_md_codes(&s, e->address, 1);
        mi_buf_adds(&s, " | ");
        mi_md_texts(&s, e->before ? e->before : "–", 1);
        mi_buf_adds(&s, " | ");
        if (e->after) {
            mi_buf_adds(&s, "**");
            mi_md_texts(&s, e->after, 1);
            mi_buf_adds(&s, "**");
        } else {
            mi_buf_adds(&s, "no change");
        }
        mi_buf_adds(&s, " |\n");
    }
    if (shown < d->len)
        mi_buf_addf(&s, "\n…and %zu more not listed.\n", d->len - shown);
out:
    mi_log_redact(out, s.ptr, s.len);
    mi_buf_release(&s);
}
