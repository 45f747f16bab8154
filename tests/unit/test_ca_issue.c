/*
 * Unit tests for issuing certificates from CSRs under a profile, random
 * serials, fingerprints, CRLs, and the renewal check (check_issued).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <scep/error.h>
#include <scep/limits.h>
#include <scep/message.h>

#include "ca/ca.h"
#include "testutil.h"

struct fixture {
    char *dir;
    struct scep_ca *ca;
};

static int setup(void **state)
{
    struct scep_ca_init_opts o = {.rsa_bits = 2048, .subject = "CN=Issue CA,O=Example"};
    struct fixture *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    f->dir = tu_tempdir();
    if (scep_ca_create(f->dir, &o) != 0 || scep_ca_load(f->dir, &f->ca) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    scep_ca_free(f->ca);
    tu_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* CSR with subject cn (NULL: empty), n DNS SANs and, to be ignored by the
 * CA, a requested basicConstraints CA:TRUE. */
static X509_REQ *make_csr(EVP_PKEY *key, const char *cn, int n_sans)
{
    X509_REQ *r = X509_REQ_new();
    X509_NAME *name = X509_NAME_new();
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    X509_EXTENSION *e;
    char *san = NULL;
    size_t cap = (size_t)n_sans * 32 + 1, off = 0;
    int i;

    assert_non_null(r);
    assert_non_null(name);
    assert_non_null(exts);
    if (cn != NULL)
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
    /* PKCS#10 v1: a CSR made in memory has no version until set. */
    assert_int_equal(X509_REQ_set_version(r, X509_REQ_VERSION_1), 1);
    X509_REQ_set_subject_name(r, name);
    X509_REQ_set_pubkey(r, key);
    if (n_sans > 0) {
        san = calloc(1, cap);
        assert_non_null(san);
        for (i = 0; i < n_sans; i++)
            off += (size_t)snprintf(san + off, cap - off, "%sDNS:h%d.example.com", i ? "," : "", i);
        e = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);
        assert_non_null(e);
        sk_X509_EXTENSION_push(exts, e);
    }
    e = X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints, "critical,CA:TRUE");
    assert_non_null(e);
    sk_X509_EXTENSION_push(exts, e);
    assert_int_equal(X509_REQ_add_extensions(r, exts), 1);
    assert_true(X509_REQ_sign(r, key, EVP_sha256()) > 0);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_NAME_free(name);
    free(san);
    return r;
}

static long seconds_from_now(const ASN1_TIME *t)
{
    int days = 0, secs = 0;

    assert_int_equal(ASN1_TIME_diff(&days, &secs, NULL, t), 1);
    return (long)days * 86400 + secs;
}

static int ext_critical(X509 *cert, int nid)
{
    int i = X509_get_ext_by_NID(cert, nid, -1);

    assert_true(i >= 0);
    return X509_EXTENSION_get_critical(X509_get_ext(cert, i));
}

