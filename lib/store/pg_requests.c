/*
 * Requests held for an administrator in PostgreSQL (approval = manual),
 * the requests table of schema version 2, with the life cycle of
 * sqlite_requests.c: PENDING when scepd answers the client PENDING,
 * APPROVED or REJECTED by scepctl, ISSUED when scepd issues an approved
 * one at the client's next poll, inserting the certificate in the same
 * transaction.  Every change carries its audit event in its
 * transaction, and every status change is guarded by the expected old
 * status: the UPDATE re-checks it on the newest row version, and
 * issuing locks the row (SELECT ... FOR UPDATE) before it reads it, so
 * two nodes or administrators racing on one request leave one winner.
 */
#include "pg_be.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <scep/error.h>

/* Rows per page of a listing. */
#define REQ_PAGE 500

/* The request columns in the order read_req_row() reads them. */
#define REQ_COLUMNS                                                                                \
    "id, transaction_id, subject, sans, pubkey_fp, msg_type, requester, created_at, "              \
    "status, decided_at, decided_by, reason, serial, csr, challenge_id, profile"

/* Builds an owned record from row of a REQ_COLUMNS result.  *out: free
 * with scep_request_info_free(). */
static int read_req_row(struct pg_be *be, const PGresult *res, int row,
                        struct scep_request_info **out)
{
    int rc = SCEP_ERR_NOMEM;
    struct scep_request_info *ri = NULL;
    int64_t status = 0;

    ri = calloc(1, sizeof(*ri));
    if (ri == NULL)
        goto out;
    if (pg_dup_str(res, row, 1, &ri->transaction_id) || pg_dup_str(res, row, 2, &ri->subject) ||
        pg_dup_str(res, row, 3, &ri->sans) || pg_dup_str(res, row, 4, &ri->pubkey_fp) ||
        pg_dup_str(res, row, 5, &ri->msg_type) || pg_dup_str(res, row, 6, &ri->requester) ||
        pg_dup_str(res, row, 10, &ri->decided_by) || pg_dup_str(res, row, 11, &ri->reason) ||
        pg_dup_str(res, row, 12, &ri->serial) || pg_dup_str(res, row, 15, &ri->profile))
        goto out;
    rc = SCEP_ERR_STORE;
    if (pg_int(res, row, 0, &ri->id) || pg_int(res, row, 7, &ri->created_at) ||
        pg_int(res, row, 8, &status) || pg_int(res, row, 9, &ri->decided_at)) {
        snprintf(be->err, sizeof(be->err), "request row %d: malformed", row);
        goto out;
    }
    ri->status = (int)status;
    /* SQL NULL: no challenge. */
    if (!PQgetisnull(res, row, 14) && pg_int(res, row, 14, &ri->challenge_id) != 0) {
        snprintf(be->err, sizeof(be->err), "request row %d: malformed challenge id", row);
        goto out;
    }
    rc = pg_dup_bytes(res, row, 13, &ri->csr_der, &ri->csr_len);
    if (rc == SCEP_ERR_STORE)
        snprintf(be->err, sizeof(be->err), "request %lld has no CSR", (long long)ri->id);
    if (rc != 0)
        goto out;
    *out = ri;
    ri = NULL;
    rc = 0;
out:
    scep_request_info_free(ri);
    return rc;
}

/* Stores a new PENDING request with ev appended (scep_store_add_request()). */
int pg_add_request(void *vbe, const struct scep_request_info *ri, const struct scep_audit_event *ev,
                   int64_t *id)
{
    struct pg_be *be = vbe;
    struct pg_params p = {0};
    PGresult *res = NULL;
    int64_t new_id = 0;
    int rc;

    if (ri->csr_len > (size_t)INT32_MAX)
        return SCEP_ERR_TOO_LARGE;
    rc = pg_begin(be);
    if (rc != 0)
        return rc;
    /* Status, decision and serial are not taken from ri: a new request is
     * pending by definition, whatever the caller left in the record. */
    pg_param_str(&p, ri->transaction_id);
    pg_param_str(&p, ri->subject);
    pg_param_str(&p, ri->sans);
    pg_param_str(&p, ri->pubkey_fp);
    pg_param_str(&p, ri->msg_type);
    pg_param_str(&p, ri->requester);
    pg_param_int(&p, ri->created_at != 0 ? ri->created_at : (int64_t)time(NULL));
    pg_param_bytes(&p, ri->csr_der, ri->csr_len);
    if (ri->challenge_id > 0)
        pg_param_int(&p, ri->challenge_id);
    else
        pg_param_str(&p, NULL);
    pg_param_str(&p, ri->profile != NULL ? ri->profile : "");
    /* The request takes its use of the challenge now: an approval later
     * must not find it spent. */
    if (ri->challenge_id > 0 &&
        (rc = pg_challenge_consume(be, ri->challenge_id, (int64_t)time(NULL), ev)) != 0)
        goto out;
    rc = pg_exec(be,
                 "INSERT INTO requests (transaction_id, subject, sans, pubkey_fp, msg_type, "
                 "requester, created_at, status, csr, challenge_id, profile) "
                 "VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9, $10) RETURNING id",
                 &p, "insert request", &res);
    if (rc == SCEP_ERR_STORE && pg_unique_violation(be, "requests_transaction_id_key")) {
        snprintf(be->err, sizeof(be->err), "a request with transaction id %s is already stored",
                 ri->transaction_id);
        rc = SCEP_ERR_EXISTS;
    }
    if (rc != 0)
        goto out;
    if (PQntuples(res) != 1 || pg_int(res, 0, 0, &new_id) != 0) {
        snprintf(be->err, sizeof(be->err), "insert request: no id came back");
        rc = SCEP_ERR_STORE;
        goto out;
    }
    rc = pg_commit_audited(be, ev);
    if (rc != 0)
        goto out;
    if (id != NULL)
        *id = new_id;
out:
    PQclear(res);
    if (rc != 0)
        pg_rollback(be);
    return rc;
}

