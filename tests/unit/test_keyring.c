/*
 * Unit tests for the keyring (lib/keyring/keyring.h) and its key handles
 * (keyhandle.h).  The keyring part drives the byte-level operations with
 * "file:" keys and checks the results with plain OpenSSL on the public
 * key: digest signatures verify, PKCS#1 v1.5 and OAEP blobs decrypt, and
 * the refusals (open key file, unknown scheme, wrong digest length) hold.
 * The handle part signs a certificate, a CRL and a CMS SignedData and
 * opens CMS envelopes through a handle, and checks that the handle holds
 * no private key and works from several threads at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/stat.h>

#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <scep/error.h>

#include "keyring/keyhandle.h"
#include "keyring/keyring.h"
#include "testutil.h"

struct fixture {
    char *dir;
    char rsa_ref[4200], ec_ref[4200];
    EVP_PKEY *rsa, *ec; /* the same keys, as plain OpenSSL keys */
    struct scep_keyring *kr;
};

/* Writes key as PEM to path with mode and returns the "file:" reference. */
static void write_key(EVP_PKEY *key, const char *path, mode_t mode, char *ref, size_t n)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, mode), 0);
    snprintf(ref, n, "file:%s", path);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char path[4200];

    assert_non_null(f);
    f->dir = tu_tempdir();
    f->rsa = tu_rsa_key(2048);
    f->ec = tu_ec_key();
    snprintf(path, sizeof(path), "%s/rsa.key", f->dir);
    write_key(f->rsa, path, 0600, f->rsa_ref, sizeof(f->rsa_ref));
    snprintf(path, sizeof(path), "%s/ec.key", f->dir);
    write_key(f->ec, path, 0600, f->ec_ref, sizeof(f->ec_ref));
    assert_int_equal(scep_keyring_new(&f->kr), 0);
    assert_int_equal(scep_keyring_load(f->kr, f->rsa_ref), 0);
    assert_int_equal(scep_keyring_load(f->kr, f->ec_ref), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    scep_keyring_free(f->kr);
    EVP_PKEY_free(f->rsa);
    EVP_PKEY_free(f->ec);
    tu_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* Verifies sig over dgst (SHA-256) with the public key pub. */
static int verify_digest(EVP_PKEY *pub, const unsigned char *dgst, size_t dlen,
                         const unsigned char *sig, size_t slen)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pub, NULL);
    int ok;

    assert_non_null(ctx);
    assert_true(EVP_PKEY_verify_init(ctx) > 0);
    assert_true(EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) > 0);
    ok = EVP_PKEY_verify(ctx, sig, slen, dgst, dlen);
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

static void sign_and_verify(struct fixture *f, const char *ref, EVP_PKEY *pub)
{
    unsigned char dgst[32], sig[SCEP_KEYRING_MAX_OUT];
    size_t slen = 0;
    struct scep_keyring_info info;

    assert_int_equal(scep_keyring_get_info(f->kr, ref, &info), 0);
    assert_int_equal(EVP_Digest("hello", 5, dgst, NULL, EVP_sha256(), NULL), 1);
    assert_int_equal(
        scep_keyring_sign_digest(f->kr, ref, "SHA256", dgst, sizeof(dgst), sig, sizeof(sig), &slen),
        0);
    assert_true(slen > 0 && slen <= info.max_out);
    assert_int_equal(verify_digest(pub, dgst, sizeof(dgst), sig, slen), 1);
    /* the alias OpenSSL prints works as well */
    assert_int_equal(scep_keyring_sign_digest(f->kr, ref, "SHA2-256", dgst, sizeof(dgst), sig,
                                              sizeof(sig), &slen),
                     0);
    assert_int_equal(verify_digest(pub, dgst, sizeof(dgst), sig, slen), 1);
    /* a different digest does not verify */
    dgst[0] ^= 1;
    assert_int_not_equal(verify_digest(pub, dgst, sizeof(dgst), sig, slen), 1);
    ERR_clear_error();
}

static void test_sign_digest_rsa(void **state)
{
    struct fixture *f = *state;
    struct scep_keyring_info info;

    sign_and_verify(f, f->rsa_ref, f->rsa);
    assert_int_equal(scep_keyring_get_info(f->kr, f->rsa_ref, &info), 0);
    assert_int_equal(info.type, SCEP_KEYRING_RSA);
    assert_int_equal(info.bits, 2048);
    assert_int_equal(info.max_out, 256);
}

