/*
 * The SCEP service object and its cleartext operations: creating and
 * freeing a worker's service, swapping the CA on rollover, the
 * capabilities we advertise, and the GetCACaps, GetCACert and
 * GetNextCACert bodies (RFC 8894 4.2, 4.5, 4.6).  PKIOperation is in
 * pkiop.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <scep/caps.h>
#include <scep/error.h>
#include <scep/message.h>
#include "admin/admin.h"
#include "service/service_int.h"

/*
 * Makes a service.  Profile names must be unique and not empty (the
 * empty name is the default profile).  *out: free with
 * scep_service_free().
 */
int scep_service_new(struct scep_ca *ca, struct scep_store *st,
                     const struct scep_service_config *cfg, struct scep_service **out)
{
    struct scep_service *svc = NULL;
    size_t i, j;
    int rc = SCEP_ERR_INVALID_ARG;

    if (ca == NULL || st == NULL || cfg == NULL || out == NULL ||
        (cfg->nprofiles > 0 && cfg->profiles == NULL))
        goto out;
    for (i = 0; i < cfg->nprofiles; i++) {
        const char *n = cfg->profiles[i].name;

        if (n == NULL || n[0] == '\0')
            goto out;
        for (j = 0; j < i; j++)
            if (strcmp(cfg->profiles[j].name, n) == 0)
                goto out;
    }
    rc = SCEP_ERR_NOMEM;
    svc = calloc(1, sizeof(*svc));
    if (svc == NULL)
        goto out;
    svc->st = st;
    svc->crl_next_update = cfg->crl_next_update_seconds > 0 ? cfg->crl_next_update_seconds
                                                            : SVC_CRL_NEXT_UPDATE_SECONDS;
    svc->ocsp_next_update = cfg->ocsp_next_update_seconds > 0 ? cfg->ocsp_next_update_seconds
                                                              : SVC_OCSP_NEXT_UPDATE_SECONDS;
    svc->challenge_limit = cfg->challenge_limit;
    svc->profiles = calloc(cfg->nprofiles + 1, sizeof(*svc->profiles));
    if (svc->profiles == NULL)
        goto out;
    svc->nprofiles = cfg->nprofiles + 1; /* zeroed entries clear safely */
    rc = svc_profile_init(&svc->profiles[0], &cfg->def, "");
    for (i = 0; rc == 0 && i < cfg->nprofiles; i++)
        rc = svc_profile_init(&svc->profiles[i + 1], &cfg->profiles[i], cfg->profiles[i].name);
    if (rc != 0)
        goto out;
    if ((rc = scep_ocsp_cache_new(SVC_OCSP_CACHE_ENTRIES, &svc->ocsp_cache)) != 0 ||
        (rc = svc_replay_attach(svc, cfg->replay)) != 0)
        goto out;
    svc->ca = scep_ca_up_ref(ca);

    *out = svc;
    svc = NULL;
    rc = 0;
out:
    scep_service_free(svc);
    return rc;
}

/* Frees svc and drops its CA reference.  Accepts NULL. */
void scep_service_free(struct scep_service *svc)
{
    size_t i;

    if (svc == NULL)
        return;
    svc_replay_detach(svc);
    scep_ca_free(svc->ca);
    for (i = 0; svc->profiles != NULL && i < svc->nprofiles; i++)
        svc_profile_clear(&svc->profiles[i]);
    free(svc->profiles);
    svc_crl_cache_clear(svc);
    svc_http_crl_cache_clear(svc);
    scep_ocsp_cache_free(svc->ocsp_cache);
    scep_ocsp_signers_free(svc->ocsp_signers);
    free(svc);
}

/* See service.h. */
int scep_service_has_profile(const struct scep_service *svc, const char *name)
{
    return svc != NULL && svc_find_profile(svc, name) != NULL;
}

/*
 * Swaps in a new CA.  The cached CRLs were made for the old CA set (its
 * crlNumbers and which CA was current), so they go with it.
 */
void scep_service_set_ca(struct scep_service *svc, struct scep_ca *ca)
{
    if (svc == NULL || ca == NULL || ca == svc->ca)
        return;
    scep_ca_up_ref(ca);
    scep_ca_free(svc->ca);
    svc->ca = ca;
    svc_crl_cache_clear(svc);
    svc_http_crl_cache_clear(svc);
    scep_ocsp_cache_clear(svc->ocsp_cache);
}

/*
 * Swaps in the OCSP signers.  Cached answers carry the old responder's
 * certificate, which may be about to expire, so they go.
 */
void scep_service_set_ocsp_signers(struct scep_service *svc, struct scep_ocsp_signers *signers)
{
    if (svc == NULL || signers == svc->ocsp_signers)
        return;
    scep_ocsp_signers_up_ref(signers);
    scep_ocsp_signers_free(svc->ocsp_signers);
    svc->ocsp_signers = signers;
    scep_ocsp_cache_clear(svc->ocsp_cache);
}

/*
 * What we advertise.  SHA-384 is listed although no client needs it
 * because Debian's strongSwan 5.9.8 tests enum indexes as bits and
 * refuses AES/SHA-256 without it (scep-interop.md 1.3).
 */
