/*
 * Regression tests for the client's handling of a hostile server's
 * answers, found in the review of lib/client: bytes the server chose
 * (its Content-Type, its failInfoText) end up in the sentence that
 * scep_client_get0_error() returns and that scepc prints to a terminal,
 * so control characters must not survive there.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <scep/scep.h>

#include "testutil.h"

/* What the fake server answers to GetCACert. */
static const char *answer_type;
static const char *answer_body;

static int fake_get(void *ctx, const char *url, struct scep_http_response *out)
{
    size_t n = strlen(answer_body);

    (void)ctx;
    memset(out, 0, sizeof(*out));
    if (strstr(url, "operation=GetCACert") == NULL) {
        out->status = 404;
        return 0;
    }
    out->status = 200;
    out->body = malloc(n + 1);
    assert_non_null(out->body);
    memcpy(out->body, answer_body, n);
    out->len = n;
    snprintf(out->content_type, sizeof(out->content_type), "%s", answer_type);
    return 0;
}

static int fake_post(void *ctx, const char *url, const unsigned char *body, size_t len,
                     const char *ct, struct scep_http_response *out)
{
    (void)ctx;
    (void)url;
    (void)body;
    (void)len;
    (void)ct;
    memset(out, 0, sizeof(*out));
    out->status = 500;
    return 0;
}

/* 1 when s holds a C0 control, DEL or a UTF-8 C1 control. */
static int has_control(const char *s)
{
    const unsigned char *p;

    for (p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return 1;
        if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
            return 1;
    }
    return 0;
}

/* A server answering GetCACert with garbage under a Content-Type full of
 * terminal escapes: the refusal names the type, without the escapes. */
static void test_content_type_controls(void **state)
{
    struct scep_transport t = {fake_get, fake_post, NULL, NULL};
    struct scep_client_options o = {.url = "http://fake/scep", .transport = &t};
    struct scep_client *c = NULL;
    const char *err;

    (void)state;
    answer_type = "application/x-x509-ca-cert\x1b]2;owned\x07\x1b[2J\r\n\xc2\x9b"
                  "1m";
    answer_body = "not a certificate";
    assert_int_equal(scep_client_new(&o, &c), 0);
    assert_int_not_equal(scep_client_fetch_ca(c), 0);
    err = scep_client_get0_error(c);
    assert_non_null(strstr(err, "application/x-x509-ca-cert"));
    assert_false(has_control(err));
    scep_client_free(c);
}

/* The same sentence for a well-behaved server is left as it was. */
static void test_plain_error_unchanged(void **state)
{
    struct scep_transport t = {fake_get, fake_post, NULL, NULL};
    struct scep_client_options o = {.url = "http://fake/scep", .transport = &t};
    struct scep_client *c = NULL;

    (void)state;
    answer_type = "application/x-x509-ca-cert";
    answer_body = "not a certificate";
    assert_int_equal(scep_client_new(&o, &c), 0);
    assert_int_not_equal(scep_client_fetch_ca(c), 0);
    assert_non_null(strstr(scep_client_get0_error(c),
                           "GetCACert: the answer (application/x-x509-ca-cert) is neither"));
    scep_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_type_controls),
        cmocka_unit_test(test_plain_error_unchanged),
    };

    scep_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
