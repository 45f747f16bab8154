/*
 * The hard limits of libscep: messages, their attributes, certificates,
 * CSRs and keys, as the message layer and the client enforce them.
 * Untrusted input larger than these is refused before it is parsed
 * further.  The server's own limits (HTTP headers and body, timeouts,
 * connections, workers) are not part of the library; they live in
 * lib/common/server_limits.h, which includes this header so that the
 * server code sees every limit from one place.
 */
#ifndef SCEP_LIMITS_H
#define SCEP_LIMITS_H

/* A pkiMessage in DER: a 4096-bit CSR with SANs wrapped twice stays far
 * below this; Apple's BER with indefinite lengths adds a few bytes. */
#define SCEP_MAX_MESSAGE (64 * 1024)

/* The whole query string of a GET (base64 of SCEP_MAX_MESSAGE, escaped
 * at worst three bytes per character, plus the operation name). */
#define SCEP_MAX_QUERY (4 * SCEP_MAX_MESSAGE + 256)

/* transactionID: RFC 8894 recommends a hash in hex (64 chars for SHA-256);
 * Windows sends 40-char hex, others base64.  Anything printable fits. */
#define SCEP_MAX_TRANSID 128

/* failInfoText we send or accept. */
#define SCEP_MAX_FAIL_TEXT 256

/* Certificates accepted in one SignedData (signer + chain, or a CertRep's
 * issued cert + chain). */
#define SCEP_MAX_CERTS 16

/* Subject alternative names copied from one CSR. */
#define SCEP_MAX_SANS 64

/* Subject DN in its RFC 2253 text form. */
#define SCEP_MAX_SUBJECT 1024

/* Challenge password in a CSR (PKCS#9 allows 255). */
#define SCEP_MAX_CHALLENGE 255

/* Certificate chain depth accepted when verifying a renewal signer. */
#define SCEP_MAX_CHAIN_DEPTH 8

/* RSA modulus sizes accepted in CSRs and for keys we make. */
#define SCEP_MIN_RSA_BITS 2048
#define SCEP_MAX_RSA_BITS 8192

#endif
