/* Fuzzes the .tf scanner that maps resource addresses to declarations (terraform/tfsource.h)
 * and the plan summary parser (terraform/plandiff.h): any bytes must scan or be refused
 * without a memory error; every block found must be findable by its own address and lie on
 * a line of the input; a summary that parses must write back to JSON that parses to the same
 * text. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "terraform/plandiff.h"
#include "terraform/tfsource.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct mi_tfsource *s = NULL;
    mi_tfsource_scan_text(&s, text, size, "fuzz.tf");
    int lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    for (size_t i = 0; i < s->len; i++) {
        if (s->blocks[i].line < 1 || s->blocks[i].line > lines)
            abort();
        /* Addresses with '[' are looked up without their keys, so only plain ones must
         * round-trip. */
        if (!strchr(s->blocks[i].address, '[') && !mi_tfsource_find(s, s->blocks[i].address))
            abort();
    }
    mi_tfsource_free(s);

    struct mi_plandiff_summary *sum = NULL;
    if (mi_plandiff_summary_parse(&sum, text, size, "fuzz") == 0) {
        mi_buf a = MI_BUF_INIT, b = MI_BUF_INIT;
        mi_plandiff_summary_to_json(&a, sum);
        struct mi_plandiff_summary *again = NULL;
        if (mi_plandiff_summary_parse(&again, a.ptr, a.len, "again") != 0)
            abort();
        mi_plandiff_summary_to_json(&b, again);
        if (strcmp(a.ptr, b.ptr) != 0)
            abort();
        struct mi_plandiff *d = NULL;
        mi_plandiff_compare(&d, sum, again);
        if (d->len != 0)
            abort();
        mi_plandiff_free(d);
        mi_plandiff_summary_free(again);
        mi_buf_release(&a);
        mi_buf_release(&b);
        mi_plandiff_summary_free(sum);
    }
    return 0;
}
