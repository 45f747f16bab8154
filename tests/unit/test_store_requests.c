/*
 * Unit tests of the requests held for approval (approval = manual) in
 * the store: round trips of every field, duplicate transaction ids,
 * listing by status, approve/reject and their refusals, issuing an
 * approved request together with its certificate, the upgrade of a
 * version 1 database, and the audit chain after all of it.  Every test
 * works on a fresh database file and reopens it where what reached the
 * disk matters.
 */
#include "test_store_common.h"

#include <sqlite3.h>
#include <time.h>

#include <scep/error.h>

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

static void test_fresh_db_is_v2(void **state)
{
    struct ts_db *d = *state;
    struct scep_store *st = NULL;

    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    assert_int_equal(scep_store_schema_version(st), 3);
    scep_store_close(st);
    assert_int_equal(ts_raw_int(d->path, "SELECT count(*) FROM schema_version"), 3);
    assert_int_equal(ts_raw_int(d->path, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
                                      "name = 'requests_status'"),
                     1);
}

static void test_round_trip(void **state)
{
    struct ts_db *d = *state;
    struct scep_store *st = NULL;
    struct scep_request_info *a = NULL, *b = NULL;
    size_t len = 0;
    unsigned char *csr = csr_der("round", &len);
    struct scep_request_info ri = req_info("TX-ROUND", "CN=round,O=Example", csr, len);
    struct scep_audit_event ev = {
        .kind = "request-pending", .actor = "scepd", .transaction_id = "TX-ROUND"};
    int64_t id = 0, id2 = 0;

    /* Fields the store owns are ignored on input. */
    ri.status = SCEP_REQ_ISSUED;
    ri.decided_at = 5;
    ri.decided_by = "someone";
    ri.serial = "0A";
    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    assert_int_equal(scep_store_add_request(st, &ri, &ev, &id), 0);
    assert_true(id > 0);
    scep_store_close(st);
    st = NULL;

    /* Reopened: the request reached the disk. */
    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    assert_int_equal(scep_store_get_request(st, id, &a), 0);
    assert_int_equal(scep_store_get_request_by_transaction(st, "TX-ROUND", &b), 0);
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
     * be NULL. */
    ri = req_info("TX-SPARSE", NULL, csr, len);
    ri.sans = ri.pubkey_fp = ri.msg_type = ri.requester = NULL;
    ri.created_at = 0;
    int64_t before = (int64_t)time(NULL);
    assert_int_equal(scep_store_add_request(st, &ri, NULL, NULL), 0);
    assert_int_equal(scep_store_get_request_by_transaction(st, "TX-SPARSE", &a), 0);
    assert_null(a->subject);
    assert_null(a->sans);
    assert_null(a->pubkey_fp);
    assert_null(a->msg_type);
    assert_null(a->requester);
    assert_true(a->created_at >= before && a->created_at <= (int64_t)time(NULL));
    assert_true(a->id > id);
    scep_request_info_free(a);
    a = NULL;

    assert_int_equal(scep_store_add_request(st, &ri, NULL, &id2), SCEP_ERR_EXISTS);
    assert_int_equal(id2, 0); /* outputs set only on success */
    assert_int_equal(scep_store_get_request(st, 9999, &a), SCEP_ERR_NOT_FOUND);
    assert_null(a);
    assert_int_equal(scep_store_get_request_by_transaction(st, "TX-NONE", &a), SCEP_ERR_NOT_FOUND);
    assert_null(a);

    /* Required fields. */
    ri = req_info("", "CN=x", csr, len);
    assert_int_equal(scep_store_add_request(st, &ri, NULL, NULL), SCEP_ERR_INVALID_ARG);
    ri = req_info("TX-NOCSR", "CN=x", NULL, 0);
    assert_int_equal(scep_store_add_request(st, &ri, NULL, NULL), SCEP_ERR_INVALID_ARG);
    assert_int_equal(ts_audit_count(st), 1);
    assert_audit_intact(st);
    scep_store_close(st);
    free(csr);
}

