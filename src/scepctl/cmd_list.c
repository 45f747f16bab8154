/*
 * scepctl list: the issued certificates from the store, newest first, as
 * a table (serial, status, not_after, subject) or a JSON array.  Also the
 * certificate-record-to-JSON conversion that "show" shares.
 *
 * "expired" is not a stored status: the store knows valid and revoked, and
 * a valid certificate whose notAfter has passed is shown as expired.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <scep/error.h>
#include "admin/admin.h"
#include "scepctl.h"

/* Longest --expiring window in days; the product with 86400 stays in an
 * int, which is what the store's filter holds. */
#define CTL_MAX_EXPIRING_DAYS 24800

/* "valid", "revoked" or "expired" for a record at time now. */
/* JSON object for a certificate record.  New reference, NULL on ENOMEM. */
json_t *ctl_cert_info_json(const struct scep_cert_info *ci, int64_t now, int full)
{
    json_t *o = json_object();
    const char *reason = scep_crl_reason_name(ci->revocation_reason);

    if (o == NULL)
        return NULL;
    if (json_object_set_new(o, "serial", ctl_json_str(ci->serial)) != 0 ||
        json_object_set_new(o, "subject", ctl_json_str(ci->subject)) != 0 ||
        json_object_set_new(o, "sans", ctl_json_str(ci->sans)) != 0 ||
        json_object_set_new(o, "not_before", ctl_json_time(ci->not_before)) != 0 ||
        json_object_set_new(o, "not_after", ctl_json_time(ci->not_after)) != 0 ||
        json_object_set_new(o, "status", json_string(scep_admin_cert_status(ci, now))) != 0 ||
        json_object_set_new(o, "revoked_at", ctl_json_time(ci->revoked_at)) != 0 ||
        json_object_set_new(o, "reason",
                            ctl_json_str(ci->status == SCEP_CERT_REVOKED ? reason : NULL)) != 0 ||
        json_object_set_new(o, "transaction_id", ctl_json_str(ci->transaction_id)) != 0 ||
        json_object_set_new(o, "requester", ctl_json_str(ci->requester)) != 0 ||
        json_object_set_new(o, "msg_type", ctl_json_str(ci->msg_type)) != 0)
        goto fail;
    if (full && (json_object_set_new(o, "issued_at", ctl_json_time(ci->issued_at)) != 0 ||
                 json_object_set_new(o, "issuer_fingerprint", ctl_json_str(ci->issuer_fp)) != 0 ||
                 json_object_set_new(o, "pubkey_fingerprint", ctl_json_str(ci->pubkey_fp)) != 0 ||
                 json_object_set_new(o, "renewed_serial", ctl_json_str(ci->renewed_serial)) != 0))
        goto fail;
    return o;
fail:
    json_decref(o);
    return NULL;
}

struct list_state {
    int64_t now;
    int only_expired; /* --status expired: filtered here, not in the store */
    long limit;       /* applied here when only_expired */
    long count;
    json_t *array; /* --json */
    struct ctl_table *table;
};

static int list_one(const struct scep_cert_info *ci, void *arg)
{
    struct list_state *ls = arg;
    char na[32];

    if (ls->only_expired && strcmp(scep_admin_cert_status(ci, ls->now), "expired") != 0)
        return 0;
    if (ls->only_expired && ls->limit > 0 && ls->count >= ls->limit)
        return 0;
    ls->count++;
    if (ls->array != NULL) {
        json_t *o = ctl_cert_info_json(ci, ls->now, 0);
        if (o == NULL || json_array_append_new(ls->array, o) != 0)
            return SCEP_ERR_NOMEM;
        return 0;
    }
    const char *row[4] = {ci->serial, scep_admin_cert_status(ci, ls->now),
                          ctl_iso_time(ci->not_after, na, sizeof(na)), ci->subject};
    return ctl_table_add(ls->table, row) == 0 ? 0 : SCEP_ERR_NOMEM;
}

