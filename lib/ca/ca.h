/*
 * The certificate authority: its certificates and keys on disk in the
 * state directory, issuing certificates from CSRs under a profile,
 * CRLs, CA rollover, and the CA-side of SCEP message crypto (decrypting
 * requests, signing CertReps).  Certificates, CRLs and CMS are built
 * here and in lib/msg with OpenSSL; the private keys stay in a keyring
 * (lib/keyring), which only ever sees digests to sign and wrapped
 * content keys to decrypt, reached through key handles.
 *
 * State directory layout (all written by scep_ca_create / _next_create):
 *   ca.crt, ca.key (0600)        the current CA
 *   ra.crt, ra.key (0600)        optional RA (always present for an EC CA:
 *                                SCEP key transport needs RSA)
 *   next/ca.crt, next/ca.key,    the next CA made ahead of rollover, with
 *   next/ra.*, next/activate-at  its switch-over time (decimal Unix time)
 *   archive/<hex serial>.crt     former CA certificates, still trusted for
 *                                renewals and GetCert
 *   ocsp/<CA hex serial>.crt,    each CA's delegated OCSP responder (made
 *   ocsp/<CA hex serial>.key     by scep_ca_responders_ensure, responder.c)
 *
 * A loaded struct scep_ca is immutable and reference counted, so worker
 * threads share one and a rollover swaps in a new one.  Its key handles
 * are built once at load.
 */
#ifndef SCEP_CA_CA_H
#define SCEP_CA_CA_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include <scep/message.h>

enum scep_key_type { SCEP_KEY_RSA = 0, SCEP_KEY_EC = 1 };

struct scep_ca_init_opts {
    const char *subject;    /* RFC 2253 or "/CN=.." form; NULL: "CN=scepd CA" */
    int key_type;           /* enum scep_key_type */
    int rsa_bits;           /* 0: 3072 */
    int ec_curve;           /* NID; 0: NID_X9_62_prime256v1 (also NID_secp384r1) */
    int validity_days;      /* 0: 3650 */
    int with_ra;            /* make a separate RSA RA certificate (forced for EC) */
    int ra_bits;            /* 0: 3072 */
    const char *ra_subject; /* NULL: subject with " RA" appended to the CN */
};

/* Issuance profile: what every certificate this CA issues looks like. */
/* EC curves a profile may certify (scep_profile.ec_curves). */
#define SCEP_CURVE_P256 1u
#define SCEP_CURVE_P384 2u
#define SCEP_CURVE_P521 4u

struct scep_profile {
    int validity_days;     /* 0: 365 */
    long validity_seconds; /* >0: overrides validity_days (short-lived certificates, tests) */
    int backdate_seconds;  /* notBefore = now - this, for skewed clocks; 0: none */
    const char
        *key_usage; /* OpenSSL v3 syntax; NULL: "critical,digitalSignature,keyEncipherment" */
    const char *ext_key_usage;  /* OpenSSL v3 syntax; NULL: "clientAuth" */
    const char *crl_url;        /* crlDistributionPoints URI; NULL: none */
    int crl_url_per_ca;         /* crl_url is a base: the CDP is crl_url/<CA key id hex>.crl */
    const char *ocsp_url;       /* AIA OCSP URI; NULL: none */
    const char *ca_issuers_url; /* AIA caIssuers URI; NULL: none */
    const EVP_MD *md;           /* signature digest; NULL: SHA-256 */
    long min_rsa_exponent;      /* smallest RSA public exponent; 0: 65537, never below 3 */
    unsigned ec_curves;         /* SCEP_CURVE_* bits certified; 0: all three */
    int allow_wildcard_dns;     /* a dNSName may start with "*." */
};

struct scep_ca; /* opaque, refcounted */

/*
 * Creates a new CA in dir (made 0700 if missing).  Refuses with
 * SCEP_ERR_EXISTS when dir already holds ca.crt or ca.key.  Keys are
 * written 0600 atomically (temp file + rename).  Returns 0 or SCEP_ERR_*.
 */
int scep_ca_create(const char *dir, const struct scep_ca_init_opts *opts);

/* Returns 1 when dir holds a CA (ca.crt), 0 otherwise. */
int scep_ca_exists(const char *dir);

/*
 * Makes the next CA (new key, new self-signed certificate, and a new RA
 * when the current CA has one) in dir/next, to become current at
 * activate_at.  Refuses with SCEP_ERR_EXISTS when a next CA exists.
 */