static void test_duplicate_transaction(void **state)
{
    struct ts_db *d = *state;
    struct scep_store *st = NULL;
    struct scep_request_info *got = NULL;
    size_t len = 0;
    unsigned char *csr = csr_der("dup", &len);
    struct scep_request_info ri = req_info("TX-DUP", "CN=second", csr, len);
    struct scep_audit_event ev = {.kind = "request-pending", .actor = "scepd"};
    int64_t id;

    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    id = add_req(st, "TX-DUP", "CN=first");
    assert_int_equal(ts_audit_count(st), 1);
    assert_int_equal(scep_store_add_request(st, &ri, &ev, NULL), SCEP_ERR_EXISTS);
    assert_non_null(strstr(scep_store_last_error(st), "TX-DUP"));
    /* Nothing written: no second row, no audit event, the first intact. */
    assert_int_equal(ts_audit_count(st), 1);
    assert_int_equal(scep_store_get_request_by_transaction(st, "TX-DUP", &got), 0);
    assert_int_equal(got->id, id);
    assert_string_equal(got->subject, "CN=first");
    scep_request_info_free(got);
    assert_audit_intact(st);
    scep_store_close(st);
    assert_int_equal(ts_raw_int(d->path, "SELECT count(*) FROM requests"), 1);
    free(csr);
}

struct collect {
    int n;
    int64_t ids[8];
    int stop_after; /* 0: never */
};

static int collect_cb(const struct scep_request_info *ri, void *arg)
{
    struct collect *c = arg;

    assert_non_null(ri->csr_der);
    assert_true(c->n < 8);
    c->ids[c->n++] = ri->id;
    if (c->stop_after > 0 && c->n == c->stop_after)
        return 42;
    return 0;
}

/* Decides another request from inside the walk: the list statement must
 * not be one the decision reuses. */
static int approve_in_walk_cb(const struct scep_request_info *ri, void *arg)
{
    struct scep_store *st = arg;

    return scep_store_decide_request(st, ri->id, SCEP_REQ_APPROVED, "scepctl:walker", NULL, NULL);
}

static void test_list_by_status(void **state)
{
    struct ts_db *d = *state;
    struct scep_store *st = NULL;
    struct collect c;
    int64_t a, b, e, f;

    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    memset(&c, 0, sizeof(c));
    assert_int_equal(scep_store_list_requests(st, -1, collect_cb, &c), 0);
    assert_int_equal(c.n, 0);

    a = add_req(st, "TX-A", "CN=a");
    b = add_req(st, "TX-B", "CN=b");
    e = add_req(st, "TX-E", "CN=e");
    f = add_req(st, "TX-F", "CN=f");
    assert_int_equal(
        scep_store_decide_request(st, b, SCEP_REQ_APPROVED, "scepctl:root", NULL, NULL), 0);
    assert_int_equal(
        scep_store_decide_request(st, e, SCEP_REQ_REJECTED, "scepctl:root", "unknown host", NULL),
        0);

    memset(&c, 0, sizeof(c));
    assert_int_equal(scep_store_list_requests(st, SCEP_REQ_PENDING, collect_cb, &c), 0);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.ids[0], a); /* oldest first */
    assert_int_equal(c.ids[1], f);
    memset(&c, 0, sizeof(c));
    assert_int_equal(scep_store_list_requests(st, SCEP_REQ_APPROVED, collect_cb, &c), 0);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.ids[0], b);
    memset(&c, 0, sizeof(c));
    assert_int_equal(scep_store_list_requests(st, SCEP_REQ_REJECTED, collect_cb, &c), 0);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.ids[0], e);
    memset(&c, 0, sizeof(c));
    assert_int_equal(scep_store_list_requests(st, SCEP_REQ_ISSUED, collect_cb, &c), 0);
    assert_int_equal(c.n, 0);
    memset(&c, 0, sizeof(c));
    assert_int_equal(scep_store_list_requests(st, -1, collect_cb, &c), 0);
    assert_int_equal(c.n, 4);
    assert_int_equal(c.ids[0], a);
    assert_int_equal(c.ids[3], f);

    /* A non-zero callback value stops the walk and comes back. */
    memset(&c, 0, sizeof(c));
    c.stop_after = 2;
    assert_int_equal(scep_store_list_requests(st, -1, collect_cb, &c), 42);
    assert_int_equal(c.n, 2);

    assert_int_equal(scep_store_list_requests(st, 4, collect_cb, &c), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_list_requests(st, -2, collect_cb, &c), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_list_requests(st, -1, NULL, &c), SCEP_ERR_INVALID_ARG);

    /* Deciding from inside the walk works (approve every pending one). */
    assert_int_equal(scep_store_list_requests(st, SCEP_REQ_PENDING, approve_in_walk_cb, st), 0);
    memset(&c, 0, sizeof(c));
    assert_int_equal(scep_store_list_requests(st, SCEP_REQ_APPROVED, collect_cb, &c), 0);
    assert_int_equal(c.n, 3);
    assert_audit_intact(st);
    scep_store_close(st);
}