static void test_sign_digest_ec(void **state)
{
    struct fixture *f = *state;
    struct scep_keyring_info info;

    sign_and_verify(f, f->ec_ref, f->ec);
    assert_int_equal(scep_keyring_get_info(f->kr, f->ec_ref, &info), 0);
    assert_int_equal(info.type, SCEP_KEYRING_EC);
    assert_int_equal(info.bits, 256);
}

static void test_sign_refusals(void **state)
{
    struct fixture *f = *state;
    unsigned char dgst[64] = {0}, sig[SCEP_KEYRING_MAX_OUT];
    size_t slen = 0;

    /* wrong length for the named digest */
    assert_int_equal(
        scep_keyring_sign_digest(f->kr, f->rsa_ref, "SHA256", dgst, 31, sig, sizeof(sig), &slen),
        SCEP_ERR_INVALID_ARG);
    assert_int_equal(
        scep_keyring_sign_digest(f->kr, f->ec_ref, "SHA384", dgst, 32, sig, sizeof(sig), &slen),
        SCEP_ERR_INVALID_ARG);
    /* digests the keyring does not sign with */
    assert_int_equal(
        scep_keyring_sign_digest(f->kr, f->rsa_ref, "MD5", dgst, 16, sig, sizeof(sig), &slen),
        SCEP_ERR_BAD_ALG);
    assert_int_equal(
        scep_keyring_sign_digest(f->kr, f->rsa_ref, NULL, dgst, 32, sig, sizeof(sig), &slen),
        SCEP_ERR_BAD_ALG);
    /* no room for the signature */
    assert_int_equal(
        scep_keyring_sign_digest(f->kr, f->rsa_ref, "SHA256", dgst, 32, sig, 255, &slen),
        SCEP_ERR_TOO_LARGE);
    /* no such key */
    assert_int_equal(scep_keyring_sign_digest(f->kr, "file:/nonexistent", "SHA256", dgst, 32, sig,
                                              sizeof(sig), &slen),
                     SCEP_ERR_NOT_FOUND);
}

/* Encrypts in to pub with padding (and OAEP SHA-256 + label when oaep). */
static size_t encrypt_to(EVP_PKEY *pub, int oaep, const unsigned char *in, size_t in_len,
                         unsigned char *out, size_t cap)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pub, NULL);
    size_t n = cap;

    assert_non_null(ctx);
    assert_true(EVP_PKEY_encrypt_init(ctx) > 0);
    if (oaep) {
        unsigned char *label = OPENSSL_memdup("scep", 4);

        assert_true(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) > 0);
        assert_true(EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) > 0);
        assert_true(EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) > 0);
        assert_true(EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, label, 4) > 0);
    } else {
        assert_true(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0);
    }
    assert_true(EVP_PKEY_encrypt(ctx, out, &n, in, in_len) > 0);
    EVP_PKEY_CTX_free(ctx);
    return n;
}

static void test_decrypt_pkcs1(void **state)
{
    struct fixture *f = *state;
    static const unsigned char cek[16] = "0123456789abcdef";
    unsigned char blob[512], out[SCEP_KEYRING_MAX_OUT];
    struct scep_keyring_decrypt_opts o = {.pad = SCEP_KEYRING_PAD_PKCS1};
    size_t blen, olen = 0;

    blen = encrypt_to(f->rsa, 0, cek, sizeof(cek), blob, sizeof(blob));
    assert_int_equal(blen, 256);
    assert_int_equal(
        scep_keyring_decrypt(f->kr, f->rsa_ref, &o, blob, blen, out, sizeof(out), &olen), 0);
    assert_int_equal(olen, sizeof(cek));
    assert_memory_equal(out, cek, sizeof(cek));
    /* a damaged block fails as one uniform SCEP_ERR_DECRYPT (no detail) */
    blob[10] ^= 0x55;
    assert_int_equal(
        scep_keyring_decrypt(f->kr, f->rsa_ref, &o, blob, blen, out, sizeof(out), &olen),
        SCEP_ERR_DECRYPT);
    assert_int_equal(ERR_peek_error(), 0);
    /* wrong lengths, EC key */
    assert_int_equal(
        scep_keyring_decrypt(f->kr, f->rsa_ref, &o, blob, blen + 1, out, sizeof(out), &olen),
        SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_keyring_decrypt(f->kr, f->rsa_ref, &o, blob, 0, out, sizeof(out), &olen),
                     SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_keyring_decrypt(f->kr, f->rsa_ref, &o, blob, blen, out, 100, &olen),
                     SCEP_ERR_INVALID_ARG);
    assert_int_equal(
        scep_keyring_decrypt(f->kr, f->ec_ref, &o, blob, blen, out, sizeof(out), &olen),
        SCEP_ERR_KEY);
}

