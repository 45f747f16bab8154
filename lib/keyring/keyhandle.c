/*
 * Key handles (see keyhandle.h): a built-in OpenSSL 3 provider whose
 * keys are keyring references.  This file has the provider itself, its
 * keymgmt and the digest table; keyhandle_ops.c the signature and
 * asym-cipher implementations.  The provider offers
 *   - keymgmt for RSA and EC: a key holds a keyring reference and the
 *     public half (an ordinary public EVP_PKEY).  It exports only public
 *     parts and refuses any export that asks for the private key, so
 *     EVP_PKEY_eq() and X509_check_private_key() work against the
 *     certificate while OpenSSL can never move the handle into another
 *     provider's signature or cipher code (which would find no private
 *     key and fail);
 *   - signature (RSA PKCS#1 v1.5 and ECDSA): digest-sign hashes here,
 *     then calls scep_keyring_sign_digest(); plain sign (a digest in)
 *     forwards directly.  The AlgorithmIdentifier that X509_sign() and
 *     X509_CRL_sign() write comes from OSSL_SIGNATURE_PARAM_ALGORITHM_ID;
 *   - asym-cipher decrypt (RSA PKCS#1 v1.5 and OAEP with the digests and
 *     label CMS sets from the RecipientInfo), forwarded to
 *     scep_keyring_decrypt().
 *
 * The provider lives alone in a library context of its own.  A property
 * query on the default context would also work, but any fetch there
 * without that property ("RSA" keymgmt for EVP_RSA_gen(), a decoder
 * building a client's key) could then land on these handles, which
 * cannot generate or hold keys.  OpenSSL finds the signature and cipher
 * for a handle in the provider of its keymgmt (the second of the two
 * fetch attempts in EVP_DigestSignInit_ex() and EVP_PKEY_decrypt_init()),
 * whatever context the caller uses.
 *
 * The EVP_PKEY handles hold no private key material.  Provider state
 * (library context, digest table) is written once under
 * CRYPTO_THREAD_run_once() and read-only afterwards; key data is
 * immutable after creation; per-operation contexts belong to one
 * EVP_PKEY_CTX.  Hence handles may be used from any number of threads.
 */
#include "keyring/keyhandle.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <openssl/x509.h>

#include <scep/error.h>

#include "keyring/keyhandle_int.h"
#include "keyring/keyring.h"

#define KH_PROV_NAME "scepd-keyhandle"
#define KH_PROPS "provider=" KH_PROV_NAME
/* Our own import parameters: the keyring and the reference of a key. */
#define KH_PARAM_KEYRING "scepd-keyring"
#define KH_PARAM_REF "scepd-key-ref"
/* The same names as OpenSSL's default provider, so that EVP_PKEY_is_a()
 * and the legacy type (EVP_PKEY_get_id()) that CMS looks at come out as
 * for any RSA or EC key. */
#define KH_RSA_NAMES "RSA:rsaEncryption:1.2.840.113549.1.1.1"
#define KH_EC_NAMES "EC:id-ecPublicKey:1.2.840.10045.2.1"

static struct kh_md kh_mds[] = {
    {.name = "SHA1"},   {.name = "SHA224"}, {.name = "SHA256"},
    {.name = "SHA384"}, {.name = "SHA512"},
};
#define KH_NUM_MDS (sizeof(kh_mds) / sizeof(kh_mds[0]))

static OSSL_LIB_CTX *kh_libctx;
static OSSL_PROVIDER *kh_prov;
static int kh_ready;
static CRYPTO_ONCE kh_once = CRYPTO_ONCE_STATIC_INIT;

/* ---- digests ---------------------------------------------------------- */

/* DER of the AlgorithmIdentifier for signatures with md_nid and pkey_type
 * into buf.  RSA carries NULL parameters, ECDSA none (RFC 5754 3). */
static int make_aid(int md_nid, int pkey_type, unsigned char *buf, size_t cap, size_t *len)
{
    X509_ALGOR *alg = NULL;
    unsigned char *p = buf;
    int sig_nid, n, rc = 0;

    if (!OBJ_find_sigid_by_algs(&sig_nid, md_nid, pkey_type) || (alg = X509_ALGOR_new()) == NULL)
        goto out;
    if (!X509_ALGOR_set0(alg, OBJ_nid2obj(sig_nid),
                         pkey_type == EVP_PKEY_RSA ? V_ASN1_NULL : V_ASN1_UNDEF, NULL))
        goto out;
    n = i2d_X509_ALGOR(alg, NULL);
    if (n <= 0 || (size_t)n > cap || i2d_X509_ALGOR(alg, &p) != n)
        goto out;
    *len = (size_t)n;
    rc = 1;
out:
    X509_ALGOR_free(alg);
    return rc;
}

