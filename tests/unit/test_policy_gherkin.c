/* policy: the feature-file reader (gherkin.h) and policy loading (policy.h): structure,
 * outlines, tags, backgrounds, preconditions, and malformed files that must give an error
 * naming the file and line, never a crash. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/gherkin.h"
#include "policy/policy.h"
#include "testsupport.h"
#include "util/error.h"

static struct mi_gh_feature *parse_ok(const char *text)
{
    struct mi_gh_feature *f = NULL;
    int rc = mi_gh_parse(&f, "t.feature", text, strlen(text));
    cr_assert_eq(rc, 0, "%s", mi_error_last());
    return f;
}

static void parse_fails(const char *text, const char *message)
{
    struct mi_gh_feature *f = NULL;
    int rc = mi_gh_parse(&f, "t.feature", text, strlen(text));
    cr_assert_lt(rc, 0, "parsed, but should not:\n%s", text);
    cr_assert_null(f);
    cr_assert(strstr(mi_error_last(), message), "'%s' not in '%s'", message, mi_error_last());
}

Test(policy_gherkin, reads_the_structure)
{
    struct mi_gh_feature *f = parse_ok("# a comment\n"
                                       "@feat_tag\n"
                                       "Feature: Buckets are private\n"
                                       "  In order to keep data safe\n"
                                       "\n"
                                       "  Background: every bucket\n"
                                       "    Given I have aws_s3_bucket defined\n"
                                       "\n"
                                       "  @one @two(arg x)\n"
                                       "  Scenario: acl\n"
                                       "    Then it must contain acl\n"
                                       "    And its value must be private\n"
                                       "    # inline comment\n"
                                       "    But its value must not be public\n"
                                       "\n"
                                       "  Scenario Outline: tag <t>\n"
                                       "    Then it must contain <t>\n"
                                       "    Examples:\n"
                                       "      | t    | other |\n"
                                       "      | Name | x     |\n"
                                       "      | Env\\|x | y   |\n");
    cr_assert_str_eq(f->name, "Buckets are private");
    cr_assert_eq(f->line, 3);
    cr_assert_eq(f->ntags, 1);
    cr_assert_str_eq(f->tags[0].name, "feat_tag");
    cr_assert_eq(f->ndescription, 1);
    cr_assert(f->has_background);
    cr_assert_eq(f->nbackground, 1);
    cr_assert_eq(f->nscenarios, 2);
    const struct mi_gh_scenario *s = &f->scenarios[0];
    cr_assert_eq(s->ntags, 2);
    cr_assert_str_eq(s->tags[1].name, "two");
    cr_assert_str_eq(s->tags[1].arg, "arg x");
    cr_assert_eq(s->nsteps, 3);
    cr_assert_eq(s->steps[1].ctx, MI_GH_THEN, "And takes the context of the step before");
    cr_assert_eq(s->steps[2].ctx, MI_GH_BUT);
    cr_assert_eq(s->steps[2].line, 14);
    const struct mi_gh_scenario *o = &f->scenarios[1];
    cr_assert_eq(o->kind, MI_GH_OUTLINE);
    cr_assert_eq(o->nheader, 2);
    cr_assert_eq(o->nexamples, 2);
    cr_assert_str_eq(o->examples[1].cells[0], "Env|x", "an escaped pipe stays in the cell");
    cr_assert_eq(o->examples[1].line, 21);
    mi_gh_feature_free(f);
}

Test(policy_gherkin, keeps_step_text_and_tables)
{
    struct mi_gh_feature *f = parse_ok("Feature: f\n  Scenario: s\n    Given I have x defined\n"
                                       "      \"\"\"\n      some text\n      \"\"\"\n"
                                       "    When its a is b\n      | k | v |\n      | 1 | 2 |\n");
    cr_assert_eq(f->scenarios[0].nsteps, 2);
    cr_assert_eq(f->scenarios[0].steps[0].ntext, 1);
    cr_assert_str_eq(f->scenarios[0].steps[0].text[0], "some text");
    cr_assert_eq(f->scenarios[0].steps[1].ntable, 2);
    mi_gh_feature_free(f);
}

Test(policy_gherkin, malformed_files_name_the_line)
{
    parse_fails("", "t.feature: no 'Feature:' found");
    parse_fails("# only a comment\n", "no 'Feature:' found");
    parse_fails("Scenario: s\n", "t.feature:1: expected 'Feature:'");
    parse_fails("Feature: a\nFeature: b\n", "t.feature:2: only one Feature");
    parse_fails("Feature: a\n  Scenario: s\n    Given x\n  Background: b\n",
                "t.feature:4: the Background block must be placed before any Scenario");
    parse_fails("Feature: a\n  Background: b\n  Background: c\n", "t.feature:3:");
    parse_fails("Feature: a\n  Scenario: s\n    Given x\n  Scenario: s\n",
                "t.feature:4: scenario 's' is defined twice");
    parse_fails("Feature: a\n  Scenario: s\n    Given x\n    Examples:\n      | a |\n",
                "t.feature:5: only a Scenario Outline can have Examples");
    parse_fails("Feature: a\n  Scenario: s\n    Given x\n      \"\"\"\n      never closed\n",
                "not closed");
    parse_fails("# language: de\nFunktionalität: a\n", "t.feature:1: language 'de'");
    static const char nul[] = "Feature: a\n  Scenario: s\n    Given x\0y\n";
    struct mi_gh_feature *f = NULL;
    cr_assert_lt(mi_gh_parse(&f, "t.feature", nul, sizeof(nul) - 1), 0);
    cr_assert(strstr(mi_error_last(), "t.feature:3: binary data"), "%s", mi_error_last());
    parse_fails("Feature: a\n  Scenario: s\n    \"\"\"\n", "t.feature:3: step text without a step");
}

Test(policy_gherkin, binary_garbage_never_crashes)
{
    unsigned char buf[512];
    unsigned seed = 12345;
    for (int round = 0; round < 500; round++) {
        size_t n = (size_t)(round % 500);
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            buf[i] = (unsigned char)(seed >> 16);
        }
        struct mi_gh_feature *f = NULL;
        if (mi_gh_parse(&f, "g.feature", (const char *)buf, n) == 0)
            mi_gh_feature_free(f);
    }
}

static int load(const char *text, struct mi_policy_set **set)
{
    return mi_policy_load_text(set, "p.feature", text, strlen(text));
}

Test(policy_load, unknown_step_names_file_line_and_step)
{
    struct mi_policy_set *set = NULL;
    int rc =
        load("Feature: f\n  Scenario: s\n    Given I have x defined\n    Then it sparkles\n", &set);
    cr_assert_lt(rc, 0);
    cr_assert_null(set);
    cr_assert(strstr(mi_error_last(), "p.feature:4"), "%s", mi_error_last());
    cr_assert(strstr(mi_error_last(), "unknown step 'Then it sparkles'"), "%s", mi_error_last());
}

Test(policy_load, outline_rows_become_scenarios)
{
    struct mi_policy_set *set = NULL;
    int rc = load("Feature: f\n  Scenario Outline: o\n    Given I have <t> defined\n"
                  "    Examples:\n      | t |\n      | a |\n      | b |\n  Scenario: s\n"
                  "    Given I have c defined\n",
                  &set);
    cr_assert_eq(rc, 0, "%s", mi_error_last());
    cr_assert_eq(mi_policy_set_features(set), 1);
    cr_assert_eq(mi_policy_set_scenarios(set), 3);
    mi_policy_set_free(set);
}

Test(policy_load, outline_row_with_unknown_step_names_the_row)
{
    struct mi_policy_set *set = NULL;
    int rc = load("Feature: f\n  Scenario Outline: o\n    <step> I have x defined\n"
                  "    Examples:\n      | step |\n      | Given |\n      | Gvien |\n",
                  &set);
    cr_assert_lt(rc, 0);
    cr_assert(strstr(mi_error_last(), "p.feature:7"), "%s", mi_error_last());
}

Test(policy_load, preconditions_resolve_or_fail_clearly)
{
    char *dir = mi_test_tmpdir();
    char *a = mi_xasprintf("%s/a.feature", dir), *b = mi_xasprintf("%s/b.feature", dir);
    FILE *fa = fopen(a, "w");
    fputs("Feature: a\n  Scenario: base\n    Given I have x defined\n", fa);
    fclose(fa);
    FILE *fb = fopen(b, "w");
    fputs("Feature: b\n  @precondition(a.feature: base)\n  Scenario: uses\n"
          "    Then it must fail\n  @precondition(a.feature: missing)\n  Scenario: broken\n"
          "    Then it must fail\n",
          fb);
    fclose(fb);
    struct mi_policy_set *set = NULL;
    int rc = mi_policy_load(&set, dir);
    cr_assert_lt(rc, 0);
    cr_assert(strstr(mi_error_last(), "b.feature:5"), "%s", mi_error_last());
    cr_assert(strstr(mi_error_last(), "'missing'"), "%s", mi_error_last());
    fb = fopen(b, "w");
    fputs("Feature: b\n  @precondition(a.feature: base)\n  Scenario: uses\n    Then it must fail\n",
          fb);
    fclose(fb);
    rc = mi_policy_load(&set, dir);
    cr_assert_eq(rc, 0, "%s", mi_error_last());
    cr_assert_eq(mi_policy_set_features(set), 2);
    mi_policy_set_free(set);
    mi_test_rmtree(dir);
    free(a);
    free(b);
    free(dir);
}

Test(policy_load, missing_directory_is_not_found)
{
    struct mi_policy_set *set = NULL;
    cr_assert_eq(mi_policy_load(&set, "/nonexistent/policies"), MI_ENOTFOUND);
    cr_assert(strstr(mi_error_last(), "/nonexistent/policies"), "%s", mi_error_last());
}
