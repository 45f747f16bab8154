/*
 * Issuing end-entity certificates from PKCS#10 requests under a profile,
 * and checking that a presented certificate (a renewal signer) is one
 * this CA issued.  What a certificate contains is decided here, not by
 * the requester: of the CSR's requested extensions only subjectAltName
 * is copied; everything else comes from the profile.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <scep/error.h>
#include <scep/limits.h>

#include "ca/ca.h"
#include "ca/ca_internal.h"

#define PROFILE_DEFAULT_DAYS 365
#define PROFILE_DEFAULT_KU "critical,digitalSignature,keyEncipherment"
#define PROFILE_DEFAULT_EKU "clientAuth"
/* A URL in CDP/AIA config text: generous, but bounded. */
#define PROFILE_MAX_URL 1024

/*
 * Refuses URLs that would break out of the v3 config syntax (',' starts
 * the next value) or carry control characters.  Returns 0 or SCEP_ERR_CONFIG.
 */
static int url_ok(const char *url)
{
    size_t i, n = strlen(url);

    if (n == 0 || n > PROFILE_MAX_URL)
        return SCEP_ERR_CONFIG;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)url[i];

        if (c <= 0x20 || c == 0x7f || c == ',')
            return SCEP_ERR_CONFIG;
    }
    return 0;
}

/*
 * Is name's RFC 2253 text (the form the store keeps and
 * SCEP_MAX_SUBJECT measures) within SCEP_MAX_SUBJECT?  Returns 0,
 * SCEP_ERR_POLICY when longer, SCEP_ERR_NOMEM or SCEP_ERR_INTERNAL.
 * Checked before signing: a certificate that cannot be recorded must
 * never be made.
 */
static int name_fits(const X509_NAME *name)
{
    BIO *b = NULL;
    char *data = NULL;
    long n;
    int rc = SCEP_ERR_NOMEM;

    b = BIO_new(BIO_s_mem());
    if (b == NULL)
        goto out;
    /* The same flags as the service's scep_name_rfc2253(), so both
     * measure the same text. */
    rc = SCEP_ERR_INTERNAL;
    if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) < 0)
        goto out;
    n = BIO_get_mem_data(b, &data);
    if (n < 0)
        goto out;
    rc = (size_t)n > SCEP_MAX_SUBJECT ? SCEP_ERR_POLICY : 0;
out:
    BIO_free(b);
    return rc;
}

/*
 * Copies the CSR's subjectAltName into cert, critical when the subject
 * is empty (RFC 5280 4.2.1.6).  *had_san tells whether there was one.
 * Returns 0, SCEP_ERR_CSR (malformed or repeated) or SCEP_ERR_POLICY
 * (more than SCEP_MAX_SANS names, or a directoryName longer than
 * SCEP_MAX_SUBJECT).
 */
static int copy_san(X509_REQ *csr, X509 *cert, int critical, int *had_san)
{
    STACK_OF(X509_EXTENSION) *exts = NULL;
    GENERAL_NAMES *gens = NULL;
    int crit = -1, n, i, rc = SCEP_ERR_CSR;

    *had_san = 0;
    /* Reads both extensionRequest (PKCS#9) and Microsoft's msExtReq.  A
     * CSR without either gives NULL or an empty stack depending on the
     * OpenSSL 3 release; both mean "none". */
    exts = X509_REQ_get_extensions(csr);
    if (exts == NULL) {
        rc = 0;
        goto out;
    }
    /* crit comes back -1 when absent, -2 when the extension appears twice,
     * else its critical flag (with NULL returned if it did not decode). */
    gens = X509V3_get_d2i(exts, NID_subject_alt_name, &crit, NULL);
    if (crit == -1) {
        rc = 0;
        goto out;
    }
    if (gens == NULL)
        goto out;
    n = sk_GENERAL_NAME_num(gens);
    if (n <= 0)
        goto out;
    if (n > SCEP_MAX_SANS) {
        rc = SCEP_ERR_POLICY;
        goto out;
    }
    /* A directoryName is a subject in all but position: same limit. */
    for (i = 0; i < n; i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(gens, i);

        if (gn->type == GEN_DIRNAME && (rc = name_fits(gn->d.directoryName)) != 0)
            goto out;
    }
    rc = SCEP_ERR_INTERNAL;
    /* X509_add1_ext_i2d() encodes gens into a new extension owned by cert. */
    if (X509_add1_ext_i2d(cert, NID_subject_alt_name, gens, critical, X509V3_ADD_DEFAULT) != 1)
        goto out;
    *had_san = 1;
    rc = 0;
out:
    GENERAL_NAMES_free(gens);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return rc;
}

