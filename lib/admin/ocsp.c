/*
 * The OCSP responder's core (RFC 6960): an OCSPRequest in, a signed
 * OCSPResponse out, for every CA of the set (current and archived).
 * HTTP is the front end's (src/scepd); this file decides what the
 * response says, and the issuing CA's delegated responder signs it
 * (lib/ca/responder.c) or, without one, the CA's own key (lib/ca/ocsp.c).
 *
 * The request is untrusted bytes: it is decoded only by OpenSSL, with
 * its length bounded by SCEP_MAX_OCSP_REQUEST and trailing bytes
 * refused, and its requestList bounded by SCEP_MAX_OCSP_CERTIDS.  A
 * request that fails any of that is answered malformedRequest (RFC 6960
 * 2.3); one that names an issuer we do not hold, unauthorized.  Request
 * signatures are not checked: RFC 6960 4.1.2 makes them optional and we
 * answer anyone.  Answers to nonce-free requests for one certificate
 * may come from a cache of signed responses (ocsp_cache.c), checked
 * against the store on every request.  tests/fuzz/fuzz_ocsp.c feeds
 * this file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>

#include <scep/error.h>

#include "admin/admin.h"
#include "admin/ocsp_cache.h"
#include "common/server_limits.h"
#include "util/hex.h"

/* The CA of our set that a CertID names (RFC 6960 4.1.1: hashes of the
 * issuer's name and public key).  A rollover usually keeps the name, so
 * the key hash is what tells an archived CA from the current one.
 * Returns the borrowed certificate, or NULL. */
static X509 *ocsp_find_issuer(const struct scep_ca *ca, struct scep_ocsp_cache *cache,
                              OCSP_CERTID *cid)
{
    ASN1_OBJECT *md_oid = NULL;
    const EVP_MD *md;
    OCSP_CERTID *mine;
    X509 *c;
    int i, same, owned;

    if (OCSP_id_get0_info(NULL, &md_oid, NULL, NULL, cid) != 1 || md_oid == NULL)
        return NULL;
    /* Only the hashes clients use; anything else cannot name our CA. */
    switch (OBJ_obj2nid(md_oid)) {
    case NID_sha1:
        md = EVP_sha1();
        break;
    case NID_sha256:
        md = EVP_sha256();
        break;
    case NID_sha384:
        md = EVP_sha384();
        break;
    case NID_sha512:
        md = EVP_sha512();
        break;
    default:
        return NULL;
    }
    c = scep_ca_get0_cert(ca);
    for (i = 0; c != NULL; c = scep_ca_get0_archived(ca, i++)) {
        /* OCSP_id_issuer_cmp compares algorithm and both hashes only;
         * the cache keeps each CA's (computed once per worker). */
        if (ocsp_cache_issuer_id(cache, c, md, &mine, &owned) != 0)
            return NULL;
        same = OCSP_id_issuer_cmp(mine, cid) == 0;
        if (owned)
            OCSP_CERTID_free(mine);
        if (same)
            return c;
    }
    return NULL;
}

/*
 * What the store says of cid's serial for issuer (fingerprint issuer_fp;
 * is_current when it is the current CA): good, revoked (time, reason),
 * or unknown for a serial the store does not hold, or holds for another
 * CA (RFC 6960 2.2: the responder does not know the certificate).
 * Fills *out and serial (the store form, "" when unusable).  Returns 0
 * or SCEP_ERR_*.
 */
static int ocsp_lookup(struct scep_store *st, OCSP_CERTID *cid, const char *issuer_fp,
                       int is_current, struct ocsp_cache_state *out, char *serial,
                       size_t serial_size)
{
    struct scep_cert_info *ci = NULL;
    ASN1_INTEGER *sn = NULL;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    snprintf(out->issuer_fp, sizeof(out->issuer_fp), "%s", issuer_fp);
    out->status = V_OCSP_CERTSTATUS_UNKNOWN;
    out->reason = OCSP_REVOKED_STATUS_NOSTATUS;
    serial[0] = '\0';
    if (OCSP_id_get0_info(NULL, NULL, NULL, &sn, cid) != 1 || sn == NULL)
        return SCEP_ERR_INTERNAL;
    /* A zero, negative or over-long serial is none we issued. */
    if (util_serial_hex(sn, serial, serial_size) != 0)
        return 0;
    rc = scep_store_get_cert(st, serial, &ci);
    if (rc == SCEP_ERR_NOT_FOUND)
        return 0;
    if (rc != 0)
        return rc;
    /* Records without an issuer count as the current CA's, as in the
     * CRL builder (crl.c). */
    if (ci->issuer_fp == NULL ? is_current : strcmp(ci->issuer_fp, issuer_fp) == 0) {
        if (ci->status == SCEP_CERT_REVOKED) {
            out->status = V_OCSP_CERTSTATUS_REVOKED;
            out->revoked_at = ci->revoked_at;
            /* The CRLReason codes are OCSP's (RFC 6960 4.2.1
             * revocationReason); none given leaves the field out. */
            if (ci->revocation_reason >= 0 && ci->revocation_reason <= 10)
                out->reason = ci->revocation_reason;
        } else {
            out->status = V_OCSP_CERTSTATUS_GOOD;
        }
    }
    scep_cert_info_free(ci);
    return 0;
}

