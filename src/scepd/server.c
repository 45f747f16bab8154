/*
 * scepd's server core: the listeners, N worker threads and the main
 * thread's housekeeping.
 *
 * Listeners and routes (listener.h, route.h): main makes the route table
 * (handlers.c) and a listener for listen (plain HTTP) and, when
 * tls_listen is set, one for TLS serving the same table.  Each worker
 * (worker.h) has its own event_base, store connection, struct
 * scep_service and connection accounting (conn.h), and serves every
 * listener through an evhttp of its own (http.h) on a dup() of the
 * listener's socket, so the hot path takes no lock; the CA is shared by
 * reference and a TLS listener's SSL_CTX by pointer.  The main thread
 * runs a small event loop of its own for signals, CA rollover and the
 * CRL publisher (crlpub.h), and reaches a worker only through worker.h.
 *
 * SIGTERM/SIGINT stop gracefully: the listening sockets are closed at
 * once (new connections are refused), and each worker keeps serving the
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
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/thread.h>

#include <scep/error.h>
#include <scep/encoding.h>
#include <scep/message.h>

#include "api.h"
#include "crlpub.h"
#include "gauges.h"
#include "housekeep.h"
#include "sdnotify.h"
#include "connlimit.h"
#include "limits.h"
#include "listener.h"
#include "notify.h"
#include "route.h"
#include "scepd.h"
#include "worker.h"
#include "ca/ca.h"
#include "service/tlscert.h"
#include "store/store.h"

/* How often main checks for a next CA that appeared (scepctl ca rollover). */
#define SERVER_CA_POLL_SECONDS 60
/* Listeners scepd makes: listen, tls_listen and admin_listen. */
#define SERVER_MAX_LISTENERS 3
#define SERVER_ADMIN 2 /* listeners[] index of the admin listener */

/* The main thread's state; lives on scepd_serve()'s stack. */
struct server_main {
    struct scepd_server srv;
    struct event_base *base;
    struct event *sigterm, *sigint, *sighup, *rollover, *crlpub_ev, *done;
    struct scepd_crlpub *crlpub;
    struct event *housekeep_ev;
    struct scepd_housekeep *housekeep;
    struct scepd_notify *notify;
    struct scep_ca *ca;
    struct scep_ocsp_signers *signers; /* NULL with ocsp_signer = ca */
    struct scepd_router *routes;
    struct scepd_router *admin_routes; /* the admin API's table; NULL without admin_listen */
    struct scepd_listener *listeners[SERVER_MAX_LISTENERS];
    struct scepd_listener *active[SERVER_MAX_LISTENERS]; /* the non-NULL ones, for workers */
    int nlisteners;                                      /* entries of active[] */
    struct scepd_worker **workers;                       /* srv.nworkers of them */
    /* Workers still in their loop; the last one out wakes main. */
    _Atomic int running;
    int stopping; /* a stop signal came */
};

/* A worker's loop has ended (on that worker's thread): the last one out
 * wakes main, whose loop waits for all of them. */
static void server_worker_exited(void *arg)
{
    struct server_main *m = arg;

    if (atomic_fetch_sub(&m->running, 1) == 1)
        event_active(m->done, EV_READ, 0);
}

/* ---- delegated OCSP responders ------------------------------------ */

/*
 * Makes or renews the responder certificate of each CA of m->ca that
 * needs one (lib/ca/responder.c: missing, broken, or a third of its life
 * left) and, when one was made or the CA changed (ca_changed), loads the
 * set anew into *fresh (NULL: nothing changed).  Runs at start and at
 * every CA poll, so a responder is renewed days before it expires.  A
 * failure is logged; the responders loaded before stay in use, and a CA
 * without a valid one signs its answers itself.  With ocsp_signer = ca
 * there is nothing to do.
 */
static void server_responders(struct server_main *m, int ca_changed,
                              struct scep_ocsp_signers **fresh)
{
    const struct scep_config *cfg = m->srv.cfg;
    char count[16], days[16];
    int made = 0, rc;

