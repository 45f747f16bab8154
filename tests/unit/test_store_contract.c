/*
 * The store's backend contract: what every backend behind
 * lib/store/store.h must do, as tests written against store.h alone (no
 * SQL; sqlite: URIs only as the default store and in the open-error
 * cases of the scheme table).  SQLite and PostgreSQL both pass it: the
 * unit run uses a fresh SQLite file, and integration.store_pg runs this
 * same program against a PostgreSQL server it starts (SCEP_STORE_URI).
 * What only SQLite can show (PRAGMAs, raw-SQL tampering, migrations of
 * old files, several processes on one file) lives in
 * test_store_sqlite*.c; what only a PostgreSQL server shows (password
 * sources, restarts, several scepd nodes) in tests/integration.
 *
 * The store comes from $SCEP_STORE_URI, else argv[1], else a fresh
 * sqlite: file in a temporary directory.  All tests share that one
 * store and none assumes it starts empty: each names its certificates,
 * requests and transactionIDs with a tag unique to the run and the test,
 * narrows listings to its own issuer_fp or serials, and counts only the
 * audit events it wrote (their actor names the run).  So a database that
 * other runs have written to, or are writing to (a PostgreSQL server kept
 * for tests), is a valid target.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <scep/error.h>

#include "store/store.h"
#include "testutil.h"

static const char *g_uri;
static char g_run[24];   /* hex, unique to this run */
static char g_actor[40]; /* the actor of every event this run writes */
static int g_test;       /* bumped by each test's setup */
static int g_private;    /* the store is this run's own temporary file */

/* Some bytes that are not text: NULs and high bytes must round-trip. */
static const unsigned char der_a[] = {0x30, 0x03, 0x00, 0xff, 0x00};
static const unsigned char der_b[] = {0x30, 0x02, 0x05, 0x00};

/* A name unique to this run and test: tag "S" for a serial gives
 * "<run><test>S<n>".  Serials stay hex digits: "<run><test>0<n>". */
static void uniq(char *buf, size_t len, const char *kind, int n)
{
    snprintf(buf, len, "%s%02X%s%02X", g_run, (unsigned)g_test & 0xff, kind, (unsigned)n);
}

static void serial_of(char *buf, size_t len, int n)
{
    uniq(buf, len, "0", n);
}

static int test_setup(void **state)
{
    (void)state;
    g_test++;
    return 0;
}

static struct scep_store *open_store(void)
{
    struct scep_store *st = NULL;
    char why[256] = "unset";
    int rc = scep_store_open(g_uri, &st, why, sizeof(why));

    if (rc != 0)
        fail_msg("cannot open %s: %s (%s)", g_uri, why, scep_strerror(rc));
    assert_string_equal(why, "");
    return st;
}

/* A record whose strings live in the caller's storage. */
static struct scep_cert_info cert(const char *serial, const char *subject, const char *issuer)
{
    struct scep_cert_info ci;

    memset(&ci, 0, sizeof(ci));
    ci.serial = (char *)serial;
    ci.issuer_fp = (char *)issuer;
    ci.subject = (char *)subject;
    ci.not_before = 1000;
    ci.not_after = 4102444800; /* 2100 */
    ci.issued_at = 1000;
    ci.status = SCEP_CERT_VALID;
    ci.revocation_reason = -1;
    ci.der = (unsigned char *)der_a;
    ci.der_len = sizeof(der_a);
    return ci;
}

static int max_id_cb(const struct scep_audit_event *ev, void *arg)
{
    int64_t *max = arg;

    if (ev->id > *max)
        *max = ev->id;
    return 0;
}

/* The id of the newest audit event (0: none). */
static int64_t audit_mark(struct scep_store *st)
{
    int64_t max = 0;

    assert_int_equal(scep_store_list_audit(st, 0, max_id_cb, &max), 0);
    return max;
}

static int count_cb(const struct scep_audit_event *ev, void *arg)
{
    if (ev->actor != NULL && strcmp(ev->actor, g_actor) == 0)
        (*(int *)arg)++;
    return 0;
}

/* How many audit events this run wrote after mark (another run on the
 * same store may be writing too). */
static int audit_since(struct scep_store *st, int64_t mark)
{
    int n = 0;

    assert_int_equal(scep_store_list_audit(st, mark, count_cb, &n), 0);
    return n;
}

static void assert_audit_intact(struct scep_store *st)
{
    int64_t bad = -1;

    assert_int_equal(scep_store_verify_audit(st, &bad), 0);
    assert_int_equal(bad, 0);
}

/* --- scep_store_open ------------------------------------------------ */

static void assert_open_fails(const char *uri, int want, const char *want_in_why)
{
    struct scep_store *st = NULL;
    char why[256] = "";

    assert_int_equal(scep_store_open(uri, &st, why, sizeof(why)), want);
    assert_null(st);
    assert_true(why[0] != '\0');
    if (want_in_why != NULL && strstr(why, want_in_why) == NULL)
        fail_msg("\"%s\" does not say \"%s\"", why, want_in_why);
    /* A password in the URI never reaches the reason (nor a log). */
    assert_null(strstr(why, "s3cret"));
}

static void test_open_errors(void **state)
{
    struct scep_store *st = NULL;
    char why[256] = "", tiny[8];
    int rc;

    (void)state;
    assert_open_fails(NULL, SCEP_ERR_INVALID_ARG, NULL);
    assert_open_fails("", SCEP_ERR_INVALID_ARG, NULL);
    assert_open_fails("sqlite:", SCEP_ERR_INVALID_ARG, NULL);
    assert_open_fails("mysql://u:s3cret@h/db", SCEP_ERR_UNSUPPORTED, "\"mysql:\"");
    assert_open_fails("ldap:x", SCEP_ERR_UNSUPPORTED, "\"ldap:\"");
    assert_open_fails("sqlite:/nonexistent-dir/x/store.db", SCEP_ERR_STORE,
                      "/nonexistent-dir/x/store.db");
    assert_int_equal(scep_store_open(g_uri, NULL, why, sizeof(why)), SCEP_ERR_INVALID_ARG);

    /* PostgreSQL: a server nobody listens for fails with libpq's
     * reason, under either scheme name; a URI libpq cannot parse (whose
     * error quotes the URI) too, and neither quotes the password. */
    assert_open_fails("postgresql://u:s3cret@127.0.0.1:1/none", SCEP_ERR_STORE, "postgresql: ");
    assert_open_fails("postgres://u:s3cret@127.0.0.1:1/none", SCEP_ERR_STORE, "127.0.0.1");
    assert_open_fails("postgresql://u:s3cret@[::1/none", SCEP_ERR_INVALID_ARG,
                      "postgresql: invalid connection URI");
    assert_open_fails("postgresql://u@127.0.0.1:1/none?password=s3cret&bogus=1",
                      SCEP_ERR_INVALID_ARG, "bogus");
    rc = scep_store_open("postgresql://u:s3cret@127.0.0.1:1/none", &st, why, sizeof(why));
    assert_int_equal(rc, SCEP_ERR_STORE);
    assert_memory_equal(why, "postgresql: ", strlen("postgresql: "));

    /* why may be NULL, and a short one is truncated, not overrun. */
    assert_int_equal(scep_store_open("mysql://h/db", &st, NULL, 0), SCEP_ERR_UNSUPPORTED);
    memset(tiny, 'x', sizeof(tiny));
    assert_int_equal(scep_store_open("mysql://h/db", &st, tiny, sizeof(tiny)),
                     SCEP_ERR_UNSUPPORTED);
    assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
    assert_null(st);
}

/* What messages may show of a URI: everything but its password. */
static void test_uri_redacted(void **state)
{
    char buf[256], tiny[8];

    (void)state;
    assert_string_equal(
        scep_store_uri_redacted("postgresql://u:s3cret@db:5432/scepd?sslmode=require", buf,
                                sizeof(buf)),
        "postgresql://u:***@db:5432/scepd?sslmode=require");
    assert_string_equal(scep_store_uri_redacted("postgresql://u@db/scepd?password=s3cret&sslmode=x",
                                                buf, sizeof(buf)),
                        "postgresql://u@db/scepd?password=***&sslmode=x");
    assert_string_equal(
        scep_store_uri_redacted("postgres://db/x?sslmode=x&PASSWORD=s3cret", buf, sizeof(buf)),
        "postgres://db/x?sslmode=x&PASSWORD=***");
    /* The userinfo ends at the authority's last '@'. */
    assert_string_equal(scep_store_uri_redacted("postgresql://u:s3@cret@db/x", buf, sizeof(buf)),
                        "postgresql://u:***@db/x");
    assert_string_equal(scep_store_uri_redacted("postgresql://u@db/x@y:z", buf, sizeof(buf)),
                        "postgresql://u@db/x@y:z");
    assert_string_equal(scep_store_uri_redacted("sqlite:/var/lib/scepd/scepd.db", buf, sizeof(buf)),
                        "sqlite:/var/lib/scepd/scepd.db");
    assert_string_equal(scep_store_uri_redacted("./my:store.db", buf, sizeof(buf)),
                        "./my:store.db");
    assert_string_equal(scep_store_uri_redacted(NULL, buf, sizeof(buf)), "");
    memset(tiny, 'x', sizeof(tiny));
    assert_string_equal(scep_store_uri_redacted("postgresql://u:s3cret@db/x", tiny, sizeof(tiny)),
                        "postgre");
    assert_null(scep_store_uri_redacted("x", NULL, 0));
}

static void test_open_schema_version(void **state)
{
    struct scep_store *st = open_store(), *st2 = open_store();
    int v = scep_store_schema_version(st);

    (void)state;
    assert_true(v > 0);
    assert_int_equal(scep_store_schema_version(st2), v);
    assert_int_equal(scep_store_schema_version(NULL), SCEP_ERR_INVALID_ARG);
    scep_store_close(st2);
    scep_store_close(st);
    scep_store_close(NULL);
    st = open_store();
    assert_int_equal(scep_store_schema_version(st), v);
    assert_string_equal(scep_store_last_error(NULL), "");
    /* A store that answers pings; NULL is no store. */
    assert_int_equal(scep_store_ping(st), 0);
    assert_int_equal(scep_store_ping(NULL), SCEP_ERR_INVALID_ARG);
    scep_store_close(st);
}

/* --- certificates --------------------------------------------------- */

static void test_insert_get_round_trip(void **state)
{
    struct scep_store *st = open_store();
    struct scep_cert_info *got = NULL;
    char serial[40], txid[40];
    struct scep_cert_info ci;
    struct scep_audit_event ev = {.kind = "issue", .actor = g_actor, .peer = "192.0.2.7"};
    int64_t mark = audit_mark(st);

    (void)state;
    serial_of(serial, sizeof(serial), 1);
    uniq(txid, sizeof(txid), "T", 1);
    ci = cert(serial, "CN=rt,O=Example", "f00dfeed");
    ci.sans = "DNS:a.example, IP:192.0.2.1";
    ci.not_before = 1700000000;
    ci.not_after = 4102444800;
    ci.issued_at = 1700000005;
    ci.transaction_id = txid;
    ci.requester = "192.0.2.7";
    ci.msg_type = "RenewalReq";
    ci.pubkey_fp = "abcdef";
    ci.renewed_serial = "09";
    ev.transaction_id = txid;
    ev.serial = serial;
    assert_int_equal(scep_store_insert_cert(st, &ci, &ev), 0);
    scep_store_close(st);

    /* Another connection: what comes back was committed. */
    st = open_store();
    assert_int_equal(scep_store_get_cert(st, serial, &got), 0);
    assert_string_equal(got->serial, serial);
    assert_string_equal(got->issuer_fp, "f00dfeed");
    assert_string_equal(got->subject, "CN=rt,O=Example");
    assert_string_equal(got->sans, "DNS:a.example, IP:192.0.2.1");
    assert_int_equal(got->not_before, 1700000000);
    assert_int_equal(got->not_after, 4102444800);
    assert_int_equal(got->issued_at, 1700000005);
    assert_int_equal(got->status, SCEP_CERT_VALID);
    assert_int_equal(got->revoked_at, 0);
    assert_int_equal(got->revocation_reason, -1);
    assert_string_equal(got->transaction_id, txid);
    assert_string_equal(got->requester, "192.0.2.7");
    assert_string_equal(got->msg_type, "RenewalReq");
    assert_string_equal(got->pubkey_fp, "abcdef");
    assert_string_equal(got->renewed_serial, "09");
    assert_int_equal(got->der_len, sizeof(der_a));
    assert_memory_equal(got->der, der_a, sizeof(der_a));
    scep_cert_info_free(got);
    got = NULL;
    assert_int_equal(audit_since(st, mark), 1);

    /* Absent: NOT_FOUND, and the output left alone. */
    uniq(serial, sizeof(serial), "F", 0xff);
    assert_int_equal(scep_store_get_cert(st, serial, &got), SCEP_ERR_NOT_FOUND);
    assert_null(got);
    assert_int_equal(scep_store_get_cert(st, NULL, &got), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_get_cert(st, serial, NULL), SCEP_ERR_INVALID_ARG);
    scep_store_close(st);
}

static void test_null_fields_and_required(void **state)
{
    struct scep_store *st = open_store();
    struct scep_cert_info *got = NULL;
    char serial[40];
    struct scep_cert_info ci;
    struct scep_audit_event bad_ev = {.kind = NULL, .actor = g_actor};
    int64_t mark = audit_mark(st);

    (void)state;
    serial_of(serial, sizeof(serial), 1);
    ci = cert(serial, "CN=bare", NULL);
    ci.der = (unsigned char *)der_b;
    ci.der_len = sizeof(der_b);
    /* No audit event: allowed. */
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);
    assert_int_equal(scep_store_get_cert(st, serial, &got), 0);
    assert_null(got->issuer_fp);
    assert_null(got->sans);
    assert_null(got->transaction_id);
    assert_null(got->requester);
    assert_null(got->msg_type);
    assert_null(got->pubkey_fp);
    assert_null(got->renewed_serial);
    assert_int_equal(got->der_len, sizeof(der_b));
    assert_memory_equal(got->der, der_b, sizeof(der_b));
    scep_cert_info_free(got);
    assert_int_equal(audit_since(st, mark), 0);

    /* Required: serial, subject, DER; a known status; an event's kind. */
    serial_of(serial, sizeof(serial), 2);
    ci.der = NULL;
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), SCEP_ERR_INVALID_ARG);
    ci.der = (unsigned char *)der_b;
    ci.der_len = 0;
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), SCEP_ERR_INVALID_ARG);
    ci.der_len = sizeof(der_b);
    ci.subject = NULL;
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), SCEP_ERR_INVALID_ARG);
    ci.subject = "CN=bare";
    ci.serial = "";
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), SCEP_ERR_INVALID_ARG);
    ci.serial = serial;
    ci.status = 2;
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), SCEP_ERR_INVALID_ARG);
    ci.status = SCEP_CERT_VALID;
    assert_int_equal(scep_store_insert_cert(st, &ci, &bad_ev), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_insert_cert(NULL, &ci, NULL), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_insert_cert(st, NULL, NULL), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_get_cert(st, serial, &got), SCEP_ERR_NOT_FOUND);
    assert_int_equal(audit_since(st, mark), 0);
    scep_cert_info_free(NULL);
    scep_store_close(st);
}

static void test_duplicate_serial(void **state)
{
    struct scep_store *st = open_store();
    struct scep_cert_info *got = NULL;
    char serial[40], serial2[40];
    struct scep_cert_info a, b;
    struct scep_audit_event ev = {.kind = "issue", .actor = g_actor};
    int64_t mark = audit_mark(st);

    (void)state;
    serial_of(serial, sizeof(serial), 1);
    a = cert(serial, "CN=first", NULL);
    b = cert(serial, "CN=second", NULL);
    b.der = (unsigned char *)der_b;
    b.der_len = sizeof(der_b);
    assert_int_equal(scep_store_insert_cert(st, &a, &ev), 0);
    assert_int_equal(scep_store_insert_cert(st, &b, &ev), SCEP_ERR_EXISTS);
    assert_non_null(strstr(scep_store_last_error(st), serial));
    /* Nothing of the second insert was written, not even its audit. */
    assert_int_equal(audit_since(st, mark), 1);
    assert_int_equal(scep_store_get_cert(st, serial, &got), 0);
    assert_string_equal(got->subject, "CN=first");
    assert_memory_equal(got->der, der_a, sizeof(der_a));
    scep_cert_info_free(got);
    /* The connection is still usable afterwards. */
    serial_of(serial2, sizeof(serial2), 2);
    b.serial = serial2;
    assert_int_equal(scep_store_insert_cert(st, &b, &ev), 0);
    assert_int_equal(audit_since(st, mark), 2);
    assert_audit_intact(st);
    scep_store_close(st);
}

static void test_get_by_transaction(void **state)
{
    struct scep_store *st = open_store();
    struct scep_cert_info *got = NULL;
    char s1[40], s2[40], s3[40], s4[40], tx[40], other[40], none[40];
    struct scep_cert_info ci;

    (void)state;
    serial_of(s1, sizeof(s1), 1);
    serial_of(s2, sizeof(s2), 2);
    serial_of(s3, sizeof(s3), 3);
    serial_of(s4, sizeof(s4), 4);
    uniq(tx, sizeof(tx), "T", 1);
    uniq(other, sizeof(other), "T", 2);
    uniq(none, sizeof(none), "T", 3);
    ci = cert(s1, "CN=old", NULL);
    ci.transaction_id = tx;
    ci.issued_at = 2000;
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);
    ci = cert(s2, "CN=other", NULL);
    ci.transaction_id = other;
    ci.issued_at = 9000;
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);
    /* Certificates without a transactionID (not issued through SCEP) do
     * not collide with one another. */
    ci = cert(s3, "CN=plain", NULL);
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);
    ci.serial = s4;
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);

    assert_int_equal(scep_store_get_cert_by_transaction(st, tx, &got), 0);
    assert_string_equal(got->serial, s1);
    assert_string_equal(got->subject, "CN=old");
    scep_cert_info_free(got);
    got = NULL;
    assert_int_equal(scep_store_get_cert_by_transaction(st, other, &got), 0);
    assert_string_equal(got->serial, s2);
    scep_cert_info_free(got);
    got = NULL;
    assert_int_equal(scep_store_get_cert_by_transaction(st, none, &got), SCEP_ERR_NOT_FOUND);
    assert_null(got);
    assert_int_equal(scep_store_get_cert_by_transaction(st, NULL, &got), SCEP_ERR_INVALID_ARG);
    scep_store_close(st);
}

