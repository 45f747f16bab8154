/*
 * Unit tests for the delegated OCSP responders (lib/ca/responder.c):
 * made for each CA with the OCSPSigning purpose and ocsp-nocheck, their
 * key private; signing answers OpenSSL accepts as delegated; loaded
 * again rather than remade; renewed once a third of their life is left
 * (time passed in, so days go by in a test) or when the pair is broken;
 * the next CA gets one, and an archived CA whose key was removed keeps
 * its own until it expires.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <scep/error.h>

#include "ca/ca.h"
#include "testutil.h"

#define DAY 86400

/* The CA's serial as its files are named (upper-case hex).  Free with
 * OPENSSL_free(). */
static char *serial_hex(X509 *cert)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    char *hex = BN_bn2hex(bn);

    BN_free(bn);
    assert_non_null(hex);
    return hex;
}

/* dir/ocsp/<issuer serial><ext> into buf. */
static const char *resp_path(char *buf, size_t n, const char *dir, X509 *issuer, const char *ext)
{
    char *hex = serial_hex(issuer);

    snprintf(buf, n, "%s/ocsp/%s%s", dir, hex, ext);
    OPENSSL_free(hex);
    return buf;
}

/* The serial of the certificate in the PEM file path, as a BIGNUM
 * (BN_free()). */
static BIGNUM *file_serial(const char *path)
{
    FILE *fp = fopen(path, "r");
    X509 *c;
    BIGNUM *bn;

    assert_non_null(fp);
    c = PEM_read_X509(fp, NULL, NULL, NULL);
    fclose(fp);
    assert_non_null(c);
    bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(c), NULL);
    X509_free(c);
    return bn;
}

/* What a responder certificate must be: issued by issuer, OCSPSigning
 * only, nocheck, not a CA, a P-256 key, days long (plus the backdate). */
static void assert_responder(X509 *r, X509 *issuer, int days)
{
    EVP_PKEY *pk = X509_get0_pubkey(r);
    char curve[64];
    size_t clen = 0;
    int64_t t0, t1;
    struct tm tm;

    assert_int_equal(X509_verify(r, X509_get0_pubkey(issuer)), 1);
    assert_int_equal(X509_check_issued(issuer, r), X509_V_OK);
    assert_true(X509_get_extension_flags(r) & EXFLAG_XKUSAGE);
    assert_int_equal(X509_get_extended_key_usage(r), XKU_OCSP_SIGN);
    assert_true(X509_get_ext_by_NID(r, NID_id_pkix_OCSP_noCheck, -1) >= 0);
    assert_int_equal(X509_check_ca(r), 0);
    assert_true(EVP_PKEY_is_a(pk, "EC"));
    assert_int_equal(EVP_PKEY_get_utf8_string_param(pk, "group", curve, sizeof(curve), &clen), 1);
    assert_string_equal(curve, "prime256v1");
    assert_int_equal(ASN1_TIME_to_tm(X509_get0_notBefore(r), &tm), 1);
    t0 = (int64_t)timegm(&tm);
    assert_int_equal(ASN1_TIME_to_tm(X509_get0_notAfter(r), &tm), 1);
    t1 = (int64_t)timegm(&tm);
    assert_int_equal(t1 - t0, (int64_t)days * DAY + 300);
}

/* Signs a one-certificate answer with s as issuer and has OpenSSL
 * verify it with only the CA as trust anchor: the delegation check of
 * RFC 6960 4.2.2.2 (issued by the CA, OCSPSigning). */
static void assert_signs_for(const struct scep_ocsp_signers *s, X509 *issuer)
{
    OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
    OCSP_CERTID *cid = NULL;
    X509_STORE *store = X509_STORE_new();
    STACK_OF(X509) *certs = NULL;
    ASN1_INTEGER *sn = ASN1_INTEGER_new();
    ASN1_TIME *now = ASN1_TIME_set(NULL, time(NULL));
    X509 *signer = NULL;

    assert_non_null(bs);
    assert_non_null(store);
    assert_int_equal(ASN1_INTEGER_set(sn, 42), 1);
    cid = OCSP_cert_id_new(EVP_sha1(), X509_get_subject_name(issuer),
                           X509_get0_pubkey_bitstr(issuer), sn);
    assert_non_null(cid);
    assert_non_null(OCSP_basic_add1_status(bs, cid, V_OCSP_CERTSTATUS_GOOD, 0, NULL, now, NULL));
    assert_int_equal(scep_ocsp_signers_sign(s, issuer, bs), 0);
    assert_int_equal(X509_STORE_add_cert(store, issuer), 1);
    assert_int_equal(OCSP_basic_verify(bs, NULL, store, 0), 1);
    /* The responder certificate is in the response and is the signer. */
    certs = (STACK_OF(X509) *)OCSP_resp_get0_certs(bs);
    assert_int_equal(sk_X509_num(certs), 1);
    assert_int_equal(OCSP_resp_get0_signer(bs, &signer, NULL), 1);
    assert_int_equal(X509_cmp(signer, scep_ocsp_signers_get0_cert(s, issuer, NULL)), 0);
    ASN1_TIME_free(now);
    ASN1_INTEGER_free(sn);
    OCSP_CERTID_free(cid);
    X509_STORE_free(store);
    OCSP_BASICRESP_free(bs);
}

