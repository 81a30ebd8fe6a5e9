/*
 * select.c - environment selection from the configuration, the run and its changed paths.
 */
#include "context/select.h"

#include <stdlib.h>
#include <string.h>

#include "context/modules.h"
#include "context/path.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/banned.h"

struct mi_select_state {
    struct mi_module_graph *graph;
    git_oid to;
    struct mi_module_list **mods; /* per candidate */
};

static void state_free(struct mi_select_state *st, size_t ncandidates)
{
    if (!st)
        return;
    for (size_t i = 0; st->mods && i < ncandidates; i++)
        mi_module_list_free(st->mods[i]);
    free(st->mods);
    mi_module_graph_free(st->graph);
    free(st);
}

static void reason_release(struct mi_reason *r)
{
    free(r->path);
    free(r->renamed_from);
    free(r->renamed_to);
    free(r->pattern);
    for (size_t i = 0; i < r->nchain; i++)
        free(r->chain[i]);
    free(r->chain);
    free(r->detail);
}

void mi_selection_free(struct mi_selection *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        struct mi_selected *e = &s->envs[i];
        for (size_t j = 0; j < e->nreasons; j++)
            reason_release(&e->reasons[j]);
        free(e->reasons);
        free(e->name);
        free(e->directory);
        free(e->branch);
    }
    free(s->envs);
    state_free(s->state, s->ncandidates);
    for (size_t i = 0; i < s->ncandidates; i++)
        free(s->candidates[i]);
    free(s->candidates);
    free(s->skip_reason);
    for (size_t i = 0; i < s->nwarnings; i++)
        free(s->warnings[i]);
    free(s->warnings);
    free(s);
}

static void add_warning(struct mi_selection *s, const char *msg)
{
    /* Environments sharing a module would repeat its warning; say it once. */
    for (size_t i = 0; i < s->nwarnings; i++)
        if (strcmp(s->warnings[i], msg) == 0)
            return;
    s->warnings = mi_xrealloc(s->warnings, (s->nwarnings + 1) * sizeof(char *));
    s->warnings[s->nwarnings++] = mi_xstrdup(msg);
}

static struct mi_selected *add_selected(struct mi_selection *s, const struct mi_config_env *env)
{
    s->envs = mi_xrealloc(s->envs, (s->n + 1) * sizeof(*s->envs));
    struct mi_selected *e = &s->envs[s->n++];
    memset(e, 0, sizeof(*e));
    e->name = mi_xstrdup(env->name);
    e->directory = mi_xstrdup(env->directory);
    e->branch = mi_xstrdup(env->branch);
    e->require_approval = env->require_approval;
    return e;
}

/* Room for one more reason, or NULL when the cap is reached (the reason is only counted). */
static struct mi_reason *add_reason(struct mi_selected *e, enum mi_reason_kind kind)
{
    e->total_reasons++;
    if (e->nreasons >= MI_SELECT_MAX_REASONS)
        return NULL;
    e->reasons = mi_xrealloc(e->reasons, (e->nreasons + 1) * sizeof(*e->reasons));
    struct mi_reason *r = &e->reasons[e->nreasons++];
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    return r;
}

static void list_names(mi_buf *b, const struct mi_config *cfg, int with_branch)
{
    for (size_t i = 0; i < cfg->nenvs && i < 20; i++) {
        if (i)
            mi_buf_adds(b, ", ");
        if (with_branch)
            mi_buf_addf(b, "%s (branch %s)", cfg->envs[i].name, cfg->envs[i].branch);
        else
            mi_buf_adds(b, cfg->envs[i].name);
    }
    if (cfg->nenvs > 20)
        mi_buf_addf(b, " and %zu more", cfg->nenvs - 20);
    if (!cfg->nenvs)
        mi_buf_adds(b, "none");
}

