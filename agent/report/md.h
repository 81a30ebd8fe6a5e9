/*
 * md.h - escaping text from outside for GitHub flavoured markdown: the one set of rules for
 * every report section (the PR comment, the health check, changes since the previous plan):
 *
 *  - mi_md_code writes a code span whose fence is longer than any run of backticks in the
 *    content; newlines and tabs become spaces; in a table cell pipes are escaped (GFM removes
 *    the backslash inside code spans in tables).
 *  - mi_md_text writes free text with HTML, emphasis, links and headings neutralised, and a
 *    zero-width space after '@' so no one is notified; in a table cell pipes are escaped and
 *    newlines become <br>, outside one newlines become spaces.
 *
 * Appends to a caller-owned mi_buf; cannot fail; never prints.
 */
#ifndef MI_REPORT_MD_H
#define MI_REPORT_MD_H

#include <stddef.h>

#include "util/buf.h"

void mi_md_code(mi_buf *out, const char *s, size_t len, int cell);
void mi_md_codes(mi_buf *out, const char *s, int cell);
void mi_md_text(mi_buf *out, const char *s, size_t len, int cell);
void mi_md_texts(mi_buf *out, const char *s, int cell);

#endif
