/*
 * scepd's HTTP layer: routes one request on a worker's evhttp to the SCEP
 * service (RFC 8894 4: GetCACaps, GetCACert, GetNextCACert, PKIOperation
 * by POST or GET), /healthz or /metrics, sends the reply with a
 * Content-Length (also for HTTP/1.0 and HEAD; never chunked: several clients cannot read chunked
 * replies), and writes one logfmt line and the metrics for it.
 *
 * The raw request target is split here rather than through evhttp's URI
 * parser: the message= value must stay exactly as sent (see query.c),
 * and HTTP/1.0 clients (Cisco) may send an absolute URI and no Host.
 * Errors are one line of text/plain.
 */
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <scep/error.h>
#include <scep/encoding.h>
#include <scep/message.h>

#include "scepd.h"
#include "service/service.h"

/* The path every SCEP client falls back to (RFC 8894 4.1 examples). */
#define HTTP_CGI_PATH "/cgi-bin/pkiclient.exe"
/* Bytes of the request path written to the log line (escaped, up to 4x). */
#define HTTP_LOG_MAX_PATH 256

/* Everything the log line and the metrics need about one request. */
struct http_ctx {
    struct scepd_worker *w;
    struct evhttp_request *req;
    const char *method;
    const char *path;   /* raw, without the query */
    size_t path_len;
    int op;             /* enum scepd_op, SCEPD_OP_NONE for non-SCEP routes */
    int scep_route;     /* counted in scepd_requests_total */
    char peer[64];
    struct timespec start;
    int status;
    size_t bytes;
    struct scep_reply r;
};

static const char *
http_method_name(enum evhttp_cmd_type t)
{
    switch (t) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_TRACE: return "TRACE";
    case EVHTTP_REQ_CONNECT: return "CONNECT";
    case EVHTTP_REQ_PATCH: return "PATCH";
    }
    return "OTHER";
}

static const char *
http_status_text(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 503: return "Service Unavailable";
    default: return status >= 500 ? "Internal Server Error" : "Error";
    }
}

/* evhttp calls this once the reply is fully written (or the request is
 * being freed after it was sent). */
static void
http_reply_complete(struct evhttp_request *req, void *arg)
{
    struct scepd_worker *w = arg;

    /* The next request on a kept-alive connection has read_timeout. */
    scepd_conn_request_end(w, evhttp_request_get_connection(req));
    scepd_worker_reply_done(w);
}

/* Sends status with body (len bytes) as content_type; evhttp adds the
 * Content-Length for a buffer reply and drops the body for HEAD. */
static void
http_send(struct http_ctx *c, int status, const char *content_type, const void *body, size_t len)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(c->req);
    struct evbuffer *buf = evbuffer_new();
    int head = evhttp_request_get_command(c->req) == EVHTTP_REQ_HEAD;
    char clen[32];

    c->status = status;
    /* HEAD: the headers of a GET, no body (evhttp sends what it is given
     * on HTTP/1.0). */
    if (buf == NULL || (len > 0 && !head && evbuffer_add(buf, body, len) != 0)) {
        /* Out of memory: evhttp's own error reply needs no buffer of ours. */
        c->status = 500;
        c->bytes = 0;
        evbuffer_free(buf);
        evhttp_send_error(c->req, 500, NULL);
        return;
    }
    c->bytes = head ? 0 : len;
    /* evhttp adds Content-Length only for HTTP/1.1; HTTP/1.0 clients
     * (Cisco) and HEAD get it from us.  evhttp keeps a header already set. */
    snprintf(clen, sizeof(clen), "%zu", len);
    evhttp_add_header(h, "Content-Length", clen);
    evhttp_add_header(h, "Content-Type", content_type);
    evhttp_add_header(h, "Cache-Control", "no-store");
    if (c->w->stopping)
        evhttp_add_header(h, "Connection", "close");
    c->w->in_flight++;
    evhttp_request_set_on_complete_cb(c->req, http_reply_complete, c->w);
    evhttp_send_reply(c->req, status, http_status_text(status), buf);
    evbuffer_free(buf);
}

