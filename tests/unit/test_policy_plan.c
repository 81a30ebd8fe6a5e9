/* policy: the plan model (plan.h) from `terraform show -json` output, and what it does with
 * JSON that is truncated, of the wrong shape or absurdly nested: a clear error naming the
 * position, or a model, never a crash. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/plan.h"
#include "policy/value.h"
#include "testsupport.h"
#include "util/buf.h"
#include "util/error.h"

static int load(const char *json, mi_plan **p)
{
    return mi_plan_load_mem(p, "plan.json", json, strlen(json));
}

static void load_fails(const char *json, const char *message)
{
    mi_plan *p = NULL;
    int rc = load(json, &p);
    cr_assert_lt(rc, 0, "loaded, but should not: %.80s", json);
    cr_assert_null(p);
    cr_assert(strstr(mi_error_last(), message), "'%s' not in '%s'", message, mi_error_last());
}

Test(policy_plan, malformed_json_names_the_position)
{
    load_fails("", "plan.json");
    load_fails("{\"resource_changes\": [", "plan.json:1:");
    load_fails("{\"a\": 1,\n \"b\": }", "plan.json:2:");
    load_fails("{\"a\" 1}", "plan.json:1:");
    load_fails("{\"a\": tru}", "plan.json:1:");
    load_fails("{\"a\": \"unterminated}", "plan.json:1:");
    load_fails("{} trailing", "plan.json:1:");
    load_fails("{\"a\": \"\\uZZZZ\"}", "plan.json:1:");
}

Test(policy_plan, a_document_that_is_not_an_object_is_refused)
{
    load_fails("[]", "not a JSON object");
    load_fails("\"plan\"", "not a JSON object");
    load_fails("null", "not a JSON object");
}

Test(policy_plan, deep_nesting_is_an_error_not_a_crash)
{
    size_t depth = 200000;
    char *s = malloc(depth * 2 + 3);
    size_t n = 0;
    s[n++] = '{';
    s[n++] = '"';
    s[n++] = 'a';
    s[n++] = '"';
    s[n++] = ':';
    for (size_t i = 0; i < depth; i++)
        s[n++] = '[';
    s[n] = '\0';
    mi_plan *p = NULL;
    int rc = mi_plan_load_mem(&p, "deep.json", s, n);
    cr_assert_lt(rc, 0);
    cr_assert(strstr(mi_error_last(), "deep.json"), "%s", mi_error_last());
    cr_assert(strstr(mi_error_last(), "nest"), "%s", mi_error_last());
    free(s);
}

Test(policy_plan, wrong_types_load_as_an_empty_model)
{
    const char *docs[] = {
        "{\"resource_changes\": \"nope\"}",
        "{\"resource_changes\": [1, \"x\", null, {\"address\": 5}, {\"change\": 3}]}",
        "{\"resource_changes\": [{\"address\": \"a.b\", \"type\": \"a\", \"mode\": \"managed\","
        " \"change\": {\"actions\": \"create\", \"after\": [1, 2]}}]}",
        "{\"planned_values\": {\"root_module\": {\"resources\": {\"x\": 1}}}}",
        "{\"configuration\": {\"root_module\": {\"resources\": [{\"address\": \"a.b\","
        " \"expressions\": {\"x\": {\"references\": [\"var.y\", 7, \"module.m\"]}}}],"
        " \"module_calls\": \"nope\"}, \"provider_config\": [1]}}",
        "{\"configuration\": {\"root_module\": {\"module_calls\": {\"m\": {\"module\": "
        "{\"resources\": [{\"address\": \"a.b\"}], \"module_calls\": {\"n\": {}}}}}}}}",
        "{\"variables\": [], \"values\": 3}",
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        mi_plan *p = NULL;
        int rc = load(docs[i], &p);
        cr_assert_eq(rc, 0, "%s: %s", docs[i], mi_error_last());
        cr_assert_eq(p->resources.kind, MI_V_DICT);
        mi_plan_free(p);
    }
}

Test(policy_plan, builds_the_model_terraform_compliance_uses)
{
    mi_plan *p = NULL;
    char *path = mi_test_path("tests/fixtures/policy/patterns-plan.json");
    cr_assert_eq(mi_plan_load_file(&p, path), 0, "%s", mi_error_last());
    free(path);
    /* resources from the changes, keyed by address; data sources apart */
    cr_assert_eq(p->resources.n, 5);
    cr_assert_not_null(mi_value_get(&p->resources, "aws_s3_bucket.a"));
    cr_assert_null(mi_value_get(&p->resources, "data.aws_caller_identity.me"));
    cr_assert_not_null(mi_value_get(&p->data, "data.aws_caller_identity.me"));
    const mi_value *b = mi_value_get(&p->resources, "aws_s3_bucket.b");
    const mi_value *actions = mi_value_get(b, "actions");
    cr_assert_eq(actions->kind, MI_V_LIST);
    cr_assert_str_eq(actions->u.items[0].u.s, "update");
    /* a string holding JSON is decoded */
    const mi_value *policy = mi_value_get(
        mi_value_get(mi_value_get(&p->resources, "aws_s3_bucket.a"), "values"), "policy");
    cr_assert_eq(policy->kind, MI_V_DICT);
    /* the security group the instance references is mounted into it, and back */
    const mi_value *web = mi_value_get(&p->resources, "aws_instance.web");
    const mi_value *sg = mi_value_get(mi_value_get(web, "values"), "aws_security_group");
    cr_assert_not_null(sg);
    cr_assert_eq(sg->kind, MI_V_LIST);
    const mi_value *refs = mi_value_get(web, MI_PLAN_MOUNTED_ADDRESS_LIST);
    cr_assert_not_null(refs);
    cr_assert_str_eq(refs->u.items[0].u.s, "aws_security_group.web");
    /* unknown-after-apply attributes by type, variables, outputs, providers */
    cr_assert_not_null(mi_value_get(mi_value_get(&p->after_unknown, "aws_instance"), "kms_key_id"));
    cr_assert_not_null(mi_value_get(&p->variables, "region"));
    cr_assert_not_null(mi_value_get(&p->config_outputs, "bucket"));
    cr_assert_eq(p->config_providers.n, 2);
    mi_plan_free(p);
}

Test(policy_plan, a_missing_file_names_it)
{
    mi_plan *p = NULL;
    int rc = mi_plan_load_file(&p, "/nonexistent/plan.json");
    cr_assert_lt(rc, 0);
    cr_assert(strstr(mi_error_last(), "/nonexistent/plan.json"), "%s", mi_error_last());
}

Test(policy_plan, truncated_real_plans_never_crash)
{
    char *path = mi_test_path("tests/fixtures/policy/patterns-plan.json");
    mi_buf b = MI_BUF_INIT;
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        mi_buf_add(&b, chunk, n);
    fclose(f);
    free(path);
    for (size_t cut = 0; cut < b.len; cut += 97) {
        mi_plan *p = NULL;
        int rc = mi_plan_load_mem(&p, "cut.json", b.ptr, cut);
        cr_assert_lt(rc, 0, "a plan cut at %zu bytes loaded", cut);
        cr_assert(strstr(mi_error_last(), "cut.json"), "%s", mi_error_last());
    }
    mi_buf_release(&b);
}
