/*
 * Administrative operations: what every front end (scepctl now; the
 * admin API, the console, the OCSP responder and background jobs next)
 * does to the certificates, requests and audit trail, written once.
 * Front ends parse their own input, call these functions, and phrase
 * the result; the rules (which reasons may be given, what a CRL lists,
 * what goes into the audit trail) live here.
 *
 * The functions take an open store and, where keys are involved, a
 * loaded CA; they print nothing and never exit.  The actor string names
 * who acts in the audit trail ("scepctl:root", later a token's name).
 */
#ifndef SCEP_ADMIN_ADMIN_H
#define SCEP_ADMIN_ADMIN_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/x509.h>

#include "ca/ca.h"
#include "store/store.h"

/* Serials are at most 20 octets (RFC 5280 4.1.2.2), 40 hex digits;
 * buffers for the store's form leave room for a sloppy leading zero pair. */
#define SCEP_ADMIN_SERIAL_MAX 64

/* Longest rejection reason kept: it goes into the database and the audit
 * trail verbatim, and one line of explanation is what it is for. */
#define SCEP_ADMIN_REASON_MAX 512

/* CRLReason codes (RFC 5280 5.3.1) an administrator may give. */
#define SCEP_CRL_REASON_HOLD 6

/* ---- CRLReason names (reasons.c) ---- */

/*
 * The RFC 5280 5.3.1 name of a CRLReason an administrator may give
 * (unspecified, keyCompromise, caCompromise, affiliationChanged,
 * superseded, cessationOfOperation, certificateHold) for code, NULL for
 * -1 (none) and anything else.  Static.
 */
const char *scep_crl_reason_name(int code);

/* The code of a reason name (case-insensitive), or -2 when unknown. */
int scep_crl_reason_code(const char *name);

/* The accepted reason names, comma-separated, for error texts.  Static. */
const char *scep_crl_reason_list(void);

/* ---- certificates (certs.c) ---- */

/*
 * Normalises a serial typed by a person ("0a:1B", "0x0A1B", OpenSSL's
 * "80AB" for the stored "0080AB") to the store's form, the serial
 * convention of lib/util/hex.h (util_serial_text_normalize()).  Returns 0
 * and fills out (size bytes), or SCEP_ERR_INVALID_ARG when s is not hex,
 * is empty or zero, or does not fit.
 */
int scep_admin_normalize_serial(const char *s, char *out, size_t size);

/*
 * "revoked", "expired" (valid but past notAfter at now), "superseded"
 * (valid, unexpired, renewed by another certificate) or "valid" for a
 * record, in that order of precedence.  Static.
 */
const char *scep_admin_cert_status(const struct scep_cert_info *ci, int64_t now);

/*
 * Looks up the certificate whose serial is serial (any form
 * scep_admin_normalize_serial accepts).  Returns 0, SCEP_ERR_INVALID_ARG,
 * SCEP_ERR_NOT_FOUND or a store error.  *out: free with
 * scep_cert_info_free().
 */
int scep_admin_get_cert(struct scep_store *st, const char *serial, struct scep_cert_info **out);

/* Walks the certificates matching f, newest first (scep_store_list_certs). */
int scep_admin_list_certs(struct scep_store *st, const struct scep_cert_filter *f,
                          scep_store_cert_cb cb, void *arg);

/* A position in the certificate listing, in the filter's order
 * (issued_at descending or not_after ascending, then serial ascending):
 * the last record of the page before; key is its issued_at or
 * not_after by that order. */
struct scep_admin_cert_cursor {
    int64_t key;
    char serial[SCEP_ADMIN_SERIAL_MAX];
};

/*
 * Walks one page of the certificates matching f in f->order (f->limit
 * and f's own after_key/after_serial are ignored):
 * at most limit (>= 1) of them after cursor after (NULL: from the
 * newest), and sets *more to 1 when at least one more follows (the
 * next page starts after the last record cb saw).  cb's non-zero return
 * stops the walk and is returned.  The store starts at the cursor
 * through its indexes (struct scep_cert_filter's after_key and
 * after_serial), so a deep page costs what the first does.  Returns 0
 * or SCEP_ERR_*.
 */
int scep_admin_list_certs_page(struct scep_store *st, const struct scep_cert_filter *f,
                               const struct scep_admin_cert_cursor *after, int64_t limit,
                               scep_store_cert_cb cb, void *arg, int *more);

/*
 * Revokes the certificate with serial at now with reason (a CRLReason
 * code an administrator may give, or -1 for none: RFC 5280 5.3.1 says the
 * extension should then be absent), with its "revoke" audit event naming
 * actor and the subject, in one transaction.  Returns 0,
 * SCEP_ERR_INVALID_ARG (bad serial or reason), SCEP_ERR_NOT_FOUND,
 * SCEP_ERR_EXISTS (already revoked: nothing changed), SCEP_ERR_POLICY
 * (an external certificate: not ours to revoke) or a store error.
 * *out (may be NULL): the record as it now stands; free with
 * scep_cert_info_free().
 */
