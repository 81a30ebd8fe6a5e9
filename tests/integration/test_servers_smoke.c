/* The test-server helper itself: Azurite starts on a free loopback port, answers a real
 * Blob service request, and is gone after stop. Later suites rely on all three. */
#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>

#include "testsupport.h"

Test(servers, azurite_starts_answers_and_stops)
{
    struct mi_test_server *s = mi_test_azurite_start(NULL);
    cr_assert(s->port > 0);
    char *url = mi_xasprintf("http://127.0.0.1:%d/%s?comp=list", s->port, MI_AZURITE_ACCOUNT);
    /* An anonymous List Containers must be refused with Azure's error shape: proof it is the
     * Blob service answering, not just an open port. */
    char *argv[] = {"/usr/bin/curl", "-s", "-o", "/dev/stdout", "-w", "\n%{http_code}", url, NULL};
    struct mi_test_run r;
    mi_test_run_cmd(&r, argv, NULL, NULL, 10000);
    cr_assert_eq(r.exit_code, 0, "curl failed: %s", r.err.ptr);
    cr_assert(strstr(r.out.ptr, "\n403") || strstr(r.out.ptr, "\n401"),
              "expected an auth refusal from Azurite, got: %s", r.out.ptr);
    cr_assert(strstr(r.out.ptr, "<Code>"), "no Azure error body: %s", r.out.ptr);
    mi_test_run_release(&r);
    int port = s->port;
    pid_t pid = s->pid;
    mi_test_server_stop(s);
    cr_assert_neq(mi_test_wait_port(port, 300), 0, "port %d still accepts after stop", port);
    cr_assert_eq(kill(pid, 0), -1, "server process %d still alive", (int)pid);
    free(url);
}