/* The table entry for a digest name (any OpenSSL alias), NULL if none. */
const struct kh_md *kh_md_lookup(const char *name)
{
    size_t i;

    if (name == NULL)
        return NULL;
    for (i = 0; i < KH_NUM_MDS; i++) {
        if (EVP_MD_is_a(kh_mds[i].md, name))
            return &kh_mds[i];
    }
    return NULL;
}

/* ---- keymgmt ---------------------------------------------------------- */

/* New empty key data; OpenSSL frees it through km_free(). */
static void *km_new(int type)
{
    struct kh_key *k = calloc(1, sizeof(*k));

    if (k != NULL)
        k->type = type;
    return k;
}

static void *km_rsa_new(void *provctx)
{
    return km_new(SCEP_KEYRING_RSA);
}

static void *km_ec_new(void *provctx)
{
    return km_new(SCEP_KEYRING_EC);
}

static void km_free(void *keydata)
{
    struct kh_key *k = keydata;

    if (k == NULL)
        return;
    scep_keyring_free(k->kr);
    free(k->ref);
    EVP_PKEY_free(k->pub);
    free(k);
}

/* A handle "has" a private key in that it can do private operations. */
static int km_has(const void *keydata, int selection)
{
    const struct kh_key *k = keydata;

    if (k == NULL || k->pub == NULL)
        return 0;
    if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0)
        return k->kr != NULL;
    return 1;
}

/* Binds k to key ref of kr: the public half from the keyring's SPKI. */
static int bind_ref(struct kh_key *k, struct scep_keyring *kr, const char *ref)
{
    struct scep_keyring_info info;
    unsigned char *spki = NULL;
    const unsigned char *p;
    size_t len = 0;
    int ok = 0;

    if (scep_keyring_get_info(kr, ref, &info) != 0 || info.type != k->type ||
        scep_keyring_get1_spki(kr, ref, &spki, &len) != 0 || len > LONG_MAX)
        goto out;
    p = spki;
    /* Our own key's encoding, still checked for trailing bytes. */
    k->pub = d2i_PUBKEY(NULL, &p, (long)len);
    if (k->pub == NULL || p != spki + len || (k->ref = strdup(ref)) == NULL)
        goto out;
    k->kr = scep_keyring_up_ref(kr);
    k->max_out = info.max_out;
    ok = 1;
out:
    free(spki);
    return ok;
}

/*
 * Import: either our own parameters (a keyring and a reference, from
 * scep_keyhandle_new()) or the public parameters of another provider's
 * key, which OpenSSL exports into ours when comparing keys.  Private
 * parameters of such a key are ignored.
 */
static int km_import(void *keydata, int selection, const OSSL_PARAM params[])
{
    struct kh_key *k = keydata;
    const OSSL_PARAM *pkr, *pref;
    EVP_PKEY_CTX *ctx = NULL;
    const void *kr = NULL;
    const char *ref = NULL;
    size_t used = 0;
    int ok = 0;

    if (k == NULL || k->pub != NULL || (selection & OSSL_KEYMGMT_SELECT_KEYPAIR) == 0)
        return 0;
    pkr = OSSL_PARAM_locate_const(params, KH_PARAM_KEYRING);
    pref = OSSL_PARAM_locate_const(params, KH_PARAM_REF);
    if (pkr != NULL || pref != NULL) {
        /* An octet pointer parameter hands over the pointer itself. */
        if (pkr == NULL || pref == NULL || !OSSL_PARAM_get_octet_ptr(pkr, &kr, &used) ||
            kr == NULL || !OSSL_PARAM_get_utf8_string_ptr(pref, &ref))
            return 0;
        return bind_ref(k, (struct scep_keyring *)kr, ref);
    }
    ctx = EVP_PKEY_CTX_new_from_name(NULL, k->type == SCEP_KEYRING_RSA ? "RSA" : "EC", NULL);
    /* EVP_PKEY_fromdata() takes non-const parameters but only reads them. */
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &k->pub, EVP_PKEY_PUBLIC_KEY, (OSSL_PARAM *)params) <= 0)
        goto out;
    ok = 1;
