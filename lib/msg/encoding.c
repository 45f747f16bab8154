/*
 * The message= parameter of a GET PKIOperation (RFC 8894 4.1): standard
 * base64 with percent-escaping in theory, and in practice every dialect
 * real clients send (see the interop notes 1.2): raw '+' and '/' (Apple,
 * jscep), '+' turned into a space (iOS 11), escaped line breaks every 64
 * characters (sscep, strongSwan, Cisco), base64url with "%3D" padding
 * (micromdm scepclient up to 2.3.0), missing padding.  The decoder
 * normalises all of these to standard base64 and lets OpenSSL decode it.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <scep/encoding.h>
#include <scep/error.h>
#include <scep/limits.h>

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * Percent-decodes value into out (at most len bytes) and maps every
 * dialect to standard base64 without padding; *pad receives the number of
 * '=' to append.  Percent-decoding keeps a '+' as '+', unlike HTML form
 * decoding (which broke fleet#45291).  Returns the number of characters
 * written, or SCEP_ERR_BASE64.
 */
static long normalise(const char *value, size_t len, char *out, size_t *pad)
{
    size_t i, n = 0, eq = 0;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)value[i];

        if (c == '%') {
            int hi, lo;

            if (len - i < 3 || (hi = hexval((unsigned char)value[i + 1])) < 0 ||
                (lo = hexval((unsigned char)value[i + 2])) < 0)
                return SCEP_ERR_BASE64;
            c = (unsigned char)(hi * 16 + lo);
            i += 2;
        }
        if (c == '\r' || c == '\n')
            continue;
        if (c == '=') {
            eq++;
            continue;
        }
        /* Padding may only end the value. */
        if (eq > 0)
            return SCEP_ERR_BASE64;
        if (c == ' ' || c == '-')
            c = '+';
        else if (c == '_')
            c = '/';
        else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '+' || c == '/'))
            return SCEP_ERR_BASE64;
        out[n++] = (char)c;
    }
    if (eq > 2 || n == 0 || n % 4 == 1)
        return SCEP_ERR_BASE64;
    *pad = (4 - n % 4) % 4;
    return (long)n;
}

/*
 * Decodes the raw message= value (len bytes, still percent-escaped).  On
 * success *out (free with scep_free()) / *outlen hold the bytes.  Returns
 * 0, SCEP_ERR_INVALID_ARG, SCEP_ERR_TOO_LARGE, SCEP_ERR_BASE64 or
 * SCEP_ERR_NOMEM.
 */
int scep_query_message_decode(const char *value, size_t len, unsigned char **out, size_t *outlen)
{
    EVP_ENCODE_CTX *ctx = NULL;
    char *b64 = NULL;
    unsigned char *bin = NULL;
    size_t pad = 0;
    long n;
    int got = 0, fin = 0;
    int rc = SCEP_ERR_INVALID_ARG;

    if (value == NULL || out == NULL || outlen == NULL)
        goto out;
    rc = SCEP_ERR_TOO_LARGE;
    if (len > SCEP_MAX_QUERY)
        goto out;
    rc = SCEP_ERR_NOMEM;
    if ((b64 = OPENSSL_malloc(len + 3)) == NULL)
        goto out;
    if ((n = normalise(value, len, b64, &pad)) < 0) {
        rc = (int)n;
        goto out;
    }
    /* Each 4 characters give at most 3 bytes; refuse before decoding. */
    rc = SCEP_ERR_TOO_LARGE;
    if (((size_t)n + pad) / 4 * 3 > (size_t)SCEP_MAX_MESSAGE + 2)
        goto out;
    memset(b64 + n, '=', pad);
    n += (long)pad;

    rc = SCEP_ERR_NOMEM;
    if ((bin = OPENSSL_malloc((size_t)n / 4 * 3 + 3)) == NULL ||
        (ctx = EVP_ENCODE_CTX_new()) == NULL)
        goto out;
    /* EVP_DecodeUpdate, not EVP_DecodeBlock: the block form counts the
     * padding into its length and rejects line breaks. */
    EVP_DecodeInit(ctx);
    rc = SCEP_ERR_BASE64;
    if (EVP_DecodeUpdate(ctx, bin, &got, (const unsigned char *)b64, (int)n) < 0)
        goto out;
    if (EVP_DecodeFinal(ctx, bin + got, &fin) != 1)
        goto out;
    got += fin;
    if (got <= 0)
        goto out;
    rc = SCEP_ERR_TOO_LARGE;
    if ((size_t)got > SCEP_MAX_MESSAGE)
        goto out;
    *out = bin;
    *outlen = (size_t)got;
    bin = NULL;
    rc = 0;
out:
    EVP_ENCODE_CTX_free(ctx);
    OPENSSL_free(b64);
    OPENSSL_free(bin);
    return rc;
}

/*
 * Encodes der (len bytes) as standard base64 with '+', '/' and '='
 * percent-escaped.  On success *out is a NUL-terminated string; free with
 * scep_free().  Returns 0, SCEP_ERR_INVALID_ARG, SCEP_ERR_TOO_LARGE or
 * SCEP_ERR_NOMEM.
 */
int scep_query_message_encode(const unsigned char *der, size_t len, char **out)
{
    unsigned char *b64 = NULL;
    char *esc = NULL;
    size_t i, n, o = 0;
    int rc = SCEP_ERR_INVALID_ARG;

    if (der == NULL || len == 0 || out == NULL)
        goto out;
    rc = SCEP_ERR_TOO_LARGE;
    if (len > SCEP_MAX_MESSAGE)
        goto out;
    rc = SCEP_ERR_NOMEM;
    n = 4 * ((len + 2) / 3);
    if ((b64 = OPENSSL_malloc(n + 1)) == NULL || (esc = OPENSSL_malloc(3 * n + 1)) == NULL)
        goto out;
    /* EVP_EncodeBlock writes one line without breaks, NUL-terminated. */
    if ((size_t)EVP_EncodeBlock(b64, der, (int)len) != n)
        goto out;
    for (i = 0; i < n; i++) {
        const char *e = NULL;

        switch (b64[i]) {
        case '+':
            e = "%2B";
            break;
        case '/':
            e = "%2F";
            break;
        case '=':
            e = "%3D";
            break;
        default:
            break;
        }
        if (e != NULL) {
            memcpy(esc + o, e, 3);
            o += 3;
        } else {
            esc[o++] = (char)b64[i];
        }
    }
    esc[o] = '\0';
    *out = esc;
    esc = NULL;
    rc = 0;
out:
    OPENSSL_free(b64);
    OPENSSL_free(esc);
    return rc;
}
