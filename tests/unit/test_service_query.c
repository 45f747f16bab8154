/*
 * Unit tests of the SCEP service beyond enrollment: CertPoll, GetCert and
 * GetCRL through scep_service_pkioperation(); the cipher, digest and key
 * transport of the request mirrored in the CertRep; an EC CA whose RA
 * receives the requests and signs the answers; and the cleartext
 * operations (GetCACaps, GetCACert, GetNextCACert, CA rollover via
 * scep_service_set_ca).
 */
#include <time.h>

#include <openssl/x509v3.h>

#include "test_service_fixture.h"

#define CHALLENGE "poll-and-query"

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

static void test_certpoll(void **state)
{
    struct fx *f = *state;
    struct fx_req q;
    EVP_PKEY *key = tu_rsa_key(2048), *other = tu_rsa_key(3072);
    X509 *issued, *polled;

    memset(&q, 0, sizeof(q));
    q.key = key;
    q.signer = tu_self_signed(key, "poller");
    q.csr = tu_csr(key, "poller", CHALLENGE, NULL);
    issued = fx_expect_cert(f, SCEP_MSG_PKCSREQ, "tid-poll", &q);
    X509_REQ_free(q.csr);
    q.csr = NULL;

    /* the body names something else entirely: only transactionID and
     * signer key count (RFC 8894 3.3.3) */
    q.issuer = X509_get_subject_name(q.signer);
    q.subject = X509_get_subject_name(q.signer);
    polled = fx_expect_cert(f, SCEP_MSG_CERTPOLL, "tid-poll", &q);
    assert_int_equal(X509_cmp(issued, polled), 0);
    assert_int_equal(fx_cert_count(f), 1);

    fx_expect_failure(f, SCEP_MSG_CERTPOLL, "tid-never-seen", &q, SCEP_FAIL_BAD_CERT_ID, NULL);

    /* the right transactionID from another key */
    X509_free(q.signer);
    q.key = other;
    q.signer = tu_self_signed(other, "snoop");
    q.issuer = X509_get_subject_name(q.signer);
    q.subject = X509_get_subject_name(q.signer);
    fx_expect_failure(f, SCEP_MSG_CERTPOLL, "tid-poll", &q, SCEP_FAIL_BAD_CERT_ID, NULL);

    X509_free(q.signer);
    X509_free(issued);
    X509_free(polled);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other);
}

static void test_getcert(void **state)
{
    struct fx *f = *state;
    struct fx_req q;
    EVP_PKEY *key = tu_rsa_key(2048);
    X509 *issued = fx_enroll(f, key, "fetch-me", CHALLENGE, "tid-getcert-1"), *got;
    ASN1_INTEGER *unknown = ASN1_INTEGER_new();

    memset(&q, 0, sizeof(q));
    q.key = key;
    q.signer = tu_self_signed(key, "fetcher");
    q.issuer = X509_get_issuer_name(issued);
    q.serial = X509_get0_serialNumber(issued);
    got = fx_expect_cert(f, SCEP_MSG_GETCERT, "tid-getcert-2", &q);
    assert_int_equal(X509_cmp(issued, got), 0);

    assert_true(ASN1_INTEGER_set(unknown, 424242));
    q.serial = unknown;
    fx_expect_failure(f, SCEP_MSG_GETCERT, "tid-getcert-3", &q, SCEP_FAIL_BAD_CERT_ID, NULL);

    /* a known serial under another issuer's name */
    q.serial = X509_get0_serialNumber(issued);
    q.issuer = X509_get_subject_name(q.signer);
    fx_expect_failure(f, SCEP_MSG_GETCERT, "tid-getcert-4", &q, SCEP_FAIL_BAD_CERT_ID, NULL);

    ASN1_INTEGER_free(unknown);
    X509_free(q.signer);
    X509_free(issued);
    X509_free(got);
    EVP_PKEY_free(key);
}