static void test_decrypt_oaep(void **state)
{
    struct fixture *f = *state;
    static const unsigned char cek[32] = "0123456789abcdef0123456789abcdef";
    unsigned char blob[512], out[SCEP_KEYRING_MAX_OUT];
    struct scep_keyring_decrypt_opts o = {.pad = SCEP_KEYRING_PAD_OAEP,
                                          .oaep_md = "SHA256",
                                          .mgf1_md = "SHA256",
                                          .label = (const unsigned char *)"scep",
                                          .label_len = 4};
    size_t blen, olen = 0;

    blen = encrypt_to(f->rsa, 1, cek, sizeof(cek), blob, sizeof(blob));
    assert_int_equal(
        scep_keyring_decrypt(f->kr, f->rsa_ref, &o, blob, blen, out, sizeof(out), &olen), 0);
    assert_int_equal(olen, sizeof(cek));
    assert_memory_equal(out, cek, sizeof(cek));
    /* the wrong label, the wrong digest, PKCS#1 padding: all refused */
    o.label_len = 3;
    assert_int_equal(
        scep_keyring_decrypt(f->kr, f->rsa_ref, &o, blob, blen, out, sizeof(out), &olen),
        SCEP_ERR_DECRYPT);
    o.label_len = 4;
    o.oaep_md = "SHA1";
    assert_int_equal(
        scep_keyring_decrypt(f->kr, f->rsa_ref, &o, blob, blen, out, sizeof(out), &olen),
        SCEP_ERR_DECRYPT);
    o.oaep_md = "MD5";
    assert_int_equal(
        scep_keyring_decrypt(f->kr, f->rsa_ref, &o, blob, blen, out, sizeof(out), &olen),
        SCEP_ERR_BAD_ALG);
    o.pad = SCEP_KEYRING_PAD_PKCS1;
    assert_int_equal(
        scep_keyring_decrypt(f->kr, f->rsa_ref, &o, blob, blen, out, sizeof(out), &olen),
        SCEP_ERR_DECRYPT);
}

static void test_load_refusals(void **state)
{
    struct fixture *f = *state;
    struct scep_keyring *kr = NULL;
    char path[4200], ref[4300];

    assert_int_equal(scep_keyring_new(&kr), 0);
    /* group-readable key file */
    snprintf(path, sizeof(path), "%s/open.key", f->dir);
    write_key(f->rsa, path, 0640, ref, sizeof(ref));
    assert_int_equal(scep_keyring_load(kr, ref), SCEP_ERR_PERMISSIONS);
    assert_non_null(strstr(scep_keyring_get0_error(kr), "group or others"));
    assert_int_equal(chmod(path, 0604), 0);
    assert_int_equal(scep_keyring_load(kr, ref), SCEP_ERR_PERMISSIONS);
    /* schemes */
    assert_int_equal(scep_keyring_load(kr, "pkcs11:token=ca;object=key"), SCEP_ERR_UNSUPPORTED);
    assert_non_null(strstr(scep_keyring_get0_error(kr), "pkcs11:"));
    assert_int_equal(scep_keyring_load(kr, path), SCEP_ERR_INVALID_ARG); /* no scheme */
    assert_int_equal(scep_keyring_load(kr, "file:"), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_keyring_load(kr, ""), SCEP_ERR_INVALID_ARG);
    /* missing file, not a key */
    snprintf(ref, sizeof(ref), "file:%s/missing.key", f->dir);
    assert_int_equal(scep_keyring_load(kr, ref), SCEP_ERR_NOT_FOUND);
    snprintf(path, sizeof(path), "%s/junk.key", f->dir);
    {
        FILE *j = fopen(path, "w");

        assert_non_null(j);
        fputs("not a key\n", j);
        fclose(j);
        assert_int_equal(chmod(path, 0600), 0);
    }
    snprintf(ref, sizeof(ref), "file:%s", path);
    assert_int_equal(scep_keyring_load(kr, ref), SCEP_ERR_KEY);
    /* a small RSA key */
    {
        EVP_PKEY *small = EVP_RSA_gen(1024);

        snprintf(path, sizeof(path), "%s/small.key", f->dir);
        write_key(small, path, 0600, ref, sizeof(ref));
        assert_int_equal(scep_keyring_load(kr, ref), SCEP_ERR_KEY);
        EVP_PKEY_free(small);
    }
    scep_keyring_free(kr);
}

