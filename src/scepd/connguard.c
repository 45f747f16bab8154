/*
 * scepd's defences of a worker's connections (connguard.h).
 *
 * Per client: conn.c joins each connection right after evhttp has set
 * it up, before its first poll, so a refusal costs an accept and a
 * close.  Idle connections sit on a list ordered by how long they have
 * waited (a connection joins it at the tail when it opens and after
 * each reply, and leaves it at its first byte), so the longest idle is
 * its head.  Memory: an evbuffer callback on each connection's input
 * adds what is read while a request is awaited to the process's total
 * (connlimit.h); evhttp moves the headers into its own lists and the
 * body into the request's buffer, which frees nothing until the request
 * is whole, so that is what the request holds.  That callback runs
 * inside the bufferevent's read, where closing the connection is not
 * safe: going over the limit only makes shed_ev active, here and, once
 * per excursion, on every worker.
 */
#include "connguard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>

#include <openssl/ssl.h>

#include "scepd.h"

struct scepd_connguard {
    struct event_base *base;
    long busy_at; /* three quarters of max_connections */
    struct scepd_metrics *metrics;
    struct scepd_connlimit *budget; /* NULL: none */
    struct event *busy_timer;
    struct event *shed_ev;
    struct scepd_guarded *all; /* every joined connection */
    long n;                    /* how many */
    struct scepd_guarded *idle_head, *idle_tail;
    unsigned long tick; /* scepd_connguard_batch() calls */
    size_t held;        /* bytes of this worker's partial requests */
    int stopping;
    /* At most one log line a second each: when, and how many since. */
    time_t refused_logged, shed_logged;
    unsigned long refused_unlogged, shed_unlogged;
};

static int64_t guard_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* gc awaits a request of which nothing has come: to the idle list's
 * tail, which keeps the list ordered by since_ms. */
static void guard_idle_add(struct scepd_guarded *gc)
{
    struct scepd_connguard *g = gc->g;

    if (gc->idle)
        return;
    gc->idle = 1;
    gc->inext = NULL;
    gc->iprev = g->idle_tail;
    if (g->idle_tail != NULL)
        g->idle_tail->inext = gc;
    else
        g->idle_head = gc;
    g->idle_tail = gc;
}

static void guard_idle_del(struct scepd_guarded *gc)
{
    struct scepd_connguard *g = gc->g;

    if (!gc->idle)
        return;
    gc->idle = 0;
    if (gc->iprev != NULL)
        gc->iprev->inext = gc->inext;
    else
        g->idle_head = gc->inext;
    if (gc->inext != NULL)
        gc->inext->iprev = gc->iprev;
    else
        g->idle_tail = gc->iprev;
    gc->iprev = gc->inext = NULL;
}

/* gc's partial request no longer holds memory (it is whole, or gone). */
static void guard_release_held(struct scepd_guarded *gc)
{
    if (gc->held == 0)
        return;
    (void)scepd_connlimit_hold(gc->g->budget, -(long)gc->held);
    gc->g->held -= gc->held;
    gc->held = 0;
}

/* The connection's input grew: while a request is awaited, it holds
 * what was read (see the top of this file). */
static void guard_in_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    struct scepd_guarded *gc = arg;
    struct scepd_connguard *g = gc->g;

    (void)buf;
    if (info->n_added == 0 || !gc->awaiting)
        return;
    guard_idle_del(gc);
    gc->held += info->n_added;
    g->held += info->n_added;
    if (scepd_connlimit_hold(g->budget, (long)info->n_added)) {
        event_active(g->shed_ev, EV_READ, 0);
        scepd_connlimit_alarm(g->budget);
    }
}

/* Closes gc's connection: evhttp calls conn.c's close callback, which
 * calls scepd_connguard_leave(gc); gc is gone when this returns. */
static void guard_close(struct scepd_guarded *gc)
{
    evhttp_connection_free(gc->evcon);
}

/* A 503 for a client whose partial request is dropped, written straight
 * to the socket: evhttp has no request to answer yet.  Plain HTTP only
 * (a TLS connection just closes), and best effort: the socket is
 * non-blocking and the reply fits any send buffer. */
