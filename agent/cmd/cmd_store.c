/*
 * mlinfra store: the plan store for operators - list the sealed plans, fetch and verify one,
 * prune old ones, and see or break an environment's lock.
 *
 * Orchestration only: store/store.h does the work. Secrets that reach this process (account
 * key, SAS token, plan keys, tokens obtained by OIDC federation) are registered with
 * mi_log_mask before anything can print them.
 *
 * jansson: json_object_set_new / json_array_append_new take the reference of the value they
 * are given; each root is decref'd once where it is printed.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "remote/github.h"
#include "store/seal.h"
#include "store/store.h"
#include "util/duration.h"
#include "util/error.h"
#include "util/log.h"
#include "util/banned.h"

static const char usage[] =
    "usage: mlinfra store list   [--env NAME] [--json]\n"
    "   or: mlinfra store get    --env NAME --pr N --sha SHA --out PATH [--allow-applied]\n"
    "   or: mlinfra store prune  (--older-than AGE | --closed) [--env NAME] [--dry-run]\n"
    "   or: mlinfra store unlock --env NAME [--break]\n"
    "\n"
    "The plan store holds the sealed plans of a repository, one per environment, pull\n"
    "request and head commit, and each environment's lock (docs/sealed-plan-format.md).\n"
    "\n"
    "  list    the stored plans and their status (sealed, applied, failed), newest first;\n"
    "          needs no plan key\n"
    "  get     download a plan, verify it (key, binding, every chunk, SHA-256) and write it\n"
    "          to PATH; nothing is written unless it verifies. Needs MLINFRA_PLAN_KEY. An\n"
    "          applied plan is refused unless --allow-applied\n"
    "  prune   remove plans older than AGE (e.g. 30d, 12h, 45m, 90s) and, with --closed, the\n"
    "          plans of closed pull requests (asks GitHub; needs GITHUB_TOKEN)\n"
    "  unlock  show who holds an environment's lock; --break breaks it (only when the run\n"
    "          holding it is gone: the lock keeps two applies of one environment apart)\n"
    "\n"
    "options:\n"
    "  --repo OWNER/NAME   the repository (default: $GITHUB_REPOSITORY)\n"
    "  --store URL         file://PATH for a local store (default: $MLINFRA_STORE, else\n"
    "                      Azure Blob when AZURE_STORAGE_ACCOUNT or AZURE_STORAGE_BLOB_ENDPOINT\n"
    "                      is set, else file://.mlinfra/plans)\n"
    "  -h, --help          this text\n"
    "\n"
    "Azure settings: AZURE_STORAGE_ACCOUNT, AZURE_STORAGE_BLOB_ENDPOINT, AZURE_STORAGE_CONTAINER\n"
    "(default mlinfra-plans), and one of AZURE_STORAGE_KEY, AZURE_STORAGE_SAS_TOKEN, or\n"
    "AZURE_CLIENT_ID + AZURE_TENANT_ID (GitHub OIDC federation).\n"
    "\n"
    "exit codes: 0 done, 1 operational error (also: lock held, plan not found), 2 usage error,\n"
    "4 plan refused (does not verify, or already applied).\n";

struct options {
    const char *sub;
    const char *repo;
    const char *store;
    const char *env;
    const char *sha;
    const char *out;
    const char *older_than;
    long long pr;
    int json;
    int allow_applied;
    int dry_run;
    int closed;
    int brk;
};

static int take(int argc, char **argv, int *i, const char *name, const char **value, int *err)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *value = a + n + 1;
        return 1;
    }
    if (a[n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        *err = mi_cmd_usage_error("store", "%s needs a value", name);
        return 1;
    }
    *value = argv[++*i];
    return 1;
}

static int parse(struct options *o, int argc, char **argv)
{
    memset(o, 0, sizeof(*o));
    if (argc < 2)
        return mi_cmd_usage_error("store", "which subcommand: list, get, prune or unlock?");
    o->sub = argv[1];
    if (strcmp(o->sub, "list") && strcmp(o->sub, "get") && strcmp(o->sub, "prune") &&
        strcmp(o->sub, "unlock"))
        return mi_cmd_usage_error("store", "'%s' is not a subcommand", o->sub);
    for (int i = 2; i < argc; i++) {
        int err = 0;
        const char *pr = NULL;
        const char *a = argv[i];
        if (take(argc, argv, &i, "--repo", &o->repo, &err) ||
            take(argc, argv, &i, "--store", &o->store, &err) ||
            take(argc, argv, &i, "--env", &o->env, &err) ||
            take(argc, argv, &i, "--sha", &o->sha, &err) ||
            take(argc, argv, &i, "--out", &o->out, &err) ||
            take(argc, argv, &i, "--older-than", &o->older_than, &err)) {
            if (err)
                return err;
        } else if (take(argc, argv, &i, "--pr", &pr, &err)) {
            if (err)
                return err;
            char *end = NULL;
            o->pr = strtoll(pr, &end, 10);
            if (!end || *end || o->pr < 1)
                return mi_cmd_usage_error("store", "--pr '%s' is not a pull request number", pr);
        } else if (strcmp(a, "--json") == 0) {
            o->json = 1;
        } else if (strcmp(a, "--allow-applied") == 0) {
            o->allow_applied = 1;
        } else if (strcmp(a, "--dry-run") == 0) {
            o->dry_run = 1;
        } else if (strcmp(a, "--closed") == 0) {
            o->closed = 1;
        } else if (strcmp(a, "--break") == 0) {
            o->brk = 1;
        } else {
            return mi_cmd_usage_error("store", "unknown option '%s'", a);
        }
    }
    if (!o->repo)
        o->repo = getenv("GITHUB_REPOSITORY");
    if (!o->repo || !*o->repo)
        return mi_cmd_usage_error("store", "no repository: pass --repo OWNER/NAME or set "
                                           "GITHUB_REPOSITORY");
    if (strcmp(o->sub, "get") == 0 && (!o->env || !o->pr || !o->sha || !o->out))
        return mi_cmd_usage_error("store", "get needs --env, --pr, --sha and --out");
    if (strcmp(o->sub, "unlock") == 0 && !o->env)
        return mi_cmd_usage_error("store", "unlock needs --env");
    if (strcmp(o->sub, "prune") == 0 && !o->older_than && !o->closed)
        return mi_cmd_usage_error("store", "prune needs --older-than AGE, --closed, or both");
    return 0;
}

static json_t *entry_json(const struct mi_store_entry *e)
{
    const struct mi_seal_binding *b = &e->binding;
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(e->name));
    json_object_set_new(o, "environment",
                        b->environment ? json_string(b->environment) : json_null());
    json_object_set_new(o, "pr", json_integer(b->pr));
    json_object_set_new(o, "head_sha", b->head_sha ? json_string(b->head_sha) : json_null());
    json_object_set_new(o, "status", json_string(mi_store_status_name(e->status)));
    json_object_set_new(o, "created_at", b->created_at ? json_string(b->created_at) : json_null());
    json_object_set_new(o, "plan_sha256",
                        b->plan_sha256 ? json_string(b->plan_sha256) : json_null());
    json_object_set_new(o, "config_fingerprint",
                        b->config_fingerprint ? json_string(b->config_fingerprint) : json_null());
    json_object_set_new(o, "terraform_version",
                        b->terraform_version ? json_string(b->terraform_version) : json_null());
    json_object_set_new(o, "size", json_integer(e->size));
    if (e->status_at)
        json_object_set_new(o, "status_at", json_string(e->status_at));
    if (e->status_by)
        json_object_set_new(o, "status_by", json_string(e->status_by));
    if (e->status_detail)
        json_object_set_new(o, "status_detail", json_string(e->status_detail));
    return o;
}

static void print_json(json_t *root)
{
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    mi_buf safe = MI_BUF_INIT;
    mi_log_redact(&safe, text, strlen(text));
    printf("%s\n", safe.ptr);
    mi_buf_release(&safe);
    free(text);
    json_decref(root);
}

static int do_list(struct mi_store *s, const struct options *o)
{
    struct mi_store_list l;
    int rc = mi_store_list(s, o->env, &l);
    if (rc < 0)
        return mi_cmd_fail("store list", rc);
    if (o->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < l.len; i++)
            json_array_append_new(arr, entry_json(&l.items[i]));
        print_json(arr);
    } else {
        printf("%-16s %6s  %-12s  %-8s  %-20s  %-12s  %s\n", "ENVIRONMENT", "PR", "COMMIT",
               "STATUS", "CREATED", "PLAN", "SIZE");
        for (size_t i = 0; i < l.len; i++) {
            const struct mi_store_entry *e = &l.items[i];
            const struct mi_seal_binding *b = &e->binding;
            printf("%-16s %6lld  %-12.12s  %-8s  %-20s  %-12.12s  %lld\n",
                   b->environment ? b->environment : "?", b->pr, b->head_sha ? b->head_sha : "?",
                   mi_store_status_name(e->status), b->created_at ? b->created_at : "?",
                   b->plan_sha256 ? b->plan_sha256 : "?", e->size);
        }
    }
    mi_log_info("%zu plan(s) of %s in %s", l.len, o->repo, mi_store_describe(s));
    mi_store_list_release(&l);
    return MI_EXIT_OK;
}

static int do_get(struct mi_store *s, const struct options *o)
{
    struct mi_seal_keyring keys;
    int rc = mi_seal_keyring_from_env(&keys);
    if (rc < 0)
        return mi_cmd_fail("store get", rc);
    struct mi_seal_expect e = {o->repo, o->env, o->pr, o->sha, NULL};
    struct mi_store_entry entry;
    rc = mi_store_get(s, &keys, &e, o->out, o->allow_applied, &entry);
    mi_seal_keyring_wipe(&keys);
    if (rc < 0)
        return mi_cmd_fail("store get", rc);
    mi_log_notice("verified the plan for environment '%s', PR #%lld, commit %.12s (plan "
                  "SHA-256 %s) and wrote it to %s",
                  o->env, o->pr, o->sha, entry.binding.plan_sha256, o->out);
    print_json(entry_json(&entry));
    mi_store_entry_release(&entry);
    return MI_EXIT_OK;
}

struct closed_ctx {
    mi_github *gh;
    long long *known;
    int *state; /* 1 closed, 0 open */
    size_t len;
};

