/*
 * Who may enroll, through the whole PKIOperation: named profiles (their
 * own challenge, issuance profile and rules; an unknown one is a 404),
 * the profile rules' refusals by name, one-time challenges (used once,
 * the winner's retry answered with its certificate, used / expired /
 * revoked / other profile / binding refused each with its own text),
 * renewal windows, the per-challenge rate limit (429 before anything is
 * signed) and webhooks, both in two steps (begin, then resume with the
 * answer) and through the blocking transport.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/hmac.h>
#include <openssl/x509v3.h>

#include "admin/admin.h"
#include "keyring/keyring.h"
#include "policy/ratelimit.h"
#include "policy/rules.h"
#include "test_service_fixture.h"

#define CHALLENGE "policy-static"
#define VPN_CHALLENGE "vpn-static"

static int setup(void **state)
{
    *state = fx_new(0, CHALLENGE, 1);
    return 0;
}

static int teardown(void **state)
{
    fx_free(*state);
    return 0;
}

/* A PKCSReq for a new key (self-signed signer, CSR with challenge and an
 * optional dNSName); free with req_clear(). */
static void req_new(struct fx_req *q, EVP_PKEY *key, const char *cn, const char *challenge,
                    const char *dns)
{
    memset(q, 0, sizeof(*q));
    q->key = key;
    q->signer = tu_self_signed(key, cn);
    q->csr = tu_csr(key, cn, challenge, dns);
}

static void req_clear(struct fx_req *q)
{
    X509_free(q->signer);
    X509_REQ_free(q->csr);
}

/* Expects a refusal of a new enrollment with text, at f's profile. */
static void refused(struct fx *f, EVP_PKEY *key, const char *cn, const char *challenge,
                    const char *dns, const char *tid, const char *text)
{
    struct fx_req q;

    req_new(&q, key, cn, challenge, dns);
    fx_expect_failure(f, SCEP_MSG_PKCSREQ, tid, &q, SCEP_FAIL_BAD_REQUEST, text);
    req_clear(&q);
}

/* Expects a certificate; returns it (X509_free()). */
static X509 *issued(struct fx *f, EVP_PKEY *key, const char *cn, const char *challenge,
                    const char *dns, const char *tid)
{
    struct fx_req q;
    X509 *c;

    req_new(&q, key, cn, challenge, dns);
    c = fx_expect_cert(f, SCEP_MSG_PKCSREQ, tid, &q);
    req_clear(&q);
    return c;
}

/* A named profile answers at its own name with its own challenge and
 * extensions; an unknown name is a 404 and touches nothing. */
static void test_named_profile(void **state)
{
    struct fx *f = *state;
    struct scep_service_profile vpn;
    struct scep_reply r;
    EVP_PKEY *key = tu_rsa_key(2048);
    EXTENDED_KEY_USAGE *eku;
    X509 *c;

    memset(&vpn, 0, sizeof(vpn));
    vpn.name = "vpn";
    vpn.challenge = VPN_CHALLENGE;
    vpn.profile.ext_key_usage = "serverAuth";
    vpn.profile.validity_days = 10;
    f->cfg.profiles = &vpn;
    f->cfg.nprofiles = 1;
    fx_restart(f);
    assert_true(scep_service_has_profile(f->svc, "vpn"));
    assert_true(scep_service_has_profile(f->svc, ""));
    assert_false(scep_service_has_profile(f->svc, "wifi"));

    f->profile = "vpn";
    refused(f, key, "gw1", CHALLENGE, NULL, "np-1", "challenge password wrong or unknown");
    c = issued(f, key, "gw1", VPN_CHALLENGE, NULL, "np-2");
    eku = X509_get_ext_d2i(c, NID_ext_key_usage, NULL, NULL);
    assert_non_null(eku);
    assert_int_equal(sk_ASN1_OBJECT_num(eku), 1);
    assert_int_equal(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, 0)), NID_server_auth);
    EXTENDED_KEY_USAGE_free(eku);
    X509_free(c);

    f->profile = "wifi";
    memset(&r, 0, sizeof(r));
    assert_int_equal(
        scep_service_pkioperation(f->svc, "wifi", (const unsigned char *)"x", 1, FX_PEER, &r), 0);
    assert_int_equal(r.http_status, 404);
    scep_reply_clear(&r);
    f->profile = NULL;
    f->cfg.profiles = NULL;
    f->cfg.nprofiles = 0;
    EVP_PKEY_free(key);
}

