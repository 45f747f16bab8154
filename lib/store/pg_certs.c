/*
 * Certificates in the PostgreSQL backend: inserting one (the single
 * insert path, shared with issuing an approved request), lookups by
 * serial and by transactionID, filtered listings, revocation and the
 * release of a certificateHold, and the CRL number counter.  Every
 * change runs in one transaction ending in pg_commit_audited(), so a
 * row and its audit event commit together.
 *
 * What must hold across nodes is decided by the database: a serial is
 * stored once (primary key), a transactionID has one certificate (the
 * unique partial index of pg_migrate.c: of two nodes inserting one at
 * once, the second waits for the first's COMMIT and is then refused), a
 * status change applies only to the row in the state it starts from
 * (the WHERE clause re-checked on the newest row version by the
 * UPDATE), and CRL numbers come from one locked counter row.
 */
#include "pg_be.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <scep/error.h>

/* CRLReason certificateHold (RFC 5280 5.3.1): the one revocation that
 * can be undone. */
#define REASON_CERTIFICATE_HOLD 6

/* Rows per page of a listing: each page repeats the query (a trigram
 * search included), so pages are large; a page of records with their
 * DER is a few megabytes. */
#define CERT_PAGE 5000

/* The certificate columns in the order read_cert_row() expects. */
#define CERT_COLUMNS                                                                               \
    "serial, issuer_fp, subject, sans, not_before, not_after, issued_at, status, "                 \
    "revoked_at, revocation_reason, transaction_id, requester, msg_type, pubkey_fp, "              \
    "renewed_serial, der, challenge_id, profile, source, seen_at, fingerprint, superseded_by, "    \
    "superseded_at"

/* How many CERT_COLUMNS there are: the index of a column a query adds
 * after them (the expiry listing's profile). */
#define CERT_NCOLUMNS 23

/* The columns an insert writes: all but the supersession pair, which
 * only a later renewal sets. */
#define INSERT_COLUMNS                                                                             \
    "serial, issuer_fp, subject, sans, not_before, not_after, issued_at, status, "                 \
    "revoked_at, revocation_reason, transaction_id, requester, msg_type, pubkey_fp, "              \
    "renewed_serial, der, challenge_id, profile, source, seen_at, fingerprint"

/* Builds an owned record from row of a CERT_COLUMNS result.  *out: free
 * with scep_cert_info_free().  0 or SCEP_ERR_NOMEM/STORE. */
static int read_cert_row(struct pg_be *be, const PGresult *res, int row,
                         struct scep_cert_info **out)
{
    int rc = SCEP_ERR_NOMEM;
    struct scep_cert_info *ci = NULL;
    int64_t status = 0, reason = 0;

    ci = calloc(1, sizeof(*ci));
    if (ci == NULL)
        goto out;
    if (pg_dup_str(res, row, 0, &ci->serial) || pg_dup_str(res, row, 1, &ci->issuer_fp) ||
        pg_dup_str(res, row, 2, &ci->subject) || pg_dup_str(res, row, 3, &ci->sans) ||
        pg_dup_str(res, row, 10, &ci->transaction_id) || pg_dup_str(res, row, 11, &ci->requester) ||
        pg_dup_str(res, row, 12, &ci->msg_type) || pg_dup_str(res, row, 13, &ci->pubkey_fp) ||
        pg_dup_str(res, row, 14, &ci->renewed_serial) || pg_dup_str(res, row, 17, &ci->profile) ||
        pg_dup_str(res, row, 18, &ci->source) || pg_dup_str(res, row, 19, &ci->seen_at) ||
        pg_dup_str(res, row, 20, &ci->fingerprint) || pg_dup_str(res, row, 21, &ci->superseded_by))
        goto out;
    rc = SCEP_ERR_STORE;
    if (pg_int(res, row, 4, &ci->not_before) || pg_int(res, row, 5, &ci->not_after) ||
        pg_int(res, row, 6, &ci->issued_at) || pg_int(res, row, 7, &status) ||
        pg_int(res, row, 8, &ci->revoked_at) || pg_int(res, row, 9, &reason) ||
        pg_int(res, row, 22, &ci->superseded_at)) {
        snprintf(be->err, sizeof(be->err), "certificate %s: malformed row",
                 ci->serial != NULL ? ci->serial : "?");
        goto out;
    }
    ci->status = (int)status;
    ci->revocation_reason = (int)reason;
    /* SQL NULL: no challenge. */
    if (!PQgetisnull(res, row, 16) && pg_int(res, row, 16, &ci->challenge_id) != 0) {
        snprintf(be->err, sizeof(be->err), "certificate %s: malformed challenge id",
                 ci->serial != NULL ? ci->serial : "?");
        goto out;
    }
    rc = pg_dup_bytes(res, row, 15, &ci->der, &ci->der_len);
    if (rc == SCEP_ERR_STORE)
        snprintf(be->err, sizeof(be->err), "certificate %s has no DER",
                 ci->serial != NULL ? ci->serial : "?");
    if (rc != 0)
        goto out;
    *out = ci;
    ci = NULL;
    rc = 0;
out:
    scep_cert_info_free(ci);
    return rc;
}

