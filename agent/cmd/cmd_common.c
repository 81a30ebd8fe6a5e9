#include <stdarg.h>
#include <stdio.h>

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
