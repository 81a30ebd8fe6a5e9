/* The fault scenarios of issue 7: `mlinfra plan` and `mlinfra apply` run whole, as a workflow
 * runs them, with the plan store (Azurite) and GitHub (the double) each behind its own fault
 * proxy (tests/doubles/faultproxy), while the test's own checks go to the servers directly.
 *
 * The method (docs/hardening.md, "The scenario suite"): a clean run through pass-through
 * proxies lists the connections a command makes, each named by its request and answer lines
 * in the proxy's log (the agent opens one connection per request). Then, one fresh world per
 * scenario, connection k is faulted - its response reset midway, its request reset before the
 * server sees a byte, its response cut short by an orderly close, its response stalled until
 * the agent gives up on it - or, as an outage, every request from k on is reset. Each run is
 * then judged by what must hold whatever the network did:
 *
 *   1. it exits by itself with a documented code (plan 0/1; apply 0/1/4) and, when not 0,
 *      an error line says what failed (an endpoint, the store, GitHub, the lock ...);
 *   2. plan: a plan the log reports as sealed is in the store and verifies with the key and
 *      its binding; a comment reported posted is on the pull request; exit 0 means both;
 *   3. apply: terraform applied at most once, and only the plan that was sealed (the
 *      terraform double logs the SHA-256 of the plan file it is given); exit 0 means applied
 *      and marked so; a plan is marked applied only when terraform applied it;
 *   4. apply: the environment's lock is free once the process has exited - or, only when the
 *      run said that releasing it failed (an outage), held by a lease of fixed duration that
 *      ends by itself (the full form waits for that once per matrix);
 *   5. nothing observable is lost or doubled: at most one comment per pull request;
 *   6. one fault on one connection is absorbed by the agent's retries: the run exits 0.
 *
 * The short form (ctest) faults the connections of the requests that decide something -
 * upload, existence check, lease acquire and release, download, the applied mark, the
 * merged pull request, the comment - and its block upload and lease renewal; MI_FAULTS_FULL=1
 * faults every connection with every kind (scripts/faults.sh runs it and sums up). Each
 * scenario prints a "[faults] scenario ..." line, each matrix a "[faults] summary ..." line.
 * MI_FAULTS_K (a connection index) and MI_FAULTS_KIND (a kind) run only the scenarios that
 * match; MI_FAULTS_VERBOSE=1 prints every run's stderr.
 */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "azuretest.h"
#include "context/fingerprint.h"
#include "cycle.h"
#include "faultproxy_ctl.h"
#include "github_double.h"
#include "remote/azure_blob.h"
#include "remote/http.h"
#include "store/seal.h"
#include "store/store.h"
#include "testsupport.h"
#include "util/error.h"
#include "util/fs.h"

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    (void)set;
    mi_cycle_share_begin();
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    (void)stats;
    mi_cycle_share_end();
}

#define PR 7
#define MARKER "<!-- mlinfra:plan env=dev -->"

/* Every agent run gets small network limits (docs/usage.md, "Network limits"), so a stalled
 * answer costs about a second and a retry waits milliseconds. */
static const char *const run_env[] = {"MLINFRA_HTTP_STALL_TIMEOUT=1s",
                                      "MLINFRA_HTTP_RETRY_DELAY_MS=20", NULL};
/* A stall also gets a bound on the whole request: libcurl measures the stall limit as an
 * average over the last seconds, so after bytes have moved it takes up to six more seconds
 * to notice one (reported with issue 7). Requests here take milliseconds; one that takes a
 * second by bad luck is retried like the stalled one, and the checks still hold. */
static const char *const stall_env[] = {"MLINFRA_HTTP_STALL_TIMEOUT=1s",
                                        "MLINFRA_HTTP_RETRY_DELAY_MS=20", "MLINFRA_HTTP_TIMEOUT=1s",
                                        NULL};

static int full_form(void)
{
    const char *v = getenv("MI_FAULTS_FULL");
    return v && strcmp(v, "1") == 0;
}

static int verbose(void)
{
    const char *v = getenv("MI_FAULTS_VERBOSE");
    return v && strcmp(v, "1") == 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ==========================================================================================
 * The rig: a proxy in front of the shared Azurite, one in front of the shared GitHub double
 * ======================================================================================== */

struct rig {
    struct mi_faultproxy *az, *gh;
    char *az_endpoint; /* the proxy's URL with Azurite's account path */
};

static void rig_start(struct rig *g)
{
    cr_assert(sodium_init() >= 0);
    struct mi_test_github *d = mi_test_github_start();
    g->gh = mi_faultproxy_start(d->port);
    mi_test_github_stop(d);
    g->az = mi_faultproxy_start(mi_azuretest_port());
    g->az_endpoint = mi_xasprintf("%s/%s", mi_faultproxy_url(g->az), MI_AZURITE_ACCOUNT);
}

static void rig_stop(struct rig *g)
{
    mi_faultproxy_stop(g->az);
    mi_faultproxy_stop(g->gh);
    free(g->az_endpoint);
}

/* ==========================================================================================
 * The connections of a run, from the proxy's log
 * ======================================================================================== */

struct conn_seen {
    unsigned long id;
    char *request; /* "PUT /devstoreaccount1/c/o/r/dev/.lock?comp=lease HTTP/1.1" */
    char *answer;  /* "HTTP/1.1 201 Created", NULL when none came */
    char *label;   /* what kind of request: "PUT lease .lock -> 201" */
    unsigned long long up, down;
};

struct census {
    struct conn_seen *items;
    size_t n;
};

static void census_release(struct census *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->items[i].request);
        free(c->items[i].answer);
        free(c->items[i].label);
    }
    free(c->items);
    memset(c, 0, sizeof(*c));
}

static long log_size(const struct mi_faultproxy *p)
{
    struct stat st;
    return stat(mi_faultproxy_log_path(p), &st) == 0 ? (long)st.st_size : 0;
}

/* The object an Azure request is about. */
static const char *azure_object(const char *path)
{
    size_t len = strlen(path);
    if (len >= 6 && strcmp(path + len - 6, "/.lock") == 0)
        return ".lock";
    if (strstr(path, ".summary.json"))
        return "summary";
    if (strstr(path, ".tfplan.sealed"))
        return "plan";
    return NULL;
}

/* A name for what a request does, the same in every run: for Azure the operation (comp=,
 * restype=) and the object (the lock, a plan, its summary); for GitHub the path with its
 * numbers and commit ids as placeholders; then the answer's status. */
static char *request_label(const char *request, const char *answer)
{
    mi_buf b = MI_BUF_INIT;
    size_t mlen = strcspn(request, " ");
    mi_buf_add(&b, request, mlen);
    const char *url = request[mlen] ? request + mlen + 1 : "";
    char *u = mi_xstrndup(url, strcspn(url, " "));
    char *q = strchr(u, '?');
    if (q)
        *q++ = '\0';
    if (strncmp(u, "/" MI_AZURITE_ACCOUNT, strlen("/" MI_AZURITE_ACCOUNT)) == 0) {
        static const char *const ops[] = {"lease", "metadata", "blocklist", "block", "list", NULL};
        const char *op = NULL;
        for (size_t i = 0; q && ops[i] && !op; i++) {
            char *want = mi_xasprintf("comp=%s", ops[i]);
            for (const char *p = q; (p = strstr(p, want)); p++)
                if ((p == q || p[-1] == '&') && (p[strlen(want)] == '&' || !p[strlen(want)]))
                    op = ops[i];
            free(want);
        }
        if (!op && q && strstr(q, "restype=container"))
            op = "container";
        if (op)
            mi_buf_addf(&b, " %s", op);
        const char *obj = azure_object(u);
        if (obj)
            mi_buf_addf(&b, " %s", obj);
    } else {
        mi_buf_addch(&b, ' ');
        for (const char *p = u; *p;) {
            size_t digits = strspn(p, "0123456789");
            size_t hex = strspn(p, "0123456789abcdef");
            int start = p == u || p[-1] == '/';
            if (start && hex == 40) {
                mi_buf_adds(&b, "{sha}");
                p += hex;
            } else if (start && digits > 0 && (p[digits] == '/' || !p[digits])) {
                mi_buf_adds(&b, "{n}");
                p += digits;
            } else {
                mi_buf_addch(&b, *p++);
            }
        }
    }
    const char *sp = answer ? strchr(answer, ' ') : NULL;
    mi_buf_addf(&b, " -> %.3s", sp ? sp + 1 : "none");
    free(u);
    return mi_buf_detach(&b);
}

