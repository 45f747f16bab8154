/*
 * Key handles (see keyhandle.h): a built-in OpenSSL 3 provider whose
 * keys are keyring references.  It offers
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
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <scep/error.h>

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

/* One digest the handles sign with: fetched once, with the DER
 * AlgorithmIdentifiers of its RSA and ECDSA signatures. */
struct kh_md {
    const char *name;
    EVP_MD *md;
    unsigned char aid_rsa[32], aid_ec[32];
    size_t aid_rsa_len, aid_ec_len;
};

static struct kh_md kh_mds[] = {
    {.name = "SHA1"},   {.name = "SHA224"}, {.name = "SHA256"},
    {.name = "SHA384"}, {.name = "SHA512"},
};
#define KH_NUM_MDS (sizeof(kh_mds) / sizeof(kh_mds[0]))

static OSSL_LIB_CTX *kh_libctx;
static OSSL_PROVIDER *kh_prov;
static int kh_ready;
static CRYPTO_ONCE kh_once = CRYPTO_ONCE_STATIC_INIT;

/* A key: a keyring reference (kr NULL for a public key imported only to
 * be compared with a handle) and the public half. */
struct kh_key {
    int type; /* enum scep_keyring_type */
    struct scep_keyring *kr;
    char *ref;
    EVP_PKEY *pub;  /* default library context, public only */
    size_t max_out; /* from the keyring: signature / modulus bytes */
};

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
static const struct kh_md *md_lookup(const char *name)
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

/* ---- signature -------------------------------------------------------- */

struct kh_sig {
    const struct kh_key *key; /* provkey: lives as long as the EVP_PKEY_CTX */
    const struct kh_md *md;   /* NULL until chosen: SHA-256 */
    EVP_MD_CTX *mdctx;        /* digest-sign only */
};

static void *sig_newctx(void *provctx, const char *propq)
{
    return calloc(1, sizeof(struct kh_sig));
}

static void sig_freectx(void *ctx)
{
    struct kh_sig *s = ctx;

    if (s == NULL)
        return;
    EVP_MD_CTX_free(s->mdctx);
    free(s);
}

/* EVP_DigestSignFinal() signs a duplicate, so the running hash is copied. */
static void *sig_dupctx(void *ctx)
{
    const struct kh_sig *s = ctx;
    struct kh_sig *d = calloc(1, sizeof(*d));

    if (d == NULL)
        return NULL;
    d->key = s->key;
    d->md = s->md;
    if (s->mdctx != NULL &&
        ((d->mdctx = EVP_MD_CTX_new()) == NULL || !EVP_MD_CTX_copy_ex(d->mdctx, s->mdctx))) {
        sig_freectx(d);
        return NULL;
    }
    return d;
}

static int sig_set_ctx_params(void *ctx, const OSSL_PARAM params[])
{
    struct kh_sig *s = ctx;
    const OSSL_PARAM *p;
    const char *name = NULL;
    int pad = 0;

    if (s == NULL)
        return 0;
    if (params == NULL)
        return 1;
    if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_DIGEST)) != NULL) {
        const struct kh_md *md;

        /* The digest cannot change under a running hash. */
        if (!OSSL_PARAM_get_utf8_string_ptr(p, &name) || (md = md_lookup(name)) == NULL ||
            (s->mdctx != NULL && s->md != md))
            return 0;
        s->md = md;
    }
    /* Only PKCS#1 v1.5 padding; PSS would need its own parameters. */
    if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PAD_MODE)) != NULL) {
        if (p->data_type == OSSL_PARAM_UTF8_STRING) {
            if (!OSSL_PARAM_get_utf8_string_ptr(p, &name) || strcmp(name, "pkcs1") != 0)
                return 0;
        } else if (!OSSL_PARAM_get_int(p, &pad) || pad != RSA_PKCS1_PADDING) {
            return 0;
        }
    }
    return 1;
}

