/*
 * bench_render - time to parse and render the PR comment of a generated plan with N resource
 * changes (tests/support/plangen.h), median of R runs, in-process.
 *
 *     bench_render N R     prints "changes=N json_bytes=... parse_ms=... render_ms=...
 * comment_bytes=..."
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "plangen.h"
#include "report/comment.h"
#include "terraform/changes.h"
#include "util/error.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
    int runs = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 9;
    mi_buf json = MI_BUF_INIT, text = MI_BUF_INIT;
    mi_test_plan_generate(&json, n, "bench-secret", NULL);
    /* terraform's own plan text for that many changes: about 12 lines per resource. */
    for (size_t i = 0; i < n; i++)
        mi_buf_addf(&text,
                    "\n  # module.m%zu.azurerm_storage_container.c[%zu] will be created\n"
                    "  + resource \"azurerm_storage_container\" \"c\" {\n"
                    "      + container_access_type = \"private\"\n"
                    "      + id                    = (known after apply)\n"
                    "      + metadata              = {\n"
                    "          + \"rev\"  = \"1\"\n"
                    "          + \"team\" = \"ml\"\n"
                    "        }\n"
                    "      + name                  = \"c-%zu\"\n"
                    "    }\n",
                    i % 5, i, i);
    double *parse = calloc((size_t)runs, sizeof(double));
    double *render = calloc((size_t)runs, sizeof(double));
    size_t comment_bytes = 0;
    for (int r = 0; r < runs; r++) {
        double t0 = now_ms();
        struct mi_tfplan *p = NULL;
        if (mi_tfplan_parse(&p, json.ptr, json.len, "generated") < 0) {
            fprintf(stderr, "%s\n", mi_error_last());
            return 1;
        }
        double t1 = now_ms();
        struct mi_report_plan in = {0};
        in.environment = "production";
        in.plan = p;
        in.plan_text = text.ptr;
        in.plan_text_len = text.len;
        mi_buf out = MI_BUF_INIT;
        mi_report_plan_comment(&out, &in);
        double t2 = now_ms();
        parse[r] = t1 - t0;
        render[r] = t2 - t1;
        comment_bytes = out.len;
        mi_buf_release(&out);
        mi_tfplan_free(p);
    }
    qsort(parse, (size_t)runs, sizeof(double), cmp_double);
    qsort(render, (size_t)runs, sizeof(double), cmp_double);
    printf("changes=%zu json_bytes=%zu plan_text_bytes=%zu parse_ms=%.1f render_ms=%.1f "
           "comment_bytes=%zu\n",
           n, json.len, text.len, parse[runs / 2], render[runs / 2], comment_bytes);
    free(parse);
    free(render);
    mi_buf_release(&json);
    mi_buf_release(&text);
    return 0;
}
