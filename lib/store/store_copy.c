/*
 * Copying a store row by row (store.h, "Copying a store"): the one
 * description of what a copy carries, table by table and column by
 * column, that every backend's export and import reads, and the public
 * entry points, which check arguments and forward to the backend.  The
 * columns are those of schema version SCEP_STORE_COPY_VERSION, the same
 * names and kinds in both backends (sqlite_migrate.c, pg_migrate.c);
 * derived data is not copied but rebuilt by the target as rows arrive
 * (SQLite's certificates_search by its trigger, PostgreSQL's indexes).
 * The published CRLs (crls, step 8) are not copied either: the target
 * signs its own at the first request, with a crlNumber above every one
 * the source handed out, since crl_numbers is copied.
 */
#include "store_backend.h"

#include <stdio.h>
#include <string.h>

#include <scep/error.h>

#define NCOLS(a) (sizeof(a) / sizeof((a)[0]))

static const struct scep_store_column cert_cols[] = {
    {"serial", SCEP_COL_TEXT},         {"issuer_fp", SCEP_COL_TEXT},
    {"subject", SCEP_COL_TEXT},        {"sans", SCEP_COL_TEXT},
    {"not_before", SCEP_COL_INT},      {"not_after", SCEP_COL_INT},
    {"issued_at", SCEP_COL_INT},       {"status", SCEP_COL_INT},
    {"revoked_at", SCEP_COL_INT},      {"revocation_reason", SCEP_COL_INT},
    {"transaction_id", SCEP_COL_TEXT}, {"requester", SCEP_COL_TEXT},
    {"msg_type", SCEP_COL_TEXT},       {"pubkey_fp", SCEP_COL_TEXT},
    {"renewed_serial", SCEP_COL_TEXT}, {"der", SCEP_COL_BLOB},
    {"challenge_id", SCEP_COL_INT},    {"profile", SCEP_COL_TEXT},
    {"source", SCEP_COL_TEXT},         {"seen_at", SCEP_COL_TEXT},
    {"fingerprint", SCEP_COL_TEXT},    {"superseded_by", SCEP_COL_TEXT},
    {"superseded_at", SCEP_COL_INT},
};

static const struct scep_store_column request_cols[] = {
    {"id", SCEP_COL_INT},           {"transaction_id", SCEP_COL_TEXT},
    {"subject", SCEP_COL_TEXT},     {"sans", SCEP_COL_TEXT},
    {"pubkey_fp", SCEP_COL_TEXT},   {"msg_type", SCEP_COL_TEXT},
    {"requester", SCEP_COL_TEXT},   {"created_at", SCEP_COL_INT},
    {"status", SCEP_COL_INT},       {"decided_at", SCEP_COL_INT},
    {"decided_by", SCEP_COL_TEXT},  {"reason", SCEP_COL_TEXT},
    {"serial", SCEP_COL_TEXT},      {"csr", SCEP_COL_BLOB},
    {"challenge_id", SCEP_COL_INT}, {"profile", SCEP_COL_TEXT},
};

static const struct scep_store_column challenge_cols[] = {
    {"id", SCEP_COL_INT},         {"hash", SCEP_COL_TEXT},       {"profile", SCEP_COL_TEXT},
    {"subject", SCEP_COL_TEXT},   {"sans", SCEP_COL_TEXT},       {"max_uses", SCEP_COL_INT},
    {"uses", SCEP_COL_INT},       {"created_at", SCEP_COL_INT},  {"expires_at", SCEP_COL_INT},
    {"revoked_at", SCEP_COL_INT}, {"created_by", SCEP_COL_TEXT},
};

static const struct scep_store_column notice_cols[] = {
    {"serial", SCEP_COL_TEXT},         {"threshold", SCEP_COL_INT},  {"channel", SCEP_COL_TEXT},
    {"not_after", SCEP_COL_INT},       {"state", SCEP_COL_INT},      {"attempts", SCEP_COL_INT},
    {"claimed_by", SCEP_COL_TEXT},     {"claimed_at", SCEP_COL_INT}, {"lease_until", SCEP_COL_INT},
    {"next_attempt_at", SCEP_COL_INT}, {"sent_at", SCEP_COL_INT},    {"last_error", SCEP_COL_TEXT},
};

static const struct scep_store_column token_cols[] = {
    {"id", SCEP_COL_INT},         {"name", SCEP_COL_TEXT},        {"role", SCEP_COL_TEXT},
    {"hash", SCEP_COL_TEXT},      {"created_at", SCEP_COL_INT},   {"expires_at", SCEP_COL_INT},
    {"revoked_at", SCEP_COL_INT}, {"last_used_at", SCEP_COL_INT}, {"created_by", SCEP_COL_TEXT},
};