static struct conn_seen *census_entry(struct census *c, unsigned long id)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->items[i].id == id)
            return &c->items[i];
    c->items = mi_xrealloc(c->items, (c->n + 1) * sizeof(*c->items));
    struct conn_seen *s = &c->items[c->n++];
    memset(s, 0, sizeof(*s));
    s->id = id;
    return s;
}

static int by_id(const void *a, const void *b)
{
    const struct conn_seen *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* The connections the proxy logged after offset, in the order it accepted them. */
static void census_read(struct census *out, const struct mi_faultproxy *p, long offset)
{
    memset(out, 0, sizeof(*out));
    mi_buf log = MI_BUF_INIT;
    cr_assert_eq(mi_fs_read_file(&log, mi_faultproxy_log_path(p), 0), 0, "%s", mi_error_last());
    const char *line = log.ptr + (offset <= (long)log.len ? (size_t)offset : log.len);
    while (*line) {
        size_t len = strcspn(line, "\n");
        char *l = mi_xstrndup(line, len);
        line += len + (line[len] == '\n');
        unsigned long id = 0;
        int at = 0;
        if (sscanf(l, "faultproxy: conn %lu: %n", &id, &at) != 1 || at == 0) {
            free(l);
            continue;
        }
        const char *rest = l + at;
        unsigned long long up = 0, down = 0;
        size_t method = strspn(rest, "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
        if (sscanf(rest, "closed after %llu up and %llu down bytes", &up, &down) == 2) {
            struct conn_seen *s = census_entry(out, id);
            s->up = up;
            s->down = down;
        } else if (strncmp(rest, "answer ", 7) == 0) {
            struct conn_seen *s = census_entry(out, id);
            free(s->answer);
            s->answer = mi_xstrdup(rest + 7);
        } else if (method > 0 && rest[method] == ' ' && rest[method + 1] == '/') {
            struct conn_seen *s = census_entry(out, id);
            free(s->request);
            s->request = mi_xstrdup(rest);
        }
        free(l);
    }
    mi_buf_release(&log);
    /* A connection without a request line sent nothing: it was no request. */
    size_t kept = 0;
    for (size_t i = 0; i < out->n; i++) {
        struct conn_seen *s = &out->items[i];
        if (!s->request) {
            free(s->answer);
            continue;
        }
        s->label = request_label(s->request, s->answer);
        out->items[kept++] = *s;
    }
    out->n = kept;
    qsort(out->items, out->n, sizeof(*out->items), by_id);
}

/* The index (1-based) of the first connection labelled label, or 0. */
static size_t census_find(const struct census *c, const char *label)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->items[i].label, label) == 0)
            return i + 1;
    return 0;
}

/* ==========================================================================================
 * Faults
 * ======================================================================================== */

enum kind { RESET_RESPONSE, RESET_REQUEST, TRUNCATE_RESPONSE, STALL_RESPONSE, OUTAGE, NKINDS };

static const char *const kind_names[NKINDS] = {"reset-response", "reset-request",
                                               "truncate-response", "stall-response", "outage"};

/* Connection k (1-based): the kinds of issue 7. `down` is what that connection's response
 * measured in the clean run, so that "midway" is its middle. */
static struct mi_fault fault_of(enum kind kind, size_t k, unsigned long long down)
{
    struct mi_fault f = {0};
    f.skip = (unsigned long)k - 1;
    f.next = 1;
    switch (kind) {
    case RESET_RESPONSE:
        f.kind = MI_FAULT_RESET;
        f.after = down / 2;
        break;
    case RESET_REQUEST:
        f.kind = MI_FAULT_RESET;
        f.dir = MI_FAULT_UP;
        break;
    case TRUNCATE_RESPONSE:
        f.kind = MI_FAULT_TRUNCATE;
        f.after = down / 2;
        break;
    case STALL_RESPONSE:
        /* Held until the agent gives up on it (stall_ms 0). */
        f.kind = MI_FAULT_STALL;
        f.after = down / 2;
        break;
    default:
        /* The server is gone from request k on: every request is reset before it arrives. */
        f.kind = MI_FAULT_RESET;
        f.dir = MI_FAULT_UP;
        f.next = 0;
        break;
    }
    return f;
}

static int wanted(size_t k, enum kind kind)
{
    const char *wk = getenv("MI_FAULTS_K"), *wkind = getenv("MI_FAULTS_KIND");
    if (wk && *wk && strtoul(wk, NULL, 10) != k)
        return 0;
    return !(wkind && *wkind && strcmp(wkind, kind_names[kind]) != 0);
}

/* ==========================================================================================
 * The worlds: a pull request ready to plan, or a merge ready to apply
 * ======================================================================================== */

enum command { PLAN, APPLY };

struct world {
    struct mi_cycle w;
    char *head;
    char *merge; /* apply */
};

static void world_init(struct world *x, struct rig *g, enum command cmd, const char *const *env)
{
    memset(x, 0, sizeof(*x));
    mi_cycle_init(&x->w, 1, 1);
    x->w.azure_endpoint = g->az_endpoint;
    x->w.github_url = mi_faultproxy_url(g->gh);
    x->w.extra_env = env;
    x->head = mi_cycle_pr_commit(&x->w, x->w.base, "dev: two replicas",
                                 "environments/dev/terraform.tfvars", "replicas = 2\n", NULL);
    if (cmd == PLAN) {
        mi_cycle_seed_pull(&x->w, PR, x->head, x->w.base, 0, NULL, NULL);
        return;
    }
    /* What the plan job left: the sealed plan (the template plan, so that what terraform
     * applies can be compared with it byte for byte) and the plan comment, which apply
     * edits. */
    mi_cycle_seed_plan(&x->w, PR, x->head);
    x->merge = mi_cycle_merge_commit(&x->w, x->w.base, x->head, PR);
    mi_cycle_seed_pull(&x->w, PR, x->head, x->w.base, 1, x->merge, NULL);
    char *seed = mi_xasprintf("{\"repos\":[{\"full_name\":\"" MI_CYCLE_REPO "\",\"comments\":[{"
                              "\"issue\":%d,\"user\":\"" MI_TEST_GITHUB_BOT "\",\"body\":\"" MARKER
                              "\\n### Plan of `dev`\\n\"}]}]}",
                              PR);
    mi_test_github_seed(x->w.gh, seed);
    free(seed);
}

static void world_free(struct world *x)
{
    free(x->head);
    free(x->merge);
    mi_cycle_free(&x->w);
}

/* ==========================================================================================
 * The checks
 * ======================================================================================== */

static char template_sha256[crypto_hash_sha256_BYTES * 2 + 1];

static void file_sha256(char hex[crypto_hash_sha256_BYTES * 2 + 1], const char *path)
{
    mi_buf b = MI_BUF_INIT;
    cr_assert_eq(mi_fs_read_file(&b, path, 0), 0, "%s", mi_error_last());
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(d, (const unsigned char *)b.ptr, b.len);
    sodium_bin2hex(hex, crypto_hash_sha256_BYTES * 2 + 1, d, sizeof(d));
    mi_buf_release(&b);
}

static void template_digest(void)
{
    const char *t = getenv("MI_CYCLE_TEMPLATE_PLAN");
    cr_assert(t && *t, "the template plan was not made");
    file_sha256(template_sha256, t);
}

/* The run's first ::error:: line, without the prefix, appended to out. */
static void first_error(mi_buf *out, const char *err)
{
    for (const char *e = err; (e = strstr(e, "::error::")); e++) {
        if (e == err || e[-1] == '\n') {
            e += 9;
            mi_buf_add(out, e, strcspn(e, "\n"));
            return;
        }
    }
}

/* An error line caused by a fault must name the endpoint that failed (the proxy's address,
 * which the agent knows as the service's) and the service: a line that says only "error" or
 * "failed" is a defect. */
