/*
 * Reading a received pkiMessage (RFC 8894 3) in three stages, so that a
 * server can still answer with a signed CertRep FAILURE when a later
 * stage fails: structure and signed attributes (scep_msg_decode), the
 * signature (scep_msg_verify), and the envelope with the messageData
 * inside it (scep_msg_decrypt).
 */
#include <string.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/objects.h>

#include <scep/error.h>
#include <scep/limits.h>
#include <scep/message.h>

#include "msg_internal.h"

/* Messages whose eContent is an EnvelopedData. */
static int wants_content(const struct scep_msg *m)
{
    return m->type != SCEP_MSG_CERTREP || m->status == SCEP_STATUS_SUCCESS;
}

/* The signer's certificate among the included ones, matched by the
 * SignerInfo's issuerAndSerialNumber or subjectKeyIdentifier.  The first
 * match wins, which is also the one CMS_verify() would pick. */
static X509 *find_signer(CMS_SignerInfo *si, STACK_OF(X509) *certs)
{
    int i;

    for (i = 0; i < sk_X509_num(certs); i++)
        if (CMS_SignerInfo_cert_cmp(si, sk_X509_value(certs, i)) == 0)
            return sk_X509_value(certs, i);
    return NULL;
}

/* Copies the eContent (an EnvelopedData ContentInfo) and notes its
 * algorithms.  A missing eContent is refused where the type needs one and
 * ignored where it does not (CertRep FAILURE/PENDING). */
static int read_envelope(struct scep_msg *m)
{
    ASN1_OCTET_STRING **pos = CMS_get0_content(m->cms);
    const unsigned char *d;
    int n, rc;

    if (!wants_content(m))
        return 0;
    if (pos == NULL || *pos == NULL || ASN1_STRING_length(*pos) <= 0)
        return SCEP_ERR_NOT_ENVELOPED;
    d = ASN1_STRING_get0_data(*pos);
    n = ASN1_STRING_length(*pos);
    rc = msg_envelope_algs(d, (size_t)n, &m->cipher_nid, &m->key_transport);
    if (rc == SCEP_ERR_DER || rc == SCEP_ERR_TRAILING)
        rc = SCEP_ERR_NOT_ENVELOPED;
    if (rc != 0)
        return rc;
    if ((m->env_der = OPENSSL_memdup(d, (size_t)n)) == NULL)
        return SCEP_ERR_NOMEM;
    m->env_len = (size_t)n;
    return 0;
}

/*
 * Decodes the pkiMessage der (len bytes) without any cryptography; see
 * message.h for the checks.  On success *out is set; free with
 * scep_msg_free().  Returns 0 or the SCEP_ERR_* of the first rule the
 * message breaks.
 */
int scep_msg_decode(const unsigned char *der, size_t len, struct scep_msg **out)
{
    struct scep_msg *m = NULL;
    STACK_OF(CMS_SignerInfo) *sis;
    CMS_SignerInfo *si;
    X509_ALGOR *dig = NULL;
    const ASN1_OBJECT *obj = NULL;
    int rc;

    if (der == NULL || out == NULL)
        return SCEP_ERR_INVALID_ARG;
    if ((rc = msg_ready()) != 0)
        return rc;
    if (len > SCEP_MAX_MESSAGE)
        return SCEP_ERR_TOO_LARGE;
    rc = SCEP_ERR_NOMEM;
    if ((m = OPENSSL_zalloc(sizeof(*m))) == NULL)
        goto out;
    m->status = -1;
    m->fail_info = -1;
    m->key_transport = -1;
    m->cipher_nid = NID_undef;
    m->digest_nid = NID_undef;

    if ((rc = msg_cms_from_der(der, len, &m->cms)) != 0)
        goto out;
    rc = SCEP_ERR_NOT_SIGNED;
    if (OBJ_obj2nid(CMS_get0_type(m->cms)) != NID_pkcs7_signed)
        goto out;
    /* Noted here and refused by scep_msg_verify, so that a server still
     * knows the transactionID and can answer with a CertRep FAILURE. */
    m->econtent_nid = OBJ_obj2nid(CMS_get0_eContentType(m->cms));
    sis = CMS_get0_SignerInfos(m->cms);
    rc = SCEP_ERR_SIGNER_COUNT;
    if (sk_CMS_SignerInfo_num(sis) != 1)
        goto out;
    si = sk_CMS_SignerInfo_value(sis, 0);

    if ((rc = msg_attrs_read(si, m)) != 0)
        goto out;

    m->certs = CMS_get1_certs(m->cms);
    if (sk_X509_num(m->certs) > SCEP_MAX_CERTS) {
        rc = SCEP_ERR_TOO_LARGE;
        goto out;
    }
    if ((m->signer_cert = find_signer(si, m->certs)) != NULL)
        X509_up_ref(m->signer_cert);
    else if (m->type != SCEP_MSG_CERTREP) {
        /* RFC 8894 3.1: a request carries its signer's certificate; the
         * server has no other way to learn the key. */
        rc = SCEP_ERR_NO_SIGNER_CERT;
        goto out;
    }

    CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, NULL);
    if (dig != NULL) {
        X509_ALGOR_get0(&obj, NULL, NULL, dig);
        m->digest_nid = OBJ_obj2nid(obj);
    }

    if ((rc = read_envelope(m)) != 0)
        goto out;

    *out = m;
    m = NULL;
    rc = 0;
