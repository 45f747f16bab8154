/*
 * Unit tests of lib/config: defaults from the key table, INI file
 * parsing with FILE:LINE errors, flags overriding the file, value
 * validation, unknown sections and keys, and scep_config_finish (database
 * default, challenge_file, the [tls] keys that go together).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/obj_mac.h>
#include <scep/error.h>
#include "common/server_limits.h"

#include "config/config.h"
#include "testutil.h"

struct fixture {
    char *dir;
    struct scep_config c;
    char err[512];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->dir = tu_tempdir();
    assert_int_equal(scep_config_defaults(&f->c), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    scep_config_clear(&f->c);
    tu_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* Writes text to DIR/name with mode and returns the path (free()). */
static char *write_file(const struct fixture *f, const char *name, const char *text, mode_t mode)
{
    size_t n = strlen(f->dir) + strlen(name) + 2;
    char *path = malloc(n);
    FILE *fp;

    assert_non_null(path);
    snprintf(path, n, "%s/%s", f->dir, name);
    fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(chmod(path, mode), 0);
    return path;
}

static void test_defaults(void **state)
{
    struct fixture *f = *state;
    struct scep_config *c = &f->c;

    assert_string_equal(c->listen, "0.0.0.0:8080");
    assert_int_equal(c->workers, 0);
    assert_string_equal(c->path_prefix, "/scep");
    assert_int_equal(c->max_body, SCEP_MAX_BODY);
    assert_int_equal(c->read_timeout, SCEP_READ_TIMEOUT_SECONDS);
    assert_int_equal(c->write_timeout, SCEP_WRITE_TIMEOUT_SECONDS);
    assert_int_equal(c->max_connections, SCEP_MAX_CONNECTIONS_PER_WORKER);
    assert_int_equal(c->max_connections_per_client, SCEP_MAX_CONNECTIONS_PER_CLIENT);
    assert_int_equal(c->max_header_memory, SCEP_MAX_HEADER_MEMORY);
    assert_string_equal(c->log_level, "info");
    assert_null(c->public_url);
    assert_string_equal(c->state_dir, "/var/lib/scepd");
    assert_null(c->database);
    assert_string_equal(c->ca_subject, "CN=scepd CA");
    assert_string_equal(c->ca_key_type, "rsa");
    assert_int_equal(c->ca_rsa_bits, 3072);
    assert_int_equal(c->ca_ra_rsa_bits, 3072);
    assert_int_equal(c->ca_validity_days, 3650);
    assert_int_equal(c->ca_with_ra, 0);
    assert_int_equal(c->crl_validity_hours, 168);
    assert_null(c->enroll.challenge);
    assert_null(c->enroll.challenge_file);
    assert_int_equal(c->enroll.renewal, 1);
    assert_int_equal(c->enroll.validity_days, 365);
    assert_int_equal(c->enroll.validity_seconds, 0);
    assert_string_equal(c->enroll.key_usage, "critical,digitalSignature,keyEncipherment");
    assert_string_equal(c->enroll.ext_key_usage, "clientAuth");
    assert_null(c->enroll.crl_url);

    /* finish derives the database from the state directory */
    assert_int_equal(scep_config_finish(c, f->err, sizeof(f->err)), 0);
    assert_string_equal(c->database, "sqlite:/var/lib/scepd/scepd.db");
}

static void test_file_parsing(void **state)
{
    struct fixture *f = *state;
    struct scep_config *c = &f->c;
    char *path = write_file(f, "scepd.conf",
                            "; comment\n"
                            "# another comment\n"
                            "[server]\n"
                            "listen = [::1]:0\n"
                            "workers = 3\n"
                            "path_prefix = /enroll\n"
                            "log_level = debug\n"
                            "\n"
                            "[ca]\r\n"
                            "state_dir = /tmp/x\r\n"
                            "ca_key_type = ec-p384\n"
                            "ca_with_ra = yes\n"
                            "[enroll]\n"
                            "challenge = s3cret words\n"
                            "renewal = off\n"
                            "validity_days = 30\n"
                            "validity_seconds = 600\n"
                            "crl_url = http://ca.example/crl\n",
                            0600);

    assert_int_equal(scep_config_load_file(c, path, f->err, sizeof(f->err)), 0);
    assert_string_equal(c->listen, "[::1]:0");
    assert_int_equal(c->workers, 3);
    assert_string_equal(c->path_prefix, "/enroll");
    assert_string_equal(c->log_level, "debug");
    assert_string_equal(c->state_dir, "/tmp/x");
    assert_string_equal(c->ca_key_type, "ec-p384");
    assert_int_equal(c->ca_with_ra, 1);
    assert_string_equal(c->enroll.challenge, "s3cret words");
    assert_int_equal(c->enroll.renewal, 0);
    assert_int_equal(c->enroll.validity_days, 30);
    assert_int_equal(c->enroll.validity_seconds, 600);
    assert_string_equal(c->enroll.crl_url, "http://ca.example/crl");
    /* untouched keys keep defaults */
    assert_int_equal(c->read_timeout, SCEP_READ_TIMEOUT_SECONDS);

    assert_int_equal(scep_config_finish(c, f->err, sizeof(f->err)), 0);
    assert_string_equal(c->database, "sqlite:/tmp/x/scepd.db");

    {
        struct scep_ca_init_opts o;
        struct scep_service_config s;

        scep_config_ca_init_opts(c, &o);
        assert_int_equal(o.key_type, SCEP_KEY_EC);
        assert_int_equal(o.ec_curve, NID_secp384r1);
        assert_int_equal(o.with_ra, 1);
        scep_config_service(c, &s, NULL);
        assert_string_equal(s.def.challenge, "s3cret words");
        assert_int_equal(s.def.allow_renewal, 0);
        assert_int_equal(s.def.profile.validity_days, 30);
        assert_int_equal(s.def.profile.validity_seconds, 600);
        assert_string_equal(s.def.profile.crl_url, "http://ca.example/crl");
        assert_null(s.def.profile.ocsp_url);
    }
    free(path);
}

