/*
 * The store: every issued certificate, its status, and the audit trail.
 * Callers see only this interface; the backend (SQLite or PostgreSQL),
 * chosen by the URI scheme given to scep_store_open(), sits
 * behind struct scep_store_ops (store_backend.h), so no SQL leaks out of
 * lib/store/.  tests/unit/test_store_contract.c checks every backend
 * against the contracts written here.
 *
 * One struct scep_store is one database connection; use one per thread.
 * Writes are durable (committed and synced) when the call returns: a
 * certificate is in the store before anyone sees it.  Several
 * processes (with PostgreSQL, several hosts) may share one store: what
 * must be unique or ordered (serials, one certificate per
 * transactionID, the audit chain, CRL numbers) is decided by the
 * database, not by the caller.
 */
#ifndef SCEP_STORE_STORE_H
#define SCEP_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

enum scep_cert_status { SCEP_CERT_VALID = 0, SCEP_CERT_REVOKED = 1 };

/*
 * A certificate record.  As input (insert) every pointer is borrowed; as
 * output (get) the record and everything in it is owned and freed with
 * scep_cert_info_free(); in list callbacks it is borrowed for the call.
 */
struct scep_cert_info {
    char *serial;       /* uppercase hex, no leading zero pairs beyond DER's */
    char *issuer_fp;    /* hex SHA-256 of the issuing CA certificate */
    char *subject;      /* RFC 2253 */
    char *sans;         /* "DNS:a.example, IP:192.0.2.1", NULL/empty: none */
    int64_t not_before; /* Unix time */
    int64_t not_after;
    int64_t issued_at;
    int status;            /* enum scep_cert_status */
    int64_t revoked_at;    /* 0 if not revoked */
    int revocation_reason; /* CRLReason, -1: none */
    char *transaction_id;  /* SCEP transactionID, NULL for non-SCEP issuance */
    char *requester;       /* peer address */
    char *msg_type;        /* "PKCSReq", "RenewalReq" */
    char *pubkey_fp;       /* hex SHA-256 of the SubjectPublicKeyInfo DER */
    char *renewed_serial;  /* for RenewalReq: serial of the signer certificate */
    unsigned char *der;
    size_t der_len;
    int64_t challenge_id; /* the one-time challenge that admitted it, 0: none (see
                           * scep_store_insert_cert) */
    /* The inventory (schema 7; see "The inventory" below). */
    char *profile;         /* enrollment profile, "" the default (NULL on input: "") */
    char *source;          /* SCEP_CERT_SOURCE_*: "scep" (NULL on input), "import", "tls" */
    char *seen_at;         /* external: the file or "host:port" it was found at; else NULL */
    char *fingerprint;     /* lowercase hex SHA-256 of der; output only: the store computes it */
    char *superseded_by;   /* output: serial of the certificate that renewed it, NULL: none */
    int64_t superseded_at; /* output: when it was superseded (Unix time), 0: not */
};

/*
 * The inventory.  Every certificate scepd issued (source "scep") and
 * every one it was shown (source "import": a file given to scepctl
 * import; "tls": served by a TLS endpoint) is a row, so that expiry
 * monitoring covers them all; imported ones are "external".  The store
 * records each row's fingerprint (SHA-256 of the DER, indexed).  An
 * external certificate is stored once: its key (below) is derived from
 * the fingerprint, so a second insert of the same DER is
 * SCEP_ERR_EXISTS; importing one of ours is refused by
 * scep_admin_import_cert, which looks the fingerprint up first.
 *
 * An external certificate's serial belongs to another CA and is unique
 * nowhere, so the store keys it (the serial field) by its fingerprint
 * instead: scep_store_external_key() gives that key, longer than any
 * RFC 5280 serial (20 octets) so that it never names one of ours, and
 * the certificate's own serial stays in its DER.  External certificates
 * have no issuer_fp (no CA of ours issued them) and cannot be revoked:
 * they never appear in a CRL or an OCSP answer of ours.
 *
 * Supersession: a certificate inserted with renewed_serial set (a
 * RenewalReq, or a PKCSReq signed by the old certificate) marks the old
 * one superseded, superseded_by naming the new serial and superseded_at
 * the time, in the same transaction as the insert (a second renewal of
 * the same old certificate points it at the newest).  Superseded is not
 * a stored status: the status stays valid until someone revokes it
 * (scep_admin_revoke_superseded, reason superseded); shown, a valid
 * certificate that is superseded reads "superseded".
 */
#define SCEP_CERT_SOURCE_SCEP "scep"
#define SCEP_CERT_SOURCE_IMPORT "import"
#define SCEP_CERT_SOURCE_TLS "tls"

/* Bits of scep_cert_filter.sources. */
#define SCEP_CERT_SRC_SCEP 1u
#define SCEP_CERT_SRC_IMPORT 2u
#define SCEP_CERT_SRC_TLS 4u
#define SCEP_CERT_SRC_EXTERNAL (SCEP_CERT_SRC_IMPORT | SCEP_CERT_SRC_TLS)

/* The store key of an external certificate: its fingerprint's first
 * SCEP_EXTERNAL_KEY_BYTES bytes in the serial convention (uppercase
 * hex, "00" before a top bit), at most 62 digits. */
#define SCEP_EXTERNAL_KEY_BYTES 30
#define SCEP_EXTERNAL_KEY_LEN (2 * SCEP_EXTERNAL_KEY_BYTES + 3)

