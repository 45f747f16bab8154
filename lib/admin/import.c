/*
 * Importing certificates scepd did not issue into the inventory, so that
 * expiry monitoring and the searches of scepctl list cover them too
 * (store.h, "The inventory").  This file reads files and folders and
 * decodes what they hold; import_tls.c fetches what TLS endpoints serve.
 * Both end in scep_admin_import_cert, which stores one certificate as
 * external with its "import" audit event in the same transaction.
 *
 * Every byte read here is someone else's: a file is checked with fstat
 * (a regular file, no larger than the limit) before it is read, read
 * whole into a buffer of that size, and decoded only by OpenSSL (PEM
 * blocks with PEM_read_bio over a memory BIO of that length, DER with
 * d2i_X509 and an explicit length, trailing bytes refused).  The limits
 * are in admin.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <scep/error.h>

#include "admin/admin.h"
#include "admin/certinfo.h"

/* 1 if the bytes at buf look like PEM: a "-----BEGIN " line somewhere.
 * DER starts with a SEQUENCE tag (0x30) and holds no such text at the
 * front, so the choice is made once for the whole buffer. */
static int looks_pem(const unsigned char *buf, size_t len)
{
    static const char tag[] = "-----BEGIN ";
    size_t n = sizeof(tag) - 1, i;

    if (len > 0 && buf[0] == 0x30)
        return 0;
    for (i = 0; i + n <= len; i++)
        if (memcmp(buf + i, tag, n) == 0)
            return 1;
    return 0;
}

/* Decodes one DER certificate of exactly len bytes.  *out: X509_free().
 * 0, SCEP_ERR_DER or SCEP_ERR_TRAILING. */
static int decode_der(const unsigned char *der, long len, X509 **out)
{
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, len);

    if (x == NULL)
        return SCEP_ERR_DER;
    if (p != der + len) {
        X509_free(x);
        return SCEP_ERR_TRAILING;
    }
    *out = x;
    return 0;
}

/* The PEM labels that hold an X.509 certificate (RFC 7468 5.1, and the
 * older one OpenSSL still writes). */
static int cert_label(const char *name)
{
    return strcmp(name, PEM_STRING_X509) == 0 || strcmp(name, PEM_STRING_X509_OLD) == 0;
}

/* Decodes every certificate block of a PEM buffer into sk. */
static int parse_pem(const unsigned char *buf, size_t len, size_t max_certs, STACK_OF(X509) *sk,
                     char *why, size_t whylen)
{
    BIO *bio = NULL;
    char *name = NULL, *header = NULL;
    unsigned char *data = NULL;
    long dlen = 0;
    X509 *x = NULL;
    int rc = SCEP_ERR_NOMEM, block = 0;

    bio = BIO_new_mem_buf(buf, (int)len);
    if (bio == NULL)
        goto out;
    for (;;) {
        /* PEM_read_bio reads any block, so that a key next to the
         * certificates is skipped without ever being decoded. */
        if (PEM_read_bio(bio, &name, &header, &data, &dlen) != 1) {
            unsigned long e = ERR_peek_last_error();
            /* The normal end: no further BEGIN line. */
            if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
                break;
            snprintf(why, whylen, "PEM block %d: malformed (RFC 7468 2)", block + 1);
            rc = SCEP_ERR_DER;
            goto out;
        }
        block++;
        if (cert_label(name)) {
            if ((size_t)sk_X509_num(sk) >= max_certs) {
                snprintf(why, whylen, "more than %zu certificates", max_certs);
                rc = SCEP_ERR_TOO_LARGE;
                goto out;
            }
            rc = decode_der(data, dlen, &x);
            if (rc != 0) {
                snprintf(why, whylen, "PEM block %d: %s (RFC 5280 4.1)", block,
                         rc == SCEP_ERR_TRAILING ? "bytes after the certificate"
                                                 : "not a DER certificate");
                goto out;
            }
            if (sk_X509_push(sk, x) == 0) {
                rc = SCEP_ERR_NOMEM;
                goto out;
            }
            x = NULL;
        }
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(data);
        name = header = NULL;
        data = NULL;
    }
    ERR_clear_error();
    if (sk_X509_num(sk) == 0) {
        snprintf(why, whylen, "no CERTIFICATE block among %d PEM block(s)", block);
        rc = SCEP_ERR_NOT_FOUND;
        goto out;
    }
    rc = 0;
out:
    if (rc != 0)
        ERR_clear_error();
    X509_free(x);
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    BIO_free(bio);
    return rc;
}

