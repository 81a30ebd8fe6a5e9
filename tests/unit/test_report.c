/* Tests for report/comment.h: the plan comment's content, its redaction of every sensitive
 * value, and the hard fit under GitHub's 65,536-character limit. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "plangen.h"
#include "report/applied.h"
#include "report/comment.h"
#include "terraform/changes.h"
#include "testsupport.h"
#include "util/error.h"
#include "util/log.h"

static struct mi_tfplan *load(const char *name)
{
    char *rel = mi_xasprintf("tests/fixtures/plans/%s", name);
    char *path = mi_test_path(rel);
    struct mi_tfplan *p = NULL;
    cr_assert_eq(mi_tfplan_load(&p, path), 0, "%s", mi_error_last());
    free(path);
    free(rel);
    return p;
}

static void assert_no_secrets(const char *text, const struct mi_tfplan *p)
{
    for (size_t i = 0; i < p->sensitive_len; i++)
        cr_assert(strstr(text, p->sensitive[i]) == NULL, "secret '%s' leaked", p->sensitive[i]);
}

static const struct mi_report_policy policies[] = {
    {"policies/storage.feature", "Storage accounts replicate across zones", 7,
     MI_REPORT_POLICY_FAILED, "azurerm_storage_account.mlflow: account_replication_type is LRS"},
    {"policies/tags.feature", "Every resource has an env tag", 3, MI_REPORT_POLICY_PASSED, NULL},
    {"policies/aks.feature", "Clusters run a supported version", 5, MI_REPORT_POLICY_SKIPPED,
     "no azurerm_kubernetes_cluster in the plan"},
};

Test(report, plan_comment_has_marker_counts_replacements_and_policies)
{
    struct mi_tfplan *p = load("aks_mlflow_replace.json");
    /* terraform's own text normally hides sensitive values; plant them to prove redaction. */
    const char *text = "Terraform will perform the following actions:\n"
                       "  # azurerm_key_vault_secret.db_password will be updated in-place\n"
                       "      value = \"new-db-password-Xk42!\"\n"
                       "      token: kubeconfig-token-0123456789abcdef\n"
                       "Plan: 3 to add, 2 to change, 3 to destroy.\n";
    struct mi_report_plan in = {0};
    in.environment = "dev";
    in.directory = "environments/dev";
    in.head_sha = "0123456789abcdef0123456789abcdef01234567";
    in.plan_id = "sha256:9f86d081884c7d65";
    in.run_url = "https://github.com/o/r/actions/runs/1";
    in.plan = p;
    in.plan_text = text;
    in.plan_text_len = strlen(text);
    in.policies = policies;
    in.policies_len = 3;
    in.policies_evaluated = 1;
    mi_buf out = MI_BUF_INIT;
    mi_report_plan_comment(&out, &in);
    const char *c = out.ptr;

    cr_assert(strncmp(c, "<!-- mlinfra:plan env=dev -->\n", 30) == 0, "%.60s", c);
    cr_assert(
        strstr(c, "**Plan: 1 to import, 3 to add, 2 to change, 3 to destroy (2 replacements).**"),
        "%s", c);
    cr_assert(strstr(c, "2 resources will be replaced"));
    cr_assert(
        strstr(c, "`module.cluster.azurerm_kubernetes_cluster.main` | **destroy, then create**"),
        "%s", c);
    cr_assert(strstr(c, "| `default_node_pool[0].vm_size` |"), "forced-by column: %s", c);
    cr_assert(strstr(c, "`\"Standard_D2s_v5\"` → `\"Standard_D4s_v5\"` **forces replacement**"),
              "%s", c);
    cr_assert(strstr(c, "`azurerm_storage_account.mlflow` | create new, then destroy old"));
    cr_assert(strstr(c, "moved from `azurerm_resource_group.this`"));
    cr_assert(strstr(c, "imported from `/subscriptions/"));
    cr_assert(strstr(c, "`value`: _(sensitive)_ → _(sensitive)_"), "%s", c);
    cr_assert(
        strstr(c, "| `mlflow_url` | update | `\"http://20.61.12.33\"` → _(known after apply)_ |"),
        "%s", c);
    cr_assert(strstr(c, "| `db_admin_password` | create | _(sensitive)_ |"));
    cr_assert(strstr(c, "Changed outside Terraform (1)"));
    cr_assert(strstr(c, "| ❌ failed | Storage accounts replicate across zones | "
                        "`policies/storage.feature:7` |"),
              "%s", c);
    cr_assert(strstr(c, "| ⏭️ skipped | Clusters run a supported version"));
    cr_assert(strstr(c, "Policies: 1 passed, 1 failed, 1 skipped"));
    cr_assert(strstr(c, "`0123456789ab`"));
    cr_assert(strstr(c, "`sha256:9f86d081884c7d65`"));
    cr_assert(strstr(c, "<details><summary>Output of <code>terraform plan</code></summary>"));
    cr_assert(strstr(c, "value = \"***\""), "plan text redacted: %s", c);
    assert_no_secrets(c, p);

    mi_buf status = MI_BUF_INIT;
    mi_report_plan_status(&status, &in);
    cr_assert_str_eq(status.ptr,
                     "1 to import, 3 to add, 2 to change, 3 to destroy (2 replacements), "
                     "1 policy failure");
    mi_buf_release(&status);
    mi_buf_release(&out);
    mi_tfplan_free(p);
}

