/*
 * lib/policy's webhook core (webhook.h): the JSON body, the HMAC
 * signature (RFC 4231), every verdict, and the blocking transport
 * against an evhttp server run in a thread of this test on 127.0.0.1.
 */
#include <errno.h>
#include <pthread.h>
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
#include <event2/thread.h>
#include <jansson.h>

#include <scep/error.h>

#include "policy/webhook.h"

/* ---- body ---------------------------------------------------------------- */

static void test_body_fields(void **state)
{
    const char *sans[] = {"DNS:a.example", "IP:192.0.2.1"};
    struct scep_webhook_input in = {
        .profile = "iot",
        .transaction_id = "TX1",
        .challenge = "s\xc3\xa9same",
        .subject = "CN=dev1,O=Example",
        .sans = sans,
        .nsans = 2,
        .key_type = "EC",
        .key_bits = 256,
        .key_curve = "P-256",
        .requester = "192.0.2.7",
        .msg_type = "PKCSReq",
    };
    char *body = NULL;
    size_t len = 0;
    json_t *j, *key, *arr;
    json_error_t err;
    time_t now = time(NULL);

    (void)state;
    assert_int_equal(scep_webhook_body(&in, &body, &len), 0);
    assert_int_equal(len, strlen(body));
    /* Compact: no whitespace between tokens. */
    assert_null(strstr(body, ": "));
    j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "profile")), "iot");
    assert_string_equal(json_string_value(json_object_get(j, "transaction_id")), "TX1");
    assert_string_equal(json_string_value(json_object_get(j, "challenge")), "s\xc3\xa9same");
    assert_string_equal(json_string_value(json_object_get(j, "subject")), "CN=dev1,O=Example");
    arr = json_object_get(j, "sans");
    assert_true(json_is_array(arr));
    assert_int_equal(json_array_size(arr), 2);
    assert_string_equal(json_string_value(json_array_get(arr, 0)), "DNS:a.example");
    assert_string_equal(json_string_value(json_array_get(arr, 1)), "IP:192.0.2.1");
    key = json_object_get(j, "key");
    assert_string_equal(json_string_value(json_object_get(key, "type")), "EC");
    assert_int_equal(json_integer_value(json_object_get(key, "bits")), 256);
    assert_string_equal(json_string_value(json_object_get(key, "curve")), "P-256");
    assert_string_equal(json_string_value(json_object_get(j, "requester")), "192.0.2.7");
    assert_string_equal(json_string_value(json_object_get(j, "message_type")), "PKCSReq");
    assert_true(json_integer_value(json_object_get(j, "time")) >= (json_int_t)now - 5);
    assert_true(json_integer_value(json_object_get(j, "time")) <= (json_int_t)now + 5);
    assert_int_equal(json_object_size(j), 9);
    json_decref(j);
    free(body);
}

static void test_body_nulls(void **state)
{
    struct scep_webhook_input in = {
        .profile = "", .key_type = "RSA", .key_bits = 2048, .msg_type = "RenewalReq"};
    char *body = NULL;
    size_t len = 0;
    json_t *j;
    json_error_t err;

    (void)state;
    assert_int_equal(scep_webhook_body(&in, &body, &len), 0);
    j = json_loadb(body, len, 0, &err);
    assert_non_null(j);
    assert_true(json_is_null(json_object_get(j, "challenge")));
    assert_true(json_is_null(json_object_get(json_object_get(j, "key"), "curve")));
    assert_string_equal(json_string_value(json_object_get(j, "subject")), "");
    assert_int_equal(json_array_size(json_object_get(j, "sans")), 0);
    json_decref(j);
    free(body);
}

static void test_body_bad_utf8(void **state)
{
    struct scep_webhook_input in = {.subject = "CN=\xff\xfe"};
    char *body = NULL;
    size_t len = 0;

    (void)state;
    assert_int_equal(scep_webhook_body(&in, &body, &len), SCEP_ERR_INVALID_ARG);
    assert_null(body);
    assert_int_equal(scep_webhook_body(NULL, &body, &len), SCEP_ERR_INVALID_ARG);
}

