/*
 * Unit tests from the correctness review of the service's authorisation,
 * issuance and rollover rules: each one drives real pkiMessages through
 * scep_service_pkioperation() against a real CA and SQLite store and
 * checks what a hostile or unlucky client can and cannot obtain.
 *
 *   - a renewal may not swap a subjectAltName for another one that only
 *     prints the same (otherName values, bytes our text form masks);
 *   - renewal = false closes the "PKCSReq signed by an issued
 *     certificate" door as well as RenewalReq;
 *   - the RA certificate (issued by the CA, unknown to the store) is not
 *     a renewal credential;
 *   - a subject over SCEP_MAX_SUBJECT is refused before anything is
 *     signed or stored (not an internal error after signing);
 *   - two workers answering the same PKCSReq at once store one
 *     certificate, not two;
 *   - after a rollover GetCRL lists only the current CA's revocations;
 *   - a CertPoll after a renewal, signed like the renewal was, finds the
 *     renewed certificate;
 *   - a request rejected (or still pending) under manual approval is not
 *     issued by resending its PKCSReq after a switch back to auto.
 */
#include <pthread.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "test_service_fixture.h"

#define CHALLENGE "review-Ch4llenge"

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

/* CSR for key with subject "CN=cn" (or name when not NULL), the challenge
 * (NULL: none) and the subjectAltName in v3 config text (NULL: none). */
static X509_REQ *csr_with(EVP_PKEY *key, const char *cn, const X509_NAME *name,
                          const char *challenge, const char *san)
{
    X509_REQ *r = X509_REQ_new();
    X509_NAME *n = X509_NAME_new();
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    X509_EXTENSION *e;

    assert_non_null(r);
    assert_non_null(n);
    assert_non_null(exts);
    if (name == NULL) {
        assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
                                                    (const unsigned char *)cn, -1, -1, 0),
                         1);
        assert_int_equal(X509_REQ_set_subject_name(r, n), 1);
    } else {
        assert_int_equal(X509_REQ_set_subject_name(r, name), 1);
    }
    assert_int_equal(X509_REQ_set_pubkey(r, key), 1);
    if (challenge != NULL)
        assert_int_equal(X509_REQ_add1_attr_by_NID(r, NID_pkcs9_challengePassword, MBSTRING_UTF8,
                                                   (const unsigned char *)challenge, -1),
                         1);
    if (san != NULL) {
        e = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);
        assert_non_null(e);
        assert_true(sk_X509_EXTENSION_push(exts, e) > 0);
        assert_int_equal(X509_REQ_add_extensions(r, exts), 1);
    }
    assert_true(X509_REQ_sign(r, key, EVP_sha256()) > 0);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_NAME_free(n);
    return r;
}

/* Enrolls key with the challenge and the given SAN; returns the cert. */
static X509 *enroll_san(struct fx *f, EVP_PKEY *key, const char *cn, const char *san,
                        const char *tid)
{
    struct fx_req q;
    X509 *c;

    memset(&q, 0, sizeof(q));
    q.key = key;
    q.signer = tu_self_signed(key, cn);
    q.csr = csr_with(key, cn, NULL, CHALLENGE, san);
    c = fx_expect_cert(f, SCEP_MSG_PKCSREQ, tid, &q);
    X509_free(q.signer);
    X509_REQ_free(q.csr);
    return c;
}

#define UPN "otherName:1.3.6.1.4.1.311.20.2.3;UTF8:"

/* A renewal that keeps the otherName value works; one that changes the
 * value (same OID, so the same text in the store) is refused. */
static void test_renewal_othername_swap(void **state)
{
    struct fx *f = *state;
    struct fx_req q;
    EVP_PKEY *oldkey = tu_rsa_key(2048), *newkey = tu_rsa_key_fresh(2048);
    X509 *old = enroll_san(f, oldkey, "alice", UPN "alice@corp.example", "tid-upn-1"), *c;

    memset(&q, 0, sizeof(q));
    q.key = oldkey;
    q.signer = old;
    q.csr = csr_with(newkey, "alice", NULL, NULL, UPN "administrator@corp.example");
    fx_expect_failure(f, SCEP_MSG_RENEWALREQ, "tid-upn-2", &q, SCEP_FAIL_BAD_REQUEST,
                      "renewal may not change subjectAltName");
    X509_REQ_free(q.csr);
    assert_int_equal(fx_cert_count(f), 1);

    /* the same name renews as before */
    q.csr = csr_with(newkey, "alice", NULL, NULL, UPN "alice@corp.example");
    c = fx_expect_cert(f, SCEP_MSG_RENEWALREQ, "tid-upn-3", &q);
    assert_int_equal(fx_cert_count(f), 2);
    X509_free(c);
    X509_REQ_free(q.csr);
    X509_free(old);
    EVP_PKEY_free(oldkey);
    EVP_PKEY_free(newkey);
}