/*
 * Writes the store key of the external certificate whose fingerprint
 * (64 hex digits, either case) is fp into out (SCEP_EXTERNAL_KEY_LEN
 * bytes).  Returns 0 or SCEP_ERR_INVALID_ARG.
 */
int scep_store_external_key(const char *fp, char out[SCEP_EXTERNAL_KEY_LEN]);

/* An audit event.  Input: borrowed strings.  Output (list callback):
 * borrowed for the call. */
struct scep_audit_event {
    int64_t id;        /* output only: sequence number */
    int64_t time;      /* Unix time; 0 on input: now */
    const char *kind;  /* "issue", "refuse", "revoke", "ca-init", "crl", ... */
    const char *actor; /* "scepd", "scepctl:<user>", ... */
    const char *transaction_id;
    const char *peer;
    const char *serial;
    const char *detail; /* free text: reason, failInfo, subject */
    const char *hash;   /* output only: hex SHA-256 chaining this event */
};

struct scep_cert_filter {
    int status;               /* -1: any, else enum scep_cert_status */
    int expiring_within;      /* >0: only valid certs whose not_after < now + this many seconds */
    int include_expired;      /* 0: leave out certs whose not_after has passed */
    const char *subject_like; /* substring of the subject, NULL: any */
    int64_t limit;            /* 0: no limit */
    const char *issuer_fp;    /* NULL: any issuer, else only certs whose issuer_fp equals it
                               * (exact match on the stored hex) */
    /* Schema 7 (the inventory); zero is "any" for each. */
    const char *san_like;      /* substring of the SANs, NULL: any */
    const char *profile;       /* NULL: any, else exactly this profile ("": the default) */
    const char *serial_prefix; /* NULL: any, else serials starting with it (store form) */
    int64_t issued_after;      /* >0: only issued_at >= this */
    int64_t issued_before;     /* >0: only issued_at < this */
    int superseded;            /* SCEP_FILTER_ANY, _ONLY (superseded) or _NOT */
    int64_t superseded_before; /* >0: only certs superseded before this time (implies _ONLY) */
    unsigned sources;          /* 0: any, else SCEP_CERT_SRC_* bits */
    int order;                 /* SCEP_CERT_ORDER_ISSUED (0) or SCEP_CERT_ORDER_EXPIRY */
    /* Keyset paging: with after_serial set, only the rows after
     * (after_key, after_serial) in the listing's order: issued_at <
     * after_key, or equal and serial > after_serial (ORDER_ISSUED);
     * not_after > after_key, or equal and serial greater (ORDER_EXPIRY).
     * The store starts there through its indexes, so a page deep in a
     * large inventory costs what the first one does. */
    int64_t after_key;
    const char *after_serial; /* NULL: from the start; else 1 to 128 bytes */
};

/*
 * subject_like and san_like match case-insensitively (ASCII), anywhere
 * in the stored text, which is RFC 2253: "CN=dev,O=Example" with the
 * most significant RDN last, as every front end shows it.  Three
 * characters or more are looked up in a trigram index (SQLite FTS5,
 * PostgreSQL pg_trgm where the extension is installed); shorter ones,
 * and PostgreSQL without pg_trgm, scan.
 */
#define SCEP_FILTER_ANY 0
#define SCEP_FILTER_ONLY 1
#define SCEP_FILTER_NOT 2

/* Orders of a listing: newest first (issued_at descending, the
 * default), or soonest to expire first (not_after ascending), which
 * an expiry index answers without sorting. */
#define SCEP_CERT_ORDER_ISSUED 0
#define SCEP_CERT_ORDER_EXPIRY 1

typedef int (*scep_store_cert_cb)(const struct scep_cert_info *ci, void *arg);
typedef int (*scep_store_audit_cb)(const struct scep_audit_event *ev, void *arg);
struct scep_request_info;
typedef int (*scep_store_request_cb)(const struct scep_request_info *ri, void *arg);

struct scep_store; /* opaque */

/*
 * Opens the store named by uri and applies pending schema migrations.
 * The scheme picks the backend: "sqlite:PATH", "sqlite://PATH" or a
 * plain PATH (no "scheme:" in front) is SQLite (created if absent, WAL
 * mode, synchronous=FULL, busy timeout); "postgresql://" and
 * "postgres://" are PostgreSQL, any libpq connection URI (the password
 * best from PGPASSFILE, passfile= or PGPASSWORD; synchronous_commit on;
 * migrated under an advisory lock, so several nodes may open one new
 * database at once); any other scheme is SCEP_ERR_UNSUPPORTED.  Returns
 * 0 with *out set
 * (close with scep_store_close()), or a negative SCEP_ERR_* with one
 * line in why (whylen bytes, truncated to fit; why may be NULL) saying
 * what failed, e.g. "sqlite:/x/y.db: unable to open database file
 * (permission denied)" or "sqlite:/x/y.db: schema version 9 is newer than
 * this scepd (3)" or "postgresql: connection to server at "127.0.0.1",
 * port 5432 failed: Connection refused; ...".  A password in the URI is
 * never copied into why.  On success why is set to "".
 */
int scep_store_open(const char *uri, struct scep_store **out, char *why, size_t whylen);
void scep_store_close(struct scep_store *st);

/* Schema version after migrations. */
int scep_store_schema_version(struct scep_store *st);

