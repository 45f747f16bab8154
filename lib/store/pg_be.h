/*
 * Internals of the PostgreSQL backend, shared by its files and seen
 * nowhere outside lib/store/:
 *   pg_base.c      the connection (open, session settings, reconnecting
 *                  with backoff after a loss), parameters and results,
 *                  transactions, error capture, commit-with-audit, and
 *                  the struct scep_store_ops that store.c dispatches to;
 *   pg_certs.c     certificates, revocation, un-hold, CRL numbers;
 *   pg_requests.c  requests held for approval;
 *   pg_audit.c     the hash-chained audit table;
 *   pg_challenges.c one-time enrollment challenges and the consuming of
 *                  one use;
 *   pg_notices.c   expiry notices: claims, outcomes;
 *   pg_migrate.c   the versioned schema.
 * The files mirror the SQLite backend's (sqlite_be.h) one for one, and
 * the tables and their columns are the same, in PostgreSQL's types.
 *
 * One struct pg_be is one libpq connection, used by one thread at a
 * time.  Every statement is sent with PQexecParams(): values travel as
 * parameters (text, or binary for bytea), never inside the SQL, and
 * every result comes back in binary form, so DER needs no escaping and
 * integers no parsing.
 */
#ifndef SCEP_STORE_PG_BE_H
#define SCEP_STORE_PG_BE_H

#include <libpq-fe.h>

#include "store_backend.h"

/*
 * Advisory locks (pg_advisory_lock(int4, int4)): the first key says
 * "scepd" ('scep' as a big-endian int4), the second what is locked.
 * Advisory locks are per database, so stores in different databases of
 * one server do not contend.
 */
#define PG_LOCK_CLASS 1935893872 /* 0x73636570, "scep" */
#define PG_LOCK_MIGRATE 1        /* session lock while the schema is migrated */
#define PG_LOCK_AUDIT 2          /* transaction lock while the audit chain grows */

/* The most parameters one statement takes (a certificate's insert: 21
 * columns; list_certs with every filter and a page position: 18). */
#define PG_MAXPARAMS 32

/* The parameters of one statement: pointers borrowed from the caller
 * (strings, bytea) or into num[] (integers written out as decimal). */
struct pg_params {
    int n;
    int overflow; /* set when more than PG_MAXPARAMS were added */
    const char *values[PG_MAXPARAMS];
    int lengths[PG_MAXPARAMS];
    int formats[PG_MAXPARAMS];
    char num[PG_MAXPARAMS][24];
};

struct pg_be {
    PGconn *conn;
    char *secret;        /* the URI's password, kept only to scrub it from messages */
    int version;         /* schema version after migrations */
    int in_tx;           /* inside pg_begin() ... pg_commit()/pg_rollback() */
    int session_ok;      /* the session settings hold on this connection */
    int64_t crl_locked;  /* key of the CRL lock this session holds (pg_crls.c), 0 none */
    int64_t retry_at;    /* CLOCK_MONOTONIC ms: no reconnect attempt before this */
    int64_t backoff;     /* ms between reconnect attempts; 0 while connected */
    char sqlstate[6];    /* SQLSTATE of the last failed statement, "" if none */
    char constraint[64]; /* the constraint it broke, "" if none */
    char err[512];       /* last failure, for scep_store_last_error() */
};

/* Adds a text parameter; s NULL is SQL NULL.  s is borrowed until the
 * statement has run. */
void pg_param_str(struct pg_params *p, const char *s);

/* Adds an integer parameter (written into p, nothing borrowed). */
void pg_param_int(struct pg_params *p, int64_t v);

/* Adds a binary bytea parameter of len bytes; borrowed like a string. */
void pg_param_bytes(struct pg_params *p, const unsigned char *b, size_t len);

/*
 * Records "what: message" in be->err, the message being the server's
 * (res not NULL) or the connection's, on one line and with the password
 * of the URI scrubbed; also sets be->sqlstate and be->constraint from
 * res.  Returns SCEP_ERR_STORE.
 */
int pg_fail(struct pg_be *be, const char *what, const PGresult *res);

/*
 * Runs sql with parameters p (NULL: none), results in binary form.
 * Outside a transaction a lost connection is first re-established
 * (pg_ready()), and a statement that only then finds the connection
 * dead is sent once more on a new one; inside a transaction neither,
 * since the transaction died with the connection.  Returns 0 with *out
 * set to the result (free with PQclear(); out may be NULL when no rows
 * are wanted), or SCEP_ERR_STORE (SCEP_ERR_UNAVAILABLE when the
 * connection is gone) with be->err, be->sqlstate and be->constraint
 * saying why.
 */
int pg_exec(struct pg_be *be, const char *sql, const struct pg_params *p, const char *what,
            PGresult **out);