static void test_issue_full_profile(void **state)
{
    struct fixture *f = *state;
    struct scep_profile p = {.validity_days = 30,
                             .backdate_seconds = 600,
                             .crl_url = "http://ca.example.com/ca.crl",
                             .ocsp_url = "http://ocsp.example.com",
                             .ca_issuers_url = "http://ca.example.com/ca.crt"};
    unsigned char serial[16];
    EVP_PKEY *key = tu_rsa_key(2048);
    X509_REQ *csr = make_csr(key, "device1", 3);
    X509 *ca_cert = scep_ca_get0_cert(f->ca), *cert = NULL;
    GENERAL_NAMES *gens;
    AUTHORITY_INFO_ACCESS *aia;
    BIGNUM *want, *got;
    long d;

    assert_int_equal(scep_ca_random_serial(serial), 0);
    assert_int_equal(scep_ca_issue(f->ca, csr, NULL, &p, serial, sizeof(serial), &cert), 0);
    assert_non_null(cert);

    assert_int_equal(X509_verify(cert, X509_get0_pubkey(ca_cert)), 1);
    assert_int_equal(X509_check_issued(ca_cert, cert), X509_V_OK);
    assert_int_equal(X509_get_version(cert), X509_VERSION_3);
    assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(cert), X509_get_subject_name(ca_cert)), 0);
    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(cert), X509_REQ_get_subject_name(csr)), 0);
    assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(cert), key), 1);
    want = BN_bin2bn(serial, sizeof(serial), NULL);
    got = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    assert_int_equal(BN_cmp(want, got), 0);
    BN_free(want);
    BN_free(got);

    /* the CSR asked for CA:TRUE: the profile says no */
    assert_int_equal(X509_check_ca(cert), 0);
    assert_int_equal(ext_critical(cert, NID_basic_constraints), 1);
    assert_int_equal(X509_get_key_usage(cert), KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT);
    assert_int_equal(ext_critical(cert, NID_key_usage), 1);
    assert_int_equal(X509_get_extended_key_usage(cert), XKU_SSL_CLIENT);
    assert_non_null(X509_get0_subject_key_id(cert));
    assert_int_equal(
        ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(cert), X509_get0_subject_key_id(ca_cert)),
        0);

    gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    assert_non_null(gens);
    assert_int_equal(sk_GENERAL_NAME_num(gens), 3);
    {
        int type;
        ASN1_STRING *s = GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(gens, 2), &type);

        assert_int_equal(type, GEN_DNS);
        assert_string_equal((const char *)ASN1_STRING_get0_data(s), "h2.example.com");
    }
    GENERAL_NAMES_free(gens);
    assert_int_equal(ext_critical(cert, NID_subject_alt_name), 0);

    assert_true(X509_get_ext_by_NID(cert, NID_crl_distribution_points, -1) >= 0);
    aia = X509_get_ext_d2i(cert, NID_info_access, NULL, NULL);
    assert_non_null(aia);
    assert_int_equal(sk_ACCESS_DESCRIPTION_num(aia), 2);
    assert_int_equal(OBJ_obj2nid(sk_ACCESS_DESCRIPTION_value(aia, 0)->method), NID_ad_OCSP);
    assert_int_equal(OBJ_obj2nid(sk_ACCESS_DESCRIPTION_value(aia, 1)->method), NID_ad_ca_issuers);
    AUTHORITY_INFO_ACCESS_free(aia);

    d = seconds_from_now(X509_get0_notAfter(cert));
    assert_true(d > 30 * 86400 - 60 && d <= 30 * 86400);
    d = seconds_from_now(X509_get0_notBefore(cert));
    assert_true(d >= -600 - 60 && d <= -600);

    X509_free(cert);
    X509_REQ_free(csr);
    EVP_PKEY_free(key);
}

static void test_issue_default_profile(void **state)
{
    struct fixture *f = *state;
    unsigned char serial[] = {0x01, 0x02};
    EVP_PKEY *key = tu_ec_key();
    X509_REQ *csr = tu_csr(key, "plain", NULL, NULL);
    X509 *cert = NULL;
    long d;

    assert_int_equal(scep_ca_issue(f->ca, csr, NULL, NULL, serial, sizeof(serial), &cert), 0);
    assert_int_equal(X509_verify(cert, X509_get0_pubkey(scep_ca_get0_cert(f->ca))), 1);
    assert_int_equal(X509_get_ext_by_NID(cert, NID_subject_alt_name, -1), -1);
    assert_int_equal(X509_get_ext_by_NID(cert, NID_crl_distribution_points, -1), -1);
    assert_int_equal(X509_get_ext_by_NID(cert, NID_info_access, -1), -1);
    assert_int_equal(X509_get_extended_key_usage(cert), XKU_SSL_CLIENT);
    assert_int_equal(ASN1_INTEGER_get(X509_get0_serialNumber(cert)), 0x0102);
    d = seconds_from_now(X509_get0_notAfter(cert));
    assert_true(d > 365 * 86400 - 60 && d <= 365 * 86400);
    X509_free(cert);
    X509_REQ_free(csr);
    EVP_PKEY_free(key);
}

