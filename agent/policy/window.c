/*
 * window.c - change-window files: parsing (libyaml's document API, strict, with lines),
 * time-zone conversions through the TZ database, and evaluation at an instant.
 */
#include "policy/window.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <yaml.h>

#include "util/buf.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/banned.h"

struct rule {
    char *name;
    int line;
    int deny;
    char **envs; /* NULL: every environment */
    size_t nenvs;
    char *zone;
    int has_days;
    int days; /* bit per tm_wday (0 = Sunday) */
    int has_times;
    int from, until; /* minutes of the day, until exclusive (1440 = 24:00) */
    int has_start, has_end;
    int64_t start, end;
    char *message;
};

struct mi_window_set {
    char *path;
    char *zone; /* the file's default zone */
    struct rule *rules;
    size_t nrules;
};

/* ==== time zones ========================================================================= */

static int zone_is_utc(const char *z)
{
    return !strcmp(z, "UTC") || !strcmp(z, "Etc/UTC") || !strcmp(z, "GMT") ||
           !strcmp(z, "Etc/GMT") || !strcmp(z, "Z");
}

/* A zone name is a path under the TZ database: letters, digits, '_', '-', '+', '/', no '..',
 * naming a TZif file. */
static int zone_valid(const char *z)
{
    if (zone_is_utc(z))
        return 1;
    if (!*z || *z == '/' || strstr(z, "..") || strlen(z) > 64)
        return 0;
    for (const char *p = z; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-' || *p == '+' || *p == '/'))
            return 0;
    const char *dir = getenv("TZDIR");
    if (!dir || !*dir)
        dir = "/usr/share/zoneinfo";
    char *path = mi_fs_join(dir, z);
    FILE *f = fopen(path, "rb");
    free(path);
    if (!f)
        return 0;
    char magic[4] = {0};
    size_t n = fread(magic, 1, 4, f);
    fclose(f);
    return n == 4 && memcmp(magic, "TZif", 4) == 0;
}

struct tzsave {
    char *old;
    int had;
};

static void tz_enter(struct tzsave *s, const char *zone)
{
    const char *old = getenv("TZ");
    s->had = old != NULL;
    s->old = old ? mi_xstrdup(old) : NULL;
    if (zone_is_utc(zone)) {
        setenv("TZ", "UTC0", 1);
    } else {
        char *spec = mi_xasprintf(":%s", zone);
        setenv("TZ", spec, 1);
        free(spec);
    }
    tzset();
}

static void tz_leave(struct tzsave *s)
{
    if (s->had)
        setenv("TZ", s->old, 1);
    else
        unsetenv("TZ");
    tzset();
    free(s->old);
    s->old = NULL;
}

/* ==== parsing times ====================================================================== */

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if ((*p)[i] < '0' || (*p)[i] > '9')
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

static int days_in_month(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return d[m - 1];
}

/* "YYYY-MM-DD[(T| )HH:MM[:SS[.frac]]][Z|±HH:MM|±HHMM]". has_time/has_offset say what was
 * there; offset in seconds east of UTC. */
static int parse_datetime(const char *s, struct tm *tm, int *has_time, int *has_offset,
                          long *offset)
{
    memset(tm, 0, sizeof(*tm));
    *has_time = *has_offset = 0;
    *offset = 0;
    const char *p = s;
    int y, mo, d, h = 0, mi = 0, se = 0;
    if (digits(&p, 4, &y) < 0 || *p++ != '-' || digits(&p, 2, &mo) < 0 || *p++ != '-' ||
        digits(&p, 2, &d) < 0)
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || y < 1970 || y > 9999)
        return -1;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (digits(&p, 2, &h) < 0 || *p++ != ':' || digits(&p, 2, &mi) < 0)
            return -1;
        if (*p == ':') {
            p++;
            if (digits(&p, 2, &se) < 0)
                return -1;
            if (*p == '.' || *p == ',') {
                p++;
                if (*p < '0' || *p > '9')
                    return -1;
                while (*p >= '0' && *p <= '9')
                    p++;
            }
        }
        if (h > 24 || mi > 59 || se > 60 || (h == 24 && (mi || se)))
            return -1;
        *has_time = 1;
    }
    if (*p == 'Z' || *p == 'z') {
        *has_offset = 1;
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om = 0;
        p++;
        if (digits(&p, 2, &oh) < 0)
            return -1;
        if (*p == ':')
            p++;
        if (*p && digits(&p, 2, &om) < 0)
            return -1;
        if (oh > 23 || om > 59)
            return -1;
        *has_offset = 1;
        *offset = sign * (oh * 3600L + om * 60L);
    }
    if (*p)
        return -1;
    tm->tm_year = y - 1900;
    tm->tm_mon = mo - 1;
    tm->tm_mday = d;
    tm->tm_hour = h;
    tm->tm_min = mi;
    tm->tm_sec = se == 60 ? 59 : se;
    return 0;
}

