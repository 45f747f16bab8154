/*
 * Importing the certificates of one buffer (the admin API's POST
 * /certificates/import body): decoded as a file's bytes are, by
 * scep_admin_parse_certs, and stored one by one through
 * scep_admin_import_cert, the one way an external certificate enters
 * the inventory.  The buffer is decoded whole before anything is
 * stored, so a malformed block stores nothing.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/x509.h>

#include <scep/error.h>

#include "admin/admin.h"

int scep_admin_import_buffer(struct scep_store *st, const char *actor, const unsigned char *buf,
                             size_t len, const char *seen_at, scep_admin_import_cb cb, void *arg,
                             struct scep_admin_import_stats *stats, char *why, size_t whylen)
{
    struct scep_admin_import_stats s;
    struct scep_cert_info *ci = NULL;
    STACK_OF(X509) *sk = NULL;
    int64_t now = (int64_t)time(NULL);
    int i, rc, last = 0;

    memset(&s, 0, sizeof(s));
    if (why != NULL && whylen > 0)
        why[0] = '\0';
    if (st == NULL || actor == NULL || buf == NULL || seen_at == NULL)
        return SCEP_ERR_INVALID_ARG;
    rc = scep_admin_parse_certs(buf, len, SCEP_ADMIN_IMPORT_CERTS_PER_FILE, &sk, why, whylen);
    if (rc != 0)
        goto out;
    s.files = 1;
    for (i = 0; i < sk_X509_num(sk); i++) {
        s.certs++;
        rc = scep_admin_import_cert(st, actor, sk_X509_value(sk, i), SCEP_CERT_SOURCE_IMPORT,
                                    seen_at, now, &ci);
        if (rc == 0)
            s.imported++;
        else if (rc == SCEP_ERR_EXISTS)
            s.duplicates++;
        else
            s.failed++;
        if (rc != 0 && rc != SCEP_ERR_EXISTS) {
            last = rc;
            snprintf(why, whylen, "certificate %d: %s", i + 1, scep_strerror(rc));
        }
        if (cb != NULL)
            cb(seen_at, rc, rc == 0 || rc == SCEP_ERR_EXISTS ? ci : NULL,
               rc == 0 || rc == SCEP_ERR_EXISTS ? NULL : scep_strerror(rc), arg);
        scep_cert_info_free(ci);
        ci = NULL;
    }
    rc = last;
out:
    if (stats != NULL)
        *stats = s;
    sk_X509_pop_free(sk, X509_free);
    return rc;
}
