/*
 * Unit tests for the per-profile enrollment rules (lib/policy/rules.h):
 * the permissive default, each rule allowing a conforming CSR and
 * refusing a violating one with the rule's key in the reason, the
 * subject override, refused configuration values, deep copies, values
 * with an embedded NUL, unreadable subjectAltName extensions, and
 * concurrent checks on one shared rule set.  CSRs are built here with
 * OpenSSL; the keys are made once per run.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <scep/error.h>
#include <scep/limits.h>

#include "policy/rules.h"
#include "testutil.h"

/* A value longer than the 1024 bytes (SCEP_MAX_SUBJECT) rules match. */
#define RULES_TEST_BIG 1100

static EVP_PKEY *rsa2048, *rsa3072, *ec256, *ec384;

static int group_setup(void **state)
{
    (void)state;
    rsa2048 = tu_rsa_key(2048);
    rsa3072 = tu_rsa_key(3072);
    ec256 = tu_ec_key();
    ec384 = EVP_EC_gen("P-384");
    return ec384 != NULL ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(rsa2048);
    EVP_PKEY_free(rsa3072);
    EVP_PKEY_free(ec256);
    EVP_PKEY_free(ec384);
    return 0;
}

/* Adds "SN=value,SN=value" (no escapes: test data) to name. */
static void add_subject(X509_NAME *name, const char *text)
{
    char buf[512], *p = buf, *comma, *eq;

    assert_true(strlen(text) < sizeof(buf));
    memcpy(buf, text, strlen(text) + 1);
    while (*p != '\0') {
        comma = strchr(p, ',');
        if (comma != NULL)
            *comma = '\0';
        eq = strchr(p, '=');
        assert_non_null(eq);
        *eq = '\0';
        assert_int_equal(X509_NAME_add_entry_by_txt(name, p, MBSTRING_UTF8,
                                                    (const unsigned char *)eq + 1, -1, -1, 0),
                         1);
        if (comma == NULL)
            break;
        p = comma + 1;
    }
}

/* Adds gens as the CSR's requested subjectAltName. */
static void add_san_names(X509_REQ *r, GENERAL_NAMES *gens)
{
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    X509_EXTENSION *e = X509V3_EXT_i2d(NID_subject_alt_name, 0, gens);

    assert_non_null(exts);
    assert_non_null(e);
    assert_true(sk_X509_EXTENSION_push(exts, e) > 0);
    assert_int_equal(X509_REQ_add_extensions(r, exts), 1);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
}

/*
 * A CSR for key with subject "CN=a,O=b" (NULL or "": empty) and
 * subjectAltNames in OpenSSL v3 syntax ("DNS:a,IP:10.0.0.1"; NULL:
 * none), signed.  Free with X509_REQ_free().
 */
static X509_REQ *csr_new(EVP_PKEY *key, const char *subject, const char *sans)
{
    X509_REQ *r = X509_REQ_new();
    X509_NAME *n = X509_NAME_new();

    assert_non_null(r);
    assert_non_null(n);
    X509_REQ_set_version(r, X509_REQ_VERSION_1);
    if (subject != NULL && *subject != '\0')
        add_subject(n, subject);
    assert_int_equal(X509_REQ_set_subject_name(r, n), 1);
    assert_int_equal(X509_REQ_set_pubkey(r, key), 1);
    if (sans != NULL) {
        STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
        X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, sans);

        assert_non_null(exts);
        assert_non_null(e);
        assert_true(sk_X509_EXTENSION_push(exts, e) > 0);
        assert_int_equal(X509_REQ_add_extensions(r, exts), 1);
        sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    }
    assert_true(X509_REQ_sign(r, key, EVP_sha256()) > 0);
    X509_NAME_free(n);
    return r;
}

static struct scep_rules *rules(void)
{
    struct scep_rules *r = NULL;

    assert_int_equal(scep_rules_new(&r), 0);
    return r;
}

static void set_ok(struct scep_rules *r, const char *key, const char *value)
{
    char why[256];

    assert_int_equal(scep_rules_set(r, key, value, why, sizeof(why)), 0);
}

/* Checks csr (freeing it) and expects rc and, unless NULL, why. */
static void expect(const struct scep_rules *r, X509_REQ *csr, const X509_NAME *subject, int rc,
                   const char *want)
{
    char why[256];

    memset(why, 'x', sizeof(why));
    assert_int_equal(scep_rules_check(r, "vpn", csr, subject, why, sizeof(why)), rc);
    if (rc == 0)
        assert_string_equal(why, "");
    if (want != NULL)
        assert_string_equal(why, want);
    X509_REQ_free(csr);
}

