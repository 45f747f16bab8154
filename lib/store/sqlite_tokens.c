/*
 * API bearer tokens in the SQLite backend: the tokens table of the
 * schema step after the challenges (sqlite_migrate.c).  An administrator
 * mints one (lib/admin/tokens.c; only its SHA-256 reaches the store),
 * the admin API looks each request's token up by that hash, and
 * revocation ends it.  Changes run in BEGIN IMMEDIATE and end in
 * sq_commit_audited(), so a row and its audit event commit together;
 * the last-use time is a plain guarded UPDATE without an audit event.
 */
#include "sqlite_be.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <scep/error.h>

/* The token columns in the order read_tok_row() reads them. */
#define TOK_COLUMNS                                                                                \
    "id, name, role, hash, created_at, expires_at, revoked_at, last_used_at, created_by"

static const struct sq_query q_by_hash = {SQ_TOK_BY_HASH,
                                          "SELECT " TOK_COLUMNS " FROM tokens WHERE hash = ?1"};
/* Only forward: two workers touching one token at once keep the later
 * time, whichever commits last. */
static const struct sq_query q_touch = {
    SQ_TOK_TOUCH, "UPDATE tokens SET last_used_at = ?2 WHERE id = ?1 AND last_used_at < ?2"};

/* Builds an owned record from the current row of a TOK_COLUMNS query.
 * *out: free with scep_token_info_free().  0 or SCEP_ERR_NOMEM. */
static int read_tok_row(sqlite3_stmt *s, struct scep_token_info **out)
{
    int rc = SCEP_ERR_NOMEM;
    struct scep_token_info *ti = NULL;

    ti = calloc(1, sizeof(*ti));
    if (ti == NULL)
        goto out;
    ti->id = sqlite3_column_int64(s, 0);
    if (sq_dup_col(s, 1, &ti->name) || sq_dup_col(s, 2, &ti->role) || sq_dup_col(s, 3, &ti->hash) ||
        sq_dup_col(s, 8, &ti->created_by))
        goto out;
    ti->created_at = sqlite3_column_int64(s, 4);
    ti->expires_at = sqlite3_column_int64(s, 5);
    ti->revoked_at = sqlite3_column_int64(s, 6);
    ti->last_used_at = sqlite3_column_int64(s, 7);
    *out = ti;
    ti = NULL;
    rc = 0;
out:
    scep_token_info_free(ti);
    return rc;
}

/* Stores a new token with ev appended (scep_store_add_token()).
 * Prepared afresh: minting is rare. */
int sq_add_token(void *vbe, const struct scep_token_info *ti, const struct scep_audit_event *ev,
                 int64_t *id)
{
    struct sq_be *be = vbe;
    sqlite3_stmt *s = NULL;
    int64_t new_id = 0;
    int rc, src;

    rc = sq_begin(be);
    if (rc != 0)
        return rc;
    rc = SCEP_ERR_STORE;
    if (sqlite3_prepare_v2(be->db,
                           "INSERT INTO tokens (name, role, hash, created_at, expires_at, "
                           "revoked_at, last_used_at, created_by) "
                           "VALUES (?1, ?2, ?3, ?4, ?5, 0, 0, ?6)",
                           -1, &s, NULL) != SQLITE_OK) {
        sq_fail(be, "prepare token insert");
        goto out;
    }
    if (sq_bind_str(s, 1, ti->name) || sq_bind_str(s, 2, ti->role) || sq_bind_str(s, 3, ti->hash) ||
        sqlite3_bind_int64(s, 4, ti->created_at != 0 ? ti->created_at : (int64_t)time(NULL)) ||
        sqlite3_bind_int64(s, 5, ti->expires_at) || sq_bind_str(s, 6, ti->created_by)) {
        sq_fail(be, "bind token");
        goto out;
    }
    src = sqlite3_step(s);
    if (src == SQLITE_CONSTRAINT_UNIQUE) {
        snprintf(be->err, sizeof(be->err), "a token with that name or hash is already stored");
        rc = SCEP_ERR_EXISTS;
        goto out;
    }
    if (src != SQLITE_DONE) {
        sq_fail(be, "insert token");
        goto out;
    }
    /* Read before the audit insert, which moves last_insert_rowid on. */
    new_id = sqlite3_last_insert_rowid(be->db);
    sqlite3_finalize(s);
    s = NULL;
    rc = sq_commit_audited(be, ev);
    if (rc != 0)
        goto out;
    if (id != NULL)
        *id = new_id;
out:
    sqlite3_finalize(s);
    if (rc != 0)
        sq_rollback(be);
    return rc;
}

/* Looks a token up by hash (cached: every API request does), or by name
 * when hash is NULL (scep_store_get_token_by_hash/_by_name()). */
int sq_get_token(void *vbe, const char *hash, const char *name, struct scep_token_info **out)
{
    struct sq_be *be = vbe;
    sqlite3_stmt *s = NULL;
    int rc, src;

    if (hash != NULL) {
        rc = sq_lookup(be, &q_by_hash, hash, 0, "select token", &s);
        if (rc == 0)
            rc = read_tok_row(s, out);
        sq_done(s);
        return rc;
    }
    rc = SCEP_ERR_STORE;
    if (sqlite3_prepare_v2(be->db, "SELECT " TOK_COLUMNS " FROM tokens WHERE name = ?1", -1, &s,
                           NULL) != SQLITE_OK) {
        sq_fail(be, "prepare token lookup");
        goto out;
    }
    if (sq_bind_str(s, 1, name) != SQLITE_OK) {
        sq_fail(be, "bind token lookup");
        goto out;
    }
    src = sqlite3_step(s);
    if (src == SQLITE_DONE) {
        rc = SCEP_ERR_NOT_FOUND;
        goto out;
    }
    if (src != SQLITE_ROW) {
        sq_fail(be, "select token");
        goto out;
    }
    rc = read_tok_row(s, out);
out:
    sqlite3_finalize(s);
    return rc;
}

