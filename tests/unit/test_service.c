/*
 * Unit tests of the SCEP service's enrollment path: PKCSReq and
 * RenewalReq through scep_service_pkioperation() against a real CA and a
 * real SQLite store, with refusals checked both in the signed CertRep and
 * in the store (what was, and was not, written).
 */
#include <unistd.h>

#include <openssl/bn.h>

#include "test_service_fixture.h"

#define CHALLENGE "s3cret-Ch4llenge"

static int setup(void **state)
{
    *state = fx_new(0, CHALLENGE, 1);
    return 0;
}

static int teardown(void **state)
{
    fx_free(*state);
    return 0;
}

static void test_pkcsreq_success(void **state)
{
    struct fx *f = *state;
    struct fx_req q;
    unsigned char *der = NULL;
    size_t len = 0;
    struct scep_reply r;
    struct scep_msg *m;
    STACK_OF(X509) *certs;
    struct scep_cert_info *ci = NULL;
    struct fx_audit a;
    X509 *cert;
    char serial[64];
    EVP_PKEY *key = tu_rsa_key(2048);

    memset(&q, 0, sizeof(q));
    q.key = key;
    q.signer = tu_self_signed(key, "device-1");
    q.csr = tu_csr(key, "device-1", CHALLENGE, "device-1.example");
    fx_build(f, SCEP_MSG_PKCSREQ, "tid-success", &q, &der, &len);
    fx_send(f, der, len, &r);
    assert_string_equal(r.outcome, "success");
    assert_int_equal(r.msg_type, SCEP_MSG_PKCSREQ);
    assert_true(r.serial[0] != '\0');
    assert_true(r.issue_seconds > 0.0);

    m = fx_open(f, &r, "tid-success", &q);
    assert_int_equal(scep_msg_status(m), SCEP_STATUS_SUCCESS);
    certs = scep_msg_get0_certs(m);
    assert_int_equal(sk_X509_num(certs), 2);
    cert = fx_leaf(f, certs);
    /* issued by our CA, for the CSR's key, and the CA certificate too */
    assert_int_equal(X509_verify(cert, X509_get0_pubkey(scep_ca_get0_cert(f->ca))), 1);
    assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(cert), key), 1);
    assert_true(X509_cmp(sk_X509_value(certs, 0), scep_ca_get0_cert(f->ca)) == 0 ||
                X509_cmp(sk_X509_value(certs, 1), scep_ca_get0_cert(f->ca)) == 0);
    fx_serial_hex(cert, serial, sizeof(serial));
    assert_string_equal(serial, r.serial);

    /* stored, with what the CA issued */
    assert_int_equal(scep_store_get_cert(f->st, serial, &ci), 0);
    assert_string_equal(ci->transaction_id, "tid-success");
    assert_string_equal(ci->requester, FX_PEER);
    assert_string_equal(ci->msg_type, "PKCSReq");
    assert_string_equal(ci->subject, "CN=device-1");
    assert_non_null(ci->sans);
    assert_string_equal(ci->sans, "DNS:device-1.example");
    assert_int_equal(ci->status, SCEP_CERT_VALID);
    assert_int_equal(ci->der_len, (size_t)i2d_X509(cert, NULL));
    scep_cert_info_free(ci);
    assert_int_equal(fx_cert_count(f), 1);

    fx_audit_read(f, &a);
    assert_int_equal(a.n, 1);
    assert_string_equal(a.kind[0], "issue");
    assert_string_equal(a.tid[0], "tid-success");
    assert_string_equal(a.peer[0], FX_PEER);

    scep_msg_free(m);
    scep_reply_clear(&r);
    scep_free(der);
    X509_free(q.signer);
    X509_REQ_free(q.csr);
    EVP_PKEY_free(key);
}

