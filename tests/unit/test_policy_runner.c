/* policy: the scenario runner (radish's rules as terraform-compliance runs them): backgrounds,
 * preconditions, what happens to the steps after a failure or a skip, counting, loops, the
 * renamed failure header, and in-step variables. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "policy/plan.h"
#include "policy/policy.h"
#include "testsupport.h"
#include "util/error.h"

static mi_plan *plan;

static void setup(void)
{
    char *path = mi_test_path("tests/fixtures/policy/patterns-plan.json");
    cr_assert_eq(mi_plan_load_file(&plan, path), 0, "%s", mi_error_last());
    free(path);
}

static void teardown(void)
{
    mi_plan_free(plan);
}

TestSuite(policy_runner, .init = setup, .fini = teardown);

static struct mi_policy_result *run(const char *text, const struct mi_policy_options *o)
{
    struct mi_policy_set *set = NULL;
    cr_assert_eq(mi_policy_load_text(&set, "r.feature", text, strlen(text)), 0, "%s",
                 mi_error_last());
    struct mi_policy_result *r = NULL;
    cr_assert_eq(mi_policy_evaluate(&r, set, plan, o), 0);
    mi_policy_set_free(set);
    return r;
}

Test(policy_runner, background_runs_in_every_scenario_and_is_not_counted)
{
    struct mi_policy_result *r = run("Feature: f\n"
                                     "  Background: buckets\n"
                                     "    Given I have aws_s3_bucket defined\n"
                                     "  Scenario: a\n"
                                     "    Then it must contain acl\n"
                                     "  Scenario: b\n"
                                     "    Then it must contain bucket\n",
                                     NULL);
    cr_assert_eq(r->scenario_counts.passed, 2);
    cr_assert_eq(r->step_counts.total, 2, "background steps are not the scenarios' own");
    const struct mi_policy_scenario *a = r->features[0].items[0].scenario;
    cr_assert_eq(a->nsteps, 2);
    cr_assert(a->steps[0].background);
    cr_assert_eq(a->steps[0].state, MI_POLICY_PASSED);
    mi_policy_result_free(r);
}

Test(policy_runner, after_a_failure_steps_are_skipped_after_a_skip_untested)
{
    struct mi_policy_result *r = run("Feature: f\n"
                                     "  Scenario: fails\n"
                                     "    Given I have aws_s3_bucket defined\n"
                                     "    Then it must contain website\n"
                                     "    And it must contain acl\n"
                                     "  Scenario: skips\n"
                                     "    Given I have aws_lambda_function defined\n"
                                     "    Then it must contain acl\n",
                                     NULL);
    const struct mi_policy_scenario *f = r->features[0].items[0].scenario;
    const struct mi_policy_scenario *s = r->features[0].items[1].scenario;
    cr_assert_eq(f->state, MI_POLICY_FAILED);
    cr_assert_eq(f->steps[1].state, MI_POLICY_FAILED);
    cr_assert_str_eq(f->steps[1].error_name, "Failure");
    cr_assert_eq(f->steps[2].state, MI_POLICY_SKIPPED);
    cr_assert_eq(s->state, MI_POLICY_SKIPPED);
    cr_assert_eq(s->steps[0].state, MI_POLICY_SKIPPED);
    cr_assert_eq(s->steps[1].state, MI_POLICY_UNTESTED);
    cr_assert_eq(r->feature_counts.failed, 1, "a feature takes its first scenario's state");
    cr_assert_eq(r->step_counts.untested, 1);
    mi_policy_result_free(r);
}

Test(policy_runner, preconditions_run_first_and_are_not_counted)
{
    struct mi_policy_result *r = run("Feature: f\n"
                                     "  Scenario: base\n"
                                     "    Given I have aws_s3_bucket defined\n"
                                     "  @precondition(r.feature: base)\n"
                                     "  Scenario: uses\n"
                                     "    Then it must contain acl\n",
                                     NULL);
    const struct mi_policy_scenario *u = r->features[0].items[1].scenario;
    cr_assert_eq(u->state, MI_POLICY_PASSED);
    cr_assert_eq(u->nsteps, 2);
    cr_assert_eq(u->steps[0].counted, 0);
    cr_assert_eq(r->step_counts.total, 2);
    mi_policy_result_free(r);
}

Test(policy_runner, the_failure_header_can_be_renamed)
{
    struct mi_policy_options o = {0};
    o.error_name = "PolicyViolation";
    struct mi_policy_result *r = run("Feature: f\n  Scenario: s\n"
                                     "    Given I have aws_s3_bucket defined\n"
                                     "    Then it must contain website\n",
                                     &o);
    cr_assert_str_eq(r->features[0].items[0].scenario->steps[1].error_name, "PolicyViolation");
    mi_policy_result_free(r);
}

Test(policy_runner, scenario_loops_run_each_iteration)
{
    struct mi_policy_result *r = run("Feature: f\n  Scenario Loop 3: l\n"
                                     "    Given I have aws_s3_bucket defined\n"
                                     "    Then it must contain acl\n",
                                     NULL);
    const struct mi_policy_item *it = &r->features[0].items[0];
    cr_assert(it->is_loop);
    cr_assert_eq(it->nrows, 3);
    cr_assert_eq(r->scenario_counts.passed, 3);
    mi_policy_result_free(r);
}

Test(policy_runner, in_step_variables_index_and_slice)
{
    struct mi_policy_result *r =
        run("Feature: f\n"
            "  Scenario: whole\n"
            "    Given I have aws_s3_bucket defined\n"
            "    Then it must contain acl\n"
            "    Then it must be in {aws_s3_bucket.values.acl}\n"
            "  Scenario: sliced\n"
            "    Given I have aws_instance defined\n"
            "    Then it must contain ebs_block_device\n"
            "    Then it must contain device_name\n"
            "    Then it must be in {aws_instance.values.ebs_block_device.[0:].device_name}\n"
            "  Scenario: empty slice\n"
            "    Given I have aws_instance defined\n"
            "    Then it must contain ebs_block_device\n"
            "    Then it must contain device_name\n"
            "    Then it must be in {aws_instance.values.ebs_block_device.[4:2].device_name}\n",
            NULL);
    cr_assert_eq(r->features[0].items[0].scenario->state, MI_POLICY_PASSED);
    cr_assert_eq(r->features[0].items[1].scenario->state, MI_POLICY_PASSED);
    cr_assert_eq(r->features[0].items[2].scenario->state, MI_POLICY_FAILED);
    cr_assert(strstr(r->features[0].items[2].scenario->failures[0].message,
                     "does not cover selected resources"));
    mi_policy_result_free(r);
}

Test(policy_runner, results_outlive_the_set_and_the_plan)
{
    struct mi_policy_set *set = NULL;
    const char *text =
        "Feature: f\n  Scenario Outline: o <t>\n    Given I have aws_s3_bucket defined\n"
        "    Then it must contain <t>\n    Examples:\n      | t |\n      | acl |\n";
    cr_assert_eq(mi_policy_load_text(&set, "o.feature", text, strlen(text)), 0);
    struct mi_policy_result *r = NULL;
    cr_assert_eq(mi_policy_evaluate(&r, set, plan, NULL), 0);
    mi_policy_set_free(set);
    const struct mi_policy_scenario *row = &r->features[0].items[0].rows[0];
    cr_assert_str_eq(row->name, "o acl");
    cr_assert_eq(mi_policy_scenario_line(row), 7);
    cr_assert_str_eq(r->features[0].path, "o.feature");
    mi_policy_result_free(r);
}
