/*
 * PKIOperation exchanges of the libscep client: PKCSReq, RenewalReq,
 * CertPoll, GetCert and GetCRL (RFC 8894 3.3), and the transaction object
 * that remembers who asked so that a PENDING request can be polled.
 *
 * Every exchange goes the same way: build the pkiMessage with a fresh
 * senderNonce (message layer), send it (client.c), then refuse the
 * CertRep unless it is a CertRep, signed by the CA/RA signing
 * certificate, for our transactionID, and echoing our senderNonce as its
 * recipientNonce (3.2.1.5) -- all before looking at pkiStatus, so that a
 * forged FAILURE or PENDING cannot steer the client either.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <scep/client.h>
#include <scep/error.h>
#include <scep/limits.h>
#include <scep/message.h>

#include "client_int.h"

struct scep_txn {
    int type; /* SCEP_MSG_PKCSREQ or SCEP_MSG_RENEWALREQ */
    char id[SCEP_MAX_TRANSID + 1];
    X509_REQ *csr;
    X509 *signer; /* self-signed (PKCSReq) or current cert */
    EVP_PKEY *signer_key;
};

/* Hex SHA-256 over the DER public key of csr, followed by extra (the
 * current certificate for a renewal) when given. */
static int make_txid(X509_REQ *csr, X509 *extra, char out[SCEP_MAX_TRANSID + 1])
{
    EVP_MD_CTX *md = NULL;
    unsigned char *spki = NULL, *xder = NULL;
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int hl = 0, i;
    int n, xn = 0;
    int rc = SCEP_ERR_INTERNAL;

    n = i2d_PUBKEY(X509_REQ_get0_pubkey(csr), &spki);
    if (n <= 0)
        goto out;
    if (extra != NULL && (xn = i2d_X509(extra, &xder)) <= 0)
        goto out;
    md = EVP_MD_CTX_new();
    if (md == NULL || !EVP_DigestInit_ex(md, EVP_sha256(), NULL) ||
        !EVP_DigestUpdate(md, spki, (size_t)n) ||
        (xder != NULL && !EVP_DigestUpdate(md, xder, (size_t)xn)) ||
        !EVP_DigestFinal_ex(md, h, &hl))
        goto out;
    for (i = 0; i < hl && 2 * i + 2 <= SCEP_MAX_TRANSID; i++)
        snprintf(out + 2 * i, 3, "%02X", h[i]);
    rc = 0;
out:
    EVP_MD_CTX_free(md);
    OPENSSL_free(spki);
    OPENSSL_free(xder);
    return rc;
}

/* The transient self-signed certificate a PKCSReq is signed with (RFC
 * 8894 2.3): the CSR's subject and key, a random serial, valid for a day
 * around now.  The CertRep comes back encrypted to it. */
static int make_self_signed(X509_REQ *csr, EVP_PKEY *key, X509 **out)
{
    X509 *x = NULL;
    ASN1_INTEGER *serial = NULL;
    BIGNUM *bn = NULL;
    int rc = SCEP_ERR_INTERNAL;

    x = X509_new();
    bn = BN_new();
    if (x == NULL || bn == NULL) {
        rc = SCEP_ERR_NOMEM;
        goto out;
    }
    /* 63 random bits with the top bit clear keeps the INTEGER positive. */
    if (!BN_rand(bn, 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
        (serial = BN_to_ASN1_INTEGER(bn, NULL)) == NULL)
        goto out;
    if (!X509_set_version(x, X509_VERSION_3) || !X509_set_serialNumber(x, serial) ||
        !X509_set_subject_name(x, X509_REQ_get_subject_name(csr)) ||
        !X509_set_issuer_name(x, X509_REQ_get_subject_name(csr)) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600) || !X509_set_pubkey(x, key) ||
        !X509_sign(x, key, EVP_sha256()))
        goto out;
    *out = x;
    x = NULL;
    rc = 0;
out:
    X509_free(x);
    ASN1_INTEGER_free(serial);
    BN_free(bn);
    return rc;
}

