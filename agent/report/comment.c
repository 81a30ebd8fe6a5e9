/*
 * comment.c - the plan's PR comment. See comment.h for the rules.
 *
 * The comment is built as parts (a fixed head, tables as lists of rows, the plan text) and
 * then assembled under the size budget, cutting in the order comment.h promises. Every part
 * is redacted while it is built, so the sizes measured are the sizes sent.
 */
#include "report/comment.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/md.h"
#include "util/log.h"
#include "util/banned.h"

/* Room kept for the lines that say what was cut, and the table headers around the rows. */
#define NOTES_RESERVE 1200
/* Plan text shorter than this is not worth showing: it is left out with a note instead. */
#define PLAN_TEXT_MIN 400
#define VALUE_MAX 80
#define ATTRS_PER_ROW 4
#define MESSAGE_MAX 400

/* ====================================================================================== */
/* redaction                                                                              */
/* ====================================================================================== */

struct redactor {
    const char **items; /* sorted by first byte, then longest first */
    size_t *lens;
    size_t len;
    size_t start[257]; /* items with first byte b are [start[b], start[b+1]) */
};

static int cmp_item(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    if ((unsigned char)x[0] != (unsigned char)y[0])
        return (unsigned char)x[0] < (unsigned char)y[0] ? -1 : 1;
    size_t lx = strlen(x), ly = strlen(y);
    if (lx != ly)
        return lx > ly ? -1 : 1;
    return 0;
}

static void redactor_init(struct redactor *r, const char *const *a, size_t na, const char *const *b,
                          size_t nb)
{
    memset(r, 0, sizeof(*r));
    r->items = mi_xcalloc(na + nb + 1, sizeof(char *));
    for (size_t i = 0; i < na; i++)
        if (a[i] && strlen(a[i]) >= MI_TFPLAN_SECRET_MIN)
            r->items[r->len++] = a[i];
    for (size_t i = 0; i < nb; i++)
        if (b[i] && strlen(b[i]) >= MI_TFPLAN_SECRET_MIN)
            r->items[r->len++] = b[i];
    if (r->len)
        qsort(r->items, r->len, sizeof(char *), cmp_item);
    r->lens = mi_xcalloc(r->len + 1, sizeof(size_t));
    for (size_t i = 0; i < r->len; i++)
        r->lens[i] = strlen(r->items[i]);
    size_t k = 0;
    for (int c = 0; c < 256; c++) {
        r->start[c] = k;
        while (k < r->len && (unsigned char)r->items[k][0] == c)
            k++;
    }
    r->start[256] = r->len;
}

static void redactor_release(struct redactor *r)
{
    free(r->items);
    free(r->lens);
}

/* Appends text with the plan's secrets and then the log registry's replaced by "***". */
static void redact(const struct redactor *r, mi_buf *out, const char *text, size_t len)
{
    mi_buf tmp = MI_BUF_INIT;
    size_t i = 0, copied = 0;
    while (i < len) {
        unsigned char c = (unsigned char)text[i];
        size_t hit = 0;
        for (size_t k = r->start[c]; k < r->start[c + 1]; k++) {
            if (r->lens[k] <= len - i && memcmp(text + i, r->items[k], r->lens[k]) == 0) {
                hit = r->lens[k];
                break; /* longest first within a bucket */
            }
        }
        if (hit) {
            mi_buf_add(&tmp, text + copied, i - copied);
            mi_buf_adds(&tmp, "***");
            i += hit;
            copied = i;
        } else {
            i++;
        }
    }
    mi_buf_add(&tmp, text + copied, len - copied);
    mi_log_redact(out, tmp.ptr, tmp.len);
    mi_buf_release(&tmp);
}

void mi_report_redact(mi_buf *out, const char *text, size_t len, const char *const *secrets,
                      size_t secrets_len)
{
    struct redactor r;
    redactor_init(&r, secrets, secrets_len, NULL, 0);
    redact(&r, out, text, len);
    redactor_release(&r);
}

/* ====================================================================================== */
/* markdown escaping                                                                      */
/* ====================================================================================== */

/* Length of the longest run of c in s. */
static size_t longest_run(const char *s, size_t len, char c)
{
    size_t best = 0, run = 0;
    for (size_t i = 0; i < len; i++) {
        run = s[i] == c ? run + 1 : 0;
        if (run > best)
            best = run;
    }
    return best;
}

/* Cuts len so that s[0..len) does not end inside a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t len)
{
    size_t k = len;
    while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
        k--;
    return k;
}

/* A value for a table cell: a short code span, or a marker for what cannot be shown. */
static void md_value(mi_buf *out, const char *json, int sensitive, int unknown)
{
    if (sensitive) {
        mi_buf_adds(out, "_(sensitive)_");
        return;
    }
    if (unknown) {
        mi_buf_adds(out, "_(known after apply)_");
        return;
    }
    if (!json) {
        mi_buf_adds(out, "_null_");
        return;
    }
    size_t len = strlen(json);
    if (len <= VALUE_MAX) {
        mi_md_code(out, json, len, 1);
        return;
    }
    mi_buf tmp = MI_BUF_INIT;
    mi_buf_add(&tmp, json, utf8_cut(json, VALUE_MAX));
    mi_buf_adds(&tmp, "…");
    mi_md_code(out, tmp.ptr, tmp.len, 1);
    mi_buf_release(&tmp);
}

