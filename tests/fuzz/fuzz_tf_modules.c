/* libFuzzer target: the module-block scanners for .tf and .tf.json text (context/modules.h),
 * which read files a pull request can change. Seeds: tests/fuzz/corpus/fuzz_tf_modules/. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "context/modules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_source(void *ctx, const char *source, int line)
{
    size_t *count = ctx;
    (*count)++;
    if (line < 0 || !source)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t count = 0;
    mi_modules_scan_tf((const char *)data, size, on_source, &count);
    mi_modules_scan_tf_json((const char *)data, size, on_source, &count);
    return 0;
}
