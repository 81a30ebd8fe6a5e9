/*
 * cycle.h - the whole plan -> merge -> apply cycle for end-to-end tests of the built binary.
 *
 * A struct mi_cycle is one platform team's world: a temporary git repository with
 * mlinfra.yml, environments dev and production and a module; a plan store (a directory, or a
 * container of its own in the executable's shared Azurite); the terraform double
 * (tests/doubles/terraform, which keeps state serial and lineage); and, when asked, the GitHub
 * double (requests checked against GitHub's OpenAPI description). `mlinfra plan` and `mlinfra
 * apply` run in it as a workflow runs them: the event payload is GitHub's recorded example,
 * adjusted; GITHUB_OUTPUT and GITHUB_STEP_SUMMARY are files in the world's directory.
 *
 * Rules:
 *  - Like testsupport.h, every function aborts the test (cr_assert) when it cannot do its
 *    job; none returns an error.
 *  - An executable using Azure calls mi_azuretest_shared_start from ReportHook(PRE_ALL) (and
 *    mi_test_github_share_begin when it uses GitHub); mi_cycle_template_make too when it seeds
 *    plans without running `mlinfra plan` (mi_cycle_seed_plan).
 *  - Returned strings are the caller's to free; mi_cycle_free frees the world and removes
 *    its directories. The fields below may be set between mi_cycle_init and the runs.
 */
#ifndef MI_CYCLE_H
#define MI_CYCLE_H

#include "github_double.h"
#include "gitrepo.h"
#include "store/store.h"
#include "testsupport.h"

#define MI_CYCLE_REPO MI_TEST_GITHUB_REPO
#define MI_CYCLE_PLAN_KEY "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
/* The sensitive output's value in tests/fixtures/plans/local-example.json. */
#define MI_CYCLE_SECRET "local-demo-password"
#define MI_CYCLE_SERVICE_URL "http://127.0.0.1:5000"

struct mi_cycle {
    struct mi_test_repo *r;
    char *dir;       /* temporary: events, outputs, the terraform state, the local store */
    char *store_url; /* file://...; NULL with Azure */
    char *container; /* Azure container; NULL with the local store */
    char *tfstate;
    char *tflog;
    char *terraform;
    struct mi_test_github *gh;    /* NULL: a run without GitHub */
    char *base;                   /* the first commit on branch dev */
    const char *const *extra_env; /* added to every run (NULL-terminated) */
    /* What the agent is pointed at instead of Azurite and the GitHub double (a fault proxy
     * in front of them); the test's own store and GitHub calls still go direct. */
    const char *azure_endpoint;
    const char *github_url;
    int run_timeout_ms; /* a run is killed (and the test fails) after this; 0: 60 s */
};

/* A saved plan of the terraform double (tests/fixtures/plans/local-example.json against no
 * state), made once per executable: tests whose subject is not the plan command seal it into
 * the store themselves (mi_cycle_seed_plan), which saves four terraform runs per plan. Its
 * path is in MI_CYCLE_TEMPLATE_PLAN. */
void mi_cycle_template_make(void);
void mi_cycle_template_remove(void);
/* What most executables of the cycle share, from ReportHook(PRE_ALL) and (POST_ALL): the
 * GitHub double, Azurite and the template plan. */
void mi_cycle_share_begin(void);
void mi_cycle_share_end(void);

/* github: start (or reuse) the GitHub double with its default seed; azure: keep plans in
 * Azurite instead of a local directory. */
void mi_cycle_init(struct mi_cycle *w, int github, int azure);
struct mi_cycle_options {
    int github;
    int azure;
    const char *config_extra; /* appended to the world's mlinfra.yml (top-level keys) */
};
void mi_cycle_init_with(struct mi_cycle *w, const struct mi_cycle_options *o);
void mi_cycle_free(struct mi_cycle *w);

/* <w->dir>/<name>. */
char *mi_cycle_path(struct mi_cycle *w, const char *name);
/* The world's plan store, opened directly (not through w->azure_endpoint). */
struct mi_store *mi_cycle_open_store(struct mi_cycle *w);

