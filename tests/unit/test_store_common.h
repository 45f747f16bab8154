/*
 * Helpers shared by the store's unit tests (test_store_*.c): a fresh
 * database in a temporary directory, and certificate records built from
 * real self-signed certificates.  Header-only because each test program
 * is one .c file plus testutil.c.
 */
#ifndef SCEP_TEST_STORE_COMMON_H
#define SCEP_TEST_STORE_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/x509.h>
#include <sqlite3.h>

#include "store/store.h"
#include "testutil.h"

struct ts_db {
    char *dir;
    char path[512];
    char uri[600];
};

static inline struct ts_db *ts_db_new(void)
{
    struct ts_db *d = calloc(1, sizeof(*d));

    assert_non_null(d);
    d->dir = tu_tempdir();
    snprintf(d->path, sizeof(d->path), "%s/store.db", d->dir);
    snprintf(d->uri, sizeof(d->uri), "sqlite:%s", d->path);
    return d;
}

static inline void ts_db_free(struct ts_db *d)
{
    if (d == NULL)
        return;
    tu_rmrf(d->dir);
    free(d->dir);
    free(d);
}

/* cmocka fixtures: a fresh database per test. */
static inline int ts_setup(void **state)
{
    *state = ts_db_new();
    return 0;
}

static inline int ts_teardown(void **state)
{
    ts_db_free(*state);
    return 0;
}

/* Runs sql on the raw database file, outside the store (tampering and
 * inspection in tests). */
static inline void ts_raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* The first column of the first row of sql, read outside the store. */
static inline int64_t ts_raw_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int64_t v;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

/* DER of a real self-signed certificate for cn; free() it. */
static inline unsigned char *ts_cert_der(const char *cn, size_t *len)
{
    EVP_PKEY *k = tu_ec_key();
    X509 *x = tu_self_signed(k, cn);
    unsigned char *der = NULL;
    int n = i2d_X509(x, &der);

    assert_true(n > 0);
    *len = (size_t)n;
    X509_free(x);
    EVP_PKEY_free(k);
    /* OPENSSL_malloc and malloc may differ; hand back a malloc copy. */
    unsigned char *copy = malloc((size_t)n);
    assert_non_null(copy);
    memcpy(copy, der, (size_t)n);
    OPENSSL_free(der);
    return copy;
}

/* A record whose strings all live in static or caller storage. */
static inline struct scep_cert_info ts_info(const char *serial, const char *subject,
                                            const unsigned char *der, size_t der_len)
{
    struct scep_cert_info ci;

    memset(&ci, 0, sizeof(ci));
    ci.serial = (char *)serial;
    ci.issuer_fp = "aa00";
    ci.subject = (char *)subject;
    ci.not_before = 1000;
    ci.not_after = 4102444800; /* 2100 */
    ci.issued_at = 1000;
    ci.status = SCEP_CERT_VALID;
    ci.revocation_reason = -1;
    ci.der = (unsigned char *)der;
    ci.der_len = der_len;
    return ci;
}

static inline int ts_count_audit_cb(const struct scep_audit_event *ev, void *arg)
{
    (void)ev;
    (*(int *)arg)++;
    return 0;
}

static inline int ts_audit_count(struct scep_store *st)
{
    int n = 0;

    assert_int_equal(scep_store_list_audit(st, 0, ts_count_audit_cb, &n), 0);
    return n;
}

#endif
