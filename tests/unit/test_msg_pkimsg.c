/*
 * Round trips of every pkiMessage request type through scep_msg_build,
 * scep_msg_decode, scep_msg_verify and scep_msg_decrypt, for each content
 * cipher x digest x key transport, checking every attribute and the
 * decrypted messageData.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_msg_fixture.h"

static struct fx F;

static const struct {
    const char *name;
    int nid;
} ciphers[] = {
    {"AES-128-CBC", NID_aes_128_cbc},
    {"AES-256-CBC", NID_aes_256_cbc},
    {"DES-EDE3-CBC", NID_des_ede3_cbc},
    {"DES-CBC", NID_des_cbc},
};

static const struct {
    const char *name;
    int nid;
} digests[] = {
    {"SHA1", NID_sha1},     {"SHA224", NID_sha224}, {"SHA256", NID_sha256},
    {"SHA384", NID_sha384}, {"SHA512", NID_sha512},
};

static const int req_types[] = {SCEP_MSG_PKCSREQ, SCEP_MSG_RENEWALREQ, SCEP_MSG_CERTPOLL,
                                SCEP_MSG_GETCERT, SCEP_MSG_GETCRL};

static int setup(void **state)
{
    fx_init(&F);
    return 0;
}

static int teardown(void **state)
{
    fx_free(&F);
    return 0;
}

/* Checks the messageData of a decrypted request against what was sent. */
static void check_content(const struct scep_msg *m, const struct scep_msg_spec *s)
{
    unsigned char *a = NULL, *b = NULL;
    int la, lb;

    switch (s->type) {
    case SCEP_MSG_PKCSREQ:
    case SCEP_MSG_RENEWALREQ:
        assert_non_null(scep_msg_get0_csr(m));
        la = i2d_X509_REQ(scep_msg_get0_csr(m), &a);
        lb = i2d_X509_REQ(s->csr, &b);
        assert_true(la > 0);
        assert_int_equal(la, lb);
        assert_memory_equal(a, b, (size_t)la);
        assert_null(scep_msg_get0_issuer(m));
        break;
    case SCEP_MSG_CERTPOLL:
        assert_null(scep_msg_get0_csr(m));
        assert_int_equal(X509_NAME_cmp(scep_msg_get0_issuer(m), s->issuer), 0);
        assert_int_equal(X509_NAME_cmp(scep_msg_get0_subject(m), s->subject), 0);
        assert_null(scep_msg_get0_serial(m));
        break;
    default:
        assert_int_equal(X509_NAME_cmp(scep_msg_get0_issuer(m), s->issuer), 0);
        assert_int_equal(ASN1_INTEGER_cmp(scep_msg_get0_serial(m), s->serial), 0);
        assert_null(scep_msg_get0_subject(m));
        break;
    }
    OPENSSL_free(a);
    OPENSSL_free(b);
}

