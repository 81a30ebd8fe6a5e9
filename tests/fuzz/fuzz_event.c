/* libFuzzer target: the event payload parser (context/context.h). The first byte picks the
 * event name the payload is read as (or none, to exercise the inference); the rest is the
 * payload. Seeds: tests/fuzz/corpus/fuzz_event/ (the recorded payloads of
 * tests/fixtures/events, each behind the byte that picks its event: 1 pull_request, 2 push,
 * 3 workflow_dispatch, 0 inferred). */
#include <git2.h>
#include <stddef.h>
#include <stdint.h>

#include "context/context.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int initialised;
    static const char *const names[] = {
        NULL, "pull_request", "push", "workflow_dispatch", "pull_request_target", "schedule"};
    if (!initialised) {
        git_libgit2_init(); /* branch-name checks use libgit2's ref rules */
        initialised = 1;
    }
    if (size < 1)
        return 0;
    const char *name = names[data[0] % (sizeof(names) / sizeof(names[0]))];
    struct mi_context *ctx = NULL;
    if (mi_context_parse_event(&ctx, name, (const char *)data + 1, size - 1, "fuzz.json") == 0) {
        /* What the rest of the agent relies on: validated fields. */
        if (ctx->branch && !mi_context_branch_valid(ctx->branch))
            __builtin_trap();
        if (ctx->head_sha && !mi_context_sha_valid(ctx->head_sha))
            __builtin_trap();
        mi_context_free(ctx);
    }
    mi_error_clear();
    return 0;
}
