/*
 * Internals of the SQLite backend, shared by its files and seen nowhere
 * outside lib/store/:
 *   sqlite_base.c      the connection (open, PRAGMAs, busy handling),
 *                      cached statements, transactions, error capture,
 *                      the one-row lookup, commit-with-audit, and the
 *                      struct scep_store_ops that store.c dispatches to;
 *   sqlite_certs.c     certificates, revocation, un-hold, CRL numbers;
 *   sqlite_requests.c  requests held for approval;
 *   sqlite_audit.c     the hash-chained audit table;
 *   sqlite_challenges.c one-time enrollment challenges and the consuming
 *                      of one use;
 *   sqlite_notices.c   expiry notices: claims, outcomes;
 *   sqlite_migrate.c   the versioned schema.
 *
 * One struct sq_be is one connection, used by one thread at a time
 * (opened SQLITE_OPEN_NOMUTEX).  Statements used on every request are
 * prepared once per connection: each file describes its own as a
 * struct sq_query (a cache slot and the SQL beside the code that runs
 * it); sq_stmt() hands the prepared statement out and sq_done() resets
 * it for the next use.
 */
#ifndef SCEP_STORE_SQLITE_BE_H
#define SCEP_STORE_SQLITE_BE_H

#include <stdint.h>

#include <sqlite3.h>

#include "store_backend.h"

/* One cache slot per cached statement; each is used by exactly one
 * struct sq_query (sq_stmt() checks). */
enum sq_stmt_id {
    SQ_BEGIN,
    SQ_COMMIT,
    SQ_ROLLBACK,
    SQ_CERT_INSERT,
    SQ_CERT_GET,
    SQ_CERT_BY_TXID,
    SQ_CERT_REVOKE,
    SQ_CERT_UNHOLD,
    SQ_CERT_STATUS,
    SQ_CERT_TXID_TAKEN,
    SQ_CERT_SUPERSEDE,
    SQ_CERT_BY_FP,
    SQ_AUDIT_LAST,
    SQ_AUDIT_INSERT,
    SQ_CRL_BUMP,
    SQ_CRL_GET,
    SQ_REQ_INSERT,
    SQ_REQ_GET,
    SQ_REQ_BY_TXID,
    SQ_REQ_DECIDE,
    SQ_REQ_STATUS,
    SQ_REQ_ISSUE,
    SQ_CHAL_INSERT,
    SQ_CHAL_GET,
    SQ_CHAL_BY_HASH,
    SQ_CHAL_CONSUME,
    SQ_CHAL_REVOKE,
    SQ_NOTICE_INSERT,
    SQ_NOTICE_RETAKE,
    SQ_NOTICE_ATTEMPT,
    SQ_NOTICE_FINISH,
    SQ_NOTICE_GET,
    SQ_TOK_BY_HASH,
    SQ_TOK_TOUCH,
    SQ_CRLS_GET,
    SQ_CRLS_PUT,
    SQ_NSTMT
};

/* A statement that is prepared once per connection and then reused. */
struct sq_query {
    enum sq_stmt_id slot;
    const char *sql;
};

struct sq_be {
    sqlite3 *db;
    sqlite3_stmt *stmts[SQ_NSTMT];
    const struct sq_query *owner[SQ_NSTMT]; /* which query filled each slot */
    int version;                            /* schema version after migrations */
    char err[256];                          /* last failure, for scep_store_last_error() */
    struct sq_sample *sample;               /* names for planning searches (sqlite_search.c) */
    char *crl_lock_path;                    /* DATABASE.crl-lock; NULL for :memory: */
    int crl_lock_fd;                        /* -1 unless this handle holds the CRL lock */
    int64_t busy_since;                     /* CLOCK_MONOTONIC us: this wait for a lock began */
};

/*
 * The FTS5 MATCH expression that finds text as a substring of column col
 * ("subject" or "sans") of certificates_search, from the rare parts of
 * text where a sample of stored names tells them (sqlite_search.c): it
 * may match more rows than contain text, so the query must also test
 * instr(lower(col), lower(text)) when text is ASCII.  *out:
 * sqlite3_free().  0 or SCEP_ERR_NOMEM.
 */
int sq_search_match(struct sq_be *be, const char *col, const char *text, char **out);

/* Frees the search sample (on close). */
void sq_search_free(struct sq_be *be);

/* Records "what: sqlite's message" in be->err, with the system error
 * ("(permission denied)") when SQLite's failure came from one; returns
 * SCEP_ERR_STORE. */
int sq_fail(struct sq_be *be, const char *what);

/* Hands out the prepared statement of q, preparing it on first use; sets
 * *out (borrowed; give it back with sq_done()).  0, SCEP_ERR_STORE, or
 * SCEP_ERR_INTERNAL when two queries claim one slot. */
