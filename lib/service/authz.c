/*
 * Authorisation of a new enrollment by its challenge password (RFC 8894
 * 2.2, PKCS#9 challengePassword in the CSR): the profile's static
 * challenge, or a one-time challenge minted for the profile (scepctl
 * challenge new; lib/admin/challenges.c), which the store consumes in
 * the transaction that stores the certificate or the pending request.
 * The per-challenge rate limit is taken here too, before any signing.
 * Renewal authorisation (a signer certificate of this CA) lives in
 * enroll.c with the rest of the renewal rules; the webhook in webhook.c;
 * what a CSR may ask for is the CA's rule (scep_ca_check_request) and
 * the profile's (lib/policy/rules.c).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include <scep/error.h>
#include <scep/limits.h>
#include "admin/admin.h"
#include "policy/ratelimit.h"
#include "service/service_int.h"

/* See service_int.h. */
int svc_csr_challenge(X509_REQ *csr, unsigned char *buf, size_t *len)
{
    X509_ATTRIBUTE *attr;
    ASN1_TYPE *t;
    unsigned char *utf8 = NULL;
    int idx, n, rc = SCEP_ERR_CHALLENGE;

    idx = X509_REQ_get_attr_by_NID(csr, NID_pkcs9_challengePassword, -1);
    if (idx < 0)
        return SCEP_ERR_CHALLENGE;
    /* A second attribute would make "which one did we check" ambiguous. */
    if (X509_REQ_get_attr_by_NID(csr, NID_pkcs9_challengePassword, idx) >= 0)
        return SCEP_ERR_CHALLENGE;
    attr = X509_REQ_get_attr(csr, idx);
    if (attr == NULL || X509_ATTRIBUTE_count(attr) != 1)
        return SCEP_ERR_CHALLENGE;
    t = X509_ATTRIBUTE_get0_type(attr, 0);
    if (t == NULL)
        return SCEP_ERR_CHALLENGE;
    /* DirectoryString: openssl req writes UTF8String, most clients
     * PrintableString; BMP/Universal/Teletex are legal too, so everything
     * is normalised to UTF-8 by ASN1_STRING_to_UTF8 before comparing. */
    switch (t->type) {
    case V_ASN1_PRINTABLESTRING:
    case V_ASN1_UTF8STRING:
    case V_ASN1_T61STRING:
    case V_ASN1_BMPSTRING:
    case V_ASN1_UNIVERSALSTRING:
    case V_ASN1_IA5STRING: /* not DirectoryString, but old clients send it */
        break;
    default:
        return SCEP_ERR_CHALLENGE;
    }
    n = ASN1_STRING_to_UTF8(&utf8, t->value.asn1_string);
    if (n < 0)
        goto out;
    if ((size_t)n > SCEP_MAX_CHALLENGE)
        goto out;
    if (n > 0)
        memcpy(buf, utf8, (size_t)n);
    *len = (size_t)n;
    rc = 0;
out:
    if (utf8 != NULL)
        OPENSSL_cleanse(utf8, n > 0 ? (size_t)n : 0);
    OPENSSL_free(utf8);
    return rc;
}

/*
 * Constant-time check of got against the static challenge: both are
 * copied into zero-padded buffers of the maximum size and compared whole
 * with CRYPTO_memcmp, and the length difference is folded in afterwards,
 * so the time taken depends on neither the content nor where the first
 * difference lies.  Returns 1 on a match.
 */
static int static_match(const struct svc_profile *prof, const unsigned char *got, size_t got_len)
{
    unsigned char want[SCEP_MAX_CHALLENGE], pad[SCEP_MAX_CHALLENGE];
    int diff;

    if (prof->challenge == NULL || prof->challenge_len == 0)
        return 0;
    memset(want, 0, sizeof(want));
    memset(pad, 0, sizeof(pad));
    memcpy(want, prof->challenge, prof->challenge_len); /* <= SCEP_MAX_CHALLENGE */
    memcpy(pad, got, got_len);
    diff = CRYPTO_memcmp(want, pad, sizeof(want));
    diff |= (got_len != prof->challenge_len);
    OPENSSL_cleanse(want, sizeof(want));
    OPENSSL_cleanse(pad, sizeof(pad));
    return diff == 0;
}

/*
 * Whether this transactionID already holds what challenge ci authorised:
 * a certificate or a request stored with it.  Then a used-up one-time
 * challenge is this client's own retry, and the answer is what it got
 * the first time (Fleet #44111 is the bug of refusing it).
 */