/* GetCRL round trip; returns the CRL (X509_CRL_free()). */
static X509_CRL *get_crl(struct fx *f, const char *tid, EVP_PKEY *key, X509 *about)
{
    struct fx_req q;
    unsigned char *der = NULL;
    size_t len = 0;
    struct scep_reply r;
    struct scep_msg *m;
    STACK_OF(X509_CRL) *crls;
    X509_CRL *crl;

    memset(&q, 0, sizeof(q));
    q.key = key;
    q.signer = tu_self_signed(key, "crl-fetcher");
    q.issuer = X509_get_subject_name(scep_ca_get0_cert(f->ca));
    q.serial = X509_get0_serialNumber(about);
    fx_build(f, SCEP_MSG_GETCRL, tid, &q, &der, &len);
    fx_send(f, der, len, &r);
    assert_string_equal(r.outcome, "success");
    m = fx_open(f, &r, tid, &q);
    assert_int_equal(scep_msg_status(m), SCEP_STATUS_SUCCESS);
    crls = scep_msg_get0_crls(m);
    assert_non_null(crls);
    assert_int_equal(sk_X509_CRL_num(crls), 1);
    crl = sk_X509_CRL_value(crls, 0);
    assert_true(X509_CRL_up_ref(crl));
    scep_msg_free(m);
    scep_reply_clear(&r);
    scep_free(der);
    X509_free(q.signer);
    return crl;
}

static long crl_number(X509_CRL *crl)
{
    ASN1_INTEGER *n = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
    long v;

    assert_non_null(n);
    v = ASN1_INTEGER_get(n);
    ASN1_INTEGER_free(n);
    return v;
}

static void test_getcrl(void **state)
{
    struct fx *f = *state;
    struct fx_req q;
    EVP_PKEY *key = tu_rsa_key(2048), *key2 = tu_rsa_key(3072);
    X509 *bad = fx_enroll(f, key, "revoked-one", CHALLENGE, "tid-crl-1");
    X509 *good = fx_enroll(f, key2, "still-good", CHALLENGE, "tid-crl-2");
    X509_CRL *crl, *again;
    X509_REVOKED *rev = NULL;
    char serial[64];

    fx_serial_hex(bad, serial, sizeof(serial));
    assert_int_equal(scep_store_revoke(f->st, serial, 1, (int64_t)time(NULL), NULL), 0);

    crl = get_crl(f, "tid-crl-3", key, bad);
    assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(scep_ca_get0_cert(f->ca))), 1);
    assert_int_equal(
        X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(scep_ca_get0_cert(f->ca))),
        0);
    assert_int_equal(
        X509_CRL_get0_by_serial(crl, &rev, (ASN1_INTEGER *)X509_get0_serialNumber(bad)), 1);
    assert_int_equal(
        X509_CRL_get0_by_serial(crl, &rev, (ASN1_INTEGER *)X509_get0_serialNumber(good)), 0);

    /* within the cache period the same CRL comes back: no CRL number burnt */
    again = get_crl(f, "tid-crl-4", key, good);
    assert_int_equal(crl_number(again), crl_number(crl));
    X509_CRL_free(again);

    /* another issuer's CRL is not ours to give */
    memset(&q, 0, sizeof(q));
    q.key = key;
    q.signer = tu_self_signed(key, "crl-fetcher");
    q.issuer = X509_get_subject_name(q.signer);
    q.serial = X509_get0_serialNumber(good);
    fx_expect_failure(f, SCEP_MSG_GETCRL, "tid-crl-5", &q, SCEP_FAIL_BAD_CERT_ID, NULL);

    X509_free(q.signer);
    X509_CRL_free(crl);
    X509_free(bad);
    X509_free(good);
    EVP_PKEY_free(key);
    EVP_PKEY_free(key2);
}