int scep_ca_next_create(const char *dir, const struct scep_ca_init_opts *opts, time_t activate_at);

/*
 * Loads the CA in dir.  When a next CA exists whose activate-at has
 * passed, it is promoted first (current moved to archive/, next to the
 * top).  The keys go into the CA's keyring as "file:" references.
 * Refuses with SCEP_ERR_PERMISSIONS when a key file is readable or
 * writable by group or others.  *out: release with scep_ca_free().
 */
int scep_ca_load(const char *dir, struct scep_ca **out);

/* Takes a reference.  Returns ca. */
struct scep_ca *scep_ca_up_ref(struct scep_ca *ca);

/* Drops a reference; frees on the last.  Accepts NULL. */
void scep_ca_free(struct scep_ca *ca);

/* Borrowed getters; valid while the reference is held. */
X509 *scep_ca_get0_cert(const struct scep_ca *ca);         /* the issuing CA */
X509 *scep_ca_get0_ra_cert(const struct scep_ca *ca);      /* NULL without RA */
X509 *scep_ca_get0_next_cert(const struct scep_ca *ca);    /* NULL without next CA */
time_t scep_ca_next_activate_at(const struct scep_ca *ca); /* 0 without next CA */
/* The certificate requests are encrypted to and CertReps are signed by:
 * the RA when there is one, else the CA. */
X509 *scep_ca_get0_scep_cert(const struct scep_ca *ca);

/*
 * GetCACert body.  Without RA: the CA certificate DER, content type
 * "application/x-x509-ca-cert".  With RA: a certs-only PKCS#7 of RA + CA,
 * "application/x-x509-ca-ra-cert".  *der: free with scep_free();
 * *content_type is static.
 */
int scep_ca_getcacert(const struct scep_ca *ca, unsigned char **der, size_t *len,
                      const char **content_type);

/*
 * GetNextCACert body (RFC 8894 4.6.1): next CA (+ next RA) wrapped in a
 * SignedData signed by the current RA/CA.  SCEP_ERR_NOT_FOUND without a
 * next CA.  *der: free with scep_free().
 */
int scep_ca_getnextcacert(const struct scep_ca *ca, unsigned char **der, size_t *len);

/* Decrypts a decoded request with the RA (or CA) key handle; see
 * scep_msg_decrypt().  Only the wrapped content key reaches the keyring. */
int scep_ca_decrypt(const struct scep_ca *ca, struct scep_msg *m);

/*
 * Builds a CertRep (or any message) signed by the RA (or CA): fills in
 * spec->signer_cert and, as signer_key, the RA (or CA) key handle on a
 * private copy of spec and calls scep_msg_build().  *der: free with
 * scep_free().
 */
int scep_ca_sign_message(const struct scep_ca *ca, const struct scep_msg_spec *spec,
                         unsigned char **der, size_t *len);

/*
 * Checks what csr asks this CA to certify under profile p (NULL:
 * defaults), before anything is signed or held for approval: a PKCS#10
 * version 1 request; a sound public key (RSA within the modulus limits
 * with an odd exponent of at least p->min_rsa_exponent, EC on one of
 * p->ec_curves, by default P-256, P-384 or P-521, both validated by
 * OpenSSL); subject (NULL: the CSR's)
 * and subjectAltNames well formed (no control characters or NUL, string
 * types valid for their attribute, valid UTF-8; iPAddress of 4 or 16
 * bytes, host names, local@domain mailboxes, URIs with a scheme, and no
 * other name types but directoryName and the UPN otherName); and a
 * subject that is not the DN of the CA, an RA or an archived or next CA.
 * Returns 0, or SCEP_ERR_CSR, SCEP_ERR_KEY or SCEP_ERR_POLICY with why[]
 * naming the rule broken, or SCEP_ERR_NOMEM.  scep_ca_issue applies it
 * too.
 */
int scep_ca_check_request(const struct scep_ca *ca, X509_REQ *csr, const X509_NAME *subject,
                          const struct scep_profile *p, char *why, size_t whylen);

/*
 * Issues a certificate for csr under profile p with the given serial
 * (positive, big-endian, 1..20 bytes).  subject NULL: the CSR's subject;
 * a renewal passes the old certificate's subject.  Copies the CSR's
 * subjectAltName; adds SKI, AKI, basicConstraints CA:FALSE, keyUsage,
 * extendedKeyUsage, CDP and AIA from p.  Does not check the CSR's
 * signature (the caller has).  Refuses with SCEP_ERR_POLICY a subject
 * (or a subjectAltName directoryName) whose RFC 2253 text exceeds
 * SCEP_MAX_SUBJECT, or more than SCEP_MAX_SANS names; and whatever
 * scep_ca_check_request refuses, with its code.  *out: free with
 * X509_free().
 */