/*
 * Is a certificate already stored for transaction_id?  The common case
 * (a client repeating a PKCSReq after the first one succeeded) is
 * answered here, naming the serial; two inserts racing for one
 * transactionID are settled by the unique index instead.  0 when free,
 * SCEP_ERR_TRANSID_REUSE (be->err names the serial) or SCEP_ERR_STORE.
 */
static int txid_free(struct pg_be *be, const char *transaction_id)
{
    struct pg_params p = {0};
    PGresult *res = NULL;
    int rc;

    pg_param_str(&p, transaction_id);
    rc = pg_exec(be, "SELECT serial FROM certificates WHERE transaction_id = $1 LIMIT 1", &p,
                 "select transaction id", &res);
    if (rc != 0)
        return rc;
    if (PQntuples(res) > 0) {
        snprintf(be->err, sizeof(be->err), "transaction id already has certificate %s",
                 PQgetvalue(res, 0, 0));
        rc = SCEP_ERR_TRANSID_REUSE;
    }
    PQclear(res);
    return rc;
}

/*
 * Marks the certificate ci renews superseded by ci, inside the caller's
 * transaction, so the new row and its predecessor's pointer to it
 * commit together; superseded_at is the renewal's issued_at, from which
 * revoke_superseded_after_days counts.  An old serial that is not
 * stored changes nothing.  0 or SCEP_ERR_STORE.
 */
static int supersede(struct pg_be *be, const struct scep_cert_info *ci)
{
    struct pg_params p = {0};

    pg_param_str(&p, ci->renewed_serial);
    pg_param_str(&p, ci->serial);
    pg_param_int(&p, ci->issued_at != 0 ? ci->issued_at : (int64_t)time(NULL));
    return pg_exec(be,
                   "UPDATE certificates SET superseded_by = $2, superseded_at = $3 "
                   "WHERE serial = $1 AND serial <> $2",
                   &p, "mark superseded", NULL);
}

/* Inserts the certificate row inside the caller's transaction; see
 * pg_be.h. */
