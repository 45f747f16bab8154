/*
 * The messageData inside a pkiMessage's envelope (RFC 8894 3.3): a
 * PKCS#10 request for PKCSReq and RenewalReq, IssuerAndSubject for
 * CertPoll, IssuerAndSerialNumber for GetCert and GetCRL, and the
 * degenerate certs-only SignedData of a CertRep SUCCESS.  Each is encoded
 * and decoded by OpenSSL's ASN.1 code; decoding takes an explicit length
 * and refuses trailing bytes, since the plaintext of a wrongly decrypted
 * envelope is exactly where garbage would hide.
 */
#include <openssl/asn1t.h>
#include <openssl/err.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include <scep/error.h>
#include <scep/limits.h>

#include "msg_internal.h"

/*
 * IssuerAndSubject ::= SEQUENCE { issuer Name, subject Name }
 * (RFC 8894 3.3.3).  OpenSSL has no type for it, so it is declared with
 * the ASN.1 template macros and used only through ASN1_item_* calls.
 */
typedef struct {
    X509_NAME *issuer;
    X509_NAME *subject;
} SCEP_ISSUER_AND_SUBJECT;

ASN1_SEQUENCE(SCEP_ISSUER_AND_SUBJECT) =
    {
        ASN1_SIMPLE(SCEP_ISSUER_AND_SUBJECT, issuer, X509_NAME),
        ASN1_SIMPLE(SCEP_ISSUER_AND_SUBJECT, subject, X509_NAME),
} static_ASN1_SEQUENCE_END(SCEP_ISSUER_AND_SUBJECT)

    /* i2d into a fresh buffer owned by the caller (OPENSSL_free). */
    static int item_encode(const void *val, const ASN1_ITEM *it, unsigned char **der, size_t *len)
{
    unsigned char *buf = NULL;
    int n = ASN1_item_i2d((const ASN1_VALUE *)val, &buf, it);

    if (n <= 0 || buf == NULL)
        return SCEP_ERR_INTERNAL;
    *der = buf;
    *len = (size_t)n;
    return 0;
}

/* d2i over exactly len bytes; NULL on failure or trailing bytes. */
static void *item_decode(const unsigned char *der, size_t len, const ASN1_ITEM *it)
{
    const unsigned char *p = der;
    ASN1_VALUE *v;

    if (len == 0 || len > SCEP_MAX_MESSAGE)
        return NULL;
    v = ASN1_item_d2i(NULL, &p, (long)len, it);
    if (v != NULL && (size_t)(p - der) != len) {
        ASN1_item_free(v, it);
        v = NULL;
    }
    return v;
}

/*
 * Encodes the messageData that spec->type carries.  On success *der (free
 * with scep_free()) / *len are set.  Returns 0, SCEP_ERR_INVALID_ARG when
 * a field the type needs is missing, or SCEP_ERR_*.
 */