static void test_permissive(void **state)
{
    struct scep_rules *r = rules();
    char why[64];
    X509_REQ *csr;

    (void)state;
    expect(r, csr_new(rsa2048, "CN=anything,O=x,OU=y", "DNS:*.example.com,IP:10.1.2.3"), NULL, 0,
           NULL);
    expect(r, csr_new(rsa3072, "", NULL), NULL, 0, NULL);
    expect(r, csr_new(ec384, "CN=e", "email:a@b.example,URI:https://x.example/"), NULL, 0, NULL);
    /* Types no rule names are left to the CA's namecheck. */
    expect(r,
           csr_new(ec256, "CN=other",
                   "RID:1.2.3.4,otherName:1.3.6.1.4.1.311.20.2.3;UTF8:bob@example.com"),
           NULL, 0, NULL);
    /* NULL profile and NULL why are accepted. */
    csr = csr_new(rsa2048, "CN=a", NULL);
    assert_int_equal(scep_rules_check(r, NULL, csr, NULL, NULL, 0), 0);
    assert_int_equal(scep_rules_check(NULL, NULL, csr, NULL, why, sizeof(why)),
                     SCEP_ERR_INVALID_ARG);
    X509_REQ_free(csr);
    scep_rules_free(r);
    scep_rules_free(NULL);
}

static void test_key_types(void **state)
{
    struct scep_rules *r = rules();

    (void)state;
    set_ok(r, "key_types", "rsa");
    expect(r, csr_new(rsa2048, "CN=a", NULL), NULL, 0, NULL);
    expect(r, csr_new(ec256, "CN=a", NULL), NULL, SCEP_ERR_KEY,
           "profile vpn: key type EC not allowed (key_types = rsa)");
    set_ok(r, "key_types", " EC ");
    expect(r, csr_new(ec256, "CN=a", NULL), NULL, 0, NULL);
    expect(r, csr_new(rsa3072, "CN=a", NULL), NULL, SCEP_ERR_KEY,
           "profile vpn: key type RSA not allowed (key_types = ec)");
    set_ok(r, "key_types", "");
    expect(r, csr_new(rsa3072, "CN=a", NULL), NULL, 0, NULL);
    scep_rules_free(r);
}

static void test_min_rsa_bits(void **state)
{
    struct scep_rules *r = rules();

    (void)state;
    set_ok(r, "min_rsa_bits", "3072");
    expect(r, csr_new(rsa3072, "CN=a", NULL), NULL, 0, NULL);
    expect(r, csr_new(ec256, "CN=a", NULL), NULL, 0, NULL);
    expect(r, csr_new(rsa2048, "CN=a", NULL), NULL, SCEP_ERR_KEY,
           "profile vpn: RSA key of 2048 bits is below min_rsa_bits 3072");
    scep_rules_free(r);
}

static void test_allowed_curves(void **state)
{
    struct scep_rules *r = rules();

    (void)state;
    set_ok(r, "allowed_curves", "P-384, P-521");
    expect(r, csr_new(ec384, "CN=a", NULL), NULL, 0, NULL);
    expect(r, csr_new(rsa2048, "CN=a", NULL), NULL, 0, NULL);
    expect(r, csr_new(ec256, "CN=a", NULL), NULL, SCEP_ERR_KEY,
           "profile vpn: EC curve P-256 not allowed (allowed_curves = P-384,P-521)");
    scep_rules_free(r);
}

static void test_subject_required(void **state)
{
    struct scep_rules *r = rules();

    (void)state;
    /* Names are matched case-insensitively, by short or long name. */
    set_ok(r, "subject_required", "cn, organizationName");
    expect(r, csr_new(rsa2048, "CN=a,O=b", NULL), NULL, 0, NULL);
    expect(r, csr_new(rsa2048, "CN=a,OU=b", NULL), NULL, SCEP_ERR_POLICY,
           "profile vpn: subject lacks required attribute O (subject_required)");
    expect(r, csr_new(rsa2048, "", "DNS:a.example"), NULL, SCEP_ERR_POLICY,
           "profile vpn: subject lacks required attribute CN (subject_required)");
    scep_rules_free(r);
}

static void test_subject_forbidden(void **state)
{
    struct scep_rules *r = rules();

    (void)state;
    set_ok(r, "subject_forbidden", "OU,emailaddress");
    expect(r, csr_new(rsa2048, "CN=a,O=b", NULL), NULL, 0, NULL);
    expect(r, csr_new(rsa2048, "CN=a,OU=b", NULL), NULL, SCEP_ERR_POLICY,
           "profile vpn: subject has forbidden attribute OU (subject_forbidden)");
    expect(r, csr_new(rsa2048, "CN=a,emailAddress=a@b.example", NULL), NULL, SCEP_ERR_POLICY,
           "profile vpn: subject has forbidden attribute emailAddress (subject_forbidden)");
    scep_rules_free(r);
}

