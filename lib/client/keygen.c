/*
 * Keys and certificate requests for the libscep client: RSA key
 * generation, the "CN=dev1,O=Acme" subject syntax, and PKCS#10 requests
 * with subjectAltNames and a challengePassword (RFC 8894 2.2, 3.3.1).
 *
 * Every request is RSA because every SCEP server and client surveyed is
 * (the envelope's key transport needs an RSA key on both ends).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include <scep/client.h>
#include <scep/error.h>
#include <scep/limits.h>

/* Generates an RSA key of bits (see client.h).  *out: EVP_PKEY_free(). */
int scep_key_generate_rsa(int bits, EVP_PKEY **out)
{
    EVP_PKEY *k;

    if (out == NULL || bits < SCEP_MIN_RSA_BITS || bits > SCEP_MAX_RSA_BITS)
        return SCEP_ERR_KEY;
    /* EVP_RSA_gen() is a macro over EVP_PKEY_Q_keygen() taking a size_t. */
    k = EVP_RSA_gen((unsigned int)bits);
    if (k == NULL)
        return SCEP_ERR_INTERNAL;
    *out = k;
    return 0;
}

/* Adds one "key=value" entry (both already unescaped) to name. */
static int add_rdn(X509_NAME *name, const char *key, const char *val)
{
    if (key[0] == '\0' || val[0] == '\0')
        return SCEP_ERR_INVALID_ARG;
    /* OBJ_txt2nid accepts short names (CN), long names (commonName) and
     * dotted OIDs; MBSTRING_UTF8 lets OpenSSL pick PrintableString where
     * the value allows it, UTF8String otherwise. */
    if (OBJ_txt2nid(key) == NID_undef)
        return SCEP_ERR_INVALID_ARG;
    if (!X509_NAME_add_entry_by_txt(name, key, MBSTRING_UTF8, (const unsigned char *)val, -1, -1,
                                    0))
        return SCEP_ERR_INVALID_ARG;
    return 0;
}

/* Parses "CN=dev1,O=Acme" (see client.h).  *out: X509_NAME_free(). */
int scep_subject_parse(const char *text, X509_NAME **out)
{
    X509_NAME *name = NULL;
    char *buf = NULL, *key, *w;
    const char *p;
    size_t n;
    int in_value = 0;
    int rc = SCEP_ERR_INVALID_ARG;

    if (text == NULL || out == NULL)
        goto out;
    n = strlen(text);
    if (n == 0 || n > SCEP_MAX_SUBJECT)
        goto out;
    rc = SCEP_ERR_NOMEM;
    buf = malloc(n + 1);
    name = X509_NAME_new();
    if (buf == NULL || name == NULL)
        goto out;
    rc = SCEP_ERR_INVALID_ARG;
    /* Unescape into buf, cutting it into NUL-terminated key and value
     * pieces; an RDN ends at an unescaped ',' or the end. */
    w = key = buf;
    for (p = text;; p++) {
        if (*p == '\\') {
            p++;
            if (*p == '\0')
                goto out;
            *w++ = *p;
        } else if (*p == '=' && !in_value) {
            *w++ = '\0';
            in_value = 1;
        } else if (*p == ',' || *p == '\0') {
            char *val;

            if (!in_value)
                goto out;
            *w = '\0';
            val = key + strlen(key) + 1;
            while (*key == ' ')
                key++;
            rc = add_rdn(name, key, val);
            if (rc != 0)
                goto out;
            rc = SCEP_ERR_INVALID_ARG;
            if (*p == '\0')
                break;
            w = key = buf;
            in_value = 0;
        } else {
            *w++ = *p;
        }
    }
    *out = name;
    name = NULL;
    rc = 0;
out:
    X509_NAME_free(name);
    free(buf);
    return rc;
}