static const OSSL_PARAM sig_settable[] = {
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM *sig_settable_ctx_params(void *ctx, void *provctx)
{
    return sig_settable;
}

static const struct kh_md *sig_md(const struct kh_sig *s)
{
    return s->md != NULL ? s->md : md_lookup("SHA256");
}

static int sig_get_ctx_params(void *ctx, OSSL_PARAM params[])
{
    const struct kh_sig *s = ctx;
    const struct kh_md *md;
    OSSL_PARAM *p;

    if (s == NULL || s->key == NULL)
        return 0;
    md = sig_md(s);
    if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_ALGORITHM_ID)) != NULL) {
        int rsa = s->key->type == SCEP_KEYRING_RSA;

        if (!OSSL_PARAM_set_octet_string(p, rsa ? md->aid_rsa : md->aid_ec,
                                         rsa ? md->aid_rsa_len : md->aid_ec_len))
            return 0;
    }
    if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_DIGEST)) != NULL &&
        !OSSL_PARAM_set_utf8_string(p, md->name))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_PAD_MODE)) != NULL) {
        if (s->key->type != SCEP_KEYRING_RSA)
            return 0;
        /* CMS asks (EVP_PKEY_CTX_get_rsa_padding()) to choose its
         * signatureAlgorithm; the request comes as an int or a name. */
        if (p->data_type == OSSL_PARAM_UTF8_STRING ? !OSSL_PARAM_set_utf8_string(p, "pkcs1")
                                                   : !OSSL_PARAM_set_int(p, RSA_PKCS1_PADDING))
            return 0;
    }
    return 1;
}

static const OSSL_PARAM sig_gettable[] = {
    OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM *sig_gettable_ctx_params(void *ctx, void *provctx)
{
    return sig_gettable;
}

/* Sign init (a digest comes in): only keys bound to a keyring sign. */
static int sig_sign_init(void *ctx, void *provkey, const OSSL_PARAM params[])
{
    struct kh_sig *s = ctx;
    const struct kh_key *k = provkey;

    if (s == NULL || k == NULL || k->kr == NULL)
        return 0;
    s->key = k;
    return sig_set_ctx_params(s, params);
}

/* Signs the digest tbs through the keyring (sig NULL: the size). */
static int sig_sign(void *ctx, unsigned char *sig, size_t *siglen, size_t sigsize,
                    const unsigned char *tbs, size_t tbslen)
{
    const struct kh_sig *s = ctx;

    if (s == NULL || s->key == NULL || siglen == NULL)
        return 0;
    if (sig == NULL) {
        *siglen = s->key->max_out;
        return 1;
    }
    return scep_keyring_sign_digest(s->key->kr, s->key->ref, sig_md(s)->name, tbs, tbslen, sig,
                                    sigsize, siglen) == 0;
}

static int sig_digest_sign_init(void *ctx, const char *mdname, void *provkey,
                                const OSSL_PARAM params[])
{
    struct kh_sig *s = ctx;
    const struct kh_md *md;

    if (!sig_sign_init(ctx, provkey, params))
        return 0;
    if (mdname != NULL) {
        if ((md = md_lookup(mdname)) == NULL)
            return 0;
        s->md = md;
    }
    if (s->mdctx == NULL && (s->mdctx = EVP_MD_CTX_new()) == NULL)
        return 0;
    return EVP_DigestInit_ex(s->mdctx, sig_md(s)->md, NULL);
}

static int sig_digest_sign_update(void *ctx, const unsigned char *data, size_t len)
{
    struct kh_sig *s = ctx;

    return s != NULL && s->mdctx != NULL && EVP_DigestUpdate(s->mdctx, data, len);
}

/* Finishes the hash here and sends only the digest to the keyring. */
static int sig_digest_sign_final(void *ctx, unsigned char *sig, size_t *siglen, size_t sigsize)
{
    struct kh_sig *s = ctx;
    unsigned char dgst[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    if (s == NULL || s->mdctx == NULL || s->key == NULL || siglen == NULL)
        return 0;
    if (sig == NULL) {
        *siglen = s->key->max_out;
        return 1;
    }
    if (!EVP_DigestFinal_ex(s->mdctx, dgst, &n))
        return 0;
    return scep_keyring_sign_digest(s->key->kr, s->key->ref, sig_md(s)->name, dgst, n, sig, sigsize,
                                    siglen) == 0;
}

static const OSSL_DISPATCH sig_fns[] = {
    {OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))sig_newctx},
    {OSSL_FUNC_SIGNATURE_FREECTX, (void (*)(void))sig_freectx},
    {OSSL_FUNC_SIGNATURE_DUPCTX, (void (*)(void))sig_dupctx},
    {OSSL_FUNC_SIGNATURE_SIGN_INIT, (void (*)(void))sig_sign_init},
    {OSSL_FUNC_SIGNATURE_SIGN, (void (*)(void))sig_sign},
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT, (void (*)(void))sig_digest_sign_init},
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_UPDATE, (void (*)(void))sig_digest_sign_update},
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_FINAL, (void (*)(void))sig_digest_sign_final},
    {OSSL_FUNC_SIGNATURE_GET_CTX_PARAMS, (void (*)(void))sig_get_ctx_params},
    {OSSL_FUNC_SIGNATURE_GETTABLE_CTX_PARAMS, (void (*)(void))sig_gettable_ctx_params},
    {OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS, (void (*)(void))sig_set_ctx_params},
    {OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS, (void (*)(void))sig_settable_ctx_params},
    {0, NULL},
};

