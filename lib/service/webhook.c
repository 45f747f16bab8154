/*
 * Enrollments that wait for their profile's webhook: the outside check
 * an MDM uses to validate challenges it minted itself.  The first step
 * (svc_enroll_check) decided everything scepd can decide alone; here the
 * enrollment is described as a JSON document signed with the profile's
 * secret (lib/policy/webhook.c), kept while the caller POSTs it, and
 * finished with the answer: only a 2xx {"allow": true} lets it go on,
 * anything else - another status, other JSON, a timeout, no connection -
 * refuses it (fail-closed) with a failInfoText that says which.
 *
 * The caller owns the waiting (scepd does it on its event loop, the
 * blocking scep_service_pkioperation with libcurl's easy interface), so
 * the service never holds a thread for an outside party.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <scep/error.h>
#include <scep/limits.h>
#include <scep/message.h>
#include "policy/webhook.h"
#include "admin/certinfo.h"
#include "service/service_int.h"

/* Names in a webhook document: the CA's own limit (scep_ca_issue). */
#define SVC_WEBHOOK_MAX_SANS SCEP_MAX_SANS

struct scep_pending {
    const struct scep_service *svc; /* the service it must be resumed on */
    struct scep_msg *m;             /* owned; a's pointers point into it */
    struct svc_enroll a;
    char *peer; /* owned */
    char *body; /* owned (free()): the JSON document */
    size_t len;
    char signature[SCEP_WEBHOOK_SIG_SIZE];
};

void scep_pending_free(struct scep_pending *p)
{
    if (p == NULL)
        return;
    scep_msg_free(p->m);
    free(p->peer);
    if (p->body != NULL) {
        /* It carries the challenge password. */
        OPENSSL_cleanse(p->body, p->len);
        free(p->body);
    }
    free(p);
}

void scep_pending_webhook(const struct scep_pending *p, struct scep_webhook_call *call)
{
    memset(call, 0, sizeof(*call));
    if (p == NULL)
        return;
    call->url = p->a.prof->webhook_url;
    call->body = p->body;
    call->len = p->len;
    call->signature = p->signature;
    call->timeout_ms = p->a.prof->webhook_timeout_ms;
}

/* "P-256" for the NIST curves, else OpenSSL's group name, or NULL. */
static const char *key_curve(EVP_PKEY *pkey, char *buf, size_t len)
{
    const char *nist;
    int nid;

    if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC ||
        EVP_PKEY_get_group_name(pkey, buf, len, NULL) != 1)
        return NULL;
    nid = OBJ_sn2nid(buf);
    nist = nid != NID_undef ? EC_curve_nid2nist(nid) : NULL;
    return nist != NULL ? nist : buf;
}

/*
 * Splits the store's SAN text ("DNS:a, IP:b"; a ',' inside a value is
 * shown as '?', so ", " only ever separates) into the items of list,
 * which point into text.  Returns the count.
 */
static size_t split_sans(char *text, const char **list, size_t max)
{
    size_t n = 0;
    char *p = text;

    while (p != NULL && *p != '\0' && n < max) {
        char *sep = strstr(p, ", ");

        if (sep != NULL)
            *sep = '\0';
        list[n++] = p;
        p = sep != NULL ? sep + 2 : NULL;
    }
    return n;
}

int svc_pending_new(struct scep_service *svc, const struct svc_enroll *a, const char *peer,
                    struct scep_pending **out)
{
    struct scep_webhook_input in;
    struct scep_pending *p = NULL;
    STACK_OF(X509_EXTENSION) *exts = NULL;
    const char *sans[SVC_WEBHOOK_MAX_SANS];
    unsigned char chal[SCEP_MAX_CHALLENGE + 1];
    char *subject = NULL, *sans_text = NULL, curve[64];
    size_t chal_len = 0;
    EVP_PKEY *pkey = X509_REQ_get0_pubkey(a->csr);
    int have_chal, rc = SCEP_ERR_NOMEM;

