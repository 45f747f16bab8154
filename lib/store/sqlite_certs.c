/*
 * Certificates in the SQLite backend: inserting one (the single insert
 * path, shared with issuing an approved request), lookups by serial and
 * by transactionID, filtered listings, revocation and the release of a
 * certificateHold, and the CRL number counter.  Connections,
 * transactions and the audit append come from sqlite_base.c and
 * sqlite_audit.c; every change here runs in BEGIN IMMEDIATE and ends in
 * sq_commit_audited(), so a row and its audit event commit together.
 */
#include "sqlite_be.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <scep/error.h>

/* CRLReason certificateHold (RFC 5280 5.3.1): the one revocation that
 * can be undone. */
#define REASON_CERTIFICATE_HOLD 6

/* The certificate columns in the order read_cert_row() expects. */
#define CERT_COLUMNS                                                                               \
    "serial, issuer_fp, subject, sans, not_before, not_after, issued_at, status, "                 \
    "revoked_at, revocation_reason, transaction_id, requester, msg_type, pubkey_fp, "              \
    "renewed_serial, der, challenge_id"

static const struct sq_query q_insert = {
    SQ_CERT_INSERT, "INSERT INTO certificates (" CERT_COLUMNS ") VALUES "
                    "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"};
static const struct sq_query q_get = {SQ_CERT_GET, "SELECT " CERT_COLUMNS
                                                   " FROM certificates WHERE serial = ?1"};
/* rowid breaks ties between certificates issued in the same second: it
 * grows with each insert. */
static const struct sq_query q_by_txid = {
    SQ_CERT_BY_TXID, "SELECT " CERT_COLUMNS " FROM certificates WHERE transaction_id = ?1 "
                     "ORDER BY issued_at DESC, rowid DESC LIMIT 1"};
static const struct sq_query q_revoke = {SQ_CERT_REVOKE,
                                         "UPDATE certificates SET status = 1, revoked_at = ?2, "
                                         "revocation_reason = ?3 WHERE serial = ?1 AND status = 0"};
/* The status and reason tests in the WHERE clause make the release
 * refuse anything but a hold without a separate read. */
static const struct sq_query q_unhold = {
    SQ_CERT_UNHOLD, "UPDATE certificates SET status = 0, revoked_at = 0, revocation_reason = -1 "
                    "WHERE serial = ?1 AND status = 1 AND revocation_reason = 6"};
static const struct sq_query q_status = {
    SQ_CERT_STATUS, "SELECT status, revocation_reason FROM certificates WHERE serial = ?1"};
static const struct sq_query q_txid_taken = {
    SQ_CERT_TXID_TAKEN, "SELECT serial FROM certificates WHERE transaction_id = ?1 LIMIT 1"};
static const struct sq_query q_crl_bump = {SQ_CRL_BUMP,
                                           "UPDATE crl_numbers SET last = last + 1 WHERE id = 1"};
