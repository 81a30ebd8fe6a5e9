/*
 * changes.c - changed paths from two commits' trees, and which commits a run compares.
 */
#include "context/changes.h"

#include <stdlib.h>
#include <string.h>

#include "context/path.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/banned.h"

void mi_changes_free(struct mi_changes *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->items[i].path);
        free(c->items[i].old_path);
    }
    free(c->items);
    free(c->reason);
    for (size_t i = 0; i < c->nnotes; i++)
        free(c->notes[i]);
    free(c->notes);
    free(c);
}

static struct mi_changes *changes_new(const char *method)
{
    struct mi_changes *c = mi_xcalloc(1, sizeof(*c));
    c->method = method;
    return c;
}

static void add_note(struct mi_changes *c, char *note)
{
    c->notes = mi_xrealloc(c->notes, (c->nnotes + 1) * sizeof(char *));
    c->notes[c->nnotes++] = note;
}

static int git_fail(const char *what)
{
    const git_error *e = git_error_last();
    return mi_error_set(MI_ERR, "git: %s: %s", what,
                        e && e->message ? e->message : "unknown error");
}

/* ---------------------------------------------------------------------------------------
 * Tree against tree.
 */

struct differ {
    git_repository *repo;
    const struct mi_path_set *scope; /* NULL: everything */
    size_t pruned;                   /* changed subtrees not entered (outside the scope) */
    mi_buf path;                     /* the current directory, "" or "a/b/" */
    struct mi_change *items;
    size_t n, cap;
    /* Added and deleted blobs, for pairing identical content into renames. */
    git_oid *oids;
    size_t noids_cap;
};

static void emit(struct differ *d, const char *name, enum mi_change_status st, const git_oid *id)
{
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 64;
        d->items = mi_xrealloc(d->items, d->cap * sizeof(*d->items));
        d->oids = mi_xrealloc(d->oids, d->cap * sizeof(*d->oids));
    }
    struct mi_change *c = &d->items[d->n];
    c->path = mi_xasprintf("%s%s", d->path.ptr, name);
    c->old_path = NULL;
    c->status = st;
    if (id)
        git_oid_cpy(&d->oids[d->n], id);
    else
        memset(&d->oids[d->n], 0, sizeof(git_oid));
    d->n++;
}

static int is_tree(const git_tree_entry *e)
{
    return git_tree_entry_type(e) == GIT_OBJECT_TREE;
}

/* git's tree order: names compared bytewise, a tree's name as if it ended in '/'. */
static int entry_cmp(const git_tree_entry *a, const git_tree_entry *b)
{
    const char *na = git_tree_entry_name(a), *nb = git_tree_entry_name(b);
    size_t la = strlen(na), lb = strlen(nb);
    size_t len = la < lb ? la : lb;
    int cmp = memcmp(na, nb, len);
    if (cmp)
        return cmp;
    unsigned char ca = la > len ? (unsigned char)na[len] : (is_tree(a) ? '/' : '\0');
    unsigned char cb = lb > len ? (unsigned char)nb[len] : (is_tree(b) ? '/' : '\0');
    return (int)ca - (int)cb;
}

static int diff_trees(struct differ *d, const git_tree *a, const git_tree *b);

/* Whether the walk goes into the changed subtree name of the current directory. */
static int wanted(struct differ *d, const char *name)
{
    if (!d->scope)
        return 1;
    size_t saved = d->path.len;
    mi_buf_adds(&d->path, name);
    int yes = mi_path_set_touches(d->scope, d->path.ptr);
    mi_buf_truncate(&d->path, saved);
    if (!yes)
        d->pruned++;
    return yes;
}

/* A whole subtree appeared or went away: every file below it is added or deleted. */
static int diff_subtree(struct differ *d, const git_tree_entry *e, int added)
{
    git_tree *t = NULL;
    if (git_tree_lookup(&t, d->repo, git_tree_entry_id(e)) < 0)
        return git_fail("reading a tree");
    size_t saved = d->path.len;
    mi_buf_addf(&d->path, "%s/", git_tree_entry_name(e));
    int rc = added ? diff_trees(d, NULL, t) : diff_trees(d, t, NULL);
    mi_buf_truncate(&d->path, saved);
    git_tree_free(t);
    return rc;
}

