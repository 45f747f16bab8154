/*
 * scepd internals: the pieces of the server program shared between its
 * files.  main.c parses arguments and configuration, setup.c prepares
 * the state directory (CA, challenge), server.c makes the listeners and
 * workers and handles signals and CA rollover, query.c splits query
 * strings, metrics.c counts and renders Prometheus text, log.c writes
 * logfmt lines, handlers.c holds the endpoints.  The concerns with state
 * of their own have their own header and opaque type: listener.h (an
 * address, plain or TLS, and its route table), route.h (path ->
 * handler), request.h (what a handler sees and how it replies), http.h
 * (a listener served on one worker), conn.h (connection accounting),
 * connguard.h (its defences against connections held to exhaust it),
 * connlimit.h (the per-client counts and partial-request memory all
 * workers share),
 * worker.h (one worker thread), crlpub.h (the CRL publisher), fetch.h
 * (a worker's asynchronous HTTP client, for webhooks), notify.h (the
 * expiry notification thread), gauges.h (the /metrics gauges the
 * background jobs set).
 * Nothing here is part of libscep.
 *
 * How a request travels: a listener's socket is shared by every worker;
 * the worker whose accept wins makes the connection (conn.c: counted,
 * TLS from the listener's SSL_CTX), evhttp parses the request, http.c
 * builds the request context and looks the path up in the listener's
 * route table, the handler (handlers.c) calls the worker's SCEP service
 * and replies, and http.c writes the log line.
 */
#ifndef SCEPD_SCEPD_H
#define SCEPD_SCEPD_H

#include <stdatomic.h>
#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#include "common/server_limits.h"
#include "config/config.h"

/* The version, from CMake's project() (the same as SCEP_VERSION_STRING). */
#ifndef SCEPD_VERSION
#define SCEPD_VERSION "unknown"
#endif

/* Exit codes, documented in --help and scepd(8). */
#define SCEPD_EXIT_OK 0
#define SCEPD_EXIT_RUNTIME 1
#define SCEPD_EXIT_USAGE 2

/* ---- log.c --------------------------------------------------------- */

enum scepd_level { SCEPD_DEBUG = 0, SCEPD_INFO = 1, SCEPD_WARN = 2, SCEPD_ERROR = 3 };

/* One logfmt line under construction; written with a single write(2). */
struct scepd_logline {
    char buf[2048];
    size_t len;
    int level;
    int truncated;
};

/* Sets the least severe level written ("debug", "info", "warn", "error").
 * Returns 0, or -1 for an unknown name. */
int scepd_log_set_level(const char *name);
/* Returns 1 when lines of level are written. */
int scepd_log_enabled(int level);
/* Starts a line: time, level, msg. */
void scepd_log_begin(struct scepd_logline *l, int level, const char *msg);
/* Appends key=value, quoting and escaping as logfmt needs; NULL: empty. */
void scepd_log_str(struct scepd_logline *l, const char *key, const char *value);
/* Appends key=value for the first len bytes of value (untrusted bytes). */
void scepd_log_mem(struct scepd_logline *l, const char *key, const char *value, size_t len);
void scepd_log_int(struct scepd_logline *l, const char *key, long long value);
void scepd_log_double(struct scepd_logline *l, const char *key, double value);
/* Finishes the line and writes it to stderr in one write(2). */
void scepd_log_end(struct scepd_logline *l);
/* Shorthand: one line with msg and key/value string pairs, NULL-ended. */
void scepd_log(int level, const char *msg, ...) __attribute__((sentinel));

/* ---- query.c ------------------------------------------------------- */

enum scepd_op {
    SCEPD_OP_NONE = -1,   /* no operation= parameter */
    SCEPD_OP_UNKNOWN = 0, /* an operation we do not serve */
    SCEPD_OP_GETCACAPS,
    SCEPD_OP_GETCACERT,
    SCEPD_OP_GETNEXTCACERT,
    SCEPD_OP_PKIOPERATION,
    SCEPD_OP_COUNT
};

/* The parameters scepd reads from a query string; pointers borrow from it. */
struct scepd_query {
    int op;              /* enum scepd_op */
    const char *message; /* raw (still escaped) message= value, NULL if absent */
    size_t message_len;
};

/* Splits the raw query string q (len bytes, no '?') on '&'.  Never fails:
 * unknown parameters are ignored. */
void scepd_query_parse(const char *q, size_t len, struct scepd_query *out);
/* The RFC spelling of op ("GetCACaps", ...), "unknown" or "none". */
const char *scepd_op_name(int op);

/* ---- metrics.c ----------------------------------------------------- */

enum scepd_outcome {
    SCEPD_OUT_SUCCESS = 0,
    SCEPD_OUT_FAILURE,
    SCEPD_OUT_PENDING,
    SCEPD_OUT_ERROR,
    SCEPD_OUT_COUNT
};

#define SCEPD_FAIL_INFO_COUNT 5
#define SCEPD_HIST_BUCKETS 10

