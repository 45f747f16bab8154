/*
 * lib/admin's inventory: decoding untrusted certificate files
 * (scep_admin_parse_certs: PEM bundles, DER, garbage, trailing bytes,
 * oversize), importing files and folders (recursion, skipped files,
 * symbolic links not followed, limits on size and count, deduplication
 * by fingerprint, one "import" audit event per certificate stored, one
 * of ours not imported again), external certificates refused for
 * revocation, revoking superseded certificates after their grace
 * period, and subjects typed in OpenSSL's order.  Runs against a real
 * SQLite store in a temp directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <scep/error.h>

#include "admin/admin.h"
#include "store/store.h"
#include "testutil.h"

struct fx {
    char *dir;
    struct scep_store *st;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    char uri[600];

    assert_non_null(f);
    f->dir = tu_tempdir();
    snprintf(uri, sizeof(uri), "sqlite:%s/store.db", f->dir);
    assert_int_equal(scep_store_open(uri, &f->st, NULL, 0), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    scep_store_close(f->st);
    tu_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* A fresh self-signed certificate for cn.  X509_free(). */
static X509 *mk_cert(const char *cn)
{
    EVP_PKEY *k = tu_ec_key();
    X509 *x = tu_self_signed(k, cn);

    EVP_PKEY_free(k);
    assert_non_null(x);
    return x;
}

/* Appends x as PEM to the memory BIO b. */
static void pem_to(BIO *b, X509 *x)
{
    assert_int_equal(PEM_write_bio_X509(b, x), 1);
}

/* The bytes of a memory BIO, copied.  free(). */
static unsigned char *bio_bytes(BIO *b, size_t *len)
{
    char *p = NULL;
    long n = BIO_get_mem_data(b, &p);
    unsigned char *copy = malloc((size_t)n + 1);

    assert_non_null(copy);
    memcpy(copy, p, (size_t)n);
    *len = (size_t)n;
    return copy;
}

