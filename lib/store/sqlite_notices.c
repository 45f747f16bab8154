/*
 * Expiry notices in the SQLite backend: the notices table of schema
 * version 5 (sqlite_migrate.c).  lib/admin/notify.c claims a notice
 * before it sends it and records the outcome after; the claim is the
 * row.  A new notice is claimed by INSERT ... ON CONFLICT DO NOTHING on
 * its unique key (serial, threshold, channel), a failed or abandoned one
 * by an UPDATE whose WHERE clause names the state it may be taken from;
 * both run under BEGIN IMMEDIATE's write lock, so of several processes
 * on one file one wins, and pg_notices.c runs the same statements.
 * Notices are not audited: they change no certificate, and the table
 * itself is their record (attempts, claimer, outcome, last error).
 */
#include "sqlite_be.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <scep/error.h>

/* The notice columns in the order read_notice_row() reads them. */
#define NOTICE_COLUMNS                                                                             \
    "serial, threshold, channel, not_after, state, attempts, claimed_by, claimed_at, "             \
    "lease_until, next_attempt_at, sent_at, last_error"

/* A new notice, claimed as it is made.  ON CONFLICT DO NOTHING (SQLite
 * 3.24 and PostgreSQL alike): an existing row is left for the retake. */
static const struct sq_query q_insert = {
    SQ_NOTICE_INSERT, "INSERT INTO notices (serial, threshold, channel, not_after, state, "
                      "attempts, claimed_by, claimed_at, lease_until) "
                      "VALUES (?1, ?2, ?3, ?4, 0, 1, ?5, ?6, ?7) ON CONFLICT DO NOTHING"};
/* Takes over a notice whose retry is due or whose claimer's lease ran
 * out; a SENT notice matches neither branch, so it is never taken. */
static const struct sq_query q_retake = {
    SQ_NOTICE_RETAKE,
    "UPDATE notices SET state = 0, attempts = attempts + 1, claimed_by = ?4, claimed_at = ?5, "
    "lease_until = ?6 WHERE serial = ?1 AND threshold = ?2 AND channel = ?3 AND "
    "((state = 2 AND next_attempt_at <= ?5) OR (state = 0 AND lease_until <= ?5))"};
static const struct sq_query q_attempt = {
    SQ_NOTICE_ATTEMPT,
    "SELECT attempts FROM notices WHERE serial = ?1 AND threshold = ?2 AND channel = ?3"};
/* Only the holder of the claim (claimer and attempt) records its end. */
static const struct sq_query q_finish = {
    SQ_NOTICE_FINISH,
    "UPDATE notices SET state = ?6, sent_at = ?7, next_attempt_at = ?8, last_error = ?9, "
    "lease_until = 0 WHERE serial = ?1 AND threshold = ?2 AND channel = ?3 AND state = 0 AND "
    "claimed_by = ?4 AND attempts = ?5"};
static const struct sq_query q_get = {
    SQ_NOTICE_GET,
    "SELECT " NOTICE_COLUMNS " FROM notices WHERE serial = ?1 AND threshold = ?2 AND channel = ?3"};

/* Binds k to parameters 1-3 of s.  sqlite result code. */
static int bind_key(sqlite3_stmt *s, const struct scep_notice_key *k)
{
    int src = sq_bind_str(s, 1, k->serial);

    if (src == SQLITE_OK)
        src = sqlite3_bind_int64(s, 2, k->threshold);
    if (src == SQLITE_OK)
        src = sq_bind_str(s, 3, k->channel);
    return src;
}

/* Steps s (bound by the caller) to completion; *changed: the rows it
 * changed.  0 or SCEP_ERR_STORE. */
static int run_change(struct sq_be *be, sqlite3_stmt *s, const char *what, int *changed)
{
    if (sqlite3_step(s) != SQLITE_DONE)
        return sq_fail(be, what);
    *changed = sqlite3_changes(be->db);
    return 0;
}

/* Claims a notice (scep_store_notice_claim()): insert, else take over,
 * in one write transaction. */
