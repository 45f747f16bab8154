/*
 * Loading a CA from its state directory into an immutable, reference
 * counted struct scep_ca, promoting a due next CA on the way, and the
 * operations on a loaded CA that need its keys: GetCACert and
 * GetNextCACert bodies, decrypting requests and signing CertReps.  The
 * keys are loaded into the CA's keyring by reference ("file:" + path);
 * what this file holds are key handles (keyring/keyhandle.h), made once
 * here so that requests never build one.
 *
 * Promotion is a sequence of links and renames that can be repeated
 * from the start after a crash at any step: next/activate-at is removed
 * only when everything else is in place, so as long as it exists the
 * next load redoes the remaining steps.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509.h>

#include <scep/error.h>
#include <scep/limits.h>
#include <scep/message.h>

#include "ca/ca.h"
#include "ca/ca_internal.h"
#include "ca/fsutil.h"
#include "util/atomic_file.h"
#include "keyring/keyhandle.h"
#include "keyring/keyring.h"

/* Parses next/activate-at: a decimal Unix time.  Returns 0 or SCEP_ERR_*. */
static int read_activate_at(const char *path, time_t *out)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    char *end = NULL;
    long long v;
    int rc;

    if ((rc = ca_read_file(path, &buf, &len)) != 0)
        goto out;
    rc = SCEP_ERR_CONFIG;
    if (len == 0 || len > 24 || memchr(buf, '\0', len) != NULL)
        goto out;
    errno = 0;
    v = strtoll((const char *)buf, &end, 10); /* ca_read_file() NUL-terminates */
    if (errno != 0 || end == (char *)buf || v <= 0)
        goto out;
    while (*end == '\n' || *end == '\r' || *end == ' ')
        end++;
    if (*end != '\0')
        goto out;
    *out = (time_t)v;
    rc = 0;
out:
    free(buf);
    return rc;
}

/* Hard-links from to to; an existing to counts as done.  Returns 0 or SCEP_ERR_IO. */
static int link_once(const char *from, const char *to)
{
    if (link(from, to) == 0 || errno == EEXIST)
        return 0;
    return SCEP_ERR_IO;
}

/*
 * Moves dir/next/name over dir/name when the next file is still there
 * (a resumed promotion may have moved it already).  Returns 0 or SCEP_ERR_*.
 */
static int move_from_next(const char *dir, const char *next, const char *name)
{
    char from[PATH_MAX], to[PATH_MAX];

    if (ca_path_join(from, sizeof(from), next, name) != 0 ||
        ca_path_join(to, sizeof(to), dir, name) != 0)
        return SCEP_ERR_TOO_LARGE;
    if (!ca_path_exists(from))
        return 0;
    return ca_rename(from, to);
}

/*
 * Promotes dir/next to current when its activate-at is due at now.
 * Steps, each safe to repeat:
 *   1. archive/<SERIAL>.key and .crt become hard links of the current
 *      ca.key and ca.crt (skipped once the current ca.crt is already the
 *      next one, which means step 3 finished before a crash);
 *   2. next/ra.* replace ra.* (or the old ra.* are removed when the next
 *      CA has no RA);
 *   3. next/ca.key, then next/ca.crt replace ca.key, ca.crt;
 *   4. next/activate-at is removed, then the next directory.
 * Returns 0 (also when nothing was due) or SCEP_ERR_*.
 */
