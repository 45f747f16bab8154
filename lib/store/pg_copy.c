/*
 * Copying rows into a PostgreSQL store (store.h, "Copying a store"):
 * scepctl migrate's target side.  One transaction holds the whole copy;
 * it starts by locking every copied table IN EXCLUSIVE MODE (readers go
 * on, writers on any node wait) and checking that they are empty, so
 * that a copy never merges into a store in use.  Rows are inserted with
 * every column as given (ids, hashes, DER), values as parameters; at
 * the end the BIGSERIAL sequences move past the copied ids and the
 * copy's own audit event is chained onto the copied chain.
 */
#include "pg_be.h"

#include <stdio.h>
#include <string.h>

#include <scep/error.h>

/* Longest statement a copy builds (the certificates' insert is ~500
 * bytes; the LOCK names every table). */
#define COPY_SQL_MAX 2048

/* How long the copy waits for writers to finish before it gives up:
 * scepd nodes already writing to the target are a mistake to report,
 * not to queue behind. */
#define COPY_LOCK_TIMEOUT "SET LOCAL lock_timeout = '10s'"

/* Appends a and b (NULL: nothing) to buf (len bytes) at *used; -1 when
 * they do not fit. */
static int append(char *buf, size_t len, size_t *used, const char *a, const char *b)
{
    int n = snprintf(buf + *used, len - *used, "%s%s", a, b != NULL ? b : "");

    if (n < 0 || (size_t)n >= len - *used)
        return -1;
    *used += (size_t)n;
    return 0;
}

/* Starts the copy into an empty store; see store.h. */
int pg_import_begin(void *vbe, char *why, size_t whylen)
{
    struct pg_be *be = vbe;
    const struct scep_store_table *t;
    PGresult *res = NULL;
    char sql[COPY_SQL_MAX];
    size_t n, i, used = 0, wused = 0;
    int64_t rows;
    int rc, k, nonempty = 0;

    t = scep_store_copy_tables(&n);
    if (append(sql, sizeof(sql), &used, "LOCK TABLE ", NULL) != 0)
        return SCEP_ERR_TOO_LARGE;
    for (i = 0; i < n; i++)
        if (append(sql, sizeof(sql), &used, i > 0 ? ", " : "", t[i].name) != 0)
            return SCEP_ERR_TOO_LARGE;
    if (append(sql, sizeof(sql), &used, " IN EXCLUSIVE MODE", NULL) != 0)
        return SCEP_ERR_TOO_LARGE;
    if ((rc = pg_begin(be)) != 0)
        goto out;
    if ((rc = pg_exec(be, COPY_LOCK_TIMEOUT, NULL, "set lock timeout", NULL)) != 0 ||
        (rc = pg_exec(be, sql, NULL, "lock the tables for the copy", NULL)) != 0)
        goto out;
    for (i = 0; i < n; i++) {
        if (t[i].max_of != NULL)
            continue;
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", t[i].name);
        if ((rc = pg_exec(be, sql, NULL, "count rows", &res)) != 0)
            goto out;
        rc = PQntuples(res) == 1 ? pg_int(res, 0, 0, &rows) : SCEP_ERR_STORE;
        PQclear(res);
        res = NULL;
        if (rc != 0) {
            snprintf(be->err, sizeof(be->err), "count rows of %s: unexpected answer", t[i].name);
            goto out;
        }
        if (rows > 0 && why != NULL && wused < whylen) {
            k = snprintf(why + wused, whylen - wused, "%s%lld %s",
                         wused == 0 ? "the target holds " : ", ", (long long)rows, t[i].name);
            wused = k < 0 ? whylen : wused + (size_t)k;
        }
        nonempty |= rows > 0;
    }
    if (nonempty) {
        rc = SCEP_ERR_EXISTS;
        goto out;
    }
    return 0;
out:
    if (rc != SCEP_ERR_EXISTS && why != NULL && whylen > 0)
        snprintf(why, whylen, "%s", be->err);
    pg_rollback(be);
    return rc;
}

