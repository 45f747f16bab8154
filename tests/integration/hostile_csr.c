/*
 * The hostile certification requests of hostile_gen: keys that need no
 * private key or are too weak to certify (RSA e = 1, e = 3, an even e, a
 * modulus with a small factor or of 1024 bits, an EC point off its
 * curve, an unlisted curve), subject names that parsers read differently
 * (NUL in UTF8String and PrintableString, C0 and C1 controls, invalid
 * UTF-8, '@' in a PrintableString, the CA's own DN), malformed
 * subjectAltNames, and a CSR version other than v1.  Every request
 * carries the right challenge password and, wherever a key can sign,
 * a valid proof of possession: the one thing wrong with it is what the
 * case is named after, so a server that skipped that check would issue.
 */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include <scep/message.h>

#include "hostile.h"

X509_REQ *hg_csr(const struct hg *g, EVP_PKEY *key, EVP_PKEY *sign_key, const char *cn,
                 const X509_NAME *name, long version, const GENERAL_NAMES *gens)
{
    X509_REQ *r = X509_REQ_new();
    X509_NAME *dflt = X509_NAME_new();

    if (name == NULL &&
        (dflt == NULL || !X509_NAME_add_entry_by_txt(dflt, "CN", MBSTRING_UTF8,
                                                     (const unsigned char *)cn, -1, -1, 0)))
        hg_die("cannot make the subject CN=%s", cn);
    if (r == NULL || !X509_REQ_set_version(r, version) ||
        !X509_REQ_set_subject_name(r, name != NULL ? name : dflt) || !X509_REQ_set_pubkey(r, key) ||
        (g->challenge != NULL &&
         !X509_REQ_add1_attr_by_NID(r, NID_pkcs9_challengePassword, MBSTRING_UTF8,
                                    (const unsigned char *)g->challenge, -1)))
        hg_die("cannot make the CSR for %s", cn != NULL ? cn : "a name");
    if (gens != NULL) {
        STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
        X509_EXTENSION *e = X509V3_EXT_i2d(NID_subject_alt_name, 0, (void *)gens);

        if (exts == NULL || e == NULL || sk_X509_EXTENSION_push(exts, e) <= 0 ||
            !X509_REQ_add_extensions(r, exts))
            hg_die("cannot add a subjectAltName");
        sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    }
    if (X509_REQ_sign(r, sign_key != NULL ? sign_key : key, EVP_sha256()) <= 0)
        hg_die("cannot sign a CSR");
    X509_NAME_free(dflt);
    return r;
}

/* The RSA key (n, e) and, when d is not NULL, its private exponent
 * alone: EVP_PKEY_fromdata takes what keygen refuses (e = 1, even e). */
static EVP_PKEY *rsa_from(const BIGNUM *n, const BIGNUM *e, const BIGNUM *d)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    OSSL_PARAM *params = NULL;
    EVP_PKEY *k = NULL;

    if (bld == NULL || ctx == NULL || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
        (d != NULL && !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, d)) ||
        (params = OSSL_PARAM_BLD_to_param(bld)) == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &k, d != NULL ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params) != 1)
        hg_die("cannot make an RSA key from its numbers");
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    return k;
}

/* A fresh RSA key of bits with public exponent e. */
static EVP_PKEY *rsa_gen(int bits, unsigned long e)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    BIGNUM *bn = BN_new();
    EVP_PKEY *k = NULL;

    if (ctx == NULL || bn == NULL || !BN_set_word(bn, e) || EVP_PKEY_keygen_init(ctx) != 1 ||
        EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, bits) != 1 ||
        EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, bn) != 1 || EVP_PKEY_keygen(ctx, &k) != 1)
        hg_die("cannot generate an RSA-%d key with e = %lu", bits, e);
    BN_free(bn);
    EVP_PKEY_CTX_free(ctx);
    return k;
}

/* Checks that csr's proof of possession holds, so that a refusal is
 * the key rule's and not the signature's. */