static void test_generate(void **state)
{
    struct fixture *f = *state;
    struct scep_keyring_keyspec ec = {.type = SCEP_KEYRING_EC, .ec_curve = "secp384r1"};
    struct scep_keyring_keyspec bad = {.type = SCEP_KEYRING_RSA, .rsa_bits = 1024};
    struct scep_keyring_info info;
    struct stat st;
    char ref[4300];

    snprintf(ref, sizeof(ref), "file:%s/new.key", f->dir);
    assert_int_equal(scep_keyring_generate(f->kr, ref, &ec), 0);
    assert_int_equal(stat(ref + 5, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(scep_keyring_get_info(f->kr, ref, &info), 0);
    assert_int_equal(info.type, SCEP_KEYRING_EC);
    assert_int_equal(info.bits, 384);
    assert_int_equal(scep_keyring_generate(f->kr, ref, &ec), SCEP_ERR_EXISTS);
    /* a fresh keyring loads what was written */
    {
        struct scep_keyring *kr = NULL;
        unsigned char *a = NULL, *b = NULL;
        size_t alen = 0, blen = 0;

        assert_int_equal(scep_keyring_new(&kr), 0);
        assert_int_equal(scep_keyring_load(kr, ref), 0);
        assert_int_equal(scep_keyring_get1_spki(kr, ref, &a, &alen), 0);
        assert_int_equal(scep_keyring_get1_spki(f->kr, ref, &b, &blen), 0);
        assert_int_equal(alen, blen);
        assert_memory_equal(a, b, alen);
        free(a);
        free(b);
        scep_keyring_free(kr);
    }
    snprintf(ref, sizeof(ref), "file:%s/weak.key", f->dir);
    assert_int_equal(scep_keyring_generate(f->kr, ref, &bad), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_keyring_generate(f->kr, "pkcs11:object=x", &ec), SCEP_ERR_UNSUPPORTED);
}

static void test_public_half_and_cert(void **state)
{
    struct fixture *f = *state;
    unsigned char *spki = NULL, *mine = NULL, *der = NULL, *cert_der = NULL;
    const unsigned char *p;
    size_t len = 0, clen = 0;
    EVP_PKEY *pub;
    X509 *cert = tu_self_signed(f->rsa, "keyring");
    int n;

    assert_int_equal(scep_keyring_get1_spki(f->kr, f->rsa_ref, &spki, &len), 0);
    p = spki;
    pub = d2i_PUBKEY(NULL, &p, (long)len);
    assert_non_null(pub);
    assert_ptr_equal(p, spki + len);
    assert_int_equal(EVP_PKEY_eq(pub, f->rsa), 1);
    assert_int_equal(scep_keyring_spki_matches(f->kr, f->rsa_ref, spki, len), 0);
    assert_int_equal(scep_keyring_spki_matches(f->kr, f->ec_ref, spki, len), SCEP_ERR_KEY);
    n = i2d_PUBKEY(f->rsa, &mine);
    assert_true(n > 0);
    assert_int_equal(scep_keyring_spki_matches(f->kr, f->rsa_ref, mine, (size_t)n), 0);

    /* the certificate: none until attached, then the same bytes back */
    assert_int_equal(scep_keyring_get1_cert(f->kr, f->rsa_ref, &cert_der, &clen),
                     SCEP_ERR_NOT_FOUND);
    n = i2d_X509(cert, &der);
    assert_true(n > 0);
    assert_int_equal(scep_keyring_set_cert(f->kr, f->rsa_ref, der, (size_t)n), 0);
    assert_int_equal(scep_keyring_get1_cert(f->kr, f->rsa_ref, &cert_der, &clen), 0);
    assert_int_equal(clen, (size_t)n);
    assert_memory_equal(cert_der, der, clen);
    assert_int_equal(scep_keyring_set_cert(f->kr, "file:/none", der, (size_t)n),
                     SCEP_ERR_NOT_FOUND);
    free(cert_der);
    OPENSSL_free(der);
    OPENSSL_free(mine);
    free(spki);
    EVP_PKEY_free(pub);
    X509_free(cert);
}

/* ---- handles ---------------------------------------------------------- */

/* A self-signed certificate for the key behind handle/pub, signed
 * through the handle with md. */
static X509 *handle_cert(EVP_PKEY *handle, EVP_PKEY *pub, const EVP_MD *md)
{
    X509 *c = X509_new();
    X509_NAME *n = X509_NAME_new();

    assert_non_null(c);
    assert_non_null(n);
    assert_int_equal(
        X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"h", -1, -1, 0),
        1);
    assert_int_equal(X509_set_version(c, X509_VERSION_3), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(c), 7), 1);
    assert_int_equal(X509_set_subject_name(c, n), 1);
    assert_int_equal(X509_set_issuer_name(c, n), 1);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(c), 0));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(c), 3600));
    assert_int_equal(X509_set_pubkey(c, pub), 1);
    assert_true(X509_sign(c, handle, md) > 0);
    X509_NAME_free(n);
    return c;
}

