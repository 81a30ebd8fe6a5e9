/* store/seal: the sealed-plan format. Round trips, the header read without a key, key
 * rotation, and tampering with every region of a sealed plan: each must be refused with a
 * message naming what did not verify, and nothing may appear at the plan path. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/seal.h"
#include "testsupport.h"
#include "util/error.h"
#include "util/fs.h"

/* Not secrets: fixed test keys (32 bytes of 0x01.. and 0x02..). */
#define KEY_A "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
#define KEY_B "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="

static char *dir;

static void setup(void)
{
    cr_assert(sodium_init() >= 0);
    dir = mi_test_tmpdir();
}

static void teardown(void)
{
    mi_test_rmtree(dir);
    free(dir);
}

TestSuite(seal, .init = setup, .fini = teardown);

static void binding_init(struct mi_seal_binding *b, const char *env, long long pr, const char *sha)
{
    memset(b, 0, sizeof(*b));
    b->repository = mi_xstrdup("acme/infra");
    b->environment = mi_xstrdup(env);
    b->pr = pr;
    b->head_sha = mi_xstrdup(sha);
    b->config_fingerprint = mi_xstrdup("sha256:0123abcd");
    b->terraform_version = mi_xstrdup("1.9.5");
    b->created_at = mi_xstrdup("2025-01-31T12:00:00Z");
}

#define SHA1 "1111111111111111111111111111111111111111"
#define SHA2 "2222222222222222222222222222222222222222"

static char *path_in(const char *name)
{
    return mi_fs_join(dir, name);
}

static void write_plan(const char *path, size_t len, unsigned seed)
{
    unsigned char *data = mi_xmalloc(len ? len : 1);
    for (size_t i = 0; i < len; i++) {
        seed = seed * 1103515245u + 12345u;
        data[i] = (unsigned char)(seed >> 16);
    }
    cr_assert_eq(mi_fs_write_file_atomic(path, data, len, 0600), 0, "%s", mi_error_last());
    free(data);
}

static void keys_a(struct mi_seal_keyring *k)
{
    cr_assert_eq(mi_seal_keyring_from_base64(k, KEY_A, NULL), 0, "%s", mi_error_last());
}

static struct mi_seal_expect expect_for(const char *env, long long pr, const char *sha)
{
    struct mi_seal_expect e = {"acme/infra", env, pr, sha, "sha256:0123abcd"};
    return e;
}

/* Seals a plan of len bytes as (env, pr, sha) into <name>.sealed; returns the sealed path. */
static char *seal_plan(const char *name, size_t len, const char *env, long long pr, const char *sha)
{
    char *plan = mi_xasprintf("%s/%s.plan", dir, name);
    char *sealed = mi_xasprintf("%s/%s.sealed", dir, name);
    write_plan(plan, len, (unsigned)len + (unsigned)pr);
    struct mi_seal_keyring k;
    keys_a(&k);
    struct mi_seal_binding b;
    binding_init(&b, env, pr, sha);
    cr_assert_eq(mi_seal_file(&k, &b, plan, sealed), 0, "%s", mi_error_last());
    cr_assert_not_null(b.plan_sha256);
    mi_seal_binding_release(&b);
    mi_seal_keyring_wipe(&k);
    free(plan);
    return sealed;
}

static int files_equal(const char *a, const char *b)
{
    mi_buf x = MI_BUF_INIT, y = MI_BUF_INIT;
    cr_assert_eq(mi_fs_read_file(&x, a, 0), 0, "%s", mi_error_last());
    cr_assert_eq(mi_fs_read_file(&y, b, 0), 0, "%s", mi_error_last());
    int eq = x.len == y.len && memcmp(x.ptr, y.ptr, x.len) == 0;
    mi_buf_release(&x);
    mi_buf_release(&y);
    return eq;
}

