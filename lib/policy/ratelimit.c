/*
 * Token buckets (see ratelimit.h).  The buckets live in one array of
 * max_keys entries allocated up front; a linear-probing index of twice
 * that many slots maps a key to its entry, and a doubly linked list
 * through the entries orders them by last use.  Entries never move, so
 * the list links stay valid when the index shifts slots on a removal.
 *
 * The index hashes keys with SipHash-2-4 under a random key drawn when
 * the table is made: keys come from clients (a challenge, an address),
 * and a hash they could predict would let them pile every key into one
 * probe run and turn each look-up into a scan of the table.
 *
 * Locking: one mutex around every look-up and update.  The critical
 * section is a hash, a few probes and some arithmetic, far below the
 * cost of the SCEP request it guards.
 */
#include "policy/ratelimit.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <scep/error.h>

/* No entry: end of the last-use list. */
#define RL_NIL UINT32_MAX
/* Least recently used entries looked at for a full bucket before the
 * least recently used one is evicted anyway: bounds the work a new key
 * costs while finding the full buckets, which sit near the old end. */
#define RL_EVICT_SCAN 16
/* Longest retry_after reported (seconds): a rate so small that the
 * wait overflows a long is the same as "much later". */
#define RL_MAX_RETRY (86400L * 366)

struct rl_entry {
    unsigned char key[SCEP_RATELIMIT_MAX_KEY];
    uint8_t klen;   /* bytes of key in use */
    uint8_t hashed; /* key holds the SHA-256 of a longer key */
    uint64_t hash;
    double tokens;       /* at last */
    double last;         /* time of the last refill */
    uint32_t prev, next; /* last-use list: prev is more recent */
};

struct scep_ratelimit {
    pthread_mutex_t lock;
    double rate; /* tokens per second */
    double burst;
    size_t max_keys, n; /* entries 0..n-1 are in use */
    struct rl_entry *ents;
    uint32_t *slots;     /* entry index + 1; 0: empty */
    size_t mask;         /* slots - 1 (a power of two) */
    uint32_t head, tail; /* most and least recently used */
    uint64_t k0, k1;     /* SipHash key */
};

/* ---- SipHash-2-4 (Aumasson, Bernstein 2012) --------------------------- */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = ROTL(v1, 13);                                                                         \
        v1 ^= v0;                                                                                  \
        v0 = ROTL(v0, 32);                                                                         \
        v2 += v3;                                                                                  \
        v3 = ROTL(v3, 16);                                                                         \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = ROTL(v3, 21);                                                                         \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = ROTL(v1, 17);                                                                         \
        v1 ^= v2;                                                                                  \
        v2 = ROTL(v2, 32);                                                                         \
    } while (0)

