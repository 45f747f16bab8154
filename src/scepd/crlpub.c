/*
 * The CRL publisher (crlpub.h): asks the core for each CA's published
 * CRL (scep_admin_crl_current: the one every node on the store serves,
 * remade by one of them when due) and writes it atomically under
 * STATE_DIR/crl whenever its crlNumber differs from the file's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <scep/error.h>

#include "crlpub.h"
#include "gauges.h"
#include "scepd.h"
#include "admin/admin.h"
#include "ca/ca.h"
#include "store/store.h"
#include "util/atomic_file.h"

/* CAs whose CRL state is remembered: the current one and the archived
 * ones still in use; more are published too, just every round. */
#define CRLPUB_SLOTS 16

/* The last CRL written for one CA. */
struct crlpub_slot {
    char fp[65];         /* the CA's fingerprint; "" when unused */
    int64_t number;      /* crlNumber of the file written; 0 none yet */
    int64_t next_update; /* its nextUpdate, Unix seconds */
};

struct scepd_crlpub {
    const struct scep_config *cfg;
    struct scepd_gauges *gauges; /* borrowed, may be NULL */
    struct scep_store *st;
    char dir[4096];      /* STATE_DIR/crl */
    char current_fp[65]; /* the CA current.crl was last written for */
    struct crlpub_slot slots[CRLPUB_SLOTS];
    int next_slot; /* round robin when every slot is taken */
};

int scepd_crlpub_new(const struct scep_config *cfg, struct scepd_gauges *g,
                     struct scepd_crlpub **out)
{
    struct scepd_crlpub *p = NULL;
    char why[256];
    int n, rc = -1;

    if ((p = calloc(1, sizeof(*p))) == NULL) {
        scepd_log(SCEPD_ERROR, "CRL publisher: out of memory", NULL);
        goto out;
    }
    p->cfg = cfg;
    p->gauges = g;
    n = snprintf(p->dir, sizeof(p->dir), "%s/crl", cfg->state_dir);
    if (n < 0 || (size_t)n >= sizeof(p->dir)) {
        scepd_log(SCEPD_ERROR, "CRL publisher: state directory path too long", NULL);
        goto out;
    }
    if (mkdir(p->dir, 0755) != 0 && errno != EEXIST) {
        scepd_log(SCEPD_ERROR, "CRL publisher: cannot make the directory", "path", p->dir, "error",
                  strerror(errno), NULL);
        goto out;
    }
    if (scep_store_open(cfg->database, &p->st, why, sizeof(why)) != 0) {
        scepd_log(SCEPD_ERROR, "CRL publisher: cannot open the store", "error", why, NULL);
        goto out;
    }
    *out = p;
    p = NULL;
    rc = 0;
out:
    scepd_crlpub_free(p);
    return rc;
}

void scepd_crlpub_free(struct scepd_crlpub *p)
{
    if (p == NULL)
        return;
    scep_store_close(p->st);
    free(p);
}

/* The slot remembering fp: its own, else a free one, else the next in
 * turn (whose CA is then simply published again). */
static struct crlpub_slot *crlpub_slot(struct scepd_crlpub *p, const char *fp)
{
    struct crlpub_slot *s;
    int i;

    for (i = 0; i < CRLPUB_SLOTS; i++)
        if (strcmp(p->slots[i].fp, fp) == 0)
            return &p->slots[i];
    for (i = 0; i < CRLPUB_SLOTS; i++)
        if (p->slots[i].fp[0] == '\0')
            break;
    if (i == CRLPUB_SLOTS) {
        i = p->next_slot;
        p->next_slot = (p->next_slot + 1) % CRLPUB_SLOTS;
    }
    s = &p->slots[i];
    memset(s, 0, sizeof(*s));
    memcpy(s->fp, fp, sizeof(s->fp));
    return s;
}

/* Writes der to p->dir/name.  Returns 0 or SCEP_ERR_*. */
static int crlpub_write(const struct scepd_crlpub *p, const char *name, const unsigned char *der,
                        size_t len)
{
    char path[4096 + 160];
    int n = snprintf(path, sizeof(path), "%s/%s", p->dir, name);

    if (n < 0 || (size_t)n >= sizeof(path))
        return SCEP_ERR_TOO_LARGE;
    return util_write_atomic(path, der, len, 0644, 0);
}

