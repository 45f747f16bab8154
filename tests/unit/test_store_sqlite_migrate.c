/*
 * Unit tests of the SQLite schema and its migrations: a fresh file gets
 * every step once, files written by older versions (0, 1, 2) are
 * upgraded in place with their data kept, a step that meets what it
 * would create (an index made by hand) still succeeds, a file newer than
 * the code is refused with a reason, and the schema itself refuses
 * corrupt rows.  Old files are made from current ones by undoing the
 * later steps with raw SQL.  Every test works on a fresh database file.
 */
#include "test_store_common.h"

#include <sqlite3.h>
#include <time.h>

#include <scep/error.h>

/* The newest schema version this code knows. */
#define LATEST 8

/* Undoes steps 8 (the published CRLs) and 7 (the inventory) on a current
 * database; V7_UNDO_CERTS only the part a version 1 database (no
 * requests table) has. */
#define V7_UNDO_CERTS                                                                              \
    "DROP TABLE crls; "                                                                            \
    "DROP TRIGGER certificates_search_insert; DROP TRIGGER certificates_search_delete; "           \
    "DROP TABLE certificates_search; DROP INDEX certificates_fingerprint; "                        \
    "DROP INDEX certificates_status_not_after; DROP INDEX certificates_superseded; "               \
    "ALTER TABLE certificates DROP COLUMN profile; ALTER TABLE certificates DROP COLUMN source; "  \
    "ALTER TABLE certificates DROP COLUMN seen_at; "                                               \
    "ALTER TABLE certificates DROP COLUMN fingerprint; "                                           \
    "ALTER TABLE certificates DROP COLUMN superseded_by; "                                         \
    "ALTER TABLE certificates DROP COLUMN superseded_at; "
#define V7_UNDO V7_UNDO_CERTS "ALTER TABLE requests DROP COLUMN profile; "

/* Undoes steps 7 and 6 (tokens); step 5 (notices) is written to run
 * again over itself (IF NOT EXISTS). */
#define V6_UNDO V7_UNDO "DROP TABLE tokens; "
/* Undoes steps 7, 6 and 4 (challenges) on a current database;
 * V4_UNDO_CERTS only the part a version 1 database (no requests table)
 * has. */
#define V4_UNDO_CERTS                                                                              \
    V7_UNDO_CERTS "DROP TABLE tokens; DROP TABLE challenges; "                                     \
                  "ALTER TABLE certificates DROP COLUMN challenge_id; "
#define V4_UNDO                                                                                    \
    V4_UNDO_CERTS "ALTER TABLE requests DROP COLUMN challenge_id; "                                \
                  "ALTER TABLE requests DROP COLUMN profile; "

/* DER of a real PKCS#10 for cn; free() it. */
static unsigned char *csr_der(const char *cn, size_t *len)
{
    EVP_PKEY *k = tu_ec_key();
    X509_REQ *req = tu_csr(k, cn, "secret", "host.example");
    unsigned char *der = NULL, *copy;
    int n = i2d_X509_REQ(req, &der);

    assert_true(n > 0);
    copy = malloc((size_t)n);
    assert_non_null(copy);
    memcpy(copy, der, (size_t)n);
    *len = (size_t)n;
    OPENSSL_free(der);
    X509_REQ_free(req);
    EVP_PKEY_free(k);
    return copy;
}

/* A request record whose strings live in static or caller storage. */
static struct scep_request_info req_info(const char *txid, const char *subject, unsigned char *csr,
                                         size_t csr_len)
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
    ri.csr_der = csr;
    ri.csr_len = csr_len;
    return ri;
}

/* Adds a request for txid with an "request-pending" audit event; returns
 * its id. */
