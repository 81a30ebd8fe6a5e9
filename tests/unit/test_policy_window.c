/* policy: change windows (window.h): the file's syntax and its errors, evaluation in time
 * zones (DST, rules past midnight, freezes by date, allow rules), and when a window opens. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/window.h"
#include "util/error.h"

static struct mi_window_set *parse(const char *yaml)
{
    struct mi_window_set *set = NULL;
    int rc = mi_window_parse(&set, "cw.yml", yaml, strlen(yaml));
    cr_assert_eq(rc, 0, "%s", mi_error_last());
    return set;
}

static void parse_fails(const char *yaml, const char *message)
{
    struct mi_window_set *set = NULL;
    int rc = mi_window_parse(&set, "cw.yml", yaml, strlen(yaml));
    cr_assert_eq(rc, MI_EUSAGE, "parsed, but should not:\n%s", yaml);
    cr_assert_null(set);
    cr_assert(strstr(mi_error_last(), message), "'%s' not in '%s'", message, mi_error_last());
}

static int64_t at(const char *iso)
{
    int64_t t;
    cr_assert_eq(mi_window_parse_instant(&t, iso), 0, "%s", mi_error_last());
    return t;
}

/* 1 open, 0 closed; fills *first_hit with the first closing rule's name when closed. */
static int open_at(const struct mi_window_set *set, const char *env, const char *iso,
                   char *first_hit, size_t len, int64_t *opens)
{
    struct mi_window_report r;
    cr_assert_eq(mi_window_evaluate(&r, set, env, at(iso)), 0);
    cr_assert(r.evaluated);
    int open = r.open;
    if (first_hit && len)
        snprintf(first_hit, len, "%s", r.nhits ? r.hits[0].name : "");
    if (opens)
        *opens = r.opens_at;
    mi_window_report_release(&r);
    return open;
}

static const char *friday = "version: 1\n"
                            "timezone: Europe/Amsterdam\n"
                            "windows:\n"
                            "  - name: no-friday\n"
                            "    environments: [production]\n"
                            "    days: [fri]\n"
                            "    message: Not on Fridays.\n";

Test(policy_window, friday_in_amsterdam_is_closed_whatever_utc_says)
{
    struct mi_window_set *set = parse(friday);
    char hit[64];
    int64_t opens;
    /* 2025-11-21 is a Friday; Amsterdam is UTC+1 in November */
    cr_assert_eq(open_at(set, "production", "2025-11-20T23:30:00Z", hit, sizeof(hit), &opens), 0);
    cr_assert_str_eq(hit, "no-friday");
    cr_assert_eq(opens, at("2025-11-21T23:00:00Z"), "opens at midnight Amsterdam time");
    cr_assert_eq(open_at(set, "production", "2025-11-21T23:30:00Z", NULL, 0, NULL), 1);
    cr_assert_eq(open_at(set, "production", "2025-11-20T22:30:00Z", NULL, 0, NULL), 1);
    cr_assert_eq(open_at(set, "dev", "2025-11-21T10:00:00Z", NULL, 0, NULL), 1,
                 "other environments are not concerned");
    mi_window_set_free(set);
}

Test(policy_window, times_past_midnight_belong_to_the_day_they_start)
{
    struct mi_window_set *set = parse("windows:\n"
                                      "  - name: nights\n"
                                      "    days: [mon-thu]\n"
                                      "    from: \"18:00\"\n"
                                      "    until: \"08:00\"\n"
                                      "    timezone: Europe/Amsterdam\n");
    cr_assert_eq(open_at(set, "any", "2025-11-18T18:00:00Z", NULL, 0, NULL), 0, "Tue 19:00");
    cr_assert_eq(open_at(set, "any", "2025-11-19T06:00:00Z", NULL, 0, NULL), 0, "Wed 07:00");
    cr_assert_eq(open_at(set, "any", "2025-11-21T06:00:00Z", NULL, 0, NULL), 0,
                 "Fri 07:00 is still Thursday night");
    cr_assert_eq(open_at(set, "any", "2025-11-17T06:00:00Z", NULL, 0, NULL), 1,
                 "Mon 07:00 follows Sunday, which is not listed");
    cr_assert_eq(open_at(set, "any", "2025-11-19T12:00:00Z", NULL, 0, NULL), 1, "Wed 13:00");
    mi_window_set_free(set);
}

