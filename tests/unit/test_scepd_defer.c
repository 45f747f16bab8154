/*
 * Deferred replies (src/scepd/request.h) through scepd's real HTTP
 * layer: http.c, conn.c, route.c and a listener on 127.0.0.1, with a
 * worker's fetcher (fetch.c) in the app, all on one event base, and a
 * hook server (evhttp) on the same base.  The client is a second
 * fetcher.  Checks: a handler that defers while it POSTs to the hook
 * replies later with the hook's verdict, while another request on the
 * same loop is answered meanwhile; the connection stays counted and is
 * not closed by the read deadline while it waits; deferring and
 * finishing inside the handler works; a deferred request without a
 * reply gets a 500; when the connections close before the reply
 * (evhttp_free, as at the end of a shutdown, or the client hanging up),
 * the abort callback runs and cancels the hook call, with no callback
 * afterwards (ASan: no use-after-free, no leak).
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

#include "conn.h"
#include "fetch.h"
#include "http.h"
#include "listener.h"
#include "request.h"
#include "route.h"
#include "scepd.h"
#include "policy/webhook.h"

struct env {
    struct event_base *base;
    struct evhttp *hook; /* the webhook */
    int hook_port;
    struct scepd_router *routes;
    struct scepd_listener *l;
    struct scep_config cfg;
    struct scepd_metrics metrics;
    struct scepd_conns *conns;
    struct scepd_http *http;
    struct scepd_app app;
    struct scepd_fetcher *client;
    int port;
    int aborts; /* abort callbacks run */
    int late;   /* hook callbacks after an abort (must stay 0) */
};

static struct env *E;

/* ---- the hook: answers /slow after 300 ms, never answers /hang -------- */