/* Which rate limit refused a request (scepd_rate_limited_total{limit}). */
enum scepd_limit_kind {
    SCEPD_LIMIT_ADDRESS = 0,
    SCEPD_LIMIT_CHALLENGE,
    SCEPD_LIMIT_ADMIN_AUTH, /* the admin API's failed authentications (limits.h) */
    SCEPD_LIMIT_COUNT
};

/* Why an admin API authentication failed (scepd_admin_auth_failures_total). */
enum scepd_auth_fail {
    SCEPD_AUTH_UNKNOWN = 0, /* no such token, or not a bearer credential */
    SCEPD_AUTH_REVOKED,
    SCEPD_AUTH_EXPIRED,
    SCEPD_AUTH_FAIL_COUNT
};

/* What the enrollment policy decided (scepd_enrollment_decisions_total). */
enum scepd_decision {
    SCEPD_DECISION_ALLOW = 0,
    SCEPD_DECISION_DENY,
    SCEPD_DECISION_PENDING,
    SCEPD_DECISION_RATE_LIMITED,
    SCEPD_DECISION_COUNT
};

/* What let an allowed enrollment through (the via label of allows). */
enum scepd_via {
    SCEPD_VIA_NONE = -1, /* not an allow */
    SCEPD_VIA_STATIC = 0,
    SCEPD_VIA_ONE_TIME,
    SCEPD_VIA_WEBHOOK,
    SCEPD_VIA_RENEWAL,
    SCEPD_VIA_OPEN,
    SCEPD_VIA_COUNT
};

/* Profiles counted by name per worker; more, and names that are NULL,
 * empty or longer than SCEPD_METRICS_PROFILE_NAME - 1 bytes, are counted
 * under profile="other", so a scrape stays bounded. */
#define SCEPD_METRICS_MAX_PROFILES 64
#define SCEPD_METRICS_PROFILE_NAME 64
/* Row of the decision counters for profile="other". */
#define SCEPD_METRICS_OTHER SCEPD_METRICS_MAX_PROFILES

/* One worker's counters.  Only that worker writes them (relaxed atomic
 * adds, so no lock on the hot path); a scrape sums every worker's. */
struct scepd_metrics {
    _Atomic uint64_t requests[SCEPD_OP_COUNT][SCEPD_OUT_COUNT];
    _Atomic uint64_t refusals[SCEPD_FAIL_INFO_COUNT];
    _Atomic uint64_t issue_buckets[SCEPD_HIST_BUCKETS]; /* non-cumulative */
    _Atomic uint64_t issue_count;
    _Atomic uint64_t issue_sum_ns;
    _Atomic int64_t conns_open;      /* gauge: connections open now */
    _Atomic uint64_t conns_accepted; /* connections evhttp took on */
    _Atomic uint64_t accept_errors;  /* accept(2) failures (EMFILE, ...) */
    _Atomic uint64_t accept_paused;  /* times accepting paused at max_connections */
    _Atomic uint64_t read_deadlines; /* connections closed at the read deadline */
    /* Connections closed at once: over max_connections_per_client. */
    _Atomic uint64_t conns_refused_per_client;
    /* Connections closed early: idle in a nearly full worker; holding
     * the most of partial requests over max_header_memory. */
    _Atomic uint64_t conns_shed_idle;
    _Atomic uint64_t conns_shed_memory;
    _Atomic uint64_t rate_limited[SCEPD_LIMIT_COUNT];
    _Atomic uint64_t auth_failures[SCEPD_AUTH_FAIL_COUNT]; /* admin API */
    /* Profile names this worker has counted, in the order it met them:
     * names[i] is written before nprofiles is raised past i (release),
     * and never changes afterwards, so a scrape on another worker reads
     * names[0 .. nprofiles) after an acquire load without a lock. */
    char profile_names[SCEPD_METRICS_MAX_PROFILES][SCEPD_METRICS_PROFILE_NAME];
    _Atomic size_t nprofiles;
    /* Rows: profile_names[i], and SCEPD_METRICS_OTHER.  An allow is
     * counted in allows[][via] only, every other decision in decisions[]. */
    _Atomic uint64_t decisions[SCEPD_METRICS_MAX_PROFILES + 1][SCEPD_DECISION_COUNT];
    _Atomic uint64_t allows[SCEPD_METRICS_MAX_PROFILES + 1][SCEPD_VIA_COUNT];
};

/* Maps the service's outcome text to enum scepd_outcome. */
int scepd_outcome_from_text(const char *outcome);
void scepd_metrics_request(struct scepd_metrics *m, int op, int outcome);
void scepd_metrics_refusal(struct scepd_metrics *m, int fail_info);
void scepd_metrics_issuance(struct scepd_metrics *m, double seconds);
/* Counts one request refused by limit kind (enum scepd_limit_kind). */
void scepd_metrics_rate_limited(struct scepd_metrics *m, int kind);
/* Counts one failed admin API authentication (enum scepd_auth_fail). */
void scepd_metrics_auth_failure(struct scepd_metrics *m, int why);
/*
 * Counts one enrollment decision (enum scepd_decision) under profile;
 * via (enum scepd_via) says what allowed it and is ignored for other
 * decisions.  An out-of-range decision, or an allow without a valid via,
 * is not counted.  A profile m has not seen is added to its table; call
 * only from the worker that owns m (like every scepd_metrics_* counter).
 */
