/*
 * Unit tests of manual approval in the SCEP service: a PKCSReq held as a
 * PENDING request, polls (CertPoll and a resent PKCSReq) while pending,
 * after approval (issued from the stored CSR, once) and after rejection,
 * a transactionID reused with another key, renewals issued at once, and
 * approval "auto" unchanged.  Everything goes through
 * scep_service_pkioperation() against a real CA and a real SQLite store;
 * decisions are made with the store calls scepctl uses.
 */
#include <unistd.h>

#include "config/config.h"
#include "admin/certinfo.h"
#include "test_service_fixture.h"

#define CHALLENGE "s3cret-Ch4llenge"

/* A fixture whose service holds new enrollments for approval. */
static int setup(void **state)
{
    struct fx *f = fx_new(0, CHALLENGE, 1);

    scep_service_free(f->svc);
    f->svc = NULL;
    f->cfg.def.manual_approval = 1;
    assert_int_equal(scep_service_new(f->ca, f->st, &f->cfg, &f->svc), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_free(*state);
    return 0;
}

/* Sends one request and checks it is answered CertRep PENDING: signed by
 * the CA, echoing the transactionID, answering our nonce, no content. */
static void expect_pending(struct fx *f, int type, const char *tid, struct fx_req *q)
{
    unsigned char *der = NULL;
    size_t len = 0;
    struct scep_reply r;
    struct scep_msg *m;

    fx_build(f, type, tid, q, &der, &len);
    fx_send(f, der, len, &r);
    if (strcmp(r.outcome, "pending") != 0)
        fprintf(stderr, "unexpected: %s %s\n", r.outcome, r.reason);
    assert_string_equal(r.outcome, "pending");
    assert_int_equal(r.fail_info, -1);
    assert_int_equal(r.msg_type, type);
    assert_string_equal(r.transaction_id, tid);
    assert_string_equal(r.serial, "");
    m = fx_open(f, &r, tid, q);
    assert_int_equal(scep_msg_status(m), SCEP_STATUS_PENDING);
    assert_null(scep_msg_get0_certs(m));
    scep_msg_free(m);
    scep_reply_clear(&r);
    scep_free(der);
}

static int count_request(const struct scep_request_info *ri, void *arg)
{
    (void)ri;
    (*(int *)arg)++;
    return 0;
}

static int request_count(struct fx *f, int status)
{
    int n = 0;

    assert_int_equal(scep_store_list_requests(f->st, status, count_request, &n), 0);
    return n;
}

/* The stored request for tid; free with scep_request_info_free(). */
static struct scep_request_info *request(struct fx *f, const char *tid)
{
    struct scep_request_info *ri = NULL;

    assert_int_equal(scep_store_get_request_by_transaction(f->st, tid, &ri), 0);
    return ri;
}

/* Approves (reason NULL) or rejects the request for tid, as scepctl does. */
static void decide(struct fx *f, const char *tid, int status, const char *reason)
{
    struct scep_request_info *ri = request(f, tid);
    struct scep_audit_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.kind = status == SCEP_REQ_APPROVED ? "request-approve" : "request-reject";
    ev.actor = "scepctl:test";
    ev.transaction_id = tid;
    ev.detail = reason;
    assert_int_equal(scep_store_decide_request(f->st, ri->id, status, "scepctl:test", reason, &ev),
                     0);
    scep_request_info_free(ri);
}

/* A device: its key, a self-signed signer and a CSR with the challenge. */
static void device(struct fx_req *q, EVP_PKEY *key, const char *cn)
{
    memset(q, 0, sizeof(*q));
    q->key = key;
    q->signer = tu_self_signed(key, cn);
    q->csr = tu_csr(key, cn, CHALLENGE, NULL);
}

/* Turns q from a PKCSReq into a CertPoll of the same device (RFC 8894
 * 3.3.3: IssuerAndSubject; we match only transactionID and key). */
static void as_poll(struct fx_req *q)
{
    q->issuer = X509_get_subject_name(q->signer);
    q->subject = X509_get_subject_name(q->signer);
}

static void test_pending_approve_issue(void **state)
{
    struct fx *f = *state;
    struct fx_req q, p;
    struct scep_request_info *ri;
    struct scep_cert_info *ci = NULL;
    struct fx_audit a;
    EVP_PKEY *key = tu_rsa_key(2048);
    unsigned char *csr_der = NULL;
    X509 *cert, *again, *resent;
    char fp[65], serial[64];
    int csr_len;

    device(&q, key, "held-device");
    expect_pending(f, SCEP_MSG_PKCSREQ, "tid-held", &q);

    /* One PENDING request with the CSR as sent less its challenge
     * password, one audit event, no certificate. */
    ri = request(f, "tid-held");
    assert_int_equal(ri->status, SCEP_REQ_PENDING);
    assert_string_equal(ri->transaction_id, "tid-held");
    assert_string_equal(ri->subject, "CN=held-device");
    assert_string_equal(ri->msg_type, "PKCSReq");
    assert_string_equal(ri->requester, FX_PEER);
    assert_int_equal(scep_pubkey_fingerprint(key, fp), 0);
    assert_string_equal(ri->pubkey_fp, fp);
    {
        const unsigned char *in = ri->csr_der;
        X509_REQ *stored = d2i_X509_REQ(NULL, &in, (long)ri->csr_len);

        /* the challenge must not wait in the database with the request */
        assert_non_null(stored);
        assert_true(X509_REQ_get_attr_by_NID(q.csr, NID_pkcs9_challengePassword, -1) >= 0);
        assert_int_equal(X509_REQ_get_attr_by_NID(stored, NID_pkcs9_challengePassword, -1), -1);
        for (size_t i = 0; i + strlen(CHALLENGE) <= ri->csr_len; i++)
            assert_true(memcmp(ri->csr_der + i, CHALLENGE, strlen(CHALLENGE)) != 0);
        /* what approval needs is kept: subject, key, requested names */
        assert_int_equal(
            X509_NAME_cmp(X509_REQ_get_subject_name(stored), X509_REQ_get_subject_name(q.csr)), 0);
        assert_int_equal(EVP_PKEY_eq(X509_REQ_get0_pubkey(stored), key), 1);
        csr_len = i2d_X509_REQ(q.csr, &csr_der);
        assert_true(csr_len > 0);
        assert_true(ri->csr_len < (size_t)csr_len);
        OPENSSL_free(csr_der);
        X509_REQ_free(stored);
    }
    assert_null(ri->serial);
    scep_request_info_free(ri);
    assert_int_equal(fx_cert_count(f), 0);
    fx_audit_read(f, &a);
    assert_int_equal(a.n, 1);
    assert_string_equal(a.kind[0], "request-pending");
    assert_string_equal(a.tid[0], "tid-held");
    assert_string_equal(a.peer[0], FX_PEER);

    /* The same PKCSReq again (micromdm) and a CertPoll: still PENDING,
     * still one request, nothing more audited. */
    expect_pending(f, SCEP_MSG_PKCSREQ, "tid-held", &q);
    p = q;
    p.csr = NULL;
    as_poll(&p);
    expect_pending(f, SCEP_MSG_CERTPOLL, "tid-held", &p);
    assert_int_equal(request_count(f, -1), 1);
    fx_audit_read(f, &a);
    assert_int_equal(a.n, 1);

    /* Approved: the next poll issues, for the CSR's key and subject, in
     * the cipher and digest the poll used. */
    decide(f, "tid-held", SCEP_REQ_APPROVED, NULL);
    p.cipher = EVP_des_ede3_cbc();
    p.md = EVP_sha1();
    cert = fx_expect_cert(f, SCEP_MSG_CERTPOLL, "tid-held", &p);
    assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(cert), key), 1);
    assert_int_equal(X509_verify(cert, X509_get0_pubkey(scep_ca_get0_cert(f->ca))), 1);
    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(cert), X509_REQ_get_subject_name(q.csr)),
                     0);
    fx_serial_hex(cert, serial, sizeof(serial));

    ri = request(f, "tid-held");
    assert_int_equal(ri->status, SCEP_REQ_ISSUED);
    assert_non_null(ri->serial);
    assert_string_equal(ri->serial, serial);
    scep_request_info_free(ri);
    assert_int_equal(scep_store_get_cert(f->st, serial, &ci), 0);
    assert_string_equal(ci->transaction_id, "tid-held");
    assert_string_equal(ci->msg_type, "PKCSReq");
    assert_string_equal(ci->requester, FX_PEER);
    scep_cert_info_free(ci);
    assert_int_equal(fx_cert_count(f), 1);

    /* Further polls and a resent PKCSReq get the same certificate. */
    again = fx_expect_cert(f, SCEP_MSG_CERTPOLL, "tid-held", &p);
    assert_int_equal(X509_cmp(cert, again), 0);
    resent = fx_expect_cert(f, SCEP_MSG_PKCSREQ, "tid-held", &q);
    assert_int_equal(X509_cmp(cert, resent), 0);
    assert_int_equal(fx_cert_count(f), 1);

    fx_audit_read(f, &a);
    assert_true(a.n >= 3);
    assert_string_equal(a.kind[a.n - 1], "issue");

    X509_free(resent);
    X509_free(again);
    X509_free(cert);
    X509_free(q.signer);
    X509_REQ_free(q.csr);
    EVP_PKEY_free(key);
}

