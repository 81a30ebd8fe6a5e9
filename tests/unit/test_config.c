/* context/config: mlinfra.yml - defaults, the full schema, discovery, and errors that name
 * the file, the line and the key. */
#include <criterion/criterion.h>
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "context/config.h"
#include "testsupport.h"
#include "util/error.h"
#include "util/fs.h"

static void setup(void)
{
    git_libgit2_init();
}

static void teardown(void)
{
    git_libgit2_shutdown();
}

TestSuite(config, .init = setup, .fini = teardown);

static struct mi_config *parse_ok(const char *text)
{
    struct mi_config *cfg = NULL;
    cr_assert_eq(mi_config_parse(&cfg, text, strlen(text), "mlinfra.yml"), 0, "%s",
                 mi_error_last());
    return cfg;
}

/* The message must name the file and line ("mlinfra.yml:LINE:") and contain needle. */
static void expect_error(const char *text, int line, const char *needle)
{
    struct mi_config *cfg = NULL;
    int rc = mi_config_parse(&cfg, text, strlen(text), "mlinfra.yml");
    cr_assert_eq(rc, MI_EUSAGE, "accepted:\n%s", text);
    cr_assert_null(cfg);
    char where[64];
    snprintf(where, sizeof(where), "mlinfra.yml:%d:", line);
    cr_assert(strstr(mi_error_last(), where), "'%s' lacks '%s'", mi_error_last(), where);
    cr_assert(strstr(mi_error_last(), needle), "'%s' lacks '%s'", mi_error_last(), needle);
}

Test(config, defaults_without_a_file)
{
    struct mi_config *cfg = NULL;
    cr_assert_eq(mi_config_load(&cfg, "/nonexistent/mlinfra.yml", NULL, 0), 0);
    cr_assert_not(cfg->from_file);
    cr_assert_null(cfg->path);
    cr_assert_str_eq(cfg->environments_dir, "environments");
    cr_assert_str_eq(cfg->policies_dir, "policies");
    cr_assert_str_eq(cfg->change_windows, "policies/change-windows.yml");
    cr_assert_null(cfg->terraform_binary);
    cr_assert_eq(cfg->nenvs, 0);
    mi_config_free(cfg);
    /* A file asked for by name must exist. */
    cr_assert_eq(mi_config_load(&cfg, "/nonexistent/mlinfra.yml", NULL, 1), MI_EUSAGE);
    cr_assert(strstr(mi_error_last(), "/nonexistent/mlinfra.yml"));
    mi_config_free(NULL);
}

Test(config, empty_file_is_the_defaults)
{
    struct mi_config *cfg = parse_ok("");
    cr_assert_eq(cfg->nenvs, 0);
    cr_assert_not(cfg->envs_explicit);
    mi_config_free(cfg);
    cfg = parse_ok("# only a comment\n---\n");
    mi_config_free(cfg);
}

Test(config, full_schema)
{
    const char *text = "version: 1\n"
                       "defaults:\n"
                       "  branch: main\n"
                       "  outputs: [mlflow_url]\n"
                       "  watch:\n"
                       "    - shared/**\n"
                       "environments:\n"
                       "  dev: {}\n"
                       "  staging:\n"
                       "    directory: ./infra/staging/\n"
                       "    watch: charts/mlflow\n"
                       "  production:\n"
                       "    branch: release/prod\n"
                       "    require_approval: true\n"
                       "    outputs: [mlflow_url, mlflow_ip]\n"
                       "policies:\n"
                       "  directory: compliance\n"
                       "  change_windows: compliance/windows.yml\n"
                       "terraform:\n"
                       "  binary: /opt/terraform/bin/terraform\n"
                       "plan_store:\n"
                       "  backend: azure\n"
                       "  account: mlinfraplans\n"
                       "  container: tfplans\n"
                       "  endpoint: http://127.0.0.1:10000/devstoreaccount1\n";
    struct mi_config *cfg = parse_ok(text);
    cr_assert(cfg->envs_explicit);
    cr_assert_eq(cfg->nenvs, 3);
    const struct mi_config_env *dev = mi_config_env_find(cfg, "dev");
    cr_assert_str_eq(dev->branch, "main");
    cr_assert_str_eq(dev->directory, "environments/dev");
    cr_assert_eq(dev->nwatch, 1);
    cr_assert_str_eq(dev->watch[0], "shared/**");
    cr_assert_eq(dev->noutputs, 1);
    cr_assert_not(dev->require_approval);
    cr_assert_eq(dev->line, 8);
    const struct mi_config_env *stg = mi_config_env_find(cfg, "staging");
    cr_assert_str_eq(stg->directory, "infra/staging");
    cr_assert_eq(stg->nwatch, 1, "an environment's own list replaces the default");
    cr_assert_str_eq(stg->watch[0], "charts/mlflow");
    const struct mi_config_env *prod = mi_config_env_find(cfg, "production");
    cr_assert_str_eq(prod->branch, "release/prod");
    cr_assert(prod->require_approval);
    cr_assert_eq(prod->noutputs, 2);
    cr_assert_str_eq(prod->outputs[1], "mlflow_ip");
    cr_assert_str_eq(cfg->policies_dir, "compliance");
    cr_assert_str_eq(cfg->change_windows, "compliance/windows.yml");
    cr_assert_str_eq(cfg->terraform_binary, "/opt/terraform/bin/terraform");
    cr_assert_str_eq(cfg->plan_store.backend, "azure");
    cr_assert_str_eq(cfg->plan_store.account, "mlinfraplans");
    cr_assert_str_eq(cfg->plan_store.container, "tfplans");
    cr_assert_null(mi_config_env_find(cfg, "qa"));
    mi_config_free(cfg);
}

