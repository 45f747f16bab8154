/*
 * Unit tests for scepd's process-wide connection budgets
 * (src/scepd/connlimit.h): the per-client count keyed as the rate limits
 * key addresses (IPv4-mapped IPv6 as IPv4, IPv6 by /64), a limit of 0
 * meaning off, entries going with their last connection, many threads
 * taking and releasing at once, and the partial-request memory total
 * with its one wake-up per excursion over the limit.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "connlimit.h"

static void test_per_client(void **state)
{
    struct scepd_connlimit *l = NULL;
    char k1[SCEPD_CONNLIMIT_KEY], k2[SCEPD_CONNLIMIT_KEY], k3[SCEPD_CONNLIMIT_KEY];
    char k4[SCEPD_CONNLIMIT_KEY], other[SCEPD_CONNLIMIT_KEY];

    (void)state;
    assert_int_equal(scepd_connlimit_new(2, 0, &l), 0);
    assert_int_equal(scepd_connlimit_per_client(l), 2);
    assert_int_equal(scepd_connlimit_take(l, "192.0.2.7", k1), 1);
    assert_string_equal(k1, "192.0.2.7");
    /* The same host through its IPv4-mapped form and with a port. */
    assert_int_equal(scepd_connlimit_take(l, "::ffff:192.0.2.7", k2), 1);
    assert_int_equal(scepd_connlimit_count(l, "192.0.2.7:4444"), 2);
    assert_int_equal(scepd_connlimit_take(l, "192.0.2.7", k3), 0);
    assert_string_equal(k3, "");
    assert_int_equal(scepd_connlimit_count(l, "192.0.2.7"), 2);
    /* Another host is not touched. */
    assert_int_equal(scepd_connlimit_take(l, "192.0.2.8", other), 1);
    assert_int_equal(scepd_connlimit_count(l, "192.0.2.8"), 1);
    /* One closes: room for one more. */
    scepd_connlimit_release(l, k1);
    assert_int_equal(scepd_connlimit_count(l, "192.0.2.7"), 1);
    assert_int_equal(scepd_connlimit_take(l, "192.0.2.7", k3), 1);
    assert_int_equal(scepd_connlimit_take(l, "192.0.2.7", k4), 0);
    scepd_connlimit_release(l, k2);
    scepd_connlimit_release(l, k3);
    assert_int_equal(scepd_connlimit_count(l, "192.0.2.7"), 0);
    /* Released keys that were never counted do nothing. */
    scepd_connlimit_release(l, "");
    scepd_connlimit_release(l, NULL);
    scepd_connlimit_release(l, other);
    assert_int_equal(scepd_connlimit_count(l, "192.0.2.8"), 0);
    scepd_connlimit_free(l);
}

static void test_ipv6_per_64(void **state)
{
    struct scepd_connlimit *l = NULL;
    char k[4][SCEPD_CONNLIMIT_KEY];

    (void)state;
    assert_int_equal(scepd_connlimit_new(3, 0, &l), 0);
    /* A host picks any address in its /64: all count as one client. */
    assert_int_equal(scepd_connlimit_take(l, "2001:db8:1:2::1", k[0]), 1);
    assert_int_equal(scepd_connlimit_take(l, "2001:db8:1:2:aaaa::9", k[1]), 1);
    assert_int_equal(scepd_connlimit_take(l, "[2001:db8:1:2:ffff:ffff:ffff:ffff]:80", k[2]), 1);
    assert_string_equal(k[2], "2001:db8:1:2::/64");
    assert_int_equal(scepd_connlimit_take(l, "2001:db8:1:2::77", k[3]), 0);
    /* The next /64 is another client. */
    assert_int_equal(scepd_connlimit_take(l, "2001:db8:1:3::1", k[3]), 1);
    assert_int_equal(scepd_connlimit_count(l, "2001:db8:1:2::5"), 3);
    scepd_connlimit_free(l); /* frees entries still counted */
}

static void test_off(void **state)
{
    struct scepd_connlimit *l = NULL;
    char k[SCEPD_CONNLIMIT_KEY];
    int i;

    (void)state;
    assert_int_equal(scepd_connlimit_new(-1, 0, &l), -1);
    assert_int_equal(scepd_connlimit_new(0, 0, &l), 0);
    for (i = 0; i < 1000; i++) {
        assert_int_equal(scepd_connlimit_take(l, "192.0.2.7", k), 1);
        assert_string_equal(k, "");
    }
    assert_int_equal(scepd_connlimit_count(l, "192.0.2.7"), 0);
    /* NULL budget: everything allowed. */
    assert_int_equal(scepd_connlimit_take(NULL, "192.0.2.7", k), 1);
    assert_int_equal(scepd_connlimit_hold(NULL, 100), 0);
    scepd_connlimit_free(l);
    scepd_connlimit_free(NULL);
}

