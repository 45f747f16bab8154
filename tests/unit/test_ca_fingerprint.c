/*
 * One CA fingerprint and one serial text in lib/ca: scep_cert_fingerprint()
 * is the lowercase hex of the digest a client pins (scep_client_fingerprint,
 * SHA-256 of the DER), and the archive name ca_serial_hex() gives a CA
 * certificate follows the serial convention of lib/util/hex.h, the one
 * the store uses.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <scep/scep.h>
#include "ca/ca.h"
#include "ca/ca_internal.h"
#include "testutil.h"
#include "util/hex.h"

static void test_fingerprint_is_pinned_digest(void **state)
{
    EVP_PKEY *key = tu_rsa_key(2048);
    X509 *cert = tu_self_signed(key, "fingerprint test CA");
    unsigned char raw[SCEP_FINGERPRINT_LEN], md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char text[65], want[65];

    assert_int_equal(scep_cert_fingerprint(cert, text), 0);
    assert_int_equal(strlen(text), 64);
    /* the text scepd logs and scepctl prints parses back to the bytes
     * a client pins */
    assert_int_equal(scep_fingerprint_parse(text, raw), 0);
    assert_int_equal(X509_digest(cert, EVP_sha256(), md, &mdlen), 1);
    assert_int_equal(mdlen, SCEP_FINGERPRINT_LEN);
    assert_memory_equal(raw, md, SCEP_FINGERPRINT_LEN);
    assert_int_equal(scep_client_fingerprint(cert, raw), 0);
    assert_int_equal(util_hex_encode(raw, sizeof(raw), 0, want, sizeof(want)), 0);
    assert_string_equal(text, want);
    assert_int_equal(scep_cert_fingerprint(NULL, text), SCEP_ERR_INVALID_ARG);
    X509_free(cert);
    EVP_PKEY_free(key);
}

/* Sets cert's serial to the magnitude bytes p[0..n-1]. */
static void set_serial(X509 *cert, const unsigned char *p, size_t n)
{
    BIGNUM *bn = BN_bin2bn(p, (int)n, NULL);

    assert_non_null(bn);
    assert_non_null(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)));
    BN_free(bn);
}

static void test_archive_name_serial(void **state)
{
    static const unsigned char low[] = {0x12, 0x34, 0xab};
    static const unsigned char high[] = {0x9a, 0xbc};
    EVP_PKEY *key = tu_rsa_key(2048);
    X509 *cert = tu_self_signed(key, "archive name test CA");
    char *hex = NULL;

    set_serial(cert, low, sizeof(low));
    assert_int_equal(ca_serial_hex(cert, &hex), 0);
    assert_string_equal(hex, "1234AB");
    OPENSSL_free(hex);
    /* the store's convention: DER's 00 stays in front of a top bit */
    set_serial(cert, high, sizeof(high));
    assert_int_equal(ca_serial_hex(cert, &hex), 0);
    assert_string_equal(hex, "009ABC");
    OPENSSL_free(hex);
    X509_free(cert);
    EVP_PKEY_free(key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fingerprint_is_pinned_digest),
        cmocka_unit_test(test_archive_name_serial),
    };

    assert_int_equal(scep_init(), 0);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
