/*
 * seal.c - the sealed-plan format (docs/sealed-plan-format.md).
 *
 * Layout of this file: keys, the binding, the header, the sealer (pull), the unsealer (push),
 * the output file, and whole-file helpers. SHA-256 comes from OpenSSL because libsodium's
 * portable implementation runs at a quarter of the speed of the SHA-NI code OpenSSL uses,
 * and the plan is hashed on every seal and unseal.
 */
#include "store/seal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/error.h"
#include "util/banned.h"

static const unsigned char seal_magic[8] = {0x89, 'M', 'L', 'P', '\r', '\n', 0x1a, '\n'};

#define MIN_CHUNK 1024u
#define MAX_CHUNK (1024u * 1024u)
#define MIN_BINDING 2u
/* 2^50 bytes: far above any plan, low enough that size arithmetic cannot overflow. */
#define MAX_PLAIN (1ull << 50)

/* ============================================================================================
 * Small helpers
 * ========================================================================================== */

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get_be32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void put_be64(unsigned char *p, uint64_t v)
{
    put_be32(p, (uint32_t)(v >> 32));
    put_be32(p + 4, (uint32_t)v);
}

static uint64_t get_be64(const unsigned char *p)
{
    return ((uint64_t)get_be32(p) << 32) | get_be32(p + 4);
}

static void hex_encode(char *out, const unsigned char *bin, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[bin[i] >> 4];
        out[2 * i + 1] = digits[bin[i] & 15];
    }
    out[2 * len] = '\0';
}

static int pread_full(int fd, void *buf, size_t len, uint64_t off, size_t *got)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (n == 0)
            break;
        done += (size_t)n;
    }
    *got = done;
    return 0;
}

static int write_full(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static EVP_MD_CTX *sha256_new(void)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
        fprintf(stderr, "fatal: OpenSSL cannot provide SHA-256\n");
        abort();
    }
    return c;
}

static void sha256_hex(char out[65], EVP_MD_CTX *c)
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_DigestFinal_ex(c, md, &n);
    hex_encode(out, md, 32);
}

int mi_seal_sha256_fd(char hex_out[65], int fd, const char *what)
{
    enum { BUFSZ = 256 * 1024 };
    unsigned char *buf = mi_xmalloc(BUFSZ);
    EVP_MD_CTX *c = sha256_new();
    uint64_t off = 0;
    int rc = 0;
    for (;;) {
        size_t got = 0;
        if (pread_full(fd, buf, BUFSZ, off, &got) < 0) {
            rc = mi_error_errno(MI_ERR, "cannot read '%s'", what);
            goto done;
        }
        if (got == 0)
            break;
        EVP_DigestUpdate(c, buf, got);
        off += got;
    }
    sha256_hex(hex_out, c);
done:
    EVP_MD_CTX_free(c);
    free(buf);
    return rc;
}

/* ============================================================================================
 * Keys
 * ========================================================================================== */

/* The per-repository key: BLAKE2b-256 keyed with the master key over a label, a NUL and the
 * repository, so one MLINFRA_PLAN_KEY shared by many repositories still gives each its own
 * key, and a plan sealed for one repository cannot be opened as another's. */
static void derive_repo_key(unsigned char out[32], const unsigned char master[32],
                            const char *repository)
{
    static const char label[] = "mlinfra sealed plan key v1";
    crypto_generichash_state st;
    crypto_generichash_init(&st, master, 32, 32);
    crypto_generichash_update(&st, (const unsigned char *)label, sizeof(label)); /* with NUL */
    crypto_generichash_update(&st, (const unsigned char *)repository, strlen(repository));
    crypto_generichash_final(&st, out, 32);
    sodium_memzero(&st, sizeof(st));
}

/* A short public name for a repository key, so a reader can tell "sealed with another key"
 * apart from "altered" and pick the current or previous key without trial decryption. */
static void derive_key_id(unsigned char out[MI_SEAL_KEY_ID_LEN], const unsigned char key[32])
{
    static const char label[] = "mlinfra key id v1";
    crypto_generichash(out, MI_SEAL_KEY_ID_LEN, (const unsigned char *)label, sizeof(label) - 1,
                       key, 32);
}

static int decode_key(unsigned char out[32], const char *b64, const char *name)
{
    static const int variants[] = {
        sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
        sodium_base64_VARIANT_URLSAFE, sodium_base64_VARIANT_URLSAFE_NO_PADDING};
    unsigned char tmp[64];
    size_t n = 0;
    const char *end = NULL;
    size_t len = strlen(b64);
    /* Trailing whitespace (a newline from a secrets file) is common and harmless. */
    while (len && (b64[len - 1] == '\n' || b64[len - 1] == '\r' || b64[len - 1] == ' ' ||
                   b64[len - 1] == '\t'))
        len--;
    while (len && (*b64 == ' ' || *b64 == '\t' || *b64 == '\n' || *b64 == '\r')) {
        b64++;
        len--;
    }
    if (len == 0)
        return mi_error_set(MI_EUSAGE,
                            "%s is empty; generate a key with "
                            "`openssl rand -base64 32`",
                            name);
    for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
        if (sodium_base642bin(tmp, sizeof(tmp), b64, len, NULL, &n, &end, variants[i]) == 0 &&
            end == b64 + len) {
            if (n != 32) {
                sodium_memzero(tmp, sizeof(tmp));
                return mi_error_set(MI_EUSAGE,
                                    "%s must be the base64 encoding of 32 bytes, it decodes "
                                    "to %zu bytes; generate one with `openssl rand -base64 32`",
                                    name, n);
            }
            memcpy(out, tmp, 32);
            sodium_memzero(tmp, sizeof(tmp));
            return 0;
        }
    }
    sodium_memzero(tmp, sizeof(tmp));
    return mi_error_set(
        MI_EUSAGE, "%s is not valid base64; generate a key with `openssl rand -base64 32`", name);
}