/* Sends a one-line text/plain error. */
static void
http_send_text(struct http_ctx *c, int status, const char *text)
{
    char line[320];
    int n = snprintf(line, sizeof(line), "%s\n", text);

    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof(line))
        n = sizeof(line) - 1;
    http_send(c, status, "text/plain", line, (size_t)n);
}

static void
http_log(struct http_ctx *c)
{
    struct scepd_logline l;
    struct timespec now;
    double ms;
    int lvl = c->status >= 500 ? SCEPD_ERROR : SCEPD_INFO;

    clock_gettime(CLOCK_MONOTONIC, &now);
    ms = (double)(now.tv_sec - c->start.tv_sec) * 1e3 +
         (double)(now.tv_nsec - c->start.tv_nsec) / 1e6;
    if (!scepd_log_enabled(lvl))
        return;
    scepd_log_begin(&l, lvl, "request");
    scepd_log_str(&l, "method", c->method);
    /* A client picks the path's length: cut it, so that the fields after
     * it (status, outcome, ...) always fit in the line. */
    scepd_log_mem(&l, "path", c->path, c->path_len < HTTP_LOG_MAX_PATH ? c->path_len
                                                                       : HTTP_LOG_MAX_PATH);
    if (c->path_len > HTTP_LOG_MAX_PATH)
        scepd_log_int(&l, "path_len", (long long)c->path_len);
    scepd_log_str(&l, "op", c->op == SCEPD_OP_NONE ? "" : scepd_op_name(c->op));
    scepd_log_str(&l, "peer", c->peer);
    scepd_log_int(&l, "status", c->status);
    scepd_log_str(&l, "msg_type", c->r.msg_type >= 0 ? scep_msg_type_name(c->r.msg_type) : "");
    scepd_log_str(&l, "transaction_id", c->r.transaction_id);
    scepd_log_str(&l, "outcome", c->r.outcome);
    scepd_log_str(&l, "fail_info", c->r.fail_info >= 0 ? scep_fail_info_name(c->r.fail_info) : "");
    scepd_log_str(&l, "serial", c->r.serial);
    if (c->status != 200 || c->r.fail_info >= 0)
        scepd_log_str(&l, "reason", c->r.reason);
    scepd_log_int(&l, "bytes", (long long)c->bytes);
    scepd_log_double(&l, "duration_ms", ms);
    scepd_log_end(&l);
}

static void
http_count(struct http_ctx *c)
{
    struct scepd_metrics *m = &c->w->metrics;
    int outcome;

    if (!c->scep_route)
        return;
    if (c->r.outcome != NULL)
        outcome = scepd_outcome_from_text(c->r.outcome);
    else
        outcome = c->status == 200 ? SCEPD_OUT_SUCCESS : SCEPD_OUT_ERROR;
    scepd_metrics_request(m, c->op, outcome);
    if (outcome == SCEPD_OUT_FAILURE)
        scepd_metrics_refusal(m, c->r.fail_info);
    if (c->r.issue_seconds > 0)
        scepd_metrics_issuance(m, c->r.issue_seconds);
}

/* Sends what the service put in c->r: its body on 200, else its reason. */
static void
http_send_service(struct http_ctx *c)
{
    if (c->r.http_status == 200)
        http_send(c, 200, c->r.content_type != NULL ? c->r.content_type
                                                    : "application/octet-stream",
                  c->r.body, c->r.len);
    else
        http_send_text(c, c->r.http_status >= 400 ? c->r.http_status : 500,
                       c->r.reason[0] != '\0' ? c->r.reason : "internal error");
}

/* Records an HTTP-level refusal in the reply so the log line has it. */
static void
http_refuse(struct http_ctx *c, int status, const char *reason)
{
    snprintf(c->r.reason, sizeof(c->r.reason), "%s", reason);
    c->r.outcome = "error";
    http_send_text(c, status, reason);
}

