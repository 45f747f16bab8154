/*
 * lib/admin/challenges.c: minting one-time enrollment challenges (the
 * text, what the store keeps of it, the audit event), the refusals of a
 * bad specification with their texts, the one hash, the binding check
 * against real CSRs (decoded names: an IPv6 address written two ways is
 * one name), and revoke / purge with their audit events.  Runs against a
 * real SQLite store in a temp directory.
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

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <scep/error.h>

#include "admin/admin.h"
#include "store/store.h"
#include "testutil.h"

struct fx {
    char *dir;
    char path[600];
    struct scep_store *st;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    char uri[700];

    assert_non_null(f);
    f->dir = tu_tempdir();
    snprintf(f->path, sizeof(f->path), "%s/store.db", f->dir);
    snprintf(uri, sizeof(uri), "sqlite:%s", f->path);
    assert_int_equal(scep_store_open(uri, &f->st, NULL, 0), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    scep_store_close(f->st);
    tu_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

struct last_event {
    char kind[32];
    char detail[512];
    char actor[64];
};

static int last_event_cb(const struct scep_audit_event *ev, void *arg)
{
    struct last_event *le = arg;

    snprintf(le->kind, sizeof(le->kind), "%s", ev->kind);
    snprintf(le->detail, sizeof(le->detail), "%s", ev->detail != NULL ? ev->detail : "");
    snprintf(le->actor, sizeof(le->actor), "%s", ev->actor != NULL ? ev->actor : "");
    return 0;
}

static void last_event(struct scep_store *st, struct last_event *le)
{
    memset(le, 0, sizeof(*le));
    assert_int_equal(scep_store_list_audit(st, 0, last_event_cb, le), 0);
}

/* 1 if the file at path holds the bytes of s. */
static int file_holds(const char *path, const char *s)
{
    size_t len = 0, n = strlen(s), i;
    unsigned char *b = tu_read_file(path, &len);
    int found = 0;

    if (b == NULL)
        return 0;
    for (i = 0; i + n <= len && !found; i++)
        found = memcmp(b + i, s, n) == 0;
    free(b);
    return found;
}

/* A CSR for subject cn with the "TYPE:VALUE" SANs of sans (NULL-ended;
 * NULL: no extension), signed by a fresh EC key.  X509_REQ_free(). */
static X509_REQ *csr_with(const char *cn, const char *const *sans)
{
    EVP_PKEY *key = tu_ec_key();
    X509_REQ *req = X509_REQ_new();
    X509_NAME *name = X509_NAME_new();
    GENERAL_NAMES *gens = NULL;
    STACK_OF(X509_EXTENSION) *exts = NULL;
    X509_EXTENSION *ext;
    size_t i;

    assert_non_null(req);
    assert_true(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
                                           -1, 0));
    assert_true(X509_REQ_set_subject_name(req, name));
    assert_true(X509_REQ_set_pubkey(req, key));
    if (sans != NULL) {
        gens = sk_GENERAL_NAME_new_null();
        for (i = 0; sans[i] != NULL; i++) {
            const char *colon = strchr(sans[i], ':');
            int type = strncmp(sans[i], "DNS", 3) == 0   ? GEN_DNS
                       : strncmp(sans[i], "IP", 2) == 0  ? GEN_IPADD
                       : strncmp(sans[i], "URI", 3) == 0 ? GEN_URI
                                                         : GEN_EMAIL;
            GENERAL_NAME *g = a2i_GENERAL_NAME(NULL, NULL, NULL, type, colon + 1, 0);

            assert_non_null(g);
            assert_true(sk_GENERAL_NAME_push(gens, g));
        }
        ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, gens);
        assert_non_null(ext);
        exts = sk_X509_EXTENSION_new_null();
        assert_true(sk_X509_EXTENSION_push(exts, ext));
        assert_true(X509_REQ_add_extensions(req, exts));
        sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
        sk_GENERAL_NAME_pop_free(gens, GENERAL_NAME_free);
    }
    assert_true(X509_REQ_sign(req, key, EVP_sha256()) > 0);
    X509_NAME_free(name);
    EVP_PKEY_free(key);
    return req;
}