out:
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

static const OSSL_PARAM km_rsa_types[] = {
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM km_ec_types[] = {
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM *km_rsa_types_fn(int selection)
{
    return km_rsa_types;
}

static const OSSL_PARAM *km_ec_types_fn(int selection)
{
    return km_ec_types;
}

/*
 * Export of the public half only.  Refusing a request that includes
 * the private key is what keeps OpenSSL from handing a handle to the
 * default provider's signature or cipher (it exports with "everything"
 * before using another provider's implementation).
 */
static int km_export(void *keydata, int selection, OSSL_CALLBACK *cb, void *cbarg)
{
    const struct kh_key *k = keydata;

    if (k == NULL || k->pub == NULL)
        return 0;
    if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0 && k->kr != NULL)
        return 0;
    return EVP_PKEY_export(k->pub, selection & ~OSSL_KEYMGMT_SELECT_PRIVATE_KEY, cb, cbarg);
}

static int km_match(const void *keydata1, const void *keydata2, int selection)
{
    const struct kh_key *a = keydata1, *b = keydata2;

    if (a == NULL || b == NULL || a->pub == NULL || b->pub == NULL)
        return 0;
    if ((selection & OSSL_KEYMGMT_SELECT_KEYPAIR) != 0)
        return EVP_PKEY_eq(a->pub, b->pub) == 1;
    return EVP_PKEY_parameters_eq(a->pub, b->pub) == 1;
}

/* Size, bits, group and public components: answered by the public half. */
static int km_get_params(void *keydata, OSSL_PARAM params[])
{
    const struct kh_key *k = keydata;

    if (k == NULL || k->pub == NULL)
        return 0;
    return EVP_PKEY_get_params(k->pub, params);
}

static const OSSL_PARAM km_gettable[] = {
    OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
    OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
    OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM *km_gettable_params(void *provctx)
{
    return km_gettable;
}

static const char *km_rsa_opname(int operation_id)
{
    return operation_id == OSSL_OP_SIGNATURE || operation_id == OSSL_OP_ASYM_CIPHER ? "RSA" : NULL;
}

static const char *km_ec_opname(int operation_id)
{
    return operation_id == OSSL_OP_SIGNATURE ? "ECDSA" : NULL;
}

/* RSA and EC differ only in how a key is made and which operations
 * it names; everything else is shared. */
static const OSSL_DISPATCH km_rsa_fns[] = {
    {OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))km_rsa_new},
    {OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME, (void (*)(void))km_rsa_opname},
    {OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))km_rsa_types_fn},
    {OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))km_rsa_types_fn},
    {OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))km_free},
    {OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))km_has},
    {OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))km_import},
    {OSSL_FUNC_KEYMGMT_EXPORT, (void (*)(void))km_export},
    {OSSL_FUNC_KEYMGMT_MATCH, (void (*)(void))km_match},
    {OSSL_FUNC_KEYMGMT_GET_PARAMS, (void (*)(void))km_get_params},
    {OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, (void (*)(void))km_gettable_params},
    {0, NULL},
};

static const OSSL_DISPATCH km_ec_fns[] = {
    {OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))km_ec_new},
    {OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME, (void (*)(void))km_ec_opname},
    {OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))km_ec_types_fn},
    {OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))km_ec_types_fn},
    {OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))km_free},
    {OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))km_has},
    {OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))km_import},
    {OSSL_FUNC_KEYMGMT_EXPORT, (void (*)(void))km_export},
    {OSSL_FUNC_KEYMGMT_MATCH, (void (*)(void))km_match},
    {OSSL_FUNC_KEYMGMT_GET_PARAMS, (void (*)(void))km_get_params},
    {OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, (void (*)(void))km_gettable_params},
    {0, NULL},
};

/* ---- the provider ----------------------------------------------------- */

