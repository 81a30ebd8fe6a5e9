/*
 * seal.h - sealed plans: a saved terraform plan encrypted, authenticated and bound to the
 * repository, environment, pull request and commit it was made for (DESIGN.md section 6).
 * The byte layout is specified in docs/sealed-plan-format.md; this module is its reference
 * implementation.
 *
 * Rules:
 *  - Memory does not grow with the plan: sealing reads the plan in fixed chunks (64 KiB) and
 *    produces sealed bytes on demand (mi_sealer, pulled by an uploader); unsealing takes
 *    sealed bytes as they arrive (mi_unsealer, pushed by a downloader) and hands verified
 *    plaintext chunks to a sink.
 *  - Unsealing refuses anything that does not verify - the header, the binding, the key, every
 *    chunk's tag, the final tag, the absence of bytes after it, the binding against what the
 *    caller expects and the plan's SHA-256 - with MI_EREFUSED and a message that names what
 *    did not match. Plaintext reaches the sink only after its chunk verified, but a stream can
 *    still fail at a later chunk: write it to an mi_seal_output (a temporary file renamed over
 *    the plan path only after mi_unsealer_finish succeeded) so nothing partial is ever left
 *    at the plan path.
 *  - Keys never appear in messages. A keyring holds the raw master keys; wipe it when done.
 *  - The binding is readable without a key (mi_seal_header_parse) and authenticated with it.
 *  - Strings in a binding are owned by it (mi_seal_binding_release frees them).
 *  - Nothing here prints, logs or reads the environment except mi_seal_keyring_from_env.
 */
#ifndef MI_SEAL_H
#define MI_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define MI_SEAL_VERSION 1
/* Plaintext bytes per chunk written by this implementation (readers accept 1 KiB..1 MiB). */
#define MI_SEAL_CHUNK_SIZE 65536u
/* Fixed part of the header: magic, version, chunk size, plan length, key id, binding length. */
#define MI_SEAL_PREFIX_LEN 36u
/* The longest binding a reader accepts. */
#define MI_SEAL_MAX_BINDING 16384u
/* libsodium's secretstream header, which follows the binding. */
#define MI_SEAL_STREAM_HEADER_LEN 24u
/* Bytes a chunk's ciphertext adds to its plaintext (encrypted tag + Poly1305 MAC). */
#define MI_SEAL_CHUNK_OVERHEAD 17u
#define MI_SEAL_KEY_ID_LEN 8u

/* What a sealed plan is bound to. Every string is required; pr >= 1. */
struct mi_seal_binding {
    char *repository;         /* "owner/name", as GITHUB_REPOSITORY */
    char *environment;        /* environment name */
    long long pr;             /* pull request number */
    char *head_sha;           /* the PR's head commit (40 or 64 lower-case hex digits) */
    char *config_fingerprint; /* fingerprint of the configuration that was planned */
    char *plan_sha256;        /* SHA-256 of the plain plan file, 64 lower-case hex digits */
    char *terraform_version;  /* "1.9.5" */
    char *created_at;         /* "2025-01-31T12:00:00Z" (UTC, seconds) */
};

void mi_seal_binding_release(struct mi_seal_binding *b);
/* Deep copy into out (caller releases). */
void mi_seal_binding_copy(struct mi_seal_binding *out, const struct mi_seal_binding *b);
/* Checks every field (presence, characters, lengths); MI_EUSAGE naming the field. */
int mi_seal_binding_validate(const struct mi_seal_binding *b);
/* Appends the canonical JSON: keys sorted, no whitespace (docs/sealed-plan-format.md). */
int mi_seal_binding_to_json(mi_buf *out, const struct mi_seal_binding *b);
/* Parses a binding, accepting only its canonical encoding and valid fields (MI_EREFUSED). */
int mi_seal_binding_parse(struct mi_seal_binding *out, const char *json, size_t len);
/* Fills created_at with the current UTC time. */
void mi_seal_binding_set_now(struct mi_seal_binding *b);
/* 1 when s is acceptable as the binding's repository ("owner/name"), environment, or
 * head_sha (40 or 64 lower-case hex digits); the same rules mi_seal_binding_validate applies,
 * for callers that build names from them. */
int mi_seal_valid_repository(const char *s);
int mi_seal_valid_environment(const char *s);
int mi_seal_valid_commit(const char *s);

/* The master keys: MLINFRA_PLAN_KEY and, during a rotation, MLINFRA_PLAN_KEY_PREVIOUS.
 * Sealing always uses the current key; unsealing accepts either. */
struct mi_seal_keyring {
    unsigned char master[2][32];
    int count; /* 1, or 2 with a previous key */
};

/* Decodes base64 (standard or URL-safe, padding optional, surrounding whitespace ignored)
 * of exactly 32 bytes. previous_b64 may be NULL or empty. MI_EUSAGE on a bad key; the
 * message names the variable, never the value. */
int mi_seal_keyring_from_base64(struct mi_seal_keyring *out, const char *current_b64,
                                const char *previous_b64);
/* Reads MLINFRA_PLAN_KEY and MLINFRA_PLAN_KEY_PREVIOUS (MI_EUSAGE when the first is unset). */
int mi_seal_keyring_from_env(struct mi_seal_keyring *out);
void mi_seal_keyring_wipe(struct mi_seal_keyring *k);

/* SHA-256 of everything readable from fd (from offset 0, with pread), as 64 hex digits. */
int mi_seal_sha256_fd(char hex_out[65], int fd, const char *what);

