/*
 * The PostgreSQL schema and its migrations.  The steps mirror
 * sqlite_migrate.c's one for one, with the same version numbers, so
 * that a schema version means the same tables in both backends; types
 * are BIGINT, INTEGER, TEXT and BYTEA for SQLite's INTEGER, TEXT and
 * BLOB.  Where PostgreSQL can decide in the database what SQLite's
 * backend decides under its single write lock, the schema says so:
 *   - one certificate per transactionID: a unique partial index;
 *   - an unforked audit chain: every prev_hash at most once (an event
 *     appended twice after the same one is refused), besides the lock
 *     pg_audit.c takes;
 *   - serials ordered bytewise (COLLATE "C"), as SQLite orders them, so
 *     that listings come out the same whatever the database's locale.
 *
 * Several nodes may start together on one new database: pg_migrate()
 * holds a session advisory lock (PG_LOCK_MIGRATE) for the whole
 * upgrade, so the first one migrates and the others, once it lets go,
 * find nothing left to do.  Each step runs in its own transaction that
 * also records it in schema_version (DDL is transactional here), and a
 * database newer than this code is refused rather than written to.
 */
#include "pg_be.h"

#include <stdio.h>
#include <time.h>

#include <scep/error.h>

struct migration {
    int version;
    const char *sql;
};

/* Append new steps at the end; never edit a step that has shipped.
 * Keep the versions in step with sqlite_migrate.c. */
