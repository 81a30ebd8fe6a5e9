/*
 * The command table: one line per command. Keep it in the order `mlinfra --help` shows it,
 * the order a workflow uses them.
 */
#include "cmd/cmd.h"

#include <stddef.h>

const struct mi_cmd mi_cmd_table[] = {
    {"detect", "work out which environments a pull request or push affects", mi_cmd_detect, 1},
    {"plan", "plan an environment and report it on its pull request", mi_cmd_plan, 1},
    {"apply", "apply the reviewed plan of the pull request a push merged", mi_cmd_apply, 1},
    {"check", "check a plan against the compliance policies and change windows", mi_cmd_check},
    {"store", "list, fetch and prune sealed plans; see or break a lock", mi_cmd_store},
    {"version", "print the version of mlinfra and the libraries it uses", mi_cmd_version},
    {NULL, NULL, NULL},
};
