/*
 * Unit tests of the store's SQLite backend: opening and schema
 * migrations, certificate round trips, duplicates, lookups by
 * transaction, listing filters, revocation and CRL numbers.  Every test
 * works on a fresh database file in its own temporary directory and,
 * where it matters, reopens the file to check what reached the disk.
 */
#include "test_store_common.h"

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <scep/error.h>

static void test_open_migrate_reopen(void **state)
{
    struct ts_db *d = *state;
    struct scep_store *st = NULL;

    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    assert_int_equal(scep_store_schema_version(st), 3);
    scep_store_close(st);
    st = NULL;
    /* Each migration ran once: one version row per step. */
    assert_int_equal(ts_raw_int(d->path, "SELECT count(*) FROM schema_version"), 3);
    assert_int_equal(ts_raw_int(d->path, "SELECT count(*) FROM crl_numbers"), 1);
    /* A plain path works as well as sqlite:PATH. */
    assert_int_equal(scep_store_open(d->path, &st, NULL, 0), 0);
    assert_int_equal(scep_store_schema_version(st), 3);
    scep_store_close(st);
    st = NULL;
    /* And the URL form, sqlite:// followed by an absolute path. */
    {
        char url[700];

        snprintf(url, sizeof(url), "sqlite://%s", d->path);
        assert_int_equal(scep_store_open(url, &st, NULL, 0), 0);
        scep_store_close(st);
    }
    assert_int_equal(ts_raw_int(d->path, "SELECT count(*) FROM schema_version"), 3);
    assert_int_equal(ts_raw_int(d->path, "SELECT max(version) FROM schema_version"), 3);
}

static void test_older_db_upgraded(void **state)
{
    struct ts_db *d = *state;
    struct scep_store *st = NULL;

    /* A database at version 0: the version table exists, nothing else. */
    ts_raw_exec(d->path, "CREATE TABLE schema_version (version INTEGER PRIMARY KEY,"
                      " applied_at INTEGER NOT NULL)");
    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    assert_int_equal(scep_store_schema_version(st), 3);
    scep_store_close(st);
    assert_int_equal(ts_raw_int(d->path, "SELECT count(*) FROM certificates"), 0);
    assert_int_equal(
        ts_raw_int(d->path, "SELECT count(*) FROM sqlite_master WHERE name = 'audit'"), 1);
}

static void test_newer_db_refused(void **state)
{
    struct ts_db *d = *state;
    struct scep_store *st = NULL;

    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    scep_store_close(st);
    st = NULL;
    ts_raw_exec(d->path, "INSERT INTO schema_version (version, applied_at) VALUES (99, 0)");
    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), SCEP_ERR_STORE);
    assert_null(st);
}

static void test_uri_schemes(void **state)
{
    struct scep_store *st = NULL;

    (void)state;
    assert_int_equal(scep_store_open("postgres://x", &st, NULL, 0), SCEP_ERR_UNSUPPORTED);
    assert_int_equal(scep_store_open("postgresql://u@h/db", &st, NULL, 0), SCEP_ERR_UNSUPPORTED);
    assert_int_equal(scep_store_open("mysql://h/db", &st, NULL, 0), SCEP_ERR_UNSUPPORTED);
    assert_int_equal(scep_store_open("", &st, NULL, 0), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_open("sqlite:", &st, NULL, 0), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_open(NULL, &st, NULL, 0), SCEP_ERR_INVALID_ARG);
    /* A directory that does not exist cannot hold the file. */
    assert_int_equal(scep_store_open("sqlite:/nonexistent-dir/x/store.db", &st, NULL, 0),
                     SCEP_ERR_STORE);
    assert_null(st);
}