int mi_window_parse_instant(int64_t *out, const char *text)
{
    if (text[0] == '@') {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(text + 1, &end, 10);
        if (errno || !end || end == text + 1 || *end)
            return mi_error_set(MI_EUSAGE,
                                "'%s' is not a time (expected ISO 8601 such as "
                                "2025-11-21T10:00:00Z, or @SECONDS)",
                                text);
        *out = v;
        return 0;
    }
    struct tm tm;
    int has_time, has_offset;
    long offset;
    if (parse_datetime(text, &tm, &has_time, &has_offset, &offset) < 0)
        return mi_error_set(MI_EUSAGE,
                            "'%s' is not a time (expected ISO 8601 such as "
                            "2025-11-21T10:00:00Z or 2025-11-21T11:00:00+01:00)",
                            text);
    *out = (int64_t)timegm(&tm) - offset;
    return 0;
}

int mi_window_now(int64_t *out, const char *override)
{
    if (override && *override) {
        int rc = mi_window_parse_instant(out, override);
        return rc < 0 ? mi_error_prefix("--now") : 0;
    }
    const char *env = getenv("MLINFRA_NOW");
    if (env && *env) {
        int rc = mi_window_parse_instant(out, env);
        return rc < 0 ? mi_error_prefix("MLINFRA_NOW") : 0;
    }
    *out = (int64_t)time(NULL);
    return 0;
}

