/*
 * Unit tests for CA creation and loading: the files and their modes, the
 * CA and RA certificates' fields, the subject parser, key permission
 * checks, and the GetCACert body.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <scep/error.h>
#include <scep/message.h>

#include "ca/ca.h"
#include "testutil.h"

static char *path_in(const char *dir, const char *name)
{
    static char buf[4096];
    int n = snprintf(buf, sizeof(buf), "%s/%s", dir, name);

    /* A temp path never comes near the size; if one did, the test must
     * not go on with a cut path. */
    assert_true(n > 0 && (size_t)n < sizeof(buf));
    return buf;
}

static mode_t mode_of(const char *path)
{
    struct stat st;

    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

/* RFC 2253 text of a name, in a static buffer. */
static const char *name_text(const X509_NAME *n)
{
    static char buf[1024];
    BIO *b = BIO_new(BIO_s_mem());
    int len;

    assert_non_null(b);
    X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253);
    len = BIO_read(b, buf, sizeof(buf) - 1);
    buf[len > 0 ? len : 0] = '\0';
    BIO_free(b);
    return buf;
}

static void test_create_rsa_default(void **state)
{
    struct scep_ca_init_opts o = {0};
    struct scep_ca *ca = NULL;
    char *dir = tu_tempdir();
    char sub[4200];
    unsigned char *der = NULL;
    const unsigned char *p;
    size_t len = 0;
    const char *ct = NULL;
    X509 *cert, *parsed;

    (void)state;
    snprintf(sub, sizeof(sub), "%s/state", dir);
    assert_int_equal(scep_ca_exists(sub), 0);
    assert_int_equal(scep_ca_create(sub, &o), 0);
    assert_int_equal(scep_ca_exists(sub), 1);
    assert_int_equal(mode_of(sub), 0700);
    assert_int_equal(mode_of(path_in(sub, "ca.key")), 0600);
    assert_int_equal(access(path_in(sub, "ca.crt"), R_OK), 0);
    assert_int_not_equal(access(path_in(sub, "ra.crt"), F_OK), 0);
    /* a second create refuses and leaves the CA alone */
    assert_int_equal(scep_ca_create(sub, &o), SCEP_ERR_EXISTS);

    assert_int_equal(scep_ca_load(sub, &ca), 0);
    cert = scep_ca_get0_cert(ca);
    assert_non_null(cert);
    assert_null(scep_ca_get0_ra_cert(ca));
    assert_null(scep_ca_get0_next_cert(ca));
    assert_int_equal(scep_ca_next_activate_at(ca), 0);
    assert_ptr_equal(scep_ca_get0_scep_cert(ca), cert);

    assert_int_equal(X509_get_version(cert), X509_VERSION_3);
    assert_int_equal(EVP_PKEY_get_bits(X509_get0_pubkey(cert)), 3072);
    assert_string_equal(name_text(X509_get_subject_name(cert)), "CN=scepd CA");
    assert_int_equal(X509_verify(cert, X509_get0_pubkey(cert)), 1);
    assert_int_equal(X509_check_ca(cert), 1);
    assert_true(X509_get_extension_flags(cert) & EXFLAG_CA);
    /* RSA CA without RA: also the SCEP recipient, so it needs DS+KE */
    assert_int_equal(X509_get_key_usage(cert),
                     KU_KEY_CERT_SIGN | KU_CRL_SIGN | KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT);
    assert_non_null(X509_get0_subject_key_id(cert));
    assert_non_null(X509_get0_authority_key_id(cert));
    assert_int_equal(
        ASN1_OCTET_STRING_cmp(X509_get0_subject_key_id(cert), X509_get0_authority_key_id(cert)), 0);
    {
        int crit = -1;
        BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(cert, NID_basic_constraints, &crit, NULL);

        assert_non_null(bc);
        assert_int_equal(crit, 1);
        BASIC_CONSTRAINTS_free(bc);
        assert_int_equal(X509_get_ext_by_critical(cert, 1, -1) >= 0, 1);
    }
    {
        BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);

        /* random, positive, at most 16 bytes (127 bits) */
        assert_non_null(bn);
        assert_false(BN_is_negative(bn));
        assert_true(BN_num_bits(bn) > 64 && BN_num_bits(bn) <= 127);
        BN_free(bn);
    }

    /* GetCACert: the bare DER */
    assert_int_equal(scep_ca_getcacert(ca, &der, &len, &ct), 0);
    assert_string_equal(ct, "application/x-x509-ca-cert");
    p = der;
    parsed = d2i_X509(NULL, &p, (long)len);
    assert_non_null(parsed);
    assert_ptr_equal(p, der + len);
    assert_int_equal(X509_cmp(parsed, cert), 0);
    X509_free(parsed);
    scep_free(der);

    assert_ptr_equal(scep_ca_up_ref(ca), ca);
    scep_ca_free(ca);
    assert_non_null(scep_ca_get0_cert(ca)); /* still one reference */
    scep_ca_free(ca);
    scep_ca_free(NULL);
    tu_rmrf(dir);
    free(dir);
}