static int64_t add_req(struct scep_store *st, const char *txid, const char *subject)
{
    size_t len = 0;
    unsigned char *csr = csr_der("req", &len);
    struct scep_request_info ri = req_info(txid, subject, csr, len);
    struct scep_audit_event ev = {
        .kind = "request-pending", .actor = "scepd", .transaction_id = txid, .detail = subject};
    int64_t id = -1;

    assert_int_equal(scep_store_add_request(st, &ri, &ev, &id), 0);
    assert_true(id > 0);
    free(csr);
    return id;
}

static void assert_audit_intact(struct scep_store *st)
{
    int64_t bad = -1;

    assert_int_equal(scep_store_verify_audit(st, &bad), 0);
    assert_int_equal(bad, 0);
}

static int64_t count_index(const char *path, const char *name)
{
    char sql[256];

    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = '%s'", name);
    return ts_raw_int(path, sql);
}

static void test_fresh_db(void **state)
{
    struct ts_db *d = *state;
    struct scep_store *st = NULL;

    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    assert_int_equal(scep_store_schema_version(st), LATEST);
    scep_store_close(st);
    /* Each migration ran once: one version row per step, also after
     * reopening. */
    assert_int_equal(ts_raw_int(d->path, "SELECT count(*) FROM schema_version"), LATEST);
    st = NULL;
    assert_int_equal(scep_store_open(d->path, &st, NULL, 0), 0);
    scep_store_close(st);
    assert_int_equal(ts_raw_int(d->path, "SELECT count(*) FROM schema_version"), LATEST);
    assert_int_equal(ts_raw_int(d->path, "SELECT max(version) FROM schema_version"), LATEST);
    assert_int_equal(ts_raw_int(d->path, "SELECT count(*) FROM crl_numbers"), 1);
    assert_int_equal(count_index(d->path, "requests_status"), 1);
    assert_int_equal(count_index(d->path, "certificates_issuer_fp"), 1);
}

/* SQLite plans a listing by issuer with the issuer index. */
static void test_issuer_index_used(void **state)
{
    struct ts_db *d = *state;
    struct scep_store *st = NULL;
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int used = 0;

    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    scep_store_close(st);
    assert_int_equal(sqlite3_open(d->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "EXPLAIN QUERY PLAN SELECT serial FROM certificates "
                                        "WHERE 1 = 1 AND issuer_fp = 'ab' AND not_after >= 5 "
                                        "ORDER BY issued_at DESC, serial ASC LIMIT -1",
                                        -1, &s, NULL),
                     SQLITE_OK);
    while (sqlite3_step(s) == SQLITE_ROW)
        used |= strstr((const char *)sqlite3_column_text(s, 3), "certificates_issuer_fp") != NULL;
    sqlite3_finalize(s);
    sqlite3_close(db);
    assert_true(used);
}

/* A database at version 0: the version table exists, nothing else. */
static void test_v0_upgraded(void **state)
{
    struct ts_db *d = *state;
    struct scep_store *st = NULL;

    ts_raw_exec(d->path, "CREATE TABLE schema_version (version INTEGER PRIMARY KEY,"
                         " applied_at INTEGER NOT NULL)");
    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    assert_int_equal(scep_store_schema_version(st), LATEST);
    scep_store_close(st);
    assert_int_equal(ts_raw_int(d->path, "SELECT count(*) FROM certificates"), 0);
    assert_int_equal(ts_raw_int(d->path, "SELECT count(*) FROM sqlite_master WHERE name = 'audit'"),
                     1);
}

/*
 * A version 1 database (certificates, audit, CRL numbers; no requests)
 * is upgraded in place.  It is made from a current one by undoing steps
 * 3 and 2, which leaves exactly what step 1 created plus SQLite's own
 * sqlite_sequence table.
 */
