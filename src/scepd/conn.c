/*
 * scepd's connection accounting (conn.h): how many connections each
 * worker holds on all its listeners, from accept to close, so that
 * max_connections is a real limit and a shutdown can wait for the
 * requests that are still arriving.
 *
 * libevent 2.1's evhttp has no connection limit and no callback for a new
 * connection; it does let us make each connection's bufferevent
 * (evhttp_set_bevcb) and be told when a connection closes
 * (evhttp_connection_set_closecb).  So: the bufferevent callback counts
 * the connection and keeps a reference to the bufferevent; right after
 * evhttp has finished setting the connection up (conn_ev, made active
 * from the callback, runs once the accept callback returns) we read the
 * evhttp_connection back from the bufferevent's callback argument and
 * hook its close.  A connection that died before that is uncounted then.
 * When the count reaches max_connections the worker's listeners are
 * disabled; the kernel queues further connections in the backlogs until
 * a slot frees.
 *
 * evhttp 2.1 has one inactivity timeout per connection, which a client
 * sending a byte now and then never trips (slowloris), and which must be
 * as long as write_timeout.  So read_timeout is a deadline kept here: a
 * request must have arrived whole within read_timeout of the connection
 * opening or of the previous reply; else the connection is closed.  That
 * also closes idle keep-alive connections after read_timeout.
 *
 * accept(2) failing with EMFILE/ENFILE/ENOBUFS/ENOMEM leaves the pending
 * connection in the queue, so the listening socket stays readable and
 * libevent would call accept again at once, for ever, at full CPU (and,
 * without an error callback, print a warning each time).  The error
 * callback here disables the listeners for a short, growing pause
 * instead, counts the failure and logs it at most once a second.
 *
 * Each hooked connection joins the worker's guard (connguard.h), which
 * may refuse it (too many from its client) before anything is read, and
 * is told when a request is whole, when the next is awaited and when it
 * closes; the guard closes idle connections and the largest partial
 * requests when room or memory runs short.
 *
 * TLS: a TLS listener's connections get an OpenSSL bufferevent made here
 * (bufferevent_openssl_socket_new with no descriptor yet, in accepting
 * state: evhttp sets the descriptor right after, which starts the
 * handshake), from the listener's SSL_CTX, which every worker shares.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "conn.h"
#include "connguard.h"
#include "scepd.h"

/* Why accepting is off (bits of scepd_conns.accept_off). */
#define CONN_ACCEPT_FULL 1u    /* max_connections reached */
#define CONN_ACCEPT_BACKOFF 2u /* accept(2) failed for lack of resources */

struct scepd_conn;

/* One listener served by this worker; the bufferevent callback's
 * argument. */
struct conn_port {
    struct scepd_conns *c;
    struct evhttp *http;
    struct evconnlistener *l; /* NULL once stopping */
    SSL_CTX *ssl_ctx;         /* NULL: plain HTTP */
};

struct scepd_conns {
    struct event_base *base;
    int max_connections;
    int read_timeout;
    struct scepd_metrics *metrics;
    struct scepd_connguard *guard;
    scepd_conns_drained_fn *drained;
    void *drained_arg;

    struct conn_port ports[SCEPD_CONNS_MAX_PORTS];
    int nports;

    /* Connections evhttp made but we have not hooked yet, those hooked
     * (their close callback is ours), and how many are open. */
    struct event *conn_ev;
    struct event *accept_timer;
    struct scepd_conn *conns_new;
    struct scepd_conn *conns;
    struct scepd_conn **ht; /* hooked connections by evhttp_connection */
    size_t htcap;           /* a power of two, or 0 */
    long nconns;
    unsigned accept_off;      /* CONN_ACCEPT_* bits */
    int backoff_ms;           /* current accept-error pause */
    time_t accept_err_logged; /* last accept-error log line (rate limit) */
    int stopping;
};

/* One counted connection.  While on conns_new, bev holds our reference
 * and evcon is NULL; once on conns, evcon is set and bev is NULL. */
