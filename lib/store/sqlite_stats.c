/*
 * Counts for statistics in the SQLite backend: the certificates by
 * (source, profile) and state, and histograms of issuance and expiry
 * times in fixed-width buckets, for the admin API's GET /stats and the
 * console's charts.  Each is one aggregate statement over the
 * certificates table, read-only and unprepared (it runs when someone
 * looks at a dashboard, not per request); pg_stats.c runs the same
 * statements.  A bucket is (time - start) / width in integer
 * arithmetic, which both databases compute alike for the non-negative
 * differences the WHERE clause admits.
 */
#include "sqlite_be.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <scep/error.h>

/* The states of store.h's struct scep_cert_group_counts, in one pass. */
#define GROUP_SQL                                                                                  \
    "SELECT source, profile, "                                                                     \
    "count(*) FILTER (WHERE status = 0 AND not_after > ?1 AND superseded_by IS NULL), "            \
    "count(*) FILTER (WHERE status = 0 AND not_after > ?1 AND superseded_by IS NOT NULL), "        \
    "count(*) FILTER (WHERE status = 1), "                                                         \
    "count(*) FILTER (WHERE status = 0 AND not_after <= ?1) "                                      \
    "FROM certificates GROUP BY source, profile ORDER BY source, profile"

int sq_count_certs_by_group(void *vbe, int64_t now, scep_store_group_cb cb, void *arg)
{
    struct sq_be *be = vbe;
    sqlite3_stmt *s = NULL;
    struct scep_cert_group_counts g;
    int rc = SCEP_ERR_STORE, step;

    if (sqlite3_prepare_v2(be->db, GROUP_SQL, -1, &s, NULL) != SQLITE_OK) {
        sq_fail(be, "prepare certificate counts by group");
        goto out;
    }
    if (sqlite3_bind_int64(s, 1, now) != SQLITE_OK) {
        sq_fail(be, "bind certificate counts by group");
        goto out;
    }
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        memset(&g, 0, sizeof(g));
        g.source = (const char *)sqlite3_column_text(s, 0);
        g.profile = (const char *)sqlite3_column_text(s, 1);
        g.valid = sqlite3_column_int64(s, 2);
        g.superseded = sqlite3_column_int64(s, 3);
        g.revoked = sqlite3_column_int64(s, 4);
        g.expired = sqlite3_column_int64(s, 5);
        if (g.source == NULL)
            g.source = "";
        if (g.profile == NULL)
            g.profile = "";
        rc = cb(&g, arg);
        if (rc != 0)
            goto out;
    }
    if (step != SQLITE_DONE) {
        rc = sq_fail(be, "count certificates by group");
        goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(s);
    return rc;
}

/* The histograms of store.h, by what: ?1 start, ?2 width, ?3 end. */
static const char *const hist_sql[] = {
    "SELECT (issued_at - ?1) / ?2, count(*) FROM certificates WHERE source = 'scep' "
    "AND issued_at >= ?1 AND issued_at < ?3 GROUP BY 1",
    "SELECT (not_after - ?1) / ?2, count(*) FROM certificates WHERE status = 0 "
    "AND superseded_by IS NULL AND not_after >= ?1 AND not_after < ?3 GROUP BY 1",
};

int sq_cert_histogram(void *vbe, int what, int64_t start, int64_t width, size_t n, int64_t *counts)
{
    struct sq_be *be = vbe;
    sqlite3_stmt *s = NULL;
    int rc = SCEP_ERR_STORE, step;

    if (sqlite3_prepare_v2(be->db, hist_sql[what], -1, &s, NULL) != SQLITE_OK) {
        sq_fail(be, "prepare certificate histogram");
        goto out;
    }
    if (sqlite3_bind_int64(s, 1, start) != SQLITE_OK ||
        sqlite3_bind_int64(s, 2, width) != SQLITE_OK ||
        sqlite3_bind_int64(s, 3, start + width * (int64_t)n) != SQLITE_OK) {
        sq_fail(be, "bind certificate histogram");
        goto out;
    }
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t b = sqlite3_column_int64(s, 0);

        /* The WHERE clause keeps every bucket inside; a bucket outside
         * would be a bug here, not data to drop. */
        if (b < 0 || (uint64_t)b >= n) {
            snprintf(be->err, sizeof(be->err), "certificate histogram: bucket %lld out of range",
                     (long long)b);
            goto out;
        }
        counts[b] = sqlite3_column_int64(s, 1);
    }
    if (step != SQLITE_DONE) {
        rc = sq_fail(be, "certificate histogram");
        goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(s);
    return rc;
}
