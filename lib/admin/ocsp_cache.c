/*
 * The OCSP response cache (ocsp_cache.h, admin.h): a fixed table of
 * signed responses, so that answering a nonce-free request for a
 * certificate whose status has not changed costs a store lookup and a
 * copy instead of a signature.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include <scep/error.h>

#include "admin/admin.h"
#include "admin/ocsp_cache.h"

/* One kept response. */
struct ocsp_cache_entry {
    unsigned char key[OCSP_CACHE_MAX_KEY]; /* the CertID's DER */
    size_t klen;                           /* 0: empty */
    struct ocsp_cache_state state;
    unsigned char *der; /* the OCSPResponse, owned */
    size_t len;
    int64_t this_update, next_update;
    uint64_t token; /* the store's change token state was confirmed under */
    int has_token;
};

/* CAs whose CertIDs and fingerprints are remembered (current, next and
 * a few archived; others are computed each time), per digest. */
#define OCSP_CACHE_ISSUERS 8

struct ocsp_issuer_memo {
    X509 *issuer;    /* borrowed from the CA set; NULL: unused */
    int md_nid;      /* NID_undef: only fp is set */
    OCSP_CERTID *id; /* owned; NULL with NID_undef */
    char fp[65];     /* "" until computed */
};

struct scep_ocsp_cache {
    struct ocsp_cache_entry *e;
    size_t n;
    struct ocsp_issuer_memo issuers[OCSP_CACHE_ISSUERS];
};

int scep_ocsp_cache_new(size_t entries, struct scep_ocsp_cache **out)
{
    struct scep_ocsp_cache *c = NULL;

    if (out == NULL || entries == 0 || entries > SCEP_OCSP_CACHE_MAX_ENTRIES)
        return SCEP_ERR_INVALID_ARG;
    if ((c = calloc(1, sizeof(*c))) == NULL || (c->e = calloc(entries, sizeof(*c->e))) == NULL) {
        free(c);
        return SCEP_ERR_NOMEM;
    }
    c->n = entries;
    *out = c;
    return 0;
}

void scep_ocsp_cache_clear(struct scep_ocsp_cache *c)
{
    size_t i;

    if (c == NULL)
        return;
    for (i = 0; i < c->n; i++) {
        free(c->e[i].der);
        memset(&c->e[i], 0, sizeof(c->e[i]));
    }
    for (i = 0; i < OCSP_CACHE_ISSUERS; i++) {
        OCSP_CERTID_free(c->issuers[i].id);
        memset(&c->issuers[i], 0, sizeof(c->issuers[i]));
    }
}

/* The memo of (issuer, nid) in c, else a free one (marked for it), else
 * NULL. */
static struct ocsp_issuer_memo *ocsp_cache_memo(struct scep_ocsp_cache *c, X509 *issuer, int nid)
{
    int i;

    if (c == NULL)
        return NULL;
    for (i = 0; i < OCSP_CACHE_ISSUERS; i++)
        if (c->issuers[i].issuer == issuer && c->issuers[i].md_nid == nid)
            return &c->issuers[i];
    for (i = 0; i < OCSP_CACHE_ISSUERS; i++)
        if (c->issuers[i].issuer == NULL) {
            c->issuers[i].issuer = issuer;
            c->issuers[i].md_nid = nid;
            return &c->issuers[i];
        }
    return NULL;
}

int ocsp_cache_issuer_id(struct scep_ocsp_cache *c, X509 *issuer, const EVP_MD *md,
                         OCSP_CERTID **out, int *owned)
{
    struct ocsp_issuer_memo *m = ocsp_cache_memo(c, issuer, EVP_MD_get_type(md));
    OCSP_CERTID *id;

    if (m != NULL && m->id != NULL) {
        *out = m->id;
        *owned = 0;
        return 0;
    }
    /* With no subject, OCSP_cert_to_id hashes the issuer's own name and
     * key and leaves the serial empty. */
    if ((id = OCSP_cert_to_id(md, NULL, issuer)) == NULL)
        return SCEP_ERR_INTERNAL;
    if (m != NULL) {
        m->id = id;
        *owned = 0;
    } else {
        *owned = 1;
    }
    *out = id;
    return 0;
}

