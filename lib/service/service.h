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

struct scep_rules;
struct scep_ratelimit;
struct scep_replay_memory; /* opaque: replay.c */

/*
 * One enrollment profile: who may enroll at one URL and what they get.
 * The default profile answers at the SCEP path itself, a named one at
 * <path>/NAME.  Strings are copied by scep_service_new.
 *
 * Authorisation of a new (non-renewal) enrollment: when the profile has a
 * static challenge, or require_challenge, the CSR's challengePassword
 * must be that challenge or a one-time challenge minted for this profile
 * (scepctl challenge new); then, when webhook_url is set, the webhook
 * must allow it.  A profile with none of the three is open.  Renewals
 * (signed by a valid certificate of this CA) need no challenge.
 */
struct scep_service_profile {
    const char *name;               /* "" or NULL: the default profile */
    const char *challenge;          /* static challenge password; NULL/"": none */
    int require_challenge;          /* without a static challenge: one-time challenges only */
    int allow_renewal;              /* accept RenewalReq (and advertise Renewal) */
    int renewal_window_days;        /* renewals only within this many days of expiry; 0: any time */
    int manual_approval;            /* new enrollments wait (PENDING) until approved with scepctl */
    int allow_des;                  /* accept single-DES envelopes (old Cisco IOS, micromdm) */
    const struct scep_rules *rules; /* what a CSR may ask for; NULL: no rules (copied) */
    const char *webhook_url;        /* NULL: no webhook */
    const char *webhook_secret;     /* HMAC key of X-Scepd-Signature */
    long webhook_timeout_ms;        /* 0: 5000 */
    struct scep_profile profile;    /* issuance: validity, extensions */
};

struct scep_service_config {
    struct scep_service_profile def;             /* the default profile (its name is ignored) */
    const struct scep_service_profile *profiles; /* named profiles; names unique */
    size_t nprofiles;
    long crl_next_update_seconds;  /* nextUpdate of CRLs answered to GetCRL; 0: 168 hours */
    long ocsp_next_update_seconds; /* nextUpdate of OCSP answers; 0: one hour */
    /* Enrollments per challenge password, shared by every worker of the
     * process (borrowed, must outlive the service); NULL: no limit. */
    struct scep_ratelimit *challenge_limit;
    /* The refused messages every worker of the process remembers
     * (scep_replay_memory_new; a reference is kept, so the caller may
     * free its own at any time); NULL: the service keeps its own. */
    struct scep_replay_memory *replay;
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
    long retry_after;     /* seconds, with http_status 429 or 503; 0: none */

    /* Enrollments: the profile asked (borrowed from the service, "" the
     * default) and, when it was authorised, how: "static", "one-time",
     * "webhook", "renewal", "open" (static); NULL otherwise. */
    const char *profile;
    const char *via;
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

/*
 * The memory of refused messages that the services of one process share
 * (scep_service_config.replay), so that a replay costs no key operation
 * whichever worker it reaches.  Thread-safe.  Returns 0, SCEP_ERR_NOMEM
 * or SCEP_ERR_INVALID_ARG; *out: scep_replay_memory_free(), which drops
 * the caller's reference (services keep theirs).  Accepts NULL.
 */
int scep_replay_memory_new(struct scep_replay_memory **out);
void scep_replay_memory_free(struct scep_replay_memory *m);

/* Swaps in a new CA (rollover); takes a reference, drops the old one. */
void scep_service_set_ca(struct scep_service *svc, struct scep_ca *ca);

/* Swaps in the delegated OCSP responders that sign /ocsp answers
 * (scep_ca_responders_load; NULL: each CA signs for itself); takes a
 * reference, drops the old one.  On the thread that owns svc. */
void scep_service_set_ocsp_signers(struct scep_service *svc, struct scep_ocsp_signers *signers);

/* The CA the service uses now (scep_service_set_ca swaps it, on the
 * thread that owns the service).  Borrowed: valid until the next swap. */
struct scep_ca *scep_service_get0_ca(const struct scep_service *svc);

/*
 * Whether this worker's certificate store answers (scep_store_ping on
 * the service's connection), for /healthz.  Returns 0,
 * SCEP_ERR_UNAVAILABLE or SCEP_ERR_STORE.
 */
int scep_service_store_ping(struct scep_service *svc);

/* 1 when the service has a profile called name ("" or NULL: the
 * default profile, always there). */
int scep_service_has_profile(const struct scep_service *svc, const char *name);

/* Capabilities this service advertises at profile (enum scep_cap bits;
 * an unknown profile answers as the default one). */
unsigned scep_service_caps(const struct scep_service *svc, const char *profile);

/*
 * Each fills *r (cleared first).  Returns 0 when *r holds an answer to
 * send (whatever its http_status), or SCEP_ERR_* on an internal failure
 * (then r->http_status is 500 and r->reason says why).  peer is the
 * client's address for logs and the store.
 */
int scep_service_getcacaps(struct scep_service *svc, const char *profile, struct scep_reply *r);
int scep_service_getcacert(struct scep_service *svc, struct scep_reply *r);
int scep_service_getnextcacert(struct scep_service *svc, struct scep_reply *r);
int scep_service_pkioperation(struct scep_service *svc, const char *profile,
                              const unsigned char *msg, size_t len, const char *peer,
                              struct scep_reply *r);

/*
 * The same in two steps, for callers with an event loop: a profile with
 * a webhook must wait for an outside answer, and the thread must not
 * wait with it.  _begin works as scep_service_pkioperation up to the
 * webhook: when it needs no outside answer it returns with *pend NULL
 * and r the final answer; else *pend is set and r only names the
 * transaction.  The caller then POSTs the call scep_pending_webhook
 * describes, and hands what came back to _resume, which fills r and
 * frees pend.  A caller that gives up (its client went away) frees pend
 * with scep_pending_free.  pend belongs to svc: resume it on the same
 * service, before scep_service_free.
 */
struct scep_pending;

/* The outside call a pending enrollment waits for; strings borrowed from
 * the pending object. */
struct scep_webhook_call {
    const char *url;
    const char *body; /* JSON */
    size_t len;
    const char *signature; /* value of X-Scepd-Signature: "sha256=<hex HMAC>" */
    long timeout_ms;
};

int scep_service_pkioperation_begin(struct scep_service *svc, const char *profile,
                                    const unsigned char *msg, size_t len, const char *peer,
                                    struct scep_reply *r, struct scep_pending **pend);
void scep_pending_webhook(const struct scep_pending *p, struct scep_webhook_call *call);
/*
 * http_status: the webhook's HTTP status, 0 when there was no answer
 * (transport_error then says why).  Returns as scep_service_pkioperation.
 */
int scep_service_pkioperation_resume(struct scep_service *svc, struct scep_pending *p,
                                     int http_status, const unsigned char *body, size_t len,
                                     const char *transport_error, struct scep_reply *r);
void scep_pending_free(struct scep_pending *p);

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

/*
 * Records a request refused over the rate limit named limit ("address",
 * "challenge") in the audit trail, coalesced: one event per worker every
 * few seconds at most, with the count since the last (so a flood cannot
 * turn into a flood of database writes).  Returns 0 or SCEP_ERR_*.
 */
int scep_service_note_rate_limited(struct scep_service *svc, const char *limit, const char *peer,
                                   const char *profile);

/* Frees r->body and resets r.  Accepts NULL. */
void scep_reply_clear(struct scep_reply *r);

#endif
