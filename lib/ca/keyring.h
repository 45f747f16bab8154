/*
 * The keyring: the only code that touches CA and RA private keys.  Its
 * operations are narrow (sign this certificate, sign this CRL, decrypt
 * this envelope, sign this message) so that the keys can later move into
 * a separate process or a PKCS#11 token without touching callers.  No
 * function hands out an EVP_PKEY.
 */
#ifndef SCEP_CA_KEYRING_H
#define SCEP_CA_KEYRING_H

#include <stddef.h>
#include <openssl/x509.h>
#include <scep/message.h>

struct scep_key; /* opaque: one private key */

/*
 * Loads a PEM private key from path.  Refuses with SCEP_ERR_PERMISSIONS
 * when the file is accessible by group or others.  *out: free with
 * scep_key_free().
 */
int scep_key_load(const char *path, struct scep_key **out);

/*
 * Generates a key (RSA of bits, or EC on curve nid) and writes it as PEM
 * to path with mode 0600, atomically (temp file, fsync, rename).  Refuses
 * with SCEP_ERR_EXISTS if path exists.  *out (may be NULL): free with
 * scep_key_free().
 */
int scep_key_generate(const char *path, int key_type, int rsa_bits, int ec_curve,
                      struct scep_key **out);

void scep_key_free(struct scep_key *k);

/* Sets cert's public key to this key's public half. */
int scep_key_set_pubkey(const struct scep_key *k, X509 *cert);

/* Returns 1 when cert's public key is this key's public half. */
int scep_key_matches(const struct scep_key *k, X509 *cert);

/* Signs a certificate / CRL with md (NULL: SHA-256). */
int scep_key_sign_cert(const struct scep_key *k, X509 *cert, const EVP_MD *md);
int scep_key_sign_crl(const struct scep_key *k, X509_CRL *crl, const EVP_MD *md);

/* scep_msg_decrypt() with this key and its certificate. */
int scep_key_decrypt_msg(const struct scep_key *k, X509 *cert, struct scep_msg *m);

/* scep_msg_build() signing as cert with this key (spec is not modified).
 * *der: free with scep_free(). */
int scep_key_build_msg(const struct scep_key *k, X509 *cert, const struct scep_msg_spec *spec,
                       unsigned char **der, size_t *len);

/* scep_next_ca_build() signing as cert with this key. */
int scep_key_build_next_ca(const struct scep_key *k, X509 *cert, STACK_OF(X509) *next_certs,
                           unsigned char **der, size_t *len);

#endif
