/*
 * The published CRLs in the PostgreSQL backend: the crls table of
 * schema step 8 (pg_migrate.c), as sqlite_crls.c, and the lock under
 * which one node makes the next CRL of a CA: a session advisory lock
 * on a bigint key, PG_LOCK_CRL_BASE plus the first 28 bits of the CA's
 * fingerprint (single-bigint keys never meet the two-int4 keys of
 * pg_be.h), taken with pg_try_advisory_lock so that no worker ever
 * waits for another node's signature.  Should the
 * session die the server drops the lock with it, and pg_ready() forgets
 * it on reconnecting.
 */
#include "pg_be.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <scep/error.h>

/* The key of the CRL lock of the CA issuer_fp (see above). */
static int64_t crl_lock_key(const char *issuer_fp)
{
    return ((int64_t)PG_LOCK_CLASS << 28) + store_fp_prefix(issuer_fp, 7);
}

int pg_get_crl(void *vbe, const char *issuer_fp, struct scep_store_crl *out)
{
    struct pg_be *be = vbe;
    struct pg_params p;
    PGresult *res = NULL;
    unsigned char *digest = NULL;
    size_t dlen = 0;
    int rc;

    memset(&p, 0, sizeof(p));
    pg_param_str(&p, issuer_fp);
    rc = pg_exec(be, "SELECT number, made, next_update, digest, der FROM crls WHERE issuer_fp = $1",
                 &p, "read CRL", &res);
    if (rc != 0)
        return rc;
    if (PQntuples(res) == 0) {
        rc = SCEP_ERR_NOT_FOUND;
        goto out;
    }
    if ((rc = pg_int(res, 0, 0, &out->number)) != 0 || (rc = pg_int(res, 0, 1, &out->made)) != 0 ||
        (rc = pg_int(res, 0, 2, &out->next_update)) != 0 ||
        (rc = pg_dup_bytes(res, 0, 3, &digest, &dlen)) != 0 ||
        (rc = pg_dup_bytes(res, 0, 4, &out->der, &out->len)) != 0)
        goto out;
    rc = SCEP_ERR_STORE;
    if (dlen != sizeof(out->digest)) {
        snprintf(be->err, sizeof(be->err), "read CRL: the stored digest is damaged");
        goto out;
    }
    memcpy(out->digest, digest, sizeof(out->digest));
    memcpy(out->issuer_fp, issuer_fp, sizeof(out->issuer_fp) - 1);
    rc = 0;
out:
    free(digest);
    PQclear(res);
    if (rc != 0)
        scep_store_crl_clear(out);
    return rc;
}

int pg_put_crl(void *vbe, const struct scep_store_crl *c)
{
    struct pg_be *be = vbe;
    struct pg_params p;

    if (c->len > (size_t)0x7fffffff)
        return SCEP_ERR_TOO_LARGE;
    memset(&p, 0, sizeof(p));
    pg_param_str(&p, c->issuer_fp);
    pg_param_int(&p, c->number);
    pg_param_int(&p, c->made);
    pg_param_int(&p, c->next_update);
    pg_param_bytes(&p, c->digest, sizeof(c->digest));
    pg_param_bytes(&p, c->der, c->len);
    /* The WHERE keeps a newer row, as in sqlite_crls.c. */
    return pg_exec(be,
                   "INSERT INTO crls (issuer_fp, number, made, next_update, digest, der)"
                   " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (issuer_fp) DO UPDATE SET"
                   " number = excluded.number, made = excluded.made,"
                   " next_update = excluded.next_update, digest = excluded.digest,"
                   " der = excluded.der WHERE excluded.number > crls.number",
                   &p, "store CRL", NULL);
}

int pg_try_lock_crl(void *vbe, const char *issuer_fp, int *got)
{
    struct pg_be *be = vbe;
    PGresult *res = NULL;
    int64_t v = 0;
    int rc;

    struct pg_params p;

    if (be->crl_locked) {
        snprintf(be->err, sizeof(be->err), "CRL lock: already held by this handle");
        return SCEP_ERR_STORE;
    }
    memset(&p, 0, sizeof(p));
    pg_param_int(&p, crl_lock_key(issuer_fp));
    rc = pg_exec(be, "SELECT pg_try_advisory_lock($1::bigint)::int4", &p, "take CRL lock", &res);
    if (rc != 0)
        return rc;
    if (PQntuples(res) != 1 || pg_int(res, 0, 0, &v) != 0) {
        snprintf(be->err, sizeof(be->err), "take CRL lock: unexpected answer");
        rc = SCEP_ERR_STORE;
    } else if (v == 1) {
        be->crl_locked = crl_lock_key(issuer_fp);
        *got = 1;
    }
    PQclear(res);
    return rc;
}

int pg_unlock_crl(void *vbe)
{
    struct pg_be *be = vbe;
    struct pg_params p;

    if (be->crl_locked == 0)
        return 0;
    memset(&p, 0, sizeof(p));
    pg_param_int(&p, be->crl_locked);
    be->crl_locked = 0;
    /* On a lost connection the lock went with the session. */
    if (PQstatus(be->conn) != CONNECTION_OK)
        return 0;
    return pg_exec(be, "SELECT pg_advisory_unlock($1::bigint)", &p, "give back CRL lock", NULL);
}
