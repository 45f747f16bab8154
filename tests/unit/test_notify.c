/*
 * Expiry notifications (lib/admin/notify.h) at a fixed now, on a fresh
 * SQLite store: the durations and threshold lists, which certificates
 * are due and for which threshold (revoked, renewed and expired ones
 * not), the webhook JSON and the digest mail, and rounds over a fake
 * transport: each notice once, a failed one retried after its backoff
 * and not before, a stop that leaves claims due at once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include <scep/error.h>

#include "admin/notify.h"
#include "policy/webhook.h"
#include "store/store.h"
#include "testutil.h"

#define NOW 1900000000LL
#define DAY 86400LL

static const unsigned char der[] = {0x30, 0x03, 0x02, 0x01, 0x01};
static const int64_t thr[] = {30 * DAY, 7 * DAY, 1 * DAY};

struct fixture {
    char *dir;
    struct scep_store *st;
};

static void put(struct scep_store *st, const char *serial, int64_t not_after, const char *renews)
{
    struct scep_cert_info ci;
    char subject[64];

    memset(&ci, 0, sizeof(ci));
    snprintf(subject, sizeof(subject), "CN=%s\ninjected: yes", serial);
    ci.serial = (char *)serial;
    ci.issuer_fp = (char *)"ab";
    ci.subject = subject;
    ci.sans = (char *)"DNS:a.example, IP:192.0.2.1";
    ci.not_before = NOW - 300 * DAY;
    ci.not_after = not_after;
    ci.issued_at = NOW - 300 * DAY;
    ci.revocation_reason = -1;
    ci.renewed_serial = (char *)renews;
    ci.der = (unsigned char *)der;
    ci.der_len = sizeof(der);
    assert_int_equal(scep_store_insert_cert(st, &ci, NULL), 0);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char path[4096], why[256];

    assert_non_null(f);
    f->dir = tu_tempdir();
    snprintf(path, sizeof(path), "sqlite:%s/n.db", f->dir);
    assert_int_equal(scep_store_open(path, &f->st, why, sizeof(why)), 0);
    put(f->st, "0A", NOW + 20 * DAY, NULL);  /* 30d */
    put(f->st, "0B", NOW + 5 * DAY, NULL);   /* 7d */
    put(f->st, "0C", NOW + 12 * 3600, NULL); /* 1d */
    put(f->st, "0D", NOW + 40 * DAY, NULL);  /* none yet */
    put(f->st, "0E", NOW + 5 * DAY, NULL);   /* revoked below */
    put(f->st, "0F", NOW + 5 * DAY, NULL);   /* renewed by 10 */
    put(f->st, "10", NOW + 365 * DAY, "0F");
    put(f->st, "11", NOW - 1, NULL); /* expired */
    assert_int_equal(scep_store_revoke(f->st, "0E", 1, NOW - DAY, NULL), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    scep_store_close(f->st);
    tu_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void test_durations(void **state)
{
    int64_t v, t[SCEP_NOTIFY_MAX_THRESHOLDS];
    char err[200], buf[32];
    size_t n;

    (void)state;
    assert_int_equal(scep_notify_parse_duration("30", &v), 0);
    assert_int_equal(v, 30 * DAY);
    assert_int_equal(scep_notify_parse_duration("12h", &v), 0);
    assert_int_equal(v, 12 * 3600);
    assert_int_equal(scep_notify_parse_duration("2m", &v), 0);
    assert_int_equal(v, 120);
    assert_int_equal(scep_notify_parse_duration("20s", &v), 0);
    assert_int_equal(v, 20);
    assert_int_equal(scep_notify_parse_duration("7d", &v), 0);
    assert_int_equal(v, 7 * DAY);
    assert_int_equal(scep_notify_parse_duration("0", &v), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_notify_parse_duration("-1", &v), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_notify_parse_duration("3x", &v), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_notify_parse_duration("3dd", &v), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_notify_parse_duration("3651", &v), SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_notify_parse_duration("99999999999999999999", &v), SCEP_ERR_INVALID_ARG);

    assert_int_equal(scep_notify_parse_thresholds("1, 30,7", t, 8, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 3);
    assert_int_equal(t[0], 30 * DAY);
    assert_int_equal(t[1], 7 * DAY);
    assert_int_equal(t[2], DAY);
    assert_int_equal(scep_notify_parse_thresholds("20s,10s", t, 8, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 2);
    assert_int_equal(t[0], 20);
    assert_int_equal(scep_notify_parse_thresholds("7,7d", t, 8, &n, err, sizeof(err)),
                     SCEP_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "twice"));
    assert_int_equal(scep_notify_parse_thresholds("", t, 8, &n, err, sizeof(err)),
                     SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_notify_parse_thresholds("1,,2", t, 8, &n, err, sizeof(err)),
                     SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_notify_parse_thresholds("1,2,3", t, 2, &n, err, sizeof(err)),
                     SCEP_ERR_INVALID_ARG);
    assert_string_equal(scep_notify_duration_text(7 * DAY, buf, sizeof(buf)), "7d");
    assert_string_equal(scep_notify_duration_text(7200, buf, sizeof(buf)), "2h");
    assert_string_equal(scep_notify_duration_text(120, buf, sizeof(buf)), "2m");
    assert_string_equal(scep_notify_duration_text(61, buf, sizeof(buf)), "61s");
}

/* The threshold of serial in l, -1 when it is not listed. */
static int64_t threshold_of(const struct scep_notify_list *l, const char *serial)
{
    size_t i;

    for (i = 0; i < l->n; i++)
        if (strcmp(l->items[i].serial, serial) == 0)
            return l->items[i].threshold;
    return -1;
}

static void test_due_selection(void **state)
{
    struct fixture *f = *state;
    struct scep_notify_list l = {NULL, 0};

    assert_int_equal(scep_admin_notify_due(f->st, NOW, 30 * DAY, thr, 3, &l), 0);
    assert_int_equal(l.n, 3);
    /* Soonest first, each with the smallest threshold crossed. */
    assert_string_equal(l.items[0].serial, "0C");
    assert_string_equal(l.items[1].serial, "0B");
    assert_string_equal(l.items[2].serial, "0A");
    assert_int_equal(threshold_of(&l, "0C"), DAY);
    assert_int_equal(threshold_of(&l, "0B"), 7 * DAY);
    assert_int_equal(threshold_of(&l, "0A"), 30 * DAY);
    /* Revoked, renewed (0F has a successor) and expired are left out. */
    assert_int_equal(threshold_of(&l, "0E"), -1);
    assert_int_equal(threshold_of(&l, "0F"), -1);
    assert_int_equal(threshold_of(&l, "11"), -1);
    assert_string_equal(l.items[0].sans, "DNS:a.example, IP:192.0.2.1");
    assert_null(l.items[0].issuer); /* the test DER is no certificate */
    assert_null(l.items[0].profile);
    scep_notify_list_clear(&l);

    /* A wider window (scepctl expiring) lists 0D too, with no threshold. */
    assert_int_equal(scep_admin_notify_due(f->st, NOW, 60 * DAY, thr, 3, &l), 0);
    assert_int_equal(l.n, 4);
    assert_int_equal(threshold_of(&l, "0D"), 0);
    scep_notify_list_clear(&l);

    /* Ten days later 0A (10 days left) has crossed only 30d still; 0B
     * and 0C have expired. */
    assert_int_equal(scep_admin_notify_due(f->st, NOW + 10 * DAY, 30 * DAY, thr, 3, &l), 0);
    assert_int_equal(threshold_of(&l, "0A"), 30 * DAY);
    assert_int_equal(threshold_of(&l, "0B"), -1);
    assert_int_equal(threshold_of(&l, "0D"), 30 * DAY);
    scep_notify_list_clear(&l);

    {
        struct scep_cert_counts c;

        assert_int_equal(scep_store_count_certs(f->st, NOW, 30 * DAY, &c), 0);
        assert_int_equal(c.valid, 6);
        assert_int_equal(c.revoked, 1);
        assert_int_equal(c.expired, 1);
        assert_int_equal(c.expiring, 3);
    }
}

static void test_webhook_body(void **state)
{
    struct scep_notify_due d;
    json_error_t je;
    json_t *o, *sans;
    char *body = NULL;
    size_t len = 0;

    (void)state;
    memset(&d, 0, sizeof(d));
    d.serial = (char *)"0B";
    d.subject = (char *)"CN=dev,O=Example";
    d.sans = (char *)"DNS:a.example, IP:192.0.2.1";
    d.issuer = (char *)"CN=scepd CA";
    d.profile = (char *)"vpn";
    d.not_before = NOW - DAY;
    d.not_after = NOW + 5 * DAY + 100;
    d.threshold = 7 * DAY;
    assert_int_equal(scep_notify_webhook_body(&d, NOW, &body, &len), 0);
    assert_int_equal(len, strlen(body));
    o = json_loads(body, 0, &je);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "event")), "certificate-expiring");
    assert_string_equal(json_string_value(json_object_get(o, "notice_id")), "0B/604800");
    assert_string_equal(json_string_value(json_object_get(o, "serial")), "0B");
    assert_string_equal(json_string_value(json_object_get(o, "subject")), "CN=dev,O=Example");
    assert_string_equal(json_string_value(json_object_get(o, "issuer")), "CN=scepd CA");
    assert_string_equal(json_string_value(json_object_get(o, "profile")), "vpn");
    assert_int_equal(json_integer_value(json_object_get(o, "not_after")), NOW + 5 * DAY + 100);
    assert_int_equal(json_integer_value(json_object_get(o, "days_left")), 5);
    assert_int_equal(json_integer_value(json_object_get(o, "seconds_left")), 5 * DAY + 100);
    assert_string_equal(json_string_value(json_object_get(o, "threshold")), "7d");
    assert_int_equal(json_integer_value(json_object_get(o, "threshold_seconds")), 7 * DAY);
    assert_true(json_is_null(json_object_get(o, "issuer_fp")));
    sans = json_object_get(o, "sans");
    assert_int_equal(json_array_size(sans), 2);
    assert_string_equal(json_string_value(json_array_get(sans, 0)), "DNS:a.example");
    assert_string_equal(json_string_value(json_array_get(sans, 1)), "IP:192.0.2.1");
    json_decref(o);
    free(body);

    /* Not UTF-8: refused rather than sent garbled. */
    d.subject = (char *)"CN=\xff";
    assert_int_equal(scep_notify_webhook_body(&d, NOW, &body, &len), SCEP_ERR_INVALID_ARG);
}