int mi_seal_keyring_from_base64(struct mi_seal_keyring *out, const char *current_b64,
                                const char *previous_b64)
{
    memset(out, 0, sizeof(*out));
    if (!current_b64)
        return mi_error_set(MI_EUSAGE, "MLINFRA_PLAN_KEY is not set; plans are sealed with it "
                                       "(generate one with `openssl rand -base64 32`)");
    int rc = decode_key(out->master[0], current_b64, "MLINFRA_PLAN_KEY");
    if (rc < 0)
        return rc;
    out->count = 1;
    if (previous_b64 && *previous_b64) {
        rc = decode_key(out->master[1], previous_b64, "MLINFRA_PLAN_KEY_PREVIOUS");
        if (rc < 0) {
            mi_seal_keyring_wipe(out);
            return rc;
        }
        out->count = 2;
    }
    return 0;
}

int mi_seal_keyring_from_env(struct mi_seal_keyring *out)
{
    const char *cur = getenv("MLINFRA_PLAN_KEY");
    if (!cur || !*cur) {
        memset(out, 0, sizeof(*out));
        return mi_error_set(MI_EUSAGE, "MLINFRA_PLAN_KEY is not set; plans are sealed with it "
                                       "(generate one with `openssl rand -base64 32` and store "
                                       "it as a repository secret)");
    }
    return mi_seal_keyring_from_base64(out, cur, getenv("MLINFRA_PLAN_KEY_PREVIOUS"));
}

void mi_seal_keyring_wipe(struct mi_seal_keyring *k)
{
    if (k)
        sodium_memzero(k, sizeof(*k));
}

/* ============================================================================================
 * The binding
 * ========================================================================================== */

void mi_seal_binding_release(struct mi_seal_binding *b)
{
    if (!b)
        return;
    free(b->repository);
    free(b->environment);
    free(b->head_sha);
    free(b->config_fingerprint);
    free(b->plan_sha256);
    free(b->terraform_version);
    free(b->created_at);
    memset(b, 0, sizeof(*b));
}

static char *dup_or_null(const char *s)
{
    return s ? mi_xstrdup(s) : NULL;
}

void mi_seal_binding_copy(struct mi_seal_binding *out, const struct mi_seal_binding *b)
{
    out->repository = dup_or_null(b->repository);
    out->environment = dup_or_null(b->environment);
    out->pr = b->pr;
    out->head_sha = dup_or_null(b->head_sha);
    out->config_fingerprint = dup_or_null(b->config_fingerprint);
    out->plan_sha256 = dup_or_null(b->plan_sha256);
    out->terraform_version = dup_or_null(b->terraform_version);
    out->created_at = dup_or_null(b->created_at);
}

void mi_seal_binding_set_now(struct mi_seal_binding *b)
{
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    free(b->created_at);
    b->created_at = mi_xstrdup(when);
}

static int is_alnum_c(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int only_chars(const char *s, size_t n, const char *extra)
{
    for (size_t i = 0; i < n; i++)
        if (!is_alnum_c(s[i]) && !strchr(extra, s[i]))
            return 0;
    return 1;
}

static int is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

static int valid_repository(const char *s)
{
    const char *slash = strchr(s, '/');
    if (!slash || strchr(slash + 1, '/'))
        return 0;
    size_t ol = (size_t)(slash - s), nl = strlen(slash + 1);
    if (ol < 1 || ol > 100 || nl < 1 || nl > 100)
        return 0;
    if (!only_chars(s, ol, "-_.") || !only_chars(slash + 1, nl, "-_."))
        return 0;
    /* "." and ".." would be path components in the local store. */
    return s[0] != '.' && slash[1] != '.';
}

int mi_seal_valid_repository(const char *s)
{
    return s && valid_repository(s);
}

int mi_seal_valid_environment(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 1 && n <= 64 && s[0] != '.' && only_chars(s, n, "-_.");
}

int mi_seal_valid_commit(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return (n == 40 || n == 64) && is_lower_hex(s, n);
}

static int valid_created_at(const char *s)
{
    /* YYYY-MM-DDTHH:MM:SSZ */
    static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
    if (strlen(s) != sizeof(shape) - 1)
        return 0;
    for (size_t i = 0; shape[i]; i++) {
        if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != shape[i])
            return 0;
    }
    return 1;
}

