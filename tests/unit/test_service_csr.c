/*
 * Hostile CSRs through the whole PKIOperation: each must end in a signed
 * CertRep FAILURE naming the rule it broke, one "refuse" audit event and
 * no certificate.  Keys that need no private key to "sign" (RSA e = 1),
 * small or even exponents and unlisted curves; names with NUL and control
 * characters, string types their attribute cannot have, invalid UTF-8;
 * malformed subjectAltNames (a 17-byte iPAddress, non-host dNSNames,
 * wildcards, mailboxes and URIs without their parts, other name types);
 * the CA's own DN as subject; a CSR version other than v1; a pkiMessage
 * whose eContentType is not id-data.  The CA-level check (which
 * scep_ca_issue applies on every path) is exercised directly where a
 * CSR cannot carry a proof of possession (e = 1).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "test_service_fixture.h"

#define CHALLENGE "hostile-csr"

static int setup(void **state)
{
    *state = fx_new(0, CHALLENGE, 1);
    return 0;
}

static int teardown(void **state)
{
    fx_free(*state);
    return 0;
}

/* A CSR for key (signed with it) with subject name (NULL: CN=device),
 * the challenge, version, and gens as subjectAltName (NULL: none). */
static X509_REQ *csr_of(EVP_PKEY *key, const X509_NAME *name, long version,
                        const GENERAL_NAMES *gens)
{
    X509_REQ *r = X509_REQ_new();
    X509_NAME *dflt = X509_NAME_new();

    assert_non_null(r);
    assert_non_null(dflt);
    assert_int_equal(X509_REQ_set_version(r, version), 1);
    assert_int_equal(X509_NAME_add_entry_by_txt(dflt, "CN", MBSTRING_UTF8,
                                                (const unsigned char *)"device", -1, -1, 0),
                     1);
    assert_int_equal(X509_REQ_set_subject_name(r, name != NULL ? name : dflt), 1);
    assert_int_equal(X509_REQ_set_pubkey(r, key), 1);
    assert_int_equal(X509_REQ_add1_attr_by_NID(r, NID_pkcs9_challengePassword, MBSTRING_UTF8,
                                               (const unsigned char *)CHALLENGE, -1),
                     1);
    if (gens != NULL) {
        STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
        X509_EXTENSION *e = X509V3_EXT_i2d(NID_subject_alt_name, 0, (void *)gens);

        assert_non_null(exts);
        assert_non_null(e);
        assert_true(sk_X509_EXTENSION_push(exts, e) > 0);
        assert_int_equal(X509_REQ_add_extensions(r, exts), 1);
        sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    }
    assert_true(X509_REQ_sign(r, key, EVP_sha256()) > 0);
    X509_NAME_free(dflt);
    return r;
}

/* A name of one attribute nid holding len raw bytes of ASN.1 type. */
static X509_NAME *name1(int nid, int type, const char *bytes, int len)
{
    X509_NAME *n = X509_NAME_new();

    assert_non_null(n);
    /* with a V_ASN1_* type (not MBSTRING_*) the bytes are taken as they
     * are, so the test can put in what a hostile encoder would */
    assert_int_equal(
        X509_NAME_add_entry_by_NID(n, nid, type, (const unsigned char *)bytes, len, -1, 0), 1);
    return n;
}

/* One GeneralName of type with len raw bytes (IA5String or OCTET STRING). */
static GENERAL_NAMES *san1(int type, const char *bytes, int len)
{
    GENERAL_NAMES *gens = GENERAL_NAMES_new();
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_STRING *s = type == GEN_IPADD ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();

    assert_non_null(gens);
    assert_non_null(gn);
    assert_non_null(s);
    assert_int_equal(ASN1_STRING_set(s, bytes, len), 1);
    GENERAL_NAME_set0_value(gn, type, s);
    assert_true(sk_GENERAL_NAME_push(gens, gn) > 0);
    return gens;
}