static void test_issue_profile_variants(void **state)
{
    struct fixture *f = *state;
    struct scep_profile p = {.validity_seconds = 120,
                             .key_usage = "critical,digitalSignature",
                             .ext_key_usage = "serverAuth,clientAuth",
                             .md = EVP_sha384()};
    unsigned char serial[] = {0x42};
    EVP_PKEY *key = tu_rsa_key(2048);
    X509_REQ *csr = tu_csr(key, "short", NULL, "short.example.com");
    X509 *cert = NULL;
    long d;

    assert_int_equal(scep_ca_issue(f->ca, csr, NULL, &p, serial, 1, &cert), 0);
    d = seconds_from_now(X509_get0_notAfter(cert));
    assert_true(d > 60 && d <= 120);
    assert_int_equal(X509_get_key_usage(cert), KU_DIGITAL_SIGNATURE);
    assert_int_equal(X509_get_extended_key_usage(cert), XKU_SSL_CLIENT | XKU_SSL_SERVER);
    assert_int_equal(X509_get_signature_nid(cert), NID_sha384WithRSAEncryption);
    X509_free(cert);
    cert = NULL;

    /* an empty string leaves the extension out; garbage is a config error */
    p.ext_key_usage = "";
    assert_int_equal(scep_ca_issue(f->ca, csr, NULL, &p, serial, 1, &cert), 0);
    assert_int_equal(X509_get_ext_by_NID(cert, NID_ext_key_usage, -1), -1);
    X509_free(cert);
    cert = NULL;
    p.key_usage = "critical,frobnicate";
    assert_int_equal(scep_ca_issue(f->ca, csr, NULL, &p, serial, 1, &cert), SCEP_ERR_CONFIG);
    p.key_usage = NULL;
    p.crl_url = "http://x/a,URI:http://evil";
    assert_int_equal(scep_ca_issue(f->ca, csr, NULL, &p, serial, 1, &cert), SCEP_ERR_CONFIG);
    assert_null(cert);
    X509_REQ_free(csr);
    EVP_PKEY_free(key);
}

static void test_issue_subject_override(void **state)
{
    struct fixture *f = *state;
    unsigned char serial[] = {0x10, 0x20, 0x30};
    EVP_PKEY *key = tu_rsa_key(2048);
    X509_REQ *csr = tu_csr(key, "requested-name", NULL, NULL);
    X509_NAME *renewed = X509_NAME_new();
    X509 *cert = NULL;

    X509_NAME_add_entry_by_txt(renewed, "O", MBSTRING_UTF8, (const unsigned char *)"Example", -1,
                               -1, 0);
    X509_NAME_add_entry_by_txt(renewed, "CN", MBSTRING_UTF8, (const unsigned char *)"old-name", -1,
                               -1, 0);
    assert_int_equal(scep_ca_issue(f->ca, csr, renewed, NULL, serial, sizeof(serial), &cert), 0);
    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(cert), renewed), 0);
    X509_free(cert);
    X509_NAME_free(renewed);
    X509_REQ_free(csr);
    EVP_PKEY_free(key);
}

static void test_issue_empty_subject(void **state)
{
    struct fixture *f = *state;
    unsigned char serial[] = {0x11};
    EVP_PKEY *key = tu_rsa_key(2048);
    X509_REQ *with_san = make_csr(key, NULL, 1), *without = make_csr(key, NULL, 0);
    X509 *cert = NULL;

    assert_int_equal(scep_ca_issue(f->ca, with_san, NULL, NULL, serial, 1, &cert), 0);
    assert_int_equal(X509_NAME_entry_count(X509_get_subject_name(cert)), 0);
    /* RFC 5280 4.2.1.6: an empty subject makes the SAN critical */
    assert_int_equal(ext_critical(cert, NID_subject_alt_name), 1);
    X509_free(cert);
    cert = NULL;
    assert_int_equal(scep_ca_issue(f->ca, without, NULL, NULL, serial, 1, &cert), SCEP_ERR_CSR);
    assert_null(cert);
    X509_REQ_free(with_san);
    X509_REQ_free(without);
    EVP_PKEY_free(key);
}

