/* Secret hygiene (issue 7): a whole plan -> merge -> apply cycle with planted secret values
 * in every place a platform team keeps one - the GitHub token, the plan key and the previous
 * plan key, the Azure storage key or SAS, the OIDC request token, a sensitive terraform
 * variable (also as TF_VAR_), a sensitive output and a sensitive resource attribute - and then
 * every byte the agent wrote is scanned for them: its stdout and stderr (with debug logging
 * on), the step outputs, the job summary, every request body and path it sent to GitHub,
 * every file it left in the workspace and in RUNNER_TEMP, and every blob, metadata value and
 * blob name it left in the plan store. Nothing may contain a planted value, except the
 * `::add-mask::` command that hands a value to the runner so that the runner hides it (the
 * runner removes that line from the log; see docs/SECURITY.md).
 *
 * The files terraform itself owns are not the agent's and are not scanned: its state (which
 * holds sensitive values by terraform's design), the terraform double's own log, and its
 * working directory .terraform/. */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "azuretest.h"
#include "cycle.h"
#include "events.h"
#include "github_double.h"
#include "remote/azure_blob.h"
#include "testsupport.h"
#include "util/error.h"
#include "util/fs.h"

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    (void)set;
    mi_cycle_share_begin();
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    (void)stats;
    mi_cycle_share_end();
}

/* The planted values. Each is long and odd enough never to occur by chance. */
#define PREVIOUS_KEY "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc="
#define OIDC_REQUEST_TOKEN "oidc-request-token-PLANTED-5b0e7c2d91"
#define VAR_SECRET "PLANTED-variable-3f9a1c77e2"
#define OUTPUT_SECRET "PLANTED-output-8d24b6a0c5"
#define ATTRIBUTE_SECRET "PLANTED-attribute-61e0f93b4a"

struct planted {
    const char *what;
    const char *value;
};

static const struct planted always[] = {
    {"GITHUB_TOKEN", MI_TEST_GITHUB_TOKEN},
    {"MLINFRA_PLAN_KEY", MI_CYCLE_PLAN_KEY},
    {"MLINFRA_PLAN_KEY_PREVIOUS", PREVIOUS_KEY},
    {"ACTIONS_ID_TOKEN_REQUEST_TOKEN", OIDC_REQUEST_TOKEN},
    {"a sensitive variable", VAR_SECRET},
    {"a sensitive output", OUTPUT_SECRET},
    {"a sensitive attribute", ATTRIBUTE_SECRET},
};

/* What was found where; one line per finding. */
struct scan {
    mi_buf findings;
    size_t bytes;                /* scanned */
    size_t places;               /* streams, files, requests and blobs scanned */
    const struct planted *extra; /* the run's storage credential */
};

static void scan_bytes(struct scan *s, const char *where, const char *data, size_t len)
{
    s->bytes += len;
    s->places++;
    for (size_t i = 0; i < sizeof(always) / sizeof(always[0]); i++)
        if (mi_test_leaks_n(data, len, always[i].value))
            mi_buf_addf(&s->findings, "%s: %s\n", where, always[i].what);
    if (s->extra && mi_test_leaks_n(data, len, s->extra->value))
        mi_buf_addf(&s->findings, "%s: %s\n", where, s->extra->what);
}

static void scan_text(struct scan *s, const char *where, const char *text)
{
    scan_bytes(s, where, text ? text : "", text ? strlen(text) : 0);
}

/* ---- files ---------------------------------------------------------------------------------- */

static struct scan *walking;
static const char *const *walk_skip;

static int scan_one_file(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    const char *base = path + ftw->base;
    if (flag == FTW_D && (strcmp(base, ".git") == 0 || strcmp(base, ".terraform") == 0))
        return FTW_SKIP_SUBTREE;
    if (flag != FTW_F)
        return FTW_CONTINUE;
    for (size_t i = 0; walk_skip && walk_skip[i]; i++)
        if (strcmp(base, walk_skip[i]) == 0)
            return FTW_CONTINUE;
    mi_buf b = MI_BUF_INIT;
    cr_assert_eq(mi_fs_read_file(&b, path, 0), 0, "%s", mi_error_last());
    scan_bytes(walking, path, b.ptr, b.len);
    mi_buf_release(&b);
    return FTW_CONTINUE;
}