static void add_thousands(mi_buf *out, size_t n)
{
    char digits[32];
    int len = snprintf(digits, sizeof(digits), "%zu", n);
    for (int i = 0; i < len; i++) {
        if (i && (len - i) % 3 == 0)
            mi_buf_addch(out, ',');
        mi_buf_addch(out, digits[i]);
    }
}

/* ====================================================================================== */
/* tables as rows                                                                         */
/* ====================================================================================== */

struct table {
    char *title; /* heading and table header, ends with the separator row and "\n" */
    char **rows; /* each ends with "\n" */
    size_t len, cap;
    size_t shown;     /* decided by the fitting */
    const char *what; /* "resources", "outputs", ... for the "N more" note */
};

static void table_add(struct table *t, const struct redactor *r, mi_buf *row)
{
    if (t->len == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->rows = mi_xrealloc(t->rows, t->cap * sizeof(char *));
    }
    mi_buf red = MI_BUF_INIT;
    redact(r, &red, row->ptr, row->len);
    t->rows[t->len++] = mi_buf_detach(&red);
    mi_buf_reset(row);
}

static void table_release(struct table *t)
{
    free(t->title);
    for (size_t i = 0; i < t->len; i++)
        free(t->rows[i]);
    free(t->rows);
}

static size_t table_bytes(const struct table *t, size_t rows)
{
    if (!t->len)
        return 0;
    size_t n = strlen(t->title) + 1;
    for (size_t i = 0; i < rows && i < t->len; i++)
        n += strlen(t->rows[i]);
    return n;
}

static void table_emit(mi_buf *out, const struct table *t)
{
    if (!t->len)
        return;
    mi_buf_adds(out, t->title);
    for (size_t i = 0; i < t->shown; i++)
        mi_buf_adds(out, t->rows[i]);
    if (t->shown < t->len) {
        mi_buf_adds(out, "\n_…and ");
        add_thousands(out, t->len - t->shown);
        mi_buf_addf(out,
                    " more %s not listed, to stay within GitHub's comment size limit "
                    "(the workflow log has them all)._\n",
                    t->what);
    }
    mi_buf_addch(out, '\n');
}

/* ====================================================================================== */
/* the parts                                                                              */
/* ====================================================================================== */

/* The changed attributes of a row; those forcing a replacement come first. */
static void attrs_cell(mi_buf *row, const struct mi_tfplan_resource *rc)
{
    size_t shown = 0;
    for (size_t k = 0; k < 2 * rc->attrs_len && shown < ATTRS_PER_ROW; k++) {
        int forcing_pass = k < rc->attrs_len;
        const struct mi_tfplan_attr *a = &rc->attrs[forcing_pass ? k : k - rc->attrs_len];
        if ((int)a->forces_replacement != forcing_pass)
            continue;
        if (shown++)
            mi_buf_adds(row, "<br>");
        mi_md_codes(row, a->path, 1);
        mi_buf_adds(row, ": ");
        if (rc->action != MI_TFPLAN_CREATE && rc->action != MI_TFPLAN_READ) {
            md_value(row, a->before, a->before_sensitive, 0);
            mi_buf_adds(row, " → ");
        }
        md_value(row, a->after, a->after_sensitive, a->after_unknown);
        if (a->forces_replacement)
            mi_buf_adds(row, " **forces replacement**");
    }
    size_t total = rc->attrs_total;
    if (total > shown) {
        if (shown)
            mi_buf_adds(row, "<br>");
        mi_buf_addf(row, "_+%zu more_", total - shown);
    }
}

static const char *reason_text(const char *reason)
{
    static const struct {
        const char *code, *text;
    } reasons[] = {
        {"replace_because_tainted", "the object is tainted"},
        {"replace_because_cannot_update", "a changed attribute cannot be updated in place"},
        {"replace_by_request", "replacement was requested (-replace)"},
        {"replace_by_triggers", "replace_triggered_by"},
        {"delete_because_no_resource_config", "no longer in the configuration"},
        {"delete_because_no_module", "its module is no longer in the configuration"},
        {"delete_because_wrong_repetition", "count/for_each changed"},
        {"delete_because_count_index", "count index out of range"},
        {"delete_because_each_key", "for_each key removed"},
        {"delete_because_no_move_target", "moved block target missing"},
        {"read_because_config_unknown", "configuration known only after apply"},
        {"read_because_dependency_pending", "depends on a pending change"},
        {"read_because_check_nested", "check block"},
    };
    if (!reason)
        return NULL;
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
        if (strcmp(reason, reasons[i].code) == 0)
            return reasons[i].text;
    return reason;
}

