/*
 * Enrollment: PKCSReq and RenewalReq (RFC 8894 3.3.1).  Checks the CSR
 * (proof of possession; key, version and names through the CA's
 * scep_ca_check_request), authorises (challenge password, or a
 * signer certificate of this CA for renewals), answers a repeated
 * transactionID with what was already issued, or issues and stores the
 * certificate with its audit event in one transaction (issue.c).  The
 * CertRep is built by the caller only after the store has the
 * certificate.  With manual approval a new enrollment is held as a
 * PENDING request instead (approval.c); renewals are still issued at once.
 *
 * A PKCSReq signed by a valid certificate of this CA is a renewal too:
 * certmonger, Cisco and strongSwan renew that way (scep-interop.md 1.4).
 * Renewals keep the old certificate's subject, and may not bring new
 * subjectAltNames, so a certificate cannot be used to obtain a
 * certificate for another name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <scep/error.h>
#include <scep/message.h>
#include "service/certinfo.h"
#include "service/service_int.h"

/*
 * Is signer a certificate this CA issued, currently valid and not revoked?
 * Returns 0 when it is, SCEP_ERR_RENEWAL (foreign or revoked) or
 * SCEP_ERR_BAD_TIME with why[] set, or an internal SCEP_ERR_*.
 */
static int check_signer(struct scep_service *svc, X509 *signer, char *why, size_t whylen)
{
    struct scep_cert_info *ci = NULL;
    char serial[64];
    int rc;

    rc = scep_ca_check_issued(svc->ca, signer, time(NULL));
    if (rc == SCEP_ERR_BAD_TIME) {
        snprintf(why, whylen, "signer certificate is expired or not yet valid");
        return rc;
    }
    if (rc != 0) {
        snprintf(why, whylen, "signer certificate was not issued by this CA");
        return SCEP_ERR_RENEWAL;
    }
    rc = util_serial_hex(X509_get0_serialNumber(signer), serial, sizeof(serial));
    if (rc != 0) {
        snprintf(why, whylen, "signer certificate serial unusable");
        return SCEP_ERR_RENEWAL;
    }
    rc = scep_store_get_cert(svc->st, serial, &ci);
    if (rc == SCEP_ERR_NOT_FOUND) {
        /* Signed by our key but unknown to this store (issued before the
         * store existed, or the database was restored): the signature is
         * the proof; nothing says it was revoked. */
        return 0;
    }
    if (rc != 0)
        return rc;
    rc = ci->status == SCEP_CERT_REVOKED ? SCEP_ERR_RENEWAL : 0;
    if (rc != 0)
        snprintf(why, whylen, "signer certificate %s is revoked", serial);
    scep_cert_info_free(ci);
    return rc;
}

/*
 * A renewal's CSR may repeat the old certificate's subjectAltNames or
 * leave them out, but not name anything else: the signer certificate
 * only vouches for the names it holds.  The names are compared decoded,
 * one by one and in order (GENERAL_NAME_cmp compares types and values,
 * otherName values included), never as the store's text form: that text
 * masks unprintable bytes and ',' as '?' and shows an otherName by its
 * OID alone, so two different names can print alike.
 */
static int check_renewal_sans(X509 *old, X509_REQ *csr, char *why, size_t whylen)
{
    STACK_OF(X509_EXTENSION) *exts = NULL;
    GENERAL_NAMES *want = NULL, *got = NULL;
    int crit = -1, i, n, rc = SCEP_ERR_POLICY;

    /* X509_REQ_get_extensions returns a new stack, NULL or empty when the
     * CSR asks for none. */
    exts = X509_REQ_get_extensions(csr);
    /* X509V3_get_d2i: NULL with crit -1 when absent, -2 when repeated,
     * and NULL with crit >= 0 when the extension does not decode. */
    got = X509V3_get_d2i(exts, NID_subject_alt_name, &crit, NULL);
    if (got == NULL) {
        if (crit == -1) {
            rc = 0;
            goto out;
        }
        snprintf(why, whylen, "CSR subjectAltName unreadable or repeated");
        goto out;
    }
    n = sk_GENERAL_NAME_num(got);
    if (n == 0) {
        rc = 0; /* an empty list names nothing; the CA refuses it anyway */
        goto out;
    }
    crit = -1;
    want = X509_get_ext_d2i(old, NID_subject_alt_name, &crit, NULL);
    if (want == NULL || sk_GENERAL_NAME_num(want) != n) {
        snprintf(why, whylen, "renewal may not change subjectAltName");
        goto out;
    }
    for (i = 0; i < n; i++) {
        /* GENERAL_NAME_cmp: 0 when equal, else -1 (it is not an order). */
        GENERAL_NAME *a = sk_GENERAL_NAME_value(want, i), *b = sk_GENERAL_NAME_value(got, i);

        if (GENERAL_NAME_cmp(a, b) != 0) {
            snprintf(why, whylen, "renewal may not change subjectAltName");
            goto out;
        }
    }
    rc = 0;
out:
    GENERAL_NAMES_free(want);
    GENERAL_NAMES_free(got);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return rc;
}

