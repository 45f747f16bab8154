/*
 * scepd's worker threads (worker.h).  Each worker runs one event loop;
 * the main thread reaches it only through events it makes active (stop,
 * stop now) and event_base_once (CA swap), which evthread_use_pthreads()
 * makes safe from another thread, so nothing here is locked.
 *
 * Stopping: the first stop makes the connection accounting forget the
 * listeners, closes this worker's dups of the listening sockets and
 * waits until the accounting reports the last connection closed (or the
 * drain time is over); a second stop leaves at once.  A request waiting
 * for a deferred reply (a webhook) keeps its connection open, so the
 * drain waits for it too, bounded by the webhook's timeout; one still
 * waiting when the drain time is over is aborted by scepd_worker_free()
 * (its transfer cancelled, its connection closed without a reply).
 */
#include "worker.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include <scep/error.h>

#include "conn.h"
#include "fetch.h"
#include "http.h"
#include "limits.h"
#include "scepd.h"
#include "ca/ca.h"
#include "service/service.h"
#include "store/store.h"

/* Listeners one worker serves (listen and tls_listen today). */
#define WORKER_MAX_LISTENERS SCEPD_CONNS_MAX_PORTS

struct scepd_worker {
    int id;
    const struct scepd_server *srv;
    pthread_t thread;
    int thread_started;
    struct event_base *base;
    struct scepd_http *http[WORKER_MAX_LISTENERS];
    int nhttp;
    struct scepd_conns *conns;
    struct event *stop_ev;
    struct event *now_ev; /* second signal: leave without draining */
    struct event *drain_timer;
    struct scep_store *store;
    struct scep_service *svc;
    struct scepd_fetcher *fetcher;
    struct scepd_app app;
    int stopping;
    scepd_worker_exit_fn *on_exit;
    void *on_exit_arg;
    struct scepd_metrics metrics;
};

static void worker_finish(struct scepd_worker *w)
{
    event_base_loopbreak(w->base);
}

/* conn.c: the worker is stopping and its last connection has closed. */
static void worker_drained(void *arg)
{
    worker_finish(arg);
}

static void worker_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct scepd_worker *w = arg;
    char n[32];

    (void)fd;
    (void)what;
    snprintf(n, sizeof(n), "%ld", scepd_conns_open(w->conns));
    scepd_log(SCEPD_WARN, "shutdown: drain time is over, closing connections", "open", n, NULL);
    worker_finish(w);
}

/* The stop event, made active by main on the first SIGTERM/SIGINT. */
static void worker_stop_cb(evutil_socket_t fd, short what, void *arg)
{
    struct scepd_worker *w = arg;
    const struct scep_config *cfg = w->srv->cfg;
    struct timeval tv = {
        cfg->read_timeout > cfg->write_timeout ? cfg->read_timeout : cfg->write_timeout, 0};
    int i;

    (void)fd;
    (void)what;
    if (w->stopping)
        return;
    w->stopping = 1;
    /* The accounting forgets the listeners before they go. */
    scepd_conns_stop(w->conns);
    /* Closes this worker's dups of the listening sockets. */
    for (i = 0; i < w->nhttp; i++)
        scepd_http_unbind(w->http[i]);
    if (scepd_conns_open(w->conns) == 0) {
        worker_finish(w);
        return;
    }
    {
        char n[32];

        snprintf(n, sizeof(n), "%ld", scepd_conns_open(w->conns));
        scepd_log(SCEPD_DEBUG, "shutdown: waiting for connections", "open", n, NULL);
    }
    w->drain_timer = evtimer_new(w->base, worker_drain_timeout, w);
    if (w->drain_timer == NULL || evtimer_add(w->drain_timer, &tv) != 0)
        worker_finish(w);
}

/* The second SIGTERM/SIGINT: leave now, closing what is still open. */
static void worker_stop_now_cb(evutil_socket_t fd, short what, void *arg)
{
    struct scepd_worker *w = arg;

    (void)fd;
    (void)what;
    w->stopping = 1;
    worker_finish(w);
}

