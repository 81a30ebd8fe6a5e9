/* libFuzzer target: the mlinfra.yml parser (context/config.h). Seeds:
 * tests/fuzz/corpus/fuzz_config/. */
#include <git2.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "context/config.h"
#include "context/path.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int initialised;
    if (!initialised) {
        git_libgit2_init(); /* branch-name checks use libgit2's ref rules */
        initialised = 1;
    }
    struct mi_config *cfg = NULL;
    if (mi_config_parse(&cfg, (const char *)data, size, "fuzz.yml") == 0) {
        /* What the rest of the agent relies on: valid names, paths inside the repository. */
        for (size_t i = 0; i < cfg->nenvs; i++) {
            const struct mi_config_env *e = &cfg->envs[i];
            if (!mi_path_env_name_valid(e->name) || e->directory[0] == '/' ||
                strstr(e->directory, "..") == e->directory)
                __builtin_trap();
        }
        mi_config_free(cfg);
    }
    mi_error_clear();
    return 0;
}
