/*
 * scepd's CRL publisher: a background job on the main thread that keeps
 * a current CRL of every CA scepd knows (current and archived) in
 * STATE_DIR/crl/, for a web server or a copy job to publish elsewhere.
 * Every few seconds it asks the core whether what a CA's CRL would list
 * has changed (scep_admin_crl_digest: one read, no signature) and makes
 * a new CRL (the one CRL builder, a new crlNumber) when it has, when the
 * last one is half-way to its nextUpdate, or when none was made yet; so
 * a revocation by scepctl is published within seconds and a CRL never
 * lapses while scepd runs.  Files are replaced atomically.  It has its
 * own store connection; the workers' /crl answers are theirs
 * (lib/service/status.c).
 */
#ifndef SCEPD_CRLPUB_H
#define SCEPD_CRLPUB_H

struct scep_ca;
struct scep_config;
struct scepd_gauges;
struct scepd_crlpub; /* opaque */

/* How often the publisher looks for changes, in seconds. */
#define SCEPD_CRLPUB_SECONDS 5

/*
 * Makes a publisher for cfg (borrowed; must outlive it): opens its store
 * connection and makes STATE_DIR/crl (0755).  Each round also tells g
 * (borrowed, may be NULL; gauges.h) every CA's notAfter and the
 * nextUpdate of the CRL last written for it.  Returns 0, or -1 after
 * logging why; *out: scepd_crlpub_free().
 */
int scepd_crlpub_new(const struct scep_config *cfg, struct scepd_gauges *g,
                     struct scepd_crlpub **out);

/*
 * One round over ca's CAs: writes STATE_DIR/crl/<key id>.crl (DER) for
 * each CA whose CRL is due (see above), and STATE_DIR/crl/current.crl
 * for the current CA, logging each.  A failure is logged and retried at
 * the next round.  Returns the number of CRLs written, or -1 when one
 * failed.
 */
int scepd_crlpub_run(struct scepd_crlpub *p, const struct scep_ca *ca);

/* Closes the store and frees p.  Accepts NULL. */
void scepd_crlpub_free(struct scepd_crlpub *p);

#endif
