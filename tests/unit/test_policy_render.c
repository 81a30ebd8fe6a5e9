/* policy: the report formats (render.h): JSON that parses and carries every scenario's
 * result, JUnit XML with the right counts, the text summary, terraform-compliance's
 * transcript, and the change-window verdict in each. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "policy/plan.h"
#include "policy/policy.h"
#include "policy/render.h"
#include "policy/window.h"
#include "testsupport.h"
#include "util/buf.h"
#include "util/error.h"

static mi_plan *plan;
static struct mi_policy_set *set;
static struct mi_policy_result *result;
static struct mi_window_set *windows;
static struct mi_window_report report;

static const char *feature = "Feature: Buckets <&> \"quotes\"\n"
                             "  Scenario: acl is private\n"
                             "    Given I have aws_s3_bucket defined\n"
                             "    Then it must contain acl\n"
                             "    And its value must be private\n"
                             "  Scenario: lambdas\n"
                             "    Given I have aws_lambda_function defined\n"
                             "    Then it must fail\n"
                             "  @warning\n"
                             "  Scenario: warned\n"
                             "    Given I have aws_instance defined\n"
                             "    Then it must contain user_data\n"
                             "  Scenario Outline: tag <t>\n"
                             "    Given I have aws_s3_bucket defined\n"
                             "    Then it must contain tags\n"
                             "    And it must contain <t>\n"
                             "    Examples:\n"
                             "      | t    |\n"
                             "      | Name |\n";

static void setup(void)
{
    char *path = mi_test_path("tests/fixtures/policy/patterns-plan.json");
    cr_assert_eq(mi_plan_load_file(&plan, path), 0, "%s", mi_error_last());
    free(path);
    cr_assert_eq(mi_policy_load_text(&set, "p/b.feature", feature, strlen(feature)), 0, "%s",
                 mi_error_last());
    cr_assert_eq(mi_policy_evaluate(&result, set, plan, NULL), 0);
    const char *cw = "timezone: Europe/Amsterdam\nwindows:\n  - name: no-friday\n    days: [fri]\n"
                     "    message: Not on <Fridays>.\n";
    cr_assert_eq(mi_window_parse(&windows, "p/change-windows.yml", cw, strlen(cw)), 0);
    int64_t t;
    mi_window_parse_instant(&t, "2025-11-21T10:00:00Z");
    cr_assert_eq(mi_window_evaluate(&report, windows, "production", t), 0);
}

static void teardown(void)
{
    mi_window_report_release(&report);
    mi_window_set_free(windows);
    mi_policy_result_free(result);
    mi_policy_set_free(set);
    mi_plan_free(plan);
}

static void render(enum mi_policy_format f, mi_buf *out)
{
    struct mi_policy_render_input in = {result, &report, "plan.json", "p", "Europe/Amsterdam"};
    mi_policy_render(out, f, &in);
}

TestSuite(policy_render, .init = setup, .fini = teardown);

Test(policy_render, results_are_counted)
{
    cr_assert_eq(result->scenario_counts.total, 4);
    cr_assert_eq(result->scenario_counts.passed, 1, "the outline row");
    cr_assert_eq(result->scenario_counts.failed, 1);
    cr_assert_eq(result->scenario_counts.skipped, 2, "the lambdas and the warned scenario");
    cr_assert_eq(result->violations, 1);
    cr_assert_eq(result->warnings, 1);
}

Test(policy_render, json_parses_and_carries_everything)
{
    mi_buf out = MI_BUF_INIT;
    render(MI_POLICY_FORMAT_JSON, &out);
    json_error_t err;
    json_t *doc = json_loads(out.ptr, 0, &err);
    cr_assert_not_null(doc, "%s at %d:%d\n%s", err.text, err.line, err.column, out.ptr);
    cr_assert(json_is_false(json_object_get(doc, "passed")));
    json_t *sc = json_object_get(doc, "scenarios");
    cr_assert_eq(json_array_size(sc), 4);
    json_t *first = json_array_get(sc, 0);
    cr_assert_str_eq(json_string_value(json_object_get(first, "status")), "failed");
    cr_assert_str_eq(json_string_value(json_object_get(first, "feature")), "p/b.feature");
    cr_assert_eq(json_integer_value(json_object_get(first, "line")), 2);
    json_t *f0 = json_array_get(json_object_get(first, "failures"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(f0, "address")), "aws_s3_bucket.b");
    cr_assert_str_eq(json_string_value(json_object_get(f0, "value")), "public-read");
    cr_assert_eq(json_integer_value(json_object_get(f0, "line")), 5);
    json_t *skipped = json_array_get(sc, 1);
    cr_assert(
        strstr(json_string_value(json_object_get(skipped, "skip_reason")), "aws_lambda_function"));
    json_t *warned = json_array_get(sc, 2);
    cr_assert_eq(json_array_size(json_object_get(warned, "warnings")), 1);
    cr_assert_eq(json_array_size(json_object_get(warned, "failures")), 0);
    json_t *row = json_array_get(sc, 3);
    cr_assert_eq(json_integer_value(json_object_get(row, "line")), 19, "the Examples row");
    json_t *cw = json_object_get(doc, "change_windows");
    cr_assert(json_is_false(json_object_get(cw, "open")));
    cr_assert_str_eq(json_string_value(json_object_get(cw, "opens_at")), "2025-11-21T23:00:00Z");
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(cw, "closed_by"), 0), "message")),
                     "Not on <Fridays>.");
    json_decref(doc);
    mi_buf_release(&out);
}

Test(policy_render, junit_has_a_testcase_per_scenario)
{
    mi_buf out = MI_BUF_INIT;
    render(MI_POLICY_FORMAT_JUNIT, &out);
    cr_assert(strstr(out.ptr, "<testsuites name=\"mlinfra check\" tests=\"5\" failures=\"2\""),
              "%s", out.ptr);
    cr_assert(strstr(out.ptr, "name=\"Buckets &lt;&amp;&gt; &quot;quotes&quot;\""), "%s", out.ptr);
    size_t cases = 0;
    for (const char *p = out.ptr; (p = strstr(p, "<testcase ")); p++)
        cases++;
    cr_assert_eq(cases, 5, "four scenarios and the change window");
    cr_assert(strstr(out.ptr, "<skipped message=\"Can not find aws_lambda_function"), "%s",
              out.ptr);
    cr_assert(strstr(out.ptr, "[value: public-read]"));
    cr_assert(strstr(out.ptr, "Not on &lt;Fridays&gt;."));
    cr_assert_null(strchr(out.ptr, '\b'), "no control characters in XML");
    mi_buf_release(&out);
}

Test(policy_render, text_names_files_lines_and_windows)
{
    mi_buf out = MI_BUF_INIT;
    render(MI_POLICY_FORMAT_TEXT, &out);
    cr_assert(strstr(out.ptr, "FAIL  p/b.feature:2  acl is private"), "%s", out.ptr);
    cr_assert(strstr(out.ptr, "resource: aws_s3_bucket.b  value: public-read"), "%s", out.ptr);
    cr_assert(strstr(out.ptr, "WARN  p/b.feature:10  warned"), "%s", out.ptr);
    cr_assert(strstr(out.ptr, "1 passed, 1 failed, 2 skipped, 1 warning"), "%s", out.ptr);
    cr_assert(strstr(out.ptr, "CLOSED"), "%s", out.ptr);
    cr_assert(strstr(out.ptr, "opens again at 2025-11-22T00:00:00+01:00 (2025-11-21T23:00:00Z)"),
              "%s", out.ptr);
    mi_buf_release(&out);
}

Test(policy_render, terraform_compliance_transcript)
{
    mi_buf out = MI_BUF_INIT;
    render(MI_POLICY_FORMAT_TFC, &out);
    cr_assert(strstr(out.ptr, "Feature: Buckets <&> \"quotes\"  # p/b.feature\n"), "%s", out.ptr);
    cr_assert(strstr(out.ptr, "          Failure: acl property in aws_s3_bucket.b resource does "
                              "not match with ^private$ case insensitive regex. It is set to "
                              "public-read.\n"),
              "%s", out.ptr);
    cr_assert(strstr(out.ptr, "\t\twarning: aws_instance.web (aws_instance) does not have "
                              "user_data property.\n"),
              "%s", out.ptr);
    cr_assert(strstr(out.ptr, "\n    Examples:\n        | t    |\n        | Name |\n"), "%s",
              out.ptr);
    cr_assert(strstr(out.ptr, "4 scenarios (1 passed, 1 failed, 2 skipped)\n"), "%s", out.ptr);
    mi_buf_release(&out);
}

Test(policy_render, formats_parse)
{
    cr_assert_eq(mi_policy_format_parse("json"), MI_POLICY_FORMAT_JSON);
    cr_assert_eq(mi_policy_format_parse("terraform-compliance"), MI_POLICY_FORMAT_TFC);
    cr_assert_eq(mi_policy_format_parse("sarif"), -1);
}