/* The environment of a workflow run; w->extra_env, then extra ("K=V") replace what came
 * before them ("K=" removes K). */
char **mi_cycle_env(struct mi_cycle *w, const char *event_name, const char *event,
                    const char *const *extra);
void mi_cycle_env_free(char **env);

/* Files in w->dir: emptied; read whole ("" when missing); searched. */
void mi_cycle_truncate(struct mi_cycle *w, const char *name);
char *mi_cycle_read(struct mi_cycle *w, const char *name);
int mi_cycle_file_has(struct mi_cycle *w, const char *name, const char *text);
/* How many times terraform ran `sub` (the double's log has a line per invocation). */
int mi_cycle_tf_runs(struct mi_cycle *w, const char *sub);

/* Removes terraform's working directories, which no commit holds (a real repository ignores
 * them; a test commit takes the whole working tree). */
void mi_cycle_clean_terraform_dirs(struct mi_cycle *w);
/* A pull request's commit: from `from`, the files written (path, content, ..., NULL). */
char *mi_cycle_pr_commit(struct mi_cycle *w, const char *from, const char *message, ...);
/* GitHub's three merge methods: a merge commit (parents base tip and head), a squash (the
 * merged tree, one parent), a rebase of one commit onto base_tip. */
char *mi_cycle_merge_commit(struct mi_cycle *w, const char *base_tip, const char *head,
                            long long pr);
char *mi_cycle_squash_commit(struct mi_cycle *w, const char *base_tip, const char *head,
                             long long pr);
char *mi_cycle_rebased_commit(struct mi_cycle *w, const char *base_tip, const char *commit);

/* Seeds pull request pr into the GitHub double; extra_json adds fields to it. */
void mi_cycle_seed_pull(struct mi_cycle *w, long long pr, const char *head, const char *base_sha,
                        int merged, const char *merge_sha, const char *extra_json);
/* The body of the agent's comment on pull request pr, or NULL (more than one fails). */
char *mi_cycle_comment_on(struct mi_cycle *w, long long pr);

/* `mlinfra plan --environment dev` on a pull_request event for head, from branch dev; output
 * and summary emptied first. */
void mi_cycle_run_plan(struct mi_test_run *out, struct mi_cycle *w, long long pr, const char *head,
                       const char *base_sha);
/* The same, asserting exit 0 and that the plan was stored (log and step output say so). */
void mi_cycle_plan_ok(struct mi_cycle *w, long long pr, const char *head, const char *base_sha);
/* What `mlinfra plan` stores for pr at head, without running it: the template plan sealed
 * with MI_CYCLE_PLAN_KEY and head's configuration fingerprint (as cmd/planstore.c does). */
void mi_cycle_seed_plan_for(struct mi_cycle *w, const char *env, long long pr, const char *head);
void mi_cycle_seed_plan(struct mi_cycle *w, long long pr, const char *head);

/* A pull request #pr from `from` that sets environments/dev/terraform.tfvars, planned (and
 * stored: mi_cycle_plan_ok) and merged with a merge commit, GitHub told at each step. Returns
 * the merge commit; *head_out (may be NULL) gets the pull request's head. */
char *mi_cycle_planned_merge(struct mi_cycle *w, long long pr, const char *from,
                             const char *message, const char *tfvars, char **head_out);

/* A push event of after onto before, on branch dev; its path. */
char *mi_cycle_push_event(struct mi_cycle *w, const char *before, const char *after);
/* `mlinfra apply [args]` for that push, the checkout moved to after; output and summary
 * emptied first. */
void mi_cycle_run_apply(struct mi_test_run *out, struct mi_cycle *w, const char *before,
                        const char *after, const char *const *args, const char *const *extra);

/* Asserts the stored status of pr's plan at head in environment dev (and that its detail
 * contains detail_part, when given). */
void mi_cycle_store_status(struct mi_cycle *w, const char *head, long long pr,
                           enum mi_store_status want, const char *detail_part);

#endif
