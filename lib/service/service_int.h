/*
 * Internals of the SCEP service, shared by the files of lib/service/ and
 * by nothing else: the service struct itself, the outcome a request
 * handler hands back to the PKIOperation pipeline, and the handlers.
 *
 * The pipeline (pkiop.c) decodes, verifies and decrypts; a handler
 * (enroll.c, query.c) decides and fills a struct svc_outcome; certrep.c
 * turns the outcome into a signed CertRep, auditing refusals.  With
 * manual approval, approval.c holds new enrollments as PENDING requests
 * and issues them (through issue.c, like enroll.c) once approved.
 */
#ifndef SCEP_SERVICE_SERVICE_INT_H
#define SCEP_SERVICE_SERVICE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <openssl/x509.h>
#include <scep/message.h>
#include "service/service.h"

/* How long a GetCRL answer is reused before the published CRL is asked
 * for again (scep_admin_crl_current: a read of the store, and a new CRL
 * only when what it lists changed): revocations show up at most this
 * late through SCEP, as at /crl. */
#define SVC_CRL_CACHE_SECONDS 5

/* CRLs cached at once, one per issuing CA: the current CA and the few
 * archived ones whose certificates are still in use. */
#define SVC_CRL_CACHE_SLOTS 4

/* One cached GetCRL answer. */
struct svc_crl_slot {
    char issuer_fp[65]; /* the signing CA's fingerprint; "" when empty */
    X509_CRL *crl;      /* owned, NULL when empty */
    time_t made;        /* CLOCK_MONOTONIC seconds */
};

/* How long a CRL served over HTTP (/crl) is reused before the published
 * CRL is asked for again: a revocation by scepctl or another node shows
 * at /crl at most this late. */
#define SVC_HTTP_CRL_MAX_AGE 5

/* Signed OCSP responses one worker keeps (one per certificate asked
 * about without a nonce; each about 1.5 KiB with an RSA-3072 CA). */
#define SVC_OCSP_CACHE_ENTRIES 4096

/* nextUpdate of OCSP answers when the configuration gives none. */
#define SVC_OCSP_NEXT_UPDATE_SECONDS 3600L

/* One cached HTTP CRL (DER). */
struct svc_http_crl_slot {
    char issuer_fp[65]; /* the signing CA's fingerprint; "" when empty */
    unsigned char *der; /* owned (free()), NULL when empty */
    size_t len;
    time_t made;         /* CLOCK_MONOTONIC seconds */
    int64_t next_update; /* the CRL's nextUpdate, Unix time */
};

/* nextUpdate of GetCRL answers when the service configuration gives none
 * (scepd.conf's crl_validity_hours defaults to the same). */
#define SVC_CRL_NEXT_UPDATE_SECONDS (168L * 3600L)

/* The private GetCACaps keyword saying that single DES is accepted
 * (allow_des); RFC 8894 defines none. */
#define SVC_CAP_DES_WORD "scepd-DES"

/* Attempts at a random serial before giving up (a collision of 127-bit
 * random serials means the RNG is broken, so this never loops in practice). */
#define SVC_ISSUE_ATTEMPTS 3

/*
 * A profile as the service keeps it (profile.c): scep_service_profile
 * with every string copied.  profiles[0] is the default profile.
 */
struct svc_profile {
    char *name;      /* "" for the default profile */
    char *challenge; /* NULL: no static challenge */
    size_t challenge_len;
    int require_challenge;
    int allow_renewal;
    int renewal_window_days;
    int manual_approval;
    int allow_des;
    struct scep_rules *rules; /* owned; NULL: no rules */
    char *webhook_url;        /* NULL: no webhook */
    char *webhook_secret;
    size_t webhook_secret_len;
    long webhook_timeout_ms;
    struct scep_profile profile; /* string members point at the copies below */
    char *key_usage, *ext_key_usage, *crl_url, *ocsp_url, *ca_issuers_url;
};

/* Webhook wait when the profile names none. */
#define SVC_WEBHOOK_TIMEOUT_MS 5000L

/* Copies sp into p (cleared on failure).  Returns 0, SCEP_ERR_CONFIG (a
 * challenge longer than a CSR could carry) or SCEP_ERR_NOMEM. */
int svc_profile_init(struct svc_profile *p, const struct scep_service_profile *sp,
                     const char *name);
/* Frees what p holds, wiping the secrets.  Accepts a zeroed p. */
void svc_profile_clear(struct svc_profile *p);
/* The profile called name (NULL or "": the default), or NULL. */
const struct svc_profile *svc_find_profile(const struct scep_service *svc, const char *name);

