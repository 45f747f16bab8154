/*
 * libscep client: the device side of RFC 8894.
 *
 * A struct scep_client talks to one SCEP URL.  It fetches the server's
 * capabilities and CA/RA certificates (optionally pinned by a SHA-256
 * fingerprint), picks the encryption and signing certificates the way
 * RFC 8894 2.2 describes, and runs the PKIOperation exchanges: PKCSReq,
 * RenewalReq, CertPoll, GetCert and GetCRL.  Each exchange builds the
 * request with the message layer (scep/message.h), sends it by POST when
 * the server offers POSTPKIOperation and by GET otherwise, then checks the
 * CertRep (signature by the CA/RA signing certificate, transactionID,
 * recipientNonce), decrypts it and hands back the certificates.
 *
 * HTTP goes through a small function-pointer seam (struct scep_transport);
 * libcurl is the default, firmware can plug in its own stack.
 *
 * Enrolling in a dozen lines:
 *
 *     struct scep_client_options o = { .url = "http://ca/scep" };
 *     scep_client_new(&o, &c);
 *     scep_key_generate_rsa(2048, &key);
 *     struct scep_csr_params p = { .subject = "CN=dev1", .challenge = "s" };
 *     scep_csr_make(key, &p, &csr);
 *     scep_txn_new_enroll(key, csr, &txn);
 *     rc = scep_client_enroll(c, txn, &certs);   issued cert first
 *
 * OpenSSL objects follow OpenSSL's get0 (borrowed) / get1 (owned)
 * conventions; every other returned object says how it is freed.
 */
#ifndef SCEP_CLIENT_H
#define SCEP_CLIENT_H

#include <scep/export.h>

#include <stddef.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A response body larger than this is refused by the transport: a CertRep
 * is at most SCEP_MAX_MESSAGE, a CA/RA chain of SCEP_MAX_CERTS fits. */
#define SCEP_CLIENT_MAX_RESPONSE (2 * 64 * 1024)

/* SHA-256 fingerprint length, for CA pinning. */
#define SCEP_FINGERPRINT_LEN 32

/* ------------------------------------------------------------------ */
/* Transport seam                                                     */
/* ------------------------------------------------------------------ */

/*
 * One HTTP response.  body is allocated by the transport with malloc()
 * and released with scep_http_response_clear().
 */
struct scep_http_response {
    long status;         /* HTTP status code, e.g. 200 */
    unsigned char *body; /* NULL when empty */
    size_t len;
    char content_type[128]; /* media type as sent, "" when none */
    char error[256];        /* transport's explanation when it fails */
};

/* Frees the body and zeroes r.  Accepts NULL. */
SCEP_API void scep_http_response_clear(struct scep_http_response *r);

/*
 * HTTP seam.  get and post return 0 when a complete response of any
 * status arrived (the client judges the status), SCEP_ERR_HTTP when no
 * response came (connection refused, timeout, TLS failure; out->error
 * says why), SCEP_ERR_TOO_LARGE when the body passed
 * SCEP_CLIENT_MAX_RESPONSE.  On failure out->body must be NULL.
 * release (may be NULL) frees ctx.
 */
struct scep_transport {
    int (*get)(void *ctx, const char *url, struct scep_http_response *out);
    int (*post)(void *ctx, const char *url, const unsigned char *body, size_t len,
                const char *content_type, struct scep_http_response *out);
    void (*release)(void *ctx);
    void *ctx;
};

/* Options of the libcurl transport.  Zero values take the defaults. */
struct scep_curl_options {
    long timeout_seconds;         /* whole request; default 60 */
    long connect_timeout_seconds; /* default 10 */
    const char *ca_bundle;        /* PEM file of trust anchors for HTTPS; NULL: system store */
    const char *user_agent;       /* NULL: "libscep/VERSION" */
};