/* scepctl list.  Returns an exit code. */
int ctl_cmd_list(struct ctl *c, int argc, char **argv)
{
    const char *status = NULL, *expiring = NULL, *subject = NULL, *limit = NULL;
    struct ctl_opt opts[] = {
        {"status", &status, NULL},   {"expiring", &expiring, NULL},
        {"subject", &subject, NULL}, {"limit", &limit, NULL},
        {NULL, NULL, NULL},
    };
    static const char *const heads[4] = {"SERIAL", "STATUS", "NOT_AFTER", "SUBJECT"};
    struct scep_cert_filter f;
    struct list_state ls;
    struct scep_store *st = NULL;
    long v;
    int npos = 0, rc, err;

    memset(&f, 0, sizeof(f));
    memset(&ls, 0, sizeof(ls));
    rc = ctl_parse_opts(c, argc, argv, opts, NULL, 0, &npos, ctl_find_command("list"));
    if (rc != CTL_EXIT_OK)
        return rc < 0 ? CTL_EXIT_OK : rc;

    f.status = -1;
    f.include_expired = 1;
    if (status == NULL || strcmp(status, "all") == 0) {
        /* defaults above */
    } else if (strcmp(status, "valid") == 0) {
        f.status = SCEP_CERT_VALID;
        f.include_expired = 0;
    } else if (strcmp(status, "revoked") == 0) {
        f.status = SCEP_CERT_REVOKED;
    } else if (strcmp(status, "expired") == 0) {
        f.status = SCEP_CERT_VALID;
        ls.only_expired = 1;
    } else {
        ctl_err("list: --status %s: expected valid, revoked, expired or all", status);
        return CTL_EXIT_USAGE;
    }
    if (expiring != NULL) {
        if (ctl_parse_long(expiring, 1, CTL_MAX_EXPIRING_DAYS, &v) != 0) {
            ctl_err("list: --expiring %s: expected a number of days from 1 to %d", expiring,
                    CTL_MAX_EXPIRING_DAYS);
            return CTL_EXIT_USAGE;
        }
        if (ls.only_expired || f.status == SCEP_CERT_REVOKED) {
            ctl_err("list: --expiring selects valid certificates; it cannot be combined with "
                    "--status %s",
                    status);
            return CTL_EXIT_USAGE;
        }
        /* "Expiring" means still valid and running out soon. */
        f.expiring_within = (int)(v * 86400);
        f.status = SCEP_CERT_VALID;
        f.include_expired = 0;
    }
    if (limit != NULL) {
        if (ctl_parse_long(limit, 1, 1000000000L, &v) != 0) {
            ctl_err("list: --limit %s: expected a positive number", limit);
            return CTL_EXIT_USAGE;
        }
        if (ls.only_expired)
            ls.limit = v;
        else
            f.limit = v;
    }
    f.subject_like = subject;

    rc = ctl_open_store(c, &st);
    if (rc != CTL_EXIT_OK)
        return rc;
    rc = CTL_EXIT_FAIL;
    ls.now = (int64_t)time(NULL);
    if (c->json)
        ls.array = json_array();
    else
        ls.table = ctl_table_new(4, heads);
    if (ls.array == NULL && ls.table == NULL) {
        ctl_err("out of memory");
        goto out;
    }
    err = scep_admin_list_certs(st, &f, list_one, &ls);
    if (err != 0) {
        ctl_err("list: reading the database %s failed: %s", ctl_database(c), scep_strerror(err));
        goto out;
    }
    if (ls.array != NULL) {
        rc = ctl_json_print(ls.array);
        ls.array = NULL;
    } else {
        ctl_table_print(ls.table);
        rc = CTL_EXIT_OK;
    }
out:
    json_decref(ls.array);
    ctl_table_free(ls.table);
    scep_store_close(st);
    return rc;
}