static int diff_entry(struct differ *d, const git_tree_entry *e, int added)
{
    if (is_tree(e))
        return wanted(d, git_tree_entry_name(e)) ? diff_subtree(d, e, added) : 0;
    emit(d, git_tree_entry_name(e), added ? MI_CHANGE_ADDED : MI_CHANGE_DELETED,
         git_tree_entry_type(e) == GIT_OBJECT_BLOB ? git_tree_entry_id(e) : NULL);
    return 0;
}

static int diff_trees(struct differ *d, const git_tree *a, const git_tree *b)
{
    size_t na = a ? git_tree_entrycount(a) : 0, nb = b ? git_tree_entrycount(b) : 0;
    size_t i = 0, j = 0;
    int rc = 0;
    while (!rc && (i < na || j < nb)) {
        const git_tree_entry *ea = i < na ? git_tree_entry_byindex(a, i) : NULL;
        const git_tree_entry *eb = j < nb ? git_tree_entry_byindex(b, j) : NULL;
        int cmp = !ea ? 1 : !eb ? -1 : entry_cmp(ea, eb);
        if (cmp < 0) {
            rc = diff_entry(d, ea, 0);
            i++;
        } else if (cmp > 0) {
            rc = diff_entry(d, eb, 1);
            j++;
        } else {
            i++;
            j++;
            /* Same id, same content: for a tree, nothing below it differs either. That is
             * what keeps the walk proportional to the change, not to the repository. */
            if (git_oid_equal(git_tree_entry_id(ea), git_tree_entry_id(eb)) &&
                git_tree_entry_filemode(ea) == git_tree_entry_filemode(eb))
                continue;
            if (is_tree(ea)) {
                if (!wanted(d, git_tree_entry_name(ea)))
                    continue;
                git_tree *ta = NULL, *tb = NULL;
                if (git_tree_lookup(&ta, d->repo, git_tree_entry_id(ea)) < 0 ||
                    git_tree_lookup(&tb, d->repo, git_tree_entry_id(eb)) < 0) {
                    rc = git_fail("reading a tree");
                } else {
                    size_t saved = d->path.len;
                    mi_buf_addf(&d->path, "%s/", git_tree_entry_name(ea));
                    rc = diff_trees(d, ta, tb);
                    mi_buf_truncate(&d->path, saved);
                }
                git_tree_free(ta);
                git_tree_free(tb);
            } else {
                int type_changed = git_tree_entry_type(ea) != git_tree_entry_type(eb) ||
                                   ((git_tree_entry_filemode(ea) == GIT_FILEMODE_LINK) !=
                                    (git_tree_entry_filemode(eb) == GIT_FILEMODE_LINK));
                emit(d, git_tree_entry_name(ea),
                     type_changed ? MI_CHANGE_TYPECHANGE : MI_CHANGE_MODIFIED, NULL);
            }
        }
    }
    return rc;
}

struct pending {
    size_t index;
    const git_oid *oid;
};

