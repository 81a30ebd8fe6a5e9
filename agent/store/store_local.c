/*
 * store_local.c - the plan store in a local directory (file://PATH), for local runs and
 * self-hosted runners with shared disks (store_backend.h).
 *
 * Layout mirrors the blob names under PATH; a plan's metadata is the JSON object in
 * "<plan>.json" beside it (written atomically). Metadata updates of an environment are
 * serialised by flock on <repo>/<env>/.meta.lock. The environment lock itself is a write lock
 * on <repo>/<env>/.lock of the open-file-description kind (fcntl F_OFD_SETLK): it behaves as
 * flock does - owned by the open file, released by the kernel when its holder exits, however
 * it exits, so it needs no renewal and cannot be broken from outside - and unlike flock it can
 * be tested (F_OFD_GETLK) without being taken, so looking at a lock never makes a real locker
 * fail.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/store_backend.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/banned.h"

#define MAX_META_FILE (64u * 1024u)

struct local_be {
    char *root;
};

static char *path_of(const struct local_be *l, const char *name)
{
    return mi_fs_join(l->root, name);
}

static char *parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? mi_xstrndup(path, (size_t)(slash - path)) : mi_xstrdup(".");
}

/* --- metadata files --------------------------------------------------------------------- */

static int read_meta_file(const char *path, struct mi_azblob_meta *out)
{
    mi_buf b = MI_BUF_INIT;
    int rc = mi_fs_read_file(&b, path, MAX_META_FILE);
    if (rc < 0) {
        mi_buf_release(&b);
        return rc;
    }
    json_error_t err;
    json_t *root = json_loadb(b.ptr, b.len, 0, &err);
    mi_buf_release(&b);
    if (!json_is_object(root)) {
        json_decref(root);
        return mi_error_set(MI_ERR, "store: '%s' is not a JSON object of metadata", path);
    }
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v)
    {
        if (json_is_string(v))
            mi_azblob_meta_set(out, k, json_string_value(v));
    }
    json_decref(root);
    return 0;
}

static int write_meta_file(const char *path, const struct mi_azblob_meta *m)
{
    json_t *root = json_object();
    for (size_t i = 0; i < m->len; i++)
        json_object_set_new(root, m->items[i].name, json_string(m->items[i].value));
    char *text = json_dumps(root, JSON_SORT_KEYS | JSON_INDENT(2));
    json_decref(root);
    int rc = mi_fs_write_file_atomic(path, text, strlen(text), 0600);
    free(text);
    return rc;
}

/* The metadata of the plan at path: its .json file, or - when that is missing - the binding
 * from the sealed header, which is readable without the key. */
static int load_meta(const char *path, struct mi_azblob_meta *out)
{
    char *mpath = mi_xasprintf("%s.json", path);
    int rc = read_meta_file(mpath, out);
    free(mpath);
    if (rc != MI_ENOTFOUND)
        return rc;
    struct mi_seal_header h;
    if (mi_seal_header_read_file(&h, path) < 0) {
        mi_error_clear();
        return 0;
    }
    char pr[32];
    snprintf(pr, sizeof(pr), "%lld", h.binding.pr);
    mi_azblob_meta_set(out, "repository", h.binding.repository);
    mi_azblob_meta_set(out, "environment", h.binding.environment);
    mi_azblob_meta_set(out, "pr", pr);
    mi_azblob_meta_set(out, "head_sha", h.binding.head_sha);
    mi_azblob_meta_set(out, "config_fingerprint", h.binding.config_fingerprint);
    mi_azblob_meta_set(out, "plan_sha256", h.binding.plan_sha256);
    mi_azblob_meta_set(out, "terraform_version", h.binding.terraform_version);
    mi_azblob_meta_set(out, "created_at", h.binding.created_at);
    mi_seal_binding_release(&h.binding);
    return 0;
}

/* flock on <repo>/<env>/.meta.lock for the plan at name; returns the fd or a negative code. */
static int meta_lock(const struct local_be *l, const char *name)
{
    char *path = path_of(l, name);
    char *prdir = parent_dir(path);
    char *envdir = parent_dir(prdir);
    char *lockp = mi_fs_join(envdir, ".meta.lock");
    int rc = mi_fs_mkdir_p(envdir, 0700);
    int fd = -1;
    if (rc == 0) {
        fd = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
            rc = mi_error_errno(MI_ERR, "store: cannot open '%s'", lockp);
        else
            while (flock(fd, LOCK_EX) < 0 && errno == EINTR)
                ;
    }
    free(lockp);
    free(envdir);
    free(prdir);
    free(path);
    return rc < 0 ? rc : fd;
}