    *fresh = NULL;
    if (strcmp(cfg->ocsp_signer, "delegated") != 0)
        return;
    rc = scep_ca_responders_ensure(m->ca, cfg->ocsp_responder_days, time(NULL), &made);
    if (rc != 0)
        scepd_log(SCEPD_WARN, "cannot make an OCSP responder certificate", "error",
                  scep_strerror(rc), NULL);
    if (made > 0) {
        snprintf(count, sizeof(count), "%d", made);
        snprintf(days, sizeof(days), "%d", cfg->ocsp_responder_days);
        scepd_log(SCEPD_INFO, "ocsp-responder-made", "count", count, "days", days, NULL);
    }
    if (made == 0 && !ca_changed && m->signers != NULL)
        return;
    rc = scep_ca_responders_load(m->ca, time(NULL), fresh);
    if (rc != 0) {
        scepd_log(SCEPD_WARN, "cannot load the OCSP responder certificates", "error",
                  scep_strerror(rc), NULL);
        *fresh = NULL;
    }
}

/* ---- CA rollover -------------------------------------------------- */

/* Schedules the next check: at the next CA's activate-at, and no later
 * than SERVER_CA_POLL_SECONDS, to notice a next CA made meanwhile. */
static void server_arm_rollover(struct server_main *m)
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
static int server_next_ca_appeared(const struct server_main *m)
{
    char path[4096];
    struct stat st;

    if (scep_ca_next_activate_at(m->ca) != 0)
        return 0;
    snprintf(path, sizeof(path), "%s/next/ca.crt", m->srv.cfg->state_dir);
    return stat(path, &st) == 0;
}

static void server_rollover(evutil_socket_t fd, short what, void *arg)
{
    struct server_main *m = arg;
    time_t at = scep_ca_next_activate_at(m->ca);
    struct scep_ocsp_signers *signers = NULL;
    struct scep_ca *ca = NULL;
    int i, err;

    (void)fd;
    (void)what;
    if (!((at != 0 && time(NULL) >= at) || server_next_ca_appeared(m))) {
        /* The poll renews the responders too. */
        server_responders(m, 0, &signers);
        if (signers != NULL) {
            for (i = 0; i < m->srv.nworkers; i++)
                if (scepd_worker_swap(m->workers[i], NULL, signers) != 0)
                    scepd_log(SCEPD_ERROR, "cannot hand the OCSP responders to a worker", NULL);
            scep_ocsp_signers_free(m->signers);
            m->signers = signers;
        }
        goto out;
    }
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
    scep_ca_free(m->ca);
    m->ca = ca;
    /* The new CA (and a new next one) gets its responder before any
     * worker answers for it. */
    server_responders(m, 1, &signers);
    if (signers != NULL) {
        scep_ocsp_signers_free(m->signers);
        m->signers = signers;
    }
    /* Each worker swaps on its own thread; one that cannot be asked
     * (out of memory) keeps the old CA until the next start. */
    for (i = 0; i < m->srv.nworkers; i++)
        if (scepd_worker_swap(m->workers[i], ca, m->signers) != 0)
            scepd_log(SCEPD_ERROR, "cannot hand the new CA to a worker", NULL);
out:
    server_arm_rollover(m);
}

/* ---- CRL publisher ------------------------------------------------ */

/* One publishing round every SCEPD_CRLPUB_SECONDS, over the CA of now
 * (a rollover's new CA is published at the next round). */
static void server_crlpub(evutil_socket_t fd, short what, void *arg)
{
    struct server_main *m = arg;
    struct timeval tv = {SCEPD_CRLPUB_SECONDS, 0};

    (void)fd;
    (void)what;
    (void)scepd_crlpub_run(m->crlpub, m->ca);
    evtimer_add(m->crlpub_ev, &tv);
}

/* One housekeeping round every SCEPD_HOUSEKEEP_SECONDS (housekeep.h). */
static void server_housekeep(evutil_socket_t fd, short what, void *arg)
{
    struct server_main *m = arg;
    struct timeval tv = {SCEPD_HOUSEKEEP_SECONDS, 0};

    (void)fd;
    (void)what;
    (void)scepd_housekeep_run(m->housekeep, (int64_t)time(NULL));
    evtimer_add(m->housekeep_ev, &tv);
}

/* ---- signals ------------------------------------------------------ */

