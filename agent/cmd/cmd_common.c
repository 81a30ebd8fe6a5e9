#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd/cmd.h"
#include "remote/http.h"
#include "util/duration.h"
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

/* A duration variable (util/duration.h) into milliseconds; 0 when unset. */
static int env_duration_ms(long *out, const char *name)
{
    const char *v = mi_cmd_env(name);
    long long s = 0;
    *out = 0;
    if (!v)
        return 0;
    if (mi_duration_parse(&s, v) < 0 || s > 86400) {
        mi_log_error("mlinfra: %s='%s' is not a duration of at most a day (e.g. 30s, 5m)", name,
                     v);
        return -1;
    }
    *out = (long)s * 1000L;
    return 0;
}

int mi_cmd_http_limits_from_env(void)
{
    struct mi_http_limits l = {0, 0, 0};
    if (env_duration_ms(&l.timeout_ms, "MLINFRA_HTTP_TIMEOUT") < 0 ||
        env_duration_ms(&l.stall_timeout_ms, "MLINFRA_HTTP_STALL_TIMEOUT") < 0)
        return MI_EXIT_USAGE;
    const char *v = mi_cmd_env("MLINFRA_HTTP_RETRY_DELAY_MS");
    if (v) {
        char *end = NULL;
        errno = 0;
        long ms = strtol(v, &end, 10);
        if (errno || !end || *end || ms < 1 || ms > 600000) {
            mi_log_error("mlinfra: MLINFRA_HTTP_RETRY_DELAY_MS='%s' is not a number of "
                         "milliseconds from 1 to 600000",
                         v);
            return MI_EXIT_USAGE;
        }
        l.retry_delay_ms = ms;
    }
    mi_http_set_limits(&l);
    return 0;
}
