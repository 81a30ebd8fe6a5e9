/*
 * sarif.c - policy results as SARIF 2.1.0 (sarif.h).
 *
 * jansson references: every json_object_set_new / json_array_append_new takes the reference
 * of the value it is given; the root is the only reference this file holds and it is
 * decref'd once, at the end of mi_sarif_render.
 */
#include "report/sarif.h"

#include <jansson.h>
#include <limits.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "remote/http.h"
#include "report/comment.h"
#include "util/error.h"
#include "util/banned.h"

#define FINGERPRINT_KEY "mlinfraPolicyFinding/v1"
#define SRCROOT "%SRCROOT%"

/* ---- strings ------------------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (max bytes left), 0 when invalid. */
static size_t utf8_seq(const unsigned char *s, size_t max)
{
    unsigned c = s[0];
    size_t n;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, min = 0x10000;
    else
        return 0;
    if (n > max)
        return 0;
    unsigned cp = c & (0xFF >> (n + 1));
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* A JSON string of s with invalid UTF-8 replaced by U+FFFD (jansson refuses invalid text). */
static json_t *jstr(const char *s)
{
    if (!s)
        s = "";
    size_t len = strlen(s);
    mi_buf b = MI_BUF_INIT;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq((const unsigned char *)s + i, len - i);
        if (n == 0) {
            mi_buf_adds(&b, "\xEF\xBF\xBD");
            i++;
        } else {
            mi_buf_add(&b, s + i, n);
            i += n;
        }
    }
    json_t *v = json_stringn(b.ptr, b.len);
    mi_buf_release(&b);
    return v ? v : json_string("");
}

/* Text that may hold plan values: redacted first. */
static json_t *jredacted(const char *s, const struct mi_sarif_options *o)
{
    mi_buf b = MI_BUF_INIT;
    if (s)
        mi_report_redact(&b, s, strlen(s), o->secrets, o->secrets_len);
    json_t *v = jstr(b.ptr);
    mi_buf_release(&b);
    return v;
}

static json_t *message(json_t *text)
{
    json_t *m = json_object();
    json_object_set_new(m, "text", text);
    return m;
}

static void slug(mi_buf *out, const char *s)
{
    int dash = 0;
    size_t start = out->len;
    for (; s && *s; s++) {
        char c = *s;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            if (dash && out->len > start)
                mi_buf_addch(out, '-');
            mi_buf_addch(out, c);
            dash = 0;
        } else {
            dash = 1;
        }
    }
    if (out->len == start)
        mi_buf_adds(out, "unnamed");
}

char *mi_sarif_rule_id(const char *feature_path, const char *scenario_name)
{
    mi_buf b = MI_BUF_INIT;
    const char *base = feature_path ? strrchr(feature_path, '/') : NULL;
    base = base ? base + 1 : feature_path ? feature_path : "";
    size_t blen = strlen(base);
    if (blen > 8 && strcmp(base + blen - 8, ".feature") == 0)
        blen -= 8;
    char *stem = mi_xstrndup(base, blen);
    slug(&b, stem);
    mi_buf_addch(&b, '/');
    slug(&b, scenario_name);
    free(stem);
    return mi_buf_detach(&b);
}

/* ---- locations ----------------------------------------------------------------------------- */

struct paths {
    char *root; /* realpath of the repository root, or NULL */
};

/* An artifactLocation for a file path: relative to %SRCROOT% when it lies under the
 * repository root (or is relative and does not climb out), else an absolute file URI. */