static void refuse_challenge(struct fx *f, const char *challenge, const char *tid, const char *text)
{
    struct fx_req q;
    struct fx_audit a;
    char want[300];
    EVP_PKEY *key = tu_rsa_key(2048);

    memset(&q, 0, sizeof(q));
    q.key = key;
    q.signer = tu_self_signed(key, "device-2");
    q.csr = tu_csr(key, "device-2", challenge, NULL);
    fx_expect_failure(f, SCEP_MSG_PKCSREQ, tid, &q, SCEP_FAIL_BAD_REQUEST, text);
    assert_int_equal(fx_cert_count(f), 0);
    fx_audit_read(f, &a);
    assert_int_equal(a.n, 1);
    assert_string_equal(a.kind[0], "refuse");
    assert_string_equal(a.tid[0], tid);
    assert_string_equal(a.peer[0], FX_PEER);
    snprintf(want, sizeof(want), "badRequest: %s; profile=default", text);
    assert_string_equal(a.detail[0], want);
    X509_free(q.signer);
    X509_REQ_free(q.csr);
    EVP_PKEY_free(key);
}

static void test_wrong_challenge(void **state)
{
    refuse_challenge(*state, "wrong", "tid-wrong", "challenge password wrong or unknown");
}

static void test_challenge_prefix(void **state)
{
    /* a prefix of the right password must not pass a length-blind compare */
    refuse_challenge(*state, "s3cret", "tid-prefix", "challenge password wrong or unknown");
}

static void test_missing_challenge(void **state)
{
    refuse_challenge(*state, NULL, "tid-missing", "challenge password missing");
}

static void test_no_challenge_configured(void **state)
{
    struct fx *f = fx_new(0, NULL, 1);
    EVP_PKEY *key = tu_rsa_key(2048);
    X509 *c = fx_enroll(f, key, "open-enroll", NULL, "tid-open");

    assert_non_null(c);
    assert_int_equal(fx_cert_count(f), 1);
    X509_free(c);
    EVP_PKEY_free(key);
    fx_free(f);
}

static void test_csr_bad_signature(void **state)
{
    struct fx *f = *state;
    struct fx_req q;
    EVP_PKEY *key = tu_rsa_key(2048), *other = tu_rsa_key_fresh(2048);

    memset(&q, 0, sizeof(q));
    q.key = key;
    q.signer = tu_self_signed(key, "device-3");
    q.csr = tu_csr(key, "device-3", CHALLENGE, NULL);
    /* re-signed by another key: the CSR no longer proves possession */
    assert_true(X509_REQ_sign(q.csr, other, EVP_sha256()) > 0);
    fx_expect_failure(f, SCEP_MSG_PKCSREQ, "tid-pop", &q, SCEP_FAIL_BAD_MESSAGE_CHECK, NULL);
    assert_int_equal(fx_cert_count(f), 0);
    X509_free(q.signer);
    X509_REQ_free(q.csr);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other);
}

static void test_weak_key(void **state)
{
    struct fx *f = *state;
    struct fx_req q;
    EVP_PKEY *signkey = tu_rsa_key(2048), *weak = tu_rsa_key(1024);

    memset(&q, 0, sizeof(q));
    q.key = signkey;
    q.signer = tu_self_signed(signkey, "device-weak");
    q.csr = tu_csr(weak, "device-weak", CHALLENGE, NULL);
    fx_expect_failure(f, SCEP_MSG_PKCSREQ, "tid-weak", &q, SCEP_FAIL_BAD_ALG, NULL);
    assert_int_equal(fx_cert_count(f), 0);
    X509_free(q.signer);
    X509_REQ_free(q.csr);
    EVP_PKEY_free(signkey);
    EVP_PKEY_free(weak);
}

static void test_tampered_message(void **state)
{
    struct fx *f = *state;
    struct fx_req q;
    unsigned char *der = NULL;
    size_t len = 0;
    struct scep_reply r;
    struct scep_msg *m;
    EVP_PKEY *key = tu_rsa_key(2048);

    memset(&q, 0, sizeof(q));
    q.key = key;
    q.signer = tu_self_signed(key, "device-4");
    q.csr = tu_csr(key, "device-4", CHALLENGE, NULL);
    fx_build(f, SCEP_MSG_PKCSREQ, "tid-tampered", &q, &der, &len);
    /* The SignerInfo's signature is the last field of the DER. */
    der[len - 7] ^= 0x5a;
    fx_send(f, der, len, &r);
    assert_string_equal(r.outcome, "failure");
    m = fx_open(f, &r, "tid-tampered", &q);
    assert_int_equal(scep_msg_status(m), SCEP_STATUS_FAILURE);
    assert_int_equal(scep_msg_fail_info(m), SCEP_FAIL_BAD_MESSAGE_CHECK);
    assert_int_equal(fx_cert_count(f), 0);
    scep_msg_free(m);
    scep_reply_clear(&r);
    scep_free(der);
    X509_free(q.signer);
    X509_REQ_free(q.csr);
    EVP_PKEY_free(key);
}

