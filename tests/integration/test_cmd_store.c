/* `mlinfra store` end to end: the binary against a local store and against Azurite, for
 * list, get, prune and unlock, with the exit codes of DESIGN.md section 9. */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "azuretest.h"
#include "store/store.h"
#include "testsupport.h"
#include "util/error.h"
#include "util/fs.h"

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    (void)set;
    mi_azuretest_shared_start();
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    (void)stats;
    mi_azuretest_shared_stop();
}

#define REPO "acme/infra"
#define KEY_A "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
#define KEY_B "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="
#define SHA1 "1111111111111111111111111111111111111111"
#define SHA2 "2222222222222222222222222222222222222222"

static char *dir, *store_url;

static void setup(void)
{
    cr_assert(sodium_init() >= 0);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    dir = mi_test_tmpdir();
    store_url = mi_xasprintf("file://%s/store", dir);
}

static void teardown(void)
{
    mi_test_rmtree(dir);
    free(dir);
    free(store_url);
    curl_global_cleanup();
}

TestSuite(cmd_store, .init = setup, .fini = teardown);

static void seed(struct mi_store *s, const char *env, long long pr, const char *sha)
{
    char *plan = mi_xasprintf("%s/seed.plan", dir);
    cr_assert_eq(mi_fs_write_file_atomic(plan, "terraform plan bytes", 20, 0600), 0);
    struct mi_seal_keyring k;
    cr_assert_eq(mi_seal_keyring_from_base64(&k, KEY_A, NULL), 0);
    struct mi_seal_binding b = {0};
    b.environment = mi_xstrdup(env);
    b.pr = pr;
    b.head_sha = mi_xstrdup(sha);
    b.config_fingerprint = mi_xstrdup("sha256:cafe");
    b.terraform_version = mi_xstrdup("1.9.5");
    cr_assert_eq(mi_store_put(s, &k, &b, plan), 0, "%s", mi_error_last());
    mi_seal_binding_release(&b);
    free(plan);
}

static struct mi_store *open_local(void)
{
    struct mi_store_config cfg = {.url = store_url};
    struct mi_store *s = NULL;
    cr_assert_eq(mi_store_open(&s, &cfg, REPO), 0, "%s", mi_error_last());
    return s;
}

/* Runs mlinfra with args and extra environment (the Azure variables cleared unless given). */
static void run(struct mi_test_run *r, char *const args[], char *const env[])
{
    char *argv[32];
    int n = 0;
    argv[n++] = (char *)mi_test_binary();
    for (int i = 0; args[i]; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    char *base[] = {"AZURE_STORAGE_ACCOUNT=",   "AZURE_STORAGE_BLOB_ENDPOINT=",
                    "AZURE_STORAGE_KEY=",       "AZURE_STORAGE_SAS_TOKEN=",
                    "AZURE_CLIENT_ID=",         "MLINFRA_STORE=",
                    "GITHUB_REPOSITORY=",       "GITHUB_ACTIONS=",
                    ("MLINFRA_PLAN_KEY=" KEY_A)};
    char *all[48];
    int m = 0;
    for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++)
        all[m++] = base[i];
    /* A variable given by the test replaces the default of the same name. */
    for (int i = 0; env && env[i]; i++) {
        size_t klen = (size_t)(strchr(env[i], '=') - env[i]) + 1;
        int replaced = 0;
        for (int j = 0; j < m; j++) {
            if (strncmp(all[j], env[i], klen) == 0) {
                all[j] = env[i];
                replaced = 1;
            }
        }
        if (!replaced)
            all[m++] = env[i];
    }
    all[m] = NULL;
    mi_test_run_cmd(r, argv, all, dir, 60000);
}

Test(cmd_store, help_and_usage_errors)
{
    struct mi_test_run r;
    run(&r, (char *[]){"store", "--help", NULL}, NULL);
    cr_assert_eq(r.exit_code, 0);
    cr_assert(strstr(r.out.ptr, "mlinfra store list"), "%s", r.out.ptr);
    mi_test_run_release(&r);
    run(&r, (char *[]){"store", NULL}, NULL);
    cr_assert_eq(r.exit_code, 2);
    mi_test_run_release(&r);
    run(&r, (char *[]){"store", "list", NULL}, NULL);
    cr_assert_eq(r.exit_code, 2, "no repository");
    cr_assert(strstr(r.err.ptr, "GITHUB_REPOSITORY"), "%s", r.err.ptr);
    mi_test_run_release(&r);
    run(&r, (char *[]){"store", "get", "--repo", REPO, "--env", "dev", NULL}, NULL);
    cr_assert_eq(r.exit_code, 2);
    mi_test_run_release(&r);
    run(&r, (char *[]){"store", "prune", "--repo", REPO, "--older-than", "soon", NULL}, NULL);
    cr_assert_eq(r.exit_code, 2);
    mi_test_run_release(&r);
    run(&r, (char *[]){"store", "frobnicate", NULL}, NULL);
    cr_assert_eq(r.exit_code, 2);
    mi_test_run_release(&r);
}