static void cert_through_handle(struct fixture *f, const char *ref, EVP_PKEY *plain, int sig_nid,
                                const EVP_MD *md)
{
    EVP_PKEY *h = NULL, *pub = NULL;
    X509 *c;

    assert_int_equal(scep_keyhandle_new(f->kr, ref, &h), 0);
    assert_int_equal(scep_keyhandle_get1_pubkey(f->kr, ref, &pub), 0);
    c = handle_cert(h, pub, md);
    assert_int_equal(X509_verify(c, plain), 1);
    assert_int_equal(X509_get_signature_nid(c), sig_nid);
    /* the handle matches its certificate like the real key does */
    assert_int_equal(X509_check_private_key(c, h), 1);
    assert_int_equal(EVP_PKEY_eq(h, plain), 1);
    assert_int_equal(EVP_PKEY_eq(plain, h), 1);
    assert_int_equal(EVP_PKEY_get_bits(h), EVP_PKEY_get_bits(plain));
    assert_int_equal(EVP_PKEY_get_size(h), EVP_PKEY_get_size(plain));
    assert_true(EVP_PKEY_is_a(h, EVP_PKEY_is_a(plain, "RSA") ? "RSA" : "EC"));
    X509_free(c);
    EVP_PKEY_free(pub);
    EVP_PKEY_free(h);
}

static void test_handle_signs_certificates(void **state)
{
    struct fixture *f = *state;

    cert_through_handle(f, f->rsa_ref, f->rsa, NID_sha256WithRSAEncryption, EVP_sha256());
    cert_through_handle(f, f->rsa_ref, f->rsa, NID_sha1WithRSAEncryption, EVP_sha1());
    cert_through_handle(f, f->ec_ref, f->ec, NID_ecdsa_with_SHA256, EVP_sha256());
    cert_through_handle(f, f->ec_ref, f->ec, NID_ecdsa_with_SHA384, EVP_sha384());
}

