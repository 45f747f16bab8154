/*
 * Copying a store (store.h "Copying a store", lib/admin/migrate.c):
 * a SQLite store filled through store.h (certificates of ours and an
 * external one, a renewal, a revocation, requests, a challenge with a
 * use spent, a notice, a token, CRL numbers, the audit chain) is copied
 * into an empty target, which then reads back the same through store.h:
 * every field, the audit events with their ids and hashes (and a
 * "migrate" event chained after them, so the chain verifies), ids that
 * go on after the copied ones, a CRL number that goes on after the
 * source's.  A target that holds anything is refused and left as it
 * was.
 *
 * The target is a fresh SQLite file, or $SCEP_MIGRATE_TARGET_URI, an empty
 * database (integration.store_pg passes a new PostgreSQL database).
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

#include <openssl/evp.h>

#include <scep/error.h>

#include "admin/migrate.h"
#include "store/store.h"
#include "testutil.h"

static char *g_dir;

static const unsigned char der1[] = {0x30, 0x03, 0x00, 0xff, 0x00};
static const unsigned char der2[] = {0x30, 0x02, 0x05, 0x00};
static const unsigned char ext_der[] = {0x30, 0x04, 0x01, 0x02, 0x03, 0x04};
static const unsigned char csr_der[] = {0x30, 0x01, 0x00};

static struct scep_store *open_uri(const char *uri)
{
    struct scep_store *st = NULL;
    char why[256];

    if (scep_store_open(uri, &st, why, sizeof(why)) != 0)
        fail_msg("cannot open %s: %s", uri, why);
    return st;
}

static struct scep_store *open_file(const char *name)
{
    char uri[1024];

    snprintf(uri, sizeof(uri), "sqlite:%s/%s", g_dir, name);
    return open_uri(uri);
}

static struct scep_cert_info cert(const char *serial, const char *subject, const unsigned char *der,
                                  size_t len)
{
    struct scep_cert_info ci;

    memset(&ci, 0, sizeof(ci));
    ci.serial = (char *)serial;
    ci.issuer_fp = "ab";
    ci.subject = (char *)subject;
    ci.sans = "DNS:a.example";
    ci.not_before = 1000;
    ci.not_after = 4102444800;
    ci.issued_at = 1000;
    ci.revocation_reason = -1;
    ci.transaction_id = (char *)subject;
    ci.requester = "192.0.2.1";
    ci.msg_type = "PKCSReq";
    ci.pubkey_fp = "cd";
    ci.der = (unsigned char *)der;
    ci.der_len = len;
    ci.profile = "vpn";
    return ci;
}

/* The store key of ext_der (store.h, "The inventory"). */
static void ext_key(char key[SCEP_EXTERNAL_KEY_LEN])
{
    unsigned char md[32];
    unsigned int n = 0, i;
    char hex[65];

    assert_int_equal(EVP_Digest(ext_der, sizeof(ext_der), md, &n, EVP_sha256(), NULL), 1);
    for (i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    assert_int_equal(scep_store_external_key(hex, key), 0);
}

/* Fills src: see the file comment.  *chal_id receives the challenge. */
static void fill(struct scep_store *src, int64_t *chal_id)
{
    struct scep_audit_event ev = {.kind = "issue", .actor = "test", .detail = "d"};
    struct scep_cert_info a = cert("0A", "CN=a", der1, sizeof(der1));
    struct scep_cert_info b = cert("0B", "CN=b", der2, sizeof(der2));
    struct scep_cert_info x = cert("", "CN=external", ext_der, sizeof(ext_der));
    struct scep_challenge_info ch;
    struct scep_request_info ri;
    struct scep_token_info ti;
    struct scep_notice_key nk = {"0A", 86400, "webhook"};
    char key[SCEP_EXTERNAL_KEY_LEN];
    int64_t n = 0, id = 0;

    memset(&ch, 0, sizeof(ch));
    ch.hash = "1111111111111111111111111111111111111111111111111111111111111111";
    ch.max_uses = 3;
    ch.expires_at = 4102444800;
    ch.created_by = "test";
    assert_int_equal(scep_store_add_challenge(src, &ch, NULL, chal_id), 0);
    a.challenge_id = *chal_id;
    assert_int_equal(scep_store_insert_cert(src, &a, &ev), 0);
    b.renewed_serial = "0A"; /* a renewal: a becomes superseded */
    b.msg_type = "RenewalReq";
    assert_int_equal(scep_store_insert_cert(src, &b, &ev), 0);
    assert_int_equal(scep_store_revoke(src, "0B", 1, 2000, &ev), 0);
    /* An external certificate: keyed by its fingerprint. */
    x.issuer_fp = NULL;
    x.transaction_id = NULL;
    x.source = SCEP_CERT_SOURCE_IMPORT;
    x.seen_at = "/etc/ssl/x.pem";
    ext_key(key);
    x.serial = key;
    assert_int_equal(scep_store_insert_cert(src, &x, NULL), 0);

    memset(&ri, 0, sizeof(ri));
    ri.transaction_id = "tx-held";
    ri.subject = "CN=held";
    ri.csr_der = (unsigned char *)csr_der;
    ri.csr_len = sizeof(csr_der);
    ri.created_at = 1500;
    assert_int_equal(scep_store_add_request(src, &ri, NULL, &id), 0);
    ri.transaction_id = "tx-rejected";
    assert_int_equal(scep_store_add_request(src, &ri, NULL, &id), 0);
    assert_int_equal(scep_store_decide_request(src, id, SCEP_REQ_REJECTED, "admin", "no", NULL), 0);

    memset(&ti, 0, sizeof(ti));
    ti.name = "ops";
    ti.role = "operator";
    ti.hash = "2222222222222222222222222222222222222222222222222222222222222222";
    ti.created_by = "test";
    assert_int_equal(scep_store_add_token(src, &ti, NULL, NULL), 0);
    assert_int_equal(scep_store_notice_claim(src, &nk, 4102444800, "node-a", 100, 200, NULL), 0);
    assert_int_equal(scep_store_next_crl_number(src, &n), 0);
    assert_int_equal(scep_store_next_crl_number(src, &n), 0);
    assert_int_equal(n, 2);
}

static int audit_collect(const struct scep_audit_event *ev, void *arg)
{
    FILE *f = arg;

    fprintf(f, "%lld|%lld|%s|%s|%s|%s|%s\n", (long long)ev->id, (long long)ev->time, ev->kind,
            ev->actor ? ev->actor : "", ev->serial ? ev->serial : "", ev->detail ? ev->detail : "",
            ev->hash);
    return 0;
}

/* The audit trail as text, one event a line; free(). */
static char *audit_text(struct scep_store *st, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);

    assert_non_null(f);
    assert_int_equal(scep_store_list_audit(st, 0, audit_collect, f), 0);
    fclose(f);
    return buf;
}