static void expect_pop(X509_REQ *csr, const char *what)
{
    EVP_PKEY *pub = X509_REQ_get0_pubkey(csr);

    if (pub == NULL || X509_REQ_verify(csr, pub) != 1)
        hg_die("%s: the CSR's own signature does not verify", what);
    ERR_clear_error();
}

/* A PKCSReq for csr, written as case name. */
static void csr_case(struct hg *g, const char *name, X509_REQ *csr)
{
    struct hg_req q;

    memset(&q, 0, sizeof(q));
    q.csr = csr;
    hg_case(g, name, &q);
}

/*
 * RSA e = 1: d = 1 too, so the "signature" is the padded digest itself,
 * which anyone can make; OpenSSL signs with (n, 1, 1) as with any key.
 */
static void key_e1(struct hg *g)
{
    BIGNUM *n = NULL, *one = BN_new();
    EVP_PKEY *k;
    X509_REQ *csr;

    if (one == NULL || !BN_one(one) || !EVP_PKEY_get_bn_param(g->key, OSSL_PKEY_PARAM_RSA_N, &n))
        hg_die("e = 1: no modulus");
    k = rsa_from(n, one, one);
    csr = hg_csr(g, k, NULL, "hostile e=1", NULL, X509_REQ_VERSION_1, NULL);
    expect_pop(csr, "key-rsa-e1");
    csr_case(g, "key-rsa-e1", csr);
    X509_REQ_free(csr);
    EVP_PKEY_free(k);
    BN_free(n);
    BN_free(one);
}

/* s = EM^(1/(2k)) mod prime r (r = 3 mod 4, gcd(k, r - 1) = 1): the QR
 * square root EM^((r+1)/4), then its k-th root.  Returns 0 when EM is
 * not a quadratic residue mod r. */
static int even_root(const BIGNUM *em, const BIGNUM *r, const BIGNUM *k, BIGNUM *s, BN_CTX *bc)
{
    BIGNUM *x = BN_new(), *r1 = BN_new(), *u = NULL, *t = BN_new();
    int ok = 0;

    if (x == NULL || r1 == NULL || t == NULL)
        hg_die("even e: out of memory");
    if (BN_kronecker(em, r, bc) != 1)
        goto out;
    if (!BN_copy(r1, r) || !BN_sub_word(r1, 1) || !BN_copy(x, r) || !BN_add_word(x, 1) ||
        !BN_rshift(x, x, 2) || !BN_mod_exp(t, em, x, r, bc) ||
        (u = BN_mod_inverse(NULL, k, r1, bc)) == NULL || !BN_mod_exp(s, t, u, r, bc))
        hg_die("even e: root mod p failed");
    ok = 1;
out:
    BN_free(x);
    BN_free(r1);
    BN_free(u);
    BN_free(t);
    return ok;
}

/* A prime of bits, = 3 mod 4, with gcd(k, p - 1) = 1. */
static BIGNUM *even_prime(const BIGNUM *k, BN_CTX *bc)
{
    BIGNUM *p = BN_new(), *four = BN_new(), *three = BN_new(), *p1 = BN_new(), *g = BN_new();

    if (p == NULL || four == NULL || three == NULL || p1 == NULL || g == NULL ||
        !BN_set_word(four, 4) || !BN_set_word(three, 3))
        hg_die("even e: out of memory");
    for (;;) {
        if (!BN_generate_prime_ex(p, 1024, 0, four, three, NULL) || !BN_copy(p1, p) ||
            !BN_sub_word(p1, 1) || !BN_gcd(g, p1, k, bc))
            hg_die("even e: no prime");
        if (BN_is_one(g))
            break;
    }
    BN_free(four);
    BN_free(three);
    BN_free(p1);
    BN_free(g);
    return p;
}

