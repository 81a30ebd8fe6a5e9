#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"

int mi_fs_read_file(mi_buf *out, const char *path, size_t max_bytes)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mi_error_errno(errno == ENOENT ? MI_ENOTFOUND : MI_ERR, "cannot open '%s'", path);
    size_t start = out->len;
    for (;;) {
        mi_buf_grow(out, 65536);
        ssize_t n = read(fd, out->ptr + out->len, out->cap - out->len - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int rc = mi_error_errno(MI_ERR, "cannot read '%s'", path);
            close(fd);
            return rc;
        }
        if (n == 0)
            break;
        out->len += (size_t)n;
        out->ptr[out->len] = '\0';
        if (max_bytes && out->len - start > max_bytes) {
            close(fd);
            return mi_error_set(MI_ERR, "'%s' is larger than the limit of %zu bytes", path,
                                max_bytes);
        }
    }
    close(fd);
    return 0;
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int mi_fs_write_file_atomic(const char *path, const void *data, size_t len, int mode)
{
    char *tmp = mi_xasprintf("%s.tmp.%ld", path, (long)getpid());
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        rc = mi_error_errno(MI_ERR, "cannot create '%s'", tmp);
        goto done;
    }
    if (write_all(fd, data, len) < 0 || fsync(fd) < 0) {
        rc = mi_error_errno(MI_ERR, "cannot write '%s'", tmp);
        close(fd);
        unlink(tmp);
        goto done;
    }
    if (close(fd) < 0) {
        rc = mi_error_errno(MI_ERR, "cannot close '%s'", tmp);
        unlink(tmp);
        goto done;
    }
    if (rename(tmp, path) < 0) {
        rc = mi_error_errno(MI_ERR, "cannot rename '%s' to '%s'", tmp, path);
        unlink(tmp);
    }
done:
    free(tmp);
    return rc;
}

int mi_fs_append_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return mi_error_errno(MI_ERR, "cannot open '%s' for appending", path);
    if (write_all(fd, data, len) < 0) {
        int rc = mi_error_errno(MI_ERR, "cannot append to '%s'", path);
        close(fd);
        return rc;
    }
    if (close(fd) < 0)
        return mi_error_errno(MI_ERR, "cannot close '%s'", path);
    return 0;
}

int mi_fs_mkdir_p(const char *path, int mode)
{
    char *copy = mi_xstrdup(path);
    int rc = 0;
    for (char *p = copy + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(copy, (mode_t)mode) < 0 && errno != EEXIST) {
                rc = mi_error_errno(MI_ERR, "cannot create directory '%s'", copy);
                break;
            }
            *p = saved;
            if (!saved)
                break;
        }
    }
    if (!rc && !mi_fs_is_dir(path))
        rc = mi_error_set(MI_ERR, "'%s' exists and is not a directory", path);
    free(copy);
    return rc;
}

int mi_fs_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int mi_fs_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *mi_fs_join(const char *a, const char *b)
{
    size_t al = strlen(a);
    while (al > 1 && a[al - 1] == '/')
        al--;
    while (*b == '/')
        b++;
    if (al == 0)
        return mi_xstrdup(b);
    return mi_xasprintf("%.*s/%s", (int)al, a, b);
}
