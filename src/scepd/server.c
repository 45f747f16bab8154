/*
 * scepd's server core: one listening socket, N worker threads and the
 * main thread's housekeeping.
 *
 * Each worker has its own event_base, evhttp, store connection and
 * struct scep_service, so the hot path takes no lock; they share the
 * listening socket (each through its own dup() of it, because evhttp
 * closes the descriptor it was given when it lets go of it) and the CA by
 * reference.  The main thread runs a small event loop of its own for
 * signals and CA rollover.
 *
 * SIGTERM/SIGINT stop gracefully: the listening socket is closed at once
 * (new connections are refused), and each worker keeps serving the
 * connections it already has (conn.c counts them) until every one is
 * closed: a request still arriving is read and answered, with
 * "Connection: close"; a connection idle for SCEPD_STOP_IDLE_SECONDS is
 * closed.  The wait is bounded by the longer of read_timeout and
 * write_timeout.  A second SIGTERM/SIGINT closes what is left at once.
 * SIGHUP does not reload the configuration: it checks the state
 * directory for a next CA now instead of at the next poll.
 *
 * CA rollover: when the next CA's activate-at passes, the CA is loaded
 * again, which promotes it, and each worker swaps it into its own
 * service on its own thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <stdarg.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include <scep/error.h>
#include <scep/encoding.h>
#include <scep/message.h>

#include "scepd.h"
#include "ca/ca.h"
#include "service/service.h"
#include "store/store.h"

/* Pending connections the kernel queues for us. */
#define SERVER_BACKLOG 1024
/* How often main checks for a next CA that appeared (scepctl ca rollover). */
#define SERVER_CA_POLL_SECONDS 60

/* The main thread's state; lives on scepd_serve()'s stack. */
struct server_main {
    struct scepd_server srv;
    struct event_base *base;
    struct event *sigterm, *sigint, *sighup, *rollover, *done;
    struct scep_ca *ca;
    int fd;
    int stopping;        /* a stop signal came */
    int wildcard;        /* listening on every address (0.0.0.0, ::) */
    char host[256];
    int port;
};

/* ---- listening socket -------------------------------------------- */

/*
 * Splits "HOST:PORT" / "[V6]:PORT" (already checked by the config) into
 * host (empty: any address) and port.
 */
static int
server_split_listen(const char *listen, char *host, size_t hostlen, char *port, size_t portlen)
{
    const char *colon;
    const char *h = listen;
    size_t hlen;

    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');

        if (close == NULL || close[1] != ':')
            return -1;
        h = listen + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(listen, ':');
        if (colon == NULL)
            return -1;
        hlen = (size_t)(colon - listen);
    }
    if (hlen >= hostlen || strlen(colon + 1) >= portlen)
        return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    memcpy(port, colon + 1, strlen(colon + 1) + 1);
    return 0;
}

/* Opens, binds and listens on cfg->listen; fills m->fd, m->host, m->port. */
static int
server_listen(struct server_main *m)
{
    struct addrinfo hints, *res = NULL, *ai;
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    char host[256], port[16];
    int fd = -1, one = 1, gai;
    int rc = -1;

    if (server_split_listen(m->srv.cfg->listen, host, sizeof(host), port, sizeof(port)) != 0) {
        scepd_log(SCEPD_ERROR, "bad listen address", "listen", m->srv.cfg->listen, NULL);
        goto out;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    gai = getaddrinfo(host[0] != '\0' ? host : NULL, port, &hints, &res);
    if (gai != 0) {
        scepd_log(SCEPD_ERROR, "cannot resolve listen address", "listen", m->srv.cfg->listen,
                  "error", gai_strerror(gai), NULL);
        goto out;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0)
            continue;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, SERVER_BACKLOG) == 0)
            break;
        close(fd);
        fd = -1;
    }
    if (fd < 0) {
        scepd_log(SCEPD_ERROR, "cannot listen", "listen", m->srv.cfg->listen, "error",
                  strerror(errno), NULL);
        goto out;
    }
    /* Port 0 asks the kernel for one: read back which. */
    if (getsockname(fd, (struct sockaddr *)&ss, &sslen) != 0) {
        scepd_log(SCEPD_ERROR, "getsockname failed", "error", strerror(errno), NULL);
        goto out;
    }
    if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

        m->port = ntohs(s6->sin6_port);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

        m->port = ntohs(s4->sin_port);
    }
    snprintf(m->host, sizeof(m->host), "%s", host[0] != '\0' ? host : "0.0.0.0");
    m->wildcard = host[0] == '\0' || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 ||
                  strcmp(host, "0:0:0:0:0:0:0:0") == 0;
    m->fd = fd;
    fd = -1;
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (res != NULL)
        freeaddrinfo(res);
    return rc;
}

