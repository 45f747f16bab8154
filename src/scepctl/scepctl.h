/*
 * scepctl: the administrator's command-line tool for a scepd installation.
 * It reads the same configuration as scepd (scepd.conf(5), every key also
 * a flag), works on the CA files in the state directory through lib/ca
 * and on the certificate database through lib/store, and prints tables
 * for people or JSON (--json) for scripts.
 *
 * This header is private to src/scepctl: the context every command gets,
 * the command entry points (one file each), and the small helpers they
 * share for option parsing and output (output.c, util.c).
 *
 * Exit codes, as documented in scepctl(8): CTL_EXIT_OK, CTL_EXIT_FAIL
 * (the operation failed; stderr says what and what to do) and
 * CTL_EXIT_USAGE (the command line was wrong).
 */
#ifndef SCEPCTL_SCEPCTL_H
#define SCEPCTL_SCEPCTL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <jansson.h>
#include <openssl/x509.h>

#include "config/config.h"
#include "store/store.h"

#define CTL_EXIT_OK 0
#define CTL_EXIT_FAIL 1
#define CTL_EXIT_USAGE 2

/* Serials are at most 20 octets (RFC 5280 4.1.2.2), 40 hex digits;
 * leave room for a sloppy leading zero pair. */
#define CTL_MAX_SERIAL_HEX 64

/* What every command receives: the resolved configuration and the output
 * mode chosen by the global flags. */
struct ctl {
    struct scep_config cfg; /* defaults, then file, then flags, then finish */
    int json;               /* --json: machine-readable output on stdout */
    char actor[96];         /* audit actor: "scepctl:<user>" */
    char db_shown[1024];    /* cfg.database as ctl_database() shows it */
};

/* One command: its name, one-line summary, usage text and entry point.
 * run() gets argv with argv[0] the command name and returns an exit code. */
struct ctl_command {
    const char *name;
    const char *summary;
    const char *usage;
    int (*run)(struct ctl *c, int argc, char **argv);
};

int ctl_cmd_init(struct ctl *c, int argc, char **argv);
int ctl_cmd_ca(struct ctl *c, int argc, char **argv);
int ctl_cmd_list(struct ctl *c, int argc, char **argv);
int ctl_cmd_expiring(struct ctl *c, int argc, char **argv);
int ctl_cmd_import(struct ctl *c, int argc, char **argv);
int ctl_cmd_show(struct ctl *c, int argc, char **argv);
int ctl_cmd_revoke(struct ctl *c, int argc, char **argv);
int ctl_cmd_unhold(struct ctl *c, int argc, char **argv);
int ctl_cmd_crl(struct ctl *c, int argc, char **argv);
int ctl_cmd_audit(struct ctl *c, int argc, char **argv);
int ctl_cmd_requests(struct ctl *c, int argc, char **argv);
int ctl_cmd_show_request(struct ctl *c, int argc, char **argv);
int ctl_cmd_approve(struct ctl *c, int argc, char **argv);
int ctl_cmd_reject(struct ctl *c, int argc, char **argv);
int ctl_cmd_challenge(struct ctl *c, int argc, char **argv);
int ctl_cmd_token(struct ctl *c, int argc, char **argv);
int ctl_cmd_migrate(struct ctl *c, int argc, char **argv);

/* ---- option parsing for commands (util.c) ---- */

/* One option a command accepts: "--name VALUE" (value != NULL) or a
 * switch "--name" (flag != NULL). */
struct ctl_opt {
    const char *name;   /* without the leading dashes */
    const char **value; /* receives the argument (borrowed from argv) */
    int *flag;          /* set to 1 when the switch is given */
};

/*
 * Parses a command's arguments argv[1..argc-1] against opts (terminated
 * by a zero entry).  Accepts "--name VALUE", "--name=VALUE", "--json"
 * (sets c->json) and "--help"; everything else not starting with "--" is
 * a positional argument, stored in pos[] (borrowed from argv) up to
 * max_pos.  Returns CTL_EXIT_OK to go on, CTL_EXIT_USAGE after printing
 * the error and usage to stderr, or -1 after printing usage to stdout for
 * --help (the caller then exits 0).
 */