int scep_admin_parse_certs(const unsigned char *buf, size_t len, size_t max_certs,
                           STACK_OF(X509) **out, char *why, size_t whylen)
{
    STACK_OF(X509) *sk = NULL;
    X509 *x = NULL;
    int rc = SCEP_ERR_INVALID_ARG;

    if (why == NULL)
        whylen = 0;
    if (whylen > 0)
        why[0] = '\0';
    if (buf == NULL || out == NULL)
        return SCEP_ERR_INVALID_ARG;
    if (len == 0) {
        snprintf(why, whylen, "empty");
        return SCEP_ERR_DER;
    }
    if (len > SCEP_ADMIN_IMPORT_FILE_CEILING) {
        snprintf(why, whylen, "%zu bytes, more than the ceiling of %d", len,
                 SCEP_ADMIN_IMPORT_FILE_CEILING);
        return SCEP_ERR_TOO_LARGE;
    }
    if (max_certs == 0)
        max_certs = SCEP_ADMIN_IMPORT_CERTS_PER_FILE;
    sk = sk_X509_new_null();
    if (sk == NULL)
        return SCEP_ERR_NOMEM;
    if (looks_pem(buf, len)) {
        rc = parse_pem(buf, len, max_certs, sk, why, whylen);
        if (rc != 0)
            goto out;
    } else {
        rc = decode_der(buf, (long)len, &x);
        if (rc != 0) {
            snprintf(why, whylen, "%s",
                     rc == SCEP_ERR_TRAILING ? "bytes after the DER certificate"
                                             : "neither PEM nor a DER certificate (RFC 5280 4.1)");
            ERR_clear_error();
            goto out;
        }
        if (sk_X509_push(sk, x) == 0) {
            rc = SCEP_ERR_NOMEM;
            goto out;
        }
        x = NULL;
    }
    *out = sk;
    sk = NULL;
    rc = 0;
out:
    X509_free(x);
    sk_X509_pop_free(sk, X509_free);
    return rc;
}

int scep_admin_import_cert(struct scep_store *st, const char *actor, X509 *cert, const char *source,
                           const char *seen_at, int64_t now, struct scep_cert_info **out)
{
    struct scep_cert_info ci, *got = NULL;
    struct scep_audit_event ev;
    char key[SCEP_EXTERNAL_KEY_LEN], detail[1600], fp[65];
    int rc;

    memset(&ci, 0, sizeof(ci));
    if (st == NULL || actor == NULL || cert == NULL || source == NULL || seen_at == NULL ||
        (strcmp(source, SCEP_CERT_SOURCE_IMPORT) != 0 && strcmp(source, SCEP_CERT_SOURCE_TLS) != 0))
        return SCEP_ERR_INVALID_ARG;
    if (strlen(seen_at) > SCEP_ADMIN_SEEN_AT_MAX)
        return SCEP_ERR_TOO_LARGE;
    /* The same conversion the service stores its own certificates
     * with, so that searches treat both alike. */
    rc = scep_certinfo_from_x509(cert, NULL, &ci);
    if (rc != 0)
        goto out;
    rc = scep_cert_fingerprint(cert, fp);
    if (rc != 0)
        goto out;
    /* Known already (ours, or imported before): report the stored one
     * rather than write. */
    rc = scep_store_get_cert_by_fingerprint(st, fp, &got);
    if (rc == 0) {
        rc = SCEP_ERR_EXISTS;
        goto done;
    }
    if (rc != SCEP_ERR_NOT_FOUND)
        goto out;
    rc = scep_store_external_key(fp, key);
    if (rc != 0)
        goto out;
    /* The certificate's own serial is another CA's; the store keys it by
     * fingerprint (store.h). */
    free(ci.serial);
    ci.serial = key;
    ci.issued_at = now;
    ci.source = (char *)source;
    ci.seen_at = (char *)seen_at;
    snprintf(detail, sizeof(detail), "source=%s seen_at=%s sha256=%s subject=\"%s\"", source,
             seen_at, fp, ci.subject != NULL ? ci.subject : "");
    memset(&ev, 0, sizeof(ev));
    ev.time = now;
    ev.kind = "import";
    ev.actor = actor;
    ev.serial = key;
    ev.detail = detail;
    rc = scep_store_insert_cert(st, &ci, &ev);
    /* SCEP_ERR_EXISTS here: another import stored it since the look-up
     * (the store's unique fingerprint said so). */
    if (rc != 0 && rc != SCEP_ERR_EXISTS)
        goto out;
    if (scep_store_get_cert_by_fingerprint(st, fp, &got) != 0)
        got = NULL;
done:
    if (out != NULL) {
        *out = got;
        got = NULL;
    }
out:
    if (ci.serial == key)
        ci.serial = NULL;
    ci.source = ci.seen_at = NULL;
    scep_certinfo_clear(&ci);
    scep_cert_info_free(got);
    return rc;
}

