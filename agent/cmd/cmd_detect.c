/*
 * mlinfra detect: which environments this run concerns.
 *
 * Orchestration only: the run context (context/context.h), the configuration
 * (context/config.h), the changed paths (context/changes.h) and the selection
 * (context/select.h) do the work; this file turns their result into JSON on stdout, step
 * outputs in $GITHUB_OUTPUT and lines in the log.
 *
 * jansson: every json_object_set_new / json_array_append_new takes the reference of the
 * value it is given; the one root is decref'd on the done: path.
 */
#include <git2.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "context/changes.h"
#include "context/config.h"
#include "context/context.h"
#include "context/select.h"
#include "report/step_output.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/banned.h"

static const char usage[] =
    "usage: mlinfra detect [--repo DIR] [--config FILE] [--event FILE] [--event-name NAME]\n"
    "                      [--github-output FILE]\n"
    "   or: mlinfra detect [--repo DIR] [--config FILE] --base REV --head REV [--branch NAME]\n"
    "options of both: [--all-paths]\n"
    "\n"
    "Works out which environments a run affects: reads the run context (GITHUB_* variables\n"
    "and the event payload), mlinfra.yml, and the paths changed by the pull request or push,\n"
    "and selects every environment of the branch whose directory, watched paths or local\n"
    "modules (directly or through other modules) hold a changed path.\n"
    "\n"
    "options:\n"
    "  --repo DIR            the repository (default: $GITHUB_WORKSPACE, else the current\n"
    "                        directory or a parent of it)\n"
    "  --config FILE         the configuration (default: mlinfra.yml at the repository root,\n"
    "                        optional there; a file named here must exist)\n"
    "  --event FILE          the event payload (default: $GITHUB_EVENT_PATH)\n"
    "  --event-name NAME     the event name (default: $GITHUB_EVENT_NAME, else inferred from\n"
    "                        the payload)\n"
    "  --github-output FILE  where to append step outputs (default: $GITHUB_OUTPUT; none when\n"
    "                        unset)\n"
    "  --base REV, --head REV\n"
    "                        without an event: compare the merge-base of REV and REV with\n"
    "                        the second (any revision git understands)\n"
    "  --branch NAME         without an event: the branch whose environments are candidates\n"
    "                        (default: every environment)\n"
    "  --all-paths           list every changed path; by default folders that cannot concern\n"
    "                        an environment (outside their directories, modules and watched\n"
    "                        paths) are not looked into, only counted\n"
    "  -h, --help            this text\n"
    "\n"
    "output: a JSON document on stdout, and the step outputs environments, matrix (for\n"
    "strategy.matrix: {\"include\":[{\"environment\":...,\"directory\":...}]}), skip, fork,\n"
    "full_run and result (the whole document). See docs/configuration.md.\n"
    "\n"
    "exit codes: 0 done (also when nothing is affected: skip=true), 1 operational error\n"
    "(repository, event payload), 2 usage or configuration error.\n";

struct options {
    const char *repo;
    const char *config;
    const char *event;
    const char *event_name;
    const char *github_output;
    const char *base;
    const char *head;
    const char *branch;
    int all_paths;
};

/* Takes "--name VALUE" or "--name=VALUE"; returns 1 when argv[*i] is that option. */
static int take(int argc, char **argv, int *i, const char *name, const char **value, int *err)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *value = a + n + 1;
        return 1;
    }
    if (a[n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        *err = mi_cmd_usage_error("detect", "%s needs a value", name);
        return 1;
    }
    *value = argv[++*i];
    return 1;
}

