/*
 * hostile_gen (see hostile.h): the commands, the building of messages,
 * and the cases that break a message rather than its request: the
 * envelope (single DES, truncated, to another recipient, a corrupted
 * encrypted key, garbage or a huge length inside it), the signature
 * (flipped, a signer certificate not matching the signing key, an EC
 * signer, eContentType not id-data), hostile BER around the message
 * (indefinite lengths, deep nesting, trailing bytes, huge lengths) and
 * renewals signed by certificates the CA must not honour.
 *
 *   hostile_gen cases DIR RCPT CA CAKEY CHALLENGE   every case: DIR/NAME.der,
 *                                                   names on stdout
 *   hostile_gen enroll DIR NAME RCPT CHALLENGE      a sound PKCSReq: NAME.der,
 *                                                   NAME.key, NAME.signer
 *   hostile_gen renew DIR NAME RCPT CERT KEY        a RenewalReq signed by CERT
 *   hostile_gen answer REQ REPLY SIGCERT [SIGNER KEY OUT]
 *       checks a CertRep (signed by SIGCERT, the request's transactionID
 *       and nonce) and prints "FAILURE failInfo text", "PENDING" or
 *       "SUCCESS"; a SUCCESS is decrypted with SIGNER/KEY into OUT (PEM).
 *
 * Certificates are read as PEM or DER, keys as PEM.  Exit status 0, or 2
 * with a message when something the tool needs fails.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include <scep/error.h>
#include <scep/message.h>

#include "msg/msg_internal.h"
#include "hostile.h"

void hg_die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("hostile_gen: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    ERR_print_errors_fp(stderr);
    exit(2);
}

/* The whole file at path; *len set; free(). */
static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL, *nb;
    size_t n = 0, cap = 0, r;

    if (f == NULL)
        hg_die("cannot open %s", path);
    for (;;) {
        if (n == cap) {
            cap = cap != 0 ? cap * 2 : 8192;
            if ((nb = realloc(buf, cap)) == NULL)
                hg_die("out of memory reading %s", path);
            buf = nb;
        }
        if ((r = fread(buf + n, 1, cap - n, f)) == 0)
            break;
        n += r;
    }
    if (ferror(f))
        hg_die("cannot read %s", path);
    fclose(f);
    *len = n;
    return buf;
}

static X509 *load_cert(const char *path)
{
    size_t len;
    unsigned char *d = read_file(path, &len);
    const unsigned char *p = d;
    BIO *b = BIO_new_mem_buf(d, (int)len);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);

    if (x == NULL)
        x = d2i_X509(NULL, &p, (long)len);
    if (x == NULL)
        hg_die("%s is not a certificate", path);
    ERR_clear_error();
    BIO_free(b);
    free(d);
    return x;
}

static EVP_PKEY *load_key(const char *path)
{
    FILE *f = fopen(path, "r");
    EVP_PKEY *k = f != NULL ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;

    if (k == NULL)
        hg_die("%s is not a PEM private key", path);
    fclose(f);
    return k;
}

void hg_write(struct hg *g, const char *name, const char *ext, const unsigned char *d, size_t len)
{
    char path[1024];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s.%s", g->dir, name, ext);
    if ((f = fopen(path, "wb")) == NULL || fwrite(d, 1, len, f) != len || fclose(f) != 0)
        hg_die("cannot write %s", path);
    if (strcmp(ext, "der") == 0) {
        printf("%s\n", name);
        g->written++;
    }
}

static void write_pem(struct hg *g, const char *name, const char *ext, X509 *x, EVP_PKEY *k)
{
    char path[1024];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s.%s", g->dir, name, ext);
    if ((f = fopen(path, "w")) == NULL ||
        (x != NULL ? !PEM_write_X509(f, x)
                   : !PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL)) ||
        fclose(f) != 0)
        hg_die("cannot write %s", path);
}

