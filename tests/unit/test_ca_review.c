/*
 * Unit tests from the correctness review of the CA: the subject length
 * limit (SCEP_MAX_SUBJECT, RFC 2253 text) enforced before anything is
 * signed, for the subject and for directoryName subjectAltNames, and
 * scep_ca_check_issued() refusing the CA's own RA and CA certificates as
 * renewal credentials.
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

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <scep/error.h>
#include <scep/limits.h>

#include "ca/ca.h"
#include "testutil.h"

struct fixture {
    char *dir;
    struct scep_ca *ca;
};

static int setup(void **state)
{
    struct scep_ca_init_opts o = {
        .rsa_bits = 2048, .ra_bits = 2048, .with_ra = 1, .subject = "CN=Review CA,O=Example"};
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

/* Length of name's RFC 2253 text, as the store will keep it. */
static size_t rfc2253_len(const X509_NAME *name)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data = NULL;
    long n;

    assert_non_null(b);
    assert_true(X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0);
    n = BIO_get_mem_data(b, &data);
    assert_true(n >= 0);
    BIO_free(b);
    return (size_t)n;
}

/* A name of OU entries plus CN whose RFC 2253 text is exactly len bytes
 * (len >= 40). */
static X509_NAME *name_of_len(size_t len)
{
    X509_NAME *n = X509_NAME_new();
    char v[80];
    size_t cur;

    assert_non_null(n);
    assert_int_equal(
        X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)"x", -1, -1, 0),
        1);
    /* "CN=x" plus ",OU=" + 50 characters per entry, then one shorter
     * entry to land on len exactly. */
    while ((cur = rfc2253_len(n)) + 54 + 5 < len) {
        memset(v, 'a', 50);
        v[50] = '\0';
        assert_int_equal(
            X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_UTF8, (const unsigned char *)v, -1, 0, 0),
            1);
    }
    cur = rfc2253_len(n);
    assert_true(len - cur - 4 > 0 && len - cur - 4 < sizeof(v));
    memset(v, 'b', len - cur - 4);
    v[len - cur - 4] = '\0';
    assert_int_equal(
        X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_UTF8, (const unsigned char *)v, -1, 0, 0), 1);
    assert_int_equal(rfc2253_len(n), len);
    return n;
}

static X509_REQ *csr_named(EVP_PKEY *key, const X509_NAME *name, const X509_NAME *dirname)
{
    X509_REQ *r = X509_REQ_new();

    assert_non_null(r);
    /* PKCS#10 v1: a CSR made in memory has no version until set. */
    assert_int_equal(X509_REQ_set_version(r, X509_REQ_VERSION_1), 1);
    assert_int_equal(X509_REQ_set_subject_name(r, name), 1);
    assert_int_equal(X509_REQ_set_pubkey(r, key), 1);
    if (dirname != NULL) {
        STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
        GENERAL_NAMES *gens = GENERAL_NAMES_new();
        GENERAL_NAME *gn = GENERAL_NAME_new();
        X509_EXTENSION *e;

        assert_non_null(exts);
        assert_non_null(gens);
        assert_non_null(gn);
        GENERAL_NAME_set0_value(gn, GEN_DIRNAME, X509_NAME_dup(dirname));
        assert_true(sk_GENERAL_NAME_push(gens, gn) > 0);
        e = X509V3_EXT_i2d(NID_subject_alt_name, 0, gens);
        assert_non_null(e);
        assert_true(sk_X509_EXTENSION_push(exts, e) > 0);
        assert_int_equal(X509_REQ_add_extensions(r, exts), 1);
        sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
        GENERAL_NAMES_free(gens);
    }
    assert_true(X509_REQ_sign(r, key, EVP_sha256()) > 0);
    return r;
}

static int issue(struct fixture *f, X509_REQ *csr, const X509_NAME *subject, X509 **out)
{
    unsigned char serial[16];

    assert_int_equal(scep_ca_random_serial(serial), 0);
    return scep_ca_issue(f->ca, csr, subject, NULL, serial, sizeof(serial), out);
}

/* SCEP_MAX_SUBJECT bytes are issued; one more is refused, nothing made. */
static void test_subject_limit(void **state)
{
    struct fixture *f = *state;
    EVP_PKEY *key = tu_rsa_key(2048);
    X509_NAME *at = name_of_len(SCEP_MAX_SUBJECT), *over = name_of_len(SCEP_MAX_SUBJECT + 1);
    X509_REQ *csr = csr_named(key, at, NULL), *csr2 = csr_named(key, over, NULL);
    X509 *cert = NULL;

    assert_int_equal(issue(f, csr, NULL, &cert), 0);
    assert_non_null(cert);
    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(cert), at), 0);
    X509_free(cert);
    cert = NULL;
    assert_int_equal(issue(f, csr2, NULL, &cert), SCEP_ERR_POLICY);
    assert_null(cert);
    /* a subject passed in (a renewal's) is measured the same way */
    assert_int_equal(issue(f, csr, over, &cert), SCEP_ERR_POLICY);
    assert_null(cert);

    X509_REQ_free(csr);
    X509_REQ_free(csr2);
    X509_NAME_free(at);
    X509_NAME_free(over);
    EVP_PKEY_free(key);
}

/* A directoryName SAN is held to the subject limit too. */
static void test_dirname_san_limit(void **state)
{
    struct fixture *f = *state;
    EVP_PKEY *key = tu_rsa_key(2048);
    X509_NAME *subj = name_of_len(100), *at = name_of_len(SCEP_MAX_SUBJECT),
              *over = name_of_len(SCEP_MAX_SUBJECT + 1);
    X509_REQ *ok = csr_named(key, subj, at), *bad = csr_named(key, subj, over);
    X509 *cert = NULL;

    assert_int_equal(issue(f, ok, NULL, &cert), 0);
    X509_free(cert);
    cert = NULL;
    assert_int_equal(issue(f, bad, NULL, &cert), SCEP_ERR_POLICY);
    assert_null(cert);
    X509_REQ_free(ok);
    X509_REQ_free(bad);
    X509_NAME_free(subj);
    X509_NAME_free(at);
    X509_NAME_free(over);
    EVP_PKEY_free(key);
}

/* The RA certificate is issued by the CA key but is no client's
 * certificate; neither is the CA's own.  An ordinary issued one is. */
static void test_check_issued_refuses_ra_and_ca(void **state)
{
    struct fixture *f = *state;
    EVP_PKEY *key = tu_rsa_key(2048);
    X509_REQ *csr = tu_csr(key, "ee", NULL, NULL);
    X509 *ra = scep_ca_get0_ra_cert(f->ca), *ee = NULL;

    assert_non_null(ra);
    assert_int_equal(X509_verify(ra, X509_get0_pubkey(scep_ca_get0_cert(f->ca))), 1);
    assert_int_equal(scep_ca_check_issued(f->ca, ra, time(NULL)), SCEP_ERR_RENEWAL);
    assert_int_equal(scep_ca_check_issued(f->ca, scep_ca_get0_cert(f->ca), time(NULL)),
                     SCEP_ERR_RENEWAL);
    assert_int_equal(issue(f, csr, NULL, &ee), 0);
    assert_int_equal(scep_ca_check_issued(f->ca, ee, time(NULL)), 0);
    X509_free(ee);
    X509_REQ_free(csr);
    EVP_PKEY_free(key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_subject_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dirname_san_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_issued_refuses_ra_and_ca, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
