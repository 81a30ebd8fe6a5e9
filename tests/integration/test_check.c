/* mlinfra check, end to end through the binary: options, exit codes (0 pass, 1 input
 * error, 2 usage, 3 violation or closed window), formats, --output, and the clock. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testsupport.h"
#include "util/buf.h"
#include "util/fs.h"

static char *dir;
static char *plan;

static void write(const char *name, const char *text)
{
    char *p = mi_fs_join(dir, name);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    free(p);
}

static void setup(void)
{
    dir = mi_test_tmpdir();
    plan = mi_test_path("tests/fixtures/policy/patterns-plan.json");
    write("buckets.feature", "Feature: Buckets\n"
                             "  Scenario: versioned\n"
                             "    Given I have aws_s3_bucket defined\n"
                             "    When its acl is private\n"
                             "    Then it must contain versioning\n");
    write("change-windows.yml", "timezone: Europe/Amsterdam\n"
                                "windows:\n"
                                "  - name: no-friday\n"
                                "    environments: [production]\n"
                                "    days: [fri]\n"
                                "    message: No deploys to production on Fridays.\n");
}

static void teardown(void)
{
    mi_test_rmtree(dir);
    free(dir);
    free(plan);
}

TestSuite(check, .init = setup, .fini = teardown);

static void run(struct mi_test_run *r, char *const env[], ...)
{
    char *argv[32];
    int n = 0;
    argv[n++] = (char *)mi_test_binary();
    argv[n++] = "check";
    va_list ap;
    va_start(ap, env);
    char *a;
    while ((a = va_arg(ap, char *)) != NULL && n < 31)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    mi_test_run_cmd(r, argv, env, NULL, 60000);
}

Test(check, help_goes_to_stdout)
{
    struct mi_test_run r;
    run(&r, NULL, "--help", NULL);
    cr_assert_eq(r.exit_code, 0);
    cr_assert(strstr(r.out.ptr, "usage: mlinfra check --plan FILE --policies DIR"));
    cr_assert(strstr(r.out.ptr, "--no-early-exit"));
    mi_test_run_release(&r);
}

Test(check, usage_errors_exit_2)
{
    struct mi_test_run r;
    run(&r, NULL, "--policies", dir, NULL);
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err.ptr, "--plan FILE is required"), "%s", r.err.ptr);
    mi_test_run_release(&r);
    run(&r, NULL, "--plan", plan, "--policies", dir, "--format", "xml", NULL);
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err.ptr, "unknown format 'xml'"), "%s", r.err.ptr);
    mi_test_run_release(&r);
    run(&r, NULL, "--plan", plan, "--policies", dir, "--now", "tomorrow", NULL);
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err.ptr, "'tomorrow'"), "%s", r.err.ptr);
    mi_test_run_release(&r);
    run(&r, NULL, "--plan", plan, "--policies", dir, "--bogus", NULL);
    cr_assert_eq(r.exit_code, 2);
    mi_test_run_release(&r);
}

/* The network limits every command reads (main.c): a bad value stops the run before it does
 * anything, naming the variable and the value. */
