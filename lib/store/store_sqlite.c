/*
 * The SQLite backend of the store: one connection per struct sq_be (one
 * per worker thread), certificates and CRL numbers.  The audit chain
 * lives in sqlite_audit.c, the requests held for approval in
 * store_sqlite_requests.c and the schema in sqlite_migrate.c.
 *
 * Durability: WAL with synchronous=FULL fsyncs the log on every COMMIT,
 * so a certificate is on disk when scep_store_insert_cert() returns and
 * a kill -9 right after the response loses nothing.  Concurrency: every
 * connection waits up to BUSY_TIMEOUT_MS for the write lock, and every
 * write runs in BEGIN IMMEDIATE ... COMMIT, so writers from several
 * threads or processes serialise cleanly.  Any failing statement rolls
 * the whole transaction back: a call either writes everything or
 * nothing.
 */
#include "sqlite_be.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <scep/error.h>

/* How long a connection waits for another writer's lock before SQLite
 * gives up with SQLITE_BUSY. */
#define BUSY_TIMEOUT_MS 10000
/* Extra attempts at BEGIN/COMMIT when SQLite answers SQLITE_BUSY without
 * waiting (it does so e.g. while another connection recovers the WAL). */
#define BUSY_RETRIES 5
#define BUSY_RETRY_SLEEP_NS 20000000L
/* The same for the PRAGMAs run at open, which contend harder when many
 * connections open a new file at once: 250 x 20 ms = 5 s at most. */
#define OPEN_BUSY_RETRIES 250

/* The certificate columns in the order read_cert_row() expects. */
#define CERT_COLUMNS                                                                  \
    "serial, issuer_fp, subject, sans, not_before, not_after, issued_at, status, "    \
    "revoked_at, revocation_reason, transaction_id, requester, msg_type, pubkey_fp, " \
    "renewed_serial, der"

static const char *const stmt_sql[SQ_NSTMT] = {
    [SQ_BEGIN] = "BEGIN IMMEDIATE",
    [SQ_COMMIT] = "COMMIT",
    [SQ_ROLLBACK] = "ROLLBACK",
    [SQ_CERT_INSERT] = "INSERT INTO certificates (" CERT_COLUMNS ") VALUES "
                       "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    [SQ_CERT_GET] = "SELECT " CERT_COLUMNS " FROM certificates WHERE serial = ?1",
    /* rowid breaks ties between certificates issued in the same second:
     * it grows with each insert. */
    [SQ_CERT_BY_TXID] = "SELECT " CERT_COLUMNS " FROM certificates WHERE transaction_id = ?1 "
                        "ORDER BY issued_at DESC, rowid DESC LIMIT 1",
    [SQ_CERT_REVOKE] = "UPDATE certificates SET status = 1, revoked_at = ?2, "
                       "revocation_reason = ?3 WHERE serial = ?1 AND status = 0",
    [SQ_CERT_STATUS] = "SELECT status FROM certificates WHERE serial = ?1",
    [SQ_CERT_TXID_TAKEN] = "SELECT serial FROM certificates WHERE transaction_id = ?1 LIMIT 1",
    [SQ_AUDIT_LAST] = "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1",
    [SQ_AUDIT_INSERT] = "INSERT INTO audit (id, time, kind, actor, transaction_id, peer, "
                        "serial, detail, prev_hash, hash) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [SQ_CRL_BUMP] = "UPDATE crl_numbers SET last = last + 1 WHERE id = 1",
    [SQ_CRL_GET] = "SELECT last FROM crl_numbers WHERE id = 1",
    [SQ_REQ_INSERT] = "INSERT INTO requests (transaction_id, subject, sans, pubkey_fp, "
                      "msg_type, requester, created_at, status, csr) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8)",
    [SQ_REQ_GET] = "SELECT " SQ_REQ_COLUMNS " FROM requests WHERE id = ?1",
    [SQ_REQ_BY_TXID] = "SELECT " SQ_REQ_COLUMNS " FROM requests WHERE transaction_id = ?1",
    /* Only a pending request can be decided: the status test in the
     * WHERE clause makes approve/reject races resolve to one winner. */
    [SQ_REQ_DECIDE] = "UPDATE requests SET status = ?2, decided_at = ?3, decided_by = ?4, "
                      "reason = ?5 WHERE id = ?1 AND status = 0",
    [SQ_REQ_STATUS] = "SELECT status FROM requests WHERE id = ?1",
    [SQ_REQ_ISSUE] = "UPDATE requests SET status = 3, serial = ?2 WHERE id = ?1 AND status = 1",
};

