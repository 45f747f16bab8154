/*
 * The GetNextCACert answer (RFC 8894 4.6.1): a SignedData signed by the
 * current CA or RA whose encapsulated content is a degenerate certs-only
 * SignedData with the next CA certificates.  The new certificates are
 * inside the content, not in the outer certificates field, which is where
 * sscep looks for them.
 */
#include <openssl/cms.h>
#include <openssl/err.h>

#include <scep/error.h>
#include <scep/limits.h>
#include <scep/message.h>

#include "msg_internal.h"

/*
 * Builds a GetNextCACert answer carrying next_certs, signed by
 * signer_cert / signer_key with md (NULL: SHA-256).  On success *der
 * (free with scep_free()) / *len are set.  Returns 0 or SCEP_ERR_*.
 */
int scep_next_ca_build(STACK_OF(X509) *next_certs, X509 *signer_cert, EVP_PKEY *signer_key,
                       const EVP_MD *md, unsigned char **der, size_t *len)
{
    CMS_ContentInfo *cms = NULL;
    CMS_SignerInfo *si = NULL;
    unsigned char *inner = NULL;
    size_t inner_len = 0;
    int rc = SCEP_ERR_INVALID_ARG;

    if (sk_X509_num(next_certs) < 1 || der == NULL || len == NULL)
        goto out;
    if ((rc = scep_certs_only_build(next_certs, NULL, &inner, &inner_len)) != 0)
        goto out;
    if ((rc = msg_signed_start(signer_cert, signer_key, md, NULL, &cms, &si)) != 0)
        goto out;
    rc = msg_signed_finish(cms, inner, inner_len, 0, der, len);
out:
    OPENSSL_free(inner);
    CMS_ContentInfo_free(cms);
    return rc;
}

/*
 * Parses a GetNextCACert answer of exactly len bytes and verifies its
 * signature with signer (required: the current CA/RA certificate; the
 * chain is not checked).  On success *next_certs receives a new stack;
 * free with sk_X509_pop_free(.., X509_free).  Returns 0,
 * SCEP_ERR_INVALID_ARG, SCEP_ERR_DER, SCEP_ERR_TRAILING,
 * SCEP_ERR_NOT_SIGNED, SCEP_ERR_SIGNER_COUNT, SCEP_ERR_BAD_ALG,
 * SCEP_ERR_SIGNATURE or SCEP_ERR_CONTENT.
 */
int scep_next_ca_parse(const unsigned char *der, size_t len, X509 *signer,
                       STACK_OF(X509) **next_certs)
{
    CMS_ContentInfo *cms = NULL;
    STACK_OF(CMS_SignerInfo) *sis;
    STACK_OF(X509) *use = NULL;
    STACK_OF(X509) *certs = NULL;
    X509_ALGOR *dig = NULL;
    const ASN1_OBJECT *obj = NULL;
    BIO *inner = NULL;
    unsigned char *buf = NULL;
    size_t buf_len = 0;
    int rc = SCEP_ERR_INVALID_ARG;

    if (der == NULL || signer == NULL || next_certs == NULL)
        goto out;
    if ((rc = msg_ready()) != 0)
        goto out;
    if ((rc = msg_cms_from_der(der, len, &cms)) != 0)
        goto out;
    rc = SCEP_ERR_NOT_SIGNED;
    if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed)
        goto out;
    sis = CMS_get0_SignerInfos(cms);
    rc = SCEP_ERR_SIGNER_COUNT;
    if (sk_CMS_SignerInfo_num(sis) != 1)
        goto out;
    CMS_SignerInfo_get0_algs(sk_CMS_SignerInfo_value(sis, 0), NULL, NULL, &dig, NULL);
    rc = SCEP_ERR_BAD_ALG;
    if (dig == NULL)
        goto out;
    X509_ALGOR_get0(&obj, NULL, NULL, dig);
    if (!msg_digest_allowed(OBJ_obj2nid(obj)))
        goto out;

    rc = SCEP_ERR_NOMEM;
    if ((use = sk_X509_new_null()) == NULL || !sk_X509_push(use, signer))
        goto out;
    if ((inner = BIO_new(BIO_s_mem())) == NULL)
        goto out;
    /* CMS_NOINTERN: only the certificate the caller trusts may have
     * signed; the chain is the caller's business. */
    rc = SCEP_ERR_SIGNATURE;
    if (!CMS_verify(cms, use, NULL, NULL, inner,
                    CMS_NOINTERN | CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY))
        goto out;
    if ((rc = msg_bio_to_buf(inner, SCEP_MAX_MESSAGE, &buf, &buf_len)) != 0)
        goto out;
    if (scep_certs_only_parse(buf, buf_len, &certs, NULL) != 0 || sk_X509_num(certs) < 1) {
        rc = SCEP_ERR_CONTENT;
        goto out;
    }
    *next_certs = certs;
    certs = NULL;
    rc = 0;
out:
    if (rc != 0)
        ERR_clear_error();
    sk_X509_pop_free(certs, X509_free);
    OPENSSL_free(buf);
    BIO_free(inner);
    sk_X509_free(use);
    CMS_ContentInfo_free(cms);
    return rc;
}
