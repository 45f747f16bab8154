/*
 * lib/admin/ocsp.c: the OCSP responder's core.  Requests are built with
 * OpenSSL's client side (OCSP_cert_to_id, OCSP_request_add0_id,
 * OCSP_request_add1_nonce) and the answers read back with OCSP_resp_find_status
 * and OCSP_basic_verify, as a relying party would: good, revoked with
 * time and reason, unknown (never issued, or issued by another of our
 * CAs), unauthorized (an issuer we do not hold), malformedRequest
 * (garbage, trailing bytes, too many CertIDs), the nonce echoed, and an
 * archived CA's certificates answered and signed by that CA; signed
 * answers reused from the response cache until the status changes.  Runs
 * against a real CA in a temp directory and a real SQLite store.
 */
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

#include <openssl/bn.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <scep/error.h>

#include "admin/admin.h"
#include "ca/ca.h"
#include "common/server_limits.h"
#include "store/store.h"
#include "testutil.h"

struct fx {
    char *dir;
    struct scep_ca *ca;
    struct scep_store *st;
    struct scep_ocsp_cache *cache; /* NULL unless a test makes one */
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

    scep_ocsp_cache_free(f->cache);
    scep_store_close(f->st);
    scep_ca_free(f->ca);
    tu_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

#define NOT_REVOKED (-9)
#define FUTURE ((int64_t)4102444800) /* 2100 */
#define REVOKED_AT ((int64_t)1700000000)

/* Stores a record for serial (hex) issued by the CA whose fingerprint is
 * issuer_fp, revoked with reason at REVOKED_AT unless NOT_REVOKED. */
static void put(struct fx *f, const char *serial, const char *issuer_fp, int revoked_reason)
{
    static const unsigned char der[1] = {0x30};
    struct scep_cert_info ci;

    memset(&ci, 0, sizeof(ci));
    ci.serial = (char *)serial;
    ci.issuer_fp = (char *)issuer_fp;
    ci.subject = "CN=ocsp-test";
    ci.not_before = 1000;
    ci.not_after = FUTURE;
    ci.issued_at = 1000;
    ci.revocation_reason = -1;
    ci.der = (unsigned char *)der;
    ci.der_len = sizeof(der);
    assert_int_equal(scep_store_insert_cert(f->st, &ci, NULL), 0);
    if (revoked_reason != NOT_REVOKED)
        assert_int_equal(scep_store_revoke(f->st, serial, revoked_reason, REVOKED_AT, NULL), 0);
}

/* A CertID for serial (hex) under issuer, hashed with md. */
static OCSP_CERTID *cert_id(X509 *issuer, const char *serial, const EVP_MD *md)
{
    ASN1_INTEGER *sn;
    BIGNUM *bn = NULL;
    OCSP_CERTID *id;

    assert_true(BN_hex2bn(&bn, serial) > 0);
    sn = BN_to_ASN1_INTEGER(bn, NULL);
    assert_non_null(sn);
    id = OCSP_cert_id_new(md, X509_get_subject_name(issuer), X509_get0_pubkey_bitstr(issuer), sn);
    assert_non_null(id);
    ASN1_INTEGER_free(sn);
    BN_free(bn);
    return id;
}

/* DER of a request for the n serials under issuer, with a nonce when
 * nonce is set.  free() the result. */
static unsigned char *request(X509 *issuer, const char *const *serials, int n, int nonce,
                              size_t *len)
{
    OCSP_REQUEST *req = OCSP_REQUEST_new();
    unsigned char *der = NULL, *p;
    int i, l;

    assert_non_null(req);
    for (i = 0; i < n; i++)
        assert_non_null(OCSP_request_add0_id(req, cert_id(issuer, serials[i], EVP_sha1())));
    if (nonce)
        assert_int_equal(OCSP_request_add1_nonce(req, NULL, 16), 1);
    l = i2d_OCSP_REQUEST(req, NULL);
    assert_true(l > 0);
    der = malloc((size_t)l);
    assert_non_null(der);
    p = der;
    assert_int_equal(i2d_OCSP_REQUEST(req, &p), l);
    *len = (size_t)l;
    OCSP_REQUEST_free(req);
    return der;
}

/* Answers der and returns the decoded response; *info filled. */
static OCSP_RESPONSE *answer(struct fx *f, const unsigned char *der, size_t len,
                             struct scep_ocsp_info *info)
{
    unsigned char *out = NULL;
    const unsigned char *p;
    size_t olen = 0;
    OCSP_RESPONSE *resp;