void mi_window_format_utc(char *buf, size_t len, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void mi_window_format_local(char *buf, size_t len, int64_t t, const char *zone)
{
    if (!zone || zone_is_utc(zone) || !zone_valid(zone)) {
        mi_window_format_utc(buf, len, t);
        return;
    }
    struct tzsave s;
    tz_enter(&s, zone);
    time_t tt = (time_t)t;
    struct tm tm;
    localtime_r(&tt, &tm);
    long off = tm.tm_gmtoff;
    char base[32];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    tz_leave(&s);
    long a = off < 0 ? -off : off;
    snprintf(buf, len, "%s%c%02ld:%02ld", base, off < 0 ? '-' : '+', a / 3600, (a % 3600) / 60);
}

/* Local date-time in zone to an instant (mktime picks DST; a time in a spring-forward gap
 * moves past it). */
static int64_t local_to_instant(struct tm *tm, const char *zone)
{
    struct tzsave s;
    tz_enter(&s, zone);
    tm->tm_isdst = -1;
    time_t t = mktime(tm);
    tz_leave(&s);
    return (int64_t)t;
}

/* ==== parsing the file ================================================================== */

struct parser {
    yaml_document_t *doc;
    const char *file;
};

static int perr(struct parser *p, yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int perr(struct parser *p, yaml_node_t *n, const char *fmt, ...)
{
    mi_buf msg = MI_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    mi_buf_vaddf(&msg, fmt, ap);
    va_end(ap);
    int rc = mi_error_set(MI_EUSAGE, "change windows: %s:%d: %s", p->file,
                          n ? (int)n->start_mark.line + 1 : 1, msg.ptr);
    mi_buf_release(&msg);
    return rc;
}

static const char *scal(yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

static int is_scalar(yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE;
}

static int get_str(struct parser *p, yaml_node_t *n, const char *key, char **out)
{
    if (!is_scalar(n) || !*scal(n))
        return perr(p, n, "%s: expected a string", key);
    if (strlen(scal(n)) != n->data.scalar.length)
        return perr(p, n, "%s: contains a NUL character", key);
    for (const unsigned char *c = (const unsigned char *)scal(n); *c; c++)
        if ((*c < 0x20 && *c != '\t') || *c == 0x7f)
            return perr(p, n, "%s: contains a control character", key);
    free(*out);
    *out = mi_xstrdup(scal(n));
    return 0;
}

/* A list of strings, or one string as a list of one. */
static int get_strs(struct parser *p, yaml_node_t *n, const char *key, char ***out, size_t *nout)
{
    if (is_scalar(n)) {
        char *s = NULL;
        if (get_str(p, n, key, &s) < 0)
            return -1;
        *out = mi_xcalloc(1, sizeof(char *));
        (*out)[0] = s;
        *nout = 1;
        return 0;
    }
    if (!n || n->type != YAML_SEQUENCE_NODE)
        return perr(p, n, "%s: expected a list", key);
    size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (cnt == 0)
        return perr(p, n, "%s: the list is empty", key);
    char **v = mi_xcalloc(cnt, sizeof(char *));
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *it = yaml_document_get_node(p->doc, n->data.sequence.items.start[i]);
        if (get_str(p, it, key, &v[i]) < 0) {
            for (size_t k = 0; k < cnt; k++)
                free(v[k]);
            free(v);
            return -1;
        }
    }
    *out = v;
    *nout = cnt;
    return 0;
}

static void free_strs(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static int day_index(const char *s, size_t len)
{
    static const char *const names[] = {"sunday",   "monday", "tuesday", "wednesday",
                                        "thursday", "friday", "saturday"};
    char low[16];
    if (len < 3 || len >= sizeof(low))
        return -1;
    for (size_t i = 0; i < len; i++)
        low[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 : s[i]);
    low[len] = '\0';
    for (int d = 0; d < 7; d++) {
        if (!strcmp(low, names[d]))
            return d;
        if (len == 3 && !strncmp(low, names[d], 3))
            return d;
    }
    if (!strcmp(low, "tues"))
        return 2;
    if (!strcmp(low, "thur") || !strcmp(low, "thurs"))
        return 4;
    return -1;
}

static int parse_days(struct parser *p, yaml_node_t *n, struct rule *r)
{
    char **v = NULL;
    size_t nv = 0;
    if (get_strs(p, n, "days", &v, &nv) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < nv && rc == 0; i++) {
        const char *s = v[i];
        const char *dash = strchr(s, '-');
        int a, b;
        if (dash) {
            a = day_index(s, (size_t)(dash - s));
            b = day_index(dash + 1, strlen(dash + 1));
        } else {
            a = b = day_index(s, strlen(s));
        }
        if (a < 0 || b < 0) {
            rc = perr(p, n,
                      "days: '%s' is not a day of the week (mon, tue, wed, thu, fri, sat, "
                      "sun, or a range such as mon-fri)",
                      s);
            break;
        }
        for (int d = a;; d = (d + 1) % 7) {
            r->days |= 1 << d;
            if (d == b)
                break;
        }
    }
    free_strs(v, nv);
    r->has_days = 1;
    return rc;
}

static int parse_hhmm(struct parser *p, yaml_node_t *n, const char *key, int *out)
{
    if (!is_scalar(n))
        return perr(p, n, "%s: expected a time of day HH:MM", key);
    const char *s = scal(n);
    int h, m;
    const char *q = s;
    if (strlen(s) == 4 && s[1] == ':') {
        if (digits(&q, 1, &h) < 0)
            return perr(p, n, "%s: '%s' is not a time of day HH:MM", key, s);
    } else if (digits(&q, 2, &h) < 0) {
        return perr(p, n, "%s: '%s' is not a time of day HH:MM", key, s);
    }
    if (*q++ != ':' || digits(&q, 2, &m) < 0 || *q || h > 24 || m > 59 || (h == 24 && m))
        return perr(p, n, "%s: '%s' is not a time of day HH:MM (00:00 to 24:00)", key, s);
    *out = h * 60 + m;
    return 0;
}

/* start/end: local date-times (or with an offset); an end given as a date alone includes
 * that day. Resolved once the rule's zone is known. */
struct pending_time {
    yaml_node_t *node;
    char *text;
};

static int resolve_time(struct parser *p, struct pending_time *pt, const char *key,
                        const char *zone, int is_end, int64_t *out)
{
    struct tm tm;
    int has_time, has_offset;
    long offset;
    if (parse_datetime(pt->text, &tm, &has_time, &has_offset, &offset) < 0)
        return perr(p, pt->node,
                    "%s: '%s' is not a date or date-time (YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS], "
                    "optionally with Z or +HH:MM)",
                    key, pt->text);
    if (is_end && !has_time)
        tm.tm_mday += 1; /* through the end of that day */
    if (has_offset) {
        *out = (int64_t)timegm(&tm) - offset;
    } else {
        *out = local_to_instant(&tm, zone);
    }
    return 0;
}

static void rule_release(struct rule *r)
{
    free(r->name);
    free_strs(r->envs, r->nenvs);
    free(r->zone);
    free(r->message);
}

void mi_window_set_free(struct mi_window_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->nrules; i++)
        rule_release(&set->rules[i]);
    free(set->rules);
    free(set->path);
    free(set->zone);
    free(set);
}

static int parse_rule(struct parser *p, yaml_node_t *n, const char *default_zone, struct rule *r)
{
    memset(r, 0, sizeof(*r));
    r->deny = 1;
    r->line = n ? (int)n->start_mark.line + 1 : 0;
    if (!n || n->type != YAML_MAPPING_NODE)
        return perr(p, n,
                    "windows: each rule must be a mapping (name:, environments:, days:, ...)");
    struct pending_time start = {0}, end = {0};
    int has_from = 0, has_until = 0, rc = 0;
    for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top && !rc;
         pr++) {
        yaml_node_t *k = yaml_document_get_node(p->doc, pr->key);
        yaml_node_t *v = yaml_document_get_node(p->doc, pr->value);
        if (!is_scalar(k))
            return perr(p, k, "rule keys must be strings");
        const char *key = scal(k);
        for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < pr; q++) {
            yaml_node_t *k2 = yaml_document_get_node(p->doc, q->key);
            if (is_scalar(k2) && !strcmp(scal(k2), key))
                return perr(p, k, "key '%s' appears twice in this rule", key);
        }
        if (!strcmp(key, "name")) {
            rc = get_str(p, v, key, &r->name);
        } else if (!strcmp(key, "environments")) {
            rc = get_strs(p, v, key, &r->envs, &r->nenvs);
            for (size_t i = 0; rc == 0 && i < r->nenvs; i++) {
                if (!strcmp(r->envs[i], "*")) {
                    free_strs(r->envs, r->nenvs);
                    r->envs = NULL;
                    r->nenvs = 0;
                    break;
                }
            }
        } else if (!strcmp(key, "action")) {
            char *a = NULL;
            rc = get_str(p, v, key, &a);
            if (rc == 0) {
                if (!strcmp(a, "deny"))
                    r->deny = 1;
                else if (!strcmp(a, "allow"))
                    r->deny = 0;
                else
                    rc = perr(p, v, "action: '%s' is not 'deny' or 'allow'", a);
            }
            free(a);
        } else if (!strcmp(key, "days")) {
            rc = parse_days(p, v, r);
        } else if (!strcmp(key, "from")) {
            rc = parse_hhmm(p, v, key, &r->from);
            has_from = 1;
        } else if (!strcmp(key, "until") || !strcmp(key, "to")) {
            rc = parse_hhmm(p, v, key, &r->until);
            has_until = 1;
        } else if (!strcmp(key, "start")) {
            start.node = v;
            rc = get_str(p, v, key, &start.text);
        } else if (!strcmp(key, "end")) {
            end.node = v;
            rc = get_str(p, v, key, &end.text);
        } else if (!strcmp(key, "timezone")) {
            rc = get_str(p, v, key, &r->zone);
            if (rc == 0 && !zone_valid(r->zone))
                rc = perr(p, v,
                          "timezone: '%s' is not a time zone of the TZ database (such as "
                          "Europe/Berlin or UTC)",
                          r->zone);
        } else if (!strcmp(key, "message")) {
            rc = get_str(p, v, key, &r->message);
        } else {
            rc = perr(p, k,
                      "unknown key '%s' in a rule (expected one of: name, environments, action, "
                      "days, from, until, start, end, timezone, message)",
                      key);
        }
    }
    if (rc == 0 && !r->name)
        rc = perr(p, n, "a rule needs a name");
    if (rc == 0 && !r->zone)
        r->zone = mi_xstrdup(default_zone);
    if (rc == 0 && (has_from || has_until)) {
        r->has_times = 1;
        if (!has_from)
            r->from = 0;
        if (!has_until)
            r->until = 24 * 60;
        if (r->from == r->until && !(r->from == 0))
            rc = perr(p, n, "rule '%s': from and until are the same time", r->name);
    }
    if (rc == 0 && start.text) {
        rc = resolve_time(p, &start, "start", r->zone, 0, &r->start);
        r->has_start = 1;
    }
    if (rc == 0 && end.text) {
        rc = resolve_time(p, &end, "end", r->zone, 1, &r->end);
        r->has_end = 1;
    }
    if (rc == 0 && r->has_start && r->has_end && r->end <= r->start)
        rc = perr(p, end.node, "rule '%s': end is not after start", r->name);
    if (rc == 0 && !r->has_days && !r->has_times && !r->has_start && !r->has_end)
        rc = perr(p, n, "rule '%s' says nothing about when: give days, from/until or start/end",
                  r->name);
    free(start.text);
    free(end.text);
    return rc;
}