/*
 * Inserts ci and appends ev (may be NULL) in one durable transaction.
 * SCEP_ERR_EXISTS when the serial is already stored, and
 * SCEP_ERR_TRANSID_REUSE when ci->transaction_id (if not NULL) already
 * has a certificate: at most one per transactionID, checked under the
 * write lock (nothing written in either case).  When ci->challenge_id is
 * > 0, one use of that challenge is consumed in the same transaction
 * (see "One-time challenges" below); SCEP_ERR_CHALLENGE when it is
 * unknown, used up, revoked or expired (nothing written).  Schema 7:
 * the store computes ci->fingerprint, and a ci->renewed_serial marks
 * that certificate superseded by this one in the same transaction (see
 * "The inventory").  A ci->source other than "scep" must have no
 * issuer_fp and be valid.
 */
int scep_store_insert_cert(struct scep_store *st, const struct scep_cert_info *ci,
                           const struct scep_audit_event *ev);

/*
 * Inserts the n records of cis (each as scep_store_insert_cert would,
 * fingerprint and supersession included; challenge_id must be 0) and
 * appends ev (may be NULL), in ONE transaction: all or nothing.  For
 * loading many rows at once (test data, benchmarks, migrating another
 * CA's records), where a durable commit per row would cost a disk sync
 * each.  Returns 0, or the first failure (SCEP_ERR_EXISTS,
 * SCEP_ERR_TRANSID_REUSE, SCEP_ERR_INVALID_ARG, ...) with nothing
 * written.
 */
int scep_store_insert_certs(struct scep_store *st, const struct scep_cert_info *cis, size_t n,
                            const struct scep_audit_event *ev);

/* Looks a certificate up by its fingerprint (lowercase hex SHA-256 of
 * the DER; either case accepted); SCEP_ERR_NOT_FOUND when absent.
 * *out: free with scep_cert_info_free(). */
int scep_store_get_cert_by_fingerprint(struct scep_store *st, const char *fingerprint,
                                       struct scep_cert_info **out);

/* Looks a certificate up by serial (store key); SCEP_ERR_NOT_FOUND when
 * absent.  *out: free with scep_cert_info_free(). */
int scep_store_get_cert(struct scep_store *st, const char *serial, struct scep_cert_info **out);

/* The certificate issued for transaction_id, or SCEP_ERR_NOT_FOUND.
 * (Databases written before the one-per-transactionID rule may hold
 * several: the most recent is returned.) */
int scep_store_get_cert_by_transaction(struct scep_store *st, const char *transaction_id,
                                       struct scep_cert_info **out);

/* Calls cb for each matching certificate, newest first; a non-zero return
 * from cb stops the walk and is returned. */
int scep_store_list_certs(struct scep_store *st, const struct scep_cert_filter *f,
                          scep_store_cert_cb cb, void *arg);

/*
 * Marks serial revoked with reason at time at, with ev appended, in one
 * transaction.  SCEP_ERR_NOT_FOUND, or SCEP_ERR_EXISTS if already
 * revoked; SCEP_ERR_POLICY for an external certificate (not ours to
 * revoke).
 */
int scep_store_revoke(struct scep_store *st, const char *serial, int reason, int64_t at,
                      const struct scep_audit_event *ev);

/*
 * Takes serial, revoked with reason certificateHold (6), back to valid
 * (status valid, revoked_at 0, reason -1), with ev (may be NULL)
 * appended, in one transaction.  SCEP_ERR_NOT_FOUND when absent;
 * SCEP_ERR_POLICY when it is not revoked, or revoked with another
 * reason: a hold is the only revocation that may be released (RFC 5280
 * 5.3.1).  Nothing is written unless it returns 0.
 */
int scep_store_unhold(struct scep_store *st, const char *serial, const struct scep_audit_event *ev);

/* Appends one audit event (its own transaction). */
int scep_store_audit(struct scep_store *st, const struct scep_audit_event *ev);

/* Calls cb for each audit event with id > after_id, oldest first. */
int scep_store_list_audit(struct scep_store *st, int64_t after_id, scep_store_audit_cb cb,
                          void *arg);

/* Recomputes the audit hash chain.  0 when intact; SCEP_ERR_STORE with
 * *bad_id set to the first event whose hash does not match. */
int scep_store_verify_audit(struct scep_store *st, int64_t *bad_id);

/* Allocates the next CRL number (monotonic, durable). */
int scep_store_next_crl_number(struct scep_store *st, int64_t *out);

/*
 * The published CRLs (schema 8): the last CRL made for each CA, kept in
 * the store so that every scepd node sharing it serves the same CRL and
 * only one makes the next (lib/admin/crl_current.c).
 */
struct scep_store_crl {
    char issuer_fp[65];       /* hex SHA-256 of the CA certificate that signed it */
    int64_t number;           /* its crlNumber */
    int64_t made;             /* thisUpdate, Unix seconds */
    int64_t next_update;      /* nextUpdate, Unix seconds */
    unsigned char digest[32]; /* scep_admin_crl_digest() of what it lists */
    unsigned char *der;       /* the CRL; owned, see scep_store_crl_clear() */
    size_t len;
};

/* Frees c->der and zeroes c.  Accepts NULL. */
void scep_store_crl_clear(struct scep_store_crl *c);

/*
 * Reads the stored CRL of the CA whose certificate has fingerprint
 * issuer_fp into *out (cleared first; free with scep_store_crl_clear()).
 * Returns 0, SCEP_ERR_NOT_FOUND when none was stored, or SCEP_ERR_STORE.
 */
