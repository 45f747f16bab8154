/*
 * Certificates as an administrator handles them: finding one by a
 * serial typed by a person, naming its status, listing, and revoking it
 * with its audit event in the same transaction.  Releasing a hold is in
 * unhold.c.
 */
#include <stdio.h>
#include <string.h>

#include <scep/error.h>

#include "admin/admin.h"
#include "util/hex.h"

/* Room for the audit detail: the reason and the subject (bounded by
 * SCEP_MAX_SUBJECT far below this) and quoting. */
#define ADMIN_DETAIL_LEN 1400

int scep_admin_normalize_serial(const char *s, char *out, size_t size)
{
    /* The one serial convention (lib/util/hex.h), so that OpenSSL's
     * spelling of a top-bit serial finds the stored record too. */
    return util_serial_text_normalize(s, out, size) == 0 ? 0 : SCEP_ERR_INVALID_ARG;
}

const char *scep_admin_cert_status(const struct scep_cert_info *ci, int64_t now)
{
    if (ci->status == SCEP_CERT_REVOKED)
        return "revoked";
    /* not_after 0: unknown (never written today), so not called expired. */
    if (ci->not_after != 0 && ci->not_after < now)
        return "expired";
    /* Superseded is derived, not stored (store.h, "The inventory"): the
     * certificate is still valid until someone revokes it. */
    return ci->superseded_by != NULL && ci->superseded_by[0] != '\0' ? "superseded" : "valid";
}

int scep_admin_get_cert(struct scep_store *st, const char *serial, struct scep_cert_info **out)
{
    char norm[SCEP_ADMIN_SERIAL_MAX + 1];
    int rc;

    if (st == NULL || out == NULL)
        return SCEP_ERR_INVALID_ARG;
    if ((rc = scep_admin_normalize_serial(serial, norm, sizeof(norm))) != 0)
        return rc;
    return scep_store_get_cert(st, norm, out);
}

int scep_admin_list_certs(struct scep_store *st, const struct scep_cert_filter *f,
                          scep_store_cert_cb cb, void *arg)
{
    if (st == NULL || f == NULL || cb == NULL)
        return SCEP_ERR_INVALID_ARG;
    return scep_store_list_certs(st, f, cb, arg);
}

int scep_admin_revoke(struct scep_store *st, const char *actor, const char *serial, int reason,
                      int64_t now, struct scep_cert_info **out)
{
    char norm[SCEP_ADMIN_SERIAL_MAX + 1], detail[ADMIN_DETAIL_LEN];
    struct scep_cert_info *ci = NULL;
    struct scep_audit_event ev;
    int rc;

    if (st == NULL || actor == NULL || (reason != -1 && scep_crl_reason_name(reason) == NULL))
        return SCEP_ERR_INVALID_ARG;
    if ((rc = scep_admin_normalize_serial(serial, norm, sizeof(norm))) != 0)
        return rc;
    /* Read the record first so that the audit event names the subject:
     * a serial alone tells a later reader nothing. */
    if ((rc = scep_store_get_cert(st, norm, &ci)) != 0)
        goto out;
    if (ci->status == SCEP_CERT_REVOKED) {
        rc = SCEP_ERR_EXISTS;
        goto out;
    }
    /* An external certificate is another CA's to revoke: ours would
     * list it on no CRL and answer for it in no OCSP response. */
    if (ci->source != NULL && strcmp(ci->source, SCEP_CERT_SOURCE_SCEP) != 0) {
        rc = SCEP_ERR_POLICY;
        goto out;
    }
    snprintf(detail, sizeof(detail), "reason=%s subject=\"%s\"",
             reason >= 0 ? scep_crl_reason_name(reason) : "none",
             ci->subject != NULL ? ci->subject : "");
    memset(&ev, 0, sizeof(ev));
    ev.time = now;
    ev.kind = "revoke";
    ev.actor = actor;
    ev.serial = norm;
    ev.detail = detail;
    if ((rc = scep_store_revoke(st, norm, reason, now, &ev)) != 0)
        goto out;
    if (out != NULL) {
        ci->status = SCEP_CERT_REVOKED;
        ci->revoked_at = now;
        ci->revocation_reason = reason;
        *out = ci;
        ci = NULL;
    }
    rc = 0;
out:
    scep_cert_info_free(ci);
    return rc;
}