/*
 * Sends csr as a PKCSReq signed by a self-signed RSA certificate and
 * expects a FAILURE with fail_info whose failInfoText begins with text,
 * one more "refuse" audit event and no new certificate.
 */
static void expect_refused(struct fx *f, X509_REQ *csr, const char *tid, int fail_info,
                           const char *text)
{
    EVP_PKEY *signer_key = tu_rsa_key(2048);
    struct fx_req q;
    unsigned char *der = NULL;
    size_t len = 0;
    struct scep_reply r;
    struct scep_msg *m;
    struct fx_audit a0, a1;
    int certs = fx_cert_count(f);

    fx_audit_read(f, &a0);
    memset(&q, 0, sizeof(q));
    q.key = signer_key;
    q.signer = tu_self_signed(signer_key, "hostile");
    q.csr = csr;
    fx_build(f, SCEP_MSG_PKCSREQ, tid, &q, &der, &len);
    fx_send(f, der, len, &r);
    if (strcmp(r.outcome, "failure") != 0)
        fprintf(stderr, "%s: %s %s\n", tid, r.outcome, r.reason);
    assert_string_equal(r.outcome, "failure");
    assert_int_equal(r.fail_info, fail_info);
    m = fx_open(f, &r, tid, &q);
    assert_int_equal(scep_msg_status(m), SCEP_STATUS_FAILURE);
    assert_int_equal(scep_msg_fail_info(m), fail_info);
    assert_non_null(scep_msg_get0_fail_text(m));
    if (strncmp(scep_msg_get0_fail_text(m), text, strlen(text)) != 0)
        fail_msg("%s: failInfoText \"%s\", expected \"%s...\"", tid, scep_msg_get0_fail_text(m),
                 text);
    assert_int_equal(fx_cert_count(f), certs);
    fx_audit_read(f, &a1);
    assert_int_equal(a1.n, a0.n + 1);
    if (a1.n <= 16) /* fx_audit keeps the first 16 events */
        assert_string_equal(a1.kind[a1.n - 1], "refuse");
    scep_msg_free(m);
    scep_reply_clear(&r);
    scep_free(der);
    X509_free(q.signer);
    EVP_PKEY_free(signer_key);
}

/* Sends csr as a PKCSReq and expects a certificate. */
static void expect_issued(struct fx *f, X509_REQ *csr, const char *tid)
{
    EVP_PKEY *signer_key = tu_rsa_key(2048);
    struct fx_req q;

    memset(&q, 0, sizeof(q));
    q.key = signer_key;
    q.signer = tu_self_signed(signer_key, "fine");
    q.csr = csr;
    X509_free(fx_expect_cert(f, SCEP_MSG_PKCSREQ, tid, &q));
    X509_free(q.signer);
    EVP_PKEY_free(signer_key);
}

/* An RSA key with public exponent e (keygen accepts any odd e > 1). */
static EVP_PKEY *rsa_with_e(unsigned long e)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    BIGNUM *bn = BN_new();
    EVP_PKEY *k = NULL;

    assert_non_null(ctx);
    assert_non_null(bn);
    assert_int_equal(BN_set_word(bn, e), 1);
    assert_int_equal(EVP_PKEY_keygen_init(ctx), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, 2048), 1);
    assert_int_equal(EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, bn), 1);
    assert_int_equal(EVP_PKEY_keygen(ctx, &k), 1);
    BN_free(bn);
    EVP_PKEY_CTX_free(ctx);
    return k;
}

/* The public key (n, e) with n taken from a real key: keygen refuses
 * e = 1 and even exponents, fromdata does not. */
static EVP_PKEY *rsa_public(const BIGNUM *n, unsigned long e)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    BIGNUM *be = BN_new();
    EVP_PKEY *k = NULL;

    assert_non_null(bld);
    assert_non_null(ctx);
    assert_non_null(be);
    assert_int_equal(BN_set_word(be, e), 1);
    assert_int_equal(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n), 1);
    assert_int_equal(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be), 1);
    params = OSSL_PARAM_BLD_to_param(bld);
    assert_non_null(params);
    assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
    assert_int_equal(EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params), 1);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(be);
    EVP_PKEY_CTX_free(ctx);
    return k;
}

