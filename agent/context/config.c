/*
 * config.c - loading mlinfra.yml with libyaml's document API.
 *
 * The document is loaded whole (it is small and capped), then walked against the schema
 * below. The walk is bounded by the schema's depth, so aliases (even recursive ones, which
 * libyaml can build) cannot make it loop or blow up: every level expects a known shape.
 */
#include "context/config.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "context/context.h"
#include "context/path.h"
#include "util/buf.h"
#include "util/duration.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/banned.h"

/* ---------------------------------------------------------------------------------------
 * Life cycle.
 */

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void env_release(struct mi_config_env *e)
{
    free(e->name);
    free(e->branch);
    free(e->directory);
    free_list(e->watch, e->nwatch);
    free_list(e->outputs, e->noutputs);
}

void mi_config_free(struct mi_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->path);
    free(cfg->environments_dir);
    for (size_t i = 0; i < cfg->nenvs; i++)
        env_release(&cfg->envs[i]);
    free(cfg->envs);
    free(cfg->default_branch);
    free_list(cfg->default_watch, cfg->ndefault_watch);
    free_list(cfg->default_outputs, cfg->ndefault_outputs);
    free(cfg->policies_dir);
    free(cfg->change_windows);
    free(cfg->terraform_binary);
    free(cfg->plan_store.backend);
    free(cfg->plan_store.account);
    free(cfg->plan_store.container);
    free(cfg->plan_store.endpoint);
    free(cfg->plan_store.path);
    free(cfg->apply.health_check.output);
    free(cfg->apply.health_check.path);
    free_list(cfg->warnings, cfg->nwarnings);
    free(cfg);
}

static struct mi_config *config_new(void)
{
    struct mi_config *cfg = mi_xcalloc(1, sizeof(*cfg));
    cfg->environments_dir = mi_xstrdup("environments");
    cfg->policies_dir = mi_xstrdup("policies");
    cfg->change_windows = mi_xstrdup("policies/change-windows.yml");
    cfg->apply.plan_max_age_s = MI_CONFIG_PLAN_MAX_AGE_S;
    cfg->apply.deployments = 1;
    cfg->apply.health_check.tries = MI_CONFIG_HEALTH_TRIES;
    cfg->apply.health_check.timeout_s = MI_CONFIG_HEALTH_TIMEOUT_S;
    return cfg;
}

static char **copy_list(char **v, size_t n)
{
    if (!n)
        return NULL;
    char **c = mi_xcalloc(n, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        c[i] = mi_xstrdup(v[i]);
    return c;
}

const struct mi_config_env *mi_config_env_find(const struct mi_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nenvs; i++)
        if (strcmp(cfg->envs[i].name, name) == 0)
            return &cfg->envs[i];
    return NULL;
}

/* ---------------------------------------------------------------------------------------
 * Walking the YAML document.
 */

struct walk {
    yaml_document_t *doc;
    const char *file;
};

static int line_of(yaml_node_t *n)
{
    return (int)n->start_mark.line + 1;
}

