/*
 * The GET message= decoder against every client dialect of the interop
 * notes (1.2), its rejections, the encoder, and GetCACaps formatting and
 * parsing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include <scep/limits.h>
#include <scep/scep.h>

static unsigned char data[300];
static char b64[512]; /* standard base64 of data, no line breaks */

static int setup(void **state)
{
    size_t i;

    assert_int_equal(scep_init(), 0);
    /* every byte value, so the base64 has '+', '/' and '=' padding */
    for (i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)(i * 7 + 0xF8);
    EVP_EncodeBlock((unsigned char *)b64, data, (int)sizeof(data) - 1);
    assert_non_null(strchr(b64, '+'));
    assert_non_null(strchr(b64, '/'));
    assert_non_null(strchr(b64, '='));
    return 0;
}

/* Rewrites b64: each character c becomes map(c) (a string), and a line
 * break string is inserted every 64 characters when nl is not NULL. */
static char *dialect(const char *(*map)(char c, char *tmp), const char *nl)
{
    char *out = malloc(8 * strlen(b64) + 1);
    size_t i, o = 0;

    assert_non_null(out);
    for (i = 0; b64[i] != '\0'; i++) {
        char tmp[2] = {b64[i], 0};
        const char *s = map(b64[i], tmp);

        if (nl != NULL && i > 0 && i % 64 == 0) {
            memcpy(out + o, nl, strlen(nl));
            o += strlen(nl);
        }
        memcpy(out + o, s, strlen(s));
        o += strlen(s);
    }
    out[o] = '\0';
    return out;
}

static const char *m_raw(char c, char *tmp)
{
    return tmp;
}
static const char *m_rfc(char c, char *tmp)
{
    return c == '+' ? "%2B" : c == '/' ? "%2F" : c == '=' ? "%3D" : tmp;
}
static const char *m_rfc_lower(char c, char *tmp)
{
    return c == '+' ? "%2b" : c == '/' ? "%2f" : c == '=' ? "%3d" : tmp;
}
static const char *m_sscep(char c, char *tmp)
{
    return c == '+' ? "%2B" : c == '=' ? "%3D" : tmp;
}
static const char *m_strongswan(char c, char *tmp)
{
    return c == '+' ? "%2B" : tmp;
}
static const char *m_ios11(char c, char *tmp)
{
    return c == '+' ? " " : tmp;
}
static const char *m_ios11_escaped(char c, char *tmp)
{
    return c == '+' ? "%20" : tmp;
}
static const char *m_url(char c, char *tmp)
{
    return c == '+' ? "-" : c == '/' ? "_" : c == '=' ? "%3D" : tmp;
}
static const char *m_url_nopad(char c, char *tmp)
{
    return c == '+' ? "-" : c == '/' ? "_" : c == '=' ? "" : tmp;
}

static void expect_ok(const char *value)
{
    unsigned char *out = NULL;
    size_t len = 0;

    assert_int_equal(scep_query_message_decode(value, strlen(value), &out, &len), 0);
    assert_int_equal(len, sizeof(data) - 1);
    assert_memory_equal(out, data, len);
    scep_free(out);
}

static void test_dialects(void **state)
{
    static const struct {
        const char *(*map)(char, char *);
        const char *nl;
    } d[] = {
        {m_rfc, NULL},           /* RFC 8894 4.1 */
        {m_rfc_lower, NULL},     /* lower-case escapes */
        {m_sscep, "%0A"},        /* sscep */
        {m_strongswan, "%0A"},   /* strongSwan */
        {m_rfc, "%0D%0A"},       /* Cisco */
        {m_raw, NULL},           /* Apple, jscep */
        {m_raw, "\n"},           /* raw line breaks */
        {m_ios11, NULL},         /* iOS 11 */
        {m_ios11_escaped, NULL}, /* the same after a proxy re-escaped it */
        {m_url, NULL},           /* micromdm scepclient <= 2.3.0 */
        {m_url_nopad, NULL},     /* base64url without padding */
    };
    size_t i;

    for (i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
        char *v = dialect(d[i].map, d[i].nl);

        expect_ok(v);
        free(v);
    }
}

static void expect_bad(const char *value, size_t len, int err)
{
    unsigned char *out = NULL;
    size_t olen = 0;

    assert_int_equal(scep_query_message_decode(value, len, &out, &olen), err);
    assert_null(out);
}

static void test_rejects(void **state)
{
    char *big;

    expect_bad("QUJD%4", 6, SCEP_ERR_BASE64);  /* cut escape */
    expect_bad("QUJD%G1", 7, SCEP_ERR_BASE64); /* not hex */
    expect_bad("QU*D", 4, SCEP_ERR_BASE64);    /* not base64 */
    expect_bad("QU.D", 4, SCEP_ERR_BASE64);
    expect_bad("QUJD%00", 7, SCEP_ERR_BASE64); /* NUL */
    expect_bad("QU=JD", 5, SCEP_ERR_BASE64);   /* padding inside */
    expect_bad("QUJDR", 5, SCEP_ERR_BASE64);   /* 4n+1 characters */
    expect_bad("QQ===", 5, SCEP_ERR_BASE64);   /* three pads */
    expect_bad("", 0, SCEP_ERR_BASE64);
    expect_bad("%0A%0D", 6, SCEP_ERR_BASE64);
    expect_bad(NULL, 0, SCEP_ERR_INVALID_ARG);
    /* oversize input is refused before it is looked at */
    big = malloc(SCEP_MAX_QUERY + 1);
    memset(big, 'A', SCEP_MAX_QUERY + 1);
    expect_bad(big, SCEP_MAX_QUERY + 1, SCEP_ERR_TOO_LARGE);
    /* input within the query limit whose output would pass the message
     * limit */
    expect_bad(big, (SCEP_MAX_MESSAGE / 3 + 8) * 4, SCEP_ERR_TOO_LARGE);
    free(big);
}