static void test_subject_patterns(void **state)
{
    /* countryName is two letters (OpenSSL's string table refuses more). */
    static const struct {
        const char *key, *attr, *good, *bad, *partial;
    } cases[] = {
        {"subject_cn_pattern", "CN", "ok42", "xok1", "ok1x"},
        {"subject_o_pattern", "O", "ok42", "xok1", "ok1x"},
        {"subject_ou_pattern", "OU", "ok42", "xok1", "ok1x"},
        {"subject_c_pattern", "C", "ok", "xk", "o1"},
        {"subject_l_pattern", "L", "ok42", "xok1", "ok1x"},
        {"subject_st_pattern", "ST", "ok42", "xok1", "ok1x"},
        {"subject_email_pattern", "emailAddress", "ok42", "xok1", "ok1x"},
        {"subject_serialnumber_pattern", "serialNumber", "ok42", "xok1", "ok1x"},
        {"subject_uid_pattern", "UID", "ok42", "xok1", "ok1x"},
        {"subject_dc_pattern", "DC", "ok42", "xok1", "ok1x"},
    };
    char subj[128], want[256];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct scep_rules *r = rules();

        set_ok(r, cases[i].key, "ok[0-9]*");
        snprintf(subj, sizeof(subj), "CN=ok,%s=%s", cases[i].attr, cases[i].good);
        expect(r, csr_new(rsa2048, subj, NULL), NULL, 0, NULL);
        /* Every value must match, and must match whole. */
        snprintf(subj, sizeof(subj), "%s=%s,%s=%s", cases[i].attr, cases[i].good, cases[i].attr,
                 cases[i].bad);
        snprintf(want, sizeof(want), "profile vpn: subject %s=\"%s\" does not match %s",
                 cases[i].attr, cases[i].bad, cases[i].key);
        expect(r, csr_new(rsa2048, subj, NULL), NULL, SCEP_ERR_POLICY, want);
        snprintf(subj, sizeof(subj), "%s=%s", cases[i].attr, cases[i].partial);
        expect(r, csr_new(rsa2048, subj, NULL), NULL, SCEP_ERR_POLICY, NULL);
        scep_rules_free(r);
    }
}

static void test_subject_pattern_alternation(void **state)
{
    struct scep_rules *r = rules();

    (void)state;
    /* The anchors hold around an alternation: "^(a|b)$", not "^a|b$". */
    set_ok(r, "subject_cn_pattern", "bob|alice");
    expect(r, csr_new(rsa2048, "CN=alice", NULL), NULL, 0, NULL);
    expect(r, csr_new(rsa2048, "CN=bobby", NULL), NULL, SCEP_ERR_POLICY,
           "profile vpn: subject CN=\"bobby\" does not match subject_cn_pattern");
    expect(r, csr_new(rsa2048, "CN=xalice", NULL), NULL, SCEP_ERR_POLICY, NULL);
    /* A literal parenthesis written as \) works. */
    set_ok(r, "subject_cn_pattern", "a\\)");
    expect(r, csr_new(rsa2048, "CN=a)", NULL), NULL, 0, NULL);
    set_ok(r, "subject_cn_pattern", "[)]x");
    expect(r, csr_new(rsa2048, "CN=)x", NULL), NULL, 0, NULL);
    scep_rules_free(r);
}

/* Patterns whose compiling or matching glibc would make explode are
 * refused before regcomp() sees them (lib/policy/rules_regex.c); the
 * shapes real patterns take still pass. */
static void test_pattern_limits(void **state)
{
    static const char *const refused[] = {
        /* libFuzzer's config harness: 2.7 GB in regcomp() */
        "gw[0-9]+\\.vpn\\+++++++++++++++++++++++++++++++++++++++++++++++++++++.example",
        "(a{99}){99}{99}",
        "(a|aa|aaa){1,600}",
        "(a?){1020}",
        "x{32767}",
        "((((((((((((((((((((((((((((((((((a))))))))))))))))))))))))))))))))))",
        "(a)\\1",
    };
    static const char *const accepted[] = {
        "[a-z0-9-]{1,63}(\\.[a-z0-9-]{1,63}){0,10}",
        "([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+example\\.com",
        "(a?){680}",
        "a{,5}b{3,}c{2}",
        "[{]+[)]*\\{1\\}",
    };
    struct scep_rules *r = rules();
    char *p, why[256];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        why[0] = '\0';
        assert_int_equal(scep_rules_set(r, "subject_cn_pattern", refused[i], why, sizeof(why)),
                         SCEP_ERR_CONFIG);
        assert_memory_equal(why, "subject_cn_pattern: regex refused: ", 35);
    }
    assert_non_null(strstr(why, "back-reference"));
    for (i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++)
        set_ok(r, "subject_cn_pattern", accepted[i]);
    /* One more repetition of the last accepted shape is over the line. */
    assert_int_equal(scep_rules_set(r, "subject_cn_pattern", "(a?){682}", why, sizeof(why)),
                     SCEP_ERR_CONFIG);
    assert_non_null(strstr(why, "too complex"));
    /* An accepted pattern at the limit still matches as written. */
    set_ok(r, "subject_cn_pattern", "(a?){680}");
    expect(r, csr_new(rsa2048, "CN=aaaa", NULL), NULL, 0, NULL);
    expect(r, csr_new(rsa2048, "CN=aab", NULL), NULL, SCEP_ERR_POLICY, NULL);
    /* Depth: 32 groups nest, 33 do not. */
    p = malloc(200);
    assert_non_null(p);
    memset(p, '(', 32);
    p[32] = 'a';
    memset(p + 33, ')', 32);
    p[65] = '\0';
    set_ok(r, "subject_cn_pattern", p);
    free(p);
    scep_rules_free(r);
}

