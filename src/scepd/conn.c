/*
 * scepd's connection accounting: how many connections each worker holds,
 * from accept to close, so that max_connections is a real limit and a
 * shutdown can wait for the requests that are still arriving.
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
 * When the count reaches max_connections the worker's listener is
 * disabled; the kernel queues further connections in the backlog until a
 * slot frees.
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
 * callback here disables the listener for a short, growing pause
 * instead, counts the failure and logs it at most once a second.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "scepd.h"

/*
 * The listener's callbacks get the evhttp as their argument (evhttp
 * installs its accept callback with it, and libevent has one argument
 * for both), so the error callback finds its worker here.  Written by
 * scepd_conn_init before the worker threads start, read-only afterwards.
 */
static struct scepd_worker *conn_workers[SCEP_MAX_WORKERS];

/* One counted connection.  While on w->conns_new, bev holds our reference
 * and evcon is NULL; once on w->conns, evcon is set and bev is NULL. */
struct scepd_conn {
    struct scepd_worker *w;
    struct bufferevent *bev;
    struct evhttp_connection *evcon;
    struct event *deadline; /* read_timeout; pending while a request is awaited */
    struct scepd_conn *prev, *next;
    struct scepd_conn *hnext; /* w->conn_ht chain */
};

/* ---- hooked connections by evhttp_connection pointer ---------------- */

static size_t
conn_hash(const struct evhttp_connection *evcon, size_t cap)
{
    uintptr_t p = (uintptr_t)evcon;

    /* Allocations are 16-byte aligned: the low bits say nothing. */
    return (size_t)((p >> 4) ^ (p >> 12)) & (cap - 1);
}

/* Doubles the table (or makes it) once it holds as many entries as
 * slots; on allocation failure the chains just grow longer. */
static void
conn_ht_grow(struct scepd_worker *w)
{
    size_t cap = w->conn_htcap != 0 ? w->conn_htcap * 2 : 64, i;
    struct scepd_conn **ht = calloc(cap, sizeof(*ht));

    if (ht == NULL)
        return;
    for (i = 0; i < w->conn_htcap; i++) {
        struct scepd_conn *c = w->conn_ht[i], *next;

        for (; c != NULL; c = next) {
            size_t h = conn_hash(c->evcon, cap);

            next = c->hnext;
            c->hnext = ht[h];
            ht[h] = c;
        }
    }
    free(w->conn_ht);
    w->conn_ht = ht;
    w->conn_htcap = cap;
}

/* Returns 0, or -1 when there is no table at all (out of memory). */
static int
conn_ht_add(struct scepd_worker *w, struct scepd_conn *c)
{
    size_t h;

    if ((size_t)w->nconns >= w->conn_htcap)
        conn_ht_grow(w);
    if (w->conn_htcap == 0)
        return -1;
    h = conn_hash(c->evcon, w->conn_htcap);
    c->hnext = w->conn_ht[h];
    w->conn_ht[h] = c;
    return 0;
}

static void
conn_ht_del(struct scepd_worker *w, struct scepd_conn *c)
{
    struct scepd_conn **pp;

    if (w->conn_htcap == 0)
        return;
    for (pp = &w->conn_ht[conn_hash(c->evcon, w->conn_htcap)]; *pp != NULL; pp = &(*pp)->hnext) {
        if (*pp == c) {
            *pp = c->hnext;
            break;
        }
    }
    c->hnext = NULL;
}

static struct scepd_conn *
conn_find(struct scepd_worker *w, const struct evhttp_connection *evcon)
{
    struct scepd_conn *c;

    if (w->conn_htcap == 0 || evcon == NULL)
        return NULL;
    for (c = w->conn_ht[conn_hash(evcon, w->conn_htcap)]; c != NULL; c = c->hnext)
        if (c->evcon == evcon)
            return c;
    return NULL;
}

/* ---- counting -------------------------------------------------------- */