static void test_v1_upgraded(void **state)
{
    struct ts_db *d = *state;
    struct scep_store *st = NULL;
    struct scep_cert_info *cert = NULL;
    struct scep_request_info *got = NULL;
    size_t der_len = 0;
    unsigned char *der = ts_cert_der("old", &der_len);
    struct scep_cert_info ci = ts_info("01", "CN=old", der, der_len);
    struct scep_audit_event ev = {.kind = "issue", .actor = "scepd", .serial = "01"};
    int64_t crl = 0, id;

    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    assert_int_equal(scep_store_insert_cert(st, &ci, &ev), 0);
    assert_int_equal(scep_store_next_crl_number(st, &crl), 0);
    scep_store_close(st);
    st = NULL;
    ts_raw_exec(d->path, V4_UNDO_CERTS "DROP INDEX certificates_issuer_fp; DROP TABLE requests;"
                                       " DELETE FROM schema_version WHERE version >= 2;");
    assert_int_equal(ts_raw_int(d->path, "SELECT max(version) FROM schema_version"), 1);
    assert_int_equal(
        ts_raw_int(d->path, "SELECT count(*) FROM sqlite_master WHERE name = 'requests'"), 0);

    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    assert_int_equal(scep_store_schema_version(st), LATEST);
    /* What version 1 held survived. */
    assert_int_equal(scep_store_get_cert(st, "01", &cert), 0);
    assert_string_equal(cert->subject, "CN=old");
    scep_cert_info_free(cert);
    assert_int_equal(ts_audit_count(st), 1);
    assert_int_equal(scep_store_next_crl_number(st, &crl), 0);
    assert_int_equal(crl, 2);
    /* And the new table works. */
    id = add_req(st, "TX-AFTER-UPGRADE", "CN=new");
    assert_int_equal(scep_store_get_request(st, id, &got), 0);
    assert_string_equal(got->subject, "CN=new");
    scep_request_info_free(got);
    assert_audit_intact(st);
    scep_store_close(st);
    assert_int_equal(ts_raw_int(d->path, "SELECT count(*) FROM schema_version"), LATEST);
    free(der);
}

/* Inserts a certificate of issuer with serial; the DER is a stand-in. */
static void put_cert(struct scep_store *st, const char *serial, const char *issuer)
{
    static const unsigned char der[] = {0x30, 0x00};
    struct scep_cert_info ci = ts_info(serial, "CN=x", der, sizeof(der));

    ci.issuer_fp = (char *)issuer;
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);
}

static int count_cb(const struct scep_cert_info *ci, void *arg)
{
    (void)ci;
    (*(int *)arg)++;
    return 0;
}

static int count_issuer(struct scep_store *st, const char *issuer)
{
    struct scep_cert_filter f = {.status = -1, .include_expired = 1, .issuer_fp = issuer};
    int n = 0;

    assert_int_equal(scep_store_list_certs(st, &f, count_cb, &n), 0);
    return n;
}

/* A version 2 database (before the issuer index) is upgraded, and its
 * certificates can be listed by issuer. */
static void test_v2_upgraded(void **state)
{
    struct ts_db *d = *state;
    struct scep_store *st = NULL;

    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    put_cert(st, "01", "aa");
    put_cert(st, "02", "bb");
    put_cert(st, "03", "aa");
    scep_store_close(st);
    st = NULL;
    ts_raw_exec(d->path, V4_UNDO "DROP INDEX certificates_issuer_fp;"
                                 " DELETE FROM schema_version WHERE version >= 3;");
    assert_int_equal(count_index(d->path, "certificates_issuer_fp"), 0);
    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    assert_int_equal(scep_store_schema_version(st), LATEST);
    assert_int_equal(count_index(d->path, "certificates_issuer_fp"), 1);
    assert_int_equal(count_issuer(st, "aa"), 2);
    assert_int_equal(count_issuer(st, "bb"), 1);
    assert_int_equal(count_issuer(st, "cc"), 0);
    scep_store_close(st);
}

/* Step 3 meets the index it would create (made by hand, say) and still
 * succeeds: the steps are idempotent. */
