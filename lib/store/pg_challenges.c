/*
 * One-time enrollment challenges in PostgreSQL, the challenges table of
 * schema version 4 (pg_migrate.c), with the life cycle of
 * sqlite_challenges.c: minted by an administrator (only the SHA-256
 * reaches the store), one use consumed by each certificate or request
 * that names it, in that row's transaction (pg_challenge_consume(),
 * called by pg_certs.c and pg_requests.c), ended by revocation or a
 * purge.  Every change carries its audit event in its transaction, and
 * every guarded change names the state it starts from in the UPDATE
 * itself, so nodes racing on one challenge leave one winner.
 */
#include "pg_be.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <scep/error.h>

/* Rows per page of a listing. */
#define CHAL_PAGE 500

/* The challenge columns in the order read_chal_row() reads them. */
#define CHAL_COLUMNS                                                                               \
    "id, hash, profile, subject, sans, max_uses, uses, created_at, expires_at, revoked_at, "       \
    "created_by"

/* Builds an owned record from row of a CHAL_COLUMNS result.  *out: free
 * with scep_challenge_info_free().  0, SCEP_ERR_NOMEM or SCEP_ERR_STORE. */
static int read_chal_row(struct pg_be *be, const PGresult *res, int row,
                         struct scep_challenge_info **out)
{
    int rc = SCEP_ERR_NOMEM;
    struct scep_challenge_info *ci = NULL;

    ci = calloc(1, sizeof(*ci));
    if (ci == NULL)
        goto out;
    if (pg_dup_str(res, row, 1, &ci->hash) || pg_dup_str(res, row, 2, &ci->profile) ||
        pg_dup_str(res, row, 3, &ci->subject) || pg_dup_str(res, row, 4, &ci->sans) ||
        pg_dup_str(res, row, 10, &ci->created_by))
        goto out;
    rc = SCEP_ERR_STORE;
    if (pg_int(res, row, 0, &ci->id) || pg_int(res, row, 5, &ci->max_uses) ||
        pg_int(res, row, 6, &ci->uses) || pg_int(res, row, 7, &ci->created_at) ||
        pg_int(res, row, 8, &ci->expires_at) || pg_int(res, row, 9, &ci->revoked_at)) {
        snprintf(be->err, sizeof(be->err), "challenge row %d: malformed", row);
        goto out;
    }
    *out = ci;
    ci = NULL;
    rc = 0;
out:
    scep_challenge_info_free(ci);
    return rc;
}

/* Consumes one use inside the caller's transaction; see pg_be.h.  The
 * statement is sqlite_challenges.c's, with $n for ?n. */
int pg_challenge_consume(struct pg_be *be, int64_t id, int64_t now,
                         const struct scep_audit_event *like)
{
    struct scep_audit_event ev;
    char detail[48];
    struct pg_params p = {0};
    PGresult *res = NULL;
    int rc;

    pg_param_int(&p, id);
    pg_param_int(&p, now);
    rc = pg_exec(be,
                 "UPDATE challenges SET uses = uses + 1 WHERE id = $1 AND uses < max_uses "
                 "AND revoked_at = 0 AND expires_at > $2",
                 &p, "use challenge", &res);
    if (rc != 0)
        return rc;
    if (pg_changes(res) != 1) {
        snprintf(be->err, sizeof(be->err), "challenge %lld is unknown, used up, revoked or expired",
                 (long long)id);
        rc = SCEP_ERR_CHALLENGE;
    }
    PQclear(res);
    if (rc != 0)
        return rc;
    scep_store_challenge_use_event(&ev, detail, sizeof(detail), id, like);
    return pg_audit_append(be, &ev);
}