static void
conn_unlink(struct scepd_conn **head, struct scepd_conn *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        *head = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

static void
conn_push(struct scepd_conn **head, struct scepd_conn *c)
{
    c->prev = NULL;
    c->next = *head;
    if (*head != NULL)
        (*head)->prev = c;
    *head = c;
}

static struct evconnlistener *
conn_listener(struct scepd_worker *w)
{
    return w->bound != NULL ? evhttp_bound_socket_get_listener(w->bound) : NULL;
}

/* Turns accepting on or off for reason bit why. */
static void
conn_accept_set(struct scepd_worker *w, unsigned why, int off)
{
    struct evconnlistener *l = conn_listener(w);
    unsigned before = w->accept_off;

    if (off)
        w->accept_off |= why;
    else
        w->accept_off &= ~why;
    if (l == NULL || (before != 0) == (w->accept_off != 0))
        return;
    if (w->accept_off != 0)
        evconnlistener_disable(l);
    else
        evconnlistener_enable(l);
}

/* A connection is gone: uncount it, maybe accept again, maybe finish. */
static void
conn_gone(struct scepd_worker *w)
{
    if (w->nconns > 0)
        w->nconns--;
    atomic_store_explicit(&w->metrics.conns_open, w->nconns, memory_order_relaxed);
    if (!w->stopping && (w->accept_off & SCEPD_ACCEPT_FULL) &&
        w->nconns < w->srv->cfg->max_connections)
        conn_accept_set(w, SCEPD_ACCEPT_FULL, 0);
    scepd_worker_maybe_finish(w);
}

/* evhttp's close callback for a hooked connection. */
static void
conn_closed(struct evhttp_connection *evcon, void *arg)
{
    struct scepd_conn *c = arg;
    struct scepd_worker *w = c->w;

    /* Never twice: evhttp may reset a connection and free it later. */
    evhttp_connection_set_closecb(evcon, NULL, NULL);
    conn_ht_del(w, c);
    conn_unlink(&w->conns, c);
    if (c->deadline != NULL)
        event_free(c->deadline);
    free(c);
    conn_gone(w);
}

/* A connection's read deadline passed with no whole request. */
static void
conn_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct scepd_conn *c = arg;

    (void)fd;
    (void)what;
    atomic_fetch_add_explicit(&c->w->metrics.read_deadlines, 1, memory_order_relaxed);
    if (scepd_log_enabled(SCEPD_DEBUG)) {
        char *addr = NULL;
        ev_uint16_t port = 0;

        evhttp_connection_get_peer(c->evcon, &addr, &port);
        scepd_log(SCEPD_DEBUG, "connection closed: no whole request within read_timeout",
                  "peer", addr != NULL ? addr : "", NULL);
    }
    /* Frees c through conn_closed. */
    evhttp_connection_free(c->evcon);
}

static void
conn_arm_deadline(struct scepd_conn *c)
{
    struct timeval tv = {c->w->srv->cfg->read_timeout, 0};

    if (c->deadline != NULL)
        evtimer_add(c->deadline, &tv);
}

static void
conn_stop_timeout(struct evhttp_connection *evcon)
{
    /* Applies at once: evhttp hands it to the bufferevent, whose read and
     * write timeouts restart on every byte of progress. */
    evhttp_connection_set_timeout(evcon, SCEPD_STOP_IDLE_SECONDS);
}

/* conn_ev: hooks the close of every connection evhttp has just made. */
static void
conn_register(evutil_socket_t fd, short what, void *arg)
{
    struct scepd_worker *w = arg;
    struct scepd_conn *c;

    (void)fd;
    (void)what;
    while ((c = w->conns_new) != NULL) {
        bufferevent_data_cb rd = NULL, wr = NULL;
        bufferevent_event_cb ev = NULL;
        void *cbarg = NULL;
        struct bufferevent *bev = c->bev;

        conn_unlink(&w->conns_new, c);
        c->bev = NULL;
        /* evhttp sets its bufferevent callbacks with the connection as
         * their argument; bufferevent_free() clears them, so no event
         * callback means evhttp already let go of the connection. */
        bufferevent_getcb(bev, &rd, &wr, &ev, &cbarg);
        if (ev != NULL && cbarg != NULL) {
            c->evcon = cbarg;
            conn_push(&w->conns, c);
            evhttp_connection_set_closecb(c->evcon, conn_closed, c);
            /* Without a table entry or a timer the connection is still
             * counted and closed by evhttp's inactivity timeout. */
            if (conn_ht_add(w, c) == 0) {
                c->deadline = evtimer_new(w->base, conn_deadline, c);
                conn_arm_deadline(c);
            }
            if (w->stopping)
                conn_stop_timeout(c->evcon);
            bufferevent_decref(bev);
        } else {
            free(c);
            bufferevent_decref(bev);
            conn_gone(w);
        }
    }
}

