/* report/sarif: policy violations of the reference policies against reference plans as SARIF
 * 2.1.0, pointing at the .tf declaration and the feature-file step, secrets redacted.
 *
 * With MLINFRA_SARIF_DUMP_DIR set, every document rendered here is also written there, so
 * tests/scripts/test_sarif.sh can validate them against the official SARIF schema. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/plan.h"
#include "policy/policy.h"
#include "report/sarif.h"
#include "terraform/tfsource.h"
#include "testsupport.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"

TestSuite(sarif, .fini = mi_log_mask_reset);

static void dump(const char *name, const mi_buf *doc)
{
    const char *dir = getenv("MLINFRA_SARIF_DUMP_DIR");
    if (!dir || !*dir)
        return;
    char *path = mi_xasprintf("%s/%s.sarif", dir, name);
    cr_assert_eq(mi_fs_write_file_atomic(path, doc->ptr, doc->len, 0644), 0, "%s", mi_error_last());
    free(path);
}

/* Evaluates the repository's policies against a reference plan and renders SARIF for the
 * production environment, run from the repository root as `mlinfra check` would be. */
static json_t *render_reference(const char *plan_name, const char *env, mi_buf *text,
                                struct mi_policy_result **out)
{
    const char *root = mi_test_source_dir();
    char *cwd = getcwd(NULL, 0);
    cr_assert_eq(chdir(root), 0);
    struct mi_policy_set *set = NULL;
    cr_assert_eq(mi_policy_load(&set, "policies"), 0, "%s", mi_error_last());
    char *plan_path = mi_xasprintf("tests/fixtures/plans/%s", plan_name);
    mi_plan *plan = NULL;
    cr_assert_eq(mi_plan_load_file(&plan, plan_path), 0, "%s", mi_error_last());
    struct mi_policy_options po = {0};
    struct mi_policy_result *r = NULL;
    cr_assert_eq(mi_policy_evaluate(&r, set, plan, &po), 0, "%s", mi_error_last());
    char *envdir = mi_xasprintf("environments/%s", env);
    struct mi_tfsource *src = NULL;
    cr_assert_eq(mi_tfsource_scan(&src, envdir), 0, "%s", mi_error_last());
    struct mi_sarif_options so = {0};
    so.repo_root = root;
    so.sources = src;
    so.environment = env;
    cr_assert_eq(mi_sarif_render(text, r, &so), 0, "%s", mi_error_last());
    json_error_t jerr;
    json_t *doc = json_loadb(text->ptr, text->len, 0, &jerr);
    cr_assert_not_null(doc, "not JSON: %s", jerr.text);
    mi_tfsource_free(src);
    free(envdir);
    mi_plan_free(plan);
    free(plan_path);
    mi_policy_set_free(set);
    cr_assert_eq(chdir(cwd), 0);
    free(cwd);
    *out = r;
    return doc;
}

static const char *sget(json_t *o, const char *path)
{
    /* "a.b.0.c": object keys and array indexes. */
    char *copy = mi_xstrdup(path), *save = NULL;
    json_t *v = o;
    for (char *t = strtok_r(copy, ".", &save); t && v; t = strtok_r(NULL, ".", &save)) {
        if (json_is_array(v))
            v = json_array_get(v, strtoul(t, NULL, 10));
        else
            v = json_object_get(v, t);
    }
    free(copy);
    return json_string_value(v);
}

