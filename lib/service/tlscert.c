/*
 * scepd's own TLS server certificates (tlscert.h): issued by the CA like
 * any enrollment's, through scep_ca_issue and the store, so that the
 * inventory, the audit trail and the CRL know them; only the key is
 * made here instead of arriving in a CSR.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <scep/error.h>

#include "ca/ca.h"
#include "admin/certinfo.h"
#include "service/tlscert.h"
#include "util/atomic_file.h"

/* Longest PEM file read back (a leaf and a CA certificate, or one key). */
#define TLSCERT_MAX_FILE (64 * 1024)

/* Reads a PEM file's first certificate or key.  NULL when absent or
 * malformed; free with X509_free / EVP_PKEY_free. */
static X509 *read_cert(const char *path)
{
    BIO *b = BIO_new_file(path, "r");
    X509 *x = NULL;

    if (b != NULL)
        x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    return x;
}

static EVP_PKEY *read_key(const char *path)
{
    BIO *b = BIO_new_file(path, "r");
    EVP_PKEY *k = NULL;

    if (b != NULL)
        k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    return k;
}

/* 1 when host is an IP address literal (v4 or v6). */
static int host_is_ip(const char *host)
{
    unsigned char a[16];

    return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

/*
 * 1 when cert may be kept: its key is key, the current CA signed it, it
 * is valid well past now, and it names every host.  X509_check_host /
 * X509_check_ip_asc are OpenSSL's own matching, the one TLS clients use.
 */
static int cert_still_good(X509 *cert, EVP_PKEY *key, const struct scep_ca *ca,
                           const char *const *hosts, size_t nhosts)
{
    X509 *cacert = scep_ca_get0_cert(ca);
    EVP_PKEY *capub = X509_get0_pubkey(cacert);
    time_t renew_at = time(NULL) + (time_t)SCEP_TLSCERT_RENEW_DAYS * 86400;
    size_t i;

    if (capub == NULL || X509_check_private_key(cert, key) != 1 ||
        X509_check_issued(cacert, cert) != X509_V_OK || X509_verify(cert, capub) != 1)
        return 0;
    if (X509_cmp_time(X509_get0_notAfter(cert), &renew_at) <= 0)
        return 0;
    for (i = 0; i < nhosts; i++) {
        int ok = host_is_ip(hosts[i]) ? X509_check_ip_asc(cert, hosts[i], 0)
                                      : X509_check_host(cert, hosts[i], 0, 0, NULL);
        if (ok != 1)
            return 0;
    }
    return 1;
}

/* A CSR for key naming hosts (CN: the first).  X509_REQ_free(). */
static X509_REQ *make_csr(EVP_PKEY *key, const char *const *hosts, size_t nhosts)
{
    X509_REQ *req = X509_REQ_new();
    X509_NAME *name = NULL;
    STACK_OF(X509_EXTENSION) *exts = NULL;
    X509_EXTENSION *ext = NULL;
    char sans[SCEP_TLSCERT_MAX_HOSTS * 300];
    size_t i, off = 0;
    int ok = 0;

    sans[0] = '\0';
    for (i = 0; i < nhosts; i++) {
        int n = snprintf(sans + off, sizeof(sans) - off, "%s%s:%s", i > 0 ? "," : "",
                         host_is_ip(hosts[i]) ? "IP" : "DNS", hosts[i]);

        if (n < 0 || (size_t)n >= sizeof(sans) - off)
            goto out;
        off += (size_t)n;
    }
    if (req == NULL || (name = X509_NAME_new()) == NULL ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)hosts[0], -1,
                                    -1, 0) ||
        !X509_REQ_set_version(req, X509_REQ_VERSION_1) || !X509_REQ_set_subject_name(req, name) ||
        !X509_REQ_set_pubkey(req, key))
        goto out;
    /* X509V3_EXT_conf_nid parses "DNS:a,IP:b" as a config line would. */
    ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, sans);
    if (ext == NULL || (exts = sk_X509_EXTENSION_new_null()) == NULL ||
        !sk_X509_EXTENSION_push(exts, ext))
        goto out;
    ext = NULL;
    if (!X509_REQ_add_extensions(req, exts) || X509_REQ_sign(req, key, EVP_sha256()) <= 0)
        goto out;
    ok = 1;
out:
    X509_EXTENSION_free(ext);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_NAME_free(name);
    if (!ok) {
        X509_REQ_free(req);
        req = NULL;
    }
    return req;
}

/* Writes the PEM of what write() puts into a memory BIO to path with
 * mode, atomically.  Returns 0 or SCEP_ERR_*. */
static int write_pem(const char *path, BIO *mem, mode_t mode)
{
    char *data = NULL;
    long len = BIO_get_mem_data(mem, &data);

    if (len <= 0 || len > TLSCERT_MAX_FILE)
        return SCEP_ERR_INTERNAL;
    return util_write_atomic(path, data, (size_t)len, mode, 0);
}

