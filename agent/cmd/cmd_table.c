/*
 * The command table: one line per command. Keep it in the order `mlinfra --help` shows it,
 * the order a workflow uses them.
 */
#include "cmd/cmd.h"

#include <stddef.h>

const struct mi_cmd mi_cmd_table[] = {
    {"version", "print the version of mlinfra and the libraries it uses", mi_cmd_version},
    {NULL, NULL, NULL},
};