Test(config, defaults_may_follow_environments)
{
    struct mi_config *cfg = parse_ok("environments:\n  dev:\ndefaults:\n  branch: trunk\n");
    cr_assert_str_eq(cfg->envs[0].branch, "trunk");
    mi_config_free(cfg);
}

Test(config, unknown_keys_name_file_line_and_key)
{
    expect_error("version: 1\nenviroments:\n  dev: {}\n", 2, "unknown key 'enviroments'");
    expect_error("environments:\n  dev:\n    branch: dev\n    diretory: x\n", 4,
                 "environments.dev: unknown key 'diretory'");
    expect_error("plan_store:\n  acount: x\n", 2, "plan_store: unknown key 'acount'");
    expect_error("defaults:\n  outputz: []\n", 2, "defaults: unknown key 'outputz'");
    expect_error("policies:\n  dir: p\n", 2, "unknown key 'dir'");
    expect_error("terraform:\n  version: 1.9\n", 2, "unknown key 'version'");
}

Test(config, wrong_types)
{
    expect_error("environments:\n  dev:\n    branch: [a, b]\n", 3,
                 "environments.dev.branch: expected a string, got a list");
    expect_error("environments:\n  dev:\n    require_approval: yes\n", 3,
                 "expected true or false, got 'yes'");
    expect_error("environments:\n  dev:\n    require_approval: \"true\"\n", 3,
                 "expected true or false");
    expect_error("environments:\n  - dev\n  - prod\n", 2, "environments: expected a mapping");
    expect_error("environments:\n  dev:\n    watch: {a: b}\n", 3, "expected a list of strings");
    expect_error("environments:\n  dev:\n    watch: [ok, [nested]]\n", 3,
                 "environments.dev.watch[1]: expected a string");
    expect_error("environments:\n  dev:\n    branch:\n", 3, "expected a string, got nothing");
    expect_error("- just\n- a list\n", 1, "the top level must be a mapping");
    expect_error("plan_store: azure\n", 1, "plan_store: expected a mapping, got a scalar");
}

Test(config, bad_values)
{
    expect_error("environments:\n  Dev: {}\n", 2, "'Dev' is not a valid environment name");
    expect_error("environments:\n  ../x: {}\n", 2, "not a valid environment name");
    expect_error("environments:\n  dev:\n    directory: ../outside\n", 3, "leaves the repository");
    expect_error("environments:\n  dev:\n    directory: /etc\n", 3, "is absolute");
    expect_error("environments:\n  dev:\n    directory: .\n", 3, "repository root");
    expect_error("environments:\n  dev:\n    branch: a b\n", 3, "not a valid branch name");
    expect_error("environments:\n  dev:\n    branch: ../x\n", 3, "not a valid branch name");
    expect_error("environments:\n  dev:\n    watch: ['../../etc/passwd']\n", 3,
                 "leaves the repository");
    expect_error("environments:\n  dev:\n    outputs: ['url; rm']\n", 3,
                 "not a terraform output name");
    expect_error("version: 2\n", 1, "unsupported version 2");
    expect_error("plan_store:\n  backend: s3\n", 2, "not a backend");
    expect_error("plan_store:\n  account: Bad_Account\n", 2, "not a storage account name");
    expect_error("plan_store:\n  container: a--b\n", 2, "not a container name");
    expect_error("plan_store:\n  endpoint: ftp://x\n", 2, "not an http(s) URL");
    expect_error("environments:\n  a: {}\n  b:\n    directory: environments/a\n", 3,
                 "already the directory of environment 'a'");
    expect_error("environments:\n  dev:\n    branch: \"a\\u0000b\"\n", 3, "NUL");
    expect_error("environments:\n  dev:\n    branch: \"a\\nb\"\n", 3, "control character");
}

Test(config, duplicate_keys)
{
    expect_error("environments:\n  dev: {}\n  dev: {}\n", 3,
                 "key 'dev' appears twice (first on line 2)");
    expect_error("version: 1\nversion: 1\n", 2, "appears twice");
}

