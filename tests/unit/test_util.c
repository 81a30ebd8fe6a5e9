/* util/: the string buffer, the error API, log redaction and workflow-command escaping. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"

Test(buf, grows_and_stays_terminated)
{
    mi_buf b = MI_BUF_INIT;
    cr_assert_str_eq(b.ptr, "");
    for (int i = 0; i < 1000; i++)
        mi_buf_addf(&b, "%d,", i);
    cr_assert(b.len > 3000);
    cr_assert_eq(b.ptr[b.len], '\0');
    cr_assert(strncmp(b.ptr, "0,1,2,", 6) == 0);
    mi_buf_truncate(&b, 2);
    cr_assert_str_eq(b.ptr, "0,");
    char *owned = mi_buf_detach(&b);
    cr_assert_str_eq(owned, "0,");
    cr_assert_str_eq(b.ptr, "");
    free(owned);
    mi_buf_release(&b);
}

Test(buf, escapes_json)
{
    mi_buf b = MI_BUF_INIT;
    mi_buf_add_json_escaped(&b, "a\"b\\c\n\x01");
    cr_assert_str_eq(b.ptr, "a\\\"b\\\\c\\n\\u0001");
    mi_buf_release(&b);
}

Test(error, keeps_code_and_context)
{
    int rc = mi_error_set(MI_ENOTFOUND, "config: %s:%d: unknown key '%s'", "mlinfra.yml", 12, "x");
    cr_assert_eq(rc, MI_ENOTFOUND);
    cr_assert_str_eq(mi_error_last(), "config: mlinfra.yml:12: unknown key 'x'");
    mi_error_prefix("detect");
    cr_assert_str_eq(mi_error_last(), "detect: config: mlinfra.yml:12: unknown key 'x'");
    cr_assert_eq(mi_error_last_code(), MI_ENOTFOUND);
    cr_assert_eq(mi_error_exit_code(MI_EPOLICY), MI_EXIT_POLICY);
    cr_assert_eq(mi_error_exit_code(MI_EREFUSED), MI_EXIT_REFUSED);
    cr_assert_eq(mi_error_exit_code(MI_EUSAGE), MI_EXIT_USAGE);
    cr_assert_eq(mi_error_exit_code(MI_ECONFLICT), MI_EXIT_ERROR);
}

Test(fs, read_missing_file_names_path)
{
    mi_buf b = MI_BUF_INIT;
    int rc = mi_fs_read_file(&b, "/nonexistent/dir/file.yml", 0);
    cr_assert_eq(rc, MI_ENOTFOUND);
    cr_assert(strstr(mi_error_last(), "/nonexistent/dir/file.yml"));
    mi_buf_release(&b);
}

Test(fs, atomic_write_then_read_and_cap)
{
    char templ[] = "/tmp/mi-fs-XXXXXX";
    cr_assert(mkdtemp(templ));
    char *dir = mi_fs_join(templ, "a/b/c");
    cr_assert_eq(mi_fs_mkdir_p(dir, 0755), 0, "%s", mi_error_last());
    char *file = mi_fs_join(dir, "x.txt");
    cr_assert_eq(mi_fs_write_file_atomic(file, "hello", 5, 0600), 0);
    mi_buf b = MI_BUF_INIT;
    cr_assert_eq(mi_fs_read_file(&b, file, 0), 0);
    cr_assert_str_eq(b.ptr, "hello");
    mi_buf_reset(&b);
    cr_assert_eq(mi_fs_read_file(&b, file, 3), MI_ERR, "cap not enforced");
    mi_buf_release(&b);
    free(file);
    free(dir);
}

Test(log, redacts_masked_secrets_everywhere)
{
    mi_log_mask_reset();
    mi_log_mask("s3cr3t-token");
    mi_log_mask("abc"); /* too short to mask safely: ignored */
    mi_buf out = MI_BUF_INIT;
    const char *text = "token=s3cr3t-token and again s3cr3t-token; abc stays";
    mi_log_redact(&out, text, strlen(text));
    cr_assert_str_eq(out.ptr, "token=*** and again ***; abc stays");
    mi_buf_release(&out);
    mi_log_mask_reset();
}

Test(log, github_mode_annotations_are_escaped)
{
    setenv("GITHUB_ACTIONS", "true", 1);
    mi_log_init();
    char *data = NULL;
    size_t size = 0;
    FILE *mem = open_memstream(&data, &size);
    mi_log_set_stream(mem);
    mi_log_annotate(MI_LOG_ERROR, "envs/a,b.tf", 7, NULL, "bad: 100%%\nnext");
    mi_log_group_begin("terraform plan");
    mi_log_group_end();
    fflush(mem);
    cr_assert_str_eq(data, "::error file=envs/a%2Cb.tf,line=7::bad: 100%25%0Anext\n"
                           "::group::terraform plan\n::endgroup::\n");
    mi_log_set_stream(NULL);
    fclose(mem);
    free(data);
    unsetenv("GITHUB_ACTIONS");
    mi_log_init();
}

Test(log, plain_mode_names_file_and_line)
{
    unsetenv("GITHUB_ACTIONS");
    mi_log_init();
    char *data = NULL;
    size_t size = 0;
    FILE *mem = open_memstream(&data, &size);
    mi_log_set_stream(mem);
    mi_log_annotate(MI_LOG_WARNING, "mlinfra.yml", 3, NULL, "unknown key '%s'", "x");
    fflush(mem);
    cr_assert_str_eq(data, "mlinfra.yml:3: warning: unknown key 'x'\n");
    mi_log_set_stream(NULL);
    fclose(mem);
    free(data);
}