int scep_admin_revoke(struct scep_store *st, const char *actor, const char *serial, int reason,
                      int64_t now, struct scep_cert_info **out);

/*
 * Releases a certificateHold: the certificate is valid again, with an
 * "unhold" audit event, in one transaction.  Returns 0,
 * SCEP_ERR_INVALID_ARG, SCEP_ERR_NOT_FOUND, SCEP_ERR_POLICY (not on
 * hold: any other revocation is final, RFC 5280 5.3.1) or a store
 * error.  *out (may be NULL): the record as it now stands; free with
 * scep_cert_info_free().
 */
int scep_admin_unhold(struct scep_store *st, const char *actor, const char *serial,
                      struct scep_cert_info **out);

/* ---- the inventory (inventory.c, import.c, supersede.c) ---- */

/*
 * Hard limits on what scep_admin_import_paths and scep_admin_import_tls
 * read: every byte of an imported file or a TLS handshake is someone
 * else's and is parsed only by OpenSSL, with these bounds.  The import
 * limits are defaults a caller may lower or raise up to the _CEILING.
 */
#define SCEP_ADMIN_IMPORT_FILE_BYTES (256 * 1024) /* one file: a fat PEM bundle */
#define SCEP_ADMIN_IMPORT_FILE_CEILING (16 * 1024 * 1024)
#define SCEP_ADMIN_IMPORT_FILES 10000 /* files one import reads, folders included */
#define SCEP_ADMIN_IMPORT_FILES_CEILING 1000000
#define SCEP_ADMIN_IMPORT_CERTS_PER_FILE 100 /* certificates in one PEM bundle */
#define SCEP_ADMIN_IMPORT_DEPTH 16           /* folder nesting followed */
#define SCEP_ADMIN_TLS_TIMEOUT_MS 10000      /* connect plus handshake, default */
#define SCEP_ADMIN_TLS_TIMEOUT_CEILING 120000
#define SCEP_ADMIN_TLS_CHAIN_MAX 16           /* certificates taken from one chain */
#define SCEP_ADMIN_TLS_CERT_LIST (256 * 1024) /* bytes of the peer's Certificate message */
#define SCEP_ADMIN_SEEN_AT_MAX 1024           /* bytes of a seen_at (path or host:port) */

/* Limits of one import; a zero field takes its default. */
struct scep_admin_import_limits {
    size_t max_file_bytes; /* default SCEP_ADMIN_IMPORT_FILE_BYTES */
    size_t max_files;      /* default SCEP_ADMIN_IMPORT_FILES */
};

/* What an import did: counters for the summary line. */
struct scep_admin_import_stats {
    size_t files;      /* files read (or endpoints reached) */
    size_t certs;      /* certificates found in them */
    size_t imported;   /* stored now */
    size_t duplicates; /* already in the store (same SHA-256) */
    size_t skipped;    /* files met in a folder that hold no certificate (keys, notes) */
    size_t failed;     /* files, endpoints or certificates that could not be imported */
};

/*
 * Reported once per certificate or failed file/endpoint, in order:
 * where is the file path or "host:port"; rc is 0 (imported, ci the
 * stored record), SCEP_ERR_EXISTS (already known, ci the stored record),
 * SCEP_ERR_NOT_FOUND for a file met in a folder that holds no
 * certificate (skipped, not a failure; why says what it is), or another
 * error (ci NULL, why saying what went wrong).  Everything is borrowed
 * for the call.
 */
typedef void (*scep_admin_import_cb)(const char *where, int rc, const struct scep_cert_info *ci,
                                     const char *why, void *arg);

/*
 * Decodes the certificates in buf (len bytes, at most
 * SCEP_ADMIN_IMPORT_FILE_CEILING): either PEM (every CERTIFICATE block,
 * other blocks such as keys skipped unread; at most max_certs, 0 for
 * SCEP_ADMIN_IMPORT_CERTS_PER_FILE) or a single DER certificate.  Each is
 * decoded by OpenSSL with its explicit length, trailing bytes refused.
 * Returns 0 with *out (at least one; sk_X509_pop_free(*out, X509_free)),
 * or SCEP_ERR_TOO_LARGE / SCEP_ERR_DER / SCEP_ERR_TRAILING /
 * SCEP_ERR_NOT_FOUND (PEM with no certificate) with why (whylen bytes)
 * saying e.g. "PEM block 2: not a certificate".
 */
int scep_admin_parse_certs(const unsigned char *buf, size_t len, size_t max_certs,
                           STACK_OF(X509) **out, char *why, size_t whylen);

/*
 * Stores cert as an external certificate (store.h, "The inventory") of
 * source SCEP_CERT_SOURCE_IMPORT or _TLS, seen at seen_at, issued_at
 * (the time it entered the inventory) now, with its "import" audit event
 * by actor in the same transaction.  Returns 0, SCEP_ERR_EXISTS when
 * its DER is already stored (nothing written), SCEP_ERR_TOO_LARGE (a
 * subject or SAN list past SCEP_MAX_SUBJECT / SCEP_MAX_SANS) or a store
 * error.  *out (may be NULL): the stored record, or with
 * SCEP_ERR_EXISTS the one already there; free with scep_cert_info_free().
 */
