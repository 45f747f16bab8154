/*
 * Unit tests for the CA side of SCEP message crypto through the key handles:
 * a request encrypted to the CA's SCEP certificate (RA or CA) decrypts
 * with scep_ca_decrypt(), and a CertRep built with scep_ca_sign_message()
 * verifies against that certificate and decrypts for the requester.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/x509.h>

#include <scep/error.h>
#include <scep/message.h>

#include "ca/ca.h"
#include "testutil.h"

static void round_trip(int with_ra, int key_type)
{
    struct scep_ca_init_opts o = {
        .rsa_bits = 2048, .ra_bits = 2048, .with_ra = with_ra, .key_type = key_type};
    struct scep_ca *ca = NULL;
    char *dir = tu_tempdir();
    EVP_PKEY *key = tu_rsa_key(2048);
    X509 *self = tu_self_signed(key, "client");
    X509_REQ *csr = tu_csr(key, "client", "secret", "client.example.com");
    STACK_OF(X509) *rcpts = sk_X509_new_null();
    STACK_OF(X509) *issued_certs = sk_X509_new_null();
    struct scep_msg_spec req = {0}, rep = {0};
    struct scep_msg *m = NULL, *r = NULL;
    unsigned char *der = NULL, *rep_der = NULL, serial[16];
    size_t len = 0, rep_len = 0;
    X509 *issued = NULL;

    assert_int_equal(scep_ca_create(dir, &o), 0);
    assert_int_equal(scep_ca_load(dir, &ca), 0);
    assert_ptr_equal(scep_ca_get0_scep_cert(ca), with_ra || key_type == SCEP_KEY_EC
                                                     ? scep_ca_get0_ra_cert(ca)
                                                     : scep_ca_get0_cert(ca));

    /* client: PKCSReq encrypted to the SCEP certificate */
    sk_X509_push(rcpts, scep_ca_get0_scep_cert(ca));
    req.type = SCEP_MSG_PKCSREQ;
    req.transaction_id = "tid-1";
    req.signer_cert = self;
    req.signer_key = key;
    req.recipients = rcpts;
    req.csr = csr;
    assert_int_equal(scep_msg_build(&req, &der, &len), 0);

    /* server */
    assert_int_equal(scep_msg_decode(der, len, &m), 0);
    assert_int_equal(scep_msg_verify(m, NULL), 0);
    assert_int_equal(scep_ca_decrypt(ca, m), 0);
    assert_non_null(scep_msg_get0_csr(m));
    assert_int_equal(X509_REQ_verify(scep_msg_get0_csr(m), key), 1);
    assert_int_equal(X509_NAME_cmp(X509_REQ_get_subject_name(scep_msg_get0_csr(m)),
                                   X509_REQ_get_subject_name(csr)),
                     0);
    assert_int_equal(scep_ca_random_serial(serial), 0);
    assert_int_equal(
        scep_ca_issue(ca, scep_msg_get0_csr(m), NULL, NULL, serial, sizeof(serial), &issued), 0);
    sk_X509_push(issued_certs, issued);
    rep.type = SCEP_MSG_CERTREP;
    rep.transaction_id = scep_msg_get0_transaction_id(m);
    rep.recipient_nonce = scep_msg_get0_sender_nonce(m);
    rep.recipient = scep_msg_get0_signer_cert(m);
    rep.status = SCEP_STATUS_SUCCESS;
    rep.certs = issued_certs;
    assert_int_equal(scep_ca_sign_message(ca, &rep, &rep_der, &rep_len), 0);
    /* the caller's spec is left as it was */
    assert_null(rep.signer_cert);
    assert_null(rep.signer_key);

    /* client again */
    assert_int_equal(scep_msg_decode(rep_der, rep_len, &r), 0);
    assert_int_equal(scep_msg_verify(r, scep_ca_get0_scep_cert(ca)), 0);
    assert_int_equal(scep_msg_status(r), SCEP_STATUS_SUCCESS);
    assert_int_equal(scep_msg_decrypt(r, self, key), 0);
    assert_true(sk_X509_num(scep_msg_get0_certs(r)) >= 1);
    assert_int_equal(X509_cmp(sk_X509_value(scep_msg_get0_certs(r), 0), issued), 0);

    scep_msg_free(r);
    scep_msg_free(m);
    scep_free(der);
    scep_free(rep_der);
    sk_X509_pop_free(issued_certs, X509_free);
    sk_X509_free(rcpts);
    X509_REQ_free(csr);
    X509_free(self);
    EVP_PKEY_free(key);
    scep_ca_free(ca);
    tu_rmrf(dir);
    free(dir);
}

static void test_rsa_ca_no_ra(void **state)
{
    (void)state;
    round_trip(0, SCEP_KEY_RSA);
}

static void test_rsa_ca_with_ra(void **state)
{
    (void)state;
    round_trip(1, SCEP_KEY_RSA);
}

static void test_ec_ca(void **state)
{
    (void)state;
    round_trip(0, SCEP_KEY_EC);
}

/* A request encrypted to someone else does not decrypt with our key. */
static void test_decrypt_wrong_recipient(void **state)
{
    struct scep_ca_init_opts o = {.rsa_bits = 2048};
    struct scep_ca *ca = NULL;
    char *dir = tu_tempdir();
    EVP_PKEY *key = tu_rsa_key(2048), *other = tu_rsa_key_fresh(2048);
    X509 *self = tu_self_signed(key, "client"), *stranger = tu_self_signed(other, "stranger");
    X509_REQ *csr = tu_csr(key, "client", NULL, NULL);
    STACK_OF(X509) *rcpts = sk_X509_new_null();
    struct scep_msg_spec req = {0};
    struct scep_msg *m = NULL;
    unsigned char *der = NULL;
    size_t len = 0;

    (void)state;
    assert_int_equal(scep_ca_create(dir, &o), 0);
    assert_int_equal(scep_ca_load(dir, &ca), 0);
    sk_X509_push(rcpts, stranger);
    req.type = SCEP_MSG_PKCSREQ;
    req.transaction_id = "tid-2";
    req.signer_cert = self;
    req.signer_key = key;
    req.recipients = rcpts;
    req.csr = csr;
    assert_int_equal(scep_msg_build(&req, &der, &len), 0);
    assert_int_equal(scep_msg_decode(der, len, &m), 0);
    assert_int_not_equal(scep_ca_decrypt(ca, m), 0);
    assert_null(scep_msg_get0_csr(m));
    scep_msg_free(m);
    scep_free(der);
    sk_X509_free(rcpts);
    X509_REQ_free(csr);
    X509_free(self);
    X509_free(stranger);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other);
    scep_ca_free(ca);
    tu_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rsa_ca_no_ra),
        cmocka_unit_test(test_rsa_ca_with_ra),
        cmocka_unit_test(test_ec_ca),
        cmocka_unit_test(test_decrypt_wrong_recipient),
    };

    if (scep_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
