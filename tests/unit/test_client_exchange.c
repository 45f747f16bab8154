/*
 * Unit tests of the client's PKIOperation exchanges through the transport
 * seam.  The "server" here is a small SCEP responder written with the real
 * message layer (scep_msg_decode/verify/decrypt/build): it lets each test
 * choose what the server does -- issue, hold PENDING, refuse, or answer
 * with a wrong nonce, transactionID or signer -- and records what the
 * client sent (method, cipher, digest, message type).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/x509v3.h>

#include <scep/scep.h>

#include "testutil.h"

enum mode {
    M_ISSUE,
    M_PENDING_ONCE,
    M_FAILURE,
    M_BAD_NONCE,
    M_BAD_TXID,
    M_WRONG_SIGNER,
    M_HTTP500
};

struct fake {
    const char *caps;
    X509 *ca;
    EVP_PKEY *ca_key;
    X509 *other; /* a certificate the client does not trust */
    EVP_PKEY *other_key;
    enum mode mode;
    int pending_left;
    EVP_PKEY *req_pub; /* public key of the CSR of the transaction */
    /* what the client sent last */
    int posted;
    int type;
    int cipher_nid;
    int digest_nid;
    char txid[200];
};

static void set_body(struct scep_http_response *out, const void *p, size_t n, const char *ct)
{
    out->status = 200;
    out->body = malloc(n ? n : 1);
    assert_non_null(out->body);
    memcpy(out->body, p, n);
    out->len = n;
    snprintf(out->content_type, sizeof(out->content_type), "%s", ct);
}

static X509 *issue(struct fake *f, EVP_PKEY *pub)
{
    X509 *x = X509_new();

    X509_set_version(x, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 4242);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"issued", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(f->ca));
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, pub);
    assert_true(X509_sign(x, f->ca_key, EVP_sha256()) > 0);
    return x;
}

/* Answers one pkiMessage the way f->mode says. */
static void answer(struct fake *f, const unsigned char *der, size_t len,
                   struct scep_http_response *out)
{
    struct scep_msg *m = NULL;
    struct scep_msg_spec s;
    STACK_OF(X509) *certs = sk_X509_new_null();
    unsigned char nonce[SCEP_NONCE_LEN];
    unsigned char *rep = NULL;
    size_t rlen = 0;
    X509 *cert = NULL;

    assert_int_equal(scep_msg_decode(der, len, &m), 0);
    assert_int_equal(scep_msg_verify(m, NULL), 0);
    assert_int_equal(scep_msg_decrypt(m, f->ca, f->ca_key), 0);
    f->type = scep_msg_type(m);
    f->cipher_nid = scep_msg_cipher_nid(m);
    f->digest_nid = scep_msg_digest_nid(m);
    snprintf(f->txid, sizeof(f->txid), "%s", scep_msg_get0_transaction_id(m));
    if (scep_msg_get0_csr(m) != NULL) {
        EVP_PKEY_free(f->req_pub);
        f->req_pub = X509_REQ_get_pubkey(scep_msg_get0_csr(m));
    }
    memset(&s, 0, sizeof(s));
    s.type = SCEP_MSG_CERTREP;
    s.transaction_id = f->mode == M_BAD_TXID ? "someone-else" : scep_msg_get0_transaction_id(m);
    memcpy(nonce, scep_msg_get0_sender_nonce(m), sizeof(nonce));
    if (f->mode == M_BAD_NONCE)
        nonce[0] ^= 1;
    s.recipient_nonce = nonce;
    s.signer_cert = f->mode == M_WRONG_SIGNER ? f->other : f->ca;
    s.signer_key = f->mode == M_WRONG_SIGNER ? f->other_key : f->ca_key;
    s.recipient = scep_msg_get0_signer_cert(m);
    s.cipher = EVP_aes_128_cbc();
    if (f->mode == M_FAILURE) {
        s.status = SCEP_STATUS_FAILURE;
        s.fail_info = SCEP_FAIL_BAD_REQUEST;
        s.fail_text = "challenge password missing or wrong";
    } else if (f->mode == M_PENDING_ONCE && f->pending_left > 0) {
        f->pending_left--;
        s.status = SCEP_STATUS_PENDING;
    } else {
        s.status = SCEP_STATUS_SUCCESS;
        cert = issue(f, f->req_pub);
        /* CA first on purpose: the client must put the issued one first. */
        sk_X509_push(certs, f->ca);
        sk_X509_push(certs, cert);
        s.certs = certs;
    }
    assert_int_equal(scep_msg_build(&s, &rep, &rlen), 0);
    set_body(out, rep, rlen, "application/x-pki-message");
    scep_free(rep);
    X509_free(cert);
    sk_X509_free(certs);
    scep_msg_free(m);
}

