/*
 * The one CRL builder.  GetCRL (lib/service/query.c), "scepctl crl" and
 * the coming HTTP CRL endpoint all come here, so a CRL follows one set
 * of rules wherever it is fetched:
 *   - it is a CA's own CRL: it lists only serials that CA issued (RFC
 *     5280 5.3.3; no indirect CRLs), and it is signed by that CA's key,
 *     also for a CA archived by a rollover, whose certificates stay valid
 *     until they expire;
 *   - it lists certificates that are revoked and not yet expired (RFC
 *     5280 3.3 lets expired entries go);
 *   - its crlNumber comes from the store, so it only ever grows.
 * Encoding and signing are lib/ca's (scep_ca_make_crl).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <scep/error.h>

#include "admin/admin.h"

/* A stored serial longer than this is a damaged record (RFC 5280
 * 4.1.2.2 allows 20 octets). */
#define CRL_MAX_SERIAL_BYTES 32

/* Revoked serials gathered from the store for one CRL. */
struct revoked_list {
    const char *issuer_fp; /* entries of other CAs are skipped */
    int is_current;        /* records without an issuer count as the current CA's */
    int64_t now;
    struct scep_revoked_entry *e;
    unsigned char (*serials)[CRL_MAX_SERIAL_BYTES];
    size_t n, cap;
    int rc;
};

/* Converts the store's hex serial back to big-endian bytes.  Returns 0 or
 * SCEP_ERR_STORE for a record that holds something else. */
static int hex_to_serial(const char *hex, unsigned char *buf, size_t size, size_t *len)
{
    BIGNUM *bn = NULL;
    int n, rc = SCEP_ERR_STORE;

    if (hex == NULL)
        goto out;
    /* BN_hex2bn returns how many hex digits it consumed: all of them, or
     * the stored serial is not what we wrote. */
    n = BN_hex2bn(&bn, hex);
    if (n <= 0 || (size_t)n != strlen(hex) || BN_is_zero(bn) || BN_is_negative(bn))
        goto out;
    n = BN_num_bytes(bn);
    if (n <= 0 || (size_t)n > size)
        goto out;
    *len = (size_t)BN_bn2bin(bn, buf);
    rc = 0;
out:
    BN_free(bn);
    return rc;
}

/* 1 when the CRL of issuer_fp lists ci: revoked, not expired at now,
 * and issued by that CA (records without an issuer count as the current
 * CA's).  The one rule for the CRL and for its digest. */
static int crl_lists(const struct scep_cert_info *ci, const char *issuer_fp, int is_current,
                     int64_t now)
{
    if (ci->status != SCEP_CERT_REVOKED || ci->not_after < now)
        return 0;
    return ci->issuer_fp == NULL ? is_current : strcmp(ci->issuer_fp, issuer_fp) == 0;
}

static int collect_revoked(const struct scep_cert_info *ci, void *arg)
{
    struct revoked_list *l = arg;
    int rc;

    if (!crl_lists(ci, l->issuer_fp, l->is_current, l->now))
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        struct scep_revoked_entry *e = realloc(l->e, cap * sizeof(*e));
        unsigned char(*s)[CRL_MAX_SERIAL_BYTES];

        if (e == NULL)
            return l->rc = SCEP_ERR_NOMEM;
        l->e = e;
        s = realloc(l->serials, cap * sizeof(*s));
        if (s == NULL)
            return l->rc = SCEP_ERR_NOMEM;
        l->serials = s;
        l->cap = cap;
    }
    rc = hex_to_serial(ci->serial, l->serials[l->n], sizeof(l->serials[0]), &l->e[l->n].serial_len);
    if (rc != 0)
        return l->rc = rc;
    l->e[l->n].revoked_at = (time_t)ci->revoked_at;
    l->e[l->n].reason = ci->revocation_reason;
    l->n++;
    return 0;
}

int scep_admin_make_crl(struct scep_store *st, const struct scep_ca *ca, X509 *issuer,
                        long next_update_seconds, const char *actor, X509_CRL **out,
                        struct scep_admin_crl_info *info)
{
    struct scep_cert_filter f;
    struct revoked_list l;
    X509_CRL *crl = NULL;
    int64_t number = 0;
    char fp[65], detail[256];
    size_t i;
    int rc;

    memset(&l, 0, sizeof(l));
    if (st == NULL || ca == NULL || out == NULL || next_update_seconds <= 0)
        return SCEP_ERR_INVALID_ARG;
    if (issuer == NULL)
        issuer = scep_ca_get0_cert(ca);
    if ((rc = scep_cert_fingerprint(issuer, fp)) != 0)
        return rc;
    l.issuer_fp = fp;
    l.is_current = X509_cmp(issuer, scep_ca_get0_cert(ca)) == 0;
    l.now = (int64_t)time(NULL);
    memset(&f, 0, sizeof(f));
    f.status = SCEP_CERT_REVOKED;
    f.include_expired = 0;
    /* An archived CA's entries come straight from the issuer index; the
     * current CA's walk also takes records without an issuer. */
    f.issuer_fp = l.is_current ? NULL : fp;
    rc = scep_store_list_certs(st, &f, collect_revoked, &l);
    if (l.rc != 0)
        rc = l.rc;
    if (rc != 0)
        goto out;
    /* The serial pointers are set only now: realloc may have moved them. */
    for (i = 0; i < l.n; i++)
        l.e[i].serial = l.serials[i];
    if ((rc = scep_store_next_crl_number(st, &number)) != 0)
        goto out;
    if ((rc = scep_ca_make_crl(ca, issuer, l.e, l.n, number, next_update_seconds, &crl)) != 0)
        goto out;
    if (actor != NULL) {
        snprintf(detail, sizeof(detail), "issuer=%s number=%lld entries=%zu next_update_hours=%ld",
                 fp, (long long)number, l.n, next_update_seconds / 3600);
        if ((rc = scep_admin_audit(st, actor, "crl", NULL, NULL, detail)) != 0)
            goto out;
    }
    if (info != NULL) {
        memset(info, 0, sizeof(*info));
        info->number = number;
        info->entries = l.n;
        info->made = l.now;
        info->next_update = l.now + next_update_seconds;
        memcpy(info->issuer_fp, fp, sizeof(info->issuer_fp));
    }
    *out = crl;
    crl = NULL;
    rc = 0;
out:
    X509_CRL_free(crl);
    free(l.e);
    free(l.serials);
    return rc;
}

