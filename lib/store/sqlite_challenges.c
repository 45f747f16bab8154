/*
 * One-time enrollment challenges in the SQLite backend: the challenges
 * table of schema version 4 (sqlite_migrate.c).  An administrator mints
 * one (lib/admin/challenges.c; only its SHA-256 reaches the store), a
 * certificate or a request that names it consumes one use in its own
 * transaction (sq_challenge_consume(), called by sqlite_certs.c and
 * sqlite_requests.c), and revocation and purging end it.  Every change
 * runs in BEGIN IMMEDIATE and ends in sq_commit_audited(), so a row and
 * its audit event commit together; the write lock makes every check and
 * the change it guards one step.
 */
#include "sqlite_be.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <scep/error.h>

/* The challenge columns in the order read_chal_row() reads them. */
#define CHAL_COLUMNS                                                                               \
    "id, hash, profile, subject, sans, max_uses, uses, created_at, expires_at, revoked_at, "       \
    "created_by"

static const struct sq_query q_insert = {
    SQ_CHAL_INSERT, "INSERT INTO challenges (hash, profile, subject, sans, max_uses, uses, "
                    "created_at, expires_at, revoked_at, created_by) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?7, 0, ?8)"};
static const struct sq_query q_get = {SQ_CHAL_GET,
                                      "SELECT " CHAL_COLUMNS " FROM challenges WHERE id = ?1"};
static const struct sq_query q_by_hash = {SQ_CHAL_BY_HASH, "SELECT " CHAL_COLUMNS
                                                           " FROM challenges WHERE hash = ?1"};
/* The statement pg_challenges.c runs too, word for word: one row
 * changes only while the challenge can still admit someone. */
static const struct sq_query q_consume = {
    SQ_CHAL_CONSUME, "UPDATE challenges SET uses = uses + 1 WHERE id = ?1 AND uses < max_uses "
                     "AND revoked_at = 0 AND expires_at > ?2"};
static const struct sq_query q_revoke = {
    SQ_CHAL_REVOKE, "UPDATE challenges SET revoked_at = ?2 WHERE id = ?1 AND revoked_at = 0"};

/* Builds an owned record from the current row of a CHAL_COLUMNS query.
 * *out: free with scep_challenge_info_free().  0 or SCEP_ERR_NOMEM. */
static int read_chal_row(sqlite3_stmt *s, struct scep_challenge_info **out)
{
    int rc = SCEP_ERR_NOMEM;
    struct scep_challenge_info *ci = NULL;

    ci = calloc(1, sizeof(*ci));
    if (ci == NULL)
        goto out;
    ci->id = sqlite3_column_int64(s, 0);
    if (sq_dup_col(s, 1, &ci->hash) || sq_dup_col(s, 2, &ci->profile) ||
        sq_dup_col(s, 3, &ci->subject) || sq_dup_col(s, 4, &ci->sans) ||
        sq_dup_col(s, 10, &ci->created_by))
        goto out;
    ci->max_uses = sqlite3_column_int64(s, 5);
    ci->uses = sqlite3_column_int64(s, 6);
    ci->created_at = sqlite3_column_int64(s, 7);
    ci->expires_at = sqlite3_column_int64(s, 8);
    ci->revoked_at = sqlite3_column_int64(s, 9);
    *out = ci;
    ci = NULL;
    rc = 0;
out:
    scep_challenge_info_free(ci);
    return rc;
}

/* Consumes one use inside the caller's transaction; see sqlite_be.h. */
int sq_challenge_consume(struct sq_be *be, int64_t id, int64_t now,
                         const struct scep_audit_event *like)
{
    struct scep_audit_event ev;
    char detail[48];
    sqlite3_stmt *s = NULL;
    int rc;

    rc = sq_stmt(be, &q_consume, &s);
    if (rc != 0)
        return rc;
    rc = SCEP_ERR_STORE;
    if (sqlite3_bind_int64(s, 1, id) != SQLITE_OK || sqlite3_bind_int64(s, 2, now) != SQLITE_OK) {
        sq_fail(be, "bind challenge use");
        goto out;
    }
    if (sqlite3_step(s) != SQLITE_DONE) {
        sq_fail(be, "use challenge");
        goto out;
    }
    if (sqlite3_changes(be->db) != 1) {
        snprintf(be->err, sizeof(be->err), "challenge %lld is unknown, used up, revoked or expired",
                 (long long)id);
        rc = SCEP_ERR_CHALLENGE;
        goto out;
    }
    scep_store_challenge_use_event(&ev, detail, sizeof(detail), id, like);
    rc = sq_audit_append(be, &ev);
out:
    sq_done(s);
    return rc;
}