/*
 * RSA e = 65538, even, with a valid proof of possession: an even e has
 * no inverse mod lambda(n), but an e-th root of the one padded digest
 * the CSR needs can still be found from p and q when that digest is a
 * square mod both (one CSR in four; the CN is varied until it is).  The
 * padded digest comes from OpenSSL itself: signing with (n, 1, 1).
 */
static void key_even_e(struct hg *g)
{
    BN_CTX *bc = BN_CTX_new();
    BIGNUM *k = BN_new(), *e = BN_new(), *one = BN_new(), *n = BN_new(), *em = BN_new();
    BIGNUM *sp = BN_new(), *sq = BN_new(), *h = BN_new(), *qinv = NULL, *s = BN_new();
    BIGNUM *p = NULL, *q = NULL;
    EVP_PKEY *pub = NULL, *pad = NULL;
    X509_REQ *csr = NULL;
    const ASN1_BIT_STRING *sig = NULL;
    unsigned char buf[512];
    char cn[64];
    int i, nbytes;

    if (bc == NULL || k == NULL || e == NULL || one == NULL || n == NULL || em == NULL ||
        sp == NULL || sq == NULL || h == NULL || s == NULL || !BN_set_word(k, 32769) ||
        !BN_set_word(e, 65538) || !BN_one(one))
        hg_die("even e: out of memory");
    do {
        BN_free(p);
        BN_free(q);
        p = even_prime(k, bc);
        q = even_prime(k, bc);
        if (!BN_mul(n, p, q, bc))
            hg_die("even e: n");
    } while (BN_num_bits(n) != 2048 || BN_cmp(p, q) == 0);
    pub = rsa_from(n, e, NULL);
    pad = rsa_from(n, one, one);
    nbytes = BN_num_bytes(n);
    for (i = 0; i < 200; i++) {
        X509_REQ_free(csr);
        snprintf(cn, sizeof(cn), "hostile even e %d", i);
        csr = hg_csr(g, pub, pad, cn, NULL, X509_REQ_VERSION_1, NULL);
        X509_REQ_get0_signature(csr, &sig, NULL);
        if (BN_bin2bn(ASN1_STRING_get0_data(sig), ASN1_STRING_length(sig), em) == NULL)
            hg_die("even e: signature");
        if (even_root(em, p, k, sp, bc) && even_root(em, q, k, sq, bc))
            break;
    }
    if (i == 200)
        hg_die("even e: no CSR whose padded digest is a square mod p and q");
    /* CRT: s = sq + q * ((sp - sq) / q mod p) */
    if ((qinv = BN_mod_inverse(NULL, q, p, bc)) == NULL || !BN_mod_sub(h, sp, sq, p, bc) ||
        !BN_mod_mul(h, h, qinv, p, bc) || !BN_mul(s, h, q, bc) || !BN_add(s, s, sq) ||
        BN_bn2binpad(s, buf, nbytes) != nbytes ||
        !ASN1_BIT_STRING_set((ASN1_BIT_STRING *)sig, buf, nbytes))
        hg_die("even e: CRT");
    expect_pop(csr, "key-rsa-even-e");
    csr_case(g, "key-rsa-even-e", csr);
    X509_REQ_free(csr);
    EVP_PKEY_free(pub);
    EVP_PKEY_free(pad);
    BN_free(qinv);
    BN_free(p);
    BN_free(q);
    BN_free(k);
    BN_free(e);
    BN_free(one);
    BN_free(n);
    BN_free(em);
    BN_free(sp);
    BN_free(sq);
    BN_free(h);
    BN_free(s);
    BN_CTX_free(bc);
}

/* n = 3 * P, 2048 bits, e = 65537: an exponent and size the rules
 * accept, a modulus SP 800-56B's public-key check does not. */