/* --- the header, readable without a key ------------------------------------------------ */

struct mi_seal_header {
    uint32_t version;
    uint32_t chunk_size;
    uint64_t plain_len; /* bytes of the plain plan */
    unsigned char key_id[MI_SEAL_KEY_ID_LEN];
    struct mi_seal_binding binding;
    size_t binding_offset; /* where the binding's JSON starts (MI_SEAL_PREFIX_LEN) */
    size_t binding_len;
    size_t header_len; /* bytes before the first chunk, stream header included */
};

/* From the first MI_SEAL_PREFIX_LEN bytes, the length of the whole header
 * (MI_EREFUSED when the prefix is not a sealed plan's). */
int mi_seal_header_length(size_t *out, const unsigned char *prefix, size_t len);
/* Parses a header from the start of data (MI_EREFUSED when truncated or malformed).
 * The caller releases out->binding. */
int mi_seal_header_parse(struct mi_seal_header *out, const unsigned char *data, size_t len);
/* Reads and parses the header of a sealed file. */
int mi_seal_header_read_file(struct mi_seal_header *out, const char *path);

/* Sealed size of a plan of plain_len bytes with a binding of binding_len bytes, in chunks of
 * chunk_size (MI_SEAL_CHUNK_SIZE when sealing). */
uint64_t mi_seal_sealed_size(uint64_t plain_len, size_t binding_len, uint32_t chunk_size);

/* --- sealing: pulled by whoever writes the sealed bytes ---------------------------------- */

struct mi_sealer;

/* Prepares to seal the regular file open at plan_fd (read with pread from offset 0; the
 * descriptor stays the caller's). The binding must be valid and carry the plan's SHA-256;
 * sealing fails if what it reads does not hash to it (the file changed). */
int mi_sealer_new(struct mi_sealer **out, const struct mi_seal_keyring *keys,
                  const struct mi_seal_binding *binding, int plan_fd);
/* Total bytes the sealer will produce. */
uint64_t mi_sealer_size(const struct mi_sealer *s);
/* Bytes produced so far. */
uint64_t mi_sealer_offset(const struct mi_sealer *s);
/* Copies up to len sealed bytes into buf; *got is 0 only at the end. */
int mi_sealer_read(struct mi_sealer *s, void *buf, size_t len, size_t *got);
/* Remembers the current position; mi_sealer_rewind returns to it (to the start when no mark
 * was set) and produces the very same bytes again, so a failed upload can be retried. */
void mi_sealer_mark(struct mi_sealer *s);
int mi_sealer_rewind(struct mi_sealer *s);
void mi_sealer_free(struct mi_sealer *s);

/* --- unsealing: pushed by whoever reads the sealed bytes --------------------------------- */

/* What the caller expects of the binding. repository is required; a NULL string or pr 0
 * means "any". */
struct mi_seal_expect {
    const char *repository;
    const char *environment;
    long long pr;
    const char *head_sha;
    const char *config_fingerprint;
};

/* Receives verified plaintext; returns 0 or a negative MI_E* code with the message set. */
typedef int (*mi_seal_sink_fn)(void *ctx, const void *data, size_t len);

struct mi_unsealer;

int mi_unsealer_new(struct mi_unsealer **out, const struct mi_seal_keyring *keys,
                    const struct mi_seal_expect *expect, mi_seal_sink_fn sink, void *sink_ctx);
/* Consumes sealed bytes in any pieces. */
int mi_unsealer_write(struct mi_unsealer *u, const void *data, size_t len);
/* The end of the sealed bytes: checks the final chunk, that nothing follows it and the
 * plan's SHA-256. Only after this returns 0 is the plaintext complete and genuine. */
int mi_unsealer_finish(struct mi_unsealer *u);
/* Starts over (a download being retried from its first byte). */
void mi_unsealer_reset(struct mi_unsealer *u);
/* The binding, once the header has been read and authenticated; NULL before (borrowed). */
const struct mi_seal_binding *mi_unsealer_binding(const struct mi_unsealer *u);
void mi_unsealer_free(struct mi_unsealer *u);

/* --- the plain plan's destination --------------------------------------------------------- */

/* A temporary file next to path (same directory, mode 0600) that becomes path only on
 * commit; freeing an uncommitted output removes the temporary file. */
struct mi_seal_output;

int mi_seal_output_open(struct mi_seal_output **out, const char *path);
/* An mi_seal_sink_fn: ctx is the mi_seal_output. */
int mi_seal_output_write(void *ctx, const void *data, size_t len);
/* Empties the temporary file (a retried download). */
int mi_seal_output_truncate(struct mi_seal_output *o);
/* fsync, then rename over path. */
int mi_seal_output_commit(struct mi_seal_output *o);
void mi_seal_output_free(struct mi_seal_output *o);

/* --- whole files ----------------------------------------------------------------------- */

/* Seals plan_path into sealed_path (written through a temporary file and renamed). When
 * binding->plan_sha256 is NULL it is computed first and stored in *binding. */
int mi_seal_file(const struct mi_seal_keyring *keys, struct mi_seal_binding *binding,
                 const char *plan_path, const char *sealed_path);
/* Unseals sealed_path into plan_path; nothing is written at plan_path unless everything
 * verified. binding_out (may be NULL) receives the binding (caller releases). */
int mi_unseal_file(const struct mi_seal_keyring *keys, const struct mi_seal_expect *expect,
                   const char *sealed_path, const char *plan_path,
                   struct mi_seal_binding *binding_out);

#endif