out:
    if (rc != 0)
        ERR_clear_error();
    scep_msg_free(m);
    return rc;
}

/*
 * Verifies the signature of a decoded message, with signer's key if given
 * (the SignerInfo must name that certificate) or else with the signer
 * certificate the message includes.  Only SHA-1 and SHA-2 digests and an
 * eContentType of id-data are accepted.  The certificate chain is not
 * checked.  Returns 0, SCEP_ERR_CONTENT_TYPE, SCEP_ERR_BAD_ALG,
 * SCEP_ERR_NO_SIGNER_CERT or SCEP_ERR_SIGNATURE.
 */
int scep_msg_verify(struct scep_msg *m, X509 *signer)
{
    STACK_OF(X509) *use = NULL;
    CMS_SignerInfo *si;
    ASN1_OCTET_STRING **pos;
    BIO *dcont = NULL;
    X509 *cert;
    int rc = SCEP_ERR_INVALID_ARG;

    if (m == NULL || m->cms == NULL)
        goto out;
    si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(m->cms), 0);
    /* RFC 8894 3.2: the signed content is id-data, whatever it holds;
     * a signature over another type is not a pkiMessage's. */
    rc = SCEP_ERR_CONTENT_TYPE;
    if (m->econtent_nid != NID_pkcs7_data)
        goto out;
    rc = SCEP_ERR_BAD_ALG;
    if (!msg_digest_allowed(m->digest_nid))
        goto out;
    cert = signer != NULL ? signer : m->signer_cert;
    rc = SCEP_ERR_NO_SIGNER_CERT;
    if (cert == NULL)
        goto out;
    rc = SCEP_ERR_SIGNATURE;
    if (CMS_SignerInfo_cert_cmp(si, cert) != 0)
        goto out;

    rc = SCEP_ERR_NOMEM;
    if ((use = sk_X509_new_null()) == NULL || !sk_X509_push(use, cert))
        goto out;
    /* With no eContent (CertRep FAILURE/PENDING) the signature covers the
     * empty string, which CMS_verify() must be handed as detached data. */
    pos = CMS_get0_content(m->cms);
    /* A read-only memory BIO reports a clean EOF; an empty BIO_s_mem()
     * would report "retry", which CMS_verify() treats as an error. */
    if ((pos == NULL || *pos == NULL) && (dcont = BIO_new_mem_buf("", 0)) == NULL)
        goto out;
    /*
     * CMS_verify() keeps a signer certificate found by an earlier call, so
     * reset it: a second verify against another certificate must really
     * use that certificate.  CMS_NOINTERN restricts the search to cert;
     * CMS_NO_SIGNER_CERT_VERIFY because chains are the caller's policy.
     */
    CMS_SignerInfo_set1_signer_cert(si, NULL);
    rc = SCEP_ERR_SIGNATURE;
    if (!CMS_verify(m->cms, use, NULL, dcont, NULL,
                    CMS_NOINTERN | CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY))
        goto out;
    m->verified = 1;
    rc = 0;
out:
    if (rc != 0)
        ERR_clear_error();
    BIO_free(dcont);
    sk_X509_free(use);
    return rc;
}

/*
 * Opens the envelope of a decoded message with rcpt_cert / rcpt_key and
 * parses the messageData into m.  A message without content returns 0.
 * Returns 0, SCEP_ERR_INVALID_ARG, SCEP_ERR_BAD_ALG, SCEP_ERR_DECRYPT or
 * SCEP_ERR_CONTENT.
 */
int scep_msg_decrypt(struct scep_msg *m, X509 *rcpt_cert, EVP_PKEY *rcpt_key)
{
    unsigned char *plain = NULL;
    size_t plain_len = 0;
    int rc = SCEP_ERR_INVALID_ARG;

    if (m == NULL)
        goto out;
    if (m->env_der == NULL) {
        rc = 0;
        goto out;
    }
    if (rcpt_cert == NULL || rcpt_key == NULL)
        goto out;
    if ((rc = msg_envelope_open(m->env_der, m->env_len, rcpt_cert, rcpt_key, &plain, &plain_len)) !=
        0)
        goto out;
    rc = msg_content_decode(m, plain, plain_len);
out:
    OPENSSL_clear_free(plain, plain_len);
    return rc;
}
