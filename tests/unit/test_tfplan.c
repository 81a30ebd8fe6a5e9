/* Tests for terraform/changes.h (the change model) on real terraform plan JSON from the
 * terraform-compliance suite (tests/fixtures/plans/tc_*, MIT) and on crafted plans in the same
 * format for what those lack: replacements in both orders, moves, imports, forget, sensitive
 * values everywhere terraform puts them. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "plangen.h"
#include "terraform/changes.h"
#include "testsupport.h"
#include "util/error.h"

static struct mi_tfplan *load(const char *name)
{
    char *rel = mi_xasprintf("tests/fixtures/plans/%s", name);
    char *path = mi_test_path(rel);
    struct mi_tfplan *p = NULL;
    int rc = mi_tfplan_load(&p, path);
    cr_assert_eq(rc, 0, "%s: %s", name, mi_error_last());
    free(path);
    free(rel);
    return p;
}

static const struct mi_tfplan_resource *find(const struct mi_tfplan *p, const char *address)
{
    for (size_t i = 0; i < p->resources_len; i++)
        if (strcmp(p->resources[i].address, address) == 0)
            return &p->resources[i];
    cr_assert_fail("no resource %s", address);
    return NULL;
}

static const struct mi_tfplan_attr *attr(const struct mi_tfplan_resource *r, const char *path)
{
    for (size_t i = 0; i < r->attrs_len; i++)
        if (strcmp(r->attrs[i].path, path) == 0)
            return &r->attrs[i];
    return NULL;
}

static int has_secret(const struct mi_tfplan *p, const char *value)
{
    for (size_t i = 0; i < p->sensitive_len; i++)
        if (strcmp(p->sensitive[i], value) == 0)
            return 1;
    return 0;
}

Test(tfplan, real_plan_with_drift_updates_and_deletes)
{
    struct mi_tfplan *p = load("tc_issue_522_drift.json");
    cr_assert_str_eq(p->terraform_version, "1.0.0");
    cr_assert_eq(p->resources_len, 15);
    cr_assert_eq(p->counts.add, 5);
    cr_assert_eq(p->counts.change, 1);
    cr_assert_eq(p->counts.destroy, 2);
    cr_assert_eq(p->counts.replace, 0);
    cr_assert_eq(p->counts.noop, 7);
    cr_assert_eq(p->counts.outputs, 1);
    cr_assert(mi_tfplan_has_changes(p));
    const struct mi_tfplan_resource *r = find(p, "aws_cloudwatch_event_target.metric_event_target");
    cr_assert_eq(r->action, MI_TFPLAN_UPDATE);
    const struct mi_tfplan_attr *a = attr(r, "arn");
    cr_assert_not_null(a);
    cr_assert(a->after_unknown);
    cr_assert_str_eq(a->before, "\"\"");
    cr_assert_null(a->after);
    /* Terraform 1.0 wrote drift entries without an address; it is rebuilt from the parts. */
    cr_assert_eq(p->drift_len, 15);
    cr_assert_str_eq(p->drift[0].address, "aws_cloudwatch_event_rule.metrics_schedule");
    size_t deleted = 0;
    for (size_t i = 0; i < p->drift_len; i++)
        deleted += p->drift[i].action == MI_TFPLAN_DELETE;
    cr_assert_eq(deleted, 6);
    mi_tfplan_free(p);
}

Test(tfplan, real_plan_in_modules_shows_changed_attributes)
{
    struct mi_tfplan *p = load("tc_issue_249_modules.json");
    cr_assert_eq(p->counts.change, 4);
    cr_assert_eq(p->counts.add, 2);
    const struct mi_tfplan_resource *r = find(p, "module.alb.aws_alb.alb");
    cr_assert_str_eq(r->module_address, "module.alb");
    cr_assert_str_eq(r->type, "aws_alb");
    const struct mi_tfplan_attr *a = attr(r, "tags.Name");
    cr_assert_not_null(a);
    cr_assert_str_eq(a->before, "\"myapp-jmeter-results-sandbox\"");
    cr_assert_str_eq(a->after, "\"mybu-sandbox-myapp-instance-alb\"");
    cr_assert_null(attr(r, "tags.region"), "unchanged attributes are not listed");
    mi_tfplan_free(p);
}

Test(tfplan, only_output_changes_count_as_changes)
{
    struct mi_tfplan *p = load("tc_issue_242_outputs_only.json");
    cr_assert_eq(p->counts.add + p->counts.change + p->counts.destroy, 0);
    cr_assert_eq(p->counts.outputs, 1);
    cr_assert(mi_tfplan_has_changes(p));
    cr_assert_str_eq(p->outputs[0].name, "emails");
    cr_assert_eq(p->outputs[0].action, MI_TFPLAN_CREATE);
    cr_assert(strstr(p->outputs[0].after, "myteam.i@my-company.com.br") != NULL);
    mi_tfplan_free(p);
}

