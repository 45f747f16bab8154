/*
 * Moving a store to another database (migrate.h): the source's rows
 * stream straight into the target's open transaction, one at a time, so
 * a store of any size is copied in constant memory; the target sees the
 * whole copy or nothing.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <scep/error.h>

#include "admin/migrate.h"

struct copy_state {
    struct scep_store *to;
    struct scep_admin_migrate_report *rep;
    const struct scep_store_table *failed_table; /* where the copy stopped */
    int64_t failed_row;                          /* 1-based, in that table */
};

/* The report slot of t, made on its first row. */
static int report_slot(struct scep_admin_migrate_report *rep, const struct scep_store_table *t)
{
    size_t i;

    for (i = 0; i < rep->ntables; i++)
        if (rep->table[i] == t->name)
            return (int)i;
    if (rep->ntables == SCEP_ADMIN_MIGRATE_TABLES)
        return -1;
    rep->table[rep->ntables] = t->name;
    rep->rows[rep->ntables] = 0;
    return (int)rep->ntables++;
}

static int copy_row(const struct scep_store_table *t, const struct scep_store_value *row, void *arg)
{
    struct copy_state *cs = arg;
    int slot = report_slot(cs->rep, t), rc;

    if (slot < 0)
        return SCEP_ERR_INTERNAL;
    rc = scep_store_import_row(cs->to, t, row);
    if (rc != 0) {
        cs->failed_table = t;
        cs->failed_row = cs->rep->rows[slot] + 1;
        return rc;
    }
    cs->rep->rows[slot]++;
    return 0;
}

/* Makes every table of the copy appear in the report, empty ones too,
 * in the copy's order. */
static void report_init(struct scep_admin_migrate_report *rep)
{
    const struct scep_store_table *t;
    size_t n, i;

    memset(rep, 0, sizeof(*rep));
    t = scep_store_copy_tables(&n);
    for (i = 0; i < n; i++)
        (void)report_slot(rep, &t[i]);
}

/* Writes "certificates=3 requests=1 ..." into buf (len bytes). */
static void report_text(const struct scep_admin_migrate_report *rep, char *buf, size_t len)
{
    size_t used = 0, i;
    int n;

    buf[0] = '\0';
    for (i = 0; i < rep->ntables && used < len; i++) {
        n = snprintf(buf + used, len - used, "%s%s=%lld", i > 0 ? " " : "", rep->table[i],
                     (long long)rep->rows[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

int scep_admin_migrate(struct scep_store *from, struct scep_store *to, const char *actor,
                       const char *from_name, struct scep_admin_migrate_report *rep, char *why,
                       size_t whylen)
{
    struct scep_admin_migrate_report r;
    struct scep_audit_event ev;
    struct copy_state cs;
    char counts[512], detail[1024], dummy[1];
    int64_t bad = 0;
    int rc, open = 0;

    if (why == NULL || whylen == 0) {
        why = dummy;
        whylen = sizeof(dummy);
    }
    why[0] = '\0';
    if (from == NULL || to == NULL || actor == NULL || from_name == NULL || rep == NULL ||
        from == to)
        return SCEP_ERR_INVALID_ARG;
    report_init(&r);
    rc = scep_store_verify_audit(from, &bad);
    if (rc != 0) {
        if (bad > 0)
            snprintf(why, whylen,
                     "the source's audit chain is broken at event %lld (scepctl audit --verify): "
                     "nothing copied",
                     (long long)bad);
        else
            snprintf(why, whylen, "cannot verify the source's audit chain: %s",
                     scep_store_last_error(from));
        goto out;
    }
    if ((rc = scep_store_import_begin(to, why, whylen)) != 0)
        goto out;
    open = 1;
    memset(&cs, 0, sizeof(cs));
    cs.to = to;
    cs.rep = &r;
    rc = scep_store_export(from, copy_row, &cs);
    if (rc != 0) {
        if (cs.failed_table != NULL)
            snprintf(why, whylen, "copying row %lld of %s: %s: %s", (long long)cs.failed_row,
                     cs.failed_table->name, scep_strerror(rc), scep_store_last_error(to));
        else if (rc == SCEP_ERR_UNSUPPORTED)
            snprintf(why, whylen,
                     "the source cannot be read row by row (only SQLite can, at "
                     "schema version %d)",
                     SCEP_STORE_COPY_VERSION);
        else
            snprintf(why, whylen, "reading the source: %s", scep_store_last_error(from));
        goto out;
    }
    report_text(&r, counts, sizeof(counts));
    snprintf(detail, sizeof(detail), "from=%s %s", from_name, counts);
    memset(&ev, 0, sizeof(ev));
    ev.time = (int64_t)time(NULL);
    ev.kind = "migrate";
    ev.actor = actor;
    ev.detail = detail;
    rc = scep_store_import_commit(to, &ev);
    open = 0;
    if (rc != 0) {
        snprintf(why, whylen, "committing the copy: %s", scep_store_last_error(to));
        goto out;
    }
    rc = scep_store_verify_audit(to, &bad);
    if (rc != 0) {
        snprintf(why, whylen, "copied, but the target's audit chain does not verify at event %lld",
                 (long long)bad);
        goto out;
    }
    *rep = r;
    rc = 0;
out:
    if (open)
        scep_store_import_abort(to);
    return rc;
}