int pg_cert_insert_row(struct pg_be *be, const struct scep_cert_info *ci)
{
    struct pg_params p = {0};
    int rc;

    if (ci->der_len > (size_t)INT32_MAX)
        return SCEP_ERR_TOO_LARGE;
    if (ci->transaction_id != NULL && (rc = txid_free(be, ci->transaction_id)) != 0)
        return rc;
    pg_param_str(&p, ci->serial);
    pg_param_str(&p, ci->issuer_fp);
    pg_param_str(&p, ci->subject);
    pg_param_str(&p, ci->sans);
    pg_param_int(&p, ci->not_before);
    pg_param_int(&p, ci->not_after);
    pg_param_int(&p, ci->issued_at != 0 ? ci->issued_at : (int64_t)time(NULL));
    pg_param_int(&p, ci->status);
    pg_param_int(&p, ci->revoked_at);
    pg_param_int(&p, ci->revocation_reason);
    pg_param_str(&p, ci->transaction_id);
    pg_param_str(&p, ci->requester);
    pg_param_str(&p, ci->msg_type);
    pg_param_str(&p, ci->pubkey_fp);
    pg_param_str(&p, ci->renewed_serial);
    pg_param_bytes(&p, ci->der, ci->der_len);
    if (ci->challenge_id > 0)
        pg_param_int(&p, ci->challenge_id);
    else
        pg_param_str(&p, NULL);
    pg_param_str(&p, ci->profile != NULL ? ci->profile : "");
    pg_param_str(&p, ci->source != NULL ? ci->source : SCEP_CERT_SOURCE_SCEP);
    pg_param_str(&p, ci->seen_at);
    pg_param_str(&p, ci->fingerprint);
    rc = pg_exec(be,
                 "INSERT INTO certificates (" INSERT_COLUMNS ") VALUES "
                 "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, "
                 "$18, $19, $20, $21)",
                 &p, "insert certificate", NULL);
    if (rc == SCEP_ERR_STORE && pg_unique_violation(be, "certificates_pkey")) {
        snprintf(be->err, sizeof(be->err), "serial %s already stored", ci->serial);
        return SCEP_ERR_EXISTS;
    }
    if (rc == 0 && ci->renewed_serial != NULL && ci->renewed_serial[0] != '\0')
        rc = supersede(be, ci);
    if (rc == SCEP_ERR_STORE && pg_unique_violation(be, "certificates_transaction_id")) {
        snprintf(be->err, sizeof(be->err),
                 "transaction id already has a certificate (stored meanwhile by another "
                 "connection)");
        return SCEP_ERR_TRANSID_REUSE;
    }
    return rc;
}

/* Inserts one certificate with ev (scep_store_insert_cert()). */
int pg_insert_cert(void *vbe, const struct scep_cert_info *ci, const struct scep_audit_event *ev)
{
    struct pg_be *be = vbe;
    int rc;

    if (ci->der_len > (size_t)INT32_MAX)
        return SCEP_ERR_TOO_LARGE;
    rc = pg_begin(be);
    if (rc != 0)
        return rc;
    /* The challenge first, as in sqlite_certs.c: a spent one refuses the
     * certificate before anything is written. */
    if (ci->challenge_id > 0)
        rc = pg_challenge_consume(be, ci->challenge_id, (int64_t)time(NULL), ev);
    if (rc == 0)
        rc = pg_cert_insert_row(be, ci);
    if (rc == 0)
        rc = pg_commit_audited(be, ev);
    if (rc != 0)
        pg_rollback(be);
    return rc;
}

/* Inserts n certificates with ev in one transaction
 * (scep_store_insert_certs()). */
int pg_insert_certs(void *vbe, const struct scep_cert_info *cis, size_t n,
                    const struct scep_audit_event *ev)
{
    struct pg_be *be = vbe;
    size_t i;
    int rc;

    rc = pg_begin(be);
    if (rc != 0)
        return rc;
    for (i = 0; i < n && rc == 0; i++)
        rc = pg_cert_insert_row(be, &cis[i]);
    if (rc == 0)
        rc = pg_commit_audited(be, ev);
    if (rc != 0)
        pg_rollback(be);
    return rc;
}

/* Runs a one-key certificate query and returns its first row. */
static int get_one(struct pg_be *be, const char *sql, const char *key, struct scep_cert_info **out)
{
    struct pg_params p = {0};
    PGresult *res = NULL;
    int rc;

    pg_param_str(&p, key);
    rc = pg_exec(be, sql, &p, "select certificate", &res);
    if (rc != 0)
        return rc;
    rc = PQntuples(res) > 0 ? read_cert_row(be, res, 0, out) : SCEP_ERR_NOT_FOUND;
    PQclear(res);
    return rc;
}

/* Looks a certificate up by serial (scep_store_get_cert()). */
int pg_get_cert(void *be, const char *serial, struct scep_cert_info **out)
{
    return get_one(be, "SELECT " CERT_COLUMNS " FROM certificates WHERE serial = $1", serial, out);
}

/* Looks a certificate up by fingerprint
 * (scep_store_get_cert_by_fingerprint()). */
int pg_get_cert_by_fingerprint(void *be, const char *fingerprint, struct scep_cert_info **out)
{
    return get_one(be, "SELECT " CERT_COLUMNS " FROM certificates WHERE fingerprint = $1",
                   fingerprint, out);
}