Test(report, ten_thousand_changes_fit_with_summary_and_failures_intact)
{
    mi_buf json = MI_BUF_INIT, text = MI_BUF_INIT, out = MI_BUF_INIT;
    mi_test_plan_generate(&json, 10000, "big-plan-secret", NULL);
    struct mi_tfplan *p = NULL;
    cr_assert_eq(mi_tfplan_parse(&p, json.ptr, json.len, "generated"), 0, "%s", mi_error_last());
    for (int i = 0; i < 10000; i++)
        mi_buf_addf(&text,
                    "  # module.m%d.azurerm_storage_container.c[%d] password = "
                    "\"big-plan-secret-%d\"\n",
                    i % 5, i, i);
    struct mi_report_policy many[200];
    for (int i = 0; i < 200; i++) {
        many[i].feature = "policies/many.feature";
        many[i].scenario = "A scenario that passes";
        many[i].line = i + 1;
        many[i].result = i % 50 == 0 ? MI_REPORT_POLICY_FAILED : MI_REPORT_POLICY_PASSED;
        many[i].message = i % 50 == 0 ? "failure message that must stay" : NULL;
    }
    struct mi_report_plan in = {0};
    in.environment = "production";
    in.plan = p;
    in.plan_text = text.ptr;
    in.plan_text_len = text.len;
    in.policies = many;
    in.policies_len = 200;
    in.policies_evaluated = 1;
    mi_report_plan_comment(&out, &in);

    cr_assert_leq(out.len, MI_REPORT_COMMENT_MAX, "comment is %zu bytes", out.len);
    cr_assert(strstr(out.ptr, "**Plan: 7,000 to add, 2,000 to change, 2,000 to destroy "
                              "(1,000 replacements).**"),
              "%.2000s", out.ptr);
    cr_assert(strstr(out.ptr, "1,000 resources will be replaced"));
    size_t failures = 0;
    for (const char *s = out.ptr; (s = strstr(s, "failure message that must stay")); s++)
        failures++;
    cr_assert_eq(failures, 4, "every policy failure is kept");
    cr_assert(strstr(out.ptr, "passing and skipped scenarios are not listed"));
    cr_assert(strstr(out.ptr, "more resources not listed"), "says the table was cut");
    cr_assert(strstr(out.ptr, "#### 🔁 Replace (1,000)"));
    assert_no_secrets(out.ptr, p);
    cr_assert(strstr(out.ptr, "big-plan-secret") == NULL);
    mi_tfplan_free(p);
    mi_buf_release(&json);
    mi_buf_release(&text);
    mi_buf_release(&out);
}