static int fail(struct walk *w, yaml_node_t *n, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(struct walk *w, yaml_node_t *n, const char *key, const char *fmt, ...)
{
    mi_buf msg = MI_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    mi_buf_vaddf(&msg, fmt, ap);
    va_end(ap);
    int rc = mi_error_set(MI_EUSAGE, "config: %s:%d: %s: %s", w->file, line_of(n), key, msg.ptr);
    mi_buf_release(&msg);
    return rc;
}

static const char *scalar(yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

static int is_null(yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    const char *s = scalar(n);
    return !*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
           strcmp(s, "NULL") == 0;
}

static const char *kind_of(yaml_node_t *n)
{
    if (n->type == YAML_MAPPING_NODE)
        return "a mapping";
    if (n->type == YAML_SEQUENCE_NODE)
        return "a list";
    if (is_null(n))
        return "nothing (null)";
    return "a scalar";
}

/* Scalars may not hold NUL or other control characters (tabs aside): they end up in paths,
 * names and messages. libyaml's length tells us about embedded NULs. */
static int clean_scalar(struct walk *w, yaml_node_t *n, const char *key)
{
    if (strlen(scalar(n)) != n->data.scalar.length)
        return fail(w, n, key, "contains a NUL character");
    for (const unsigned char *p = (const unsigned char *)scalar(n); *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return fail(w, n, key, "contains a control character");
    return 0;
}

static int get_string(struct walk *w, yaml_node_t *n, const char *key, char **out)
{
    if (n->type != YAML_SCALAR_NODE || is_null(n))
        return fail(w, n, key, "expected a string, got %s", kind_of(n));
    int rc = clean_scalar(w, n, key);
    if (rc)
        return rc;
    free(*out);
    *out = mi_xstrdup(scalar(n));
    return 0;
}

static int get_bool(struct walk *w, yaml_node_t *n, const char *key, int *out)
{
    if (n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        const char *s = scalar(n);
        if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) {
            *out = 1;
            return 0;
        }
        if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) {
            *out = 0;
            return 0;
        }
    }
    if (n->type == YAML_SCALAR_NODE)
        return fail(w, n, key, "expected true or false, got '%s'", scalar(n));
    return fail(w, n, key, "expected true or false, got %s", kind_of(n));
}

typedef int (*item_check)(struct walk *w, yaml_node_t *n, const char *key, char **value);

/* A list of strings; a single string is accepted as a list of one. Each item goes through
 * check (which may rewrite it, e.g. normalize a path). */
static int get_list(struct walk *w, yaml_node_t *n, const char *key, item_check check, char ***out,
                    size_t *nout)
{
    free_list(*out, *nout);
    *out = NULL;
    *nout = 0;
    yaml_node_item_t *items = NULL;
    size_t count = 0;
    if (n->type == YAML_SEQUENCE_NODE) {
        items = n->data.sequence.items.start;
        count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    } else if (n->type != YAML_SCALAR_NODE || is_null(n)) {
        return fail(w, n, key, "expected a list of strings, got %s", kind_of(n));
    }
    size_t total = items ? count : 1;
    char **v = mi_xcalloc(total, sizeof(char *));
    int rc = 0;
    size_t i = 0;
    for (; i < total; i++) {
        yaml_node_t *item = items ? yaml_document_get_node(w->doc, items[i]) : n;
        mi_buf k = MI_BUF_INIT;
        mi_buf_addf(&k, "%s[%zu]", key, i);
        rc = get_string(w, item, k.ptr, &v[i]);
        if (!rc && check)
            rc = check(w, item, k.ptr, &v[i]);
        mi_buf_release(&k);
        if (rc)
            break;
    }
    if (rc) {
        free_list(v, total);
        return rc;
    }
    *out = v;
    *nout = total;
    return 0;
}

/* Iterates a mapping: for each pair calls fn with the key text. Keys must be plain strings,
 * and a key may appear once. */
typedef int (*pair_fn)(struct walk *w, void *ctx, const char *path, const char *key,
                       yaml_node_t *knode, yaml_node_t *value);

static int walk_mapping(struct walk *w, yaml_node_t *n, const char *path, pair_fn fn, void *ctx)
{
    if (n->type != YAML_MAPPING_NODE)
        return fail(w, n, path, "expected a mapping, got %s", kind_of(n));
    yaml_node_pair_t *start = n->data.mapping.pairs.start;
    yaml_node_pair_t *top = n->data.mapping.pairs.top;
    for (yaml_node_pair_t *p = start; p < top; p++) {
        yaml_node_t *k = yaml_document_get_node(w->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(w->doc, p->value);
        if (!k || !v)
            return mi_error_set(MI_EUSAGE, "config: %s: %s: broken document", w->file, path);
        if (k->type != YAML_SCALAR_NODE)
            return fail(w, k, path, "keys must be strings, got %s", kind_of(k));
        int rc = clean_scalar(w, k, path);
        if (rc)
            return rc;
        for (yaml_node_pair_t *q = start; q < p; q++) {
            yaml_node_t *k2 = yaml_document_get_node(w->doc, q->key);
            if (k2 && k2->type == YAML_SCALAR_NODE && strcmp(scalar(k2), scalar(k)) == 0)
                return fail(w, k, path, "key '%s' appears twice (first on line %d)", scalar(k),
                            line_of(k2));
        }
        if ((rc = fn(w, ctx, path, scalar(k), k, v)))
            return rc;
    }
    return 0;
}

static int unknown_key(struct walk *w, yaml_node_t *k, const char *path, const char *key,
                       const char *known)
{
    if (!*path)
        return mi_error_set(MI_EUSAGE, "config: %s:%d: unknown key '%s' (expected one of: %s)",
                            w->file, line_of(k), key, known);
    return mi_error_set(MI_EUSAGE, "config: %s:%d: %s: unknown key '%s' (expected one of: %s)",
                        w->file, line_of(k), path, key, known);
}

static char *key_path(const char *path, const char *key)
{
    return *path ? mi_xasprintf("%s.%s", path, key) : mi_xstrdup(key);
}

/* ---------------------------------------------------------------------------------------
 * Value checks.
 */

static int check_repo_path(struct walk *w, yaml_node_t *n, const char *key, char **value)
{
    char *norm = NULL;
    int rc = mi_path_normalize(&norm, *value);
    if (rc)
        return fail(w, n, key, "%s", mi_error_last());
    if (!*norm) {
        free(norm);
        return fail(w, n, key, "'%s' names the repository root; name a folder or file in it",
                    *value);
    }
    free(*value);
    *value = norm;
    return 0;
}

static int check_watch(struct walk *w, yaml_node_t *n, const char *key, char **value)
{
    /* A watch pattern is a path that may hold globs; the same normalization applies, which
     * also refuses '..' climbing out of the repository. */
    return check_repo_path(w, n, key, value);
}

static int check_output_name(struct walk *w, yaml_node_t *n, const char *key, char **value)
{
    const char *s = *value;
    int ok = *s && !(s[0] >= '0' && s[0] <= '9') && s[0] != '-' && strlen(s) <= 128;
    for (; ok && *s; s++)
        ok = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
             *s == '_' || *s == '-';
    if (!ok)
        return fail(w, n, key, "'%s' is not a terraform output name", *value);
    return 0;
}

static int check_branch(struct walk *w, yaml_node_t *n, const char *key, char *value)
{
    if (!mi_context_branch_valid(value))
        return fail(w, n, key, "'%s' is not a valid branch name", value);
    return 0;
}

/* ---------------------------------------------------------------------------------------
 * The schema.
 */

/* Fills what an environment left unset from the defaults. */
static void apply_defaults(struct mi_config *cfg, struct mi_config_env *e, int has_watch,
                           int has_outputs, int has_approval)
{
    if (!e->branch)
        e->branch = mi_xstrdup(cfg->default_branch ? cfg->default_branch : e->name);
    if (!e->directory)
        e->directory = mi_xasprintf("%s/%s", cfg->environments_dir, e->name);
    if (!has_watch) {
        e->watch = copy_list(cfg->default_watch, cfg->ndefault_watch);
        e->nwatch = cfg->ndefault_watch;
    }
    if (!has_outputs) {
        e->outputs = copy_list(cfg->default_outputs, cfg->ndefault_outputs);
        e->noutputs = cfg->ndefault_outputs;
    }
    if (!has_approval)
        e->require_approval = cfg->default_require_approval;
}

struct env_ctx {
    struct mi_config_env *env;
    int has_branch, has_dir, has_watch, has_outputs, has_approval;
};

static int env_pair(struct walk *w, void *vctx, const char *path, const char *key, yaml_node_t *k,
                    yaml_node_t *v)
{
    struct env_ctx *c = vctx;
    char *kp = key_path(path, key);
    int rc;
    if (!strcmp(key, "branch")) {
        rc = get_string(w, v, kp, &c->env->branch);
        if (!rc)
            rc = check_branch(w, v, kp, c->env->branch);
        c->has_branch = 1;
    } else if (!strcmp(key, "directory")) {
        rc = get_string(w, v, kp, &c->env->directory);
        if (!rc)
            rc = check_repo_path(w, v, kp, &c->env->directory);
        c->has_dir = 1;
    } else if (!strcmp(key, "watch")) {
        rc = get_list(w, v, kp, check_watch, &c->env->watch, &c->env->nwatch);
        c->has_watch = 1;
    } else if (!strcmp(key, "outputs")) {
        rc = get_list(w, v, kp, check_output_name, &c->env->outputs, &c->env->noutputs);
        c->has_outputs = 1;
    } else if (!strcmp(key, "require_approval")) {
        rc = get_bool(w, v, kp, &c->env->require_approval);
        c->has_approval = 1;
    } else {
        rc = unknown_key(w, k, path, key, "branch, directory, watch, outputs, require_approval");
    }
    free(kp);
    return rc;
}

static int environments_pair(struct walk *w, void *vctx, const char *path, const char *key,
                             yaml_node_t *k, yaml_node_t *v)
{
    struct mi_config *cfg = vctx;
    char *kp = key_path(path, key);
    int rc = 0;
    if (!mi_path_env_name_valid(key)) {
        rc = fail(w, k, kp,
                  "'%s' is not a valid environment name (expected [a-z0-9][a-z0-9_-]*, at most "
                  "%d characters)",
                  key, MI_ENV_NAME_MAX);
        goto done;
    }
    cfg->envs = mi_xrealloc(cfg->envs, (cfg->nenvs + 1) * sizeof(*cfg->envs));
    struct mi_config_env *e = &cfg->envs[cfg->nenvs++];
    memset(e, 0, sizeof(*e));
    e->name = mi_xstrdup(key);
    e->line = line_of(k);
    struct env_ctx c = {e, 0, 0, 0, 0, 0};
    /* "dev:" with nothing under it takes every default. The defaults section has been read
     * already (first pass), wherever it stands in the file. */
    if (!is_null(v) && (rc = walk_mapping(w, v, kp, env_pair, &c)))
        goto done;
    apply_defaults(cfg, e, c.has_watch, c.has_outputs, c.has_approval);
done:
    free(kp);
    return rc;
}

static int defaults_pair(struct walk *w, void *vctx, const char *path, const char *key,
                         yaml_node_t *k, yaml_node_t *v)
{
    struct mi_config *cfg = vctx;
    char *kp = key_path(path, key);
    int rc;
    if (!strcmp(key, "branch")) {
        rc = get_string(w, v, kp, &cfg->default_branch);
        if (!rc)
            rc = check_branch(w, v, kp, cfg->default_branch);
    } else if (!strcmp(key, "watch")) {
        rc = get_list(w, v, kp, check_watch, &cfg->default_watch, &cfg->ndefault_watch);
    } else if (!strcmp(key, "outputs")) {
        rc = get_list(w, v, kp, check_output_name, &cfg->default_outputs, &cfg->ndefault_outputs);
    } else if (!strcmp(key, "require_approval")) {
        rc = get_bool(w, v, kp, &cfg->default_require_approval);
    } else {
        rc = unknown_key(w, k, path, key, "branch, watch, outputs, require_approval");
    }
    free(kp);
    return rc;
}

static int policies_pair(struct walk *w, void *vctx, const char *path, const char *key,
                         yaml_node_t *k, yaml_node_t *v)
{
    struct mi_config *cfg = vctx;
    char *kp = key_path(path, key);
    int rc;
    if (!strcmp(key, "directory")) {
        rc = get_string(w, v, kp, &cfg->policies_dir);
        if (!rc)
            rc = check_repo_path(w, v, kp, &cfg->policies_dir);
    } else if (!strcmp(key, "change_windows")) {
        rc = get_string(w, v, kp, &cfg->change_windows);
        if (!rc)
            rc = check_repo_path(w, v, kp, &cfg->change_windows);
    } else {
        rc = unknown_key(w, k, path, key, "directory, change_windows");
    }
    free(kp);
    return rc;
}

static int terraform_pair(struct walk *w, void *vctx, const char *path, const char *key,
                          yaml_node_t *k, yaml_node_t *v)
{
    struct mi_config *cfg = vctx;
    char *kp = key_path(path, key);
    int rc;
    if (!strcmp(key, "binary")) {
        rc = get_string(w, v, kp, &cfg->terraform_binary);
        if (!rc && (!*cfg->terraform_binary || strchr(cfg->terraform_binary, '\t')))
            rc = fail(w, v, kp, "'%s' is not a program name or path", cfg->terraform_binary);
    } else {
        rc = unknown_key(w, k, path, key, "binary");
    }
    free(kp);
    return rc;
}

static int all_of(const char *s, const char *set)
{
    return *s && strspn(s, set) == strlen(s);
}

static int plan_store_pair(struct walk *w, void *vctx, const char *path, const char *key,
                           yaml_node_t *k, yaml_node_t *v)
{
    struct mi_config *cfg = vctx;
    struct mi_config_plan_store *ps = &cfg->plan_store;
    char *kp = key_path(path, key);
    int rc;
    static const char lower_digits[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    if (!strcmp(key, "backend")) {
        rc = get_string(w, v, kp, &ps->backend);
        if (!rc && strcmp(ps->backend, "azure") && strcmp(ps->backend, "local"))
            rc = fail(w, v, kp, "'%s' is not a backend (expected azure or local)", ps->backend);
    } else if (!strcmp(key, "account")) {
        rc = get_string(w, v, kp, &ps->account);
        size_t n = rc ? 0 : strlen(ps->account);
        if (!rc && (n < 3 || n > 24 || !all_of(ps->account, lower_digits)))
            rc = fail(w, v, kp,
                      "'%s' is not a storage account name (3-24 lowercase letters and digits)",
                      ps->account);
    } else if (!strcmp(key, "container")) {
        rc = get_string(w, v, kp, &ps->container);
        const char *s = ps->container;
        size_t n = rc ? 0 : strlen(s);
        if (!rc && (n < 3 || n > 63 || !all_of(s, "abcdefghijklmnopqrstuvwxyz0123456789-") ||
                    s[0] == '-' || s[n - 1] == '-' || strstr(s, "--")))
            rc = fail(w, v, kp,
                      "'%s' is not a container name (3-63 lowercase letters, digits and single "
                      "hyphens)",
                      s);
    } else if (!strcmp(key, "endpoint")) {
        rc = get_string(w, v, kp, &ps->endpoint);
        if (!rc && strncmp(ps->endpoint, "https://", 8) && strncmp(ps->endpoint, "http://", 7))
            rc = fail(w, v, kp, "'%s' is not an http(s) URL", ps->endpoint);
        if (!rc && strpbrk(ps->endpoint, " \t"))
            rc = fail(w, v, kp, "'%s' contains white space", ps->endpoint);
    } else if (!strcmp(key, "path")) {
        rc = get_string(w, v, kp, &ps->path);
    } else {
        rc = unknown_key(w, k, path, key, "backend, account, container, endpoint, path");
    }
    free(kp);
    return rc;
}

/* A duration ("7d", "36h", "90m", "600s", util/duration.h) of at most max_s seconds; with
 * allow_never, "never" gives -1. */
static int get_duration(struct walk *w, yaml_node_t *n, const char *key, long long max_s,
                        int allow_never, long long *out)
{
    if (n->type != YAML_SCALAR_NODE || is_null(n))
        return fail(w, n, key, "expected a duration like 7d, 36h, 90m or 600s, got %s", kind_of(n));
    if (allow_never && !strcmp(scalar(n), "never")) {
        *out = -1;
        return 0;
    }
    long long v = 0;
    if (mi_duration_parse(&v, scalar(n)) < 0)
        return fail(w, n, key, "%s", mi_error_last());
    if (v > max_s)
        return fail(w, n, key, "'%s' is longer than the limit of %lld seconds", scalar(n), max_s);
    *out = v;
    return 0;
}

static int get_int(struct walk *w, yaml_node_t *n, const char *key, int lo, int hi, int *out)
{
    if (n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        const char *s = scalar(n);
        char *end = NULL;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (!errno && end != s && !*end && s[0] >= '0' && s[0] <= '9' && v >= lo && v <= hi) {
            *out = (int)v;
            return 0;
        }
        return fail(w, n, key, "expected a whole number from %d to %d, got '%s'", lo, hi, s);
    }
    return fail(w, n, key, "expected a whole number from %d to %d, got %s", lo, hi, kind_of(n));
}

static int health_check_pair(struct walk *w, void *vctx, const char *path, const char *key,
                             yaml_node_t *k, yaml_node_t *v)
{
    struct mi_config_health_check *hc = vctx;
    char *kp = key_path(path, key);
    int rc;
    if (!strcmp(key, "enabled")) {
        rc = get_bool(w, v, kp, &hc->enabled);
    } else if (!strcmp(key, "output")) {
        rc = get_string(w, v, kp, &hc->output);
        if (!rc)
            rc = check_output_name(w, v, kp, &hc->output);
    } else if (!strcmp(key, "path")) {
        rc = get_string(w, v, kp, &hc->path);
        if (!rc && (hc->path[0] != '/' || strpbrk(hc->path, " \t#")))
            rc = fail(w, v, kp,
                      "'%s' is not a URL path (it starts with '/' and has no spaces "
                      "or '#')",
                      hc->path);
    } else if (!strcmp(key, "tries")) {
        rc = get_int(w, v, kp, 1, 100, &hc->tries);
    } else if (!strcmp(key, "timeout")) {
        rc = get_duration(w, v, kp, 3600, 0, &hc->timeout_s);
    } else if (!strcmp(key, "fail_on_unreachable")) {
        rc = get_bool(w, v, kp, &hc->fail_on_unreachable);
    } else {
        rc = unknown_key(w, k, path, key,
                         "enabled, output, path, tries, timeout, fail_on_unreachable");
    }
    free(kp);
    return rc;
}

static int apply_pair(struct walk *w, void *vctx, const char *path, const char *key, yaml_node_t *k,
                      yaml_node_t *v)
{
    struct mi_config *cfg = vctx;
    char *kp = key_path(path, key);
    int rc;
    if (!strcmp(key, "plan_max_age")) {
        rc = get_duration(w, v, kp, 3650LL * 86400, 1, &cfg->apply.plan_max_age_s);
    } else if (!strcmp(key, "deployments")) {
        rc = get_bool(w, v, kp, &cfg->apply.deployments);
    } else if (!strcmp(key, "health_check")) {
        /* Off unless configured: `health_check: true` probes with the defaults, a mapping
         * turns it on with its settings (unless it says `enabled: false`). A probe nobody
         * asked for could hold every apply for minutes against a private address. */
        if (v->type == YAML_SCALAR_NODE && !is_null(v)) {
            rc = get_bool(w, v, kp, &cfg->apply.health_check.enabled);
        } else if (is_null(v)) {
            rc = 0;
        } else {
            cfg->apply.health_check.enabled = 1;
            rc = walk_mapping(w, v, kp, health_check_pair, &cfg->apply.health_check);
        }
    } else {
        rc = unknown_key(w, k, path, key, "plan_max_age, deployments, health_check");
    }
    free(kp);
    return rc;
}

struct top_ctx {
    struct mi_config *cfg;
    int pass; /* 1: defaults and environments_dir, which environments build on; 2: the rest */
};

static int top_pair(struct walk *w, void *vctx, const char *path, const char *key, yaml_node_t *k,
                    yaml_node_t *v)
{
    struct top_ctx *t = vctx;
    struct mi_config *cfg = t->cfg;
    int first = !strcmp(key, "defaults") || !strcmp(key, "environments_dir");
    if (first != (t->pass == 1))
        return 0;
    if (!strcmp(key, "version")) {
        if (v->type != YAML_SCALAR_NODE || strcmp(scalar(v), "1") != 0)
            return fail(w, v, "version", "unsupported version %s (this agent reads version 1)",
                        v->type == YAML_SCALAR_NODE ? scalar(v) : kind_of(v));
        return 0;
    }
    if (!strcmp(key, "environments_dir")) {
        int rc = get_string(w, v, key, &cfg->environments_dir);
        return rc ? rc : check_repo_path(w, v, key, &cfg->environments_dir);
    }
    if (!strcmp(key, "environments")) {
        cfg->envs_explicit = 1;
        if (is_null(v))
            return 0;
        return walk_mapping(w, v, key, environments_pair, cfg);
    }
    if (!strcmp(key, "defaults"))
        return is_null(v) ? 0 : walk_mapping(w, v, key, defaults_pair, cfg);
    if (!strcmp(key, "policies"))
        return is_null(v) ? 0 : walk_mapping(w, v, key, policies_pair, cfg);
    if (!strcmp(key, "terraform"))
        return is_null(v) ? 0 : walk_mapping(w, v, key, terraform_pair, cfg);
    if (!strcmp(key, "plan_store"))
        return is_null(v) ? 0 : walk_mapping(w, v, key, plan_store_pair, cfg);
    if (!strcmp(key, "apply"))
        return is_null(v) ? 0 : walk_mapping(w, v, key, apply_pair, cfg);
    return unknown_key(w, k, path, key,
                       "version, environments_dir, defaults, environments, policies, "
                       "terraform, plan_store, apply");
}

static int finish_envs(struct mi_config *cfg, const char *file)
{
    for (size_t i = 0; i < cfg->nenvs; i++) {
        for (size_t j = 0; j < i; j++) {
            const struct mi_config_env *a = &cfg->envs[j], *b = &cfg->envs[i];
            if (strcmp(a->directory, b->directory) == 0)
                return mi_error_set(MI_EUSAGE,
                                    "config: %s:%d: environments.%s.directory: '%s' is already "
                                    "the directory of environment '%s' (line %d)",
                                    file, b->line, b->name, b->directory, a->name, a->line);
        }
    }
    return 0;
}

int mi_config_parse(struct mi_config **out, const char *text, size_t len, const char *name)
{
    *out = NULL;
    yaml_parser_t parser;
    yaml_document_t doc, extra;
    int have_doc = 0, have_extra = 0, rc = 0;
    struct mi_config *cfg = config_new();
    cfg->path = mi_xstrdup(name);
    cfg->from_file = 1;

    if (len > MI_CONFIG_MAX_BYTES) {
        rc = mi_error_set(MI_EUSAGE, "config: %s: larger than %u bytes", name, MI_CONFIG_MAX_BYTES);
        goto done;
    }
    if (!yaml_parser_initialize(&parser))
        abort(); /* only fails on out of memory */
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        rc = mi_error_set(MI_EUSAGE, "config: %s:%zu:%zu: malformed YAML: %s%s%s", name,
                          parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                          parser.problem ? parser.problem : "unknown problem",
                          parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        goto done;
    }
    have_doc = 1;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root) {
        /* A second document would be silently ignored by a reader that stops at the first;
         * say so instead. */
        if (!yaml_parser_load(&parser, &extra)) {
            rc = mi_error_set(MI_EUSAGE, "config: %s:%zu:%zu: malformed YAML: %s", name,
                              parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                              parser.problem ? parser.problem : "unknown problem");
        } else {
            have_extra = 1;
            yaml_node_t *r2 = yaml_document_get_root_node(&extra);
            if (r2)
                rc = mi_error_set(MI_EUSAGE,
                                  "config: %s:%d: a second YAML document; mlinfra.yml holds one",
                                  name, line_of(r2));
        }
    }
    yaml_parser_delete(&parser);
    if (rc)
        goto done;
    if (root && !is_null(root)) {
        struct walk w = {&doc, name};
        if (root->type != YAML_MAPPING_NODE) {
            rc = mi_error_set(MI_EUSAGE, "config: %s:%d: the top level must be a mapping, got %s",
                              name, line_of(root), kind_of(root));
            goto done;
        }
        struct top_ctx t = {cfg, 1};
        if ((rc = walk_mapping(&w, root, "", top_pair, &t)))
            goto done;
        t.pass = 2;
        if ((rc = walk_mapping(&w, root, "", top_pair, &t)))
            goto done;
    }
    rc = finish_envs(cfg, name);

done:
    if (have_doc)
        yaml_document_delete(&doc);
    if (have_extra)
        yaml_document_delete(&extra);
    if (rc) {
        mi_config_free(cfg);
    } else {
        *out = cfg;
    }
    return rc;
}

int mi_config_load(struct mi_config **out, const char *path, const char *name, int required)
{
    *out = NULL;
    mi_buf text = MI_BUF_INIT;
    int rc = mi_fs_read_file(&text, path, MI_CONFIG_MAX_BYTES);
    if (rc == MI_ENOTFOUND && !required) {
        *out = config_new();
        rc = 0;
    } else if (rc) {
        mi_error_prefix("config");
        if (rc == MI_ENOTFOUND)
            rc = MI_EUSAGE;
    } else {
        rc = mi_config_parse(out, text.ptr, text.len, name ? name : path);
    }
    mi_buf_release(&text);
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void warn(struct mi_config *cfg, char *msg)
{
    cfg->warnings = mi_xrealloc(cfg->warnings, (cfg->nwarnings + 1) * sizeof(char *));
    cfg->warnings[cfg->nwarnings++] = msg;
}

int mi_config_discover(struct mi_config *cfg, const char *workdir)
{
    if (cfg->envs_explicit)
        return 0;
    char *root = mi_fs_join(workdir, cfg->environments_dir);
    char **names = NULL;
    size_t n = 0;
    int rc = 0;
    struct stat rst;
    if (lstat(root, &rst) == 0 && S_ISLNK(rst.st_mode)) {
        /* The working tree is the pull request's: a link could point anywhere. */
        warn(cfg, mi_xasprintf("%s is a symbolic link: no environments discovered",
                               cfg->environments_dir));
        goto done;
    }
    DIR *d = opendir(root);
    if (!d) {
        if (errno != ENOENT && errno != ENOTDIR)
            rc = mi_error_errno(MI_ERR, "config: cannot list '%s'", root);
        goto done;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        /* The entry's type comes with it on most file systems; lstat only when it does not. */
        int is_dir = de->d_type == DT_DIR, is_link = de->d_type == DT_LNK;
        if (de->d_type == DT_UNKNOWN) {
            char *full = mi_fs_join(root, de->d_name);
            struct stat st;
            int got = lstat(full, &st) == 0;
            is_dir = got && S_ISDIR(st.st_mode);
            is_link = got && S_ISLNK(st.st_mode);
            free(full);
        }
        if (is_link) {
            warn(cfg, mi_xasprintf("%s/%s is a symbolic link, not taken as an environment",
                                   cfg->environments_dir, de->d_name));
            continue;
        }
        if (!is_dir)
            continue;
        if (!mi_path_env_name_valid(de->d_name)) {
            warn(cfg, mi_xasprintf("%s/%s is not taken as an environment: its name is not "
                                   "[a-z0-9][a-z0-9_-]*",
                                   cfg->environments_dir, de->d_name));
            continue;
        }
        names = mi_xrealloc(names, (n + 1) * sizeof(char *));
        names[n++] = mi_xstrdup(de->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(char *), cmp_names);
    cfg->envs = mi_xrealloc(cfg->envs, (cfg->nenvs + n) * sizeof(*cfg->envs));
    for (size_t i = 0; i < n; i++) {
        struct mi_config_env *e = &cfg->envs[cfg->nenvs++];
        memset(e, 0, sizeof(*e));
        e->name = names[i];
        names[i] = NULL;
        apply_defaults(cfg, e, 0, 0, 0);
    }
done:
    free(names);
    free(root);
    return rc;
}
