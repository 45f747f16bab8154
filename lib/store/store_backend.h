/*
 * The store's backend interface (internal to lib/store/).  store.c holds
 * the public scep_store_* entry points and forwards each call through a
 * struct scep_store_ops; a backend (store_sqlite.c now, store_pg.c later)
 * fills one in and keeps its connection state behind the opaque be
 * pointer.  Callers outside lib/store/ never see this header, so adding a
 * backend changes nothing above the store.
 *
 * Every op returns 0 or a negative SCEP_ERR_*, with the same contract as
 * the public function of the same name in store.h; store.c has already
 * checked that the arguments named there as required are not NULL.
 */
#ifndef SCEP_STORE_BACKEND_H
#define SCEP_STORE_BACKEND_H

#include "store/store.h"

/* The length of a hex SHA-256 plus its terminating NUL. */
#define SCEP_AUDIT_HASH_HEX 65

struct scep_store_ops {
    const char *name; /* "sqlite", "postgres" */
    void (*close)(void *be);
    int (*schema_version)(void *be);
    int (*insert_cert)(void *be, const struct scep_cert_info *ci,
                       const struct scep_audit_event *ev);
    int (*get_cert)(void *be, const char *serial, struct scep_cert_info **out);
    int (*get_cert_by_transaction)(void *be, const char *transaction_id,
                                   struct scep_cert_info **out);
    int (*list_certs)(void *be, const struct scep_cert_filter *f, scep_store_cert_cb cb,
                      void *arg);
    int (*revoke)(void *be, const char *serial, int reason, int64_t at,
                  const struct scep_audit_event *ev);
    int (*audit)(void *be, const struct scep_audit_event *ev);
    int (*list_audit)(void *be, int64_t after_id, scep_store_audit_cb cb, void *arg);
    int (*verify_audit)(void *be, int64_t *bad_id);
    int (*next_crl_number)(void *be, int64_t *out);
    int (*add_request)(void *be, const struct scep_request_info *ri,
                       const struct scep_audit_event *ev, int64_t *id);
    int (*get_request)(void *be, int64_t id, struct scep_request_info **out);
    int (*get_request_by_transaction)(void *be, const char *transaction_id,
                                      struct scep_request_info **out);
    int (*list_requests)(void *be, int status, scep_store_request_cb cb, void *arg);
    int (*decide_request)(void *be, int64_t id, int status, const char *actor,
                          const char *reason, const struct scep_audit_event *ev);
    int (*issue_request)(void *be, int64_t id, const struct scep_cert_info *ci,
                         const struct scep_audit_event *ev);
    const char *(*last_error)(void *be);
};

/* The handle behind the public opaque struct scep_store. */
struct scep_store {
    const struct scep_store_ops *ops;
    void *be;
};

/*
 * Opens the SQLite database at path (created if absent), configures it
 * and applies pending migrations (store_sqlite.c).  On success *ops and
 * *be are set; ops->close(be) releases the connection.
 */
int scep_store_sqlite_open(const char *path, const struct scep_store_ops **ops, void **be);

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