Test(policy_window, local_times_follow_daylight_saving)
{
    struct mi_window_set *set = parse("timezone: Europe/Amsterdam\n"
                                      "windows:\n"
                                      "  - name: evenings\n"
                                      "    from: \"18:00\"\n");
    /* CEST (UTC+2) in July, CET (UTC+1) in January */
    cr_assert_eq(open_at(set, "x", "2025-07-01T16:30:00Z", NULL, 0, NULL), 0, "18:30 CEST");
    cr_assert_eq(open_at(set, "x", "2025-07-01T15:30:00Z", NULL, 0, NULL), 1, "17:30 CEST");
    cr_assert_eq(open_at(set, "x", "2025-01-15T17:30:00Z", NULL, 0, NULL), 0, "18:30 CET");
    cr_assert_eq(open_at(set, "x", "2025-01-15T16:30:00Z", NULL, 0, NULL), 1, "17:30 CET");
    mi_window_set_free(set);
}

Test(policy_window, freezes_between_dates_include_a_date_only_end_day)
{
    struct mi_window_set *set = parse("windows:\n"
                                      "  - name: year-end\n"
                                      "    environments: [\"*\"]\n"
                                      "    start: 2025-12-19T17:00\n"
                                      "    end: 2026-01-05\n"
                                      "    timezone: America/New_York\n");
    int64_t opens;
    cr_assert_eq(open_at(set, "staging", "2025-12-19T21:59:00Z", NULL, 0, NULL), 1,
                 "16:59 in New York");
    cr_assert_eq(open_at(set, "staging", "2025-12-19T22:00:00Z", NULL, 0, &opens), 0);
    cr_assert_eq(opens, -1, "more than 14 days away");
    cr_assert_eq(open_at(set, "production", "2026-01-06T04:59:00Z", NULL, 0, &opens), 0,
                 "23:59 on the 5th in New York");
    cr_assert_eq(opens, at("2026-01-06T05:00:00Z"));
    cr_assert_eq(open_at(set, "production", "2026-01-06T05:00:00Z", NULL, 0, NULL), 1);
    mi_window_set_free(set);
}

Test(policy_window, allow_rules_close_everything_else)
{
    struct mi_window_set *set = parse("windows:\n"
                                      "  - name: office-hours\n"
                                      "    action: allow\n"
                                      "    environments: [staging]\n"
                                      "    days: [mon-fri]\n"
                                      "    from: \"09:00\"\n"
                                      "    until: \"17:00\"\n"
                                      "    message: Staging is deployed in office hours.\n");
    struct mi_window_report r;
    cr_assert_eq(mi_window_evaluate(&r, set, "staging", at("2025-11-22T10:00:00Z")), 0);
    cr_assert_eq(r.open, 0, "Saturday");
    cr_assert_eq(r.nhits, 1);
    cr_assert_str_eq(r.hits[0].action, "allow");
    cr_assert_str_eq(r.hits[0].message, "Staging is deployed in office hours.");
    cr_assert_eq(r.opens_at, at("2025-11-24T09:00:00Z"), "Monday morning");
    mi_window_report_release(&r);
    cr_assert_eq(open_at(set, "staging", "2025-11-19T10:00:00Z", NULL, 0, NULL), 1);
    cr_assert_eq(open_at(set, "production", "2025-11-22T10:00:00Z", NULL, 0, NULL), 1);
    mi_window_set_free(set);
}

Test(policy_window, no_environment_means_not_evaluated)
{
    struct mi_window_set *set = parse(friday);
    struct mi_window_report r;
    cr_assert_eq(mi_window_evaluate(&r, set, NULL, at("2025-11-21T10:00:00Z")), 0);
    cr_assert_eq(r.evaluated, 0);
    cr_assert_eq(r.open, 1);
    mi_window_report_release(&r);
    mi_window_set_free(set);
}