static void test_insert_get_round_trip(void **state)
{
    struct ts_db *d = *state;
    struct scep_store *st = NULL;
    struct scep_cert_info *got = NULL;
    size_t der_len;
    unsigned char *der = ts_cert_der("round trip", &der_len);
    struct scep_cert_info ci;
    struct scep_audit_event ev = {.kind = "issue", .actor = "scepd", .transaction_id = "T1",
                                  .peer = "192.0.2.7", .serial = "0A1B", .detail = "CN=rt"};

    memset(&ci, 0, sizeof(ci));
    ci.serial = "0A1B";
    ci.issuer_fp = "f00dfeed";
    ci.subject = "CN=rt,O=Example";
    ci.sans = "DNS:a.example, IP:192.0.2.1";
    ci.not_before = 1700000000;
    ci.not_after = 4102444800;
    ci.issued_at = 1700000005;
    ci.status = SCEP_CERT_VALID;
    ci.revoked_at = 0;
    ci.revocation_reason = -1;
    ci.transaction_id = "T1";
    ci.requester = "192.0.2.7";
    ci.msg_type = "RenewalReq";
    ci.pubkey_fp = "abcdef";
    ci.renewed_serial = "09";
    ci.der = der;
    ci.der_len = der_len;

    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    assert_int_equal(scep_store_insert_cert(st, &ci, &ev), 0);
    scep_store_close(st);
    st = NULL;

    /* Reopened: what comes back was on disk. */
    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    assert_int_equal(scep_store_get_cert(st, "0A1B", &got), 0);
    assert_string_equal(got->serial, "0A1B");
    assert_string_equal(got->issuer_fp, "f00dfeed");
    assert_string_equal(got->subject, "CN=rt,O=Example");
    assert_string_equal(got->sans, "DNS:a.example, IP:192.0.2.1");
    assert_int_equal(got->not_before, 1700000000);
    assert_int_equal(got->not_after, 4102444800);
    assert_int_equal(got->issued_at, 1700000005);
    assert_int_equal(got->status, SCEP_CERT_VALID);
    assert_int_equal(got->revoked_at, 0);
    assert_int_equal(got->revocation_reason, -1);
    assert_string_equal(got->transaction_id, "T1");
    assert_string_equal(got->requester, "192.0.2.7");
    assert_string_equal(got->msg_type, "RenewalReq");
    assert_string_equal(got->pubkey_fp, "abcdef");
    assert_string_equal(got->renewed_serial, "09");
    assert_int_equal(got->der_len, der_len);
    assert_memory_equal(got->der, der, der_len);
    /* The DER is still a certificate. */
    {
        const unsigned char *p = got->der;
        X509 *x = d2i_X509(NULL, &p, (long)got->der_len);
        assert_non_null(x);
        assert_ptr_equal(p, got->der + got->der_len);
        X509_free(x);
    }
    scep_cert_info_free(got);
    got = NULL;
    assert_int_equal(ts_audit_count(st), 1);
    assert_int_equal(scep_store_get_cert(st, "FFFF", &got), SCEP_ERR_NOT_FOUND);
    assert_null(got);
    scep_store_close(st);
    free(der);
}

static void test_null_fields_stay_null(void **state)
{
    struct ts_db *d = *state;
    struct scep_store *st = NULL;
    struct scep_cert_info *got = NULL;
    static const unsigned char der[] = {0x30, 0x03, 0x02, 0x01, 0x01};
    struct scep_cert_info ci = ts_info("01", "CN=bare", der, sizeof(der));

    ci.issuer_fp = NULL;
    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    /* No audit event: allowed. */
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);
    assert_int_equal(scep_store_get_cert(st, "01", &got), 0);
    assert_null(got->issuer_fp);
    assert_null(got->sans);
    assert_null(got->transaction_id);
    assert_null(got->renewed_serial);
    assert_int_equal(got->der_len, sizeof(der));
    scep_cert_info_free(got);
    assert_int_equal(ts_audit_count(st), 0);
    /* Required fields. */
    ci.serial = "02";
    ci.der = NULL;
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), SCEP_ERR_INVALID_ARG);
    ci.der = (unsigned char *)der;
    ci.subject = NULL;
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), SCEP_ERR_INVALID_ARG);
    scep_store_close(st);
    scep_cert_info_free(NULL);
}

