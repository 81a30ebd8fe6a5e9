/* Fuzzes the change model (terraform/changes.h) and the comment renderer (report/comment.h)
 * with arbitrary plan JSON: parsing must fail cleanly or give a model the renderer turns into
 * a comment within the size limit. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "report/comment.h"
#include "terraform/changes.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mi_tfplan *p = NULL;
    if (mi_tfplan_parse(&p, (const char *)data, size, "fuzz") < 0)
        return 0;
    struct mi_report_plan in = {0};
    in.environment = "dev";
    in.plan = p;
    in.plan_text = (const char *)data;
    in.plan_text_len = size;
    in.max_bytes = 4096;
    mi_buf out = MI_BUF_INIT;
    mi_report_plan_comment(&out, &in);
    if (out.len > 4096)
        abort();
    mi_buf_release(&out);
    mi_tfplan_free(p);
    return 0;
}