Test(policy_window, bad_files_are_rejected_with_their_line)
{
    parse_fails("windows:\n  - name: a\n    dayz: [fri]\n", "cw.yml:3: unknown key 'dayz'");
    parse_fails("windows:\n  - name: a\n    days: [fryday]\n", "cw.yml:3: days: 'fryday'");
    parse_fails("windows:\n  - name: a\n    from: \"25:00\"\n", "cw.yml:3: from: '25:00'");
    parse_fails("windows:\n  - name: a\n    days: [fri]\n    timezone: Mars/Olympus\n",
                "cw.yml:4: timezone: 'Mars/Olympus'");
    parse_fails("timezone: ../../etc/passwd\nwindows: []\n", "cw.yml:1: timezone");
    parse_fails("windows:\n  - name: a\n    start: 2025-02-01\n    end: 2025-01-01\n",
                "end is not after start");
    parse_fails("windows:\n  - name: a\n    start: 2025-02-30\n", "start: '2025-02-30'");
    parse_fails("windows:\n  - name: a\n    days: [fri]\n  - name: a\n    days: [mon]\n",
                "cw.yml:4: rule name 'a' is used twice");
    parse_fails("windows:\n  - days: [fri]\n", "a rule needs a name");
    parse_fails("windows:\n  - name: a\n    environments: [prod]\n", "says nothing about when");
    parse_fails("windows:\n  - name: a\n    action: maybe\n    days: [fri]\n", "action: 'maybe'");
    parse_fails("windows: {a: 1}\n", "windows: expected a list");
    parse_fails("windows:\n  - [1, 2]\n", "each rule must be a mapping");
    parse_fails("version: 2\n", "version");
    parse_fails("windows:\n  - name: a\n  days: [fri\n", "cw.yml:");
    parse_fails("stuff: 1\n", "unknown key 'stuff'");
}

Test(policy_window, an_empty_file_has_no_rules)
{
    struct mi_window_set *set = parse("");
    cr_assert_eq(mi_window_set_rules(set), 0);
    cr_assert_eq(open_at(set, "production", "2025-11-21T10:00:00Z", NULL, 0, NULL), 1);
    mi_window_set_free(set);
}

Test(policy_window, instants_parse_as_iso_8601)
{
    cr_assert_eq(at("2025-11-21T10:00:00Z"), 1763719200);
    cr_assert_eq(at("2025-11-21T11:00:00+01:00"), 1763719200);
    cr_assert_eq(at("2025-11-21T05:00:00-0500"), 1763719200);
    cr_assert_eq(at("2025-11-21 10:00:00.250Z"), 1763719200);
    cr_assert_eq(at("2025-11-21T10:00"), 1763719200, "no offset is UTC");
    cr_assert_eq(at("2025-11-21"), 1763683200);
    cr_assert_eq(at("@1763719200"), 1763719200);
    int64_t t;
    cr_assert_eq(mi_window_parse_instant(&t, "friday"), MI_EUSAGE);
    cr_assert(strstr(mi_error_last(), "'friday'"));
    cr_assert_eq(mi_window_parse_instant(&t, "2025-13-01T00:00Z"), MI_EUSAGE);
    cr_assert_eq(mi_window_parse_instant(&t, "2025-11-21T10:00:00+25:00"), MI_EUSAGE);
}

Test(policy_window, the_clock_can_be_fixed)
{
    int64_t t;
    setenv("MLINFRA_NOW", "2025-11-21T10:00:00Z", 1);
    cr_assert_eq(mi_window_now(&t, NULL), 0);
    cr_assert_eq(t, 1763719200);
    cr_assert_eq(mi_window_now(&t, "2025-11-22T10:00:00Z"), 0, "the override wins");
    cr_assert_eq(t, 1763719200 + 86400);
    setenv("MLINFRA_NOW", "soon", 1);
    cr_assert_eq(mi_window_now(&t, NULL), MI_EUSAGE);
    cr_assert(strstr(mi_error_last(), "MLINFRA_NOW"), "%s", mi_error_last());
    unsetenv("MLINFRA_NOW");
    cr_assert_eq(mi_window_now(&t, NULL), 0);
    cr_assert_gt(t, 1763719200);
}

Test(policy_window, evaluation_leaves_tz_as_it_was)
{
    setenv("TZ", "Asia/Tokyo", 1);
    struct mi_window_set *set = parse(friday);
    open_at(set, "production", "2025-11-21T10:00:00Z", NULL, 0, NULL);
    cr_assert_str_eq(getenv("TZ"), "Asia/Tokyo");
    mi_window_set_free(set);
    unsetenv("TZ");
}