int scep_admin_import_cert(struct scep_store *st, const char *actor, X509 *cert, const char *source,
                           const char *seen_at, int64_t now, struct scep_cert_info **out);

/*
 * Imports the certificates in the n files or folders at paths (folders
 * recursively, at most SCEP_ADMIN_IMPORT_DEPTH deep, in name order;
 * symbolic links inside folders are not followed, so a link cannot lead
 * the walk in circles or out of the folder), within lim (NULL: the
 * defaults).  A file larger than lim->max_file_bytes is refused unread;
 * the walk stops at lim->max_files.  Each file is read whole (fstat
 * first: regular files only) and decoded by scep_admin_parse_certs;
 * each certificate goes through scep_admin_import_cert with seen_at the
 * file's absolute path.  A file met inside a folder that is neither PEM
 * holding a certificate nor a DER certificate is skipped (a folder of
 * certificates often holds their keys and notes too); a file named in
 * paths must hold one.  cb (may be NULL) hears of each certificate,
 * skip and failure; *stats (may be NULL) receives the counters.
 * Returns 0 when every file was read or skipped and every certificate
 * stored or already known,
 * SCEP_ERR_TOO_LARGE when the walk hit max_files, otherwise the last
 * failure (the walk goes on after one).
 */
int scep_admin_import_paths(struct scep_store *st, const char *actor, const char *const *paths,
                            size_t n, const struct scep_admin_import_limits *lim,
                            scep_admin_import_cb cb, void *arg,
                            struct scep_admin_import_stats *stats);

/*
 * Connects to hostport ("host:port", "[v6]:port"), does a TLS handshake
 * with SNI = host (unless host is an address literal: RFC 6066 3) and
 * returns the chain the server sent, leaf first (at most
 * SCEP_ADMIN_TLS_CHAIN_MAX).  Nothing is verified: the chain is recorded,
 * not trusted, and recording what an endpoint serves, expired or
 * self-signed, is the point.  Connect and handshake share timeout_ms (0:
 * SCEP_ADMIN_TLS_TIMEOUT_MS, at most SCEP_ADMIN_TLS_TIMEOUT_CEILING); the
 * peer's Certificate message is limited to SCEP_ADMIN_TLS_CERT_LIST
 * bytes.  Returns 0 with *out (sk_X509_pop_free(*out, X509_free)), or
 * SCEP_ERR_INVALID_ARG (not host:port), SCEP_ERR_NOT_FOUND (the name
 * does not resolve) or SCEP_ERR_IO (refused, timed out, the handshake
 * failed, no certificate), with why saying which.
 */
int scep_admin_tls_chain(const char *hostport, int timeout_ms, STACK_OF(X509) **out, char *why,
                         size_t whylen);

/*
 * Imports the chains the n endpoints at hostports serve
 * (scep_admin_tls_chain), each certificate with source "tls" and seen_at
 * its "host:port", reporting through cb as scep_admin_import_paths does.
 * Returns 0 when every endpoint answered and every certificate was
 * stored or already known, else the last failure.
 */
int scep_admin_import_tls(struct scep_store *st, const char *actor, const char *const *hostports,
                          size_t n, int timeout_ms, scep_admin_import_cb cb, void *arg,
                          struct scep_admin_import_stats *stats);

/*
 * Revokes, with CRLReason superseded (4), every valid certificate of
 * ours with profile profile ("": the default) that was superseded
 * before older_than and has not expired, each with its "revoke" audit
 * event by actor naming its successor, in its own transaction.  A
 * certificate revoked meanwhile by someone else is skipped.  *count (may
 * be NULL) receives how many were revoked, also on failure.  Returns 0
 * or the first store error (the certificates before it stay revoked).
 */
int scep_admin_revoke_superseded(struct scep_store *st, const char *profile, int64_t older_than,
                                 const char *actor, int64_t now, int64_t *count);

/*
 * The text to search subjects for when a person typed typed: a DN in
 * OpenSSL's slash form ("/C=US/O=Example/CN=dev", most significant
 * first, as openssl prints and -subj takes) is rewritten in the order
 * the store keeps and every front end shows (RFC 2253, "CN=dev,O=Example,
 * C=US"); anything else (a comma-form DN, a bare word) is searched as
 * typed, since that already is the order shown.  *out: free().  Returns
 * 0, SCEP_ERR_INVALID_ARG (a slash form that is no DN) or
 * SCEP_ERR_NOMEM.
 */
int scep_admin_subject_query(const char *typed, char **out);

/* ---- requests held for approval (requests.c) ---- */

/*
 * Finds the request named by ref: only digits is a request id, anything
 * else a transactionID.  Returns 0, SCEP_ERR_INVALID_ARG (empty, or an
 * id out of range), SCEP_ERR_NOT_FOUND or a store error.  *out: free with
 * scep_request_info_free().
 */
int scep_admin_find_request(struct scep_store *st, const char *ref, struct scep_request_info **out);

