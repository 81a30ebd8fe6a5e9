/* store/store against Azurite and the local directory backend: round trips of empty, small,
 * 10 MB and 300 MB plans (Shared Key and SAS), metadata and listing across pages, the
 * applied mark, verification of what comes back, environment locks (a race with one winner,
 * waiting, a SIGKILLed holder whose lease expires, renewal past the lease, breaking), and
 * transfers that survive a reset connection. */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "azuretest.h"
#include "faultproxy_ctl.h"
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
#define SHA1 "1111111111111111111111111111111111111111"
#define SHA2 "2222222222222222222222222222222222222222"
#define SHA3 "3333333333333333333333333333333333333333"

static char *dir;
static struct mi_seal_keyring keys;

static void setup(void)
{
    cr_assert(sodium_init() >= 0);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    dir = mi_test_tmpdir();
    cr_assert_eq(mi_seal_keyring_from_base64(&keys, KEY_A, NULL), 0);
}

static void teardown(void)
{
    mi_test_rmtree(dir);
    free(dir);
    curl_global_cleanup();
}

TestSuite(store, .init = setup, .fini = teardown);

/* --- stores ------------------------------------------------------------------------------ */

static struct mi_store *azure_store(const char *container, const char *sas, int page_size)
{
    char *ep = mi_azuretest_endpoint();
    struct mi_store_config cfg = {.endpoint = ep,
                                  .container = container,
                                  .retry = &mi_azuretest_fast_retry,
                                  .timeout_ms = 120000,
                                  .list_page_size = page_size};
    if (sas)
        cfg.sas_token = sas;
    else
        cfg.shared_key = MI_AZURITE_KEY;
    struct mi_store *s = NULL;
    cr_assert_eq(mi_store_open(&s, &cfg, REPO), 0, "%s", mi_error_last());
    cr_assert(mi_store_is_remote(s));
    free(ep);
    return s;
}

static struct mi_store *local_store(void)
{
    char *url = mi_xasprintf("file://%s/store", dir);
    struct mi_store_config cfg = {.url = url};
    struct mi_store *s = NULL;
    cr_assert_eq(mi_store_open(&s, &cfg, REPO), 0, "%s", mi_error_last());
    cr_assert(!mi_store_is_remote(s));
    free(url);
    return s;
}

/* --- plans ------------------------------------------------------------------------------- */

/* Writes len deterministic pseudo-random bytes to path, 1 MiB at a time. */
static void make_plan(const char *path, size_t len, unsigned char seed)
{
    unsigned char key[randombytes_SEEDBYTES] = {seed};
    size_t piece = 1024 * 1024;
    unsigned char *buf = mi_xmalloc(piece);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert(fd >= 0);
    for (size_t off = 0; off < len; off += piece) {
        key[1] = (unsigned char)(off >> 20);
        key[2] = (unsigned char)(off >> 28);
        size_t n = len - off < piece ? len - off : piece;
        randombytes_buf_deterministic(buf, n, key);
        cr_assert_eq(write(fd, buf, n), (ssize_t)n);
    }
    close(fd);
    free(buf);
}

static void sha_of(const char *path, char hex[65])
{
    int fd = open(path, O_RDONLY);
    cr_assert(fd >= 0, "%s missing", path);
    cr_assert_eq(mi_seal_sha256_fd(hex, fd, path), 0);
    close(fd);
}

static void binding_for(struct mi_seal_binding *b, const char *env, long long pr, const char *sha)
{
    memset(b, 0, sizeof(*b));
    b->environment = mi_xstrdup(env);
    b->pr = pr;
    b->head_sha = mi_xstrdup(sha);
    b->config_fingerprint = mi_xstrdup("sha256:cafe");
    b->terraform_version = mi_xstrdup("1.9.5");
}

/* Stores a fresh plan of len bytes as (env, pr, sha); returns its SHA-256. */
static void put_plan(struct mi_store *s, const char *env, long long pr, const char *sha, size_t len,
                     char hex[65])
{
    char *plan = mi_xasprintf("%s/in-%s-%lld.plan", dir, env, pr);
    make_plan(plan, len, (unsigned char)(pr + len));
    struct mi_seal_binding b;
    binding_for(&b, env, pr, sha);
    cr_assert_eq(mi_store_put(s, &keys, &b, plan), 0, "%s", mi_error_last());
    cr_assert_str_eq(b.repository, REPO);
    cr_assert_not_null(b.created_at);
    memcpy(hex, b.plan_sha256, 65);
    mi_seal_binding_release(&b);
    unlink(plan);
    free(plan);
}

static struct mi_seal_expect want(const char *env, long long pr, const char *sha)
{
    struct mi_seal_expect e = {REPO, env, pr, sha, "sha256:cafe"};
    return e;
}