/* One import run: its store, limits, report and counters. */
struct import_run {
    struct scep_store *st;
    const char *actor;
    size_t max_file_bytes;
    size_t max_files;
    scep_admin_import_cb cb;
    void *arg;
    struct scep_admin_import_stats stats;
    int64_t now;
    int last_err; /* the last failure, 0: none */
    int stopped;  /* max_files reached: the walk reads nothing more */
};

/* Reports a failure at where and remembers it. */
static void run_fail(struct import_run *r, const char *where, int rc, const char *why)
{
    r->stats.failed++;
    r->last_err = rc;
    if (r->cb != NULL)
        r->cb(where, rc, NULL, why, r->arg);
}

/* Stores the certificates of sk, found at where, as source. */
static void import_stack(struct import_run *r, STACK_OF(X509) *sk, const char *source,
                         const char *where)
{
    struct scep_cert_info *ci = NULL;
    int i, rc;

    for (i = 0; i < sk_X509_num(sk); i++) {
        r->stats.certs++;
        rc = scep_admin_import_cert(r->st, r->actor, sk_X509_value(sk, i), source, where, r->now,
                                    &ci);
        if (rc == 0)
            r->stats.imported++;
        else if (rc == SCEP_ERR_EXISTS)
            r->stats.duplicates++;
        if (rc == 0 || rc == SCEP_ERR_EXISTS) {
            if (r->cb != NULL)
                r->cb(where, rc, ci, NULL, r->arg);
        } else {
            run_fail(r, where, rc, scep_strerror(rc));
        }
        scep_cert_info_free(ci);
        ci = NULL;
    }
}

/*
 * Reads the regular file open on fd (at most max bytes, checked with
 * fstat before anything is read, and again by reading one byte past the
 * size in case it grew).  *out: free(); *len its length.  0,
 * SCEP_ERR_INVALID_ARG (not a regular file), SCEP_ERR_TOO_LARGE, or
 * SCEP_ERR_IO, with why.
 */