static int parse_options(int argc, char **argv, struct options *o, int *help)
{
    for (int i = 1; i < argc; i++) {
        int err = 0;
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            *help = 1;
            return 0;
        }
        if (!strcmp(a, "--all-paths")) {
            o->all_paths = 1;
            continue;
        }
        if (take(argc, argv, &i, "--repo", &o->repo, &err) ||
            take(argc, argv, &i, "--config", &o->config, &err) ||
            take(argc, argv, &i, "--event-name", &o->event_name, &err) ||
            take(argc, argv, &i, "--event", &o->event, &err) ||
            take(argc, argv, &i, "--github-output", &o->github_output, &err) ||
            take(argc, argv, &i, "--base", &o->base, &err) ||
            take(argc, argv, &i, "--head", &o->head, &err) ||
            take(argc, argv, &i, "--branch", &o->branch, &err)) {
            if (err)
                return err;
            continue;
        }
        return mi_cmd_usage_error("detect", "unknown option '%s'", a);
    }
    int local = o->base || o->head || o->branch;
    if (local && (o->event || o->event_name))
        return mi_cmd_usage_error("detect", "--base/--head/--branch and --event/--event-name "
                                            "do not go together");
    if ((o->base != NULL) != (o->head != NULL))
        return mi_cmd_usage_error("detect", "--base and --head go together");
    return 0;
}

/* Length of the valid UTF-8 sequence at s, or 0. */
static size_t utf8_seq(const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    size_t n = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
    if (n == 0 || (s[0] & 0xf8) == 0xf8)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    /* Overlong three-byte forms, surrogates, and code points above U+10FFFF. */
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
        return 0;
    return n;
}

/* A JSON string for s. Paths in git need not be UTF-8 and jansson only takes UTF-8, so a
 * byte that does not decode becomes U+FFFD rather than the whole value going missing. */
static json_t *jstr(const char *s)
{
    json_t *j = json_string(s);
    if (j)
        return j;
    mi_buf b = MI_BUF_INIT;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = utf8_seq(p);
        if (n) {
            mi_buf_add(&b, p, n);
            p += n;
        } else {
            mi_buf_adds(&b, "\xef\xbf\xbd");
            p++;
        }
    }
    j = json_string(b.ptr);
    mi_buf_release(&b);
    return j;
}

static json_t *string_or_null(const char *s)
{
    return s ? jstr(s) : json_null();
}

static json_t *string_list(char **v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, jstr(v[i]));
    return a;
}

static const char *reason_kind(enum mi_reason_kind k)
{
    switch (k) {
    case MI_REASON_DIRECTORY:
        return "directory";
    case MI_REASON_WATCH:
        return "watch";
    case MI_REASON_MODULE:
        return "module";
    case MI_REASON_FULL_RUN:
        return "full_run";
    }
    return "unknown";
}

static const char *status_word(enum mi_change_status st)
{
    switch (st) {
    case MI_CHANGE_ADDED:
        return "added";
    case MI_CHANGE_DELETED:
        return "deleted";
    case MI_CHANGE_MODIFIED:
        return "modified";
    case MI_CHANGE_TYPECHANGE:
        return "type changed";
    case MI_CHANGE_RENAMED:
        return "renamed";
    }
    return "changed";
}

static json_t *reason_json(const struct mi_reason *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "kind", jstr(reason_kind(r->kind)));
    if (r->path) {
        json_object_set_new(o, "path", jstr(r->path));
        json_object_set_new(o, "change", jstr(status_word(r->status)));
    }
    if (r->renamed_from)
        json_object_set_new(o, "renamed_from", jstr(r->renamed_from));
    if (r->renamed_to)
        json_object_set_new(o, "renamed_to", jstr(r->renamed_to));
    if (r->pattern)
        json_object_set_new(o, "watch", jstr(r->pattern));
    if (r->kind == MI_REASON_MODULE)
        json_object_set_new(o, "modules", string_list(r->chain, r->nchain));
    if (r->detail)
        json_object_set_new(o, "detail", jstr(r->detail));
    return o;
}

