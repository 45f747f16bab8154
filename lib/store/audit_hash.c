/*
 * The audit hash chain, shared by every store backend.  Each audit event
 * carries hash = SHA-256(prev_hash || encoding of the event), where
 * prev_hash is the hash of the event before it (64 zeros for the first).
 * Changing, inserting or deleting any event but the newest breaks every
 * hash after it, which scep_store_verify_audit() detects.
 *
 * The encoding is unambiguous so that no two different events hash the
 * same input: a version tag, then the id and time as 8-byte big-endian
 * integers, then each string field as a presence byte (0: NULL, 1: set)
 * and an 8-byte big-endian length before its bytes.  "ab"+"c" and
 * "a"+"bc", or NULL and "", therefore never collide.  The id is part of
 * the input so that events cannot be renumbered either.
 */
#include "store_backend.h"

#include <string.h>

#include <openssl/evp.h>

#include <scep/error.h>

/* Bumped if the encoding ever changes; a new version needs a migration
 * that records which events use which. */
#define AUDIT_HASH_TAG "scep-audit-v1"

static int put_u64(EVP_MD_CTX *md, uint64_t v)
{
    unsigned char b[8];
    int i;

    for (i = 7; i >= 0; i--) {
        b[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
    return EVP_DigestUpdate(md, b, sizeof(b));
}

static int put_str(EVP_MD_CTX *md, const char *s)
{
    unsigned char present = s != NULL ? 1 : 0;
    size_t len = s != NULL ? strlen(s) : 0;

    if (!EVP_DigestUpdate(md, &present, 1) || !put_u64(md, (uint64_t)len))
        return 0;
    return len == 0 || EVP_DigestUpdate(md, s, len);
}

/*
 * Computes the chained hash of event ev with sequence number id after
 * prev_hash; see the top of this file for the encoding.  Writes 64
 * lowercase hex digits and a NUL to out.  Returns 0, or
 * SCEP_ERR_INTERNAL if OpenSSL fails (out is then untouched).
 */
int scep_audit_hash(const char *prev_hash, int64_t id, const struct scep_audit_event *ev,
                    char out[SCEP_AUDIT_HASH_HEX])
{
    static const char hex[] = "0123456789abcdef";
    int rc = SCEP_ERR_INTERNAL;
    EVP_MD_CTX *md = NULL;
    unsigned char dgst[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    unsigned int i;

    if (prev_hash == NULL || ev == NULL || out == NULL)
        return SCEP_ERR_INVALID_ARG;
    /*
     * Streamed through an EVP_MD_CTX rather than one EVP_Digest() call so
     * the variable-length fields need no scratch buffer.  EVP_sha256() is
     * OpenSSL 3's implicitly fetched digest from the default provider.
     */
    md = EVP_MD_CTX_new();
    if (md == NULL)
        goto out;
    if (!EVP_DigestInit_ex(md, EVP_sha256(), NULL) || !put_str(md, AUDIT_HASH_TAG) ||
        !put_str(md, prev_hash) || !put_u64(md, (uint64_t)id) || !put_u64(md, (uint64_t)ev->time) ||
        !put_str(md, ev->kind) || !put_str(md, ev->actor) || !put_str(md, ev->transaction_id) ||
        !put_str(md, ev->peer) || !put_str(md, ev->serial) || !put_str(md, ev->detail) ||
        !EVP_DigestFinal_ex(md, dgst, &dlen) || dlen != 32)
        goto out;
    for (i = 0; i < dlen; i++) {
        out[2 * i] = hex[dgst[i] >> 4];
        out[2 * i + 1] = hex[dgst[i] & 0x0f];
    }
    out[2 * dlen] = '\0';
    rc = 0;
out:
    EVP_MD_CTX_free(md);
    return rc;
}
