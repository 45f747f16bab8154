/*
 * Revoking superseded certificates: a profile with
 * revoke_superseded_after_days set wants a renewed device's old
 * certificate off the air once the grace period after its renewal has
 * passed (the device had that long to switch to the new one).  scepd's
 * housekeeping job calls this for each such profile; the store marked
 * the old certificate superseded in the renewal's own transaction, so
 * what is found here is exactly what was renewed.  Each revocation is
 * its own transaction with its own "revoke" audit event, as an
 * administrator's would be.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <scep/error.h>

#include "admin/admin.h"

/* CRLReason superseded (RFC 5280 5.3.1). */
#define REASON_SUPERSEDED 4

/* Certificates collected per listing before they are revoked: the
 * listing is not held open while the revocations write. */
#define SUPERSEDE_BATCH 256

/* One certificate to revoke: what its audit event names. */
struct victim {
    char serial[SCEP_ADMIN_SERIAL_MAX + 1];
    char successor[SCEP_ADMIN_SERIAL_MAX + 1];
    char *subject; /* owned */
};

struct batch {
    struct victim v[SUPERSEDE_BATCH];
    size_t n;
};

static int collect(const struct scep_cert_info *ci, void *arg)
{
    struct batch *b = arg;
    struct victim *v;

    if (b->n == SUPERSEDE_BATCH)
        return 1; /* the listing's limit makes this unreachable */
    v = &b->v[b->n];
    snprintf(v->serial, sizeof(v->serial), "%s", ci->serial);
    snprintf(v->successor, sizeof(v->successor), "%s",
             ci->superseded_by != NULL ? ci->superseded_by : "");
    v->subject = strdup(ci->subject != NULL ? ci->subject : "");
    if (v->subject == NULL)
        return SCEP_ERR_NOMEM;
    b->n++;
    return 0;
}

static void batch_clear(struct batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->v[i].subject);
    b->n = 0;
}

int scep_admin_revoke_superseded(struct scep_store *st, const char *profile, int64_t older_than,
                                 const char *actor, int64_t now, int64_t *count)
{
    struct scep_cert_filter f;
    struct scep_audit_event ev;
    struct batch *b = NULL;
    char detail[1400];
    int64_t done = 0;
    size_t i, revoked;
    int rc = SCEP_ERR_INVALID_ARG;

    if (count != NULL)
        *count = 0;
    if (st == NULL || profile == NULL || actor == NULL || older_than <= 0)
        return SCEP_ERR_INVALID_ARG;
    b = calloc(1, sizeof(*b));
    if (b == NULL)
        return SCEP_ERR_NOMEM;
    memset(&f, 0, sizeof(f));
    f.status = SCEP_CERT_VALID;
    f.include_expired = 0; /* an expired one is off every CRL anyway */
    f.profile = profile;
    f.superseded_before = older_than;
    f.sources = SCEP_CERT_SRC_SCEP;
    f.limit = SUPERSEDE_BATCH;
    /* Every pass revokes what it found (or finds it revoked by someone
     * else), so it drops out of the next pass's listing: the loop ends
     * when a pass finds nothing. */
    for (;;) {
        rc = scep_store_list_certs(st, &f, collect, b);
        if (rc != 0)
            goto out;
        if (b->n == 0)
            break;
        revoked = 0;
        for (i = 0; i < b->n; i++) {
            snprintf(detail, sizeof(detail), "reason=superseded superseded_by=%s subject=\"%s\"",
                     b->v[i].successor, b->v[i].subject);
            memset(&ev, 0, sizeof(ev));
            ev.time = now;
            ev.kind = "revoke";
            ev.actor = actor;
            ev.serial = b->v[i].serial;
            ev.detail = detail;
            rc = scep_store_revoke(st, b->v[i].serial, REASON_SUPERSEDED, now, &ev);
            if (rc == SCEP_ERR_EXISTS)
                continue; /* revoked meanwhile: nothing left to do */
            if (rc != 0)
                goto out;
            done++;
            revoked++;
        }
        batch_clear(b);
        /* A pass that found only certificates revoked meanwhile cannot
         * find them again; stopping there also bounds the loop should a
         * backend ever list a row it refuses to revoke.  Anything left
         * is for the next round. */
        if (revoked == 0)
            break;
    }
    rc = 0;
out:
    if (count != NULL)
        *count = done;
    if (b != NULL)
        batch_clear(b);
    free(b);
    return rc;
}
