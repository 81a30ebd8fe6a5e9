/*
 * health.h - the health check's results (remote/probe.h) as markdown for the job summary and
 * the PR comment's "Applied" section, and as one plain line for the log.
 *
 * Rules:
 *  - Inputs are borrowed; everything is appended to a caller-owned mi_buf. Cannot fail.
 *  - Addresses and error texts are escaped for the table (report/md.h) and every value
 *    registered with mi_log_mask (util/log.h) is replaced by "***" in what is appended.
 *  - Nothing here prints, probes or reads the environment.
 */
#ifndef MI_REPORT_HEALTH_H
#define MI_REPORT_HEALTH_H

#include <stddef.h>

#include "remote/probe.h"
#include "util/buf.h"

struct mi_report_health {
    const char *name; /* what was probed, e.g. the output "mlflow_url"; NULL: "service" */
    const struct mi_probe_result *result;
    int required; /* an unreachable service fails the job (health_check.fail_on_unreachable) */
};

/* "### Health check", a table with one row per probe (service, URL, result, status,
 * latency, tries, and why it failed), and a line saying whether a failure fails the job. */
void mi_report_health_section(mi_buf *out, const struct mi_report_health *rows, size_t n);

/* "http://x/health: reachable (HTTP 200, 85 ms, 3 tries)" or
 * "http://x/health: not reachable after 10 tries in 62 s (HTTP 500: ...)". */
void mi_report_health_line(mi_buf *out, const struct mi_probe_result *r);

#endif