/* Adds the profile's extensions to cert, issued by ca_cert. */
static int add_profile_exts(X509 *cert, X509 *ca_cert, const struct scep_profile *p)
{
    char buf[2 * PROFILE_MAX_URL + 64], kid[2 * EVP_MAX_MD_SIZE + 1];
    const char *ku = p->key_usage != NULL ? p->key_usage : PROFILE_DEFAULT_KU;
    const char *eku = p->ext_key_usage != NULL ? p->ext_key_usage : PROFILE_DEFAULT_EKU;
    int rc, w;

    if ((rc = ca_add_ext(cert, ca_cert, NID_basic_constraints, "critical,CA:FALSE")) != 0)
        return rc;
    /* An empty string in the profile means "leave this extension out". */
    if (ku[0] != '\0' && (rc = ca_add_ext(cert, ca_cert, NID_key_usage, ku)) != 0)
        return rc;
    if (eku[0] != '\0' && (rc = ca_add_ext(cert, ca_cert, NID_ext_key_usage, eku)) != 0)
        return rc;
    if ((rc = ca_add_ext(cert, ca_cert, NID_subject_key_identifier, "hash")) != 0 ||
        (rc = ca_add_ext(cert, ca_cert, NID_authority_key_identifier, "keyid:always")) != 0)
        return rc;
    if (p->crl_url != NULL) {
        if ((rc = url_ok(p->crl_url)) != 0)
            return rc;
        if (p->crl_url_per_ca) {
            /* Each CA's own CRL (RFC 5280 4.2.1.13), so that a
             * certificate keeps pointing at its issuer's CRL after a
             * rollover: named by the CA's key id, as scepd serves it. */
            if ((rc = scep_ca_key_id_hex(ca_cert, kid, sizeof(kid))) != 0)
                return rc;
            w = snprintf(buf, sizeof(buf), "URI:%s/%s.crl", p->crl_url, kid);
        } else {
            w = snprintf(buf, sizeof(buf), "URI:%s", p->crl_url);
        }
        if (w < 0 || (size_t)w >= sizeof(buf))
            return SCEP_ERR_CONFIG;
        if ((rc = ca_add_ext(cert, ca_cert, NID_crl_distribution_points, buf)) != 0)
            return rc;
    }
    if (p->ocsp_url != NULL || p->ca_issuers_url != NULL) {
        if ((p->ocsp_url != NULL && (rc = url_ok(p->ocsp_url)) != 0) ||
            (p->ca_issuers_url != NULL && (rc = url_ok(p->ca_issuers_url)) != 0))
            return rc;
        w = snprintf(buf, sizeof(buf), "%s%s%s%s%s", p->ocsp_url != NULL ? "OCSP;URI:" : "",
                     p->ocsp_url != NULL ? p->ocsp_url : "",
                     p->ocsp_url != NULL && p->ca_issuers_url != NULL ? "," : "",
                     p->ca_issuers_url != NULL ? "caIssuers;URI:" : "",
                     p->ca_issuers_url != NULL ? p->ca_issuers_url : "");
        if (w < 0 || (size_t)w >= sizeof(buf))
            return SCEP_ERR_CONFIG;
        if ((rc = ca_add_ext(cert, ca_cert, NID_info_access, buf)) != 0)
            return rc;
    }
    return 0;
}

