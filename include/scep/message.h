/*
 * libscep message layer: RFC 8894 pkiMessage and CertRep, encoded and
 * decoded with OpenSSL's CMS API.  Used by the server and by the client.
 *
 * A pkiMessage is a CMS SignedData (signed by the sender) whose content is
 * a CMS EnvelopedData (encrypted to the receiver) holding the messageData:
 * a PKCS#10 CSR (PKCSReq, RenewalReq), IssuerAndSubject (CertPoll),
 * IssuerAndSerialNumber (GetCert, GetCRL), or a degenerate certs-only
 * SignedData (CertRep SUCCESS).  CertRep FAILURE and PENDING carry no
 * content.
 *
 * Decoding is split in stages so that a server can still answer with a
 * signed CertRep FAILURE when a later stage fails:
 *   scep_msg_decode()  structure + signed attributes (no crypto),
 *   scep_msg_verify()  the SignedData signature,
 *   scep_msg_decrypt() the envelope and the messageData inside it.
 *
 * OpenSSL objects cross this API with OpenSSL's own get0 (borrowed) /
 * get1 / set1 (reference taken) conventions.
 */
#ifndef SCEP_MESSAGE_H
#define SCEP_MESSAGE_H

#include <scep/export.h>

#include <stddef.h>
#include <openssl/x509.h>
#include <openssl/evp.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SCEP_NONCE_LEN 16

/* RFC 8894 3.2.1.2 messageType values. 18 is unassigned and rejected. */
enum scep_msg_type {
    SCEP_MSG_CERTREP = 3,
    SCEP_MSG_RENEWALREQ = 17,
    SCEP_MSG_PKCSREQ = 19,
    SCEP_MSG_CERTPOLL = 20,
    SCEP_MSG_GETCERT = 21,
    SCEP_MSG_GETCRL = 22
};

/* RFC 8894 3.2.1.3 pkiStatus values. */
enum scep_pki_status { SCEP_STATUS_SUCCESS = 0, SCEP_STATUS_FAILURE = 2, SCEP_STATUS_PENDING = 3 };

/* Key transport used for the envelope's recipient. */
enum scep_key_transport {
    SCEP_KT_RSA_PKCS1 = 0, /* rsaEncryption, PKCS#1 v1.5 */
    SCEP_KT_RSA_OAEP = 1   /* id-RSAES-OAEP, SHA-1/MGF1-SHA-1 (Windows) */
};

/* Returns "PKCSReq", "CertRep", ... or "unknown"; never NULL. */
SCEP_API const char *scep_msg_type_name(int type);

/*
 * Library initialisation: loads OpenSSL's "default" and "legacy" providers
 * (single DES needs legacy) and registers the SCEP attribute OIDs.
 * Call once before any other libscep function, from one thread.
 * Idempotent.  Returns 0 or SCEP_ERR_*.
 */
SCEP_API int scep_init(void);

/* Frees memory that libscep returned as a byte buffer.  Accepts NULL. */
SCEP_API void scep_free(void *p);

/* ------------------------------------------------------------------ */
/* Decoding                                                           */
/* ------------------------------------------------------------------ */

struct scep_msg; /* opaque */

/*
 * Decodes a pkiMessage (DER, or BER with indefinite lengths as Apple
 * sends) of at most SCEP_MAX_MESSAGE bytes.  Checks: the whole buffer is
 * one ContentInfo with no trailing bytes; it is SignedData with exactly
 * one SignerInfo whose certificate is included (for requests) and whose
 * signed attributes carry messageType, transactionID and senderNonce (all
 * messages) and pkiStatus, recipientNonce, failInfo where a CertRep needs
 * them, each single-valued and of the RFC 8894 type.  The signature is NOT
 * verified here.  On success *out is set; free with scep_msg_free().
 */
SCEP_API int scep_msg_decode(const unsigned char *der, size_t len, struct scep_msg **out);