Test(sarif, violation_points_at_the_tf_declaration_and_the_feature_step)
{
    mi_buf text = MI_BUF_INIT;
    struct mi_policy_result *r = NULL;
    json_t *doc = render_reference("reference-forbidden-vm-size.json", "production", &text, &r);
    dump("forbidden-vm-size", &text);
    cr_assert_gt(r->violations, 0, "the fixture violates the VM size policy");

    cr_assert_str_eq(sget(doc, "version"), "2.1.0");
    cr_assert_str_eq(sget(doc, "$schema"), MI_SARIF_SCHEMA);
    cr_assert_str_eq(sget(doc, "runs.0.tool.driver.name"), "mlinfra");
    cr_assert_str_eq(sget(doc, "runs.0.automationDetails.id"), "mlinfra/policies/production/");
    json_t *run = json_array_get(json_object_get(doc, "runs"), 0);
    json_t *rules =
        json_object_get(json_object_get(json_object_get(run, "tool"), "driver"), "rules");
    json_t *results = json_object_get(run, "results");
    cr_assert_gt(json_array_size(rules), 5, "every scenario is a rule");
    cr_assert_gt(json_array_size(results), 0);

    /* The VM size violation: on the cluster's resource block, with the feature step related. */
    json_t *found = NULL;
    size_t i;
    json_t *res;
    json_array_foreach(results, i, res)
    {
        if (strcmp(sget(res, "ruleId"),
                   "cluster/the-default-node-pool-uses-a-vm-size-within-budget") == 0)
            found = res;
        /* ruleIndex points at the rule with that id. */
        json_t *rule = json_array_get(rules, json_integer_value(json_object_get(res, "ruleIndex")));
        cr_assert_str_eq(sget(rule, "id"), sget(res, "ruleId"));
        cr_assert_str_eq(sget(res, "level"), "error");
        cr_assert_not_null(sget(res, "partialFingerprints.mlinfraPolicyFinding/v1"));
    }
    cr_assert_not_null(found, "%s", text.ptr);
    cr_assert_str_eq(sget(found, "locations.0.physicalLocation.artifactLocation.uri"),
                     "modules/cluster/main.tf");
    cr_assert_str_eq(sget(found, "locations.0.physicalLocation.artifactLocation.uriBaseId"),
                     "%SRCROOT%");
    cr_assert_str_eq(sget(found, "locations.0.logicalLocations.0.fullyQualifiedName"),
                     "module.cluster.azurerm_kubernetes_cluster.this");
    json_t *line = json_object_get(
        json_object_get(json_object_get(json_array_get(json_object_get(found, "locations"), 0),
                                        "physicalLocation"),
                        "region"),
        "startLine");
    cr_assert_eq(json_integer_value(line), 28);
    cr_assert_str_eq(sget(found, "relatedLocations.0.physicalLocation.artifactLocation.uri"),
                     "policies/cluster.feature");
    json_t *step_line = json_object_get(
        json_object_get(
            json_object_get(json_array_get(json_object_get(found, "relatedLocations"), 0),
                            "physicalLocation"),
            "region"),
        "startLine");
    /* "And its value must match ..." of that scenario. */
    cr_assert_eq(json_integer_value(step_line), 21);
    json_decref(doc);
    mi_buf_release(&text);
    mi_policy_result_free(r);
}

Test(sarif, compliant_plan_has_rules_and_no_results)
{
    mi_buf text = MI_BUF_INIT;
    struct mi_policy_result *r = NULL;
    json_t *doc = render_reference("reference-compliant.json", "production", &text, &r);
    dump("compliant", &text);
    cr_assert_eq(r->violations, 0);
    json_t *run = json_array_get(json_object_get(doc, "runs"), 0);
    cr_assert_eq(json_array_size(json_object_get(run, "results")), 0);
    cr_assert_gt(json_array_size(json_object_get(
                     json_object_get(json_object_get(run, "tool"), "driver"), "rules")),
                 5);
    json_decref(doc);
    mi_buf_release(&text);
    mi_policy_result_free(r);
}

