/*
 * Webhook verification of enrollments (issue 7): before a profile that
 * names a webhook URL issues a certificate, scepd POSTs a JSON document
 * describing the request and issues only when the hook answers 2xx with
 * {"allow": true}.  Everything else denies (fail-closed), with a text
 * saying why.
 *
 * This file is the pure core: it builds the body, signs it and turns
 * the HTTP exchange into a verdict, with no I/O, so that any transport
 * can drive it: scepd's asynchronous fetcher on the worker's event loop
 * (src/scepd/fetch.h), or scep_webhook_post_blocking() (webhook_http.c)
 * for callers without an event loop (tests, tools).
 */
#ifndef SCEP_POLICY_WEBHOOK_H
#define SCEP_POLICY_WEBHOOK_H

#include <stdatomic.h>
#include <stddef.h>

/* SCEP_WEBHOOK_MAX_RESPONSE, SCEP_WEBHOOK_MAX_REASON: with the other
 * hard limits. */
#include "common/server_limits.h"

/* "sha256=" + 64 hex digits + NUL. */
#define SCEP_WEBHOOK_SIG_SIZE (7 + 64 + 1)
/* The header that carries scep_webhook_sign()'s value. */
#define SCEP_WEBHOOK_SIG_HEADER "X-Scepd-Signature"

/* What the webhook is told about one enrollment.  All borrowed. */
struct scep_webhook_input {
    const char *profile;        /* "" for the default profile */
    const char *transaction_id; /* NULL: "" */
    const char *challenge;      /* the CSR's challengePassword (UTF-8), NULL: none (JSON null) */
    const char *subject;        /* RFC 2253 */
    const char *const *sans;    /* "DNS:a.example", ...; nsans of them */
    size_t nsans;
    const char *key_type;  /* "RSA", "EC" */
    int key_bits;          /* RSA modulus bits / EC field bits */
    const char *key_curve; /* "P-256", or NULL (JSON null) */
    const char *requester; /* peer address */
    const char *msg_type;  /* "PKCSReq", "RenewalReq" */
};

/*
 * Builds the JSON body POSTed to the webhook: one compact object with
 * profile, transaction_id, challenge, subject, sans (array), key
 * {type, bits, curve}, requester, message_type and time (Unix seconds).
 * NULL strings become "" except challenge and key.curve, which become
 * null.  Returns 0 with *body (NUL-terminated, *len bytes without the
 * NUL; free() it), or a negative SCEP_ERR_* (invalid input: a string
 * that is not UTF-8; out of memory).
 */
int scep_webhook_body(const struct scep_webhook_input *in, char **body, size_t *len);

/*
 * Writes "sha256=" and the lowercase hex HMAC-SHA256 of body (len
 * bytes) under secret into out (outlen >= SCEP_WEBHOOK_SIG_SIZE), the
 * value of the X-Scepd-Signature header.  Returns 0 or a negative
 * SCEP_ERR_*; out is "" on failure.
 */
int scep_webhook_sign(const unsigned char *secret, size_t secret_len, const char *body, size_t len,
                      char *out, size_t outlen);

/*
 * The verdict of one HTTP exchange with the webhook.  http_status 0
 * means no HTTP answer, and transport_error (may be NULL) says why, as
 * the transports word it ("timed out after 2000 ms", "connection
 * refused").  body (len bytes, untrusted, not NUL-terminated) is the
 * answer's body.  Returns 1 to allow (2xx and {"allow": true}), 0 to
 * deny with why (whylen bytes, always NUL-terminated) filled:
 *   "webhook denied"
 *   "webhook denied: <the answer's \"reason\" string, sanitized, cut>"
 *   "webhook answered HTTP 500"
 *   "webhook answer is not JSON {\"allow\": bool}"
 *   "webhook unreachable: connection refused"
 *   "webhook timed out after 2000 ms"
 * Bodies over SCEP_WEBHOOK_MAX_RESPONSE and duplicate keys are refused
 * as not JSON.  Never fails otherwise.
 */
int scep_webhook_verdict(int http_status, const unsigned char *body, size_t len,
                         const char *transport_error, char *why, size_t whylen);

/*
 * Words a failed libcurl transfer for scep_webhook_verdict():
 * curl_code is the transfer's CURLcode, os_errno its CURLINFO_OS_ERRNO,
 * timeout_ms the limit it was given, too_long nonzero when the answer
 * was cut at SCEP_WEBHOOK_MAX_RESPONSE.  Writes e.g. "timed out after
 * 2000 ms", "connection refused", "answer over 65536 bytes" into err
 * (errlen bytes).  Shared by both transports (webhook_http.c, scepd's
 * fetch.c) so that a denial reads the same whichever sent the request.
 */
void scep_webhook_transport_error(int curl_code, long os_errno, long timeout_ms, int too_long,
                                  char *err, size_t errlen);

/*
 * Blocking transport (webhook_http.c) for callers without an event loop:
 * POSTs body (len bytes) to url (http or https only, no redirects
 * followed) with Content-Type: application/json and, when signature is
 * not NULL, X-Scepd-Signature: signature; the whole exchange is bounded
 * by timeout_ms.  Returns 0 with *status the HTTP status and *resp
 * (free(); NULL when the body is empty) / *resp_len the answer, capped
 * at SCEP_WEBHOOK_MAX_RESPONSE; or 0 with *status = 0 and err filled
 * when there was no usable answer (timeout, connection error, answer
 * too long), in the words scep_webhook_verdict() expects; or a negative
 * SCEP_ERR_* for bad arguments or no memory.  Thread-safe once
 * curl_global_init() has run (it runs here first, which is not
 * thread-safe: multi-threaded programs call it at startup).
 */
int scep_webhook_post_blocking(const char *url, const char *body, size_t len, const char *signature,
                               long timeout_ms, int *status, unsigned char **resp, size_t *resp_len,
                               char *err, size_t errlen);

/*
 * scep_webhook_post_blocking, ended within about a second once *stop
 * (may be NULL: never) is set, with *status 0 and err "stopped (scepd is
 * shutting down)": for a thread whose program is stopping (scepd's
 * notify thread), so that a hung receiver does not hold up the exit.
 */
int scep_webhook_post_stoppable(const char *url, const char *body, size_t len,
                                const char *signature, long timeout_ms, const atomic_int *stop,
                                int *status, unsigned char **resp, size_t *resp_len, char *err,
                                size_t errlen);

#endif