int scep_store_get_crl(struct scep_store *st, const char *issuer_fp, struct scep_store_crl *out);

/*
 * Stores c as its CA's CRL unless one with the same or a larger number
 * is stored already (a node that made a CRL late never replaces a newer
 * one).  Returns 0 (stored or not), SCEP_ERR_INVALID_ARG or
 * SCEP_ERR_STORE.
 */
int scep_store_put_crl(struct scep_store *st, const struct scep_store_crl *c);

/*
 * Tries to take the lock under which one CRL of the CA issuer_fp is
 * made, so that of several processes or nodes on one store one signs a
 * new CRL at a time: PostgreSQL's advisory lock of this session, for
 * SQLite a lock on a byte of DATABASE.crl-lock.  Never waits.  *got is 1 when
 * this handle now holds it (give it back with scep_store_unlock_crl()),
 * 0 when someone else does.  One lock at a time per handle.  Returns 0
 * or SCEP_ERR_STORE.
 */
int scep_store_try_lock_crl(struct scep_store *st, const char *issuer_fp, int *got);

/* Gives back the lock scep_store_try_lock_crl() took (a no-op when none
 * is held).  Returns 0 or SCEP_ERR_STORE. */
int scep_store_unlock_crl(struct scep_store *st);

/*
 * Writes uri into buf (len bytes, truncated to fit) as it may be shown
 * in messages and output: the password a URI may hold, after "user:" in
 * its authority or as a password= parameter, becomes "***"; anything
 * else is copied as it is.  Returns buf (borrowed from the caller).
 */
const char *scep_store_uri_redacted(const char *uri, char *buf, size_t len);

/*
 * Checks that the database answers, with a trivial read on this
 * connection (re-establishing a lost PostgreSQL connection on the way,
 * as any call would).  For health checks.  Returns 0,
 * SCEP_ERR_UNAVAILABLE (the server cannot be reached) or SCEP_ERR_STORE.
 */
int scep_store_ping(struct scep_store *st);

/*
 * A token that stays the same while nothing can have been committed to
 * the store by any connection of any process, so that a caller that
 * read something under token T may use it again as long as it gets T
 * again, without a query (the OCSP answer cache).  Take the token
 * before the read it vouches for.  SQLite: the identity, size and times
 * of the database and its WAL file, one stat() each, given only once
 * they have been quiet for a few seconds (file times come from a coarse
 * clock, so a commit within the same tick as an earlier one could leave
 * them alone).  Returns 0 with *out, or SCEP_ERR_UNAVAILABLE (not now:
 * a recent commit, or no WAL file) or SCEP_ERR_UNSUPPORTED (PostgreSQL:
 * commits of other nodes leave no trace here); then read.
 */
int scep_store_change_token(struct scep_store *st, uint64_t *out);

/* The text of the last database failure on st ("" if none), for logs;
 * borrowed, valid until the next call on st. */
const char *scep_store_last_error(struct scep_store *st);

/* Frees an owned record.  Accepts NULL. */
void scep_cert_info_free(struct scep_cert_info *ci);

/* ------------------------------------------------------------------ */
/* Requests waiting for an administrator (approval = manual)          */
/* ------------------------------------------------------------------ */

enum scep_request_status {
    SCEP_REQ_PENDING = 0,  /* waiting for approve/reject */
    SCEP_REQ_APPROVED = 1, /* approved; scepd issues at the client's next poll */
    SCEP_REQ_REJECTED = 2, /* rejected; polls get FAILURE badRequest */
    SCEP_REQ_ISSUED = 3    /* the certificate (serial) was issued */
};

/*
 * A certificate request held for approval.  Ownership as for struct
 * scep_cert_info: borrowed on input, owned on output (free with
 * scep_request_info_free()), borrowed in list callbacks.
 */
struct scep_request_info {
    int64_t id;           /* output: sequence number */
    char *transaction_id; /* unique among requests */
    char *subject;        /* RFC 2253, of the CSR (or the renewed cert) */
    char *sans;           /* as in struct scep_cert_info */
    char *pubkey_fp;      /* hex SHA-256 of the CSR's SubjectPublicKeyInfo */
    char *msg_type;       /* "PKCSReq", "RenewalReq" */
    char *requester;      /* peer address */
    int64_t created_at;
    int status;             /* enum scep_request_status */
    int64_t decided_at;     /* 0 while pending */
    char *decided_by;       /* actor, e.g. "scepctl:root" */
    char *reason;           /* rejection reason, or NULL */
    char *serial;           /* issued certificate's serial, or NULL */
    unsigned char *csr_der; /* the PKCS#10 as received */
    size_t csr_len;
    int64_t challenge_id; /* the one-time challenge it came with, 0: none */
    char *profile;        /* the profile it came in by, "" the default (NULL on input: "") */
};

/*
 * Stores a new PENDING request and appends ev (may be NULL) in one
 * transaction; *id (may be NULL) receives its id.  SCEP_ERR_EXISTS when a
 * request with that transaction_id is already stored (nothing written).
 * When ri->challenge_id is > 0 one use of that challenge is consumed in
 * the same transaction, as by scep_store_insert_cert (SCEP_ERR_CHALLENGE,
 * nothing written, when it cannot be); issuing the request later does
 * not consume again.
 */
int scep_store_add_request(struct scep_store *st, const struct scep_request_info *ri,
                           const struct scep_audit_event *ev, int64_t *id);