/* One certificate per transactionID, checked by the store under its
 * write lock, across connections: a second one is refused with nothing
 * written (neither the row nor its audit event). */
static void test_one_cert_per_transaction(void **state)
{
    struct scep_store *st = open_store(), *st2 = open_store();
    struct scep_cert_info *got = NULL;
    char s1[40], s2[40], s3[40], tx1[40], tx2[40], tx3[40];
    struct scep_audit_event ev = {.kind = "issue", .actor = g_actor};
    struct scep_cert_info ci;
    int64_t mark = audit_mark(st);

    (void)state;
    serial_of(s1, sizeof(s1), 1);
    serial_of(s2, sizeof(s2), 2);
    serial_of(s3, sizeof(s3), 3);
    uniq(tx1, sizeof(tx1), "T", 1);
    uniq(tx2, sizeof(tx2), "T", 2);
    uniq(tx3, sizeof(tx3), "T", 3);
    ci = cert(s1, "CN=first", NULL);
    ci.transaction_id = tx1;
    ev.transaction_id = tx1;
    assert_int_equal(scep_store_insert_cert(st, &ci, &ev), 0);
    /* another connection, another serial, the same transactionID */
    ci.serial = s2;
    ci.subject = "CN=second";
    assert_int_equal(scep_store_insert_cert(st2, &ci, &ev), SCEP_ERR_TRANSID_REUSE);
    assert_int_equal(scep_store_insert_cert(st, &ci, &ev), SCEP_ERR_TRANSID_REUSE);
    assert_int_equal(audit_since(st, mark), 1);
    assert_int_equal(scep_store_get_cert(st, s2, &got), SCEP_ERR_NOT_FOUND);
    assert_int_equal(scep_store_get_cert_by_transaction(st2, tx1, &got), 0);
    assert_string_equal(got->serial, s1);
    scep_cert_info_free(got);
    /* both connections still write */
    ci.transaction_id = tx2;
    ev.transaction_id = tx2;
    assert_int_equal(scep_store_insert_cert(st2, &ci, &ev), 0);
    ci.serial = s3;
    ci.transaction_id = tx3;
    ev.transaction_id = tx3;
    assert_int_equal(scep_store_insert_cert(st, &ci, &ev), 0);
    assert_int_equal(audit_since(st, mark), 3);
    assert_audit_intact(st2);
    scep_store_close(st2);
    scep_store_close(st);
}

/* Connections racing to insert at one moment (RACERS threads, each with
 * its own store handle, released together by a barrier). */
#define RACERS 8

struct racer {
    pthread_barrier_t *go;
    struct scep_store *st;
    char serial[40];
    char txid[40];
    int64_t challenge_id; /* 0: none */
    int rc;
};

static void *race_insert(void *arg)
{
    struct racer *r = arg;
    struct scep_cert_info ci = cert(r->serial, "CN=race", NULL);
    struct scep_audit_event ev = {.kind = "issue", .actor = g_actor};

    ci.transaction_id = r->txid;
    ci.challenge_id = r->challenge_id;
    ev.transaction_id = r->txid;
    ev.serial = r->serial;
    (void)pthread_barrier_wait(r->go);
    r->rc = scep_store_insert_cert(r->st, &ci, &ev);
    return NULL;
}

/* Runs the racers of rs; returns how many inserted.  *others is set to
 * the one code every other racer got, or -1 when they differ. */
static int run_race(struct racer *rs, int *others)
{
    pthread_barrier_t go;
    pthread_t th[RACERS];
    int i, won = 0;

    assert_int_equal(pthread_barrier_init(&go, NULL, RACERS), 0);
    for (i = 0; i < RACERS; i++) {
        rs[i].go = &go;
        assert_int_equal(pthread_create(&th[i], NULL, race_insert, &rs[i]), 0);
    }
    for (i = 0; i < RACERS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    pthread_barrier_destroy(&go);
    *others = 0;
    for (i = 0; i < RACERS; i++) {
        if (rs[i].rc == 0) {
            won++;
            continue;
        }
        if (*others == 0)
            *others = rs[i].rc;
        else if (*others != rs[i].rc)
            *others = -1;
    }
    return won;
}

/* What must be unique stays unique when several connections (on a
 * server: several nodes) insert at the same moment: one transactionID
 * gets one certificate, one serial one row, each with one audit event,
 * and the chain does not fork. */
static void test_concurrent_inserts(void **state)
{
    struct racer rs[RACERS];
    struct scep_store *st = open_store();
    struct scep_cert_info *got = NULL;
    int64_t mark = audit_mark(st);
    int i, others = 0;

    (void)state;
    memset(rs, 0, sizeof(rs));
    for (i = 0; i < RACERS; i++) {
        rs[i].st = open_store();
        serial_of(rs[i].serial, sizeof(rs[i].serial), i + 1);
        uniq(rs[i].txid, sizeof(rs[i].txid), "T", 1);
    }
    assert_int_equal(run_race(rs, &others), 1);
    assert_int_equal(others, SCEP_ERR_TRANSID_REUSE);
    assert_int_equal(audit_since(st, mark), 1);
    assert_int_equal(scep_store_get_cert_by_transaction(st, rs[0].txid, &got), 0);
    for (i = 0; i < RACERS && rs[i].rc != 0; i++)
        ;
    assert_true(i < RACERS);
    assert_string_equal(got->serial, rs[i].serial);
    scep_cert_info_free(got);

    /* One serial, a transactionID each. */
    mark = audit_mark(st);
    for (i = 0; i < RACERS; i++) {
        serial_of(rs[i].serial, sizeof(rs[i].serial), 0x40);
        uniq(rs[i].txid, sizeof(rs[i].txid), "U", i + 1);
    }
    assert_int_equal(run_race(rs, &others), 1);
    assert_int_equal(others, SCEP_ERR_EXISTS);
    assert_int_equal(audit_since(st, mark), 1);

    /* Everyone different: everyone inserts, one event each, in one chain. */
    mark = audit_mark(st);
    for (i = 0; i < RACERS; i++) {
        serial_of(rs[i].serial, sizeof(rs[i].serial), 0x80 + i);
        uniq(rs[i].txid, sizeof(rs[i].txid), "V", i + 1);
    }
    assert_int_equal(run_race(rs, &others), RACERS);
    assert_int_equal(audit_since(st, mark), RACERS);
    assert_audit_intact(st);
    for (i = 0; i < RACERS; i++)
        scep_store_close(rs[i].st);
    scep_store_close(st);
}

struct collected {
    char serials[32][40];
    int n;
    int stop_after;     /* 0: never */
    const char *prefix; /* NULL: every row; else only serials starting so */
};

static int collect_cb(const struct scep_cert_info *ci, void *arg)
{
    struct collected *c = arg;

    assert_non_null(ci->der);
    if (c->prefix != NULL && strncmp(ci->serial, c->prefix, strlen(c->prefix)) != 0)
        return 0;
    assert_true(c->n < 32);
    snprintf(c->serials[c->n], sizeof(c->serials[c->n]), "%s", ci->serial);
    c->n++;
    if (c->stop_after > 0 && c->n == c->stop_after)
        return 42;
    return 0;
}

static void list(struct scep_store *st, const struct scep_cert_filter *f, struct collected *c)
{
    const char *prefix = c->prefix;

    memset(c, 0, sizeof(*c));
    c->prefix = prefix;
    assert_int_equal(scep_store_list_certs(st, f, collect_cb, c), 0);
}

/* Inserts serial n of this test with issuer, subject, expiry and issue
 * time; returns the serial in buf. */
static void put(struct scep_store *st, char *buf, size_t len, int n, const char *issuer,
                const char *subject, int64_t not_after, int64_t issued_at)
{
    struct scep_cert_info ci;

    serial_of(buf, len, n);
    ci = cert(buf, subject, issuer);
    ci.not_after = not_after;
    ci.issued_at = issued_at;
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);
}

static void test_list_filters(void **state)
{
    struct scep_store *st = open_store();
    char a[40], b[40], c_[40], d[40], e[40], issuer[40], other[40], prefix[40], subj[64];
    struct scep_cert_filter f;
    struct collected c;
    int64_t now = (int64_t)time(NULL);

    (void)state;
    uniq(issuer, sizeof(issuer), "I", 1);
    uniq(other, sizeof(other), "I", 2);
    uniq(prefix, sizeof(prefix), "0", 0);
    prefix[strlen(prefix) - 2] = '\0'; /* "<run><test>0": this test's serials */
    /* A: valid, long-lived, issued first. */
    snprintf(subj, sizeof(subj), "CN=alpha,O=%s", issuer);
    put(st, a, sizeof(a), 1, issuer, subj, now + 365 * 86400, now - 500);
    /* B: valid, expires in a day. */
    snprintf(subj, sizeof(subj), "CN=beta,O=%s", issuer);
    put(st, b, sizeof(b), 2, issuer, subj, now + 86400, now - 400);
    /* C: expired an hour ago. */
    put(st, c_, sizeof(c_), 3, issuer, "CN=gamma,O=Other", now - 3600, now - 300);
    /* D: valid, expires in two days, then revoked. */
    snprintf(subj, sizeof(subj), "CN=delta,O=%s", issuer);
    put(st, d, sizeof(d), 4, issuer, subj, now + 2 * 86400, now - 200);
    assert_int_equal(scep_store_revoke(st, d, 1, now, NULL), 0);
    /* E: another CA's, the newest. */
    snprintf(subj, sizeof(subj), "CN=epsilon,O=%s", issuer);
    put(st, e, sizeof(e), 5, other, subj, now + 86400, now - 100);

    /* One issuer: everything not expired, newest first. */
    memset(&f, 0, sizeof(f));
    f.status = -1;
    f.issuer_fp = issuer;
    memset(&c, 0, sizeof(c));
    list(st, &f, &c);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.serials[0], d);
    assert_string_equal(c.serials[1], b);
    assert_string_equal(c.serials[2], a);
    f.issuer_fp = other;
    list(st, &f, &c);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.serials[0], e);
    /* Any issuer (NULL), and a NULL filter: the same default, ours among
     * whatever else the store holds. */
    f.issuer_fp = NULL;
    c.prefix = prefix;
    list(st, &f, &c);
    assert_int_equal(c.n, 4);
    assert_string_equal(c.serials[0], e);
    assert_string_equal(c.serials[3], a);
    list(st, NULL, &c);
    assert_int_equal(c.n, 4);
    c.prefix = NULL;
    f.issuer_fp = issuer;

    f.include_expired = 1;
    list(st, &f, &c);
    assert_int_equal(c.n, 4);
    assert_string_equal(c.serials[1], c_);

    f.status = SCEP_CERT_REVOKED;
    list(st, &f, &c);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.serials[0], d);

    f.status = SCEP_CERT_VALID;
    f.include_expired = 0;
    list(st, &f, &c);
    assert_int_equal(c.n, 2);

    /* Expiring within 3 days: valid ones only (D is revoked), not the
     * expired C. */
    f.status = -1;
    f.expiring_within = 3 * 86400;
    list(st, &f, &c);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.serials[0], b);
    f.expiring_within = 0;

    /* A substring of the subject. */
    snprintf(subj, sizeof(subj), "O=%s", issuer);
    f.subject_like = subj;
    list(st, &f, &c);
    assert_int_equal(c.n, 3);
    f.subject_like = "gamma";
    list(st, &f, &c);
    assert_int_equal(c.n, 0);
    f.include_expired = 1;
    list(st, &f, &c);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.serials[0], c_);
    /* LIKE and glob wildcards are plain characters here. */
    f.subject_like = "%";
    list(st, &f, &c);
    assert_int_equal(c.n, 0);
    f.subject_like = "CN=*";
    list(st, &f, &c);
    assert_int_equal(c.n, 0);
    f.subject_like = "CN=_amma";
    list(st, &f, &c);
    assert_int_equal(c.n, 0);
    f.subject_like = NULL;

    /* A limit keeps the newest. */
    f.limit = 2;
    list(st, &f, &c);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.serials[0], d);
    assert_string_equal(c.serials[1], c_);
    f.limit = 0;

    /* A non-zero callback return stops the walk and comes back. */
    memset(&c, 0, sizeof(c));
    c.stop_after = 2;
    assert_int_equal(scep_store_list_certs(st, &f, collect_cb, &c), 42);
    assert_int_equal(c.n, 2);

    f.status = 5;
    assert_int_equal(scep_store_list_certs(st, &f, collect_cb, &c), SCEP_ERR_INVALID_ARG);
    f.status = -1;
    f.limit = -1;
    assert_int_equal(scep_store_list_certs(st, &f, collect_cb, &c), SCEP_ERR_INVALID_ARG);
    f.limit = 0;
    f.expiring_within = -1;
    assert_int_equal(scep_store_list_certs(st, &f, collect_cb, &c), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_list_certs(st, NULL, NULL, &c), SCEP_ERR_INVALID_ARG);
    scep_store_close(st);
}

struct reenter {
    struct scep_store *st;
    const char *issuer;
    int seen;
};

/* Calls back into the store from inside a listing: a lookup, a
 * revocation (a write transaction) and a nested listing. */
static int reenter_cb(const struct scep_cert_info *ci, void *arg)
{
    struct reenter *r = arg;
    struct scep_cert_info *got = NULL;
    struct collected inner;
    struct scep_cert_filter all = {.status = -1, .include_expired = 1, .issuer_fp = r->issuer};

    assert_int_equal(scep_store_get_cert(r->st, ci->serial, &got), 0);
    assert_string_equal(got->subject, ci->subject);
    scep_cert_info_free(got);
    assert_int_equal(scep_store_revoke(r->st, ci->serial, 0, 0, NULL), 0);
    memset(&inner, 0, sizeof(inner));
    assert_int_equal(scep_store_list_certs(r->st, &all, collect_cb, &inner), 0);
    assert_int_equal(inner.n, 3);
    r->seen++;
    return 0;
}

static void test_list_reentrant(void **state)
{
    struct scep_store *st = open_store();
    char s[40], issuer[40];
    /* Status "any", so the rows being revoked stay in the walk's scope: a
     * backend need not say whether a running listing sees changes its own
     * connection makes. */
    struct scep_cert_filter any = {.status = -1};
    struct scep_cert_filter valid = {.status = SCEP_CERT_VALID};
    struct reenter r;
    struct collected c;
    int i;

    (void)state;
    uniq(issuer, sizeof(issuer), "I", 1);
    for (i = 1; i <= 3; i++)
        put(st, s, sizeof(s), i, issuer, "CN=r", 4102444800, 1000 + i);
    any.issuer_fp = issuer;
    valid.issuer_fp = issuer;
    r.st = st;
    r.issuer = issuer;
    r.seen = 0;
    assert_int_equal(scep_store_list_certs(st, &any, reenter_cb, &r), 0);
    assert_int_equal(r.seen, 3);
    memset(&c, 0, sizeof(c));
    list(st, &valid, &c);
    assert_int_equal(c.n, 0);
    scep_store_close(st);
}

static void test_revoke(void **state)
{
    struct scep_store *st = open_store();
    struct scep_cert_info *got = NULL;
    char s1[40], s2[40], none[40];
    struct scep_cert_info ci;
    struct scep_audit_event ev = {.kind = "revoke", .actor = g_actor, .detail = "keyCompromise"};
    struct scep_audit_event bad_ev = {.kind = NULL};
    int64_t mark = audit_mark(st), before;

    (void)state;
    serial_of(s1, sizeof(s1), 1);
    serial_of(s2, sizeof(s2), 2);
    uniq(none, sizeof(none), "F", 0xff);
    ci = cert(s1, "CN=r", NULL);
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);
    ev.serial = s1;
    assert_int_equal(scep_store_revoke(st, s1, 1, 1234567, &ev), 0);
    assert_int_equal(audit_since(st, mark), 1);
    /* Twice: EXISTS, and no second audit event. */
    assert_int_equal(scep_store_revoke(st, s1, 4, 2345678, &ev), SCEP_ERR_EXISTS);
    assert_int_equal(scep_store_revoke(st, none, 1, 0, &ev), SCEP_ERR_NOT_FOUND);
    assert_int_equal(audit_since(st, mark), 1);
    /* CRLReason 0..10 without 7 (RFC 5280 5.3.1), or -1: none. */
    assert_int_equal(scep_store_revoke(st, s1, 7, 0, NULL), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_revoke(st, s1, 11, 0, NULL), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_revoke(st, s1, -2, 0, NULL), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_revoke(st, NULL, 1, 0, NULL), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_revoke(st, s1, 1, 0, &bad_ev), SCEP_ERR_INVALID_ARG);
    scep_store_close(st);

    st = open_store();
    assert_int_equal(scep_store_get_cert(st, s1, &got), 0);
    assert_int_equal(got->status, SCEP_CERT_REVOKED);
    assert_int_equal(got->revoked_at, 1234567);
    assert_int_equal(got->revocation_reason, 1);
    scep_cert_info_free(got);
    /* at = 0: now; reason -1 is kept as "none". */
    ci.serial = s2;
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);
    before = (int64_t)time(NULL);
    assert_int_equal(scep_store_revoke(st, s2, -1, 0, NULL), 0);
    assert_int_equal(scep_store_get_cert(st, s2, &got), 0);
    assert_true(got->revoked_at >= before && got->revoked_at <= (int64_t)time(NULL) + 1);
    assert_int_equal(got->revocation_reason, -1);
    scep_cert_info_free(got);
    assert_audit_intact(st);
    scep_store_close(st);
}

