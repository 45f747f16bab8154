/*
 * Unit tests of the client's pure helpers: choosing the CA, encryption
 * and signing certificates from canned GetCACert sets (RFC 8894 2.2),
 * fingerprint pinning, fingerprint text, subject parsing and CSRs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/x509v3.h>

#include <scep/scep.h>

#include "testutil.h"

/* A certificate for key named cn, issued by (icert, ikey) or self-signed
 * when icert is NULL; ca adds basicConstraints CA:TRUE; ku is an OpenSSL
 * keyUsage value or NULL for none. */
static X509 *mk(EVP_PKEY *key, const char *cn, X509 *icert, EVP_PKEY *ikey, int ca, const char *ku)
{
    static long serial = 1;
    X509 *x = X509_new();
    X509V3_CTX ctx;
    X509_EXTENSION *e;

    assert_non_null(x);
    X509_set_version(x, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, icert ? X509_get_subject_name(icert) : X509_get_subject_name(x));
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509V3_set_ctx(&ctx, icert ? icert : x, x, NULL, NULL, 0);
    if (ca) {
        e = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
    if (ku != NULL) {
        e = X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage, ku);
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
    assert_true(X509_sign(x, icert ? ikey : key, EVP_sha256()) > 0);
    return x;
}

static STACK_OF(X509) *set_of(int n, ...)
{
    STACK_OF(X509) *s = sk_X509_new_null();
    va_list ap;
    int i;

    va_start(ap, n);
    for (i = 0; i < n; i++)
        sk_X509_push(s, va_arg(ap, X509 *));
    va_end(ap);
    return s;
}

static void test_single_ca(void **state)
{
    EVP_PKEY *k = tu_rsa_key(2048);
    X509 *ca = mk(k, "CA", NULL, NULL, 1, "digitalSignature,keyEncipherment,keyCertSign");
    X509 *bare = mk(k, "bare CA", NULL, NULL, 1, "keyCertSign,cRLSign");
    STACK_OF(X509) *s = set_of(1, ca);
    X509 *c = NULL, *e = NULL, *g = NULL;

    (void)state;
    assert_int_equal(scep_ca_select(s, &c, &e, &g), 0);
    assert_ptr_equal(c, ca);
    assert_ptr_equal(e, ca);
    assert_ptr_equal(g, ca);
    sk_X509_free(s);
    /* micromdm's CA: no digitalSignature/keyEncipherment, still usable. */
    s = set_of(1, bare);
    assert_int_equal(scep_ca_select(s, &c, &e, &g), 0);
    assert_ptr_equal(e, bare);
    sk_X509_free(s);
    s = sk_X509_new_null();
    assert_int_equal(scep_ca_select(s, &c, &e, &g), SCEP_ERR_NOT_FOUND);
    sk_X509_free(s);
    X509_free(ca);
    X509_free(bare);
    EVP_PKEY_free(k);
}

static void test_ra_pair(void **state)
{
    EVP_PKEY *kc = tu_rsa_key_fresh(2048), *ke = tu_rsa_key_fresh(2048),
             *ks = tu_rsa_key_fresh(2048);
    X509 *ca = mk(kc, "CA", NULL, NULL, 1, "keyCertSign,cRLSign");
    X509 *ras = mk(ks, "RA sign", ca, kc, 0, "digitalSignature");
    X509 *rae = mk(ke, "RA enc", ca, kc, 0, "keyEncipherment");
    /* Order as NDES sends: RA certificates first, then the CA. */
    STACK_OF(X509) *s = set_of(3, ras, rae, ca);
    X509 *c = NULL, *e = NULL, *g = NULL;
    unsigned char fp[SCEP_FINGERPRINT_LEN];

    (void)state;
    assert_int_equal(scep_ca_select(s, &c, &e, &g), 0);
    assert_ptr_equal(c, ca);
    assert_ptr_equal(e, rae);
    assert_ptr_equal(g, ras);

    /* Pinning the CA covers RA certificates it issued. */
    assert_int_equal(scep_client_fingerprint(ca, fp), 0);
    assert_int_equal(scep_ca_check_pin(s, e, g, fp), 0);
    /* Pinning the RA signing cert does not vouch for the encryption one. */
    assert_int_equal(scep_client_fingerprint(ras, fp), 0);
    assert_int_equal(scep_ca_check_pin(s, e, g, fp), SCEP_ERR_FINGERPRINT);
    memset(fp, 0xAB, sizeof(fp));
    assert_int_equal(scep_ca_check_pin(s, e, g, fp), SCEP_ERR_FINGERPRINT);
    sk_X509_free(s);
    X509_free(ca);
    X509_free(ras);
    X509_free(rae);
    EVP_PKEY_free(kc);
    EVP_PKEY_free(ke);
    EVP_PKEY_free(ks);
}

static void test_pin_rejects_foreign_ra(void **state)
{
    EVP_PKEY *kc = tu_rsa_key_fresh(2048), *kx = tu_rsa_key_fresh(2048),
             *kr = tu_rsa_key_fresh(2048);
    X509 *ca = mk(kc, "CA", NULL, NULL, 1, "keyCertSign");
    X509 *evil = mk(kx, "CA", NULL, NULL, 1, "keyCertSign"); /* same name, other key */
    X509 *ra = mk(kr, "RA", evil, kx, 0, "digitalSignature,keyEncipherment");
    STACK_OF(X509) *s = set_of(3, ra, ca, evil);
    X509 *c = NULL, *e = NULL, *g = NULL;
    unsigned char fp[SCEP_FINGERPRINT_LEN];

    (void)state;
    assert_int_equal(scep_ca_select(s, &c, &e, &g), 0);
    assert_ptr_equal(e, ra);
    assert_int_equal(scep_client_fingerprint(ca, fp), 0);
    /* The RA names the pinned CA as issuer but was signed by another key. */
    assert_int_equal(scep_ca_check_pin(s, e, g, fp), SCEP_ERR_FINGERPRINT);
    sk_X509_free(s);
    X509_free(ca);
    X509_free(evil);
    X509_free(ra);
    EVP_PKEY_free(kc);
    EVP_PKEY_free(kx);
    EVP_PKEY_free(kr);
}

static void test_chain_and_ec_ra(void **state)
{
    EVP_PKEY *kr = tu_rsa_key_fresh(2048), *ki = tu_rsa_key_fresh(2048), *ke = tu_ec_key();
    X509 *root = mk(kr, "Root", NULL, NULL, 1, "keyCertSign");
    X509 *inter = mk(ki, "Issuing", root, kr, 1, "keyCertSign,digitalSignature,keyEncipherment");
    X509 *ecra = mk(ke, "EC RA", inter, ki, 0, "digitalSignature,keyEncipherment");
    STACK_OF(X509) *s = set_of(2, root, inter);
    X509 *c = NULL, *e = NULL, *g = NULL;
    unsigned char fp[SCEP_FINGERPRINT_LEN];

    (void)state;
    /* Root + intermediate: the intermediate issues, so it is used. */
    assert_int_equal(scep_ca_select(s, &c, &e, &g), 0);
    assert_ptr_equal(c, inter);
    assert_ptr_equal(e, inter);
    assert_int_equal(scep_client_fingerprint(root, fp), 0);
    assert_int_equal(scep_ca_check_pin(s, e, g, fp), 0);
    sk_X509_free(s);
    /* An EC RA cannot be the envelope's recipient: no encryption cert. */
    s = set_of(2, ecra, inter);
    assert_int_equal(scep_ca_select(s, &c, &e, &g), SCEP_ERR_NOT_FOUND);
    sk_X509_free(s);
    X509_free(root);
    X509_free(inter);
    X509_free(ecra);
    EVP_PKEY_free(kr);
    EVP_PKEY_free(ki);
    EVP_PKEY_free(ke);
}

static void test_fingerprint_parse(void **state)
{
    unsigned char fp[SCEP_FINGERPRINT_LEN];
    const char *hex = "8450F1DBB24ECDB032F7C52B7ABD14ADF16C7C1658B228E4D8CC37BE63F30F2F";
    const char *colons = "84:50:f1:db:b2:4e:cd:b0:32:f7:c5:2b:7a:bd:14:ad:"
                         "f1:6c:7c:16:58:b2:28:e4:d8:cc:37:be:63:f3:0f:2f";

    (void)state;
    assert_int_equal(scep_fingerprint_parse(hex, fp), 0);
    assert_int_equal(fp[0], 0x84);
    assert_int_equal(fp[31], 0x2F);
    assert_int_equal(scep_fingerprint_parse(colons, fp), 0);
    assert_int_equal(fp[1], 0x50);
    assert_int_equal(scep_fingerprint_parse("8450", fp), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_fingerprint_parse(
                         "zz50F1DBB24ECDB032F7C52B7ABD14ADF16C7C1658B228E4D8CC37BE63F30F2F", fp),
                     SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_fingerprint_parse(
                         "8450F1DBB24ECDB032F7C52B7ABD14ADF16C7C1658B228E4D8CC37BE63F30F2F00", fp),
                     SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_fingerprint_parse(
                         "8:450F1DBB24ECDB032F7C52B7ABD14ADF16C7C1658B228E4D8CC37BE63F30F2F", fp),
                     SCEP_ERR_INVALID_ARG);
}

static void test_subject(void **state)
{
    X509_NAME *n = NULL;
    char buf[256];

    (void)state;
    assert_int_equal(scep_subject_parse("CN=dev1,O=Acme\\, Inc.,OU=a=b", &n), 0);
    assert_int_equal(X509_NAME_entry_count(n), 3);
    /* Attributes stay in the order written. */
    assert_int_equal(OBJ_obj2nid(X509_NAME_ENTRY_get_object(X509_NAME_get_entry(n, 0))),
                     NID_commonName);
    X509_NAME_get_text_by_NID(n, NID_organizationName, buf, sizeof(buf));
    assert_string_equal(buf, "Acme, Inc.");
    X509_NAME_get_text_by_NID(n, NID_organizationalUnitName, buf, sizeof(buf));
    assert_string_equal(buf, "a=b");
    X509_NAME_free(n);
    n = NULL;
    assert_int_equal(scep_subject_parse("", &n), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_subject_parse("CN", &n), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_subject_parse("CN=a,,O=b", &n), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_subject_parse("XYZZY=a", &n), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_subject_parse("CN=", &n), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_subject_parse("CN=a\\", &n), SCEP_ERR_INVALID_ARG);
    assert_null(n);
}

static void test_csr(void **state)
{
    EVP_PKEY *k = tu_rsa_key(2048);
    const char *sans[] = {"DNS:dev1.example", "IP:192.0.2.1", "IP:2001:db8::1",
                          "email:a@example.org", "URI:urn:uuid:1"};
    struct scep_csr_params p = {
        .subject = "CN=dev1", .sans = sans, .nsans = 5, .challenge = "s3cret pw"};
    X509_REQ *req = NULL;
    STACK_OF(X509_EXTENSION) *exts;
    GENERAL_NAMES *gens;
    X509_ATTRIBUTE *a;
    ASN1_TYPE *t;
    int i;

    (void)state;
    assert_int_equal(scep_csr_make(k, &p, &req), 0);
    assert_int_equal(X509_REQ_verify(req, k), 1);
    exts = X509_REQ_get_extensions(req);
    gens = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
    assert_non_null(gens);
    assert_int_equal(sk_GENERAL_NAME_num(gens), 5);
    assert_int_equal(sk_GENERAL_NAME_value(gens, 1)->type, GEN_IPADD);
    assert_int_equal(sk_GENERAL_NAME_value(gens, 1)->d.iPAddress->length, 4);
    assert_int_equal(sk_GENERAL_NAME_value(gens, 2)->d.iPAddress->length, 16);
    assert_int_equal(sk_GENERAL_NAME_value(gens, 3)->type, GEN_EMAIL);
    assert_int_equal(sk_GENERAL_NAME_value(gens, 4)->type, GEN_URI);
    GENERAL_NAMES_free(gens);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    i = X509_REQ_get_attr_by_NID(req, NID_pkcs9_challengePassword, -1);
    assert_true(i >= 0);
    a = X509_REQ_get_attr(req, i);
    t = X509_ATTRIBUTE_get0_type(a, 0);
    assert_int_equal(ASN1_STRING_length(t->value.asn1_string), 9);
    assert_memory_equal(ASN1_STRING_get0_data(t->value.asn1_string), "s3cret pw", 9);
    X509_REQ_free(req);
    req = NULL;

    sans[0] = "FTP:x";
    assert_int_equal(scep_csr_make(k, &p, &req), SCEP_ERR_INVALID_ARG);
    sans[0] = "IP:300.1.1.1";
    assert_int_equal(scep_csr_make(k, &p, &req), SCEP_ERR_INVALID_ARG);
    assert_null(req);
    EVP_PKEY_free(k);
}

static void test_keygen(void **state)
{
    EVP_PKEY *k = NULL;

    (void)state;
    assert_int_equal(scep_key_generate_rsa(1024, &k), SCEP_ERR_KEY);
    assert_null(k);
    assert_int_equal(scep_key_generate_rsa(2048, &k), 0);
    assert_int_equal(EVP_PKEY_get_bits(k), 2048);
    EVP_PKEY_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_ca),
        cmocka_unit_test(test_ra_pair),
        cmocka_unit_test(test_pin_rejects_foreign_ra),
        cmocka_unit_test(test_chain_and_ec_ra),
        cmocka_unit_test(test_fingerprint_parse),
        cmocka_unit_test(test_subject),
        cmocka_unit_test(test_csr),
        cmocka_unit_test(test_keygen),
    };

    scep_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