/* SIGTERM/SIGINT: the first drains, the second closes at once.  Main's
 * loop goes on until the last worker is out (server_done). */
static void server_signal(evutil_socket_t sig, short what, void *arg)
{
    struct server_main *m = arg;
    const char *name = sig == SIGTERM ? "SIGTERM" : "SIGINT";
    int i;

    (void)what;
    if (m->stopping) {
        scepd_log(SCEPD_WARN, "second stop signal: closing open connections now", "signal", name,
                  NULL);
        for (i = 0; i < m->srv.nworkers; i++)
            scepd_worker_stop_now(m->workers[i]);
        return;
    }
    m->stopping = 1;
    scepd_log(SCEPD_INFO, "shutdown", "signal", name, NULL);
    (void)scepd_sd_notify("STOPPING=1");
    evtimer_del(m->rollover);
    evtimer_del(m->crlpub_ev);
    evtimer_del(m->housekeep_ev);
    /* It leaves within about a second (notify.h); joined at the end. */
    scepd_notify_stop(m->notify);
    for (i = 0; i < m->srv.nworkers; i++)
        scepd_worker_stop(m->workers[i]);
    /* The workers close their dups of the sockets as they stop; with
     * ours closed too, the kernel refuses new connections instead of
     * queueing them for nobody. */
    for (i = 0; i < m->nlisteners; i++)
        scepd_listener_close(m->active[i]);
}

/* SIGHUP: no configuration reload (documented); look for a next CA now. */
static void server_sighup(evutil_socket_t sig, short what, void *arg)
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
static void server_done(evutil_socket_t fd, short what, void *arg)
{
    struct server_main *m = arg;

    (void)fd;
    (void)what;
    event_base_loopbreak(m->base);
}

/* libevent's own warnings, as logfmt lines instead of "[warn] ..." text. */
static void server_libevent_log(int severity, const char *msg)
{
    int lvl = severity == EVENT_LOG_DEBUG  ? SCEPD_DEBUG
              : severity == EVENT_LOG_MSG  ? SCEPD_INFO
              : severity == EVENT_LOG_WARN ? SCEPD_WARN
                                           : SCEPD_ERROR;

    scepd_log(lvl, "libevent", "detail", msg, NULL);
}

/* The file behind cfg->database ("sqlite:PATH" or PATH), recorded once
 * the workers have opened it, so that scepd_store_present can tell it
 * was deleted or replaced. */
static void server_watch_db(struct scepd_server *srv)
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
int scepd_store_present(const struct scepd_server *srv)
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

static int server_default_workers(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    if (n < 1)
        n = 1;
    if (n > SCEP_MAX_WORKERS)
        n = SCEP_MAX_WORKERS;
    return (int)n;
}

/* Descriptors scepd needs besides connections: stdio, the listening
 * socket, the database, its WAL and shm files, event loop internals. */
#define SERVER_FD_RESERVE 64

/* Warns when max_connections cannot be reached for lack of descriptors:
 * then EMFILE, not max_connections, is the limit that holds. */
