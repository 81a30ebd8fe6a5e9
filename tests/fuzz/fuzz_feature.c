/* Fuzzes the policy loader and evaluator with feature files: the input is parsed as a feature
 * (Gherkin reader, outlines, tags, step binding against the 111 patterns) and, when it
 * loads, evaluated against a small fixed plan (every step implementation, tags, in-step
 * variables). Any input must yield a set or an error, and an evaluation, without a memory
 * error, a leak or a hang. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "policy/plan.h"
#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char plan_json[] =
    "{\"format_version\":\"1.2\",\"variables\":{\"region\":{\"value\":\"eu-west-1\"}},"
    "\"resource_changes\":["
    "{\"address\":\"aws_s3_bucket.a\",\"mode\":\"managed\",\"type\":\"aws_s3_bucket\",\"name\":"
    "\"a\","
    "\"change\":{\"actions\":[\"create\"],\"after\":{\"acl\":\"private\",\"tags\":{\"Name\":\"a\"},"
    "\"versioning\":[{\"enabled\":true}],\"count\":3},\"after_unknown\":{\"id\":true}}},"
    "{\"address\":\"aws_security_group.sg\",\"mode\":\"managed\",\"type\":\"aws_security_group\","
    "\"name\":\"sg\",\"change\":{\"actions\":[\"update\"],\"after\":{\"ingress\":[{\"cidr_blocks\":"
    "[\"0.0.0.0/0\"],\"from_port\":22,\"to_port\":22,\"protocol\":\"tcp\"}],\"tags\":null}}},"
    "{\"address\":\"data.aws_ami.x\",\"mode\":\"data\",\"type\":\"aws_ami\",\"name\":\"x\","
    "\"change\":{\"actions\":[\"read\"],\"after\":{\"id\":\"ami-1\"}}}],"
    "\"configuration\":{\"provider_config\":{\"aws\":{\"name\":\"aws\",\"expressions\":"
    "{\"region\":{\"constant_value\":\"eu-west-1\"}}}},\"root_module\":{\"outputs\":{\"o\":"
    "{\"expression\":{\"constant_value\":1}}},\"variables\":{\"region\":{\"default\":\"x\"}},"
    "\"resources\":[{\"address\":\"aws_s3_bucket.a\",\"type\":\"aws_s3_bucket\",\"name\":\"a\","
    "\"expressions\":{\"policy\":{\"references\":[\"aws_security_group.sg.id\"]}}}]}}}";

static mi_plan *plan;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!plan && mi_plan_load_mem(&plan, "plan.json", plan_json, sizeof(plan_json) - 1) < 0)
        return 0;
    struct mi_policy_set *set = NULL;
    if (mi_policy_load_text(&set, "fuzz.feature", (const char *)data, size) < 0)
        return 0;
    struct mi_policy_options opts = {0};
    opts.no_early_exit = size % 2;
    struct mi_policy_result *r = NULL;
    if (mi_policy_evaluate(&r, set, plan, &opts) == 0)
        mi_policy_result_free(r);
    mi_policy_set_free(set);
    return 0;
}