static json_t *artifact(const struct paths *p, const char *path)
{
    json_t *loc = json_object();
    mi_buf uri = MI_BUF_INIT;
    char real[PATH_MAX];
    const char *rel = NULL;
    int have_real = realpath(path, real) != NULL;
    if (have_real && p->root) {
        size_t rl = strlen(p->root);
        if (strncmp(real, p->root, rl) == 0 && real[rl] == '/')
            rel = real + rl + 1;
        else if (strcmp(p->root, "/") == 0)
            rel = real + 1;
    } else if (!have_real && path[0] != '/' && strncmp(path, "../", 3) != 0) {
        rel = path;
        while (strncmp(rel, "./", 2) == 0)
            rel += 2;
    }
    if (rel) {
        mi_http_escape(&uri, rel, 1);
        json_object_set_new(loc, "uri", jstr(uri.ptr));
        json_object_set_new(loc, "uriBaseId", json_string(SRCROOT));
    } else {
        mi_buf_adds(&uri, "file://");
        mi_http_escape(&uri, have_real ? real : path, 1);
        json_object_set_new(loc, "uri", jstr(uri.ptr));
    }
    mi_buf_release(&uri);
    return loc;
}

static json_t *physical(const struct paths *p, const char *path, int line)
{
    json_t *phys = json_object();
    json_object_set_new(phys, "artifactLocation", artifact(p, path));
    if (line > 0) {
        json_t *region = json_object();
        json_object_set_new(region, "startLine", json_integer(line));
        json_object_set_new(phys, "region", region);
    }
    json_t *loc = json_object();
    json_object_set_new(loc, "physicalLocation", phys);
    return loc;
}

/* ---- rules and results --------------------------------------------------------------------- */

struct rules {
    json_t *array; /* borrowed from the driver object */
    char **ids;
    size_t n;
};

static size_t rule_index(struct rules *rs, const struct mi_policy_feature *f, const char *name,
                         int line, char **tags, size_t ntags)
{
    char *id = mi_sarif_rule_id(f->path, name);
    for (size_t i = 0; i < rs->n; i++)
        if (strcmp(rs->ids[i], id) == 0) {
            free(id);
            return i;
        }
    json_t *rule = json_object();
    json_object_set_new(rule, "id", jstr(id));
    json_object_set_new(rule, "name", jstr(name));
    json_object_set_new(rule, "shortDescription", message(jstr(name)));
    mi_buf full = MI_BUF_INIT;
    mi_buf_addf(&full, "%s: %s", f->name ? f->name : "policy", name ? name : "");
    json_object_set_new(rule, "fullDescription", message(jstr(full.ptr)));
    mi_buf_reset(&full);
    mi_buf_addf(&full, "Policy scenario \"%s\" in %s, line %d.", name ? name : "", f->path, line);
    json_object_set_new(rule, "help", message(jstr(full.ptr)));
    mi_buf_release(&full);
    json_t *conf = json_object();
    json_object_set_new(conf, "level", json_string("error"));
    json_object_set_new(rule, "defaultConfiguration", conf);
    json_t *props = json_object();
    json_t *jt = json_array();
    json_array_append_new(jt, json_string("policy"));
    json_array_append_new(jt, json_string("terraform"));
    for (size_t i = 0; i < ntags; i++)
        json_array_append_new(jt, jstr(tags[i]));
    json_object_set_new(props, "tags", jt);
    json_object_set_new(props, "feature", jstr(f->path));
    json_object_set_new(props, "scenarioLine", json_integer(line));
    json_object_set_new(rule, "properties", props);
    json_array_append_new(rs->array, rule);
    rs->ids = mi_xrealloc(rs->ids, (rs->n + 1) * sizeof(*rs->ids));
    rs->ids[rs->n] = id;
    return rs->n++;
}

struct finding {
    const char *rule_id;
    size_t rule_index;
    const struct mi_policy_feature *feature;
    const struct mi_policy_scenario *scenario;
    const char *text;    /* the message */
    const char *address; /* may be NULL */
    const char *value;   /* may be NULL */
    int step_line;
    int warning;
};

