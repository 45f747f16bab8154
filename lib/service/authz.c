/*
 * Authorisation for enrollment: the static challenge password a PKCSReq
 * must carry (RFC 8894 2.2, PKCS#9 challengePassword in the CSR).
 * Renewal authorisation (a signer certificate of this CA) lives in
 * enroll.c with the rest of the renewal rules; what a CSR may ask for
 * (key, names) is the CA's rule, scep_ca_check_request in lib/ca.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include <scep/error.h>
#include <scep/limits.h>
#include "service/service_int.h"

/*
 * Reads the single challengePassword of csr as UTF-8 into buf (size
 * SCEP_MAX_CHALLENGE).  Returns 0, SCEP_ERR_CHALLENGE when absent,
 * repeated, multi-valued, not a DirectoryString or too long.
 */
static int csr_challenge(X509_REQ *csr, unsigned char *buf, size_t *len)
{
    X509_ATTRIBUTE *attr;
    ASN1_TYPE *t;
    unsigned char *utf8 = NULL;
    int idx, n, rc = SCEP_ERR_CHALLENGE;

    idx = X509_REQ_get_attr_by_NID(csr, NID_pkcs9_challengePassword, -1);
    if (idx < 0)
        return SCEP_ERR_CHALLENGE;
    /* A second attribute would make "which one did we check" ambiguous. */
    if (X509_REQ_get_attr_by_NID(csr, NID_pkcs9_challengePassword, idx) >= 0)
        return SCEP_ERR_CHALLENGE;
    attr = X509_REQ_get_attr(csr, idx);
    if (attr == NULL || X509_ATTRIBUTE_count(attr) != 1)
        return SCEP_ERR_CHALLENGE;
    t = X509_ATTRIBUTE_get0_type(attr, 0);
    if (t == NULL)
        return SCEP_ERR_CHALLENGE;
    /* DirectoryString: openssl req writes UTF8String, most clients
     * PrintableString; BMP/Universal/Teletex are legal too, so everything
     * is normalised to UTF-8 by ASN1_STRING_to_UTF8 before comparing. */
    switch (t->type) {
    case V_ASN1_PRINTABLESTRING:
    case V_ASN1_UTF8STRING:
    case V_ASN1_T61STRING:
    case V_ASN1_BMPSTRING:
    case V_ASN1_UNIVERSALSTRING:
    case V_ASN1_IA5STRING: /* not DirectoryString, but old clients send it */
        break;
    default:
        return SCEP_ERR_CHALLENGE;
    }
    n = ASN1_STRING_to_UTF8(&utf8, t->value.asn1_string);
    if (n < 0)
        goto out;
    if ((size_t)n > SCEP_MAX_CHALLENGE)
        goto out;
    if (n > 0)
        memcpy(buf, utf8, (size_t)n);
    *len = (size_t)n;
    rc = 0;
out:
    if (utf8 != NULL)
        OPENSSL_cleanse(utf8, n > 0 ? (size_t)n : 0);
    OPENSSL_free(utf8);
    return rc;
}

/*
 * Constant-time check: both strings are copied into zero-padded buffers of
 * the maximum size and compared whole with CRYPTO_memcmp, and the length
 * difference is folded in afterwards, so the time taken depends on neither
 * the content nor where the first difference lies.
 */
int svc_check_challenge(const struct scep_service *svc, X509_REQ *csr)
{
    unsigned char want[SCEP_MAX_CHALLENGE], got[SCEP_MAX_CHALLENGE];
    size_t got_len = 0;
    int rc, diff;

    if (svc->challenge == NULL || svc->challenge_len == 0)
        return 0;
    memset(want, 0, sizeof(want));
    memset(got, 0, sizeof(got));
    rc = csr_challenge(csr, got, &got_len);
    if (rc != 0)
        goto out;
    memcpy(want, svc->challenge, svc->challenge_len); /* <= SCEP_MAX_CHALLENGE: checked in new */
    diff = CRYPTO_memcmp(want, got, sizeof(want));
    diff |= (got_len != svc->challenge_len);
    rc = diff ? SCEP_ERR_CHALLENGE : 0;
out:
    OPENSSL_cleanse(want, sizeof(want));
    OPENSSL_cleanse(got, sizeof(got));
    return rc;
}