static const struct sq_query q_crl_get = {SQ_CRL_GET, "SELECT last FROM crl_numbers WHERE id = 1"};

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
    /* SQL NULL (no challenge) reads as 0. */
    ci->challenge_id = sqlite3_column_int64(s, 16);
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

    rc = sq_lookup(be, &q_txid_taken, transaction_id, 0, "select transaction id", &s);
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
    rc = sq_stmt(be, &q_insert, &s);
    if (rc != 0)
        goto out;
    rc = SCEP_ERR_STORE;
    if (sq_bind_str(s, 1, ci->serial) || sq_bind_str(s, 2, ci->issuer_fp) ||
        sq_bind_str(s, 3, ci->subject) || sq_bind_str(s, 4, ci->sans) ||
        sqlite3_bind_int64(s, 5, ci->not_before) || sqlite3_bind_int64(s, 6, ci->not_after) ||
        sqlite3_bind_int64(s, 7, ci->issued_at != 0 ? ci->issued_at : (int64_t)time(NULL)) ||
        sqlite3_bind_int(s, 8, ci->status) || sqlite3_bind_int64(s, 9, ci->revoked_at) ||
        sqlite3_bind_int(s, 10, ci->revocation_reason) || sq_bind_str(s, 11, ci->transaction_id) ||
        sq_bind_str(s, 12, ci->requester) || sq_bind_str(s, 13, ci->msg_type) ||
        sq_bind_str(s, 14, ci->pubkey_fp) || sq_bind_str(s, 15, ci->renewed_serial) ||
        sqlite3_bind_blob(s, 16, ci->der, (int)ci->der_len, SQLITE_STATIC) ||
        (ci->challenge_id > 0 ? sqlite3_bind_int64(s, 17, ci->challenge_id)
                              : sqlite3_bind_null(s, 17))) {
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

/* Inserts one certificate with ev (scep_store_insert_cert()). */
int sq_insert_cert(void *vbe, const struct scep_cert_info *ci, const struct scep_audit_event *ev)
{
    struct sq_be *be = vbe;
    int rc;

    if (ci->der_len > (size_t)INT32_MAX)
        return SCEP_ERR_TOO_LARGE;
    rc = sq_begin(be);
    if (rc != 0)
        return rc;
    /* The challenge first: a spent one refuses the certificate before
     * anything else is looked at, and the write lock BEGIN IMMEDIATE
     * holds makes the check and the use one step. */
    if (ci->challenge_id > 0 &&
        (rc = sq_challenge_consume(be, ci->challenge_id, (int64_t)time(NULL), ev)) != 0)
        goto out;
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
static int get_one(struct sq_be *be, const struct sq_query *q, const char *key,
                   struct scep_cert_info **out)
{
    sqlite3_stmt *s = NULL;
    int rc;

    rc = sq_lookup(be, q, key, 0, "select certificate", &s);
    if (rc == 0)
        rc = read_cert_row(be, s, out);
    sq_done(s);
    return rc;
}

/* Looks a certificate up by serial (scep_store_get_cert()). */
int sq_get_cert(void *be, const char *serial, struct scep_cert_info **out)
{
    return get_one(be, &q_get, serial, out);
}

/* The newest certificate of a transactionID
 * (scep_store_get_cert_by_transaction()). */
int sq_get_cert_by_transaction(void *be, const char *transaction_id, struct scep_cert_info **out)
{
    return get_one(be, &q_by_txid, transaction_id, out);
}

/*
 * The listing query depends on which filters are set, so it is built per
 * call from fixed clauses (never from caller text, which is only bound)
 * and prepared afresh: a fresh statement also lets cb call back into the
 * store, even list_certs itself, while this one is still stepping.
 * Separate clauses rather than "?x IS NULL OR ..." let SQLite use the
 * status, not_after and (issuer_fp, issued_at) indexes (scep_store_list_certs()).
 */
int sq_list_certs(void *vbe, const struct scep_cert_filter *f, scep_store_cert_cb cb, void *arg)
{
    struct sq_be *be = vbe;
    sqlite3_stmt *s = NULL;
    struct scep_cert_info *ci = NULL;
    char sql[768];
    int64_t now = (int64_t)time(NULL);
    int rc = SCEP_ERR_STORE, src, n;

    n = snprintf(sql, sizeof(sql),
                 "SELECT " CERT_COLUMNS " FROM certificates WHERE 1 = 1%s%s%s%s%s "
                 "ORDER BY issued_at DESC, serial ASC LIMIT :limit",
                 f->status >= 0 ? " AND status = :status" : "",
                 f->expiring_within > 0 ? " AND status = 0 AND not_after < :until" : "",
                 f->include_expired ? "" : " AND not_after >= :now",
                 f->subject_like != NULL ? " AND instr(subject, :subject) > 0" : "",
                 f->issuer_fp != NULL ? " AND issuer_fp = :issuer" : "");
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
        (f->expiring_within > 0 && sqlite3_bind_int64(s, sqlite3_bind_parameter_index(s, ":until"),
                                                      now + f->expiring_within)) ||
        (!f->include_expired &&
         sqlite3_bind_int64(s, sqlite3_bind_parameter_index(s, ":now"), now)) ||
        (f->subject_like != NULL &&
         sq_bind_str(s, sqlite3_bind_parameter_index(s, ":subject"), f->subject_like)) ||
        (f->issuer_fp != NULL &&
         sq_bind_str(s, sqlite3_bind_parameter_index(s, ":issuer"), f->issuer_fp))) {
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

/*
 * Explains, inside the current transaction, why a revoke (unhold 0) or a
 * release (unhold 1) matched no row, in be->err: SCEP_ERR_NOT_FOUND for
 * an unknown serial; for a revoke SCEP_ERR_EXISTS (already revoked); for
 * a release SCEP_ERR_POLICY (not revoked, or revoked for good).  Else
 * SCEP_ERR_STORE.
 */
static int why_unchanged(struct sq_be *be, const char *serial, int unhold)
{
    sqlite3_stmt *s = NULL;
    int rc, status, reason;

    rc = sq_lookup(be, &q_status, serial, 0, "select status", &s);
    if (rc == SCEP_ERR_NOT_FOUND) {
        snprintf(be->err, sizeof(be->err), "no certificate with serial %s", serial);
        goto out;
    }
    if (rc != 0)
        goto out;
    status = sqlite3_column_int(s, 0);
    reason = sqlite3_column_int(s, 1);
    if (!unhold) {
        snprintf(be->err, sizeof(be->err), "certificate %s already revoked", serial);
        rc = SCEP_ERR_EXISTS;
    } else if (status != SCEP_CERT_REVOKED) {
        snprintf(be->err, sizeof(be->err), "certificate %s is not revoked", serial);
        rc = SCEP_ERR_POLICY;
    } else {
        snprintf(be->err, sizeof(be->err),
                 "certificate %s is revoked with reason %d, not certificateHold (%d): only a "
                 "hold can be released (RFC 5280 5.3.1)",
                 serial, reason, REASON_CERTIFICATE_HOLD);
        rc = SCEP_ERR_POLICY;
    }
out:
    sq_done(s);
    return rc;
}

/*
 * Runs the status change s (already bound) inside the caller's
 * transaction and, when it changed the certificate's row, appends ev and
 * commits; otherwise says why through why_unchanged().  s is reset.
 */
static int finish_status_change(struct sq_be *be, sqlite3_stmt *s, const char *serial, int unhold,
                                const struct scep_audit_event *ev)
{
    int rc = 0;

    if (sqlite3_step(s) != SQLITE_DONE)
        rc = sq_fail(be, unhold ? "release hold" : "revoke");
    sq_done(s);
    if (rc != 0)
        return rc;
    /* The UPDATE matches only a certificate in the state the change
     * starts from; when nothing changed, find out why. */
    if (sqlite3_changes(be->db) != 1)
        return why_unchanged(be, serial, unhold);
    return sq_commit_audited(be, ev);
}

/* Revokes a valid certificate with ev (scep_store_revoke()). */
int sq_revoke(void *vbe, const char *serial, int reason, int64_t at,
              const struct scep_audit_event *ev)
{
    struct sq_be *be = vbe;
    sqlite3_stmt *s = NULL;
    int rc;

    rc = sq_begin(be);
    if (rc != 0)
        return rc;
    rc = sq_stmt(be, &q_revoke, &s);
    if (rc != 0)
        goto out;
    if (sq_bind_str(s, 1, serial) || sqlite3_bind_int64(s, 2, at != 0 ? at : (int64_t)time(NULL)) ||
        sqlite3_bind_int(s, 3, reason)) {
        rc = sq_fail(be, "bind revoke");
        sq_done(s);
        goto out;
    }
    rc = finish_status_change(be, s, serial, 0, ev);
out:
    if (rc != 0)
        sq_rollback(be);
    return rc;
}

/* Takes a certificate on hold back to valid with ev (scep_store_unhold()). */
int sq_unhold(void *vbe, const char *serial, const struct scep_audit_event *ev)
{
    struct sq_be *be = vbe;
    sqlite3_stmt *s = NULL;
    int rc;

    rc = sq_begin(be);
    if (rc != 0)
        return rc;
    rc = sq_stmt(be, &q_unhold, &s);
    if (rc != 0)
        goto out;
    if (sq_bind_str(s, 1, serial) != SQLITE_OK) {
        rc = sq_fail(be, "bind release hold");
        sq_done(s);
        goto out;
    }
    rc = finish_status_change(be, s, serial, 1, ev);
out:
    if (rc != 0)
        sq_rollback(be);
    return rc;
}

/* Hands out the next CRL number (scep_store_next_crl_number()): bumped
 * and read back in one write transaction, so no two callers, in this
 * process or another, get the same number. */
int sq_next_crl_number(void *vbe, int64_t *out)
{
    struct sq_be *be = vbe;
    sqlite3_stmt *s = NULL;
    int64_t n = 0;
    int rc;

    rc = sq_begin(be);
    if (rc != 0)
        return rc;
    rc = sq_stmt(be, &q_crl_bump, &s);
    if (rc != 0)
        goto out;
    rc = SCEP_ERR_STORE;
    if (sqlite3_step(s) != SQLITE_DONE || sqlite3_changes(be->db) != 1) {
        sq_fail(be, "bump CRL number");
        goto out;
    }
    sq_done(s);
    s = NULL;
    rc = sq_stmt(be, &q_crl_get, &s);
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

/*
 * The condition every backend's expiry listing and count share (store.h,
 * scep_store_list_expiring): valid, unexpired at ?1, expiring by ?2 and
 * without a successor.  Source-blind on purpose: an imported certificate
 * is a row like an issued one.  A "superseded" flag, once the schema has
 * it, is one more "AND c.superseded = 0" here and in pg_certs.c.
 */
#define EXPIRING_WHERE                                                                             \
    "c.status = 0 AND c.not_after > ?1 AND c.not_after <= ?2 AND NOT EXISTS "                      \
    "(SELECT 1 FROM certificates r WHERE r.renewed_serial = c.serial)"

/*
 * Walks the certificates the expiry job watches (scep_store_list_expiring()),
 * soonest first.  A fresh statement, not a cached one, so that cb may call
 * back into the store (claim a notice) while the walk is under way.
 */
int sq_list_expiring(void *vbe, int64_t now, int64_t until, scep_store_expiring_cb cb, void *arg)
{
    struct sq_be *be = vbe;
    sqlite3_stmt *s = NULL;
    struct scep_cert_info *ci = NULL;
    char *profile = NULL;
    int rc = SCEP_ERR_STORE, src;

    /* The profile is a scalar subquery rather than a join, so that the
     * unqualified CERT_COLUMNS can only name the certificate's columns. */
    if (sqlite3_prepare_v2(be->db,
                           "SELECT " CERT_COLUMNS ", (SELECT ch.profile FROM challenges ch "
                           "WHERE ch.id = c.challenge_id) FROM certificates c "
                           "WHERE " EXPIRING_WHERE " ORDER BY c.not_after, c.serial",
                           -1, &s, NULL) != SQLITE_OK) {
        sq_fail(be, "prepare expiring list");
        goto out;
    }
    if (sqlite3_bind_int64(s, 1, now) != SQLITE_OK ||
        sqlite3_bind_int64(s, 2, until) != SQLITE_OK) {
        sq_fail(be, "bind expiring list");
        goto out;
    }
    for (;;) {
        src = sqlite3_step(s);
        if (src == SQLITE_DONE)
            break;
        if (src != SQLITE_ROW) {
            sq_fail(be, "list expiring certificates");
            goto out;
        }
        rc = read_cert_row(be, s, &ci);
        if (rc == 0 && sq_dup_col(s, 17, &profile) != 0)
            rc = SCEP_ERR_NOMEM;
        if (rc != 0)
            goto out;
        rc = cb(ci, profile, arg);
        scep_cert_info_free(ci);
        ci = NULL;
        free(profile);
        profile = NULL;
        if (rc != 0)
            goto out;
        rc = SCEP_ERR_STORE;
    }
    rc = 0;
out:
    scep_cert_info_free(ci);
    free(profile);
    sqlite3_finalize(s);
    return rc;
}

/* Counts certificates by state at now (scep_store_count_certs()): one
 * pass over the table for the three states, and the expiry condition on
 * the not_after index for the fourth. */
int sq_count_certs(void *vbe, int64_t now, int64_t within, struct scep_cert_counts *out)
{
    struct sq_be *be = vbe;
    sqlite3_stmt *s = NULL;
    int rc = SCEP_ERR_STORE;

    if (sqlite3_prepare_v2(be->db,
                           "SELECT count(*) FILTER (WHERE status = 0 AND not_after > ?1), "
                           "count(*) FILTER (WHERE status = 1), "
                           "count(*) FILTER (WHERE status = 0 AND not_after <= ?1), "
                           "(SELECT count(*) FROM certificates c WHERE " EXPIRING_WHERE ") "
                           "FROM certificates",
                           -1, &s, NULL) != SQLITE_OK) {
        sq_fail(be, "prepare certificate counts");
        goto out;
    }
    if (sqlite3_bind_int64(s, 1, now) != SQLITE_OK ||
        sqlite3_bind_int64(s, 2, now + within) != SQLITE_OK) {
        sq_fail(be, "bind certificate counts");
        goto out;
    }
    if (sqlite3_step(s) != SQLITE_ROW) {
        sq_fail(be, "count certificates");
        goto out;
    }
    out->valid = sqlite3_column_int64(s, 0);
    out->revoked = sqlite3_column_int64(s, 1);
    out->expired = sqlite3_column_int64(s, 2);
    out->expiring = sqlite3_column_int64(s, 3);
    rc = 0;
out:
    sqlite3_finalize(s);
    return rc;
}
