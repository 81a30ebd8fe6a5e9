/*
 * terraform_double.c - a stand-in for the terraform binary that keeps terraform's CLI
 * contract (DESIGN.md section 10), for tests and for local runs where terraform is not
 * installed. tests/doubles/terraform/README.md describes what it does and how tests steer it.
 *
 * It implements: version [-json], init, validate [-json], plan [-out=FILE]
 * [-detailed-exitcode], show -json [FILE], apply [PLANFILE], output [-json] [NAME], with the
 * flags the agent passes, terraform's exit codes, and a local state file with serial and
 * lineage so that applying a saved plan after the state changed fails with terraform's own
 * "Saved plan is stale" diagnostic.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PLAN_MAGIC "TFDOUBLE-PLAN 1\n"

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* ---- configuration: environment variable first, then a file in .tfdouble/ -------------- */

static char *read_all(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2) {
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
        }
    }
    fclose(f);
    if (!buf)
        return NULL;
    buf[len] = '\0';
    if (len_out)
        *len_out = len;
    return buf;
}

/* The path of a setting's file: $ENV if set (a path), else .tfdouble/NAME if it exists. */
static const char *setting_path(const char *env, const char *name, char *buf, size_t size)
{
    const char *v = getenv(env);
    if (v && *v)
        return v;
    snprintf(buf, size, ".tfdouble/%s", name);
    return access(buf, R_OK) == 0 ? buf : NULL;
}

/* A short setting: $ENV's value, else the first line of .tfdouble/NAME. */
static char *setting_value(const char *env, const char *name)
{
    const char *v = getenv(env);
    if (v && *v)
        return strdup(v);
    char path[256];
    snprintf(path, sizeof(path), ".tfdouble/%s", name);
    char *s = read_all(path, NULL);
    if (s)
        s[strcspn(s, "\r\n")] = '\0';
    return s;
}

static const char *version_string(void)
{
    const char *v = getenv("TFDOUBLE_VERSION");
    return v && *v ? v : "1.9.8";
}

/* ---- terraform-style output --------------------------------------------------------------- */

/* Prints a diagnostic as terraform does when stderr is not a terminal (78 columns). */
static void diag(const char *severity, const char *summary, const char *detail)
{
    fprintf(stderr, "╷\n│ %s: %s\n", severity, summary);
    if (detail && *detail) {
        fprintf(stderr, "│ \n");
        const char *p = detail;
        while (*p) {
            const char *nl = strchr(p, '\n');
            size_t para = nl ? (size_t)(nl - p) : strlen(p);
            size_t start = 0;
            if (para == 0)
                fprintf(stderr, "│ \n");
            while (start < para) {
                size_t width = 76, end = start + width;
                if (end >= para) {
                    end = para;
                } else {
                    size_t sp = end;
                    while (sp > start && p[sp] != ' ')
                        sp--;
                    if (sp > start)
                        end = sp;
                }
                fprintf(stderr, "│ %.*s\n", (int)(end - start), p + start);
                start = end;
                while (start < para && p[start] == ' ')
                    start++;
            }
            p += para + (nl ? 1 : 0);
        }
    }
    fprintf(stderr, "╵\n");
}

static int fail(const char *summary, const char *detail)
{
    diag("Error", summary, detail);
    return 1;
}

