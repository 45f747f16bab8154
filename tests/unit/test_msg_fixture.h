/*
 * Shared fixture of the message-layer unit tests (test_msg_*.c): a CA
 * and a client identity, a second unrelated identity for negative tests,
 * and a raw SignedData builder that writes arbitrary SCEP attributes so
 * that every malformed-message rule can be exercised.  Test code only;
 * failures abort.
 */
#ifndef SCEP_TEST_MSG_FIXTURE_H
#define SCEP_TEST_MSG_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include <scep/limits.h>
#include <scep/scep.h>

#include "testutil.h"

struct fx {
    EVP_PKEY *ca_key, *cl_key, *ot_key;
    X509 *ca_cert, *cl_cert, *ot_cert;
    X509_REQ *csr;
    STACK_OF(X509) *ca_stack;
};

static inline void fx_die(const char *what)
{
    fprintf(stderr, "fixture: %s failed\n", what);
    ERR_print_errors_fp(stderr);
    abort();
}

static inline void fx_init(struct fx *f)
{
    memset(f, 0, sizeof(*f));
    if (scep_init() != 0)
        fx_die("scep_init");
    f->ca_key = tu_rsa_key(2048);
    f->cl_key = tu_rsa_key(3072);
    f->ot_key = tu_rsa_key_fresh(2048);
    f->ca_cert = tu_self_signed(f->ca_key, "Test SCEP CA");
    f->cl_cert = tu_self_signed(f->cl_key, "device-1");
    f->ot_cert = tu_self_signed(f->ot_key, "someone else");
    f->csr = tu_csr(f->cl_key, "device-1", "secret", "device-1.example");
    f->ca_stack = sk_X509_new_null();
    if (f->ca_stack == NULL || !sk_X509_push(f->ca_stack, f->ca_cert))
        fx_die("stack");
}

static inline void fx_free(struct fx *f)
{
    sk_X509_free(f->ca_stack);
    X509_REQ_free(f->csr);
    X509_free(f->ca_cert);
    X509_free(f->cl_cert);
    X509_free(f->ot_cert);
    EVP_PKEY_free(f->ca_key);
    EVP_PKEY_free(f->cl_key);
    EVP_PKEY_free(f->ot_key);
}

/* A request spec of type signed by the client for the CA. */
static inline void fx_request_spec(struct fx *f, struct scep_msg_spec *s, int type)
{
    memset(s, 0, sizeof(*s));
    s->type = type;
    s->transaction_id = "0123456789abcdef0123456789abcdef";
    s->signer_cert = f->cl_cert;
    s->signer_key = f->cl_key;
    s->recipients = f->ca_stack;
    s->csr = f->csr;
    s->issuer = X509_get_subject_name(f->ca_cert);
    s->subject = X509_REQ_get_subject_name(f->csr);
    s->serial = X509_get0_serialNumber(f->cl_cert);
}

/* A CertRep spec of status signed by the CA for the client. */
static inline void fx_certrep_spec(struct fx *f, struct scep_msg_spec *s, int status,
                                   const unsigned char *rnonce)
{
    memset(s, 0, sizeof(*s));
    s->type = SCEP_MSG_CERTREP;
    s->transaction_id = "0123456789abcdef0123456789abcdef";
    s->recipient_nonce = rnonce;
    s->signer_cert = f->ca_cert;
    s->signer_key = f->ca_key;
    s->recipient = f->cl_cert;
    s->status = status;
}

/* A one-entry CRL issued by the CA. */
static inline X509_CRL *fx_crl(struct fx *f)
{
    X509_CRL *crl = X509_CRL_new();
    X509_REVOKED *r = X509_REVOKED_new();
    ASN1_TIME *t = ASN1_TIME_new();
    ASN1_INTEGER *serial = ASN1_INTEGER_new();

    if (crl == NULL || r == NULL || t == NULL || serial == NULL)
        fx_die("crl alloc");
    X509_CRL_set_version(crl, X509_CRL_VERSION_2);
    X509_CRL_set_issuer_name(crl, X509_get_subject_name(f->ca_cert));
    X509_gmtime_adj(t, 0);
    X509_CRL_set1_lastUpdate(crl, t);
    X509_gmtime_adj(t, 86400);
    X509_CRL_set1_nextUpdate(crl, t);
    ASN1_INTEGER_set(serial, 4242);
    X509_REVOKED_set_serialNumber(r, serial);
    X509_gmtime_adj(t, -10);
    X509_REVOKED_set_revocationDate(r, t);
    X509_CRL_add0_revoked(crl, r);
    if (!X509_CRL_sign(crl, f->ca_key, EVP_sha256()))
        fx_die("X509_CRL_sign");
    ASN1_TIME_free(t);
    ASN1_INTEGER_free(serial);
    return crl;
}

/* One attribute for the raw builder. */
struct raw_attr {
    const char *oid;
    int type; /* V_ASN1_* */
    const void *data;
    int len;
};

#define RAW_MAX_ATTRS 12

struct raw_msg {
    struct raw_attr attrs[RAW_MAX_ATTRS];
    int nattrs;
    int nsigners;                 /* 1 normally; 0 or 2 for negative tests */
    int no_certs;                 /* leave the signer certificate out */
    const unsigned char *content; /* eContent bytes, NULL: detached/absent */
    size_t content_len;
    int ber; /* stream it out as BER, indefinite lengths */
    const EVP_MD *md;
};

static inline void raw_add(struct raw_msg *r, const char *oid, int type, const void *data, int len)
{
    if (r->nattrs >= RAW_MAX_ATTRS)
        fx_die("raw_add");
    r->attrs[r->nattrs].oid = oid;
    r->attrs[r->nattrs].type = type;
    r->attrs[r->nattrs].data = data;
    r->attrs[r->nattrs].len = len;
    r->nattrs++;
}