int ctl_parse_opts(struct ctl *c, int argc, char **argv, const struct ctl_opt *opts,
                   const char **pos, int max_pos, int *npos, const struct ctl_command *cmd);

/* Looks a command up by name; NULL when there is none. */
const struct ctl_command *ctl_find_command(const char *name);

/* The table of commands, terminated by a zero entry (main.c). */
extern const struct ctl_command ctl_commands[];

/*
 * Parses a decimal integer in [min, max] with full checks (whole string,
 * no overflow).  Returns 0 and sets *out, or -1.
 */
int ctl_parse_long(const char *s, long min, long max, long *out);

/*
 * Parses a lifetime: plain seconds or a number with s, m, h or d, from
 * 1 s to max seconds.  Returns 0 and sets *out, or -1.
 */
int ctl_parse_duration(const char *s, int64_t max, int64_t *out);

/* One subcommand of a command with several (challenge, token). */
struct ctl_sub {
    const char *name;
    int (*run)(struct ctl *c, int argc, char **argv, const struct ctl_command *cmd);
};

/*
 * Runs the subcommand argv[1] names among subs (n of them) with argv
 * from it on; without one, or with an unknown one, says which there are
 * and prints command's usage.  Returns an exit code.
 */
int ctl_run_sub(struct ctl *c, int argc, char **argv, const char *command,
                const struct ctl_sub *subs, size_t n);

/*
 * Parses "YYYY-MM-DDTHH:MM:SSZ" strictly (every digit, a real calendar
 * date).  Returns 0 and sets *out (Unix time), or -1.
 */
int ctl_parse_time(const char *s, time_t *out);

/*
 * Checks the single SERIAL argument of cmd ("show", "revoke"): npos is
 * how many positional arguments were given, arg the first of them.
 * Returns CTL_EXIT_OK and fills serial (len bytes) in the store's form,
 * or prints why, prefixed by cmd, and returns CTL_EXIT_USAGE.
 */
int ctl_serial_arg(const char *cmd, int npos, const char *arg, char *serial, size_t len);

/* ---- shared operations (util.c) ---- */

/*
 * Checks that the state directory holds a CA, then opens the store named
 * by the configuration.  On failure prints what went wrong and what to do
 * and returns CTL_EXIT_FAIL; *out: close with scep_store_close().
 */
int ctl_open_store(struct ctl *c, struct scep_store **out);

/* c->cfg.database for messages and output, a password in it replaced by
 * "***"; borrowed from c, valid until the next call. */
const char *ctl_database(struct ctl *c);

/*
 * Loads the CA from the state directory, printing a helpful message on
 * failure (no CA yet, key permissions).  Returns CTL_EXIT_OK or
 * CTL_EXIT_FAIL; *out: release with scep_ca_free().
 */
struct scep_ca;
int ctl_load_ca(struct ctl *c, struct scep_ca **out);

/*
 * Appends an audit event of kind with serial and detail (either may be
 * NULL), actor c->actor.  A failure is reported on stderr; returns
 * CTL_EXIT_OK or CTL_EXIT_FAIL.
 */
int ctl_audit(struct ctl *c, struct scep_store *st, const char *kind, const char *serial,
              const char *detail);

/*
 * Reads the certificate record with serial (store form).  On failure
 * prints why, prefixed by cmd, and returns CTL_EXIT_FAIL; otherwise
 * returns CTL_EXIT_OK.  *out: free with scep_cert_info_free().
 */
int ctl_get_cert(struct ctl *c, struct scep_store *st, const char *cmd, const char *serial,
                 struct scep_cert_info **out);

/*
 * Applies a command flag (e.g. init --rsa-bits) to the configuration key
 * it overrides (ca_rsa_bits), so that it is validated exactly as the
 * scepd.conf(5) value would be.  value NULL: nothing to do.  Returns
 * CTL_EXIT_OK, or CTL_EXIT_USAGE after printing why.
 */
int ctl_override(struct ctl *c, const char *cmd, const char *key, const char *value,
                 const char *flag);

/* ---- certificate records (cmd_list.c) ---- */

