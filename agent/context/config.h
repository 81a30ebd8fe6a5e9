/*
 * config.h - mlinfra.yml, the agent's optional configuration (docs/configuration.md).
 *
 * Rules:
 *  - Parsing is strict: an unknown key, a value of the wrong type or a bad value is an error
 *    (MI_EUSAGE) whose message names the file, the line and the key path, e.g.
 *    "config: mlinfra.yml:12: unknown key 'enviroments' (expected one of: ...)".
 *  - Without the file the defaults of DESIGN.md section 4 apply: every folder
 *    environments/<name>/ is an environment whose branch is <name>.
 *  - Every path in a loaded configuration is repository-relative and normalized
 *    (context/path.h); every environment name matches [a-z0-9][a-z0-9_-]*.
 *  - struct mi_config owns everything it points to; mi_config_free(NULL) is a no-op.
 *    Pointers into it (environments, strings) are borrowed by callers and live as long as it.
 *  - This module reads the configuration file and, for discovery, lists one directory of the
 *    working tree; it never prints and never exits. Warnings (a skipped folder) are kept in
 *    the struct for the command to show.
 */
#ifndef MI_CONTEXT_CONFIG_H
#define MI_CONTEXT_CONFIG_H

#include <stddef.h>

/* Largest configuration file accepted. */
#define MI_CONFIG_MAX_BYTES (1024u * 1024u)

struct mi_config_env {
    char *name;
    char *branch;    /* the branch whose pull requests and pushes concern this environment */
    char *directory; /* root Terraform configuration, repository-relative */
    char **watch;    /* extra watched paths or globs (context/path.h), repository-relative */
    size_t nwatch;
    char **outputs; /* terraform outputs to report after apply; none: report none */
    size_t noutputs;
    int require_approval; /* apply only a pull request with an approving review */
    int line;             /* line in the file where it is declared; 0 when discovered */
};

struct mi_config_plan_store {
    char *backend;   /* "azure", "local", or NULL: azure when an account is set, else local */
    char *account;   /* storage account name */
    char *container; /* blob container */
    char *endpoint;  /* blob endpoint URL override (Azurite, sovereign clouds) */
    char *path;      /* local backend directory */
};

/* apply.health_check: probing the service address after apply (docs/extras.md). */
struct mi_config_health_check {
    int enabled;             /* default 0; 1 when the section is given (or `true`) */
    char *output;            /* the output holding the address; NULL: the first reported output
                              * whose value is an http(s) URL */
    char *path;              /* joined to the address; default "/" */
    int tries;               /* default MI_CONFIG_HEALTH_TRIES */
    long long timeout_s;     /* total time; default MI_CONFIG_HEALTH_TIMEOUT_S */
    int fail_on_unreachable; /* default 0: an unreachable service is reported, not fatal */
};

#define MI_CONFIG_HEALTH_TRIES 10
#define MI_CONFIG_HEALTH_TIMEOUT_S 300
#define MI_CONFIG_PLAN_MAX_AGE_S (7LL * 24 * 3600)

/* apply: what `mlinfra apply` does besides applying (docs/extras.md). */
struct mi_config_apply {
    long long plan_max_age_s; /* plans older than this are refused; default 7 days; -1: never */
    int deployments;          /* record GitHub deployments; default 1 */
    struct mi_config_health_check health_check;
};

struct mi_config {
    char *path;    /* the file it was loaded from; NULL when built from defaults */
    int from_file; /* 1 when a file was read */

    char *environments_dir; /* where environments are discovered (default "environments") */
    int envs_explicit;      /* 1 when the file lists environments: no discovery then */
    struct mi_config_env *envs;
    size_t nenvs;

    /* defaults: (branch NULL: the environment's name) */
    char *default_branch;
    char **default_watch;
    size_t ndefault_watch;
    char **default_outputs;
    size_t ndefault_outputs;
    int default_require_approval;

    char *policies_dir;     /* default "policies" */
    char *change_windows;   /* default "policies/change-windows.yml" */
    char *terraform_binary; /* NULL: MLINFRA_TERRAFORM, else "terraform" from PATH */
    struct mi_config_plan_store plan_store;
    struct mi_config_apply apply;

    char **warnings; /* things skipped while discovering, for the command to show */
    size_t nwarnings;
};

/* Parses configuration text; name is the file name used in messages. Environments listed
 * in the text are complete on return; without a list, call mi_config_discover. */
int mi_config_parse(struct mi_config **out, const char *text, size_t len, const char *name);

/* Loads path; messages call it name (NULL: path), e.g. "mlinfra.yml" for a file found at
 * the repository root. When the file does not exist and required is 0, returns the defaults
 * (path NULL in the result); when required is 1 a missing file is an error. */
int mi_config_load(struct mi_config **out, const char *path, const char *name, int required);

/* When the configuration lists no environments, adds one per directory
 * <workdir>/<environments_dir>/<name> (sorted by name, symbolic links and names that are not
 * valid environment names skipped with a warning). A missing environments folder leaves the
 * list empty. No-op for an explicit list. */
int mi_config_discover(struct mi_config *cfg, const char *workdir);

/* The environment called name, or NULL (borrowed). */
const struct mi_config_env *mi_config_env_find(const struct mi_config *cfg, const char *name);

void mi_config_free(struct mi_config *cfg);

#endif
