/*
 * API bearer tokens in PostgreSQL, the tokens table of the schema step
 * after the challenges (pg_migrate.c), with the life cycle of
 * sqlite_tokens.c: minted by an administrator (only the SHA-256 reaches
 * the store), looked up by hash on each API request, ended by
 * revocation.  Minting and revoking carry their audit event in their
 * transaction; a revocation names the state it starts from in the
 * UPDATE itself, so two nodes revoking one token leave one winner.
 */
#include "pg_be.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <scep/error.h>

/* Rows per page of a listing. */
#define TOK_PAGE 500

/* The token columns in the order read_tok_row() reads them. */
#define TOK_COLUMNS                                                                                \
    "id, name, role, hash, created_at, expires_at, revoked_at, last_used_at, created_by"

/* Builds an owned record from row of a TOK_COLUMNS result.  *out: free
 * with scep_token_info_free().  0, SCEP_ERR_NOMEM or SCEP_ERR_STORE. */
static int read_tok_row(struct pg_be *be, const PGresult *res, int row,
                        struct scep_token_info **out)
{
    int rc = SCEP_ERR_NOMEM;
    struct scep_token_info *ti = NULL;

    ti = calloc(1, sizeof(*ti));
    if (ti == NULL)
        goto out;
    if (pg_dup_str(res, row, 1, &ti->name) || pg_dup_str(res, row, 2, &ti->role) ||
        pg_dup_str(res, row, 3, &ti->hash) || pg_dup_str(res, row, 8, &ti->created_by))
        goto out;
    rc = SCEP_ERR_STORE;
    if (pg_int(res, row, 0, &ti->id) || pg_int(res, row, 4, &ti->created_at) ||
        pg_int(res, row, 5, &ti->expires_at) || pg_int(res, row, 6, &ti->revoked_at) ||
        pg_int(res, row, 7, &ti->last_used_at)) {
        snprintf(be->err, sizeof(be->err), "token row %d: malformed", row);
        goto out;
    }
    *out = ti;
    ti = NULL;
    rc = 0;
out:
    scep_token_info_free(ti);
    return rc;
}

