/*
 * scepd's rate limits: the two token-bucket tables a process shares
 * across its workers (lib/policy/ratelimit.h), one keyed by the client's
 * address and one by the challenge a request presents.  Made once at
 * start-up from the configuration, read by every worker through
 * struct scepd_server / struct scepd_app (the tables lock themselves).
 * Handlers ask here before any private-key work, so a refused request
 * costs the CA nothing (scepd_ca_private_key_operations_total shows it).
 */
#ifndef SCEPD_LIMITS_H
#define SCEPD_LIMITS_H

#include <stddef.h>

struct scep_ratelimit;

struct scepd_limits; /* opaque; thread-safe */

/*
 * Makes the limits: addr_rate requests a minute per client address
 * with bursts of addr_burst, chal_rate / chal_burst per challenge.  A
 * rate <= 0 turns that limit off; a rate > 0 needs a burst >= 1.
 * Returns 0, SCEP_ERR_INVALID_ARG or SCEP_ERR_NOMEM.  *out (also made
 * with both limits off, so callers need not test): free with
 * scepd_limits_free().
 */
int scepd_limits_new(double addr_rate, int addr_burst, double chal_rate, int chal_burst,
                     struct scepd_limits **out);

/* Frees l.  Accepts NULL. */
void scepd_limits_free(struct scepd_limits *l);

/*
 * Takes a token for the client at peer (as scepd_request_peer() gives
 * it; a ":PORT" or "[V6]:PORT" form is accepted too).  Every connection
 * from one host shares a bucket whatever its port; an IPv4-mapped IPv6
 * address counts as its IPv4 address, and IPv6 addresses share one
 * bucket per /64, the smallest block a site is given, since a host can
 * pick any address within it.  Returns 1 when allowed (also when l or
 * the address limit is NULL/off, or peer is empty); 0 when over the
 * limit, with *retry_after (may be NULL) set to the seconds to wait.
 */
int scepd_limits_check_address(struct scepd_limits *l, const char *peer, long *retry_after);

/*
 * Adds the admin API's limit on failed authentications: rate a minute
 * per client address (keyed as scepd_limits_check_address), bursts of
 * burst; rate <= 0 leaves it off.  Call once, before the workers start.
 * Returns 0, SCEP_ERR_INVALID_ARG or SCEP_ERR_NOMEM.
 *
 * The bucket counts failures, not requests: scepd_limits_auth_failed
 * takes a token for each failed authentication, and
 * scepd_limits_auth_allowed, asked before a credential is even looked
 * at, says whether a token is left.  So a client that authenticates is
 * never slowed, and one guessing tokens is refused (429) before its
 * guesses are tried once its failures use the burst up.  Both return 1
 * (allowed; also when the limit is off) or 0 with *retry_after (may be
 * NULL) the seconds to wait.
 */
int scepd_limits_set_auth(struct scepd_limits *l, double rate, int burst);
int scepd_limits_auth_allowed(struct scepd_limits *l, const char *peer, long *retry_after);
int scepd_limits_auth_failed(struct scepd_limits *l, const char *peer, long *retry_after);

/*
 * The per-challenge table (NULL when that limit is off), for the SCEP
 * service: only it reads the challenge, inside the decrypted envelope,
 * and takes a token keyed by the challenge's SHA-256 there
 * (lib/service/authz.c), before anything is checked or signed.
 * Borrowed: lives as long as l.
 */
struct scep_ratelimit *scepd_limits_challenge(const struct scepd_limits *l);

/*
 * The address key peer is counted under (see
 * scepd_limits_check_address()) into out (outlen bytes, at least 48
 * for every IPv6 form).  Returns 0, or -1 when peer is empty or out is
 * too small.  Exposed for tests and logs.
 */
int scepd_limits_address_key(const char *peer, char *out, size_t outlen);

#endif
