/*
 * The PostgreSQL backend's base: one libpq connection per struct pg_be
 * (one per worker thread), opened and set up here, with the helpers
 * every other pg_*.c file builds on (parameters, binary results,
 * transactions, error capture, commit-with-audit) and the struct
 * scep_store_ops that store.c dispatches to.  What the tables hold and
 * how they change lives in pg_certs.c, pg_requests.c, pg_audit.c and
 * pg_migrate.c.
 *
 * Durability: every session runs with synchronous_commit = on, so
 * COMMIT returns only once the server has flushed the commit record to
 * its WAL (and, with synchronous standbys configured, once they have):
 * a certificate is on disk before its CertRep leaves.  Every write is
 * one transaction; any failing statement rolls all of it back.
 *
 * A lost connection (the server restarted, a network fault) fails the
 * statement that met it.  Outside a transaction the statement is then
 * sent once more on a fresh connection, so a server restart costs no
 * request; inside one the operation fails with SCEP_ERR_STORE (scepd
 * answers 500, see STORE FAILURES in scepd(8)) and nothing of it is
 * written.  While the server stays
 * away, reconnecting is tried at most once per backoff interval, which
 * doubles from PG_BACKOFF_MIN_MS to PG_BACKOFF_MAX_MS, so that a worker
 * does not spend every request waiting for connect_timeout.
 *
 * The URI may hold a password (discouraged: see scepd.conf(5)); it is
 * kept only to scrub it from every message this backend writes.
 */
#include "pg_be.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include <scep/error.h>

/* Between reconnect attempts while the server is away. */
#define PG_BACKOFF_MIN_MS 250
#define PG_BACKOFF_MAX_MS 5000

/*
 * Connection defaults, given to libpq before the URI so that the URI's
 * own settings (and, where one exists, the environment variable named
 * here) win.  A connect or a dead peer must not hang a worker for
 * minutes: connect_timeout bounds the first, TCP keepalives the second.
 */
static const struct {
    const char *key;
    const char *value;
    const char *env; /* when set, libpq's own default from it stands */
} conn_defaults[] = {
    {"connect_timeout", "10", "PGCONNECT_TIMEOUT"},
    {"keepalives_idle", "30", NULL},
    {"keepalives_interval", "10", NULL},
    {"keepalives_count", "3", NULL},
    {"client_encoding", "UTF8", "PGCLIENTENCODING"},
    {"fallback_application_name", "scepd", NULL},
};

#define NDEFAULTS (sizeof(conn_defaults) / sizeof(conn_defaults[0]))