/* Nothing but the files the test made itself: no plan, no temporary leftovers. */
static void assert_no_output(const char *plan)
{
    cr_assert(!mi_fs_exists(plan), "%s exists after a refused unseal", plan);
    DIR *d = opendir(dir);
    struct dirent *e;
    while ((e = readdir(d)))
        cr_assert(!strstr(e->d_name, ".partial-"), "temporary file %s left behind", e->d_name);
    closedir(d);
}

static void round_trip(size_t len)
{
    char *sealed = seal_plan("rt", len, "production", 7, SHA1);
    char *plan = path_in("rt.plan");
    char *out = path_in("rt.out");
    struct stat st;
    struct mi_seal_keyring k;
    keys_a(&k);
    struct mi_seal_expect e = expect_for("production", 7, SHA1);
    struct mi_seal_binding got;
    cr_assert_eq(mi_unseal_file(&k, &e, sealed, out, &got), 0, "%zu bytes: %s", len,
                 mi_error_last());
    cr_assert(files_equal(plan, out), "%zu bytes: unsealed plan differs", len);
    cr_assert_str_eq(got.environment, "production");
    cr_assert_eq(got.pr, 7);
    cr_assert_eq(stat(out, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600, "plain plan must be owner-only");
    mi_seal_binding_release(&got);
    mi_seal_keyring_wipe(&k);
    free(sealed);
    free(plan);
    free(out);
}

Test(seal, round_trips_plans_of_every_shape)
{
    size_t sizes[] = {0,
                      1,
                      1000,
                      MI_SEAL_CHUNK_SIZE - 1,
                      MI_SEAL_CHUNK_SIZE,
                      MI_SEAL_CHUNK_SIZE + 1,
                      3 * MI_SEAL_CHUNK_SIZE,
                      3 * MI_SEAL_CHUNK_SIZE + 17};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        round_trip(sizes[i]);
}

Test(seal, sealed_size_is_predicted_exactly)
{
    size_t sizes[] = {0, 5, MI_SEAL_CHUNK_SIZE, 2 * MI_SEAL_CHUNK_SIZE + 3};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char *sealed = seal_plan("sz", sizes[i], "dev", 1, SHA1);
        struct mi_seal_header h;
        cr_assert_eq(mi_seal_header_read_file(&h, sealed), 0, "%s", mi_error_last());
        struct stat st;
        cr_assert_eq(stat(sealed, &st), 0);
        cr_assert_eq((uint64_t)st.st_size,
                     mi_seal_sealed_size(sizes[i], h.binding_len, MI_SEAL_CHUNK_SIZE), "size %zu",
                     sizes[i]);
        mi_seal_binding_release(&h.binding);
        free(sealed);
    }
}

Test(seal, header_and_binding_are_readable_without_the_key)
{
    char *sealed = seal_plan("hdr", 5000, "staging", 42, SHA2);
    struct mi_seal_header h;
    cr_assert_eq(mi_seal_header_read_file(&h, sealed), 0, "%s", mi_error_last());
    cr_assert_eq(h.version, 1);
    cr_assert_eq(h.chunk_size, MI_SEAL_CHUNK_SIZE);
    cr_assert_str_eq(h.binding.repository, "acme/infra");
    cr_assert_str_eq(h.binding.environment, "staging");
    cr_assert_eq(h.binding.pr, 42);
    cr_assert_str_eq(h.binding.head_sha, SHA2);
    cr_assert_str_eq(h.binding.terraform_version, "1.9.5");
    cr_assert_eq(strlen(h.binding.plan_sha256), 64);
    /* The binding bytes are the canonical JSON, verbatim. */
    mi_buf raw = MI_BUF_INIT, canon = MI_BUF_INIT;
    cr_assert_eq(mi_fs_read_file(&raw, sealed, 0), 0);
    cr_assert_eq(mi_seal_binding_to_json(&canon, &h.binding), 0);
    cr_assert_eq(canon.len, h.binding_len);
    cr_assert(memcmp(raw.ptr + h.binding_offset, canon.ptr, canon.len) == 0);
    cr_assert(strncmp(canon.ptr, "{\"config_fingerprint\":", 22) == 0, "%s", canon.ptr);
    mi_buf_release(&raw);
    mi_buf_release(&canon);
    mi_seal_binding_release(&h.binding);
    free(sealed);
}