static json_t *result(const struct finding *fd, const struct paths *p,
                      const struct mi_sarif_options *o)
{
    json_t *r = json_object();
    json_object_set_new(r, "ruleId", jstr(fd->rule_id));
    json_object_set_new(r, "ruleIndex", json_integer((json_int_t)fd->rule_index));
    json_object_set_new(r, "kind", json_string("fail"));
    json_object_set_new(r, "level", json_string(fd->warning ? "warning" : "error"));
    json_object_set_new(r, "message", message(jredacted(fd->text, o)));

    int line = fd->step_line > 0 ? fd->step_line : fd->scenario->line;
    const struct mi_tfsource_block *decl =
        fd->address ? mi_tfsource_find(o->sources, fd->address) : NULL;
    json_t *locs = json_array();
    json_t *primary =
        decl ? physical(p, decl->file, decl->line) : physical(p, fd->feature->path, line);
    if (fd->address) {
        json_t *logical = json_array();
        json_t *ll = json_object();
        json_object_set_new(ll, "fullyQualifiedName", jstr(fd->address));
        json_object_set_new(ll, "kind", json_string("resource"));
        json_array_append_new(logical, ll);
        json_object_set_new(primary, "logicalLocations", logical);
    }
    json_array_append_new(locs, primary);
    json_object_set_new(r, "locations", locs);
    if (decl) {
        /* The policy itself, so a reader of the alert on the .tf line finds the rule. */
        json_t *related = json_array();
        json_t *rl = physical(p, fd->feature->path, line);
        json_object_set_new(rl, "id", json_integer(1));
        json_object_set_new(rl, "message", message(json_string("the policy step that failed")));
        json_array_append_new(related, rl);
        json_object_set_new(r, "relatedLocations", related);
    }

    /* A fingerprint without line numbers: the same violation of the same rule by the same
     * resource is the same alert across pushes, wherever the lines move. */
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)fd->rule_id, strlen(fd->rule_id) + 1);
    const char *a = fd->address ? fd->address : "";
    crypto_hash_sha256_update(&st, (const unsigned char *)a, strlen(a) + 1);
    if (!fd->address && fd->text)
        crypto_hash_sha256_update(&st, (const unsigned char *)fd->text, strlen(fd->text));
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&st, digest);
    char hex[crypto_hash_sha256_BYTES * 2 + 1];
    sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
    json_t *fp = json_object();
    json_object_set_new(fp, FINGERPRINT_KEY, json_string(hex));
    json_object_set_new(r, "partialFingerprints", fp);

    json_t *props = json_object();
    json_object_set_new(props, "feature", jstr(fd->feature->path));
    json_object_set_new(props, "scenario", jstr(fd->scenario->name));
    if (fd->address)
        json_object_set_new(props, "address", jstr(fd->address));
    if (fd->value)
        json_object_set_new(props, "value", jredacted(fd->value, o));
    if (o->environment)
        json_object_set_new(props, "environment", jstr(o->environment));
    json_object_set_new(r, "properties", props);
    return r;
}

static void scenario_results(json_t *results, struct rules *rs, const struct paths *p,
                             const struct mi_policy_feature *f, const struct mi_policy_scenario *sc,
                             const char *rule_name, int rule_line, char **tags, size_t ntags,
                             const struct mi_sarif_options *o)
{
    size_t ri = rule_index(rs, f, rule_name, rule_line, tags, ntags);
    struct finding fd = {rs->ids[ri], ri, f, sc, NULL, NULL, NULL, 0, 0};
    int violations = 0;
    for (size_t i = 0; i < sc->nfailures; i++) {
        const struct mi_policy_failure *fl = &sc->failures[i];
        fd.text = fl->message;
        fd.address = fl->address;
        fd.value = fl->value;
        fd.step_line = fl->line;
        fd.warning = fl->warning;
        violations += !fl->warning;
        json_array_append_new(results, result(&fd, p, o));
    }
    if (sc->state != MI_POLICY_FAILED || violations)
        return;
    /* A scenario that failed without a recorded failure (a step raised): its failing step. */
    mi_buf text = MI_BUF_INIT;
    fd.address = NULL;
    fd.value = NULL;
    fd.warning = 0;
    fd.step_line = sc->line;
    mi_buf_addf(&text, "Scenario \"%s\" failed", sc->name ? sc->name : "");
    for (size_t i = 0; i < sc->nsteps; i++) {
        const struct mi_policy_step *s = &sc->steps[i];
        if (s->state != MI_POLICY_FAILED)
            continue;
        fd.step_line = s->line;
        mi_buf_addf(&text, " at step \"%s\"", s->sentence ? s->sentence : "");
        if (s->error_name || s->error_reason)
            mi_buf_addf(&text, ": %s%s%s", s->error_name ? s->error_name : "",
                        s->error_name && s->error_reason ? ": " : "",
                        s->error_reason ? s->error_reason : "");
        break;
    }
    fd.text = text.ptr;
    json_array_append_new(results, result(&fd, p, o));
    mi_buf_release(&text);
}