/* Sleeps ms, returning 1 if interrupted (terraform's graceful stop). */
static int sleep_ms(long ms)
{
    while (ms > 0 && !interrupted) {
        long step = ms > 20 ? 20 : ms;
        struct timespec ts = {0, step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
    return interrupted != 0;
}

/* Injected behaviours shared by every subcommand: slowness and failure. */
static int injected(const char *step, int *rc)
{
    char *slow_step = setting_value("TFDOUBLE_SLEEP_STEP", "sleep_step");
    char *slow = setting_value("TFDOUBLE_SLEEP_MS", "sleep_ms");
    int hit = 0;
    if (slow && (!slow_step || strcmp(slow_step, step) == 0)) {
        if (sleep_ms(strtol(slow, NULL, 10))) {
            printf("\nInterrupt received.\nPlease wait for Terraform to exit or data loss may "
                   "occur.\nGracefully shutting down...\n");
            fflush(stdout);
            *rc = fail("Operation cancelled", "The operation was interrupted.");
            hit = 1;
        }
    }
    free(slow);
    free(slow_step);
    if (hit)
        return 1;
    char *fail_step = setting_value("TFDOUBLE_FAIL", "fail");
    if (fail_step && strcmp(fail_step, step) == 0) {
        char *msg = setting_value("TFDOUBLE_FAIL_MESSAGE", "fail_message");
        char *detail = NULL;
        if (!msg) {
            size_t n = strlen(step) + 64;
            detail = malloc(n);
            snprintf(detail, n, "terraform %s failed as the test asked (TFDOUBLE_FAIL).", step);
        }
        printf("Running %s...\n", step);
        fflush(stdout);
        *rc = fail(msg ? msg : "Injected failure", detail ? detail : "");
        free(msg);
        free(detail);
        hit = 1;
    }
    free(fail_step);
    return hit;
}

static void log_invocation(int argc, char **argv)
{
    const char *path = getenv("TFDOUBLE_LOG");
    if (!path || !*path)
        return;
    FILE *f = fopen(path, "a");
    if (!f)
        return;
    char cwd[4096];
    fprintf(f, "cwd=%s", getcwd(cwd, sizeof(cwd)) ? cwd : "?");
    for (int i = 0; i < argc; i++)
        fprintf(f, "\t%s", argv[i]);
    const char *auto_ = getenv("TF_IN_AUTOMATION");
    fprintf(f, "\tTF_IN_AUTOMATION=%s\n", auto_ ? auto_ : "");
    fclose(f);
}

/* apply's plan file, identified in the log: a line "apply-plan-sha256=HEX PATH" (or
 * "apply-plan-sha256=unreadable PATH"), so a test can tell exactly which plan terraform was
 * asked to apply. Written before anything else apply does, failures included. */
static void log_apply_plan(const char *plan_path)
{
    const char *path = getenv("TFDOUBLE_LOG");
    if (!path || !*path)
        return;
    char hex[crypto_hash_sha256_BYTES * 2 + 1] = "unreadable";
    size_t len = 0;
    char *data = sodium_init() >= 0 ? read_all(plan_path, &len) : NULL;
    if (data) {
        unsigned char digest[crypto_hash_sha256_BYTES];
        crypto_hash_sha256(digest, (const unsigned char *)data, len);
        sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
        free(data);
    }
    FILE *f = fopen(path, "a");
    if (!f)
        return;
    fprintf(f, "apply-plan-sha256=%s %s\n", hex, plan_path);
    fclose(f);
}

/* ---- state and plan files -------------------------------------------------------------------- */

static const char *state_path(void)
{
    const char *p = getenv("TFDOUBLE_STATE");
    return p && *p ? p : "terraform.tfstate";
}

static json_t *load_state(void)
{
    return json_load_file(state_path(), 0, NULL);
}

static int save_state(json_t *state)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", state_path());
    if (json_dump_file(state, tmp, JSON_INDENT(2)) != 0 || rename(tmp, state_path()) != 0)
        return -1;
    return 0;
}

static void new_lineage(char *out, size_t size)
{
    unsigned char b[16] = {0};
    int fd = open("/dev/urandom", O_RDONLY);
    if (fd >= 0) {
        ssize_t n = read(fd, b, sizeof(b));
        (void)n;
        close(fd);
    }
    snprintf(out, size, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

static json_t *load_plan_json(void)
{
    char buf[256];
    const char *path = setting_path("TFDOUBLE_PLAN_JSON", "plan.json", buf, sizeof(buf));
    if (!path) {
        return json_pack("{s:s, s:s, s:[], s:{}, s:b, s:b, s:b}", "format_version", "1.2",
                         "terraform_version", version_string(), "resource_changes",
                         "output_changes", "applyable", 0, "complete", 1, "errored", 0);
    }
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    if (!j)
        fprintf(stderr, "terraform double: cannot load plan JSON %s: %s\n", path, err.text);
    return j;
}

static int action_is(json_t *change, const char *a0, const char *a1)
{
    json_t *actions = json_object_get(change, "actions");
    const char *x = json_string_value(json_array_get(actions, 0));
    const char *y = json_string_value(json_array_get(actions, 1));
    if (!x || strcmp(x, a0) != 0)
        return 0;
    if (!a1)
        return json_array_size(actions) == 1;
    return y && strcmp(y, a1) == 0;
}

struct counts {
    int add, change, destroy, import, outputs, moved;
};

static struct counts count_plan(json_t *plan)
{
    struct counts c = {0, 0, 0, 0, 0, 0};
    size_t i;
    json_t *rc;
    json_array_foreach(json_object_get(plan, "resource_changes"), i, rc)
    {
        json_t *ch = json_object_get(rc, "change");
        if (action_is(ch, "create", NULL))
            c.add++;
        else if (action_is(ch, "update", NULL))
            c.change++;
        else if (action_is(ch, "delete", NULL))
            c.destroy++;
        else if (action_is(ch, "delete", "create") || action_is(ch, "create", "delete")) {
            c.add++;
            c.destroy++;
        }
        if (json_is_object(json_object_get(ch, "importing")))
            c.import++;
        if (json_is_string(json_object_get(rc, "previous_address")))
            c.moved++;
    }
    const char *k;
    json_t *oc;
    json_object_foreach(json_object_get(plan, "output_changes"), k,
                        oc) if (!action_is(oc, "no-op", NULL)) c.outputs++;
    return c;
}

static int has_changes(struct counts c)
{
    return c.add || c.change || c.destroy || c.import || c.outputs || c.moved;
}

static void print_value(FILE *f, json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    fputs(s ? s : "null", f);
    free(s);
}

/* terraform plan's human-readable text, in outline. */
static void print_plan_text(json_t *plan, struct counts c)
{
    if (!has_changes(c)) {
        printf("\nNo changes. Your infrastructure matches the configuration.\n\nTerraform has "
               "compared your real infrastructure against your configuration\nand found no "
               "differences, so no changes are needed.\n");
        return;
    }
    printf("\nTerraform used the selected providers to generate the following execution\nplan. "
           "Resource actions are indicated with the following symbols:\n  + create\n  ~ update "
           "in-place\n  - destroy\n-/+ destroy and then create replacement\n+/- create "
           "replacement and then destroy\n\nTerraform will perform the following actions:\n");
    size_t i;
    json_t *rc;
    json_array_foreach(json_object_get(plan, "resource_changes"), i, rc)
    {
        json_t *ch = json_object_get(rc, "change");
        const char *addr = json_string_value(json_object_get(rc, "address"));
        const char *what = NULL, *sym = NULL;
        if (action_is(ch, "create", NULL))
            what = "will be created", sym = "  +";
        else if (action_is(ch, "update", NULL))
            what = "will be updated in-place", sym = "  ~";
        else if (action_is(ch, "delete", NULL))
            what = "will be destroyed", sym = "  -";
        else if (action_is(ch, "delete", "create"))
            what = "must be replaced", sym = "-/+";
        else if (action_is(ch, "create", "delete"))
            what = "must be replaced", sym = "+/-";
        else if (action_is(ch, "read", NULL))
            what = "will be read during apply", sym = " <=";
        if (!what)
            continue;
        printf("\n  # %s %s\n%s resource \"%s\" \"%s\" {\n", addr ? addr : "?", what, sym,
               json_string_value(json_object_get(rc, "type")),
               json_string_value(json_object_get(rc, "name")));
        json_t *after = json_object_get(ch, "after");
        json_t *sens = json_object_get(ch, "after_sensitive");
        json_t *unknown = json_object_get(ch, "after_unknown");
        const char *k;
        json_t *v;
        json_object_foreach(after, k, v)
        {
            if (json_is_object(v) || json_is_array(v) || json_is_null(v))
                continue;
            printf("      %s = ", k);
            if (json_is_true(sens) || json_is_true(json_object_get(sens, k)))
                printf("(sensitive value)");
            else
                print_value(stdout, v);
            printf("\n");
        }
        json_object_foreach(unknown, k, v) if (json_is_true(v))
            printf("      %s = (known after apply)\n", k);
        printf("    }\n");
    }
    printf("\n");
    if (c.import)
        printf("Plan: %d to import, %d to add, %d to change, %d to destroy.\n", c.import, c.add,
               c.change, c.destroy);
    else
        printf("Plan: %d to add, %d to change, %d to destroy.\n", c.add, c.change, c.destroy);
    if (c.outputs) {
        printf("\nChanges to Outputs:\n");
        const char *k;
        json_t *oc;
        json_object_foreach(json_object_get(plan, "output_changes"), k, oc)
        {
            if (action_is(oc, "no-op", NULL))
                continue;
            printf("  %s %s = ",
                   action_is(oc, "delete", NULL)   ? "-"
                   : action_is(oc, "create", NULL) ? "+"
                                                   : "~",
                   k);
            if (json_is_true(json_object_get(oc, "after_sensitive")))
                printf("(sensitive value)");
            else if (json_is_true(json_object_get(oc, "after_unknown")))
                printf("(known after apply)");
            else
                print_value(stdout, json_object_get(oc, "after"));
            printf("\n");
        }
    }
}

/* ---- subcommands ------------------------------------------------------------------------------
 */

static int has_flag(int argc, char **argv, const char *flag)
{
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], flag) == 0)
            return 1;
    return 0;
}