static void test_duplicate_serial(void **state)
{
    struct ts_db *d = *state;
    struct scep_store *st = NULL;
    struct scep_cert_info *got = NULL;
    static const unsigned char der1[] = {0x30, 0x01, 0x01};
    static const unsigned char der2[] = {0x30, 0x01, 0x02};
    struct scep_cert_info a = ts_info("77", "CN=first", der1, sizeof(der1));
    struct scep_cert_info b = ts_info("77", "CN=second", der2, sizeof(der2));
    struct scep_audit_event ev = {.kind = "issue", .actor = "scepd", .serial = "77"};

    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    assert_int_equal(scep_store_insert_cert(st, &a, &ev), 0);
    assert_int_equal(ts_audit_count(st), 1);
    assert_int_equal(scep_store_insert_cert(st, &b, &ev), SCEP_ERR_EXISTS);
    assert_true(strstr(scep_store_last_error(st), "77") != NULL);
    /* Nothing of the second insert was written, not even its audit. */
    assert_int_equal(ts_audit_count(st), 1);
    assert_int_equal(scep_store_get_cert(st, "77", &got), 0);
    assert_string_equal(got->subject, "CN=first");
    assert_memory_equal(got->der, der1, sizeof(der1));
    scep_cert_info_free(got);
    /* The connection is still usable afterwards. */
    b.serial = "78";
    assert_int_equal(scep_store_insert_cert(st, &b, &ev), 0);
    assert_int_equal(ts_audit_count(st), 2);
    scep_store_close(st);
    assert_int_equal(ts_raw_int(d->path, "SELECT count(*) FROM certificates"), 2);
}

static void test_get_by_transaction(void **state)
{
    struct ts_db *d = *state;
    struct scep_store *st = NULL;
    struct scep_cert_info *got = NULL;
    static const unsigned char der[] = {0x30, 0x00};
    struct scep_cert_info ci = ts_info("10", "CN=old", der, sizeof(der));

    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    ci.transaction_id = "TX";
    ci.issued_at = 2000;
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);
    ci.serial = "13";
    ci.subject = "CN=other";
    ci.transaction_id = "OTHER";
    ci.issued_at = 9000;
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);
    /* Certificates without a transactionID (not issued through SCEP) do
     * not collide with one another. */
    ci.transaction_id = NULL;
    ci.serial = "20";
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);
    ci.serial = "21";
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);

    assert_int_equal(scep_store_get_cert_by_transaction(st, "TX", &got), 0);
    assert_string_equal(got->serial, "10");
    assert_string_equal(got->subject, "CN=old");
    scep_cert_info_free(got);
    got = NULL;
    assert_int_equal(scep_store_get_cert_by_transaction(st, "OTHER", &got), 0);
    assert_string_equal(got->serial, "13");
    scep_cert_info_free(got);
    got = NULL;
    assert_int_equal(scep_store_get_cert_by_transaction(st, "NONE", &got), SCEP_ERR_NOT_FOUND);
    assert_null(got);
    scep_store_close(st);
}

/* One certificate per transactionID: a second one for the same
 * transactionID is refused under the write lock, with nothing written
 * (neither the row nor its audit event), and the connection stays
 * usable.  This is what keeps two workers answering the same PKCSReq at
 * once from both issuing. */
static void test_one_cert_per_transaction(void **state)
{
    struct ts_db *d = *state;
    struct scep_store *st = NULL, *st2 = NULL;
    struct scep_cert_info *got = NULL;
    struct scep_audit_event ev;
    static const unsigned char der[] = {0x30, 0x00};
    struct scep_cert_info ci = ts_info("30", "CN=first", der, sizeof(der));

    memset(&ev, 0, sizeof(ev));
    ev.kind = "issue";
    ev.transaction_id = "TX1";
    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    assert_int_equal(scep_store_open(d->uri, &st2, NULL, 0), 0);
    ci.transaction_id = "TX1";
    assert_int_equal(scep_store_insert_cert(st, &ci, &ev), 0);
    /* another connection, another serial, the same transactionID */
    ci.serial = "31";
    ci.subject = "CN=second";
    assert_int_equal(scep_store_insert_cert(st2, &ci, &ev), SCEP_ERR_TRANSID_REUSE);
    assert_int_equal(scep_store_insert_cert(st, &ci, &ev), SCEP_ERR_TRANSID_REUSE);
    assert_int_equal(ts_audit_count(st), 1);
    assert_int_equal(scep_store_get_cert(st, "31", &got), SCEP_ERR_NOT_FOUND);
    assert_int_equal(scep_store_get_cert_by_transaction(st2, "TX1", &got), 0);
    assert_string_equal(got->serial, "30");
    scep_cert_info_free(got);
    got = NULL;
    /* both connections still write */
    ci.transaction_id = "TX2";
    ev.transaction_id = "TX2";
    assert_int_equal(scep_store_insert_cert(st2, &ci, &ev), 0);
    ci.serial = "32";
    ci.transaction_id = "TX3";
    assert_int_equal(scep_store_insert_cert(st, &ci, &ev), 0);
    assert_int_equal(ts_audit_count(st), 3);
    assert_int_equal(scep_store_verify_audit(st, &(int64_t){0}), 0);
    scep_store_close(st2);
    scep_store_close(st);
    assert_int_equal(ts_raw_int(d->path, "SELECT count(*) FROM certificates"), 3);
}