int sq_stmt(struct sq_be *be, const struct sq_query *q, sqlite3_stmt **out);

/* Resets a statement from sq_stmt() and clears its bindings.  NULL ok. */
void sq_done(sqlite3_stmt *s);

/* BEGIN IMMEDIATE (takes the write lock now, so that writers queue up
 * instead of deadlocking on a read-to-write upgrade), retried on
 * SQLITE_BUSY.  0 or SCEP_ERR_STORE. */
int sq_begin(struct sq_be *be);

/* COMMIT, retried on SQLITE_BUSY; on failure the transaction is rolled
 * back.  0 or SCEP_ERR_STORE. */
int sq_commit(struct sq_be *be);

/* ROLLBACK if a transaction is open; keeps be->err as it was. */
void sq_rollback(struct sq_be *be);

/* Ends the caller's write transaction the one way every change ends:
 * appends ev (NULL: none) and commits, so that the change and its audit
 * event commit together.  0 or the failure; the caller rolls back on
 * failure. */
int sq_commit_audited(struct sq_be *be, const struct scep_audit_event *ev);

/*
 * Runs the purge sql (a DELETE with one integer parameter ?1 = v) in a
 * transaction of its own with ev appended (always, or with only_if_any
 * only when a row went), prepared afresh since purges are rare; what
 * names it in messages.  *purged: the rows deleted.  0 or SCEP_ERR_*.
 */
int sq_purge(struct sq_be *be, const char *sql, int64_t v, const char *what, int only_if_any,
             int64_t *purged, const struct scep_audit_event *ev);

/* Binds s (NULL: SQL NULL) as text to parameter i.  sqlite result code. */
int sq_bind_str(sqlite3_stmt *st, int i, const char *s);

/* Copies text column i of the current row into a fresh string (NULL for
 * SQL NULL), its length taken from SQLite.  *out: free().  0 or
 * SCEP_ERR_NOMEM. */
int sq_dup_col(sqlite3_stmt *s, int i, char **out);

/*
 * Runs the cached one-key lookup q: binds key as text when it is not
 * NULL and num as an integer otherwise, and steps once.  Returns 0 with
 * *out on the result row (read it, then give it back with sq_done()),
 * SCEP_ERR_NOT_FOUND when there is no row (be->err untouched), or
 * SCEP_ERR_STORE ("bind" or what in be->err); on failure the statement
 * is already reset and *out is left alone.
 */
int sq_lookup(struct sq_be *be, const struct sq_query *q, const char *key, int64_t num,
              const char *what, sqlite3_stmt **out);

/* The certificate ops (sqlite_certs.c); contracts as in store.h. */
int sq_insert_cert(void *be, const struct scep_cert_info *ci, const struct scep_audit_event *ev);
int sq_insert_certs(void *be, const struct scep_cert_info *cis, size_t n,
                    const struct scep_audit_event *ev);
int sq_get_cert(void *be, const char *serial, struct scep_cert_info **out);
int sq_get_cert_by_fingerprint(void *be, const char *fingerprint, struct scep_cert_info **out);
int sq_get_cert_by_transaction(void *be, const char *transaction_id, struct scep_cert_info **out);
int sq_list_certs(void *be, const struct scep_cert_filter *f, scep_store_cert_cb cb, void *arg);
int sq_revoke(void *be, const char *serial, int reason, int64_t at,
              const struct scep_audit_event *ev);
int sq_unhold(void *be, const char *serial, const struct scep_audit_event *ev);
int sq_next_crl_number(void *be, int64_t *out);

/* The published CRLs (sqlite_crls.c); contracts as in store.h. */
int sq_get_crl(void *be, const char *issuer_fp, struct scep_store_crl *out);
int sq_put_crl(void *be, const struct scep_store_crl *c);
int sq_try_lock_crl(void *be, const char *issuer_fp, int *got);
int sq_unlock_crl(void *be);

/*
 * Inserts ci into the certificates table inside the caller's write
 * transaction (sqlite_certs.c); the one insert path shared by
 * insert_cert and issue_request.  0, SCEP_ERR_EXISTS for a known serial
 * (be->err says which), SCEP_ERR_TRANSID_REUSE when a certificate with
 * ci->transaction_id is already stored, SCEP_ERR_TOO_LARGE, or
 * SCEP_ERR_STORE; the caller rolls back on failure.
 */
int sq_cert_insert_row(struct sq_be *be, const struct scep_cert_info *ci);

/* Appends ev to the audit chain inside the caller's write transaction
 * (sqlite_audit.c).  0 or SCEP_ERR_STORE. */
int sq_audit_append(struct sq_be *be, const struct scep_audit_event *ev);

