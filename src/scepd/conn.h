/*
 * scepd's connection accounting, one struct scepd_conns per worker: every
 * connection the worker's listeners accept is counted from accept to
 * close, accepting pauses at max_connections and after accept(2) runs
 * out of descriptors or memory, each request must arrive whole within
 * read_timeout, and a stopping worker drains its connections.  It also
 * makes each connection's bufferevent, so a TLS listener's connections
 * get an OpenSSL bufferevent from its SSL_CTX.  It writes the connection
 * metrics of its worker and nothing else outside itself.
 *
 * Against clients that open connections to hold them, each connection
 * joins the worker's guard (connguard.h): a per-client limit, idle
 * connections closed in a nearly full worker, partial requests bounded
 * in memory.
 *
 * Everything runs on the worker's thread except scepd_conns_new() and
 * scepd_conns_attach(), which run before the worker starts.
 */
#ifndef SCEPD_CONN_H
#define SCEPD_CONN_H

#include <openssl/ssl.h>

struct event_base;
struct evhttp;
struct evhttp_bound_socket;
struct evhttp_connection;
struct scepd_metrics;
struct scepd_connlimit;
struct scepd_conns; /* opaque */

/* Listeners one worker's accounting can serve. */
#define SCEPD_CONNS_MAX_PORTS 8

/* After SIGTERM, an open connection that makes no progress for this long
 * is closed: an idle keep-alive connection must not hold the shutdown for
 * a whole read_timeout, while a request arriving or a reply leaving
 * keeps going. */
#define SCEPD_STOP_IDLE_SECONDS 2
/* The pause after accept(2) fails with EMFILE, ENFILE, ENOBUFS or
 * ENOMEM: first, and at most (it doubles while the failures last). */
#define SCEPD_ACCEPT_BACKOFF_MIN_MS 50
#define SCEPD_ACCEPT_BACKOFF_MAX_MS 1000

/* Called on the worker's thread once the accounting is stopping and the
 * last connection has closed. */
typedef void scepd_conns_drained_fn(void *arg);

/*
 * Makes the accounting for one worker's base: at most max_connections
 * open at once, read_timeout seconds for each request to arrive; the
 * connection counters go to m (borrowed, must outlive it); budget (the
 * process's, shared by every worker; borrowed, must outlive it; NULL:
 * no per-client or memory limit) counts connections per client and the
 * memory of partial requests; drained(arg) is called as described
 * above.  Call before the worker starts.  Returns 0 or -1; *out:
 * scepd_conns_free().
 */
int scepd_conns_new(struct event_base *base, int max_connections, int read_timeout,
                    struct scepd_metrics *m, struct scepd_connlimit *budget,
                    scepd_conns_drained_fn *drained, void *arg, struct scepd_conns **out);

/*
 * Counts the connections of http, which accepts on bound (both borrowed;
 * bound until scepd_conns_stop()).  ssl_ctx (borrowed, may be NULL):
 * connections speak TLS with an SSL made from it.  Returns 0 or -1.
 */
int scepd_conns_attach(struct scepd_conns *c, struct evhttp *http,
                       struct evhttp_bound_socket *bound, SSL_CTX *ssl_ctx);

/* A whole request has arrived on evcon: its read deadline is met. */
void scepd_conns_request_begin(struct scepd_conns *c, struct evhttp_connection *evcon);

/* The reply on evcon is written; if the connection stays open, the next
 * request must arrive within read_timeout. */
void scepd_conns_request_end(struct scepd_conns *c, struct evhttp_connection *evcon);

/* Called on the worker's thread when a watched connection closes. */
typedef void scepd_conns_close_fn(void *arg);

/*
 * Watches evcon for a reply that http.c sends later (a deferred reply):
 * fn(arg) runs once if evcon closes first, before evhttp frees the
 * request on it: closed by us (shutdown, evhttp_free) or by the client
 * (a hang-up seen on the socket while the reply is owed, which closes
 * the connection).  The connection stays counted, and neither the read
 * deadline nor the stop timeout closes it while it waits.  Returns 0, or
 * -1 when evcon is not counted here or is watched already.
 */
int scepd_conns_watch_close(struct scepd_conns *c, struct evhttp_connection *evcon,
                            scepd_conns_close_fn *fn, void *arg);

/* Stops watching evcon (the deferred reply has been sent). */
void scepd_conns_unwatch_close(struct scepd_conns *c, struct evhttp_connection *evcon);

/* Connections open now. */
long scepd_conns_open(const struct scepd_conns *c);

/* 1 once scepd_conns_stop() ran: replies should close their connection. */
int scepd_conns_stopping(const struct scepd_conns *c);

/*
 * Stopping: the listeners are about to go (call before deleting their
 * bound sockets), so they are forgotten; connections still open get the
 * short stop timeout (SCEPD_STOP_IDLE_SECONDS) so that idle ones close
 * soon while a request still arriving, or a reply still leaving, carries
 * on.  The drained callback runs when the last one closes.
 */
void scepd_conns_stop(struct scepd_conns *c);

/* Frees c; after evhttp_free() of every attached evhttp, which closes
 * the remaining connections through c.  Accepts NULL. */
void scepd_conns_free(struct scepd_conns *c);

#endif