static void server_check_nofile(const struct scep_config *cfg, int nworkers)
{
    struct rlimit rl;
    unsigned long long want =
        (unsigned long long)nworkers * (unsigned long long)cfg->max_connections + SERVER_FD_RESERVE;

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
 * The URL of listener l for the ready lines: scheme, host, port and
 * path_prefix.  public_url replaces the plain listener's (use_public);
 * an address meaning "every address" (0.0.0.0, ::) cannot be pasted into
 * a client, so the host name stands in for it.
 */
static void server_url(const struct scep_config *cfg, const struct scepd_listener *l,
                       int use_public, char *url, size_t len)
{
    const char *scheme = scepd_listener_get0_ssl_ctx(l) != NULL ? "https" : "http";
    char host[256];

    if (use_public && cfg->public_url != NULL) {
        snprintf(url, len, "%s", cfg->public_url);
        return;
    }
    snprintf(host, sizeof(host), "%s", scepd_listener_host(l));
    if (scepd_listener_wildcard(l)) {
        char name[256];

        /* gethostname may leave the name unterminated when it is cut. */
        if (gethostname(name, sizeof(name) - 1) == 0) {
            name[sizeof(name) - 1] = '\0';
            if (name[0] != '\0')
                snprintf(host, sizeof(host), "%s", name);
        }
    }
    if (strchr(host, ':') != NULL)
        snprintf(url, len, "%s://[%s]:%d%s", scheme, host, scepd_listener_port(l),
                 cfg->path_prefix);
    else
        snprintf(url, len, "%s://%s:%d%s", scheme, host, scepd_listener_port(l), cfg->path_prefix);
}

/*
 * The host part of a "HOST:PORT" / "[V6]:PORT" address or of a URL's
 * authority into out (size bytes).  Returns 0, or -1 when there is no
 * host (an empty one means every address).
 */
static int server_host_of(const char *s, char *out, size_t size)
{
    const char *start = s, *end;
    size_t n;

    if (start[0] == '[') {
        start++;
        end = strchr(start, ']');
    } else {
        end = start + strcspn(start, ":/?#");
    }
    if (end == NULL || end == start)
        return -1;
    n = (size_t)(end - start);
    if (n >= size)
        return -1;
    memcpy(out, start, n);
    out[n] = '\0';
    return 0;
}

/* Adds host to the list unless it is there, or names every address. */
static void server_add_host(char hosts[][256], size_t *n, const char *host)
{
    size_t i;

    if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 || *n >= SCEP_TLSCERT_MAX_HOSTS)
        return;
    for (i = 0; i < *n; i++)
        if (strcasecmp(hosts[i], host) == 0)
            return;
    snprintf(hosts[(*n)++], 256, "%s", host);
}

/*
 * The admin listener's certificate: admin_tls_cert/admin_tls_key when
 * set, else STATE_DIR/admin/tls.crt and tls.key, issued by our own CA
 * (lib/service/tlscert.c) for admin_listen's host and public_url's
 * host (a wildcard address: this host's name and localhost), and
 * issued again when those change or it nears its end.  Fills cert and
 * key (size bytes each).  Returns 0, or -1 after logging why.
 */
static int server_admin_cert(struct server_main *m, char *cert, char *key, size_t size)
{
    const struct scep_config *cfg = m->srv.cfg;
    char hosts[SCEP_TLSCERT_MAX_HOSTS][256], host[256], dir[4096], why[512];
    const char *hp[SCEP_TLSCERT_MAX_HOSTS];
    struct scep_store *st = NULL;
    size_t n = 0, i;
    int issued = 0, rc = -1, err;

    if (cfg->admin_tls_cert != NULL) {
        snprintf(cert, size, "%s", cfg->admin_tls_cert);
        snprintf(key, size, "%s", cfg->admin_tls_key);
        return 0;
    }
    /* A cut path would name another file: refuse it instead. */
    if ((size_t)snprintf(dir, sizeof(dir), "%s/admin", cfg->state_dir) >= sizeof(dir) ||
        (size_t)snprintf(cert, size, "%s/tls.crt", dir) >= size ||
        (size_t)snprintf(key, size, "%s/tls.key", dir) >= size) {
        scepd_log(SCEPD_ERROR, "state directory path too long for the admin certificate", NULL);
        return -1;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        scepd_log(SCEPD_ERROR, "cannot create the admin certificate directory", "dir", dir, "error",
                  strerror(errno), NULL);
        return -1;
    }
    if (server_host_of(cfg->admin_listen, host, sizeof(host)) == 0)
        server_add_host(hosts, &n, host);
    if (cfg->public_url != NULL && strstr(cfg->public_url, "://") != NULL &&
        server_host_of(strstr(cfg->public_url, "://") + 3, host, sizeof(host)) == 0)
        server_add_host(hosts, &n, host);
    if (n == 0) {
        /* Bound to every address: the names a client may use here. */
        if (gethostname(host, sizeof(host) - 1) == 0) {
            host[sizeof(host) - 1] = '\0';
            if (host[0] != '\0')
                server_add_host(hosts, &n, host);
        }
        server_add_host(hosts, &n, "localhost");
    }
    for (i = 0; i < n; i++)
        hp[i] = hosts[i];
    err = scep_store_open(cfg->database, &st, why, sizeof(why));
    if (err != 0) {
        scepd_log(SCEPD_ERROR, "cannot open the store for the admin certificate", "error", why,
                  NULL);
        goto out;
    }
    err = scep_tls_cert_ensure(st, m->ca, cert, key, hp, n, "scepd", &issued, why, sizeof(why));
    if (err != 0) {
        scepd_log(SCEPD_ERROR, "cannot issue the admin listener's certificate", "error", why, NULL);
        goto out;
    }
    if (issued)
        scepd_log(SCEPD_INFO, "issued the admin listener's certificate", "cert", cert, "host",
                  hosts[0], NULL);
    rc = 0;
out:
    scep_store_close(st);
    return rc;
}

