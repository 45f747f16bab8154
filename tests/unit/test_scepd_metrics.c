/*
 * Unit tests for scepd's policy metrics (src/scepd/metrics.c): rate
 * limits and enrollment decisions counted per worker and summed by
 * profile name at render, label values escaped, the profile table
 * bounded (the rest under profile="other"), and the CA's private-key
 * operations rendered once from the keyring's counter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <event2/buffer.h>

#include "scepd.h"
#include "keyring/keyring.h"

/* Renders n workers into a NUL-terminated string; free() it. */
static char *render(struct scepd_metrics *const *m, size_t n)
{
    struct evbuffer *b = evbuffer_new();
    size_t len;
    char *text;

    assert_non_null(b);
    assert_int_equal(scepd_metrics_render(m, n, b), 0);
    len = evbuffer_get_length(b);
    text = malloc(len + 1);
    assert_non_null(text);
    assert_int_equal(evbuffer_remove(b, text, len), (int)len);
    text[len] = '\0';
    evbuffer_free(b);
    return text;
}

/* Asserts that text has line (whole) exactly once. */
static void has_line(const char *text, const char *line)
{
    size_t n = strlen(line), count = 0;
    const char *p = text;

    while ((p = strstr(p, line)) != NULL) {
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            count++;
        p += n;
    }
    if (count != 1)
        fail_msg("want exactly one line \"%s\", found %zu", line, count);
}

static void test_rate_limited_and_private_ops(void **state)
{
    struct scepd_metrics *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
    struct scepd_metrics *m[2] = {a, b};
    char line[128], *text;

    (void)state;
    scepd_metrics_rate_limited(a, SCEPD_LIMIT_ADDRESS);
    scepd_metrics_rate_limited(b, SCEPD_LIMIT_ADDRESS);
    scepd_metrics_rate_limited(b, SCEPD_LIMIT_CHALLENGE);
    scepd_metrics_rate_limited(b, SCEPD_LIMIT_COUNT); /* ignored */
    scepd_metrics_rate_limited(b, -1);                /* ignored */
    text = render(m, 2);
    has_line(text, "# TYPE scepd_rate_limited_total counter");
    has_line(text, "scepd_rate_limited_total{limit=\"address\"} 2");
    has_line(text, "scepd_rate_limited_total{limit=\"challenge\"} 1");
    /* once for the process, not per worker */
    has_line(text, "# TYPE scepd_ca_private_key_operations_total counter");
    snprintf(line, sizeof(line), "scepd_ca_private_key_operations_total %llu",
             (unsigned long long)scep_keyring_private_ops());
    has_line(text, line);
    /* no decision yet, so no series, not even "other" */
    has_line(text, "# TYPE scepd_enrollment_decisions_total counter");
    assert_null(strstr(text, "scepd_enrollment_decisions_total{"));
    free(text);
    free(a);
    free(b);
}