/*
 * Makes sure the connection is usable: after a loss it calls PQreset()
 * and sets the session up again, at most once per backoff interval
 * (doubling from PG_BACKOFF_MIN_MS to PG_BACKOFF_MAX_MS while the server
 * stays away).  0 or SCEP_ERR_STORE.
 */
int pg_ready(struct pg_be *be);

/* BEGIN (READ COMMITTED: each statement sees what committed before it
 * started; the rows and locks named in each file make that enough).
 * 0 or SCEP_ERR_STORE. */
int pg_begin(struct pg_be *be);

/* BEGIN with the given statement ("BEGIN ISOLATION LEVEL ..."). */
int pg_begin_with(struct pg_be *be, const char *sql);

/* COMMIT; a COMMIT the server answers with ROLLBACK (the transaction had
 * failed) is a failure too.  Ends the transaction either way.  0 or
 * SCEP_ERR_STORE. */
int pg_commit(struct pg_be *be);

/* ROLLBACK if a transaction is open; keeps be->err as it was. */
void pg_rollback(struct pg_be *be);

/* Appends ev (NULL: none) to the audit chain and commits, so that a
 * change and its audit event commit together.  0 or the failure; the
 * caller rolls back on failure. */
int pg_commit_audited(struct pg_be *be, const struct scep_audit_event *ev);

/* Runs the purge sql (a DELETE with one integer parameter $1 = v) as
 * sq_purge() does (sqlite_be.h).  0 or SCEP_ERR_*. */
int pg_purge(struct pg_be *be, const char *sql, int64_t v, const char *what, int only_if_any,
             int64_t *purged, const struct scep_audit_event *ev);

/* 1 if the last failure was a unique violation of constraint name. */
int pg_unique_violation(const struct pg_be *be, const char *name);

/* The number of rows an INSERT/UPDATE/DELETE result says it touched. */
int64_t pg_changes(PGresult *res);

/* Reads integer column col of row (int2, int4 or int8 in binary form)
 * into *out.  0, or SCEP_ERR_STORE for SQL NULL or another type. */
int pg_int(const PGresult *res, int row, int col, int64_t *out);

/* Copies text column col of row into a fresh string (NULL for SQL
 * NULL).  *out: free().  0 or SCEP_ERR_NOMEM. */
int pg_dup_str(const PGresult *res, int row, int col, char **out);

/* Copies bytea column col of row into a fresh buffer.  *out: free().
 * 0, SCEP_ERR_NOMEM, or SCEP_ERR_STORE when it is NULL or empty. */
int pg_dup_bytes(const PGresult *res, int row, int col, unsigned char **out, size_t *len);

/* The certificate ops (pg_certs.c); contracts as in store.h. */
int pg_insert_cert(void *be, const struct scep_cert_info *ci, const struct scep_audit_event *ev);
int pg_insert_certs(void *be, const struct scep_cert_info *cis, size_t n,
                    const struct scep_audit_event *ev);
int pg_get_cert(void *be, const char *serial, struct scep_cert_info **out);
int pg_get_cert_by_fingerprint(void *be, const char *fingerprint, struct scep_cert_info **out);
int pg_get_cert_by_transaction(void *be, const char *transaction_id, struct scep_cert_info **out);
int pg_list_certs(void *be, const struct scep_cert_filter *f, scep_store_cert_cb cb, void *arg);
int pg_revoke(void *be, const char *serial, int reason, int64_t at,
              const struct scep_audit_event *ev);
int pg_unhold(void *be, const char *serial, const struct scep_audit_event *ev);
int pg_next_crl_number(void *be, int64_t *out);

/* The published CRLs (pg_crls.c); contracts as in store.h. */
int pg_get_crl(void *be, const char *issuer_fp, struct scep_store_crl *out);
int pg_put_crl(void *be, const struct scep_store_crl *c);
int pg_try_lock_crl(void *be, const char *issuer_fp, int *got);
int pg_unlock_crl(void *be);

/*
 * Inserts ci into the certificates table inside the caller's
 * transaction (pg_certs.c); the one insert path shared by insert_cert
 * and issue_request.  0, SCEP_ERR_EXISTS for a known serial,
 * SCEP_ERR_TRANSID_REUSE when ci->transaction_id already has a
 * certificate (be->err says which), SCEP_ERR_TOO_LARGE, or
 * SCEP_ERR_STORE; the caller rolls back on failure.
 */
int pg_cert_insert_row(struct pg_be *be, const struct scep_cert_info *ci);

/* Appends ev to the audit chain inside the caller's transaction
 * (pg_audit.c).  0 or SCEP_ERR_STORE. */
