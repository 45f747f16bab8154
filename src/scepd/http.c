/*
 * scepd's HTTP layer (http.h): one evhttp per listener and worker.  For
 * each request it builds the request context of request.h (method, raw
 * path and query, body, peer address and, on TLS, the verified client
 * certificate), looks the path up in the listener's route table
 * (route.h), answers 404 or 405 (with Allow) itself, runs the handler
 * otherwise, and writes one logfmt line.  A handler may defer its reply
 * (request.h): the context then outlives the handler, and the line is
 * written when the deferred reply is sent or the connection is lost
 * (conn.c's close watch tells us; evhttp has no callback of its own for
 * a server request whose connection dies).  Replies always carry a
 * Content-Length (also for HTTP/1.0 and HEAD; never chunked: several
 * clients cannot read chunked replies).
 *
 * The raw request target is split here rather than through evhttp's URI
 * parser: the message= value must stay exactly as sent (see query.c),
 * and HTTP/1.0 clients (Cisco) may send an absolute URI and no Host.
 * Errors are one line of text/plain.
 */
#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <scep/error.h>
#include <scep/encoding.h>
#include <scep/message.h>

#include "conn.h"
#include "listener.h"
#include "request.h"
#include "route.h"
#include "scepd.h"
#include "service/service.h"

/* Bytes of the request path written to the log line (escaped, up to 4x). */
#define HTTP_LOG_MAX_PATH 256

struct scepd_http {
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *bound;
    int unbinding; /* the listener is disabled; bound goes after the next poll */
    const struct scepd_router *routes;
    struct scepd_app *app;
    struct scepd_conns *conns;
    int tls;
};

/* What a deferring handler holds; embedded in its request. */
struct scepd_deferred {
    struct scepd_request *req;
    void (*on_abort)(void *arg);
    void *on_abort_arg;
};

/*
 * One request being answered.  Allocated by http_handle() and freed
 * when the handler returns, unless it deferred the reply: then by
 * scepd_deferred_done() or, if the connection closes first, by
 * http_deferred_closed().
 */
struct scepd_request {
    struct scepd_http *h;
    struct evhttp_request *req;
    struct evhttp_connection *evcon; /* as when the request arrived */
    unsigned method;                 /* SCEPD_M_* bit, 0 for a method we do not know */
    const char *method_name;
    const char *path; /* raw, without the query */
    size_t path_len;
    const char *query; /* after '?', or NULL */
    size_t query_len;
    char peer[64];
    X509 *peer_cert; /* borrowed from the connection's SSL */
    struct timespec start;
    int replied;
    int status;
    size_t bytes;
    int op; /* enum scepd_op, SCEPD_OP_NONE for non-SCEP routes */
    struct scep_reply r;
    char principal[128]; /* who an admin API request authenticated as, "" none */
    /* Deferred replies (request.h). */
    int in_handler; /* the handler has not returned yet */
    int deferred;   /* scepd_request_defer() was called */
    int done;       /* scepd_deferred_done() ran inside the handler */
    int aborted;    /* the connection closed inside the handler */
    struct scepd_deferred d;
};

static const struct {
    enum evhttp_cmd_type cmd;
    unsigned bit;
    const char *name;
} http_methods[] = {
    {EVHTTP_REQ_GET, SCEPD_M_GET, "GET"},          {EVHTTP_REQ_POST, SCEPD_M_POST, "POST"},
    {EVHTTP_REQ_HEAD, SCEPD_M_HEAD, "HEAD"},       {EVHTTP_REQ_PUT, SCEPD_M_PUT, "PUT"},
    {EVHTTP_REQ_DELETE, SCEPD_M_DELETE, "DELETE"}, {EVHTTP_REQ_OPTIONS, SCEPD_M_OPTIONS, "OPTIONS"},
    {EVHTTP_REQ_TRACE, SCEPD_M_TRACE, "TRACE"},    {EVHTTP_REQ_CONNECT, SCEPD_M_CONNECT, "CONNECT"},
    {EVHTTP_REQ_PATCH, SCEPD_M_PATCH, "PATCH"},
};

