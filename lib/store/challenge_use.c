/* The one wording of a one-time challenge's use in the audit trail,
 * for both backends (store_backend.h). */
#include <stdio.h>
#include <string.h>

#include "store/store_backend.h"

void scep_store_challenge_use_event(struct scep_audit_event *ev, char *detail, size_t len,
                                    int64_t id, const struct scep_audit_event *like)
{
    memset(ev, 0, sizeof(*ev));
    ev->kind = "challenge-use";
    ev->actor = like != NULL && like->actor != NULL ? like->actor : "scepd";
    if (like != NULL) {
        ev->time = like->time;
        ev->transaction_id = like->transaction_id;
        ev->peer = like->peer;
        ev->serial = like->serial;
    }
    snprintf(detail, len, "challenge=%lld", (long long)id);
    ev->detail = detail;
}