/* Each rule refuses by name, in a signed FAILURE. */
static void test_rules(void **state)
{
    struct fx *f = *state;
    struct scep_rules *rules = NULL;
    EVP_PKEY *rsa = tu_rsa_key(2048), *ec = tu_ec_key();
    struct fx_req q;
    char why[200];
    X509 *c;

    assert_int_equal(scep_rules_new(&rules), 0);
    assert_int_equal(
        scep_rules_set(rules, "dns_pattern", "[a-z0-9]+\\.wifi\\.example", why, sizeof(why)), 0);
    assert_int_equal(scep_rules_set(rules, "key_types", "rsa", why, sizeof(why)), 0);
    assert_int_equal(scep_rules_set(rules, "subject_cn_pattern", "dev-[0-9]+", why, sizeof(why)),
                     0);
    f->cfg.def.rules = rules;
    fx_restart(f);
    refused(f, rsa, "dev-1", CHALLENGE, "x.other.example", "ru-1",
            "profile default: SAN DNS:x.other.example does not match dns_pattern");
    /* The reply is encrypted to the signer, so only the CSR's key is EC. */
    memset(&q, 0, sizeof(q));
    q.key = rsa;
    q.signer = tu_self_signed(rsa, "dev-1");
    q.csr = tu_csr(ec, "dev-1", CHALLENGE, "a.wifi.example");
    fx_expect_failure(f, SCEP_MSG_PKCSREQ, "ru-2", &q, SCEP_FAIL_BAD_REQUEST,
                      "profile default: key type EC not allowed (key_types = rsa)");
    req_clear(&q);
    refused(f, rsa, "admin", CHALLENGE, "a.wifi.example", "ru-3",
            "profile default: subject CN=\"admin\" does not match subject_cn_pattern");
    c = issued(f, rsa, "dev-7", CHALLENGE, "a.wifi.example", "ru-4");
    X509_free(c);
    f->cfg.def.rules = NULL;
    fx_restart(f);
    scep_rules_free(rules);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
}

/* Mints a one-time challenge; *id receives its id.  Returns the text
 * (free()). */
static char *mint(struct fx *f, const char *profile, const char *subject, long ttl, int uses,
                  int64_t *id)
{
    struct scep_admin_challenge_spec spec;
    struct scep_challenge_info *info = NULL;
    char *text = NULL;

    memset(&spec, 0, sizeof(spec));
    spec.profile = profile;
    spec.subject = subject;
    spec.ttl = ttl;
    spec.uses = uses;
    assert_int_equal(scep_admin_challenge_new(f->st, &spec, "test", &text, &info), 0);
    assert_non_null(text);
    if (id != NULL)
        *id = info->id;
    scep_challenge_info_free(info);
    return text;
}

