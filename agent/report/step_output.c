/*
 * step_output.c - $GITHUB_OUTPUT writing with random heredoc delimiters.
 */
#include "report/step_output.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/fs.h"
#include "util/banned.h"

static int name_valid(const char *name)
{
    if (!*name || strlen(name) > 100)
        return 0;
    for (const char *p = name; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static void random_delimiter(char *out, size_t size)
{
    unsigned char raw[16];
    if (sodium_init() < 0)
        abort(); /* no randomness source: nothing safe to do */
    randombytes_buf(raw, sizeof(raw));
    char hex[2 * sizeof(raw) + 1];
    sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
    snprintf(out, size, "ghadelimiter_%s", hex);
}

int mi_step_output_add(mi_buf *out, const char *name, const char *value)
{
    if (!name_valid(name))
        return mi_error_set(MI_EUSAGE, "step output: '%s' is not an output name", name);
    if (!strchr(value, '\n') && !strchr(value, '\r')) {
        mi_buf_addf(out, "%s=%s\n", name, value);
        return 0;
    }
    char delim[64];
    do {
        random_delimiter(delim, sizeof(delim));
    } while (strstr(value, delim));
    /* The runner takes the lines between the markers; the newline before the closing
     * marker is not part of the value. */
    mi_buf_addf(out, "%s<<%s\n%s\n%s\n", name, delim, value, delim);
    return 0;
}

int mi_step_output_write(const char *path, const mi_buf *text)
{
    int rc = mi_fs_append_file(path, text->ptr, text->len);
    if (rc)
        mi_error_prefix("step output");
    return rc;
}
