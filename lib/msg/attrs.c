/*
 * The SCEP signed attributes (RFC 8894 3.2.1): writing them into the
 * SignerInfo of a message we build, and reading them back out of one we
 * received.  Every attribute must be present at most once with exactly
 * one value of exactly the RFC's ASN.1 type: messageType, pkiStatus,
 * failInfo and transactionID are PrintableStrings, the nonces 16-byte
 * OCTET STRINGs, failInfoText a UTF8String.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/err.h>

#include <scep/error.h>
#include <scep/limits.h>
#include <scep/message.h>

#include "msg_internal.h"

/* The PrintableString alphabet (X.680 41.4). */
static int printable_char(unsigned char c)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
        return 1;
    return c != '\0' && strchr(" '()+,-./:=?", c) != NULL;
}

/*
 * Checks a transactionID of len bytes: 1..SCEP_MAX_TRANSID characters of
 * the PrintableString alphabet (RFC 8894 3.2.1.1).  Returns 1 if valid.
 */
int msg_transid_valid(const char *s, size_t len)
{
    size_t i;

    if (s == NULL || len == 0 || len > SCEP_MAX_TRANSID)
        return 0;
    for (i = 0; i < len; i++)
        if (!printable_char((unsigned char)s[i]))
            return 0;
    return 1;
}

/* Adds one attribute.  The explicit length matters: with -1 OpenSSL would
 * take bytes for an ASN1_STRING * and crash on a plain char array. */
static int add_attr(CMS_SignerInfo *si, enum msg_attr a, int type, const void *bytes, size_t len)
{
    const ASN1_OBJECT *obj = msg_attr_obj(a);

    if (obj == NULL || len > (size_t)SCEP_MAX_MESSAGE)
        return SCEP_ERR_INTERNAL;
    if (!CMS_signed_add1_attr_by_OBJ(si, obj, type, bytes, (int)len))
        return SCEP_ERR_NOMEM;
    return 0;
}

/* A small decimal number as a PrintableString attribute. */
static int add_number(CMS_SignerInfo *si, enum msg_attr a, int v)
{
    char buf[16];
    int n = snprintf(buf, sizeof(buf), "%d", v);

    if (n <= 0 || (size_t)n >= sizeof(buf))
        return SCEP_ERR_INTERNAL;
    return add_attr(si, a, V_ASN1_PRINTABLESTRING, buf, (size_t)n);
}

/*
 * Writes the SCEP attributes that spec calls for into si: messageType,
 * transactionID, senderNonce for every message; pkiStatus and
 * recipientNonce for a CertRep, plus failInfo and failInfoText (if given)
 * for FAILURE.  The caller has validated spec.  Returns 0 or SCEP_ERR_*.
 */
int msg_attrs_write(CMS_SignerInfo *si, const struct scep_msg_spec *spec,
                    const unsigned char *sender_nonce)
{
    int rc;

    if ((rc = add_number(si, MSG_ATTR_MESSAGE_TYPE, spec->type)) != 0)
        return rc;
    if ((rc = add_attr(si, MSG_ATTR_TRANSACTION_ID, V_ASN1_PRINTABLESTRING, spec->transaction_id,
                       strlen(spec->transaction_id))) != 0)
        return rc;
    if ((rc = add_attr(si, MSG_ATTR_SENDER_NONCE, V_ASN1_OCTET_STRING, sender_nonce,
                       SCEP_NONCE_LEN)) != 0)
        return rc;
    if (spec->type != SCEP_MSG_CERTREP)
        return 0;
    if ((rc = add_number(si, MSG_ATTR_PKI_STATUS, spec->status)) != 0)
        return rc;
    if ((rc = add_attr(si, MSG_ATTR_RECIPIENT_NONCE, V_ASN1_OCTET_STRING, spec->recipient_nonce,
                       SCEP_NONCE_LEN)) != 0)
        return rc;
    if (spec->status != SCEP_STATUS_FAILURE)
        return 0;
    if ((rc = add_number(si, MSG_ATTR_FAIL_INFO, spec->fail_info)) != 0)
        return rc;
    if (spec->fail_text != NULL && spec->fail_text[0] != '\0')
        rc = add_attr(si, MSG_ATTR_FAIL_INFO_TEXT, V_ASN1_UTF8STRING, spec->fail_text,
                      strlen(spec->fail_text));
    return rc;
}