/* ---- workers ------------------------------------------------------ */

static void
worker_finish(struct scepd_worker *w)
{
    event_base_loopbreak(w->base);
}

/*
 * Leaves the worker's loop when it is stopping and no connection is left
 * open.  Runs on the worker's thread (conn.c calls it on every close).
 */
void
scepd_worker_maybe_finish(struct scepd_worker *w)
{
    if (w->stopping && w->nconns == 0)
        worker_finish(w);
}

/* Called (on the worker's thread) each time a reply has been written. */
void
scepd_worker_reply_done(struct scepd_worker *w)
{
    if (w->in_flight > 0)
        w->in_flight--;
    scepd_worker_maybe_finish(w);
}

static void
worker_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct scepd_worker *w = arg;
    char n[32];

    (void)fd;
    (void)what;
    snprintf(n, sizeof(n), "%ld", w->nconns);
    scepd_log(SCEPD_WARN, "shutdown: drain time is over, closing connections", "open", n, NULL);
    worker_finish(w);
}

/* The stop event, made active by main on the first SIGTERM/SIGINT. */
static void
worker_stop(evutil_socket_t fd, short what, void *arg)
{
    struct scepd_worker *w = arg;
    const struct scep_config *cfg = w->srv->cfg;
    struct timeval tv = {cfg->read_timeout > cfg->write_timeout ? cfg->read_timeout
                                                                : cfg->write_timeout,
                         0};

    (void)fd;
    (void)what;
    if (w->stopping)
        return;
    w->stopping = 1;
    if (w->bound != NULL) {
        /* Closes this worker's dup of the listening socket. */
        evhttp_del_accept_socket(w->http, w->bound);
        w->bound = NULL;
    }
    scepd_conn_stop(w);
    if (w->nconns == 0) {
        worker_finish(w);
        return;
    }
    {
        char n[32];

        snprintf(n, sizeof(n), "%ld", w->nconns);
        scepd_log(SCEPD_DEBUG, "shutdown: waiting for connections", "open", n, NULL);
    }
    w->drain_timer = evtimer_new(w->base, worker_drain_timeout, w);
    if (w->drain_timer == NULL || evtimer_add(w->drain_timer, &tv) != 0)
        worker_finish(w);
}

/* The second SIGTERM/SIGINT: leave now, closing what is still open. */
static void
worker_stop_now(evutil_socket_t fd, short what, void *arg)
{
    struct scepd_worker *w = arg;

    (void)fd;
    (void)what;
    w->stopping = 1;
    worker_finish(w);
}

static void *
worker_main(void *arg)
{
    struct scepd_worker *w = arg;

    event_base_dispatch(w->base);
    /* The last worker out wakes main, whose loop waits for all of them. */
    if (atomic_fetch_sub(&w->srv->running, 1) == 1)
        event_active(w->srv->done_ev, EV_READ, 0);
    return NULL;
}