/* Looks a request up by id.  *out: free with scep_request_info_free(). */
int scep_admin_get_request(struct scep_store *st, int64_t id, struct scep_request_info **out);

/* Walks the requests with status (-1: any), oldest first
 * (scep_store_list_requests). */
int scep_admin_list_requests(struct scep_store *st, int status, scep_store_request_cb cb,
                             void *arg);

/*
 * Approves (SCEP_REQ_APPROVED) or rejects (SCEP_REQ_REJECTED, with an
 * optional one-line reason of at most SCEP_ADMIN_REASON_MAX bytes) the
 * pending request id, with its "request-approve" / "request-reject"
 * audit event naming actor and the subject, in one transaction.  Only a
 * pending request can be decided, so a decision repeated by mistake or
 * raced by another administrator changes nothing.  Returns 0,
 * SCEP_ERR_INVALID_ARG (status, reason), SCEP_ERR_NOT_FOUND,
 * SCEP_ERR_EXISTS (no longer pending) or a store error.  *out (may be
 * NULL): the request as it now stands; free with scep_request_info_free().
 */
int scep_admin_decide(struct scep_store *st, const char *actor, int64_t id, int status,
                      const char *reason, struct scep_request_info **out);

/* ---- one-time enrollment challenges (challenges.c) ---- */

/* A minted challenge's defaults and limits. */
#define SCEP_ADMIN_CHALLENGE_TTL_DEFAULT 3600 /* seconds: one hour */
#define SCEP_ADMIN_CHALLENGE_TTL_MAX 31536000 /* seconds: 365 days */
#define SCEP_ADMIN_CHALLENGE_USES_MAX 1000000 /* enrollments one challenge may admit */
#define SCEP_ADMIN_CHALLENGE_PROFILE_MAX 64   /* bytes of a profile name */
#define SCEP_ADMIN_CHALLENGE_SAN_MAX 255      /* bytes of one bound SAN's value */
#define SCEP_ADMIN_CHALLENGE_HASH_HEX 65      /* 64 hex digits and a NUL */
#define SCEP_ADMIN_CHALLENGE_BYTES 20         /* random bytes in one: 160 bits */
#define SCEP_ADMIN_CHALLENGE_LEN (2 * SCEP_ADMIN_CHALLENGE_BYTES) /* its text, hex */

/*
 * What a new challenge admits.  Every pointer is borrowed for the call.
 * profile: NULL or "" the default profile, else [A-Za-z0-9._-], at most
 * SCEP_ADMIN_CHALLENGE_PROFILE_MAX bytes.  subject: NULL any, else a DN
 * as lib/ca parses subjects ("CN=a,O=b" or "/O=b/CN=a"; kept as given).
 * sans (nsans of them, at most SCEP_MAX_SANS): "TYPE:VALUE" with TYPE
 * DNS, IP, email or URI (case-insensitive), each converted by OpenSSL
 * (a2i_GENERAL_NAME) to be sure it is a name.  ttl: seconds, 0 the
 * default, at most SCEP_ADMIN_CHALLENGE_TTL_MAX; uses: 0 the default 1,
 * at most SCEP_ADMIN_CHALLENGE_USES_MAX; now: 0 the current time.
 */
struct scep_admin_challenge_spec {
    const char *profile;
    const char *subject;
    const char *const *sans;
    size_t nsans;
    int64_t ttl;
    int64_t uses;
    int64_t now;
};

/*
 * Checks spec as scep_admin_challenge_new does, with one line saying
 * what is wrong in why (whylen bytes, truncated; "" when all is well),
 * e.g. "--san DNS:: not a DNS name", "subject \"CN\" is not a DN".
 * Returns 0 or SCEP_ERR_INVALID_ARG.
 */
int scep_admin_challenge_validate(const struct scep_admin_challenge_spec *spec, char *why,
                                  size_t whylen);

/*
 * Mints a challenge: SCEP_ADMIN_CHALLENGE_BYTES from RAND_bytes as
 * lowercase hex, stored (as its SHA-256 only) with the binding of spec,
 * with a "challenge-new" audit event by actor (profile, ttl, uses and
 * binding; never the challenge), in one transaction.  Returns 0,
 * SCEP_ERR_INVALID_ARG (spec: scep_admin_challenge_validate says why),
 * or a store error.  *challenge_out: the text, NUL-terminated; free with
 * scep_admin_challenge_free() (which clears it).  *info_out (may be
 * NULL): the stored record; free with scep_challenge_info_free().
 */
int scep_admin_challenge_new(struct scep_store *st, const struct scep_admin_challenge_spec *spec,
                             const char *actor, char **challenge_out,
                             struct scep_challenge_info **info_out);

/* Clears and frees a challenge text from scep_admin_challenge_new.
 * Accepts NULL. */
void scep_admin_challenge_free(char *challenge);

/*
 * The one hash of a challenge, under which the store keeps it and the
 * enrollment path looks up a CSR's challengePassword: lowercase hex
 * SHA-256 of the len bytes at challenge (at most SCEP_MAX_CHALLENGE).
 * out receives 64 hex digits and a NUL.  Returns 0,
 * SCEP_ERR_TOO_LARGE or SCEP_ERR_INTERNAL.
 */