/* Every file under dir but .git/, .terraform/ and the names in skip. */
static void scan_tree(struct scan *s, const char *dir, const char *const *skip)
{
    walking = s;
    walk_skip = skip;
    cr_assert_eq(nftw(dir, scan_one_file, 16, FTW_PHYS | FTW_ACTIONRETVAL), 0, "cannot walk %s",
                 dir);
    walking = NULL;
}

/* ---- GitHub and the store ---------------------------------------------------------------------
 */

/* Path, query and body of every request GitHub received (headers hold the token by design). */
static void scan_github(struct scan *s, struct mi_cycle *w)
{
    json_t *reqs = mi_test_github_get(w->gh, "requests");
    size_t i;
    json_t *r;
    json_array_foreach(reqs, i, r)
    {
        char *where = mi_xasprintf("GitHub request %zu (%s %s)", i,
                                   json_string_value(json_object_get(r, "method")),
                                   json_string_value(json_object_get(r, "path")));
        json_t *seen = json_pack("{s:O?,s:O?,s:O?}", "path", json_object_get(r, "path"), "query",
                                 json_object_get(r, "query"), "body", json_object_get(r, "body"));
        char *text = json_dumps(seen, JSON_COMPACT);
        scan_text(s, where, text);
        free(text);
        json_decref(seen);
        free(where);
    }
    cr_assert(json_array_size(reqs) > 0, "the agent sent GitHub nothing");
    json_decref(reqs);
}

/* Every blob's name, metadata and bytes in the world's container. Returns the blob count. */
static size_t scan_store(struct scan *s, struct mi_cycle *w)
{
    char *endpoint = mi_azuretest_endpoint();
    struct mi_azblob *c = mi_azuretest_client(endpoint, w->container);
    size_t blobs = 0;
    char *marker = NULL;
    do {
        struct mi_azblob_page page;
        cr_assert_eq(mi_azblob_list(c, NULL, marker, 100, &page), 0, "%s", mi_error_last());
        free(marker);
        marker = page.next_marker ? mi_xstrdup(page.next_marker) : NULL;
        for (size_t i = 0; i < page.len; i++) {
            const struct mi_azblob_item *it = &page.items[i];
            char *where = mi_xasprintf("blob %s", it->name);
            mi_buf all = MI_BUF_INIT;
            mi_buf_addf(&all, "%s\n", it->name);
            for (size_t k = 0; k < it->meta.len; k++)
                mi_buf_addf(&all, "%s=%s\n", it->meta.items[k].name, it->meta.items[k].value);
            cr_assert_eq(mi_azblob_get_buf(c, it->name, &all, 64u << 20), 0, "%s", mi_error_last());
            scan_bytes(s, where, all.ptr, all.len);
            mi_buf_release(&all);
            free(where);
            blobs++;
        }
        mi_azblob_page_release(&page);
    } while (marker);
    mi_azblob_free(c);
    free(endpoint);
    return blobs;
}

/* ---- the plan with planted sensitive values ------------------------------------------------- */

/* The fixture plan with its sensitive variable, output and one attribute given planted values
 * (written into dir; caller frees the path). */
