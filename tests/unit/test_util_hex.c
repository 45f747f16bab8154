/*
 * The one serial convention and the hex encoder (lib/util/hex.c): the
 * DER content octets in uppercase hex, so a serial whose top bit is set
 * keeps DER's 00 and nothing else adds leading zeros; equal to
 * BN_bn2hex() for the serials scepd issues (16 octets, top bit clear);
 * and typed serials in any of the usual spellings normalised to it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>

#include <scep/error.h>
#include "util/hex.h"

/* A positive INTEGER with magnitude bytes p[0..n-1] (as OpenSSL keeps
 * it: no sign octet).  Free with ASN1_INTEGER_free(). */
static ASN1_INTEGER *integer(const unsigned char *p, size_t n)
{
    BIGNUM *bn = BN_bin2bn(p, (int)n, NULL);
    ASN1_INTEGER *ai;

    assert_non_null(bn);
    ai = BN_to_ASN1_INTEGER(bn, NULL);
    assert_non_null(ai);
    BN_free(bn);
    return ai;
}

/* util_serial_hex() of p[0..n-1] into buf, asserting success. */
static const char *serial_text(const unsigned char *p, size_t n, char *buf, size_t size)
{
    ASN1_INTEGER *ai = integer(p, n);

    assert_int_equal(util_serial_hex(ai, buf, size), 0);
    ASN1_INTEGER_free(ai);
    return buf;
}

static void test_top_bit_clear(void **state)
{
    static const unsigned char s1[] = {0x7f, 0x3a};
    static const unsigned char s2[] = {0x01};
    static const unsigned char s16[16] = {0x5e, 0x00, 0xff, 0x10, 0x20, 0x30, 0x40, 0x50,
                                          0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0, 0x0d};
    char buf[UTIL_SERIAL_HEX_SIZE], *bnhex;
    BIGNUM *bn;

    assert_string_equal(serial_text(s1, sizeof(s1), buf, sizeof(buf)), "7F3A");
    assert_string_equal(serial_text(s2, sizeof(s2), buf, sizeof(buf)), "01");
    /* a serial as scepd issues it: the same digits as BN_bn2hex(), which
     * the CA's archive names were made with */
    serial_text(s16, sizeof(s16), buf, sizeof(buf));
    assert_string_equal(buf, "5E00FF102030405060708090A0B0C00D");
    bn = BN_bin2bn(s16, sizeof(s16), NULL);
    bnhex = BN_bn2hex(bn);
    assert_string_equal(buf, bnhex);
    OPENSSL_free(bnhex);
    BN_free(bn);
}

static void test_top_bit_set_keeps_der_zero(void **state)
{
    static const unsigned char s1[] = {0x80, 0x00};
    static const unsigned char s2[] = {0xff};
    unsigned char s19[19];
    char buf[UTIL_SERIAL_HEX_SIZE];

    /* DER encodes 0x8000 as 00 80 00; the convention keeps that 00 */
    assert_string_equal(serial_text(s1, sizeof(s1), buf, sizeof(buf)), "008000");
    assert_string_equal(serial_text(s2, sizeof(s2), buf, sizeof(buf)), "00FF");
    /* the longest RFC 5280 serial with the top bit set (19 + DER's 00 =
     * 20 octets) fits UTIL_SERIAL_HEX_SIZE */
    memset(s19, 0xab, sizeof(s19));
    serial_text(s19, sizeof(s19), buf, sizeof(buf));
    assert_int_equal(strlen(buf), 40);
    assert_memory_equal(buf, "00ABAB", 6);
}