/*
 * Sets notBefore/notAfter from the profile, notAfter capped at the CA's.
 * Returns 0, SCEP_ERR_POLICY when the CA has (nearly) expired, or
 * SCEP_ERR_INTERNAL.
 */
static int set_validity(X509 *cert, X509 *ca_cert, const struct scep_profile *p)
{
    time_t now = time(NULL);
    long secs = p->validity_seconds;
    int days = 0;

    if (secs <= 0) {
        days = p->validity_days > 0 ? p->validity_days : PROFILE_DEFAULT_DAYS;
        secs = 0;
    }
    if (p->backdate_seconds < 0)
        return SCEP_ERR_CONFIG;
    if (X509_time_adj_ex(X509_getm_notBefore(cert), 0, -(long)p->backdate_seconds, &now) == NULL ||
        X509_time_adj_ex(X509_getm_notAfter(cert), days, secs, &now) == NULL)
        return SCEP_ERR_INTERNAL;
    /* A certificate must not outlive its issuer (RFC 5280 6.1.3 would
     * reject the chain after the CA expires anyway). */
    if (ASN1_TIME_compare(X509_get0_notAfter(cert), X509_get0_notAfter(ca_cert)) > 0 &&
        !X509_set1_notAfter(cert, X509_get0_notAfter(ca_cert)))
        return SCEP_ERR_INTERNAL;
    if (ASN1_TIME_cmp_time_t(X509_get0_notAfter(cert), now) <= 0)
        return SCEP_ERR_POLICY;
    return 0;
}

/*
 * Is name the subject of one of the CA's own certificates: the current,
 * next and archived CA certificates and the RA certificates?  An
 * end-entity certificate with issuer == subject would look self-issued
 * to path building (RFC 5280 6.1), and one naming the RA would be taken
 * for the RA by clients that pick it by name.  Returns 1 when it is.
 */
static int is_own_name(const struct scep_ca *ca, const X509_NAME *name)
{
    X509 *own[4];
    int i;

    own[0] = ca->cert;
    own[1] = ca->ra_cert;
    own[2] = ca->next_cert;
    own[3] = ca->next_ra_cert;
    /* X509_NAME_cmp compares the canonical encodings: case and spacing
     * variants of the same DN are equal. */
    for (i = 0; i < 4; i++)
        if (own[i] != NULL && X509_NAME_cmp(name, X509_get_subject_name(own[i])) == 0)
            return 1;
    for (i = 0; i < sk_X509_num(ca->archive); i++)
        if (X509_NAME_cmp(name, X509_get_subject_name(sk_X509_value(ca->archive, i))) == 0)
            return 1;
    return 0;
}

/*
 * The subjectAltNames csr requests, for checking: *out is NULL when it
 * asks for none (free with GENERAL_NAMES_free()).  Returns 0 or
 * SCEP_ERR_CSR when the extension is repeated or does not decode.
 */
static int requested_sans(X509_REQ *csr, GENERAL_NAMES **out)
{
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(csr);
    GENERAL_NAMES *gens = NULL;
    int crit = -1, rc = 0;

    *out = NULL;
    if (exts != NULL) {
        /* crit: -1 absent, -2 repeated, else decoded (NULL if it failed). */
        gens = X509V3_get_d2i(exts, NID_subject_alt_name, &crit, NULL);
        if (crit != -1 && gens == NULL)
            rc = SCEP_ERR_CSR;
    }
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    ERR_clear_error();
    *out = gens;
    return rc;
}

/*
 * What a CSR may ask for (see ca.h).
 */
