/*
 * Expiry notices in PostgreSQL, the notices table of schema version 5
 * (pg_migrate.c), with sqlite_notices.c's statements ($n for ?n).  A new
 * notice is claimed by INSERT ... ON CONFLICT DO NOTHING on its primary
 * key: of nodes inserting one key at once, the later waits for the
 * earlier to commit and then inserts nothing.  A failed or abandoned
 * notice is taken over by an UPDATE whose WHERE clause names the state
 * it starts from; a second node's UPDATE waits on the row lock and
 * re-checks that clause against the row as the first left it (READ
 * COMMITTED), so it matches nothing.  Either way one node holds the
 * claim, and only it may record the outcome (claimer and attempt in
 * the finishing UPDATE).
 */
#include "pg_be.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <scep/error.h>

/* The notice columns in the order get reads them. */
#define NOTICE_COLUMNS                                                                             \
    "serial, threshold, channel, not_after, state, attempts, claimed_by, claimed_at, "             \
    "lease_until, next_attempt_at, sent_at, last_error"

/* Adds k as parameters 1-3. */
static void param_key(struct pg_params *p, const struct scep_notice_key *k)
{
    pg_param_str(p, k->serial);
    pg_param_int(p, k->threshold);
    pg_param_str(p, k->channel);
}

/* Claims a notice (scep_store_notice_claim()): insert, else take over,
 * in one transaction (no statement is resent on a new connection, so a
 * claim that committed is never mistaken for one that did not). */
int pg_notice_claim(void *vbe, const struct scep_notice_key *k, int64_t not_after,
                    const char *claimer, int64_t now, int64_t lease_until, int64_t *attempt)
{
    struct pg_be *be = vbe;
    struct pg_params p = {0};
    PGresult *res = NULL;
    int64_t a = 1;
    int rc;

    rc = pg_begin(be);
    if (rc != 0)
        return rc;
    param_key(&p, k);
    pg_param_int(&p, not_after);
    pg_param_str(&p, claimer);
    pg_param_int(&p, now);
    pg_param_int(&p, lease_until);
    rc = pg_exec(be,
                 "INSERT INTO notices (serial, threshold, channel, not_after, state, attempts, "
                 "claimed_by, claimed_at, lease_until) "
                 "VALUES ($1, $2, $3, $4, 0, 1, $5, $6, $7) ON CONFLICT DO NOTHING",
                 &p, "claim notice", &res);
    if (rc != 0)
        goto out;
    if (pg_changes(res) == 0) {
        PQclear(res);
        res = NULL;
        memset(&p, 0, sizeof(p));
        param_key(&p, k);
        pg_param_str(&p, claimer);
        pg_param_int(&p, now);
        pg_param_int(&p, lease_until);
        rc = pg_exec(be,
                     "UPDATE notices SET state = 0, attempts = attempts + 1, claimed_by = $4, "
                     "claimed_at = $5, lease_until = $6 WHERE serial = $1 AND threshold = $2 AND "
                     "channel = $3 AND ((state = 2 AND next_attempt_at <= $5) OR "
                     "(state = 0 AND lease_until <= $5)) RETURNING attempts",
                     &p, "retake notice", &res);
        if (rc != 0)
            goto out;
        if (PQntuples(res) != 1) {
            snprintf(be->err, sizeof(be->err), "notice %s/%lld/%s is sent, being sent or waiting",
                     k->serial, (long long)k->threshold, k->channel);
            rc = SCEP_ERR_EXISTS;
            goto out;
        }
        if (pg_int(res, 0, 0, &a) != 0) {
            snprintf(be->err, sizeof(be->err), "retake notice: unexpected answer");
            rc = SCEP_ERR_STORE;
            goto out;
        }
    }
    rc = pg_commit(be);
    if (rc != 0)
        goto out;
    *attempt = a;
out:
    PQclear(res);
    if (rc != 0)
        pg_rollback(be);
    return rc;
}

/* Records a claimed notice's outcome (scep_store_notice_finish()): one
 * guarded UPDATE, its own transaction. */
int pg_notice_finish(void *vbe, const struct scep_notice_key *k, const char *claimer,
                     int64_t attempt, int sent, int64_t now, int64_t next_attempt_at,
                     const char *error)
{
    struct pg_be *be = vbe;
    struct pg_params p = {0};
    PGresult *res = NULL;
    int rc;

    param_key(&p, k);
    pg_param_str(&p, claimer);
    pg_param_int(&p, attempt);
    pg_param_int(&p, sent ? SCEP_NOTICE_SENT : SCEP_NOTICE_FAILED);
    pg_param_int(&p, sent ? now : 0);
    pg_param_int(&p, next_attempt_at);
    pg_param_str(&p, error);
    rc = pg_exec(be,
                 "UPDATE notices SET state = $6, sent_at = $7, next_attempt_at = $8, "
                 "last_error = $9, lease_until = 0 WHERE serial = $1 AND threshold = $2 AND "
                 "channel = $3 AND state = 0 AND claimed_by = $4 AND attempts = $5",
                 &p, "record notice outcome", &res);
    if (rc != 0)
        return rc;
    if (pg_changes(res) != 1) {
        snprintf(be->err, sizeof(be->err), "notice %s/%lld/%s is not claimed by %s (attempt %lld)",
                 k->serial, (long long)k->threshold, k->channel, claimer, (long long)attempt);
        rc = SCEP_ERR_NOT_FOUND;
    }
    PQclear(res);
    return rc;
}

/* Looks a notice up (scep_store_get_notice()).  *out: free with
 * scep_notice_info_free(). */
int pg_get_notice(void *vbe, const struct scep_notice_key *k, struct scep_notice_info **out)
{
    struct pg_be *be = vbe;
    struct pg_params p = {0};
    struct scep_notice_info *ni = NULL;
    PGresult *res = NULL;
    int64_t state = 0;
    int rc;

    param_key(&p, k);
    rc = pg_exec(be,
                 "SELECT " NOTICE_COLUMNS
                 " FROM notices WHERE serial = $1 AND threshold = $2 AND channel = $3",
                 &p, "select notice", &res);
    if (rc != 0)
        return rc;
    if (PQntuples(res) == 0) {
        rc = SCEP_ERR_NOT_FOUND;
        goto out;
    }
    rc = SCEP_ERR_NOMEM;
    if ((ni = calloc(1, sizeof(*ni))) == NULL || pg_dup_str(res, 0, 0, &ni->serial) ||
        pg_dup_str(res, 0, 2, &ni->channel) || pg_dup_str(res, 0, 6, &ni->claimed_by) ||
        pg_dup_str(res, 0, 11, &ni->last_error))
        goto out;
    rc = SCEP_ERR_STORE;
    if (pg_int(res, 0, 1, &ni->threshold) || pg_int(res, 0, 3, &ni->not_after) ||
        pg_int(res, 0, 4, &state) || pg_int(res, 0, 5, &ni->attempts) ||
        pg_int(res, 0, 7, &ni->claimed_at) || pg_int(res, 0, 8, &ni->lease_until) ||
        pg_int(res, 0, 9, &ni->next_attempt_at) || pg_int(res, 0, 10, &ni->sent_at)) {
        snprintf(be->err, sizeof(be->err), "notice: malformed row");
        goto out;
    }
    ni->state = (int)state;
    *out = ni;
    ni = NULL;
    rc = 0;
out:
    scep_notice_info_free(ni);
    PQclear(res);
    return rc;
}