/* Records the failure; see sqlite_be.h. */
int sq_fail(struct sq_be *be, const char *what)
{
    snprintf(be->err, sizeof(be->err), "%s: %s", what,
             be->db != NULL ? sqlite3_errmsg(be->db) : "no connection");
    return SCEP_ERR_STORE;
}

/* Hands out a cached prepared statement; see sqlite_be.h. */
int sq_stmt(struct sq_be *be, enum sq_stmt_id id, sqlite3_stmt **out)
{
    if (be->stmts[id] == NULL) {
        /* PERSISTENT tells SQLite the statement is kept for long, so it
         * allocates it outside the short-lived lookaside pool. */
        if (sqlite3_prepare_v3(be->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                               &be->stmts[id], NULL) != SQLITE_OK)
            return sq_fail(be, "prepare");
    }
    *out = be->stmts[id];
    return 0;
}

/* Resets a cached statement; see sqlite_be.h. */
void sq_done(sqlite3_stmt *s)
{
    if (s == NULL)
        return;
    /* reset repeats the last step's error code; it was already handled. */
    (void)sqlite3_reset(s);
    (void)sqlite3_clear_bindings(s);
}

static void busy_sleep(void)
{
    struct timespec ts = {0, BUSY_RETRY_SLEEP_NS};

    (void)nanosleep(&ts, NULL);
}

/* Steps a cached no-result statement, retrying SQLITE_BUSY. */
static int step_retry(struct sq_be *be, enum sq_stmt_id id, const char *what)
{
    sqlite3_stmt *s = NULL;
    int rc, tries, src = SQLITE_BUSY;

    rc = sq_stmt(be, id, &s);
    if (rc != 0)
        return rc;
    for (tries = 0; tries <= BUSY_RETRIES; tries++) {
        src = sqlite3_step(s);
        sq_done(s);
        if ((src & 0xff) != SQLITE_BUSY)
            break;
        busy_sleep();
    }
    if (src != SQLITE_DONE)
        return sq_fail(be, what);
    return 0;
}

/* Starts a write transaction; see sqlite_be.h. */
int sq_begin(struct sq_be *be)
{
    return step_retry(be, SQ_BEGIN, "begin");
}

/* Commits; see sqlite_be.h. */
int sq_commit(struct sq_be *be)
{
    int rc = step_retry(be, SQ_COMMIT, "commit");

    if (rc != 0)
        sq_rollback(be);
    return rc;
}

/* Rolls back; see sqlite_be.h. */
void sq_rollback(struct sq_be *be)
{
    sqlite3_stmt *s = NULL;

    /* A failed statement may already have ended the transaction (SQLite
     * rolls back by itself on e.g. SQLITE_FULL); ROLLBACK outside one is
     * an error we do not want in be->err. */
    if (sqlite3_get_autocommit(be->db))
        return;
    if (sq_stmt(be, SQ_ROLLBACK, &s) != 0)
        return;
    (void)sqlite3_step(s);
    sq_done(s);
}