static void test_handle_holds_no_private_key(void **state)
{
    struct fixture *f = *state;
    EVP_PKEY *h = NULL, *other = tu_rsa_key_fresh(2048);
    BIGNUM *d = NULL;
    unsigned char *der = NULL;
    X509 *c = tu_self_signed(other, "other");

    assert_int_equal(scep_keyhandle_new(f->kr, f->rsa_ref, &h), 0);
    assert_int_equal(EVP_PKEY_get_bn_param(h, OSSL_PKEY_PARAM_RSA_D, &d), 0);
    assert_null(d);
    assert_true(i2d_PrivateKey(h, &der) <= 0);
    assert_null(der);
    /* nor does it match another key's certificate */
    assert_int_equal(X509_check_private_key(c, h), 0);
    assert_int_not_equal(EVP_PKEY_eq(h, other), 1);
    assert_int_equal(scep_keyhandle_new(f->kr, "file:/none", &h), SCEP_ERR_NOT_FOUND);
    ERR_clear_error();
    X509_free(c);
    EVP_PKEY_free(other);
    EVP_PKEY_free(h);
}

static void test_handle_signs_crl(void **state)
{
    struct fixture *f = *state;
    EVP_PKEY *h = NULL;
    X509_CRL *crl = X509_CRL_new();
    X509_NAME *n = X509_NAME_new();
    ASN1_TIME *t = ASN1_TIME_set(NULL, time(NULL));

    assert_int_equal(scep_keyhandle_new(f->kr, f->ec_ref, &h), 0);
    assert_int_equal(
        X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"ca", -1, -1, 0),
        1);
    assert_int_equal(X509_CRL_set_version(crl, X509_CRL_VERSION_2), 1);
    assert_int_equal(X509_CRL_set_issuer_name(crl, n), 1);
    assert_int_equal(X509_CRL_set1_lastUpdate(crl, t), 1);
    assert_true(X509_CRL_sign(crl, h, EVP_sha256()) > 0);
    assert_int_equal(X509_CRL_verify(crl, f->ec), 1);
    assert_int_equal(X509_CRL_get_signature_nid(crl), NID_ecdsa_with_SHA256);
    ASN1_TIME_free(t);
    X509_NAME_free(n);
    X509_CRL_free(crl);
    EVP_PKEY_free(h);
}

/* Encrypts content to cert as CMS, PKCS#1 v1.5 (oaep 0) or RSA-OAEP with
 * OpenSSL's SHA-1 default (1, what lib/msg sends) or SHA-256 and
 * MGF1-SHA-256 (2), and decrypts through the handle. */
static void envelope_round_trip(EVP_PKEY *h, X509 *cert, int oaep)
{
    static const char content[] = "a SCEP messageData";
    STACK_OF(X509) *rcpts = sk_X509_new_null();
    BIO *in = BIO_new_mem_buf(content, sizeof(content)), *out = BIO_new(BIO_s_mem());
    CMS_ContentInfo *cms;
    char *got = NULL;
    long n;

    assert_true(sk_X509_push(rcpts, cert) > 0);
    if (!oaep) {
        cms = CMS_encrypt(rcpts, in, EVP_aes_128_cbc(), CMS_BINARY);
        assert_non_null(cms);
    } else {
        CMS_RecipientInfo *ri;
        EVP_PKEY_CTX *pctx;

        cms = CMS_encrypt(NULL, NULL, EVP_aes_256_cbc(), CMS_PARTIAL | CMS_BINARY);
        assert_non_null(cms);
        ri = CMS_add1_recipient_cert(cms, cert, CMS_KEY_PARAM);
        assert_non_null(ri);
        pctx = CMS_RecipientInfo_get0_pkey_ctx(ri);
        assert_true(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) > 0);
        if (oaep == 2) {
            assert_true(EVP_PKEY_CTX_set_rsa_oaep_md(pctx, EVP_sha256()) > 0);
            assert_true(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) > 0);
        }
        assert_int_equal(CMS_final(cms, in, NULL, CMS_BINARY), 1);
    }
    assert_int_equal(CMS_decrypt(cms, h, cert, NULL, out, CMS_BINARY), 1);
    n = BIO_get_mem_data(out, &got);
    assert_int_equal(n, (long)sizeof(content));
    assert_memory_equal(got, content, sizeof(content));
    CMS_ContentInfo_free(cms);
    BIO_free(in);
    BIO_free(out);
    sk_X509_free(rcpts);
}

static void test_handle_decrypts_envelopes(void **state)
{
    struct fixture *f = *state;
    EVP_PKEY *h = NULL;
    X509 *cert = tu_self_signed(f->rsa, "recipient");

    assert_int_equal(scep_keyhandle_new(f->kr, f->rsa_ref, &h), 0);
    envelope_round_trip(h, cert, 0);
    envelope_round_trip(h, cert, 1);
    envelope_round_trip(h, cert, 2);
    X509_free(cert);
    EVP_PKEY_free(h);
}

