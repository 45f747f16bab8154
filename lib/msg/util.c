/*
 * Small helpers shared by the message layer: turning CMS structures into
 * DER and back with the size, length and trailing-bytes rules of RFC 8894
 * input handling, draining a memory BIO into an owned buffer, and the
 * digest policy.
 */
#include <string.h>

#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/objects.h>

#include <scep/error.h>
#include <scep/limits.h>

#include "msg_internal.h"

/*
 * Copies everything readable from bio into a new buffer of at most max
 * bytes.  On success *out (free with OPENSSL_free()/scep_free(); never
 * NULL, even when *len is 0) and *len are set.  Returns 0,
 * SCEP_ERR_TOO_LARGE or SCEP_ERR_NOMEM.
 */
int msg_bio_to_buf(BIO *bio, size_t max, unsigned char **out, size_t *len)
{
    unsigned char *buf = NULL;
    size_t used = 0;
    size_t cap = 1024;
    int rc = SCEP_ERR_NOMEM;

    if ((buf = OPENSSL_malloc(cap)) == NULL)
        goto out;
    for (;;) {
        int n;

        if (used == cap) {
            unsigned char *nb;

            if (cap > max) {
                rc = SCEP_ERR_TOO_LARGE;
                goto out;
            }
            if ((nb = OPENSSL_realloc(buf, cap * 2)) == NULL)
                goto out;
            buf = nb;
            cap *= 2;
        }
        n = BIO_read(bio, buf + used, (int)(cap - used));
        if (n <= 0)
            break;
        used += (size_t)n;
    }
    if (used > max) {
        rc = SCEP_ERR_TOO_LARGE;
        goto out;
    }
    *out = buf;
    *len = used;
    buf = NULL;
    rc = 0;
out:
    OPENSSL_free(buf);
    return rc;
}

/*
 * DER-encodes cms.  On success *der (free with scep_free()) and *len are
 * set.  Returns 0 or SCEP_ERR_INTERNAL.
 */
int msg_cms_to_der(CMS_ContentInfo *cms, unsigned char **der, size_t *len)
{
    unsigned char *buf = NULL;
    int n;

    /* i2d with a NULL *pp allocates with OPENSSL_malloc(). */
    n = i2d_CMS_ContentInfo(cms, &buf);
    if (n <= 0 || buf == NULL)
        return SCEP_ERR_INTERNAL;
    *der = buf;
    *len = (size_t)n;
    return 0;
}

/*
 * Decodes one CMS ContentInfo from exactly len bytes (DER, or BER with
 * indefinite lengths).  On success *out is set; free with
 * CMS_ContentInfo_free().  Returns 0, SCEP_ERR_TOO_LARGE,
 * SCEP_ERR_DER or SCEP_ERR_TRAILING.
 */
int msg_cms_from_der(const unsigned char *der, size_t len, CMS_ContentInfo **out)
{
    CMS_ContentInfo *cms = NULL;
    const unsigned char *p = der;
    int rc = SCEP_ERR_DER;

    if (der == NULL || len == 0)
        goto out;
    if (len > SCEP_MAX_MESSAGE) {
        rc = SCEP_ERR_TOO_LARGE;
        goto out;
    }
    /* d2i advances p past what it consumed: anything left is trailing. */
    cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
    if (cms == NULL)
        goto out;
    if ((size_t)(p - der) != len) {
        rc = SCEP_ERR_TRAILING;
        goto out;
    }
    *out = cms;
    cms = NULL;
    rc = 0;
out:
    CMS_ContentInfo_free(cms);
    /* A hostile input leaves errors on this thread's queue; they would be
     * mistaken for the cause of a later, unrelated failure. */
    if (rc != 0)
        ERR_clear_error();
    return rc;
}

/*
 * The digest policy of RFC 8894 2.9 as clients use it: SHA-1 for old
 * clients and the SHA-2 family.  MD5 and anything else are refused.
 * Returns 1 when nid is accepted.
 */
int msg_digest_allowed(int nid)
{
    switch (nid) {
    case NID_sha1:
    case NID_sha224:
    case NID_sha256:
    case NID_sha384:
    case NID_sha512:
        return 1;
    default:
        return 0;
    }
}
