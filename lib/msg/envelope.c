/*
 * The EnvelopedData of a pkiMessage (RFC 8894 3.1): encrypting the
 * messageData to the receiver's RSA certificate(s) with PKCS#1 v1.5 or
 * RSAES-OAEP key transport, finding out which content cipher and key
 * transport a received envelope uses (so a server can answer in kind),
 * and opening it with our certificate and key.
 */
#include <string.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/rsa.h>

#include <scep/error.h>
#include <scep/limits.h>

#include "msg_internal.h"

/* Content ciphers SCEP clients use: AES (RFC 8894 mandatory), 3DES and,
 * in practice, single DES from old Cisco and micromdm clients. */
static int cipher_allowed(int nid)
{
    switch (nid) {
    case NID_aes_128_cbc:
    case NID_aes_192_cbc:
    case NID_aes_256_cbc:
    case NID_des_ede3_cbc:
    case NID_des_cbc:
        return 1;
    default:
        return 0;
    }
}

/*
 * Encrypts data (len bytes) to every certificate of rcpts with cipher
 * (NULL: AES-128-CBC) and key_transport.  On success *der (free with
 * scep_free()) / *der_len hold the EnvelopedData ContentInfo.  Returns 0,
 * SCEP_ERR_INVALID_ARG, SCEP_ERR_BAD_ALG (cipher not allowed or not
 * available, recipient key not RSA) or SCEP_ERR_INTERNAL.
 */
int msg_envelope_build(const unsigned char *data, size_t len, STACK_OF(X509) *rcpts,
                       const EVP_CIPHER *cipher, int key_transport, unsigned char **der,
                       size_t *der_len)
{
    CMS_ContentInfo *cms = NULL;
    BIO *in = NULL;
    int i, nid;
    int rc = SCEP_ERR_INTERNAL;

    if (rcpts == NULL || sk_X509_num(rcpts) < 1 ||
        (key_transport != SCEP_KT_RSA_PKCS1 && key_transport != SCEP_KT_RSA_OAEP) ||
        len > SCEP_MAX_MESSAGE) {
        rc = SCEP_ERR_INVALID_ARG;
        goto out;
    }
    if (cipher == NULL)
        cipher = EVP_aes_128_cbc();
    nid = EVP_CIPHER_get_nid(cipher);
    if (!cipher_allowed(nid) || !msg_cipher_available(nid)) {
        rc = SCEP_ERR_BAD_ALG;
        goto out;
    }
    for (i = 0; i < sk_X509_num(rcpts); i++) {
        EVP_PKEY *pk = X509_get0_pubkey(sk_X509_value(rcpts, i));

        if (pk == NULL || !EVP_PKEY_is_a(pk, "RSA")) {
            rc = SCEP_ERR_BAD_ALG;
            goto out;
        }
    }
    if ((in = BIO_new_mem_buf(data, (int)len)) == NULL) {
        rc = SCEP_ERR_NOMEM;
        goto out;
    }

    if (key_transport == SCEP_KT_RSA_PKCS1) {
        /* CMS_BINARY: otherwise OpenSSL treats the DER as text and turns
         * every LF byte into CRLF. */
        cms = CMS_encrypt(rcpts, in, cipher, CMS_BINARY);
        if (cms == NULL)
            goto out;
    } else {
        /*
         * OAEP has to be set on each recipient's key context, which only
         * exists between CMS_add1_recipient_cert(.., CMS_KEY_PARAM) and
         * CMS_final(); hence the partial build.  OpenSSL's OAEP default is
         * SHA-1 with MGF1-SHA-1, which is what Windows uses.
         */
        cms = CMS_encrypt(NULL, NULL, cipher, CMS_PARTIAL | CMS_BINARY);
        if (cms == NULL)
            goto out;
        for (i = 0; i < sk_X509_num(rcpts); i++) {
            CMS_RecipientInfo *ri;
            EVP_PKEY_CTX *pctx;

            ri = CMS_add1_recipient_cert(cms, sk_X509_value(rcpts, i), CMS_KEY_PARAM);
            if (ri == NULL || (pctx = CMS_RecipientInfo_get0_pkey_ctx(ri)) == NULL)
                goto out;
            if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) <= 0)
                goto out;
        }
        if (!CMS_final(cms, in, NULL, CMS_BINARY))
            goto out;
    }
    rc = msg_cms_to_der(cms, der, der_len);
out:
    if (rc != 0)
        ERR_clear_error();
    BIO_free(in);
    CMS_ContentInfo_free(cms);
    return rc;
}