Test(tfplan, empty_plan_has_no_changes)
{
    struct mi_tfplan *p = load("tc_issue_173_empty.json");
    cr_assert_eq(p->resources_len, 0);
    cr_assert_not(mi_tfplan_has_changes(p));
    mi_tfplan_free(p);
}

Test(tfplan, older_and_newer_format_versions_parse)
{
    struct mi_tfplan *p = load("tc_issue_567_format02.json");
    cr_assert_str_eq(p->format_version, "0.2");
    cr_assert_eq(p->counts.change, 6);
    mi_tfplan_free(p);
    p = load("tc_regex_on_when_format10.json");
    cr_assert_str_eq(p->format_version, "1.0");
    cr_assert_eq(p->counts.add, 2);
    mi_tfplan_free(p);
}

Test(tfplan, replacements_moves_imports_and_forget)
{
    struct mi_tfplan *p = load("aks_mlflow_replace.json");
    cr_assert_eq(p->counts.replace, 2);
    cr_assert_eq(p->counts.add, 3, "random_password + 2 replacements");
    cr_assert_eq(p->counts.destroy, 3, "workspace + 2 replacements");
    cr_assert_eq(p->counts.change, 2);
    cr_assert_eq(p->counts.read, 1);
    cr_assert_eq(p->counts.import, 1);
    cr_assert_eq(p->counts.move, 1);
    cr_assert_eq(p->counts.forget, 1);
    cr_assert_eq(p->counts.outputs, 2);

    const struct mi_tfplan_resource *aks =
        find(p, "module.cluster.azurerm_kubernetes_cluster.main");
    cr_assert_eq(aks->action, MI_TFPLAN_REPLACE_DBC);
    cr_assert_str_eq(aks->action_reason, "replace_because_cannot_update");
    cr_assert_eq(aks->replace_paths_len, 1);
    cr_assert_str_eq(aks->replace_paths[0], "default_node_pool[0].vm_size");
    const struct mi_tfplan_attr *vm = attr(aks, "default_node_pool[0].vm_size");
    cr_assert_not_null(vm);
    cr_assert(vm->forces_replacement);
    cr_assert_str_eq(vm->before, "\"Standard_D2s_v5\"");
    cr_assert_str_eq(vm->after, "\"Standard_D4s_v5\"");
    const struct mi_tfplan_attr *ver = attr(aks, "kubernetes_version");
    cr_assert_not_null(ver);
    cr_assert_not(ver->forces_replacement);
    const struct mi_tfplan_attr *kc = attr(aks, "kube_config_raw");
    cr_assert_not_null(kc);
    cr_assert(kc->before_sensitive);
    cr_assert_null(kc->before);

    const struct mi_tfplan_resource *st = find(p, "azurerm_storage_account.mlflow");
    cr_assert_eq(st->action, MI_TFPLAN_REPLACE_CBD);
    cr_assert(mi_tfplan_is_replace(st->action));
    cr_assert_str_eq(mi_tfplan_action_name(st->action), "replace");
    cr_assert(attr(st, "name")->forces_replacement);

    const struct mi_tfplan_resource *rg = find(p, "azurerm_resource_group.main");
    cr_assert_str_eq(rg->previous_address, "azurerm_resource_group.this");
    cr_assert_eq(rg->action, MI_TFPLAN_NOOP);
    const struct mi_tfplan_resource *ip = find(p, "azurerm_public_ip.mlflow");
    cr_assert(ip->importing);
    cr_assert(strstr(ip->import_id, "publicIPAddresses/pip-mlflow-dev") != NULL);
    cr_assert_eq(find(p, "azurerm_role_assignment.legacy_reader")->action, MI_TFPLAN_FORGET);
    cr_assert_eq(find(p, "data.azurerm_client_config.current")->action, MI_TFPLAN_READ);

    cr_assert_eq(p->drift_len, 1);
    cr_assert_not_null(attr(&p->drift[0], "tags.owner"));
    mi_tfplan_free(p);
}