/* e = 1 (a "signature" without a private key), an even e, e = 3 by
 * default: refused by the CA's check, on every path. */
static void test_rsa_exponent_ca(void **state)
{
    struct fx *f = *state;
    EVP_PKEY *real = tu_rsa_key(2048), *pub;
    BIGNUM *n = NULL;
    unsigned long bad[] = {1, 65538, 3};
    struct scep_profile p;
    unsigned char serial[] = {0x42};
    char why[256];
    X509 *cert = NULL;
    size_t i;

    assert_int_equal(EVP_PKEY_get_bn_param(real, OSSL_PKEY_PARAM_RSA_N, &n), 1);
    memset(&p, 0, sizeof(p));
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        X509_REQ *r = X509_REQ_new();

        pub = rsa_public(n, bad[i]);
        assert_int_equal(X509_REQ_set_version(r, X509_REQ_VERSION_1), 1);
        assert_int_equal(X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(r), "CN",
                                                    MBSTRING_UTF8, (const unsigned char *)"e", -1,
                                                    -1, 0),
                         1);
        assert_int_equal(X509_REQ_set_pubkey(r, pub), 1);
        assert_int_equal(scep_ca_check_request(f->ca, r, NULL, &p, why, sizeof(why)), SCEP_ERR_KEY);
        assert_non_null(strstr(why, "RSA public exponent"));
        assert_int_equal(scep_ca_issue(f->ca, r, NULL, &p, serial, 1, &cert), SCEP_ERR_KEY);
        assert_null(cert);
        X509_REQ_free(r);
        EVP_PKEY_free(pub);
    }
    BN_free(n);
    EVP_PKEY_free(real);
}

/* e = 3 through the service: badAlg by default, issued when the
 * profile lowers min_rsa_exponent to 3. */
static void test_rsa_exponent_service(void **state)
{
    struct fx *f = *state;
    EVP_PKEY *k3 = rsa_with_e(3);
    X509_REQ *csr = csr_of(k3, NULL, X509_REQ_VERSION_1, NULL);

    expect_refused(f, csr, "tid-e3", SCEP_FAIL_BAD_ALG,
                   "RSA public exponent must be odd, at least 65537");
    f->cfg.def.profile.min_rsa_exponent = 3;
    fx_restart(f);
    expect_issued(f, csr, "tid-e3-allowed");
    X509_REQ_free(csr);
    EVP_PKEY_free(k3);
}

/* Curves: P-224 refused, P-521 accepted by default; with ec_curves
 * narrowed to P-256, P-521 is refused too. */
static void test_ec_curves(void **state)
{
    struct fx *f = *state;
    EVP_PKEY *p224 = EVP_EC_gen("P-224"), *p521 = EVP_EC_gen("P-521");
    X509_REQ *bad, *good;

    assert_non_null(p224);
    assert_non_null(p521);
    bad = csr_of(p224, NULL, X509_REQ_VERSION_1, NULL);
    good = csr_of(p521, NULL, X509_REQ_VERSION_1, NULL);
    expect_refused(f, bad, "tid-p224", SCEP_FAIL_BAD_ALG, "EC curve secp224r1");
    expect_issued(f, good, "tid-p521");
    assert_int_equal(scep_ca_parse_curves("P-256", &f->cfg.def.profile.ec_curves), 0);
    fx_restart(f);
    expect_refused(f, good, "tid-p521-off", SCEP_FAIL_BAD_ALG,
                   "EC curve secp521r1 (accepted: P-256; ec_curves)");
    X509_REQ_free(bad);
    X509_REQ_free(good);
    EVP_PKEY_free(p224);
    EVP_PKEY_free(p521);
}

/* Subject values: NUL (UTF8String and PrintableString), controls, a
 * PrintableString with '@', invalid UTF-8, countryName not two
 * PrintableString letters. */
