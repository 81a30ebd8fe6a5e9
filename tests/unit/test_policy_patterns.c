/* policy: every one of the 111 step patterns binds as terraform-compliance binds it, and the
 * ~60 patterns the terraform-compliance corpus never uses do what they mean, against a small
 * plan (tests/fixtures/policy/patterns-plan.json: two S3 buckets, an instance that references
 * a security group, an autoscaling group, a data source, two aws providers). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/plan.h"
#include "policy/policy.h"
#include "policy/steps.h"
#include "testsupport.h"
#include "util/buf.h"
#include "util/error.h"

/* ---- binding: a sentence for every pattern, in registration order ------------------------ */

static const struct {
    int order;
    const char *sentence;
} bindings[] = {
    {1, "Given I have aws provider configured"},
    {2, "Given I have aws_s3_bucket defined"},
    {3, "When its actions metadata includes update"},
    {4, "When its actions metadata contains update"},
    {5, "When its actions metadata is update"},
    {6, "When its actions metadata has update"},
    {7, "When its actions metadata includes \"upd.*\" regex"},
    {8, "When its actions metadata contains \"upd.*\" regex"},
    {9, "When its actions metadata is \"upd.*\" regex"},
    {10, "When its actions metadata has \"upd.*\" regex"},
    {11, "When its actions metadata does not include update"},
    {12, "When its actions metadata does not contain update"},
    {13, "When its actions metadata does not have update"},
    {14, "When its actions metadata is not update"},
    {15, "When its actions metadata has not update"},
    {16, "When its actions metadata does not include \"upd.*\" regex"},
    {17, "When its actions metadata does not contain \"upd.*\" regex"},
    {18, "When its actions metadata does not have \"upd.*\" regex"},
    {19, "When its actions metadata is not \"upd.*\" regex"},
    {20, "When its actions metadata has not \"upd.*\" regex"},
    {21, "When its tags includes an entry where Name is logs"},
    {22, "When its vpc_security_group_ids reference contains aws_security_group.web"},
    {23, "When its vpc_security_group_ids reference includes aws_security_group.web"},
    {24, "When its vpc_security_group_ids reference has aws_security_group.web"},
    {25, "When its vpc_security_group_ids reference is aws_security_group.web"},
    {26, "When its acl contains private"},
    {27, "When its acl includes private"},
    {28, "When its acl has private"},
    {29, "When its acl is private"},
    {30, "When its tags includes an entry where Name is \"lo.*\" regex"},
    {31, "When its vpc_security_group_ids reference contains \"aws_security_group.*\" regex"},
    {32, "When its vpc_security_group_ids reference includes \"aws_security_group.*\" regex"},
    {33, "When its vpc_security_group_ids reference has \"aws_security_group.*\" regex"},
    {34, "When its vpc_security_group_ids reference is \"aws_security_group.*\" regex"},
    {35, "When its acl contains \"pri.*\" regex"},
    {36, "When its acl includes \"pri.*\" regex"},
    {37, "When its acl has \"pri.*\" regex"},
    {38, "When its acl is \"pri.*\" regex"},
    {39, "When its tags does not include an entry where Name is logs"},
    {40, "When its vpc_security_group_ids reference does not contain aws_security_group.x"},
    {41, "When its vpc_security_group_ids reference does not include aws_security_group.x"},
    {42, "When its vpc_security_group_ids reference has not aws_security_group.x"},
    {43, "When its vpc_security_group_ids reference is not aws_security_group.x"},
    {44, "When its acl does not contain private"},
    {45, "When its acl does not include private"},
    {46, "When its acl has not private"},
    {47, "When its acl is not private"},
    {48, "When its tags does not include an entry where Name is \"lo.*\" regex"},
    {49, "When its vpc_security_group_ids reference does not contain \"x.*\" regex"},
    {50, "When its vpc_security_group_ids reference does not include \"x.*\" regex"},
    {51, "When its vpc_security_group_ids reference has not \"x.*\" regex"},
    {52, "When its vpc_security_group_ids reference is not \"x.*\" regex"},
    {53, "When its acl does not contain \"pub.*\" regex"},
    {54, "When its acl does not include \"pub.*\" regex"},
    {55, "When its acl has not \"pub.*\" regex"},
    {56, "When its acl is not \"pub.*\" regex"},
    {57, "When it contains tags"},
    {58, "When it contain tags"},
    {59, "When they have tags"},
    {60, "When it has tags"},
    {61, "When it doesnt have tags"},
    {62, "When it does not have tags"},
    {63, "When they dont have tags"},
    {64, "When they do not have tags"},
    {65, "When it doesnt contain tags"},
    {66, "When it does not contain tags"},
    {67, "Then it must have \"aws_security_group.*\" referenced"},
    {68, "Then it must not have tcp protocol and port 22 for 0.0.0.0/0"},
    {69, "Then they must have tags"},
    {70, "Then they must contain tags"},
    {71, "Then it must have tags"},
    {72, "Then it must contain tags"},
    {73, "Then they must not have tags"},
    {74, "Then it must not have tags"},
    {75, "Then they must not contain tags"},
    {76, "Then it must not contain tags"},
    {77, "Then encryption at rest must be enabled"},
    {78, "Then encryption at rest is be enabled"},
    {79, "Then encryption at rest is enabled"},
    {80, "When I count the value"},
    {81, "When I count them"},
    {82, "When I count it"},
    {83, "Then I expect the result is more and equal to 2"},
    {84, "Then its value must be equal to 2"},
    {85, "Then I expect the result is more than 1"},
    {86, "Then its value must be less than 3"},
    {87, "Then all of its values must match the \"^p.*\" regex"},
    {88, "Then its value must match the \"^p.*\" regex"},
    {89, "Then its singular value must match the \"^p.*\" regex"},
    {90, "Then any of its values must match the \"^p.*\" regex"},
    {91, "Then its value must not be null"},
    {92, "Then its value must be private"},
    {93, "Then its value must contain private"},
    {94, "Then it must fail"},
    {95, "Then it should fail"},
    {96, "Then it fails"},
    {97, "Then the scenario must fail"},
    {98, "Then the scenario should fail"},
    {99, "Then the scenario fails"},
    {100, "Then its acl key must be private"},
    {101, "Then its acl property must be private"},
    {102, "Then its acl must be private"},
    {103, "Then I flatten all values found"},
    {104, "Then it must be in {aws_s3_bucket.values.acl}"},
    {105, "Then it must be a subset of {aws_s3_bucket.values.acl}"},
    {106, "Then it must cover {aws_s3_bucket.values.acl}"},
    {107, "Then it must be a superset of {aws_s3_bucket.values.acl}"},
    {108, "Then it must not be in {aws_s3_bucket.values.acl}"},
    {109, "Then it must not be a subset of {aws_s3_bucket.values.acl}"},
    {110, "Then it must not cover {aws_s3_bucket.values.acl}"},
    {111, "Then it must not be a superset of {aws_s3_bucket.values.acl}"},
};