static const char *http_status_text(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 429:
        return "Too Many Requests";
    case 503:
        return "Service Unavailable";
    default:
        return status >= 500 ? "Internal Server Error" : "Error";
    }
}

/* ---- request context (request.h) ------------------------------------ */

unsigned scepd_request_method(const struct scepd_request *req)
{
    return req->method;
}

const char *scepd_request_method_name(const struct scepd_request *req)
{
    return req->method_name;
}

const char *scepd_request_path(const struct scepd_request *req, size_t *len)
{
    *len = req->path_len;
    return req->path;
}

const char *scepd_request_query(const struct scepd_request *req, size_t *len)
{
    *len = req->query_len;
    return req->query;
}

/* The body as one run; *body borrowed from evhttp's input buffer. */
int scepd_request_body(struct scepd_request *req, const unsigned char **body, size_t *len)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req->req);
    size_t n = in != NULL ? evbuffer_get_length(in) : 0;
    const unsigned char *p = NULL;

    if (n > 0) {
        /* The body may sit in several chunks; handlers want one run. */
        p = evbuffer_pullup(in, -1);
        if (p == NULL)
            return -1;
    }
    *body = p;
    *len = n;
    return 0;
}

const char *scepd_request_peer(const struct scepd_request *req)
{
    return req->peer;
}

/* A request header's value; see request.h. */
const char *scepd_request_header(const struct scepd_request *req, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(req->req), name);
}

int scepd_request_is_tls(const struct scepd_request *req)
{
    return req->h->tls;
}

X509 *scepd_request_get0_peer_cert(const struct scepd_request *req)
{
    return req->peer_cert;
}

struct scep_reply *scepd_request_result(struct scepd_request *req)
{
    return &req->r;
}

void scepd_request_set_op(struct scepd_request *req, int op)
{
    req->op = op;
}

int scepd_request_status(const struct scepd_request *req)
{
    return req->status;
}

/* ---- replies ----------------------------------------------------------- */

/* evhttp calls this once the reply is fully written (or the request is
 * being freed after it was sent). */
static void http_reply_complete(struct evhttp_request *req, void *arg)
{
    struct scepd_http *h = arg;

    /* The next request on a kept-alive connection has read_timeout. */
    scepd_conns_request_end(h->conns, evhttp_request_get_connection(req));
}

int scepd_reply_header(struct scepd_request *req, const char *name, const char *value)
{
    if (req->replied)
        return -1;
    return evhttp_add_header(evhttp_request_get_output_headers(req->req), name, value) == 0 ? 0
                                                                                            : -1;
}

/* Sends status with body (len bytes); see request.h. */
void scepd_reply_send(struct scepd_request *req, int status, const char *content_type,
                      const void *body, size_t len)
{
    struct evkeyvalq *hdr = evhttp_request_get_output_headers(req->req);
    struct evbuffer *buf;
    int head = req->method == SCEPD_M_HEAD;
    char clen[32];

    if (req->replied)
        return;
    req->replied = 1;
    req->status = status;
    /* From here evhttp owns the request and frees it with its
     * connection: a close no longer concerns the deferring handler. */
    if (req->deferred)
        scepd_conns_unwatch_close(req->h->conns, req->evcon);
    buf = evbuffer_new();
    /* HEAD: the headers of the GET reply, with its Content-Length, and no
     * body.  evhttp 2.1 writes whatever buffer it is given, also for
     * HEAD, so the body is simply never handed over. */
    if (buf == NULL || (len > 0 && !head && evbuffer_add(buf, body, len) != 0)) {
        /* Out of memory: evhttp's own error reply needs no buffer of ours. */
        req->status = 500;
        req->bytes = 0;
        evbuffer_free(buf);
        evhttp_send_error(req->req, 500, NULL);
        return;
    }
    req->bytes = head ? 0 : len;
    /* evhttp adds Content-Length only for HTTP/1.1 replies with a body;
     * HTTP/1.0 clients (Cisco) and HEAD get it from us, and evhttp keeps
     * a header already set. */
    snprintf(clen, sizeof(clen), "%zu", len);
    evhttp_add_header(hdr, "Content-Length", clen);
    evhttp_add_header(hdr, "Content-Type", content_type);
    /* Answers that may be cached (CRLs, OCSP) set their own. */
    if (evhttp_find_header(hdr, "Cache-Control") == NULL)
        evhttp_add_header(hdr, "Cache-Control", "no-store");
    if (scepd_conns_stopping(req->h->conns))
        evhttp_add_header(hdr, "Connection", "close");
    evhttp_request_set_on_complete_cb(req->req, http_reply_complete, req->h);
    evhttp_send_reply(req->req, status, http_status_text(status), buf);
    evbuffer_free(buf);
}

