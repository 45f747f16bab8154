/*
 * Issuing and re-answering certificates: the one path by which the
 * service makes a certificate (a new PKCSReq or RenewalReq in enroll.c, an
 * approved request at its poll in approval.c), and the one path by which
 * it answers a transactionID that already has one (a resent PKCSReq, a
 * CertPoll).  A certificate is in the store, with its "issue" audit event
 * and, for an approved request, the request marked ISSUED, in one durable
 * transaction before anyone sees it.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/x509.h>

#include <scep/error.h>
#include <scep/limits.h>
#include "admin/certinfo.h"
#include "service/service_int.h"

static double mono_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Parses a stored certificate's DER: our own data, still decoded with an
 * explicit length and no trailing bytes, since a damaged database must
 * not become a damaged answer.  *out: free with X509_free().  Returns 0
 * or SCEP_ERR_STORE.
 */
int svc_stored_cert(const struct scep_cert_info *ci, X509 **out)
{
    const unsigned char *p = ci->der;
    X509 *cert;

    if (p == NULL || ci->der_len == 0 || ci->der_len > SCEP_MAX_MESSAGE)
        return SCEP_ERR_STORE;
    cert = d2i_X509(NULL, &p, (long)ci->der_len);
    if (cert == NULL || p != ci->der + ci->der_len) {
        X509_free(cert);
        return SCEP_ERR_STORE;
    }
    *out = cert;
    return 0;
}

/*
 * Issues and stores with a fresh random serial, retrying when the store
 * already holds that serial.  On success *out (X509_free()) and
 * serial_hex are set.
 */
static int issue_and_store(struct scep_service *svc, X509_REQ *csr, const X509_NAME *subject,
                           const struct svc_issue_ctx *ctx, X509 **out, char *serial_hex,
                           size_t serial_hex_len)
{
    struct scep_cert_info ci;
    struct scep_audit_event ev;
    unsigned char serial[16];
    char ca_fp[65], detail[SVC_AUDIT_DETAIL];
    X509 *cert = NULL;
    int attempt, rc;

    memset(&ci, 0, sizeof(ci));
    rc = scep_cert_fingerprint(scep_ca_get0_cert(svc->ca), ca_fp);
    if (rc != 0)
        goto out;
    for (attempt = 0; attempt < SVC_ISSUE_ATTEMPTS; attempt++) {
        X509_free(cert);
        cert = NULL;
        scep_certinfo_clear(&ci);
        rc = scep_ca_random_serial(serial);
        if (rc != 0)
            goto out;
        rc = scep_ca_issue(svc->ca, csr, subject, &ctx->prof->profile, serial, sizeof(serial),
                           &cert);
        if (rc != 0)
            goto out;
        rc = scep_certinfo_from_x509(cert, ca_fp, &ci);
        if (rc != 0)
            goto out;
        ci.issued_at = (int64_t)time(NULL);
        /* Borrowed on input; dropped again before ci is cleared. */
        ci.transaction_id = (char *)ctx->transaction_id;
        ci.requester = (char *)ctx->requester;
        ci.msg_type = (char *)ctx->msg_type;
        ci.renewed_serial = (char *)ctx->renewed_serial;
        ci.challenge_id = ctx->challenge_id;
        ci.profile = ctx->prof->name;
        svc_audit_detail(detail, sizeof(detail), ci.subject, ctx->prof, ctx->via,
                         ctx->challenge_id);

        memset(&ev, 0, sizeof(ev));
        ev.kind = "issue";
        ev.actor = "scepd";
        ev.transaction_id = ctx->transaction_id;
        ev.peer = ctx->peer;
        ev.serial = ci.serial;
        ev.detail = detail;
        if (ctx->request_id > 0)
            rc = scep_store_issue_request(svc->st, ctx->request_id, &ci, &ev);
        else
            rc = scep_store_insert_cert(svc->st, &ci, &ev);
        ci.transaction_id = ci.requester = ci.msg_type = ci.renewed_serial = ci.profile = NULL;
        if (rc != SCEP_ERR_EXISTS)
            break;
    }
    if (rc != 0)
        goto out;
    snprintf(serial_hex, serial_hex_len, "%s", ci.serial);
    *out = cert;
    cert = NULL;
out:
    ci.transaction_id = ci.requester = ci.msg_type = ci.renewed_serial = ci.profile = NULL;
    scep_certinfo_clear(&ci);
    X509_free(cert);
    return rc;
}