static void round_trip(struct mi_store *s, size_t len)
{
    char hex[65], got[65];
    put_plan(s, "production", 7, SHA1, len, hex);
    char *out = mi_xasprintf("%s/out.plan", dir);
    struct mi_seal_expect e = want("production", 7, SHA1);
    struct mi_store_entry entry;
    cr_assert_eq(mi_store_get(s, &keys, &e, out, 0, &entry), 0, "%zu bytes: %s", len,
                 mi_error_last());
    sha_of(out, got);
    cr_assert_str_eq(got, hex, "%zu bytes: the plan came back different", len);
    cr_assert_str_eq(entry.binding.plan_sha256, hex);
    cr_assert_eq(entry.status, MI_STORE_SEALED);
    /* The sealed size: the plan, one 17-byte tag per chunk, and a header with the binding. */
    cr_assert_gt((uint64_t)entry.size, mi_seal_sealed_size(len, 0, MI_SEAL_CHUNK_SIZE) + 200);
    cr_assert_lt((uint64_t)entry.size, mi_seal_sealed_size(len, 0, MI_SEAL_CHUNK_SIZE) + 600);
    struct stat st;
    cr_assert_eq(stat(out, &st), 0);
    cr_assert_eq((size_t)st.st_size, len);
    mi_store_entry_release(&entry);
    unlink(out);
    free(out);
}

Test(store, azure_shared_key_round_trips_empty_small_and_10mb)
{
    struct mi_store *s = azure_store("rt-key", NULL, 0);
    round_trip(s, 0);
    round_trip(s, 1000);
    round_trip(s, 10 * 1000 * 1000); /* two blocks of 8 MiB */
    mi_store_free(s);
}

Test(store, azure_sas_round_trips_empty_small_and_10mb)
{
    mi_azblob_free(mi_azuretest_client(NULL, "rt-sas"));
    char *sas = mi_azuretest_container_sas("rt-sas", "racwdl", "2099-01-01T00:00:00Z");
    struct mi_store *s = azure_store("rt-sas", sas, 0);
    round_trip(s, 0);
    round_trip(s, 1000);
    round_trip(s, 10 * 1000 * 1000);
    mi_store_free(s);
    free(sas);
}

Test(store, azure_round_trips_300mb_through_blocks)
{
    struct mi_store *s = azure_store("rt-big", NULL, 0);
    round_trip(s, 300u * 1000u * 1000u);
    mi_store_free(s);
}

Test(store, local_round_trips_empty_small_and_10mb)
{
    struct mi_store *s = local_store();
    round_trip(s, 0);
    round_trip(s, 1000);
    round_trip(s, 10 * 1000 * 1000);
    mi_store_free(s);
}

/* --- metadata, listing, statuses --------------------------------------------------------- */

