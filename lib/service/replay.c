/*
 * Refused messages sent again.  Replaying one refused pkiMessage would
 * otherwise cost the CA two private-key operations (the envelope, the
 * CertRep's signature) and one durable audit row each time, for anyone,
 * with no credentials.  So the signed FAILUREs of the last refused
 * messages are kept for SVC_REPLAY_SECONDS, keyed by the SHA-256 of the
 * profile and the message bytes: the same bytes again get the same
 * answer (its recipientNonce is still the replayed senderNonce), from
 * memory, without touching a key or the store.  The trail stays whole:
 * when a remembered refusal is forgotten (aged or displaced) after it
 * was served again, one "refuse" event says how many times.
 *
 * One memory serves every worker of a process (scep_replay_memory, given
 * in the service's config): a replay sent on a new connection lands on
 * any worker, and one memory per worker would pay the key operations
 * once per worker.  A service without one keeps its own.  The lock is
 * held for a scan of SVC_REPLAY_ENTRIES digests and a copy, never over
 * a store write: a forgotten entry is taken out under the lock and its
 * event written after.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <scep/error.h>
#include "service/service_int.h"

struct svc_replay_entry {
    unsigned char md[32];
    time_t at;           /* CLOCK_MONOTONIC seconds; 0: empty */
    unsigned char *body; /* the signed CertRep (OPENSSL_malloc) */
    size_t len;
    int fail_info;
    int msg_type;
    char reason[256];
    char transaction_id[SCEP_MAX_TRANSID + 1];
    char peer[64];
    unsigned long hits; /* answered from here since it was stored */
};

struct scep_replay_memory {
    pthread_mutex_t lock;
    int refs;  /* its creator and each service using it */
    int users; /* services using it */
    struct svc_replay_entry e[SVC_REPLAY_ENTRIES];
};

static time_t mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec > 0 ? ts.tv_sec : 1;
}

/* SHA-256 over the profile name, a NUL and the message. */
int svc_replay_digest(const char *profile, const unsigned char *msg, size_t len,
                      unsigned char md[32])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned int n = 0;
    int ok;

    ok = c != NULL && EVP_DigestInit_ex(c, EVP_sha256(), NULL) &&
         EVP_DigestUpdate(c, profile, strlen(profile) + 1) &&
         (len == 0 || EVP_DigestUpdate(c, msg, len)) && EVP_DigestFinal_ex(c, md, &n) && n == 32;
    EVP_MD_CTX_free(c);
    return ok ? 0 : SCEP_ERR_INTERNAL;
}

/* Moves e out of the memory into *out (e is empty after). */
static void take(struct svc_replay_entry *e, struct svc_replay_entry *out)
{
    *out = *e;
    memset(e, 0, sizeof(*e));
}

/* Writes how often taken entry e was served again, if at all, to st
 * (NULL: nowhere), and frees it. */
static void tell(struct scep_store *st, struct svc_replay_entry *e)
{
    struct scep_audit_event ev;
    char detail[400];

    if (e->at != 0 && e->hits > 0 && st != NULL) {
        snprintf(detail, sizeof(detail),
                 "%s: %s; the same message again %lu time(s), answered "
                 "from memory",
                 scep_fail_info_name(e->fail_info), e->reason, e->hits);
        memset(&ev, 0, sizeof(ev));
        ev.kind = "refuse";
        ev.actor = "scepd";
        ev.transaction_id = e->transaction_id;
        ev.peer = e->peer;
        ev.detail = detail;
        /* The answers were sent already; a failed write loses a count,
         * not a decision (each was the refusal audited before). */
        (void)scep_store_audit(st, &ev);
    }
    OPENSSL_free(e->body);
    memset(e, 0, sizeof(*e));
}

int svc_replay_find(struct scep_service *svc, const unsigned char md[32], struct scep_reply *r)
{
    struct scep_replay_memory *m = svc->replay;
    struct svc_replay_entry *e, gone = {0};
    time_t now = mono();
    int found = 0;
    size_t i;

    if (m == NULL)
        return 0;
    pthread_mutex_lock(&m->lock);
    for (i = 0; i < SVC_REPLAY_ENTRIES; i++) {
        e = &m->e[i];
        if (e->at == 0 || CRYPTO_memcmp(e->md, md, 32) != 0)
            continue;
        if (now - e->at >= SVC_REPLAY_SECONDS) {
            take(e, &gone);
            break;
        }
        r->body = OPENSSL_malloc(e->len);
        if (r->body == NULL)
            break;
        memcpy(r->body, e->body, e->len);
        r->len = e->len;
        r->content_type = "application/x-pki-message";
        r->http_status = 200;
        r->outcome = "failure";
        r->fail_info = e->fail_info;
        r->msg_type = e->msg_type;
        snprintf(r->transaction_id, sizeof(r->transaction_id), "%s", e->transaction_id);
        /* Cut to the buffer on purpose: the reason is for the log line. */
        if (snprintf(r->reason, sizeof(r->reason), "%s (a replay, answered from memory)",
                     e->reason) < 0)
            r->reason[0] = '\0';
        e->hits++;
        found = 1;
        break;
    }
    pthread_mutex_unlock(&m->lock);
    tell(svc->st, &gone);
    return found;
}