/* "URI:a?b" and "URI:a,b" print the same once ',' is masked as '?'.
 * (This used dNSNames; those may no longer hold '?' or ',' at all, since
 * SANs are validated before anything is issued, so URIs, which may hold
 * both, carry the same attack.) */
static void test_renewal_masked_dns_swap(void **state)
{
    struct fx *f = *state;
    struct fx_req q;
    EVP_PKEY *oldkey = tu_rsa_key(2048), *newkey = tu_rsa_key_fresh(2048);
    X509 *old = enroll_san(f, oldkey, "masked", "URI:https://www.bank.example/?a", "tid-mask-1");
    X509_EXTENSION *e;
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    GENERAL_NAMES *gens = GENERAL_NAMES_new();
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
    X509_NAME *n = X509_NAME_new();

    /* the v3 config syntax cannot put a ',' into a URI: build it */
    assert_non_null(exts);
    assert_non_null(gens);
    assert_non_null(gn);
    assert_non_null(ia5);
    assert_int_equal(ASN1_STRING_set(ia5, "https://www.bank.example/,a", -1), 1);
    GENERAL_NAME_set0_value(gn, GEN_URI, ia5);
    assert_true(sk_GENERAL_NAME_push(gens, gn) > 0);
    e = X509V3_EXT_i2d(NID_subject_alt_name, 0, gens);
    assert_non_null(e);
    assert_true(sk_X509_EXTENSION_push(exts, e) > 0);
    assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
                                                (const unsigned char *)"masked", -1, -1, 0),
                     1);
    memset(&q, 0, sizeof(q));
    q.key = oldkey;
    q.signer = old;
    q.csr = X509_REQ_new();
    assert_non_null(q.csr);
    assert_int_equal(X509_REQ_set_subject_name(q.csr, n), 1);
    assert_int_equal(X509_REQ_set_pubkey(q.csr, newkey), 1);
    assert_int_equal(X509_REQ_add_extensions(q.csr, exts), 1);
    assert_true(X509_REQ_sign(q.csr, newkey, EVP_sha256()) > 0);
    fx_expect_failure(f, SCEP_MSG_RENEWALREQ, "tid-mask-2", &q, SCEP_FAIL_BAD_REQUEST,
                      "renewal may not change subjectAltName");
    assert_int_equal(fx_cert_count(f), 1);

    X509_NAME_free(n);
    GENERAL_NAMES_free(gens);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_REQ_free(q.csr);
    X509_free(old);
    EVP_PKEY_free(oldkey);
    EVP_PKEY_free(newkey);
}

/* renewal = false: a PKCSReq signed by an issued certificate is a new
 * enrollment like any other, so it needs the challenge. */
static void test_renewal_disabled_pkcsreq(void **state)
{
    struct fx *f = fx_new(0, CHALLENGE, 0);
    struct fx_req q;
    EVP_PKEY *oldkey = tu_rsa_key(2048), *newkey = tu_rsa_key_fresh(2048);
    X509 *old = fx_enroll(f, oldkey, "no-renew", CHALLENGE, "tid-nrp-1"), *c;

    (void)state;
    memset(&q, 0, sizeof(q));
    q.key = oldkey;
    q.signer = old;
    q.csr = tu_csr(newkey, "no-renew", NULL, NULL);
    fx_expect_failure(f, SCEP_MSG_PKCSREQ, "tid-nrp-2", &q, SCEP_FAIL_BAD_REQUEST,
                      "challenge password missing");
    assert_int_equal(fx_cert_count(f), 1);
    X509_REQ_free(q.csr);

    /* with the challenge it is an ordinary enrollment, with the CSR's subject */
    q.csr = tu_csr(newkey, "new-name", CHALLENGE, NULL);
    c = fx_expect_cert(f, SCEP_MSG_PKCSREQ, "tid-nrp-3", &q);
    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(c), X509_REQ_get_subject_name(q.csr)), 0);
    assert_int_equal(fx_cert_count(f), 2);
    X509_free(c);
    X509_REQ_free(q.csr);
    X509_free(old);
    EVP_PKEY_free(oldkey);
    EVP_PKEY_free(newkey);
    fx_free(f);
}