int scep_tls_cert_ensure(struct scep_store *st, const struct scep_ca *ca, const char *cert_path,
                         const char *key_path, const char *const *hosts, size_t nhosts,
                         const char *actor, int *issued, char *why, size_t whylen)
{
    struct scep_cert_info ci;
    struct scep_audit_event ev;
    unsigned char serial[16];
    char ca_fp[65], detail[256];
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    X509_REQ *csr = NULL;
    BIO *kmem = NULL, *cmem = NULL;
    struct scep_profile prof;
    size_t i;
    int rc = SCEP_ERR_INVALID_ARG, attempt;

    memset(&ci, 0, sizeof(ci));
    if (why != NULL && whylen > 0)
        why[0] = '\0';
    if (st == NULL || ca == NULL || cert_path == NULL || key_path == NULL || hosts == NULL ||
        nhosts == 0 || nhosts > SCEP_TLSCERT_MAX_HOSTS || actor == NULL)
        goto out;
    for (i = 0; i < nhosts; i++) {
        if (hosts[i] == NULL || hosts[i][0] == '\0' || strlen(hosts[i]) > 253) {
            snprintf(why, whylen, "host name %zu is empty or too long", i + 1);
            goto out;
        }
    }
    cert = read_cert(cert_path);
    key = read_key(key_path);
    if (cert != NULL && key != NULL && cert_still_good(cert, key, ca, hosts, nhosts)) {
        if (issued != NULL)
            *issued = 0;
        rc = 0;
        goto out;
    }
    X509_free(cert);
    cert = NULL;
    EVP_PKEY_free(key);
    rc = SCEP_ERR_INTERNAL;
    key = EVP_EC_gen("P-256");
    if (key == NULL || (csr = make_csr(key, hosts, nhosts)) == NULL) {
        snprintf(why, whylen, "cannot make a key and request for %s", hosts[0]);
        goto out;
    }
    memset(&prof, 0, sizeof(prof));
    prof.validity_days = SCEP_TLSCERT_VALIDITY_DAYS;
    prof.backdate_seconds = 300; /* a client's clock a little behind */
    prof.key_usage = "critical,digitalSignature";
    prof.ext_key_usage = "serverAuth";
    if (scep_cert_fingerprint(scep_ca_get0_cert(ca), ca_fp) != 0)
        goto out;
    /* Asked first for its words: scep_ca_issue refuses the same with a
     * code only. */
    rc = scep_ca_check_request(ca, csr, NULL, &prof, detail, sizeof(detail));
    if (rc != 0) {
        snprintf(why, whylen, "the CA refused to issue for %s: %s", hosts[0], detail);
        goto out;
    }
    /* A serial another certificate has (2^-127 odds) is drawn again. */
    for (attempt = 0; attempt < 3; attempt++) {
        rc = scep_ca_random_serial(serial);
        if (rc == 0)
            rc = scep_ca_issue(ca, csr, NULL, &prof, serial, sizeof(serial), &cert);
        if (rc != 0) {
            snprintf(why, whylen, "the CA refused to issue for %s: %s", hosts[0],
                     scep_strerror(rc));
            goto out;
        }
        rc = scep_certinfo_from_x509(cert, ca_fp, &ci);
        if (rc != 0)
            goto out;
        ci.issued_at = (int64_t)time(NULL);
        ci.msg_type = "tls-server";
        snprintf(detail, sizeof(detail), "subject=\"%s\" TLS server certificate of scepd itself",
                 ci.subject != NULL ? ci.subject : "");
        memset(&ev, 0, sizeof(ev));
        ev.kind = "issue";
        ev.actor = actor;
        ev.serial = ci.serial;
        ev.detail = detail;
        rc = scep_store_insert_cert(st, &ci, &ev);
        ci.msg_type = NULL;
        if (rc != SCEP_ERR_EXISTS)
            break;
        scep_certinfo_clear(&ci);
        X509_free(cert);
        cert = NULL;
    }
    if (rc != 0) {
        snprintf(why, whylen, "cannot store the certificate: %s (%s)", scep_strerror(rc),
                 scep_store_last_error(st));
        goto out;
    }
    rc = SCEP_ERR_NOMEM;
    kmem = BIO_new(BIO_s_mem());
    cmem = BIO_new(BIO_s_mem());
    if (kmem == NULL || cmem == NULL ||
        !PEM_write_bio_PrivateKey(kmem, key, NULL, NULL, 0, NULL, NULL) ||
        !PEM_write_bio_X509(cmem, cert) || !PEM_write_bio_X509(cmem, scep_ca_get0_cert(ca)))
        goto out;
    /* The key first: a crash between the two leaves a certificate that
     * does not match, which the next start replaces. */
    rc = write_pem(key_path, kmem, 0600);
    if (rc == 0)
        rc = write_pem(cert_path, cmem, 0644);
    if (rc != 0) {
        snprintf(why, whylen, "cannot write %s or %s: %s", key_path, cert_path, scep_strerror(rc));
        goto out;
    }
    if (issued != NULL)
        *issued = 1;
    rc = 0;
out:
    scep_certinfo_clear(&ci);
    BIO_free(kmem);
    BIO_free(cmem);
    X509_REQ_free(csr);
    X509_free(cert);
    EVP_PKEY_free(key);
    return rc;
}
