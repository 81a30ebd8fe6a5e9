/* terraform/tfsource: resource addresses mapped to the .tf line that declares them, through
 * local modules, without being fooled by strings, comments and heredocs. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "terraform/tfsource.h"
#include "testsupport.h"
#include "util/error.h"
#include "util/fs.h"

TestSuite(tfsource);

static void put(const char *dir, const char *name, const char *text)
{
    char *p = mi_fs_join(dir, name);
    char *slash = strrchr(p, '/');
    *slash = '\0';
    cr_assert_eq(mi_fs_mkdir_p(p, 0755), 0, "%s", mi_error_last());
    *slash = '/';
    cr_assert_eq(mi_fs_write_file_atomic(p, text, strlen(text), 0644), 0, "%s", mi_error_last());
    free(p);
}

static void assert_at(const struct mi_tfsource *s, const char *address, const char *file, int line)
{
    const struct mi_tfsource_block *b = mi_tfsource_find(s, address);
    cr_assert_not_null(b, "no block for %s", address);
    cr_assert_str_eq(b->file, file, "%s", address);
    cr_assert_eq(b->line, line, "%s: line %d", address, b->line);
}

Test(tfsource, finds_top_level_blocks_only)
{
    const char *text =
        "# resource \"fake\" \"comment\" {\n"                                        /* 1 */
        "resource \"azurerm_resource_group\" \"main\" {\n"                           /* 2 */
        "  name = \"rg-${var.env}-\\\"quoted\\\" resource \\\"x\\\" \\\"y\\\" {\"\n" /* 3 */
        "  tags = { a = \"}\" }\n"                                                   /* 4 */
        "}\n"                                                                        /* 5 */
        "/* resource \"fake\" \"block\" {\n"                                         /* 6 */
        "*/\n"                                                                       /* 7 */
        "locals {\n"                                                                 /* 8 */
        "  script = <<-EOT\n"                                                        /* 9 */
        "    resource \"fake\" \"heredoc\" {\n"                                      /* 10 */
        "    }\n"                                                                    /* 11 */
        "  EOT\n"                                                                    /* 12 */
        "  nested = { resource = \"x\" }\n"                                          /* 13 */
        "}\n"                                                                        /* 14 */
        "data \"azurerm_client_config\" \"current\" {}\n"                            /* 15 */
        "resource aws_instance web {\n"                                              /* 16 */
        "  user_data = \"${jsonencode({ a = \"}\" })}\"\n"                           /* 17 */
        "}\n"                                                                        /* 18 */
        "  resource \"kubernetes_namespace\" \"mlflow\" {  // why\n"                 /* 19 */
        "}\n";                                                                       /* 20 */
    struct mi_tfsource *s = NULL;
    mi_tfsource_scan_text(&s, text, strlen(text), "main.tf");
    cr_assert_eq(s->len, 4, "%zu blocks", s->len);
    assert_at(s, "azurerm_resource_group.main", "main.tf", 2);
    assert_at(s, "data.azurerm_client_config.current", "main.tf", 15);
    assert_at(s, "aws_instance.web", "main.tf", 16);
    assert_at(s, "kubernetes_namespace.mlflow", "main.tf", 19);
    cr_assert_null(mi_tfsource_find(s, "fake.comment"));
    cr_assert_null(mi_tfsource_find(s, "fake.block"));
    cr_assert_null(mi_tfsource_find(s, "fake.heredoc"));
    /* Instance keys are ignored. */
    assert_at(s, "aws_instance.web[0]", "main.tf", 16);
    assert_at(s, "aws_instance.web[\"a]b\\\"c\"]", "main.tf", 16);
    cr_assert_null(mi_tfsource_find(s, "aws_instance.webx"));
    cr_assert_null(mi_tfsource_find(s, NULL));
    mi_tfsource_free(s);
    mi_tfsource_free(NULL);
}

