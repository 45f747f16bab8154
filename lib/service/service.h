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
    const char *challenge;         /* static challenge password; NULL/"": none required */
    int allow_renewal;             /* accept RenewalReq (and advertise Renewal) */
    long crl_next_update_seconds;  /* nextUpdate of CRLs answered to GetCRL; 0: 168 hours */
    int manual_approval;           /* new enrollments wait (PENDING) until approved with scepctl */
    int allow_des;                 /* accept single-DES envelopes (old Cisco IOS, micromdm) */
    long ocsp_next_update_seconds; /* nextUpdate of OCSP answers; 0: one hour */
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
    long max_age;         /* seconds a cache may keep the answer (CRL, OCSP); 0: no-store */
    int64_t expires;      /* Unix time it may be kept until, with max_age */
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

/*
 * Whether this worker's certificate store answers (scep_store_ping on
 * the service's connection), for /healthz.  Returns 0,
 * SCEP_ERR_UNAVAILABLE or SCEP_ERR_STORE.
 */
int scep_service_store_ping(struct scep_service *svc);

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

/*
 * The CRL of the CA named which (NULL, "current", "previous", or a
 * fingerprint or key identifier prefix: scep_ca_find_issuer) as DER
 * "application/pkix-crl", made by the one CRL builder and reused for at
 * most a few seconds per CA (so a revocation shows almost at once and a
 * CRL served is never near its nextUpdate); r->max_age / r->expires say
 * how long a client may keep it.  An unknown name is a 404.  Returns as
 * the functions above.
 */
int scep_service_crl(struct scep_service *svc, const char *which, struct scep_reply *r);

/*
 * Answers the OCSP request req (len bytes of DER, as received) for
 * every CA of the set (scep_admin_ocsp_answer): r holds an
 * "application/ocsp-response" with status 200, also for malformedRequest
 * and unauthorized (outcome "failure"); r->max_age / r->expires follow
 * its nextUpdate; r->reason says good/revoked/unknown or why it was
 * refused, r->serial the first CertID's serial.  Returns as the
 * functions above.
 */
int scep_service_ocsp(struct scep_service *svc, const unsigned char *req, size_t len,
                      struct scep_reply *r);

/* Frees r->body and resets r.  Accepts NULL. */
void scep_reply_clear(struct scep_reply *r);

#endif
