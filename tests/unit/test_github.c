/* The GitHub client's parsing of what GitHub sends back in headers, and of comment lengths:
 * no server involved. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "remote/github.h"
#include "util/error.h"

static void expect_next(const char *link, const char *want)
{
    char *got = mi_github_link_next(link);
    if (want) {
        cr_assert_not_null(got, "no next in: %s", link);
        cr_assert_str_eq(got, want, "link: %s", link);
    } else {
        cr_assert_null(got, "next '%s' found in: %s", got ? got : "", link);
    }
    free(got);
}

Test(github_link, finds_next_among_githubs_relations)
{
    expect_next("<https://api.github.com/repositories/1/issues/1/comments?page=2>; rel=\"next\", "
                "<https://api.github.com/repositories/1/issues/1/comments?page=5>; rel=\"last\"",
                "https://api.github.com/repositories/1/issues/1/comments?page=2");
    expect_next("<https://x/?page=1>; rel=\"prev\", <https://x/?page=3>; rel=\"next\", "
                "<https://x/?page=5>; rel=\"last\", <https://x/?page=1>; rel=\"first\"",
                "https://x/?page=3");
    /* Unquoted, upper case, extra parameters, several relation types, odd spacing. */
    expect_next("<https://x/?p=2>;rel=NEXT", "https://x/?p=2");
    expect_next("<https://x/?p=2> ; title=\"a, b; c\" ; rel=\"last next\"", "https://x/?p=2");
    expect_next("  ,  <https://x/?p=2>; rel=next  ,", "https://x/?p=2");
}

Test(github_link, says_no_next_when_there_is_none_or_it_is_malformed)
{
    expect_next(NULL, NULL);
    expect_next("", NULL);
    expect_next("<https://x/?page=1>; rel=\"prev\", <https://x/?page=1>; rel=\"first\"", NULL);
    expect_next("<https://x/?page=2>; rel=\"nextpage\"", NULL);
    expect_next("https://x/?page=2; rel=\"next\"", NULL);
    expect_next("<https://x/?page=2; rel=\"next\"", NULL);
    expect_next("<https://x/?page=2>; rel=\"next", NULL);
    expect_next("<>; rel=\"next\"", NULL);
    expect_next("<https://x/a b>; rel=\"next\"", NULL);
    expect_next("<https://x/\r\nX-Evil: 1>; rel=\"next\"", NULL);
    expect_next("<https://x/>; rel=\"next\" junk", NULL);
}

static struct mi_http_response response(long status, const char *const *headers, const char *body)
{
    struct mi_http_response r = MI_HTTP_RESPONSE_INIT;
    r.status = status;
    size_t n = 0;
    while (headers && headers[n])
        n += 2;
    r.headers = mi_xcalloc(n / 2 + 1, sizeof(*r.headers));
    for (size_t i = 0; i < n; i += 2) {
        r.headers[r.headers_len].name = mi_xstrdup(headers[i]);
        r.headers[r.headers_len].value = mi_xstrdup(headers[i + 1]);
        r.headers_len++;
    }
    if (body)
        mi_buf_adds(&r.body, body);
    return r;
}

Test(github_rate_limit, reads_retry_after_and_the_reset_time)
{
    const char *h1[] = {"retry-after", "30", NULL};
    struct mi_http_response r = response(403, h1, "{\"message\":\"secondary rate limit\"}");
    cr_assert_eq(mi_github_rate_limit_delay_ms(&r, 1000), 30000);
    cr_assert_eq(mi_github_is_rate_limited(&r), 1);
    mi_http_response_release(&r);

    const char *h2[] = {"x-ratelimit-remaining", "0", "x-ratelimit-reset", "1060", NULL};
    r = response(403, h2, "{\"message\":\"API rate limit exceeded\"}");
    cr_assert_eq(mi_github_rate_limit_delay_ms(&r, 1000), 60000);
    /* A reset already past (clock skew) still waits a moment. */
    cr_assert_eq(mi_github_rate_limit_delay_ms(&r, 2000), 1000);
    cr_assert_eq(mi_github_is_rate_limited(&r), 1);
    mi_http_response_release(&r);

    const char *h3[] = {"x-ratelimit-remaining", "12", "x-ratelimit-reset", "1060", NULL};
    r = response(403, h3, "{\"message\":\"Resource not accessible by integration\"}");
    cr_assert_eq(mi_github_rate_limit_delay_ms(&r, 1000), -1);
    cr_assert_eq(mi_github_is_rate_limited(&r), 0, "a permission 403 taken for a rate limit");
    mi_http_response_release(&r);

    const char *h4[] = {"x-ratelimit-remaining", "0", "x-ratelimit-reset", "soon", NULL};
    r = response(429, h4, NULL);
    cr_assert_eq(mi_github_rate_limit_delay_ms(&r, 1000), -1);
    cr_assert_eq(mi_github_is_rate_limited(&r), 1);
    mi_http_response_release(&r);

    const char *h5[] = {"x-ratelimit-remaining", "-0", "x-ratelimit-reset", "99999999999999999999",
                        NULL};
    r = response(403, h5, NULL);
    cr_assert_eq(mi_github_rate_limit_delay_ms(&r, 1000), -1);
    mi_http_response_release(&r);
}

Test(github_body, counts_characters_not_bytes_and_rejects_bad_utf8)
{
    cr_assert_eq(mi_github_body_chars("", 0), 0);
    cr_assert_eq(mi_github_body_chars("abc", 3), 3);
    cr_assert_eq(mi_github_body_chars("\xc3\xa9t\xc3\xa9", 5), 3);
    cr_assert_eq(mi_github_body_chars("\xe2\x82\xac", 3), 1);
    cr_assert_eq(mi_github_body_chars("\xf0\x9f\x9a\x80", 4), 1);
    cr_assert_eq(mi_github_body_chars("\xff", 1), -1);
    cr_assert_eq(mi_github_body_chars("\xc3", 1), -1);
    cr_assert_eq(mi_github_body_chars("\xc0\xaf", 2), -1);         /* overlong '/' */
    cr_assert_eq(mi_github_body_chars("\xed\xa0\x80", 3), -1);     /* a surrogate */
    cr_assert_eq(mi_github_body_chars("\xf4\x90\x80\x80", 4), -1); /* past U+10FFFF */
}

Test(github_options, refuses_what_cannot_work)
{
    mi_github *gh = NULL;
    struct mi_github_options o = {0};
    o.repository = "octo-org/infra";
    cr_assert_eq(mi_github_new(&gh, &o), MI_EUSAGE);
    cr_assert(strstr(mi_error_last(), "GITHUB_TOKEN"), "%s", mi_error_last());
    o.token = "ghs_x\r\nX-Injected: 1";
    cr_assert_eq(mi_github_new(&gh, &o), MI_EUSAGE);
    o.token = "ghs_x";
    o.repository = "octo-org";
    cr_assert_eq(mi_github_new(&gh, &o), MI_EUSAGE);
    o.repository = "octo-org/../x";
    cr_assert_eq(mi_github_new(&gh, &o), MI_EUSAGE);
    o.repository = "octo-org/infra";
    o.api_url = "ftp://example.com";
    cr_assert_eq(mi_github_new(&gh, &o), MI_EUSAGE);
    o.api_url = "https://ghe.example.com/api/v3//";
    cr_assert_eq(mi_github_new(&gh, &o), 0, "%s", mi_error_last());
    cr_assert_str_eq(mi_github_api_url(gh), "https://ghe.example.com/api/v3");
    cr_assert_str_eq(mi_github_repository(gh), "octo-org/infra");
    mi_github_free(gh);
    mi_github_free(NULL);
}