/* ---- signature ----------------------------------------------------------- */

static void test_sign_rfc4231_case2(void **state)
{
    const char *data = "what do ya want for nothing?";
    char sig[SCEP_WEBHOOK_SIG_SIZE];

    (void)state;
    assert_int_equal(
        scep_webhook_sign((const unsigned char *)"Jefe", 4, data, strlen(data), sig, sizeof(sig)),
        0);
    assert_string_equal(sig, "sha256="
                             "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    /* Too small a buffer is refused, not cut. */
    assert_int_equal(scep_webhook_sign((const unsigned char *)"Jefe", 4, data, strlen(data), sig,
                                       sizeof(sig) - 1),
                     SCEP_ERR_INVALID_ARG);
    /* An empty secret is a key like any other. */
    assert_int_equal(scep_webhook_sign(NULL, 0, data, strlen(data), sig, sizeof(sig)), 0);
    assert_int_equal(strlen(sig), SCEP_WEBHOOK_SIG_SIZE - 1);
}

/* ---- verdicts ------------------------------------------------------------ */

static int verdict(int status, const char *body, const char *terr, char *why, size_t n)
{
    return scep_webhook_verdict(status, (const unsigned char *)body, body ? strlen(body) : 0, terr,
                                why, n);
}

static void test_verdicts(void **state)
{
    char why[256];
    static const char notjson[] = "webhook answer is not JSON {\"allow\": bool}";

    (void)state;
    assert_int_equal(verdict(200, "{\"allow\": true}", NULL, why, sizeof(why)), 1);
    assert_string_equal(why, "");
    assert_int_equal(verdict(201, "{\"allow\":true,\"x\":[1]}", NULL, why, sizeof(why)), 1);
    assert_int_equal(verdict(200, "{\"allow\": false}", NULL, why, sizeof(why)), 0);
    assert_string_equal(why, "webhook denied");
    assert_int_equal(verdict(200, "{\"allow\": false, \"reason\": \"not in inventory\"}", NULL, why,
                             sizeof(why)),
                     0);
    assert_string_equal(why, "webhook denied: not in inventory");
    /* A reason that is not a string is no reason. */
    assert_int_equal(verdict(200, "{\"allow\": false, \"reason\": 7}", NULL, why, sizeof(why)), 0);
    assert_string_equal(why, "webhook denied");
    /* Control characters never reach the log or the client. */
    assert_int_equal(
        verdict(200, "{\"allow\": false, \"reason\": \"a\\nb\\u0007c\"}", NULL, why, sizeof(why)),
        0);
    assert_string_equal(why, "webhook denied: a b c");
    assert_int_equal(verdict(204, NULL, NULL, why, sizeof(why)), 0);
    assert_string_equal(why, notjson);
    assert_int_equal(verdict(200, "", NULL, why, sizeof(why)), 0);
    assert_string_equal(why, notjson);
    assert_int_equal(verdict(500, "{\"allow\": true}", NULL, why, sizeof(why)), 0);
    assert_string_equal(why, "webhook answered HTTP 500");
    assert_int_equal(verdict(302, NULL, NULL, why, sizeof(why)), 0);
    assert_string_equal(why, "webhook answered HTTP 302");
    assert_int_equal(verdict(200, "allow", NULL, why, sizeof(why)), 0);
    assert_string_equal(why, notjson);
    assert_int_equal(verdict(200, "{\"allow\": \"yes\"}", NULL, why, sizeof(why)), 0);
    assert_string_equal(why, notjson);
    assert_int_equal(verdict(200, "{\"allow\": 1}", NULL, why, sizeof(why)), 0);
    assert_int_equal(verdict(200, "[true]", NULL, why, sizeof(why)), 0);
    assert_int_equal(verdict(200, "{}", NULL, why, sizeof(why)), 0);
    assert_int_equal(verdict(200, "{\"allow\": true} x", NULL, why, sizeof(why)), 0);
    assert_string_equal(why, notjson);
    /* Duplicate keys are refused, whichever comes last. */
    assert_int_equal(verdict(200, "{\"allow\": false, \"allow\": true}", NULL, why, sizeof(why)),
                     0);
    assert_string_equal(why, notjson);
    assert_int_equal(verdict(0, NULL, "connection refused", why, sizeof(why)), 0);
    assert_string_equal(why, "webhook unreachable: connection refused");
    assert_int_equal(verdict(0, NULL, "timed out after 2000 ms", why, sizeof(why)), 0);
    assert_string_equal(why, "webhook timed out after 2000 ms");
    assert_int_equal(verdict(0, NULL, "answer over 65536 bytes", why, sizeof(why)), 0);
    assert_string_equal(why, "webhook answer over 65536 bytes");
    assert_int_equal(verdict(0, NULL, NULL, why, sizeof(why)), 0);
    assert_string_equal(why, "webhook unreachable: no answer");
    /* A small why is cut, and still a string. */
    assert_int_equal(verdict(500, NULL, NULL, why, 8), 0);
    assert_string_equal(why, "webhook");
}

static void test_verdict_reason_cut(void **state)
{
    char body[600], why[512];
    size_t n;
    int i;

    (void)state;
    /* 300 two-byte characters: the reason is cut to at most
     * SCEP_WEBHOOK_MAX_REASON bytes on a character boundary. */
    n = (size_t)snprintf(body, sizeof(body), "{\"allow\":false,\"reason\":\"");
    for (i = 0; i < 150; i++) {
        body[n++] = (char)0xc3;
        body[n++] = (char)0xa9;
    }
    n += (size_t)snprintf(body + n, sizeof(body) - n, "\"}");
    assert_int_equal(scep_webhook_verdict(200, (unsigned char *)body, n, NULL, why, sizeof(why)),
                     0);
    assert_int_equal(strncmp(why, "webhook denied: ", 16), 0);
    assert_true(strlen(why + 16) <= SCEP_WEBHOOK_MAX_REASON);
    assert_int_equal(strlen(why + 16) % 2, 0);
}

static void test_verdict_oversize(void **state)
{
    size_t n = SCEP_WEBHOOK_MAX_RESPONSE + 1, i;
    unsigned char *body = malloc(n);
    char why[256];
    static const char head[] = "{\"allow\":true,\"pad\":\"";

    (void)state;
    assert_non_null(body);
    memcpy(body, head, sizeof(head) - 1);
    for (i = sizeof(head) - 1; i < n - 2; i++)
        body[i] = 'a';
    body[n - 2] = '"';
    body[n - 1] = '}';
    assert_int_equal(scep_webhook_verdict(200, body, n, NULL, why, sizeof(why)), 0);
    assert_string_equal(why, "webhook answer is not JSON {\"allow\": bool}");
    /* The same document one byte shorter is read. */
    body[n - 3] = '"';
    body[n - 2] = '}';
    assert_int_equal(scep_webhook_verdict(200, body, n - 1, NULL, why, sizeof(why)), 1);
    free(body);
}

/* ---- blocking transport against a local evhttp server ------------------- */

struct hook_server {
    struct event_base *base;
    struct evhttp *http;
    int port;
    pthread_t thread;
    char last_sig[SCEP_WEBHOOK_SIG_SIZE + 8];
    char last_body[4096];
};

static void hook_reply(struct evhttp_request *req, int code, const char *body)
{
    struct evbuffer *b = evbuffer_new();

    evbuffer_add(b, body, strlen(body));
    evhttp_send_reply(req, code, "X", b);
    evbuffer_free(b);
}

static void hook_handle(struct evhttp_request *req, void *arg)
{
    struct hook_server *s = arg;
    const char *uri = evhttp_request_get_uri(req);
    const char *sig =
        evhttp_find_header(evhttp_request_get_input_headers(req), "X-Scepd-Signature");
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);

    snprintf(s->last_sig, sizeof(s->last_sig), "%s", sig != NULL ? sig : "");
    if (n >= sizeof(s->last_body))
        n = sizeof(s->last_body) - 1;
    evbuffer_copyout(in, s->last_body, n);
    s->last_body[n] = '\0';
    if (strcmp(uri, "/allow") == 0)
        hook_reply(req, 200, "{\"allow\": true}");
    else if (strcmp(uri, "/deny") == 0)
        hook_reply(req, 200, "{\"allow\": false, \"reason\": \"not in inventory\"}");
    else if (strcmp(uri, "/redirect") == 0) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Location", "/allow");
        hook_reply(req, 302, "");
    } else if (strcmp(uri, "/big") == 0) {
        size_t len = 100 * 1024;
        char *big = malloc(len + 1);

        memset(big, ' ', len);
        big[len] = '\0';
        hook_reply(req, 200, big);
        free(big);
    } else if (strcmp(uri, "/hang") == 0) {
        /* Never answered; evhttp_free() drops it at the end. */
    } else
        hook_reply(req, 404, "");
}

