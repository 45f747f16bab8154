/*
 * Shared helpers for the unit tests; see testutil.h.
 */
#define _XOPEN_SOURCE 700
#include "testutil.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

static _Noreturn void die(const char *what)
{
    fprintf(stderr, "testutil: %s failed\n", what);
    abort();
}

EVP_PKEY *tu_rsa_key_fresh(int bits)
{
    EVP_PKEY *k = EVP_RSA_gen((unsigned)bits);
    if (k == NULL)
        die("EVP_RSA_gen");
    return k;
}

EVP_PKEY *tu_rsa_key(int bits)
{
    static EVP_PKEY *cache[3]; /* 1024 (bad-key tests), 2048, 3072 */
    int slot = bits == 1024 ? 0 : bits == 2048 ? 1 : bits == 3072 ? 2 : -1;

    if (slot < 0)
        return tu_rsa_key_fresh(bits);
    if (cache[slot] == NULL)
        cache[slot] = tu_rsa_key_fresh(bits);
    if (!EVP_PKEY_up_ref(cache[slot]))
        die("EVP_PKEY_up_ref");
    return cache[slot];
}

EVP_PKEY *tu_ec_key(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    if (k == NULL)
        die("EVP_EC_gen");
    return k;
}

static void add_ext(X509 *cert, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext;

    X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ext == NULL || !X509_add_ext(cert, ext, -1))
        die("add_ext");
    X509_EXTENSION_free(ext);
}

X509 *tu_self_signed(EVP_PKEY *key, const char *cn)
{
    X509 *c = X509_new();
    X509_NAME *n = X509_NAME_new();

    if (c == NULL || n == NULL)
        die("X509_new");
    X509_set_version(c, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(c), 1);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
    X509_set_subject_name(c, n);
    X509_set_issuer_name(c, n);
    X509_gmtime_adj(X509_getm_notBefore(c), -60);
    X509_gmtime_adj(X509_getm_notAfter(c), 86400);
    X509_set_pubkey(c, key);
    add_ext(c, NID_key_usage, "critical,digitalSignature,keyEncipherment");
    if (!X509_sign(c, key, EVP_sha256()))
        die("X509_sign");
    X509_NAME_free(n);
    return c;
}

X509_REQ *tu_csr(EVP_PKEY *key, const char *cn, const char *challenge, const char *dns_san)
{
    X509_REQ *r = X509_REQ_new();
    X509_NAME *n = X509_NAME_new();

    if (r == NULL || n == NULL)
        die("X509_REQ_new");
    X509_REQ_set_version(r, 0);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
    X509_REQ_set_subject_name(r, n);
    X509_REQ_set_pubkey(r, key);
    if (challenge != NULL &&
        !X509_REQ_add1_attr_by_NID(r, NID_pkcs9_challengePassword, MBSTRING_UTF8,
                                   (const unsigned char *)challenge, -1))
        die("challengePassword");
    if (dns_san != NULL) {
        STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
        char buf[300];
        X509_EXTENSION *e;

        snprintf(buf, sizeof(buf), "DNS:%s", dns_san);
        e = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, buf);
        if (exts == NULL || e == NULL || !sk_X509_EXTENSION_push(exts, e))
            die("san");
        if (!X509_REQ_add_extensions(r, exts))
            die("X509_REQ_add_extensions");
        sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    }
    if (!X509_REQ_sign(r, key, EVP_sha256()))
        die("X509_REQ_sign");
    X509_NAME_free(n);
    return r;
}

char *tu_tempdir(void)
{
    const char *base = getenv("TMPDIR");
    char *p;

    if (base == NULL || *base == '\0')
        base = "/tmp";
    p = malloc(strlen(base) + 32);
    if (p == NULL)
        die("malloc");
    snprintf(p, strlen(base) + 32, "%s/sceptest.XXXXXX", base);
    if (mkdtemp(p) == NULL)
        die("mkdtemp");
    return p;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void tu_rmrf(const char *path)
{
    if (path != NULL)
        nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

unsigned char *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    long n;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
        die("fseek");
    buf = malloc((size_t)n + 1);
    if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n)
        die("fread");
    fclose(f);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}