Test(policy_steps, every_pattern_binds_in_registration_order)
{
    cr_assert_eq(mi_step_ndefs, 111);
    cr_assert_eq(sizeof(bindings) / sizeof(bindings[0]), 111);
    for (size_t i = 0; i < 111; i++) {
        struct mi_step_binding b;
        int rc = mi_steps_bind(&b, bindings[i].sentence);
        cr_assert_eq(rc, 0, "'%s' does not bind: %s", bindings[i].sentence, mi_error_last());
        cr_expect_eq(b.def->order, bindings[i].order, "'%s' binds to #%d, expected #%d",
                     bindings[i].sentence, b.def->order, bindings[i].order);
        cr_expect(b.perfect, "'%s' is not a perfect match", bindings[i].sentence);
        mi_step_binding_release(&b);
    }
}

Test(policy_steps, binding_is_case_insensitive_and_strips_quotes)
{
    struct mi_step_binding b;
    cr_assert_eq(mi_steps_bind(&b, "THEN ITS VALUE MUST BE \"Private\""), 0);
    cr_assert_eq(b.def->order, 92);
    cr_assert_str_eq(mi_step_arg(&b, "condition"), "MUST");
    cr_assert_str_eq(mi_step_arg(&b, "match"), "Private");
    mi_step_binding_release(&b);
    cr_assert_eq(mi_steps_bind(&b, "Then its value must match the \"^'a'$\" regex"), 0);
    cr_assert_str_eq(mi_step_arg(&b, "search_regex"), "^'a'$", "regexes keep their quotes");
    mi_step_binding_release(&b);
}

Test(policy_steps, and_takes_the_context_keyword)
{
    char *s = mi_steps_context_sentence("and its value must be 1", "Then");
    cr_assert_str_eq(s, "Then its value must be 1");
    free(s);
    s = mi_steps_context_sentence("Andrew is here", "Then");
    cr_assert_str_eq(s, "Andrew is here");
    free(s);
}