/* Moves, imports and deposed objects; any says whether the cell already has text. */
static void extras_cell(mi_buf *row, const struct mi_tfplan_resource *rc, int any)
{
    if (rc->previous_address && strcmp(rc->previous_address, rc->address) != 0) {
        mi_buf_adds(row, any ? "<br>" : "");
        mi_buf_adds(row, "moved from ");
        mi_md_codes(row, rc->previous_address, 1);
        any = 1;
    }
    if (rc->importing) {
        mi_buf_adds(row, any ? "<br>" : "");
        mi_buf_adds(row, "imported");
        if (rc->import_id) {
            mi_buf_adds(row, " from ");
            mi_md_codes(row, rc->import_id, 1);
        }
        any = 1;
    }
    if (rc->deposed) {
        mi_buf_adds(row, any ? "<br>" : "");
        mi_buf_adds(row, "deposed object ");
        mi_md_codes(row, rc->deposed, 1);
    }
}

enum group { G_REPLACE, G_DELETE, G_CREATE, G_UPDATE, G_READ, G_IMPORT, G_MOVE, G_FORGET, G_COUNT };

static const char *group_title[G_COUNT] = {
    "🔁 Replace", "🗑️ Destroy", "➕ Create", "✏️ Update in place",
    "📖 Read",    "📥 Import",        "🚚 Move",   "🫥 Forget (removed from state only)",
};

static int group_of(const struct mi_tfplan_resource *rc)
{
    switch (rc->action) {
    case MI_TFPLAN_REPLACE_DBC:
    case MI_TFPLAN_REPLACE_CBD:
        return G_REPLACE;
    case MI_TFPLAN_DELETE:
        return G_DELETE;
    case MI_TFPLAN_CREATE:
        return G_CREATE;
    case MI_TFPLAN_UPDATE:
        return G_UPDATE;
    case MI_TFPLAN_READ:
        return G_READ;
    case MI_TFPLAN_FORGET:
        return G_FORGET;
    case MI_TFPLAN_NOOP:
        if (rc->importing)
            return G_IMPORT;
        if (rc->previous_address && strcmp(rc->previous_address, rc->address) != 0)
            return G_MOVE;
        return -1;
    }
    return -1;
}

static void resource_row(mi_buf *row, const struct mi_tfplan_resource *rc, int g)
{
    mi_buf_adds(row, "| ");
    mi_md_codes(row, rc->address, 1);
    mi_buf_adds(row, " | ");
    switch (g) {
    case G_REPLACE:
        mi_buf_adds(row, rc->action == MI_TFPLAN_REPLACE_CBD
                             ? "create new, then destroy old"
                             : "**destroy, then create** (down while it is recreated)");
        mi_buf_adds(row, " | ");
        if (rc->replace_paths_len) {
            for (size_t i = 0; i < rc->replace_paths_len && i < ATTRS_PER_ROW; i++) {
                if (i)
                    mi_buf_adds(row, ", ");
                mi_md_codes(row, rc->replace_paths[i], 1);
            }
        } else {
            const char *why = reason_text(rc->action_reason);
            mi_md_texts(row, why ? why : "—", 1);
        }
        mi_buf_adds(row, " | ");
        attrs_cell(row, rc);
        break;
    case G_DELETE:
    case G_READ: {
        const char *why = reason_text(rc->action_reason);
        if (why)
            mi_md_texts(row, why, 1);
        extras_cell(row, rc, why != NULL);
        break;
    }
    case G_UPDATE:
        attrs_cell(row, rc);
        extras_cell(row, rc, rc->attrs_total > 0);
        break;
    case G_CREATE:
    case G_FORGET:
        mi_buf_truncate(row, row->len - 3); /* one column: no details */
        break;
    default:
        extras_cell(row, rc, 0);
        break;
    }
    mi_buf_adds(row, " |\n");
}

static void build_resource_tables(struct table *t, const struct mi_tfplan *plan,
                                  const struct redactor *r)
{
    mi_buf row = MI_BUF_INIT;
    size_t count[G_COUNT] = {0};
    for (size_t i = 0; i < plan->resources_len; i++) {
        int g = group_of(&plan->resources[i]);
        if (g >= 0)
            count[g]++;
    }
    for (int g = 0; g < G_COUNT; g++) {
        t[g].what = "resources";
        if (!count[g])
            continue;
        mi_buf title = MI_BUF_INIT;
        mi_buf_addf(&title, "#### %s (", group_title[g]);
        add_thousands(&title, count[g]);
        mi_buf_adds(&title, ")\n\n");
        if (g == G_REPLACE)
            mi_buf_adds(&title, "| Resource | Order | Forced by | Changes |\n|---|---|---|---|\n");
        else if (g == G_CREATE || g == G_FORGET)
            mi_buf_adds(&title, "| Resource |\n|---|\n");
        else
            mi_buf_adds(&title, "| Resource | Details |\n|---|---|\n");
        t[g].title = mi_buf_detach(&title);
    }
    for (size_t i = 0; i < plan->resources_len; i++) {
        const struct mi_tfplan_resource *rc = &plan->resources[i];
        int g = group_of(rc);
        if (g < 0)
            continue;
        resource_row(&row, rc, g);
        table_add(&t[g], r, &row);
    }
    mi_buf_release(&row);
}