int scep_admin_challenge_hash(const char *challenge, size_t len,
                              char out[SCEP_ADMIN_CHALLENGE_HASH_HEX]);

/*
 * Checks a request against the binding of ci.  A challenge bound to
 * nothing admits any subject and SANs.  Otherwise subject (the one the
 * certificate will carry) must equal the bound subject when one is bound
 * (X509_NAME_cmp of the decoded names), and the CSR's subjectAltNames
 * must equal the bound SANs as a set (GENERAL_NAME_cmp of decoded names;
 * no bound SANs: the CSR may ask for none).  Returns 0, or
 * SCEP_ERR_POLICY with why (whylen bytes) saying e.g. "challenge is bound
 * to subject CN=x, CSR asks for CN=y", or SCEP_ERR_INVALID_ARG /
 * SCEP_ERR_CSR / SCEP_ERR_NOMEM.
 */
int scep_admin_challenge_check_binding(const struct scep_challenge_info *ci,
                                       const X509_NAME *subject, X509_REQ *csr, char *why,
                                       size_t whylen);

/* "revoked", "used" (no use left), "expired" (at now) or "active", in
 * that order of precedence.  Static. */
const char *scep_admin_challenge_state(const struct scep_challenge_info *ci, int64_t now);

/* Walks the challenges, oldest first: usable ones, or all with
 * include_spent (scep_store_list_challenges).  The record is borrowed
 * for the call. */
int scep_admin_challenge_list(struct scep_store *st, int include_spent, scep_store_challenge_cb cb,
                              void *arg);

/*
 * Revokes challenge id at now (0: the current time) with a
 * "challenge-revoke" audit event by actor, in one transaction.  Returns
 * 0, SCEP_ERR_NOT_FOUND, SCEP_ERR_EXISTS (already revoked: nothing
 * changed) or a store error.
 */
int scep_admin_challenge_revoke(struct scep_store *st, const char *actor, int64_t id, int64_t now);

/*
 * Deletes the challenges that admit nothing any more at now (0: the
 * current time): expired or revoked (a used-up one stays until it
 * expires, so that a retry of the transaction that used it is still
 * recognised), with a "challenge-purge"
 * audit event by actor, in one transaction.  *purged (may be NULL): how
 * many.  Returns 0 or a store error.
 */
/*
 * Deletes the rejected and issued requests decided more than days days
 * before now (0: the current time), keeping their CSRs no longer than
 * that, with one "request-purge" audit event by actor when any went
 * (scep_store_purge_requests()).  *purged (may be NULL): how many.
 * Returns 0, SCEP_ERR_INVALID_ARG (days < 1) or a store error.
 */
int scep_admin_request_purge(struct scep_store *st, const char *actor, int days, int64_t now,
                             int64_t *purged);

int scep_admin_challenge_purge(struct scep_store *st, const char *actor, int64_t now,
                               int64_t *purged);

/* ---- API bearer tokens (tokens.c) ---- */

/* Roles, each allowed what the ones below it are: an auditor reads
 * everything; an operator also revokes, decides requests and mints
 * challenges; an admin also manages tokens. */
enum scep_admin_role { SCEP_ROLE_AUDITOR = 1, SCEP_ROLE_OPERATOR = 2, SCEP_ROLE_ADMIN = 3 };

#define SCEP_ADMIN_TOKEN_BYTES 32        /* random bytes in one: 256 bits */
#define SCEP_ADMIN_TOKEN_PREFIX "scepd_" /* so that secret scanners can spot one */
/* The token text: the prefix and the bytes as lowercase hex. */
#define SCEP_ADMIN_TOKEN_LEN (sizeof(SCEP_ADMIN_TOKEN_PREFIX) - 1 + 2 * SCEP_ADMIN_TOKEN_BYTES)
#define SCEP_ADMIN_TOKEN_NAME_MAX 64       /* bytes of a token's name */
#define SCEP_ADMIN_TOKEN_TTL_MAX 315360000 /* seconds: ten years */

/* "admin", "operator", "auditor" for a role, NULL for anything else.
 * Static. */
const char *scep_admin_role_name(int role);

/* The role of a name (exact, lowercase), or -1 when unknown. */
int scep_admin_role_code(const char *name);

/* Who a request authenticated as. */
struct scep_admin_principal {
    int64_t id;                                /* the token's id */
    char name[SCEP_ADMIN_TOKEN_NAME_MAX + 1];  /* the token's name */
    int role;                                  /* enum scep_admin_role */
    char actor[SCEP_ADMIN_TOKEN_NAME_MAX + 5]; /* "api:NAME", for the audit trail */
};