X509 *hg_cert(EVP_PKEY *key, const char *cn, long from, long to, X509 *issuer, EVP_PKEY *issuer_key,
              int ca)
{
    X509 *x = X509_new();
    X509V3_CTX v3;
    X509_EXTENSION *ext;
    unsigned char sn[12];
    BIGNUM *bn = NULL;

    if (x == NULL || RAND_bytes(sn, sizeof(sn)) != 1)
        hg_die("cannot make a certificate");
    sn[0] &= 0x7f;
    sn[0] |= 0x10;
    if ((bn = BN_bin2bn(sn, sizeof(sn), NULL)) == NULL ||
        BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL ||
        !X509_set_version(x, X509_VERSION_3) ||
        !X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8,
                                    (const unsigned char *)cn, -1, -1, 0) ||
        !X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer)
                                                : X509_get_subject_name(x)) ||
        X509_time_adj_ex(X509_getm_notBefore(x), from, 0, NULL) == NULL ||
        X509_time_adj_ex(X509_getm_notAfter(x), to, 0, NULL) == NULL || !X509_set_pubkey(x, key))
        hg_die("cannot make a certificate");
    X509V3_set_ctx(&v3, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
                              ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    if (ext == NULL || !X509_add_ext(x, ext, -1))
        hg_die("cannot make a certificate");
    X509_EXTENSION_free(ext);
    if (X509_sign(x, issuer_key != NULL ? issuer_key : key, EVP_sha256()) <= 0)
        hg_die("cannot sign a certificate");
    BN_free(bn);
    return x;
}

/* Flips one bit in the middle of s. */
static void flip(ASN1_STRING *s)
{
    int n = ASN1_STRING_length(s);

    if (n < 2)
        hg_die("nothing to flip");
    /* get0_data is const only by convention: s is ours to change */
    ((unsigned char *)ASN1_STRING_get0_data(s))[n / 2] ^= 0x01;
}

/* Breaks the EnvelopedData env as how says, in place or by length. */
static void break_envelope(int how, unsigned char **env, size_t *len)
{
    PKCS7 *p7;
    const unsigned char *p = *env;
    unsigned char *out = NULL;
    int n;

    if (how == HG_ENV_TRUNCATED) {
        *len /= 2;
        return;
    }
    /* The EnvelopedData is the same ASN.1 in PKCS#7, whose structures
     * OpenSSL leaves open: the RecipientInfo's encryptedKey is reachable
     * there and not through the CMS API. */
    p7 = d2i_PKCS7(NULL, &p, (long)*len);
    if (p7 == NULL || !PKCS7_type_is_enveloped(p7) ||
        sk_PKCS7_RECIP_INFO_num(p7->d.enveloped->recipientinfo) != 1)
        hg_die("cannot read the envelope back");
    flip(sk_PKCS7_RECIP_INFO_value(p7->d.enveloped->recipientinfo, 0)->enc_key);
    if ((n = i2d_PKCS7(p7, &out)) <= 0)
        hg_die("cannot encode the envelope");
    OPENSSL_free(*env);
    *env = out;
    *len = (size_t)n;
    PKCS7_free(p7);
}