/* Walks the tokens, oldest first (scep_store_list_tokens()); a fresh
 * statement, so that cb may call back into the store. */
int sq_list_tokens(void *vbe, scep_store_token_cb cb, void *arg)
{
    struct sq_be *be = vbe;
    sqlite3_stmt *s = NULL;
    struct scep_token_info *ti = NULL;
    int rc = SCEP_ERR_STORE, src;

    if (sqlite3_prepare_v2(be->db, "SELECT " TOK_COLUMNS " FROM tokens ORDER BY id", -1, &s,
                           NULL) != SQLITE_OK) {
        sq_fail(be, "prepare token list");
        goto out;
    }
    for (;;) {
        src = sqlite3_step(s);
        if (src == SQLITE_DONE)
            break;
        if (src != SQLITE_ROW) {
            sq_fail(be, "list tokens");
            goto out;
        }
        rc = read_tok_row(s, &ti);
        if (rc != 0)
            goto out;
        rc = cb(ti, arg);
        scep_token_info_free(ti);
        ti = NULL;
        if (rc != 0)
            goto out;
        rc = SCEP_ERR_STORE;
    }
    rc = 0;
out:
    scep_token_info_free(ti);
    sqlite3_finalize(s);
    return rc;
}

/* Revokes a token with ev appended (scep_store_revoke_token()). */
int sq_revoke_token(void *vbe, const char *name, int64_t at, const struct scep_audit_event *ev)
{
    struct sq_be *be = vbe;
    sqlite3_stmt *s = NULL;
    int rc, src;

    rc = sq_begin(be);
    if (rc != 0)
        return rc;
    rc = SCEP_ERR_STORE;
    if (sqlite3_prepare_v2(be->db,
                           "UPDATE tokens SET revoked_at = ?2 WHERE name = ?1 AND revoked_at = 0",
                           -1, &s, NULL) != SQLITE_OK) {
        sq_fail(be, "prepare token revocation");
        goto out;
    }
    if (sq_bind_str(s, 1, name) != SQLITE_OK || sqlite3_bind_int64(s, 2, at) != SQLITE_OK ||
        sqlite3_step(s) != SQLITE_DONE) {
        sq_fail(be, "revoke token");
        goto out;
    }
    sqlite3_finalize(s);
    s = NULL;
    /* Nothing changed: tell an unknown name from one revoked before. */
    if (sqlite3_changes(be->db) != 1) {
        if (sqlite3_prepare_v2(be->db, "SELECT 1 FROM tokens WHERE name = ?1", -1, &s, NULL) !=
                SQLITE_OK ||
            sq_bind_str(s, 1, name) != SQLITE_OK) {
            sq_fail(be, "look for token");
            goto out;
        }
        src = sqlite3_step(s);
        if (src == SQLITE_DONE) {
            snprintf(be->err, sizeof(be->err), "no token called %s", name);
            rc = SCEP_ERR_NOT_FOUND;
        } else if (src == SQLITE_ROW) {
            snprintf(be->err, sizeof(be->err), "token %s is already revoked", name);
            rc = SCEP_ERR_EXISTS;
        } else {
            sq_fail(be, "look for token");
        }
        goto out;
    }
    rc = sq_commit_audited(be, ev);
out:
    sqlite3_finalize(s);
    if (rc != 0)
        sq_rollback(be);
    return rc;
}

/* Moves last_used_at forward (scep_store_touch_token()).  Autocommit:
 * one statement, no audit event. */
int sq_touch_token(void *vbe, int64_t id, int64_t at)
{
    struct sq_be *be = vbe;
    sqlite3_stmt *s = NULL, *one = NULL;
    int rc, src;

    rc = sq_stmt(be, &q_touch, &s);
    if (rc != 0)
        return rc;
    rc = SCEP_ERR_STORE;
    if (sqlite3_bind_int64(s, 1, id) != SQLITE_OK || sqlite3_bind_int64(s, 2, at) != SQLITE_OK ||
        sqlite3_step(s) != SQLITE_DONE) {
        sq_fail(be, "touch token");
        goto out;
    }
    sq_done(s);
    s = NULL;
    rc = 0;
    /* Nothing changed: either no such token, or one already used at or
     * after at. */
    if (sqlite3_changes(be->db) == 0) {
        rc = SCEP_ERR_STORE;
        if (sqlite3_prepare_v2(be->db, "SELECT 1 FROM tokens WHERE id = ?1", -1, &one, NULL) !=
                SQLITE_OK ||
            sqlite3_bind_int64(one, 1, id) != SQLITE_OK) {
            sq_fail(be, "look for token");
            goto out;
        }
        src = sqlite3_step(one);
        if (src == SQLITE_ROW)
            rc = 0;
        else if (src == SQLITE_DONE)
            rc = SCEP_ERR_NOT_FOUND;
        else
            sq_fail(be, "look for token");
    }
out:
    sq_done(s);
    sqlite3_finalize(one);
    return rc;
}
