/*
 * Signed OCSP responses kept for reuse (lib/admin internal): one entry
 * per CertID (its DER, so a SHA-1 and a SHA-256 CertID of one
 * certificate are two entries), with the status it was signed for.  Only
 * answers to nonce-free single-CertID requests are kept, since a nonce
 * makes each answer unique.  An entry is served only while the store
 * still says what it was signed for and it is less than half-way to its
 * nextUpdate, so a revocation (or an unhold) is answered at once and a
 * served response always has half its validity left.  Direct-mapped:
 * a colliding CertID replaces the entry.  Not thread-safe: one cache per
 * worker thread.
 */
#ifndef SCEP_ADMIN_OCSP_CACHE_H
#define SCEP_ADMIN_OCSP_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ocsp.h>
#include <openssl/x509.h>

/* Longest CertID DER kept (a SHA-512 CertID with a 20-octet serial is
 * about 160 bytes). */
#define OCSP_CACHE_MAX_KEY 192

/* What a response said about its one certificate, to tell whether it
 * still holds. */
struct ocsp_cache_state {
    char issuer_fp[65];
    int status;         /* V_OCSP_CERTSTATUS_* */
    int reason;         /* OCSP_REVOKED_STATUS_* */
    int64_t revoked_at; /* 0 unless revoked */
};

struct scep_ocsp_cache;

/*
 * What every request for a CA would compute again, kept in c (may be
 * NULL: computed each time): the CertID of issuer (a CA certificate of
 * the set c serves; borrowed pointers, which is why the cache must be
 * emptied when the CA set changes) under md, with no serial, as
 * OCSP_cert_to_id makes it, and issuer's fingerprint.  _issuer_id:
 * *out borrowed from c, or owned (OCSP_CERTID_free) when *owned is set;
 * returns 0 or SCEP_ERR_*.  _issuer_fp: fills fp; returns 0 or
 * SCEP_ERR_*.
 */
int ocsp_cache_issuer_id(struct scep_ocsp_cache *c, X509 *issuer, const EVP_MD *md,
                         OCSP_CERTID **out, int *owned);
int ocsp_cache_issuer_fp(struct scep_ocsp_cache *c, X509 *issuer, char fp[65]);

/*
 * The cached response for the CertID key (klen bytes) if it was signed
 * for state and is still fresh at now: *der borrowed from the cache
 * (valid until the next call on it), with its times.  A hit records
 * token (scep_store_change_token, taken before state was read; has_token
 * 0: none) as the store's state it was last confirmed under.  Returns 1
 * when found, 0 otherwise.
 */
int ocsp_cache_get(struct scep_ocsp_cache *c, const unsigned char *key, size_t klen,
                   const struct ocsp_cache_state *state, uint64_t token, int has_token, int64_t now,
                   const unsigned char **der, size_t *len, int64_t *this_update,
                   int64_t *next_update);

/*
 * The same without reading the store: the cached response for key if it
 * was confirmed under token (nothing committed since) and is fresh at
 * now, with the state it says in *state.  Returns 1 when found, 0
 * otherwise (then read the store and call ocsp_cache_get).
 */
int ocsp_cache_get_unchanged(struct scep_ocsp_cache *c, const unsigned char *key, size_t klen,
                             uint64_t token, int64_t now, struct ocsp_cache_state *state,
                             const unsigned char **der, size_t *len, int64_t *this_update,
                             int64_t *next_update);

/* Keeps a copy of der for key, signed for state at this_update, read
 * under token (has_token 0: none).  Out of memory just keeps nothing. */
void ocsp_cache_put(struct scep_ocsp_cache *c, const unsigned char *key, size_t klen,
                    const struct ocsp_cache_state *state, uint64_t token, int has_token,
                    const unsigned char *der, size_t len, int64_t this_update, int64_t next_update);

#endif