static void test_load_refuses_open_key(void **state)
{
    struct scep_ca_init_opts o = {.rsa_bits = 2048, .with_ra = 1, .ra_bits = 2048};
    struct scep_ca *ca = NULL;
    char *dir = tu_tempdir();

    (void)state;
    assert_int_equal(scep_ca_create(dir, &o), 0);
    assert_int_equal(mode_of(path_in(dir, "ra.key")), 0600);
    assert_int_equal(chmod(path_in(dir, "ca.key"), 0640), 0);
    assert_int_equal(scep_ca_load(dir, &ca), SCEP_ERR_PERMISSIONS);
    assert_null(ca);
    assert_int_equal(chmod(path_in(dir, "ca.key"), 0604), 0);
    assert_int_equal(scep_ca_load(dir, &ca), SCEP_ERR_PERMISSIONS);
    assert_int_equal(chmod(path_in(dir, "ca.key"), 0600), 0);
    assert_int_equal(chmod(path_in(dir, "ra.key"), 0660), 0);
    assert_int_equal(scep_ca_load(dir, &ca), SCEP_ERR_PERMISSIONS);
    assert_int_equal(chmod(path_in(dir, "ra.key"), 0400), 0);
    assert_int_equal(scep_ca_load(dir, &ca), 0);
    scep_ca_free(ca);
    assert_int_equal(scep_ca_load(path_in(dir, "nothing"), &ca), SCEP_ERR_NOT_FOUND);
    tu_rmrf(dir);
    free(dir);
}

static void test_load_refuses_mismatched_key(void **state)
{
    struct scep_ca_init_opts o = {.rsa_bits = 2048};
    struct scep_ca *ca = NULL;
    char *a = tu_tempdir(), *b = tu_tempdir();
    char from[4200], to[4200];

    (void)state;
    assert_int_equal(scep_ca_create(a, &o), 0);
    assert_int_equal(scep_ca_create(b, &o), 0);
    snprintf(from, sizeof(from), "%s/ca.key", b);
    snprintf(to, sizeof(to), "%s/ca.key", a);
    assert_int_equal(rename(from, to), 0);
    assert_int_equal(scep_ca_load(a, &ca), SCEP_ERR_KEY);
    tu_rmrf(a);
    tu_rmrf(b);
    free(a);
    free(b);
}

static void check_ec_ca(int curve, int bits, int sig_nid)
{
    struct scep_ca_init_opts o = {.key_type = SCEP_KEY_EC,
                                  .ec_curve = curve,
                                  .ra_bits = 2048,
                                  .subject = "CN=EC Test,O=Example",
                                  .validity_days = 100};
    struct scep_ca *ca = NULL;
    char *dir = tu_tempdir();
    X509 *cert, *ra;
    unsigned char *der = NULL;
    size_t len = 0;
    const char *ct = NULL;
    STACK_OF(X509) *certs = NULL;

    assert_int_equal(scep_ca_create(dir, &o), 0);
    assert_int_equal(scep_ca_load(dir, &ca), 0);
    cert = scep_ca_get0_cert(ca);
    ra = scep_ca_get0_ra_cert(ca);
    assert_non_null(ra);
    assert_ptr_equal(scep_ca_get0_scep_cert(ca), ra);
    assert_true(EVP_PKEY_is_a(X509_get0_pubkey(cert), "EC"));
    assert_int_equal(EVP_PKEY_get_bits(X509_get0_pubkey(cert)), bits);
    assert_int_equal(X509_get_signature_nid(cert), sig_nid);
    assert_int_equal(X509_get_key_usage(cert), KU_KEY_CERT_SIGN | KU_CRL_SIGN);

    assert_true(EVP_PKEY_is_a(X509_get0_pubkey(ra), "RSA"));
    assert_int_equal(EVP_PKEY_get_bits(X509_get0_pubkey(ra)), 2048);
    assert_int_equal(X509_verify(ra, X509_get0_pubkey(cert)), 1);
    assert_int_equal(X509_check_issued(cert, ra), X509_V_OK);
    assert_int_equal(X509_check_ca(ra), 0);
    assert_int_equal(X509_get_key_usage(ra), KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT);
    assert_string_equal(name_text(X509_get_subject_name(ra)), "CN=EC Test RA,O=Example");
    assert_true(ASN1_TIME_compare(X509_get0_notAfter(ra), X509_get0_notAfter(cert)) <= 0);
    assert_int_equal(
        ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(ra), X509_get0_subject_key_id(cert)), 0);

    /* GetCACert: certs-only with RA and CA.  SignedData.certificates is
     * a SET OF, which DER sorts, so the order on the wire is not ours. */
    assert_int_equal(scep_ca_getcacert(ca, &der, &len, &ct), 0);
    assert_string_equal(ct, "application/x-x509-ca-ra-cert");
    assert_int_equal(scep_certs_only_parse(der, len, &certs, NULL), 0);
    assert_int_equal(sk_X509_num(certs), 2);
    {
        X509 *a = sk_X509_value(certs, 0), *b = sk_X509_value(certs, 1);

        assert_true((X509_cmp(a, ra) == 0 && X509_cmp(b, cert) == 0) ||
                    (X509_cmp(a, cert) == 0 && X509_cmp(b, ra) == 0));
    }
    sk_X509_pop_free(certs, X509_free);
    scep_free(der);
    scep_ca_free(ca);
    tu_rmrf(dir);
    free(dir);
}