Test(sarif, dev_plan_is_its_own_category_and_points_at_real_files)
{
    mi_buf text = MI_BUF_INIT;
    struct mi_policy_result *r = NULL;
    json_t *doc = render_reference("reference-dev-open-cors.json", "dev", &text, &r);
    dump("dev-open-cors", &text);
    json_t *run = json_array_get(json_object_get(doc, "runs"), 0);
    cr_assert_str_eq(sget(run, "automationDetails.id"), "mlinfra/policies/dev/");
    /* Every location of every rule and result names a file of the repository. */
    size_t i;
    json_t *rule;
    json_array_foreach(
        json_object_get(json_object_get(json_object_get(run, "tool"), "driver"), "rules"), i, rule)
    {
        char *p = mi_test_path(sget(rule, "properties.feature"));
        cr_assert(mi_fs_exists(p), "%s", p);
        free(p);
    }
    json_t *res;
    json_array_foreach(json_object_get(run, "results"), i, res)
    {
        const char *uri = sget(res, "locations.0.physicalLocation.artifactLocation.uri");
        cr_assert_str_eq(sget(res, "locations.0.physicalLocation.artifactLocation.uriBaseId"),
                         "%SRCROOT%");
        char *p = mi_test_path(uri);
        cr_assert(mi_fs_exists(p), "%s", p);
        free(p);
    }
    json_decref(doc);
    mi_buf_release(&text);
    mi_policy_result_free(r);
}

/* A hand-made result: outline rows share a rule, a failed scenario without recorded failures
 * points at its failing step, warnings are warnings, secrets are redacted, paths outside the
 * repository are absolute file URIs, invalid UTF-8 is replaced. */