static void test_refusals(void **state)
{
    static const unsigned char s[] = {0x80, 0x01};
    ASN1_INTEGER *ai = integer(s, sizeof(s));
    ASN1_INTEGER *zero = ASN1_INTEGER_new();
    ASN1_INTEGER *neg = ASN1_INTEGER_new();
    char buf[8];

    assert_non_null(zero);
    assert_non_null(neg);
    /* "0080" + "01" needs 7 bytes with the NUL */
    assert_int_equal(util_serial_hex(ai, buf, 6), SCEP_ERR_TOO_LARGE);
    assert_string_equal(buf, "");
    assert_int_equal(util_serial_hex(ai, buf, 7), 0);
    assert_string_equal(buf, "008001");
    assert_int_equal(ASN1_INTEGER_set(zero, 0), 1);
    assert_int_equal(util_serial_hex(zero, buf, sizeof(buf)), SCEP_ERR_INVALID_ARG);
    assert_int_equal(ASN1_INTEGER_set(neg, -5), 1);
    assert_int_equal(util_serial_hex(neg, buf, sizeof(buf)), SCEP_ERR_INVALID_ARG);
    assert_int_equal(util_serial_hex(NULL, buf, sizeof(buf)), SCEP_ERR_INVALID_ARG);
    assert_int_equal(util_serial_hex(ai, NULL, 8), SCEP_ERR_INVALID_ARG);
    ASN1_INTEGER_free(ai);
    ASN1_INTEGER_free(zero);
    ASN1_INTEGER_free(neg);
}

static void test_hex_encode(void **state)
{
    static const unsigned char b[] = {0x00, 0x9f, 0xa0, 0xff};
    char buf[9];

    assert_int_equal(util_hex_encode(b, sizeof(b), 0, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "009fa0ff");
    assert_int_equal(util_hex_encode(b, sizeof(b), 1, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "009FA0FF");
    assert_int_equal(util_hex_encode(b, sizeof(b), 1, buf, 8), SCEP_ERR_TOO_LARGE);
    assert_string_equal(buf, "");
    assert_int_equal(util_hex_encode(b, 0, 1, buf, 1), 0);
    assert_string_equal(buf, "");
}

static void test_typed_serial(void **state)
{
    static const unsigned char high[] = {0x80, 0xab};
    char out[UTIL_SERIAL_HEX_SIZE], tiny[6], stored[UTIL_SERIAL_HEX_SIZE];

    assert_int_equal(util_serial_text_normalize("0x0a:1B", out, sizeof(out)), 0);
    assert_string_equal(out, "0A1B");
    assert_int_equal(util_serial_text_normalize("A1B", out, sizeof(out)), 0);
    assert_string_equal(out, "0A1B");
    assert_int_equal(util_serial_text_normalize("000a1b", out, sizeof(out)), 0);
    assert_string_equal(out, "0A1B");
    /* OpenSSL's form of a top-bit serial and the store's form meet */
    serial_text(high, sizeof(high), stored, sizeof(stored));
    assert_int_equal(util_serial_text_normalize("80ab", out, sizeof(out)), 0);
    assert_string_equal(out, stored);
    assert_int_equal(util_serial_text_normalize("00:80:AB", out, sizeof(out)), 0);
    assert_string_equal(out, stored);
    assert_int_equal(util_serial_text_normalize("8ab", out, sizeof(out)), 0);
    assert_string_equal(out, "08AB");
    /* refusals */
    assert_int_equal(util_serial_text_normalize("", out, sizeof(out)), SCEP_ERR_INVALID_ARG);
    assert_int_equal(util_serial_text_normalize("0x", out, sizeof(out)), SCEP_ERR_INVALID_ARG);
    assert_int_equal(util_serial_text_normalize("00:00", out, sizeof(out)), SCEP_ERR_INVALID_ARG);
    assert_int_equal(util_serial_text_normalize("12 34", out, sizeof(out)), SCEP_ERR_INVALID_ARG);
    assert_int_equal(util_serial_text_normalize("0x1g", out, sizeof(out)), SCEP_ERR_INVALID_ARG);
    assert_int_equal(util_serial_text_normalize(NULL, out, sizeof(out)), SCEP_ERR_INVALID_ARG);
    assert_int_equal(util_serial_text_normalize("abcd", tiny, sizeof(tiny)), SCEP_ERR_TOO_LARGE);
    assert_string_equal(tiny, "");
    assert_int_equal(util_serial_text_normalize("abcd", out, 7), 0);
    assert_string_equal(out, "00ABCD");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_top_bit_clear), cmocka_unit_test(test_top_bit_set_keeps_der_zero),
        cmocka_unit_test(test_refusals),      cmocka_unit_test(test_hex_encode),
        cmocka_unit_test(test_typed_serial),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