static void *hook_main(void *arg)
{
    struct hook_server *s = arg;

    event_base_dispatch(s->base);
    return NULL;
}

/* A keep-alive event so that dispatch does not return before requests. */
static void hook_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

static struct event *hook_keepalive;

static int hook_start(struct hook_server *s)
{
    struct evhttp_bound_socket *b;
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    struct timeval tv = {3600, 0};

    memset(s, 0, sizeof(*s));
    s->base = event_base_new();
    s->http = evhttp_new(s->base);
    evhttp_set_gencb(s->http, hook_handle, s);
    b = evhttp_bind_socket_with_handle(s->http, "127.0.0.1", 0);
    if (b == NULL)
        return -1;
    if (getsockname(evhttp_bound_socket_get_fd(b), (struct sockaddr *)&sa, &sl) != 0)
        return -1;
    s->port = ntohs(sa.sin_port);
    hook_keepalive = event_new(s->base, -1, EV_PERSIST, hook_tick, NULL);
    event_add(hook_keepalive, &tv);
    return pthread_create(&s->thread, NULL, hook_main, s);
}

static void hook_stop(struct hook_server *s)
{
    event_base_loopbreak(s->base);
    pthread_join(s->thread, NULL);
    event_free(hook_keepalive);
    evhttp_free(s->http);
    event_base_free(s->base);
}

