/* context/modules: module sources from .tf and .tf.json text, and the transitive local module
 * graph read from a commit (mi_modules_for_env). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "context/modules.h"
#include "gitrepo.h"
#include "testsupport.h"
#include "util/buf.h"
#include "util/error.h"

struct found {
    mi_buf text; /* "line:source;" for each call */
};

static void collect(void *ctx, const char *source, int line)
{
    struct found *f = ctx;
    mi_buf_addf(&f->text, "%d:%s;", line, source);
}

static char *scan(const char *text)
{
    struct found f = {MI_BUF_INIT};
    mi_modules_scan_tf(text, strlen(text), collect, &f);
    return mi_buf_detach(&f.text);
}

Test(modules, scans_module_sources)
{
    char *got = scan("module \"a\" {\n"
                     "  source = \"../../modules/a\"\n"
                     "  tags = { source = \"./not-this\" }\n"
                     "}\n"
                     "module b {\n"
                     "  count  = 1\n"
                     "  source = \"./b\" # trailing comment\n"
                     "}\n"
                     "module \"registry\" {\n"
                     "  source  = \"Azure/aks/azurerm\"\n"
                     "  version = \"~> 9.0\"\n"
                     "}\n");
    cr_assert_str_eq(got, "2:../../modules/a;7:./b;10:Azure/aks/azurerm;");
    free(got);
}

Test(modules, ignores_what_only_looks_like_a_module_block)
{
    char *got = scan("# module \"c\" { source = \"./commented\" }\n"
                     "/* module \"d\" {\n source = \"./block-comment\"\n} */\n"
                     "locals {\n"
                     "  doc = <<-EOT\n"
                     "    module \"e\" {\n"
                     "      source = \"./in-heredoc\"\n"
                     "    }\n"
                     "    EOT\n"
                     "  s = \"module \\\"f\\\" { source = \\\"./in-string\\\" }\"\n"
                     "}\n"
                     "resource \"x\" \"module\" {\n"
                     "  source = \"./resource-attribute\"\n"
                     "}\n"
                     "module \"g\" {\n"
                     "  source = \"./templated-${var.x}\"\n"
                     "  other  = \"${join(\"}\", [\"{\"])}\"\n"
                     "}\n"
                     "module \"h\" {\n"
                     "  source = \"./after\"\n"
                     "}\n");
    cr_assert_str_eq(got, "21:./after;");
    free(got);
}

Test(modules, survives_broken_text)
{
    const char *inputs[] = {"module \"a\" {",         "module \"a\" { source = \"./x",
                            "}}}}} module",           "\"${${${${",
                            "<<EOF\nmodule",          "/* never closed",
                            "module \"a\" { source ="};
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        char *got = scan(inputs[i]);
        free(got);
    }
    char *got = scan("module \"a\" { source = \"./x\"");
    cr_assert_str_eq(got, "1:./x;", "an unterminated block still names its source");
    free(got);
}

Test(modules, scans_json_syntax)
{
    struct found f = {MI_BUF_INIT};
    const char *text =
        "{\"module\": {\"a\": {\"source\": \"./a\"}, \"b\": [{\"source\": \"../b\"}],"
        " \"c\": {\"version\": \"1\"}}, \"resource\": {}}";
    cr_assert_eq(mi_modules_scan_tf_json(text, strlen(text), collect, &f), 0);
    cr_assert_str_eq(f.text.ptr, "0:./a;0:../b;");
    cr_assert_eq(mi_modules_scan_tf_json("[1]", 3, collect, &f), MI_ERR);
    cr_assert_eq(mi_modules_scan_tf_json("{", 1, collect, &f), MI_ERR);
    mi_buf_release(&f.text);
}