static char *planted_plan(const char *dir)
{
    char *fixture = mi_test_path("tests/fixtures/plans/local-example.json");
    json_error_t err;
    json_t *doc = json_load_file(fixture, 0, &err);
    cr_assert(doc, "%s: %s", fixture, err.text);
    free(fixture);
    json_object_set_new(json_object_get(json_object_get(doc, "variables"), "tracking_password"),
                        "value", json_string(VAR_SECRET));
    json_t *out = json_object_get(json_object_get(doc, "output_changes"), "tracking_password");
    cr_assert(out, "the fixture has no sensitive output");
    json_object_set_new(out, "after", json_string(OUTPUT_SECRET));
    json_t *pv = json_object_get(json_object_get(json_object_get(doc, "planned_values"), "outputs"),
                                 "tracking_password");
    if (pv)
        json_object_set_new(pv, "value", json_string(OUTPUT_SECRET));
    /* A sensitive attribute in a resource's planned values. */
    size_t i;
    json_t *rc;
    int planted_attr = 0;
    json_array_foreach(json_object_get(doc, "resource_changes"), i, rc)
    {
        if (strcmp(json_string_value(json_object_get(rc, "address")), "terraform_data.mlflow_ip") !=
            0)
            continue;
        json_t *change = json_object_get(rc, "change");
        json_t *after = json_object_get(change, "after");
        cr_assert(json_is_object(after));
        json_object_set_new(after, "triggers_replace", json_string(ATTRIBUTE_SECRET));
        json_t *sens = json_object_get(change, "after_sensitive");
        if (!json_is_object(sens)) {
            sens = json_object();
            json_object_set_new(change, "after_sensitive", sens);
        }
        json_object_set_new(sens, "triggers_replace", json_true());
        planted_attr = 1;
    }
    cr_assert(planted_attr, "the fixture has no terraform_data.mlflow_ip");
    char *path = mi_xasprintf("%s/planted-plan.json", dir);
    cr_assert_eq(json_dump_file(doc, path, JSON_INDENT(1)), 0);
    json_decref(doc);
    /* The double echoes the file; be sure the values are really in what terraform shows. */
    mi_buf b = MI_BUF_INIT;
    cr_assert_eq(mi_fs_read_file(&b, path, 0), 0);
    cr_assert(strstr(b.ptr, VAR_SECRET) && strstr(b.ptr, OUTPUT_SECRET) &&
              strstr(b.ptr, ATTRIBUTE_SECRET));
    mi_buf_release(&b);
    return path;
}

TestSuite(secrets, .timeout = 180);

/* The files of RUNNER_TEMP that are not the agent's: terraform's state and the double's log
 * (terraform's own), the event payloads and the planted plan (the test's inputs). */
static const char *const not_the_agents[] = {
    "terraform.tfstate", "tf.log", "pull_request.json", "push.json", "planted-plan.json", NULL};

/* What one run wrote to its streams and to the runner's files; label names it in findings. */
static void scan_run(struct scan *s, struct mi_cycle *w, const char *label,
                     const struct mi_test_run *r)
{
    static const char *const parts[][2] = {{"output", "step outputs"}, {"summary", "job summary"}};
    char *where = mi_xasprintf("%s stdout", label);
    scan_text(s, where, r->out.ptr);
    free(where);
    where = mi_xasprintf("%s stderr", label);
    scan_text(s, where, r->err.ptr);
    free(where);
    for (size_t i = 0; i < 2; i++) {
        char *text = mi_cycle_read(w, parts[i][0]);
        where = mi_xasprintf("%s %s", label, parts[i][1]);
        scan_text(s, where, text);
        free(where);
        free(text);
    }
}

/* Everything the runs left behind: GitHub's requests, the store, the workspace, RUNNER_TEMP.
 * Returns the number of blobs in the store. */
static size_t scan_leftovers(struct scan *s, struct mi_cycle *w)
{
    scan_github(s, w);
    size_t blobs = scan_store(s, w);
    scan_tree(s, w->r->dir, NULL);
    scan_tree(s, w->dir, not_the_agents);
    return blobs;
}

static void report(struct scan *s, const char *scenario)
{
    cr_assert(s->places > 10 && s->bytes > 10000,
              "%s: the scan saw too little to mean anything (%zu places, %zu bytes)", scenario,
              s->places, s->bytes);
    cr_log_info("%s: scanned %zu places, %zu bytes", scenario, s->places, s->bytes);
    cr_assert_eq(s->findings.len, 0, "%s: planted secrets found:\n%s", scenario, s->findings.ptr);
}