/*
 * Verifies the SignedData signature (and messageDigest) of a decoded
 * message.  signer NULL: use the certificate the message includes (a
 * request); otherwise the signature must be by that certificate's key
 * (a CertRep checked against the CA/RA certificate).  Only checks the
 * signature, not the certificate's chain; refuses an eContentType other
 * than id-data with SCEP_ERR_CONTENT_TYPE (RFC 8894 3.2).  Returns 0 or
 * SCEP_ERR_*.
 */
SCEP_API int scep_msg_verify(struct scep_msg *m, X509 *signer);

/*
 * Decrypts the EnvelopedData with the recipient's certificate and key and
 * parses the messageData the messageType calls for (CSR, IssuerAndSubject,
 * IssuerAndSerialNumber, or the CertRep's degenerate SignedData).
 * rcpt_cert selects the RecipientInfo (required: see OpenSSL's MMA
 * countermeasure).  Returns 0 or SCEP_ERR_*; a message without content
 * (CertRep FAILURE/PENDING) returns 0 and does nothing.
 */
SCEP_API int scep_msg_decrypt(struct scep_msg *m, X509 *rcpt_cert, EVP_PKEY *rcpt_key);

/* Frees a decoded message and all it holds.  Accepts NULL. */
SCEP_API void scep_msg_free(struct scep_msg *m);

/* Getters: every pointer is borrowed from m and lives as long as m. */
SCEP_API int scep_msg_type(const struct scep_msg *m);
SCEP_API const char *scep_msg_get0_transaction_id(const struct scep_msg *m);
/* 16 bytes */
SCEP_API const unsigned char *scep_msg_get0_sender_nonce(const struct scep_msg *m);
/* NULL if absent */
SCEP_API const unsigned char *scep_msg_get0_recipient_nonce(const struct scep_msg *m);
/* CertRep: enum scep_pki_status, else -1 */
SCEP_API int scep_msg_status(const struct scep_msg *m);
/* CertRep FAILURE: enum scep_fail_info, else -1 */
SCEP_API int scep_msg_fail_info(const struct scep_msg *m);
/* failInfoText, NULL if absent */
SCEP_API const char *scep_msg_get0_fail_text(const struct scep_msg *m);
/* NULL if not included */
SCEP_API X509 *scep_msg_get0_signer_cert(const struct scep_msg *m);
/* all certificates in the SignedData */
SCEP_API STACK_OF(X509) *scep_msg_get0_signed_certs(const struct scep_msg *m);
/* signer's digest, e.g. NID_sha256 */
SCEP_API int scep_msg_digest_nid(const struct scep_msg *m);
/* envelope content cipher, NID_undef if none */
SCEP_API int scep_msg_cipher_nid(const struct scep_msg *m);
/* enum scep_key_transport, -1 if none */
SCEP_API int scep_msg_key_transport(const struct scep_msg *m);

/* After scep_msg_decrypt(): */
/* PKCSReq, RenewalReq */
SCEP_API X509_REQ *scep_msg_get0_csr(const struct scep_msg *m);
/* CertPoll, GetCert, GetCRL */
SCEP_API X509_NAME *scep_msg_get0_issuer(const struct scep_msg *m);
/* CertPoll */
SCEP_API X509_NAME *scep_msg_get0_subject(const struct scep_msg *m);
/* GetCert, GetCRL */
SCEP_API const ASN1_INTEGER *scep_msg_get0_serial(const struct scep_msg *m);
/* CertRep SUCCESS */
SCEP_API STACK_OF(X509) *scep_msg_get0_certs(const struct scep_msg *m);
/* CertRep SUCCESS to GetCRL */
SCEP_API STACK_OF(X509_CRL) *scep_msg_get0_crls(const struct scep_msg *m);

/* ------------------------------------------------------------------ */
/* Encoding                                                           */
/* ------------------------------------------------------------------ */

/*
 * What to build.  Fields a type does not use are ignored.  All pointers
 * are borrowed for the duration of the call.
 */
