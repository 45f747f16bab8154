/*
 * PKIOperation (RFC 8894 4.3): the pipeline from the bytes of a
 * pkiMessage to the CertRep.  Decode; only requests are served; check the
 * digest and the signature; decrypt with the RA/CA key; hand the request
 * to its handler (enroll.c, query.c); sign the answer (certrep.c).
 *
 * Once the transactionID and senderNonce are known every refusal is a
 * signed CertRep FAILURE, because clients turn bare HTTP errors into
 * opaque messages (micromdm/scep#37); only bytes that do not decode at
 * all get an HTTP 400.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <stdlib.h>

#include <scep/error.h>
#include <scep/message.h>
#include "policy/webhook.h"
#include "service/service_int.h"

/* Errors that mean the server itself failed, not the request. */
static int is_internal(int rc)
{
    return rc == SCEP_ERR_NOMEM || rc == SCEP_ERR_INTERNAL || rc == SCEP_ERR_STORE ||
           rc == SCEP_ERR_UNAVAILABLE || rc == SCEP_ERR_IO;
}

/* Verification, decryption and the algorithm checks that precede them.
 * Fills o with a refusal, or leaves it untouched when m may proceed. */
static int check_message(struct scep_service *svc, const struct svc_profile *prof,
                         struct scep_msg *m, struct svc_outcome *o)
{
    X509 *signer = scep_msg_get0_signer_cert(m);
    EVP_PKEY *spk;
    int type = scep_msg_type(m), nid, rc;

    switch (type) {
    case SCEP_MSG_PKCSREQ:
    case SCEP_MSG_RENEWALREQ:
    case SCEP_MSG_CERTPOLL:
    case SCEP_MSG_GETCERT:
    case SCEP_MSG_GETCRL:
        break;
    default:
        return svc_refuse(o, SCEP_FAIL_BAD_REQUEST,
                          "messageType %s is not a request (RFC 8894 3.2.1.2)",
                          scep_msg_type_name(type));
    }
    nid = scep_msg_digest_nid(m);
    if (svc_accepted_md(nid) == NULL)
        return svc_refuse(o, SCEP_FAIL_BAD_ALG, "digest %s not accepted (RFC 8894 3.5.2)",
                          OBJ_nid2sn(nid));
    rc = scep_msg_verify(m, NULL);
    if (rc != 0) {
        if (is_internal(rc))
            return rc;
        return svc_refuse(o,
                          rc == SCEP_ERR_BAD_ALG        ? SCEP_FAIL_BAD_ALG
                          : rc == SCEP_ERR_CONTENT_TYPE ? SCEP_FAIL_BAD_REQUEST
                                                        : SCEP_FAIL_BAD_MESSAGE_CHECK,
                          "%s", scep_strerror(rc));
    }
    /* SUCCESS is encrypted to the signer certificate with RSA key
     * transport (RFC 8894 3.1): refuse now rather than after issuing. */
    spk = signer != NULL ? X509_get0_pubkey(signer) : NULL;
    if (spk == NULL || EVP_PKEY_get_base_id(spk) != EVP_PKEY_RSA)
        return svc_refuse(o, SCEP_FAIL_BAD_ALG,
                          "signer certificate key must be RSA: the reply is encrypted to it");
    nid = scep_msg_cipher_nid(m);
    if (svc_accepted_cipher(nid) == NULL)
        return svc_refuse(o, SCEP_FAIL_BAD_ALG, "content cipher %s not accepted",
                          nid == NID_undef ? "(none)" : OBJ_nid2sn(nid));
    /* Single DES (56-bit keys) protects the challenge password in the
     * envelope: only for the old clients a profile enables it for. */
    if (nid == NID_des_cbc && !prof->allow_des)
        return svc_refuse(o, SCEP_FAIL_BAD_ALG,
                          "content cipher DES-CBC not accepted: single DES is disabled "
                          "(allow_des; RFC 8894 3.5.2 advertises AES and DES3 only)");
    rc = scep_ca_decrypt(svc->ca, m);
    if (rc != 0) {
        if (rc == SCEP_ERR_NOMEM)
            return rc;
        return svc_refuse(o, (int)scep_err_fail_info(rc), "%s", scep_strerror(rc));
    }
    return 0;
}