/* evhttp's bufferevent callback: one new connection on this worker. */
static struct bufferevent *
conn_new_bev(struct event_base *base, void *arg)
{
    struct scepd_worker *w = arg;
    struct scepd_conn *c = calloc(1, sizeof(*c));
    struct bufferevent *bev = NULL;

    if (c == NULL)
        goto fail;
    /* The options evhttp uses when it makes the bufferevent itself; the
     * descriptor is set by evhttp right after this returns. */
    bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL)
        goto fail;
    /* Our reference keeps the bufferevent readable until conn_register
     * has looked at it, even if evhttp frees it first. */
    bufferevent_incref(bev);
    c->w = w;
    c->bev = bev;
    conn_push(&w->conns_new, c);
    event_active(w->conn_ev, EV_READ, 0);
    w->nconns++;
    atomic_store_explicit(&w->metrics.conns_open, w->nconns, memory_order_relaxed);
    atomic_fetch_add_explicit(&w->metrics.conns_accepted, 1, memory_order_relaxed);
    if (w->backoff_ms > SCEPD_ACCEPT_BACKOFF_MIN_MS)
        w->backoff_ms = SCEPD_ACCEPT_BACKOFF_MIN_MS; /* accepting works again */
    if (w->nconns >= w->srv->cfg->max_connections && !(w->accept_off & SCEPD_ACCEPT_FULL)) {
        atomic_fetch_add_explicit(&w->metrics.accept_paused, 1, memory_order_relaxed);
        conn_accept_set(w, SCEPD_ACCEPT_FULL, 1);
    }
    return bev;
fail:
    /* evhttp makes a bufferevent of its own: served, but not counted. */
    free(c);
    return NULL;
}

/* accept_timer: the pause after an accept error is over. */
static void
conn_accept_resume(evutil_socket_t fd, short what, void *arg)
{
    struct scepd_worker *w = arg;

    (void)fd;
    (void)what;
    if (!w->stopping)
        conn_accept_set(w, SCEPD_ACCEPT_BACKOFF, 0);
}

/* The listener's error callback: accept(2) failed with a non-transient
 * error (libevent already ignores EAGAIN, EINTR and ECONNABORTED). */
static void
conn_accept_error(struct evconnlistener *l, void *arg)
{
    struct scepd_worker *w = NULL;
    int err = errno;
    time_t now = time(NULL);
    struct timeval tv;
    int i, pause;

    (void)l;
    for (i = 0; i < SCEP_MAX_WORKERS && w == NULL; i++)
        if (conn_workers[i] != NULL && conn_workers[i]->http == arg)
            w = conn_workers[i];
    if (w == NULL)
        return;
    atomic_fetch_add_explicit(&w->metrics.accept_errors, 1, memory_order_relaxed);
    pause = err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
    if (now != w->accept_err_logged) {
        char n[32];

        w->accept_err_logged = now;
        snprintf(n, sizeof(n), "%ld", w->nconns);
        scepd_log(SCEPD_WARN, pause ? "accept failed; pausing accepts" : "accept failed",
                  "error", strerror(err), "open_connections", n, NULL);
    }
    if (!pause || w->stopping)
        return;
    if (w->backoff_ms < SCEPD_ACCEPT_BACKOFF_MIN_MS)
        w->backoff_ms = SCEPD_ACCEPT_BACKOFF_MIN_MS;
    tv.tv_sec = w->backoff_ms / 1000;
    tv.tv_usec = (w->backoff_ms % 1000) * 1000;
    w->backoff_ms *= 2;
    if (w->backoff_ms > SCEPD_ACCEPT_BACKOFF_MAX_MS)
        w->backoff_ms = SCEPD_ACCEPT_BACKOFF_MAX_MS;
    /* If the timer cannot be armed, keep accepting: a busy loop beats a
     * listener that never comes back. */
    if (evtimer_add(w->accept_timer, &tv) == 0)
        conn_accept_set(w, SCEPD_ACCEPT_BACKOFF, 1);
}

