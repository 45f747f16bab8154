/*
 * Certificate facts for the store: serial hex, RFC 2253 subject,
 * subjectAltName text, validity and fingerprints of an X509.  The store
 * keeps these as text so that scepctl can list and search without
 * parsing DER; formatting them in one place keeps the service's lookups
 * (GetCert by serial, idempotence by public key) consistent with what it
 * stored.  See certinfo.h.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <scep/error.h>
#include <scep/limits.h>
#include "admin/certinfo.h"

/* Lowercase hex SHA-256 of pkey's SubjectPublicKeyInfo into out.
 * Returns 0, SCEP_ERR_INVALID_ARG or SCEP_ERR_INTERNAL. */
int scep_pubkey_fingerprint(EVP_PKEY *pkey, char out[65])
{
    unsigned char *der = NULL;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int len, rc = SCEP_ERR_INTERNAL;

    if (pkey == NULL)
        return SCEP_ERR_INVALID_ARG;
    /* i2d_PUBKEY writes the SubjectPublicKeyInfo, the same bytes the
     * certificate carries, so a CSR key and a certificate key compare. */
    len = i2d_PUBKEY(pkey, &der);
    if (len <= 0)
        goto out;
    if (!EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
        goto out;
    rc = util_hex_encode(md, 32, 0, out, 65) == 0 ? 0 : SCEP_ERR_INTERNAL;
out:
    OPENSSL_free(der);
    return rc;
}

/* Copies a memory BIO's contents into a new NUL-terminated string. */
static int bio_to_string(BIO *b, size_t max, char **out)
{
    char *data = NULL, *s;
    long n = BIO_get_mem_data(b, &data);

    if (n < 0 || (size_t)n > max)
        return SCEP_ERR_TOO_LARGE;
    s = malloc((size_t)n + 1);
    if (s == NULL)
        return SCEP_ERR_NOMEM;
    if (n > 0)
        memcpy(s, data, (size_t)n);
    s[n] = '\0';
    *out = s;
    return 0;
}

/* RFC 2253 text of name; *out is free()d by the caller.  Returns 0,
 * SCEP_ERR_TOO_LARGE, SCEP_ERR_NOMEM or SCEP_ERR_INTERNAL. */
int scep_name_rfc2253(const X509_NAME *name, char **out)
{
    BIO *b = NULL;
    char *s = NULL;
    int rc = SCEP_ERR_NOMEM;

    b = BIO_new(BIO_s_mem());
    if (b == NULL)
        goto out;
    /* XN_FLAG_RFC2253 escapes the RFC 2253 specials and writes non-ASCII
     * as escapes (ASN1_STRFLGS_ESC_MSB), so the text is printable. */
    if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) < 0) {
        rc = SCEP_ERR_INTERNAL;
        goto out;
    }
    rc = bio_to_string(b, SCEP_MAX_SUBJECT, &s);
    if (rc != 0)
        goto out;
    *out = s;
    s = NULL;
out:
    free(s);
    BIO_free(b);
    return rc;
}

/* Appends an IA5String's bytes, with anything unprintable or the list
 * separator replaced, so a hostile SAN cannot forge list entries. */
static int append_ia5(BIO *b, const char *prefix, const ASN1_STRING *s)
{
    const unsigned char *p = ASN1_STRING_get0_data(s);
    int n = ASN1_STRING_length(s), i;

    if (BIO_puts(b, prefix) < 0)
        return SCEP_ERR_NOMEM;
    for (i = 0; i < n; i++) {
        char c = (p[i] >= 0x21 && p[i] <= 0x7e && p[i] != ',') ? (char)p[i] : '?';
        if (BIO_write(b, &c, 1) != 1)
            return SCEP_ERR_NOMEM;
    }
    return 0;
}

static int append_ip(BIO *b, const ASN1_OCTET_STRING *ip)
{
    char txt[INET6_ADDRSTRLEN];
    int n = ASN1_STRING_length(ip);
    const unsigned char *p = ASN1_STRING_get0_data(ip);

    if (n == 4) {
        if (inet_ntop(AF_INET, p, txt, sizeof(txt)) == NULL)
            return SCEP_ERR_INTERNAL;
    } else if (n == 16) {
        if (inet_ntop(AF_INET6, p, txt, sizeof(txt)) == NULL)
            return SCEP_ERR_INTERNAL;
    } else {
        snprintf(txt, sizeof(txt), "?");
    }
    if (BIO_printf(b, "IP:%s", txt) < 0)
        return SCEP_ERR_NOMEM;
    return 0;
}

static int append_name(BIO *b, const GENERAL_NAME *gn)
{
    char *dn = NULL;
    int rc;

    switch (gn->type) {
    case GEN_DNS:
        return append_ia5(b, "DNS:", gn->d.dNSName);
    case GEN_EMAIL:
        return append_ia5(b, "email:", gn->d.rfc822Name);
    case GEN_URI:
        return append_ia5(b, "URI:", gn->d.uniformResourceIdentifier);
    case GEN_IPADD:
        return append_ip(b, gn->d.iPAddress);
    case GEN_DIRNAME:
        rc = scep_name_rfc2253(gn->d.directoryName, &dn);
        if (rc != 0)
            return rc;
        rc = BIO_printf(b, "DirName:%s", dn) < 0 ? SCEP_ERR_NOMEM : 0;
        free(dn);
        return rc;
    case GEN_RID: {
        char oid[80];
        OBJ_obj2txt(oid, sizeof(oid), gn->d.registeredID, 1);
        return BIO_printf(b, "RID:%s", oid) < 0 ? SCEP_ERR_NOMEM : 0;
    }
    case GEN_OTHERNAME: {
        char oid[80];
        OBJ_obj2txt(oid, sizeof(oid), gn->d.otherName->type_id, 1);
        return BIO_printf(b, "othername:%s", oid) < 0 ? SCEP_ERR_NOMEM : 0;
    }
    default:
        return BIO_puts(b, "other:?") < 0 ? SCEP_ERR_NOMEM : 0;
    }
}

