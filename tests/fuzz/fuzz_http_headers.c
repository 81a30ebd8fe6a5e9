/* Fuzzes the header parsing the GitHub client does on what a server sends: the Link header
 * (pagination), Retry-After and the x-ratelimit-* pair, and the rate-limit classification.
 * The input is split at NUL bytes into a Link value, a Retry-After value, remaining, reset and
 * a body; each parse must terminate without a memory error, and a next URL must be a
 * substring of the Link value without spaces or control characters. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "remote/github.h"
#include "remote/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    const char *field[5] = {"", "", "", "", ""};
    size_t nf = 0;
    const char *p = copy;
    while (nf < 5) {
        field[nf++] = p;
        size_t len = strlen(p);
        if (p + len >= copy + size)
            break;
        p += len + 1;
    }

    char *next = mi_github_link_next(field[0]);
    if (next) {
        if (!strstr(field[0], next))
            abort();
        for (const char *q = next; *q; q++)
            if ((unsigned char)*q <= 0x20 || *q == 0x7f)
                abort();
        free(next);
    }

    struct mi_http_header headers[3] = {
        {(char *)"retry-after", (char *)field[1]},
        {(char *)"x-ratelimit-remaining", (char *)field[2]},
        {(char *)"x-ratelimit-reset", (char *)field[3]},
    };
    struct mi_http_response r = MI_HTTP_RESPONSE_INIT;
    r.status = size > 0 && (data[0] & 1) ? 429 : 403;
    r.headers = headers;
    r.headers_len = 3;
    /* The body is borrowed for the duration; the response is not released. */
    r.body.ptr = (char *)field[4];
    r.body.len = strlen(field[4]);
    long d = mi_github_rate_limit_delay_ms(&r, 1700000000LL);
    if (d < -1 || d > 86400000L)
        abort();
    (void)mi_github_is_rate_limited(&r);
    (void)mi_github_body_chars(copy, size);
    free(copy);
    return 0;
}