static void key_small_factor(struct hg *g)
{
    BN_CTX *bc = BN_CTX_new();
    BIGNUM *P = BN_new(), *n = BN_new(), *e = BN_new(), *p1 = BN_new(), *d = NULL;
    EVP_PKEY *k;
    X509_REQ *csr;

    if (bc == NULL || P == NULL || n == NULL || e == NULL || p1 == NULL || !BN_set_word(e, 65537))
        hg_die("small factor: out of memory");
    do {
        if (!BN_generate_prime_ex(P, 2046, 0, NULL, NULL, NULL) || !BN_mul_word(BN_copy(n, P), 3))
            hg_die("small factor: no prime");
        BN_free(d);
        /* lambda(3P) = lcm(2, P - 1) = P - 1 */
        d = BN_copy(p1, P) != NULL && BN_sub_word(p1, 1) ? BN_mod_inverse(NULL, e, p1, bc) : NULL;
    } while (BN_num_bits(n) != 2048 || d == NULL);
    ERR_clear_error();
    k = rsa_from(n, e, d);
    csr = hg_csr(g, k, NULL, "hostile small factor", NULL, X509_REQ_VERSION_1, NULL);
    expect_pop(csr, "key-rsa-small-factor");
    csr_case(g, "key-rsa-small-factor", csr);
    X509_REQ_free(csr);
    EVP_PKEY_free(k);
    BN_free(P);
    BN_free(n);
    BN_free(e);
    BN_free(p1);
    BN_free(d);
    BN_CTX_free(bc);
}

/*
 * A P-256 public key whose point is off the curve (y + 1).  OpenSSL makes
 * no such EVP_PKEY, so the point is set into the CSR's SubjectPublicKeyInfo
 * with X509_PUBKEY_set0_param and the request signed again with the real
 * key: the structure is OpenSSL's, only the point is wrong.
 */
static void key_off_curve(struct hg *g)
{
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    unsigned char pt[65], *copy;
    size_t ptlen = 0;
    X509_REQ *csr;

    if (ec == NULL ||
        !EVP_PKEY_get_octet_string_param(ec, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt, sizeof(pt),
                                         &ptlen) ||
        ptlen != sizeof(pt) || pt[0] != 0x04)
        hg_die("off curve: no P-256 point");
    pt[64] ^= 0x01;
    csr = hg_csr(g, ec, NULL, "hostile off curve", NULL, X509_REQ_VERSION_1, NULL);
    if ((copy = OPENSSL_memdup(pt, sizeof(pt))) == NULL ||
        !X509_PUBKEY_set0_param(X509_REQ_get_X509_PUBKEY(csr),
                                OBJ_nid2obj(NID_X9_62_id_ecPublicKey), V_ASN1_OBJECT,
                                OBJ_nid2obj(NID_X9_62_prime256v1), copy, (int)sizeof(pt)) ||
        X509_REQ_sign(csr, ec, EVP_sha256()) <= 0)
        hg_die("off curve: cannot set the point");
    csr_case(g, "key-ec-off-curve", csr);
    X509_REQ_free(csr);
    EVP_PKEY_free(ec);
}

/* The keys: e = 1, 3 and 65538, a small factor, 1024 bits, an EC point
 * off its curve, P-224. */
static void key_cases(struct hg *g)
{
    EVP_PKEY *k;
    X509_REQ *csr;

    key_e1(g);
    k = rsa_gen(2048, 3);
    csr = hg_csr(g, k, NULL, "hostile e=3", NULL, X509_REQ_VERSION_1, NULL);
    csr_case(g, "key-rsa-e3", csr);
    X509_REQ_free(csr);
    EVP_PKEY_free(k);
    key_even_e(g);
    key_small_factor(g);
    k = rsa_gen(1024, 65537);
    csr = hg_csr(g, k, NULL, "hostile 1024", NULL, X509_REQ_VERSION_1, NULL);
    csr_case(g, "key-rsa-1024", csr);
    X509_REQ_free(csr);
    EVP_PKEY_free(k);
    key_off_curve(g);
    if ((k = EVP_EC_gen("P-224")) == NULL)
        hg_die("no P-224 key");
    csr = hg_csr(g, k, NULL, "hostile p224", NULL, X509_REQ_VERSION_1, NULL);
    csr_case(g, "key-ec-p224", csr);
    X509_REQ_free(csr);
    EVP_PKEY_free(k);
}