/* One GetCert whose reply must use cipher, md and key transport kt. */
static void mirror_one(struct fx *f, X509 *issued, EVP_PKEY *key, const EVP_CIPHER *cipher,
                       const EVP_MD *md, int kt, const char *tid)
{
    struct fx_req q;
    unsigned char *der = NULL;
    size_t len = 0;
    struct scep_reply r;
    struct scep_msg *m;

    memset(&q, 0, sizeof(q));
    q.key = key;
    q.signer = tu_self_signed(key, "mirror");
    q.issuer = X509_get_issuer_name(issued);
    q.serial = X509_get0_serialNumber(issued);
    q.cipher = cipher;
    q.md = md;
    q.key_transport = kt;
    fx_build(f, SCEP_MSG_GETCERT, tid, &q, &der, &len);
    fx_send(f, der, len, &r);
    assert_string_equal(r.outcome, "success");
    m = fx_open(f, &r, tid, &q);
    assert_int_equal(scep_msg_status(m), SCEP_STATUS_SUCCESS);
    assert_int_equal(scep_msg_cipher_nid(m), EVP_CIPHER_get_nid(cipher));
    assert_int_equal(scep_msg_digest_nid(m), EVP_MD_get_type(md));
    assert_int_equal(scep_msg_key_transport(m), kt);
    assert_int_equal(X509_cmp(fx_leaf(f, scep_msg_get0_certs(m)), issued), 0);
    scep_msg_free(m);
    scep_reply_clear(&r);
    scep_free(der);
    X509_free(q.signer);
}

static void test_mirror_algorithms(void **state)
{
    struct fx *f = *state;
    EVP_PKEY *key = tu_rsa_key(2048);
    X509 *issued = fx_enroll(f, key, "mirrored", CHALLENGE, "tid-mirror");
    const EVP_CIPHER *ciphers[] = {EVP_aes_128_cbc(), EVP_aes_256_cbc(), EVP_des_ede3_cbc(),
                                   EVP_des_cbc()};
    const EVP_MD *mds[] = {EVP_sha1(), EVP_sha256(), EVP_sha512()};
    char tid[32];
    size_t i, j;

    /* single DES is among them: it is accepted only with allow_des */
    f->cfg.def.allow_des = 1;
    fx_restart(f);
    for (i = 0; i < sizeof(ciphers) / sizeof(ciphers[0]); i++) {
        for (j = 0; j < sizeof(mds) / sizeof(mds[0]); j++) {
            snprintf(tid, sizeof(tid), "tid-mirror-%zu-%zu", i, j);
            mirror_one(f, issued, key, ciphers[i], mds[j], SCEP_KT_RSA_PKCS1, tid);
        }
    }
    /* Windows' RSA-OAEP key transport comes back as OAEP */
    mirror_one(f, issued, key, EVP_aes_256_cbc(), EVP_sha256(), SCEP_KT_RSA_OAEP,
               "tid-mirror-oaep");
    X509_free(issued);
    EVP_PKEY_free(key);
}

static int has_line(const struct scep_reply *r, const char *kw);

/* Single DES is refused (badAlg, naming the setting) unless allow_des is
 * set, and GetCACaps says when it is accepted. */
static void test_des_needs_allow_des(void **state)
{
    struct fx *f = *state;
    EVP_PKEY *key = tu_rsa_key(2048);
    X509 *issued = fx_enroll(f, key, "des-device", CHALLENGE, "tid-des-enroll");
    struct fx_req q;
    struct scep_reply r;

    memset(&q, 0, sizeof(q));
    q.key = key;
    q.signer = tu_self_signed(key, "des-device");
    q.csr = tu_csr(key, "des-device", CHALLENGE, NULL);
    q.cipher = EVP_des_cbc();
    fx_expect_failure(f, SCEP_MSG_PKCSREQ, "tid-des-1", &q, SCEP_FAIL_BAD_ALG,
                      "content cipher DES-CBC not accepted: single DES is disabled "
                      "(allow_des; RFC 8894 3.5.2 advertises AES and DES3 only)");
    assert_int_equal(fx_cert_count(f), 1);
    memset(&r, 0, sizeof(r));
    assert_int_equal(scep_service_getcacaps(f->svc, NULL, &r), 0);
    assert_false(has_line(&r, "scepd-DES"));
    scep_reply_clear(&r);

    f->cfg.def.allow_des = 1;
    fx_restart(f);
    assert_int_equal(scep_service_getcacaps(f->svc, NULL, &r), 0);
    assert_true(has_line(&r, "scepd-DES"));
    assert_true(has_line(&r, "DES3"));
    scep_reply_clear(&r);
    X509_free(fx_expect_cert(f, SCEP_MSG_PKCSREQ, "tid-des-2", &q));
    assert_int_equal(fx_cert_count(f), 2);

    X509_REQ_free(q.csr);
    X509_free(q.signer);
    X509_free(issued);
    EVP_PKEY_free(key);
}