static void test_decide(void **state)
{
    struct ts_db *d = *state;
    struct scep_store *st = NULL;
    struct scep_request_info *got = NULL;
    struct scep_audit_event ev = {
        .kind = "request-approve", .actor = "scepctl:alice", .transaction_id = "TX-1"};
    struct scep_audit_event rev = {.kind = "request-reject",
                                   .actor = "scepctl:bob",
                                   .transaction_id = "TX-2",
                                   .detail = "not ours"};
    int64_t r1, r2, before = (int64_t)time(NULL);
    int n;

    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    r1 = add_req(st, "TX-1", "CN=one");
    r2 = add_req(st, "TX-2", "CN=two");
    n = ts_audit_count(st);

    assert_int_equal(
        scep_store_decide_request(st, r1, SCEP_REQ_APPROVED, "scepctl:alice", NULL, &ev), 0);
    assert_int_equal(
        scep_store_decide_request(st, r2, SCEP_REQ_REJECTED, "scepctl:bob", "not ours", &rev), 0);
    assert_int_equal(ts_audit_count(st), n + 2);
    scep_store_close(st);
    st = NULL;

    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    assert_int_equal(scep_store_get_request(st, r1, &got), 0);
    assert_int_equal(got->status, SCEP_REQ_APPROVED);
    assert_string_equal(got->decided_by, "scepctl:alice");
    assert_null(got->reason);
    assert_true(got->decided_at >= before && got->decided_at <= (int64_t)time(NULL));
    assert_null(got->serial);
    scep_request_info_free(got);
    assert_int_equal(scep_store_get_request(st, r2, &got), 0);
    assert_int_equal(got->status, SCEP_REQ_REJECTED);
    assert_string_equal(got->decided_by, "scepctl:bob");
    assert_string_equal(got->reason, "not ours");
    assert_true(got->decided_at >= before);
    scep_request_info_free(got);

    /* A second decision, either way, is refused with nothing written. */
    n = ts_audit_count(st);
    assert_int_equal(
        scep_store_decide_request(st, r1, SCEP_REQ_REJECTED, "scepctl:eve", "late", &rev),
        SCEP_ERR_EXISTS);
    assert_int_equal(scep_store_decide_request(st, r1, SCEP_REQ_APPROVED, "scepctl:eve", NULL, &ev),
                     SCEP_ERR_EXISTS);
    assert_int_equal(scep_store_decide_request(st, r2, SCEP_REQ_APPROVED, "scepctl:eve", NULL, &ev),
                     SCEP_ERR_EXISTS);
    assert_int_equal(
        scep_store_decide_request(st, 12345, SCEP_REQ_APPROVED, "scepctl:eve", NULL, &ev),
        SCEP_ERR_NOT_FOUND);
    assert_int_equal(ts_audit_count(st), n);
    assert_int_equal(scep_store_get_request(st, r1, &got), 0);
    assert_int_equal(got->status, SCEP_REQ_APPROVED);
    assert_string_equal(got->decided_by, "scepctl:alice");
    scep_request_info_free(got);

    /* Only APPROVED and REJECTED are decisions; an actor is required. */
    r1 = add_req(st, "TX-3", "CN=three");
    assert_int_equal(scep_store_decide_request(st, r1, SCEP_REQ_ISSUED, "scepctl:a", NULL, NULL),
                     SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_decide_request(st, r1, SCEP_REQ_PENDING, "scepctl:a", NULL, NULL),
                     SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_decide_request(st, r1, SCEP_REQ_APPROVED, NULL, NULL, NULL),
                     SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_get_request(st, r1, &got), 0);
    assert_int_equal(got->status, SCEP_REQ_PENDING);
    scep_request_info_free(got);
    assert_audit_intact(st);
    scep_store_close(st);
}