static int names_what_failed(const char *line, const struct mi_faultproxy *p)
{
    char *at = mi_xasprintf("127.0.0.1:%d", mi_faultproxy_port(p));
    int named = strstr(line, at) && (strstr(line, "azure blob") || strstr(line, "github"));
    free(at);
    return named;
}

static void problem(mi_buf *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(mi_buf *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (p->len)
        mi_buf_adds(p, "; ");
    mi_buf_vaddf(p, fmt, ap);
    va_end(ap);
}

/* Comments on the pull request: all of them, and the body of the last one. */
static size_t comments_on(struct mi_cycle *w, char **last_body)
{
    json_t *state = mi_test_github_get(w->gh, "state");
    json_t *c = json_object_get(json_object_get(json_object_get(state, "repos"), MI_CYCLE_REPO),
                                "comments");
    size_t n = 0, i;
    json_t *x;
    if (last_body)
        *last_body = NULL;
    json_array_foreach(c, i, x)
    {
        if (json_integer_value(json_object_get(x, "issue")) != PR)
            continue;
        n++;
        const char *body = json_string_value(json_object_get(x, "body"));
        if (last_body) {
            free(*last_body);
            *last_body = mi_xstrdup(body ? body : "");
        }
    }
    json_decref(state);
    return n;
}

/* What the scenario expects beyond the invariants. */
struct expect {
    int absorbed; /* one fault on one connection: the run must succeed (exit 0) */
    int exit;     /* when not -1: this exit code */
};

static void check_exit(mi_buf *p, const struct mi_test_run *r, enum command cmd,
                       const struct expect *ex, const struct mi_faultproxy *faulted)
{
    int code = r->exit_code;
    if (code > 127)
        problem(p, "killed by signal %d", code - 128);
    else if (!(code == 0 || code == 1 || (cmd == APPLY && code == 4)))
        problem(p, "exit code %d is not one %s documents", code, cmd == PLAN ? "plan" : "apply");
    if (code != 0) {
        mi_buf line = MI_BUF_INIT;
        first_error(&line, r->err.ptr);
        if (!line.len)
            problem(p, "exit %d without an error line", code);
        else if (!names_what_failed(line.ptr, faulted))
            problem(p, "the error line does not say what failed: %s", line.ptr);
        mi_buf_release(&line);
    }
    if (ex->absorbed && code != 0)
        problem(p, "one fault on one connection was not absorbed (exit %d)", code);
    if (ex->exit >= 0 && code != ex->exit)
        problem(p, "exit %d, expected %d", code, ex->exit);
}

static void check_plan(mi_buf *p, struct world *x, const struct mi_test_run *r,
                       const struct expect *ex, const struct mi_faultproxy *faulted)
{
    struct mi_cycle *w = &x->w;
    check_exit(p, r, PLAN, ex, faulted);
    int sealed = strstr(r->err.ptr, "sealed the plan of pull request #") != NULL;
    int commented = strstr(r->err.ptr, "the plan comment on pull request #") != NULL &&
                    !strstr(r->err.ptr, "cannot post the plan comment");
    if (r->exit_code == 0 && !sealed)
        problem(p, "exit 0 but the plan was not stored");
    if (r->exit_code == 0 && !commented)
        problem(p, "exit 0 but no comment was posted");
    if (sealed) {
        /* Reported stored: it must come back whole and verify, fetched directly. */
        struct mi_fingerprint *fp = NULL;
        cr_assert_eq(mi_fingerprint_at(&fp, w->r->dir, x->head, "environments/dev"), 0, "%s",
                     mi_error_last());
        struct mi_seal_keyring keys;
        cr_assert_eq(mi_seal_keyring_from_base64(&keys, MI_CYCLE_PLAN_KEY, NULL), 0);
        struct mi_seal_expect e = {0};
        e.repository = MI_CYCLE_REPO;
        e.environment = "dev";
        e.pr = PR;
        e.head_sha = x->head;
        e.config_fingerprint = fp->value;
        char *out = mi_cycle_path(w, "fetched.tfplan");
        struct mi_store *s = mi_cycle_open_store(w);
        struct mi_store_entry entry;
        memset(&entry, 0, sizeof(entry));
        if (mi_store_get(s, &keys, &e, out, 0, &entry) < 0)
            problem(p, "reported sealed, but the stored plan does not verify: %s", mi_error_last());
        else if (entry.status != MI_STORE_SEALED)
            problem(p, "the stored plan's status is %s", mi_store_status_name(entry.status));
        mi_store_entry_release(&entry);
        mi_store_free(s);
        unlink(out);
        free(out);
        mi_seal_keyring_wipe(&keys);
        mi_fingerprint_free(fp);
    }
    char *body = NULL;
    size_t n = comments_on(w, &body);
    if (n > 1)
        problem(p, "%zu comments on the pull request (at most one)", n);
    if (commented && (n != 1 || !strstr(body, MARKER)))
        problem(p, "the comment was reported posted, but the pull request does not have it");
    free(body);
}

/* The plans terraform apply was given, as the double logged them; *applies gets how often
 * it ran. */
static void check_applied_plans(mi_buf *p, struct mi_cycle *w, int *applies)
{
    char *log = mi_cycle_read(w, "tf.log");
    *applies = mi_cycle_tf_runs(w, "apply");
    int given = 0;
    for (const char *q = log; (q = strstr(q, "apply-plan-sha256=")); q++) {
        given++;
        q += strlen("apply-plan-sha256=");
        if (strncmp(q, template_sha256, strlen(template_sha256)) != 0)
            problem(p, "terraform was given a plan that is not the sealed one (%.16s...)", q);
    }
    if (*applies > 1)
        problem(p, "terraform apply ran %d times", *applies);
    if (given != *applies)
        problem(p, "terraform apply ran %d times but logged %d plan files", *applies, given);
    free(log);
}

/* Polls until the lock is free: the seconds it took, or -1 after limit_s. */
static double lock_free_after(struct mi_store *s, double limit_s)
{
    double t0 = now_s();
    for (;;) {
        struct mi_store_lock_info info;
        cr_assert_eq(mi_store_lock_info(s, "dev", &info), 0, "%s", mi_error_last());
        int locked = info.locked;
        mi_store_lock_info_release(&info);
        if (!locked)
            return now_s() - t0;
        if (now_s() - t0 > limit_s)
            return -1;
        usleep(250 * 1000);
    }
}

/* Set once a matrix has waited for a lease left behind to run out (full form). */
static int waited_for_a_lease;

static void check_lock(mi_buf *p, mi_buf *note, struct world *x, const struct mi_test_run *r)
{
    struct mi_store *s = mi_cycle_open_store(&x->w);
    struct mi_store_lock_info info;
    cr_assert_eq(mi_store_lock_info(s, "dev", &info), 0, "%s", mi_error_last());
    if (info.locked) {
        /* Only a release that failed may leave the lease to run out by itself (store.h): the
         * run must have said so, and the lease must be one that ends (not infinite). */
        struct mi_azblob *c = mi_azuretest_client(NULL, x->w.container);
        struct mi_azblob_props props;
        cr_assert_eq(mi_azblob_get_properties(c, MI_CYCLE_REPO "/dev/.lock", &props), 0, "%s",
                     mi_error_last());
        int fixed = props.lease_duration && strcmp(props.lease_duration, "fixed") == 0;
        mi_azblob_props_release(&props);
        mi_azblob_free(c);
        if (!strstr(r->err.ptr, "releasing the lock of 'dev'"))
            problem(p, "the lock is held after the run, which did not say so");
        else if (!fixed)
            problem(p, "the lock is held after the run by a lease without end");
        else if (full_form() && !waited_for_a_lease) {
            waited_for_a_lease = 1;
            double t = lock_free_after(s, 45);
            if (t < 0)
                problem(p, "the lease left behind was still held 45 s after the run");
            else
                problem(note, "release failed; the lease ran out %.1f s after the run", t);
        } else {
            problem(note, "release failed; a fixed lease is left to run out");
        }
    }
    mi_store_lock_info_release(&info);
    mi_store_free(s);
}

static void check_apply(mi_buf *p, mi_buf *note, struct world *x, const struct mi_test_run *r,
                        const struct expect *ex, const struct mi_faultproxy *faulted)
{
    struct mi_cycle *w = &x->w;
    check_exit(p, r, APPLY, ex, faulted);
    int applies = 0;
    check_applied_plans(p, w, &applies);
    int said_applied = strstr(r->err.ptr, "applied pull request #") != NULL;
    struct mi_store *s = mi_cycle_open_store(w);
    struct mi_store_entry e;
    cr_assert_eq(mi_store_stat(s, "dev", PR, x->head, &e), 0, "%s", mi_error_last());
    if (r->exit_code == 0 && (!said_applied || applies != 1))
        problem(p, "exit 0 but the plan was not applied (terraform apply ran %d times)", applies);
    if (r->exit_code == 0 && e.status != MI_STORE_APPLIED)
        problem(p, "exit 0 but the plan's status is %s", mi_store_status_name(e.status));
    if (e.status == MI_STORE_APPLIED && applies != 1)
        problem(p, "the plan is marked applied but terraform apply ran %d times", applies);
    if (e.status == MI_STORE_FAILED)
        problem(p, "the plan is marked failed (%s)", e.status_detail ? e.status_detail : "");
    if (applies == 1 && e.status != MI_STORE_APPLIED) {
        /* terraform changed the state but the mark was lost: the job must fail and say so
         * (the state's new serial makes the plan stale, so it cannot run twice either). */
        if (r->exit_code != 1 || !strstr(r->err.ptr, "could not be marked"))
            problem(p, "terraform applied, the plan is %s, and the run did not say so",
                    mi_store_status_name(e.status));
        else
            problem(note, "applied but not marked (exit 1, said so)");
    }
    mi_store_entry_release(&e);
    mi_store_free(s);
    check_lock(p, note, x, r);

    char *body = NULL;
    size_t n = comments_on(w, &body);
    if (n != 1)
        problem(p, "%zu comments on the pull request (the plan's, edited: exactly one)", n);
    if (strstr(r->err.ptr, "added the apply report to pull request") &&
        (!body || !strstr(body, "Applied to `dev`")))
        problem(p, "the apply report was reported added, but the comment does not have it");
    free(body);
}

/* ==========================================================================================
 * Scenarios and matrices
 * ======================================================================================== */

struct tally {
    char name[64];
    size_t scenarios, failures;
    size_t by_exit[6]; /* 0, 1, 2, 3, 4, other */
    mi_buf failed;     /* the failed scenarios, with their stderr */
    double t0;
};

static void tally_init(struct tally *t, const char *name)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->name, sizeof(t->name), "%s%s", name, full_form() ? " (full)" : "");
    mi_buf_init(&t->failed);
    t->t0 = now_s();
}

