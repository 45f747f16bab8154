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
};

struct scep_ocsp_cache {
    struct ocsp_cache_entry *e;
    size_t n;
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

int ocsp_cache_get(struct scep_ocsp_cache *c, const unsigned char *key, size_t klen,
                   const struct ocsp_cache_state *state, int64_t now, const unsigned char **der,
                   size_t *len, int64_t *this_update, int64_t *next_update)
{
    struct ocsp_cache_entry *e;

    if (c == NULL || klen == 0 || klen > OCSP_CACHE_MAX_KEY)
        return 0;
    e = ocsp_cache_slot(c, key, klen);
    if (e->klen != klen || memcmp(e->key, key, klen) != 0 || !ocsp_cache_same(&e->state, state))
        return 0;
    /* Half-way to nextUpdate it is signed anew: what is served always
     * has half its validity left, and a clock step back does not keep
     * an entry forever. */
    if (now < e->this_update || now - e->this_update >= (e->next_update - e->this_update) / 2)
        return 0;
    *der = e->der;
    *len = e->len;
    *this_update = e->this_update;
    *next_update = e->next_update;
    return 1;
}

void ocsp_cache_put(struct scep_ocsp_cache *c, const unsigned char *key, size_t klen,
                    const struct ocsp_cache_state *state, const unsigned char *der, size_t len,
                    int64_t this_update, int64_t next_update)
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
}