static const struct scep_store_column crl_number_cols[] = {
    {"id", SCEP_COL_INT},
    {"last", SCEP_COL_INT},
};

static const struct scep_store_column audit_cols[] = {
    {"id", SCEP_COL_INT},
    {"time", SCEP_COL_INT},
    {"kind", SCEP_COL_TEXT},
    {"actor", SCEP_COL_TEXT},
    {"transaction_id", SCEP_COL_TEXT},
    {"peer", SCEP_COL_TEXT},
    {"serial", SCEP_COL_TEXT},
    {"detail", SCEP_COL_TEXT},
    {"prev_hash", SCEP_COL_TEXT},
    {"hash", SCEP_COL_TEXT},
};

/*
 * The audit table last, in id order, so that the chain arrives as it
 * was written.  The CRL counter keeps the larger number (a target that
 * once made CRLs must not count down); the ids the sequences of
 * PostgreSQL hand out move past the copied ones, so that the next
 * challenge, request or token never takes an id a record refers to.
 */
static const struct scep_store_table tables[] = {
    {"certificates", cert_cols, NCOLS(cert_cols), "serial", NULL, NULL},
    {"requests", request_cols, NCOLS(request_cols), "id", NULL, "id"},
    {"challenges", challenge_cols, NCOLS(challenge_cols), "id", NULL, "id"},
    {"notices", notice_cols, NCOLS(notice_cols), "serial, threshold, channel", NULL, NULL},
    {"tokens", token_cols, NCOLS(token_cols), "id", NULL, "id"},
    {"crl_numbers", crl_number_cols, NCOLS(crl_number_cols), "id", "last", NULL},
    {"audit", audit_cols, NCOLS(audit_cols), "id", NULL, NULL},
};

const struct scep_store_table *scep_store_copy_tables(size_t *n)
{
    if (n != NULL)
        *n = NCOLS(tables);
    return tables;
}

/* SCEP_ERR_UNSUPPORTED unless st's schema is the one described above. */
static int copy_version_ok(struct scep_store *st, char *why, size_t whylen)
{
    int v = st->ops->schema_version(st->be);

    if (v == SCEP_STORE_COPY_VERSION)
        return 0;
    if (why != NULL && whylen > 0)
        snprintf(why, whylen, "%s store at schema version %d: a copy knows version %d only",
                 st->ops->name, v, SCEP_STORE_COPY_VERSION);
    return SCEP_ERR_UNSUPPORTED;
}

/* 1 when t is one of tables[] (a copy writes no other table). */
static int known_table(const struct scep_store_table *t)
{
    size_t i;

    for (i = 0; i < NCOLS(tables); i++)
        if (t == &tables[i])
            return 1;
    return 0;
}

int scep_store_export(struct scep_store *st, scep_store_row_cb cb, void *arg)
{
    int rc;

    if (st == NULL || cb == NULL)
        return SCEP_ERR_INVALID_ARG;
    if (st->ops->export_rows == NULL)
        return SCEP_ERR_UNSUPPORTED;
    if ((rc = copy_version_ok(st, NULL, 0)) != 0)
        return rc;
    return st->ops->export_rows(st->be, cb, arg);
}

int scep_store_import_begin(struct scep_store *st, char *why, size_t whylen)
{
    int rc;

    if (why != NULL && whylen > 0)
        why[0] = '\0';
    if (st == NULL)
        return SCEP_ERR_INVALID_ARG;
    if (st->ops->import_begin == NULL) {
        if (why != NULL && whylen > 0)
            snprintf(why, whylen, "the %s backend cannot be copied into", st->ops->name);
        return SCEP_ERR_UNSUPPORTED;
    }
    if ((rc = copy_version_ok(st, why, whylen)) != 0)
        return rc;
    return st->ops->import_begin(st->be, why, whylen);
}

int scep_store_import_row(struct scep_store *st, const struct scep_store_table *t,
                          const struct scep_store_value *row)
{
    if (st == NULL || t == NULL || row == NULL || !known_table(t) || st->ops->import_row == NULL)
        return SCEP_ERR_INVALID_ARG;
    return st->ops->import_row(st->be, t, row);
}

int scep_store_import_commit(struct scep_store *st, const struct scep_audit_event *ev)
{
    if (st == NULL || st->ops->import_commit == NULL)
        return SCEP_ERR_INVALID_ARG;
    return st->ops->import_commit(st->be, ev);
}

void scep_store_import_abort(struct scep_store *st)
{
    if (st != NULL && st->ops->import_abort != NULL)
        st->ops->import_abort(st->be);
}
