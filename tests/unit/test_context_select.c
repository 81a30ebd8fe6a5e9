/* context/select: candidates by branch, affected by directory, watched paths and module
 * chains, renames, full runs, nothing to do, dispatch narrowing. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context/select.h"
#include "gitrepo.h"
#include "testsupport.h"
#include "util/buf.h"
#include "util/error.h"

struct fixture {
    struct mi_test_repo *r;
    char *c1;
    struct mi_config *cfg;
};

static const char CONFIG[] = "defaults:\n"
                             "  branch: main\n"
                             "environments:\n"
                             "  dev: {}\n"
                             "  staging:\n"
                             "    watch: ['charts/**/values.yaml']\n"
                             "  production:\n"
                             "    branch: release\n";

/* Three environments on one branch (main) but production (release); dev uses modules/a which
 * uses modules/b; staging uses modules/c directly; production uses modules/b. */
static void fixture_init(struct fixture *f)
{
    f->r = mi_test_repo_init();
    mi_test_repo_write(f->r, "environments/dev/main.tf",
                       "module \"a\" {\n  source = \"../../modules/a\"\n}\n");
    mi_test_repo_write(f->r, "environments/staging/main.tf",
                       "module \"c\" {\n  source = \"../../modules/c\"\n}\n");
    mi_test_repo_write(f->r, "environments/production/main.tf",
                       "module \"b\" {\n  source = \"../../modules/b\"\n}\n");
    mi_test_repo_write(f->r, "modules/a/main.tf", "module \"b\" {\n  source = \"../b\"\n}\n");
    mi_test_repo_write(f->r, "modules/b/main.tf", "resource \"x\" \"y\" {}\n");
    mi_test_repo_write(f->r, "modules/c/main.tf", "resource \"x\" \"y\" {}\n");
    mi_test_repo_write(f->r, "docs/README.md", "docs\n");
    f->c1 = mi_test_repo_commit(f->r, "one");
    cr_assert_eq(mi_config_parse(&f->cfg, CONFIG, strlen(CONFIG), "mlinfra.yml"), 0);
}

static void fixture_free(struct fixture *f)
{
    mi_config_free(f->cfg);
    free(f->c1);
    mi_test_repo_free(f->r);
}

/* Commits the working tree, selects for a local run of branch main from c1, and describes
 * the result: "dev:module(modules/a>modules/b);staging:..." or "skip:<reason>". */
static char *select_after(struct fixture *f, const char *branch)
{
    char *c2 = mi_test_repo_commit(f->r, "change");
    struct mi_context *ctx = NULL;
    cr_assert_eq(mi_context_local(&ctx, branch), 0);
    struct mi_changes *ch = NULL;
    cr_assert_eq(mi_changes_for_context(&ch, f->r->repo, ctx, f->c1, c2), 0, "%s", mi_error_last());
    struct mi_selection *s = NULL;
    cr_assert_eq(mi_select_environments(&s, f->cfg, ctx, ch, f->r->repo), 0, "%s", mi_error_last());
    mi_buf b = MI_BUF_INIT;
    if (!s->n)
        mi_buf_addf(&b, "skip:%s", s->skip_reason);
    for (size_t i = 0; i < s->n; i++) {
        const struct mi_selected *e = &s->envs[i];
        const struct mi_reason *r = &e->reasons[0];
        static const char *kinds[] = {"directory", "watch", "module", "full"};
        mi_buf_addf(&b, "%s:%s(%s", e->name, kinds[r->kind], r->path ? r->path : "");
        for (size_t k = 0; k < r->nchain; k++)
            mi_buf_addf(&b, "%s%s", k ? ">" : " via ", r->chain[k]);
        if (r->renamed_from)
            mi_buf_addf(&b, " from %s", r->renamed_from);
        if (r->renamed_to)
            mi_buf_addf(&b, " to %s", r->renamed_to);
        mi_buf_addf(&b, ")x%zu;", e->total_reasons);
    }
    mi_selection_free(s);
    mi_changes_free(ch);
    mi_context_free(ctx);
    free(c2);
    return mi_buf_detach(&b);
}