static void test_subject_override(void **state)
{
    struct scep_rules *r = rules();
    X509_NAME *good = X509_NAME_new(), *bad = X509_NAME_new();

    (void)state;
    assert_non_null(good);
    assert_non_null(bad);
    add_subject(good, "CN=good");
    add_subject(bad, "CN=evil");
    set_ok(r, "subject_cn_pattern", "good");
    /* The subject the certificate will carry is checked, not the CSR's. */
    expect(r, csr_new(rsa2048, "CN=evil", NULL), good, 0, NULL);
    expect(r, csr_new(rsa2048, "CN=good", NULL), bad, SCEP_ERR_POLICY,
           "profile vpn: subject CN=\"evil\" does not match subject_cn_pattern");
    X509_NAME_free(good);
    X509_NAME_free(bad);
    scep_rules_free(r);
}

static void test_subject_max_length(void **state)
{
    struct scep_rules *r = rules();

    (void)state;
    set_ok(r, "subject_max_length", "5");
    expect(r, csr_new(rsa2048, "CN=abcde,O=x", NULL), NULL, 0, NULL);
    /* Characters, not bytes: five two-byte letters fit. */
    expect(r, csr_new(rsa2048, "CN=\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", NULL), NULL, 0, NULL);
    expect(r, csr_new(rsa2048, "CN=a,O=abcdef", NULL), NULL, SCEP_ERR_POLICY,
           "profile vpn: subject O of 6 characters exceeds subject_max_length 5");
    set_ok(r, "subject_max_length", "0");
    expect(r, csr_new(rsa2048, "CN=a,O=abcdef", NULL), NULL, 0, NULL);
    scep_rules_free(r);
}

static void test_san_types(void **state)
{
    struct scep_rules *r = rules();

    (void)state;
    set_ok(r, "san_types", "dns");
    expect(r, csr_new(rsa2048, "CN=a", "DNS:a.example,DNS:b.example"), NULL, 0, NULL);
    expect(r, csr_new(rsa2048, "CN=a", NULL), NULL, 0, NULL);
    expect(r, csr_new(rsa2048, "CN=a", "DNS:a.example,IP:10.0.0.1"), NULL, SCEP_ERR_POLICY,
           "profile vpn: SAN type IP not allowed (san_types = dns)");
    /* Set explicitly, the list refuses the types it cannot name. */
    set_ok(r, "san_types", "DNS, ip,email,uri");
    expect(r, csr_new(rsa2048, "CN=a", "DNS:a.example,IP:10.0.0.1,email:a@b.example,URI:urn:x"),
           NULL, 0, NULL);
    expect(r, csr_new(rsa2048, "CN=a", "otherName:1.3.6.1.4.1.311.20.2.3;UTF8:bob@example.com"),
           NULL, SCEP_ERR_POLICY,
           "profile vpn: SAN type otherName not allowed (san_types = dns,ip,email,uri)");
    expect(r, csr_new(rsa2048, "CN=a", "RID:1.2.3.4"), NULL, SCEP_ERR_POLICY,
           "profile vpn: SAN type RID not allowed (san_types = dns,ip,email,uri)");
    scep_rules_free(r);
}

static void test_san_types_dirname(void **state)
{
    struct scep_rules *r = rules();
    GENERAL_NAMES *gens = GENERAL_NAMES_new();
    GENERAL_NAME *gn = GENERAL_NAME_new();
    X509_NAME *dn = X509_NAME_new();
    X509_REQ *csr, *csr2;

    (void)state;
    assert_non_null(gens);
    assert_non_null(gn);
    assert_non_null(dn);
    add_subject(dn, "CN=dir");
    GENERAL_NAME_set0_value(gn, GEN_DIRNAME, dn);
    assert_true(sk_GENERAL_NAME_push(gens, gn) > 0);
    csr = csr_new(rsa2048, "CN=a", NULL);
    add_san_names(csr, gens);
    csr2 = X509_REQ_dup(csr);
    assert_non_null(csr2);
    expect(r, csr, NULL, 0, NULL);
    set_ok(r, "san_types", "dns,ip,email,uri");
    expect(r, csr2, NULL, SCEP_ERR_POLICY,
           "profile vpn: SAN type dirName not allowed (san_types = dns,ip,email,uri)");
    GENERAL_NAMES_free(gens);
    scep_rules_free(r);
}