/* Binds a string or NULL; see sqlite_be.h. */
int sq_bind_str(sqlite3_stmt *st, int i, const char *s)
{
    if (s == NULL)
        return sqlite3_bind_null(st, i);
    return sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

/* Copies text column i into a fresh string (NULL for SQL NULL); its
 * length comes from SQLite, not from a terminator.  See sqlite_be.h. */
int sq_dup_col(sqlite3_stmt *s, int i, char **out)
{
    const unsigned char *t;
    int n;
    char *p;

    *out = NULL;
    if (sqlite3_column_type(s, i) == SQLITE_NULL)
        return 0;
    t = sqlite3_column_text(s, i);
    n = sqlite3_column_bytes(s, i);
    if (t == NULL || n < 0)
        return SCEP_ERR_NOMEM;
    p = malloc((size_t)n + 1);
    if (p == NULL)
        return SCEP_ERR_NOMEM;
    memcpy(p, t, (size_t)n);
    p[n] = '\0';
    *out = p;
    return 0;
}

/* Binds, steps and sorts out the one-row answer; see sqlite_be.h. */
int sq_lookup(struct sq_be *be, enum sq_stmt_id id, const char *key, int64_t num,
              const char *what, sqlite3_stmt **out)
{
    sqlite3_stmt *s = NULL;
    int rc, src, brc;

    rc = sq_stmt(be, id, &s);
    if (rc != 0)
        return rc;
    rc = SCEP_ERR_STORE;
    brc = key != NULL ? sq_bind_str(s, 1, key) : sqlite3_bind_int64(s, 1, num);
    if (brc != SQLITE_OK) {
        sq_fail(be, "bind");
        goto out;
    }
    src = sqlite3_step(s);
    if (src == SQLITE_DONE) {
        rc = SCEP_ERR_NOT_FOUND;
        goto out;
    }
    if (src != SQLITE_ROW) {
        sq_fail(be, what);
        goto out;
    }
    *out = s;
    s = NULL;
    rc = 0;
out:
    sq_done(s);
    return rc;
}

/* Builds an owned record from the current row of a CERT_COLUMNS query.
 * *out: free with scep_cert_info_free().  0 or SCEP_ERR_NOMEM/STORE. */
static int read_cert_row(struct sq_be *be, sqlite3_stmt *s, struct scep_cert_info **out)
{
    int rc = SCEP_ERR_NOMEM;
    struct scep_cert_info *ci = NULL;
    const void *der;
    int der_len;

    ci = calloc(1, sizeof(*ci));
    if (ci == NULL)
        goto out;
    if (sq_dup_col(s, 0, &ci->serial) || sq_dup_col(s, 1, &ci->issuer_fp) ||
        sq_dup_col(s, 2, &ci->subject) || sq_dup_col(s, 3, &ci->sans) ||
        sq_dup_col(s, 10, &ci->transaction_id) || sq_dup_col(s, 11, &ci->requester) ||
        sq_dup_col(s, 12, &ci->msg_type) || sq_dup_col(s, 13, &ci->pubkey_fp) ||
        sq_dup_col(s, 14, &ci->renewed_serial))
        goto out;
    ci->not_before = sqlite3_column_int64(s, 4);
    ci->not_after = sqlite3_column_int64(s, 5);
    ci->issued_at = sqlite3_column_int64(s, 6);
    ci->status = sqlite3_column_int(s, 7);
    ci->revoked_at = sqlite3_column_int64(s, 8);
    ci->revocation_reason = sqlite3_column_int(s, 9);
    /* column_blob before column_bytes: SQLite's documented order, so the
     * length describes the blob form and not a text conversion. */
    der = sqlite3_column_blob(s, 15);
    der_len = sqlite3_column_bytes(s, 15);
    if (der == NULL || der_len <= 0) {
        snprintf(be->err, sizeof(be->err), "certificate %s has no DER",
                 ci->serial != NULL ? ci->serial : "?");
        rc = SCEP_ERR_STORE;
        goto out;
    }
    ci->der = malloc((size_t)der_len);
    if (ci->der == NULL)
        goto out;
    memcpy(ci->der, der, (size_t)der_len);
    ci->der_len = (size_t)der_len;
    *out = ci;
    ci = NULL;
    rc = 0;
out:
    scep_cert_info_free(ci);
    return rc;
}

/*
 * Is a certificate already stored for transaction_id?  Runs inside the
 * caller's BEGIN IMMEDIATE transaction, which holds the write lock, so
 * the answer still holds when the INSERT that follows runs: two workers
 * answering the same transactionID at once (a client retrying on a
 * second connection) cannot both store a certificate.  0 when free,
 * SCEP_ERR_TRANSID_REUSE (be->err names the serial) or SCEP_ERR_STORE.
 */
static int txid_free(struct sq_be *be, const char *transaction_id)
{
    sqlite3_stmt *s = NULL;
    int rc;

    rc = sq_lookup(be, SQ_CERT_TXID_TAKEN, transaction_id, 0, "select transaction id", &s);
    if (rc == SCEP_ERR_NOT_FOUND)
        return 0;
    if (rc == 0) {
        snprintf(be->err, sizeof(be->err), "transaction id already has certificate %s",
                 (const char *)sqlite3_column_text(s, 0));
        rc = SCEP_ERR_TRANSID_REUSE;
    }
    sq_done(s);
    return rc;
}

/* Inserts the certificate row inside the caller's transaction; see
 * sqlite_be.h.  One certificate per transactionID: that is what a
 * repeated PKCSReq or a CertPoll is answered with. */
int sq_cert_insert_row(struct sq_be *be, const struct scep_cert_info *ci)
{
    sqlite3_stmt *s = NULL;
    int rc, src;

    if (ci->der_len > (size_t)INT32_MAX)
        return SCEP_ERR_TOO_LARGE;
    if (ci->transaction_id != NULL && (rc = txid_free(be, ci->transaction_id)) != 0)
        return rc;
    rc = sq_stmt(be, SQ_CERT_INSERT, &s);
    if (rc != 0)
        goto out;
    rc = SCEP_ERR_STORE;
    if (sq_bind_str(s, 1, ci->serial) || sq_bind_str(s, 2, ci->issuer_fp) ||
        sq_bind_str(s, 3, ci->subject) || sq_bind_str(s, 4, ci->sans) ||
        sqlite3_bind_int64(s, 5, ci->not_before) || sqlite3_bind_int64(s, 6, ci->not_after) ||
        sqlite3_bind_int64(s, 7, ci->issued_at != 0 ? ci->issued_at : (int64_t)time(NULL)) ||
        sqlite3_bind_int(s, 8, ci->status) || sqlite3_bind_int64(s, 9, ci->revoked_at) ||
        sqlite3_bind_int(s, 10, ci->revocation_reason) ||
        sq_bind_str(s, 11, ci->transaction_id) || sq_bind_str(s, 12, ci->requester) ||
        sq_bind_str(s, 13, ci->msg_type) || sq_bind_str(s, 14, ci->pubkey_fp) ||
        sq_bind_str(s, 15, ci->renewed_serial) ||
        sqlite3_bind_blob(s, 16, ci->der, (int)ci->der_len, SQLITE_STATIC)) {
        sq_fail(be, "bind certificate");
        goto out;
    }
    src = sqlite3_step(s);
    if (src == SQLITE_CONSTRAINT_PRIMARYKEY) {
        snprintf(be->err, sizeof(be->err), "serial %s already stored", ci->serial);
        rc = SCEP_ERR_EXISTS;
        goto out;
    }
    if (src != SQLITE_DONE) {
        sq_fail(be, "insert certificate");
        goto out;
    }
    rc = 0;
out:
    sq_done(s);
    return rc;
}

static int sq_insert_cert(void *vbe, const struct scep_cert_info *ci,
                          const struct scep_audit_event *ev)
{
    struct sq_be *be = vbe;
    int rc;

    if (ci->der_len > (size_t)INT32_MAX)
        return SCEP_ERR_TOO_LARGE;
    rc = sq_begin(be);
    if (rc != 0)
        return rc;
    rc = sq_cert_insert_row(be, ci);
    if (rc != 0)
        goto out;
    rc = sq_commit_audited(be, ev);
out:
    if (rc != 0)
        sq_rollback(be);
    return rc;
}

/* Runs a cached one-key certificate query and returns its first row. */
static int get_one(struct sq_be *be, enum sq_stmt_id id, const char *key,
                   struct scep_cert_info **out)
{
    sqlite3_stmt *s = NULL;
    int rc;

    rc = sq_lookup(be, id, key, 0, "select certificate", &s);
    if (rc == 0)
        rc = read_cert_row(be, s, out);
    sq_done(s);
    return rc;
}

static int sq_get_cert(void *be, const char *serial, struct scep_cert_info **out)
{
    return get_one(be, SQ_CERT_GET, serial, out);
}

static int sq_get_cert_by_transaction(void *be, const char *transaction_id,
                                      struct scep_cert_info **out)
{
    return get_one(be, SQ_CERT_BY_TXID, transaction_id, out);
}

/*
 * The listing query depends on which filters are set, so it is built per
 * call from fixed clauses (never from caller text, which is only bound)
 * and prepared afresh: a fresh statement also lets cb call back into the
 * store, even list_certs itself, while this one is still stepping.
 * Separate clauses rather than "?x IS NULL OR ..." let SQLite use the
 * status and not_after indexes.
 */
static int sq_list_certs(void *vbe, const struct scep_cert_filter *f, scep_store_cert_cb cb,
                         void *arg)
{
    struct sq_be *be = vbe;
    sqlite3_stmt *s = NULL;
    struct scep_cert_info *ci = NULL;
    char sql[768];
    int64_t now = (int64_t)time(NULL);
    int rc = SCEP_ERR_STORE, src, n;

    n = snprintf(sql, sizeof(sql),
                 "SELECT " CERT_COLUMNS " FROM certificates WHERE 1 = 1%s%s%s%s "
                 "ORDER BY issued_at DESC, serial ASC LIMIT :limit",
                 f->status >= 0 ? " AND status = :status" : "",
                 f->expiring_within > 0 ? " AND status = 0 AND not_after < :until" : "",
                 f->include_expired ? "" : " AND not_after >= :now",
                 f->subject_like != NULL ? " AND instr(subject, :subject) > 0" : "");
    if (n < 0 || (size_t)n >= sizeof(sql)) {
        snprintf(be->err, sizeof(be->err), "listing query too long");
        goto out;
    }
    if (sqlite3_prepare_v2(be->db, sql, -1, &s, NULL) != SQLITE_OK) {
        sq_fail(be, "prepare list");
        goto out;
    }
    /* SQLite reads a negative LIMIT as "no limit". */
    if (sqlite3_bind_int64(s, sqlite3_bind_parameter_index(s, ":limit"),
                           f->limit > 0 ? f->limit : -1) != SQLITE_OK ||
        (f->status >= 0 &&
         sqlite3_bind_int(s, sqlite3_bind_parameter_index(s, ":status"), f->status)) ||
        (f->expiring_within > 0 &&
         sqlite3_bind_int64(s, sqlite3_bind_parameter_index(s, ":until"),
                            now + f->expiring_within)) ||
        (!f->include_expired &&
         sqlite3_bind_int64(s, sqlite3_bind_parameter_index(s, ":now"), now)) ||
        (f->subject_like != NULL &&
         sq_bind_str(s, sqlite3_bind_parameter_index(s, ":subject"), f->subject_like))) {
        sq_fail(be, "bind list");
        goto out;
    }
    for (;;) {
        src = sqlite3_step(s);
        if (src == SQLITE_DONE)
            break;
        if (src != SQLITE_ROW) {
            sq_fail(be, "list certificates");
            goto out;
        }
        /* An owned copy per row, freed right after the call, so the
         * callback's record does not depend on the statement's buffers. */
        rc = read_cert_row(be, s, &ci);
        if (rc != 0)
            goto out;
        rc = cb(ci, arg);
        scep_cert_info_free(ci);
        ci = NULL;
        if (rc != 0)
            goto out;
        rc = SCEP_ERR_STORE;
    }
    rc = 0;
out:
    scep_cert_info_free(ci);
    sqlite3_finalize(s);
    return rc;
}

/* Reads the status of serial inside the current transaction:
 * SCEP_ERR_EXISTS if it is already revoked, SCEP_ERR_NOT_FOUND if there
 * is no such certificate, else SCEP_ERR_STORE. */
static int why_not_revoked(struct sq_be *be, const char *serial)
{
    sqlite3_stmt *s = NULL;
    int rc;

    rc = sq_lookup(be, SQ_CERT_STATUS, serial, 0, "select status", &s);
    if (rc == SCEP_ERR_NOT_FOUND) {
        snprintf(be->err, sizeof(be->err), "no certificate with serial %s", serial);
    } else if (rc == 0) {
        snprintf(be->err, sizeof(be->err), "certificate %s already revoked", serial);
        rc = SCEP_ERR_EXISTS;
    }
    sq_done(s);
    return rc;
}

static int sq_revoke(void *vbe, const char *serial, int reason, int64_t at,
                     const struct scep_audit_event *ev)
{
    struct sq_be *be = vbe;
    sqlite3_stmt *s = NULL;
    int rc;

    rc = sq_begin(be);
    if (rc != 0)
        return rc;
    rc = sq_stmt(be, SQ_CERT_REVOKE, &s);
    if (rc != 0)
        goto out;
    rc = SCEP_ERR_STORE;
    if (sq_bind_str(s, 1, serial) || sqlite3_bind_int64(s, 2, at != 0 ? at : (int64_t)time(NULL)) ||
        sqlite3_bind_int(s, 3, reason)) {
        sq_fail(be, "bind revoke");
        goto out;
    }
    if (sqlite3_step(s) != SQLITE_DONE) {
        sq_fail(be, "revoke");
        goto out;
    }
    /* The UPDATE only matches a valid certificate; when nothing changed,
     * find out whether it is unknown or already revoked. */
    if (sqlite3_changes(be->db) != 1) {
        sq_done(s);
        s = NULL;
        rc = why_not_revoked(be, serial);
        goto out;
    }
    sq_done(s);
    s = NULL;
    rc = sq_commit_audited(be, ev);
out:
    sq_done(s);
    if (rc != 0)
        sq_rollback(be);
    return rc;
}

static int sq_next_crl_number(void *vbe, int64_t *out)
{
    struct sq_be *be = vbe;
    sqlite3_stmt *s = NULL;
    int64_t n = 0;
    int rc;

    rc = sq_begin(be);
    if (rc != 0)
        return rc;
    rc = sq_stmt(be, SQ_CRL_BUMP, &s);
    if (rc != 0)
        goto out;
    rc = SCEP_ERR_STORE;
    if (sqlite3_step(s) != SQLITE_DONE || sqlite3_changes(be->db) != 1) {
        sq_fail(be, "bump CRL number");
        goto out;
    }
    sq_done(s);
    s = NULL;
    rc = sq_stmt(be, SQ_CRL_GET, &s);
    if (rc != 0)
        goto out;
    rc = SCEP_ERR_STORE;
    if (sqlite3_step(s) != SQLITE_ROW) {
        sq_fail(be, "read CRL number");
        goto out;
    }
    n = sqlite3_column_int64(s, 0);
    sq_done(s);
    s = NULL;
    rc = sq_commit(be);
    if (rc != 0)
        goto out;
    *out = n;
out:
    sq_done(s);
    if (rc != 0)
        sq_rollback(be);
    return rc;
}

static int sq_schema_version(void *vbe)
{
    return ((struct sq_be *)vbe)->version;
}

static const char *sq_last_error(void *vbe)
{
    return ((struct sq_be *)vbe)->err;
}

static void sq_close(void *vbe)
{
    struct sq_be *be = vbe;
    int i;

    if (be == NULL)
        return;
    for (i = 0; i < SQ_NSTMT; i++)
        sqlite3_finalize(be->stmts[i]);
    /* With every statement finalized close cannot fail with SQLITE_BUSY;
     * the last connection to close checkpoints the WAL. */
    sqlite3_close(be->db);
    free(be);
}

static const struct scep_store_ops sqlite_ops = {
    .name = "sqlite",
    .close = sq_close,
    .schema_version = sq_schema_version,
    .insert_cert = sq_insert_cert,
    .get_cert = sq_get_cert,
    .get_cert_by_transaction = sq_get_cert_by_transaction,
    .list_certs = sq_list_certs,
    .revoke = sq_revoke,
    .audit = sq_audit,
    .list_audit = sq_list_audit,
    .verify_audit = sq_verify_audit,
    .next_crl_number = sq_next_crl_number,
    .add_request = sq_add_request,
    .get_request = sq_get_request,
    .get_request_by_transaction = sq_get_request_by_transaction,
    .list_requests = sq_list_requests,
    .decide_request = sq_decide_request,
    .issue_request = sq_issue_request,
    .last_error = sq_last_error,
};

/* Runs a PRAGMA that answers one row and checks the answer, if want is
 * not NULL, case-insensitively (journal_mode answers "wal"). */
static int pragma(struct sq_be *be, const char *sql, const char *want)
{
    sqlite3_stmt *s = NULL;
    const unsigned char *got;
    int rc = SCEP_ERR_STORE, src = SQLITE_BUSY, tries;

    if (sqlite3_prepare_v2(be->db, sql, -1, &s, NULL) != SQLITE_OK) {
        sq_fail(be, sql);
        goto out;
    }
    /* Switching the journal mode needs an exclusive lock, and SQLite
     * answers SQLITE_BUSY at once, without the busy handler, when waiting
     * could deadlock with another connection doing the same (several
     * workers opening a new database together).  Back off and retry. */
    for (tries = 0; tries < OPEN_BUSY_RETRIES; tries++) {
        src = sqlite3_step(s);
        if ((src & 0xff) != SQLITE_BUSY)
            break;
        (void)sqlite3_reset(s);
        busy_sleep();
    }
    if (src != SQLITE_ROW && src != SQLITE_DONE) {
        sq_fail(be, sql);
        goto out;
    }
    if (want != NULL) {
        got = src == SQLITE_ROW ? sqlite3_column_text(s, 0) : NULL;
        if (got == NULL || sqlite3_stricmp((const char *)got, want) != 0) {
            snprintf(be->err, sizeof(be->err), "%s: answered %s instead of %s", sql,
                     got != NULL ? (const char *)got : "nothing", want);
            goto out;
        }
    }
    rc = 0;
out:
    sqlite3_finalize(s);
    return rc;
}

/*
 * Opens path, configures the connection for durability and concurrent
 * writers, and migrates the schema; see store_backend.h.  On failure the
 * reason is lost with the connection, so nothing is left to report
 * beyond the code.
 */
int scep_store_sqlite_open(const char *path, const struct scep_store_ops **ops, void **out)
{
    int rc = SCEP_ERR_STORE;
    struct sq_be *be = NULL;

    be = calloc(1, sizeof(*be));
    if (be == NULL)
        return SCEP_ERR_NOMEM;
    /* NOMUTEX: each connection belongs to one thread, so SQLite's
     * per-connection mutex would only cost time.  sqlite3_open_v2 hands
     * back a handle even when it fails; sq_close() closes it. */
    if (sqlite3_open_v2(path, &be->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        sq_fail(be, "open");
        goto out;
    }
    /* Extended codes tell a duplicate serial (CONSTRAINT_PRIMARYKEY)
     * apart from other failures. */
    sqlite3_extended_result_codes(be->db, 1);
    /* The timeout first: switching to WAL needs a lock that another
     * process opening the same file may hold. */
    if (sqlite3_busy_timeout(be->db, BUSY_TIMEOUT_MS) != SQLITE_OK) {
        sq_fail(be, "busy_timeout");
        goto out;
    }
    rc = pragma(be, "PRAGMA journal_mode=WAL", "wal");
    if (rc == 0)
        rc = pragma(be, "PRAGMA synchronous=FULL", NULL);
    if (rc == 0)
        rc = pragma(be, "PRAGMA foreign_keys=ON", NULL);
    if (rc == 0)
        rc = sq_migrate(be);
    if (rc != 0)
        goto out;
    *ops = &sqlite_ops;
    *out = be;
    be = NULL;
    rc = 0;
out:
    sq_close(be);
    return rc;
}