/* Writes len bytes to dir/name. */
static void write_file(const char *dir, const char *name, const void *buf, size_t len)
{
    char path[1024];
    FILE *fp;
    int n = snprintf(path, sizeof(path), "%s/%s", dir, name);

    assert_true(n > 0 && (size_t)n < sizeof(path));
    fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(buf, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static void write_pem(const char *dir, const char *name, X509 *const *xs, int n)
{
    BIO *b = BIO_new(BIO_s_mem());
    unsigned char *buf;
    size_t len;

    for (int i = 0; i < n; i++)
        pem_to(b, xs[i]);
    buf = bio_bytes(b, &len);
    write_file(dir, name, buf, len);
    free(buf);
    BIO_free(b);
}

static void write_der(const char *dir, const char *name, X509 *x)
{
    unsigned char *der = NULL;
    int n = i2d_X509(x, &der);

    assert_true(n > 0);
    write_file(dir, name, der, (size_t)n);
    OPENSSL_free(der);
}

/* --- scep_admin_parse_certs ----------------------------------------- */

/* A PEM bundle gives every certificate in order; a key block beside
 * them is skipped unread. */
static void test_parse_pem_bundle(void **state)
{
    X509 *a = mk_cert("a"), *b = mk_cert("b");
    EVP_PKEY *k = tu_ec_key();
    BIO *bio = BIO_new(BIO_s_mem());
    STACK_OF(X509) *sk = NULL;
    unsigned char *buf;
    size_t len;
    char why[256];

    (void)state;
    pem_to(bio, a);
    assert_int_equal(PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL), 1);
    pem_to(bio, b);
    buf = bio_bytes(bio, &len);
    assert_int_equal(scep_admin_parse_certs(buf, len, 0, &sk, why, sizeof(why)), 0);
    assert_int_equal(sk_X509_num(sk), 2);
    assert_int_equal(X509_cmp(sk_X509_value(sk, 0), a), 0);
    assert_int_equal(X509_cmp(sk_X509_value(sk, 1), b), 0);
    sk_X509_pop_free(sk, X509_free);
    sk = NULL;
    /* More certificates than allowed: refused, not truncated. */
    assert_int_equal(scep_admin_parse_certs(buf, len, 1, &sk, why, sizeof(why)),
                     SCEP_ERR_TOO_LARGE);
    assert_null(sk);
    assert_non_null(strstr(why, "more than 1"));
    free(buf);
    BIO_free(bio);
    EVP_PKEY_free(k);
    X509_free(a);
    X509_free(b);
}

/* One DER certificate decodes; a byte after it is refused. */
static void test_parse_der(void **state)
{
    X509 *a = mk_cert("der");
    unsigned char *der = NULL, *longer;
    int n = i2d_X509(a, &der);
    STACK_OF(X509) *sk = NULL;
    char why[256];

    (void)state;
    assert_true(n > 0);
    assert_int_equal(scep_admin_parse_certs(der, (size_t)n, 0, &sk, why, sizeof(why)), 0);
    assert_int_equal(sk_X509_num(sk), 1);
    assert_int_equal(X509_cmp(sk_X509_value(sk, 0), a), 0);
    sk_X509_pop_free(sk, X509_free);
    sk = NULL;
    longer = malloc((size_t)n + 1);
    memcpy(longer, der, (size_t)n);
    longer[n] = 0;
    assert_int_equal(scep_admin_parse_certs(longer, (size_t)n + 1, 0, &sk, why, sizeof(why)),
                     SCEP_ERR_TRAILING);
    assert_null(sk);
    /* Cut short: not a certificate. */
    assert_int_equal(scep_admin_parse_certs(der, (size_t)n - 1, 0, &sk, why, sizeof(why)),
                     SCEP_ERR_DER);
    free(longer);
    OPENSSL_free(der);
    X509_free(a);
}

/* Garbage, an empty buffer, PEM without a certificate, a certificate
 * block that is not base64, and a buffer past the ceiling. */
static void test_parse_garbage(void **state)
{
    static const char text[] = "this is not a certificate\n";
    static const char keyonly[] = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    static const char bad64[] = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
    static const char notcert[] =
        "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n";
    STACK_OF(X509) *sk = NULL;
    unsigned char *big;
    char why[256];

    (void)state;
    assert_int_equal(scep_admin_parse_certs((const unsigned char *)text, sizeof(text) - 1, 0, &sk,
                                            why, sizeof(why)),
                     SCEP_ERR_DER);
    assert_non_null(strstr(why, "neither PEM nor"));
    assert_int_equal(
        scep_admin_parse_certs((const unsigned char *)text, 0, 0, &sk, why, sizeof(why)),
        SCEP_ERR_DER);
    assert_int_equal(scep_admin_parse_certs((const unsigned char *)keyonly, sizeof(keyonly) - 1, 0,
                                            &sk, why, sizeof(why)),
                     SCEP_ERR_NOT_FOUND);
    assert_non_null(strstr(why, "no CERTIFICATE block"));
    assert_int_equal(scep_admin_parse_certs((const unsigned char *)bad64, sizeof(bad64) - 1, 0, &sk,
                                            why, sizeof(why)),
                     SCEP_ERR_DER);
    /* Valid base64 of a DER SEQUENCE that is no certificate. */
    assert_int_equal(scep_admin_parse_certs((const unsigned char *)notcert, sizeof(notcert) - 1, 0,
                                            &sk, why, sizeof(why)),
                     SCEP_ERR_DER);
    assert_non_null(strstr(why, "PEM block 1"));
    assert_null(sk);
    big = calloc(1, SCEP_ADMIN_IMPORT_FILE_CEILING + 1);
    assert_non_null(big);
    assert_int_equal(
        scep_admin_parse_certs(big, SCEP_ADMIN_IMPORT_FILE_CEILING + 1, 0, &sk, why, sizeof(why)),
        SCEP_ERR_TOO_LARGE);
    free(big);
}

/* --- scep_admin_import_paths ----------------------------------------- */

struct seen {
    int imported, known, skipped, failed;
    char last_where[1024];
};

static void seen_cb(const char *where, int rc, const struct scep_cert_info *ci, const char *why,
                    void *arg)
{
    struct seen *s = arg;

    (void)why;
    snprintf(s->last_where, sizeof(s->last_where), "%s", where);
    if (rc == 0) {
        assert_non_null(ci);
        assert_string_equal(ci->source, SCEP_CERT_SOURCE_IMPORT);
        assert_string_equal(ci->seen_at, where);
        s->imported++;
    } else if (rc == SCEP_ERR_EXISTS) {
        assert_non_null(ci);
        s->known++;
    } else if (rc == SCEP_ERR_NOT_FOUND) {
        s->skipped++;
    } else {
        s->failed++;
    }
}

static int count_cb(const struct scep_cert_info *ci, void *arg)
{
    (void)ci;
    (*(int *)arg)++;
    return 0;
}

static int import_events_cb(const struct scep_audit_event *ev, void *arg)
{
    if (strcmp(ev->kind, "import") == 0) {
        assert_string_equal(ev->actor, "test");
        assert_non_null(strstr(ev->detail, "sha256="));
        (*(int *)arg)++;
    }
    return 0;
}

/* A folder tree: certificates at every level are imported once each
 * (a duplicate in a bundle is "known"), a note is skipped, a symbolic
 * link to another folder is not followed, and each stored certificate
 * has its "import" audit event. */
static void test_import_folder(void **state)
{
    struct fx *f = *state;
    X509 *a = mk_cert("fa.example"), *b = mk_cert("fb.example"), *c = mk_cert("fc.example");
    X509 *outside = mk_cert("outside.example");
    X509 *bundle[2];
    char root[1024], sub[1100], deeper[1200], other[1024], link[1200];
    const char *paths[1];
    struct scep_admin_import_stats stats;
    struct scep_cert_filter flt;
    struct seen s;
    int n = 0, events = 0;

    memset(&s, 0, sizeof(s));
    snprintf(root, sizeof(root), "%s/certs", f->dir);
    snprintf(sub, sizeof(sub), "%s/sub", root);
    snprintf(deeper, sizeof(deeper), "%s/deeper", sub);
    snprintf(other, sizeof(other), "%s/other", f->dir);
    assert_int_equal(mkdir(root, 0700), 0);
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(mkdir(deeper, 0700), 0);
    assert_int_equal(mkdir(other, 0700), 0);
    write_pem(root, "a.pem", &a, 1);
    write_der(sub, "b.der", b);
    bundle[0] = c;
    bundle[1] = a;
    write_pem(deeper, "bundle.pem", bundle, 2);
    write_file(root, "README", "notes\n", 6);
    write_pem(other, "outside.pem", &outside, 1);
    snprintf(link, sizeof(link), "%s/link", root);
    assert_int_equal(symlink(other, link), 0);

    paths[0] = root;
    assert_int_equal(scep_admin_import_paths(f->st, "test", paths, 1, NULL, seen_cb, &s, &stats),
                     0);
    assert_int_equal(stats.imported, 3);
    assert_int_equal(stats.duplicates, 1);
    assert_int_equal(stats.skipped, 1);
    assert_int_equal(stats.failed, 0);
    assert_int_equal(stats.files, 4); /* README, a.pem, b.der, bundle.pem */
    assert_int_equal(s.imported, 3);
    assert_int_equal(s.known, 1);
    assert_int_equal(s.skipped, 1);
    assert_int_equal(s.failed, 0);

    memset(&flt, 0, sizeof(flt));
    flt.status = -1;
    flt.include_expired = 1;
    flt.sources = SCEP_CERT_SRC_EXTERNAL;
    assert_int_equal(scep_admin_list_certs(f->st, &flt, count_cb, &n), 0);
    assert_int_equal(n, 3);
    flt.subject_like = "outside";
    n = 0;
    assert_int_equal(scep_admin_list_certs(f->st, &flt, count_cb, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(scep_admin_list_audit(f->st, 0, import_events_cb, &events), 0);
    assert_int_equal(events, 3);

    /* Again: everything is known, nothing written. */
    memset(&s, 0, sizeof(s));
    assert_int_equal(scep_admin_import_paths(f->st, "test", paths, 1, NULL, seen_cb, &s, &stats),
                     0);
    assert_int_equal(stats.imported, 0);
    assert_int_equal(stats.duplicates, 4);
    events = 0;
    assert_int_equal(scep_admin_list_audit(f->st, 0, import_events_cb, &events), 0);
    assert_int_equal(events, 3);
    X509_free(a);
    X509_free(b);
    X509_free(c);
    X509_free(outside);
}

/* A file over the size limit is refused unread; the walk stops at the
 * file-count limit; a named file that holds no certificate fails (it
 * is not skipped as in a folder). */
static void test_import_limits(void **state)
{
    struct fx *f = *state;
    X509 *a = mk_cert("la.example"), *b = mk_cert("lb.example");
    char root[1024], path[1100];
    const char *paths[1];
    struct scep_admin_import_limits lim;
    struct scep_admin_import_stats stats;
    struct seen s;

    snprintf(root, sizeof(root), "%s/lim", f->dir);
    assert_int_equal(mkdir(root, 0700), 0);
    write_pem(root, "1.pem", &a, 1);
    write_pem(root, "2.pem", &b, 1);
    paths[0] = root;

    memset(&lim, 0, sizeof(lim));
    lim.max_file_bytes = 100; /* a PEM certificate is several hundred */
    memset(&s, 0, sizeof(s));
    assert_int_equal(scep_admin_import_paths(f->st, "test", paths, 1, &lim, seen_cb, &s, &stats),
                     SCEP_ERR_TOO_LARGE);
    assert_int_equal(stats.failed, 2);
    assert_int_equal(stats.imported, 0);

    memset(&lim, 0, sizeof(lim));
    lim.max_files = 1;
    memset(&s, 0, sizeof(s));
    assert_int_equal(scep_admin_import_paths(f->st, "test", paths, 1, &lim, seen_cb, &s, &stats),
                     SCEP_ERR_TOO_LARGE);
    assert_int_equal(stats.imported, 1);
    assert_int_equal(stats.files, 1);

    snprintf(path, sizeof(path), "%s/note.txt", root);
    write_file(root, "note.txt", "hello\n", 6);
    paths[0] = path;
    memset(&s, 0, sizeof(s));
    assert_int_equal(scep_admin_import_paths(f->st, "test", paths, 1, NULL, seen_cb, &s, &stats),
                     SCEP_ERR_DER);
    assert_int_equal(s.failed, 1);
    assert_int_equal(s.skipped, 0);
    X509_free(a);
    X509_free(b);
}

/* A certificate of ours (same DER) is not imported again, and an
 * imported one cannot be revoked by us. */
static void test_import_ours_and_revoke(void **state)
{
    struct fx *f = *state;
    X509 *x = mk_cert("ours.example"), *y = mk_cert("theirs.example");
    unsigned char *der = NULL;
    int n = i2d_X509(x, &der);
    struct scep_cert_info ci, *got = NULL;

    assert_true(n > 0);
    memset(&ci, 0, sizeof(ci));
    ci.serial = "0A0B";
    ci.subject = "CN=ours.example";
    ci.not_before = 1000;
    ci.not_after = 4102444800;
    ci.revocation_reason = -1;
    ci.der = der;
    ci.der_len = (size_t)n;
    assert_int_equal(scep_store_insert_cert(f->st, &ci, NULL), 0);
    assert_int_equal(scep_admin_import_cert(f->st, "test", x, SCEP_CERT_SOURCE_IMPORT, "/x.pem",
                                            (int64_t)time(NULL), &got),
                     SCEP_ERR_EXISTS);
    assert_non_null(got);
    assert_string_equal(got->serial, "0A0B");
    scep_cert_info_free(got);
    got = NULL;

    assert_int_equal(scep_admin_import_cert(f->st, "test", y, SCEP_CERT_SOURCE_TLS,
                                            "host.example:443", (int64_t)time(NULL), &got),
                     0);
    assert_string_equal(got->source, "tls");
    assert_string_equal(got->seen_at, "host.example:443");
    assert_null(got->issuer_fp);
    assert_true(strlen(got->serial) > 40); /* longer than any RFC 5280 serial */
    assert_int_equal(scep_admin_revoke(f->st, "test", got->serial, 1, (int64_t)time(NULL), NULL),
                     SCEP_ERR_POLICY);
    assert_int_equal(scep_store_revoke(f->st, got->serial, 1, 0, NULL), SCEP_ERR_POLICY);
    scep_cert_info_free(got);
    OPENSSL_free(der);
    X509_free(x);
    X509_free(y);
}

/* --- supersession ----------------------------------------------------- */

/* Stores a record of ours: serial, profile, renewing renews (may be
 * NULL), issued at issued. */
static void put_ours(struct fx *f, const char *serial, const char *profile, const char *renews,
                     int64_t issued)
{
    X509 *x = mk_cert(serial);
    unsigned char *der = NULL;
    int n = i2d_X509(x, &der);
    struct scep_cert_info ci;

    assert_true(n > 0);
    memset(&ci, 0, sizeof(ci));
    ci.serial = (char *)serial;
    ci.subject = "CN=sup";
    ci.not_before = issued;
    ci.not_after = 4102444800;
    ci.issued_at = issued;
    ci.revocation_reason = -1;
    ci.profile = (char *)profile;
    ci.renewed_serial = (char *)renews;
    ci.der = der;
    ci.der_len = (size_t)n;
    assert_int_equal(scep_store_insert_cert(f->st, &ci, NULL), 0);
    OPENSSL_free(der);
    X509_free(x);
}

static int revoke_events_cb(const struct scep_audit_event *ev, void *arg)
{
    if (strcmp(ev->kind, "revoke") == 0) {
        assert_non_null(strstr(ev->detail, "reason=superseded superseded_by=B2"));
        (*(int *)arg)++;
    }
    return 0;
}

/* The job revokes, with reason superseded, what a renewal superseded
 * before the cut-off, in the named profile only, once. */
static void test_revoke_superseded(void **state)
{
    struct fx *f = *state;
    int64_t now = (int64_t)time(NULL), day = 86400, count = -1;
    struct scep_cert_info *got = NULL;
    int events = 0;

    put_ours(f, "A1", "vpn", NULL, now - 30 * day);
    put_ours(f, "B2", "vpn", "A1", now - 10 * day); /* renews A1 ten days ago */
    put_ours(f, "C3", "", NULL, now - 30 * day);
    put_ours(f, "D4", "", "C3", now - 10 * day); /* the default profile */

    assert_int_equal(scep_store_get_cert(f->st, "A1", &got), 0);
    assert_string_equal(got->superseded_by, "B2");
    assert_int_equal(got->superseded_at, now - 10 * day);
    assert_string_equal(scep_admin_cert_status(got, now), "superseded");
    scep_cert_info_free(got);
    got = NULL;

    /* Grace of 20 days: the renewal is only 10 days old. */
    assert_int_equal(
        scep_admin_revoke_superseded(f->st, "vpn", now - 20 * day, "scepd", now, &count), 0);
    assert_int_equal(count, 0);
    /* Grace of 5 days: A1 is due; C3 belongs to another profile. */
    assert_int_equal(
        scep_admin_revoke_superseded(f->st, "vpn", now - 5 * day, "scepd", now, &count), 0);
    assert_int_equal(count, 1);
    assert_int_equal(scep_store_get_cert(f->st, "A1", &got), 0);
    assert_int_equal(got->status, SCEP_CERT_REVOKED);
    assert_int_equal(got->revocation_reason, 4);
    scep_cert_info_free(got);
    got = NULL;
    assert_int_equal(scep_store_get_cert(f->st, "C3", &got), 0);
    assert_int_equal(got->status, SCEP_CERT_VALID);
    scep_cert_info_free(got);
    /* Run again: nothing left. */
    assert_int_equal(
        scep_admin_revoke_superseded(f->st, "vpn", now - 5 * day, "scepd", now, &count), 0);
    assert_int_equal(count, 0);
    assert_int_equal(scep_admin_list_audit(f->st, 0, revoke_events_cb, &events), 0);
    assert_int_equal(events, 1);
}

/* --- subjects as typed -------------------------------------------------- */

static void test_subject_query(void **state)
{
    char *q = NULL;

    (void)state;
    assert_int_equal(scep_admin_subject_query("/C=US/O=Example/CN=dev", &q), 0);
    assert_string_equal(q, "CN=dev,O=Example,C=US");
    free(q);
    assert_int_equal(scep_admin_subject_query("CN=dev,O=Example", &q), 0);
    assert_string_equal(q, "CN=dev,O=Example");
    free(q);
    assert_int_equal(scep_admin_subject_query("dev", &q), 0);
    assert_string_equal(q, "dev");
    free(q);
    assert_int_equal(scep_admin_subject_query("/tmp/dev", &q), 0); /* no '=': a word */
    assert_string_equal(q, "/tmp/dev");
    free(q);
    q = NULL;
    assert_int_equal(scep_admin_subject_query("/XX=1", &q), SCEP_ERR_INVALID_ARG);
    assert_null(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_pem_bundle),
        cmocka_unit_test(test_parse_der),
        cmocka_unit_test(test_parse_garbage),
        cmocka_unit_test_setup_teardown(test_import_folder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_ours_and_revoke, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke_superseded, setup, teardown),
        cmocka_unit_test(test_subject_query),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
