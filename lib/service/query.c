/*
 * The query requests: CertPoll (RFC 8894 3.3.3), GetCert (3.3.4) and
 * GetCRL (3.3.4).  They read the store and issue nothing themselves (a
 * CertPoll for an approved request is issued by approval.c); GetCRL
 * asks the one CRL builder (lib/admin/crl.c) for the CRL of the CA that
 * issued the certificate in question and keeps it for
 * SVC_CRL_CACHE_SECONDS so that clients polling it do not burn a CRL
 * number each.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <scep/error.h>
#include <scep/message.h>
#include "admin/admin.h"
#include "admin/certinfo.h"
#include "util/hex.h"
#include "service/service_int.h"

/*
 * The key a CertPoll signed with signer_fp may collect transaction_id's
 * certificate under: the certificate's own key, or, when that
 * certificate renewed another (RenewalReq, or PKCSReq signed by an issued
 * certificate), the renewed certificate's key, since such a client signs
 * its poll the way it signed its request: with the old certificate
 * (RFC 8894 3.3.3 asks for the same signer as the request).  Writes the
 * key to match into key_fp (signer_fp itself when nothing else applies).
 * Returns 0 or SCEP_ERR_*.
 */
static int poll_key(struct scep_service *svc, const char *transaction_id, const char *signer_fp,
                    char key_fp[65])
{
    struct scep_cert_info *ci = NULL, *prev = NULL;
    int rc;

    snprintf(key_fp, 65, "%s", signer_fp);
    rc = scep_store_get_cert_by_transaction(svc->st, transaction_id, &ci);
    if (rc == SCEP_ERR_NOT_FOUND)
        return 0;
    if (rc != 0)
        return rc;
    if (ci->pubkey_fp == NULL || strcmp(ci->pubkey_fp, signer_fp) == 0 ||
        ci->renewed_serial == NULL) {
        rc = 0;
        goto out;
    }
    rc = scep_store_get_cert(svc->st, ci->renewed_serial, &prev);
    if (rc == SCEP_ERR_NOT_FOUND) {
        rc = 0; /* renewed a certificate the store never knew */
        goto out;
    }
    if (rc != 0)
        goto out;
    if (prev->pubkey_fp != NULL && strcmp(prev->pubkey_fp, signer_fp) == 0)
        snprintf(key_fp, 65, "%s", ci->pubkey_fp);
    rc = 0;
out:
    scep_cert_info_free(prev);
    scep_cert_info_free(ci);
    return rc;
}

/*
 * CertPoll is matched on the transactionID and the signer's key, not on
 * the IssuerAndSubject body (RFC 8894 3.3.3): strongSwan and others put
 * whatever they like there.  A poll finds its certificate (for a
 * renewal, also when signed by the renewed certificate's key: see
 * poll_key), or else the request held for approval under its
 * transactionID (approval.c), which may be issued right now if an
 * administrator approved it.  Requests are consulted whatever the current
 * approval setting, so that switching back to automatic does not strand
 * clients still polling.
 */
int svc_certpoll(struct scep_service *svc, const struct svc_profile *prof, struct scep_msg *m,
                 const char *peer, struct svc_outcome *o)
{
    const char *tid = scep_msg_get0_transaction_id(m);
    char fp[65], key_fp[65];
    int rc;

    rc = scep_pubkey_fingerprint(X509_get0_pubkey(scep_msg_get0_signer_cert(m)), fp);
    if (rc != 0)
        return rc;
    rc = poll_key(svc, tid, fp, key_fp);
    if (rc != 0)
        return rc;
    rc = svc_reissued(svc, tid, key_fp, SCEP_FAIL_BAD_CERT_ID,
                      "no request with this transactionID for the signer's key", o);
    if (rc != SCEP_ERR_NOT_FOUND)
        return rc;
    svc_outcome_clear(o);
    return svc_poll_request(svc, prof, m, peer, fp, o);
}

/*
 * GetCert: the store only holds certificates our CAs issued, so "issuer
 * is ours (current or archived)" is the stored certificate's issuer name
 * being the one asked for.
 */