static int pr_closed(void *ctx, const char *environment, long long pr, int *closed)
{
    (void)environment;
    struct closed_ctx *c = ctx;
    for (size_t i = 0; i < c->len; i++) {
        if (c->known[i] == pr) {
            *closed = c->state[i];
            return 0;
        }
    }
    struct mi_github_pull *p = NULL;
    int rc = mi_github_pull_get(&p, c->gh, pr);
    if (rc < 0)
        return rc;
    *closed = p->state && strcmp(p->state, "closed") == 0;
    mi_github_pull_free(p);
    c->known = mi_xrealloc(c->known, (c->len + 1) * sizeof(*c->known));
    c->state = mi_xrealloc(c->state, (c->len + 1) * sizeof(*c->state));
    c->known[c->len] = pr;
    c->state[c->len] = *closed;
    c->len++;
    return 0;
}

static int do_prune(struct mi_store *s, const struct options *o)
{
    struct mi_store_prune_options po = {.environment = o->env, .dry_run = o->dry_run};
    struct closed_ctx cc = {0};
    int rc = 0;
    if (o->older_than) {
        long long age_s = 0;
        if (mi_duration_parse(&age_s, o->older_than) < 0)
            return mi_cmd_usage_error("store",
                                      "--older-than '%s' is not an age like 30d, 12h, "
                                      "45m or 90s",
                                      o->older_than);
        po.older_than_s = age_s;
    }
    if (o->closed) {
        struct mi_github_options go;
        mi_github_options_from_env(&go);
        go.repository = o->repo;
        if ((rc = mi_github_new(&cc.gh, &go)) < 0)
            return mi_cmd_fail("store prune", rc);
        po.is_closed = pr_closed;
        po.ctx = &cc;
    }
    struct mi_store_list removed;
    rc = mi_store_prune(s, &po, &removed);
    mi_github_free(cc.gh);
    free(cc.known);
    free(cc.state);
    if (rc < 0)
        return mi_cmd_fail("store prune", rc);
    for (size_t i = 0; i < removed.len; i++)
        printf("%s\n", removed.items[i].name);
    mi_log_info("%s %zu plan(s) from %s", o->dry_run ? "would remove" : "removed", removed.len,
                mi_store_describe(s));
    mi_store_list_release(&removed);
    return MI_EXIT_OK;
}