int pg_audit_append(struct pg_be *be, const struct scep_audit_event *ev);

/* The audit ops (pg_audit.c); contracts as in store.h. */
int pg_audit(void *be, const struct scep_audit_event *ev);
int pg_list_audit(void *be, int64_t after_id, scep_store_audit_cb cb, void *arg);
int pg_verify_audit(void *be, int64_t *bad_id);

/* The request ops (pg_requests.c); contracts as in store.h. */
int pg_add_request(void *be, const struct scep_request_info *ri, const struct scep_audit_event *ev,
                   int64_t *id);
int pg_get_request(void *be, int64_t id, struct scep_request_info **out);
int pg_get_request_by_transaction(void *be, const char *transaction_id,
                                  struct scep_request_info **out);
int pg_list_requests(void *be, int status, scep_store_request_cb cb, void *arg);
int pg_decide_request(void *be, int64_t id, int status, const char *actor, const char *reason,
                      const struct scep_audit_event *ev);
int pg_issue_request(void *be, int64_t id, const struct scep_cert_info *ci,
                     const struct scep_audit_event *ev);

/*
 * Consumes one use of challenge id inside the caller's transaction
 * (pg_challenges.c), with the one statement both backends run: the
 * UPDATE takes the row lock, and a second transaction waiting on it
 * re-checks the WHERE clause on the row as the first left it, so a
 * challenge with one use left admits one enrollment however many nodes
 * race.  0, SCEP_ERR_CHALLENGE (be->err says so) when no row changed,
 * or SCEP_ERR_STORE; the caller rolls back on failure.
 */
int pg_challenge_consume(struct pg_be *be, int64_t id, int64_t now,
                         const struct scep_audit_event *like);

/* The challenge ops (pg_challenges.c); contracts as in store.h. */
int pg_add_challenge(void *be, const struct scep_challenge_info *ci,
                     const struct scep_audit_event *ev, int64_t *id);
int pg_get_challenge(void *be, int64_t id, const char *hash, struct scep_challenge_info **out);
int pg_list_challenges(void *be, int include_spent, int64_t now, scep_store_challenge_cb cb,
                       void *arg);
int pg_revoke_challenge(void *be, int64_t id, int64_t at, const struct scep_audit_event *ev);
int pg_purge_challenges(void *be, int64_t now, int64_t *purged, const struct scep_audit_event *ev);
int pg_purge_requests(void *be, int64_t before, int64_t *purged, const struct scep_audit_event *ev);

/* The expiry listing and the counts for gauges (pg_certs.c), and the
 * expiry notices (pg_notices.c); contracts as in store.h. */
int pg_list_expiring(void *be, int64_t now, int64_t until, scep_store_expiring_cb cb, void *arg);
int pg_count_certs(void *be, int64_t now, int64_t within, struct scep_cert_counts *out);
int pg_notice_claim(void *be, const struct scep_notice_key *k, int64_t not_after,
                    const char *claimer, int64_t now, int64_t lease_until, int64_t *attempt);
int pg_notice_finish(void *be, const struct scep_notice_key *k, const char *claimer,
                     int64_t attempt, int sent, int64_t now, int64_t next_attempt_at,
                     const char *error);
int pg_get_notice(void *be, const struct scep_notice_key *k, struct scep_notice_info **out);

/* Brings the schema up to the newest version this code knows under the
 * migration advisory lock, one transaction per step, and sets
 * be->version (pg_migrate.c).  SCEP_ERR_STORE if the database is newer
 * than the code, or fails; be->err says which. */
int pg_migrate(struct pg_be *be);

/* The token ops (pg_tokens.c); contracts as in store.h. */
int pg_add_token(void *be, const struct scep_token_info *ti, const struct scep_audit_event *ev,
                 int64_t *id);
int pg_get_token(void *be, const char *hash, const char *name, struct scep_token_info **out);
int pg_list_tokens(void *be, scep_store_token_cb cb, void *arg);
int pg_revoke_token(void *be, const char *name, int64_t at, const struct scep_audit_event *ev);
int pg_touch_token(void *be, int64_t id, int64_t at);

/* The statistics ops (pg_stats.c); contracts as in store.h. */
int pg_count_certs_by_group(void *be, int64_t now, scep_store_group_cb cb, void *arg);
int pg_cert_histogram(void *be, int what, int64_t start, int64_t width, size_t n, int64_t *counts);

/* Copying a store (store.h, "Copying a store"; pg_copy.c). */
int pg_import_begin(void *be, char *why, size_t whylen);
int pg_import_row(void *be, const struct scep_store_table *t, const struct scep_store_value *row);
int pg_import_commit(void *be, const struct scep_audit_event *ev);
void pg_import_abort(void *be);

#endif