/* What scep_admin_crl_digest hashes, per listed entry. */
struct crl_digest {
    EVP_MD_CTX *md;
    const char *issuer_fp;
    int is_current;
    int64_t now;
    int failed;
};

static int digest_revoked(const struct scep_cert_info *ci, void *arg)
{
    struct crl_digest *d = arg;
    char line[128];
    int n;

    if (!crl_lists(ci, d->issuer_fp, d->is_current, d->now))
        return 0;
    /* One line per entry; the walk's order is the store's, which is
     * stable for unchanged data. */
    n = snprintf(line, sizeof(line), "%s %lld %d\n", ci->serial != NULL ? ci->serial : "",
                 (long long)ci->revoked_at, ci->revocation_reason);
    if (n < 0 || (size_t)n >= sizeof(line) || EVP_DigestUpdate(d->md, line, (size_t)n) != 1) {
        d->failed = 1;
        return 1;
    }
    return 0;
}

int scep_admin_crl_digest(struct scep_store *st, const struct scep_ca *ca, X509 *issuer,
                          unsigned char out[32])
{
    struct scep_cert_filter f;
    struct crl_digest d;
    char fp[65];
    unsigned int n = 0;
    int rc = SCEP_ERR_INVALID_ARG;

    memset(&d, 0, sizeof(d));
    if (st == NULL || ca == NULL || out == NULL)
        goto out;
    if (issuer == NULL)
        issuer = scep_ca_get0_cert(ca);
    if ((rc = scep_cert_fingerprint(issuer, fp)) != 0)
        goto out;
    d.issuer_fp = fp;
    d.is_current = X509_cmp(issuer, scep_ca_get0_cert(ca)) == 0;
    d.now = (int64_t)time(NULL);
    rc = SCEP_ERR_NOMEM;
    if ((d.md = EVP_MD_CTX_new()) == NULL)
        goto out;
    rc = SCEP_ERR_INTERNAL;
    if (EVP_DigestInit_ex(d.md, EVP_sha256(), NULL) != 1)
        goto out;
    memset(&f, 0, sizeof(f));
    f.status = SCEP_CERT_REVOKED;
    f.issuer_fp = d.is_current ? NULL : fp;
    rc = scep_store_list_certs(st, &f, digest_revoked, &d);
    if (d.failed)
        rc = SCEP_ERR_INTERNAL;
    if (rc != 0)
        goto out;
    rc = SCEP_ERR_INTERNAL;
    if (EVP_DigestFinal_ex(d.md, out, &n) != 1 || n != 32)
        goto out;
    rc = 0;
out:
    EVP_MD_CTX_free(d.md);
    return rc;
}

int scep_admin_crl_encode(X509_CRL *crl, int pem, unsigned char **out, size_t *len)
{
    BIO *b = NULL;
    char *p = NULL;
    long n;
    unsigned char *buf = NULL;
    int rc = SCEP_ERR_INVALID_ARG;

    if (crl == NULL || out == NULL || len == NULL)
        goto out;
    rc = SCEP_ERR_INTERNAL;
    if ((b = BIO_new(BIO_s_mem())) == NULL)
        goto out;
    if ((pem ? PEM_write_bio_X509_CRL(b, crl) : i2d_X509_CRL_bio(b, crl)) != 1)
        goto out;
    n = BIO_get_mem_data(b, &p);
    if (n <= 0)
        goto out;
    if ((buf = malloc((size_t)n)) == NULL) {
        rc = SCEP_ERR_NOMEM;
        goto out;
    }
    memcpy(buf, p, (size_t)n);
    *out = buf;
    *len = (size_t)n;
    rc = 0;
out:
    BIO_free(b);
    return rc;
}

int scep_admin_make_crl_encoded(struct scep_store *st, const struct scep_ca *ca, X509 *issuer,
                                long next_update_seconds, const char *actor, int pem,
                                unsigned char **out, size_t *len, struct scep_admin_crl_info *info)
{
    X509_CRL *crl = NULL;
    int rc;

    if (out == NULL || len == NULL)
        return SCEP_ERR_INVALID_ARG;
    rc = scep_admin_make_crl(st, ca, issuer, next_update_seconds, actor, &crl, info);
    if (rc == 0)
        rc = scep_admin_crl_encode(crl, pem, out, len);
    X509_CRL_free(crl);
    return rc;
}
