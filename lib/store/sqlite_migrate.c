/*
 * The SQLite schema and its migrations.  The schema_version table holds
 * one row per applied step; each step runs in its own BEGIN IMMEDIATE
 * transaction that first re-reads the version, so several processes
 * opening a fresh database at once apply each step exactly once.  A
 * database newer than this code is refused rather than written to: an
 * older program must not guess at columns it does not know.  Steps are
 * idempotent where SQLite allows it (IF NOT EXISTS), so a step that meets
 * what it would create does not fail the upgrade.
 *
 * Types are kept to INTEGER, TEXT and BLOB so that store_pg.c can mirror
 * the same schema (BIGINT, TEXT, BYTEA).
 */
#include "sqlite_be.h"

#include <stdio.h>
#include <time.h>

#include <openssl/evp.h>

#include <scep/error.h>

struct migration {
    int version;
    const char *sql;
};

/* Append new steps at the end; never edit a step that has shipped. */
static const struct migration migrations[] = {
    {1, "CREATE TABLE certificates ("
        " serial TEXT PRIMARY KEY NOT NULL,"
        " issuer_fp TEXT,"
        " subject TEXT NOT NULL,"
        " sans TEXT,"
        " not_before INTEGER NOT NULL,"
        " not_after INTEGER NOT NULL,"
        " issued_at INTEGER NOT NULL,"
        " status INTEGER NOT NULL DEFAULT 0 CHECK (status IN (0, 1)),"
        " revoked_at INTEGER NOT NULL DEFAULT 0,"
        " revocation_reason INTEGER NOT NULL DEFAULT -1,"
        " transaction_id TEXT,"
        " requester TEXT,"
        " msg_type TEXT,"
        " pubkey_fp TEXT,"
        " renewed_serial TEXT,"
        " der BLOB NOT NULL);"
        "CREATE INDEX certificates_transaction_id ON certificates (transaction_id);"
        "CREATE INDEX certificates_not_after ON certificates (not_after);"
        "CREATE INDEX certificates_status ON certificates (status);"
        "CREATE INDEX certificates_issued_at ON certificates (issued_at);"
        "CREATE TABLE audit ("
        " id INTEGER PRIMARY KEY,"
        " time INTEGER NOT NULL,"
        " kind TEXT NOT NULL,"
        " actor TEXT,"
        " transaction_id TEXT,"
        " peer TEXT,"
        " serial TEXT,"
        " detail TEXT,"
        " prev_hash TEXT NOT NULL,"
        " hash TEXT NOT NULL);"
        /* One row: the last CRL number handed out. */
        "CREATE TABLE crl_numbers ("
        " id INTEGER PRIMARY KEY CHECK (id = 1),"
        " last INTEGER NOT NULL);"
        "INSERT INTO crl_numbers (id, last) VALUES (1, 0);"},
    /* Requests held for an administrator (approval = manual).  The status
     * values are enum scep_request_status.  AUTOINCREMENT so that an id an
     * administrator once saw never names another request, even if rows
     * are purged one day; transaction_id is UNIQUE because a client's
     * retries and polls find their request by it. */
    {2, "CREATE TABLE requests ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " transaction_id TEXT NOT NULL UNIQUE,"
        " subject TEXT,"
        " sans TEXT,"
        " pubkey_fp TEXT,"
        " msg_type TEXT,"
        " requester TEXT,"
        " created_at INTEGER NOT NULL,"
        " status INTEGER NOT NULL DEFAULT 0 CHECK (status IN (0, 1, 2, 3)),"
        " decided_at INTEGER NOT NULL DEFAULT 0,"
        " decided_by TEXT,"
        " reason TEXT,"
        " serial TEXT,"
        " csr BLOB NOT NULL);"
        "CREATE INDEX requests_status ON requests (status);"},
    /* Listing one CA's certificates (its CRL, an admin view after a
     * rollover), newest first: the filter and the order from one index.
     * IF NOT EXISTS so that a database where an administrator already
     * made it by hand upgrades all the same. */
    {3, "CREATE INDEX IF NOT EXISTS certificates_issuer_fp"
        " ON certificates (issuer_fp, issued_at);"},
    /* One-time enrollment challenges (store.h): only the SHA-256 of the
     * text is kept.  AUTOINCREMENT so that an id, once handed out, never
     * names another challenge, even after a purge: certificates and
     * requests keep the challenge_id that admitted them, with no foreign
     * key, since they outlive the challenge. */
    {4, "CREATE TABLE challenges ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " hash TEXT NOT NULL UNIQUE,"
        " profile TEXT NOT NULL DEFAULT '',"
        " subject TEXT,"
        " sans TEXT,"
        " max_uses INTEGER NOT NULL CHECK (max_uses > 0),"
        " uses INTEGER NOT NULL DEFAULT 0,"
        " created_at INTEGER NOT NULL,"
        " expires_at INTEGER NOT NULL,"
        " revoked_at INTEGER NOT NULL DEFAULT 0,"
        " created_by TEXT);"
        "CREATE INDEX challenges_expires_at ON challenges (expires_at);"
        "ALTER TABLE certificates ADD COLUMN challenge_id INTEGER;"
        "ALTER TABLE requests ADD COLUMN challenge_id INTEGER;"},
    /* Expiry notices (store.h, "Expiry notices"): one row per
     * (certificate, threshold, channel), claimed by the INSERT that
     * makes it, so that of several scepd nodes sharing the database one
     * sends each notice.  No foreign key: a notice's record outlives
     * nothing it refers to, and imported certificates are rows like any
     * other.  The index on renewed_serial serves the "has a successor"
     * test of the expiry listing.  (Issue 8.) */
    {5, "CREATE TABLE IF NOT EXISTS notices ("
        " serial TEXT NOT NULL,"
        " threshold INTEGER NOT NULL,"
        " channel TEXT NOT NULL,"
        " not_after INTEGER NOT NULL,"
        " state INTEGER NOT NULL DEFAULT 0 CHECK (state IN (0, 1, 2)),"
        " attempts INTEGER NOT NULL DEFAULT 0,"
        " claimed_by TEXT,"
        " claimed_at INTEGER NOT NULL DEFAULT 0,"
        " lease_until INTEGER NOT NULL DEFAULT 0,"
        " next_attempt_at INTEGER NOT NULL DEFAULT 0,"
        " sent_at INTEGER NOT NULL DEFAULT 0,"
        " last_error TEXT,"
        " PRIMARY KEY (serial, threshold, channel));"
        "CREATE INDEX IF NOT EXISTS notices_state ON notices (state);"
        "CREATE INDEX IF NOT EXISTS certificates_renewed_serial"
        " ON certificates (renewed_serial);"},
    /* Bearer tokens of the admin API (store.h): only the SHA-256 of the
     * token is kept.  */
    {6, "CREATE TABLE tokens ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " name TEXT NOT NULL UNIQUE,"
        " role TEXT NOT NULL,"
        " hash TEXT NOT NULL UNIQUE,"
        " created_at INTEGER NOT NULL,"
        " expires_at INTEGER NOT NULL DEFAULT 0,"
        " revoked_at INTEGER NOT NULL DEFAULT 0,"
        " last_used_at INTEGER NOT NULL DEFAULT 0,"
        " created_by TEXT);"},
    /* The inventory (store.h, "The inventory").  profile: the
     * enrollment profile ('' the default).  source: 'scep' for what we
     * issued, 'import' / 'tls' for external certificates, seen_at where
     * those were found.  fingerprint: the SHA-256 of the DER, indexed for
     * the look-up an import makes first (an external row's serial is
     * derived from it, so the primary key keeps those unique; it is not a
     * unique index because rows of ours need not be distinct DER in tests
     * and tools that store placeholders); filled for the rows already there by
     * scep_sha256_hex(), a function sq_migrate() registers on this
     * connection for the step.  superseded_by / superseded_at: set on the
     * old certificate by a renewal, in the renewal's transaction; the
     * partial index serves the job that revokes superseded certificates.
     * (status, not_after): "valid and expiring before T" in index order.
     * certificates_search: a trigram index (FTS5, SQLite 3.34 or newer)
     * of subject and SANs, since LIKE '%x%' cannot use a B-tree; it holds
     * its own copy of the text and the serial to join back on, rather
     * than certificates' rowid, which VACUUM may renumber (the table has
     * no INTEGER PRIMARY KEY).  Certificates are never updated in those
     * columns nor deleted by scepd; the delete trigger, which scans the
     * search table (serial is not indexed there), is for a row removed by
     * hand, so that its text cannot match a later row of the same serial. */
    {7, "ALTER TABLE certificates ADD COLUMN profile TEXT NOT NULL DEFAULT '';"
        "ALTER TABLE certificates ADD COLUMN source TEXT NOT NULL DEFAULT 'scep'"
        " CHECK (source IN ('scep', 'import', 'tls'));"
        "ALTER TABLE certificates ADD COLUMN seen_at TEXT;"
        "ALTER TABLE certificates ADD COLUMN fingerprint TEXT;"
        "ALTER TABLE certificates ADD COLUMN superseded_by TEXT;"
        "ALTER TABLE certificates ADD COLUMN superseded_at INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE requests ADD COLUMN profile TEXT NOT NULL DEFAULT '';"
        "UPDATE certificates SET fingerprint = scep_sha256_hex(der);"
        "CREATE INDEX certificates_fingerprint ON certificates (fingerprint);"
        "CREATE INDEX certificates_status_not_after ON certificates (status, not_after);"
        "CREATE INDEX certificates_superseded ON certificates (superseded_at)"
        " WHERE superseded_by IS NOT NULL;"
        "CREATE VIRTUAL TABLE certificates_search USING fts5"
        " (serial UNINDEXED, subject, sans, tokenize = 'trigram');"
        "INSERT INTO certificates_search (serial, subject, sans)"
        " SELECT serial, subject, sans FROM certificates;"
        "CREATE TRIGGER certificates_search_insert AFTER INSERT ON certificates BEGIN"
        " INSERT INTO certificates_search (serial, subject, sans)"
        " VALUES (new.serial, new.subject, new.sans); END;"
        "CREATE TRIGGER certificates_search_delete AFTER DELETE ON certificates BEGIN"
        " DELETE FROM certificates_search WHERE serial = old.serial; END;"},
    /* The published CRLs (store.h, "The published CRLs"): one row per
     * CA, the last CRL made for it, so that every process and node on
     * this database serves the same CRL and one makes the next
     * (lib/admin/crl_current.c).  (Issue 10.) */
    {8, "CREATE TABLE crls ("
        " issuer_fp TEXT PRIMARY KEY,"
        " number INTEGER NOT NULL,"
        " made INTEGER NOT NULL,"
        " next_update INTEGER NOT NULL,"
        " digest BLOB NOT NULL,"
        " der BLOB NOT NULL);"},
};