static void test_san_patterns(void **state)
{
    struct scep_rules *r = rules();

    (void)state;
    set_ok(r, "dns_pattern", "[a-z0-9-]+\\.example\\.com");
    set_ok(r, "ip_pattern", "10\\.0\\.0\\.[0-9]+|fd00:.*");
    set_ok(r, "email_pattern", "[a-z]+@example\\.com");
    set_ok(r, "uri_pattern", "https://[a-z]+\\.example\\.com/.*");
    expect(r,
           csr_new(rsa2048, "CN=a",
                   "DNS:vpn1.example.com,IP:10.0.0.7,IP:fd00::1,email:bob@example.com,"
                   "URI:https://id.example.com/u/1"),
           NULL, 0, NULL);
    expect(r, csr_new(rsa2048, "CN=a", "DNS:vpn1.example.com,DNS:*.example.com"), NULL,
           SCEP_ERR_POLICY, "profile vpn: SAN DNS:*.example.com does not match dns_pattern");
    expect(r, csr_new(rsa2048, "CN=a", "DNS:vpn1.example.com.evil.net"), NULL, SCEP_ERR_POLICY,
           "profile vpn: SAN DNS:vpn1.example.com.evil.net does not match dns_pattern");
    expect(r, csr_new(rsa2048, "CN=a", "IP:192.168.1.1"), NULL, SCEP_ERR_POLICY,
           "profile vpn: SAN IP:192.168.1.1 does not match ip_pattern");
    expect(r, csr_new(rsa2048, "CN=a", "IP:fe80::1"), NULL, SCEP_ERR_POLICY,
           "profile vpn: SAN IP:fe80::1 does not match ip_pattern");
    expect(r, csr_new(rsa2048, "CN=a", "email:bob@evil.example"), NULL, SCEP_ERR_POLICY,
           "profile vpn: SAN email:bob@evil.example does not match email_pattern");
    expect(r, csr_new(rsa2048, "CN=a", "URI:http://id.example.com/"), NULL, SCEP_ERR_POLICY,
           "profile vpn: SAN URI:http://id.example.com/ does not match uri_pattern");
    scep_rules_free(r);
}

static void test_san_max_required(void **state)
{
    struct scep_rules *r = rules();

    (void)state;
    set_ok(r, "san_max", "2");
    expect(r, csr_new(rsa2048, "CN=a", "DNS:a.example,DNS:b.example"), NULL, 0, NULL);
    expect(r, csr_new(rsa2048, "CN=a", NULL), NULL, 0, NULL);
    expect(r, csr_new(rsa2048, "CN=a", "DNS:a.example,DNS:b.example,IP:10.0.0.1"), NULL,
           SCEP_ERR_POLICY, "profile vpn: 3 SANs exceed san_max 2");
    set_ok(r, "san_required", "true");
    expect(r, csr_new(rsa2048, "CN=a", "DNS:a.example"), NULL, 0, NULL);
    expect(r, csr_new(rsa2048, "CN=a", NULL), NULL, SCEP_ERR_POLICY,
           "profile vpn: CSR has no SAN (san_required)");
    set_ok(r, "san_required", "off");
    set_ok(r, "san_max", "");
    expect(r, csr_new(rsa2048, "CN=a", NULL), NULL, 0, NULL);
    expect(r, csr_new(rsa2048, "CN=a", "DNS:a.example,DNS:b.example,IP:10.0.0.1"), NULL, 0, NULL);
    scep_rules_free(r);
}