static void listing_and_statuses(struct mi_store *s)
{
    char hex[65];
    put_plan(s, "dev", 1, SHA1, 10, hex);
    put_plan(s, "dev", 2, SHA2, 10, hex);
    put_plan(s, "dev", 3, SHA3, 10, hex);
    put_plan(s, "production", 2, SHA2, 20, hex);
    put_plan(s, "production", 4, SHA1, 30, hex);

    struct mi_store_list all;
    cr_assert_eq(mi_store_list(s, NULL, &all), 0, "%s", mi_error_last());
    cr_assert_eq(all.len, 5);
    mi_store_list_release(&all);
    struct mi_store_list prod;
    cr_assert_eq(mi_store_list(s, "production", &prod), 0, "%s", mi_error_last());
    cr_assert_eq(prod.len, 2);
    for (size_t i = 0; i < prod.len; i++) {
        struct mi_store_entry *e = &prod.items[i];
        cr_assert_str_eq(e->binding.environment, "production");
        cr_assert_str_eq(e->binding.repository, REPO);
        cr_assert_str_eq(e->binding.config_fingerprint, "sha256:cafe");
        cr_assert_str_eq(e->binding.terraform_version, "1.9.5");
        cr_assert_eq(strlen(e->binding.plan_sha256), 64);
        cr_assert_not_null(e->binding.created_at);
        cr_assert(e->binding.pr == 2 || e->binding.pr == 4);
        cr_assert_eq(e->status, MI_STORE_SEALED);
        cr_assert_gt(e->size, 0);
        cr_assert(strstr(e->name, "acme/infra/production/pr-"), "%s", e->name);
    }
    mi_store_list_release(&prod);
    struct mi_store_list none;
    cr_assert_eq(mi_store_list(s, "staging", &none), 0);
    cr_assert_eq(none.len, 0);

    /* Applied once, never again. */
    cr_assert_eq(mi_store_mark_applied(s, "production", 4, SHA1, "run 99"), 0, "%s",
                 mi_error_last());
    struct mi_store_entry e;
    cr_assert_eq(mi_store_stat(s, "production", 4, SHA1, &e), 0, "%s", mi_error_last());
    cr_assert_eq(e.status, MI_STORE_APPLIED);
    cr_assert_str_eq(e.status_by, "run 99");
    cr_assert_not_null(e.status_at);
    mi_store_entry_release(&e);
    cr_assert_eq(mi_store_mark_applied(s, "production", 4, SHA1, "run 100"), MI_EREFUSED);
    cr_assert(strstr(mi_error_last(), "already applied"), "%s", mi_error_last());
    cr_assert(strstr(mi_error_last(), "run 99"), "%s", mi_error_last());
    char *out = mi_xasprintf("%s/applied.plan", dir);
    struct mi_seal_expect w = want("production", 4, SHA1);
    cr_assert_eq(mi_store_get(s, &keys, &w, out, 0, NULL), MI_EREFUSED);
    cr_assert(strstr(mi_error_last(), "applied only once"), "%s", mi_error_last());
    cr_assert(!mi_fs_exists(out));
    /* An operator may still fetch it to inspect. */
    cr_assert_eq(mi_store_get(s, &keys, &w, out, 1, NULL), 0, "%s", mi_error_last());
    cr_assert(mi_fs_exists(out));
    unlink(out);
    /* And it cannot be replaced by a new upload. */
    char *plan = mi_xasprintf("%s/again.plan", dir);
    make_plan(plan, 10, 1);
    struct mi_seal_binding b;
    binding_for(&b, "production", 4, SHA1);
    cr_assert_eq(mi_store_put(s, &keys, &b, plan), MI_EREFUSED);
    cr_assert(strstr(mi_error_last(), "never replaced"), "%s", mi_error_last());
    mi_seal_binding_release(&b);
    /* A plan that is only sealed can be replaced (a re-run of the same commit). */
    binding_for(&b, "dev", 1, SHA1);
    cr_assert_eq(mi_store_put(s, &keys, &b, plan), 0, "%s", mi_error_last());
    mi_seal_binding_release(&b);

    /* Failed, with the reason kept printable. */
    cr_assert_eq(mi_store_mark_failed(s, "dev", 2, SHA2, "run 5", "exit 1\nError: boom"), 0, "%s",
                 mi_error_last());
    cr_assert_eq(mi_store_stat(s, "dev", 2, SHA2, &e), 0);
    cr_assert_eq(e.status, MI_STORE_FAILED);
    cr_assert_str_eq(e.status_detail, "exit 1?Error: boom");
    mi_store_entry_release(&e);

    /* Missing plans are named. */
    cr_assert_eq(mi_store_stat(s, "dev", 9, SHA1, &e), MI_ENOTFOUND);
    struct mi_seal_expect missing = want("dev", 9, SHA1);
    cr_assert_eq(mi_store_get(s, &keys, &missing, out, 0, NULL), MI_ENOTFOUND);
    cr_assert(strstr(mi_error_last(), "PR #9"), "%s", mi_error_last());
    cr_assert_eq(mi_store_mark_applied(s, "dev", 9, SHA1, "x"), MI_ENOTFOUND);

    /* Names are checked before anything touches the store. */
    cr_assert_eq(mi_store_stat(s, "../etc", 1, SHA1, &e), MI_EUSAGE);
    cr_assert_eq(mi_store_stat(s, "dev", 1, "HEAD", &e), MI_EUSAGE);

    /* Prune: by a closed-PR callback, then by age. */
    mi_store_remove(s, "dev", 3, SHA3);
    struct mi_store_list removed;
    struct mi_store_prune_options po = {.environment = NULL};
    cr_assert_eq(mi_store_prune(s, &po, &removed), 0);
    cr_assert_eq(removed.len, 0, "nothing is old");
    mi_store_list_release(&removed);
    free(out);
    free(plan);
}

static int pr2_closed(void *ctx, const char *env, long long pr, int *closed)
{
    (void)ctx;
    (void)env;
    *closed = pr == 2;
    return 0;
}