Test(cmd_store, list_get_and_prune_a_local_store)
{
    struct mi_store *s = open_local();
    seed(s, "dev", 1, SHA1);
    seed(s, "production", 2, SHA2);
    cr_assert_eq(mi_store_mark_applied(s, "production", 2, SHA2, "run 7"), 0);
    char *st = mi_xasprintf("--store=%s", store_url);
    struct mi_test_run r;

    run(&r, (char *[]){"store", "list", "--repo", REPO, st, NULL}, NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.err.ptr);
    cr_assert(strstr(r.out.ptr, "production") && strstr(r.out.ptr, "applied"), "%s", r.out.ptr);
    cr_assert(strstr(r.out.ptr, "dev") && strstr(r.out.ptr, "sealed"), "%s", r.out.ptr);
    mi_test_run_release(&r);

    char *envs[] = {"GITHUB_REPOSITORY=" REPO, NULL};
    run(&r, (char *[]){"store", "list", "--env", "dev", "--json", st, NULL}, envs);
    cr_assert_eq(r.exit_code, 0, "%s", r.err.ptr);
    json_t *arr = json_loads(r.out.ptr, 0, NULL);
    cr_assert(json_is_array(arr), "%s", r.out.ptr);
    cr_assert_eq(json_array_size(arr), 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(arr, 0), "head_sha")), SHA1);
    json_decref(arr);
    mi_test_run_release(&r);

    /* get: verified and written. */
    char *out = mi_xasprintf("%s/got.plan", dir);
    run(&r,
        (char *[]){"store", "get", "--repo", REPO, st, "--env", "dev", "--pr", "1", "--sha", SHA1,
                   "--out", out, NULL},
        NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.err.ptr);
    mi_buf got = MI_BUF_INIT;
    cr_assert_eq(mi_fs_read_file(&got, out, 0), 0);
    cr_assert_str_eq(got.ptr, "terraform plan bytes");
    cr_assert(strstr(r.out.ptr, "\"plan_sha256\""), "%s", r.out.ptr);
    mi_buf_release(&got);
    mi_test_run_release(&r);
    unlink(out);

    /* The wrong key: refused (exit 4), nothing written. */
    char *wrong[] = {"MLINFRA_PLAN_KEY=" KEY_B, NULL};
    run(&r,
        (char *[]){"store", "get", "--repo", REPO, st, "--env", "dev", "--pr", "1", "--sha", SHA1,
                   "--out", out, NULL},
        wrong);
    cr_assert_eq(r.exit_code, 4, "%s", r.err.ptr);
    cr_assert(strstr(r.err.ptr, "key id"), "%s", r.err.ptr);
    cr_assert(!mi_fs_exists(out));
    mi_test_run_release(&r);

    /* No key at all: a usage error naming the variable. */
    char *nokey[] = {"MLINFRA_PLAN_KEY=", NULL};
    run(&r,
        (char *[]){"store", "get", "--repo", REPO, st, "--env", "dev", "--pr", "1", "--sha", SHA1,
                   "--out", out, NULL},
        nokey);
    cr_assert_eq(r.exit_code, 2, "%s", r.err.ptr);
    cr_assert(strstr(r.err.ptr, "MLINFRA_PLAN_KEY"), "%s", r.err.ptr);
    mi_test_run_release(&r);

    /* Applied: refused unless asked for. */
    run(&r,
        (char *[]){"store", "get", "--repo", REPO, st, "--env", "production", "--pr", "2", "--sha",
                   SHA2, "--out", out, NULL},
        NULL);
    cr_assert_eq(r.exit_code, 4, "%s", r.err.ptr);
    cr_assert(strstr(r.err.ptr, "already applied"), "%s", r.err.ptr);
    mi_test_run_release(&r);
    run(&r,
        (char *[]){"store", "get", "--repo", REPO, st, "--env", "production", "--pr", "2", "--sha",
                   SHA2, "--out", out, "--allow-applied", NULL},
        NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.err.ptr);
    mi_test_run_release(&r);

    /* Missing: exit 1 naming the plan. */
    run(&r,
        (char *[]){"store", "get", "--repo", REPO, st, "--env", "dev", "--pr", "9", "--sha", SHA1,
                   "--out", out, NULL},
        NULL);
    cr_assert_eq(r.exit_code, 1, "%s", r.err.ptr);
    cr_assert(strstr(r.err.ptr, "PR #9"), "%s", r.err.ptr);
    mi_test_run_release(&r);

    /* prune: a dry run lists, then the real one removes. */
    sleep(2);
    run(&r,
        (char *[]){"store", "prune", "--repo", REPO, st, "--older-than", "1s", "--dry-run", NULL},
        NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.err.ptr);
    cr_assert(strstr(r.out.ptr, "pr-1/" SHA1), "%s", r.out.ptr);
    mi_test_run_release(&r);
    struct mi_store_list l;
    cr_assert_eq(mi_store_list(s, NULL, &l), 0);
    cr_assert_eq(l.len, 2);
    mi_store_list_release(&l);
    run(&r, (char *[]){"store", "prune", "--repo", REPO, st, "--older-than", "1s", NULL}, NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.err.ptr);
    mi_test_run_release(&r);
    cr_assert_eq(mi_store_list(s, NULL, &l), 0);
    cr_assert_eq(l.len, 0);
    mi_store_list_release(&l);
    mi_store_free(s);
    free(out);
    free(st);
}