/* An approved request whose transactionID already has a certificate
 * (issued meanwhile by another path) is not issued a second time: the
 * store refuses with TRANSID_REUSE and writes nothing. */
static void test_issue_request_transaction_taken(void **state)
{
    struct ts_db *d = *state;
    struct scep_store *st = NULL;
    struct scep_request_info *got = NULL;
    struct scep_cert_info *cert = NULL;
    size_t der_len = 0;
    unsigned char *der = ts_cert_der("taken", &der_len);
    struct scep_cert_info ci = ts_info("5A5B", "CN=taken", der, der_len);
    struct scep_audit_event ev = {
        .kind = "issue", .actor = "scepd", .serial = "5A5B", .transaction_id = "TX-TAKEN"};
    int64_t id;
    int n;

    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    id = add_req(st, "TX-TAKEN", "CN=taken");
    assert_int_equal(
        scep_store_decide_request(st, id, SCEP_REQ_APPROVED, "scepctl:root", NULL, NULL), 0);
    ci.transaction_id = "TX-TAKEN";
    assert_int_equal(scep_store_insert_cert(st, &ci, &ev), 0);
    n = ts_audit_count(st);
    ci.serial = "5C5D";
    assert_int_equal(scep_store_issue_request(st, id, &ci, &ev), SCEP_ERR_TRANSID_REUSE);
    assert_int_equal(ts_audit_count(st), n);
    assert_int_equal(scep_store_get_cert(st, "5C5D", &cert), SCEP_ERR_NOT_FOUND);
    assert_int_equal(scep_store_get_request(st, id, &got), 0);
    assert_int_equal(got->status, SCEP_REQ_APPROVED);
    assert_null(got->serial);
    scep_request_info_free(got);
    assert_audit_intact(st);
    scep_store_close(st);
    free(der);
}