struct scepd_conn {
    struct scepd_conns *c;
    struct bufferevent *bev;
    struct evhttp_connection *evcon;
    struct event *deadline; /* read_timeout; pending while a request is awaited */
    struct scepd_conn *prev, *next;
    struct scepd_conn *hnext; /* ht chain */
    /* http.c's deferred reply waiting on this connection (see
     * scepd_conns_watch_close), or NULL. */
    scepd_conns_close_fn *on_close;
    void *on_close_arg;
    struct event *hup; /* the peer hanging up while on_close is set */
    int tls;
    struct scepd_guarded guard; /* connguard.c's part */
};

/*
 * The listener's error callback gets the evhttp as its argument (evhttp
 * installs its accept callback with it, and libevent has one argument
 * for both), so it finds its accounting here.  Filled before the worker
 * threads start; the lock makes a lookup safe whatever the order.
 */
static struct {
    struct evhttp *http;
    struct scepd_conns *c;
} conn_registry[SCEP_MAX_WORKERS * SCEPD_CONNS_MAX_PORTS];
static pthread_mutex_t conn_registry_lock = PTHREAD_MUTEX_INITIALIZER;

static int conn_registry_add(struct evhttp *http, struct scepd_conns *c)
{
    size_t i;
    int rc = -1;

    pthread_mutex_lock(&conn_registry_lock);
    for (i = 0; i < sizeof(conn_registry) / sizeof(conn_registry[0]); i++) {
        if (conn_registry[i].http == NULL) {
            conn_registry[i].http = http;
            conn_registry[i].c = c;
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&conn_registry_lock);
    return rc;
}

static struct scepd_conns *conn_registry_find(const void *http)
{
    struct scepd_conns *c = NULL;
    size_t i;

    pthread_mutex_lock(&conn_registry_lock);
    for (i = 0; i < sizeof(conn_registry) / sizeof(conn_registry[0]) && c == NULL; i++)
        if (conn_registry[i].http != NULL && conn_registry[i].http == http)
            c = conn_registry[i].c;
    pthread_mutex_unlock(&conn_registry_lock);
    return c;
}

static void conn_registry_remove(const struct scepd_conns *c)
{
    size_t i;

    pthread_mutex_lock(&conn_registry_lock);
    for (i = 0; i < sizeof(conn_registry) / sizeof(conn_registry[0]); i++) {
        if (conn_registry[i].c == c) {
            conn_registry[i].http = NULL;
            conn_registry[i].c = NULL;
        }
    }
    pthread_mutex_unlock(&conn_registry_lock);
}

/* ---- hooked connections by evhttp_connection pointer ---------------- */

static size_t conn_hash(const struct evhttp_connection *evcon, size_t cap)
{
    uintptr_t p = (uintptr_t)evcon;

    /* Allocations are 16-byte aligned: the low bits say nothing. */
    return (size_t)((p >> 4) ^ (p >> 12)) & (cap - 1);
}

/* Doubles the table (or makes it) once it holds as many entries as
 * slots; on allocation failure the chains just grow longer. */
static void conn_ht_grow(struct scepd_conns *c)
{
    size_t cap = c->htcap != 0 ? c->htcap * 2 : 64, i;
    struct scepd_conn **ht = calloc(cap, sizeof(*ht));

    if (ht == NULL)
        return;
    for (i = 0; i < c->htcap; i++) {
        struct scepd_conn *k = c->ht[i], *next;

        for (; k != NULL; k = next) {
            size_t h = conn_hash(k->evcon, cap);

            next = k->hnext;
            k->hnext = ht[h];
            ht[h] = k;
        }
    }
    free(c->ht);
    c->ht = ht;
    c->htcap = cap;
}

/* Returns 0, or -1 when there is no table at all (out of memory). */
static int conn_ht_add(struct scepd_conns *c, struct scepd_conn *k)
{
    size_t h;

    if ((size_t)c->nconns >= c->htcap)
        conn_ht_grow(c);
    if (c->htcap == 0)
        return -1;
    h = conn_hash(k->evcon, c->htcap);
    k->hnext = c->ht[h];
    c->ht[h] = k;
    return 0;
}

static void conn_ht_del(struct scepd_conns *c, struct scepd_conn *k)
{
    struct scepd_conn **pp;

    if (c->htcap == 0)
        return;
    for (pp = &c->ht[conn_hash(k->evcon, c->htcap)]; *pp != NULL; pp = &(*pp)->hnext) {
        if (*pp == k) {
            *pp = k->hnext;
            break;
        }
    }
    k->hnext = NULL;
}

static struct scepd_conn *conn_find(struct scepd_conns *c, const struct evhttp_connection *evcon)
{
    struct scepd_conn *k;

    if (c->htcap == 0 || evcon == NULL)
        return NULL;
    for (k = c->ht[conn_hash(evcon, c->htcap)]; k != NULL; k = k->hnext)
        if (k->evcon == evcon)
            return k;
    return NULL;
}

/* ---- counting -------------------------------------------------------- */

static void conn_unlink(struct scepd_conn **head, struct scepd_conn *k)
{
    if (k->prev != NULL)
        k->prev->next = k->next;
    else
        *head = k->next;
    if (k->next != NULL)
        k->next->prev = k->prev;
    k->prev = k->next = NULL;
}

static void conn_push(struct scepd_conn **head, struct scepd_conn *k)
{
    k->prev = NULL;
    k->next = *head;
    if (*head != NULL)
        (*head)->prev = k;
    *head = k;
}

/* Turns accepting on every listener on or off for reason bit why. */
static void conn_accept_set(struct scepd_conns *c, unsigned why, int off)
{
    unsigned before = c->accept_off;
    int i;

    if (off)
        c->accept_off |= why;
    else
        c->accept_off &= ~why;
    if ((before != 0) == (c->accept_off != 0))
        return;
    for (i = 0; i < c->nports; i++) {
        if (c->ports[i].l == NULL)
            continue;
        if (c->accept_off != 0)
            evconnlistener_disable(c->ports[i].l);
        else
            evconnlistener_enable(c->ports[i].l);
    }
}

static void conn_set_open(struct scepd_conns *c)
{
    atomic_store_explicit(&c->metrics->conns_open, c->nconns, memory_order_relaxed);
}

/* A connection is gone: uncount it, maybe accept again, maybe finish. */
static void conn_gone(struct scepd_conns *c)
{
    if (c->nconns > 0)
        c->nconns--;
    conn_set_open(c);
    if (!c->stopping && (c->accept_off & CONN_ACCEPT_FULL) && c->nconns < c->max_connections)
        conn_accept_set(c, CONN_ACCEPT_FULL, 0);
    if (c->stopping && c->nconns == 0 && c->drained != NULL)
        c->drained(c->drained_arg);
}

/* evhttp's close callback for a hooked connection. */
static void conn_closed(struct evhttp_connection *evcon, void *arg)
{
    struct scepd_conn *k = arg;
    struct scepd_conns *c = k->c;

    /* Never twice: evhttp may reset a connection and free it later. */
    evhttp_connection_set_closecb(evcon, NULL, NULL);
    scepd_connguard_leave(&k->guard);
    /* A reply still owed on this connection can never be sent now; its
     * owner lets go first, while the request is still allocated (evhttp
     * frees it after this callback). */
    if (k->on_close != NULL) {
        scepd_conns_close_fn *fn = k->on_close;

        k->on_close = NULL;
        fn(k->on_close_arg);
    }
    conn_ht_del(c, k);
    conn_unlink(&c->conns, k);
    if (k->deadline != NULL)
        event_free(k->deadline);
    if (k->hup != NULL)
        event_free(k->hup);
    free(k);
    conn_gone(c);
}

/* A connection's read deadline passed with no whole request. */
static void conn_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct scepd_conn *k = arg;

    (void)fd;
    (void)what;
    atomic_fetch_add_explicit(&k->c->metrics->read_deadlines, 1, memory_order_relaxed);
    if (scepd_log_enabled(SCEPD_DEBUG)) {
        char *addr = NULL;
        ev_uint16_t port = 0;

        evhttp_connection_get_peer(k->evcon, &addr, &port);
        scepd_log(SCEPD_DEBUG, "connection closed: no whole request within read_timeout", "peer",
                  addr != NULL ? addr : "", NULL);
    }
    /* Frees k through conn_closed. */
    evhttp_connection_free(k->evcon);
}

