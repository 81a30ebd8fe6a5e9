/*
 * duration.c - "7d", "36h", "90m", "600s" into seconds (duration.h).
 */
#include "util/duration.h"

#include <errno.h>
#include <stdlib.h>

#include "util/error.h"
#include "util/banned.h"

int mi_duration_parse(long long *out_s, const char *text)
{
    *out_s = 0;
    if (!text || !*text)
        return mi_error_set(MI_EUSAGE, "an empty duration (want e.g. 7d, 36h, 90m or 600s)");
    char *end = NULL;
    errno = 0;
    long long n = strtoll(text, &end, 10);
    long long unit = 1;
    if (end && *end && !end[1]) {
        switch (*end) {
        case 'd':
            unit = 86400;
            break;
        case 'h':
            unit = 3600;
            break;
        case 'm':
            unit = 60;
            break;
        case 's':
            unit = 1;
            break;
        default:
            unit = 0;
        }
        end++;
    }
    if (errno || end == text || !end || *end || unit == 0 || text[0] < '0' || text[0] > '9' ||
        n <= 0 || n > 100LL * 365 * 86400 / unit)
        return mi_error_set(MI_EUSAGE,
                            "'%.64s' is not a duration (want a positive number with "
                            "d, h, m or s, e.g. 7d)",
                            text);
    *out_s = n * unit;
    return 0;
}
