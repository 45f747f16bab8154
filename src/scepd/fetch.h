/*
 * scepd's asynchronous HTTP POST client, one struct scepd_fetcher per
 * worker on the worker's event base: libcurl's multi interface driven by
 * libevent (libcurl says which sockets to watch and when its timer is
 * due; libevent tells it when they are ready), so that a webhook that
 * takes seconds to answer holds up nothing else on the worker.  Name
 * resolution goes through libcurl's threaded resolver, so it does not
 * block the loop either.
 *
 * Limits: the answer is read up to SCEP_WEBHOOK_MAX_RESPONSE bytes (the
 * transfer is aborted beyond, and fails), each transfer has one overall
 * deadline, redirects are not followed and only http and https are
 * spoken.  Failures are worded by scep_webhook_transport_error()
 * (lib/policy/webhook.h), as scep_webhook_verdict() expects.
 *
 * Everything runs on the thread of the base.  curl_global_init() must
 * have run before scepd_fetcher_new() (server.c does it at startup,
 * before any thread: it is not thread-safe).
 */
#ifndef SCEPD_FETCH_H
#define SCEPD_FETCH_H

#include <stddef.h>

struct event_base;
struct scepd_fetcher; /* opaque, one per worker */
struct scepd_fetch;   /* opaque, one transfer */

/*
 * The end of a transfer: http_status and the answer's body (resp,
 * resp_len bytes, borrowed for the call; NULL when empty), or
 * http_status 0 and transport_error ("timed out after 2000 ms",
 * "connection refused", "answer over 65536 bytes", ...) when there is
 * no usable answer.  Runs on the base's thread, once per transfer; the
 * transfer's handle is invalid from the moment it is called.
 */
typedef void (*scepd_fetch_cb)(int http_status, const unsigned char *resp, size_t resp_len,
                               const char *transport_error, void *arg);

/* Makes a fetcher on base (borrowed; must outlive it).  Returns it
 * (scepd_fetcher_free()), or NULL when out of memory. */
struct scepd_fetcher *scepd_fetcher_new(struct event_base *base);

/*
 * Frees f and cancels its transfers still in flight WITHOUT calling
 * their callbacks: on a worker, the owners of those transfers are
 * deferred requests, which evhttp_free() has aborted just before (and
 * whose abort callbacks cancelled them), so nothing is left to tell.  A
 * caller with transfers of its own cancels or finishes them first.  Not
 * from inside a callback.  Accepts NULL.
 */
void scepd_fetcher_free(struct scepd_fetcher *f);

/*
 * Starts POSTing body (len bytes, copied) to url (http or https only),
 * with the extra headers (each "Name: value", NULL-ended list; may be
 * NULL; copied), within timeout_ms (> 0) for the whole exchange.  cb(...,
 * arg) runs later on the base's thread, never from inside this call.
 * Returns 0 and, when handle_out is not NULL, *handle_out for
 * scepd_fetch_cancel() (valid until cb runs or it is cancelled); or -1
 * (bad arguments, out of memory, libcurl refusing the options), and cb
 * is never called.
 */
int scepd_fetch_post(struct scepd_fetcher *f, const char *url, const char *const *headers,
                     const char *body, size_t len, long timeout_ms, scepd_fetch_cb cb, void *arg,
                     struct scepd_fetch **handle_out);

/* Stops a transfer in flight and frees it; its callback is then never
 * called.  Accepts NULL. */
void scepd_fetch_cancel(struct scepd_fetch *h);

/* Transfers in flight on f. */
size_t scepd_fetcher_pending(const struct scepd_fetcher *f);

#endif