/*
 * Mints a token called name ([A-Za-z0-9._-], 1 to
 * SCEP_ADMIN_TOKEN_NAME_MAX bytes) with role, valid for ttl seconds (0:
 * no expiry; at most SCEP_ADMIN_TOKEN_TTL_MAX) from now (0: the current
 * time): SCEP_ADMIN_TOKEN_BYTES from RAND_bytes, as
 * SCEP_ADMIN_TOKEN_PREFIX and lowercase hex, stored as its SHA-256 only,
 * with a "token-new" audit event by actor (name, role, expiry; never the
 * token), in one transaction.  Returns 0, SCEP_ERR_INVALID_ARG (name,
 * role or ttl), SCEP_ERR_EXISTS (a token of that name exists, revoked or
 * not: names stay unique so the audit trail stays unambiguous) or a
 * store error.  *token_out: NUL-terminated, free with
 * scep_admin_token_free() (which clears it); *info_out (may be NULL):
 * the stored record, free with scep_token_info_free().
 */
int scep_admin_token_new(struct scep_store *st, const char *actor, const char *name, int role,
                         int64_t ttl, int64_t now, char **token_out,
                         struct scep_token_info **info_out);

/* Clears and frees a token text from scep_admin_token_new.  Accepts
 * NULL. */
void scep_admin_token_free(char *token);

/*
 * The hash a token is stored and looked up under: lowercase hex SHA-256
 * of the len bytes at token.  out: 64 hex digits and a NUL.  Returns 0
 * or SCEP_ERR_INTERNAL.
 */
int scep_admin_token_hash(const char *token, size_t len, char out[65]);

/*
 * Authenticates the len bytes at token (a bearer credential as
 * received; at most 256 bytes are looked at, longer is refused) at now
 * (0: the current time): the token whose hash it has, not revoked, not
 * expired.  The lookup is by SHA-256, so no comparison of secret bytes
 * happens here and none needs to be constant-time: an attacker timing
 * the database learns about hashes of guesses, not about the token.
 * On success fills *out and moves the token's last_used_at forward
 * (at most once a minute: a failure to record it does not fail the
 * authentication).  Returns 0, SCEP_ERR_NOT_FOUND (no such token, or
 * not a token at all), SCEP_ERR_REJECTED (revoked), SCEP_ERR_BAD_TIME
 * (expired) or a store error; *out is untouched on failure.
 */
int scep_admin_token_authenticate(struct scep_store *st, const char *token, size_t len, int64_t now,
                                  struct scep_admin_principal *out);

/* "revoked", "expired" (at now) or "active", in that order of
 * precedence.  Static. */
const char *scep_admin_token_state(const struct scep_token_info *ti, int64_t now);

/* Walks every token, oldest first (scep_store_list_tokens).  The record
 * is borrowed for the call. */
int scep_admin_token_list(struct scep_store *st, scep_store_token_cb cb, void *arg);

/*
 * Revokes the token called name at now (0: the current time) with a
 * "token-revoke" audit event by actor, in one transaction.  Returns 0,
 * SCEP_ERR_INVALID_ARG, SCEP_ERR_NOT_FOUND, SCEP_ERR_EXISTS (already
 * revoked: nothing changed) or a store error.
 */
int scep_admin_token_revoke(struct scep_store *st, const char *actor, const char *name,
                            int64_t now);

/* ---- CRLs (crl.c): the one CRL builder ---- */

/* What a CRL that was made says, for reports and audit. */
struct scep_admin_crl_info {
    int64_t number;      /* crlNumber */
    size_t entries;      /* revoked serials listed (0 when reused: not counted) */
    char issuer_fp[65];  /* hex SHA-256 of the signing CA certificate */
    int64_t made;        /* scep_admin_crl_current: thisUpdate, Unix seconds */
    int64_t next_update; /* scep_admin_crl_current: nextUpdate, Unix seconds */
    int reused;          /* scep_admin_crl_current: 1 the stored CRL, 0 a new one */
};

/*
 * Makes the CRL of issuer (a CA certificate of ca: the current one, or
 * an archived one from scep_ca_find_issuer / scep_ca_find_by_fingerprint;
 * NULL: the current CA), signed by that CA's key: every certificate that
 * CA issued and that is revoked and not yet expired (RFC 5280 3.3 lets
 * expired entries go, which keeps a fleet's CRL small), with the next
 * crlNumber from the store and nextUpdate next_update_seconds from now.
 * A record with no issuer fingerprint (none are written today) counts
 * as the current CA's: listing a serial nobody uses costs nothing,
 * dropping a revocation would.  When actor is not NULL a "crl" audit
 * event records it.  *out: free with X509_CRL_free(); *info (may be
 * NULL) is filled on success.
 */
int scep_admin_make_crl(struct scep_store *st, const struct scep_ca *ca, X509 *issuer,
                        long next_update_seconds, const char *actor, X509_CRL **out,
                        struct scep_admin_crl_info *info);

/*
 * scep_admin_make_crl, encoded as DER, or PEM when pem is non-zero, for
 * front ends that publish bytes.  *out: free with free(); *info (may be
 * NULL) is filled on success.
 */
int scep_admin_make_crl_encoded(struct scep_store *st, const struct scep_ca *ca, X509 *issuer,
                                long next_update_seconds, const char *actor, int pem,
                                unsigned char **out, size_t *len, struct scep_admin_crl_info *info);