/*
 * Fills *out with a libcurl transport.  Proxies come from the usual
 * environment variables (http_proxy, https_proxy, no_proxy) through
 * libcurl's defaults; redirects are not followed.  Free with
 * scep_transport_release().  Returns 0 or SCEP_ERR_NOMEM.
 */
SCEP_API int scep_transport_curl_new(const struct scep_curl_options *opt,
                                     struct scep_transport *out);

/* Calls t->release(t->ctx) and zeroes t.  Accepts NULL. */
SCEP_API void scep_transport_release(struct scep_transport *t);

/* ------------------------------------------------------------------ */
/* Client handle                                                      */
/* ------------------------------------------------------------------ */

enum scep_method { SCEP_METHOD_AUTO = 0, SCEP_METHOD_GET = 1, SCEP_METHOD_POST = 2 };

/* Content ciphers for requests.  AUTO: AES-128 when the server lists AES
 * or SCEPStandard (RFC 8894 3.5.2 defines "AES" as AES128-CBC), else
 * DES3. */
enum scep_client_cipher {
    SCEP_CIPHER_AUTO = 0,
    SCEP_CIPHER_AES128 = 1,
    SCEP_CIPHER_AES256 = 2,
    SCEP_CIPHER_DES3 = 3,
    SCEP_CIPHER_DES = 4 /* single DES, only for legacy servers */
};

/* Signature digests for requests.  AUTO: the strongest of SHA-512,
 * SHA-256 (implied by SCEPStandard) and SHA-1 the server lists; SHA-1
 * when it lists none. */
enum scep_client_digest {
    SCEP_DIGEST_AUTO = 0,
    SCEP_DIGEST_SHA1 = 1,
    SCEP_DIGEST_SHA256 = 2,
    SCEP_DIGEST_SHA512 = 3
};

struct scep_client_options {
    const char *url;                        /* e.g. http://host/cgi-bin/pkiclient.exe; required */
    const struct scep_transport *transport; /* copied; NULL: libcurl with curl below */
    struct scep_curl_options curl;          /* used only when transport is NULL */
    const unsigned char *ca_fingerprint;    /* SHA-256 of a CA certificate to pin, or NULL */
    const char *ca_ident;                   /* message= sent with GetCACert; NULL: none */
    int method;                             /* enum scep_method */
    int cipher;                             /* enum scep_client_cipher */
    int digest;                             /* enum scep_client_digest */
};

struct scep_client; /* opaque */

/*
 * Creates a client for opt->url.  Nothing is sent yet.  The client takes
 * over opt->transport (it releases it in scep_client_free()).  On success
 * *out is set; free with scep_client_free().
 */
SCEP_API int scep_client_new(const struct scep_client_options *opt, struct scep_client **out);

/* Frees the client, its transport and everything cached.  Accepts NULL. */
SCEP_API void scep_client_free(struct scep_client *c);

/*
 * A sentence explaining the last failure of a call on c (HTTP status,
 * transport error, which check of the CertRep failed, the server's
 * failInfo); "" when none.  Borrowed, valid until the next call on c.
 */
SCEP_API const char *scep_client_get0_error(const struct scep_client *c);

/* After SCEP_ERR_FAILURE: the server's failInfo (enum scep_fail_info) or
 * -1, and its failInfoText or NULL (borrowed from c). */
SCEP_API int scep_client_fail_info(const struct scep_client *c);
SCEP_API const char *scep_client_get0_fail_text(const struct scep_client *c);

/*
 * GetCACaps.  On success *caps receives the enum scep_cap bit set (0 when
 * the server has none; a 404 counts as none).  Cached after the first
 * call.  Returns 0, SCEP_ERR_HTTP or SCEP_ERR_NOMEM.
 */
SCEP_API int scep_client_get_caps(struct scep_client *c, unsigned *caps);

/*
 * GetCACert: fetches the CA/RA certificates (a DER certificate or a
 * certs-only PKCS#7), checks the pinned fingerprint when one was given
 * (SCEP_ERR_FINGERPRINT), and selects the encryption and signing
 * certificates (scep_ca_select()).  Cached after the first success.
 * Returns 0 or SCEP_ERR_*.
 */