/* The certificate of a transactionID (scep_store_get_cert_by_transaction());
 * the unique index allows one, the ORDER BY keeps the contract's "most
 * recent" should an imported database hold several. */
int pg_get_cert_by_transaction(void *be, const char *transaction_id, struct scep_cert_info **out)
{
    return get_one(be,
                   "SELECT " CERT_COLUMNS " FROM certificates WHERE transaction_id = $1 "
                   "ORDER BY issued_at DESC, serial DESC LIMIT 1",
                   transaction_id, out);
}

/* Appends " AND <clause with $N>" to sql (N the next parameter). */
static int add_clause(char *sql, size_t len, size_t *used, const char *fmt, int n)
{
    int w = snprintf(sql + *used, len - *used, fmt, n);

    if (w < 0 || (size_t)w >= len - *used)
        return -1;
    *used += (size_t)w;
    return 0;
}

/* Appends fixed text to sql. */
static int add_text(char *sql, size_t len, size_t *used, const char *text)
{
    size_t n = strlen(text);

    if (*used + n + 1 > len)
        return -1;
    memcpy(sql + *used, text, n + 1);
    *used += n;
    return 0;
}

/*
 * The LIKE pattern "%text%" with LIKE's own characters ('%', '_' and
 * the escape '\\') escaped, so that they match themselves.  *out:
 * free().  0 or SCEP_ERR_NOMEM.
 */
static int like_pattern(const char *text, char **out)
{
    size_t n = strlen(text), i, j = 0;
    char *p = malloc(2 * n + 3);

    if (p == NULL)
        return SCEP_ERR_NOMEM;
    p[j++] = '%';
    for (i = 0; i < n; i++) {
        if (text[i] == '%' || text[i] == '_' || text[i] == '\\')
            p[j++] = '\\';
        p[j++] = text[i];
    }
    p[j++] = '%';
    p[j] = '\0';
    *out = p;
    return 0;
}

/* The state of a paged listing: where the last page ended. */
struct page_pos {
    int started;
    int64_t key;  /* issued_at or not_after of the last row, by f->order */
    char *serial; /* owned */
};

/*
 * One page of the listing: the filters of f, then (after the first page)
 * the rows after the last one seen in the listing's order (issued_at
 * DESC or not_after ASC, then serial ASC).  The query is built from
 * fixed clauses (caller text is only bound), one clause per filter so
 * that the indexes can serve it: ILIKE with a bound pattern is what a
 * pg_trgm GIN index answers (pg_migrate.c step 7), and works (by a
 * scan) where the extension is missing.  pats holds the two LIKE
 * patterns, kept by the caller until the page is read.  *out: PQclear().
 */
