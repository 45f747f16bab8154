/*
 * scepd's expiry notifications (issue 8): a thread of its own that,
 * every notify_interval_seconds, runs one round of the core
 * (scep_admin_notify_run, lib/admin/notify.h) with libcurl's blocking
 * transports (the signed webhook POST, the SMTP digest) and then counts
 * the certificates for the /metrics gauges (gauges.h).
 *
 * Why a thread and not the main thread's event loop, where crlpub.c and
 * housekeep.c run: a round blocks on the network (a webhook or an SMTP
 * server may take up to its timeout, several times per round), and the
 * main loop must stay free for signals and CA rollover.  A thread with
 * its own store connection (a connection is one thread's: store.h) can
 * block without holding up anything, and the core stays a plain
 * function of (store, now) that unit tests drive with fakes.  Stopping
 * is bounded: the stop flag ends the sleep at once, is checked between
 * sends, and aborts a transfer in progress within about a second
 * (libcurl's progress callback); claims made in the round that stopped
 * are recorded due at once, so the next start sends them.
 */
#ifndef SCEPD_NOTIFY_H
#define SCEPD_NOTIFY_H

struct scep_config;
struct scepd_gauges;
struct scepd_notify; /* opaque */

/*
 * Makes the job for cfg (borrowed; must outlive it): opens its store
 * connection and names this process as a claimer ("host:pid:random");
 * each round counts the certificates into g (borrowed; may be NULL).
 * Returns 0, or -1 after logging why; *out: scepd_notify_free().
 */
int scepd_notify_new(const struct scep_config *cfg, struct scepd_gauges *g,
                     struct scepd_notify **out);

/* Starts the thread (its first round, and so the first count, at once).
 * 0, or -1 after logging. */
int scepd_notify_start(struct scepd_notify *n);

/* Asks the thread to stop: it wakes, finishes or aborts the send under
 * way and leaves.  Returns at once; scepd_notify_free() waits.  NULL ok. */
void scepd_notify_stop(struct scepd_notify *n);

/* Stops and joins the thread if it runs, closes the store, frees n.
 * Accepts NULL. */
void scepd_notify_free(struct scepd_notify *n);

#endif
