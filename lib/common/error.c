/*
 * Error texts and the mapping from error codes to RFC 8894 failInfo.
 */
#include <scep/error.h>

const char *scep_strerror(int err)
{
    switch (err) {
    case SCEP_OK:
        return "success";
    case SCEP_ERR_INTERNAL:
        return "internal error";
    case SCEP_ERR_NOMEM:
        return "out of memory";
    case SCEP_ERR_INVALID_ARG:
        return "invalid argument";
    case SCEP_ERR_TOO_LARGE:
        return "input exceeds a size limit";
    case SCEP_ERR_IO:
        return "I/O error";
    case SCEP_ERR_NOT_FOUND:
        return "not found";
    case SCEP_ERR_EXISTS:
        return "already exists";
    case SCEP_ERR_PERMISSIONS:
        return "key file is accessible by group or others";
    case SCEP_ERR_CONFIG:
        return "invalid configuration";
    case SCEP_ERR_STORE:
        return "database error";
    case SCEP_ERR_UNSUPPORTED:
        return "not supported";
    case SCEP_ERR_UNAVAILABLE:
        return "database unreachable";
    case SCEP_ERR_BASE64:
        return "message is not valid base64";
    case SCEP_ERR_DER:
        return "message is not valid DER/BER";
    case SCEP_ERR_TRAILING:
        return "trailing bytes after the message";
    case SCEP_ERR_NOT_SIGNED:
        return "message is not a CMS SignedData (RFC 8894 3.1)";
    case SCEP_ERR_SIGNER_COUNT:
        return "message must have exactly one signer (RFC 8894 3.1)";
    case SCEP_ERR_NO_SIGNER_CERT:
        return "signer certificate not included (RFC 8894 3.1)";
    case SCEP_ERR_ATTR_MISSING:
        return "mandatory signed attribute missing (RFC 8894 3.2.1)";
    case SCEP_ERR_ATTR_TYPE:
        return "signed attribute has the wrong type or several values (RFC 8894 3.2.1)";
    case SCEP_ERR_MSG_TYPE:
        return "unknown or unexpected messageType (RFC 8894 3.2.1.2)";
    case SCEP_ERR_NONCE:
        return "nonce invalid or mismatched (RFC 8894 3.2.1.5)";
    case SCEP_ERR_TRANSID:
        return "transactionID invalid or mismatched (RFC 8894 3.2.1.1)";
    case SCEP_ERR_NOT_ENVELOPED:
        return "messageData is not a CMS EnvelopedData (RFC 8894 3.1)";
    case SCEP_ERR_CONTENT:
        return "decrypted messageData is not what the messageType requires";
    case SCEP_ERR_STATUS:
        return "pkiStatus or failInfo missing or invalid (RFC 8894 3.2.1.3)";
    case SCEP_ERR_CONTENT_TYPE:
        return "SignedData eContentType is not id-data (RFC 8894 3.2)";
    case SCEP_ERR_SIGNATURE:
        return "message signature does not verify";
    case SCEP_ERR_DECRYPT:
        return "message cannot be decrypted with the CA/RA key";
    case SCEP_ERR_BAD_ALG:
        return "unsupported algorithm";
    case SCEP_ERR_CSR:
        return "certificate request is malformed";
    case SCEP_ERR_POP:
        return "certificate request signature does not verify (proof of possession)";
    case SCEP_ERR_KEY:
        return "key type or size not accepted";
    case SCEP_ERR_CHALLENGE:
        return "challenge password missing or wrong";
    case SCEP_ERR_POLICY:
        return "request refused by policy";
    case SCEP_ERR_RENEWAL:
        return "renewal must be signed by a valid certificate of this CA";
    case SCEP_ERR_TRANSID_REUSE:
        return "transactionID already used with another public key";
    case SCEP_ERR_CERT_UNKNOWN:
        return "no such certificate or request";
    case SCEP_ERR_BAD_TIME:
        return "message or certificate time out of range";
    case SCEP_ERR_REJECTED:
        return "request rejected by an administrator";
    case SCEP_ERR_HTTP:
        return "HTTP transport failed";
    case SCEP_ERR_FAILURE:
        return "server answered FAILURE";
    case SCEP_ERR_PENDING:
        return "request is pending approval";
    case SCEP_ERR_FINGERPRINT:
        return "CA certificate does not match the pinned fingerprint";
    }
    return "unknown error";
}

enum scep_fail_info scep_err_fail_info(int err)
{
    switch (err) {
    case SCEP_ERR_BAD_ALG:
    case SCEP_ERR_KEY:
        return SCEP_FAIL_BAD_ALG;
    case SCEP_ERR_SIGNATURE:
    case SCEP_ERR_DECRYPT:
    case SCEP_ERR_POP:
        return SCEP_FAIL_BAD_MESSAGE_CHECK;
    case SCEP_ERR_BAD_TIME:
        return SCEP_FAIL_BAD_TIME;
    case SCEP_ERR_CERT_UNKNOWN:
        return SCEP_FAIL_BAD_CERT_ID;
    default:
        return SCEP_FAIL_BAD_REQUEST;
    }
}

const char *scep_fail_info_name(int fail_info)
{
    switch (fail_info) {
    case SCEP_FAIL_BAD_ALG:
        return "badAlg";
    case SCEP_FAIL_BAD_MESSAGE_CHECK:
        return "badMessageCheck";
    case SCEP_FAIL_BAD_REQUEST:
        return "badRequest";
    case SCEP_FAIL_BAD_TIME:
        return "badTime";
    case SCEP_FAIL_BAD_CERT_ID:
        return "badCertId";
    }
    return "unknown";
}
