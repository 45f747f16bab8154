/*
 * Counts for statistics in PostgreSQL: sqlite_stats.c's statements
 * ($n for ?n), the certificates by (source, profile) and state, and
 * histograms of issuance and expiry times in fixed-width buckets.
 * bigint / bigint is integer division here as in SQLite.
 */
#include "pg_be.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <scep/error.h>

int pg_count_certs_by_group(void *vbe, int64_t now, scep_store_group_cb cb, void *arg)
{
    struct pg_be *be = vbe;
    struct pg_params p = {0};
    struct scep_cert_group_counts g;
    PGresult *res = NULL;
    char *source = NULL, *profile = NULL;
    int rc, i, n;

    pg_param_int(&p, now);
    rc = pg_exec(be,
                 "SELECT source, profile, "
                 "count(*) FILTER (WHERE status = 0 AND not_after > $1 AND superseded_by IS NULL), "
                 "count(*) FILTER (WHERE status = 0 AND not_after > $1 "
                 "AND superseded_by IS NOT NULL), "
                 "count(*) FILTER (WHERE status = 1), "
                 "count(*) FILTER (WHERE status = 0 AND not_after <= $1) "
                 "FROM certificates GROUP BY source, profile ORDER BY source, profile",
                 &p, "count certificates by group", &res);
    if (rc != 0)
        return rc;
    n = PQntuples(res);
    for (i = 0; i < n; i++) {
        memset(&g, 0, sizeof(g));
        if (pg_dup_str(res, i, 0, &source) != 0 || pg_dup_str(res, i, 1, &profile) != 0) {
            rc = SCEP_ERR_NOMEM;
            goto out;
        }
        if (pg_int(res, i, 2, &g.valid) || pg_int(res, i, 3, &g.superseded) ||
            pg_int(res, i, 4, &g.revoked) || pg_int(res, i, 5, &g.expired)) {
            snprintf(be->err, sizeof(be->err), "count certificates by group: unexpected answer");
            rc = SCEP_ERR_STORE;
            goto out;
        }
        g.source = source != NULL ? source : "";
        g.profile = profile != NULL ? profile : "";
        rc = cb(&g, arg);
        if (rc != 0)
            goto out;
        free(source);
        free(profile);
        source = profile = NULL;
    }
    rc = 0;
out:
    free(source);
    free(profile);
    PQclear(res);
    return rc;
}

/* sqlite_stats.c's histograms: $1 start, $2 width, $3 end. */
static const char *const hist_sql[] = {
    "SELECT (issued_at - $1) / $2, count(*) FROM certificates WHERE source = 'scep' "
    "AND issued_at >= $1 AND issued_at < $3 GROUP BY 1",
    "SELECT (not_after - $1) / $2, count(*) FROM certificates WHERE status = 0 "
    "AND superseded_by IS NULL AND not_after >= $1 AND not_after < $3 GROUP BY 1",
};

int pg_cert_histogram(void *vbe, int what, int64_t start, int64_t width, size_t n, int64_t *counts)
{
    struct pg_be *be = vbe;
    struct pg_params p = {0};
    PGresult *res = NULL;
    int64_t b, c;
    int rc, i, rows;

    pg_param_int(&p, start);
    pg_param_int(&p, width);
    pg_param_int(&p, start + width * (int64_t)n);
    rc = pg_exec(be, hist_sql[what], &p, "certificate histogram", &res);
    if (rc != 0)
        return rc;
    rows = PQntuples(res);
    for (i = 0; i < rows; i++) {
        if (pg_int(res, i, 0, &b) || pg_int(res, i, 1, &c) || b < 0 || (uint64_t)b >= n) {
            snprintf(be->err, sizeof(be->err), "certificate histogram: unexpected answer");
            rc = SCEP_ERR_STORE;
            goto out;
        }
        counts[b] = c;
    }
    rc = 0;
out:
    PQclear(res);
    return rc;
}
