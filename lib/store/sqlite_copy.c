/*
 * Copying a SQLite store row by row (store.h, "Copying a store"): the
 * export reads every table that store_copy.c describes, in one read
 * transaction (in WAL mode a snapshot, so scepd may go on writing), and
 * hands each row over as it is stored; the import writes such rows into
 * an empty store inside one write transaction.  The statements are
 * built from the table description, never from the rows: only values
 * travel as parameters.
 */
#include "sqlite_be.h"

#include <stdio.h>
#include <string.h>

#include <scep/error.h>

/* Longest statement a copy builds: the certificates' insert is ~400
 * bytes. */
#define COPY_SQL_MAX 2048

/* Appends the column names of t, comma separated, to buf (len bytes)
 * after prefix; returns 0 or SCEP_ERR_TOO_LARGE. */
static int copy_sql(char *buf, size_t len, const char *prefix, const struct scep_store_table *t,
                    const char *suffix)
{
    size_t used = 0, i;
    int n;

    n = snprintf(buf, len, "%s", prefix);
    if (n < 0 || (size_t)n >= len)
        return SCEP_ERR_TOO_LARGE;
    used = (size_t)n;
    for (i = 0; i < t->ncols; i++) {
        n = snprintf(buf + used, len - used, "%s%s", i > 0 ? ", " : "", t->cols[i].name);
        if (n < 0 || (size_t)n >= len - used)
            return SCEP_ERR_TOO_LARGE;
        used += (size_t)n;
    }
    n = snprintf(buf + used, len - used, "%s", suffix);
    if (n < 0 || (size_t)n >= len - used)
        return SCEP_ERR_TOO_LARGE;
    return 0;
}

/* Reads column i of the current row of s as t declares it into v
 * (pointers borrowed until the next step). */
static void read_value(sqlite3_stmt *s, int i, int type, struct scep_store_value *v)
{
    memset(v, 0, sizeof(*v));
    if (sqlite3_column_type(s, i) == SQLITE_NULL) {
        v->null = 1;
        return;
    }
    switch (type) {
    case SCEP_COL_INT:
        v->i = sqlite3_column_int64(s, i);
        break;
    case SCEP_COL_TEXT:
        v->s = (const char *)sqlite3_column_text(s, i);
        v->null = v->s == NULL;
        break;
    default:
        v->b = sqlite3_column_blob(s, i);
        v->len = (size_t)sqlite3_column_bytes(s, i);
        /* An empty BLOB reads as a NULL pointer. */
        if (v->b == NULL)
            v->b = (const unsigned char *)"";
        break;
    }
}

/* Walks table t for the export; see below. */
static int export_table(struct sq_be *be, const struct scep_store_table *t, scep_store_row_cb cb,
                        void *arg)
{
    struct scep_store_value row[32];
    sqlite3_stmt *s = NULL;
    char sql[COPY_SQL_MAX], tail[256];
    size_t i;
    int rc, src;

    if (t->ncols > sizeof(row) / sizeof(row[0]))
        return SCEP_ERR_INTERNAL;
    snprintf(tail, sizeof(tail), " FROM %s ORDER BY %s", t->name, t->order);
    if ((rc = copy_sql(sql, sizeof(sql), "SELECT ", t, tail)) != 0)
        return rc;
    if (sqlite3_prepare_v2(be->db, sql, -1, &s, NULL) != SQLITE_OK)
        return sq_fail(be, "prepare export");
    rc = 0;
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        for (i = 0; i < t->ncols; i++)
            read_value(s, (int)i, t->cols[i].type, &row[i]);
        if ((rc = cb(t, row, arg)) != 0)
            break;
    }
    if (rc == 0 && src != SQLITE_DONE)
        rc = sq_fail(be, "export");
    sqlite3_finalize(s);
    return rc;
}

/* Exports every copied table; see store.h. */
int sq_export_rows(void *vbe, scep_store_row_cb cb, void *arg)
{
    struct sq_be *be = vbe;
    const struct scep_store_table *t;
    size_t n, i;
    int rc = 0;

    /* DEFERRED: the snapshot is taken by the first SELECT and held to
     * the end, so the tables agree with each other. */
    if (sqlite3_exec(be->db, "BEGIN DEFERRED", NULL, NULL, NULL) != SQLITE_OK)
        return sq_fail(be, "begin export");
    t = scep_store_copy_tables(&n);
    for (i = 0; i < n && rc == 0; i++)
        rc = export_table(be, &t[i], cb, arg);
    sq_rollback(be);
    return rc;
}

/* Counts the rows of table into *out inside the open transaction. */
static int count_rows(struct sq_be *be, const char *table, int64_t *out)
{
    sqlite3_stmt *s = NULL;
    char sql[128];
    int rc = SCEP_ERR_STORE;

    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
    if (sqlite3_prepare_v2(be->db, sql, -1, &s, NULL) != SQLITE_OK)
        return sq_fail(be, "prepare count");
    if (sqlite3_step(s) != SQLITE_ROW) {
        sq_fail(be, "count rows");
        goto out;
    }
    *out = sqlite3_column_int64(s, 0);
    rc = 0;
out:
    sqlite3_finalize(s);
    return rc;
}