static void test_ec_p256(void **state)
{
    (void)state;
    check_ec_ca(NID_X9_62_prime256v1, 256, NID_ecdsa_with_SHA256);
}

static void test_ec_p384(void **state)
{
    (void)state;
    check_ec_ca(NID_secp384r1, 384, NID_ecdsa_with_SHA384);
}

static void test_rsa_with_ra(void **state)
{
    struct scep_ca_init_opts o = {
        .rsa_bits = 2048, .with_ra = 1, .ra_bits = 2048, .ra_subject = "/O=Example/CN=My RA"};
    struct scep_ca *ca = NULL;
    char *dir = tu_tempdir();
    X509 *cert, *ra;

    (void)state;
    assert_int_equal(scep_ca_create(dir, &o), 0);
    assert_int_equal(scep_ca_load(dir, &ca), 0);
    cert = scep_ca_get0_cert(ca);
    ra = scep_ca_get0_ra_cert(ca);
    assert_non_null(ra);
    /* with an RA the CA keeps to certificate and CRL signing */
    assert_int_equal(X509_get_key_usage(cert), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
    assert_string_equal(name_text(X509_get_subject_name(ra)), "CN=My RA,O=Example");
    assert_int_equal(X509_verify(ra, X509_get0_pubkey(cert)), 1);
    scep_ca_free(ca);
    tu_rmrf(dir);
    free(dir);
}

static void check_subject(const char *in, const char *want)
{
    struct scep_ca_init_opts o = {.rsa_bits = 2048, .subject = in};
    struct scep_ca *ca = NULL;
    char *dir = tu_tempdir();

    assert_int_equal(scep_ca_create(dir, &o), 0);
    assert_int_equal(scep_ca_load(dir, &ca), 0);
    assert_string_equal(name_text(X509_get_subject_name(scep_ca_get0_cert(ca))), want);
    scep_ca_free(ca);
    tu_rmrf(dir);
    free(dir);
}

static void check_bad_subject(const char *in)
{
    struct scep_ca_init_opts o = {.rsa_bits = 2048, .subject = in};
    char *dir = tu_tempdir();

    assert_int_equal(scep_ca_create(dir, &o), SCEP_ERR_CONFIG);
    assert_int_equal(scep_ca_exists(dir), 0);
    assert_int_not_equal(access(path_in(dir, "ca.key"), F_OK), 0);
    tu_rmrf(dir);
    free(dir);
}

static void test_subjects(void **state)
{
    (void)state;
    check_subject("CN=Test CA,O=Example\\, Inc.,C=DE", "CN=Test CA,O=Example\\, Inc.,C=DE");
    check_subject("CN=Spaced, O=Org", "CN=Spaced,O=Org");
    check_subject("/C=DE/O=Ex/CN=Slash", "CN=Slash,O=Ex,C=DE");
    check_bad_subject("CM=typo");
    check_bad_subject("CN=");
    check_bad_subject("C=DEU");
    check_bad_subject("CN=a,,O=b");
    check_bad_subject("CN=dangling\\");
    check_bad_subject("just text");
}

static void test_bad_opts(void **state)
{
    char *dir = tu_tempdir();
    struct scep_ca_init_opts o = {.rsa_bits = 1024};

    (void)state;
    assert_int_equal(scep_ca_create(dir, &o), SCEP_ERR_CONFIG);
    o.rsa_bits = 2048;
    o.key_type = 7;
    assert_int_equal(scep_ca_create(dir, &o), SCEP_ERR_CONFIG);
    o.key_type = SCEP_KEY_EC;
    o.ec_curve = NID_secp521r1;
    assert_int_equal(scep_ca_create(dir, &o), SCEP_ERR_CONFIG);
    assert_int_equal(scep_ca_create(dir, NULL), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_ca_exists(dir), 0);
    tu_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_rsa_default),
        cmocka_unit_test(test_load_refuses_open_key),
        cmocka_unit_test(test_load_refuses_mismatched_key),
        cmocka_unit_test(test_ec_p256),
        cmocka_unit_test(test_ec_p384),
        cmocka_unit_test(test_rsa_with_ra),
        cmocka_unit_test(test_subjects),
        cmocka_unit_test(test_bad_opts),
    };

    if (scep_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