/* Runs a one-key request query (txid when given, else id) and returns
 * its row. */
static int get_req(struct pg_be *be, const char *sql, int64_t id, const char *txid,
                   struct scep_request_info **out)
{
    struct pg_params p = {0};
    PGresult *res = NULL;
    int rc;

    if (txid != NULL)
        pg_param_str(&p, txid);
    else
        pg_param_int(&p, id);
    rc = pg_exec(be, sql, &p, "select request", &res);
    if (rc != 0)
        return rc;
    rc = PQntuples(res) > 0 ? read_req_row(be, res, 0, out) : SCEP_ERR_NOT_FOUND;
    PQclear(res);
    return rc;
}

/* Looks a request up by id (scep_store_get_request()). */
int pg_get_request(void *be, int64_t id, struct scep_request_info **out)
{
    return get_req(be, "SELECT " REQ_COLUMNS " FROM requests WHERE id = $1", id, NULL, out);
}

/* Looks a request up by transactionID
 * (scep_store_get_request_by_transaction()). */
int pg_get_request_by_transaction(void *be, const char *transaction_id,
                                  struct scep_request_info **out)
{
    return get_req(be, "SELECT " REQ_COLUMNS " FROM requests WHERE transaction_id = $1", 0,
                   transaction_id, out);
}

/*
 * Walks the requests of one status (-1: all), oldest first, in pages
 * keyed by id (scep_store_list_requests()).  A page is read whole before
 * cb sees it, so cb may call back into the store, decide_request
 * included, while the walk is under way.
 */
int pg_list_requests(void *vbe, int status, scep_store_request_cb cb, void *arg)
{
    struct pg_be *be = vbe;
    struct pg_params p;
    PGresult *res = NULL;
    struct scep_request_info *ri = NULL;
    int64_t after = 0;
    int rc, i, n;

    for (;;) {
        memset(&p, 0, sizeof(p));
        pg_param_int(&p, after);
        pg_param_int(&p, REQ_PAGE);
        if (status >= 0)
            pg_param_int(&p, status);
        rc = pg_exec(be,
                     status >= 0 ? "SELECT " REQ_COLUMNS " FROM requests WHERE id > $1 AND "
                                   "status = $3 ORDER BY id LIMIT $2"
                                 : "SELECT " REQ_COLUMNS
                                   " FROM requests WHERE id > $1 ORDER BY id LIMIT $2",
                     &p, "list requests", &res);
        if (rc != 0)
            goto out;
        n = PQntuples(res);
        for (i = 0; i < n; i++) {
            rc = read_req_row(be, res, i, &ri);
            if (rc != 0)
                goto out;
            after = ri->id;
            rc = cb(ri, arg);
            scep_request_info_free(ri);
            ri = NULL;
            if (rc != 0)
                goto out;
        }
        PQclear(res);
        res = NULL;
        if (n < REQ_PAGE)
            break;
    }
    rc = 0;
out:
    scep_request_info_free(ri);
    PQclear(res);
    return rc;
}

/* Reads request id's status inside the current transaction into
 * *status, and its challenge_id (0: none) into *challenge_id (may be
 * NULL), locking the row (lock 1) until the transaction ends.
 * 0, SCEP_ERR_NOT_FOUND (be->err says so) or SCEP_ERR_STORE. */
