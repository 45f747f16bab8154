/*
 * Manual approval (scepd.conf "approval = manual"): a new enrollment that
 * passed every check is not issued but stored as a PENDING request and
 * answered with CertRep PENDING (RFC 8894 3.3.2).  An administrator
 * approves or rejects it with scepctl, which only changes the request's
 * status in the store; the certificate is made here, when the client next
 * asks: a CertPoll on the same transactionID (RFC 8894 3.3.3) or the same
 * PKCSReq sent again (micromdm resends its PKCSReq instead of polling).
 *
 * The request is matched on its transactionID and its public key, never
 * on the poll's IssuerAndSubject.  An approved request is issued from the
 * CSR stored when it arrived, not from whatever a later message carries,
 * so what the administrator looked at is what gets certified; the
 * certificate and the request's ISSUED mark go into the store in one
 * transaction (issue.c), so two workers answering two polls at once cannot
 * both issue.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include <scep/error.h>
#include <scep/limits.h>
#include <scep/message.h>
#include "admin/certinfo.h"
#include "service/service_int.h"

/*
 * Parses the CSR stored with ri (our own bytes, still decoded with an
 * explicit length and no trailing bytes) and checks that its key is the
 * one the request was matched on.  *out: free with X509_REQ_free().
 * Returns 0 or SCEP_ERR_STORE.
 */
static int stored_csr(const struct scep_request_info *ri, X509_REQ **out)
{
    const unsigned char *p = ri->csr_der;
    X509_REQ *csr = NULL;
    char fp[65];
    int rc = SCEP_ERR_STORE;

    if (p == NULL || ri->csr_len == 0 || ri->csr_len > SCEP_MAX_MESSAGE || ri->pubkey_fp == NULL)
        goto out;
    csr = d2i_X509_REQ(NULL, &p, (long)ri->csr_len);
    if (csr == NULL || p != ri->csr_der + ri->csr_len)
        goto out;
    if (scep_pubkey_fingerprint(X509_REQ_get0_pubkey(csr), fp) != 0 ||
        strcmp(fp, ri->pubkey_fp) != 0)
        goto out;
    *out = csr;
    csr = NULL;
    rc = 0;
out:
    X509_REQ_free(csr);
    return rc;
}

/*
 * Issues an APPROVED request now.  When another worker issued it between
 * our read and our write, the store refuses (the request is no longer
 * APPROVED) and the certificate that worker stored is the answer.
 */
static int issue_approved(struct scep_service *svc, const struct svc_profile *prof,
                          const char *peer, const struct scep_request_info *ri,
                          struct svc_outcome *o)
{
    struct svc_issue_ctx ctx;
    X509_REQ *csr = NULL;
    int rc;

    rc = stored_csr(ri, &csr);
    if (rc != 0)
        goto out;
    memset(&ctx, 0, sizeof(ctx));
    ctx.transaction_id = ri->transaction_id;
    ctx.requester = ri->requester;
    ctx.peer = peer;
    ctx.msg_type = ri->msg_type != NULL ? ri->msg_type : "PKCSReq";
    ctx.request_id = ri->id;
    ctx.prof = prof;
    /* Its one-time challenge was consumed when the request was stored;
     * the store copies the request's challenge onto the certificate. */
    ctx.via = "approved";
    /* subject NULL: the CSR's own, as for any new enrollment. */
    rc = svc_issue(svc, csr, NULL, &ctx, o);
    if (rc == SCEP_ERR_NOT_FOUND || rc == SCEP_ERR_INVALID_ARG) {
        svc_outcome_clear(o);
        rc = svc_reissued(svc, ri->transaction_id, ri->pubkey_fp, SCEP_FAIL_BAD_REQUEST,
                          scep_strerror(SCEP_ERR_TRANSID_REUSE), o);
        if (rc == SCEP_ERR_NOT_FOUND)
            rc = SCEP_ERR_STORE; /* neither approved nor issued: the store is inconsistent */
    }
out:
    X509_REQ_free(csr);
    return rc;
}

