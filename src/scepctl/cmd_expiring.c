/*
 * scepctl expiring: the certificates that expire within a window, as the
 * expiry notifications see them (lib/admin/notify.h: valid, unexpired,
 * not renewed, whatever their source), soonest first, each with the
 * notice threshold of scepd.conf(5)'s notify_days it has crossed.  It
 * claims nothing: a listing never takes a notice away from scepd.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <scep/error.h>
#include "admin/notify.h"
#include "scepctl.h"

/* One row of the table or one JSON object. */
static int expiring_one(const struct scep_notify_due *d, int64_t now, json_t *array,
                        struct ctl_table *table)
{
    char na[32], left[32], thr[32];
    int64_t s = d->not_after - now;

    if (d->threshold != 0)
        scep_notify_duration_text(d->threshold, thr, sizeof(thr));
    else
        snprintf(thr, sizeof(thr), "-");
    if (array != NULL) {
        json_t *o = json_object();

        if (o == NULL || json_object_set_new(o, "serial", ctl_json_str(d->serial)) != 0 ||
            json_object_set_new(o, "subject", ctl_json_str(d->subject)) != 0 ||
            json_object_set_new(o, "sans", ctl_json_str(d->sans)) != 0 ||
            json_object_set_new(o, "issuer", ctl_json_str(d->issuer)) != 0 ||
            json_object_set_new(o, "profile",
                                d->profile != NULL ? json_string(d->profile) : json_null()) != 0 ||
            json_object_set_new(o, "not_after", ctl_json_time(d->not_after)) != 0 ||
            json_object_set_new(o, "days_left", json_integer(s / 86400)) != 0 ||
            json_object_set_new(o, "seconds_left", json_integer(s)) != 0 ||
            json_object_set_new(o, "threshold",
                                d->threshold != 0 ? json_string(thr) : json_null()) != 0 ||
            json_array_append_new(array, o) != 0) {
            json_decref(o);
            return -1;
        }
        return 0;
    }
    scep_notify_duration_text(s > 0 ? s : 1, left, sizeof(left));
    /* The shortest exact unit of an odd number of seconds is seconds;
     * a person reads whole days (or hours, under a day) better. */
    if (s >= 86400)
        snprintf(left, sizeof(left), "%lldd", (long long)(s / 86400));
    else if (s >= 3600)
        snprintf(left, sizeof(left), "%lldh", (long long)(s / 3600));
    const char *row[5] = {d->serial, ctl_iso_time(d->not_after, na, sizeof(na)), left, thr,
                          d->subject};
    return ctl_table_add(table, row);
}

/* scepctl expiring --within DURATION.  Returns an exit code. */
int ctl_cmd_expiring(struct ctl *c, int argc, char **argv)
{
    const char *within = NULL;
    struct ctl_opt opts[] = {
        {"within", &within, NULL},
        {NULL, NULL, NULL},
    };
    static const char *const heads[5] = {"SERIAL", "NOT_AFTER", "LEFT", "THRESHOLD", "SUBJECT"};
    struct scep_notify_list due = {NULL, 0};
    struct scep_store *st = NULL;
    struct ctl_table *table = NULL;
    json_t *array = NULL;
    int64_t window = 30 * 86400, now;
    size_t i;
    int npos = 0, rc, err;

    rc = ctl_parse_opts(c, argc, argv, opts, NULL, 0, &npos, ctl_find_command("expiring"));
    if (rc != CTL_EXIT_OK)
        return rc < 0 ? CTL_EXIT_OK : rc;
    if (within != NULL && scep_notify_parse_duration(within, &window) != 0) {
        ctl_err("expiring: --within %s: expected a duration such as 30d, 12h, 90m or 30 (days), "
                "at most 3650 days",
                within);
        return CTL_EXIT_USAGE;
    }
    rc = ctl_open_store(c, &st);
    if (rc != CTL_EXIT_OK)
        return rc;
    rc = CTL_EXIT_FAIL;
    now = (int64_t)time(NULL);
    err = scep_admin_notify_due(st, now, window, c->cfg.notify_thresholds,
                                c->cfg.notify_nthresholds, &due);
    if (err != 0) {
        ctl_err("expiring: reading the database %s failed: %s", ctl_database(c),
                scep_strerror(err));
        goto out;
    }
    if (c->json)
        array = json_array();
    else
        table = ctl_table_new(5, heads);
    if (array == NULL && table == NULL) {
        ctl_err("out of memory");
        goto out;
    }
    for (i = 0; i < due.n; i++)
        if (expiring_one(&due.items[i], now, array, table) != 0) {
            ctl_err("out of memory");
            goto out;
        }
    if (array != NULL) {
        rc = ctl_json_print(array);
        array = NULL;
    } else {
        ctl_table_print(table);
        rc = CTL_EXIT_OK;
    }
out:
    json_decref(array);
    ctl_table_free(table);
    scep_notify_list_clear(&due);
    scep_store_close(st);
    return rc;
}