/* Prints the summary line and fails the test with the failed scenarios. */
static void tally_finish(struct tally *t)
{
    printf("[faults] summary %s: %zu scenarios, exit 0: %zu, exit 1: %zu, exit 4: %zu, other: "
           "%zu, failures: %zu, %.1f s\n",
           t->name, t->scenarios, t->by_exit[0], t->by_exit[1], t->by_exit[4],
           t->by_exit[2] + t->by_exit[3] + t->by_exit[5], t->failures, now_s() - t->t0);
    fflush(stdout);
    cr_assert_eq(t->failures, 0, "%zu of %zu %s scenarios failed:\n%s", t->failures, t->scenarios,
                 t->name, t->failed.ptr);
    mi_buf_release(&t->failed);
}

struct scenario {
    enum command cmd;
    int on_github;                /* the faulted proxy: GitHub's, else Azure's */
    const struct mi_fault *fault; /* NULL: none */
    const char *name;             /* the kind, for the report */
    size_t k;                     /* the connection faulted first; 0: none or every */
    const char *request;          /* its label in the clean run */
    struct expect ex;
    const char *const *env;
    const char *github_fail;            /* a fault for the GitHub double itself (its README) */
    const struct mi_fault *other_fault; /* for the other proxy; NULL: none */
};

/* One scenario in a fresh world; census (may be NULL) gets the faulted proxy's connections. */
static void run_scenario(struct rig *g, const struct scenario *sc, struct tally *t,
                         struct census *census)
{
    struct world x;
    world_init(&x, g, sc->cmd, sc->env ? sc->env : run_env);
    if (sc->github_fail)
        mi_test_github_fail(x.w.gh, sc->github_fail);
    struct mi_faultproxy *target = sc->on_github ? g->gh : g->az;
    struct mi_faultproxy *other = sc->on_github ? g->az : g->gh;
    mi_faultproxy_set(other, sc->other_fault);
    mi_faultproxy_set(target, sc->fault);
    long offset = log_size(target);
    double t0 = now_s();
    struct mi_test_run r;
    if (sc->cmd == PLAN)
        mi_cycle_run_plan(&r, &x.w, PR, x.head, x.w.base);
    else
        mi_cycle_run_apply(&r, &x.w, x.w.base, x.merge, NULL, NULL);
    double took = now_s() - t0;
    /* The agent has exited; its connections are closed, so the log is complete. */
    cr_assert_eq(mi_faultproxy_wait_idle(g->az, 20000), 0, "a connection stayed open");
    cr_assert_eq(mi_faultproxy_wait_idle(g->gh, 20000), 0, "a connection stayed open");
    mi_faultproxy_set(target, NULL);
    mi_faultproxy_set(other, NULL);

    mi_buf p = MI_BUF_INIT, note = MI_BUF_INIT, err = MI_BUF_INIT;
    if (sc->cmd == PLAN)
        check_plan(&p, &x, &r, &sc->ex, target);
    else
        check_apply(&p, &note, &x, &r, &sc->ex, target);
    first_error(&err, r.err.ptr);

    t->scenarios++;
    t->by_exit[r.exit_code >= 0 && r.exit_code <= 4 ? r.exit_code : 5]++;
    char where[32] = "k=-";
    if (sc->k)
        snprintf(where, sizeof(where), "k=%zu", sc->k);
    printf("[faults] scenario %s %s %s \"%s\" %s exit=%d %.1fs %s%s%s%s\n",
           sc->cmd == PLAN ? "plan" : "apply", sc->on_github ? "github" : "azure", where,
           sc->request ? sc->request : "", sc->name, r.exit_code, took, p.len ? "FAIL: " : "ok",
           p.ptr, note.len ? "; note: " : "", note.ptr);
    if (err.len)
        printf("[faults]   error: %.400s\n", err.ptr);
    if (verbose())
        printf("%s\n", r.err.ptr);
    fflush(stdout);
    if (p.len) {
        t->failures++;
        mi_buf_addf(&t->failed, "%s %s %s %s (%s): %s\n--- stderr:\n%s\n",
                    sc->cmd == PLAN ? "plan" : "apply", sc->on_github ? "github" : "azure", where,
                    sc->name, sc->request ? sc->request : "", p.ptr, r.err.ptr);
    }
    if (census)
        census_read(census, target, offset);
    mi_buf_release(&p);
    mi_buf_release(&note);
    mi_buf_release(&err);
    mi_test_run_release(&r);
    world_free(&x);
}

static const char *cmd_name(enum command cmd)
{
    return cmd == PLAN ? "plan" : "apply";
}

/* The clean run: it must succeed, and it lists the connections. */
static void clean_census(struct rig *g, enum command cmd, int on_github, struct tally *t,
                         struct census *c)
{
    struct scenario clean = {cmd, on_github, NULL, "clean", 0, "", {0, 0}, NULL, NULL, NULL};
    run_scenario(g, &clean, t, c);
    cr_assert_eq(t->failures, 0, "the clean run failed:\n%s", t->failed.ptr);
    cr_assert(c->n > 0, "no connection went through the proxy");
    for (size_t i = 0; i < c->n; i++)
        printf("[faults] connection %s %s %zu: %s -> %s (%llu up, %llu down bytes): %s\n",
               cmd_name(cmd), on_github ? "github" : "azure", i + 1, c->items[i].request,
               c->items[i].answer ? c->items[i].answer : "no answer", c->items[i].up,
               c->items[i].down, c->items[i].label);
    fflush(stdout);
}