static void
http_pkioperation(struct http_ctx *c, enum evhttp_cmd_type method, const struct scepd_query *q)
{
    struct scepd_worker *w = c->w;
    unsigned char *decoded = NULL;
    const unsigned char *msg = NULL;
    size_t len = 0;
    char why[128];
    int rc;

    if (method == EVHTTP_REQ_POST) {
        struct evbuffer *in = evhttp_request_get_input_buffer(c->req);

        len = evbuffer_get_length(in);
        if (len == 0) {
            http_refuse(c, 400, "empty PKIOperation body");
            goto out;
        }
        if (len > w->srv->cfg->max_body || len > SCEP_MAX_MESSAGE) {
            http_refuse(c, 413, "PKIOperation body too large");
            goto out;
        }
        /* The body may sit in several chunks; the service wants one run. */
        msg = evbuffer_pullup(in, -1);
        if (msg == NULL) {
            http_refuse(c, 500, "out of memory");
            goto out;
        }
    } else {
        if (q->message == NULL || q->message_len == 0) {
            http_refuse(c, 400, "PKIOperation GET without message");
            goto out;
        }
        rc = scep_query_message_decode(q->message, q->message_len, &decoded, &len);
        if (rc != 0) {
            snprintf(why, sizeof(why), "bad message parameter: %s", scep_strerror(rc));
            http_refuse(c, 400, why);
            goto out;
        }
        msg = decoded;
    }
    /* The store would take the certificate into a deleted file and the
     * client would hold one that no restart knows: refuse instead. */
    if (!scepd_store_present(w->srv)) {
        http_refuse(c, 503, "certificate store unavailable: the database file was removed or "
                            "replaced; restart scepd");
        goto out;
    }
    /* A non-zero return has r filled as a 500 with its reason. */
    (void)scep_service_pkioperation(w->svc, msg, len, c->peer, &c->r);
    http_send_service(c);
out:
    scep_free(decoded);
}

static void
http_scep(struct http_ctx *c, enum evhttp_cmd_type method, const char *query, size_t qlen)
{
    struct scepd_query q;

    scepd_query_parse(query, qlen, &q);
    c->op = q.op;
    c->scep_route = 1;
    if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_POST) {
        evhttp_add_header(evhttp_request_get_output_headers(c->req), "Allow", "GET, POST");
        http_refuse(c, 405, "method not allowed");
        return;
    }
    /* The message= that clients add to the GET operations is the old
     * CA-IDENT; it is ignored, never a reason to fail. */
    switch (q.op) {
    case SCEPD_OP_GETCACAPS:
        (void)scep_service_getcacaps(c->w->svc, &c->r);
        http_send_service(c);
        return;
    case SCEPD_OP_GETCACERT:
        (void)scep_service_getcacert(c->w->svc, &c->r);
        http_send_service(c);
        return;
    case SCEPD_OP_GETNEXTCACERT:
        (void)scep_service_getnextcacert(c->w->svc, &c->r);
        http_send_service(c);
        return;
    case SCEPD_OP_PKIOPERATION:
        http_pkioperation(c, method, &q);
        return;
    default:
        http_refuse(c, 400, "unknown operation");
        return;
    }
}

static void
http_metrics(struct http_ctx *c)
{
    struct scepd_server *srv = c->w->srv;
    struct evbuffer *buf = evbuffer_new();
    unsigned char *text;
    size_t len;

    if (buf == NULL || scepd_metrics_render(srv->metrics_ptrs, (size_t)srv->nworkers, buf) != 0 ||
        (text = evbuffer_pullup(buf, -1)) == NULL) {
        http_refuse(c, 500, "cannot render metrics");
        evbuffer_free(buf);
        return;
    }
    len = evbuffer_get_length(buf);
    http_send(c, 200, "text/plain; version=0.0.4", text, len);
    evbuffer_free(buf);
}

/* Returns 1 when path (len bytes) is prefix or prefix followed by '/'.
 * An empty prefix ("/" configured) matches every path. */
static int
http_path_under(const char *path, size_t len, const char *prefix)
{
    size_t plen = strlen(prefix);

    if (len < plen || memcmp(path, prefix, plen) != 0)
        return 0;
    return len == plen || path[plen] == '/';
}