Test(tfsource, survives_garbage)
{
    const char *texts[] = {"",
                           "\"",
                           "resource \"a\" \"b\"",
                           "${${${",
                           "<<",
                           "<<EOF\nx",
                           "}}}}resource \"a\" \"b\" {",
                           "/*",
                           "resource \"a\" \"b\" \"c\" {}",
                           "resource \"a\" {}",
                           "resource \"a\" \"${x}\" {}"};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        struct mi_tfsource *s = NULL;
        mi_tfsource_scan_text(&s, texts[i], strlen(texts[i]), "x.tf");
        if (i == 6)
            cr_assert_eq(s->len, 1, "text %zu", i);
        else
            cr_assert_eq(s->len, 0, "text %zu: %zu", i, s->len);
        mi_tfsource_free(s);
    }
    /* Deep template nesting gives up quietly. */
    mi_buf deep = MI_BUF_INIT;
    for (int i = 0; i < 200; i++)
        mi_buf_adds(&deep, "\"${");
    mi_buf_adds(&deep, "\nresource \"a\" \"b\" {}\n");
    struct mi_tfsource *s = NULL;
    mi_tfsource_scan_text(&s, deep.ptr, deep.len, "x.tf");
    mi_tfsource_free(s);
    mi_buf_release(&deep);
}

Test(tfsource, follows_local_modules_with_their_prefix)
{
    char *tmp = mi_test_tmpdir();
    put(tmp, "environments/dev/main.tf",
        "module \"app\" {\n  source = \"../../modules/app\"\n  n = 1\n}\n"
        "module \"remote\" {\n  source = \"hashicorp/consul/aws\"\n}\n"
        "resource \"random_id\" \"x\" {}\n");
    put(tmp, "environments/dev/skipped.tf.json", "{\"resource\":{}}");
    put(tmp, "modules/app/main.tf",
        "\nresource \"helm_release\" \"this\" {\n}\nmodule \"db\" {\n  source = \"./db\"\n}\n"
        "module \"loop\" {\n  source = \"../app\"\n}\n");
    put(tmp, "modules/app/db/db.tf",
        "\n\n\nresource \"azurerm_postgresql_flexible_server\" "
        "\"db\" {\n}\n");
    char *cwd = getcwd(NULL, 0);
    cr_assert_eq(chdir(tmp), 0);
    struct mi_tfsource *s = NULL;
    cr_assert_eq(mi_tfsource_scan(&s, "environments/dev"), 0, "%s", mi_error_last());
    assert_at(s, "random_id.x", "environments/dev/main.tf", 8);
    assert_at(s, "module.app.helm_release.this", "modules/app/main.tf", 2);
    assert_at(s, "module.app[0].module.db.azurerm_postgresql_flexible_server.db[\"k\"]",
              "modules/app/db/db.tf", 4);
    /* A module calling itself (terraform refuses that) is not followed round the loop. */
    cr_assert_null(mi_tfsource_find(s, "module.app.module.loop.helm_release.this"));
    mi_tfsource_free(s);
    cr_assert_eq(mi_tfsource_scan(&s, "environments/nope"), MI_ENOTFOUND);
    cr_assert_null(s);
    cr_assert_eq(chdir(cwd), 0);
    free(cwd);
    mi_test_rmtree(tmp);
    free(tmp);
}

Test(tfsource, reference_environment)
{
    char *dev = mi_test_path("environments/dev");
    struct mi_tfsource *s = NULL;
    cr_assert_eq(mi_tfsource_scan(&s, dev), 0, "%s", mi_error_last());
    const struct mi_tfsource_block *b =
        mi_tfsource_find(s, "module.cluster.azurerm_kubernetes_cluster.this");
    if (!b) {
        for (size_t i = 0; i < s->len; i++)
            cr_log_info("%s %s:%d", s->blocks[i].address, s->blocks[i].file, s->blocks[i].line);
    }
    cr_assert_not_null(b);
    cr_assert(strstr(b->file, "modules/cluster/"), "%s", b->file);
    cr_assert_null(strstr(b->file, ".."), "%s", b->file);
    mi_tfsource_free(s);
    free(dev);
}