Test(seal, previous_key_opens_plans_during_rotation)
{
    char *sealed = seal_plan("rot", 70000, "dev", 3, SHA1); /* sealed with KEY_A */
    char *out = path_in("rot.out");
    struct mi_seal_keyring k;
    struct mi_seal_expect e = expect_for("dev", 3, SHA1);
    /* New key B is current, old key A is previous: still opens. */
    cr_assert_eq(mi_seal_keyring_from_base64(&k, KEY_B, KEY_A), 0);
    cr_assert_eq(k.count, 2);
    cr_assert_eq(mi_unseal_file(&k, &e, sealed, out, NULL), 0, "%s", mi_error_last());
    unlink(out);
    /* Once the previous key is dropped, it does not. */
    cr_assert_eq(mi_seal_keyring_from_base64(&k, KEY_B, NULL), 0);
    int rc = mi_unseal_file(&k, &e, sealed, out, NULL);
    cr_assert_eq(rc, MI_EREFUSED);
    cr_assert(strstr(mi_error_last(), "key"), "%s", mi_error_last());
    cr_assert(strstr(mi_error_last(), "wrong MLINFRA_PLAN_KEY"), "%s", mi_error_last());
    assert_no_output(out);
    mi_seal_keyring_wipe(&k);
    free(sealed);
    free(out);
}

Test(seal, rejects_bad_keys_without_echoing_them)
{
    struct mi_seal_keyring k;
    cr_assert_eq(mi_seal_keyring_from_base64(&k, "c2hvcnQ=", NULL), MI_EUSAGE);
    cr_assert(strstr(mi_error_last(), "32 bytes"), "%s", mi_error_last());
    cr_assert(!strstr(mi_error_last(), "c2hvcnQ"), "key echoed: %s", mi_error_last());
    cr_assert_eq(mi_seal_keyring_from_base64(&k, "not base64 !!!", NULL), MI_EUSAGE);
    cr_assert(!strstr(mi_error_last(), "!!!"), "key echoed: %s", mi_error_last());
    cr_assert_eq(mi_seal_keyring_from_base64(&k, KEY_A, "AAAA"), MI_EUSAGE);
    cr_assert(strstr(mi_error_last(), "MLINFRA_PLAN_KEY_PREVIOUS"), "%s", mi_error_last());
    /* URL-safe, unpadded, with a trailing newline: accepted. */
    cr_assert_eq(
        mi_seal_keyring_from_base64(&k, "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE\n", NULL), 0,
        "%s", mi_error_last());
}