static void assert_status(struct scep_store *st, const char *serial, int status, int64_t at,
                          int reason)
{
    struct scep_cert_info *got = NULL;

    assert_int_equal(scep_store_get_cert(st, serial, &got), 0);
    assert_int_equal(got->status, status);
    assert_int_equal(got->revoked_at, at);
    assert_int_equal(got->revocation_reason, reason);
    scep_cert_info_free(got);
}

/* RFC 5280 5.3.1: certificateHold (6) is the one revocation that may be
 * released; scep_store_unhold() does that and nothing else. */
static void test_unhold(void **state)
{
    struct scep_store *st = open_store();
    char held[40], gone[40], valid[40], none[40];
    struct scep_cert_info ci;
    struct scep_audit_event ev = {.kind = "unhold", .actor = g_actor};
    struct scep_audit_event bad_ev = {.kind = NULL};
    int64_t mark;

    (void)state;
    serial_of(held, sizeof(held), 1);
    serial_of(gone, sizeof(gone), 2);
    serial_of(valid, sizeof(valid), 3);
    uniq(none, sizeof(none), "F", 0xff);
    ci = cert(held, "CN=held", NULL);
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);
    ci.serial = gone;
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);
    ci.serial = valid;
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);
    assert_int_equal(scep_store_revoke(st, held, 6, 5000, NULL), 0);
    assert_int_equal(scep_store_revoke(st, gone, 1, 5000, NULL), 0);
    mark = audit_mark(st);

    /* Refusals write nothing. */
    assert_int_equal(scep_store_unhold(st, none, &ev), SCEP_ERR_NOT_FOUND);
    assert_int_equal(scep_store_unhold(st, valid, &ev), SCEP_ERR_POLICY);
    assert_int_equal(scep_store_unhold(st, gone, &ev), SCEP_ERR_POLICY);
    assert_non_null(strstr(scep_store_last_error(st), gone));
    assert_int_equal(scep_store_unhold(st, NULL, &ev), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_unhold(NULL, held, &ev), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_unhold(st, held, &bad_ev), SCEP_ERR_INVALID_ARG);
    assert_int_equal(audit_since(st, mark), 0);
    assert_status(st, gone, SCEP_CERT_REVOKED, 5000, 1);
    assert_status(st, valid, SCEP_CERT_VALID, 0, -1);
    assert_status(st, held, SCEP_CERT_REVOKED, 5000, 6);

    /* The hold is released, with its event, durably. */
    ev.serial = held;
    assert_int_equal(scep_store_unhold(st, held, &ev), 0);
    assert_int_equal(audit_since(st, mark), 1);
    scep_store_close(st);
    st = open_store();
    assert_status(st, held, SCEP_CERT_VALID, 0, -1);
    /* Released once: now it is valid, so a second release is refused. */
    assert_int_equal(scep_store_unhold(st, held, NULL), SCEP_ERR_POLICY);
    /* It can be held again, and released again without an event. */
    assert_int_equal(scep_store_revoke(st, held, 6, 6000, NULL), 0);
    assert_int_equal(scep_store_unhold(st, held, NULL), 0);
    assert_status(st, held, SCEP_CERT_VALID, 0, -1);
    assert_int_equal(audit_since(st, mark), 1);
    assert_audit_intact(st);
    scep_store_close(st);
}

static void test_crl_numbers(void **state)
{
    struct scep_store *st = open_store(), *st2 = open_store();
    int64_t a = 0, b = 0, c = 0, d = 0;

    (void)state;
    assert_int_equal(scep_store_next_crl_number(st, &a), 0);
    assert_true(a >= 1);
    assert_int_equal(scep_store_next_crl_number(st, &b), 0);
    assert_true(b > a);
    /* A second connection continues the same counter. */
    assert_int_equal(scep_store_next_crl_number(st2, &c), 0);
    assert_true(c > b);
    scep_store_close(st2);
    scep_store_close(st);
    /* And it survives reopening. */
    st = open_store();
    assert_int_equal(scep_store_next_crl_number(st, &d), 0);
    assert_true(d > c);
    assert_int_equal(scep_store_next_crl_number(st, NULL), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_next_crl_number(NULL, &d), SCEP_ERR_INVALID_ARG);
    scep_store_close(st);
}

/* The published CRLs: round trip, a newer row is never replaced by an
 * older one, and the lock is held by one connection at a time. */
static void test_published_crls(void **state)
{
    struct scep_store *st = open_store(), *st2 = open_store();
    struct scep_store_crl c, got;
    unsigned char der1[] = {0x30, 0x03, 0x02, 0x01, 0x01}, der2[] = {0x30, 0x03, 0x02, 0x01, 0x02};
    unsigned char rnd[32];
    char fp[65];
    int g1 = 0, g2 = 0, i;

    (void)state;
    /* A CA of this run alone: contract runs may share a database. */
    assert_int_equal(RAND_bytes(rnd, sizeof(rnd)), 1);
    for (i = 0; i < 32; i++)
        snprintf(fp + 2 * i, 3, "%02x", rnd[i]);
    assert_int_equal(scep_store_get_crl(st, fp, &got), SCEP_ERR_NOT_FOUND);
    assert_int_equal(scep_store_get_crl(st, "not-a-fingerprint", &got), SCEP_ERR_INVALID_ARG);
    memset(&c, 0, sizeof(c));
    memcpy(c.issuer_fp, fp, 64);
    c.number = 5;
    c.made = 1000;
    c.next_update = 2000;
    memset(c.digest, 0xab, sizeof(c.digest));
    c.der = der1;
    c.len = sizeof(der1);
    assert_int_equal(scep_store_put_crl(st, &c), 0);
    /* Seen from another connection, byte for byte. */
    assert_int_equal(scep_store_get_crl(st2, fp, &got), 0);
    assert_string_equal(got.issuer_fp, fp);
    assert_int_equal(got.number, 5);
    assert_int_equal(got.made, 1000);
    assert_int_equal(got.next_update, 2000);
    assert_memory_equal(got.digest, c.digest, sizeof(c.digest));
    assert_int_equal(got.len, sizeof(der1));
    assert_memory_equal(got.der, der1, sizeof(der1));
    scep_store_crl_clear(&got);
    /* An older number does not replace it; a newer one does. */
    c.number = 4;
    c.der = der2;
    assert_int_equal(scep_store_put_crl(st2, &c), 0);
    assert_int_equal(scep_store_get_crl(st, fp, &got), 0);
    assert_int_equal(got.number, 5);
    assert_memory_equal(got.der, der1, sizeof(der1));
    scep_store_crl_clear(&got);
    c.number = 6;
    c.made = 1500;
    assert_int_equal(scep_store_put_crl(st2, &c), 0);
    assert_int_equal(scep_store_get_crl(st, fp, &got), 0);
    assert_int_equal(got.number, 6);
    assert_int_equal(got.made, 1500);
    assert_memory_equal(got.der, der2, sizeof(der2));
    scep_store_crl_clear(&got);
    c.number = 0;
    assert_int_equal(scep_store_put_crl(st, &c), SCEP_ERR_INVALID_ARG);
    /* One holder at a time, across connections; free again once given back. */
    assert_int_equal(scep_store_try_lock_crl(st, fp, &g1), 0);
    assert_int_equal(g1, 1);
    assert_int_equal(scep_store_try_lock_crl(st2, fp, &g2), 0);
    assert_int_equal(g2, 0);
    assert_int_equal(scep_store_unlock_crl(st), 0);
    assert_int_equal(scep_store_try_lock_crl(st2, fp, &g2), 0);
    assert_int_equal(g2, 1);
    /* A holder that goes away gives it back. */
    scep_store_close(st2);
    assert_int_equal(scep_store_try_lock_crl(st, fp, &g1), 0);
    assert_int_equal(g1, 1);
    assert_int_equal(scep_store_unlock_crl(st), 0);
    assert_int_equal(scep_store_unlock_crl(st), 0);
    scep_store_close(st);
}

/* --- audit ------------------------------------------------------------ */

/* The hash chain as audit_hash.c documents it, recomputed here from
 * listed events alone: any backend must store exactly these hashes. */
static void put_u64(EVP_MD_CTX *md, uint64_t v)
{
    unsigned char b[8];
    int i;

    for (i = 7; i >= 0; i--) {
        b[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
    assert_int_equal(EVP_DigestUpdate(md, b, sizeof(b)), 1);
}

static void put_str(EVP_MD_CTX *md, const char *s)
{
    unsigned char present = s != NULL;

    assert_int_equal(EVP_DigestUpdate(md, &present, 1), 1);
    put_u64(md, s != NULL ? strlen(s) : 0);
    if (s != NULL)
        assert_int_equal(EVP_DigestUpdate(md, s, strlen(s)), 1);
}

static void chain_hash(const char *prev, const struct scep_audit_event *ev, char out[65])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char d[32];
    unsigned int n = 0, i;

    assert_non_null(md);
    assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
    put_str(md, "scep-audit-v1");
    put_str(md, prev);
    put_u64(md, (uint64_t)ev->id);
    put_u64(md, (uint64_t)ev->time);
    put_str(md, ev->kind);
    put_str(md, ev->actor);
    put_str(md, ev->transaction_id);
    put_str(md, ev->peer);
    put_str(md, ev->serial);
    put_str(md, ev->detail);
    assert_int_equal(EVP_DigestFinal_ex(md, d, &n), 1);
    EVP_MD_CTX_free(md);
    for (i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

struct chain {
    char prev[65];
    int64_t last_id;
    int n;
};

static int chain_cb(const struct scep_audit_event *ev, void *arg)
{
    struct chain *c = arg;
    char h[65];

    /* ids grow by one: no gaps, no reordering. */
    assert_int_equal(ev->id, c->last_id + 1);
    assert_non_null(ev->kind);
    assert_non_null(ev->hash);
    chain_hash(c->prev, ev, h);
    assert_string_equal(ev->hash, h);
    memcpy(c->prev, h, sizeof(c->prev));
    c->last_id = ev->id;
    c->n++;
    return 0;
}

struct seen {
    int64_t ids[8];
    int64_t times[8];
    char kinds[8][32];
    char details[8][64];
    char serials[8][40];
    int n;
};

/* Records this run's events. */
static int seen_cb(const struct scep_audit_event *ev, void *arg)
{
    struct seen *s = arg;

    if (ev->actor == NULL || strcmp(ev->actor, g_actor) != 0)
        return 0;
    assert_true(s->n < 8);
    s->ids[s->n] = ev->id;
    s->times[s->n] = ev->time;
    snprintf(s->kinds[s->n], sizeof(s->kinds[0]), "%s", ev->kind);
    snprintf(s->details[s->n], sizeof(s->details[0]), "%s",
             ev->detail != NULL ? ev->detail : "(null)");
    snprintf(s->serials[s->n], sizeof(s->serials[0]), "%s",
             ev->serial != NULL ? ev->serial : "(null)");
    s->n++;
    return 0;
}

static int stop_cb(const struct scep_audit_event *ev, void *arg)
{
    (void)ev;
    (*(int *)arg)++;
    return 7;
}

static void test_audit_append_list_verify(void **state)
{
    struct scep_store *st = open_store();
    char serial[40], txid[40];
    struct scep_cert_info ci;
    struct scep_audit_event issue = {
        .time = 1000, .kind = "issue", .actor = g_actor, .peer = "192.0.2.1", .detail = "CN=a"};
    struct scep_audit_event refuse = {.time = 1001,
                                      .kind = "refuse",
                                      .actor = g_actor,
                                      .peer = "192.0.2.2",
                                      .detail = "badMessageCheck"};
    struct scep_audit_event revoke = {
        .time = 1002, .kind = "revoke", .actor = g_actor, .detail = ""};
    struct scep_audit_event now_ev = {.kind = "ca-init", .actor = g_actor};
    struct chain chain;
    struct seen s;
    int64_t mark = audit_mark(st), before, third, bad = -1;
    int stops = 0;

    (void)state;
    serial_of(serial, sizeof(serial), 1);
    uniq(txid, sizeof(txid), "T", 1);
    ci = cert(serial, "CN=a", NULL);
    issue.transaction_id = txid;
    issue.serial = serial;
    revoke.serial = serial;
    assert_int_equal(scep_store_insert_cert(st, &ci, &issue), 0);
    assert_int_equal(scep_store_audit(st, &refuse), 0);
    assert_int_equal(scep_store_revoke(st, serial, 1, 1002, &revoke), 0);
    before = (int64_t)time(NULL);
    assert_int_equal(scep_store_audit(st, &now_ev), 0);

    /* after_id: only what came later, oldest first, fields as given. */
    memset(&s, 0, sizeof(s));
    assert_int_equal(scep_store_list_audit(st, mark, seen_cb, &s), 0);
    assert_int_equal(s.n, 4);
    assert_true(s.ids[0] > mark);
    assert_true(s.ids[1] > s.ids[0] && s.ids[2] > s.ids[1] && s.ids[3] > s.ids[2]);
    assert_string_equal(s.kinds[0], "issue");
    assert_string_equal(s.serials[0], serial);
    assert_int_equal(s.times[1], 1001);
    assert_string_equal(s.details[1], "badMessageCheck");
    assert_string_equal(s.serials[1], "(null)");
    assert_string_equal(s.details[2], ""); /* "" stays "", not NULL */
    /* time 0: now; a NULL detail stays NULL. */
    assert_true(s.times[3] >= before && s.times[3] <= (int64_t)time(NULL) + 1);
    assert_string_equal(s.details[3], "(null)");
    third = s.ids[2];
    memset(&s, 0, sizeof(s));
    assert_int_equal(scep_store_list_audit(st, third, seen_cb, &s), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.kinds[0], "ca-init");
    /* A non-zero callback return stops the walk and comes back. */
    assert_int_equal(scep_store_list_audit(st, mark, stop_cb, &stops), 7);
    assert_int_equal(stops, 1);

    /* The whole chain, recomputed from the listing, from the genesis. */
    memset(&chain, 0, sizeof(chain));
    memset(chain.prev, '0', 64);
    assert_int_equal(scep_store_list_audit(st, 0, chain_cb, &chain), 0);
    assert_true(chain.n >= 4);
    assert_true(chain.last_id > mark);
    assert_int_equal(scep_store_verify_audit(st, &bad), 0);
    assert_int_equal(bad, 0);

    /* Arguments. */
    now_ev.kind = NULL;
    assert_int_equal(scep_store_audit(st, &now_ev), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_audit(st, NULL), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_list_audit(st, 0, NULL, NULL), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_verify_audit(st, NULL), SCEP_ERR_INVALID_ARG);
    assert_int_equal(audit_since(st, mark), 4);
    scep_store_close(st);
}

/* The only tampering the public interface allows: a caller filling in
 * the output-only id and hash of an event.  The store assigns both
 * itself, so the chain stays intact. */
static void test_audit_forged_id_and_hash(void **state)
{
    struct scep_store *st = open_store();
    struct scep_audit_event ev = {
        .id = 1,
        .kind = "refuse",
        .actor = g_actor,
        .detail = "forged",
        .hash = "1111111111111111111111111111111111111111111111111111111111111111"};
    struct chain chain;
    struct seen s;
    int64_t mark = audit_mark(st), bad = -1;

    (void)state;
    assert_int_equal(scep_store_audit(st, &ev), 0);
    ev.id = INT64_MAX;
    assert_int_equal(scep_store_audit(st, &ev), 0);
    memset(&s, 0, sizeof(s));
    assert_int_equal(scep_store_list_audit(st, mark, seen_cb, &s), 0);
    assert_int_equal(s.n, 2);
    assert_true(s.ids[0] > mark);
    assert_true(s.ids[1] > s.ids[0] && s.ids[1] != INT64_MAX);
    memset(&chain, 0, sizeof(chain));
    memset(chain.prev, '0', 64);
    assert_int_equal(scep_store_list_audit(st, 0, chain_cb, &chain), 0);
    assert_int_equal(scep_store_verify_audit(st, &bad), 0);
    assert_int_equal(bad, 0);
    scep_store_close(st);
}

/* --- requests held for approval --------------------------------------- */

static const unsigned char csr_a[] = {0x30, 0x04, 0x00, 0x01, 0xfe, 0x00};

/* A request record whose strings live in static or caller storage. */
static struct scep_request_info req_info(const char *txid, const char *subject)
{
    struct scep_request_info ri;

    memset(&ri, 0, sizeof(ri));
    ri.transaction_id = (char *)txid;
    ri.subject = (char *)subject;
    ri.sans = "DNS:host.example";
    ri.pubkey_fp = "ab12cd34";
    ri.msg_type = "PKCSReq";
    ri.requester = "192.0.2.7";
    ri.created_at = 1700000000;
    ri.csr_der = (unsigned char *)csr_a;
    ri.csr_len = sizeof(csr_a);
    return ri;
}

/* Adds request n of this test with a "request-pending" event; its
 * transactionID goes to txid, and its id is returned. */
static int64_t add_req(struct scep_store *st, int n, char *txid, size_t len, const char *subject)
{
    struct scep_request_info ri;
    struct scep_audit_event ev = {.kind = "request-pending", .actor = g_actor};
    int64_t id = -1;

    uniq(txid, len, "R", n);
    ri = req_info(txid, subject);
    ev.transaction_id = txid;
    assert_int_equal(scep_store_add_request(st, &ri, &ev, &id), 0);
    assert_true(id > 0);
    return id;
}

static void assert_str_or_null(const char *got, const char *want)
{
    if (want == NULL)
        assert_null(got);
    else
        assert_string_equal(got, want);
}

static void assert_same_request(const struct scep_request_info *got,
                                const struct scep_request_info *want)
{
    assert_string_equal(got->transaction_id, want->transaction_id);
    assert_str_or_null(got->subject, want->subject);
    assert_str_or_null(got->sans, want->sans);
    assert_str_or_null(got->pubkey_fp, want->pubkey_fp);
    assert_str_or_null(got->msg_type, want->msg_type);
    assert_str_or_null(got->requester, want->requester);
    assert_int_equal(got->created_at, want->created_at);
    assert_int_equal(got->csr_len, want->csr_len);
    assert_memory_equal(got->csr_der, want->csr_der, want->csr_len);
}

static void test_request_round_trip(void **state)
{
    struct scep_store *st = open_store();
    struct scep_request_info *a = NULL, *b = NULL;
    char txid[40], sparse[40], none[40];
    struct scep_request_info ri;
    struct scep_audit_event ev = {.kind = "request-pending", .actor = g_actor};
    int64_t id = 0, id2 = 0, before, mark = audit_mark(st);

    (void)state;
    uniq(txid, sizeof(txid), "R", 1);
    uniq(sparse, sizeof(sparse), "R", 2);
    uniq(none, sizeof(none), "R", 3);
    ri = req_info(txid, "CN=round,O=Example");
    /* Fields the store owns are ignored on input. */
    ri.id = 77;
    ri.status = SCEP_REQ_ISSUED;
    ri.decided_at = 5;
    ri.decided_by = "someone";
    ri.reason = "because";
    ri.serial = "0A";
    ev.transaction_id = txid;
    assert_int_equal(scep_store_add_request(st, &ri, &ev, &id), 0);
    assert_true(id > 0);
    scep_store_close(st);

    /* Another connection: the request was committed. */
    st = open_store();
    assert_int_equal(scep_store_get_request(st, id, &a), 0);
    assert_int_equal(scep_store_get_request_by_transaction(st, txid, &b), 0);
    assert_int_equal(a->id, id);
    assert_int_equal(b->id, id);
    assert_same_request(a, &ri);
    assert_same_request(b, &ri);
    assert_int_equal(a->status, SCEP_REQ_PENDING);
    assert_int_equal(a->decided_at, 0);
    assert_null(a->decided_by);
    assert_null(a->reason);
    assert_null(a->serial);
    scep_request_info_free(a);
    scep_request_info_free(b);
    a = b = NULL;

    /* NULL optional strings stay NULL; created_at 0 means now; id may
     * be NULL; ids grow. */
    ri = req_info(sparse, NULL);
    ri.sans = ri.pubkey_fp = ri.msg_type = ri.requester = NULL;
    ri.created_at = 0;
    before = (int64_t)time(NULL);
    assert_int_equal(scep_store_add_request(st, &ri, NULL, NULL), 0);
    assert_int_equal(scep_store_get_request_by_transaction(st, sparse, &a), 0);
    assert_null(a->subject);
    assert_null(a->sans);
    assert_null(a->pubkey_fp);
    assert_null(a->msg_type);
    assert_null(a->requester);
    assert_true(a->created_at >= before && a->created_at <= (int64_t)time(NULL) + 1);
    assert_true(a->id > id);
    scep_request_info_free(a);
    a = NULL;

    /* A known transactionID: EXISTS, nothing written, *id untouched. */
    assert_int_equal(scep_store_add_request(st, &ri, &ev, &id2), SCEP_ERR_EXISTS);
    assert_non_null(strstr(scep_store_last_error(st), sparse));
    assert_int_equal(id2, 0);
    assert_int_equal(scep_store_get_request(st, INT64_MAX, &a), SCEP_ERR_NOT_FOUND);
    assert_null(a);
    assert_int_equal(scep_store_get_request_by_transaction(st, none, &a), SCEP_ERR_NOT_FOUND);
    assert_null(a);
    assert_int_equal(scep_store_get_request(st, id, NULL), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_get_request_by_transaction(st, NULL, &a), SCEP_ERR_INVALID_ARG);

    /* Required fields. */
    ri = req_info("", "CN=x");
    assert_int_equal(scep_store_add_request(st, &ri, NULL, NULL), SCEP_ERR_INVALID_ARG);
    ri = req_info(none, "CN=x");
    ri.csr_der = NULL;
    assert_int_equal(scep_store_add_request(st, &ri, NULL, NULL), SCEP_ERR_INVALID_ARG);
    ri = req_info(none, "CN=x");
    ri.csr_len = 0;
    assert_int_equal(scep_store_add_request(st, &ri, NULL, NULL), SCEP_ERR_INVALID_ARG);
    ri = req_info(none, "CN=x");
    ev.kind = NULL;
    assert_int_equal(scep_store_add_request(st, &ri, &ev, NULL), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_get_request_by_transaction(st, none, &a), SCEP_ERR_NOT_FOUND);
    assert_int_equal(audit_since(st, mark), 1);
    assert_audit_intact(st);
    scep_request_info_free(NULL);
    scep_store_close(st);
}

struct rcollect {
    int n;
    int64_t ids[8];
    int stop_after;     /* 0: never */
    const char *prefix; /* only transactionIDs starting so */
};

static int rcollect_cb(const struct scep_request_info *ri, void *arg)
{
    struct rcollect *c = arg;

    assert_non_null(ri->csr_der);
    if (strncmp(ri->transaction_id, c->prefix, strlen(c->prefix)) != 0)
        return 0;
    assert_true(c->n < 8);
    c->ids[c->n++] = ri->id;
    if (c->stop_after > 0 && c->n == c->stop_after)
        return 42;
    return 0;
}

static void rlist(struct scep_store *st, int status, struct rcollect *c, const char *prefix)
{
    memset(c, 0, sizeof(*c));
    c->prefix = prefix;
    assert_int_equal(scep_store_list_requests(st, status, rcollect_cb, c), 0);
}

struct walker {
    struct scep_store *st;
    const char *prefix;
};

/* Decides this test's requests from inside the walk. */
static int approve_in_walk_cb(const struct scep_request_info *ri, void *arg)
{
    struct walker *w = arg;

    if (strncmp(ri->transaction_id, w->prefix, strlen(w->prefix)) != 0)
        return 0;
    return scep_store_decide_request(w->st, ri->id, SCEP_REQ_APPROVED, "scepctl:walker", NULL,
                                     NULL);
}

static void test_request_list_by_status(void **state)
{
    struct scep_store *st = open_store();
    struct rcollect c;
    struct walker w;
    char tx[40], prefix[40];
    int64_t a, b, e, f;

    (void)state;
    uniq(prefix, sizeof(prefix), "R", 0);
    prefix[strlen(prefix) - 2] = '\0';
    rlist(st, -1, &c, prefix);
    assert_int_equal(c.n, 0);
    a = add_req(st, 1, tx, sizeof(tx), "CN=a");
    b = add_req(st, 2, tx, sizeof(tx), "CN=b");
    e = add_req(st, 3, tx, sizeof(tx), "CN=e");
    f = add_req(st, 4, tx, sizeof(tx), "CN=f");
    assert_int_equal(
        scep_store_decide_request(st, b, SCEP_REQ_APPROVED, "scepctl:root", NULL, NULL), 0);
    assert_int_equal(
        scep_store_decide_request(st, e, SCEP_REQ_REJECTED, "scepctl:root", "unknown", NULL), 0);

    rlist(st, SCEP_REQ_PENDING, &c, prefix);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.ids[0], a); /* oldest first */
    assert_int_equal(c.ids[1], f);
    rlist(st, SCEP_REQ_APPROVED, &c, prefix);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.ids[0], b);
    rlist(st, SCEP_REQ_REJECTED, &c, prefix);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.ids[0], e);
    rlist(st, SCEP_REQ_ISSUED, &c, prefix);
    assert_int_equal(c.n, 0);
    rlist(st, -1, &c, prefix);
    assert_int_equal(c.n, 4);
    assert_int_equal(c.ids[0], a);
    assert_int_equal(c.ids[3], f);

    /* A non-zero callback value stops the walk and comes back. */
    memset(&c, 0, sizeof(c));
    c.prefix = prefix;
    c.stop_after = 2;
    assert_int_equal(scep_store_list_requests(st, -1, rcollect_cb, &c), 42);
    assert_int_equal(c.n, 2);

    assert_int_equal(scep_store_list_requests(st, 4, rcollect_cb, &c), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_list_requests(st, -2, rcollect_cb, &c), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_list_requests(st, -1, NULL, &c), SCEP_ERR_INVALID_ARG);

    /* Deciding from inside the walk works. */
    w.st = st;
    w.prefix = prefix;
    assert_int_equal(scep_store_list_requests(st, SCEP_REQ_PENDING, approve_in_walk_cb, &w), 0);
    rlist(st, SCEP_REQ_APPROVED, &c, prefix);
    assert_int_equal(c.n, 3);
    assert_audit_intact(st);
    scep_store_close(st);
}

