/*
 * expiry.c - the age of a sealed plan and the rule that refuses old ones (expiry.h).
 */
#include "store/expiry.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/duration.h"
#include "util/error.h"
#include "util/banned.h"

static int parse_time(const char *s, long long *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *end = s ? strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm) : NULL;
    if (!end || *end)
        return -1;
    *out = (long long)timegm(&tm);
    return 0;
}

int mi_expiry_check(struct mi_expiry *out, const char *created_at, long long max_age_s,
                    long long now_s)
{
    memset(out, 0, sizeof(*out));
    out->max_age_s = max_age_s == 0 ? MI_EXPIRY_DEFAULT_MAX_AGE_S : max_age_s;
    if (parse_time(created_at, &out->created_s) < 0)
        return mi_error_set(MI_EREFUSED,
                            "the plan's creation time '%.64s' is not of the form "
                            "YYYY-MM-DDTHH:MM:SSZ, so its age cannot be told",
                            created_at ? created_at : "(none)");
    out->age_s = now_s - out->created_s;
    if (out->age_s < -MI_EXPIRY_MAX_SKEW_S)
        return mi_error_set(MI_EREFUSED,
                            "the plan's creation time %s is %lld seconds ahead of "
                            "this runner's clock",
                            created_at, -out->age_s);
    out->expired = out->max_age_s >= 0 && out->age_s > out->max_age_s;
    return 0;
}

void mi_expiry_format_age(mi_buf *out, long long s)
{
    if (s < 0)
        s = 0;
    long long d = s / 86400, h = (s % 86400) / 3600, m = (s % 3600) / 60;
    if (d) {
        mi_buf_addf(out, "%lld day%s", d, d == 1 ? "" : "s");
        if (h && d < 3)
            mi_buf_addf(out, " %lld hour%s", h, h == 1 ? "" : "s");
    } else if (h) {
        mi_buf_addf(out, "%lld hour%s", h, h == 1 ? "" : "s");
    } else if (m) {
        mi_buf_addf(out, "%lld minute%s", m, m == 1 ? "" : "s");
    } else {
        mi_buf_addf(out, "%lld second%s", s, s == 1 ? "" : "s");
    }
}

int mi_expiry_enforce(const char *created_at, long long max_age_s, long long now_s,
                      const char *environment, long long pr, const char *head_sha)
{
    struct mi_expiry e;
    int rc = mi_expiry_check(&e, created_at, max_age_s, now_s);
    if (rc < 0)
        return rc;
    if (!e.expired)
        return 0;
    mi_buf age = MI_BUF_INIT, limit = MI_BUF_INIT, what = MI_BUF_INIT;
    mi_expiry_format_age(&age, e.age_s);
    mi_expiry_format_age(&limit, e.max_age_s);
    mi_buf_adds(&what, "the plan");
    if (environment)
        mi_buf_addf(&what, " for environment '%s'", environment);
    if (pr > 0)
        mi_buf_addf(&what, " of pull request #%lld", pr);
    if (head_sha)
        mi_buf_addf(&what, " (commit %.7s)", head_sha);
    rc = mi_error_set(MI_EREFUSED,
                      "%s was made %s ago (%s); plans older than %s are not "
                      "applied: re-plan by pushing a commit to the pull request or "
                      "re-running its plan job, then merge again",
                      what.ptr, age.ptr, created_at, limit.ptr);
    mi_buf_release(&age);
    mi_buf_release(&limit);
    mi_buf_release(&what);
    return rc;
}

int mi_expiry_parse_duration(long long *out, const char *text)
{
    if (text && strcmp(text, "never") == 0) {
        *out = -1;
        return 0;
    }
    int rc = mi_duration_parse(out, text);
    if (rc < 0)
        mi_error_prefix("plan age");
    return rc;
}