struct scep_service {
    struct scep_ca *ca;           /* a reference */
    struct scep_store *st;        /* borrowed */
    struct svc_profile *profiles; /* owned; [0] is the default profile */
    size_t nprofiles;
    long crl_next_update;                   /* seconds */
    long ocsp_next_update;                  /* seconds */
    struct scep_ratelimit *challenge_limit; /* borrowed; NULL: none */

    /* GetCRL cache: the last CRL made per issuer, for SVC_CRL_CACHE_SECONDS. */
    struct svc_crl_slot crls[SVC_CRL_CACHE_SLOTS];
    /* /crl cache (status.c): DER per issuer, for SVC_HTTP_CRL_MAX_AGE. */
    struct svc_http_crl_slot http_crls[SVC_CRL_CACHE_SLOTS];
    /* Signed OCSP answers for reuse (lib/admin/ocsp_cache.c); owned. */
    struct scep_ocsp_cache *ocsp_cache;
    /* The CAs' delegated OCSP responders (a reference); NULL: the CAs sign. */
    struct scep_ocsp_signers *ocsp_signers;

    /* replay.c: the signed FAILUREs of recently refused messages, the
     * process's or the service's own. */
    struct scep_replay_memory *replay;

    /* limited.c: when the last "rate-limited" event was written
     * (CLOCK_MONOTONIC seconds, 0: never) and refusals since. */
    time_t limited_audit_at;
    unsigned long limited_since;
};

/* Refused messages a process remembers, and for how long (replay.c). */
#define SVC_REPLAY_ENTRIES 64
#define SVC_REPLAY_SECONDS 60

/* The key of a message at a profile.  Returns 0 or SCEP_ERR_INTERNAL. */
int svc_replay_digest(const char *profile, const unsigned char *msg, size_t len,
                      unsigned char md[32]);
/* 1 when md was refused lately: r holds that answer again (a copy). */
int svc_replay_find(struct scep_service *svc, const unsigned char md[32], struct scep_reply *r);
/* Remembers r when it is a signed FAILURE. */
void svc_replay_keep(struct scep_service *svc, const unsigned char md[32],
                     const struct scep_reply *r, const char *peer);
/* svc uses shared (a reference taken), or a memory of its own when
 * NULL; undone by svc_replay_detach.  Returns 0 or SCEP_ERR_NOMEM. */
int svc_replay_attach(struct scep_service *svc, struct scep_replay_memory *shared);
/* svc stops using its memory; the last service to do so writes what
 * remains to tell to its store, which must still be open. */
void svc_replay_detach(struct scep_service *svc);

/* At most one "rate-limited" audit event per worker this often. */
#define SVC_LIMIT_AUDIT_SECONDS 10

/* Empties the GetCRL cache. */
void svc_crl_cache_clear(struct scep_service *svc);

/* Empties the HTTP CRL cache (status.c). */
void svc_http_crl_cache_clear(struct scep_service *svc);

/*
 * What a request handler decided.  pending set means CertRep PENDING (no
 * content).  Otherwise fail_info -1 means SUCCESS with certs (issued or
 * found certificate first) and/or crls, and anything else a refusal with
 * that failInfo and reason.  Handlers only fill it; svc_outcome_clear
 * frees it.
 */
struct svc_outcome {
    int pending;
    int fail_info;
    char reason[200]; /* failInfoText; leaves room for the failInfo
                         name in scep_reply.reason */
    STACK_OF(X509) *certs;
    STACK_OF(X509_CRL) *crls;
    char serial[64]; /* issued serial, "" if none */
    double issue_seconds;
    long retry_after; /* >0: over a rate limit; answered with HTTP 429, no CertRep */
};

/* Resets o to an empty refusal-free state (fail_info -1, nothing held). */
void svc_outcome_init(struct svc_outcome *o);
/* Frees what o holds and re-initialises it. */
void svc_outcome_clear(struct svc_outcome *o);
/* Marks o as a refusal with fail_info and a printf-style reason.  Returns 0
 * so handlers can "return svc_refuse(...)". */