static void pruning(struct mi_store *s)
{
    struct mi_store_list removed, rest;
    struct mi_store_prune_options po = {.is_closed = pr2_closed, .dry_run = 1};
    cr_assert_eq(mi_store_prune(s, &po, &removed), 0, "%s", mi_error_last());
    cr_assert_eq(removed.len, 2, "dev and production PR 2");
    mi_store_list_release(&removed);
    cr_assert_eq(mi_store_list(s, NULL, &rest), 0);
    cr_assert_eq(rest.len, 4, "a dry run removes nothing");
    mi_store_list_release(&rest);
    po.dry_run = 0;
    cr_assert_eq(mi_store_prune(s, &po, &removed), 0, "%s", mi_error_last());
    cr_assert_eq(removed.len, 2);
    mi_store_list_release(&removed);
    cr_assert_eq(mi_store_list(s, NULL, &rest), 0);
    cr_assert_eq(rest.len, 2);
    for (size_t i = 0; i < rest.len; i++)
        cr_assert_neq(rest.items[i].binding.pr, 2);
    mi_store_list_release(&rest);
    /* By age: once the remaining plans are more than a second old, they go. */
    sleep(2);
    struct mi_store_prune_options old = {.older_than_s = 1};
    cr_assert_eq(mi_store_prune(s, &old, &removed), 0, "%s", mi_error_last());
    cr_assert_eq(removed.len, 2);
    mi_store_list_release(&removed);
    cr_assert_eq(mi_store_list(s, NULL, &rest), 0);
    cr_assert_eq(rest.len, 0);
    mi_store_list_release(&rest);
}

Test(store, azure_metadata_listing_paged_statuses_and_prune)
{
    struct mi_store *s = azure_store("meta", NULL, 2);
    listing_and_statuses(s);
    pruning(s);
    mi_store_free(s);
}

Test(store, local_metadata_listing_statuses_and_prune)
{
    struct mi_store *s = local_store();
    listing_and_statuses(s);
    /* Listing still works when a plan's metadata file is lost: the header is readable. */
    char *side = mi_xasprintf("%s/store/" REPO "/production/pr-2/" SHA2 ".tfplan.sealed.json", dir);
    cr_assert_eq(unlink(side), 0);
    struct mi_store_entry e;
    cr_assert_eq(mi_store_stat(s, "production", 2, SHA2, &e), 0, "%s", mi_error_last());
    cr_assert_str_eq(e.binding.config_fingerprint, "sha256:cafe");
    mi_store_entry_release(&e);
    free(side);
    pruning(s);
    mi_store_free(s);
}

/* --- verification of what comes back ----------------------------------------------------- */

static void assert_refused_get(struct mi_store *s, const char *env, long long pr, const char *sha,
                               const char *word)
{
    char *out = mi_xasprintf("%s/refused.plan", dir);
    struct mi_seal_expect e = want(env, pr, sha);
    int rc = mi_store_get(s, &keys, &e, out, 0, NULL);
    cr_assert_eq(rc, MI_EREFUSED, "accepted or wrong code %d: %s", rc, mi_error_last());
    cr_assert(strstr(mi_error_last(), word), "message lacks '%s': %s", word, mi_error_last());
    cr_assert(!mi_fs_exists(out), "something was written at the plan path");
    free(out);
}

Test(store, azure_get_refuses_tampered_and_swapped_plans)
{
    struct mi_store *s = azure_store("tamper", NULL, 0);
    struct mi_azblob *c = mi_azuretest_client(NULL, "tamper");
    char hex[65];
    put_plan(s, "production", 1, SHA1, 200000, hex);
    put_plan(s, "production", 2, SHA2, 200000, hex);
    const char *n1 = REPO "/production/pr-1/" SHA1 ".tfplan.sealed";
    const char *n2 = REPO "/production/pr-2/" SHA2 ".tfplan.sealed";
    mi_buf blob = MI_BUF_INIT;
    cr_assert_eq(mi_azblob_get_buf(c, n1, &blob, 1 << 20), 0);
    struct mi_azblob_props p;
    cr_assert_eq(mi_azblob_get_properties(c, n1, &p), 0);
    /* A flipped byte in the second chunk, metadata kept. */
    blob.ptr[blob.len / 2] ^= 0x40;
    cr_assert_eq(mi_azblob_put(c, n1, blob.ptr, blob.len, &p.meta, NULL), 0);
    assert_refused_get(s, "production", 1, SHA1, "does not verify");
    /* PR 1's plan copied over PR 2's name (metadata and all): the binding says PR 1. */
    blob.ptr[blob.len / 2] ^= 0x40;
    cr_assert_eq(mi_azblob_put(c, n2, blob.ptr, blob.len, &p.meta, NULL), 0);
    assert_refused_get(s, "production", 2, SHA2, "binding mismatch: pr is 1, expected 2");
    /* The right plan with the wrong configuration fingerprint expected. */
    char *out = mi_xasprintf("%s/fp.plan", dir);
    cr_assert_eq(mi_azblob_put(c, n1, blob.ptr, blob.len, &p.meta, NULL), 0);
    struct mi_seal_expect e = {REPO, "production", 1, SHA1, "sha256:other"};
    cr_assert_eq(mi_store_get(s, &keys, &e, out, 0, NULL), MI_EREFUSED);
    cr_assert(strstr(mi_error_last(), "config_fingerprint"), "%s", mi_error_last());
    cr_assert(!mi_fs_exists(out));
    /* Truncated in the store. */
    cr_assert_eq(mi_azblob_put(c, n1, blob.ptr, blob.len - 100, &p.meta, NULL), 0);
    assert_refused_get(s, "production", 1, SHA1, "truncated");
    mi_azblob_props_release(&p);
    mi_buf_release(&blob);
    mi_azblob_free(c);
    mi_store_free(s);
    free(out);
}