static int cert_page(struct pg_be *be, const struct scep_cert_filter *f, int64_t now,
                     const struct page_pos *pos, char *const pats[2], const char *sp_hi,
                     int64_t want, PGresult **out)
{
    struct pg_params p = {0};
    char sql[2048];
    size_t used = 0;
    unsigned src = f->sources;
    int bad = 0, expiry = f->order == SCEP_CERT_ORDER_EXPIRY;

    bad |=
        add_text(sql, sizeof(sql), &used, "SELECT " CERT_COLUMNS " FROM certificates WHERE true");
    if (f->status >= 0) {
        pg_param_int(&p, f->status);
        bad |= add_clause(sql, sizeof(sql), &used, " AND status = $%d", p.n);
    }
    if (f->expiring_within > 0) {
        pg_param_int(&p, now + f->expiring_within);
        bad |= add_clause(sql, sizeof(sql), &used, " AND status = 0 AND not_after < $%d", p.n);
    }
    if (!f->include_expired) {
        pg_param_int(&p, now);
        bad |= add_clause(sql, sizeof(sql), &used, " AND not_after >= $%d", p.n);
    }
    if (pats[0] != NULL) {
        pg_param_str(&p, pats[0]);
        bad |= add_clause(sql, sizeof(sql), &used, " AND subject ILIKE $%d", p.n);
    }
    if (pats[1] != NULL) {
        pg_param_str(&p, pats[1]);
        bad |= add_clause(sql, sizeof(sql), &used, " AND sans ILIKE $%d", p.n);
    }
    if (f->issuer_fp != NULL) {
        pg_param_str(&p, f->issuer_fp);
        bad |= add_clause(sql, sizeof(sql), &used, " AND issuer_fp = $%d", p.n);
    }
    if (f->profile != NULL) {
        pg_param_str(&p, f->profile);
        bad |= add_clause(sql, sizeof(sql), &used, " AND profile = $%d", p.n);
    }
    /* A range on the primary key (COLLATE "C": bytewise, as SQLite). */
    if (f->serial_prefix != NULL) {
        pg_param_str(&p, f->serial_prefix);
        bad |= add_clause(sql, sizeof(sql), &used, " AND serial >= $%d", p.n);
        pg_param_str(&p, sp_hi);
        bad |= add_clause(sql, sizeof(sql), &used, " AND serial < $%d", p.n);
    }
    if (f->issued_after > 0) {
        pg_param_int(&p, f->issued_after);
        bad |= add_clause(sql, sizeof(sql), &used, " AND issued_at >= $%d", p.n);
    }
    if (f->issued_before > 0) {
        pg_param_int(&p, f->issued_before);
        bad |= add_clause(sql, sizeof(sql), &used, " AND issued_at < $%d", p.n);
    }
    if (f->superseded_before > 0) {
        pg_param_int(&p, f->superseded_before);
        bad |= add_clause(sql, sizeof(sql), &used,
                          " AND superseded_by IS NOT NULL AND superseded_at < $%d", p.n);
    } else if (f->superseded == SCEP_FILTER_ONLY) {
        bad |= add_text(sql, sizeof(sql), &used, " AND superseded_by IS NOT NULL");
    } else if (f->superseded == SCEP_FILTER_NOT) {
        bad |= add_text(sql, sizeof(sql), &used, " AND superseded_by IS NULL");
    }
    if (src != 0) {
        bad |= add_text(sql, sizeof(sql), &used, " AND source IN (''");
        if (src & SCEP_CERT_SRC_SCEP)
            bad |= add_text(sql, sizeof(sql), &used, ", 'scep'");
        if (src & SCEP_CERT_SRC_IMPORT)
            bad |= add_text(sql, sizeof(sql), &used, ", 'import'");
        if (src & SCEP_CERT_SRC_TLS)
            bad |= add_text(sql, sizeof(sql), &used, ", 'tls'");
        bad |= add_text(sql, sizeof(sql), &used, ")");
    }
    if (pos->started) {
        pg_param_int(&p, pos->key);
        pg_param_str(&p, pos->serial);
        /* The bound alone first: the OR below is not an index range, and
         * without it every page would scan the index again from the
         * start of the window (quadratic in the length of the answer). */
        bad |= add_clause(sql, sizeof(sql), &used,
                          expiry ? " AND not_after >= $%d" : " AND issued_at <= $%d", p.n - 1);
        bad |= add_clause(sql, sizeof(sql), &used,
                          expiry ? " AND (not_after > $%d" : " AND (issued_at < $%d", p.n - 1);
        bad |= add_clause(sql, sizeof(sql), &used,
                          expiry ? " OR (not_after = $%d" : " OR (issued_at = $%d", p.n - 1);
        bad |= add_clause(sql, sizeof(sql), &used, " AND serial > $%d))", p.n);
    }
    pg_param_int(&p, want);
    bad |= add_clause(sql, sizeof(sql), &used,
                      expiry ? " ORDER BY not_after ASC, serial ASC LIMIT $%d"
                             : " ORDER BY issued_at DESC, serial ASC LIMIT $%d",
                      p.n);
    if (bad) {
        snprintf(be->err, sizeof(be->err), "listing query too long");
        return SCEP_ERR_INTERNAL;
    }
    return pg_exec(be, sql, &p, "list certificates", out);
}

/*
 * Walks the certificates matching f in its order, in pages
 * (scep_store_list_certs()).  Each page is read whole before its rows
 * go to cb, so cb may call back into the store, even list_certs itself;
 * the next page starts after the last row seen, so rows cb changes are
 * neither repeated nor skipped.
 */