static void *worker_main(void *arg)
{
    struct scepd_worker *w = arg;

    event_base_dispatch(w->base);
    if (w->on_exit != NULL)
        w->on_exit(w->on_exit_arg);
    return NULL;
}

/*
 * A worker's event base.  With epoll, the changelist folds the changes
 * made to a descriptor between two polls into one epoll_ctl call (a
 * keep-alive connection switches between reading and writing at every
 * request), which halves those system calls.  Its one caveat, a
 * descriptor closed and dup()ed between two polls, does not happen
 * here: conn.c closes through libevent.  Returns NULL on failure.
 */
static struct event_base *worker_base_new(void)
{
    struct event_config *cfg = event_config_new();
    struct event_base *base;

    if (cfg == NULL)
        return NULL;
    (void)event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    return base;
}

/*
 * Makes worker id (see worker.h).  Returns 0 and *out
 * (scepd_worker_free()), or -1 after logging why.
 */
int scepd_worker_new(int id, const struct scepd_server *srv, struct scep_ca *ca,
                     struct scep_ocsp_signers *signers, struct scepd_listener *const *listeners,
                     int n, scepd_worker_exit_fn *on_exit, void *arg, struct scepd_worker **out)
{
    const struct scep_config *cfg = srv->cfg;
    struct scep_service_config scfg;
    struct scep_service_profile *profiles = NULL;
    const char *names[SCEPD_METRICS_MAX_PROFILES];
    struct scepd_worker *w = NULL;
    char why[256];
    int rc = -1;
    int err, k;

    if (n < 1 || n > WORKER_MAX_LISTENERS)
        goto out;
    w = calloc(1, sizeof(*w));
    if (w == NULL) {
        scepd_log(SCEPD_ERROR, "out of memory for a worker", NULL);
        goto out;
    }
    w->id = id;
    w->srv = srv;
    w->on_exit = on_exit;
    w->on_exit_arg = arg;
    w->base = worker_base_new();
    w->stop_ev = w->base != NULL ? event_new(w->base, -1, 0, worker_stop_cb, w) : NULL;
    w->now_ev = w->base != NULL ? event_new(w->base, -1, 0, worker_stop_now_cb, w) : NULL;
    if (w->stop_ev == NULL || w->now_ev == NULL) {
        scepd_log(SCEPD_ERROR, "cannot create worker event loop", NULL);
        goto out;
    }
    if (scepd_conns_new(w->base, cfg->max_connections, cfg->read_timeout, &w->metrics,
                        srv->connlimit, worker_drained, w, &w->conns) != 0) {
        scepd_log(SCEPD_ERROR, "cannot set up connection accounting", NULL);
        goto out;
    }
    err = scep_store_open(cfg->database, &w->store, why, sizeof(why));
    if (err != 0) {
        /* why names a SQLite file; the URI itself may hold a password. */
        scepd_log(SCEPD_ERROR, "cannot open the store", "error", why, NULL);
        goto out;
    }
    if (cfg->nprofiles > 0) {
        profiles = calloc(cfg->nprofiles, sizeof(*profiles));
        if (profiles == NULL) {
            scepd_log(SCEPD_ERROR, "out of memory for a worker", NULL);
            goto out;
        }
    }
    scep_config_service(cfg, &scfg, profiles);
    scfg.challenge_limit = scepd_limits_challenge(srv->limits);
    scfg.replay = srv->replay;
    err = scep_service_new(ca, w->store, &scfg, &w->svc);
    if (err != 0) {
        scepd_log(SCEPD_ERROR, "cannot create the SCEP service", "error", scep_strerror(err), NULL);
        goto out;
    }
    scep_service_set_ocsp_signers(w->svc, signers);
    w->fetcher = scepd_fetcher_new(w->base);
    if (w->fetcher == NULL) {
        scepd_log(SCEPD_ERROR, "cannot create the worker's HTTP client", NULL);
        goto out;
    }
    w->app.srv = srv;
    w->app.svc = w->svc;
    w->app.metrics = &w->metrics;
    w->app.limits = srv->limits;
    w->app.fetcher = w->fetcher;
    w->app.store = w->store;
    /* Every profile's series from the start, at zero. */
    names[0] = "default";
    for (k = 0; k < (int)cfg->nprofiles && k + 1 < SCEPD_METRICS_MAX_PROFILES; k++)
        names[k + 1] = cfg->profiles[k].name;
    scepd_metrics_profiles(&w->metrics, names, (size_t)k + 1);
    for (k = 0; k < n; k++) {
        if (scepd_http_new(w->base, cfg, listeners[k], &w->app, w->conns, &w->http[k]) != 0)
            goto out;
        w->nhttp++;
    }
    *out = w;
    w = NULL;
    rc = 0;
out:
    free(profiles); /* scep_service_new copied what it keeps */
    scepd_worker_free(w);
    return rc;
}