Test(report, long_plan_text_is_cut_first_and_says_so)
{
    struct mi_tfplan *p = load("aks_mlflow_replace.json");
    mi_buf text = MI_BUF_INIT, out = MI_BUF_INIT;
    for (int i = 0; i < 20000; i++)
        mi_buf_addf(&text, "line %d of the plan output\n", i);
    struct mi_report_plan in = {0};
    in.environment = "dev";
    in.plan = p;
    in.plan_text = text.ptr;
    in.plan_text_len = text.len;
    mi_report_plan_comment(&out, &in);
    cr_assert_leq(out.len, MI_REPORT_COMMENT_MAX);
    cr_assert_gt(out.len, MI_REPORT_COMMENT_MAX - 2000, "uses the room it has: %zu", out.len);
    cr_assert(strstr(out.ptr, "line 0 of the plan output\n"));
    cr_assert(strstr(out.ptr, "line 19999 of") == NULL);
    cr_assert(strstr(out.ptr, "(shortened)"));
    cr_assert(strstr(out.ptr, " of 20,000 lines are shown"), "%s", out.ptr + out.len - 600);
    /* Every resource row is still there. */
    cr_assert(strstr(out.ptr, "`module.mlflow.random_password.db`"));
    cr_assert(strstr(out.ptr, "more resources not listed") == NULL);

    /* A smaller limit is honoured too. */
    mi_buf_reset(&out);
    in.max_bytes = 6000;
    mi_report_plan_comment(&out, &in);
    cr_assert_leq(out.len, 6000);
    cr_assert(strstr(out.ptr, "**Plan: 1 to import, 3 to add"));
    mi_buf_release(&text);
    mi_buf_release(&out);
    mi_tfplan_free(p);
}

Test(report, failed_step_shows_the_redacted_error_tail)
{
    mi_buf err = MI_BUF_INIT, out = MI_BUF_INIT;
    for (int i = 0; i < 5000; i++)
        mi_buf_addf(&err, "provider log line %d with some padding to make it long enough\n", i);
    mi_buf_adds(&err, "Error: storage key sekret-storage-key-123 rejected\n");
    const char *secrets[] = {"sekret-storage-key-123"};
    struct mi_report_plan in = {0};
    in.environment = "staging";
    in.failed_step = "init";
    in.error_text = err.ptr;
    in.error_text_len = err.len;
    in.secrets = secrets;
    in.secrets_len = 1;
    in.policy_note = "Policies were not evaluated: there is no plan.";
    mi_report_plan_comment(&out, &in);
    cr_assert_leq(out.len, MI_REPORT_COMMENT_MAX);
    cr_assert(strstr(out.ptr, "### ❌ Terraform plan for `staging`"));
    cr_assert(strstr(out.ptr, "**`terraform init` failed**"));
    cr_assert(strstr(out.ptr, "Error: storage key *** rejected"), "%s", out.ptr);
    cr_assert(strstr(out.ptr, "sekret-storage-key-123") == NULL);
    cr_assert(strstr(out.ptr, "(the end)"));
    cr_assert(strstr(out.ptr, "provider log line 0 ") == NULL);
    cr_assert(strstr(out.ptr, "Policies were not evaluated"));
    mi_buf status = MI_BUF_INIT;
    mi_report_plan_status(&status, &in);
    cr_assert_str_eq(status.ptr, "terraform init failed");
    mi_buf_release(&status);
    mi_buf_release(&err);
    mi_buf_release(&out);
}

Test(report, no_changes_and_log_registry_redaction)
{
    struct mi_tfplan *p = load("tc_issue_173_empty.json");
    mi_log_mask("registered-token-value");
    const char *text = "No changes. registered-token-value\n";
    struct mi_report_plan in = {0};
    in.environment = "dev";
    in.plan = p;
    in.plan_text = text;
    in.plan_text_len = strlen(text);
    mi_buf out = MI_BUF_INIT;
    mi_report_plan_comment(&out, &in);
    cr_assert(strstr(out.ptr, "### ✅ Terraform plan for `dev`"));
    cr_assert(strstr(out.ptr, "**No changes.**"));
    cr_assert(strstr(out.ptr, "registered-token-value") == NULL);
    cr_assert(strstr(out.ptr, "No changes. ***"));
    mi_log_mask_reset();
    mi_buf_release(&out);
    mi_tfplan_free(p);
}

Test(report, hostile_text_is_escaped)
{
    const char *json =
        "{\"format_version\":\"1.2\",\"resource_changes\":[{\"address\":\"a.b[\\\"x`|y\\\"]\","
        "\"mode\":\"managed\",\"type\":\"a\",\"name\":\"b\",\"change\":{\"actions\":[\"create\"],"
        "\"before\":null,\"after\":{\"v\":\"```\"}}}]}";
    struct mi_tfplan *p = NULL;
    cr_assert_eq(mi_tfplan_parse(&p, json, strlen(json), "t"), 0, "%s", mi_error_last());
    struct mi_report_policy pol = {"p.feature", "<img src=x> @octocat [link](http://x)", 1,
                                   MI_REPORT_POLICY_FAILED, "a | b\nnext"};
    const char *text = "```\n</details>\n";
    struct mi_report_plan in = {0};
    in.environment = "dev";
    in.plan = p;
    in.policies = &pol;
    in.policies_len = 1;
    in.policies_evaluated = 1;
    in.plan_text = text;
    in.plan_text_len = strlen(text);
    mi_buf out = MI_BUF_INIT;
    mi_report_plan_comment(&out, &in);
    cr_assert(strstr(out.ptr, "`` a.b[\"x`\\|y\"] ``"), "%s", out.ptr);
    cr_assert(strstr(out.ptr, "&lt;img src=x&gt; @\xe2\x80\x8boctocat \\[link\\](http://x)"), "%s",
              out.ptr);
    cr_assert(strstr(out.ptr, "a \\| b<br>next"));
    cr_assert(strstr(out.ptr, "````text\n```\n</details>\n````\n"), "%s", out.ptr);
    mi_buf_release(&out);
    mi_tfplan_free(p);
}

