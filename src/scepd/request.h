/*
 * What a route handler (route.h) sees of one HTTP request, and the small
 * interface through which it replies.  http.c makes the context from
 * evhttp's request and owns it; a handler only borrows it for the length
 * of its call, so nothing here is kept after the handler returns --
 * unless the handler defers its reply (below).
 *
 * Every handler sends exactly one reply: scepd_reply_send(),
 * scepd_reply_text() or scepd_reply_refuse().  A handler that returns
 * without one (and without deferring) gets a 500 sent for it.  For HEAD
 * the reply carries the headers and Content-Length of the GET reply and
 * no body.
 *
 * Deferred replies: a handler that must wait for something on the
 * worker's event loop (a webhook's answer, fetch.h) calls
 * scepd_request_defer() and returns; the request context then stays
 * alive, and the worker goes on serving other connections.  Later, on
 * the same worker's thread, the owner reaches the request again with
 * scepd_deferred_request(), replies through the scepd_reply_*()
 * functions and calls scepd_deferred_done(), which writes the log line
 * and frees the context.  If the connection closes first (the client
 * hangs up, or a shutdown's drain time runs out), the abort callback
 * runs instead and the context is freed when it returns: the owner
 * cancels its work there and forgets the handle.  While a reply is owed
 * evhttp neither reads from nor writes to the connection, so conn.c
 * watches the socket for the end of the stream; a client that sends
 * bytes instead (a pipelined request, a TLS close_notify) is noticed only
 * when the reply is written.  Either way the wait is bounded by its
 * owner (the webhook timeout), not by read_timeout.
 *
 * The one logfmt line per request is written by http.c after the
 * handler (for a deferred reply: by scepd_deferred_done(), or after the
 * abort callback with outcome=aborted); SCEP handlers put the service's
 * result into scepd_request_result() so that it shows the operation,
 * transaction id, outcome and failInfo.
 */
#ifndef SCEPD_REQUEST_H
#define SCEPD_REQUEST_H

#include <stddef.h>

#include <openssl/x509.h>

struct scepd_request;  /* opaque, owned by http.c */
struct scepd_deferred; /* opaque, part of its request */
struct scep_reply;

/* The method as one SCEPD_M_* bit (route.h) and as text ("GET"). */
unsigned scepd_request_method(const struct scepd_request *req);
const char *scepd_request_method_name(const struct scepd_request *req);

/* The raw path (still percent-encoded, no query), *len bytes, not
 * NUL-terminated.  Borrowed from the request. */
const char *scepd_request_path(const struct scepd_request *req, size_t *len);

/* The raw query string after '?' (*len bytes, NUL-terminated), or NULL
 * with *len = 0 when there is none.  Borrowed from the request. */
const char *scepd_request_query(const struct scepd_request *req, size_t *len);

/*
 * The request body as one run of bytes: *body borrowed from the request
 * (NULL with *len = 0 when empty).  Returns 0, or -1 when the body
 * cannot be made contiguous (out of memory).
 */
int scepd_request_body(struct scepd_request *req, const unsigned char **body, size_t *len);

/* The peer's address as text ("" when unknown).  Borrowed. */
const char *scepd_request_peer(const struct scepd_request *req);

/* The value of request header name (case-insensitive), or NULL when
 * absent; the first when repeated.  Borrowed from the request.  evhttp
 * bounds the headers' total size (SCEP_MAX_HEADERS). */
const char *scepd_request_header(const struct scepd_request *req, const char *name);

/* 1 when the request came over TLS. */
int scepd_request_is_tls(const struct scepd_request *req);

/*
 * The client certificate of a TLS connection, verified against the
 * listener's tls_client_ca during the handshake; NULL without TLS or
 * without a client certificate.  Borrowed: valid during the handler
 * (for a deferred request: until the reply), not to be freed.
 */
X509 *scepd_request_get0_peer_cert(const struct scepd_request *req);

/* The service result the log line reads (op, transaction id, outcome):
 * owned by the request and cleared after the log line. */
struct scep_reply *scepd_request_result(struct scepd_request *req);

/* Records the SCEP operation (enum scepd_op) for the log line. */
void scepd_request_set_op(struct scepd_request *req, int op);

/* The status sent, or 0 before the reply. */
int scepd_request_status(const struct scepd_request *req);

/*
 * Adds a response header (copied by evhttp) before the reply is sent.
 * Content-Length and Content-Type are set by scepd_reply_send(), and
 * Cache-Control ("no-store") unless the handler set one.  Returns 0 or
 * -1.
 */
int scepd_reply_header(struct scepd_request *req, const char *name, const char *value);

/*
 * Sends status with body (len bytes, copied) as content_type, with a
 * Content-Length (never chunked: several SCEP clients cannot read
 * chunked replies) and no body for HEAD.  The second and later replies
 * of one request are ignored.
 */
void scepd_reply_send(struct scepd_request *req, int status, const char *content_type,
                      const void *body, size_t len);

/* Sends text as a one-line text/plain reply (a newline is added). */
void scepd_reply_text(struct scepd_request *req, int status, const char *text);

/* Refuses the request: a one-line text/plain reply with reason, which
 * the log line also shows (outcome=error). */
void scepd_reply_refuse(struct scepd_request *req, int status, const char *reason);

/* Records reason as the refusal the log line shows (outcome=error),
 * for a handler that sends its own body (the admin API's problems). */
void scepd_request_note_refusal(struct scepd_request *req, const char *reason);

/* Records who the request authenticated as ("api:NAME role=operator"),
 * for the log line's principal field (copied, cut to fit). */
void scepd_request_note_principal(struct scepd_request *req, const char *who);

/*
 * Defers req's reply: called by a handler, before it has replied, that
 * will reply after it returns.  Returns the handle through which the
 * request is reached again (owned by the request: it lives until
 * scepd_deferred_done() or until the abort callback returns), the same
 * handle when called again, or NULL when the reply cannot be deferred
 * (already replied, called outside the handler, or the connection is not
 * one the worker's accounting can watch for a close): the handler must
 * then reply before it returns, as without deferral.
 * Everything below runs on the worker's thread that ran the handler.
 */
struct scepd_deferred *scepd_request_defer(struct scepd_request *req);

/* The request of d, to reply through scepd_reply_*().  Borrowed. */
struct scepd_request *scepd_deferred_request(struct scepd_deferred *d);

/*
 * Sets the callback run if the connection closes before the reply (the
 * client hung up, or scepd closes it at the end of a shutdown): cb
 * (arg) must cancel whatever would reply later (scepd_fetch_cancel) and
 * drop d, which is freed when cb returns; it must not reply or call
 * scepd_deferred_done().  Setting it again replaces it.
 */
void scepd_deferred_on_abort(struct scepd_deferred *d, void (*cb)(void *arg), void *arg);

/*
 * Ends a deferred request after its reply (a 500 is sent if there was
 * none): writes the request's log line and frees the context, d and
 * the request with it; the abort callback no longer runs.  Call it
 * right after replying.  Also allowed inside the handler that deferred.
 */
void scepd_deferred_done(struct scepd_deferred *d);

#endif