/* Stores a new challenge with ev appended (scep_store_add_challenge()). */
int sq_add_challenge(void *vbe, const struct scep_challenge_info *ci,
                     const struct scep_audit_event *ev, int64_t *id)
{
    struct sq_be *be = vbe;
    sqlite3_stmt *s = NULL;
    int64_t new_id = 0;
    int rc, src;

    rc = sq_begin(be);
    if (rc != 0)
        return rc;
    rc = sq_stmt(be, &q_insert, &s);
    if (rc != 0)
        goto out;
    rc = SCEP_ERR_STORE;
    if (sq_bind_str(s, 1, ci->hash) || sq_bind_str(s, 2, ci->profile != NULL ? ci->profile : "") ||
        sq_bind_str(s, 3, ci->subject) || sq_bind_str(s, 4, ci->sans) ||
        sqlite3_bind_int64(s, 5, ci->max_uses) ||
        sqlite3_bind_int64(s, 6, ci->created_at != 0 ? ci->created_at : (int64_t)time(NULL)) ||
        sqlite3_bind_int64(s, 7, ci->expires_at) || sq_bind_str(s, 8, ci->created_by)) {
        sq_fail(be, "bind challenge");
        goto out;
    }
    src = sqlite3_step(s);
    if (src == SQLITE_CONSTRAINT_UNIQUE) {
        snprintf(be->err, sizeof(be->err), "a challenge with that hash is already stored");
        rc = SCEP_ERR_EXISTS;
        goto out;
    }
    if (src != SQLITE_DONE) {
        sq_fail(be, "insert challenge");
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

/* Looks a challenge up by hash, or by id when hash is NULL
 * (scep_store_get_challenge_by_hash(), scep_store_get_challenge()). */
int sq_get_challenge(void *vbe, int64_t id, const char *hash, struct scep_challenge_info **out)
{
    struct sq_be *be = vbe;
    sqlite3_stmt *s = NULL;
    int rc;

    rc = sq_lookup(be, hash != NULL ? &q_by_hash : &q_get, hash, id, "select challenge", &s);
    if (rc == 0)
        rc = read_chal_row(s, out);
    sq_done(s);
    return rc;
}

/*
 * Walks the challenges, oldest first (scep_store_list_challenges()).  A
 * fresh statement rather than a cached one, so that cb may call back
 * into the store (revoke one, say) while the walk is under way.
 */
int sq_list_challenges(void *vbe, int include_spent, int64_t now, scep_store_challenge_cb cb,
                       void *arg)
{
    struct sq_be *be = vbe;
    sqlite3_stmt *s = NULL;
    struct scep_challenge_info *ci = NULL;
    int rc = SCEP_ERR_STORE, src;
    const char *sql = include_spent ? "SELECT " CHAL_COLUMNS " FROM challenges ORDER BY id"
                                    : "SELECT " CHAL_COLUMNS
                                      " FROM challenges WHERE revoked_at = 0 "
                                      "AND uses < max_uses AND expires_at > ?1 ORDER BY id";

    if (sqlite3_prepare_v2(be->db, sql, -1, &s, NULL) != SQLITE_OK) {
        sq_fail(be, "prepare challenge list");
        goto out;
    }
    if (!include_spent && sqlite3_bind_int64(s, 1, now) != SQLITE_OK) {
        sq_fail(be, "bind challenge list");
        goto out;
    }
    for (;;) {
        src = sqlite3_step(s);
        if (src == SQLITE_DONE)
            break;
        if (src != SQLITE_ROW) {
            sq_fail(be, "list challenges");
            goto out;
        }
        rc = read_chal_row(s, &ci);
        if (rc != 0)
            goto out;
        rc = cb(ci, arg);
        scep_challenge_info_free(ci);
        ci = NULL;
        if (rc != 0)
            goto out;
        rc = SCEP_ERR_STORE;
    }
    rc = 0;
out:
    scep_challenge_info_free(ci);
    sqlite3_finalize(s);
    return rc;
}

/* Revokes a challenge with ev appended (scep_store_revoke_challenge()). */
int sq_revoke_challenge(void *vbe, int64_t id, int64_t at, const struct scep_audit_event *ev)
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
    rc = SCEP_ERR_STORE;
    if (sqlite3_bind_int64(s, 1, id) != SQLITE_OK || sqlite3_bind_int64(s, 2, at) != SQLITE_OK) {
        sq_fail(be, "bind challenge revocation");
        goto out;
    }
    if (sqlite3_step(s) != SQLITE_DONE) {
        sq_fail(be, "revoke challenge");
        goto out;
    }
    sq_done(s);
    s = NULL;
    /* The UPDATE matches only an unrevoked challenge; when nothing
     * changed, tell an unknown id from one revoked before. */
    if (sqlite3_changes(be->db) != 1) {
        rc = sq_lookup(be, &q_get, NULL, id, "select challenge", &s);
        if (rc == SCEP_ERR_NOT_FOUND) {
            snprintf(be->err, sizeof(be->err), "no challenge with id %lld", (long long)id);
        } else if (rc == 0) {
            snprintf(be->err, sizeof(be->err), "challenge %lld is already revoked", (long long)id);
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

/* Deletes the challenges that admit nothing any more, with ev appended
 * (scep_store_purge_challenges()).  Prepared afresh: purging is rare. */
int sq_purge_challenges(void *vbe, int64_t now, int64_t *purged, const struct scep_audit_event *ev)
{
    return sq_purge(vbe, "DELETE FROM challenges WHERE expires_at <= ?1 OR revoked_at > 0", now,
                    "purge challenges", 0, purged, ev);
}
