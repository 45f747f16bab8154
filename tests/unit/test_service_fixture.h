/*
 * Shared fixture of the service tests (test_service*.c): a real CA in a
 * temporary state directory, a real SQLite store beside it, a service over
 * both, and helpers that build genuine pkiMessages with scep_msg_build(),
 * pass them to scep_service_pkioperation() and decode the CertRep the way
 * a client does (decode, verify against the CA/RA, decrypt with the
 * requester's key).  Nothing in the pipeline is replaced.
 */
#ifndef TEST_SERVICE_FIXTURE_H
#define TEST_SERVICE_FIXTURE_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <scep/caps.h>
#include <scep/error.h>
#include <scep/message.h>
#include "ca/ca.h"
#include "service/service.h"
#include "store/store.h"
#include "testutil.h"

#define FX_PEER "192.0.2.10"

struct fx {
    char *dir;
    struct scep_ca *ca;
    struct scep_store *st;
    struct scep_service *svc;
    struct scep_service_config cfg;
    const char *profile; /* the profile fx_send asks at; NULL: the default */
};

/* Makes a CA (RSA 2048 without RA, or EC with its RSA RA), a store and a
 * service with challenge (NULL: none) and renewal as given. */
static inline struct fx *fx_new(int ec, const char *challenge, int renewal)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct scep_ca_init_opts o;
    char uri[512];

    assert_non_null(f);
    f->dir = tu_tempdir();
    memset(&o, 0, sizeof(o));
    o.subject = ec ? "CN=Test EC CA,O=scepd tests" : "CN=Test CA,O=scepd tests";
    o.key_type = ec ? SCEP_KEY_EC : SCEP_KEY_RSA;
    o.rsa_bits = 2048;
    o.ra_bits = 2048;
    o.with_ra = ec;
    assert_int_equal(scep_ca_create(f->dir, &o), 0);
    assert_int_equal(scep_ca_load(f->dir, &f->ca), 0);
    snprintf(uri, sizeof(uri), "sqlite:%s/scepd.db", f->dir);
    assert_int_equal(scep_store_open(uri, &f->st, NULL, 0), 0);
    f->cfg.def.challenge = challenge;
    f->cfg.def.allow_renewal = renewal;
    assert_int_equal(scep_service_new(f->ca, f->st, &f->cfg, &f->svc), 0);
    return f;
}

/* Makes f's service again from f->cfg, after a test changed it. */
static inline void fx_restart(struct fx *f)
{
    scep_service_free(f->svc);
    f->svc = NULL;
    assert_int_equal(scep_service_new(f->ca, f->st, &f->cfg, &f->svc), 0);
}

static inline void fx_free(struct fx *f)
{
    if (f == NULL)
        return;
    scep_service_free(f->svc);
    scep_store_close(f->st);
    scep_ca_free(f->ca);
    tu_rmrf(f->dir);
    free(f->dir);
    free(f);
}

/* What a request carries beyond its type and transactionID. */
struct fx_req {
    X509 *signer;
    EVP_PKEY *key;
    X509_REQ *csr;
    X509_NAME *issuer;
    X509_NAME *subject;
    const ASN1_INTEGER *serial;
    const EVP_CIPHER *cipher; /* NULL: AES-128 */
    const EVP_MD *md;         /* NULL: SHA-256 */
    int key_transport;        /* enum scep_key_transport, 0: PKCS#1 v1.5 */
    unsigned char nonce[SCEP_NONCE_LEN];
};

