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
#include <stdint.h>
#include "ca/ca.h"
#include "service/service.h"
#include "admin/notify.h"

struct scep_rules;

/* Longest profile name: [A-Za-z0-9_-], served at <path_prefix>/NAME. */
#define SCEP_CONFIG_MAX_PROFILE_NAME 32

/* Profiles a configuration may define besides the default one. */
#define SCEP_CONFIG_MAX_PROFILES 64

/*
 * One enrollment profile: the [enroll] keys (the default profile) or a
 * [profile NAME] section.  A named profile starts from the built-in
 * defaults, not from [enroll]: what a URL allows is written in its own
 * section.
 */
struct scep_config_profile {
    char *name; /* "" for the default profile */
    int line;   /* line of its section header in config_file, 0: none */

    char *challenge;         /* static challenge password; default none */
    char *challenge_file;    /* read the challenge from this file (first line) */
    int open_enrollment;     /* named profiles: no challenge needed at all (default 0) */
    int renewal;             /* accept renewals signed by a certificate of this CA, default 1 */
    int renewal_window_days; /* renew only within this many days of expiry; 0: any time */
    int revoke_superseded_after_days; /* scepd revokes a renewed certificate (reason
                                       * superseded) this long after its renewal; 0 never */
    char *approval;        /* "auto" (default) or "manual": enrollments wait for scepctl approve */
    int validity_days;     /* issued certificates, default 365 */
    long validity_seconds; /* >0 overrides validity_days (short-lived certificates), default 0 */
    char *key_usage;       /* default "critical,digitalSignature,keyEncipherment" */
    char *ext_key_usage;   /* default "clientAuth" */
    char *crl_url;
    char *ocsp_url;
    char *ca_issuers_url;
    long min_rsa_exponent;     /* smallest RSA public exponent certified, default 65537, >= 3 */
    char *ec_curves;           /* EC curves certified, default "P-256,P-384,P-521" */
    int allow_wildcard_dns;    /* dNSName "*.example" in CSRs, default 0 */
    int allow_des;             /* single-DES envelopes (old Cisco IOS, micromdm), default 0 */
    char *webhook_url;         /* POST each new enrollment here; allow only on {"allow": true} */
    char *webhook_secret;      /* HMAC key of X-Scepd-Signature (prefer webhook_secret_file) */
    char *webhook_secret_file; /* file whose first line is webhook_secret */
    int webhook_timeout_ms;    /* default 5000 */
    /* What a CSR may ask for: key_types, min_rsa_bits, subject_*,
     * san_*, *_pattern (lib/policy/rules.h); owned, never NULL once
     * made; permissive until a rule key is set. */
    struct scep_rules *rules;

    /* Set by scep_config_finish once challenge / webhook_secret hold
     * their files' contents, so that finishing again reads nothing twice. */
    int challenge_from_file;
    int secret_from_file;
};

struct scep_config {
    /* [server] */
    char *listen;        /* "HOST:PORT"; default "0.0.0.0:8080" ("[::1]:8080" for v6) */
    int workers;         /* 0: number of cores (max SCEP_MAX_WORKERS) */
    char *path_prefix;   /* default "/scep"; "/cgi-bin/pkiclient.exe" always also served */
    size_t max_body;     /* default SCEP_MAX_BODY */
    int read_timeout;    /* seconds, default SCEP_READ_TIMEOUT_SECONDS */
    int write_timeout;   /* seconds, default SCEP_WRITE_TIMEOUT_SECONDS */
    int max_connections; /* per worker, default SCEP_MAX_CONNECTIONS_PER_WORKER */
    /* per client address across the workers (0: no limit), default
     * SCEP_MAX_CONNECTIONS_PER_CLIENT */
    int max_connections_per_client;
    size_t max_header_memory; /* bytes of partial requests, default SCEP_MAX_HEADER_MEMORY */
    char *log_level;          /* "debug", "info" (default), "warn", "error" */
    char *public_url;         /* URL to print/log; default http://LISTEN PREFIX */

    /* [tls]: a second listener speaking TLS, serving the same routes */
    char *tls_listen;        /* "HOST:PORT"; default NULL: no TLS listener */
    char *tls_cert;          /* PEM server certificate (chain) */
    char *tls_key;           /* PEM private key of tls_cert */
    char *tls_client_ca;     /* PEM CA certificates that client certificates must chain to */
    char *tls_client_verify; /* "none" (default), "optional", "require" */

    /* [admin]: the admin API's own HTTPS listener */
    char *admin_listen;             /* "HOST:PORT"; default NULL: no admin API */
    char *admin_tls_cert;           /* PEM; NULL: STATE_DIR/admin/tls.crt, issued by the CA */
    char *admin_tls_key;            /* PEM key of admin_tls_cert */
    char *admin_client_ca;          /* PEM CAs of client certificates, or NULL: none asked */
    char *admin_client_role;        /* "auditor" (default), "operator", "admin" */
    char *admin_client_roles;       /* "CN-PATTERN:ROLE, ...": client_roles.c; NULL: none */
    int admin_auth_fail_per_minute; /* failed authentications per address; 0: off; default 10 */
    int admin_auth_fail_burst;      /* default 10 */
    char *metrics_listen;           /* "public" (default) or "admin" */