static void meta_unlock(int fd)
{
    if (fd >= 0) {
        flock(fd, LOCK_UN);
        close(fd);
    }
}

/* --- plans ------------------------------------------------------------------------------- */

static int lo_put(void *be, const char *name, struct mi_sealer *sealer,
                  const struct mi_azblob_meta *meta, mi_store_replace_fn may_replace, void *ctx)
{
    struct local_be *l = be;
    char *path = path_of(l, name);
    char *dir = parent_dir(path);
    char *mpath = mi_xasprintf("%s.json", path);
    struct mi_azblob_meta existing = MI_AZBLOB_META_INIT;
    struct mi_seal_output *o = NULL;
    unsigned char *buf = NULL;
    int lock = -1;
    int rc = mi_fs_mkdir_p(dir, 0700);
    if (rc < 0)
        goto done;
    if ((lock = meta_lock(l, name)) < 0) {
        rc = lock;
        goto done;
    }
    int exists = mi_fs_exists(path);
    if (exists && (rc = load_meta(path, &existing)) < 0)
        goto done;
    if ((rc = may_replace(ctx, exists ? &existing : NULL)) < 0)
        goto done;
    if ((rc = mi_seal_output_open(&o, path)) < 0)
        goto done;
    buf = mi_xmalloc(256 * 1024);
    for (;;) {
        size_t got = 0;
        if ((rc = mi_sealer_read(sealer, buf, 256 * 1024, &got)) < 0)
            goto done;
        if (got == 0)
            break;
        if ((rc = mi_seal_output_write(o, buf, got)) < 0)
            goto done;
    }
    if ((rc = mi_seal_output_commit(o)) < 0)
        goto done;
    rc = write_meta_file(mpath, meta);
done:
    meta_unlock(lock);
    free(buf);
    mi_seal_output_free(o);
    mi_azblob_meta_release(&existing);
    free(mpath);
    free(dir);
    free(path);
    return rc;
}

static int lo_head(void *be, const char *name, struct mi_azblob_meta *meta, long long *size)
{
    struct local_be *l = be;
    char *path = path_of(l, name);
    struct stat st;
    int rc = 0;
    if (stat(path, &st) < 0)
        rc = mi_error_errno(errno == ENOENT ? MI_ENOTFOUND : MI_ERR, "store: cannot stat '%s'",
                            path);
    else {
        *size = (long long)st.st_size;
        rc = load_meta(path, meta);
    }
    free(path);
    return rc;
}

static int lo_get(void *be, const char *name, const struct mi_azblob_sink *sink)
{
    struct local_be *l = be;
    char *path = path_of(l, name);
    int rc = 0;
    char *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = mi_error_errno(errno == ENOENT ? MI_ENOTFOUND : MI_ERR, "store: cannot open '%s'",
                            path);
        goto done;
    }
    buf = mi_xmalloc(256 * 1024);
    for (;;) {
        ssize_t n = read(fd, buf, 256 * 1024);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = mi_error_errno(MI_ERR, "store: cannot read '%s'", path);
            break;
        }
        if (n == 0)
            break;
        if ((rc = sink->write(sink->ctx, buf, (size_t)n)) < 0)
            break;
    }
done:
    if (fd >= 0)
        close(fd);
    free(buf);
    free(path);
    return rc;
}

static int lo_update_meta(void *be, const char *name, mi_store_edit_fn edit, void *ctx)
{
    struct local_be *l = be;
    char *path = path_of(l, name);
    char *mpath = mi_xasprintf("%s.json", path);
    struct mi_azblob_meta meta = MI_AZBLOB_META_INIT;
    int lock = -1, rc = 0;
    if (!mi_fs_exists(path)) {
        rc = mi_error_set(MI_ENOTFOUND, "store: '%s' does not exist", path);
        goto done;
    }
    if ((lock = meta_lock(l, name)) < 0) {
        rc = lock;
        goto done;
    }
    if ((rc = load_meta(path, &meta)) < 0 || (rc = edit(ctx, &meta)) < 0)
        goto done;
    rc = write_meta_file(mpath, &meta);
done:
    meta_unlock(lock);
    mi_azblob_meta_release(&meta);
    free(mpath);
    free(path);
    return rc;
}

