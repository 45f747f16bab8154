/*
 * The degenerate certs-only SignedData (RFC 8894 3.4): no signers, empty
 * digestAlgorithms, eContentType id-data with the eContent omitted, and
 * the certificates and CRLs in their SignedData fields.  It carries the
 * GetCACert RA/chain answer, the inside of a CertRep SUCCESS and the
 * inside of a GetNextCACert answer.
 */
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pkcs7.h>

#include <scep/error.h>
#include <scep/limits.h>
#include <scep/message.h>

#include "msg_internal.h"

/*
 * Builds a degenerate SignedData holding certs and crls (either may be
 * NULL or empty).  On success *der (free with scep_free()) / *len are
 * set.  Returns 0 or SCEP_ERR_*.
 */
int scep_certs_only_build(STACK_OF(X509) *certs, STACK_OF(X509_CRL) *crls, unsigned char **der,
                          size_t *len)
{
    PKCS7 *p7 = NULL;
    unsigned char *buf = NULL;
    int i, n, rc;

    if (der == NULL || len == NULL)
        return SCEP_ERR_INVALID_ARG;
    if ((rc = msg_ready()) != 0)
        return rc;
    rc = SCEP_ERR_INTERNAL;
    /*
     * Built with the PKCS7 API rather than CMS on purpose: OpenSSL encodes
     * CMS certificates as a DER SET OF, sorted by their bytes, while its
     * PKCS7 template keeps them in insertion order.  Order matters on the
     * wire: micromdm's scepclient (and other Go clients) take the first
     * certificate of a CertRep as theirs, and RA-first GetCACert answers
     * are what NDES clients are used to.
     */
    if ((p7 = PKCS7_new()) == NULL || !PKCS7_set_type(p7, NID_pkcs7_signed) ||
        !PKCS7_content_new(p7, NID_pkcs7_data))
        goto out;
    for (i = 0; i < sk_X509_num(certs); i++)
        if (!PKCS7_add_certificate(p7, sk_X509_value(certs, i)))
            goto out;
    for (i = 0; i < sk_X509_CRL_num(crls); i++)
        if (!PKCS7_add_crl(p7, sk_X509_CRL_value(crls, i)))
            goto out;
    /* Detached means eContent absent, as RFC 8894 3.4 asks. */
    if (!PKCS7_set_detached(p7, 1))
        goto out;
    if ((n = i2d_PKCS7(p7, &buf)) <= 0)
        goto out;
    *der = buf;
    *len = (size_t)n;
    buf = NULL;
    rc = 0;
out:
    if (rc != 0)
        ERR_clear_error();
    OPENSSL_free(buf);
    PKCS7_free(p7);
    return rc;
}

/*
 * Parses a degenerate certs-only SignedData of exactly len bytes: it must
 * be SignedData with no SignerInfo and at most SCEP_MAX_CERTS
 * certificates.  On success *certs (possibly empty, never NULL) and, if
 * crls is not NULL, *crls receive new stacks; free with
 * sk_X509_pop_free(.., X509_free) / sk_X509_CRL_pop_free(.., X509_CRL_free).
 * Returns 0, SCEP_ERR_DER, SCEP_ERR_TRAILING, SCEP_ERR_NOT_SIGNED,
 * SCEP_ERR_SIGNER_COUNT, SCEP_ERR_TOO_LARGE or SCEP_ERR_NOMEM.
 */
int scep_certs_only_parse(const unsigned char *der, size_t len, STACK_OF(X509) **certs,
                          STACK_OF(X509_CRL) **crls)
{
    CMS_ContentInfo *cms = NULL;
    STACK_OF(X509) *xs = NULL;
    STACK_OF(X509_CRL) *cs = NULL;
    int rc;

    if (der == NULL || certs == NULL)
        return SCEP_ERR_INVALID_ARG;
    if ((rc = msg_ready()) != 0)
        return rc;
    if ((rc = msg_cms_from_der(der, len, &cms)) != 0)
        goto out;
    rc = SCEP_ERR_NOT_SIGNED;
    if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed)
        goto out;
    rc = SCEP_ERR_SIGNER_COUNT;
    if (sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)) > 0)
        goto out;
    /* CMS_get1_certs() returns NULL both for "none" and for failure; the
     * caller gets an empty stack for "none". */
    rc = SCEP_ERR_NOMEM;
    if ((xs = CMS_get1_certs(cms)) == NULL && (xs = sk_X509_new_null()) == NULL)
        goto out;
    if (sk_X509_num(xs) > SCEP_MAX_CERTS) {
        rc = SCEP_ERR_TOO_LARGE;
        goto out;
    }
    if (crls != NULL) {
        if ((cs = CMS_get1_crls(cms)) == NULL && (cs = sk_X509_CRL_new_null()) == NULL)
            goto out;
        if (sk_X509_CRL_num(cs) > SCEP_MAX_CERTS) {
            rc = SCEP_ERR_TOO_LARGE;
            goto out;
        }
    }
    *certs = xs;
    xs = NULL;
    if (crls != NULL) {
        *crls = cs;
        cs = NULL;
    }
    rc = 0;
out:
    if (rc != 0)
        ERR_clear_error();
    sk_X509_pop_free(xs, X509_free);
    sk_X509_CRL_pop_free(cs, X509_CRL_free);
    CMS_ContentInfo_free(cms);
    return rc;
}
