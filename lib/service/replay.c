/*
 * Refused messages sent again.  Replaying one refused pkiMessage would
 * otherwise cost the CA two private-key operations (the envelope, the
 * CertRep's signature) and one durable audit row each time, for anyone,
 * with no credentials.  So each worker keeps the signed FAILURE of the
 * last refused messages for SVC_REPLAY_SECONDS, keyed by the SHA-256 of
 * the profile and the message bytes: the same bytes again get the same
 * answer (its recipientNonce is still the replayed senderNonce), from
 * memory, without touching a key or the store.  The trail stays whole:
 * when a remembered refusal is forgotten (aged or displaced) after it
 * was served again, one "refuse" event says how many times.
 */
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

struct svc_replay {
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

/* Forgets e, first writing how often it was served again, if at all. */
static void forget(struct scep_service *svc, struct svc_replay_entry *e)
{
    struct scep_audit_event ev;
    char detail[400];

    if (e->at != 0 && e->hits > 0 && svc->st != NULL) {
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
        (void)scep_store_audit(svc->st, &ev);
    }
    OPENSSL_free(e->body);
    memset(e, 0, sizeof(*e));
}

int svc_replay_find(struct scep_service *svc, const unsigned char md[32], struct scep_reply *r)
{
    struct svc_replay_entry *e;
    time_t now = mono();
    size_t i;

    if (svc->replay == NULL)
        return 0;
    for (i = 0; i < SVC_REPLAY_ENTRIES; i++) {
        e = &svc->replay->e[i];
        if (e->at == 0 || CRYPTO_memcmp(e->md, md, 32) != 0)
            continue;
        if (now - e->at >= SVC_REPLAY_SECONDS) {
            forget(svc, e);
            return 0;
        }
        r->body = OPENSSL_malloc(e->len);
        if (r->body == NULL)
            return 0;
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
        return 1;
    }
    return 0;
}

void svc_replay_keep(struct scep_service *svc, const unsigned char md[32],
                     const struct scep_reply *r, const char *peer)
{
    struct svc_replay_entry *e = NULL;
    time_t now = mono();
    size_t i;

    if (svc->replay == NULL || r->http_status != 200 || r->outcome == NULL ||
        strcmp(r->outcome, "failure") != 0 || r->body == NULL)
        return;
    /* An empty slot, else an aged one, else the oldest. */
    for (i = 0; i < SVC_REPLAY_ENTRIES; i++) {
        struct svc_replay_entry *c = &svc->replay->e[i];

        if (c->at == 0 || now - c->at >= SVC_REPLAY_SECONDS) {
            e = c;
            break;
        }
        if (e == NULL || c->at < e->at)
            e = c;
    }
    forget(svc, e);
    e->body = OPENSSL_malloc(r->len);
    if (e->body == NULL)
        return;
    memcpy(e->body, r->body, r->len);
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
}

int svc_replay_new(struct svc_replay **out)
{
    *out = calloc(1, sizeof(**out));
    return *out != NULL ? 0 : SCEP_ERR_NOMEM;
}

void svc_replay_free(struct scep_service *svc)
{
    size_t i;

    if (svc->replay == NULL)
        return;
    for (i = 0; i < SVC_REPLAY_ENTRIES; i++)
        forget(svc, &svc->replay->e[i]);
    free(svc->replay);
    svc->replay = NULL;
}
