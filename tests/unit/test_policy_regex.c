/* policy: the regular expressions of feature files (regex.h) behave as Python's `re`. */
#include <criterion/criterion.h>
#include <string.h>

#include "policy/regex.h"
#include "util/buf.h"
#include "util/error.h"

static int m(const char *pattern, const char *subject, int flags)
{
    return mi_regex_match_once(pattern, subject, strlen(subject), flags);
}

Test(policy_regex, matches_like_python_re_match)
{
    cr_assert_eq(m("^Standard_D(2|4|8)s_v5$", "Standard_D4s_v5", 0), 1);
    cr_assert_eq(m("^Standard_D(2|4|8)s_v5$", "Standard_E16s_v5", 0), 0);
    cr_assert_eq(m("abc", "xabc", 0), 0, "re.match is anchored at the start");
    cr_assert_eq(m("a.c", "a\nc", 0), 0);
    cr_assert_eq(m("a.c", "a\nc", MI_RE_DOTALL), 1);
    cr_assert_eq(m("PRIVATE", "private", MI_RE_IGNORECASE), 1);
    cr_assert_eq(m("PRIVATE", "private", 0), 0);
    cr_assert_eq(m("^(on)$|^([4-9]|\\d{2,})$", "12", 0), 1);
    cr_assert_eq(m("(?P<x>ab)(?P=x)", "abab", 0), 1);
    cr_assert_eq(m("(a)\\1", "aa", 0), 1);
    cr_assert_eq(m("foo(?=bar)", "foobar", 0), 1);
    cr_assert_eq(m("foo(?!bar)", "foobar", 0), 0);
    cr_assert_eq(m("(?<=a)b", "ab", 0), 0, "lookbehind cannot match at position 0");
    cr_assert_eq(m("a{,", "a{,", 0), 1, "a '{' that is no quantifier is literal");
    cr_assert_eq(m("x{2,3}$", "xxx", 0), 1);
    cr_assert_eq(m("\\Aa\\Z", "a", 0), 1);
    cr_assert_eq(m("(?i)abc", "ABC", 0), 1);
    cr_assert_eq(m(".*\\.a$", "aws_s3_bucket.a", 0), 1);
    cr_assert_eq(m("\\\"x\\\"", "\"x\"", 0), 1, "an escaped quote is a quote");
    cr_assert_eq(m("caf.", "café", 0), 1, "a dot is a whole UTF-8 character");
}

Test(policy_regex, search_finds_groups)
{
    mi_regex *re = NULL;
    const char *pat = "its (?P<key>\\w+) is (?P<value>.+)";
    cr_assert_eq(mi_regex_compile(&re, pat, strlen(pat), 0), 0);
    cr_assert_eq(mi_regex_groups(re), 2);
    cr_assert_eq(mi_regex_group_index(re, "value"), 2);
    mi_regex_span sp[3];
    const char *s = "When its acl is private";
    cr_assert_eq(mi_regex_exec(re, s, strlen(s), 0, 0, sp), 1);
    cr_assert_eq(sp[1].start, 9);
    cr_assert_eq(sp[1].end, 12);
    cr_assert_eq(sp[2].end, (long)strlen(s));
    mi_regex_free(re);
}

Test(policy_regex, bad_patterns_are_errors_with_the_pattern)
{
    mi_regex *re = NULL;
    cr_assert_lt(mi_regex_compile(&re, "(unclosed", 9, 0), 0);
    cr_assert(strstr(mi_error_last(), "(unclosed"), "%s", mi_error_last());
    cr_assert_lt(mi_regex_compile(&re, "*x", 2, 0), 0);
    cr_assert_lt(mi_regex_match_once("[z-a]", "b", 1, 0), 0);
}

Test(policy_regex, catastrophic_backtracking_runs_out_of_budget)
{
    char subject[64];
    memset(subject, 'a', sizeof(subject) - 2);
    subject[sizeof(subject) - 2] = 'b';
    subject[sizeof(subject) - 1] = '\0';
    int rc = m("^(a+)+$", subject, 0);
    cr_assert_eq(rc, MI_REGEX_EBUDGET);
}

Test(policy_regex, escape_is_python_re_escape)
{
    mi_buf b = MI_BUF_INIT;
    mi_regex_escape(&b, "eu-west-1.a*b", 13);
    cr_assert_str_eq(b.ptr, "eu\\-west\\-1\\.a\\*b");
    mi_buf_release(&b);
}