static void test_issue_san_limit(void **state)
{
    struct fixture *f = *state;
    unsigned char serial[] = {0x12};
    EVP_PKEY *key = tu_rsa_key(2048);
    X509_REQ *ok = make_csr(key, "many", SCEP_MAX_SANS);
    X509_REQ *over = make_csr(key, "too-many", SCEP_MAX_SANS + 1);
    X509 *cert = NULL;

    assert_int_equal(scep_ca_issue(f->ca, ok, NULL, NULL, serial, 1, &cert), 0);
    X509_free(cert);
    cert = NULL;
    assert_int_equal(scep_ca_issue(f->ca, over, NULL, NULL, serial, 1, &cert), SCEP_ERR_POLICY);
    assert_null(cert);
    X509_REQ_free(ok);
    X509_REQ_free(over);
    EVP_PKEY_free(key);
}

static void test_issue_bad_serial(void **state)
{
    struct fixture *f = *state;
    unsigned char neg[] = {0x80, 0x01}, padded[] = {0x00, 0x01}, zero[] = {0x00};
    unsigned char padded_ok[] = {0x00, 0x80}, big[21];
    EVP_PKEY *key = tu_rsa_key(2048);
    X509_REQ *csr = tu_csr(key, "serials", NULL, NULL);
    X509 *cert = NULL;

    memset(big, 0x11, sizeof(big));
    assert_int_equal(scep_ca_issue(f->ca, csr, NULL, NULL, neg, 2, &cert), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_ca_issue(f->ca, csr, NULL, NULL, padded, 2, &cert), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_ca_issue(f->ca, csr, NULL, NULL, zero, 1, &cert), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_ca_issue(f->ca, csr, NULL, NULL, big, 21, &cert), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_ca_issue(f->ca, csr, NULL, NULL, big, 0, &cert), SCEP_ERR_INVALID_ARG);
    assert_null(cert);
    assert_int_equal(scep_ca_issue(f->ca, csr, NULL, NULL, padded_ok, 2, &cert), 0);
    assert_int_equal(ASN1_INTEGER_get(X509_get0_serialNumber(cert)), 0x80);
    X509_free(cert);
    cert = NULL;
    assert_int_equal(scep_ca_issue(f->ca, csr, NULL, NULL, big, 20, &cert), 0);
    X509_free(cert);
    X509_REQ_free(csr);
    EVP_PKEY_free(key);
}

static void test_issue_weak_key(void **state)
{
    struct fixture *f = *state;
    unsigned char serial[] = {0x13};
    EVP_PKEY *weak = EVP_RSA_gen(1024);
    X509_REQ *csr;
    X509 *cert = NULL;

    assert_non_null(weak);
    csr = tu_csr(weak, "weak", NULL, NULL);
    assert_int_equal(scep_ca_issue(f->ca, csr, NULL, NULL, serial, 1, &cert), SCEP_ERR_KEY);
    assert_null(cert);
    X509_REQ_free(csr);
    EVP_PKEY_free(weak);
}

static void test_validity_capped_by_ca(void **state)
{
    struct scep_ca_init_opts o = {.rsa_bits = 2048, .validity_days = 2};
    struct scep_profile p = {.validity_days = 365};
    struct scep_ca *ca = NULL;
    char *dir = tu_tempdir();
    unsigned char serial[] = {0x01};
    EVP_PKEY *key = tu_rsa_key(2048);
    X509_REQ *csr = tu_csr(key, "capped", NULL, NULL);
    X509 *cert = NULL;

    (void)state;
    assert_int_equal(scep_ca_create(dir, &o), 0);
    assert_int_equal(scep_ca_load(dir, &ca), 0);
    assert_int_equal(scep_ca_issue(ca, csr, NULL, &p, serial, 1, &cert), 0);
    assert_int_equal(
        ASN1_TIME_compare(X509_get0_notAfter(cert), X509_get0_notAfter(scep_ca_get0_cert(ca))), 0);
    X509_free(cert);
    X509_REQ_free(csr);
    EVP_PKEY_free(key);
    scep_ca_free(ca);
    tu_rmrf(dir);
    free(dir);
}