static struct hook_server srv;

static int setup_server(void **state)
{
    (void)state;
    return hook_start(&srv);
}

static int teardown_server(void **state)
{
    (void)state;
    hook_stop(&srv);
    return 0;
}

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* POSTs to path on the test server; returns the verdict, why filled. */
static int post(const char *path, long timeout_ms, int *status, char *why, size_t whylen)
{
    static const char body[] = "{\"transaction_id\":\"T\"}";
    char url[128], sig[SCEP_WEBHOOK_SIG_SIZE], err[128];
    unsigned char *resp = NULL;
    size_t resp_len = 0;
    int v;

    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", srv.port, path);
    assert_int_equal(
        scep_webhook_sign((const unsigned char *)"k", 1, body, strlen(body), sig, sizeof(sig)), 0);
    assert_int_equal(scep_webhook_post_blocking(url, body, strlen(body), sig, timeout_ms, status,
                                                &resp, &resp_len, err, sizeof(err)),
                     0);
    v = scep_webhook_verdict(*status, resp, resp_len, err, why, whylen);
    free(resp);
    return v;
}

static void test_blocking_allow_deny(void **state)
{
    char why[256], sig[SCEP_WEBHOOK_SIG_SIZE];
    int status = -1;

    (void)state;
    assert_int_equal(post("/allow", 5000, &status, why, sizeof(why)), 1);
    assert_int_equal(status, 200);
    /* The server saw the body and its signature. */
    assert_string_equal(srv.last_body, "{\"transaction_id\":\"T\"}");
    assert_int_equal(scep_webhook_sign((const unsigned char *)"k", 1, srv.last_body,
                                       strlen(srv.last_body), sig, sizeof(sig)),
                     0);
    assert_string_equal(srv.last_sig, sig);
    assert_int_equal(post("/deny", 5000, &status, why, sizeof(why)), 0);
    assert_string_equal(why, "webhook denied: not in inventory");
    /* Redirects are answers, not followed. */
    assert_int_equal(post("/redirect", 5000, &status, why, sizeof(why)), 0);
    assert_string_equal(why, "webhook answered HTTP 302");
    assert_int_equal(post("/nothere", 5000, &status, why, sizeof(why)), 0);
    assert_string_equal(why, "webhook answered HTTP 404");
}