/* Makes worker i: base, evhttp on a dup of fd, store, service. */
static int
worker_init(struct server_main *m, struct scepd_worker *w, int i)
{
    struct scep_service_config scfg;
    int dfd = -1;
    int rc = -1;
    int err;
    char why[256];

    w->id = i;
    w->srv = &m->srv;
    w->base = event_base_new();
    w->http = w->base != NULL ? evhttp_new(w->base) : NULL;
    w->stop_ev = w->base != NULL ? event_new(w->base, -1, 0, worker_stop, w) : NULL;
    w->now_ev = w->base != NULL ? event_new(w->base, -1, 0, worker_stop_now, w) : NULL;
    if (w->http == NULL || w->stop_ev == NULL || w->now_ev == NULL) {
        scepd_log(SCEPD_ERROR, "cannot create worker event loop", NULL);
        goto out;
    }
    scepd_http_init(w);
    dfd = fcntl(m->fd, F_DUPFD_CLOEXEC, 0);
    if (dfd < 0) {
        scepd_log(SCEPD_ERROR, "dup of listening socket failed", "error", strerror(errno), NULL);
        goto out;
    }
    w->bound = evhttp_accept_socket_with_handle(w->http, dfd);
    if (w->bound == NULL) {
        scepd_log(SCEPD_ERROR, "evhttp cannot accept on the listening socket", NULL);
        goto out;
    }
    dfd = -1; /* evhttp owns it now */
    if (scepd_conn_init(w) != 0) {
        scepd_log(SCEPD_ERROR, "cannot set up connection accounting", NULL);
        goto out;
    }
    err = scep_store_open(m->srv.cfg->database, &w->store, why, sizeof(why));
    if (err != 0) {
        /* why names a SQLite file; the URI itself may hold a password. */
        scepd_log(SCEPD_ERROR, "cannot open the store", "error", why, NULL);
        goto out;
    }
    scep_config_service(m->srv.cfg, &scfg);
    err = scep_service_new(m->ca, w->store, &scfg, &w->svc);
    if (err != 0) {
        scepd_log(SCEPD_ERROR, "cannot create the SCEP service", "error", scep_strerror(err),
                  NULL);
        goto out;
    }
    m->srv.metrics_ptrs[i] = &w->metrics;
    rc = 0;
out:
    if (dfd >= 0)
        close(dfd);
    return rc;
}

static void
worker_free(struct scepd_worker *w)
{
    if (w->bound != NULL)
        evhttp_del_accept_socket(w->http, w->bound);
    /* Closes the connections left open, through conn.c's callback. */
    if (w->http != NULL)
        evhttp_free(w->http);
    scepd_conn_free(w);
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
    memset(w, 0, sizeof(*w));
}

/* ---- CA rollover -------------------------------------------------- */

struct swap_msg {
    struct scepd_worker *w;
    struct scep_ca *ca; /* one reference, dropped after the swap */
};

/* Runs on a worker's thread: swaps its service's CA. */
static void
worker_swap_cb(evutil_socket_t fd, short what, void *arg)
{
    struct swap_msg *s = arg;

    (void)fd;
    (void)what;
    scep_service_set_ca(s->w->svc, s->ca);
    scep_ca_free(s->ca);
    free(s);
}

/* Schedules the next check: at the next CA's activate-at, and no later
 * than SERVER_CA_POLL_SECONDS, to notice a next CA made meanwhile. */
static void
server_arm_rollover(struct server_main *m)
{
    time_t at = scep_ca_next_activate_at(m->ca);
    time_t now = time(NULL);
    struct timeval tv = {SERVER_CA_POLL_SECONDS, 0};

    if (at != 0 && at - now < SERVER_CA_POLL_SECONDS)
        tv.tv_sec = at > now ? (long)(at - now) : 0;
    /* A second late is harmless; early would load a CA not yet due. */
    tv.tv_sec += 1;
    evtimer_add(m->rollover, &tv);
}

/* Returns 1 when the state directory holds a next CA the loaded one lacks. */
static int
server_next_ca_appeared(const struct server_main *m)
{
    char path[4096];
    struct stat st;

    if (scep_ca_next_activate_at(m->ca) != 0)
        return 0;
    snprintf(path, sizeof(path), "%s/next/ca.crt", m->srv.cfg->state_dir);
    return stat(path, &st) == 0;
}