static void test_bad_config(void **state)
{
    static const struct {
        const char *key, *value, *why;
    } cases[] = {
        {"dns_pattern", "(a", "dns_pattern: regex error: Unmatched ( or \\("},
        {"subject_cn_pattern", "a)|(b", "subject_cn_pattern: regex error: Unmatched ( or \\("},
        {"ip_pattern", "a)|b",
         "ip_pattern: regex error: unmatched ) (write \\) for a literal one)"},
        {"uri_pattern", "abc\\", "uri_pattern: regex error: Trailing backslash"},
        {"dns_pattern", "[(]a)",
         "dns_pattern: regex error: unmatched ) (write \\) for a literal one)"},
        {"dns_pattern", "[[:alpha:]]+)|x",
         "dns_pattern: regex error: unmatched ) (write \\) for a literal one)"},
        {"key_types", "rsa,dsa", "key_types: unknown key type \"dsa\" (rsa, ec)"},
        {"allowed_curves", "P-256,P-192",
         "allowed_curves: unknown curve \"P-192\" (P-256, P-384, P-521)"},
        {"subject_required", "CN,XYZZY", NULL},
        {"subject_forbidden", "nosuchattr", NULL},
        {"san_types", "dns,rid", "san_types: unknown SAN type \"rid\" (dns, ip, email, uri)"},
        {"min_rsa_bits", "1024", "min_rsa_bits: \"1024\" is not an integer from 2048 to 8192"},
        {"min_rsa_bits", "16385", NULL},
        {"min_rsa_bits", "3072x", NULL},
        {"min_rsa_bits", "99999999999999999999", NULL},
        {"subject_max_length", "1025", NULL},
        {"subject_max_length", "-1", NULL},
        {"san_max", "65", "san_max: \"65\" is not an integer from 0 to 64"},
        {"san_required", "maybe", NULL},
        {"no_such_rule", "1", "unknown rule \"no_such_rule\""},
    };
    struct scep_rules *r = rules();
    char why[256];
    size_t i;

    (void)state;
    set_ok(r, "dns_pattern", "good\\.example");
    set_ok(r, "min_rsa_bits", "3072");
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        why[0] = '\0';
        assert_int_equal(scep_rules_set(r, cases[i].key, cases[i].value, why, sizeof(why)),
                         SCEP_ERR_CONFIG);
        if (cases[i].why != NULL)
            assert_string_equal(why, cases[i].why);
        /* The reason starts with the key and is one line. */
        if (scep_rules_is_key(cases[i].key))
            assert_memory_equal(why, cases[i].key, strlen(cases[i].key));
        assert_null(strchr(why, '\n'));
    }
    /* A refused value leaves the rule as it was. */
    expect(r, csr_new(rsa3072, "CN=a", "DNS:good.example"), NULL, 0, NULL);
    expect(r, csr_new(rsa3072, "CN=a", "DNS:bad.example"), NULL, SCEP_ERR_POLICY,
           "profile vpn: SAN DNS:bad.example does not match dns_pattern");
    expect(r, csr_new(rsa2048, "CN=a", NULL), NULL, SCEP_ERR_KEY, NULL);
    assert_int_equal(scep_rules_set(r, "min_rsa_bits", "1024", NULL, 0), SCEP_ERR_CONFIG);
    assert_int_equal(scep_rules_set(r, NULL, "1", why, sizeof(why)), SCEP_ERR_INVALID_ARG);
    scep_rules_free(r);
}

static void count_key(const char *key, const char *help, const char *def, void *arg)
{
    struct scep_rules *r = NULL;
    char why[128];

    assert_true(scep_rules_is_key(key));
    assert_non_null(help);
    assert_true(strlen(help) > 10);
    assert_non_null(def);
    /* Every default is a value the rule accepts, and so is "". */
    assert_int_equal(scep_rules_new(&r), 0);
    assert_int_equal(scep_rules_set(r, key, def, why, sizeof(why)), 0);
    assert_int_equal(scep_rules_set(r, key, "", why, sizeof(why)), 0);
    scep_rules_free(r);
    (*(int *)arg)++;
}

static void test_keys(void **state)
{
    int n = 0;

    (void)state;
    scep_rules_each_key(count_key, &n);
    assert_int_equal(n, 23);
    assert_false(scep_rules_is_key("no_such_rule"));
    assert_false(scep_rules_is_key("DNS_PATTERN"));
    assert_false(scep_rules_is_key(NULL));
    assert_true(scep_rules_is_key("san_required"));
}

static void test_copy_deep(void **state)
{
    struct scep_rules *r = rules(), *copy = NULL;

    (void)state;
    set_ok(r, "dns_pattern", "[a-z]+\\.example");
    set_ok(r, "subject_cn_pattern", "dev-[0-9]+");
    set_ok(r, "subject_required", "CN");
    set_ok(r, "key_types", "rsa");
    set_ok(r, "san_max", "1");
    assert_int_equal(scep_rules_copy(r, &copy), 0);
    scep_rules_free(r);
    /* The copy holds its own compiled patterns and lists. */
    expect(copy, csr_new(rsa2048, "CN=dev-7", "DNS:a.example"), NULL, 0, NULL);
    expect(copy, csr_new(rsa2048, "CN=dev-7", "DNS:1.example"), NULL, SCEP_ERR_POLICY,
           "profile vpn: SAN DNS:1.example does not match dns_pattern");
    expect(copy, csr_new(rsa2048, "CN=prod", NULL), NULL, SCEP_ERR_POLICY,
           "profile vpn: subject CN=\"prod\" does not match subject_cn_pattern");
    expect(copy, csr_new(ec256, "CN=dev-1", NULL), NULL, SCEP_ERR_KEY, NULL);
    expect(copy, csr_new(rsa2048, "CN=dev-1", "DNS:a.example,DNS:b.example"), NULL, SCEP_ERR_POLICY,
           "profile vpn: 2 SANs exceed san_max 1");
    /* A copy of a copy, changed, leaves the first copy alone. */
    assert_int_equal(scep_rules_copy(copy, &r), 0);
    set_ok(r, "dns_pattern", "");
    expect(r, csr_new(rsa2048, "CN=dev-7", "DNS:1.example"), NULL, 0, NULL);
    expect(copy, csr_new(rsa2048, "CN=dev-7", "DNS:1.example"), NULL, SCEP_ERR_POLICY, NULL);
    scep_rules_free(r);
    scep_rules_free(copy);
    assert_int_equal(scep_rules_copy(NULL, &copy), SCEP_ERR_INVALID_ARG);
}