static void test_one_time(void **state)
{
    struct fx *f = *state;
    EVP_PKEY *k1 = tu_rsa_key_fresh(2048), *k2 = tu_rsa_key_fresh(2048);
    struct fx_audit a;
    char *otp, *other, *bound;
    int64_t id = 0;
    X509 *c1, *again;
    int i, seen = 0;

    otp = mint(f, NULL, NULL, 3600, 1, &id);
    c1 = issued(f, k1, "otp-1", otp, NULL, "ot-1");
    /* another transaction: used */
    refused(f, k2, "otp-2", otp, NULL, "ot-2", "one-time challenge already used");
    /* the same transaction and key again: the same certificate */
    again = issued(f, k1, "otp-1", otp, NULL, "ot-1");
    assert_int_equal(X509_cmp(c1, again), 0);
    assert_int_equal(fx_cert_count(f), 1);
    X509_free(again);
    X509_free(c1);
    /* the static challenge still works next to one-time ones */
    X509_free(issued(f, k2, "static-1", CHALLENGE, NULL, "ot-3"));

    other = mint(f, "vpn", NULL, 3600, 1, NULL);
    refused(f, k2, "otp-3", other, NULL, "ot-4",
            "one-time challenge is for another profile, not the default profile");
    bound = mint(f, NULL, "CN=bound-1", 3600, 2, NULL);
    refused(f, k2, "otp-4", bound, NULL, "ot-5", NULL);
    X509_free(issued(f, k2, "bound-1", bound, NULL, "ot-6"));
    refused(f, k2, "nothing-like-it", "no-such-challenge", NULL, "ot-7",
            "challenge password wrong or unknown");
    fx_audit_read(f, &a);
    for (i = 0; i < a.n && i < 16; i++)
        if (strcmp(a.kind[i], "issue") == 0 &&
            strstr(a.detail[i], "via=one-time challenge=") != NULL)
            seen++;
    assert_int_equal(seen, 2);
    free(otp);
    free(other);
    free(bound);
    EVP_PKEY_free(k1);
    EVP_PKEY_free(k2);
}

/* Under manual approval a one-time challenge is used by the PENDING
 * request (so another device cannot take it meanwhile); the request's
 * own resend stays PENDING, and once approved the certificate records
 * the challenge without using it again. */
static void test_one_time_pending(void **state)
{
    struct fx *f = *state;
    EVP_PKEY *k1 = tu_rsa_key_fresh(2048), *k2 = tu_rsa_key_fresh(2048);
    struct scep_request_info *ri = NULL;
    struct scep_cert_info *ci = NULL;
    struct scep_reply r;
    struct fx_req q;
    unsigned char *der = NULL;
    size_t len = 0;
    int64_t id = 0;
    char *otp;
    X509 *c;

    f->cfg.def.manual_approval = 1;
    fx_restart(f);
    otp = mint(f, NULL, NULL, 3600, 1, &id);
    req_new(&q, k1, "held-1", otp, NULL);
    fx_build(f, SCEP_MSG_PKCSREQ, "op-1", &q, &der, &len);
    fx_send(f, der, len, &r);
    assert_string_equal(r.outcome, "pending");
    scep_reply_clear(&r);
    /* the same transaction again: still pending, not "already used" */
    fx_send(f, der, len, &r);
    assert_string_equal(r.outcome, "pending");
    scep_reply_clear(&r);
    scep_free(der);
    refused(f, k2, "held-2", otp, NULL, "op-2", "one-time challenge already used");

    assert_int_equal(scep_store_get_request_by_transaction(f->st, "op-1", &ri), 0);
    assert_int_equal(ri->challenge_id, id);
    assert_int_equal(scep_admin_decide(f->st, "test", ri->id, SCEP_REQ_APPROVED, NULL, NULL), 0);
    c = fx_expect_cert(f, SCEP_MSG_PKCSREQ, "op-1", &q);
    assert_int_equal(scep_store_get_cert_by_transaction(f->st, "op-1", &ci), 0);
    assert_int_equal(ci->challenge_id, id);
    X509_free(c);
    scep_cert_info_free(ci);
    scep_request_info_free(ri);
    req_clear(&q);
    free(otp);
    f->cfg.def.manual_approval = 0;
    fx_restart(f);
    EVP_PKEY_free(k1);
    EVP_PKEY_free(k2);
}

/* Expired and revoked one-time challenges, each with its own text. */
static void test_one_time_dead(void **state)
{
    struct fx *f = *state;
    EVP_PKEY *k = tu_rsa_key(2048);
    char *short_lived, *revoked;
    int64_t id = 0;

    short_lived = mint(f, NULL, NULL, 1, 1, NULL);
    revoked = mint(f, NULL, NULL, 3600, 1, &id);
    assert_int_equal(scep_admin_challenge_revoke(f->st, "test", id, (int64_t)time(NULL)), 0);
    refused(f, k, "rev-1", revoked, NULL, "dd-1", "one-time challenge was revoked");
    sleep(2);
    refused(f, k, "exp-1", short_lived, NULL, "dd-2", "one-time challenge expired");
    free(short_lived);
    free(revoked);
    EVP_PKEY_free(k);
}

