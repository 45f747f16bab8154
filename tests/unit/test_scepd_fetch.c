/*
 * scepd's asynchronous HTTP client (src/scepd/fetch.c) for real: one
 * event base runs both a local evhttp server on 127.0.0.1 and the
 * fetcher, so every test also shows that the fetcher never blocks the
 * loop (the server answering at all needs the loop to turn).  Checks:
 * an answer is delivered; a hanging server times out at about
 * timeout_ms with the timeout text while a timer on the same base keeps
 * firing and another transfer completes; a cancelled transfer never
 * calls back; an answer over 64 KiB is cut with an error; a refused
 * connection; freeing the fetcher with a transfer in flight.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "fetch.h"
#include "policy/webhook.h"

struct env {
    struct event_base *base;
    struct evhttp *http;
    struct scepd_fetcher *f;
    int port;
};

/* What one callback saw. */
struct result {
    int calls;
    int status;
    char body[256];
    size_t len;
    char err[128];
    double at_ms;
    int stop; /* loopbreak when called */
};

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static struct env *cur;

/* ---- the server on the same base ----------------------------------------- */

static void srv_reply(struct evhttp_request *req, int code, const char *body, size_t len)
{
    struct evbuffer *b = evbuffer_new();

    evbuffer_add(b, body, len);
    evhttp_send_reply(req, code, "X", b);
    evbuffer_free(b);
}

static void srv_handle(struct evhttp_request *req, void *arg)
{
    const char *uri = evhttp_request_get_uri(req);
    const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");

    (void)arg;
    if (strcmp(uri, "/allow") == 0) {
        /* The caller's headers and body arrive. */
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        char body[64] = "";
        size_t n = evbuffer_get_length(in);

        if (n < sizeof(body))
            evbuffer_copyout(in, body, n);
        if (ct != NULL && strcmp(ct, "application/json") == 0 && strcmp(body, "{\"a\":1}") == 0)
            srv_reply(req, 200, "{\"allow\": true}", 15);
        else
            srv_reply(req, 400, "", 0);
    } else if (strcmp(uri, "/big") == 0) {
        size_t len = 100 * 1024;
        char *big = malloc(len);

        memset(big, 'x', len);
        srv_reply(req, 200, big, len);
        free(big);
    } else if (strcmp(uri, "/error") == 0)
        srv_reply(req, 500, "oops", 4);
    else if (strcmp(uri, "/hang") == 0) {
        /* Never answered: evhttp_free() drops it at teardown. */
    } else
        srv_reply(req, 404, "", 0);
}

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));
    struct evhttp_bound_socket *b;
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);

    if (e == NULL || (e->base = event_base_new()) == NULL ||
        (e->http = evhttp_new(e->base)) == NULL)
        return -1;
    evhttp_set_gencb(e->http, srv_handle, e);
    b = evhttp_bind_socket_with_handle(e->http, "127.0.0.1", 0);
    if (b == NULL || getsockname(evhttp_bound_socket_get_fd(b), (struct sockaddr *)&sa, &sl) != 0)
        return -1;
    e->port = ntohs(sa.sin_port);
    e->f = scepd_fetcher_new(e->base);
    if (e->f == NULL)
        return -1;
    cur = e;
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;

    scepd_fetcher_free(e->f);
    evhttp_free(e->http);
    event_base_free(e->base);
    free(e);
    return 0;
}

/* ---- helpers ----------------------------------------------------------------- */

static void on_done(int status, const unsigned char *resp, size_t len, const char *terr, void *arg)
{
    struct result *r = arg;

    r->calls++;
    r->status = status;
    r->len = len;
    r->at_ms = now_ms();
    if (len > 0 && len < sizeof(r->body)) {
        memcpy(r->body, resp, len);
        r->body[len] = '\0';
    }
    snprintf(r->err, sizeof(r->err), "%s", terr != NULL ? terr : "");
    if (r->stop)
        event_base_loopbreak(cur->base);
}

static void url_of(const struct env *e, const char *path, char *url, size_t n)
{
    snprintf(url, n, "http://127.0.0.1:%d%s", e->port, path);
}

static const char *const json_hdrs[] = {"Content-Type: application/json", NULL};

static struct scepd_fetch *start(struct env *e, const char *path, long timeout_ms, struct result *r)
{
    char url[128];
    struct scepd_fetch *h = NULL;

    url_of(e, path, url, sizeof(url));
    assert_int_equal(
        scepd_fetch_post(e->f, url, json_hdrs, "{\"a\":1}", 7, timeout_ms, on_done, r, &h), 0);
    assert_non_null(h);
    /* Never from inside scepd_fetch_post. */
    assert_int_equal(r->calls, 0);
    return h;
}

/* Runs the loop for at most ms (a loopbreak from a callback ends it sooner). */
static void run_for(struct env *e, long ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

    event_base_loopexit(e->base, &tv);
    event_base_dispatch(e->base);
}

/* ---- tests --------------------------------------------------------------------- */

static void test_allow(void **state)
{
    struct env *e = *state;
    struct result r = {.stop = 1};

    start(e, "/allow", 5000, &r);
    run_for(e, 5000);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"allow\": true}");
    assert_string_equal(r.err, "");
    assert_int_equal(scepd_fetcher_pending(e->f), 0);
}