static int
http_path_is(const char *path, size_t len, const char *what)
{
    return len == strlen(what) && memcmp(path, what, len) == 0;
}

/* evhttp's callback for every request on a worker. */
static void
http_handle(struct evhttp_request *req, void *arg)
{
    struct http_ctx c;
    const char *uri = evhttp_request_get_uri(req);
    const char *qmark, *query = NULL;
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    size_t qlen = 0;

    memset(&c, 0, sizeof(c));
    clock_gettime(CLOCK_MONOTONIC, &c.start);
    c.w = arg;
    c.req = req;
    c.op = SCEPD_OP_NONE;
    c.method = http_method_name(method);
    c.r.msg_type = -1;
    c.r.fail_info = -1;
    /* The request is whole: it met its read deadline (conn.c). */
    scepd_conn_request_begin(c.w, conn);
    if (conn != NULL) {
        char *addr = NULL;
        ev_uint16_t port = 0;

        evhttp_connection_get_peer(conn, &addr, &port);
        snprintf(c.peer, sizeof(c.peer), "%s", addr != NULL ? addr : "");
    }
    if (uri == NULL)
        uri = "/";
    /* Absolute form ("http://host/path", RFC 7230 5.3.2): skip to the path. */
    if (strncmp(uri, "http://", 7) == 0 || strncmp(uri, "https://", 8) == 0) {
        const char *slash = strchr(strstr(uri, "://") + 3, '/');

        uri = slash != NULL ? slash : "/";
    }
    c.path = uri;
    qmark = strchr(uri, '?');
    c.path_len = qmark != NULL ? (size_t)(qmark - uri) : strlen(uri);
    if (qmark != NULL) {
        query = qmark + 1;
        qlen = strlen(query);
    }

    if (http_path_is(c.path, c.path_len, "/healthz")) {
        if ((method == EVHTTP_REQ_GET || method == EVHTTP_REQ_HEAD) &&
            !scepd_store_present(c.w->srv)) {
            http_refuse(&c, 503, "certificate store unavailable");
        } else if (method == EVHTTP_REQ_GET || method == EVHTTP_REQ_HEAD) {
            http_send(&c, 200, "text/plain", "ok\n", 3);
        } else {
            evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
            http_refuse(&c, 405, "method not allowed");
        }
    } else if (http_path_is(c.path, c.path_len, "/metrics")) {
        if (method == EVHTTP_REQ_GET) {
            http_metrics(&c);
        } else {
            evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
            http_refuse(&c, 405, "method not allowed");
        }
    } else if (http_path_under(c.path, c.path_len, c.w->srv->prefix) ||
               http_path_under(c.path, c.path_len, HTTP_CGI_PATH)) {
        http_scep(&c, method, query, qlen);
    } else {
        http_refuse(&c, 404, "not found: SCEP is served under the configured path prefix");
    }
    http_count(&c);
    http_log(&c);
    scep_reply_clear(&c.r);
}

/*
 * Installs the request handler on w->http with scepd's limits.  Every
 * method evhttp knows is let through to the handler, so that it, not
 * evhttp (which answers 501), answers 405 with an Allow header.
 */
void
scepd_http_init(struct scepd_worker *w)
{
    const struct scep_config *cfg = w->srv->cfg;

    evhttp_set_allowed_methods(w->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
                                            EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
    evhttp_set_max_body_size(w->http, (ev_ssize_t)cfg->max_body);
    evhttp_set_max_headers_size(w->http, SCEP_MAX_HEADERS);
    /* libevent 2.1 has one timeout for reading and writing a connection;
     * the longer of the two keeps both promises. */
    evhttp_set_timeout(w->http, cfg->read_timeout > cfg->write_timeout ? cfg->read_timeout
                                                                       : cfg->write_timeout);
    evhttp_set_default_content_type(w->http, "text/plain");
    evhttp_set_gencb(w->http, http_handle, w);
}