/* The admin API's listener (admin_listen), HTTPS only, with its own
 * route table.  Returns 0, or -1 after logging why. */
static int server_admin_listener(struct server_main *m)
{
    const struct scep_config *cfg = m->srv.cfg;
    struct scepd_listener_config lc;
    char cert[4096], key[4096], err[512];

    if (scepd_router_new(&m->admin_routes) != 0 || scepd_routes_admin(m->admin_routes) != 0) {
        scepd_log(SCEPD_ERROR, "cannot build the admin route table", NULL);
        return -1;
    }
    if (server_admin_cert(m, cert, key, sizeof(cert)) != 0)
        return -1;
    memset(&lc, 0, sizeof(lc));
    lc.name = "admin_listen";
    lc.address = cfg->admin_listen;
    lc.tls_cert = cert;
    lc.tls_key = key;
    lc.tls_client_ca = cfg->admin_client_ca;
    /* Asked for, never required: a bearer token works without one. */
    lc.client_verify =
        cfg->admin_client_ca != NULL ? SCEPD_TLS_VERIFY_OPTIONAL : SCEPD_TLS_VERIFY_NONE;
    lc.routes = m->admin_routes;
    if (scepd_listener_new(&lc, &m->listeners[SERVER_ADMIN], err, sizeof(err)) != 0) {
        scepd_log(SCEPD_ERROR, "refusing to start: cannot set up the admin listener", "reason", err,
                  NULL);
        return -1;
    }
    return 0;
}

/* The route tables and the listeners: listen, tls_listen and
 * admin_listen when set.  Returns 0, or -1 after logging why. */
static int server_listeners(struct server_main *m)
{
    const struct scep_config *cfg = m->srv.cfg;
    struct scepd_listener_config lc;
    char err[512];
    int public_metrics = strcmp(cfg->metrics_listen, "admin") != 0, i;

    if (cfg->admin_listen != NULL && server_admin_listener(m) != 0)
        return -1;
    if (scepd_router_new(&m->routes) != 0 ||
        scepd_routes_scep(m->routes, cfg->path_prefix, public_metrics) != 0) {
        scepd_log(SCEPD_ERROR, "cannot build the route table", "path_prefix", cfg->path_prefix,
                  NULL);
        return -1;
    }
    /* TLS first: a certificate problem is reported before any port is
     * bound. */
    if (cfg->tls_listen != NULL) {
        memset(&lc, 0, sizeof(lc));
        lc.name = "tls_listen";
        lc.address = cfg->tls_listen;
        lc.tls_cert = cfg->tls_cert;
        lc.tls_key = cfg->tls_key;
        lc.tls_client_ca = cfg->tls_client_ca;
        lc.client_verify = scepd_listener_verify_of(cfg->tls_client_verify);
        lc.routes = m->routes;
        if (lc.tls_cert == NULL) {
            scepd_log(SCEPD_ERROR, "refusing to start: tls_listen needs tls_cert and tls_key",
                      NULL);
            return -1;
        }
        if (scepd_listener_new(&lc, &m->listeners[1], err, sizeof(err)) != 0) {
            scepd_log(SCEPD_ERROR, "refusing to start: cannot set up the TLS listener", "reason",
                      err, NULL);
            return -1;
        }
    }
    memset(&lc, 0, sizeof(lc));
    lc.name = "listen";
    lc.address = cfg->listen;
    lc.routes = m->routes;
    if (scepd_listener_new(&lc, &m->listeners[0], err, sizeof(err)) != 0) {
        scepd_log(SCEPD_ERROR, "cannot listen", "listen", cfg->listen, "reason", err, NULL);
        return -1;
    }
    /* The workers serve the listeners that exist, in slot order. */
    m->nlisteners = 0;
    for (i = 0; i < SERVER_MAX_LISTENERS; i++)
        if (m->listeners[i] != NULL)
            m->active[m->nlisteners++] = m->listeners[i];
    return 0;
}