static void build_outputs_table(struct table *t, const struct mi_tfplan *plan,
                                const struct redactor *r)
{
    t->what = "outputs";
    if (!plan->counts.outputs)
        return;
    mi_buf title = MI_BUF_INIT;
    mi_buf_adds(&title, "#### 📤 Outputs\n\n| Output | Change | Value |\n|---|---|---|\n");
    t->title = mi_buf_detach(&title);
    mi_buf row = MI_BUF_INIT;
    for (size_t i = 0; i < plan->outputs_len; i++) {
        const struct mi_tfplan_output *o = &plan->outputs[i];
        if (o->action == MI_TFPLAN_NOOP)
            continue;
        mi_buf_adds(&row, "| ");
        mi_md_codes(&row, o->name, 1);
        mi_buf_addf(&row, " | %s | ", mi_tfplan_action_name(o->action));
        if (o->action == MI_TFPLAN_DELETE) {
            md_value(&row, o->before, o->sensitive, 0);
        } else {
            if (o->action == MI_TFPLAN_UPDATE) {
                md_value(&row, o->before, o->sensitive, 0);
                mi_buf_adds(&row, " → ");
            }
            md_value(&row, o->after, o->sensitive, o->after_unknown);
        }
        mi_buf_adds(&row, " |\n");
        table_add(t, r, &row);
    }
    mi_buf_release(&row);
}

static void build_drift_table(struct table *t, const struct mi_tfplan *plan,
                              const struct redactor *r)
{
    t->what = "drifted resources";
    if (!plan->drift_len)
        return;
    mi_buf title = MI_BUF_INIT;
    mi_buf_adds(&title, "#### 🌫️ Changed outside Terraform (");
    add_thousands(&title, plan->drift_len);
    mi_buf_adds(&title, ")\n\nTerraform found these differences between the state and the real "
                        "objects; the plan above already accounts for them.\n\n"
                        "| Resource | Change | Details |\n|---|---|---|\n");
    t->title = mi_buf_detach(&title);
    mi_buf row = MI_BUF_INIT;
    for (size_t i = 0; i < plan->drift_len; i++) {
        const struct mi_tfplan_resource *rc = &plan->drift[i];
        mi_buf_adds(&row, "| ");
        mi_md_codes(&row, rc->address, 1);
        mi_buf_addf(&row, " | %s | ",
                    rc->action == MI_TFPLAN_DELETE ? "deleted" : mi_tfplan_action_name(rc->action));
        if (rc->action == MI_TFPLAN_UPDATE)
            attrs_cell(&row, rc);
        mi_buf_adds(&row, " |\n");
        table_add(t, r, &row);
    }
    mi_buf_release(&row);
}

static void build_policy_tables(struct table *fail, struct table *rest,
                                const struct mi_report_plan *in, const struct redactor *r)
{
    fail->what = "policy failures";
    rest->what = "passing or skipped scenarios";
    if (!in->policies_evaluated || !in->policies_len)
        return;
    const char *header = "| Result | Scenario | Feature | Detail |\n|---|---|---|---|\n";
    fail->title = mi_xstrdup(header);
    rest->title = mi_xstrdup(header);
    mi_buf row = MI_BUF_INIT;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < in->policies_len; i++) {
            const struct mi_report_policy *p = &in->policies[i];
            int failed = p->result == MI_REPORT_POLICY_FAILED;
            if (failed != (pass == 0))
                continue;
            mi_buf_addf(&row, "| %s | ",
                        failed                                 ? "❌ failed"
                        : p->result == MI_REPORT_POLICY_PASSED ? "✅ passed"
                                                               : "⏭️ skipped");
            mi_md_texts(&row, p->scenario ? p->scenario : "(unnamed)", 1);
            mi_buf_adds(&row, " | ");
            if (p->feature) {
                mi_buf tmp = MI_BUF_INIT;
                if (p->line > 0)
                    mi_buf_addf(&tmp, "%s:%d", p->feature, p->line);
                else
                    mi_buf_adds(&tmp, p->feature);
                mi_md_code(&row, tmp.ptr, tmp.len, 1);
                mi_buf_release(&tmp);
            }
            mi_buf_adds(&row, " | ");
            if (p->message) {
                size_t len = strlen(p->message);
                mi_md_text(&row, p->message,
                        utf8_cut(p->message, len > MESSAGE_MAX ? MESSAGE_MAX : len), 1);
                if (len > MESSAGE_MAX)
                    mi_buf_adds(&row, "…");
            }
            mi_buf_adds(&row, " |\n");
            table_add(failed ? fail : rest, r, &row);
        }
    }
    mi_buf_release(&row);
}

