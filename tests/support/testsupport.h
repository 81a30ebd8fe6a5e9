/*
 * testsupport.h - what the test suites share: temporary directories, running the mlinfra
 * binary as a child and capturing what it prints, and test servers (Azurite, the GitHub
 * double, ...) started on free loopback ports and stopped again.
 *
 * Servers come from tests/node_modules (installed by `npm ci` in tests/); a test that needs
 * one and cannot start it fails with the reason, it never silently passes.
 * Everything listens on 127.0.0.1 only. Functions abort the test (cr_assert) on failure.
 */
#ifndef MI_TESTSUPPORT_H
#define MI_TESTSUPPORT_H

#include <stddef.h>
#include <sys/types.h>

#include "util/buf.h"

/* Repository root and the built agent binary (from the build, overridable by env). */
const char *mi_test_source_dir(void);
const char *mi_test_binary(void);
/* Path under the repository root (caller frees). */
char *mi_test_path(const char *relative);

/* A fresh directory under $TMPDIR (caller frees the string; mi_test_rmtree removes it). */
char *mi_test_tmpdir(void);
/* Removes a directory mi_test_tmpdir made (or one inside it); any other path aborts the test
 * process rather than delete it. NULL is a no-op. */
void mi_test_rmtree(const char *path);

/* A TCP port on 127.0.0.1 that was free a moment ago. */
int mi_test_free_port(void);
/* Waits until something accepts TCP connections on 127.0.0.1:port; 0 when it does. */
int mi_test_wait_port(int port, int timeout_ms);

struct mi_test_run {
    int exit_code; /* exit status, or 128+signal */
    mi_buf out;    /* stdout */
    mi_buf err;    /* stderr */
};

/* Runs argv (argv[0] a path) with the current environment plus env_extra ("K=V" strings,
 * NULL-terminated; "K=" removes K), in cwd (NULL: current), stdin from /dev/null.
 * Waits at most timeout_ms (then kills it and fails the test). */
void mi_test_run_cmd(struct mi_test_run *out, char *const argv[], char *const env_extra[],
                     const char *cwd, int timeout_ms);
void mi_test_run_release(struct mi_test_run *r);

/* The terraform double built beside the mlinfra binary (caller frees); fails the test when
 * it is not there. */
char *mi_test_terraform_double(void);

/* 1 when secret shows in the text other than on a line that starts with "::add-mask::" (the
 * workflow command that hands a value to the runner, which removes that line from the log and
 * hides the value everywhere else). _n: in data[0..len), which may hold NUL bytes. */
int mi_test_leaks(const char *text, const char *secret);
int mi_test_leaks_n(const char *data, size_t len, const char *secret);

struct mi_test_server {
    pid_t pid;
    int port;
    char *name;
    char *workdir; /* temporary directory the server may use, removed on stop */
    char *log;     /* file holding the server's stdout and stderr */
};

/* Starts argv (each "{PORT}" in an argument is replaced by a free port, "{DIR}" by the
 * server's temporary directory) and waits until the port accepts connections. */
struct mi_test_server *mi_test_server_start(const char *name, const char *const argv[]);
/* Azurite's blob service, persisted in the server's temporary directory, telemetry off. extra_args
 * may be NULL. */
struct mi_test_server *mi_test_azurite_start(const char *const extra_args[]);
/* Stops the server (SIGTERM, then SIGKILL) and removes its directory. NULL is a no-op. */
void mi_test_server_stop(struct mi_test_server *s);

/* Azurite's published development account (not a secret: it is in Azure's docs). */
#define MI_AZURITE_ACCOUNT "devstoreaccount1"
#define MI_AZURITE_KEY                                                                             \
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

#endif