static void conn_arm_deadline(struct scepd_conn *k)
{
    struct timeval tv = {k->c->read_timeout, 0};

    if (k->deadline != NULL)
        evtimer_add(k->deadline, &tv);
}

static void conn_stop_timeout(struct evhttp_connection *evcon)
{
    /* Applies at once: evhttp hands it to the bufferevent, whose read and
     * write timeouts restart on every byte of progress. */
    evhttp_connection_set_timeout(evcon, SCEPD_STOP_IDLE_SECONDS);
}

/* conn_ev: hooks the close of every connection evhttp has just made. */
static void conn_register(evutil_socket_t fd, short what, void *arg)
{
    struct scepd_conns *c = arg;
    struct scepd_conn *k;

    (void)fd;
    (void)what;
    scepd_connguard_batch(c->guard);
    while ((k = c->conns_new) != NULL) {
        bufferevent_data_cb rd = NULL, wr = NULL;
        bufferevent_event_cb ev = NULL;
        void *cbarg = NULL;
        struct bufferevent *bev = k->bev;

        conn_unlink(&c->conns_new, k);
        k->bev = NULL;
        /* evhttp sets its bufferevent callbacks with the connection as
         * their argument; bufferevent_free() clears them, so no event
         * callback means evhttp already let go of the connection. */
        bufferevent_getcb(bev, &rd, &wr, &ev, &cbarg);
        if (ev != NULL && cbarg != NULL) {
            k->evcon = cbarg;
            conn_push(&c->conns, k);
            evhttp_connection_set_closecb(k->evcon, conn_closed, k);
            /* Nothing has been read yet: evhttp reads at the next poll,
             * and this runs before it.  A client over its limit costs a
             * close and nothing else. */
            if (!scepd_connguard_join(c->guard, &k->guard, k->evcon, bev, k->tls)) {
                bufferevent_decref(bev);
                /* Frees k through conn_closed. */
                evhttp_connection_free(k->evcon);
                continue;
            }
            /* Without a table entry or a timer the connection is still
             * counted and closed by evhttp's inactivity timeout. */
            if (conn_ht_add(c, k) == 0) {
                k->deadline = evtimer_new(c->base, conn_deadline, k);
                conn_arm_deadline(k);
            }
            if (c->stopping)
                conn_stop_timeout(k->evcon);
            bufferevent_decref(bev);
        } else {
            free(k);
            bufferevent_decref(bev);
            conn_gone(c);
        }
    }
}