static void
server_rollover(evutil_socket_t fd, short what, void *arg)
{
    struct server_main *m = arg;
    time_t at = scep_ca_next_activate_at(m->ca);
    struct scep_ca *ca = NULL;
    int i, err;

    (void)fd;
    (void)what;
    if (!((at != 0 && time(NULL) >= at) || server_next_ca_appeared(m)))
        goto out;
    err = scep_ca_load(m->srv.cfg->state_dir, &ca);
    if (err != 0) {
        scepd_log(SCEPD_ERROR, "CA reload failed; keeping the current CA", "error",
                  scep_strerror(err), NULL);
        goto out;
    }
    {
        char fp[65];

        scepd_ca_fingerprint(ca, fp);
        scepd_log(SCEPD_INFO, at != 0 && time(NULL) >= at ? "ca-rollover" : "ca-next-loaded",
                  "ca_fingerprint", fp, NULL);
    }
    for (i = 0; i < m->srv.nworkers; i++) {
        struct scepd_worker *w = &m->srv.workers[i];
        struct swap_msg *s = malloc(sizeof(*s));
        struct timeval zero = {0, 0};

        if (s == NULL)
            continue;
        s->w = w;
        s->ca = scep_ca_up_ref(ca);
        /* event_base_once on another thread's base: safe because
         * evthread_use_pthreads() made every base lockable and notifiable. */
        if (event_base_once(w->base, -1, EV_TIMEOUT, worker_swap_cb, s, &zero) != 0) {
            scep_ca_free(s->ca);
            free(s);
        }
    }
    scep_ca_free(m->ca);
    m->ca = ca;
out:
    server_arm_rollover(m);
}

/* ---- signals ------------------------------------------------------ */

/* SIGTERM/SIGINT: the first drains, the second closes at once.  Main's
 * loop goes on until the last worker is out (server_done). */
static void
server_signal(evutil_socket_t sig, short what, void *arg)
{
    struct server_main *m = arg;
    const char *name = sig == SIGTERM ? "SIGTERM" : "SIGINT";
    int i;

    (void)what;
    if (m->stopping) {
        scepd_log(SCEPD_WARN, "second stop signal: closing open connections now", "signal",
                  name, NULL);
        for (i = 0; i < m->srv.nworkers; i++)
            event_active(m->srv.workers[i].now_ev, EV_READ, 0);
        return;
    }
    m->stopping = 1;
    scepd_log(SCEPD_INFO, "shutdown", "signal", name, NULL);
    evtimer_del(m->rollover);
    for (i = 0; i < m->srv.nworkers; i++)
        event_active(m->srv.workers[i].stop_ev, EV_READ, 0);
    /* The workers close their dups of the socket as they stop; with ours
     * closed too, the kernel refuses new connections instead of queueing
     * them for nobody. */
    if (m->fd >= 0) {
        close(m->fd);
        m->fd = -1;
    }
}

/* SIGHUP: no configuration reload (documented); look for a next CA now. */
static void
server_sighup(evutil_socket_t sig, short what, void *arg)
{
    struct server_main *m = arg;

    (void)sig;
    (void)what;
    if (m->stopping)
        return;
    scepd_log(SCEPD_INFO, "SIGHUP: checking for a next CA; the configuration is not reloaded",
              NULL);
    server_rollover(-1, EV_TIMEOUT, m);
}

/* The last worker has left its loop. */
static void
server_done(evutil_socket_t fd, short what, void *arg)
{
    struct server_main *m = arg;

    (void)fd;
    (void)what;
    event_base_loopbreak(m->base);
}

/* libevent's own warnings, as logfmt lines instead of "[warn] ..." text. */
static void
server_libevent_log(int severity, const char *msg)
{
    int lvl = severity == EVENT_LOG_DEBUG ? SCEPD_DEBUG
              : severity == EVENT_LOG_MSG ? SCEPD_INFO
              : severity == EVENT_LOG_WARN ? SCEPD_WARN
                                           : SCEPD_ERROR;

    scepd_log(lvl, "libevent", "detail", msg, NULL);
}

/* The file behind cfg->database ("sqlite:PATH" or PATH), recorded once
 * the workers have opened it, so that scepd_store_present can tell it
 * was deleted or replaced. */
static void
server_watch_db(struct scepd_server *srv)
{
    const char *db = srv->cfg->database;
    struct stat st;

    if (db == NULL)
        return;
    if (strncmp(db, "sqlite:", 7) == 0)
        db += 7;
    if (stat(db, &st) != 0 || !S_ISREG(st.st_mode))
        return;
    srv->db_dev = st.st_dev;
    srv->db_ino = st.st_ino;
    srv->db_watch = 1;
}

/*
 * Returns 1 when the database file is still the one the workers opened
 * (or is not watched), 0 when it was deleted or replaced.  SQLite keeps
 * writing into an unlinked file without an error, so without this check
 * a PKIOperation would answer SUCCESS for a certificate that is gone at
 * the next start.
 */
