/* The housekeeping job (housekeep.h): purging spent one-time challenges
 * and decided requests, and revoking superseded certificates where a
 * profile asks for it. */
#include "housekeep.h"

#include <stdio.h>
#include <stdlib.h>

#include <scep/error.h>

#include "scepd.h"
#include "admin/admin.h"
#include "config/config.h"
#include "store/store.h"

struct scepd_housekeep {
    struct scep_store *st;
    const struct scep_config *cfg; /* borrowed: the profiles' revoke_superseded_after_days */
};

int scepd_housekeep_new(const struct scep_config *cfg, struct scepd_housekeep **out)
{
    struct scepd_housekeep *h = calloc(1, sizeof(*h));
    char why[256];

    if (h == NULL) {
        scepd_log(SCEPD_ERROR, "housekeeping: out of memory", NULL);
        return -1;
    }
    if (scep_store_open(cfg->database, &h->st, why, sizeof(why)) != 0) {
        scepd_log(SCEPD_ERROR, "housekeeping: cannot open the store", "error", why, NULL);
        free(h);
        return -1;
    }
    h->cfg = cfg;
    *out = h;
    return 0;
}

/*
 * Revokes what profile p superseded more than its
 * revoke_superseded_after_days ago (scep_admin_revoke_superseded, one
 * audited revocation each), logging the count.  A failure is logged and
 * left for the next round.
 */
static void revoke_superseded(struct scepd_housekeep *h, const struct scep_config_profile *p,
                              int64_t now)
{
    const char *name = p->name != NULL ? p->name : "";
    char count[24];
    int64_t n = 0;
    int rc;

    if (p->revoke_superseded_after_days <= 0)
        return;
    rc = scep_admin_revoke_superseded(
        h->st, name, now - (int64_t)p->revoke_superseded_after_days * 86400, "scepd", now, &n);
    snprintf(count, sizeof(count), "%lld", (long long)n);
    if (rc != 0)
        scepd_log(SCEPD_WARN, "housekeeping: cannot revoke superseded certificates", "profile",
                  name[0] != '\0' ? name : "default", "revoked", count, "error", scep_strerror(rc),
                  NULL);
    else if (n > 0)
        scepd_log(SCEPD_INFO, "superseded-revoked", "profile", name[0] != '\0' ? name : "default",
                  "count", count, NULL);
}

/* Deletes the decided requests older than purge_decided_after_days, so
 * that their CSRs do not stay forever; logs the count.  A failure is
 * logged and left for the next round. */
static void purge_requests(struct scepd_housekeep *h, int64_t now)
{
    char count[24];
    int64_t n = 0;
    int rc;

    if (h->cfg->purge_decided_after_days <= 0)
        return;
    rc = scep_admin_request_purge(h->st, "scepd", h->cfg->purge_decided_after_days, now, &n);
    snprintf(count, sizeof(count), "%lld", (long long)n);
    if (rc != 0)
        scepd_log(SCEPD_WARN, "housekeeping: cannot purge decided requests", "error",
                  scep_strerror(rc), NULL);
    else if (n > 0)
        scepd_log(SCEPD_INFO, "requests-purged", "count", count, NULL);
}

int64_t scepd_housekeep_run(struct scepd_housekeep *h, int64_t now)
{
    char count[24];
    int64_t purged = 0;
    int rc;

    revoke_superseded(h, &h->cfg->enroll, now);
    for (size_t i = 0; i < h->cfg->nprofiles; i++)
        revoke_superseded(h, &h->cfg->profiles[i], now);
    purge_requests(h, now);
    rc = scep_admin_challenge_purge(h->st, "scepd", now - SCEPD_CHALLENGE_GRACE_SECONDS, &purged);
    if (rc != 0) {
        scepd_log(SCEPD_WARN, "housekeeping: cannot purge challenges", "error", scep_strerror(rc),
                  NULL);
        return -1;
    }
    if (purged > 0) {
        snprintf(count, sizeof(count), "%lld", (long long)purged);
        scepd_log(SCEPD_INFO, "challenges-purged", "count", count, NULL);
    }
    return purged;
}

void scepd_housekeep_free(struct scepd_housekeep *h)
{
    if (h == NULL)
        return;
    scep_store_close(h->st);
    free(h);
}