static int fake_get(void *ctx, const char *url, struct scep_http_response *out)
{
    struct fake *f = ctx;
    const char *op = strstr(url, "operation=");
    const char *msg = strstr(url, "message=");

    memset(out, 0, sizeof(*out));
    assert_non_null(op);
    op += strlen("operation=");
    if (strncmp(op, "GetCACaps", 9) == 0) {
        set_body(out, f->caps, strlen(f->caps), "text/plain");
    } else if (strncmp(op, "GetCACert", 9) == 0) {
        unsigned char *der = NULL;
        int n = i2d_X509(f->ca, &der);

        set_body(out, der, (size_t)n, "application/x-x509-ca-cert");
        OPENSSL_free(der);
    } else if (strncmp(op, "PKIOperation", 12) == 0) {
        unsigned char *der = NULL;
        size_t len = 0;

        if (f->mode == M_HTTP500) {
            out->status = 500;
            return 0;
        }
        assert_non_null(msg);
        msg += strlen("message=");
        assert_int_equal(scep_query_message_decode(msg, strlen(msg), &der, &len), 0);
        f->posted = 0;
        answer(f, der, len, out);
        scep_free(der);
    } else {
        out->status = 404;
    }
    return 0;
}

static int fake_post(void *ctx, const char *url, const unsigned char *body, size_t len,
                     const char *ct, struct scep_http_response *out)
{
    struct fake *f = ctx;

    memset(out, 0, sizeof(*out));
    assert_non_null(strstr(url, "operation=PKIOperation"));
    if (f->mode == M_HTTP500) {
        out->status = 500;
        return 0;
    }
    f->posted = 1;
    answer(f, body, len, out);
    return 0;
}

static struct fake F;

static int setup(void **state)
{
    EVP_PKEY *k = tu_rsa_key_fresh(2048);

    (void)state;
    memset(&F, 0, sizeof(F));
    F.ca_key = k;
    F.ca = tu_self_signed(k, "Fake CA");
    F.other_key = tu_rsa_key_fresh(2048);
    F.other = tu_self_signed(F.other_key, "Fake CA");
    F.caps = "POSTPKIOperation\nAES\nSHA-256\nRenewal\n";
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    X509_free(F.ca);
    X509_free(F.other);
    EVP_PKEY_free(F.ca_key);
    EVP_PKEY_free(F.other_key);
    EVP_PKEY_free(F.req_pub);
    return 0;
}

static struct scep_client *client(int method, int cipher, int digest)
{
    struct scep_transport t = {fake_get, fake_post, NULL, &F};
    struct scep_client_options o = {.url = "http://fake/scep", .transport = &t};
    struct scep_client *c = NULL;

    o.method = method;
    o.cipher = cipher;
    o.digest = digest;
    assert_int_equal(scep_client_new(&o, &c), 0);
    return c;
}

/* Enrolls once with a fresh key; returns the libscep result. */
static int enroll(struct scep_client *c, STACK_OF(X509) **certs, EVP_PKEY **keyp,
                  struct scep_txn **txnp)
{
    EVP_PKEY *k = tu_rsa_key(2048);
    X509_REQ *csr = NULL;
    struct scep_txn *t = NULL;
    struct scep_csr_params p = {.subject = "CN=dev1", .challenge = "pw"};
    int rc;

    assert_int_equal(scep_csr_make(k, &p, &csr), 0);
    assert_int_equal(scep_txn_new_enroll(k, csr, &t), 0);
    rc = scep_client_enroll(c, t, certs);
    X509_REQ_free(csr);
    if (txnp != NULL)
        *txnp = t;
    else
        scep_txn_free(t);
    if (keyp != NULL)
        *keyp = k;
    else
        EVP_PKEY_free(k);
    return rc;
}

