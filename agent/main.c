/*
 * mlinfra - a Terraform plan/apply agent for GitHub Actions.
 *
 * This file holds the global options and dispatches to the command table (cmd/cmd_table.c);
 * each command lives in cmd/cmd_<name>.c. Exit codes: DESIGN.md section 9.
 */
#include <curl/curl.h>
#include <git2.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "util/error.h"
#include "util/log.h"

static void print_usage(FILE *out)
{
    fprintf(out, "usage: mlinfra [--version] [--help] <command> [<args>]\n\n"
                 "A Terraform plan/apply agent for GitHub Actions: plans pull requests, checks\n"
                 "the plans against policies, comments them, stores them sealed, and applies\n"
                 "exactly the reviewed plan on merge.\n\ncommands:\n");
    for (const struct mi_cmd *c = mi_cmd_table; c->name; c++)
        fprintf(out, "  %-10s %s\n", c->name, c->summary);
    fprintf(out, "\nRun 'mlinfra <command> --help' for a command's options.\n\n"
                 "exit codes: 0 success, 1 operational error, 2 usage error,\n"
                 "            3 policy violation or change window closed,\n"
                 "            4 plan refused at apply (missing, tampered, stale, mismatched,\n"
                 "              already applied)\n");
}

static const struct mi_cmd *find_command(const char *name)
{
    for (const struct mi_cmd *c = mi_cmd_table; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

int main(int argc, char **argv)
{
    mi_log_init();
    if (argc < 2) {
        print_usage(stderr);
        return MI_EXIT_USAGE;
    }
    const char *arg = argv[1];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
        print_usage(stdout);
        return MI_EXIT_OK;
    }
    if (strcmp(arg, "--version") == 0) {
        printf("mlinfra %s\n", MLINFRA_VERSION);
        return MI_EXIT_OK;
    }
    if (strcmp(arg, "help") == 0) {
        if (argc < 3) {
            print_usage(stdout);
            return MI_EXIT_OK;
        }
        const struct mi_cmd *c = find_command(argv[2]);
        if (!c) {
            fprintf(stderr, "mlinfra: unknown command '%s'\n", argv[2]);
            return MI_EXIT_USAGE;
        }
        char *help_argv[] = {argv[2], "--help", NULL};
        return c->run(2, help_argv);
    }
    const struct mi_cmd *c = find_command(arg);
    if (!c) {
        fprintf(stderr, "mlinfra: '%s' is not a command; see 'mlinfra --help'\n", arg);
        return MI_EXIT_USAGE;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "mlinfra: fatal: libsodium could not initialise\n");
        return MI_EXIT_ERROR;
    }
    int limits_rc = mi_cmd_http_limits_from_env();
    if (limits_rc != 0)
        return limits_rc;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (c->needs_git)
        git_libgit2_init();
    int rc = c->run(argc - 1, argv + 1);
    if (c->needs_git)
        git_libgit2_shutdown();
    curl_global_cleanup();
    mi_log_mask_reset();
    return rc;
}