static void test_blocking_timeout(void **state)
{
    char why[256];
    int status = -1;
    double t0 = now_ms(), dt;

    (void)state;
    assert_int_equal(post("/hang", 300, &status, why, sizeof(why)), 0);
    dt = now_ms() - t0;
    assert_int_equal(status, 0);
    assert_string_equal(why, "webhook timed out after 300 ms");
    assert_true(dt >= 250 && dt < 3000);
}

static void test_blocking_big(void **state)
{
    char why[256];
    int status = -1;

    (void)state;
    assert_int_equal(post("/big", 5000, &status, why, sizeof(why)), 0);
    assert_int_equal(status, 0);
    assert_string_equal(why, "webhook answer over 65536 bytes");
}

static void test_blocking_refused_and_scheme(void **state)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0), status = -1;
    char url[128], err[128], why[256];
    unsigned char *resp = NULL;
    size_t resp_len = 0;

    (void)state;
    /* A port that was just free: bound, never listened on, closed. */
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/allow", ntohs(sa.sin_port));
    assert_int_equal(scep_webhook_post_blocking(url, "{}", 2, NULL, 2000, &status, &resp, &resp_len,
                                                err, sizeof(err)),
                     0);
    assert_int_equal(status, 0);
    assert_null(resp);
    assert_int_equal(scep_webhook_verdict(status, resp, resp_len, err, why, sizeof(why)), 0);
    assert_string_equal(why, "webhook unreachable: connection refused");
    assert_int_equal(scep_webhook_post_blocking("file:///etc/passwd", "{}", 2, NULL, 2000, &status,
                                                &resp, &resp_len, err, sizeof(err)),
                     0);
    assert_int_equal(status, 0);
    assert_null(resp);
    assert_string_equal(err, "URL scheme refused (http and https only)");
    assert_int_equal(scep_webhook_post_blocking(NULL, "{}", 2, NULL, 2000, &status, &resp,
                                                &resp_len, err, sizeof(err)),
                     SCEP_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body_fields),
        cmocka_unit_test(test_body_nulls),
        cmocka_unit_test(test_body_bad_utf8),
        cmocka_unit_test(test_sign_rfc4231_case2),
        cmocka_unit_test(test_verdicts),
        cmocka_unit_test(test_verdict_reason_cut),
        cmocka_unit_test(test_verdict_oversize),
        cmocka_unit_test(test_blocking_allow_deny),
        cmocka_unit_test(test_blocking_timeout),
        cmocka_unit_test(test_blocking_big),
        cmocka_unit_test(test_blocking_refused_and_scheme),
    };

    /* The server is on 127.0.0.1: no proxy from the environment. */
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    unsetenv("https_proxy");
    unsetenv("HTTPS_PROXY");
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");
    /* Before any thread: neither is thread-safe to set up. */
    if (evthread_use_pthreads() != 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    return cmocka_run_group_tests(tests, setup_server, teardown_server);
}