Test(policy_steps, section_outside_the_list_is_none)
{
    struct mi_step_binding b;
    cr_assert_eq(mi_steps_bind(&b, "Given I have foo output configured"), 0);
    cr_assert_eq(b.def->order, 1);
    cr_assert_null(mi_step_arg(&b, "type_name"));
    mi_step_binding_release(&b);
}

Test(policy_steps, unknown_step_is_an_error_naming_it)
{
    struct mi_step_binding b;
    cr_assert_eq(mi_steps_bind(&b, "Given nothing of the sort"), MI_ENOTFOUND);
    cr_assert(strstr(mi_error_last(), "unknown step 'Given nothing of the sort'"), "%s",
              mi_error_last());
}

/* ---- meaning --------------------------------------------------------------------------- */

static mi_plan *plan;

static void load_plan(void)
{
    char *path = mi_test_path("tests/fixtures/policy/patterns-plan.json");
    int rc = mi_plan_load_file(&plan, path);
    cr_assert_eq(rc, 0, "%s", mi_error_last());
    free(path);
}

static void free_plan(void)
{
    mi_plan_free(plan);
    plan = NULL;
}

/* Runs one scenario made of steps (lines separated by '\n') and returns its result. */
static struct mi_policy_result *run(const char *steps, int no_early_exit)
{
    mi_buf f = MI_BUF_INIT;
    mi_buf_adds(&f, "Feature: patterns\n  Scenario: one\n");
    const char *p = steps;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        mi_buf_adds(&f, "    ");
        mi_buf_add(&f, p, n);
        mi_buf_addch(&f, '\n');
        p += n + (nl ? 1 : 0);
    }
    struct mi_policy_set *set = NULL;
    int rc = mi_policy_load_text(&set, "patterns.feature", f.ptr, f.len);
    cr_assert_eq(rc, 0, "%s\n%s", mi_error_last(), f.ptr);
    struct mi_policy_result *r = NULL;
    struct mi_policy_options o = {0};
    o.no_early_exit = no_early_exit;
    cr_assert_eq(mi_policy_evaluate(&r, set, plan, &o), 0);
    mi_policy_set_free(set);
    mi_buf_release(&f);
    return r;
}

static const struct mi_policy_scenario *only(const struct mi_policy_result *r)
{
    cr_assert_eq(r->nfeatures, 1);
    cr_assert_eq(r->features[0].nitems, 1);
    cr_assert_not_null(r->features[0].items[0].scenario);
    return r->features[0].items[0].scenario;
}

/* All messages of a scenario: failures, then the skip reason, then failed steps' reasons. */
static void messages(const struct mi_policy_scenario *s, mi_buf *out)
{
    for (size_t i = 0; i < s->nfailures; i++)
        mi_buf_addf(out, "%s\n", s->failures[i].message);
    const char *skip = mi_policy_scenario_skip_reason(s);
    if (skip)
        mi_buf_addf(out, "SKIP %s\n", skip);
    for (size_t i = 0; i < s->nsteps; i++)
        if (s->steps[i].state == MI_POLICY_FAILED)
            mi_buf_addf(out, "%s: %s\n", s->steps[i].error_name, s->steps[i].error_reason);
}

struct meaning {
    int order; /* the pattern under test */
    const char *steps;
    enum mi_policy_state want;
    const char *message; /* a substring of the messages, or NULL; "=a,b": exactly these
                            addresses failed */
};

#define S3 "Given I have aws_s3_bucket defined\n"
#define EC2 "Given I have aws_instance defined\n"
/* A probe: fails on every resource left in the stash, naming it (no early exit). */
#define FAIL_ON "Then it must contain website"