/*
 * Fetches attribute a of ASN.1 type.  OpenSSL's lastpos -3 asks for an
 * attribute that occurs once with a single value of that type; on NULL we
 * look again without the type to tell "absent" from "malformed".
 */
static int get_attr(CMS_SignerInfo *si, enum msg_attr a, int type, const ASN1_STRING **out)
{
    const ASN1_OBJECT *obj = msg_attr_obj(a);
    const ASN1_STRING *s;

    if (obj == NULL)
        return SCEP_ERR_INTERNAL;
    s = CMS_signed_get0_data_by_OBJ(si, obj, -3, type);
    if (s == NULL) {
        ERR_clear_error();
        if (CMS_signed_get_attr_by_OBJ(si, obj, -1) < 0)
            return SCEP_ERR_ATTR_MISSING;
        return SCEP_ERR_ATTR_TYPE;
    }
    *out = s;
    return 0;
}

/* A PrintableString holding a decimal number of at most 3 digits; bad is
 * the error for a string that is not such a number. */
static int get_number(CMS_SignerInfo *si, enum msg_attr a, int bad, int *v)
{
    const ASN1_STRING *s = NULL;
    const unsigned char *d;
    int i, len, n = 0;
    int rc;

    if ((rc = get_attr(si, a, V_ASN1_PRINTABLESTRING, &s)) != 0)
        return rc;
    d = ASN1_STRING_get0_data(s);
    len = ASN1_STRING_length(s);
    if (len < 1 || len > 3)
        return bad;
    for (i = 0; i < len; i++) {
        if (d[i] < '0' || d[i] > '9')
            return bad;
        n = n * 10 + (d[i] - '0');
    }
    *v = n;
    return 0;
}

/* A 16-byte OCTET STRING nonce. */
static int get_nonce(CMS_SignerInfo *si, enum msg_attr a, unsigned char *out)
{
    const ASN1_STRING *s = NULL;
    int rc;

    if ((rc = get_attr(si, a, V_ASN1_OCTET_STRING, &s)) != 0)
        return rc;
    if (ASN1_STRING_length(s) != SCEP_NONCE_LEN)
        return SCEP_ERR_NONCE;
    memcpy(out, ASN1_STRING_get0_data(s), SCEP_NONCE_LEN);
    return 0;
}

/*
 * Replaces, in place, the control characters of failInfoText with '?':
 * C0 controls and DEL, and the C1 controls U+0080..U+009F (UTF-8 C2 80
 * .. C2 9F, both bytes).  The text is a server's free prose that clients
 * print to terminals and logs, where ESC sequences, CR/LF and CSI (U+009B)
 * would rewrite the screen or forge lines.
 */
static void neutralise_controls(char *t, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)t[i];

        if (c < 0x20 || c == 0x7f) {
            t[i] = '?';
        } else if (c == 0xc2 && i + 1 < len && (unsigned char)t[i + 1] >= 0x80 &&
                   (unsigned char)t[i + 1] <= 0x9f) {
            t[i] = '?';
            t[++i] = '?';
        }
    }
}

/* failInfoText: kept for logs, so cut to SCEP_MAX_FAIL_TEXT bytes on a
 * UTF-8 character boundary rather than refusing the whole CertRep, and
 * with its control characters neutralised. */
