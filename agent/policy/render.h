/*
 * render.h - the policy results (policy.h) and change-window report (window.h) as text:
 *
 *   text                  for people: one line per scenario, failures with addresses and values
 *   json                  for tools: every scenario, failure, warning and skip, and the windows
 *   junit                 JUnit XML: a testsuite per feature, a testcase per scenario
 *   terraform-compliance  the console transcript terraform-compliance (radish, --no-ansi)
 *                         prints, line for line, for tools that parse it
 *
 * Rules: rendering only appends to the caller's buffer; it never prints, never fails, and
 * reads the results without changing them. Paths are shown as given.
 */
#ifndef MI_POLICY_RENDER_H
#define MI_POLICY_RENDER_H

#include "policy/policy.h"
#include "policy/window.h"
#include "util/buf.h"

enum mi_policy_format {
    MI_POLICY_FORMAT_TEXT = 0,
    MI_POLICY_FORMAT_JSON,
    MI_POLICY_FORMAT_JUNIT,
    MI_POLICY_FORMAT_TFC,
};

/* "text", "json", "junit", "terraform-compliance"; -1 for anything else. */
int mi_policy_format_parse(const char *name);

struct mi_policy_render_input {
    const struct mi_policy_result *result;  /* NULL: no policies were evaluated */
    const struct mi_window_report *windows; /* NULL or not evaluated: no windows */
    const char *plan_path;
    const char *policies_path;
    const char *window_zone; /* time zone to show "opens again" in, NULL: UTC */
};

void mi_policy_render(mi_buf *out, enum mi_policy_format format,
                      const struct mi_policy_render_input *in);

#endif
