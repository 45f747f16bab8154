/*
 * scepd's defences of one worker's connection accounting (conn.h)
 * against clients that open connections to hold them, one struct
 * scepd_connguard per worker:
 *   - a connection over max_connections_per_client (counted for the
 *     whole process in connlimit.h) is refused before anything is read;
 *   - a worker three quarters full closes idle connections (new ones
 *     that sent nothing, kept-alive ones between requests) to make room;
 *   - the bytes of requests still arriving count against the process's
 *     max_header_memory, over which the connections holding the most
 *     are closed with a 503.
 * conn.c owns the connections and tells the guard what happens to each
 * (joined, request whole, awaiting the next, a deferred reply owed,
 * closed); the guard closes one with evhttp_connection_free(), which
 * comes back to conn.c's close callback and from there to
 * scepd_connguard_leave().  It writes its worker's counters of refused
 * and shed connections.  Everything runs on the worker's thread except
 * scepd_connguard_new(), which runs before the worker starts.
 */
#ifndef SCEPD_CONNGUARD_H
#define SCEPD_CONNGUARD_H

#include <stdint.h>
#include <stddef.h>

#include "connlimit.h"

struct bufferevent;
struct evbuffer;
struct evbuffer_cb_entry;
struct event_base;
struct evhttp_connection;
struct scepd_metrics;
struct scepd_connguard; /* opaque */

/* A worker holding three quarters of max_connections or more closes
 * connections waiting for a request of which no byte has come (new or
 * kept alive): for each connection it accepts, the one idle the longest
 * (looking at SCEPD_BUSY_EVICT_TRIES at most), so that a new client
 * need not wait for a slot behind idle sockets; and every
 * SCEPD_BUSY_SWEEP_MS those idle for SCEPD_BUSY_IDLE_MS, the longest
 * first, as many as it takes to fall below three quarters (for when no
 * connection comes, or accepting paused).  A real client sends its
 * request as soon as it is connected, usually before scepd accepts;
 * one with a request unread in the kernel is spared, and so is a TLS
 * handshake for SCEPD_BUSY_IDLE_MS.  A kept-alive client whose
 * connection went costs a reconnect, while a slot held idle keeps a
 * new client waiting. */
#define SCEPD_BUSY_EVICT_TRIES 8
#define SCEPD_BUSY_IDLE_MS 1000
#define SCEPD_BUSY_SWEEP_MS 500

/*
 * The guard's part of one connection, which conn.c embeds in its own
 * and zeroes; only connguard.c reads or writes its fields.
 */
struct scepd_guarded {
    struct scepd_connguard *g; /* NULL: not joined */
    struct evhttp_connection *evcon;
    struct bufferevent *bev;
    int tls;
    int pinned;   /* a deferred reply is owed: never closed here */
    int awaiting; /* from open or the previous reply until a request is whole */
    int idle;     /* on the idle list: awaiting, and no byte of it read */
    int64_t since_ms;
    size_t held; /* bytes read of the awaited request */
    unsigned long tick;
    char key[SCEPD_CONNLIMIT_KEY]; /* in the per-client count; "" none */
    struct evbuffer *in;
    struct evbuffer_cb_entry *in_cb;
    struct scepd_guarded *prev, *next;   /* every joined connection */
    struct scepd_guarded *iprev, *inext; /* the idle list */
};

/*
 * Makes the guard of one worker's base: max_connections as in conn.h;
 * counters go to m; budget (the process's, shared; NULL: no per-client
 * or memory limit) must outlive it, as must m.  Returns 0 or -1; *out:
 * scepd_connguard_free().
 */
int scepd_connguard_new(struct event_base *base, int max_connections, struct scepd_metrics *m,
                        struct scepd_connlimit *budget, struct scepd_connguard **out);

/* Frees g; after every joined connection has left.  Accepts NULL. */
void scepd_connguard_free(struct scepd_connguard *g);

/* Marks the start of one batch of accepted connections: those joined in
 * it have not been polled yet, so none is closed as idle in it. */
void scepd_connguard_batch(struct scepd_connguard *g);

/*
 * A connection evhttp has just set up (evcon on bev, tls when it speaks
 * TLS), nothing read from it yet.  Returns 1 when it joined (gc filled;
 * scepd_connguard_leave() when it closes), 0 when its client is over
 * max_connections_per_client: counted and logged (at most a line a
 * second), gc untouched, and the caller closes it.
 */
int scepd_connguard_join(struct scepd_connguard *g, struct scepd_guarded *gc,
                         struct evhttp_connection *evcon, struct bufferevent *bev, int tls);

/* The connection of gc is closing (conn.c's close callback).  Does
 * nothing for one that never joined. */
void scepd_connguard_leave(struct scepd_guarded *gc);

/* A whole request arrived on gc: what it read is evhttp's now. */
void scepd_connguard_request(struct scepd_guarded *gc);

/* The reply on gc was written: the next request is awaited. */
void scepd_connguard_await(struct scepd_guarded *gc);

/* pinned 1: a deferred reply is owed on gc, which must not be closed
 * here; 0: sent. */
void scepd_connguard_pin(struct scepd_guarded *gc, int pinned);

/* The worker is stopping: nothing more is closed early. */
void scepd_connguard_stop(struct scepd_connguard *g);

#endif