void svc_replay_keep(struct scep_service *svc, const unsigned char md[32],
                     const struct scep_reply *r, const char *peer)
{
    struct scep_replay_memory *m = svc->replay;
    struct svc_replay_entry *e, *empty = NULL, *aged = NULL, *oldest = NULL, gone = {0};
    unsigned char *body;
    time_t now = mono();
    size_t i;

    if (m == NULL || r->http_status != 200 || r->outcome == NULL ||
        strcmp(r->outcome, "failure") != 0 || r->body == NULL)
        return;
    if ((body = OPENSSL_malloc(r->len)) == NULL)
        return;
    memcpy(body, r->body, r->len);
    pthread_mutex_lock(&m->lock);
    /* Another worker may have kept the same refusal meanwhile: then
     * nothing; else an empty slot, else an aged one, else the oldest. */
    for (i = 0; i < SVC_REPLAY_ENTRIES; i++) {
        struct svc_replay_entry *c = &m->e[i];

        if (c->at == 0) {
            if (empty == NULL)
                empty = c;
        } else if (now - c->at >= SVC_REPLAY_SECONDS) {
            if (aged == NULL)
                aged = c;
        } else if (CRYPTO_memcmp(c->md, md, 32) == 0) {
            break;
        } else if (oldest == NULL || c->at < oldest->at) {
            oldest = c;
        }
    }
    e = empty != NULL ? empty : aged != NULL ? aged : oldest;
    if (i < SVC_REPLAY_ENTRIES || e == NULL) {
        pthread_mutex_unlock(&m->lock);
        OPENSSL_free(body);
        return;
    }
    take(e, &gone);
    e->body = body;
    e->len = r->len;
    memcpy(e->md, md, 32);
    e->fail_info = r->fail_info;
    e->msg_type = r->msg_type;
    /* r->reason is "failInfo: text"; keep the text. */
    snprintf(e->reason, sizeof(e->reason), "%s",
             strchr(r->reason, ':') != NULL ? strchr(r->reason, ':') + 2 : r->reason);
    snprintf(e->transaction_id, sizeof(e->transaction_id), "%s", r->transaction_id);
    snprintf(e->peer, sizeof(e->peer), "%s", peer != NULL ? peer : "");
    e->at = now;
    pthread_mutex_unlock(&m->lock);
    tell(svc->st, &gone);
}

/* See service.h. */
int scep_replay_memory_new(struct scep_replay_memory **out)
{
    struct scep_replay_memory *m;

    if (out == NULL)
        return SCEP_ERR_INVALID_ARG;
    *out = NULL;
    if ((m = calloc(1, sizeof(*m))) == NULL)
        return SCEP_ERR_NOMEM;
    if (pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m);
        return SCEP_ERR_NOMEM;
    }
    m->refs = 1;
    *out = m;
    return 0;
}

/* Takes every entry out of m and tells each to st (NULL: nowhere), the
 * lock held only while one is taken. */
static void tell_all(struct scep_replay_memory *m, struct scep_store *st)
{
    struct svc_replay_entry gone;
    size_t i;

    for (i = 0; i < SVC_REPLAY_ENTRIES; i++) {
        pthread_mutex_lock(&m->lock);
        take(&m->e[i], &gone);
        pthread_mutex_unlock(&m->lock);
        tell(st, &gone);
    }
}

/* Drops one reference to m, freeing it (and what it still holds, told
 * nowhere: the last service told it already) with the last. */
static void memory_release(struct scep_replay_memory *m)
{
    int last;

    pthread_mutex_lock(&m->lock);
    last = --m->refs == 0;
    pthread_mutex_unlock(&m->lock);
    if (!last)
        return;
    tell_all(m, NULL);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* See service.h. */
void scep_replay_memory_free(struct scep_replay_memory *m)
{
    if (m != NULL)
        memory_release(m);
}

int svc_replay_attach(struct scep_service *svc, struct scep_replay_memory *shared)
{
    struct scep_replay_memory *own = NULL;
    int rc;

    /* A memory of its own is one made here and shared with nobody. */
    if (shared == NULL && (rc = scep_replay_memory_new(&own)) != 0)
        return rc;
    svc->replay = shared != NULL ? shared : own;
    pthread_mutex_lock(&svc->replay->lock);
    svc->replay->refs++;
    svc->replay->users++;
    pthread_mutex_unlock(&svc->replay->lock);
    scep_replay_memory_free(own);
    return 0;
}

void svc_replay_detach(struct scep_service *svc)
{
    struct scep_replay_memory *m = svc->replay;
    int last_user;

    if (m == NULL)
        return;
    svc->replay = NULL;
    /* The last service to go tells what the memory still holds, while
     * it has a store; the memory itself may outlive it. */
    pthread_mutex_lock(&m->lock);
    last_user = --m->users == 0;
    pthread_mutex_unlock(&m->lock);
    if (last_user)
        tell_all(m, svc->st);
    memory_release(m);
}
