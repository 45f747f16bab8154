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
    "renewed_serial, der, challenge_id, profile, source, seen_at, fingerprint, superseded_by, "    \
    "superseded_at"

/* How many CERT_COLUMNS there are: the index of a column a query adds
 * after them (the expiry listing's profile). */
#define CERT_NCOLUMNS 23

/* The columns an insert writes: CERT_COLUMNS but the two supersession
 * ones, which only a later renewal sets. */
#define INSERT_COLUMNS                                                                             \
    "serial, issuer_fp, subject, sans, not_before, not_after, issued_at, status, "                 \
    "revoked_at, revocation_reason, transaction_id, requester, msg_type, pubkey_fp, "              \
    "renewed_serial, der, challenge_id, profile, source, seen_at, fingerprint"

static const struct sq_query q_insert = {
    SQ_CERT_INSERT, "INSERT INTO certificates (" INSERT_COLUMNS ") VALUES "
                    "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, "
                    "?18, ?19, ?20, ?21)"};
/* The renewed certificate points at its successor; superseded_at is the
 * successor's issued_at, so the grace period of
 * revoke_superseded_after_days runs from the renewal. */
static const struct sq_query q_supersede = {
    SQ_CERT_SUPERSEDE, "UPDATE certificates SET superseded_by = ?2, superseded_at = ?3 "
                       "WHERE serial = ?1 AND serial <> ?2"};
static const struct sq_query q_by_fp = {SQ_CERT_BY_FP, "SELECT " CERT_COLUMNS
                                                       " FROM certificates WHERE fingerprint = ?1"};
static const struct sq_query q_get = {SQ_CERT_GET, "SELECT " CERT_COLUMNS
                                                   " FROM certificates WHERE serial = ?1"};
/* rowid breaks ties between certificates issued in the same second: it
 * grows with each insert. */
static const struct sq_query q_by_txid = {
    SQ_CERT_BY_TXID, "SELECT " CERT_COLUMNS " FROM certificates WHERE transaction_id = ?1 "
                     "ORDER BY issued_at DESC, rowid DESC LIMIT 1"};
/* Only a certificate of ours: an external one is not on our CRL. */
static const struct sq_query q_revoke = {
    SQ_CERT_REVOKE, "UPDATE certificates SET status = 1, revoked_at = ?2, "
                    "revocation_reason = ?3 WHERE serial = ?1 AND status = 0 AND source = 'scep'"};
/* The status and reason tests in the WHERE clause make the release
 * refuse anything but a hold without a separate read. */
static const struct sq_query q_unhold = {
    SQ_CERT_UNHOLD, "UPDATE certificates SET status = 0, revoked_at = 0, revocation_reason = -1 "
                    "WHERE serial = ?1 AND status = 1 AND revocation_reason = 6"};
static const struct sq_query q_status = {
    SQ_CERT_STATUS, "SELECT status, revocation_reason, source FROM certificates WHERE serial = ?1"};
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
        sq_dup_col(s, 14, &ci->renewed_serial) || sq_dup_col(s, 17, &ci->profile) ||
        sq_dup_col(s, 18, &ci->source) || sq_dup_col(s, 19, &ci->seen_at) ||
        sq_dup_col(s, 20, &ci->fingerprint) || sq_dup_col(s, 21, &ci->superseded_by))
        goto out;
    ci->superseded_at = sqlite3_column_int64(s, 22);
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

/*
 * Marks the certificate ci renews superseded by ci, inside the caller's
 * transaction, so the new certificate and its predecessor's pointer to
 * it commit together.  An old serial that is not stored (renewed under
 * a database that did not keep it) changes nothing.  0 or SCEP_ERR_STORE.
 */