/* A SignedData signed through the handle of ref verifies with plain's certificate. */
static void cms_sign_round_trip(struct fixture *f, const char *ref, EVP_PKEY *plain)
{
    static const char content[] = "CertRep content";
    EVP_PKEY *h = NULL;
    X509 *cert = tu_self_signed(plain, "signer");
    STACK_OF(X509) *certs = sk_X509_new_null();
    X509_STORE *store = X509_STORE_new();
    BIO *in = BIO_new_mem_buf(content, sizeof(content));
    CMS_ContentInfo *cms, *parsed;
    unsigned char *der = NULL;
    const unsigned char *p;
    int n;

    assert_int_equal(scep_keyhandle_new(f->kr, ref, &h), 0);
    cms = CMS_sign(NULL, NULL, NULL, NULL, CMS_PARTIAL | CMS_BINARY);
    assert_non_null(cms);
    assert_non_null(CMS_add1_signer(cms, cert, h, EVP_sha256(), CMS_BINARY | CMS_NOSMIMECAP));
    assert_int_equal(CMS_final(cms, in, NULL, CMS_BINARY), 1);
    /* Verified as a receiver does, from the encoding: the object itself
     * still has the handle as its signer key, which cannot verify. */
    n = i2d_CMS_ContentInfo(cms, &der);
    assert_true(n > 0);
    p = der;
    parsed = d2i_CMS_ContentInfo(NULL, &p, n);
    assert_non_null(parsed);
    assert_true(sk_X509_push(certs, cert) > 0);
    assert_int_equal(CMS_verify(parsed, certs, store, NULL, NULL, CMS_NO_SIGNER_CERT_VERIFY), 1);
    CMS_ContentInfo_free(parsed);
    OPENSSL_free(der);
    CMS_ContentInfo_free(cms);
    BIO_free(in);
    X509_STORE_free(store);
    sk_X509_free(certs);
    X509_free(cert);
    EVP_PKEY_free(h);
}

static void test_handle_signs_cms(void **state)
{
    struct fixture *f = *state;

    cms_sign_round_trip(f, f->rsa_ref, f->rsa);
    cms_sign_round_trip(f, f->ec_ref, f->ec);
}

struct thread_arg {
    EVP_PKEY *h, *pub, *plain;
    int ok;
};

static void *sign_many(void *p)
{
    struct thread_arg *a = p;
    int i;

    a->ok = 1;
    for (i = 0; i < 20; i++) {
        X509 *c = handle_cert(a->h, a->pub, EVP_sha256());

        if (X509_verify(c, a->plain) != 1)
            a->ok = 0;
        X509_free(c);
    }
    return NULL;
}

/* One handle shared by several threads, as scepd's workers share the CA. */
static void test_handle_threads(void **state)
{
    struct fixture *f = *state;
    struct thread_arg a[4];
    pthread_t t[4];
    EVP_PKEY *h = NULL, *pub = NULL;
    int i;

    assert_int_equal(scep_keyhandle_new(f->kr, f->ec_ref, &h), 0);
    assert_int_equal(scep_keyhandle_get1_pubkey(f->kr, f->ec_ref, &pub), 0);
    for (i = 0; i < 4; i++) {
        a[i] = (struct thread_arg){.h = h, .pub = pub, .plain = f->ec};
        assert_int_equal(pthread_create(&t[i], NULL, sign_many, &a[i]), 0);
    }
    for (i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(a[i].ok, 1);
    }
    EVP_PKEY_free(pub);
    EVP_PKEY_free(h);
}

/*
 * scep_keyring_private_ops(): each private-key operation adds exactly
 * one, asked directly or through a handle (the provider forwards to the
 * keyring, which alone counts); refusals before the key is used and size
 * queries add nothing.
 */