static size_t policy_failures(const struct mi_report_plan *in)
{
    size_t n = 0;
    for (size_t i = 0; in->policies_evaluated && i < in->policies_len; i++)
        n += in->policies[i].result == MI_REPORT_POLICY_FAILED;
    return n;
}

void mi_report_marker(mi_buf *out, const char *environment)
{
    mi_buf_addf(out, "<!-- mlinfra:plan env=%s -->", environment ? environment : "");
}

static void counts_text(mi_buf *out, const struct mi_tfplan *p)
{
    const struct mi_tfplan_counts *c = &p->counts;
    if (!mi_tfplan_has_changes(p)) {
        mi_buf_adds(out, "no changes");
        return;
    }
    if (c->import) {
        add_thousands(out, c->import);
        mi_buf_adds(out, " to import, ");
    }
    add_thousands(out, c->add);
    mi_buf_adds(out, " to add, ");
    add_thousands(out, c->change);
    mi_buf_adds(out, " to change, ");
    add_thousands(out, c->destroy);
    mi_buf_adds(out, " to destroy");
    if (c->replace) {
        mi_buf_adds(out, " (");
        add_thousands(out, c->replace);
        mi_buf_adds(out, c->replace == 1 ? " replacement)" : " replacements)");
    }
    if (!c->add && !c->change && !c->destroy && c->outputs)
        mi_buf_addf(out, "; %zu output%s to change", c->outputs, c->outputs == 1 ? "" : "s");
}

void mi_report_plan_status(mi_buf *out, const struct mi_report_plan *in)
{
    if (in->failed_step)
        mi_buf_addf(out, "terraform %s failed", in->failed_step);
    else if (in->plan)
        counts_text(out, in->plan);
    else
        mi_buf_adds(out, "not planned");
    size_t failures = policy_failures(in);
    if (failures)
        mi_buf_addf(out, ", %zu policy failure%s", failures, failures == 1 ? "" : "s");
}

static void build_head(mi_buf *h, const struct mi_report_plan *in, const struct redactor *r)
{
    mi_buf raw = MI_BUF_INIT;
    const struct mi_tfplan *p = in->plan;
    size_t failures = policy_failures(in);

    mi_report_marker(&raw, in->environment);
    mi_buf_adds(&raw, "\n### ");
    if (in->failed_step)
        mi_buf_adds(&raw, "❌ ");
    else if (failures)
        mi_buf_adds(&raw, "🚫 ");
    else if (p && !mi_tfplan_has_changes(p))
        mi_buf_adds(&raw, "✅ ");
    else
        mi_buf_adds(&raw, "📝 ");
    mi_buf_adds(&raw, "Terraform plan for ");
    mi_md_codes(&raw, in->environment ? in->environment : "?", 0);
    mi_buf_adds(&raw, "\n\n");

    if (in->failed_step) {
        mi_buf_addf(&raw,
                    "**`terraform %s` failed**, so there is no plan to review. The end of "
                    "its output is below%s.\n\n",
                    in->failed_step, in->run_url ? "; the workflow log has all of it" : "");
    } else if (p) {
        if (!mi_tfplan_has_changes(p)) {
            mi_buf_adds(&raw, "**No changes.** The infrastructure matches the configuration.");
        } else {
            mi_buf_adds(&raw, "**Plan: ");
            counts_text(&raw, p);
            mi_buf_adds(&raw, ".**");
            if (p->counts.read)
                mi_buf_addf(&raw, " %zu data source%s to read.", p->counts.read,
                            p->counts.read == 1 ? "" : "s");
            if (p->counts.move)
                mi_buf_addf(&raw, " %zu moved.", p->counts.move);
            if (p->counts.forget)
                mi_buf_addf(&raw, " %zu to forget.", p->counts.forget);
            if (p->counts.outputs && (p->counts.add || p->counts.change || p->counts.destroy))
                mi_buf_addf(&raw, " %zu output%s change%s.", p->counts.outputs,
                            p->counts.outputs == 1 ? "" : "s", p->counts.outputs == 1 ? "s" : "");
        }
        if (failures)
            mi_buf_addf(&raw,
                        "\n\n**%zu policy scenario%s failed**: this plan must not be applied "
                        "as it is.",
                        failures, failures == 1 ? "" : "s");
        if (p->errored)
            mi_buf_adds(&raw, "\n\n**Terraform reported errors while planning; the plan is "
                              "incomplete.**");
        else if (!p->complete)
            mi_buf_adds(&raw, "\n\nSome changes were deferred: another plan and apply will be "
                              "needed after this one.");
        mi_buf_adds(&raw, "\n\n");
        if (in->since_previous && *in->since_previous) {
            mi_buf_adds(&raw, in->since_previous);
            mi_buf_adds(&raw, "\n");
        }
    }

    mi_buf_adds(&raw, "| Environment | Commit | Plan id | Terraform |\n|---|---|---|---|\n| ");
    mi_md_codes(&raw, in->environment ? in->environment : "?", 1);
    if (in->directory) {
        mi_buf_adds(&raw, " (");
        mi_md_codes(&raw, in->directory, 1);
        mi_buf_adds(&raw, ")");
    }
    mi_buf_adds(&raw, " | ");
    if (in->head_sha)
        mi_md_code(&raw, in->head_sha, strlen(in->head_sha) > 12 ? 12 : strlen(in->head_sha), 1);
    else
        mi_buf_adds(&raw, "—");
    mi_buf_adds(&raw, " | ");
    if (in->plan_id)
        mi_md_codes(&raw, in->plan_id, 1);
    else
        mi_buf_adds(&raw, "_not stored_");
    mi_buf_adds(&raw, " | ");
    const char *tv = in->terraform_version       ? in->terraform_version
                     : p && p->terraform_version ? p->terraform_version
                                                 : NULL;
    if (tv)
        mi_md_texts(&raw, tv, 1);
    else
        mi_buf_adds(&raw, "—");
    mi_buf_adds(&raw, " |\n\n");

    for (size_t i = 0; i < in->notes_len; i++) {
        mi_buf_adds(&raw, "> [!NOTE]\n> ");
        mi_md_texts(&raw, in->notes[i], 0);
        mi_buf_adds(&raw, "\n\n");
    }

    if (p && p->counts.replace) {
        mi_buf_adds(&raw, "> [!WARNING]\n> **");
        add_thousands(&raw, p->counts.replace);
        mi_buf_addf(&raw,
                    " resource%s will be replaced** — destroyed and created again. "
                    "Expect downtime and loss of anything stored only in %s; the "
                    "attributes that force each replacement are listed under *Replace* "
                    "below.\n\n",
                    p->counts.replace == 1 ? "" : "s", p->counts.replace == 1 ? "it" : "them");
    }
    redact(r, h, raw.ptr, raw.len);
    mi_buf_release(&raw);
}

