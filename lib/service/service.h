/*
 * The SCEP service: the server's protocol logic without HTTP.  Given the
 * bytes of a PKIOperation it decodes, verifies, decrypts, authorises,
 * issues, stores and answers; it also produces the GetCACaps, GetCACert
 * and GetNextCACert bodies.  scepd's HTTP layer calls it; unit tests call
 * it directly.
 *
 * One struct scep_service per worker thread (it owns that thread's store
 * connection); the CA is shared and may be swapped on rollover.
 */
#ifndef SCEP_SERVICE_SERVICE_H
#define SCEP_SERVICE_SERVICE_H

#include <stddef.h>
#include <stdint.h>
#include <scep/limits.h>
#include "ca/ca.h"
#include "store/store.h"

struct scep_service_config {
    const char *challenge;        /* static challenge password; NULL/"": none required */
    int allow_renewal;            /* accept RenewalReq (and advertise Renewal) */
    long crl_next_update_seconds; /* nextUpdate of CRLs answered to GetCRL; 0: 168 hours */
    int manual_approval;          /* new enrollments wait (PENDING) until approved with scepctl */
    int allow_des;                /* accept single-DES envelopes (old Cisco IOS, micromdm) */
    struct scep_profile profile;
};

/* What happened, for the HTTP layer's response, log line and metrics. */
struct scep_reply {
    unsigned char *body; /* owned: free with scep_reply_clear() */
    size_t len;
    const char *content_type; /* static */
    int http_status;          /* 200, or 400/404/500 with reason */
    char reason[256];         /* one-line text for 4xx/5xx bodies and logs */

    int msg_type; /* request messageType, -1 if not decoded */
    char transaction_id[SCEP_MAX_TRANSID + 1];
    const char *outcome;  /* "success", "failure", "pending", "error" (static) */
    int fail_info;        /* -1 unless outcome is "failure" */
    char serial[64];      /* issued serial (hex) or "" */
    double issue_seconds; /* time spent issuing + storing, 0 if none */
};

struct scep_service; /* opaque */

/*
 * Makes a service over ca (a reference is taken) and st (borrowed; must
 * outlive the service).  cfg is copied (strings too).
 * *out: free with scep_service_free().
 */
int scep_service_new(struct scep_ca *ca, struct scep_store *st,
                     const struct scep_service_config *cfg, struct scep_service **out);
void scep_service_free(struct scep_service *svc);

/* Swaps in a new CA (rollover); takes a reference, drops the old one. */
void scep_service_set_ca(struct scep_service *svc, struct scep_ca *ca);

/* Capabilities this service advertises (enum scep_cap bits). */
unsigned scep_service_caps(const struct scep_service *svc);

/*
 * Each fills *r (cleared first).  Returns 0 when *r holds an answer to
 * send (whatever its http_status), or SCEP_ERR_* on an internal failure
 * (then r->http_status is 500 and r->reason says why).  peer is the
 * client's address for logs and the store.
 */
int scep_service_getcacaps(struct scep_service *svc, struct scep_reply *r);
int scep_service_getcacert(struct scep_service *svc, struct scep_reply *r);
int scep_service_getnextcacert(struct scep_service *svc, struct scep_reply *r);
int scep_service_pkioperation(struct scep_service *svc, const unsigned char *msg, size_t len,
                              const char *peer, struct scep_reply *r);

/* Frees r->body and resets r.  Accepts NULL. */
void scep_reply_clear(struct scep_reply *r);

#endif