/* Starts the thread; returns 0 or -1. */
int scepd_worker_start(struct scepd_worker *w)
{
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
        return -1;
    w->thread_started = 1;
    return 0;
}

/* From any thread: a graceful stop, on the worker's thread. */
void scepd_worker_stop(struct scepd_worker *w)
{
    event_active(w->stop_ev, EV_READ, 0);
}

/* From any thread: leave now. */
void scepd_worker_stop_now(struct scepd_worker *w)
{
    event_active(w->now_ev, EV_READ, 0);
}

struct worker_swap {
    struct scepd_worker *w;
    struct scep_ca *ca;                /* one reference (NULL: keep), dropped after the swap */
    struct scep_ocsp_signers *signers; /* one reference (may be NULL), likewise */
};

/* Runs on the worker's thread: swaps its service's CA and signers. */
static void worker_swap_cb(evutil_socket_t fd, short what, void *arg)
{
    struct worker_swap *s = arg;

    (void)fd;
    (void)what;
    if (s->ca != NULL)
        scep_service_set_ca(s->w->svc, s->ca);
    scep_service_set_ocsp_signers(s->w->svc, s->signers);
    scep_ca_free(s->ca);
    scep_ocsp_signers_free(s->signers);
    free(s);
}

/* From any thread: the swap on the worker's thread.  Returns 0 or -1. */
int scepd_worker_swap(struct scepd_worker *w, struct scep_ca *ca, struct scep_ocsp_signers *signers)
{
    struct worker_swap *s = malloc(sizeof(*s));
    struct timeval zero = {0, 0};

    if (s == NULL)
        return -1;
    s->w = w;
    s->ca = scep_ca_up_ref(ca);
    s->signers = scep_ocsp_signers_up_ref(signers);
    /* event_base_once on another thread's base: safe because
     * evthread_use_pthreads() made every base lockable and notifiable. */
    if (event_base_once(w->base, -1, EV_TIMEOUT, worker_swap_cb, s, &zero) != 0) {
        scep_ca_free(s->ca);
        scep_ocsp_signers_free(s->signers);
        free(s);
        return -1;
    }
    return 0;
}

struct scepd_metrics *scepd_worker_metrics(struct scepd_worker *w)
{
    return &w->metrics;
}

void scepd_worker_join(struct scepd_worker *w)
{
    if (w != NULL && w->thread_started) {
        pthread_join(w->thread, NULL);
        w->thread_started = 0;
    }
}

/* Frees w; evhttp_free closes the connections left open, through
 * conn.c's close callback.  Accepts NULL. */
void scepd_worker_free(struct scepd_worker *w)
{
    int i;

    if (w == NULL)
        return;
    /* The order matters: closing the connections aborts the requests
     * still waiting for a deferred reply, whose abort callbacks cancel
     * their transfers on the fetcher; only then can the fetcher go, and
     * it must go before the base its events live on. */
    for (i = 0; i < w->nhttp; i++)
        scepd_http_free(w->http[i]);
    scepd_fetcher_free(w->fetcher);
    scepd_conns_free(w->conns);
    if (w->stop_ev != NULL)
        event_free(w->stop_ev);
    if (w->now_ev != NULL)
        event_free(w->now_ev);
    if (w->drain_timer != NULL)
        event_free(w->drain_timer);
    scep_service_free(w->svc);
    scep_store_close(w->store);
    if (w->base != NULL)
        event_base_free(w->base);
    free(w);
}