/* Many clients: the table grows past its first size and shrinks back. */
static void test_many_clients(void **state)
{
    static char keys[3000][SCEPD_CONNLIMIT_KEY];
    struct scepd_connlimit *l = NULL;
    char peer[64];
    int i;

    (void)state;
    assert_int_equal(scepd_connlimit_new(1, 0, &l), 0);
    for (i = 0; i < 3000; i++) {
        snprintf(peer, sizeof(peer), "10.%d.%d.1", i / 256, i % 256);
        assert_int_equal(scepd_connlimit_take(l, peer, keys[i]), 1);
    }
    for (i = 0; i < 3000; i++) {
        char k[SCEPD_CONNLIMIT_KEY];

        snprintf(peer, sizeof(peer), "10.%d.%d.1", i / 256, i % 256);
        assert_int_equal(scepd_connlimit_take(l, peer, k), 0);
        assert_int_equal(scepd_connlimit_count(l, peer), 1);
    }
    for (i = 0; i < 3000; i++)
        scepd_connlimit_release(l, keys[i]);
    assert_int_equal(scepd_connlimit_count(l, "10.0.0.1"), 0);
    assert_int_equal(scepd_connlimit_count(l, "10.11.183.1"), 0);
    scepd_connlimit_free(l);
}

struct racer {
    struct scepd_connlimit *l;
    int allowed;
};

/* Takes up to 50 connections for one address, keeps them, then gives
 * back what it got. */
static void *race(void *arg)
{
    struct racer *r = arg;
    char keys[50][SCEPD_CONNLIMIT_KEY];
    int i, got = 0;

    for (i = 0; i < 50; i++)
        if (scepd_connlimit_take(r->l, "198.51.100.1", keys[got]) == 1)
            got++;
    r->allowed = got;
    return NULL;
}

/* Eight threads at once: exactly the limit is let through in all. */
static void test_threads(void **state)
{
    struct scepd_connlimit *l = NULL;
    struct racer r[8];
    pthread_t t[8];
    int i, total = 0;

    (void)state;
    assert_int_equal(scepd_connlimit_new(37, 0, &l), 0);
    for (i = 0; i < 8; i++) {
        r[i].l = l;
        r[i].allowed = 0;
        assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
    }
    for (i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        total += r[i].allowed;
    }
    assert_int_equal(total, 37);
    assert_int_equal(scepd_connlimit_count(l, "198.51.100.1"), 37);
    scepd_connlimit_free(l);
}

static void wake(void *arg)
{
    (*(int *)arg)++;
}

static void test_memory(void **state)
{
    struct scepd_connlimit *l = NULL;
    int a = 0, b = 0;

    (void)state;
    assert_int_equal(scepd_connlimit_new(0, 1000, &l), 0);
    assert_int_equal(scepd_connlimit_max_memory(l), 1000);
    assert_int_equal(scepd_connlimit_watchers(l), 1);
    assert_int_equal(scepd_connlimit_watch(l, wake, &a), 0);
    assert_int_equal(scepd_connlimit_watch(l, wake, &b), 0);
    assert_int_equal(scepd_connlimit_watchers(l), 2);
    assert_int_equal(scepd_connlimit_hold(l, 600), 0);
    assert_int_equal(scepd_connlimit_hold(l, 400), 0); /* at the limit, not over */
    assert_int_equal(scepd_connlimit_held(l), 1000);
    assert_int_equal(scepd_connlimit_hold(l, 1), 1);
    /* Every worker is woken once per excursion. */
    scepd_connlimit_alarm(l);
    scepd_connlimit_alarm(l);
    assert_int_equal(a, 1);
    assert_int_equal(b, 1);
    /* Still over 3/4 of the limit: no new wake-up yet. */
    assert_int_equal(scepd_connlimit_hold(l, -200), 0);
    assert_int_equal(scepd_connlimit_hold(l, 300), 1);
    scepd_connlimit_alarm(l);
    assert_int_equal(a, 1);
    /* Back to 3/4: the next excursion wakes them again. */
    assert_int_equal(scepd_connlimit_hold(l, -351), 0);
    assert_int_equal(scepd_connlimit_held(l), 750);
    assert_int_equal(scepd_connlimit_hold(l, 251), 1);
    scepd_connlimit_alarm(l);
    assert_int_equal(a, 2);
    assert_int_equal(b, 2);
    scepd_connlimit_unwatch(l, wake, &a);
    assert_int_equal(scepd_connlimit_watchers(l), 1);
    assert_int_equal(scepd_connlimit_hold(l, -1001), 0);
    assert_int_equal(scepd_connlimit_hold(l, 1001), 1);
    scepd_connlimit_alarm(l);
    assert_int_equal(a, 2);
    assert_int_equal(b, 3);
    scepd_connlimit_free(l);

    /* No limit: never over. */
    assert_int_equal(scepd_connlimit_new(0, 0, &l), 0);
    assert_int_equal(scepd_connlimit_hold(l, 1L << 40), 0);
    scepd_connlimit_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_per_client), cmocka_unit_test(test_ipv6_per_64),
        cmocka_unit_test(test_off),        cmocka_unit_test(test_many_clients),
        cmocka_unit_test(test_threads),    cmocka_unit_test(test_memory),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