static int req_status(struct pg_be *be, int64_t id, int lock, int *status, int64_t *challenge_id)
{
    struct pg_params p = {0};
    PGresult *res = NULL;
    int64_t v = 0, cid = 0;
    int rc;

    pg_param_int(&p, id);
    rc = pg_exec(be,
                 lock ? "SELECT status, challenge_id FROM requests WHERE id = $1 FOR UPDATE"
                      : "SELECT status, challenge_id FROM requests WHERE id = $1",
                 &p, "select request status", &res);
    if (rc != 0)
        return rc;
    if (PQntuples(res) == 0) {
        snprintf(be->err, sizeof(be->err), "no request with id %lld", (long long)id);
        rc = SCEP_ERR_NOT_FOUND;
    } else if (pg_int(res, 0, 0, &v) != 0 ||
               (!PQgetisnull(res, 0, 1) && pg_int(res, 0, 1, &cid) != 0)) {
        snprintf(be->err, sizeof(be->err), "request %lld: malformed status", (long long)id);
        rc = SCEP_ERR_STORE;
    } else {
        *status = (int)v;
        if (challenge_id != NULL)
            *challenge_id = cid;
    }
    PQclear(res);
    return rc;
}

/* Approves or rejects a pending request (scep_store_decide_request()). */
int pg_decide_request(void *vbe, int64_t id, int status, const char *actor, const char *reason,
                      const struct scep_audit_event *ev)
{
    struct pg_be *be = vbe;
    struct pg_params p = {0};
    PGresult *res = NULL;
    int rc, cur = -1;

    rc = pg_begin(be);
    if (rc != 0)
        return rc;
    pg_param_int(&p, id);
    pg_param_int(&p, status);
    pg_param_int(&p, (int64_t)time(NULL));
    pg_param_str(&p, actor);
    pg_param_str(&p, reason);
    /* Only a pending request can be decided: the status test makes
     * approve/reject races resolve to one winner. */
    rc = pg_exec(be,
                 "UPDATE requests SET status = $2, decided_at = $3, decided_by = $4, "
                 "reason = $5 WHERE id = $1 AND status = 0",
                 &p, "decide request", &res);
    if (rc != 0)
        goto out;
    if (pg_changes(res) != 1) {
        /* Tell an unknown id from one that was already decided. */
        rc = req_status(be, id, 0, &cur, NULL);
        if (rc == 0) {
            snprintf(be->err, sizeof(be->err), "request %lld is no longer pending (status %d)",
                     (long long)id, cur);
            rc = SCEP_ERR_EXISTS;
        }
        goto out;
    }
    rc = pg_commit_audited(be, ev);
out:
    PQclear(res);
    if (rc != 0)
        pg_rollback(be);
    return rc;
}

/*
 * Issues an approved request (scep_store_issue_request()): locks and
 * checks the request, inserts the certificate through the one insert
 * path, then marks the request ISSUED, all in one transaction.  The
 * status check comes first so that a refused request reports
 * NOT_FOUND/INVALID_ARG rather than a serial clash.
 */
int pg_issue_request(void *vbe, int64_t id, const struct scep_cert_info *ci,
                     const struct scep_audit_event *ev)
{
    struct pg_be *be = vbe;
    struct pg_params p = {0};
    PGresult *res = NULL;
    struct scep_cert_info row;
    int64_t challenge_id = 0;
    int rc, cur = -1;

    rc = pg_begin(be);
    if (rc != 0)
        return rc;
    rc = req_status(be, id, 1, &cur, &challenge_id);
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
    rc = pg_cert_insert_row(be, &row);
    if (rc != 0)
        goto out;
    pg_param_int(&p, id);
    pg_param_str(&p, ci->serial);
    rc = pg_exec(be, "UPDATE requests SET status = 3, serial = $2 WHERE id = $1 AND status = 1", &p,
                 "mark request issued", &res);
    if (rc != 0)
        goto out;
    /* The row is locked since its status was read, so it is still
     * APPROVED; anything but one change is a fault. */
    if (pg_changes(res) != 1) {
        snprintf(be->err, sizeof(be->err), "mark request issued: request %lld changed meanwhile",
                 (long long)id);
        rc = SCEP_ERR_STORE;
        goto out;
    }
    rc = pg_commit_audited(be, ev);
out:
    PQclear(res);
    if (rc != 0)
        pg_rollback(be);
    return rc;
}

/* Deletes the rejected and issued requests decided before before
 * (scep_store_purge_requests()). */
int pg_purge_requests(void *vbe, int64_t before, int64_t *purged, const struct scep_audit_event *ev)
{
    return pg_purge(vbe, "DELETE FROM requests WHERE status IN (2, 3) AND decided_at < $1", before,
                    "purge requests", 1, purged, ev);
}