    p = calloc(1, sizeof(*p));
    if (p == NULL)
        goto out;
    p->svc = svc;
    p->a = *a;
    if ((p->peer = strdup(peer != NULL ? peer : "")) == NULL)
        goto out;
    rc = scep_name_rfc2253(a->subject != NULL ? a->subject : X509_REQ_get_subject_name(a->csr),
                           &subject);
    if (rc != 0)
        goto out;
    /* A new stack (or NULL when the CSR asks for no extensions). */
    exts = X509_REQ_get_extensions(a->csr);
    rc = scep_sans_text(exts, &sans_text);
    if (rc != 0)
        goto out;
    have_chal = svc_csr_challenge(a->csr, chal, &chal_len) == 0;
    chal[have_chal ? chal_len : 0] = '\0';

    memset(&in, 0, sizeof(in));
    in.profile = a->prof->name;
    in.transaction_id = scep_msg_get0_transaction_id(a->m);
    in.challenge = have_chal ? (const char *)chal : NULL;
    in.subject = subject;
    in.sans = sans;
    in.nsans = sans_text != NULL ? split_sans(sans_text, sans, SVC_WEBHOOK_MAX_SANS) : 0;
    in.key_type = EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC ? "EC" : "RSA";
    in.key_bits = EVP_PKEY_get_bits(pkey);
    in.key_curve = key_curve(pkey, curve, sizeof(curve));
    in.requester = p->peer;
    in.msg_type = scep_msg_type_name(scep_msg_type(a->m));
    rc = scep_webhook_body(&in, &p->body, &p->len);
    if (rc != 0)
        goto out;
    rc = scep_webhook_sign((const unsigned char *)a->prof->webhook_secret,
                           a->prof->webhook_secret_len, p->body, p->len, p->signature,
                           sizeof(p->signature));
    if (rc != 0)
        goto out;
    /* Only now, when nothing can fail any more, is m taken. */
    p->m = a->m;
    *out = p;
    p = NULL;
    rc = 0;
out:
    OPENSSL_cleanse(chal, sizeof(chal));
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    free(subject);
    free(sans_text);
    scep_pending_free(p);
    return rc;
}

/*
 * The webhook answered (or did not): refuse, or finish the enrollment as
 * svc_enroll_finish does without a webhook.  Frees p.
 */
int scep_service_pkioperation_resume(struct scep_service *svc, struct scep_pending *p,
                                     int http_status, const unsigned char *body, size_t len,
                                     const char *transport_error, struct scep_reply *r)
{
    struct svc_outcome o;
    char why[256];
    int rc;

    scep_reply_clear(r);
    svc_outcome_init(&o);
    if (svc == NULL || p == NULL || p->svc != svc) {
        /* Resumed on another worker's service: its store connection and
         * profiles are not the ones p was checked against. */
        rc = SCEP_ERR_INVALID_ARG;
        svc_reply_fail(r, rc);
        scep_pending_free(p);
        return rc;
    }
    r->profile = p->a.prof->name;
    r->msg_type = scep_msg_type(p->m);
    snprintf(r->transaction_id, sizeof(r->transaction_id), "%s",
             scep_msg_get0_transaction_id(p->m));
    why[0] = '\0';
    if (!scep_webhook_verdict(http_status, body, len, transport_error, why, sizeof(why))) {
        rc = svc_refuse(&o, SCEP_FAIL_BAD_REQUEST, "%s", why[0] != '\0' ? why : "webhook denied");
    } else {
        p->a.via = "webhook";
        rc = svc_enroll_finish(svc, &p->a, p->peer, &o);
    }
    if (rc == 0)
        rc = svc_reply_outcome(svc, p->a.prof, p->m, p->peer, &o, p->a.via, r);
    if (rc != 0)
        svc_reply_fail(r, rc);
    svc_outcome_clear(&o);
    scep_pending_free(p);
    return rc;
}
