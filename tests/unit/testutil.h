/*
 * Helpers shared by the cmocka unit tests: throwaway keys, self-signed
 * certificates, CSRs and temporary directories.  Every returned object is
 * owned by the caller and freed with the usual OpenSSL _free / free().
 * Failures abort the test program (these are tests, not the library).
 */
#ifndef SCEP_TESTUTIL_H
#define SCEP_TESTUTIL_H

#include <openssl/evp.h>
#include <openssl/x509.h>

/* RSA key of bits (cached per size: the same key comes back, up-ref'd). */
EVP_PKEY *tu_rsa_key(int bits);
/* A fresh RSA key of bits, never cached. */
EVP_PKEY *tu_rsa_key_fresh(int bits);
/* EC P-256 key. */
EVP_PKEY *tu_ec_key(void);
/* Self-signed certificate for key with CN cn, valid for a day, SHA-256,
 * keyUsage digitalSignature+keyEncipherment. */
X509 *tu_self_signed(EVP_PKEY *key, const char *cn);
/* PKCS#10 with CN cn, challengePassword challenge (NULL: none), and
 * dns_san as a subjectAltName DNS entry (NULL: none), signed SHA-256. */
X509_REQ *tu_csr(EVP_PKEY *key, const char *cn, const char *challenge, const char *dns_san);
/* mkdtemp under $TMPDIR or /tmp; free() the result. */
char *tu_tempdir(void);
/* rm -rf path (for temp dirs only). */
void tu_rmrf(const char *path);
/* Reads a whole file; *len set; free() the result; NULL if missing. */
unsigned char *tu_read_file(const char *path, size_t *len);

#endif