/*
 * Hooks connection counting into w->http and w->bound (see the top of
 * this file).  Returns 0, or -1 when its events cannot be made (the
 * caller frees w, and scepd_conn_free releases what was made).
 */
int
scepd_conn_init(struct scepd_worker *w)
{
    struct evconnlistener *l = conn_listener(w);

    if (w->id < 0 || w->id >= SCEP_MAX_WORKERS)
        return -1;
    conn_workers[w->id] = w;
    w->backoff_ms = SCEPD_ACCEPT_BACKOFF_MIN_MS;
    w->conn_ev = event_new(w->base, -1, 0, conn_register, w);
    w->accept_timer = evtimer_new(w->base, conn_accept_resume, w);
    if (w->conn_ev == NULL || w->accept_timer == NULL || l == NULL)
        return -1;
    evhttp_set_bevcb(w->http, conn_new_bev, w);
    evconnlistener_set_error_cb(l, conn_accept_error);
    return 0;
}

/*
 * A whole request has arrived on evcon (evhttp is calling the handler):
 * its deadline is met; the reply is bounded by evhttp's own timeout.
 */
void
scepd_conn_request_begin(struct scepd_worker *w, struct evhttp_connection *evcon)
{
    struct scepd_conn *c = conn_find(w, evcon);

    if (c != NULL && c->deadline != NULL)
        evtimer_del(c->deadline);
}

/*
 * The reply on evcon has been written.  If the connection stays open for
 * another request, that one must arrive within read_timeout.  (When evhttp
 * closes the connection right after this, conn_closed frees the timer.)
 */
void
scepd_conn_request_end(struct scepd_worker *w, struct evhttp_connection *evcon)
{
    struct scepd_conn *c = conn_find(w, evcon);

    if (c != NULL)
        conn_arm_deadline(c);
}

/*
 * The worker is stopping and its listener is gone: connections still
 * open get the short stop timeout, so that idle ones close soon while a
 * request still arriving, or a reply still leaving, carries on.
 */
void
scepd_conn_stop(struct scepd_worker *w)
{
    struct scepd_conn *c;

    w->accept_off = 0;
    if (w->accept_timer != NULL)
        evtimer_del(w->accept_timer);
    for (c = w->conns; c != NULL; c = c->next)
        conn_stop_timeout(c->evcon);
}

/*
 * Releases what conn.c holds.  Call after evhttp_free(w->http), which
 * closes the remaining connections through conn_closed.
 */
void
scepd_conn_free(struct scepd_worker *w)
{
    struct scepd_conn *c;

    while ((c = w->conns_new) != NULL) {
        conn_unlink(&w->conns_new, c);
        bufferevent_decref(c->bev);
        free(c);
    }
    /* Empty once evhttp_free() has closed every connection. */
    while ((c = w->conns) != NULL) {
        conn_unlink(&w->conns, c);
        if (c->deadline != NULL)
            event_free(c->deadline);
        free(c);
    }
    free(w->conn_ht);
    w->conn_ht = NULL;
    w->conn_htcap = 0;
    if (w->id >= 0 && w->id < SCEP_MAX_WORKERS && conn_workers[w->id] == w)
        conn_workers[w->id] = NULL;
    if (w->conn_ev != NULL)
        event_free(w->conn_ev);
    if (w->accept_timer != NULL)
        event_free(w->accept_timer);
    w->conn_ev = NULL;
    w->accept_timer = NULL;
    w->nconns = 0;
}