Test(report, applied_section_replaces_itself_and_fits)
{
    struct mi_tfplan *p = load("aks_mlflow_replace.json");
    mi_buf text = MI_BUF_INIT, comment = MI_BUF_INIT;
    for (int i = 0; i < 20000; i++)
        mi_buf_addf(&text, "line %d of the plan output\n", i);
    struct mi_report_plan in = {0};
    in.environment = "dev";
    in.plan = p;
    in.plan_text = text.ptr;
    in.plan_text_len = text.len;
    mi_report_plan_comment(&comment, &in);
    cr_assert_gt(comment.len, MI_REPORT_COMMENT_MAX - 2000, "a full comment");

    const struct mi_report_output outs[] = {{"mlflow_url", "http://20.61.12.34", 0},
                                            {"db_admin_password", "output-secret-pa55word", 1}};
    const char *secrets[] = {"output-secret-pa55word"};
    struct mi_report_applied ap = {0};
    ap.result = MI_REPORT_APPLY_OK;
    ap.environment = "dev";
    ap.when = "2025-01-31T12:00:00Z";
    ap.plan_id = "sha256:abc";
    ap.address = "http://20.61.12.34";
    ap.summary = "Apply complete! Resources: 3 added, 2 changed, 3 destroyed.";
    ap.outputs = outs;
    ap.outputs_len = 2;
    ap.secrets = secrets;
    ap.secrets_len = 1;
    mi_buf section = MI_BUF_INIT, first = MI_BUF_INIT, second = MI_BUF_INIT;
    mi_report_applied_section(&section, &ap);
    /* A limit the plan comment already fills: the plan output must make room. */
    mi_report_comment_with_applied(&first, comment.ptr, section.ptr, comment.len);
    cr_assert_leq(first.len, comment.len);
    cr_assert(strncmp(first.ptr, "<!-- mlinfra:plan env=dev -->", 29) == 0, "marker kept");
    cr_assert(strstr(first.ptr, "#### ✅ Applied to `dev`"));
    cr_assert(strstr(first.ptr, "**Service address:** `http://20.61.12.34`"), "%s", section.ptr);
    cr_assert(strstr(first.ptr, "| `db_admin_password` | _(sensitive)_ |"));
    cr_assert(strstr(first.ptr, "output-secret-pa55word") == NULL);
    cr_assert(strstr(first.ptr, "**Plan: 1 to import, 3 to add"), "the plan summary stays");
    cr_assert(strstr(first.ptr, "plan output was removed to make room"));
    cr_assert(strstr(first.ptr, "### 📝 Terraform plan for `dev`\n\n" MI_REPORT_APPLIED_BEGIN),
              "right under the heading: %.300s", first.ptr);

    /* A re-run replaces the section rather than adding a second. */
    mi_buf_reset(&section);
    ap.result = MI_REPORT_APPLY_REFUSED;
    ap.summary = "already applied";
    mi_report_applied_section(&section, &ap);
    mi_report_comment_with_applied(&second, first.ptr, section.ptr, 0);
    size_t sections = 0;
    for (const char *s = second.ptr; (s = strstr(s, MI_REPORT_APPLIED_BEGIN)); s++)
        sections++;
    cr_assert_eq(sections, 1);
    cr_assert(strstr(second.ptr, "⛔ Not applied") && !strstr(second.ptr, "✅ Applied"));
    mi_buf_release(&section);
    mi_buf_release(&first);
    mi_buf_release(&second);
    mi_buf_release(&comment);
    mi_buf_release(&text);
    mi_tfplan_free(p);
}