static void test_request_decide(void **state)
{
    struct scep_store *st = open_store();
    struct scep_request_info *got = NULL;
    char tx1[40], tx2[40], tx3[40];
    struct scep_audit_event ev = {.kind = "request-approve", .actor = g_actor};
    struct scep_audit_event rev = {
        .kind = "request-reject", .actor = g_actor, .detail = "not ours"};
    int64_t r1, r2, r3, mark, before = (int64_t)time(NULL);

    (void)state;
    r1 = add_req(st, 1, tx1, sizeof(tx1), "CN=one");
    r2 = add_req(st, 2, tx2, sizeof(tx2), "CN=two");
    mark = audit_mark(st);
    assert_int_equal(
        scep_store_decide_request(st, r1, SCEP_REQ_APPROVED, "scepctl:alice", NULL, &ev), 0);
    assert_int_equal(
        scep_store_decide_request(st, r2, SCEP_REQ_REJECTED, "scepctl:bob", "not ours", &rev), 0);
    assert_int_equal(audit_since(st, mark), 2);
    scep_store_close(st);

    st = open_store();
    assert_int_equal(scep_store_get_request(st, r1, &got), 0);
    assert_int_equal(got->status, SCEP_REQ_APPROVED);
    assert_string_equal(got->decided_by, "scepctl:alice");
    assert_null(got->reason);
    assert_true(got->decided_at >= before && got->decided_at <= (int64_t)time(NULL) + 1);
    assert_null(got->serial);
    scep_request_info_free(got);
    assert_int_equal(scep_store_get_request(st, r2, &got), 0);
    assert_int_equal(got->status, SCEP_REQ_REJECTED);
    assert_string_equal(got->decided_by, "scepctl:bob");
    assert_string_equal(got->reason, "not ours");
    assert_true(got->decided_at >= before);
    scep_request_info_free(got);

    /* A second decision, either way, is refused with nothing written. */
    mark = audit_mark(st);
    assert_int_equal(
        scep_store_decide_request(st, r1, SCEP_REQ_REJECTED, "scepctl:eve", "late", &rev),
        SCEP_ERR_EXISTS);
    assert_int_equal(scep_store_decide_request(st, r1, SCEP_REQ_APPROVED, "scepctl:eve", NULL, &ev),
                     SCEP_ERR_EXISTS);
    assert_int_equal(scep_store_decide_request(st, r2, SCEP_REQ_APPROVED, "scepctl:eve", NULL, &ev),
                     SCEP_ERR_EXISTS);
    assert_int_equal(
        scep_store_decide_request(st, INT64_MAX, SCEP_REQ_APPROVED, "scepctl:eve", NULL, &ev),
        SCEP_ERR_NOT_FOUND);
    assert_int_equal(audit_since(st, mark), 0);
    assert_int_equal(scep_store_get_request(st, r1, &got), 0);
    assert_int_equal(got->status, SCEP_REQ_APPROVED);
    assert_string_equal(got->decided_by, "scepctl:alice");
    scep_request_info_free(got);

    /* Only APPROVED and REJECTED are decisions; an actor is required. */
    r3 = add_req(st, 3, tx3, sizeof(tx3), "CN=three");
    assert_int_equal(scep_store_decide_request(st, r3, SCEP_REQ_ISSUED, "scepctl:a", NULL, NULL),
                     SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_decide_request(st, r3, SCEP_REQ_PENDING, "scepctl:a", NULL, NULL),
                     SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_decide_request(st, r3, SCEP_REQ_APPROVED, NULL, NULL, NULL),
                     SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_get_request(st, r3, &got), 0);
    assert_int_equal(got->status, SCEP_REQ_PENDING);
    scep_request_info_free(got);
    assert_audit_intact(st);
    scep_store_close(st);
}

/* The request purge keeps what is recent, pending or approved; a purge
 * with nothing to delete writes no audit event.  (What it deletes is
 * shown by integration.approval: other runs share this database, so
 * this test deletes nothing of theirs.) */
static void test_request_purge(void **state)
{
    struct scep_store *st = open_store();
    struct scep_request_info *got = NULL;
    struct scep_audit_event ev = {.kind = "request-purge", .actor = g_actor};
    char tx1[40], tx2[40];
    int64_t r1, r2, mark, n = -1;

    (void)state;
    r1 = add_req(st, 1, tx1, sizeof(tx1), "CN=purge-pending");
    r2 = add_req(st, 2, tx2, sizeof(tx2), "CN=purge-rejected");
    assert_int_equal(scep_store_decide_request(st, r2, SCEP_REQ_REJECTED, "scepctl:x", "no", NULL),
                     0);
    mark = audit_mark(st);
    /* A year back: nothing this recent goes. */
    assert_int_equal(scep_store_purge_requests(st, (int64_t)time(NULL) - 365 * 86400, &n, &ev), 0);
    assert_int_equal(n, 0);
    assert_int_equal(audit_since(st, mark), 0);
    assert_int_equal(scep_store_get_request(st, r1, &got), 0);
    scep_request_info_free(got);
    assert_int_equal(scep_store_get_request(st, r2, &got), 0);
    scep_request_info_free(got);
    assert_int_equal(scep_store_purge_requests(st, -1, &n, &ev), SCEP_ERR_INVALID_ARG);
    ev.kind = NULL;
    assert_int_equal(scep_store_purge_requests(st, 0, &n, &ev), SCEP_ERR_INVALID_ARG);
    assert_audit_intact(st);
    scep_store_close(st);
}

static void test_request_issue(void **state)
{
    struct scep_store *st = open_store();
    struct scep_request_info *got = NULL;
    struct scep_cert_info *cert_got = NULL;
    char txok[40], txpend[40], txrej[40], txdup[40], s1[40], s2[40], s3[40];
    struct scep_cert_info ci;
    struct scep_audit_event ev = {.kind = "issue", .actor = g_actor};
    int64_t ok, pend, rej, dup, mark;

    (void)state;
    serial_of(s1, sizeof(s1), 1);
    serial_of(s2, sizeof(s2), 2);
    serial_of(s3, sizeof(s3), 3);
    ok = add_req(st, 1, txok, sizeof(txok), "CN=issued");
    pend = add_req(st, 2, txpend, sizeof(txpend), "CN=pend");
    rej = add_req(st, 3, txrej, sizeof(txrej), "CN=rej");
    dup = add_req(st, 4, txdup, sizeof(txdup), "CN=dup");
    assert_int_equal(
        scep_store_decide_request(st, ok, SCEP_REQ_APPROVED, "scepctl:root", NULL, NULL), 0);
    assert_int_equal(
        scep_store_decide_request(st, rej, SCEP_REQ_REJECTED, "scepctl:root", "no", NULL), 0);
    ci = cert(s1, "CN=issued", NULL);
    ci.transaction_id = txok;
    ev.serial = s1;
    ev.transaction_id = txok;
    mark = audit_mark(st);

    /* Not approved, or unknown: refused, nothing written. */
    assert_int_equal(scep_store_issue_request(st, pend, &ci, &ev), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_issue_request(st, rej, &ci, &ev), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_issue_request(st, INT64_MAX, &ci, &ev), SCEP_ERR_NOT_FOUND);
    assert_int_equal(scep_store_get_cert(st, s1, &cert_got), SCEP_ERR_NOT_FOUND);
    assert_int_equal(audit_since(st, mark), 0);

    /* Approved: certificate and request change together. */
    assert_int_equal(scep_store_issue_request(st, ok, &ci, &ev), 0);
    assert_int_equal(audit_since(st, mark), 1);
    scep_store_close(st);
    st = open_store();
    assert_int_equal(scep_store_get_cert(st, s1, &cert_got), 0);
    assert_string_equal(cert_got->subject, "CN=issued");
    assert_string_equal(cert_got->transaction_id, txok);
    assert_memory_equal(cert_got->der, der_a, sizeof(der_a));
    scep_cert_info_free(cert_got);
    cert_got = NULL;
    assert_int_equal(scep_store_get_request(st, ok, &got), 0);
    assert_int_equal(got->status, SCEP_REQ_ISSUED);
    assert_string_equal(got->serial, s1);
    assert_string_equal(got->decided_by, "scepctl:root");
    scep_request_info_free(got);
    got = NULL;

    /* Issued once: a second issue is refused (not APPROVED any more). */
    ci.serial = s2;
    assert_int_equal(scep_store_issue_request(st, ok, &ci, NULL), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_get_cert(st, s2, &cert_got), SCEP_ERR_NOT_FOUND);

    /* A duplicate serial: EXISTS; the request stays APPROVED with no
     * serial, and no audit event. */
    assert_int_equal(
        scep_store_decide_request(st, dup, SCEP_REQ_APPROVED, "scepctl:root", NULL, NULL), 0);
    mark = audit_mark(st);
    ci = cert(s1, "CN=dup", NULL);
    ci.transaction_id = txdup;
    assert_int_equal(scep_store_issue_request(st, dup, &ci, &ev), SCEP_ERR_EXISTS);
    assert_int_equal(audit_since(st, mark), 0);
    assert_int_equal(scep_store_get_request(st, dup, &got), 0);
    assert_int_equal(got->status, SCEP_REQ_APPROVED);
    assert_null(got->serial);
    scep_request_info_free(got);
    got = NULL;
    assert_int_equal(scep_store_get_cert(st, s1, &cert_got), 0);
    assert_string_equal(cert_got->subject, "CN=issued");
    scep_cert_info_free(cert_got);

    /* Certificate checks as for insert_cert. */
    ci.serial = s3;
    ci.der = NULL;
    assert_int_equal(scep_store_issue_request(st, dup, &ci, NULL), SCEP_ERR_INVALID_ARG);
    ci.der = (unsigned char *)der_a;
    ci.subject = NULL;
    assert_int_equal(scep_store_issue_request(st, dup, &ci, NULL), SCEP_ERR_INVALID_ARG);
    ci.subject = "CN=dup";
    assert_int_equal(scep_store_issue_request(st, dup, NULL, NULL), SCEP_ERR_INVALID_ARG);

    /* And then it issues with a fresh serial. */
    assert_int_equal(scep_store_issue_request(st, dup, &ci, NULL), 0);
    assert_int_equal(scep_store_get_request(st, dup, &got), 0);
    assert_int_equal(got->status, SCEP_REQ_ISSUED);
    assert_string_equal(got->serial, s3);
    scep_request_info_free(got);
    assert_audit_intact(st);
    scep_store_close(st);
}