static json_t *build_result(const struct mi_context *ctx, const struct mi_changes *ch,
                            const struct mi_selection *sel, const struct mi_config *cfg)
{
    json_t *root = json_object();
    char hex[GIT_OID_HEXSZ + 1];
    json_object_set_new(root, "event", jstr(ctx->event_name));
    json_object_set_new(root, "action", string_or_null(ctx->action));
    json_object_set_new(root, "repository", string_or_null(ctx->repository));
    json_object_set_new(root, "branch", string_or_null(ctx->branch));
    json_object_set_new(root, "pull_request",
                        ctx->pr_number ? json_integer(ctx->pr_number) : json_null());
    json_object_set_new(root, "fork", json_boolean(ctx->fork));
    json_object_set_new(root, "config", string_or_null(cfg->from_file ? cfg->path : NULL));

    json_t *cmp = json_object();
    json_object_set_new(cmp, "method", jstr(ch ? ch->method : "none"));
    json_object_set_new(cmp, "from",
                        ch && ch->has_from ? jstr(git_oid_tostr(hex, sizeof(hex), &ch->from))
                                           : json_null());
    json_object_set_new(
        cmp, "to", ch && ch->has_to ? jstr(git_oid_tostr(hex, sizeof(hex), &ch->to)) : json_null());
    json_object_set_new(cmp, "changed_paths", json_integer(ch ? (json_int_t)ch->n : 0));
    json_object_set_new(cmp, "unexamined_dirs", json_integer(ch ? (json_int_t)ch->pruned : 0));
    json_object_set_new(root, "compare", cmp);
    json_object_set_new(root, "full_run", json_boolean(ch && ch->full_run));
    json_object_set_new(root, "full_run_reason",
                        string_or_null(ch && ch->full_run ? ch->reason : NULL));
    json_object_set_new(root, "notes", ch ? string_list(ch->notes, ch->nnotes) : json_array());
    json_t *warnings = string_list(cfg->warnings, cfg->nwarnings);
    for (size_t i = 0; i < sel->nwarnings; i++)
        json_array_append_new(warnings, jstr(sel->warnings[i]));
    json_object_set_new(root, "warnings", warnings);
    json_object_set_new(root, "candidates", string_list(sel->candidates, sel->ncandidates));

    json_t *envs = json_array(), *include = json_array();
    for (size_t i = 0; i < sel->n; i++) {
        const struct mi_selected *e = &sel->envs[i];
        json_t *o = json_object();
        json_object_set_new(o, "name", jstr(e->name));
        json_object_set_new(o, "directory", jstr(e->directory));
        json_object_set_new(o, "branch", jstr(e->branch));
        json_object_set_new(o, "require_approval", json_boolean(e->require_approval));
        json_t *reasons = json_array();
        for (size_t j = 0; j < e->nreasons; j++)
            json_array_append_new(reasons, reason_json(&e->reasons[j]));
        json_object_set_new(o, "reasons", reasons);
        json_object_set_new(o, "more_reasons",
                            json_integer((json_int_t)(e->total_reasons - e->nreasons)));
        json_array_append_new(envs, o);
        json_t *m = json_object();
        json_object_set_new(m, "environment", jstr(e->name));
        json_object_set_new(m, "directory", jstr(e->directory));
        json_array_append_new(include, m);
    }
    json_object_set_new(root, "environments", envs);
    json_t *matrix = json_object();
    json_object_set_new(matrix, "include", include);
    json_object_set_new(root, "matrix", matrix);
    json_object_set_new(root, "skip", json_boolean(sel->n == 0));
    json_object_set_new(root, "skip_reason", string_or_null(sel->n ? NULL : sel->skip_reason));
    return root;
}