/* A bufferevent for a new TLS connection from p's SSL_CTX, or NULL. */
static struct bufferevent *conn_tls_bev(struct event_base *base, struct conn_port *p)
{
    struct bufferevent *bev;
    SSL *ssl = SSL_new(p->ssl_ctx);

    if (ssl == NULL)
        return NULL;
    /* The descriptor is -1 until evhttp sets it (bufferevent_setfd),
     * which gives the SSL its socket BIO and starts the handshake; with
     * BEV_OPT_CLOSE_ON_FREE the bufferevent frees the SSL and closes the
     * socket. */
    bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                         BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        SSL_free(ssl);
        return NULL;
    }
    /* A client that closes without close_notify (most do after reading
     * a Content-Length reply) is an end of stream, not an error. */
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}

/* evhttp's bufferevent callback: one new connection on this worker. */
static struct bufferevent *conn_new_bev(struct event_base *base, void *arg)
{
    struct conn_port *p = arg;
    struct scepd_conns *c = p->c;
    struct scepd_conn *k = calloc(1, sizeof(*k));
    struct bufferevent *bev = NULL;

    if (k == NULL)
        goto fail;
    /* The options evhttp uses when it makes the bufferevent itself; the
     * descriptor is set by evhttp right after this returns. */
    if (p->ssl_ctx != NULL)
        bev = conn_tls_bev(base, p);
    else
        bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL)
        goto fail;
    /* Our reference keeps the bufferevent readable until conn_register
     * has looked at it, even if evhttp frees it first. */
    bufferevent_incref(bev);
    k->c = c;
    k->bev = bev;
    k->tls = p->ssl_ctx != NULL;
    conn_push(&c->conns_new, k);
    event_active(c->conn_ev, EV_READ, 0);
    c->nconns++;
    conn_set_open(c);
    atomic_fetch_add_explicit(&c->metrics->conns_accepted, 1, memory_order_relaxed);
    if (c->backoff_ms > SCEPD_ACCEPT_BACKOFF_MIN_MS)
        c->backoff_ms = SCEPD_ACCEPT_BACKOFF_MIN_MS; /* accepting works again */
    if (c->nconns >= c->max_connections && !(c->accept_off & CONN_ACCEPT_FULL)) {
        atomic_fetch_add_explicit(&c->metrics->accept_paused, 1, memory_order_relaxed);
        conn_accept_set(c, CONN_ACCEPT_FULL, 1);
    }
    return bev;