/* An approved request whose transactionID already has a certificate
 * (issued meanwhile by another path) is not issued a second time. */
static void test_request_issue_transaction_taken(void **state)
{
    struct scep_store *st = open_store();
    struct scep_request_info *got = NULL;
    struct scep_cert_info *cert_got = NULL;
    char tx[40], s1[40], s2[40];
    struct scep_cert_info ci;
    struct scep_audit_event ev = {.kind = "issue", .actor = g_actor};
    int64_t id, mark;

    (void)state;
    serial_of(s1, sizeof(s1), 1);
    serial_of(s2, sizeof(s2), 2);
    id = add_req(st, 1, tx, sizeof(tx), "CN=taken");
    assert_int_equal(
        scep_store_decide_request(st, id, SCEP_REQ_APPROVED, "scepctl:root", NULL, NULL), 0);
    ci = cert(s1, "CN=taken", NULL);
    ci.transaction_id = tx;
    assert_int_equal(scep_store_insert_cert(st, &ci, &ev), 0);
    mark = audit_mark(st);
    ci.serial = s2;
    assert_int_equal(scep_store_issue_request(st, id, &ci, &ev), SCEP_ERR_TRANSID_REUSE);
    assert_int_equal(audit_since(st, mark), 0);
    assert_int_equal(scep_store_get_cert(st, s2, &cert_got), SCEP_ERR_NOT_FOUND);
    assert_int_equal(scep_store_get_request(st, id, &got), 0);
    assert_int_equal(got->status, SCEP_REQ_APPROVED);
    assert_null(got->serial);
    scep_request_info_free(got);
    assert_audit_intact(st);
    scep_store_close(st);
}

/* --- one-time challenges -------------------------------------------- */

/* A challenge hash unique to this run, test and n: 64 lowercase hex. */
static void chal_hash(char out[65], int n)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[32];
    unsigned int len = 0;
    char tag[40];
    int i;

    uniq(tag, sizeof(tag), "H", n);
    assert_true(EVP_Digest(tag, strlen(tag), md, &len, EVP_sha256(), NULL));
    for (i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

/* Stores a challenge (hash n of this test) and returns its id. */
static int64_t add_chal(struct scep_store *st, int n, int64_t max_uses, int64_t expires_at,
                        const char *subject, const char *sans)
{
    struct scep_challenge_info ci;
    struct scep_audit_event ev = {.kind = "challenge-new", .actor = g_actor};
    char hash[65];
    int64_t id = 0;

    chal_hash(hash, n);
    memset(&ci, 0, sizeof(ci));
    ci.hash = hash;
    ci.profile = "p1";
    ci.subject = (char *)subject;
    ci.sans = (char *)sans;
    ci.max_uses = max_uses;
    ci.expires_at = expires_at;
    ci.created_by = g_actor;
    assert_int_equal(scep_store_add_challenge(st, &ci, &ev, &id), 0);
    assert_true(id > 0);
    return id;
}

/*
 * A challenge that can admit nothing any more (expired, revoked, used
 * up) may be purged by another run sharing the store at any moment (the
 * purge test does it).  On such a store a lookup of one of this run's
 * spent challenges may therefore find nothing; on the run's own store
 * (g_private) it must find it.  1 when rc is that excusable absence.
 */
static int gone_elsewhere(int rc)
{
    return !g_private && rc == SCEP_ERR_NOT_FOUND;
}

/* Checks the uses of a spent challenge (see gone_elsewhere()). */
static void assert_spent_uses(struct scep_store *st, int64_t id, int64_t want)
{
    struct scep_challenge_info *ci = NULL;
    int rc = scep_store_get_challenge(st, id, &ci);

    if (gone_elsewhere(rc))
        return;
    assert_int_equal(rc, 0);
    assert_int_equal(ci->uses, want);
    scep_challenge_info_free(ci);
}

static int64_t chal_uses(struct scep_store *st, int64_t id)
{
    struct scep_challenge_info *ci = NULL;
    int64_t uses;

    assert_int_equal(scep_store_get_challenge(st, id, &ci), 0);
    uses = ci->uses;
    scep_challenge_info_free(ci);
    return uses;
}

#define FAR_FUTURE 4102444800 /* 2100 */

/* Stored as given, found by hash and by id; a hash is stored once. */
static void test_challenge_round_trip(void **state)
{
    struct scep_store *st = open_store();
    struct scep_challenge_info ci, *got = NULL;
    struct scep_audit_event ev = {.kind = "challenge-new", .actor = g_actor};
    char hash[65], other[65];
    int64_t mark = audit_mark(st), id = 0, id2 = 0;

    (void)state;
    chal_hash(hash, 1);
    chal_hash(other, 2);
    memset(&ci, 0, sizeof(ci));
    ci.hash = hash;
    ci.subject = "CN=dev1,O=Example";
    ci.sans = "DNS:dev1.example\nIP:192.0.2.1";
    ci.max_uses = 3;
    ci.created_at = 1000;
    ci.expires_at = FAR_FUTURE;
    ci.created_by = g_actor;
    ci.uses = 2;       /* ignored on input */
    ci.revoked_at = 9; /* ignored on input */
    assert_int_equal(scep_store_add_challenge(st, &ci, &ev, &id), 0);
    assert_true(id > 0);
    assert_int_equal(scep_store_get_challenge_by_hash(st, hash, &got), 0);
    assert_int_equal(got->id, id);
    assert_string_equal(got->hash, hash);
    assert_string_equal(got->profile, ""); /* NULL on input: the default profile */
    assert_string_equal(got->subject, "CN=dev1,O=Example");
    assert_string_equal(got->sans, "DNS:dev1.example\nIP:192.0.2.1");
    assert_int_equal(got->max_uses, 3);
    assert_int_equal(got->uses, 0);
    assert_int_equal(got->created_at, 1000);
    assert_int_equal(got->expires_at, FAR_FUTURE);
    assert_int_equal(got->revoked_at, 0);
    assert_string_equal(got->created_by, g_actor);
    scep_challenge_info_free(got);
    got = NULL;
    assert_int_equal(scep_store_get_challenge(st, id, &got), 0);
    assert_string_equal(got->hash, hash);
    scep_challenge_info_free(got);
    got = NULL;
    /* The same hash again: refused, nothing written. */
    assert_int_equal(scep_store_add_challenge(st, &ci, &ev, &id2), SCEP_ERR_EXISTS);
    assert_int_equal(audit_since(st, mark), 1);
    /* Unbound, another hash: NULLs stay NULL, ids grow. */
    ci.hash = other;
    ci.subject = NULL;
    ci.sans = NULL;
    ci.profile = "router";
    assert_int_equal(scep_store_add_challenge(st, &ci, NULL, &id2), 0);
    assert_true(id2 > id);
    assert_int_equal(scep_store_get_challenge(st, id2, &got), 0);
    assert_null(got->subject);
    assert_null(got->sans);
    assert_string_equal(got->profile, "router");
    scep_challenge_info_free(got);
    got = NULL;
    /* Absent, malformed and invalid. */
    hash[0] = hash[0] == 'a' ? 'b' : 'a';
    assert_int_equal(scep_store_get_challenge_by_hash(st, hash, &got), SCEP_ERR_NOT_FOUND);
    assert_int_equal(scep_store_get_challenge_by_hash(st, "ABC", &got), SCEP_ERR_NOT_FOUND);
    assert_int_equal(scep_store_get_challenge(st, INT64_MAX, &got), SCEP_ERR_NOT_FOUND);
    assert_null(got);
    ci.hash = "not hex";
    assert_int_equal(scep_store_add_challenge(st, &ci, NULL, NULL), SCEP_ERR_INVALID_ARG);
    ci.hash = other;
    ci.max_uses = 0;
    assert_int_equal(scep_store_add_challenge(st, &ci, NULL, NULL), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_add_challenge(NULL, &ci, NULL, NULL), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_get_challenge(st, id, NULL), SCEP_ERR_INVALID_ARG);
    assert_audit_intact(st);
    scep_store_close(st);
}

/* Each certificate that names a challenge uses it once, in its own
 * transaction; once used up, a certificate naming it is refused with
 * nothing written (no row, no audit event). */
static void test_challenge_consumed_by_cert(void **state)
{
    struct scep_store *st = open_store();
    struct scep_cert_info ci, *got = NULL;
    struct scep_audit_event ev = {.kind = "issue", .actor = g_actor};
    char s1[40], s2[40], s3[40], tx3[40];
    int64_t id = add_chal(st, 1, 2, FAR_FUTURE, NULL, NULL), mark = audit_mark(st);

    (void)state;
    serial_of(s1, sizeof(s1), 1);
    serial_of(s2, sizeof(s2), 2);
    serial_of(s3, sizeof(s3), 3);
    uniq(tx3, sizeof(tx3), "T", 3);
    ci = cert(s1, "CN=c1", NULL);
    ci.challenge_id = id;
    assert_int_equal(scep_store_insert_cert(st, &ci, &ev), 0);
    assert_int_equal(chal_uses(st, id), 1);
    assert_int_equal(scep_store_get_cert(st, s1, &got), 0);
    assert_int_equal(got->challenge_id, id);
    scep_cert_info_free(got);
    got = NULL;
    ci.serial = s2;
    assert_int_equal(scep_store_insert_cert(st, &ci, &ev), 0);
    assert_spent_uses(st, id, 2);
    ci.serial = s3;
    ci.transaction_id = tx3;
    assert_int_equal(scep_store_insert_cert(st, &ci, &ev), SCEP_ERR_CHALLENGE);
    assert_spent_uses(st, id, 2);
    assert_int_equal(scep_store_get_cert(st, s3, &got), SCEP_ERR_NOT_FOUND);
    assert_int_equal(scep_store_get_cert_by_transaction(st, tx3, &got), SCEP_ERR_NOT_FOUND);
    /* each stored certificate: its event and a "challenge-use" */
    assert_int_equal(audit_since(st, mark), 4);
    /* An unknown challenge admits nothing either. */
    ci.challenge_id = INT64_MAX;
    assert_int_equal(scep_store_insert_cert(st, &ci, &ev), SCEP_ERR_CHALLENGE);
    /* Without a challenge the certificate goes in and records none. */
    ci.challenge_id = 0;
    assert_int_equal(scep_store_insert_cert(st, &ci, &ev), 0);
    assert_int_equal(scep_store_get_cert_by_transaction(st, tx3, &got), 0);
    assert_int_equal(got->challenge_id, 0);
    scep_cert_info_free(got);
    /* A failed insert (duplicate serial) gives the use back. */
    id = add_chal(st, 2, 1, FAR_FUTURE, NULL, NULL);
    ci.challenge_id = id;
    ci.transaction_id = NULL;
    assert_int_equal(scep_store_insert_cert(st, &ci, &ev), SCEP_ERR_EXISTS);
    assert_int_equal(chal_uses(st, id), 0);
    assert_audit_intact(st);
    scep_store_close(st);
}

/* An expired or revoked challenge admits nothing; revoking is once. */
static void test_challenge_expired_revoked(void **state)
{
    struct scep_store *st = open_store();
    struct scep_cert_info ci, *got = NULL;
    struct scep_challenge_info *ch = NULL;
    struct scep_audit_event ev = {.kind = "challenge-revoke", .actor = g_actor};
    char s1[40];
    int64_t now = (int64_t)time(NULL);
    int64_t expired = add_chal(st, 1, 5, now - 1, NULL, NULL);
    int64_t revoked = add_chal(st, 2, 5, FAR_FUTURE, NULL, NULL), mark;
    int rc;

    (void)state;
    serial_of(s1, sizeof(s1), 1);
    ci = cert(s1, "CN=late", NULL);
    ci.challenge_id = expired;
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), SCEP_ERR_CHALLENGE);
    assert_spent_uses(st, expired, 0);
    mark = audit_mark(st);
    assert_int_equal(scep_store_revoke_challenge(st, revoked, 0, &ev), 0);
    rc = scep_store_get_challenge(st, revoked, &ch);
    if (!gone_elsewhere(rc)) {
        assert_int_equal(rc, 0);
        assert_true(ch->revoked_at >= now);
        scep_challenge_info_free(ch);
    }
    ci.challenge_id = revoked;
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), SCEP_ERR_CHALLENGE);
    assert_int_equal(scep_store_get_cert(st, s1, &got), SCEP_ERR_NOT_FOUND);
    /* Revoked again: refused, nothing written; unknown: not found. */
    rc = scep_store_revoke_challenge(st, revoked, 0, &ev);
    if (!gone_elsewhere(rc))
        assert_int_equal(rc, SCEP_ERR_EXISTS);
    assert_int_equal(scep_store_revoke_challenge(st, INT64_MAX, 0, &ev), SCEP_ERR_NOT_FOUND);
    assert_int_equal(audit_since(st, mark), 1);
    /* An expired one may still be revoked. */
    rc = scep_store_revoke_challenge(st, expired, 0, NULL);
    if (!gone_elsewhere(rc))
        assert_int_equal(rc, 0);
    assert_int_equal(scep_store_revoke_challenge(NULL, expired, 0, NULL), SCEP_ERR_INVALID_ARG);
    assert_audit_intact(st);
    scep_store_close(st);
}

/* A request uses its challenge when it is stored; issuing it later
 * uses nothing more, and the certificate records the request's one. */
static void test_challenge_consumed_by_request(void **state)
{
    struct scep_store *st = open_store();
    struct scep_request_info ri, *got = NULL;
    struct scep_cert_info ci, *cert_got = NULL;
    char tx1[40], tx2[40], s1[40];
    int64_t chal = add_chal(st, 1, 1, FAR_FUTURE, NULL, NULL), rid = 0, other;

    (void)state;
    uniq(tx1, sizeof(tx1), "T", 1);
    uniq(tx2, sizeof(tx2), "T", 2);
    serial_of(s1, sizeof(s1), 1);
    memset(&ri, 0, sizeof(ri));
    ri.transaction_id = tx1;
    ri.subject = "CN=held";
    ri.csr_der = (unsigned char *)der_b;
    ri.csr_len = sizeof(der_b);
    ri.challenge_id = chal;
    assert_int_equal(scep_store_add_request(st, &ri, NULL, &rid), 0);
    assert_spent_uses(st, chal, 1);
    assert_int_equal(scep_store_get_request(st, rid, &got), 0);
    assert_int_equal(got->challenge_id, chal);
    scep_request_info_free(got);
    got = NULL;
    assert_int_equal(scep_store_get_request_by_transaction(st, tx1, &got), 0);
    assert_int_equal(got->challenge_id, chal);
    scep_request_info_free(got);
    got = NULL;
    /* A second request with the spent challenge: refused, not stored. */
    ri.transaction_id = tx2;
    assert_int_equal(scep_store_add_request(st, &ri, NULL, NULL), SCEP_ERR_CHALLENGE);
    assert_int_equal(scep_store_get_request_by_transaction(st, tx2, &got), SCEP_ERR_NOT_FOUND);
    /* Approved and issued: no second use, the challenge is copied even
     * when the caller names another. */
    assert_int_equal(scep_store_decide_request(st, rid, SCEP_REQ_APPROVED, g_actor, NULL, NULL), 0);
    other = add_chal(st, 2, 1, FAR_FUTURE, NULL, NULL);
    ci = cert(s1, "CN=held", NULL);
    ci.transaction_id = tx1;
    ci.challenge_id = other;
    assert_int_equal(scep_store_issue_request(st, rid, &ci, NULL), 0);
    assert_spent_uses(st, chal, 1);
    assert_int_equal(chal_uses(st, other), 0);
    assert_int_equal(scep_store_get_cert(st, s1, &cert_got), 0);
    assert_int_equal(cert_got->challenge_id, chal);
    scep_cert_info_free(cert_got);
    scep_store_close(st);
}

struct chal_seen {
    int64_t ids[8];
    int found[8];
    int n;
};

static int chal_seen_cb(const struct scep_challenge_info *ci, void *arg)
{
    struct chal_seen *c = arg;
    int i;

    assert_non_null(ci->hash);
    for (i = 0; i < c->n; i++) {
        if (c->ids[i] == ci->id)
            c->found[i]++;
    }
    return 0;
}

static int chal_stop_cb(const struct scep_challenge_info *ci, void *arg)
{
    (void)ci;
    (void)arg;
    return 42;
}

/* Listing shows usable challenges, or all; purging removes what can
 * admit nothing any more and leaves the certificates' challenge_id. */