/* Sends a one-line text/plain reply. */
void scepd_reply_text(struct scepd_request *req, int status, const char *text)
{
    char line[320];
    int n = snprintf(line, sizeof(line), "%s\n", text);

    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof(line)) {
        n = sizeof(line) - 1;
        line[n - 1] = '\n';
    }
    scepd_reply_send(req, status, "text/plain", line, (size_t)n);
}

/* Records what refused the request for the log line; see request.h. */
void scepd_request_note_refusal(struct scepd_request *req, const char *reason)
{
    if (req->replied)
        return;
    snprintf(req->r.reason, sizeof(req->r.reason), "%s", reason);
    req->r.outcome = "error";
}

/* Records who the request authenticated as; see request.h. */
void scepd_request_note_principal(struct scepd_request *req, const char *who)
{
    snprintf(req->principal, sizeof(req->principal), "%s", who);
}

/* Records an HTTP-level refusal in the result so the log line has it. */
void scepd_reply_refuse(struct scepd_request *req, int status, const char *reason)
{
    if (req->replied)
        return;
    snprintf(req->r.reason, sizeof(req->r.reason), "%s", reason);
    req->r.outcome = "error";
    scepd_reply_text(req, status, reason);
}

/* ---- one request -------------------------------------------------------- */

static void http_log(struct scepd_request *c)
{
    struct scepd_logline l;
    struct timespec now;
    double ms;
    /* A refusal (a CertRep FAILURE, a 4xx) is what an operator looks
     * for first: warn; a failure of scepd itself: error. */
    int lvl = c->status >= 500 ? SCEPD_ERROR
              : c->status >= 400 || c->r.fail_info >= 0 ||
                      (c->r.outcome != NULL && strcmp(c->r.outcome, "failure") == 0)
                  ? SCEPD_WARN
                  : SCEPD_INFO;

    clock_gettime(CLOCK_MONOTONIC, &now);
    ms = (double)(now.tv_sec - c->start.tv_sec) * 1e3 +
         (double)(now.tv_nsec - c->start.tv_nsec) / 1e6;
    if (!scepd_log_enabled(lvl))
        return;
    scepd_log_begin(&l, lvl, "request");
    scepd_log_str(&l, "method", c->method_name);
    /* A client picks the path's length: cut it, so that the fields after
     * it (status, outcome, ...) always fit in the line. */
    scepd_log_mem(&l, "path", c->path,
                  c->path_len < HTTP_LOG_MAX_PATH ? c->path_len : HTTP_LOG_MAX_PATH);
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
    if (c->principal[0] != '\0')
        scepd_log_str(&l, "principal", c->principal);
    if (c->status >= 300 || c->r.fail_info >= 0)
        scepd_log_str(&l, "reason", c->r.reason);
    scepd_log_int(&l, "bytes", (long long)c->bytes);
    scepd_log_double(&l, "duration_ms", ms);
    if (c->peer_cert != NULL) {
        char subject[256];

        /* Verified against tls_client_ca; the log escapes it anyway; last, so that
         * it cannot push the fields above out of the line. */
        if (X509_NAME_oneline(X509_get_subject_name(c->peer_cert), subject, (int)sizeof(subject)) ==
            NULL)
            subject[0] = '\0';
        scepd_log_str(&l, "client_subject", subject);
    }
    scepd_log_end(&l);
}

