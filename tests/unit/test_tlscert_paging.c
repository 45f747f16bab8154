/*
 * Two pieces of core the admin API stands on: scepd's own TLS server
 * certificate (lib/service/tlscert.c: issued by the CA for the hosts
 * asked, key 0600, stored and audited; kept while it fits, issued again
 * when the hosts change or the files do not match) and certificate
 * listings in pages (lib/admin/certs_page.c: every record exactly once,
 * in the listing order, ties on issued_at broken by serial).  Real CA,
 * real SQLite store in a temp directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <scep/error.h>

#include "admin/admin.h"
#include "ca/ca.h"
#include "service/tlscert.h"
#include "store/store.h"
#include "testutil.h"

struct fx {
    char *dir;
    struct scep_ca *ca;
    struct scep_store *st;
    char cert[600], key[600];
};

static int setup(void **state)
{
    struct scep_ca_init_opts o = {.rsa_bits = 2048};
    struct fx *f = calloc(1, sizeof(*f));
    char uri[600];

    assert_non_null(f);
    f->dir = tu_tempdir();
    assert_int_equal(scep_ca_create(f->dir, &o), 0);
    assert_int_equal(scep_ca_load(f->dir, &f->ca), 0);
    snprintf(uri, sizeof(uri), "sqlite:%s/store.db", f->dir);
    assert_int_equal(scep_store_open(uri, &f->st, NULL, 0), 0);
    snprintf(f->cert, sizeof(f->cert), "%s/tls.crt", f->dir);
    snprintf(f->key, sizeof(f->key), "%s/tls.key", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    scep_store_close(f->st);
    scep_ca_free(f->ca);
    tu_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static X509 *read_cert(const char *path)
{
    FILE *fp = fopen(path, "r");
    X509 *x;

    assert_non_null(fp);
    x = PEM_read_X509(fp, NULL, NULL, NULL);
    fclose(fp);
    assert_non_null(x);
    return x;
}

struct count {
    int n;
    char kind[32];
    char actor[32];
};

static int count_cb(const struct scep_cert_info *ci, void *arg)
{
    (void)ci;
    ((struct count *)arg)->n++;
    return 0;
}

static int audit_cb(const struct scep_audit_event *ev, void *arg)
{
    struct count *c = arg;

    snprintf(c->kind, sizeof(c->kind), "%s", ev->kind);
    snprintf(c->actor, sizeof(c->actor), "%s", ev->actor);
    return 0;
}

static void test_tls_cert(void **state)
{
    struct fx *f = *state;
    const char *hosts[] = {"127.0.0.1", "admin.example"};
    const char *other[] = {"127.0.0.1", "other.example"};
    struct scep_cert_filter all = {.status = -1, .include_expired = 1};
    struct count c = {0};
    char why[256];
    struct stat st;
    X509 *x, *y;
    int issued = -1;

    assert_int_equal(scep_tls_cert_ensure(f->st, f->ca, f->cert, f->key, hosts, 2, "scepd", &issued,
                                          why, sizeof(why)),
                     0);
    assert_int_equal(issued, 1);
    assert_int_equal(stat(f->key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    x = read_cert(f->cert);
    assert_int_equal(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
    assert_int_equal(X509_check_host(x, "admin.example", 0, 0, NULL), 1);
    assert_int_equal(X509_check_issued(scep_ca_get0_cert(f->ca), x), X509_V_OK);
    assert_true(X509_get_extended_key_usage(x) & XKU_SSL_SERVER);
    /* Stored and audited like any certificate of the CA. */
    assert_int_equal(scep_store_list_certs(f->st, &all, count_cb, &c), 0);
    assert_int_equal(c.n, 1);
    assert_int_equal(scep_store_list_audit(f->st, 0, audit_cb, &c), 0);
    assert_string_equal(c.kind, "issue");
    assert_string_equal(c.actor, "scepd");
    /* Asked again for the same hosts: kept. */
    assert_int_equal(scep_tls_cert_ensure(f->st, f->ca, f->cert, f->key, hosts, 2, "scepd", &issued,
                                          why, sizeof(why)),
                     0);
    assert_int_equal(issued, 0);
    y = read_cert(f->cert);
    assert_int_equal(X509_cmp(x, y), 0);
    X509_free(y);
    /* Another host: issued again. */
    assert_int_equal(scep_tls_cert_ensure(f->st, f->ca, f->cert, f->key, other, 2, "scepd", &issued,
                                          why, sizeof(why)),
                     0);
    assert_int_equal(issued, 1);
    y = read_cert(f->cert);
    assert_int_not_equal(X509_cmp(x, y), 0);
    assert_int_equal(X509_check_host(y, "other.example", 0, 0, NULL), 1);
    X509_free(y);
    X509_free(x);
    /* A key that is not the certificate's: issued again. */
    assert_int_equal(rename(f->key, f->cert), 0);
    assert_int_equal(scep_tls_cert_ensure(f->st, f->ca, f->cert, f->key, other, 2, "scepd", &issued,
                                          why, sizeof(why)),
                     0);
    assert_int_equal(issued, 1);
    /* Bad arguments. */
    assert_int_equal(scep_tls_cert_ensure(f->st, f->ca, f->cert, f->key, hosts, 0, "scepd", &issued,
                                          why, sizeof(why)),
                     SCEP_ERR_INVALID_ARG);
    {
        const char *empty[] = {""};

        assert_int_equal(scep_tls_cert_ensure(f->st, f->ca, f->cert, f->key, empty, 1, "scepd",
                                              &issued, why, sizeof(why)),
                         SCEP_ERR_INVALID_ARG);
        assert_true(why[0] != '\0');
    }
}