int scep_ca_check_request(const struct scep_ca *ca, X509_REQ *csr, const X509_NAME *subject,
                          const struct scep_profile *p, char *why, size_t whylen)
{
    static const struct scep_profile defaults = {0};
    GENERAL_NAMES *gens = NULL;
    const X509_NAME *subj;
    int rc = SCEP_ERR_INVALID_ARG;

    if (ca == NULL || csr == NULL || why == NULL || whylen == 0)
        goto out;
    why[0] = '\0';
    if (p == NULL)
        p = &defaults;
    rc = SCEP_ERR_CSR;
    /* RFC 2986 4.1: version is v1 (0); there is no other. */
    if (X509_REQ_get_version(csr) != X509_REQ_VERSION_1) {
        snprintf(why, whylen, "CSR version %ld, not v1 (RFC 2986 4.1)",
                 X509_REQ_get_version(csr) + 1);
        goto out;
    }
    if ((rc = ca_check_pubkey(X509_REQ_get0_pubkey(csr), p, why, whylen)) != 0)
        goto out;
    subj = subject != NULL ? subject : X509_REQ_get_subject_name(csr);
    rc = SCEP_ERR_CSR;
    if (subj == NULL) {
        snprintf(why, whylen, "CSR has no subject");
        goto out;
    }
    if ((rc = ca_check_name(subj, "subject", why, whylen)) != 0)
        goto out;
    if (X509_NAME_entry_count(subj) > 0 && is_own_name(ca, subj)) {
        snprintf(why, whylen, "subject is the name of this CA or its RA");
        rc = SCEP_ERR_POLICY;
        goto out;
    }
    if ((rc = requested_sans(csr, &gens)) != 0) {
        snprintf(why, whylen, "CSR subjectAltName unreadable or repeated");
        goto out;
    }
    if (gens != NULL &&
        (rc = ca_check_general_names(gens, p->allow_wildcard_dns, why, whylen)) != 0)
        goto out;
    rc = 0;
out:
    GENERAL_NAMES_free(gens);
    return rc;
}

/*
 * Issues a certificate for csr (see ca.h).  *out: free with X509_free().
 */
int scep_ca_issue(const struct scep_ca *ca, X509_REQ *csr, const X509_NAME *subject,
                  const struct scep_profile *p, const unsigned char *serial, size_t serial_len,
                  X509 **out)
{
    static const struct scep_profile defaults = {0};
    X509 *cert = NULL;
    BIGNUM *bn = NULL;
    EVP_PKEY *pub;
    const X509_NAME *subj;
    char why[256];
    int rc = SCEP_ERR_INVALID_ARG, empty, had_san = 0;

    if (ca == NULL || csr == NULL || serial == NULL || out == NULL)
        goto out;
    if (p == NULL)
        p = &defaults;
    /* RFC 5280 4.1.2.2: positive, at most 20 octets, minimal encoding. */
    if (serial_len < 1 || serial_len > 20 || (serial[0] & 0x80) != 0 ||
        (serial[0] == 0 && (serial_len == 1 || (serial[1] & 0x80) == 0)))
        goto out;
    subj = subject != NULL ? subject : X509_REQ_get_subject_name(csr);
    rc = SCEP_ERR_CSR;
    if (subj == NULL)
        goto out;
    /* The public key is only borrowed from the CSR; X509_set_pubkey copies it. */
    pub = X509_REQ_get0_pubkey(csr);
    if (pub == NULL)
        goto out;
    /* The service checks the request first, for its failInfoText;
     * checking here as well means no code path (an approval, scepctl)
     * can put a weak key or a malformed name under our signature. */
    if ((rc = scep_ca_check_request(ca, csr, subject, p, why, sizeof(why))) != 0)
        goto out;
    /* SCEP_MAX_SUBJECT (limits.h); a renewal's subject is the old
     * certificate's and fits already. */
    if ((rc = name_fits(subj)) != 0)
        goto out;
    empty = X509_NAME_entry_count(subj) == 0;
    rc = SCEP_ERR_INTERNAL;
    cert = X509_new();
    bn = BN_bin2bn(serial, (int)serial_len, NULL);
    if (cert == NULL || bn == NULL)
        goto out;
    if (!X509_set_version(cert, X509_VERSION_3) ||
        BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) == NULL ||
        !X509_set_issuer_name(cert, X509_get_subject_name(ca->cert)) ||
        !X509_set_subject_name(cert, subj) || !X509_set_pubkey(cert, pub))
        goto out;
    if ((rc = set_validity(cert, ca->cert, p)) != 0)
        goto out;
    if ((rc = copy_san(csr, cert, empty, &had_san)) != 0)
        goto out;
    if (empty && !had_san) {
        rc = SCEP_ERR_CSR; /* nothing would name the subject at all */
        goto out;
    }
    if ((rc = add_profile_exts(cert, ca->cert, p)) != 0)
        goto out;
    /* ca->key is a key handle: the keyring signs only the digest.
     * X509_sign() returns the signature length, 0 on failure. */
    rc = SCEP_ERR_INTERNAL;
    if (X509_sign(cert, ca->key, p->md != NULL ? p->md : EVP_sha256()) <= 0)
        goto out;
    /* Catches a CA certificate and key that do not belong together before
     * a client does. */
    if (X509_verify(cert, X509_get0_pubkey(ca->cert)) != 1) {
        rc = SCEP_ERR_INTERNAL;
        goto out;
    }
    *out = cert;
    cert = NULL;
    rc = 0;
