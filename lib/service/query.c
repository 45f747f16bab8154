/*
 * The query requests: CertPoll (RFC 8894 3.3.3), GetCert (3.3.4) and
 * GetCRL (3.3.4).  They read the store and issue nothing themselves (a
 * CertPoll for an approved request is issued by approval.c); GetCRL
 * makes a CRL from the store's revocations and keeps it for
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
#include "service/certinfo.h"
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
int svc_certpoll(struct scep_service *svc, struct scep_msg *m, const char *peer,
                 struct svc_outcome *o)
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
    return svc_poll_request(svc, m, peer, fp, o);
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
    if (scep_serial_hex(sn, serial, sizeof(serial)) != 0)
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

/* Revoked serials gathered from the store for one CRL. */
struct revoked_list {
    const char *issuer_fp; /* the CRL's issuer: entries of other CAs are skipped */
    struct scep_revoked_entry *e;
    unsigned char (*serials)[32];
    size_t n, cap;
    int rc;
};

/* Converts the store's hex serial back to big-endian bytes. */
static int hex_to_serial(const char *hex, unsigned char *buf, size_t size, size_t *len)
{
    BIGNUM *bn = NULL;
    int n, rc = SCEP_ERR_STORE;

    if (hex == NULL)
        goto out;
    /* BN_hex2bn returns how many hex digits it consumed: all of them, or
     * the stored serial is not what we wrote. */
    n = BN_hex2bn(&bn, hex);
    if (n <= 0 || (size_t)n != strlen(hex))
        goto out;
    n = BN_num_bytes(bn);
    if (n <= 0 || (size_t)n > size)
        goto out;
    *len = (size_t)BN_bn2bin(bn, buf);
    rc = 0;
out:
    BN_free(bn);
    return rc;
}

static int collect_revoked(const struct scep_cert_info *ci, void *arg)
{
    struct revoked_list *l = arg;
    int rc;

    if (ci->status != SCEP_CERT_REVOKED)
        return 0;
    /* A CRL entry names a serial of the CRL's issuer (RFC 5280 5.3.3:
     * ours is no indirect CRL); after a rollover the archived CA's
     * revocations are not the current CA's to list.  A record without an
     * issuer cannot be attributed and stays listed: listing a serial
     * nobody uses costs nothing, dropping a revocation would. */
    if (ci->issuer_fp != NULL && strcmp(ci->issuer_fp, l->issuer_fp) != 0)
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        struct scep_revoked_entry *e = realloc(l->e, cap * sizeof(*e));
        unsigned char(*s)[32];

        if (e == NULL)
            return l->rc = SCEP_ERR_NOMEM;
        l->e = e;
        s = realloc(l->serials, cap * sizeof(*s));
        if (s == NULL)
            return l->rc = SCEP_ERR_NOMEM;
        l->serials = s;
        l->cap = cap;
    }
    rc = hex_to_serial(ci->serial, l->serials[l->n], sizeof(l->serials[0]), &l->e[l->n].serial_len);
    if (rc != 0)
        return l->rc = rc;
    l->e[l->n].revoked_at = (time_t)ci->revoked_at;
    l->e[l->n].reason = ci->revocation_reason;
    l->n++;
    return 0;
}

/*
 * Makes a fresh CRL of every revoked, unexpired certificate the current
 * CA issued.  *out: free with X509_CRL_free().
 */
static int make_crl(struct scep_service *svc, X509_CRL **out)
{
    struct scep_cert_filter f;
    struct revoked_list l;
    int64_t number = 0;
    char ca_fp[65];
    size_t i;
    int rc;

    memset(&l, 0, sizeof(l));
    rc = scep_cert_fingerprint(scep_ca_get0_cert(svc->ca), ca_fp);
    if (rc != 0)
        return rc;
    l.issuer_fp = ca_fp;
    memset(&f, 0, sizeof(f));
    f.status = SCEP_CERT_REVOKED;
    f.include_expired = 0; /* RFC 5280 3.3: expired entries may leave the CRL */
    rc = scep_store_list_certs(svc->st, &f, collect_revoked, &l);
    if (l.rc != 0)
        rc = l.rc;
    if (rc != 0)
        goto out;
    /* The serial pointers are set only now: realloc may have moved them. */
    for (i = 0; i < l.n; i++)
        l.e[i].serial = l.serials[i];
    rc = scep_store_next_crl_number(svc->st, &number);
    if (rc != 0)
        goto out;
    rc = scep_ca_make_crl(svc->ca, l.e, l.n, number, svc->crl_next_update, out);
out:
    free(l.e);
    free(l.serials);
    return rc;
}

static time_t mono_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

/*
 * GetCRL: the IssuerAndSerialNumber names a certificate whose status the
 * client wants; we answer with our CA's whole CRL when the issuer is our
 * current CA.
 */
int svc_getcrl(struct scep_service *svc, struct scep_msg *m, struct svc_outcome *o)
{
    X509_NAME *issuer = scep_msg_get0_issuer(m);
    STACK_OF(X509_CRL) *sk = NULL;
    X509_CRL *crl = NULL;
    time_t now = mono_seconds();
    int rc;

    if (issuer == NULL)
        return svc_refuse(o, SCEP_FAIL_BAD_REQUEST, "no IssuerAndSerialNumber in the message");
    if (X509_NAME_cmp(issuer, X509_get_subject_name(scep_ca_get0_cert(svc->ca))) != 0)
        return svc_refuse(o, SCEP_FAIL_BAD_CERT_ID, "issuer is not this CA");

    if (svc->crl == NULL || now - svc->crl_made >= SVC_CRL_CACHE_SECONDS) {
        rc = make_crl(svc, &crl);
        if (rc != 0)
            goto out;
        X509_CRL_free(svc->crl);
        svc->crl = crl;
        svc->crl_made = now;
        crl = NULL;
    }
    rc = SCEP_ERR_NOMEM;
    if ((sk = sk_X509_CRL_new_null()) == NULL)
        goto out;
    if (!X509_CRL_up_ref(svc->crl))
        goto out;
    if (!sk_X509_CRL_push(sk, svc->crl)) {
        X509_CRL_free(svc->crl);
        goto out;
    }
    sk_X509_CRL_pop_free(o->crls, X509_CRL_free);
    o->crls = sk;
    sk = NULL;
    o->fail_info = -1;
    rc = 0;
out:
    sk_X509_CRL_pop_free(sk, X509_CRL_free);
    X509_CRL_free(crl);
    return rc;
}
