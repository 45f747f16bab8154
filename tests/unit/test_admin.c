/*
 * lib/admin: the operations every front end calls.  Revocation and
 * decisions with their rules and audit events, serial and reason
 * parsing, and the one CRL builder: which entries a CA's CRL lists, that
 * an archived CA's CRL is signed by the archived CA, and the digest that
 * tells a publisher when a CRL changed.  Runs against a
 * real CA in a temp directory and a real SQLite store.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/x509.h>

#include <scep/error.h>

#include "admin/admin.h"
#include "ca/ca.h"
#include "store/store.h"
#include "testutil.h"

struct fx {
    char *dir;
    struct scep_ca *ca;
    struct scep_store *st;
    char ca_fp[65];
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
    assert_int_equal(scep_cert_fingerprint(scep_ca_get0_cert(f->ca), f->ca_fp), 0);
    snprintf(uri, sizeof(uri), "sqlite:%s/store.db", f->dir);
    assert_int_equal(scep_store_open(uri, &f->st, NULL, 0), 0);
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

#define NOT_REVOKED (-9)
#define FUTURE ((int64_t)4102444800) /* 2100 */

/* Stores a certificate record with serial, issuer_fp, status and
 * notAfter; its DER is a throwaway self-signed certificate. */
static void put(struct fx *f, const char *serial, const char *issuer_fp, int revoked_reason,
                int64_t not_after)
{
    EVP_PKEY *k = tu_ec_key();
    X509 *x = tu_self_signed(k, serial);
    unsigned char *der = NULL;
    int n = i2d_X509(x, &der);
    struct scep_cert_info ci;

    assert_true(n > 0);
    memset(&ci, 0, sizeof(ci));
    ci.serial = (char *)serial;
    ci.issuer_fp = (char *)issuer_fp;
    ci.subject = "CN=admin-test";
    ci.not_before = 1000;
    ci.not_after = not_after;
    ci.issued_at = 1000;
    ci.status = SCEP_CERT_VALID;
    ci.revocation_reason = -1;
    ci.der = der;
    ci.der_len = (size_t)n;
    assert_int_equal(scep_store_insert_cert(f->st, &ci, NULL), 0);
    if (revoked_reason != NOT_REVOKED)
        assert_int_equal(scep_store_revoke(f->st, serial, revoked_reason, 2000, NULL), 0);
    OPENSSL_free(der);
    X509_free(x);
    EVP_PKEY_free(k);
}

struct kind_count {
    const char *kind;
    int n;
};

static int count_kind_cb(const struct scep_audit_event *ev, void *arg)
{
    struct kind_count *k = arg;

    if (strcmp(ev->kind, k->kind) == 0)
        k->n++;
    return 0;
}

/* Number of audit events of kind. */
static int count_kind(struct fx *f, const char *kind)
{
    struct kind_count k = {kind, 0};

    assert_int_equal(scep_admin_list_audit(f->st, 0, count_kind_cb, &k), 0);
    return k.n;
}

/* 1 when crl lists serial (hex). */
static int crl_lists(X509_CRL *crl, const char *hex)
{
    STACK_OF(X509_REVOKED) *revs = X509_CRL_get_REVOKED(crl);
    BIGNUM *want = NULL;
    int found = 0;

    assert_true(BN_hex2bn(&want, hex) > 0);
    for (int i = 0; i < sk_X509_REVOKED_num(revs); i++) {
        BIGNUM *bn = ASN1_INTEGER_to_BN(
            X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revs, i)), NULL);
        found |= BN_cmp(bn, want) == 0;
        BN_free(bn);
    }
    BN_free(want);
    return found;
}

static void test_reasons(void **state)
{
    (void)state;
    assert_string_equal(scep_crl_reason_name(1), "keyCompromise");
    assert_string_equal(scep_crl_reason_name(6), "certificateHold");
    assert_null(scep_crl_reason_name(-1));
    assert_null(scep_crl_reason_name(7));
    assert_null(scep_crl_reason_name(8));
    assert_int_equal(scep_crl_reason_code("KEYCOMPROMISE"), 1);
    assert_int_equal(scep_crl_reason_code("superseded"), 4);
    assert_int_equal(scep_crl_reason_code("removeFromCRL"), -2);
    assert_int_equal(scep_crl_reason_code(NULL), -2);
}