/* Adds the SingleResponse for cid saying s to bs.  Returns 0 or
 * SCEP_ERR_INTERNAL. */
static int ocsp_add_status(OCSP_BASICRESP *bs, OCSP_CERTID *cid, const struct ocsp_cache_state *s,
                           ASN1_TIME *this_upd, ASN1_TIME *next_upd)
{
    ASN1_TIME *rev_time = NULL;
    int rc = SCEP_ERR_INTERNAL;

    if (s->status == V_OCSP_CERTSTATUS_REVOKED &&
        (rev_time = ASN1_TIME_set(NULL, (time_t)s->revoked_at)) == NULL)
        goto out;
    /* OCSP_basic_add1_status copies cid and the times. */
    if (OCSP_basic_add1_status(bs, cid, s->status, s->reason, rev_time, this_upd, next_upd) == NULL)
        goto out;
    rc = 0;
out:
    ASN1_TIME_free(rev_time);
    return rc;
}

/* Whether and how an answer is cached (see ocsp_cache.h). */
struct ocsp_reuse {
    int cacheable;                         /* one CertID, no nonce, cache given */
    unsigned char key[OCSP_CACHE_MAX_KEY]; /* the CertID's DER */
    size_t klen;
    struct ocsp_cache_state state;
    uint64_t token; /* scep_store_change_token before the read, when has_token */
    int has_token;
    const unsigned char *hit; /* a cached response to send, borrowed */
    size_t hit_len;
};

/* Fills r->key with cid's DER; not cacheable when it does not fit. */
static void ocsp_reuse_key(struct ocsp_reuse *r, OCSP_CERTID *cid)
{
    unsigned char *p = r->key;
    int n = i2d_OCSP_CERTID(cid, NULL);

    if (n <= 0 || (size_t)n > sizeof(r->key) || i2d_OCSP_CERTID(cid, &p) != n) {
        r->cacheable = 0;
        return;
    }
    r->klen = (size_t)n;
}

/* Encodes an OCSPResponse with status and bs (may be NULL) into *out
 * (free with free()).  Returns 0 or SCEP_ERR_*. */
static int ocsp_encode(int status, OCSP_BASICRESP *bs, unsigned char **out, size_t *len)
{
    OCSP_RESPONSE *resp = NULL;
    unsigned char *der = NULL, *p;
    int n, rc = SCEP_ERR_INTERNAL;

    if ((resp = OCSP_response_create(status, bs)) == NULL)
        goto out;
    if ((n = i2d_OCSP_RESPONSE(resp, NULL)) <= 0)
        goto out;
    if ((der = malloc((size_t)n)) == NULL) {
        rc = SCEP_ERR_NOMEM;
        goto out;
    }
    p = der;
    if (i2d_OCSP_RESPONSE(resp, &p) != n)
        goto out;
    *out = der;
    *len = (size_t)n;
    der = NULL;
    rc = 0;
out:
    free(der);
    OCSP_RESPONSE_free(resp);
    return rc;
}

/* Sets info's status and reason for a refusal. */
static void ocsp_refuse(struct scep_ocsp_info *info, int status, const char *why)
{
    info->status = status;
    snprintf(info->why, sizeof(info->why), "%s", why);
}

/*
 * Decides the answer to the request der into bs and info; see
 * scep_admin_ocsp_answer.  With a cache, a nonce-free request for one
 * certificate may be answered from it (r->hit) or marked for keeping
 * (r->cacheable).  Returns 0 (info->status says what to send) or
 * SCEP_ERR_* for an internal failure.
 */
