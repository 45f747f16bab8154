/*
 * The server's CertRep (RFC 8894 3.3.2): turning a handler's outcome into
 * the signed answer.  SUCCESS carries a degenerate certs-only SignedData
 * encrypted to the requester's signer certificate with the cipher and key
 * transport the request used (Cisco refuses anything else); FAILURE
 * carries failInfo and failInfoText and no content, and every refusal is
 * written to the audit trail as one "refuse" event before it is sent;
 * PENDING (a request waiting for an administrator) carries nothing but
 * the status, and needs no audit event of its own: the request's
 * "request-pending" event was written when it was stored.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <scep/error.h>
#include <scep/message.h>
#include "service/service_int.h"

/* Empties o: no certificates, no refusal (fail_info -1). */
void svc_outcome_init(struct svc_outcome *o)
{
    memset(o, 0, sizeof(*o));
    o->fail_info = -1;
}

/* Frees the certificates and CRLs o holds and empties it.  Accepts NULL. */
void svc_outcome_clear(struct svc_outcome *o)
{
    if (o == NULL)
        return;
    sk_X509_pop_free(o->certs, X509_free);
    sk_X509_CRL_pop_free(o->crls, X509_CRL_free);
    svc_outcome_init(o);
}

/*
 * Turns o into a refusal with fail_info and the formatted reason (cut at
 * the size of o->reason), dropping anything it held.  Returns 0.
 */
int svc_refuse(struct svc_outcome *o, int fail_info, const char *fmt, ...)
{
    va_list ap;

    sk_X509_pop_free(o->certs, X509_free);
    o->certs = NULL;
    sk_X509_CRL_pop_free(o->crls, X509_CRL_free);
    o->crls = NULL;
    o->pending = 0;
    o->fail_info = fail_info;
    va_start(ap, fmt);
    vsnprintf(o->reason, sizeof(o->reason), fmt, ap);
    va_end(ap);
    return 0;
}

/*
 * The CA certificate goes after the leaf: the Cisco VPN client wants it
 * inside the CertRep (scep-interop.md 1.4).  Only when it really issued
 * the leaf: a certificate of an archived CA is sent alone.
 */
int svc_succeed_cert(const struct scep_service *svc, struct svc_outcome *o, X509 *cert)
{
    STACK_OF(X509) *sk = NULL;
    X509 *ca = scep_ca_get0_cert(svc->ca);
    int rc = SCEP_ERR_NOMEM;

    if ((sk = sk_X509_new_null()) == NULL)
        goto out;
    if (!X509_up_ref(cert))
        goto out;
    if (!sk_X509_push(sk, cert)) {
        X509_free(cert);
        goto out;
    }
    if (ca != NULL && X509_check_issued(ca, cert) == X509_V_OK) {
        if (!X509_up_ref(ca))
            goto out;
        if (!sk_X509_push(sk, ca)) {
            X509_free(ca);
            goto out;
        }
    }
    sk_X509_pop_free(o->certs, X509_free);
    o->certs = sk;
    sk = NULL;
    o->pending = 0;
    o->fail_info = -1;
    rc = 0;
out:
    sk_X509_pop_free(sk, X509_free);
    return rc;
}

/* Marks o PENDING: no certificates, no refusal.  Returns 0. */
int svc_pend(struct svc_outcome *o)
{
    svc_outcome_clear(o);
    o->pending = 1;
    return 0;
}

/* Writes the refusal to the audit trail: "<failInfo name>: <reason>". */
static int audit_refusal(struct scep_service *svc, const struct svc_profile *prof,
                         struct scep_msg *m, const char *peer, const struct svc_outcome *o)
{
    struct scep_audit_event ev;
    char detail[SCEP_MAX_FAIL_TEXT + 32 + 64];

    snprintf(detail, sizeof(detail), "%s: %s; profile=%s", scep_fail_info_name(o->fail_info),
             o->reason, prof != NULL && prof->name[0] != '\0' ? prof->name : "default");
    memset(&ev, 0, sizeof(ev));
    ev.kind = "refuse";
    ev.actor = "scepd";
    ev.transaction_id = scep_msg_get0_transaction_id(m);
    ev.peer = peer;
    ev.detail = detail;
    return scep_store_audit(svc->st, &ev);
}

/*
 * Signs the CertRep for o in answer to m and fills r with it (see
 * service_int.h).  The body is scep_free()d by scep_reply_clear().
 * Returns 0 or SCEP_ERR_*.
 */
int svc_certrep(struct scep_service *svc, const struct svc_profile *prof, struct scep_msg *m,
                const char *peer, const struct svc_outcome *o, struct scep_reply *r)
{
    struct scep_msg_spec spec;
    unsigned char *der = NULL;
    size_t len = 0;
    const EVP_MD *md;
    const EVP_CIPHER *cipher;
    int kt, rc = SCEP_ERR_INTERNAL;

    memset(&spec, 0, sizeof(spec));
    spec.type = SCEP_MSG_CERTREP;
    spec.transaction_id = scep_msg_get0_transaction_id(m);
    spec.sender_nonce = NULL; /* fresh: certmonger checks it is not ours echoed */
    spec.recipient_nonce = scep_msg_get0_sender_nonce(m);
    /* Answer with the digest the client chose if we accept it; when the
     * refusal is about the digest itself, fall back to SHA-256. */
    md = svc_accepted_md(scep_msg_digest_nid(m));
    spec.md = md != NULL ? md : EVP_sha256();

    if (o->pending) {
        /* RFC 8894 3.3.2: PENDING has no content, only the status; the
         * client polls again with the same transactionID. */
        spec.status = SCEP_STATUS_PENDING;
    } else if (o->fail_info < 0) {
        spec.status = SCEP_STATUS_SUCCESS;
        spec.recipient = scep_msg_get0_signer_cert(m);
        cipher = svc_accepted_cipher(scep_msg_cipher_nid(m));
        spec.cipher = cipher != NULL ? cipher : EVP_aes_128_cbc();
        kt = scep_msg_key_transport(m);
        spec.key_transport = kt == SCEP_KT_RSA_OAEP ? SCEP_KT_RSA_OAEP : SCEP_KT_RSA_PKCS1;
        spec.certs = o->certs;
        spec.crls = o->crls;
    } else {
        spec.status = SCEP_STATUS_FAILURE;
        spec.fail_info = o->fail_info;
        spec.fail_text = o->reason;
        /* Audited before it is sent: a refusal nobody recorded must not
         * reach the client, so a store failure becomes a 500 instead. */
        rc = audit_refusal(svc, prof, m, peer, o);
        if (rc != 0)
            goto out;
    }
    rc = scep_ca_sign_message(svc->ca, &spec, &der, &len);
    if (rc != 0)
        goto out;

    r->body = der;
    r->len = len;
    der = NULL;
    r->content_type = "application/x-pki-message";
    r->http_status = 200;
    if (o->pending) {
        r->outcome = "pending";
        r->fail_info = -1;
    } else if (o->fail_info < 0) {
        r->outcome = "success";
        r->fail_info = -1;
    } else {
        r->outcome = "failure";
        r->fail_info = o->fail_info;
        snprintf(r->reason, sizeof(r->reason), "%s: %s", scep_fail_info_name(o->fail_info),
                 o->reason);
    }
    snprintf(r->serial, sizeof(r->serial), "%s", o->serial);
    r->issue_seconds = o->issue_seconds;
    rc = 0;
out:
    scep_free(der);
    return rc;
}