/* One field check, shared by sealing (code MI_EUSAGE) and parsing (MI_EREFUSED). */
static int check_binding(const struct mi_seal_binding *b, int code, const char *prefix)
{
#define REQUIRE(field)                                                                             \
    do {                                                                                           \
        if (!b->field || !*b->field)                                                               \
            return mi_error_set(code, "%sfield '" #field "' is missing", prefix);                  \
    } while (0)
    REQUIRE(repository);
    REQUIRE(environment);
    REQUIRE(head_sha);
    REQUIRE(config_fingerprint);
    REQUIRE(plan_sha256);
    REQUIRE(terraform_version);
    REQUIRE(created_at);
#undef REQUIRE
    if (!valid_repository(b->repository))
        return mi_error_set(code, "%srepository '%.200s' is not of the form owner/name", prefix,
                            b->repository);
    if (!mi_seal_valid_environment(b->environment))
        return mi_error_set(code,
                            "%senvironment '%.200s' is not a valid name (letters, digits, "
                            "'-', '_', '.', at most 64, not starting with '.')",
                            prefix, b->environment);
    if (b->pr < 1 || b->pr > 9007199254740991LL)
        return mi_error_set(code, "%spr %lld is not a pull request number", prefix, b->pr);
    if (!mi_seal_valid_commit(b->head_sha))
        return mi_error_set(code, "%shead_sha '%.80s' is not a full lower-case commit id", prefix,
                            b->head_sha);
    size_t fl = strlen(b->config_fingerprint);
    if (fl > 128 || !only_chars(b->config_fingerprint, fl, ":._+/=-"))
        return mi_error_set(code, "%sconfig_fingerprint '%.200s' is not valid", prefix,
                            b->config_fingerprint);
    if (strlen(b->plan_sha256) != 64 || !is_lower_hex(b->plan_sha256, 64))
        return mi_error_set(code, "%splan_sha256 '%.80s' is not 64 lower-case hex digits", prefix,
                            b->plan_sha256);
    size_t tl = strlen(b->terraform_version);
    if (tl > 64 || !only_chars(b->terraform_version, tl, ".+_-"))
        return mi_error_set(code, "%sterraform_version '%.80s' is not valid", prefix,
                            b->terraform_version);
    if (!valid_created_at(b->created_at))
        return mi_error_set(code,
                            "%screated_at '%.80s' is not of the form "
                            "YYYY-MM-DDTHH:MM:SSZ",
                            prefix, b->created_at);
    return 0;
}

int mi_seal_binding_validate(const struct mi_seal_binding *b)
{
    return check_binding(b, MI_EUSAGE, "binding: ");
}

/* Field values are restricted to characters that need no JSON escaping, so the canonical
 * form is simply the fields in key order with no whitespace. */
static void binding_json(mi_buf *out, const struct mi_seal_binding *b)
{
    mi_buf_addf(out,
                "{\"config_fingerprint\":\"%s\",\"created_at\":\"%s\",\"environment\":\"%s\","
                "\"head_sha\":\"%s\",\"plan_sha256\":\"%s\",\"pr\":%lld,\"repository\":\"%s\","
                "\"terraform_version\":\"%s\"}",
                b->config_fingerprint, b->created_at, b->environment, b->head_sha, b->plan_sha256,
                b->pr, b->repository, b->terraform_version);
}

int mi_seal_binding_to_json(mi_buf *out, const struct mi_seal_binding *b)
{
    int rc = mi_seal_binding_validate(b);
    if (rc < 0)
        return rc;
    binding_json(out, b);
    return 0;
}

static int take_string(char **dst, json_t *root, const char *key)
{
    json_t *v = json_object_get(root, key);
    if (!v)
        return mi_error_set(MI_EREFUSED, "sealed plan: binding: field '%s' is missing", key);
    if (!json_is_string(v))
        return mi_error_set(MI_EREFUSED, "sealed plan: binding: field '%s' is not a string", key);
    /* Fields never contain NUL; json_string_length catches an escaped one. */
    if (strlen(json_string_value(v)) != json_string_length(v))
        return mi_error_set(MI_EREFUSED, "sealed plan: binding: field '%s' contains NUL", key);
    *dst = mi_xstrdup(json_string_value(v));
    return 0;
}

int mi_seal_binding_parse(struct mi_seal_binding *out, const char *json, size_t len)
{
    static const char *const keys[] = {"config_fingerprint", "created_at",       "environment",
                                       "head_sha",           "plan_sha256",      "pr",
                                       "repository",         "terraform_version"};
    memset(out, 0, sizeof(*out));
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    mi_buf canon = MI_BUF_INIT;
    int rc = 0;
    if (!root) {
        rc = mi_error_set(MI_EREFUSED, "sealed plan: binding: not valid JSON (%d:%d: %s)",
                          jerr.line, jerr.column, jerr.text);
        goto done;
    }
    if (!json_is_object(root)) {
        rc = mi_error_set(MI_EREFUSED, "sealed plan: binding: not a JSON object");
        goto done;
    }
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v)
    {
        int known = 0;
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
            known |= strcmp(k, keys[i]) == 0;
        if (!known) {
            rc = mi_error_set(MI_EREFUSED, "sealed plan: binding: unknown field '%.64s'", k);
            goto done;
        }
    }
    if ((rc = take_string(&out->repository, root, "repository")) < 0 ||
        (rc = take_string(&out->environment, root, "environment")) < 0 ||
        (rc = take_string(&out->head_sha, root, "head_sha")) < 0 ||
        (rc = take_string(&out->config_fingerprint, root, "config_fingerprint")) < 0 ||
        (rc = take_string(&out->plan_sha256, root, "plan_sha256")) < 0 ||
        (rc = take_string(&out->terraform_version, root, "terraform_version")) < 0 ||
        (rc = take_string(&out->created_at, root, "created_at")) < 0)
        goto done;
    json_t *pr = json_object_get(root, "pr");
    if (!pr || !json_is_integer(pr)) {
        rc = mi_error_set(MI_EREFUSED, "sealed plan: binding: field 'pr' is %s",
                          pr ? "not an integer" : "missing");
        goto done;
    }
    out->pr = (long long)json_integer_value(pr);
    rc = check_binding(out, MI_EREFUSED, "sealed plan: binding: ");
    if (rc < 0)
        goto done;
    /* Only the canonical bytes are accepted: one binding, one encoding, so what was
     * authenticated is exactly what every reader displays and compares. */
    binding_json(&canon, out);
    if (canon.len != len || memcmp(canon.ptr, json, len) != 0)
        rc = mi_error_set(MI_EREFUSED, "sealed plan: binding: not in canonical form");
done:
    if (rc < 0)
        mi_seal_binding_release(out);
    mi_buf_release(&canon);
    json_decref(root);
    return rc;
}

/* ============================================================================================
 * The header
 * ========================================================================================== */

uint64_t mi_seal_sealed_size(uint64_t plain_len, size_t binding_len, uint32_t chunk_size)
{
    uint64_t full = plain_len / chunk_size;
    uint64_t rest = plain_len % chunk_size;
    return MI_SEAL_PREFIX_LEN + binding_len + MI_SEAL_STREAM_HEADER_LEN +
           full * ((uint64_t)chunk_size + MI_SEAL_CHUNK_OVERHEAD) + rest + MI_SEAL_CHUNK_OVERHEAD;
}

int mi_seal_header_length(size_t *out, const unsigned char *p, size_t len)
{
    if (len < MI_SEAL_PREFIX_LEN)
        return mi_error_set(MI_EREFUSED, "sealed plan: header: truncated (%zu of %u bytes)", len,
                            MI_SEAL_PREFIX_LEN);
    if (memcmp(p, seal_magic, sizeof(seal_magic)) != 0)
        return mi_error_set(MI_EREFUSED, "sealed plan: header: bad magic, this is not a sealed "
                                         "plan (or its first bytes were altered)");
    uint32_t version = get_be32(p + 8);
    if (version != MI_SEAL_VERSION)
        return mi_error_set(MI_EREFUSED,
                            "sealed plan: header: format version %u is not supported (this "
                            "mlinfra reads version %u)",
                            version, MI_SEAL_VERSION);
    uint32_t chunk = get_be32(p + 12);
    if (chunk < MIN_CHUNK || chunk > MAX_CHUNK)
        return mi_error_set(MI_EREFUSED, "sealed plan: header: chunk size %u is out of range",
                            chunk);
    uint64_t plain = get_be64(p + 16);
    if (plain > MAX_PLAIN)
        return mi_error_set(MI_EREFUSED, "sealed plan: header: plan length %llu is out of range",
                            (unsigned long long)plain);
    uint32_t blen = get_be32(p + 32);
    if (blen < MIN_BINDING || blen > MI_SEAL_MAX_BINDING)
        return mi_error_set(MI_EREFUSED, "sealed plan: header: binding length %u is out of range",
                            blen);
    *out = MI_SEAL_PREFIX_LEN + blen + MI_SEAL_STREAM_HEADER_LEN;
    return 0;
}

