/*
 * One scepd worker thread: its own event loop, store connection, SCEP
 * service, connection accounting (conn.h) and an evhttp per listener
 * (http.h), so that the hot path takes no lock.  Its state is its own:
 * other threads only ask it to do things (stop, stop now, swap the CA),
 * which it does on its own thread.  server.c makes the workers, starts
 * them and waits for them.
 */
#ifndef SCEPD_WORKER_H
#define SCEPD_WORKER_H

struct scep_ca;
struct scep_ocsp_signers;
struct scepd_listener;
struct scepd_metrics;
struct scepd_server;
struct scepd_worker; /* opaque */

/* Called on the worker's thread once its loop has ended. */
typedef void scepd_worker_exit_fn(void *arg);

/*
 * Makes worker id: opens the store and the service over ca (a reference
 * is taken) and serves each of the n listeners (borrowed, as is srv:
 * both must outlive the worker).  on_exit(arg) runs when its loop ends.
 * Returns 0, or -1 after logging why; *out: scepd_worker_free().
 */
int scepd_worker_new(int id, const struct scepd_server *srv, struct scep_ca *ca,
                     struct scep_ocsp_signers *signers, struct scepd_listener *const *listeners,
                     int n, scepd_worker_exit_fn *on_exit, void *arg, struct scepd_worker **out);

/* Starts the worker's thread (with the caller's signal mask).  Returns 0
 * or -1. */
int scepd_worker_start(struct scepd_worker *w);

/* From any thread: stop accepting and leave once every open connection
 * is done, or after the longer of read_timeout and write_timeout. */
void scepd_worker_stop(struct scepd_worker *w);

/* From any thread: leave now, closing what is open. */
void scepd_worker_stop_now(struct scepd_worker *w);

/* From any thread: swap, on the worker's thread, the service's CA to ca
 * (NULL: keep it) and its OCSP signers to signers (NULL: each CA signs;
 * scep_service_set_ocsp_signers), in one step so that an answer never
 * sees a new CA with the old responders.  References are taken.
 * Returns 0 or -1. */
int scepd_worker_swap(struct scepd_worker *w, struct scep_ca *ca,
                      struct scep_ocsp_signers *signers);

/* The worker's counters, for /metrics (written only by the worker). */
struct scepd_metrics *scepd_worker_metrics(struct scepd_worker *w);

/* Waits for a started thread to end; nothing if it was never started. */
void scepd_worker_join(struct scepd_worker *w);

/* Frees w, closing its connections; after scepd_worker_join.  Accepts
 * NULL. */
void scepd_worker_free(struct scepd_worker *w);

#endif
