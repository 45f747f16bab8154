/*
 * Requests held for an administrator in SQLite (approval = manual): the
 * requests table of schema version 2.  A request is stored PENDING when
 * scepd answers the client PENDING; scepctl moves it to APPROVED or
 * REJECTED; scepd moves an APPROVED one to ISSUED when the client polls
 * again, inserting the certificate in the same transaction.  Every
 * change runs in BEGIN IMMEDIATE with its audit event appended before
 * COMMIT, and every status change is guarded by the expected old status
 * in the UPDATE itself, so two administrators (or scepd and an
 * administrator) racing on one request leave exactly one winner.
 */
#include "sqlite_be.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <scep/error.h>

static const struct sq_query q_insert = {
    SQ_REQ_INSERT, "INSERT INTO requests (transaction_id, subject, sans, pubkey_fp, "
                   "msg_type, requester, created_at, status, csr, challenge_id, profile) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?9, ?10)"};
static const struct sq_query q_get = {SQ_REQ_GET,
                                      "SELECT " SQ_REQ_COLUMNS " FROM requests WHERE id = ?1"};
static const struct sq_query q_by_txid = {
    SQ_REQ_BY_TXID, "SELECT " SQ_REQ_COLUMNS " FROM requests WHERE transaction_id = ?1"};
/* Only a pending request can be decided: the status test in the WHERE
 * clause makes approve/reject races resolve to one winner. */
static const struct sq_query q_decide = {
    SQ_REQ_DECIDE, "UPDATE requests SET status = ?2, decided_at = ?3, decided_by = ?4, "
                   "reason = ?5 WHERE id = ?1 AND status = 0"};
static const struct sq_query q_status = {SQ_REQ_STATUS,
                                         "SELECT status, challenge_id FROM requests WHERE id = ?1"};
static const struct sq_query q_issue = {
    SQ_REQ_ISSUE, "UPDATE requests SET status = 3, serial = ?2 WHERE id = ?1 AND status = 1"};

/* Builds an owned record from the current row of an SQ_REQ_COLUMNS
 * query.  *out: free with scep_request_info_free(). */
static int read_req_row(struct sq_be *be, sqlite3_stmt *s, struct scep_request_info **out)
{
    int rc = SCEP_ERR_NOMEM;
    struct scep_request_info *ri = NULL;
    const void *csr;
    int csr_len;

    ri = calloc(1, sizeof(*ri));
    if (ri == NULL)
        goto out;
    ri->id = sqlite3_column_int64(s, 0);
    if (sq_dup_col(s, 1, &ri->transaction_id) || sq_dup_col(s, 2, &ri->subject) ||
        sq_dup_col(s, 3, &ri->sans) || sq_dup_col(s, 4, &ri->pubkey_fp) ||
        sq_dup_col(s, 5, &ri->msg_type) || sq_dup_col(s, 6, &ri->requester) ||
        sq_dup_col(s, 10, &ri->decided_by) || sq_dup_col(s, 11, &ri->reason) ||
        sq_dup_col(s, 12, &ri->serial) || sq_dup_col(s, 15, &ri->profile))
        goto out;
    ri->created_at = sqlite3_column_int64(s, 7);
    ri->status = sqlite3_column_int(s, 8);
    ri->decided_at = sqlite3_column_int64(s, 9);
    ri->challenge_id = sqlite3_column_int64(s, 14); /* NULL: 0 */
    /* column_blob before column_bytes, as for a certificate's DER: the
     * length then describes the blob and not a text conversion. */
    csr = sqlite3_column_blob(s, 13);
    csr_len = sqlite3_column_bytes(s, 13);
    if (csr == NULL || csr_len <= 0) {
        snprintf(be->err, sizeof(be->err), "request %lld has no CSR", (long long)ri->id);
        rc = SCEP_ERR_STORE;
        goto out;
    }
    ri->csr_der = malloc((size_t)csr_len);
    if (ri->csr_der == NULL)
        goto out;
    memcpy(ri->csr_der, csr, (size_t)csr_len);
    ri->csr_len = (size_t)csr_len;
    *out = ri;
    ri = NULL;
    rc = 0;
out:
    scep_request_info_free(ri);
    return rc;
}