/* The successful cycle, with debug logging on. */
Test(secrets, no_planted_secret_in_anything_a_whole_cycle_writes)
{
    struct mi_cycle w;
    mi_cycle_init(&w, 1, 1);
    char *plan_json = planted_plan(w.dir);
    char *tf_plan_json = mi_xasprintf("TFDOUBLE_PLAN_JSON=%s", plan_json);
    const char *const env[] = {tf_plan_json,
                               "MLINFRA_PLAN_KEY_PREVIOUS=" PREVIOUS_KEY,
                               "ACTIONS_ID_TOKEN_REQUEST_TOKEN=" OIDC_REQUEST_TOKEN,
                               "ACTIONS_ID_TOKEN_REQUEST_URL=http://127.0.0.1:9/token",
                               "TF_VAR_tracking_password=" VAR_SECRET,
                               "RUNNER_DEBUG=1",
                               "MLINFRA_DEBUG=1",
                               NULL};
    w.extra_env = env;
    struct planted storage_key = {"AZURE_STORAGE_KEY", MI_AZURITE_KEY};
    struct scan s = {MI_BUF_INIT, 0, 0, &storage_key};

    /* The scanner's own check: the plan terraform shows holds the three sensitive values. */
    struct scan control = {MI_BUF_INIT, 0, 0, NULL};
    mi_buf raw = MI_BUF_INIT;
    cr_assert_eq(mi_fs_read_file(&raw, plan_json, 0), 0);
    scan_bytes(&control, "the planted plan", raw.ptr, raw.len);
    mi_buf_release(&raw);
    cr_assert(control.findings.ptr && strstr(control.findings.ptr, "a sensitive variable") &&
                  strstr(control.findings.ptr, "a sensitive output") &&
                  strstr(control.findings.ptr, "a sensitive attribute"),
              "the scanner misses planted values: %s", control.findings.ptr);
    mi_buf_release(&control.findings);

    char *head = mi_cycle_pr_commit(&w, w.base, "dev: two replicas",
                                    "environments/dev/terraform.tfvars", "replicas = 2\n", NULL);
    mi_cycle_seed_pull(&w, 61, head, w.base, 0, NULL, NULL);
    struct mi_test_run plan;
    mi_cycle_run_plan(&plan, &w, 61, head, w.base);
    cr_assert_eq(plan.exit_code, 0, "plan (%d):\n%s", plan.exit_code, plan.err.ptr);
    cr_assert(strstr(plan.err.ptr, "sealed the plan"), "%s", plan.err.ptr);
    /* The masks were handed to the runner: the run would otherwise rely on luck. */
    cr_assert(strstr(plan.out.ptr, "::add-mask::") || strstr(plan.err.ptr, "::add-mask::"),
              "no ::add-mask:: for the sensitive values:\n%s", plan.err.ptr);
    cr_assert(mi_cycle_file_has(&w, "summary", "terraform_data.mlflow_ip"),
              "the job summary lacks the plan");
    scan_run(&s, &w, "plan", &plan);

    char *merge = mi_cycle_merge_commit(&w, w.base, head, 61);
    mi_cycle_seed_pull(&w, 61, head, w.base, 1, merge, NULL);
    struct mi_test_run apply;
    mi_cycle_run_apply(&apply, &w, w.base, merge, NULL, NULL);
    cr_assert_eq(apply.exit_code, 0, "apply (%d):\n%s", apply.exit_code, apply.err.ptr);
    cr_assert(mi_cycle_file_has(&w, "output", "result=applied"), "the apply was not reported");
    scan_run(&s, &w, "apply", &apply);

    char *comment = mi_cycle_comment_on(&w, 61);
    cr_assert(comment && strstr(comment, "tracking_password"),
              "the comment does not show the sensitive output's name:\n%s", comment ? comment : "");
    free(comment);
    size_t blobs = scan_leftovers(&s, &w);
    cr_assert(blobs >= 2, "the store holds %zu blobs; the plan was not stored", blobs);
    report(&s, "whole cycle");

    mi_buf_release(&s.findings);
    mi_test_run_release(&plan);
    mi_test_run_release(&apply);
    free(merge);
    free(head);
    free(tf_plan_json);
    free(plan_json);
    mi_cycle_free(&w);
}

/* Failing runs say more (endpoints, server answers): a SAS the store refuses, GitHub failing
 * every comment request, and an apply whose plan key is wrong. None of their messages may
 * carry a planted value. */