/* Looks a request up by id or by transactionID; SCEP_ERR_NOT_FOUND when
 * absent.  *out: free with scep_request_info_free(). */
int scep_store_get_request(struct scep_store *st, int64_t id, struct scep_request_info **out);
int scep_store_get_request_by_transaction(struct scep_store *st, const char *transaction_id,
                                          struct scep_request_info **out);

/* Calls cb for each request with the given status (-1: any), oldest
 * first; a non-zero return from cb stops the walk and is returned. */
int scep_store_list_requests(struct scep_store *st, int status, scep_store_request_cb cb,
                             void *arg);

/*
 * Approves or rejects (status SCEP_REQ_APPROVED / SCEP_REQ_REJECTED) a
 * PENDING request, recording actor, reason (may be NULL) and now, with ev
 * appended, in one transaction.  SCEP_ERR_NOT_FOUND, or SCEP_ERR_EXISTS
 * when the request is no longer pending (nothing written).
 */
int scep_store_decide_request(struct scep_store *st, int64_t id, int status, const char *actor,
                              const char *reason, const struct scep_audit_event *ev);

/*
 * Issues an APPROVED request: inserts ci (as scep_store_insert_cert) and
 * marks request id ISSUED with ci->serial, with ev appended, in one
 * durable transaction.  The certificate records the request's
 * challenge_id (ci->challenge_id is ignored) and consumes nothing: the
 * request used the challenge when it was stored.  SCEP_ERR_EXISTS on a duplicate serial,
 * SCEP_ERR_TRANSID_REUSE when ci->transaction_id already has a
 * certificate; SCEP_ERR_NOT_FOUND / SCEP_ERR_INVALID_ARG when the
 * request is absent or not APPROVED (nothing written).
 */
int scep_store_issue_request(struct scep_store *st, int64_t id, const struct scep_cert_info *ci,
                             const struct scep_audit_event *ev);

/*
 * Deletes the requests decided before before (decided_at < before) that
 * nothing waits for any more: rejected ones and issued ones (their
 * certificate is in the certificates, which keep the transactionID, so a
 * late poll still gets it back).  Pending and approved-not-yet-issued
 * requests stay.  In one transaction; ev (may be NULL) is appended only
 * when something was deleted, so that a quiet purge leaves no trail.
 * *purged (may be NULL) receives the count.  0 or SCEP_ERR_*.
 */
int scep_store_purge_requests(struct scep_store *st, int64_t before, int64_t *purged,
                              const struct scep_audit_event *ev);

/* Frees an owned request record.  Accepts NULL. */
void scep_request_info_free(struct scep_request_info *ri);

/* ------------------------------------------------------------------ */
/* One-time enrollment challenges                                     */
/* ------------------------------------------------------------------ */

/*
 * A challenge an administrator minted (lib/admin/challenges.c).  The
 * store never sees the challenge text, only its hash: lowercase hex
 * SHA-256 (scep_admin_challenge_hash()).  A challenge admits max_uses
 * enrollments (each certificate inserted or request stored with its id
 * consumes one) until expires_at, unless revoked.  Ids are never reused,
 * not even after a purge, so the challenge_id a certificate or request
 * records keeps naming the challenge that admitted it (the table has no
 * foreign key: certificates outlive the challenges they came with).
 *
 * Ownership as for struct scep_cert_info: borrowed on input (add), owned
 * on output (free with scep_challenge_info_free()), borrowed in list
 * callbacks.
 */
struct scep_challenge_info {
    int64_t id;         /* output: sequence number */
    char *hash;         /* 64 lowercase hex digits, unique */
    char *profile;      /* "" (or NULL on input): the default profile */
    char *subject;      /* bound subject, RFC 2253 text as given; NULL: any */
    char *sans;         /* bound SANs, "TYPE:VALUE" items joined by "\n"; NULL: any */
    int64_t max_uses;   /* >= 1 */
    int64_t uses;       /* output: consumed so far */
    int64_t created_at; /* Unix time; 0 on input: now */
    int64_t expires_at; /* Unix time; usable while now < expires_at */
    int64_t revoked_at; /* output: 0 unless revoked */
    char *created_by;   /* actor who minted it */
};

typedef int (*scep_store_challenge_cb)(const struct scep_challenge_info *ci, void *arg);

/*
 * Stores a new challenge (ci->id, uses and revoked_at are ignored) and
 * appends ev (may be NULL), in one durable transaction; *id_out (may be
 * NULL) receives its id.  hash (64 lowercase hex digits), max_uses >= 1
 * and expires_at are required.  SCEP_ERR_EXISTS when a challenge with
 * that hash is already stored (nothing written).
 */
int scep_store_add_challenge(struct scep_store *st, const struct scep_challenge_info *ci,
                             const struct scep_audit_event *ev, int64_t *id_out);

/* Looks a challenge up by hash or by id; SCEP_ERR_NOT_FOUND when
 * absent.  *out: free with scep_challenge_info_free(). */
int scep_store_get_challenge_by_hash(struct scep_store *st, const char *hash,
                                     struct scep_challenge_info **out);
int scep_store_get_challenge(struct scep_store *st, int64_t id, struct scep_challenge_info **out);

/*
 * Calls cb for each challenge, oldest first: with include_spent 0 only
 * those still usable now (not revoked, not used up, not expired), else
 * all.  A non-zero return from cb stops the walk and is returned.
 */
int scep_store_list_challenges(struct scep_store *st, int include_spent, scep_store_challenge_cb cb,
                               void *arg);