static const struct meaning meanings[] = {
    {3, S3 "When its actions metadata includes update\n" FAIL_ON, MI_POLICY_FAILED,
     "=aws_s3_bucket.b"},
    {4, S3 "When its actions metadata contains create\n" FAIL_ON, MI_POLICY_FAILED,
     "=aws_s3_bucket.a"},
    {4, S3 "When its actions metadata contains delete\n" FAIL_ON, MI_POLICY_SKIPPED,
     "SKIP Could not find \"delete\" in \"actions\" metadata."},
    {7, S3 "When its address metadata includes \"aws_s3_bucket\\.b\" regex\n" FAIL_ON,
     MI_POLICY_FAILED, "=aws_s3_bucket.b"},
    {8, S3 "When its actions metadata contains \"cre.*\" regex\n" FAIL_ON, MI_POLICY_FAILED,
     "=aws_s3_bucket.a"},
    {10, S3 "When its name metadata has \"^b$\" regex\n" FAIL_ON, MI_POLICY_FAILED,
     "=aws_s3_bucket.b"},
    {11, S3 "When its actions metadata does not include create\n" FAIL_ON, MI_POLICY_FAILED,
     "=aws_s3_bucket.b"},
    {12, S3 "When its actions metadata does not contain update\n" FAIL_ON, MI_POLICY_FAILED,
     "=aws_s3_bucket.a"},
    {14, S3 "When its address metadata is not aws_s3_bucket.a\n" FAIL_ON, MI_POLICY_FAILED,
     "=aws_s3_bucket.b"},
    {15, S3 "When its name metadata has not a\n" FAIL_ON, MI_POLICY_FAILED, "=aws_s3_bucket.b"},
    {16, S3 "When its actions metadata does not include \"upd.*\" regex\n" FAIL_ON,
     MI_POLICY_FAILED, "=aws_s3_bucket.a"},
    {17, S3 "When its actions metadata does not contain \"cre.*\" regex\n" FAIL_ON,
     MI_POLICY_FAILED, "=aws_s3_bucket.b"},
    {18, S3 "When its name metadata does not have \"a\" regex\n" FAIL_ON, MI_POLICY_FAILED,
     "=aws_s3_bucket.b"},
    {19, S3 "When its address metadata is not \".*\\.a$\" regex\n" FAIL_ON, MI_POLICY_FAILED,
     "=aws_s3_bucket.b"},
    {20, S3 "When its type metadata has not \"aws_s3.*\" regex\n" FAIL_ON, MI_POLICY_SKIPPED,
     "SKIP Found \"aws_s3.*\" in \"type\" metadata for all resources."},
    {22, EC2 "When its vpc_security_group_ids reference contains aws_security_group.web\n" FAIL_ON,
     MI_POLICY_FAILED, "=aws_instance.web"},
    {23, EC2 "When its vpc_security_group_ids reference includes aws_security_group.web\n" FAIL_ON,
     MI_POLICY_FAILED, "=aws_instance.web"},
    {24, EC2 "When its vpc_security_group_ids reference has aws_security_group.nope\n" FAIL_ON,
     MI_POLICY_SKIPPED, "SKIP Can not find aws_security_group.nope reference in aws_instance.web."},
    {28, S3 "When its acl has private\n" FAIL_ON, MI_POLICY_FAILED, "=aws_s3_bucket.a"},
    {30, S3 "When its tags includes an entry where Environment is \"prod.*\" regex\n" FAIL_ON,
     MI_POLICY_FAILED, "=aws_s3_bucket.a"},
    {31,
     EC2 "When its vpc_security_group_ids reference contains \"aws_security_group\\..*\" "
         "regex\n" FAIL_ON,
     MI_POLICY_FAILED, "=aws_instance.web"},
    {32,
     EC2 "When its vpc_security_group_ids reference includes \"aws_security_group\\.w.*\" "
         "regex\n" FAIL_ON,
     MI_POLICY_FAILED, "=aws_instance.web"},
    {33,
     EC2 "When its vpc_security_group_ids reference has \"aws_security_group\\.x\" regex\n" FAIL_ON,
     MI_POLICY_SKIPPED, "SKIP Can not find aws_security_group\\.x reference in aws_instance.web."},
    {34, EC2 "When its vpc_security_group_ids reference is \".*web\" regex\n" FAIL_ON,
     MI_POLICY_FAILED, "=aws_instance.web"},
    {35, S3 "When its acl contains \"pri.*\" regex\n" FAIL_ON, MI_POLICY_FAILED,
     "=aws_s3_bucket.a"},
    {36, S3 "When its acl includes \"PUB.*\" regex\n" FAIL_ON, MI_POLICY_FAILED,
     "=aws_s3_bucket.b"},
    {38, S3 "When its bucket is \"scr.*\" regex\n" FAIL_ON, MI_POLICY_FAILED, "=aws_s3_bucket.b"},
    {40,
     EC2
     "When its vpc_security_group_ids reference does not contain aws_security_group.x\n" FAIL_ON,
     MI_POLICY_FAILED, "=aws_instance.web"},
    {41,
     EC2
     "When its vpc_security_group_ids reference does not include aws_security_group.web\n" FAIL_ON,
     MI_POLICY_SKIPPED, "SKIP Found aws_security_group.web reference in aws_instance.web."},
    {42, EC2 "When its vpc_security_group_ids reference has not aws_security_group.x\n" FAIL_ON,
     MI_POLICY_FAILED, "=aws_instance.web"},
    {44, S3 "When its acl does not contain private\n" FAIL_ON, MI_POLICY_FAILED,
     "=aws_s3_bucket.b"},
    {46, S3 "When its acl has not public-read\n" FAIL_ON, MI_POLICY_FAILED, "=aws_s3_bucket.a"},
    {48, S3 "When its tags does not include an entry where Name is \"log.*\" regex\n" FAIL_ON,
     MI_POLICY_FAILED, "=aws_s3_bucket.b"},
    {49, EC2 "When its vpc_security_group_ids reference does not contain \"x.*\" regex\n" FAIL_ON,
     MI_POLICY_FAILED, "=aws_instance.web"},
    {50, EC2 "When its vpc_security_group_ids reference does not include \"aws.*\" regex\n" FAIL_ON,
     MI_POLICY_SKIPPED, "SKIP Found aws.* reference in aws_instance.web."},
    {51, EC2 "When its vpc_security_group_ids reference has not \"x.*\" regex\n" FAIL_ON,
     MI_POLICY_FAILED, "=aws_instance.web"},
    {52, EC2 "When its vpc_security_group_ids reference is not \"x.*\" regex\n" FAIL_ON,
     MI_POLICY_FAILED, "=aws_instance.web"},
    {53, S3 "When its acl does not contain \"pub.*\" regex\n" FAIL_ON, MI_POLICY_FAILED,
     "=aws_s3_bucket.a"},
    {54, S3 "When its acl does not include \"pri.*\" regex\n" FAIL_ON, MI_POLICY_FAILED,
     "=aws_s3_bucket.b"},
    {55, S3 "When its acl has not \"p.*\" regex\n" FAIL_ON, MI_POLICY_SKIPPED,
     "SKIP Found p.* acl in aws_s3_bucket.a, aws_s3_bucket.b."},
    {56, S3 "When its acl is not \"pub.*\" regex\n" FAIL_ON, MI_POLICY_FAILED, "=aws_s3_bucket.a"},
    {59, S3 "When they have server_side_encryption_configuration\n" FAIL_ON, MI_POLICY_FAILED,
     "=aws_s3_bucket.a"},
    {61, S3 "When it doesnt have versioning\n" FAIL_ON, MI_POLICY_FAILED, "=aws_s3_bucket.b"},
    {63, S3 "When they dont have versioning\n" FAIL_ON, MI_POLICY_FAILED, "=aws_s3_bucket.b"},
    {64, S3 "When they do not have server_side_encryption_configuration\n" FAIL_ON,
     MI_POLICY_FAILED, "=aws_s3_bucket.b"},
    {65, S3 "When it doesnt contain acl\n" FAIL_ON, MI_POLICY_SKIPPED,
     "SKIP All objects (aws_s3_bucket) coming from previous step has acl property."},
    {66, S3 "When it does not contain versioning\n" FAIL_ON, MI_POLICY_FAILED, "=aws_s3_bucket.b"},
    {69, S3 "Then they must have acl", MI_POLICY_PASSED, NULL},
    {70, S3 "Then they must contain website", MI_POLICY_FAILED,
     "aws_s3_bucket.a (aws_s3_bucket) does not have website property."},
    {73, S3 "Then they must not have website", MI_POLICY_PASSED, NULL},
    {75, S3 "Then they must not contain acl", MI_POLICY_FAILED,
     "acl property exists in aws_s3_bucket.a (aws_s3_bucket)."},
    {78, S3 "Then encryption at rest is be enabled", MI_POLICY_FAILED,
     "Resource aws_s3_bucket.b does not have server_side_encryption_configuration property "
     "enabled (server_side_encryption_configuration=[])."},
    {78, EC2 "Then monitoring is be enabled", MI_POLICY_PASSED, NULL},
    {80, S3 "When I count the value\nThen its value must be equal to 2", MI_POLICY_PASSED, NULL},
    {82, S3 "When I count it\nThen I expect the result is less than 2", MI_POLICY_FAILED,
     "for ['aws_s3_bucket.a', 'aws_s3_bucket.b'] on resource. 2 is not less than 2."},
    {85, S3 "When I count them\nThen I expect the result is more than 1", MI_POLICY_PASSED, NULL},
    {85, S3 "When I count them\nThen I expect the result is bigger and equal than 3",
     MI_POLICY_FAILED, "2 is not more and equal than 3."},
    {87,
     S3 "Then it must contain acl\nThen all of its values must match the "
        "\"^(private|public-read)$\" regex",
     MI_POLICY_PASSED, NULL},
    {87, S3 "Then it must contain acl\nThen all of its values must match the \"^private$\" regex",
     MI_POLICY_FAILED,
     "acl property in aws_s3_bucket.b resource does not match with ^private$ case insensitive "
     "regex. It is set to public-read."},
    {94, S3 "When its actions metadata includes update\nThen it must fail", MI_POLICY_FAILED,
     /* as in terraform-compliance, a metadata filter leaves the context's addresses alone */
     "Forcefully failing the scenario on aws_s3_bucket (aws_s3_bucket.a, aws_s3_bucket.b) "
     "resource"},
    {95, S3 "Then it should fail", MI_POLICY_FAILED,
     "Forcefully failing the scenario on aws_s3_bucket (aws_s3_bucket.a, aws_s3_bucket.b) "
     "resource"},
    {96, S3 "Then it fails", MI_POLICY_FAILED, "Forcefully failing the scenario"},
    {97, S3 "Then the scenario must fail", MI_POLICY_FAILED, "Forcefully failing the scenario"},
    {99, S3 "Then the scenario fails", MI_POLICY_FAILED, "Forcefully failing the scenario"},
    {100, S3 "Then its acl key must be private", MI_POLICY_FAILED,
     "Can not find private in acl property of aws_s3_bucket.b."},
    {100, S3 "Then its force_destroy key must not be true", MI_POLICY_FAILED, "Found true"},
    /* families the corpus uses little */
    {1,
     "Given I have aws provider configured\nWhen it contains region\nThen its value must be "
     "eu-west-1",
     MI_POLICY_PASSED, NULL},
    {1,
     "Given I have aws provider configured\nWhen it contains region\nThen its value must be "
     "us-east-1",
     MI_POLICY_FAILED, "region property in aws.\b provider does not match with ^us\\-east\\-1$"},
    {1,
     "Given I have aws_caller_identity data configured\nThen it must contain account_id\n"
     "And its value must match the \"^[0-9]{12}$\" regex",
     MI_POLICY_PASSED, NULL},
    {1,
     "Given I have region variable configured\nThen it must contain value\nAnd its value must be "
     "eu-west-1",
     MI_POLICY_PASSED, NULL},
    {1, "Given I have nothing variable configured\n" FAIL_ON, MI_POLICY_SKIPPED,
     "SKIP Can not find nothing defined in target terraform plan."},
    {2, "Given I have any output defined\nWhen its sensitive is true\nThen it must fail",
     MI_POLICY_FAILED, "Forcefully failing the scenario on any output"},
    {2, "Given I have resource that supports kms_key_id defined\n" FAIL_ON, MI_POLICY_FAILED,
     "=aws_instance.web"},
    {2,
     "Given I have resource that supports tags defined\nThen it must contain tags\n"
     "And it must contain Name",
     MI_POLICY_FAILED,
     "aws_security_group.web (resource that supports tags) does not have Name property."},
    {2,
     "Given I have AWS S3 Bucket defined\nWhen its tags includes an entry where CostCenter is "
     "42\n" FAIL_ON,
     MI_POLICY_FAILED, "=aws_s3_bucket.a"},
    {67, EC2 "Then it must have \"aws_security_group\\.web\" referenced", MI_POLICY_PASSED, NULL},
    {67, S3 "Then it must have \"aws_security_group\\.web\" referenced", MI_POLICY_FAILED,
     "aws_security_group\\.web is not referenced within aws_s3_bucket.a."},
    {68,
     "Given I have aws_security_group defined\nWhen it has ingress\nThen it must contain ingress\n"
     "And it must not have tcp protocol and port 443 for 0.0.0.0/0",
     MI_POLICY_FAILED,
     "tcp/443 port is defined within 0.0.0.0/0 network in aws_security_group.web."},
    {68,
     "Given I have aws_security_group defined\nThen it must contain ingress\n"
     "And it must only have tcp protocol and port 443 for 0.0.0.0/0",
     MI_POLICY_PASSED, NULL},
    {68,
     "Given I have aws_security_group defined\nThen it must contain ingress\n"
     "And it must have tcp protocol and port 22 for 192.168.0.0/16",
     MI_POLICY_FAILED,
     "tcp/22 port is not defined within 192.168.0.0/16 network in aws_security_group.web."},
    {91, S3 "Then it must contain policy\nThen its value must be null", MI_POLICY_FAILED,
     "policy property in aws_s3_bucket.a is considered to be not Null."},
    {93, S3 "Then it must contain tags\nThen its value must contain production", MI_POLICY_FAILED,
     "production could not found in aws_s3_bucket.b."},
    {93, S3 "Then it must contain tags\nThen its value must not contain scratch", MI_POLICY_FAILED,
     "scratch found in {'values': 'scratch', 'address': None}."},
    {103,
     S3 "Then it must contain acl\nThen I flatten all values found\nThen it must cover "
        "{aws_s3_bucket.values.acl}",
     /* a flattened stash is a dict: iterating it gives its keys, as in Python */
     MI_POLICY_FAILED, "TypeError: string indices must be integers"},
    {104, S3 "Then it must contain acl\nThen it must be in {aws_s3_bucket.values.acl}",
     MI_POLICY_PASSED, NULL},
    {104, S3 "Then it must contain acl\nThen it must be in x-{aws_s3_bucket.values.acl}",
     MI_POLICY_FAILED, "x-{aws_s3_bucket.values.acl} does not cover selected resources."},
    {108, S3 "Then it must contain acl\nThen it must not be in {aws_s3_bucket.values.acl}",
     MI_POLICY_FAILED, "{aws_s3_bucket.values.acl} covers selected resources."},
    {104, S3 "Then it must contain acl\nThen it must be in private", MI_POLICY_FAILED,
     "Could not resolve haystack: private"},
};