static void test_embedded_nul(void **state)
{
    static const unsigned char cn[] = {'b', 'o', 'b', 0, 'x'};
    static const unsigned char dns[] = "a.example\0.evil";
    struct scep_rules *r = rules();
    X509_NAME *name = X509_NAME_new();
    GENERAL_NAMES *gens = GENERAL_NAMES_new();
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
    X509_REQ *csr;

    (void)state;
    assert_non_null(name);
    assert_non_null(gens);
    assert_non_null(gn);
    assert_non_null(ia5);
    /* ".*" matches any value that regexec can see whole; one with a NUL
     * would be seen only up to the NUL, so it never matches. */
    set_ok(r, "subject_cn_pattern", "bob.*");
    assert_int_equal(
        X509_NAME_add_entry_by_NID(name, NID_commonName, V_ASN1_UTF8STRING, cn, sizeof(cn), -1, 0),
        1);
    expect(r, csr_new(rsa2048, "CN=a", NULL), name, SCEP_ERR_POLICY,
           "profile vpn: subject CN=\"bob\\x00x\" does not match subject_cn_pattern");
    set_ok(r, "dns_pattern", "a\\.example.*");
    assert_int_equal(ASN1_STRING_set(ia5, dns, sizeof(dns) - 1), 1);
    GENERAL_NAME_set0_value(gn, GEN_DNS, ia5);
    assert_true(sk_GENERAL_NAME_push(gens, gn) > 0);
    csr = csr_new(rsa2048, "CN=bob", NULL);
    add_san_names(csr, gens);
    expect(r, csr, NULL, SCEP_ERR_POLICY,
           "profile vpn: SAN DNS:a.example\\x00.evil does not match dns_pattern");
    GENERAL_NAMES_free(gens);
    X509_NAME_free(name);
    scep_rules_free(r);
}

static void test_unreadable_san(void **state)
{
    static const unsigned char junk[] = {0x30, 0x03, 0x82, 0x05, 0x61};
    struct scep_rules *r = rules();
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    X509_EXTENSION *e;
    X509_REQ *bad, *twice;

    (void)state;
    assert_non_null(exts);
    assert_non_null(os);
    /* A SEQUENCE whose dNSName claims more bytes than there are. */
    assert_int_equal(ASN1_OCTET_STRING_set(os, junk, sizeof(junk)), 1);
    e = X509_EXTENSION_create_by_NID(NULL, NID_subject_alt_name, 0, os);
    assert_non_null(e);
    assert_true(sk_X509_EXTENSION_push(exts, e) > 0);
    bad = csr_new(rsa2048, "CN=a", NULL);
    assert_int_equal(X509_REQ_add_extensions(bad, exts), 1);
    /* Two subjectAltName extensions in one request. */
    e = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, "DNS:a.example");
    assert_non_null(e);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    exts = sk_X509_EXTENSION_new_null();
    assert_non_null(exts);
    assert_true(sk_X509_EXTENSION_push(exts, e) > 0);
    assert_true(sk_X509_EXTENSION_push(exts, X509_EXTENSION_dup(e)) > 0);
    twice = csr_new(rsa2048, "CN=a", NULL);
    assert_int_equal(X509_REQ_add_extensions(twice, exts), 1);

    /* Permissive: the SANs are not even read (the CA refuses these). */
    assert_int_equal(scep_rules_check(r, "vpn", bad, NULL, NULL, 0), 0);
    assert_int_equal(scep_rules_check(r, "vpn", twice, NULL, NULL, 0), 0);
    set_ok(r, "san_required", "yes");
    expect(r, bad, NULL, SCEP_ERR_CSR, "profile vpn: CSR subjectAltName does not decode");
    expect(r, twice, NULL, SCEP_ERR_CSR, "profile vpn: CSR subjectAltName repeated");
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    ASN1_OCTET_STRING_free(os);
    scep_rules_free(r);
}

static void test_message_safe(void **state)
{
    struct scep_rules *r = rules();
    X509_NAME *name = X509_NAME_new();
    char longcn[301], why[256], small[24];
    X509_REQ *csr;

    (void)state;
    assert_non_null(name);
    memset(longcn, 'a', sizeof(longcn) - 1);
    longcn[sizeof(longcn) - 1] = '\0';
    longcn[5] = '"';
    longcn[6] = '\\';
    longcn[7] = '\x1b';
    assert_int_equal(X509_NAME_add_entry_by_NID(name, NID_commonName, V_ASN1_UTF8STRING,
                                                (const unsigned char *)longcn, -1, -1, 0),
                     1);
    set_ok(r, "subject_cn_pattern", "b+");
    csr = csr_new(rsa2048, "CN=a", NULL);
    /* The value is escaped and cut short with "...". */
    assert_int_equal(scep_rules_check(r, "p\n1", csr, name, why, sizeof(why)), SCEP_ERR_POLICY);
    assert_memory_equal(why, "profile p\\x0a1: subject CN=\"aaaaa\\\"\\\\\\x1baaa",
                        strlen("profile p\\x0a1: subject CN=\"aaaaa\\\"\\\\\\x1baaa"));
    assert_non_null(strstr(why, "...\" does not match subject_cn_pattern"));
    assert_null(strchr(why, '\x1b'));
    assert_null(strchr(why, '\n'));
    /* A short buffer gets a terminated prefix. */
    assert_int_equal(scep_rules_check(r, "", csr, name, small, sizeof(small)), SCEP_ERR_POLICY);
    assert_string_equal(small, "profile default: subjec");
    X509_REQ_free(csr);
    X509_NAME_free(name);
    scep_rules_free(r);
}