int sq_notice_claim(void *vbe, const struct scep_notice_key *k, int64_t not_after,
                    const char *claimer, int64_t now, int64_t lease_until, int64_t *attempt)
{
    struct sq_be *be = vbe;
    sqlite3_stmt *s = NULL;
    int64_t a = 1;
    int rc, changed = 0;

    rc = sq_begin(be);
    if (rc != 0)
        return rc;
    rc = sq_stmt(be, &q_insert, &s);
    if (rc != 0)
        goto out;
    if (bind_key(s, k) != SQLITE_OK || sqlite3_bind_int64(s, 4, not_after) != SQLITE_OK ||
        sq_bind_str(s, 5, claimer) != SQLITE_OK || sqlite3_bind_int64(s, 6, now) != SQLITE_OK ||
        sqlite3_bind_int64(s, 7, lease_until) != SQLITE_OK) {
        rc = sq_fail(be, "bind notice claim");
        goto out;
    }
    rc = run_change(be, s, "claim notice", &changed);
    sq_done(s);
    s = NULL;
    if (rc != 0)
        goto out;
    if (changed == 0) {
        rc = sq_stmt(be, &q_retake, &s);
        if (rc != 0)
            goto out;
        if (bind_key(s, k) != SQLITE_OK || sq_bind_str(s, 4, claimer) != SQLITE_OK ||
            sqlite3_bind_int64(s, 5, now) != SQLITE_OK ||
            sqlite3_bind_int64(s, 6, lease_until) != SQLITE_OK) {
            rc = sq_fail(be, "bind notice retake");
            goto out;
        }
        rc = run_change(be, s, "retake notice", &changed);
        sq_done(s);
        s = NULL;
        if (rc != 0)
            goto out;
        if (changed == 0) {
            snprintf(be->err, sizeof(be->err), "notice %s/%lld/%s is sent, being sent or waiting",
                     k->serial, (long long)k->threshold, k->channel);
            rc = SCEP_ERR_EXISTS;
            goto out;
        }
        rc = sq_stmt(be, &q_attempt, &s);
        if (rc != 0)
            goto out;
        if (bind_key(s, k) != SQLITE_OK || sqlite3_step(s) != SQLITE_ROW) {
            rc = sq_fail(be, "read notice attempts");
            goto out;
        }
        a = sqlite3_column_int64(s, 0);
        sq_done(s);
        s = NULL;
    }
    rc = sq_commit(be);
    if (rc != 0)
        goto out;
    *attempt = a;
out:
    sq_done(s);
    if (rc != 0)
        sq_rollback(be);
    return rc;
}

/* Records a claimed notice's outcome (scep_store_notice_finish()). */
int sq_notice_finish(void *vbe, const struct scep_notice_key *k, const char *claimer,
                     int64_t attempt, int sent, int64_t now, int64_t next_attempt_at,
                     const char *error)
{
    struct sq_be *be = vbe;
    sqlite3_stmt *s = NULL;
    int rc, changed = 0;

    rc = sq_begin(be);
    if (rc != 0)
        return rc;
    rc = sq_stmt(be, &q_finish, &s);
    if (rc != 0)
        goto out;
    if (bind_key(s, k) != SQLITE_OK || sq_bind_str(s, 4, claimer) != SQLITE_OK ||
        sqlite3_bind_int64(s, 5, attempt) != SQLITE_OK ||
        sqlite3_bind_int(s, 6, sent ? SCEP_NOTICE_SENT : SCEP_NOTICE_FAILED) != SQLITE_OK ||
        sqlite3_bind_int64(s, 7, sent ? now : 0) != SQLITE_OK ||
        sqlite3_bind_int64(s, 8, next_attempt_at) != SQLITE_OK ||
        sq_bind_str(s, 9, error) != SQLITE_OK) {
        rc = sq_fail(be, "bind notice outcome");
        goto out;
    }
    rc = run_change(be, s, "record notice outcome", &changed);
    if (rc != 0)
        goto out;
    if (changed == 0) {
        snprintf(be->err, sizeof(be->err), "notice %s/%lld/%s is not claimed by %s (attempt %lld)",
                 k->serial, (long long)k->threshold, k->channel, claimer, (long long)attempt);
        rc = SCEP_ERR_NOT_FOUND;
        goto out;
    }
    sq_done(s);
    s = NULL;
    rc = sq_commit(be);
out:
    sq_done(s);
    if (rc != 0)
        sq_rollback(be);
    return rc;
}

/* Looks a notice up (scep_store_get_notice()).  *out: free with
 * scep_notice_info_free(). */
int sq_get_notice(void *vbe, const struct scep_notice_key *k, struct scep_notice_info **out)
{
    struct sq_be *be = vbe;
    struct scep_notice_info *ni = NULL;
    sqlite3_stmt *s = NULL;
    int rc, src;

    rc = sq_stmt(be, &q_get, &s);
    if (rc != 0)
        return rc;
    rc = SCEP_ERR_STORE;
    if (bind_key(s, k) != SQLITE_OK) {
        sq_fail(be, "bind notice");
        goto out;
    }
    src = sqlite3_step(s);
    if (src == SQLITE_DONE) {
        rc = SCEP_ERR_NOT_FOUND;
        goto out;
    }
    if (src != SQLITE_ROW) {
        sq_fail(be, "select notice");
        goto out;
    }
    rc = SCEP_ERR_NOMEM;
    if ((ni = calloc(1, sizeof(*ni))) == NULL || sq_dup_col(s, 0, &ni->serial) ||
        sq_dup_col(s, 2, &ni->channel) || sq_dup_col(s, 6, &ni->claimed_by) ||
        sq_dup_col(s, 11, &ni->last_error))
        goto out;
    ni->threshold = sqlite3_column_int64(s, 1);
    ni->not_after = sqlite3_column_int64(s, 3);
    ni->state = sqlite3_column_int(s, 4);
    ni->attempts = sqlite3_column_int64(s, 5);
    ni->claimed_at = sqlite3_column_int64(s, 7);
    ni->lease_until = sqlite3_column_int64(s, 8);
    ni->next_attempt_at = sqlite3_column_int64(s, 9);
    ni->sent_at = sqlite3_column_int64(s, 10);
    *out = ni;
    ni = NULL;
    rc = 0;
out:
    scep_notice_info_free(ni);
    sq_done(s);
    return rc;
}