/* The audit ops (sqlite_audit.c); contracts as in store.h. */
int sq_audit(void *be, const struct scep_audit_event *ev);
int sq_list_audit(void *be, int64_t after_id, scep_store_audit_cb cb, void *arg);
int sq_verify_audit(void *be, int64_t *bad_id);

/* The request columns in the order sqlite_requests.c reads them. */
#define SQ_REQ_COLUMNS                                                                             \
    "id, transaction_id, subject, sans, pubkey_fp, msg_type, requester, created_at, "              \
    "status, decided_at, decided_by, reason, serial, csr, challenge_id, profile"

/* The request ops (sqlite_requests.c); contracts as in store.h. */
int sq_add_request(void *be, const struct scep_request_info *ri, const struct scep_audit_event *ev,
                   int64_t *id);
int sq_get_request(void *be, int64_t id, struct scep_request_info **out);
int sq_get_request_by_transaction(void *be, const char *transaction_id,
                                  struct scep_request_info **out);
int sq_list_requests(void *be, int status, scep_store_request_cb cb, void *arg);
int sq_decide_request(void *be, int64_t id, int status, const char *actor, const char *reason,
                      const struct scep_audit_event *ev);
int sq_issue_request(void *be, int64_t id, const struct scep_cert_info *ci,
                     const struct scep_audit_event *ev);

/*
 * Consumes one use of challenge id inside the caller's write transaction
 * (sqlite_challenges.c), with the one statement both backends run: it
 * changes the row only while the challenge is unrevoked, unexpired at
 * now and not used up.  0, SCEP_ERR_CHALLENGE (be->err says so) when no
 * row changed, or SCEP_ERR_STORE; the caller rolls back on failure.
 */
int sq_challenge_consume(struct sq_be *be, int64_t id, int64_t now,
                         const struct scep_audit_event *like);

/* The challenge ops (sqlite_challenges.c); contracts as in store.h. */
int sq_add_challenge(void *be, const struct scep_challenge_info *ci,
                     const struct scep_audit_event *ev, int64_t *id);
int sq_get_challenge(void *be, int64_t id, const char *hash, struct scep_challenge_info **out);
int sq_list_challenges(void *be, int include_spent, int64_t now, scep_store_challenge_cb cb,
                       void *arg);
int sq_revoke_challenge(void *be, int64_t id, int64_t at, const struct scep_audit_event *ev);
int sq_purge_challenges(void *be, int64_t now, int64_t *purged, const struct scep_audit_event *ev);
int sq_purge_requests(void *be, int64_t before, int64_t *purged, const struct scep_audit_event *ev);

/* The expiry listing and the counts for gauges (sqlite_certs.c), and
 * the expiry notices (sqlite_notices.c); contracts as in store.h. */
int sq_list_expiring(void *be, int64_t now, int64_t until, scep_store_expiring_cb cb, void *arg);
int sq_count_certs(void *be, int64_t now, int64_t within, struct scep_cert_counts *out);
int sq_notice_claim(void *be, const struct scep_notice_key *k, int64_t not_after,
                    const char *claimer, int64_t now, int64_t lease_until, int64_t *attempt);
int sq_notice_finish(void *be, const struct scep_notice_key *k, const char *claimer,
                     int64_t attempt, int sent, int64_t now, int64_t next_attempt_at,
                     const char *error);
int sq_get_notice(void *be, const struct scep_notice_key *k, struct scep_notice_info **out);
/* The token ops (sqlite_tokens.c); contracts as in store.h. */
int sq_add_token(void *be, const struct scep_token_info *ti, const struct scep_audit_event *ev,
                 int64_t *id);
int sq_get_token(void *be, const char *hash, const char *name, struct scep_token_info **out);
int sq_list_tokens(void *be, scep_store_token_cb cb, void *arg);
int sq_revoke_token(void *be, const char *name, int64_t at, const struct scep_audit_event *ev);
int sq_touch_token(void *be, int64_t id, int64_t at);

/* Brings the schema up to the newest version this code knows, one
 * transaction per step, and sets be->version (sqlite_migrate.c).
 * SCEP_ERR_STORE if the database is newer than the code, or fails;
 * be->err says which. */
int sq_migrate(struct sq_be *be);

/* The statistics ops (sqlite_stats.c); contracts as in store.h. */
int sq_count_certs_by_group(void *be, int64_t now, scep_store_group_cb cb, void *arg);
int sq_cert_histogram(void *be, int what, int64_t start, int64_t width, size_t n, int64_t *counts);

/* Copying a store (store.h, "Copying a store"; sqlite_copy.c). */
int sq_export_rows(void *be, scep_store_row_cb cb, void *arg);
int sq_import_begin(void *be, char *why, size_t whylen);
int sq_import_row(void *be, const struct scep_store_table *t, const struct scep_store_value *row);
int sq_import_commit(void *be, const struct scep_audit_event *ev);
void sq_import_abort(void *be);

#endif