Test(cmd_store, unlock_shows_and_breaks_azure_locks)
{
    char *ep = mi_azuretest_endpoint();
    struct mi_store_config cfg = {.endpoint = ep,
                                  .container = "cmdlocks",
                                  .shared_key = MI_AZURITE_KEY,
                                  .retry = &mi_azuretest_fast_retry};
    struct mi_store *s = NULL;
    cr_assert_eq(mi_store_open(&s, &cfg, REPO), 0, "%s", mi_error_last());
    char *env_ep = mi_xasprintf("AZURE_STORAGE_BLOB_ENDPOINT=%s", ep);
    char *envs[] = {env_ep, "AZURE_STORAGE_KEY=" MI_AZURITE_KEY, "AZURE_STORAGE_CONTAINER=cmdlocks",
                    "GITHUB_ACTIONS=true", NULL};
    struct mi_test_run r;
    run(&r, (char *[]){"store", "unlock", "--repo", REPO, "--env", "production", NULL}, envs);
    cr_assert_eq(r.exit_code, 0, "%s", r.err.ptr);
    cr_assert(strstr(r.out.ptr, "not locked"), "%s", r.out.ptr);
    /* In GitHub mode the runner is told to mask the account key. */
    cr_assert(strstr(r.err.ptr, "::add-mask::"), "%s", r.err.ptr);
    mi_test_run_release(&r);

    struct mi_store_lock *l = NULL;
    struct mi_store_lock_options o = {.lease_s = 60, .holder = "https://ci/run/42"};
    cr_assert_eq(mi_store_lock(s, "production", &o, &l), 0, "%s", mi_error_last());
    run(&r, (char *[]){"store", "unlock", "--repo", REPO, "--env", "production", NULL}, envs);
    cr_assert_eq(r.exit_code, 1, "a held lock is not broken without --break");
    cr_assert(strstr(r.out.ptr, "locked by https://ci/run/42"), "%s", r.out.ptr);
    cr_assert(strstr(r.err.ptr, "--break"), "%s", r.err.ptr);
    mi_test_run_release(&r);
    run(&r, (char *[]){"store", "unlock", "--repo", REPO, "--env", "production", "--break", NULL},
        envs);
    cr_assert_eq(r.exit_code, 0, "%s", r.err.ptr);
    mi_test_run_release(&r);
    struct mi_store_lock *again = NULL;
    cr_assert_eq(mi_store_lock(s, "production", &o, &again), 0, "%s", mi_error_last());
    mi_store_unlock(again);
    mi_store_unlock(l);

    /* list against Azure, too. */
    seed(s, "dev", 3, SHA1);
    run(&r, (char *[]){"store", "list", "--repo", REPO, "--json", NULL}, envs);
    cr_assert_eq(r.exit_code, 0, "%s", r.err.ptr);
    cr_assert(strstr(r.out.ptr, "\"pr\": 3"), "%s", r.out.ptr);
    /* The key reaches stderr only inside the ::add-mask:: line the runner consumes. */
    cr_assert(!strstr(r.out.ptr, MI_AZURITE_KEY), "key printed: %s", r.out.ptr);
    const char *k = strstr(r.err.ptr, MI_AZURITE_KEY);
    cr_assert(!k || (k - r.err.ptr >= 12 && strncmp(k - 12, "::add-mask::", 12) == 0),
              "key printed: %s", r.err.ptr);
    cr_assert(!k || !strstr(k + 1, MI_AZURITE_KEY), "key printed twice: %s", r.err.ptr);
    mi_test_run_release(&r);
    mi_store_free(s);
    free(env_ep);
    free(ep);
}

Test(cmd_store, local_unlock_cannot_break_a_live_holder)
{
    struct mi_store *s = open_local();
    struct mi_store_lock *l = NULL;
    struct mi_store_lock_options o = {.holder = "local run"};
    cr_assert_eq(mi_store_lock(s, "dev", &o, &l), 0);
    char *st = mi_xasprintf("--store=%s", store_url);
    struct mi_test_run r;
    run(&r, (char *[]){"store", "unlock", "--repo", REPO, st, "--env", "dev", "--break", NULL},
        NULL);
    cr_assert_eq(r.exit_code, 1);
    cr_assert(strstr(r.err.ptr, "cannot be broken"), "%s", r.err.ptr);
    mi_test_run_release(&r);
    cr_assert_eq(mi_store_unlock(l), 0);
    run(&r, (char *[]){"store", "unlock", "--repo", REPO, st, "--env", "dev", NULL}, NULL);
    cr_assert_eq(r.exit_code, 0);
    cr_assert(strstr(r.out.ptr, "not locked"), "%s", r.out.ptr);
    mi_test_run_release(&r);
    mi_store_free(s);
    free(st);
}
