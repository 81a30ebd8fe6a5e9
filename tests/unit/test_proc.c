/* Tests for util/proc.h: argv/env passing, line splitting, capture caps, exec failures, the
 * time limit and cancellation with its grace period. The children are /bin/sh scripts here
 * (the agent itself never uses a shell). */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testsupport.h"
#include "util/cancel.h"
#include "util/error.h"
#include "util/proc.h"

struct lines {
    mi_buf text;
    int count;
    int stderr_count;
    size_t longest;
};

static void collect(void *ctx, const char *line, size_t len, int is_stderr)
{
    struct lines *l = ctx;
    mi_buf_add(&l->text, line, len);
    mi_buf_addch(&l->text, '|');
    l->count++;
    l->stderr_count += is_stderr;
    if (len > l->longest)
        l->longest = len;
}

static int run_sh(struct mi_proc_result *res, struct lines *l, const char *script, long timeout_ms,
                  long grace_ms)
{
    char *argv[] = {"sh", "-c", (char *)script, NULL};
    char *env[] = {"PATH=/usr/bin:/bin", NULL};
    struct mi_proc_opts o = {0};
    o.path = "/bin/sh";
    o.argv = argv;
    o.env = env;
    o.timeout_ms = timeout_ms;
    o.grace_ms = grace_ms;
    o.on_line = l ? collect : NULL;
    o.line_ctx = l;
    return mi_proc_run(res, &o);
}

Test(proc, streams_whole_lines_from_both_streams)
{
    struct mi_proc_result res = MI_PROC_RESULT_INIT;
    struct lines l = {MI_BUF_INIT, 0, 0, 0};
    int rc = run_sh(&res, &l,
                    "printf 'one\\ntw'; sleep 0.05; printf 'o\\n'; echo err >&2; "
                    "printf 'last'; exit 3",
                    10000, 0);
    cr_assert_eq(rc, 0, "%s", mi_error_last());
    cr_assert_eq(res.exit_code, 3);
    cr_assert_eq(l.count, 4, "lines: %s", l.text.ptr);
    cr_assert_eq(l.stderr_count, 1);
    cr_assert(strstr(l.text.ptr, "one|two|") != NULL, "%s", l.text.ptr);
    cr_assert(strstr(l.text.ptr, "err|") != NULL);
    cr_assert(strstr(l.text.ptr, "last|") != NULL);
    cr_assert(strstr(res.output.ptr, "two\n") != NULL);
    mi_buf_release(&l.text);
    mi_proc_result_release(&res);
}

Test(proc, passes_argv_env_and_cwd_exactly)
{
    char *dir = mi_test_tmpdir();
    char *argv[] = {"sh",
                    "-c",
                    "printf '%s;' \"$1\" \"$ONLY\" \"$PATH\" \"$(pwd)\"",
                    "sh",
                    "a b; $(rm -rf /) `x`",
                    NULL};
    char *env[] = {"ONLY=yes", NULL};
    struct mi_proc_opts o = {0};
    o.path = "/bin/sh";
    o.argv = argv;
    o.env = env;
    o.cwd = dir;
    struct mi_proc_result res = MI_PROC_RESULT_INIT;
    cr_assert_eq(mi_proc_run(&res, &o), 0, "%s", mi_error_last());
    char *real = realpath(dir, NULL);
    char *want = mi_xasprintf("a b; $(rm -rf /) `x`;yes;;%s;\n", real);
    /* sh sets a default PATH of its own only when it is unset; an empty value proves the
     * environment was not inherited. */
    cr_assert(strstr(res.output.ptr, "a b; $(rm -rf /) `x`;yes;") == res.output.ptr, "got %s",
              res.output.ptr);
    cr_assert(strstr(res.output.ptr, real) != NULL, "got %s want %s", res.output.ptr, want);
    cr_assert(getenv("HOME") == NULL || strstr(res.output.ptr, getenv("HOME")) == NULL ||
              strstr(real, getenv("HOME")) != NULL);
    free(want);
    free(real);
    mi_proc_result_release(&res);
    mi_test_rmtree(dir);
    free(dir);
}