Test(store, local_get_refuses_a_tampered_plan)
{
    struct mi_store *s = local_store();
    char hex[65];
    put_plan(s, "production", 1, SHA1, 200000, hex);
    char *path = mi_xasprintf("%s/store/" REPO "/production/pr-1/" SHA1 ".tfplan.sealed", dir);
    int fd = open(path, O_RDWR);
    unsigned char byte;
    cr_assert_eq(pread(fd, &byte, 1, 100000), 1);
    byte ^= 1;
    cr_assert_eq(pwrite(fd, &byte, 1, 100000), 1);
    close(fd);
    assert_refused_get(s, "production", 1, SHA1, "chunk 1");
    free(path);
    mi_store_free(s);
}

/* --- transfers that survive faults ------------------------------------------------------- */

Test(store, transfers_survive_a_reset_connection)
{
    struct mi_faultproxy *fp = mi_faultproxy_start(mi_azuretest_port());
    char *ep = mi_xasprintf("%s/devstoreaccount1", mi_faultproxy_url(fp));
    struct mi_store_config cfg = {.endpoint = ep,
                                  .container = "faults",
                                  .shared_key = MI_AZURITE_KEY,
                                  .retry = &mi_azuretest_fast_retry,
                                  .block_size = 4 * 1024 * 1024};
    struct mi_store *s = NULL;
    cr_assert_eq(mi_store_open(&s, &cfg, REPO), 0);
    /* The upload: the third connection (the first block) is reset 1 MB in. */
    mi_faultproxy_set(
        fp,
        &(struct mi_fault){
            .kind = MI_FAULT_RESET, .after = 1000000, .dir = MI_FAULT_UP, .skip = 2, .next = 1});
    char hex[65], got[65];
    put_plan(s, "production", 1, SHA1, 10 * 1000 * 1000, hex);
    struct mi_faultproxy_stats st;
    mi_faultproxy_stats(fp, &st);
    cr_assert_eq(st.resets, 1, "the fault did not fire");
    /* The download: reset 3 MB in; the retry starts the plaintext over. */
    mi_faultproxy_set(
        fp,
        &(struct mi_fault){
            .kind = MI_FAULT_RESET, .after = 3000000, .dir = MI_FAULT_DOWN, .skip = 1, .next = 1});
    char *out = mi_xasprintf("%s/faulted.plan", dir);
    struct mi_seal_expect e = want("production", 1, SHA1);
    cr_assert_eq(mi_store_get(s, &keys, &e, out, 0, NULL), 0, "%s", mi_error_last());
    mi_faultproxy_stats(fp, &st);
    cr_assert_eq(st.resets, 2, "the fault did not fire");
    sha_of(out, got);
    cr_assert_str_eq(got, hex);
    mi_store_free(s);
    mi_faultproxy_stop(fp);
    free(out);
    free(ep);
}

Test(store, unreachable_store_fails_clearly_and_writes_nothing)
{
    char *ep = mi_xasprintf("http://127.0.0.1:%d/devstoreaccount1", mi_test_free_port());
    struct mi_store_config cfg = {.endpoint = ep,
                                  .container = "gone",
                                  .shared_key = MI_AZURITE_KEY,
                                  .retry = &mi_azuretest_fast_retry};
    struct mi_store *s = NULL;
    cr_assert_eq(mi_store_open(&s, &cfg, REPO), 0);
    char *out = mi_xasprintf("%s/never.plan", dir);
    struct mi_seal_expect e = want("production", 1, SHA1);
    int rc = mi_store_get(s, &keys, &e, out, 0, NULL);
    cr_assert_eq(rc, MI_ERR, "%s", mi_error_last());
    cr_assert(strstr(mi_error_last(), "127.0.0.1"), "%s", mi_error_last());
    cr_assert(!mi_fs_exists(out));
    char *plan = mi_xasprintf("%s/p.plan", dir);
    make_plan(plan, 100, 1);
    struct mi_seal_binding b;
    binding_for(&b, "production", 1, SHA1);
    cr_assert_eq(mi_store_put(s, &keys, &b, plan), MI_ERR);
    cr_assert(strstr(mi_error_last(), "storing the plan for environment 'production', PR #1"), "%s",
              mi_error_last());
    mi_seal_binding_release(&b);
    struct mi_store_lock *l = NULL;
    cr_assert_eq(mi_store_lock(s, "production", NULL, &l), MI_ERR);
    mi_store_free(s);
    free(plan);
    free(out);
    free(ep);
}