int svc_getcert(struct scep_service *svc, struct scep_msg *m, struct svc_outcome *o)
{
    struct scep_cert_info *ci = NULL;
    X509_NAME *issuer = scep_msg_get0_issuer(m);
    const ASN1_INTEGER *sn = scep_msg_get0_serial(m);
    X509 *cert = NULL;
    char serial[64];
    int rc;

    if (issuer == NULL || sn == NULL)
        return svc_refuse(o, SCEP_FAIL_BAD_REQUEST, "no IssuerAndSerialNumber in the message");
    if (util_serial_hex(sn, serial, sizeof(serial)) != 0)
        return svc_refuse(o, SCEP_FAIL_BAD_CERT_ID, "serial number unusable");
    rc = scep_store_get_cert(svc->st, serial, &ci);
    if (rc == SCEP_ERR_NOT_FOUND)
        return svc_refuse(o, SCEP_FAIL_BAD_CERT_ID, "no certificate with serial %s", serial);
    if (rc != 0)
        return rc;
    rc = svc_stored_cert(ci, &cert);
    if (rc != 0)
        goto out;
    if (X509_NAME_cmp(X509_get_issuer_name(cert), issuer) != 0) {
        rc = svc_refuse(o, SCEP_FAIL_BAD_CERT_ID, "no certificate with serial %s from that issuer",
                        serial);
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

static time_t mono_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

/* Empties the GetCRL cache (see service_int.h). */
void svc_crl_cache_clear(struct scep_service *svc)
{
    for (int i = 0; i < SVC_CRL_CACHE_SLOTS; i++) {
        X509_CRL_free(svc->crls[i].crl);
        memset(&svc->crls[i], 0, sizeof(svc->crls[i]));
    }
}

/*
 * Which CA of our set a GetCRL is about.  The IssuerAndSerialNumber
 * names the issuer of the certificate whose status the client wants; a
 * rollover usually keeps the CA's name, so the name alone cannot tell
 * the archived CA from the current one.  The serial can: when the store
 * knows it, the CA that issued it (as recorded at issuance) answers.
 * Otherwise the current CA answers for its own name, then the newest
 * archived CA of that name.  *out: borrowed from svc->ca.  Returns 0, or
 * SCEP_ERR_NOT_FOUND when no CA of ours has that name.
 */
static int getcrl_issuer(struct scep_service *svc, X509_NAME *issuer, const ASN1_INTEGER *sn,
                         X509 **out)
{
    struct scep_cert_info *ci = NULL;
    X509 *c = NULL;
    char serial[64];
    int i;

    if (sn != NULL && util_serial_hex(sn, serial, sizeof(serial)) == 0 &&
        scep_store_get_cert(svc->st, serial, &ci) == 0 && ci->issuer_fp != NULL &&
        scep_ca_find_by_fingerprint(svc->ca, ci->issuer_fp, &c) == 0 &&
        X509_NAME_cmp(X509_get_subject_name(c), issuer) == 0) {
        scep_cert_info_free(ci);
        *out = c;
        return 0;
    }
    scep_cert_info_free(ci);
    c = scep_ca_get0_cert(svc->ca);
    for (i = 0; c != NULL; c = scep_ca_get0_archived(svc->ca, i++)) {
        if (X509_NAME_cmp(X509_get_subject_name(c), issuer) == 0) {
            *out = c;
            return 0;
        }
    }
    return SCEP_ERR_NOT_FOUND;
}

/*
 * The cached CRL of issuer, made anew when older than
 * SVC_CRL_CACHE_SECONDS.  Returns a borrowed CRL in *out, or SCEP_ERR_*.
 */
static int cached_crl(struct scep_service *svc, X509 *issuer, X509_CRL **out)
{
    struct svc_crl_slot *slot = NULL;
    X509_CRL *crl = NULL;
    unsigned char *der = NULL;
    const unsigned char *p;
    size_t len = 0;
    time_t now = mono_seconds();
    char fp[65];
    int i, rc;

    if ((rc = scep_cert_fingerprint(issuer, fp)) != 0)
        return rc;
    for (i = 0; i < SVC_CRL_CACHE_SLOTS && slot == NULL; i++) {
        if (strcmp(svc->crls[i].issuer_fp, fp) == 0)
            slot = &svc->crls[i];
    }
    if (slot != NULL && slot->crl != NULL && now - slot->made < SVC_CRL_CACHE_SECONDS) {
        *out = slot->crl;
        return 0;
    }
    rc = scep_admin_crl_current(svc->st, svc->ca, issuer, svc->crl_next_update, 0, NULL, &der, &len,
                                NULL);
    if (rc != 0)
        return rc;
    p = der;
    /* Our own CRL, read back from the store: one that does not decode
     * whole is a damaged record. */
    crl = d2i_X509_CRL(NULL, &p, (long)len);
    if (crl == NULL || p != der + len) {
        X509_CRL_free(crl);
        free(der);
        return SCEP_ERR_STORE;
    }
    free(der);
    if (slot == NULL) {
        /* An empty slot, else the one made longest ago. */
        slot = &svc->crls[0];
        for (i = 1; i < SVC_CRL_CACHE_SLOTS && slot->crl != NULL; i++) {
            if (svc->crls[i].crl == NULL || svc->crls[i].made < slot->made)
                slot = &svc->crls[i];
        }
    }
    X509_CRL_free(slot->crl);
    memcpy(slot->issuer_fp, fp, sizeof(slot->issuer_fp));
    slot->crl = crl;
    slot->made = now;
    *out = crl;
    return 0;
}

/*
 * GetCRL: the IssuerAndSerialNumber names a certificate whose status the
 * client wants; we answer with the whole CRL of the CA (current or
 * archived) that issued it.
 */
int svc_getcrl(struct scep_service *svc, struct scep_msg *m, struct svc_outcome *o)
{
    X509_NAME *issuer = scep_msg_get0_issuer(m);
    STACK_OF(X509_CRL) *sk = NULL;
    X509_CRL *crl = NULL;
    X509 *ca_cert = NULL;
    int rc;

    if (issuer == NULL)
        return svc_refuse(o, SCEP_FAIL_BAD_REQUEST, "no IssuerAndSerialNumber in the message");
    if (getcrl_issuer(svc, issuer, scep_msg_get0_serial(m), &ca_cert) != 0)
        return svc_refuse(o, SCEP_FAIL_BAD_CERT_ID, "issuer is not this CA");
    if ((rc = cached_crl(svc, ca_cert, &crl)) != 0)
        return rc;
    rc = SCEP_ERR_NOMEM;
    if ((sk = sk_X509_CRL_new_null()) == NULL)
        goto out;
    if (!X509_CRL_up_ref(crl))
        goto out;
    if (!sk_X509_CRL_push(sk, crl)) {
        X509_CRL_free(crl);
        goto out;
    }
    sk_X509_CRL_pop_free(o->crls, X509_CRL_free);
    o->crls = sk;
    sk = NULL;
    o->fail_info = -1;
    rc = 0;
out:
    sk_X509_CRL_pop_free(sk, X509_CRL_free);
    return rc;
}
