#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd/cmd.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/log.h"

int mi_cmd_usage_error(const char *cmd, const char *fmt, ...)
{
    mi_buf b = MI_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    mi_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    mi_log_error("mlinfra %s: %s (see 'mlinfra %s --help')", cmd, b.ptr, cmd);
    mi_buf_release(&b);
    return MI_EXIT_USAGE;
}

int mi_cmd_fail(const char *cmd, int code)
{
    mi_log_error("mlinfra %s: %s", cmd, mi_error_last());
    return mi_error_exit_code(code);
}

const char *mi_cmd_env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

void mi_cmd_mask_secret_env(void)
{
    static const char *const secret_vars[] = {
        "GITHUB_TOKEN",      "MLINFRA_PLAN_KEY",        "MLINFRA_PLAN_KEY_PREVIOUS",
        "AZURE_STORAGE_KEY", "AZURE_STORAGE_SAS_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    };
    for (size_t i = 0; i < sizeof(secret_vars) / sizeof(secret_vars[0]); i++)
        mi_log_mask(mi_cmd_env(secret_vars[i]));
}

void mi_cmd_mask_secret(void *ctx, const char *secret)
{
    (void)ctx;
    mi_log_mask(secret);
}