static void test_ec_signer_refused(void **state)
{
    struct fx *f = *state;
    struct fx_req q;
    EVP_PKEY *key = tu_ec_key();

    /* An EC key is fine in a CSR, but the CertRep is encrypted to the
     * signer with RSA key transport: refused before anything is issued. */
    memset(&q, 0, sizeof(q));
    q.key = key;
    q.signer = tu_self_signed(key, "ec-device");
    q.csr = tu_csr(key, "ec-device", CHALLENGE, NULL);
    fx_expect_failure(f, SCEP_MSG_PKCSREQ, "tid-ec-signer", &q, SCEP_FAIL_BAD_ALG,
                      "signer certificate key must be RSA: the reply is encrypted to it");
    assert_int_equal(fx_cert_count(f), 0);
    X509_free(q.signer);
    X509_REQ_free(q.csr);
    EVP_PKEY_free(key);
}

static void test_ec_csr_renewal(void **state)
{
    struct fx *f = *state;
    struct fx_req q;
    EVP_PKEY *rsa = tu_rsa_key(2048), *ec = tu_ec_key();
    X509 *old = fx_enroll(f, rsa, "moving-to-ec", CHALLENGE, "tid-ecr-1"), *c;

    /* an RSA-signed request may certify an EC P-256 key */
    memset(&q, 0, sizeof(q));
    q.key = rsa;
    q.signer = old;
    q.csr = tu_csr(ec, "moving-to-ec", NULL, NULL);
    c = fx_expect_cert(f, SCEP_MSG_RENEWALREQ, "tid-ecr-2", &q);
    assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(c), ec), 1);
    X509_free(c);
    X509_REQ_free(q.csr);
    X509_free(old);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
}

static void test_ec_ca_with_ra(void **state)
{
    struct fx *f = fx_new(1, CHALLENGE, 1);
    struct fx_req q;
    unsigned char *der = NULL;
    size_t len = 0;
    struct scep_reply r;
    struct scep_msg *m;
    X509 *ra = scep_ca_get0_ra_cert(f->ca), *ca = scep_ca_get0_cert(f->ca), *cert;
    EVP_PKEY *key = tu_rsa_key(2048);

    (void)state;
    assert_non_null(ra);
    assert_ptr_equal(scep_ca_get0_scep_cert(f->ca), ra);
    assert_int_equal(EVP_PKEY_get_base_id(X509_get0_pubkey(ca)), EVP_PKEY_EC);

    memset(&q, 0, sizeof(q));
    q.key = key;
    q.signer = tu_self_signed(key, "ec-ca-client");
    q.csr = tu_csr(key, "ec-ca-client", CHALLENGE, NULL);
    fx_build(f, SCEP_MSG_PKCSREQ, "tid-ec", &q, &der, &len); /* encrypted to the RA */
    fx_send(f, der, len, &r);
    assert_string_equal(r.outcome, "success");
    m = fx_open(f, &r, "tid-ec", &q); /* verified against the RA */
    cert = fx_leaf(f, scep_msg_get0_certs(m));
    assert_int_equal(X509_verify(cert, X509_get0_pubkey(ca)), 1);
    assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(cert), key), 1);
    scep_msg_free(m);

    /* signed by the RA, not by the CA */
    assert_int_equal(scep_msg_decode(r.body, r.len, &m), 0);
    assert_int_not_equal(scep_msg_verify(m, ca), 0);
    scep_msg_free(m);
    scep_reply_clear(&r);

    assert_int_equal(scep_service_getcacert(f->svc, &r), 0);
    assert_int_equal(r.http_status, 200);
    assert_string_equal(r.content_type, "application/x-x509-ca-ra-cert");
    scep_reply_clear(&r);

    scep_free(der);
    X509_free(q.signer);
    X509_REQ_free(q.csr);
    EVP_PKEY_free(key);
    fx_free(f);
}