static void test_garbage(void **state)
{
    struct fx *f = *state;
    static const unsigned char junk[] = "\x30\x03\x02\x01\x05 definitely not SCEP";
    struct scep_reply r;
    struct fx_audit a;

    fx_send(f, junk, sizeof(junk) - 1, &r);
    assert_int_equal(r.http_status, 400);
    assert_string_equal(r.outcome, "error");
    assert_null(r.body);
    assert_int_equal(strncmp(r.reason, "malformed pkiMessage: ", 22), 0);
    scep_reply_clear(&r);

    fx_send(f, junk, 0, &r);
    assert_int_equal(r.http_status, 400);
    scep_reply_clear(&r);
    fx_audit_read(f, &a);
    assert_int_equal(a.n, 0);
}

static void test_renewal(void **state)
{
    struct fx *f = *state;
    struct fx_req q;
    struct scep_cert_info *ci = NULL;
    EVP_PKEY *oldkey = tu_rsa_key(2048), *newkey = tu_rsa_key_fresh(2048);
    X509 *old = fx_enroll(f, oldkey, "renew-me", CHALLENGE, "tid-renew-1"), *c;
    char oldserial[64], serial[64];

    memset(&q, 0, sizeof(q));
    q.key = oldkey;
    q.signer = old;
    /* another subject asked for, no challenge: the old certificate's
     * subject is kept, its signature is the authorisation */
    q.csr = tu_csr(newkey, "someone-else", NULL, NULL);
    c = fx_expect_cert(f, SCEP_MSG_RENEWALREQ, "tid-renew-2", &q);
    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(c), X509_get_subject_name(old)), 0);
    assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(c), newkey), 1);
    assert_int_equal(X509_verify(c, X509_get0_pubkey(scep_ca_get0_cert(f->ca))), 1);
    fx_serial_hex(old, oldserial, sizeof(oldserial));
    fx_serial_hex(c, serial, sizeof(serial));
    assert_string_not_equal(serial, oldserial);
    assert_int_equal(scep_store_get_cert(f->st, serial, &ci), 0);
    assert_string_equal(ci->msg_type, "RenewalReq");
    assert_non_null(ci->renewed_serial);
    assert_string_equal(ci->renewed_serial, oldserial);
    scep_cert_info_free(ci);
    assert_int_equal(fx_cert_count(f), 2);

    X509_free(c);
    X509_REQ_free(q.csr);
    X509_free(old);
    EVP_PKEY_free(oldkey);
    EVP_PKEY_free(newkey);
}

static void test_renewal_by_pkcsreq(void **state)
{
    struct fx *f = *state;
    struct fx_req q;
    EVP_PKEY *oldkey = tu_rsa_key(2048), *newkey = tu_rsa_key_fresh(2048);
    X509 *old = fx_enroll(f, oldkey, "cisco-router", CHALLENGE, "tid-cisco-1"), *c;

    memset(&q, 0, sizeof(q));
    q.key = oldkey;
    q.signer = old;
    q.csr = tu_csr(newkey, "cisco-router", NULL, NULL);
    c = fx_expect_cert(f, SCEP_MSG_PKCSREQ, "tid-cisco-2", &q);
    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(c), X509_get_subject_name(old)), 0);
    assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(c), newkey), 1);
    X509_free(c);
    X509_REQ_free(q.csr);

    /* a renewal cannot add names the old certificate did not hold */
    q.csr = tu_csr(newkey, "cisco-router", NULL, "bank.example");
    fx_expect_failure(f, SCEP_MSG_PKCSREQ, "tid-cisco-3", &q, SCEP_FAIL_BAD_REQUEST,
                      "renewal may not change subjectAltName");
    X509_REQ_free(q.csr);
    X509_free(old);
    EVP_PKEY_free(oldkey);
    EVP_PKEY_free(newkey);
}

