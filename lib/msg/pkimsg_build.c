/*
 * Building a pkiMessage (RFC 8894 3): the requests PKCSReq, RenewalReq,
 * CertPoll, GetCert and GetCRL, and the CertRep a server answers with.
 * The messageData is encoded (content.c), encrypted to the receiver
 * (envelope.c), and the EnvelopedData is signed with the SCEP attributes
 * (attrs.c, sign.c).  A CertRep FAILURE or PENDING has no content at all.
 */
#include <string.h>

#include <openssl/cms.h>
#include <openssl/rand.h>

#include <scep/error.h>
#include <scep/limits.h>
#include <scep/message.h>

#include "msg_internal.h"

/* Checks what every message needs and what its type needs. */
static int spec_check(const struct scep_msg_spec *s)
{
    if (s->transaction_id == NULL ||
        !msg_transid_valid(s->transaction_id, strnlen(s->transaction_id, SCEP_MAX_TRANSID + 1)))
        return SCEP_ERR_TRANSID;
    if (s->signer_cert == NULL || s->signer_key == NULL)
        return SCEP_ERR_INVALID_ARG;
    switch (s->type) {
    case SCEP_MSG_PKCSREQ:
    case SCEP_MSG_RENEWALREQ:
    case SCEP_MSG_CERTPOLL:
    case SCEP_MSG_GETCERT:
    case SCEP_MSG_GETCRL:
        if (sk_X509_num(s->recipients) < 1)
            return SCEP_ERR_INVALID_ARG;
        return 0;
    case SCEP_MSG_CERTREP:
        break;
    default:
        return SCEP_ERR_MSG_TYPE;
    }
    if (s->recipient_nonce == NULL)
        return SCEP_ERR_NONCE;
    switch (s->status) {
    case SCEP_STATUS_SUCCESS:
        return s->recipient == NULL ? SCEP_ERR_INVALID_ARG : 0;
    case SCEP_STATUS_FAILURE:
        if (s->fail_info < SCEP_FAIL_BAD_ALG || s->fail_info > SCEP_FAIL_BAD_CERT_ID)
            return SCEP_ERR_STATUS;
        if (s->fail_text != NULL &&
            strnlen(s->fail_text, SCEP_MAX_FAIL_TEXT + 1) > SCEP_MAX_FAIL_TEXT)
            return SCEP_ERR_TOO_LARGE;
        return 0;
    case SCEP_STATUS_PENDING:
        return 0;
    default:
        return SCEP_ERR_STATUS;
    }
}

/* Whether this message carries an envelope. */
static int has_content(const struct scep_msg_spec *s)
{
    return s->type != SCEP_MSG_CERTREP || s->status == SCEP_STATUS_SUCCESS;
}

/*
 * Builds the pkiMessage spec describes (see message.h).  On success *der
 * (free with scep_free()) / *len hold its DER.  Returns 0 or SCEP_ERR_*:
 * SCEP_ERR_TRANSID, SCEP_ERR_NONCE, SCEP_ERR_STATUS, SCEP_ERR_MSG_TYPE or
 * SCEP_ERR_INVALID_ARG for an incomplete spec, SCEP_ERR_BAD_ALG for a
 * cipher or digest outside the SCEP set or not available.
 */
int scep_msg_build(const struct scep_msg_spec *spec, unsigned char **der, size_t *len)
{
    CMS_ContentInfo *cms = NULL;
    CMS_SignerInfo *si = NULL;
    STACK_OF(X509) *one = NULL;
    STACK_OF(X509) *rcpts;
    unsigned char nonce[SCEP_NONCE_LEN];
    unsigned char *data = NULL, *env = NULL;
    size_t data_len = 0, env_len = 0;
    int rc;

    if (spec == NULL || der == NULL || len == NULL)
        return SCEP_ERR_INVALID_ARG;
    if ((rc = msg_ready()) != 0)
        return rc;
    if ((rc = spec_check(spec)) != 0)
        goto out;

    if (spec->sender_nonce != NULL) {
        memcpy(nonce, spec->sender_nonce, sizeof(nonce));
    } else if (RAND_bytes(nonce, (int)sizeof(nonce)) != 1) {
        rc = SCEP_ERR_INTERNAL;
        goto out;
    }

    if (has_content(spec)) {
        if ((rc = msg_content_encode(spec, &data, &data_len)) != 0)
            goto out;
        rcpts = spec->recipients;
        if (spec->type == SCEP_MSG_CERTREP) {
            /* A CertRep is encrypted to the certificate that signed the
             * request (RFC 8894 3.3.2). */
            rc = SCEP_ERR_NOMEM;
            if ((one = sk_X509_new_null()) == NULL || !sk_X509_push(one, spec->recipient))
                goto out;
            rcpts = one;
        }
        if ((rc = msg_envelope_build(data, data_len, rcpts, spec->cipher, spec->key_transport, &env,
                                     &env_len)) != 0)
            goto out;
    }

    if ((rc = msg_signed_start(spec->signer_cert, spec->signer_key, spec->md, spec->extra_certs,
                               &cms, &si)) != 0)
        goto out;
    if ((rc = msg_attrs_write(si, spec, nonce)) != 0)
        goto out;
    rc = msg_signed_finish(cms, env, env_len, env == NULL, der, len);
out:
    sk_X509_free(one);
    OPENSSL_free(data);
    OPENSSL_free(env);
    CMS_ContentInfo_free(cms);
    return rc;
}
