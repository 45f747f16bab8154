/*
 * Private declarations of the libscep message layer (lib/msg/): the
 * decoded-message struct behind the opaque struct scep_msg, the SCEP
 * attribute OIDs registered by scep_init(), and the helpers the files of
 * this directory share.  Nothing here is part of the public API: these
 * names carry the msg_ prefix (scep_ is reserved for include/scep/) and
 * are hidden in libscep.so, so only code linked into the same program
 * (the object library scep_objs or libscep.a) can call them.
 */
#ifndef SCEP_MSG_INTERNAL_H
#define SCEP_MSG_INTERNAL_H

#include <stddef.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/x509.h>

#include <scep/limits.h>
#include <scep/message.h>

/* The SCEP signed attributes (RFC 8894 3.2.1), indexes into the table
 * that scep_init() fills. */
enum msg_attr {
    MSG_ATTR_MESSAGE_TYPE = 0,
    MSG_ATTR_PKI_STATUS,
    MSG_ATTR_FAIL_INFO,
    MSG_ATTR_SENDER_NONCE,
    MSG_ATTR_RECIPIENT_NONCE,
    MSG_ATTR_TRANSACTION_ID,
    MSG_ATTR_FAIL_INFO_TEXT,
    MSG_ATTR_COUNT
};

/* The decoded message behind struct scep_msg. */
struct scep_msg {
    CMS_ContentInfo *cms; /* the outer SignedData */
    int type;             /* enum scep_msg_type */
    char transaction_id[SCEP_MAX_TRANSID + 1];
    unsigned char sender_nonce[SCEP_NONCE_LEN];
    unsigned char recipient_nonce[SCEP_NONCE_LEN];
    int has_recipient_nonce;
    int status;            /* -1 unless CertRep */
    int fail_info;         /* -1 unless CertRep FAILURE */
    char *fail_text;       /* NUL-terminated copy of failInfoText, or NULL */
    X509 *signer_cert;     /* reference, or NULL if not included */
    STACK_OF(X509) *certs; /* every certificate of the SignedData */
    int digest_nid;
    int econtent_nid;       /* eContentType of the SignedData; RFC 8894 3.2 wants id-data */
    int cipher_nid;         /* NID_undef when there is no envelope */
    int key_transport;      /* -1 when there is no envelope */
    unsigned char *env_der; /* the EnvelopedData ContentInfo, or NULL */
    size_t env_len;
    int verified;

    /* messageData, filled by scep_msg_decrypt() */
    X509_REQ *csr;
    X509_NAME *issuer;
    X509_NAME *subject;
    ASN1_INTEGER *serial;
    STACK_OF(X509) *rep_certs;
    STACK_OF(X509_CRL) *rep_crls;
};

/* init.c */
/* The ASN1_OBJECT of attribute a, borrowed from a table scep_init() fills
 * once; NULL before scep_init().  Read-only afterwards, so thread-safe. */
const ASN1_OBJECT *msg_attr_obj(enum msg_attr a);
/* Ensures the OIDs exist even if the caller forgot scep_init().
 * Returns 0 or SCEP_ERR_*. */
int msg_ready(void);

/* Whether an allowed envelope cipher can run (init.c, found once). */
int msg_cipher_available(int nid);

/* attrs.c */
int msg_attrs_write(CMS_SignerInfo *si, const struct scep_msg_spec *spec,
                    const unsigned char *sender_nonce);
int msg_attrs_read(CMS_SignerInfo *si, struct scep_msg *m);
int msg_transid_valid(const char *s, size_t len);

/* envelope.c */
int msg_envelope_build(const unsigned char *data, size_t len, STACK_OF(X509) *rcpts,
                       const EVP_CIPHER *cipher, int key_transport, unsigned char **der,
                       size_t *der_len);
int msg_envelope_algs(const unsigned char *der, size_t len, int *cipher_nid, int *kt);
int msg_envelope_open(const unsigned char *der, size_t len, X509 *cert, EVP_PKEY *key,
                      unsigned char **out, size_t *out_len);

/* content.c */
int msg_content_encode(const struct scep_msg_spec *spec, unsigned char **der, size_t *len);
int msg_content_decode(struct scep_msg *m, const unsigned char *der, size_t len);

/* sign.c */
int msg_signed_start(X509 *cert, EVP_PKEY *key, const EVP_MD *md, STACK_OF(X509) *extra,
                     CMS_ContentInfo **cms, CMS_SignerInfo **si);
int msg_signed_finish(CMS_ContentInfo *cms, const unsigned char *data, size_t len, int detached,
                      unsigned char **der, size_t *der_len);

/* util.c */
int msg_bio_to_buf(BIO *bio, size_t max, unsigned char **out, size_t *len);
int msg_cms_to_der(CMS_ContentInfo *cms, unsigned char **der, size_t *len);
int msg_cms_from_der(const unsigned char *der, size_t len, CMS_ContentInfo **out);
int msg_digest_allowed(int nid);

#endif