/* micromdm never polls: its resent PKCSReq collects the approved request. */
static void test_approve_collected_by_pkcsreq(void **state)
{
    struct fx *f = *state;
    struct fx_req q;
    struct scep_request_info *ri;
    EVP_PKEY *key = tu_rsa_key(2048);
    X509 *cert;

    device(&q, key, "micromdm-device");
    q.cipher = EVP_des_ede3_cbc();
    q.md = EVP_sha1();
    expect_pending(f, SCEP_MSG_PKCSREQ, "tid-mdm", &q);
    decide(f, "tid-mdm", SCEP_REQ_APPROVED, NULL);
    cert = fx_expect_cert(f, SCEP_MSG_PKCSREQ, "tid-mdm", &q);
    assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(cert), key), 1);
    ri = request(f, "tid-mdm");
    assert_int_equal(ri->status, SCEP_REQ_ISSUED);
    scep_request_info_free(ri);
    assert_int_equal(fx_cert_count(f), 1);

    X509_free(cert);
    X509_free(q.signer);
    X509_REQ_free(q.csr);
    EVP_PKEY_free(key);
}

static void test_reject(void **state)
{
    struct fx *f = *state;
    struct fx_req q, p;
    struct fx_audit a;
    EVP_PKEY *key = tu_rsa_key(2048);

    device(&q, key, "unwanted");
    expect_pending(f, SCEP_MSG_PKCSREQ, "tid-rej", &q);
    decide(f, "tid-rej", SCEP_REQ_REJECTED, "not ours");
    p = q;
    p.csr = NULL;
    as_poll(&p);
    fx_expect_failure(f, SCEP_MSG_CERTPOLL, "tid-rej", &p, SCEP_FAIL_BAD_REQUEST,
                      "rejected by an administrator: not ours");
    fx_expect_failure(f, SCEP_MSG_PKCSREQ, "tid-rej", &q, SCEP_FAIL_BAD_REQUEST,
                      "rejected by an administrator: not ours");
    assert_int_equal(fx_cert_count(f), 0);
    assert_int_equal(request_count(f, SCEP_REQ_REJECTED), 1);

    /* Each refusal was audited like any other. */
    fx_audit_read(f, &a);
    assert_string_equal(a.kind[a.n - 1], "refuse");
    assert_non_null(strstr(a.detail[a.n - 1], "not ours"));

    X509_free(q.signer);
    X509_REQ_free(q.csr);
    EVP_PKEY_free(key);
}

