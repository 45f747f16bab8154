/*
 * scepd's process-wide connection budgets (connlimit.h): a table of open
 * connections per client key under one mutex, and an atomic total of
 * the bytes held by requests still arriving.
 *
 * The table is a chained hash that doubles when it holds as many
 * entries as buckets; an entry goes when its client's last connection
 * closes.  A worker takes the lock twice per connection (open, close),
 * never per request.
 *
 * The memory total is an atomic, since every byte a connection reads
 * adds to it.  Going over the limit wakes every worker once
 * (scepd_connlimit_alarm), and not again until the total has fallen
 * back to three quarters of the limit: a worker that keeps reading
 * while the total is over sheds its own connections anyway (conn.c).
 */
#include "connlimit.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/server_limits.h"
#include "limits.h"

struct cl_entry {
    char key[SCEPD_CONNLIMIT_KEY];
    long n;
    struct cl_entry *next;
};

struct cl_watch {
    scepd_connlimit_over_fn *fn;
    void *arg;
};

struct scepd_connlimit {
    int per_client;
    size_t max_memory;

    pthread_mutex_t lock; /* the table */
    struct cl_entry **ht;
    size_t htcap; /* a power of two, or 0 */
    size_t nentries;

    _Atomic long long held;
    atomic_int alarmed; /* the workers were woken; cleared at 3/4 of max_memory */

    pthread_mutex_t wlock; /* the watchers */
    struct cl_watch watch[SCEP_MAX_WORKERS];
    int nwatch;
};

/* Makes the budgets (see connlimit.h).  *out: scepd_connlimit_free(). */
int scepd_connlimit_new(int per_client, size_t max_memory, struct scepd_connlimit **out)
{
    struct scepd_connlimit *l;

    if (out == NULL || per_client < 0)
        return -1;
    l = calloc(1, sizeof(*l));
    if (l == NULL)
        return -1;
    if (pthread_mutex_init(&l->lock, NULL) != 0) {
        free(l);
        return -1;
    }
    if (pthread_mutex_init(&l->wlock, NULL) != 0) {
        pthread_mutex_destroy(&l->lock);
        free(l);
        return -1;
    }
    l->per_client = per_client;
    l->max_memory = max_memory;
    *out = l;
    return 0;
}

/* Frees l and what its table still holds.  Accepts NULL. */
void scepd_connlimit_free(struct scepd_connlimit *l)
{
    size_t i;

    if (l == NULL)
        return;
    for (i = 0; i < l->htcap; i++) {
        struct cl_entry *e = l->ht[i], *next;

        for (; e != NULL; e = next) {
            next = e->next;
            free(e);
        }
    }
    free(l->ht);
    pthread_mutex_destroy(&l->lock);
    pthread_mutex_destroy(&l->wlock);
    free(l);
}

/* FNV-1a: keys are addresses a client chooses only within its /64 or
 * its one IPv4 address, so a keyed hash buys nothing here. */
static size_t cl_hash(const char *key, size_t cap)
{
    uint32_t h = 2166136261u;

    for (; *key != '\0'; key++) {
        h ^= (unsigned char)*key;
        h *= 16777619u;
    }
    return (size_t)h & (cap - 1);
}

/* Doubles the table (or makes it); on failure the chains grow longer. */
static void cl_grow(struct scepd_connlimit *l)
{
    size_t cap = l->htcap != 0 ? l->htcap * 2 : 256, i;
    struct cl_entry **ht = calloc(cap, sizeof(*ht));

    if (ht == NULL)
        return;
    for (i = 0; i < l->htcap; i++) {
        struct cl_entry *e = l->ht[i], *next;

        for (; e != NULL; e = next) {
            size_t h = cl_hash(e->key, cap);

            next = e->next;
            e->next = ht[h];
            ht[h] = e;
        }
    }
    free(l->ht);
    l->ht = ht;
    l->htcap = cap;
}

/* The entry of key, or NULL; *pp (may be NULL) the link pointing at it.
 * Under the lock. */
static struct cl_entry *cl_find(struct scepd_connlimit *l, const char *key, struct cl_entry ***pp)
{
    struct cl_entry **p;

    if (l->htcap == 0)
        return NULL;
    for (p = &l->ht[cl_hash(key, l->htcap)]; *p != NULL; p = &(*p)->next) {
        if (strcmp((*p)->key, key) == 0) {
            if (pp != NULL)
                *pp = p;
            return *p;
        }
    }
    return NULL;
}