Test(secrets, no_planted_secret_in_what_failing_runs_write)
{
    struct mi_cycle w;
    mi_cycle_init(&w, 1, 1);
    char *plan_json = planted_plan(w.dir);
    char *tf_plan_json = mi_xasprintf("TFDOUBLE_PLAN_JSON=%s", plan_json);
    /* A SAS whose signature is wrong: Azurite answers 403 and the agent says why. */
    char *endpoint = mi_azuretest_endpoint();
    mi_azblob_free(mi_azuretest_client(endpoint, w.container)); /* creates the container */
    char *good_sas = mi_azuretest_container_sas(w.container, "racwdl", "2030-01-01T00:00:00Z");
    char *bad_sas = mi_xasprintf("%s", good_sas);
    char *sig = strstr(bad_sas, "sig=");
    cr_assert(sig && sig[4] && sig[5]);
    sig[4] = sig[4] == 'A' ? 'B' : 'A';
    sig[5] = sig[5] == 'A' ? 'B' : 'A';
    char *sas_env = mi_xasprintf("AZURE_STORAGE_SAS_TOKEN=%s", bad_sas);
    const char *const env[] = {tf_plan_json,
                               sas_env,
                               "AZURE_STORAGE_KEY=",
                               "MLINFRA_PLAN_KEY_PREVIOUS=" PREVIOUS_KEY,
                               "ACTIONS_ID_TOKEN_REQUEST_TOKEN=" OIDC_REQUEST_TOKEN,
                               "ACTIONS_ID_TOKEN_REQUEST_URL=http://127.0.0.1:9/token",
                               "TF_VAR_tracking_password=" VAR_SECRET,
                               "MLINFRA_HTTP_RETRY_DELAY_MS=10",
                               "RUNNER_DEBUG=1",
                               NULL};
    w.extra_env = env;
    struct planted sas = {"AZURE_STORAGE_SAS_TOKEN", bad_sas};
    struct scan s = {MI_BUF_INIT, 0, 0, &sas};

    /* 1. The store refuses the SAS; GitHub fails every comment request. */
    mi_test_github_fail(w.gh, "{\"path\": \"/comments\", \"status\": 502, \"count\": 100, "
                              "\"body\": \"<html>bad gateway</html>\"}");
    char *head = mi_cycle_pr_commit(&w, w.base, "dev: two replicas",
                                    "environments/dev/terraform.tfvars", "replicas = 2\n", NULL);
    mi_cycle_seed_pull(&w, 62, head, w.base, 0, NULL, NULL);
    struct mi_test_run plan;
    mi_cycle_run_plan(&plan, &w, 62, head, w.base);
    cr_assert_eq(plan.exit_code, 1, "plan (%d):\n%s", plan.exit_code, plan.err.ptr);
    cr_assert(strstr(plan.err.ptr, "cannot store the sealed plan"), "%s", plan.err.ptr);
    cr_assert(strstr(plan.err.ptr, "cannot post the plan comment"), "%s", plan.err.ptr);
    scan_run(&s, &w, "failing plan", &plan);

    /* 2. The plan stored with the right key; the apply runs with a wrong one. */
    w.extra_env = NULL;
    mi_cycle_seed_plan(&w, 62, head);
    char *merge = mi_cycle_merge_commit(&w, w.base, head, 62);
    mi_cycle_seed_pull(&w, 62, head, w.base, 1, merge, NULL);
    const char *const wrong_key[] = {tf_plan_json,
                                     "MLINFRA_PLAN_KEY=" PREVIOUS_KEY,
                                     "ACTIONS_ID_TOKEN_REQUEST_TOKEN=" OIDC_REQUEST_TOKEN,
                                     "ACTIONS_ID_TOKEN_REQUEST_URL=http://127.0.0.1:9/token",
                                     "RUNNER_DEBUG=1",
                                     NULL};
    struct mi_test_run apply;
    mi_cycle_run_apply(&apply, &w, w.base, merge, NULL, wrong_key);
    cr_assert_eq(apply.exit_code, 4, "apply (%d):\n%s", apply.exit_code, apply.err.ptr);
    cr_assert(strstr(apply.err.ptr, "key id"), "%s", apply.err.ptr);
    cr_assert_eq(mi_cycle_tf_runs(&w, "apply"), 0);
    scan_run(&s, &w, "refused apply", &apply);

    scan_leftovers(&s, &w);
    report(&s, "failing runs");

    mi_buf_release(&s.findings);
    mi_test_run_release(&plan);
    mi_test_run_release(&apply);
    free(merge);
    free(head);
    free(sas_env);
    free(bad_sas);
    free(good_sas);
    free(endpoint);
    free(tf_plan_json);
    free(plan_json);
    mi_cycle_free(&w);
}