static void test_error_status(void **state)
{
    struct env *e = *state;
    struct result r = {.stop = 1};

    start(e, "/error", 5000, &r);
    run_for(e, 5000);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, 500);
    assert_string_equal(r.body, "oops");
}

struct ticker {
    int ticks;
    double last_ms, max_gap_ms;
    struct env *e;
    struct result *second;
    int started;
};

/* Every 20 ms while a transfer hangs: the loop must keep turning. */
static void tick(evutil_socket_t fd, short what, void *arg)
{
    struct ticker *t = arg;
    double now = now_ms();

    (void)fd;
    (void)what;
    if (t->ticks > 0 && now - t->last_ms > t->max_gap_ms)
        t->max_gap_ms = now - t->last_ms;
    t->last_ms = now;
    t->ticks++;
    /* After 100 ms another request on the same loop is served while the
     * first still waits. */
    if (t->ticks == 5 && !t->started) {
        t->started = 1;
        start(t->e, "/allow", 5000, t->second);
    }
}

static void test_timeout_does_not_block(void **state)
{
    struct env *e = *state;
    struct result hang = {.stop = 1}, other = {0};
    struct ticker t = {.e = e, .second = &other};
    struct timeval iv = {0, 20000};
    struct event *ev = event_new(e->base, -1, EV_PERSIST, tick, &t);
    double t0 = now_ms(), dt;

    assert_non_null(ev);
    event_add(ev, &iv);
    start(e, "/hang", 600, &hang);
    run_for(e, 5000);
    event_free(ev);
    dt = hang.at_ms - t0;
    assert_int_equal(hang.calls, 1);
    assert_int_equal(hang.status, 0);
    assert_string_equal(hang.err, "timed out after 600 ms");
    assert_true(dt >= 550 && dt < 2000);
    /* The timer kept firing all along (about 30 times in 600 ms). */
    assert_true(t.ticks >= 15);
    assert_true(t.max_gap_ms < 300);
    /* The second transfer finished long before the first timed out. */
    assert_int_equal(other.calls, 1);
    assert_int_equal(other.status, 200);
    assert_true(other.at_ms < hang.at_ms);
}

static void test_cancel(void **state)
{
    struct env *e = *state;
    struct result a = {0}, b = {0}, c = {.stop = 1};
    struct scepd_fetch *ha, *hb;

    /* Cancelled before it started, and while it hangs. */
    ha = start(e, "/allow", 5000, &a);
    scepd_fetch_cancel(ha);
    hb = start(e, "/hang", 5000, &b);
    run_for(e, 200);
    assert_int_equal(scepd_fetcher_pending(e->f), 1);
    scepd_fetch_cancel(hb);
    assert_int_equal(scepd_fetcher_pending(e->f), 0);
    /* The fetcher still works afterwards, and nothing else calls back. */
    start(e, "/allow", 5000, &c);
    run_for(e, 5000);
    run_for(e, 200);
    assert_int_equal(a.calls, 0);
    assert_int_equal(b.calls, 0);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.status, 200);
    scepd_fetch_cancel(NULL);
}

static void test_too_big(void **state)
{
    struct env *e = *state;
    struct result r = {.stop = 1};

    start(e, "/big", 5000, &r);
    run_for(e, 5000);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.len, 0);
    assert_string_equal(r.err, "answer over 65536 bytes");
}

static void test_refused_and_bad_args(void **state)
{
    struct env *e = *state;
    struct result r = {.stop = 1};
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    char url[128];

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", ntohs(sa.sin_port));
    assert_int_equal(scepd_fetch_post(e->f, url, NULL, "{}", 2, 2000, on_done, &r, NULL), 0);
    run_for(e, 5000);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.err, "connection refused");
    /* Other schemes fail the transfer, through the callback. */
    memset(&r, 0, sizeof(r));
    r.stop = 1;
    assert_int_equal(
        scepd_fetch_post(e->f, "file:///etc/passwd", NULL, "", 0, 2000, on_done, &r, NULL), 0);
    run_for(e, 5000);
    assert_int_equal(r.calls, 1);
    assert_string_equal(r.err, "URL scheme refused (http and https only)");
    assert_int_equal(scepd_fetch_post(e->f, NULL, NULL, "", 0, 2000, on_done, &r, NULL), -1);
    assert_int_equal(scepd_fetch_post(e->f, url, NULL, "", 0, 0, on_done, &r, NULL), -1);
    assert_int_equal(scepd_fetch_post(e->f, url, NULL, "", 0, 2000, NULL, &r, NULL), -1);
}

/* Freeing with a transfer in flight: no callback (ASan: no leak). */
static void test_free_in_flight(void **state)
{
    struct env *e = *state;
    struct result r = {0};

    start(e, "/hang", 5000, &r);
    run_for(e, 100);
    scepd_fetcher_free(e->f);
    e->f = scepd_fetcher_new(e->base);
    assert_non_null(e->f);
    run_for(e, 100);
    assert_int_equal(r.calls, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_allow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_does_not_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_big, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_and_bad_args, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_in_flight, setup, teardown),
    };

    /* The servers are on 127.0.0.1: no proxy from the environment. */
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    unsetenv("https_proxy");
    unsetenv("HTTPS_PROXY");
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
