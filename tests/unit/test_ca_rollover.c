/*
 * Unit tests for CA rollover: making the next CA, announcing it through
 * GetNextCACert, promoting it when due (and resuming a promotion that a
 * crash interrupted), and trusting certificates of the archived CA.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <scep/error.h>
#include <scep/message.h>

#include "ca/ca.h"
#include "keyring/keyring.h"
#include "testutil.h"

/* Asserts that the key file at path is the key of cert, through the
 * keyring's byte-level SPKI check. */
static void assert_key_of(const char *path, X509 *cert)
{
    struct scep_keyring *kr = NULL;
    unsigned char *spki = NULL;
    char ref[4300];
    int n;

    snprintf(ref, sizeof(ref), "file:%s", path);
    assert_int_equal(scep_keyring_new(&kr), 0);
    assert_int_equal(scep_keyring_load(kr, ref), 0);
    n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &spki);
    assert_true(n > 0);
    assert_int_equal(scep_keyring_spki_matches(kr, ref, spki, (size_t)n), 0);
    OPENSSL_free(spki);
    scep_keyring_free(kr);
}

static const char *pj(char *buf, size_t n, const char *dir, const char *name)
{
    snprintf(buf, n, "%s/%s", dir, name);
    return buf;
}

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    assert_true(fputs(text, fp) >= 0);
    assert_int_equal(fclose(fp), 0);
}

/* Makes next/activate-at say "due a minute ago". */
static void make_due(const char *dir)
{
    char p[4200], t[32];

    snprintf(t, sizeof(t), "%lld\n", (long long)time(NULL) - 60);
    write_text(pj(p, sizeof(p), dir, "next/activate-at"), t);
}

static char *serial_hex(X509 *cert)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    char *hex = BN_bn2hex(bn);

    BN_free(bn);
    return hex;
}

static X509 *issue_one(struct scep_ca *ca, const char *cn)
{
    unsigned char serial[16];
    EVP_PKEY *key = tu_rsa_key(2048);
    X509_REQ *csr = tu_csr(key, cn, NULL, NULL);
    struct scep_profile p = {.backdate_seconds = 60};
    X509 *cert = NULL;

    assert_int_equal(scep_ca_random_serial(serial), 0);
    assert_int_equal(scep_ca_issue(ca, csr, NULL, &p, serial, sizeof(serial), &cert), 0);
    X509_REQ_free(csr);
    EVP_PKEY_free(key);
    return cert;
}