void hg_build(struct hg *g, const char *name, const struct hg_req *q, unsigned char **der,
              size_t *len)
{
    struct scep_msg_spec s;
    STACK_OF(X509) *rcpts = sk_X509_new_null();
    CMS_ContentInfo *cms = NULL;
    CMS_SignerInfo *si = NULL;
    unsigned char nonce[SCEP_NONCE_LEN], *plain = NULL, *env = NULL;
    size_t plain_len = 0, env_len = 0;
    char tid[96];
    int rc, n;

    snprintf(tid, sizeof(tid), "hostile-%s", name);
    if (rcpts == NULL || sk_X509_push(rcpts, q->rcpt != NULL ? q->rcpt : g->rcpt) <= 0)
        hg_die("out of memory");
    memset(&s, 0, sizeof(s));
    s.type = q->type != 0 ? q->type : SCEP_MSG_PKCSREQ;
    s.transaction_id = tid;
    s.signer_cert = q->signer != NULL ? q->signer : g->signer;
    s.signer_key = q->signer_key != NULL ? q->signer_key : g->signer_key;
    s.recipients = rcpts;
    s.cipher = q->cipher;
    s.key_transport = SCEP_KT_RSA_PKCS1;
    s.csr = q->csr;
    if (q->plain == NULL && q->envelope == HG_ENV_OK) {
        /* The common path: libscep's builder, as scepc uses it. */
        if ((rc = scep_msg_build(&s, der, len)) != 0)
            hg_die("%s: scep_msg_build: %s", name, scep_strerror(rc));
        sk_X509_free(rcpts);
        return;
    }
    /* The steps of scep_msg_build with the messageData or the envelope
     * in between swapped for the hostile one. */
    if (q->plain != NULL) {
        plain = OPENSSL_memdup(q->plain, q->plain_len);
        plain_len = q->plain_len;
    } else if ((n = i2d_X509_REQ(q->csr, &plain)) > 0) {
        plain_len = (size_t)n;
    }
    if (plain == NULL)
        hg_die("%s: no messageData", name);
    if ((rc = msg_envelope_build(plain, plain_len, rcpts, q->cipher, SCEP_KT_RSA_PKCS1, &env,
                                 &env_len)) != 0)
        hg_die("%s: envelope: %s", name, scep_strerror(rc));
    if (q->envelope != HG_ENV_OK)
        break_envelope(q->envelope, &env, &env_len);
    if (RAND_bytes(nonce, sizeof(nonce)) != 1 ||
        (rc = msg_signed_start(s.signer_cert, s.signer_key, NULL, NULL, &cms, &si)) != 0 ||
        (rc = msg_attrs_write(si, &s, nonce)) != 0 ||
        (rc = msg_signed_finish(cms, env, env_len, 0, der, len)) != 0)
        hg_die("%s: signing: %s", name, scep_strerror(rc));
    CMS_ContentInfo_free(cms);
    OPENSSL_free(plain);
    OPENSSL_free(env);
    sk_X509_free(rcpts);
}

void hg_case(struct hg *g, const char *name, const struct hg_req *q)
{
    unsigned char *der = NULL;
    size_t len = 0;

    hg_build(g, name, q, &der, &len);
    hg_write(g, name, "der", der, len);
    OPENSSL_free(der);
}

/* The message der decoded as CMS (CMS_ContentInfo_free). */
static CMS_ContentInfo *cms_of(const unsigned char *der, size_t len)
{
    const unsigned char *p = der;
    CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);

    if (cms == NULL)
        hg_die("cannot decode our own message");
    return cms;
}

/* Encodes cms and writes it as case name. */
static void write_cms(struct hg *g, const char *name, CMS_ContentInfo *cms)
{
    unsigned char *der = NULL;
    int n = i2d_CMS_ContentInfo(cms, &der);

    if (n <= 0)
        hg_die("%s: cannot encode", name);
    hg_write(g, name, "der", der, (size_t)n);
    OPENSSL_free(der);
}

/* A sound request (the good key, CN=cn) as q's CSR. */
static X509_REQ *good_csr(struct hg *g, struct hg_req *q, const char *cn)
{
    memset(q, 0, sizeof(*q));
    q->csr = hg_csr(g, g->key, NULL, cn, NULL, X509_REQ_VERSION_1, NULL);
    return q->csr;
}

static void envelope_cases(struct hg *g)
{
    struct hg_req q;
    EVP_PKEY *other = EVP_RSA_gen(2048);
    X509 *stranger;
    unsigned char *der = NULL;
    int n;

    if (other == NULL)
        hg_die("no RSA key");
    stranger = hg_cert(other, "not the CA", -1, 30, NULL, NULL, 1);
    good_csr(g, &q, "hostile des");
    q.cipher = EVP_des_cbc();
    hg_case(g, "env-single-des", &q);
    q.cipher = NULL;
    q.envelope = HG_ENV_TRUNCATED;
    hg_case(g, "env-truncated", &q);
    q.envelope = HG_ENV_BAD_KEY;
    hg_case(g, "env-corrupt-key", &q);
    q.envelope = HG_ENV_OK;
    q.rcpt = stranger;
    hg_case(g, "env-wrong-recipient", &q);
    q.rcpt = NULL;
    /* BER inside the envelope: a CSR with bytes after it, and one whose
     * outer length claims 2^31 - 1 */
    if ((n = i2d_X509_REQ(q.csr, &der)) <= 0)
        hg_die("cannot encode a CSR");
    X509_REQ_free(q.csr);
    q.csr = NULL;
    {
        unsigned char *tail = OPENSSL_malloc((size_t)n + 8), *huge, *w;
        const unsigned char *p = der;
        long body;
        int tag, cls, hdr;

        if (tail == NULL)
            hg_die("out of memory");
        memcpy(tail, der, (size_t)n);
        memcpy(tail + n, "GARBAGE!", 8);
        q.plain = tail;
        q.plain_len = (size_t)n + 8;
        hg_case(g, "env-csr-trailing-bytes", &q);
        if (ASN1_get_object(&p, &body, &tag, &cls, n) & 0x80)
            hg_die("cannot read our own CSR");
        hdr = (int)(p - der);
        if ((huge = OPENSSL_malloc((size_t)n + 16)) == NULL)
            hg_die("out of memory");
        w = huge;
        ASN1_put_object(&w, 1, 0x7fffffff, tag, cls);
        memcpy(w, der + hdr, (size_t)(n - hdr));
        w += n - hdr;
        q.plain = huge;
        q.plain_len = (size_t)(w - huge);
        hg_case(g, "env-csr-huge-length", &q);
        OPENSSL_free(tail);
        OPENSSL_free(huge);
    }
    OPENSSL_free(der);
    X509_free(stranger);
    EVP_PKEY_free(other);
}