static void test_normalize_serial(void **state)
{
    char out[SCEP_ADMIN_SERIAL_MAX + 1], tiny[4];

    (void)state;
    assert_int_equal(scep_admin_normalize_serial("0x0a:1B", out, sizeof(out)), 0);
    assert_string_equal(out, "0A1B");
    assert_int_equal(scep_admin_normalize_serial("", out, sizeof(out)), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_admin_normalize_serial("0x", out, sizeof(out)), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_admin_normalize_serial("12 34", out, sizeof(out)), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_admin_normalize_serial("abcd", tiny, sizeof(tiny)), SCEP_ERR_INVALID_ARG);
}

static void test_revoke_rules(void **state)
{
    struct fx *f = *state;
    struct scep_cert_info *ci = NULL;

    put(f, "0A01", f->ca_fp, NOT_REVOKED, FUTURE);
    assert_int_equal(scep_admin_revoke(f->st, "test", "0B99", 1, 3000, NULL), SCEP_ERR_NOT_FOUND);
    assert_int_equal(scep_admin_revoke(f->st, "test", "0A01", 7, 3000, NULL), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_admin_revoke(f->st, "test", "0A01", 8, 3000, NULL), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_admin_revoke(f->st, "test", "nothex", 1, 3000, NULL),
                     SCEP_ERR_INVALID_ARG);
    assert_int_equal(count_kind(f, "revoke"), 0);
    assert_int_equal(scep_admin_revoke(f->st, "test", "0a:01", 1, 3000, &ci), 0);
    assert_int_equal(ci->status, SCEP_CERT_REVOKED);
    assert_int_equal(ci->revocation_reason, 1);
    scep_cert_info_free(ci);
    ci = NULL;
    assert_int_equal(scep_store_get_cert(f->st, "0A01", &ci), 0);
    assert_int_equal(ci->status, SCEP_CERT_REVOKED);
    assert_int_equal(ci->revoked_at, 3000);
    scep_cert_info_free(ci);
    assert_int_equal(scep_admin_revoke(f->st, "test", "0A01", 4, 4000, NULL), SCEP_ERR_EXISTS);
    assert_int_equal(count_kind(f, "revoke"), 1);
}

static void test_unhold_rules(void **state)
{
    struct fx *f = *state;
    struct scep_cert_info *ci = NULL;

    put(f, "0E01", f->ca_fp, SCEP_CRL_REASON_HOLD, FUTURE);
    put(f, "0E02", f->ca_fp, 1, FUTURE);
    put(f, "0E03", f->ca_fp, NOT_REVOKED, FUTURE);
    assert_int_equal(scep_admin_unhold(f->st, "test", "0E02", NULL), SCEP_ERR_POLICY);
    assert_int_equal(scep_admin_unhold(f->st, "test", "0E03", NULL), SCEP_ERR_POLICY);
    assert_int_equal(scep_admin_unhold(f->st, "test", "0E99", NULL), SCEP_ERR_NOT_FOUND);
    assert_int_equal(count_kind(f, "unhold"), 0);
    assert_int_equal(scep_admin_unhold(f->st, "test", "0e:01", &ci), 0);
    assert_int_equal(ci->status, SCEP_CERT_VALID);
    scep_cert_info_free(ci);
    ci = NULL;
    assert_int_equal(scep_store_get_cert(f->st, "0E01", &ci), 0);
    assert_int_equal(ci->status, SCEP_CERT_VALID);
    assert_int_equal(ci->revocation_reason, -1);
    assert_int_equal(ci->revoked_at, 0);
    scep_cert_info_free(ci);
    assert_int_equal(scep_admin_unhold(f->st, "test", "0E01", NULL), SCEP_ERR_POLICY);
    assert_int_equal(count_kind(f, "unhold"), 1);
    /* Valid again means revocable again. */
    assert_int_equal(scep_admin_revoke(f->st, "test", "0E01", 4, 5000, NULL), 0);
}