static uint64_t load_le64(const unsigned char *p)
{
    uint64_t v = 0;
    int i;

    for (i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t siphash(uint64_t k0, uint64_t k1, const unsigned char *in, size_t len)
{
    uint64_t v0 = k0 ^ 0x736f6d6570736575ULL, v1 = k1 ^ 0x646f72616e646f6dULL;
    uint64_t v2 = k0 ^ 0x6c7967656e657261ULL, v3 = k1 ^ 0x7465646279746573ULL;
    uint64_t m, b = (uint64_t)len << 56;
    size_t i, left = len & 7;

    for (i = 0; i + 8 <= len; i += 8) {
        m = load_le64(in + i);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    for (m = 0; left > 0; left--)
        m |= (uint64_t)in[i + left - 1] << (8 * (left - 1));
    b |= m;
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

/* ---- the table -------------------------------------------------------- */

/* Makes a table (see ratelimit.h).  *out: scep_ratelimit_free(). */
int scep_ratelimit_new(double rate_per_minute, unsigned burst, size_t max_keys,
                       struct scep_ratelimit **out)
{
    struct scep_ratelimit *rl = NULL;
    unsigned char seed[16];
    size_t nslots = 1;
    int rc = SCEP_ERR_INVALID_ARG;

    if (out == NULL || !isfinite(rate_per_minute) || rate_per_minute <= 0 || burst < 1 ||
        max_keys < 1 || max_keys > SCEP_RATELIMIT_MAX_KEYS)
        goto out;
    rc = SCEP_ERR_NOMEM;
    if ((rl = calloc(1, sizeof(*rl))) == NULL)
        goto out;
    /* Twice as many slots as entries keeps probe runs short. */
    while (nslots < 2 * max_keys)
        nslots <<= 1;
    rl->ents = calloc(max_keys, sizeof(*rl->ents));
    rl->slots = calloc(nslots, sizeof(*rl->slots));
    if (rl->ents == NULL || rl->slots == NULL)
        goto out;
    rc = SCEP_ERR_INTERNAL;
    if (RAND_bytes(seed, (int)sizeof(seed)) != 1)
        goto out;
    if (pthread_mutex_init(&rl->lock, NULL) != 0)
        goto out;
    rl->k0 = load_le64(seed);
    rl->k1 = load_le64(seed + 8);
    rl->rate = rate_per_minute / 60.0;
    rl->burst = (double)burst;
    rl->max_keys = max_keys;
    rl->mask = nslots - 1;
    rl->head = rl->tail = RL_NIL;
    *out = rl;
    rl = NULL;
    rc = 0;
out:
    if (rl != NULL) {
        free(rl->ents);
        free(rl->slots);
        free(rl);
    }
    return rc;
}

/* Frees rl.  Accepts NULL. */
void scep_ratelimit_free(struct scep_ratelimit *rl)
{
    if (rl == NULL)
        return;
    pthread_mutex_destroy(&rl->lock);
    free(rl->ents);
    free(rl->slots);
    free(rl);
}

/* The key as the table keeps it: verbatim up to SCEP_RATELIMIT_MAX_KEY
 * bytes, else its SHA-256 (flagged, so that it cannot equal a short key
 * made of the same 32 bytes).  Returns 0 or -1 (digest failure). */
static int key_norm(const char *key, unsigned char *buf, uint8_t *klen, uint8_t *hashed)
{
    size_t len = strnlen(key, SCEP_RATELIMIT_MAX_KEY + 1);

    if (len <= SCEP_RATELIMIT_MAX_KEY) {
        memcpy(buf, key, len);
        *klen = (uint8_t)len;
        *hashed = 0;
        return 0;
    }
    if (EVP_Digest(key, strlen(key), buf, NULL, EVP_sha256(), NULL) != 1)
        return -1;
    *klen = SHA256_DIGEST_LENGTH;
    *hashed = 1;
    return 0;
}

static void lru_unlink(struct scep_ratelimit *rl, uint32_t i)
{
    struct rl_entry *e = &rl->ents[i];

    if (e->prev != RL_NIL)
        rl->ents[e->prev].next = e->next;
    else
        rl->head = e->next;
    if (e->next != RL_NIL)
        rl->ents[e->next].prev = e->prev;
    else
        rl->tail = e->prev;
    e->prev = e->next = RL_NIL;
}

static void lru_push_head(struct scep_ratelimit *rl, uint32_t i)
{
    struct rl_entry *e = &rl->ents[i];

    e->prev = RL_NIL;
    e->next = rl->head;
    if (rl->head != RL_NIL)
        rl->ents[rl->head].prev = i;
    rl->head = i;
    if (rl->tail == RL_NIL)
        rl->tail = i;
}

/* The slot holding entry i (which is in the index). */
static size_t slot_of(const struct scep_ratelimit *rl, uint32_t i)
{
    size_t pos = (size_t)rl->ents[i].hash & rl->mask;

    while (rl->slots[pos] != i + 1)
        pos = (pos + 1) & rl->mask;
    return pos;
}

/* Removes entry i from the index, shifting later members of its probe
 * run back so that no look-up stops early at the hole (no tombstones,
 * so the index never degrades however many keys come and go). */
static void index_remove(struct scep_ratelimit *rl, uint32_t i)
{
    size_t hole = slot_of(rl, i), j = hole, home;

    for (;;) {
        j = (j + 1) & rl->mask;
        if (rl->slots[j] == 0)
            break;
        home = (size_t)rl->ents[rl->slots[j] - 1].hash & rl->mask;
        /* The member at j may move into the hole unless its home lies
         * cyclically in (hole, j]. */
        if (hole <= j ? (home <= hole || home > j) : (home <= hole && home > j)) {
            rl->slots[hole] = rl->slots[j];
            hole = j;
        }
    }
    rl->slots[hole] = 0;
}

static void index_insert(struct scep_ratelimit *rl, uint32_t i)
{
    size_t pos = (size_t)rl->ents[i].hash & rl->mask;

    while (rl->slots[pos] != 0)
        pos = (pos + 1) & rl->mask;
    rl->slots[pos] = i + 1;
}

/* The entry for a normalized key, RL_NIL when none. */
static uint32_t index_find(const struct scep_ratelimit *rl, uint64_t h, const unsigned char *key,
                           uint8_t klen, uint8_t hashed)
{
    size_t pos = (size_t)h & rl->mask;

    while (rl->slots[pos] != 0) {
        const struct rl_entry *e = &rl->ents[rl->slots[pos] - 1];

        if (e->hash == h && e->klen == klen && e->hashed == hashed &&
            memcmp(e->key, key, klen) == 0)
            return rl->slots[pos] - 1;
        pos = (pos + 1) & rl->mask;
    }
    return RL_NIL;
}

/* Tokens of e at now, without changing it. */
static double tokens_at(const struct scep_ratelimit *rl, const struct rl_entry *e, double now)
{
    double t = e->tokens;

    if (now > e->last)
        t += (now - e->last) * rl->rate;
    return t < rl->burst ? t : rl->burst;
}

/* The entry a new key may take over when the table is full: a full
 * bucket among the RL_EVICT_SCAN least recently used (forgetting it
 * changes nothing), else the least recently used. */
static uint32_t pick_victim(const struct scep_ratelimit *rl, double now)
{
    uint32_t i = rl->tail;
    int k;

    for (k = 0; k < RL_EVICT_SCAN && i != RL_NIL; k++, i = rl->ents[i].prev)
        if (tokens_at(rl, &rl->ents[i], now) >= rl->burst)
            return i;
    return rl->tail;
}

/* Takes a token for key at now (see ratelimit.h).  Returns 1 or 0. */
int scep_ratelimit_take(struct scep_ratelimit *rl, const char *key, double now, long *retry_after)
{
    unsigned char nk[SCEP_RATELIMIT_MAX_KEY];
    struct rl_entry *e;
    uint8_t klen, hashed;
    uint64_t h;
    uint32_t i;
    int allowed = 1;

    if (rl == NULL || key == NULL)
        return 1;
    /* A key that cannot be digested (OpenSSL out of memory) is let
     * through: refusing would turn an allocation failure into an outage. */
    if (key_norm(key, nk, &klen, &hashed) != 0)
        return 1;
    h = siphash(rl->k0, rl->k1, nk, klen);
    pthread_mutex_lock(&rl->lock);
    i = index_find(rl, h, nk, klen, hashed);
    if (i == RL_NIL) {
        if (rl->n < rl->max_keys) {
            i = (uint32_t)rl->n++;
        } else {
            i = pick_victim(rl, now);
            index_remove(rl, i);
            lru_unlink(rl, i);
        }
        e = &rl->ents[i];
        memcpy(e->key, nk, klen);
        e->klen = klen;
        e->hashed = hashed;
        e->hash = h;
        e->tokens = rl->burst;
        e->last = now;
        index_insert(rl, i);
        lru_push_head(rl, i);
    } else {
        e = &rl->ents[i];
        e->tokens = tokens_at(rl, e, now);
        if (now > e->last)
            e->last = now;
        lru_unlink(rl, i);
        lru_push_head(rl, i);
    }
    if (e->tokens >= 1.0) {
        e->tokens -= 1.0;
    } else {
        double wait = ceil((1.0 - e->tokens) / rl->rate);

        allowed = 0;
        if (retry_after != NULL)
            *retry_after = wait < 1.0 ? 1 : wait > (double)RL_MAX_RETRY ? RL_MAX_RETRY : (long)wait;
    }
    pthread_mutex_unlock(&rl->lock);
    return allowed;
}

/* Whether a take would be allowed now; see ratelimit.h. */
int scep_ratelimit_peek(struct scep_ratelimit *rl, const char *key, double now, long *retry_after)
{
    unsigned char nk[SCEP_RATELIMIT_MAX_KEY];
    uint8_t klen, hashed;
    uint64_t h;
    uint32_t i;
    int allowed = 1;

    if (rl == NULL || key == NULL)
        return 1;
    if (key_norm(key, nk, &klen, &hashed) != 0)
        return 1;
    h = siphash(rl->k0, rl->k1, nk, klen);
    pthread_mutex_lock(&rl->lock);
    i = index_find(rl, h, nk, klen, hashed);
    /* No bucket yet is a full one; a bucket is only read, so that
     * looking costs the key nothing and makes no entry. */
    if (i != RL_NIL) {
        double t = tokens_at(rl, &rl->ents[i], now);

        if (t < 1.0) {
            double wait = ceil((1.0 - t) / rl->rate);

            allowed = 0;
            if (retry_after != NULL)
                *retry_after = wait < 1.0                    ? 1
                               : wait > (double)RL_MAX_RETRY ? RL_MAX_RETRY
                                                             : (long)wait;
        }
    }
    pthread_mutex_unlock(&rl->lock);
    return allowed;
}

/* Buckets held now. */
size_t scep_ratelimit_count(struct scep_ratelimit *rl)
{
    size_t n;

    if (rl == NULL)
        return 0;
    pthread_mutex_lock(&rl->lock);
    n = rl->n;
    pthread_mutex_unlock(&rl->lock);
    return n;
}

/* CLOCK_MONOTONIC in seconds (0 if the clock cannot be read, which
 * POSIX rules out for CLOCK_MONOTONIC where it exists). */
double scep_ratelimit_now(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