/* Faults connection k with every kind. */
static void fault_connection(struct rig *g, enum command cmd, int on_github, const struct census *c,
                             size_t k, struct tally *t)
{
    for (int kind = 0; kind < NKINDS; kind++) {
        if (!wanted(k, (enum kind)kind))
            continue;
        struct mi_fault f = fault_of((enum kind)kind, k, c->items[k - 1].down);
        struct scenario sc = {cmd,
                              on_github,
                              &f,
                              kind_names[kind],
                              k,
                              c->items[k - 1].label,
                              {kind != OUTAGE, -1},
                              kind == STALL_RESPONSE ? stall_env : run_env,
                              NULL,
                              NULL};
        run_scenario(g, &sc, t, NULL);
    }
}

/* The full form faults every connection; the short form those of the requests named. A name
 * that is not among the clean run's requests fails the test: the agent's requests changed
 * and the list must follow. */
static void matrix(enum command cmd, int on_github, const char *const *short_form)
{
    template_digest();
    struct rig g;
    rig_start(&g);
    struct tally t;
    char name[32];
    snprintf(name, sizeof(name), "%s %s", cmd_name(cmd), on_github ? "github" : "azure");
    tally_init(&t, name);
    struct census c;
    clean_census(&g, cmd, on_github, &t, &c);
    if (full_form()) {
        for (size_t k = 1; k <= c.n; k++)
            fault_connection(&g, cmd, on_github, &c, k, &t);
    } else {
        for (size_t i = 0; short_form[i]; i++) {
            size_t k = census_find(&c, short_form[i]);
            cr_assert(k > 0, "no request '%s' in the clean run (see the connections above)",
                      short_form[i]);
            fault_connection(&g, cmd, on_github, &c, k, &t);
        }
    }
    census_release(&c);
    rig_stop(&g);
    tally_finish(&t);
}

TestSuite(faults, .timeout = 3600);

Test(faults, plan_survives_store_faults)
{
    /* The existence check that guards an applied plan, and the upload. */
    static const char *const short_form[] = {"HEAD plan -> 404", "PUT plan -> 201", NULL};
    matrix(PLAN, 0, short_form);
}

Test(faults, plan_survives_github_faults)
{
    static const char *const short_form[] = {
        "POST /repos/octo-org/infra/issues/{n}/comments -> 201", NULL};
    matrix(PLAN, 1, short_form);
}

Test(faults, apply_survives_store_faults)
{
    /* The lease acquire, the stat that finds an applied plan, the download, the applied
     * mark, the lease release. */
    static const char *const short_form[] = {"PUT lease .lock -> 201", "HEAD plan -> 200",
                                             "GET plan -> 200",        "PUT metadata plan -> 200",
                                             "PUT lease .lock -> 200", NULL};
    matrix(APPLY, 0, short_form);
}

Test(faults, apply_survives_github_faults)
{
    /* Which pull request the push merged, and the comment's edit. */
    static const char *const short_form[] = {
        "GET /repos/octo-org/infra/commits/{sha}/pulls -> 200",
        "PATCH /repos/octo-org/infra/issues/comments/{n} -> 200", NULL};
    matrix(APPLY, 1, short_form);
}

/* ==========================================================================================
 * Slow networks and GitHub's own failures
 * ======================================================================================== */

/* Every connection through both proxies slowed (20 ms before every KiB either way): slower,
 * but nothing may fail. */
Test(faults, latency_on_every_connection_slows_but_completes)
{
    template_digest();
    struct rig g;
    rig_start(&g);
    struct tally t;
    tally_init(&t, "latency");
    struct mi_fault slow = {.latency_ms = 20, .chunk = 1024, .dir = MI_FAULT_BOTH};
    for (int cmd = PLAN; cmd <= APPLY; cmd++) {
        struct mi_faultproxy_stats a0, b0, a, b;
        mi_faultproxy_stats(g.az, &a0);
        mi_faultproxy_stats(g.gh, &b0);
        struct scenario sc = {(enum command)cmd, 0,      &slow, "latency", 0,
                              "every",           {0, 0}, NULL,  NULL,      &slow};
        run_scenario(&g, &sc, &t, NULL);
        mi_faultproxy_stats(g.az, &a);
        mi_faultproxy_stats(g.gh, &b);
        cr_assert(a.selected - a0.selected == a.connections - a0.connections &&
                      b.selected - b0.selected == b.connections - b0.connections,
                  "not every connection was slowed");
    }
    rig_stop(&g);
    tally_finish(&t);
}

/* Failures the GitHub double makes itself (tests/doubles/github/README.md): 5xx answers, a
 * secondary rate limit, an answer lost after the comment was made, answers slower than the
 * agent waits. */
