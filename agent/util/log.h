/*
 * log.h - what the agent tells the person reading the run log.
 *
 * Two dialects, chosen once by mi_log_init() from the environment:
 *  - GitHub Actions (GITHUB_ACTIONS=true): workflow commands - `::group::`/`::endgroup::`,
 *    `::error file=F,line=L::msg`, `::warning ...`, `::notice ...`, `::add-mask::`.
 *  - Plain text otherwise, coloured only when the stream is a terminal and NO_COLOR is unset.
 *
 * Everything goes to one stream (stderr unless mi_log_set_stream says otherwise), so stdout
 * stays free for a command's machine-readable result.
 *
 * Secrets: mi_log_mask() registers a value that must never be printed. Every line written
 * through this module has registered values replaced by "***"; in GitHub mode the runner is
 * also told to mask it. mi_log_redact() applies the same replacement to any text (comments,
 * summaries, outputs), so the one registry protects every writer.
 *
 * Only commands (agent/cmd, main.c) call the printing functions; modules return errors.
 * Not thread-safe: the agent logs from one thread.
 */
#ifndef MI_LOG_H
#define MI_LOG_H

#include <stdio.h>

#include "util/buf.h"

enum mi_log_level { MI_LOG_DEBUG, MI_LOG_INFO, MI_LOG_NOTICE, MI_LOG_WARNING, MI_LOG_ERROR };

/* Reads GITHUB_ACTIONS, RUNNER_DEBUG / MLINFRA_DEBUG and NO_COLOR. Safe to call again. */
void mi_log_init(void);
/* Redirects output (tests); NULL restores stderr. Colour is re-decided for the stream. */
void mi_log_set_stream(FILE *stream);
int mi_log_is_github(void);

void mi_log(enum mi_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define mi_log_debug(...) mi_log(MI_LOG_DEBUG, __VA_ARGS__)
#define mi_log_info(...) mi_log(MI_LOG_INFO, __VA_ARGS__)
#define mi_log_notice(...) mi_log(MI_LOG_NOTICE, __VA_ARGS__)
#define mi_log_warn(...) mi_log(MI_LOG_WARNING, __VA_ARGS__)
#define mi_log_error(...) mi_log(MI_LOG_ERROR, __VA_ARGS__)

/* An annotation on a file line (line <= 0: the file only; file NULL: no location).
 * Plain mode prints "file:line: error: message". */
void mi_log_annotate(enum mi_log_level level, const char *file, int line, const char *title,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* A collapsible group in GitHub mode, a header line otherwise. Groups do not nest. */
void mi_log_group_begin(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mi_log_group_end(void);
/* Raw text inside a group (a child's output); redacted, not reformatted. */
void mi_log_raw(const char *data, size_t len);

/* Registers a secret (copied; values shorter than 4 bytes are ignored as too common to mask
 * safely). Tells the runner with ::add-mask:: in GitHub mode. */
void mi_log_mask(const char *secret);
/* Appends text to out with every registered secret replaced by "***". */
void mi_log_redact(mi_buf *out, const char *text, size_t len);
/* Forgets every registered secret (tests). */
void mi_log_mask_reset(void);

/* Escapes text for a workflow command's message or property (GitHub's encoding rules). */
void mi_log_escape_data(mi_buf *out, const char *s);
void mi_log_escape_property(mi_buf *out, const char *s);

#endif