static int promote_if_due(const char *dir, time_t now)
{
    char next[PATH_MAX], path[PATH_MAX], arch[PATH_MAX], src[PATH_MAX], name[300];
    X509 *cur = NULL, *nxt = NULL;
    char *hex = NULL;
    time_t at = 0;
    int rc, w, next_has_ra;

    if ((rc = ca_path_join(next, sizeof(next), dir, NEXT_DIR)) != 0 ||
        (rc = ca_path_join(path, sizeof(path), next, ACTIVATE_AT)) != 0)
        goto out;
    if (!ca_path_exists(path)) {
        rc = 0;
        goto out;
    }
    if ((rc = read_activate_at(path, &at)) != 0)
        goto out;
    if (at > now) {
        rc = 0;
        goto out;
    }
    if ((rc = ca_path_join(src, sizeof(src), dir, CA_CRT)) != 0 ||
        (rc = ca_read_cert(src, &cur)) != 0)
        goto out;
    if ((rc = ca_path_join(path, sizeof(path), next, CA_CRT)) != 0)
        goto out;
    if (ca_path_exists(path)) {
        if ((rc = ca_read_cert(path, &nxt)) != 0)
            goto out;
    }
    /* Step 1, unless the current ca.crt already is the promoted one. */
    if (nxt != NULL && X509_cmp(cur, nxt) != 0) {
        if ((rc = ca_path_join(arch, sizeof(arch), dir, ARCHIVE_DIR)) != 0 ||
            (rc = ca_mkdir_private(arch)) != 0 || (rc = ca_serial_hex(cur, &hex)) != 0)
            goto out;
        /* Key first: once ca.key is replaced (step 3) its link must already exist. */
        w = snprintf(name, sizeof(name), "%s/%s.key", ARCHIVE_DIR, hex);
        if (w < 0 || (size_t)w >= sizeof(name) ||
            (rc = ca_path_join(path, sizeof(path), dir, name)) != 0 ||
            (rc = ca_path_join(src, sizeof(src), dir, CA_KEY)) != 0 ||
            (rc = link_once(src, path)) != 0) {
            rc = rc != 0 ? rc : SCEP_ERR_TOO_LARGE;
            goto out;
        }
        w = snprintf(name, sizeof(name), "%s/%s.crt", ARCHIVE_DIR, hex);
        if (w < 0 || (size_t)w >= sizeof(name) ||
            (rc = ca_path_join(path, sizeof(path), dir, name)) != 0 ||
            (rc = ca_path_join(src, sizeof(src), dir, CA_CRT)) != 0 ||
            (rc = link_once(src, path)) != 0) {
            rc = rc != 0 ? rc : SCEP_ERR_TOO_LARGE;
            goto out;
        }
        if ((rc = util_fsync_dir(arch)) != 0)
            goto out;
    }
    /* Step 2. */
    if ((rc = ca_path_join(path, sizeof(path), next, RA_CRT)) != 0)
        goto out;
    next_has_ra = ca_path_exists(path);
    if ((rc = ca_path_join(path, sizeof(path), next, RA_KEY)) != 0)
        goto out;
    next_has_ra = next_has_ra || ca_path_exists(path);
    if (next_has_ra) {
        if ((rc = move_from_next(dir, next, RA_KEY)) != 0 ||
            (rc = move_from_next(dir, next, RA_CRT)) != 0)
            goto out;
    } else if (nxt != NULL) {
        /* Only while next/ca.crt is still there: afterwards ra.* may be new. */
        if ((rc = ca_path_join(path, sizeof(path), dir, RA_CRT)) != 0 ||
            (ca_path_exists(path) && unlink(path) != 0))
            goto io;
        if ((rc = ca_path_join(path, sizeof(path), dir, RA_KEY)) != 0 ||
            (ca_path_exists(path) && unlink(path) != 0))
            goto io;
    }
    /* Step 3: ca.crt last, so a crash in between leaves next/ca.crt to resume from. */
    if ((rc = move_from_next(dir, next, CA_KEY)) != 0 ||
        (rc = move_from_next(dir, next, CA_CRT)) != 0)
        goto out;
    /* Step 4. */
    if ((rc = ca_path_join(path, sizeof(path), next, ACTIVATE_AT)) != 0)
        goto out;
    if (unlink(path) != 0 && errno != ENOENT)
        goto io;
    if (rmdir(next) != 0 && errno != ENOENT)
        goto io;
    rc = util_fsync_dir(dir);
    goto out;
io:
    rc = rc != 0 ? rc : SCEP_ERR_IO;
out:
    OPENSSL_free(hex);
    X509_free(cur);
    X509_free(nxt);
    return rc;
}

/*
 * Loads the key dir/key_name into kr and the certificate dir/crt_name,
 * checks that they belong together and attaches the certificate to the
 * key in the keyring.  *cert: free with X509_free(); *key (a handle):
 * free with EVP_PKEY_free().
 */
static int load_pair(const char *dir, const char *crt_name, const char *key_name,
                     struct scep_keyring *kr, X509 **cert, EVP_PKEY **key)
{
    char path[PATH_MAX], ref[PATH_MAX + 8];
    X509 *c = NULL;
    EVP_PKEY *k = NULL;
    unsigned char *der = NULL;
    int n, rc;

