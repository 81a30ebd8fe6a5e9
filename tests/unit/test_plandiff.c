/* terraform/plandiff and report/plandiff: change summaries of plans, their JSON, the
 * difference between two pushes' plans and the comment section that shows it. */
#include <criterion/criterion.h>
#include <string.h>

#include "report/plandiff.h"
#include "terraform/changes.h"
#include "terraform/plandiff.h"
#include "util/error.h"
#include "util/log.h"

TestSuite(plandiff);

/* A plan of resources given as "address=action[,action]" ("no-op", "create", "delete,create"
 * ...), with optional extras per entry. */
static struct mi_tfplan *plan_of(const char *resources_json, const char *outputs_json)
{
    char *json = mi_xasprintf("{\"format_version\":\"1.2\",\"resource_changes\":[%s],"
                              "\"output_changes\":{%s}}",
                              resources_json, outputs_json ? outputs_json : "");
    struct mi_tfplan *p = NULL;
    cr_assert_eq(mi_tfplan_parse(&p, json, strlen(json), "test"), 0, "%s", mi_error_last());
    free(json);
    return p;
}

#define RC(addr, actions, extra)                                                                   \
    "{\"address\":\"" addr "\",\"mode\":\"managed\",\"type\":\"t\",\"name\":\"n\"," extra          \
    "\"change\":{\"actions\":[" actions "],\"before\":{},\"after\":{}}}"

static struct mi_plandiff_summary *summary_of(const char *res, const char *outs, const char *sha)
{
    struct mi_tfplan *p = plan_of(res, outs);
    struct mi_plandiff_summary *s = NULL;
    mi_plandiff_summarize(&s, p, sha);
    mi_tfplan_free(p);
    return s;
}

Test(plandiff, summary_keeps_only_the_change_set_sorted)
{
    struct mi_plandiff_summary *s = summary_of(
        RC("z.last", "\"create\"", "") "," RC("a.first", "\"delete\",\"create\"", "") "," RC(
            "m.same", "\"no-op\"",
            "") "," RC("m.moved", "\"no-op\"",
                       "\"previous_address\":\"m.old\",") "," RC("d.data", "\"read\"",
                                                                 "") "," RC("c.cbd",
                                                                            "\"create\",\"delete\"",
                                                                            "") "," RC("u.upd",
                                                                                       "\"update\"",
                                                                                       "") "," RC("x.gone",
                                                                                                  "\"delete\"",
                                                                                                  "") "," RC("x.gone",
                                                                                                             "\"delete\"",
                                                                                                             "\"deposed\":\"abcd1234\","),
        "\"url\":{\"actions\":[\"update\"],\"before\":\"a\",\"after\":\"b\"},"
        "\"same\":{\"actions\":[\"no-op\"],\"before\":\"a\",\"after\":\"a\"}",
        "1111111111111111111111111111111111111111");
    mi_buf json = MI_BUF_INIT;
    mi_plandiff_summary_to_json(&json, s);
    cr_assert_str_eq(json.ptr, "{\"format\":\"mlinfra.plan-summary/1\","
                               "\"head_sha\":\"1111111111111111111111111111111111111111\","
                               "\"outputs\":{\"url\":\"update\"},"
                               "\"resources\":{\"a.first\":\"replace\",\"c.cbd\":\"replace\","
                               "\"d.data\":\"read\",\"m.moved\":\"move\",\"u.upd\":\"update\","
                               "\"x.gone\":\"delete\",\"x.gone (deposed abcd1234)\":\"delete\","
                               "\"z.last\":\"create\"}}");

    /* The JSON reads back to the same summary, byte for byte. */
    struct mi_plandiff_summary *back = NULL;
    cr_assert_eq(mi_plandiff_summary_parse(&back, json.ptr, json.len, "stored"), 0, "%s",
                 mi_error_last());
    mi_buf again = MI_BUF_INIT;
    mi_plandiff_summary_to_json(&again, back);
    cr_assert_str_eq(again.ptr, json.ptr);
    mi_buf_release(&again);
    mi_buf_release(&json);
    mi_plandiff_summary_free(back);
    mi_plandiff_summary_free(s);
    mi_plandiff_summary_free(NULL);
}

Test(plandiff, summary_of_an_empty_plan_is_empty)
{
    struct mi_plandiff_summary *s = summary_of("", NULL, NULL);
    mi_buf json = MI_BUF_INIT;
    mi_plandiff_summary_to_json(&json, s);
    cr_assert_str_eq(json.ptr, "{\"format\":\"mlinfra.plan-summary/1\",\"head_sha\":null,"
                               "\"outputs\":{},\"resources\":{}}");
    mi_buf_release(&json);
    mi_plandiff_summary_free(s);
}

