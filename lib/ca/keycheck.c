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
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
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
 * Keys that passed public_check, marked in their own ex_data: the service
 * checks a CSR for its failInfoText and scep_ca_issue() checks it again
 * before signing, and for RSA the SP 800-56B check (a gcd with a product
 * of small primes in constant time, then Miller-Rabin) costs several
 * times an RSA-2048 signature.  The mark lives on the EVP_PKEY object
 * itself, whose public parts do not change once decoded, so a key decoded
 * again (an approval, scepctl) is checked again; only this file sets it.
 */
static int checked_idx = -1;
static CRYPTO_ONCE checked_once = CRYPTO_ONCE_STATIC_INIT;
static char checked_mark;

static void checked_init(void)
{
    checked_idx = EVP_PKEY_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/*
 * OpenSSL's own public-key validation.  Returns 1 when it passes.  The
 * error queue is cleared: a refusal is reported through why[].
 */
static int public_check(EVP_PKEY *pkey)
{
    EVP_PKEY_CTX *ctx;
    int marked = CRYPTO_THREAD_run_once(&checked_once, checked_init) && checked_idx >= 0;
    int ok;

    if (marked && EVP_PKEY_get_ex_data(pkey, checked_idx) == &checked_mark)
        return 1;
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    /* EVP_PKEY_public_check: 1 valid, 0 invalid, -2 not supported. */
    ok = ctx != NULL && EVP_PKEY_public_check(ctx) == 1;
    EVP_PKEY_CTX_free(ctx);
    /* A failure to set the mark only costs the check once more. */
    if (ok && marked)
        (void)EVP_PKEY_set_ex_data(pkey, checked_idx, &checked_mark);
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

/* The curves we know, by NIST name, and their profile bits. */
static const struct {
    const char *name;
    int nid;
    unsigned bit;
} curves[] = {
    {"P-256", NID_X9_62_prime256v1, SCEP_CURVE_P256},
    {"P-384", NID_secp384r1, SCEP_CURVE_P384},
    {"P-521", NID_secp521r1, SCEP_CURVE_P521},
};

#define NCURVES (sizeof(curves) / sizeof(curves[0]))
#define ALL_CURVES (SCEP_CURVE_P256 | SCEP_CURVE_P384 | SCEP_CURVE_P521)

/*
 * The curve list of ec_curves (see ca.h).  Names are matched exactly,
 * with their lengths: a value in scepd.conf is text we check, not trust.
 */
int scep_ca_parse_curves(const char *list, unsigned *out)
{
    unsigned bits = 0;
    size_t i = 0, n, k;

    if (list == NULL || out == NULL)
        return SCEP_ERR_CONFIG;
    n = strlen(list);
    while (i < n) {
        size_t start, len;
        unsigned bit = 0;

        while (i < n && (list[i] == ' ' || list[i] == '\t' || list[i] == ','))
            i++;
        start = i;
        while (i < n && list[i] != ' ' && list[i] != '\t' && list[i] != ',')
            i++;
        len = i - start;
        if (len == 0)
            break;
        for (k = 0; k < NCURVES; k++)
            if (strlen(curves[k].name) == len && memcmp(curves[k].name, list + start, len) == 0)
                bit = curves[k].bit;
        if (bit == 0)
            return SCEP_ERR_CONFIG;
        bits |= bit;
    }
    if (bits == 0)
        return SCEP_ERR_CONFIG;
    *out = bits;
    return 0;
}

static int check_ec(EVP_PKEY *pkey, const struct scep_profile *p, char *why, size_t whylen)
{
    char group[64], list[32];
    size_t glen = 0, k, used = 0;
    unsigned allowed = p->ec_curves != 0 ? p->ec_curves & ALL_CURVES : ALL_CURVES, bit = 0;
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
    for (k = 0; k < NCURVES; k++)
        if (curves[k].nid == nid)
            bit = curves[k].bit;
    if ((bit & allowed) == 0) {
        list[0] = '\0';
        for (k = 0; k < NCURVES; k++) {
            int w;

            if ((curves[k].bit & allowed) == 0)
                continue;
            w = snprintf(list + used, sizeof(list) - used, "%s%s", used ? ", " : "",
                         curves[k].name);
            if (w > 0 && (size_t)w < sizeof(list) - used)
                used += (size_t)w;
        }
        snprintf(why, whylen, "EC curve %s (accepted: %s; ec_curves)", group, list);
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
        return check_ec(pkey, p, why, whylen);
    default:
        snprintf(why, whylen, "key type %s (accepted: RSA, EC P-256/P-384/P-521)",
                 OBJ_nid2sn(EVP_PKEY_get_base_id(pkey)));
        return SCEP_ERR_KEY;
    }
}
