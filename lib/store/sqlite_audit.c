/*
 * The audit trail in SQLite: an append-only table whose rows form a hash
 * chain (audit_hash.c).  An event is appended inside the caller's write
 * transaction, right after the certificate row it describes, so the two
 * commit or vanish together.  Because every write transaction is BEGIN
 * IMMEDIATE, reading the newest hash and appending after it cannot
 * interleave with another writer, in this process or another: the chain
 * stays linear.
 */
#include "sqlite_be.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <scep/error.h>

static const struct sq_query q_last = {SQ_AUDIT_LAST,
                                       "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1"};
static const struct sq_query q_insert = {
    SQ_AUDIT_INSERT, "INSERT INTO audit (id, time, kind, actor, transaction_id, peer, "
                     "serial, detail, prev_hash, hash) "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"};

#define AUDIT_COLUMNS "id, time, kind, actor, transaction_id, peer, serial, detail, prev_hash, hash"

/* Reads the newest event's id and hash; an empty table gives id 0 and
 * the genesis hash. */
static int chain_head(struct sq_be *be, int64_t *id, char prev[SCEP_AUDIT_HASH_HEX])
{
    sqlite3_stmt *s = NULL;
    const unsigned char *h;
    int rc, src;

    rc = sq_stmt(be, &q_last, &s);
    if (rc != 0)
        return rc;
    rc = SCEP_ERR_STORE;
    src = sqlite3_step(s);
    if (src == SQLITE_DONE) {
        *id = 0;
        memcpy(prev, SCEP_AUDIT_GENESIS, SCEP_AUDIT_HASH_HEX);
        rc = 0;
        goto out;
    }
    if (src != SQLITE_ROW) {
        sq_fail(be, "read audit head");
        goto out;
    }
    h = sqlite3_column_text(s, 1);
    if (h == NULL || sqlite3_column_bytes(s, 1) != SCEP_AUDIT_HASH_HEX - 1) {
        snprintf(be->err, sizeof(be->err), "audit event %lld has a malformed hash",
                 (long long)sqlite3_column_int64(s, 0));
        goto out;
    }
    *id = sqlite3_column_int64(s, 0);
    memcpy(prev, h, SCEP_AUDIT_HASH_HEX);
    rc = 0;
out:
    sq_done(s);
    return rc;
}

/* Appends ev after the chain head, inside the caller's transaction; see
 * sqlite_be.h. */
int sq_audit_append(struct sq_be *be, const struct scep_audit_event *ev)
{
    sqlite3_stmt *s = NULL;
    struct scep_audit_event e = *ev;
    char prev[SCEP_AUDIT_HASH_HEX], hash[SCEP_AUDIT_HASH_HEX];
    int64_t last = 0;
    int rc;

    if (e.time == 0)
        e.time = (int64_t)time(NULL);
    rc = chain_head(be, &last, prev);
    if (rc != 0)
        return rc;
    rc = scep_audit_hash(prev, last + 1, &e, hash);
    if (rc != 0) {
        snprintf(be->err, sizeof(be->err), "audit hash failed");
        return SCEP_ERR_STORE;
    }
    rc = sq_stmt(be, &q_insert, &s);
    if (rc != 0)
        return rc;
    rc = SCEP_ERR_STORE;
    if (sqlite3_bind_int64(s, 1, last + 1) || sqlite3_bind_int64(s, 2, e.time) ||
        sq_bind_str(s, 3, e.kind) || sq_bind_str(s, 4, e.actor) ||
        sq_bind_str(s, 5, e.transaction_id) || sq_bind_str(s, 6, e.peer) ||
        sq_bind_str(s, 7, e.serial) || sq_bind_str(s, 8, e.detail) || sq_bind_str(s, 9, prev) ||
        sq_bind_str(s, 10, hash)) {
        sq_fail(be, "bind audit");
        goto out;
    }
    if (sqlite3_step(s) != SQLITE_DONE) {
        sq_fail(be, "insert audit");
        goto out;
    }
    rc = 0;
out:
    sq_done(s);
    return rc;
}

/* Appends one event in its own transaction (scep_store_audit()). */
int sq_audit(void *vbe, const struct scep_audit_event *ev)
{
    struct sq_be *be = vbe;
    int rc;

    rc = sq_begin(be);
    if (rc != 0)
        return rc;
    rc = sq_audit_append(be, ev);
    if (rc == 0)
        rc = sq_commit(be);
    if (rc != 0)
        sq_rollback(be);
    return rc;
}

/* Fills ev with borrowed pointers into the current row of an
 * AUDIT_COLUMNS query; they stay valid until the next step. */
static void read_event(sqlite3_stmt *s, struct scep_audit_event *ev)
{
    ev->id = sqlite3_column_int64(s, 0);
    ev->time = sqlite3_column_int64(s, 1);
    ev->kind = (const char *)sqlite3_column_text(s, 2);
    ev->actor = (const char *)sqlite3_column_text(s, 3);
    ev->transaction_id = (const char *)sqlite3_column_text(s, 4);
    ev->peer = (const char *)sqlite3_column_text(s, 5);
    ev->serial = (const char *)sqlite3_column_text(s, 6);
    ev->detail = (const char *)sqlite3_column_text(s, 7);
    ev->hash = (const char *)sqlite3_column_text(s, 9);
}

/* 1 if every text column of the row is exactly its C string: a NUL
 * smuggled into a field would otherwise hide the bytes after it from
 * both the hash and every reader. */
static int row_is_plain_text(sqlite3_stmt *s)
{
    const unsigned char *t;
    int i;

    for (i = 2; i <= 9; i++) {
        if (sqlite3_column_type(s, i) == SQLITE_NULL)
            continue;
        t = sqlite3_column_text(s, i);
        if (t == NULL || strlen((const char *)t) != (size_t)sqlite3_column_bytes(s, i))
            return 0;
    }
    return 1;
}

/*
 * Walks the events after after_id, oldest first (scep_store_list_audit()).
 * Its own statement, not a cached one, so cb may call back into the
 * store while the walk is under way.
 */
int sq_list_audit(void *vbe, int64_t after_id, scep_store_audit_cb cb, void *arg)
{
    struct sq_be *be = vbe;
    sqlite3_stmt *s = NULL;
    struct scep_audit_event ev;
    int rc = SCEP_ERR_STORE, src;

    if (sqlite3_prepare_v2(be->db, "SELECT " AUDIT_COLUMNS " FROM audit WHERE id > ?1 ORDER BY id",
                           -1, &s, NULL) != SQLITE_OK) {
        sq_fail(be, "prepare audit list");
        goto out;
    }
    if (sqlite3_bind_int64(s, 1, after_id) != SQLITE_OK) {
        sq_fail(be, "bind audit list");
        goto out;
    }
    for (;;) {
        src = sqlite3_step(s);
        if (src == SQLITE_DONE)
            break;
        if (src != SQLITE_ROW) {
            sq_fail(be, "list audit");
            goto out;
        }
        memset(&ev, 0, sizeof(ev));
        read_event(s, &ev);
        rc = cb(&ev, arg);
        if (rc != 0)
            goto out;
        rc = SCEP_ERR_STORE;
    }
    rc = 0;
out:
    sqlite3_finalize(s);
    return rc;
}

/*
 * Recomputes the chain from the first event (scep_store_verify_audit()).
 * Each event must name the previous event's hash as its prev_hash and
 * carry the hash of its own fields chained to it; the first one that
 * does not is reported.  One SELECT reads one consistent WAL snapshot,
 * so concurrent appends do not disturb the walk.
 */
int sq_verify_audit(void *vbe, int64_t *bad_id)
{
    struct sq_be *be = vbe;
    sqlite3_stmt *s = NULL;
    struct scep_audit_event ev;
    char expect_prev[SCEP_AUDIT_HASH_HEX], hash[SCEP_AUDIT_HASH_HEX];
    const char *prev, *stored;
    int rc = SCEP_ERR_STORE, src;

    memcpy(expect_prev, SCEP_AUDIT_GENESIS, SCEP_AUDIT_HASH_HEX);
    if (sqlite3_prepare_v2(be->db, "SELECT " AUDIT_COLUMNS " FROM audit ORDER BY id", -1, &s,
                           NULL) != SQLITE_OK) {
        sq_fail(be, "prepare audit verify");
        goto out;
    }
    for (;;) {
        src = sqlite3_step(s);
        if (src == SQLITE_DONE)
            break;
        if (src != SQLITE_ROW) {
            sq_fail(be, "read audit");
            goto out;
        }
        memset(&ev, 0, sizeof(ev));
        /* Converted to text first so read_event()'s pointers are the
         * ones the length check saw. */
        if (!row_is_plain_text(s)) {
            ev.id = sqlite3_column_int64(s, 0);
            snprintf(be->err, sizeof(be->err), "audit event %lld holds a NUL byte",
                     (long long)ev.id);
            *bad_id = ev.id;
            goto out;
        }
        read_event(s, &ev);
        prev = (const char *)sqlite3_column_text(s, 8);
        stored = ev.hash;
        if (prev == NULL || strcmp(prev, expect_prev) != 0 || stored == NULL ||
            sqlite3_column_bytes(s, 9) != SCEP_AUDIT_HASH_HEX - 1 ||
            scep_audit_hash(expect_prev, ev.id, &ev, hash) != 0 || strcmp(hash, stored) != 0) {
            snprintf(be->err, sizeof(be->err), "audit chain broken at event %lld",
                     (long long)ev.id);
            *bad_id = ev.id;
            goto out;
        }
        memcpy(expect_prev, stored, SCEP_AUDIT_HASH_HEX);
    }
    rc = 0;
out:
    sqlite3_finalize(s);
    return rc;
}