static const struct migration migrations[] = {
    {1, "CREATE TABLE certificates ("
        " serial TEXT COLLATE \"C\" PRIMARY KEY,"
        " issuer_fp TEXT,"
        " subject TEXT NOT NULL,"
        " sans TEXT,"
        " not_before BIGINT NOT NULL,"
        " not_after BIGINT NOT NULL,"
        " issued_at BIGINT NOT NULL,"
        " status INTEGER NOT NULL DEFAULT 0 CHECK (status IN (0, 1)),"
        " revoked_at BIGINT NOT NULL DEFAULT 0,"
        " revocation_reason INTEGER NOT NULL DEFAULT -1,"
        " transaction_id TEXT,"
        " requester TEXT,"
        " msg_type TEXT,"
        " pubkey_fp TEXT,"
        " renewed_serial TEXT,"
        " der BYTEA NOT NULL);"
        /* Unique, unlike SQLite's plain index: here the database itself
         * refuses a second certificate for one transactionID, whichever
         * node tries. */
        "CREATE UNIQUE INDEX certificates_transaction_id ON certificates (transaction_id)"
        " WHERE transaction_id IS NOT NULL;"
        "CREATE INDEX certificates_not_after ON certificates (not_after);"
        "CREATE INDEX certificates_status ON certificates (status);"
        "CREATE INDEX certificates_issued_at ON certificates (issued_at);"
        "CREATE TABLE audit ("
        " id BIGINT PRIMARY KEY,"
        " time BIGINT NOT NULL,"
        " kind TEXT NOT NULL,"
        " actor TEXT,"
        " transaction_id TEXT,"
        " peer TEXT,"
        " serial TEXT,"
        " detail TEXT,"
        " prev_hash TEXT NOT NULL,"
        " hash TEXT NOT NULL,"
        " CONSTRAINT audit_prev_hash_once UNIQUE (prev_hash));"
        /* One row: the last CRL number handed out. */
        "CREATE TABLE crl_numbers ("
        " id INTEGER PRIMARY KEY CHECK (id = 1),"
        " last BIGINT NOT NULL);"
        "INSERT INTO crl_numbers (id, last) VALUES (1, 0);"},
    /* Requests held for an administrator (approval = manual); the status
     * values are enum scep_request_status.  A sequence never hands an id
     * out twice, even after a rollback or a purge. */
    {2, "CREATE TABLE requests ("
        " id BIGSERIAL PRIMARY KEY,"
        " transaction_id TEXT NOT NULL,"
        " subject TEXT,"
        " sans TEXT,"
        " pubkey_fp TEXT,"
        " msg_type TEXT,"
        " requester TEXT,"
        " created_at BIGINT NOT NULL,"
        " status INTEGER NOT NULL DEFAULT 0 CHECK (status IN (0, 1, 2, 3)),"
        " decided_at BIGINT NOT NULL DEFAULT 0,"
        " decided_by TEXT,"
        " reason TEXT,"
        " serial TEXT,"
        " csr BYTEA NOT NULL,"
        " CONSTRAINT requests_transaction_id_key UNIQUE (transaction_id));"
        "CREATE INDEX requests_status ON requests (status);"},
    /* One CA's certificates, newest first, from one index. */
    {3, "CREATE INDEX IF NOT EXISTS certificates_issuer_fp"
        " ON certificates (issuer_fp, issued_at);"},
    /* One-time enrollment challenges, as sqlite_migrate.c's step 4: a
     * sequence never hands an id out twice, so the challenge_id a
     * certificate or request keeps (no foreign key: they outlive the
     * challenge) names one challenge forever. */
    {4, "CREATE TABLE challenges ("
        " id BIGSERIAL PRIMARY KEY,"
        " hash TEXT NOT NULL,"
        " profile TEXT NOT NULL DEFAULT '',"
        " subject TEXT,"
        " sans TEXT,"
        " max_uses BIGINT NOT NULL CHECK (max_uses > 0),"
        " uses BIGINT NOT NULL DEFAULT 0,"
        " created_at BIGINT NOT NULL,"
        " expires_at BIGINT NOT NULL,"
        " revoked_at BIGINT NOT NULL DEFAULT 0,"
        " created_by TEXT,"
        " CONSTRAINT challenges_hash_key UNIQUE (hash));"
        "CREATE INDEX challenges_expires_at ON challenges (expires_at);"
        "ALTER TABLE certificates ADD COLUMN challenge_id BIGINT;"
        "ALTER TABLE requests ADD COLUMN challenge_id BIGINT;"},
    /* Expiry notices, as sqlite_migrate.c's step 5: the primary key is
     * the claim, so INSERT ... ON CONFLICT DO NOTHING lets one node of
     * many take a notice.  (Issue 8.) */
    {5, "CREATE TABLE IF NOT EXISTS notices ("
        " serial TEXT COLLATE \"C\" NOT NULL,"
        " threshold BIGINT NOT NULL,"
        " channel TEXT NOT NULL,"
        " not_after BIGINT NOT NULL,"
        " state INTEGER NOT NULL DEFAULT 0 CHECK (state IN (0, 1, 2)),"
        " attempts BIGINT NOT NULL DEFAULT 0,"
        " claimed_by TEXT,"
        " claimed_at BIGINT NOT NULL DEFAULT 0,"
        " lease_until BIGINT NOT NULL DEFAULT 0,"
        " next_attempt_at BIGINT NOT NULL DEFAULT 0,"
        " sent_at BIGINT NOT NULL DEFAULT 0,"
        " last_error TEXT,"
        " PRIMARY KEY (serial, threshold, channel));"
        "CREATE INDEX IF NOT EXISTS notices_state ON notices (state);"
        "CREATE INDEX IF NOT EXISTS certificates_renewed_serial"
        " ON certificates (renewed_serial);"},
    /* Bearer tokens of the admin API, as sqlite_migrate.c's step 6. */
    {6, "CREATE TABLE tokens ("
        " id BIGSERIAL PRIMARY KEY,"
        " name TEXT NOT NULL,"
        " role TEXT NOT NULL,"
        " hash TEXT NOT NULL,"
        " created_at BIGINT NOT NULL,"
        " expires_at BIGINT NOT NULL DEFAULT 0,"
        " revoked_at BIGINT NOT NULL DEFAULT 0,"
        " last_used_at BIGINT NOT NULL DEFAULT 0,"
        " created_by TEXT,"
        " CONSTRAINT tokens_name_key UNIQUE (name),"
        " CONSTRAINT tokens_hash_key UNIQUE (hash));"},
    /* The inventory, as sqlite_migrate.c's step 7 (the comment there
     * says what each column is for).  The rows already stored get their
     * fingerprint from the server's own sha256().  Substring search of
     * subject and SANs (ILIKE '%x%') is served by pg_trgm GIN indexes
     * when the extension can be had: it ships in postgresql-contrib and
     * is "trusted" (PostgreSQL 13+), so a database owner may create it.
     * Where it cannot be created (not installed, or no privilege), the
     * step goes on without it and those searches scan; the block's
     * exception handler is a subtransaction, so the failed CREATE does
     * not abort the migration. */
    {7, "ALTER TABLE certificates ADD COLUMN profile TEXT NOT NULL DEFAULT '';"
        "ALTER TABLE certificates ADD COLUMN source TEXT NOT NULL DEFAULT 'scep'"
        " CHECK (source IN ('scep', 'import', 'tls'));"
        "ALTER TABLE certificates ADD COLUMN seen_at TEXT;"
        "ALTER TABLE certificates ADD COLUMN fingerprint TEXT;"
        "ALTER TABLE certificates ADD COLUMN superseded_by TEXT;"
        "ALTER TABLE certificates ADD COLUMN superseded_at BIGINT NOT NULL DEFAULT 0;"
        "ALTER TABLE requests ADD COLUMN profile TEXT NOT NULL DEFAULT '';"
        "UPDATE certificates SET fingerprint = encode(sha256(der), 'hex');"
        "CREATE INDEX certificates_fingerprint ON certificates (fingerprint);"
        "CREATE INDEX certificates_status_not_after ON certificates (status, not_after);"
        "CREATE INDEX certificates_superseded ON certificates (superseded_at)"
        " WHERE superseded_by IS NOT NULL;"
        "DO $$ BEGIN"
        " CREATE EXTENSION IF NOT EXISTS pg_trgm;"
        " EXCEPTION WHEN OTHERS THEN"
        " RAISE NOTICE 'pg_trgm unavailable (%): subject and SAN searches will scan', SQLERRM;"
        " END $$;"
        "DO $$ BEGIN"
        " IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN"
        " EXECUTE 'CREATE INDEX certificates_subject_trgm ON certificates"
        " USING gin (subject gin_trgm_ops)';"
        " EXECUTE 'CREATE INDEX certificates_sans_trgm ON certificates"
        " USING gin (sans gin_trgm_ops)';"
        " END IF;"
        " END $$;"},
    /* The published CRLs, as sqlite_migrate.c's step 8. */
    {8, "CREATE TABLE crls ("
        " issuer_fp TEXT PRIMARY KEY,"
        " number BIGINT NOT NULL,"
        " made BIGINT NOT NULL,"
        " next_update BIGINT NOT NULL,"
        " digest BYTEA NOT NULL,"
        " der BYTEA NOT NULL);"},
};

