/*
 * libscep transport encodings: the base64 form of a pkiMessage carried in
 * the message= query parameter of a GET PKIOperation (RFC 8894 4.1), as
 * servers must read it from real clients and as clients send it.
 */
#ifndef SCEP_ENCODING_H
#define SCEP_ENCODING_H

#include <scep/export.h>

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Decodes the raw (still percent-escaped) value of a message= parameter
 * as real clients send it: percent-decoding that keeps '+' (a space is
 * turned back into '+', as iOS 11 sends it), CR/LF dropped, base64url
 * '-'/'_' mapped to '+'/'/', missing '=' padding tolerated.  Input longer
 * than SCEP_MAX_QUERY or output longer than SCEP_MAX_MESSAGE is refused.
 * On success *out / *outlen receive the bytes; free with scep_free().
 */
SCEP_API int scep_query_message_decode(const char *value, size_t len, unsigned char **out,
                                       size_t *outlen);

/*
 * Encodes der as standard base64 with '+', '/' and '=' percent-escaped,
 * ready to append after "message=".  On success *out is a NUL-terminated
 * string; free with scep_free().
 */
SCEP_API int scep_query_message_encode(const unsigned char *der, size_t len, char **out);

#ifdef __cplusplus
}
#endif
#endif
