/*
 * Internals of lib/ca shared between its files: the loaded CA structure
 * and the certificate-building helpers.  Nothing outside lib/ca includes
 * this.
 */
#ifndef SCEP_CA_INTERNAL_H
#define SCEP_CA_INTERNAL_H

#include <stdatomic.h>
#include <time.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "keyring/keyring.h"

/* File names inside the state directory (see ca.h). */
#define CA_CRT "ca.crt"
#define CA_KEY "ca.key"
#define RA_CRT "ra.crt"
#define RA_KEY "ra.key"
#define NEXT_DIR "next"
#define ARCHIVE_DIR "archive"
#define ACTIVATE_AT "activate-at"

/* Validity of a new CA when the options say 0 (days). */
#define CA_DEFAULT_DAYS 3650
/* How far a new CA or RA certificate's notBefore is set back, so that a
 * client whose clock runs a little slow still accepts it. */
#define CA_BACKDATE_SECONDS 300

/*
 * The private keys live in the keyring; the CA holds key handles
 * (keyring/keyhandle.h): EVP_PKEYs without private key material that
 * X509_sign(), X509_CRL_sign() and the CMS code use like any key, built
 * once at load and shared by every thread.
 */
struct scep_ca {
    atomic_int refs;
    struct scep_keyring *kr; /* the CA and RA keys */
    X509 *cert;              /* issuing CA */
    EVP_PKEY *key;           /* handle of the CA key */
    X509 *ra_cert;           /* NULL without RA */
    EVP_PKEY *ra_key;        /* handle of the RA key, NULL without RA */
    X509 *next_cert;         /* NULL without next CA */
    X509 *next_ra_cert;      /* NULL without next RA */
    time_t next_at;          /* 0 without next CA */
    STACK_OF(X509) *archive; /* former CA certificates, newest first, never NULL once loaded */
    char *dir;               /* the state directory it was loaded from (archived keys) */
};

/*
 * Public-key soundness (keycheck.c): see scep_ca_check_request.  Returns
 * 0, or SCEP_ERR_KEY with why[] naming the rule, or SCEP_ERR_NOMEM.
 */
int ca_check_pubkey(EVP_PKEY *pkey, const struct scep_profile *p, char *why, size_t whylen);

/*
 * Name well-formedness (namecheck.c).  ca_check_name checks every
 * attribute value of name, where naming it in why[] ("subject");
 * ca_check_general_names every subjectAltName, wildcard host names only
 * with allow_wildcard.  Both return 0 or SCEP_ERR_CSR with why[] set.
 */
int ca_check_name(const X509_NAME *name, const char *where, char *why, size_t whylen);
int ca_check_general_names(const GENERAL_NAMES *gens, int allow_wildcard, char *why, size_t whylen);

/*
 * Adds one extension in OpenSSL v3 config syntax (e.g. "critical,CA:TRUE")
 * to cert, with issuer providing the key identifier for AKI.
 * Returns 0 or SCEP_ERR_CONFIG when value does not parse.
 */
int ca_add_ext(X509 *cert, X509 *issuer, int nid, const char *value);

/*
 * Sets a fresh random positive 16-byte serial on cert.  Returns 0 or
 * SCEP_ERR_INTERNAL.
 */
int ca_set_random_serial(X509 *cert);

/* Reads a PEM certificate from path.  *out: free with X509_free(). */
int ca_read_cert(const char *path, X509 **out);

/* Writes cert as PEM to path (0644, atomic; exclusive refuses an existing path). */
int ca_write_cert(const char *path, X509 *cert, int exclusive);

/*
 * Upper-case hex of cert's serial, the name of its archive file.
 * *out: free with OPENSSL_free().
 */
int ca_serial_hex(X509 *cert, char **out);

/*
 * Loads the archived key of the former CA certificate cert from
 * ca->dir/archive/<SERIAL>.key and checks that it belongs to cert.
 * The key is loaded into a keyring of its own, which the handle keeps
 * alive.  *out (a key handle): free with EVP_PKEY_free().
 * SCEP_ERR_NOT_FOUND without that file.
 */
int ca_load_archived_key(const struct scep_ca *ca, X509 *cert, EVP_PKEY **out);

/*
 * Loads the key ref names (ca_key_ref()) into a keyring of its own, which
 * the handle keeps alive, and checks that it is cert's key (public
 * components).  *out: free with EVP_PKEY_free().  SCEP_ERR_KEY when it
 * is another key, SCEP_ERR_NOT_FOUND without the file.
 */
int ca_load_key_of(const char *ref, X509 *cert, EVP_PKEY **out);

/*
 * The keyring reference of the key file dir/name: "file:" and the path.
 * Returns 0 or SCEP_ERR_TOO_LARGE.
 */
int ca_key_ref(char *buf, size_t n, const char *dir, const char *name);

/*
 * The name of a certificate the CA makes for itself (name.c): ca_name
 * with suffix appended to its last CN, or with a CN default_cn when it
 * has none.  Returns 0, SCEP_ERR_CONFIG (too long) or SCEP_ERR_NOMEM.
 * *out: free with X509_NAME_free().
 */
int ca_name_with_suffix(const X509_NAME *ca_name, const char *suffix, const char *default_cn,
                        X509_NAME **out);

/* Digest for certificates signed by the key in cert: SHA-384 for a P-384
 * key, SHA-256 otherwise. */
const EVP_MD *ca_md_for(X509 *cert);

#endif