struct collected {
    char serials[32][16];
    int n;
    int stop_after; /* 0: never */
};

static int collect_cb(const struct scep_cert_info *ci, void *arg)
{
    struct collected *c = arg;

    assert_true(c->n < 32);
    snprintf(c->serials[c->n], sizeof(c->serials[c->n]), "%s", ci->serial);
    c->n++;
    if (c->stop_after > 0 && c->n == c->stop_after)
        return 42;
    return 0;
}

static void list(struct scep_store *st, const struct scep_cert_filter *f, struct collected *c)
{
    memset(c, 0, sizeof(*c));
    assert_int_equal(scep_store_list_certs(st, f, collect_cb, c), 0);
}

static void test_list_filters(void **state)
{
    struct ts_db *d = *state;
    struct scep_store *st = NULL;
    static const unsigned char der[] = {0x30, 0x00};
    struct scep_cert_info ci = ts_info("x", "x", der, sizeof(der));
    struct scep_cert_filter f;
    struct collected c;
    int64_t now = (int64_t)time(NULL);

    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    /* A: valid, long-lived, issued first. */
    ci.serial = "A";
    ci.subject = "CN=alpha,O=Example";
    ci.not_after = now + 365 * 86400;
    ci.issued_at = now - 500;
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);
    /* B: valid, expires in a day. */
    ci.serial = "B";
    ci.subject = "CN=beta,O=Example";
    ci.not_after = now + 86400;
    ci.issued_at = now - 400;
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);
    /* C: expired an hour ago. */
    ci.serial = "C";
    ci.subject = "CN=gamma,O=Other";
    ci.not_after = now - 3600;
    ci.issued_at = now - 300;
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);
    /* D: valid, expires in two days, then revoked. */
    ci.serial = "D";
    ci.subject = "CN=delta,O=Example";
    ci.not_after = now + 2 * 86400;
    ci.issued_at = now - 200;
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);
    assert_int_equal(scep_store_revoke(st, "D", 1, now, NULL), 0);

    /* Default: everything not expired, newest first. */
    memset(&f, 0, sizeof(f));
    f.status = -1;
    list(st, &f, &c);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.serials[0], "D");
    assert_string_equal(c.serials[1], "B");
    assert_string_equal(c.serials[2], "A");
    /* NULL filter: the same. */
    memset(&c, 0, sizeof(c));
    assert_int_equal(scep_store_list_certs(st, NULL, collect_cb, &c), 0);
    assert_int_equal(c.n, 3);

    f.include_expired = 1;
    list(st, &f, &c);
    assert_int_equal(c.n, 4);
    assert_string_equal(c.serials[1], "C");

    f.status = SCEP_CERT_REVOKED;
    list(st, &f, &c);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.serials[0], "D");

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
    assert_string_equal(c.serials[0], "B");
    f.expiring_within = 0;

    f.subject_like = "O=Example";
    list(st, &f, &c);
    assert_int_equal(c.n, 3);
    f.subject_like = "gamma";
    list(st, &f, &c);
    assert_int_equal(c.n, 0);
    f.include_expired = 1;
    list(st, &f, &c);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.serials[0], "C");
    /* LIKE wildcards are plain characters here. */
    f.subject_like = "%";
    list(st, &f, &c);
    assert_int_equal(c.n, 0);
    f.subject_like = NULL;

    f.limit = 2;
    list(st, &f, &c);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.serials[0], "D");
    assert_string_equal(c.serials[1], "C");
    f.limit = 0;

    /* A non-zero callback return stops the walk and comes back. */
    memset(&c, 0, sizeof(c));
    c.stop_after = 2;
    assert_int_equal(scep_store_list_certs(st, &f, collect_cb, &c), 42);
    assert_int_equal(c.n, 2);

    f.status = 5;
    assert_int_equal(scep_store_list_certs(st, &f, collect_cb, &c), SCEP_ERR_INVALID_ARG);
    scep_store_close(st);
}