/* The verified client certificate of evcon's TLS session, or NULL. */
static X509 *http_peer_cert(struct evhttp_connection *evcon)
{
    struct bufferevent *bev = evcon != NULL ? evhttp_connection_get_bufferevent(evcon) : NULL;
    /* NULL for a bufferevent that is not an OpenSSL one. */
    SSL *ssl = bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;
    X509 *cert;

    if (ssl == NULL)
        return NULL;
    cert = SSL_get0_peer_certificate(ssl);
    /* With SSL_VERIFY_PEER a certificate that fails verification ends
     * the handshake; checking again costs nothing and keeps that promise
     * should the verify mode ever change. */
    if (cert == NULL || SSL_get_verify_result(ssl) != X509_V_OK)
        return NULL;
    return cert;
}

/* Splits evhttp's raw request target into path and query. */
static void http_split_target(struct scepd_request *c, const char *uri)
{
    const char *qmark;

    if (uri == NULL)
        uri = "/";
    /* Absolute form ("http://host/path", RFC 7230 5.3.2): skip to the path. */
    if (strncmp(uri, "http://", 7) == 0 || strncmp(uri, "https://", 8) == 0) {
        const char *slash = strchr(strstr(uri, "://") + 3, '/');

        uri = slash != NULL ? slash : "/";
    }
    c->path = uri;
    qmark = strchr(uri, '?');
    c->path_len = qmark != NULL ? (size_t)(qmark - uri) : strlen(uri);
    if (qmark != NULL) {
        c->query = qmark + 1;
        c->query_len = strlen(c->query);
    }
}

/* Writes the log line and frees c (not c->req, which evhttp owns). */
static void http_finish(struct scepd_request *c)
{
    http_log(c);
    scep_reply_clear(&c->r);
    free(c);
}

/* evhttp's callback for every request on one listener of a worker. */
static void http_handle(struct evhttp_request *evreq, void *arg)
{
    struct scepd_request *c;
    struct scepd_route_match m;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(evreq);
    struct evhttp_connection *conn = evhttp_request_get_connection(evreq);
    size_t i;

    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        /* No context, no handler: evhttp's own reply needs no memory of
         * ours. */
        scepd_log(SCEPD_ERROR, "out of memory for a request", NULL);
        evhttp_send_error(evreq, 500, NULL);
        return;
    }
    clock_gettime(CLOCK_MONOTONIC, &c->start);
    c->h = arg;
    c->req = evreq;
    c->evcon = conn;
    c->op = SCEPD_OP_NONE;
    c->method_name = "OTHER";
    c->r.msg_type = -1;
    c->r.fail_info = -1;
    c->d.req = c;
    for (i = 0; i < sizeof(http_methods) / sizeof(http_methods[0]); i++) {
        if (http_methods[i].cmd == cmd) {
            c->method = http_methods[i].bit;
            c->method_name = http_methods[i].name;
        }
    }
    /* The request is whole: it met its read deadline (conn.c). */
    scepd_conns_request_begin(c->h->conns, conn);
    if (conn != NULL) {
        char *addr = NULL;
        ev_uint16_t port = 0;

        evhttp_connection_get_peer(conn, &addr, &port);
        snprintf(c->peer, sizeof(c->peer), "%s", addr != NULL ? addr : "");
    }
    if (c->h->tls)
        c->peer_cert = http_peer_cert(conn);
    http_split_target(c, evhttp_request_get_uri(evreq));

    switch (scepd_router_match(c->h->routes, c->path, c->path_len, c->method, &m)) {
    case SCEPD_ROUTE_OK:
        c->in_handler = 1;
        m.handler(c, c->h->app);
        c->in_handler = 0;
        if (c->aborted) {
            /* The connection went while the handler ran (the handler
             * had deferred, and its abort callback has run). */
            scep_reply_clear(&c->r);
            free(c);
            return;
        }
        /* A deferred reply is sent, logged and freed later, unless the
         * handler already finished it. */
        if (c->deferred && !c->done)
            return;
        if (!c->replied)
            scepd_reply_refuse(c, 500, "internal error: the handler sent no reply");
        break;
    case SCEPD_ROUTE_METHOD: {
        char allow[96];

        scepd_reply_header(c, "Allow", scepd_methods_allow(m.allow, allow, sizeof(allow)));
        scepd_reply_refuse(c, 405, "method not allowed");
        break;
    }
    default:
        scepd_reply_refuse(c, 404, "not found: SCEP is served under the configured path prefix");
        break;
    }
    http_finish(c);
}