static int ocsp_decide(struct scep_store *st, const struct scep_ca *ca,
                       const struct scep_ocsp_signers *signers, struct scep_ocsp_cache *cache,
                       const unsigned char *der, size_t len, long next_update_seconds,
                       OCSP_BASICRESP *bs, struct scep_ocsp_info *info, struct ocsp_reuse *r)
{
    struct ocsp_cache_state states[SCEP_MAX_OCSP_CERTIDS];
    const unsigned char *p = der;
    OCSP_REQUEST *req = NULL;
    OCSP_CERTID *cid;
    ASN1_TIME *this_upd = NULL, *next_upd = NULL;
    X509 *issuer = NULL, *c, *responder;
    char fp[65], serial[UTIL_SERIAL_HEX_SIZE];
    time_t now = time(NULL);
    int64_t t0, t1, until, responder_end = 0;
    int i, n, is_current, rc = 0;

    if (len == 0 || len > SCEP_MAX_OCSP_REQUEST) {
        ocsp_refuse(info, OCSP_RESPONSE_STATUS_MALFORMEDREQUEST,
                    len == 0 ? "empty request" : "request too large");
        goto out;
    }
    req = d2i_OCSP_REQUEST(NULL, &p, (long)len);
    if (req == NULL || p != der + len) {
        ocsp_refuse(info, OCSP_RESPONSE_STATUS_MALFORMEDREQUEST,
                    req == NULL ? "not an OCSPRequest (RFC 6960 4.1.1)"
                                : "trailing bytes after the OCSPRequest (RFC 6960 4.1.1)");
        goto out;
    }
    n = OCSP_request_onereq_count(req);
    if (n < 1 || n > SCEP_MAX_OCSP_CERTIDS) {
        ocsp_refuse(info, OCSP_RESPONSE_STATUS_MALFORMEDREQUEST,
                    n < 1 ? "empty requestList (RFC 6960 4.1.1)" : "too many CertIDs");
        goto out;
    }
    /* One response has one signer, so every CertID must name the same
     * CA of ours; one we do not hold is unauthorized (RFC 6960 2.3). */
    for (i = 0; i < n; i++) {
        c = ocsp_find_issuer(ca, cache, OCSP_onereq_get0_id(OCSP_request_onereq_get0(req, i)));
        if (c == NULL || (issuer != NULL && c != issuer)) {
            ocsp_refuse(info, OCSP_RESPONSE_STATUS_UNAUTHORIZED,
                        c == NULL ? "CertID names an issuer this responder does not serve"
                                  : "CertIDs of different issuers in one request");
            goto out;
        }
        issuer = c;
    }
    if ((rc = ocsp_cache_issuer_fp(cache, issuer, fp)) != 0)
        goto out;
    is_current = issuer == scep_ca_get0_cert(ca);
    /* The nonce extension makes every answer unique (RFC 6960 4.4.1). */
    r->cacheable =
        cache != NULL && n == 1 && OCSP_REQUEST_get_ext_by_NID(req, NID_id_pkix_OCSP_Nonce, -1) < 0;
    if (r->cacheable) {
        cid = OCSP_onereq_get0_id(OCSP_request_onereq_get0(req, 0));
        ocsp_reuse_key(r, cid);
        /* Nothing committed since the cached answer was last confirmed:
         * it still holds, without a read (taken before the read below,
         * so a commit in between makes the next request read again). */
        r->has_token = scep_store_change_token(st, &r->token) == 0;
        if (r->cacheable && r->has_token &&
            ocsp_cache_get_unchanged(cache, r->key, r->klen, r->token, (int64_t)now, &r->state,
                                     &r->hit, &r->hit_len, &t0, &t1)) {
            ASN1_INTEGER *sn = NULL;

            if (OCSP_id_get0_info(NULL, NULL, NULL, &sn, cid) != 1 || sn == NULL ||
                util_serial_hex(sn, info->serial, sizeof(info->serial)) != 0)
                info->serial[0] = '\0';
            info->cert_status = r->state.status;
            info->count = 1;
            info->status = OCSP_RESPONSE_STATUS_SUCCESSFUL;
            info->this_update = t0;
            info->next_update = t1;
            info->cached = 1;
            goto out;
        }
    }
    for (i = 0; i < n; i++) {
        rc = ocsp_lookup(st, OCSP_onereq_get0_id(OCSP_request_onereq_get0(req, i)), fp, is_current,
                         &states[i], serial, sizeof(serial));
        if (rc != 0)
            goto out;
        if (i == 0) {
            info->cert_status = states[0].status;
            snprintf(info->serial, sizeof(info->serial), "%s", serial);
        }
    }
    info->count = (size_t)n;
    if (r->cacheable)
        r->state = states[0];
    if (r->cacheable && ocsp_cache_get(cache, r->key, r->klen, &r->state, r->token, r->has_token,
                                       (int64_t)now, &r->hit, &r->hit_len, &t0, &t1)) {
        info->status = OCSP_RESPONSE_STATUS_SUCCESSFUL;
        info->this_update = t0;
        info->next_update = t1;
        info->cached = 1;
        goto out;
    }
    /* The delegated responder signs while it is valid; an answer never
     * outlives it, since a client checks the signer's validity too.
     * Without one (ocsp_signer = ca, or none could be made) the CA
     * itself signs (RFC 6960 4.2.2.2 allows both). */
    responder = scep_ocsp_signers_get0_cert(signers, issuer, &responder_end);
    if (responder != NULL && responder_end <= (int64_t)now)
        responder = NULL;
    until = (int64_t)now + next_update_seconds;
    if (responder != NULL && responder_end < until)
        until = responder_end;
    rc = SCEP_ERR_INTERNAL;
    this_upd = ASN1_GENERALIZEDTIME_set(NULL, now);
    next_upd = ASN1_GENERALIZEDTIME_set(NULL, (time_t)until);
    if (this_upd == NULL || next_upd == NULL)
        goto out;
    for (i = 0; i < n; i++) {
        cid = OCSP_onereq_get0_id(OCSP_request_onereq_get0(req, i));
        if ((rc = ocsp_add_status(bs, cid, &states[i], this_upd, next_upd)) != 0)
            goto out;
    }
    rc = SCEP_ERR_INTERNAL;
    /* The nonce is echoed as it came; OCSP_copy_nonce returns 2 when the
     * request has none. */
    if (OCSP_copy_nonce(bs, req) <= 0)
        goto out;
    if (responder != NULL)
        rc = scep_ocsp_signers_sign(signers, issuer, bs);
    else
        rc = scep_ca_sign_ocsp(ca, issuer, bs);
    if (rc == SCEP_ERR_NOT_FOUND) {
        /* An archived CA whose key was removed, with no valid responder
         * left: nothing may speak for it any more (RFC 6960 2.3). */
        ocsp_refuse(info, OCSP_RESPONSE_STATUS_UNAUTHORIZED,
                    "no key left to sign for this archived CA");
        rc = 0;
        goto out;
    }
    if (rc != 0)
        goto out;
    info->status = OCSP_RESPONSE_STATUS_SUCCESSFUL;
    info->delegated = responder != NULL;
    info->this_update = (int64_t)now;
    info->next_update = until;
    rc = 0;
out:
    ASN1_TIME_free(this_upd);
    ASN1_TIME_free(next_upd);
    OCSP_REQUEST_free(req);
    return rc;
}

