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
 * certificate for another name; a profile may allow them only close to
 * the old certificate's expiry (renewal_window_days).
 *
 * Everything happens in two steps so that a profile's webhook can be
 * asked in between without holding the thread: svc_enroll_check decides
 * all it can alone, svc_enroll_finish holds or issues (pkiop.c and
 * webhook.c run the steps).
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
#include "policy/rules.h"
#include "admin/certinfo.h"
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
 * The renewal window of a's profile: 0 when the signer certificate is
 * close enough to its expiry (or the profile has no window), else
 * SCEP_ERR_POLICY with why set.
 */
static int check_window(const struct svc_enroll *a, char *why, size_t whylen)
{
    int days = 0, secs = 0, window = a->prof->renewal_window_days;

    if (window <= 0)
        return 0;
    /* ASN1_TIME_diff from now (NULL) to notAfter: days and seconds left. */
    if (!ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(a->signer))) {
        snprintf(why, whylen, "signer certificate notAfter unreadable");
        return SCEP_ERR_POLICY;
    }
    if ((long)days * 86400L + secs <= (long)window * 86400L)
        return 0;
    snprintf(why, whylen,
             "profile %s: renewal only within %d days of expiry; the certificate expires in %d "
             "days (renewal_window_days)",
             a->prof->name[0] != '\0' ? a->prof->name : "default", window, days);
    return SCEP_ERR_POLICY;
}

/*
 * The renewal part of the check: whether a is a renewal (a RenewalReq
 * must be; a PKCSReq signed by a valid certificate of ours is one), and
 * its rules.  Returns 0 with a->renewal set or o refused, or SCEP_ERR_*.
 */
static int check_renewal(struct scep_service *svc, struct svc_enroll *a, struct svc_outcome *o)
{
    int is_renewal_req = scep_msg_type(a->m) == SCEP_MSG_RENEWALREQ;
    char why[256];
    int rc;

    if (is_renewal_req && !a->prof->allow_renewal)
        return svc_refuse(o, SCEP_FAIL_BAD_REQUEST, "renewal is disabled on this %s",
                          a->prof->name[0] != '\0' ? "profile" : "server");
    /* With renewal switched off a PKCSReq signed by one of our
     * certificates is a new enrollment like any other: the challenge
     * (and manual approval) apply to it, or "renewal = false" would
     * only close the RenewalReq door. */
    rc = a->prof->allow_renewal ? check_signer(svc, a->signer, why, sizeof(why)) : SCEP_ERR_RENEWAL;
    if (rc == 0)
        rc = check_window(a, why, sizeof(why));
    if (rc == 0) {
        a->renewal = 1;
    } else if (is_renewal_req) {
        if (rc == SCEP_ERR_BAD_TIME)
            return svc_refuse(o, SCEP_FAIL_BAD_TIME, "%s", why);
        if (rc == SCEP_ERR_RENEWAL || rc == SCEP_ERR_POLICY)
            return svc_refuse(o, SCEP_FAIL_BAD_REQUEST, "%s", why);
        return rc;
    } else if (rc != SCEP_ERR_RENEWAL && rc != SCEP_ERR_BAD_TIME && rc != SCEP_ERR_POLICY) {
        return rc; /* the store failed */
    }
    if (!a->renewal)
        return 0;
    rc = check_renewal_sans(a->signer, a->csr, why, sizeof(why));
    if (rc != 0)
        return svc_refuse(o, SCEP_FAIL_BAD_REQUEST, "%s", why);
    a->subject = X509_get_subject_name(a->signer);
    if (util_serial_hex(X509_get0_serialNumber(a->signer), a->old_serial, sizeof(a->old_serial)) !=
        0)
        a->old_serial[0] = '\0';
    a->via = "renewal";
    return 0;
}

/*
 * PKCSReq and RenewalReq, in this order: CSR proof of possession;
 * renewal signer and window; what the CSR asks for (the CA's
 * scep_ca_check_request: key, version, names; then the profile's
 * rules); the challenge of a new enrollment; a repeated transactionID
 * (answered with what it got, before anyone is asked again: the CSR
 * proves possession of the key that certificate is for); a request held
 * under it.  Returns 0 with o decided, or with o undecided and
 * a->need_webhook set; SCEP_ERR_* when the CA or the store failed.
 */
int svc_enroll_check(struct scep_service *svc, struct svc_enroll *a, const char *peer,
                     struct svc_outcome *o)
{
    EVP_PKEY *pkey;
    char why[256];
    int rc;

