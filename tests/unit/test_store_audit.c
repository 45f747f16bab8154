/*
 * Unit tests of the store's audit trail and of concurrent writers: the
 * hash chain's exact encoding (recomputed here independently), its
 * verification, detection of tampered, deleted and reordered rows made
 * through raw SQLite behind the store's back, and four threads writing
 * through their own connections at once.
 */
#include "test_store_common.h"

#include <pthread.h>
#include <sqlite3.h>
#include <time.h>

#include <openssl/evp.h>

#include <scep/error.h>

/* The documented encoding, written out again independently of
 * audit_hash.c so that a change to it fails here. */
static void enc_u64(unsigned char *buf, size_t *off, uint64_t v)
{
    for (int i = 7; i >= 0; i--)
        buf[(*off)++] = (unsigned char)(v >> (8 * i));
}

static void enc_str(unsigned char *buf, size_t *off, const char *s)
{
    buf[(*off)++] = s != NULL;
    enc_u64(buf, off, s != NULL ? strlen(s) : 0);
    if (s != NULL) {
        memcpy(buf + *off, s, strlen(s));
        *off += strlen(s);
    }
}

static void expected_hash(const char *prev, int64_t id, int64_t t, const char *f[6],
                          char out[65])
{
    unsigned char buf[2048], md[32];
    unsigned int mdlen = 0;
    size_t off = 0;

    enc_str(buf, &off, "scep-audit-v1");
    enc_str(buf, &off, prev);
    enc_u64(buf, &off, (uint64_t)id);
    enc_u64(buf, &off, (uint64_t)t);
    for (int i = 0; i < 6; i++)
        enc_str(buf, &off, f[i]);
    assert_int_equal(EVP_Digest(buf, off, md, &mdlen, EVP_sha256(), NULL), 1);
    for (unsigned int i = 0; i < mdlen; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

struct seen {
    int64_t ids[16];
    char hashes[16][65];
    int64_t times[16];
    char details[16][64];
    int n;
};

static int seen_cb(const struct scep_audit_event *ev, void *arg)
{
    struct seen *s = arg;

    assert_true(s->n < 16);
    s->ids[s->n] = ev->id;
    s->times[s->n] = ev->time;
    snprintf(s->hashes[s->n], 65, "%s", ev->hash);
    snprintf(s->details[s->n], 64, "%s", ev->detail != NULL ? ev->detail : "(null)");
    s->n++;
    return 0;
}

/* Three events: an issue (with its certificate), a refusal, a revoke. */
static void write_three(struct scep_store *st)
{
    static const unsigned char der[] = {0x30, 0x00};
    struct scep_cert_info ci = ts_info("AB", "CN=a", der, sizeof(der));
    struct scep_audit_event issue = {.time = 1000, .kind = "issue", .actor = "scepd",
                                     .transaction_id = "T1", .peer = "192.0.2.1",
                                     .serial = "AB", .detail = "CN=a"};
    struct scep_audit_event refuse = {.time = 1001, .kind = "refuse", .actor = "scepd",
                                      .transaction_id = "T2", .peer = "192.0.2.2",
                                      .detail = "badMessageCheck"};
    struct scep_audit_event revoke = {.time = 1002, .kind = "revoke",
                                      .actor = "scepctl:root", .serial = "AB",
                                      .detail = ""};

    assert_int_equal(scep_store_insert_cert(st, &ci, &issue), 0);
    assert_int_equal(scep_store_audit(st, &refuse), 0);
    assert_int_equal(scep_store_revoke(st, "AB", 1, 1002, &revoke), 0);
}

static void test_chain_encoding(void **state)
{
    struct ts_db *d = *state;
    struct scep_store *st = NULL;
    struct seen s;
    char h1[65], h2[65];
    const char *f1[6] = {"issue", "scepd", "T1", "192.0.2.1", "AB", "CN=a"};
    const char *f2[6] = {"refuse", "scepd", "T2", "192.0.2.2", NULL, "badMessageCheck"};
    int64_t bad = -1;

    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    write_three(st);
    memset(&s, 0, sizeof(s));
    assert_int_equal(scep_store_list_audit(st, 0, seen_cb, &s), 0);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.ids[0], 1);
    assert_int_equal(s.ids[2], 3);
    assert_int_equal(s.times[1], 1001);
    assert_string_equal(s.details[1], "badMessageCheck");
    /* The first event chains from 64 zeros, the second from the first. */
    expected_hash("0000000000000000000000000000000000000000000000000000000000000000", 1,
                  1000, f1, h1);
    assert_string_equal(s.hashes[0], h1);
    expected_hash(h1, 2, 1001, f2, h2);
    assert_string_equal(s.hashes[1], h2);
    assert_int_equal(scep_store_verify_audit(st, &bad), 0);
    assert_int_equal(bad, 0);

    /* after_id skips what the caller has already seen. */
    memset(&s, 0, sizeof(s));
    assert_int_equal(scep_store_list_audit(st, 2, seen_cb, &s), 0);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.ids[0], 3);
    scep_store_close(st);
}

static void test_time_zero_is_now(void **state)
{
    struct ts_db *d = *state;
    struct scep_store *st = NULL;
    struct scep_audit_event ev = {.kind = "ca-init", .actor = "scepctl:root"};
    struct seen s;
    int64_t before = (int64_t)time(NULL), bad = -1;

    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    assert_int_equal(scep_store_audit(st, &ev), 0);
    memset(&s, 0, sizeof(s));
    assert_int_equal(scep_store_list_audit(st, 0, seen_cb, &s), 0);
    assert_int_equal(s.n, 1);
    assert_true(s.times[0] >= before && s.times[0] <= before + 5);
    assert_string_equal(s.details[0], "(null)");
    assert_int_equal(scep_store_verify_audit(st, &bad), 0);
    /* kind is required. */
    ev.kind = NULL;
    assert_int_equal(scep_store_audit(st, &ev), SCEP_ERR_INVALID_ARG);
    scep_store_close(st);
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
    tamper_case(*state, "UPDATE audit SET actor = 'scep', transaction_id = 'dT1' WHERE id = 1",
                1);
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
    tamper_case(*state, "DELETE FROM audit WHERE id = 3; UPDATE audit SET id = 3 WHERE id = 2",
                3);
}

static void test_tamper_nul_byte(void **state)
{
    tamper_case(*state, "UPDATE audit SET detail = CAST(detail || x'00' || 'x' AS TEXT) "
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
        struct scep_audit_event ev = {.kind = "issue", .actor = "scepd", .serial = serial,
                                      .detail = subject};
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
    assert_int_equal(scep_store_schema_version(st), 3);
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
        cmocka_unit_test_setup_teardown(test_chain_encoding, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_time_zero_is_now, ts_setup, ts_teardown),
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