Test(proc, reports_exec_failure_with_reason)
{
    char *argv[] = {"nothing", NULL};
    struct mi_proc_opts o = {0};
    o.path = "/nonexistent/terraform";
    o.argv = argv;
    struct mi_proc_result res = MI_PROC_RESULT_INIT;
    int rc = mi_proc_run(&res, &o);
    cr_assert_eq(rc, MI_ENOTFOUND);
    cr_assert(strstr(mi_error_last(), "/nonexistent/terraform") != NULL, "%s", mi_error_last());
    cr_assert(strstr(mi_error_last(), "No such file") != NULL, "%s", mi_error_last());
    mi_proc_result_release(&res);

    char *dir = mi_test_tmpdir();
    char *path = mi_xasprintf("%s/not-executable", dir);
    FILE *f = fopen(path, "w");
    fputs("#!/bin/sh\necho hi\n", f);
    fclose(f);
    chmod(path, 0644);
    o.path = path;
    rc = mi_proc_run(&res, &o);
    cr_assert_eq(rc, MI_ERR);
    cr_assert(strstr(mi_error_last(), "Permission denied") != NULL, "%s", mi_error_last());
    mi_proc_result_release(&res);

    o.path = "/bin/sh";
    o.cwd = "/nonexistent-dir";
    rc = mi_proc_run(&res, &o);
    cr_assert_eq(rc, MI_ERR);
    cr_assert(strstr(mi_error_last(), "cannot enter '/nonexistent-dir'") != NULL, "%s",
              mi_error_last());
    mi_proc_result_release(&res);
    free(path);
    mi_test_rmtree(dir);
    free(dir);
}

Test(proc, time_limit_interrupts_then_reports)
{
    struct mi_proc_result res = MI_PROC_RESULT_INIT;
    struct lines l = {MI_BUF_INIT, 0, 0, 0};
    int rc = run_sh(&res, &l,
                    "trap 'echo interrupted; exit 1' INT; echo started; "
                    "while :; do sleep 0.05; done",
                    300, 5000);
    cr_assert_eq(rc, MI_ETIMEOUT, "rc %d: %s", rc, mi_error_last());
    cr_assert(strstr(mi_error_last(), "did not finish within 300 ms") != NULL, "%s",
              mi_error_last());
    /* SIGINT first: the script's trap ran, so terraform would get its graceful stop. */
    cr_assert(strstr(l.text.ptr, "interrupted|") != NULL, "%s", l.text.ptr);
    cr_assert_eq(res.exit_code, 1);
    mi_buf_release(&l.text);
    mi_proc_result_release(&res);
}

Test(proc, kills_after_grace_when_interrupt_is_ignored)
{
    struct mi_proc_result res = MI_PROC_RESULT_INIT;
    int rc = run_sh(&res, NULL, "trap '' INT; while :; do sleep 0.05; done", 200, 200);
    cr_assert_eq(rc, MI_ETIMEOUT);
    cr_assert_eq(res.term_signal, SIGKILL);
    cr_assert(strstr(mi_error_last(), "killed after the grace period") != NULL, "%s",
              mi_error_last());
    mi_proc_result_release(&res);
}

Test(proc, cancellation_forwards_interrupt)
{
    mi_cancel_reset();
    mi_cancel_install();
    struct mi_proc_result res = MI_PROC_RESULT_INIT;
    struct lines l = {MI_BUF_INIT, 0, 0, 0};
    /* The child asks its parent (this test) to stop, as a cancelled workflow would. */
    int rc = run_sh(&res, &l,
                    "trap 'echo graceful; exit 130' INT; kill -TERM $PPID; "
                    "while :; do sleep 0.05; done",
                    0, 5000);
    cr_assert_eq(rc, MI_ECANCELLED, "rc %d: %s", rc, mi_error_last());
    cr_assert(strstr(l.text.ptr, "graceful|") != NULL, "%s", l.text.ptr);
    cr_assert_eq(res.exit_code, 130);
    mi_cancel_reset();
    mi_buf_release(&l.text);
    mi_proc_result_release(&res);
}

Test(proc, capture_keeps_the_tail_under_the_cap)
{
    char *argv[] = {"sh", "-c", "i=0; while [ $i -lt 2000 ]; do echo line-$i; i=$((i+1)); done",
                    NULL};
    struct mi_proc_opts o = {0};
    o.path = "/bin/sh";
    o.argv = argv;
    o.capture_max = 1000;
    struct mi_proc_result res = MI_PROC_RESULT_INIT;
    cr_assert_eq(mi_proc_run(&res, &o), 0);
    cr_assert_leq(res.output.len, 1000);
    cr_assert_gt(res.dropped, 10000);
    cr_assert(strstr(res.output.ptr, "line-1999\n") != NULL);
    cr_assert(strncmp(res.output.ptr, "line-", 5) == 0, "starts at a line: %.20s", res.output.ptr);
    mi_proc_result_release(&res);
}