static void test_decide_rules(void **state)
{
    struct fx *f = *state;
    struct scep_request_info ri, *got = NULL, *found = NULL;
    char long_reason[SCEP_ADMIN_REASON_MAX + 2];
    int64_t id = 0;

    memset(&ri, 0, sizeof(ri));
    ri.transaction_id = "TX-ADMIN-1";
    ri.subject = "CN=pending";
    ri.msg_type = "PKCSReq";
    ri.requester = "127.0.0.1";
    ri.created_at = 1000;
    ri.csr_der = (unsigned char *)"x";
    ri.csr_len = 1;
    assert_int_equal(scep_store_add_request(f->st, &ri, NULL, &id), 0);

    assert_int_equal(scep_admin_find_request(f->st, "TX-ADMIN-1", &found), 0);
    assert_int_equal(found->id, id);
    scep_request_info_free(found);
    found = NULL;
    assert_int_equal(scep_admin_find_request(f->st, "0", &found), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_admin_find_request(f->st, "99999999999999999999", &found),
                     SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_admin_find_request(f->st, "", &found), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_admin_find_request(f->st, "4242", &found), SCEP_ERR_NOT_FOUND);

    memset(long_reason, 'r', sizeof(long_reason) - 1);
    long_reason[sizeof(long_reason) - 1] = '\0';
    assert_int_equal(scep_admin_decide(f->st, "test", id, SCEP_REQ_REJECTED, "two\nlines", NULL),
                     SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_admin_decide(f->st, "test", id, SCEP_REQ_REJECTED, long_reason, NULL),
                     SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_admin_decide(f->st, "test", id, SCEP_REQ_ISSUED, NULL, NULL),
                     SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_admin_decide(f->st, "test", id + 100, SCEP_REQ_APPROVED, NULL, NULL),
                     SCEP_ERR_NOT_FOUND);
    assert_int_equal(count_kind(f, "request-approve"), 0);
    assert_int_equal(scep_admin_decide(f->st, "alice", id, SCEP_REQ_APPROVED, NULL, &got), 0);
    assert_int_equal(got->status, SCEP_REQ_APPROVED);
    assert_string_equal(got->decided_by, "alice");
    scep_request_info_free(got);
    assert_int_equal(scep_admin_decide(f->st, "bob", id, SCEP_REQ_REJECTED, "late", NULL),
                     SCEP_ERR_EXISTS);
    assert_int_equal(count_kind(f, "request-approve"), 1);
    assert_int_equal(count_kind(f, "request-reject"), 0);
}

static void test_crl_lists_own_revoked_unexpired(void **state)
{
    struct fx *f = *state;
    struct scep_admin_crl_info info;
    X509_CRL *crl = NULL;
    int64_t now = (int64_t)time(NULL);

    put(f, "0C01", f->ca_fp, 1, FUTURE);           /* listed */
    put(f, "0C02", f->ca_fp, NOT_REVOKED, FUTURE); /* valid */
    put(f, "0C03", "ff00ff00", 1, FUTURE);         /* another CA's */
    put(f, "0C04", f->ca_fp, -1, now - 10);        /* revoked, expired */
    put(f, "0C05", NULL, 6, FUTURE);               /* no issuer: the current CA's */
    assert_int_equal(scep_admin_make_crl(f->st, f->ca, NULL, 3600, "test", &crl, &info), 0);
    assert_int_equal(info.entries, 2);
    assert_string_equal(info.issuer_fp, f->ca_fp);
    assert_true(crl_lists(crl, "0C01"));
    assert_true(crl_lists(crl, "0C05"));
    assert_false(crl_lists(crl, "0C02"));
    assert_false(crl_lists(crl, "0C03"));
    assert_false(crl_lists(crl, "0C04"));
    assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(scep_ca_get0_cert(f->ca))), 1);
    assert_int_equal(count_kind(f, "crl"), 1);
    X509_CRL_free(crl);
    crl = NULL;

    /* No actor: no audit event (GetCRL); the number still grows. */
    assert_int_equal(scep_admin_make_crl(f->st, f->ca, NULL, 3600, NULL, &crl, &info), 0);
    assert_int_equal(count_kind(f, "crl"), 1);
    assert_true(info.number >= 2);
    X509_CRL_free(crl);
    assert_int_equal(scep_admin_make_crl(f->st, f->ca, NULL, 0, NULL, &crl, NULL),
                     SCEP_ERR_INVALID_ARG);
}