/* Answers from a request already matched on transactionID and key. */
static int answer(struct scep_service *svc, const struct svc_profile *prof, const char *peer,
                  const struct scep_request_info *ri, struct svc_outcome *o)
{
    int rc;

    switch (ri->status) {
    case SCEP_REQ_PENDING:
        return svc_pend(o);
    case SCEP_REQ_APPROVED:
        return issue_approved(svc, prof, peer, ri, o);
    case SCEP_REQ_REJECTED:
        if (ri->reason != NULL && ri->reason[0] != '\0')
            return svc_refuse(o, SCEP_FAIL_BAD_REQUEST, "rejected by an administrator: %s",
                              ri->reason);
        return svc_refuse(o, SCEP_FAIL_BAD_REQUEST, "rejected by an administrator");
    case SCEP_REQ_ISSUED:
        /* The caller looked for a certificate first; one stored since
         * then (by another worker) is found now. */
        rc = svc_reissued(svc, ri->transaction_id, ri->pubkey_fp, SCEP_FAIL_BAD_REQUEST,
                          scep_strerror(SCEP_ERR_TRANSID_REUSE), o);
        return rc == SCEP_ERR_NOT_FOUND ? SCEP_ERR_STORE : rc;
    default:
        return SCEP_ERR_STORE;
    }
}

/*
 * Stores csr as a new PENDING request with its "request-pending" audit
 * event.  Returns 0, SCEP_ERR_EXISTS when a request with the
 * transactionID appeared meanwhile, SCEP_ERR_TOO_LARGE when the subject
 * or names exceed our limits, or SCEP_ERR_*.
 */
static int store_request(struct scep_service *svc, const struct svc_enroll *a, const char *peer)
{
    struct scep_msg *m = a->m;
    X509_REQ *csr = a->csr;
    char detail[SVC_AUDIT_DETAIL];
    struct scep_request_info ri;
    struct scep_audit_event ev;
    STACK_OF(X509_EXTENSION) *exts = NULL;
    X509_REQ *bare = NULL;
    unsigned char *der = NULL;
    char *subject = NULL, *sans = NULL;
    int der_len, idx, rc;

    rc = scep_name_rfc2253(X509_REQ_get_subject_name(csr), &subject);
    if (rc != 0)
        goto out;
    /* X509_REQ_get_extensions returns a new stack (NULL when there are
     * none), unlike the get0 accessors of certificates. */
    exts = X509_REQ_get_extensions(csr);
    rc = scep_sans_text(exts, &sans);
    if (rc != 0)
        goto out;
    /* The challenge password must not wait in the database for as long
     * as the request does.  Approval needs the CSR's subject, public key
     * and requested extensions only (svc_issue does not verify the CSR's
     * signature again: it was verified here, on arrival), so what is
     * stored is a copy with every challengePassword attribute removed.
     * Its signature no longer verifies, and nothing checks it.  i2d with
     * a NULL-initialised pointer allocates the output (OPENSSL_free). */
    rc = SCEP_ERR_NOMEM;
    if ((bare = X509_REQ_dup(csr)) == NULL)
        goto out;
    while ((idx = X509_REQ_get_attr_by_NID(bare, NID_pkcs9_challengePassword, -1)) >= 0)
        X509_ATTRIBUTE_free(X509_REQ_delete_attr(bare, idx));
    der_len = i2d_X509_REQ(bare, &der);
    if (der_len <= 0) {
        rc = SCEP_ERR_INTERNAL;
        goto out;
    }

    memset(&ri, 0, sizeof(ri));
    ri.transaction_id = (char *)scep_msg_get0_transaction_id(m);
    ri.subject = subject;
    ri.sans = sans;
    ri.pubkey_fp = (char *)a->csr_fp;
    ri.challenge_id = a->challenge_id;
    ri.profile = a->prof->name;
    ri.msg_type = (char *)scep_msg_type_name(scep_msg_type(m));
    ri.requester = (char *)peer;
    ri.created_at = (int64_t)time(NULL);
    ri.status = SCEP_REQ_PENDING;
    ri.csr_der = der;
    ri.csr_len = (size_t)der_len;

    memset(&ev, 0, sizeof(ev));
    ev.kind = "request-pending";
    ev.actor = "scepd";
    ev.transaction_id = ri.transaction_id;
    ev.peer = peer;
    svc_audit_detail(detail, sizeof(detail), subject, a->prof, a->via, a->challenge_id);
    ev.detail = detail;
    rc = scep_store_add_request(svc->st, &ri, &ev, NULL);
out:
    OPENSSL_free(der);
    X509_REQ_free(bare);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    free(subject);
    free(sans);
    return rc;
}