unsigned scep_service_caps(const struct scep_service *svc, const char *profile)
{
    const struct svc_profile *prof = svc_find_profile(svc, profile);

    unsigned caps = SCEP_CAP_AES | SCEP_CAP_DES3 | SCEP_CAP_POST_PKI_OPERATION | SCEP_CAP_SHA1 |
                    SCEP_CAP_SHA256 | SCEP_CAP_SHA384 | SCEP_CAP_SHA512 | SCEP_CAP_SCEP_STANDARD;

    if (prof == NULL)
        prof = &svc->profiles[0];
    if (prof->allow_renewal)
        caps |= SCEP_CAP_RENEWAL;
    if (scep_ca_get0_next_cert(svc->ca) != NULL)
        caps |= SCEP_CAP_GET_NEXT_CA_CERT;
    return caps;
}

/* See service.h. */
struct scep_ca *scep_service_get0_ca(const struct scep_service *svc)
{
    return svc != NULL ? svc->ca : NULL;
}

int scep_service_store_ping(struct scep_service *svc)
{
    if (svc == NULL)
        return SCEP_ERR_INVALID_ARG;
    return scep_store_ping(svc->st);
}

/* Fills r as a 500 for an internal failure rc. */
static int internal_error(struct scep_reply *r, int rc, const char *what)
{
    r->http_status = 500;
    r->content_type = "text/plain";
    r->outcome = "error";
    snprintf(r->reason, sizeof(r->reason), "%s: %s", what, scep_strerror(rc));
    return rc;
}

/* GetCACaps (RFC 8894 3.5.2): the keyword list as text/plain. */
int scep_service_getcacaps(struct scep_service *svc, const char *profile, struct scep_reply *r)
{
    const struct svc_profile *prof;
    char buf[512];
    int n;

    scep_reply_clear(r);
    prof = svc_find_profile(svc, profile);
    if (prof == NULL)
        prof = &svc->profiles[0];
    n = scep_caps_format(scep_service_caps(svc, profile), buf, sizeof(buf));
    if (n < 0)
        return internal_error(r, n, "GetCACaps");
    /* RFC 8894 3.5.2 has no keyword for single DES: it is what a client
     * uses when the server advertises no cipher at all, and old Cisco
     * IOS images send it regardless.  When it is enabled we say so with
     * a private keyword (the vendor-prefix form the interop notes
     * recommend), which every client ignores as unknown. */
    if (prof->allow_des) {
        static const char des_word[] = SVC_CAP_DES_WORD "\n";

        if ((size_t)n + sizeof(des_word) > sizeof(buf))
            return internal_error(r, SCEP_ERR_TOO_LARGE, "GetCACaps");
        memcpy(buf + n, des_word, sizeof(des_word));
        n += (int)sizeof(des_word) - 1;
    }
    r->body = OPENSSL_malloc((size_t)n + 1); /* scep_free() is OPENSSL_free-compatible */
    if (r->body == NULL)
        return internal_error(r, SCEP_ERR_NOMEM, "GetCACaps");
    memcpy(r->body, buf, (size_t)n);
    r->len = (size_t)n;
    r->content_type = "text/plain";
    r->http_status = 200;
    r->outcome = "success";
    return 0;
}

/* GetCACert (RFC 8894 4.2): the CA certificate, or RA + CA certs-only. */
int scep_service_getcacert(struct scep_service *svc, struct scep_reply *r)
{
    unsigned char *der = NULL;
    size_t len = 0;
    const char *ct = NULL;
    int rc;

    scep_reply_clear(r);
    rc = scep_ca_getcacert(svc->ca, &der, &len, &ct);
    if (rc != 0)
        return internal_error(r, rc, "GetCACert");
    r->body = der;
    r->len = len;
    r->content_type = ct;
    r->http_status = 200;
    r->outcome = "success";
    return 0;
}

/* GetNextCACert (RFC 8894 4.6): 404 when no rollover is prepared. */
int scep_service_getnextcacert(struct scep_service *svc, struct scep_reply *r)
{
    unsigned char *der = NULL;
    size_t len = 0;
    int rc;

    scep_reply_clear(r);
    rc = scep_ca_getnextcacert(svc->ca, &der, &len);
    if (rc == SCEP_ERR_NOT_FOUND) {
        r->http_status = 404;
        r->content_type = "text/plain";
        r->outcome = "error";
        snprintf(r->reason, sizeof(r->reason), "no next CA certificate configured");
        return 0;
    }
    if (rc != 0)
        return internal_error(r, rc, "GetNextCACert");
    r->body = der;
    r->len = len;
    r->content_type = "application/x-x509-next-ca-cert";
    r->http_status = 200;
    r->outcome = "success";
    return 0;
}

/*
 * The digests we accept in requests and answer with (RFC 8894 2.9 plus
 * what deployed clients send).  Returns a static EVP_MD or NULL.
 */
const EVP_MD *svc_accepted_md(int nid)
{
    switch (nid) {
    case NID_sha1: /* micromdm scepclient, Cisco: still SHA-1 */
    case NID_sha224:
    case NID_sha256:
    case NID_sha384:
    case NID_sha512:
        return EVP_get_digestbynid(nid);
    default:
        return NULL; /* MD5 and anything exotic: badAlg */
    }
}

/*
 * The content ciphers we accept and mirror in SUCCESS replies.  Returns
 * OpenSSL's static EVP_CIPHER (CMS fetches the provider implementation
 * when it encrypts) or NULL.
 */
const EVP_CIPHER *svc_accepted_cipher(int nid)
{
    switch (nid) {
    case NID_des_cbc: /* Cisco 2800, micromdm scepclient; needs the legacy provider */
    case NID_des_ede3_cbc:
    case NID_aes_128_cbc:
    case NID_aes_192_cbc:
    case NID_aes_256_cbc:
        return EVP_get_cipherbynid(nid);
    default:
        return NULL;
    }
}
