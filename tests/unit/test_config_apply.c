/* context/config: the `apply:` section of mlinfra.yml (plan expiry, deployments, the health
 * check; docs/extras.md): defaults, every key, and bad values refused with file and line. */
#include <criterion/criterion.h>
#include <string.h>

#include "context/config.h"
#include "util/error.h"

TestSuite(config_apply);

static struct mi_config *parse(const char *text)
{
    struct mi_config *cfg = NULL;
    cr_assert_eq(mi_config_parse(&cfg, text, strlen(text), "mlinfra.yml"), 0, "%s",
                 mi_error_last());
    return cfg;
}

Test(config_apply, defaults_without_the_section)
{
    struct mi_config *cfg = parse("version: 1\n");
    cr_assert_eq(cfg->apply.plan_max_age_s, 7 * 24 * 3600);
    cr_assert_eq(cfg->apply.deployments, 1);
    cr_assert_eq(cfg->apply.health_check.enabled, 0, "probing is off unless configured");
    cr_assert_null(cfg->apply.health_check.output);
    cr_assert_null(cfg->apply.health_check.path);
    cr_assert_eq(cfg->apply.health_check.tries, 10);
    cr_assert_eq(cfg->apply.health_check.timeout_s, 300);
    cr_assert_eq(cfg->apply.health_check.fail_on_unreachable, 0);
    mi_config_free(cfg);
    cr_assert_eq(mi_config_load(&cfg, "/nonexistent/mlinfra.yml", NULL, 0), 0);
    cr_assert_eq(cfg->apply.plan_max_age_s, 7 * 24 * 3600);
    cr_assert_eq(cfg->apply.health_check.enabled, 0);
    mi_config_free(cfg);
}

Test(config_apply, every_key)
{
    struct mi_config *cfg = parse("apply:\n"
                                  "  plan_max_age: 36h\n"
                                  "  deployments: false\n"
                                  "  health_check:\n"
                                  "    output: service_url\n"
                                  "    path: /health\n"
                                  "    tries: 5\n"
                                  "    timeout: 2m\n"
                                  "    fail_on_unreachable: true\n");
    cr_assert_eq(cfg->apply.plan_max_age_s, 36 * 3600);
    cr_assert_eq(cfg->apply.deployments, 0);
    cr_assert_eq(cfg->apply.health_check.enabled, 1);
    cr_assert_str_eq(cfg->apply.health_check.output, "service_url");
    cr_assert_str_eq(cfg->apply.health_check.path, "/health");
    cr_assert_eq(cfg->apply.health_check.tries, 5);
    cr_assert_eq(cfg->apply.health_check.timeout_s, 120);
    cr_assert_eq(cfg->apply.health_check.fail_on_unreachable, 1);
    mi_config_free(cfg);

    cfg = parse("apply:\n  plan_max_age: never\n  health_check: false\n");
    cr_assert_eq(cfg->apply.plan_max_age_s, -1);
    cr_assert_eq(cfg->apply.health_check.enabled, 0);
    mi_config_free(cfg);
    cfg = parse("apply:\n  health_check:\n    enabled: false\n    path: /health\n");
    cr_assert_eq(cfg->apply.health_check.enabled, 0);
    mi_config_free(cfg);
    cfg = parse("apply:\n  health_check: true\n");
    cr_assert_eq(cfg->apply.health_check.enabled, 1);
    cr_assert_eq(cfg->apply.health_check.tries, 10);
    mi_config_free(cfg);
    cfg = parse("apply:\n  health_check:\n");
    cr_assert_eq(cfg->apply.health_check.enabled, 0);
    mi_config_free(cfg);
    cfg = parse("apply:\n");
    cr_assert_eq(cfg->apply.deployments, 1);
    mi_config_free(cfg);
}

Test(config_apply, bad_values_name_file_line_and_key)
{
    struct {
        const char *text, *want;
    } cases[] = {
        {"apply:\n  plan_max_age: 7 days\n",
         "config: mlinfra.yml:2: apply.plan_max_age: '7 days' is not a duration"},
        {"apply:\n  plan_max_age: 0d\n", "apply.plan_max_age: '0d' is not a duration"},
        {"apply:\n  plan_max_age: [1]\n", "apply.plan_max_age: expected a duration"},
        {"apply:\n  deployments: yes\n", "apply.deployments: expected true or false, got 'yes'"},
        {"apply:\n  deploy: true\n",
         "config: mlinfra.yml:2: apply: unknown key 'deploy' (expected one of: plan_max_age, "
         "deployments, health_check)"},
        {"apply:\n  health_check:\n    tries: 0\n",
         "mlinfra.yml:3: apply.health_check.tries: expected a whole number from 1 to 100, got '0'"},
        {"apply:\n  health_check:\n    tries: 2.5\n", "apply.health_check.tries: expected a whole"},
        {"apply:\n  health_check:\n    timeout: 2h\n",
         "apply.health_check.timeout: '2h' is longer than the limit of 3600 seconds"},
        {"apply:\n  health_check:\n    path: health\n",
         "apply.health_check.path: 'health' is not a URL path"},
        {"apply:\n  health_check:\n    path: /a b\n", "is not a URL path"},
        {"apply:\n  health_check:\n    output: 1x\n",
         "apply.health_check.output: '1x' is not a terraform output name"},
        {"apply:\n  health_check:\n    url: http://x\n",
         "apply.health_check: unknown key 'url' (expected one of: enabled, output, path, tries, "
         "timeout, fail_on_unreachable)"},
        {"apply:\n  health_check: maybe\n", "apply.health_check: expected true or false"},
        {"apply: 3\n", "apply: expected a mapping"},
        {"aply:\n  deployments: true\n", "unknown key 'aply' (expected one of: version, "
                                         "environments_dir, defaults, environments, policies, "
                                         "terraform, plan_store, apply)"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mi_config *cfg = NULL;
        int rc = mi_config_parse(&cfg, cases[i].text, strlen(cases[i].text), "mlinfra.yml");
        cr_assert_eq(rc, MI_EUSAGE, "accepted: %s", cases[i].text);
        cr_assert_null(cfg);
        cr_assert(strstr(mi_error_last(), cases[i].want), "%s\n  got: %s", cases[i].text,
                  mi_error_last());
    }
}