/* A transactionID belongs to the key that first used it. */
static void test_other_key(void **state)
{
    struct fx *f = *state;
    struct fx_req q, o;
    struct scep_request_info *ri;
    EVP_PKEY *key = tu_rsa_key(2048), *other = tu_rsa_key(3072);
    char fp[65];

    device(&q, key, "first");
    expect_pending(f, SCEP_MSG_PKCSREQ, "tid-shared", &q);
    device(&o, other, "second");
    fx_expect_failure(f, SCEP_MSG_PKCSREQ, "tid-shared", &o, SCEP_FAIL_BAD_REQUEST,
                      "transactionID already used with another public key");
    X509_REQ_free(o.csr);
    o.csr = NULL;
    as_poll(&o);
    fx_expect_failure(f, SCEP_MSG_CERTPOLL, "tid-shared", &o, SCEP_FAIL_BAD_CERT_ID,
                      "no request with this transactionID for the signer's key");

    /* Approval does not let the other key collect either. */
    decide(f, "tid-shared", SCEP_REQ_APPROVED, NULL);
    fx_expect_failure(f, SCEP_MSG_CERTPOLL, "tid-shared", &o, SCEP_FAIL_BAD_CERT_ID, NULL);
    assert_int_equal(fx_cert_count(f), 0);
    assert_int_equal(request_count(f, -1), 1);
    ri = request(f, "tid-shared");
    assert_int_equal(scep_pubkey_fingerprint(key, fp), 0);
    assert_string_equal(ri->pubkey_fp, fp);
    assert_int_equal(ri->status, SCEP_REQ_APPROVED);
    scep_request_info_free(ri);

    /* A poll naming nothing known. */
    fx_expect_failure(f, SCEP_MSG_CERTPOLL, "tid-unknown", &o, SCEP_FAIL_BAD_CERT_ID,
                      "no request with this transactionID");

    X509_free(o.signer);
    X509_free(q.signer);
    X509_REQ_free(q.csr);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other);
}

