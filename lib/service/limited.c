/*
 * The audit trail of rate-limited requests.  Every refusal over a limit
 * is counted in /metrics, but writing each one to the store would hand
 * an abuser the database's fsync for free: the trail gets one
 * "rate-limited" event per worker every SVC_LIMIT_AUDIT_SECONDS at most,
 * saying how many requests were refused since the one before.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <scep/error.h>
#include "service/service_int.h"

int scep_service_note_rate_limited(struct scep_service *svc, const char *limit, const char *peer,
                                   const char *profile)
{
    struct scep_audit_event ev;
    struct timespec ts;
    char detail[160];
    int rc;

    if (svc == NULL)
        return SCEP_ERR_INVALID_ARG;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    svc->limited_since++;
    if (svc->limited_audit_at != 0 && ts.tv_sec - svc->limited_audit_at < SVC_LIMIT_AUDIT_SECONDS)
        return 0;
    snprintf(detail, sizeof(detail),
             "limit=%s profile=%s; %lu request(s) refused since the last event",
             limit != NULL ? limit : "?",
             profile != NULL && profile[0] != '\0' ? profile : "default", svc->limited_since);
    memset(&ev, 0, sizeof(ev));
    ev.kind = "rate-limited";
    ev.actor = "scepd";
    ev.peer = peer;
    ev.detail = detail;
    rc = scep_store_audit(svc->st, &ev);
    if (rc == 0) {
        svc->limited_audit_at = ts.tv_sec > 0 ? ts.tv_sec : 1;
        svc->limited_since = 0;
    }
    return rc;
}