void scepd_metrics_decision(struct scepd_metrics *m, const char *profile, int decision, int via);
/*
 * Adds the n profile names (the configured profiles) to m's table, so
 * that their series are rendered, at zero, before the first decision.
 * Call before m's worker thread starts, or from that thread.
 */
void scepd_metrics_profiles(struct scepd_metrics *m, const char *const *names, size_t n);

struct evbuffer;
/* Appends the Prometheus text (format 0.0.4) of the sum of n workers'
 * metrics to out.  Returns 0 or -1 when out cannot grow. */
int scepd_metrics_render(struct scepd_metrics *const *m, size_t n, struct evbuffer *out);

/* ---- server.c ------------------------------------------------------ */

struct scepd_limits;       /* limits.h */
struct scepd_connlimit;    /* connlimit.h */
struct scep_replay_memory; /* lib/service/service.h */

/*
 * What every worker may read of the whole server.  main fills it before
 * the worker threads start; afterwards nobody writes it (the metrics it
 * points at are written only by their own worker).
 */
struct scepd_server {
    const struct scep_config *cfg;
    int nworkers;
    struct scepd_metrics *metrics_ptrs[SCEP_MAX_WORKERS];
    /* The process's rate limits (limits.h; shared, they lock
     * themselves); NULL: none.  Freed by scepd_serve(). */
    struct scepd_limits *limits;
    /* Refused messages remembered for every worker (lib/service's
     * scep_replay_memory; each worker's service holds a reference). */
    struct scep_replay_memory *replay;
    /* Per-client connection counts and the memory of partial requests,
     * which every worker's connection accounting shares (connlimit.h;
     * it locks itself).  Freed by scepd_serve(). */
    struct scepd_connlimit *connlimit;
    /* The gauges the background jobs set and /metrics renders
     * (gauges.h; they lock themselves).  Freed by scepd_serve(). */
    struct scepd_gauges *gauges;
    /* The database file as opened (see scepd_store_present). */
    int db_watch;
    dev_t db_dev;
    ino_t db_ino;
};

/*
 * Returns 1 when the database file scepd opened is still the one at its
 * path (not deleted or replaced under the running server), or when it
 * cannot be watched (not a file); 0 when it is gone.  A store writing to
 * an unlinked file would report success for certificates that vanish at
 * the next start.
 */
int scepd_store_present(const struct scepd_server *srv);

/* ---- handlers.c ---------------------------------------------------- */

struct scepd_fetcher;
/*
 * What a route handler (route.h) reaches on the worker it runs on: the
 * worker's SCEP service, counters and HTTP client (fetch.h: webhook
 * calls on the worker's event loop, for deferred replies), and the
 * server's read-only part.  Owned by the worker; handlers borrow it for
 * one request.
 */
struct scepd_app {
    const struct scepd_server *srv;
    struct scep_service *svc;
    struct scepd_metrics *metrics;
    struct scepd_limits *limits;   /* srv->limits, borrowed; NULL: no limits */
    struct scepd_fetcher *fetcher; /* the worker's, borrowed (fetch.h) */
    struct scep_store *store;      /* the worker's store connection, borrowed (admin API) */
};

struct scepd_router;
/* Adds scepd's routes (SCEP under prefix and /cgi-bin/pkiclient.exe,
 * /healthz, /metrics when with_metrics, /crl, /ocsp) to r.  Returns 0
 * or -1. */
int scepd_routes_scep(struct scepd_router *r, const char *prefix, int with_metrics);

/* Adds /healthz and /metrics only (a listener's health and counters). */
int scepd_routes_health(struct scepd_router *r, int with_metrics);

struct scepd_request;
/* The handler of /metrics, for a table that guards it (api.c). */
void scepd_metrics_handler(struct scepd_request *req, struct scepd_app *app);

/*
 * Runs the server until SIGTERM/SIGINT: listener, workers, ready line,
 * rollover timer.  ca is the loaded CA (a reference is taken).  Returns
 * an exit code (SCEPD_EXIT_*).
 */
struct scep_ca;
int scepd_serve(const struct scep_config *cfg, struct scep_ca *ca, const char *challenge_note);

/* ---- setup.c ------------------------------------------------------- */

/*
 * First-start preparation of cfg->state_dir: makes it (0700), creates
 * the CA if missing, settles the challenge (configured, read from
 * STATE/challenge, or generated there once), then loads the CA.
 * *note receives the line to print about the challenge (static buffer
 * owned by the caller, size notelen).  *ca: scep_ca_free().  Returns an
 * exit code; messages for the operator go to stderr.
 */
int scepd_setup(struct scep_config *cfg, struct scep_ca **ca, char *note, size_t notelen);

/* Lowercase hex SHA-256 of ca's certificate into out; "" on failure. */
void scepd_ca_fingerprint(const struct scep_ca *ca, char out[65]);

#endif