Test(config, malformed_yaml_has_a_line)
{
    expect_error("environments:\n  dev: {branch: main\n  staging: {}\n", 3, "malformed YAML");
    expect_error("environments:\n\tdev: {}\n", 2, "malformed YAML");
    expect_error("a: *undefined\n", 1, "malformed YAML");
    expect_error("environments: {}\n---\nversion: 1\n", 3, "second YAML document");
}

Test(config, aliases_are_bounded_by_the_schema)
{
    /* A recursive alias (which libyaml builds) cannot make the walk loop. */
    struct mi_config *cfg = NULL;
    const char *text = "environments: &a\n  dev: *a\n";
    cr_assert_eq(mi_config_parse(&cfg, text, strlen(text), "mlinfra.yml"), MI_EUSAGE);
    /* Ordinary aliases work. */
    cfg = parse_ok("defaults:\n  watch: &w [shared]\nenvironments:\n  dev:\n    watch: *w\n");
    cr_assert_str_eq(cfg->envs[0].watch[0], "shared");
    mi_config_free(cfg);
}

Test(config, load_uses_the_display_name)
{
    char *dir = mi_test_tmpdir();
    char *path = mi_fs_join(dir, "mlinfra.yml");
    const char *text = "environments:\n  dev:\n    colour: blue\n";
    cr_assert_eq(mi_fs_write_file_atomic(path, text, strlen(text), 0644), 0);
    struct mi_config *cfg = NULL;
    cr_assert_eq(mi_config_load(&cfg, path, "mlinfra.yml", 0), MI_EUSAGE);
    cr_assert(strstr(mi_error_last(), "config: mlinfra.yml:3: environments.dev: unknown key "
                                      "'colour'"),
              "%s", mi_error_last());
    cr_assert_eq(mi_config_load(&cfg, path, NULL, 0), MI_EUSAGE);
    cr_assert(strstr(mi_error_last(), path), "%s", mi_error_last());
    mi_test_rmtree(dir);
    free(path);
    free(dir);
}

Test(config, discovers_environment_folders)
{
    char *dir = mi_test_tmpdir();
    const char *dirs[] = {"environments/prod", "environments/dev", "environments/Bad Name",
                          "environments/.hidden", "elsewhere"};
    for (size_t i = 0; i < 5; i++) {
        char *p = mi_fs_join(dir, dirs[i]);
        cr_assert_eq(mi_fs_mkdir_p(p, 0755), 0);
        free(p);
    }
    char *file = mi_fs_join(dir, "environments/README.md");
    cr_assert_eq(mi_fs_write_file_atomic(file, "x", 1, 0644), 0);
    char *link = mi_fs_join(dir, "environments/linked");
    cr_assert_eq(symlink("../elsewhere", link), 0);

    struct mi_config *cfg = NULL;
    cr_assert_eq(mi_config_load(&cfg, "/nonexistent", NULL, 0), 0);
    cr_assert_eq(mi_config_discover(cfg, dir), 0, "%s", mi_error_last());
    cr_assert_eq(cfg->nenvs, 2);
    cr_assert_str_eq(cfg->envs[0].name, "dev");
    cr_assert_str_eq(cfg->envs[0].branch, "dev");
    cr_assert_str_eq(cfg->envs[0].directory, "environments/dev");
    cr_assert_str_eq(cfg->envs[1].name, "prod");
    cr_assert_eq(cfg->nwarnings, 2, "warnings: %zu", cfg->nwarnings);
    mi_config_free(cfg);

    /* Defaults reach discovered environments; an explicit list turns discovery off. */
    cfg = parse_ok("defaults:\n  branch: main\n  require_approval: true\n");
    cr_assert_eq(mi_config_discover(cfg, dir), 0);
    cr_assert_eq(cfg->nenvs, 2);
    cr_assert_str_eq(cfg->envs[1].branch, "main");
    cr_assert(cfg->envs[1].require_approval);
    mi_config_free(cfg);
    cfg = parse_ok("environments:\n  only: {}\n");
    cr_assert_eq(mi_config_discover(cfg, dir), 0);
    cr_assert_eq(cfg->nenvs, 1);
    mi_config_free(cfg);
    cfg = parse_ok("environments_dir: nowhere\n");
    cr_assert_eq(mi_config_discover(cfg, dir), 0);
    cr_assert_eq(cfg->nenvs, 0);
    mi_config_free(cfg);
    /* A linked environments folder is not followed. */
    char *envlink = mi_fs_join(dir, "envlink");
    cr_assert_eq(symlink("environments", envlink), 0);
    cfg = parse_ok("environments_dir: envlink\n");
    cr_assert_eq(mi_config_discover(cfg, dir), 0);
    cr_assert_eq(cfg->nenvs, 0);
    cr_assert_eq(cfg->nwarnings, 1);
    cr_assert(strstr(cfg->warnings[0], "symbolic link"));
    mi_config_free(cfg);
    free(envlink);

    mi_test_rmtree(dir);
    free(link);
    free(file);
    free(dir);
}
