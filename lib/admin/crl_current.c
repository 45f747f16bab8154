/*
 * The published CRL of each CA: the one CRL every process and every
 * scepd node on a store hands out, made by one of them at a time.
 *
 * The CRL builder (crl.c) makes a new CRL with the next crlNumber each
 * time it is called.  Were each worker of each node to call it on its
 * own, two nodes would serve different CRLs at once, and numbers would
 * race ahead with no change behind them.  So the last CRL made for a CA
 * is kept in the store (scep_store_put_crl) and reused while it is
 * current: it lists what scep_admin_crl_digest says should be listed,
 * and less than half its validity has passed, which leaves relying
 * parties that fetch late a CRL still valid.  When it is not, whoever
 * takes the store's CRL lock (an advisory lock on PostgreSQL, an flock
 * on SQLite) makes the next one; the others keep serving the stored one
 * while it is before its nextUpdate, and otherwise wait for the maker.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509.h>

#include <scep/error.h>

#include "admin/admin.h"

/* How long a caller waits for another holder of the lock to finish a
 * CRL it has no valid one to serve without.  Making a CRL is one
 * signature and a write; past this the holder is presumed stuck, and
 * the caller makes one itself (its number is still unique). */
#define CRL_WAIT_MS 5000
#define CRL_WAIT_STEP_MS 20

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* 1 when stored can be handed out in place of a new CRL. */
static int crl_fresh(const struct scep_store_crl *c, const unsigned char digest[32], int64_t now,
                     long validity)
{
    return c->der != NULL && memcmp(c->digest, digest, 32) == 0 && now - c->made < validity / 2 &&
           c->next_update > now;
}

/* Hands c's CRL to the caller: *der takes c->der over. */
static void hand_out(struct scep_store_crl *c, unsigned char **der, size_t *len,
                     struct scep_admin_crl_info *info)
{
    if (info != NULL) {
        memset(info, 0, sizeof(*info));
        info->number = c->number;
        info->made = c->made;
        info->next_update = c->next_update;
        info->reused = 1;
        memcpy(info->issuer_fp, c->issuer_fp, sizeof(info->issuer_fp));
    }
    *der = c->der;
    *len = c->len;
    c->der = NULL;
    c->len = 0;
}

/* Under the lock: makes the next CRL, stores it and hands it out. */
static int crl_make_store(struct scep_store *st, const struct scep_ca *ca, X509 *issuer,
                          const char *fp, const unsigned char digest[32], long validity,
                          const char *actor, unsigned char **der, size_t *len,
                          struct scep_admin_crl_info *info)
{
    struct scep_admin_crl_info mi;
    struct scep_store_crl c;
    int64_t made = (int64_t)time(NULL);
    int rc;

    memset(&c, 0, sizeof(c));
    rc = scep_admin_make_crl_encoded(st, ca, issuer, validity, actor, 0, &c.der, &c.len, &mi);
    if (rc != 0)
        goto out;
    memcpy(c.issuer_fp, fp, sizeof(c.issuer_fp));
    memcpy(c.digest, digest, sizeof(c.digest));
    c.number = mi.number;
    c.made = made;
    c.next_update = made + validity;
    if ((rc = scep_store_put_crl(st, &c)) != 0)
        goto out;
    hand_out(&c, der, len, info);
    if (info != NULL) {
        info->entries = mi.entries;
        info->reused = 0;
    }
out:
    scep_store_crl_clear(&c);
    return rc;
}

int scep_admin_crl_current(struct scep_store *st, const struct scep_ca *ca, X509 *issuer,
                           long validity, int force, const char *actor, unsigned char **der,
                           size_t *len, struct scep_admin_crl_info *info)
{
    struct scep_store_crl c;
    unsigned char digest[32];
    char fp[65];
    int64_t now;
    long waited = 0;
    int rc, got = 0;

    memset(&c, 0, sizeof(c));
    if (st == NULL || ca == NULL || der == NULL || len == NULL || validity <= 0)
        return SCEP_ERR_INVALID_ARG;
    if (issuer == NULL)
        issuer = scep_ca_get0_cert(ca);
    if ((rc = scep_cert_fingerprint(issuer, fp)) != 0 ||
        (rc = scep_admin_crl_digest(st, ca, issuer, digest)) != 0)
        return rc;
    for (;;) {
        now = (int64_t)time(NULL);
        scep_store_crl_clear(&c);
        rc = scep_store_get_crl(st, fp, &c);
        if (rc != 0 && rc != SCEP_ERR_NOT_FOUND)
            goto out;
        if (!force && crl_fresh(&c, digest, now, validity)) {
            hand_out(&c, der, len, info);
            rc = 0;
            goto out;
        }
        if ((rc = scep_store_try_lock_crl(st, fp, &got)) != 0)
            goto out;
        if (got)
            break;
        /* Someone else is making it: theirs will list the same. */
        if (!force && c.der != NULL && c.next_update > now) {
            hand_out(&c, der, len, info);
            rc = 0;
            goto out;
        }
        if (waited >= CRL_WAIT_MS)
            break;
        sleep_ms(CRL_WAIT_STEP_MS);
        waited += CRL_WAIT_STEP_MS;
    }
    if (got && !force) {
        /* The holder before us may have stored one just now. */
        scep_store_crl_clear(&c);
        rc = scep_store_get_crl(st, fp, &c);
        if (rc != 0 && rc != SCEP_ERR_NOT_FOUND)
            goto out;
        if (crl_fresh(&c, digest, (int64_t)time(NULL), validity)) {
            hand_out(&c, der, len, info);
            rc = 0;
            goto out;
        }
    }
    rc = crl_make_store(st, ca, issuer, fp, digest, validity, actor, der, len, info);
out:
    if (got)
        (void)scep_store_unlock_crl(st);
    scep_store_crl_clear(&c);
    return rc;
}