/* Stores a new PENDING request with ev appended (scep_store_add_request()). */
int sq_add_request(void *vbe, const struct scep_request_info *ri, const struct scep_audit_event *ev,
                   int64_t *id)
{
    struct sq_be *be = vbe;
    sqlite3_stmt *s = NULL;
    int64_t new_id = 0;
    int rc, src;

    if (ri->csr_len > (size_t)INT32_MAX)
        return SCEP_ERR_TOO_LARGE;
    rc = sq_begin(be);
    if (rc != 0)
        return rc;
    /* The request takes its use of the challenge now, under the write
     * lock: an administrator's approval later must not find it spent. */
    if (ri->challenge_id > 0 &&
        (rc = sq_challenge_consume(be, ri->challenge_id, (int64_t)time(NULL), ev)) != 0)
        goto out;
    rc = sq_stmt(be, &q_insert, &s);
    if (rc != 0)
        goto out;
    rc = SCEP_ERR_STORE;
    /* Status, decision and serial are not taken from ri: a new request is
     * pending by definition, whatever the caller left in the record. */
    if (sq_bind_str(s, 1, ri->transaction_id) || sq_bind_str(s, 2, ri->subject) ||
        sq_bind_str(s, 3, ri->sans) || sq_bind_str(s, 4, ri->pubkey_fp) ||
        sq_bind_str(s, 5, ri->msg_type) || sq_bind_str(s, 6, ri->requester) ||
        sqlite3_bind_int64(s, 7, ri->created_at != 0 ? ri->created_at : (int64_t)time(NULL)) ||
        sqlite3_bind_blob(s, 8, ri->csr_der, (int)ri->csr_len, SQLITE_STATIC) ||
        (ri->challenge_id > 0 ? sqlite3_bind_int64(s, 9, ri->challenge_id)
                              : sqlite3_bind_null(s, 9)) ||
        sq_bind_str(s, 10, ri->profile != NULL ? ri->profile : "")) {
        sq_fail(be, "bind request");
        goto out;
    }
    src = sqlite3_step(s);
    if (src == SQLITE_CONSTRAINT_UNIQUE) {
        snprintf(be->err, sizeof(be->err), "a request with transaction id %s is already stored",
                 ri->transaction_id);
        rc = SCEP_ERR_EXISTS;
        goto out;
    }
    if (src != SQLITE_DONE) {
        sq_fail(be, "insert request");
        goto out;
    }
    /* Read before the audit insert, which moves last_insert_rowid on. */
    new_id = sqlite3_last_insert_rowid(be->db);
    sq_done(s);
    s = NULL;
    rc = sq_commit_audited(be, ev);
    if (rc != 0)
        goto out;
    if (id != NULL)
        *id = new_id;
out:
    sq_done(s);
    if (rc != 0)
        sq_rollback(be);
    return rc;
}

/* Runs a cached one-key request query, keyed by txid when it is given
 * and by id otherwise, and returns its row. */
static int get_req(struct sq_be *be, const struct sq_query *q, int64_t id, const char *txid,
                   struct scep_request_info **out)
{
    sqlite3_stmt *s = NULL;
    int rc;

    rc = sq_lookup(be, q, txid, id, "select request", &s);
    if (rc == 0)
        rc = read_req_row(be, s, out);
    sq_done(s);
    return rc;
}

/* Looks a request up by id (scep_store_get_request()). */
int sq_get_request(void *be, int64_t id, struct scep_request_info **out)
{
    return get_req(be, &q_get, id, NULL, out);
}

/* Looks a request up by transactionID
 * (scep_store_get_request_by_transaction()). */
int sq_get_request_by_transaction(void *be, const char *transaction_id,
                                  struct scep_request_info **out)
{
    return get_req(be, &q_by_txid, 0, transaction_id, out);
}

/*
 * Walks the requests of one status (-1: all), oldest first
 * (scep_store_list_requests()).  A fresh statement rather than a cached
 * one, so that cb may call back into the store, decide_request
 * included, while the walk is under way.
 */
int sq_list_requests(void *vbe, int status, scep_store_request_cb cb, void *arg)
{
    struct sq_be *be = vbe;
    sqlite3_stmt *s = NULL;
    struct scep_request_info *ri = NULL;
    int rc = SCEP_ERR_STORE, src;
    const char *sql = status >= 0 ? "SELECT " SQ_REQ_COLUMNS
                                    " FROM requests WHERE status = ?1 ORDER BY id"
                                  : "SELECT " SQ_REQ_COLUMNS " FROM requests ORDER BY id";

    if (sqlite3_prepare_v2(be->db, sql, -1, &s, NULL) != SQLITE_OK) {
        sq_fail(be, "prepare request list");
        goto out;
    }
    if (status >= 0 && sqlite3_bind_int(s, 1, status) != SQLITE_OK) {
        sq_fail(be, "bind request list");
        goto out;
    }
    for (;;) {
        src = sqlite3_step(s);
        if (src == SQLITE_DONE)
            break;
        if (src != SQLITE_ROW) {
            sq_fail(be, "list requests");
            goto out;
        }
        rc = read_req_row(be, s, &ri);
        if (rc != 0)
            goto out;
        rc = cb(ri, arg);
        scep_request_info_free(ri);
        ri = NULL;
        if (rc != 0)
            goto out;
        rc = SCEP_ERR_STORE;
    }
    rc = 0;
out:
    scep_request_info_free(ri);
    sqlite3_finalize(s);
    return rc;
}

