/*
 * The store's backend interface (internal to lib/store/).  store.c holds
 * the public scep_store_* entry points: scep_store_open() picks a
 * backend from the URI's scheme in its table of struct
 * scep_store_backend rows, and every later call is forwarded through
 * the struct scep_store_ops that the backend's open function filled in,
 * with the connection state behind the opaque be pointer.  The SQLite
 * backend is sqlite_*.c (sqlite_be.h; sqlite_base.c holds its open
 * function and ops table), the PostgreSQL backend pg_*.c (pg_be.h;
 * pg_base.c likewise), each one row of store.c's table; another backend
 * is one more row.  Callers outside lib/store/ never see this header,
 * so adding a backend changes nothing above the store.
 *
 * Every op returns 0 or a negative SCEP_ERR_*, with the same contract as
 * the public function of the same name in store.h; store.c has already
 * checked that the arguments named there as required are not NULL and
 * in range.  tests/unit/test_store_contract.c is that contract as
 * tests: every backend must pass it.
 */
#ifndef SCEP_STORE_BACKEND_H
#define SCEP_STORE_BACKEND_H

#include "store/store.h"

/* The length of a hex SHA-256 plus its terminating NUL. */
#define SCEP_AUDIT_HASH_HEX 65

/* The first ndigits (at most 15) hex digits of fp, a fingerprint
 * store.c has checked (lower-case hex), as a number: the CRL lock keys
 * of both backends. */
int64_t store_fp_prefix(const char *fp, int ndigits);

struct scep_store_ops {
    const char *name; /* "sqlite", "postgresql" */
    void (*close)(void *be);
    int (*schema_version)(void *be);
    int (*insert_cert)(void *be, const struct scep_cert_info *ci,
                       const struct scep_audit_event *ev);
    /* ci->fingerprint is filled in by store.c */
    int (*insert_certs)(void *be, const struct scep_cert_info *cis, size_t n,
                        const struct scep_audit_event *ev);
    int (*get_cert)(void *be, const char *serial, struct scep_cert_info **out);
    int (*get_cert_by_fingerprint)(void *be, const char *fingerprint, struct scep_cert_info **out);
    int (*get_cert_by_transaction)(void *be, const char *transaction_id,
                                   struct scep_cert_info **out);
    int (*list_certs)(void *be, const struct scep_cert_filter *f, scep_store_cert_cb cb, void *arg);
    int (*revoke)(void *be, const char *serial, int reason, int64_t at,
                  const struct scep_audit_event *ev);
    int (*unhold)(void *be, const char *serial, const struct scep_audit_event *ev);
    int (*audit)(void *be, const struct scep_audit_event *ev);
    int (*list_audit)(void *be, int64_t after_id, scep_store_audit_cb cb, void *arg);
    int (*verify_audit)(void *be, int64_t *bad_id);
    int (*next_crl_number)(void *be, int64_t *out);
    int (*get_crl)(void *be, const char *issuer_fp, struct scep_store_crl *out);
    int (*put_crl)(void *be, const struct scep_store_crl *c);
    int (*try_lock_crl)(void *be, const char *issuer_fp, int *got);
    int (*unlock_crl)(void *be);
    int (*add_request)(void *be, const struct scep_request_info *ri,
                       const struct scep_audit_event *ev, int64_t *id);
    int (*get_request)(void *be, int64_t id, struct scep_request_info **out);
    int (*get_request_by_transaction)(void *be, const char *transaction_id,
                                      struct scep_request_info **out);
    int (*list_requests)(void *be, int status, scep_store_request_cb cb, void *arg);
    int (*decide_request)(void *be, int64_t id, int status, const char *actor, const char *reason,
                          const struct scep_audit_event *ev);
    int (*issue_request)(void *be, int64_t id, const struct scep_cert_info *ci,
                         const struct scep_audit_event *ev);
    int (*add_challenge)(void *be, const struct scep_challenge_info *ci,
                         const struct scep_audit_event *ev, int64_t *id);
    /* by hash when hash is not NULL, else by id */
    int (*get_challenge)(void *be, int64_t id, const char *hash, struct scep_challenge_info **out);
    int (*list_challenges)(void *be, int include_spent, int64_t now, scep_store_challenge_cb cb,
                           void *arg);
    int (*revoke_challenge)(void *be, int64_t id, int64_t at, const struct scep_audit_event *ev);
    int (*purge_challenges)(void *be, int64_t now, int64_t *purged,
                            const struct scep_audit_event *ev);
    int (*purge_requests)(void *be, int64_t before, int64_t *purged,
                          const struct scep_audit_event *ev);
    int (*list_expiring)(void *be, int64_t now, int64_t until, scep_store_expiring_cb cb,
                         void *arg);
    int (*count_certs)(void *be, int64_t now, int64_t within, struct scep_cert_counts *out);
    int (*notice_claim)(void *be, const struct scep_notice_key *k, int64_t not_after,
                        const char *claimer, int64_t now, int64_t lease_until, int64_t *attempt);
    int (*notice_finish)(void *be, const struct scep_notice_key *k, const char *claimer,
                         int64_t attempt, int sent, int64_t now, int64_t next_attempt_at,
                         const char *error);
    int (*get_notice)(void *be, const struct scep_notice_key *k, struct scep_notice_info **out);
    int (*add_token)(void *be, const struct scep_token_info *ti, const struct scep_audit_event *ev,
                     int64_t *id);
    /* by hash when hash is not NULL, else by name */
    int (*get_token)(void *be, const char *hash, const char *name, struct scep_token_info **out);
    int (*list_tokens)(void *be, scep_store_token_cb cb, void *arg);
    int (*revoke_token)(void *be, const char *name, int64_t at, const struct scep_audit_event *ev);
    int (*touch_token)(void *be, int64_t id, int64_t at);
    int (*ping)(void *be);
    /* NULL: the backend cannot tell (scep_store_change_token). */
    int (*change_token)(void *be, uint64_t *out);
    const char *(*last_error)(void *be);
    /* Copying a store (store_copy.c); NULL where a backend cannot. */
    int (*export_rows)(void *be, scep_store_row_cb cb, void *arg);
    int (*import_begin)(void *be, char *why, size_t whylen);
    int (*import_row)(void *be, const struct scep_store_table *t,
                      const struct scep_store_value *row);
    int (*import_commit)(void *be, const struct scep_audit_event *ev);
    void (*import_abort)(void *be);
    /* Statistics (sqlite_stats.c, pg_stats.c); counts has n zeroed
     * entries, filled by the backend. */
    int (*count_certs_by_group)(void *be, int64_t now, scep_store_group_cb cb, void *arg);
    int (*cert_histogram)(void *be, int what, int64_t start, int64_t width, size_t n,
                          int64_t *counts);
};

