/*
 * One certificate's history: the audit events that name its serial
 * (issue, revoke, unhold, import, ...), for the admin API's certificate
 * details and the console's history view.  The events are copied out
 * of the walk into a ring of the newest SCEP_ADMIN_CERT_EVENTS_MAX and
 * handed to the caller after it, so the caller may call back into the
 * store.
 */
#include <stdlib.h>
#include <string.h>

#include <scep/error.h>

#include "admin/admin.h"

/* An owned copy of an audit event. */
struct ev_copy {
    int64_t id, time;
    char *kind, *actor, *transaction_id, *peer, *serial, *detail, *hash;
};

struct ev_walk {
    const char *serial;
    struct ev_copy ring[SCEP_ADMIN_CERT_EVENTS_MAX];
    size_t n, next; /* kept, and the slot the next one goes into */
};

static void ev_clear(struct ev_copy *e)
{
    free(e->kind);
    free(e->actor);
    free(e->transaction_id);
    free(e->peer);
    free(e->serial);
    free(e->detail);
    free(e->hash);
    memset(e, 0, sizeof(*e));
}

/* strdup that keeps NULL; sets *bad on ENOMEM. */
static char *dup_or_null(const char *s, int *bad)
{
    char *d;

    if (s == NULL)
        return NULL;
    d = strdup(s);
    if (d == NULL)
        *bad = 1;
    return d;
}

static int ev_one(const struct scep_audit_event *ev, void *arg)
{
    struct ev_walk *w = arg;
    struct ev_copy *e;
    int bad = 0;

    if (ev->serial == NULL || strcmp(ev->serial, w->serial) != 0)
        return 0;
    e = &w->ring[w->next];
    ev_clear(e);
    e->id = ev->id;
    e->time = ev->time;
    e->kind = dup_or_null(ev->kind, &bad);
    e->actor = dup_or_null(ev->actor, &bad);
    e->transaction_id = dup_or_null(ev->transaction_id, &bad);
    e->peer = dup_or_null(ev->peer, &bad);
    e->serial = dup_or_null(ev->serial, &bad);
    e->detail = dup_or_null(ev->detail, &bad);
    e->hash = dup_or_null(ev->hash, &bad);
    if (bad)
        return SCEP_ERR_NOMEM;
    w->next = (w->next + 1) % SCEP_ADMIN_CERT_EVENTS_MAX;
    if (w->n < SCEP_ADMIN_CERT_EVENTS_MAX)
        w->n++;
    return 0;
}

int scep_admin_cert_events(struct scep_store *st, const char *serial, scep_store_audit_cb cb,
                           void *arg)
{
    struct ev_walk *w;
    struct scep_audit_event ev;
    size_t i, first;
    int rc;

    if (st == NULL || serial == NULL || cb == NULL)
        return SCEP_ERR_INVALID_ARG;
    w = calloc(1, sizeof(*w));
    if (w == NULL)
        return SCEP_ERR_NOMEM;
    w->serial = serial;
    rc = scep_store_list_audit(st, 0, ev_one, w);
    if (rc != 0)
        goto out;
    first = w->n < SCEP_ADMIN_CERT_EVENTS_MAX ? 0 : w->next;
    for (i = 0; i < w->n; i++) {
        const struct ev_copy *e = &w->ring[(first + i) % SCEP_ADMIN_CERT_EVENTS_MAX];

        memset(&ev, 0, sizeof(ev));
        ev.id = e->id;
        ev.time = e->time;
        ev.kind = e->kind;
        ev.actor = e->actor;
        ev.transaction_id = e->transaction_id;
        ev.peer = e->peer;
        ev.serial = e->serial;
        ev.detail = e->detail;
        ev.hash = e->hash;
        rc = cb(&ev, arg);
        if (rc != 0)
            goto out;
    }
out:
    for (i = 0; i < SCEP_ADMIN_CERT_EVENTS_MAX; i++)
        ev_clear(&w->ring[i]);
    free(w);
    return rc;
}