static void test_subject_values(void **state)
{
    struct fx *f = *state;
    static const char nul_cn[] = "good.example\0.evil.example";
    static const struct {
        int nid, type;
        const char *bytes;
        int len;
        const char *text;
    } cases[] = {
        {NID_commonName, V_ASN1_UTF8STRING, nul_cn, (int)sizeof(nul_cn) - 1,
         "subject CN: control character or NUL"},
        {NID_commonName, V_ASN1_PRINTABLESTRING, nul_cn, (int)sizeof(nul_cn) - 1,
         "subject CN: control character or NUL"},
        {NID_organizationName, V_ASN1_UTF8STRING, "Evil\x1b[31m Corp", 14,
         "subject O: control character or NUL"},
        {NID_commonName, V_ASN1_UTF8STRING, "caf\xc2\x85", 5, "subject CN: control character"},
        {NID_commonName, V_ASN1_PRINTABLESTRING, "user@example.org", 16,
         "subject CN: character outside the PrintableString set"},
        /* (invalid UTF-8 in a subject never gets this far: OpenSSL's
         * X509_NAME decoder refuses it; the UPN case in test_sans) */
        {NID_commonName, V_ASN1_NUMERICSTRING, "1234", 4,
         "subject CN: NUMERICSTRING is not a string type allowed here"},
        {NID_countryName, V_ASN1_PRINTABLESTRING, "USA", 3,
         "subject C: countryName must be two letters"},
        {NID_countryName, V_ASN1_UTF8STRING, "DE", 2,
         "subject C: UTF8STRING is not a string type allowed here"},
    };
    EVP_PKEY *key = tu_rsa_key(2048);
    char tid[32];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        X509_NAME *n = name1(cases[i].nid, cases[i].type, cases[i].bytes, cases[i].len);
        X509_REQ *csr = csr_of(key, n, X509_REQ_VERSION_1, NULL);

        snprintf(tid, sizeof(tid), "tid-subject-%zu", i);
        expect_refused(f, csr, tid, SCEP_FAIL_BAD_REQUEST, cases[i].text);
        X509_REQ_free(csr);
        X509_NAME_free(n);
    }
    /* the valid forms of the same attributes still pass */
    {
        X509_NAME *n = name1(NID_countryName, V_ASN1_PRINTABLESTRING, "DE", 2);
        X509_REQ *csr;

        assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
                                                    (const unsigned char *)"Caf\xc3\xa9 m\xc3\xbc",
                                                    -1, -1, 0),
                         1);
        csr = csr_of(key, n, X509_REQ_VERSION_1, NULL);
        expect_issued(f, csr, "tid-subject-ok");
        X509_REQ_free(csr);
        X509_NAME_free(n);
    }
    EVP_PKEY_free(key);
}

