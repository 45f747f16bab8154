/*
 * scep_load internals: the pieces of the SCEP enrollment load generator
 * (bench/scep_load.c) that are not the command line, threads and
 * statistics.
 *
 *   load_http.c    blocking HTTP GET/POST over one libcurl easy handle,
 *                  with a ceiling on the body it will accept;
 *   load_enroll.c  GetCACert and the choice of the CA/RA certificate,
 *                  and one whole PKCSReq -> CertRep enrollment checked
 *                  down to the issued certificate's public key.
 *
 * Every function returns 0 or a negative SCEP_ERR_* and, on failure,
 * leaves a line of explanation in the caller's error buffer.
 */
#ifndef SCEP_BENCH_LOAD_H
#define SCEP_BENCH_LOAD_H

#include <stddef.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

/* A response body larger than this is refused: a CertRep with a chain
 * is a few KiB, the largest the protocol allows is SCEP_MAX_MESSAGE. */
#define LOAD_MAX_BODY (256 * 1024)

/* Seconds one HTTP exchange may take before it counts as a failure. */
#define LOAD_HTTP_TIMEOUT 60L

struct load_http_reply {
    long status;         /* HTTP status */
    unsigned char *body; /* malloc'ed, NULL when empty */
    size_t len;
    char content_type[128]; /* "" when the server sent none */
};

/* What every enrollment of a run shares; read-only once the threads run. */
struct load_target {
    const char *url;          /* SCEP endpoint, without a query */
    const char *challenge;    /* challengePassword put into every CSR */
    const EVP_CIPHER *cipher; /* envelope content cipher of requests */
    const EVP_MD *md;         /* request signature and CSR digest */
    STACK_OF(X509) *rcpt;     /* the certificate requests are encrypted to */
    X509 *ca_signer;          /* the certificate whose key signs CertReps */
    int fresh_connection;     /* 1: one TCP connection per request */
};

/* One worker's identity: its key and the self-signed certificate that
 * signs its requests (RFC 8894 2.3, no certificate from this CA yet). */
struct load_identity {
    EVP_PKEY *key;
    X509 *cert;
    int thread; /* worker number, for names */
};

/* Per-exchange timings of one enrollment, in seconds. */
struct load_timing {
    double total;      /* CSR built to certificate checked */
    double round_trip; /* POST started to CertRep received */
    int reply_cipher;  /* NID of the CertRep envelope's cipher */
    long http_status;  /* of the PKIOperation, also on failure; 0 none came */
    char serial[132];  /* the issued certificate's serial as the store
                        * writes it (hex of the DER INTEGER's content) */
};

/*
 * Makes a libcurl easy handle set up for the load generator (timeouts,
 * no signals since the workers are threads, keep-alive unless
 * fresh_connection).  Returns NULL when libcurl cannot; free with
 * curl_easy_cleanup().
 */
CURL *load_http_handle(int fresh_connection);

/*
 * GETs url (full, with its query) or, when body is not NULL, POSTs
 * body/len as application/x-pki-message.  On success *r holds the reply;
 * free its body with load_http_reply_clear().  Returns 0, or SCEP_ERR_HTTP
 * (transport failure or body above LOAD_MAX_BODY) with err filled.
 */
int load_http_exchange(CURL *h, const char *url, const unsigned char *body, size_t len,
                       struct load_http_reply *r, char *err, size_t errlen);

/* Frees r's body and zeroes r.  Accepts NULL. */
void load_http_reply_clear(struct load_http_reply *r);

/*
 * GetCACert against t->url and chooses, per RFC 8894 3.5.1 / 2.2: a lone
 * certificate is the CA's and serves both roles whatever its keyUsage
 * (micromdm's lacks keyEncipherment); from a CA/RA set the
 * certificate with keyEncipherment (a non-CA one first, i.e. the RA)
 * receives requests and signs CertReps.  On success t->rcpt and
 * t->ca_signer are set; free them with load_target_clear().  *desc gets
 * a one-line description (key type and size) of the chosen certificate.
 */
int load_fetch_ca(struct load_target *t, char *desc, size_t desclen, char *err, size_t errlen);

/* Frees what load_fetch_ca() put into t.  Accepts NULL. */
void load_target_clear(struct load_target *t);

/*
 * Makes a worker's RSA key of bits bits and its self-signed signer
 * certificate.  On success id->key and id->cert are set; free with
 * load_identity_clear().
 */
int load_identity_new(int thread, int bits, struct load_identity *id, char *err, size_t errlen);

/* Frees id's key and certificate.  Accepts NULL. */
void load_identity_clear(struct load_identity *id);

/*
 * One enrollment: a CSR with CN scep-load-<run>-<thread>-<seq> and the
 * challenge, wrapped in a PKCSReq, POSTed over h; the CertRep is decoded,
 * its signature verified against t->ca_signer, its transactionID and
 * recipientNonce matched, its status required to be SUCCESS, its
 * envelope decrypted, and the certificate for our key found inside.
 * Returns 0 with *tm filled, or a negative SCEP_ERR_* with err filled.
 */
int load_enroll_once(CURL *h, const struct load_target *t, const struct load_identity *id,
                     unsigned long run, long seq, struct load_timing *tm, char *err, size_t errlen);

/* Monotonic clock in seconds. */
double load_now(void);

#endif