int
scepd_store_present(const struct scepd_server *srv)
{
    const char *db = srv->cfg->database;
    struct stat st;

    if (!srv->db_watch)
        return 1;
    if (strncmp(db, "sqlite:", 7) == 0)
        db += 7;
    if (stat(db, &st) != 0)
        return 0;
    return st.st_dev == srv->db_dev && st.st_ino == srv->db_ino;
}

static int
server_default_workers(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    if (n < 1)
        n = 1;
    if (n > SCEP_MAX_WORKERS)
        n = SCEP_MAX_WORKERS;
    return (int)n;
}

/* Strips the trailing '/' of the configured prefix, so "/scep/" and
 * "/scep" serve the same paths and "/" serves every path. */
static void
server_set_prefix(struct scepd_server *srv)
{
    size_t n;

    snprintf(srv->prefix, sizeof(srv->prefix), "%s", srv->cfg->path_prefix);
    n = strlen(srv->prefix);
    while (n > 0 && srv->prefix[n - 1] == '/')
        srv->prefix[--n] = '\0';
}

/* Descriptors scepd needs besides connections: stdio, the listening
 * socket, the database, its WAL and shm files, event loop internals. */
#define SERVER_FD_RESERVE 64

/* Warns when max_connections cannot be reached for lack of descriptors:
 * then EMFILE, not max_connections, is the limit that holds. */
static void
server_check_nofile(const struct scep_config *cfg, int nworkers)
{
    struct rlimit rl;
    unsigned long long want =
        (unsigned long long)nworkers * (unsigned long long)cfg->max_connections +
        SERVER_FD_RESERVE;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || want <= rl.rlim_cur)
        return;
    {
        char have[32], need[32];

        snprintf(have, sizeof(have), "%llu", (unsigned long long)rl.rlim_cur);
        snprintf(need, sizeof(need), "%llu", want);
        scepd_log(SCEPD_WARN,
                  "the descriptor limit is below workers x max_connections; accepting will pause "
                  "when descriptors run out",
                  "nofile", have, "needed", need, NULL);
    }
}

/*
 * The URL for the ready line: public_url when set; else the listen
 * address, except that an address meaning "every address" (0.0.0.0, ::)
 * cannot be pasted into a client, so the host name stands in for it.
 */
static void
server_ready_url(const struct server_main *m, char *url, size_t len)
{
    const struct scep_config *cfg = m->srv.cfg;
    char host[256];

    if (cfg->public_url != NULL) {
        snprintf(url, len, "%s", cfg->public_url);
        return;
    }
    snprintf(host, sizeof(host), "%s", m->host);
    if (m->wildcard) {
        char name[256];

        /* gethostname may leave the name unterminated when it is cut. */
        if (gethostname(name, sizeof(name) - 1) == 0) {
            name[sizeof(name) - 1] = '\0';
            if (name[0] != '\0')
                snprintf(host, sizeof(host), "%s", name);
        }
    }
    if (strchr(host, ':') != NULL)
        snprintf(url, len, "http://[%s]:%d%s", host, m->port, cfg->path_prefix);
    else
        snprintf(url, len, "http://%s:%d%s", host, m->port, cfg->path_prefix);
}

/*
 * Runs scepd until SIGTERM or SIGINT.  ca: a reference is taken.
 * challenge_note (may be NULL) is printed after the ready line.  Returns
 * SCEPD_EXIT_OK after a clean stop, SCEPD_EXIT_RUNTIME on failure.
 */
