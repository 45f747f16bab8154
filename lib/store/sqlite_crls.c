/*
 * The published CRLs in the SQLite backend: the crls table of schema
 * step 8 (sqlite_migrate.c), one row per CA holding the last CRL made
 * for it, and the lock under which one process makes the next.
 *
 * The lock is a byte of DATABASE.crl-lock per CA, taken as an open
 * file description lock (Linux's F_OFD_SETLK), rather than a write
 * transaction: making a CRL takes a crlNumber in a transaction of its
 * own and signs outside any, so it cannot sit inside one.  Each try
 * opens the file afresh, so two connections of one process (two
 * workers) exclude each other as two processes do; the kernel drops
 * the lock when a holder dies.
 */
/* F_OFD_SETLK (fcntl(2)) is a Linux extension. */
#define _GNU_SOURCE

#include "sqlite_be.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <scep/error.h>

static const struct sq_query q_get = {
    SQ_CRLS_GET, "SELECT number, made, next_update, digest, der FROM crls WHERE issuer_fp = ?1"};
/* The WHERE of the upsert keeps a newer row: a node that signed late
 * never puts an older crlNumber back. */
static const struct sq_query q_put = {
    SQ_CRLS_PUT,
    "INSERT INTO crls (issuer_fp, number, made, next_update, digest, der)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (issuer_fp) DO UPDATE SET"
    " number = excluded.number, made = excluded.made, next_update = excluded.next_update,"
    " digest = excluded.digest, der = excluded.der WHERE excluded.number > crls.number"};

int sq_get_crl(void *vbe, const char *issuer_fp, struct scep_store_crl *out)
{
    struct sq_be *be = vbe;
    sqlite3_stmt *s = NULL;
    const void *b;
    int rc, n, step;

    rc = sq_stmt(be, &q_get, &s);
    if (rc != 0)
        return rc;
    rc = SCEP_ERR_STORE;
    if (sqlite3_bind_text(s, 1, issuer_fp, -1, SQLITE_STATIC) != SQLITE_OK) {
        sq_fail(be, "read CRL");
        goto out;
    }
    step = sqlite3_step(s);
    if (step == SQLITE_DONE) {
        rc = SCEP_ERR_NOT_FOUND;
        goto out;
    }
    if (step != SQLITE_ROW) {
        sq_fail(be, "read CRL");
        goto out;
    }
    b = sqlite3_column_blob(s, 3);
    if (b == NULL || sqlite3_column_bytes(s, 3) != (int)sizeof(out->digest)) {
        snprintf(be->err, sizeof(be->err), "read CRL: the stored digest is damaged");
        goto out;
    }
    memcpy(out->digest, b, sizeof(out->digest));
    b = sqlite3_column_blob(s, 4);
    n = sqlite3_column_bytes(s, 4);
    if (b == NULL || n <= 0) {
        snprintf(be->err, sizeof(be->err), "read CRL: the stored CRL is empty");
        goto out;
    }
    rc = SCEP_ERR_NOMEM;
    if ((out->der = malloc((size_t)n)) == NULL)
        goto out;
    memcpy(out->der, b, (size_t)n);
    out->len = (size_t)n;
    memcpy(out->issuer_fp, issuer_fp, sizeof(out->issuer_fp) - 1);
    out->number = sqlite3_column_int64(s, 0);
    out->made = sqlite3_column_int64(s, 1);
    out->next_update = sqlite3_column_int64(s, 2);
    rc = 0;
out:
    sq_done(s);
    if (rc != 0)
        scep_store_crl_clear(out);
    return rc;
}

int sq_put_crl(void *vbe, const struct scep_store_crl *c)
{
    struct sq_be *be = vbe;
    sqlite3_stmt *s = NULL;
    int rc;

    if (c->len > (size_t)0x7fffffff)
        return SCEP_ERR_TOO_LARGE;
    rc = sq_stmt(be, &q_put, &s);
    if (rc != 0)
        return rc;
    rc = SCEP_ERR_STORE;
    if (sqlite3_bind_text(s, 1, c->issuer_fp, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int64(s, 2, c->number) != SQLITE_OK ||
        sqlite3_bind_int64(s, 3, c->made) != SQLITE_OK ||
        sqlite3_bind_int64(s, 4, c->next_update) != SQLITE_OK ||
        sqlite3_bind_blob(s, 5, c->digest, (int)sizeof(c->digest), SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_blob(s, 6, c->der, (int)c->len, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_step(s) != SQLITE_DONE) {
        sq_fail(be, "store CRL");
        goto out;
    }
    rc = 0;
out:
    sq_done(s);
    return rc;
}

/* The byte of DATABASE.crl-lock that stands for the CA issuer_fp: its
 * first 20 bits, so that two CAs' CRLs can be made at once. */
#define LOCK_BYTE_DIGITS 5

int sq_try_lock_crl(void *vbe, const char *issuer_fp, int *got)
{
    struct sq_be *be = vbe;
    struct flock fl;
    int fd;

    if (be->crl_lock_fd >= 0) {
        snprintf(be->err, sizeof(be->err), "CRL lock: already held by this handle");
        return SCEP_ERR_STORE;
    }
    if (be->crl_lock_path == NULL) { /* :memory: is this connection's alone */
        *got = 1;
        return 0;
    }
    fd = open(be->crl_lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf(be->err, sizeof(be->err), "CRL lock: cannot open %s: %s", be->crl_lock_path,
                 strerror(errno));
        return SCEP_ERR_STORE;
    }
    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = (off_t)store_fp_prefix(issuer_fp, LOCK_BYTE_DIGITS);
    fl.l_len = 1;
    /* An open file description lock: owned by this descriptor, not the
     * process, so two workers' connections exclude each other. */
    if (fcntl(fd, F_OFD_SETLK, &fl) != 0) {
        int e = errno;

        close(fd);
        if (e == EAGAIN || e == EACCES)
            return 0;
        snprintf(be->err, sizeof(be->err), "CRL lock: %s: %s", be->crl_lock_path, strerror(e));
        return SCEP_ERR_STORE;
    }
    be->crl_lock_fd = fd;
    *got = 1;
    return 0;
}

int sq_unlock_crl(void *vbe)
{
    struct sq_be *be = vbe;

    if (be->crl_lock_fd >= 0) {
        /* Closing the only descriptor of the open file drops its lock. */
        close(be->crl_lock_fd);
        be->crl_lock_fd = -1;
    }
    return 0;
}
