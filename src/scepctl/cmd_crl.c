/*
 * scepctl crl: issues a CRL v2 of every revoked certificate in the store,
 * signed by the current CA with the next crlNumber from the store and
 * nextUpdate crl_validity_hours from now.  PEM by default, DER with
 * --der; to standard output, or with --out to a file replaced atomically
 * (temp file, fsync, rename) so that a web server publishing it never
 * serves half a CRL.
 *
 * Revoked certificates stay on the CRL after they expire: RFC 5280 5.1.2.6
 * allows dropping them, but keeping them costs a few bytes and answers
 * the question for relying parties that check signatures made long ago.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <scep/error.h>
#include "ca/ca.h"
#include "scepctl.h"

/* Serials are at most 20 octets (RFC 5280 4.1.2.2); a stored one longer
 * than this is a damaged record. */
#define CTL_MAX_SERIAL_BYTES 32

struct crl_entries {
    struct scep_revoked_entry *v;
    unsigned char (*serials)[CTL_MAX_SERIAL_BYTES];
    size_t n, cap;
    const char *bad_serial; /* set when a stored serial is not hex */
};

static int collect(const struct scep_cert_info *ci, void *arg)
{
    struct crl_entries *e = arg;
    BIGNUM *bn = NULL;
    int len, rc = SCEP_ERR_INTERNAL;

    if (e->n == e->cap) {
        size_t cap = e->cap == 0 ? 64 : e->cap * 2;
        struct scep_revoked_entry *v = realloc(e->v, cap * sizeof(*v));
        if (v == NULL)
            return SCEP_ERR_NOMEM;
        e->v = v;
        void *s = realloc(e->serials, cap * sizeof(*e->serials));
        if (s == NULL)
            return SCEP_ERR_NOMEM;
        e->serials = s;
        e->cap = cap;
    }
    /* BN_hex2bn returns the number of hex digits it consumed: anything
     * short of the whole string means the record holds something else. */
    if (ci->serial == NULL || BN_hex2bn(&bn, ci->serial) != (int)strlen(ci->serial) ||
        BN_is_zero(bn) || BN_is_negative(bn) || (len = BN_num_bytes(bn)) > CTL_MAX_SERIAL_BYTES) {
        e->bad_serial = ci->serial;
        rc = SCEP_ERR_INVALID_ARG;
        goto out;
    }
    if (BN_bn2bin(bn, e->serials[e->n]) != len)
        goto out;
    e->v[e->n].serial_len = (size_t)len;
    e->v[e->n].revoked_at = (time_t)ci->revoked_at;
    e->v[e->n].reason = ci->revocation_reason;
    e->n++;
    rc = 0;
out:
    BN_free(bn);
    return rc;
}

/* Writes len bytes of data to path atomically.  Returns 0 or -1 with
 * errno set. */
static int write_atomic(const char *path, const unsigned char *data, size_t len)
{
    char tmp[4096];
    int fd = -1, saved;
    size_t off = 0;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    fd = mkstemp(tmp);
    if (fd < 0)
        return -1;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            goto fail;
        off += (size_t)w;
    }
    /* A CRL is public; mkstemp made the file 0600. */
    if (fchmod(fd, 0644) != 0 || fsync(fd) != 0)
        goto fail;
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        goto fail;
    return 0;
fail:
    saved = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    errno = saved;
    return -1;
}

/* Encodes crl as PEM or DER into *out (free with free()). */
static int encode_crl(X509_CRL *crl, int der, unsigned char **out, size_t *outlen)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *p = NULL;
    long n;
    unsigned char *buf = NULL;
    int rc = -1;

    if (b == NULL)
        goto out;
    if ((der ? i2d_X509_CRL_bio(b, crl) : PEM_write_bio_X509_CRL(b, crl)) != 1)
        goto out;
    n = BIO_get_mem_data(b, &p);
    if (n <= 0)
        goto out;
    buf = malloc((size_t)n);
    if (buf == NULL)
        goto out;
    memcpy(buf, p, (size_t)n);
    *out = buf;
    *outlen = (size_t)n;
    rc = 0;
out:
    BIO_free(b);
    return rc;
}