static void test_crl_of_archived_ca(void **state)
{
    struct fx *f = *state;
    struct scep_ca_init_opts o = {.rsa_bits = 2048};
    struct scep_admin_crl_info info;
    X509 *old = NULL, *prev = NULL, *byfp = NULL;
    X509_CRL *crl = NULL;
    unsigned char *pem = NULL;
    size_t pem_len = 0;
    char old_fp[65], prefix[17];

    put(f, "0D01", f->ca_fp, 1, FUTURE);
    old = X509_dup(scep_ca_get0_cert(f->ca));
    memcpy(old_fp, f->ca_fp, sizeof(old_fp));
    /* Roll over now: the reload promotes the next CA and archives this one. */
    assert_int_equal(scep_ca_find_issuer(f->ca, "previous", &prev), SCEP_ERR_NOT_FOUND);
    assert_int_equal(scep_ca_next_create(f->dir, &o, time(NULL) - 1), 0);
    scep_ca_free(f->ca);
    assert_int_equal(scep_ca_load(f->dir, &f->ca), 0);
    assert_int_equal(X509_cmp(scep_ca_get0_cert(f->ca), old) != 0, 1);
    assert_int_equal(scep_ca_archive_count(f->ca), 1);

    assert_int_equal(scep_ca_find_issuer(f->ca, "previous", &prev), 0);
    assert_int_equal(X509_cmp(prev, old), 0);
    memcpy(prefix, old_fp, 16);
    prefix[16] = '\0';
    assert_int_equal(scep_ca_find_issuer(f->ca, prefix, &byfp), 0);
    assert_ptr_equal(byfp, prev);
    assert_int_equal(scep_ca_find_issuer(f->ca, "abc", &byfp), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_ca_find_issuer(f->ca, "not-hex!", &byfp), SCEP_ERR_INVALID_ARG);

    /* The archived CA's CRL: its serial, its signature. */
    assert_int_equal(scep_admin_make_crl(f->st, f->ca, prev, 3600, "test", &crl, &info), 0);
    assert_string_equal(info.issuer_fp, old_fp);
    assert_true(crl_lists(crl, "0D01"));
    assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(old)), 1);
    assert_int_not_equal(X509_CRL_verify(crl, X509_get0_pubkey(scep_ca_get0_cert(f->ca))), 1);
    assert_int_equal(X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(old)), 0);
    X509_CRL_free(crl);
    crl = NULL;

    /* The current CA's CRL does not list the archived CA's serial. */
    assert_int_equal(scep_admin_make_crl(f->st, f->ca, NULL, 3600, NULL, &crl, &info), 0);
    assert_false(crl_lists(crl, "0D01"));
    assert_int_equal(info.entries, 0);
    assert_int_equal(scep_admin_crl_encode(crl, 1, &pem, &pem_len), 0);
    assert_true(pem_len > 20 && memcmp(pem, "-----BEGIN X509 CRL", 19) == 0);
    free(pem);
    X509_CRL_free(crl);
    X509_free(old);
}

/* The digest follows what the CRL would list: revocations, unholds and
 * expiries change it; other CAs' records and valid ones do not. */
static void test_crl_digest(void **state)
{
    struct fx *f = *state;
    unsigned char d0[32], d1[32], d2[32];

    assert_int_equal(scep_admin_crl_digest(f->st, f->ca, NULL, d0), 0);
    put(f, "0F01", f->ca_fp, NOT_REVOKED, FUTURE);
    put(f, "0F02", "00ff", 1, FUTURE); /* another CA's */
    put(f, "0F03", f->ca_fp, 1, 1500); /* expired */
    assert_int_equal(scep_admin_crl_digest(f->st, f->ca, NULL, d1), 0);
    assert_memory_equal(d0, d1, sizeof(d0));
    put(f, "0F04", f->ca_fp, SCEP_CRL_REASON_HOLD, FUTURE);
    assert_int_equal(scep_admin_crl_digest(f->st, f->ca, NULL, d1), 0);
    assert_memory_not_equal(d0, d1, sizeof(d0));
    assert_int_equal(scep_admin_crl_digest(f->st, f->ca, NULL, d2), 0);
    assert_memory_equal(d1, d2, sizeof(d1));
    assert_int_equal(scep_admin_unhold(f->st, "test", "0F04", NULL), 0);
    assert_int_equal(scep_admin_crl_digest(f->st, f->ca, NULL, d2), 0);
    assert_memory_equal(d0, d2, sizeof(d0));
    assert_int_equal(scep_admin_crl_digest(NULL, f->ca, NULL, d2), SCEP_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reasons),
        cmocka_unit_test(test_normalize_serial),
        cmocka_unit_test_setup_teardown(test_revoke_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unhold_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decide_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crl_lists_own_revoked_unexpired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crl_of_archived_ca, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crl_digest, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