/* A PKCSReq transaction (see client.h).  Free with scep_txn_free(). */
int scep_txn_new_enroll(EVP_PKEY *key, X509_REQ *csr, struct scep_txn **out)
{
    struct scep_txn *t = NULL;
    int rc = SCEP_ERR_INVALID_ARG;

    if (key == NULL || csr == NULL || out == NULL)
        goto out;
    if (X509_REQ_get0_pubkey(csr) == NULL || EVP_PKEY_eq(key, X509_REQ_get0_pubkey(csr)) != 1) {
        rc = SCEP_ERR_KEY; /* the CSR must be for this key */
        goto out;
    }
    rc = SCEP_ERR_NOMEM;
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        goto out;
    t->type = SCEP_MSG_PKCSREQ;
    rc = make_txid(csr, NULL, t->id);
    if (rc != 0)
        goto out;
    rc = make_self_signed(csr, key, &t->signer);
    if (rc != 0)
        goto out;
    /* OpenSSL 3.0 has no X509_REQ_up_ref(): keep a copy. */
    t->csr = X509_REQ_dup(csr);
    if (t->csr == NULL || !EVP_PKEY_up_ref(key)) {
        rc = SCEP_ERR_INTERNAL;
        goto out;
    }
    t->signer_key = key;
    *out = t;
    t = NULL;
    rc = 0;
out:
    scep_txn_free(t);
    return rc;
}

/* A RenewalReq transaction (see client.h).  Free with scep_txn_free(). */
int scep_txn_new_renew(X509_REQ *csr, X509 *cur_cert, EVP_PKEY *cur_key, struct scep_txn **out)
{
    struct scep_txn *t = NULL;
    int rc = SCEP_ERR_INVALID_ARG;

    if (csr == NULL || cur_cert == NULL || cur_key == NULL || out == NULL)
        goto out;
    if (X509_check_private_key(cur_cert, cur_key) != 1) {
        rc = SCEP_ERR_KEY;
        goto out;
    }
    rc = SCEP_ERR_NOMEM;
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        goto out;
    t->type = SCEP_MSG_RENEWALREQ;
    rc = make_txid(csr, cur_cert, t->id);
    if (rc != 0)
        goto out;
    t->csr = X509_REQ_dup(csr);
    if (t->csr == NULL || !X509_up_ref(cur_cert)) {
        rc = SCEP_ERR_INTERNAL;
        goto out;
    }
    t->signer = cur_cert;
    if (!EVP_PKEY_up_ref(cur_key)) {
        rc = SCEP_ERR_INTERNAL;
        goto out;
    }
    t->signer_key = cur_key;
    *out = t;
    t = NULL;
    rc = 0;
out:
    scep_txn_free(t);
    return rc;
}

/* Replaces the transactionID with a printable string of bounded length. */
int scep_txn_set_transaction_id(struct scep_txn *t, const char *id)
{
    size_t n, i;

    if (t == NULL || id == NULL)
        return SCEP_ERR_INVALID_ARG;
    n = strlen(id);
    if (n == 0 || n > SCEP_MAX_TRANSID)
        return SCEP_ERR_TRANSID;
    for (i = 0; i < n; i++)
        if (id[i] < 0x20 || id[i] > 0x7e)
            return SCEP_ERR_TRANSID;
    memcpy(t->id, id, n + 1);
    return 0;
}

/* Borrowed transactionID. */
const char *scep_txn_get0_transaction_id(const struct scep_txn *t)
{
    return t ? t->id : NULL;
}

/* Frees a transaction.  Accepts NULL. */
void scep_txn_free(struct scep_txn *t)
{
    if (t == NULL)
        return;
    X509_REQ_free(t->csr);
    X509_free(t->signer);
    EVP_PKEY_free(t->signer_key);
    free(t);
}