static int is_plan_file(const char *n)
{
    size_t len = strlen(n), sl = strlen(".tfplan.sealed");
    return len > sl && strcmp(n + len - sl, ".tfplan.sealed") == 0;
}

/* Walks dir (the directory of name prefix rel) to depth, reporting plan files. */
static int walk(struct local_be *l, const char *rel, int depth, mi_store_each_fn each, void *ctx)
{
    char *dir = path_of(l, rel);
    DIR *d = opendir(dir);
    int rc = 0;
    if (!d) {
        if (errno != ENOENT && errno != ENOTDIR)
            rc = mi_error_errno(MI_ERR, "store: cannot list '%s'", dir);
        free(dir);
        return rc;
    }
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *child = mi_xasprintf("%s/%s", rel, e->d_name);
        char *full = path_of(l, child);
        struct stat st;
        if (lstat(full, &st) == 0) {
            if (S_ISDIR(st.st_mode) && depth > 0) {
                rc = walk(l, child, depth - 1, each, ctx);
            } else if (S_ISREG(st.st_mode) && is_plan_file(e->d_name)) {
                struct mi_azblob_meta m = MI_AZBLOB_META_INIT;
                rc = load_meta(full, &m);
                if (rc == 0)
                    rc = each(ctx, child, (long long)st.st_size, &m);
                mi_azblob_meta_release(&m);
            }
        }
        free(full);
        free(child);
    }
    closedir(d);
    free(dir);
    return rc;
}

static int lo_list(void *be, const char *prefix, mi_store_each_fn each, void *ctx)
{
    struct local_be *l = be;
    /* The prefix is "<owner>/<repo>/" or "<owner>/<repo>/<env>/": walk from there. */
    char *rel = mi_xstrdup(prefix);
    size_t n = strlen(rel);
    while (n && rel[n - 1] == '/')
        rel[--n] = '\0';
    int slashes = 0;
    for (char *p = rel; *p; p++)
        slashes += *p == '/';
    int rc = walk(l, rel, slashes >= 2 ? 1 : 2, each, ctx);
    free(rel);
    return rc;
}

static int lo_remove(void *be, const char *name)
{
    struct local_be *l = be;
    char *path = path_of(l, name);
    char *mpath = mi_xasprintf("%s.json", path);
    int rc = 0;
    int lock = meta_lock(l, name);
    if (lock < 0) {
        rc = lock;
        goto done;
    }
    if (unlink(path) < 0)
        rc = mi_error_errno(errno == ENOENT ? MI_ENOTFOUND : MI_ERR, "store: cannot remove '%s'",
                            path);
    unlink(mpath);
    /* The plan's companion summary goes with it (none is fine). */
    char *spath = mi_xasprintf("%s" MI_STORE_SUMMARY_SUFFIX, path);
    unlink(spath);
    free(spath);
    char *dir = parent_dir(path);
    rmdir(dir); /* only when empty; a failure is fine */
    free(dir);
done:
    meta_unlock(lock);
    free(mpath);
    free(path);
    return rc;
}

/* Small unsealed objects (a plan's summary): written to a temporary file and renamed over
 * the old one, so a reader never sees a part. */
static int lo_put_small(void *be, const char *name, const void *data, size_t len)
{
    struct local_be *l = be;
    char *path = path_of(l, name);
    char *dir = parent_dir(path);
    int rc = mi_fs_mkdir_p(dir, 0700);
    if (rc == 0)
        rc = mi_fs_write_file_atomic(path, data, len, 0600);
    free(dir);
    free(path);
    return rc;
}

/* --- locks ------------------------------------------------------------------------------ */

static void read_holder(int fd, struct mi_store_lock_info *out)
{
    char buf[1024];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0)
        return;
    json_t *root = json_loadb(buf, (size_t)n, 0, NULL);
    const char *h = json_string_value(json_object_get(root, "holder"));
    const char *s = json_string_value(json_object_get(root, "since"));
    out->holder = h ? mi_xstrdup(h) : NULL;
    out->since = s ? mi_xstrdup(s) : NULL;
    json_decref(root);
}

