/*
 * hostile_gen, a program built for integration.hostile only: it crafts
 * pkiMessages a hostile client might send a running scepd (weak keys,
 * names that parsers read differently, broken envelopes and signatures,
 * hostile BER, renewals signed by the wrong certificate), writes each to
 * a file for curl, and decodes the CertRep answers.  The messages are
 * made by libscep's own builder (scep_msg_build, or the lib/msg steps it
 * is made of when an envelope is to be broken) and by OpenSSL; a hostile
 * part is made by OpenSSL's API wherever OpenSSL will make it, never by
 * writing DER by hand.  This header is what hostile_gen.c (commands,
 * messages) and hostile_csr.c (the hostile requests) share.  A test
 * program: a failure prints why and exits 2, it is never a case's result.
 */
#ifndef HOSTILE_H
#define HOSTILE_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* What the cases are built from; all owned by main (hostile_gen.c). */
struct hg {
    const char *dir;       /* where the case files go */
    X509 *rcpt;            /* the CA/RA certificate requests are encrypted to */
    X509 *ca;              /* the CA certificate */
    EVP_PKEY *ca_key;      /* the CA key (to mint an expired certificate) */
    const char *challenge; /* the server's challenge password */
    EVP_PKEY *key;         /* a sound RSA key, for CSRs whose key is not the point */
    EVP_PKEY *signer_key;  /* key of signer */
    X509 *signer;          /* self-signed certificate signing the requests */
    int written;           /* cases written so far */
};

/* One request to build; zero it, then set what differs. */
struct hg_req {
    int type;                   /* enum scep_msg_type; 0: PKCSReq */
    X509_REQ *csr;              /* the messageData, or: */
    const unsigned char *plain; /* raw messageData bytes (plain_len) */
    size_t plain_len;
    X509 *signer; /* NULL: g->signer / g->signer_key */
    EVP_PKEY *signer_key;
    X509 *rcpt;               /* NULL: g->rcpt */
    const EVP_CIPHER *cipher; /* NULL: AES-128-CBC */
    int envelope;             /* enum hg_envelope */
};

/* How the EnvelopedData is broken, if at all. */
enum hg_envelope { HG_ENV_OK = 0, HG_ENV_TRUNCATED, HG_ENV_BAD_KEY };

/* hostile_gen.c */
/* Prints "hostile_gen: " and the message to stderr and exits 2. */
void hg_die(const char *fmt, ...);
/* Builds q with transactionID "hostile-NAME" and writes DIR/NAME.der. */
void hg_case(struct hg *g, const char *name, const struct hg_req *q);
/* Builds q into *der / *len (OPENSSL_free), transactionID "hostile-NAME". */
void hg_build(struct hg *g, const char *name, const struct hg_req *q, unsigned char **der,
              size_t *len);
/* Writes len bytes to DIR/NAME.EXT and counts a case when EXT is "der". */
void hg_write(struct hg *g, const char *name, const char *ext, const unsigned char *d, size_t len);
/* A certificate for key with CN cn and a random serial, valid from now
 * + from days to now + to days, issued by issuer/issuer_key (NULL:
 * self-signed); ca says whether it is a CA.  X509_free(). */
X509 *hg_cert(EVP_PKEY *key, const char *cn, long from, long to, X509 *issuer, EVP_PKEY *issuer_key,
              int ca);

/* hostile_csr.c */
/* A PKCS#10 request for key, subject name (NULL: CN=cn), g's challenge
 * (none when g->challenge is NULL),
 * version, subjectAltNames gens (NULL: none), signed by sign_key (NULL:
 * key).  X509_REQ_free(). */
X509_REQ *hg_csr(const struct hg *g, EVP_PKEY *key, EVP_PKEY *sign_key, const char *cn,
                 const X509_NAME *name, long version, const GENERAL_NAMES *gens);
/* Writes the hostile-key, hostile-name and hostile-SAN cases. */
void hg_csr_cases(struct hg *g);

#endif