/* subjectAltNames: each malformed one refused, the well-formed issued. */
static void test_sans(void **state)
{
    struct fx *f = *state;
    static const char nul_dns[] = "good.example\0.evil.example";
    static const char ip17[17] = {10, 0, 0, 1};
    static const struct {
        int type;
        const char *bytes;
        int len;
        const char *text;
    } bad[] = {
        {GEN_IPADD, ip17, 17, "subjectAltName 0: iPAddress of 17 bytes"},
        {GEN_IPADD, ip17, 5, "subjectAltName 0: iPAddress of 5 bytes"},
        {GEN_DNS, nul_dns, (int)sizeof(nul_dns) - 1, "subjectAltName 0: dNSName is not a host"},
        {GEN_DNS, "-lead.example", -1, "subjectAltName 0: dNSName is not a host"},
        {GEN_DNS, "a..example", -1, "subjectAltName 0: dNSName is not a host"},
        {GEN_DNS, "under_score.example", -1, "subjectAltName 0: dNSName is not a host"},
        {GEN_DNS, "host.example.", -1, "subjectAltName 0: dNSName is not a host"},
        {GEN_DNS, "*.example.org", -1, "subjectAltName 0: dNSName is not a host name (wildcards"},
        {GEN_DNS, "www.*.example.org", -1, "subjectAltName 0: dNSName is not a host"},
        {GEN_EMAIL, "no-at-sign.example", -1, "subjectAltName 0: rfc822Name is not local@domain"},
        {GEN_EMAIL, "a@b@example.org", -1, "subjectAltName 0: rfc822Name is not local@domain"},
        {GEN_EMAIL, "@example.org", -1, "subjectAltName 0: rfc822Name is not local@domain"},
        {GEN_EMAIL, "user@", -1, "subjectAltName 0: rfc822Name is not local@domain"},
        {GEN_URI, "no-scheme/path", -1, "subjectAltName 0: URI without a scheme"},
        {GEN_URI, "http://a b.example/", -1, "subjectAltName 0: URI without a scheme"},
        {GEN_URI, "1http://x.example/", -1, "subjectAltName 0: URI without a scheme"},
    };
    EVP_PKEY *key = tu_rsa_key(2048);
    char label[70], longname[300], tid[32];
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        GENERAL_NAMES *g = san1(bad[i].type, bad[i].bytes, bad[i].len);
        X509_REQ *csr = csr_of(key, NULL, X509_REQ_VERSION_1, g);

        snprintf(tid, sizeof(tid), "tid-san-%zu", i);
        expect_refused(f, csr, tid, SCEP_FAIL_BAD_REQUEST, bad[i].text);
        X509_REQ_free(csr);
        GENERAL_NAMES_free(g);
    }
    /* a 64-byte label, a 254-byte name */
    memset(label, 'a', 64);
    label[64] = '\0';
    snprintf(longname, sizeof(longname), "%s.example", label);
    {
        GENERAL_NAMES *g = san1(GEN_DNS, longname, -1);
        X509_REQ *csr = csr_of(key, NULL, X509_REQ_VERSION_1, g);

        expect_refused(f, csr, "tid-san-label", SCEP_FAIL_BAD_REQUEST,
                       "subjectAltName 0: dNSName is not a host");
        X509_REQ_free(csr);
        GENERAL_NAMES_free(g);
    }
    memset(longname, 'b', sizeof(longname));
    for (i = 50; i < 254; i += 51)
        longname[i] = '.';
    longname[254] = '\0';
    {
        GENERAL_NAMES *g = san1(GEN_DNS, longname, -1);
        X509_REQ *csr = csr_of(key, NULL, X509_REQ_VERSION_1, g);

        expect_refused(f, csr, "tid-san-long", SCEP_FAIL_BAD_REQUEST,
                       "subjectAltName 0: dNSName is not a host");
        X509_REQ_free(csr);
        GENERAL_NAMES_free(g);
    }
    /* a UPN otherName with invalid UTF-8 */
    {
        GENERAL_NAMES *g = GENERAL_NAMES_new();
        GENERAL_NAME *gn = GENERAL_NAME_new();
        ASN1_TYPE *v = ASN1_TYPE_new();
        ASN1_UTF8STRING *u = ASN1_UTF8STRING_new();
        X509_REQ *csr;

        assert_non_null(g);
        assert_non_null(gn);
        assert_non_null(v);
        assert_non_null(u);
        assert_int_equal(ASN1_STRING_set(u,
                                         "alice\xc0\xaf"
                                         "corp",
                                         11),
                         1);
        ASN1_TYPE_set(v, V_ASN1_UTF8STRING, u);
        assert_int_equal(
            GENERAL_NAME_set0_othername(gn, OBJ_txt2obj("1.3.6.1.4.1.311.20.2.3", 1), v), 1);
        assert_true(sk_GENERAL_NAME_push(g, gn) > 0);
        csr = csr_of(key, NULL, X509_REQ_VERSION_1, g);
        expect_refused(f, csr, "tid-san-upn", SCEP_FAIL_BAD_REQUEST,
                       "subjectAltName 0 UPN: invalid UTF8STRING encoding");
        X509_REQ_free(csr);
        GENERAL_NAMES_free(g);
    }
    /* other name types: a registeredID */
    {
        GENERAL_NAMES *g = GENERAL_NAMES_new();
        GENERAL_NAME *gn = GENERAL_NAME_new();
        X509_REQ *csr;

        assert_non_null(g);
        assert_non_null(gn);
        GENERAL_NAME_set0_value(gn, GEN_RID, OBJ_txt2obj("1.2.3.4", 1));
        assert_true(sk_GENERAL_NAME_push(g, gn) > 0);
        csr = csr_of(key, NULL, X509_REQ_VERSION_1, g);
        expect_refused(f, csr, "tid-san-rid", SCEP_FAIL_BAD_REQUEST,
                       "subjectAltName 0: name type 8 not accepted");
        X509_REQ_free(csr);
        GENERAL_NAMES_free(g);
    }
    /* what is well formed is issued: 4- and 16-byte IPs, a host name, a
     * mailbox, a URI */
    {
        GENERAL_NAMES *g = san1(GEN_IPADD, ip17, 4), *more;
        static const char ip6[16] = {0x20, 0x01, 0x0d, (char)0xb8};
        X509_REQ *csr;

        more = san1(GEN_IPADD, ip6, 16);
        assert_true(sk_GENERAL_NAME_push(g, sk_GENERAL_NAME_pop(more)) > 0);
        GENERAL_NAMES_free(more);
        more = san1(GEN_DNS, "Host-1.example.org", -1);
        assert_true(sk_GENERAL_NAME_push(g, sk_GENERAL_NAME_pop(more)) > 0);
        GENERAL_NAMES_free(more);
        more = san1(GEN_EMAIL, "first.last+tag@example.org", -1);
        assert_true(sk_GENERAL_NAME_push(g, sk_GENERAL_NAME_pop(more)) > 0);
        GENERAL_NAMES_free(more);
        more = san1(GEN_URI, "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66", -1);
        assert_true(sk_GENERAL_NAME_push(g, sk_GENERAL_NAME_pop(more)) > 0);
        GENERAL_NAMES_free(more);
        csr = csr_of(key, NULL, X509_REQ_VERSION_1, g);
        expect_issued(f, csr, "tid-san-ok");
        X509_REQ_free(csr);
        GENERAL_NAMES_free(g);
    }
    EVP_PKEY_free(key);
}

