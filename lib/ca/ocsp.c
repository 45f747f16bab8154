/*
 * OCSP signing: a BasicOCSPResponse (RFC 6960 4.2.1) signed by the CA
 * that issued the certificates it speaks about, with that CA's key
 * handle, so the responder needs no certificate of its own (RFC 6960
 * 4.2.2.2: the CA itself may sign).  What the response says is
 * lib/admin/ocsp.c's business; this file only signs, like crl.c.
 */
#include <openssl/ocsp.h>
#include <openssl/x509.h>

#include <scep/error.h>

#include "ca/ca.h"
#include "ca/ca_internal.h"

int scep_ca_sign_ocsp(const struct scep_ca *ca, X509 *issuer, OCSP_BASICRESP *bs)
{
    EVP_PKEY *archived_key = NULL, *key; /* key handles */
    int j, known = 0, rc = SCEP_ERR_INVALID_ARG;

    if (ca == NULL || bs == NULL)
        goto out;
    if (issuer == NULL || X509_cmp(issuer, ca->cert) == 0) {
        issuer = ca->cert;
        key = ca->key;
    } else {
        /* Only a CA of this set may sign: anything else is a caller bug. */
        for (j = 0; j < scep_ca_archive_count(ca) && !known; j++)
            known = X509_cmp(issuer, scep_ca_get0_archived(ca, j)) == 0;
        if (!known)
            goto out;
        /* Loaded per response: archived CAs answer for their remaining
         * certificates only, and the handle holds no state to share. */
        if ((rc = ca_load_archived_key(ca, issuer, &archived_key)) != 0)
            goto out;
        key = archived_key;
    }
    rc = SCEP_ERR_INTERNAL;
    /* OCSP_RESPID_KEY: the responder is named by the SHA-1 of its key
     * (RFC 6960 4.2.1 byKey), which survives a re-issued CA certificate;
     * without OCSP_NOCERTS the CA certificate goes into certs, which
     * clients that do not hold it already need.  OCSP_basic_sign signs
     * through the key handle like X509_CRL_sign. */
    if (OCSP_basic_sign(bs, issuer, key, ca_md_for(issuer), NULL, OCSP_RESPID_KEY) != 1)
        goto out;
    rc = 0;
out:
    EVP_PKEY_free(archived_key);
    return rc;
}
