/*
 * CRLs: a version 2 CRL (RFC 5280 5) of the given revoked serials,
 * signed with the CA's key handle (the keyring signs the digest).
 * Which serials are revoked is the store's business; this file only
 * encodes and signs.
 */
#include <time.h>

#include <openssl/bn.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <scep/error.h>

#include "ca/ca.h"
#include "ca/ca_internal.h"

/* Adds one revoked entry to crl.  Returns 0 or SCEP_ERR_*. */
static int add_entry(X509_CRL *crl, const struct scep_revoked_entry *e)
{
    X509_REVOKED *rev = NULL;
    ASN1_INTEGER *serial = NULL;
    ASN1_TIME *when = NULL;
    ASN1_ENUMERATED *reason = NULL;
    BIGNUM *bn = NULL;
    int rc = SCEP_ERR_INVALID_ARG;

    if (e->serial == NULL || e->serial_len < 1 || e->serial_len > 20 || e->reason < -1 ||
        e->reason > 10 || e->reason == 7) /* 7 is unused in RFC 5280 5.3.1 */
        goto out;
    rc = SCEP_ERR_INTERNAL;
    rev = X509_REVOKED_new();
    bn = BN_bin2bn(e->serial, (int)e->serial_len, NULL);
    if (rev == NULL || bn == NULL)
        goto out;
    serial = BN_to_ASN1_INTEGER(bn, NULL);
    when = ASN1_TIME_set(NULL, e->revoked_at);
    if (serial == NULL || when == NULL)
        goto out;
    /* The set1 setters copy; we free our copies below. */
    if (!X509_REVOKED_set_serialNumber(rev, serial) || !X509_REVOKED_set_revocationDate(rev, when))
        goto out;
    if (e->reason >= 0) {
        reason = ASN1_ENUMERATED_new();
        if (reason == NULL || !ASN1_ENUMERATED_set(reason, e->reason) ||
            X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, reason, 0, 0) != 1)
            goto out;
    }
    /* X509_CRL_add0_revoked() takes ownership of rev. */
    if (!X509_CRL_add0_revoked(crl, rev))
        goto out;
    rev = NULL;
    rc = 0;
out:
    BN_free(bn);
    ASN1_INTEGER_free(serial);
    ASN1_TIME_free(when);
    ASN1_ENUMERATED_free(reason);
    X509_REVOKED_free(rev);
    return rc;
}

/*
 * Makes and signs a CRL as issuer (see ca.h).  *out: free with
 * X509_CRL_free().
 */
int scep_ca_make_crl(const struct scep_ca *ca, X509 *issuer,
                     const struct scep_revoked_entry *entries, size_t n, int64_t crl_number,
                     long next_update_seconds, X509_CRL **out)
{
    EVP_PKEY *archived_key = NULL, *key; /* key handles */
    X509_CRL *crl = NULL;
    ASN1_TIME *t = NULL;
    ASN1_INTEGER *num = NULL;
    X509_EXTENSION *akid = NULL;
    X509V3_CTX ctx;
    time_t now = time(NULL);
    size_t i;
    int rc = SCEP_ERR_INVALID_ARG;

    if (ca == NULL || out == NULL || (n > 0 && entries == NULL) || crl_number < 0 ||
        next_update_seconds <= 0)
        goto out;
    if (issuer == NULL || X509_cmp(issuer, ca->cert) == 0) {
        issuer = ca->cert;
        key = ca->key;
    } else {
        /* Only a CA of this set may sign: anything else is a caller bug. */
        int j, known = 0;

        for (j = 0; j < scep_ca_archive_count(ca) && !known; j++)
            known = X509_cmp(issuer, scep_ca_get0_archived(ca, j)) == 0;
        if (!known)
            goto out;
        if ((rc = ca_load_archived_key(ca, issuer, &archived_key)) != 0)
            goto out;
        key = archived_key;
    }
    rc = SCEP_ERR_INTERNAL;
    crl = X509_CRL_new();
    if (crl == NULL)
        goto out;
    /* The version field holds 1 for a v2 CRL. */
    if (!X509_CRL_set_version(crl, X509_CRL_VERSION_2) ||
        !X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)))
        goto out;
    t = ASN1_TIME_set(NULL, now);
    if (t == NULL || !X509_CRL_set1_lastUpdate(crl, t))
        goto out;
    if (X509_time_adj_ex(t, 0, next_update_seconds, &now) == NULL ||
        !X509_CRL_set1_nextUpdate(crl, t))
        goto out;
    for (i = 0; i < n; i++) {
        if ((rc = add_entry(crl, &entries[i])) != 0)
            goto out;
    }
    rc = SCEP_ERR_INTERNAL;
    num = ASN1_INTEGER_new();
    if (num == NULL || !ASN1_INTEGER_set_int64(num, crl_number) ||
        X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0) != 1)
        goto out;
    /* For a CRL the context has an issuer certificate and the CRL, no
     * subject; AKI takes the keyid from the CA's SKI. */
    X509V3_set_ctx(&ctx, issuer, NULL, NULL, crl, 0);
    akid = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier, "keyid:always");
    if (akid == NULL || !X509_CRL_add_ext(crl, akid, -1))
        goto out;
    /* RFC 5280 does not require an order, but sorted entries let
     * verifiers search by serial. */
    if (!X509_CRL_sort(crl))
        goto out;
    /* X509_CRL_sign() returns the signature length, 0 on failure. */
    if (X509_CRL_sign(crl, key, ca_md_for(issuer)) <= 0)
        goto out;
    *out = crl;
    crl = NULL;
    rc = 0;
out:
    EVP_PKEY_free(archived_key);
    X509_EXTENSION_free(akid);
    ASN1_INTEGER_free(num);
    ASN1_TIME_free(t);
    X509_CRL_free(crl);
    return rc;
}