Test(faults, github_errors_and_slow_answers_are_survived_or_reported)
{
    template_digest();
    struct rig g;
    rig_start(&g);
    struct tally t;
    tally_init(&t, "github double");
    static const struct {
        enum command cmd;
        const char *name;
        const char *fail;
        int exit;
    } cases[] = {
        {PLAN, "502-once-on-comment",
         "{\"path\":\"/issues/7/comments\",\"method\":\"POST\","
         "\"status\":502}",
         0},
        {PLAN, "rate-limited-comment",
         "{\"path\":\"/issues/7/comments\",\"method\":\"POST\","
         "\"kind\":\"secondary_rate_limit\",\"retry_after\":1}",
         0},
        {PLAN, "comment-made-answer-lost",
         "{\"path\":\"/issues/7/comments\",\"method\":\"POST\","
         "\"drop_after\":true}",
         0},
        {PLAN, "500-on-every-comment-call", "{\"path\":\"/comments\",\"status\":500,\"count\":50}",
         1},
        {APPLY, "503-on-every-pulls-call", "{\"path\":\"/pulls\",\"status\":503,\"count\":50}", 1},
        {APPLY, "pulls-answer-too-slow-once", "{\"path\":\"/pulls\",\"delay_ms\":4000}", 0},
        {APPLY, "comment-edit-too-slow",
         "{\"path\":\"/comments/\",\"method\":\"PATCH\","
         "\"delay_ms\":4000}",
         0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct scenario sc = {cases[i].cmd,       1,         NULL,          cases[i].name, 0, "",
                              {0, cases[i].exit}, stall_env, cases[i].fail, NULL};
        run_scenario(&g, &sc, &t, NULL);
    }
    rig_stop(&g);
    tally_finish(&t);
}

/* ==========================================================================================
 * The store's own requests: block uploads and lease renewals
 * ======================================================================================== */

#define STORE_HEAD "72ab551b7b45dd1e3a64ae0833daaf5716f08035"

/* The limits the agent's runs get, for this process. */
static void fast_limits(void)
{
    struct mi_http_limits l = {.timeout_ms = 1000, .stall_timeout_ms = 1000, .retry_delay_ms = 20};
    mi_http_set_limits(&l);
}

static struct mi_store *store_at(const char *endpoint, const char *container, size_t block_size)
{
    struct mi_store_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.endpoint = endpoint;
    cfg.account = MI_AZURITE_ACCOUNT;
    cfg.shared_key = MI_AZURITE_KEY;
    cfg.container = container;
    cfg.block_size = block_size;
    struct mi_store *s = NULL;
    cr_assert_eq(mi_store_open(&s, &cfg, MI_CYCLE_REPO), 0, "%s", mi_error_last());
    return s;
}

struct block_rig {
    struct mi_faultproxy *az;
    char *via;    /* the proxy's endpoint */
    char *direct; /* Azurite's */
    char *dir;
    char *plan; /* 200 kB of random bytes: four blocks of 64 KiB */
    char plan_sha[crypto_hash_sha256_BYTES * 2 + 1];
    struct mi_seal_keyring keys;
    int n;
};

/* Puts the plan through the proxy into a fresh container, with fault f (NULL: none); checks
 * what must hold and records the scenario. census (may be NULL) gets the connections. */
static void run_block_put(struct block_rig *b, const struct mi_fault *f, const char *kind, size_t k,
                          const char *label, int absorbed, struct tally *t, struct census *census)
{
    char *container = mi_xasprintf("blocks-%ld-%d", (long)getpid(), ++b->n);
    struct mi_store *via = store_at(b->via, container, 64 * 1024);
    struct mi_store *direct = store_at(b->direct, container, 64 * 1024);
    struct mi_seal_binding bind;
    memset(&bind, 0, sizeof(bind));
    bind.environment = mi_xstrdup("dev");
    bind.pr = PR;
    bind.head_sha = mi_xstrdup(STORE_HEAD);
    bind.config_fingerprint = mi_xstrdup("test:blocks");
    bind.terraform_version = mi_xstrdup("1.11.4");
    long offset = log_size(b->az);
    mi_faultproxy_set(b->az, f);
    double t0 = now_s();
    int rc = mi_store_put(via, &b->keys, &bind, b->plan);
    double took = now_s() - t0;
    mi_buf why = MI_BUF_INIT, p = MI_BUF_INIT;
    if (rc < 0)
        mi_buf_adds(&why, mi_error_last());
    cr_assert_eq(mi_faultproxy_wait_idle(b->az, 20000), 0);
    mi_faultproxy_set(b->az, NULL);
    if (census)
        census_read(census, b->az, offset);

    if (absorbed && rc < 0)
        problem(&p, "one fault on one connection was not absorbed: %s", why.ptr);
    if (rc < 0 && (!strstr(why.ptr, "storing the plan") || !names_what_failed(why.ptr, b->az)))
        problem(&p, "the error does not say what failed: %s", why.ptr);
    if (rc < 0) {
        /* What a failed upload left must not stand in the way of the next one. */
        mi_seal_binding_release(&bind);
        memset(&bind, 0, sizeof(bind));
        bind.environment = mi_xstrdup("dev");
        bind.pr = PR;
        bind.head_sha = mi_xstrdup(STORE_HEAD);
        bind.config_fingerprint = mi_xstrdup("test:blocks");
        bind.terraform_version = mi_xstrdup("1.11.4");
        if (mi_store_put(via, &b->keys, &bind, b->plan) < 0)
            problem(&p, "the upload after the outage failed: %s", mi_error_last());
    }
    /* Whatever was reported stored comes back whole and verifies, fetched directly. */
    char *out = mi_xasprintf("%s/fetched", b->dir);
    struct mi_seal_expect e = {0};
    e.repository = MI_CYCLE_REPO;
    e.environment = "dev";
    e.pr = PR;
    e.head_sha = STORE_HEAD;
    e.config_fingerprint = "test:blocks";
    if (!p.len) {
        if (mi_store_get(direct, &b->keys, &e, out, 0, NULL) < 0) {
            problem(&p, "the stored plan does not verify: %s", mi_error_last());
        } else {
            char got[crypto_hash_sha256_BYTES * 2 + 1];
            file_sha256(got, out);
            if (strcmp(got, b->plan_sha) != 0)
                problem(&p, "the plan came back different");
        }
    }
    unlink(out);
    free(out);
    t->scenarios++;
    t->by_exit[rc == 0 ? 0 : 1]++;
    printf("[faults] scenario store azure k=%zu \"%s\" %s exit=%d %.1fs %s%s\n", k, label, kind,
           rc == 0 ? 0 : 1, took, p.len ? "FAIL: " : "ok", p.ptr);
    if (why.len)
        printf("[faults]   error: %.400s\n", why.ptr);
    fflush(stdout);
    if (p.len) {
        t->failures++;
        mi_buf_addf(&t->failed, "store put k=%zu %s: %s\n", k, kind, p.ptr);
    }
    mi_buf_release(&why);
    mi_buf_release(&p);
    mi_seal_binding_release(&bind);
    mi_store_free(via);
    mi_store_free(direct);
    free(container);
}

/* A sealed plan larger than a block goes up as Put Block requests and a Put Block List
 * (store_azure.c); plan runs never store one that large here, so the store is driven
 * directly, with the agent's network limits. */
Test(faults, block_upload_survives_faults)
{
    cr_assert(sodium_init() >= 0);
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    fast_limits();
    struct block_rig b;
    memset(&b, 0, sizeof(b));
    b.az = mi_faultproxy_start(mi_azuretest_port());
    b.via = mi_xasprintf("%s/%s", mi_faultproxy_url(b.az), MI_AZURITE_ACCOUNT);
    b.direct = mi_azuretest_endpoint();
    b.dir = mi_test_tmpdir();
    b.plan = mi_xasprintf("%s/plan", b.dir);
    char *data = mi_xmalloc(200000);
    randombytes_buf(data, 200000);
    cr_assert_eq(mi_fs_write_file_atomic(b.plan, data, 200000, 0600), 0);
    free(data);
    file_sha256(b.plan_sha, b.plan);
    cr_assert_eq(mi_seal_keyring_from_base64(&b.keys, MI_CYCLE_PLAN_KEY, NULL), 0);

    struct tally t;
    tally_init(&t, "store blocks");
    struct census c;
    run_block_put(&b, NULL, "clean", 0, "", 0, &t, &c);
    cr_assert_eq(t.failures, 0, "%s", t.failed.ptr);
    size_t first_block = census_find(&c, "PUT block plan -> 201");
    size_t list = census_find(&c, "PUT blocklist plan -> 201");
    cr_assert(first_block && list && list - first_block == 4,
              "not four blocks and a block list: %zu, %zu", first_block, list);
    for (size_t k = 1; k <= c.n; k++) {
        printf("[faults] connection store azure %zu: %s -> %s: %s\n", k, c.items[k - 1].request,
               c.items[k - 1].answer ? c.items[k - 1].answer : "no answer", c.items[k - 1].label);
        if (!full_form() && k != first_block + 3 && k != list)
            continue;
        for (int kind = 0; kind < NKINDS; kind++) {
            if (!wanted(k, (enum kind)kind))
                continue;
            struct mi_fault f = fault_of((enum kind)kind, k, c.items[k - 1].down);
            run_block_put(&b, &f, kind_names[kind], k, c.items[k - 1].label, kind != OUTAGE, &t,
                          NULL);
        }
    }
    census_release(&c);
    mi_seal_keyring_wipe(&b.keys);
    mi_faultproxy_stop(b.az);
    mi_test_rmtree(b.dir);
    free(b.dir);
    free(b.plan);
    free(b.via);
    free(b.direct);
    tally_finish(&t);
}

/* The lease of a held lock is renewed every third of its duration (store.c); each renewal in
 * turn meets a fault. The lock must stay held - a renewal the HTTP layer could not save is
 * tried again at the next tick - and be free once released. 15 s leases: a renewal every 5 s.
 * An outage of the renewals loses the lock after one lease, and the holder learns of it. */
Test(faults, lease_renewal_survives_faults)
{
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    fast_limits();
    struct mi_faultproxy *az = mi_faultproxy_start(mi_azuretest_port());
    char *via = mi_xasprintf("%s/%s", mi_faultproxy_url(az), MI_AZURITE_ACCOUNT);
    char *container = mi_xasprintf("renew-%ld", (long)getpid());
    char *ep = mi_azuretest_endpoint();
    struct mi_store *s = store_at(via, container, 0);
    struct mi_store *direct = store_at(ep, container, 0);
    free(ep);
    struct tally t;
    tally_init(&t, "lease renewal");

    struct mi_store_lock_options lo = {0};
    lo.lease_s = 15;
    lo.holder = "the fault suite";
    struct mi_store_lock *l = NULL;
    cr_assert_eq(mi_store_lock(s, "dev", &lo, &l), 0, "%s", mi_error_last());
    cr_assert_eq(mi_faultproxy_wait_idle(az, 20000), 0);
    /* Short form: a renewal that hangs; full form: every kind, one renewal each. */
    enum kind kinds[NKINDS];
    size_t nkinds = 0;
    if (full_form()) {
        for (int kind = 0; kind < OUTAGE; kind++)
            kinds[nkinds++] = (enum kind)kind;
    } else {
        kinds[nkinds++] = STALL_RESPONSE;
    }
    for (size_t i = 0; i < nkinds; i++) {
        /* The only client of the proxy now is the renewal thread: its next request is the
         * next renewal. A renewal's answer is a few hundred bytes, all headers. */
        struct mi_faultproxy_stats before, st;
        mi_faultproxy_stats(az, &before);
        struct mi_fault f = fault_of(kinds[i], 1, 300);
        mi_faultproxy_set(az, &f);
        long offset = log_size(az);
        double t0 = now_s();
        /* Wait for the faulted renewal and the retry after it. */
        for (;;) {
            mi_faultproxy_stats(az, &st);
            if (st.connections >= before.connections + 2 && st.active == 0)
                break;
            cr_assert(now_s() - t0 < 30, "no renewal within 30 s");
            usleep(50 * 1000);
        }
        struct census c;
        census_read(&c, az, offset);
        mi_buf p = MI_BUF_INIT;
        if (c.n < 1 || !strstr(c.items[0].label, "PUT lease .lock"))
            problem(&p, "the faulted request was not a renewal (%s)",
                    c.n ? c.items[0].label : "none");
        if (mi_store_lock_check(l) < 0)
            problem(&p, "the lock was lost: %s", mi_error_last());
        struct mi_store_lock_info info;
        cr_assert_eq(mi_store_lock_info(direct, "dev", &info), 0, "%s", mi_error_last());
        if (!info.locked)
            problem(&p, "the lease is not held (%s)", info.state ? info.state : "");
        mi_store_lock_info_release(&info);
        t.scenarios++;
        t.by_exit[p.len ? 1 : 0]++;
        printf("[faults] scenario renew azure k=1 \"%s\" %s exit=0 %.1fs %s%s\n",
               c.n ? c.items[0].label : "", kind_names[kinds[i]], now_s() - t0,
               p.len ? "FAIL: " : "ok", p.ptr);
        fflush(stdout);
        if (p.len) {
            t.failures++;
            mi_buf_addf(&t.failed, "renewal %s: %s\n", kind_names[kinds[i]], p.ptr);
        }
        mi_buf_release(&p);
        census_release(&c);
    }
    mi_faultproxy_set(az, NULL);
    cr_assert_eq(mi_store_unlock(l), 0, "%s", mi_error_last());
    struct mi_store_lock_info info;
    cr_assert_eq(mi_store_lock_info(direct, "dev", &info), 0, "%s", mi_error_last());
    cr_assert_eq(info.locked, 0, "the lock is held after its release");
    mi_store_lock_info_release(&info);

    if (full_form()) {
        /* The renewals meet an outage: after one lease unrenewed the lock is lost, the holder
         * learns it before its next irreversible step, and the lease ends by itself. */
        double t0 = now_s();
        cr_assert_eq(mi_store_lock(s, "dev", &lo, &l), 0, "%s", mi_error_last());
        cr_assert_eq(mi_faultproxy_wait_idle(az, 20000), 0);
        struct mi_fault down = fault_of(OUTAGE, 1, 0);
        mi_faultproxy_set(az, &down);
        while (mi_store_lock_check(l) == 0)
            cr_assert(now_s() - t0 < 40, "the lock was never reported lost");
        double lost = now_s() - t0;
        cr_assert(strstr(mi_error_last(), "lost"), "%s", mi_error_last());
        cr_assert_lt(mi_store_unlock(l), 0, "a release during the outage cannot succeed");
        mi_faultproxy_set(az, NULL);
        double freed = lock_free_after(direct, 30);
        cr_assert(freed >= 0, "the lease never ended");
        t.scenarios++;
        t.by_exit[1]++;
        printf("[faults] scenario renew azure k=1 \"PUT lease .lock -> 200\" outage exit=1 %.1fs "
               "ok; note: lost after %.1f s, free %.1f s later\n",
               now_s() - t0, lost, freed);
        fflush(stdout);
    }
    mi_store_free(s);
    mi_store_free(direct);
    mi_faultproxy_stop(az);
    free(container);
    free(via);
    tally_finish(&t);
}

/* ==========================================================================================
 * Found by the scenarios
 * ======================================================================================== */

/* The truncate scenarios cut answers inside their headers, and libcurl takes a response that
 * ends after its status line and some headers for a complete one (without the headers that
 * never came: an ETag, a lease id, a plan's status metadata). remote/http.c refuses it; one
 * attempt fails, the retry of a GET gets the whole answer. */
Test(faults, response_cut_inside_its_headers_is_an_error)
{
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct mi_test_github *d = mi_test_github_start();
    struct mi_faultproxy *p = mi_faultproxy_start(d->port);
    char *url = mi_xasprintf("%s/_double/ready", mi_faultproxy_url(p));
    struct mi_http_request req = {.method = "GET", .url = url, .timeout_ms = 10000};
    struct mi_http_response resp = MI_HTTP_RESPONSE_INIT;

    long offset = log_size(p);
    cr_assert_eq(mi_http_send(&resp, &req), 0, "%s", mi_error_last());
    cr_assert_eq(resp.status, 200);
    cr_assert_eq(mi_faultproxy_wait_idle(p, 20000), 0);
    struct census c;
    census_read(&c, p, offset);
    cr_assert(c.n == 1 && c.items[0].answer, "the proxy did not log the answer");
    /* One byte into the first header after the status line. */
    struct mi_fault cut = {
        .kind = MI_FAULT_TRUNCATE, .after = strlen(c.items[0].answer) + 3, .next = 1};
    census_release(&c);

    mi_faultproxy_set(p, &cut);
    int rc = mi_http_send(&resp, &req);
    cr_assert_lt(rc, 0, "a response cut inside its headers passed for HTTP %ld", resp.status);
    cr_assert(strstr(mi_error_last(), "inside the response's headers"), "%s", mi_error_last());
    cr_assert(strstr(mi_error_last(), "/_double/ready"), "%s", mi_error_last());

    mi_faultproxy_set(p, &cut);
    struct mi_http_retry fast = {.max_attempts = 2, .base_delay_ms = 10};
    int attempts = 0;
    cr_assert_eq(mi_http_send_retry(&resp, &req, &fast, &attempts), 0, "%s", mi_error_last());
    cr_assert_eq(attempts, 2);
    cr_assert_eq(resp.status, 200);
    mi_http_response_release(&resp);
    mi_faultproxy_stop(p);
    mi_test_github_stop(d);
    free(url);
}

/* A binding for the store-level tests; created_at NULL: now. */
static void store_binding(struct mi_seal_binding *b, const char *created_at)
{
    memset(b, 0, sizeof(*b));
    b->environment = mi_xstrdup("dev");
    b->pr = PR;
    b->head_sha = mi_xstrdup(STORE_HEAD);
    b->config_fingerprint = mi_xstrdup("test:lost");
    b->terraform_version = mi_xstrdup("1.11.4");
    b->created_at = created_at ? mi_xstrdup(created_at) : NULL;
}

struct rival {
    struct mi_faultproxy *az;
    struct mi_store *direct;
    const struct mi_seal_keyring *keys;
    const char *plan;
    int rc;
};

/* Another run storing its plan of the same pull request while ours is held up. */
static void *rival_main(void *arg)
{
    struct rival *rv = arg;
    struct mi_faultproxy_stats st;
    do {
        usleep(10 * 1000);
        mi_faultproxy_stats(rv->az, &st);
    } while (st.stalls == 0);
    struct mi_seal_binding b;
    store_binding(&b, "2021-06-01T00:00:00Z");
    rv->rc = mi_store_put(rv->direct, rv->keys, &b, rv->plan);
    mi_seal_binding_release(&b);
    return NULL;
}

/* A plan store reached through a fault proxy (s) and directly (direct), in a container of its
 * own, with a small plan file, the key and a binding: the regression tests' common ground. */
struct store_fixture {
    struct mi_faultproxy *az;
    char *via, *ep, *container, *dir, *plan;
    struct mi_store *s, *direct;
    struct mi_seal_keyring keys;
    struct mi_seal_binding b;
};

static void store_fixture_init(struct store_fixture *f, const char *name)
{
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    cr_assert(sodium_init() >= 0);
    f->az = mi_faultproxy_start(mi_azuretest_port());
    f->via = mi_xasprintf("%s/%s", mi_faultproxy_url(f->az), MI_AZURITE_ACCOUNT);
    f->ep = mi_azuretest_endpoint();
    f->container = mi_xasprintf("%s-%ld", name, (long)getpid());
    f->s = store_at(f->via, f->container, 0);
    f->direct = store_at(f->ep, f->container, 0);
    f->dir = mi_test_tmpdir();
    f->plan = mi_xasprintf("%s/plan", f->dir);
    cr_assert_eq(mi_fs_write_file_atomic(f->plan, "a saved plan", 12, 0600), 0);
    cr_assert_eq(mi_seal_keyring_from_base64(&f->keys, MI_CYCLE_PLAN_KEY, NULL), 0);
    store_binding(&f->b, NULL);
}

static void store_fixture_free(struct store_fixture *f)
{
    mi_seal_keyring_wipe(&f->keys);
    mi_seal_binding_release(&f->b);
    mi_store_free(f->s);
    mi_store_free(f->direct);
    mi_faultproxy_stop(f->az);
    mi_test_rmtree(f->dir);
    free(f->plan);
    free(f->dir);
    free(f->container);
    free(f->ep);
    free(f->via);
}

/* The scenarios "plan azure PUT plan reset-response" and "... stall-response" found this: the
 * upload reached the store but its answer was lost; the retry's condition (If-None-Match: *)
 * then failed against the run's own plan, and plan failed with "the plan changed in the store
 * while this run uploaded it (another run stored the same plan ...)". store_azure.c now
 * recognises its own write; another run's plan written in between is still a conflict. */
Test(faults, upload_whose_answer_was_lost_is_not_a_conflict)
{
    struct store_fixture f;
    store_fixture_init(&f, "lost-put");
    struct mi_faultproxy *az = f.az;
    struct mi_store *s = f.s, *direct = f.direct;
    const char *dir = f.dir, *plan = f.plan;

    /* Create Container, Get Blob Properties (none yet), then Put Blob: its answer is lost
     * halfway, after Azurite stored the plan. */
    mi_faultproxy_set(
        az, &(struct mi_fault){.kind = MI_FAULT_RESET, .after = 100, .skip = 2, .next = 1});
    cr_assert_eq(mi_store_put(s, &f.keys, &f.b, plan), 0, "%s", mi_error_last());
    struct mi_faultproxy_stats st;
    mi_faultproxy_stats(az, &st);
    cr_assert_eq(st.resets, 1, "the fault did not fire");
    char *out = mi_xasprintf("%s/fetched", dir);
    struct mi_seal_expect e = {0};
    e.repository = MI_CYCLE_REPO;
    e.environment = "dev";
    e.pr = PR;
    e.head_sha = STORE_HEAD;
    e.config_fingerprint = "test:lost";
    cr_assert_eq(mi_store_get(direct, &f.keys, &e, out, 0, NULL), 0, "%s", mi_error_last());
    mi_seal_binding_release(&f.b);

    /* Our replacing write (If-Match the plan we saw) is held up before it reaches the store
     * while another run stores its plan: ours must fail as a conflict, naming it. */
    store_binding(&f.b, NULL);
    mi_faultproxy_set(
        az,
        &(struct mi_fault){
            .kind = MI_FAULT_STALL, .dir = MI_FAULT_UP, .stall_ms = 1500, .skip = 1, .next = 1});
    struct rival rv = {az, direct, &f.keys, plan, -1};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, rival_main, &rv), 0);
    int rc = mi_store_put(s, &f.keys, &f.b, plan);
    char *why = mi_xstrdup(mi_error_last());
    pthread_join(th, NULL);
    cr_assert_eq(rv.rc, 0, "the other run's upload failed");
    cr_assert_eq(rc, MI_ECONFLICT, "(%d) %s", rc, why);
    cr_assert(strstr(why, "changed in the store while this run uploaded it"), "%s", why);
    struct mi_store_entry entry;
    cr_assert_eq(mi_store_stat(direct, "dev", PR, STORE_HEAD, &entry), 0, "%s", mi_error_last());
    cr_assert_str_eq(entry.binding.created_at, "2021-06-01T00:00:00Z");
    mi_store_entry_release(&entry);

    free(why);
    free(out);
    store_fixture_free(&f);
}