/*
 * PKCSReq and RenewalReq, in this order: CSR proof of possession;
 * renewal signer; what the CSR asks for (scep_ca_check_request: key,
 * version, names); the challenge for a new enrollment; a repeated
 * transactionID; with manual approval a new enrollment is held
 * (approval.c); else issue + store.  Returns 0 with o holding the certificate
 * or the refusal, or SCEP_ERR_* when the CA or the store failed.
 */
int svc_enroll(struct scep_service *svc, struct scep_msg *m, const char *peer,
               struct svc_outcome *o)
{
    X509_REQ *csr = scep_msg_get0_csr(m);
    X509 *signer = scep_msg_get0_signer_cert(m);
    struct svc_issue_ctx ctx;
    EVP_PKEY *pkey;
    const X509_NAME *subject = NULL;
    char why[200], csr_fp[65], old_serial[64];
    const char *renewed = NULL;
    int is_renewal_req = scep_msg_type(m) == SCEP_MSG_RENEWALREQ;
    int renewal = 0, rc;

    if (csr == NULL || signer == NULL)
        return svc_refuse(o, SCEP_FAIL_BAD_REQUEST, "no certification request in the message");
    if (is_renewal_req && !svc->allow_renewal)
        return svc_refuse(o, SCEP_FAIL_BAD_REQUEST, "renewal is disabled on this server");

    /* Proof of possession: the CSR is signed by its own key (PKCS#10). */
    pkey = X509_REQ_get0_pubkey(csr);
    if (pkey == NULL || X509_REQ_verify(csr, pkey) != 1)
        return svc_refuse(o, SCEP_FAIL_BAD_MESSAGE_CHECK, "%s", scep_strerror(SCEP_ERR_POP));
    rc = scep_pubkey_fingerprint(pkey, csr_fp);
    if (rc != 0)
        return rc;

    /* With renewal switched off a PKCSReq signed by one of our
     * certificates is a new enrollment like any other: the challenge
     * (and manual approval) apply to it, or "renewal = false" would
     * only close the RenewalReq door. */
    rc = svc->allow_renewal ? check_signer(svc, signer, why, sizeof(why)) : SCEP_ERR_RENEWAL;
    if (rc == 0) {
        renewal = 1;
    } else if (is_renewal_req) {
        if (rc == SCEP_ERR_BAD_TIME)
            return svc_refuse(o, SCEP_FAIL_BAD_TIME, "%s", why);
        if (rc == SCEP_ERR_RENEWAL)
            return svc_refuse(o, SCEP_FAIL_BAD_REQUEST, "%s", why);
        return rc;
    } else if (rc != SCEP_ERR_RENEWAL && rc != SCEP_ERR_BAD_TIME) {
        return rc; /* the store failed */
    }

    if (renewal) {
        rc = check_renewal_sans(signer, csr, why, sizeof(why));
        if (rc != 0)
            return svc_refuse(o, SCEP_FAIL_BAD_REQUEST, "%s", why);
        subject = X509_get_subject_name(signer);
        if (util_serial_hex(X509_get0_serialNumber(signer), old_serial, sizeof(old_serial)) == 0)
            renewed = old_serial;
    }
    /* What the CSR asks us to certify (key, version, names; lib/ca),
     * under the subject the certificate will carry.  The CA checks it
     * again when it signs; here it is refused with the rule it broke,
     * and before a request is held for approval. */
    rc = scep_ca_check_request(svc->ca, csr, subject, &svc->profile, why, sizeof(why));
    if (rc == SCEP_ERR_KEY || rc == SCEP_ERR_CSR || rc == SCEP_ERR_POLICY)
        return svc_refuse(o, (int)scep_err_fail_info(rc), "%s", why);
    if (rc != 0)
        return rc;
    if (!renewal) {
        rc = svc_check_challenge(svc, csr);
        if (rc == SCEP_ERR_CHALLENGE)
            return svc_refuse(o, SCEP_FAIL_BAD_REQUEST, "%s", scep_strerror(rc));
        if (rc != 0)
            return rc;
    }

    /* A repeated transactionID gets what it already got (only once the
     * repeat is authorised like the first request was). */
    rc = svc_reissued(svc, scep_msg_get0_transaction_id(m), csr_fp, SCEP_FAIL_BAD_REQUEST,
                      scep_strerror(SCEP_ERR_TRANSID_REUSE), o);
    if (rc != SCEP_ERR_NOT_FOUND)
        return rc;
    svc_outcome_clear(o);

    /* A renewal is issued at once even under manual approval: it proves
     * possession of a valid certificate of this CA, which an administrator
     * already approved once. */
    if (svc->manual_approval && !renewal)
        return svc_hold(svc, m, peer, csr, csr_fp, o);
    /* Approval switched back to automatic: a request stored meanwhile
     * is still answered from its state, as CertPoll answers it, so that
     * resending the PKCSReq does not override a rejection or skip a
     * pending decision. */
    if (!renewal) {
        rc = svc_held(svc, m, peer, csr_fp, o);
        if (rc != SCEP_ERR_NOT_FOUND)
            return rc;
        svc_outcome_clear(o);
    }

    memset(&ctx, 0, sizeof(ctx));
    ctx.transaction_id = scep_msg_get0_transaction_id(m);
    ctx.requester = peer;
    ctx.peer = peer;
    ctx.msg_type = scep_msg_type_name(scep_msg_type(m));
    ctx.renewed_serial = renewed;
    return svc_issue(svc, csr, subject, &ctx, o);
}