static struct mi_test_repo *sample_repo(char **commit)
{
    struct mi_test_repo *r = mi_test_repo_init();
    mi_test_repo_write(r, "environments/dev/main.tf",
                       "module \"a\" {\n  source = \"../../modules/a\"\n}\n"
                       "module \"reg\" {\n  source = \"hashicorp/consul/aws\"\n}\n"
                       "module \"out\" {\n  source = \"../../../outside\"\n}\n");
    mi_test_repo_write(r, "environments/dev/extra.tf.json",
                       "{\"module\": {\"c\": {\"source\": \"../../modules/c\"}}}");
    mi_test_repo_write(r, "environments/dev/notes.md", "module \"z\" { source = \"./z\" }");
    mi_test_repo_write(r, "modules/a/main.tf", "module \"b\" {\n  source = \"../b\"\n}\n");
    mi_test_repo_write(r, "modules/b/main.tf",
                       "module \"a_again\" {\n  source = \"../a\"\n}\n"
                       "module \"gone\" {\n  source = \"../gone\"\n}\n");
    mi_test_repo_write(r, "modules/c/main.tf", "");
    mi_test_repo_write(r, "modules/d/main.tf", "");
    /* A symbolic link is not followed, even when it has a .tf name. */
    mi_test_repo_symlink(r, "environments/dev/linked.tf", "../../modules/d/main.tf");
    mi_test_repo_write(r, "environments/prod/main.tf",
                       "module \"b\" {\n  source = \"../../modules/b\"\n}\n");
    *commit = mi_test_repo_commit(r, "sample");
    return r;
}

static int has_warning(const struct mi_module_list *l, const char *needle)
{
    for (size_t i = 0; i < l->nwarnings; i++)
        if (strstr(l->warnings[i], needle))
            return 1;
    return 0;
}

Test(modules, transitive_local_modules_with_chains)
{
    char *hex;
    struct mi_test_repo *r = sample_repo(&hex);
    git_oid id;
    git_oid_fromstr(&id, hex);
    struct mi_module_list *l = NULL;
    cr_assert_eq(mi_modules_for_env(&l, r->repo, &id, "environments/dev"), 0, "%s",
                 mi_error_last());
    /* Breadth first: c and a (direct, in file order: extra.tf.json before main.tf), then b
     * (through a), then the missing gone (through b); a is not listed twice although b uses
     * it again. */
    cr_assert_eq(l->n, 4, "got %zu modules", l->n);
    cr_assert_str_eq(l->items[0].dir, "modules/c");
    cr_assert_eq(l->items[0].line, 0, "JSON syntax has no lines");
    cr_assert_str_eq(l->items[1].dir, "modules/a");
    cr_assert_eq(l->items[1].via, MI_MODULE_DIRECT);
    cr_assert_str_eq(l->items[1].file, "environments/dev/main.tf");
    cr_assert_eq(l->items[1].line, 2);
    cr_assert_str_eq(l->items[2].dir, "modules/b");
    cr_assert_eq(l->items[2].via, 1);
    cr_assert_str_eq(l->items[3].dir, "modules/gone");
    const char **chain = NULL;
    size_t n = mi_module_list_chain(l, 3, &chain);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(chain[0], "modules/a");
    cr_assert_str_eq(chain[1], "modules/b");
    cr_assert_str_eq(chain[2], "modules/gone");
    free(chain);
    cr_assert(has_warning(l, "outside the repository"));
    cr_assert(has_warning(l, "'../gone' (modules/gone) is not a directory in the commit"));
    for (size_t i = 0; i < l->n; i++)
        cr_assert_str_neq(l->items[i].dir, "modules/d", "followed a symbolic link");
    mi_module_list_free(l);

    /* A graph serves several environments and keeps each traversal separate. */
    struct mi_module_graph *g = NULL;
    cr_assert_eq(mi_module_graph_new(&g, r->repo, &id), 0);
    cr_assert_eq(mi_module_graph_for_dir(&l, g, "environments/prod"), 0);
    cr_assert_eq(l->n, 3); /* b, then a and gone through b */
    cr_assert_str_eq(l->items[0].dir, "modules/b");
    mi_module_list_free(l);
    cr_assert_eq(mi_module_graph_for_dir(&l, g, "environments/dev"), 0);
    cr_assert_eq(l->n, 4);
    mi_module_list_free(l);
    cr_assert_eq(mi_module_graph_for_dir(&l, g, "environments/missing"), 0);
    cr_assert_eq(l->n, 0);
    mi_module_list_free(l);
    mi_module_graph_free(g);
    mi_module_graph_free(NULL);
    mi_module_list_free(NULL);
    free(hex);
    mi_test_repo_free(r);
}
