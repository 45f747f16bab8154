/*
 * The audit trail in PostgreSQL: an append-only table whose rows form a
 * hash chain (audit_hash.c), with the same ids and hashes as SQLite's.
 * An event is appended inside the caller's transaction, right before
 * its COMMIT, so the change it describes and the event commit together.
 *
 * Several connections, on several nodes, append at once: each takes the
 * transaction advisory lock PG_LOCK_AUDIT first and only then reads the
 * chain head, in a statement of its own, so (READ COMMITTED) it sees
 * the event the previous holder committed and appends after it.  The
 * lock is held until COMMIT and is always the last lock a transaction
 * takes, so it cannot be part of a deadlock.  Should anything bypass it,
 * the primary key on id and the unique prev_hash refuse a fork.
 *
 * Listings read in pages, each result complete before the callback sees
 * its rows, so that a callback may call back into the store.
 */
#include "pg_be.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <scep/error.h>

/* Rows per page of a listing or of a verification. */
#define AUDIT_PAGE 1000

#define STR_(x) #x
#define STR(x) STR_(x)

#define AUDIT_COLUMNS "id, time, kind, actor, transaction_id, peer, serial, detail, prev_hash, hash"

/* Reads the newest event's id and hash, after taking the chain lock;
 * an empty table gives id 0 and the genesis hash. */
static int chain_head(struct pg_be *be, int64_t *id, char prev[SCEP_AUDIT_HASH_HEX])
{
    PGresult *res = NULL;
    int rc;

    rc = pg_exec(be, "SELECT pg_advisory_xact_lock(" STR(PG_LOCK_CLASS) ", " STR(PG_LOCK_AUDIT) ")",
                 NULL, "lock audit chain", NULL);
    if (rc != 0)
        return rc;
    rc = pg_exec(be, "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1", NULL, "read audit head",
                 &res);
    if (rc != 0)
        return rc;
    if (PQntuples(res) == 0) {
        *id = 0;
        memcpy(prev, SCEP_AUDIT_GENESIS, SCEP_AUDIT_HASH_HEX);
        goto out;
    }
    rc = SCEP_ERR_STORE;
    if (pg_int(res, 0, 0, id) != 0 || PQgetisnull(res, 0, 1) ||
        PQgetlength(res, 0, 1) != SCEP_AUDIT_HASH_HEX - 1) {
        snprintf(be->err, sizeof(be->err), "the newest audit event has a malformed hash");
        goto out;
    }
    memcpy(prev, PQgetvalue(res, 0, 1), SCEP_AUDIT_HASH_HEX - 1);
    prev[SCEP_AUDIT_HASH_HEX - 1] = '\0';
    rc = 0;
out:
    PQclear(res);
    return rc;
}

/* Appends ev after the chain head, inside the caller's transaction; see
 * pg_be.h. */
int pg_audit_append(struct pg_be *be, const struct scep_audit_event *ev)
{
    struct pg_params p = {0};
    struct scep_audit_event e = *ev;
    char prev[SCEP_AUDIT_HASH_HEX], hash[SCEP_AUDIT_HASH_HEX];
    int64_t last = 0;
    int rc;

    if (e.time == 0)
        e.time = (int64_t)time(NULL);
    rc = chain_head(be, &last, prev);
    if (rc != 0)
        return rc;
    if (scep_audit_hash(prev, last + 1, &e, hash) != 0) {
        snprintf(be->err, sizeof(be->err), "audit hash failed");
        return SCEP_ERR_STORE;
    }
    pg_param_int(&p, last + 1);
    pg_param_int(&p, e.time);
    pg_param_str(&p, e.kind);
    pg_param_str(&p, e.actor);
    pg_param_str(&p, e.transaction_id);
    pg_param_str(&p, e.peer);
    pg_param_str(&p, e.serial);
    pg_param_str(&p, e.detail);
    pg_param_str(&p, prev);
    pg_param_str(&p, hash);
    return pg_exec(be,
                   "INSERT INTO audit (" AUDIT_COLUMNS ") "
                   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                   &p, "insert audit", NULL);
}

/* Appends one event in its own transaction (scep_store_audit()). */
int pg_audit(void *vbe, const struct scep_audit_event *ev)
{
    struct pg_be *be = vbe;
    int rc;

    rc = pg_begin(be);
    if (rc != 0)
        return rc;
    rc = pg_commit_audited(be, ev);
    if (rc != 0)
        pg_rollback(be);
    return rc;
}

/* 1 if text column col of row is exactly its C string (or NULL).  The
 * server refuses NUL in text, but a reader must not rely on that. */
static int plain_text(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return 1;
    return strlen(PQgetvalue(res, row, col)) == (size_t)PQgetlength(res, row, col);
}