/* One line per affected environment: its first reason, in words. */
static void log_selection(const struct mi_context *ctx, const struct mi_changes *ch,
                          const struct mi_selection *sel)
{
    if (!sel->n) {
        mi_log_notice("detect: nothing to do: %s", sel->skip_reason ? sel->skip_reason : "-");
        return;
    }
    mi_log_info("detect: %zu of %zu environment%s of branch '%s' affected (%s, %zu changed "
                "path%s)",
                sel->n, sel->ncandidates, sel->ncandidates == 1 ? "" : "s",
                ctx->branch ? ctx->branch : "(any)", ch->method, ch->n, ch->n == 1 ? "" : "s");
    for (size_t i = 0; i < sel->n; i++) {
        const struct mi_selected *e = &sel->envs[i];
        const struct mi_reason *r = e->nreasons ? &e->reasons[0] : NULL;
        mi_buf why = MI_BUF_INIT;
        if (!r) {
            mi_buf_adds(&why, "-");
        } else if (r->kind == MI_REASON_FULL_RUN) {
            mi_buf_addf(&why, "full run: %s", r->detail);
        } else {
            mi_buf_adds(&why, r->path);
            if (r->kind == MI_REASON_WATCH)
                mi_buf_addf(&why, " (watched: %s)", r->pattern);
            if (r->kind == MI_REASON_MODULE) {
                mi_buf_adds(&why, " via ");
                for (size_t k = 0; k < r->nchain; k++)
                    mi_buf_addf(&why, "%s%s", k ? " -> " : "", r->chain[k]);
            }
            if (e->total_reasons > 1)
                mi_buf_addf(&why, " and %zu more", e->total_reasons - 1);
        }
        mi_log_info("  %s (%s): %s", e->name, e->directory, why.ptr);
        mi_buf_release(&why);
    }
}