Test(policy_patterns, unused_patterns_mean_what_they_say, .init = load_plan, .fini = free_plan)
{
    size_t n = sizeof(meanings) / sizeof(meanings[0]);
    for (size_t i = 0; i < n; i++) {
        const struct meaning *m = &meanings[i];
        struct mi_policy_result *r = run(m->steps, 1);
        const struct mi_policy_scenario *s = only(r);
        mi_buf msg = MI_BUF_INIT;
        messages(s, &msg);
        cr_expect_eq(s->state, m->want, "#%d case %zu: state %s, want %s\n%s\n---\n%s", m->order, i,
                     mi_policy_state_name(s->state), mi_policy_state_name(m->want), m->steps,
                     msg.ptr);
        if (m->message && m->message[0] == '=') {
            mi_buf addrs = MI_BUF_INIT;
            for (size_t k = 0; k < s->nfailures; k++)
                mi_buf_addf(&addrs, "%s%s", k ? "," : "",
                            s->failures[k].address ? s->failures[k].address : "-");
            cr_expect_str_eq(addrs.ptr, m->message + 1, "#%d case %zu: failed on %s, want %s\n%s",
                             m->order, i, addrs.ptr, m->message + 1, m->steps);
            mi_buf_release(&addrs);
        } else if (m->message) {
            cr_expect(strstr(msg.ptr, m->message) != NULL, "#%d case %zu: '%s' not in:\n%s",
                      m->order, i, m->message, msg.ptr);
        }
        mi_buf_release(&msg);
        mi_policy_result_free(r);
    }
}