static void test_rollover_with_ra(void **state)
{
    struct scep_ca_init_opts o = {
        .rsa_bits = 2048, .with_ra = 1, .ra_bits = 2048, .subject = "CN=Roll CA"};
    struct scep_ca_init_opts next_o = {
        .rsa_bits = 2048, .ra_bits = 2048, .subject = "CN=Roll CA 2"};
    struct scep_ca *ca = NULL, *ca2 = NULL;
    char *dir = tu_tempdir();
    char p[4200], name[300];
    time_t at = time(NULL) + 3600;
    X509 *old_cert, *old_issued, *next_cert, *next_ra, *new_issued;
    unsigned char *der = NULL;
    size_t len = 0;
    STACK_OF(X509) *certs = NULL;
    char *hex;
    struct stat st;
    int i, saw_ca = 0, saw_ra = 0;

    (void)state;
    assert_int_equal(scep_ca_next_create(dir, &next_o, at), SCEP_ERR_NOT_FOUND);
    assert_int_equal(scep_ca_create(dir, &o), 0);
    assert_int_equal(scep_ca_load(dir, &ca), 0);
    assert_int_equal(scep_ca_getnextcacert(ca, &der, &len), SCEP_ERR_NOT_FOUND);
    old_issued = issue_one(ca, "before");
    old_cert = X509_dup(scep_ca_get0_cert(ca));
    scep_ca_free(ca);
    ca = NULL;

    assert_int_equal(scep_ca_next_create(dir, &next_o, at), 0);
    assert_int_equal(scep_ca_next_create(dir, &next_o, at), SCEP_ERR_EXISTS);
    assert_int_equal(stat(pj(p, sizeof(p), dir, "next/ca.key"), &st), 0);
    assert_int_equal(st.st_mode & 077, 0);

    /* not due yet: current unchanged, next announced */
    assert_int_equal(scep_ca_load(dir, &ca), 0);
    assert_int_equal(X509_cmp(scep_ca_get0_cert(ca), old_cert), 0);
    next_cert = scep_ca_get0_next_cert(ca);
    assert_non_null(next_cert);
    assert_int_equal(scep_ca_next_activate_at(ca), at);
    assert_int_equal(X509_check_ca(next_cert), 1);
    assert_int_equal(X509_verify(next_cert, X509_get0_pubkey(next_cert)), 1);
    assert_int_equal(scep_ca_getnextcacert(ca, &der, &len), 0);
    assert_int_equal(scep_next_ca_parse(der, len, scep_ca_get0_scep_cert(ca), &certs), 0);
    /* the current CA has an RA, so the next one has too */
    assert_int_equal(sk_X509_num(certs), 2);
    for (i = 0; i < sk_X509_num(certs); i++) {
        X509 *c = sk_X509_value(certs, i);

        if (X509_cmp(c, next_cert) == 0)
            saw_ca = 1;
        else if (X509_verify(c, X509_get0_pubkey(next_cert)) == 1 && X509_check_ca(c) == 0)
            saw_ra = 1;
    }
    assert_true(saw_ca && saw_ra);
    /* signed by the current SCEP cert, not by anyone else */
    assert_int_not_equal(scep_next_ca_parse(der, len, next_cert, &certs), 0);
    sk_X509_pop_free(certs, X509_free);
    scep_free(der);
    next_cert = X509_dup(next_cert);
    scep_ca_free(ca);
    ca = NULL;

    /* due: promoted */
    make_due(dir);
    assert_int_equal(scep_ca_load(dir, &ca2), 0);
    assert_int_equal(X509_cmp(scep_ca_get0_cert(ca2), next_cert), 0);
    assert_null(scep_ca_get0_next_cert(ca2));
    next_ra = scep_ca_get0_ra_cert(ca2);
    assert_non_null(next_ra);
    assert_int_equal(X509_verify(next_ra, X509_get0_pubkey(next_cert)), 1);
    assert_int_not_equal(access(pj(p, sizeof(p), dir, "next"), F_OK), 0);

    hex = serial_hex(old_cert);
    snprintf(name, sizeof(name), "archive/%s.crt", hex);
    assert_int_equal(access(pj(p, sizeof(p), dir, name), R_OK), 0);
    snprintf(name, sizeof(name), "archive/%s.key", hex);
    assert_int_equal(stat(pj(p, sizeof(p), dir, name), &st), 0);
    assert_int_equal(st.st_mode & 077, 0);
    assert_key_of(p, old_cert);
    OPENSSL_free(hex);

    /* the old CA's certificates still renew; new ones issue under the new CA */
    assert_int_equal(scep_ca_check_issued(ca2, old_issued, time(NULL)), 0);
    new_issued = issue_one(ca2, "after");
    assert_int_equal(X509_verify(new_issued, X509_get0_pubkey(next_cert)), 1);
    assert_int_equal(scep_ca_check_issued(ca2, new_issued, time(NULL)), 0);
    scep_ca_free(ca2);

    /* loading again is stable */
    assert_int_equal(scep_ca_load(dir, &ca2), 0);
    assert_int_equal(X509_cmp(scep_ca_get0_cert(ca2), next_cert), 0);
    assert_int_equal(scep_ca_check_issued(ca2, old_issued, time(NULL)), 0);
    scep_ca_free(ca2);

    X509_free(new_issued);
    X509_free(old_issued);
    X509_free(old_cert);
    X509_free(next_cert);
    tu_rmrf(dir);
    free(dir);
}

static void test_rollover_ec_next_gets_ra(void **state)
{
    struct scep_ca_init_opts o = {.rsa_bits = 2048};
    struct scep_ca_init_opts next_o = {.key_type = SCEP_KEY_EC, .ra_bits = 2048};
    struct scep_ca *ca = NULL;
    char *dir = tu_tempdir();
    char p[4200];

    (void)state;
    assert_int_equal(scep_ca_create(dir, &o), 0);
    assert_int_equal(scep_ca_next_create(dir, &next_o, time(NULL) + 100), 0);
    assert_int_equal(access(pj(p, sizeof(p), dir, "next/ra.crt"), R_OK), 0);
    make_due(dir);
    assert_int_equal(scep_ca_load(dir, &ca), 0);
    assert_true(EVP_PKEY_is_a(X509_get0_pubkey(scep_ca_get0_cert(ca)), "EC"));
    assert_non_null(scep_ca_get0_ra_cert(ca));
    assert_true(EVP_PKEY_is_a(X509_get0_pubkey(scep_ca_get0_scep_cert(ca)), "RSA"));
    scep_ca_free(ca);
    tu_rmrf(dir);
    free(dir);
}

