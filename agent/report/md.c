/*
 * md.c - markdown escaping for report sections (md.h).
 */
#include "report/md.h"

#include <string.h>

#include "util/banned.h"

static size_t longest_run(const char *s, size_t len, char c)
{
    size_t best = 0, run = 0;
    for (size_t i = 0; i < len; i++) {
        run = s[i] == c ? run + 1 : 0;
        if (run > best)
            best = run;
    }
    return best;
}

void mi_md_code(mi_buf *out, const char *s, size_t len, int cell)
{
    size_t ticks = longest_run(s, len, '`') + 1;
    for (size_t i = 0; i < ticks; i++)
        mi_buf_addch(out, '`');
    /* A space inside the fence keeps a leading or trailing backtick of the content from
     * joining the fence; GFM strips one space on each side. */
    int pad = ticks > 1 || (len && (s[0] == '`' || s[len - 1] == '`'));
    if (pad)
        mi_buf_addch(out, ' ');
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '\n' || c == '\r' || c == '\t')
            mi_buf_addch(out, ' ');
        else if (c == '|' && cell)
            mi_buf_adds(out, "\\|");
        else
            mi_buf_addch(out, c);
    }
    if (pad)
        mi_buf_addch(out, ' ');
    for (size_t i = 0; i < ticks; i++)
        mi_buf_addch(out, '`');
}

void mi_md_codes(mi_buf *out, const char *s, int cell)
{
    mi_md_code(out, s ? s : "", s ? strlen(s) : 0, cell);
}

void mi_md_text(mi_buf *out, const char *s, size_t len, int cell)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        switch (c) {
        case '<':
            mi_buf_adds(out, "&lt;");
            break;
        case '>':
            mi_buf_adds(out, "&gt;");
            break;
        case '&':
            mi_buf_adds(out, "&amp;");
            break;
        case '|':
            mi_buf_adds(out, cell ? "\\|" : "|");
            break;
        case '\r':
            break;
        case '\n':
            mi_buf_adds(out, cell ? "<br>" : " ");
            break;
        case '@':
            /* A zero-width space after '@' keeps GitHub from notifying someone. */
            mi_buf_adds(out, "@\xe2\x80\x8b");
            break;
        case '[':
        case ']':
        case '*':
        case '_':
        case '`':
        case '\\':
        case '#':
        case '~':
            mi_buf_addch(out, '\\');
            mi_buf_addch(out, c);
            break;
        default:
            mi_buf_addch(out, c);
        }
    }
}

void mi_md_texts(mi_buf *out, const char *s, int cell)
{
    mi_md_text(out, s ? s : "", s ? strlen(s) : 0, cell);
}