/* Stores a record with serial s issued at t. */
static void put(struct fx *f, const char *s, int64_t t)
{
    static const unsigned char der[] = {0x30, 0x00};
    struct scep_cert_info ci;

    memset(&ci, 0, sizeof(ci));
    ci.serial = (char *)s;
    ci.subject = "CN=page";
    ci.not_before = 1000;
    ci.not_after = 4102444800;
    ci.issued_at = t;
    ci.revocation_reason = -1;
    ci.der = (unsigned char *)der;
    ci.der_len = sizeof(der);
    assert_int_equal(scep_store_insert_cert(f->st, &ci, NULL), 0);
}

struct page {
    char serials[16][8];
    int n;
    struct scep_admin_cert_cursor last;
};

static int page_cb(const struct scep_cert_info *ci, void *arg)
{
    struct page *p = arg;

    assert_true(p->n < 16);
    snprintf(p->serials[p->n++], sizeof(p->serials[0]), "%s", ci->serial);
    p->last.key = ci->issued_at;
    snprintf(p->last.serial, sizeof(p->last.serial), "%s", ci->serial);
    return 0;
}

static void test_paging(void **state)
{
    struct fx *f = *state;
    struct scep_cert_filter flt = {.status = -1, .include_expired = 1};
    /* The listing order: issued_at descending, then serial ascending. */
    static const char *const want[] = {"0E", "0A", "0B", "0C", "01", "02", "03"};
    struct page all = {0}, p;
    struct scep_admin_cert_cursor cur;
    int more = -1, i, pages = 0, have = 0;

    put(f, "01", 100);
    put(f, "02", 100);
    put(f, "03", 100);
    put(f, "0C", 200);
    put(f, "0A", 200);
    put(f, "0B", 200);
    put(f, "0E", 300);
    assert_int_equal(scep_admin_list_certs_page(f->st, &flt, NULL, 100, page_cb, &all, &more), 0);
    assert_int_equal(more, 0);
    assert_int_equal(all.n, 7);
    for (i = 0; i < 7; i++)
        assert_string_equal(all.serials[i], want[i]);
    /* Pages of two cover it exactly once, in order. */
    memset(&cur, 0, sizeof(cur));
    do {
        memset(&p, 0, sizeof(p));
        assert_int_equal(
            scep_admin_list_certs_page(f->st, &flt, pages > 0 ? &cur : NULL, 2, page_cb, &p, &more),
            0);
        for (i = 0; i < p.n; i++)
            assert_string_equal(p.serials[i], want[have + i]);
        have += p.n;
        cur = p.last;
        pages++;
    } while (more && pages < 10);
    assert_int_equal(have, 7);
    assert_int_equal(pages, 4);
    /* A full last page says there is no more. */
    memset(&p, 0, sizeof(p));
    assert_int_equal(scep_admin_list_certs_page(f->st, &flt, NULL, 7, page_cb, &p, &more), 0);
    assert_int_equal(more, 0);
    assert_int_equal(scep_admin_list_certs_page(f->st, &flt, NULL, 0, page_cb, &p, &more),
                     SCEP_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tls_cert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paging, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