/* The handle behind the public opaque struct scep_store. */
struct scep_store {
    const struct scep_store_ops *ops;
    void *be;
};

/*
 * A backend's open function.  uri is the whole store URI as the caller
 * gave it (a plain path for SQLite has no scheme).  On success it sets
 * *ops and *be (ops->close(be) releases them) and returns 0; on failure
 * it returns a negative SCEP_ERR_* and writes one line saying why into
 * why (whylen bytes, truncated; why may be NULL when whylen is 0), which
 * must not repeat a password the URI may hold.
 */
typedef int (*scep_store_open_fn)(const char *uri, const struct scep_store_ops **ops, void **be,
                                  char *why, size_t whylen);

/* One row of store.c's scheme table. */
struct scep_store_backend {
    const char *scheme; /* URI scheme, matched case-insensitively: "sqlite" */
    const char *alias;  /* a second name for the same scheme, or NULL */
    const char *what;   /* for messages: "SQLite", "PostgreSQL" */
    scep_store_open_fn open;
};

/* The SQLite backend's open function (sqlite_base.c): "sqlite:PATH",
 * "sqlite://PATH" or a plain PATH, created if absent, WAL,
 * synchronous=FULL, migrated. */
int scep_store_sqlite_open(const char *uri, const struct scep_store_ops **ops, void **be, char *why,
                           size_t whylen);

/* The PostgreSQL backend's open function (pg_base.c): "postgresql://"
 * or "postgres://", any libpq connection URI; connected with
 * synchronous_commit on, migrated under an advisory lock. */
int scep_store_pg_open(const char *uri, const struct scep_store_ops **ops, void **be, char *why,
                       size_t whylen);

/*
 * Fills ev as the "challenge-use" audit event every backend appends, in
 * the consuming row's transaction, when a certificate or request uses
 * one-time challenge id (challenge_use.c): like (that row's own event,
 * may be NULL) gives its actor, time, transactionID, peer and serial;
 * detail (len bytes) receives "challenge=ID" and is what ev->detail
 * points at.
 */
void scep_store_challenge_use_event(struct scep_audit_event *ev, char *detail, size_t len,
                                    int64_t id, const struct scep_audit_event *like);

/*
 * Computes the audit hash of ev chained to prev_hash (64 hex digits):
 * hex SHA-256 over a length-prefixed encoding of id, time and every
 * string field (audit_hash.c).  ev->time must already be filled in (the
 * "0 means now" rule is the caller's).  out receives 64 hex digits and a
 * NUL.  Returns 0 or SCEP_ERR_INTERNAL.
 */
int scep_audit_hash(const char *prev_hash, int64_t id, const struct scep_audit_event *ev,
                    char out[SCEP_AUDIT_HASH_HEX]);

/* The prev_hash of the first audit event: 64 zeros. */
#define SCEP_AUDIT_GENESIS "0000000000000000000000000000000000000000000000000000000000000000"

#endif