/* Does the caps body hold kw as a whole line? */
static int has_line(const struct scep_reply *r, const char *kw)
{
    size_t n = strlen(kw), i = 0;

    while (i < r->len) {
        size_t e = i;

        while (e < r->len && r->body[e] != '\n' && r->body[e] != '\r')
            e++;
        if (e - i == n && memcmp(r->body + i, kw, n) == 0)
            return 1;
        i = e + 1;
    }
    return 0;
}

static void test_caps_and_cacert(void **state)
{
    struct fx *f = *state;
    static const char *const always[] = {"AES",     "DES3",         "POSTPKIOperation",
                                         "SHA-1",   "SHA-256",      "SHA-384",
                                         "SHA-512", "SCEPStandard", "Renewal"};
    struct scep_ca_init_opts o;
    struct scep_ca *next = NULL;
    struct scep_reply r;
    size_t i;

    memset(&r, 0, sizeof(r)); /* the service frees what an old reply held */
    assert_int_equal(scep_service_getcacaps(f->svc, NULL, &r), 0);
    assert_int_equal(r.http_status, 200);
    assert_string_equal(r.content_type, "text/plain");
    for (i = 0; i < sizeof(always) / sizeof(always[0]); i++)
        assert_true(has_line(&r, always[i]));
    assert_false(has_line(&r, "GetNextCACert"));
    scep_reply_clear(&r);

    assert_int_equal(scep_service_getcacert(f->svc, &r), 0);
    assert_int_equal(r.http_status, 200);
    assert_string_equal(r.content_type, "application/x-x509-ca-cert");
    {
        const unsigned char *p = r.body;
        X509 *c = d2i_X509(NULL, &p, (long)r.len);

        assert_non_null(c);
        assert_int_equal(X509_cmp(c, scep_ca_get0_cert(f->ca)), 0);
        X509_free(c);
    }
    scep_reply_clear(&r);

    assert_int_equal(scep_service_getnextcacert(f->svc, &r), 0);
    assert_int_equal(r.http_status, 404);
    assert_string_equal(r.reason, "no next CA certificate configured");
    scep_reply_clear(&r);

    /* prepare a rollover a day ahead and swap the reloaded CA in */
    memset(&o, 0, sizeof(o));
    o.subject = "CN=Test CA 2,O=scepd tests";
    o.rsa_bits = 2048;
    assert_int_equal(scep_ca_next_create(f->dir, &o, time(NULL) + 86400), 0);
    assert_int_equal(scep_ca_load(f->dir, &next), 0);
    scep_service_set_ca(f->svc, next);
    scep_ca_free(next); /* the service holds its own reference */
    assert_true(scep_service_caps(f->svc, NULL) & SCEP_CAP_GET_NEXT_CA_CERT);
    assert_int_equal(scep_service_getcacaps(f->svc, NULL, &r), 0);
    assert_true(has_line(&r, "GetNextCACert"));
    scep_reply_clear(&r);
    assert_int_equal(scep_service_getnextcacert(f->svc, &r), 0);
    assert_int_equal(r.http_status, 200);
    assert_string_equal(r.content_type, "application/x-x509-next-ca-cert");
    assert_true(r.len > 0);
    scep_reply_clear(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_certpoll, setup, teardown),
        cmocka_unit_test_setup_teardown(test_getcert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_getcrl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mirror_algorithms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_des_needs_allow_des, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ec_signer_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ec_csr_renewal, setup, teardown),
        cmocka_unit_test(test_ec_ca_with_ra),
        cmocka_unit_test_setup_teardown(test_caps_and_cacert, setup, teardown),
    };

    if (scep_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
