#include "github_double.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PORT_ENV "MI_TEST_GITHUB_PORT"

/* The double started by mi_test_github_share_begin, owned by the runner process. */
static struct mi_test_server *shared_server;

static size_t collect(char *data, size_t size, size_t nmemb, void *userp)
{
    mi_buf_add(userp, data, size * nmemb);
    return size * nmemb;
}

static long admin_at(int port, const char *method, const char *path, const char *json_body,
                     mi_buf *body_out)
{
    char *url = mi_xasprintf("http://127.0.0.1:%d/_double/%s", port, path);
    mi_buf body = MI_BUF_INIT;
    char err[CURL_ERROR_SIZE] = "";
    CURL *c = curl_easy_init();
    cr_assert(c != NULL, "curl_easy_init failed");
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 60000L);
    if (json_body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, json_body);
    CURLcode res = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    cr_assert(res == CURLE_OK, "github double: %s %s: %s", method, url,
              err[0] ? err : curl_easy_strerror(res));
    free(url);
    if (body_out)
        mi_buf_add(body_out, body.ptr, body.len);
    mi_buf_release(&body);
    return status;
}

static struct mi_test_server *spawn(void)
{
    char *script = mi_test_path("tests/doubles/github/server.js");
    char *openapi =
        mi_test_path("tests/node_modules/@octokit/openapi/generated/api.github.com.json");
    cr_assert(access(openapi, R_OK) == 0,
              "%s is missing: run `npm ci` in tests/ (the README's test command does)", openapi);
    const char *argv[] = {"node", script, "--port", "{PORT}", NULL};
    struct mi_test_server *s = mi_test_server_start("github-double", argv);
    free(script);
    free(openapi);
    /* Compile every validator now, so no test's first request pays for it. */
    mi_buf out = MI_BUF_INIT;
    long st = admin_at(s->port, "GET", "ready", NULL, &out);
    cr_assert_eq(st, 200, "github double not ready: %ld %s", st, out.ptr);
    mi_buf_release(&out);
    return s;
}

struct mi_test_github *mi_test_github_start(void)
{
    struct mi_test_github *g = mi_xcalloc(1, sizeof(*g));
    const char *env = getenv(PORT_ENV);
    char *end = NULL;
    long port = env ? strtol(env, &end, 10) : 0;
    if (env && end && *end == '\0' && port > 0 && port < 65536) {
        g->port = (int)port;
    } else {
        g->server = spawn();
        g->port = g->server->port;
    }
    g->url = mi_xasprintf("http://127.0.0.1:%d", g->port);
    long st = admin_at(g->port, "POST", "reset", "{}", NULL);
    cr_assert_eq(st, 200, "github double: reset answered %ld", st);
    return g;
}

void mi_test_github_stop(struct mi_test_github *g)
{
    if (!g)
        return;
    mi_test_server_stop(g->server);
    free(g->url);
    free(g);
}

void mi_test_github_share_begin(void)
{
    if (shared_server)
        return;
    shared_server = spawn();
    char port[16];
    snprintf(port, sizeof(port), "%d", shared_server->port);
    setenv(PORT_ENV, port, 1);
}

void mi_test_github_share_end(void)
{
    unsetenv(PORT_ENV);
    mi_test_server_stop(shared_server);
    shared_server = NULL;
}

long mi_test_github_admin(struct mi_test_github *g, const char *method, const char *path,
                          const char *json_body, mi_buf *body_out)
{
    return admin_at(g->port, method, path, json_body, body_out);
}

void mi_test_github_seed(struct mi_test_github *g, const char *json)
{
    mi_buf out = MI_BUF_INIT;
    long st = admin_at(g->port, "POST", "seed", json, &out);
    cr_assert_eq(st, 200, "github double refused the seed (%ld): %s", st, out.ptr);
    mi_buf_release(&out);
}

