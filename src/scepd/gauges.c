/* scepd's gauges (gauges.h): set by the background jobs, read by scrapes. */
#include "gauges.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

struct gauge_ca {
    char key_id[160]; /* hex, as the CRL file names show it */
    int64_t not_after;
    int64_t crl_next_update;
    int seen; /* set again in the round under way */
};

struct scepd_gauges {
    pthread_mutex_t lock;
    struct gauge_ca cas[SCEPD_GAUGES_MAX_CAS];
    int ncas;
    struct scepd_gauge_counts counts;
    int have_counts;
};

int scepd_gauges_new(struct scepd_gauges **out)
{
    struct scepd_gauges *g = calloc(1, sizeof(*g));

    if (g == NULL)
        return -1;
    if (pthread_mutex_init(&g->lock, NULL) != 0) {
        free(g);
        return -1;
    }
    *out = g;
    return 0;
}

void scepd_gauges_free(struct scepd_gauges *g)
{
    if (g == NULL)
        return;
    pthread_mutex_destroy(&g->lock);
    free(g);
}

void scepd_gauges_ca_begin(struct scepd_gauges *g)
{
    int i;

    pthread_mutex_lock(&g->lock);
    for (i = 0; i < g->ncas; i++)
        g->cas[i].seen = 0;
    pthread_mutex_unlock(&g->lock);
}

void scepd_gauges_ca_set(struct scepd_gauges *g, const char *key_id, int64_t not_after,
                         int64_t crl_next_update)
{
    int i;

    pthread_mutex_lock(&g->lock);
    for (i = 0; i < g->ncas && strcmp(g->cas[i].key_id, key_id) != 0; i++)
        ;
    if (i == g->ncas && g->ncas < SCEPD_GAUGES_MAX_CAS) {
        snprintf(g->cas[i].key_id, sizeof(g->cas[i].key_id), "%s", key_id);
        g->ncas++;
    }
    if (i < g->ncas) {
        g->cas[i].not_after = not_after;
        g->cas[i].crl_next_update = crl_next_update;
        g->cas[i].seen = 1;
    }
    pthread_mutex_unlock(&g->lock);
}

int scepd_gauges_crl_next_update(struct scepd_gauges *g, const char *key_id, int64_t *out)
{
    int i, rc = -1;

    if (g == NULL || key_id == NULL)
        return -1;
    pthread_mutex_lock(&g->lock);
    for (i = 0; i < g->ncas; i++) {
        if (strcmp(g->cas[i].key_id, key_id) == 0 && g->cas[i].crl_next_update != 0) {
            *out = g->cas[i].crl_next_update;
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&g->lock);
    return rc;
}

void scepd_gauges_ca_end(struct scepd_gauges *g)
{
    int i, n = 0;

    pthread_mutex_lock(&g->lock);
    for (i = 0; i < g->ncas; i++)
        if (g->cas[i].seen)
            g->cas[n++] = g->cas[i];
    g->ncas = n;
    pthread_mutex_unlock(&g->lock);
}

void scepd_gauges_counts_set(struct scepd_gauges *g, const struct scepd_gauge_counts *c)
{
    pthread_mutex_lock(&g->lock);
    g->counts = *c;
    g->have_counts = 1;
    pthread_mutex_unlock(&g->lock);
}

int scepd_gauges_render(struct scepd_gauges *g, struct evbuffer *out)
{
    struct gauge_ca cas[SCEPD_GAUGES_MAX_CAS];
    struct scepd_gauge_counts c;
    int i, ncas, have, rc = 0;

    if (g == NULL)
        return 0;
    /* A copy under the lock, the text outside it: a slow evbuffer never
     * holds up a job. */
    pthread_mutex_lock(&g->lock);
    ncas = g->ncas;
    memcpy(cas, g->cas, sizeof(cas));
    c = g->counts;
    have = g->have_counts;
    pthread_mutex_unlock(&g->lock);

    rc |= evbuffer_add_printf(out, "# HELP scepd_ca_not_after_seconds notAfter of each CA "
                                   "certificate (current and archived), Unix time.\n"
                                   "# TYPE scepd_ca_not_after_seconds gauge\n") < 0;
    for (i = 0; i < ncas; i++)
        rc |= evbuffer_add_printf(out, "scepd_ca_not_after_seconds{ca_key_id=\"%s\"} %lld\n",
                                  cas[i].key_id, (long long)cas[i].not_after) < 0;
    rc |= evbuffer_add_printf(out, "# HELP scepd_crl_next_update_seconds nextUpdate of the CRL "
                                   "last published in STATE_DIR/crl for each CA, Unix time.\n"
                                   "# TYPE scepd_crl_next_update_seconds gauge\n") < 0;
    for (i = 0; i < ncas; i++)
        if (cas[i].crl_next_update != 0)
            rc |= evbuffer_add_printf(out, "scepd_crl_next_update_seconds{ca_key_id=\"%s\"} %lld\n",
                                      cas[i].key_id, (long long)cas[i].crl_next_update) < 0;
    rc |= evbuffer_add_printf(out, "# HELP scepd_certificates Certificates in the store by status "
                                   "(valid: unrevoked and unexpired), as of the last count.\n"
                                   "# TYPE scepd_certificates gauge\n") < 0;
    if (have)
        rc |=
            evbuffer_add_printf(out,
                                "scepd_certificates{status=\"valid\"} %lld\n"
                                "scepd_certificates{status=\"revoked\"} %lld\n"
                                "scepd_certificates{status=\"expired\"} %lld\n",
                                (long long)c.valid, (long long)c.revoked, (long long)c.expired) < 0;
    rc |= evbuffer_add_printf(out, "# HELP scepd_certificates_expiring Valid certificates without "
                                   "a successor that expire within 30 days.\n"
                                   "# TYPE scepd_certificates_expiring gauge\n") < 0;
    if (have)
        rc |= evbuffer_add_printf(out, "scepd_certificates_expiring{within=\"30d\"} %lld\n",
                                  (long long)c.expiring) < 0;
    rc |= evbuffer_add_printf(out, "# HELP scepd_notifications_pending Expiry notices due and not "
                                   "delivered yet (waiting for a retry, or being sent).\n"
                                   "# TYPE scepd_notifications_pending gauge\n") < 0;
    if (have)
        rc |= evbuffer_add_printf(out, "scepd_notifications_pending %lld\n", (long long)c.pending) <
              0;
    rc |= evbuffer_add_printf(out, "# HELP scepd_certificates_counted_seconds When the "
                                   "certificate gauges were counted, Unix time.\n"
                                   "# TYPE scepd_certificates_counted_seconds gauge\n") < 0;
    if (have)
        rc |= evbuffer_add_printf(out, "scepd_certificates_counted_seconds %lld\n",
                                  (long long)c.counted_at) < 0;
    return rc ? -1 : 0;
}