Test(policy_patterns, no_early_exit_reports_every_resource, .init = load_plan, .fini = free_plan)
{
    struct mi_policy_result *r = run(S3 "Then it must contain website", 1);
    const struct mi_policy_scenario *s = only(r);
    cr_assert_eq(s->state, MI_POLICY_FAILED);
    cr_assert_eq(s->nfailures, 2);
    cr_assert_str_eq(s->failures[0].address, "aws_s3_bucket.a");
    cr_assert_str_eq(s->failures[1].address, "aws_s3_bucket.b");
    mi_policy_result_free(r);
    r = run(S3 "Then it must contain website", 0);
    cr_assert_eq(only(r)->nfailures, 1, "early exit stops at the first resource");
    mi_policy_result_free(r);
}

Test(policy_patterns, failures_carry_address_value_and_line, .init = load_plan, .fini = free_plan)
{
    struct mi_policy_result *r =
        run(S3 "Then it must contain acl\nAnd its value must be private", 1);
    const struct mi_policy_scenario *s = only(r);
    cr_assert_eq(s->state, MI_POLICY_FAILED);
    cr_assert_eq(s->nfailures, 1);
    cr_assert_str_eq(s->failures[0].address, "aws_s3_bucket.b");
    cr_assert_str_eq(s->failures[0].value, "public-read");
    cr_assert_eq(s->failures[0].line, 5);
    cr_assert_eq(mi_policy_scenario_line(s), 2);
    mi_policy_result_free(r);
}