static void test_random_serial(void **state)
{
    unsigned char s[64][16];
    int i, j;

    (void)state;
    for (i = 0; i < 64; i++) {
        assert_int_equal(scep_ca_random_serial(s[i]), 0);
        assert_int_equal(s[i][0] & 0x80, 0);
        assert_int_not_equal(s[i][0], 0);
        for (j = 0; j < i; j++)
            assert_int_not_equal(memcmp(s[i], s[j], 16), 0);
    }
}

static void test_fingerprint(void **state)
{
    struct fixture *f = *state;
    X509 *cert = scep_ca_get0_cert(f->ca);
    unsigned char *der = NULL, md[32];
    char fp[65], want[65];
    unsigned int n = 0;
    int len, i;

    len = i2d_X509(cert, &der);
    assert_true(len > 0);
    assert_int_equal(EVP_Digest(der, (size_t)len, md, &n, EVP_sha256(), NULL), 1);
    for (i = 0; i < 32; i++)
        snprintf(want + 2 * i, 3, "%02x", md[i]);
    assert_int_equal(scep_cert_fingerprint(cert, fp), 0);
    assert_string_equal(fp, want);
    OPENSSL_free(der);
}

static void test_crl(void **state)
{
    struct fixture *f = *state;
    unsigned char s1[] = {0x05, 0x06}, s2[] = {0x01};
    struct scep_revoked_entry e[] = {
        {.serial = s1, .serial_len = sizeof(s1), .revoked_at = 1700000000, .reason = 1},
        {.serial = s2, .serial_len = sizeof(s2), .revoked_at = 1700000100, .reason = -1},
    };
    X509_CRL *crl = NULL;
    STACK_OF(X509_REVOKED) *revs;
    ASN1_INTEGER *num;
    ASN1_ENUMERATED *reason;
    X509_REVOKED *r;
    long d;

    assert_int_equal(scep_ca_make_crl(f->ca, NULL, e, 2, 42, 3600, &crl), 0);
    assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(scep_ca_get0_cert(f->ca))), 1);
    assert_int_equal(X509_CRL_get_version(crl), X509_CRL_VERSION_2);
    assert_int_equal(
        X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(scep_ca_get0_cert(f->ca))),
        0);
    num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
    assert_non_null(num);
    assert_int_equal(ASN1_INTEGER_get(num), 42);
    ASN1_INTEGER_free(num);
    assert_true(X509_CRL_get_ext_by_NID(crl, NID_authority_key_identifier, -1) >= 0);
    d = seconds_from_now(X509_CRL_get0_nextUpdate(crl));
    assert_true(d > 3600 - 60 && d <= 3600);

    revs = X509_CRL_get_REVOKED(crl);
    assert_int_equal(sk_X509_REVOKED_num(revs), 2);
    /* sorted by serial */
    r = sk_X509_REVOKED_value(revs, 0);
    assert_int_equal(ASN1_INTEGER_get(X509_REVOKED_get0_serialNumber(r)), 1);
    assert_null(X509_REVOKED_get_ext_d2i(r, NID_crl_reason, NULL, NULL));
    assert_int_equal(ASN1_TIME_cmp_time_t(X509_REVOKED_get0_revocationDate(r), 1700000100), 0);
    r = sk_X509_REVOKED_value(revs, 1);
    assert_int_equal(ASN1_INTEGER_get(X509_REVOKED_get0_serialNumber(r)), 0x0506);
    reason = X509_REVOKED_get_ext_d2i(r, NID_crl_reason, NULL, NULL);
    assert_non_null(reason);
    assert_int_equal(ASN1_ENUMERATED_get(reason), 1);
    ASN1_ENUMERATED_free(reason);
    X509_CRL_free(crl);

    /* empty CRL, and bad arguments */
    assert_int_equal(scep_ca_make_crl(f->ca, NULL, NULL, 0, 1, 60, &crl), 0);
    /* OpenSSL keeps no stack at all for a CRL without entries */
    assert_true(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)) <= 0);
    assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(scep_ca_get0_cert(f->ca))), 1);
    X509_CRL_free(crl);
    crl = NULL;
    e[0].reason = 7;
    assert_int_equal(scep_ca_make_crl(f->ca, NULL, e, 2, 43, 3600, &crl), SCEP_ERR_INVALID_ARG);
    assert_null(crl);
}

