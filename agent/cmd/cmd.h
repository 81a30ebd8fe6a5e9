/*
 * cmd.h - the agent's commands, one file each (cmd_<name>.c).
 *
 * A command parses its own options (argv[0] is the command name), orchestrates the modules,
 * reports what happened through util/log.h, writes its machine-readable result to stdout and
 * returns an exit code of DESIGN.md section 9 (enum mi_exit_code in util/error.h).
 * Commands are the only code that prints; they never call exit() so cleanup always runs.
 * Every command answers --help with its usage on stdout and exit 0.
 */
#ifndef MI_CMD_H
#define MI_CMD_H

typedef int (*mi_cmd_fn)(int argc, char **argv);

struct mi_cmd {
    const char *name;
    const char *summary;
    mi_cmd_fn run;
    /* 1 when the command reads git history: libgit2's initialisation parses the system's CA
     * certificates (about 15 ms), so main.c pays it only for these commands. */
    int needs_git;
};

/* The command table, ending with a zeroed entry (cmd_table.c). */
extern const struct mi_cmd mi_cmd_table[];

/* Usage error: prints "mlinfra <cmd>: <message>" and a hint to --help; returns MI_EXIT_USAGE. */
int mi_cmd_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reports the last error (util/error.h) and returns the exit code it maps to. */
int mi_cmd_fail(const char *cmd, int code);

/* The variable's value, or NULL when it is unset or empty (borrowed from the environment). */
const char *mi_cmd_env(const char *name);
/* Registers every secret the agent's environment may hold (tokens, keys, SAS) with
 * util/log.h, before anything can print them. */
void mi_cmd_mask_secret_env(void);
/* Reads MLINFRA_HTTP_TIMEOUT, MLINFRA_HTTP_STALL_TIMEOUT (durations) and
 * MLINFRA_HTTP_RETRY_DELAY_MS into remote/http.h's process-wide limits. 0, or MI_EXIT_USAGE
 * after saying which variable is wrong. */
int mi_cmd_http_limits_from_env(void);
/* A secret callback for modules that obtain secrets later (OIDC tokens): masks it. */
void mi_cmd_mask_secret(void *ctx, const char *secret);

int mi_cmd_version(int argc, char **argv);
int mi_cmd_store(int argc, char **argv);
int mi_cmd_detect(int argc, char **argv);
int mi_cmd_plan(int argc, char **argv);
int mi_cmd_apply(int argc, char **argv);
int mi_cmd_check(int argc, char **argv);

#endif
