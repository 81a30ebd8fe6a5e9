/*
 * plangen.h - synthetic terraform plans (terraform's JSON output format 1.2) of any size, for
 * the tests and benchmarks that need more changes than a recorded fixture has.
 *
 * The plan has n resource changes spread over five modules: 6 in 10 creates, 2 in 10 in-place
 * updates (a tag), 1 in 10 deletes and 1 in 10 replacements (destroy before create, forced by
 * "name"); two in 10 (a create and an update) carry a sensitive "password" whose value is
 * "<secret_prefix>-<i>" (before an update: "<secret_prefix>-old"), and two outputs change. The text
 * is returned in out (appended).
 */
#ifndef MI_TEST_PLANGEN_H
#define MI_TEST_PLANGEN_H

#include <stddef.h>

#include "util/buf.h"

struct mi_test_plan_counts {
    size_t add, change, destroy, replace;
};

void mi_test_plan_generate(mi_buf *out, size_t n, const char *secret_prefix,
                           struct mi_test_plan_counts *counts);

#endif