Test(seal, sealer_rewind_reproduces_the_same_bytes)
{
    char *plan = path_in("mark.plan");
    size_t len = 5 * MI_SEAL_CHUNK_SIZE + 99;
    write_plan(plan, len, 9);
    int fd = open(plan, O_RDONLY);
    struct mi_seal_keyring k;
    keys_a(&k);
    struct mi_seal_binding b;
    binding_init(&b, "dev", 1, SHA1);
    char hex[65];
    cr_assert_eq(mi_seal_sha256_fd(hex, fd, plan), 0);
    b.plan_sha256 = mi_xstrdup(hex);
    struct mi_sealer *s;
    cr_assert_eq(mi_sealer_new(&s, &k, &b, fd), 0, "%s", mi_error_last());
    uint64_t total = mi_sealer_size(s);
    unsigned char *all = mi_xmalloc(total), *again = mi_xmalloc(total);
    size_t got, off = 0;
    /* Read in odd pieces, marking at a position inside a chunk. */
    size_t mark_at = 2 * MI_SEAL_CHUNK_SIZE + 12345;
    cr_assert_eq(mi_sealer_read(s, all, mark_at, &got), 0);
    cr_assert_eq(got, mark_at);
    off = got;
    mi_sealer_mark(s);
    while (off < total) {
        cr_assert_eq(mi_sealer_read(s, all + off, 7777, &got), 0, "%s", mi_error_last());
        cr_assert(got > 0);
        off += got;
    }
    cr_assert_eq(mi_sealer_read(s, all, 10, &got), 0);
    cr_assert_eq(got, 0, "no bytes after the end");
    cr_assert_eq(mi_sealer_rewind(s), 0, "%s", mi_error_last());
    cr_assert_eq(mi_sealer_offset(s), mark_at);
    off = mark_at;
    while (off < total) {
        cr_assert_eq(mi_sealer_read(s, again + off, 65536, &got), 0);
        off += got;
    }
    cr_assert(memcmp(all + mark_at, again + mark_at, total - mark_at) == 0,
              "rewind produced different bytes");
    /* And the whole stream unseals. */
    struct mi_seal_expect e = expect_for("dev", 1, SHA1);
    struct mi_unsealer *u;
    cr_assert_eq(mi_unsealer_new(&u, &k, &e, NULL, NULL), 0);
    for (size_t i = 0; i < total; i += 1000)
        cr_assert_eq(mi_unsealer_write(u, all + i, total - i < 1000 ? total - i : 1000), 0, "%s",
                     mi_error_last());
    cr_assert_eq(mi_unsealer_finish(u), 0, "%s", mi_error_last());
    mi_unsealer_free(u);
    mi_sealer_free(s);
    close(fd);
    free(all);
    free(again);
    mi_seal_binding_release(&b);
    free(plan);
}

Test(seal, refuses_to_seal_a_plan_that_does_not_match_its_hash)
{
    char *plan = path_in("bad.plan");
    char *sealed = path_in("bad.sealed");
    write_plan(plan, 1000, 1);
    struct mi_seal_keyring k;
    keys_a(&k);
    struct mi_seal_binding b;
    binding_init(&b, "dev", 1, SHA1);
    b.plan_sha256 = mi_xstrdup("0000000000000000000000000000000000000000000000000000000000000000");
    int rc = mi_seal_file(&k, &b, plan, sealed);
    cr_assert_lt(rc, 0);
    cr_assert(strstr(mi_error_last(), "changed while it was being sealed"), "%s", mi_error_last());
    cr_assert(!mi_fs_exists(sealed));
    mi_seal_binding_release(&b);
    free(plan);
    free(sealed);
}

Test(seal, rejects_invalid_bindings_when_sealing)
{
    struct mi_seal_binding b;
    binding_init(&b, "../etc", 1, SHA1);
    b.plan_sha256 = mi_xstrdup("0000000000000000000000000000000000000000000000000000000000000000");
    mi_buf j = MI_BUF_INIT;
    cr_assert_eq(mi_seal_binding_to_json(&j, &b), MI_EUSAGE);
    cr_assert(strstr(mi_error_last(), "environment"), "%s", mi_error_last());
    free(b.environment);
    b.environment = mi_xstrdup("dev");
    free(b.head_sha);
    b.head_sha = mi_xstrdup("ABC");
    cr_assert_eq(mi_seal_binding_to_json(&j, &b), MI_EUSAGE);
    cr_assert(strstr(mi_error_last(), "head_sha"), "%s", mi_error_last());
    mi_buf_release(&j);
    mi_seal_binding_release(&b);
}