/* Stores a new token with ev appended (scep_store_add_token()). */
int pg_add_token(void *vbe, const struct scep_token_info *ti, const struct scep_audit_event *ev,
                 int64_t *id)
{
    struct pg_be *be = vbe;
    struct pg_params p = {0};
    PGresult *res = NULL;
    int64_t new_id = 0;
    int rc;

    rc = pg_begin(be);
    if (rc != 0)
        return rc;
    pg_param_str(&p, ti->name);
    pg_param_str(&p, ti->role);
    pg_param_str(&p, ti->hash);
    pg_param_int(&p, ti->created_at != 0 ? ti->created_at : (int64_t)time(NULL));
    pg_param_int(&p, ti->expires_at);
    pg_param_str(&p, ti->created_by);
    rc = pg_exec(be,
                 "INSERT INTO tokens (name, role, hash, created_at, expires_at, revoked_at, "
                 "last_used_at, created_by) VALUES ($1, $2, $3, $4, $5, 0, 0, $6) RETURNING id",
                 &p, "insert token", &res);
    if (rc == SCEP_ERR_STORE && (pg_unique_violation(be, "tokens_name_key") ||
                                 pg_unique_violation(be, "tokens_hash_key"))) {
        snprintf(be->err, sizeof(be->err), "a token with that name or hash is already stored");
        rc = SCEP_ERR_EXISTS;
    }
    if (rc != 0)
        goto out;
    if (PQntuples(res) != 1 || pg_int(res, 0, 0, &new_id) != 0) {
        snprintf(be->err, sizeof(be->err), "insert token: no id came back");
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

/* Looks a token up by hash, or by name when hash is NULL
 * (scep_store_get_token_by_hash/_by_name()). */
int pg_get_token(void *vbe, const char *hash, const char *name, struct scep_token_info **out)
{
    struct pg_be *be = vbe;
    struct pg_params p = {0};
    PGresult *res = NULL;
    int rc;

    pg_param_str(&p, hash != NULL ? hash : name);
    rc = pg_exec(be,
                 hash != NULL ? "SELECT " TOK_COLUMNS " FROM tokens WHERE hash = $1"
                              : "SELECT " TOK_COLUMNS " FROM tokens WHERE name = $1",
                 &p, "select token", &res);
    if (rc != 0)
        return rc;
    rc = PQntuples(res) > 0 ? read_tok_row(be, res, 0, out) : SCEP_ERR_NOT_FOUND;
    PQclear(res);
    return rc;
}

/*
 * Walks the tokens, oldest first, in pages keyed by id
 * (scep_store_list_tokens()).  A page is read whole before cb sees it,
 * so cb may call back into the store while the walk is under way.
 */
int pg_list_tokens(void *vbe, scep_store_token_cb cb, void *arg)
{
    struct pg_be *be = vbe;
    struct pg_params p;
    PGresult *res = NULL;
    struct scep_token_info *ti = NULL;
    int64_t after = 0;
    int rc, i, n;

    for (;;) {
        memset(&p, 0, sizeof(p));
        pg_param_int(&p, after);
        pg_param_int(&p, TOK_PAGE);
        rc = pg_exec(be, "SELECT " TOK_COLUMNS " FROM tokens WHERE id > $1 ORDER BY id LIMIT $2",
                     &p, "list tokens", &res);
        if (rc != 0)
            goto out;
        n = PQntuples(res);
        for (i = 0; i < n; i++) {
            rc = read_tok_row(be, res, i, &ti);
            if (rc != 0)
                goto out;
            after = ti->id;
            rc = cb(ti, arg);
            scep_token_info_free(ti);
            ti = NULL;
            if (rc != 0)
                goto out;
        }
        PQclear(res);
        res = NULL;
        if (n < TOK_PAGE)
            break;
    }
    rc = 0;
out:
    scep_token_info_free(ti);
    PQclear(res);
    return rc;
}

/* Revokes a token with ev appended (scep_store_revoke_token()). */
int pg_revoke_token(void *vbe, const char *name, int64_t at, const struct scep_audit_event *ev)
{
    struct pg_be *be = vbe;
    struct pg_params p = {0};
    PGresult *res = NULL;
    int rc;

    rc = pg_begin(be);
    if (rc != 0)
        return rc;
    pg_param_str(&p, name);
    pg_param_int(&p, at);
    rc = pg_exec(be, "UPDATE tokens SET revoked_at = $2 WHERE name = $1 AND revoked_at = 0", &p,
                 "revoke token", &res);
    if (rc != 0)
        goto out;
    if (pg_changes(res) != 1) {
        PQclear(res);
        res = NULL;
        memset(&p, 0, sizeof(p));
        pg_param_str(&p, name);
        /* Nothing changed: tell an unknown name from one revoked before. */
        rc = pg_exec(be, "SELECT 1 FROM tokens WHERE name = $1", &p, "look for token", &res);
        if (rc != 0)
            goto out;
        if (PQntuples(res) == 0) {
            snprintf(be->err, sizeof(be->err), "no token called %s", name);
            rc = SCEP_ERR_NOT_FOUND;
        } else {
            snprintf(be->err, sizeof(be->err), "token %s is already revoked", name);
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

/* Moves last_used_at forward (scep_store_touch_token()): one statement
 * outside any transaction, no audit event. */
int pg_touch_token(void *vbe, int64_t id, int64_t at)
{
    struct pg_be *be = vbe;
    struct pg_params p = {0};
    PGresult *res = NULL;
    int rc;

    pg_param_int(&p, id);
    pg_param_int(&p, at);
    /* GREATEST keeps the row count 1 for a known token, so that "no
     * such token" needs no second query; only forward, as in SQLite. */
    rc = pg_exec(be, "UPDATE tokens SET last_used_at = GREATEST(last_used_at, $2) WHERE id = $1",
                 &p, "touch token", &res);
    if (rc == 0 && pg_changes(res) != 1) {
        snprintf(be->err, sizeof(be->err), "no token with id %lld", (long long)id);
        rc = SCEP_ERR_NOT_FOUND;
    }
    PQclear(res);
    return rc;
}