int mi_sarif_render(mi_buf *out, const struct mi_policy_result *r, const struct mi_sarif_options *o)
{
    static const struct mi_sarif_options none = {0};
    if (!o)
        o = &none;
    struct paths p = {NULL};
    char real[PATH_MAX];
    if (realpath(o->repo_root ? o->repo_root : ".", real))
        p.root = real;

    json_t *root = json_object();
    json_object_set_new(root, "$schema", json_string(MI_SARIF_SCHEMA));
    json_object_set_new(root, "version", json_string("2.1.0"));
    json_t *runs = json_array();
    json_t *run = json_object();
    json_t *tool = json_object();
    json_t *driver = json_object();
    json_object_set_new(driver, "name", json_string("mlinfra"));
    json_object_set_new(driver, "version", json_string(MLINFRA_VERSION));
    json_object_set_new(driver, "semanticVersion", json_string(MLINFRA_VERSION));
    json_t *rules_array = json_array();
    json_object_set_new(driver, "rules", rules_array);
    json_object_set_new(tool, "driver", driver);
    json_object_set_new(run, "tool", tool);
    if (o->environment) {
        mi_buf id = MI_BUF_INIT;
        mi_buf_addf(&id, "mlinfra/policies/%s/", o->environment);
        json_t *ad = json_object();
        json_object_set_new(ad, "id", jstr(id.ptr));
        json_object_set_new(run, "automationDetails", ad);
        mi_buf_release(&id);
    }
    json_t *inv = json_array();
    json_t *i0 = json_object();
    json_object_set_new(i0, "executionSuccessful", json_true());
    json_array_append_new(inv, i0);
    json_object_set_new(run, "invocations", inv);
    json_t *results = json_array();
    json_object_set_new(run, "results", results);
    json_object_set_new(run, "columnKind", json_string("unicodeCodePoints"));
    json_array_append_new(runs, run);
    json_object_set_new(root, "runs", runs);

    struct rules rs = {rules_array, NULL, 0};
    for (size_t fi = 0; r && fi < r->nfeatures; fi++) {
        const struct mi_policy_feature *f = &r->features[fi];
        for (size_t ii = 0; ii < f->nitems; ii++) {
            const struct mi_policy_item *it = &f->items[ii];
            if (!it->is_outline && !it->is_loop) {
                const struct mi_policy_scenario *sc = it->scenario;
                if (sc)
                    scenario_results(results, &rs, &p, f, sc, sc->name, sc->line, sc->tags,
                                     sc->ntags, o);
                continue;
            }
            for (size_t k = 0; k < it->nrows; k++)
                scenario_results(results, &rs, &p, f, &it->rows[k], it->name, it->line, it->tags,
                                 it->ntags, o);
            if (it->nrows == 0)
                rule_index(&rs, f, it->name, it->line, it->tags, it->ntags);
        }
    }

    int rc = 0;
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!text) {
        rc = mi_error_set(MI_ERR, "sarif: cannot serialise the SARIF log");
    } else {
        mi_buf_adds(out, text);
        mi_buf_addch(out, '\n');
        free(text);
    }
    for (size_t i = 0; i < rs.n; i++)
        free(rs.ids[i]);
    free(rs.ids);
    json_decref(root);
    return rc;
}
