/*
 * scepd's process-wide connection budgets, which every worker's
 * connection accounting (conn.h) shares: how many connections each
 * client address holds open, across all workers, and how much memory
 * the requests still arriving hold, across all connections.  Per-worker
 * limits (max_connections) cannot stop one client that spreads its
 * connections over every worker, and a per-request limit
 * (SCEP_MAX_HEADERS) cannot stop many connections that each stay just
 * under it.
 *
 * Clients are keyed as the rate limits key them
 * (scepd_limits_address_key in limits.h: IPv4 host, IPv4-mapped IPv6 as
 * IPv4, IPv6 per /64).  The table holds an entry only while its client
 * has a connection open, so it is never larger than the connections
 * open.  Everything here locks itself and may be called from any
 * worker thread.
 */
#ifndef SCEPD_CONNLIMIT_H
#define SCEPD_CONNLIMIT_H

#include <stddef.h>

struct scepd_connlimit; /* opaque; thread-safe */

/* A client's key as scepd_connlimit_take() fills it (limits.h's key of
 * an IPv6 /64 is at most 46 + 3 bytes). */
#define SCEPD_CONNLIMIT_KEY 64

/*
 * Makes the budgets: at most per_client connections open at once from
 * one client (0: no limit), at most max_memory bytes held by requests
 * still arriving (0: no limit).  Returns 0 or -1 (no memory, or a
 * negative per_client); *out: scepd_connlimit_free().
 */
int scepd_connlimit_new(int per_client, size_t max_memory, struct scepd_connlimit **out);

/* Frees l.  Accepts NULL. */
void scepd_connlimit_free(struct scepd_connlimit *l);

/*
 * Counts a new connection from peer (as evhttp gives it: "1.2.3.4",
 * "::1"; a ":PORT" form is accepted too).  Returns 1 when it may stay
 * open, with key (SCEPD_CONNLIMIT_KEY bytes) set to what
 * scepd_connlimit_release() must be given when it closes ("" when it
 * was not counted: no limit, an address that cannot be keyed, or no
 * memory for an entry, in which case it is let through); 0 when peer
 * already holds per_client connections (nothing counted, key "").
 */
int scepd_connlimit_take(struct scepd_connlimit *l, const char *peer, char *key);

/* A connection counted under key has closed.  "" and NULL do nothing. */
void scepd_connlimit_release(struct scepd_connlimit *l, const char *key);

/* Connections counted for peer now (0 for an unknown or unkeyable
 * one), for tests. */
long scepd_connlimit_count(struct scepd_connlimit *l, const char *peer);

/* The per_client limit l was made with (0: none). */
int scepd_connlimit_per_client(const struct scepd_connlimit *l);

/*
 * Adds delta (negative: the memory was let go) to the bytes held by
 * requests still arriving.  Returns 1 when the total is then over
 * max_memory, else 0 (always 0 without a limit).
 */
int scepd_connlimit_hold(struct scepd_connlimit *l, long delta);

/* Bytes held now by requests still arriving, in all workers. */
size_t scepd_connlimit_held(struct scepd_connlimit *l);

/* The max_memory l was made with (0: none). */
size_t scepd_connlimit_max_memory(const struct scepd_connlimit *l);

/* Called, on any thread, when the held memory goes over max_memory;
 * must only wake its worker (libevent's event_active is safe). */
typedef void scepd_connlimit_over_fn(void *arg);

/*
 * Registers fn(arg) (one per worker, at most SCEP_MAX_WORKERS), to be
 * called when a worker's request takes the held memory over
 * max_memory, so that every worker sheds its share and not only the one
 * that saw it.  Call before the workers start; returns 0 or -1.
 */
int scepd_connlimit_watch(struct scepd_connlimit *l, scepd_connlimit_over_fn *fn, void *arg);

/* Removes what scepd_connlimit_watch(l, fn, arg) registered. */
void scepd_connlimit_unwatch(struct scepd_connlimit *l, scepd_connlimit_over_fn *fn, void *arg);

/* Calls every registered fn: the held memory is over max_memory. */
void scepd_connlimit_alarm(struct scepd_connlimit *l);

/* Workers registered with scepd_connlimit_watch(), at least 1. */
int scepd_connlimit_watchers(struct scepd_connlimit *l);

#endif