    if ((rc = ca_key_ref(ref, sizeof(ref), dir, key_name)) != 0 ||
        (rc = scep_keyring_load(kr, ref)) != 0)
        goto out;
    if ((rc = ca_path_join(path, sizeof(path), dir, crt_name)) != 0 ||
        (rc = ca_read_cert(path, &c)) != 0)
        goto out;
    if ((rc = scep_keyhandle_new(kr, ref, &k)) != 0)
        goto out;
    /* EVP_PKEY_eq() compares parameters and public components only (the
     * handle exports nothing else); -1/-2 for mismatched types mean "no". */
    if (EVP_PKEY_eq(X509_get0_pubkey(c), k) != 1) {
        rc = SCEP_ERR_KEY;
        goto out;
    }
    rc = SCEP_ERR_INTERNAL;
    if ((n = i2d_X509(c, &der)) <= 0)
        goto out;
    if ((rc = scep_keyring_set_cert(kr, ref, der, (size_t)n)) != 0)
        goto out;
    *cert = c;
    *key = k;
    c = NULL;
    k = NULL;
    rc = 0;
out:
    OPENSSL_free(der);
    X509_free(c);
    EVP_PKEY_free(k);
    return rc;
}

/* Orders CA certificates newest first by notBefore: a rollover makes
 * the next CA after the current one, so the newest archived CA is the
 * one that was current before the last rollover. */
static int newest_first(const X509 *const *a, const X509 *const *b)
{
    return ASN1_TIME_compare(X509_get0_notBefore(*b), X509_get0_notBefore(*a));
}

/* Loads every archive/<hex>.crt into ca->archive, newest first.  A
 * missing archive is empty. */
static int load_archive(const char *dir, struct scep_ca *ca)
{
    char arch[PATH_MAX], path[PATH_MAX];
    DIR *d = NULL;
    struct dirent *de;
    X509 *c = NULL;
    int rc;

    if ((rc = ca_path_join(arch, sizeof(arch), dir, ARCHIVE_DIR)) != 0)
        goto out;
    d = opendir(arch);
    if (d == NULL) {
        rc = errno == ENOENT ? 0 : SCEP_ERR_IO;
        goto out;
    }
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);

        if (n < 5 || strcmp(de->d_name + n - 4, ".crt") != 0)
            continue;
        if ((rc = ca_path_join(path, sizeof(path), arch, de->d_name)) != 0 ||
            (rc = ca_read_cert(path, &c)) != 0)
            goto out;
        if (sk_X509_num(ca->archive) >= SCEP_MAX_CERTS * 4 || !sk_X509_push(ca->archive, c)) {
            rc = SCEP_ERR_TOO_LARGE;
            goto out;
        }
        c = NULL;
    }
    (void)sk_X509_set_cmp_func(ca->archive, newest_first);
    sk_X509_sort(ca->archive);
    rc = 0;
out:
    X509_free(c);
    if (d != NULL)
        closedir(d);
    return rc;
}

/*
 * Loads the announced next CA (certificates only, after checking that
 * the keys beside them are private and match; the keys go into a
 * keyring of their own that is dropped again).
 */
static int load_next(const char *dir, struct scep_ca *ca)
{
    char next[PATH_MAX], path[PATH_MAX];
    struct scep_keyring *kr = NULL;
    EVP_PKEY *k = NULL;
    int rc;

    if ((rc = ca_path_join(next, sizeof(next), dir, NEXT_DIR)) != 0 ||
        (rc = ca_path_join(path, sizeof(path), next, ACTIVATE_AT)) != 0)
        goto out;
    if (!ca_path_exists(path)) {
        rc = 0;
        goto out;
    }
    if ((rc = read_activate_at(path, &ca->next_at)) != 0 || (rc = scep_keyring_new(&kr)) != 0)
        goto out;
    if ((rc = load_pair(next, CA_CRT, CA_KEY, kr, &ca->next_cert, &k)) != 0)
        goto out;
    EVP_PKEY_free(k);
    k = NULL;
    if ((rc = ca_path_join(path, sizeof(path), next, RA_CRT)) != 0)
        goto out;
    if (ca_path_exists(path)) {
        if ((rc = load_pair(next, RA_CRT, RA_KEY, kr, &ca->next_ra_cert, &k)) != 0)
            goto out;
    }
    rc = 0;
out:
    EVP_PKEY_free(k);
    scep_keyring_free(kr);
    return rc;
}