/* What one exchange sends besides its signer. */
struct op {
    int type;
    X509_REQ *csr;
    X509_NAME *issuer;
    X509_NAME *subject;
    const ASN1_INTEGER *serial;
};

static void record_failure(struct scep_client *c, const struct scep_msg *m)
{
    const char *text = scep_msg_get0_fail_text(m);

    c->fail_info = scep_msg_fail_info(m);
    free(c->fail_text);
    c->fail_text = NULL;
    if (text != NULL)
        c->fail_text = strndup(text, SCEP_MAX_FAIL_TEXT);
    client_set_error(c, "the server refused the request: %s%s%s", scep_fail_info_name(c->fail_info),
                     text ? ": " : "", text ? text : "");
}

/*
 * Runs one exchange signed by signer/skey with transactionID id.  Returns
 * 0 with *reply holding a verified, decrypted CertRep SUCCESS, or
 * SCEP_ERR_PENDING / SCEP_ERR_FAILURE / another SCEP_ERR_*.
 */
static int exchange(struct scep_client *c, const struct op *op, const char *id, X509 *signer,
                    EVP_PKEY *skey, struct scep_msg **reply)
{
    struct scep_msg_spec spec;
    STACK_OF(X509) *rcpts = NULL;
    const EVP_CIPHER *cipher = NULL;
    const EVP_MD *md = NULL;
    unsigned char nonce[SCEP_NONCE_LEN];
    unsigned char *der = NULL, *body = NULL;
    size_t len = 0, blen = 0;
    struct scep_msg *m = NULL;
    const unsigned char *rn;
    const char *rid;
    int rc;

    c->error[0] = '\0';
    c->fail_info = -1;
    rc = scep_client_fetch_ca(c);
    if (rc != 0)
        goto out;
    rc = scep_client_algorithms(c, &cipher, &md, NULL);
    if (rc != 0)
        goto out;
    rc = SCEP_ERR_NOMEM;
    if ((rcpts = sk_X509_new_null()) == NULL || !sk_X509_push(rcpts, c->enc))
        goto out;
    rc = SCEP_ERR_INTERNAL;
    if (RAND_bytes(nonce, sizeof(nonce)) != 1)
        goto out;

    memset(&spec, 0, sizeof(spec));
    spec.type = op->type;
    spec.transaction_id = id;
    spec.sender_nonce = nonce;
    spec.signer_cert = signer;
    spec.signer_key = skey;
    spec.md = md;
    spec.recipients = rcpts;
    spec.cipher = cipher;
    spec.key_transport = SCEP_KT_RSA_PKCS1;
    spec.csr = op->csr;
    spec.issuer = op->issuer;
    spec.subject = op->subject;
    spec.serial = op->serial;
    rc = scep_msg_build(&spec, &der, &len);
    if (rc != 0) {
        client_set_error(c, "building the %s failed: %s", scep_msg_type_name(op->type),
                         scep_strerror(rc));
        goto out;
    }
    rc = client_pkioperation(c, der, len, &body, &blen);
    if (rc != 0)
        goto out;

    rc = scep_msg_decode(body, blen, &m);
    if (rc != 0) {
        client_set_error(c, "the server's answer is not a valid CertRep: %s", scep_strerror(rc));
        goto out;
    }
    if (scep_msg_type(m) != SCEP_MSG_CERTREP) {
        rc = SCEP_ERR_MSG_TYPE;
        client_set_error(c, "the server answered a %s, not a CertRep",
                         scep_msg_type_name(scep_msg_type(m)));
        goto out;
    }
    rc = scep_msg_verify(m, c->sign);
    if (rc != 0) {
        client_set_error(c, "the CertRep is not signed by the CA/RA signing certificate: %s",
                         scep_strerror(rc));
        goto out;
    }
    rid = scep_msg_get0_transaction_id(m);
    if (rid == NULL || strcmp(rid, id) != 0) {
        rc = SCEP_ERR_TRANSID;
        client_set_error(c, "the CertRep is for another transaction (RFC 8894 3.2.1.1)");
        goto out;
    }
    rn = scep_msg_get0_recipient_nonce(m);
    if (rn == NULL || CRYPTO_memcmp(rn, nonce, SCEP_NONCE_LEN) != 0) {
        rc = SCEP_ERR_NONCE;
        client_set_error(c, "the CertRep's recipientNonce is not our senderNonce: a replay? "
                            "(RFC 8894 3.2.1.5)");
        goto out;
    }
    switch (scep_msg_status(m)) {
    case SCEP_STATUS_SUCCESS:
        break;
    case SCEP_STATUS_PENDING:
        rc = SCEP_ERR_PENDING;
        client_set_error(c, "the request is pending approval");
        goto out;
    case SCEP_STATUS_FAILURE:
        rc = SCEP_ERR_FAILURE;
        record_failure(c, m);
        goto out;
    default:
        rc = SCEP_ERR_STATUS;
        client_set_error(c, "the CertRep has no valid pkiStatus");
        goto out;
    }
    rc = scep_msg_decrypt(m, signer, skey);
    if (rc != 0) {
        client_set_error(c, "the CertRep cannot be decrypted with our key: %s", scep_strerror(rc));
        goto out;
    }
    *reply = m;
    m = NULL;
    rc = 0;
out:
    scep_msg_free(m);
    scep_free(der);
    free(body);
    sk_X509_free(rcpts);
    return rc;
}