/* Inserts one row inside the copy; see store.h. */
int pg_import_row(void *vbe, const struct scep_store_table *t, const struct scep_store_value *row)
{
    struct pg_be *be = vbe;
    struct pg_params p = {0};
    char sql[COPY_SQL_MAX], num[24], what[96];
    size_t used = 0, i;
    int rc;

    if (t->ncols > PG_MAXPARAMS)
        return SCEP_ERR_INTERNAL;
    if (append(sql, sizeof(sql), &used, "INSERT INTO ", t->name) != 0 ||
        append(sql, sizeof(sql), &used, " (", NULL) != 0)
        return SCEP_ERR_TOO_LARGE;
    for (i = 0; i < t->ncols; i++)
        if (append(sql, sizeof(sql), &used, i > 0 ? ", " : "", t->cols[i].name) != 0)
            return SCEP_ERR_TOO_LARGE;
    if (append(sql, sizeof(sql), &used, ") VALUES (", NULL) != 0)
        return SCEP_ERR_TOO_LARGE;
    for (i = 0; i < t->ncols; i++) {
        snprintf(num, sizeof(num), "$%zu", i + 1);
        if (append(sql, sizeof(sql), &used, i > 0 ? ", " : "", num) != 0)
            return SCEP_ERR_TOO_LARGE;
        if (row[i].null)
            pg_param_str(&p, NULL);
        else if (t->cols[i].type == SCEP_COL_INT)
            pg_param_int(&p, row[i].i);
        else if (t->cols[i].type == SCEP_COL_TEXT)
            pg_param_str(&p, row[i].s);
        else
            pg_param_bytes(&p, row[i].len > 0 ? row[i].b : (const unsigned char *)"", row[i].len);
    }
    if (p.overflow)
        return SCEP_ERR_TOO_LARGE;
    if (append(sql, sizeof(sql), &used, ")", NULL) != 0)
        return SCEP_ERR_TOO_LARGE;
    if (t->max_of != NULL) {
        /* The counter row exists in every store: keep the larger value. */
        char tail[256];

        snprintf(tail, sizeof(tail),
                 " ON CONFLICT (%s) DO UPDATE SET %s = GREATEST(%s.%s, excluded.%s)", t->order,
                 t->max_of, t->name, t->max_of, t->max_of);
        if (append(sql, sizeof(sql), &used, tail, NULL) != 0)
            return SCEP_ERR_TOO_LARGE;
    }
    snprintf(what, sizeof(what), "import into %s", t->name);
    rc = pg_exec(be, sql, &p, what, NULL);
    if (rc == SCEP_ERR_STORE && strcmp(be->sqlstate, "23505") == 0)
        rc = SCEP_ERR_EXISTS;
    return rc;
}

/* Commits the copy with ev; see store.h. */
int pg_import_commit(void *vbe, const struct scep_audit_event *ev)
{
    struct pg_be *be = vbe;
    const struct scep_store_table *t;
    char sql[512];
    size_t n, i;
    int rc = 0;

    t = scep_store_copy_tables(&n);
    for (i = 0; i < n && rc == 0; i++) {
        if (t[i].sequence == NULL)
            continue;
        /* is_called false: the next nextval() returns max + 1 itself. */
        snprintf(sql, sizeof(sql),
                 "SELECT setval(pg_get_serial_sequence('%s', '%s'),"
                 " coalesce((SELECT max(%s) FROM %s), 0) + 1, false)",
                 t[i].name, t[i].sequence, t[i].sequence, t[i].name);
        rc = pg_exec(be, sql, NULL, "move a sequence past the copied ids", NULL);
    }
    if (rc == 0)
        rc = pg_commit_audited(be, ev);
    if (rc != 0)
        pg_rollback(be);
    return rc;
}

void pg_import_abort(void *vbe)
{
    pg_rollback(vbe);
}