#define EXPECT(f, branch, want)                                                                    \
    do {                                                                                           \
        char *got_ = select_after(f, branch);                                                      \
        cr_assert_str_eq(got_, want);                                                              \
        free(got_);                                                                                \
    } while (0)

Test(select, module_chain_selects_the_environment)
{
    struct fixture f;
    fixture_init(&f);
    mi_test_repo_write(f.r, "modules/b/main.tf", "resource \"x\" \"z\" {}\n");
    /* dev through a then b; production uses b directly but is on another branch, so a run
     * of main leaves it out and a run of release selects it. */
    EXPECT(&f, "main", "dev:module(modules/b/main.tf via modules/a>modules/b)x1;");
    EXPECT(&f, "release", "production:module(modules/b/main.tf via modules/b)x1;");
    fixture_free(&f);
}

Test(select, every_affected_environment_of_the_branch)
{
    struct fixture f;
    fixture_init(&f);
    mi_test_repo_write(f.r, "environments/dev/variables.tf", "variable \"v\" {}\n");
    mi_test_repo_write(f.r, "charts/mlflow/values.yaml", "replicas: 2\n");
    mi_test_repo_write(f.r, "modules/b/outputs.tf", "output \"o\" {}\n");
    EXPECT(&f, "main",
           "dev:directory(environments/dev/variables.tf)x2;"
           "staging:watch(charts/mlflow/values.yaml)x1;");
    fixture_free(&f);
}

Test(select, without_a_branch_every_environment_is_a_candidate)
{
    struct fixture f;
    fixture_init(&f);
    mi_test_repo_write(f.r, "modules/b/main.tf", "resource \"x\" \"z\" {}\n");
    EXPECT(&f, NULL,
           "dev:module(modules/b/main.tf via modules/a>modules/b)x1;"
           "production:module(modules/b/main.tf via modules/b)x1;");
    fixture_free(&f);
}

Test(select, renames_count_both_paths)
{
    struct fixture f;
    fixture_init(&f);
    /* Moving a file out of staging's directory affects staging (the old path). */
    mi_test_repo_rename(f.r, "environments/staging/main.tf", "attic/staging.tf");
    EXPECT(&f, "main", "staging:directory(environments/staging/main.tf to attic/staging.tf)x1;");
    fixture_free(&f);

    fixture_init(&f);
    /* Moving a file into modules/a affects dev (the new path). */
    mi_test_repo_rename(f.r, "docs/README.md", "modules/a/README.md");
    EXPECT(&f, "main", "dev:module(modules/a/README.md via modules/a from docs/README.md)x1;");
    fixture_free(&f);
}

Test(select, no_op_changes_skip)
{
    struct fixture f;
    fixture_init(&f);
    EXPECT(&f, "main",
           "skip:no changed path is in the directory, the watched paths or the "
           "local modules of an environment of branch 'main' (environments/dev, "
           "environments/staging): 0 changed paths examined");
    mi_test_repo_write(f.r, "docs/README.md", "more docs\n");
    char *got = select_after(&f, "main");
    cr_assert(strstr(got, "): 1 changed path examined"), "%s", got);
    free(got);
    EXPECT(&f, "feature/x",
           "skip:branch 'feature/x' is not the branch of any environment "
           "(environments: dev (branch main), staging (branch main), "
           "production (branch release))");
    fixture_free(&f);
}

static struct mi_selection *select_with(struct fixture *f, struct mi_context *ctx,
                                        struct mi_changes *ch, int want_rc)
{
    struct mi_selection *s = NULL;
    int rc = mi_select_environments(&s, f->cfg, ctx, ch, f->r->repo);
    cr_assert_eq(rc, want_rc, "%s", mi_error_last());
    return s;
}