/* Approval does not waive the challenge: a wrong one is refused and
 * nothing is held. */
static void test_challenge_still_checked(void **state)
{
    struct fx *f = *state;
    struct fx_req q;
    EVP_PKEY *key = tu_rsa_key(2048);

    memset(&q, 0, sizeof(q));
    q.key = key;
    q.signer = tu_self_signed(key, "guesser");
    q.csr = tu_csr(key, "guesser", "wrong", NULL);
    fx_expect_failure(f, SCEP_MSG_PKCSREQ, "tid-guess", &q, SCEP_FAIL_BAD_REQUEST, NULL);
    assert_int_equal(request_count(f, -1), 0);
    X509_free(q.signer);
    X509_REQ_free(q.csr);
    EVP_PKEY_free(key);
}

/* Renewals (RenewalReq, or PKCSReq signed by a valid certificate of this
 * CA) prove possession of an approved certificate and are issued at once. */
static void test_renewal_immediate(void **state)
{
    struct fx *f = *state;
    struct fx_req q, p;
    EVP_PKEY *oldkey = tu_rsa_key(2048), *newkey = tu_rsa_key_fresh(2048);
    EVP_PKEY *newkey2 = tu_rsa_key_fresh(2048);
    X509 *old, *renewed, *renewed2;

    device(&q, oldkey, "renewer");
    expect_pending(f, SCEP_MSG_PKCSREQ, "tid-first", &q);
    decide(f, "tid-first", SCEP_REQ_APPROVED, NULL);
    p = q;
    p.csr = NULL;
    as_poll(&p);
    old = fx_expect_cert(f, SCEP_MSG_CERTPOLL, "tid-first", &p);
    X509_free(q.signer);
    X509_REQ_free(q.csr);

    memset(&q, 0, sizeof(q));
    q.key = oldkey;
    q.signer = old;
    q.csr = tu_csr(newkey, "renewer", NULL, NULL);
    renewed = fx_expect_cert(f, SCEP_MSG_RENEWALREQ, "tid-renew", &q);
    assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(renewed), newkey), 1);
    X509_REQ_free(q.csr);

    q.csr = tu_csr(newkey2, "renewer", NULL, NULL);
    renewed2 = fx_expect_cert(f, SCEP_MSG_PKCSREQ, "tid-renew-pkcs", &q);
    assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(renewed2), newkey2), 1);
    X509_REQ_free(q.csr);

    assert_int_equal(request_count(f, -1), 1);
    assert_int_equal(fx_cert_count(f), 3);

    X509_free(renewed2);
    X509_free(renewed);
    X509_free(old);
    EVP_PKEY_free(oldkey);
    EVP_PKEY_free(newkey);
    EVP_PKEY_free(newkey2);
}