static void round_trip(int type, int ci, int di, int kt)
{
    struct scep_msg_spec s;
    struct scep_msg *m = NULL;
    unsigned char *der = NULL;
    size_t len = 0;
    EVP_CIPHER *cipher = EVP_CIPHER_fetch(NULL, ciphers[ci].name, NULL);
    const EVP_MD *md = EVP_get_digestbyname(digests[di].name);

    assert_non_null(cipher);
    assert_non_null(md);
    fx_request_spec(&F, &s, type);
    s.cipher = cipher;
    s.md = md;
    s.key_transport = kt;
    s.sender_nonce = fx_nonce_b;
    assert_int_equal(scep_msg_build(&s, &der, &len), 0);
    assert_int_equal(scep_msg_decode(der, len, &m), 0);

    assert_int_equal(scep_msg_type(m), type);
    assert_string_equal(scep_msg_get0_transaction_id(m), s.transaction_id);
    assert_memory_equal(scep_msg_get0_sender_nonce(m), fx_nonce_b, 16);
    assert_null(scep_msg_get0_recipient_nonce(m));
    assert_int_equal(scep_msg_status(m), -1);
    assert_int_equal(scep_msg_fail_info(m), -1);
    assert_null(scep_msg_get0_fail_text(m));
    assert_int_equal(X509_cmp(scep_msg_get0_signer_cert(m), F.cl_cert), 0);
    assert_int_equal(sk_X509_num(scep_msg_get0_signed_certs(m)), 1);
    assert_int_equal(scep_msg_digest_nid(m), digests[di].nid);
    assert_int_equal(scep_msg_cipher_nid(m), ciphers[ci].nid);
    assert_int_equal(scep_msg_key_transport(m), kt);

    assert_int_equal(scep_msg_verify(m, NULL), 0);
    assert_int_equal(scep_msg_verify(m, F.cl_cert), 0);
    /* signed by the client, so the CA certificate must not verify it */
    assert_int_equal(scep_msg_verify(m, F.ca_cert), SCEP_ERR_SIGNATURE);
    assert_int_equal(scep_msg_decrypt(m, F.ca_cert, F.ca_key), 0);
    check_content(m, &s);

    scep_msg_free(m);
    scep_free(der);
    EVP_CIPHER_free(cipher);
}

static void test_matrix(void **state)
{
    size_t t, c, d;
    int kt;

    for (t = 0; t < sizeof(req_types) / sizeof(req_types[0]); t++)
        for (c = 0; c < sizeof(ciphers) / sizeof(ciphers[0]); c++)
            for (d = 0; d < sizeof(digests) / sizeof(digests[0]); d++)
                for (kt = SCEP_KT_RSA_PKCS1; kt <= SCEP_KT_RSA_OAEP; kt++)
                    round_trip(req_types[t], (int)c, (int)d, kt);
}

/* Defaults: AES-128-CBC, SHA-256, PKCS#1 v1.5, a fresh random nonce. */
static void test_defaults(void **state)
{
    struct scep_msg_spec s;
    struct scep_msg *m1 = NULL, *m2 = NULL;
    unsigned char *d1 = NULL, *d2 = NULL;
    size_t l1, l2;

    fx_request_spec(&F, &s, SCEP_MSG_PKCSREQ);
    assert_int_equal(scep_msg_build(&s, &d1, &l1), 0);
    assert_int_equal(scep_msg_build(&s, &d2, &l2), 0);
    assert_int_equal(scep_msg_decode(d1, l1, &m1), 0);
    assert_int_equal(scep_msg_decode(d2, l2, &m2), 0);
    assert_int_equal(scep_msg_cipher_nid(m1), NID_aes_128_cbc);
    assert_int_equal(scep_msg_digest_nid(m1), NID_sha256);
    assert_int_equal(scep_msg_key_transport(m1), SCEP_KT_RSA_PKCS1);
    assert_memory_not_equal(scep_msg_get0_sender_nonce(m1), scep_msg_get0_sender_nonce(m2), 16);
    scep_msg_free(m1);
    scep_msg_free(m2);
    scep_free(d1);
    scep_free(d2);
}

/* Extra certificates go into SignedData.certificates, once each. */
static void test_extra_certs(void **state)
{
    struct scep_msg_spec s;
    struct scep_msg *m = NULL;
    STACK_OF(X509) *extra = sk_X509_new_null();
    unsigned char *der = NULL;
    size_t len;

    assert_non_null(extra);
    sk_X509_push(extra, F.ot_cert);
    sk_X509_push(extra, F.cl_cert); /* the signer again: not duplicated */
    fx_request_spec(&F, &s, SCEP_MSG_RENEWALREQ);
    s.extra_certs = extra;
    assert_int_equal(scep_msg_build(&s, &der, &len), 0);
    assert_int_equal(scep_msg_decode(der, len, &m), 0);
    assert_int_equal(sk_X509_num(scep_msg_get0_signed_certs(m)), 2);
    assert_int_equal(X509_cmp(scep_msg_get0_signer_cert(m), F.cl_cert), 0);
    assert_int_equal(scep_msg_verify(m, NULL), 0);
    scep_msg_free(m);
    scep_free(der);
    sk_X509_free(extra);
}