static void signature_cases(struct hg *g)
{
    struct hg_req q;
    CMS_ContentInfo *cms;
    STACK_OF(X509) *certs;
    EVP_PKEY *other = EVP_RSA_gen(2048), *ec = EVP_EC_gen("P-256");
    X509 *ec_signer;
    unsigned char *der = NULL;
    size_t len = 0;

    if (other == NULL || ec == NULL)
        hg_die("no keys");
    good_csr(g, &q, "hostile sig");
    hg_build(g, "sig-flipped", &q, &der, &len);
    cms = cms_of(der, len);
    flip(CMS_SignerInfo_get0_signature(sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0)));
    write_cms(g, "sig-flipped", cms);
    CMS_ContentInfo_free(cms);
    OPENSSL_free(der);

    /* The included signer certificate, issuer and serial unchanged (so
     * the SignerInfo still names it), made to certify another key: its
     * object is the one inside cms, so changing it changes the message. */
    hg_build(g, "sig-cert-other-key", &q, &der, &len);
    cms = cms_of(der, len);
    certs = CMS_get1_certs(cms);
    if (sk_X509_num(certs) != 1 || !X509_set_pubkey(sk_X509_value(certs, 0), other) ||
        X509_sign(sk_X509_value(certs, 0), other, EVP_sha256()) <= 0)
        hg_die("cannot swap the signer's key");
    write_cms(g, "sig-cert-other-key", cms);
    sk_X509_pop_free(certs, X509_free);
    CMS_ContentInfo_free(cms);
    OPENSSL_free(der);

    /* RFC 8894 3.2: the signed content must be id-data */
    hg_build(g, "sig-econtent-enveloped", &q, &der, &len);
    cms = cms_of(der, len);
    if (!CMS_set1_eContentType(cms, OBJ_nid2obj(NID_pkcs7_enveloped)))
        hg_die("cannot set eContentType");
    write_cms(g, "sig-econtent-enveloped", cms);
    CMS_ContentInfo_free(cms);
    OPENSSL_free(der);

    /* an EC signer: the SUCCESS could not be encrypted to it */
    ec_signer = hg_cert(ec, "hostile ec signer", -1, 30, NULL, NULL, 0);
    q.signer = ec_signer;
    q.signer_key = ec;
    hg_case(g, "sig-ec-signer", &q);
    X509_free(ec_signer);
    X509_REQ_free(q.csr);
    EVP_PKEY_free(other);
    EVP_PKEY_free(ec);
}

/* Copies the DER in (len bytes) with every constructed element in
 * indefinite-length form, through OpenSSL's tag and length functions.
 * Returns the bytes written at *out. */