static void same_cert(struct scep_store *a, struct scep_store *b, const char *serial)
{
    struct scep_cert_info *x = NULL, *y = NULL;

    assert_int_equal(scep_store_get_cert(a, serial, &x), 0);
    assert_int_equal(scep_store_get_cert(b, serial, &y), 0);
#define SAME_STR(f)                                                                                \
    do {                                                                                           \
        if (x->f == NULL || y->f == NULL)                                                          \
            assert_ptr_equal(x->f, y->f);                                                          \
        else                                                                                       \
            assert_string_equal(x->f, y->f);                                                       \
    } while (0)
    SAME_STR(issuer_fp);
    SAME_STR(subject);
    SAME_STR(sans);
    SAME_STR(transaction_id);
    SAME_STR(requester);
    SAME_STR(msg_type);
    SAME_STR(pubkey_fp);
    SAME_STR(renewed_serial);
    SAME_STR(profile);
    SAME_STR(source);
    SAME_STR(seen_at);
    SAME_STR(fingerprint);
    SAME_STR(superseded_by);
#undef SAME_STR
    assert_int_equal(x->not_before, y->not_before);
    assert_int_equal(x->not_after, y->not_after);
    assert_int_equal(x->issued_at, y->issued_at);
    assert_int_equal(x->status, y->status);
    assert_int_equal(x->revoked_at, y->revoked_at);
    assert_int_equal(x->revocation_reason, y->revocation_reason);
    assert_int_equal(x->challenge_id, y->challenge_id);
    assert_int_equal(x->superseded_at, y->superseded_at);
    assert_int_equal(x->der_len, y->der_len);
    assert_memory_equal(x->der, y->der, x->der_len);
    scep_cert_info_free(x);
    scep_cert_info_free(y);
}