static void test_mail(void **state)
{
    struct scep_notify_mail_hdr hdr = {"scepd@ca.example", "ops@example.org, pki@example.org",
                                       "host:42:abcdef"};
    struct scep_notify_due d[2];
    char *msg = NULL, *body;
    size_t len = 0, i;

    (void)state;
    memset(d, 0, sizeof(d));
    d[0].serial = (char *)"0C";
    d[0].subject = (char *)"CN=one\r\n.\r\nBcc: evil@example.net";
    d[0].not_after = NOW + 12 * 3600;
    d[0].threshold = DAY;
    d[1].serial = (char *)"0B";
    d[1].subject = (char *)"CN=two";
    d[1].sans = (char *)"DNS:two.example";
    d[1].profile = (char *)"";
    d[1].not_after = NOW + 5 * DAY;
    d[1].threshold = 7 * DAY;
    assert_int_equal(scep_notify_mail(&hdr, d, 2, NOW, &msg, &len), 0);
    assert_int_equal(len, strlen(msg));
    /* 1900000000 is Sun, 17 Mar 2030 17:46:40 UTC. */
    assert_non_null(strstr(msg, "Date: Sun, 17 Mar 2030 17:46:40 +0000\r\n"));
    assert_non_null(strstr(msg, "From: scepd@ca.example\r\n"));
    assert_non_null(strstr(msg, "To: ops@example.org, pki@example.org\r\n"));
    assert_non_null(strstr(msg, "Subject: scepd: 2 certificates expiring soon\r\n"));
    assert_non_null(strstr(msg, "Message-ID: <host.42.abcdef.1900000000@ca.example>\r\n"));
    assert_non_null(strstr(msg, "Content-Type: text/plain; charset=UTF-8\r\n"));
    body = strstr(msg, "\r\n\r\n");
    assert_non_null(body);
    /* Every line ends in CRLF: no bare LF or CR anywhere. */
    for (i = 0; i < len; i++) {
        if (msg[i] == '\n')
            assert_true(i > 0 && msg[i - 1] == '\r');
        if (msg[i] == '\r')
            assert_true(msg[i + 1] == '\n');
    }
    /* The subject's CR LF became spaces: no header, no lone dot line. */
    assert_null(strstr(msg, "\r\nBcc:"));
    assert_null(strstr(msg, "\r\n.\r\n"));
    assert_non_null(strstr(body, "serial 0C"));
    assert_non_null(strstr(body, "serial 0B"));
    assert_non_null(strstr(body, "SANs: DNS:two.example"));
    assert_non_null(strstr(body, "profile: (default)"));
    assert_non_null(strstr(body, "threshold 7d"));
    assert_non_null(strstr(body, "12 hours 0 minutes"));
    free(msg);

    /* A header value with a line break is refused. */
    hdr.to = "ops@example.org\r\nBcc: x@y";
    assert_int_equal(scep_notify_mail(&hdr, d, 2, NOW, &msg, &len), SCEP_ERR_INVALID_ARG);
}

