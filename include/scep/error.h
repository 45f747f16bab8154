/*
 * libscep error codes.
 *
 * Every libscep function returns 0 (SCEP_OK) on success or one of the
 * negative codes below.  scep_strerror() gives a one-line text for each;
 * scep_err_fail_info() maps a code to the RFC 8894 failInfo a server puts
 * into a CertRep FAILURE when that code is why it refused a request.
 */
#ifndef SCEP_ERROR_H
#define SCEP_ERROR_H

#include <scep/export.h>

#ifdef __cplusplus
extern "C" {
#endif

enum scep_err {
    SCEP_OK = 0,

    /* generic */
    SCEP_ERR_INTERNAL = -1,     /* a bug or an OpenSSL failure we cannot classify */
    SCEP_ERR_NOMEM = -2,        /* allocation failed */
    SCEP_ERR_INVALID_ARG = -3,  /* caller passed something unusable */
    SCEP_ERR_TOO_LARGE = -4,    /* input exceeds a hard limit (scep/limits.h) */
    SCEP_ERR_IO = -5,           /* file or socket I/O failed */
    SCEP_ERR_NOT_FOUND = -6,    /* no such record / file */
    SCEP_ERR_EXISTS = -7,       /* already exists (file, serial, CA) */
    SCEP_ERR_PERMISSIONS = -8,  /* key file readable by group or others */
    SCEP_ERR_CONFIG = -9,       /* invalid configuration value */
    SCEP_ERR_STORE = -10,       /* the database failed */
    SCEP_ERR_UNSUPPORTED = -11, /* feature not available in this build/setup */
    SCEP_ERR_UNAVAILABLE = -12, /* the database cannot be reached now; try again later */

    /* encoding: the bytes are not what RFC 8894 says they must be */
    SCEP_ERR_BASE64 = -20,         /* message= parameter is not base64 */
    SCEP_ERR_DER = -21,            /* not decodable DER/BER */
    SCEP_ERR_TRAILING = -22,       /* bytes after the outer ContentInfo */
    SCEP_ERR_NOT_SIGNED = -23,     /* outer ContentInfo is not SignedData (RFC 8894 3.1) */
    SCEP_ERR_SIGNER_COUNT = -24,   /* not exactly one SignerInfo (3.1) */
    SCEP_ERR_NO_SIGNER_CERT = -25, /* signer certificate not included / not found (3.1) */
    SCEP_ERR_ATTR_MISSING = -26,   /* a mandatory signed attribute is absent (3.2.1) */
    SCEP_ERR_ATTR_TYPE = -27,      /* attribute of wrong ASN.1 type or multi-valued (3.2.1) */
    SCEP_ERR_MSG_TYPE = -28,       /* unknown or unexpected messageType (3.2.1.2) */
    SCEP_ERR_NONCE = -29,          /* nonce not 16 bytes, or recipientNonce mismatch (3.2.1.5) */
    SCEP_ERR_TRANSID = -30,        /* transactionID empty, too long or mismatched (3.2.1.1) */
    SCEP_ERR_NOT_ENVELOPED = -31,  /* messageData is not EnvelopedData (3.1) */
    SCEP_ERR_CONTENT = -32,        /* decrypted content is not the type the messageType needs */
    SCEP_ERR_STATUS = -33,         /* pkiStatus / failInfo missing or invalid (3.2.1.3) */
    SCEP_ERR_CONTENT_TYPE = -34,   /* SignedData eContentType is not id-data (3.2) */

    /* cryptography */
    SCEP_ERR_SIGNATURE = -40, /* SignedData signature does not verify */
    SCEP_ERR_DECRYPT = -41,   /* envelope cannot be decrypted with our key */
    SCEP_ERR_BAD_ALG = -42,   /* digest, cipher or key algorithm we do not accept */
    SCEP_ERR_CSR = -43,       /* PKCS#10 malformed */
    SCEP_ERR_POP = -44,       /* CSR self-signature (proof of possession) fails */
    SCEP_ERR_KEY = -45,       /* key unusable (type, size) */

    /* policy: the request is well formed but refused */
    SCEP_ERR_CHALLENGE = -60,     /* challenge password missing or wrong */
    SCEP_ERR_POLICY = -61,        /* the profile refuses the request */
    SCEP_ERR_RENEWAL = -62,       /* renewal signer not a valid certificate of this CA */
    SCEP_ERR_TRANSID_REUSE = -63, /* transactionID reused with another public key */
    SCEP_ERR_CERT_UNKNOWN = -64,  /* GetCert/CertPoll names nothing we know (badCertId) */
    SCEP_ERR_BAD_TIME = -65,      /* signingTime or signer validity out of range */
    SCEP_ERR_REJECTED = -66,      /* an administrator rejected the request */

    /* client side */
    SCEP_ERR_HTTP = -80,       /* transport failed or server answered non-2xx */
    SCEP_ERR_FAILURE = -81,    /* the server answered CertRep FAILURE */
    SCEP_ERR_PENDING = -82,    /* the server answered CertRep PENDING */
    SCEP_ERR_FINGERPRINT = -83 /* CA certificate does not match the pinned fingerprint */
};

/* RFC 8894 3.2.1.4 failInfo values. */
enum scep_fail_info {
    SCEP_FAIL_BAD_ALG = 0,
    SCEP_FAIL_BAD_MESSAGE_CHECK = 1,
    SCEP_FAIL_BAD_REQUEST = 2,
    SCEP_FAIL_BAD_TIME = 3,
    SCEP_FAIL_BAD_CERT_ID = 4
};

/* Returns a static, human-readable text for an error code; never NULL. */
SCEP_API const char *scep_strerror(int err);

/* Returns the failInfo a server sends when refusing a request for reason err. */
SCEP_API enum scep_fail_info scep_err_fail_info(int err);

/* Returns the RFC 8894 name of a failInfo ("badAlg", ...); never NULL. */
SCEP_API const char *scep_fail_info_name(int fail_info);

#ifdef __cplusplus
}
#endif
#endif