/* Reads a PEM private key file of the CA's state directory. */
static EVP_PKEY *read_key(const char *dir, const char *name)
{
    char path[1024];
    EVP_PKEY *k;
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fp = fopen(path, "r");
    assert_non_null(fp);
    k = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
    fclose(fp);
    assert_non_null(k);
    return k;
}

/* The RA certificate is issued by the CA and is in no store: it must not
 * count as a renewal credential (nor vouch for the RA's name). */
static void test_renewal_signed_by_ra(void **state)
{
    struct fx *f = fx_new(1, CHALLENGE, 1);
    struct fx_req q;
    EVP_PKEY *newkey = tu_rsa_key_fresh(2048);
    EVP_PKEY *rakey = read_key(f->dir, "ra.key");

    (void)state;
    assert_non_null(scep_ca_get0_ra_cert(f->ca));
    memset(&q, 0, sizeof(q));
    q.key = rakey;
    q.signer = scep_ca_get0_ra_cert(f->ca);
    q.csr = tu_csr(newkey, "whatever", NULL, NULL);
    fx_expect_failure(f, SCEP_MSG_RENEWALREQ, "tid-ra-1", &q, SCEP_FAIL_BAD_REQUEST, NULL);
    /* and as a PKCSReq it is no renewal either: the challenge is needed */
    fx_expect_failure(f, SCEP_MSG_PKCSREQ, "tid-ra-2", &q, SCEP_FAIL_BAD_REQUEST,
                      "challenge password missing");
    assert_int_equal(fx_cert_count(f), 0);
    X509_REQ_free(q.csr);
    EVP_PKEY_free(rakey);
    EVP_PKEY_free(newkey);
    fx_free(f);
}

/* A subject whose RFC 2253 text exceeds SCEP_MAX_SUBJECT. */
static X509_NAME *long_name(void)
{
    X509_NAME *n = X509_NAME_new();
    char ou[60];
    int i;

    assert_non_null(n);
    for (i = 0; i < 30; i++) {
        snprintf(ou, sizeof(ou), "organisational unit number %02d of many", i);
        assert_int_equal(X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_UTF8,
                                                    (const unsigned char *)ou, -1, -1, 0),
                         1);
    }
    assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
                                                (const unsigned char *)"long", -1, -1, 0),
                     1);
    return n;
}

static void test_subject_too_long(void **state)
{
    struct fx *f = *state;
    struct fx_req q;
    struct fx_audit a;
    EVP_PKEY *key = tu_rsa_key(2048);
    X509_NAME *n = long_name();

    memset(&q, 0, sizeof(q));
    q.key = key;
    q.signer = tu_self_signed(key, "long");
    q.csr = csr_with(key, NULL, n, CHALLENGE, NULL);
    fx_expect_failure(f, SCEP_MSG_PKCSREQ, "tid-long", &q, SCEP_FAIL_BAD_REQUEST, NULL);
    assert_int_equal(fx_cert_count(f), 0);
    fx_audit_read(f, &a);
    assert_int_equal(a.n, 1);
    assert_string_equal(a.kind[0], "refuse");
    X509_free(q.signer);
    X509_REQ_free(q.csr);
    X509_NAME_free(n);
    EVP_PKEY_free(key);
}

/* Two workers (own service, own store connection) get the same PKCSReq
 * at the same moment: a client retrying on a second connection. */
struct racer {
    struct scep_service *svc;
    const unsigned char *der;
    size_t len;
    pthread_barrier_t *go;
    int rc;
    char outcome[16];
};

static void *race_one(void *arg)
{
    struct racer *r = arg;
    struct scep_reply rep;

    memset(&rep, 0, sizeof(rep));
    pthread_barrier_wait(r->go);
    r->rc = scep_service_pkioperation(r->svc, NULL, r->der, r->len, FX_PEER, &rep);
    snprintf(r->outcome, sizeof(r->outcome), "%s", rep.outcome != NULL ? rep.outcome : "");
    scep_reply_clear(&rep);
    return NULL;
}

struct tid_count {
    const char *tid;
    int n;
};

static int count_tid_cb(const struct scep_cert_info *ci, void *arg)
{
    struct tid_count *c = arg;

    if (ci->transaction_id != NULL && strcmp(ci->transaction_id, c->tid) == 0)
        c->n++;
    return 0;
}