static void test_make_reload_renew(void **state)
{
    struct scep_ca_init_opts o = {.rsa_bits = 2048, .subject = "CN=Resp CA,O=Example"};
    struct scep_ocsp_signers *s = NULL;
    struct scep_ca *ca = NULL;
    char *dir = tu_tempdir();
    char p[4200], q[4200];
    time_t t0 = time(NULL);
    BIGNUM *first, *again;
    int64_t end = 0;
    struct stat st;
    X509 *cacert, *r;
    char *text;
    int made = -1;

    (void)state;
    assert_int_equal(scep_ca_create(dir, &o), 0);
    assert_int_equal(scep_ca_load(dir, &ca), 0);
    cacert = scep_ca_get0_cert(ca);
    assert_int_equal(scep_ca_responders_ensure(ca, 0, t0, &made), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_ca_responders_ensure(ca, SCEP_CA_RESPONDER_MAX_DAYS + 1, t0, &made),
                     SCEP_ERR_INVALID_ARG);

    /* Made at the first call, with a private key. */
    assert_int_equal(scep_ca_responders_ensure(ca, 7, t0, &made), 0);
    assert_int_equal(made, 1);
    assert_int_equal(stat(resp_path(p, sizeof(p), dir, cacert, ".key"), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(resp_path(p, sizeof(p), dir, cacert, ".key.new"), &st), -1);
    first = file_serial(resp_path(p, sizeof(p), dir, cacert, ".crt"));

    assert_int_equal(scep_ca_responders_load(ca, t0, &s), 0);
    r = scep_ocsp_signers_get0_cert(s, cacert, &end);
    assert_non_null(r);
    assert_int_equal(end, (int64_t)t0 + 7 * DAY);
    assert_responder(r, cacert, 7);
    text = X509_NAME_oneline(X509_get_subject_name(r), NULL, 0);
    assert_string_equal(text, "/O=Example/CN=Resp CA OCSP responder");
    OPENSSL_free(text);
    assert_signs_for(s, cacert);
    /* A CA it has no responder for signs for itself. */
    assert_null(scep_ocsp_signers_get0_cert(s, r, NULL));
    assert_null(scep_ocsp_signers_get0_cert(NULL, cacert, NULL));
    scep_ocsp_signers_free(s);
    s = NULL;

    /* Loaded, not remade, while more than a third of its life is left. */
    assert_int_equal(scep_ca_responders_ensure(ca, 7, t0, &made), 0);
    assert_int_equal(made, 0);
    assert_int_equal(scep_ca_responders_ensure(ca, 7, t0 + 4 * DAY, &made), 0);
    assert_int_equal(made, 0);
    again = file_serial(resp_path(p, sizeof(p), dir, cacert, ".crt"));
    assert_int_equal(BN_cmp(first, again), 0);
    BN_free(again);

    /* Two days left of seven: renewed, from then on. */
    assert_int_equal(scep_ca_responders_ensure(ca, 7, t0 + 5 * DAY, &made), 0);
    assert_int_equal(made, 1);
    again = file_serial(resp_path(p, sizeof(p), dir, cacert, ".crt"));
    assert_int_not_equal(BN_cmp(first, again), 0);
    BN_free(again);
    assert_int_equal(scep_ca_responders_load(ca, t0 + 5 * DAY, &s), 0);
    assert_non_null(scep_ocsp_signers_get0_cert(s, cacert, &end));
    assert_int_equal(end, (int64_t)t0 + 12 * DAY);
    assert_responder(scep_ocsp_signers_get0_cert(s, cacert, NULL), cacert, 7);
    scep_ocsp_signers_free(s);
    s = NULL;
    /* Not yet valid at the real time: a set loaded now leaves it out. */
    assert_int_equal(scep_ca_responders_load(ca, t0, &s), 0);
    assert_null(scep_ocsp_signers_get0_cert(s, cacert, NULL));
    scep_ocsp_signers_free(s);
    s = NULL;

    /* A key that is not the certificate's (a crash between the two
     * renames) is not loaded and is replaced at the next call. */
    assert_int_equal(scep_ca_responders_ensure(ca, 7, t0, &made), 0);
    assert_int_equal(made, 1);
    BN_free(first);
    first = file_serial(resp_path(p, sizeof(p), dir, cacert, ".crt"));
    snprintf(q, sizeof(q), "%s/ca.key", dir);
    {
        FILE *in = fopen(q, "r"), *out = fopen(resp_path(p, sizeof(p), dir, cacert, ".key"), "w");
        char buf[4096];
        size_t n;

        assert_non_null(in);
        assert_non_null(out);
        while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
            assert_int_equal(fwrite(buf, 1, n, out), n);
        fclose(in);
        fclose(out);
    }
    assert_int_equal(scep_ca_responders_load(ca, t0, &s), 0);
    assert_null(scep_ocsp_signers_get0_cert(s, cacert, NULL));
    scep_ocsp_signers_free(s);
    s = NULL;
    assert_int_equal(scep_ca_responders_ensure(ca, 7, t0, &made), 0);
    assert_int_equal(made, 1);
    assert_int_equal(scep_ca_responders_load(ca, t0, &s), 0);
    assert_non_null(scep_ocsp_signers_get0_cert(s, cacert, NULL));
    assert_signs_for(s, cacert);
    scep_ocsp_signers_free(s);
    s = NULL;

    /* Lowering the life remakes one that lasts longer than it allows. */
    assert_int_equal(scep_ca_responders_ensure(ca, 2, t0, &made), 0);
    assert_int_equal(made, 1);
    assert_int_equal(scep_ca_responders_load(ca, t0, &s), 0);
    assert_responder(scep_ocsp_signers_get0_cert(s, cacert, NULL), cacert, 2);
    scep_ocsp_signers_free(s);

    BN_free(first);
    scep_ca_free(ca);
    tu_rmrf(dir);
    free(dir);
}

static void test_next_and_archived(void **state)
{
    struct scep_ca_init_opts o = {.rsa_bits = 2048, .subject = "CN=Old CA"};
    struct scep_ca_init_opts next_o = {.rsa_bits = 2048, .subject = "CN=New CA"};
    struct scep_ocsp_signers *s = NULL;
    struct scep_ca *ca = NULL;
    char *dir = tu_tempdir();
    char p[4200], stamp[32];
    time_t t0 = time(NULL);
    X509 *old_ca, *new_ca;
    FILE *fp;
    char *hex;
    int made = -1;

    (void)state;
    assert_int_equal(scep_ca_create(dir, &o), 0);
    assert_int_equal(scep_ca_next_create(dir, &next_o, t0 + 3600), 0);
    assert_int_equal(scep_ca_load(dir, &ca), 0);
    /* The current and the next CA each get one, signed by their own key. */
    assert_int_equal(scep_ca_responders_ensure(ca, 7, t0, &made), 0);
    assert_int_equal(made, 2);
    assert_int_equal(scep_ca_responders_load(ca, t0, &s), 0);
    assert_responder(scep_ocsp_signers_get0_cert(s, scep_ca_get0_next_cert(ca), NULL),
                     scep_ca_get0_next_cert(ca), 7);
    assert_signs_for(s, scep_ca_get0_cert(ca));
    assert_signs_for(s, scep_ca_get0_next_cert(ca));
    scep_ocsp_signers_free(s);
    s = NULL;
    scep_ca_free(ca);
    ca = NULL;

    /* Promoted: the new current CA keeps the responder it had as next. */
    snprintf(stamp, sizeof(stamp), "%lld\n", (long long)t0 - 60);
    snprintf(p, sizeof(p), "%s/next/activate-at", dir);
    fp = fopen(p, "w");
    assert_non_null(fp);
    assert_true(fputs(stamp, fp) >= 0);
    fclose(fp);
    assert_int_equal(scep_ca_load(dir, &ca), 0);
    new_ca = scep_ca_get0_cert(ca);
    old_ca = scep_ca_get0_archived(ca, 0);
    assert_non_null(old_ca);
    assert_int_equal(scep_ca_responders_ensure(ca, 7, t0, &made), 0);
    assert_int_equal(made, 0);
    assert_int_equal(scep_ca_responders_load(ca, t0, &s), 0);
    assert_signs_for(s, new_ca);
    assert_signs_for(s, old_ca);
    scep_ocsp_signers_free(s);
    s = NULL;

    /* The archived key removed: nothing can renew the old CA's responder,
     * which is not an error; it serves until it expires, then the set
     * has none for that CA. */
    hex = serial_hex(old_ca);
    snprintf(p, sizeof(p), "%s/archive/%s.key", dir, hex);
    OPENSSL_free(hex);
    assert_int_equal(unlink(p), 0);
    assert_int_equal(scep_ca_responders_ensure(ca, 7, t0 + 6 * DAY, &made), 0);
    assert_int_equal(made, 1); /* the current CA's only */
    assert_int_equal(scep_ca_responders_load(ca, t0 + 6 * DAY, &s), 0);
    assert_non_null(scep_ocsp_signers_get0_cert(s, old_ca, NULL));
    assert_non_null(scep_ocsp_signers_get0_cert(s, new_ca, NULL));
    scep_ocsp_signers_free(s);
    s = NULL;
    assert_int_equal(scep_ca_responders_load(ca, t0 + 8 * DAY, &s), 0);
    assert_null(scep_ocsp_signers_get0_cert(s, old_ca, NULL));
    scep_ocsp_signers_free(s);

    scep_ca_free(ca);
    tu_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_make_reload_renew),
        cmocka_unit_test(test_next_and_archived),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
