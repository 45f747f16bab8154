/*
 * Unit tests for the token buckets (lib/policy/ratelimit.h), on
 * simulated time: a burst is allowed and the next request refused with
 * the right Retry-After; tokens come back at the configured rate; keys
 * do not share buckets; 100k distinct keys leave the table at its bound,
 * evicting full buckets before a drained one; long keys are kept by
 * digest; and four threads on one key get exactly burst + refill tokens.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <pthread.h>

#include <cmocka.h>

#include <scep/error.h>

#include "policy/ratelimit.h"

static void test_new_refusals(void **state)
{
    struct scep_ratelimit *rl = NULL;

    (void)state;
    assert_int_equal(scep_ratelimit_new(0, 1, 10, &rl), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_ratelimit_new(-1, 1, 10, &rl), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_ratelimit_new(1.0 / 0.0, 1, 10, &rl), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_ratelimit_new(10, 0, 10, &rl), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_ratelimit_new(10, 1, 0, &rl), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_ratelimit_new(10, 1, SCEP_RATELIMIT_MAX_KEYS + 1, &rl),
                     SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_ratelimit_new(10, 1, 10, NULL), SCEP_ERR_INVALID_ARG);
    assert_null(rl);
    /* no table is no limit */
    assert_int_equal(scep_ratelimit_take(NULL, "k", 0, NULL), 1);
    scep_ratelimit_free(NULL);
}

/* 6 a minute, burst 3: three at once, then a wait of 10 s per token. */
static void test_burst_then_refusal(void **state)
{
    struct scep_ratelimit *rl = NULL;
    long retry = 0;
    double t0 = 1000.0;

    (void)state;
    assert_int_equal(scep_ratelimit_new(6, 3, 16, &rl), 0);
    assert_int_equal(scep_ratelimit_take(rl, "192.0.2.7", t0, &retry), 1);
    assert_int_equal(scep_ratelimit_take(rl, "192.0.2.7", t0, &retry), 1);
    assert_int_equal(scep_ratelimit_take(rl, "192.0.2.7", t0, &retry), 1);
    retry = 0;
    assert_int_equal(scep_ratelimit_take(rl, "192.0.2.7", t0, &retry), 0);
    assert_int_equal(retry, 10);
    /* 2.5 s later a quarter token is back: 7.5 s to go, rounded up */
    assert_int_equal(scep_ratelimit_take(rl, "192.0.2.7", t0 + 2.5, &retry), 0);
    assert_int_equal(retry, 8);
    /* a fraction of a second short still says at least 1 */
    assert_int_equal(scep_ratelimit_take(rl, "192.0.2.7", t0 + 9.9, &retry), 0);
    assert_int_equal(retry, 1);
    /* refusals take nothing: the token is there at t0 + 10 */
    assert_int_equal(scep_ratelimit_take(rl, "192.0.2.7", t0 + 10, &retry), 1);
    assert_int_equal(scep_ratelimit_take(rl, "192.0.2.7", t0 + 10, NULL), 0);
    scep_ratelimit_free(rl);
}

/* Refill is continuous and capped at burst; a clock going back refills
 * nothing and takes nothing away. */
static void test_refill(void **state)
{
    struct scep_ratelimit *rl = NULL;
    long retry = 0;
    int i, n;

    (void)state;
    assert_int_equal(scep_ratelimit_new(60, 5, 16, &rl), 0);
    for (i = 0; i < 5; i++)
        assert_int_equal(scep_ratelimit_take(rl, "k", 0, &retry), 1);
    assert_int_equal(scep_ratelimit_take(rl, "k", 0, &retry), 0);
    assert_int_equal(retry, 1);
    /* 1 per second: 3 s give 3 tokens */
    for (n = 0; scep_ratelimit_take(rl, "k", 3, &retry); n++)
        ;
    assert_int_equal(n, 3);
    /* two half seconds make one token */
    assert_int_equal(scep_ratelimit_take(rl, "k", 3.5, &retry), 0);
    assert_int_equal(scep_ratelimit_take(rl, "k", 4, &retry), 1);
    /* an earlier now changes nothing */
    assert_int_equal(scep_ratelimit_take(rl, "k", 1, &retry), 0);
    /* an hour refills to burst, not beyond */
    for (n = 0; scep_ratelimit_take(rl, "k", 3604, &retry); n++)
        ;
    assert_int_equal(n, 5);
    scep_ratelimit_free(rl);
}

static void test_keys_independent(void **state)
{
    struct scep_ratelimit *rl = NULL;
    char longa[300], longb[300];

    (void)state;
    assert_int_equal(scep_ratelimit_new(1, 1, 16, &rl), 0);
    assert_int_equal(scep_ratelimit_take(rl, "192.0.2.7", 0, NULL), 1);
    assert_int_equal(scep_ratelimit_take(rl, "192.0.2.7", 0, NULL), 0);
    assert_int_equal(scep_ratelimit_take(rl, "192.0.2.70", 0, NULL), 1);
    assert_int_equal(scep_ratelimit_take(rl, "192.0.2.", 0, NULL), 1);
    assert_int_equal(scep_ratelimit_take(rl, "", 0, NULL), 1);
    assert_int_equal(scep_ratelimit_take(rl, "", 0, NULL), 0);
    /* keys beyond SCEP_RATELIMIT_MAX_KEY bytes differing only at the end */
    memset(longa, 'a', sizeof(longa) - 1);
    longa[sizeof(longa) - 1] = '\0';
    memcpy(longb, longa, sizeof(longa));
    longb[sizeof(longb) - 2] = 'b';
    assert_int_equal(scep_ratelimit_take(rl, longa, 0, NULL), 1);
    assert_int_equal(scep_ratelimit_take(rl, longb, 0, NULL), 1);
    assert_int_equal(scep_ratelimit_take(rl, longa, 0, NULL), 0);
    assert_int_equal(scep_ratelimit_take(rl, longb, 0, NULL), 0);
    /* one of exactly SCEP_RATELIMIT_MAX_KEY bytes is kept as it is */
    longa[SCEP_RATELIMIT_MAX_KEY] = '\0';
    assert_int_equal(scep_ratelimit_take(rl, longa, 0, NULL), 1);
    assert_int_equal(scep_ratelimit_take(rl, longa, 0, NULL), 0);
    assert_int_equal(scep_ratelimit_count(rl), 7);
    scep_ratelimit_free(rl);
}

