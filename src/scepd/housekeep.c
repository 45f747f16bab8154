/* The housekeeping job (housekeep.h): purging spent one-time challenges. */
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
    *out = h;
    return 0;
}

int64_t scepd_housekeep_run(struct scepd_housekeep *h, int64_t now)
{
    char count[24];
    int64_t purged = 0;
    int rc;

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