static void test_same_transaction_concurrently(void **state)
{
    struct fx *f = *state;
    struct scep_store *st2 = NULL;
    struct scep_service *svc2 = NULL;
    struct scep_cert_filter flt;
    char uri[512], tid[32];
    EVP_PKEY *key = tu_rsa_key(2048);
    int round;

    snprintf(uri, sizeof(uri), "sqlite:%s/scepd.db", f->dir);
    assert_int_equal(scep_store_open(uri, &st2, NULL, 0), 0);
    assert_int_equal(scep_service_new(f->ca, st2, &f->cfg, &svc2), 0);
    for (round = 0; round < 12; round++) {
        struct fx_req q;
        unsigned char *der = NULL;
        size_t len = 0;
        pthread_barrier_t go;
        pthread_t t1, t2;
        struct racer a, b;
        struct tid_count count;

        snprintf(tid, sizeof(tid), "tid-race-%d", round);
        memset(&q, 0, sizeof(q));
        q.key = key;
        q.signer = tu_self_signed(key, "racer");
        q.csr = tu_csr(key, "racer", CHALLENGE, NULL);
        fx_build(f, SCEP_MSG_PKCSREQ, tid, &q, &der, &len);
        assert_int_equal(pthread_barrier_init(&go, NULL, 2), 0);
        memset(&a, 0, sizeof(a));
        memset(&b, 0, sizeof(b));
        a.svc = f->svc;
        b.svc = svc2;
        a.der = b.der = der;
        a.len = b.len = len;
        a.go = b.go = &go;
        assert_int_equal(pthread_create(&t1, NULL, race_one, &a), 0);
        assert_int_equal(pthread_create(&t2, NULL, race_one, &b), 0);
        pthread_join(t1, NULL);
        pthread_join(t2, NULL);
        pthread_barrier_destroy(&go);
        /* both answered with the one certificate */
        assert_int_equal(a.rc, 0);
        assert_int_equal(b.rc, 0);
        assert_string_equal(a.outcome, "success");
        assert_string_equal(b.outcome, "success");
        count.tid = tid;
        count.n = 0;
        memset(&flt, 0, sizeof(flt));
        flt.status = -1;
        flt.include_expired = 1;
        assert_int_equal(scep_store_list_certs(f->st, &flt, count_tid_cb, &count), 0);
        assert_int_equal(count.n, 1);
        scep_free(der);
        X509_free(q.signer);
        X509_REQ_free(q.csr);
    }
    scep_service_free(svc2);
    scep_store_close(st2);
    EVP_PKEY_free(key);
}

/* GetCRL round trip for issuer; returns the CRL (X509_CRL_free()). */
static X509_CRL *get_crl(struct fx *f, X509_NAME *issuer, X509 *about, const char *tid)
{
    struct fx_req q;
    unsigned char *der = NULL;
    size_t len = 0;
    struct scep_reply r;
    struct scep_msg *m;
    STACK_OF(X509_CRL) *crls;
    X509_CRL *crl;
    EVP_PKEY *key = tu_rsa_key(2048);

    memset(&q, 0, sizeof(q));
    q.key = key;
    q.signer = tu_self_signed(key, "crl-fetcher");
    q.issuer = issuer;
    q.serial = X509_get0_serialNumber(about);
    fx_build(f, SCEP_MSG_GETCRL, tid, &q, &der, &len);
    fx_send(f, der, len, &r);
    assert_string_equal(r.outcome, "success");
    m = fx_open(f, &r, tid, &q);
    crls = scep_msg_get0_crls(m);
    assert_non_null(crls);
    assert_int_equal(sk_X509_CRL_num(crls), 1);
    crl = sk_X509_CRL_value(crls, 0);
    assert_true(X509_CRL_up_ref(crl));
    scep_msg_free(m);
    scep_reply_clear(&r);
    scep_free(der);
    X509_free(q.signer);
    EVP_PKEY_free(key);
    return crl;
}

/* Promotes a next CA in f->dir and swaps it into the running service;
 * returns the old CA (scep_ca_free()). */
static struct scep_ca *roll_over(struct fx *f)
{
    struct scep_ca_init_opts o;
    struct scep_ca *old = f->ca, *ca2 = NULL;