/* A promotion interrupted after the key moved but before the certificate
 * did (the worst moment) is finished by the next load. */
static void test_rollover_resume_after_crash(void **state)
{
    struct scep_ca_init_opts o = {.rsa_bits = 2048};
    struct scep_ca *ca = NULL;
    char *dir = tu_tempdir();
    char p[4200], q[4200], name[300];
    X509 *old_cert, *next_cert;
    char *hex;

    (void)state;
    assert_int_equal(scep_ca_create(dir, &o), 0);
    assert_int_equal(scep_ca_load(dir, &ca), 0);
    old_cert = X509_dup(scep_ca_get0_cert(ca));
    scep_ca_free(ca);
    assert_int_equal(scep_ca_next_create(dir, &o, time(NULL) - 1), 0);
    assert_int_equal(scep_ca_load(dir, &ca), 0); /* promotes */
    next_cert = X509_dup(scep_ca_get0_cert(ca));
    scep_ca_free(ca);
    assert_int_not_equal(X509_cmp(old_cert, next_cert), 0);
    tu_rmrf(dir);

    /* now replay by hand up to the crash point */
    assert_int_equal(scep_ca_create(dir, &o), 0);
    assert_int_equal(scep_ca_load(dir, &ca), 0);
    X509_free(old_cert);
    old_cert = X509_dup(scep_ca_get0_cert(ca));
    scep_ca_free(ca);
    X509_free(next_cert);
    assert_int_equal(scep_ca_next_create(dir, &o, time(NULL) + 3600), 0);
    assert_int_equal(scep_ca_load(dir, &ca), 0);
    next_cert = X509_dup(scep_ca_get0_next_cert(ca));
    scep_ca_free(ca);
    make_due(dir);
    hex = serial_hex(old_cert);
    assert_int_equal(mkdir(pj(p, sizeof(p), dir, "archive"), 0700), 0);
    snprintf(name, sizeof(name), "archive/%s.key", hex);
    assert_int_equal(link(pj(q, sizeof(q), dir, "ca.key"), pj(p, sizeof(p), dir, name)), 0);
    assert_int_equal(rename(pj(q, sizeof(q), dir, "next/ca.key"), pj(p, sizeof(p), dir, "ca.key")),
                     0);

    assert_int_equal(scep_ca_load(dir, &ca), 0);
    assert_int_equal(X509_cmp(scep_ca_get0_cert(ca), next_cert), 0);
    assert_int_equal(scep_ca_check_issued(ca, old_cert, time(NULL)), SCEP_ERR_RENEWAL);
    scep_ca_free(ca);
    /* the archived key is still the old one */
    assert_key_of(pj(p, sizeof(p), dir, name), old_cert);
    snprintf(name, sizeof(name), "archive/%s.crt", hex);
    assert_int_equal(access(pj(p, sizeof(p), dir, name), R_OK), 0);
    OPENSSL_free(hex);
    X509_free(old_cert);
    X509_free(next_cert);
    tu_rmrf(dir);
    free(dir);
}

static void test_stale_next_without_stamp(void **state)
{
    struct scep_ca_init_opts o = {.rsa_bits = 2048};
    struct scep_ca *ca = NULL;
    char *dir = tu_tempdir();
    char p[4200];

    (void)state;
    assert_int_equal(scep_ca_create(dir, &o), 0);
    assert_int_equal(scep_ca_next_create(dir, &o, time(NULL) - 1), 0);
    /* a crashed next_create: files but no activate-at */
    assert_int_equal(unlink(pj(p, sizeof(p), dir, "next/activate-at")), 0);
    assert_int_equal(scep_ca_load(dir, &ca), 0);
    assert_null(scep_ca_get0_next_cert(ca));
    scep_ca_free(ca);
    /* and a new next_create cleans up after it */
    assert_int_equal(scep_ca_next_create(dir, &o, time(NULL) + 50), 0);
    assert_int_equal(scep_ca_load(dir, &ca), 0);
    assert_non_null(scep_ca_get0_next_cert(ca));
    scep_ca_free(ca);
    /* garbage in activate-at is refused, not guessed at */
    write_text(pj(p, sizeof(p), dir, "next/activate-at"), "soon\n");
    assert_int_equal(scep_ca_load(dir, &ca), SCEP_ERR_CONFIG);
    tu_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rollover_with_ra),
        cmocka_unit_test(test_rollover_ec_next_gets_ra),
        cmocka_unit_test(test_rollover_resume_after_crash),
        cmocka_unit_test(test_stale_next_without_stamp),
    };

    if (scep_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
