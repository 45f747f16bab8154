/*
 * scepd's gauges: the /metrics values that describe the CA and its
 * certificates rather than this process's requests.  They are not read
 * from the store at scrape time (a scrape must stay cheap and must not
 * need a worker's store connection); the background jobs that already
 * look set them as they go, and a scrape renders the last values:
 *   - the CRL publisher (crlpub.c, every SCEPD_CRLPUB_SECONDS): each CA's
 *     notAfter and the nextUpdate of the CRL it last wrote for that CA;
 *   - the notify thread (notify.c, every notify_interval_seconds):
 *     certificates by status, those expiring within 30 days, notices not
 *     delivered yet, and the time of that count.
 * So a gauge is at most one interval old.  One mutex guards the lot:
 * every writer and reader holds it for a copy of a few hundred bytes.
 */
#ifndef SCEPD_GAUGES_H
#define SCEPD_GAUGES_H

#include <stdint.h>

struct evbuffer;
struct scepd_gauges; /* opaque */

/* CAs the gauges keep (current and archived); more are left out. */
#define SCEPD_GAUGES_MAX_CAS 16
/* The window of scepd_certificates_expiring, in seconds (30 days). */
#define SCEPD_GAUGES_EXPIRING_WITHIN (30 * 86400)

/* The store's part, as the notify thread counted it. */
struct scepd_gauge_counts {
    int64_t valid, revoked, expired;
    int64_t expiring;   /* within SCEPD_GAUGES_EXPIRING_WITHIN */
    int64_t pending;    /* due notices not delivered at the end of the last round */
    int64_t counted_at; /* Unix time of the count */
};

/* Makes an empty set.  Returns 0 or -1 (no memory); *out:
 * scepd_gauges_free(). */
int scepd_gauges_new(struct scepd_gauges **out);
void scepd_gauges_free(struct scepd_gauges *g);

/* Starts a CA round: CAs not set again before scepd_gauges_ca_end() are
 * dropped (an archived CA whose files went away). */
void scepd_gauges_ca_begin(struct scepd_gauges *g);
/* Sets CA key_id's notAfter and its CRL's nextUpdate (0: none made). */
void scepd_gauges_ca_set(struct scepd_gauges *g, const char *key_id, int64_t not_after,
                         int64_t crl_next_update);
void scepd_gauges_ca_end(struct scepd_gauges *g);

/* The nextUpdate of the CRL last published for CA key_id (hex, as
 * scep_ca_key_id_hex gives it) into *out.  Returns 0, or -1 when none
 * is known yet (the publisher has not run, or the CA is not kept). */
int scepd_gauges_crl_next_update(struct scepd_gauges *g, const char *key_id, int64_t *out);

/* Replaces the store's part. */
void scepd_gauges_counts_set(struct scepd_gauges *g, const struct scepd_gauge_counts *c);

/* Appends the gauge families (Prometheus text 0.0.4) to out; families
 * with nothing known yet are written with their HELP and TYPE only.
 * Returns 0 or -1 when out cannot grow.  g may be NULL: nothing. */
int scepd_gauges_render(struct scepd_gauges *g, struct evbuffer *out);

#endif