static void test_challenge_list_purge(void **state)
{
    struct scep_store *st = open_store();
    struct scep_cert_info ci, *got = NULL;
    struct scep_challenge_info *ch = NULL;
    struct scep_audit_event ev = {.kind = "challenge-purge", .actor = g_actor};
    struct chal_seen seen;
    char s1[40];
    int64_t now = (int64_t)time(NULL), purged = -1, mark;
    int i;

    (void)state;
    memset(&seen, 0, sizeof(seen));
    seen.n = 4;
    seen.ids[0] = add_chal(st, 1, 1, FAR_FUTURE, NULL, NULL); /* active */
    seen.ids[1] = add_chal(st, 2, 1, now - 1, NULL, NULL);    /* expired */
    seen.ids[2] = add_chal(st, 3, 1, FAR_FUTURE, NULL, NULL); /* used below */
    seen.ids[3] = add_chal(st, 4, 1, FAR_FUTURE, NULL, NULL); /* revoked below */
    serial_of(s1, sizeof(s1), 1);
    ci = cert(s1, "CN=used", NULL);
    ci.challenge_id = seen.ids[2];
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);
    assert_int_equal(scep_store_revoke_challenge(st, seen.ids[3], 0, NULL), 0);
    assert_int_equal(scep_store_list_challenges(st, 0, chal_seen_cb, &seen), 0);
    assert_int_equal(seen.found[0], 1);
    assert_int_equal(seen.found[1] + seen.found[2] + seen.found[3], 0);
    memset(seen.found, 0, sizeof(seen.found));
    assert_int_equal(scep_store_list_challenges(st, 1, chal_seen_cb, &seen), 0);
    assert_int_equal(seen.found[0], 1);
    for (i = 1; i < 4; i++) {
        if (seen.found[i] == 0 && gone_elsewhere(scep_store_get_challenge(st, seen.ids[i], &ch)))
            continue;
        assert_int_equal(seen.found[i], 1);
    }
    assert_int_equal(scep_store_list_challenges(st, 1, chal_stop_cb, NULL), 42);
    assert_int_equal(scep_store_list_challenges(st, 1, NULL, NULL), SCEP_ERR_INVALID_ARG);

    mark = audit_mark(st);
    assert_int_equal(scep_store_purge_challenges(st, now, &purged, &ev), 0);
    /* Earlier tests' spent challenges go too; on a shared store another
     * run may have purged ours first. */
    assert_true(g_private ? purged >= 2 : purged >= 0);
    assert_int_equal(audit_since(st, mark), 1);
    /* The active one stays, and so does the used-up one until it expires:
     * its transaction's retry is recognised by it. */
    assert_int_equal(scep_store_get_challenge(st, seen.ids[0], &ch), 0);
    scep_challenge_info_free(ch);
    ch = NULL;
    assert_int_equal(scep_store_get_challenge(st, seen.ids[2], &ch), 0);
    scep_challenge_info_free(ch);
    ch = NULL;
    assert_int_equal(scep_store_get_challenge(st, seen.ids[1], &ch), SCEP_ERR_NOT_FOUND);
    assert_int_equal(scep_store_get_challenge(st, seen.ids[3], &ch), SCEP_ERR_NOT_FOUND);
    assert_int_equal(scep_store_get_cert(st, s1, &got), 0);
    assert_int_equal(got->challenge_id, seen.ids[2]);
    scep_cert_info_free(got);
    /* A new challenge never gets a purged one's id. */
    assert_true(add_chal(st, 5, 1, FAR_FUTURE, NULL, NULL) > seen.ids[3]);
    assert_int_equal(scep_store_purge_challenges(st, 0, NULL, NULL), 0);
    assert_audit_intact(st);
    scep_store_close(st);
}

/* RACERS connections insert certificates with one single-use challenge
 * at the same moment: one wins, the others get SCEP_ERR_CHALLENGE (not a
 * busy or store error), and one certificate holds the challenge. */
static void test_challenge_race(void **state)
{
    struct racer rs[RACERS];
    struct scep_store *st = open_store();
    struct scep_cert_info *got = NULL;
    int64_t chal = add_chal(st, 1, 1, FAR_FUTURE, NULL, NULL), mark = audit_mark(st);
    int i, others = 0, holders = 0;

    (void)state;
    memset(rs, 0, sizeof(rs));
    for (i = 0; i < RACERS; i++) {
        rs[i].st = open_store();
        serial_of(rs[i].serial, sizeof(rs[i].serial), i + 1);
        uniq(rs[i].txid, sizeof(rs[i].txid), "T", i + 1);
        rs[i].challenge_id = chal;
    }
    assert_int_equal(run_race(rs, &others), 1);
    assert_int_equal(others, SCEP_ERR_CHALLENGE);
    /* the winner's event and its "challenge-use"; the losers wrote none */
    assert_int_equal(audit_since(st, mark), 2);
    assert_spent_uses(st, chal, 1);
    for (i = 0; i < RACERS; i++) {
        int rc = scep_store_get_cert(st, rs[i].serial, &got);

        if (rc == 0) {
            assert_int_equal(got->challenge_id, chal);
            holders++;
            scep_cert_info_free(got);
            got = NULL;
        } else {
            assert_int_equal(rc, SCEP_ERR_NOT_FOUND);
        }
    }
    assert_int_equal(holders, 1);
    assert_audit_intact(st);
    for (i = 0; i < RACERS; i++)
        scep_store_close(rs[i].st);
    scep_store_close(st);
}

/* ---- expiry notices ---- */

/* scep_store_expiring_cb: collects this test's serials (the store may be
 * shared with other runs, whose rows are skipped). */
struct exp_collect {
    char prefix[40];
    char serials[8][64];
    char profiles[8][40];
    int n;
};

static int exp_cb(const struct scep_cert_info *ci, const char *profile, void *arg)
{
    struct exp_collect *c = arg;

    if (strncmp(ci->serial, c->prefix, strlen(c->prefix)) != 0)
        return 0;
    assert_true(c->n < 8);
    snprintf(c->serials[c->n], sizeof(c->serials[0]), "%s", ci->serial);
    snprintf(c->profiles[c->n], sizeof(c->profiles[0]), "%s", profile != NULL ? profile : "(null)");
    c->n++;
    return 0;
}

/* Valid, unexpired, not renewed, any source: revoked, renewed, expired
 * and far-off certificates are not listed; soonest first; the profile of
 * the admitting challenge comes along. */
static void test_expiring_listing(void **state)
{
    struct scep_store *st = open_store();
    char s[6][64], subj[64], issuer[64];
    struct scep_cert_info ci;
    struct exp_collect c;
    struct scep_challenge_info ch;
    char hash[65];
    int64_t now = 2000000000, chal = 0;
    int i;

    (void)state;
    uniq(issuer, sizeof(issuer), "I", 0);
    for (i = 0; i < 6; i++)
        serial_of(s[i], sizeof(s[i]), i + 1);
    memset(&ch, 0, sizeof(ch));
    for (i = 0; i < 64; i++)
        hash[i] = "0123456789abcdef"[(g_run[i % 14] + g_test + i) & 15];
    hash[64] = '\0';
    ch.hash = hash;
    ch.profile = (char *)"vpn";
    ch.max_uses = 1;
    ch.expires_at = FAR_FUTURE;
    assert_int_equal(scep_store_add_challenge(st, &ch, NULL, &chal), 0);
    for (i = 0; i < 6; i++) {
        snprintf(subj, sizeof(subj), "CN=exp%d", i + 1);
        ci = cert(s[i], subj, issuer);
        ci.not_after = now + (i == 1 ? 100 : 1000 - i);
        if (i == 0)
            ci.challenge_id = chal;
        if (i == 3)
            ci.not_after = now - 1; /* expired */
        if (i == 4)
            ci.not_after = now + 1000000; /* beyond the window */
        if (i == 5) {
            ci.renewed_serial = s[2]; /* renews s[2] */
            ci.not_after = now + 500000;
        }
        assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);
    }
    assert_int_equal(scep_store_revoke(st, s[1], 1, now - 10, NULL), 0);
    memset(&c, 0, sizeof(c));
    uniq(c.prefix, sizeof(c.prefix), "0", 0);
    c.prefix[strlen(c.prefix) - 2] = '\0';
    assert_int_equal(scep_store_list_expiring(st, now, now + 2000, exp_cb, &c), 0);
    /* s[0] (now+1000, challenge "vpn") only: s[1] revoked, s[2] renewed
     * by s[5], s[3] expired, s[4] and s[5] beyond the window. */
    assert_int_equal(c.n, 1);
    assert_string_equal(c.serials[0], s[0]);
    assert_string_equal(c.profiles[0], "vpn");
    memset(&c.serials, 0, sizeof(c.serials));
    c.n = 0;
    assert_int_equal(scep_store_list_expiring(st, now, now + 600000, exp_cb, &c), 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.serials[0], s[0]);
    assert_string_equal(c.serials[1], s[5]);
    assert_int_equal(scep_store_list_expiring(st, now, now - 1, exp_cb, &c), SCEP_ERR_INVALID_ARG);
    if (g_private) {
        struct scep_cert_counts n;

        assert_int_equal(scep_store_count_certs(st, now, 2000, &n), 0);
        assert_true(n.revoked >= 1 && n.expired >= 1 && n.expiring >= 1);
    }
    scep_store_close(st);
}

/* A notice is claimed once; a failed one is retaken at its retry time
 * (not before), by anyone; only the claim's holder records its end; a
 * sent one is never claimed again; all of it survives a reopen. */
static void test_notice_claim_retry_restart(void **state)
{
    struct scep_store *st = open_store();
    struct scep_notice_info *ni = NULL;
    struct scep_notice_key k;
    char serial[64];
    int64_t a = 0, now = 2000000000;

    (void)state;
    serial_of(serial, sizeof(serial), 1);
    k.serial = serial;
    k.threshold = 7 * 86400;
    k.channel = "webhook";
    assert_int_equal(scep_store_get_notice(st, &k, &ni), SCEP_ERR_NOT_FOUND);
    assert_int_equal(scep_store_notice_claim(st, &k, now + 100, "a", now, now + 900, &a), 0);
    assert_int_equal(a, 1);
    /* Held: neither a second claimer nor the first again. */
    assert_int_equal(scep_store_notice_claim(st, &k, now + 100, "b", now + 1, now + 901, &a),
                     SCEP_ERR_EXISTS);
    assert_int_equal(scep_store_notice_claim(st, &k, now + 100, "a", now + 1, now + 901, &a),
                     SCEP_ERR_EXISTS);
    /* Another key (channel) is another notice. */
    k.channel = "email";
    assert_int_equal(scep_store_notice_claim(st, &k, now + 100, "b", now, now + 900, &a), 0);
    k.channel = "webhook";
    /* Only the holder and its attempt may finish. */
    assert_int_equal(scep_store_notice_finish(st, &k, "b", 1, 0, now + 2, now + 60, "x"),
                     SCEP_ERR_NOT_FOUND);
    assert_int_equal(scep_store_notice_finish(st, &k, "a", 2, 0, now + 2, now + 60, "x"),
                     SCEP_ERR_NOT_FOUND);
    assert_int_equal(scep_store_notice_finish(st, &k, "a", 1, 0, now + 2, now + 60, "HTTP 503"), 0);
    scep_store_close(st);

    /* Restart: the state is kept. */
    st = open_store();
    assert_int_equal(scep_store_get_notice(st, &k, &ni), 0);
    assert_string_equal(ni->serial, serial);
    assert_int_equal(ni->threshold, 7 * 86400);
    assert_string_equal(ni->channel, "webhook");
    assert_int_equal(ni->not_after, now + 100);
    assert_int_equal(ni->state, SCEP_NOTICE_FAILED);
    assert_int_equal(ni->attempts, 1);
    assert_string_equal(ni->claimed_by, "a");
    assert_int_equal(ni->next_attempt_at, now + 60);
    assert_string_equal(ni->last_error, "HTTP 503");
    scep_notice_info_free(ni);
    ni = NULL;
    /* Not before the retry time; then anyone. */
    assert_int_equal(scep_store_notice_claim(st, &k, now + 100, "b", now + 59, now + 959, &a),
                     SCEP_ERR_EXISTS);
    assert_int_equal(scep_store_notice_claim(st, &k, now + 100, "b", now + 60, now + 960, &a), 0);
    assert_int_equal(a, 2);
    /* The first claimer's late outcome is refused. */
    assert_int_equal(scep_store_notice_finish(st, &k, "a", 1, 1, now + 61, 0, NULL),
                     SCEP_ERR_NOT_FOUND);
    assert_int_equal(scep_store_notice_finish(st, &k, "b", 2, 1, now + 61, 0, NULL), 0);
    scep_store_close(st);

    st = open_store();
    assert_int_equal(scep_store_get_notice(st, &k, &ni), 0);
    assert_int_equal(ni->state, SCEP_NOTICE_SENT);
    assert_int_equal(ni->sent_at, now + 61);
    assert_int_equal(ni->attempts, 2);
    assert_null(ni->last_error);
    scep_notice_info_free(ni);
    /* Sent is final, however late one asks. */
    assert_int_equal(scep_store_notice_claim(st, &k, now + 100, "c", now + 99999, now + 199999, &a),
                     SCEP_ERR_EXISTS);
    /* An abandoned claim (lease run out) is taken over. */
    k.channel = "email";
    assert_int_equal(scep_store_notice_claim(st, &k, now + 100, "c", now + 899, now + 1799, &a),
                     SCEP_ERR_EXISTS);
    assert_int_equal(scep_store_notice_claim(st, &k, now + 100, "c", now + 900, now + 1800, &a), 0);
    assert_int_equal(a, 2);
    assert_int_equal(scep_store_notice_finish(st, &k, "b", 1, 1, now + 901, 0, NULL),
                     SCEP_ERR_NOT_FOUND);
    /* Arguments the contract names. */
    assert_int_equal(scep_store_notice_claim(st, &k, now, "c", now, now, &a), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_notice_claim(st, &k, now, NULL, now, now + 1, &a),
                     SCEP_ERR_INVALID_ARG);
    scep_store_close(st);
}

struct notice_racer {
    struct scep_store *st;
    const struct scep_notice_key *k;
    pthread_barrier_t *go;
    char name[16];
    int rc;
};

static void *notice_race(void *arg)
{
    struct notice_racer *r = arg;
    int64_t a = 0;

    pthread_barrier_wait(r->go);
    r->rc = scep_store_notice_claim(r->st, r->k, 2000000100, r->name, 2000000000, 2000000900, &a);
    return NULL;
}

/* RACERS connections claim one notice at the same moment, new and then
 * (after a failure) its retry: each time one wins, the others are told
 * it is taken (not a busy or store error). */
static void test_notice_claim_race(void **state)
{
    struct notice_racer rs[RACERS];
    pthread_t th[RACERS];
    pthread_barrier_t go;
    struct scep_notice_key k;
    char serial[64];
    int i, round, wins, winner = -1;

    (void)state;
    serial_of(serial, sizeof(serial), 1);
    k.serial = serial;
    k.threshold = 86400;
    k.channel = "webhook";
    memset(rs, 0, sizeof(rs));
    for (i = 0; i < RACERS; i++) {
        rs[i].st = open_store();
        rs[i].k = &k;
        snprintf(rs[i].name, sizeof(rs[i].name), "node%d", i);
    }
    for (round = 0; round < 2; round++) {
        assert_int_equal(pthread_barrier_init(&go, NULL, RACERS), 0);
        for (i = 0; i < RACERS; i++) {
            rs[i].go = &go;
            assert_int_equal(pthread_create(&th[i], NULL, notice_race, &rs[i]), 0);
        }
        for (i = 0; i < RACERS; i++)
            pthread_join(th[i], NULL);
        pthread_barrier_destroy(&go);
        wins = 0;
        for (i = 0; i < RACERS; i++) {
            if (rs[i].rc == 0) {
                wins++;
                winner = i;
            } else {
                assert_int_equal(rs[i].rc, SCEP_ERR_EXISTS);
            }
        }
        assert_int_equal(wins, 1);
        /* The winner fails, due at once: the second round races the retry. */
        assert_int_equal(scep_store_notice_finish(rs[winner].st, &k, rs[winner].name, round + 1, 0,
                                                  2000000000, 2000000000, "x"),
                         0);
    }
    for (i = 0; i < RACERS; i++)
        scep_store_close(rs[i].st);
}

/* --- API bearer tokens --------------------------------------------- */

/* A token's hash unique to this run, test and n: SHA-256 of a name. */
static void tok_hash(char out[65], int n)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[32];
    char name[64];
    unsigned int mdlen = 0;
    size_t i;

    uniq(name, sizeof(name), "TOK", n);
    assert_true(EVP_Digest(name, strlen(name), md, &mdlen, EVP_sha256(), NULL));
    for (i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0x0f];
    }
    out[64] = '\0';
}

struct tok_seen {
    const char *name;
    int found;
    int64_t last_id;
    int ordered;
};

static int tok_list_cb(const struct scep_token_info *ti, void *arg)
{
    struct tok_seen *s = arg;

    if (ti->id <= s->last_id)
        s->ordered = 0;
    s->last_id = ti->id;
    if (strcmp(ti->name, s->name) == 0)
        s->found++;
    return 0;
}

/* A token round-trips by hash and by name; name and hash are unique;
 * its add and revoke each write their audit event; revoking twice is
 * EXISTS; touch only moves forward; listing is oldest first. */
