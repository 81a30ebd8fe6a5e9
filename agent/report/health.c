/*
 * health.c - markdown and log lines for health check results (health.h).
 */
#include "report/health.h"

#include <string.h>

#include "report/md.h"
#include "util/log.h"
#include "util/banned.h"

static void add_duration(mi_buf *out, long ms)
{
    if (ms < 10000)
        mi_buf_addf(out, "%ld ms", ms);
    else
        mi_buf_addf(out, "%ld s", (ms + 500) / 1000);
}

static void add_tries(mi_buf *out, int n)
{
    mi_buf_addf(out, "%d %s", n, n == 1 ? "try" : "tries");
}

void mi_report_health_line(mi_buf *out, const struct mi_probe_result *r)
{
    mi_buf tmp = MI_BUF_INIT;
    mi_buf_addf(&tmp, "%s: ", r->url ? r->url : "(no address)");
    if (r->reachable) {
        mi_buf_addf(&tmp, "reachable (HTTP %ld, ", r->status);
        add_duration(&tmp, r->latency_ms);
        mi_buf_adds(&tmp, ", ");
        add_tries(&tmp, r->attempts);
        mi_buf_addch(&tmp, ')');
    } else {
        mi_buf_adds(&tmp, "not reachable after ");
        add_tries(&tmp, r->attempts);
        mi_buf_adds(&tmp, " in ");
        add_duration(&tmp, r->elapsed_ms);
        if (r->timed_out)
            mi_buf_adds(&tmp, " (time limit reached)");
        if (r->error)
            mi_buf_addf(&tmp, ": %s", r->error);
    }
    mi_log_redact(out, tmp.ptr, tmp.len);
    mi_buf_release(&tmp);
}

void mi_report_health_section(mi_buf *out, const struct mi_report_health *rows, size_t n)
{
    mi_buf s = MI_BUF_INIT;
    size_t failed = 0, failed_required = 0;
    mi_buf_adds(&s, "### Health check\n\n");
    if (n == 0) {
        mi_buf_adds(&s, "No service address to probe.\n");
        goto out;
    }
    mi_buf_adds(&s, "| Service | Address | Result | Status | Latency | Tries |\n"
                    "| --- | --- | --- | --- | --- | --- |\n");
    for (size_t i = 0; i < n; i++) {
        const struct mi_probe_result *r = rows[i].result;
        mi_buf_adds(&s, "| ");
        mi_md_codes(&s, rows[i].name ? rows[i].name : "service", 1);
        mi_buf_adds(&s, " | ");
        mi_md_codes(&s, r->url ? r->url : "", 1);
        mi_buf_adds(&s, " | ");
        if (r->reachable) {
            mi_buf_adds(&s, "✅ reachable");
        } else {
            failed++;
            failed_required += rows[i].required != 0;
            mi_buf_adds(&s, "❌ not reachable");
            if (r->timed_out)
                mi_buf_adds(&s, " (time limit reached)");
            if (r->error) {
                mi_buf_adds(&s, ": ");
                mi_md_texts(&s, r->error, 1);
            }
        }
        mi_buf_adds(&s, " | ");
        if (r->status)
            mi_buf_addf(&s, "%ld", r->status);
        else
            mi_buf_adds(&s, "no answer");
        mi_buf_adds(&s, " | ");
        if (r->reachable)
            add_duration(&s, r->latency_ms);
        else
            mi_buf_adds(&s, "–");
        mi_buf_addf(&s, " | %d |\n", r->attempts);
    }
    if (failed_required)
        mi_buf_addf(&s,
                    "\n**The health check failed the job:** %zu required service%s did not "
                    "answer (`health_check.fail_on_unreachable`).\n",
                    failed_required, failed_required == 1 ? "" : "s");
    else if (failed)
        mi_buf_adds(&s, "\nAn unreachable service does not fail the job "
                        "(`health_check.fail_on_unreachable` is off).\n");
out:
    mi_log_redact(out, s.ptr, s.len);
    mi_buf_release(&s);
}