/* The default challenge: 160 random bits as 40 lowercase hex digits, one
 * use, one hour, the default profile; the store and its file hold only
 * the hash; the audit event names the binding, not the challenge. */
static void test_new_defaults(void **state)
{
    struct fx *f = *state;
    struct scep_admin_challenge_spec spec = {0};
    struct scep_challenge_info *info = NULL, *found = NULL;
    struct last_event le;
    char *c1 = NULL, *c2 = NULL, hash[SCEP_ADMIN_CHALLENGE_HASH_HEX], wal[700];
    int64_t before = (int64_t)time(NULL);
    size_t i;

    assert_int_equal(scep_admin_challenge_new(f->st, &spec, "test:admin", &c1, &info), 0);
    assert_int_equal(strlen(c1), SCEP_ADMIN_CHALLENGE_LEN);
    for (i = 0; c1[i] != '\0'; i++)
        assert_non_null(strchr("0123456789abcdef", c1[i]));
    assert_int_equal(info->max_uses, 1);
    assert_int_equal(info->uses, 0);
    assert_string_equal(info->profile, "");
    assert_null(info->subject);
    assert_null(info->sans);
    assert_string_equal(info->created_by, "test:admin");
    assert_true(info->expires_at >= before + SCEP_ADMIN_CHALLENGE_TTL_DEFAULT);
    assert_true(info->expires_at <= (int64_t)time(NULL) + SCEP_ADMIN_CHALLENGE_TTL_DEFAULT);
    assert_int_equal(scep_admin_challenge_hash(c1, strlen(c1), hash), 0);
    assert_string_equal(info->hash, hash);
    assert_int_equal(scep_store_get_challenge_by_hash(f->st, hash, &found), 0);
    assert_int_equal(found->id, info->id);
    scep_challenge_info_free(found);
    assert_string_equal(scep_admin_challenge_state(info, (int64_t)time(NULL)), "active");

    last_event(f->st, &le);
    assert_string_equal(le.kind, "challenge-new");
    assert_string_equal(le.actor, "test:admin");
    assert_non_null(strstr(le.detail, "uses=1"));
    assert_non_null(strstr(le.detail, "ttl=3600"));
    assert_null(strstr(le.detail, c1));

    /* Another one differs. */
    assert_int_equal(scep_admin_challenge_new(f->st, &spec, "test:admin", &c2, NULL), 0);
    assert_string_not_equal(c1, c2);
    /* Neither the database nor its log holds a challenge's text. */
    snprintf(wal, sizeof(wal), "%s-wal", f->path);
    assert_false(file_holds(f->path, c1));
    assert_false(file_holds(wal, c1));
    assert_false(file_holds(wal, c2));
    assert_true(file_holds(wal, info->hash) || file_holds(f->path, info->hash));
    scep_challenge_info_free(info);
    scep_admin_challenge_free(c1);
    scep_admin_challenge_free(c2);
    scep_admin_challenge_free(NULL);
}

/* A bound challenge keeps what it binds, SANs in canonical form. */
static void test_new_bound(void **state)
{
    struct fx *f = *state;
    const char *sans[] = {"dns:dev1.example", "IP:2001:db8::1", "email:a@example.org"};
    struct scep_admin_challenge_spec spec = {.profile = "router",
                                             .subject = "CN=dev1,O=Example",
                                             .sans = sans,
                                             .nsans = 3,
                                             .ttl = 600,
                                             .uses = 5,
                                             .now = 1000000};
    struct scep_challenge_info *info = NULL;
    struct last_event le;
    char *c = NULL;

    assert_int_equal(scep_admin_challenge_new(f->st, &spec, "test:admin", &c, &info), 0);
    assert_string_equal(info->profile, "router");
    assert_string_equal(info->subject, "CN=dev1,O=Example");
    assert_string_equal(info->sans, "DNS:dev1.example\nIP:2001:db8::1\nemail:a@example.org");
    assert_int_equal(info->max_uses, 5);
    assert_int_equal(info->created_at, 1000000);
    assert_int_equal(info->expires_at, 1000600);
    /* Long expired by the clock: */
    assert_string_equal(scep_admin_challenge_state(info, (int64_t)time(NULL)), "expired");
    last_event(f->st, &le);
    assert_non_null(strstr(le.detail, "profile=\"router\""));
    assert_non_null(strstr(le.detail, "subject=\"CN=dev1,O=Example\""));
    assert_non_null(strstr(le.detail, "DNS:dev1.example,IP:2001:db8::1"));
    scep_challenge_info_free(info);
    scep_admin_challenge_free(c);
}