/* Builds the request encrypted to the CA's SCEP certificate (RA or CA). */
static inline void fx_build(struct fx *f, int type, const char *tid, struct fx_req *q,
                            unsigned char **der, size_t *len)
{
    struct scep_msg_spec s;
    STACK_OF(X509) *rcpts = sk_X509_new_null();

    assert_non_null(rcpts);
    assert_true(sk_X509_push(rcpts, scep_ca_get0_scep_cert(f->ca)) > 0);
    memset(q->nonce, 0, sizeof(q->nonce));
    /* The nonce is "n-" and as much of tid as fits: cut on purpose. */
    if (snprintf((char *)q->nonce, sizeof(q->nonce), "n-%s", tid) < 0)
        fail_msg("nonce");
    memset(&s, 0, sizeof(s));
    s.type = type;
    s.transaction_id = tid;
    s.sender_nonce = q->nonce;
    s.signer_cert = q->signer;
    s.signer_key = q->key;
    s.md = q->md;
    s.recipients = rcpts;
    s.cipher = q->cipher;
    s.key_transport = q->key_transport;
    s.csr = q->csr;
    s.issuer = q->issuer;
    s.subject = q->subject;
    s.serial = q->serial;
    assert_int_equal(scep_msg_build(&s, der, len), 0);
    sk_X509_free(rcpts); /* borrowed certificate: do not free it */
}

/*
 * The issued certificate among a CertRep's certificates: SignedData's
 * certificates is a SET OF, which DER sorts, so the order the server
 * chose is not what arrives; the leaf is the one that is not the CA.
 */
static inline X509 *fx_leaf(struct fx *f, STACK_OF(X509) *certs)
{
    int i;

    for (i = 0; i < sk_X509_num(certs); i++)
        if (X509_cmp(sk_X509_value(certs, i), scep_ca_get0_cert(f->ca)) != 0)
            return sk_X509_value(certs, i);
    fail_msg("no leaf certificate in the CertRep");
    return NULL;
}

/* Sends der to the service; r receives the reply. */
static inline void fx_send(struct fx *f, const unsigned char *der, size_t len, struct scep_reply *r)
{
    memset(r, 0, sizeof(*r));
    assert_int_equal(scep_service_pkioperation(f->svc, f->profile, der, len, FX_PEER, r), 0);
}

/*
 * Decodes a CertRep as a client: it must be signed by the CA's SCEP
 * certificate, echo tid, and answer q's nonce; a SUCCESS is decrypted
 * with q's signer key.  Returns the message (scep_msg_free()).
 */
static inline struct scep_msg *fx_open(struct fx *f, const struct scep_reply *r, const char *tid,
                                       struct fx_req *q)
{
    struct scep_msg *m = NULL;

    assert_int_equal(r->http_status, 200);
    assert_string_equal(r->content_type, "application/x-pki-message");
    assert_non_null(r->body);
    assert_int_equal(scep_msg_decode(r->body, r->len, &m), 0);
    assert_int_equal(scep_msg_verify(m, scep_ca_get0_scep_cert(f->ca)), 0);
    assert_int_equal(scep_msg_type(m), SCEP_MSG_CERTREP);
    assert_string_equal(scep_msg_get0_transaction_id(m), tid);
    assert_non_null(scep_msg_get0_recipient_nonce(m));
    assert_memory_equal(scep_msg_get0_recipient_nonce(m), q->nonce, SCEP_NONCE_LEN);
    /* a fresh senderNonce, not ours echoed */
    assert_memory_not_equal(scep_msg_get0_sender_nonce(m), q->nonce, SCEP_NONCE_LEN);
    if (scep_msg_status(m) == SCEP_STATUS_SUCCESS)
        assert_int_equal(scep_msg_decrypt(m, q->signer, q->key), 0);
    return m;
}

/* One round trip that must end in a FAILURE with fail_info; returns the
 * failInfoText check to the caller through text (may be NULL). */
static inline void fx_expect_failure(struct fx *f, int type, const char *tid, struct fx_req *q,
                                     int fail_info, const char *text)
{
    unsigned char *der = NULL;
    size_t len = 0;
    struct scep_reply r;
    struct scep_msg *m;

    fx_build(f, type, tid, q, &der, &len);
    fx_send(f, der, len, &r);
    assert_string_equal(r.outcome, "failure");
    assert_int_equal(r.fail_info, fail_info);
    m = fx_open(f, &r, tid, q);
    assert_int_equal(scep_msg_status(m), SCEP_STATUS_FAILURE);
    assert_int_equal(scep_msg_fail_info(m), fail_info);
    if (text != NULL) {
        assert_non_null(scep_msg_get0_fail_text(m));
        assert_string_equal(scep_msg_get0_fail_text(m), text);
    }
    scep_msg_free(m);
    scep_reply_clear(&r);
    scep_free(der);
}