static void hook_later(evutil_socket_t fd, short what, void *arg)
{
    struct evhttp_request *req = arg;
    struct evbuffer *b = evbuffer_new();

    (void)fd;
    (void)what;
    evbuffer_add_printf(b, "{\"allow\": false, \"reason\": \"not in inventory\"}");
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

static void hook_handle(struct evhttp_request *req, void *arg)
{
    struct timeval tv = {0, 300000};

    (void)arg;
    if (strcmp(evhttp_request_get_uri(req), "/slow") == 0)
        event_base_once(E->base, -1, EV_TIMEOUT, hook_later, req, &tv);
    /* /hang: never answered. */
}

/* ---- handlers under test ---------------------------------------------- */

struct pending {
    struct scepd_deferred *d;
    struct scepd_fetch *fetch;
};

static void hook_done(int status, const unsigned char *resp, size_t len, const char *terr,
                      void *arg)
{
    struct pending *p = arg;
    char why[256];
    struct scepd_request *req;

    if (p->d == NULL) {
        E->late++;
        return;
    }
    req = scepd_deferred_request(p->d);
    if (scep_webhook_verdict(status, resp, len, terr, why, sizeof(why)))
        scepd_reply_text(req, 200, "allowed");
    else
        scepd_reply_refuse(req, 403, why);
    scepd_deferred_done(p->d);
    free(p);
}

static void hook_abort(void *arg)
{
    struct pending *p = arg;

    E->aborts++;
    scepd_fetch_cancel(p->fetch);
    free(p);
}

/* Defers, asks the hook at path, replies with its verdict. */
static void ask_hook(struct scepd_request *req, struct scepd_app *app, const char *path)
{
    struct pending *p = calloc(1, sizeof(*p));
    char url[128];

    if (p == NULL || (p->d = scepd_request_defer(req)) == NULL) {
        free(p);
        scepd_reply_refuse(req, 500, "cannot defer");
        return;
    }
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", E->hook_port, path);
    if (scepd_fetch_post(app->fetcher, url, NULL, "{}", 2, 5000, hook_done, p, &p->fetch) != 0) {
        scepd_reply_refuse(req, 500, "cannot post");
        scepd_deferred_done(p->d);
        free(p);
        return;
    }
    scepd_deferred_on_abort(p->d, hook_abort, p);
}

static void h_slow(struct scepd_request *req, struct scepd_app *app)
{
    ask_hook(req, app, "/slow");
}

static void h_hang(struct scepd_request *req, struct scepd_app *app)
{
    ask_hook(req, app, "/hang");
}

static void h_fast(struct scepd_request *req, struct scepd_app *app)
{
    (void)app;
    scepd_reply_text(req, 200, "fast");
}

/* Defers and finishes before returning. */
static void h_inline(struct scepd_request *req, struct scepd_app *app)
{
    struct scepd_deferred *d = scepd_request_defer(req);

    (void)app;
    assert_non_null(d);
    assert_ptr_equal(scepd_request_defer(req), d);
    assert_ptr_equal(scepd_deferred_request(d), req);
    scepd_reply_text(req, 200, "inline");
    scepd_deferred_done(d);
}

static void h_noreply_later(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    scepd_deferred_done(arg);
}

/* Defers and later finishes without a reply: a 500 is sent for it. */
static void h_noreply(struct scepd_request *req, struct scepd_app *app)
{
    struct scepd_deferred *d = scepd_request_defer(req);
    struct timeval tv = {0, 50000};

    (void)app;
    assert_non_null(d);
    event_base_once(E->base, -1, EV_TIMEOUT, h_noreply_later, d, &tv);
}

/* ---- fixture ------------------------------------------------------------- */

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));
    struct scepd_listener_config lc;
    struct evhttp_bound_socket *b;
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    char err[256];

    if (e == NULL)
        return -1;
    E = e;
    e->base = event_base_new();
    e->hook = evhttp_new(e->base);
    evhttp_set_gencb(e->hook, hook_handle, e);
    b = evhttp_bind_socket_with_handle(e->hook, "127.0.0.1", 0);
    if (b == NULL || getsockname(evhttp_bound_socket_get_fd(b), (struct sockaddr *)&sa, &sl) != 0)
        return -1;
    e->hook_port = ntohs(sa.sin_port);

    if (scepd_router_new(&e->routes) != 0 ||
        scepd_router_add(e->routes, "/slow", SCEPD_MATCH_EXACT, SCEPD_M_POST, h_slow, "slow") ||
        scepd_router_add(e->routes, "/hang", SCEPD_MATCH_EXACT, SCEPD_M_POST, h_hang, "hang") ||
        scepd_router_add(e->routes, "/fast", SCEPD_MATCH_EXACT, SCEPD_M_POST, h_fast, "fast") ||
        scepd_router_add(e->routes, "/inline", SCEPD_MATCH_EXACT, SCEPD_M_POST, h_inline,
                         "inline") ||
        scepd_router_add(e->routes, "/noreply", SCEPD_MATCH_EXACT, SCEPD_M_POST, h_noreply,
                         "noreply"))
        return -1;
    memset(&lc, 0, sizeof(lc));
    lc.name = "listen";
    lc.address = "127.0.0.1:0";
    lc.routes = e->routes;
    if (scepd_listener_new(&lc, &e->l, err, sizeof(err)) != 0)
        return -1;
    e->port = scepd_listener_port(e->l);
    e->cfg.max_body = 65536;
    /* A read deadline shorter than the hook's 300 ms answer would close
     * a waiting connection if the deadline still ran while it waits. */
    e->cfg.read_timeout = 1;
    e->cfg.write_timeout = 1;
    if (scepd_conns_new(e->base, 16, e->cfg.read_timeout, &e->metrics, NULL, NULL, NULL,
                        &e->conns) != 0)
        return -1;
    e->app.metrics = &e->metrics;
    e->app.fetcher = scepd_fetcher_new(e->base);
    e->client = scepd_fetcher_new(e->base);
    if (e->app.fetcher == NULL || e->client == NULL)
        return -1;
    if (scepd_http_new(e->base, &e->cfg, e->l, &e->app, e->conns, &e->http) != 0)
        return -1;
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;

    /* The worker's order: connections (aborting deferred requests),
     * then the fetcher, then the accounting and the base. */
    scepd_http_free(e->http);
    scepd_fetcher_free(e->app.fetcher);
    scepd_fetcher_free(e->client);
    scepd_conns_free(e->conns);
    scepd_listener_free(e->l);
    scepd_router_free(e->routes);
    evhttp_free(e->hook);
    event_base_free(e->base);
    free(e);
    return 0;
}

/* ---- the client ------------------------------------------------------------ */

struct answer {
    int calls, status;
    char body[256], err[128];
    double at_ms;
    int stop;
};

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void got(int status, const unsigned char *resp, size_t len, const char *terr, void *arg)
{
    struct answer *a = arg;

    a->calls++;
    a->status = status;
    a->at_ms = now_ms();
    if (len >= sizeof(a->body))
        len = sizeof(a->body) - 1;
    if (len > 0)
        memcpy(a->body, resp, len);
    a->body[len] = '\0';
    snprintf(a->err, sizeof(a->err), "%s", terr != NULL ? terr : "");
    if (a->stop)
        event_base_loopbreak(E->base);
}

static void ask(struct env *e, const char *path, struct answer *a)
{
    char url[128];

    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", e->port, path);
    assert_int_equal(scepd_fetch_post(e->client, url, NULL, "x", 1, 5000, got, a, NULL), 0);
}

