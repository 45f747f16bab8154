/*
 * scepd internals: the pieces of the server program shared between its
 * files.  main.c parses arguments and configuration, setup.c prepares the
 * state directory (CA, challenge), server.c owns the listening socket,
 * the worker threads, signals and CA rollover, http.c answers requests,
 * query.c splits query strings, metrics.c counts and renders Prometheus
 * text, log.c writes logfmt lines.  Nothing here is part of libscep.
 */
#ifndef SCEPD_SCEPD_H
#define SCEPD_SCEPD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <scep/limits.h>
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
void scepd_log(int level, const char *msg, ...);

/* ---- query.c ------------------------------------------------------- */

enum scepd_op {
    SCEPD_OP_NONE = -1,     /* no operation= parameter */
    SCEPD_OP_UNKNOWN = 0,   /* an operation we do not serve */
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

/* One worker's counters.  Only that worker writes them (relaxed atomic
 * adds, so no lock on the hot path); a scrape sums every worker's. */
struct scepd_metrics {
    _Atomic uint64_t requests[SCEPD_OP_COUNT][SCEPD_OUT_COUNT];
    _Atomic uint64_t refusals[SCEPD_FAIL_INFO_COUNT];
    _Atomic uint64_t issue_buckets[SCEPD_HIST_BUCKETS]; /* non-cumulative */
    _Atomic uint64_t issue_count;
    _Atomic uint64_t issue_sum_ns;
};

/* Maps the service's outcome text to enum scepd_outcome. */
int scepd_outcome_from_text(const char *outcome);
void scepd_metrics_request(struct scepd_metrics *m, int op, int outcome);
void scepd_metrics_refusal(struct scepd_metrics *m, int fail_info);
void scepd_metrics_issuance(struct scepd_metrics *m, double seconds);

struct evbuffer;
/* Appends the Prometheus text (format 0.0.4) of the sum of n workers'
 * metrics to out.  Returns 0 or -1 when out cannot grow. */
int scepd_metrics_render(struct scepd_metrics *const *m, size_t n, struct evbuffer *out);

/* ---- server.c / http.c --------------------------------------------- */

struct scepd_server;

/* One worker thread: its own event loop, HTTP server, store connection
 * and service.  Only its own thread touches it once running. */
struct scepd_worker {
    int id;
    struct scepd_server *srv;
    pthread_t thread;
    int thread_started;
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *bound;
    struct event *stop_ev;
    struct event *drain_timer;
    struct scep_store *store;
    struct scep_service *svc;
    int stopping;
    long in_flight; /* replies sent but not yet written out */
    struct scepd_metrics metrics;
};

struct scepd_server {
    const struct scep_config *cfg;
    char prefix[256];    /* path_prefix without a trailing '/' ("" for "/") */
    int nworkers;
    struct scepd_worker *workers;
    struct scepd_metrics *metrics_ptrs[SCEP_MAX_WORKERS];
};

/* Installs the request handler on w->http. */
void scepd_http_init(struct scepd_worker *w);
/* Called from a worker when a reply has been written out. */
void scepd_worker_reply_done(struct scepd_worker *w);

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
