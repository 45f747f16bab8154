/*
 * Hex text of fingerprints and serial numbers (see hex.h for the serial
 * convention and why it is the one the store and the CA use).
 */
#include "util/hex.h"

#include <ctype.h>
#include <string.h>

#include <scep/error.h>

/* Hex encoding of n bytes (see hex.h). */
int util_hex_encode(const unsigned char *p, size_t n, int upper, char *out, size_t size)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    size_t i;

    if (out == NULL || size == 0)
        return SCEP_ERR_TOO_LARGE;
    out[0] = '\0';
    if (n > (size - 1) / 2)
        return SCEP_ERR_TOO_LARGE;
    for (i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 0x0f];
    }
    out[2 * n] = '\0';
    return 0;
}

/*
 * Serial in the one convention (see hex.h).  ASN1_INTEGER holds the
 * magnitude without DER's sign octet, so the 00 DER adds in front of a
 * first octet with the top bit set is put back here.
 */
int util_serial_hex(const ASN1_INTEGER *serial, char *buf, size_t size)
{
    const unsigned char *p;
    size_t n, skip = 0, pad, need;
    int rc;

    if (serial == NULL || buf == NULL || size == 0)
        return SCEP_ERR_INVALID_ARG;
    buf[0] = '\0';
    if (ASN1_STRING_type(serial) != V_ASN1_INTEGER)
        return SCEP_ERR_INVALID_ARG; /* V_ASN1_NEG_INTEGER */
    p = ASN1_STRING_get0_data(serial);
    n = (size_t)ASN1_STRING_length(serial);
    while (skip < n && p[skip] == 0) /* a non-minimal integer built by hand */
        skip++;
    if (skip == n)
        return SCEP_ERR_INVALID_ARG; /* zero */
    pad = (p[skip] & 0x80) ? 1 : 0;
    need = 2 * (pad + n - skip) + 1;
    if (need > size)
        return SCEP_ERR_TOO_LARGE;
    if (pad)
        memcpy(buf, "00", 2);
    rc = util_hex_encode(p + skip, n - skip, 1, buf + 2 * pad, size - 2 * pad);
    if (rc != 0)
        buf[0] = '\0';
    return rc;
}

/*
 * Typed serial to the convention (see hex.h): the digits without
 * separators and leading zeros, then one 0 to make whole octets and 00
 * when the first octet has its top bit set.
 */
int util_serial_text_normalize(const char *text, char *out, size_t size)
{
    const char *p;
    size_t digits = 0, lead, pos = 0;
    int seen = 0;

    if (out != NULL && size > 0)
        out[0] = '\0';
    if (text == NULL || out == NULL || size == 0)
        return SCEP_ERR_INVALID_ARG;
    if (text[0] == '0' && (text[1] == 'x' || text[1] == 'X'))
        text += 2;
    /* First pass: validate and count the significant digits. */
    for (p = text; *p != '\0'; p++) {
        if (*p == ':')
            continue;
        if (!isxdigit((unsigned char)*p))
            return SCEP_ERR_INVALID_ARG;
        seen = 1;
        if (digits > 0 || *p != '0')
            digits++;
    }
    if (!seen || digits == 0)
        return SCEP_ERR_INVALID_ARG; /* empty, or zero */
    for (p = text; *p == ':' || *p == '0'; p++)
        ;
    /* p is the first significant digit: a value of 8 or more sets the top
     * bit of the first octet when the digit count is even. */
    lead = digits % 2 ? 1 : (strchr("89abcdefABCDEF", *p) != NULL ? 2 : 0);
    if (lead + digits + 1 > size)
        return SCEP_ERR_TOO_LARGE;
    while (pos < lead)
        out[pos++] = '0';
    for (; *p != '\0'; p++)
        if (*p != ':')
            out[pos++] = (char)toupper((unsigned char)*p);
    out[pos] = '\0';
    return 0;
}