static void test_issue_post_aes_sha256(void **state)
{
    struct scep_client *c = client(SCEP_METHOD_AUTO, SCEP_CIPHER_AUTO, SCEP_DIGEST_AUTO);
    STACK_OF(X509) *certs = NULL;
    EVP_PKEY *k = NULL;

    (void)state;
    F.mode = M_ISSUE;
    assert_int_equal(enroll(c, &certs, &k, NULL), 0);
    assert_int_equal(F.posted, 1);
    assert_int_equal(F.type, SCEP_MSG_PKCSREQ);
    assert_int_equal(F.cipher_nid, NID_aes_128_cbc);
    assert_int_equal(F.digest_nid, NID_sha256);
    assert_int_equal(sk_X509_num(certs), 2);
    /* The issued certificate comes first, whatever the server's order. */
    assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(sk_X509_value(certs, 0)), k), 1);
    sk_X509_pop_free(certs, X509_free);
    EVP_PKEY_free(k);
    scep_client_free(c);
}

static void test_legacy_caps_get_des3_sha1(void **state)
{
    struct scep_client *c;
    STACK_OF(X509) *certs = NULL;

    (void)state;
    F.caps = ""; /* a server that lists nothing */
    F.mode = M_ISSUE;
    c = client(SCEP_METHOD_AUTO, SCEP_CIPHER_AUTO, SCEP_DIGEST_AUTO);
    assert_int_equal(enroll(c, &certs, NULL, NULL), 0);
    assert_int_equal(F.posted, 0);
    assert_int_equal(F.cipher_nid, NID_des_ede3_cbc);
    assert_int_equal(F.digest_nid, NID_sha1);
    sk_X509_pop_free(certs, X509_free);
    scep_client_free(c);

    /* SHA-512 wins when listed; --method/--cipher/--digest override. */
    F.caps = "SHA-512\nSHA-256\nAES\nPOSTPKIOperation";
    c = client(SCEP_METHOD_AUTO, SCEP_CIPHER_AUTO, SCEP_DIGEST_AUTO);
    assert_int_equal(enroll(c, &certs, NULL, NULL), 0);
    assert_int_equal(F.digest_nid, NID_sha512);
    sk_X509_pop_free(certs, X509_free);
    scep_client_free(c);
    c = client(SCEP_METHOD_GET, SCEP_CIPHER_AES256, SCEP_DIGEST_SHA1);
    assert_int_equal(enroll(c, &certs, NULL, NULL), 0);
    assert_int_equal(F.posted, 0);
    assert_int_equal(F.cipher_nid, NID_aes_256_cbc);
    assert_int_equal(F.digest_nid, NID_sha1);
    sk_X509_pop_free(certs, X509_free);
    scep_client_free(c);
    F.caps = "POSTPKIOperation\nAES\nSHA-256\nRenewal\n";
}

static void test_pending_then_poll(void **state)
{
    struct scep_client *c = client(SCEP_METHOD_AUTO, SCEP_CIPHER_AUTO, SCEP_DIGEST_AUTO);
    STACK_OF(X509) *certs = NULL;
    struct scep_txn *t = NULL;
    EVP_PKEY *k = NULL;
    char first[200];

    (void)state;
    F.mode = M_PENDING_ONCE;
    F.pending_left = 2;
    assert_int_equal(enroll(c, &certs, &k, &t), SCEP_ERR_PENDING);
    assert_null(certs);
    snprintf(first, sizeof(first), "%s", F.txid);
    assert_int_equal(scep_client_poll(c, t, &certs), SCEP_ERR_PENDING);
    assert_int_equal(F.type, SCEP_MSG_CERTPOLL);
    assert_string_equal(F.txid, first); /* same transaction */
    assert_int_equal(scep_client_poll(c, t, &certs), 0);
    assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(sk_X509_value(certs, 0)), k), 1);
    sk_X509_pop_free(certs, X509_free);
    scep_txn_free(t);
    EVP_PKEY_free(k);
    scep_client_free(c);
}

