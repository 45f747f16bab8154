/*
 * Hex text of binary values, for every part of the server and the
 * programs: fingerprints (lowercase) and certificate serial numbers (the
 * one serial convention, below).  Part of the internal static library
 * scep_util (lib/util/); not in libscep.so.
 *
 * The serial convention.  A serial number is written as the uppercase hex
 * of its DER INTEGER content octets: the magnitude, big-endian, with no
 * leading zero octets except the single 00 that DER puts in front when the
 * top bit of the first magnitude octet is set (which would otherwise make
 * the number negative).  So 0x7F3A is "7F3A", 0x803A is "00803A", and
 * there are always an even number of digits.  This is the store's serial
 * column (lib/store/store.h: "uppercase hex, no leading zero pairs beyond
 * DER's"), the names of the CA's archive/<SERIAL>.crt files, GetCert
 * lookups and what scepctl prints.  Every serial scepd itself issues has
 * 16 octets with the top bit cleared, where this form and OpenSSL's
 * BN_bn2hex() agree digit for digit; they differ only for a foreign
 * serial with the top bit set, for which `openssl x509 -serial` drops the
 * 00 that this form keeps.
 */
#ifndef SCEP_UTIL_HEX_H
#define SCEP_UTIL_HEX_H

#include <stddef.h>
#include <openssl/asn1.h>

/* Buffer size that holds any RFC 5280 serial (at most 20 content octets,
 * the DER 00 included) in the convention above, with its NUL. */
#define UTIL_SERIAL_HEX_SIZE (2 * 20 + 1)

/*
 * Writes the n bytes at p as 2n hex digits (A-F when upper, else a-f)
 * and a NUL into out of size bytes.  Returns 0, or SCEP_ERR_TOO_LARGE
 * when out is smaller than 2n + 1 (out is then left empty).
 */
int util_hex_encode(const unsigned char *p, size_t n, int upper, char *out, size_t size);

/*
 * Writes serial in the serial convention (see above) and a NUL into buf
 * of size bytes.  Returns 0; SCEP_ERR_INVALID_ARG for a negative or zero
 * serial (RFC 5280 4.1.2.2 wants a positive one) or a NULL argument; or
 * SCEP_ERR_TOO_LARGE when buf is too small.  Nothing is allocated.
 */
int util_serial_hex(const ASN1_INTEGER *serial, char *buf, size_t size);

/*
 * Rewrites a serial typed by a person or printed by another tool into the
 * serial convention, so that it finds the stored record: an optional "0x",
 * ':' separators anywhere, any case, any number of leading zeros, and
 * OpenSSL's form without DER's 00 are all accepted ("0x0a:1B" -> "0A1B",
 * "80ab" and "0080AB" -> "0080AB", "A1B" -> "0A1B").  Writes the result
 * and a NUL into out of size bytes.  Returns 0; SCEP_ERR_INVALID_ARG when
 * text is NULL, empty, not hex or zero; SCEP_ERR_TOO_LARGE when out is
 * too small (out is then left empty).  Nothing is allocated.
 */
int util_serial_text_normalize(const char *text, char *out, size_t size);

#endif