static void test_step_idempotent(void **state)
{
    struct ts_db *d = *state;
    struct scep_store *st = NULL;

    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    scep_store_close(st);
    st = NULL;
    ts_raw_exec(d->path, V4_UNDO "DELETE FROM schema_version WHERE version >= 3;");
    assert_int_equal(count_index(d->path, "certificates_issuer_fp"), 1);
    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    assert_int_equal(scep_store_schema_version(st), LATEST);
    scep_store_close(st);
    assert_int_equal(ts_raw_int(d->path, "SELECT count(*) FROM schema_version"), LATEST);
}

/* A version 3 database (before challenges) is upgraded: its
 * certificates read back with no challenge, and challenges work. */
static void test_v3_upgraded(void **state)
{
    struct ts_db *d = *state;
    struct scep_store *st = NULL;
    struct scep_cert_info *cert = NULL;
    struct scep_challenge_info ch, *got = NULL;
    size_t der_len = 0;
    unsigned char *der = ts_cert_der("old", &der_len);
    struct scep_cert_info ci = ts_info("01", "CN=old", der, der_len);
    int64_t id = 0;

    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);
    scep_store_close(st);
    st = NULL;
    ts_raw_exec(d->path, V4_UNDO "DELETE FROM schema_version WHERE version >= 4;");
    assert_int_equal(
        ts_raw_int(d->path, "SELECT count(*) FROM sqlite_master WHERE name = 'challenges'"), 0);
    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    assert_int_equal(scep_store_schema_version(st), LATEST);
    assert_int_equal(scep_store_get_cert(st, "01", &cert), 0);
    assert_int_equal(cert->challenge_id, 0);
    scep_cert_info_free(cert);
    memset(&ch, 0, sizeof(ch));
    ch.hash = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    ch.max_uses = 1;
    ch.expires_at = 4102444800;
    assert_int_equal(scep_store_add_challenge(st, &ch, NULL, &id), 0);
    assert_int_equal(scep_store_get_challenge(st, id, &got), 0);
    assert_string_equal(got->profile, "");
    scep_challenge_info_free(got);
    scep_store_close(st);
    free(der);
}

static int count_certs_cb(const struct scep_cert_info *ci, void *arg)
{
    (void)ci;
    (*(int *)arg)++;
    return 0;
}

/* A version 6 database gains the inventory: its certificates get their
 * fingerprint computed, source "scep", profile "", and are found by the
 * trigram search of subjects. */
static void test_v6_upgraded(void **state)
{
    struct ts_db *d = *state;
    struct scep_store *st = NULL;
    struct scep_cert_info *cert = NULL;
    size_t der_len = 0;
    unsigned char *der = ts_cert_der("old", &der_len);
    struct scep_cert_info ci = ts_info("01", "CN=old-device,O=Example", der, der_len);
    struct scep_cert_filter f = {.status = -1, .include_expired = 1, .subject_like = "D-DEV"};
    char *fp = NULL;
    int n = 0;

    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);
    assert_int_equal(scep_store_get_cert(st, "01", &cert), 0);
    fp = strdup(cert->fingerprint);
    scep_cert_info_free(cert);
    cert = NULL;
    scep_store_close(st);
    st = NULL;
    ts_raw_exec(d->path, V7_UNDO "DELETE FROM schema_version WHERE version >= 7;");
    assert_int_equal(ts_raw_int(d->path, "SELECT count(*) FROM sqlite_master WHERE name = "
                                         "'certificates_search'"),
                     0);
    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    assert_int_equal(scep_store_schema_version(st), LATEST);
    assert_int_equal(scep_store_get_cert(st, "01", &cert), 0);
    assert_string_equal(cert->fingerprint, fp);
    assert_string_equal(cert->source, "scep");
    assert_string_equal(cert->profile, "");
    assert_null(cert->superseded_by);
    scep_cert_info_free(cert);
    cert = NULL;
    assert_int_equal(scep_store_get_cert_by_fingerprint(st, fp, &cert), 0);
    assert_string_equal(cert->serial, "01");
    scep_cert_info_free(cert);
    assert_int_equal(scep_store_list_certs(st, &f, count_certs_cb, &n), 0);
    assert_int_equal(n, 1);
    scep_store_close(st);
    free(fp);
    free(der);
}