static void test_token_life_cycle(void **state)
{
    struct scep_store *st = open_store();
    struct scep_token_info ti, *got = NULL;
    struct scep_audit_event ev = {.kind = "token-new", .actor = g_actor};
    struct tok_seen seen;
    char hash[65], other[65], name[64], name2[64];
    int64_t mark = audit_mark(st), id = 0, id2 = 0;

    (void)state;
    tok_hash(hash, 1);
    tok_hash(other, 2);
    uniq(name, sizeof(name), "N", 1);
    uniq(name2, sizeof(name2), "N", 2);
    memset(&ti, 0, sizeof(ti));
    ti.name = name;
    ti.role = "operator";
    ti.hash = hash;
    ti.created_at = 1000;
    ti.expires_at = FAR_FUTURE;
    ti.created_by = g_actor;
    ti.revoked_at = 7;   /* ignored on input */
    ti.last_used_at = 9; /* ignored on input */
    assert_int_equal(scep_store_add_token(st, &ti, &ev, &id), 0);
    assert_true(id > 0);
    assert_int_equal(scep_store_get_token_by_hash(st, hash, &got), 0);
    assert_int_equal(got->id, id);
    assert_string_equal(got->name, name);
    assert_string_equal(got->role, "operator");
    assert_string_equal(got->hash, hash);
    assert_int_equal(got->created_at, 1000);
    assert_int_equal(got->expires_at, FAR_FUTURE);
    assert_int_equal(got->revoked_at, 0);
    assert_int_equal(got->last_used_at, 0);
    assert_string_equal(got->created_by, g_actor);
    scep_token_info_free(got);
    got = NULL;
    assert_int_equal(scep_store_get_token_by_name(st, name, &got), 0);
    assert_int_equal(got->id, id);
    scep_token_info_free(got);
    got = NULL;
    /* Same name (other hash), same hash (other name): refused, nothing
     * written. */
    ti.hash = other;
    assert_int_equal(scep_store_add_token(st, &ti, &ev, NULL), SCEP_ERR_EXISTS);
    ti.hash = hash;
    ti.name = name2;
    assert_int_equal(scep_store_add_token(st, &ti, &ev, NULL), SCEP_ERR_EXISTS);
    assert_int_equal(audit_since(st, mark), 1);
    /* A second one, no expiry: ids grow, the list is oldest first. */
    ti.hash = other;
    ti.expires_at = 0;
    ti.created_at = 0; /* now */
    assert_int_equal(scep_store_add_token(st, &ti, NULL, &id2), 0);
    assert_true(id2 > id);
    assert_int_equal(scep_store_get_token_by_name(st, name2, &got), 0);
    assert_int_equal(got->expires_at, 0);
    assert_true(got->created_at > 1000);
    scep_token_info_free(got);
    got = NULL;
    memset(&seen, 0, sizeof(seen));
    seen.name = name2;
    seen.ordered = 1;
    assert_int_equal(scep_store_list_tokens(st, tok_list_cb, &seen), 0);
    assert_int_equal(seen.found, 1);
    assert_true(seen.ordered);
    /* Touch: forward only; unknown ids are NOT_FOUND. */
    assert_int_equal(scep_store_touch_token(st, id, 5000), 0);
    assert_int_equal(scep_store_touch_token(st, id, 4000), 0);
    assert_int_equal(scep_store_get_token_by_hash(st, hash, &got), 0);
    assert_int_equal(got->last_used_at, 5000);
    scep_token_info_free(got);
    got = NULL;
    assert_int_equal(scep_store_touch_token(st, INT64_MAX, 5000), SCEP_ERR_NOT_FOUND);
    /* Revoke: once, with its event; twice EXISTS; unknown NOT_FOUND. */
    mark = audit_mark(st);
    ev.kind = "token-revoke";
    assert_int_equal(scep_store_revoke_token(st, name, 6000, &ev), 0);
    assert_int_equal(scep_store_revoke_token(st, name, 7000, &ev), SCEP_ERR_EXISTS);
    assert_int_equal(scep_store_revoke_token(st, "no-such-token-anywhere", 0, &ev),
                     SCEP_ERR_NOT_FOUND);
    assert_int_equal(audit_since(st, mark), 1);
    assert_int_equal(scep_store_get_token_by_hash(st, hash, &got), 0);
    assert_int_equal(got->revoked_at, 6000);
    scep_token_info_free(got);
    got = NULL;
    /* Absent, malformed and invalid. */
    assert_int_equal(scep_store_get_token_by_hash(st, "ABC", &got), SCEP_ERR_NOT_FOUND);
    assert_int_equal(scep_store_get_token_by_name(st, "no-such-token-anywhere", &got),
                     SCEP_ERR_NOT_FOUND);
    assert_null(got);
    ti.hash = "not hex";
    assert_int_equal(scep_store_add_token(st, &ti, NULL, NULL), SCEP_ERR_INVALID_ARG);
    ti.hash = other;
    ti.name = "";
    assert_int_equal(scep_store_add_token(st, &ti, NULL, NULL), SCEP_ERR_INVALID_ARG);
    ti.name = name2;
    ti.role = NULL;
    assert_int_equal(scep_store_add_token(st, &ti, NULL, NULL), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_add_token(NULL, &ti, NULL, NULL), SCEP_ERR_INVALID_ARG);
    assert_audit_intact(st);
    scep_store_close(st);
}

/* --- the inventory (schema 7) ------------------------------------- */

/* Lowercase hex SHA-256 of len bytes at p into out (65 bytes). */
static void sha256_hex(const unsigned char *p, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;

    assert_int_equal(EVP_Digest(p, len, md, &n, EVP_sha256(), NULL), 1);
    for (unsigned int i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Bytes unique to this run, test and n, standing for an external
 * certificate's DER (the store does not parse DER). */
static void unique_der(unsigned char *buf, size_t len, int n)
{
    memset(buf, 0, len);
    buf[0] = 0x30;
    snprintf((char *)buf + 2, len - 2, "%s-%d-%d", g_run, g_test, n);
}

/* The inventory columns round-trip; the store computes the fingerprint
 * and finds the record by it; the defaults are profile "", source
 * "scep", not superseded. */
static void test_inventory_round_trip(void **state)
{
    struct scep_store *st = open_store();
    char serial[40], serial2[40], fp[65];
    struct scep_cert_info ci, *got = NULL;
    unsigned char der[48];

    (void)state;
    serial_of(serial, sizeof(serial), 1);
    unique_der(der, sizeof(der), 1);
    ci = cert(serial, "CN=inv", NULL);
    ci.der = der;
    ci.der_len = sizeof(der);
    ci.profile = "vpn";
    ci.fingerprint = "ignored on input";
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);
    assert_int_equal(scep_store_get_cert(st, serial, &got), 0);
    sha256_hex(der, sizeof(der), fp);
    assert_string_equal(got->fingerprint, fp);
    assert_string_equal(got->profile, "vpn");
    assert_string_equal(got->source, "scep");
    assert_null(got->seen_at);
    assert_null(got->superseded_by);
    assert_int_equal(got->superseded_at, 0);
    scep_cert_info_free(got);
    got = NULL;
    /* Either case finds it. */
    for (size_t i = 0; i < 64; i++)
        fp[i] = (char)toupper((unsigned char)fp[i]);
    assert_int_equal(scep_store_get_cert_by_fingerprint(st, fp, &got), 0);
    assert_string_equal(got->serial, serial);
    scep_cert_info_free(got);
    got = NULL;
    fp[0] = fp[0] == 'A' ? 'B' : 'A';
    assert_int_equal(scep_store_get_cert_by_fingerprint(st, fp, &got), SCEP_ERR_NOT_FOUND);
    assert_int_equal(scep_store_get_cert_by_fingerprint(st, "xyz", &got), SCEP_ERR_INVALID_ARG);
    /* NULL profile and source read back as the defaults. */
    serial_of(serial2, sizeof(serial2), 2);
    ci = cert(serial2, "CN=inv2", NULL);
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);
    assert_int_equal(scep_store_get_cert(st, serial2, &got), 0);
    assert_string_equal(got->profile, "");
    assert_string_equal(got->source, "scep");
    scep_cert_info_free(got);
    /* An unknown source, or an external one claiming an issuer of ours
     * or a revocation, is refused. */
    ci = cert(serial2, "CN=inv2", NULL);
    ci.source = "mail";
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), SCEP_ERR_INVALID_ARG);
    ci.source = SCEP_CERT_SOURCE_IMPORT;
    ci.issuer_fp = "aa";
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), SCEP_ERR_INVALID_ARG);
    scep_store_close(st);
}

/* A renewal marks the old certificate superseded, pointing at the new
 * one, in the insert's transaction: an insert that fails (here a bulk
 * insert whose second row is refused after the first marked its
 * predecessor) leaves the old one as it was. */
static void test_supersede_in_insert(void **state)
{
    struct scep_store *st = open_store();
    char old[40], renewal[40], again[40], other[40];
    struct scep_cert_info ci, batch[2], *got = NULL;
    int64_t now = (int64_t)time(NULL);

    (void)state;
    serial_of(old, sizeof(old), 1);
    serial_of(renewal, sizeof(renewal), 2);
    serial_of(again, sizeof(again), 3);
    serial_of(other, sizeof(other), 4);
    ci = cert(old, "CN=sup", NULL);
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);
    ci = cert(other, "CN=other", NULL);
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);

    /* Refused batch: nothing of it stays, the mark included. */
    batch[0] = cert(renewal, "CN=sup", NULL);
    batch[0].renewed_serial = old;
    batch[0].issued_at = now;
    batch[1] = cert(other, "CN=dup", NULL); /* a serial already stored */
    assert_int_equal(scep_store_insert_certs(st, batch, 2, NULL), SCEP_ERR_EXISTS);
    assert_int_equal(scep_store_get_cert(st, renewal, &got), SCEP_ERR_NOT_FOUND);
    assert_int_equal(scep_store_get_cert(st, old, &got), 0);
    assert_null(got->superseded_by);
    scep_cert_info_free(got);
    got = NULL;

    ci = cert(renewal, "CN=sup", NULL);
    ci.renewed_serial = old;
    ci.issued_at = now;
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);
    assert_int_equal(scep_store_get_cert(st, old, &got), 0);
    assert_string_equal(got->superseded_by, renewal);
    assert_int_equal(got->superseded_at, now);
    assert_int_equal(got->status, SCEP_CERT_VALID);
    scep_cert_info_free(got);
    got = NULL;
    assert_int_equal(scep_store_get_cert(st, renewal, &got), 0);
    assert_null(got->superseded_by);
    scep_cert_info_free(got);
    got = NULL;
    /* A second renewal of the same old certificate points it at the
     * newest; a renewal of a serial never stored changes nothing. */
    ci = cert(again, "CN=sup", NULL);
    ci.renewed_serial = old;
    ci.issued_at = now + 5;
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);
    assert_int_equal(scep_store_get_cert(st, old, &got), 0);
    assert_string_equal(got->superseded_by, again);
    assert_int_equal(got->superseded_at, now + 5);
    scep_cert_info_free(got);
    scep_store_close(st);
}

/* The inventory filters, each alone, on this test's rows (narrowed by
 * serial prefix, itself a filter under test). */
static void test_list_inventory_filters(void **state)
{
    struct scep_store *st = open_store();
    char s[6][40], prefix[40], subj[96], lower[96];
    struct scep_cert_info ci;
    struct scep_cert_filter f;
    struct collected c;
    int64_t now = (int64_t)time(NULL);
    int i;

    (void)state;
    uniq(prefix, sizeof(prefix), "0", 0);
    prefix[strlen(prefix) - 2] = '\0';
    for (i = 0; i < 6; i++)
        serial_of(s[i], sizeof(s[i]), i + 1);
    /* 0: default profile, issued first, SANs with LIKE's specials. */
    snprintf(subj, sizeof(subj), "CN=Device-%s,O=Example Corp", g_run);
    ci = cert(s[0], subj, NULL);
    ci.sans = "DNS:dev_1.example, email:100%@example.com";
    ci.issued_at = now - 600;
    ci.not_after = now + 300 * 86400;
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);
    /* 1: profile vpn, expires in 3 days. */
    ci = cert(s[1], "CN=gw1,O=VPN \"quoted\"", NULL);
    ci.profile = "vpn";
    ci.sans = "DNS:gw1.vpn.example";
    ci.issued_at = now - 500;
    ci.not_after = now + 3 * 86400;
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);
    /* 2: renews 1 (1 becomes superseded), expires in 10 days. */
    ci = cert(s[2], "CN=gw1,O=VPN \"quoted\"", NULL);
    ci.profile = "vpn";
    ci.renewed_serial = s[1];
    ci.issued_at = now - 400;
    ci.not_after = now + 10 * 86400;
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);
    /* 3 and 4: external (import, tls), expiring in 1 and 20 days. */
    for (i = 3; i <= 4; i++) {
        ci = cert(s[i], i == 3 ? "CN=ext.example" : "CN=tls.example", NULL);
        ci.source = i == 3 ? SCEP_CERT_SOURCE_IMPORT : SCEP_CERT_SOURCE_TLS;
        ci.seen_at = i == 3 ? "/etc/ssl/ext.pem" : "tls.example:443";
        ci.issued_at = now - 300 + i;
        ci.not_after = now + (i == 3 ? 1 : 20) * 86400;
        assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);
    }
    /* 5: issued last, short subject. */
    ci = cert(s[5], "CN=z", NULL);
    ci.issued_at = now - 100;
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);

    memset(&f, 0, sizeof(f));
    memset(&c, 0, sizeof(c));
    f.status = -1;
    f.include_expired = 1;
    f.serial_prefix = prefix;
    list(st, &f, &c);
    assert_int_equal(c.n, 6);
    assert_string_equal(c.serials[0], s[5]); /* newest first */
    assert_string_equal(c.serials[5], s[0]);
    /* A longer prefix: one row; a prefix ending in F bounds correctly. */
    f.serial_prefix = s[2];
    list(st, &f, &c);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.serials[0], s[2]);
    f.serial_prefix = "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF";
    list(st, &f, &c);
    assert_int_equal(c.n, 0);
    f.serial_prefix = prefix;

    /* Subject substring, case-insensitively, long (trigram) and short. */
    snprintf(lower, sizeof(lower), "device-%s,o=example", g_run);
    for (i = 0; lower[i] != '\0'; i++)
        lower[i] = (char)tolower((unsigned char)lower[i]);
    f.subject_like = lower;
    list(st, &f, &c);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.serials[0], s[0]);
    f.subject_like = "=z";
    list(st, &f, &c);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.serials[0], s[5]);
    f.subject_like = "\"quoted\""; /* the query language's quote, matched as text */
    list(st, &f, &c);
    assert_int_equal(c.n, 2);
    f.subject_like = NULL;
    /* SAN substring; '%' and '_' are plain characters. */
    f.san_like = "100%@";
    list(st, &f, &c);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.serials[0], s[0]);
    f.san_like = "dev_1";
    list(st, &f, &c);
    assert_int_equal(c.n, 1);
    f.san_like = "dev%1";
    list(st, &f, &c);
    assert_int_equal(c.n, 0);
    f.san_like = "GW1.VPN";
    list(st, &f, &c);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.serials[0], s[1]);
    f.san_like = NULL;
    /* Profile. */
    f.profile = "vpn";
    list(st, &f, &c);
    assert_int_equal(c.n, 2);
    f.profile = "";
    list(st, &f, &c);
    assert_int_equal(c.n, 4); /* default: 0, 5 and the externals */
    f.profile = NULL;
    /* Issued after / before. */
    f.issued_after = now - 450;
    f.issued_before = now - 150;
    list(st, &f, &c);
    assert_int_equal(c.n, 3); /* 2, 3, 4 */
    assert_string_equal(c.serials[0], s[4]);
    assert_string_equal(c.serials[2], s[2]);
    f.issued_after = f.issued_before = 0;
    /* Superseded, and not. */
    f.superseded = SCEP_FILTER_ONLY;
    list(st, &f, &c);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.serials[0], s[1]);
    f.superseded = SCEP_FILTER_NOT;
    list(st, &f, &c);
    assert_int_equal(c.n, 5);
    f.superseded = SCEP_FILTER_ANY;
    f.superseded_before = now - 399;
    list(st, &f, &c);
    assert_int_equal(c.n, 1);
    f.superseded_before = now - 400; /* superseded exactly then: not before it */
    list(st, &f, &c);
    assert_int_equal(c.n, 0);
    f.superseded_before = 0;
    /* Sources. */
    f.sources = SCEP_CERT_SRC_EXTERNAL;
    list(st, &f, &c);
    assert_int_equal(c.n, 2);
    f.sources = SCEP_CERT_SRC_TLS;
    list(st, &f, &c);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.serials[0], s[4]);
    f.sources = SCEP_CERT_SRC_SCEP;
    list(st, &f, &c);
    assert_int_equal(c.n, 4);
    f.sources = 0;
    /* Expiring within 15 days, soonest first, externals included. */
    f.status = SCEP_CERT_VALID;
    f.include_expired = 0;
    f.expiring_within = 15 * 86400;
    f.order = SCEP_CERT_ORDER_EXPIRY;
    list(st, &f, &c);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.serials[0], s[3]); /* 1 day */
    assert_string_equal(c.serials[1], s[1]); /* 3 days */
    assert_string_equal(c.serials[2], s[2]); /* 10 days */
    f.limit = 2;
    list(st, &f, &c);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.serials[1], s[1]);
    /* Out of range. */
    f.limit = 0;
    f.order = 7;
    assert_int_equal(scep_store_list_certs(st, &f, collect_cb, &c), SCEP_ERR_INVALID_ARG);
    f.order = 0;
    f.serial_prefix = "0x12";
    assert_int_equal(scep_store_list_certs(st, &f, collect_cb, &c), SCEP_ERR_INVALID_ARG);
    f.serial_prefix = NULL;
    f.sources = 64;
    assert_int_equal(scep_store_list_certs(st, &f, collect_cb, &c), SCEP_ERR_INVALID_ARG);
    scep_store_close(st);
}

/* An external certificate is stored once under the key its fingerprint
 * gives, and the store refuses to revoke it. */
