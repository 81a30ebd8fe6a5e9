/*
 * vjson.h - JSON into compact values (value.h), streamed, for plans of hundreds of megabytes.
 *
 * The plan file is read in fixed-size blocks and never held whole in memory; object keys are
 * interned (a plan repeats the same few hundred keys millions of times), strings are copied
 * into the arena once, containers are sized exactly. Semantics follow Python's json module,
 * which terraform-compliance reads plans with: object members keep their order, a repeated
 * key keeps its first position and its last value, NaN/Infinity/-Infinity are accepted,
 * integers that do not fit 64 bits become floats.
 *
 * Rules:
 *  - Results live in the caller's arena; on failure the arena may hold garbage from the
 *    partial parse (release it with the arena).
 *  - Errors name the source, line and column ("plan.json:3:17: expected ':' after key").
 *  - Nesting deeper than MI_VJSON_MAX_DEPTH is an error, not a stack overflow.
 *  - Never prints, never exits.
 */
#ifndef MI_POLICY_VJSON_H
#define MI_POLICY_VJSON_H

#include <stddef.h>

#include "policy/value.h"

#define MI_VJSON_MAX_DEPTH 256

/* Parses the file at path (at most max_bytes, 0: no cap) into *out. */
int mi_vjson_parse_file(mi_arena *a, const char *path, size_t max_bytes, mi_value *out);
/* Parses len bytes of data; name is used in error messages. */
int mi_vjson_parse_mem(mi_arena *a, const char *name, const char *data, size_t len,
                       mi_value *out);
/* terraform-compliance's jsonify: if s is exactly one strict JSON document (no NaN, no lone
 * surrogates, surrounding whitespace allowed), stores it in *out and returns 1; otherwise 0.
 * Never sets an error. */
int mi_vjson_try(mi_arena *a, const char *s, size_t len, mi_value *out);

#endif