/*
 * Issues for csr and fills o (see service_int.h).  Returns 0 with o a
 * SUCCESS or a refusal, or SCEP_ERR_*.
 */
int svc_issue(struct scep_service *svc, X509_REQ *csr, const X509_NAME *subject,
              const struct svc_issue_ctx *ctx, struct svc_outcome *o)
{
    X509 *cert = NULL;
    double t0 = mono_now();
    char fp[65];
    int rc;

    svc_outcome_clear(o);
    rc = issue_and_store(svc, csr, subject, ctx, &cert, o->serial, sizeof(o->serial));
    if (rc == SCEP_ERR_POLICY || rc == SCEP_ERR_CSR || rc == SCEP_ERR_KEY) {
        /* The CA refused what the CSR asks for (extensions, names). */
        rc = svc_refuse(o, (int)scep_err_fail_info(rc), "%s", scep_strerror(rc));
        goto out;
    }
    if (rc == SCEP_ERR_CHALLENGE) {
        /* Another enrollment consumed the last use of the one-time
         * challenge between our check and our store transaction, which
         * kept this certificate out: it was never issued to anyone. */
        rc = svc_refuse(o, SCEP_FAIL_BAD_REQUEST, "one-time challenge already used");
        goto out;
    }
    if (rc == SCEP_ERR_TRANSID_REUSE) {
        /* Another worker stored a certificate for this transactionID
         * between our look-up and our insert (the same request on two
         * connections); the store kept ours out, so answer with theirs,
         * under the same key rule as any repeat. */
        svc_outcome_clear(o);
        rc = scep_pubkey_fingerprint(X509_REQ_get0_pubkey(csr), fp);
        if (rc != 0)
            goto out;
        rc = svc_reissued(svc, ctx->transaction_id, fp, SCEP_FAIL_BAD_REQUEST,
                          scep_strerror(SCEP_ERR_TRANSID_REUSE), o);
        if (rc == SCEP_ERR_NOT_FOUND)
            rc = SCEP_ERR_STORE; /* refused for a certificate that is not there */
        goto out;
    }
    if (rc != 0)
        goto out;
    o->issue_seconds = mono_now() - t0;
    rc = svc_succeed_cert(svc, o, cert);
out:
    X509_free(cert);
    return rc;
}

/*
 * The same transactionID again (micromdm resends every 30 s, RFC 8894
 * 5.2; CertPoll, 3.3.3): the certificate already issued for it, when it
 * is for the same key.  Returns 0 with o filled, SCEP_ERR_NOT_FOUND when
 * nothing was issued for transaction_id, or SCEP_ERR_*.
 */
int svc_reissued(struct scep_service *svc, const char *transaction_id, const char *key_fp,
                 int mismatch_fail, const char *mismatch_text, struct svc_outcome *o)
{
    struct scep_cert_info *ci = NULL;
    X509 *cert = NULL;
    int rc;

    rc = scep_store_get_cert_by_transaction(svc->st, transaction_id, &ci);
    if (rc != 0)
        return rc;
    if (ci->pubkey_fp == NULL || strcmp(ci->pubkey_fp, key_fp) != 0) {
        rc = svc_refuse(o, mismatch_fail, "%s", mismatch_text);
        goto out;
    }
    rc = svc_stored_cert(ci, &cert);
    if (rc != 0)
        goto out;
    rc = svc_succeed_cert(svc, o, cert);
    if (rc != 0)
        goto out;
    snprintf(o->serial, sizeof(o->serial), "%s", ci->serial);
out:
    X509_free(cert);
    scep_cert_info_free(ci);
    return rc;
}

/* See service_int.h. */
void svc_audit_detail(char *out, size_t outlen, const char *subject, const struct svc_profile *prof,
                      const char *via, int64_t challenge_id)
{
    int n;

    n = snprintf(out, outlen, "%s; profile=%s via=%s", subject != NULL ? subject : "",
                 prof != NULL && prof->name[0] != '\0' ? prof->name : "default",
                 via != NULL ? via : "-");
    if (challenge_id > 0 && n > 0 && (size_t)n < outlen)
        snprintf(out + n, outlen - (size_t)n, " challenge=%lld", (long long)challenge_id);
}
