/*
 * Unit tests of the SQLite audit table and of concurrent writers on one
 * file: detection of tampered, deleted, renumbered and NUL-smuggling
 * rows made through raw SQLite behind the store's back, and four
 * threads creating, migrating and writing one new database through
 * their own connections at once.  The chain's contract as the public
 * interface sees it (its exact hashes, after_id, time 0) is in
 * test_store_contract.c.
 */
#include "test_store_common.h"

#include <pthread.h>
#include <sqlite3.h>
#include <time.h>

#include <openssl/evp.h>

#include <scep/error.h>

/* Three events: an issue (with its certificate), a refusal, a revoke. */
static void write_three(struct scep_store *st)
{
    static const unsigned char der[] = {0x30, 0x00};
    struct scep_cert_info ci = ts_info("AB", "CN=a", der, sizeof(der));
    struct scep_audit_event issue = {.time = 1000,
                                     .kind = "issue",
                                     .actor = "scepd",
                                     .transaction_id = "T1",
                                     .peer = "192.0.2.1",
                                     .serial = "AB",
                                     .detail = "CN=a"};
    struct scep_audit_event refuse = {.time = 1001,
                                      .kind = "refuse",
                                      .actor = "scepd",
                                      .transaction_id = "T2",
                                      .peer = "192.0.2.2",
                                      .detail = "badMessageCheck"};
    struct scep_audit_event revoke = {
        .time = 1002, .kind = "revoke", .actor = "scepctl:root", .serial = "AB", .detail = ""};

    assert_int_equal(scep_store_insert_cert(st, &ci, &issue), 0);
    assert_int_equal(scep_store_audit(st, &refuse), 0);
    assert_int_equal(scep_store_revoke(st, "AB", 1, 1002, &revoke), 0);
}

/* Writes three events, applies sql behind the store's back, and expects
 * verification to name want_bad. */
static void tamper_case(struct ts_db *d, const char *sql, int64_t want_bad)
{
    struct scep_store *st = NULL;
    int64_t bad = 0;

    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    write_three(st);
    assert_int_equal(scep_store_verify_audit(st, &bad), 0);
    ts_raw_exec(d->path, sql);
    assert_int_equal(scep_store_verify_audit(st, &bad), SCEP_ERR_STORE);
    assert_int_equal(bad, want_bad);
    assert_true(strstr(scep_store_last_error(st), "audit") != NULL);
    scep_store_close(st);
}

static void test_tamper_detail(void **state)
{
    tamper_case(*state, "UPDATE audit SET detail = 'keyCompromise' WHERE id = 2", 2);
}

static void test_tamper_null_vs_empty(void **state)
{
    /* Event 3 has detail ""; NULL is a different value. */
    tamper_case(*state, "UPDATE audit SET detail = NULL WHERE id = 3", 3);
}

static void test_tamper_field_shift(void **state)
{
    /* Moving bytes from one field to its neighbour keeps the concatenation. */
    tamper_case(*state, "UPDATE audit SET actor = 'scep', transaction_id = 'dT1' WHERE id = 1", 1);
}

static void test_tamper_time(void **state)
{
    tamper_case(*state, "UPDATE audit SET time = time + 1 WHERE id = 1", 1);
}

static void test_tamper_rehashed(void **state)
{
    /* Replacing event 1 wholesale, hash included, breaks event 2's link. */
    tamper_case(*state,
                "UPDATE audit SET kind = 'refuse', hash = '"
                "1111111111111111111111111111111111111111111111111111111111111111' WHERE id = 1",
                1);
}

static void test_tamper_delete_middle(void **state)
{
    tamper_case(*state, "DELETE FROM audit WHERE id = 2", 3);
}

static void test_tamper_renumber(void **state)
{
    tamper_case(*state, "DELETE FROM audit WHERE id = 3; UPDATE audit SET id = 3 WHERE id = 2", 3);
}

static void test_tamper_nul_byte(void **state)
{
    tamper_case(*state,
                "UPDATE audit SET detail = CAST(detail || x'00' || 'x' AS TEXT) "
                "WHERE id = 2",
                2);
}

/* --- concurrency ------------------------------------------------------ */

#define NTHREADS 4
#define PER_THREAD 50

struct worker {
    const char *uri;
    int index;
    int failures;
    int open_rc;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct scep_store *st = NULL;
    unsigned char der[8];
    char serial[32], subject[64];
    int64_t crl;

    w->open_rc = scep_store_open(w->uri, &st, NULL, 0);
    if (w->open_rc != 0)
        return NULL;
    for (int i = 0; i < PER_THREAD; i++) {
        snprintf(serial, sizeof(serial), "%02X%04X", w->index, i);
        snprintf(subject, sizeof(subject), "CN=t%d-%d", w->index, i);
        memset(der, 0, sizeof(der));
        der[0] = 0x30;
        der[1] = 0x06;
        der[2] = (unsigned char)w->index;
        der[3] = (unsigned char)i;
        struct scep_cert_info ci = ts_info(serial, subject, der, sizeof(der));
        struct scep_audit_event ev = {
            .kind = "issue", .actor = "scepd", .serial = serial, .detail = subject};
        if (scep_store_insert_cert(st, &ci, &ev) != 0)
            w->failures++;
        if (i % 10 == 0 && scep_store_next_crl_number(st, &crl) != 0)
            w->failures++;
    }
    scep_store_close(st);
    return NULL;
}

static int count_cert_cb(const struct scep_cert_info *ci, void *arg)
{
    (void)ci;
    (*(int *)arg)++;
    return 0;
}

static void test_concurrent_writers(void **state)
{
    struct ts_db *d = *state;
    pthread_t th[NTHREADS];
    struct worker w[NTHREADS];
    struct scep_store *st = NULL;
    struct scep_cert_filter f = {.status = -1, .include_expired = 1};
    struct scep_cert_info *got = NULL;
    int64_t bad = -1, crl = 0;
    int n = 0;

    /* The threads open a database that does not exist yet, so they also
     * race to create and migrate it. */
    for (int i = 0; i < NTHREADS; i++) {
        w[i] = (struct worker){.uri = d->uri, .index = i};
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(w[i].open_rc, 0);
        assert_int_equal(w[i].failures, 0);
    }

    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    assert_true(scep_store_schema_version(st) > 0);
    assert_int_equal(scep_store_list_certs(st, &f, count_cert_cb, &n), 0);
    assert_int_equal(n, NTHREADS * PER_THREAD);
    assert_int_equal(ts_audit_count(st), NTHREADS * PER_THREAD);
    assert_int_equal(scep_store_verify_audit(st, &bad), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(scep_store_get_cert(st, "030031", &got), 0);
    assert_string_equal(got->subject, "CN=t3-49");
    scep_cert_info_free(got);
    /* Each thread took 5 CRL numbers: 20 handed out, none twice. */
    assert_int_equal(scep_store_next_crl_number(st, &crl), 0);
    assert_int_equal(crl, NTHREADS * 5 + 1);
    scep_store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tamper_detail, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_tamper_null_vs_empty, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_tamper_field_shift, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_tamper_time, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_tamper_rehashed, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_tamper_delete_middle, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_tamper_renumber, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_tamper_nul_byte, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_writers, ts_setup, ts_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