/* Frees everything a struct scep_ca holds, whatever its refcount. */
static void ca_destroy(struct scep_ca *ca)
{
    X509_free(ca->cert);
    EVP_PKEY_free(ca->key);
    X509_free(ca->ra_cert);
    EVP_PKEY_free(ca->ra_key);
    /* After the handles: each holds a reference on the keyring. */
    scep_keyring_free(ca->kr);
    X509_free(ca->next_cert);
    X509_free(ca->next_ra_cert);
    sk_X509_pop_free(ca->archive, X509_free);
    free(ca->dir);
    free(ca);
}

/*
 * Loads the CA in dir, promoting a due next CA first (see ca.h).
 * *out: release with scep_ca_free().
 */
int scep_ca_load(const char *dir, struct scep_ca **out)
{
    struct scep_ca *ca = NULL;
    char path[PATH_MAX];
    int rc;

    if (dir == NULL || out == NULL)
        return SCEP_ERR_INVALID_ARG;
    if (!scep_ca_exists(dir))
        return SCEP_ERR_NOT_FOUND;
    if ((rc = promote_if_due(dir, time(NULL))) != 0)
        goto out;
    ca = calloc(1, sizeof(*ca));
    if (ca == NULL) {
        rc = SCEP_ERR_NOMEM;
        goto out;
    }
    atomic_init(&ca->refs, 1);
    ca->archive = sk_X509_new_null();
    ca->dir = strdup(dir);
    if (ca->archive == NULL || ca->dir == NULL) {
        rc = SCEP_ERR_NOMEM;
        goto out;
    }
    if ((rc = scep_keyring_new(&ca->kr)) != 0 ||
        (rc = load_pair(dir, CA_CRT, CA_KEY, ca->kr, &ca->cert, &ca->key)) != 0)
        goto out;
    if ((rc = ca_path_join(path, sizeof(path), dir, RA_CRT)) != 0)
        goto out;
    if (ca_path_exists(path)) {
        if ((rc = load_pair(dir, RA_CRT, RA_KEY, ca->kr, &ca->ra_cert, &ca->ra_key)) != 0)
            goto out;
    } else if (!EVP_PKEY_is_a(X509_get0_pubkey(ca->cert), "RSA")) {
        /* No RSA key to receive envelopes: the CA cannot speak SCEP. */
        rc = SCEP_ERR_KEY;
        goto out;
    }
    if ((rc = load_next(dir, ca)) != 0 || (rc = load_archive(dir, ca)) != 0)
        goto out;
    *out = ca;
    ca = NULL;
    rc = 0;
out:
    if (ca != NULL)
        ca_destroy(ca);
    return rc;
}

/* Takes a reference; returns ca. */
struct scep_ca *scep_ca_up_ref(struct scep_ca *ca)
{
    if (ca != NULL)
        atomic_fetch_add_explicit(&ca->refs, 1, memory_order_relaxed);
    return ca;
}

/* Drops a reference and frees on the last.  Accepts NULL. */
void scep_ca_free(struct scep_ca *ca)
{
    if (ca == NULL)
        return;
    /* acq_rel: the last holder must see every other holder's accesses
     * finished before it frees. */
    if (atomic_fetch_sub_explicit(&ca->refs, 1, memory_order_acq_rel) == 1)
        ca_destroy(ca);
}

/* Borrowed: the issuing CA certificate. */
X509 *scep_ca_get0_cert(const struct scep_ca *ca)
{
    return ca != NULL ? ca->cert : NULL;
}

/* Borrowed: the RA certificate, NULL without RA. */
X509 *scep_ca_get0_ra_cert(const struct scep_ca *ca)
{
    return ca != NULL ? ca->ra_cert : NULL;
}

/* Borrowed: the next CA certificate, NULL without one. */
X509 *scep_ca_get0_next_cert(const struct scep_ca *ca)
{
    return ca != NULL ? ca->next_cert : NULL;
}

/* The next CA's activation time, 0 without one. */
time_t scep_ca_next_activate_at(const struct scep_ca *ca)
{
    return ca != NULL ? ca->next_at : 0;
}

/* Borrowed: the SCEP certificate (RA if present, else CA). */
X509 *scep_ca_get0_scep_cert(const struct scep_ca *ca)
{
    if (ca == NULL)
        return NULL;
    return ca->ra_cert != NULL ? ca->ra_cert : ca->cert;
}