static void test_renewal_foreign_signer(void **state)
{
    struct fx *f = *state;
    struct fx_req q;
    struct fx_audit a;
    EVP_PKEY *key = tu_rsa_key(2048);

    memset(&q, 0, sizeof(q));
    q.key = key;
    q.signer = tu_self_signed(key, "not-ours");
    q.csr = tu_csr(key, "not-ours", CHALLENGE, NULL);
    fx_expect_failure(f, SCEP_MSG_RENEWALREQ, "tid-foreign", &q, SCEP_FAIL_BAD_REQUEST, NULL);
    assert_int_equal(fx_cert_count(f), 0);
    fx_audit_read(f, &a);
    assert_int_equal(a.n, 1);
    assert_string_equal(a.kind[0], "refuse");
    X509_free(q.signer);
    X509_REQ_free(q.csr);
    EVP_PKEY_free(key);
}

static void test_renewal_revoked_signer(void **state)
{
    struct fx *f = *state;
    struct fx_req q;
    EVP_PKEY *key = tu_rsa_key(2048);
    X509 *old = fx_enroll(f, key, "revoked-dev", CHALLENGE, "tid-rev-1");
    char serial[64];

    fx_serial_hex(old, serial, sizeof(serial));
    assert_int_equal(scep_store_revoke(f->st, serial, 1, 0, NULL), 0);
    memset(&q, 0, sizeof(q));
    q.key = key;
    q.signer = old;
    q.csr = tu_csr(key, "revoked-dev", NULL, NULL);
    fx_expect_failure(f, SCEP_MSG_RENEWALREQ, "tid-rev-2", &q, SCEP_FAIL_BAD_REQUEST, NULL);
    /* and not through the PKCSReq door either without the challenge */
    fx_expect_failure(f, SCEP_MSG_PKCSREQ, "tid-rev-3", &q, SCEP_FAIL_BAD_REQUEST,
                      "challenge password missing");
    assert_int_equal(fx_cert_count(f), 1);
    X509_REQ_free(q.csr);
    X509_free(old);
    EVP_PKEY_free(key);
}

static void test_renewal_expired_signer(void **state)
{
    struct fx *f = *state;
    struct scep_profile p;
    struct fx_req q;
    EVP_PKEY *key = tu_rsa_key(2048);
    X509_REQ *csr = tu_csr(key, "short-lived", NULL, NULL);
    unsigned char serial[16];
    X509 *old = NULL;

    memset(&p, 0, sizeof(p));
    p.validity_seconds = 1;
    assert_int_equal(scep_ca_random_serial(serial), 0);
    assert_int_equal(scep_ca_issue(f->ca, csr, NULL, &p, serial, sizeof(serial), &old), 0);
    sleep(2);
    memset(&q, 0, sizeof(q));
    q.key = key;
    q.signer = old;
    q.csr = csr;
    fx_expect_failure(f, SCEP_MSG_RENEWALREQ, "tid-expired", &q, SCEP_FAIL_BAD_TIME, NULL);
    X509_free(old);
    X509_REQ_free(csr);
    EVP_PKEY_free(key);
}

static void test_renewal_disabled(void **state)
{
    struct fx *f = fx_new(0, CHALLENGE, 0);
    struct fx_req q;
    unsigned caps = scep_service_caps(f->svc, NULL);
    EVP_PKEY *key = tu_rsa_key(2048);
    X509 *old = fx_enroll(f, key, "no-renew", CHALLENGE, "tid-nr-1");

    assert_false(caps & SCEP_CAP_RENEWAL);
    memset(&q, 0, sizeof(q));
    q.key = key;
    q.signer = old;
    q.csr = tu_csr(key, "no-renew", NULL, NULL);
    fx_expect_failure(f, SCEP_MSG_RENEWALREQ, "tid-nr-2", &q, SCEP_FAIL_BAD_REQUEST, NULL);
    assert_int_equal(fx_cert_count(f), 1);
    X509_REQ_free(q.csr);
    X509_free(old);
    EVP_PKEY_free(key);
    fx_free(f);
}