/* A renewal only within renewal_window_days of the old certificate's
 * expiry (365 days here): refused with the rule's name before. */
static void test_renewal_window(void **state)
{
    struct fx *f = *state;
    EVP_PKEY *old_key = tu_rsa_key_fresh(2048), *new_key = tu_rsa_key_fresh(2048);
    struct fx_audit a;
    struct fx_req q;
    X509 *old, *c;

    old = issued(f, old_key, "renew-me", CHALLENGE, NULL, "rw-1");
    f->cfg.def.renewal_window_days = 30;
    fx_restart(f);
    memset(&q, 0, sizeof(q));
    q.key = old_key;
    q.signer = old;
    q.csr = tu_csr(new_key, "renew-me", NULL, NULL);
    /* The days left depend on the second the test runs in. */
    fx_expect_failure(f, SCEP_MSG_RENEWALREQ, "rw-2", &q, SCEP_FAIL_BAD_REQUEST, NULL);
    fx_audit_read(f, &a);
    assert_non_null(strstr(a.detail[a.n - 1], "profile default: renewal only within 30 days"));
    assert_non_null(strstr(a.detail[a.n - 1], "(renewal_window_days)"));
    f->cfg.def.renewal_window_days = 400;
    fx_restart(f);
    c = fx_expect_cert(f, SCEP_MSG_RENEWALREQ, "rw-3", &q);
    X509_free(c);
    X509_REQ_free(q.csr);
    X509_free(old);
    f->cfg.def.renewal_window_days = 0;
    fx_restart(f);
    EVP_PKEY_free(old_key);
    EVP_PKEY_free(new_key);
}

/* Over the per-challenge limit: HTTP 429 with Retry-After, no CertRep,
 * nothing signed (the private-key counter moves by the decryption only). */
static void test_challenge_limit(void **state)
{
    struct fx *f = *state;
    struct scep_ratelimit *rl = NULL;
    EVP_PKEY *k = tu_rsa_key(2048);
    struct fx_req q;
    struct scep_reply r;
    unsigned char *der = NULL;
    size_t len = 0;
    uint64_t ops;

    assert_int_equal(scep_ratelimit_new(1, 1, 64, &rl), 0);
    f->cfg.challenge_limit = rl;
    fx_restart(f);
    X509_free(issued(f, k, "lim-1", CHALLENGE, NULL, "cl-1"));
    req_new(&q, k, "lim-2", CHALLENGE, NULL);
    fx_build(f, SCEP_MSG_PKCSREQ, "cl-2", &q, &der, &len);
    ops = scep_keyring_private_ops();
    fx_send(f, der, len, &r);
    assert_int_equal(r.http_status, 429);
    assert_true(r.retry_after >= 1 && r.retry_after <= 60);
    assert_null(r.body);
    assert_int_equal(scep_keyring_private_ops(), ops + 1); /* the envelope only */
    scep_reply_clear(&r);
    scep_free(der);
    req_clear(&q);
    f->cfg.challenge_limit = NULL;
    fx_restart(f);
    scep_ratelimit_free(rl);
    EVP_PKEY_free(k);
}

/* The webhook in two steps: the document and its signature, then the
 * answer decides. */