#define OID_MSGTYPE "2.16.840.1.113733.1.9.2"
#define OID_STATUS "2.16.840.1.113733.1.9.3"
#define OID_FAILINFO "2.16.840.1.113733.1.9.4"
#define OID_SNONCE "2.16.840.1.113733.1.9.5"
#define OID_RNONCE "2.16.840.1.113733.1.9.6"
#define OID_TRANSID "2.16.840.1.113733.1.9.7"

static const unsigned char fx_nonce_a[16] = "AAAAAAAAAAAAAAA";
static const unsigned char fx_nonce_b[16] = "BBBBBBBBBBBBBBB";

/* The usual request attributes: messageType mt, a transactionID, a
 * 16-byte senderNonce. */
static inline void raw_request_attrs(struct raw_msg *r, const char *mt)
{
    raw_add(r, OID_MSGTYPE, V_ASN1_PRINTABLESTRING, mt, (int)strlen(mt));
    raw_add(r, OID_TRANSID, V_ASN1_PRINTABLESTRING, "tid-1", 5);
    raw_add(r, OID_SNONCE, V_ASN1_OCTET_STRING, fx_nonce_a, 16);
}

/* Builds the raw SignedData described by r, signed by the client (and,
 * for a second signer, by the CA).  Returns DER/BER; free() it. */
static inline unsigned char *raw_build(struct fx *f, const struct raw_msg *r, size_t *len)
{
    static const unsigned char empty[1];
    int flags = CMS_PARTIAL | CMS_BINARY | (r->ber ? CMS_STREAM : 0);
    CMS_ContentInfo *cms = CMS_sign(NULL, NULL, NULL, NULL, flags);
    BIO *in = BIO_new_mem_buf(r->content != NULL ? r->content : empty, (int)r->content_len);
    BIO *out = BIO_new(BIO_s_mem());
    unsigned char *buf;
    char *p;
    long n;
    int i, j;

    if (cms == NULL || in == NULL || out == NULL)
        fx_die("raw alloc");
    for (i = 0; i < r->nsigners; i++) {
        X509 *c = i == 0 ? f->cl_cert : f->ca_cert;
        EVP_PKEY *k = i == 0 ? f->cl_key : f->ca_key;
        CMS_SignerInfo *si =
            CMS_add1_signer(cms, c, k, r->md ? r->md : EVP_sha256(),
                            CMS_BINARY | CMS_NOSMIMECAP | (r->no_certs ? CMS_NOCERTS : 0));

        if (si == NULL)
            fx_die("CMS_add1_signer");
        for (j = 0; j < r->nattrs; j++) {
            ASN1_OBJECT *o = OBJ_txt2obj(r->attrs[j].oid, 1);

            if (o == NULL || !CMS_signed_add1_attr_by_OBJ(si, o, r->attrs[j].type, r->attrs[j].data,
                                                          r->attrs[j].len))
                fx_die("add attr");
            ASN1_OBJECT_free(o);
        }
    }
    if (r->content == NULL && !CMS_set_detached(cms, 1))
        fx_die("detached");
    if (r->ber) {
        if (!i2d_CMS_bio_stream(out, cms, in, CMS_STREAM | CMS_BINARY))
            fx_die("i2d_CMS_bio_stream");
    } else {
        if (!CMS_final(cms, in, NULL, CMS_BINARY) || !i2d_CMS_bio(out, cms))
            fx_die("CMS_final");
    }
    n = BIO_get_mem_data(out, &p);
    buf = malloc((size_t)n);
    if (buf == NULL)
        fx_die("malloc");
    memcpy(buf, p, (size_t)n);
    *len = (size_t)n;
    BIO_free(in);
    BIO_free(out);
    CMS_ContentInfo_free(cms);
    return buf;
}

/* An EnvelopedData of data to the CA; BER with indefinite lengths if ber.
 * free() the result. */
static inline unsigned char *raw_envelope(struct fx *f, const unsigned char *data, size_t dlen,
                                          int ber, size_t *len)
{
    BIO *in = BIO_new_mem_buf(data, (int)dlen);
    BIO *out = BIO_new(BIO_s_mem());
    CMS_ContentInfo *cms;
    unsigned char *buf;
    char *p;
    long n;

    if (in == NULL || out == NULL)
        fx_die("env alloc");
    cms = CMS_encrypt(f->ca_stack, in, EVP_aes_128_cbc(), CMS_BINARY | (ber ? CMS_STREAM : 0));
    if (cms == NULL)
        fx_die("CMS_encrypt");
    if (ber ? !i2d_CMS_bio_stream(out, cms, in, CMS_STREAM | CMS_BINARY) : !i2d_CMS_bio(out, cms))
        fx_die("i2d env");
    n = BIO_get_mem_data(out, &p);
    buf = malloc((size_t)n);
    if (buf == NULL)
        fx_die("malloc");
    memcpy(buf, p, (size_t)n);
    *len = (size_t)n;
    BIO_free(in);
    BIO_free(out);
    CMS_ContentInfo_free(cms);
    return buf;
}

/* DER of a CSR; free() it. */
static inline unsigned char *fx_csr_der(X509_REQ *csr, size_t *len)
{
    unsigned char *d = NULL, *copy;
    int n = i2d_X509_REQ(csr, &d);

    if (n <= 0 || (copy = malloc((size_t)n)) == NULL)
        fx_die("i2d_X509_REQ");
    memcpy(copy, d, (size_t)n);
    OPENSSL_free(d);
    *len = (size_t)n;
    return copy;
}

#endif