Test(check, bad_http_limits_exit_2_naming_the_variable)
{
    static const char *const cases[][2] = {
        {"MLINFRA_HTTP_TIMEOUT=soon", "MLINFRA_HTTP_TIMEOUT='soon'"},
        {"MLINFRA_HTTP_STALL_TIMEOUT=2d", "MLINFRA_HTTP_STALL_TIMEOUT='2d'"},
        {"MLINFRA_HTTP_RETRY_DELAY_MS=0", "MLINFRA_HTTP_RETRY_DELAY_MS='0'"},
        {"MLINFRA_HTTP_RETRY_DELAY_MS=5ms", "MLINFRA_HTTP_RETRY_DELAY_MS='5ms'"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mi_test_run r;
        char *env[] = {(char *)cases[i][0], NULL};
        run(&r, env, "--plan", plan, "--policies", dir, NULL);
        cr_assert_eq(r.exit_code, 2, "%s: exit %d", cases[i][0], r.exit_code);
        cr_assert(strstr(r.err.ptr, cases[i][1]), "%s", r.err.ptr);
        mi_test_run_release(&r);
    }
    struct mi_test_run ok;
    char *env[] = {"MLINFRA_HTTP_TIMEOUT=30s", "MLINFRA_HTTP_STALL_TIMEOUT=10",
                   "MLINFRA_HTTP_RETRY_DELAY_MS=250", NULL};
    run(&ok, env, "--help", NULL);
    cr_assert_eq(ok.exit_code, 0, "%s", ok.err.ptr);
    mi_test_run_release(&ok);
}

Test(check, a_violation_exits_3_with_the_resource)
{
    struct mi_test_run r;
    run(&r, NULL, "--plan", plan, "--policies", dir, NULL);
    cr_assert_eq(r.exit_code, 0, "only the private bucket is checked, and it is versioned: %s",
                 r.out.ptr);
    mi_test_run_release(&r);
    write("buckets.feature", "Feature: Buckets\n"
                             "  Scenario: versioned\n"
                             "    Given I have aws_s3_bucket defined\n"
                             "    Then it must contain versioning\n");
    run(&r, NULL, "--plan", plan, "--policies", dir, NULL);
    cr_assert_eq(r.exit_code, 3, "%s", r.err.ptr);
    cr_assert(strstr(r.out.ptr, "FAIL"), "%s", r.out.ptr);
    cr_assert(strstr(r.out.ptr, "aws_s3_bucket.b"), "%s", r.out.ptr);
    cr_assert(strstr(r.out.ptr, "buckets.feature:2"), "%s", r.out.ptr);
    mi_test_run_release(&r);
}

Test(check, bad_inputs_exit_1_naming_the_file)
{
    struct mi_test_run r;
    char *bad = mi_fs_join(dir, "bad.json");
    FILE *f = fopen(bad, "w");
    fputs("{\"resource_changes\": [", f);
    fclose(f);
    run(&r, NULL, "--plan", bad, "--policies", dir, NULL);
    cr_assert_eq(r.exit_code, 1);
    cr_assert(strstr(r.err.ptr, "bad.json:1:"), "%s", r.err.ptr);
    mi_test_run_release(&r);
    run(&r, NULL, "--plan", "/nonexistent.json", "--policies", dir, NULL);
    cr_assert_eq(r.exit_code, 1);
    mi_test_run_release(&r);
    write("broken.feature", "Feature: x\n  Scenario: y\n    Given I have x defined\n"
                            "    Then it is purple\n");
    run(&r, NULL, "--plan", plan, "--policies", dir, NULL);
    cr_assert_eq(r.exit_code, 1);
    cr_assert(strstr(r.err.ptr, "broken.feature:4"), "%s", r.err.ptr);
    cr_assert(strstr(r.err.ptr, "unknown step 'Then it is purple'"), "%s", r.err.ptr);
    mi_test_run_release(&r);
    free(bad);
}

Test(check, change_windows_close_with_a_fixed_clock)
{
    struct mi_test_run r;
    run(&r, NULL, "--plan", plan, "--policies", dir, "--environment", "production", "--now",
        "2025-11-21T10:00:00Z", NULL);
    cr_assert_eq(r.exit_code, 3);
    cr_assert(strstr(r.out.ptr, "No deploys to production on Fridays."), "%s", r.out.ptr);
    mi_test_run_release(&r);
    char *env[] = {"MLINFRA_NOW=2025-11-20T10:00:00Z", NULL};
    run(&r, env, "--plan", plan, "--policies", dir, "--environment", "production", NULL);
    cr_assert_eq(r.exit_code, 0, "Thursday: %s", r.out.ptr);
    mi_test_run_release(&r);
    run(&r, NULL, "--plan", plan, "--policies", dir, "--environment", "dev", "--now",
        "2025-11-21T10:00:00Z", NULL);
    cr_assert_eq(r.exit_code, 0);
    mi_test_run_release(&r);
    write("change-windows.yml", "windows:\n  - name: x\n    days: [someday]\n");
    run(&r, NULL, "--plan", plan, "--policies", dir, "--environment", "dev", NULL);
    cr_assert_eq(r.exit_code, 1);
    cr_assert(strstr(r.err.ptr, "change-windows.yml:3"), "%s", r.err.ptr);
    mi_test_run_release(&r);
}

Test(check, formats_and_output_file)
{
    struct mi_test_run r;
    char *out = mi_fs_join(dir, "report.xml");
    run(&r, NULL, "--plan", plan, "--policies", dir, "--format", "junit", "--output", out, NULL);
    cr_assert_eq(r.exit_code, 0);
    cr_assert_eq(r.out.len, 0, "the report went to the file");
    mi_buf xml = MI_BUF_INIT;
    cr_assert_eq(mi_fs_read_file(&xml, out, 0), 0);
    cr_assert(strstr(xml.ptr, "<testsuites name=\"mlinfra check\" tests=\"1\" failures=\"0\""),
              "%s", xml.ptr);
    mi_buf_release(&xml);
    mi_test_run_release(&r);
    run(&r, NULL, "--plan", plan, "--policies", dir, "--format", "json", NULL);
    cr_assert_eq(r.exit_code, 0);
    cr_assert(strstr(r.out.ptr, "\"passed\": true"), "%s", r.out.ptr);
    mi_test_run_release(&r);
    run(&r, NULL, "--plan", plan, "--policies", dir, "--format", "terraform-compliance", NULL);
    cr_assert_eq(r.exit_code, 0);
    cr_assert(strstr(r.out.ptr, "1 scenarios (1 passed)"), "%s", r.out.ptr);
    mi_test_run_release(&r);
    free(out);
}