/* One log line per profile: where it answers and how it decides. */
static void server_log_profiles(const struct scep_config *cfg, const char *url)
{
    char purl[600], window[24], validity[32];
    size_t i;

    for (i = 0; i <= cfg->nprofiles; i++) {
        const struct scep_config_profile *p = i == 0 ? &cfg->enroll : &cfg->profiles[i - 1];
        const char *auth = p->webhook_url != NULL && p->challenge != NULL ? "static+webhook"
                           : p->webhook_url != NULL                       ? "webhook"
                           : p->challenge != NULL                         ? "static+one-time"
                           : p->open_enrollment                           ? "open"
                                                                          : "one-time";

        snprintf(purl, sizeof(purl), "%s%s%s", url, p->name[0] != '\0' ? "/" : "", p->name);
        snprintf(window, sizeof(window), "%d", p->renewal_window_days);
        if (p->validity_seconds > 0)
            snprintf(validity, sizeof(validity), "%lds", p->validity_seconds);
        else
            snprintf(validity, sizeof(validity), "%dd", p->validity_days);
        scepd_log(p->open_enrollment ? SCEPD_WARN : SCEPD_INFO, "profile", "name",
                  p->name[0] != '\0' ? p->name : "default", "url", purl, "challenge", auth,
                  "approval", p->approval != NULL ? p->approval : "auto", "renewal",
                  p->renewal ? "true" : "false", "renewal_window_days", window, "validity",
                  validity, NULL);
    }
}

/* Prints the ready lines (stdout, which scripts read) and logs them. */
static void server_ready(const struct server_main *m, const char *challenge_note)
{
    const struct scep_config *cfg = m->srv.cfg;
    const struct scepd_listener *plain = m->listeners[0];
    char url[512], listen_at[300], workers[16];

    scepd_listener_address(plain, listen_at, sizeof(listen_at));
    server_url(cfg, plain, 1, url, sizeof(url));
    if (m->listeners[1] != NULL) {
        char tls_url[512], tls_at[300];

        scepd_listener_address(m->listeners[1], tls_at, sizeof(tls_at));
        server_url(cfg, m->listeners[1], 0, tls_url, sizeof(tls_url));
        scepd_log(SCEPD_INFO, "listening", "url", tls_url, "listen", tls_at, "tls", "true",
                  "client_verify", cfg->tls_client_verify, NULL);
    }
    snprintf(workers, sizeof(workers), "%d", m->srv.nworkers);
    scepd_log(SCEPD_INFO, "ready", "url", url, "listen", listen_at, "workers", workers, NULL);
    server_log_profiles(cfg, url);
    printf("scepd: serving SCEP at %s\n", url);
    if (m->listeners[1] != NULL) {
        server_url(cfg, m->listeners[1], 0, url, sizeof(url));
        printf("scepd: serving SCEP over TLS at %s\n", url);
    }
    if (m->listeners[SERVER_ADMIN] != NULL) {
        const struct scepd_listener *al = m->listeners[SERVER_ADMIN];
        char at[300];
        const char *h = scepd_listener_host(al);

        scepd_listener_address(al, at, sizeof(at));
        snprintf(url, sizeof(url),
                 strchr(h, ':') != NULL ? "https://[%s]:%d/api/v1" : "https://%s:%d/api/v1", h,
                 scepd_listener_port(al));
        scepd_log(SCEPD_INFO, "listening", "url", url, "listen", at, "admin", "true", NULL);
        printf("scepd: serving the admin API at %s\n", url);
    }
    if (scepd_listener_wildcard(plain) && cfg->public_url == NULL)
        printf("scepd: listening on every address of this host (%s); set public_url to the "
               "name clients use\n",
               listen_at);
    if (challenge_note != NULL && challenge_note[0] != '\0')
        printf("%s\n", challenge_note);
    fflush(stdout);
    /* Type=notify: systemd starts what depends on scepd only now, when
     * every listener is bound and every worker serves. */
    {
        char state[600];

        snprintf(state, sizeof(state), "READY=1\nSTATUS=serving SCEP at %.500s", url);
        (void)scepd_sd_notify(state);
    }
}