/* The fake transport: counts, keeps the serials posted, fails on demand. */
struct fake {
    int posts, mails, fail_webhook, fail_mail;
    char posted[16][64];
    char last_mail[8192];
    const char *secret;
};

static int fake_post(void *arg, const char *body, size_t len, const char *sig, char *err,
                     size_t errlen)
{
    struct fake *f = arg;
    char want[SCEP_WEBHOOK_SIG_SIZE];
    json_t *o = json_loadb(body, len, 0, NULL);

    assert_non_null(o);
    /* Signed as lib/policy/webhook.c signs enrollment documents. */
    assert_int_equal(scep_webhook_sign((const unsigned char *)f->secret, strlen(f->secret), body,
                                       len, want, sizeof(want)),
                     0);
    assert_string_equal(sig, want);
    if (f->posts < 16)
        snprintf(f->posted[f->posts], sizeof(f->posted[0]), "%s",
                 json_string_value(json_object_get(o, "notice_id")));
    f->posts++;
    json_decref(o);
    if (f->fail_webhook) {
        snprintf(err, errlen, "webhook answered HTTP 503");
        return -1;
    }
    return 0;
}

static int fake_mail(void *arg, const char *msg, size_t len, char *err, size_t errlen)
{
    struct fake *f = arg;

    snprintf(f->last_mail, sizeof(f->last_mail), "%.*s", (int)len, msg);
    f->mails++;
    if (f->fail_mail) {
        snprintf(err, errlen, "server said 451");
        return -1;
    }
    return 0;
}

