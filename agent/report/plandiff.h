/*
 * plandiff.h - the PR comment's short "Changes since the previous plan" section, from the
 * difference of two plan summaries (terraform/plandiff.h).
 *
 * Rules:
 *  - Input is borrowed; the section is appended to a caller-owned mi_buf. Cannot fail.
 *  - At most max_rows rows are listed (default MI_REPORT_PLANDIFF_ROWS) and the rest counted,
 *    so the section stays short whatever the plans: the comment's size budget is for the plan.
 *  - Addresses are escaped for table cells (report/md.h); values registered with mi_log_mask
 *    are replaced by "***".
 *  - Nothing here prints or reads the environment.
 */
#ifndef MI_REPORT_PLANDIFF_H
#define MI_REPORT_PLANDIFF_H

#include <stddef.h>

#include "terraform/plandiff.h"
#include "util/buf.h"

#define MI_REPORT_PLANDIFF_ROWS 30

/* "### Changes since the previous plan", one sentence with the counts and the commits
 * compared, and a table Resource | Before | Now; "no difference" in one line when the change
 * sets are equal. max_rows 0: the default. */
void mi_report_plandiff_section(mi_buf *out, const struct mi_plandiff *d, size_t max_rows);

#endif