#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* Reads the current version inside the open transaction (0: none). */
static int current_version(struct sq_be *be, int *out)
{
    sqlite3_stmt *s = NULL;
    int rc = SCEP_ERR_STORE;

    if (sqlite3_prepare_v2(be->db, "SELECT coalesce(max(version), 0) FROM schema_version", -1, &s,
                           NULL) != SQLITE_OK) {
        sq_fail(be, "prepare schema version");
        goto out;
    }
    if (sqlite3_step(s) != SQLITE_ROW) {
        sq_fail(be, "read schema version");
        goto out;
    }
    *out = sqlite3_column_int(s, 0);
    rc = 0;
out:
    sqlite3_finalize(s);
    return rc;
}

static int record_version(struct sq_be *be, int version)
{
    sqlite3_stmt *s = NULL;
    int rc = SCEP_ERR_STORE;

    if (sqlite3_prepare_v2(be->db,
                           "INSERT INTO schema_version (version, applied_at) VALUES (?1, ?2)", -1,
                           &s, NULL) != SQLITE_OK) {
        sq_fail(be, "prepare schema version");
        goto out;
    }
    if (sqlite3_bind_int(s, 1, version) != SQLITE_OK ||
        sqlite3_bind_int64(s, 2, (int64_t)time(NULL)) != SQLITE_OK ||
        sqlite3_step(s) != SQLITE_DONE) {
        sq_fail(be, "record schema version");
        goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(s);
    return rc;
}

/*
 * One pass: in a write transaction, reads the version and applies the
 * next step if there is one.  *done is set when nothing was left to do.
 */
static int migrate_step(struct sq_be *be, int *done)
{
    int rc, cur = 0, latest = migrations[NMIGRATIONS - 1].version;

    rc = sq_begin(be);
    if (rc != 0)
        return rc;
    if (sqlite3_exec(be->db,
                     "CREATE TABLE IF NOT EXISTS schema_version ("
                     " version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
                     NULL, NULL, NULL) != SQLITE_OK) {
        rc = sq_fail(be, "create schema_version");
        goto out;
    }
    rc = current_version(be, &cur);
    if (rc != 0)
        goto out;
    if (cur > latest) {
        snprintf(be->err, sizeof(be->err), "schema version %d is newer than this scepd (%d)", cur,
                 latest);
        rc = SCEP_ERR_STORE;
        goto out;
    }
    if (cur < latest) {
        /* migrations[i] has version i + 1. */
        if (sqlite3_exec(be->db, migrations[cur].sql, NULL, NULL, NULL) != SQLITE_OK) {
            rc = sq_fail(be, "apply migration");
            goto out;
        }
        rc = record_version(be, migrations[cur].version);
        if (rc != 0)
            goto out;
        cur = migrations[cur].version;
    }
    rc = sq_commit(be);
    if (rc != 0)
        goto out;
    be->version = cur;
    *done = cur == latest;
out:
    if (rc != 0)
        sq_rollback(be);
    return rc;
}

/*
 * scep_sha256_hex(blob): lowercase hex SHA-256, for step 7 to fill the
 * fingerprint of the rows already stored (SQLite has no digest
 * function of its own).  NULL for a NULL or empty argument.
 */
static void sql_sha256_hex(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0, i;
    char hex[2 * 32 + 1];
    const void *blob;
    int len;

    (void)argc;
    blob = sqlite3_value_blob(argv[0]);
    len = sqlite3_value_bytes(argv[0]);
    if (blob == NULL || len <= 0) {
        sqlite3_result_null(ctx);
        return;
    }
    if (EVP_Digest(blob, (size_t)len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
        sqlite3_result_error(ctx, "SHA-256 failed", -1);
        return;
    }
    for (i = 0; i < mdlen; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 0x0f];
    }
    sqlite3_result_text(ctx, hex, 64, SQLITE_TRANSIENT);
}

/* Applies every pending migration; see sqlite_be.h. */
int sq_migrate(struct sq_be *be)
{
    int rc, done = 0, i;

    if (sqlite3_create_function(be->db, "scep_sha256_hex", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                NULL, sql_sha256_hex, NULL, NULL) != SQLITE_OK)
        return sq_fail(be, "register scep_sha256_hex");

    for (i = 0; i < NMIGRATIONS; i++) {
        if (migrations[i].version != i + 1) {
            snprintf(be->err, sizeof(be->err), "migration table out of order at %d", i);
            return SCEP_ERR_INTERNAL;
        }
    }
    while (!done) {
        rc = migrate_step(be, &done);
        if (rc != 0)
            return rc;
    }
    return 0;
}