/* The scenario "apply azure PUT metadata plan reset-response" found this: terraform applied,
 * the applied mark reached the store, its answer was lost; the retry's If-Match failed
 * against the run's own mark, and apply failed with "the plan was applied but could not be
 * marked so: ... already applied at <now> by <this run>". The mark is now recognised as the
 * run's own; a second mark is still refused. */
Test(faults, applied_mark_whose_answer_was_lost_is_not_refused)
{
    fast_limits();
    struct store_fixture f;
    store_fixture_init(&f, "lost-mark");
    struct mi_faultproxy *az = f.az;
    struct mi_store *s = f.s, *direct = f.direct;
    cr_assert_eq(mi_store_put(direct, &f.keys, &f.b, f.plan), 0, "%s", mi_error_last());

    /* Get Blob Properties, then Set Blob Metadata: its answer is lost halfway. */
    mi_faultproxy_set(
        az, &(struct mi_fault){.kind = MI_FAULT_RESET, .after = 100, .skip = 1, .next = 1});
    cr_assert_eq(mi_store_mark_applied(s, "dev", PR, STORE_HEAD, "run 1"), 0, "%s",
                 mi_error_last());
    struct mi_faultproxy_stats st;
    mi_faultproxy_stats(az, &st);
    cr_assert_eq(st.resets, 1, "the fault did not fire");
    struct mi_store_entry entry;
    cr_assert_eq(mi_store_stat(direct, "dev", PR, STORE_HEAD, &entry), 0, "%s", mi_error_last());
    cr_assert_eq(entry.status, MI_STORE_APPLIED);
    cr_assert_str_eq(entry.status_by, "run 1");
    mi_store_entry_release(&entry);
    /* Applied once means once: the same run, or another, cannot mark it again. */
    cr_assert_eq(mi_store_mark_applied(s, "dev", PR, STORE_HEAD, "run 1"), MI_EREFUSED);
    cr_assert_eq(mi_store_mark_applied(s, "dev", PR, STORE_HEAD, "run 2"), MI_EREFUSED);
    store_fixture_free(&f);
}