static size_t to_indefinite(const unsigned char *in, long len, unsigned char **out, int depth)
{
    unsigned char *start = *out;

    if (depth > 64)
        hg_die("indefinite: too deep");
    while (len > 0) {
        const unsigned char *p = in;
        long body;
        int tag, cls, r = ASN1_get_object(&p, &body, &tag, &cls, len);
        long hdr = (long)(p - in);

        if ((r & 0x80) || r == 0x21)
            hg_die("indefinite: our own DER does not parse");
        if (r & V_ASN1_CONSTRUCTED) {
            ASN1_put_object(out, 2, 0, tag, cls);
            to_indefinite(p, body, out, depth + 1);
            ASN1_put_eoc(out);
        } else {
            memcpy(*out, in, (size_t)(hdr + body));
            *out += hdr + body;
        }
        in += hdr + body;
        len -= hdr + body;
    }
    return (size_t)(*out - start);
}

static void ber_cases(struct hg *g)
{
    struct hg_req q;
    unsigned char *der = NULL, *buf, *w;
    const unsigned char *p;
    size_t len = 0, n;
    long body;
    int i, tag, cls, hdr, depth = 4000;
    EVP_PKEY *weak = NULL;

    /* A message in indefinite-length BER (as Apple sends it) is decoded
     * like DER; what it holds must be refused just the same: here the
     * CSR of a 1024-bit key. */
    memset(&q, 0, sizeof(q));
    if ((weak = EVP_RSA_gen(1024)) == NULL)
        hg_die("no RSA-1024 key");
    q.csr = hg_csr(g, weak, NULL, "hostile ber", NULL, X509_REQ_VERSION_1, NULL);
    hg_build(g, "ber-indefinite", &q, &der, &len);
    if ((buf = OPENSSL_malloc(3 * len + 16)) == NULL)
        hg_die("out of memory");
    w = buf;
    n = to_indefinite(der, (long)len, &w, 0);
    hg_write(g, "ber-indefinite", "der", buf, n);
    OPENSSL_free(buf);

    /* the message inside 4000 nested indefinite SEQUENCEs */
    if ((buf = OPENSSL_malloc(len + (size_t)depth * 4)) == NULL)
        hg_die("out of memory");
    w = buf;
    for (i = 0; i < depth; i++)
        ASN1_put_object(&w, 2, 0, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
    memcpy(w, der, len);
    w += len;
    for (i = 0; i < depth; i++)
        ASN1_put_eoc(&w);
    hg_write(g, "ber-deep-nesting", "der", buf, (size_t)(w - buf));
    OPENSSL_free(buf);

    /* trailing garbage after the ContentInfo */
    if ((buf = OPENSSL_malloc(len + 32)) == NULL || RAND_bytes(buf + len, 32) != 1)
        hg_die("out of memory");
    memcpy(buf, der, len);
    hg_write(g, "ber-trailing-garbage", "der", buf, len + 32);
    OPENSSL_free(buf);

    /* the outer length 2^31 - 1, the same contents */
    p = der;
    if (ASN1_get_object(&p, &body, &tag, &cls, (long)len) & 0x80)
        hg_die("cannot read our own message");
    hdr = (int)(p - der);
    if ((buf = OPENSSL_malloc(len + 16)) == NULL)
        hg_die("out of memory");
    w = buf;
    ASN1_put_object(&w, 1, 0x7fffffff, tag, cls);
    memcpy(w, der + hdr, len - (size_t)hdr);
    w += len - (size_t)hdr;
    hg_write(g, "ber-huge-length", "der", buf, (size_t)(w - buf));
    OPENSSL_free(buf);
    OPENSSL_free(der);
    X509_REQ_free(q.csr);
    EVP_PKEY_free(weak);
}

/* A RenewalReq for a new key under cert's subject, signed by cert/key.
 * No challenge password: the signer certificate is all that may
 * authorise a renewal. */
static void renewal(struct hg *g, const char *name, X509 *cert, EVP_PKEY *key)
{
    struct hg_req q;
    EVP_PKEY *fresh = EVP_RSA_gen(2048);
    const char *challenge = g->challenge;

    if (fresh == NULL)
        hg_die("no RSA key");
    memset(&q, 0, sizeof(q));
    q.type = SCEP_MSG_RENEWALREQ;
    g->challenge = NULL;
    q.csr = hg_csr(g, fresh, NULL, NULL, X509_get_subject_name(cert), X509_REQ_VERSION_1, NULL);
    g->challenge = challenge;
    q.signer = cert;
    q.signer_key = key;
    hg_case(g, name, &q);
    X509_REQ_free(q.csr);
    EVP_PKEY_free(fresh);
}

static void renewal_cases(struct hg *g)
{
    EVP_PKEY *fca_key = EVP_RSA_gen(2048);
    X509 *fca, *foreign, *expired;

    if (fca_key == NULL)
        hg_die("no RSA key");
    /* a CA of our own making, with the real CA's name: only the
     * signature tells them apart */
    fca = hg_cert(fca_key, "foreign CA", -1, 365, NULL, NULL, 1);
    if (!X509_set_subject_name(fca, X509_get_subject_name(g->ca)) ||
        !X509_set_issuer_name(fca, X509_get_subject_name(g->ca)) ||
        X509_sign(fca, fca_key, EVP_sha256()) <= 0)
        hg_die("cannot rename the foreign CA");
    foreign = hg_cert(g->key, "hostile foreign", -1, 30, fca, fca_key, 0);
    renewal(g, "renew-foreign-ca", foreign, g->key);
    /* issued by the real CA key, expired yesterday */
    expired = hg_cert(g->key, "hostile expired", -30, -1, g->ca, g->ca_key, 0);
    renewal(g, "renew-expired", expired, g->key);
    X509_free(fca);
    X509_free(foreign);
    X509_free(expired);
    EVP_PKEY_free(fca_key);
}

/* Sets up g for building: the recipient, a good key and a signer. */
static void setup(struct hg *g, const char *dir, const char *rcpt)
{
    int rc;

    memset(g, 0, sizeof(*g));
    if ((rc = scep_init()) != 0)
        hg_die("scep_init: %s", scep_strerror(rc));
    g->dir = dir;
    g->rcpt = load_cert(rcpt);
    if ((g->key = EVP_RSA_gen(2048)) == NULL || (g->signer_key = EVP_RSA_gen(2048)) == NULL)
        hg_die("no RSA keys");
    g->signer = hg_cert(g->signer_key, "hostile signer", -1, 30, NULL, NULL, 0);
}

static void teardown(struct hg *g)
{
    X509_free(g->rcpt);
    X509_free(g->ca);
    EVP_PKEY_free(g->ca_key);
    EVP_PKEY_free(g->key);
    EVP_PKEY_free(g->signer_key);
    X509_free(g->signer);
}

static int cmd_cases(char **av)
{
    struct hg g;

    setup(&g, av[0], av[1]);
    g.ca = load_cert(av[2]);
    g.ca_key = load_key(av[3]);
    g.challenge = av[4];
    hg_csr_cases(&g);
    envelope_cases(&g);
    signature_cases(&g);
    ber_cases(&g);
    renewal_cases(&g);
    fprintf(stderr, "hostile_gen: %d cases in %s\n", g.written, g.dir);
    teardown(&g);
    return 0;
}

static int cmd_enroll(char **av)
{
    struct hg g;
    struct hg_req q;

    setup(&g, av[0], av[2]);
    g.challenge = av[3];
    memset(&q, 0, sizeof(q));
    q.csr = hg_csr(&g, g.signer_key, NULL, av[1], NULL, X509_REQ_VERSION_1, NULL);
    hg_case(&g, av[1], &q);
    write_pem(&g, av[1], "key", NULL, g.signer_key);
    write_pem(&g, av[1], "signer", g.signer, NULL);
    X509_REQ_free(q.csr);
    teardown(&g);
    return 0;
}

static int cmd_renew(char **av)
{
    struct hg g;
    X509 *cert;
    EVP_PKEY *key;

    setup(&g, av[0], av[2]);
    cert = load_cert(av[3]);
    key = load_key(av[4]);
    renewal(&g, av[1], cert, key);
    X509_free(cert);
    EVP_PKEY_free(key);
    teardown(&g);
    return 0;
}

/* answer REQ REPLY SIGCERT [SIGNER KEY OUT] */
static int cmd_answer(int ac, char **av)
{
    struct scep_msg *req = NULL, *rep = NULL;
    unsigned char *rb, *pb;
    size_t rlen, plen;
    X509 *sig;
    int rc;

    if ((rc = scep_init()) != 0)
        hg_die("scep_init: %s", scep_strerror(rc));
    rb = read_file(av[0], &rlen);
    pb = read_file(av[1], &plen);
    sig = load_cert(av[2]);
    if ((rc = scep_msg_decode(pb, plen, &rep)) != 0)
        hg_die("the answer is no pkiMessage: %s", scep_strerror(rc));
    if ((rc = scep_msg_verify(rep, sig)) != 0)
        hg_die("the answer is not signed by %s: %s", av[2], scep_strerror(rc));
    if (scep_msg_type(rep) != SCEP_MSG_CERTREP)
        hg_die("the answer is a %s", scep_msg_type_name(scep_msg_type(rep)));
    /* the request decodes unless the case broke its structure */
    if (scep_msg_decode(rb, rlen, &req) == 0) {
        if (strcmp(scep_msg_get0_transaction_id(req), scep_msg_get0_transaction_id(rep)) != 0)
            hg_die("transactionID %s answered as %s", scep_msg_get0_transaction_id(req),
                   scep_msg_get0_transaction_id(rep));
        if (scep_msg_get0_recipient_nonce(rep) == NULL ||
            memcmp(scep_msg_get0_recipient_nonce(rep), scep_msg_get0_sender_nonce(req),
                   SCEP_NONCE_LEN) != 0)
            hg_die("recipientNonce is not the request's senderNonce");
    }
    switch (scep_msg_status(rep)) {
    case SCEP_STATUS_FAILURE:
        printf("FAILURE %s %s\n", scep_fail_info_name(scep_msg_fail_info(rep)),
               scep_msg_get0_fail_text(rep) != NULL ? scep_msg_get0_fail_text(rep) : "");
        break;
    case SCEP_STATUS_PENDING:
        printf("PENDING\n");
        break;
    case SCEP_STATUS_SUCCESS: {
        X509 *signer, *leaf = NULL;
        EVP_PKEY *key;
        STACK_OF(X509) *certs;
        FILE *f;
        int i;

        if (ac < 6) {
            /* a refusal was expected: say what came instead */
            printf("SUCCESS (a certificate was issued)\n");
            break;
        }
        signer = load_cert(av[3]);
        key = load_key(av[4]);
        if ((rc = scep_msg_decrypt(rep, signer, key)) != 0)
            hg_die("cannot decrypt the SUCCESS: %s", scep_strerror(rc));
        certs = scep_msg_get0_certs(rep);
        /* the leaf is the one certificate that is not a CA's (the SET
         * OF in the SignedData is sorted, so not necessarily first) */
        for (i = 0; i < sk_X509_num(certs); i++)
            if (X509_check_ca(sk_X509_value(certs, i)) == 0) {
                if (leaf != NULL)
                    hg_die("SUCCESS with two end-entity certificates");
                leaf = sk_X509_value(certs, i);
            }
        if (leaf == NULL)
            hg_die("SUCCESS without an end-entity certificate");
        if ((f = fopen(av[5], "w")) == NULL || !PEM_write_X509(f, leaf) || fclose(f) != 0)
            hg_die("cannot write %s", av[5]);
        printf("SUCCESS\n");
        X509_free(signer);
        EVP_PKEY_free(key);
        break;
    }
    default:
        hg_die("pkiStatus %d", scep_msg_status(rep));
    }
    scep_msg_free(req);
    scep_msg_free(rep);
    X509_free(sig);
    free(rb);
    free(pb);
    return 0;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "";

    if (strcmp(cmd, "cases") == 0 && argc == 7)
        return cmd_cases(argv + 2);
    if (strcmp(cmd, "enroll") == 0 && argc == 6)
        return cmd_enroll(argv + 2);
    if (strcmp(cmd, "renew") == 0 && argc == 7)
        return cmd_renew(argv + 2);
    if (strcmp(cmd, "answer") == 0 && (argc == 5 || argc == 8))
        return cmd_answer(argc - 2, argv + 2);
    fprintf(stderr, "usage: hostile_gen cases DIR RCPT CA CAKEY CHALLENGE\n"
                    "       hostile_gen enroll DIR NAME RCPT CHALLENGE\n"
                    "       hostile_gen renew DIR NAME RCPT CERT KEY\n"
                    "       hostile_gen answer REQ REPLY SIGCERT [SIGNER KEY OUT]\n");
    return 2;
}