Test(seal, binding_parser_accepts_only_the_canonical_form)
{
    const char *good = "{\"config_fingerprint\":\"f\",\"created_at\":\"2025-01-31T12:00:00Z\","
                       "\"environment\":\"dev\",\"head_sha\":\"" SHA1 "\",\"plan_sha256\":\""
                       "0000000000000000000000000000000000000000000000000000000000000000\","
                       "\"pr\":5,\"repository\":\"a/b\",\"terraform_version\":\"1.9.5\"}";
    struct mi_seal_binding b;
    cr_assert_eq(mi_seal_binding_parse(&b, good, strlen(good)), 0, "%s", mi_error_last());
    cr_assert_eq(b.pr, 5);
    mi_seal_binding_release(&b);
    const char *bad[] = {
        /* whitespace */
        "{ \"config_fingerprint\":\"f\",\"created_at\":\"2025-01-31T12:00:00Z\","
        "\"environment\":\"dev\",\"head_sha\":\"" SHA1 "\",\"plan_sha256\":\""
        "0000000000000000000000000000000000000000000000000000000000000000\","
        "\"pr\":5,\"repository\":\"a/b\",\"terraform_version\":\"1.9.5\"}",
        /* key order */
        "{\"created_at\":\"2025-01-31T12:00:00Z\",\"config_fingerprint\":\"f\","
        "\"environment\":\"dev\",\"head_sha\":\"" SHA1 "\",\"plan_sha256\":\""
        "0000000000000000000000000000000000000000000000000000000000000000\","
        "\"pr\":5,\"repository\":\"a/b\",\"terraform_version\":\"1.9.5\"}",
        /* pr as a string */
        "{\"config_fingerprint\":\"f\",\"created_at\":\"2025-01-31T12:00:00Z\","
        "\"environment\":\"dev\",\"head_sha\":\"" SHA1 "\",\"plan_sha256\":\""
        "0000000000000000000000000000000000000000000000000000000000000000\","
        "\"pr\":\"5\",\"repository\":\"a/b\",\"terraform_version\":\"1.9.5\"}",
        /* escaped character in a value */
        "{\"config_fingerprint\":\"\\u0066\",\"created_at\":\"2025-01-31T12:00:00Z\","
        "\"environment\":\"dev\",\"head_sha\":\"" SHA1 "\",\"plan_sha256\":\""
        "0000000000000000000000000000000000000000000000000000000000000000\","
        "\"pr\":5,\"repository\":\"a/b\",\"terraform_version\":\"1.9.5\"}",
        /* unknown field */
        "{\"config_fingerprint\":\"f\",\"created_at\":\"2025-01-31T12:00:00Z\","
        "\"environment\":\"dev\",\"extra\":1,\"head_sha\":\"" SHA1 "\",\"plan_sha256\":\""
        "0000000000000000000000000000000000000000000000000000000000000000\","
        "\"pr\":5,\"repository\":\"a/b\",\"terraform_version\":\"1.9.5\"}",
        /* duplicate key */
        "{\"config_fingerprint\":\"f\",\"config_fingerprint\":\"f\",\"created_at\":"
        "\"2025-01-31T12:00:00Z\",\"environment\":\"dev\",\"head_sha\":\"" SHA1 "\","
        "\"plan_sha256\":\"0000000000000000000000000000000000000000000000000000000000000000\","
        "\"pr\":5,\"repository\":\"a/b\",\"terraform_version\":\"1.9.5\"}",
        "[]",
        "{",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = mi_seal_binding_parse(&b, bad[i], strlen(bad[i]));
        cr_assert_eq(rc, MI_EREFUSED, "case %zu accepted", i);
        cr_assert(strstr(mi_error_last(), "binding"), "case %zu: %s", i, mi_error_last());
    }
}

/* --- tampering ------------------------------------------------------------------------- */

static mi_buf sealed_bytes(const char *path)
{
    mi_buf b = MI_BUF_INIT;
    cr_assert_eq(mi_fs_read_file(&b, path, 0), 0, "%s", mi_error_last());
    return b;
}

/* Writes data as a sealed file, tries to unseal it as (env, pr, sha) and asserts refusal with
 * a message containing every one of the given words. */