int ocsp_cache_issuer_fp(struct scep_ocsp_cache *c, X509 *issuer, char fp[65])
{
    struct ocsp_issuer_memo *m = ocsp_cache_memo(c, issuer, NID_undef);
    int rc;

    if (m != NULL && m->fp[0] != '\0') {
        memcpy(fp, m->fp, 65);
        return 0;
    }
    if ((rc = scep_cert_fingerprint(issuer, fp)) != 0)
        return rc;
    if (m != NULL)
        memcpy(m->fp, fp, 65);
    return 0;
}

void scep_ocsp_cache_free(struct scep_ocsp_cache *c)
{
    if (c == NULL)
        return;
    scep_ocsp_cache_clear(c);
    free(c->e);
    free(c);
}

/* The entry key maps to: FNV-1a over the CertID (its serial is random,
 * so this spreads well). */
static struct ocsp_cache_entry *ocsp_cache_slot(struct scep_ocsp_cache *c, const unsigned char *key,
                                                size_t klen)
{
    uint64_t h = 1469598103934665603ULL;
    size_t i;

    for (i = 0; i < klen; i++) {
        h ^= key[i];
        h *= 1099511628211ULL;
    }
    return &c->e[h % c->n];
}

static int ocsp_cache_same(const struct ocsp_cache_state *a, const struct ocsp_cache_state *b)
{
    return a->status == b->status && a->reason == b->reason && a->revoked_at == b->revoked_at &&
           strcmp(a->issuer_fp, b->issuer_fp) == 0;
}

/* Half-way to nextUpdate an entry is signed anew: what is served always
 * has half its validity left, and a clock step back does not keep an
 * entry forever. */
static int ocsp_cache_fresh(const struct ocsp_cache_entry *e, int64_t now)
{
    return now >= e->this_update && now - e->this_update < (e->next_update - e->this_update) / 2;
}

int ocsp_cache_get_unchanged(struct scep_ocsp_cache *c, const unsigned char *key, size_t klen,
                             uint64_t token, int64_t now, struct ocsp_cache_state *state,
                             const unsigned char **der, size_t *len, int64_t *this_update,
                             int64_t *next_update)
{
    struct ocsp_cache_entry *e;

    if (c == NULL || klen == 0 || klen > OCSP_CACHE_MAX_KEY)
        return 0;
    e = ocsp_cache_slot(c, key, klen);
    if (e->klen != klen || memcmp(e->key, key, klen) != 0 || !e->has_token || e->token != token ||
        !ocsp_cache_fresh(e, now))
        return 0;
    *state = e->state;
    *der = e->der;
    *len = e->len;
    *this_update = e->this_update;
    *next_update = e->next_update;
    return 1;
}

int ocsp_cache_get(struct scep_ocsp_cache *c, const unsigned char *key, size_t klen,
                   const struct ocsp_cache_state *state, uint64_t token, int has_token, int64_t now,
                   const unsigned char **der, size_t *len, int64_t *this_update,
                   int64_t *next_update)
{
    struct ocsp_cache_entry *e;

    if (c == NULL || klen == 0 || klen > OCSP_CACHE_MAX_KEY)
        return 0;
    e = ocsp_cache_slot(c, key, klen);
    if (e->klen != klen || memcmp(e->key, key, klen) != 0 || !ocsp_cache_same(&e->state, state))
        return 0;
    if (!ocsp_cache_fresh(e, now))
        return 0;
    e->token = token;
    e->has_token = has_token;
    *der = e->der;
    *len = e->len;
    *this_update = e->this_update;
    *next_update = e->next_update;
    return 1;
}

void ocsp_cache_put(struct scep_ocsp_cache *c, const unsigned char *key, size_t klen,
                    const struct ocsp_cache_state *state, uint64_t token, int has_token,
                    const unsigned char *der, size_t len, int64_t this_update, int64_t next_update)
{
    struct ocsp_cache_entry *e;
    unsigned char *copy;

    if (c == NULL || klen == 0 || klen > OCSP_CACHE_MAX_KEY || der == NULL || len == 0)
        return;
    if ((copy = malloc(len)) == NULL)
        return;
    memcpy(copy, der, len);
    e = ocsp_cache_slot(c, key, klen);
    free(e->der);
    memcpy(e->key, key, klen);
    e->klen = klen;
    e->state = *state;
    e->der = copy;
    e->len = len;
    e->this_update = this_update;
    e->next_update = next_update;
    e->token = token;
    e->has_token = has_token;
}