/* Starts the copy into an empty store; see store.h. */
int sq_import_begin(void *vbe, char *why, size_t whylen)
{
    struct sq_be *be = vbe;
    const struct scep_store_table *t;
    size_t n, i, used = 0;
    int64_t rows = 0;
    int rc, k, nonempty = 0;

    /* The write lock, taken now and held to the commit: no other
     * connection writes between the check and the last row. */
    if ((rc = sq_begin(be)) != 0)
        goto out;
    t = scep_store_copy_tables(&n);
    for (i = 0; i < n; i++) {
        if (t[i].max_of != NULL)
            continue;
        if ((rc = count_rows(be, t[i].name, &rows)) != 0)
            goto out;
        if (rows > 0 && why != NULL && used < whylen) {
            k = snprintf(why + used, whylen - used, "%s%lld %s",
                         used == 0 ? "the target holds " : ", ", (long long)rows, t[i].name);
            used = k < 0 ? whylen : used + (size_t)k;
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
    sq_rollback(be);
    return rc;
}

/* Binds v as t's column i declares it to parameter i + 1. */
static int bind_value(sqlite3_stmt *s, int i, int type, const struct scep_store_value *v)
{
    if (v->null)
        return sqlite3_bind_null(s, i + 1);
    switch (type) {
    case SCEP_COL_INT:
        return sqlite3_bind_int64(s, i + 1, v->i);
    case SCEP_COL_TEXT:
        return v->s != NULL ? sqlite3_bind_text(s, i + 1, v->s, -1, SQLITE_STATIC)
                            : sqlite3_bind_null(s, i + 1);
    default:
        if (v->len > 0x7fffffff)
            return SQLITE_TOOBIG;
        return sqlite3_bind_blob(s, i + 1, v->len > 0 ? (const void *)v->b : "", (int)v->len,
                                 SQLITE_STATIC);
    }
}

/* Inserts one row inside the copy; see store.h. */
int sq_import_row(void *vbe, const struct scep_store_table *t, const struct scep_store_value *row)
{
    struct sq_be *be = vbe;
    sqlite3_stmt *s = NULL;
    char sql[COPY_SQL_MAX], tail[COPY_SQL_MAX], pre[128];
    size_t used, i;
    int rc, n, src;

    snprintf(pre, sizeof(pre), "INSERT INTO %s (", t->name);
    n = snprintf(tail, sizeof(tail), ") VALUES (");
    used = (size_t)n;
    for (i = 0; i < t->ncols && used < sizeof(tail); i++) {
        n = snprintf(tail + used, sizeof(tail) - used, "%s?%zu", i > 0 ? ", " : "", i + 1);
        used = n < 0 ? sizeof(tail) : used + (size_t)n;
    }
    if (used < sizeof(tail) && t->max_of != NULL)
        /* The counter row exists in every store: keep the larger value. */
        n = snprintf(tail + used, sizeof(tail) - used,
                     ") ON CONFLICT (%s) DO UPDATE SET %s = max(%s, excluded.%s)", t->order,
                     t->max_of, t->max_of, t->max_of);
    else if (used < sizeof(tail))
        n = snprintf(tail + used, sizeof(tail) - used, ")");
    if (used >= sizeof(tail) || n < 0 || (size_t)n >= sizeof(tail) - used)
        return SCEP_ERR_TOO_LARGE;
    if ((rc = copy_sql(sql, sizeof(sql), pre, t, tail)) != 0)
        return rc;
    if (sqlite3_prepare_v2(be->db, sql, -1, &s, NULL) != SQLITE_OK)
        return sq_fail(be, "prepare import");
    for (i = 0; i < t->ncols; i++) {
        if (bind_value(s, (int)i, t->cols[i].type, &row[i]) != SQLITE_OK) {
            rc = sq_fail(be, "bind import");
            goto out;
        }
    }
    src = sqlite3_step(s);
    if ((src & 0xff) == SQLITE_CONSTRAINT) {
        char what[96];

        snprintf(what, sizeof(what), "import into %s", t->name);
        sq_fail(be, what);
        rc = (sqlite3_extended_errcode(be->db) == SQLITE_CONSTRAINT_PRIMARYKEY ||
              sqlite3_extended_errcode(be->db) == SQLITE_CONSTRAINT_UNIQUE)
                 ? SCEP_ERR_EXISTS
                 : SCEP_ERR_STORE;
    } else if (src != SQLITE_DONE) {
        rc = sq_fail(be, "import");
    }
out:
    sqlite3_finalize(s);
    return rc;
}

/* Commits the copy with ev; see store.h.  AUTOINCREMENT's counters
 * (sqlite_sequence) already moved past every id inserted. */
int sq_import_commit(void *vbe, const struct scep_audit_event *ev)
{
    struct sq_be *be = vbe;
    int rc = sq_commit_audited(be, ev);

    if (rc != 0)
        sq_rollback(be);
    return rc;
}

void sq_import_abort(void *vbe)
{
    sq_rollback(vbe);
}