Test(plandiff, summary_of_the_reference_plan)
{
    char *path = mi_xasprintf("%s/tests/fixtures/plans/aks_mlflow_replace.json",
                              getenv("MLINFRA_SOURCE_DIR") ? getenv("MLINFRA_SOURCE_DIR")
                                                           : MLINFRA_SOURCE_DIR);
    struct mi_tfplan *p = NULL;
    cr_assert_eq(mi_tfplan_load(&p, path), 0, "%s", mi_error_last());
    struct mi_plandiff_summary *s = NULL;
    mi_plandiff_summarize(&s, p, "abc");
    size_t changing = 0;
    for (size_t i = 0; i < p->resources_len; i++)
        changing += p->resources[i].action != MI_TFPLAN_NOOP || p->resources[i].importing ||
                    p->resources[i].previous_address;
    cr_assert_gt(s->resources_len, 0);
    cr_assert_leq(s->resources_len, changing);
    size_t replaced = 0;
    for (size_t i = 0; i < s->resources_len; i++) {
        replaced += strcmp(s->resources[i].action, "replace") == 0;
        if (i)
            cr_assert_lt(strcmp(s->resources[i - 1].address, s->resources[i].address), 0);
    }
    cr_assert_eq(replaced, p->counts.replace);
    mi_plandiff_summary_free(s);
    mi_tfplan_free(p);
    free(path);
}