/* ---- deferred replies (request.h) ------------------------------------- */

/*
 * conn.c: the connection of a deferred request closed before its reply
 * (the client hung up, evhttp_free at the end of a shutdown, or evhttp
 * dropping it).  The
 * owner's abort callback runs first, so that it cancels what it started
 * while the request still exists; then the request goes.  evhttp frees
 * an evhttp_request still queued on the connection right after this
 * callback; one it has already detached (the evcon is NULL: a network
 * error while the reply was owed, evhttp_connection_incoming_fail)
 * belongs to us, and would leak otherwise.
 */
static void http_deferred_closed(void *arg)
{
    struct scepd_request *c = arg;

    /* Whatever the callback tries, nothing reaches the dead connection. */
    c->replied = 1;
    c->status = 0;
    if (c->d.on_abort != NULL)
        c->d.on_abort(c->d.on_abort_arg);
    if (c->r.reason[0] == '\0')
        snprintf(c->r.reason, sizeof(c->r.reason), "%s",
                 "connection closed before the deferred reply");
    c->r.outcome = "aborted";
    /* Logged now, while the path (in the evhttp_request) and the client
     * certificate (in the connection's SSL) still exist: both go as soon
     * as this callback returns, or below. */
    http_log(c);
    c->peer_cert = NULL;
    c->path = "";
    c->path_len = 0;
    c->query = NULL;
    c->query_len = 0;
    if (evhttp_request_get_connection(c->req) == NULL)
        evhttp_request_free(c->req);
    c->req = NULL;
    if (c->in_handler) {
        /* http_handle() frees c when the handler returns. */
        c->aborted = 1;
        return;
    }
    scep_reply_clear(&c->r);
    free(c);
}

/* Defers req's reply; see request.h. */
struct scepd_deferred *scepd_request_defer(struct scepd_request *req)
{
    if (req->deferred)
        return &req->d;
    if (!req->in_handler || req->replied)
        return NULL;
    /* The close hook is conn.c's; without one (a connection that could
     * not be counted) there is no way to learn of a close, so no
     * deferral: the handler answers now. */
    if (scepd_conns_watch_close(req->h->conns, req->evcon, http_deferred_closed, req) != 0)
        return NULL;
    req->deferred = 1;
    return &req->d;
}

struct scepd_request *scepd_deferred_request(struct scepd_deferred *d)
{
    return d->req;
}

void scepd_deferred_on_abort(struct scepd_deferred *d, void (*cb)(void *arg), void *arg)
{
    d->on_abort = cb;
    d->on_abort_arg = arg;
}

/* Finishes a deferred request; see request.h. */
void scepd_deferred_done(struct scepd_deferred *d)
{
    struct scepd_request *c = d->req;

    if (!c->replied)
        scepd_reply_refuse(c, 500, "internal error: the deferred handler sent no reply");
    d->on_abort = NULL;
    if (c->in_handler) {
        /* http_handle() logs and frees it when the handler returns. */
        c->done = 1;
        return;
    }
    http_finish(c);
}

/*
 * Serves l on base (see http.h).  Every method evhttp knows is let
 * through to the handler, so that the route table, not evhttp (which
 * answers 501), answers 405 with an Allow header.
 */
