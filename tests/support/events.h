/*
 * events.h - GitHub's recorded event payloads (tests/fixtures/events, copied from
 * @octokit/webhooks-examples; see the README there), loaded and adjusted for a test.
 *
 * A test loads a recorded payload and changes only the fields it is about (the commit ids of
 * its temporary repository, a branch name, merged), so every payload keeps GitHub's real
 * shape. jansson: mi_test_event_load returns a new reference (caller json_decref's);
 * mi_test_event_set takes the reference of value. Failures abort the test.
 */
#ifndef MI_TEST_EVENTS_H
#define MI_TEST_EVENTS_H

#include <jansson.h>

/* tests/fixtures/events/<name> */
json_t *mi_test_event_load(const char *name);
/* Sets the field at a dotted path ("pull_request.head.sha"); the parent objects must exist. */
void mi_test_event_set(json_t *root, const char *dotted, json_t *value);
void mi_test_event_set_str(json_t *root, const char *dotted, const char *value);
/* GitHub's recorded pull_request "synchronize" payload as pull request `number` of `repo` (and
 * its base repository), from head_repo (NULL: repo, not a fork) at head_sha into base_ref at
 * base_sha; head_ref NULL keeps the recorded branch name. A new reference. */
struct mi_test_pr_event {
    long long number;
    const char *repo;
    const char *head_repo;
    const char *base_ref;
    const char *base_sha;
    const char *head_ref;
    const char *head_sha;
};
json_t *mi_test_event_pull_request(const struct mi_test_pr_event *e);
/* Writes the payload to dir/name; returns the path (caller frees). */
char *mi_test_event_write(json_t *root, const char *dir, const char *name);
/* The payload as text (caller frees). */
char *mi_test_event_text(json_t *root);

#endif
