/* store/expiry: plans older than the configured age are refused at apply with a message to
 * re-plan; the clock is fixed by the test. */
#include <criterion/criterion.h>
#include <string.h>

#include "store/expiry.h"
#include "util/error.h"

TestSuite(expiry);

/* 2025-01-31T12:00:00Z */
#define CREATED "2025-01-31T12:00:00Z"
#define CREATED_S 1738324800LL
#define DAY 86400LL

Test(expiry, fresh_plan_is_not_expired)
{
    struct mi_expiry e;
    cr_assert_eq(mi_expiry_check(&e, CREATED, 0, CREATED_S + 3600), 0, "%s", mi_error_last());
    cr_assert_eq(e.created_s, CREATED_S);
    cr_assert_eq(e.age_s, 3600);
    cr_assert_eq(e.max_age_s, MI_EXPIRY_DEFAULT_MAX_AGE_S);
    cr_assert_not(e.expired);
    cr_assert_eq(mi_expiry_enforce(CREATED, 0, CREATED_S + 3600, "dev", 12, NULL), 0);
}

Test(expiry, default_limit_is_seven_days_exclusive)
{
    struct mi_expiry e;
    cr_assert_eq(mi_expiry_check(&e, CREATED, 0, CREATED_S + 7 * DAY), 0);
    cr_assert_not(e.expired, "exactly seven days is still fresh (same rule as store prune)");
    cr_assert_eq(mi_expiry_check(&e, CREATED, 0, CREATED_S + 7 * DAY + 1), 0);
    cr_assert(e.expired);
}

Test(expiry, expired_plan_is_refused_with_a_message_to_replan)
{
    int rc = mi_expiry_enforce(CREATED, 0, CREATED_S + 8 * DAY + 5 * 3600, "dev", 12,
                               "1a2b3c4d5e6f7081920a1b2c3d4e5f6071829304");
    cr_assert_eq(rc, MI_EREFUSED);
    cr_assert_eq(mi_error_exit_code(rc), MI_EXIT_REFUSED);
    cr_assert_str_eq(mi_error_last(),
                     "the plan for environment 'dev' of pull request #12 (commit 1a2b3c4) was "
                     "made 8 days ago (2025-01-31T12:00:00Z); plans older than 7 days are not "
                     "applied: re-plan by pushing a commit to the pull request or re-running its "
                     "plan job, then merge again");
}

Test(expiry, configured_limit_and_never)
{
    struct mi_expiry e;
    cr_assert_eq(mi_expiry_check(&e, CREATED, 2 * 3600, CREATED_S + 3 * 3600), 0);
    cr_assert(e.expired);
    cr_assert_eq(mi_expiry_enforce(CREATED, 2 * 3600, CREATED_S + 3 * 3600, NULL, 0, NULL),
                 MI_EREFUSED);
    cr_assert(strstr(mi_error_last(), "the plan was made 3 hours ago"), "%s", mi_error_last());
    cr_assert(strstr(mi_error_last(), "older than 2 hours"), "%s", mi_error_last());
    cr_assert_eq(mi_expiry_check(&e, CREATED, -1, CREATED_S + 3650 * DAY), 0);
    cr_assert_not(e.expired);
}

Test(expiry, unreadable_or_future_time_is_refused)
{
    struct mi_expiry e;
    const char *bad[] = {
        NULL, "", "2025-01-31", "2025-01-31T12:00:00", "2025-01-31T12:00:00Z ", "yesterday"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(mi_expiry_check(&e, bad[i], 0, CREATED_S), MI_EREFUSED, "accepted %s",
                     bad[i] ? bad[i] : "NULL");
        cr_assert(strstr(mi_error_last(), "age cannot be told"), "%s", mi_error_last());
    }
    /* A little skew between runners is fine; a day ahead is not. */
    cr_assert_eq(mi_expiry_check(&e, CREATED, 0, CREATED_S - 60), 0);
    cr_assert_not(e.expired);
    cr_assert_eq(mi_expiry_check(&e, CREATED, 0, CREATED_S - DAY), MI_EREFUSED);
    cr_assert(strstr(mi_error_last(), "ahead of this runner's clock"), "%s", mi_error_last());
}

Test(expiry, ages_read_well)
{
    struct {
        long long s;
        const char *want;
    } cases[] = {{0, "0 seconds"},
                 {1, "1 second"},
                 {59, "59 seconds"},
                 {60, "1 minute"},
                 {3599, "59 minutes"},
                 {3600, "1 hour"},
                 {DAY, "1 day"},
                 {DAY + 3 * 3600, "1 day 3 hours"},
                 {2 * DAY + 3600, "2 days 1 hour"},
                 {10 * DAY + 3600, "10 days"},
                 {-5, "0 seconds"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mi_buf b = MI_BUF_INIT;
        mi_expiry_format_age(&b, cases[i].s);
        cr_assert_str_eq(b.ptr, cases[i].want);
        mi_buf_release(&b);
    }
}

Test(expiry, durations_parse)
{
    long long v;
    struct {
        const char *text;
        long long want;
    } ok[] = {{"7d", 7 * DAY}, {"36h", 36 * 3600}, {"90m", 5400},
              {"600s", 600},   {"600", 600},       {"never", -1}};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        cr_assert_eq(mi_expiry_parse_duration(&v, ok[i].text), 0, "%s", mi_error_last());
        cr_assert_eq(v, ok[i].want, "%s", ok[i].text);
    }
    const char *bad[] = {"",   "0d", "-1d", "+1d",          " 7d", "7dd",
                         "7w", "d",  "7 d", "99999999999d", NULL};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(mi_expiry_parse_duration(&v, bad[i]), MI_EUSAGE, "accepted '%s'",
                     bad[i] ? bad[i] : "NULL");
    }
}