static void test_webhook_steps(void **state)
{
    struct fx *f = *state;
    EVP_PKEY *k = tu_rsa_key_fresh(2048);
    struct scep_pending *p = NULL;
    struct scep_webhook_call call;
    struct scep_reply r;
    struct fx_req q;
    unsigned char *der = NULL, mac[32];
    unsigned int maclen = 0;
    char want[80];
    size_t len = 0, i;
    const char *allow = "{\"allow\": true}",
               *deny = "{\"allow\": false, \"reason\": \"unknown device\"}";
    struct scep_msg *m;

    f->cfg.def.challenge = NULL;
    f->cfg.def.webhook_url = "http://127.0.0.1:9/verify";
    f->cfg.def.webhook_secret = "hook-key";
    f->cfg.def.webhook_timeout_ms = 1000;
    fx_restart(f);

    req_new(&q, k, "hooked", "mdm-token", "hooked.example");
    fx_build(f, SCEP_MSG_PKCSREQ, "wh-1", &q, &der, &len);
    memset(&r, 0, sizeof(r));
    assert_int_equal(scep_service_pkioperation_begin(f->svc, NULL, der, len, FX_PEER, &r, &p), 0);
    assert_non_null(p);
    scep_pending_webhook(p, &call);
    assert_string_equal(call.url, "http://127.0.0.1:9/verify");
    assert_int_equal(call.timeout_ms, 1000);
    assert_non_null(strstr(call.body, "\"wh-1\""));
    assert_non_null(strstr(call.body, "\"mdm-token\""));
    assert_non_null(strstr(call.body, "DNS:hooked.example"));
    assert_non_null(HMAC(EVP_sha256(), "hook-key", 8, (const unsigned char *)call.body, call.len,
                         mac, &maclen));
    memcpy(want, "sha256=", 7);
    for (i = 0; i < maclen; i++)
        snprintf(want + 7 + 2 * i, 3, "%02x", mac[i]);
    assert_string_equal(call.signature, want);
    assert_int_equal(fx_cert_count(f), 0);
    assert_int_equal(scep_service_pkioperation_resume(f->svc, p, 200, (const unsigned char *)allow,
                                                      strlen(allow), NULL, &r),
                     0);
    assert_string_equal(r.outcome, "success");
    assert_string_equal(r.via, "webhook");
    assert_int_equal(fx_cert_count(f), 1);
    scep_reply_clear(&r);
    scep_free(der);
    req_clear(&q);

    req_new(&q, k, "denied", "mdm-token", NULL);
    fx_build(f, SCEP_MSG_PKCSREQ, "wh-2", &q, &der, &len);
    assert_int_equal(scep_service_pkioperation_begin(f->svc, NULL, der, len, FX_PEER, &r, &p), 0);
    assert_non_null(p);
    assert_int_equal(scep_service_pkioperation_resume(f->svc, p, 200, (const unsigned char *)deny,
                                                      strlen(deny), NULL, &r),
                     0);
    assert_string_equal(r.outcome, "failure");
    m = fx_open(f, &r, "wh-2", &q);
    assert_non_null(strstr(scep_msg_get0_fail_text(m), "unknown device"));
    scep_msg_free(m);
    scep_reply_clear(&r);
    scep_free(der);
    req_clear(&q);

    /* The blocking transport: nothing listens on port 9, fail-closed. */
    req_new(&q, k, "nobody-home", "mdm-token", NULL);
    fx_build(f, SCEP_MSG_PKCSREQ, "wh-3", &q, &der, &len);
    fx_send(f, der, len, &r);
    assert_string_equal(r.outcome, "failure");
    assert_non_null(strstr(r.reason, "webhook unreachable"));
    scep_reply_clear(&r);
    scep_free(der);
    req_clear(&q);
    assert_int_equal(fx_cert_count(f), 1);

    /* A pending enrollment given up is freed without an answer. */
    req_new(&q, k, "abandoned", "mdm-token", NULL);
    fx_build(f, SCEP_MSG_PKCSREQ, "wh-4", &q, &der, &len);
    assert_int_equal(scep_service_pkioperation_begin(f->svc, NULL, der, len, FX_PEER, &r, &p), 0);
    assert_non_null(p);
    scep_pending_free(p);
    scep_reply_clear(&r);
    scep_free(der);
    req_clear(&q);

    f->cfg.def.challenge = CHALLENGE;
    f->cfg.def.webhook_url = NULL;
    f->cfg.def.webhook_secret = NULL;
    fx_restart(f);
    EVP_PKEY_free(k);
}

/* How many of f's first audit events are "refuse" ones. */
static int refuse_events(struct fx *f)
{
    struct fx_audit a;
    int i, n = 0;

    fx_audit_read(f, &a);
    for (i = 0; i < a.n && i < 16; i++)
        n += strcmp(a.kind[i], "refuse") == 0;
    return n;
}

/* A refused message sent again is answered from memory: the same signed
 * FAILURE, no private-key work, no audit row each time; the count is
 * written once when the worker forgets it. */
