#include "httpstub.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_QUEUE 64
#define MAX_REQUESTS 256

struct mi_httpstub {
    int listen_fd;
    int port;
    char url[64];
    pthread_t thread;
    pthread_mutex_t lock;
    volatile int stopping;
    struct mi_httpstub_response queue[MAX_QUEUE];
    size_t queue_len, queue_next;
    struct mi_httpstub_request requests[MAX_REQUESTS];
    size_t requests_len;
};

static void read_request(struct mi_httpstub *s, int fd)
{
    mi_buf in = MI_BUF_INIT;
    char chunk[8192];
    size_t header_end = 0, content_length = 0;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 5000) <= 0)
            break;
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n <= 0)
            break;
        mi_buf_add(&in, chunk, (size_t)n);
        if (!header_end) {
            char *e = strstr(in.ptr, "\r\n\r\n");
            if (e) {
                header_end = (size_t)(e - in.ptr) + 4;
                char *cl = strcasestr(in.ptr, "\r\ncontent-length:");
                if (cl && cl < e)
                    content_length = strtoul(cl + 17, NULL, 10);
            }
        }
        if (header_end && in.len >= header_end + content_length)
            break;
    }
    pthread_mutex_lock(&s->lock);
    if (s->requests_len < MAX_REQUESTS && header_end) {
        struct mi_httpstub_request *r = &s->requests[s->requests_len++];
        char *sp1 = strchr(in.ptr, ' ');
        char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
        r->method = sp1 ? mi_xstrndup(in.ptr, (size_t)(sp1 - in.ptr)) : mi_xstrdup("");
        r->target = sp2 ? mi_xstrndup(sp1 + 1, (size_t)(sp2 - sp1 - 1)) : mi_xstrdup("");
        mi_buf_init(&r->headers);
        mi_buf_init(&r->body);
        mi_buf_add(&r->headers, in.ptr, header_end);
        mi_buf_add(&r->body, in.ptr + header_end, in.len - header_end);
    }
    pthread_mutex_unlock(&s->lock);
    mi_buf_release(&in);
}

static void answer(int fd, const struct mi_httpstub_response *r)
{
    if (r->delay_ms)
        usleep((useconds_t)r->delay_ms * 1000);
    if (r->drop)
        return;
    const char *body = r->body ? r->body : "";
    size_t blen = strlen(body);
    mi_buf out = MI_BUF_INIT;
    mi_buf_addf(&out, "HTTP/1.1 %d Stub\r\nConnection: close\r\nContent-Length: %zu\r\n%s\r\n",
                r->status, r->truncate ? blen + 100 : blen, r->headers ? r->headers : "");
    mi_buf_adds(&out, body);
    /* send with MSG_NOSIGNAL, not write: a client that hangs up before reading the answer
     * (a test of timeouts, a dropped request) would otherwise raise SIGPIPE and kill the
     * whole test process; an EPIPE just ends this answer. */
    size_t off = 0;
    while (off < out.len) {
        ssize_t n = send(fd, out.ptr + off, out.len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    mi_buf_release(&out);
}

static void *serve(void *arg)
{
    struct mi_httpstub *s = arg;
    while (!s->stopping) {
        struct pollfd p = {s->listen_fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int fd = accept(s->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        read_request(s, fd);
        struct mi_httpstub_response r = {500, NULL, "no response queued", 0, 0, 0};
        pthread_mutex_lock(&s->lock);
        if (s->queue_len) {
            size_t i = s->queue_next < s->queue_len ? s->queue_next++ : s->queue_len - 1;
            r = s->queue[i];
        }
        pthread_mutex_unlock(&s->lock);
        answer(fd, &r);
        shutdown(fd, SHUT_RDWR);
        close(fd);
    }
    return NULL;
}

struct mi_httpstub *mi_httpstub_start(void)
{
    struct mi_httpstub *s = mi_xcalloc(1, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
    s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(s->listen_fd >= 0);
    int one = 1;
    setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert(bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) == 0);
    socklen_t len = sizeof(addr);
    getsockname(s->listen_fd, (struct sockaddr *)&addr, &len);
    s->port = ntohs(addr.sin_port);
    snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", s->port);
    cr_assert(listen(s->listen_fd, 16) == 0);
    pthread_create(&s->thread, NULL, serve, s);
    return s;
}

void mi_httpstub_push(struct mi_httpstub *s, const struct mi_httpstub_response *r)
{
    pthread_mutex_lock(&s->lock);
    cr_assert(s->queue_len < MAX_QUEUE);
    s->queue[s->queue_len++] = *r;
    pthread_mutex_unlock(&s->lock);
}

int mi_httpstub_port(const struct mi_httpstub *s)
{
    return s->port;
}

const char *mi_httpstub_url(const struct mi_httpstub *s)
{
    return s->url;
}

size_t mi_httpstub_request_count(struct mi_httpstub *s)
{
    pthread_mutex_lock(&s->lock);
    size_t n = s->requests_len;
    pthread_mutex_unlock(&s->lock);
    return n;
}

const struct mi_httpstub_request *mi_httpstub_request(struct mi_httpstub *s, size_t i)
{
    pthread_mutex_lock(&s->lock);
    const struct mi_httpstub_request *r = i < s->requests_len ? &s->requests[i] : NULL;
    pthread_mutex_unlock(&s->lock);
    return r;
}

void mi_httpstub_stop(struct mi_httpstub *s)
{
    if (!s)
        return;
    s->stopping = 1;
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
    for (size_t i = 0; i < s->requests_len; i++) {
        free(s->requests[i].method);
        free(s->requests[i].target);
        mi_buf_release(&s->requests[i].headers);
        mi_buf_release(&s->requests[i].body);
    }
    pthread_mutex_destroy(&s->lock);
    free(s);
}