Test(tfplan, sensitive_values_are_collected_and_never_kept_in_attributes)
{
    struct mi_tfplan *p = load("aks_mlflow_replace.json");
    const char *secrets[] = {"old-db-password-Zq81!",
                             "new-db-password-Xk42!",
                             "helm-db-secret-Pw0rd",
                             "output-secret-pa55word",
                             "variable-secret-Adm1n",
                             "c3RvcmFnZS1rZXktc2VjcmV0LXZhbHVlLTAx",
                             "c2Vjb25kYXJ5LWtleS1zZWNyZXQtdmFsdWU=",
                             "token: kubeconfig-token-0123456789abcdef",
                             NULL};
    for (int i = 0; secrets[i]; i++)
        cr_assert(has_secret(p, secrets[i]), "missing secret %s", secrets[i]);
    cr_assert_not(has_secret(p, "mlflow-dev"), "non-sensitive values are not secrets");
    for (size_t i = 1; i < p->sensitive_len; i++)
        cr_assert_geq(strlen(p->sensitive[i - 1]), strlen(p->sensitive[i]), "longest first");
    for (size_t r = 0; r < p->resources_len; r++) {
        for (size_t a = 0; a < p->resources[r].attrs_len; a++) {
            const struct mi_tfplan_attr *at = &p->resources[r].attrs[a];
            for (int i = 0; secrets[i]; i++) {
                cr_assert(!at->before || !strstr(at->before, secrets[i]), "%s", at->path);
                cr_assert(!at->after || !strstr(at->after, secrets[i]), "%s", at->path);
            }
        }
    }
    const struct mi_tfplan_resource *kv = find(p, "azurerm_key_vault_secret.db_password");
    const struct mi_tfplan_attr *v = attr(kv, "value");
    cr_assert_not_null(v);
    cr_assert(v->before_sensitive && v->after_sensitive);
    cr_assert_null(v->before);
    cr_assert_null(v->after);
    cr_assert_str_eq(attr(kv, "tags.rotated")->after, "\"2024-06\"");
    /* A sensitive value that did not change is not reported as a change. */
    cr_assert_null(attr(find(p, "module.mlflow.helm_release.mlflow"), "set_sensitive[0].value"));
    for (size_t i = 0; i < p->outputs_len; i++) {
        if (strcmp(p->outputs[i].name, "db_admin_password") == 0) {
            cr_assert(p->outputs[i].sensitive);
            cr_assert_null(p->outputs[i].after);
        }
        if (strcmp(p->outputs[i].name, "mlflow_url") == 0)
            cr_assert(p->outputs[i].after_unknown);
    }
    mi_tfplan_free(p);
}

Test(tfplan, moved_only_plan_has_changes)
{
    const char *json = "{\"format_version\":\"1.2\",\"resource_changes\":[{\"address\":\"a.b\","
                       "\"previous_address\":\"a.c\",\"mode\":\"managed\",\"type\":\"a\","
                       "\"name\":\"b\",\"change\":{\"actions\":[\"no-op\"],\"before\":{},"
                       "\"after\":{}}}]}";
    struct mi_tfplan *p = NULL;
    cr_assert_eq(mi_tfplan_parse(&p, json, strlen(json), "moved"), 0, "%s", mi_error_last());
    cr_assert_eq(p->counts.move, 1);
    cr_assert(mi_tfplan_has_changes(p));
    mi_tfplan_free(p);
}

Test(tfplan, refuses_what_is_not_a_plan)
{
    struct {
        const char *json;
        const char *message;
    } cases[] = {
        {"{\"format_version\":", "not valid JSON"},
        {"[1,2]", "not an object"},
        {"{\"resource_changes\":[]}", "no format_version"},
        {"{\"format_version\":\"2.0\"}", "format_version 2.0 is not supported"},
        {"{\"format_version\":\"1.2\",\"resource_changes\":{}}",
         "resource_changes is not an array"},
        {"{\"format_version\":\"1.2\",\"resource_changes\":[{\"change\":{\"actions\":[]}}]}",
         "resource_changes[0] is not a resource change"},
        {"{\"format_version\":\"1.2\",\"resource_changes\":[{\"address\":\"x.y\","
         "\"change\":{\"actions\":[\"explode\"]}}]}",
         "resource_changes[0] (x.y): unknown actions [\"explode\"]"},
        {"{\"format_version\":\"1.2\",\"output_changes\":{\"o\":{\"actions\":[\"delete\","
         "\"delete\"]}}}",
         "output_changes.o: unknown actions"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mi_tfplan *p = (struct mi_tfplan *)1;
        int rc = mi_tfplan_parse(&p, cases[i].json, strlen(cases[i].json), "plan.json");
        cr_assert_eq(rc, MI_ERR, "case %zu", i);
        cr_assert_null(p);
        cr_assert(strstr(mi_error_last(), cases[i].message) != NULL, "case %zu: %s", i,
                  mi_error_last());
        cr_assert(strncmp(mi_error_last(), "plan.json", 9) == 0, "names the source: %s",
                  mi_error_last());
    }
    mi_tfplan_free(NULL);
}

Test(tfplan, large_generated_plan)
{
    mi_buf json = MI_BUF_INIT;
    struct mi_test_plan_counts want;
    mi_test_plan_generate(&json, 10000, "gen-secret", &want);
    struct mi_tfplan *p = NULL;
    cr_assert_eq(mi_tfplan_parse(&p, json.ptr, json.len, "generated"), 0, "%s", mi_error_last());
    cr_assert_eq(p->resources_len, 10000);
    cr_assert_eq(p->counts.add, want.add);
    cr_assert_eq(p->counts.change, want.change);
    cr_assert_eq(p->counts.destroy, want.destroy);
    cr_assert_eq(p->counts.replace, want.replace);
    cr_assert(has_secret(p, "gen-secret-13"));
    cr_assert(has_secret(p, "gen-secret-old"));
    mi_tfplan_free(p);
    mi_buf_release(&json);
}