Test(plandiff, parse_refuses_what_is_not_a_summary)
{
    struct {
        const char *json, *want;
    } cases[] = {
        {"not json", "line 1"},
        {"[]", "not a summary"},
        {"{\"format\":\"mlinfra.plan-summary/2\",\"resources\":{},\"outputs\":{}}",
         "not a summary"},
        {"{\"format\":\"mlinfra.plan-summary/1\",\"resources\":[],\"outputs\":{}}",
         "'resources' is not an object"},
        {"{\"format\":\"mlinfra.plan-summary/1\",\"resources\":{}}", "'outputs' is not an object"},
        {"{\"format\":\"mlinfra.plan-summary/1\",\"resources\":{\"a.b\":\"explode\"},"
         "\"outputs\":{}}",
         "resources 'a.b': the action is not one of"},
        {"{\"format\":\"mlinfra.plan-summary/1\",\"resources\":{\"a.b\":1},\"outputs\":{}}",
         "the action is not one of"},
        {"{\"format\":\"mlinfra.plan-summary/1\",\"head_sha\":5,\"resources\":{},"
         "\"outputs\":{}}",
         "'head_sha' is not a string"},
        {"{\"format\":\"mlinfra.plan-summary/1\",\"resources\":{\"a\":\"create\",\"a\":"
         "\"delete\"},\"outputs\":{}}",
         "line 1"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mi_plandiff_summary *s = (void *)1;
        cr_assert_eq(mi_plandiff_summary_parse(&s, cases[i].json, strlen(cases[i].json), "x.json"),
                     MI_ERR, "accepted %s", cases[i].json);
        cr_assert_null(s);
        cr_assert(strstr(mi_error_last(), "plan summary x.json"), "%s", mi_error_last());
        cr_assert(strstr(mi_error_last(), cases[i].want), "%s: %s", cases[i].json, mi_error_last());
    }
}

static struct mi_plandiff *diff_of(const char *prev_res, const char *prev_out, const char *cur_res,
                                   const char *cur_out)
{
    struct mi_plandiff_summary *a =
        summary_of(prev_res, prev_out, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    struct mi_plandiff_summary *b =
        summary_of(cur_res, cur_out, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
    struct mi_plandiff *d = NULL;
    mi_plandiff_compare(&d, a, b);
    mi_plandiff_summary_free(a);
    mi_plandiff_summary_free(b);
    return d;
}

Test(plandiff, diff_finds_added_dropped_and_changed)
{
    struct mi_plandiff *d = diff_of(
        RC("a.kept", "\"update\"", "") "," RC("b.dropped", "\"create\"", "") "," RC(
            "c.changed", "\"update\"", "") "," RC("e.now_noop", "\"update\"", ""),
        "\"gone\":{\"actions\":[\"create\"],\"before\":null,\"after\":1}",
        RC("a.kept", "\"update\"", "") "," RC("c.changed", "\"delete\",\"create\"", "") "," RC(
            "d.added", "\"create\"", "") "," RC("e.now_noop", "\"no-op\"", ""),
        "\"new\":{\"actions\":[\"create\"],\"before\":null,\"after\":1}");
    cr_assert_eq(d->len, 6);
    cr_assert_eq(d->added, 2);
    cr_assert_eq(d->dropped, 3);
    cr_assert_eq(d->changed, 1);
    cr_assert_eq(d->unchanged, 1);
    struct {
        enum mi_plandiff_kind kind;
        int is_output;
        const char *address, *before, *after;
    } want[] = {
        {MI_PLANDIFF_DROPPED, 0, "b.dropped", "create", NULL},
        {MI_PLANDIFF_CHANGED, 0, "c.changed", "update", "replace"},
        {MI_PLANDIFF_ADDED, 0, "d.added", NULL, "create"},
        {MI_PLANDIFF_DROPPED, 0, "e.now_noop", "update", NULL},
        {MI_PLANDIFF_DROPPED, 1, "gone", "create", NULL},
        {MI_PLANDIFF_ADDED, 1, "new", NULL, "create"},
    };
    for (size_t i = 0; i < 6; i++) {
        const struct mi_plandiff_entry *e = &d->entries[i];
        cr_assert_eq(e->kind, want[i].kind, "entry %zu", i);
        cr_assert_eq(e->is_output, want[i].is_output, "entry %zu", i);
        cr_assert_str_eq(e->address, want[i].address);
        if (want[i].before)
            cr_assert_str_eq(e->before, want[i].before);
        else
            cr_assert_null(e->before);
        if (want[i].after)
            cr_assert_str_eq(e->after, want[i].after);
        else
            cr_assert_null(e->after);
    }

    mi_buf md = MI_BUF_INIT;
    mi_report_plandiff_section(&md, d, 0);
    cr_assert(strstr(md.ptr, "### Changes since the previous plan\n\n"), "%s", md.ptr);
    cr_assert(strstr(md.ptr, "Compared with the plan of `aaaaaaa`: 2 added to the change set, "
                             "3 dropped from it, 1 with another action.\n"),
              "%s", md.ptr);
    cr_assert(strstr(md.ptr, "| `b.dropped` | create | no change |\n"), "%s", md.ptr);
    cr_assert(strstr(md.ptr, "| `c.changed` | update | **replace** |\n"), "%s", md.ptr);
    cr_assert(strstr(md.ptr, "| `d.added` | – | **create** |\n"), "%s", md.ptr);
    cr_assert(strstr(md.ptr, "| output `new` | – | **create** |\n"), "%s", md.ptr);
    cr_assert_null(strstr(md.ptr, "more not listed"));
    mi_buf_reset(&md);
    mi_report_plandiff_section(&md, d, 2);
    cr_assert(strstr(md.ptr, "…and 4 more not listed."), "%s", md.ptr);
    cr_assert_null(strstr(md.ptr, "d.added"));
    mi_buf_release(&md);
    mi_plandiff_free(d);
    mi_plandiff_free(NULL);
}

Test(plandiff, same_change_set_says_no_difference)
{
    struct mi_plandiff *d =
        diff_of(RC("a.b", "\"create\"", ""), NULL, RC("a.b", "\"create\"", ""), NULL);
    cr_assert_eq(d->len, 0);
    cr_assert_eq(d->unchanged, 1);
    mi_buf md = MI_BUF_INIT;
    mi_report_plandiff_section(&md, d, 0);
    cr_assert(strstr(md.ptr, "`aaaaaaa`: no difference"), "%s", md.ptr);
    cr_assert_null(strstr(md.ptr, "| Resource"));
    mi_buf_release(&md);
    mi_plandiff_free(d);
}

Test(plandiff, section_escapes_addresses_and_redacts)
{
    mi_log_mask("hunter22");
    struct mi_plandiff_summary prev = {0}, cur = {0};
    struct mi_plandiff_item items[] = {{"module.x[\"a|b`c\"].t.n", "create"},
                                       {"t.hunter22", "update"}};
    cur.resources = items;
    cur.resources_len = 2;
    struct mi_plandiff *d = NULL;
    mi_plandiff_compare(&d, &prev, &cur);
    cr_assert_eq(d->added, 2);
    mi_buf md = MI_BUF_INIT;
    mi_report_plandiff_section(&md, d, 0);
    cr_assert(strstr(md.ptr, "Compared with the previous plan: 2 added"), "%s", md.ptr);
    cr_assert(strstr(md.ptr, "| `` module.x[\"a\\|b`c\"].t.n `` |"), "%s", md.ptr);
    cr_assert_null(strstr(md.ptr, "hunter22"), "%s", md.ptr);
    mi_buf_release(&md);
    mi_plandiff_free(d);
    mi_log_mask_reset();
}
