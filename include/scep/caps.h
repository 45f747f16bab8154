/*
 * libscep capabilities (RFC 8894 3.5.2): the GetCACaps keyword list as a
 * bit set, formatted by servers and parsed by clients.
 */
#ifndef SCEP_CAPS_H
#define SCEP_CAPS_H

#include <scep/export.h>

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum scep_cap {
    SCEP_CAP_AES = 1u << 0,
    SCEP_CAP_DES3 = 1u << 1,
    SCEP_CAP_GET_NEXT_CA_CERT = 1u << 2,
    SCEP_CAP_POST_PKI_OPERATION = 1u << 3,
    SCEP_CAP_RENEWAL = 1u << 4,
    SCEP_CAP_SHA1 = 1u << 5,
    SCEP_CAP_SHA224 = 1u << 6,
    SCEP_CAP_SHA256 = 1u << 7,
    SCEP_CAP_SHA384 = 1u << 8,
    SCEP_CAP_SHA512 = 1u << 9,
    SCEP_CAP_SCEP_STANDARD = 1u << 10
};

/*
 * Formats caps as the GetCACaps body: one keyword per line with the exact
 * RFC spellings, "\n" line ends, in a fixed order.  Writes at most size
 * bytes including the NUL.  Returns the length written (without NUL) or
 * SCEP_ERR_TOO_LARGE when buf is too small.
 */
SCEP_API int scep_caps_format(unsigned caps, char *buf, size_t size);

/*
 * Parses a GetCACaps body of len bytes (not NUL-terminated): keywords are
 * matched without regard to case, CRLF or LF separated; unknown keywords
 * are ignored.  SCEPStandard implies AES, POSTPKIOperation and SHA-256.
 * Returns the bit set (0 for an empty body); never fails.
 */
SCEP_API unsigned scep_caps_parse(const char *body, size_t len);

#ifdef __cplusplus
}
#endif
#endif