/*
 * subjectAltName of exts as "DNS:a, IP:b" text; *out NULL when there is
 * none, else free()d by the caller.  Returns 0, SCEP_ERR_CSR for an
 * undecodable or repeated extension, SCEP_ERR_TOO_LARGE, SCEP_ERR_NOMEM.
 */
int scep_sans_text(const STACK_OF(X509_EXTENSION) *exts, char **out)
{
    GENERAL_NAMES *gens = NULL;
    BIO *b = NULL;
    char *s = NULL;
    int rc = SCEP_ERR_NOMEM, i, n, crit = 0;

    /* X509V3_get_d2i returns NULL both for "absent" and for "malformed";
     * crit tells them apart (-1 absent, -2 several, >= 0 decode failed). */
    gens = X509V3_get_d2i(exts, NID_subject_alt_name, &crit, NULL);
    if (gens == NULL) {
        if (crit == -1) {
            *out = NULL;
            return 0;
        }
        return SCEP_ERR_CSR;
    }
    n = sk_GENERAL_NAME_num(gens);
    if (n > SCEP_MAX_SANS) {
        rc = SCEP_ERR_TOO_LARGE;
        goto out;
    }
    if (n == 0) {
        *out = NULL;
        rc = 0;
        goto out;
    }
    b = BIO_new(BIO_s_mem());
    if (b == NULL)
        goto out;
    for (i = 0; i < n; i++) {
        if (i > 0 && BIO_puts(b, ", ") < 0)
            goto out;
        rc = append_name(b, sk_GENERAL_NAME_value(gens, i));
        if (rc != 0)
            goto out;
    }
    rc = bio_to_string(b, (size_t)SCEP_MAX_SANS * (SCEP_MAX_SUBJECT + 16), &s);
    if (rc != 0)
        goto out;
    *out = s;
    s = NULL;
out:
    free(s);
    BIO_free(b);
    GENERAL_NAMES_free(gens);
    return rc;
}

/* ASN1_TIME to Unix time; ASN1_TIME_to_tm normalises UTCTime and
 * GeneralizedTime alike to UTC broken-down time. */
static int asn1_time_unix(const ASN1_TIME *t, int64_t *out)
{
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
        return SCEP_ERR_INTERNAL;
    *out = (int64_t)timegm(&tm);
    return 0;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);

    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

/*
 * The store's columns for cert (see certinfo.h); released with
 * scep_certinfo_clear().  Returns 0 or SCEP_ERR_*, ci zeroed on failure.
 */
int scep_certinfo_from_x509(X509 *cert, const char *issuer_fp, struct scep_cert_info *ci)
{
    struct scep_cert_info tmp;
    char serial[2 * 21 + 1 + 2];
    char fp[65];
    unsigned char *der = NULL;
    int len, rc = SCEP_ERR_NOMEM;

    memset(&tmp, 0, sizeof(tmp));
    memset(ci, 0, sizeof(*ci));
    if (cert == NULL)
        return SCEP_ERR_INVALID_ARG;

    rc = util_serial_hex(X509_get0_serialNumber(cert), serial, sizeof(serial));
    if (rc != 0)
        goto out;
    rc = SCEP_ERR_NOMEM;
    if ((tmp.serial = dup_str(serial)) == NULL)
        goto out;
    if (issuer_fp != NULL && (tmp.issuer_fp = dup_str(issuer_fp)) == NULL)
        goto out;
    rc = scep_name_rfc2253(X509_get_subject_name(cert), &tmp.subject);
    if (rc != 0)
        goto out;
    rc = scep_sans_text(X509_get0_extensions(cert), &tmp.sans);
    if (rc != 0)
        goto out;
    rc = asn1_time_unix(X509_get0_notBefore(cert), &tmp.not_before);
    if (rc != 0)
        goto out;
    rc = asn1_time_unix(X509_get0_notAfter(cert), &tmp.not_after);
    if (rc != 0)
        goto out;
    rc = scep_pubkey_fingerprint(X509_get0_pubkey(cert), fp);
    if (rc != 0)
        goto out;
    rc = SCEP_ERR_NOMEM;
    if ((tmp.pubkey_fp = dup_str(fp)) == NULL)
        goto out;
    len = i2d_X509(cert, &der);
    if (len <= 0) {
        rc = SCEP_ERR_INTERNAL;
        goto out;
    }
    tmp.der = der;
    tmp.der_len = (size_t)len;
    der = NULL;
    tmp.status = SCEP_CERT_VALID;
    tmp.revocation_reason = -1;

    *ci = tmp;
    memset(&tmp, 0, sizeof(tmp));
    rc = 0;
out:
    OPENSSL_free(der);
    scep_certinfo_clear(&tmp);
    return rc;
}

/* Frees what scep_certinfo_from_x509() put in ci and zeroes it.  Accepts NULL. */
void scep_certinfo_clear(struct scep_cert_info *ci)
{
    if (ci == NULL)
        return;
    free(ci->serial);
    free(ci->issuer_fp);
    free(ci->subject);
    free(ci->sans);
    free(ci->pubkey_fp);
    OPENSSL_free(ci->der); /* from i2d_X509 */
    memset(ci, 0, sizeof(*ci));
}