struct scep_msg_spec {
    int type;                             /* enum scep_msg_type */
    const char *transaction_id;           /* printable, 1..SCEP_MAX_TRANSID chars */
    const unsigned char *sender_nonce;    /* 16 bytes; NULL: fresh random */
    const unsigned char *recipient_nonce; /* CertRep: the request's senderNonce */

    /* signer (the requester, or the CA/RA for a CertRep) */
    X509 *signer_cert;
    EVP_PKEY *signer_key;
    const EVP_MD *md;            /* signature digest; NULL: SHA-256 */
    STACK_OF(X509) *extra_certs; /* added to SignedData.certificates; may be NULL */

    /* envelope */
    STACK_OF(X509) *recipients; /* requests: the CA/RA encryption certs */
    X509 *recipient;            /* CertRep SUCCESS: the requester's signer cert */
    const EVP_CIPHER *cipher;   /* NULL: AES-128-CBC */
    int key_transport;          /* enum scep_key_transport */

    /* messageData */
    X509_REQ *csr;              /* PKCSReq, RenewalReq */
    X509_NAME *issuer;          /* CertPoll, GetCert, GetCRL */
    X509_NAME *subject;         /* CertPoll */
    const ASN1_INTEGER *serial; /* GetCert, GetCRL */

    /* CertRep */
    int status;               /* enum scep_pki_status */
    int fail_info;            /* enum scep_fail_info, FAILURE only */
    const char *fail_text;    /* optional failInfoText, FAILURE only */
    STACK_OF(X509) *certs;    /* SUCCESS: issued cert first, then chain */
    STACK_OF(X509_CRL) *crls; /* SUCCESS to GetCRL */
};

/*
 * Builds the pkiMessage described by spec: a SignedData (signed attributes
 * contentType, signingTime, messageDigest, messageType, transactionID,
 * senderNonce, and for CertRep pkiStatus, recipientNonce, failInfo,
 * failInfoText) over an EnvelopedData where the type carries content.
 * On success *der / *len receive the DER; free with scep_free().
 */
SCEP_API int scep_msg_build(const struct scep_msg_spec *spec, unsigned char **der, size_t *len);

/* ------------------------------------------------------------------ */
/* Degenerate certs-only SignedData and GetNextCACert                 */
/* ------------------------------------------------------------------ */

/*
 * Builds a degenerate certs-only SignedData (no signers, eContent absent)
 * holding certs and crls (either may be NULL).  *der: free with scep_free().
 */
SCEP_API int scep_certs_only_build(STACK_OF(X509) *certs, STACK_OF(X509_CRL) *crls,
                                   unsigned char **der, size_t *len);

/*
 * Parses a degenerate certs-only SignedData.  On success *certs (and *crls
 * when crls is not NULL) receive new stacks the caller frees with
 * sk_X509_pop_free(.., X509_free) / sk_X509_CRL_pop_free(.., X509_CRL_free).
 */
SCEP_API int scep_certs_only_parse(const unsigned char *der, size_t len, STACK_OF(X509) **certs,
                                   STACK_OF(X509_CRL) **crls);

/*
 * GetNextCACert response (RFC 8894 4.6.1): a SignedData signed by the
 * current CA/RA whose encapsulated content is a degenerate certs-only
 * SignedData holding next_certs.  *der: free with scep_free().
 */
SCEP_API int scep_next_ca_build(STACK_OF(X509) *next_certs, X509 *signer_cert, EVP_PKEY *signer_key,
                                const EVP_MD *md, unsigned char **der, size_t *len);

/*
 * Parses and verifies a GetNextCACert response against signer (the current
 * CA/RA certificate).  *next_certs: free with sk_X509_pop_free().
 */
SCEP_API int scep_next_ca_parse(const unsigned char *der, size_t len, X509 *signer,
                                STACK_OF(X509) **next_certs);

#ifdef __cplusplus
}
#endif
#endif