Test(policy_patterns, warning_tag_reports_without_failing, .init = load_plan, .fini = free_plan)
{
    const char *text =
        "Feature: w\n  @warning\n  Scenario: s\n    Given I have aws_s3_bucket defined\n"
        "    Then it must contain website\n";
    struct mi_policy_set *set = NULL;
    cr_assert_eq(mi_policy_load_text(&set, "w.feature", text, strlen(text)), 0);
    struct mi_policy_result *r = NULL;
    cr_assert_eq(mi_policy_evaluate(&r, set, plan, NULL), 0);
    const struct mi_policy_scenario *s = only(r);
    cr_assert_eq(r->violations, 0);
    cr_assert_eq(r->warnings, 2, "both buckets are reported");
    cr_assert_neq(s->state, MI_POLICY_FAILED);
    cr_assert(s->failures[0].warning);
    cr_assert_str_eq(s->steps[1].events[0].header, "warning");
    mi_policy_result_free(r);
    mi_policy_set_free(set);
}

Test(policy_patterns, case_sensitive_tag_changes_comparisons, .init = load_plan, .fini = free_plan)
{
    const char *text = "Feature: c\n  @case_sensitive\n  Scenario: s\n"
                       "    Given I have aws_s3_bucket defined\n    Then it must contain ACL\n"
                       "  Scenario: t\n    Given I have aws_s3_bucket defined\n"
                       "    Then it must contain ACL\n";
    struct mi_policy_set *set = NULL;
    cr_assert_eq(mi_policy_load_text(&set, "c.feature", text, strlen(text)), 0);
    struct mi_policy_result *r = NULL;
    cr_assert_eq(mi_policy_evaluate(&r, set, plan, NULL), 0);
    cr_assert_eq(r->features[0].items[0].scenario->state, MI_POLICY_FAILED);
    cr_assert_eq(r->features[0].items[1].scenario->state, MI_POLICY_PASSED);
    mi_policy_result_free(r);
    mi_policy_set_free(set);
}