/* The key handle behind scep_ca_get0_scep_cert(). */
static EVP_PKEY *scep_key_of(const struct scep_ca *ca)
{
    return ca->ra_key != NULL ? ca->ra_key : ca->key;
}

/*
 * GetCACert body (see ca.h).  *der: free with scep_free(); *content_type
 * is a static string.
 */
int scep_ca_getcacert(const struct scep_ca *ca, unsigned char **der, size_t *len,
                      const char **content_type)
{
    STACK_OF(X509) *certs = NULL;
    unsigned char *buf = NULL, *p;
    size_t n = 0;
    int dlen, rc = SCEP_ERR_INTERNAL;

    if (ca == NULL || der == NULL || len == NULL || content_type == NULL)
        return SCEP_ERR_INVALID_ARG;
    if (ca->ra_cert == NULL) {
        dlen = i2d_X509(ca->cert, NULL);
        if (dlen <= 0)
            goto out;
        /* scep_free() is OPENSSL_free(), so allocate with OpenSSL. */
        buf = OPENSSL_malloc((size_t)dlen);
        if (buf == NULL) {
            rc = SCEP_ERR_NOMEM;
            goto out;
        }
        p = buf; /* i2d_X509() advances the pointer it is given */
        if (i2d_X509(ca->cert, &p) != dlen)
            goto out;
        n = (size_t)dlen;
        *content_type = "application/x-x509-ca-cert";
    } else {
        certs = sk_X509_new_null();
        /* RA pushed first, though DER sorts the SET OF certificates on
         * output anyway: clients must (and do) pick the RA by its key
         * usage and by not being a CA, not by position. */
        if (certs == NULL || !sk_X509_push(certs, ca->ra_cert) || !sk_X509_push(certs, ca->cert))
            goto out;
        if ((rc = scep_certs_only_build(certs, NULL, &buf, &n)) != 0)
            goto out;
        *content_type = "application/x-x509-ca-ra-cert";
    }
    *der = buf;
    *len = n;
    buf = NULL;
    rc = 0;
out:
    sk_X509_free(certs); /* borrowed certificates: free the stack only */
    OPENSSL_free(buf);
    return rc;
}

/*
 * GetNextCACert body: next RA (if any) and next CA, signed by the current
 * SCEP certificate.  *der: free with scep_free().
 */
int scep_ca_getnextcacert(const struct scep_ca *ca, unsigned char **der, size_t *len)
{
    STACK_OF(X509) *certs = NULL;
    int rc = SCEP_ERR_INTERNAL;

    if (ca == NULL || der == NULL || len == NULL)
        return SCEP_ERR_INVALID_ARG;
    if (ca->next_cert == NULL)
        return SCEP_ERR_NOT_FOUND;
    certs = sk_X509_new_null();
    if (certs == NULL)
        goto out;
    if (ca->next_ra_cert != NULL && !sk_X509_push(certs, ca->next_ra_cert))
        goto out;
    if (!sk_X509_push(certs, ca->next_cert))
        goto out;
    rc = scep_next_ca_build(certs, scep_ca_get0_scep_cert(ca), scep_key_of(ca), NULL, der, len);
out:
    sk_X509_free(certs);
    return rc;
}

/*
 * Decrypts m with the SCEP key; returns what scep_msg_decrypt() returns.
 * CMS does the envelope; only the wrapped content key reaches the
 * keyring, through the handle.
 */
int scep_ca_decrypt(const struct scep_ca *ca, struct scep_msg *m)
{
    if (ca == NULL || m == NULL)
        return SCEP_ERR_INVALID_ARG;
    return scep_msg_decrypt(m, scep_ca_get0_scep_cert(ca), scep_key_of(ca));
}

/*
 * Builds the message spec describes signed by the SCEP certificate.
 * *der: free with scep_free().
 */
int scep_ca_sign_message(const struct scep_ca *ca, const struct scep_msg_spec *spec,
                         unsigned char **der, size_t *len)
{
    struct scep_msg_spec s;

    if (ca == NULL || spec == NULL || der == NULL || len == NULL)
        return SCEP_ERR_INVALID_ARG;
    s = *spec;
    s.signer_cert = scep_ca_get0_scep_cert(ca);
    s.signer_key = scep_key_of(ca);
    return scep_msg_build(&s, der, len);
}