/* Reads request id's status inside the current transaction into
 * *status, and its challenge_id (0: none) into *challenge_id (may be
 * NULL).  0, SCEP_ERR_NOT_FOUND (be->err says so) or SCEP_ERR_STORE. */
static int req_status(struct sq_be *be, int64_t id, int *status, int64_t *challenge_id)
{
    sqlite3_stmt *s = NULL;
    int rc;

    rc = sq_lookup(be, &q_status, NULL, id, "select request status", &s);
    if (rc == SCEP_ERR_NOT_FOUND)
        snprintf(be->err, sizeof(be->err), "no request with id %lld", (long long)id);
    if (rc == 0) {
        *status = sqlite3_column_int(s, 0);
        if (challenge_id != NULL)
            *challenge_id = sqlite3_column_int64(s, 1);
    }
    sq_done(s);
    return rc;
}

/* Approves or rejects a pending request (scep_store_decide_request()). */
int sq_decide_request(void *vbe, int64_t id, int status, const char *actor, const char *reason,
                      const struct scep_audit_event *ev)
{
    struct sq_be *be = vbe;
    sqlite3_stmt *s = NULL;
    int rc, cur = -1;

    rc = sq_begin(be);
    if (rc != 0)
        return rc;
    rc = sq_stmt(be, &q_decide, &s);
    if (rc != 0)
        goto out;
    rc = SCEP_ERR_STORE;
    if (sqlite3_bind_int64(s, 1, id) || sqlite3_bind_int(s, 2, status) ||
        sqlite3_bind_int64(s, 3, (int64_t)time(NULL)) || sq_bind_str(s, 4, actor) ||
        sq_bind_str(s, 5, reason)) {
        sq_fail(be, "bind decision");
        goto out;
    }
    if (sqlite3_step(s) != SQLITE_DONE) {
        sq_fail(be, "decide request");
        goto out;
    }
    sq_done(s);
    s = NULL;
    /* The UPDATE matches only a pending request; when nothing changed,
     * tell an unknown id from one that was already decided. */
    if (sqlite3_changes(be->db) != 1) {
        rc = req_status(be, id, &cur, NULL);
        if (rc == 0) {
            snprintf(be->err, sizeof(be->err), "request %lld is no longer pending (status %d)",
                     (long long)id, cur);
            rc = SCEP_ERR_EXISTS;
        }
        goto out;
    }
    rc = sq_commit_audited(be, ev);
out:
    sq_done(s);
    if (rc != 0)
        sq_rollback(be);
    return rc;
}

/*
 * Issues an approved request (scep_store_issue_request()): checks the
 * status, inserts the certificate through the one insert path, then
 * marks the request ISSUED, all in one transaction.  The status check
 * comes first so that a refused request reports NOT_FOUND/INVALID_ARG
 * rather than a serial clash.
 */
int sq_issue_request(void *vbe, int64_t id, const struct scep_cert_info *ci,
                     const struct scep_audit_event *ev)
{
    struct sq_be *be = vbe;
    sqlite3_stmt *s = NULL;
    struct scep_cert_info row;
    int64_t challenge_id = 0;
    int rc, cur = -1;

    rc = sq_begin(be);
    if (rc != 0)
        return rc;
    rc = req_status(be, id, &cur, &challenge_id);
    if (rc != 0)
        goto out;
    if (cur != SCEP_REQ_APPROVED) {
        snprintf(be->err, sizeof(be->err), "request %lld is not approved (status %d)",
                 (long long)id, cur);
        rc = SCEP_ERR_INVALID_ARG;
        goto out;
    }
    /* The certificate records the request's challenge, which the request
     * consumed when it was stored: nothing is consumed again. */
    row = *ci;
    row.challenge_id = challenge_id;
    rc = sq_cert_insert_row(be, &row);
    if (rc != 0)
        goto out;
    rc = sq_stmt(be, &q_issue, &s);
    if (rc != 0)
        goto out;
    rc = SCEP_ERR_STORE;
    if (sqlite3_bind_int64(s, 1, id) || sq_bind_str(s, 2, ci->serial)) {
        sq_fail(be, "bind issue");
        goto out;
    }
    /* BEGIN IMMEDIATE holds the write lock since the status was read, so
     * the row is still APPROVED; anything but one change is a fault. */
    if (sqlite3_step(s) != SQLITE_DONE || sqlite3_changes(be->db) != 1) {
        sq_fail(be, "mark request issued");
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

/* Deletes the rejected and issued requests decided before before
 * (scep_store_purge_requests()).  Prepared afresh: purging is rare. */
int sq_purge_requests(void *vbe, int64_t before, int64_t *purged, const struct scep_audit_event *ev)
{
    return sq_purge(vbe, "DELETE FROM requests WHERE status IN (2, 3) AND decided_at < ?1", before,
                    "purge requests", 1, purged, ev);
}
