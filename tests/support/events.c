#include "events.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "testsupport.h"
#include "util/buf.h"

json_t *mi_test_event_load(const char *name)
{
    char *rel = mi_xasprintf("tests/fixtures/events/%s", name);
    char *path = mi_test_path(rel);
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    cr_assert(root, "cannot load %s: %s", path, err.text);
    free(rel);
    free(path);
    return root;
}

void mi_test_event_set(json_t *root, const char *dotted, json_t *value)
{
    char *copy = mi_xstrdup(dotted);
    json_t *obj = root;
    char *p = copy;
    for (char *dot = strchr(p, '.'); dot; dot = strchr(p, '.')) {
        *dot = '\0';
        obj = json_object_get(obj, p);
        cr_assert(json_is_object(obj), "no object '%s' on the way to '%s'", p, dotted);
        p = dot + 1;
    }
    cr_assert_eq(json_object_set_new(obj, p, value), 0, "cannot set %s", dotted);
    free(copy);
}

void mi_test_event_set_str(json_t *root, const char *dotted, const char *value)
{
    mi_test_event_set(root, dotted, json_string(value));
}

char *mi_test_event_write(json_t *root, const char *dir, const char *name)
{
    char *path = mi_xasprintf("%s/%s", dir, name);
    cr_assert_eq(json_dump_file(root, path, JSON_INDENT(2)), 0, "cannot write %s", path);
    return path;
}

char *mi_test_event_text(json_t *root)
{
    char *s = json_dumps(root, 0);
    cr_assert(s);
    return s;
}

json_t *mi_test_event_pull_request(const struct mi_test_pr_event *e)
{
    json_t *ev = mi_test_event_load("pull_request.synchronize.json");
    mi_test_event_set(ev, "number", json_integer(e->number));
    mi_test_event_set(ev, "pull_request.number", json_integer(e->number));
    mi_test_event_set_str(ev, "pull_request.base.ref", e->base_ref);
    mi_test_event_set_str(ev, "pull_request.base.sha", e->base_sha);
    if (e->head_ref)
        mi_test_event_set_str(ev, "pull_request.head.ref", e->head_ref);
    mi_test_event_set_str(ev, "pull_request.head.sha", e->head_sha);
    mi_test_event_set_str(ev, "repository.full_name", e->repo);
    mi_test_event_set_str(ev, "pull_request.base.repo.full_name", e->repo);
    mi_test_event_set_str(ev, "pull_request.head.repo.full_name",
                          e->head_repo ? e->head_repo : e->repo);
    return ev;
}
