/*
 * faultproxy_ctl.h - the fault-injecting TCP proxy (tests/doubles/faultproxy/faultproxy.c)
 * from a Criterion test: start it in front of a loopback server, change its fault, read
 * what it did.
 *
 * Rules:
 *  - mi_faultproxy_start forwards 127.0.0.1:<its own free port> to 127.0.0.1:target_port and
 *    passes everything through until a fault is set. Like testsupport.h, every function
 *    aborts the test (cr_assert) when it cannot do its job; none returns an error.
 *  - A fault applies to the connections accepted after mi_faultproxy_set returns; a
 *    connection already open keeps what it started with. Every set, even of the same fault,
 *    counts connections afresh (skip, every and next count from that moment). Agents that
 *    keep connections alive are faulted per connection, not per request.
 *  - Stats are counted by the proxy before the client can see a fault, so a test may read
 *    them right after its client failed; byte counts are final once mi_faultproxy_wait_idle
 *    returned 0.
 *  - The handle owns everything it points to; mi_faultproxy_stop stops the proxy, removes its
 *    directory and frees the handle. NULL is a no-op.
 */
#ifndef MI_FAULTPROXY_CTL_H
#define MI_FAULTPROXY_CTL_H

#include <stddef.h>

struct mi_faultproxy;

enum mi_fault_kind {
    MI_FAULT_PASS = 0, /* forward untouched (latency_ms still applies) */
    MI_FAULT_RESET,    /* client sees ECONNRESET (SO_LINGER 0), the target an abort */
    MI_FAULT_TRUNCATE, /* client sees an orderly end (FIN) mid-stream, the target an abort */
    MI_FAULT_STALL,    /* nothing moves either way for stall_ms, or until the client quits */
};

enum mi_fault_dir {
    MI_FAULT_DOWN = 0, /* count and slow the response (target to client) */
    MI_FAULT_UP,       /* count and slow the request (client to target) */
    MI_FAULT_BOTH,
};

/* Zero is the default of every field, so designated initialisers read as the fault:
 * (struct mi_fault){.kind = MI_FAULT_RESET, .after = 100, .every = 2}. */
struct mi_fault {
    enum mi_fault_kind kind;
    unsigned long long after; /* bytes forwarded in the counted direction before the fault */
    enum mi_fault_dir dir;
    long stall_ms;       /* MI_FAULT_STALL: 0 holds until the client gives up */
    long latency_ms;     /* sleep before each forwarded chunk in the counted direction */
    size_t chunk;        /* largest piece forwarded at once; 0: 16384 */
    unsigned long skip;  /* connections let through untouched first */
    unsigned long every; /* then every Nth connection is selected; 0 or 1: all */
    unsigned long next;  /* at most this many connections selected; 0: no limit */
};

struct mi_faultproxy_stats {
    unsigned long connections; /* accepted since start */
    unsigned long selected;    /* of which a fault or latency applied to */
    unsigned long resets, truncates, stalls;
    unsigned long control_errors; /* control texts that did not parse */
    long active;                  /* connections open right now */
    unsigned long long bytes_up, bytes_down;
    char error[256]; /* the last control error; empty when the control is fine */
};

struct mi_faultproxy *mi_faultproxy_start(int target_port);
int mi_faultproxy_port(const struct mi_faultproxy *p);
/* "http://127.0.0.1:PORT" (borrowed; valid until stop). */
const char *mi_faultproxy_url(const struct mi_faultproxy *p);

/* Sets the fault for the connections that come next; NULL means pass-through. */
void mi_faultproxy_set(struct mi_faultproxy *p, const struct mi_fault *f);
/* Sets raw control text (the proxy's key=value language, see faultproxy.c). Text that does
 * not parse makes the proxy reset every connection and report the error in its stats. */
void mi_faultproxy_set_spec(struct mi_faultproxy *p, const char *spec);

void mi_faultproxy_stats(const struct mi_faultproxy *p, struct mi_faultproxy_stats *out);
/* Waits until no connection is open through the proxy: 0, or -1 after timeout_ms. */
int mi_faultproxy_wait_idle(const struct mi_faultproxy *p, int timeout_ms);

/* The control file (borrowed), for a test that changes faults from a script or a child. */
const char *mi_faultproxy_control_path(const struct mi_faultproxy *p);
/* The proxy's log: one line per fault it injected (borrowed). */
const char *mi_faultproxy_log_path(const struct mi_faultproxy *p);

void mi_faultproxy_stop(struct mi_faultproxy *p);

#endif