int svc_refuse(struct svc_outcome *o, int fail_info, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Marks o as SUCCESS carrying cert (a reference is taken), followed by
 * the CA certificate when it issued cert.  Returns 0 or SCEP_ERR_NOMEM. */
int svc_succeed_cert(const struct scep_service *svc, struct svc_outcome *o, X509 *cert);
/* Marks o as PENDING, dropping anything it held.  Returns 0. */
int svc_pend(struct svc_outcome *o);

/* Parses a stored certificate's DER with its length, refusing trailing
 * bytes.  *out: free with X509_free().  Returns 0 or SCEP_ERR_STORE. */
int svc_stored_cert(const struct scep_cert_info *ci, X509 **out);

/* Who asked for a certificate, as recorded with it in the store. */
struct svc_issue_ctx {
    const char *transaction_id;
    const char *requester;          /* peer address of the enrollment */
    const char *peer;               /* peer of this message, for the audit event */
    const char *msg_type;           /* "PKCSReq", "RenewalReq" */
    const char *renewed_serial;     /* renewals: the signer certificate's serial, else NULL */
    int64_t request_id;             /* >0: an APPROVED request, marked ISSUED with the
                                       certificate in the same store transaction */
    const struct svc_profile *prof; /* whose issuance profile applies */
    const char *via;                /* how it was authorised, for the audit event */
    int64_t challenge_id;           /* >0: a one-time challenge the store consumes with it */
};

/*
 * One enrollment (PKCSReq or RenewalReq) between its two steps
 * (enroll.c): what the check found out, for the finish, possibly after
 * a webhook answered in between.  Pointers borrow from m, which outlives
 * the steps.
 */
struct svc_enroll {
    struct scep_msg *m;
    const struct svc_profile *prof;
    X509_REQ *csr;            /* m's */
    X509 *signer;             /* m's */
    const X509_NAME *subject; /* renewals: the signer's subject; NULL: the CSR's */
    int renewal;
    char csr_fp[65];      /* the CSR's public key fingerprint */
    char old_serial[64];  /* renewals: the signer's serial, "" if unusable */
    int64_t challenge_id; /* a one-time challenge to consume, 0: none */
    const char *via;      /* "static", "one-time", "webhook", "renewal", "open" */
    int need_webhook;     /* the profile's webhook must allow it first */
};

/*
 * Issues a certificate for csr (subject NULL: the CSR's) under the
 * service's profile, stores it with an "issue" audit event and fills o
 * with SUCCESS, the serial and the time spent.  A CSR the CA refuses
 * (extensions, names, key) becomes a refusal in o.  When another worker
 * stored a certificate for the same transactionID first, o answers with
 * that one (for the same key; else a refusal).  Returns 0, or
 * SCEP_ERR_* when the CA or the store failed; with request_id set,
 * SCEP_ERR_NOT_FOUND / SCEP_ERR_INVALID_ARG when the request is no longer
 * APPROVED (another worker issued it first).
 */
int svc_issue(struct scep_service *svc, X509_REQ *csr, const X509_NAME *subject,
              const struct svc_issue_ctx *ctx, struct svc_outcome *o);

/*
 * The certificate already issued for m's transactionID, answered again
 * when it is for the key with fingerprint key_fp (else a refusal with
 * mismatch_fail and mismatch_text).  Returns 0 with o filled,
 * SCEP_ERR_NOT_FOUND when nothing was issued for it, or SCEP_ERR_*.
 */
int svc_reissued(struct scep_service *svc, const char *transaction_id, const char *key_fp,
                 int mismatch_fail, const char *mismatch_text, struct svc_outcome *o);

/*
 * Handlers: m is decoded, verified and decrypted.  Each returns 0 with o
 * filled (a success or a refusal), or SCEP_ERR_* on an internal failure
 * (the store or OpenSSL failed), in which case o is left for the caller
 * to clear.  Enrollment runs in two steps (struct svc_enroll):
 * svc_enroll_check then, unless it refused or answered,
 * svc_enroll_finish.
 */
int svc_enroll_check(struct scep_service *svc, struct svc_enroll *a, const char *peer,
                     struct svc_outcome *o);
int svc_enroll_finish(struct scep_service *svc, struct svc_enroll *a, const char *peer,
                      struct svc_outcome *o);
int svc_certpoll(struct scep_service *svc, const struct svc_profile *prof, struct scep_msg *m,
                 const char *peer, struct svc_outcome *o);
int svc_getcert(struct scep_service *svc, struct scep_msg *m, struct svc_outcome *o);
int svc_getcrl(struct scep_service *svc, struct scep_msg *m, struct svc_outcome *o);

/*
 * Manual approval (approval.c).  svc_hold: a new, authorised, non-renewal
 * enrollment whose transactionID has no certificate yet; it answers from
 * the request stored for the transactionID (PENDING, issued once
 * APPROVED, refused once REJECTED, refused for another key) or stores a
 * new PENDING request (consuming a's one-time challenge with it).
 * svc_poll_request: a CertPoll whose transactionID has no certificate;
 * key_fp is the poll signer's key fingerprint; badCertId when no request
 * matches; an APPROVED request is issued under prof.  Both return 0 with
 * o filled or SCEP_ERR_*.
 */
int svc_hold(struct scep_service *svc, const struct svc_enroll *a, const char *peer,
             struct svc_outcome *o);
/*
 * The request part of svc_hold without storing anything: answers a new
 * enrollment from the request stored under its transactionID (any
 * approval setting: a request rejected or still pending stays so after a
 * switch back to automatic).  Returns 0 with o filled, SCEP_ERR_NOT_FOUND
 * when no request is stored under the transactionID, or SCEP_ERR_*.
 */
int svc_held(struct scep_service *svc, const struct svc_profile *prof, struct scep_msg *m,
             const char *peer, const char *csr_fp, struct svc_outcome *o);

/* Longest audit detail the service writes. */
#define SVC_AUDIT_DETAIL 1200

/*
 * The detail of an "issue" or "request-pending" audit event: the
 * subject, then "; profile=NAME via=HOW" and " challenge=ID" for a
 * one-time challenge.  Always NUL-terminated, cut to size.
 */
void svc_audit_detail(char *out, size_t outlen, const char *subject, const struct svc_profile *prof,
                      const char *via, int64_t challenge_id);
int svc_poll_request(struct scep_service *svc, const struct svc_profile *prof, struct scep_msg *m,
                     const char *peer, const char *key_fp, struct svc_outcome *o);

/*
 * Reads the single challengePassword of csr as UTF-8 into buf (size
 * SCEP_MAX_CHALLENGE).  Returns 0, SCEP_ERR_CHALLENGE when absent,
 * repeated, multi-valued, not a DirectoryString or too long.
 */
int svc_csr_challenge(X509_REQ *csr, unsigned char *buf, size_t *len);

/*
 * The challenge step of a new enrollment (authz.c): takes the
 * per-challenge rate limit (o->retry_after set when over it), then,
 * when a's profile needs a challenge, accepts its static challenge or a
 * one-time challenge of the profile (a->challenge_id set, to be consumed
 * when the result is stored; a used-up one that this transactionID
 * consumed is let through to the answer it already has).  Sets a->via.
 * Returns 0 with o refused or untouched, or SCEP_ERR_*.
 */
int svc_authorize_challenge(struct scep_service *svc, struct svc_enroll *a, struct svc_outcome *o);

/*
 * Turns the outcome into the reply: a CertRep signed by the RA/CA echoing
 * m's transactionID and senderNonce (SUCCESS encrypted to m's signer with
 * m's cipher and key transport), and for a refusal one "refuse" audit
 * event.  Fills r (already cleared by the caller, transaction fields set).
 * Returns 0, or SCEP_ERR_* when signing or auditing failed (r untouched
 * beyond what the caller set).
 */
int svc_certrep(struct scep_service *svc, const struct svc_profile *prof, struct scep_msg *m,
                const char *peer, const struct svc_outcome *o, struct scep_reply *r);

/*
 * Turns the decided outcome o of m into r (pkiop.c): a 429 with
 * Retry-After over a rate limit, else the signed CertRep (svc_certrep);
 * r->via is via for a success.  Returns 0 or SCEP_ERR_*.
 */
int svc_reply_outcome(struct scep_service *svc, const struct svc_profile *prof, struct scep_msg *m,
                      const char *peer, const struct svc_outcome *o, const char *via,
                      struct scep_reply *r);
/* Makes r the 500 (503 for an unreachable store) of internal failure rc. */
void svc_reply_fail(struct scep_reply *r, int rc);

/*
 * An enrollment waiting for its profile's webhook (webhook.c): takes
 * a->m (the caller drops its pointer) and builds the signed JSON
 * document.  *out: resume or free it (service.h).  Returns 0 or
 * SCEP_ERR_*; on failure a->m is still the caller's.
 */
int svc_pending_new(struct scep_service *svc, const struct svc_enroll *a, const char *peer,
                    struct scep_pending **out);

/* The OpenSSL digest for a request digest NID we accept (SHA-1, SHA-2
 * family), or NULL when we refuse it. */
const EVP_MD *svc_accepted_md(int nid);
/* The OpenSSL cipher for an envelope cipher NID we accept (DES, 3DES,
 * AES-128/192/256-CBC), or NULL when we refuse it. */
const EVP_CIPHER *svc_accepted_cipher(int nid);

#endif