static int cmp_pending(const void *a, const void *b)
{
    const struct pending *x = a, *y = b;
    int c = git_oid_cmp(x->oid, y->oid);
    if (c)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

static int cmp_change(const void *a, const void *b)
{
    return strcmp(((const struct mi_change *)a)->path, ((const struct mi_change *)b)->path);
}

/* Pairs a deleted file with an added file of identical content (same blob id) into one
 * rename entry. Only exact renames: finding similar content would mean reading and
 * comparing file contents, and is not needed since both paths count either way. */
static void pair_renames(struct differ *d)
{
    struct pending *del = NULL, *add = NULL;
    size_t nd = 0, na = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (git_oid_is_zero(&d->oids[i]))
            continue;
        if (d->items[i].status == MI_CHANGE_DELETED) {
            del = mi_xrealloc(del, (nd + 1) * sizeof(*del));
            del[nd++] = (struct pending){i, &d->oids[i]};
        } else if (d->items[i].status == MI_CHANGE_ADDED) {
            add = mi_xrealloc(add, (na + 1) * sizeof(*add));
            add[na++] = (struct pending){i, &d->oids[i]};
        }
    }
    if (nd && na) {
        qsort(del, nd, sizeof(*del), cmp_pending);
        qsort(add, na, sizeof(*add), cmp_pending);
        size_t i = 0, j = 0;
        while (i < nd && j < na) {
            int c = git_oid_cmp(del[i].oid, add[j].oid);
            if (c < 0) {
                i++;
            } else if (c > 0) {
                j++;
            } else {
                struct mi_change *from = &d->items[del[i].index];
                struct mi_change *to = &d->items[add[j].index];
                to->status = MI_CHANGE_RENAMED;
                to->old_path = from->path;
                from->path = NULL; /* dropped below */
                i++;
                j++;
            }
        }
        size_t k = 0;
        for (size_t m = 0; m < d->n; m++)
            if (d->items[m].path)
                d->items[k++] = d->items[m];
        d->n = k;
    }
    free(del);
    free(add);
}

int mi_changes_collect(struct mi_changes *c, git_repository *repo, const struct mi_path_set *scope)
{
    if (c->full_run || c->nothing_to_do || !c->has_from || !c->has_to)
        return 0;
    git_commit *ca = NULL, *cb = NULL;
    git_tree *ta = NULL, *tb = NULL;
    struct differ d = {repo, scope, 0, MI_BUF_INIT, NULL, 0, 0, NULL, 0};
    char hex[GIT_OID_HEXSZ + 1];
    int rc = 0;
    if (git_commit_lookup(&ca, repo, &c->from) < 0 || git_commit_tree(&ta, ca) < 0) {
        rc = git_fail(git_oid_tostr(hex, sizeof(hex), &c->from));
        goto done;
    }
    if (git_commit_lookup(&cb, repo, &c->to) < 0 || git_commit_tree(&tb, cb) < 0) {
        rc = git_fail(git_oid_tostr(hex, sizeof(hex), &c->to));
        goto done;
    }
    if ((rc = diff_trees(&d, ta, tb)))
        goto done;
    pair_renames(&d);
    if (d.n)
        qsort(d.items, d.n, sizeof(*d.items), cmp_change);
    c->items = d.items;
    c->n = d.n;
    c->pruned = d.pruned;
    d.items = NULL;
    d.n = 0;
done:
    for (size_t i = 0; i < d.n; i++) {
        free(d.items[i].path);
        free(d.items[i].old_path);
    }
    free(d.items);
    free(d.oids);
    mi_buf_release(&d.path);
    git_tree_free(ta);
    git_tree_free(tb);
    git_commit_free(ca);
    git_commit_free(cb);
    return rc;
}

static struct mi_changes *planned(const char *method, const git_oid *from, const git_oid *to)
{
    struct mi_changes *c = changes_new(method);
    c->has_from = c->has_to = 1;
    git_oid_cpy(&c->from, from);
    git_oid_cpy(&c->to, to);
    return c;
}

int mi_changes_between(struct mi_changes **out, git_repository *repo, const git_oid *from,
                       const git_oid *to)
{
    *out = planned("revisions", from, to);
    int rc = mi_changes_collect(*out, repo, NULL);
    if (rc) {
        mi_changes_free(*out);
        *out = NULL;
    }
    return rc;
}

/* ---------------------------------------------------------------------------------------
 * Which commits a run compares.
 */

/* 1 when the commit is in the object database. Lookup errors other than "not found" (a
 * corrupt repository) are reported. */
static int have_commit(git_repository *repo, const char *hex, git_oid *out, int *found)
{
    *found = 0;
    memset(out, 0, sizeof(*out));
    /* This libgit2 reads SHA-1 repositories: a SHA-256 id cannot be in it. */
    if (!hex || strlen(hex) != GIT_OID_HEXSZ || git_oid_fromstr(out, hex) < 0)
        return 0;
    git_commit *c = NULL;
    int err = git_commit_lookup(&c, repo, out);
    if (err == 0) {
        *found = 1;
        git_commit_free(c);
        return 0;
    }
    if (err == GIT_ENOTFOUND)
        return 0;
    /* A shallow clone's missing objects also end here with some libgit2 versions. */
    git_error_clear();
    return 0;
}