int mi_select_candidates(struct mi_selection **out, const struct mi_config *cfg,
                         const struct mi_context *ctx)
{
    *out = NULL;
    const char *branch = ctx->branch;
    const char *want = ctx->input_environment;
    struct mi_selection *s = mi_xcalloc(1, sizeof(*s));
    mi_buf b = MI_BUF_INIT;
    int rc = 0;
    if (want) {
        const struct mi_config_env *env = mi_config_env_find(cfg, want);
        if (!env) {
            list_names(&b, cfg, 0);
            rc = mi_error_set(MI_EUSAGE,
                              "select: no environment '%s' in the configuration "
                              "(environments: %s)",
                              want, b.ptr);
            goto done;
        }
        if (branch && strcmp(env->branch, branch) != 0) {
            rc = mi_error_set(MI_EUSAGE,
                              "select: environment '%s' is deployed from branch "
                              "'%s', not from '%s'",
                              want, env->branch, branch);
            goto done;
        }
    }
    if (!branch && ctx->kind != MI_EVENT_LOCAL) {
        s->skip_reason = mi_xasprintf("'%s' is not a branch: no environment is deployed from it",
                                      ctx->ref ? ctx->ref : "the ref");
        goto done;
    }
    s->candidates = mi_xcalloc(cfg->nenvs ? cfg->nenvs : 1, sizeof(char *));
    for (size_t i = 0; i < cfg->nenvs; i++) {
        const struct mi_config_env *env = &cfg->envs[i];
        if (branch && strcmp(env->branch, branch) != 0)
            continue;
        if (want && strcmp(env->name, want) != 0)
            continue;
        s->candidates[s->ncandidates++] = mi_xstrdup(env->name);
    }
    if (!s->ncandidates) {
        list_names(&b, cfg, 1);
        s->skip_reason = mi_xasprintf("branch '%s' is not the branch of any environment "
                                      "(environments: %s)",
                                      branch, b.ptr);
    }
done:
    mi_buf_release(&b);
    if (rc)
        mi_selection_free(s);
    else
        *out = s;
    return rc;
}

/* ---------------------------------------------------------------------------------------
 * Matching. The changed paths are sorted once (and the old names of renames separately);
 * everything under a directory is then a range found by binary search, so a run costs
 * O(environments x (modules + 1) x log(changes)) instead of comparing every path with every
 * directory. Only watched globs are matched path by path.
 */

struct keyed {
    const char *key; /* a path or a rename's old path */
    size_t change;   /* index in the changes */
};

struct sorted {
    struct keyed *v; /* sorted by key */
    size_t n;
};

static int cmp_keyed(const void *a, const void *b)
{
    return strcmp(((const struct keyed *)a)->key, ((const struct keyed *)b)->key);
}

static void sorted_init(struct sorted *s, const struct mi_changes *ch, int old)
{
    s->n = 0;
    s->v = mi_xcalloc(ch->n ? ch->n : 1, sizeof(*s->v));
    for (size_t i = 0; i < ch->n; i++) {
        const char *key = old ? ch->items[i].old_path : ch->items[i].path;
        if (key)
            s->v[s->n++] = (struct keyed){key, i};
    }
    if (s->n)
        qsort(s->v, s->n, sizeof(*s->v), cmp_keyed);
}