int
scepd_serve(const struct scep_config *cfg, struct scep_ca *ca, const char *challenge_note)
{
    struct server_main m;
    sigset_t block, old;
    char url[512];
    char listen_at[300];
    int i, started = 0;
    int rc = SCEPD_EXIT_RUNTIME;

    memset(&m, 0, sizeof(m));
    m.fd = -1;
    m.srv.cfg = cfg;
    m.ca = scep_ca_up_ref(ca);
    server_set_prefix(&m.srv);

    /* Must precede every event_base_new so bases get locks and can be
     * woken from other threads (stop events, rollover). */
    if (evthread_use_pthreads() != 0) {
        scepd_log(SCEPD_ERROR, "libevent has no pthreads support", NULL);
        goto out;
    }
    event_set_log_callback(server_libevent_log);
    /* A client closing early must not kill us with SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    if (server_listen(&m) != 0)
        goto out;

    m.srv.nworkers = cfg->workers > 0 ? cfg->workers : server_default_workers();
    server_check_nofile(cfg, m.srv.nworkers);
    m.srv.workers = calloc((size_t)m.srv.nworkers, sizeof(*m.srv.workers));
    if (m.srv.workers == NULL)
        goto out;
    for (i = 0; i < m.srv.nworkers; i++)
        if (worker_init(&m, &m.srv.workers[i], i) != 0)
            goto out;

    m.base = event_base_new();
    if (m.base == NULL)
        goto out;
    m.sigterm = evsignal_new(m.base, SIGTERM, server_signal, &m);
    m.sigint = evsignal_new(m.base, SIGINT, server_signal, &m);
    m.sighup = evsignal_new(m.base, SIGHUP, server_sighup, &m);
    m.rollover = evtimer_new(m.base, server_rollover, &m);
    m.done = event_new(m.base, -1, 0, server_done, &m);
    if (m.sigterm == NULL || m.sigint == NULL || m.sighup == NULL || m.rollover == NULL ||
        m.done == NULL || evsignal_add(m.sigterm, NULL) != 0 ||
        evsignal_add(m.sigint, NULL) != 0 || evsignal_add(m.sighup, NULL) != 0)
        goto out;
    m.srv.done_ev = m.done;
    server_arm_rollover(&m);
    server_watch_db(&m.srv);

    /* Workers inherit a mask blocking the signals main handles, so they
     * are delivered to the main thread, whose loop handles them. */
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    for (i = 0; i < m.srv.nworkers; i++) {
        atomic_fetch_add(&m.srv.running, 1);
        if (pthread_create(&m.srv.workers[i].thread, NULL, worker_main, &m.srv.workers[i]) != 0) {
            atomic_fetch_sub(&m.srv.running, 1);
            break;
        }
        m.srv.workers[i].thread_started = 1;
        started++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (started != m.srv.nworkers) {
        scepd_log(SCEPD_ERROR, "cannot start worker threads", NULL);
        for (i = 0; i < started; i++)
            event_active(m.srv.workers[i].stop_ev, EV_READ, 0);
        goto join;
    }

    if (strchr(m.host, ':') != NULL)
        snprintf(listen_at, sizeof(listen_at), "[%s]:%d", m.host, m.port);
    else
        snprintf(listen_at, sizeof(listen_at), "%s:%d", m.host, m.port);
    server_ready_url(&m, url, sizeof(url));
    {
        char workers[16];

        snprintf(workers, sizeof(workers), "%d", m.srv.nworkers);
        scepd_log(SCEPD_INFO, "ready", "url", url, "listen", listen_at, "workers", workers,
                  NULL);
    }
    printf("scepd: serving SCEP at %s\n", url);
    if (m.wildcard && cfg->public_url == NULL)
        printf("scepd: listening on every address of this host (%s); set public_url to the "
               "name clients use\n",
               listen_at);
    if (challenge_note != NULL && challenge_note[0] != '\0')
        printf("%s\n", challenge_note);
    fflush(stdout);

    event_base_dispatch(m.base);
    rc = SCEPD_EXIT_OK;
join:
    for (i = 0; i < m.srv.nworkers; i++)
        if (m.srv.workers[i].thread_started)
            pthread_join(m.srv.workers[i].thread, NULL);
    if (started != m.srv.nworkers)
        rc = SCEPD_EXIT_RUNTIME;
    else
        scepd_log(SCEPD_INFO, "stopped", NULL);
out:
    if (m.srv.workers != NULL) {
        for (i = 0; i < m.srv.nworkers; i++)
            worker_free(&m.srv.workers[i]);
        free(m.srv.workers);
    }
    if (m.sigterm != NULL)
        event_free(m.sigterm);
    if (m.sigint != NULL)
        event_free(m.sigint);
    if (m.sighup != NULL)
        event_free(m.sighup);
    if (m.done != NULL)
        event_free(m.done);
    if (m.rollover != NULL)
        event_free(m.rollover);
    if (m.base != NULL)
        event_base_free(m.base);
    if (m.fd >= 0)
        close(m.fd);
    scep_ca_free(m.ca);
    return rc;
}