static int supersede(struct sq_be *be, const struct scep_cert_info *ci)
{
    sqlite3_stmt *s = NULL;
    int rc;

    rc = sq_stmt(be, &q_supersede, &s);
    if (rc != 0)
        return rc;
    if (sq_bind_str(s, 1, ci->renewed_serial) || sq_bind_str(s, 2, ci->serial) ||
        sqlite3_bind_int64(s, 3, ci->issued_at != 0 ? ci->issued_at : (int64_t)time(NULL)) ||
        sqlite3_step(s) != SQLITE_DONE)
        rc = sq_fail(be, "mark superseded");
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
                              : sqlite3_bind_null(s, 17)) ||
        sq_bind_str(s, 18, ci->profile != NULL ? ci->profile : "") ||
        sq_bind_str(s, 19, ci->source != NULL ? ci->source : SCEP_CERT_SOURCE_SCEP) ||
        sq_bind_str(s, 20, ci->seen_at) || sq_bind_str(s, 21, ci->fingerprint)) {
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
    sq_done(s);
    s = NULL;
    if (ci->renewed_serial != NULL && ci->renewed_serial[0] != '\0')
        rc = supersede(be, ci);
    else
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

/* Inserts n certificates with ev in one transaction
 * (scep_store_insert_certs()). */
int sq_insert_certs(void *vbe, const struct scep_cert_info *cis, size_t n,
                    const struct scep_audit_event *ev)
{
    struct sq_be *be = vbe;
    size_t i;
    int rc;

    rc = sq_begin(be);
    if (rc != 0)
        return rc;
    for (i = 0; i < n && rc == 0; i++)
        rc = sq_cert_insert_row(be, &cis[i]);
    if (rc == 0)
        rc = sq_commit_audited(be, ev);
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

/* Looks a certificate up by fingerprint
 * (scep_store_get_cert_by_fingerprint()). */
int sq_get_cert_by_fingerprint(void *be, const char *fingerprint, struct scep_cert_info **out)
{
    return get_one(be, &q_by_fp, fingerprint, out);
}

/* The newest certificate of a transactionID
 * (scep_store_get_cert_by_transaction()). */
int sq_get_cert_by_transaction(void *be, const char *transaction_id, struct scep_cert_info **out)
{
    return get_one(be, &q_by_txid, transaction_id, out);
}

/* Appends the fixed text clause to sql (len bytes, used so far);
 * -1 when it does not fit. */
static int put(char *sql, size_t len, size_t *used, const char *clause)
{
    size_t n = strlen(clause);

    if (*used + n + 1 > len)
        return -1;
    memcpy(sql + *used, clause, n + 1);
    *used += n;
    return 0;
}

/* The number of characters (not bytes) of UTF-8 text s: the trigram
 * index needs three. */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;

    for (; *s != '\0'; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    return n;
}

/* Is s ASCII?  Then lower() folds it as the trigram tokenizer does, and
 * the index's candidates are checked against the whole text with
 * instr() (sq_search_match() may look up only its rare parts). */
static int ascii_text(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s >= 0x80)
            return 0;
    return 1;
}

/* The substring clause of column col (subject or sans) with the
 * parameter name param: the trigram index when text is long enough,
 * else a scan (lower() folds ASCII, as the index does). */
static const char *substring_clause(const char *col, const char *text)
{
    int idx = utf8_chars(text) >= 3, check = idx && ascii_text(text);

    if (strcmp(col, "subject") == 0)
        return !idx    ? " AND instr(lower(subject), lower(:subject)) > 0"
               : check ? " AND serial IN (SELECT serial FROM certificates_search"
                         " WHERE certificates_search MATCH :subject)"
                         " AND instr(lower(subject), lower(:subject_text)) > 0"
                       : " AND serial IN (SELECT serial FROM certificates_search"
                         " WHERE certificates_search MATCH :subject)";
    return !idx    ? " AND instr(lower(sans), lower(:sans)) > 0"
           : check ? " AND serial IN (SELECT serial FROM certificates_search"
                     " WHERE certificates_search MATCH :sans)"
                     " AND instr(lower(sans), lower(:sans_text)) > 0"
                   : " AND serial IN (SELECT serial FROM certificates_search"
                     " WHERE certificates_search MATCH :sans)";
}

/* Binds text for the clause substring_clause() chose. */
static int bind_substring(struct sq_be *be, sqlite3_stmt *s, const char *param, const char *col,
                          const char *text)
{
    char *q = NULL, raw[32];
    int rc;

    if (utf8_chars(text) < 3)
        return sq_bind_str(s, sqlite3_bind_parameter_index(s, param), text);
    if (sq_search_match(be, col, text, &q) != 0)
        return SQLITE_NOMEM;
    rc = sqlite3_bind_text(s, sqlite3_bind_parameter_index(s, param), q, -1, sqlite3_free);
    if (rc == SQLITE_OK && ascii_text(text)) {
        snprintf(raw, sizeof(raw), "%s_text", param);
        rc = sq_bind_str(s, sqlite3_bind_parameter_index(s, raw), text);
    }
    return rc;
}

/* Builds the listing query for f into sql (len bytes).  -1 when it does
 * not fit. */
static int list_sql(const struct scep_cert_filter *f, char *sql, size_t len)
{
    size_t used = 0;
    int bad = 0;
    unsigned src = f->sources;

    bad |= put(sql, len, &used, "SELECT " CERT_COLUMNS " FROM certificates WHERE 1 = 1");
    if (f->status >= 0)
        bad |= put(sql, len, &used, " AND status = :status");
    if (f->expiring_within > 0)
        bad |= put(sql, len, &used, " AND status = 0 AND not_after < :until");
    if (!f->include_expired)
        bad |= put(sql, len, &used, " AND not_after >= :now");
    if (f->subject_like != NULL)
        bad |= put(sql, len, &used, substring_clause("subject", f->subject_like));
    if (f->san_like != NULL)
        bad |= put(sql, len, &used, substring_clause("sans", f->san_like));
    if (f->issuer_fp != NULL)
        bad |= put(sql, len, &used, " AND issuer_fp = :issuer");
    if (f->profile != NULL)
        bad |= put(sql, len, &used, " AND profile = :profile");
    /* A range on the primary key: serials are uppercase hex, so every
     * one with the prefix sorts before the prefix with its last
     * character bumped. */
    if (f->serial_prefix != NULL)
        bad |= put(sql, len, &used, " AND serial >= :sp_lo AND serial < :sp_hi");
    if (f->issued_after > 0)
        bad |= put(sql, len, &used, " AND issued_at >= :after");
    if (f->issued_before > 0)
        bad |= put(sql, len, &used, " AND issued_at < :before");
    if (f->superseded_before > 0)
        bad |=
            put(sql, len, &used, " AND superseded_by IS NOT NULL AND superseded_at < :sup_before");
    else if (f->superseded == SCEP_FILTER_ONLY)
        bad |= put(sql, len, &used, " AND superseded_by IS NOT NULL");
    else if (f->superseded == SCEP_FILTER_NOT)
        bad |= put(sql, len, &used, " AND superseded_by IS NULL");
    if (src != 0) {
        bad |= put(sql, len, &used, " AND source IN (''");
        if (src & SCEP_CERT_SRC_SCEP)
            bad |= put(sql, len, &used, ", 'scep'");
        if (src & SCEP_CERT_SRC_IMPORT)
            bad |= put(sql, len, &used, ", 'import'");
        if (src & SCEP_CERT_SRC_TLS)
            bad |= put(sql, len, &used, ", 'tls'");
        bad |= put(sql, len, &used, ")");
    }
    /* The bound alone first, an index range; the OR then drops the rows
     * of the cursor's own key up to its serial. */
    if (f->after_serial != NULL)
        bad |= put(sql, len, &used,
                   f->order == SCEP_CERT_ORDER_EXPIRY
                       ? " AND not_after >= :akey AND (not_after > :akey OR serial > :aserial)"
                       : " AND issued_at <= :akey AND (issued_at < :akey OR serial > :aserial)");
    bad |= put(sql, len, &used,
               f->order == SCEP_CERT_ORDER_EXPIRY ? " ORDER BY not_after ASC, serial ASC"
                                                  : " ORDER BY issued_at DESC, serial ASC");
    bad |= put(sql, len, &used, " LIMIT :limit");
    return bad ? -1 : 0;
}

/* Binds integer v to the named parameter. */
static int bind_int_named(sqlite3_stmt *s, const char *name, int64_t v)
{
    return sqlite3_bind_int64(s, sqlite3_bind_parameter_index(s, name), v);
}

/* Binds what list_sql() asked for. */
static int list_bind(struct sq_be *be, sqlite3_stmt *s, const struct scep_cert_filter *f,
                     int64_t now)
{
    char hi[72];
    size_t n;

    /* SQLite reads a negative LIMIT as "no limit". */
    if (bind_int_named(s, ":limit", f->limit > 0 ? f->limit : -1) ||
        (f->status >= 0 && bind_int_named(s, ":status", f->status)) ||
        (f->expiring_within > 0 && bind_int_named(s, ":until", now + f->expiring_within)) ||
        (!f->include_expired && bind_int_named(s, ":now", now)) ||
        (f->subject_like != NULL &&
         bind_substring(be, s, ":subject", "subject", f->subject_like)) ||
        (f->san_like != NULL && bind_substring(be, s, ":sans", "sans", f->san_like)) ||
        (f->issuer_fp != NULL &&
         sq_bind_str(s, sqlite3_bind_parameter_index(s, ":issuer"), f->issuer_fp)) ||
        (f->profile != NULL &&
         sq_bind_str(s, sqlite3_bind_parameter_index(s, ":profile"), f->profile)) ||
        (f->issued_after > 0 && bind_int_named(s, ":after", f->issued_after)) ||
        (f->issued_before > 0 && bind_int_named(s, ":before", f->issued_before)) ||
        (f->superseded_before > 0 && bind_int_named(s, ":sup_before", f->superseded_before)) ||
        (f->after_serial != NULL &&
         (bind_int_named(s, ":akey", f->after_key) ||
          sq_bind_str(s, sqlite3_bind_parameter_index(s, ":aserial"), f->after_serial))))
        return -1;
    if (f->serial_prefix != NULL) {
        /* store.c checked: 1 to 64 uppercase hex digits. */
        n = strlen(f->serial_prefix);
        memcpy(hi, f->serial_prefix, n + 1);
        hi[n - 1]++;
        if (sqlite3_bind_text(s, sqlite3_bind_parameter_index(s, ":sp_lo"), f->serial_prefix, -1,
                              SQLITE_STATIC) ||
            sqlite3_bind_text(s, sqlite3_bind_parameter_index(s, ":sp_hi"), hi, -1,
                              SQLITE_TRANSIENT))
            return -1;
    }
    return 0;
}

/*
 * The listing query depends on which filters are set, so it is built per
 * call from fixed clauses (never from caller text, which is only bound)
 * and prepared afresh: a fresh statement also lets cb call back into the
 * store, even list_certs itself, while this one is still stepping.
 * Separate clauses rather than "?x IS NULL OR ..." let SQLite use the
 * status, not_after, (status, not_after), (issuer_fp, issued_at) and
 * serial indexes and the trigram index of certificates_search
 * (scep_store_list_certs()).
 */
int sq_list_certs(void *vbe, const struct scep_cert_filter *f, scep_store_cert_cb cb, void *arg)
{
    struct sq_be *be = vbe;
    sqlite3_stmt *s = NULL;
    struct scep_cert_info *ci = NULL;
    char sql[2048];
    int64_t now = (int64_t)time(NULL);
    int rc = SCEP_ERR_STORE, src;

    if (list_sql(f, sql, sizeof(sql)) != 0) {
        snprintf(be->err, sizeof(be->err), "listing query too long");
        goto out;
    }
    if (sqlite3_prepare_v2(be->db, sql, -1, &s, NULL) != SQLITE_OK) {
        sq_fail(be, "prepare list");
        goto out;
    }
    if (list_bind(be, s, f, now) != 0) {
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
    if (!unhold && status != SCEP_CERT_REVOKED) {
        /* Valid, yet the revoke matched nothing: not one of ours. */
        snprintf(be->err, sizeof(be->err),
                 "certificate %s is external (%s): scepd did not issue it and cannot revoke it",
                 serial, (const char *)sqlite3_column_text(s, 2));
        rc = SCEP_ERR_POLICY;
    } else if (!unhold) {
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
    if (sqlite3_prepare_v2(
            be->db,
            "SELECT " CERT_COLUMNS
            ", coalesce(nullif(c.profile, ''), (SELECT ch.profile FROM challenges ch "
            "WHERE ch.id = c.challenge_id)) FROM certificates c "
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
        if (rc == 0 && sq_dup_col(s, CERT_NCOLUMNS, &profile) != 0)
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
