/*
 * Internals of the SQLite backend, shared by its three files:
 * store_sqlite.c (connection, transactions, certificates, CRL numbers),
 * sqlite_audit.c (the hash-chained audit table) and sqlite_migrate.c
 * (versioned schema).  Not seen outside lib/store/.
 *
 * One struct sq_be is one connection, used by one thread at a time
 * (opened SQLITE_OPEN_NOMUTEX).  Statements used on every request are
 * prepared once per connection and kept in stmts[]; sq_stmt() hands one
 * out and sq_done() resets it for the next use.
 */
#ifndef SCEP_STORE_SQLITE_BE_H
#define SCEP_STORE_SQLITE_BE_H

#include <sqlite3.h>

#include "store_backend.h"

enum sq_stmt_id {
    SQ_BEGIN,
    SQ_COMMIT,
    SQ_ROLLBACK,
    SQ_CERT_INSERT,
    SQ_CERT_GET,
    SQ_CERT_BY_TXID,
    SQ_CERT_REVOKE,
    SQ_CERT_STATUS,
    SQ_AUDIT_LAST,
    SQ_AUDIT_INSERT,
    SQ_CRL_BUMP,
    SQ_CRL_GET,
    SQ_NSTMT
};

struct sq_be {
    sqlite3 *db;
    sqlite3_stmt *stmts[SQ_NSTMT];
    int version;   /* schema version after migrations */
    char err[256]; /* last failure, for scep_store_last_error() */
};

/* Records "what: sqlite's message" in be->err; returns SCEP_ERR_STORE. */
int sq_fail(struct sq_be *be, const char *what);

/* Hands out the cached statement id, preparing it on first use; sets *out
 * (borrowed; give it back with sq_done()).  0 or SCEP_ERR_STORE. */
int sq_stmt(struct sq_be *be, enum sq_stmt_id id, sqlite3_stmt **out);

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

/* Binds s (NULL: SQL NULL) as text to parameter i.  sqlite result code. */
int sq_bind_str(sqlite3_stmt *st, int i, const char *s);

/* Appends ev to the audit chain inside the caller's write transaction
 * (sqlite_audit.c).  0 or SCEP_ERR_STORE. */
int sq_audit_append(struct sq_be *be, const struct scep_audit_event *ev);

/* The audit ops (sqlite_audit.c); contracts as in store.h. */
int sq_audit(void *be, const struct scep_audit_event *ev);
int sq_list_audit(void *be, int64_t after_id, scep_store_audit_cb cb, void *arg);
int sq_verify_audit(void *be, int64_t *bad_id);

/* Brings the schema up to the newest version this code knows, one
 * transaction per step, and sets be->version (sqlite_migrate.c).
 * SCEP_ERR_STORE if the database is newer than the code, or fails. */
int sq_migrate(struct sq_be *be);

#endif