static void run_for(struct env *e, long ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

    event_base_loopexit(e->base, &tv);
    event_base_dispatch(e->base);
}

/* ---- tests --------------------------------------------------------------------- */

static void test_deferred_reply(void **state)
{
    struct env *e = *state;
    struct answer slow = {.stop = 1}, fast = {0};

    ask(e, "/slow", &slow);
    ask(e, "/fast", &fast);
    run_for(e, 5000);
    assert_int_equal(slow.calls, 1);
    assert_int_equal(slow.status, 403);
    assert_string_equal(slow.body, "webhook denied: not in inventory\n");
    /* Served while /slow waited for its hook. */
    assert_int_equal(fast.calls, 1);
    assert_int_equal(fast.status, 200);
    assert_true(fast.at_ms < slow.at_ms);
    assert_int_equal(e->aborts, 0);
    assert_int_equal(scepd_fetcher_pending(e->app.fetcher), 0);
}

static void test_wait_outlives_read_deadline(void **state)
{
    struct env *e = *state;
    struct answer a[3] = {{.stop = 0}, {.stop = 0}, {.stop = 0}};
    int i;

    /* Three in a row on a 1 s read deadline, each waiting 300 ms; the
     * connections stay counted while they wait. */
    for (i = 0; i < 3; i++)
        ask(e, "/slow", &a[i]);
    run_for(e, 150);
    assert_true(scepd_conns_open(e->conns) >= 1);
    run_for(e, 1500);
    for (i = 0; i < 3; i++) {
        assert_int_equal(a[i].calls, 1);
        assert_int_equal(a[i].status, 403);
    }
}

static void test_inline_and_noreply(void **state)
{
    struct env *e = *state;
    struct answer in = {0}, none = {.stop = 1};

    ask(e, "/inline", &in);
    ask(e, "/noreply", &none);
    run_for(e, 5000);
    run_for(e, 100);
    assert_int_equal(in.calls, 1);
    assert_int_equal(in.status, 200);
    assert_string_equal(in.body, "inline\n");
    assert_int_equal(none.calls, 1);
    assert_int_equal(none.status, 500);
    assert_string_equal(none.body, "internal error: the deferred handler sent no reply\n");
}

static void test_abort_on_close(void **state)
{
    struct env *e = *state;
    struct answer a = {0}, b = {0};

    ask(e, "/hang", &a);
    ask(e, "/hang", &b);
    run_for(e, 300);
    assert_int_equal(scepd_fetcher_pending(e->app.fetcher), 2);
    assert_int_equal(scepd_conns_open(e->conns), 2);
    /* What a shutdown whose drain time ran out does: the connections
     * close, their deferred requests are aborted and cancel their hook
     * calls. */
    scepd_http_free(e->http);
    e->http = NULL;
    assert_int_equal(e->aborts, 2);
    assert_int_equal(scepd_fetcher_pending(e->app.fetcher), 0);
    assert_int_equal(scepd_conns_open(e->conns), 0);
    run_for(e, 500);
    /* The clients saw the connection close without an answer. */
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.status, 0);
    assert_int_equal(b.calls, 1);
    assert_int_equal(e->late, 0);
}

/* A raw client: sends a whole request to path and returns the socket. */
static int raw_request(struct env *e, const char *path)
{
    struct sockaddr_in sa;
    char req[256];
    int fd = socket(AF_INET, SOCK_STREAM, 0), n;

    assert_true(fd >= 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)e->port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    n = snprintf(req, sizeof(req), "POST %s HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nx",
                 path);
    assert_int_equal(send(fd, req, (size_t)n, 0), n);
    return fd;
}

static void test_abort_on_client_hangup(void **state)
{
    struct env *e = *state;
    struct answer fast = {.stop = 1};
    int fd = raw_request(e, "/hang");

    run_for(e, 300);
    assert_int_equal(scepd_fetcher_pending(e->app.fetcher), 1);
    assert_int_equal(scepd_conns_open(e->conns), 1);
    /* The client gives up: its deferred request is aborted at once, not
     * when the hook's 5 s are over. */
    close(fd);
    run_for(e, 300);
    assert_int_equal(e->aborts, 1);
    assert_int_equal(scepd_fetcher_pending(e->app.fetcher), 0);
    assert_int_equal(scepd_conns_open(e->conns), 0);
    /* The worker goes on serving. */
    ask(e, "/fast", &fast);
    run_for(e, 5000);
    assert_int_equal(fast.status, 200);
    assert_int_equal(e->late, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_deferred_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_outlives_read_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inline_and_noreply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort_on_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort_on_client_hangup, setup, teardown),
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
    scepd_log_set_level("warn");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
