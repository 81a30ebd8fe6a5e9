/*
 * fingerprint.c - the configuration fingerprint of an environment. See fingerprint.h.
 */
#include "context/fingerprint.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "context/modules.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/banned.h"

static int git_fail(const char *what, const char *subject)
{
    const git_error *e = git_error_last();
    return mi_error_set(MI_ERR, "git: %s '%s': %s", what, subject,
                        e && e->message ? e->message : "unknown error");
}

void mi_fingerprint_free(struct mi_fingerprint *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++) {
        free(f->entries[i].path);
        free(f->entries[i].tree);
    }
    free(f->entries);
    for (size_t i = 0; i < f->nwarnings; i++)
        free(f->warnings[i]);
    free(f->warnings);
    free(f->value);
    free(f->commit);
    free(f);
}

static int by_path(const void *a, const void *b)
{
    const struct mi_fingerprint_entry *x = a, *y = b;
    return strcmp(x->path, y->path);
}

/* The manifest names the repository root "." so that no line starts with a tab. */
static const char *shown(const char *path)
{
    return *path ? path : ".";
}

void mi_fingerprint_manifest(mi_buf *out, const struct mi_fingerprint *f)
{
    mi_buf_adds(out, MI_FINGERPRINT_FORMAT "\n");
    for (size_t i = 0; i < f->n; i++)
        mi_buf_addf(out, "%s\t%s\n", shown(f->entries[i].path),
                    f->entries[i].tree ? f->entries[i].tree : "-");
}

/* The tree id of dir in root, or NULL when dir is missing or not a directory. */
static int tree_of(char **out, git_tree *root, const char *dir)
{
    *out = NULL;
    char hex[GIT_OID_HEXSZ + 1];
    if (!*dir) {
        git_oid_tostr(hex, sizeof(hex), git_tree_id(root));
        *out = mi_xstrdup(hex);
        return 0;
    }
    git_tree_entry *e = NULL;
    int rc = git_tree_entry_bypath(&e, root, dir);
    if (rc == GIT_ENOTFOUND)
        return 0;
    if (rc < 0)
        return git_fail("cannot look up", dir);
    if (git_tree_entry_type(e) == GIT_OBJECT_TREE) {
        git_oid_tostr(hex, sizeof(hex), git_tree_entry_id(e));
        *out = mi_xstrdup(hex);
    }
    git_tree_entry_free(e);
    return 0;
}

int mi_fingerprint_compute(struct mi_fingerprint **out, git_repository *repo, const git_oid *commit,
                           const char *env_dir)
{
    *out = NULL;
    char hex[GIT_OID_HEXSZ + 1];
    git_oid_tostr(hex, sizeof(hex), commit);
    git_commit *c = NULL;
    git_tree *root = NULL;
    struct mi_module_list *mods = NULL;
    struct mi_fingerprint *f = NULL;
    mi_buf manifest = MI_BUF_INIT;
    int rc = 0;

    if (git_commit_lookup(&c, repo, commit) < 0 || git_commit_tree(&root, c) < 0) {
        rc = git_fail("cannot read the tree of commit", hex);
        goto done;
    }
    rc = mi_modules_for_env(&mods, repo, commit, env_dir);
    if (rc < 0) {
        mi_error_prefix("configuration fingerprint of '%s' at %.12s", env_dir, hex);
        goto done;
    }

    f = mi_xcalloc(1, sizeof(*f));
    f->commit = mi_xstrdup(hex);
    f->entries = mi_xcalloc(mods->n + 1, sizeof(*f->entries));
    f->entries[f->n++].path = mi_xstrdup(env_dir);
    for (size_t i = 0; i < mods->n; i++)
        f->entries[f->n++].path = mi_xstrdup(mods->items[i].dir);
    qsort(f->entries, f->n, sizeof(*f->entries), by_path);
    /* A module used along two paths is one directory: keep it once. */
    size_t w = 0;
    for (size_t i = 0; i < f->n; i++) {
        if (w && strcmp(f->entries[w - 1].path, f->entries[i].path) == 0) {
            free(f->entries[i].path);
            continue;
        }
        f->entries[w++] = f->entries[i];
    }
    f->n = w;
    for (size_t i = 0; i < f->n; i++) {
        rc = tree_of(&f->entries[i].tree, root, f->entries[i].path);
        if (rc < 0)
            goto done;
    }
    if (mods->nwarnings) {
        f->warnings = mi_xcalloc(mods->nwarnings, sizeof(char *));
        for (size_t i = 0; i < mods->nwarnings; i++)
            f->warnings[f->nwarnings++] = mi_xstrdup(mods->warnings[i]);
    }

    mi_fingerprint_manifest(&manifest, f);
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)manifest.ptr, manifest.len);
    char dhex[crypto_hash_sha256_BYTES * 2 + 1];
    sodium_bin2hex(dhex, sizeof(dhex), digest, sizeof(digest));
    f->value = mi_xasprintf("sha256:%s", dhex);
    *out = f;
    f = NULL;
done:
    mi_buf_release(&manifest);
    mi_fingerprint_free(f);
    mi_module_list_free(mods);
    git_tree_free(root);
    git_commit_free(c);
    return rc;
}

int mi_fingerprint_at(struct mi_fingerprint **out, const char *repo_dir, const char *rev,
                      const char *env_dir)
{
    *out = NULL;
    git_repository *repo = NULL;
    git_object *obj = NULL;
    int rc = 0;
    if (git_repository_open_ext(&repo, repo_dir, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0)
        return git_fail("cannot open the repository at", repo_dir);
    const char *what = rev ? rev : "HEAD";
    if (git_revparse_single(&obj, repo, what) < 0) {
        rc = git_fail("cannot resolve", what);
        goto done;
    }
    git_object *commit = NULL;
    if (git_object_peel(&commit, obj, GIT_OBJECT_COMMIT) < 0) {
        rc = git_fail("not a commit:", what);
        goto done;
    }
    rc = mi_fingerprint_compute(out, repo, git_object_id(commit), env_dir);
    git_object_free(commit);
done:
    git_object_free(obj);
    git_repository_free(repo);
    return rc;
}

static const struct mi_fingerprint_entry *find(const struct mi_fingerprint *f, const char *path)
{
    struct mi_fingerprint_entry key = {(char *)path, NULL};
    return bsearch(&key, f->entries, f->n, sizeof(*f->entries), by_path);
}

static void add_item(mi_buf *out, size_t *count, const char *path, const char *why)
{
    mi_buf_addf(out, "%s%s (%s)", *count ? ", " : "", shown(path), why);
    (*count)++;
}

size_t mi_fingerprint_describe_diff(mi_buf *out, const struct mi_fingerprint *planned,
                                    const struct mi_fingerprint *now)
{
    size_t count = 0;
    for (size_t i = 0; i < now->n; i++) {
        const struct mi_fingerprint_entry *e = &now->entries[i];
        const struct mi_fingerprint_entry *p = find(planned, e->path);
        if (!p) {
            add_item(out, &count, e->path, "now used, not planned");
        } else if (!p->tree != !e->tree) {
            add_item(out, &count, e->path, e->tree ? "added" : "missing");
        } else if (p->tree && strcmp(p->tree, e->tree) != 0) {
            add_item(out, &count, e->path, "changed");
        }
    }
    for (size_t i = 0; i < planned->n; i++)
        if (!find(now, planned->entries[i].path))
            add_item(out, &count, planned->entries[i].path, "planned, no longer used");
    return count;
}
