/*
 * httpstub.h - a scripted HTTP/1.1 server on 127.0.0.1 for tests of HTTP clients.
 *
 * The test queues responses; the server thread answers each incoming request with the next
 * one (the last one repeats when the queue runs dry), one request per connection
 * (Connection: close). Every request is recorded (method, target, headers, body) for
 * assertions. A response can be delayed, dropped (connection closed without an answer) or
 * cut short (headers promise more body than is sent).
 */
#ifndef MI_HTTPSTUB_H
#define MI_HTTPSTUB_H

#include <stddef.h>

#include "util/buf.h"

struct mi_httpstub;

struct mi_httpstub_response {
    int status;
    const char *headers; /* extra header lines, each ending in \r\n; may be NULL */
    const char *body;    /* may be NULL */
    int delay_ms;        /* wait before answering */
    int drop;            /* close without answering */
    int truncate;        /* announce Content-Length larger than the body sent */
};

struct mi_httpstub_request {
    char *method;
    char *target;
    mi_buf headers; /* raw header block */
    mi_buf body;
};

struct mi_httpstub *mi_httpstub_start(void);
void mi_httpstub_push(struct mi_httpstub *s, const struct mi_httpstub_response *r);
int mi_httpstub_port(const struct mi_httpstub *s);
/* http://127.0.0.1:PORT (borrowed) */
const char *mi_httpstub_url(const struct mi_httpstub *s);
size_t mi_httpstub_request_count(struct mi_httpstub *s);
/* Borrowed; valid until stop. */
const struct mi_httpstub_request *mi_httpstub_request(struct mi_httpstub *s, size_t i);
void mi_httpstub_stop(struct mi_httpstub *s);

#endif