/* Each refusal says what is wrong; nothing is stored. */
static void test_spec_refused(void **state)
{
    struct fx *f = *state;
    static const struct {
        const char *san;
        const char *subject;
        const char *profile;
        int64_t ttl, uses;
        const char *want;
    } cases[] = {
        {"DNS", NULL, NULL, 0, 0, "not TYPE:VALUE"},
        {"RID:1.2.3", NULL, NULL, 0, 0, "unknown type"},
        {"IP:300.1.1.1", NULL, NULL, 0, 0, "not a valid IP name"},
        {"IP:dev1.example", NULL, NULL, 0, 0, "not a valid IP name"},
        {"DNS:", NULL, NULL, 0, 0, "not a valid DNS name"},
        {"DNS:a b", NULL, NULL, 0, 0, "not a valid DNS name"},
        {"email:nobody", NULL, NULL, 0, 0, "not a valid email name"},
        {"URI:nocolon", NULL, NULL, 0, 0, "not a valid URI name"},
        {NULL, "CM=typo", NULL, 0, 0, "is not a DN"},
        {NULL, "CN=", NULL, 0, 0, "is not a DN"},
        {NULL, NULL, "two words", 0, 0, "not a profile name"},
        {NULL, NULL, NULL, SCEP_ADMIN_CHALLENGE_TTL_MAX + 1, 0, "out of range"},
        {NULL, NULL, NULL, -1, 0, "out of range"},
        {NULL, NULL, NULL, 0, SCEP_ADMIN_CHALLENGE_USES_MAX + 1, "out of range"},
        {NULL, NULL, NULL, 0, -1, "out of range"},
    };
    const char *dup[] = {"DNS:a.example", "dns:a.example"};
    struct scep_admin_challenge_spec spec;
    char why[512], *c = NULL;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(&spec, 0, sizeof(spec));
        spec.sans = &cases[i].san;
        spec.nsans = cases[i].san != NULL ? 1 : 0;
        spec.subject = cases[i].subject;
        spec.profile = cases[i].profile;
        spec.ttl = cases[i].ttl;
        spec.uses = cases[i].uses;
        assert_int_equal(scep_admin_challenge_validate(&spec, why, sizeof(why)),
                         SCEP_ERR_INVALID_ARG);
        if (strstr(why, cases[i].want) == NULL)
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, why, cases[i].want);
        assert_int_equal(scep_admin_challenge_new(f->st, &spec, "t", &c, NULL),
                         SCEP_ERR_INVALID_ARG);
        assert_null(c);
    }
    memset(&spec, 0, sizeof(spec));
    spec.sans = dup;
    spec.nsans = 2;
    assert_int_equal(scep_admin_challenge_validate(&spec, why, sizeof(why)), SCEP_ERR_INVALID_ARG);
    assert_non_null(strstr(why, "given twice"));
    spec.nsans = 1;
    assert_int_equal(scep_admin_challenge_validate(&spec, why, sizeof(why)), 0);
    assert_string_equal(why, "");
    assert_int_equal(scep_admin_challenge_new(NULL, &spec, "t", &c, NULL), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_admin_challenge_new(f->st, &spec, NULL, &c, NULL), SCEP_ERR_INVALID_ARG);
}