    /* [ca] */
    char *state_dir;              /* default "/var/lib/scepd" */
    char *database;               /* default NULL: "sqlite:<state_dir>/scepd.db" */
    char *ca_subject;             /* default "CN=scepd CA" (used on first start / scepctl init) */
    char *ca_key_type;            /* "rsa" (default), "ec-p256", "ec-p384" */
    int ca_rsa_bits;              /* default 3072 */
    int ca_validity_days;         /* default 3650 */
    int ca_with_ra;               /* default 0 (forced for EC) */
    int ca_ra_rsa_bits;           /* RSA size of a new RA, default 3072 */
    int crl_validity_hours;       /* nextUpdate of CRLs, default 168 */
    int ocsp_validity_minutes;    /* nextUpdate of OCSP answers, default 60 */
    char *ocsp_signer;            /* "delegated" (default: a responder per CA) or "ca" */
    int ocsp_responder_days;      /* life of a delegated responder certificate, default 7 */
    int purge_decided_after_days; /* rejected/issued requests kept this long; 0: forever */

    /* [enroll]: the default profile, served at path_prefix itself.
     * Every [profile NAME] section holds the same keys for its own URL. */
    struct scep_config_profile enroll;
    struct scep_config_profile *profiles; /* the [profile NAME] sections, in file order */
    size_t nprofiles;

    /* [limits]: token buckets shared by every worker; rate 0 = off */
    int rate_address_per_minute; /* PKIOperations per source address */
    int rate_address_burst;
    int rate_challenge_per_minute; /* enrollments per challenge password */
    int rate_challenge_burst;

    /* [notify]: expiry notifications (issue 8) */
    char *notify_days;           /* thresholds, default "30,7,1" (days, or with d/h/m/s) */
    int notify_interval_seconds; /* default 300 */
    char *notify_webhook_url;    /* POST a signed notice per certificate and threshold */
    char *notify_webhook_secret; /* HMAC key (prefer notify_webhook_secret_file) */
    char *notify_webhook_secret_file;
    int notify_webhook_timeout_ms; /* default 5000 */
    char *smtp_url;                /* smtp:// (STARTTLS when offered) or smtps:// */
    char *smtp_from;               /* bare address */
    char *smtp_to;                 /* bare addresses, comma-separated */
    char *smtp_user;               /* with smtp_password_file */
    char *smtp_password_file;      /* mode 0600 */
    int smtp_timeout_seconds;      /* default 30 */

    char *config_file; /* the file read last, for "FILE:LINE" in scep_config_finish */

    /* Derived by scep_config_finish, not keys: with public_url set and
     * crl_url / ocsp_url not, issued certificates point at scepd itself
     * (<public_url scheme://host:port>/crl/<CA key id>.crl and /ocsp). */
    char *auto_crl_base; /* ".../crl"; NULL: none */
    char *auto_ocsp_url; /* ".../ocsp"; NULL: none */
    /* Derived from [notify] by scep_config_finish: notify_days in
     * seconds, largest first; the password read from smtp_password_file
     * (owned, wiped on clear); whether notify_webhook_secret came from
     * its file (so that finishing again reads nothing twice). */
    int64_t notify_thresholds[SCEP_NOTIFY_MAX_THRESHOLDS];
    size_t notify_nthresholds;
    char *smtp_password;
    int notify_secret_from_file;
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
void scep_config_profile(const struct scep_config *c, const struct scep_config_profile *cp,
                         struct scep_profile *p);
/* s->profiles is set to profiles, which the caller provides with room
 * for c->nprofiles entries (each filled from one [profile NAME]). */
void scep_config_service(const struct scep_config *c, struct scep_service_config *s,
                         struct scep_service_profile *profiles);

/* The profile named name ("" or NULL: the default one), or NULL. */
const struct scep_config_profile *scep_config_find_profile(const struct scep_config *c,
                                                           const char *name);

/* Frees every string in c.  Accepts NULL. */
void scep_config_clear(struct scep_config *c);

/*
 * admin_client_roles (client_roles.c).  scep_config_client_roles_check:
 * 0, or SCEP_ERR_CONFIG with err set when the list is malformed.
 * scep_config_client_role: the role name ("auditor", "operator",
 * "admin") for a client certificate whose subject CN is cn: the first
 * pattern that matches, else admin_client_role.  Borrowed, static or
 * from c.
 */
int scep_config_client_roles_check(const char *map, char *err, size_t errlen);
const char *scep_config_client_role(const struct scep_config *c, const char *cn);

#endif
