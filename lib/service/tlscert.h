/*
 * A TLS server certificate that scepd issues to itself from its own CA:
 * the admin listener's, made on first start so that the admin API is
 * HTTPS without an operator having to bring a certificate.  It is an
 * ordinary certificate of the CA (stored, audited, listed, revocable,
 * on the CRL when revoked), for a key made here and written 0600.
 */
#ifndef SCEP_SERVICE_TLSCERT_H
#define SCEP_SERVICE_TLSCERT_H

#include <stddef.h>

#include "ca/ca.h"
#include "store/store.h"

/* Most names one such certificate carries. */
#define SCEP_TLSCERT_MAX_HOSTS 8
/* Validity of one, and how long before its end it is issued again at
 * the next start. */
#define SCEP_TLSCERT_VALIDITY_DAYS 397
#define SCEP_TLSCERT_RENEW_DAYS 30

/*
 * Makes sure cert_path and key_path hold a certificate of ca's current
 * CA for the nhosts (1 to SCEP_TLSCERT_MAX_HOSTS) names in hosts (host
 * names or IP address literals; the first is also the CN).  Kept as
 * they are when the certificate parses, its key is the one in key_path,
 * it was signed by the current CA, it names every host (as DNS or IP
 * subjectAltName) and it is valid for more than SCEP_TLSCERT_RENEW_DAYS.
 * Otherwise a new P-256 key is written to key_path (mode 0600,
 * atomically), a certificate for it (serverAuth, valid
 * SCEP_TLSCERT_VALIDITY_DAYS) is issued, stored in st with an "issue"
 * audit event by actor, and written to cert_path followed by the CA
 * certificate.  *issued (may be NULL): 1 when a certificate was issued.
 * Returns 0, or SCEP_ERR_* with one line in why (whylen bytes).
 */
int scep_tls_cert_ensure(struct scep_store *st, const struct scep_ca *ca, const char *cert_path,
                         const char *key_path, const char *const *hosts, size_t nhosts,
                         const char *actor, int *issued, char *why, size_t whylen);

#endif