static void test_copy(void **state)
{
    struct scep_store *src = open_file("src.db"), *dst;
    struct scep_admin_migrate_report rep;
    struct scep_challenge_info *ch = NULL, nc;
    struct scep_request_info *ri = NULL;
    struct scep_token_info *ti = NULL;
    struct scep_notice_info *ni = NULL;
    struct scep_notice_key nk = {"0A", 86400, "webhook"};
    struct scep_cert_info *ci = NULL, *x = NULL;
    const char *uri = getenv("SCEP_MIGRATE_TARGET_URI");
    char why[512], *sa, *da, key[SCEP_EXTERNAL_KEY_LEN];
    size_t sl = 0, dl = 0, i;
    int64_t chal = 0, bad = -1, n = 0, id = 0;

    (void)state;
    dst = uri != NULL && uri[0] != '\0' ? open_uri(uri) : open_file("dst.db");
    assert_int_equal(scep_store_schema_version(src), SCEP_STORE_COPY_VERSION);
    assert_int_equal(scep_store_schema_version(dst), SCEP_STORE_COPY_VERSION);
    fill(src, &chal);
    ext_key(key);
    assert_int_equal(scep_store_get_cert(src, key, &x), 0);

    assert_int_equal(
        scep_admin_migrate(src, dst, "scepctl:test", "sqlite:src.db", &rep, why, sizeof(why)), 0);
    assert_string_equal(why, "");
    for (i = 0; i < rep.ntables; i++) {
        int64_t want = strcmp(rep.table[i], "certificates") == 0  ? 3
                       : strcmp(rep.table[i], "requests") == 0    ? 2
                       : strcmp(rep.table[i], "challenges") == 0  ? 1
                       : strcmp(rep.table[i], "notices") == 0     ? 1
                       : strcmp(rep.table[i], "tokens") == 0      ? 1
                       : strcmp(rep.table[i], "crl_numbers") == 0 ? 1
                                                                  : -1;
        if (strcmp(rep.table[i], "audit") == 0)
            assert_true(rep.rows[i] >= 3);
        else
            assert_int_equal(rep.rows[i], want);
    }

    /* Certificates, field by field and byte for byte. */
    same_cert(src, dst, "0A");
    same_cert(src, dst, "0B");
    same_cert(src, dst, key);
    assert_int_equal(scep_store_get_cert(dst, "0A", &ci), 0);
    assert_string_equal(ci->superseded_by, "0B");
    assert_int_equal(ci->challenge_id, chal);
    scep_cert_info_free(ci);
    assert_int_equal(scep_store_get_cert_by_fingerprint(dst, x->fingerprint, &ci), 0);
    scep_cert_info_free(ci);
    scep_cert_info_free(x);

    /* The audit chain: the source's, then the copy's event; it verifies. */
    sa = audit_text(src, &sl);
    da = audit_text(dst, &dl);
    assert_true(dl > sl);
    assert_memory_equal(sa, da, sl);
    assert_non_null(strstr(da + sl, "|migrate|scepctl:test||from=sqlite:src.db certificates=3"));
    free(sa);
    free(da);
    assert_int_equal(scep_store_verify_audit(dst, &bad), 0);

    /* The challenge kept its hash and its spent use; a new one gets a
     * later id; the use left works, then it is used up. */
    assert_int_equal(scep_store_get_challenge(dst, chal, &ch), 0);
    assert_string_equal(ch->hash,
                        "1111111111111111111111111111111111111111111111111111111111111111");
    assert_int_equal(ch->uses, 1);
    assert_int_equal(ch->max_uses, 3);
    scep_challenge_info_free(ch);
    memset(&nc, 0, sizeof(nc));
    nc.hash = "3333333333333333333333333333333333333333333333333333333333333333";
    nc.max_uses = 1;
    nc.expires_at = 4102444800;
    assert_int_equal(scep_store_add_challenge(dst, &nc, NULL, &id), 0);
    assert_true(id > chal);

    /* Requests: the pending one still pending, the rejected one's reason;
     * a new request gets a later id. */
    assert_int_equal(scep_store_get_request_by_transaction(dst, "tx-held", &ri), 0);
    assert_int_equal(ri->status, SCEP_REQ_PENDING);
    assert_int_equal(ri->csr_len, sizeof(csr_der));
    assert_memory_equal(ri->csr_der, csr_der, sizeof(csr_der));
    id = ri->id;
    scep_request_info_free(ri);
    assert_int_equal(scep_store_get_request_by_transaction(dst, "tx-rejected", &ri), 0);
    assert_int_equal(ri->status, SCEP_REQ_REJECTED);
    assert_string_equal(ri->reason, "no");
    assert_true(ri->id > id);
    id = ri->id;
    scep_request_info_free(ri);
    {
        struct scep_request_info nr;
        int64_t nid = 0;

        memset(&nr, 0, sizeof(nr));
        nr.transaction_id = "tx-new";
        nr.csr_der = (unsigned char *)csr_der;
        nr.csr_len = sizeof(csr_der);
        assert_int_equal(scep_store_add_request(dst, &nr, NULL, &nid), 0);
        assert_true(nid > id);
    }

    /* Token, notice (still claimed by node-a), CRL number. */
    assert_int_equal(scep_store_get_token_by_name(dst, "ops", &ti), 0);
    assert_string_equal(ti->role, "operator");
    scep_token_info_free(ti);
    assert_int_equal(scep_store_get_notice(dst, &nk, &ni), 0);
    assert_string_equal(ni->claimed_by, "node-a");
    assert_int_equal(ni->state, SCEP_NOTICE_SENDING);
    scep_notice_info_free(ni);
    assert_int_equal(scep_store_next_crl_number(dst, &n), 0);
    assert_int_equal(n, 3);

    /* Not again: the target holds rows now; nothing is written. */
    bad = scep_store_schema_version(dst);
    sa = audit_text(dst, &sl);
    assert_int_equal(
        scep_admin_migrate(src, dst, "scepctl:test", "sqlite:src.db", &rep, why, sizeof(why)),
        SCEP_ERR_EXISTS);
    assert_non_null(strstr(why, "the target holds 3 certificates"));
    da = audit_text(dst, &dl);
    assert_int_equal(sl, dl);
    assert_memory_equal(sa, da, sl);
    free(sa);
    free(da);
    /* The target is usable after the refusal (its transaction ended). */
    assert_int_equal(scep_store_next_crl_number(dst, &n), 0);
    assert_int_equal(n, 4);

    scep_store_close(src);
    scep_store_close(dst);
}

/* The copy refuses a store into itself and arguments it cannot use. */
static void test_copy_args(void **state)
{
    struct scep_store *a = open_file("args.db");
    struct scep_admin_migrate_report rep;
    char why[128];

    (void)state;
    assert_int_equal(scep_admin_migrate(a, a, "t", "x", &rep, why, sizeof(why)),
                     SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_admin_migrate(NULL, a, "t", "x", &rep, why, sizeof(why)),
                     SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_import_row(a, NULL, NULL), SCEP_ERR_INVALID_ARG);
    scep_store_close(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copy),
        cmocka_unit_test(test_copy_args),
    };
    int rc;

    g_dir = tu_tempdir();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_rmrf(g_dir);
    free(g_dir);
    return rc;
}