fail:
    /* evhttp makes a plain bufferevent of its own: served, but not
     * counted; on a TLS listener it then answers the ClientHello as a
     * malformed HTTP request and closes, so nothing is served in clear. */
    free(k);
    return NULL;
}

/* accept_timer: the pause after an accept error is over. */
static void conn_accept_resume(evutil_socket_t fd, short what, void *arg)
{
    struct scepd_conns *c = arg;

    (void)fd;
    (void)what;
    if (!c->stopping)
        conn_accept_set(c, CONN_ACCEPT_BACKOFF, 0);
}

/* The listener's error callback: accept(2) failed with a non-transient
 * error (libevent already ignores EAGAIN, EINTR and ECONNABORTED). */
static void conn_accept_error(struct evconnlistener *l, void *arg)
{
    int err = errno;
    struct scepd_conns *c = conn_registry_find(arg);
    time_t now = time(NULL);
    struct timeval tv;
    int pause;

    (void)l;
    if (c == NULL)
        return;
    atomic_fetch_add_explicit(&c->metrics->accept_errors, 1, memory_order_relaxed);
    pause = err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
    if (now != c->accept_err_logged) {
        char n[32];

        c->accept_err_logged = now;
        snprintf(n, sizeof(n), "%ld", c->nconns);
        scepd_log(SCEPD_WARN, pause ? "accept failed; pausing accepts" : "accept failed", "error",
                  strerror(err), "open_connections", n, NULL);
    }
    if (!pause || c->stopping)
        return;
    if (c->backoff_ms < SCEPD_ACCEPT_BACKOFF_MIN_MS)
        c->backoff_ms = SCEPD_ACCEPT_BACKOFF_MIN_MS;
    tv.tv_sec = c->backoff_ms / 1000;
    tv.tv_usec = (c->backoff_ms % 1000) * 1000;
    c->backoff_ms *= 2;
    if (c->backoff_ms > SCEPD_ACCEPT_BACKOFF_MAX_MS)
        c->backoff_ms = SCEPD_ACCEPT_BACKOFF_MAX_MS;
    /* If the timer cannot be armed, keep accepting: a busy loop beats a
     * listener that never comes back. */
    if (evtimer_add(c->accept_timer, &tv) == 0)
        conn_accept_set(c, CONN_ACCEPT_BACKOFF, 1);
}

/*
 * Makes one worker's accounting (see conn.h).  Returns 0 or -1; *out:
 * scepd_conns_free().
 */