Test(proc, long_lines_are_split_and_stdout_can_be_collected)
{
    struct mi_proc_result res = MI_PROC_RESULT_INIT;
    struct lines l = {MI_BUF_INIT, 0, 0, 0};
    int rc = run_sh(&res, &l, "head -c 200000 /dev/zero | tr '\\0' x >&2", 10000, 0);
    cr_assert_eq(rc, 0);
    cr_assert_eq(l.longest, MI_PROC_LINE_MAX);
    cr_assert_eq(l.count, 4);
    mi_buf_release(&l.text);
    mi_proc_result_release(&res);

    mi_buf sink = MI_BUF_INIT;
    struct lines l2 = {MI_BUF_INIT, 0, 0, 0};
    char *argv[] = {"sh", "-c", "printf '{\"a\":\\n1}'; echo note >&2", NULL};
    struct mi_proc_opts o = {0};
    o.path = "/bin/sh";
    o.argv = argv;
    o.on_line = collect;
    o.line_ctx = &l2;
    o.stdout_sink = &sink;
    cr_assert_eq(mi_proc_run(&res, &o), 0);
    cr_assert_str_eq(sink.ptr, "{\"a\":\n1}");
    cr_assert_str_eq(l2.text.ptr, "note|");
    mi_proc_result_release(&res);

    /* Over the stdout cap: an error, and the child is stopped. */
    mi_buf_reset(&sink);
    char *argv2[] = {"sh", "-c", "while :; do echo xxxxxxxxxxxxxxxxxxxxxxxxxxxxx; done", NULL};
    o.argv = argv2;
    o.stdout_max = 4096;
    cr_assert_eq(mi_proc_run(&res, &o), MI_ERR);
    cr_assert(strstr(mi_error_last(), "more than 4096 bytes") != NULL, "%s", mi_error_last());
    cr_assert_leq(sink.len, 4096);
    mi_proc_result_release(&res);
    mi_buf_release(&sink);
    mi_buf_release(&l2.text);
}

Test(proc, which_searches_path_and_skips_empty_components)
{
    char *dir = mi_test_tmpdir();
    char *prog = mi_xasprintf("%s/terraform", dir);
    FILE *f = fopen(prog, "w");
    fputs("#!/bin/sh\n", f);
    fclose(f);
    chmod(prog, 0755);
    char *path_var = mi_xasprintf("/nonexistent::%s", dir);
    char *found = NULL;
    cr_assert_eq(mi_proc_which(&found, "terraform", path_var), 0, "%s", mi_error_last());
    cr_assert_str_eq(found, prog);
    free(found);
    cr_assert_eq(mi_proc_which(&found, "terraform", "/nonexistent"), MI_ENOTFOUND);
    cr_assert_null(found);
    cr_assert_eq(mi_proc_which(&found, prog, NULL), 0);
    free(found);
    chmod(prog, 0644);
    cr_assert_eq(mi_proc_which(&found, prog, NULL), MI_ERR);
    cr_assert(strstr(mi_error_last(), "not an executable") != NULL);
    free(path_var);
    free(prog);
    mi_test_rmtree(dir);
    free(dir);
}

Test(proc, env_build_overrides_and_removes)
{
    setenv("MI_TEST_KEEP", "1", 1);
    setenv("MI_TEST_DROP", "secret", 1);
    setenv("MI_TEST_OVER", "old", 1);
    const char *set[] = {"MI_TEST_OVER=new", "MI_TEST_ADD=x", NULL};
    const char *unset[] = {"MI_TEST_DROP", NULL};
    char **env = mi_proc_env_build(set, unset);
    int keep = 0, drop = 0, over = 0, add = 0;
    for (size_t i = 0; env[i]; i++) {
        keep += strcmp(env[i], "MI_TEST_KEEP=1") == 0;
        drop += strncmp(env[i], "MI_TEST_DROP=", 13) == 0;
        over += strcmp(env[i], "MI_TEST_OVER=new") == 0;
        over += strcmp(env[i], "MI_TEST_OVER=old") == 0 ? 10 : 0;
        add += strcmp(env[i], "MI_TEST_ADD=x") == 0;
    }
    cr_assert_eq(keep, 1);
    cr_assert_eq(drop, 0);
    cr_assert_eq(over, 1);
    cr_assert_eq(add, 1);
    mi_proc_env_free(env);
    mi_proc_env_free(NULL);
}