out:
    BN_free(bn);
    X509_free(cert);
    return rc;
}

/*
 * Returns 1 when cert names issuer as its issuer and carries a signature
 * by issuer's key, else 0.  The issuer itself (a self-signed CA) is not
 * one of its own issued certificates.
 */
static int issued_by(X509 *cert, X509 *issuer)
{
    EVP_PKEY *pub = X509_get0_pubkey(issuer);

    if (pub == NULL || X509_cmp(cert, issuer) == 0)
        return 0;
    if (X509_NAME_cmp(X509_get_issuer_name(cert), X509_get_subject_name(issuer)) != 0)
        return 0;
    /* X509_verify() returns 1 for a good signature, 0 bad, -1 on error. */
    return X509_verify(cert, pub) == 1;
}

/*
 * Checks cert against the current and archived CA certificates and its
 * validity at now.  Only end-entity certificates count: a CA certificate
 * (a cross or link certificate one day) and our own RA certificates
 * (current and next) are signed by the CA key too, but they are the
 * server's, never a client's, and no store records them, so they must
 * not vouch for a renewal.  Returns 0, SCEP_ERR_RENEWAL or
 * SCEP_ERR_BAD_TIME.
 */
int scep_ca_check_issued(const struct scep_ca *ca, X509 *cert, time_t now)
{
    int i, found = 0;

    if (ca == NULL || cert == NULL)
        return SCEP_ERR_RENEWAL;
    /* X509_check_ca(): non-zero for anything that may act as a CA
     * (basicConstraints CA:TRUE, keyCertSign, or a v1 self-signed cert). */
    if (X509_check_ca(cert) != 0)
        return SCEP_ERR_RENEWAL;
    if ((ca->ra_cert != NULL && X509_cmp(cert, ca->ra_cert) == 0) ||
        (ca->next_ra_cert != NULL && X509_cmp(cert, ca->next_ra_cert) == 0))
        return SCEP_ERR_RENEWAL;
    if (issued_by(cert, ca->cert))
        found = 1;
    for (i = 0; !found && i < sk_X509_num(ca->archive); i++)
        found = issued_by(cert, sk_X509_value(ca->archive, i));
    if (!found)
        return SCEP_ERR_RENEWAL;
    /* ASN1_TIME_cmp_time_t(): -1 before, 0 equal, 1 after, -2 on error. */
    {
        int nb = ASN1_TIME_cmp_time_t(X509_get0_notBefore(cert), now);
        int na = ASN1_TIME_cmp_time_t(X509_get0_notAfter(cert), now);

        if (nb == -2 || na == -2)
            return SCEP_ERR_RENEWAL;
        if (nb > 0 || na < 0)
            return SCEP_ERR_BAD_TIME;
    }
    return 0;
}