/* One "TYPE:value" SAN into a new GENERAL_NAME. */
static int make_san(const char *spec, GENERAL_NAME **out)
{
    GENERAL_NAME *g = NULL;
    ASN1_IA5STRING *ia5 = NULL;
    ASN1_OCTET_STRING *ip = NULL;
    const char *v;
    int type;
    int rc = SCEP_ERR_INVALID_ARG;

    if (strncmp(spec, "DNS:", 4) == 0) {
        type = GEN_DNS;
        v = spec + 4;
    } else if (strncmp(spec, "IP:", 3) == 0) {
        type = GEN_IPADD;
        v = spec + 3;
    } else if (strncmp(spec, "email:", 6) == 0) {
        type = GEN_EMAIL;
        v = spec + 6;
    } else if (strncmp(spec, "URI:", 4) == 0) {
        type = GEN_URI;
        v = spec + 4;
    } else {
        goto out;
    }
    if (v[0] == '\0' || strlen(v) > SCEP_MAX_SUBJECT)
        goto out;
    if (type == GEN_IPADD) {
        /* a2i_IPADDRESS parses dotted IPv4 and RFC 5952 IPv6 text into
         * the 4 or 16 raw bytes an iPAddress holds. */
        ip = a2i_IPADDRESS(v);
        if (ip == NULL)
            goto out;
    } else {
        ia5 = ASN1_IA5STRING_new();
        if (ia5 == NULL || !ASN1_STRING_set(ia5, v, (int)strlen(v))) {
            rc = SCEP_ERR_NOMEM;
            goto out;
        }
    }
    g = GENERAL_NAME_new();
    if (g == NULL) {
        rc = SCEP_ERR_NOMEM;
        goto out;
    }
    /* set0 takes ownership of the value. */
    GENERAL_NAME_set0_value(g, type, type == GEN_IPADD ? (void *)ip : (void *)ia5);
    ip = NULL;
    ia5 = NULL;
    *out = g;
    g = NULL;
    rc = 0;
out:
    GENERAL_NAME_free(g);
    ASN1_IA5STRING_free(ia5);
    ASN1_OCTET_STRING_free(ip);
    return rc;
}

/* Makes a self-signed PKCS#10 (see client.h).  *out: X509_REQ_free(). */
int scep_csr_make(EVP_PKEY *key, const struct scep_csr_params *p, X509_REQ **out)
{
    X509_REQ *req = NULL;
    X509_NAME *name = NULL;
    GENERAL_NAMES *sans = NULL;
    STACK_OF(X509_EXTENSION) *exts = NULL;
    X509_EXTENSION *ext = NULL;
    size_t i;
    int rc = SCEP_ERR_INVALID_ARG;

    if (key == NULL || p == NULL || out == NULL || p->nsans > SCEP_MAX_SANS)
        goto out;
    if (p->nsans > 0 && p->sans == NULL)
        goto out;
    if (p->challenge != NULL && strlen(p->challenge) > SCEP_MAX_CHALLENGE)
        goto out;
    rc = scep_subject_parse(p->subject, &name);
    if (rc != 0)
        goto out;
    rc = SCEP_ERR_NOMEM;
    req = X509_REQ_new();
    if (req == NULL)
        goto out;
    rc = SCEP_ERR_INTERNAL;
    if (!X509_REQ_set_version(req, X509_REQ_VERSION_1) || !X509_REQ_set_subject_name(req, name) ||
        !X509_REQ_set_pubkey(req, key))
        goto out;
    if (p->nsans > 0) {
        rc = SCEP_ERR_NOMEM;
        if ((sans = GENERAL_NAMES_new()) == NULL)
            goto out;
        for (i = 0; i < p->nsans; i++) {
            GENERAL_NAME *g = NULL;

            rc = make_san(p->sans[i], &g);
            if (rc != 0)
                goto out;
            if (!sk_GENERAL_NAME_push(sans, g)) {
                GENERAL_NAME_free(g);
                rc = SCEP_ERR_NOMEM;
                goto out;
            }
        }
        rc = SCEP_ERR_INTERNAL;
        ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, sans);
        if (ext == NULL || (exts = sk_X509_EXTENSION_new_null()) == NULL ||
            !sk_X509_EXTENSION_push(exts, ext))
            goto out;
        ext = NULL;
        /* Written as a PKCS#9 extensionRequest attribute. */
        if (!X509_REQ_add_extensions(req, exts))
            goto out;
    }
    if (p->challenge != NULL) {
        /* PrintableString would refuse many passwords; UTF8 lets OpenSSL
         * choose, and servers accept any DirectoryString. */
        rc = SCEP_ERR_INTERNAL;
        if (!X509_REQ_add1_attr_by_NID(req, NID_pkcs9_challengePassword, MBSTRING_UTF8,
                                       (const unsigned char *)p->challenge, -1))
            goto out;
    }
    rc = SCEP_ERR_INTERNAL;
    if (X509_REQ_sign(req, key, p->md ? p->md : EVP_sha256()) <= 0)
        goto out;
    *out = req;
    req = NULL;
    rc = 0;
out:
    X509_REQ_free(req);
    X509_NAME_free(name);
    GENERAL_NAMES_free(sans);
    X509_EXTENSION_free(ext);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return rc;
}
