/*
 * Certificate facts as the store records them: an X509 turned into the
 * text columns of struct scep_cert_info (serial in hex, RFC 2253 subject,
 * subjectAltNames as text, validity as Unix time, fingerprints).  Used by
 * the service when it stores what it issued and when it matches requests
 * against stored records, and by lib/admin's import of external
 * certificates (import.c), so every row of the inventory formats
 * serials, subjects and keys the same way; scepctl may use it for the
 * same reason.
 */
#ifndef SCEP_ADMIN_CERTINFO_H
#define SCEP_ADMIN_CERTINFO_H

#include <stddef.h>
#include <openssl/x509.h>
#include "store/store.h"
#include "util/hex.h"

/* Lowercase hex SHA-256 of the key's SubjectPublicKeyInfo DER into out.
 * Returns 0 or SCEP_ERR_INTERNAL. */
int scep_pubkey_fingerprint(EVP_PKEY *pkey, char out[65]);

/*
 * Writes name in RFC 2253 form (X509_NAME_print_ex, XN_FLAG_RFC2253).
 * *out: free with free().  Returns 0, SCEP_ERR_TOO_LARGE past
 * SCEP_MAX_SUBJECT, or SCEP_ERR_NOMEM.
 */
int scep_name_rfc2253(const X509_NAME *name, char **out);

/*
 * Formats cert's subjectAltNames as "DNS:a.example, IP:192.0.2.1, ...".
 * *out is NULL when the certificate (or request extensions) have none;
 * free with free().  exts is the extension list to read (a certificate's
 * via X509_get0_extensions, a CSR's via X509_REQ_get_extensions).
 * Returns 0, SCEP_ERR_TOO_LARGE past SCEP_MAX_SANS names, SCEP_ERR_NOMEM.
 */
int scep_sans_text(const STACK_OF(X509_EXTENSION) *exts, char **out);

/*
 * Fills the certificate columns of ci from cert: serial, issuer_fp (a
 * copy of issuer_fp, may be NULL), subject, sans, not_before, not_after,
 * pubkey_fp, der/der_len.  The other fields are zeroed for the caller to
 * set (as borrowed pointers).  Release with scep_certinfo_clear(), not
 * scep_cert_info_free().  Returns 0 or SCEP_ERR_*; ci is zeroed on
 * failure.
 */
int scep_certinfo_from_x509(X509 *cert, const char *issuer_fp, struct scep_cert_info *ci);

/* Frees the fields scep_certinfo_from_x509() allocated and zeroes ci. */
void scep_certinfo_clear(struct scep_cert_info *ci);

#endif
