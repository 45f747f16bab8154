/*
 * scepd.conf: the configuration shared by scepd and scepctl.  One INI
 * file (libinih) whose every key is also a command-line flag: key
 * "path_prefix" in any section is flag "--path-prefix".  Flags are applied
 * after the file, so they win.  Keys are unique across sections; see
 * scepd.conf(5) for the list and defaults.
 */
#ifndef SCEP_CONFIG_CONFIG_H
#define SCEP_CONFIG_CONFIG_H

#include <stddef.h>
#include "ca/ca.h"
#include "service/service.h"

struct scep_config {
    /* [server] */
    char *listen;        /* "HOST:PORT"; default "0.0.0.0:8080" ("[::1]:8080" for v6) */
    int workers;         /* 0: number of cores (max SCEP_MAX_WORKERS) */
    char *path_prefix;   /* default "/scep"; "/cgi-bin/pkiclient.exe" always also served */
    size_t max_body;     /* default SCEP_MAX_BODY */
    int read_timeout;    /* seconds, default SCEP_READ_TIMEOUT_SECONDS */
    int write_timeout;   /* seconds, default SCEP_WRITE_TIMEOUT_SECONDS */
    int max_connections; /* per worker, default SCEP_MAX_CONNECTIONS_PER_WORKER */
    char *log_level;     /* "debug", "info" (default), "warn", "error" */
    char *public_url;    /* URL to print/log; default http://LISTEN PREFIX */

    /* [tls]: a second listener speaking TLS, serving the same routes */
    char *tls_listen;        /* "HOST:PORT"; default NULL: no TLS listener */
    char *tls_cert;          /* PEM server certificate (chain) */
    char *tls_key;           /* PEM private key of tls_cert */
    char *tls_client_ca;     /* PEM CA certificates that client certificates must chain to */
    char *tls_client_verify; /* "none" (default), "optional", "require" */

    /* [ca] */
    char *state_dir;           /* default "/var/lib/scepd" */
    char *database;            /* default NULL: "sqlite:<state_dir>/scepd.db" */
    char *ca_subject;          /* default "CN=scepd CA" (used on first start / scepctl init) */
    char *ca_key_type;         /* "rsa" (default), "ec-p256", "ec-p384" */
    int ca_rsa_bits;           /* default 3072 */
    int ca_validity_days;      /* default 3650 */
    int ca_with_ra;            /* default 0 (forced for EC) */
    int crl_validity_hours;    /* nextUpdate of CRLs, default 168 */
    int ocsp_validity_minutes; /* nextUpdate of OCSP answers, default 60 */

    /* [enroll] */
    char *challenge;       /* static challenge password; default none */
    char *challenge_file;  /* read the challenge from this file (first line) */
    int renewal;           /* accept RenewalReq, default 1 */
    char *approval;        /* "auto" (default) or "manual": enrollments wait for scepctl approve */
    int validity_days;     /* issued certificates, default 365 */
    long validity_seconds; /* >0 overrides validity_days (short-lived certificates), default 0 */
    char *key_usage;       /* default "critical,digitalSignature,keyEncipherment" */
    char *ext_key_usage;   /* default "clientAuth" */
    char *crl_url;
    char *ocsp_url;
    char *ca_issuers_url;
    long min_rsa_exponent;  /* smallest RSA public exponent certified, default 65537, >= 3 */
    char *ec_curves;        /* EC curves certified, default "P-256,P-384,P-521" */
    int allow_wildcard_dns; /* dNSName "*.example" in CSRs, default 0 */
    int allow_des;          /* single-DES envelopes (old Cisco IOS, micromdm), default 0 */

    /* Derived by scep_config_finish, not keys: with public_url set and
     * crl_url / ocsp_url not, issued certificates point at scepd itself
     * (<public_url scheme://host:port>/crl/<CA key id>.crl and /ocsp). */
    char *auto_crl_base; /* ".../crl"; NULL: none */
    char *auto_ocsp_url; /* ".../ocsp"; NULL: none */
};

/* Fills c with the defaults above (strings allocated).  Returns 0 or SCEP_ERR_NOMEM. */
int scep_config_defaults(struct scep_config *c);

/*
 * Reads an INI file into c.  Unknown sections or keys, and malformed
 * values, are errors: err receives "FILE:LINE: reason".  Returns 0,
 * SCEP_ERR_IO or SCEP_ERR_CONFIG.
 */
int scep_config_load_file(struct scep_config *c, const char *path, char *err, size_t errlen);

/*
 * Sets one key by name ("listen", "path_prefix" or "path-prefix").
 * Returns 0, or SCEP_ERR_CONFIG with err filled for an unknown key or a
 * bad value.
 */
int scep_config_set(struct scep_config *c, const char *key, const char *value, char *err,
                    size_t errlen);

/* Returns 1 when name (with dashes or underscores) is a config key. */
int scep_config_is_key(const char *name);

/* Calls cb for every key in file order: name, section, one-line help. */
void scep_config_each_key(void (*cb)(const char *key, const char *section, const char *help,
                                     void *arg),
                          void *arg);

/*
 * Resolves derived values after file and flags: database default, the
 * challenge from challenge_file.  Returns 0 or SCEP_ERR_* with err set.
 */
int scep_config_finish(struct scep_config *c, char *err, size_t errlen);

/* The CA creation options / issuance profile / service settings that c
 * describes.  Pointers in the outputs borrow from c. */
void scep_config_ca_init_opts(const struct scep_config *c, struct scep_ca_init_opts *o);
void scep_config_profile(const struct scep_config *c, struct scep_profile *p);
void scep_config_service(const struct scep_config *c, struct scep_service_config *s);

/* Frees every string in c.  Accepts NULL. */
void scep_config_clear(struct scep_config *c);

#endif
