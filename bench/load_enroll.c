/*
 * scep_load's SCEP side: GetCACert and the choice of the certificate
 * requests are encrypted to, the per-worker identity (RSA key and
 * self-signed signer certificate, made before the clock starts), and one
 * complete enrollment built and checked with the libscep message API
 * (include/scep/message.h): PKCSReq out, CertRep in, decoded, verified
 * against the CA/RA certificate, decrypted, and the issued certificate
 * matched to the worker's key.  A run only counts an enrollment that
 * passed every one of those checks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include <scep/error.h>
#include <scep/message.h>

#include "load.h"

/* Media type of a reply without its parameters, compared case-blind. */
static int media_is(const char *ct, const char *want)
{
    size_t n = strlen(want);

    return strncasecmp(ct, want, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* Whether c's key may receive a key transport (no keyUsage: any use). */
static int can_encipher(X509 *c)
{
    return (X509_get_key_usage(c) & KU_KEY_ENCIPHERMENT) != 0;
}

/* Picks the certificate to encrypt to and verify against from a CA/RA set.
 * Returns a borrowed pointer into certs, or NULL if none may encipher. */
static X509 *choose_ra(STACK_OF(X509) *certs)
{
    X509 *ca_fallback = NULL, *c;
    int i;

    for (i = 0; i < sk_X509_num(certs); i++) {
        c = sk_X509_value(certs, i);
        if (!can_encipher(c))
            continue;
        /* X509_check_ca() is 0 for an end-entity certificate: the RA. */
        if (X509_check_ca(c) == 0)
            return c;
        if (ca_fallback == NULL)
            ca_fallback = c;
    }
    return ca_fallback;
}

/*
 * GetCACert and choice of the recipient; see load.h.
 */
int load_fetch_ca(struct load_target *t, char *desc, size_t desclen, char *err, size_t errlen)
{
    struct load_http_reply r = {0};
    STACK_OF(X509) *certs = NULL, *rcpt = NULL;
    X509 *one = NULL, *chosen;
    CURL *h = NULL;
    const unsigned char *p;
    char url[2048];
    int rc = SCEP_ERR_HTTP;

    if ((size_t)snprintf(url, sizeof(url), "%s?operation=GetCACert", t->url) >= sizeof(url)) {
        rc = SCEP_ERR_INVALID_ARG;
        snprintf(err, errlen, "URL too long");
        goto out;
    }
    h = load_http_handle(0);
    if (h == NULL) {
        snprintf(err, errlen, "curl_easy_init failed");
        goto out;
    }
    rc = load_http_exchange(h, url, NULL, 0, &r, err, errlen);
    if (rc != 0)
        goto out;
    rc = SCEP_ERR_HTTP;
    if (r.status != 200 || r.len == 0) {
        snprintf(err, errlen, "GetCACert: HTTP %ld, %zu bytes", r.status, r.len);
        goto out;
    }
    if (media_is(r.content_type, "application/x-x509-ca-ra-cert")) {
        rc = scep_certs_only_parse(r.body, r.len, &certs, NULL);
        if (rc != 0) {
            snprintf(err, errlen, "GetCACert: CA/RA set: %s", scep_strerror(rc));
            goto out;
        }
        chosen = choose_ra(certs);
    } else if (media_is(r.content_type, "application/x-x509-ca-cert")) {
        /* A lone DER certificate; d2i with the exact length, and the
         * pointer must land on the end (no trailing bytes). */
        p = r.body;
        one = d2i_X509(NULL, &p, (long)r.len);
        if (one == NULL || p != r.body + r.len) {
            rc = SCEP_ERR_DER;
            snprintf(err, errlen, "GetCACert: not one DER certificate");
            goto out;
        }
        chosen = one;
    } else {
        snprintf(err, errlen, "GetCACert: unexpected Content-Type \"%s\"", r.content_type);
        goto out;
    }
    /* A lone CA certificate is the recipient whatever its keyUsage says
     * (RFC 8894 2.2 leaves no other choice): micromdm's CA has only
     * keyCertSign and cRLSign, and its own client encrypts to it anyway.
     * From a CA/RA set only a certificate that may encipher will do. */
    if (chosen == NULL) {
        rc = SCEP_ERR_KEY;
        snprintf(err, errlen, "GetCACert: no certificate with keyEncipherment");
        goto out;
    }
    rcpt = sk_X509_new_null();
    if (rcpt == NULL || !X509_up_ref(chosen)) {
        rc = SCEP_ERR_NOMEM;
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if (!sk_X509_push(rcpt, chosen)) {
        X509_free(chosen);
        rc = SCEP_ERR_NOMEM;
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    snprintf(desc, desclen, "%s %d-bit%s%s", EVP_PKEY_get0_type_name(X509_get0_pubkey(chosen)),
             EVP_PKEY_get_bits(X509_get0_pubkey(chosen)), certs != NULL ? " (RA of a set)" : "",
             can_encipher(chosen) ? "" : " (no keyEncipherment)");
    t->rcpt = rcpt;
    t->ca_signer = chosen; /* borrowed from t->rcpt */
    rcpt = NULL;
    rc = 0;
out:
    sk_X509_pop_free(rcpt, X509_free);
    sk_X509_pop_free(certs, X509_free);
    X509_free(one);
    load_http_reply_clear(&r);
    if (h != NULL)
        curl_easy_cleanup(h);
    return rc;
}

/*
 * Frees t's certificates.  Accepts NULL.
 */
void load_target_clear(struct load_target *t)
{
    if (t == NULL)
        return;
    sk_X509_pop_free(t->rcpt, X509_free);
    t->rcpt = NULL;
    t->ca_signer = NULL;
}

/*
 * Worker identity; see load.h.
 */
int load_identity_new(int thread, int bits, struct load_identity *id, char *err, size_t errlen)
{
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    X509_NAME *name = NULL;
    char cn[64];
    int rc = SCEP_ERR_INTERNAL;

    key = EVP_RSA_gen((unsigned int)bits);
    cert = X509_new();
    name = X509_NAME_new();
    if (key == NULL || cert == NULL || name == NULL) {
        snprintf(err, errlen, "RSA-%d key generation failed", bits);
        goto out;
    }
    snprintf(cn, sizeof(cn), "scep-load-signer-%d", thread);
    /* A self-signed certificate is how a requester without a certificate
     * from the CA signs its pkiMessage (RFC 8894 2.3); a one-day
     * validity is plenty for a run. */
    if (!X509_set_version(cert, X509_VERSION_3) ||
        !ASN1_INTEGER_set(X509_get_serialNumber(cert), thread + 1) ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
                                    0) ||
        !X509_set_subject_name(cert, name) || !X509_set_issuer_name(cert, name) ||
        X509_gmtime_adj(X509_getm_notBefore(cert), -3600) == NULL ||
        X509_gmtime_adj(X509_getm_notAfter(cert), 86400) == NULL || !X509_set_pubkey(cert, key) ||
        X509_sign(cert, key, EVP_sha256()) <= 0) {
        snprintf(err, errlen, "self-signed certificate failed");
        goto out;
    }
    id->thread = thread;
    id->key = key;
    id->cert = cert;
    key = NULL;
    cert = NULL;
    rc = 0;
out:
    X509_NAME_free(name);
    X509_free(cert);
    EVP_PKEY_free(key);
    return rc;
}

/*
 * Frees id's key and certificate.  Accepts NULL.
 */
void load_identity_clear(struct load_identity *id)
{
    if (id == NULL)
        return;
    EVP_PKEY_free(id->key);
    X509_free(id->cert);
    id->key = NULL;
    id->cert = NULL;
}

/* A PKCS#10 request for key with subject CN=cn and the challenge. */
static X509_REQ *make_csr(EVP_PKEY *key, const char *cn, const char *challenge, const EVP_MD *md)
{
    X509_REQ *req = X509_REQ_new();
    X509_NAME *name = X509_NAME_new();
    X509_REQ *ret = NULL;

    if (req == NULL || name == NULL)
        goto out;
    /* MBSTRING_ASC lets OpenSSL pick PrintableString when the challenge
     * fits it, which every server reads; UTF8String would not be. */
    if (!X509_REQ_set_version(req, X509_REQ_VERSION_1) ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
                                    0) ||
        !X509_REQ_set_subject_name(req, name) || !X509_REQ_set_pubkey(req, key) ||
        !X509_REQ_add1_attr_by_NID(req, NID_pkcs9_challengePassword, MBSTRING_ASC,
                                   (const unsigned char *)challenge, -1) ||
        X509_REQ_sign(req, key, md) <= 0)
        goto out;
    ret = req;
    req = NULL;
out:
    X509_NAME_free(name);
    X509_REQ_free(req);
    return ret;
}

/* Lower-case hex of n bytes into out (2n+1 bytes). */
static void hex(const unsigned char *b, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Checks a decoded CertRep against the request and returns the issued
 * certificate's verdict: 0, or SCEP_ERR_* with err filled. */
/* The serial of cert as the store writes it: the hex of its DER INTEGER's
 * content octets, upper case.  "" when it cannot be had. */
static void serial_of(X509 *cert, char *out, size_t size)
{
    unsigned char *der = NULL;
    const unsigned char *p;
    long len = 0;
    int n, tag, cls;

    out[0] = '\0';
    n = i2d_ASN1_INTEGER(X509_get0_serialNumber(cert), &der);
    p = der;
    if (n > 0 && (ASN1_get_object(&p, &len, &tag, &cls, n) & 0x80) == 0 && (size_t)len * 2 < size) {
        static const char digits[] = "0123456789ABCDEF";
        long i;

        for (i = 0; i < len; i++) {
            out[2 * i] = digits[p[i] >> 4];
            out[2 * i + 1] = digits[p[i] & 15];
        }
        out[2 * len] = '\0';
    }
    OPENSSL_free(der);
}

static int check_reply(struct scep_msg *m, const struct load_target *t,
                       const struct load_identity *id, const char *txid, const unsigned char *nonce,
                       struct load_timing *tm, char *err, size_t errlen)
{
    const unsigned char *rn;
    const char *ft;
    STACK_OF(X509) *certs;
    int rc, i, st;

    if (scep_msg_type(m) != SCEP_MSG_CERTREP) {
        snprintf(err, errlen, "reply is %s, not CertRep", scep_msg_type_name(scep_msg_type(m)));
        return SCEP_ERR_MSG_TYPE;
    }
    rc = scep_msg_verify(m, t->ca_signer);
    if (rc != 0) {
        snprintf(err, errlen, "CertRep signature: %s", scep_strerror(rc));
        return rc;
    }
    if (strcmp(scep_msg_get0_transaction_id(m), txid) != 0) {
        snprintf(err, errlen, "CertRep transactionID differs from the request's");
        return SCEP_ERR_TRANSID;
    }
    rn = scep_msg_get0_recipient_nonce(m);
    if (rn == NULL || memcmp(rn, nonce, SCEP_NONCE_LEN) != 0) {
        snprintf(err, errlen, "CertRep recipientNonce is not our senderNonce");
        return SCEP_ERR_NONCE;
    }
    st = scep_msg_status(m);
    if (st != SCEP_STATUS_SUCCESS) {
        ft = scep_msg_get0_fail_text(m);
        snprintf(err, errlen, "CertRep %s, failInfo %s%s%s",
                 st == SCEP_STATUS_PENDING ? "PENDING" : "FAILURE",
                 scep_fail_info_name(scep_msg_fail_info(m)), ft != NULL ? ": " : "",
                 ft != NULL ? ft : "");
        return st == SCEP_STATUS_PENDING ? SCEP_ERR_PENDING : SCEP_ERR_FAILURE;
    }
    rc = scep_msg_decrypt(m, id->cert, id->key);
    if (rc != 0) {
        snprintf(err, errlen, "CertRep envelope: %s", scep_strerror(rc));
        return rc;
    }
    certs = scep_msg_get0_certs(m);
    for (i = 0; i < sk_X509_num(certs); i++) {
        if (EVP_PKEY_eq(X509_get0_pubkey(sk_X509_value(certs, i)), id->key) == 1) {
            serial_of(sk_X509_value(certs, i), tm->serial, sizeof(tm->serial));
            return 0;
        }
    }
    snprintf(err, errlen, "CertRep SUCCESS holds no certificate for our key");
    return SCEP_ERR_CONTENT;
}

/*
 * One enrollment; see load.h.
 */
int load_enroll_once(CURL *h, const struct load_target *t, const struct load_identity *id,
                     unsigned long run, long seq, struct load_timing *tm, char *err, size_t errlen)
{
    struct scep_msg_spec spec;
    struct load_http_reply r = {0};
    struct scep_msg *m = NULL;
    X509_REQ *csr = NULL;
    unsigned char *der = NULL, rnd[16], nonce[SCEP_NONCE_LEN];
    size_t der_len = 0;
    char cn[96], txid[2 * sizeof(rnd) + 1], url[2048];
    double t0, t1, t2;
    int rc = SCEP_ERR_INTERNAL;

    t0 = load_now();
    tm->http_status = 0;
    tm->serial[0] = '\0';
    if ((size_t)snprintf(url, sizeof(url), "%s?operation=PKIOperation", t->url) >= sizeof(url)) {
        rc = SCEP_ERR_INVALID_ARG;
        snprintf(err, errlen, "URL too long");
        goto out;
    }
    if (RAND_bytes(rnd, sizeof(rnd)) != 1 || RAND_bytes(nonce, sizeof(nonce)) != 1) {
        snprintf(err, errlen, "RAND_bytes failed");
        goto out;
    }
    /* A random transactionID: the key is reused across a worker's
     * requests, so the usual hash of the key would make every request
     * after the first a resend of the first (RFC 8894 3.2.1.1). */
    hex(rnd, sizeof(rnd), txid);
    snprintf(cn, sizeof(cn), "scep-load-%lx-%d-%ld", run, id->thread, seq);
    csr = make_csr(id->key, cn, t->challenge, t->md);
    if (csr == NULL) {
        snprintf(err, errlen, "building the CSR failed");
        goto out;
    }
    memset(&spec, 0, sizeof(spec));
    spec.type = SCEP_MSG_PKCSREQ;
    spec.transaction_id = txid;
    spec.sender_nonce = nonce;
    spec.signer_cert = id->cert;
    spec.signer_key = id->key;
    spec.md = t->md;
    spec.recipients = t->rcpt;
    spec.cipher = t->cipher;
    spec.key_transport = SCEP_KT_RSA_PKCS1;
    spec.csr = csr;
    rc = scep_msg_build(&spec, &der, &der_len);
    if (rc != 0) {
        snprintf(err, errlen, "scep_msg_build: %s", scep_strerror(rc));
        goto out;
    }
    t1 = load_now();
    rc = load_http_exchange(h, url, der, der_len, &r, err, errlen);
    if (rc != 0)
        goto out;
    t2 = load_now();
    tm->http_status = r.status;
    rc = SCEP_ERR_HTTP;
    if (r.status != 200 || r.len == 0) {
        snprintf(err, errlen, "PKIOperation: HTTP %ld, %zu bytes", r.status, r.len);
        goto out;
    }
    rc = scep_msg_decode(r.body, r.len, &m);
    if (rc != 0) {
        snprintf(err, errlen, "CertRep: %s", scep_strerror(rc));
        goto out;
    }
    rc = check_reply(m, t, id, txid, nonce, tm, err, errlen);
    if (rc != 0)
        goto out;
    tm->round_trip = t2 - t1;
    tm->reply_cipher = scep_msg_cipher_nid(m);
    tm->total = load_now() - t0;
    rc = 0;
out:
    scep_msg_free(m);
    load_http_reply_clear(&r);
    scep_free(der);
    X509_REQ_free(csr);
    return rc;
}
