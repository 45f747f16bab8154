/*
 * The audit trail as front ends see it: appending an administrator's
 * event, reading events in order and verifying the hash chain.  The
 * chain itself is the store's (lib/store/audit_hash.c); this is the one
 * door every front end goes through, so that an event written by the
 * admin API looks like one written by scepctl.
 */
#include <string.h>
#include <time.h>

#include <scep/error.h>

#include "admin/admin.h"

int scep_admin_audit(struct scep_store *st, const char *actor, const char *kind, const char *serial,
                     const char *transaction_id, const char *detail)
{
    struct scep_audit_event ev;

    if (st == NULL || actor == NULL || kind == NULL)
        return SCEP_ERR_INVALID_ARG;
    memset(&ev, 0, sizeof(ev));
    ev.time = (int64_t)time(NULL);
    ev.kind = kind;
    ev.actor = actor;
    ev.serial = serial;
    ev.transaction_id = transaction_id;
    ev.detail = detail;
    return scep_store_audit(st, &ev);
}

int scep_admin_list_audit(struct scep_store *st, int64_t after_id, scep_store_audit_cb cb,
                          void *arg)
{
    if (st == NULL || cb == NULL)
        return SCEP_ERR_INVALID_ARG;
    return scep_store_list_audit(st, after_id, cb, arg);
}

int scep_admin_verify_audit(struct scep_store *st, int64_t *bad_id)
{
    if (st == NULL || bad_id == NULL)
        return SCEP_ERR_INVALID_ARG;
    return scep_store_verify_audit(st, bad_id);
}