static int write_outputs(const char *path, json_t *result, const struct mi_selection *sel,
                         const struct mi_context *ctx, const struct mi_changes *ch)
{
    mi_buf text = MI_BUF_INIT;
    json_t *names = json_array();
    for (size_t i = 0; i < sel->n; i++)
        json_array_append_new(names, jstr(sel->envs[i].name));
    char *names_s = json_dumps(names, JSON_COMPACT);
    char *matrix_s = json_dumps(json_object_get(result, "matrix"), JSON_COMPACT);
    char *result_s = json_dumps(result, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    int rc = 0;
    if (!names_s || !matrix_s || !result_s) {
        rc = mi_error_set(MI_ERR, "detect: cannot encode the step outputs as JSON");
        goto done;
    }
    if ((rc = mi_step_output_add(&text, "environments", names_s)) ||
        (rc = mi_step_output_add(&text, "matrix", matrix_s)) ||
        (rc = mi_step_output_add(&text, "skip", sel->n ? "false" : "true")) ||
        (rc = mi_step_output_add(&text, "fork", ctx->fork ? "true" : "false")) ||
        (rc = mi_step_output_add(&text, "full_run", ch && ch->full_run ? "true" : "false")) ||
        (rc = mi_step_output_add(&text, "result", result_s)))
        goto done;
    rc = mi_step_output_write(path, &text);
done:
    free(names_s);
    free(matrix_s);
    free(result_s);
    json_decref(names);
    mi_buf_release(&text);
    return rc;
}

int mi_cmd_detect(int argc, char **argv)
{
    struct options o = {0};
    int help = 0;
    int rc = parse_options(argc, argv, &o, &help);
    if (rc)
        return rc;
    if (help) {
        fputs(usage, stdout);
        return MI_EXIT_OK;
    }

    struct mi_context *ctx = NULL;
    struct mi_config *cfg = NULL;
    struct mi_changes *changes = NULL;
    struct mi_selection *sel = NULL;
    git_repository *repo = NULL;
    json_t *result = NULL;
    char *config_path = NULL;
    struct mi_path_set scope = MI_PATH_SET_INIT;
    int local = o.base || o.head || o.branch;
    int exit_code = MI_EXIT_OK;

    if (local)
        rc = mi_context_local(&ctx, o.branch);
    else
        rc = mi_context_load(&ctx, o.event_name, o.event);
    if (rc)
        goto fail;

    /* libgit2 re-hashes every object it reads by default; git itself does not. The objects
     * were verified when they were fetched (index-pack), and re-hashing was a sixth of the
     * time of a large diff (bench/RESULTS.md), so read them as git does. */
    git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 0);
    /* Each tree of a diff is read once, so libgit2's object cache only grows the heap (and
     * page faults cost); the module graph keeps the few trees it reads again itself. */
    git_libgit2_opts(GIT_OPT_ENABLE_CACHING, 0);
    const char *dir = o.repo ? o.repo : mi_cmd_env("GITHUB_WORKSPACE");
    unsigned flags = dir ? GIT_REPOSITORY_OPEN_NO_SEARCH : 0;
    if (git_repository_open_ext(&repo, dir ? dir : ".", flags, NULL) < 0) {
        const git_error *e = git_error_last();
        rc = mi_error_set(MI_ERR, "git: cannot open the repository at '%s': %s", dir ? dir : ".",
                          e && e->message ? e->message : "unknown error");
        goto fail;
    }
    const char *workdir = git_repository_workdir(repo);
    if (!workdir) {
        rc = mi_error_set(MI_ERR, "git: '%s' is a bare repository; detect needs a checkout",
                          dir ? dir : ".");
        goto fail;
    }

    if (o.config) {
        rc = mi_config_load(&cfg, o.config, NULL, 1);
    } else {
        config_path = mi_fs_join(workdir, "mlinfra.yml");
        rc = mi_config_load(&cfg, config_path, "mlinfra.yml", 0);
    }
    if (rc || (rc = mi_config_discover(cfg, workdir)))
        goto fail;
    for (size_t i = 0; i < cfg->nwarnings; i++)
        mi_log_warn("detect: %s", cfg->warnings[i]);

    /* Candidates first: a run whose branch has no environment (a tag, a feature branch)
     * needs nothing from the history, whatever commits its event names. */
    if ((rc = mi_select_candidates(&sel, cfg, ctx)))
        goto fail;
    if (sel->ncandidates) {
        if ((rc = mi_changes_plan(&changes, repo, ctx, o.base, o.head)))
            goto fail;
        for (size_t i = 0; i < changes->nnotes; i++)
            mi_log_notice("detect: %s", changes->notes[i]);
        if (changes->full_run)
            mi_log_notice("detect: full run: %s", changes->reason);
        /* Only the parts of the trees that can concern a candidate are compared, unless
         * every changed path is asked for. */
        if (changes->has_to && !o.all_paths &&
            (rc = mi_select_scope(sel, cfg, repo, &changes->to, &scope)))
            goto fail;
        if ((rc = mi_changes_collect(changes, repo, o.all_paths ? NULL : &scope)) ||
            (rc = mi_select_affected(sel, cfg, ctx, changes, repo)))
            goto fail;
    }
    for (size_t i = 0; i < sel->nwarnings; i++)
        mi_log_warn("detect: %s", sel->warnings[i]);
    /* detect reads only the event and git objects, never runs the fork's code, so it
     * answers for a fork under pull_request_target too; the warning says what plan will do. */
    if (mi_context_fork_with_secrets(ctx))
        mi_log_warn("detect: pull request #%ld comes from a fork (%s) and this %s run holds "
                    "this repository's secrets: mlinfra plan refuses to plan it; trigger the "
                    "plan on pull_request instead",
                    ctx->pr_number, ctx->head_repo ? ctx->head_repo : "deleted repository",
                    ctx->event_name);
    else if (ctx->fork)
        mi_log_notice("detect: pull request #%ld comes from a fork (%s): it gets no secrets, "
                      "its plan is not uploaded and it is never applied",
                      ctx->pr_number, ctx->head_repo ? ctx->head_repo : "deleted repository");

    result = build_result(ctx, changes, sel, cfg);
    const char *gh_out = o.github_output ? o.github_output : mi_cmd_env("GITHUB_OUTPUT");
    if (gh_out && (rc = write_outputs(gh_out, result, sel, ctx, changes)))
        goto fail;
    log_selection(ctx, changes, sel);
    /* Streamed: every string in it went through jstr, so encoding cannot fail half-way;
     * only writing can. */
    if (json_dumpf(result, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0 ||
        fputc('\n', stdout) == EOF || fflush(stdout) != 0) {
        rc = mi_error_errno(MI_ERR, "detect: cannot write the result");
        goto fail;
    }
    goto done;

fail:
    exit_code = mi_cmd_fail("detect", rc);
done:
    mi_path_set_release(&scope);
    free(config_path);
    json_decref(result);
    mi_selection_free(sel);
    mi_changes_free(changes);
    git_repository_free(repo);
    mi_config_free(cfg);
    mi_context_free(ctx);
    return exit_code;
}
