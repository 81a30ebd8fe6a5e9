/*
 * step_output.h - step outputs in GitHub's $GITHUB_OUTPUT file format.
 *
 * A single-line value is written as `name=value`; a value with a line break uses the
 * delimiter form
 *
 *     name<<ghadelimiter_<32 random hex digits>
 *     value
 *     ghadelimiter_<the same digits>
 *
 * with a fresh random delimiter (libsodium) that is checked not to occur in the value, so no
 * value can end its own block early and forge another output.
 *
 * Rules: output names are [A-Za-z0-9_-]+ (anything else is refused with MI_EUSAGE); values
 * are written as given, so callers redact secrets first (util/log.h). Text is built in a
 * caller-owned mi_buf and appended to the file in one write. Never prints, never exits.
 */
#ifndef MI_REPORT_STEP_OUTPUT_H
#define MI_REPORT_STEP_OUTPUT_H

#include "util/buf.h"

/* Appends one output to out. */
int mi_step_output_add(mi_buf *out, const char *name, const char *value);

/* Appends text to the file at path ($GITHUB_OUTPUT), creating it if needed. */
int mi_step_output_write(const char *path, const mi_buf *text);

#endif