Test(store, default_backend_is_a_local_directory)
{
    struct mi_store_config cfg = {.local_default = dir};
    struct mi_store *s = NULL;
    cr_assert_eq(mi_store_open(&s, &cfg, REPO), 0, "%s", mi_error_last());
    cr_assert(!mi_store_is_remote(s));
    cr_assert(strstr(mi_store_describe(s), dir));
    mi_store_free(s);
    struct mi_store_config bad = {.url = "s3://bucket"};
    cr_assert_eq(mi_store_open(&s, &bad, REPO), MI_EUSAGE);
    cr_assert_eq(mi_store_open(&s, &cfg, "not-a-repo"), MI_EUSAGE);
}

/* --- locks ------------------------------------------------------------------------------- */

typedef struct mi_store *(*store_fn)(void);

static struct mi_store *azure_lock_store(void)
{
    return azure_store("locks", NULL, 0);
}

/* Two processes released at the same moment; each reports whether it got the lock. */
static void race(store_fn open_store)
{
    /* go releases both racers at once; done carries their results; hold keeps the winner
     * holding until the parent has both (its end is closed, so the racers see EOF). */
    int go[2], done[2], hold[2];
    cr_assert(pipe(go) == 0 && pipe(done) == 0 && pipe(hold) == 0);
    pid_t kids[2];
    for (int i = 0; i < 2; i++) {
        kids[i] = fork();
        cr_assert(kids[i] >= 0);
        if (kids[i] == 0) {
            struct mi_store *s = open_store();
            char c;
            close(go[1]);
            close(hold[1]);
            if (read(go[0], &c, 1) != 1)
                _exit(3);
            struct mi_store_lock *l = NULL;
            struct mi_store_lock_options o = {
                .wait_ms = 0, .lease_s = 15, .holder = i ? "racer 1" : "racer 0"};
            int rc = mi_store_lock(s, "production", &o, &l);
            /* Hold it until the parent has seen both results. */
            if (write(done[1], rc == 0 ? "W" : "L", 1) != 1)
                _exit(3);
            if (read(hold[0], &c, 1) < 0)
                _exit(3);
            int code =
                rc == 0 ? 0 : (rc == MI_ECONFLICT && strstr(mi_error_last(), "racer") ? 1 : 2);
            mi_store_unlock(l);
            mi_store_free(s);
            _exit(code);
        }
    }
    close(go[0]);
    close(done[1]);
    close(hold[0]);
    cr_assert_eq(write(go[1], "gg", 2), 2);
    char r[2];
    cr_assert_eq(read(done[0], r, 1), 1);
    cr_assert_eq(read(done[0], r + 1, 1), 1);
    close(go[1]);
    close(hold[1]);
    int wins = 0, clear_losses = 0;
    for (int i = 0; i < 2; i++) {
        int status;
        waitpid(kids[i], &status, 0);
        cr_assert(WIFEXITED(status));
        wins += WEXITSTATUS(status) == 0;
        clear_losses += WEXITSTATUS(status) == 1;
    }
    cr_assert_eq(wins, 1, "exactly one racer must win (%c%c)", r[0], r[1]);
    cr_assert_eq(clear_losses, 1, "the loser must fail naming the holder");
    close(done[0]);
}

Test(store, azure_lock_race_has_exactly_one_winner, .timeout = 60)
{
    race(azure_lock_store);
}

static char *local_url;

static struct mi_store *local_lock_store(void)
{
    struct mi_store_config cfg = {.url = local_url};
    struct mi_store *s = NULL;
    cr_assert_eq(mi_store_open(&s, &cfg, REPO), 0);
    return s;
}

Test(store, local_lock_race_has_exactly_one_winner, .timeout = 60)
{
    local_url = mi_xasprintf("file://%s/store", dir);
    race(local_lock_store);
    free(local_url);
}