static struct scep_notify_config config(const char *claimer, const char *secret)
{
    struct scep_notify_config c;

    memset(&c, 0, sizeof(c));
    c.thresholds = thr;
    c.nthresholds = 3;
    c.webhook_secret = (const unsigned char *)secret;
    c.webhook_secret_len = strlen(secret);
    c.mail_from = "scepd@ca.example";
    c.mail_to = "ops@example.org";
    c.claimer = claimer;
    c.retry_base = 60;
    c.retry_max = 3600;
    return c;
}

static void test_rounds_once_and_retry(void **state)
{
    struct fixture *f = *state;
    struct fake fk;
    struct scep_notify_transport tx = {fake_post, fake_mail, &fk};
    struct scep_notify_config c = config("node-a", "s3cret");
    struct scep_notify_config c2 = config("node-b", "s3cret");
    struct scep_notify_report r;
    struct scep_notice_info *ni = NULL;
    struct scep_notice_key k = {"0B", 7 * DAY, SCEP_NOTIFY_CHANNEL_WEBHOOK};

    memset(&fk, 0, sizeof(fk));
    fk.secret = "s3cret";
    fk.fail_webhook = 1;
    /* First round: every webhook POST fails, the digest goes out. */
    assert_int_equal(scep_admin_notify_run(f->st, &c, &tx, NOW, &r), 0);
    assert_int_equal(r.due, 3);
    assert_int_equal(fk.posts, 3);
    assert_int_equal(fk.mails, 1);
    assert_int_equal(r.mails, 1);
    assert_int_equal(r.claimed, 6);
    assert_int_equal(r.sent, 3);
    assert_int_equal(r.failed, 3);
    assert_int_equal(r.pending, 3);
    assert_non_null(strstr(fk.last_mail, "serial 0A"));
    assert_non_null(strstr(fk.last_mail, "serial 0B"));
    assert_non_null(strstr(fk.last_mail, "serial 0C"));
    assert_int_equal(scep_store_get_notice(f->st, &k, &ni), 0);
    assert_int_equal(ni->state, SCEP_NOTICE_FAILED);
    assert_int_equal(ni->attempts, 1);
    assert_int_equal(ni->next_attempt_at, NOW + 60);
    assert_string_equal(ni->last_error, "webhook answered HTTP 503");
    scep_notice_info_free(ni);

    /* Before the backoff: nothing is claimed, by this node or another;
     * the mails went out and are not sent again. */
    fk.fail_webhook = 0;
    assert_int_equal(scep_admin_notify_run(f->st, &c2, &tx, NOW + 59, &r), 0);
    assert_int_equal(fk.posts, 3);
    assert_int_equal(fk.mails, 1);
    assert_int_equal(r.claimed, 0);
    assert_int_equal(r.pending, 3);

    /* At the backoff another node takes the retries over and delivers. */
    assert_int_equal(scep_admin_notify_run(f->st, &c2, &tx, NOW + 60, &r), 0);
    assert_int_equal(fk.posts, 6);
    assert_int_equal(fk.mails, 1);
    assert_int_equal(r.sent, 3);
    assert_int_equal(r.pending, 0);
    assert_int_equal(scep_store_get_notice(f->st, &k, &ni), 0);
    assert_int_equal(ni->state, SCEP_NOTICE_SENT);
    assert_int_equal(ni->attempts, 2);
    assert_string_equal(ni->claimed_by, "node-b");
    assert_int_equal(ni->sent_at, NOW + 60);
    scep_notice_info_free(ni);

    /* Sent is final: later rounds, on either node, send nothing. */
    assert_int_equal(scep_admin_notify_run(f->st, &c, &tx, NOW + 7200, &r), 0);
    assert_int_equal(fk.posts, 6);
    assert_int_equal(fk.mails, 1);
    assert_int_equal(r.pending, 0);

    /* 13 days on, 0A crosses 7d and 0D 30d: a new notice for each. */
    assert_int_equal(scep_admin_notify_run(f->st, &c, &tx, NOW + 13 * DAY + 1, &r), 0);
    assert_int_equal(fk.posts, 8);
    assert_string_equal(fk.posted[6], "0A/604800");
    assert_string_equal(fk.posted[7], "0D/2592000");
    assert_int_equal(fk.mails, 2);
}