static int64_t mono_ms(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Adds a text parameter; see pg_be.h. */
void pg_param_str(struct pg_params *p, const char *s)
{
    if (p->n >= PG_MAXPARAMS) {
        p->overflow = 1;
        return;
    }
    p->values[p->n] = s;
    p->lengths[p->n] = 0;
    p->formats[p->n] = 0;
    p->n++;
}

/* Adds an integer parameter as decimal text; see pg_be.h. */
void pg_param_int(struct pg_params *p, int64_t v)
{
    if (p->n >= PG_MAXPARAMS) {
        p->overflow = 1;
        return;
    }
    snprintf(p->num[p->n], sizeof(p->num[p->n]), "%lld", (long long)v);
    pg_param_str(p, p->num[p->n]);
}

/* Adds a binary parameter; see pg_be.h.  Lengths beyond INT32_MAX are
 * the caller's to refuse (SCEP_ERR_TOO_LARGE). */
void pg_param_bytes(struct pg_params *p, const unsigned char *b, size_t len)
{
    if (p->n >= PG_MAXPARAMS || len > (size_t)INT32_MAX) {
        p->overflow = 1;
        return;
    }
    p->values[p->n] = (const char *)b;
    p->lengths[p->n] = (int)len;
    p->formats[p->n] = 1;
    p->n++;
}

/* Overwrites every occurrence of secret (NULL or "": none) in buf with
 * '*', in place. */
static void scrub(char *buf, const char *secret)
{
    size_t n;
    char *hit;

    if (secret == NULL || secret[0] == '\0')
        return;
    n = strlen(secret);
    while ((hit = strstr(buf, secret)) != NULL)
        memset(hit, '*', n);
}

/* Copies msg into buf as one line: each run of white space that holds a
 * line break becomes "; " (libpq puts hints on lines of their own), a
 * trailing one is dropped, and other control bytes become '?'. */
static void one_line(char *buf, size_t len, const char *msg)
{
    size_t o = 0;
    int nl;

    if (len == 0)
        return;
    while (*msg != '\0' && o + 1 < len) {
        if (isspace((unsigned char)*msg)) {
            nl = 0;
            while (*msg != '\0' && isspace((unsigned char)*msg)) {
                nl |= *msg == '\n';
                msg++;
            }
            if (*msg == '\0')
                break;
            if (nl && o + 2 < len) {
                buf[o++] = ';';
                buf[o++] = ' ';
            } else {
                buf[o++] = ' ';
            }
            continue;
        }
        buf[o++] = iscntrl((unsigned char)*msg) ? '?' : *msg;
        msg++;
    }
    buf[o] = '\0';
}

/* Copies a diagnostic field of res (may be NULL) into buf, "" if none. */
static void diag(const PGresult *res, int field, char *buf, size_t len)
{
    const char *v = res != NULL ? PQresultErrorField(res, field) : NULL;

    snprintf(buf, len, "%s", v != NULL ? v : "");
}

/* Records a failure; see pg_be.h.  The server's primary message is the
 * useful part ("duplicate key value violates ..."); libpq's own errors
 * (a lost connection) have none, and its whole text is used. */
int pg_fail(struct pg_be *be, const char *what, const PGresult *res)
{
    const char *msg = NULL;
    char line[sizeof(be->err)];

    diag(res, PG_DIAG_SQLSTATE, be->sqlstate, sizeof(be->sqlstate));
    diag(res, PG_DIAG_CONSTRAINT_NAME, be->constraint, sizeof(be->constraint));
    if (res != NULL)
        msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    if ((msg == NULL || msg[0] == '\0') && res != NULL)
        msg = PQresultErrorMessage(res);
    if ((msg == NULL || msg[0] == '\0') && be->conn != NULL)
        msg = PQerrorMessage(be->conn);
    if (msg == NULL || msg[0] == '\0')
        msg = be->conn != NULL ? "unknown failure" : "out of memory";
    one_line(line, sizeof(line), msg);
    /* Cut to the buffer on purpose: a message is for a human. */
    if (snprintf(be->err, sizeof(be->err), "%s%s%s", what != NULL ? what : "",
                 what != NULL ? ": " : "", line) < 0)
        be->err[0] = '\0';
    scrub(be->err, be->secret);
    /* A connection that is gone says nothing about the request: the
     * caller may answer "try again" rather than "failed". */
    if (be->conn != NULL && PQstatus(be->conn) == CONNECTION_BAD)
        return SCEP_ERR_UNAVAILABLE;
    return SCEP_ERR_STORE;
}

/* Session settings, after every (re)connect.  synchronous_commit may
 * have been turned off for the database or the role; a certificate's
 * durability is not theirs to trade away. */
static int pg_session(struct pg_be *be)
{
    PGresult *res;
    int rc = 0;

    res = PQexec(be->conn, "SET synchronous_commit = on");
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = pg_fail(be, "set synchronous_commit", res);
    PQclear(res);
    be->session_ok = rc == 0;
    return rc;
}

/* After a failed reconnect: the next attempt waits longer. */
static int backoff_fail(struct pg_be *be)
{
    be->backoff = be->backoff == 0 ? PG_BACKOFF_MIN_MS : be->backoff * 2;
    if (be->backoff > PG_BACKOFF_MAX_MS)
        be->backoff = PG_BACKOFF_MAX_MS;
    be->retry_at = mono_ms() + be->backoff;
    return SCEP_ERR_UNAVAILABLE;
}

/* Re-establishes a lost connection; see pg_be.h. */
int pg_ready(struct pg_be *be)
{
    PGresult *res;
    int64_t now;

    if (PQstatus(be->conn) == CONNECTION_OK && be->session_ok) {
        /* Not ours to keep: a transaction left open outside
         * pg_begin() ... pg_commit() would swallow the next write. */
        if (!be->in_tx && PQtransactionStatus(be->conn) != PQTRANS_IDLE) {
            res = PQexec(be->conn, "ROLLBACK");
            PQclear(res);
        }
        return 0;
    }
    now = mono_ms();
    if (be->backoff > 0 && now < be->retry_at) {
        snprintf(be->err, sizeof(be->err),
                 "no connection to the server; the next attempt is in %lld ms",
                 (long long)(be->retry_at - now));
        return SCEP_ERR_UNAVAILABLE;
    }
    if (PQstatus(be->conn) != CONNECTION_OK) {
        be->session_ok = 0;
        be->crl_locked = 0; /* a session lock ends with its session */
        PQreset(be->conn);
        if (PQstatus(be->conn) != CONNECTION_OK) {
            pg_fail(be, "reconnect", NULL);
            return backoff_fail(be);
        }
    }
    /* A new session, or one whose settings failed last time. */
    if (pg_session(be) != 0)
        return backoff_fail(be);
    be->backoff = 0;
    return 0;
}

/* Sends one statement; NULL when libpq could not even build a result. */
static PGresult *pg_send(struct pg_be *be, const char *sql, const struct pg_params *p)
{
    return PQexecParams(be->conn, sql, p != NULL ? p->n : 0, NULL, p != NULL ? p->values : NULL,
                        p != NULL ? p->lengths : NULL, p != NULL ? p->formats : NULL, 1);
}

static int result_ok(const PGresult *res)
{
    ExecStatusType s = PQresultStatus(res);

    return res != NULL && (s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK);
}

/* Runs one statement; see pg_be.h. */
int pg_exec(struct pg_be *be, const char *sql, const struct pg_params *p, const char *what,
            PGresult **out)
{
    PGresult *res = NULL;
    int rc;

    if (p != NULL && p->overflow) {
        snprintf(be->err, sizeof(be->err), "%s: too many or too large parameters", what);
        return SCEP_ERR_INTERNAL;
    }
    if (be->in_tx && PQstatus(be->conn) != CONNECTION_OK) {
        snprintf(be->err, sizeof(be->err), "%s: the connection to the server was lost", what);
        return SCEP_ERR_UNAVAILABLE;
    }
    if (!be->in_tx && (rc = pg_ready(be)) != 0)
        return rc;
    res = pg_send(be, sql, p);
    /* A connection that died while idle (a server restart) is noticed
     * only now.  Outside a transaction nothing was half done: send the
     * statement once more on a fresh connection. */
    if (!result_ok(res) && !be->in_tx && PQstatus(be->conn) != CONNECTION_OK) {
        PQclear(res);
        res = NULL;
        if ((rc = pg_ready(be)) != 0)
            return rc;
        res = pg_send(be, sql, p);
    }
    if (!result_ok(res)) {
        rc = pg_fail(be, what, res);
        PQclear(res);
        return rc;
    }
    be->sqlstate[0] = '\0';
    be->constraint[0] = '\0';
    if (out != NULL)
        *out = res;
    else
        PQclear(res);
    return 0;
}

/* Starts a transaction with sql; see pg_be.h. */
int pg_begin_with(struct pg_be *be, const char *sql)
{
    int rc = pg_exec(be, sql, NULL, "begin", NULL);

    if (rc == 0)
        be->in_tx = 1;
    return rc;
}

/* Starts a READ COMMITTED transaction; see pg_be.h. */
int pg_begin(struct pg_be *be)
{
    return pg_begin_with(be, "BEGIN");
}

/* Commits; see pg_be.h. */
int pg_commit(struct pg_be *be)
{
    PGresult *res = NULL;
    int rc;

    rc = pg_exec(be, "COMMIT", NULL, "commit", &res);
    if (rc == 0 && strcmp(PQcmdStatus(res), "COMMIT") != 0) {
        snprintf(be->err, sizeof(be->err), "commit: the server rolled the transaction back");
        rc = SCEP_ERR_STORE;
    } else if (rc != 0 && PQstatus(be->conn) != CONNECTION_OK) {
        /* The COMMIT may or may not have reached the server; either way
         * the caller reports a failure and hands out nothing. */
        size_t n = strlen(be->err);

        snprintf(be->err + n, sizeof(be->err) - n, " (whether it committed is unknown)");
    }
    PQclear(res);
    if (rc != 0)
        pg_rollback(be);
    be->in_tx = 0;
    return rc;
}

/* Rolls back; see pg_be.h. */
void pg_rollback(struct pg_be *be)
{
    PGresult *res;

    be->in_tx = 0;
    if (be->conn == NULL || PQstatus(be->conn) != CONNECTION_OK ||
        PQtransactionStatus(be->conn) == PQTRANS_IDLE)
        return;
    res = PQexec(be->conn, "ROLLBACK");
    PQclear(res);
}

/* Appends ev, if any, and commits; see pg_be.h. */
int pg_commit_audited(struct pg_be *be, const struct scep_audit_event *ev)
{
    int rc;

    if (ev != NULL) {
        rc = pg_audit_append(be, ev);
        if (rc != 0)
            return rc;
    }
    return pg_commit(be);
}

/* A rare DELETE with its audit event (pg_be.h). */
int pg_purge(struct pg_be *be, const char *sql, int64_t v, const char *what, int only_if_any,
             int64_t *purged, const struct scep_audit_event *ev)
{
    struct pg_params p = {0};
    PGresult *res = NULL;
    int64_t n = 0;
    int rc;

    rc = pg_begin(be);
    if (rc != 0)
        return rc;
    pg_param_int(&p, v);
    rc = pg_exec(be, sql, &p, what, &res);
    if (rc != 0)
        goto out;
    n = pg_changes(res);
    rc = n > 0 || !only_if_any ? pg_commit_audited(be, ev) : pg_commit(be);
    if (rc != 0)
        goto out;
    *purged = n;
out:
    PQclear(res);
    if (rc != 0)
        pg_rollback(be);
    return rc;
}

/* 23505 is unique_violation; the constraint names are pg_migrate.c's. */
int pg_unique_violation(const struct pg_be *be, const char *name)
{
    return strcmp(be->sqlstate, "23505") == 0 && strcmp(be->constraint, name) == 0;
}

/* The row count of a command result ("" for other results: 0). */
int64_t pg_changes(PGresult *res)
{
    const char *t = PQcmdTuples(res);

    if (t == NULL || t[0] == '\0')
        return 0;
    return (int64_t)strtoll(t, NULL, 10);
}

/* Reads a binary int2/int4/int8 (big-endian two's complement); see
 * pg_be.h. */
int pg_int(const PGresult *res, int row, int col, int64_t *out)
{
    const unsigned char *v;
    uint64_t u = 0;
    int len, i;

    if (PQgetisnull(res, row, col))
        return SCEP_ERR_STORE;
    len = PQgetlength(res, row, col);
    if (len != 2 && len != 4 && len != 8)
        return SCEP_ERR_STORE;
    v = (const unsigned char *)PQgetvalue(res, row, col);
    for (i = 0; i < len; i++)
        u = (u << 8) | v[i];
    /* Sign-extend the narrower types. */
    if (len < 8 && (v[0] & 0x80))
        u |= ~(uint64_t)0 << (8 * len);
    *out = (int64_t)u;
    return 0;
}

/* Copies a text column; see pg_be.h.  The length is libpq's, not a
 * terminator's. */
int pg_dup_str(const PGresult *res, int row, int col, char **out)
{
    int len;
    char *p;

    *out = NULL;
    if (PQgetisnull(res, row, col))
        return 0;
    len = PQgetlength(res, row, col);
    if (len < 0)
        return SCEP_ERR_STORE;
    p = malloc((size_t)len + 1);
    if (p == NULL)
        return SCEP_ERR_NOMEM;
    memcpy(p, PQgetvalue(res, row, col), (size_t)len);
    p[len] = '\0';
    *out = p;
    return 0;
}

/* Copies a bytea column; see pg_be.h. */
int pg_dup_bytes(const PGresult *res, int row, int col, unsigned char **out, size_t *len)
{
    unsigned char *p;
    int n;

    if (PQgetisnull(res, row, col))
        return SCEP_ERR_STORE;
    n = PQgetlength(res, row, col);
    if (n <= 0)
        return SCEP_ERR_STORE;
    p = malloc((size_t)n);
    if (p == NULL)
        return SCEP_ERR_NOMEM;
    memcpy(p, PQgetvalue(res, row, col), (size_t)n);
    *out = p;
    *len = (size_t)n;
    return 0;
}

/* libpq prints the server's NOTICEs on stderr, where scepd writes its
 * logfmt lines; none of ours needs reading ("relation already exists,
 * skipping" from the migrations' IF NOT EXISTS). */
static void quiet_notice(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

static int pg_schema_version(void *vbe)
{
    return ((struct pg_be *)vbe)->version;
}

static int pg_ping(void *vbe)
{
    return pg_exec(vbe, "SELECT 1", NULL, "ping", NULL);
}

static const char *pg_last_error(void *vbe)
{
    return ((struct pg_be *)vbe)->err;
}

static void pg_close(void *vbe)
{
    struct pg_be *be = vbe;

    if (be == NULL)
        return;
    /* The CRL lock is given back first, and waited for: the server
     * drops a session's locks only once its backend has exited, a
     * moment after Terminate, and another node should not find it taken
     * in between. */
    if (!be->in_tx)
        (void)pg_unlock_crl(be);
    /* PQfinish sends Terminate; an open transaction is rolled back by
     * the server. */
    PQfinish(be->conn);
    if (be->secret != NULL) {
        OPENSSL_cleanse(be->secret, strlen(be->secret));
        free(be->secret);
    }
    free(be);
}

static const struct scep_store_ops pg_ops = {
    .name = "postgresql",
    .close = pg_close,
    .schema_version = pg_schema_version,
    .insert_cert = pg_insert_cert,
    .insert_certs = pg_insert_certs,
    .get_cert = pg_get_cert,
    .get_cert_by_fingerprint = pg_get_cert_by_fingerprint,
    .get_cert_by_transaction = pg_get_cert_by_transaction,
    .list_certs = pg_list_certs,
    .revoke = pg_revoke,
    .unhold = pg_unhold,
    .audit = pg_audit,
    .list_audit = pg_list_audit,
    .verify_audit = pg_verify_audit,
    .next_crl_number = pg_next_crl_number,
    .get_crl = pg_get_crl,
    .put_crl = pg_put_crl,
    .try_lock_crl = pg_try_lock_crl,
    .unlock_crl = pg_unlock_crl,
    .add_request = pg_add_request,
    .get_request = pg_get_request,
    .get_request_by_transaction = pg_get_request_by_transaction,
    .list_requests = pg_list_requests,
    .decide_request = pg_decide_request,
    .issue_request = pg_issue_request,
    .add_challenge = pg_add_challenge,
    .get_challenge = pg_get_challenge,
    .list_challenges = pg_list_challenges,
    .revoke_challenge = pg_revoke_challenge,
    .purge_challenges = pg_purge_challenges,
    .purge_requests = pg_purge_requests,
    .list_expiring = pg_list_expiring,
    .count_certs = pg_count_certs,
    .notice_claim = pg_notice_claim,
    .notice_finish = pg_notice_finish,
    .get_notice = pg_get_notice,
    .add_token = pg_add_token,
    .get_token = pg_get_token,
    .list_tokens = pg_list_tokens,
    .revoke_token = pg_revoke_token,
    .touch_token = pg_touch_token,
    .ping = pg_ping,
    .last_error = pg_last_error,
    .import_begin = pg_import_begin,
    .import_row = pg_import_row,
    .import_commit = pg_import_commit,
    .import_abort = pg_import_abort,
    .count_certs_by_group = pg_count_certs_by_group,
    .cert_histogram = pg_cert_histogram,
};

/*
 * The password a URI names, to scrub from messages: libpq's own parse
 * (which decodes %-escapes), and for a URI libpq cannot parse the raw
 * text between "user:" and "@".  *out: free(); NULL when there is none.
 * 0 or SCEP_ERR_NOMEM.
 */
static int uri_secret(const char *uri, char **out, char **parse_err)
{
    PQconninfoOption *opts, *o;
    const char *start, *end, *at, *colon;
    char *s = NULL;
    int found = 0;

    *out = NULL;
    opts = PQconninfoParse(uri, parse_err);
    if (opts != NULL) {
        for (o = opts; o->keyword != NULL && !found; o++) {
            if (strcmp(o->keyword, "password") == 0 && o->val != NULL && o->val[0] != '\0') {
                s = strdup(o->val);
                found = 1;
            }
        }
        PQconninfoFree(opts);
        if (found && s == NULL)
            return SCEP_ERR_NOMEM;
        *out = s;
        return 0;
    }
    start = strstr(uri, "://");
    if (start == NULL)
        return 0;
    start += 3;
    end = start + strcspn(start, "/?");
    at = NULL;
    for (colon = start; colon < end; colon++)
        if (*colon == '@')
            at = colon;
    if (at == NULL)
        return 0;
    colon = memchr(start, ':', (size_t)(at - start));
    if (colon == NULL || colon + 1 == at)
        return 0;
    s = strndup(colon + 1, (size_t)(at - colon - 1));
    if (s == NULL)
        return SCEP_ERR_NOMEM;
    *out = s;
    return 0;
}

/*
 * Connects to the server a postgresql:// or postgres:// URI names (any
 * libpq connection URI; the password from the URI, PGPASSWORD, or a
 * password file), sets the session up and migrates the schema; see
 * store_backend.h.  A failure is described in why as "postgresql: what
 * went wrong", libpq's or the server's words with the password scrubbed.
 */
int scep_store_pg_open(const char *uri, const struct scep_store_ops **ops, void **out, char *why,
                       size_t whylen)
{
    int rc = SCEP_ERR_STORE;
    struct pg_be *be = NULL;
    const char *keys[NDEFAULTS + 2], *vals[NDEFAULTS + 2];
    char *parse_err = NULL, line[256];
    size_t i, k = 0;

    be = calloc(1, sizeof(*be));
    if (be == NULL) {
        snprintf(why, whylen, "postgresql: out of memory");
        return SCEP_ERR_NOMEM;
    }
    rc = uri_secret(uri, &be->secret, &parse_err);
    if (rc != 0) {
        snprintf(be->err, sizeof(be->err), "out of memory");
        goto out;
    }
    if (parse_err != NULL) {
        one_line(line, sizeof(line), parse_err);
        snprintf(be->err, sizeof(be->err), "invalid connection URI: %s", line);
        scrub(be->err, be->secret);
        rc = SCEP_ERR_INVALID_ARG;
        goto out;
    }
    for (i = 0; i < NDEFAULTS; i++) {
        if (conn_defaults[i].env != NULL && getenv(conn_defaults[i].env) != NULL)
            continue;
        keys[k] = conn_defaults[i].key;
        vals[k++] = conn_defaults[i].value;
    }
    /* expand_dbname: the URI given as dbname is parsed into its
     * settings, which override the defaults before it. */
    keys[k] = "dbname";
    vals[k++] = uri;
    keys[k] = NULL;
    vals[k] = NULL;
    rc = SCEP_ERR_STORE;
    be->conn = PQconnectdbParams(keys, vals, 1);
    if (be->conn == NULL) {
        snprintf(be->err, sizeof(be->err), "out of memory");
        rc = SCEP_ERR_NOMEM;
        goto out;
    }
    if (PQstatus(be->conn) != CONNECTION_OK) {
        pg_fail(be, NULL, NULL);
        goto out;
    }
    /* Kept by PQreset() too. */
    (void)PQsetNoticeProcessor(be->conn, quiet_notice, NULL);
    rc = pg_session(be);
    if (rc == 0)
        rc = pg_migrate(be);
    if (rc != 0)
        goto out;
    *ops = &pg_ops;
    *out = be;
    be = NULL;
    rc = 0;
out:
    if (be != NULL)
        snprintf(why, whylen, "postgresql: %s", be->err);
    PQfreemem(parse_err);
    pg_close(be);
    return rc;
}