#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* The lock statements, with the keys of pg_be.h spelled out. */
#define STR_(x) #x
#define STR(x) STR_(x)
#define LOCK_ARGS "(" STR(PG_LOCK_CLASS) ", " STR(PG_LOCK_MIGRATE) ")"

/* Reads the current version inside the open transaction (0: none). */
static int current_version(struct pg_be *be, int *out)
{
    PGresult *res = NULL;
    int64_t v = 0;
    int rc;

    rc = pg_exec(be, "SELECT coalesce(max(version), 0)::bigint FROM schema_version", NULL,
                 "read schema version", &res);
    if (rc != 0)
        return rc;
    if (PQntuples(res) != 1 || pg_int(res, 0, 0, &v) != 0 || v < 0 || v > 1000000) {
        snprintf(be->err, sizeof(be->err), "read schema version: unexpected answer");
        rc = SCEP_ERR_STORE;
    } else {
        *out = (int)v;
    }
    PQclear(res);
    return rc;
}

/* Applies migrations[idx] and records it, in one transaction. */
static int apply_step(struct pg_be *be, int idx)
{
    struct pg_params p = {0};
    PGresult *res;
    int rc;

    rc = pg_begin(be);
    if (rc != 0)
        return rc;
    /* The step is several statements: the simple query protocol of
     * PQexec() runs them all, inside the transaction just begun. */
    res = PQexec(be->conn, migrations[idx].sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        rc = pg_fail(be, "apply migration", res);
        PQclear(res);
        goto out;
    }
    PQclear(res);
    pg_param_int(&p, migrations[idx].version);
    pg_param_int(&p, (int64_t)time(NULL));
    rc = pg_exec(be, "INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)", &p,
                 "record schema version", NULL);
    if (rc == 0)
        rc = pg_commit(be);
out:
    if (rc != 0)
        pg_rollback(be);
    return rc;
}