static int get_fail_text(CMS_SignerInfo *si, struct scep_msg *m)
{
    const ASN1_STRING *s = NULL;
    const unsigned char *d;
    size_t len;
    int rc;

    rc = get_attr(si, MSG_ATTR_FAIL_INFO_TEXT, V_ASN1_UTF8STRING, &s);
    if (rc == SCEP_ERR_ATTR_MISSING)
        return 0;
    if (rc != 0)
        return rc;
    d = ASN1_STRING_get0_data(s);
    len = (size_t)ASN1_STRING_length(s);
    /* The text becomes a C string: an embedded NUL would hide the rest. */
    if (memchr(d, '\0', len) != NULL)
        return SCEP_ERR_ATTR_TYPE;
    if (len > SCEP_MAX_FAIL_TEXT) {
        len = SCEP_MAX_FAIL_TEXT;
        while (len > 0 && (d[len] & 0xC0) == 0x80)
            len--;
    }
    if ((m->fail_text = OPENSSL_malloc(len + 1)) == NULL)
        return SCEP_ERR_NOMEM;
    memcpy(m->fail_text, d, len);
    m->fail_text[len] = '\0';
    neutralise_controls(m->fail_text, len);
    return 0;
}

/*
 * Reads and checks the SCEP attributes of si into m: messageType (one of
 * the RFC 8894 values, 18 refused), transactionID, senderNonce, and for a
 * CertRep pkiStatus, recipientNonce, failInfo (FAILURE) and failInfoText.
 * Returns 0 or the SCEP_ERR_* naming the first rule broken.
 */
int msg_attrs_read(CMS_SignerInfo *si, struct scep_msg *m)
{
    const ASN1_STRING *tid = NULL;
    int rc, v;

    if ((rc = get_number(si, MSG_ATTR_MESSAGE_TYPE, SCEP_ERR_MSG_TYPE, &v)) != 0)
        return rc;
    switch (v) {
    case SCEP_MSG_CERTREP:
    case SCEP_MSG_RENEWALREQ:
    case SCEP_MSG_PKCSREQ:
    case SCEP_MSG_CERTPOLL:
    case SCEP_MSG_GETCERT:
    case SCEP_MSG_GETCRL:
        m->type = v;
        break;
    default:
        return SCEP_ERR_MSG_TYPE;
    }

    if ((rc = get_attr(si, MSG_ATTR_TRANSACTION_ID, V_ASN1_PRINTABLESTRING, &tid)) != 0)
        return rc;
    if (!msg_transid_valid((const char *)ASN1_STRING_get0_data(tid),
                           (size_t)ASN1_STRING_length(tid)))
        return SCEP_ERR_TRANSID;
    memcpy(m->transaction_id, ASN1_STRING_get0_data(tid), (size_t)ASN1_STRING_length(tid));
    m->transaction_id[ASN1_STRING_length(tid)] = '\0';

    if ((rc = get_nonce(si, MSG_ATTR_SENDER_NONCE, m->sender_nonce)) != 0)
        return rc;

    /* A request may echo a recipientNonce; it is optional but, when
     * present, must still be a proper nonce. */
    rc = get_nonce(si, MSG_ATTR_RECIPIENT_NONCE, m->recipient_nonce);
    if (rc == 0)
        m->has_recipient_nonce = 1;
    else if (rc != SCEP_ERR_ATTR_MISSING || m->type == SCEP_MSG_CERTREP)
        return rc;

    if (m->type != SCEP_MSG_CERTREP)
        return 0;

    if ((rc = get_number(si, MSG_ATTR_PKI_STATUS, SCEP_ERR_STATUS, &v)) != 0)
        return rc == SCEP_ERR_ATTR_MISSING ? SCEP_ERR_STATUS : rc;
    if (v != SCEP_STATUS_SUCCESS && v != SCEP_STATUS_FAILURE && v != SCEP_STATUS_PENDING)
        return SCEP_ERR_STATUS;
    m->status = v;
    if (v != SCEP_STATUS_FAILURE)
        return 0;
    if ((rc = get_number(si, MSG_ATTR_FAIL_INFO, SCEP_ERR_STATUS, &v)) != 0)
        return rc == SCEP_ERR_ATTR_MISSING ? SCEP_ERR_STATUS : rc;
    if (v < SCEP_FAIL_BAD_ALG || v > SCEP_FAIL_BAD_CERT_ID)
        return SCEP_ERR_STATUS;
    m->fail_info = v;
    return get_fail_text(si, m);
}