int mi_window_parse(struct mi_window_set **out, const char *name, const char *text, size_t len)
{
    *out = NULL;
    yaml_parser_t yp;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&yp))
        return mi_error_set(MI_ERR, "change windows: %s: cannot initialise the YAML parser", name);
    yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);
    if (!yaml_parser_load(&yp, &doc)) {
        int rc = mi_error_set(MI_EUSAGE, "change windows: %s:%zu: %s", name,
                              (size_t)yp.problem_mark.line + 1,
                              yp.problem ? yp.problem : "invalid YAML");
        yaml_parser_delete(&yp);
        return rc;
    }
    struct parser p = {&doc, name};
    struct mi_window_set *set = mi_xcalloc(1, sizeof(*set));
    set->path = mi_xstrdup(name);
    set->zone = mi_xstrdup("UTC");
    int rc = 0;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    yaml_node_t *windows = NULL;
    if (!root) {
        rc = 0; /* an empty file: no windows */
    } else if (root->type != YAML_MAPPING_NODE) {
        rc = perr(&p, root, "expected a mapping with 'windows:'");
    } else {
        for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
             pr < root->data.mapping.pairs.top && rc == 0; pr++) {
            yaml_node_t *k = yaml_document_get_node(&doc, pr->key);
            yaml_node_t *v = yaml_document_get_node(&doc, pr->value);
            if (!is_scalar(k)) {
                rc = perr(&p, k, "keys must be strings");
                break;
            }
            const char *key = scal(k);
            if (!strcmp(key, "version")) {
                if (!is_scalar(v) || strcmp(scal(v), "1") != 0)
                    rc = perr(&p, v, "version: only version 1 exists");
            } else if (!strcmp(key, "timezone")) {
                rc = get_str(&p, v, key, &set->zone);
                if (rc == 0 && !zone_valid(set->zone))
                    rc = perr(&p, v,
                              "timezone: '%s' is not a time zone of the TZ database (such as "
                              "Europe/Berlin or UTC)",
                              set->zone);
            } else if (!strcmp(key, "windows")) {
                windows = v;
            } else {
                rc = perr(&p, k, "unknown key '%s' (expected version, timezone, windows)", key);
            }
        }
    }
    if (rc == 0 && windows) {
        if (windows->type == YAML_SCALAR_NODE && !*scal(windows)) {
            /* "windows:" with nothing: no rules */
        } else if (windows->type != YAML_SEQUENCE_NODE) {
            rc = perr(&p, windows, "windows: expected a list of rules");
        } else {
            size_t cnt =
                (size_t)(windows->data.sequence.items.top - windows->data.sequence.items.start);
            set->rules = mi_xcalloc(cnt ? cnt : 1, sizeof(*set->rules));
            for (size_t i = 0; i < cnt && rc == 0; i++) {
                yaml_node_t *it =
                    yaml_document_get_node(&doc, windows->data.sequence.items.start[i]);
                rc = parse_rule(&p, it, set->zone, &set->rules[i]);
                set->nrules = i + 1;
                for (size_t k = 0; rc == 0 && k < i; k++)
                    if (!strcmp(set->rules[k].name, set->rules[i].name))
                        rc = perr(&p, it, "rule name '%s' is used twice (first on line %d)",
                                  set->rules[i].name, set->rules[k].line);
            }
        }
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&yp);
    if (rc < 0) {
        mi_window_set_free(set);
        return rc;
    }
    *out = set;
    return 0;
}