static void test_revoke(void **state)
{
    struct ts_db *d = *state;
    struct scep_store *st = NULL;
    struct scep_cert_info *got = NULL;
    static const unsigned char der[] = {0x30, 0x00};
    struct scep_cert_info ci = ts_info("5E", "CN=r", der, sizeof(der));
    struct scep_audit_event ev = {.kind = "revoke", .actor = "scepctl:root", .serial = "5E",
                                  .detail = "keyCompromise"};

    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);
    assert_int_equal(scep_store_revoke(st, "5E", 1, 1234567, &ev), 0);
    assert_int_equal(ts_audit_count(st), 1);
    /* Twice: EXISTS, and no second audit event. */
    assert_int_equal(scep_store_revoke(st, "5E", 4, 2345678, &ev), SCEP_ERR_EXISTS);
    assert_int_equal(ts_audit_count(st), 1);
    assert_int_equal(scep_store_revoke(st, "NOPE", 1, 0, &ev), SCEP_ERR_NOT_FOUND);
    assert_int_equal(ts_audit_count(st), 1);
    assert_int_equal(scep_store_revoke(st, "5E", 7, 0, NULL), SCEP_ERR_INVALID_ARG);
    scep_store_close(st);
    st = NULL;

    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    assert_int_equal(scep_store_get_cert(st, "5E", &got), 0);
    assert_int_equal(got->status, SCEP_CERT_REVOKED);
    assert_int_equal(got->revoked_at, 1234567);
    assert_int_equal(got->revocation_reason, 1);
    scep_cert_info_free(got);
    /* at = 0: now. */
    ci.serial = "5F";
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);
    int64_t before = (int64_t)time(NULL);
    assert_int_equal(scep_store_revoke(st, "5F", -1, 0, NULL), 0);
    assert_int_equal(scep_store_get_cert(st, "5F", &got), 0);
    assert_true(got->revoked_at >= before && got->revoked_at <= before + 5);
    assert_int_equal(got->revocation_reason, -1);
    scep_cert_info_free(got);
    scep_store_close(st);
}