/*
 * Copies the CertRep's certificates with the one match() picks first.
 * *out: free with sk_X509_pop_free(.., X509_free).
 */
static int take_certs(struct scep_client *c, const struct scep_msg *m, EVP_PKEY *pub,
                      const ASN1_INTEGER *serial, STACK_OF(X509) **out)
{
    STACK_OF(X509) *got = scep_msg_get0_certs(m);
    STACK_OF(X509) *res = NULL;
    int i, leaf = -1;

    for (i = 0; i < sk_X509_num(got) && leaf < 0; i++) {
        X509 *x = sk_X509_value(got, i);

        if (pub != NULL && EVP_PKEY_eq(X509_get0_pubkey(x), pub) == 1)
            leaf = i;
        if (serial != NULL && ASN1_INTEGER_cmp(X509_get0_serialNumber(x), serial) == 0)
            leaf = i;
    }
    if (leaf < 0) {
        client_set_error(c, "the CertRep holds no certificate for our %s",
                         pub ? "key" : "serial number");
        return SCEP_ERR_CONTENT;
    }
    res = sk_X509_new_null();
    if (res == NULL)
        return SCEP_ERR_NOMEM;
    for (i = -1; i < sk_X509_num(got); i++) {
        X509 *x = sk_X509_value(got, i < 0 ? leaf : i);

        if (i == leaf)
            continue;
        if (!X509_up_ref(x))
            goto fail;
        if (!sk_X509_push(res, x)) {
            X509_free(x);
            goto fail;
        }
    }
    *out = res;
    return 0;
fail:
    sk_X509_pop_free(res, X509_free);
    return SCEP_ERR_NOMEM;
}

/* PKCSReq or RenewalReq for t (see client.h). */
int scep_client_enroll(struct scep_client *c, struct scep_txn *t, STACK_OF(X509) **certs)
{
    struct scep_msg *m = NULL;
    struct op op = {0};
    int rc;

    if (c == NULL || t == NULL || certs == NULL)
        return SCEP_ERR_INVALID_ARG;
    op.type = t->type;
    op.csr = t->csr;
    rc = exchange(c, &op, t->id, t->signer, t->signer_key, &m);
    if (rc == 0)
        rc = take_certs(c, m, X509_REQ_get0_pubkey(t->csr), NULL, certs);
    scep_msg_free(m);
    return rc;
}

