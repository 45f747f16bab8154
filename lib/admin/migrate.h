/*
 * Moving a store to another database (migrate.c): every row of one
 * store copied into another, empty one, of any backend, in one
 * transaction on the target, so that `scepctl migrate --from sqlite:PATH
 * --to postgresql://...` turns a single node's SQLite file into the
 * PostgreSQL database several nodes share, with nothing lost or renamed:
 * the same serials, ids, challenge hashes and uses, notices, tokens, CRL
 * number, and the audit chain with its hashes, which still verifies.
 */
#ifndef SCEP_ADMIN_MIGRATE_H
#define SCEP_ADMIN_MIGRATE_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* Tables a report has room for (store_copy.c has 7). */
#define SCEP_ADMIN_MIGRATE_TABLES 16

/* What a copy moved: rows[i] rows of table[i] (static names), in the
 * order they were copied. */
struct scep_admin_migrate_report {
    size_t ntables;
    const char *table[SCEP_ADMIN_MIGRATE_TABLES];
    int64_t rows[SCEP_ADMIN_MIGRATE_TABLES];
};

/*
 * Copies every row of from into to (see store.h, "Copying a store"):
 * first checks from's audit chain (a broken chain is not carried
 * silently into a new home), then, in one transaction on to, checks
 * that to is empty, copies table by table from one snapshot of from,
 * appends a "migrate" audit event by actor naming from_name (shown as
 * given: pass it without a password) and the counts, and commits;
 * finally checks to's chain.  Returns 0 with *rep filled; or
 * SCEP_ERR_EXISTS (to holds rows; nothing written), SCEP_ERR_STORE (a
 * chain is broken, or a database failed), SCEP_ERR_UNSUPPORTED (a
 * backend or schema version a copy cannot handle) and the like, with
 * why (whylen bytes) saying what and where.  On failure to is
 * unchanged.
 */
int scep_admin_migrate(struct scep_store *from, struct scep_store *to, const char *actor,
                       const char *from_name, struct scep_admin_migrate_report *rep, char *why,
                       size_t whylen);

#endif