/* The one hash: SHA-256, lowercase hex; longer than a challenge can be
 * is refused. */
static void test_hash(void **state)
{
    char out[SCEP_ADMIN_CHALLENGE_HASH_HEX], big[300];

    (void)state;
    assert_int_equal(scep_admin_challenge_hash("abc", 3, out), 0);
    assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    memset(big, 'a', sizeof(big));
    assert_int_equal(scep_admin_challenge_hash(big, sizeof(big), out), SCEP_ERR_TOO_LARGE);
    assert_int_equal(scep_admin_challenge_hash(NULL, 0, out), SCEP_ERR_INVALID_ARG);
}

/* Checks csr (its own subject) against ci; returns the code, why in w. */
static int check(const struct scep_challenge_info *ci, X509_REQ *csr, char *w, size_t wl)
{
    return scep_admin_challenge_check_binding(ci, X509_REQ_get_subject_name(csr), csr, w, wl);
}

/* The binding, compared on decoded names: subject by X509_NAME_cmp, SANs
 * as a set by GENERAL_NAME_cmp. */
static void test_binding(void **state)
{
    struct scep_challenge_info ci;
    const char *same[] = {"IP:2001:0db8:0:0::1", "DNS:dev1.example", NULL};
    const char *fewer[] = {"DNS:dev1.example", NULL};
    const char *more[] = {"DNS:dev1.example", "IP:2001:db8::1", "DNS:evil.example", NULL};
    const char *other[] = {"DNS:dev2.example", "IP:2001:db8::1", NULL};
    X509_REQ *r_same = csr_with("dev1", same), *r_fewer = csr_with("dev1", fewer);
    X509_REQ *r_more = csr_with("dev1", more), *r_other = csr_with("dev1", other);
    X509_REQ *r_none = csr_with("dev1", NULL), *r_cn2 = csr_with("dev2", same);
    char why[512];

    (void)state;
    memset(&ci, 0, sizeof(ci));
    /* No binding: anything. */
    assert_int_equal(check(&ci, r_more, why, sizeof(why)), 0);
    assert_int_equal(check(&ci, r_none, why, sizeof(why)), 0);

    ci.subject = "CN=dev1";
    ci.sans = "DNS:dev1.example\nIP:2001:db8::1";
    assert_int_equal(check(&ci, r_same, why, sizeof(why)), 0);
    assert_string_equal(why, "");
    assert_int_equal(check(&ci, r_cn2, why, sizeof(why)), SCEP_ERR_POLICY);
    assert_string_equal(why, "challenge is bound to subject CN=dev1, CSR asks for CN=dev2");
    assert_int_equal(check(&ci, r_fewer, why, sizeof(why)), SCEP_ERR_POLICY);
    assert_non_null(strstr(why, "challenge is bound to SANs DNS:dev1.example, IP "));
    assert_non_null(strstr(why, "CSR asks for DNS:dev1.example"));
    assert_int_equal(check(&ci, r_more, why, sizeof(why)), SCEP_ERR_POLICY);
    assert_non_null(strstr(why, "evil.example"));
    assert_int_equal(check(&ci, r_other, why, sizeof(why)), SCEP_ERR_POLICY);
    assert_int_equal(check(&ci, r_none, why, sizeof(why)), SCEP_ERR_POLICY);
    assert_non_null(strstr(why, "CSR asks for none"));

    /* Subject only: the CSR may ask for no SANs. */
    ci.sans = NULL;
    assert_int_equal(check(&ci, r_none, why, sizeof(why)), 0);
    assert_int_equal(check(&ci, r_fewer, why, sizeof(why)), SCEP_ERR_POLICY);
    /* SANs only: any subject. */
    ci.subject = NULL;
    ci.sans = "DNS:dev1.example\nIP:2001:db8::1";
    assert_int_equal(check(&ci, r_cn2, why, sizeof(why)), 0);
    /* The subject checked is the one given, not the CSR's. */
    ci.subject = "CN=dev2";
    assert_int_equal(scep_admin_challenge_check_binding(&ci, X509_REQ_get_subject_name(r_cn2),
                                                        r_same, why, sizeof(why)),
                     0);
    assert_int_equal(scep_admin_challenge_check_binding(NULL, X509_REQ_get_subject_name(r_cn2),
                                                        r_same, why, sizeof(why)),
                     SCEP_ERR_INVALID_ARG);
    X509_REQ_free(r_same);
    X509_REQ_free(r_fewer);
    X509_REQ_free(r_more);
    X509_REQ_free(r_other);
    X509_REQ_free(r_none);
    X509_REQ_free(r_cn2);
}