Test(select, full_runs_nothing_to_do_and_dispatch)
{
    struct fixture f;
    fixture_init(&f);
    struct mi_changes ch;
    memset(&ch, 0, sizeof(ch));
    ch.method = "full-run";
    ch.full_run = 1;
    ch.reason = "a new branch";
    struct mi_context *ctx = NULL;
    cr_assert_eq(mi_context_local(&ctx, "main"), 0);
    struct mi_selection *s = select_with(&f, ctx, &ch, 0);
    cr_assert_eq(s->n, 2);
    cr_assert_eq(s->envs[0].reasons[0].kind, MI_REASON_FULL_RUN);
    cr_assert_str_eq(s->envs[0].reasons[0].detail, "a new branch");
    cr_assert_eq(s->ncandidates, 2);
    mi_selection_free(s);

    /* A dispatch naming an environment narrows the candidates to it. */
    ctx->kind = MI_EVENT_WORKFLOW_DISPATCH;
    ctx->input_environment = mi_xstrdup("staging");
    s = select_with(&f, ctx, &ch, 0);
    cr_assert_eq(s->n, 1);
    cr_assert_str_eq(s->envs[0].name, "staging");
    mi_selection_free(s);
    free(ctx->input_environment);
    ctx->input_environment = mi_xstrdup("production");
    s = select_with(&f, ctx, &ch, MI_EUSAGE);
    cr_assert(strstr(mi_error_last(), "deployed from branch 'release', not from 'main'"), "%s",
              mi_error_last());
    free(ctx->input_environment);
    ctx->input_environment = mi_xstrdup("qa");
    s = select_with(&f, ctx, &ch, MI_EUSAGE);
    cr_assert(strstr(mi_error_last(), "no environment 'qa'"), "%s", mi_error_last());
    free(ctx->input_environment);
    ctx->input_environment = NULL;

    ch.full_run = 0;
    ch.nothing_to_do = 1;
    ch.reason = "branch 'main' was deleted";
    s = select_with(&f, ctx, &ch, 0);
    cr_assert_eq(s->n, 0);
    cr_assert_str_eq(s->skip_reason, "branch 'main' was deleted");
    mi_selection_free(s);

    /* A tag is not a branch. */
    free(ctx->branch);
    ctx->branch = NULL;
    ctx->kind = MI_EVENT_PUSH;
    free(ctx->ref);
    ctx->ref = mi_xstrdup("refs/tags/v1");
    s = select_with(&f, ctx, &ch, 0);
    cr_assert_eq(s->n, 0);
    cr_assert(strstr(s->skip_reason, "'refs/tags/v1' is not a branch"), "%s", s->skip_reason);
    mi_selection_free(s);
    mi_context_free(ctx);
    mi_selection_free(NULL);
    fixture_free(&f);
}

Test(select, reasons_are_capped_and_counted)
{
    struct fixture f;
    fixture_init(&f);
    char path[64];
    for (int i = 0; i < 50; i++) {
        snprintf(path, sizeof(path), "environments/dev/f%02d.tf", i);
        mi_test_repo_write(f.r, path, "# x\n");
    }
    char *c2 = mi_test_repo_commit(f.r, "many");
    struct mi_context *ctx = NULL;
    cr_assert_eq(mi_context_local(&ctx, "main"), 0);
    struct mi_changes *ch = NULL;
    cr_assert_eq(mi_changes_for_context(&ch, f.r->repo, ctx, f.c1, c2), 0);
    struct mi_selection *s = select_with(&f, ctx, ch, 0);
    cr_assert_eq(s->n, 1);
    cr_assert_eq(s->envs[0].nreasons, MI_SELECT_MAX_REASONS);
    cr_assert_eq(s->envs[0].total_reasons, 50);
    mi_selection_free(s);
    mi_changes_free(ch);
    mi_context_free(ctx);
    free(c2);
    fixture_free(&f);
}