    memset(&o, 0, sizeof(o));
    o.subject = "CN=Test CA 2,O=scepd tests";
    o.key_type = SCEP_KEY_RSA;
    o.rsa_bits = 2048;
    assert_int_equal(scep_ca_next_create(f->dir, &o, time(NULL) - 1), 0);
    assert_int_equal(scep_ca_load(f->dir, &ca2), 0);
    assert_int_not_equal(X509_cmp(scep_ca_get0_cert(ca2), scep_ca_get0_cert(old)), 0);
    scep_service_set_ca(f->svc, ca2);
    f->ca = ca2;
    return old;
}

static void test_getcrl_after_rollover(void **state)
{
    struct fx *f = *state;
    EVP_PKEY *k1 = tu_rsa_key(2048), *k2 = tu_rsa_key(3072);
    X509 *c_old = fx_enroll(f, k1, "old-ca-dev", CHALLENGE, "tid-rc-1"), *c_new;
    struct scep_ca *old;
    X509_CRL *crl;
    X509_REVOKED *rev = NULL;
    char serial[64];

    fx_serial_hex(c_old, serial, sizeof(serial));
    assert_int_equal(scep_store_revoke(f->st, serial, 1, (int64_t)time(NULL), NULL), 0);
    old = roll_over(f);
    c_new = fx_enroll(f, k2, "new-ca-dev", CHALLENGE, "tid-rc-2");
    fx_serial_hex(c_new, serial, sizeof(serial));
    assert_int_equal(scep_store_revoke(f->st, serial, 1, (int64_t)time(NULL), NULL), 0);

    crl = get_crl(f, X509_get_subject_name(scep_ca_get0_cert(f->ca)), c_new, "tid-rc-3");
    assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(scep_ca_get0_cert(f->ca))), 1);
    assert_int_equal(X509_CRL_get0_by_serial(crl, &rev, X509_get0_serialNumber(c_new)), 1);
    /* the old CA's serial is not the new CA's to revoke */
    assert_int_equal(X509_CRL_get0_by_serial(crl, &rev, X509_get0_serialNumber(c_old)), 0);
    assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), 1);

    X509_CRL_free(crl);
    scep_ca_free(old);
    X509_free(c_old);
    X509_free(c_new);
    EVP_PKEY_free(k1);
    EVP_PKEY_free(k2);
}

/* A renewal whose CertRep was lost: the client polls with the same
 * transactionID, signed like the renewal (by its old certificate). */
static void test_certpoll_after_renewal(void **state)
{
    struct fx *f = *state;
    struct fx_req q, p;
    EVP_PKEY *oldkey = tu_rsa_key(2048), *newkey = tu_rsa_key_fresh(2048), *other;
    X509 *old = fx_enroll(f, oldkey, "poller", CHALLENGE, "tid-pr-1"), *c, *again;
    X509 *stranger;

    memset(&q, 0, sizeof(q));
    q.key = oldkey;
    q.signer = old;
    q.csr = tu_csr(newkey, "poller", NULL, NULL);
    c = fx_expect_cert(f, SCEP_MSG_RENEWALREQ, "tid-pr-2", &q);

    memset(&p, 0, sizeof(p));
    p.key = oldkey;
    p.signer = old;
    p.issuer = X509_get_subject_name(scep_ca_get0_cert(f->ca));
    p.subject = X509_get_subject_name(old);
    again = fx_expect_cert(f, SCEP_MSG_CERTPOLL, "tid-pr-2", &p);
    assert_int_equal(X509_cmp(again, c), 0);
    X509_free(again);

    /* signed with the new key, as some clients do, it works too */
    p.key = newkey;
    p.signer = tu_self_signed(newkey, "poller");
    again = fx_expect_cert(f, SCEP_MSG_CERTPOLL, "tid-pr-2", &p);
    assert_int_equal(X509_cmp(again, c), 0);
    X509_free(again);
    X509_free(p.signer);

    /* anybody else learns nothing */
    other = tu_rsa_key_fresh(2048);
    stranger = tu_self_signed(other, "poller");
    p.key = other;
    p.signer = stranger;
    fx_expect_failure(f, SCEP_MSG_CERTPOLL, "tid-pr-2", &p, SCEP_FAIL_BAD_CERT_ID, NULL);
    X509_free(stranger);
    EVP_PKEY_free(other);

    assert_int_equal(fx_cert_count(f), 2);
    X509_free(c);
    X509_REQ_free(q.csr);
    X509_free(old);
    EVP_PKEY_free(oldkey);
    EVP_PKEY_free(newkey);
}