/* The plan text, line by line from the start, each line redacted, until budget bytes. */
static void build_plan_text(mi_buf *out, const struct mi_report_plan *in, const struct redactor *r,
                            size_t budget, size_t *shown_lines, size_t *total_lines)
{
    const char *s = in->plan_text;
    size_t len = in->plan_text_len, i = 0;
    *shown_lines = *total_lines = 0;
    mi_buf line = MI_BUF_INIT;
    int full = 1;
    while (i < len) {
        const char *nl = memchr(s + i, '\n', len - i);
        size_t l = nl ? (size_t)(nl - (s + i)) : len - i;
        if (full) {
            mi_buf_reset(&line);
            redact(r, &line, s + i, l);
            if (out->len + line.len + 1 > budget) {
                full = 0;
            } else {
                mi_buf_add(out, line.ptr, line.len);
                mi_buf_addch(out, '\n');
                (*shown_lines)++;
            }
        }
        (*total_lines)++;
        i += l + (nl ? 1 : 0);
        if (!full && !nl)
            break;
    }
    mi_buf_release(&line);
}

/* The end of the error text, whole lines, redacted, within budget bytes. */
static void build_error_tail(mi_buf *out, const char *s, size_t len, const struct redactor *r,
                             size_t budget, int *cut)
{
    mi_buf red = MI_BUF_INIT;
    /* Redact a window a bit larger than the budget (whole lines, so no secret is split). */
    size_t start = len > budget * 2 ? len - budget * 2 : 0;
    while (start > 0 && s[start - 1] != '\n')
        start--;
    redact(r, &red, s + start, len - start);
    size_t from = 0;
    *cut = start > 0;
    if (red.len > budget) {
        from = red.len - budget;
        const char *nl = memchr(red.ptr + from, '\n', red.len - from);
        from = nl ? (size_t)(nl - red.ptr) + 1 : red.len;
        *cut = 1;
    }
    mi_buf_add(out, red.ptr + from, red.len - from);
    mi_buf_release(&red);
}

static void fence(mi_buf *out, const char *body, size_t len, const char *lang)
{
    size_t ticks = longest_run(body, len, '`') + 1;
    if (ticks < 3)
        ticks = 3;
    for (size_t i = 0; i < ticks; i++)
        mi_buf_addch(out, '`');
    mi_buf_adds(out, lang);
    mi_buf_addch(out, '\n');
    mi_buf_add(out, body, len);
    if (len && body[len - 1] != '\n')
        mi_buf_addch(out, '\n');
    for (size_t i = 0; i < ticks; i++)
        mi_buf_addch(out, '`');
    mi_buf_addch(out, '\n');
}