/*
 * Reads the content-encryption algorithm and the key transport of the
 * first key-transport recipient of an EnvelopedData ContentInfo (der,
 * len).  *cipher_nid gets the cipher's NID, *kt an enum
 * scep_key_transport or -1 when there is no RSA recipient.  Returns 0,
 * SCEP_ERR_DER or SCEP_ERR_NOT_ENVELOPED.
 */
int msg_envelope_algs(const unsigned char *der, size_t len, int *cipher_nid, int *kt)
{
    CMS_ContentInfo *cms = NULL;
    PKCS7 *p7 = NULL;
    STACK_OF(CMS_RecipientInfo) *ris;
    const unsigned char *p = der;
    int i, cnid, k = -1;
    int rc = SCEP_ERR_DER;

    if ((rc = msg_cms_from_der(der, len, &cms)) != 0)
        goto out;
    if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_enveloped) {
        rc = SCEP_ERR_NOT_ENVELOPED;
        goto out;
    }
    /*
     * OpenSSL 3.0 has no CMS getter for the content-encryption algorithm.
     * EnvelopedData v0 with key-transport recipients is the same ASN.1 in
     * PKCS#7, so the legacy parser can read it from the same bytes.  Any
     * CMS-only form it cannot read is reported as a DER problem.
     */
    p7 = d2i_PKCS7(NULL, &p, (long)len);
    rc = SCEP_ERR_DER;
    if (p7 == NULL || !PKCS7_type_is_enveloped(p7) || p7->d.enveloped == NULL ||
        p7->d.enveloped->enc_data == NULL || p7->d.enveloped->enc_data->algorithm == NULL)
        goto out;
    cnid = OBJ_obj2nid(p7->d.enveloped->enc_data->algorithm->algorithm);

    ris = CMS_get0_RecipientInfos(cms);
    for (i = 0; i < sk_CMS_RecipientInfo_num(ris); i++) {
        CMS_RecipientInfo *ri = sk_CMS_RecipientInfo_value(ris, i);
        X509_ALGOR *alg = NULL;
        const ASN1_OBJECT *obj = NULL;

        if (CMS_RecipientInfo_type(ri) != CMS_RECIPINFO_TRANS)
            continue;
        if (!CMS_RecipientInfo_ktri_get0_algs(ri, NULL, NULL, &alg) || alg == NULL)
            continue;
        X509_ALGOR_get0(&obj, NULL, NULL, alg);
        if (OBJ_obj2nid(obj) == NID_rsaEncryption)
            k = SCEP_KT_RSA_PKCS1;
        else if (OBJ_obj2nid(obj) == NID_rsaesOaep)
            k = SCEP_KT_RSA_OAEP;
        else
            continue;
        break;
    }
    *cipher_nid = cnid;
    *kt = k;
    rc = 0;
out:
    if (rc != 0)
        ERR_clear_error();
    PKCS7_free(p7);
    CMS_ContentInfo_free(cms);
    return rc;
}

/*
 * Decrypts the EnvelopedData ContentInfo (der, len) with cert and key.
 * The certificate picks the RecipientInfo: without it OpenSSL's defence
 * against Bleichenbacher-style attacks tries every recipient and returns
 * random bytes instead of an error.  On success *out (free with
 * scep_free()) / *out_len hold the plaintext.  Returns 0,
 * SCEP_ERR_NOT_ENVELOPED, SCEP_ERR_BAD_ALG or SCEP_ERR_DECRYPT.
 */
int msg_envelope_open(const unsigned char *der, size_t len, X509 *cert, EVP_PKEY *key,
                      unsigned char **out, size_t *out_len)
{
    CMS_ContentInfo *cms = NULL;
    BIO *plain = NULL;
    int cnid = NID_undef, kt = -1;
    int rc;

    if ((rc = msg_envelope_algs(der, len, &cnid, &kt)) != 0)
        goto out;
    if (!cipher_allowed(cnid) || !msg_cipher_available(cnid)) {
        rc = SCEP_ERR_BAD_ALG;
        goto out;
    }
    if ((rc = msg_cms_from_der(der, len, &cms)) != 0)
        goto out;
    rc = SCEP_ERR_NOMEM;
    if ((plain = BIO_new(BIO_s_mem())) == NULL)
        goto out;
    rc = SCEP_ERR_DECRYPT;
    if (!CMS_decrypt(cms, key, cert, NULL, plain, CMS_BINARY))
        goto out;
    rc = msg_bio_to_buf(plain, SCEP_MAX_MESSAGE, out, out_len);
out:
    if (rc != 0)
        ERR_clear_error();
    BIO_free(plain);
    CMS_ContentInfo_free(cms);
    return rc;
}