/* Sends q and checks the answer is CertRep PENDING. */
static void expect_pending(struct fx *f, const char *tid, struct fx_req *q)
{
    unsigned char *der = NULL;
    size_t len = 0;
    struct scep_reply r;
    struct scep_msg *m;

    fx_build(f, SCEP_MSG_PKCSREQ, tid, q, &der, &len);
    fx_send(f, der, len, &r);
    if (strcmp(r.outcome, "pending") != 0)
        fprintf(stderr, "unexpected: %s %s\n", r.outcome, r.reason);
    assert_string_equal(r.outcome, "pending");
    m = fx_open(f, &r, tid, q);
    assert_int_equal(scep_msg_status(m), SCEP_STATUS_PENDING);
    scep_msg_free(m);
    scep_reply_clear(&r);
    scep_free(der);
}

/* Replaces f's service with one whose manual_approval is manual. */
static void set_approval(struct fx *f, int manual)
{
    scep_service_free(f->svc);
    f->svc = NULL;
    f->cfg.def.manual_approval = manual;
    assert_int_equal(scep_service_new(f->ca, f->st, &f->cfg, &f->svc), 0);
}

/* Requests stored under manual approval keep their state after a switch
 * back to auto: resending the PKCSReq of a rejected request does not get
 * it issued, nor does resending one still pending. */
static void test_rejected_stays_rejected_in_auto(void **state)
{
    struct fx *f = *state;
    struct scep_request_info *ri = NULL;
    struct fx_req q1, q2;
    EVP_PKEY *k1 = tu_rsa_key(2048), *k2 = tu_rsa_key(3072);
    X509 *c;

    set_approval(f, 1);
    memset(&q1, 0, sizeof(q1));
    q1.key = k1;
    q1.signer = tu_self_signed(k1, "held-1");
    q1.csr = tu_csr(k1, "held-1", CHALLENGE, NULL);
    memset(&q2, 0, sizeof(q2));
    q2.key = k2;
    q2.signer = tu_self_signed(k2, "held-2");
    q2.csr = tu_csr(k2, "held-2", CHALLENGE, NULL);
    expect_pending(f, "tid-held-1", &q1);
    expect_pending(f, "tid-held-2", &q2);
    assert_int_equal(scep_store_get_request_by_transaction(f->st, "tid-held-1", &ri), 0);
    assert_int_equal(
        scep_store_decide_request(f->st, ri->id, SCEP_REQ_REJECTED, "scepctl:root", "no", NULL), 0);
    scep_request_info_free(ri);

    set_approval(f, 0);
    fx_expect_failure(f, SCEP_MSG_PKCSREQ, "tid-held-1", &q1, SCEP_FAIL_BAD_REQUEST,
                      "rejected by an administrator: no");
    expect_pending(f, "tid-held-2", &q2);
    assert_int_equal(fx_cert_count(f), 0);

    /* once approved, it is collected as under manual approval */
    assert_int_equal(scep_store_get_request_by_transaction(f->st, "tid-held-2", &ri), 0);
    assert_int_equal(
        scep_store_decide_request(f->st, ri->id, SCEP_REQ_APPROVED, "scepctl:root", NULL, NULL), 0);
    scep_request_info_free(ri);
    c = fx_expect_cert(f, SCEP_MSG_PKCSREQ, "tid-held-2", &q2);
    assert_int_equal(fx_cert_count(f), 1);
    X509_free(c);
    /* and a new transactionID is simply issued in auto */
    c = fx_expect_cert(f, SCEP_MSG_PKCSREQ, "tid-held-3", &q1);
    assert_int_equal(fx_cert_count(f), 2);
    X509_free(c);

    X509_free(q1.signer);
    X509_REQ_free(q1.csr);
    X509_free(q2.signer);
    X509_REQ_free(q2.csr);
    EVP_PKEY_free(k1);
    EVP_PKEY_free(k2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_renewal_othername_swap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_renewal_masked_dns_swap, setup, teardown),
        cmocka_unit_test(test_renewal_disabled_pkcsreq),
        cmocka_unit_test(test_renewal_signed_by_ra),
        cmocka_unit_test_setup_teardown(test_subject_too_long, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_transaction_concurrently, setup, teardown),
        cmocka_unit_test_setup_teardown(test_getcrl_after_rollover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_certpoll_after_renewal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejected_stays_rejected_in_auto, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