Test(policy_patterns, noskip_turns_a_skip_into_a_failure, .init = load_plan, .fini = free_plan)
{
    const char *text =
        "Feature: n\n  @noskip\n  Scenario: s\n    Given I have aws_lambda_function defined\n"
        "  @noskip_at_line_8\n  Scenario: t\n    Given I have aws_s3_bucket defined\n"
        "    When its acl is nope\n    Then it must fail\n";
    struct mi_policy_set *set = NULL;
    cr_assert_eq(mi_policy_load_text(&set, "n.feature", text, strlen(text)), 0);
    struct mi_policy_result *r = NULL;
    cr_assert_eq(mi_policy_evaluate(&r, set, plan, NULL), 0);
    const struct mi_policy_scenario *a = r->features[0].items[0].scenario;
    const struct mi_policy_scenario *b = r->features[0].items[1].scenario;
    cr_assert_eq(a->state, MI_POLICY_FAILED);
    cr_assert_str_eq(a->failures[0].message,
                     "Can not find aws_lambda_function defined in target terraform plan.");
    cr_assert_eq(b->state, MI_POLICY_FAILED);
    cr_assert(strstr(b->failures[0].message, "Can not find nope acl in"));
    mi_policy_result_free(r);
    mi_policy_set_free(set);
}

Test(policy_patterns, exclude_tag_drops_resources, .init = load_plan, .fini = free_plan)
{
    const char *text = "Feature: x\n  @exclude_aws_s3_bucket.b\n  Scenario: s\n"
                       "    Given I have aws_s3_bucket defined\n    Then it must contain website\n";
    struct mi_policy_set *set = NULL;
    cr_assert_eq(mi_policy_load_text(&set, "x.feature", text, strlen(text)), 0);
    struct mi_policy_result *r = NULL;
    cr_assert_eq(mi_policy_evaluate(&r, set, plan, NULL), 0);
    const struct mi_policy_scenario *s = only(r);
    cr_assert_eq(s->state, MI_POLICY_FAILED);
    cr_assert_eq(s->nfailures, 1);
    cr_assert_str_eq(s->failures[0].address, "aws_s3_bucket.a", "%s", s->failures[0].message);
    mi_policy_result_free(r);
    mi_policy_set_free(set);
}