static void test_check_issued(void **state)
{
    struct fixture *f = *state;
    struct scep_ca_init_opts o = {.rsa_bits = 2048, .subject = "CN=Issue CA,O=Example"};
    struct scep_profile shortp = {.validity_seconds = 60};
    struct scep_ca *other = NULL;
    char *dir = tu_tempdir();
    unsigned char serial[] = {0x33};
    EVP_PKEY *key = tu_rsa_key(2048);
    X509_REQ *csr = tu_csr(key, "renewer", NULL, NULL);
    X509 *own = NULL, *foreign = NULL, *self = tu_self_signed(key, "renewer");
    time_t now = time(NULL);

    assert_int_equal(scep_ca_issue(f->ca, csr, NULL, &shortp, serial, 1, &own), 0);
    assert_int_equal(scep_ca_check_issued(f->ca, own, now), 0);
    /* expired, and not yet valid */
    assert_int_equal(scep_ca_check_issued(f->ca, own, now + 3600), SCEP_ERR_BAD_TIME);
    assert_int_equal(scep_ca_check_issued(f->ca, own, now - 3600), SCEP_ERR_BAD_TIME);

    /* same issuer name, different key: only the signature tells them apart */
    assert_int_equal(scep_ca_create(dir, &o), 0);
    assert_int_equal(scep_ca_load(dir, &other), 0);
    assert_int_equal(scep_ca_issue(other, csr, NULL, NULL, serial, 1, &foreign), 0);
    now = time(NULL); /* making the other CA took a while */
    assert_int_equal(scep_ca_check_issued(f->ca, foreign, now), SCEP_ERR_RENEWAL);
    assert_int_equal(scep_ca_check_issued(other, foreign, now), 0);
    assert_int_equal(scep_ca_check_issued(f->ca, self, now), SCEP_ERR_RENEWAL);
    /* the CA certificate is not a certificate the CA issued to someone */
    assert_int_equal(scep_ca_check_issued(f->ca, scep_ca_get0_cert(f->ca), now), SCEP_ERR_RENEWAL);

    X509_free(own);
    X509_free(foreign);
    X509_free(self);
    X509_REQ_free(csr);
    EVP_PKEY_free(key);
    scep_ca_free(other);
    tu_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_issue_full_profile),
        cmocka_unit_test(test_issue_default_profile),
        cmocka_unit_test(test_issue_profile_variants),
        cmocka_unit_test(test_issue_subject_override),
        cmocka_unit_test(test_issue_empty_subject),
        cmocka_unit_test(test_issue_san_limit),
        cmocka_unit_test(test_issue_bad_serial),
        cmocka_unit_test(test_issue_weak_key),
        cmocka_unit_test(test_validity_capped_by_ca),
        cmocka_unit_test(test_random_serial),
        cmocka_unit_test(test_fingerprint),
        cmocka_unit_test(test_crl),
        cmocka_unit_test(test_check_issued),
    };

    if (scep_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, setup, teardown);
}