/* A wildcard dNSName only with allow_wildcard_dns, and never "*.org". */
static void test_wildcard(void **state)
{
    struct fx *f = *state;
    EVP_PKEY *key = tu_rsa_key(2048);
    GENERAL_NAMES *g = san1(GEN_DNS, "*.example.org", -1), *tld = san1(GEN_DNS, "*.org", -1);
    X509_REQ *csr = csr_of(key, NULL, X509_REQ_VERSION_1, g),
             *csr_tld = csr_of(key, NULL, X509_REQ_VERSION_1, tld);

    expect_refused(f, csr, "tid-wild-1", SCEP_FAIL_BAD_REQUEST,
                   "subjectAltName 0: dNSName is not a host name (wildcards need");
    f->cfg.def.profile.allow_wildcard_dns = 1;
    fx_restart(f);
    expect_issued(f, csr, "tid-wild-2");
    expect_refused(f, csr_tld, "tid-wild-3", SCEP_FAIL_BAD_REQUEST,
                   "subjectAltName 0: dNSName is not a host");
    X509_REQ_free(csr);
    X509_REQ_free(csr_tld);
    GENERAL_NAMES_free(g);
    GENERAL_NAMES_free(tld);
    EVP_PKEY_free(key);
}

/* The CA's own DN (and, with an RA, the RA's) as subject; CSR version 2. */
static void test_own_dn_and_version(void **state)
{
    struct fx *f = *state, *ec = fx_new(1, CHALLENGE, 1);
    EVP_PKEY *key = tu_rsa_key(2048);
    X509_REQ *ca_dn =
        csr_of(key, X509_get_subject_name(scep_ca_get0_cert(f->ca)), X509_REQ_VERSION_1, NULL);
    X509_REQ *ra_dn =
        csr_of(key, X509_get_subject_name(scep_ca_get0_ra_cert(ec->ca)), X509_REQ_VERSION_1, NULL);
    X509_REQ *v2 = csr_of(key, NULL, 1, NULL);

    expect_refused(f, ca_dn, "tid-own-ca", SCEP_FAIL_BAD_REQUEST,
                   "subject is the name of this CA or its RA");
    expect_refused(ec, ra_dn, "tid-own-ra", SCEP_FAIL_BAD_REQUEST,
                   "subject is the name of this CA or its RA");
    expect_refused(f, v2, "tid-v2", SCEP_FAIL_BAD_REQUEST, "CSR version 2, not v1");
    X509_REQ_free(ca_dn);
    X509_REQ_free(ra_dn);
    X509_REQ_free(v2);
    EVP_PKEY_free(key);
    fx_free(ec);
}