void mi_test_github_seed_default(struct mi_test_github *g)
{
    mi_test_github_seed(
        g, "{\"users\":[{\"login\":\"" MI_TEST_GITHUB_USER "\",\"type\":\"User\"}],"
           "\"tokens\":["
           "{\"token\":\"" MI_TEST_GITHUB_TOKEN "\",\"login\":\"" MI_TEST_GITHUB_BOT "\","
           "\"installation\":true,\"permissions\":{\"contents\":\"read\",\"issues\":\"write\","
           "\"pull_requests\":\"write\",\"deployments\":\"write\",\"metadata\":\"read\"}},"
           "{\"token\":\"" MI_TEST_GITHUB_USER_TOKEN "\",\"login\":\"" MI_TEST_GITHUB_USER "\"},"
           "{\"token\":\"" MI_TEST_GITHUB_READONLY_TOKEN "\",\"login\":\"" MI_TEST_GITHUB_BOT "\","
           "\"installation\":true,\"permissions\":{\"contents\":\"read\",\"issues\":\"read\","
           "\"pull_requests\":\"read\",\"metadata\":\"read\"}}],"
           "\"repos\":[{\"full_name\":\"" MI_TEST_GITHUB_REPO "\",\"default_branch\":\"main\","
           "\"branches\":{\"main\":\"" MI_TEST_GITHUB_BASE_SHA
           "\",\"dev\":\"" MI_TEST_GITHUB_BASE_SHA "\"},"
           "\"pulls\":[{\"number\":1,\"title\":\"Scale the MLflow nodes\",\"user\":\"octocat\","
           "\"head_ref\":\"feature-1\",\"head_sha\":\"" MI_TEST_GITHUB_HEAD_SHA "\","
           "\"base_ref\":\"dev\",\"base_sha\":\"" MI_TEST_GITHUB_BASE_SHA "\"}]}]}");
}

void mi_test_github_fail(struct mi_test_github *g, const char *json)
{
    mi_buf out = MI_BUF_INIT;
    long st = admin_at(g->port, "POST", "fail", json, &out);
    cr_assert_eq(st, 200, "github double refused the fault (%ld): %s", st, out.ptr);
    mi_buf_release(&out);
}

json_t *mi_test_github_get(struct mi_test_github *g, const char *what)
{
    mi_buf out = MI_BUF_INIT;
    long st = admin_at(g->port, "GET", what, NULL, &out);
    cr_assert_eq(st, 200, "github double: GET /_double/%s answered %ld: %s", what, st, out.ptr);
    json_error_t err;
    json_t *j = json_loadb(out.ptr, out.len, 0, &err);
    cr_assert(j != NULL, "github double: /_double/%s is not JSON: %s", what, err.text);
    mi_buf_release(&out);
    return j;
}

size_t mi_test_github_count(struct mi_test_github *g, const char *method, const char *path_part)
{
    json_t *reqs = mi_test_github_get(g, "requests");
    size_t n = 0, i;
    json_t *r;
    json_array_foreach(reqs, i, r)
    {
        const char *m = json_string_value(json_object_get(r, "method"));
        const char *p = json_string_value(json_object_get(r, "path"));
        if (method && (!m || strcmp(m, method) != 0))
            continue;
        if (path_part && (!p || !strstr(p, path_part)))
            continue;
        n++;
    }
    json_decref(reqs);
    return n;
}

void mi_test_github_assert_conforming(struct mi_test_github *g)
{
    json_t *v = mi_test_github_get(g, "violations");
    json_t *viol = json_object_get(v, "violations");
    json_t *resp = json_object_get(v, "response_errors");
    if (json_array_size(viol) || json_array_size(resp)) {
        char *text = json_dumps(v, JSON_INDENT(2));
        cr_assert_fail("the GitHub double recorded %zu request violation(s) and %zu response "
                       "error(s):\n%s",
                       json_array_size(viol), json_array_size(resp), text ? text : "?");
        free(text);
    }
    json_decref(v);
}