int pg_list_certs(void *vbe, const struct scep_cert_filter *f, scep_store_cert_cb cb, void *arg)
{
    struct pg_be *be = vbe;
    PGresult *res = NULL;
    struct scep_cert_info *ci = NULL;
    struct page_pos pos = {0, 0, NULL};
    char *pats[2] = {NULL, NULL}, sp_hi[72] = "";
    int64_t now = (int64_t)time(NULL), left = f->limit, want;
    int rc = SCEP_ERR_NOMEM, i, n;
    size_t splen;

    if ((f->subject_like != NULL && like_pattern(f->subject_like, &pats[0]) != 0) ||
        (f->san_like != NULL && like_pattern(f->san_like, &pats[1]) != 0))
        goto out;
    if (f->serial_prefix != NULL) {
        /* store.c checked: 1 to 64 uppercase hex digits.  The prefix
         * with its last character bumped bounds every serial having it. */
        splen = strlen(f->serial_prefix);
        memcpy(sp_hi, f->serial_prefix, splen + 1);
        sp_hi[splen - 1]++;
    }
    if (f->after_serial != NULL) {
        pos.serial = strdup(f->after_serial);
        if (pos.serial == NULL)
            goto out;
        pos.key = f->after_key;
        pos.started = 1;
    }
    for (;;) {
        want = left > 0 && left < CERT_PAGE ? left : CERT_PAGE;
        rc = cert_page(be, f, now, &pos, pats, sp_hi, want, &res);
        if (rc != 0)
            goto out;
        n = PQntuples(res);
        for (i = 0; i < n; i++) {
            /* An owned copy per row, freed right after the call. */
            rc = read_cert_row(be, res, i, &ci);
            if (rc != 0)
                goto out;
            rc = cb(ci, arg);
            free(pos.serial);
            pos.serial = ci->serial;
            ci->serial = NULL;
            pos.key = f->order == SCEP_CERT_ORDER_EXPIRY ? ci->not_after : ci->issued_at;
            pos.started = 1;
            scep_cert_info_free(ci);
            ci = NULL;
            if (rc != 0)
                goto out;
        }
        PQclear(res);
        res = NULL;
        if (f->limit > 0) {
            left -= n;
            if (left <= 0)
                break;
        }
        if (n < want)
            break;
    }
    rc = 0;
out:
    scep_cert_info_free(ci);
    free(pos.serial);
    free(pats[0]);
    free(pats[1]);
    PQclear(res);
    return rc;
}

/*
 * Explains, inside the current transaction, why a revoke (unhold 0) or a
 * release (unhold 1) matched no row, in be->err: SCEP_ERR_NOT_FOUND for
 * an unknown serial; for a revoke SCEP_ERR_EXISTS (already revoked); for
 * a release SCEP_ERR_POLICY (not revoked, or revoked for good).  Else
 * SCEP_ERR_STORE.
 */
static int why_unchanged(struct pg_be *be, const char *serial, int unhold)
{
    struct pg_params p = {0};
    PGresult *res = NULL;
    int64_t status = 0, reason = 0;
    int rc;

    pg_param_str(&p, serial);
    rc = pg_exec(be, "SELECT status, revocation_reason, source FROM certificates WHERE serial = $1",
                 &p, "select status", &res);
    if (rc != 0)
        return rc;
    if (PQntuples(res) == 0) {
        snprintf(be->err, sizeof(be->err), "no certificate with serial %s", serial);
        rc = SCEP_ERR_NOT_FOUND;
    } else if (pg_int(res, 0, 0, &status) != 0 || pg_int(res, 0, 1, &reason) != 0) {
        snprintf(be->err, sizeof(be->err), "certificate %s: malformed status", serial);
        rc = SCEP_ERR_STORE;
    } else if (!unhold && status != SCEP_CERT_REVOKED) {
        /* Valid, yet the revoke matched nothing: not one of ours. */
        snprintf(be->err, sizeof(be->err),
                 "certificate %s is external (%s): scepd did not issue it and cannot revoke it",
                 serial, PQgetvalue(res, 0, 2));
        rc = SCEP_ERR_POLICY;
    } else if (!unhold) {
        snprintf(be->err, sizeof(be->err), "certificate %s already revoked", serial);
        rc = SCEP_ERR_EXISTS;
    } else if (status != SCEP_CERT_REVOKED) {
        snprintf(be->err, sizeof(be->err), "certificate %s is not revoked", serial);
        rc = SCEP_ERR_POLICY;
    } else {
        snprintf(be->err, sizeof(be->err),
                 "certificate %s is revoked with reason %lld, not certificateHold (%d): only a "
                 "hold can be released (RFC 5280 5.3.1)",
                 serial, (long long)reason, REASON_CERTIFICATE_HOLD);
        rc = SCEP_ERR_POLICY;
    }
    PQclear(res);
    return rc;
}

