/*
 * Enrollment: PKCSReq and RenewalReq (RFC 8894 3.3.1).  Checks the CSR
 * (proof of possession, key policy), authorises (challenge password, or a
 * signer certificate of this CA for renewals), answers a repeated
 * transactionID with what was already issued, or issues and stores the
 * certificate with its audit event in one transaction.  The CertRep is
 * built by the caller only after the store has the certificate.
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

#include <scep/error.h>
#include <scep/message.h>
#include "service/certinfo.h"
#include "service/service_int.h"

static double mono_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

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
    rc = scep_serial_hex(X509_get0_serialNumber(signer), serial, sizeof(serial));
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
 * only vouches for the names it holds.
 */
static int check_renewal_sans(X509 *old, X509_REQ *csr, char *why, size_t whylen)
{
    STACK_OF(X509_EXTENSION) *exts = NULL;
    char *want = NULL, *got = NULL;
    int rc;

    exts = X509_REQ_get_extensions(csr);
    rc = scep_sans_text(exts, &got);
    if (rc != 0) {
        snprintf(why, whylen, "CSR subjectAltName unreadable: %s", scep_strerror(rc));
        rc = SCEP_ERR_POLICY;
        goto out;
    }
    if (got == NULL) {
        rc = 0;
        goto out;
    }
    rc = scep_sans_text(X509_get0_extensions(old), &want);
    if (rc != 0)
        goto out;
    if (want == NULL || strcmp(want, got) != 0) {
        snprintf(why, whylen, "renewal may not change subjectAltName");
        rc = SCEP_ERR_POLICY;
        goto out;
    }
    rc = 0;
out:
    free(want);
    free(got);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return rc;
}

/*
 * Issues cert for csr and stores it with an "issue" audit event.
 * Retries with a fresh serial when the store already holds one.  On
 * success *out (free with X509_free()) and serial_hex are set.
 */
static int issue_and_store(struct scep_service *svc, struct scep_msg *m, const char *peer,
                           X509_REQ *csr, const X509_NAME *subject, const char *renewed_serial,
                           X509 **out, char *serial_hex, size_t serial_hex_len)
{
    struct scep_cert_info ci;
    struct scep_audit_event ev;
    unsigned char serial[16];
    char ca_fp[65];
    X509 *cert = NULL;
    int attempt, rc;

    memset(&ci, 0, sizeof(ci));
    rc = scep_cert_fingerprint(scep_ca_get0_cert(svc->ca), ca_fp);
    if (rc != 0)
        goto out;
    for (attempt = 0; attempt < SVC_ISSUE_ATTEMPTS; attempt++) {
        X509_free(cert);
        cert = NULL;
        scep_certinfo_clear(&ci);
        rc = scep_ca_random_serial(serial);
        if (rc != 0)
            goto out;
        rc = scep_ca_issue(svc->ca, csr, subject, &svc->profile, serial, sizeof(serial), &cert);
        if (rc != 0)
            goto out;
        rc = scep_certinfo_from_x509(cert, ca_fp, &ci);
        if (rc != 0)
            goto out;
        ci.issued_at = (int64_t)time(NULL);
        ci.transaction_id = (char *)scep_msg_get0_transaction_id(m); /* borrowed on input */
        ci.requester = (char *)peer;
        ci.msg_type = (char *)scep_msg_type_name(scep_msg_type(m));
        ci.renewed_serial = (char *)renewed_serial;

        memset(&ev, 0, sizeof(ev));
        ev.kind = "issue";
        ev.actor = "scepd";
        ev.transaction_id = ci.transaction_id;
        ev.peer = peer;
        ev.serial = ci.serial;
        ev.detail = ci.subject;
        rc = scep_store_insert_cert(svc->st, &ci, &ev);
        /* The input fields were borrowed: drop them before clearing. */
        ci.transaction_id = ci.requester = ci.msg_type = ci.renewed_serial = NULL;
        if (rc != SCEP_ERR_EXISTS)
            break;
    }
    if (rc != 0)
        goto out;
    snprintf(serial_hex, serial_hex_len, "%s", ci.serial);
    *out = cert;
    cert = NULL;
out:
    ci.transaction_id = ci.requester = ci.msg_type = ci.renewed_serial = NULL;
    scep_certinfo_clear(&ci);
    X509_free(cert);
    return rc;
}

/*
 * The same transactionID again (micromdm resends every 30 s; RFC 8894 5.2):
 * the certificate already issued for it when the key is the same.
 * Returns 0 with o filled when answered, SCEP_ERR_NOT_FOUND to proceed.
 */