/* Whether a handler left o undecided: no refusal, answer or limit. */
static int undecided(const struct svc_outcome *o)
{
    return o->fail_info < 0 && !o->pending && o->certs == NULL && o->crls == NULL &&
           o->retry_after == 0;
}

/*
 * The handler of m's messageType.  An enrollment whose profile has a
 * webhook stops half-way: then a->need_webhook is set, o is undecided,
 * and the caller asks the webhook before svc_enroll_finish.
 */
static int dispatch(struct scep_service *svc, const struct svc_profile *prof, struct scep_msg *m,
                    const char *peer, struct svc_enroll *a, struct svc_outcome *o)
{
    int rc;

    switch (scep_msg_type(m)) {
    case SCEP_MSG_PKCSREQ:
    case SCEP_MSG_RENEWALREQ:
        a->m = m;
        a->prof = prof;
        rc = svc_enroll_check(svc, a, peer, o);
        if (rc != 0 || !undecided(o) || a->need_webhook)
            return rc;
        return svc_enroll_finish(svc, a, peer, o);
    case SCEP_MSG_CERTPOLL:
        return svc_certpoll(svc, prof, m, peer, o);
    case SCEP_MSG_GETCERT:
        return svc_getcert(svc, m, o);
    case SCEP_MSG_GETCRL:
        return svc_getcrl(svc, m, o);
    default:
        return svc_refuse(o, SCEP_FAIL_BAD_REQUEST, "unexpected messageType");
    }
}

/* See service_int.h. */
int svc_reply_outcome(struct scep_service *svc, const struct svc_profile *prof, struct scep_msg *m,
                      const char *peer, const struct svc_outcome *o, const char *via,
                      struct scep_reply *r)
{
    int rc;

    if (o->retry_after > 0) {
        /* No CertRep: signing one is the private-key work a limit saves. */
        r->http_status = 429;
        r->retry_after = o->retry_after;
        r->content_type = "text/plain";
        r->outcome = "error";
        r->fail_info = -1;
        snprintf(r->reason, sizeof(r->reason), "rate limited: %s", o->reason);
        /* The refusal stands whether or not the trail took it. */
        (void)scep_service_note_rate_limited(svc, "challenge", peer, prof->name);
        return 0;
    }
    rc = svc_certrep(svc, prof, m, peer, o, r);
    if (rc == 0 && o->fail_info < 0 && !o->pending && o->certs != NULL)
        r->via = via;
    return rc;
}

/* See service_int.h. */
void svc_reply_fail(struct scep_reply *r, int rc)
{
    /* Keep what identifies the request for the log line, drop the rest. */
    scep_free(r->body);
    r->body = NULL;
    r->len = 0;
    /* An unreachable database is a temporary state of the server, not a
     * verdict on the request: 503 tells the client to come back. */
    r->http_status = rc == SCEP_ERR_UNAVAILABLE ? 503 : 500;
    r->content_type = "text/plain";
    r->outcome = "error";
    r->fail_info = -1;
    snprintf(r->reason, sizeof(r->reason), "%s: %s",
             rc == SCEP_ERR_UNAVAILABLE ? "service unavailable" : "internal error",
             scep_strerror(rc));
}

/*
 * The whole PKIOperation up to a webhook (service.h).  r is cleared
 * first; on return 0 it holds the answer (a CertRep with status 200, a
 * 400 for undecodable bytes, a 404 for an unknown profile, a 429 over a
 * rate limit) unless *pend was set; on an internal failure it is a 500
 * with the reason and SCEP_ERR_* is returned.  Nothing is written to the
 * store except the issued certificate with its "issue" event, a request
 * held for approval with its "request-pending" event, or one "refuse"
 * event.
 */