/* Text column col of row, borrowed from res, or NULL for SQL NULL. */
static const char *col_str(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

/* Fills ev with borrowed pointers into row of an AUDIT_COLUMNS result
 * (valid until PQclear()).  0, or SCEP_ERR_STORE for a malformed row. */
static int read_event(struct pg_be *be, const PGresult *res, int row, struct scep_audit_event *ev)
{
    int col;

    memset(ev, 0, sizeof(*ev));
    if (pg_int(res, row, 0, &ev->id) != 0 || pg_int(res, row, 1, &ev->time) != 0) {
        snprintf(be->err, sizeof(be->err), "audit row %d: malformed id or time", row);
        return SCEP_ERR_STORE;
    }
    for (col = 2; col <= 9; col++) {
        if (!plain_text(res, row, col)) {
            snprintf(be->err, sizeof(be->err), "audit event %lld holds a NUL byte",
                     (long long)ev->id);
            return SCEP_ERR_STORE;
        }
    }
    ev->kind = col_str(res, row, 2);
    ev->actor = col_str(res, row, 3);
    ev->transaction_id = col_str(res, row, 4);
    ev->peer = col_str(res, row, 5);
    ev->serial = col_str(res, row, 6);
    ev->detail = col_str(res, row, 7);
    ev->hash = col_str(res, row, 9);
    return 0;
}

/* One page of events with id > after, oldest first.  *out: PQclear(). */
static int audit_page(struct pg_be *be, int64_t after, PGresult **out)
{
    struct pg_params p = {0};

    pg_param_int(&p, after);
    pg_param_int(&p, AUDIT_PAGE);
    return pg_exec(be, "SELECT " AUDIT_COLUMNS " FROM audit WHERE id > $1 ORDER BY id LIMIT $2", &p,
                   "list audit", out);
}

/* Walks the events after after_id, oldest first (scep_store_list_audit()). */
int pg_list_audit(void *vbe, int64_t after_id, scep_store_audit_cb cb, void *arg)
{
    struct pg_be *be = vbe;
    PGresult *res = NULL;
    struct scep_audit_event ev;
    int rc, i, n;

    for (;;) {
        rc = audit_page(be, after_id, &res);
        if (rc != 0)
            return rc;
        n = PQntuples(res);
        for (i = 0; i < n; i++) {
            rc = read_event(be, res, i, &ev);
            if (rc == 0)
                rc = cb(&ev, arg);
            if (rc != 0)
                goto out;
            after_id = ev.id;
        }
        PQclear(res);
        res = NULL;
        if (n < AUDIT_PAGE)
            break;
    }
    rc = 0;
out:
    PQclear(res);
    return rc;
}

/* Checks one event against the hash expected before it; on success
 * expect_prev moves on to its hash. */
static int check_event(struct pg_be *be, const PGresult *res, int row,
                       char expect_prev[SCEP_AUDIT_HASH_HEX], int64_t *bad_id)
{
    struct scep_audit_event ev;
    char hash[SCEP_AUDIT_HASH_HEX];
    const char *prev;
    int rc;

    rc = read_event(be, res, row, &ev);
    if (rc != 0) {
        if (pg_int(res, row, 0, bad_id) != 0)
            *bad_id = 0;
        return rc;
    }
    prev = col_str(res, row, 8);
    if (prev == NULL || strcmp(prev, expect_prev) != 0 || ev.hash == NULL ||
        strlen(ev.hash) != SCEP_AUDIT_HASH_HEX - 1 ||
        scep_audit_hash(expect_prev, ev.id, &ev, hash) != 0 || strcmp(hash, ev.hash) != 0) {
        snprintf(be->err, sizeof(be->err), "audit chain broken at event %lld", (long long)ev.id);
        *bad_id = ev.id;
        return SCEP_ERR_STORE;
    }
    memcpy(expect_prev, ev.hash, SCEP_AUDIT_HASH_HEX);
    return 0;
}

/*
 * Recomputes the chain from the first event (scep_store_verify_audit()).
 * Each event must name the previous event's hash as its prev_hash and
 * carry the hash of its own fields chained to it; the first one that
 * does not is reported.  The pages are read in one REPEATABLE READ
 * transaction, so the walk sees one snapshot while other nodes append.
 */
int pg_verify_audit(void *vbe, int64_t *bad_id)
{
    struct pg_be *be = vbe;
    PGresult *res = NULL;
    char expect_prev[SCEP_AUDIT_HASH_HEX];
    int64_t after = 0;
    int rc, i, n;

    memcpy(expect_prev, SCEP_AUDIT_GENESIS, SCEP_AUDIT_HASH_HEX);
    rc = pg_begin_with(be, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    if (rc != 0)
        return rc;
    for (;;) {
        rc = audit_page(be, after, &res);
        if (rc != 0)
            goto out;
        n = PQntuples(res);
        for (i = 0; i < n; i++) {
            rc = check_event(be, res, i, expect_prev, bad_id);
            if (rc != 0)
                goto out;
            if (pg_int(res, i, 0, &after) != 0) {
                rc = SCEP_ERR_STORE;
                goto out;
            }
        }
        PQclear(res);
        res = NULL;
        if (n < AUDIT_PAGE)
            break;
    }
    rc = pg_commit(be);
out:
    PQclear(res);
    if (rc != 0)
        pg_rollback(be);
    return rc;
}
