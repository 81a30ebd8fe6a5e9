/*
 * fs.h - small file helpers with errors that name the path.
 *
 * All functions return 0 or a negative MI_E* code with the message set (error.h).
 * Nothing here follows user-controlled paths blindly: callers validate names first
 * (see context/ for environment names); these helpers only do the I/O.
 */
#ifndef MI_FS_H
#define MI_FS_H

#include <stddef.h>

#include "util/buf.h"

/* Appends the whole file to out. Fails with MI_ERR when it exceeds max_bytes (0: no cap),
 * MI_ENOTFOUND when it does not exist. */
int mi_fs_read_file(mi_buf *out, const char *path, size_t max_bytes);

/* Writes data to path through a temporary file in the same directory and rename(2), so a
 * reader sees the old file or the new one, never a partial one. mode as for open(2). */
int mi_fs_write_file_atomic(const char *path, const void *data, size_t len, int mode);

/* Appends to path (creating it), as GitHub's $GITHUB_OUTPUT and $GITHUB_STEP_SUMMARY want. */
int mi_fs_append_file(const char *path, const void *data, size_t len);

/* mkdir -p with the given mode for directories it creates. */
int mi_fs_mkdir_p(const char *path, int mode);

/* 1 if path exists (any type), 0 otherwise. */
int mi_fs_exists(const char *path);
/* 1 if path is a directory. */
int mi_fs_is_dir(const char *path);

/* Joins a and b with exactly one '/' between them (caller frees). */
char *mi_fs_join(const char *a, const char *b);

#endif
