/*
 * The CA certificates of one CA set, current and archived, as issuers:
 * finding the one an administrator names ("current", "previous", a
 * fingerprint or key identifier prefix) or the one a stored record
 * points at (its issuer fingerprint), and loading an archived CA's key
 * so that it can still sign CRLs for the certificates it issued.
 *
 * After a rollover the former CA's certificates stay valid until they
 * expire, so relying parties still need CRLs from it: RFC 5280 6.3.3
 * has them check a certificate against a CRL whose issuer is the
 * certificate's issuer, signed by that issuer's key (no indirect CRLs
 * here).  The rollover keeps archive/<SERIAL>.key for exactly this.
 */
#include <limits.h>
#include <string.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <scep/error.h>

#include "ca/ca.h"
#include "ca/ca_internal.h"
#include "ca/fsutil.h"
#include "keyring/keyhandle.h"
#include "keyring/keyring.h"

/* Shortest fingerprint or key-identifier prefix accepted: 8 hex digits
 * (32 bits) make an accidental match between a handful of CAs
 * practically impossible while staying easy to type. */
#define CA_MIN_ID_PREFIX 8

int scep_ca_archive_count(const struct scep_ca *ca)
{
    return ca != NULL ? sk_X509_num(ca->archive) : 0;
}

X509 *scep_ca_get0_archived(const struct scep_ca *ca, int i)
{
    if (ca == NULL || i < 0 || i >= sk_X509_num(ca->archive))
        return NULL;
    return sk_X509_value(ca->archive, i);
}

/* The i-th CA of the set: 0 the current one, then the archive. */
static X509 *nth_ca(const struct scep_ca *ca, int i)
{
    return i == 0 ? ca->cert : scep_ca_get0_archived(ca, i - 1);
}

/* Lowercase hex of cert's subject key identifier into out (2 * 20 + 1
 * bytes at least for SHA-1 identifiers); "" when it has none. */
static void ski_hex(X509 *cert, char *out, size_t size)
{
    static const char hex[] = "0123456789abcdef";
    const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(cert);
    const unsigned char *p;
    int i, n;

    out[0] = '\0';
    if (ski == NULL)
        return;
    p = ASN1_STRING_get0_data(ski);
    n = ASN1_STRING_length(ski);
    if (n <= 0 || (size_t)n * 2 + 1 > size)
        return;
    for (i = 0; i < n; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 0xf];
    }
    out[2 * n] = '\0';
}

/* Copies which to out in lowercase without colons.  Returns 0, or -1
 * when it holds anything but hex digits and colons or does not fit. */
static int normalize_hex(const char *which, char *out, size_t size)
{
    size_t n = 0;

    for (; *which != '\0'; which++) {
        char ch = *which;

        if (ch == ':')
            continue;
        if (ch >= 'A' && ch <= 'F')
            ch = (char)(ch - 'A' + 'a');
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')) || n + 1 >= size)
            return -1;
        out[n++] = ch;
    }
    out[n] = '\0';
    return 0;
}

int scep_ca_find_issuer(const struct scep_ca *ca, const char *which, X509 **out)
{
    char want[130], fp[65], ski[130];
    X509 *found = NULL, *c;
    size_t wlen;
    int i;

    if (ca == NULL || out == NULL)
        return SCEP_ERR_INVALID_ARG;
    if (which == NULL || which[0] == '\0' || strcmp(which, "current") == 0) {
        *out = ca->cert;
        return 0;
    }
    if (strcmp(which, "previous") == 0) {
        if ((c = scep_ca_get0_archived(ca, 0)) == NULL)
            return SCEP_ERR_NOT_FOUND;
        *out = c;
        return 0;
    }
    if (normalize_hex(which, want, sizeof(want)) != 0 || (wlen = strlen(want)) < CA_MIN_ID_PREFIX)
        return SCEP_ERR_INVALID_ARG;
    for (i = 0; (c = nth_ca(ca, i)) != NULL; i++) {
        if (scep_cert_fingerprint(c, fp) != 0)
            return SCEP_ERR_INTERNAL;
        ski_hex(c, ski, sizeof(ski));
        if (strncmp(fp, want, wlen) != 0 && (strlen(ski) < wlen || strncmp(ski, want, wlen) != 0))
            continue;
        if (found != NULL && found != c)
            return SCEP_ERR_INVALID_ARG; /* ambiguous prefix */
        found = c;
    }
    if (found == NULL)
        return SCEP_ERR_NOT_FOUND;
    *out = found;
    return 0;
}

int scep_ca_find_by_fingerprint(const struct scep_ca *ca, const char *fp, X509 **out)
{
    char have[65];
    X509 *c;
    int i;

    if (ca == NULL || fp == NULL || out == NULL)
        return SCEP_ERR_INVALID_ARG;
    for (i = 0; (c = nth_ca(ca, i)) != NULL; i++) {
        if (scep_cert_fingerprint(c, have) != 0)
            return SCEP_ERR_INTERNAL;
        if (strcmp(have, fp) == 0) {
            *out = c;
            return 0;
        }
    }
    return SCEP_ERR_NOT_FOUND;
}

/* The name of a CA in CRL paths (see ca.h). */
int scep_ca_key_id_hex(X509 *cert, char *out, size_t size)
{
    if (size < 65)
        return SCEP_ERR_TOO_LARGE;
    ski_hex(cert, out, size);
    if (out[0] == '\0' && scep_cert_fingerprint(cert, out) != 0)
        return SCEP_ERR_INTERNAL;
    return 0;
}

/*
 * Loads archive/<SERIAL>.key of cert into a keyring of its own (archived
 * keys sign only the odd CRL, so they are not kept loaded) and returns
 * a handle for it.  *out: free with EVP_PKEY_free().
 */
int ca_load_archived_key(const struct scep_ca *ca, X509 *cert, EVP_PKEY **out)
{
    char name[300], ref[PATH_MAX + 8];
    char *hex = NULL;
    int w, rc;

    if ((rc = ca_serial_hex(cert, &hex)) != 0)
        goto out;
    w = snprintf(name, sizeof(name), "%s/%s.key", ARCHIVE_DIR, hex);
    if (w < 0 || (size_t)w >= sizeof(name) || ca_key_ref(ref, sizeof(ref), ca->dir, name) != 0) {
        rc = SCEP_ERR_TOO_LARGE;
        goto out;
    }
    rc = ca_load_key_of(ref, cert, out);
out:
    OPENSSL_free(hex);
    return rc;
}

int ca_load_key_of(const char *ref, X509 *cert, EVP_PKEY **out)
{
    struct scep_keyring *kr = NULL;
    EVP_PKEY *k = NULL;
    int rc;

    if ((rc = scep_keyring_new(&kr)) != 0 || (rc = scep_keyring_load(kr, ref)) != 0 ||
        (rc = scep_keyhandle_new(kr, ref, &k)) != 0)
        goto out;
    /* Public components only; -1/-2 for mismatched types mean "no". */
    if (EVP_PKEY_eq(X509_get0_pubkey(cert), k) != 1) {
        rc = SCEP_ERR_KEY;
        goto out;
    }
    *out = k;
    k = NULL;
    rc = 0;
out:
    EVP_PKEY_free(k);
    scep_keyring_free(kr); /* a returned handle holds its own reference */
    return rc;
}