static void test_replay(void **state)
{
    struct fx *f = *state;
    EVP_PKEY *k = tu_rsa_key(2048);
    struct fx_req q;
    struct fx_audit a;
    struct scep_reply r, again;
    unsigned char *der = NULL;
    size_t len = 0;
    uint64_t ops;
    int i;

    req_new(&q, k, "replayed", "wrong-challenge", NULL);
    fx_build(f, SCEP_MSG_PKCSREQ, "rp-1", &q, &der, &len);
    ops = scep_keyring_private_ops();
    fx_send(f, der, len, &r);
    assert_string_equal(r.outcome, "failure");
    assert_int_equal(scep_keyring_private_ops(), ops + 2); /* envelope, signature */
    for (i = 0; i < 4; i++) {
        fx_send(f, der, len, &again);
        assert_string_equal(again.outcome, "failure");
        assert_int_equal(again.len, r.len);
        assert_memory_equal(again.body, r.body, r.len);
        scep_reply_clear(&again);
    }
    assert_int_equal(scep_keyring_private_ops(), ops + 2);
    assert_int_equal(refuse_events(f), 1);
    /* The worker forgets (here: it stops): the repeats are told once. */
    fx_restart(f);
    fx_audit_read(f, &a);
    assert_string_equal(a.kind[a.n - 1], "refuse");
    assert_non_null(strstr(a.detail[a.n - 1], "the same message again 4 time(s)"));
    scep_reply_clear(&r);
    scep_free(der);
    req_clear(&q);
    EVP_PKEY_free(k);
}

/* Services sharing one memory (a process's workers): a refusal made by
 * one is answered from memory by the other, and the repeats are told
 * once, by the last service to go. */
static void test_replay_shared(void **state)
{
    struct fx *f = *state;
    EVP_PKEY *k = tu_rsa_key(2048);
    struct scep_replay_memory *mem = NULL;
    struct scep_service *other = NULL;
    struct fx_req q;
    struct fx_audit a;
    struct scep_reply r, again;
    unsigned char *der = NULL;
    size_t len = 0;
    uint64_t ops;
    int i;

    assert_int_equal(scep_replay_memory_new(&mem), 0);
    f->cfg.replay = mem;
    fx_restart(f);
    assert_int_equal(scep_service_new(f->ca, f->st, &f->cfg, &other), 0);
    /* The services hold their own references. */
    scep_replay_memory_free(mem);
    f->cfg.replay = NULL;

    req_new(&q, k, "replayed", "wrong-challenge", NULL);
    fx_build(f, SCEP_MSG_PKCSREQ, "rp-2", &q, &der, &len);
    ops = scep_keyring_private_ops();
    fx_send(f, der, len, &r);
    assert_string_equal(r.outcome, "failure");
    for (i = 0; i < 3; i++) {
        memset(&again, 0, sizeof(again));
        assert_int_equal(scep_service_pkioperation(other, NULL, der, len, FX_PEER, &again), 0);
        assert_string_equal(again.outcome, "failure");
        assert_int_equal(again.len, r.len);
        assert_memory_equal(again.body, r.body, r.len);
        scep_reply_clear(&again);
    }
    assert_int_equal(scep_keyring_private_ops(), ops + 2);
    /* One service going tells nothing yet: the other still remembers. */
    scep_service_free(other);
    assert_int_equal(refuse_events(f), 1);
    fx_send(f, der, len, &again);
    assert_memory_equal(again.body, r.body, r.len);
    scep_reply_clear(&again);
    fx_restart(f); /* the last user goes, then one with a memory of its own */
    fx_audit_read(f, &a);
    assert_string_equal(a.kind[a.n - 1], "refuse");
    assert_non_null(strstr(a.detail[a.n - 1], "the same message again 4 time(s)"));
    scep_reply_clear(&r);
    scep_free(der);
    req_clear(&q);
    EVP_PKEY_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_named_profile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_time_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_time_dead, setup, teardown),
        cmocka_unit_test_setup_teardown(test_renewal_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_challenge_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_webhook_steps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_shared, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