int scep_admin_ocsp_answer(struct scep_store *st, const struct scep_ca *ca,
                           const struct scep_ocsp_signers *signers, struct scep_ocsp_cache *cache,
                           const unsigned char *req, size_t len, long next_update_seconds,
                           unsigned char **out, size_t *outlen, struct scep_ocsp_info *info)
{
    OCSP_BASICRESP *bs = NULL;
    struct scep_ocsp_info tmp;
    struct ocsp_reuse reuse;
    int rc = SCEP_ERR_INVALID_ARG;

    memset(&tmp, 0, sizeof(tmp));
    memset(&reuse, 0, sizeof(reuse));
    tmp.cert_status = -1;
    if (st == NULL || ca == NULL || (req == NULL && len > 0) || out == NULL || outlen == NULL ||
        next_update_seconds <= 0)
        goto out;
    rc = SCEP_ERR_NOMEM;
    if ((bs = OCSP_BASICRESP_new()) == NULL)
        goto out;
    rc = ocsp_decide(st, ca, signers, cache, req, len, next_update_seconds, bs, &tmp, &reuse);
    if (rc != 0) {
        /* The client still gets an answer it can read (RFC 6960 2.3). */
        ocsp_refuse(&tmp, OCSP_RESPONSE_STATUS_INTERNALERROR, scep_strerror(rc));
        tmp.cert_status = -1;
        reuse.cacheable = 0;
        reuse.hit = NULL;
    }
    if (reuse.hit != NULL) {
        rc = SCEP_ERR_NOMEM;
        if ((*out = malloc(reuse.hit_len)) == NULL)
            goto out;
        memcpy(*out, reuse.hit, reuse.hit_len);
        *outlen = reuse.hit_len;
    } else {
        rc = ocsp_encode(tmp.status, tmp.status == OCSP_RESPONSE_STATUS_SUCCESSFUL ? bs : NULL, out,
                         outlen);
        if (rc != 0)
            goto out;
        if (reuse.cacheable && tmp.status == OCSP_RESPONSE_STATUS_SUCCESSFUL)
            ocsp_cache_put(cache, reuse.key, reuse.klen, &reuse.state, reuse.token, reuse.has_token,
                           *out, *outlen, tmp.this_update, tmp.next_update);
    }
    if (info != NULL)
        *info = tmp;
    rc = 0;
out:
    OCSP_BASICRESP_free(bs);
    return rc;
}