int mi_window_load(struct mi_window_set **out, const char *path)
{
    *out = NULL;
    mi_buf b = MI_BUF_INIT;
    int rc = mi_fs_read_file(&b, path, MI_WINDOW_MAX_BYTES);
    if (rc == 0)
        rc = mi_window_parse(out, path, b.ptr, b.len);
    mi_buf_release(&b);
    return rc;
}

size_t mi_window_set_rules(const struct mi_window_set *set)
{
    return set ? set->nrules : 0;
}

const char *mi_window_set_zone(const struct mi_window_set *set)
{
    return set && set->zone ? set->zone : "UTC";
}

/* ==== evaluation ========================================================================= */

static int applies(const struct rule *r, const char *env)
{
    if (!r->envs)
        return 1;
    for (size_t i = 0; i < r->nenvs; i++)
        if (!strcmp(r->envs[i], env))
            return 1;
    return 0;
}

/* Local weekday and minute of the day of t in the rule's zone, precomputed by the caller. */
struct local {
    int wday;
    int minute;
};

static int rule_matches(const struct rule *r, int64_t t, const struct local *lt)
{
    if (r->has_start && t < r->start)
        return 0;
    if (r->has_end && t >= r->end)
        return 0;
    if (!r->has_days && !r->has_times)
        return 1;
    int days = r->has_days ? r->days : 0x7f;
    if (!r->has_times)
        return (days >> lt->wday) & 1;
    int m = lt->minute;
    if (r->from < r->until)
        return ((days >> lt->wday) & 1) && m >= r->from && m < r->until;
    /* past midnight: the part after midnight belongs to the day before */
    int prev = (lt->wday + 6) % 7;
    return (((days >> lt->wday) & 1) && m >= r->from) || (((days >> prev) & 1) && m < r->until);
}