/*
 * A SHA-256 over what the CRL of issuer (as scep_admin_make_crl) would
 * list right now: each entry's serial, revocation time and reason.  It
 * changes when a revocation, an unhold or an expiry changes the CRL, so
 * a publisher can tell "make a new CRL" from "nothing happened" with one
 * read of the revoked certificates and no signature.  Returns 0 or
 * SCEP_ERR_*; out is filled on success.
 */
int scep_admin_crl_digest(struct scep_store *st, const struct scep_ca *ca, X509 *issuer,
                          unsigned char out[32]);

/*
 * The published CRL of issuer (NULL: the current CA), DER, as every
 * process and node on st serves it (crl_current.c): the stored one while
 * it lists what the store says it should and less than half of validity
 * (seconds, its nextUpdate from thisUpdate) has passed; else a new one
 * from scep_admin_make_crl, made by one caller at a time across every
 * node (scep_store_try_lock_crl) and stored.  While another caller makes
 * it, the stored one is handed out if it is before its nextUpdate.
 * force makes a new one whatever is stored (scepctl crl).  actor (may be
 * NULL) names who made it in the "crl" audit event, which only a new
 * CRL gets.  *der: free with free(); *info (may be NULL) on success.
 * Returns 0 or SCEP_ERR_*.
 */
int scep_admin_crl_current(struct scep_store *st, const struct scep_ca *ca, X509 *issuer,
                           long validity, int force, const char *actor, unsigned char **der,
                           size_t *len, struct scep_admin_crl_info *info);

/*
 * Encodes crl as DER, or PEM when pem is non-zero.  *out: free with
 * free().  Returns 0 or SCEP_ERR_*.
 */
int scep_admin_crl_encode(X509_CRL *crl, int pem, unsigned char **out, size_t *len);

/* ---- OCSP (ocsp.c): the responder's core ---- */

/* What an OCSP answer said, for the front end's headers, logs and
 * metrics. */
struct scep_ocsp_info {
    int status;      /* OCSPResponseStatus sent (OCSP_RESPONSE_STATUS_*) */
    int cert_status; /* V_OCSP_CERTSTATUS_* of the first CertID; -1 without one */
    size_t count;    /* CertIDs answered */
    char serial[SCEP_ADMIN_SERIAL_MAX]; /* the first CertID's serial, store form; "" if none */
    int64_t this_update;                /* Unix time; 0 unless status is successful */
    int64_t next_update;                /* Unix time; 0 unless status is successful */
    char why[128];                      /* why it was refused ("" when successful), for logs */
    int cached;                         /* 1: a response signed earlier was reused */
    int delegated;                      /* 1: signed by the CA's delegated responder */
};

/* Most entries one OCSP response cache may have. */
#define SCEP_OCSP_CACHE_MAX_ENTRIES (1u << 20)

/*
 * A cache of signed OCSP responses (ocsp_cache.c) for
 * scep_admin_ocsp_answer: answers to nonce-free requests for one
 * certificate are kept per CertID and sent again while the store still
 * says the same and they are less than half-way to their nextUpdate, so
 * that answering costs a lookup instead of a signature, and a
 * revocation is answered at once.  Not thread-safe: one per thread.
 * scep_ocsp_cache_new makes one of entries slots (1 to
 * SCEP_OCSP_CACHE_MAX_ENTRIES; a colliding certificate replaces the
 * entry); *out: scep_ocsp_cache_free() (accepts NULL).
 * scep_ocsp_cache_clear empties it (after a CA change).
 */
struct scep_ocsp_cache;
int scep_ocsp_cache_new(size_t entries, struct scep_ocsp_cache **out);
void scep_ocsp_cache_clear(struct scep_ocsp_cache *c);
void scep_ocsp_cache_free(struct scep_ocsp_cache *c);

/*
 * Answers the OCSP request req (len bytes of DER, as received: at most
 * SCEP_MAX_OCSP_REQUEST, decoded only by OpenSSL, trailing bytes
 * refused) for the CAs of ca (current and archived) from the statuses
 * in st (RFC 6960).  Each CertID's issuer is found by its name and key
 * hashes; its serial is good (issued by that CA, not revoked), revoked
 * (with time and CRLReason) or unknown (not issued by that CA).  The
 * response is signed by that CA's delegated responder from signers
 * (may be NULL; scep_ca_responders_load) while it is valid, else by the
 * CA's own key; it names the signer by key hash and includes its
 * certificate; thisUpdate is now and nextUpdate next_update_seconds
 * later (never past the responder's notAfter); a nonce is echoed.  An
 * archived CA with neither a valid responder nor its key left gets
 * unauthorized.  A request that does
 * not parse, has trailing bytes, no CertID or more than
 * SCEP_MAX_OCSP_CERTIDS gets malformedRequest; a CertID of an issuer we
 * do not hold (or CertIDs of two of ours) unauthorized; an internal
 * failure internalError.  Returns 0 with *out (DER of the OCSPResponse;
 * free with free()) and *info (may be NULL) filled whenever there is a
 * response to send, or SCEP_ERR_* when not even that could be made.
 * cache (may be NULL) keeps and reuses signed answers (see above); it
 * must have been emptied since ca or signers last changed.
 */