static void test_flags_override_file(void **state)
{
    struct fixture *f = *state;
    struct scep_config *c = &f->c;
    char *path = write_file(f, "a.conf", "[server]\nlisten = 127.0.0.1:9000\nworkers = 2\n", 0600);

    assert_int_equal(scep_config_load_file(c, path, f->err, sizeof(f->err)), 0);
    assert_int_equal(scep_config_set(c, "listen", "127.0.0.1:0", f->err, sizeof(f->err)), 0);
    assert_int_equal(scep_config_set(c, "path-prefix", "/x", f->err, sizeof(f->err)), 0);
    assert_int_equal(scep_config_set(c, "validity-seconds", "60", f->err, sizeof(f->err)), 0);
    assert_int_equal(scep_config_set(c, "ca_with_ra", "TRUE", f->err, sizeof(f->err)), 0);
    assert_string_equal(c->listen, "127.0.0.1:0");
    assert_string_equal(c->path_prefix, "/x");
    assert_int_equal(c->enroll.validity_seconds, 60);
    assert_int_equal(c->ca_with_ra, 1);
    assert_int_equal(c->workers, 2);
    /* an empty value clears an optional string */
    assert_int_equal(scep_config_set(c, "crl-url", "http://a/", f->err, sizeof(f->err)), 0);
    assert_int_equal(scep_config_set(c, "crl-url", "", f->err, sizeof(f->err)), 0);
    assert_null(c->enroll.crl_url);
    assert_int_equal(scep_config_is_key("path-prefix"), 1);
    assert_int_equal(scep_config_is_key("path_prefix"), 1);
    assert_int_equal(scep_config_is_key("config"), 0);
    assert_int_equal(scep_config_is_key(""), 0);
    free(path);
}