int mi_seal_header_parse(struct mi_seal_header *out, const unsigned char *data, size_t len)
{
    memset(out, 0, sizeof(*out));
    size_t total = 0;
    int rc = mi_seal_header_length(&total, data, len);
    if (rc < 0)
        return rc;
    if (len < total)
        return mi_error_set(MI_EREFUSED, "sealed plan: header: truncated (%zu of %zu bytes)", len,
                            total);
    out->version = get_be32(data + 8);
    out->chunk_size = get_be32(data + 12);
    out->plain_len = get_be64(data + 16);
    memcpy(out->key_id, data + 24, MI_SEAL_KEY_ID_LEN);
    out->binding_offset = MI_SEAL_PREFIX_LEN;
    out->binding_len = get_be32(data + 32);
    out->header_len = total;
    return mi_seal_binding_parse(&out->binding, (const char *)data + MI_SEAL_PREFIX_LEN,
                                 out->binding_len);
}

int mi_seal_header_read_file(struct mi_seal_header *out, const char *path)
{
    memset(out, 0, sizeof(*out));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mi_error_errno(errno == ENOENT ? MI_ENOTFOUND : MI_ERR, "cannot open '%s'", path);
    unsigned char *buf =
        mi_xmalloc(MI_SEAL_PREFIX_LEN + MI_SEAL_MAX_BINDING + MI_SEAL_STREAM_HEADER_LEN);
    size_t got = 0, total = 0;
    int rc = 0;
    if (pread_full(fd, buf, MI_SEAL_PREFIX_LEN, 0, &got) < 0) {
        rc = mi_error_errno(MI_ERR, "cannot read '%s'", path);
        goto done;
    }
    if ((rc = mi_seal_header_length(&total, buf, got)) < 0)
        goto done;
    if (pread_full(fd, buf, total, 0, &got) < 0) {
        rc = mi_error_errno(MI_ERR, "cannot read '%s'", path);
        goto done;
    }
    rc = mi_seal_header_parse(out, buf, got);
done:
    if (rc < 0 && rc != MI_ENOTFOUND)
        mi_error_prefix("%s", path);
    free(buf);
    close(fd);
    return rc;
}

/* ============================================================================================
 * Sealing
 * ========================================================================================== */

enum sealer_phase { PHASE_HEADER, PHASE_CHUNK };

/* Everything that changes as chunks are produced; a copy of it taken before a chunk was
 * encrypted reproduces that chunk exactly (secretstream is deterministic after init). */
struct seal_state {
    crypto_secretstream_xchacha20poly1305_state ss;
    EVP_MD_CTX *sha;
    uint64_t plain_off;
    uint64_t chunk_index;
};

struct seal_mark {
    struct seal_state before;
    enum sealer_phase phase;
    size_t pos;
    uint64_t offset;
};

struct mi_sealer {
    int fd;
    uint64_t plain_len;
    uint64_t total;
    unsigned char key[32];
    unsigned char *header;
    size_t header_len;
    char want_sha[65];

    struct seal_state live;
    struct seal_state before; /* live as it was before the current chunk was encrypted */
    struct seal_mark mark;
    enum sealer_phase phase;
    unsigned char *plain;
    unsigned char *cur; /* the current chunk's ciphertext */
    size_t cur_len;
    size_t pos; /* bytes of the current unit (header or chunk) already handed out */
    int final_done;
    uint64_t offset;
};

static void state_copy(struct seal_state *dst, const struct seal_state *src)
{
    dst->ss = src->ss;
    EVP_MD_CTX_copy_ex(dst->sha, src->sha);
    dst->plain_off = src->plain_off;
    dst->chunk_index = src->chunk_index;
}

int mi_sealer_new(struct mi_sealer **out, const struct mi_seal_keyring *keys,
                  const struct mi_seal_binding *binding, int plan_fd)
{
    *out = NULL;
    if (!keys || keys->count < 1)
        return mi_error_set(MI_EUSAGE, "seal: no key (MLINFRA_PLAN_KEY)");
    int rc = mi_seal_binding_validate(binding);
    if (rc < 0)
        return mi_error_prefix("seal");
    struct stat st;
    if (fstat(plan_fd, &st) < 0)
        return mi_error_errno(MI_ERR, "seal: cannot stat the plan");
    if (!S_ISREG(st.st_mode))
        return mi_error_set(MI_EUSAGE, "seal: the plan is not a regular file");
    if ((uint64_t)st.st_size > MAX_PLAIN)
        return mi_error_set(MI_EUSAGE, "seal: the plan is too large (%lld bytes)",
                            (long long)st.st_size);

    struct mi_sealer *s = mi_xcalloc(1, sizeof(*s));
    s->fd = plan_fd;
    s->plain_len = (uint64_t)st.st_size;
    memcpy(s->want_sha, binding->plan_sha256, 65);
    derive_repo_key(s->key, keys->master[0], binding->repository);

    mi_buf json = MI_BUF_INIT;
    binding_json(&json, binding);
    s->header_len = MI_SEAL_PREFIX_LEN + json.len + MI_SEAL_STREAM_HEADER_LEN;
    s->header = mi_xmalloc(s->header_len);
    memcpy(s->header, seal_magic, 8);
    put_be32(s->header + 8, MI_SEAL_VERSION);
    put_be32(s->header + 12, MI_SEAL_CHUNK_SIZE);
    put_be64(s->header + 16, s->plain_len);
    derive_key_id(s->header + 24, s->key);
    put_be32(s->header + 32, (uint32_t)json.len);
    memcpy(s->header + MI_SEAL_PREFIX_LEN, json.ptr, json.len);
    crypto_secretstream_xchacha20poly1305_init_push(
        &s->live.ss, s->header + MI_SEAL_PREFIX_LEN + json.len, s->key);
    s->total = mi_seal_sealed_size(s->plain_len, json.len, MI_SEAL_CHUNK_SIZE);
    mi_buf_release(&json);

    s->live.sha = sha256_new();
    s->before.sha = sha256_new();
    s->mark.before.sha = sha256_new();
    state_copy(&s->before, &s->live);
    state_copy(&s->mark.before, &s->live);
    s->mark.phase = PHASE_HEADER;
    s->phase = PHASE_HEADER;
    s->plain = mi_xmalloc(MI_SEAL_CHUNK_SIZE);
    s->cur = mi_xmalloc(MI_SEAL_CHUNK_SIZE + MI_SEAL_CHUNK_OVERHEAD);
    *out = s;
    return 0;
}

