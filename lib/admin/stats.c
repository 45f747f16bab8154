/*
 * The statistics front ends show (the admin API's GET /stats, the
 * console's dashboard and its expiry chart): the store's counts by
 * (source, profile) and its histograms of issuance per UTC day and of
 * expiry per week, gathered into one struct.  The counting is the
 * store's (scep_store_count_certs_by_group, scep_store_cert_histogram);
 * what a day and a week are is decided here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <scep/error.h>

#include "admin/admin.h"

#define DAY 86400
#define WEEK (7 * DAY)

/* Appends one group to the stats being gathered (arg). */
static int stats_group(const struct scep_cert_group_counts *g, void *arg)
{
    struct scep_admin_stats *s = arg;
    struct scep_admin_stats_group *grown, *e;

    grown = realloc(s->groups, (s->ngroups + 1) * sizeof(*grown));
    if (grown == NULL)
        return SCEP_ERR_NOMEM;
    s->groups = grown;
    e = &s->groups[s->ngroups];
    memset(e, 0, sizeof(*e));
    e->profile = strdup(g->profile);
    if (e->profile == NULL)
        return SCEP_ERR_NOMEM;
    snprintf(e->source, sizeof(e->source), "%s", g->source);
    e->valid = g->valid;
    e->superseded = g->superseded;
    e->revoked = g->revoked;
    e->expired = g->expired;
    s->ngroups++;
    s->valid += g->valid;
    s->superseded += g->superseded;
    s->revoked += g->revoked;
    s->expired += g->expired;
    return 0;
}

int scep_admin_stats(struct scep_store *st, int64_t now, struct scep_admin_stats **out)
{
    struct scep_admin_stats *s = NULL;
    int rc = SCEP_ERR_NOMEM;

    if (st == NULL || out == NULL || now < 0)
        return SCEP_ERR_INVALID_ARG;
    if (now == 0)
        now = (int64_t)time(NULL);
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        goto out;
    s->now = now;
    rc = scep_store_count_certs_by_group(st, now, stats_group, s);
    if (rc != 0)
        goto out;
    /* Days are UTC days, so that "per day" reads the same for every
     * administrator whatever their time zone; today is the last. */
    s->day0 = now - now % DAY - (SCEP_ADMIN_STATS_DAYS - 1) * (int64_t)DAY;
    rc = scep_store_cert_histogram(st, SCEP_HIST_ISSUED, s->day0, DAY, SCEP_ADMIN_STATS_DAYS,
                                   s->issued_per_day);
    if (rc != 0)
        goto out;
    rc = scep_store_cert_histogram(st, SCEP_HIST_EXPIRY, now, WEEK, SCEP_ADMIN_STATS_WEEKS,
                                   s->expiring_per_week);
    if (rc != 0)
        goto out;
    *out = s;
    s = NULL;
out:
    scep_admin_stats_free(s);
    return rc;
}

void scep_admin_stats_free(struct scep_admin_stats *s)
{
    size_t i;

    if (s == NULL)
        return;
    for (i = 0; i < s->ngroups; i++)
        free(s->groups[i].profile);
    free(s->groups);
    free(s);
}