/* The searches a large inventory needs are planned on their indexes:
 * a subject substring through the trigram table, "valid and expiring"
 * through (status, not_after). */
static void test_inventory_indexes_used(void **state)
{
    struct ts_db *d = *state;
    struct scep_store *st = NULL;
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int fts = 0, exp = 0;

    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    scep_store_close(st);
    assert_int_equal(sqlite3_open(d->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "EXPLAIN QUERY PLAN SELECT serial FROM certificates "
                                        "WHERE 1 = 1 AND serial IN (SELECT serial FROM "
                                        "certificates_search WHERE certificates_search MATCH "
                                        "'subject : \"dev\"') "
                                        "ORDER BY issued_at DESC, serial ASC LIMIT -1",
                                        -1, &s, NULL),
                     SQLITE_OK);
    while (sqlite3_step(s) == SQLITE_ROW)
        fts |= strstr((const char *)sqlite3_column_text(s, 3), "VIRTUAL TABLE INDEX") != NULL;
    sqlite3_finalize(s);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "EXPLAIN QUERY PLAN SELECT serial FROM certificates "
                                        "WHERE 1 = 1 AND status = 0 AND status = 0 AND "
                                        "not_after < 100 AND not_after >= 5 "
                                        "ORDER BY not_after ASC, serial ASC LIMIT -1",
                                        -1, &s, NULL),
                     SQLITE_OK);
    while (sqlite3_step(s) == SQLITE_ROW)
        exp |= strstr((const char *)sqlite3_column_text(s, 3), "certificates_status_not_after") !=
               NULL;
    sqlite3_finalize(s);
    sqlite3_close(db);
    assert_true(fts);
    assert_true(exp);
}

/* A database newer than the code is refused, with a reason, and left
 * as it was. */
static void test_newer_db_refused(void **state)
{
    struct ts_db *d = *state;
    struct scep_store *st = NULL;
    char why[512], want[700];

    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    scep_store_close(st);
    st = NULL;
    ts_raw_exec(d->path, "INSERT INTO schema_version (version, applied_at) VALUES (9, 0)");
    assert_int_equal(scep_store_open(d->uri, &st, why, sizeof(why)), SCEP_ERR_STORE);
    assert_null(st);
    snprintf(want, sizeof(want), "%s: schema version 9 is newer than this scepd (%d)", d->uri,
             LATEST);
    assert_string_equal(why, want);
    assert_int_equal(ts_raw_int(d->path, "SELECT count(*) FROM schema_version"), LATEST + 1);
}

/* A corrupt row (status outside the enum) is refused by the schema, not
 * only by store.c. */
static void test_schema_checks_status(void **state)
{
    struct ts_db *d = *state;
    struct scep_store *st = NULL;
    sqlite3 *db = NULL;

    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    add_req(st, "TX-CHK", "CN=chk");
    scep_store_close(st);
    assert_int_equal(sqlite3_open(d->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "UPDATE requests SET status = 9", NULL, NULL, NULL),
                     SQLITE_CONSTRAINT);
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO requests (transaction_id, created_at, csr) "
                                  "VALUES ('TX-NULLCSR', 1, NULL)",
                                  NULL, NULL, NULL),
                     SQLITE_CONSTRAINT);
    sqlite3_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fresh_db, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_issuer_index_used, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_v0_upgraded, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_v1_upgraded, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_v2_upgraded, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_step_idempotent, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_v3_upgraded, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_v6_upgraded, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_inventory_indexes_used, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_newer_db_refused, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_schema_checks_status, ts_setup, ts_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