static struct mi_changes *full_run(char *reason)
{
    struct mi_changes *c = changes_new("full-run");
    c->full_run = 1;
    c->reason = reason;
    return c;
}

static struct mi_changes *nothing(char *reason)
{
    struct mi_changes *c = changes_new("none");
    c->nothing_to_do = 1;
    c->reason = reason;
    return c;
}

static void short_hex(char *buf, const git_oid *id)
{
    git_oid_tostr(buf, 13, id);
}

/* Merge-base of base and head against head, with the shallow-clone fallbacks. merge is the
 * test merge commit (may be NULL). what names the two for messages. */
static int diff_merge_base(struct mi_changes **out, git_repository *repo, const git_oid *base,
                           int have_base, const git_oid *head, int have_head, const char *merge_hex,
                           const char *what, const char *missing_hex)
{
    int rc;
    char hb[16], hh[16];
    if (have_base && have_head) {
        git_oid mb;
        int err = git_merge_base(&mb, repo, base, head);
        if (err == 0) {
            *out = planned("merge-base", &mb, head);
            return 0;
        }
        const git_error *e = git_error_last();
        char *why = mi_xstrdup(err == GIT_ENOTFOUND ? "no common ancestor in the history"
                                                    : (e && e->message ? e->message : "error"));
        git_error_clear();
        *out = planned("base..head", base, head);
        short_hex(hb, base);
        short_hex(hh, head);
        add_note(*out, mi_xasprintf("no merge-base of %s and %s (%s; a shallow clone?): "
                                    "compared %s with %s directly, which can also list "
                                    "changes made on the base branch meanwhile",
                                    hb, hh, why, hb, hh));
        free(why);
        return 0;
    }
    git_oid merge;
    int have_merge = 0;
    if ((rc = have_commit(repo, merge_hex, &merge, &have_merge)))
        return rc;
    if (have_merge) {
        git_commit *m = NULL, *parent = NULL;
        int ok = git_commit_lookup(&m, repo, &merge) == 0 && git_commit_parentcount(m) == 2 &&
                 git_commit_parent(&parent, m, 0) == 0;
        git_oid pid;
        if (ok)
            git_oid_cpy(&pid, git_commit_id(parent));
        git_commit_free(parent);
        git_commit_free(m);
        git_error_clear();
        if (ok) {
            *out = planned("merge-commit", &pid, &merge);
            short_hex(hh, &merge);
            add_note(*out, mi_xasprintf("the %s commits are not in the clone: compared the "
                                        "merge commit %s with its first parent (the base)",
                                        what, hh));
            return 0;
        }
    }
    const char *missing = !have_head ? "head" : "base";
    *out = full_run(mi_xasprintf("the %s's %s commit %.12s is not in the clone (shallow clone or "
                                 "not fetched)",
                                 what, missing, missing_hex ? missing_hex : "?"));
    return 0;
}

static int for_pull_request(struct mi_changes **out, git_repository *repo,
                            const struct mi_context *ctx)
{
    if (ctx->action && strcmp(ctx->action, "closed") == 0 && !ctx->merged) {
        *out =
            nothing(mi_xasprintf("pull request #%ld was closed without merging", ctx->pr_number));
        return 0;
    }
    git_oid base, head;
    int have_base = 0, have_head = 0, rc;
    if ((rc = have_commit(repo, ctx->base_sha, &base, &have_base)) ||
        (rc = have_commit(repo, ctx->head_sha, &head, &have_head)))
        return rc;
    /* For a pull_request event GITHUB_SHA is the test merge commit; the payload's
     * merge_commit_sha is the same commit when GitHub has computed it. */
    const char *merge = ctx->sha ? ctx->sha : ctx->merge_sha;
    return diff_merge_base(out, repo, &base, have_base, &head, have_head, merge, "pull request",
                           have_head ? ctx->base_sha : ctx->head_sha);
}

