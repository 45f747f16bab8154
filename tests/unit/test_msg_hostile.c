/*
 * Regression tests for hostile input found in the review of the message
 * layer: each test builds the bytes an attacker (a rogue or
 * man-in-the-middle server, or a client) could send and checks what the
 * decoder hands on.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_msg_fixture.h"

static struct fx F;

static int setup(void **state)
{
    fx_init(&F);
    return 0;
}

static int teardown(void **state)
{
    fx_free(&F);
    return 0;
}

/* Builds a CertRep FAILURE carrying text and decodes it; returns the
 * decoded message (scep_msg_free()) or NULL when decoding refused it. */
static struct scep_msg *failure_with_text(const char *text, int *rc)
{
    struct scep_msg_spec s;
    struct scep_msg *m = NULL;
    unsigned char *der = NULL;
    size_t len = 0;

    fx_certrep_spec(&F, &s, SCEP_STATUS_FAILURE, fx_nonce_a);
    s.fail_info = SCEP_FAIL_BAD_REQUEST;
    s.fail_text = text;
    assert_int_equal(scep_msg_build(&s, &der, &len), 0);
    *rc = scep_msg_decode(der, len, &m);
    scep_free(der);
    return m;
}

/*
 * failInfoText is the server's free text; scepc prints it to a terminal
 * and programs log it.  Control characters in it (ESC sequences that
 * retitle or clear a terminal, CR/LF that forge log lines, the C1 CSI
 * U+009B) must not reach them; printable text, UTF-8 included, passes
 * unchanged.
 */
static void test_fail_text_controls(void **state)
{
    struct scep_msg *m;
    int rc = -1;

    (void)state;
    m = failure_with_text("denied\x1b]0;pwned\x07 now\r\nlevel=info msg=ok\xc2\x9b"
                          "2J",
                          &rc);
    assert_int_equal(rc, 0);
    assert_non_null(m);
    assert_string_equal(scep_msg_get0_fail_text(m), "denied?]0;pwned? now??level=info msg=ok??2J");
    scep_msg_free(m);

    m = failure_with_text("\x7f\x1b[2J\t", &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(scep_msg_get0_fail_text(m), "??[2J?");
    scep_msg_free(m);

    /* Well-formed text, with non-ASCII letters, is kept as sent. */
    m = failure_with_text("challenge password wrong \xc3\xa9t\xc3\xa9 \xe2\x82\xac", &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(scep_msg_get0_fail_text(m),
                        "challenge password wrong \xc3\xa9t\xc3\xa9 \xe2\x82\xac");
    scep_msg_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fail_text_controls, setup, teardown),
    };

    scep_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