    a->csr = scep_msg_get0_csr(a->m);
    a->signer = scep_msg_get0_signer_cert(a->m);
    if (a->csr == NULL || a->signer == NULL)
        return svc_refuse(o, SCEP_FAIL_BAD_REQUEST, "no certification request in the message");

    /* Proof of possession: the CSR is signed by its own key (PKCS#10). */
    pkey = X509_REQ_get0_pubkey(a->csr);
    if (pkey == NULL || X509_REQ_verify(a->csr, pkey) != 1)
        return svc_refuse(o, SCEP_FAIL_BAD_MESSAGE_CHECK, "%s", scep_strerror(SCEP_ERR_POP));
    rc = scep_pubkey_fingerprint(pkey, a->csr_fp);
    if (rc != 0)
        return rc;

    rc = check_renewal(svc, a, o);
    if (rc != 0 || o->fail_info >= 0)
        return rc;
    /* What the CSR asks us to certify (key, version, names; lib/ca),
     * under the subject the certificate will carry.  The CA checks it
     * again when it signs; here it is refused with the rule it broke,
     * and before a request is held for approval. */
    rc = scep_ca_check_request(svc->ca, a->csr, a->subject, &a->prof->profile, why, sizeof(why));
    if (rc == SCEP_ERR_KEY || rc == SCEP_ERR_CSR || rc == SCEP_ERR_POLICY)
        return svc_refuse(o, (int)scep_err_fail_info(rc), "%s", why);
    if (rc != 0)
        return rc;
    if (a->prof->rules != NULL) {
        rc = scep_rules_check(a->prof->rules, a->prof->name, a->csr, a->subject, why, sizeof(why));
        if (rc == SCEP_ERR_KEY || rc == SCEP_ERR_CSR || rc == SCEP_ERR_POLICY)
            return svc_refuse(o, SCEP_FAIL_BAD_REQUEST, "%s", why);
        if (rc != 0)
            return rc;
    }
    if (!a->renewal) {
        rc = svc_authorize_challenge(svc, a, o);
        if (rc != 0 || o->fail_info >= 0 || o->retry_after > 0)
            return rc;
    }

    /* A repeated transactionID gets what it already got (only once the
     * repeat is authorised like the first request was). */
    rc = svc_reissued(svc, scep_msg_get0_transaction_id(a->m), a->csr_fp, SCEP_FAIL_BAD_REQUEST,
                      scep_strerror(SCEP_ERR_TRANSID_REUSE), o);
    if (rc != SCEP_ERR_NOT_FOUND)
        return rc;
    svc_outcome_clear(o);
    /* A request stored under the transactionID (manual approval, now or
     * before a switch back to automatic) is answered from its state, as
     * CertPoll answers it, so that resending the PKCSReq does not
     * override a rejection or skip a pending decision.  A renewal is
     * never held: it proves possession of a valid certificate of this
     * CA, which an administrator already approved once. */
    if (!a->renewal) {
        rc = svc_held(svc, a->prof, a->m, peer, a->csr_fp, o);
        if (rc != SCEP_ERR_NOT_FOUND)
            return rc;
        svc_outcome_clear(o);
    }
    if (!a->renewal && a->prof->webhook_url != NULL)
        a->need_webhook = 1;
    return 0;
}

/*
 * The second step: a new enrollment under manual approval is held as a
 * PENDING request (approval.c); anything else is issued and stored
 * (issue.c).  A one-time challenge is consumed by the same store
 * transaction.  Returns 0 with o filled or SCEP_ERR_*.
 */
int svc_enroll_finish(struct scep_service *svc, struct svc_enroll *a, const char *peer,
                      struct svc_outcome *o)
{
    struct svc_issue_ctx ctx;

    if (a->prof->manual_approval && !a->renewal)
        return svc_hold(svc, a, peer, o);
    memset(&ctx, 0, sizeof(ctx));
    ctx.transaction_id = scep_msg_get0_transaction_id(a->m);
    ctx.requester = peer;
    ctx.peer = peer;
    ctx.msg_type = scep_msg_type_name(scep_msg_type(a->m));
    ctx.renewed_serial = a->renewal && a->old_serial[0] != '\0' ? a->old_serial : NULL;
    ctx.prof = a->prof;
    ctx.via = a->via;
    ctx.challenge_id = a->challenge_id;
    return svc_issue(svc, a->csr, a->subject, &ctx, o);
}