static void local_of(int64_t t, struct local *out)
{
    time_t tt = (time_t)t;
    struct tm tm;
    localtime_r(&tt, &tm);
    out->wday = tm.tm_wday;
    out->minute = tm.tm_hour * 60 + tm.tm_min;
}

/* closed[k] for times[k]: computed zone by zone, so the TZ database is switched once per
 * zone, not once per instant. hits, when not NULL, collects the closing rules for k == 0. */
static void closed_at(const struct mi_window_set *set, const char *env, const int64_t *times,
                      size_t ntimes, unsigned char *closed, struct mi_window_report *hits)
{
    size_t nr = set->nrules;
    unsigned char *deny = mi_xcalloc(ntimes ? ntimes : 1, 1);
    unsigned char *allow = mi_xcalloc(ntimes ? ntimes : 1, 1);
    int has_allow = 0;
    unsigned char *done = mi_xcalloc(nr ? nr : 1, 1);
    struct local *lt = mi_xcalloc(ntimes ? ntimes : 1, sizeof(*lt));
    for (size_t i = 0; i < nr; i++) {
        if (done[i] || !applies(&set->rules[i], env))
            continue;
        const char *zone = set->rules[i].zone;
        struct tzsave s;
        tz_enter(&s, zone);
        for (size_t k = 0; k < ntimes; k++)
            local_of(times[k], &lt[k]);
        tz_leave(&s);
        for (size_t j = i; j < nr; j++) {
            const struct rule *r = &set->rules[j];
            if (done[j] || !applies(r, env) || strcmp(r->zone, zone) != 0)
                continue;
            done[j] = 1;
            if (!r->deny)
                has_allow = 1;
            for (size_t k = 0; k < ntimes; k++) {
                if (!rule_matches(r, times[k], &lt[k]))
                    continue;
                if (r->deny)
                    deny[k] = 1;
                else
                    allow[k] = 1;
                if (k == 0 && hits && r->deny) {
                    hits->hits = mi_xrealloc(hits->hits, (hits->nhits + 1) * sizeof(*hits->hits));
                    struct mi_window_hit *h = &hits->hits[hits->nhits++];
                    h->name = mi_xstrdup(r->name);
                    h->action = mi_xstrdup("deny");
                    h->message = r->message ? mi_xstrdup(r->message)
                                            : mi_xasprintf("change window '%s' is closed", r->name);
                    h->line = r->line;
                }
            }
        }
    }
    for (size_t k = 0; k < ntimes; k++)
        closed[k] = deny[k] || (has_allow && !allow[k]);
    if (hits && ntimes && has_allow && !allow[0]) {
        /* name the allow rules that would have opened it */
        mi_buf names = MI_BUF_INIT, msg = MI_BUF_INIT;
        int line = 0;
        for (size_t j = 0; j < nr; j++) {
            const struct rule *r = &set->rules[j];
            if (r->deny || !applies(r, env))
                continue;
            if (names.len)
                mi_buf_adds(&names, ", ");
            mi_buf_adds(&names, r->name);
            if (!line)
                line = r->line;
            if (r->message && !msg.len)
                mi_buf_adds(&msg, r->message);
        }
        hits->hits = mi_xrealloc(hits->hits, (hits->nhits + 1) * sizeof(*hits->hits));
        struct mi_window_hit *h = &hits->hits[hits->nhits++];
        h->name = mi_buf_detach(&names);
        h->action = mi_xstrdup("allow");
        h->message = msg.len ? mi_buf_detach(&msg)
                             : mi_xasprintf("outside the allowed change windows (%s)", h->name);
        h->line = line;
        mi_buf_release(&msg);
    }
    free(deny);
    free(allow);
    free(done);
    free(lt);
}