int scep_ca_issue(const struct scep_ca *ca, X509_REQ *csr, const X509_NAME *subject,
                  const struct scep_profile *p, const unsigned char *serial, size_t serial_len,
                  X509 **out);

/* Fills buf with 16 random bytes forming a positive serial (top bit clear,
 * first byte non-zero).  Returns 0 or SCEP_ERR_INTERNAL. */
int scep_ca_random_serial(unsigned char serial[16]);

struct scep_revoked_entry {
    const unsigned char *serial; /* big-endian */
    size_t serial_len;
    time_t revoked_at;
    int reason; /* CRLReason code, -1: none */
};

/* Number of archived (former) CA certificates, and the i-th of them,
 * newest first (index 0 is the CA that was current before the last
 * rollover).  Borrowed; NULL when i is out of range. */
int scep_ca_archive_count(const struct scep_ca *ca);
X509 *scep_ca_get0_archived(const struct scep_ca *ca, int i);

/*
 * Finds a CA certificate of this CA set (current or archived) by a name
 * an administrator gives: NULL, "" or "current"; "previous" (the newest
 * archived CA); or hex digits (colons allowed) that are a prefix, at
 * least 8 digits long, of exactly one CA's SHA-256 fingerprint or
 * subject key identifier.  *out: borrowed, valid while ca is held.
 * Returns 0, SCEP_ERR_NOT_FOUND (no such CA, or "previous" without an
 * archive) or SCEP_ERR_INVALID_ARG (malformed or ambiguous).
 */
int scep_ca_find_issuer(const struct scep_ca *ca, const char *which, X509 **out);

/*
 * Finds the CA certificate (current or archived) whose SHA-256
 * fingerprint (lowercase hex, as scep_cert_fingerprint) is fp.  *out:
 * borrowed.  Returns 0 or SCEP_ERR_NOT_FOUND.
 */
int scep_ca_find_by_fingerprint(const struct scep_ca *ca, const char *fp, X509 **out);

/*
 * Makes a CRL v2 with crlNumber and AKI, thisUpdate now, nextUpdate now
 * + next_update_seconds, signed (through a key handle, see
 * keyring/keyhandle.h) by issuer: a certificate of this CA set
 * (scep_ca_get0_cert, or an archived one from scep_ca_find_issuer; NULL
 * means the current CA).  An archived CA signs with its archived key
 * (archive/<SERIAL>.key, kept by the rollover); SCEP_ERR_NOT_FOUND when
 * that key is gone.  Only encodes and signs: which serials are revoked
 * is the caller's (lib/admin/crl.c is the one caller that decides).
 * *out: free with X509_CRL_free().
 */
int scep_ca_make_crl(const struct scep_ca *ca, X509 *issuer,
                     const struct scep_revoked_entry *entries, size_t n, int64_t crl_number,
                     long next_update_seconds, X509_CRL **out);

/*
 * Signs the OCSP basic response bs (RFC 6960 4.2.1) as issuer: a
 * certificate of this CA set (NULL: the current CA; an archived one
 * signs with its archived key, as for scep_ca_make_crl), responder id by
 * key hash, the issuer certificate included.  Only signs: the answers in
 * bs are the caller's (lib/admin/ocsp.c).  Returns 0, SCEP_ERR_NOT_FOUND
 * when an archived key is gone, or SCEP_ERR_*.
 */
int scep_ca_sign_ocsp(const struct scep_ca *ca, X509 *issuer, OCSP_BASICRESP *bs);

/*
 * Delegated OCSP responders (responder.c, RFC 6960 4.2.2.2): for each CA
 * of the set (current, next, archived) a P-256 key and a short-lived
 * certificate issued by that CA with extendedKeyUsage id-kp-OCSPSigning
 * and id-pkix-ocsp-nocheck, in dir/ocsp/<CA serial hex>.crt and .key
 * (0600, both written atomically), so that the CA key signs one
 * certificate every few days instead of OCSP answers.
 *
 * scep_ca_responders_ensure makes the pair of every CA that has none, a
 * broken one (the key does not match, not issued by that CA) or one
 * with less than a third of its life left, valid for days (1 to
 * SCEP_CA_RESPONDER_MAX_DAYS, not past the CA's own notAfter) from now;
 * an expired CA gets none.  An archived CA whose key was removed cannot
 * issue a new one: it keeps the pair it has until that expires, and is
 * skipped without an error.  *made (may be NULL) counts the pairs made.
 * Returns 0, or the first SCEP_ERR_* after trying every CA.
 */