SCEP_API int scep_client_fetch_ca(struct scep_client *c);

/* After scep_client_fetch_ca(): the whole set as sent, the issuing CA,
 * the encryption and the signing certificate.  Borrowed from c. */
SCEP_API STACK_OF(X509) *scep_client_get0_ca_certs(const struct scep_client *c);
SCEP_API X509 *scep_client_get0_ca_cert(const struct scep_client *c);
SCEP_API X509 *scep_client_get0_enc_cert(const struct scep_client *c);
SCEP_API X509 *scep_client_get0_sign_cert(const struct scep_client *c);

/*
 * GetNextCACert (RFC 8894 4.6): the rollover certificates, verified
 * against the current signing certificate.  *next: free with
 * sk_X509_pop_free(.., X509_free).  SCEP_ERR_UNSUPPORTED when the server
 * does not list GetNextCACert.
 */
SCEP_API int scep_client_get_next_ca(struct scep_client *c, STACK_OF(X509) **next);

/* The cipher and digest the next request will use, after the choice
 * described at enum scep_client_cipher / scep_client_digest (fetches the
 * caps if needed).  Returns 0 or SCEP_ERR_*. */
SCEP_API int scep_client_algorithms(struct scep_client *c, const EVP_CIPHER **cipher,
                                    const EVP_MD **md, int *use_post);

/* ------------------------------------------------------------------ */
/* CA certificate selection and pinning (pure functions)              */
/* ------------------------------------------------------------------ */

/*
 * Picks, from a GetCACert set, the issuing CA, the encryption certificate
 * (keyEncipherment) and the signing certificate (digitalSignature): RA
 * certificates (those that are not CAs) when the set has any, else the
 * CA itself (RFC 8894 2.2).  A certificate without keyUsage counts for
 * both; a lone CA without those bits is still used (micromdm's scepserver
 * issues its CA so).  The encryption certificate must hold an RSA key.  Pointers are
 * borrowed from certs.  Returns 0, or SCEP_ERR_NOT_FOUND when no
 * certificate fits a role.
 */
SCEP_API int scep_ca_select(STACK_OF(X509) *certs, X509 **ca, X509 **enc, X509 **sign);

/*
 * Checks a pin: some certificate of certs has SHA-256 fingerprint fp, and
 * enc and sign are that certificate or chain up to it inside certs.
 * Returns 0 or SCEP_ERR_FINGERPRINT.
 */
SCEP_API int scep_ca_check_pin(STACK_OF(X509) *certs, X509 *enc, X509 *sign,
                               const unsigned char fp[SCEP_FINGERPRINT_LEN]);

/* SHA-256 of cert's DER into fp.  Returns 0 or SCEP_ERR_INTERNAL. */
SCEP_API int scep_client_fingerprint(X509 *cert, unsigned char fp[SCEP_FINGERPRINT_LEN]);

/*
 * Parses a fingerprint written as 64 hex digits, with or without ':'
 * separators, any case.  Returns 0 or SCEP_ERR_INVALID_ARG.
 */
SCEP_API int scep_fingerprint_parse(const char *text, unsigned char fp[SCEP_FINGERPRINT_LEN]);

/* ------------------------------------------------------------------ */
/* Transactions: enroll, renew, poll                                  */
/* ------------------------------------------------------------------ */

struct scep_txn; /* opaque: one request's identity, kept for polling */

/*
 * A PKCSReq transaction for key and csr (key up-referenced, csr copied).  The
 * signer is a self-signed certificate with the CSR's subject and key
 * (RFC 8894 2.3); the transactionID is the hex SHA-256 of the public key,
 * so a later process can poll for the same request.  Free with
 * scep_txn_free().
 */
SCEP_API int scep_txn_new_enroll(EVP_PKEY *key, X509_REQ *csr, struct scep_txn **out);