/* Counts a connection of peer, or refuses it (see connlimit.h). */
int scepd_connlimit_take(struct scepd_connlimit *l, const char *peer, char *key)
{
    char k[SCEPD_CONNLIMIT_KEY];
    struct cl_entry *e;
    int rc = 1;

    key[0] = '\0';
    if (l == NULL || l->per_client == 0 || peer == NULL ||
        scepd_limits_address_key(peer, k, sizeof(k)) != 0)
        return 1;
    pthread_mutex_lock(&l->lock);
    e = cl_find(l, k, NULL);
    if (e == NULL) {
        if (l->nentries >= l->htcap)
            cl_grow(l);
        /* Without memory for an entry the connection is let through
         * uncounted: refusing would turn an allocation failure into an
         * outage for every new client. */
        if (l->htcap != 0 && (e = calloc(1, sizeof(*e))) != NULL) {
            size_t h = cl_hash(k, l->htcap);

            memcpy(e->key, k, sizeof(e->key));
            e->next = l->ht[h];
            l->ht[h] = e;
            l->nentries++;
        }
    }
    if (e != NULL && e->n >= l->per_client) {
        rc = 0;
    } else if (e != NULL) {
        e->n++;
        memcpy(key, k, sizeof(k));
    }
    pthread_mutex_unlock(&l->lock);
    return rc;
}

/* Uncounts a connection of key; the entry goes with its last one. */
void scepd_connlimit_release(struct scepd_connlimit *l, const char *key)
{
    struct cl_entry *e, **pp = NULL;

    if (l == NULL || key == NULL || key[0] == '\0')
        return;
    pthread_mutex_lock(&l->lock);
    e = cl_find(l, key, &pp);
    if (e != NULL && --e->n <= 0) {
        *pp = e->next;
        l->nentries--;
        free(e);
    }
    pthread_mutex_unlock(&l->lock);
}

/* Connections counted for peer now. */
long scepd_connlimit_count(struct scepd_connlimit *l, const char *peer)
{
    char k[SCEPD_CONNLIMIT_KEY];
    struct cl_entry *e;
    long n = 0;

    if (l == NULL || peer == NULL || scepd_limits_address_key(peer, k, sizeof(k)) != 0)
        return 0;
    pthread_mutex_lock(&l->lock);
    if ((e = cl_find(l, k, NULL)) != NULL)
        n = e->n;
    pthread_mutex_unlock(&l->lock);
    return n;
}

int scepd_connlimit_per_client(const struct scepd_connlimit *l)
{
    return l != NULL ? l->per_client : 0;
}

/* Adds delta to the held memory; 1 when it is over the limit then. */
int scepd_connlimit_hold(struct scepd_connlimit *l, long delta)
{
    long long now;

    if (l == NULL || delta == 0)
        return 0;
    now = atomic_fetch_add_explicit(&l->held, delta, memory_order_relaxed) + delta;
    if (l->max_memory == 0)
        return 0;
    if (now <= (long long)(l->max_memory / 4 * 3))
        atomic_store_explicit(&l->alarmed, 0, memory_order_relaxed);
    return now > (long long)l->max_memory;
}

size_t scepd_connlimit_held(struct scepd_connlimit *l)
{
    long long n = l != NULL ? atomic_load_explicit(&l->held, memory_order_relaxed) : 0;

    return n > 0 ? (size_t)n : 0;
}

size_t scepd_connlimit_max_memory(const struct scepd_connlimit *l)
{
    return l != NULL ? l->max_memory : 0;
}

/* Registers a worker's wake-up (see connlimit.h).  Returns 0 or -1. */
int scepd_connlimit_watch(struct scepd_connlimit *l, scepd_connlimit_over_fn *fn, void *arg)
{
    int rc = -1;

    if (l == NULL || fn == NULL)
        return -1;
    pthread_mutex_lock(&l->wlock);
    if (l->nwatch < SCEP_MAX_WORKERS) {
        l->watch[l->nwatch].fn = fn;
        l->watch[l->nwatch].arg = arg;
        l->nwatch++;
        rc = 0;
    }
    pthread_mutex_unlock(&l->wlock);
    return rc;
}

void scepd_connlimit_unwatch(struct scepd_connlimit *l, scepd_connlimit_over_fn *fn, void *arg)
{
    int i;

    if (l == NULL)
        return;
    pthread_mutex_lock(&l->wlock);
    for (i = 0; i < l->nwatch; i++) {
        if (l->watch[i].fn == fn && l->watch[i].arg == arg) {
            l->watch[i] = l->watch[l->nwatch - 1];
            l->nwatch--;
            break;
        }
    }
    pthread_mutex_unlock(&l->wlock);
}

/* Wakes every worker, once until the total has fallen back. */
void scepd_connlimit_alarm(struct scepd_connlimit *l)
{
    int i;

    if (l == NULL || atomic_exchange_explicit(&l->alarmed, 1, memory_order_relaxed) != 0)
        return;
    /* Held while calling: unwatch cannot free a worker under us. */
    pthread_mutex_lock(&l->wlock);
    for (i = 0; i < l->nwatch; i++)
        l->watch[i].fn(l->watch[i].arg);
    pthread_mutex_unlock(&l->wlock);
}

int scepd_connlimit_watchers(struct scepd_connlimit *l)
{
    int n;

    if (l == NULL)
        return 1;
    pthread_mutex_lock(&l->wlock);
    n = l->nwatch;
    pthread_mutex_unlock(&l->wlock);
    return n > 0 ? n : 1;
}