static void guard_send_503(struct scepd_guarded *gc)
{
    static const char body[] = "server busy: too many requests arriving at once, retry\n";
    evutil_socket_t fd = bufferevent_getfd(gc->bev);
    char reply[256];
    int n;

    if (gc->tls || fd < 0)
        return;
    n = snprintf(reply, sizeof(reply),
                 "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                 "Content-Length: %zu\r\nRetry-After: 5\r\nConnection: close\r\n\r\n%s",
                 sizeof(body) - 1, body);
    if (n > 0 && (size_t)n < sizeof(reply))
        (void)send(fd, reply, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* Orders shedding victims: the most held first, then the oldest. */
static int guard_cmp_held(const void *a, const void *b)
{
    const struct scepd_guarded *x = *(const struct scepd_guarded *const *)a;
    const struct scepd_guarded *y = *(const struct scepd_guarded *const *)b;

    if (x->held != y->held)
        return x->held > y->held ? -1 : 1;
    return x->since_ms < y->since_ms ? -1 : x->since_ms > y->since_ms;
}

/*
 * g's connections holding memory for a partial request, the most (then
 * the oldest) first, in a new array; *n their number.  Returns the
 * array (free()) or NULL (none, or no memory: nothing is shed then).
 */
static struct scepd_guarded **guard_pick_held(struct scepd_connguard *g, size_t *n)
{
    struct scepd_guarded **v, *gc;
    size_t i = 0;

    *n = 0;
    if (g->n <= 0 || (v = calloc((size_t)g->n, sizeof(*v))) == NULL)
        return NULL;
    for (gc = g->all; gc != NULL && i < (size_t)g->n; gc = gc->next)
        if (gc->awaiting && gc->held > 0 && !gc->pinned)
            v[i++] = gc;
    if (i == 0) {
        free(v);
        return NULL;
    }
    qsort(v, i, sizeof(*v), guard_cmp_held);
    *n = i;
    return v;
}

/* One line a second at most about shed connections. */
static void guard_log_shed(struct scepd_connguard *g, unsigned long n)
{
    time_t now = time(NULL);
    char num[32];

    g->shed_unlogged += n;
    if (now == g->shed_logged || g->shed_unlogged == 0)
        return;
    g->shed_logged = now;
    snprintf(num, sizeof(num), "%lu", g->shed_unlogged);
    scepd_log(SCEPD_WARN, "connections closed: partial requests hold too much memory", "closed",
              num, NULL);
    g->shed_unlogged = 0;
}

/*
 * shed_ev: the requests still arriving hold more than max_header_memory
 * in the process.  Each worker closes its own connections holding the
 * most (then the oldest) until it holds no more than its share of three
 * quarters of the limit, answering 503 where it can: a client with big
 * partial requests loses them, while a new request, which holds
 * little, goes on.
 */
static void guard_shed(evutil_socket_t fd, short what, void *arg)
{
    struct scepd_connguard *g = arg;
    size_t max = scepd_connlimit_max_memory(g->budget), low = max / 4 * 3, share, n = 0, i;
    struct scepd_guarded **v;
    unsigned long closed = 0;

    (void)fd;
    (void)what;
    if (max == 0 || g->stopping || scepd_connlimit_held(g->budget) <= low)
        return;
    share = low / (size_t)scepd_connlimit_watchers(g->budget);
    if (g->held <= share)
        return;
    v = guard_pick_held(g, &n);
    for (i = 0; i < n && g->held > share && scepd_connlimit_held(g->budget) > low; i++) {
        guard_send_503(v[i]);
        atomic_fetch_add_explicit(&g->metrics->conns_shed_memory, 1, memory_order_relaxed);
        closed++;
        /* Lets its memory go through scepd_connguard_leave. */
        guard_close(v[i]);
    }
    free(v);
    if (closed > 0)
        guard_log_shed(g, closed);
}

/* The process's budget went over its memory limit (any thread): this
 * worker sheds its share on its own thread. */
static void guard_wake(void *arg)
{
    struct scepd_connguard *g = arg;

    event_active(g->shed_ev, EV_READ, 0);
}

static void guard_busy_arm(struct scepd_connguard *g)
{
    struct timeval tv = {0, SCEPD_BUSY_SWEEP_MS * 1000};

    if (!g->stopping && g->n >= g->busy_at && !evtimer_pending(g->busy_timer, NULL))
        evtimer_add(g->busy_timer, &tv);
}

/*
 * busy_timer: while the worker is three quarters full, connections idle
 * for SCEPD_BUSY_IDLE_MS are closed, the longest idle first, until it
 * is below that again: for when no new connection comes to make room
 * (accepting paused at max_connections).
 */
static void guard_busy(evutil_socket_t fd, short what, void *arg)
{
    struct scepd_connguard *g = arg;
    int64_t now = guard_now_ms();
    struct scepd_guarded *gc, *next;
    unsigned long closed = 0;

    (void)fd;
    (void)what;
    if (g->stopping || g->n < g->busy_at)
        return;
    for (gc = g->idle_head; gc != NULL && g->n >= g->busy_at; gc = next) {
        next = gc->inext;
        if (now - gc->since_ms < SCEPD_BUSY_IDLE_MS)
            break; /* the rest are younger */
        if (gc->pinned)
            continue;
        atomic_fetch_add_explicit(&g->metrics->conns_shed_idle, 1, memory_order_relaxed);
        closed++;
        guard_close(gc); /* next stays */
    }
    if (closed > 0 && scepd_log_enabled(SCEPD_DEBUG)) {
        char num[32];

        snprintf(num, sizeof(num), "%lu", closed);
        scepd_log(SCEPD_DEBUG, "idle connections closed: the worker is nearly full", "closed", num,
                  NULL);
    }
    guard_busy_arm(g);
}

/*
 * Whether idle gc may be closed to make room: nothing of a request waits
 * unread in the kernel (a client whose request came after the last
 * poll), and a TLS handshake under way (its bytes are not a request's)
 * has had SCEPD_BUSY_IDLE_MS.
 */
static int guard_evictable(struct scepd_guarded *gc, int64_t now)
{
    evutil_socket_t fd = bufferevent_getfd(gc->bev);
    int unread = 0;

    if (gc->pinned || fd < 0)
        return 0;
    if (ioctl(fd, FIONREAD, &unread) != 0 || unread > 0)
        return 0;
    if (gc->tls && now - gc->since_ms < SCEPD_BUSY_IDLE_MS) {
        SSL *ssl = bufferevent_openssl_get_ssl(gc->bev);

        if (ssl == NULL || !SSL_is_init_finished(ssl))
            return 0;
    }
    return 1;
}

/*
 * A worker three quarters full accepted a connection: the one idle the
 * longest makes room for it, so that idle sockets cannot take every
 * slot and pause accepting while clients wait in the listen queue.
 * Spared: connections joined in this batch (not polled yet, so no byte
 * of theirs can have been read) and those guard_evictable() spares; a
 * few are looked at from the head of the idle list, so this costs a
 * few system calls at most.
 */
static void guard_evict_idle(struct scepd_connguard *g)
{
    int64_t now = guard_now_ms();
    struct scepd_guarded *gc;
    int tries = 0;

    for (gc = g->idle_head; gc != NULL && gc->tick != g->tick && tries < SCEPD_BUSY_EVICT_TRIES;
         gc = gc->inext, tries++) {
        if (guard_evictable(gc, now)) {
            atomic_fetch_add_explicit(&g->metrics->conns_shed_idle, 1, memory_order_relaxed);
            guard_close(gc);
            return;
        }
    }
}

/*
 * Whether gc's client may hold another connection.  A refusal is
 * counted, and logged at most once a second per worker with the number
 * refused since: under attack a line per refused socket would be a
 * second attack.
 */
static int guard_admit(struct scepd_connguard *g, struct scepd_guarded *gc)
{
    struct scepd_logline l;
    char *addr = NULL;
    ev_uint16_t port = 0;
    time_t now;

    if (scepd_connlimit_per_client(g->budget) == 0)
        return 1;
    evhttp_connection_get_peer(gc->evcon, &addr, &port);
    if (scepd_connlimit_take(g->budget, addr, gc->key))
        return 1;
    atomic_fetch_add_explicit(&g->metrics->conns_refused_per_client, 1, memory_order_relaxed);
    g->refused_unlogged++;
    now = time(NULL);
    if (now != g->refused_logged) {
        g->refused_logged = now;
        scepd_log_begin(&l, SCEPD_WARN, "connection refused: too many from one client");
        scepd_log_str(&l, "peer", addr != NULL ? addr : "");
        scepd_log_int(&l, "max_connections_per_client", scepd_connlimit_per_client(g->budget));
        scepd_log_int(&l, "refused", (long long)g->refused_unlogged);
        scepd_log_end(&l);
        g->refused_unlogged = 0;
    }
    return 0;
}

/* Makes a worker's guard (see connguard.h).  *out:
 * scepd_connguard_free(). */
int scepd_connguard_new(struct event_base *base, int max_connections, struct scepd_metrics *m,
                        struct scepd_connlimit *budget, struct scepd_connguard **out)
{
    struct scepd_connguard *g = NULL;
    int rc = -1;

    if (base == NULL || m == NULL || max_connections < 1)
        goto out;
    if ((g = calloc(1, sizeof(*g))) == NULL)
        goto out;
    g->base = base;
    g->busy_at = max_connections - max_connections / 4;
    g->metrics = m;
    g->busy_timer = evtimer_new(base, guard_busy, g);
    g->shed_ev = event_new(base, -1, 0, guard_shed, g);
    if (g->busy_timer == NULL || g->shed_ev == NULL)
        goto out;
    if (budget != NULL && scepd_connlimit_watch(budget, guard_wake, g) != 0)
        goto out;
    g->budget = budget;
    *out = g;
    g = NULL;
    rc = 0;
out:
    scepd_connguard_free(g);
    return rc;
}

/* Frees g (its connections have left).  Accepts NULL. */
void scepd_connguard_free(struct scepd_connguard *g)
{
    if (g == NULL)
        return;
    /* First: another worker's alarm must not wake a freed event. */
    if (g->budget != NULL)
        scepd_connlimit_unwatch(g->budget, guard_wake, g);
    if (g->busy_timer != NULL)
        event_free(g->busy_timer);
    if (g->shed_ev != NULL)
        event_free(g->shed_ev);
    free(g);
}

void scepd_connguard_batch(struct scepd_connguard *g)
{
    g->tick++;
}

/* Joins a new connection, or refuses it (see connguard.h). */
int scepd_connguard_join(struct scepd_connguard *g, struct scepd_guarded *gc,
                         struct evhttp_connection *evcon, struct bufferevent *bev, int tls)
{
    memset(gc, 0, sizeof(*gc));
    gc->evcon = evcon;
    gc->bev = bev;
    gc->tls = tls;
    if (!guard_admit(g, gc)) {
        memset(gc, 0, sizeof(*gc));
        return 0;
    }
    gc->g = g;
    gc->tick = g->tick;
    gc->next = g->all;
    if (g->all != NULL)
        g->all->prev = gc;
    g->all = gc;
    g->n++;
    /* Without the callback its partial requests are bounded by
     * SCEP_MAX_HEADERS and max_body alone. */
    gc->in = bufferevent_get_input(bev);
    if (g->budget != NULL && gc->in != NULL)
        gc->in_cb = evbuffer_add_cb(gc->in, guard_in_cb, gc);
    scepd_connguard_await(gc);
    if (!g->stopping && g->n >= g->busy_at)
        guard_evict_idle(g);
    guard_busy_arm(g);
    return 1;
}

/* gc's connection is closing: it lets go of everything it counted. */
void scepd_connguard_leave(struct scepd_guarded *gc)
{
    struct scepd_connguard *g = gc->g;

    if (g == NULL)
        return;
    /* The bufferevent outlives this call; its input must not call us
     * once gc is gone. */
    if (gc->in_cb != NULL)
        evbuffer_remove_cb_entry(gc->in, gc->in_cb);
    guard_release_held(gc);
    guard_idle_del(gc);
    scepd_connlimit_release(g->budget, gc->key);
    if (gc->prev != NULL)
        gc->prev->next = gc->next;
    else
        g->all = gc->next;
    if (gc->next != NULL)
        gc->next->prev = gc->prev;
    g->n--;
    memset(gc, 0, sizeof(*gc));
}

/* A whole request arrived: evhttp owns what was read; it goes with the
 * request. */
void scepd_connguard_request(struct scepd_guarded *gc)
{
    if (gc->g == NULL)
        return;
    gc->awaiting = 0;
    guard_idle_del(gc);
    guard_release_held(gc);
}

/* The next request is awaited from now. */
void scepd_connguard_await(struct scepd_guarded *gc)
{
    if (gc->g == NULL || gc->idle)
        return;
    gc->awaiting = 1;
    gc->since_ms = guard_now_ms();
    guard_idle_add(gc);
}

void scepd_connguard_pin(struct scepd_guarded *gc, int pinned)
{
    gc->pinned = pinned;
}

void scepd_connguard_stop(struct scepd_connguard *g)
{
    g->stopping = 1;
    evtimer_del(g->busy_timer);
}