static void test_value_bound(void **state)
{
    struct scep_rules *r = rules();
    X509_NAME *name = X509_NAME_new();
    unsigned char big[RULES_TEST_BIG];
    char uri[RULES_TEST_BIG + 16];
    X509_REQ *csr;

    (void)state;
    assert_non_null(name);
    memset(big, 'a', sizeof(big));
    /* An explicit string type skips OpenSSL's size table, as a hostile
     * CSR's DER would. */
    assert_int_equal(X509_NAME_add_entry_by_NID(name, NID_commonName, V_ASN1_UTF8STRING, big,
                                                (int)sizeof(big), -1, 0),
                     1);
    set_ok(r, "subject_cn_pattern", "a+");
    expect(r, csr_new(rsa2048, "CN=a", NULL), name, SCEP_ERR_POLICY,
           "profile vpn: subject CN of 1100 bytes is longer than 1024, not matched against "
           "subject_cn_pattern");
    set_ok(r, "uri_pattern", "urn:a+");
    memcpy(uri, "URI:urn:", 8);
    memset(uri + 8, 'a', RULES_TEST_BIG);
    uri[8 + RULES_TEST_BIG] = '\0';
    csr = csr_new(rsa2048, "CN=a", uri);
    expect(r, csr, NULL, SCEP_ERR_POLICY,
           "profile vpn: SAN URI of 1104 bytes is longer than 1024, not matched against "
           "uri_pattern");
    X509_NAME_free(name);
    scep_rules_free(r);
}

struct worker {
    const struct scep_rules *r;
    X509_REQ *good, *bad;
    int failures;
};

static void *worker_run(void *arg)
{
    struct worker *w = arg;
    char why[256];
    int i;

    for (i = 0; i < 200; i++) {
        if (scep_rules_check(w->r, "vpn", w->good, NULL, why, sizeof(why)) != 0)
            w->failures++;
        if (scep_rules_check(w->r, "vpn", w->bad, NULL, why, sizeof(why)) != SCEP_ERR_POLICY ||
            strcmp(why, "profile vpn: SAN DNS:x.evil does not match dns_pattern") != 0)
            w->failures++;
    }
    return NULL;
}

static void test_threads(void **state)
{
    struct scep_rules *r = rules();
    struct worker w[4];
    pthread_t t[4];
    size_t i;

    (void)state;
    set_ok(r, "dns_pattern", "[a-z]+\\.example\\.com");
    set_ok(r, "subject_cn_pattern", "[a-z]+");
    for (i = 0; i < 4; i++) {
        w[i].r = r;
        w[i].good = csr_new(ec256, "CN=dev", "DNS:a.example.com,DNS:b.example.com");
        w[i].bad = csr_new(ec256, "CN=dev", "DNS:a.example.com,DNS:x.evil");
        w[i].failures = 0;
        assert_int_equal(pthread_create(&t[i], NULL, worker_run, &w[i]), 0);
    }
    for (i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(w[i].failures, 0);
        X509_REQ_free(w[i].good);
        X509_REQ_free(w[i].bad);
    }
    scep_rules_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_permissive),
        cmocka_unit_test(test_key_types),
        cmocka_unit_test(test_min_rsa_bits),
        cmocka_unit_test(test_allowed_curves),
        cmocka_unit_test(test_subject_required),
        cmocka_unit_test(test_subject_forbidden),
        cmocka_unit_test(test_subject_patterns),
        cmocka_unit_test(test_subject_pattern_alternation),
        cmocka_unit_test(test_pattern_limits),
        cmocka_unit_test(test_subject_override),
        cmocka_unit_test(test_subject_max_length),
        cmocka_unit_test(test_san_types),
        cmocka_unit_test(test_san_types_dirname),
        cmocka_unit_test(test_san_patterns),
        cmocka_unit_test(test_san_max_required),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_copy_deep),
        cmocka_unit_test(test_embedded_nul),
        cmocka_unit_test(test_unreadable_san),
        cmocka_unit_test(test_message_safe),
        cmocka_unit_test(test_value_bound),
        cmocka_unit_test(test_threads),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