uint64_t mi_sealer_size(const struct mi_sealer *s)
{
    return s->total;
}

uint64_t mi_sealer_offset(const struct mi_sealer *s)
{
    return s->offset;
}

/* Encrypts the chunk at s->live into s->cur. */
static int produce_chunk(struct mi_sealer *s)
{
    state_copy(&s->before, &s->live);
    uint64_t left = s->plain_len - s->live.plain_off;
    size_t want = left < MI_SEAL_CHUNK_SIZE ? (size_t)left : MI_SEAL_CHUNK_SIZE;
    size_t got = 0;
    if (pread_full(s->fd, s->plain, want, s->live.plain_off, &got) < 0)
        return mi_error_errno(MI_ERR, "seal: cannot read the plan at offset %llu",
                              (unsigned long long)s->live.plain_off);
    if (got != want)
        return mi_error_set(MI_ERR, "seal: the plan file shrank while it was being sealed");
    int final = want < MI_SEAL_CHUNK_SIZE;
    const unsigned char *ad = s->live.chunk_index == 0 ? s->header : NULL;
    size_t adlen = s->live.chunk_index == 0 ? s->header_len - MI_SEAL_STREAM_HEADER_LEN : 0;
    unsigned long long clen = 0;
    crypto_secretstream_xchacha20poly1305_push(
        &s->live.ss, s->cur, &clen, s->plain, want, ad, adlen,
        final ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
              : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
    EVP_DigestUpdate(s->live.sha, s->plain, want);
    s->cur_len = (size_t)clen;
    s->pos = 0;
    s->live.plain_off += want;
    s->live.chunk_index++;
    s->final_done = final;
    if (final) {
        char got_sha[65];
        EVP_MD_CTX *c = sha256_new();
        EVP_MD_CTX_copy_ex(c, s->live.sha);
        sha256_hex(got_sha, c);
        EVP_MD_CTX_free(c);
        if (strcmp(got_sha, s->want_sha) != 0)
            return mi_error_set(MI_ERR,
                                "seal: the plan changed while it was being sealed (its SHA-256 "
                                "is %s, the binding says %s)",
                                got_sha, s->want_sha);
    }
    return 0;
}

int mi_sealer_read(struct mi_sealer *s, void *buf, size_t len, size_t *got)
{
    size_t done = 0;
    while (done < len) {
        if (s->phase == PHASE_HEADER) {
            if (s->pos < s->header_len) {
                size_t n = s->header_len - s->pos;
                if (n > len - done)
                    n = len - done;
                memcpy((char *)buf + done, s->header + s->pos, n);
                s->pos += n;
                done += n;
                continue;
            }
            s->phase = PHASE_CHUNK;
            int rc = produce_chunk(s);
            if (rc < 0)
                return rc;
            continue;
        }
        if (s->pos < s->cur_len) {
            size_t n = s->cur_len - s->pos;
            if (n > len - done)
                n = len - done;
            memcpy((char *)buf + done, s->cur + s->pos, n);
            s->pos += n;
            done += n;
            continue;
        }
        if (s->final_done)
            break;
        int rc = produce_chunk(s);
        if (rc < 0)
            return rc;
    }
    s->offset += done;
    *got = done;
    return 0;
}

void mi_sealer_mark(struct mi_sealer *s)
{
    state_copy(&s->mark.before, s->phase == PHASE_HEADER ? &s->live : &s->before);
    s->mark.phase = s->phase;
    s->mark.pos = s->pos;
    s->mark.offset = s->offset;
}

int mi_sealer_rewind(struct mi_sealer *s)
{
    state_copy(&s->live, &s->mark.before);
    s->phase = s->mark.phase;
    s->offset = s->mark.offset;
    s->final_done = 0;
    if (s->phase == PHASE_HEADER) {
        s->pos = s->mark.pos;
        return 0;
    }
    int rc = produce_chunk(s);
    if (rc < 0)
        return rc;
    s->pos = s->mark.pos;
    return 0;
}

void mi_sealer_free(struct mi_sealer *s)
{
    if (!s)
        return;
    sodium_memzero(s->key, sizeof(s->key));
    sodium_memzero(&s->live.ss, sizeof(s->live.ss));
    sodium_memzero(&s->before.ss, sizeof(s->before.ss));
    sodium_memzero(&s->mark.before.ss, sizeof(s->mark.before.ss));
    EVP_MD_CTX_free(s->live.sha);
    EVP_MD_CTX_free(s->before.sha);
    EVP_MD_CTX_free(s->mark.before.sha);
    if (s->plain)
        sodium_memzero(s->plain, MI_SEAL_CHUNK_SIZE);
    free(s->plain);
    free(s->cur);
    free(s->header);
    free(s);
}

/* ============================================================================================
 * Unsealing
 * ========================================================================================== */

enum unseal_phase { U_HEADER, U_CHUNKS, U_FINAL, U_FAILED };

struct mi_unsealer {
    int key_count;
    unsigned char repo_key[2][32];
    unsigned char key_id[2][MI_SEAL_KEY_ID_LEN];
    char *repository, *environment, *head_sha, *config_fingerprint;
    long long pr;
    mi_seal_sink_fn sink;
    void *sink_ctx;

    enum unseal_phase phase;
    int failed_code;
    unsigned char *hdr; /* the header as it arrives */
    size_t hdr_have, hdr_need;
    struct mi_seal_header header;
    int have_binding;
    crypto_secretstream_xchacha20poly1305_state ss;
    uint64_t final_index; /* the final chunk's index (plain_len / chunk_size) */
    uint64_t total;       /* sealed length the header announces */
    size_t ct_len;        /* ciphertext length of the chunk being collected */
    unsigned char *cbuf;
    size_t cbuf_len;
    unsigned char *plain;
    size_t plain_cap;
    uint64_t chunk_index;
    uint64_t offset; /* sealed bytes consumed */
    EVP_MD_CTX *sha;
};

static int fail(struct mi_unsealer *u, int code)
{
    u->phase = U_FAILED;
    u->failed_code = code;
    return code;
}

int mi_unsealer_new(struct mi_unsealer **out, const struct mi_seal_keyring *keys,
                    const struct mi_seal_expect *expect, mi_seal_sink_fn sink, void *sink_ctx)
{
    *out = NULL;
    if (!keys || keys->count < 1)
        return mi_error_set(MI_EUSAGE, "unseal: no key (MLINFRA_PLAN_KEY)");
    if (!expect || !expect->repository || !*expect->repository)
        return mi_error_set(MI_EUSAGE, "unseal: the expected repository is required");
    struct mi_unsealer *u = mi_xcalloc(1, sizeof(*u));
    u->key_count = keys->count;
    for (int i = 0; i < keys->count; i++) {
        derive_repo_key(u->repo_key[i], keys->master[i], expect->repository);
        derive_key_id(u->key_id[i], u->repo_key[i]);
    }
    u->repository = mi_xstrdup(expect->repository);
    u->environment = dup_or_null(expect->environment);
    u->head_sha = dup_or_null(expect->head_sha);
    u->config_fingerprint = dup_or_null(expect->config_fingerprint);
    u->pr = expect->pr;
    u->sink = sink;
    u->sink_ctx = sink_ctx;
    u->hdr = mi_xmalloc(MI_SEAL_PREFIX_LEN + MI_SEAL_MAX_BINDING + MI_SEAL_STREAM_HEADER_LEN);
    u->sha = sha256_new();
    mi_unsealer_reset(u);
    *out = u;
    return 0;
}

void mi_unsealer_reset(struct mi_unsealer *u)
{
    u->phase = U_HEADER;
    u->failed_code = 0;
    u->hdr_have = 0;
    u->hdr_need = MI_SEAL_PREFIX_LEN;
    mi_seal_binding_release(&u->header.binding);
    memset(&u->header, 0, sizeof(u->header));
    u->have_binding = 0;
    u->cbuf_len = 0;
    u->chunk_index = 0;
    u->offset = 0;
    EVP_DigestInit_ex(u->sha, EVP_sha256(), NULL);
}

static int mismatch(struct mi_unsealer *u, const char *field, const char *got, const char *want)
{
    return fail(u, mi_error_set(MI_EREFUSED,
                                "sealed plan: binding mismatch: %s is '%s', expected '%s'", field,
                                got, want));
}

static int check_expectations(struct mi_unsealer *u)
{
    const struct mi_seal_binding *b = &u->header.binding;
    if (strcmp(b->repository, u->repository) != 0)
        return mismatch(u, "repository", b->repository, u->repository);
    if (u->environment && strcmp(b->environment, u->environment) != 0)
        return mismatch(u, "environment", b->environment, u->environment);
    if (u->pr && b->pr != u->pr)
        return fail(u, mi_error_set(MI_EREFUSED,
                                    "sealed plan: binding mismatch: pr is %lld, expected %lld",
                                    b->pr, u->pr));
    if (u->head_sha && strcmp(b->head_sha, u->head_sha) != 0)
        return mismatch(u, "head_sha", b->head_sha, u->head_sha);
    if (u->config_fingerprint && strcmp(b->config_fingerprint, u->config_fingerprint) != 0)
        return fail(u, mi_error_set(MI_EREFUSED,
                                    "sealed plan: binding mismatch: config_fingerprint is '%s', "
                                    "expected '%s' (the configuration changed after the plan "
                                    "was made)",
                                    b->config_fingerprint, u->config_fingerprint));
    return 0;
}

/* Every chunk but the last holds chunk_size plaintext bytes; the last holds the rest, which
 * is shorter (possibly empty), so the plan length in the header fixes every boundary. */
static size_t chunk_ct_len(const struct mi_unsealer *u)
{
    if (u->chunk_index < u->final_index)
        return (size_t)u->header.chunk_size + MI_SEAL_CHUNK_OVERHEAD;
    return (size_t)(u->header.plain_len % u->header.chunk_size) + MI_SEAL_CHUNK_OVERHEAD;
}

/* The header is complete: parse it, check it against the expectations, pick the key. */
static int header_done(struct mi_unsealer *u)
{
    int rc = mi_seal_header_parse(&u->header, u->hdr, u->hdr_have);
    if (rc < 0)
        return fail(u, rc);
    if ((rc = check_expectations(u)) < 0)
        return rc;
    int which = -1;
    for (int i = 0; i < u->key_count; i++)
        if (sodium_memcmp(u->key_id[i], u->header.key_id, MI_SEAL_KEY_ID_LEN) == 0)
            which = i;
    if (which < 0) {
        char got[2 * MI_SEAL_KEY_ID_LEN + 1], cur[2 * MI_SEAL_KEY_ID_LEN + 1],
            prev[2 * MI_SEAL_KEY_ID_LEN + 1] = "";
        hex_encode(got, u->header.key_id, MI_SEAL_KEY_ID_LEN);
        hex_encode(cur, u->key_id[0], MI_SEAL_KEY_ID_LEN);
        if (u->key_count > 1)
            hex_encode(prev, u->key_id[1], MI_SEAL_KEY_ID_LEN);
        return fail(u, mi_error_set(MI_EREFUSED,
                                    "sealed plan: key: sealed with a key this run does not have "
                                    "(key id %s; MLINFRA_PLAN_KEY gives %s%s%s for '%s'): "
                                    "wrong MLINFRA_PLAN_KEY (after a rotation the old key goes in "
                                    "MLINFRA_PLAN_KEY_PREVIOUS until its plans are applied), "
                                    "or the key id was altered",
                                    got, cur,
                                    u->key_count > 1 ? ", MLINFRA_PLAN_KEY_PREVIOUS gives " : "",
                                    prev, u->repository));
    }
    if (crypto_secretstream_xchacha20poly1305_init_pull(
            &u->ss, u->hdr + u->header.header_len - MI_SEAL_STREAM_HEADER_LEN,
            u->repo_key[which]) != 0)
        return fail(u, mi_error_set(MI_EREFUSED, "sealed plan: header: invalid stream header"));
    u->final_index = u->header.plain_len / u->header.chunk_size;
    u->total =
        mi_seal_sealed_size(u->header.plain_len, u->header.binding_len, u->header.chunk_size);
    u->ct_len = chunk_ct_len(u);
    free(u->cbuf);
    if (u->plain)
        sodium_memzero(u->plain, u->plain_cap);
    free(u->plain);
    u->cbuf = mi_xmalloc((size_t)u->header.chunk_size + MI_SEAL_CHUNK_OVERHEAD);
    u->plain_cap = u->header.chunk_size;
    u->plain = mi_xmalloc(u->plain_cap);
    u->phase = U_CHUNKS;
    return 0;
}

static int open_chunk(struct mi_unsealer *u)
{
    unsigned long long plen = 0;
    unsigned char tag = 0;
    const unsigned char *ad = u->chunk_index == 0 ? u->hdr : NULL;
    size_t adlen = u->chunk_index == 0 ? u->header.header_len - MI_SEAL_STREAM_HEADER_LEN : 0;
    uint64_t start = u->offset - u->cbuf_len;
    int is_final = u->chunk_index == u->final_index;
    if (crypto_secretstream_xchacha20poly1305_pull(&u->ss, u->plain, &plen, &tag, u->cbuf,
                                                   u->cbuf_len, ad, adlen) != 0) {
        if (u->chunk_index == 0)
            return fail(u,
                        mi_error_set(MI_EREFUSED,
                                     "sealed plan: chunk 0%s (sealed bytes %llu..%llu), which also "
                                     "authenticates the header and the binding, does not verify: "
                                     "the header, the binding or the chunk was altered",
                                     is_final ? ", the final chunk" : "", (unsigned long long)start,
                                     (unsigned long long)u->offset));
        return fail(u,
                    mi_error_set(MI_EREFUSED,
                                 "sealed plan: %schunk %llu (sealed bytes %llu..%llu) does "
                                 "not verify: it was altered",
                                 is_final ? "the final " : "", (unsigned long long)u->chunk_index,
                                 (unsigned long long)start, (unsigned long long)u->offset));
    }
    int got_final = tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL;
    if (got_final != is_final ||
        (!got_final && tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE))
        return fail(u, mi_error_set(MI_EREFUSED,
                                    "sealed plan: chunk %llu carries tag %u where the %s tag "
                                    "belongs: the stream was cut or reordered",
                                    (unsigned long long)u->chunk_index, tag,
                                    is_final ? "final" : "message"));
    u->chunk_index++;
    u->cbuf_len = 0;
    if (got_final)
        u->phase = U_FINAL;
    else
        u->ct_len = chunk_ct_len(u);
    if (u->chunk_index == 1)
        u->have_binding = 1;
    EVP_DigestUpdate(u->sha, u->plain, plen);
    if (plen && u->sink) {
        int rc = u->sink(u->sink_ctx, u->plain, plen);
        if (rc < 0)
            return fail(u, rc);
    }
    return 0;
}

int mi_unsealer_write(struct mi_unsealer *u, const void *data, size_t len)
{
    const unsigned char *p = data;
    while (len) {
        switch (u->phase) {
        case U_FAILED:
            return u->failed_code;
        case U_FINAL:
            return fail(u, mi_error_set(MI_EREFUSED,
                                        "sealed plan: data after the final chunk: the header "
                                        "announces %llu bytes, more arrived (bytes were "
                                        "appended)",
                                        (unsigned long long)u->total));
        case U_HEADER: {
            size_t n = u->hdr_need - u->hdr_have;
            if (n > len)
                n = len;
            memcpy(u->hdr + u->hdr_have, p, n);
            u->hdr_have += n;
            u->offset += n;
            p += n;
            len -= n;
            if (u->hdr_have < u->hdr_need)
                break;
            if (u->hdr_need == MI_SEAL_PREFIX_LEN) {
                size_t total = 0;
                int rc = mi_seal_header_length(&total, u->hdr, u->hdr_have);
                if (rc < 0)
                    return fail(u, rc);
                u->hdr_need = total;
                break;
            }
            int rc = header_done(u);
            if (rc < 0)
                return rc;
            break;
        }
        case U_CHUNKS: {
            size_t n = u->ct_len - u->cbuf_len;
            if (n > len)
                n = len;
            memcpy(u->cbuf + u->cbuf_len, p, n);
            u->cbuf_len += n;
            u->offset += n;
            p += n;
            len -= n;
            if (u->cbuf_len == u->ct_len) {
                int rc = open_chunk(u);
                if (rc < 0)
                    return rc;
            }
            break;
        }
        }
    }
    return u->phase == U_FAILED ? u->failed_code : 0;
}

int mi_unsealer_finish(struct mi_unsealer *u)
{
    if (u->phase == U_FAILED)
        return u->failed_code;
    if (u->phase == U_HEADER) {
        if (u->hdr_have == 0)
            return fail(u, mi_error_set(MI_EREFUSED, "sealed plan: empty (no header)"));
        return fail(u,
                    mi_error_set(MI_EREFUSED, "sealed plan: header: truncated (%zu of %zu bytes)",
                                 u->hdr_have, u->hdr_need));
    }
    if (u->phase == U_CHUNKS)
        return fail(u, mi_error_set(MI_EREFUSED,
                                    "sealed plan: truncated: %llu of the %llu bytes the header "
                                    "announces (the data ends inside chunk %llu; the final "
                                    "chunk is %llu)",
                                    (unsigned long long)u->offset, (unsigned long long)u->total,
                                    (unsigned long long)u->chunk_index,
                                    (unsigned long long)u->final_index));
    char got[65];
    EVP_MD_CTX *c = sha256_new();
    EVP_MD_CTX_copy_ex(c, u->sha);
    sha256_hex(got, c);
    EVP_MD_CTX_free(c);
    if (strcmp(got, u->header.binding.plan_sha256) != 0)
        return fail(u, mi_error_set(MI_EREFUSED,
                                    "sealed plan: plan_sha256 does not match: the plan inside "
                                    "hashes to %s, the binding says %s",
                                    got, u->header.binding.plan_sha256));
    return 0;
}

const struct mi_seal_binding *mi_unsealer_binding(const struct mi_unsealer *u)
{
    return u->have_binding ? &u->header.binding : NULL;
}

void mi_unsealer_free(struct mi_unsealer *u)
{
    if (!u)
        return;
    sodium_memzero(u->repo_key, sizeof(u->repo_key));
    sodium_memzero(&u->ss, sizeof(u->ss));
    if (u->plain)
        sodium_memzero(u->plain, u->plain_cap);
    mi_seal_binding_release(&u->header.binding);
    free(u->repository);
    free(u->environment);
    free(u->head_sha);
    free(u->config_fingerprint);
    free(u->hdr);
    free(u->cbuf);
    free(u->plain);
    EVP_MD_CTX_free(u->sha);
    free(u);
}

/* ============================================================================================
 * The output file
 * ========================================================================================== */

struct mi_seal_output {
    char *path;
    char *tmp;
    int fd;
    int committed;
};

int mi_seal_output_open(struct mi_seal_output **out, const char *path)
{
    *out = NULL;
    struct mi_seal_output *o = mi_xcalloc(1, sizeof(*o));
    o->path = mi_xstrdup(path);
    o->tmp = mi_xasprintf("%s.partial-XXXXXX", path);
    o->fd = mkostemp(o->tmp, O_CLOEXEC);
    if (o->fd < 0) {
        int rc = mi_error_errno(MI_ERR, "cannot create a temporary file next to '%s'", path);
        free(o->tmp);
        o->tmp = NULL;
        mi_seal_output_free(o);
        return rc;
    }
    /* A plan holds secrets: owner-only, whatever the umask. */
    fchmod(o->fd, 0600);
    *out = o;
    return 0;
}

int mi_seal_output_write(void *ctx, const void *data, size_t len)
{
    struct mi_seal_output *o = ctx;
    if (write_full(o->fd, data, len) < 0)
        return mi_error_errno(MI_ERR, "cannot write '%s'", o->tmp);
    return 0;
}

int mi_seal_output_truncate(struct mi_seal_output *o)
{
    if (ftruncate(o->fd, 0) < 0 || lseek(o->fd, 0, SEEK_SET) < 0)
        return mi_error_errno(MI_ERR, "cannot truncate '%s'", o->tmp);
    return 0;
}

int mi_seal_output_commit(struct mi_seal_output *o)
{
    if (fsync(o->fd) < 0)
        return mi_error_errno(MI_ERR, "cannot sync '%s'", o->tmp);
    if (close(o->fd) < 0) {
        o->fd = -1;
        return mi_error_errno(MI_ERR, "cannot close '%s'", o->tmp);
    }
    o->fd = -1;
    if (rename(o->tmp, o->path) < 0)
        return mi_error_errno(MI_ERR, "cannot rename '%s' to '%s'", o->tmp, o->path);
    o->committed = 1;
    return 0;
}

void mi_seal_output_free(struct mi_seal_output *o)
{
    if (!o)
        return;
    if (o->fd >= 0)
        close(o->fd);
    if (o->tmp && !o->committed)
        unlink(o->tmp);
    free(o->tmp);
    free(o->path);
    free(o);
}

/* ============================================================================================
 * Whole files
 * ========================================================================================== */

int mi_seal_file(const struct mi_seal_keyring *keys, struct mi_seal_binding *binding,
                 const char *plan_path, const char *sealed_path)
{
    struct mi_sealer *s = NULL;
    struct mi_seal_output *o = NULL;
    unsigned char *buf = NULL;
    int rc = 0;
    int fd = open(plan_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mi_error_errno(errno == ENOENT ? MI_ENOTFOUND : MI_ERR, "cannot open '%s'",
                              plan_path);
    if (!binding->plan_sha256) {
        char hex[65];
        if ((rc = mi_seal_sha256_fd(hex, fd, plan_path)) < 0)
            goto done;
        binding->plan_sha256 = mi_xstrdup(hex);
    }
    if ((rc = mi_sealer_new(&s, keys, binding, fd)) < 0)
        goto done;
    if ((rc = mi_seal_output_open(&o, sealed_path)) < 0)
        goto done;
    buf = mi_xmalloc(256 * 1024);
    for (;;) {
        size_t got = 0;
        if ((rc = mi_sealer_read(s, buf, 256 * 1024, &got)) < 0)
            goto done;
        if (got == 0)
            break;
        if ((rc = mi_seal_output_write(o, buf, got)) < 0)
            goto done;
    }
    rc = mi_seal_output_commit(o);
done:
    free(buf);
    mi_seal_output_free(o);
    mi_sealer_free(s);
    close(fd);
    return rc;
}

int mi_unseal_file(const struct mi_seal_keyring *keys, const struct mi_seal_expect *expect,
                   const char *sealed_path, const char *plan_path,
                   struct mi_seal_binding *binding_out)
{
    struct mi_unsealer *u = NULL;
    struct mi_seal_output *o = NULL;
    unsigned char *buf = NULL;
    int rc = 0;
    if (binding_out)
        memset(binding_out, 0, sizeof(*binding_out));
    int fd = open(sealed_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mi_error_errno(errno == ENOENT ? MI_ENOTFOUND : MI_ERR, "cannot open '%s'",
                              sealed_path);
    if ((rc = mi_seal_output_open(&o, plan_path)) < 0)
        goto done;
    if ((rc = mi_unsealer_new(&u, keys, expect, mi_seal_output_write, o)) < 0)
        goto done;
    buf = mi_xmalloc(256 * 1024);
    for (;;) {
        ssize_t n = read(fd, buf, 256 * 1024);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = mi_error_errno(MI_ERR, "cannot read '%s'", sealed_path);
            goto done;
        }
        if (n == 0)
            break;
        if ((rc = mi_unsealer_write(u, buf, (size_t)n)) < 0)
            goto done;
    }
    if ((rc = mi_unsealer_finish(u)) < 0)
        goto done;
    if ((rc = mi_seal_output_commit(o)) < 0)
        goto done;
    if (binding_out)
        mi_seal_binding_copy(binding_out, mi_unsealer_binding(u));
done:
    free(buf);
    mi_unsealer_free(u);
    mi_seal_output_free(o);
    close(fd);
    return rc;
}
