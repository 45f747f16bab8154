/*
 * Releasing a certificateHold (RFC 5280 5.3.1): the one revocation that
 * is not final.  The store checks, inside the same transaction that
 * writes the "unhold" audit event, that the certificate is on hold, so
 * two administrators acting at once cannot release a revocation that
 * was made final in between.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <scep/error.h>

#include "admin/admin.h"

int scep_admin_unhold(struct scep_store *st, const char *actor, const char *serial,
                      struct scep_cert_info **out)
{
    char norm[SCEP_ADMIN_SERIAL_MAX + 1], detail[1400];
    struct scep_cert_info *ci = NULL;
    struct scep_audit_event ev;
    int rc;

    if (st == NULL || actor == NULL)
        return SCEP_ERR_INVALID_ARG;
    if ((rc = scep_admin_normalize_serial(serial, norm, sizeof(norm))) != 0)
        return rc;
    if ((rc = scep_store_get_cert(st, norm, &ci)) != 0)
        goto out;
    if (ci->status != SCEP_CERT_REVOKED || ci->revocation_reason != SCEP_CRL_REASON_HOLD) {
        rc = SCEP_ERR_POLICY;
        goto out;
    }
    snprintf(detail, sizeof(detail), "subject=\"%s\"", ci->subject != NULL ? ci->subject : "");
    memset(&ev, 0, sizeof(ev));
    ev.time = (int64_t)time(NULL);
    ev.kind = "unhold";
    ev.actor = actor;
    ev.serial = norm;
    ev.detail = detail;
    if ((rc = scep_store_unhold(st, norm, &ev)) != 0)
        goto out;
    if (out != NULL) {
        ci->status = SCEP_CERT_VALID;
        ci->revoked_at = 0;
        ci->revocation_reason = -1;
        *out = ci;
        ci = NULL;
    }
    rc = 0;
out:
    scep_cert_info_free(ci);
    return rc;
}