int mi_window_evaluate(struct mi_window_report *out, const struct mi_window_set *set,
                       const char *environment, int64_t now)
{
    memset(out, 0, sizeof(*out));
    out->opens_at = -1;
    out->now = now;
    out->open = 1;
    if (!set || !environment)
        return 0;
    out->evaluated = 1;
    out->path = mi_xstrdup(set->path);
    out->environment = mi_xstrdup(environment);
    for (size_t i = 0; i < set->nrules; i++)
        out->nrules += applies(&set->rules[i], environment) ? 1 : 0;
    if (!out->nrules)
        return 0;
    /* now, then every minute boundary of the lookahead */
    size_t n = 1 + MI_WINDOW_LOOKAHEAD_SECONDS / 60;
    int64_t *times = mi_xmalloc(n * sizeof(*times));
    times[0] = now;
    int64_t first = now - (now % 60 + 60) % 60 + 60;
    for (size_t k = 1; k < n; k++)
        times[k] = first + (int64_t)(k - 1) * 60;
    unsigned char *closed = mi_xcalloc(n, 1);
    closed_at(set, environment, times, 1, closed, out);
    if (closed[0]) {
        out->open = 0;
        closed_at(set, environment, times, n, closed, NULL);
        for (size_t k = 1; k < n; k++) {
            if (!closed[k]) {
                out->opens_at = times[k];
                break;
            }
        }
    }
    free(times);
    free(closed);
    return 0;
}

void mi_window_report_release(struct mi_window_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nhits; i++) {
        free(r->hits[i].name);
        free(r->hits[i].action);
        free(r->hits[i].message);
    }
    free(r->hits);
    free(r->path);
    free(r->environment);
    memset(r, 0, sizeof(*r));
    r->opens_at = -1;
}