/*
 * A JSON object for a certificate record: serial, subject, sans,
 * not_before, not_after, status, revoked_at, reason, transaction_id,
 * requester, msg_type, profile, source, seen_at, superseded_by,
 * superseded_at; with full also issued_at, issuer_fingerprint,
 * pubkey_fingerprint, renewed_serial.  New reference; NULL on ENOMEM.
 */
json_t *ctl_cert_info_json(const struct scep_cert_info *ci, int64_t now, int full);

/* ---- requests held for approval (cmd_requests.c) ---- */

/* "pending", "approved", "rejected", "issued", or "unknown". */
const char *ctl_request_status(int status);

/*
 * Looks up the request named by arg: an argument of only digits is a
 * request id, anything else a transactionID.  On failure prints why,
 * prefixed by cmd, and returns CTL_EXIT_USAGE (a malformed id) or
 * CTL_EXIT_FAIL (unknown, database error).  *out: free with
 * scep_request_info_free().
 */
int ctl_find_request(struct ctl *c, struct scep_store *st, const char *cmd, const char *arg,
                     struct scep_request_info **out);

/*
 * A JSON object for a request record with every field but the CSR: id,
 * status, transaction_id, subject, sans, pubkey_fingerprint, msg_type,
 * requester, created_at, decided_at, decided_by, reason, serial.  New
 * reference; NULL on ENOMEM.
 */
json_t *ctl_request_json(const struct scep_request_info *ri);

/* ---- output (output.c) ---- */

/* Prints "scepctl: " and the formatted message and a newline to stderr. */
void ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Formats t as ISO 8601 UTC ("2025-01-31T12:00:00Z") into buf (at least
 * 21 bytes).  Returns buf.  t == 0 gives "-".
 */
const char *ctl_iso_time(int64_t t, char *buf, size_t len);

/* A JSON string for t in ISO 8601 UTC, or JSON null when t is 0.
 * Returns a new reference (NULL only on allocation failure). */
json_t *ctl_json_time(int64_t t);

/* A JSON string for s, or JSON null when s is NULL or empty. */
json_t *ctl_json_str(const char *s);

/*
 * Dumps v as indented JSON plus a newline to stdout and steals the
 * reference.  Returns CTL_EXIT_OK or CTL_EXIT_FAIL.
 */
int ctl_json_print(json_t *v);

/* A text table built row by row and printed with aligned columns. */
struct ctl_table;

/* Makes a table with ncols columns named by the ncols strings in heads
 * (copied).  Returns NULL on allocation failure.  Free with
 * ctl_table_free(). */
struct ctl_table *ctl_table_new(int ncols, const char *const *heads);

/* Appends one row of ncols strings (copied; NULL prints as "-").
 * Returns 0 or -1 on allocation failure. */
int ctl_table_add(struct ctl_table *t, const char *const *cells);

/* Prints the header and rows to stdout, columns padded to their widest
 * cell; the last column is never padded. */
void ctl_table_print(const struct ctl_table *t);

void ctl_table_free(struct ctl_table *t);

/* Prints "key: value" lines aligned on the colon, for show-like output. */
void ctl_kv(const char *key, const char *value);

/* Subject (RFC 2253) of a certificate into buf; "" on failure. */
const char *ctl_x509_subject(X509 *x, char *buf, size_t len);

/* Issuer (RFC 2253) of a certificate into buf; "" on failure. */
const char *ctl_x509_issuer(X509 *x, char *buf, size_t len);

/* Serial of a certificate as uppercase hex into buf; "" on failure. */
const char *ctl_x509_serial(X509 *x, char *buf, size_t len);

/* "RSA 3072", "EC P-256", ... for a certificate's public key into buf. */
const char *ctl_x509_keydesc(X509 *x, char *buf, size_t len);

/* Unix time of an ASN1_TIME, or 0 if it cannot be converted. */
int64_t ctl_asn1_time(const ASN1_TIME *t);

/* A JSON object describing a CA/RA certificate: subject, serial,
 * not_before, not_after, key, fingerprint_sha256.  New reference; NULL on
 * allocation failure. */
json_t *ctl_cert_json(X509 *x);

/* Prints the same fields as "key: value" lines under a title line. */
void ctl_cert_print(const char *title, X509 *x);

#endif