static void test_small(void **state)
{
    unsigned char *out = NULL;
    size_t len = 0;

    assert_int_equal(scep_query_message_decode("QUJD", 4, &out, &len), 0);
    assert_int_equal(len, 3);
    assert_memory_equal(out, "ABC", 3);
    scep_free(out);
    assert_int_equal(scep_query_message_decode("QQ", 2, &out, &len), 0);
    assert_int_equal(len, 1);
    assert_memory_equal(out, "A", 1);
    scep_free(out);
    /* only len bytes are read: no NUL needed */
    assert_int_equal(scep_query_message_decode("QUJDxyz", 4, &out, &len), 0);
    assert_int_equal(len, 3);
    scep_free(out);
}

static void test_encode(void **state)
{
    char *enc = NULL;
    unsigned char *out = NULL;
    size_t len;

    assert_int_equal(scep_query_message_encode(data, sizeof(data) - 1, &enc), 0);
    assert_null(strchr(enc, '+'));
    assert_null(strchr(enc, '/'));
    assert_null(strchr(enc, '='));
    assert_non_null(strstr(enc, "%2B"));
    assert_non_null(strstr(enc, "%2F"));
    assert_non_null(strstr(enc, "%3D"));
    assert_int_equal(scep_query_message_decode(enc, strlen(enc), &out, &len), 0);
    assert_int_equal(len, sizeof(data) - 1);
    assert_memory_equal(out, data, len);
    scep_free(out);
    scep_free(enc);
    enc = NULL;
    assert_int_equal(scep_query_message_encode((const unsigned char *)"ABC", 3, &enc), 0);
    assert_string_equal(enc, "QUJD");
    scep_free(enc);
    enc = NULL;
    assert_int_equal(scep_query_message_encode(data, 0, &enc), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_query_message_encode(data, SCEP_MAX_MESSAGE + 1, &enc),
                     SCEP_ERR_TOO_LARGE);
    assert_null(enc);
}

static void test_caps_format(void **state)
{
    char buf[256];
    unsigned all = 0x7FF;
    const char *want = "AES\nDES3\nGetNextCACert\nPOSTPKIOperation\nRenewal\nSHA-1\n"
                       "SHA-224\nSHA-256\nSHA-384\nSHA-512\nSCEPStandard\n";

    assert_int_equal(scep_caps_format(all, buf, sizeof(buf)), (int)strlen(want));
    assert_string_equal(buf, want);
    assert_int_equal(scep_caps_format(SCEP_CAP_SHA256 | SCEP_CAP_AES, buf, sizeof(buf)), 12);
    assert_string_equal(buf, "AES\nSHA-256\n");
    assert_int_equal(scep_caps_format(0, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "");
    /* exactly fits, and one byte short */
    assert_int_equal(scep_caps_format(SCEP_CAP_AES, buf, 5), 4);
    assert_int_equal(scep_caps_format(SCEP_CAP_AES, buf, 4), SCEP_ERR_TOO_LARGE);
    assert_int_equal(scep_caps_format(all, buf, 40), SCEP_ERR_TOO_LARGE);
    /* format then parse gives the set back */
    assert_int_equal(scep_caps_format(all, buf, sizeof(buf)), (int)strlen(want));
    assert_int_equal(scep_caps_parse(buf, strlen(buf)), all);
}

static void test_caps_parse(void **state)
{
    const char *crlf = "aes\r\nDes3\r\npostpkioperation\r\nrenewal\r\nsha-1\r\nSHA-512\r\n"
                       "Example.com-Private\r\nUpdate\r\nSHA-384";
    const char *std = "SCEPStandard\n";

    assert_int_equal(scep_caps_parse(crlf, strlen(crlf)),
                     SCEP_CAP_AES | SCEP_CAP_DES3 | SCEP_CAP_POST_PKI_OPERATION | SCEP_CAP_RENEWAL |
                         SCEP_CAP_SHA1 | SCEP_CAP_SHA512 | SCEP_CAP_SHA384);
    assert_int_equal(scep_caps_parse(std, strlen(std)), SCEP_CAP_SCEP_STANDARD | SCEP_CAP_AES |
                                                            SCEP_CAP_POST_PKI_OPERATION |
                                                            SCEP_CAP_SHA256);
    assert_int_equal(scep_caps_parse("", 0), 0);
    assert_int_equal(scep_caps_parse(NULL, 0), 0);
    /* partial words and words run together do not count */
    assert_int_equal(scep_caps_parse("AESX\nSHA\nSHA-2\nAES DES3\n", 24), 0);
    /* len bounds the read */
    assert_int_equal(scep_caps_parse("AES\nDES3", 3), SCEP_CAP_AES);
    assert_int_equal(scep_caps_parse("  GetNextCACert \t\n", 18), SCEP_CAP_GET_NEXT_CA_CERT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dialects),    cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_small),       cmocka_unit_test(test_encode),
        cmocka_unit_test(test_caps_format), cmocka_unit_test(test_caps_parse),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}