/* First position whose key is >= key. */
static size_t lower_bound(const struct sorted *s, const char *key)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(s->v[mid].key, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

struct marker {
    unsigned char *rank; /* per change: best rank so far, RANK_NONE when unmatched */
    size_t *aux;         /* per change: the watch pattern or module behind that rank */
    size_t *matched;     /* changes matched, in the order first seen */
    size_t nmatched;
};

#define RANK_NONE 0xff

static void mark(struct marker *m, size_t change, unsigned char rank, size_t aux)
{
    if (rank >= m->rank[change])
        return;
    if (m->rank[change] == RANK_NONE)
        m->matched[m->nmatched++] = change;
    m->rank[change] = rank;
    m->aux[change] = aux;
}

/* Marks every change whose key is dir or lies below it. */
static void mark_under(struct marker *m, const struct sorted *s, const char *dir,
                       unsigned char rank, size_t aux)
{
    if (!*dir) {
        for (size_t i = 0; i < s->n; i++)
            mark(m, s->v[i].change, rank, aux);
        return;
    }
    size_t len = strlen(dir);
    char *bound = mi_xmalloc(len + 2);
    memcpy(bound, dir, len);
    bound[len + 1] = '\0';
    size_t at = lower_bound(s, dir);
    if (at < s->n && strcmp(s->v[at].key, dir) == 0)
        mark(m, s->v[at].change, rank, aux);
    /* Paths below dir are exactly the keys k with "dir/" <= k < "dir0" ('0' follows '/'). */
    bound[len] = '/';
    size_t lo = lower_bound(s, bound);
    bound[len] = '0';
    size_t hi = lower_bound(s, bound);
    for (size_t i = lo; i < hi; i++)
        mark(m, s->v[i].change, rank, aux);
    free(bound);
}

/* Ranks: what matched (directory, watch, module), new name before old name. */
enum { RANK_DIR = 0, RANK_WATCH = 1, RANK_MODULE = 2, RANK_OLD = 3 };

static void mark_env(struct marker *m, const struct sorted sorted[2], const struct mi_changes *ch,
                     const struct mi_config_env *env, const struct mi_module_list *mods)
{
    for (int k = 0; k < 2; k++) {
        unsigned char off = (unsigned char)(k ? RANK_OLD : 0);
        mark_under(m, &sorted[k], env->directory, (unsigned char)(off + RANK_DIR), 0);
        for (size_t w = 0; w < env->nwatch; w++) {
            const char *pat = env->watch[w];
            if (!mi_path_has_glob(pat)) {
                mark_under(m, &sorted[k], pat, (unsigned char)(off + RANK_WATCH), w);
                continue;
            }
            for (size_t i = 0; i < ch->n; i++) {
                const char *p = k ? ch->items[i].old_path : ch->items[i].path;
                if (p && mi_path_glob_match(pat, p))
                    mark(m, i, (unsigned char)(off + RANK_WATCH), w);
            }
        }
        for (size_t j = 0; mods && j < mods->n; j++)
            mark_under(m, &sorted[k], mods->items[j].dir, (unsigned char)(off + RANK_MODULE), j);
    }
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* The reasons of one environment from its marks, in the order of the changes. */
static void reasons_from_marks(struct mi_selected *sel, struct marker *m,
                               const struct mi_changes *ch, const struct mi_config_env *env,
                               const struct mi_module_list *mods)
{
    static const enum mi_reason_kind kinds[3] = {MI_REASON_DIRECTORY, MI_REASON_WATCH,
                                                 MI_REASON_MODULE};
    if (m->nmatched)
        qsort(m->matched, m->nmatched, sizeof(size_t), cmp_size);
    for (size_t i = 0; i < m->nmatched; i++) {
        size_t c = m->matched[i];
        const struct mi_change *change = &ch->items[c];
        int old = m->rank[c] >= RANK_OLD;
        int kind = m->rank[c] - (old ? RANK_OLD : 0);
        struct mi_reason *r = add_reason(sel, kinds[kind]);
        if (!r)
            continue;
        r->path = mi_xstrdup(old ? change->old_path : change->path);
        r->status = change->status;
        if (change->old_path && !old)
            r->renamed_from = mi_xstrdup(change->old_path);
        if (change->old_path && old)
            r->renamed_to = mi_xstrdup(change->path);
        if (kind == 1)
            r->pattern = mi_xstrdup(env->watch[m->aux[c]]);
        if (kind == 2) {
            const char **dirs = NULL;
            r->nchain = mi_module_list_chain(mods, m->aux[c], &dirs);
            r->chain = mi_xcalloc(r->nchain ? r->nchain : 1, sizeof(char *));
            for (size_t d = 0; d < r->nchain; d++)
                r->chain[d] = mi_xstrdup(dirs[d]);
            free(dirs);
        }
    }
    /* Reset for the next environment, touching only what was marked. */
    for (size_t i = 0; i < m->nmatched; i++)
        m->rank[m->matched[i]] = RANK_NONE;
    m->nmatched = 0;
}

/* The module lists of every candidate at commit to, kept in s->state. */
static int load_modules(struct mi_selection *s, const struct mi_config *cfg, git_repository *repo,
                        const git_oid *to)
{
    if (s->state && git_oid_equal(&s->state->to, to))
        return 0;
    state_free(s->state, s->ncandidates);
    struct mi_select_state *st = mi_xcalloc(1, sizeof(*st));
    s->state = st;
    git_oid_cpy(&st->to, to);
    st->mods = mi_xcalloc(s->ncandidates ? s->ncandidates : 1, sizeof(*st->mods));
    int rc = mi_module_graph_new(&st->graph, repo, to);
    for (size_t i = 0; !rc && i < s->ncandidates; i++) {
        const struct mi_config_env *env = mi_config_env_find(cfg, s->candidates[i]);
        if ((rc = mi_module_graph_for_dir(&st->mods[i], st->graph, env->directory)))
            break;
        for (size_t w = 0; w < st->mods[i]->nwarnings; w++)
            add_warning(s, st->mods[i]->warnings[w]);
    }
    return rc;
}

int mi_select_scope(struct mi_selection *s, const struct mi_config *cfg, git_repository *repo,
                    const git_oid *to, struct mi_path_set *out)
{
    int rc = load_modules(s, cfg, repo, to);
    if (rc)
        return rc;
    for (size_t i = 0; i < s->ncandidates; i++) {
        const struct mi_config_env *env = mi_config_env_find(cfg, s->candidates[i]);
        mi_path_set_add(out, env->directory);
        for (size_t w = 0; w < env->nwatch; w++) {
            char *base = mi_path_glob_base(env->watch[w]);
            mi_path_set_add(out, base); /* "" (a glob at the top): everything */
            free(base);
        }
        const struct mi_module_list *mods = s->state->mods[i];
        for (size_t m = 0; m < mods->n; m++)
            mi_path_set_add(out, mods->items[m].dir);
    }
    mi_path_set_sort(out);
    return 0;
}

int mi_select_affected(struct mi_selection *s, const struct mi_config *cfg,
                       const struct mi_context *ctx, const struct mi_changes *changes,
                       git_repository *repo)
{
    struct sorted sorted[2] = {{NULL, 0}, {NULL, 0}};
    struct marker marker = {NULL, NULL, NULL, 0};
    int rc = 0;
    if (!s->ncandidates)
        return 0;
    if (changes->nothing_to_do) {
        free(s->skip_reason);
        s->skip_reason = mi_xstrdup(changes->reason ? changes->reason : "nothing to do");
        return 0;
    }
    if (changes->full_run) {
        for (size_t i = 0; i < s->ncandidates; i++) {
            struct mi_selected *e = add_selected(s, mi_config_env_find(cfg, s->candidates[i]));
            struct mi_reason *r = add_reason(e, MI_REASON_FULL_RUN);
            r->detail = mi_xstrdup(changes->reason ? changes->reason : "full run");
        }
        return 0;
    }
    if (changes->has_to && (rc = load_modules(s, cfg, repo, &changes->to)))
        goto done;
    size_t n = changes->n ? changes->n : 1;
    sorted_init(&sorted[0], changes, 0);
    sorted_init(&sorted[1], changes, 1);
    marker.rank = mi_xmalloc(n);
    memset(marker.rank, RANK_NONE, n);
    marker.aux = mi_xcalloc(n, sizeof(size_t));
    marker.matched = mi_xcalloc(n, sizeof(size_t));
    for (size_t i = 0; i < s->ncandidates; i++) {
        const struct mi_config_env *env = mi_config_env_find(cfg, s->candidates[i]);
        const struct mi_module_list *mods = changes->has_to ? s->state->mods[i] : NULL;
        struct mi_selected tmp;
        memset(&tmp, 0, sizeof(tmp));
        mark_env(&marker, sorted, changes, env, mods);
        reasons_from_marks(&tmp, &marker, changes, env, mods);
        if (tmp.total_reasons) {
            struct mi_selected *e = add_selected(s, env);
            e->reasons = tmp.reasons;
            e->nreasons = tmp.nreasons;
            e->total_reasons = tmp.total_reasons;
        }
    }
    if (!s->n) {
        mi_buf b = MI_BUF_INIT;
        for (size_t i = 0; i < s->ncandidates && i < 10; i++)
            mi_buf_addf(&b, "%s%s", i ? ", " : "",
                        mi_config_env_find(cfg, s->candidates[i])->directory);
        if (s->ncandidates > 10)
            mi_buf_addf(&b, " and %zu more", s->ncandidates - 10);
        mi_buf counted = MI_BUF_INIT;
        mi_buf_addf(&counted, "%zu changed path%s examined", changes->n,
                    changes->n == 1 ? "" : "s");
        if (changes->pruned)
            mi_buf_addf(&counted, "; %zu changed folder%s elsewhere not looked into",
                        changes->pruned, changes->pruned == 1 ? "" : "s");
        free(s->skip_reason);
        s->skip_reason = mi_xasprintf("no changed path is in the directory, the watched paths "
                                      "or the local modules of an environment of branch '%s' "
                                      "(%s): %s",
                                      ctx->branch ? ctx->branch : "(any)", b.ptr, counted.ptr);
        mi_buf_release(&counted);
        mi_buf_release(&b);
    }
done:
    free(sorted[0].v);
    free(sorted[1].v);
    free(marker.rank);
    free(marker.aux);
    free(marker.matched);
    return rc;
}

int mi_select_environments(struct mi_selection **out, const struct mi_config *cfg,
                           const struct mi_context *ctx, const struct mi_changes *changes,
                           git_repository *repo)
{
    int rc = mi_select_candidates(out, cfg, ctx);
    if (rc)
        return rc;
    rc = mi_select_affected(*out, cfg, ctx, changes, repo);
    if (rc) {
        mi_selection_free(*out);
        *out = NULL;
    }
    return rc;
}