static int read_bounded(int fd, size_t max, unsigned char **out, size_t *len, char *why,
                        size_t whylen)
{
    struct stat sb;
    unsigned char *buf = NULL;
    size_t want, got = 0;
    ssize_t n;
    int rc = SCEP_ERR_IO;

    if (fstat(fd, &sb) != 0) {
        snprintf(why, whylen, "fstat: %s", strerror(errno));
        goto out;
    }
    if (!S_ISREG(sb.st_mode)) {
        snprintf(why, whylen, "not a regular file");
        rc = SCEP_ERR_INVALID_ARG;
        goto out;
    }
    if (sb.st_size < 0 || (uintmax_t)sb.st_size > (uintmax_t)max) {
        snprintf(why, whylen, "%lld bytes, more than the limit of %zu", (long long)sb.st_size, max);
        rc = SCEP_ERR_TOO_LARGE;
        goto out;
    }
    want = (size_t)sb.st_size;
    buf = malloc(want + 1);
    if (buf == NULL) {
        rc = SCEP_ERR_NOMEM;
        goto out;
    }
    while (got < want + 1) {
        n = read(fd, buf + got, want + 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(why, whylen, "read: %s", strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    if (got > want) {
        snprintf(why, whylen, "grew while being read");
        rc = SCEP_ERR_TOO_LARGE;
        goto out;
    }
    *out = buf;
    *len = got;
    buf = NULL;
    rc = 0;
out:
    free(buf);
    return rc;
}

/* Imports the certificates of the file at path; in_folder: met while
 * walking a folder, so a file of something else is skipped. */
static void import_file(struct import_run *r, const char *path, int in_folder)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    STACK_OF(X509) *sk = NULL;
    char why[256] = "", abs[PATH_MAX];
    int fd, rc;

    if (r->stats.files >= r->max_files) {
        snprintf(why, sizeof(why), "more than %zu files: stopped here", r->max_files);
        run_fail(r, path, SCEP_ERR_TOO_LARGE, why);
        r->stopped = 1;
        return;
    }
    r->stats.files++;
    /* O_NONBLOCK: a FIFO swapped in after the lstat must not hang the
     * open; read_bounded() refuses anything but a regular file. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        snprintf(why, sizeof(why), "%s", strerror(errno));
        run_fail(r, path, SCEP_ERR_IO, why);
        return;
    }
    rc = read_bounded(fd, r->max_file_bytes, &buf, &len, why, sizeof(why));
    close(fd);
    if (rc == 0) {
        rc = scep_admin_parse_certs(buf, len, 0, &sk, why, sizeof(why));
        /* Not a certificate at all (as opposed to a broken PEM block or
         * one too many): in a folder, someone else's file. */
        if (in_folder &&
            (rc == SCEP_ERR_NOT_FOUND || (rc == SCEP_ERR_DER && !looks_pem(buf, len)))) {
            r->stats.skipped++;
            if (r->cb != NULL)
                r->cb(path, SCEP_ERR_NOT_FOUND, NULL, why, r->arg);
            goto out;
        }
    }
    if (rc != 0) {
        run_fail(r, path, rc, why);
        goto out;
    }
    /* Where it was seen: the absolute path, so that the record still
     * names the file whatever directory the import ran in. */
    if (realpath(path, abs) == NULL)
        snprintf(abs, sizeof(abs), "%s", path);
    import_stack(r, sk, SCEP_CERT_SOURCE_IMPORT, abs);
out:
    sk_X509_pop_free(sk, X509_free);
    free(buf);
}

static void import_dir(struct import_run *r, const char *path, int depth);

/* Imports path: a folder (recursively) or a file.  top: given by the
 * caller, so a symbolic link to it is followed. */
static void import_path(struct import_run *r, const char *path, int depth, int top)
{
    struct stat sb;
    int err = top ? stat(path, &sb) : lstat(path, &sb);
    char why[256];

    if (r->stopped)
        return;
    if (err != 0) {
        snprintf(why, sizeof(why), "%s", strerror(errno));
        run_fail(r, path, SCEP_ERR_IO, why);
        return;
    }
    if (S_ISLNK(sb.st_mode))
        return; /* inside a folder: not followed (see admin.h) */
    if (S_ISDIR(sb.st_mode)) {
        import_dir(r, path, depth);
        return;
    }
    if (!S_ISREG(sb.st_mode)) {
        if (top)
            run_fail(r, path, SCEP_ERR_INVALID_ARG, "not a regular file or folder");
        return; /* sockets, devices and FIFOs in a folder are not certificates */
    }
    import_file(r, path, !top);
}

/* Entries of a folder in name order, so that an import reports the
 * same way each time; "." and ".." left out. */
static int not_dots(const struct dirent *d)
{
    return strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0;
}

static void import_dir(struct import_run *r, const char *path, int depth)
{
    struct dirent **names = NULL;
    char child[PATH_MAX], why[256];
    int n, i;

    if (depth >= SCEP_ADMIN_IMPORT_DEPTH) {
        snprintf(why, sizeof(why), "folders nested deeper than %d", SCEP_ADMIN_IMPORT_DEPTH);
        run_fail(r, path, SCEP_ERR_TOO_LARGE, why);
        return;
    }
    n = scandir(path, &names, not_dots, alphasort);
    if (n < 0) {
        snprintf(why, sizeof(why), "%s", strerror(errno));
        run_fail(r, path, SCEP_ERR_IO, why);
        return;
    }
    for (i = 0; i < n; i++) {
        if (!r->stopped) {
            if (snprintf(child, sizeof(child), "%s/%s", path, names[i]->d_name) >=
                (int)sizeof(child))
                run_fail(r, path, SCEP_ERR_TOO_LARGE, "path too long");
            else
                import_path(r, child, depth + 1, 0);
        }
        free(names[i]);
    }
    free(names);
}

int scep_admin_import_paths(struct scep_store *st, const char *actor, const char *const *paths,
                            size_t n, const struct scep_admin_import_limits *lim,
                            scep_admin_import_cb cb, void *arg,
                            struct scep_admin_import_stats *stats)
{
    struct import_run r;
    size_t i;

    if (stats != NULL)
        memset(stats, 0, sizeof(*stats));
    if (st == NULL || actor == NULL || (paths == NULL && n > 0))
        return SCEP_ERR_INVALID_ARG;
    memset(&r, 0, sizeof(r));
    r.st = st;
    r.actor = actor;
    r.cb = cb;
    r.arg = arg;
    r.now = (int64_t)time(NULL);
    r.max_file_bytes =
        lim != NULL && lim->max_file_bytes > 0 ? lim->max_file_bytes : SCEP_ADMIN_IMPORT_FILE_BYTES;
    r.max_files = lim != NULL && lim->max_files > 0 ? lim->max_files : SCEP_ADMIN_IMPORT_FILES;
    if (r.max_file_bytes > SCEP_ADMIN_IMPORT_FILE_CEILING ||
        r.max_files > SCEP_ADMIN_IMPORT_FILES_CEILING)
        return SCEP_ERR_INVALID_ARG;
    for (i = 0; i < n; i++) {
        if (paths[i] == NULL)
            return SCEP_ERR_INVALID_ARG;
        import_path(&r, paths[i], 0, 1);
    }
    if (stats != NULL)
        *stats = r.stats;
    return r.stopped ? SCEP_ERR_TOO_LARGE : r.last_err;
}

int scep_admin_import_tls(struct scep_store *st, const char *actor, const char *const *hostports,
                          size_t n, int timeout_ms, scep_admin_import_cb cb, void *arg,
                          struct scep_admin_import_stats *stats)
{
    struct import_run r;
    STACK_OF(X509) *sk = NULL;
    char why[256];
    size_t i;
    int rc;

    if (stats != NULL)
        memset(stats, 0, sizeof(*stats));
    if (st == NULL || actor == NULL || (hostports == NULL && n > 0))
        return SCEP_ERR_INVALID_ARG;
    memset(&r, 0, sizeof(r));
    r.st = st;
    r.actor = actor;
    r.cb = cb;
    r.arg = arg;
    r.now = (int64_t)time(NULL);
    for (i = 0; i < n; i++) {
        if (hostports[i] == NULL)
            return SCEP_ERR_INVALID_ARG;
        r.stats.files++;
        why[0] = '\0';
        rc = scep_admin_tls_chain(hostports[i], timeout_ms, &sk, why, sizeof(why));
        if (rc != 0) {
            run_fail(&r, hostports[i], rc, why);
            continue;
        }
        /* seen_at is the endpoint as the caller named it: that is where
         * someone will look when it is about to expire. */
        import_stack(&r, sk, SCEP_CERT_SOURCE_TLS, hostports[i]);
        sk_X509_pop_free(sk, X509_free);
        sk = NULL;
    }
    if (stats != NULL)
        *stats = r.stats;
    return r.last_err;
}