static void test_bad_values(void **state)
{
    struct fixture *f = *state;
    struct scep_config *c = &f->c;
    static const char *const bad[][2] = {
        {"workers", "-1"},
        {"workers", "65"},
        {"workers", "3x"},
        {"workers", ""},
        {"workers", "99999999999999999999"},
        {"read_timeout", "0"},
        {"max_body", "1000000"},
        {"renewal", "maybe"},
        {"log_level", "verbose"},
        {"ca_key_type", "dsa"},
        {"ca_rsa_bits", "1024"},
        {"ca_ra_rsa_bits", "1024"},
        {"ca_ra_rsa_bits", "16384"},
        {"listen", "8080"},
        {"listen", "[::1]8080"},
        {"listen", "::1:8080"},
        {"listen", "a:65536"},
        {"listen", ""},
        {"path_prefix", "scep"},
        {"path_prefix", "/a?b"},
        {"validity_seconds", "-5"},
        {"state_dir", ""},
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        f->err[0] = '\0';
        assert_int_equal(scep_config_set(c, bad[i][0], bad[i][1], f->err, sizeof(f->err)),
                         SCEP_ERR_CONFIG);
        assert_non_null(strstr(f->err, bad[i][0]));
    }
    /* nothing changed */
    assert_int_equal(c->workers, 0);
    assert_string_equal(c->listen, "0.0.0.0:8080");
    assert_int_equal(c->enroll.renewal, 1);

    /* a bad challenge is never echoed */
    {
        char big[SCEP_MAX_CHALLENGE + 2];

        memset(big, 'q', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        assert_int_equal(scep_config_set(c, "challenge", big, f->err, sizeof(f->err)),
                         SCEP_ERR_CONFIG);
        assert_null(strstr(f->err, "qqqq"));
    }
}

static void test_unknown_keys(void **state)
{
    struct fixture *f = *state;
    struct scep_config *c = &f->c;
    char *p1 = write_file(f, "u1.conf", "[server]\nlisten = 127.0.0.1:1\n\nbogus = 1\n", 0600);
    char *p2 = write_file(f, "u2.conf", "[server]\nworkers = 1\n[nosuch]\nlisten = :1\n", 0600);
    char *p3 = write_file(f, "u3.conf", "[server]\nstate_dir = /x\n", 0600);
    char *p4 = write_file(f, "u4.conf", "[ca]\n\n\ngarbage line\n", 0600);
    char *p5 = write_file(f, "u5.conf", "[enroll]\nvalidity_days = 0\n", 0600);
    char *p6 = write_file(f, "u6.conf", "[server]\npath-prefix = /x\n", 0600);
    char expect[600];

    assert_int_equal(scep_config_set(c, "nosuch", "1", f->err, sizeof(f->err)), SCEP_ERR_CONFIG);
    assert_non_null(strstr(f->err, "unknown key"));

    assert_int_equal(scep_config_load_file(c, p1, f->err, sizeof(f->err)), SCEP_ERR_CONFIG);
    snprintf(expect, sizeof(expect), "%s:4: unknown key \"bogus\"", p1);
    assert_non_null(strstr(f->err, expect));

    assert_int_equal(scep_config_load_file(c, p2, f->err, sizeof(f->err)), SCEP_ERR_CONFIG);
    snprintf(expect, sizeof(expect), "%s:4: unknown section [nosuch]", p2);
    assert_string_equal(f->err, expect);

    assert_int_equal(scep_config_load_file(c, p3, f->err, sizeof(f->err)), SCEP_ERR_CONFIG);
    snprintf(expect, sizeof(expect), "%s:2: key \"state_dir\" belongs in [ca]", p3);
    assert_non_null(strstr(f->err, expect));

    assert_int_equal(scep_config_load_file(c, p4, f->err, sizeof(f->err)), SCEP_ERR_CONFIG);
    snprintf(expect, sizeof(expect), "%s:4: syntax error", p4);
    assert_string_equal(f->err, expect);

    assert_int_equal(scep_config_load_file(c, p5, f->err, sizeof(f->err)), SCEP_ERR_CONFIG);
    snprintf(expect, sizeof(expect), "%s:2: validity_days", p5);
    assert_non_null(strstr(f->err, expect));

    assert_int_equal(scep_config_load_file(c, p6, f->err, sizeof(f->err)), SCEP_ERR_CONFIG);

    snprintf(expect, sizeof(expect), "%s/missing.conf", f->dir);
    assert_int_equal(scep_config_load_file(c, expect, f->err, sizeof(f->err)), SCEP_ERR_IO);
    free(p1);
    free(p2);
    free(p3);
    free(p4);
    free(p5);
    free(p6);
}

/* keyUsage and extendedKeyUsage are checked where they are read, with
 * file:line, instead of failing every issuance once scepd runs. */
static void test_extension_values(void **state)
{
    struct fixture *f = *state;
    struct scep_config *c = &f->c;
    char *p1 = write_file(f, "e1.conf", "[enroll]\n\next_key_usage = clientAuth,bogusEKU\n", 0600);
    char *p2 = write_file(f, "e2.conf", "[enroll]\nkey_usage = critical,digitalSignatur\n", 0600);
    char *p3 = write_file(f, "e3.conf",
                          "[enroll]\nkey_usage = critical,digitalSignature\n"
                          "ext_key_usage = serverAuth,clientAuth,1.3.6.1.5.5.7.3.17\n",
                          0600);
    char expect[600];

    assert_int_equal(scep_config_load_file(c, p1, f->err, sizeof(f->err)), SCEP_ERR_CONFIG);
    snprintf(expect, sizeof(expect),
             "%s:3: ext_key_usage: \"clientAuth,bogusEKU\" is not an extendedKeyUsage value", p1);
    assert_non_null(strstr(f->err, expect));
    assert_int_equal(scep_config_load_file(c, p2, f->err, sizeof(f->err)), SCEP_ERR_CONFIG);
    snprintf(expect, sizeof(expect), "%s:2: key_usage:", p2);
    assert_non_null(strstr(f->err, expect));
    assert_int_equal(scep_config_load_file(c, p3, f->err, sizeof(f->err)), 0);
    assert_string_equal(c->enroll.ext_key_usage, "serverAuth,clientAuth,1.3.6.1.5.5.7.3.17");
    assert_int_equal(scep_config_set(c, "ext_key_usage", "nonsense", f->err, sizeof(f->err)),
                     SCEP_ERR_CONFIG);
    free(p1);
    free(p2);
    free(p3);
}

/* [profile NAME]: the [enroll] keys and the rules per URL, each
 * checked when read with FILE:LINE; a profile starts from the built-in
 * defaults, never from [enroll]. */
static void test_profiles(void **state)
{
    struct fixture *f = *state;
    struct scep_config *c = &f->c;
    struct scep_service_config s;
    struct scep_service_profile sp[2];
    const struct scep_config_profile *vpn, *wifi;
    char *good = write_file(f, "p.conf",
                            "[enroll]\nvalidity_days = 7\n"
                            "[profile vpn]\n"
                            "ext_key_usage = serverAuth,clientAuth\n"
                            "challenge = vpn-secret\n"
                            "key_types = rsa\n"
                            "subject_cn_pattern = gw[0-9]+\n"
                            "renewal_window_days = 30\n"
                            "revoke_superseded_after_days = 14\n"
                            "[profile wifi]\n"
                            "san_types = dns\n"
                            "approval = manual\n",
                            0600);
    char *bad_eku = write_file(
        f, "b1.conf", "[profile vpn]\nvalidity_days = 3\next_key_usage = bogusEKU\n", 0600);
    char *bad_re = write_file(f, "b2.conf", "[profile wifi]\n\ndns_pattern = [a-z\n", 0600);
    char *bad_name = write_file(f, "b3.conf", "[profile a/b]\nvalidity_days = 1\n", 0600);
    char *reserved = write_file(f, "b4.conf", "[profile default]\nvalidity_days = 1\n", 0600);
    char *no_secret = write_file(
        f, "b5.conf", "[server]\n[profile hook]\nwebhook_url = https://mdm.example/\n", 0600);
    char *not_here = write_file(f, "b6.conf", "[profile x]\nlisten = :1\n", 0600);
    char expect[700];

    assert_int_equal(scep_config_load_file(c, good, f->err, sizeof(f->err)), 0);
    assert_int_equal(scep_config_finish(c, f->err, sizeof(f->err)), 0);
    assert_int_equal(c->nprofiles, 2);
    vpn = scep_config_find_profile(c, "vpn");
    wifi = scep_config_find_profile(c, "wifi");
    assert_non_null(vpn);
    assert_non_null(wifi);
    assert_ptr_equal(scep_config_find_profile(c, ""), &c->enroll);
    assert_null(scep_config_find_profile(c, "nosuch"));
    assert_string_equal(vpn->ext_key_usage, "serverAuth,clientAuth");
    /* the built-in default, not [enroll]'s 7 */
    assert_int_equal(vpn->validity_days, 365);
    assert_int_equal(c->enroll.validity_days, 7);
    assert_int_equal(vpn->renewal_window_days, 30);
    /* Per profile, default 0 (never), [enroll] not inherited. */
    assert_int_equal(vpn->revoke_superseded_after_days, 14);
    assert_int_equal(wifi->revoke_superseded_after_days, 0);
    assert_int_equal(c->enroll.revoke_superseded_after_days, 0);
    scep_config_service(c, &s, sp);
    assert_int_equal(s.nprofiles, 2);
    assert_ptr_equal(s.profiles, sp);
    assert_string_equal(sp[0].name, "vpn");
    assert_string_equal(sp[0].challenge, "vpn-secret");
    assert_int_equal(sp[0].require_challenge, 1);
    assert_non_null(sp[0].rules);
    assert_int_equal(sp[1].manual_approval, 1);
    /* a named profile without a static challenge takes one-time ones only */
    assert_null(sp[1].challenge);
    assert_int_equal(sp[1].require_challenge, 1);
    assert_int_equal(s.def.require_challenge, 0);
    assert_int_equal(s.def.profile.validity_days, 7);

    assert_int_equal(scep_config_load_file(c, bad_eku, f->err, sizeof(f->err)), SCEP_ERR_CONFIG);
    snprintf(expect, sizeof(expect), "%s:3: ext_key_usage:", bad_eku);
    assert_non_null(strstr(f->err, expect));
    assert_int_equal(scep_config_load_file(c, bad_re, f->err, sizeof(f->err)), SCEP_ERR_CONFIG);
    snprintf(expect, sizeof(expect), "%s:3: dns_pattern: regex error", bad_re);
    assert_non_null(strstr(f->err, expect));
    assert_int_equal(scep_config_load_file(c, bad_name, f->err, sizeof(f->err)), SCEP_ERR_CONFIG);
    snprintf(expect, sizeof(expect), "%s:2: profile name \"a/b\"", bad_name);
    assert_non_null(strstr(f->err, expect));
    assert_int_equal(scep_config_load_file(c, reserved, f->err, sizeof(f->err)), SCEP_ERR_CONFIG);
    assert_non_null(strstr(f->err, "is reserved"));
    assert_int_equal(scep_config_load_file(c, not_here, f->err, sizeof(f->err)), SCEP_ERR_CONFIG);
    snprintf(expect, sizeof(expect), "%s:2: key \"listen\" belongs in [server]", not_here);
    assert_non_null(strstr(f->err, expect));
    scep_config_clear(c);
    assert_int_equal(scep_config_defaults(c), 0);
    assert_int_equal(scep_config_load_file(c, no_secret, f->err, sizeof(f->err)), 0);
    assert_int_equal(scep_config_finish(c, f->err, sizeof(f->err)), SCEP_ERR_CONFIG);
    snprintf(expect, sizeof(expect), "%s:3: profile hook: webhook_url needs", no_secret);
    assert_non_null(strstr(f->err, expect));
    /* rule keys are flags too, for the default profile */
    assert_int_equal(scep_config_set(c, "dns-pattern", "[a-z]+", f->err, sizeof(f->err)), 0);
    assert_int_equal(scep_config_set(c, "san_max", "x", f->err, sizeof(f->err)), SCEP_ERR_CONFIG);
    assert_true(scep_config_is_key("subject-cn-pattern"));
    free(good);
    free(bad_eku);
    free(bad_re);
    free(bad_name);
    free(reserved);
    free(no_secret);
    free(not_here);
}

/* ec_curves: a list of the three NIST curves, checked when read. */
static void test_ec_curves(void **state)
{
    struct fixture *f = *state;
    struct scep_config *c = &f->c;
    struct scep_profile p;
    unsigned bits = 0;

    scep_config_profile(c, &c->enroll, &p);
    assert_int_equal(p.ec_curves, SCEP_CURVE_P256 | SCEP_CURVE_P384 | SCEP_CURVE_P521);
    assert_int_equal(scep_config_set(c, "ec_curves", "P-384, P-256", f->err, sizeof(f->err)), 0);
    scep_config_profile(c, &c->enroll, &p);
    assert_int_equal(p.ec_curves, SCEP_CURVE_P256 | SCEP_CURVE_P384);
    assert_int_equal(scep_config_set(c, "ec-curves", "P-256,P-224", f->err, sizeof(f->err)),
                     SCEP_ERR_CONFIG);
    assert_non_null(strstr(f->err, "ec_curves: \"P-256,P-224\" is not a list of"));
    assert_int_equal(scep_config_set(c, "ec_curves", ",", f->err, sizeof(f->err)), SCEP_ERR_CONFIG);
    assert_int_equal(scep_ca_parse_curves("P-521", &bits), 0);
    assert_int_equal(bits, SCEP_CURVE_P521);
    assert_int_equal(scep_ca_parse_curves("p-521", &bits), SCEP_ERR_CONFIG);
    assert_int_equal(scep_ca_parse_curves("P-5210", &bits), SCEP_ERR_CONFIG);
}

static void test_long_line(void **state)
{
    struct fixture *f = *state;
    char text[2048];
    char expect[600];
    char *path;

    memset(text, 0, sizeof(text));
    memcpy(text, "[enroll]\ncrl_url = http://", 26);
    memset(text + 26, 'a', 1000);
    memcpy(text + 1026, "\n", 1);
    path = write_file(f, "long.conf", text, 0600);
    assert_int_equal(scep_config_load_file(&f->c, path, f->err, sizeof(f->err)), SCEP_ERR_CONFIG);
    snprintf(expect, sizeof(expect), "%s:2: line too long", path);
    assert_string_equal(f->err, expect);
    assert_null(f->c.enroll.crl_url);
    free(path);
}

static void test_challenge_file(void **state)
{
    struct fixture *f = *state;
    struct scep_config *c = &f->c;
    char *good = write_file(f, "chal", "pa ss\r\nsecond line\n", 0600);
    char *open_file = write_file(f, "chal-open", "x\n", 0644);
    char *empty = write_file(f, "chal-empty", "\n", 0600);

    assert_int_equal(scep_config_set(c, "challenge-file", good, f->err, sizeof(f->err)), 0);
    assert_int_equal(scep_config_finish(c, f->err, sizeof(f->err)), 0);
    assert_string_equal(c->enroll.challenge, "pa ss");

    /* finishing again reads nothing twice */
    assert_int_equal(scep_config_finish(c, f->err, sizeof(f->err)), 0);
    assert_string_equal(c->enroll.challenge, "pa ss");
    /* both set: refused */
    assert_int_equal(scep_config_set(c, "challenge", "explicit", f->err, sizeof(f->err)), 0);
    assert_int_equal(scep_config_finish(c, f->err, sizeof(f->err)), SCEP_ERR_CONFIG);
    assert_int_equal(scep_config_set(c, "challenge", "", f->err, sizeof(f->err)), 0);

    assert_int_equal(scep_config_set(c, "challenge_file", open_file, f->err, sizeof(f->err)), 0);
    assert_int_equal(scep_config_finish(c, f->err, sizeof(f->err)), SCEP_ERR_PERMISSIONS);
    assert_null(c->enroll.challenge);

    assert_int_equal(scep_config_set(c, "challenge_file", empty, f->err, sizeof(f->err)), 0);
    assert_int_equal(scep_config_finish(c, f->err, sizeof(f->err)), SCEP_ERR_CONFIG);

    assert_int_equal(scep_config_set(c, "challenge_file", "/nonexistent/x", f->err, sizeof(f->err)),
                     0);
    assert_int_equal(scep_config_finish(c, f->err, sizeof(f->err)), SCEP_ERR_NOT_FOUND);
    free(good);
    free(open_file);
    free(empty);
}

static void count_key(const char *key, const char *section, const char *help, void *arg)
{
    size_t *n = arg;

    assert_true(scep_config_is_key(key));
    assert_true(strcmp(section, "server") == 0 || strcmp(section, "ca") == 0 ||
                strcmp(section, "enroll") == 0 || strcmp(section, "tls") == 0 ||
                strcmp(section, "limits") == 0 || strcmp(section, "notify") == 0 ||
                strcmp(section, "admin") == 0);
    assert_true(strlen(help) > 0);
    (*n)++;
}

static void test_each_key(void **state)
{
    size_t n = 0;

    (void)state;
    scep_config_each_key(count_key, &n);
    /* one per field of struct scep_config and of struct
     * scep_config_profile, and the 23 rule keys of lib/policy/rules.h */
    /* 12: the [notify] keys, 9: the [admin] keys; 49 includes
     * revoke_superseded_after_days; 3: ocsp_signer, ocsp_responder_days,
     * purge_decided_after_days */
    /* 2: max_connections_per_client, max_header_memory; 1: ca_ra_rsa_bits */
    assert_int_equal(n, 49 + 12 + 9 + 23 + 3 + 2 + 1);
}

/* With public_url, issued certificates point at scepd's own /crl and
 * /ocsp on that host unless crl_url / ocsp_url say otherwise. */
static void test_public_url_status_urls(void **state)
{
    struct fixture *f = *state;
    struct scep_config *c = &f->c;
    struct scep_service_config s;
    struct scep_profile p;

    assert_int_equal(c->ocsp_validity_minutes, 60);
    assert_string_equal(c->ocsp_signer, "delegated");
    assert_int_equal(c->ocsp_responder_days, 7);
    assert_int_equal(scep_config_set(c, "ocsp_signer", "ca", f->err, sizeof(f->err)), 0);
    assert_string_equal(c->ocsp_signer, "ca");
    assert_int_not_equal(scep_config_set(c, "ocsp_signer", "responder", f->err, sizeof(f->err)), 0);
    assert_int_not_equal(scep_config_set(c, "ocsp_responder_days", "0", f->err, sizeof(f->err)), 0);
    assert_int_not_equal(scep_config_set(c, "ocsp_responder_days", "366", f->err, sizeof(f->err)),
                         0);
    assert_int_equal(scep_config_set(c, "ocsp_responder_days", "2", f->err, sizeof(f->err)), 0);
    assert_int_equal(c->ocsp_responder_days, 2);
    assert_int_equal(scep_config_finish(c, f->err, sizeof(f->err)), 0);
    scep_config_profile(c, &c->enroll, &p);
    assert_null(p.crl_url);
    assert_null(p.ocsp_url);
    assert_int_equal(p.crl_url_per_ca, 0);

    assert_int_equal(
        scep_config_set(c, "public-url", "https://ca.example:8443/scep", f->err, sizeof(f->err)),
        0);
    assert_int_equal(scep_config_set(c, "ocsp_validity_minutes", "5", f->err, sizeof(f->err)), 0);
    assert_int_equal(scep_config_finish(c, f->err, sizeof(f->err)), 0);
    scep_config_profile(c, &c->enroll, &p);
    assert_string_equal(p.crl_url, "https://ca.example:8443/crl");
    assert_int_equal(p.crl_url_per_ca, 1);
    assert_string_equal(p.ocsp_url, "https://ca.example:8443/ocsp");
    scep_config_service(c, &s, NULL);
    assert_int_equal(s.ocsp_next_update_seconds, 300);

    /* Explicit URLs win and are used as given. */
    assert_int_equal(
        scep_config_set(c, "crl_url", "http://crl.example/ca.crl", f->err, sizeof(f->err)), 0);
    assert_int_equal(scep_config_set(c, "ocsp_url", "http://ocsp.example/", f->err, sizeof(f->err)),
                     0);
    assert_int_equal(scep_config_finish(c, f->err, sizeof(f->err)), 0);
    scep_config_profile(c, &c->enroll, &p);
    assert_string_equal(p.crl_url, "http://crl.example/ca.crl");
    assert_int_equal(p.crl_url_per_ca, 0);
    assert_string_equal(p.ocsp_url, "http://ocsp.example/");

    /* A public_url that is not an absolute URL derives nothing. */
    scep_config_clear(c);
    assert_int_equal(scep_config_defaults(c), 0);
    assert_int_equal(scep_config_set(c, "public_url", "ca.example/scep", f->err, sizeof(f->err)),
                     0);
    assert_int_equal(scep_config_finish(c, f->err, sizeof(f->err)), 0);
    scep_config_profile(c, &c->enroll, &p);
    assert_null(p.crl_url);
    assert_null(p.ocsp_url);
}

/* The [tls] keys go together; files are scepd's to check. */
static void test_tls_keys(void **state)
{
    struct fixture *f = *state;
    struct scep_config *c = &f->c;

    assert_null(c->tls_listen);
    assert_string_equal(c->tls_client_verify, "none");
    assert_int_equal(scep_config_set(c, "tls-client-verify", "sometimes", f->err, sizeof(f->err)),
                     SCEP_ERR_CONFIG);
    assert_int_equal(scep_config_set(c, "tls_listen", "nocolon", f->err, sizeof(f->err)),
                     SCEP_ERR_CONFIG);
    /* A certificate without a listener would be silently unused. */
    assert_int_equal(scep_config_set(c, "tls_cert", "/x/cert.pem", f->err, sizeof(f->err)), 0);
    assert_int_equal(scep_config_finish(c, f->err, sizeof(f->err)), SCEP_ERR_CONFIG);
    assert_non_null(strstr(f->err, "tls_listen"));
    assert_int_equal(scep_config_set(c, "tls-listen", "127.0.0.1:8443", f->err, sizeof(f->err)), 0);
    assert_int_equal(scep_config_finish(c, f->err, sizeof(f->err)), SCEP_ERR_CONFIG);
    assert_non_null(strstr(f->err, "tls_key"));
    assert_int_equal(scep_config_set(c, "tls_key", "/x/key.pem", f->err, sizeof(f->err)), 0);
    assert_int_equal(scep_config_set(c, "tls_client_verify", "require", f->err, sizeof(f->err)), 0);
    assert_int_equal(scep_config_finish(c, f->err, sizeof(f->err)), SCEP_ERR_CONFIG);
    assert_non_null(strstr(f->err, "tls_client_ca"));
    assert_int_equal(scep_config_set(c, "tls_client_ca", "/x/ca.pem", f->err, sizeof(f->err)), 0);
    assert_int_equal(scep_config_finish(c, f->err, sizeof(f->err)), 0);
    assert_string_equal(c->tls_listen, "127.0.0.1:8443");
}

/* [notify]: thresholds with units, checked at read with the line; keys
 * that depend on one another checked together; secret files read, the
 * password file only at mode 0600. */
static void test_notify_keys(void **state)
{
    struct fixture *f = *state;
    struct scep_config *c = &f->c;
    char *conf, *pw, *pw_group, *secret, text[1024];

    assert_string_equal(c->notify_days, "30,7,1");
    assert_int_equal(c->notify_interval_seconds, 300);
    assert_int_equal(c->smtp_timeout_seconds, 30);
    assert_int_equal(scep_config_finish(c, f->err, sizeof(f->err)), 0);
    assert_int_equal(c->notify_nthresholds, 3);
    assert_int_equal(c->notify_thresholds[0], 30 * 86400);
    assert_int_equal(c->notify_thresholds[2], 86400);

    conf = write_file(f, "bad.conf", "[notify]\nnotify_interval_seconds = 5\nnotify_days = 7,7\n",
                      0600);
    assert_int_equal(scep_config_load_file(c, conf, f->err, sizeof(f->err)), SCEP_ERR_CONFIG);
    assert_non_null(strstr(f->err, "bad.conf:3: notify_days: threshold \"7\" is listed twice"));
    free(conf);
    assert_int_equal(scep_config_set(c, "notify-days", "2m, 20s", f->err, sizeof(f->err)), 0);
    assert_int_equal(scep_config_set(c, "smtp_url", "mailto:x@y", f->err, sizeof(f->err)),
                     SCEP_ERR_CONFIG);
    assert_int_equal(scep_config_set(c, "smtp_from", "Ops <ops@x>", f->err, sizeof(f->err)),
                     SCEP_ERR_CONFIG);
    assert_int_equal(scep_config_set(c, "smtp_to", "a@x,,b@y", f->err, sizeof(f->err)),
                     SCEP_ERR_CONFIG);
    assert_int_equal(scep_config_set(c, "notify_webhook_url", "ftp://x", f->err, sizeof(f->err)),
                     SCEP_ERR_CONFIG);

    /* Set without what they belong to: refused, not ignored. */
    assert_int_equal(scep_config_set(c, "smtp_to", "a@x, b@y", f->err, sizeof(f->err)), 0);
    assert_int_equal(scep_config_finish(c, f->err, sizeof(f->err)), SCEP_ERR_CONFIG);
    assert_non_null(strstr(f->err, "smtp_to is set but smtp_url is not"));
    assert_int_equal(
        scep_config_set(c, "smtp_url", "smtps://mail.example:465", f->err, sizeof(f->err)), 0);
    assert_int_equal(scep_config_finish(c, f->err, sizeof(f->err)), SCEP_ERR_CONFIG);
    assert_non_null(strstr(f->err, "smtp_url needs smtp_from and smtp_to"));
    assert_int_equal(scep_config_set(c, "smtp_from", "scepd@ca.example", f->err, sizeof(f->err)),
                     0);
    assert_int_equal(scep_config_set(c, "smtp_user", "scepd", f->err, sizeof(f->err)), 0);
    assert_int_equal(scep_config_finish(c, f->err, sizeof(f->err)), SCEP_ERR_CONFIG);
    assert_non_null(strstr(f->err, "smtp_user and smtp_password_file go together"));
    pw_group = write_file(f, "pw-group", "hunter2\n", 0640);
    assert_int_equal(scep_config_set(c, "smtp_password_file", pw_group, f->err, sizeof(f->err)), 0);
    assert_int_equal(scep_config_finish(c, f->err, sizeof(f->err)), SCEP_ERR_PERMISSIONS);
    assert_non_null(strstr(f->err, "its group"));
    pw = write_file(f, "pw", "hunter2\n", 0600);
    assert_int_equal(scep_config_set(c, "smtp_password_file", pw, f->err, sizeof(f->err)), 0);
    assert_int_equal(
        scep_config_set(c, "notify_webhook_url", "https://hook.example/n", f->err, sizeof(f->err)),
        0);
    assert_int_equal(scep_config_finish(c, f->err, sizeof(f->err)), SCEP_ERR_CONFIG);
    assert_non_null(strstr(f->err, "notify_webhook_url needs"));
    secret = write_file(f, "secret", "k3y\n", 0600);
    snprintf(text, sizeof(text), "%s", secret);
    assert_int_equal(scep_config_set(c, "notify_webhook_secret_file", text, f->err, sizeof(f->err)),
                     0);
    assert_int_equal(scep_config_finish(c, f->err, sizeof(f->err)), 0);
    assert_string_equal(c->smtp_password, "hunter2");
    assert_string_equal(c->notify_webhook_secret, "k3y");
    assert_int_equal(c->notify_nthresholds, 2);
    assert_int_equal(c->notify_thresholds[0], 120);
    assert_int_equal(c->notify_thresholds[1], 20);
    /* Finishing again reads nothing twice and stays valid. */
    assert_int_equal(scep_config_finish(c, f->err, sizeof(f->err)), 0);
    free(pw);
    free(pw_group);
    free(secret);
}

/* The [admin] keys: defaults, what goes together, and bad values. */
static void test_admin_keys(void **state)
{
    struct fixture *f = *state;
    struct scep_config *c = &f->c;

    assert_null(c->admin_listen);
    assert_null(c->admin_tls_cert);
    assert_string_equal(c->admin_client_role, "auditor");
    assert_string_equal(c->metrics_listen, "public");
    assert_int_equal(c->admin_auth_fail_per_minute, 10);
    assert_int_equal(c->admin_auth_fail_burst, 10);
    assert_int_equal(scep_config_set(c, "admin-client-role", "root", f->err, sizeof(f->err)),
                     SCEP_ERR_CONFIG);
    assert_int_equal(scep_config_set(c, "metrics_listen", "both", f->err, sizeof(f->err)),
                     SCEP_ERR_CONFIG);
    assert_int_equal(scep_config_set(c, "admin_listen", "nocolon", f->err, sizeof(f->err)),
                     SCEP_ERR_CONFIG);
    assert_int_equal(scep_config_set(c, "admin_auth_fail_burst", "0", f->err, sizeof(f->err)),
                     SCEP_ERR_CONFIG);
    /* Metrics cannot move to a listener that is not there. */
    assert_int_equal(scep_config_set(c, "metrics_listen", "admin", f->err, sizeof(f->err)), 0);
    assert_int_equal(scep_config_finish(c, f->err, sizeof(f->err)), SCEP_ERR_CONFIG);
    assert_non_null(strstr(f->err, "admin_listen"));
    assert_int_equal(scep_config_set(c, "admin_listen", "127.0.0.1:8443", f->err, sizeof(f->err)),
                     0);
    /* A certificate needs its key. */
    assert_int_equal(scep_config_set(c, "admin_tls_cert", "/x/a.pem", f->err, sizeof(f->err)), 0);
    assert_int_equal(scep_config_finish(c, f->err, sizeof(f->err)), SCEP_ERR_CONFIG);
    assert_non_null(strstr(f->err, "admin_tls_key"));
    assert_int_equal(scep_config_set(c, "admin_tls_key", "/x/a.key", f->err, sizeof(f->err)), 0);
    assert_int_equal(scep_config_finish(c, f->err, sizeof(f->err)), 0);
    assert_string_equal(c->admin_listen, "127.0.0.1:8443");
    assert_string_equal(c->metrics_listen, "admin");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_parsing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flags_override_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_extension_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ec_curves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_profiles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_challenge_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_each_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_public_url_status_urls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notify_keys, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