/* A name of one attribute nid holding len raw bytes of ASN.1 type: with a
 * V_ASN1_* type (not MBSTRING_*) OpenSSL takes the bytes as they are. */
static X509_NAME *name1(int nid, int type, const char *bytes, int len)
{
    X509_NAME *n = X509_NAME_new();

    if (n == NULL ||
        !X509_NAME_add_entry_by_NID(n, nid, type, (const unsigned char *)bytes, len, -1, 0))
        hg_die("cannot make a name");
    return n;
}

/*
 * A CN with invalid UTF-8 (an overlong '/'): OpenSSL will neither encode
 * nor decode such a Name, so the CSR is made with a valid placeholder of
 * the same length, which is then replaced in the encoded request.  The
 * server sees a well-formed DER structure holding a malformed UTF8String.
 */
static void name_bad_utf8(struct hg *g)
{
    static const unsigned char mark[] = "utf8-\xc3\xa9-mark", bad[] = "utf8-\xc0\xaf-mark";
    X509_REQ *csr = hg_csr(g, g->key, NULL, (const char *)mark, NULL, X509_REQ_VERSION_1, NULL);
    unsigned char *der = NULL, *hit = NULL;
    const unsigned char *p;
    struct hg_req q;
    int len = i2d_X509_REQ(csr, &der), i;

    for (i = 0; der != NULL && i + (int)sizeof(mark) - 1 <= len; i++)
        if (memcmp(der + i, mark, sizeof(mark) - 1) == 0) {
            if (hit != NULL)
                hg_die("bad UTF-8: placeholder found twice");
            hit = der + i;
        }
    if (hit == NULL)
        hg_die("bad UTF-8: placeholder not found");
    memcpy(hit, bad, sizeof(bad) - 1);
    p = der;
    X509_REQ_free(csr);
    csr = d2i_X509_REQ(NULL, &p, len);
    if (csr != NULL)
        hg_die("bad UTF-8: OpenSSL decodes the patched CSR, the case tests nothing");
    ERR_clear_error();
    memset(&q, 0, sizeof(q));
    q.plain = der;
    q.plain_len = (size_t)len;
    hg_case(g, "name-cn-bad-utf8", &q);
    OPENSSL_free(der);
}

static void name_cases(struct hg *g)
{
    static const char nul[] = "good.example\0.evil.example";
    static const struct {
        const char *name;
        int nid, type;
        const char *bytes;
        int len;
    } cases[] = {
        {"name-cn-nul-utf8", NID_commonName, V_ASN1_UTF8STRING, nul, (int)sizeof(nul) - 1},
        {"name-cn-nul-printable", NID_commonName, V_ASN1_PRINTABLESTRING, nul,
         (int)sizeof(nul) - 1},
        {"name-o-escape", NID_organizationName, V_ASN1_UTF8STRING, "Evil\x1b[31m Corp", 14},
        {"name-cn-c1-control", NID_commonName, V_ASN1_UTF8STRING, "caf\xc2\x85", 5},
        {"name-cn-printable-at", NID_commonName, V_ASN1_PRINTABLESTRING, "user@example.org", 16},
        {"name-c-three-letters", NID_countryName, V_ASN1_PRINTABLESTRING, "USA", 3},
    };
    X509_REQ *csr;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        X509_NAME *n = name1(cases[i].nid, cases[i].type, cases[i].bytes, cases[i].len);

        csr = hg_csr(g, g->key, NULL, NULL, n, X509_REQ_VERSION_1, NULL);
        csr_case(g, cases[i].name, csr);
        X509_REQ_free(csr);
        X509_NAME_free(n);
    }
    name_bad_utf8(g);
    csr = hg_csr(g, g->key, NULL, NULL, X509_get_subject_name(g->ca), X509_REQ_VERSION_1, NULL);
    csr_case(g, "name-subject-is-ca", csr);
    X509_REQ_free(csr);
    /* X509_REQ_set_version(1) is "v2", a version RFC 2986 does not have */
    csr = hg_csr(g, g->key, NULL, "hostile v2", NULL, 1, NULL);
    csr_case(g, "csr-version-2", csr);
    X509_REQ_free(csr);
}