/*
 * Answers from the request stored under m's transactionID, if any (see
 * service_int.h): a request of another key is a refusal; otherwise its
 * state decides.  Returns 0 with o filled, SCEP_ERR_NOT_FOUND when no
 * request is stored under the transactionID, or SCEP_ERR_*.
 */
int svc_held(struct scep_service *svc, const struct svc_profile *prof, struct scep_msg *m,
             const char *peer, const char *csr_fp, struct svc_outcome *o)
{
    struct scep_request_info *ri = NULL;
    int rc;

    rc = scep_store_get_request_by_transaction(svc->st, scep_msg_get0_transaction_id(m), &ri);
    if (rc != 0)
        return rc;
    if (ri->pubkey_fp == NULL || strcmp(ri->pubkey_fp, csr_fp) != 0) {
        rc = svc_refuse(o, SCEP_FAIL_BAD_REQUEST, "%s", scep_strerror(SCEP_ERR_TRANSID_REUSE));
        goto out;
    }
    rc = answer(svc, prof, peer, ri, o);
out:
    scep_request_info_free(ri);
    return rc;
}

/*
 * A new, authorised enrollment under manual approval whose transactionID
 * has no certificate (see service_int.h).  Returns 0 with o filled or
 * SCEP_ERR_*.
 */
int svc_hold(struct scep_service *svc, const struct svc_enroll *a, const char *peer,
             struct svc_outcome *o)
{
    int rc;

    rc = svc_held(svc, a->prof, a->m, peer, a->csr_fp, o);
    if (rc != SCEP_ERR_NOT_FOUND)
        return rc;
    rc = store_request(svc, a, peer);
    if (rc == 0)
        return svc_pend(o);
    if (rc == SCEP_ERR_TOO_LARGE)
        return svc_refuse(o, SCEP_FAIL_BAD_REQUEST, "%s", scep_strerror(rc));
    if (rc == SCEP_ERR_CHALLENGE)
        return svc_refuse(o, SCEP_FAIL_BAD_REQUEST, "one-time challenge already used");
    if (rc != SCEP_ERR_EXISTS)
        return rc;
    /* The same request arrived twice at once (a client retrying on
     * another connection): answer from the one that won. */
    rc = svc_held(svc, a->prof, a->m, peer, a->csr_fp, o);
    return rc == SCEP_ERR_NOT_FOUND ? SCEP_ERR_STORE : rc;
}

/*
 * A CertPoll whose transactionID has no certificate (see service_int.h):
 * the request held under it, if the poll is signed with the request's key.
 * Returns 0 with o filled or SCEP_ERR_*.
 */
int svc_poll_request(struct scep_service *svc, const struct svc_profile *prof, struct scep_msg *m,
                     const char *peer, const char *key_fp, struct svc_outcome *o)
{
    struct scep_request_info *ri = NULL;
    int rc;

    rc = scep_store_get_request_by_transaction(svc->st, scep_msg_get0_transaction_id(m), &ri);
    if (rc == SCEP_ERR_NOT_FOUND)
        return svc_refuse(o, SCEP_FAIL_BAD_CERT_ID, "no request with this transactionID");
    if (rc != 0)
        return rc;
    /* RFC 8894 3.3.3: only the requester may collect; another key learns
     * nothing about the request, not even that it exists. */
    if (ri->pubkey_fp == NULL || strcmp(ri->pubkey_fp, key_fp) != 0) {
        rc = svc_refuse(o, SCEP_FAIL_BAD_CERT_ID,
                        "no request with this transactionID for the signer's key");
        goto out;
    }
    rc = answer(svc, prof, peer, ri, o);
out:
    scep_request_info_free(ri);
    return rc;
}