static void test_external_dedupe(void **state)
{
    struct scep_store *st = open_store();
    unsigned char der[48];
    char fp[65], key[SCEP_EXTERNAL_KEY_LEN];
    struct scep_cert_info ci, *got = NULL;
    struct scep_audit_event ev = {.kind = "import", .actor = g_actor};
    struct scep_cert_filter f;
    struct collected c;
    int64_t mark = audit_mark(st);

    (void)state;
    unique_der(der, sizeof(der), 1);
    sha256_hex(der, sizeof(der), fp);
    assert_int_equal(scep_store_external_key(fp, key), 0);
    assert_true(strlen(key) >= 2 * SCEP_EXTERNAL_KEY_BYTES - 1);
    assert_true(strlen(key) <= 2 * SCEP_EXTERNAL_KEY_BYTES + 2);
    ci = cert(key, "CN=external", NULL);
    ci.der = der;
    ci.der_len = sizeof(der);
    ci.source = SCEP_CERT_SOURCE_IMPORT;
    ci.seen_at = "/srv/ext.pem";
    ev.serial = key;
    assert_int_equal(scep_store_insert_cert(st, &ci, &ev), 0);
    assert_int_equal(scep_store_insert_cert(st, &ci, &ev), SCEP_ERR_EXISTS);
    assert_int_equal(audit_since(st, mark), 1);
    assert_int_equal(scep_store_get_cert_by_fingerprint(st, fp, &got), 0);
    assert_string_equal(got->serial, key);
    assert_string_equal(got->seen_at, "/srv/ext.pem");
    assert_null(got->issuer_fp);
    scep_cert_info_free(got);
    assert_int_equal(scep_store_revoke(st, key, 1, 0, NULL), SCEP_ERR_POLICY);
    memset(&f, 0, sizeof(f));
    memset(&c, 0, sizeof(c));
    f.status = -1;
    f.sources = SCEP_CERT_SRC_IMPORT;
    f.serial_prefix = key;
    list(st, &f, &c);
    assert_int_equal(c.n, 1);
    /* Keys: 64 hex digits in, the serial convention out. */
    assert_int_equal(scep_store_external_key("00ff", key), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_external_key(
                         "8000000000000000000000000000000000000000000000000000000000000000", key),
                     0);
    assert_int_equal(strncmp(key, "0080", 4), 0);
    assert_int_equal(scep_store_external_key(
                         "0f00000000000000000000000000000000000000000000000000000000000001", key),
                     0);
    assert_int_equal(strlen(key), 2 * SCEP_EXTERNAL_KEY_BYTES);
    assert_int_equal(strncmp(key, "0F00", 4), 0);
    assert_audit_intact(st);
    scep_store_close(st);
}

/*
 * Substring search on a store large enough for the SQLite backend to
 * look up only the rare parts of a text (sqlite_search.c): the answer
 * is still exactly the rows containing the whole text, also when a row
 * holds every rare part but not the text itself.
 */
static void test_list_search_planned(void **state)
{
    struct scep_store *st = open_store();
    struct scep_cert_filter f;
    struct collected c;
    char serial[40], subj[160], text[160], a[40], b[40];
    int i;

    (void)state;
    for (i = 0; i < 120; i++) {
        snprintf(subj, sizeof(subj), "CN=node-%04d.fleet-%s.example,OU=site-%02d", i, g_run,
                 i % 10);
        put(st, serial, sizeof(serial), 500 + i, NULL, subj, 4102444800, 1000 + i);
    }
    /* a: every rare part of the text, not the text; b: the text. */
    snprintf(subj, sizeof(subj), "CN=node-9042.fleet-%s.example,OU=site-02,OU=site-77", g_run);
    put(st, a, sizeof(a), 700, NULL, subj, 4102444800, 2000);
    snprintf(subj, sizeof(subj), "CN=node-9042.fleet-%s.example,OU=site-77", g_run);
    put(st, b, sizeof(b), 701, NULL, subj, 4102444800, 2001);

    memset(&f, 0, sizeof(f));
    memset(&c, 0, sizeof(c));
    f.status = -1;
    f.include_expired = 1;
    snprintf(text, sizeof(text), "NODE-0042.fleet-%s.example,ou=site-02", g_run);
    f.subject_like = text;
    list(st, &f, &c);
    assert_int_equal(c.n, 1);
    snprintf(text, sizeof(text), "node-9042.fleet-%s.example,ou=site-77", g_run);
    list(st, &f, &c);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.serials[0], b);
    snprintf(text, sizeof(text), "fleet-%s.example,ou=site-07", g_run);
    list(st, &f, &c);
    assert_int_equal(c.n, 12); /* 7, 17, ... 117 */
    snprintf(text, sizeof(text), "node-0042.fleet-%s.example,ou=site-03", g_run);
    list(st, &f, &c);
    assert_int_equal(c.n, 0);
    (void)a;
    scep_store_close(st);
}

/* Keyset paging: pages of two through rows that share keys give every
 * row once, in order, for both listing orders. */
static void test_list_keyset_pages(void **state)
{
    struct scep_store *st = open_store();
    struct scep_cert_filter f;
    struct collected c;
    char s[6][40], seen[6][40], subj[64];
    int order, i, got, pages;
    int64_t key;

    (void)state;
    snprintf(subj, sizeof(subj), "CN=keyset-%s", g_run);
    /* issued_at 1000, 1000, 1000, 900, 900, 800; not_after the same
     * shape, rising. */
    for (i = 0; i < 6; i++)
        put(st, s[i], sizeof(s[i]), 800 + i, NULL, subj,
            4102444800 + (i < 3   ? 0
                          : i < 5 ? 1
                                  : 2),
            i < 3   ? 1000
            : i < 5 ? 900
                    : 800);
    for (order = SCEP_CERT_ORDER_ISSUED; order <= SCEP_CERT_ORDER_EXPIRY; order++) {
        memset(&f, 0, sizeof(f));
        f.status = -1;
        f.include_expired = 1;
        f.subject_like = subj + 3;
        f.order = order;
        f.limit = 2;
        got = 0;
        for (pages = 0; pages < 10; pages++) {
            memset(&c, 0, sizeof(c));
            list(st, &f, &c);
            assert_true(got + c.n <= 6); /* no row twice */
            for (i = 0; i < c.n; i++)
                snprintf(seen[got++], sizeof(seen[0]), "%s", c.serials[i]);
            if (c.n < 2)
                break;
            f.after_serial = seen[got - 1];
            for (i = 0; i < 6; i++)
                if (strcmp(s[i], seen[got - 1]) == 0)
                    break;
            assert_true(i < 6);
            key = order == SCEP_CERT_ORDER_EXPIRY ? 4102444800 + (i < 3   ? 0
                                                                  : i < 5 ? 1
                                                                          : 2)
                                                  : (i < 3   ? 1000
                                                     : i < 5 ? 900
                                                             : 800);
            f.after_key = key;
        }
        assert_int_equal(got, 6);
        /* Serials ascend within a key; every row once. */
        for (i = 0; i < 6; i++)
            assert_string_equal(seen[i], s[i]);
    }
    f.after_serial = "";
    assert_int_equal(scep_store_list_certs(st, &f, collect_cb, &c), SCEP_ERR_INVALID_ARG);
    scep_store_close(st);
}

/* The bulk insert: all rows and the event in one transaction, or none. */
static void test_insert_bulk(void **state)
{
    struct scep_store *st = open_store();
    char s[3][40];
    struct scep_cert_info batch[3], *got = NULL;
    struct scep_audit_event ev = {.kind = "bulk", .actor = g_actor};
    int64_t mark = audit_mark(st);
    int i;

    (void)state;
    for (i = 0; i < 3; i++) {
        serial_of(s[i], sizeof(s[i]), i + 1);
        batch[i] = cert(s[i], "CN=bulk", NULL);
    }
    batch[2].status = 9;
    assert_int_equal(scep_store_insert_certs(st, batch, 3, &ev), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_get_cert(st, s[0], &got), SCEP_ERR_NOT_FOUND);
    batch[2].status = SCEP_CERT_VALID;
    assert_int_equal(scep_store_insert_certs(st, batch, 3, &ev), 0);
    for (i = 0; i < 3; i++) {
        assert_int_equal(scep_store_get_cert(st, s[i], &got), 0);
        scep_cert_info_free(got);
    }
    assert_int_equal(audit_since(st, mark), 1);
    assert_int_equal(scep_store_insert_certs(st, NULL, 0, NULL), 0);
    scep_store_close(st);
}

/* What one profile's group counted (scep_store_count_certs_by_group). */
struct group_find {
    const char *profile;
    struct scep_cert_group_counts scep, import;
    int calls;
};

static int group_cb(const struct scep_cert_group_counts *g, void *arg)
{
    struct group_find *f = arg;

    f->calls++;
    if (strcmp(g->profile, f->profile) != 0)
        return 0;
    if (strcmp(g->source, SCEP_CERT_SOURCE_SCEP) == 0)
        f->scep = *g;
    else if (strcmp(g->source, SCEP_CERT_SOURCE_IMPORT) == 0)
        f->import = *g;
    return 0;
}

static int group_stop(const struct scep_cert_group_counts *g, void *arg)
{
    (void)g;
    (void)arg;
    return 42;
}

/* Statistics: a profile's certificates by state in its (source, profile)
 * group, issuance per bucket (ours only), expiry per bucket (valid,
 * unsuperseded, any source), bucket edges, and refused arguments. */
static void test_stats(void **state)
{
    struct scep_store *st = open_store();
    const int64_t T = 3500000000LL, DAY = 86400, WEEK = 7 * 86400;
    char s[5][40], profile[40], fp[65], key[SCEP_EXTERNAL_KEY_LEN];
    unsigned char der[48];
    struct scep_cert_info ci;
    struct group_find f;
    int64_t issued[3] = {-1, -1, -1}, expiry[3] = {-1, -1, -1}, untouched = 7;
    int i;

    (void)state;
    uniq(profile, sizeof(profile), "P", 0);
    for (i = 0; i < 5; i++) {
        serial_of(s[i], sizeof(s[i]), i + 1);
        ci = cert(s[i], "CN=stats", "I");
        ci.profile = profile;
        ci.issued_at = i == 0 ? T + 10 : i == 1 ? T + DAY + 5 : T + 2 * DAY + 1;
        ci.not_after = i == 0   ? T + 3 * DAY      /* week 0 */
                       : i == 1 ? T + 8 * DAY      /* superseded by s[2]: not counted */
                       : i == 2 ? T + WEEK * 2 - 1 /* week 1, its last second */
                       : i == 3 ? T + 1            /* revoked below: not counted */
                                : T - 1;           /* expired at T */
        if (i == 2)
            ci.renewed_serial = s[1];
        assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);
    }
    assert_int_equal(scep_store_revoke(st, s[3], 1, T, NULL), 0);
    unique_der(der, sizeof(der), 1);
    sha256_hex(der, sizeof(der), fp);
    assert_int_equal(scep_store_external_key(fp, key), 0);
    ci = cert(key, "CN=stats-ext", NULL);
    ci.der = der;
    ci.der_len = sizeof(der);
    ci.source = SCEP_CERT_SOURCE_IMPORT;
    ci.seen_at = "test";
    ci.profile = profile;
    ci.issued_at = T + 20;      /* not ours: no issuance */
    ci.not_after = T + 2 * DAY; /* week 0 */
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);

    memset(&f, 0, sizeof(f));
    f.profile = profile;
    assert_int_equal(scep_store_count_certs_by_group(st, T, group_cb, &f), 0);
    assert_true(f.calls >= 2);
    assert_int_equal(f.scep.valid, 2); /* s[0], s[2] */
    assert_int_equal(f.scep.superseded, 1);
    assert_int_equal(f.scep.revoked, 1);
    assert_int_equal(f.scep.expired, 1);
    assert_int_equal(f.import.valid, 1);
    assert_int_equal(f.import.superseded + f.import.revoked + f.import.expired, 0);
    assert_int_equal(scep_store_count_certs_by_group(st, T, group_stop, NULL), 42);

    assert_int_equal(scep_store_cert_histogram(st, SCEP_HIST_ISSUED, T, DAY, 3, issued), 0);
    assert_int_equal(scep_store_cert_histogram(st, SCEP_HIST_EXPIRY, T, WEEK, 3, expiry), 0);
    /* A shared database may hold other runs' rows in these far-off
     * windows only if they chose the same times; a private one is
     * exact. */
    if (g_private) {
        assert_int_equal(issued[0], 1);
        assert_int_equal(issued[1], 1);
        assert_int_equal(issued[2], 3);
        assert_int_equal(expiry[0], 2); /* s[0] and the external one */
        assert_int_equal(expiry[1], 1); /* s[2] */
        assert_int_equal(expiry[2], 0);
    } else {
        assert_true(issued[0] >= 1 && issued[1] >= 1 && issued[2] >= 3);
        assert_true(expiry[0] >= 2 && expiry[1] >= 1 && expiry[2] >= 0);
    }
    /* The window's end is exclusive: one bucket of two weeks less a
     * second leaves s[2] out. */
    assert_int_equal(scep_store_cert_histogram(st, SCEP_HIST_EXPIRY, T, 2 * WEEK - 1, 1, expiry),
                     0);
    if (g_private)
        assert_int_equal(expiry[0], 2);
    assert_int_equal(scep_store_cert_histogram(st, 9, T, DAY, 1, &untouched), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_cert_histogram(st, SCEP_HIST_ISSUED, T, 0, 1, &untouched),
                     SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_cert_histogram(st, SCEP_HIST_ISSUED, T, DAY, 0, &untouched),
                     SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_cert_histogram(st, SCEP_HIST_ISSUED, T, DAY,
                                               SCEP_HIST_MAX_BUCKETS + 1, &untouched),
                     SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_cert_histogram(st, SCEP_HIST_ISSUED, -1, DAY, 1, &untouched),
                     SCEP_ERR_INVALID_ARG);
    assert_int_equal(
        scep_store_cert_histogram(st, SCEP_HIST_ISSUED, T, INT64_MAX / 2, 3, &untouched),
        SCEP_ERR_INVALID_ARG);
    assert_int_equal(untouched, 7);
    scep_store_close(st);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_open_errors, test_setup),
        cmocka_unit_test_setup(test_uri_redacted, test_setup),
        cmocka_unit_test_setup(test_open_schema_version, test_setup),
        cmocka_unit_test_setup(test_insert_get_round_trip, test_setup),
        cmocka_unit_test_setup(test_null_fields_and_required, test_setup),
        cmocka_unit_test_setup(test_duplicate_serial, test_setup),
        cmocka_unit_test_setup(test_get_by_transaction, test_setup),
        cmocka_unit_test_setup(test_one_cert_per_transaction, test_setup),
        cmocka_unit_test_setup(test_concurrent_inserts, test_setup),
        cmocka_unit_test_setup(test_list_filters, test_setup),
        cmocka_unit_test_setup(test_list_reentrant, test_setup),
        cmocka_unit_test_setup(test_revoke, test_setup),
        cmocka_unit_test_setup(test_unhold, test_setup),
        cmocka_unit_test_setup(test_crl_numbers, test_setup),
        cmocka_unit_test_setup(test_published_crls, test_setup),
        cmocka_unit_test_setup(test_audit_append_list_verify, test_setup),
        cmocka_unit_test_setup(test_audit_forged_id_and_hash, test_setup),
        cmocka_unit_test_setup(test_request_round_trip, test_setup),
        cmocka_unit_test_setup(test_request_list_by_status, test_setup),
        cmocka_unit_test_setup(test_request_decide, test_setup),
        cmocka_unit_test_setup(test_request_purge, test_setup),
        cmocka_unit_test_setup(test_request_issue, test_setup),
        cmocka_unit_test_setup(test_request_issue_transaction_taken, test_setup),
        cmocka_unit_test_setup(test_challenge_round_trip, test_setup),
        cmocka_unit_test_setup(test_challenge_consumed_by_cert, test_setup),
        cmocka_unit_test_setup(test_challenge_expired_revoked, test_setup),
        cmocka_unit_test_setup(test_challenge_consumed_by_request, test_setup),
        cmocka_unit_test_setup(test_challenge_list_purge, test_setup),
        cmocka_unit_test_setup(test_challenge_race, test_setup),
        cmocka_unit_test_setup(test_expiring_listing, test_setup),
        cmocka_unit_test_setup(test_notice_claim_retry_restart, test_setup),
        cmocka_unit_test_setup(test_notice_claim_race, test_setup),
        cmocka_unit_test_setup(test_token_life_cycle, test_setup),
        cmocka_unit_test_setup(test_inventory_round_trip, test_setup),
        cmocka_unit_test_setup(test_supersede_in_insert, test_setup),
        cmocka_unit_test_setup(test_list_inventory_filters, test_setup),
        cmocka_unit_test_setup(test_external_dedupe, test_setup),
        cmocka_unit_test_setup(test_insert_bulk, test_setup),
        cmocka_unit_test_setup(test_list_search_planned, test_setup),
        cmocka_unit_test_setup(test_list_keyset_pages, test_setup),
        cmocka_unit_test_setup(test_stats, test_setup),
    };
    char *dir = NULL, uri[600];
    int rc;

    g_uri = getenv("SCEP_STORE_URI");
    if ((g_uri == NULL || g_uri[0] == '\0') && argc > 1)
        g_uri = argv[1];
    if (g_uri == NULL || g_uri[0] == '\0') {
        dir = tu_tempdir();
        snprintf(uri, sizeof(uri), "sqlite:%s/contract.db", dir);
        g_uri = uri;
        g_private = 1;
    }
    snprintf(g_run, sizeof(g_run), "%08lX%06lX", (unsigned long)time(NULL) & 0xffffffffUL,
             (unsigned long)getpid() & 0xffffffUL);
    snprintf(g_actor, sizeof(g_actor), "contract:%s", g_run);
    printf("# store contract against %s\n", g_uri);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (dir != NULL) {
        tu_rmrf(dir);
        free(dir);
    }
    return rc;
}