/* The full form also faults the lease renewal of a running `mlinfra apply` (terraform apply
 * takes 12 s, the renewal comes after 10): the lock must hold, the apply complete and the
 * lock be free afterwards. 13 s a run, so not in the short form, which faults the renewal
 * thread directly (lease_renewal_survives_faults). */
Test(faults, apply_survives_faults_on_its_lease_renewal)
{
    if (!full_form())
        cr_skip_test("the full form only (MI_FAULTS_FULL=1)");
    static const char *const slow_env[] = {
        "MLINFRA_HTTP_STALL_TIMEOUT=1s", "MLINFRA_HTTP_RETRY_DELAY_MS=20",
        "TFDOUBLE_SLEEP_MS=12000", "TFDOUBLE_SLEEP_STEP=apply", NULL};
    static const char *const slow_stall_env[] = {
        "MLINFRA_HTTP_STALL_TIMEOUT=1s", "MLINFRA_HTTP_RETRY_DELAY_MS=20",
        "MLINFRA_HTTP_TIMEOUT=1s",       "TFDOUBLE_SLEEP_MS=12000",
        "TFDOUBLE_SLEEP_STEP=apply",     NULL};
    template_digest();
    struct rig g;
    rig_start(&g);
    struct tally t;
    tally_init(&t, "apply renewal");
    struct census c;
    clean_census(&g, APPLY, 0, &t, &c);
    /* terraform runs after the download; the next request to the store is the renewal. */
    size_t k = census_find(&c, "GET plan -> 200") + 1;
    cr_assert(k > 1, "no download in the clean run");
    census_release(&c);
    for (int kind = 0; kind < OUTAGE; kind++) {
        struct mi_fault f = fault_of((enum kind)kind, k, 300);
        struct scenario sc = {APPLY,   0,
                              &f,      kind_names[kind],
                              k,       "PUT lease .lock -> 200",
                              {1, -1}, kind == STALL_RESPONSE ? slow_stall_env : slow_env,
                              NULL,    NULL};
        struct census seen;
        run_scenario(&g, &sc, &t, &seen);
        /* A lease request that is not the last one (the release): the renewal. */
        int renewal = seen.n > k && strncmp(seen.items[k - 1].label, "PUT lease .lock ", 16) == 0;
        cr_assert(renewal, "connection %zu was not the renewal (%s)", k,
                  seen.n >= k ? seen.items[k - 1].request : "none");
        census_release(&seen);
    }
    rig_stop(&g);
    tally_finish(&t);
}
