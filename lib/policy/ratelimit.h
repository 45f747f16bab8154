/*
 * Token-bucket rate limits shared by every worker thread of a process:
 * one struct scep_ratelimit per kind of limit (the client address, the
 * challenge), each a bounded table of buckets keyed by a string.  scepd
 * asks before it does any private-key work for a request, so that a
 * flood of requests costs the CA a table look-up each, not an RSA
 * operation.
 *
 * A bucket holds up to burst tokens and refills continuously at
 * rate_per_minute (fractions of a token count); a request takes one.
 * The table never holds more than max_keys buckets and allocates all of
 * its memory when it is made, so a client spraying source addresses or
 * challenges cannot make it grow: a new key evicts a full bucket (which
 * is the same as no bucket) when one is among the least recently used,
 * else the least recently used bucket.
 *
 * Time is passed in (scep_ratelimit_now() in production) so that tests
 * can simulate it.  Every function is safe to call from several threads
 * at once.
 */
#ifndef SCEP_POLICY_RATELIMIT_H
#define SCEP_POLICY_RATELIMIT_H

#include <stddef.h>

/* Longest key kept verbatim (bytes); longer keys are kept as their
 * SHA-256 digest, so memory per bucket is fixed. */
#define SCEP_RATELIMIT_MAX_KEY 128
/* Most buckets one table may be asked to hold (about 200 bytes each,
 * allocated up front). */
#define SCEP_RATELIMIT_MAX_KEYS (1u << 20)

struct scep_ratelimit; /* opaque; thread-safe (one mutex) */

/*
 * Makes a table of at most max_keys (1..SCEP_RATELIMIT_MAX_KEYS) buckets
 * of burst (>= 1) tokens refilling at rate_per_minute (> 0, finite).
 * Returns 0, SCEP_ERR_INVALID_ARG or SCEP_ERR_NOMEM.  *out: free with
 * scep_ratelimit_free().
 */
int scep_ratelimit_new(double rate_per_minute, unsigned burst, size_t max_keys,
                       struct scep_ratelimit **out);

/* Frees rl and every bucket.  Accepts NULL. */
void scep_ratelimit_free(struct scep_ratelimit *rl);

/*
 * Takes one token from key's bucket (a new key starts full) at time now
 * (CLOCK_MONOTONIC seconds, see scep_ratelimit_now()).  Returns 1 when
 * allowed; 0 when over the limit, with *retry_after (may be NULL) set to
 * the whole seconds, rounded up and at least 1, until a token is there.
 * A NULL rl or key is allowed (no limit).  A now earlier than a bucket's
 * last use refills nothing (it never takes tokens away).
 */
int scep_ratelimit_take(struct scep_ratelimit *rl, const char *key, double now, long *retry_after);

/*
 * Whether scep_ratelimit_take would allow key at now, without taking a
 * token or making a bucket: for limits counted on failures (the admin
 * API's failed authentications), asked before the work that may fail.
 * Returns 1 or 0 (with *retry_after as for take).
 */
int scep_ratelimit_peek(struct scep_ratelimit *rl, const char *key, double now, long *retry_after);

/* Buckets held now (at most max_keys); for tests and diagnostics. */
size_t scep_ratelimit_count(struct scep_ratelimit *rl);

/* CLOCK_MONOTONIC in seconds. */
double scep_ratelimit_now(void);

#endif