static void test_private_ops_counted(void **state)
{
    struct fixture *f = *state;
    static const unsigned char cek[16] = "0123456789abcdef";
    unsigned char dgst[32] = {0}, sig[SCEP_KEYRING_MAX_OUT], blob[512], out[SCEP_KEYRING_MAX_OUT];
    struct scep_keyring_decrypt_opts o = {.pad = SCEP_KEYRING_PAD_PKCS1};
    EVP_PKEY *h = NULL, *pub = NULL;
    EVP_PKEY_CTX *ctx;
    size_t slen = 0, blen, olen = 0;
    uint64_t before;
    X509 *c;

    before = scep_keyring_private_ops();
    assert_int_equal(scep_keyring_sign_digest(f->kr, f->rsa_ref, "SHA256", dgst, sizeof(dgst), sig,
                                              sizeof(sig), &slen),
                     0);
    assert_int_equal(scep_keyring_private_ops(), before + 1);

    blen = encrypt_to(f->rsa, 0, cek, sizeof(cek), blob, sizeof(blob));
    before = scep_keyring_private_ops();
    assert_int_equal(
        scep_keyring_decrypt(f->kr, f->rsa_ref, &o, blob, blen, out, sizeof(out), &olen), 0);
    assert_int_equal(scep_keyring_private_ops(), before + 1);

    /* a damaged block still costs the RSA operation */
    blob[10] ^= 0x55;
    before = scep_keyring_private_ops();
    assert_int_equal(
        scep_keyring_decrypt(f->kr, f->rsa_ref, &o, blob, blen, out, sizeof(out), &olen),
        SCEP_ERR_DECRYPT);
    assert_int_equal(scep_keyring_private_ops(), before + 1);

    /* refused before the key is touched: nothing */
    before = scep_keyring_private_ops();
    assert_int_equal(
        scep_keyring_sign_digest(f->kr, f->rsa_ref, "SHA256", dgst, 31, sig, sizeof(sig), &slen),
        SCEP_ERR_INVALID_ARG);
    assert_int_equal(
        scep_keyring_decrypt(f->kr, f->ec_ref, &o, blob, blen, out, sizeof(out), &olen),
        SCEP_ERR_KEY);
    assert_int_equal(scep_keyring_private_ops(), before);

    /* through a handle: X509_sign() asks the size, then signs once */
    assert_int_equal(scep_keyhandle_new(f->kr, f->rsa_ref, &h), 0);
    assert_int_equal(scep_keyhandle_get1_pubkey(f->kr, f->rsa_ref, &pub), 0);
    before = scep_keyring_private_ops();
    c = handle_cert(h, pub, EVP_sha256());
    assert_int_equal(scep_keyring_private_ops(), before + 1);
    X509_free(c);

    /* and a decryption through the handle: the size query is free */
    blob[10] ^= 0x55;
    ctx = EVP_PKEY_CTX_new(h, NULL);
    assert_non_null(ctx);
    assert_true(EVP_PKEY_decrypt_init(ctx) > 0);
    assert_true(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0);
    before = scep_keyring_private_ops();
    olen = 0;
    assert_true(EVP_PKEY_decrypt(ctx, NULL, &olen, blob, blen) > 0);
    assert_int_equal(scep_keyring_private_ops(), before);
    olen = sizeof(out);
    assert_true(EVP_PKEY_decrypt(ctx, out, &olen, blob, blen) > 0);
    assert_int_equal(olen, sizeof(cek));
    assert_memory_equal(out, cek, sizeof(cek));
    assert_int_equal(scep_keyring_private_ops(), before + 1);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pub);
    EVP_PKEY_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_digest_rsa),
        cmocka_unit_test(test_sign_digest_ec),
        cmocka_unit_test(test_sign_refusals),
        cmocka_unit_test(test_decrypt_pkcs1),
        cmocka_unit_test(test_decrypt_oaep),
        cmocka_unit_test(test_load_refusals),
        cmocka_unit_test(test_generate),
        cmocka_unit_test(test_public_half_and_cert),
        cmocka_unit_test(test_handle_signs_certificates),
        cmocka_unit_test(test_handle_holds_no_private_key),
        cmocka_unit_test(test_handle_signs_crl),
        cmocka_unit_test(test_handle_decrypts_envelopes),
        cmocka_unit_test(test_handle_signs_cms),
        cmocka_unit_test(test_handle_threads),
        cmocka_unit_test(test_private_ops_counted),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
