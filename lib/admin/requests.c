/*
 * Requests that scepd holds PENDING (approval = manual): finding one by
 * id or transactionID, and the administrator's decision with its audit
 * event in one transaction.  Nothing is issued here: the CA key stays
 * with scepd, which issues an approved request, or answers FAILURE for a
 * rejected one, when the client polls again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <scep/error.h>

#include "admin/admin.h"

/* Room for the audit detail: the reason, the subject and quoting. */
#define ADMIN_DETAIL_LEN 2048

static int all_digits(const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return 0;
    }
    return 1;
}

/* 1 if s holds a control character: a reason is typed by a person, and a
 * newline or an escape in it would garble tables, logs and terminals. */
static int has_control(const char *s)
{
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
            return 1;
    }
    return 0;
}

int scep_admin_find_request(struct scep_store *st, const char *ref, struct scep_request_info **out)
{
    long long id;
    char *end = NULL;

    if (st == NULL || ref == NULL || ref[0] == '\0' || out == NULL)
        return SCEP_ERR_INVALID_ARG;
    if (!all_digits(ref))
        return scep_store_get_request_by_transaction(st, ref, out);
    errno = 0;
    id = strtoll(ref, &end, 10);
    if (errno != 0 || *end != '\0' || id < 1)
        return SCEP_ERR_INVALID_ARG;
    return scep_store_get_request(st, (int64_t)id, out);
}

int scep_admin_get_request(struct scep_store *st, int64_t id, struct scep_request_info **out)
{
    if (st == NULL || out == NULL)
        return SCEP_ERR_INVALID_ARG;
    return scep_store_get_request(st, id, out);
}

int scep_admin_list_requests(struct scep_store *st, int status, scep_store_request_cb cb, void *arg)
{
    if (st == NULL || cb == NULL)
        return SCEP_ERR_INVALID_ARG;
    return scep_store_list_requests(st, status, cb, arg);
}

int scep_admin_decide(struct scep_store *st, const char *actor, int64_t id, int status,
                      const char *reason, struct scep_request_info **out)
{
    struct scep_request_info *ri = NULL;
    struct scep_audit_event ev;
    char detail[ADMIN_DETAIL_LEN];
    int rc;

    if (st == NULL || actor == NULL || (status != SCEP_REQ_APPROVED && status != SCEP_REQ_REJECTED))
        return SCEP_ERR_INVALID_ARG;
    if (reason != NULL && reason[0] == '\0')
        reason = NULL;
    if (reason != NULL && (status != SCEP_REQ_REJECTED || strlen(reason) > SCEP_ADMIN_REASON_MAX ||
                           has_control(reason)))
        return SCEP_ERR_INVALID_ARG;
    if ((rc = scep_store_get_request(st, id, &ri)) != 0)
        goto out;
    if (ri->status != SCEP_REQ_PENDING) {
        rc = SCEP_ERR_EXISTS;
        goto out;
    }
    /* The subject in the event: an id alone tells a later reader nothing
     * about what was let in or kept out. */
    if (status == SCEP_REQ_REJECTED)
        snprintf(detail, sizeof(detail), "request=%lld reason=\"%s\" subject=\"%s\"",
                 (long long)ri->id, reason != NULL ? reason : "",
                 ri->subject != NULL ? ri->subject : "");
    else
        snprintf(detail, sizeof(detail), "request=%lld subject=\"%s\"", (long long)ri->id,
                 ri->subject != NULL ? ri->subject : "");
    memset(&ev, 0, sizeof(ev));
    ev.kind = status == SCEP_REQ_APPROVED ? "request-approve" : "request-reject";
    ev.actor = actor;
    ev.transaction_id = ri->transaction_id;
    ev.detail = detail;
    /* The store decides only a request still pending inside its write
     * transaction, so a race with another administrator ends here as
     * SCEP_ERR_EXISTS with nothing written. */
    if ((rc = scep_store_decide_request(st, ri->id, status, actor, reason, &ev)) != 0)
        goto out;
    if (out != NULL && (rc = scep_store_get_request(st, id, out)) != 0)
        goto out;
    rc = 0;
out:
    scep_request_info_free(ri);
    return rc;
}

int scep_admin_request_purge(struct scep_store *st, const char *actor, int days, int64_t now,
                             int64_t *purged)
{
    struct scep_audit_event ev;
    char detail[128];
    int64_t before;

    if (st == NULL || actor == NULL || days < 1 || now < 0)
        return SCEP_ERR_INVALID_ARG;
    if (now == 0)
        now = (int64_t)time(NULL);
    before = now - (int64_t)days * 86400;
    /* The count is the store's to find inside its transaction; the event
     * says which rule ran. */
    snprintf(detail, sizeof(detail), "rejected or issued, decided before %lld (%d days)",
             (long long)before, days);
    memset(&ev, 0, sizeof(ev));
    ev.kind = "request-purge";
    ev.actor = actor;
    ev.time = now;
    ev.detail = detail;
    return scep_store_purge_requests(st, before, purged, &ev);
}