static int count_cb(const struct scep_challenge_info *ci, void *arg)
{
    (void)ci;
    (*(int *)arg)++;
    return 0;
}

/* Revoke and purge, with their events; the states a listing shows. */
static void test_revoke_purge(void **state)
{
    struct fx *f = *state;
    struct scep_admin_challenge_spec spec = {0};
    struct scep_challenge_info *a = NULL, *b = NULL, *got = NULL;
    struct last_event le;
    char *ca = NULL, *cb = NULL, want[64];
    int64_t purged = -1;
    int n = 0;

    assert_int_equal(scep_admin_challenge_new(f->st, &spec, "test:admin", &ca, &a), 0);
    assert_int_equal(scep_admin_challenge_new(f->st, &spec, "test:admin", &cb, &b), 0);
    assert_int_equal(scep_admin_challenge_list(f->st, 0, count_cb, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(scep_admin_challenge_revoke(f->st, "test:admin", a->id, 0), 0);
    last_event(f->st, &le);
    assert_string_equal(le.kind, "challenge-revoke");
    snprintf(want, sizeof(want), "challenge=%lld", (long long)a->id);
    assert_string_equal(le.detail, want);
    assert_int_equal(scep_admin_challenge_revoke(f->st, "test:admin", a->id, 0), SCEP_ERR_EXISTS);
    assert_int_equal(scep_admin_challenge_revoke(f->st, "test:admin", 9999, 0), SCEP_ERR_NOT_FOUND);
    assert_int_equal(scep_admin_challenge_revoke(f->st, "test:admin", 0, 0), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_store_get_challenge(f->st, a->id, &got), 0);
    assert_string_equal(scep_admin_challenge_state(got, (int64_t)time(NULL)), "revoked");
    scep_challenge_info_free(got);
    got = NULL;
    n = 0;
    assert_int_equal(scep_admin_challenge_list(f->st, 0, count_cb, &n), 0);
    assert_int_equal(n, 1);
    n = 0;
    assert_int_equal(scep_admin_challenge_list(f->st, 1, count_cb, &n), 0);
    assert_int_equal(n, 2);
    b->uses = b->max_uses;
    assert_string_equal(scep_admin_challenge_state(b, (int64_t)time(NULL)), "used");

    assert_int_equal(scep_admin_challenge_purge(f->st, "test:admin", 0, &purged), 0);
    assert_int_equal(purged, 1);
    last_event(f->st, &le);
    assert_string_equal(le.kind, "challenge-purge");
    assert_int_equal(scep_store_get_challenge(f->st, a->id, &got), SCEP_ERR_NOT_FOUND);
    assert_int_equal(scep_store_get_challenge(f->st, b->id, &got), 0);
    scep_challenge_info_free(got);
    /* After it expires, b goes too. */
    assert_int_equal(scep_admin_challenge_purge(f->st, "test:admin", b->expires_at, &purged), 0);
    assert_int_equal(purged, 1);
    scep_challenge_info_free(a);
    scep_challenge_info_free(b);
    scep_admin_challenge_free(ca);
    scep_admin_challenge_free(cb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spec_refused, setup, teardown),
        cmocka_unit_test(test_hash),
        cmocka_unit_test(test_binding),
        cmocka_unit_test_setup_teardown(test_revoke_purge, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