static int repeated(struct scep_service *svc, struct scep_msg *m, const char *csr_fp,
                    struct svc_outcome *o)
{
    struct scep_cert_info *ci = NULL;
    const unsigned char *p;
    X509 *cert = NULL;
    int rc;

    rc = scep_store_get_cert_by_transaction(svc->st, scep_msg_get0_transaction_id(m), &ci);
    if (rc != 0)
        return rc;
    if (ci->pubkey_fp == NULL || strcmp(ci->pubkey_fp, csr_fp) != 0) {
        rc = svc_refuse(o, SCEP_FAIL_BAD_REQUEST, "%s", scep_strerror(SCEP_ERR_TRANSID_REUSE));
        goto out;
    }
    p = ci->der;
    cert = d2i_X509(NULL, &p, (long)ci->der_len);
    if (cert == NULL || p != ci->der + ci->der_len) {
        rc = SCEP_ERR_STORE; /* our own record does not parse */
        goto out;
    }
    rc = svc_succeed_cert(svc, o, cert);
    if (rc != 0)
        goto out;
    snprintf(o->serial, sizeof(o->serial), "%s", ci->serial);
out:
    X509_free(cert);
    scep_cert_info_free(ci);
    return rc;
}

/*
 * PKCSReq and RenewalReq, in this order: CSR proof of possession and key
 * policy; authorisation (renewal signer or challenge); a repeated
 * transactionID; issue + store.  Returns 0 with o holding the certificate
 * or the refusal, or SCEP_ERR_* when the CA or the store failed.
 */
int svc_enroll(struct scep_service *svc, struct scep_msg *m, const char *peer,
               struct svc_outcome *o)
{
    X509_REQ *csr = scep_msg_get0_csr(m);
    X509 *signer = scep_msg_get0_signer_cert(m);
    X509 *cert = NULL;
    EVP_PKEY *pkey;
    const X509_NAME *subject = NULL;
    char why[200], csr_fp[65], old_serial[64];
    const char *renewed = NULL;
    int is_renewal_req = scep_msg_type(m) == SCEP_MSG_RENEWALREQ;
    int renewal = 0, rc;
    double t0;

    if (csr == NULL || signer == NULL)
        return svc_refuse(o, SCEP_FAIL_BAD_REQUEST, "no certification request in the message");
    if (is_renewal_req && !svc->allow_renewal)
        return svc_refuse(o, SCEP_FAIL_BAD_REQUEST, "renewal is disabled on this server");

    /* Proof of possession: the CSR is signed by its own key (PKCS#10). */
    pkey = X509_REQ_get0_pubkey(csr);
    if (pkey == NULL || X509_REQ_verify(csr, pkey) != 1)
        return svc_refuse(o, SCEP_FAIL_BAD_MESSAGE_CHECK, "%s", scep_strerror(SCEP_ERR_POP));
    if (svc_check_key(pkey, why, sizeof(why)) != 0)
        return svc_refuse(o, SCEP_FAIL_BAD_ALG, "%s", why);
    rc = scep_pubkey_fingerprint(pkey, csr_fp);
    if (rc != 0)
        return rc;

    rc = check_signer(svc, signer, why, sizeof(why));
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
        if (rc == SCEP_ERR_POLICY)
            return svc_refuse(o, SCEP_FAIL_BAD_REQUEST, "%s", why);
        if (rc != 0)
            return rc;
        subject = X509_get_subject_name(signer);
        if (scep_serial_hex(X509_get0_serialNumber(signer), old_serial, sizeof(old_serial)) == 0)
            renewed = old_serial;
    } else {
        rc = svc_check_challenge(svc, csr);
        if (rc == SCEP_ERR_CHALLENGE)
            return svc_refuse(o, SCEP_FAIL_BAD_REQUEST, "%s", scep_strerror(rc));
        if (rc != 0)
            return rc;
    }

    /* A repeated transactionID gets what it already got (only once the
     * repeat is authorised like the first request was). */
    rc = repeated(svc, m, csr_fp, o);
    if (rc != SCEP_ERR_NOT_FOUND)
        return rc;
    svc_outcome_clear(o);

    t0 = mono_now();
    rc = issue_and_store(svc, m, peer, csr, subject, renewed, &cert, o->serial, sizeof(o->serial));
    if (rc == SCEP_ERR_POLICY || rc == SCEP_ERR_CSR || rc == SCEP_ERR_KEY) {
        /* The CA refused what the CSR asks for (extensions, names). */
        rc = svc_refuse(o, (int)scep_err_fail_info(rc), "%s", scep_strerror(rc));
        goto out;
    }
    if (rc != 0)
        goto out;
    o->issue_seconds = mono_now() - t0;
    rc = svc_succeed_cert(svc, o, cert);
out:
    X509_free(cert);
    return rc;
}