int scep_admin_ocsp_answer(struct scep_store *st, const struct scep_ca *ca,
                           const struct scep_ocsp_signers *signers, struct scep_ocsp_cache *cache,
                           const unsigned char *req, size_t len, long next_update_seconds,
                           unsigned char **out, size_t *outlen, struct scep_ocsp_info *info);

/* ---- audit trail (audit.c) ---- */

/*
 * Appends an audit event of kind by actor, with serial, transaction_id
 * and detail (each may be NULL), at now.  Returns 0 or a store error.
 */
int scep_admin_audit(struct scep_store *st, const char *actor, const char *kind, const char *serial,
                     const char *transaction_id, const char *detail);

/* Walks the audit events after after_id, oldest first. */
int scep_admin_list_audit(struct scep_store *st, int64_t after_id, scep_store_audit_cb cb,
                          void *arg);

/*
 * Verifies the audit hash chain.  Returns 0 when intact, SCEP_ERR_STORE
 * with *bad_id the first event that does not match, or another error.
 */
int scep_admin_verify_audit(struct scep_store *st, int64_t *bad_id);

/* ---- imports from a buffer (import_buf.c) ---- */

/*
 * Imports the certificates in buf (len bytes: PEM with one or more
 * CERTIFICATE blocks, or one DER certificate, decoded by
 * scep_admin_parse_certs with at most SCEP_ADMIN_IMPORT_CERTS_PER_FILE)
 * as external certificates of source "import" seen at seen_at (a
 * front end's name for where they came from, e.g. "api:NAME"), each
 * through scep_admin_import_cert with its "import" audit event by
 * actor.  cb (may be NULL) hears of each certificate as with
 * scep_admin_import_paths; *stats (may be NULL) receives the counters.
 * Returns 0 when every certificate was stored or already known; a
 * decoding failure (SCEP_ERR_DER, SCEP_ERR_TRAILING, SCEP_ERR_NOT_FOUND,
 * SCEP_ERR_TOO_LARGE) with why (whylen bytes) saying which block,
 * nothing stored; else the last storing failure (the others are stored).
 */
int scep_admin_import_buffer(struct scep_store *st, const char *actor, const unsigned char *buf,
                             size_t len, const char *seen_at, scep_admin_import_cb cb, void *arg,
                             struct scep_admin_import_stats *stats, char *why, size_t whylen);

/* ---- statistics (stats.c) ---- */

#define SCEP_ADMIN_STATS_DAYS 30  /* issuance per day: today and the 29 before */
#define SCEP_ADMIN_STATS_WEEKS 52 /* expiry per week: the next 52 from now */

/* The counts of one (source, profile); profile owned by the struct. */
struct scep_admin_stats_group {
    char source[8]; /* SCEP_CERT_SOURCE_* */
    char *profile;  /* "" the default */
    int64_t valid, superseded, revoked, expired;
};

/* What GET /stats shows.  Free with scep_admin_stats_free(). */
struct scep_admin_stats {
    int64_t now;
    int64_t valid, superseded, revoked, expired; /* all groups together */
    struct scep_admin_stats_group *groups;       /* by source, then profile */
    size_t ngroups;
    int64_t day0; /* 00:00 UTC of the first day of issued_per_day */
    int64_t issued_per_day[SCEP_ADMIN_STATS_DAYS];
    int64_t expiring_per_week[SCEP_ADMIN_STATS_WEEKS]; /* week i: [now + i*7d, now + (i+1)*7d) */
};

/*
 * Gathers the statistics of the store at now (0: the current time):
 * certificates by state, overall and by (source, profile), issued here
 * per UTC day over the last SCEP_ADMIN_STATS_DAYS days (today last),
 * and valid, unsuperseded ones expiring per week over the next
 * SCEP_ADMIN_STATS_WEEKS.  Returns 0 with *out (scep_admin_stats_free()),
 * or SCEP_ERR_NOMEM or a store error.
 */
int scep_admin_stats(struct scep_store *st, int64_t now, struct scep_admin_stats **out);

/* Frees what scep_admin_stats gave.  Accepts NULL. */
void scep_admin_stats_free(struct scep_admin_stats *s);

/* ---- one certificate's history (cert_events.c) ---- */

/* Events of one certificate reported at most (the newest are kept). */
#define SCEP_ADMIN_CERT_EVENTS_MAX 200

/*
 * Calls cb for each audit event naming serial (store form), oldest
 * first, at most the newest SCEP_ADMIN_CERT_EVENTS_MAX of them.  The
 * store has no index of events by serial, so this reads the whole
 * trail once: fine for one certificate's page, not for bulk use.  The
 * event is borrowed for the call.  Returns 0, cb's non-zero return, or
 * a store error.
 */
int scep_admin_cert_events(struct scep_store *st, const char *serial, scep_store_audit_cb cb,
                           void *arg);

#endif