/* ---- asym-cipher (RSA decrypt) ---------------------------------------- */

struct kh_dec {
    const struct kh_key *key;
    int pad;                  /* RSA_PKCS1_PADDING or RSA_PKCS1_OAEP_PADDING */
    const struct kh_md *oaep; /* NULL: SHA-1 */
    const struct kh_md *mgf1; /* NULL: the OAEP digest */
    unsigned char *label;
    size_t label_len;
};

static void *dec_newctx(void *provctx)
{
    struct kh_dec *d = calloc(1, sizeof(*d));

    if (d != NULL)
        d->pad = RSA_PKCS1_PADDING;
    return d;
}

static void dec_freectx(void *ctx)
{
    struct kh_dec *d = ctx;

    if (d == NULL)
        return;
    free(d->label);
    free(d);
}

static void *dec_dupctx(void *ctx)
{
    const struct kh_dec *s = ctx;
    struct kh_dec *d = malloc(sizeof(*d));

    if (d == NULL)
        return NULL;
    *d = *s;
    d->label = NULL;
    if (s->label != NULL) {
        if ((d->label = malloc(s->label_len)) == NULL) {
            free(d);
            return NULL;
        }
        memcpy(d->label, s->label, s->label_len);
    }
    return d;
}

static int dec_set_ctx_params(void *ctx, const OSSL_PARAM params[])
{
    struct kh_dec *d = ctx;
    const OSSL_PARAM *p;
    const char *name = NULL;

    if (d == NULL)
        return 0;
    if (params == NULL)
        return 1;
    /* EVP_PKEY_CTX_set_rsa_padding() arrives as an int, the string form
     * from EVP_PKEY_CTX_ctrl_str(). */
    if ((p = OSSL_PARAM_locate_const(params, OSSL_ASYM_CIPHER_PARAM_PAD_MODE)) != NULL) {
        int pad = 0;

        if (p->data_type == OSSL_PARAM_UTF8_STRING) {
            if (!OSSL_PARAM_get_utf8_string_ptr(p, &name))
                return 0;
            pad = strcmp(name, "pkcs1") == 0  ? RSA_PKCS1_PADDING
                  : strcmp(name, "oaep") == 0 ? RSA_PKCS1_OAEP_PADDING
                                              : 0;
        } else if (!OSSL_PARAM_get_int(p, &pad)) {
            return 0;
        }
        if (pad != RSA_PKCS1_PADDING && pad != RSA_PKCS1_OAEP_PADDING)
            return 0;
        d->pad = pad;
    }
    if ((p = OSSL_PARAM_locate_const(params, OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST)) != NULL) {
        if (!OSSL_PARAM_get_utf8_string_ptr(p, &name) || (d->oaep = md_lookup(name)) == NULL)
            return 0;
    }
    if ((p = OSSL_PARAM_locate_const(params, OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST)) != NULL) {
        if (!OSSL_PARAM_get_utf8_string_ptr(p, &name) || (d->mgf1 = md_lookup(name)) == NULL)
            return 0;
    }
    if ((p = OSSL_PARAM_locate_const(params, OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL)) != NULL) {
        void *label = NULL;
        size_t len = 0;

        /* get_octet_string allocates with OPENSSL_malloc(); copy into
         * our own allocation so that one free() fits all. */
        if (!OSSL_PARAM_get_octet_string(p, &label, 0, &len))
            return 0;
        free(d->label);
        d->label = NULL;
        d->label_len = 0;
        if (len > 0) {
            if ((d->label = malloc(len)) == NULL) {
                OPENSSL_free(label);
                return 0;
            }
            memcpy(d->label, label, len);
            d->label_len = len;
        }
        OPENSSL_free(label);
    }
    /* "implicit-rejection" (OpenSSL 3.2+; CMS turns it off because CMS
     * itself goes on with a random key) is accepted and ignored: the
     * keyring always keeps OpenSSL's default protection. */
    return 1;
}

static const OSSL_PARAM dec_settable[] = {
    OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_PAD_MODE, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL, NULL, 0),
    OSSL_PARAM_uint("implicit-rejection", NULL),
    OSSL_PARAM_END,
};

static const OSSL_PARAM *dec_settable_ctx_params(void *ctx, void *provctx)
{
    return dec_settable;
}