/* Stores a new challenge with ev appended (scep_store_add_challenge()). */
int pg_add_challenge(void *vbe, const struct scep_challenge_info *ci,
                     const struct scep_audit_event *ev, int64_t *id)
{
    struct pg_be *be = vbe;
    struct pg_params p = {0};
    PGresult *res = NULL;
    int64_t new_id = 0;
    int rc;

    rc = pg_begin(be);
    if (rc != 0)
        return rc;
    pg_param_str(&p, ci->hash);
    pg_param_str(&p, ci->profile != NULL ? ci->profile : "");
    pg_param_str(&p, ci->subject);
    pg_param_str(&p, ci->sans);
    pg_param_int(&p, ci->max_uses);
    pg_param_int(&p, ci->created_at != 0 ? ci->created_at : (int64_t)time(NULL));
    pg_param_int(&p, ci->expires_at);
    pg_param_str(&p, ci->created_by);
    rc = pg_exec(be,
                 "INSERT INTO challenges (hash, profile, subject, sans, max_uses, uses, "
                 "created_at, expires_at, revoked_at, created_by) "
                 "VALUES ($1, $2, $3, $4, $5, 0, $6, $7, 0, $8) RETURNING id",
                 &p, "insert challenge", &res);
    if (rc == SCEP_ERR_STORE && pg_unique_violation(be, "challenges_hash_key")) {
        snprintf(be->err, sizeof(be->err), "a challenge with that hash is already stored");
        rc = SCEP_ERR_EXISTS;
    }
    if (rc != 0)
        goto out;
    if (PQntuples(res) != 1 || pg_int(res, 0, 0, &new_id) != 0) {
        snprintf(be->err, sizeof(be->err), "insert challenge: no id came back");
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

/* Looks a challenge up by hash, or by id when hash is NULL
 * (scep_store_get_challenge_by_hash(), scep_store_get_challenge()). */
int pg_get_challenge(void *vbe, int64_t id, const char *hash, struct scep_challenge_info **out)
{
    struct pg_be *be = vbe;
    struct pg_params p = {0};
    PGresult *res = NULL;
    int rc;

    if (hash != NULL)
        pg_param_str(&p, hash);
    else
        pg_param_int(&p, id);
    rc = pg_exec(be,
                 hash != NULL ? "SELECT " CHAL_COLUMNS " FROM challenges WHERE hash = $1"
                              : "SELECT " CHAL_COLUMNS " FROM challenges WHERE id = $1",
                 &p, "select challenge", &res);
    if (rc != 0)
        return rc;
    rc = PQntuples(res) > 0 ? read_chal_row(be, res, 0, out) : SCEP_ERR_NOT_FOUND;
    PQclear(res);
    return rc;
}

/*
 * Walks the challenges, oldest first, in pages keyed by id
 * (scep_store_list_challenges()).  A page is read whole before cb sees
 * it, so cb may call back into the store while the walk is under way.
 */
int pg_list_challenges(void *vbe, int include_spent, int64_t now, scep_store_challenge_cb cb,
                       void *arg)
{
    struct pg_be *be = vbe;
    struct pg_params p;
    PGresult *res = NULL;
    struct scep_challenge_info *ci = NULL;
    int64_t after = 0;
    int rc, i, n;

    for (;;) {
        memset(&p, 0, sizeof(p));
        pg_param_int(&p, after);
        pg_param_int(&p, CHAL_PAGE);
        if (!include_spent)
            pg_param_int(&p, now);
        rc = pg_exec(be,
                     include_spent ? "SELECT " CHAL_COLUMNS " FROM challenges WHERE id > $1 "
                                     "ORDER BY id LIMIT $2"
                                   : "SELECT " CHAL_COLUMNS " FROM challenges WHERE id > $1 "
                                     "AND revoked_at = 0 AND uses < max_uses AND expires_at > $3 "
                                     "ORDER BY id LIMIT $2",
                     &p, "list challenges", &res);
        if (rc != 0)
            goto out;
        n = PQntuples(res);
        for (i = 0; i < n; i++) {
            rc = read_chal_row(be, res, i, &ci);
            if (rc != 0)
                goto out;
            after = ci->id;
            rc = cb(ci, arg);
            scep_challenge_info_free(ci);
            ci = NULL;
            if (rc != 0)
                goto out;
        }
        PQclear(res);
        res = NULL;
        if (n < CHAL_PAGE)
            break;
    }
    rc = 0;
out:
    scep_challenge_info_free(ci);
    PQclear(res);
    return rc;
}

/* Revokes a challenge with ev appended (scep_store_revoke_challenge()). */
int pg_revoke_challenge(void *vbe, int64_t id, int64_t at, const struct scep_audit_event *ev)
{
    struct pg_be *be = vbe;
    struct pg_params p = {0};
    PGresult *res = NULL;
    int rc;

    rc = pg_begin(be);
    if (rc != 0)
        return rc;
    pg_param_int(&p, id);
    pg_param_int(&p, at);
    /* Only an unrevoked challenge matches: two administrators revoking
     * at once leave one winner. */
    rc = pg_exec(be, "UPDATE challenges SET revoked_at = $2 WHERE id = $1 AND revoked_at = 0", &p,
                 "revoke challenge", &res);
    if (rc != 0)
        goto out;
    if (pg_changes(res) != 1) {
        PQclear(res);
        res = NULL;
        memset(&p, 0, sizeof(p));
        pg_param_int(&p, id);
        rc = pg_exec(be, "SELECT id FROM challenges WHERE id = $1", &p, "select challenge", &res);
        if (rc != 0)
            goto out;
        if (PQntuples(res) == 0) {
            snprintf(be->err, sizeof(be->err), "no challenge with id %lld", (long long)id);
            rc = SCEP_ERR_NOT_FOUND;
        } else {
            snprintf(be->err, sizeof(be->err), "challenge %lld is already revoked", (long long)id);
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

/* Deletes the challenges that admit nothing any more, with ev appended
 * (scep_store_purge_challenges()). */
int pg_purge_challenges(void *vbe, int64_t now, int64_t *purged, const struct scep_audit_event *ev)
{
    return pg_purge(vbe, "DELETE FROM challenges WHERE expires_at <= $1 OR revoked_at > 0", now,
                    "purge challenges", 0, purged, ev);
}