Test(sarif, hand_made_result)
{
    char *cells[] = {"x"};
    char *tags[] = {"warning"};
    struct mi_policy_failure fails[] = {
        {"value hunter2hunter2 is not allowed", "aws_s3_bucket.b[0]", "'hunter2hunter2'", 7, 0},
        {"just a note", NULL, NULL, 8, 1},
    };
    struct mi_policy_step steps[] = {
        {"Given I have x defined", 11, MI_POLICY_PASSED},
        {"Then it must \xff fail", 12, MI_POLICY_FAILED, .error_name = "TypeError",
         .error_reason = "bad \xc3 type"},
    };
    struct mi_policy_scenario rows[2] = {
        {.keyword = "Scenario Outline",
         .name = "Rows - row 0",
         .line = 5,
         .state = MI_POLICY_FAILED,
         .failures = fails,
         .nfailures = 2,
         .row = 0,
         .cells = cells,
         .ncells = 1},
        {.keyword = "Scenario Outline",
         .name = "Rows - row 1",
         .line = 5,
         .state = MI_POLICY_PASSED,
         .row = 1},
    };
    struct mi_policy_scenario plain = {.keyword = "Scenario",
                                       .name = "Raises \xe2\x82",
                                       .line = 10,
                                       .tags = tags,
                                       .ntags = 1,
                                       .state = MI_POLICY_FAILED,
                                       .steps = steps,
                                       .nsteps = 2,
                                       .row = -1};
    struct mi_policy_item items[] = {
        {.is_outline = 1,
         .keyword = "Scenario Outline",
         .name = "Rows",
         .line = 5,
         .rows = rows,
         .nrows = 2},
        {.scenario = &plain},
    };
    struct mi_policy_feature f = {.path = "/nonexistent/outside/my policies/x.feature",
                                  .name = "X",
                                  .line = 1,
                                  .items = items,
                                  .nitems = 2,
                                  .state = MI_POLICY_FAILED};
    struct mi_policy_result r = {.features = &f, .nfeatures = 1, .violations = 2};

    const char *tf = "\n\nresource \"aws_s3_bucket\" \"b\" {\n}\n";
    struct mi_tfsource *src = NULL;
    mi_tfsource_scan_text(&src, tf, strlen(tf), "envs/dev/s3.tf");
    const char *secrets[] = {"hunter2hunter2"};
    struct mi_sarif_options so = {.sources = src, .secrets = secrets, .secrets_len = 1};
    mi_buf text = MI_BUF_INIT;
    cr_assert_eq(mi_sarif_render(&text, &r, &so), 0, "%s", mi_error_last());
    dump("hand-made", &text);
    cr_assert_null(strstr(text.ptr, "hunter2"), "%s", text.ptr);
    json_error_t jerr;
    json_t *doc = json_loadb(text.ptr, text.len, 0, &jerr);
    cr_assert_not_null(doc, "%s", jerr.text);
    json_t *run = json_array_get(json_object_get(doc, "runs"), 0);
    json_t *rules =
        json_object_get(json_object_get(json_object_get(run, "tool"), "driver"), "rules");
    cr_assert_eq(json_array_size(rules), 2, "outline rows share one rule");
    cr_assert_str_eq(sget(rules, "0.id"), "x/rows");
    cr_assert_str_eq(sget(rules, "1.id"), "x/raises");
    cr_assert_null(json_object_get(run, "automationDetails"));
    json_t *results = json_object_get(run, "results");
    cr_assert_eq(json_array_size(results), 3);
    /* 1: the violation, at the .tf declaration (a relative path not under a root) */
    cr_assert_str_eq(sget(results, "0.level"), "error");
    cr_assert_str_eq(sget(results, "0.message.text"), "value *** is not allowed");
    cr_assert_str_eq(sget(results, "0.properties.value"), "'***'");
    cr_assert_str_eq(sget(results, "0.locations.0.physicalLocation.artifactLocation.uri"),
                     "envs/dev/s3.tf");
    cr_assert_str_eq(sget(results, "0.relatedLocations.0.physicalLocation.artifactLocation.uri"),
                     "file:///nonexistent/outside/my%20policies/x.feature");
    /* 2: the warning, at the feature step */
    cr_assert_str_eq(sget(results, "1.level"), "warning");
    cr_assert_str_eq(sget(results, "1.locations.0.physicalLocation.artifactLocation.uri"),
                     "file:///nonexistent/outside/my%20policies/x.feature");
    /* 3: the raising scenario, at its failing step, with the replacement character */
    cr_assert_str_eq(sget(results, "2.ruleId"), "x/raises");
    cr_assert(strstr(sget(results, "2.message.text"), "TypeError: bad \xef\xbf\xbd type"), "%s",
              sget(results, "2.message.text"));
    cr_assert(strstr(sget(results, "2.properties.scenario"), "Raises \xef\xbf\xbd"));
    json_t *region = json_object_get(
        json_object_get(json_array_get(json_object_get(json_array_get(results, 2), "locations"), 0),
                        "physicalLocation"),
        "region");
    cr_assert_eq(json_integer_value(json_object_get(region, "startLine")), 12);
    /* Warnings and violations differ in fingerprint; the same finding has the same one. */
    cr_assert_str_neq(sget(results, "0.partialFingerprints.mlinfraPolicyFinding/v1"),
                      sget(results, "1.partialFingerprints.mlinfraPolicyFinding/v1"));
    json_decref(doc);

    mi_buf again = MI_BUF_INIT;
    cr_assert_eq(mi_sarif_render(&again, &r, &so), 0);
    cr_assert_str_eq(again.ptr, text.ptr, "rendering is deterministic");
    mi_buf_release(&again);
    mi_buf_release(&text);
    mi_tfsource_free(src);
}

Test(sarif, empty_result_is_a_valid_empty_run)
{
    struct mi_policy_result r = {0};
    mi_buf text = MI_BUF_INIT;
    cr_assert_eq(mi_sarif_render(&text, &r, NULL), 0);
    dump("empty", &text);
    json_t *doc = json_loads(text.ptr, 0, NULL);
    cr_assert_not_null(doc);
    cr_assert_eq(json_array_size(
                     json_object_get(json_array_get(json_object_get(doc, "runs"), 0), "results")),
                 0);
    json_decref(doc);
    mi_buf_release(&text);
}

Test(sarif, rule_ids_are_slugs)
{
    struct {
        const char *path, *name, *want;
    } cases[] = {
        {"policies/cluster.feature", "Kubernetes RBAC is enabled on every cluster",
         "cluster/kubernetes-rbac-is-enabled-on-every-cluster"},
        {"x.feature", "  Ünïcode & (odd) -- names!  ", "x/n-code-odd-names"},
        {NULL, NULL, "unnamed/unnamed"},
        {"a/b/My Policies.feature", "", "my-policies/unnamed"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *id = mi_sarif_rule_id(cases[i].path, cases[i].name);
        cr_assert_str_eq(id, cases[i].want);
        free(id);
    }
}
