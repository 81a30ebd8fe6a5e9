/* tests/support/httpstub: the scripted HTTP server other suites rely on survives clients that
 * hang up before reading its answer (a client's time limit, a dropped request). Writing to
 * such a socket raises SIGPIPE unless the write says MSG_NOSIGNAL, and SIGPIPE would end the
 * whole test process, not just the one answer. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "httpstub.h"
#include "util/buf.h"

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((uint16_t)port);
    cr_assert_eq(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    return fd;
}

static void send_request(int fd)
{
    static const char req[] = "GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    cr_assert_eq(send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL), (ssize_t)(sizeof(req) - 1));
}

Test(httpstub, a_client_that_hangs_up_before_the_answer_does_not_kill_the_server)
{
    struct mi_httpstub *s = mi_httpstub_start();
    /* An answer far larger than the socket buffers, so it is still being written when the
     * peer's reset arrives, and given after the client has gone. */
    size_t big = 16u * 1024 * 1024;
    char *body = mi_xmalloc(big + 1);
    memset(body, 'x', big);
    body[big] = '\0';
    struct mi_httpstub_response gone = {200, NULL, body, 300, 0, 0};
    struct mi_httpstub_response ok = {200, NULL, "still here", 0, 0, 0};
    mi_httpstub_push(s, &gone);
    mi_httpstub_push(s, &ok);

    int fd = connect_to(mi_httpstub_port(s));
    send_request(fd);
    close(fd);

    /* The next client is answered: the server thread (and this process) lived on. */
    fd = connect_to(mi_httpstub_port(s));
    send_request(fd);
    mi_buf in = MI_BUF_INIT;
    char chunk[4096];
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        cr_assert_gt(poll(&p, 1, 20000), 0, "no answer to the second client");
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n <= 0)
            break;
        mi_buf_add(&in, chunk, (size_t)n);
    }
    close(fd);
    cr_assert(strncmp(in.ptr, "HTTP/1.1 200 ", 13) == 0, "%s", in.ptr);
    cr_assert(strstr(in.ptr, "\r\n\r\nstill here"), "%s", in.ptr);
    cr_assert_eq(mi_httpstub_request_count(s), 2);
    mi_buf_release(&in);
    mi_httpstub_stop(s);
    free(body);
}
