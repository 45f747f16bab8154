/*
 * Producing the outer SignedData that every signed SCEP object uses: a
 * pkiMessage, a CertRep and a GetNextCACert answer.  One SignerInfo,
 * version 1 with issuerAndSerialNumber (not a key identifier, which old
 * clients cannot match), the signer certificate and any extra
 * certificates included, eContentType id-data.
 */
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <scep/error.h>
#include <scep/limits.h>

#include "msg_internal.h"

/* Adds certs to the SignedData, skipping any already there: OpenSSL
 * refuses a duplicate with an error rather than ignoring it. */
static int add_extra_certs(CMS_ContentInfo *cms, STACK_OF(X509) *extra)
{
    STACK_OF(X509) *have = NULL;
    int i, j, rc = SCEP_ERR_NOMEM;

    for (i = 0; i < sk_X509_num(extra); i++) {
        X509 *x = sk_X509_value(extra, i);
        int dup = 0;

        sk_X509_pop_free(have, X509_free);
        have = CMS_get1_certs(cms);
        for (j = 0; j < sk_X509_num(have); j++)
            if (X509_cmp(sk_X509_value(have, j), x) == 0)
                dup = 1;
        if (!dup && !CMS_add1_cert(cms, x))
            goto out;
    }
    rc = 0;
out:
    sk_X509_pop_free(have, X509_free);
    return rc;
}

/*
 * Starts a SignedData signed by cert/key with digest md (NULL: SHA-256)
 * and carrying cert plus extra.  The caller adds signed attributes to
 * *si and completes it with msg_signed_finish().  On success *cms (free
 * with CMS_ContentInfo_free()) and *si (borrowed from *cms) are set.
 * Returns 0, SCEP_ERR_INVALID_ARG, SCEP_ERR_BAD_ALG or SCEP_ERR_INTERNAL.
 */
int msg_signed_start(X509 *cert, EVP_PKEY *key, const EVP_MD *md, STACK_OF(X509) *extra,
                     CMS_ContentInfo **cms, CMS_SignerInfo **si)
{
    CMS_ContentInfo *c = NULL;
    CMS_SignerInfo *s;
    int rc = SCEP_ERR_INVALID_ARG;

    if (cert == NULL || key == NULL)
        goto out;
    if (md == NULL)
        md = EVP_sha256();
    if (!msg_digest_allowed(EVP_MD_get_type(md))) {
        rc = SCEP_ERR_BAD_ALG;
        goto out;
    }
    if (!X509_check_private_key(cert, key))
        goto out;
    rc = SCEP_ERR_INTERNAL;
    /* CMS_PARTIAL: the signer and its attributes are added before the
     * content is hashed in CMS_final().  CMS_BINARY everywhere, or
     * OpenSSL canonicalises LF to CRLF inside DER. */
    if ((c = CMS_sign(NULL, NULL, NULL, NULL, CMS_PARTIAL | CMS_BINARY)) == NULL)
        goto out;
    /* CMS_NOSMIMECAP: an S/MIME capabilities attribute means nothing to
     * SCEP and only grows the message.  OpenSSL still adds contentType,
     * signingTime and messageDigest, which BouncyCastle clients need. */
    s = CMS_add1_signer(c, cert, key, md, CMS_BINARY | CMS_NOSMIMECAP);
    if (s == NULL)
        goto out;
    if ((rc = add_extra_certs(c, extra)) != 0)
        goto out;
    *cms = c;
    *si = s;
    c = NULL;
    rc = 0;
out:
    if (rc != 0)
        ERR_clear_error();
    CMS_ContentInfo_free(c);
    return rc;
}

/*
 * Hashes data (len bytes; NULL/0 for none), signs, and DER-encodes cms.
 * detached: leave the eContent out (CertRep FAILURE/PENDING, whose
 * signature then covers the empty string, as PKCS#7-based clients
 * expect).  On success *der (free with scep_free()) / *der_len are set.
 * Returns 0 or SCEP_ERR_*.
 */
int msg_signed_finish(CMS_ContentInfo *cms, const unsigned char *data, size_t len, int detached,
                      unsigned char **der, size_t *der_len)
{
    static const unsigned char empty[1];
    BIO *in = NULL;
    int rc = SCEP_ERR_NOMEM;

    if (len > SCEP_MAX_MESSAGE) {
        rc = SCEP_ERR_TOO_LARGE;
        goto out;
    }
    if ((in = BIO_new_mem_buf(data != NULL ? data : empty, (int)len)) == NULL)
        goto out;
    rc = SCEP_ERR_INTERNAL;
    if (detached && !CMS_set_detached(cms, 1))
        goto out;
    if (!CMS_final(cms, in, NULL, CMS_BINARY))
        goto out;
    rc = msg_cms_to_der(cms, der, der_len);
out:
    if (rc != 0)
        ERR_clear_error();
    BIO_free(in);
    return rc;
}