    assert_int_equal(
        scep_admin_ocsp_answer(f->st, f->ca, NULL, f->cache, der, len, 3600, &out, &olen, info), 0);
    p = out;
    resp = d2i_OCSP_RESPONSE(NULL, &p, (long)olen);
    assert_non_null(resp);
    assert_ptr_equal(p, out + olen);
    free(out);
    return resp;
}

/* The basic response of a successful resp, verified with issuer as
 * the only trust anchor. */
static OCSP_BASICRESP *verified_basic(OCSP_RESPONSE *resp, X509 *issuer)
{
    X509_STORE *trust = X509_STORE_new();
    OCSP_BASICRESP *bs;

    assert_int_equal(OCSP_response_status(resp), OCSP_RESPONSE_STATUS_SUCCESSFUL);
    bs = OCSP_response_get1_basic(resp);
    assert_non_null(bs);
    assert_non_null(trust);
    assert_int_equal(X509_STORE_add_cert(trust, issuer), 1);
    assert_int_equal(OCSP_basic_verify(bs, NULL, trust, 0), 1);
    X509_STORE_free(trust);
    return bs;
}

/* The status of serial under issuer in bs; *reason and *rev set. */
static int status_of(OCSP_BASICRESP *bs, X509 *issuer, const char *serial, int *reason, time_t *rev)
{
    OCSP_CERTID *id = cert_id(issuer, serial, EVP_sha1());
    ASN1_GENERALIZEDTIME *rt = NULL, *thisupd = NULL, *nextupd = NULL;
    int status = -1;
    struct tm tm;

    assert_int_equal(OCSP_resp_find_status(bs, id, &status, reason, &rt, &thisupd, &nextupd), 1);
    assert_non_null(thisupd);
    assert_non_null(nextupd);
    assert_int_equal(OCSP_check_validity(thisupd, nextupd, 300, -1), 1);
    if (rev != NULL) {
        *rev = 0;
        if (rt != NULL && ASN1_TIME_to_tm(rt, &tm) == 1)
            *rev = timegm(&tm);
    }
    OCSP_CERTID_free(id);
    return status;
}

static void test_good_revoked_unknown(void **state)
{
    struct fx *f = *state;
    static const char *const serials[] = {"0A01", "0A02", "0A03", "0A04"};
    X509 *ca = scep_ca_get0_cert(f->ca);
    struct scep_ocsp_info info;
    OCSP_RESPONSE *resp;
    OCSP_BASICRESP *bs;
    unsigned char *der;
    size_t len;
    time_t rev;
    int reason;

    put(f, "0A01", f->ca_fp, NOT_REVOKED);
    put(f, "0A02", f->ca_fp, 1);  /* keyCompromise */
    put(f, "0A03", f->ca_fp, -1); /* revoked without a reason */
    der = request(ca, serials, 4, 0, &len);
    resp = answer(f, der, len, &info);
    assert_int_equal(info.status, OCSP_RESPONSE_STATUS_SUCCESSFUL);
    assert_int_equal(info.cert_status, V_OCSP_CERTSTATUS_GOOD);
    assert_string_equal(info.serial, "0A01");
    assert_int_equal(info.count, 4);
    assert_int_equal(info.next_update - info.this_update, 3600);
    bs = verified_basic(resp, ca);
    assert_int_equal(status_of(bs, ca, "0A01", &reason, NULL), V_OCSP_CERTSTATUS_GOOD);
    assert_int_equal(status_of(bs, ca, "0A02", &reason, &rev), V_OCSP_CERTSTATUS_REVOKED);
    assert_int_equal(reason, OCSP_REVOKED_STATUS_KEYCOMPROMISE);
    assert_int_equal((int64_t)rev, REVOKED_AT);
    assert_int_equal(status_of(bs, ca, "0A03", &reason, NULL), V_OCSP_CERTSTATUS_REVOKED);
    assert_int_equal(reason, OCSP_REVOKED_STATUS_NOSTATUS);
    assert_int_equal(status_of(bs, ca, "0A04", &reason, NULL), V_OCSP_CERTSTATUS_UNKNOWN);
    /* No nonce asked, none sent. */
    assert_true(OCSP_BASICRESP_get_ext_by_NID(bs, NID_id_pkix_OCSP_Nonce, -1) < 0);
    OCSP_BASICRESP_free(bs);
    OCSP_RESPONSE_free(resp);
    free(der);
}

static void test_nonce_echoed(void **state)
{
    struct fx *f = *state;
    static const char *const serials[] = {"0B01"};
    X509 *ca = scep_ca_get0_cert(f->ca);
    OCSP_REQUEST *req;
    OCSP_RESPONSE *resp;
    OCSP_BASICRESP *bs;
    const unsigned char *p;
    unsigned char *der;
    size_t len;

    put(f, "0B01", f->ca_fp, NOT_REVOKED);
    der = request(ca, serials, 1, 1, &len);
    p = der;
    req = d2i_OCSP_REQUEST(NULL, &p, (long)len);
    assert_non_null(req);
    resp = answer(f, der, len, NULL);
    bs = verified_basic(resp, ca);
    /* 1: both carry the same nonce. */
    assert_int_equal(OCSP_check_nonce(req, bs), 1);
    OCSP_BASICRESP_free(bs);
    OCSP_RESPONSE_free(resp);
    OCSP_REQUEST_free(req);
    free(der);
}

static void test_sha256_cert_id(void **state)
{
    struct fx *f = *state;
    X509 *ca = scep_ca_get0_cert(f->ca);
    OCSP_REQUEST *req = OCSP_REQUEST_new();
    OCSP_RESPONSE *resp;
    OCSP_BASICRESP *bs;
    OCSP_CERTID *id = cert_id(ca, "0C01", EVP_sha256());
    unsigned char *der = NULL;
    int n, status = -1, reason;

    put(f, "0C01", f->ca_fp, 4); /* superseded */
    assert_non_null(OCSP_request_add0_id(req, OCSP_CERTID_dup(id)));
    n = i2d_OCSP_REQUEST(req, &der);
    assert_true(n > 0);
    resp = answer(f, der, (size_t)n, NULL);
    bs = verified_basic(resp, ca);
    assert_int_equal(OCSP_resp_find_status(bs, id, &status, &reason, NULL, NULL, NULL), 1);
    assert_int_equal(status, V_OCSP_CERTSTATUS_REVOKED);
    assert_int_equal(reason, OCSP_REVOKED_STATUS_SUPERSEDED);
    OCSP_BASICRESP_free(bs);
    OCSP_RESPONSE_free(resp);
    OCSP_CERTID_free(id);
    OCSP_REQUEST_free(req);
    OPENSSL_free(der);
}

static void test_unauthorized(void **state)
{
    struct fx *f = *state;
    static const char *const serials[] = {"0A01"};
    EVP_PKEY *k = tu_rsa_key(2048);
    X509 *other = tu_self_signed(k, "other CA");
    struct scep_ocsp_info info;
    OCSP_RESPONSE *resp;
    unsigned char *der;
    size_t len;

    put(f, "0A01", f->ca_fp, NOT_REVOKED);
    der = request(other, serials, 1, 1, &len);
    resp = answer(f, der, len, &info);
    assert_int_equal(OCSP_response_status(resp), OCSP_RESPONSE_STATUS_UNAUTHORIZED);
    assert_null(OCSP_response_get1_basic(resp));
    assert_int_equal(info.status, OCSP_RESPONSE_STATUS_UNAUTHORIZED);
    assert_int_equal(info.next_update, 0);
    assert_true(info.why[0] != '\0');
    OCSP_RESPONSE_free(resp);
    free(der);
    X509_free(other);
    EVP_PKEY_free(k);
}

static void test_malformed(void **state)
{
    struct fx *f = *state;
    static const char *const serials[] = {"01", "02", "03", "04", "05", "06", "07", "08", "09"};
    static const unsigned char junk[] = {0x30, 0x03, 0x02, 0x01, 0x00};
    X509 *ca = scep_ca_get0_cert(f->ca);
    struct scep_ocsp_info info;
    OCSP_RESPONSE *resp;
    unsigned char *der, *longer;
    size_t len;

    /* Garbage, and nothing at all. */
    resp = answer(f, junk, sizeof(junk), &info);
    assert_int_equal(OCSP_response_status(resp), OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
    OCSP_RESPONSE_free(resp);
    resp = answer(f, NULL, 0, &info);
    assert_int_equal(OCSP_response_status(resp), OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
    OCSP_RESPONSE_free(resp);

    /* A good request with one byte after it. */
    der = request(ca, serials, 1, 0, &len);
    longer = malloc(len + 1);
    assert_non_null(longer);
    memcpy(longer, der, len);
    longer[len] = 0;
    resp = answer(f, longer, len + 1, &info);
    assert_int_equal(OCSP_response_status(resp), OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
    assert_non_null(strstr(info.why, "trailing"));
    OCSP_RESPONSE_free(resp);
    free(longer);
    free(der);

    /* More CertIDs than SCEP_MAX_OCSP_CERTIDS, and exactly that many. */
    assert_int_equal(SCEP_MAX_OCSP_CERTIDS, 8);
    der = request(ca, serials, 9, 0, &len);
    resp = answer(f, der, len, &info);
    assert_int_equal(OCSP_response_status(resp), OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
    OCSP_RESPONSE_free(resp);
    free(der);
    der = request(ca, serials, 8, 0, &len);
    resp = answer(f, der, len, &info);
    assert_int_equal(OCSP_response_status(resp), OCSP_RESPONSE_STATUS_SUCCESSFUL);
    assert_int_equal(info.count, 8);
    OCSP_RESPONSE_free(resp);
    free(der);

    /* Longer than SCEP_MAX_OCSP_REQUEST: refused before parsing. */
    longer = calloc(1, SCEP_MAX_OCSP_REQUEST + 1);
    assert_non_null(longer);
    resp = answer(f, longer, SCEP_MAX_OCSP_REQUEST + 1, &info);
    assert_int_equal(OCSP_response_status(resp), OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
    OCSP_RESPONSE_free(resp);
    free(longer);

    /* Arguments. */
    assert_int_equal(
        scep_admin_ocsp_answer(f->st, f->ca, NULL, NULL, junk, sizeof(junk), 0, &der, &len, NULL),
        SCEP_ERR_INVALID_ARG);
}

static void test_archived_ca(void **state)
{
    struct fx *f = *state;
    struct scep_ca_init_opts o = {.rsa_bits = 2048};
    static const char *const old_serials[] = {"0E01", "0E02", "0E03"};
    static const char *const new_serials[] = {"0E01", "0E03"};
    OCSP_RESPONSE *resp;
    OCSP_BASICRESP *bs;
    X509 *old, *cur;
    unsigned char *der;
    size_t len;
    int reason;

    put(f, "0E01", f->ca_fp, NOT_REVOKED);
    put(f, "0E02", f->ca_fp, 6); /* certificateHold */
    old = X509_dup(scep_ca_get0_cert(f->ca));
    assert_int_equal(scep_ca_next_create(f->dir, &o, time(NULL) - 1), 0);
    scep_ca_free(f->ca);
    assert_int_equal(scep_ca_load(f->dir, &f->ca), 0);
    assert_int_equal(scep_ca_archive_count(f->ca), 1);
    cur = scep_ca_get0_cert(f->ca);
    {
        char fp[65];

        assert_int_equal(scep_cert_fingerprint(cur, fp), 0);
        put(f, "0E03", fp, NOT_REVOKED);
    }

    /* The old CA's certificates: answered, signed by the old CA. */
    der = request(old, old_serials, 3, 1, &len);
    resp = answer(f, der, len, NULL);
    bs = verified_basic(resp, old);
    assert_int_equal(status_of(bs, old, "0E01", &reason, NULL), V_OCSP_CERTSTATUS_GOOD);
    assert_int_equal(status_of(bs, old, "0E02", &reason, NULL), V_OCSP_CERTSTATUS_REVOKED);
    assert_int_equal(reason, OCSP_REVOKED_STATUS_CERTIFICATEHOLD);
    /* The new CA's serial is not the old CA's. */
    assert_int_equal(status_of(bs, old, "0E03", &reason, NULL), V_OCSP_CERTSTATUS_UNKNOWN);
    OCSP_BASICRESP_free(bs);
    OCSP_RESPONSE_free(resp);
    free(der);

    /* And the other way round, signed by the new CA. */
    der = request(cur, new_serials, 2, 0, &len);
    resp = answer(f, der, len, NULL);
    bs = verified_basic(resp, cur);
    assert_int_equal(status_of(bs, cur, "0E03", &reason, NULL), V_OCSP_CERTSTATUS_GOOD);
    assert_int_equal(status_of(bs, cur, "0E01", &reason, NULL), V_OCSP_CERTSTATUS_UNKNOWN);
    OCSP_BASICRESP_free(bs);
    OCSP_RESPONSE_free(resp);
    free(der);

    /* CertIDs of both CAs in one request cannot share one signer. */
    {
        OCSP_REQUEST *req = OCSP_REQUEST_new();
        struct scep_ocsp_info info;
        unsigned char *p = NULL;
        int n;

        assert_non_null(OCSP_request_add0_id(req, cert_id(old, "0E01", EVP_sha1())));
        assert_non_null(OCSP_request_add0_id(req, cert_id(cur, "0E03", EVP_sha1())));
        n = i2d_OCSP_REQUEST(req, &p);
        assert_true(n > 0);
        resp = answer(f, p, (size_t)n, &info);
        assert_int_equal(OCSP_response_status(resp), OCSP_RESPONSE_STATUS_UNAUTHORIZED);
        OCSP_RESPONSE_free(resp);
        OPENSSL_free(p);
        OCSP_REQUEST_free(req);
    }
    X509_free(old);
}

/* Answers the request der with the fixture's cache and returns the DER
 * (free()). */
static unsigned char *answer_der(struct fx *f, const unsigned char *der, size_t len,
                                 struct scep_ocsp_info *info, size_t *olen)
{
    unsigned char *out = NULL;

    assert_int_equal(
        scep_admin_ocsp_answer(f->st, f->ca, NULL, f->cache, der, len, 3600, &out, olen, info), 0);
    return out;
}

/* Nonce-free answers are reused while the store says the same; a
 * revocation, an unhold or a nonce means a fresh signature. */
static void test_cache(void **state)
{
    struct fx *f = *state;
    static const char *const one[] = {"0D01"};
    static const char *const two[] = {"0D01", "0D02"};
    X509 *ca = scep_ca_get0_cert(f->ca);
    struct scep_ocsp_info info;
    unsigned char *req, *req_nonce, *req_two, *a, *b;
    size_t len, len_nonce, len_two, alen, blen;
    OCSP_RESPONSE *resp;
    OCSP_BASICRESP *bs;
    const unsigned char *p;
    int reason;

    assert_int_equal(scep_ocsp_cache_new(0, &f->cache), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_ocsp_cache_new(64, &f->cache), 0);
    put(f, "0D01", f->ca_fp, NOT_REVOKED);
    put(f, "0D02", f->ca_fp, NOT_REVOKED);
    req = request(ca, one, 1, 0, &len);
    req_nonce = request(ca, one, 1, 1, &len_nonce);
    req_two = request(ca, two, 2, 0, &len_two);

    a = answer_der(f, req, len, &info, &alen);
    assert_int_equal(info.cached, 0);
    b = answer_der(f, req, len, &info, &blen);
    assert_int_equal(info.cached, 1);
    assert_int_equal(info.cert_status, V_OCSP_CERTSTATUS_GOOD);
    assert_true(info.next_update > info.this_update);
    assert_int_equal(alen, blen);
    assert_memory_equal(a, b, alen);
    free(b);

    /* A nonce or two CertIDs: signed for the request, never from the cache. */
    b = answer_der(f, req_nonce, len_nonce, &info, &blen);
    assert_int_equal(info.cached, 0);
    free(b);
    b = answer_der(f, req_two, len_two, &info, &blen);
    assert_int_equal(info.cached, 0);
    free(b);

    /* Revoked: answered at once, and that answer is then reused. */
    assert_int_equal(scep_store_revoke(f->st, "0D01", 6, REVOKED_AT, NULL), 0);
    b = answer_der(f, req, len, &info, &blen);
    assert_int_equal(info.cached, 0);
    assert_int_equal(info.cert_status, V_OCSP_CERTSTATUS_REVOKED);
    p = b;
    resp = d2i_OCSP_RESPONSE(NULL, &p, (long)blen);
    bs = verified_basic(resp, ca);
    assert_int_equal(status_of(bs, ca, "0D01", &reason, NULL), V_OCSP_CERTSTATUS_REVOKED);
    assert_int_equal(reason, OCSP_REVOKED_STATUS_CERTIFICATEHOLD);
    OCSP_BASICRESP_free(bs);
    OCSP_RESPONSE_free(resp);
    free(b);
    b = answer_der(f, req, len, &info, &blen);
    assert_int_equal(info.cached, 1);
    assert_int_equal(info.cert_status, V_OCSP_CERTSTATUS_REVOKED);
    free(b);

    /* Released: good again at once. */
    assert_int_equal(scep_admin_unhold(f->st, "test", "0D01", NULL), 0);
    b = answer_der(f, req, len, &info, &blen);
    assert_int_equal(info.cached, 0);
    assert_int_equal(info.cert_status, V_OCSP_CERTSTATUS_GOOD);
    free(b);

    /* Emptied (as after a CA change): signed anew. */
    scep_ocsp_cache_clear(f->cache);
    b = answer_der(f, req, len, &info, &blen);
    assert_int_equal(info.cached, 0);
    free(b);
    free(a);
    free(req);
    free(req_nonce);
    free(req_two);
}

/* Once the store has been quiet, a cached answer is sent without a read
 * (scep_store_change_token); a revocation by another connection (scepctl
 * is another process) is still answered at once. */
static void test_cache_quiet_store(void **state)
{
    struct fx *f = *state;
    static const char *const one[] = {"0E01"};
    X509 *ca = scep_ca_get0_cert(f->ca);
    struct scep_store *other = NULL;
    struct scep_ocsp_info info;
    unsigned char *req, *b;
    uint64_t t1 = 0, t2 = 0, t3 = 0;
    size_t len, blen;
    char uri[600];

    assert_int_equal(scep_ocsp_cache_new(64, &f->cache), 0);
    snprintf(uri, sizeof(uri), "sqlite:%s/store.db", f->dir);
    assert_int_equal(scep_store_open(uri, &other, NULL, 0), 0);
    put(f, "0E01", f->ca_fp, NOT_REVOKED);
    req = request(ca, one, 1, 0, &len);
    /* Just written: no token yet. */
    assert_int_equal(scep_store_change_token(f->st, &t1), SCEP_ERR_UNAVAILABLE);
    b = answer_der(f, req, len, &info, &blen);
    assert_int_equal(info.cached, 0);
    free(b);
    sleep(3);
    assert_int_equal(scep_store_change_token(f->st, &t1), 0);
    assert_int_equal(scep_store_change_token(other, &t2), 0);
    assert_true(t1 == t2);
    b = answer_der(f, req, len, &info, &blen);
    assert_int_equal(info.cached, 1);
    assert_int_equal(info.cert_status, V_OCSP_CERTSTATUS_GOOD);
    assert_string_equal(info.serial, "0E01");
    free(b);
    b = answer_der(f, req, len, &info, &blen);
    assert_int_equal(info.cached, 1);
    assert_int_equal(info.cert_status, V_OCSP_CERTSTATUS_GOOD);
    free(b);

    /* Another connection revokes: the token moves, the answer follows. */
    assert_int_equal(scep_store_revoke(other, "0E01", 1, REVOKED_AT, NULL), 0);
    assert_int_not_equal(scep_store_change_token(f->st, &t3), 0);
    b = answer_der(f, req, len, &info, &blen);
    assert_int_equal(info.cached, 0);
    assert_int_equal(info.cert_status, V_OCSP_CERTSTATUS_REVOKED);
    free(b);
    scep_store_close(other);
    free(req);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_good_revoked_unknown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nonce_echoed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sha256_cert_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unauthorized, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_archived_ca, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_quiet_store, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
