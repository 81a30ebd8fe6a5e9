/* Fuzzes the part of a sealed plan anyone can write: the header and its JSON binding, parsed
 * without a key, then the whole input pushed through the streaming unsealer (with a fixed
 * key) in two pieces split at an input-chosen point. Nothing may crash, leak or read out of
 * bounds, and a binding that parses must re-encode to exactly its own bytes (one binding, one
 * encoding). Seeds: tests/fuzz/corpus/fuzz_sealed_header/. */
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/seal.h"
#include "util/buf.h"

/* The seeds are sealed for acme/infra with this key (32 bytes of 0x01; not a secret). */
#define FUZZ_KEY "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    static struct mi_seal_keyring keys;
    if (!ready) {
        if (sodium_init() < 0 || mi_seal_keyring_from_base64(&keys, FUZZ_KEY, NULL) < 0)
            abort();
        ready = 1;
    }

    struct mi_seal_header h;
    if (mi_seal_header_parse(&h, data, size) == 0) {
        mi_buf json = MI_BUF_INIT;
        if (mi_seal_binding_to_json(&json, &h.binding) != 0 || json.len != h.binding_len ||
            memcmp(json.ptr, data + h.binding_offset, json.len) != 0)
            abort();
        if (h.header_len > size || h.binding_offset + h.binding_len > h.header_len)
            abort();
        mi_buf_release(&json);
        mi_seal_binding_release(&h.binding);
    }

    struct mi_seal_expect expect = {"acme/infra", NULL, 0, NULL, NULL};
    struct mi_unsealer *u = NULL;
    if (mi_unsealer_new(&u, &keys, &expect, NULL, NULL) != 0)
        abort();
    size_t split = size ? data[size - 1] % (size + 1) : 0;
    if (mi_unsealer_write(u, data, split) == 0 &&
        mi_unsealer_write(u, data + split, size - split) == 0)
        mi_unsealer_finish(u);
    mi_unsealer_free(u);
    return 0;
}