static void waiting(struct mi_store *s)
{
    struct mi_store_lock *a = NULL, *b = NULL;
    struct mi_store_lock_options oa = {.lease_s = 15, .holder = "run 1"};
    cr_assert_eq(mi_store_lock(s, "staging", &oa, &a), 0, "%s", mi_error_last());
    struct mi_store_lock_info info;
    cr_assert_eq(mi_store_lock_info(s, "staging", &info), 0);
    cr_assert(info.locked);
    cr_assert_str_eq(info.holder, "run 1");
    cr_assert_not_null(info.since);
    mi_store_lock_info_release(&info);
    /* A waiter with a short limit gives up, naming the holder. */
    struct mi_store_lock_options ob = {
        .wait_ms = 600, .poll_ms = 200, .lease_s = 15, .holder = "run 2"};
    cr_assert_eq(mi_store_lock(s, "staging", &ob, &b), MI_ECONFLICT);
    cr_assert(strstr(mi_error_last(), "locked by run 1 since"), "%s", mi_error_last());
    cr_assert(strstr(mi_error_last(), "mlinfra store unlock --break staging"), "%s",
              mi_error_last());
    /* Other environments are independent. */
    cr_assert_eq(mi_store_lock(s, "dev", &ob, &b), 0, "%s", mi_error_last());
    cr_assert_eq(mi_store_unlock(b), 0, "%s", mi_error_last());
    /* After release, it is free again. */
    cr_assert_eq(mi_store_lock_check(a), 0);
    cr_assert_eq(mi_store_unlock(a), 0, "%s", mi_error_last());
    cr_assert_eq(mi_store_lock_info(s, "staging", &info), 0);
    cr_assert(!info.locked);
    mi_store_lock_info_release(&info);
    cr_assert_eq(mi_store_lock(s, "staging", &ob, &b), 0, "%s", mi_error_last());
    cr_assert_eq(mi_store_unlock(b), 0);
    cr_assert_eq(mi_store_unlock(NULL), 0);
}