/*
 * 100k source addresses against a table of 1024: the table stays at
 * 1024 buckets (all of its memory was allocated when it was made), each
 * new key is counted, and the keys still held keep their buckets.
 */
static void test_eviction_bound(void **state)
{
    struct scep_ratelimit *rl = NULL;
    char key[64];
    int i, held;

    (void)state;
    assert_int_equal(scep_ratelimit_new(1, 2, 1024, &rl), 0);
    for (i = 0; i < 100000; i++) {
        snprintf(key, sizeof(key), "198.51.%d.%d", i / 256, i % 256);
        assert_int_equal(scep_ratelimit_take(rl, key, 5, NULL), 1);
        assert_true(scep_ratelimit_count(rl) <= 1024);
    }
    assert_int_equal(scep_ratelimit_count(rl), 1024);
    /* the newest 1024 keys are the ones held: each has one token left */
    held = 0;
    for (i = 100000 - 1024; i < 100000; i++) {
        snprintf(key, sizeof(key), "198.51.%d.%d", i / 256, i % 256);
        held += scep_ratelimit_take(rl, key, 5, NULL) == 1 &&
                scep_ratelimit_take(rl, key, 5, NULL) == 0;
    }
    assert_int_equal(held, 1024);
    scep_ratelimit_free(rl);
}

/*
 * A full table evicts a full bucket before a drained one, even when the
 * drained one is older: forgetting a drained bucket would hand its
 * client a fresh burst.
 */
static void test_eviction_prefers_full(void **state)
{
    struct scep_ratelimit *rl = NULL;
    long retry = 0;
    int i, n;

    (void)state;
    /* 1 a minute, burst 5, room for two keys */
    assert_int_equal(scep_ratelimit_new(1, 5, 2, &rl), 0);
    for (i = 0; i < 5; i++)
        assert_int_equal(scep_ratelimit_take(rl, "drained", 0, NULL), 1);
    assert_int_equal(scep_ratelimit_take(rl, "drained", 0, &retry), 0);
    assert_int_equal(retry, 60);
    /* "b" takes one at 100 s and is full again by 160 s; "drained" then
     * holds 160/60 tokens and is the least recently used */
    assert_int_equal(scep_ratelimit_take(rl, "b", 100, NULL), 1);
    assert_int_equal(scep_ratelimit_take(rl, "new", 160, NULL), 1);
    assert_int_equal(scep_ratelimit_count(rl), 2);
    /* "drained" kept its bucket: two tokens, not a fresh five */
    for (n = 0; scep_ratelimit_take(rl, "drained", 160, NULL); n++)
        ;
    assert_int_equal(n, 2);
    /* with no full bucket left the least recently used ("new") goes */
    assert_int_equal(scep_ratelimit_take(rl, "c", 161, NULL), 1);
    for (n = 0; scep_ratelimit_take(rl, "drained", 161, NULL); n++)
        ;
    assert_int_equal(n, 0);
    scep_ratelimit_free(rl);
}

struct hammer {
    struct scep_ratelimit *rl;
    double now;
    int allowed;
};

static void *hammer_main(void *p)
{
    struct hammer *h = p;
    int i;

    for (i = 0; i < 20000; i++)
        h->allowed += scep_ratelimit_take(h->rl, "one-key", h->now, NULL);
    return NULL;
}

/* Runs four threads at now and returns the tokens they got together. */
static int hammer4(struct scep_ratelimit *rl, double now)
{
    struct hammer h[4];
    pthread_t t[4];
    int i, total = 0;

    for (i = 0; i < 4; i++) {
        h[i] = (struct hammer){.rl = rl, .now = now};
        assert_int_equal(pthread_create(&t[i], NULL, hammer_main, &h[i]), 0);
    }
    for (i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        total += h[i].allowed;
    }
    return total;
}

/* Four threads on one key: exactly burst, then exactly the refill. */
static void test_threads_one_key(void **state)
{
    struct scep_ratelimit *rl = NULL;

    (void)state;
    /* 60 a minute, burst 1000 */
    assert_int_equal(scep_ratelimit_new(60, 1000, 64, &rl), 0);
    assert_int_equal(hammer4(rl, 50.0), 1000);
    /* 30 s later: 30 tokens */
    assert_int_equal(hammer4(rl, 80.0), 30);
    assert_int_equal(scep_ratelimit_count(rl), 1);
    scep_ratelimit_free(rl);
}

static void test_now_monotonic(void **state)
{
    double a = scep_ratelimit_now(), b = scep_ratelimit_now();

    (void)state;
    assert_true(a > 0);
    assert_true(b >= a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_refusals),    cmocka_unit_test(test_burst_then_refusal),
        cmocka_unit_test(test_refill),          cmocka_unit_test(test_keys_independent),
        cmocka_unit_test(test_eviction_bound),  cmocka_unit_test(test_eviction_prefers_full),
        cmocka_unit_test(test_threads_one_key), cmocka_unit_test(test_now_monotonic),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