/*
 * Revokes challenge id at time at (0: now), with ev (may be NULL)
 * appended, in one transaction: it admits nothing from then on.
 * SCEP_ERR_NOT_FOUND, or SCEP_ERR_EXISTS when it is already revoked
 * (nothing written).  A used-up or expired challenge can still be
 * revoked (it records the administrator's intent).
 */
int scep_store_revoke_challenge(struct scep_store *st, int64_t id, int64_t at,
                                const struct scep_audit_event *ev);

/*
 * Deletes every challenge that can admit nothing any more: expires_at <=
 * now, or revoked.  A used-up one stays until it expires: a client
 * retrying the transaction that used it is recognised by it (and gets
 * its certificate back).  ev (may be NULL) is appended, in one
 * transaction; *purged (may be NULL) receives the
 * count.  Certificates and requests keep their challenge_id (ids are
 * never reused, see above).  ev is appended even when nothing matched.
 */
int scep_store_purge_challenges(struct scep_store *st, int64_t now, int64_t *purged,
                                const struct scep_audit_event *ev);

/* Frees an owned challenge record.  Accepts NULL. */
void scep_challenge_info_free(struct scep_challenge_info *ci);

/* ------------------------------------------------------------------ */
/* Expiry notices (issue 8)                                           */
/* ------------------------------------------------------------------ */

/*
 * The certificates the expiry job watches (lib/admin/notify.c) and that
 * "scepctl expiring" lists: every certificate row, whatever put it in the
 * store (issued here or imported), that is valid (not revoked), has not
 * expired at now (not_after > now), expires by until (not_after <=
 * until), and is not renewed: no other certificate names it in
 * renewed_serial.  (A "superseded" flag, when the schema has one, is one
 * more condition of the same query in each backend.)  profile is the
 * profile of the one-time challenge that admitted the certificate while
 * that challenge is still stored, else NULL.  Both pointers are borrowed
 * for the call.
 */
typedef int (*scep_store_expiring_cb)(const struct scep_cert_info *ci, const char *profile,
                                      void *arg);

/*
 * Calls cb for each certificate described above, soonest to expire
 * first (ties by serial); a non-zero return from cb stops the walk and
 * is returned.  cb may call back into the store.  SCEP_ERR_INVALID_ARG
 * when until < now.
 */
int scep_store_list_expiring(struct scep_store *st, int64_t now, int64_t until,
                             scep_store_expiring_cb cb, void *arg);

/* Certificates by state at a time, for gauges. */
struct scep_cert_counts {
    int64_t valid;    /* not revoked, not expired */
    int64_t revoked;  /* revoked (expired or not) */
    int64_t expired;  /* not revoked, not_after <= now */
    int64_t expiring; /* of valid: what scep_store_list_expiring(now, now + within) lists */
};

/* Counts the certificates at now into *out, expiring ones within
 * `within` seconds (>= 0).  0 or SCEP_ERR_STORE. */
int scep_store_count_certs(struct scep_store *st, int64_t now, int64_t within,
                           struct scep_cert_counts *out);

enum scep_notice_state {
    SCEP_NOTICE_SENDING = 0, /* claimed; the claimer is sending it (until lease_until) */
    SCEP_NOTICE_SENT = 1,    /* delivered: never claimed again */
    SCEP_NOTICE_FAILED = 2   /* the last attempt failed; claimable again at next_attempt_at */
};

/*
 * One notice: certificate serial, crossed threshold (seconds before
 * not_after) and channel ("webhook", "email").  The triple is the
 * notice's identity, unique in the store.
 */
struct scep_notice_key {
    const char *serial;
    int64_t threshold;
    const char *channel;
};

/* A notice's record.  Owned (free with scep_notice_info_free()). */
struct scep_notice_info {
    char *serial;
    int64_t threshold;
    char *channel;
    int64_t not_after; /* the certificate's, when first claimed */
    int state;         /* enum scep_notice_state */
    int64_t attempts;  /* claims so far, this one included */
    char *claimed_by;  /* the last claimer's name */
    int64_t claimed_at;
    int64_t lease_until;     /* SENDING: another claimer may take it over after this */
    int64_t next_attempt_at; /* FAILED: claimable from this time on */
    int64_t sent_at;         /* SENT: when */
    char *last_error;        /* FAILED: why, NULL otherwise */
};

/*
 * Claims notice k for claimer (a name unique to the process, say
 * "host:pid:random") at now, in one durable transaction, before anything
 * is sent.  The claim is a new row (INSERT ... ON CONFLICT DO NOTHING on
 * the notice's unique key, the same statement in both backends), or an
 * existing one taken over: FAILED with next_attempt_at <= now, or
 * SENDING with lease_until <= now (its claimer died or hung while
 * sending).  A guarded UPDATE makes the takeover, so of several claimers
 * racing, on any number of nodes, exactly one gets it.  The claim lasts
 * until lease_until (> now).  not_after is recorded with a new row.
 * Returns 0 with *attempt (may be NULL) set to the claim's attempt
 * number (1 for the first), which finishing the notice must quote; or
 * SCEP_ERR_EXISTS when it is not to be claimed now: sent, being sent by
 * someone else, or waiting for its retry time (nothing written).
 */
int scep_store_notice_claim(struct scep_store *st, const struct scep_notice_key *k,
                            int64_t not_after, const char *claimer, int64_t now,
                            int64_t lease_until, int64_t *attempt);