static void assert_refused(const void *data, size_t len, const char *env, long long pr,
                           const char *sha, const char *what, const char *const words[])
{
    char *tampered = path_in("tampered.sealed");
    char *plan = path_in("tampered.plan");
    cr_assert_eq(mi_fs_write_file_atomic(tampered, data, len, 0600), 0);
    struct mi_seal_keyring k;
    keys_a(&k);
    struct mi_seal_expect e = expect_for(env, pr, sha);
    mi_error_clear();
    int rc = mi_unseal_file(&k, &e, tampered, plan, NULL);
    cr_assert_eq(rc, MI_EREFUSED, "%s: accepted or wrong code %d: %s", what, rc, mi_error_last());
    for (size_t i = 0; words[i]; i++)
        cr_assert(strstr(mi_error_last(), words[i]), "%s: message lacks '%s': %s", what, words[i],
                  mi_error_last());
    assert_no_output(plan);
    mi_seal_keyring_wipe(&k);
    unlink(tampered);
    free(tampered);
    free(plan);
}

static void flip_and_check(const mi_buf *orig, size_t at, const char *what,
                           const char *const words[])
{
    char *copy = mi_xmalloc(orig->len);
    memcpy(copy, orig->ptr, orig->len);
    copy[at] ^= 0x01;
    assert_refused(copy, orig->len, "production", 7, SHA1, what, words);
    free(copy);
}

#define WORDS(...) ((const char *const[]){__VA_ARGS__, NULL})

Test(seal, refuses_a_flipped_byte_in_every_region)
{
    /* Three full chunks and a short final one. */
    size_t plain = 3 * MI_SEAL_CHUNK_SIZE + 1000;
    char *sealed = seal_plan("t", plain, "production", 7, SHA1);
    mi_buf s = sealed_bytes(sealed);
    struct mi_seal_header h;
    cr_assert_eq(mi_seal_header_parse(&h, (unsigned char *)s.ptr, s.len), 0);
    size_t ct = MI_SEAL_CHUNK_SIZE + MI_SEAL_CHUNK_OVERHEAD;
    size_t c0 = h.header_len;

    flip_and_check(&s, 0, "magic", WORDS("header", "magic"));
    flip_and_check(&s, 11, "version", WORDS("header", "version"));
    flip_and_check(&s, 14, "chunk size", WORDS("chunk 0", "header"));
    flip_and_check(&s, 12, "chunk size high byte", WORDS("header", "chunk size"));
    flip_and_check(&s, 23, "plan length", WORDS("chunk 0", "header"));
    flip_and_check(&s, 16, "plan length high byte", WORDS("header", "plan length"));
    flip_and_check(&s, 24, "key id", WORDS("key", "key id"));
    flip_and_check(&s, 35, "binding length", WORDS("binding"));
    flip_and_check(&s, 33, "binding length high byte", WORDS("header", "binding length"));
    /* Inside the binding: a structural byte, a value that is still valid (created_at's last
     * digit), and the environment name. */
    flip_and_check(&s, h.binding_offset, "binding brace", WORDS("binding"));
    const char *ca = memmem(s.ptr + h.binding_offset, h.binding_len, "12:00:00Z", 9);
    cr_assert_not_null(ca);
    flip_and_check(&s, (size_t)(ca - s.ptr) + 7, "created_at", WORDS("chunk 0", "binding"));
    const char *en = memmem(s.ptr + h.binding_offset, h.binding_len, "production", 10);
    flip_and_check(&s, (size_t)(en - s.ptr) + 1, "environment",
                   WORDS("binding mismatch", "environment"));
    /* The secretstream header. */
    flip_and_check(&s, c0 - 5, "stream header", WORDS("chunk 0", "header"));
    /* Each chunk: first byte (the encrypted tag), middle, and last byte (the MAC). */
    for (size_t c = 0; c < 4; c++) {
        size_t start = c0 + c * ct;
        size_t len = c < 3 ? ct : 1000 + MI_SEAL_CHUNK_OVERHEAD;
        char label[64], num[32];
        snprintf(num, sizeof(num), "chunk %zu", c);
        size_t spots[] = {start, start + len / 2, start + len - 1};
        for (size_t i = 0; i < 3; i++) {
            snprintf(label, sizeof(label), "chunk %zu byte %zu", c, spots[i] - start);
            flip_and_check(&s, spots[i], label, WORDS(num, "does not verify"));
        }
    }
    /* The final tag: the last chunk's MAC. */
    flip_and_check(&s, s.len - 1, "final tag", WORDS("final chunk", "does not verify"));
    mi_seal_binding_release(&h.binding);
    mi_buf_release(&s);
    free(sealed);
}