/*
 * A RenewalReq transaction: csr (for the new key, or the current one when
 * reused) is sent signed by cur_cert / cur_key, and the CertRep comes
 * back encrypted to cur_cert.  The transactionID hashes the new public
 * key and cur_cert.  Free with scep_txn_free().
 */
SCEP_API int scep_txn_new_renew(X509_REQ *csr, X509 *cur_cert, EVP_PKEY *cur_key,
                                struct scep_txn **out);

/* Replaces the transactionID (printable, 1..SCEP_MAX_TRANSID chars). */
SCEP_API int scep_txn_set_transaction_id(struct scep_txn *t, const char *id);

/* The transactionID, borrowed from t. */
SCEP_API const char *scep_txn_get0_transaction_id(const struct scep_txn *t);

/* Frees t.  Accepts NULL. */
SCEP_API void scep_txn_free(struct scep_txn *t);

/*
 * Sends t's PKCSReq or RenewalReq.  Returns 0 with *certs set (the issued
 * certificate first, then whatever chain the server added; free with
 * sk_X509_pop_free(.., X509_free)); SCEP_ERR_PENDING when the server
 * holds the request (poll later with scep_client_poll()); SCEP_ERR_FAILURE
 * when it refused (see scep_client_fail_info()); or another SCEP_ERR_*
 * (HTTP, signature, nonce, transactionID, decryption).
 */
SCEP_API int scep_client_enroll(struct scep_client *c, struct scep_txn *t, STACK_OF(X509) **certs);

/* CertPoll (IssuerAndSubject) for t; results as scep_client_enroll(). */
SCEP_API int scep_client_poll(struct scep_client *c, struct scep_txn *t, STACK_OF(X509) **certs);

/*
 * GetCert: the certificate with serial issued by the CA, asked with
 * signer_cert / key (the CertRep is encrypted to signer_cert).  *out:
 * free with X509_free().
 */
SCEP_API int scep_client_get_cert(struct scep_client *c, X509 *signer_cert, EVP_PKEY *key,
                                  const ASN1_INTEGER *serial, X509 **out);

/*
 * GetCRL: the CRL covering cert (IssuerAndSerialNumber of cert), asked
 * with cert / key.  *out: free with X509_CRL_free().
 */
SCEP_API int scep_client_get_crl(struct scep_client *c, X509 *cert, EVP_PKEY *key, X509_CRL **out);

/* ------------------------------------------------------------------ */
/* Keys and CSRs                                                      */
/* ------------------------------------------------------------------ */

/*
 * Generates an RSA key of 2048, 3072 or 4096 bits (others within
 * SCEP_MIN_RSA_BITS..SCEP_MAX_RSA_BITS are accepted too).  *out: free
 * with EVP_PKEY_free().
 */
SCEP_API int scep_key_generate_rsa(int bits, EVP_PKEY **out);

struct scep_csr_params {
    const char *subject;     /* "CN=dev1,O=Acme" ('\' escapes ',' '=' '\'); required */
    const char *const *sans; /* "DNS:x", "IP:192.0.2.1", "email:a@b", "URI:u" */
    size_t nsans;
    const char *challenge; /* challengePassword, NULL: none */
    const EVP_MD *md;      /* NULL: SHA-256 */
};

/*
 * Parses "CN=dev1,O=Acme" into a new X509_NAME (attributes in the order
 * written; '\' escapes the next character).  *out: free with
 * X509_NAME_free().  SCEP_ERR_INVALID_ARG for a malformed subject.
 */
SCEP_API int scep_subject_parse(const char *text, X509_NAME **out);

/*
 * Makes a PKCS#10 for key with p's subject, SANs (subjectAltName in an
 * extensionRequest) and challengePassword, self-signed.  *out: free with
 * X509_REQ_free().
 */
SCEP_API int scep_csr_make(EVP_PKEY *key, const struct scep_csr_params *p, X509_REQ **out);

#ifdef __cplusplus
}
#endif
#endif
