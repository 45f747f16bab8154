/*
 * Certificate helpers shared by CA creation, loading and issuance:
 * extensions in OpenSSL's v3 config syntax, random serials, PEM files,
 * fingerprints.  None of them touch a private key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <scep/client.h>
#include <scep/error.h>

#include "ca/ca_internal.h"
#include "ca/fsutil.h"
#include "util/atomic_file.h"
#include "util/hex.h"

/* See ca.h.  Builds the extension once, without certificates: keyUsage and
 * extendedKeyUsage need no issuer or subject to be made. */
int scep_ca_check_ext_value(int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext;

    if (value == NULL)
        return SCEP_ERR_CONFIG;
    X509V3_set_ctx(&ctx, NULL, NULL, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    /* The reason is ours to phrase (the caller names the key); OpenSSL's
     * queue entry would otherwise surface in an unrelated later error. */
    ERR_clear_error();
    if (ext == NULL)
        return SCEP_ERR_CONFIG;
    X509_EXTENSION_free(ext);
    return 0;
}

/*
 * Adds an extension from its v3 config text (see ca_internal.h).
 * Returns 0 or SCEP_ERR_CONFIG / SCEP_ERR_INTERNAL.
 */
int ca_add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext = NULL;
    int rc = SCEP_ERR_CONFIG;

    /* The context tells AKI where the issuer's key id comes from and SKI
     * whose public key to hash; no config database is needed for the
     * plain values we use, so conf is NULL. */
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ext == NULL)
        goto out;
    rc = SCEP_ERR_INTERNAL;
    /* X509_add_ext() copies the extension. */
    if (!X509_add_ext(cert, ext, -1))
        goto out;
    rc = 0;
out:
    X509_EXTENSION_free(ext);
    return rc;
}

/*
 * Fills serial with 16 random bytes forming a positive DER INTEGER with
 * no leading zero byte: top bit clear, first byte non-zero.  RFC 5280
 * 4.1.2.2 wants at most 20 octets; 127 random bits also make serials
 * unpredictable (CA/B Forum asks for at least 64).  Returns 0 or
 * SCEP_ERR_INTERNAL.
 */
int scep_ca_random_serial(unsigned char serial[16])
{
    int tries;

    if (RAND_bytes(serial, 16) != 1)
        return SCEP_ERR_INTERNAL;
    serial[0] &= 0x7f;
    for (tries = 0; serial[0] == 0 && tries < 64; tries++) {
        if (RAND_bytes(serial, 1) != 1)
            return SCEP_ERR_INTERNAL;
        serial[0] &= 0x7f;
    }
    return serial[0] == 0 ? SCEP_ERR_INTERNAL : 0;
}

/* Sets a random serial on cert.  Returns 0 or SCEP_ERR_INTERNAL. */
int ca_set_random_serial(X509 *cert)
{
    unsigned char buf[16];
    BIGNUM *bn = NULL;
    int rc = SCEP_ERR_INTERNAL;

    if (scep_ca_random_serial(buf) != 0)
        goto out;
    bn = BN_bin2bn(buf, sizeof(buf), NULL);
    if (bn == NULL)
        goto out;
    /* X509_get_serialNumber() returns the certificate's own integer. */
    if (BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) == NULL)
        goto out;
    rc = 0;
out:
    BN_free(bn);
    return rc;
}

/* Reads one PEM certificate from path.  *out: free with X509_free(). */
int ca_read_cert(const char *path, X509 **out)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    BIO *bio = NULL;
    X509 *cert = NULL;
    int rc;

    rc = ca_read_file(path, &buf, &len);
    if (rc != 0)
        goto out;
    rc = SCEP_ERR_DER;
    bio = BIO_new_mem_buf(buf, (int)len); /* len <= CA_MAX_FILE fits an int */
    if (bio == NULL) {
        rc = SCEP_ERR_NOMEM;
        goto out;
    }
    cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    if (cert == NULL)
        goto out;
    *out = cert;
    cert = NULL;
    rc = 0;
out:
    X509_free(cert);
    BIO_free(bio);
    free(buf);
    return rc;
}

/* Writes cert as PEM to path, 0644, atomically.  Returns 0 or SCEP_ERR_*. */
int ca_write_cert(const char *path, X509 *cert, int exclusive)
{
    BIO *mem = NULL;
    char *pem = NULL;
    long n;
    int rc = SCEP_ERR_INTERNAL;

    mem = BIO_new(BIO_s_mem());
    if (mem == NULL)
        goto out;
    if (!PEM_write_bio_X509(mem, cert))
        goto out;
    n = BIO_get_mem_data(mem, &pem);
    if (n <= 0)
        goto out;
    rc = util_write_atomic(path, pem, (size_t)n, 0644, exclusive ? UTIL_WRITE_EXCL : 0);
out:
    BIO_free(mem);
    return rc;
}

/*
 * Serial of cert in the one serial convention (lib/util/hex.h), the name
 * of its archive file.  *out: free with OPENSSL_free().
 */
int ca_serial_hex(X509 *cert, char **out)
{
    char *hex = NULL;
    int rc = SCEP_ERR_NOMEM;

    /* A CA certificate from another tool may carry a longer serial than
     * RFC 5280 allows; this is only a file name, so take up to 64 octets. */
    hex = OPENSSL_malloc(2 * 64 + 1);
    if (hex == NULL)
        goto out;
    if ((rc = util_serial_hex(X509_get0_serialNumber(cert), hex, 2 * 64 + 1)) != 0)
        goto out;
    *out = hex;
    hex = NULL;
out:
    OPENSSL_free(hex);
    return rc;
}

/* Picks the signing digest matching the strength of cert's key. */
const EVP_MD *ca_md_for(X509 *cert)
{
    EVP_PKEY *pub = X509_get0_pubkey(cert);

    if (pub != NULL && EVP_PKEY_is_a(pub, "EC") && EVP_PKEY_get_bits(pub) >= 384)
        return EVP_sha384();
    return EVP_sha256();
}

/*
 * Writes the lowercase hex SHA-256 of cert's DER and a NUL into out: the
 * text form of scep_client_fingerprint(), the digest a client pins
 * (scepc --ca-fingerprint), so that both always name a CA the same way.
 * Returns 0, SCEP_ERR_INVALID_ARG or SCEP_ERR_INTERNAL; allocates nothing.
 */
int scep_cert_fingerprint(X509 *cert, char out[65])
{
    unsigned char md[SCEP_FINGERPRINT_LEN];
    int rc;

    if (cert == NULL || out == NULL)
        return SCEP_ERR_INVALID_ARG;
    out[0] = '\0';
    if ((rc = scep_client_fingerprint(cert, md)) != 0)
        return rc;
    return util_hex_encode(md, sizeof(md), 0, out, 65) == 0 ? 0 : SCEP_ERR_INTERNAL;
}

/* "file:" + dir/name into buf (n bytes).  Returns 0 or SCEP_ERR_TOO_LARGE. */
int ca_key_ref(char *buf, size_t n, const char *dir, const char *name)
{
    int w = snprintf(buf, n, "file:%s/%s", dir, name);

    return w < 0 || (size_t)w >= n ? SCEP_ERR_TOO_LARGE : 0;
}