Test(seal, refuses_truncated_and_appended_plans)
{
    size_t plain = 2 * MI_SEAL_CHUNK_SIZE + 10;
    char *sealed = seal_plan("tr", plain, "production", 7, SHA1);
    mi_buf s = sealed_bytes(sealed);
    struct mi_seal_header h;
    cr_assert_eq(mi_seal_header_parse(&h, (unsigned char *)s.ptr, s.len), 0);
    size_t ct = MI_SEAL_CHUNK_SIZE + MI_SEAL_CHUNK_OVERHEAD;

    assert_refused(s.ptr, 0, "production", 7, SHA1, "empty", WORDS("empty"));
    assert_refused(s.ptr, 10, "production", 7, SHA1, "in prefix", WORDS("header", "truncated"));
    assert_refused(s.ptr, h.header_len - 3, "production", 7, SHA1, "in header",
                   WORDS("header", "truncated"));
    assert_refused(s.ptr, h.header_len, "production", 7, SHA1, "after header",
                   WORDS("truncated", "inside chunk 0"));
    assert_refused(s.ptr, h.header_len + ct, "production", 7, SHA1, "at chunk boundary",
                   WORDS("truncated", "inside chunk 1"));
    assert_refused(s.ptr, h.header_len + ct + 500, "production", 7, SHA1, "mid-chunk",
                   WORDS("truncated", "inside chunk 1"));
    assert_refused(s.ptr, s.len - 1, "production", 7, SHA1, "last byte",
                   WORDS("truncated", "inside chunk 2", "final chunk is 2"));
    assert_refused(s.ptr, s.len - 20, "production", 7, SHA1, "into the final chunk",
                   WORDS("truncated"));

    mi_buf longer = MI_BUF_INIT;
    mi_buf_add(&longer, s.ptr, s.len);
    mi_buf_adds(&longer, "x");
    assert_refused(longer.ptr, longer.len, "production", 7, SHA1, "appended byte",
                   WORDS("after the final chunk", "appended"));
    /* A whole extra chunk of the same stream is also refused. */
    mi_buf_truncate(&longer, s.len);
    mi_buf_add(&longer, s.ptr + h.header_len, ct);
    assert_refused(longer.ptr, longer.len, "production", 7, SHA1, "appended chunk",
                   WORDS("after the final chunk"));
    mi_buf_release(&longer);
    mi_seal_binding_release(&h.binding);
    mi_buf_release(&s);
    free(sealed);
}

