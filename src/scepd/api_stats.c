/*
 * GET /api/v1/stats: the inventory in numbers, for dashboards and the
 * console's charts: certificates by state, overall and by (source,
 * profile), issued per UTC day over the last 30 days, and expiring per
 * week over the next 52.  lib/admin/stats.c gathers them; this is its
 * JSON.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <scep/error.h>

#include "api.h"
#include "scepd.h"

/* The four state counts as a JSON object.  New reference or NULL. */
static json_t *counts_json(int64_t valid, int64_t superseded, int64_t revoked, int64_t expired)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I}", "valid", (json_int_t)valid, "superseded",
                     (json_int_t)superseded, "revoked", (json_int_t)revoked, "expired",
                     (json_int_t)expired, "total",
                     (json_int_t)(valid + superseded + revoked + expired));
}

/* n buckets from start, width seconds each, as [{start, count}].  New
 * reference or NULL. */
static json_t *buckets_json(const int64_t *counts, size_t n, int64_t start, int64_t width)
{
    json_t *a = json_array();
    size_t i;

    for (i = 0; a != NULL && i < n; i++) {
        json_t *o = json_pack("{s:o, s:I}", "start", api_json_time(start + (int64_t)i * width),
                              "count", (json_int_t)counts[i]);

        if (o == NULL || json_array_append_new(a, o) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

void api_stats(struct api_ctx *c)
{
    struct scep_admin_stats *s = NULL;
    json_t *groups, *o = NULL;
    size_t i;
    int rc;

    /* No parameters: one given is a 400 naming it, not ignored. */
    if (api_query_apply(c, NULL) != 0)
        return;
    rc = scep_admin_stats(c->app->store, (int64_t)time(NULL), &s);
    if (rc != 0) {
        api_problem_store(c, rc, "counting certificates");
        return;
    }
    groups = json_array();
    for (i = 0; groups != NULL && i < s->ngroups; i++) {
        const struct scep_admin_stats_group *g = &s->groups[i];
        json_t *e = counts_json(g->valid, g->superseded, g->revoked, g->expired);

        if (e == NULL || json_object_set_new(e, "source", json_string(g->source)) != 0 ||
            json_object_set_new(e, "profile", json_string(g->profile)) != 0 ||
            json_array_append_new(groups, e) != 0) {
            json_decref(groups);
            groups = NULL;
        }
    }
    if (groups != NULL)
        o = json_pack(
            "{s:o, s:o, s:o, s:o, s:o}", "time", api_json_time(s->now), "by_status",
            counts_json(s->valid, s->superseded, s->revoked, s->expired), "by_profile", groups,
            "issued_per_day",
            buckets_json(s->issued_per_day, SCEP_ADMIN_STATS_DAYS, s->day0, 86400),
            "expiring_per_week",
            buckets_json(s->expiring_per_week, SCEP_ADMIN_STATS_WEEKS, s->now, 7 * 86400));
    scep_admin_stats_free(s);
    api_send_json(c, 200, o);
}