/* ====================================================================================== */
/* assembly                                                                               */
/* ====================================================================================== */

enum { T_POLICY_FAIL, T_POLICY_REST, T_OUTPUTS, T_DRIFT, T_RES0, T_COUNT = T_RES0 + G_COUNT };

void mi_report_plan_comment(mi_buf *out, const struct mi_report_plan *in)
{
    size_t max = in->max_bytes ? in->max_bytes : MI_REPORT_COMMENT_MAX;
    const struct mi_tfplan *p = in->plan;
    struct redactor r;
    redactor_init(&r, p ? (const char *const *)p->sensitive : NULL, p ? p->sensitive_len : 0,
                  in->secrets, in->secrets_len);

    mi_buf head = MI_BUF_INIT, foot = MI_BUF_INIT, body = MI_BUF_INIT, text = MI_BUF_INIT;
    struct table t[T_COUNT];
    memset(t, 0, sizeof(t));

    build_head(&head, in, &r);
    build_policy_tables(&t[T_POLICY_FAIL], &t[T_POLICY_REST], in, &r);
    if (p && !in->failed_step) {
        build_resource_tables(&t[T_RES0], p, &r);
        build_outputs_table(&t[T_OUTPUTS], p, &r);
        build_drift_table(&t[T_DRIFT], p, &r);
    }
    {
        mi_buf raw = MI_BUF_INIT;
        mi_buf_addf(&raw, "<sub>mlinfra %s", MLINFRA_VERSION);
        if (in->run_url)
            mi_buf_addf(&raw, " · [workflow run](%s)", in->run_url);
        mi_buf_adds(&raw, "</sub>\n");
        redact(&r, &foot, raw.ptr, raw.len);
        mi_buf_release(&raw);
    }

    /* Fixed parts: head, policy failures, footer, and room for the notes and headings. */
    size_t fixed = head.len + foot.len + NOTES_RESERVE + table_bytes(&t[T_POLICY_FAIL], SIZE_MAX);
    t[T_POLICY_FAIL].shown = t[T_POLICY_FAIL].len;
    size_t avail = max > fixed ? max - fixed : 0;

    /* Tables in the order they give way last to first: replacements, the other resource
     * groups, outputs, drift, then the passing policy rows. */
    static const int order[] = {
        T_RES0 + G_REPLACE, T_RES0 + G_DELETE, T_RES0 + G_CREATE, T_RES0 + G_UPDATE,
        T_RES0 + G_READ,    T_RES0 + G_IMPORT, T_RES0 + G_MOVE,   T_RES0 + G_FORGET,
        T_OUTPUTS,          T_DRIFT,           T_POLICY_REST};
    size_t n_order = sizeof(order) / sizeof(order[0]);
    size_t tables_full = 0;
    for (size_t i = 0; i < n_order; i++)
        tables_full += table_bytes(&t[order[i]], SIZE_MAX);
    int rest_as_count = 0;
    if (tables_full <= avail) {
        for (size_t i = 0; i < n_order; i++)
            t[order[i]].shown = t[order[i]].len;
        avail -= tables_full;
    } else {
        /* No room for everything: the passing policy rows become a count first, then the
         * resource rows are filled in order until the room runs out. */
        rest_as_count = t[T_POLICY_REST].len > 0;
        for (size_t i = 0; i + 1 < n_order; i++) {
            struct table *tb = &t[order[i]];
            if (!tb->len)
                continue;
            size_t head_bytes = strlen(tb->title) + 300;
            if (avail < head_bytes)
                break;
            avail -= head_bytes;
            while (tb->shown < tb->len && strlen(tb->rows[tb->shown]) <= avail)
                avail -= strlen(tb->rows[tb->shown++]);
            if (tb->shown < tb->len)
                break;
        }
        avail = 0;
    }

    /* Assemble. */
    mi_buf_add(&body, head.ptr, head.len);

    if (in->failed_step && in->error_text) {
        int cut = 0;
        size_t room = avail > 600 ? avail - 600 : 0;
        build_error_tail(&text, in->error_text, in->error_text_len, &r, room, &cut);
        mi_buf_addf(&body,
                    "<details open><summary>Output of <code>terraform %s</code>%s"
                    "</summary>\n\n",
                    in->failed_step, cut ? " (the end)" : "");
        fence(&body, text.ptr, text.len, "text");
        mi_buf_adds(&body, "\n</details>\n\n");
        mi_buf_reset(&text);
    }

    if (in->policies_evaluated && in->policies_len) {
        size_t failures = t[T_POLICY_FAIL].len, passed = 0, skipped = 0;
        for (size_t i = 0; i < in->policies_len; i++) {
            passed += in->policies[i].result == MI_REPORT_POLICY_PASSED;
            skipped += in->policies[i].result == MI_REPORT_POLICY_SKIPPED;
        }
        mi_buf_addf(&body, "#### %s Policies: %zu passed, %zu failed, %zu skipped\n\n",
                    failures ? "❌" : "✅", passed, failures, skipped);
        if (failures) {
            mi_buf_adds(&body, t[T_POLICY_FAIL].title);
            for (size_t i = 0; i < t[T_POLICY_FAIL].len; i++)
                mi_buf_adds(&body, t[T_POLICY_FAIL].rows[i]);
            if (!rest_as_count)
                for (size_t i = 0; i < t[T_POLICY_REST].len; i++)
                    mi_buf_adds(&body, t[T_POLICY_REST].rows[i]);
            mi_buf_addch(&body, '\n');
        } else if (!rest_as_count) {
            table_emit(&body, &t[T_POLICY_REST]);
        }
        if (rest_as_count)
            mi_buf_addf(&body,
                        "_The %zu passing and skipped scenarios are not listed, to stay "
                        "within GitHub's comment size limit._\n\n",
                        t[T_POLICY_REST].len);
    } else if (!in->failed_step || in->policy_note) {
        mi_buf raw = MI_BUF_INIT;
        mi_buf_adds(&raw, "#### Policies\n\n");
        mi_md_texts(&raw, in->policy_note ? in->policy_note : "No policies were evaluated.", 0);
        mi_buf_adds(&raw, "\n\n");
        redact(&r, &body, raw.ptr, raw.len);
        mi_buf_release(&raw);
    }

    if (p && !in->failed_step && mi_tfplan_has_changes(p)) {
        for (size_t i = 0; i + 1 < n_order; i++) {
            struct table *tb = &t[order[i]];
            if (tb->len && (tb->shown || i == 0)) {
                table_emit(&body, tb);
            } else if (tb->len) {
                /* Only the heading: "#### Create (1,234)", then why its rows are missing. */
                const char *end = strstr(tb->title, "\n\n");
                mi_buf_add(&body, tb->title, end ? (size_t)(end - tb->title) : strlen(tb->title));
                mi_buf_adds(&body, "\n\n_Not listed, to stay within GitHub's comment size "
                                   "limit (the workflow log has them all)._\n\n");
            }
        }
    } else if (p && !in->failed_step && p->drift_len) {
        table_emit(&body, &t[T_DRIFT]);
    }

    /* The plan text gets whatever room is left. */
    if (!in->failed_step && in->plan_text && in->plan_text_len) {
        size_t room = max > body.len + foot.len + 700 ? max - body.len - foot.len - 700 : 0;
        size_t shown = 0, total = 0;
        if (room >= PLAN_TEXT_MIN)
            build_plan_text(&text, in, &r, room, &shown, &total);
        else
            for (size_t i = 0; i < in->plan_text_len; i++)
                total += in->plan_text[i] == '\n';
        if (shown) {
            mi_buf_adds(&body, "<details><summary>Output of <code>terraform plan</code>");
            if (shown < total || in->plan_text_dropped)
                mi_buf_adds(&body, " (shortened)");
            mi_buf_adds(&body, "</summary>\n\n");
            fence(&body, text.ptr, text.len, "text");
            mi_buf_adds(&body, "\n</details>\n\n");
        }
        if (shown < total) {
            mi_buf_adds(&body, "_The plan output was cut to fit GitHub's comment size limit: ");
            if (shown) {
                mi_buf_adds(&body, "the first ");
                add_thousands(&body, shown);
                mi_buf_adds(&body, " of ");
                add_thousands(&body, total);
                mi_buf_adds(&body, " lines are shown");
            } else {
                mi_buf_adds(&body, "all ");
                add_thousands(&body, total);
                mi_buf_adds(&body, " lines were left out");
            }
            mi_buf_adds(&body, "; the workflow log has the whole of it._\n\n");
        }
        if (in->plan_text_dropped) {
            mi_buf_adds(&body, "_The first ");
            add_thousands(&body, in->plan_text_dropped);
            mi_buf_adds(&body, " bytes of the plan output were too large to keep; see the "
                               "workflow log._\n\n");
        }
    }
    mi_buf_add(&body, foot.ptr, foot.len);

    /* The budget above keeps us under max; this guard makes the promise unconditional. */
    if (body.len > max) {
        size_t keep = utf8_cut(body.ptr, max - 64);
        mi_buf_truncate(&body, keep);
        mi_buf_adds(&body, "\n\n_(comment cut at GitHub's size limit)_\n");
    }
    mi_buf_add(out, body.ptr, body.len);

    for (int i = 0; i < T_COUNT; i++)
        table_release(&t[i]);
    mi_buf_release(&head);
    mi_buf_release(&foot);
    mi_buf_release(&body);
    mi_buf_release(&text);
    redactor_release(&r);
}
