/*
 * Accessors of a decoded struct scep_msg and its destructor.  Every
 * pointer returned is borrowed from the message (OpenSSL's get0
 * convention) and lives until scep_msg_free().  The getters only read,
 * so several threads may share one decoded message once it is complete.
 */
#include <openssl/cms.h>

#include <scep/message.h>

#include "msg_internal.h"

/* Returns the RFC 8894 name of a messageType, "unknown" otherwise. */
const char *scep_msg_type_name(int type)
{
    switch (type) {
    case SCEP_MSG_CERTREP:
        return "CertRep";
    case SCEP_MSG_RENEWALREQ:
        return "RenewalReq";
    case SCEP_MSG_PKCSREQ:
        return "PKCSReq";
    case SCEP_MSG_CERTPOLL:
        return "CertPoll";
    case SCEP_MSG_GETCERT:
        return "GetCert";
    case SCEP_MSG_GETCRL:
        return "GetCRL";
    default:
        return "unknown";
    }
}

/* Frees m and everything it holds.  Accepts NULL. */
void scep_msg_free(struct scep_msg *m)
{
    if (m == NULL)
        return;
    CMS_ContentInfo_free(m->cms);
    OPENSSL_free(m->fail_text);
    X509_free(m->signer_cert);
    sk_X509_pop_free(m->certs, X509_free);
    OPENSSL_free(m->env_der);
    X509_REQ_free(m->csr);
    X509_NAME_free(m->issuer);
    X509_NAME_free(m->subject);
    ASN1_INTEGER_free(m->serial);
    sk_X509_pop_free(m->rep_certs, X509_free);
    sk_X509_CRL_pop_free(m->rep_crls, X509_CRL_free);
    OPENSSL_free(m);
}

/* enum scep_msg_type of m. */
int scep_msg_type(const struct scep_msg *m)
{
    return m->type;
}

/* transactionID as a NUL-terminated PrintableString; borrowed. */
const char *scep_msg_get0_transaction_id(const struct scep_msg *m)
{
    return m->transaction_id;
}

/* senderNonce, SCEP_NONCE_LEN bytes; borrowed. */
const unsigned char *scep_msg_get0_sender_nonce(const struct scep_msg *m)
{
    return m->sender_nonce;
}

/* recipientNonce, SCEP_NONCE_LEN bytes, or NULL if absent; borrowed. */
const unsigned char *scep_msg_get0_recipient_nonce(const struct scep_msg *m)
{
    return m->has_recipient_nonce ? m->recipient_nonce : NULL;
}

/* pkiStatus of a CertRep, -1 for requests. */
int scep_msg_status(const struct scep_msg *m)
{
    return m->status;
}

/* failInfo of a CertRep FAILURE, -1 otherwise. */
int scep_msg_fail_info(const struct scep_msg *m)
{
    return m->fail_info;
}

/* failInfoText (NUL-terminated, at most SCEP_MAX_FAIL_TEXT bytes) or
 * NULL; borrowed. */
const char *scep_msg_get0_fail_text(const struct scep_msg *m)
{
    return m->fail_text;
}

/* The signer's certificate if the message included it; borrowed. */
X509 *scep_msg_get0_signer_cert(const struct scep_msg *m)
{
    return m->signer_cert;
}

/* Every certificate of the SignedData (NULL if none); borrowed. */
STACK_OF(X509) *scep_msg_get0_signed_certs(const struct scep_msg *m)
{
    return m->certs;
}

/* NID of the signer's digest algorithm, NID_undef if unreadable. */
int scep_msg_digest_nid(const struct scep_msg *m)
{
    return m->digest_nid;
}

/* NID of the envelope's content cipher, NID_undef without envelope. */
int scep_msg_cipher_nid(const struct scep_msg *m)
{
    return m->cipher_nid;
}

/* enum scep_key_transport of the envelope, -1 without envelope. */
int scep_msg_key_transport(const struct scep_msg *m)
{
    return m->key_transport;
}

/* The CSR of a decrypted PKCSReq/RenewalReq, else NULL; borrowed. */
X509_REQ *scep_msg_get0_csr(const struct scep_msg *m)
{
    return m->csr;
}

/* The issuer of a decrypted CertPoll/GetCert/GetCRL, else NULL; borrowed. */
X509_NAME *scep_msg_get0_issuer(const struct scep_msg *m)
{
    return m->issuer;
}

/* The subject of a decrypted CertPoll, else NULL; borrowed. */
X509_NAME *scep_msg_get0_subject(const struct scep_msg *m)
{
    return m->subject;
}

/* The serial number of a decrypted GetCert/GetCRL, else NULL; borrowed. */
const ASN1_INTEGER *scep_msg_get0_serial(const struct scep_msg *m)
{
    return m->serial;
}

/* The certificates of a decrypted CertRep SUCCESS, else NULL; borrowed. */
STACK_OF(X509) *scep_msg_get0_certs(const struct scep_msg *m)
{
    return m->rep_certs;
}

/* The CRLs of a decrypted CertRep SUCCESS, else NULL; borrowed. */
STACK_OF(X509_CRL) *scep_msg_get0_crls(const struct scep_msg *m)
{
    return m->rep_crls;
}