static int do_unlock(struct mi_store *s, const struct options *o)
{
    struct mi_store_lock_info info;
    int rc = mi_store_lock_info(s, o->env, &info);
    if (rc < 0)
        return mi_cmd_fail("store unlock", rc);
    printf("environment %s: %s%s%s%s%s\n", o->env, info.locked ? "locked" : "not locked",
           info.holder && info.locked ? " by " : "", info.holder && info.locked ? info.holder : "",
           info.since && info.locked ? " since " : "", info.since && info.locked ? info.since : "");
    int locked = info.locked;
    mi_store_lock_info_release(&info);
    if (!locked)
        return MI_EXIT_OK;
    if (!o->brk) {
        mi_log_warn("the lock on environment '%s' is held; if the run holding it is gone, "
                    "break it with `mlinfra store unlock --env %s --break`",
                    o->env, o->env);
        return MI_EXIT_ERROR;
    }
    rc = mi_store_break_lock(s, o->env);
    if (rc < 0)
        return mi_cmd_fail("store unlock", rc);
    mi_log_notice("broke the lock on environment '%s'", o->env);
    return MI_EXIT_OK;
}

int mi_cmd_store(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return MI_EXIT_OK;
        }
    }
    struct options o;
    int rc = parse(&o, argc, argv);
    if (rc)
        return rc;
    mi_cmd_mask_secret_env();
    struct mi_store_config cfg;
    mi_store_config_from_env(&cfg);
    if (o.store)
        cfg.url = o.store;
    cfg.on_secret = mi_cmd_mask_secret;
    struct mi_store *s = NULL;
    if ((rc = mi_store_open(&s, &cfg, o.repo)) < 0)
        return mi_cmd_fail("store", rc);
    int exit_code;
    if (strcmp(o.sub, "list") == 0)
        exit_code = do_list(s, &o);
    else if (strcmp(o.sub, "get") == 0)
        exit_code = do_get(s, &o);
    else if (strcmp(o.sub, "prune") == 0)
        exit_code = do_prune(s, &o);
    else
        exit_code = do_unlock(s, &o);
    mi_store_free(s);
    return exit_code;
}