static int lo_lock_try(void *be, const char *name, int lease_s, const char *holder, void **handle)
{
    (void)lease_s;
    struct local_be *l = be;
    char *path = path_of(l, name);
    char *dir = parent_dir(path);
    int rc = mi_fs_mkdir_p(dir, 0700);
    int fd = -1;
    if (rc < 0)
        goto done;
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = mi_error_errno(MI_ERR, "store: cannot open the lock '%s'", path);
        goto done;
    }
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    if (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
        rc = errno == EAGAIN || errno == EACCES
                 ? mi_error_set(MI_ECONFLICT, "store: '%s' is locked", path)
                 : mi_error_errno(MI_ERR, "store: cannot lock '%s'", path);
        close(fd);
        fd = -1;
        goto done;
    }
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *info =
        json_pack("{s:s, s:s, s:I}", "holder", holder, "since", when, "pid", (json_int_t)getpid());
    char *text = json_dumps(info, JSON_COMPACT);
    json_decref(info);
    /* Holder information is a courtesy; the flock is the lock, so a failed write is fine. */
    if (pwrite(fd, text, strlen(text), 0) == (ssize_t)strlen(text) &&
        ftruncate(fd, (off_t)strlen(text)) < 0) {
        /* Trailing bytes of an older holder only make the text unreadable. */
    }
    free(text);
    int *h = mi_xmalloc(sizeof(*h));
    *h = fd;
    *handle = h;
done:
    free(dir);
    free(path);
    return rc;
}

static int lo_lock_release(void *be, void *handle)
{
    (void)be;
    int *h = handle;
    if (ftruncate(*h, 0) < 0) {
        /* Stale holder text is harmless: readers trust the flock, not the text. */
    }
    /* Closing the only descriptor of the open file releases its lock. */
    close(*h);
    free(h);
    return 0;
}

static int lo_lock_info(void *be, const char *name, struct mi_store_lock_info *out)
{
    struct local_be *l = be;
    memset(out, 0, sizeof(*out));
    char *path = path_of(l, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    free(path);
    if (fd < 0) {
        out->state = mi_xstrdup("free");
        return 0;
    }
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    if (fcntl(fd, F_OFD_GETLK, &fl) < 0) {
        int rc = mi_error_errno(MI_ERR, "store: cannot test the lock '%s'", name);
        close(fd);
        return rc;
    }
    if (fl.l_type != F_UNLCK) {
        out->locked = 1;
        out->state = mi_xstrdup("held");
        read_holder(fd, out);
    } else {
        out->state = mi_xstrdup("free");
    }
    close(fd);
    return 0;
}

static int lo_lock_break(void *be, const char *name)
{
    struct mi_store_lock_info info;
    lo_lock_info(be, name, &info);
    if (!info.locked) {
        mi_store_lock_info_release(&info);
        return mi_error_set(MI_ENOTFOUND, "store: '%s' is not locked", name);
    }
    int rc = mi_error_set(MI_ECONFLICT,
                          "store: a local lock cannot be broken from outside: it is held by "
                          "%s and ends when that process exits (stop it if it is stuck)",
                          info.holder ? info.holder : "a running process");
    mi_store_lock_info_release(&info);
    return rc;
}

static void lo_free(void *be)
{
    struct local_be *l = be;
    if (!l)
        return;
    free(l->root);
    free(l);
}

static const struct mi_store_backend_ops local_ops = {
    lo_put,      lo_head, lo_get,          lo_update_meta, lo_list,       lo_remove,
    lo_lock_try, NULL,    lo_lock_release, lo_lock_info,   lo_lock_break, lo_free,
    lo_put_small,
};

int mi_store_backend_local(struct mi_store_backend *out, const char *dir)
{
    memset(out, 0, sizeof(*out));
    if (!dir || !*dir)
        return mi_error_set(MI_EUSAGE, "store: empty local store path");
    struct local_be *l = mi_xcalloc(1, sizeof(*l));
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    l->root = mi_xstrndup(dir, n);
    out->ops = &local_ops;
    out->be = l;
    out->remote = 0;
    out->description = mi_xasprintf("local directory '%s'", l->root);
    return 0;
}