static const char *flag_value(int argc, char **argv, const char *prefix)
{
    size_t n = strlen(prefix);
    for (int i = 0; i < argc; i++)
        if (strncmp(argv[i], prefix, n) == 0)
            return argv[i] + n;
    return NULL;
}

/* Rejects flags terraform would not know for this subcommand. */
static int check_flags(const char *cmd, int argc, char **argv, const char *const *known,
                       int positional_max, const char **positional)
{
    int npos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-') {
            if (npos >= positional_max) {
                char detail[512];
                snprintf(detail, sizeof(detail), "Too many command line arguments for %s.", cmd);
                return fail("Too many command line arguments", detail);
            }
            positional[npos++] = a;
            continue;
        }
        int ok = 0;
        for (size_t k = 0; known[k] && !ok; k++) {
            size_t n = strlen(known[k]);
            ok = strcmp(a, known[k]) == 0 ||
                 (known[k][n - 1] == '=' && strncmp(a, known[k], n) == 0);
        }
        if (!ok) {
            char detail[512];
            snprintf(detail, sizeof(detail), "flag provided but not defined: %s", a);
            return fail("Failed to parse command-line flags", detail);
        }
    }
    return 0;
}

static int require_init(void)
{
    struct stat st;
    if (stat(".terraform", &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    return fail("Backend initialization required, please run \"terraform init\"",
                "Reason: Initial configuration of the requested backend \"local\"\n\nThe "
                "\"backend\" is the interface that Terraform uses to store state, perform "
                "operations, etc. If this message is showing up, it means that the Terraform "
                "configuration you're using is using a custom configuration for the Terraform "
                "backend.");
}

static int cmd_version(int argc, char **argv)
{
    if (has_flag(argc, argv, "-json")) {
        printf("{\n  \"terraform_version\": \"%s\",\n  \"platform\": \"linux_amd64\",\n  "
               "\"provider_selections\": {},\n  \"terraform_outdated\": false\n}\n",
               version_string());
    } else {
        printf("Terraform v%s\non linux_amd64\n", version_string());
    }
    return 0;
}

static int cmd_init(int argc, char **argv)
{
    static const char *const known[] = {
        "-input=",        "-no-color", "-backend-config=", "-reconfigure",
        "-migrate-state", "-upgrade",  "-upgrade=",        "-lock=",
        "-lock-timeout=", "-backend=", "-lockfile=",       "-get=",
        "-force-copy",    NULL};
    const char *pos[1];
    if (check_flags("init", argc, argv, known, 0, pos))
        return 1;
    int rc;
    if (injected("init", &rc))
        return rc;
    printf("\nInitializing the backend...\n");
    mkdir(".terraform", 0755);
    FILE *f = fopen(".terraform/tfdouble-init", "w");
    if (f) {
        for (int i = 0; i < argc; i++)
            if (strncmp(argv[i], "-backend-config=", 16) == 0)
                fprintf(f, "%s\n", argv[i] + 16);
        fclose(f);
    }
    printf("\nInitializing provider plugins...\n\nTerraform has been successfully initialized!\n");
    return 0;
}

static int cmd_validate(int argc, char **argv)
{
    static const char *const known[] = {"-json", "-no-color", "-no-tests",
                                        "-test-directory=", NULL};
    const char *pos[1];
    if (check_flags("validate", argc, argv, known, 0, pos))
        return 1;
    int rc;
    if (injected("validate", &rc))
        return rc;
    if (require_init())
        return 1;
    char buf[256];
    const char *path = setting_path("TFDOUBLE_VALIDATE_JSON", "validate.json", buf, sizeof(buf));
    json_t *v = path ? json_load_file(path, 0, NULL)
                     : json_pack("{s:s, s:b, s:i, s:i, s:[]}", "format_version", "1.0", "valid", 1,
                                 "error_count", 0, "warning_count", 0, "diagnostics");
    if (!v)
        return fail("Invalid validate fixture", path);
    int valid = json_is_true(json_object_get(v, "valid"));
    if (has_flag(argc, argv, "-json")) {
        char *s = json_dumps(v, JSON_INDENT(2));
        printf("%s\n", s);
        free(s);
    } else if (valid) {
        printf("Success! The configuration is valid.\n\n");
    } else {
        size_t i;
        json_t *d;
        json_array_foreach(json_object_get(v, "diagnostics"), i, d) diag(
            strcmp(json_string_value(json_object_get(d, "severity")), "error") == 0 ? "Error"
                                                                                    : "Warning",
            json_string_value(json_object_get(d, "summary")),
            json_string_value(json_object_get(d, "detail")));
    }
    json_decref(v);
    return valid ? 0 : 1;
}

static int cmd_plan(int argc, char **argv)
{
    static const char *const known[] = {
        "-input=",   "-out=",    "-detailed-exitcode", "-lock-timeout=", "-lock=",
        "-no-color", "-var=",    "-var-file=",         "-refresh=",      "-refresh-only",
        "-destroy",  "-target=", "-replace=",          "-parallelism=",  "-compact-warnings",
        NULL};
    const char *pos[1];
    if (check_flags("plan", argc, argv, known, 0, pos))
        return 1;
    int rc;
    if (injected("plan", &rc))
        return rc;
    if (require_init())
        return 1;
    json_t *plan = load_plan_json();
    if (!plan)
        return fail("Invalid plan fixture", "The double's plan JSON could not be read.");
    struct counts c = count_plan(plan);

    char buf[256];
    const char *text_path = setting_path("TFDOUBLE_PLAN_TEXT", "plan.txt", buf, sizeof(buf));
    char *text = text_path ? read_all(text_path, NULL) : NULL;
    if (text)
        fputs(text, stdout);
    else
        print_plan_text(plan, c);
    free(text);

    const char *out = flag_value(argc, argv, "-out=");
    if (out) {
        json_t *state = load_state();
        char lineage[64];
        long long serial = 0;
        if (state) {
            snprintf(lineage, sizeof(lineage), "%s",
                     json_string_value(json_object_get(state, "lineage")));
            serial = json_integer_value(json_object_get(state, "serial"));
        } else {
            lineage[0] = '\0';
        }
        char minted[64];
        new_lineage(minted, sizeof(minted));
        FILE *f = fopen(out, "wb");
        if (!f) {
            json_decref(state);
            json_decref(plan);
            return fail("Failed to write plan file", strerror(errno));
        }
        fprintf(f,
                PLAN_MAGIC "prior_lineage=%s\nprior_serial=%lld\nprior_exists=%d\n"
                           "new_lineage=%s\n\n",
                lineage, serial, state != NULL, minted);
        json_dumpf(plan, f, JSON_COMPACT);
        fclose(f);
        json_decref(state);
        printf("\n─────────────────────────────────────────────────────────────────────────────\n\n"
               "Saved the plan to: %s\n\nTo perform exactly these actions, run the following "
               "command to apply:\n    terraform apply \"%s\"\n",
               out, out);
    }
    json_decref(plan);
    if (has_flag(argc, argv, "-detailed-exitcode"))
        return has_changes(c) ? 2 : 0;
    return 0;
}

struct planfile {
    char lineage[64];
    long long serial;
    int exists;
    char new_lineage[64];
    json_t *plan;
};

static int read_planfile(struct planfile *pf, const char *path)
{
    memset(pf, 0, sizeof(*pf));
    size_t len;
    char *data = read_all(path, &len);
    if (!data || strncmp(data, PLAN_MAGIC, strlen(PLAN_MAGIC)) != 0) {
        free(data);
        char detail[1024];
        snprintf(detail, sizeof(detail),
                 "The given plan file could not be read: %s: not a plan file created by this "
                 "terraform.",
                 path);
        return fail("Failed to read plan from plan file", detail);
    }
    char *body = strstr(data, "\n\n");
    if (!body) {
        free(data);
        return fail("Failed to load plan file", "truncated plan file");
    }
    *body = '\0';
    for (char *line = data + strlen(PLAN_MAGIC); line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (strncmp(line, "prior_lineage=", 14) == 0)
            snprintf(pf->lineage, sizeof(pf->lineage), "%s", line + 14);
        else if (strncmp(line, "prior_serial=", 13) == 0)
            pf->serial = strtoll(line + 13, NULL, 10);
        else if (strncmp(line, "prior_exists=", 13) == 0)
            pf->exists = line[13] == '1';
        else if (strncmp(line, "new_lineage=", 12) == 0)
            snprintf(pf->new_lineage, sizeof(pf->new_lineage), "%s", line + 12);
        line = nl ? nl + 1 : NULL;
    }
    pf->plan = json_loads(body + 2, 0, NULL);
    free(data);
    if (!pf->plan)
        return fail("Failed to load plan file", "the plan's JSON is damaged");
    return 0;
}

static int cmd_show(int argc, char **argv)
{
    static const char *const known[] = {"-json", "-no-color", NULL};
    const char *pos[1] = {NULL};
    if (check_flags("show", argc, argv, known, 1, pos))
        return 1;
    int rc;
    if (injected("show", &rc))
        return rc;
    if (!pos[0]) {
        json_t *state = load_state();
        json_t *out = json_pack("{s:s, s:s, s:O}", "format_version", "1.0", "terraform_version",
                                version_string(), "values",
                                state ? json_object_get(state, "outputs") : json_null());
        char *s = json_dumps(out, JSON_COMPACT);
        printf("%s\n", s);
        free(s);
        json_decref(out);
        json_decref(state);
        return 0;
    }
    struct planfile pf;
    if (read_planfile(&pf, pos[0]))
        return 1;
    if (!has_flag(argc, argv, "-json")) {
        print_plan_text(pf.plan, count_plan(pf.plan));
    } else {
        char *s = json_dumps(pf.plan, JSON_COMPACT);
        printf("%s\n", s);
        free(s);
    }
    json_decref(pf.plan);
    return 0;
}

/* The value terraform would compute at apply for an output unknown at plan time: for
 * terraform_data resources, `output` equals `input`, so an output whose expression refers to
 * terraform_data.NAME.output gets that resource's planned input. */
static json_t *resolve_unknown_output(json_t *plan, const char *name)
{
    json_t *refs = json_object_get(
        json_object_get(
            json_object_get(json_object_get(json_object_get(json_object_get(plan, "configuration"),
                                                            "root_module"),
                                            "outputs"),
                            name),
            "expression"),
        "references");
    size_t i;
    json_t *ref;
    json_array_foreach(refs, i, ref)
    {
        const char *r = json_string_value(ref);
        if (!r || strncmp(r, "terraform_data.", 15) != 0)
            continue;
        const char *dot = strrchr(r, '.');
        if (!dot || strcmp(dot, ".output") != 0)
            continue;
        size_t addr_len = (size_t)(dot - r);
        size_t k;
        json_t *rc;
        json_array_foreach(json_object_get(plan, "resource_changes"), k, rc)
        {
            const char *addr = json_string_value(json_object_get(rc, "address"));
            if (addr && strlen(addr) == addr_len && strncmp(addr, r, addr_len) == 0) {
                json_t *input = json_object_get(
                    json_object_get(json_object_get(rc, "change"), "after"), "input");
                if (input)
                    return json_incref(input);
            }
        }
    }
    return NULL;
}

static const char *type_of(json_t *v)
{
    if (json_is_string(v))
        return "string";
    if (json_is_number(v))
        return "number";
    if (json_is_boolean(v))
        return "bool";
    return NULL;
}

static int cmd_apply(int argc, char **argv)
{
    static const char *const known[] = {
        "-input=", "-auto-approve", "-no-color",         "-lock-timeout=",
        "-lock=",  "-parallelism=", "-compact-warnings", NULL};
    const char *pos[1] = {NULL};
    if (check_flags("apply", argc, argv, known, 1, pos))
        return 1;
    if (pos[0])
        log_apply_plan(pos[0]);
    int rc;
    if (injected("apply", &rc))
        return rc;
    if (!pos[0])
        return fail("No saved plan", "The terraform double only applies saved plan files "
                                     "(terraform apply PLANFILE).");
    if (require_init())
        return 1;
    struct planfile pf;
    if (read_planfile(&pf, pos[0]))
        return 1;
    json_t *state = load_state();
    const char *cur_lineage = state ? json_string_value(json_object_get(state, "lineage")) : "";
    long long cur_serial = state ? json_integer_value(json_object_get(state, "serial")) : 0;
    int stale = (state != NULL) != pf.exists ||
                (state && (strcmp(cur_lineage ? cur_lineage : "", pf.lineage) != 0 ||
                           cur_serial != pf.serial));
    if (stale) {
        json_decref(state);
        json_decref(pf.plan);
        return fail("Saved plan is stale",
                    "The given plan file can no longer be applied because the state was changed "
                    "by another operation after the plan was created.");
    }
    struct counts c = count_plan(pf.plan);
    if (!state)
        state = json_pack("{s:i, s:s, s:I, s:s, s:{}, s:[]}", "version", 4, "terraform_version",
                          version_string(), "serial", (json_int_t)0, "lineage", pf.new_lineage,
                          "outputs", "resources");
    json_object_set_new(state, "serial", json_integer(cur_serial + 1));
    json_object_set_new(state, "terraform_version", json_string(version_string()));

    /* Outputs: the planned values, unknown ones computed as terraform_data would. */
    json_t *outputs = json_object();
    json_t *planned = json_object_get(json_object_get(pf.plan, "planned_values"), "outputs");
    const char *name;
    json_t *oc;
    json_object_foreach(json_object_get(pf.plan, "output_changes"), name, oc)
    {
        if (action_is(oc, "delete", NULL))
            continue;
        json_t *value = NULL;
        if (json_is_true(json_object_get(oc, "after_unknown")))
            value = resolve_unknown_output(pf.plan, name);
        else if (json_object_get(oc, "after"))
            value = json_incref(json_object_get(oc, "after"));
        if (!value)
            value = json_string("applied-by-terraform-double");
        int sensitive = json_is_true(json_object_get(oc, "after_sensitive")) ||
                        json_is_true(json_object_get(json_object_get(planned, name), "sensitive"));
        json_t *o = json_pack("{s:o, s:b}", "value", value, "sensitive", sensitive);
        if (type_of(value))
            json_object_set_new(o, "type", json_string(type_of(value)));
        json_object_set_new(outputs, name, o);
    }
    json_object_set_new(state, "outputs", outputs);
    json_t *resources = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(pf.plan, "resource_changes"), i, r)
    {
        json_t *ch = json_object_get(r, "change");
        if (action_is(ch, "delete", NULL) || action_is(ch, "read", NULL) ||
            action_is(ch, "forget", NULL))
            continue;
        json_t *after = json_deep_copy(json_object_get(ch, "after"));
        if (json_is_object(after) && json_is_string(json_object_get(r, "type")) &&
            strcmp(json_string_value(json_object_get(r, "type")), "terraform_data") == 0 &&
            json_object_get(after, "input"))
            json_object_set(after, "output", json_object_get(after, "input"));
        json_array_append_new(
            resources,
            json_pack("{s:O?, s:O?, s:O?, s:O?, s:[{s:o?}]}", "mode", json_object_get(r, "mode"),
                      "type", json_object_get(r, "type"), "name", json_object_get(r, "name"),
                      "address", json_object_get(r, "address"), "instances", "attributes", after));
    }
    json_object_set_new(state, "resources", resources);
    if (save_state(state) != 0) {
        json_decref(state);
        json_decref(pf.plan);
        return fail("Failed to persist state", strerror(errno));
    }
    json_array_foreach(json_object_get(pf.plan, "resource_changes"), i, r)
    {
        json_t *ch = json_object_get(r, "change");
        const char *addr = json_string_value(json_object_get(r, "address"));
        if (action_is(ch, "create", NULL))
            printf("%s: Creating...\n%s: Creation complete after 0s\n", addr, addr);
        else if (action_is(ch, "update", NULL))
            printf("%s: Modifying...\n%s: Modifications complete after 0s\n", addr, addr);
        else if (action_is(ch, "delete", NULL))
            printf("%s: Destroying...\n%s: Destruction complete after 0s\n", addr, addr);
    }
    printf("\nApply complete! Resources: %d added, %d changed, %d destroyed.\n", c.add, c.change,
           c.destroy);
    if (json_object_size(outputs)) {
        printf("\nOutputs:\n\n");
        json_t *o;
        json_object_foreach(outputs, name, o)
        {
            printf("%s = ", name);
            if (json_is_true(json_object_get(o, "sensitive")))
                printf("<sensitive>");
            else
                print_value(stdout, json_object_get(o, "value"));
            printf("\n");
        }
    }
    json_decref(state);
    json_decref(pf.plan);
    return 0;
}

static int cmd_output(int argc, char **argv)
{
    static const char *const known[] = {"-json", "-no-color", "-raw", "-state=", NULL};
    const char *pos[1] = {NULL};
    if (check_flags("output", argc, argv, known, 1, pos))
        return 1;
    int rc;
    if (injected("output", &rc))
        return rc;
    json_t *state = load_state();
    json_t *outputs = state ? json_object_get(state, "outputs") : NULL;
    if (pos[0]) {
        json_t *o = json_object_get(outputs, pos[0]);
        if (!o) {
            json_decref(state);
            char summary[512];
            snprintf(summary, sizeof(summary), "Output \"%s\" not found", pos[0]);
            return fail(summary, "The output variable requested could not be found in the state "
                                 "file. If you recently added this to your configuration, be "
                                 "sure to run `terraform apply`, since the state won't be "
                                 "updated with new output variables until that command is run.");
        }
        json_t *v = json_object_get(o, "value");
        if (has_flag(argc, argv, "-raw") && json_is_string(v))
            fputs(json_string_value(v), stdout);
        else {
            print_value(stdout, v);
            printf("\n");
        }
        json_decref(state);
        return 0;
    }
    if (has_flag(argc, argv, "-json")) {
        char *s = json_dumps(outputs ? outputs : json_object(), JSON_INDENT(2));
        printf("%s\n", s ? s : "{}");
        free(s);
    } else if (!json_object_size(outputs)) {
        diag("Warning", "No outputs found",
             "The state file either has no outputs defined, or all the defined outputs are "
             "empty. Please define an output in your configuration with the `output` keyword "
             "and run `terraform refresh` for it to become available. If you are using "
             "interpolation, please verify the interpolated value is not empty. You can use "
             "the `terraform console` command to assist.");
    } else {
        const char *name;
        json_t *o;
        json_object_foreach(outputs, name, o)
        {
            printf("%s = ", name);
            if (json_is_true(json_object_get(o, "sensitive")))
                printf("<sensitive>");
            else
                print_value(stdout, json_object_get(o, "value"));
            printf("\n");
        }
    }
    json_decref(state);
    return 0;
}

int main(int argc, char **argv)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    const char *ignore = getenv("TFDOUBLE_IGNORE_INTERRUPT");
    sa.sa_handler = ignore && *ignore == '1' ? SIG_IGN : on_interrupt;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    setvbuf(stdout, NULL, _IOLBF, 0);
    log_invocation(argc, argv);

    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strncmp(argv[i], "-chdir=", 7) == 0) {
            if (chdir(argv[i] + 7) != 0) {
                char detail[4200];
                snprintf(detail, sizeof(detail), "chdir %s: %s", argv[i] + 7, strerror(errno));
                return fail("Invalid -chdir option", detail);
            }
        } else if (strcmp(argv[i], "-version") == 0 || strcmp(argv[i], "--version") == 0 ||
                   strcmp(argv[i], "-v") == 0) {
            return cmd_version(0, NULL);
        } else if (strcmp(argv[i], "-help") == 0 || strcmp(argv[i], "--help") == 0 ||
                   strcmp(argv[i], "-h") == 0) {
            break;
        } else {
            fprintf(stderr, "Error: unknown global option %s\n", argv[i]);
            return 1;
        }
    }
    if (i >= argc || argv[i][0] == '-') {
        printf("Usage: terraform [global options] <subcommand> [args]\n\n(terraform test "
               "double: version, init, validate, plan, show, apply, output)\n");
        return i >= argc ? 127 : 0;
    }
    const char *cmd = argv[i];
    int sub_argc = argc - i - 1;
    char **sub_argv = argv + i + 1;
    if (strcmp(cmd, "version") == 0)
        return cmd_version(sub_argc, sub_argv);
    if (strcmp(cmd, "init") == 0)
        return cmd_init(sub_argc, sub_argv);
    if (strcmp(cmd, "validate") == 0)
        return cmd_validate(sub_argc, sub_argv);
    if (strcmp(cmd, "plan") == 0)
        return cmd_plan(sub_argc, sub_argv);
    if (strcmp(cmd, "show") == 0)
        return cmd_show(sub_argc, sub_argv);
    if (strcmp(cmd, "apply") == 0)
        return cmd_apply(sub_argc, sub_argv);
    if (strcmp(cmd, "output") == 0)
        return cmd_output(sub_argc, sub_argv);
    fprintf(stderr,
            "Terraform has no command named \"%s\".\n\nTo see all of Terraform's "
            "top-level commands, run:\n  terraform -help\n\n",
            cmd);
    return 1;
}
