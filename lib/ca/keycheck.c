/*
 * Public-key soundness of what we certify: the key in a CSR must be one
 * that only its holder can use.  An RSA key with e = 1 "signs" without a
 * private key (its signature is the padded digest itself), so whoever
 * holds such a certificate could forge requests in its name; keys with
 * small factors, an even modulus or a point off the curve are just as
 * worthless.  The structural checks are OpenSSL's (EVP_PKEY_public_check:
 * SP 800-56B for RSA, the point on its curve for EC); the policy on top
 * (modulus size, exponent, curves) is the profile's.
 */
#include <stdio.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>

#include <scep/error.h>
#include <scep/limits.h>

#include "ca/ca.h"
#include "ca/ca_internal.h"

/* Largest RSA public exponent accepted, in bits: SP 800-56B 6.2.1
 * bounds e below 2^256, and no client uses more than 65537. */
#define KEY_MAX_RSA_E_BITS 256

/* The default and the floor of scep_profile.min_rsa_exponent. */
#define KEY_DEFAULT_MIN_RSA_E 65537L
#define KEY_FLOOR_RSA_E 3L

/*
 * OpenSSL's own public-key validation.  Returns 1 when it passes.  The
 * error queue is cleared: a refusal is reported through why[].
 */
static int public_check(EVP_PKEY *pkey)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    int ok;

    /* EVP_PKEY_public_check: 1 valid, 0 invalid, -2 not supported. */
    ok = ctx != NULL && EVP_PKEY_public_check(ctx) == 1;
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

static int check_rsa(EVP_PKEY *pkey, const struct scep_profile *p, char *why, size_t whylen)
{
    BIGNUM *e = NULL, *min = NULL;
    long want = p->min_rsa_exponent > 0 ? p->min_rsa_exponent : KEY_DEFAULT_MIN_RSA_E;
    int bits = EVP_PKEY_get_bits(pkey), rc = SCEP_ERR_KEY;

    if (want < KEY_FLOOR_RSA_E)
        want = KEY_FLOOR_RSA_E;
    if (bits < SCEP_MIN_RSA_BITS || bits > SCEP_MAX_RSA_BITS) {
        snprintf(why, whylen, "RSA key of %d bits (accepted: %d to %d)", bits, SCEP_MIN_RSA_BITS,
                 SCEP_MAX_RSA_BITS);
        goto out;
    }
    /* EVP_PKEY_get_bn_param allocates e (BN_free). */
    if (!EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e)) {
        ERR_clear_error();
        snprintf(why, whylen, "RSA key without a readable public exponent");
        goto out;
    }
    rc = SCEP_ERR_NOMEM;
    if ((min = BN_new()) == NULL || !BN_set_word(min, (BN_ULONG)want))
        goto out;
    rc = SCEP_ERR_KEY;
    if (!BN_is_odd(e) || BN_cmp(e, min) < 0 || BN_num_bits(e) > KEY_MAX_RSA_E_BITS) {
        snprintf(why, whylen,
                 "RSA public exponent must be odd, at least %ld and below 2^%d "
                 "(min_rsa_exponent)",
                 want, KEY_MAX_RSA_E_BITS);
        goto out;
    }
    if (!public_check(pkey)) {
        snprintf(why, whylen, "RSA public key fails validation (SP 800-56B 6.4.2.1)");
        goto out;
    }
    rc = 0;
out:
    BN_free(e);
    BN_free(min);
    return rc;
}

static int check_ec(EVP_PKEY *pkey, char *why, size_t whylen)
{
    char group[64];
    size_t glen = 0;
    int nid;

    /* The provider reports the curve by name ("prime256v1" or "P-256"
     * depending on how the key was made); map both forms.  Explicit
     * curve parameters have no name and are refused (RFC 5480 2.1.1). */
    if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                        &glen)) {
        ERR_clear_error();
        snprintf(why, whylen, "EC key with explicit or unknown curve parameters");
        return SCEP_ERR_KEY;
    }
    nid = OBJ_sn2nid(group);
    if (nid == NID_undef)
        nid = EC_curve_nist2nid(group);
    if (nid != NID_X9_62_prime256v1 && nid != NID_secp384r1 && nid != NID_secp521r1) {
        snprintf(why, whylen, "EC curve %s (accepted: P-256, P-384, P-521)", group);
        return SCEP_ERR_KEY;
    }
    if (!public_check(pkey)) {
        snprintf(why, whylen, "EC public key is not a valid point of %s (SEC 1 3.2.2.1)", group);
        return SCEP_ERR_KEY;
    }
    return 0;
}

/*
 * Checks pkey against profile p (NULL: defaults).  Returns 0, or
 * SCEP_ERR_KEY with why[] naming the rule, or SCEP_ERR_NOMEM.
 */
int ca_check_pubkey(EVP_PKEY *pkey, const struct scep_profile *p, char *why, size_t whylen)
{
    static const struct scep_profile defaults = {0};

    if (p == NULL)
        p = &defaults;
    if (pkey == NULL) {
        snprintf(why, whylen, "CSR has no usable public key");
        return SCEP_ERR_KEY;
    }
    switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_RSA:
        return check_rsa(pkey, p, why, whylen);
    case EVP_PKEY_EC:
        return check_ec(pkey, why, whylen);
    default:
        snprintf(why, whylen, "key type %s (accepted: RSA, EC P-256/P-384/P-521)",
                 OBJ_nid2sn(EVP_PKEY_get_base_id(pkey)));
        return SCEP_ERR_KEY;
    }
}
