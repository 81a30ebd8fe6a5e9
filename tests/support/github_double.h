/*
 * github_double.h - the GitHub REST double (tests/doubles/github/server.js) for C tests.
 *
 * The double checks every API request against GitHub's OpenAPI description and records
 * violations; tests seed its state, inject faults and read back what it received through its
 * admin endpoints (/_double/...), which these functions wrap (libcurl, loopback only).
 * See tests/doubles/github/README.md for the seed and fault JSON formats.
 *
 * Starting node and loading the description takes about a second, so a test executable may
 * share one double across its tests: call mi_test_github_share_begin() from a
 * ReportHook(PRE_ALL) and mi_test_github_share_end() from a ReportHook(POST_ALL). Then
 * mi_test_github_start() in each test reuses it (found through MI_TEST_GITHUB_PORT) after a
 * reset; without the hooks every test starts its own. Tests of one executable run one at a
 * time (--jobs=1), so a shared double is never used by two tests at once.
 *
 * Every function aborts the test (cr_assert) when the double does not answer as expected.
 */
#ifndef MI_GITHUB_DOUBLE_H
#define MI_GITHUB_DOUBLE_H

#include <jansson.h>

#include "testsupport.h"

/* The default seed (mi_test_github_seed_default): */
#define MI_TEST_GITHUB_REPO "octo-org/infra"
/* An installation token like GITHUB_TOKEN: GET /user is 403, comments are by the bot. */
#define MI_TEST_GITHUB_TOKEN "ghs_double_actions_token_0123456789"
#define MI_TEST_GITHUB_BOT "github-actions[bot]"
/* A user's token (PAT): GET /user answers "mlinfra-bot". */
#define MI_TEST_GITHUB_USER_TOKEN "ghp_double_user_token_0123456789"
#define MI_TEST_GITHUB_USER "mlinfra-bot"
/* A token missing pull-requests/issues write (comments are refused with 403). */
#define MI_TEST_GITHUB_READONLY_TOKEN "ghs_double_readonly_token_0123456789"
/* Pull request #1: open, from feature-1 into dev, head MI_TEST_GITHUB_HEAD_SHA. */
#define MI_TEST_GITHUB_HEAD_SHA "1111111111111111111111111111111111111111"
#define MI_TEST_GITHUB_BASE_SHA "0000000000000000000000000000000000000001"

struct mi_test_github {
    struct mi_test_server *server; /* NULL when the double is shared */
    int port;
    char *url; /* "http://127.0.0.1:PORT", the API base URL */
};

/* A double with empty state (reset), ready to answer. */
struct mi_test_github *mi_test_github_start(void);
/* Stops an owned double, or only forgets a shared one. NULL is a no-op. */
void mi_test_github_stop(struct mi_test_github *g);

void mi_test_github_share_begin(void);
void mi_test_github_share_end(void);

/* One admin call; returns the HTTP status and, when body_out is not NULL, the answer. */
long mi_test_github_admin(struct mi_test_github *g, const char *method, const char *path,
                          const char *json_body, mi_buf *body_out);

void mi_test_github_seed(struct mi_test_github *g, const char *json);
/* Seeds the repository, tokens and pull request #1 described above. */
void mi_test_github_seed_default(struct mi_test_github *g);
/* Adds a fault: {"path": "/comments", "status": 500, "count": 1}, see the README. */
void mi_test_github_fail(struct mi_test_github *g, const char *json);

/* GET /_double/<what> parsed (state, requests, violations); caller decrefs. */
json_t *mi_test_github_get(struct mi_test_github *g, const char *what);

/* Number of recorded requests whose method is method (NULL: any) and whose path contains
 * path_part (NULL: any). */
size_t mi_test_github_count(struct mi_test_github *g, const char *method, const char *path_part);

/* Fails the test when the double recorded any request violation or any answer of its own that
 * did not match GitHub's response schemas, listing them. */
void mi_test_github_assert_conforming(struct mi_test_github *g);

#endif