/* scepctl crl [--out FILE] [--der].  Returns an exit code. */
int ctl_cmd_crl(struct ctl *c, int argc, char **argv)
{
    const char *out_path = NULL;
    int der = 0, npos = 0, rc, err;
    struct ctl_opt opts[] = {
        {"out", &out_path, NULL},
        {"der", NULL, &der},
        {NULL, NULL, NULL},
    };
    struct scep_cert_filter f;
    struct crl_entries e;
    struct scep_store *st = NULL;
    struct scep_ca *ca = NULL;
    X509_CRL *crl = NULL;
    unsigned char *enc = NULL;
    size_t enclen = 0;
    int64_t number = 0;
    char detail[256];

    memset(&e, 0, sizeof(e));
    rc = ctl_parse_opts(c, argc, argv, opts, NULL, 0, &npos, ctl_find_command("crl"));
    if (rc != CTL_EXIT_OK)
        return rc < 0 ? CTL_EXIT_OK : rc;
    if (der && out_path == NULL && isatty(STDOUT_FILENO)) {
        ctl_err("crl: refusing to write DER to a terminal; use --out FILE or a redirection");
        return CTL_EXIT_USAGE;
    }
    rc = ctl_load_ca(c, &ca);
    if (rc != CTL_EXIT_OK)
        return rc;
    rc = ctl_open_store(c, &st);
    if (rc != CTL_EXIT_OK)
        goto out;
    rc = CTL_EXIT_FAIL;

    memset(&f, 0, sizeof(f));
    f.status = SCEP_CERT_REVOKED;
    f.include_expired = 1;
    err = scep_store_list_certs(st, &f, collect, &e);
    if (err != 0) {
        if (e.bad_serial != NULL)
            ctl_err("crl: the database holds a revoked certificate with the malformed serial "
                    "\"%s\"; no CRL was made",
                    e.bad_serial);
        else
            ctl_err("crl: reading the revoked certificates failed: %s", scep_strerror(err));
        goto out;
    }
    for (size_t i = 0; i < e.n; i++)
        e.v[i].serial = e.serials[i]; /* only now: realloc may have moved them */

    err = scep_store_next_crl_number(st, &number);
    if (err != 0) {
        ctl_err("crl: cannot allocate a CRL number: %s", scep_strerror(err));
        goto out;
    }
    err = scep_ca_make_crl(ca, e.v, e.n, number, (long)c->cfg.crl_validity_hours * 3600L, &crl);
    if (err != 0) {
        ctl_err("crl: signing the CRL failed: %s", scep_strerror(err));
        goto out;
    }
    if (encode_crl(crl, der, &enc, &enclen) != 0) {
        ctl_err("crl: encoding the CRL failed");
        goto out;
    }
    if (out_path != NULL) {
        if (write_atomic(out_path, enc, enclen) != 0) {
            ctl_err("crl: cannot write %s: %s", out_path, strerror(errno));
            goto out;
        }
    } else if (fwrite(enc, 1, enclen, stdout) != enclen) {
        ctl_err("crl: writing to standard output failed");
        goto out;
    }
    snprintf(detail, sizeof(detail), "number=%lld entries=%zu next_update_hours=%d%s%s",
             (long long)number, e.n, c->cfg.crl_validity_hours, out_path != NULL ? " out=" : "",
             out_path != NULL ? out_path : "");
    if (ctl_audit(c, st, "crl", NULL, detail) != CTL_EXIT_OK)
        goto out;
    if (out_path != NULL) {
        if (c->json) {
            json_t *o = json_object();
            if (o == NULL || json_object_set_new(o, "crl_number", json_integer(number)) != 0 ||
                json_object_set_new(o, "entries", json_integer((json_int_t)e.n)) != 0 ||
                json_object_set_new(o, "file", json_string(out_path)) != 0 ||
                json_object_set_new(o, "format", json_string(der ? "der" : "pem")) != 0) {
                json_decref(o);
                o = NULL;
            }
            rc = ctl_json_print(o);
            goto out;
        }
        printf("CRL number %lld with %zu entries written to %s\n", (long long)number, e.n,
               out_path);
    }
    rc = CTL_EXIT_OK;
out:
    free(enc);
    X509_CRL_free(crl);
    free(e.v);
    free(e.serials);
    if (st != NULL)
        scep_store_close(st);
    scep_ca_free(ca);
    return rc;
}