/* RFC 8894 3.2: eContentType must be id-data.  The message is otherwise
 * a valid PKCSReq; the answer is a signed FAILURE badRequest. */
static void test_econtent_type(void **state)
{
    struct fx *f = *state;
    EVP_PKEY *key = tu_rsa_key(2048);
    struct fx_req q;
    unsigned char *der = NULL, *bad = NULL, *p;
    const unsigned char *in;
    size_t len = 0;
    int blen;
    CMS_ContentInfo *cms;
    struct scep_reply r;
    struct scep_msg *m;

    memset(&q, 0, sizeof(q));
    q.key = key;
    q.signer = tu_self_signed(key, "ectype");
    q.csr = csr_of(key, NULL, X509_REQ_VERSION_1, NULL);
    fx_build(f, SCEP_MSG_PKCSREQ, "tid-ectype", &q, &der, &len);
    in = der;
    cms = d2i_CMS_ContentInfo(NULL, &in, (long)len);
    assert_non_null(cms);
    assert_int_equal(CMS_set1_eContentType(cms, OBJ_nid2obj(NID_pkcs7_enveloped)), 1);
    blen = i2d_CMS_ContentInfo(cms, NULL);
    assert_true(blen > 0);
    bad = OPENSSL_malloc((size_t)blen);
    assert_non_null(bad);
    p = bad;
    assert_int_equal(i2d_CMS_ContentInfo(cms, &p), blen);

    fx_send(f, bad, (size_t)blen, &r);
    assert_string_equal(r.outcome, "failure");
    assert_int_equal(r.fail_info, SCEP_FAIL_BAD_REQUEST);
    m = fx_open(f, &r, "tid-ectype", &q);
    assert_int_equal(scep_msg_status(m), SCEP_STATUS_FAILURE);
    assert_string_equal(scep_msg_get0_fail_text(m),
                        "SignedData eContentType is not id-data (RFC 8894 3.2)");
    assert_int_equal(fx_cert_count(f), 0);
    scep_msg_free(m);
    scep_reply_clear(&r);

    /* the message layer on its own: decoded, then refused at verify */
    assert_int_equal(scep_msg_decode(bad, (size_t)blen, &m), 0);
    assert_int_equal(scep_msg_verify(m, NULL), SCEP_ERR_CONTENT_TYPE);
    scep_msg_free(m);
    /* and the untouched message still verifies */
    assert_int_equal(scep_msg_decode(der, len, &m), 0);
    assert_int_equal(scep_msg_verify(m, NULL), 0);
    scep_msg_free(m);

    OPENSSL_free(bad);
    CMS_ContentInfo_free(cms);
    scep_free(der);
    X509_REQ_free(q.csr);
    X509_free(q.signer);
    EVP_PKEY_free(key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rsa_exponent_ca, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rsa_exponent_service, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ec_curves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subject_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sans, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wildcard, setup, teardown),
        cmocka_unit_test_setup_teardown(test_own_dn_and_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_econtent_type, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