/* One GeneralName of type with len raw bytes (OCTET STRING for an
 * iPAddress, else IA5String). */
static GENERAL_NAMES *san1(int type, const char *bytes, int len)
{
    GENERAL_NAMES *gens = GENERAL_NAMES_new();
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_STRING *s = type == GEN_IPADD ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();

    if (gens == NULL || gn == NULL || s == NULL || !ASN1_STRING_set(s, bytes, len))
        hg_die("cannot make a GeneralName");
    GENERAL_NAME_set0_value(gn, type, s);
    if (sk_GENERAL_NAME_push(gens, gn) <= 0)
        hg_die("cannot make a GeneralName");
    return gens;
}

/* A UPN otherName holding len bytes as a UTF8String, unchecked. */
static GENERAL_NAMES *upn(const char *bytes, int len)
{
    GENERAL_NAMES *gens = GENERAL_NAMES_new();
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_TYPE *v = ASN1_TYPE_new();
    ASN1_UTF8STRING *u = ASN1_UTF8STRING_new();

    if (gens == NULL || gn == NULL || v == NULL || u == NULL || !ASN1_STRING_set(u, bytes, len))
        hg_die("cannot make a UPN");
    ASN1_TYPE_set(v, V_ASN1_UTF8STRING, u);
    if (!GENERAL_NAME_set0_othername(gn, OBJ_txt2obj("1.3.6.1.4.1.311.20.2.3", 1), v) ||
        sk_GENERAL_NAME_push(gens, gn) <= 0)
        hg_die("cannot make a UPN");
    return gens;
}

static void san_cases(struct hg *g)
{
    static const char nul[] = "good.example\0.evil.example", ip17[17] = {10, 0, 0, 1};
    static const struct {
        const char *name;
        int type;
        const char *bytes;
        int len;
    } cases[] = {
        {"san-ip-17-bytes", GEN_IPADD, ip17, 17},
        {"san-dns-nul", GEN_DNS, nul, (int)sizeof(nul) - 1},
        {"san-dns-underscore", GEN_DNS, "under_score.example", -1},
        {"san-dns-empty-label", GEN_DNS, "a..example", -1},
        {"san-dns-wildcard", GEN_DNS, "*.example.org", -1},
        {"san-email-two-at", GEN_EMAIL, "a@b@example.org", -1},
        {"san-email-no-local", GEN_EMAIL, "@example.org", -1},
        {"san-uri-space", GEN_URI, "http://a b.example/", -1},
        {"san-uri-no-scheme", GEN_URI, "no-scheme/path", -1},
    };
    X509_REQ *csr;
    GENERAL_NAMES *gens;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        gens = san1(cases[i].type, cases[i].bytes, cases[i].len);
        csr = hg_csr(g, g->key, NULL, "hostile san", NULL, X509_REQ_VERSION_1, gens);
        csr_case(g, cases[i].name, csr);
        X509_REQ_free(csr);
        GENERAL_NAMES_free(gens);
    }
    gens = upn("alice\xc0\xaf"
               "corp",
               11);
    csr = hg_csr(g, g->key, NULL, "hostile upn", NULL, X509_REQ_VERSION_1, gens);
    csr_case(g, "san-upn-bad-utf8", csr);
    X509_REQ_free(csr);
    GENERAL_NAMES_free(gens);
}

void hg_csr_cases(struct hg *g)
{
    key_cases(g);
    name_cases(g);
    san_cases(g);
}