/*
 * Creates schema_version unless it exists.  Looked up first rather than
 * CREATE TABLE IF NOT EXISTS, which needs the CREATE privilege even when
 * the table is there: a role that may only read and write the tables of
 * an up-to-date schema (another role migrated it) must still start.
 */
static int ensure_version_table(struct pg_be *be)
{
    PGresult *res = NULL;
    int rc, exists;

    rc = pg_exec(be, "SELECT to_regclass('schema_version') IS NOT NULL", NULL,
                 "look for schema_version", &res);
    if (rc != 0)
        return rc;
    /* A bool in binary form is one byte, 1 for true. */
    exists = PQntuples(res) == 1 && PQgetlength(res, 0, 0) == 1 && PQgetvalue(res, 0, 0)[0] == 1;
    PQclear(res);
    if (exists)
        return 0;
    return pg_exec(be,
                   "CREATE TABLE schema_version ("
                   " version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)",
                   NULL, "create schema_version", NULL);
}

/* Applies whatever is pending; the caller holds the migration lock. */
static int migrate_locked(struct pg_be *be)
{
    int rc, cur = 0, latest = migrations[NMIGRATIONS - 1].version;

    rc = ensure_version_table(be);
    if (rc != 0)
        return rc;
    for (;;) {
        rc = current_version(be, &cur);
        if (rc != 0)
            return rc;
        if (cur > latest) {
            snprintf(be->err, sizeof(be->err), "schema version %d is newer than this scepd (%d)",
                     cur, latest);
            return SCEP_ERR_STORE;
        }
        if (cur == latest)
            break;
        /* migrations[i] has version i + 1. */
        rc = apply_step(be, cur);
        if (rc != 0)
            return rc;
    }
    be->version = cur;
    return 0;
}

/* Applies every pending migration under the advisory lock; see
 * pg_be.h. */
int pg_migrate(struct pg_be *be)
{
    int rc, i;
    char err[sizeof(be->err)];

    for (i = 0; i < NMIGRATIONS; i++) {
        if (migrations[i].version != i + 1) {
            snprintf(be->err, sizeof(be->err), "migration table out of order at %d", i);
            return SCEP_ERR_INTERNAL;
        }
    }
    /* Waits while another node migrates.  A session lock, not a
     * transaction one, because every step commits on its own; the
     * server drops it should this connection die half way. */
    rc = pg_exec(be, "SELECT pg_advisory_lock" LOCK_ARGS, NULL, "lock for migration", NULL);
    if (rc != 0)
        return rc;
    rc = migrate_locked(be);
    /* Unlocked on failure too, keeping the failure's text. */
    snprintf(err, sizeof(err), "%s", be->err);
    if (pg_exec(be, "SELECT pg_advisory_unlock" LOCK_ARGS, NULL, "unlock after migration", NULL) !=
            0 &&
        rc == 0)
        rc = SCEP_ERR_STORE;
    else
        snprintf(be->err, sizeof(be->err), "%s", err);
    return rc;
}