#define SCEP_CA_RESPONDER_MAX_DAYS 365
int scep_ca_responders_ensure(const struct scep_ca *ca, int days, time_t now, int *made);

struct scep_ocsp_signers; /* opaque, immutable, refcounted */

/*
 * Loads the responder pairs of ca's CAs that are sound and valid at now
 * (others are left out: their CA signs for itself).  The keys go into a
 * keyring of the set's own by "file:" reference.  *out: release with
 * scep_ocsp_signers_free().  Returns 0 (also when none is there) or
 * SCEP_ERR_*.
 */
int scep_ca_responders_load(const struct scep_ca *ca, time_t now, struct scep_ocsp_signers **out);

/* Takes a reference; returns s.  Accepts NULL. */
struct scep_ocsp_signers *scep_ocsp_signers_up_ref(struct scep_ocsp_signers *s);

/* Drops a reference; frees on the last.  Accepts NULL. */
void scep_ocsp_signers_free(struct scep_ocsp_signers *s);

/*
 * The responder certificate for CA certificate issuer in s, borrowed
 * (valid while s is held), with its notAfter in *not_after (may be
 * NULL); NULL when s (may be NULL) has none for issuer.
 */
X509 *scep_ocsp_signers_get0_cert(const struct scep_ocsp_signers *s, X509 *issuer,
                                  int64_t *not_after);

/*
 * Signs bs (RFC 6960 4.2.1) with issuer's delegated responder from s:
 * responder id by key hash, the responder certificate in certs (a
 * client needs it to verify; RFC 6960 4.2.2.2).  Returns 0,
 * SCEP_ERR_NOT_FOUND when s has no responder for issuer, or SCEP_ERR_*.
 */
int scep_ocsp_signers_sign(const struct scep_ocsp_signers *s, X509 *issuer, OCSP_BASICRESP *bs);

/*
 * Checks that cert is an end-entity certificate issued by this CA
 * (current or archived) and valid at now: signature, validity period.
 * CA certificates and the CA's own RA certificates (current, next) are
 * refused.  Revocation is the store's business.  Returns 0,
 * SCEP_ERR_RENEWAL or SCEP_ERR_BAD_TIME.
 */
int scep_ca_check_issued(const struct scep_ca *ca, X509 *cert, time_t now);

/*
 * Checks that value, in OpenSSL's v3 configuration syntax, makes an
 * extension nid (NID_key_usage, NID_ext_key_usage) that OpenSSL accepts,
 * so that a typing error in scepd.conf refuses to start instead of
 * failing every issuance later.  Returns 0 or SCEP_ERR_CONFIG.
 */
int scep_ca_check_ext_value(int nid, const char *value);

/*
 * Parses "CN=a,O=b" (RFC 2253 order: most significant last) or "/O=b/CN=a"
 * (OpenSSL oneline order) into a new X509_NAME.  A backslash escapes the
 * next character.  Unknown attribute names, empty values and subjects
 * over SCEP_MAX_SUBJECT are refused with SCEP_ERR_CONFIG.
 * *out: free with X509_NAME_free().  (Subjects in configuration, bound
 * subjects of one-time challenges.)
 */
int scep_ca_parse_name(const char *text, X509_NAME **out);

/*
 * Parses a list of EC curve names ("P-256, P-384, P-521", in any order,
 * separated by commas and blanks) into SCEP_CURVE_* bits in *out.
 * Returns 0, or SCEP_ERR_CONFIG for an unknown name or an empty list.
 */
int scep_ca_parse_curves(const char *list, unsigned *out);

/*
 * Lowercase hex of cert's subject key identifier, or of its SHA-256
 * fingerprint when it has none, into out (size at least 65): how a CA is
 * named in scepd's CRL paths and files (/crl/<id>.crl), which
 * scep_ca_find_issuer takes back.  Returns 0 or SCEP_ERR_*.
 */
int scep_ca_key_id_hex(X509 *cert, char *out, size_t size);

/* Lowercase hex SHA-256 of a certificate's DER into out (65 bytes): the
 * text form of scep_client_fingerprint(), the one CA fingerprint.
 * Returns 0 or SCEP_ERR_*. */
int scep_cert_fingerprint(X509 *cert, char out[65]);

#endif