static void test_backoff_doubles_and_caps(void **state)
{
    struct fixture *f = *state;
    struct fake fk;
    struct scep_notify_transport tx = {NULL, fake_mail, &fk};
    struct scep_notify_config c = config("node-a", "x");
    struct scep_notify_report r;
    struct scep_notice_info *ni = NULL;
    struct scep_notice_key k = {"0C", DAY, SCEP_NOTIFY_CHANNEL_EMAIL};
    int64_t t = NOW, want[] = {60, 120, 240, 480, 960, 1920, 3600, 3600};
    size_t i;

    memset(&fk, 0, sizeof(fk));
    fk.fail_mail = 1;
    for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        assert_int_equal(scep_admin_notify_run(f->st, &c, &tx, t, &r), 0);
        assert_int_equal(fk.mails, (int)i + 1);
        assert_int_equal(scep_store_get_notice(f->st, &k, &ni), 0);
        assert_int_equal(ni->attempts, (int64_t)i + 1);
        assert_int_equal(ni->next_attempt_at, t + want[i]);
        scep_notice_info_free(ni);
        t += want[i];
    }
}

static void test_stop_leaves_claims_due(void **state)
{
    struct fixture *f = *state;
    struct fake fk;
    struct scep_notify_transport tx = {fake_post, fake_mail, &fk};
    struct scep_notify_config c = config("node-a", "x");
    struct scep_notify_report r;
    struct scep_notice_info *ni = NULL;
    struct scep_notice_key k = {"0A", 30 * DAY, SCEP_NOTIFY_CHANNEL_EMAIL};
    struct scep_notice_key kw = {"0A", 30 * DAY, SCEP_NOTIFY_CHANNEL_WEBHOOK};
    atomic_int stop;

    memset(&fk, 0, sizeof(fk));
    fk.secret = "x";
    atomic_init(&stop, 1);
    c.stop = &stop;
    assert_int_equal(scep_admin_notify_run(f->st, &c, &tx, NOW, &r), 0);
    assert_int_equal(fk.posts, 0);
    assert_int_equal(fk.mails, 0);
    /* The webhook claimed nothing; the mail's claims are due at once. */
    assert_int_equal(scep_store_get_notice(f->st, &kw, &ni), SCEP_ERR_NOT_FOUND);
    assert_int_equal(scep_store_get_notice(f->st, &k, &ni), 0);
    assert_int_equal(ni->state, SCEP_NOTICE_FAILED);
    assert_int_equal(ni->next_attempt_at, NOW);
    scep_notice_info_free(ni);
    atomic_store(&stop, 0);
    assert_int_equal(scep_admin_notify_run(f->st, &c, &tx, NOW, &r), 0);
    assert_int_equal(fk.mails, 1);
    assert_int_equal(fk.posts, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durations),
        cmocka_unit_test_setup_teardown(test_due_selection, setup, teardown),
        cmocka_unit_test(test_webhook_body),
        cmocka_unit_test(test_mail),
        cmocka_unit_test_setup_teardown(test_rounds_once_and_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backoff_doubles_and_caps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_leaves_claims_due, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