Test(store, azure_lock_waits_up_to_its_limit, .timeout = 60)
{
    /* A waiter gets the lock when the holder lets go within its limit. The waiter is forked
     * first, before this process starts a renewal thread (fork copies only the calling thread)
     * and before it opens its own store: a child that inherited that store would _exit without
     * freeing it, which valgrind's --error-exitcode turns into the child's exit status. */
    int go[2];
    cr_assert(pipe(go) == 0);
    pid_t kid = fork();
    cr_assert(kid >= 0);
    if (kid == 0) {
        char c;
        close(go[1]);
        if (read(go[0], &c, 1) != 1)
            _exit(3);
        struct mi_store *s2 = azure_store("wait", NULL, 0);
        struct mi_store_lock *b = NULL;
        struct mi_store_lock_options ow = {.wait_ms = 20000, .poll_ms = 100, .lease_s = 15};
        int rc = mi_store_lock(s2, "production", &ow, &b);
        mi_store_unlock(b);
        mi_store_free(s2);
        _exit(rc == 0 ? 0 : 1);
    }
    close(go[0]);
    struct mi_store *s = azure_store("wait", NULL, 0);
    waiting(s);
    struct mi_store_lock *a = NULL;
    struct mi_store_lock_options o = {.lease_s = 15, .holder = "first"};
    cr_assert_eq(mi_store_lock(s, "production", &o, &a), 0);
    cr_assert_eq(write(go[1], "g", 1), 1);
    usleep(300 * 1000);
    cr_assert_eq(mi_store_unlock(a), 0);
    int status;
    waitpid(kid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the waiter did not get the lock");
    mi_store_free(s);
}

Test(store, local_lock_waits_up_to_its_limit)
{
    struct mi_store *s = local_store();
    waiting(s);
    mi_store_free(s);
}

Test(store, breaking_a_lock_frees_it_and_the_holder_learns_on_release)
{
    struct mi_store *s = azure_store("break", NULL, 0);
    struct mi_store_lock *a = NULL, *b = NULL;
    struct mi_store_lock_options o = {.lease_s = 60, .holder = "stuck run"};
    cr_assert_eq(mi_store_lock(s, "production", &o, &a), 0, "%s", mi_error_last());
    cr_assert_eq(mi_store_break_lock(s, "production"), 0, "%s", mi_error_last());
    cr_assert_eq(mi_store_lock(s, "production", &o, &b), 0, "%s", mi_error_last());
    /* The old holder's release fails: the lease is someone else's now. */
    cr_assert_lt(mi_store_unlock(a), 0);
    cr_assert(strstr(mi_error_last(), "releasing the lock"), "%s", mi_error_last());
    cr_assert_eq(mi_store_unlock(b), 0, "%s", mi_error_last());
    /* Breaking a free lock says so. */
    cr_assert_eq(mi_store_break_lock(s, "production"), MI_ENOTFOUND);
    mi_store_free(s);
    /* Locally, a held lock is its process: it cannot be broken from outside. */
    struct mi_store *l = local_store();
    cr_assert_eq(mi_store_lock(l, "production", &o, &a), 0);
    cr_assert_eq(mi_store_break_lock(l, "production"), MI_ECONFLICT);
    cr_assert(strstr(mi_error_last(), "stuck run"), "%s", mi_error_last());
    cr_assert_eq(mi_store_unlock(a), 0);
    cr_assert_eq(mi_store_break_lock(l, "production"), MI_ENOTFOUND);
    mi_store_free(l);
}

/* A holder killed with SIGKILL never releases: its lease must expire (15 s) and then be
 * taken. Meanwhile a lock this process holds with the same 15 s lease must survive past its
 * duration thanks to renewal, and a lock broken behind its holder's back must be reported
 * lost by mi_store_lock_check. */
Test(store, killed_holders_lease_expires_while_renewed_locks_survive, .timeout = 120)
{
    struct mi_store *s = azure_store("killed", NULL, 0);
    struct mi_store_lock *renewed = NULL, *broken = NULL, *taken = NULL;
    struct mi_store_lock_options mine = {.lease_s = 15, .holder = "parent"};
    int ready[2];
    cr_assert(pipe(ready) == 0);
    pid_t kid = fork();
    if (kid == 0) {
        struct mi_store *s2 = azure_store("killed", NULL, 0);
        struct mi_store_lock *l = NULL;
        struct mi_store_lock_options o = {.lease_s = 15, .holder = "doomed child"};
        if (mi_store_lock(s2, "production", &o, &l) != 0)
            _exit(1);
        if (write(ready[1], "x", 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    char c;
    cr_assert_eq(read(ready[0], &c, 1), 1, "the child did not take the lock");
    cr_assert_eq(mi_store_lock(s, "staging", &mine, &renewed), 0, "%s", mi_error_last());
    cr_assert_eq(mi_store_lock(s, "dev", &mine, &broken), 0, "%s", mi_error_last());
    cr_assert_eq(mi_store_break_lock(s, "dev"), 0, "%s", mi_error_last());
    kill(kid, SIGKILL);
    waitpid(kid, NULL, 0);
    struct mi_store_lock_options now = {.wait_ms = 0, .lease_s = 15};
    cr_assert_eq(mi_store_lock(s, "production", &now, &taken), MI_ECONFLICT);
    cr_assert(strstr(mi_error_last(), "doomed child"), "%s", mi_error_last());
    /* The dead holder's lease runs out; the waiter gets it. */
    struct mi_store_lock_options wait = {.wait_ms = 40000, .poll_ms = 500, .lease_s = 15};
    cr_assert_eq(mi_store_lock(s, "production", &wait, &taken), 0, "%s", mi_error_last());
    /* More than 15 s have passed since "renewed" was taken: it is still ours. */
    cr_assert_eq(mi_store_lock_check(renewed), 0, "%s", mi_error_last());
    struct mi_store_lock *other = NULL;
    cr_assert_eq(mi_store_lock(s, "staging", &now, &other), MI_ECONFLICT, "a renewed lock expired");
    /* The broken one has been noticed by its renewal thread. */
    cr_assert_eq(mi_store_lock_check(broken), MI_ECONFLICT);
    cr_assert(strstr(mi_error_last(), "was lost"), "%s", mi_error_last());
    cr_assert_lt(mi_store_unlock(broken), 0);
    cr_assert_eq(mi_store_unlock(renewed), 0, "%s", mi_error_last());
    cr_assert_eq(mi_store_unlock(taken), 0, "%s", mi_error_last());
    mi_store_free(s);
}

Test(store, local_lock_of_a_killed_holder_is_free_at_once, .timeout = 60)
{
    local_url = mi_xasprintf("file://%s/store", dir);
    int ready[2];
    cr_assert(pipe(ready) == 0);
    pid_t kid = fork();
    if (kid == 0) {
        struct mi_store *s2 = local_lock_store();
        struct mi_store_lock *l = NULL;
        struct mi_store_lock_options o = {.holder = "doomed child"};
        if (mi_store_lock(s2, "production", &o, &l) != 0)
            _exit(1);
        if (write(ready[1], "x", 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    char c;
    cr_assert_eq(read(ready[0], &c, 1), 1);
    struct mi_store *s = local_lock_store();
    struct mi_store_lock *l = NULL;
    cr_assert_eq(mi_store_lock(s, "production", NULL, &l), MI_ECONFLICT);
    cr_assert(strstr(mi_error_last(), "doomed child"), "%s", mi_error_last());
    kill(kid, SIGKILL);
    waitpid(kid, NULL, 0);
    cr_assert_eq(mi_store_lock(s, "production", NULL, &l), 0, "%s", mi_error_last());
    cr_assert_eq(mi_store_unlock(l), 0);
    mi_store_free(s);
    free(local_url);
}