/* Tells the gauges issuer's notAfter and, once one was written, its
 * CRL's nextUpdate. */
static void crlpub_gauge(const struct scepd_crlpub *p, X509 *issuer, const char *kid,
                         const struct crlpub_slot *s)
{
    struct tm tm;
    int64_t not_after = 0;

    if (p->gauges == NULL)
        return;
    /* ASN1_TIME_to_tm reads UTCTime and GeneralizedTime alike, in UTC. */
    if (ASN1_TIME_to_tm(X509_get0_notAfter(issuer), &tm) == 1)
        not_after = (int64_t)timegm(&tm);
    scepd_gauges_ca_set(p->gauges, kid, not_after, s->number != 0 ? s->next_update : 0);
}

/* Writes the published CRL of issuer (current when is_current) unless
 * the file holds it already.  Returns 1 when written, 0 when not, or
 * SCEP_ERR_*. */
static int crlpub_one(struct scepd_crlpub *p, const struct scep_ca *ca, X509 *issuer,
                      int is_current)
{
    struct scep_admin_crl_info info;
    struct crlpub_slot *s;
    unsigned char *der = NULL;
    long validity = (long)p->cfg->crl_validity_hours * 3600L;
    char fp[65], kid[160], name[200];
    size_t len = 0;
    int rc;

    if ((rc = scep_cert_fingerprint(issuer, fp)) != 0 ||
        (rc = scep_ca_key_id_hex(issuer, kid, sizeof(kid))) != 0)
        return rc;
    rc = scep_admin_crl_current(p->st, ca, issuer, validity, 0, NULL, &der, &len, &info);
    if (rc != 0)
        return rc;
    s = crlpub_slot(p, fp);
    if (s->number == info.number && (!is_current || strcmp(p->current_fp, fp) == 0)) {
        crlpub_gauge(p, issuer, kid, s);
        rc = 0;
        goto out;
    }
    snprintf(name, sizeof(name), "%s.crl", kid);
    if ((rc = crlpub_write(p, name, der, len)) != 0)
        goto out;
    if (is_current) {
        if ((rc = crlpub_write(p, "current.crl", der, len)) != 0)
            goto out;
        memcpy(p->current_fp, fp, sizeof(p->current_fp));
    }
    s->number = info.number;
    s->next_update = info.next_update;
    crlpub_gauge(p, issuer, kid, s);
    {
        struct scepd_logline l;

        scepd_log_begin(&l, SCEPD_INFO, "crl-published");
        scepd_log_str(&l, "ca_key_id", kid);
        scepd_log_str(&l, "file", name);
        scepd_log_int(&l, "crl_number", (long long)info.number);
        scepd_log_int(&l, "made_here", !info.reused);
        scepd_log_int(&l, "current", is_current);
        scepd_log_end(&l);
    }
    rc = 1;
out:
    free(der);
    return rc;
}

int scepd_crlpub_run(struct scepd_crlpub *p, const struct scep_ca *ca)
{
    X509 *c;
    int i, rc, written = 0, failed = 0;

    if (p->gauges != NULL)
        scepd_gauges_ca_begin(p->gauges);
    c = scep_ca_get0_cert(ca);
    for (i = 0; c != NULL; c = scep_ca_get0_archived(ca, i++)) {
        rc = crlpub_one(p, ca, c, i == 0);
        if (rc < 0) {
            char kid[160];

            if (scep_ca_key_id_hex(c, kid, sizeof(kid)) != 0)
                kid[0] = '\0';
            /* An archived CA whose key was removed cannot sign: said at
             * every round, as the operator should notice. */
            scepd_log(SCEPD_WARN, "CRL publisher: cannot publish a CRL", "ca_key_id", kid, "error",
                      scep_strerror(rc), NULL);
            failed = 1;
        } else {
            written += rc;
        }
    }
    if (p->gauges != NULL)
        scepd_gauges_ca_end(p->gauges);
    return failed ? -1 : written;
}
