/*
 * scepd's housekeeping: a background job on the main thread that, once
 * an hour, deletes the one-time challenges that can admit nobody any
 * more (scep_admin_challenge_purge: expired a day ago or more, or
 * revoked), so that minting a challenge per device does not grow the
 * database for ever.  The day of grace keeps a just-expired challenge
 * long enough for the transaction that used it to be retried.  In the
 * same round, for every profile with revoke_superseded_after_days set,
 * it revokes (reason superseded, scep_admin_revoke_superseded) the
 * renewed certificates whose renewal is older than that.  It has its
 * own store connection.
 */
#ifndef SCEPD_HOUSEKEEP_H
#define SCEPD_HOUSEKEEP_H

#include <stdint.h>

struct scep_config;
struct scepd_housekeep; /* opaque */

/* How often the job runs, in seconds. */
#define SCEPD_HOUSEKEEP_SECONDS 3600

/* How long an expired challenge is kept before it is purged, seconds. */
#define SCEPD_CHALLENGE_GRACE_SECONDS 86400

/*
 * Opens the job's store connection for cfg (borrowed; must outlive it).
 * Returns 0, or -1 after logging why; *out: scepd_housekeep_free().
 */
int scepd_housekeep_new(const struct scep_config *cfg, struct scepd_housekeep **out);

/*
 * One round at wall-clock time now: revokes the superseded certificates
 * that are due and purges the challenges that are (logging each count
 * when there was any).  Returns the number of challenges purged, or
 * -1 after logging the failure (retried at the next round).
 */
int64_t scepd_housekeep_run(struct scepd_housekeep *h, int64_t now);

/* Closes the store and frees h.  Accepts NULL. */
void scepd_housekeep_free(struct scepd_housekeep *h);

#endif