int scepd_http_new(struct event_base *base, const struct scep_config *cfg,
                   const struct scepd_listener *l, struct scepd_app *app, struct scepd_conns *conns,
                   struct scepd_http **out)
{
    struct scepd_http *h = NULL;
    int dfd = -1;
    int rc = -1;

    h = calloc(1, sizeof(*h));
    if (h == NULL || (h->http = evhttp_new(base)) == NULL) {
        scepd_log(SCEPD_ERROR, "cannot create an HTTP server", NULL);
        goto out;
    }
    h->base = base;
    h->routes = scepd_listener_get0_routes(l);
    h->app = app;
    h->conns = conns;
    h->tls = scepd_listener_get0_ssl_ctx(l) != NULL;
    evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
                                            EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
    evhttp_set_max_body_size(h->http, (ev_ssize_t)cfg->max_body);
    evhttp_set_max_headers_size(h->http, SCEP_MAX_HEADERS);
    /* libevent 2.1 has one timeout for reading and writing a connection;
     * the longer of the two keeps both promises. */
    evhttp_set_timeout(h->http, cfg->read_timeout > cfg->write_timeout ? cfg->read_timeout
                                                                       : cfg->write_timeout);
    evhttp_set_default_content_type(h->http, "text/plain");
    evhttp_set_gencb(h->http, http_handle, h);
    /* evhttp closes the descriptor it is given when it lets go of it, so
     * each worker gets its own dup of the listening socket. */
    dfd = fcntl(scepd_listener_fd(l), F_DUPFD_CLOEXEC, 0);
    if (dfd < 0) {
        scepd_log(SCEPD_ERROR, "dup of listening socket failed", "listener", scepd_listener_name(l),
                  "error", strerror(errno), NULL);
        goto out;
    }
    h->bound = evhttp_accept_socket_with_handle(h->http, dfd);
    if (h->bound == NULL) {
        scepd_log(SCEPD_ERROR, "evhttp cannot accept on the listening socket", "listener",
                  scepd_listener_name(l), NULL);
        goto out;
    }
    dfd = -1; /* evhttp owns it now */
    if (scepd_conns_attach(conns, h->http, h->bound, scepd_listener_get0_ssl_ctx(l)) != 0) {
        scepd_log(SCEPD_ERROR, "cannot set up connection accounting", "listener",
                  scepd_listener_name(l), NULL);
        goto out;
    }
    *out = h;
    h = NULL;
    rc = 0;
out:
    if (dfd >= 0)
        close(dfd);
    scepd_http_free(h);
    return rc;
}

/* Closes this worker's dup of the listening socket now. */
static void http_unbind_now(struct scepd_http *h)
{
    if (h->bound != NULL) {
        evhttp_del_accept_socket(h->http, h->bound);
        h->bound = NULL;
    }
}

static void http_unbind_later(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    http_unbind_now(arg);
}

/*
 * Stops accepting on this worker's dup of the socket.  The worker's
 * epoll changelist (worker.c) hands the removal to the kernel at the
 * next poll; closing the descriptor first would make that removal fail
 * and leave the registration of the socket, which the other workers'
 * dups keep open, waking this loop.  So the listener is disabled now
 * and closed from a callback that runs after that poll.
 */
void scepd_http_unbind(struct scepd_http *h)
{
    struct timeval zero = {0, 0};

    if (h == NULL || h->bound == NULL || h->unbinding)
        return;
    h->unbinding = 1;
    if (evconnlistener_disable(evhttp_bound_socket_get_listener(h->bound)) != 0 ||
        event_base_once(h->base, -1, EV_TIMEOUT, http_unbind_later, h, &zero) != 0)
        http_unbind_now(h);
}

/* Frees h; evhttp_free closes the open connections (conn.c's close
 * callback uncounts them).  Accepts NULL. */
void scepd_http_free(struct scepd_http *h)
{
    if (h == NULL)
        return;
    /* A deferred close that did not run is dropped with the base, which
     * goes after h (worker.c). */
    http_unbind_now(h);
    if (h->http != NULL)
        evhttp_free(h->http);
    free(h);
}