static int for_push(struct mi_changes **out, git_repository *repo, const struct mi_context *ctx)
{
    if (ctx->deleted || mi_context_sha_is_zero(ctx->after)) {
        *out = nothing(mi_xasprintf("branch '%s' was deleted", ctx->branch ? ctx->branch : "?"));
        return 0;
    }
    git_oid before, after;
    int have_before = 0, have_after = 0, rc;
    if ((rc = have_commit(repo, ctx->after, &after, &have_after)))
        return rc;
    if (!have_after)
        return mi_error_set(MI_ERR,
                            "git: the pushed commit %s is not in the repository; check out "
                            "the commit the push event is about",
                            ctx->after);
    if (mi_context_sha_is_zero(ctx->before)) {
        *out = full_run(mi_xasprintf("a new branch: the push has no previous commit to "
                                     "compare with"));
    } else {
        if ((rc = have_commit(repo, ctx->before, &before, &have_before)))
            return rc;
        if (!have_before) {
            *out = full_run(mi_xasprintf("the previous commit %.12s is not in the clone "
                                         "(force-push or shallow clone)",
                                         ctx->before));
        } else {
            *out = planned("before..after", &before, &after);
            if (ctx->forced)
                add_note(*out, mi_xstrdup("a forced push: compared the trees of the previous "
                                          "and the pushed commit"));
            return 0;
        }
    }
    (*out)->has_to = 1;
    git_oid_cpy(&(*out)->to, &after);
    return 0;
}

static int resolve_rev(git_repository *repo, const char *rev, git_oid *out)
{
    git_object *obj = NULL, *commit = NULL;
    int rc = 0;
    if (git_revparse_single(&obj, repo, rev) < 0 ||
        git_object_peel(&commit, obj, GIT_OBJECT_COMMIT) < 0) {
        const git_error *e = git_error_last();
        rc = mi_error_set(MI_EUSAGE, "git: cannot resolve revision '%s': %s", rev,
                          e && e->message ? e->message : "unknown error");
    } else {
        git_oid_cpy(out, git_object_id(commit));
    }
    git_object_free(commit);
    git_object_free(obj);
    return rc;
}

int mi_changes_for_context(struct mi_changes **out, git_repository *repo,
                           const struct mi_context *ctx, const char *base_rev, const char *head_rev)
{
    int rc = mi_changes_plan(out, repo, ctx, base_rev, head_rev);
    if (!rc && (rc = mi_changes_collect(*out, repo, NULL))) {
        mi_changes_free(*out);
        *out = NULL;
    }
    return rc;
}

int mi_changes_plan(struct mi_changes **out, git_repository *repo, const struct mi_context *ctx,
                    const char *base_rev, const char *head_rev)
{
    *out = NULL;
    switch (ctx->kind) {
    case MI_EVENT_PULL_REQUEST:
        return for_pull_request(out, repo, ctx);
    case MI_EVENT_PUSH:
        return for_push(out, repo, ctx);
    case MI_EVENT_LOCAL: {
        if (!base_rev || !head_rev) {
            *out = full_run(mi_xstrdup("no revisions to compare were given"));
            return 0;
        }
        git_oid base, head;
        int rc;
        if ((rc = resolve_rev(repo, base_rev, &base)) || (rc = resolve_rev(repo, head_rev, &head)))
            return rc;
        return diff_merge_base(out, repo, &base, 1, &head, 1, NULL, "given", NULL);
    }
    case MI_EVENT_WORKFLOW_DISPATCH:
        *out = full_run(mi_xstrdup("a manual run (workflow_dispatch) plans every environment of "
                                   "the branch"));
        return 0;
    case MI_EVENT_OTHER:
        *out = full_run(mi_xasprintf("a '%s' event has no changes to compare: every environment "
                                     "of the branch is planned",
                                     ctx->event_name));
        return 0;
    }
    return mi_error_set(MI_ERR, "unknown event kind");
}