Test(seal, refuses_swapped_bindings)
{
    char *a = seal_plan("swapa", 100000, "production", 7, SHA1);
    char *b = seal_plan("swapb", 100000, "production", 8, SHA2);
    mi_buf sa = sealed_bytes(a), sb = sealed_bytes(b);
    struct mi_seal_header ha, hb;
    cr_assert_eq(mi_seal_header_parse(&ha, (unsigned char *)sa.ptr, sa.len), 0);
    cr_assert_eq(mi_seal_header_parse(&hb, (unsigned char *)sb.ptr, sb.len), 0);
    /* B's header and binding on A's stream header and chunks. */
    mi_buf x = MI_BUF_INIT;
    mi_buf_add(&x, sb.ptr, hb.header_len - MI_SEAL_STREAM_HEADER_LEN);
    mi_buf_add(&x, sa.ptr + ha.header_len - MI_SEAL_STREAM_HEADER_LEN,
               sa.len - (ha.header_len - MI_SEAL_STREAM_HEADER_LEN));
    /* Expecting B's binding: the binding matches, the data does not. */
    assert_refused(x.ptr, x.len, "production", 8, SHA2, "B binding on A data",
                   WORDS("chunk 0", "binding"));
    /* Expecting A: the binding is B's. */
    assert_refused(x.ptr, x.len, "production", 7, SHA1, "B binding expecting A",
                   WORDS("binding mismatch", "pr is 8, expected 7"));
    mi_buf_release(&x);
    mi_seal_binding_release(&ha.binding);
    mi_seal_binding_release(&hb.binding);
    mi_buf_release(&sa);
    mi_buf_release(&sb);
    free(a);
    free(b);
}

Test(seal, refuses_a_plan_for_another_environment_pr_commit_or_configuration)
{
    char *sealed = seal_plan("exp", 5000, "production", 7, SHA1);
    mi_buf s = sealed_bytes(sealed);
    assert_refused(s.ptr, s.len, "staging", 7, SHA1, "environment",
                   WORDS("binding mismatch", "environment is 'production', expected 'staging'"));
    assert_refused(s.ptr, s.len, "production", 8, SHA1, "pr",
                   WORDS("binding mismatch", "pr is 7, expected 8"));
    assert_refused(s.ptr, s.len, "production", 7, SHA2, "head sha",
                   WORDS("binding mismatch", "head_sha"));
    char *plan = path_in("exp.out");
    struct mi_seal_keyring k;
    keys_a(&k);
    struct mi_seal_expect e = {"acme/infra", "production", 7, SHA1, "sha256:ffff"};
    cr_assert_eq(mi_unseal_file(&k, &e, sealed, plan, NULL), MI_EREFUSED);
    cr_assert(strstr(mi_error_last(), "config_fingerprint"), "%s", mi_error_last());
    assert_no_output(plan);
    struct mi_seal_expect other_repo = {"acme/other", "production", 7, SHA1, NULL};
    cr_assert_eq(mi_unseal_file(&k, &other_repo, sealed, plan, NULL), MI_EREFUSED);
    cr_assert(strstr(mi_error_last(), "repository is 'acme/infra'"), "%s", mi_error_last());
    assert_no_output(plan);
    /* Wrong key entirely. */
    struct mi_seal_keyring kb;
    cr_assert_eq(mi_seal_keyring_from_base64(&kb, KEY_B, NULL), 0);
    struct mi_seal_expect ok = expect_for("production", 7, SHA1);
    cr_assert_eq(mi_unseal_file(&kb, &ok, sealed, plan, NULL), MI_EREFUSED);
    cr_assert(strstr(mi_error_last(), "key id"), "%s", mi_error_last());
    assert_no_output(plan);
    mi_buf_release(&s);
    free(sealed);
    free(plan);
}

Test(seal, refused_unseal_leaves_an_existing_plan_untouched)
{
    char *sealed = seal_plan("keep", 5000, "production", 7, SHA1);
    char *plan = path_in("keep.out");
    cr_assert_eq(mi_fs_write_file_atomic(plan, "old", 3, 0600), 0);
    struct mi_seal_keyring k;
    keys_a(&k);
    struct mi_seal_expect e = expect_for("staging", 7, SHA1);
    cr_assert_eq(mi_unseal_file(&k, &e, sealed, plan, NULL), MI_EREFUSED);
    mi_buf b = MI_BUF_INIT;
    cr_assert_eq(mi_fs_read_file(&b, plan, 0), 0);
    cr_assert_str_eq(b.ptr, "old");
    mi_buf_release(&b);
    free(sealed);
    free(plan);
}