/*
 * Runs the status change sql with p in a transaction and, when it
 * changed the certificate's row, appends ev and commits; otherwise says
 * why through why_unchanged().  The UPDATE's WHERE clause names the
 * state the change starts from, so two nodes revoking one certificate
 * at once leave one winner: the second waits for the first's row lock
 * and then finds the row no longer matches.
 */
static int status_change(struct pg_be *be, const char *sql, const struct pg_params *p,
                         const char *serial, int unhold, const struct scep_audit_event *ev)
{
    PGresult *res = NULL;
    int rc;

    rc = pg_begin(be);
    if (rc != 0)
        return rc;
    rc = pg_exec(be, sql, p, unhold ? "release hold" : "revoke", &res);
    if (rc != 0)
        goto out;
    if (pg_changes(res) != 1)
        rc = why_unchanged(be, serial, unhold);
    else
        rc = pg_commit_audited(be, ev);
out:
    PQclear(res);
    if (rc != 0)
        pg_rollback(be);
    return rc;
}

/* Revokes a valid certificate with ev (scep_store_revoke()). */
int pg_revoke(void *vbe, const char *serial, int reason, int64_t at,
              const struct scep_audit_event *ev)
{
    struct pg_params p = {0};

    pg_param_str(&p, serial);
    pg_param_int(&p, at != 0 ? at : (int64_t)time(NULL));
    pg_param_int(&p, reason);
    return status_change(vbe,
                         "UPDATE certificates SET status = 1, revoked_at = $2, "
                         "revocation_reason = $3 WHERE serial = $1 AND status = 0 "
                         "AND source = 'scep'",
                         &p, serial, 0, ev);
}

/* Takes a certificate on hold back to valid with ev (scep_store_unhold()). */
int pg_unhold(void *vbe, const char *serial, const struct scep_audit_event *ev)
{
    struct pg_params p = {0};

    pg_param_str(&p, serial);
    return status_change(vbe,
                         "UPDATE certificates SET status = 0, revoked_at = 0, "
                         "revocation_reason = -1 "
                         "WHERE serial = $1 AND status = 1 AND revocation_reason = 6",
                         &p, serial, 1, ev);
}

/*
 * Hands out the next CRL number (scep_store_next_crl_number()): one
 * UPDATE ... RETURNING, its own transaction, which locks the counter
 * row, so no two callers on any node get the same number and each gets
 * a larger one than any committed before.  Should the connection fail
 * as the answer comes back, the statement is sent again on a new one
 * (pg_exec()), which may skip a number: numbers stay monotonic, which
 * is all RFC 5280 5.2.3 asks.
 */
int pg_next_crl_number(void *vbe, int64_t *out)
{
    struct pg_be *be = vbe;
    PGresult *res = NULL;
    int64_t n = 0;
    int rc;

    rc = pg_exec(be, "UPDATE crl_numbers SET last = last + 1 WHERE id = 1 RETURNING last", NULL,
                 "bump CRL number", &res);
    if (rc != 0)
        return rc;
    if (PQntuples(res) != 1 || pg_int(res, 0, 0, &n) != 0) {
        snprintf(be->err, sizeof(be->err), "bump CRL number: the counter row is missing");
        rc = SCEP_ERR_STORE;
    } else {
        *out = n;
    }
    PQclear(res);
    return rc;
}

/*
 * The condition of the expiry listing and count, as sqlite_certs.c's
 * EXPIRING_WHERE with $n for ?n: valid, unexpired at $1, expiring by $2,
 * without a successor, whatever the row's source.  A "superseded" flag,
 * once the schema has it, is one more "AND c.superseded = 0" in both.
 */