static int dec_get_ctx_params(void *ctx, OSSL_PARAM params[])
{
    const struct kh_dec *d = ctx;
    const struct kh_md *oaep;
    OSSL_PARAM *p;

    if (d == NULL)
        return 0;
    oaep = d->oaep != NULL ? d->oaep : md_lookup("SHA1");
    if ((p = OSSL_PARAM_locate(params, OSSL_ASYM_CIPHER_PARAM_PAD_MODE)) != NULL) {
        const char *name = d->pad == RSA_PKCS1_PADDING ? "pkcs1" : "oaep";

        if (p->data_type == OSSL_PARAM_UTF8_STRING ? !OSSL_PARAM_set_utf8_string(p, name)
                                                   : !OSSL_PARAM_set_int(p, d->pad))
            return 0;
    }
    if ((p = OSSL_PARAM_locate(params, OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST)) != NULL &&
        !OSSL_PARAM_set_utf8_string(p, oaep->name))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST)) != NULL &&
        !OSSL_PARAM_set_utf8_string(p, d->mgf1 != NULL ? d->mgf1->name : oaep->name))
        return 0;
    return 1;
}

static const OSSL_PARAM dec_gettable[] = {
    OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_PAD_MODE, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM *dec_gettable_ctx_params(void *ctx, void *provctx)
{
    return dec_gettable;
}

static int dec_decrypt_init(void *ctx, void *provkey, const OSSL_PARAM params[])
{
    struct kh_dec *d = ctx;
    const struct kh_key *k = provkey;

    if (d == NULL || k == NULL || k->kr == NULL || k->type != SCEP_KEYRING_RSA)
        return 0;
    d->key = k;
    return dec_set_ctx_params(d, params);
}

/*
 * Forwards the wrapped key to the keyring (out NULL: the size).  A
 * failure is reported without an error-queue entry of its own; CMS,
 * given the recipient certificate, carries on with a random content key
 * so that a bad block looks like any other undecryptable message.
 */
static int dec_decrypt(void *ctx, unsigned char *out, size_t *outlen, size_t outsize,
                       const unsigned char *in, size_t inlen)
{
    const struct kh_dec *d = ctx;
    struct scep_keyring_decrypt_opts o = {0};

    if (d == NULL || d->key == NULL || outlen == NULL)
        return 0;
    if (out == NULL) {
        *outlen = d->key->max_out;
        return 1;
    }
    o.pad = d->pad == RSA_PKCS1_OAEP_PADDING ? SCEP_KEYRING_PAD_OAEP : SCEP_KEYRING_PAD_PKCS1;
    o.oaep_md = d->oaep != NULL ? d->oaep->name : NULL;
    o.mgf1_md = d->mgf1 != NULL ? d->mgf1->name : NULL;
    o.label = d->label;
    o.label_len = d->label_len;
    return scep_keyring_decrypt(d->key->kr, d->key->ref, &o, in, inlen, out, outsize, outlen) == 0;
}

static const OSSL_DISPATCH dec_fns[] = {
    {OSSL_FUNC_ASYM_CIPHER_NEWCTX, (void (*)(void))dec_newctx},
    {OSSL_FUNC_ASYM_CIPHER_FREECTX, (void (*)(void))dec_freectx},
    {OSSL_FUNC_ASYM_CIPHER_DUPCTX, (void (*)(void))dec_dupctx},
    {OSSL_FUNC_ASYM_CIPHER_DECRYPT_INIT, (void (*)(void))dec_decrypt_init},
    {OSSL_FUNC_ASYM_CIPHER_DECRYPT, (void (*)(void))dec_decrypt},
    {OSSL_FUNC_ASYM_CIPHER_GET_CTX_PARAMS, (void (*)(void))dec_get_ctx_params},
    {OSSL_FUNC_ASYM_CIPHER_GETTABLE_CTX_PARAMS, (void (*)(void))dec_gettable_ctx_params},
    {OSSL_FUNC_ASYM_CIPHER_SET_CTX_PARAMS, (void (*)(void))dec_set_ctx_params},
    {OSSL_FUNC_ASYM_CIPHER_SETTABLE_CTX_PARAMS, (void (*)(void))dec_settable_ctx_params},
    {0, NULL},
};

/* ---- the provider ----------------------------------------------------- */

static const OSSL_ALGORITHM prov_keymgmt[] = {
    {KH_RSA_NAMES, KH_PROPS, km_rsa_fns, "scepd keyring RSA handle"},
    {KH_EC_NAMES, KH_PROPS, km_ec_fns, "scepd keyring EC handle"},
    {NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM prov_signature[] = {
    {KH_RSA_NAMES, KH_PROPS, sig_fns, "RSA PKCS#1 v1.5 through the keyring"},
    {"ECDSA", KH_PROPS, sig_fns, "ECDSA through the keyring"},
    {NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM prov_asym[] = {
    {KH_RSA_NAMES, KH_PROPS, dec_fns, "RSA decryption through the keyring"},
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
