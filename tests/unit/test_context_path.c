/* context/path: normalization, resolution, containment, environment names and globs. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "context/path.h"
#include "util/error.h"

static void norm_ok(const char *in, const char *want)
{
    char *out = NULL;
    cr_assert_eq(mi_path_normalize(&out, in), 0, "'%s': %s", in, mi_error_last());
    cr_assert_str_eq(out, want, "'%s' gave '%s'", in, out);
    free(out);
}

static void norm_bad(const char *in)
{
    char *out = NULL;
    cr_assert_eq(mi_path_normalize(&out, in), MI_EUSAGE, "'%s' was accepted", in);
    cr_assert_null(out);
}

Test(path, normalizes)
{
    norm_ok("environments/dev", "environments/dev");
    norm_ok("./environments//dev/", "environments/dev");
    norm_ok("a/b/../c", "a/c");
    norm_ok(".", "");
    norm_ok("", "");
    norm_ok("a/..", "");
}

Test(path, refuses_escape_absolute_and_control_characters)
{
    norm_bad("../x");
    norm_bad("a/../../x");
    norm_bad("/etc/passwd");
    norm_bad("a\\b");
    norm_bad("a\nb");
    norm_bad("a\x7f");
}

Test(path, resolves_module_sources)
{
    char *out = NULL;
    cr_assert_eq(mi_path_resolve(&out, "environments/dev", "../../modules/a"), 0);
    cr_assert_str_eq(out, "modules/a");
    free(out);
    cr_assert_eq(mi_path_resolve(&out, "modules/a", "./sub"), 0);
    cr_assert_str_eq(out, "modules/a/sub");
    free(out);
    cr_assert_eq(mi_path_resolve(&out, "", "./x"), 0);
    cr_assert_str_eq(out, "x");
    free(out);
    cr_assert_eq(mi_path_resolve(&out, "environments/dev", "../../../outside"), MI_EUSAGE);
    cr_assert(strstr(mi_error_last(), "leaves the repository"), "%s", mi_error_last());
    cr_assert_eq(mi_path_resolve(&out, "a", "/abs"), MI_EUSAGE);
}

Test(path, under_is_by_component)
{
    cr_assert(mi_path_under("modules/a/main.tf", "modules/a"));
    cr_assert(mi_path_under("modules/a", "modules/a"));
    cr_assert_not(mi_path_under("modules/ab/main.tf", "modules/a"));
    cr_assert_not(mi_path_under("modules", "modules/a"));
    cr_assert(mi_path_under("anything", ""));
}

Test(path, environment_names)
{
    cr_assert(mi_path_env_name_valid("dev"));
    cr_assert(mi_path_env_name_valid("prod-eu_1"));
    cr_assert(mi_path_env_name_valid("0"));
    cr_assert_not(mi_path_env_name_valid(""));
    cr_assert_not(mi_path_env_name_valid("Dev"));
    cr_assert_not(mi_path_env_name_valid("-dev"));
    cr_assert_not(mi_path_env_name_valid("_dev"));
    cr_assert_not(mi_path_env_name_valid("../x"));
    cr_assert_not(mi_path_env_name_valid("a b"));
    cr_assert_not(mi_path_env_name_valid("$(id)"));
    cr_assert_not(
        mi_path_env_name_valid("a123456789012345678901234567890123456789012345678901234567890123"));
}

Test(path, globs)
{
    /* Plain paths: the file or directory and everything below it. */
    cr_assert(mi_path_glob_match("shared", "shared/x.tf"));
    cr_assert(mi_path_glob_match("shared/x.tf", "shared/x.tf"));
    cr_assert_not(mi_path_glob_match("shared", "shared2/x.tf"));
    /* One component. */
    cr_assert(mi_path_glob_match("policies/*.feature", "policies/tags.feature"));
    cr_assert_not(mi_path_glob_match("policies/*.feature", "policies/sub/tags.feature"));
    cr_assert(mi_path_glob_match("env?/x", "env1/x"));
    cr_assert(mi_path_glob_match("env[0-9]/x", "env1/x"));
    cr_assert_not(mi_path_glob_match("env[!0-9]/x", "env1/x"));
    /* Any depth. */
    cr_assert(mi_path_glob_match("**/*.tfvars", "a/b/c/prod.tfvars"));
    cr_assert(mi_path_glob_match("**/*.tfvars", "prod.tfvars"));
    cr_assert(mi_path_glob_match("charts/**/values.yaml", "charts/values.yaml"));
    cr_assert(mi_path_glob_match("charts/**/values.yaml", "charts/a/b/values.yaml"));
    cr_assert_not(mi_path_glob_match("charts/**/values.yaml", "other/a/values.yaml"));
    /* A matched directory covers what is below it. */
    cr_assert(mi_path_glob_match("modules/*", "modules/a/main.tf"));
}

Test(path, glob_is_not_exponential)
{
    /* Classic backtracking blow-up inputs finish at once with the table. */
    cr_assert_not(mi_path_glob_match("**/**/**/**/**/**/**/**/**/**/**/**/b",
                                     "a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/c"));
    cr_assert_not(
        mi_path_glob_match("*a*a*a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}

Test(path, directory_sets_prune_a_walk)
{
    struct mi_path_set set = MI_PATH_SET_INIT;
    mi_path_set_add(&set, "modules/b");
    mi_path_set_add(&set, "environments/dev");
    mi_path_set_add(&set, "modules/a");
    mi_path_set_add(&set, "environments/dev");
    mi_path_set_sort(&set);
    cr_assert_eq(set.n, 3, "duplicates are dropped");
    /* Ancestors of members, members, and what is below them. */
    cr_assert(mi_path_set_touches(&set, ""));
    cr_assert(mi_path_set_touches(&set, "environments"));
    cr_assert(mi_path_set_touches(&set, "environments/dev"));
    cr_assert(mi_path_set_touches(&set, "environments/dev/sub/deeper"));
    cr_assert(mi_path_set_touches(&set, "modules"));
    cr_assert(mi_path_set_touches(&set, "modules/a"));
    /* Siblings and look-alikes are not. */
    cr_assert_not(mi_path_set_touches(&set, "environments/prod"));
    cr_assert_not(mi_path_set_touches(&set, "environments/dev2"));
    cr_assert_not(mi_path_set_touches(&set, "environments/de"));
    cr_assert_not(mi_path_set_touches(&set, "modules/c"));
    cr_assert_not(mi_path_set_touches(&set, "docs"));
    cr_assert_not(mi_path_set_touches(&set, "modules-old"));
    /* The root (a glob watching everything) covers all. */
    mi_path_set_add(&set, "");
    cr_assert(mi_path_set_touches(&set, "docs"));
    mi_path_set_release(&set);
    cr_assert_eq(set.n, 0);
}

Test(path, glob_base_is_the_literal_lead)
{
    const char *cases[][2] = {{"charts/**/values.yaml", "charts"},
                              {"charts/mlflow", "charts/mlflow"},
                              {"**/*.tfvars", ""},
                              {"a/b*/c", "a"},
                              {"env?/x", ""}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *base = mi_path_glob_base(cases[i][0]);
        cr_assert_str_eq(base, cases[i][1], "%s", cases[i][0]);
        free(base);
    }
}