int scep_service_pkioperation_begin(struct scep_service *svc, const char *profile,
                                    const unsigned char *msg, size_t len, const char *peer,
                                    struct scep_reply *r, struct scep_pending **pend)
{
    const struct svc_profile *prof = NULL;
    struct scep_msg *m = NULL;
    struct svc_outcome o;
    struct svc_enroll a;
    unsigned char md[32];
    int have_md = 0, rc;

    scep_reply_clear(r);
    svc_outcome_init(&o);
    memset(&a, 0, sizeof(a));
    if (pend != NULL)
        *pend = NULL;
    if (svc == NULL || pend == NULL || (msg == NULL && len > 0)) {
        rc = SCEP_ERR_INVALID_ARG;
        goto fail;
    }
    prof = svc_find_profile(svc, profile);
    if (prof == NULL) {
        r->http_status = 404;
        r->content_type = "text/plain";
        r->outcome = "error";
        snprintf(r->reason, sizeof(r->reason), "no SCEP profile here");
        rc = 0;
        goto out;
    }
    r->profile = prof->name;
    /* A refused message sent again costs nothing but this digest. */
    have_md = svc_replay_digest(prof->name, msg, len, md) == 0;
    if (have_md && svc_replay_find(svc, md, r)) {
        rc = 0;
        goto out;
    }
    rc = scep_msg_decode(msg, len, &m);
    if (rc != 0) {
        if (rc == SCEP_ERR_NOMEM)
            goto fail;
        /* Without a transactionID and senderNonce there is nothing to
         * answer with a CertRep. */
        r->http_status = 400;
        r->content_type = "text/plain";
        r->outcome = "error";
        snprintf(r->reason, sizeof(r->reason), "malformed pkiMessage: %s", scep_strerror(rc));
        rc = 0;
        goto out;
    }
    r->msg_type = scep_msg_type(m);
    snprintf(r->transaction_id, sizeof(r->transaction_id), "%s", scep_msg_get0_transaction_id(m));

    rc = check_message(svc, prof, m, &o);
    if (rc != 0)
        goto fail;
    if (o.fail_info < 0) {
        rc = dispatch(svc, prof, m, peer, &a, &o);
        if (rc != 0)
            goto fail;
        if (a.need_webhook && undecided(&o)) {
            /* The pending object takes m (a points into it). */
            rc = svc_pending_new(svc, &a, peer, pend);
            if (rc != 0)
                goto fail;
            m = NULL;
            goto out;
        }
    }
    rc = svc_reply_outcome(svc, prof, m, peer, &o, a.via, r);
    if (rc != 0)
        goto fail;
    if (have_md)
        svc_replay_keep(svc, md, r, peer);
    goto out;

fail:
    svc_reply_fail(r, rc);
out:
    svc_outcome_clear(&o);
    scep_msg_free(m);
    return rc;
}

/*
 * The whole PKIOperation in one call: a webhook, if the profile has one,
 * is asked with the blocking transport (scep_webhook_post_blocking).
 */
int scep_service_pkioperation(struct scep_service *svc, const char *profile,
                              const unsigned char *msg, size_t len, const char *peer,
                              struct scep_reply *r)
{
    struct scep_pending *p = NULL;
    struct scep_webhook_call call;
    unsigned char *resp = NULL;
    size_t resp_len = 0;
    char err[256];
    int status = 0, rc;

    rc = scep_service_pkioperation_begin(svc, profile, msg, len, peer, r, &p);
    if (rc != 0 || p == NULL)
        return rc;
    scep_pending_webhook(p, &call);
    err[0] = '\0';
    rc = scep_webhook_post_blocking(call.url, call.body, call.len, call.signature, call.timeout_ms,
                                    &status, &resp, &resp_len, err, sizeof(err));
    if (rc != 0 && err[0] == '\0')
        snprintf(err, sizeof(err), "%s", scep_strerror(rc));
    rc = scep_service_pkioperation_resume(svc, p, rc == 0 ? status : 0, resp, resp_len,
                                          err[0] != '\0' ? err : NULL, r);
    free(resp);
    return rc;
}