/* approval = auto (the default): issued at once, no request stored. */
static void test_auto_unchanged(void **state)
{
    struct fx *f = fx_new(0, CHALLENGE, 1);
    struct fx_req q;
    EVP_PKEY *key = tu_rsa_key(2048);
    X509 *cert;

    (void)state;
    device(&q, key, "auto-device");
    cert = fx_expect_cert(f, SCEP_MSG_PKCSREQ, "tid-auto", &q);
    assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(cert), key), 1);
    assert_int_equal(request_count(f, -1), 0);
    assert_int_equal(fx_cert_count(f), 1);
    X509_REQ_free(q.csr);
    q.csr = NULL;
    as_poll(&q);
    fx_expect_failure(f, SCEP_MSG_CERTPOLL, "tid-auto-unknown", &q, SCEP_FAIL_BAD_CERT_ID, NULL);

    X509_free(cert);
    X509_free(q.signer);
    EVP_PKEY_free(key);
    fx_free(f);
}

/* The approval key: "auto" by default, "manual" turns the switch on,
 * anything else (or nothing) is refused with the key named. */
static void test_config_key(void **state)
{
    struct scep_config c;
    struct scep_service_config sc;
    char err[256];

    (void)state;
    assert_int_equal(scep_config_defaults(&c), 0);
    assert_string_equal(c.enroll.approval, "auto");
    scep_config_service(&c, &sc, NULL);
    assert_int_equal(sc.def.manual_approval, 0);

    assert_int_equal(scep_config_set(&c, "approval", "manual", err, sizeof(err)), 0);
    scep_config_service(&c, &sc, NULL);
    assert_int_equal(sc.def.manual_approval, 1);

    err[0] = '\0';
    assert_int_equal(scep_config_set(&c, "approval", "Manual", err, sizeof(err)), SCEP_ERR_CONFIG);
    assert_non_null(strstr(err, "approval"));
    assert_int_equal(scep_config_set(&c, "approval", "", err, sizeof(err)), SCEP_ERR_CONFIG);
    assert_int_equal(scep_config_set(&c, "approval", "yes", err, sizeof(err)), SCEP_ERR_CONFIG);
    /* refused values left the setting alone */
    assert_string_equal(c.enroll.approval, "manual");

    assert_int_equal(scep_config_set(&c, "approval", "auto", err, sizeof(err)), 0);
    scep_config_service(&c, &sc, NULL);
    assert_int_equal(sc.def.manual_approval, 0);
    scep_config_clear(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pending_approve_issue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_approve_collected_by_pkcsreq, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_challenge_still_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_renewal_immediate, setup, teardown),
        cmocka_unit_test(test_auto_unchanged),
        cmocka_unit_test(test_config_key),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