#define EXPIRING_WHERE                                                                             \
    "c.status = 0 AND c.not_after > $1 AND c.not_after <= $2 AND NOT EXISTS "                      \
    "(SELECT 1 FROM certificates r WHERE r.renewed_serial = c.serial)"

/*
 * Walks the certificates the expiry job watches (scep_store_list_expiring()),
 * soonest first, in pages keyed by (not_after, serial).  A page is read
 * whole before cb sees it, so cb may call back into the store.
 */
int pg_list_expiring(void *vbe, int64_t now, int64_t until, scep_store_expiring_cb cb, void *arg)
{
    struct pg_be *be = vbe;
    struct pg_params p;
    PGresult *res = NULL;
    struct scep_cert_info *ci = NULL;
    char *profile = NULL, *last_serial = NULL;
    int64_t last_after = 0;
    int rc, i, n, started = 0;

    for (;;) {
        memset(&p, 0, sizeof(p));
        pg_param_int(&p, now);
        pg_param_int(&p, until);
        pg_param_int(&p, CERT_PAGE);
        if (started) {
            pg_param_int(&p, last_after);
            pg_param_str(&p, last_serial);
        }
        rc = pg_exec(
            be,
            started ? "SELECT " CERT_COLUMNS
                      ", coalesce(nullif(c.profile, ''), (SELECT ch.profile FROM challenges ch "
                      "WHERE ch.id = c.challenge_id)) FROM certificates c WHERE "
                      "" EXPIRING_WHERE " AND (c.not_after > $4 OR (c.not_after = $4 "
                      "AND c.serial > $5)) ORDER BY c.not_after, c.serial LIMIT $3"
                    : "SELECT " CERT_COLUMNS
                      ", coalesce(nullif(c.profile, ''), (SELECT ch.profile FROM challenges ch "
                      "WHERE ch.id = c.challenge_id)) FROM certificates c WHERE "
                      "" EXPIRING_WHERE " ORDER BY c.not_after, c.serial LIMIT $3",
            &p, "list expiring certificates", &res);
        if (rc != 0)
            goto out;
        n = PQntuples(res);
        for (i = 0; i < n; i++) {
            rc = read_cert_row(be, res, i, &ci);
            if (rc == 0 && pg_dup_str(res, i, CERT_NCOLUMNS, &profile) != 0)
                rc = SCEP_ERR_NOMEM;
            if (rc != 0)
                goto out;
            rc = cb(ci, profile, arg);
            free(last_serial);
            last_serial = ci->serial;
            ci->serial = NULL;
            last_after = ci->not_after;
            started = 1;
            scep_cert_info_free(ci);
            ci = NULL;
            free(profile);
            profile = NULL;
            if (rc != 0)
                goto out;
        }
        PQclear(res);
        res = NULL;
        if (n < CERT_PAGE)
            break;
    }
    rc = 0;
out:
    scep_cert_info_free(ci);
    free(profile);
    free(last_serial);
    PQclear(res);
    return rc;
}

/* Counts certificates by state at now (scep_store_count_certs()), in
 * the statement sqlite_certs.c runs. */
int pg_count_certs(void *vbe, int64_t now, int64_t within, struct scep_cert_counts *out)
{
    struct pg_be *be = vbe;
    struct pg_params p = {0};
    PGresult *res = NULL;
    int rc;

    pg_param_int(&p, now);
    pg_param_int(&p, now + within);
    rc = pg_exec(be,
                 "SELECT count(*) FILTER (WHERE status = 0 AND not_after > $1), "
                 "count(*) FILTER (WHERE status = 1), "
                 "count(*) FILTER (WHERE status = 0 AND not_after <= $1), "
                 "(SELECT count(*) FROM certificates c WHERE " EXPIRING_WHERE ") "
                 "FROM certificates",
                 &p, "count certificates", &res);
    if (rc != 0)
        return rc;
    if (PQntuples(res) != 1 || pg_int(res, 0, 0, &out->valid) || pg_int(res, 0, 1, &out->revoked) ||
        pg_int(res, 0, 2, &out->expired) || pg_int(res, 0, 3, &out->expiring)) {
        snprintf(be->err, sizeof(be->err), "count certificates: unexpected answer");
        rc = SCEP_ERR_STORE;
    }
    PQclear(res);
    return rc;
}