/* Several recipients (micromdm encrypts to every GetCACert certificate):
 * each one can open the envelope with its own certificate. */
static void test_two_recipients(void **state)
{
    struct scep_msg_spec s;
    struct scep_msg *m = NULL;
    STACK_OF(X509) *rc = sk_X509_new_null();
    unsigned char *der = NULL;
    size_t len;
    int kt;

    assert_non_null(rc);
    sk_X509_push(rc, F.ot_cert);
    sk_X509_push(rc, F.ca_cert);
    for (kt = SCEP_KT_RSA_PKCS1; kt <= SCEP_KT_RSA_OAEP; kt++) {
        fx_request_spec(&F, &s, SCEP_MSG_PKCSREQ);
        s.recipients = rc;
        s.key_transport = kt;
        assert_int_equal(scep_msg_build(&s, &der, &len), 0);
        assert_int_equal(scep_msg_decode(der, len, &m), 0);
        assert_int_equal(scep_msg_decrypt(m, F.ca_cert, F.ca_key), 0);
        assert_non_null(scep_msg_get0_csr(m));
        scep_msg_free(m);
        m = NULL;
        assert_int_equal(scep_msg_decode(der, len, &m), 0);
        assert_int_equal(scep_msg_decrypt(m, F.ot_cert, F.ot_key), 0);
        assert_non_null(scep_msg_get0_csr(m));
        scep_msg_free(m);
        m = NULL;
        scep_free(der);
    }
    sk_X509_free(rc);
}

/* A spec the builder must refuse. */
static void test_build_rejects(void **state)
{
    struct scep_msg_spec s;
    unsigned char *der = NULL;
    size_t len = 0;
    char longid[SCEP_MAX_TRANSID + 2];

    fx_request_spec(&F, &s, 18);
    assert_int_equal(scep_msg_build(&s, &der, &len), SCEP_ERR_MSG_TYPE);
    fx_request_spec(&F, &s, SCEP_MSG_PKCSREQ);
    s.transaction_id = "";
    assert_int_equal(scep_msg_build(&s, &der, &len), SCEP_ERR_TRANSID);
    s.transaction_id = "under_score"; /* '_' is not PrintableString */
    assert_int_equal(scep_msg_build(&s, &der, &len), SCEP_ERR_TRANSID);
    memset(longid, 'a', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    s.transaction_id = longid;
    assert_int_equal(scep_msg_build(&s, &der, &len), SCEP_ERR_TRANSID);
    fx_request_spec(&F, &s, SCEP_MSG_PKCSREQ);
    s.csr = NULL;
    assert_int_equal(scep_msg_build(&s, &der, &len), SCEP_ERR_INVALID_ARG);
    fx_request_spec(&F, &s, SCEP_MSG_PKCSREQ);
    s.md = EVP_md5();
    assert_int_equal(scep_msg_build(&s, &der, &len), SCEP_ERR_BAD_ALG);
    fx_request_spec(&F, &s, SCEP_MSG_PKCSREQ);
    s.cipher = EVP_aes_128_gcm();
    assert_int_equal(scep_msg_build(&s, &der, &len), SCEP_ERR_BAD_ALG);
    fx_request_spec(&F, &s, SCEP_MSG_PKCSREQ);
    s.signer_key = F.ot_key; /* does not match signer_cert */
    assert_int_equal(scep_msg_build(&s, &der, &len), SCEP_ERR_INVALID_ARG);
    fx_request_spec(&F, &s, SCEP_MSG_PKCSREQ);
    s.recipients = NULL;
    assert_int_equal(scep_msg_build(&s, &der, &len), SCEP_ERR_INVALID_ARG);
    assert_null(der);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matrix),        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_extra_certs),   cmocka_unit_test(test_two_recipients),
        cmocka_unit_test(test_build_rejects),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