/*
 * Records the outcome of claimer's attempt (the number claim gave) on
 * notice k at now: sent (SENT, sent_at = now) or failed (FAILED, retried
 * from next_attempt_at, with error; may be NULL).  Only the holder of
 * the claim may: SCEP_ERR_NOT_FOUND when the notice is not SENDING under
 * that claimer and attempt (the lease ran out and someone else took it
 * over; nothing written).
 */
int scep_store_notice_finish(struct scep_store *st, const struct scep_notice_key *k,
                             const char *claimer, int64_t attempt, int sent, int64_t now,
                             int64_t next_attempt_at, const char *error);

/* Looks a notice up; SCEP_ERR_NOT_FOUND when absent.  *out: free with
 * scep_notice_info_free(). */
int scep_store_get_notice(struct scep_store *st, const struct scep_notice_key *k,
                          struct scep_notice_info **out);

/* Frees an owned notice record.  Accepts NULL. */
void scep_notice_info_free(struct scep_notice_info *ni);
/* API bearer tokens                                                  */
/* ------------------------------------------------------------------ */

/*
 * A bearer token of the admin API (lib/admin/tokens.c).  As with
 * challenges, the store never sees the token, only its hash: lowercase
 * hex SHA-256 of the token text.  A token authenticates until expires_at
 * (0: no expiry) unless revoked.  Names are unique (they are what the
 * audit trail shows, "api:NAME"), hashes too.
 *
 * Ownership as for struct scep_cert_info: borrowed on input (add), owned
 * on output (free with scep_token_info_free()), borrowed in list
 * callbacks.
 */
struct scep_token_info {
    int64_t id;           /* output: sequence number */
    char *name;           /* unique; what the audit trail names */
    char *role;           /* "admin", "operator" or "auditor" */
    char *hash;           /* 64 lowercase hex digits, unique */
    int64_t created_at;   /* Unix time; 0 on input: now */
    int64_t expires_at;   /* Unix time; 0: never */
    int64_t revoked_at;   /* output: 0 unless revoked */
    int64_t last_used_at; /* output: 0 until first used (coarse, see touch) */
    char *created_by;     /* actor who minted it */
};

typedef int (*scep_store_token_cb)(const struct scep_token_info *ti, void *arg);

/*
 * Stores a new token (id, revoked_at and last_used_at are ignored) and
 * appends ev (may be NULL), in one durable transaction; *id_out (may be
 * NULL) receives its id.  name (non-empty), role, hash (64 lowercase hex
 * digits) are required.  SCEP_ERR_EXISTS when a token of that name or
 * with that hash is already stored, revoked or not (nothing written).
 */
int scep_store_add_token(struct scep_store *st, const struct scep_token_info *ti,
                         const struct scep_audit_event *ev, int64_t *id_out);

/* Looks a token up by hash or by name; SCEP_ERR_NOT_FOUND when absent
 * (also for a hash that is not 64 lowercase hex digits).  *out: free
 * with scep_token_info_free(). */
int scep_store_get_token_by_hash(struct scep_store *st, const char *hash,
                                 struct scep_token_info **out);
int scep_store_get_token_by_name(struct scep_store *st, const char *name,
                                 struct scep_token_info **out);

/* Calls cb for each token (revoked and expired ones too), oldest first;
 * a non-zero return from cb stops the walk and is returned. */
int scep_store_list_tokens(struct scep_store *st, scep_store_token_cb cb, void *arg);

/*
 * Revokes the token called name at time at (0: now), with ev (may be
 * NULL) appended, in one transaction.  SCEP_ERR_NOT_FOUND, or
 * SCEP_ERR_EXISTS when it is already revoked (nothing written).
 */
int scep_store_revoke_token(struct scep_store *st, const char *name, int64_t at,
                            const struct scep_audit_event *ev);

/*
 * Records that token id was used at time at: last_used_at becomes at
 * unless it is already at or later (no audit event: a use is not a
 * change of state).  SCEP_ERR_NOT_FOUND when there is no such token.
 */
int scep_store_touch_token(struct scep_store *st, int64_t id, int64_t at);

/* Frees an owned token record.  Accepts NULL. */
void scep_token_info_free(struct scep_token_info *ti);

/* ------------------------------------------------------------------ */
/* Statistics (the admin API's GET /stats, the console's charts)      */
/* ------------------------------------------------------------------ */

/*
 * The certificates of one group, (source, profile), by state at a time.
 * The four states do not overlap and add up to the group's rows.
 * Strings are borrowed for the callback.
 */
struct scep_cert_group_counts {
    const char *source;  /* SCEP_CERT_SOURCE_* */
    const char *profile; /* "" the default */
    int64_t valid;       /* not revoked, not expired, not superseded */
    int64_t superseded;  /* not revoked, not expired, superseded_by set */
    int64_t revoked;     /* revoked (expired or not) */
    int64_t expired;     /* not revoked, not_after <= now */
};

typedef int (*scep_store_group_cb)(const struct scep_cert_group_counts *g, void *arg);

/*
 * Calls cb once for each (source, profile) that has certificates, in
 * order of source then profile, with its counts at now (one GROUP BY,
 * the same statement in both backends); a non-zero return from cb
 * stops the walk and is returned.  0 or SCEP_ERR_STORE.
 */
int scep_store_count_certs_by_group(struct scep_store *st, int64_t now, scep_store_group_cb cb,
                                    void *arg);

