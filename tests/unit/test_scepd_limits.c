/*
 * Unit tests for scepd's rate limits (src/scepd/limits.h): the key an
 * address is counted under (port stripped, IPv4-mapped IPv6 as IPv4,
 * IPv6 by /64), both limits on real time with bursts small enough that
 * no refill can interfere, and limits that are off.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <scep/error.h>

#include "limits.h"
#include "policy/ratelimit.h"

static void key_is(const char *peer, const char *want)
{
    char key[64];

    assert_int_equal(scepd_limits_address_key(peer, key, sizeof(key)), 0);
    assert_string_equal(key, want);
}

static void test_address_key(void **state)
{
    char small[8];

    (void)state;
    key_is("192.0.2.7", "192.0.2.7");
    key_is("192.0.2.7:52311", "192.0.2.7");
    key_is("::1", "::/64");
    key_is("[::1]:8080", "::/64");
    key_is("[2001:db8:1:2:aaaa:bbbb:cccc:dddd]", "2001:db8:1:2::/64");
    key_is("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64");
    key_is("2001:DB8:1:2::9", "2001:db8:1:2::/64");
    key_is("[fe80::1%eth0]:443", "fe80::/64");
    key_is("::ffff:192.0.2.7", "192.0.2.7");
    key_is("[::ffff:192.0.2.7]:1", "192.0.2.7");
    key_is("not-an-address", "not-an-address");
    assert_int_equal(scepd_limits_address_key("", small, sizeof(small)), -1);
    assert_int_equal(scepd_limits_address_key("[::1", small, sizeof(small)), -1);
    assert_int_equal(scepd_limits_address_key(":80", small, sizeof(small)), -1);
    assert_int_equal(scepd_limits_address_key("2001:db8::1", small, sizeof(small)), -1);
    assert_int_equal(scepd_limits_address_key(NULL, small, sizeof(small)), -1);
}

static void test_new_refusals(void **state)
{
    struct scepd_limits *l = NULL;

    (void)state;
    assert_int_equal(scepd_limits_new(10, 0, 0, 0, &l), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scepd_limits_new(0, 0, 10, -1, &l), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scepd_limits_new(0, 0, 0, 0, NULL), SCEP_ERR_INVALID_ARG);
    assert_null(l);
}

/* Both off: everything passes, and NULL limits do too. */
static void test_off(void **state)
{
    struct scepd_limits *l = NULL;
    int i;

    (void)state;
    assert_int_equal(scepd_limits_new(0, 0, -1, 0, &l), 0);
    assert_non_null(l);
    for (i = 0; i < 100; i++) {
        assert_int_equal(scepd_limits_check_address(l, "192.0.2.7", NULL), 1);
    }
    assert_null(scepd_limits_challenge(l));
    assert_int_equal(scepd_limits_check_address(NULL, "192.0.2.7", NULL), 1);
    assert_null(scepd_limits_challenge(NULL));
    scepd_limits_free(l);
    scepd_limits_free(NULL);
}

/* 1 a minute, burst 2: a refill inside the test would take 60 s. */
static void test_address_limit(void **state)
{
    struct scepd_limits *l = NULL;
    long retry = 0;

    (void)state;
    assert_int_equal(scepd_limits_new(1, 2, 0, 0, &l), 0);
    assert_int_equal(scepd_limits_check_address(l, "192.0.2.7:1000", &retry), 1);
    assert_int_equal(scepd_limits_check_address(l, "192.0.2.7:1001", &retry), 1);
    /* another port of the same host shares the bucket */
    assert_int_equal(scepd_limits_check_address(l, "192.0.2.7", &retry), 0);
    assert_true(retry >= 1 && retry <= 60);
    assert_int_equal(scepd_limits_check_address(l, "::ffff:192.0.2.7", &retry), 0);
    /* another host does not */
    assert_int_equal(scepd_limits_check_address(l, "192.0.2.8", &retry), 1);
    /* one /64, any interface identifier */
    assert_int_equal(scepd_limits_check_address(l, "2001:db8::1", &retry), 1);
    assert_int_equal(scepd_limits_check_address(l, "[2001:db8::2]:9", &retry), 1);
    assert_int_equal(scepd_limits_check_address(l, "2001:db8::ffff:3", &retry), 0);
    assert_int_equal(scepd_limits_check_address(l, "2001:db8:0:1::1", &retry), 1);
    /* an unreadable peer is not limited */
    assert_int_equal(scepd_limits_check_address(l, "", &retry), 1);
    assert_int_equal(scepd_limits_check_address(l, "", &retry), 1);
    assert_int_equal(scepd_limits_check_address(l, "", &retry), 1);
    /* the challenge limit is off */
    assert_null(scepd_limits_challenge(l));
    scepd_limits_free(l);
}

