/*
 * The operations behind key handles (see keyhandle.h and keyhandle.c):
 * the provider's signature (RSA PKCS#1 v1.5 and ECDSA) and asym-cipher
 * (RSA decrypt) implementations.  Digest-sign hashes in this process
 * and hands only the digest to scep_keyring_sign_digest(); decrypt
 * hands only the wrapped key, with the padding, OAEP digests and label
 * that CMS set, to scep_keyring_decrypt().  Contexts belong to one
 * EVP_PKEY_CTX each; the key data they point at is immutable.  The
 * keyring counts each private-key operation (scep_keyring_private_ops());
 * nothing here counts, and each operation makes exactly one keyring call
 * (size queries, with no output buffer, make none).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rsa.h>

#include "keyring/keyhandle_int.h"
#include "keyring/keyring.h"

/* ---- signature -------------------------------------------------------- */

struct kh_sig {
    const struct kh_key *key; /* provkey: lives as long as the EVP_PKEY_CTX */
    const struct kh_md *md;   /* NULL until chosen: SHA-256 */
    EVP_MD_CTX *mdctx;        /* digest-sign only */
};

/* A signature context; OpenSSL frees it through sig_freectx(). */
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

/* EVP_DigestSignFinal() signs a duplicate, so the running hash is
 * copied.  Freed by OpenSSL through sig_freectx(). */
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
        if (!OSSL_PARAM_get_utf8_string_ptr(p, &name) || (md = kh_md_lookup(name)) == NULL ||
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
    return s->md != NULL ? s->md : kh_md_lookup("SHA256");
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
        if ((md = kh_md_lookup(mdname)) == NULL)
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

const OSSL_DISPATCH kh_sig_fns[] = {
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

/* A decryption context (PKCS#1 v1.5 until told otherwise); OpenSSL
 * frees it through dec_freectx(). */
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

/* A copy with its own label; freed by OpenSSL through dec_freectx(). */
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
        if (!OSSL_PARAM_get_utf8_string_ptr(p, &name) || (d->oaep = kh_md_lookup(name)) == NULL)
            return 0;
    }
    if ((p = OSSL_PARAM_locate_const(params, OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST)) != NULL) {
        if (!OSSL_PARAM_get_utf8_string_ptr(p, &name) || (d->mgf1 = kh_md_lookup(name)) == NULL)
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
    oaep = d->oaep != NULL ? d->oaep : kh_md_lookup("SHA1");
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

const OSSL_DISPATCH kh_dec_fns[] = {
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