/*
 * Runs scepd until SIGTERM or SIGINT.  ca: a reference is taken.
 * challenge_note (may be NULL) is printed after the ready line.  Returns
 * SCEPD_EXIT_OK after a clean stop, SCEPD_EXIT_RUNTIME on failure.
 */
int scepd_serve(const struct scep_config *cfg, struct scep_ca *ca, const char *challenge_note)
{
    struct server_main m;
    sigset_t block, old;
    struct timeval now_tv;
    int i, started = 0;
    int rc = SCEPD_EXIT_RUNTIME;

    memset(&m, 0, sizeof(m));
    m.srv.cfg = cfg;
    m.ca = scep_ca_up_ref(ca);

    /* Must precede every event_base_new so bases get locks and can be
     * woken from other threads (stop events, rollover). */
    if (evthread_use_pthreads() != 0) {
        scepd_log(SCEPD_ERROR, "libevent has no pthreads support", NULL);
        goto out;
    }
    event_set_log_callback(server_libevent_log);
    /* libcurl's global state (fetch.h, the workers' webhook calls):
     * curl_global_init is not thread-safe, so here, before any worker
     * thread exists.  Never undone: it is reference-counted and other
     * parts of the process may use libcurl. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        scepd_log(SCEPD_ERROR, "cannot initialise libcurl", NULL);
        goto out;
    }
    /* A client closing early must not kill us with SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    if (server_listeners(&m) != 0)
        goto out;

    /* Before the workers, which copy the pointer. */
    if (scepd_limits_new(cfg->rate_address_per_minute, cfg->rate_address_burst,
                         cfg->rate_challenge_per_minute, cfg->rate_challenge_burst,
                         &m.srv.limits) != 0) {
        scepd_log(SCEPD_ERROR, "cannot set up the rate limits", NULL);
        goto out;
    }
    if (scep_replay_memory_new(&m.srv.replay) != 0) {
        scepd_log(SCEPD_ERROR, "cannot set up the memory of refused messages", NULL);
        goto out;
    }
    if (scepd_gauges_new(&m.srv.gauges) != 0) {
        scepd_log(SCEPD_ERROR, "cannot set up the gauges", NULL);
        goto out;
    }
    if (scepd_connlimit_new(cfg->max_connections_per_client, cfg->max_header_memory,
                            &m.srv.connlimit) != 0) {
        scepd_log(SCEPD_ERROR, "cannot set up the per-client connection limit", NULL);
        goto out;
    }
    if (cfg->admin_listen != NULL &&
        scepd_limits_set_auth(m.srv.limits, cfg->admin_auth_fail_per_minute,
                              cfg->admin_auth_fail_burst) != 0) {
        scepd_log(SCEPD_ERROR, "cannot set up the admin API's authentication limit", NULL);
        goto out;
    }
    m.srv.nworkers = cfg->workers > 0 ? cfg->workers : server_default_workers();
    server_check_nofile(cfg, m.srv.nworkers);
    m.workers = calloc((size_t)m.srv.nworkers, sizeof(*m.workers));
    if (m.workers == NULL)
        goto out;
    m.base = event_base_new();
    if (m.base == NULL)
        goto out;
    m.done = event_new(m.base, -1, 0, server_done, &m);
    if (m.done == NULL)
        goto out;
    /* Before the workers, which start with them. */
    server_responders(&m, 1, &m.signers);
    for (i = 0; i < m.srv.nworkers; i++) {
        if (scepd_worker_new(i, &m.srv, m.ca, m.signers, m.active, m.nlisteners,
                             server_worker_exited, &m, &m.workers[i]) != 0)
            goto out;
        m.srv.metrics_ptrs[i] = scepd_worker_metrics(m.workers[i]);
    }

    m.sigterm = evsignal_new(m.base, SIGTERM, server_signal, &m);
    m.sigint = evsignal_new(m.base, SIGINT, server_signal, &m);
    m.sighup = evsignal_new(m.base, SIGHUP, server_sighup, &m);
    m.rollover = evtimer_new(m.base, server_rollover, &m);
    m.crlpub_ev = evtimer_new(m.base, server_crlpub, &m);
    m.housekeep_ev = evtimer_new(m.base, server_housekeep, &m);
    if (m.sigterm == NULL || m.sigint == NULL || m.sighup == NULL || m.rollover == NULL ||
        m.crlpub_ev == NULL || m.housekeep_ev == NULL || evsignal_add(m.sigterm, NULL) != 0 ||
        evsignal_add(m.sigint, NULL) != 0 || evsignal_add(m.sighup, NULL) != 0)
        goto out;
    server_arm_rollover(&m);
    server_watch_db(&m.srv);
    /* The first rounds of the CRL publisher and of housekeeping run as
     * soon as the loop starts, just after the ready line, and the first
     * count of certificates on the notify thread: with a million
     * certificates in the store they take most of a second, and serving
     * need not wait for them (the workers make or read the published CRL
     * themselves at the first /crl).  Zero timeouts run before any
     * signal is looked at. */
    now_tv.tv_sec = 0;
    now_tv.tv_usec = 0;
    if (scepd_crlpub_new(cfg, m.srv.gauges, &m.crlpub) != 0 ||
        evtimer_add(m.crlpub_ev, &now_tv) != 0)
        goto out;
    if (scepd_housekeep_new(cfg, &m.housekeep) != 0 || evtimer_add(m.housekeep_ev, &now_tv) != 0)
        goto out;
    if (scepd_notify_new(cfg, m.srv.gauges, &m.notify) != 0 || scepd_notify_start(m.notify) != 0)
        goto out;

    /* Workers inherit a mask blocking the signals main handles, so they
     * are delivered to the main thread, whose loop handles them. */
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    for (i = 0; i < m.srv.nworkers; i++) {
        atomic_fetch_add(&m.running, 1);
        if (scepd_worker_start(m.workers[i]) != 0) {
            atomic_fetch_sub(&m.running, 1);
            break;
        }
        started++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (started != m.srv.nworkers) {
        scepd_log(SCEPD_ERROR, "cannot start worker threads", NULL);
        for (i = 0; i < started; i++)
            scepd_worker_stop(m.workers[i]);
        goto join;
    }

    server_ready(&m, challenge_note);
    event_base_dispatch(m.base);
    rc = SCEPD_EXIT_OK;
join:
    for (i = 0; i < m.srv.nworkers; i++)
        scepd_worker_join(m.workers[i]);
    /* Stopped by the signal that ended the loop, or not started. */
    scepd_notify_free(m.notify);
    m.notify = NULL;
    if (started != m.srv.nworkers)
        rc = SCEPD_EXIT_RUNTIME;
    else
        scepd_log(SCEPD_INFO, "stopped", NULL);
out:
    if (m.workers != NULL) {
        for (i = 0; i < m.srv.nworkers; i++)
            scepd_worker_free(m.workers[i]);
        free(m.workers);
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
    if (m.crlpub_ev != NULL)
        event_free(m.crlpub_ev);
    scepd_crlpub_free(m.crlpub);
    if (m.housekeep_ev != NULL)
        event_free(m.housekeep_ev);
    scepd_housekeep_free(m.housekeep);
    scepd_notify_free(m.notify);
    if (m.base != NULL)
        event_base_free(m.base);
    for (i = 0; i < SERVER_MAX_LISTENERS; i++)
        scepd_listener_free(m.listeners[i]);
    scepd_router_free(m.routes);
    scepd_router_free(m.admin_routes);
    /* After the workers, which borrow it. */
    scepd_limits_free(m.srv.limits);
    scep_replay_memory_free(m.srv.replay);
    scepd_gauges_free(m.srv.gauges);
    scepd_connlimit_free(m.srv.connlimit);
    scep_ocsp_signers_free(m.signers);
    scep_ca_free(m.ca);
    return rc;
}