/* Two workers that met the profiles in different orders sum by name. */
static void test_decisions_summed_by_name(void **state)
{
    static const char *const configured[] = {"devices", "servers"};
    struct scepd_metrics *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
    struct scepd_metrics *m[2] = {a, b};
    char *text;

    (void)state;
    scepd_metrics_profiles(a, configured, 2);
    scepd_metrics_decision(a, "devices", SCEPD_DECISION_ALLOW, SCEPD_VIA_STATIC);
    scepd_metrics_decision(a, "devices", SCEPD_DECISION_DENY, SCEPD_VIA_NONE);
    scepd_metrics_decision(b, "servers", SCEPD_DECISION_PENDING, SCEPD_VIA_NONE);
    scepd_metrics_decision(b, "devices", SCEPD_DECISION_ALLOW, SCEPD_VIA_STATIC);
    scepd_metrics_decision(b, "devices", SCEPD_DECISION_ALLOW, SCEPD_VIA_ONE_TIME);
    scepd_metrics_decision(b, "devices", SCEPD_DECISION_RATE_LIMITED, SCEPD_VIA_NONE);
    /* via is ignored for a deny; an allow without a valid via is not counted */
    scepd_metrics_decision(b, "devices", SCEPD_DECISION_DENY, SCEPD_VIA_WEBHOOK);
    scepd_metrics_decision(b, "devices", SCEPD_DECISION_ALLOW, SCEPD_VIA_NONE);
    scepd_metrics_decision(b, "devices", SCEPD_DECISION_ALLOW, SCEPD_VIA_COUNT);
    scepd_metrics_decision(b, "devices", SCEPD_DECISION_COUNT, SCEPD_VIA_NONE);
    text = render(m, 2);
    has_line(text, "scepd_enrollment_decisions_total{profile=\"devices\",decision=\"allow\","
                   "via=\"static\"} 2");
    has_line(text, "scepd_enrollment_decisions_total{profile=\"devices\",decision=\"allow\","
                   "via=\"one-time\"} 1");
    has_line(text, "scepd_enrollment_decisions_total{profile=\"devices\",decision=\"allow\","
                   "via=\"webhook\"} 0");
    has_line(text, "scepd_enrollment_decisions_total{profile=\"devices\",decision=\"allow\","
                   "via=\"renewal\"} 0");
    has_line(text, "scepd_enrollment_decisions_total{profile=\"devices\",decision=\"allow\","
                   "via=\"open\"} 0");
    has_line(text, "scepd_enrollment_decisions_total{profile=\"devices\",decision=\"deny\"} 2");
    has_line(text, "scepd_enrollment_decisions_total{profile=\"devices\",decision=\"pending\"} 0");
    has_line(text,
             "scepd_enrollment_decisions_total{profile=\"devices\",decision=\"rate_limited\"} 1");
    /* registered at start: rendered at zero, and summed with b's */
    has_line(text, "scepd_enrollment_decisions_total{profile=\"servers\",decision=\"pending\"} 1");
    has_line(text, "scepd_enrollment_decisions_total{profile=\"servers\",decision=\"allow\","
                   "via=\"open\"} 0");
    assert_null(strstr(text, "profile=\"other\""));
    free(text);
    free(a);
    free(b);
}

/* Label values are escaped; names that cannot be kept go to "other". */
static void test_escaping_and_other(void **state)
{
    struct scepd_metrics *a = calloc(1, sizeof(*a));
    char name[SCEPD_METRICS_PROFILE_NAME + 8], *text;
    int i;

    (void)state;
    scepd_metrics_decision(a, "we\"ird\\na\nme", SCEPD_DECISION_DENY, SCEPD_VIA_NONE);
    scepd_metrics_decision(a, NULL, SCEPD_DECISION_DENY, SCEPD_VIA_NONE);
    scepd_metrics_decision(a, "", SCEPD_DECISION_DENY, SCEPD_VIA_NONE);
    memset(name, 'x', SCEPD_METRICS_PROFILE_NAME);
    name[SCEPD_METRICS_PROFILE_NAME] = '\0';
    scepd_metrics_decision(a, name, SCEPD_DECISION_DENY, SCEPD_VIA_NONE);
    /* fill the table (one name is in it), then one more */
    for (i = 0; i < SCEPD_METRICS_MAX_PROFILES; i++) {
        snprintf(name, sizeof(name), "p%d", i);
        scepd_metrics_decision(a, name, SCEPD_DECISION_ALLOW, SCEPD_VIA_RENEWAL);
    }
    text = render(&a, 1);
    has_line(
        text,
        "scepd_enrollment_decisions_total{profile=\"we\\\"ird\\\\na\\nme\",decision=\"deny\"} 1");
    /* NULL, "", too long, and p63 (the 65th name) */
    has_line(text, "scepd_enrollment_decisions_total{profile=\"other\",decision=\"deny\"} 3");
    has_line(text, "scepd_enrollment_decisions_total{profile=\"other\",decision=\"allow\","
                   "via=\"renewal\"} 1");
    has_line(text, "scepd_enrollment_decisions_total{profile=\"p62\",decision=\"allow\","
                   "via=\"renewal\"} 1");
    assert_null(strstr(text, "profile=\"p63\""));
    free(text);
    free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rate_limited_and_private_ops),
        cmocka_unit_test(test_decisions_summed_by_name),
        cmocka_unit_test(test_escaping_and_other),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
