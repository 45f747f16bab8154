/*
 * scepc internals: the pieces the subcommands share -- exit codes, the
 * common connection options, file helpers (PEM/DER, atomic writes) and
 * the enroll/renew engine that scepc watch reuses.
 */
#ifndef SCEPC_H
#define SCEPC_H

#include <stdio.h>
#include <openssl/x509.h>
#include <scep/limits.h>
#include <scep/scep.h>

/* Exit codes, documented in --help and scepc(1). */
enum {
    EX_SCEPC_OK = 0,
    EX_SCEPC_ERROR = 1,       /* anything else */
    EX_SCEPC_USAGE = 2,       /* bad command line */
    EX_SCEPC_REFUSED = 3,     /* the server answered FAILURE (wrong challenge, policy) */
    EX_SCEPC_UNREACHABLE = 4, /* no HTTP answer, or an HTTP error status */
    EX_SCEPC_FINGERPRINT = 5, /* CA certificate does not match --fingerprint */
    EX_SCEPC_BAD_REPLY = 6,   /* CertRep malformed, forged or tampered with */
    EX_SCEPC_PENDING = 7,     /* still pending when --max-wait ran out */
    EX_SCEPC_FILE = 8         /* a local file could not be read or written */
};

enum { FMT_PEM = 0, FMT_DER = 1 };

/* Connection options every subcommand takes. */
struct conn_opts {
    const char *url;
    const char *fingerprint;
    const char *ca_bundle;
    const char *ca_ident;
    long timeout;
    int method;
    int cipher;
    int digest;
    int verbose;
};

/* What enroll, renew and watch need to make a certificate. */
struct enroll_opts {
    const char *subject;
    const char *sans[64];
    size_t nsans;
    const char *challenge;
    const char *key_path;
    const char *cert_path;
    const char *chain_path;
    const char *fullchain_path; /* leaf then chain, PEM (certbot's fullchain.pem) */
    int key_bits;
    int format;
    int reuse_key;
    long max_wait;      /* seconds to keep polling a PENDING request */
    long poll_interval; /* first poll delay, doubled up to 5 minutes */
    int quiet;
};

/* common.c */
extern const char *scepc_prog;
void scepc_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void scepc_info(const struct conn_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int scepc_conn_option(struct conn_opts *o, int opt, const char *arg);
int scepc_client_new(const struct conn_opts *o, struct scep_client **out);
int scepc_exit_code(int err);
int scepc_report(struct scep_client *c, int err, const char *what);
int scepc_parse_long(const char *s, long min, long max, long *out);
int scepc_parse_format(const char *s, int *out);
int scepc_read_challenge(const char *file, char **out);

/* files.c */
int file_exists(const char *path);
int load_key(const char *path, EVP_PKEY **out);
int load_cert(const char *path, X509 **out);
int write_key(const char *path, EVP_PKEY *key, int format);
int write_certs(const char *path, STACK_OF(X509) *certs, int from, int count, int format);
int write_crl(const char *path, X509_CRL *crl, int format);

/* enroll.c */
int scepc_run_enroll(const struct conn_opts *co, const struct enroll_opts *eo);
int scepc_run_renew(const struct conn_opts *co, const struct enroll_opts *eo);

/* subcommands */
int cmd_caps(int argc, char **argv);
int cmd_cacert(int argc, char **argv);
int cmd_enroll(int argc, char **argv);
int cmd_renew(int argc, char **argv);
int cmd_poll(int argc, char **argv);
int cmd_getcert(int argc, char **argv);
int cmd_getcrl(int argc, char **argv);
int cmd_watch(int argc, char **argv);

#endif