static void test_failure_info(void **state)
{
    struct scep_client *c = client(SCEP_METHOD_AUTO, SCEP_CIPHER_AUTO, SCEP_DIGEST_AUTO);
    STACK_OF(X509) *certs = NULL;

    (void)state;
    F.mode = M_FAILURE;
    assert_int_equal(enroll(c, &certs, NULL, NULL), SCEP_ERR_FAILURE);
    assert_int_equal(scep_client_fail_info(c), SCEP_FAIL_BAD_REQUEST);
    assert_string_equal(scep_client_get0_fail_text(c), "challenge password missing or wrong");
    assert_non_null(strstr(scep_client_get0_error(c), "badRequest"));
    assert_null(certs);
    scep_client_free(c);
}

static void test_forged_replies(void **state)
{
    struct scep_client *c = client(SCEP_METHOD_AUTO, SCEP_CIPHER_AUTO, SCEP_DIGEST_AUTO);
    STACK_OF(X509) *certs = NULL;

    (void)state;
    F.mode = M_BAD_NONCE;
    assert_int_equal(enroll(c, &certs, NULL, NULL), SCEP_ERR_NONCE);
    F.mode = M_BAD_TXID;
    assert_int_equal(enroll(c, &certs, NULL, NULL), SCEP_ERR_TRANSID);
    F.mode = M_WRONG_SIGNER;
    assert_int_equal(enroll(c, &certs, NULL, NULL), SCEP_ERR_SIGNATURE);
    F.mode = M_HTTP500;
    assert_int_equal(enroll(c, &certs, NULL, NULL), SCEP_ERR_HTTP);
    assert_non_null(strstr(scep_client_get0_error(c), "500"));
    assert_null(certs);
    scep_client_free(c);
}

static void test_renewal_signed_by_old_cert(void **state)
{
    struct scep_client *c = client(SCEP_METHOD_AUTO, SCEP_CIPHER_AUTO, SCEP_DIGEST_AUTO);
    STACK_OF(X509) *certs = NULL, *renewed = NULL;
    EVP_PKEY *old = NULL, *nk = tu_rsa_key_fresh(2048);
    X509_REQ *csr = NULL;
    struct scep_txn *t = NULL;
    struct scep_csr_params p = {.subject = "CN=dev1"};

    (void)state;
    F.mode = M_ISSUE;
    assert_int_equal(enroll(c, &certs, &old, NULL), 0);
    assert_int_equal(scep_csr_make(nk, &p, &csr), 0);
    /* The signer must match its key. */
    assert_int_equal(scep_txn_new_renew(csr, sk_X509_value(certs, 0), nk, &t), SCEP_ERR_KEY);
    assert_int_equal(scep_txn_new_renew(csr, sk_X509_value(certs, 0), old, &t), 0);
    assert_int_equal(scep_client_enroll(c, t, &renewed), 0);
    assert_int_equal(F.type, SCEP_MSG_RENEWALREQ);
    assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(sk_X509_value(renewed, 0)), nk), 1);
    sk_X509_pop_free(certs, X509_free);
    sk_X509_pop_free(renewed, X509_free);
    scep_txn_free(t);
    X509_REQ_free(csr);
    EVP_PKEY_free(old);
    EVP_PKEY_free(nk);
    scep_client_free(c);
}

static void test_pin_mismatch(void **state)
{
    struct scep_transport t = {fake_get, fake_post, NULL, &F};
    unsigned char fp[SCEP_FINGERPRINT_LEN];
    struct scep_client_options o = {
        .url = "http://fake/scep", .transport = &t, .ca_fingerprint = fp};
    struct scep_client *c = NULL;
    STACK_OF(X509) *certs = NULL;

    (void)state;
    F.mode = M_ISSUE;
    assert_int_equal(scep_client_fingerprint(F.other, fp), 0);
    assert_int_equal(scep_client_new(&o, &c), 0);
    assert_int_equal(enroll(c, &certs, NULL, NULL), SCEP_ERR_FINGERPRINT);
    scep_client_free(c);
    assert_int_equal(scep_client_fingerprint(F.ca, fp), 0);
    assert_int_equal(scep_client_new(&o, &c), 0);
    assert_int_equal(enroll(c, &certs, NULL, NULL), 0);
    sk_X509_pop_free(certs, X509_free);
    scep_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_issue_post_aes_sha256, setup, teardown),
        cmocka_unit_test_setup_teardown(test_legacy_caps_get_des3_sha1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pending_then_poll, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_info, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forged_replies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_renewal_signed_by_old_cert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pin_mismatch, setup, teardown),
    };

    scep_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
