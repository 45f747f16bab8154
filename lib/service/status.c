/*
 * Certificate status over HTTP: the CRLs that scepd serves at /crl and
 * the OCSP responder at /ocsp, for the worker that owns this service.
 * Both ask the core (lib/admin: the one CRL builder, the OCSP answer)
 * and add only what serving them needs: which CA a CRL path names, a
 * short per-issuer cache, and how long a client may keep each answer.
 *
 * Revocations are written by scepctl, another process or another node,
 * so a worker keeps a CRL at most SVC_HTTP_CRL_MAX_AGE seconds, then asks
 * the core for the published one (scep_admin_crl_current): the CRL every
 * node on the store serves, remade by one of them when a revocation
 * changed what it lists or half its validity passed.  So a revocation
 * shows within that time on every node, and a CRL served never lapses
 * while scepd runs.  OCSP
 * answers read the store for every request and are never stale; signed
 * answers to nonce-free requests are reused from the worker's response
 * cache while the store says the same (lib/admin/ocsp_cache.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/ocsp.h>

#include <scep/error.h>
#include "admin/admin.h"
#include "service/service_int.h"

static time_t status_mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

/* Empties the HTTP CRL cache (see service_int.h). */
void svc_http_crl_cache_clear(struct scep_service *svc)
{
    for (int i = 0; i < SVC_CRL_CACHE_SLOTS; i++) {
        free(svc->http_crls[i].der);
        memset(&svc->http_crls[i], 0, sizeof(svc->http_crls[i]));
    }
}

/* The cache slot for fp: its own, else an empty one, else the oldest. */
static struct svc_http_crl_slot *http_crl_slot(struct scep_service *svc, const char *fp)
{
    struct svc_http_crl_slot *slot = &svc->http_crls[0];
    int i;

    for (i = 0; i < SVC_CRL_CACHE_SLOTS; i++) {
        if (strcmp(svc->http_crls[i].issuer_fp, fp) == 0)
            return &svc->http_crls[i];
    }
    for (i = 1; i < SVC_CRL_CACHE_SLOTS && slot->der != NULL; i++) {
        if (svc->http_crls[i].der == NULL || svc->http_crls[i].made < slot->made)
            slot = &svc->http_crls[i];
    }
    return slot;
}

int scep_service_crl(struct scep_service *svc, const char *which, struct scep_reply *r)
{
    struct scep_admin_crl_info info;
    struct svc_http_crl_slot *slot;
    unsigned char *der = NULL;
    size_t len = 0;
    X509 *issuer = NULL;
    time_t mono = status_mono(), now = time(NULL);
    char fp[65];
    int rc;

    scep_reply_clear(r);
    r->content_type = "text/plain";
    rc = scep_ca_find_issuer(svc->ca, which, &issuer);
    if (rc == SCEP_ERR_NOT_FOUND || rc == SCEP_ERR_INVALID_ARG) {
        r->http_status = 404;
        r->outcome = "failure";
        snprintf(r->reason, sizeof(r->reason), "no CA of this server is named %s",
                 which != NULL ? which : "current");
        return 0;
    }
    if (rc == 0)
        rc = scep_cert_fingerprint(issuer, fp);
    if (rc != 0)
        goto fail;
    slot = http_crl_slot(svc, fp);
    /* Remade when old, and long before its nextUpdate could come near
     * (a nextUpdate shorter than twice the cache time also forces it). */
    if (slot->der == NULL || strcmp(slot->issuer_fp, fp) != 0 ||
        mono - slot->made >= SVC_HTTP_CRL_MAX_AGE ||
        slot->next_update - (int64_t)now < 2 * SVC_HTTP_CRL_MAX_AGE) {
        rc = scep_admin_crl_current(svc->st, svc->ca, issuer, svc->crl_next_update, 0, NULL, &der,
                                    &len, &info);
        if (rc != 0)
            goto fail;
        free(slot->der);
        memcpy(slot->issuer_fp, fp, sizeof(slot->issuer_fp));
        slot->der = der;
        slot->len = len;
        slot->made = mono;
        slot->next_update = info.next_update;
        der = NULL;
    }
    rc = SCEP_ERR_NOMEM;
    if ((r->body = OPENSSL_memdup(slot->der, slot->len)) == NULL)
        goto fail;
    r->len = slot->len;
    r->content_type = "application/pkix-crl";
    r->http_status = 200;
    r->outcome = "success";
    r->max_age = SVC_HTTP_CRL_MAX_AGE - (long)(mono - slot->made);
    if (r->max_age < 0)
        r->max_age = 0;
    r->expires = (int64_t)now + r->max_age;
    return 0;
fail:
    free(der);
    r->http_status = 500;
    r->outcome = "error";
    snprintf(r->reason, sizeof(r->reason), "CRL: %s", scep_strerror(rc));
    return rc;
}

int scep_service_ocsp(struct scep_service *svc, const unsigned char *req, size_t len,
                      struct scep_reply *r)
{
    struct scep_ocsp_info info;
    unsigned char *der = NULL;
    size_t dlen = 0;
    int rc;

    scep_reply_clear(r);
    rc = scep_admin_ocsp_answer(svc->st, svc->ca, svc->ocsp_signers, svc->ocsp_cache, req, len,
                                svc->ocsp_next_update, &der, &dlen, &info);
    if (rc != 0) {
        r->http_status = 500;
        r->content_type = "text/plain";
        r->outcome = "error";
        snprintf(r->reason, sizeof(r->reason), "OCSP: %s", scep_strerror(rc));
        return rc;
    }
    rc = SCEP_ERR_NOMEM;
    r->body = OPENSSL_memdup(der, dlen);
    free(der);
    if (r->body == NULL) {
        r->http_status = 500;
        r->content_type = "text/plain";
        r->outcome = "error";
        snprintf(r->reason, sizeof(r->reason), "OCSP: %s", scep_strerror(rc));
        return rc;
    }
    /* RFC 6960 A.1: errors are OCSPResponses too, sent with 200. */
    r->len = dlen;
    r->content_type = "application/ocsp-response";
    r->http_status = 200;
    snprintf(r->serial, sizeof(r->serial), "%s", info.serial);
    if (info.status == OCSP_RESPONSE_STATUS_SUCCESSFUL) {
        r->outcome = "success";
        /* RFC 5019 6.2: cacheable until nextUpdate. */
        r->expires = info.next_update;
        snprintf(r->reason, sizeof(r->reason), "%s%s",
                 info.cert_status == V_OCSP_CERTSTATUS_GOOD      ? "good"
                 : info.cert_status == V_OCSP_CERTSTATUS_REVOKED ? "revoked"
                                                                 : "unknown",
                 info.cached ? " (cached)" : "");
        /* A reused answer is cacheable for what is left of it. */
        r->max_age = (long)(info.next_update - (int64_t)time(NULL));
        if (r->max_age < 0)
            r->max_age = 0;
    } else {
        r->outcome = "failure";
        snprintf(r->reason, sizeof(r->reason), "%s: %s", OCSP_response_status_str(info.status),
                 info.why);
    }
    return 0;
}