/* What scep_store_cert_histogram counts. */
#define SCEP_HIST_ISSUED 0 /* issued_at of the certificates issued here (source scep) */
#define SCEP_HIST_EXPIRY 1 /* not_after of the valid, unsuperseded ones, any source */
/* Buckets one histogram has at most. */
#define SCEP_HIST_MAX_BUCKETS 1024

/*
 * Counts certificates into n buckets of width seconds from start:
 * counts[i] is how many have their time (per what, above) in
 * [start + i * width, start + (i + 1) * width).  A certificate revoked
 * or superseded is left out of SCEP_HIST_EXPIRY.  counts (n entries,
 * 1 <= n <= SCEP_HIST_MAX_BUCKETS, width >= 1, start >= 0) is filled on
 * success only.  0, SCEP_ERR_INVALID_ARG or SCEP_ERR_STORE.
 */
int scep_store_cert_histogram(struct scep_store *st, int what, int64_t start, int64_t width,
                              size_t n, int64_t *counts);

/* ------------------------------------------------------------------ */
/* Copying a store row by row (scepctl migrate, lib/admin/migrate.c)  */
/* ------------------------------------------------------------------ */

/*
 * A copy moves every row of every table, its columns as they are stored
 * (ids, hashes, DER, the audit chain's prev_hash and hash), from one
 * store to another of any backend, so that the target is the source:
 * the same certificates, requests, challenges (hashes and uses),
 * notices, tokens, CRL number and an audit chain that verifies.  The
 * tables and their columns are described once, in store_copy.c, for
 * schema version SCEP_STORE_COPY_VERSION; both stores must be at that
 * version (a schema step that adds a column must add it there too:
 * the contract test fails until it does).
 */
#define SCEP_STORE_COPY_VERSION 8

/* A column's type, as both backends store it. */
#define SCEP_COL_INT 1  /* INTEGER / BIGINT */
#define SCEP_COL_TEXT 2 /* TEXT */
#define SCEP_COL_BLOB 3 /* BLOB / BYTEA */

struct scep_store_column {
    const char *name;
    int type; /* SCEP_COL_* */
};

/* One table of a copy.  Static: never freed. */
struct scep_store_table {
    const char *name;
    const struct scep_store_column *cols;
    size_t ncols;
    const char *order;    /* the export's ORDER BY: the primary key */
    const char *max_of;   /* a one-row counter: on import the larger of the two values of
                           * this column is kept (the CRL number), else NULL */
    const char *sequence; /* the column a sequence hands out (PostgreSQL's BIGSERIAL id),
                           * moved past the copied rows on import, else NULL */
};

/* One value of a row; null set means SQL NULL (the rest is unused). */
struct scep_store_value {
    int null;
    int64_t i;              /* SCEP_COL_INT */
    const char *s;          /* SCEP_COL_TEXT, NUL-terminated */
    const unsigned char *b; /* SCEP_COL_BLOB, len bytes */
    size_t len;
};

/* The tables a copy carries, in the order it writes them; *n receives
 * how many.  Static. */
const struct scep_store_table *scep_store_copy_tables(size_t *n);

/* A row of table t: t->ncols values in t->cols' order, borrowed for the
 * call.  A non-zero return stops the export and is returned. */
typedef int (*scep_store_row_cb)(const struct scep_store_table *t,
                                 const struct scep_store_value *row, void *arg);

/*
 * Calls cb for every row of every table of scep_store_copy_tables(),
 * table by table in that order, each in key order, all read in one
 * transaction: a consistent snapshot even while scepd writes.
 * SCEP_ERR_UNSUPPORTED when the backend cannot export (PostgreSQL, for
 * now) or the schema is not SCEP_STORE_COPY_VERSION; or SCEP_ERR_STORE.
 */
int scep_store_export(struct scep_store *st, scep_store_row_cb cb, void *arg);

/*
 * Starts a copy into st: opens one transaction, locks the copied tables
 * against writers (PostgreSQL: LOCK TABLE ... IN EXCLUSIVE MODE; SQLite:
 * the write lock) and checks that none of them holds a row (the CRL
 * counter aside): a copy never merges into a store in use, whose ids
 * and audit chain would collide with the source's.  Until
 * scep_store_import_commit() or _abort(), st takes only
 * scep_store_import_row().  Returns 0; SCEP_ERR_EXISTS when the target
 * holds rows (why says which tables, how many); SCEP_ERR_UNSUPPORTED
 * when the schema is not SCEP_STORE_COPY_VERSION; or SCEP_ERR_STORE.
 * why (whylen bytes, may be NULL) says what failed.
 */
int scep_store_import_begin(struct scep_store *st, char *why, size_t whylen);

/* Inserts one row of table t (one of scep_store_copy_tables()) inside
 * the copy's transaction, every column as given.  0, SCEP_ERR_EXISTS
 * on a duplicate key, SCEP_ERR_INVALID_ARG, or SCEP_ERR_STORE. */
int scep_store_import_row(struct scep_store *st, const struct scep_store_table *t,
                          const struct scep_store_value *row);

/* Moves the sequences past the copied ids, appends ev (may be NULL) to
 * the copied audit chain and commits: the whole copy becomes visible at
 * once, or (on failure, rolled back) none of it. */
int scep_store_import_commit(struct scep_store *st, const struct scep_audit_event *ev);

/* Rolls the copy back.  Accepts a store with no copy open. */
void scep_store_import_abort(struct scep_store *st);

#endif