int scepd_conns_new(struct event_base *base, int max_connections, int read_timeout,
                    struct scepd_metrics *m, struct scepd_connlimit *budget,
                    scepd_conns_drained_fn *drained, void *arg, struct scepd_conns **out)
{
    struct scepd_conns *c = NULL;
    int rc = -1;

    if (base == NULL || m == NULL || max_connections < 1 || read_timeout < 1)
        goto out;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        goto out;
    c->base = base;
    c->max_connections = max_connections;
    c->read_timeout = read_timeout;
    c->metrics = m;
    c->drained = drained;
    c->drained_arg = arg;
    c->backoff_ms = SCEPD_ACCEPT_BACKOFF_MIN_MS;
    c->conn_ev = event_new(base, -1, 0, conn_register, c);
    c->accept_timer = evtimer_new(base, conn_accept_resume, c);
    if (c->conn_ev == NULL || c->accept_timer == NULL)
        goto out;
    if (scepd_connguard_new(base, max_connections, m, budget, &c->guard) != 0)
        goto out;
    *out = c;
    c = NULL;
    rc = 0;
out:
    scepd_conns_free(c);
    return rc;
}

/*
 * Counts http's connections (see conn.h): makes their bufferevents
 * (TLS ones from ssl_ctx) and watches bound's accept errors.  Returns 0
 * or -1.
 */
int scepd_conns_attach(struct scepd_conns *c, struct evhttp *http,
                       struct evhttp_bound_socket *bound, SSL_CTX *ssl_ctx)
{
    struct evconnlistener *l = bound != NULL ? evhttp_bound_socket_get_listener(bound) : NULL;
    struct conn_port *p;

    if (c == NULL || http == NULL || l == NULL || c->nports >= SCEPD_CONNS_MAX_PORTS)
        return -1;
    if (conn_registry_add(http, c) != 0)
        return -1;
    p = &c->ports[c->nports++];
    p->c = c;
    p->http = http;
    p->l = l;
    p->ssl_ctx = ssl_ctx;
    evhttp_set_bevcb(http, conn_new_bev, p);
    evconnlistener_set_error_cb(l, conn_accept_error);
    if (c->accept_off != 0)
        evconnlistener_disable(l);
    return 0;
}

/*
 * A whole request has arrived on evcon (evhttp is calling the handler):
 * its deadline is met; the reply is bounded by evhttp's own timeout.
 */
void scepd_conns_request_begin(struct scepd_conns *c, struct evhttp_connection *evcon)
{
    struct scepd_conn *k = conn_find(c, evcon);

    if (k == NULL)
        return;
    if (k->deadline != NULL)
        evtimer_del(k->deadline);
    scepd_connguard_request(&k->guard);
}

/*
 * The reply on evcon has been written.  If the connection stays open for
 * another request, that one must arrive within read_timeout.  (When evhttp
 * closes the connection right after this, conn_closed frees the timer.)
 */
void scepd_conns_request_end(struct scepd_conns *c, struct evhttp_connection *evcon)
{
    struct scepd_conn *k = conn_find(c, evcon);

    if (k != NULL) {
        conn_arm_deadline(k);
        scepd_connguard_await(&k->guard);
    }
}

/*
 * hup: the socket of a connection whose reply is deferred became
 * readable.  evhttp reads nothing while a reply is owed, so this is the
 * only way to learn that the client gave up: a peek that sees the end of
 * the stream (or a reset) closes the connection, which runs the watcher
 * through conn_closed and frees k.  Bytes instead (a pipelined request,
 * a TLS record such as close_notify) cannot be told from a client that
 * is still there without reading them, which is evhttp's job: the watch
 * stops and the reply, bounded by its owner's timeout, finds out.
 */
static void conn_hup(evutil_socket_t fd, short what, void *arg)
{
    struct scepd_conn *k = arg;
    char b;
    ssize_t n;

    (void)what;
    n = recv(fd, &b, 1, MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n > 0) {
        event_del(k->hup);
        return;
    }
    if (scepd_log_enabled(SCEPD_DEBUG)) {
        char *addr = NULL;
        ev_uint16_t port = 0;

        evhttp_connection_get_peer(k->evcon, &addr, &port);
        scepd_log(SCEPD_DEBUG, "connection closed by the client before its deferred reply", "peer",
                  addr != NULL ? addr : "", NULL);
    }
    /* Frees k (and this event) through conn_closed. */
    evhttp_connection_free(k->evcon);
}