static void test_idempotent(void **state)
{
    struct fx *f = *state;
    struct fx_req q;
    EVP_PKEY *key = tu_rsa_key(2048), *other = tu_rsa_key(3072);
    X509 *c1, *c2;

    memset(&q, 0, sizeof(q));
    q.key = key;
    q.signer = tu_self_signed(key, "resender");
    q.csr = tu_csr(key, "resender", CHALLENGE, NULL);
    c1 = fx_expect_cert(f, SCEP_MSG_PKCSREQ, "tid-again", &q);
    c2 = fx_expect_cert(f, SCEP_MSG_PKCSREQ, "tid-again", &q);
    assert_int_equal(X509_cmp(c1, c2), 0);
    assert_int_equal(fx_cert_count(f), 1);
    X509_REQ_free(q.csr);

    /* a repeat must be authorised like the first request: the same key
     * and transactionID with a wrong challenge get nothing */
    q.csr = tu_csr(key, "resender", "guess", NULL);
    fx_expect_failure(f, SCEP_MSG_PKCSREQ, "tid-again", &q, SCEP_FAIL_BAD_REQUEST,
                      "challenge password wrong or unknown");
    X509_free(q.signer);
    X509_REQ_free(q.csr);

    /* the same transactionID with another key */
    q.key = other;
    q.signer = tu_self_signed(other, "intruder");
    q.csr = tu_csr(other, "intruder", CHALLENGE, NULL);
    fx_expect_failure(f, SCEP_MSG_PKCSREQ, "tid-again", &q, SCEP_FAIL_BAD_REQUEST,
                      "transactionID already used with another public key");
    assert_int_equal(fx_cert_count(f), 1);
    X509_free(q.signer);
    X509_REQ_free(q.csr);
    X509_free(c1);
    X509_free(c2);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other);
}

static void test_certrep_refused(void **state)
{
    struct fx *f = *state;
    struct scep_msg_spec s;
    EVP_PKEY *key = tu_rsa_key(2048);
    X509 *self = tu_self_signed(key, "fake server");
    unsigned char nonce[SCEP_NONCE_LEN] = "0123456789abcde";
    unsigned char *der = NULL;
    size_t len = 0;
    struct scep_reply r;

    memset(&s, 0, sizeof(s));
    s.type = SCEP_MSG_CERTREP;
    s.transaction_id = "tid-certrep";
    s.recipient_nonce = nonce;
    s.signer_cert = self;
    s.signer_key = key;
    s.status = SCEP_STATUS_FAILURE;
    s.fail_info = SCEP_FAIL_BAD_REQUEST;
    assert_int_equal(scep_msg_build(&s, &der, &len), 0);
    fx_send(f, der, len, &r);
    /* decodable, so answered with a signed FAILURE, not an HTTP error */
    assert_int_equal(r.http_status, 200);
    assert_string_equal(r.outcome, "failure");
    assert_int_equal(r.fail_info, SCEP_FAIL_BAD_REQUEST);
    assert_int_equal(r.msg_type, SCEP_MSG_CERTREP);
    assert_int_equal(fx_cert_count(f), 0);
    scep_reply_clear(&r);
    scep_free(der);
    X509_free(self);
    EVP_PKEY_free(key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pkcsreq_success, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_challenge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_challenge_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_challenge, setup, teardown),
        cmocka_unit_test(test_no_challenge_configured),
        cmocka_unit_test_setup_teardown(test_csr_bad_signature, setup, teardown),
        cmocka_unit_test_setup_teardown(test_weak_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tampered_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_renewal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_renewal_by_pkcsreq, setup, teardown),
        cmocka_unit_test_setup_teardown(test_renewal_foreign_signer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_renewal_revoked_signer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_renewal_expired_signer, setup, teardown),
        cmocka_unit_test(test_renewal_disabled),
        cmocka_unit_test_setup_teardown(test_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_certrep_refused, setup, teardown),
    };

    if (scep_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