static void test_issue_request(void **state)
{
    struct ts_db *d = *state;
    struct scep_store *st = NULL;
    struct scep_request_info *got = NULL;
    struct scep_cert_info *cert = NULL;
    size_t der_len = 0;
    unsigned char *der = ts_cert_der("issued", &der_len);
    struct scep_cert_info ci = ts_info("0A0B", "CN=issued", der, der_len);
    struct scep_audit_event ev = {
        .kind = "issue", .actor = "scepd", .serial = "0A0B", .transaction_id = "TX-OK"};
    int64_t ok, pend, rej, dup;
    int n;

    ci.transaction_id = "TX-OK";
    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    ok = add_req(st, "TX-OK", "CN=issued");
    pend = add_req(st, "TX-PEND", "CN=pend");
    rej = add_req(st, "TX-REJ", "CN=rej");
    dup = add_req(st, "TX-DUPSERIAL", "CN=dup");
    assert_int_equal(
        scep_store_decide_request(st, ok, SCEP_REQ_APPROVED, "scepctl:root", NULL, NULL), 0);
    assert_int_equal(
        scep_store_decide_request(st, rej, SCEP_REQ_REJECTED, "scepctl:root", "no", NULL), 0);
    n = ts_audit_count(st);

    /* Not approved, or unknown: refused, nothing written. */
    assert_int_equal(scep_store_issue_request(st, pend, &ci, &ev), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_issue_request(st, rej, &ci, &ev), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_issue_request(st, 777, &ci, &ev), SCEP_ERR_NOT_FOUND);
    assert_int_equal(scep_store_get_cert(st, "0A0B", &cert), SCEP_ERR_NOT_FOUND);
    assert_int_equal(ts_audit_count(st), n);

    /* Approved: certificate and request change together. */
    assert_int_equal(scep_store_issue_request(st, ok, &ci, &ev), 0);
    assert_int_equal(ts_audit_count(st), n + 1);
    scep_store_close(st);
    st = NULL;
    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    assert_int_equal(scep_store_get_cert(st, "0A0B", &cert), 0);
    assert_string_equal(cert->subject, "CN=issued");
    assert_string_equal(cert->transaction_id, "TX-OK");
    assert_int_equal(cert->der_len, der_len);
    assert_memory_equal(cert->der, der, der_len);
    scep_cert_info_free(cert);
    cert = NULL;
    assert_int_equal(scep_store_get_request(st, ok, &got), 0);
    assert_int_equal(got->status, SCEP_REQ_ISSUED);
    assert_string_equal(got->serial, "0A0B");
    assert_string_equal(got->decided_by, "scepctl:root");
    scep_request_info_free(got);
    got = NULL;

    /* Issued once: a second issue is refused (not APPROVED any more). */
    ci.serial = "0C0D";
    assert_int_equal(scep_store_issue_request(st, ok, &ci, NULL), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_get_cert(st, "0C0D", &cert), SCEP_ERR_NOT_FOUND);

    /* A duplicate serial: EXISTS, and the request is still APPROVED with
     * no serial, and no audit event. */
    assert_int_equal(
        scep_store_decide_request(st, dup, SCEP_REQ_APPROVED, "scepctl:root", NULL, NULL), 0);
    n = ts_audit_count(st);
    ci.serial = "0A0B";
    ci.subject = "CN=dup";
    ci.transaction_id = "TX-DUPSERIAL";
    assert_int_equal(scep_store_issue_request(st, dup, &ci, &ev), SCEP_ERR_EXISTS);
    assert_int_equal(ts_audit_count(st), n);
    assert_int_equal(scep_store_get_request(st, dup, &got), 0);
    assert_int_equal(got->status, SCEP_REQ_APPROVED);
    assert_null(got->serial);
    scep_request_info_free(got);
    got = NULL;
    assert_int_equal(scep_store_get_cert(st, "0A0B", &cert), 0);
    assert_string_equal(cert->subject, "CN=issued");
    scep_cert_info_free(cert);
    cert = NULL;

    /* Certificate checks as for insert_cert. */
    ci.serial = "0E0F";
    ci.der = NULL;
    assert_int_equal(scep_store_issue_request(st, dup, &ci, NULL), SCEP_ERR_INVALID_ARG);
    ci.der = der;
    ci.subject = NULL;
    assert_int_equal(scep_store_issue_request(st, dup, &ci, NULL), SCEP_ERR_INVALID_ARG);
    ci.subject = "CN=dup";

    /* And then it issues with a fresh serial. */
    assert_int_equal(scep_store_issue_request(st, dup, &ci, NULL), 0);
    assert_int_equal(scep_store_get_request(st, dup, &got), 0);
    assert_int_equal(got->status, SCEP_REQ_ISSUED);
    assert_string_equal(got->serial, "0E0F");
    scep_request_info_free(got);
    assert_audit_intact(st);
    scep_store_close(st);
    free(der);
}

/*
 * A version 1 database (certificates, audit, CRL numbers; no requests)
 * is upgraded in place.  It is made from a current one by undoing step
 * 2, which leaves exactly what step 1 created plus SQLite's own
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
    ts_raw_exec(d->path, "DROP INDEX certificates_issuer_fp; DROP TABLE requests;"
                         " DELETE FROM schema_version WHERE version >= 2;");
    assert_int_equal(ts_raw_int(d->path, "SELECT max(version) FROM schema_version"), 1);
    assert_int_equal(ts_raw_int(d->path, "SELECT count(*) FROM sqlite_master WHERE name = 'requests'"),
                     0);

    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    assert_int_equal(scep_store_schema_version(st), 3);
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
    assert_int_equal(ts_raw_int(d->path, "SELECT count(*) FROM schema_version"), 3);
    free(der);
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
        cmocka_unit_test_setup_teardown(test_fresh_db_is_v2, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_round_trip, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_transaction, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_list_by_status, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_decide, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_issue_request, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_issue_request_transaction_taken, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_v1_upgraded, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_schema_checks_status, ts_setup, ts_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