static const OSSL_ALGORITHM prov_keymgmt[] = {
    {KH_RSA_NAMES, KH_PROPS, km_rsa_fns, "scepd keyring RSA handle"},
    {KH_EC_NAMES, KH_PROPS, km_ec_fns, "scepd keyring EC handle"},
    {NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM prov_signature[] = {
    {KH_RSA_NAMES, KH_PROPS, kh_sig_fns, "RSA PKCS#1 v1.5 through the keyring"},
    {"ECDSA", KH_PROPS, kh_sig_fns, "ECDSA through the keyring"},
    {NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM prov_asym[] = {
    {KH_RSA_NAMES, KH_PROPS, kh_dec_fns, "RSA decryption through the keyring"},
    {NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM *prov_query(void *provctx, int operation_id, int *no_cache)
{
    *no_cache = 0;
    switch (operation_id) {
    case OSSL_OP_KEYMGMT:
        return prov_keymgmt;
    case OSSL_OP_SIGNATURE:
        return prov_signature;
    case OSSL_OP_ASYM_CIPHER:
        return prov_asym;
    default:
        return NULL;
    }
}

static const OSSL_DISPATCH prov_fns[] = {
    {OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))prov_query},
    {0, NULL},
};

static int prov_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                     const OSSL_DISPATCH **out, void **provctx)
{
    *out = prov_fns;
    *provctx = (void *)handle;
    return 1;
}

/* Fetches the digests, encodes their AlgorithmIdentifiers and loads the
 * provider into its own library context.  Runs once per process; the
 * context and provider stay for its lifetime. */
static void kh_init(void)
{
    size_t i;

    for (i = 0; i < KH_NUM_MDS; i++) {
        struct kh_md *m = &kh_mds[i];

        if ((m->md = EVP_MD_fetch(NULL, m->name, NULL)) == NULL ||
            !make_aid(EVP_MD_get_type(m->md), EVP_PKEY_RSA, m->aid_rsa, sizeof(m->aid_rsa),
                      &m->aid_rsa_len) ||
            !make_aid(EVP_MD_get_type(m->md), EVP_PKEY_EC, m->aid_ec, sizeof(m->aid_ec),
                      &m->aid_ec_len))
            return;
    }
    if ((kh_libctx = OSSL_LIB_CTX_new()) == NULL ||
        !OSSL_PROVIDER_add_builtin(kh_libctx, KH_PROV_NAME, prov_init) ||
        (kh_prov = OSSL_PROVIDER_load(kh_libctx, KH_PROV_NAME)) == NULL)
        return;
    kh_ready = 1;
}

/* Makes a handle for key ref of kr.  *out: free with EVP_PKEY_free(). */
int scep_keyhandle_new(struct scep_keyring *kr, const char *ref, EVP_PKEY **out)
{
    struct scep_keyring_info info;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM params[3];
    void *krp = kr;
    int rc;

    if (kr == NULL || ref == NULL || out == NULL)
        return SCEP_ERR_INVALID_ARG;
    if ((rc = scep_keyring_get_info(kr, ref, &info)) != 0)
        return rc;
    rc = SCEP_ERR_INTERNAL;
    if (!CRYPTO_THREAD_run_once(&kh_once, kh_init) || !kh_ready)
        goto out;
    /* The keyring pointer travels as an octet pointer parameter that
     * only our own import understands; see km_import(). */
    params[0] = OSSL_PARAM_construct_octet_ptr(KH_PARAM_KEYRING, &krp, 0);
    params[1] = OSSL_PARAM_construct_utf8_string(KH_PARAM_REF, (char *)ref, 0);
    params[2] = OSSL_PARAM_construct_end();
    ctx = EVP_PKEY_CTX_new_from_name(kh_libctx, info.type == SCEP_KEYRING_RSA ? "RSA" : "EC",
                                     KH_PROPS);
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_KEYPAIR, params) <= 0)
        goto out;
    *out = pkey;
    pkey = NULL;
    rc = 0;
out:
    if (rc != 0)
        ERR_clear_error();
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

/* The public key of key ref, decoded from its SPKI.  *out: EVP_PKEY_free(). */
int scep_keyhandle_get1_pubkey(struct scep_keyring *kr, const char *ref, EVP_PKEY **out)
{
    unsigned char *spki = NULL;
    const unsigned char *p;
    EVP_PKEY *pub = NULL;
    size_t len = 0;
    int rc;

    if (out == NULL)
        return SCEP_ERR_INVALID_ARG;
    if ((rc = scep_keyring_get1_spki(kr, ref, &spki, &len)) != 0)
        goto out;
    rc = SCEP_ERR_KEY;
    if (len > LONG_MAX)
        goto out;
    p = spki;
    pub = d2i_PUBKEY(NULL, &p, (long)len);
    if (pub == NULL || p != spki + len)
        goto out;
    *out = pub;
    pub = NULL;
    rc = 0;
out:
    if (rc != 0)
        ERR_clear_error();
    EVP_PKEY_free(pub);
    free(spki);
    return rc;
}