/*
 * Calls fn(arg) if evcon closes before scepd_conns_unwatch_close(): a
 * deferred reply (http.c) must learn that its connection is gone, be it
 * closed by us (shutdown, evhttp_free) or by the client (conn_hup).
 * While such a request waits, evhttp has disabled reading and has
 * nothing to write, so neither read_timeout's deadline (stopped by
 * scepd_conns_request_begin) nor the stop timeout fires on it: it stays
 * counted as open, and a stopping worker waits for it.  Returns 0, or -1
 * when evcon is not counted here (out of memory at accept) or already
 * watched.
 */
int scepd_conns_watch_close(struct scepd_conns *c, struct evhttp_connection *evcon,
                            scepd_conns_close_fn *fn, void *arg)
{
    struct scepd_conn *k = conn_find(c, evcon);
    struct bufferevent *bev = evcon != NULL ? evhttp_connection_get_bufferevent(evcon) : NULL;
    evutil_socket_t fd = bev != NULL ? bufferevent_getfd(bev) : -1;

    if (k == NULL || fn == NULL || k->on_close != NULL)
        return -1;
    k->on_close = fn;
    k->on_close_arg = arg;
    scepd_connguard_pin(&k->guard, 1);
    /* Without the hang-up watch a close by us is still noticed. */
    if (fd >= 0) {
        if (k->hup == NULL)
            k->hup = event_new(c->base, fd, EV_READ | EV_PERSIST, conn_hup, k);
        if (k->hup != NULL)
            event_add(k->hup, NULL);
    }
    return 0;
}

/* The deferred reply on evcon has been sent: no close callback any more. */
void scepd_conns_unwatch_close(struct scepd_conns *c, struct evhttp_connection *evcon)
{
    struct scepd_conn *k = conn_find(c, evcon);

    if (k != NULL) {
        k->on_close = NULL;
        k->on_close_arg = NULL;
        scepd_connguard_pin(&k->guard, 0);
        if (k->hup != NULL)
            event_del(k->hup);
    }
}

/* Connections open now. */
long scepd_conns_open(const struct scepd_conns *c)
{
    return c->nconns;
}

/* 1 once the accounting is stopping. */
int scepd_conns_stopping(const struct scepd_conns *c)
{
    return c->stopping;
}

/*
 * Stopping (see conn.h): forgets the listeners, which the caller deletes
 * next, and gives open connections the short stop timeout.
 */
void scepd_conns_stop(struct scepd_conns *c)
{
    struct scepd_conn *k;
    int i;

    c->stopping = 1;
    c->accept_off = 0;
    scepd_connguard_stop(c->guard);
    for (i = 0; i < c->nports; i++)
        c->ports[i].l = NULL;
    if (c->accept_timer != NULL)
        evtimer_del(c->accept_timer);
    for (k = c->conns; k != NULL; k = k->next)
        conn_stop_timeout(k->evcon);
}

/*
 * Releases c.  Call after evhttp_free() of every attached evhttp, which
 * closes the remaining connections through conn_closed.  Accepts NULL.
 */
void scepd_conns_free(struct scepd_conns *c)
{
    struct scepd_conn *k;

    if (c == NULL)
        return;
    conn_registry_remove(c);
    while ((k = c->conns_new) != NULL) {
        conn_unlink(&c->conns_new, k);
        bufferevent_decref(k->bev);
        free(k);
    }
    /* Empty once evhttp_free() has closed every connection. */
    while ((k = c->conns) != NULL) {
        conn_unlink(&c->conns, k);
        scepd_connguard_leave(&k->guard);
        if (k->deadline != NULL)
            event_free(k->deadline);
        if (k->hup != NULL)
            event_free(k->hup);
        free(k);
    }
    free(c->ht);
    if (c->conn_ev != NULL)
        event_free(c->conn_ev);
    if (c->accept_timer != NULL)
        event_free(c->accept_timer);
    scepd_connguard_free(c->guard);
    free(c);
}