/* CertPoll with IssuerAndSubject for t (see client.h). */
int scep_client_poll(struct scep_client *c, struct scep_txn *t, STACK_OF(X509) **certs)
{
    struct scep_msg *m = NULL;
    struct op op = {0};
    int rc;

    if (c == NULL || t == NULL || certs == NULL)
        return SCEP_ERR_INVALID_ARG;
    rc = scep_client_fetch_ca(c);
    if (rc != 0)
        return rc;
    op.type = SCEP_MSG_CERTPOLL;
    op.issuer = X509_get_subject_name(c->ca);
    op.subject = X509_REQ_get_subject_name(t->csr);
    rc = exchange(c, &op, t->id, t->signer, t->signer_key, &m);
    if (rc == 0)
        rc = take_certs(c, m, X509_REQ_get0_pubkey(t->csr), NULL, certs);
    scep_msg_free(m);
    return rc;
}

/* A transactionID for GetCert/GetCRL: random, as they start nothing the
 * server has to find again. */
static int random_txid(char out[SCEP_MAX_TRANSID + 1])
{
    unsigned char r[16];
    size_t i;

    if (RAND_bytes(r, sizeof(r)) != 1)
        return SCEP_ERR_INTERNAL;
    for (i = 0; i < sizeof(r); i++)
        snprintf(out + 2 * i, 3, "%02X", r[i]);
    return 0;
}

/* GetCert (see client.h).  *out: free with X509_free(). */
int scep_client_get_cert(struct scep_client *c, X509 *signer_cert, EVP_PKEY *key,
                         const ASN1_INTEGER *serial, X509 **out)
{
    struct scep_msg *m = NULL;
    STACK_OF(X509) *certs = NULL;
    struct op op = {0};
    char id[SCEP_MAX_TRANSID + 1];
    int rc;

    if (c == NULL || signer_cert == NULL || key == NULL || serial == NULL || out == NULL)
        return SCEP_ERR_INVALID_ARG;
    rc = scep_client_fetch_ca(c);
    if (rc != 0)
        goto out;
    rc = random_txid(id);
    if (rc != 0)
        goto out;
    op.type = SCEP_MSG_GETCERT;
    op.issuer = X509_get_subject_name(c->ca);
    op.serial = serial;
    rc = exchange(c, &op, id, signer_cert, key, &m);
    if (rc != 0)
        goto out;
    rc = take_certs(c, m, NULL, serial, &certs);
    if (rc != 0)
        goto out;
    *out = sk_X509_shift(certs);
    rc = 0;
out:
    sk_X509_pop_free(certs, X509_free);
    scep_msg_free(m);
    return rc;
}

/* GetCRL (see client.h).  *out: free with X509_CRL_free(). */
int scep_client_get_crl(struct scep_client *c, X509 *cert, EVP_PKEY *key, X509_CRL **out)
{
    struct scep_msg *m = NULL;
    STACK_OF(X509_CRL) *crls;
    X509_CRL *crl;
    struct op op = {0};
    char id[SCEP_MAX_TRANSID + 1];
    int rc;

    if (c == NULL || cert == NULL || key == NULL || out == NULL)
        return SCEP_ERR_INVALID_ARG;
    rc = random_txid(id);
    if (rc != 0)
        goto out;
    op.type = SCEP_MSG_GETCRL;
    op.issuer = X509_get_issuer_name(cert);
    op.serial = X509_get0_serialNumber(cert);
    rc = exchange(c, &op, id, cert, key, &m);
    if (rc != 0)
        goto out;
    crls = scep_msg_get0_crls(m);
    if (sk_X509_CRL_num(crls) < 1) {
        rc = SCEP_ERR_CONTENT;
        client_set_error(c, "the CertRep to GetCRL holds no CRL");
        goto out;
    }
    crl = sk_X509_CRL_value(crls, 0);
    if (!X509_CRL_up_ref(crl)) {
        rc = SCEP_ERR_INTERNAL;
        goto out;
    }
    *out = crl;
    rc = 0;
out:
    scep_msg_free(m);
    return rc;
}