/* Failed authentications: peek never takes, take counts only failures,
 * the limit is per host, and it is off until set. */
static void test_auth_limit(void **state)
{
    struct scepd_limits *l = NULL;
    long retry = 0;
    int i;

    (void)state;
    assert_int_equal(scepd_limits_new(0, 0, 0, 0, &l), 0);
    /* Off: everything allowed. */
    for (i = 0; i < 5; i++) {
        assert_int_equal(scepd_limits_auth_allowed(l, "192.0.2.7", &retry), 1);
        assert_int_equal(scepd_limits_auth_failed(l, "192.0.2.7", &retry), 1);
    }
    assert_int_equal(scepd_limits_set_auth(l, 1, 3), 0);
    assert_int_equal(scepd_limits_set_auth(l, 1, 3), SCEP_ERR_INVALID_ARG);
    /* Asking costs nothing. */
    for (i = 0; i < 10; i++)
        assert_int_equal(scepd_limits_auth_allowed(l, "192.0.2.7:5", &retry), 1);
    assert_int_equal(scepd_limits_auth_failed(l, "192.0.2.7:5", &retry), 1);
    assert_int_equal(scepd_limits_auth_failed(l, "192.0.2.7:6", &retry), 1);
    assert_int_equal(scepd_limits_auth_allowed(l, "192.0.2.7", &retry), 1);
    assert_int_equal(scepd_limits_auth_failed(l, "192.0.2.7", &retry), 1);
    /* The burst is used up: refused before the next attempt. */
    retry = 0;
    assert_int_equal(scepd_limits_auth_allowed(l, "192.0.2.7", &retry), 0);
    assert_true(retry >= 1 && retry <= 60);
    assert_int_equal(scepd_limits_auth_failed(l, "192.0.2.7", &retry), 0);
    /* Another host is not. */
    assert_int_equal(scepd_limits_auth_allowed(l, "192.0.2.8", &retry), 1);
    scepd_limits_free(l);
}

static void test_challenge_limit(void **state)
{
    struct scepd_limits *l = NULL;
    struct scep_ratelimit *rl;
    long retry = 0;
    double now = scep_ratelimit_now();

    (void)state;
    assert_int_equal(scepd_limits_new(0, 0, 1, 1, &l), 0);
    rl = scepd_limits_challenge(l);
    assert_non_null(rl);
    assert_int_equal(scep_ratelimit_take(rl, "hash-a", now, &retry), 1);
    assert_int_equal(scep_ratelimit_take(rl, "hash-a", now, &retry), 0);
    assert_true(retry >= 1 && retry <= 60);
    assert_int_equal(scep_ratelimit_take(rl, "hash-b", now, &retry), 1);
    /* the address limit is off */
    assert_int_equal(scepd_limits_check_address(l, "192.0.2.7", &retry), 1);
    assert_int_equal(scepd_limits_check_address(l, "192.0.2.7", &retry), 1);
    scepd_limits_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_address_key),
        cmocka_unit_test(test_new_refusals),
        cmocka_unit_test(test_off),
        cmocka_unit_test(test_address_limit),
        cmocka_unit_test(test_challenge_limit),
        cmocka_unit_test(test_auth_limit),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