static void test_crl_numbers(void **state)
{
    struct ts_db *d = *state;
    struct scep_store *st = NULL, *st2 = NULL;
    int64_t n = 0;

    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    assert_int_equal(scep_store_next_crl_number(st, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(scep_store_next_crl_number(st, &n), 0);
    assert_int_equal(n, 2);
    /* A second connection sees and continues the same counter. */
    assert_int_equal(scep_store_open(d->uri, &st2, NULL, 0), 0);
    assert_int_equal(scep_store_next_crl_number(st2, &n), 0);
    assert_int_equal(n, 3);
    scep_store_close(st2);
    scep_store_close(st);
    st = NULL;
    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    assert_int_equal(scep_store_next_crl_number(st, &n), 0);
    assert_int_equal(n, 4);
    scep_store_close(st);
}

static void test_store_error_rolls_back(void **state)
{
    struct ts_db *d = *state;
    struct scep_store *st = NULL;
    static const unsigned char der[] = {0x30, 0x00};
    struct scep_cert_info ci = ts_info("99", "CN=x", der, sizeof(der));
    struct scep_audit_event ev = {.kind = "issue", .actor = "scepd"};

    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    /* Make the audit insert fail after the certificate row went in: the
     * whole transaction must vanish. */
    ts_raw_exec(d->path, "CREATE TRIGGER no_audit BEFORE INSERT ON audit "
                      "BEGIN SELECT RAISE(ABORT, 'audit refused'); END");
    assert_int_equal(scep_store_insert_cert(st, &ci, &ev), SCEP_ERR_STORE);
    assert_true(strstr(scep_store_last_error(st), "audit refused") != NULL);
    scep_store_close(st);
    assert_int_equal(ts_raw_int(d->path, "SELECT count(*) FROM certificates"), 0);
    assert_int_equal(ts_raw_int(d->path, "SELECT count(*) FROM audit"), 0);
}

/* Inserts, then dies by SIGKILL the moment the call returns: the
 * certificate and its audit event must be there for the next process. */
static void test_kill_after_insert(void **state)
{
    struct ts_db *d = *state;
    struct scep_store *st = NULL;
    struct scep_cert_info *got = NULL;
    int64_t bad = -1;
    int status = 0;
    pid_t pid;

    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    scep_store_close(st);
    st = NULL;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        static const unsigned char der[] = {0x30, 0x02, 0x05, 0x00};
        struct scep_cert_info ci = ts_info("DEAD", "CN=killed", der, sizeof(der));
        struct scep_audit_event ev = {.kind = "issue", .actor = "scepd", .serial = "DEAD"};
        struct scep_store *cst = NULL;

        if (scep_store_open(d->uri, &cst, NULL, 0) != 0 || scep_store_insert_cert(cst, &ci, &ev) != 0)
            _exit(3);
        /* No close, no checkpoint, no atexit: only what COMMIT did. */
        raise(SIGKILL);
        _exit(4);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    assert_int_equal(scep_store_get_cert(st, "DEAD", &got), 0);
    assert_string_equal(got->subject, "CN=killed");
    scep_cert_info_free(got);
    assert_int_equal(ts_audit_count(st), 1);
    assert_int_equal(scep_store_verify_audit(st, &bad), 0);
    scep_store_close(st);
    /* The journal mode is persistent in the file: WAL. */
    {
        sqlite3 *db = NULL;
        sqlite3_stmt *s = NULL;

        assert_int_equal(sqlite3_open(d->path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(s), SQLITE_ROW);
        assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
        sqlite3_finalize(s);
        sqlite3_close(db);
    }
}

struct reenter {
    struct scep_store *st;
    int seen;
};

/* Calls back into the store from inside a listing: a lookup, a
 * revocation (a write transaction) and a nested listing. */
static int reenter_cb(const struct scep_cert_info *ci, void *arg)
{
    struct reenter *r = arg;
    struct scep_cert_info *got = NULL;
    struct collected inner;
    struct scep_cert_filter all = {.status = -1, .include_expired = 1};

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
    struct ts_db *d = *state;
    struct scep_store *st = NULL;
    static const unsigned char der[] = {0x30, 0x00};
    struct scep_cert_info ci = ts_info("R1", "CN=r1", der, sizeof(der));
    struct scep_cert_filter valid = {.status = SCEP_CERT_VALID};
    /* Status "any", so the rows being revoked stay in the walk's scope:
     * SQLite leaves it undefined whether a running SELECT sees changes
     * its own connection makes. */
    struct scep_cert_filter any = {.status = -1};
    struct reenter r;
    struct collected c;

    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);
    ci.serial = "R2";
    ci.subject = "CN=r2";
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);
    ci.serial = "R3";
    ci.subject = "CN=r3";
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);
    r.st = st;
    r.seen = 0;
    assert_int_equal(scep_store_list_certs(st, &any, reenter_cb, &r), 0);
    assert_int_equal(r.seen, 3);
    list(st, &valid, &c);
    assert_int_equal(c.n, 0);
    scep_store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_migrate_reopen, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_older_db_upgraded, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_newer_db_refused, ts_setup, ts_teardown),
        cmocka_unit_test(test_uri_schemes),
        cmocka_unit_test_setup_teardown(test_insert_get_round_trip, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_null_fields_stay_null, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_serial, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_get_by_transaction, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_one_cert_per_transaction, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_list_filters, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_revoke, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_crl_numbers, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_store_error_rolls_back, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_kill_after_insert, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_list_reentrant, ts_setup, ts_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