static int consumed_by(struct scep_service *svc, const struct scep_challenge_info *ci,
                       const char *transaction_id, int *yes)
{
    struct scep_cert_info *cert = NULL;
    struct scep_request_info *req = NULL;
    int rc;

    *yes = 0;
    rc = scep_store_get_cert_by_transaction(svc->st, transaction_id, &cert);
    if (rc == 0) {
        *yes = cert->challenge_id == ci->id;
        scep_cert_info_free(cert);
        return 0;
    }
    if (rc != SCEP_ERR_NOT_FOUND)
        return rc;
    rc = scep_store_get_request_by_transaction(svc->st, transaction_id, &req);
    if (rc == 0) {
        *yes = req->challenge_id == ci->id;
        scep_request_info_free(req);
        return 0;
    }
    return rc == SCEP_ERR_NOT_FOUND ? 0 : rc;
}

/* The one-time challenge whose hash is hash, for enrollment a. */
static int one_time(struct scep_service *svc, struct svc_enroll *a, const char *hash,
                    struct svc_outcome *o)
{
    struct scep_challenge_info *ci = NULL;
    const char *pname = a->prof->name;
    char why[200];
    int used, rc;

    rc = scep_store_get_challenge_by_hash(svc->st, hash, &ci);
    if (rc == SCEP_ERR_NOT_FOUND)
        return svc_refuse(o, SCEP_FAIL_BAD_REQUEST, "challenge password wrong or unknown");
    if (rc != 0)
        return rc;
    if (strcmp(ci->profile != NULL ? ci->profile : "", pname) != 0) {
        rc = svc_refuse(o, SCEP_FAIL_BAD_REQUEST,
                        "one-time challenge is for another profile, not %s",
                        pname[0] != '\0' ? pname : "the default profile");
        goto out;
    }
    if (ci->revoked_at > 0) {
        rc = svc_refuse(o, SCEP_FAIL_BAD_REQUEST, "one-time challenge was revoked");
        goto out;
    }
    if (ci->uses >= ci->max_uses) {
        rc = consumed_by(svc, ci, scep_msg_get0_transaction_id(a->m), &used);
        if (rc != 0)
            goto out;
        if (!used) {
            rc = svc_refuse(o, SCEP_FAIL_BAD_REQUEST, "one-time challenge already used");
            goto out;
        }
        /* The retry: what the first message stored answers it. */
        a->via = "one-time";
        goto out;
    }
    if (ci->expires_at <= (int64_t)time(NULL)) {
        rc = svc_refuse(o, SCEP_FAIL_BAD_REQUEST, "one-time challenge expired");
        goto out;
    }
    /* The subject the certificate will carry: a new enrollment's own. */
    rc = scep_admin_challenge_check_binding(
        ci, a->subject != NULL ? a->subject : X509_REQ_get_subject_name(a->csr), a->csr, why,
        sizeof(why));
    if (rc == SCEP_ERR_POLICY) {
        rc = svc_refuse(o, SCEP_FAIL_BAD_REQUEST, "%s", why);
        goto out;
    }
    if (rc != 0)
        goto out;
    a->challenge_id = ci->id;
    a->via = "one-time";
out:
    scep_challenge_info_free(ci);
    return rc;
}

/* See service_int.h. */
int svc_authorize_challenge(struct scep_service *svc, struct svc_enroll *a, struct svc_outcome *o)
{
    unsigned char got[SCEP_MAX_CHALLENGE];
    char hash[65];
    size_t got_len = 0;
    long retry = 0;
    int have, rc;

    have = svc_csr_challenge(a->csr, got, &got_len) == 0 && got_len > 0;
    rc = 0;
    if (have) {
        rc = scep_admin_challenge_hash((const char *)got, got_len, hash);
        if (rc != 0)
            goto out;
        /* Before any comparison, lookup or signing: a leaked challenge
         * sprayed at the CA costs it nothing beyond the envelope. */
        if (svc->challenge_limit != NULL &&
            !scep_ratelimit_take(svc->challenge_limit, hash, scep_ratelimit_now(), &retry)) {
            o->retry_after = retry > 0 ? retry : 1;
            snprintf(o->reason, sizeof(o->reason), "too many enrollments with this challenge");
            goto out;
        }
    }
    if (a->prof->challenge == NULL && !a->prof->require_challenge) {
        a->via = a->prof->webhook_url != NULL ? "webhook" : "open";
        goto out;
    }
    if (!have) {
        rc = svc_refuse(o, SCEP_FAIL_BAD_REQUEST, "challenge password missing");
        goto out;
    }
    if (static_match(a->prof, got, got_len)) {
        a->via = "static";
        goto out;
    }
    rc = one_time(svc, a, hash, o);
out:
    OPENSSL_cleanse(got, sizeof(got));
    return rc;
}