int msg_content_encode(const struct scep_msg_spec *spec, unsigned char **der, size_t *len)
{
    SCEP_ISSUER_AND_SUBJECT ias;
    PKCS7_ISSUER_AND_SERIAL *iasn = NULL;
    int rc = SCEP_ERR_INVALID_ARG;

    switch (spec->type) {
    case SCEP_MSG_PKCSREQ:
    case SCEP_MSG_RENEWALREQ:
        if (spec->csr == NULL)
            goto out;
        rc = item_encode(spec->csr, ASN1_ITEM_rptr(X509_REQ), der, len);
        break;
    case SCEP_MSG_CERTPOLL:
        if (spec->issuer == NULL || spec->subject == NULL)
            goto out;
        ias.issuer = spec->issuer;
        ias.subject = spec->subject;
        rc = item_encode(&ias, ASN1_ITEM_rptr(SCEP_ISSUER_AND_SUBJECT), der, len);
        break;
    case SCEP_MSG_GETCERT:
    case SCEP_MSG_GETCRL:
        if (spec->issuer == NULL || spec->serial == NULL)
            goto out;
        rc = SCEP_ERR_NOMEM;
        if ((iasn = PKCS7_ISSUER_AND_SERIAL_new()) == NULL)
            goto out;
        if (!X509_NAME_set(&iasn->issuer, spec->issuer))
            goto out;
        ASN1_INTEGER_free(iasn->serial);
        if ((iasn->serial = ASN1_INTEGER_dup(spec->serial)) == NULL)
            goto out;
        rc = item_encode(iasn, ASN1_ITEM_rptr(PKCS7_ISSUER_AND_SERIAL), der, len);
        break;
    case SCEP_MSG_CERTREP:
        if (spec->status != SCEP_STATUS_SUCCESS ||
            (sk_X509_num(spec->certs) < 1 && sk_X509_CRL_num(spec->crls) < 1))
            goto out;
        rc = scep_certs_only_build(spec->certs, spec->crls, der, len);
        break;
    default:
        break;
    }
out:
    PKCS7_ISSUER_AND_SERIAL_free(iasn);
    return rc;
}

/*
 * Parses the decrypted messageData (der, len) as the type m->type calls
 * for and stores it in m.  Returns 0 or SCEP_ERR_CONTENT when the bytes
 * are not exactly one value of that type.
 */
int msg_content_decode(struct scep_msg *m, const unsigned char *der, size_t len)
{
    SCEP_ISSUER_AND_SUBJECT *ias = NULL;
    PKCS7_ISSUER_AND_SERIAL *iasn = NULL;
    X509_REQ *csr = NULL;
    STACK_OF(X509) *certs = NULL;
    STACK_OF(X509_CRL) *crls = NULL;
    int rc = SCEP_ERR_CONTENT;

    switch (m->type) {
    case SCEP_MSG_PKCSREQ:
    case SCEP_MSG_RENEWALREQ:
        if ((csr = item_decode(der, len, ASN1_ITEM_rptr(X509_REQ))) == NULL)
            goto out;
        X509_REQ_free(m->csr);
        m->csr = csr;
        csr = NULL;
        break;
    case SCEP_MSG_CERTPOLL:
        ias = item_decode(der, len, ASN1_ITEM_rptr(SCEP_ISSUER_AND_SUBJECT));
        if (ias == NULL)
            goto out;
        X509_NAME_free(m->issuer);
        X509_NAME_free(m->subject);
        m->issuer = ias->issuer;
        m->subject = ias->subject;
        ias->issuer = NULL;
        ias->subject = NULL;
        break;
    case SCEP_MSG_GETCERT:
    case SCEP_MSG_GETCRL:
        iasn = item_decode(der, len, ASN1_ITEM_rptr(PKCS7_ISSUER_AND_SERIAL));
        if (iasn == NULL)
            goto out;
        X509_NAME_free(m->issuer);
        ASN1_INTEGER_free(m->serial);
        m->issuer = iasn->issuer;
        m->serial = iasn->serial;
        iasn->issuer = NULL;
        iasn->serial = NULL;
        break;
    case SCEP_MSG_CERTREP:
        if (scep_certs_only_parse(der, len, &certs, &crls) != 0)
            goto out;
        sk_X509_pop_free(m->rep_certs, X509_free);
        sk_X509_CRL_pop_free(m->rep_crls, X509_CRL_free);
        m->rep_certs = certs;
        m->rep_crls = crls;
        certs = NULL;
        crls = NULL;
        break;
    default:
        goto out;
    }
    rc = 0;
out:
    if (rc != 0)
        ERR_clear_error();
    X509_REQ_free(csr);
    ASN1_item_free((ASN1_VALUE *)ias, ASN1_ITEM_rptr(SCEP_ISSUER_AND_SUBJECT));
    PKCS7_ISSUER_AND_SERIAL_free(iasn);
    sk_X509_pop_free(certs, X509_free);
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
    return rc;
}
