/* Fuzzes the plan loader with arbitrary bytes as `terraform show -json` output: the streaming
 * JSON reader (nesting limit, escapes, numbers), the model builder (resources, mounting of
 * references, modules, outputs, jsonified strings) and, when a model comes out, an evaluation
 * of a fixed policy set that touches every kind of step. Any input must give a model or an
 * error, and an evaluation, without a memory error, a leak or a hang. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "policy/plan.h"
#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char policies[] = "Feature: fuzz\n"
                               "  Scenario: a\n"
                               "    Given I have resource that supports tags defined\n"
                               "    When it has tags\n"
                               "    Then it must contain tags\n"
                               "    And its value must not be null\n"
                               "  Scenario: b\n"
                               "    Given I have any resource defined\n"
                               "    When its actions metadata has create\n"
                               "    Then it must contain name\n"
                               "    And its value must match the \"^[a-z].*\" regex\n"
                               "  Scenario: c\n"
                               "    Given I have aws_security_group defined\n"
                               "    When it contains ingress\n"
                               "    Then it must not have tcp protocol and port 22 for 0.0.0.0/0\n"
                               "  Scenario: d\n"
                               "    Given I have aws provider configured\n"
                               "    When it contains region\n"
                               "    Then its value must be eu-west-1\n"
                               "  Scenario: e\n"
                               "    Given I have any resource defined\n"
                               "    When I count them\n"
                               "    Then I expect the result is less than 100\n"
                               "  Scenario: f\n"
                               "    Given I have any output defined\n"
                               "    Then it must contain value\n"
                               "    And its value must contain x\n"
                               "  Scenario: g\n"
                               "    Given I have any resource defined\n"
                               "    When its values reference is aws_s3_bucket.a\n"
                               "    Then it must have \"aws.*\" referenced\n"
                               "  Scenario: h\n"
                               "    Given I have any resource defined\n"
                               "    Then it must contain name\n"
                               "    Then it must be in {aws_s3_bucket.values.name}\n";

static struct mi_policy_set *set;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!set && mi_policy_load_text(&set, "fuzz.feature", policies, sizeof(policies) - 1) < 0)
        return 0;
    mi_plan *plan = NULL;
    if (mi_plan_load_mem(&plan, "fuzz.json", (const char *)data, size) < 0)
        return 0;
    struct mi_policy_options opts = {0};
    opts.no_early_exit = size % 2;
    struct mi_policy_result *r = NULL;
    if (mi_policy_evaluate(&r, set, plan, &opts) == 0)
        mi_policy_result_free(r);
    mi_plan_free(plan);
    return 0;
}