/*
 * A successful round trip; returns the first certificate of the CertRep
 * (X509_free()) after checking the reply's bookkeeping.
 */
static inline X509 *fx_expect_cert(struct fx *f, int type, const char *tid, struct fx_req *q)
{
    unsigned char *der = NULL;
    size_t len = 0;
    struct scep_reply r;
    struct scep_msg *m;
    STACK_OF(X509) *certs;
    X509 *c;

    fx_build(f, type, tid, q, &der, &len);
    fx_send(f, der, len, &r);
    if (strcmp(r.outcome, "success") != 0)
        fprintf(stderr, "unexpected: %s %s\n", r.outcome, r.reason);
    assert_string_equal(r.outcome, "success");
    assert_int_equal(r.fail_info, -1);
    assert_string_equal(r.transaction_id, tid);
    assert_int_equal(r.msg_type, type);
    m = fx_open(f, &r, tid, q);
    assert_int_equal(scep_msg_status(m), SCEP_STATUS_SUCCESS);
    certs = scep_msg_get0_certs(m);
    assert_non_null(certs);
    assert_true(sk_X509_num(certs) >= 1);
    c = fx_leaf(f, certs);
    assert_true(X509_up_ref(c));
    scep_msg_free(m);
    scep_reply_clear(&r);
    scep_free(der);
    return c;
}

static inline int fx_count_cb(const struct scep_cert_info *ci, void *arg)
{
    (void)ci;
    (*(int *)arg)++;
    return 0;
}

/* Number of certificates in the store, any status. */
static inline int fx_cert_count(struct fx *f)
{
    struct scep_cert_filter flt;
    int n = 0;

    memset(&flt, 0, sizeof(flt));
    flt.status = -1;
    flt.include_expired = 1;
    assert_int_equal(scep_store_list_certs(f->st, &flt, fx_count_cb, &n), 0);
    return n;
}

struct fx_audit {
    int n;
    char kind[16][32];
    char detail[16][300];
    char tid[16][130];
    char peer[16][64];
};

static inline int fx_audit_cb(const struct scep_audit_event *ev, void *arg)
{
    struct fx_audit *a = arg;

    if (a->n < 16) {
        snprintf(a->kind[a->n], sizeof(a->kind[0]), "%s", ev->kind ? ev->kind : "");
        snprintf(a->detail[a->n], sizeof(a->detail[0]), "%s", ev->detail ? ev->detail : "");
        snprintf(a->tid[a->n], sizeof(a->tid[0]), "%s",
                 ev->transaction_id ? ev->transaction_id : "");
        snprintf(a->peer[a->n], sizeof(a->peer[0]), "%s", ev->peer ? ev->peer : "");
    }
    a->n++;
    return 0;
}

static inline void fx_audit_read(struct fx *f, struct fx_audit *a)
{
    memset(a, 0, sizeof(*a));
    assert_int_equal(scep_store_list_audit(f->st, 0, fx_audit_cb, a), 0);
}

/* Enrolls key under cn with the challenge; returns the issued cert and
 * fills signer/q so the caller can reuse them (free q->signer, q->csr). */
static inline X509 *fx_enroll(struct fx *f, EVP_PKEY *key, const char *cn, const char *challenge,
                              const char *tid)
{
    struct fx_req q;
    X509 *c;

    memset(&q, 0, sizeof(q));
    q.key = key;
    q.signer = tu_self_signed(key, cn);
    q.csr = tu_csr(key, cn, challenge, NULL);
    c = fx_expect_cert(f, SCEP_MSG_PKCSREQ, tid, &q);
    X509_free(q.signer);
    X509_REQ_free(q.csr);
    return c;
}

/* Uppercase hex serial of cert, as the store keys it. */
static inline void fx_serial_hex(X509 *cert, char *buf, size_t size)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    char *hex = BN_bn2hex(bn);

    assert_non_null(hex);
    snprintf(buf, size, "%s%s", (hex[0] >= '8') ? "00" : "", hex);
    OPENSSL_free(hex);
    BN_free(bn);
}

#endif
