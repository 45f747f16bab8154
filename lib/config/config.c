/*
 * scepd.conf: the configuration shared by scepd and scepctl.
 *
 * One table (conf_keys below) describes every key: its name, the INI
 * section it lives in, its type and range, its default and a one-line
 * help.  That table alone drives the defaults, the INI file reader
 * (libinih), command-line flags (scep_config_set), the --help and man
 * page listing (scep_config_each_key) and the validation of values, so a
 * key added here appears everywhere at once.  Nothing in this file prints
 * or exits: errors come back as SCEP_ERR_* with a one-line text in the
 * caller's buffer, "FILE:LINE: reason" for the file.
 */
#include "config/config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <ini.h>
#include <openssl/crypto.h>
#include <openssl/obj_mac.h>
#include <scep/error.h>
#include "common/server_limits.h"
#include "admin/notify.h"
#include "policy/rules.h"
#include "policy/smtp.h"

enum conf_type {
    CT_STRING, /* char *; "" stores NULL for optional keys */
    CT_INT,    /* int within [min, max] */
    CT_LONG,   /* long within [min, max] */
    CT_SIZE,   /* size_t within [min, max] */
    CT_BOOL,   /* int 0/1 from true/false/yes/no/on/off/1/0 */
    CT_CHOICE  /* char *, one of the '|'-separated words in choices */
};

/* Key flags. */
#define CF_REQUIRED 1u      /* a string that may not be empty */
#define CF_SECRET 2u        /* never repeated in error texts */
#define CF_LISTEN 4u        /* HOST:PORT or [V6]:PORT */
#define CF_PATH 8u          /* an URL path: starts with '/' */
#define CF_KU 16u           /* a keyUsage value OpenSSL accepts */
#define CF_EKU 32u          /* an extendedKeyUsage value OpenSSL accepts */
#define CF_CURVES 64u       /* a list of EC curve names (scep_ca_parse_curves) */
#define CF_PROFILE 128u     /* a profile key: offset into struct scep_config_profile */
#define CF_URL 256u         /* an http:// or https:// URL */
#define CF_NOTIFY_DAYS 512u /* a threshold list (scep_notify_parse_thresholds) */
#define CF_SMTP_URL 1024u   /* an smtp:// or smtps:// URL */
#define CF_MAIL 2048u       /* one bare mail address (scep_smtp_address_ok) */
#define CF_MAILS 4096u      /* bare mail addresses separated by commas */

struct conf_key {
    const char *name;
    const char *section;
    enum conf_type type;
    size_t offset;
    long long min, max;  /* numeric types */
    long long def_num;   /* numeric and boolean default */
    const char *def_str; /* string and choice default; NULL: none */
    const char *choices; /* CT_CHOICE */
    unsigned flags;
    const char *help;
};

#define OFF(f) offsetof(struct scep_config, f)
#define OFFP(f) offsetof(struct scep_config_profile, f)

/* The longest sane validity: a hundred years. */
#define CONF_MAX_DAYS 36500

static const struct conf_key conf_keys[] = {
    /* [server] */
    {"listen", "server", CT_STRING, OFF(listen), 0, 0, 0, "0.0.0.0:8080", NULL,
     CF_REQUIRED | CF_LISTEN, "address to listen on, HOST:PORT or [IPV6]:PORT; port 0 picks one"},
    {"workers", "server", CT_INT, OFF(workers), 0, SCEP_MAX_WORKERS, 0, NULL, NULL, 0,
     "worker threads; 0 means one per online core"},
    {"path_prefix", "server", CT_STRING, OFF(path_prefix), 0, 0, 0, "/scep", NULL,
     CF_REQUIRED | CF_PATH,
     "URL path of the SCEP endpoint (/cgi-bin/pkiclient.exe is also served)"},
    {"max_body", "server", CT_SIZE, OFF(max_body), 1024, SCEP_MAX_BODY, SCEP_MAX_BODY, NULL, NULL,
     0, "largest POST body accepted, in bytes"},
    {"read_timeout", "server", CT_INT, OFF(read_timeout), 1, 3600, SCEP_READ_TIMEOUT_SECONDS, NULL,
     NULL, 0, "seconds to wait for a request"},
    {"write_timeout", "server", CT_INT, OFF(write_timeout), 1, 3600, SCEP_WRITE_TIMEOUT_SECONDS,
     NULL, NULL, 0, "seconds to wait for a reply to be sent"},
    {"max_connections", "server", CT_INT, OFF(max_connections), 1, 1000000,
     SCEP_MAX_CONNECTIONS_PER_WORKER, NULL, NULL, 0, "concurrent connections per worker"},
    {"max_connections_per_client", "server", CT_INT, OFF(max_connections_per_client), 0, 1000000,
     SCEP_MAX_CONNECTIONS_PER_CLIENT, NULL, NULL, 0,
     "connections one client address (an IPv6 /64) may hold open, all workers together; 0: off"},
    {"max_header_memory", "server", CT_SIZE, OFF(max_header_memory), SCEP_MIN_HEADER_MEMORY,
     SCEP_MAX_HEADER_MEMORY_LIMIT, SCEP_MAX_HEADER_MEMORY, NULL, NULL, 0,
     "bytes all requests still arriving may hold; over it the largest are closed with 503"},
    {"log_level", "server", CT_CHOICE, OFF(log_level), 0, 0, 0, "info", "debug|info|warn|error", 0,
     "least severe log level written: debug, info, warn or error"},
    {"public_url", "server", CT_STRING, OFF(public_url), 0, 0, 0, NULL, NULL, 0,
     "URL clients use, for messages (default http://LISTEN/PREFIX)"},

    /* [tls] */
    {"tls_listen", "tls", CT_STRING, OFF(tls_listen), 0, 0, 0, NULL, NULL, CF_LISTEN,
     "address of a TLS listener serving the same routes, HOST:PORT; default none"},
    {"tls_cert", "tls", CT_STRING, OFF(tls_cert), 0, 0, 0, NULL, NULL, 0,
     "PEM certificate (chain) of the TLS listener"},
    {"tls_key", "tls", CT_STRING, OFF(tls_key), 0, 0, 0, NULL, NULL, 0,
     "PEM private key of tls_cert (not readable by others)"},
    {"tls_client_ca", "tls", CT_STRING, OFF(tls_client_ca), 0, 0, 0, NULL, NULL, 0,
     "PEM CA certificates that TLS client certificates are verified against"},
    {"tls_client_verify", "tls", CT_CHOICE, OFF(tls_client_verify), 0, 0, 0, "none",
     "none|optional|require", CF_REQUIRED,
     "TLS client certificates: none, optional (verified when sent) or require"},

    /* [admin]: the admin API's own HTTPS listener (docs/man/scepd.conf.5) */
    {"admin_listen", "admin", CT_STRING, OFF(admin_listen), 0, 0, 0, NULL, NULL, CF_LISTEN,
     "address of the admin API's HTTPS listener, HOST:PORT; default none (no admin API)"},
    {"admin_tls_cert", "admin", CT_STRING, OFF(admin_tls_cert), 0, 0, 0, NULL, NULL, 0,
     "PEM certificate (chain) of the admin listener (default: issued by the CA on first start)"},
    {"admin_tls_key", "admin", CT_STRING, OFF(admin_tls_key), 0, 0, 0, NULL, NULL, 0,
     "PEM private key of admin_tls_cert (not readable by others)"},
    {"admin_client_ca", "admin", CT_STRING, OFF(admin_client_ca), 0, 0, 0, NULL, NULL, 0,
     "PEM CA certificates whose client certificates authenticate to the admin API"},
    {"admin_client_role", "admin", CT_CHOICE, OFF(admin_client_role), 0, 0, 0, "auditor",
     "auditor|operator|admin", CF_REQUIRED,
     "role of a client certificate verified against admin_client_ca"},
    {"admin_client_roles", "admin", CT_STRING, OFF(admin_client_roles), 0, 0, 0, NULL, NULL, 0,
     "roles of client certificates by subject CN, first match wins: alice:admin, ops-*:operator "
     "(others get admin_client_role)"},
    {"admin_auth_fail_per_minute", "admin", CT_INT, OFF(admin_auth_fail_per_minute), 0, 1000000, 10,
     NULL, NULL, 0, "failed admin API authentications per minute from one address; 0: off"},
    {"admin_auth_fail_burst", "admin", CT_INT, OFF(admin_auth_fail_burst), 1, 1000000, 10, NULL,
     NULL, 0, "failed admin API authentications one address may make at once"},
    {"metrics_listen", "admin", CT_CHOICE, OFF(metrics_listen), 0, 0, 0, "public", "public|admin",
     CF_REQUIRED, "where /metrics is served: public (the SCEP listeners) or admin (with a token)"},

    /* [ca] */
    {"state_dir", "ca", CT_STRING, OFF(state_dir), 0, 0, 0, "/var/lib/scepd", NULL, CF_REQUIRED,
     "directory holding the CA keys and certificates"},
    {"database", "ca", CT_STRING, OFF(database), 0, 0, 0, NULL, NULL, 0,
     "certificate store, sqlite:PATH (default sqlite:STATE_DIR/scepd.db)"},
    {"ca_subject", "ca", CT_STRING, OFF(ca_subject), 0, 0, 0, "CN=scepd CA", NULL, CF_REQUIRED,
     "subject of a CA made on first start"},
    {"ca_key_type", "ca", CT_CHOICE, OFF(ca_key_type), 0, 0, 0, "rsa", "rsa|ec-p256|ec-p384", 0,
     "key of a CA made on first start: rsa, ec-p256 or ec-p384"},
    {"ca_rsa_bits", "ca", CT_INT, OFF(ca_rsa_bits), SCEP_MIN_RSA_BITS, SCEP_MAX_RSA_BITS, 3072,
     NULL, NULL, 0, "RSA modulus size of a CA made on first start"},
    {"ca_validity_days", "ca", CT_INT, OFF(ca_validity_days), 1, CONF_MAX_DAYS, 3650, NULL, NULL, 0,
     "validity of a CA certificate made on first start, in days"},
    {"ca_with_ra", "ca", CT_BOOL, OFF(ca_with_ra), 0, 1, 0, NULL, NULL, 0,
     "make a separate RA certificate (always for an EC CA)"},
    {"ca_ra_rsa_bits", "ca", CT_INT, OFF(ca_ra_rsa_bits), SCEP_MIN_RSA_BITS, SCEP_MAX_RSA_BITS,
     3072, NULL, NULL, 0, "RSA modulus size of an RA made with a new CA"},
    {"crl_validity_hours", "ca", CT_INT, OFF(crl_validity_hours), 1, 24 * CONF_MAX_DAYS, 168, NULL,
     NULL, 0, "hours until a CRL's nextUpdate"},
    {"ocsp_validity_minutes", "ca", CT_INT, OFF(ocsp_validity_minutes), 1, 7 * 24 * 60, 60, NULL,
     NULL, 0, "minutes until an OCSP answer's nextUpdate"},
    {"ocsp_signer", "ca", CT_CHOICE, OFF(ocsp_signer), 0, 0, 0, "delegated", "delegated|ca",
     CF_REQUIRED,
     "who signs OCSP answers: delegated (a responder certificate per CA) or ca (the CA key)"},
    {"ocsp_responder_days", "ca", CT_INT, OFF(ocsp_responder_days), 1, SCEP_CA_RESPONDER_MAX_DAYS,
     7, NULL, NULL, 0, "validity of a delegated OCSP responder certificate, in days"},
    {"purge_decided_after_days", "ca", CT_INT, OFF(purge_decided_after_days), 0, CONF_MAX_DAYS, 30,
     NULL, NULL, 0,
     "days a rejected or issued request (and its CSR) is kept after its decision; 0: forever"},

    /* [enroll] */
    {"challenge", "enroll", CT_STRING, OFFP(challenge), 0, 0, 0, NULL, NULL, CF_SECRET | CF_PROFILE,
     "static challenge password (prefer challenge_file)"},
    {"challenge_file", "enroll", CT_STRING, OFFP(challenge_file), 0, 0, 0, NULL, NULL, CF_PROFILE,
     "file whose first line is the challenge password"},
    {"open_enrollment", "enroll", CT_BOOL, OFFP(open_enrollment), 0, 1, 0, NULL, NULL, CF_PROFILE,
     "issue to anyone who reaches the URL, with no challenge at all (default false)"},
    {"renewal", "enroll", CT_BOOL, OFFP(renewal), 0, 1, 1, NULL, NULL, CF_PROFILE,
     "accept RenewalReq signed by a certificate of this CA"},
    {"renewal_window_days", "enroll", CT_INT, OFFP(renewal_window_days), 0, CONF_MAX_DAYS, 0, NULL,
     NULL, CF_PROFILE,
     "renew only within this many days of the old certificate's expiry; 0: any time"},
    {"revoke_superseded_after_days", "enroll", CT_INT, OFFP(revoke_superseded_after_days), 0,
     CONF_MAX_DAYS, 0, NULL, NULL, CF_PROFILE,
     "revoke a renewed certificate (reason superseded) this many days after its renewal; 0: "
     "never"},
    {"approval", "enroll", CT_CHOICE, OFFP(approval), 0, 0, 0, "auto", "auto|manual",
     CF_REQUIRED | CF_PROFILE,
     "auto issues at once; manual holds new enrollments PENDING until scepctl approve"},
    {"validity_days", "enroll", CT_INT, OFFP(validity_days), 1, CONF_MAX_DAYS, 365, NULL, NULL,
     CF_PROFILE, "validity of issued certificates, in days"},
    {"validity_seconds", "enroll", CT_LONG, OFFP(validity_seconds), 0,
     (long long)CONF_MAX_DAYS * 86400, 0, NULL, NULL, CF_PROFILE,
     "validity of issued certificates in seconds; overrides validity_days when > 0"},
    {"key_usage", "enroll", CT_STRING, OFFP(key_usage), 0, 0, 0,
     "critical,digitalSignature,keyEncipherment", NULL, CF_REQUIRED | CF_KU | CF_PROFILE,
     "keyUsage of issued certificates (OpenSSL syntax)"},
    {"ext_key_usage", "enroll", CT_STRING, OFFP(ext_key_usage), 0, 0, 0, "clientAuth", NULL,
     CF_REQUIRED | CF_EKU | CF_PROFILE, "extendedKeyUsage of issued certificates (OpenSSL syntax)"},
    {"crl_url", "enroll", CT_STRING, OFFP(crl_url), 0, 0, 0, NULL, NULL, CF_PROFILE,
     "CRL distribution point URI put in issued certificates (default from public_url)"},
    {"ocsp_url", "enroll", CT_STRING, OFFP(ocsp_url), 0, 0, 0, NULL, NULL, CF_PROFILE,
     "OCSP responder URI put in issued certificates (default from public_url)"},
    {"ca_issuers_url", "enroll", CT_STRING, OFFP(ca_issuers_url), 0, 0, 0, NULL, NULL, CF_PROFILE,
     "caIssuers URI put in issued certificates"},
    {"min_rsa_exponent", "enroll", CT_LONG, OFFP(min_rsa_exponent), 3, 0x7fffffffL, 65537, NULL,
     NULL, CF_PROFILE, "smallest RSA public exponent certified (odd exponents only; at least 3)"},
    {"ec_curves", "enroll", CT_STRING, OFFP(ec_curves), 0, 0, 0, "P-256,P-384,P-521", NULL,
     CF_REQUIRED | CF_CURVES | CF_PROFILE,
     "EC curves certified in CSRs: P-256, P-384, P-521, comma-separated"},
    {"allow_wildcard_dns", "enroll", CT_BOOL, OFFP(allow_wildcard_dns), 0, 1, 0, NULL, NULL,
     CF_PROFILE, "certify dNSName subjectAltNames of the form *.example.org"},
    {"allow_des", "enroll", CT_BOOL, OFFP(allow_des), 0, 1, 0, NULL, NULL, CF_PROFILE,
     "accept single-DES envelopes (old Cisco IOS, micromdm scepclient)"},
    {"webhook_url", "enroll", CT_STRING, OFFP(webhook_url), 0, 0, 0, NULL, NULL,
     CF_URL | CF_PROFILE, "POST every new enrollment here; issue only on a 2xx {\"allow\": true}"},
    {"webhook_secret", "enroll", CT_STRING, OFFP(webhook_secret), 0, 0, 0, NULL, NULL,
     CF_SECRET | CF_PROFILE, "HMAC-SHA256 key of the X-Scepd-Signature header (prefer the file)"},
    {"webhook_secret_file", "enroll", CT_STRING, OFFP(webhook_secret_file), 0, 0, 0, NULL, NULL,
     CF_PROFILE, "file whose first line is webhook_secret"},
    {"webhook_timeout_ms", "enroll", CT_INT, OFFP(webhook_timeout_ms), 100, 60000, 5000, NULL, NULL,
     CF_PROFILE, "milliseconds to wait for the webhook; no answer in time denies"},

    /* [limits] */
    {"rate_address_per_minute", "limits", CT_INT, OFF(rate_address_per_minute), 0, 1000000, 0, NULL,
     NULL, 0, "PKIOperations per minute from one source address; 0: no limit"},
    {"rate_address_burst", "limits", CT_INT, OFF(rate_address_burst), 1, 1000000, 20, NULL, NULL, 0,
     "PKIOperations one source address may send at once"},
    {"rate_challenge_per_minute", "limits", CT_INT, OFF(rate_challenge_per_minute), 0, 1000000, 0,
     NULL, NULL, 0, "enrollments per minute with one challenge password; 0: no limit"},
    {"rate_challenge_burst", "limits", CT_INT, OFF(rate_challenge_burst), 1, 1000000, 10, NULL,
     NULL, 0, "enrollments with one challenge password at once"},

    /* [notify]: expiry notifications (issue 8) */
    {"notify_days", "notify", CT_STRING, OFF(notify_days), 0, 0, 0, "30,7,1", NULL,
     CF_REQUIRED | CF_NOTIFY_DAYS,
     "notify this long before a certificate expires: days, or with a unit (d, h, m, s), "
     "comma-separated"},
    {"notify_interval_seconds", "notify", CT_INT, OFF(notify_interval_seconds), 1, 86400, 300, NULL,
     NULL, 0, "seconds between two looks for certificates due for a notice"},
    {"notify_webhook_url", "notify", CT_STRING, OFF(notify_webhook_url), 0, 0, 0, NULL, NULL,
     CF_URL, "POST a signed JSON notice per certificate and threshold here; default none"},
    {"notify_webhook_secret", "notify", CT_STRING, OFF(notify_webhook_secret), 0, 0, 0, NULL, NULL,
     CF_SECRET, "HMAC-SHA256 key of the notices' X-Scepd-Signature (prefer the file)"},
    {"notify_webhook_secret_file", "notify", CT_STRING, OFF(notify_webhook_secret_file), 0, 0, 0,
     NULL, NULL, 0, "file whose first line is notify_webhook_secret"},
    {"notify_webhook_timeout_ms", "notify", CT_INT, OFF(notify_webhook_timeout_ms), 100, 60000,
     5000, NULL, NULL, 0, "milliseconds to wait for the notice webhook; later is a failed attempt"},
    {"smtp_url", "notify", CT_STRING, OFF(smtp_url), 0, 0, 0, NULL, NULL, CF_SMTP_URL,
     "mail a digest of due certificates through this server, smtp://HOST:PORT or smtps://"},
    {"smtp_from", "notify", CT_STRING, OFF(smtp_from), 0, 0, 0, NULL, NULL, CF_MAIL,
     "sender address of the digest"},
    {"smtp_to", "notify", CT_STRING, OFF(smtp_to), 0, 0, 0, NULL, NULL, CF_MAILS,
     "recipient addresses of the digest, comma-separated"},
    {"smtp_user", "notify", CT_STRING, OFF(smtp_user), 0, 0, 0, NULL, NULL, 0,
     "SMTP AUTH user name; default none (no AUTH)"},
    {"smtp_password_file", "notify", CT_STRING, OFF(smtp_password_file), 0, 0, 0, NULL, NULL, 0,
     "file (mode 0600) whose first line is smtp_user's password"},
    {"smtp_timeout_seconds", "notify", CT_INT, OFF(smtp_timeout_seconds), 1, 600, 30, NULL, NULL, 0,
     "seconds one SMTP exchange may take"},
};

#define CONF_NKEYS (sizeof(conf_keys) / sizeof(conf_keys[0]))

/* Longest key name we compare; flags and INI names are short. */
#define CONF_MAX_NAME 64

static void conf_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void conf_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Finds a key by name, treating '-' as '_' so flags and file agree. */
static const struct conf_key *conf_find(const char *name)
{
    char norm[CONF_MAX_NAME];
    size_t i, len;

    if (name == NULL)
        return NULL;
    len = strlen(name);
    if (len == 0 || len >= sizeof(norm))
        return NULL;
    for (i = 0; i < len; i++)
        norm[i] = name[i] == '-' ? '_' : name[i];
    norm[len] = '\0';
    for (i = 0; i < CONF_NKEYS; i++)
        if (strcmp(conf_keys[i].name, norm) == 0)
            return &conf_keys[i];
    return NULL;
}

/*
 * Where key k lives: in c itself, or for a profile key in cp (c's
 * default profile when cp is NULL).
 */
static void *conf_base(struct scep_config *c, struct scep_config_profile *cp,
                       const struct conf_key *k)
{
    if (k->flags & CF_PROFILE)
        return cp != NULL ? (void *)cp : (void *)&c->enroll;
    return c;
}

/* Whether name (dashes or underscores) is a rule key; norm receives it
 * with underscores. */
static int conf_rule_name(const char *name, char *norm, size_t size)
{
    size_t i, len;

    if (name == NULL)
        return 0;
    len = strlen(name);
    if (len == 0 || len >= size)
        return 0;
    for (i = 0; i < len; i++)
        norm[i] = name[i] == '-' ? '_' : name[i];
    norm[len] = '\0';
    return scep_rules_is_key(norm);
}

static char **conf_str(void *base, const struct conf_key *k)
{
    return (char **)((char *)base + k->offset);
}

/*
 * Parses a decimal integer with every check strtoll leaves to its caller:
 * empty input, trailing junk, overflow.
 */
static int conf_parse_num(const char *s, long long min, long long max, long long *out)
{
    char *end = NULL;
    long long v;

    if (s == NULL || *s == '\0')
        return SCEP_ERR_CONFIG;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0')
        return SCEP_ERR_CONFIG;
    if (v < min || v > max)
        return SCEP_ERR_CONFIG;
    *out = v;
    return 0;
}

static int conf_parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    size_t i;

    for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return SCEP_ERR_CONFIG;
}

/* Returns 1 when word is one of the '|'-separated choices. */
static int conf_choice_ok(const char *choices, const char *word)
{
    const char *p = choices;
    size_t wlen = strlen(word);

    while (*p != '\0') {
        const char *bar = strchr(p, '|');
        size_t n = bar != NULL ? (size_t)(bar - p) : strlen(p);

        if (n == wlen && strncmp(p, word, n) == 0)
            return 1;
        if (bar == NULL)
            break;
        p = bar + 1;
    }
    return 0;
}

/*
 * Checks the form of a listen address: "HOST:PORT" (HOST may be empty or
 * a name) or "[V6ADDR]:PORT", port 0..65535.  Resolution is scepd's job.
 */
static int conf_listen_ok(const char *s)
{
    const char *colon;
    long long port;

    if (s[0] == '[') {
        const char *close = strchr(s, ']');

        if (close == NULL || close == s + 1 || close[1] != ':')
            return 0;
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL || memchr(s, ':', (size_t)(colon - s)) != NULL)
            return 0;
    }
    return conf_parse_num(colon + 1, 0, 65535, &port) == 0;
}

/*
 * A secret set anew, or its file named anew: what an earlier
 * scep_config_finish read from the old file no longer stands, so the
 * next finish checks and reads again.
 */
static void conf_forget_file(void *base, const struct conf_key *k)
{
    struct scep_config_profile *cp = base;
    char **secret = NULL;
    int *from_file = NULL;

    if (!(k->flags & CF_PROFILE))
        return;
    if (k->offset == OFFP(challenge) || k->offset == OFFP(challenge_file)) {
        secret = &cp->challenge;
        from_file = &cp->challenge_from_file;
    } else if (k->offset == OFFP(webhook_secret) || k->offset == OFFP(webhook_secret_file)) {
        secret = &cp->webhook_secret;
        from_file = &cp->secret_from_file;
    } else {
        return;
    }
    /* The file's name changed: its old content goes. */
    if (*from_file &&
        (k->offset == OFFP(challenge_file) || k->offset == OFFP(webhook_secret_file)) &&
        *secret != NULL) {
        OPENSSL_cleanse(*secret, strlen(*secret));
        free(*secret);
        *secret = NULL;
    }
    *from_file = 0;
}

/* 1 when value is bare mail addresses separated by commas (spaces around
 * them allowed), at most SCEP_SMTP_MAX_RCPT. */
static int conf_mails_ok(const char *value)
{
    const char *p = value, *end;
    size_t n, count = 0;

    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        end = p + strcspn(p, ",");
        n = (size_t)(end - p);
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (!scep_smtp_address_ok(p, n) || ++count > SCEP_SMTP_MAX_RCPT)
            return 0;
        if (*end == '\0')
            return 1;
        p = end + 1;
    }
}

/* Sets key k in base (conf_base) from its text value. */
static int conf_apply(void *base, const struct conf_key *k, const char *value, char *err,
                      size_t errlen)
{
    const char *shown = (k->flags & CF_SECRET) ? "(secret)" : value;
    long long num = 0;
    unsigned curves = 0;
    int b = 0;
    char *dup = NULL;

    switch (k->type) {
    case CT_STRING:
    case CT_CHOICE:
        if (value[0] == '\0') {
            if (k->flags & CF_REQUIRED) {
                conf_err(err, errlen, "%s: may not be empty", k->name);
                return SCEP_ERR_CONFIG;
            }
            free(*conf_str(base, k));
            *conf_str(base, k) = NULL;
            conf_forget_file(base, k);
            return 0;
        }
        if (k->type == CT_CHOICE && !conf_choice_ok(k->choices, value)) {
            conf_err(err, errlen, "%s: \"%s\" is not one of %s", k->name, shown, k->choices);
            return SCEP_ERR_CONFIG;
        }
        if ((k->flags & CF_LISTEN) && !conf_listen_ok(value)) {
            conf_err(err, errlen, "%s: \"%s\" is not HOST:PORT or [IPV6]:PORT", k->name, shown);
            return SCEP_ERR_CONFIG;
        }
        if ((k->flags & CF_PATH) && (value[0] != '/' || strpbrk(value, "?# \t") != NULL)) {
            conf_err(err, errlen, "%s: \"%s\" must be a path starting with /", k->name, shown);
            return SCEP_ERR_CONFIG;
        }
        if ((k->flags & (CF_KU | CF_EKU)) &&
            scep_ca_check_ext_value((k->flags & CF_KU) ? NID_key_usage : NID_ext_key_usage,
                                    value) != 0) {
            conf_err(err, errlen,
                     "%s: \"%s\" is not %s value OpenSSL accepts (names such as %s, "
                     "comma-separated, optionally starting with critical)",
                     k->name, shown, (k->flags & CF_KU) ? "a keyUsage" : "an extendedKeyUsage",
                     (k->flags & CF_KU) ? "digitalSignature, keyEncipherment"
                                        : "clientAuth, serverAuth or an OID");
            return SCEP_ERR_CONFIG;
        }
        if ((k->flags & CF_CURVES) && scep_ca_parse_curves(value, &curves) != 0) {
            conf_err(err, errlen, "%s: \"%s\" is not a list of P-256, P-384 and P-521", k->name,
                     shown);
            return SCEP_ERR_CONFIG;
        }
        if ((k->flags & CF_URL) && strncmp(value, "http://", 7) != 0 &&
            strncmp(value, "https://", 8) != 0) {
            conf_err(err, errlen, "%s: \"%s\" is not an http:// or https:// URL", k->name, shown);
            return SCEP_ERR_CONFIG;
        }
        if (k->flags & CF_NOTIFY_DAYS) {
            int64_t t[SCEP_NOTIFY_MAX_THRESHOLDS];
            char why[200];
            size_t nt;

            if (scep_notify_parse_thresholds(value, t, SCEP_NOTIFY_MAX_THRESHOLDS, &nt, why,
                                             sizeof(why)) != 0) {
                conf_err(err, errlen, "%s: %s", k->name, why);
                return SCEP_ERR_CONFIG;
            }
        }
        if ((k->flags & CF_SMTP_URL) && strncmp(value, "smtp://", 7) != 0 &&
            strncmp(value, "smtps://", 8) != 0) {
            conf_err(err, errlen, "%s: \"%s\" is not an smtp:// or smtps:// URL", k->name, shown);
            return SCEP_ERR_CONFIG;
        }
        if ((k->flags & CF_MAIL) && !scep_smtp_address_ok(value, strlen(value))) {
            conf_err(err, errlen, "%s: \"%s\" is not a bare mail address (user@domain)", k->name,
                     shown);
            return SCEP_ERR_CONFIG;
        }
        if ((k->flags & CF_MAILS) && !conf_mails_ok(value)) {
            conf_err(err, errlen,
                     "%s: \"%s\" is not a list of bare mail addresses (a@x, b@y; at most %d)",
                     k->name, shown, SCEP_SMTP_MAX_RCPT);
            return SCEP_ERR_CONFIG;
        }
        if ((k->flags & CF_SECRET) && strlen(value) > SCEP_MAX_CHALLENGE) {
            conf_err(err, errlen, "%s: longer than %d bytes", k->name, SCEP_MAX_CHALLENGE);
            return SCEP_ERR_CONFIG;
        }
        dup = strdup(value);
        if (dup == NULL) {
            conf_err(err, errlen, "%s: out of memory", k->name);
            return SCEP_ERR_NOMEM;
        }
        free(*conf_str(base, k));
        *conf_str(base, k) = dup;
        conf_forget_file(base, k);
        return 0;
    case CT_BOOL:
        if (conf_parse_bool(value, &b) != 0) {
            conf_err(err, errlen, "%s: \"%s\" is not a boolean (true/false/yes/no/on/off/1/0)",
                     k->name, shown);
            return SCEP_ERR_CONFIG;
        }
        *(int *)((char *)base + k->offset) = b;
        return 0;
    case CT_INT:
    case CT_LONG:
    case CT_SIZE:
        if (conf_parse_num(value, k->min, k->max, &num) != 0) {
            conf_err(err, errlen, "%s: \"%s\" is not an integer in %lld..%lld", k->name, shown,
                     k->min, k->max);
            return SCEP_ERR_CONFIG;
        }
        /* The table's ranges fit the field types, so these casts are exact. */
        if (k->type == CT_INT)
            *(int *)((char *)base + k->offset) = (int)num;
        else if (k->type == CT_LONG)
            *(long *)((char *)base + k->offset) = (long)num;
        else
            *(size_t *)((char *)base + k->offset) = (size_t)num;
        return 0;
    }
    conf_err(err, errlen, "%s: internal error (key type)", k->name);
    return SCEP_ERR_INTERNAL;
}

/*
 * Sets the defaults of the keys whose flags match (CF_PROFILE set or
 * clear) in base.  Returns 0 or SCEP_ERR_NOMEM.
 */
static int conf_defaults_into(void *base, unsigned want_profile)
{
    char buf[32];
    size_t i;
    int rc;

    for (i = 0; i < CONF_NKEYS; i++) {
        const struct conf_key *k = &conf_keys[i];
        const char *v = k->def_str;

        if ((k->flags & CF_PROFILE) != want_profile)
            continue;
        if (k->type != CT_STRING && k->type != CT_CHOICE) {
            snprintf(buf, sizeof(buf), "%lld", k->def_num);
            v = buf;
        }
        if (v == NULL)
            continue;
        rc = conf_apply(base, k, v, NULL, 0);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Frees every string of profile cp; the secrets are wiped first. */
static void conf_profile_clear(struct scep_config_profile *cp)
{
    size_t i;

    if (cp->challenge != NULL)
        OPENSSL_cleanse(cp->challenge, strlen(cp->challenge));
    if (cp->webhook_secret != NULL)
        OPENSSL_cleanse(cp->webhook_secret, strlen(cp->webhook_secret));
    for (i = 0; i < CONF_NKEYS; i++)
        if ((conf_keys[i].flags & CF_PROFILE) &&
            (conf_keys[i].type == CT_STRING || conf_keys[i].type == CT_CHOICE))
            free(*conf_str(cp, &conf_keys[i]));
    free(cp->name);
    scep_rules_free(cp->rules);
    memset(cp, 0, sizeof(*cp));
}

/* Makes cp a profile called name with the built-in defaults.  Returns 0
 * or SCEP_ERR_NOMEM (cp cleared). */
static int conf_profile_init(struct scep_config_profile *cp, const char *name, int line)
{
    int rc;

    memset(cp, 0, sizeof(*cp));
    cp->line = line;
    cp->name = strdup(name);
    rc = cp->name == NULL ? SCEP_ERR_NOMEM : scep_rules_new(&cp->rules);
    if (rc == 0)
        rc = conf_defaults_into(cp, CF_PROFILE);
    if (rc != 0)
        conf_profile_clear(cp);
    return rc;
}

/*
 * Fills c with every default from the key table.  Strings are allocated.
 * Returns 0, or SCEP_ERR_NOMEM (c is then cleared).  Free with
 * scep_config_clear().
 */
int scep_config_defaults(struct scep_config *c)
{
    int rc;

    memset(c, 0, sizeof(*c));
    rc = conf_defaults_into(c, 0);
    if (rc == 0)
        rc = conf_profile_init(&c->enroll, "", 0);
    if (rc != 0)
        scep_config_clear(c);
    return rc;
}

/*
 * Sets one key from a flag or another caller.  Accepts "path_prefix" and
 * "path-prefix".  Returns 0, or SCEP_ERR_CONFIG (unknown key or bad
 * value) with err filled; c is unchanged on error.
 */
int scep_config_set(struct scep_config *c, const char *key, const char *value, char *err,
                    size_t errlen)
{
    const struct conf_key *k = conf_find(key);
    char norm[CONF_MAX_NAME];

    if (k == NULL && conf_rule_name(key, norm, sizeof(norm))) {
        if (value == NULL) {
            conf_err(err, errlen, "%s: missing value", norm);
            return SCEP_ERR_CONFIG;
        }
        return scep_rules_set(c->enroll.rules, norm, value, err, errlen);
    }
    if (k == NULL) {
        conf_err(err, errlen, "unknown key \"%s\"", key != NULL ? key : "");
        return SCEP_ERR_CONFIG;
    }
    if (value == NULL) {
        conf_err(err, errlen, "%s: missing value", k->name);
        return SCEP_ERR_CONFIG;
    }
    return conf_apply(conf_base(c, NULL, k), k, value, err, errlen);
}

/* Returns 1 when name (dashes or underscores) is a configuration key. */
int scep_config_is_key(const char *name)
{
    char norm[CONF_MAX_NAME];

    return conf_find(name) != NULL || conf_rule_name(name, norm, sizeof(norm));
}

/* scep_config_each_key's callback, for scep_rules_each_key. */
struct conf_rule_cb {
    void (*cb)(const char *key, const char *section, const char *help, void *arg);
    void *arg;
};

static void conf_each_rule(const char *key, const char *help, const char *def, void *arg)
{
    const struct conf_rule_cb *rc = arg;

    (void)def;
    rc->cb(key, "enroll", help, rc->arg);
}

/* Calls cb(name, section, help, arg) for every key in table order, then
 * the rule keys (lib/policy/rules.h), which live in [enroll] and in
 * every [profile NAME]. */
void scep_config_each_key(void (*cb)(const char *key, const char *section, const char *help,
                                     void *arg),
                          void *arg)
{
    size_t i;

    struct conf_rule_cb rc = {cb, arg};

    for (i = 0; i < CONF_NKEYS; i++)
        cb(conf_keys[i].name, conf_keys[i].section, conf_keys[i].help, arg);
    scep_rules_each_key(conf_each_rule, &rc);
}

/* State of one INI file read: the reader counts lines so that every error,
 * ours or inih's, can name its line. */
struct conf_parse {
    struct scep_config *c;
    FILE *fp;
    int line;
    int err_line; /* first failing line, 0: none */
    int rc;       /* SCEP_ERR_* of the first failure */
    int too_long; /* the reader stopped at an over-long line */
    char reason[256];
};

/*
 * ini_reader: inih reads at most num-1 bytes per call and would treat the
 * rest of a longer line as a new line, so a long value would be cut
 * silently.  Reading whole lines ourselves lets us refuse that instead.
 */
static char *conf_reader(char *str, int num, void *stream)
{
    struct conf_parse *p = stream;
    int ch;
    int n = 0;

    if (num < 2)
        return NULL;
    while ((ch = fgetc(p->fp)) != EOF) {
        if (n >= num - 2 && ch != '\n') {
            p->too_long = 1;
            p->line++;
            return NULL;
        }
        str[n++] = (char)ch;
        if (ch == '\n')
            break;
    }
    if (n == 0)
        return NULL;
    str[n] = '\0';
    p->line++;
    return str;
}

static void conf_parse_fail(struct conf_parse *p, int rc, const char *reason)
{
    if (p->err_line != 0)
        return;
    p->err_line = p->line;
    p->rc = rc;
    snprintf(p->reason, sizeof(p->reason), "%s", reason);
}

/*
 * The profile a "[profile NAME]" section names, made with the defaults
 * the first time.  Returns it, or NULL with why set (bad or reserved
 * name, too many profiles, out of memory).
 */
static struct scep_config_profile *conf_profile_section(struct scep_config *c, const char *name,
                                                        int line, char *why, size_t whylen)
{
    struct scep_config_profile *grown;
    size_t i, n = strlen(name);

    for (i = 0; i < c->nprofiles; i++)
        if (strcmp(c->profiles[i].name, name) == 0)
            return &c->profiles[i];
    /* The name becomes a URL path segment: nothing to escape, and
     * nothing a SCEP client appends itself. */
    if (n == 0 || n > SCEP_CONFIG_MAX_PROFILE_NAME ||
        strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != n) {
        snprintf(why, whylen, "profile name \"%.40s\" must be 1-%d of A-Z a-z 0-9 _ -", name,
                 SCEP_CONFIG_MAX_PROFILE_NAME);
        return NULL;
    }
    /* Metrics label the default profile "default" and the overflow "other". */
    if (strcmp(name, "default") == 0 || strcmp(name, "other") == 0) {
        snprintf(why, whylen, "profile name \"%s\" is reserved", name);
        return NULL;
    }
    if (c->nprofiles >= SCEP_CONFIG_MAX_PROFILES) {
        snprintf(why, whylen, "more than %d profiles", SCEP_CONFIG_MAX_PROFILES);
        return NULL;
    }
    grown = realloc(c->profiles, (c->nprofiles + 1) * sizeof(*grown));
    if (grown == NULL) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    c->profiles = grown;
    if (conf_profile_init(&c->profiles[c->nprofiles], name, line) != 0) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    return &c->profiles[c->nprofiles++];
}

/* ini_handler: returns 1 to go on, 0 to record an error (inih keeps
 * going; only the first error is reported). */
static int conf_handler(void *user, const char *section, const char *name, const char *value)
{
    struct conf_parse *p = user;
    struct scep_config_profile *cp = NULL;
    const struct conf_key *k;
    char why[256];
    size_t i;
    int known_section = 0;
    int rc;

    if (p->err_line != 0)
        return 0;
    if (strncmp(section, "profile", 7) == 0 && (section[7] == ' ' || section[7] == '\t')) {
        const char *pname = section + 8;

        while (*pname == ' ' || *pname == '\t')
            pname++;
        cp = conf_profile_section(p->c, pname, p->line, why, sizeof(why));
        if (cp == NULL) {
            conf_parse_fail(p, SCEP_ERR_CONFIG, why);
            return 0;
        }
        known_section = 1;
    }
    for (i = 0; i < CONF_NKEYS && !known_section; i++)
        if (strcmp(conf_keys[i].section, section) == 0)
            known_section = 1;
    if (!known_section) {
        snprintf(why, sizeof(why), "unknown section [%s]", section);
        conf_parse_fail(p, SCEP_ERR_CONFIG, why);
        return 0;
    }
    /* In the file keys use underscores only, as the man page lists them. */
    k = strchr(name, '-') == NULL ? conf_find(name) : NULL;
    if (k == NULL && strchr(name, '-') == NULL && scep_rules_is_key(name) &&
        (cp != NULL || strcmp(section, "enroll") == 0)) {
        rc = scep_rules_set(cp != NULL ? cp->rules : p->c->enroll.rules, name, value, why,
                            sizeof(why));
        if (rc != 0) {
            conf_parse_fail(p, rc, why);
            return 0;
        }
        return 1;
    }
    if (k == NULL) {
        snprintf(why, sizeof(why), "unknown key \"%s\" in [%s]", name, section);
        conf_parse_fail(p, SCEP_ERR_CONFIG, why);
        return 0;
    }
    if (cp != NULL ? !(k->flags & CF_PROFILE) : strcmp(k->section, section) != 0) {
        snprintf(why, sizeof(why), "key \"%s\" belongs in [%s], not [%s]", name, k->section,
                 section);
        conf_parse_fail(p, SCEP_ERR_CONFIG, why);
        return 0;
    }
    rc = conf_apply(conf_base(p->c, cp, k), k, value, why, sizeof(why));
    if (rc != 0) {
        conf_parse_fail(p, rc, why);
        return 0;
    }
    return 1;
}

/*
 * Reads the INI file at path into c (keys not in the file keep their
 * values).  Returns 0; SCEP_ERR_IO when the file cannot be read;
 * SCEP_ERR_CONFIG for a syntax error, an unknown section or key, or a bad
 * value, with err set to "FILE:LINE: reason".  c may be partly updated on
 * error; callers stop then.
 */
int scep_config_load_file(struct scep_config *c, const char *path, char *err, size_t errlen)
{
    struct conf_parse p;
    int line;
    int rc = SCEP_ERR_IO;

    memset(&p, 0, sizeof(p));
    p.c = c;
    p.fp = fopen(path, "r");
    if (p.fp == NULL) {
        conf_err(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    line = ini_parse_stream(conf_reader, &p, conf_handler, &p);
    if (ferror(p.fp)) {
        conf_err(err, errlen, "%s: read error", path);
        rc = SCEP_ERR_IO;
        goto out;
    }
    if (p.too_long) {
        conf_err(err, errlen, "%s:%d: line too long", path, p.line);
        rc = SCEP_ERR_CONFIG;
        goto out;
    }
    if (p.err_line != 0) {
        conf_err(err, errlen, "%s:%d: %s", path, p.err_line, p.reason);
        rc = p.rc;
        goto out;
    }
    if (line != 0) {
        /* inih's own complaint (no '=', unterminated section): it gives the line. */
        if (line > 0)
            conf_err(err, errlen, "%s:%d: syntax error", path, line);
        else
            conf_err(err, errlen, "%s: cannot parse", path);
        rc = line == -2 ? SCEP_ERR_NOMEM : SCEP_ERR_CONFIG;
        goto out;
    }
    free(c->config_file);
    c->config_file = strdup(path);
    rc = c->config_file != NULL ? 0 : SCEP_ERR_NOMEM;
out:
    if (p.fp != NULL)
        fclose(p.fp);
    return rc;
}

/*
 * Reads the first line of a secret's file (a challenge, a webhook
 * secret, a password) into a new string (CR/LF stripped).  Refuses a
 * file whose mode has any of the deny bits (others, or also its group):
 * what it holds is a credential.  *out: free().
 */
static int conf_read_secret(const char *what, const char *path, mode_t deny, char **out, char *err,
                            size_t errlen)
{
    char buf[SCEP_MAX_CHALLENGE + 3];
    struct stat st;
    FILE *fp = NULL;
    char *dup = NULL;
    size_t len;
    int fd = -1;
    int rc = SCEP_ERR_IO;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        conf_err(err, errlen, "%s %s: %s", what, path, strerror(errno));
        rc = errno == ENOENT ? SCEP_ERR_NOT_FOUND : SCEP_ERR_IO;
        goto out;
    }
    /* fstat on the opened descriptor, so the file checked is the file read. */
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        conf_err(err, errlen, "%s %s: not a regular file", what, path);
        goto out;
    }
    if (st.st_mode & deny) {
        conf_err(err, errlen, "%s %s: readable or writable by %s (chmod 600)", what, path,
                 (deny & S_IRWXG) && (st.st_mode & S_IRWXG) ? "its group" : "others");
        rc = SCEP_ERR_PERMISSIONS;
        goto out;
    }
    fp = fdopen(fd, "r");
    if (fp == NULL) {
        conf_err(err, errlen, "%s %s: %s", what, path, strerror(errno));
        goto out;
    }
    fd = -1;
    if (fgets(buf, sizeof(buf), fp) == NULL) {
        conf_err(err, errlen, "%s %s: empty", what, path);
        rc = SCEP_ERR_CONFIG;
        goto out;
    }
    len = strcspn(buf, "\r\n");
    if (len > SCEP_MAX_CHALLENGE) {
        conf_err(err, errlen, "%s %s: first line longer than %d bytes", what, path,
                 SCEP_MAX_CHALLENGE);
        rc = SCEP_ERR_CONFIG;
        goto out;
    }
    buf[len] = '\0';
    if (len == 0) {
        conf_err(err, errlen, "%s %s: first line is empty", what, path);
        rc = SCEP_ERR_CONFIG;
        goto out;
    }
    dup = strdup(buf);
    if (dup == NULL) {
        rc = SCEP_ERR_NOMEM;
        goto out;
    }
    *out = dup;
    dup = NULL;
    rc = 0;
out:
    OPENSSL_cleanse(buf, sizeof(buf));
    if (fp != NULL)
        fclose(fp);
    if (fd >= 0)
        close(fd);
    return rc;
}

/*
 * The [tls] keys go together: tls_listen needs tls_cert and tls_key,
 * the others mean nothing without tls_listen (a silently ignored
 * tls_cert would leave an operator believing TLS is on), and verifying
 * client certificates needs tls_client_ca.  The files themselves are
 * checked by scepd when it makes the listener.
 */
static int conf_check_tls(const struct scep_config *c, char *err, size_t errlen)
{
    int verify = c->tls_client_verify != NULL && strcmp(c->tls_client_verify, "none") != 0;

    if (c->tls_listen == NULL) {
        const char *set = c->tls_cert != NULL        ? "tls_cert"
                          : c->tls_key != NULL       ? "tls_key"
                          : c->tls_client_ca != NULL ? "tls_client_ca"
                          : verify                   ? "tls_client_verify"
                                                     : NULL;

        if (set != NULL) {
            conf_err(err, errlen, "%s is set but tls_listen is not", set);
            return SCEP_ERR_CONFIG;
        }
        return 0;
    }
    if (c->tls_cert == NULL || c->tls_key == NULL) {
        conf_err(err, errlen, "tls_listen needs tls_cert and tls_key");
        return SCEP_ERR_CONFIG;
    }
    if (verify && c->tls_client_ca == NULL) {
        conf_err(err, errlen, "tls_client_verify = %s needs tls_client_ca", c->tls_client_verify);
        return SCEP_ERR_CONFIG;
    }
    return 0;
}

/*
 * The [notify] keys go together, as [tls]'s do: a webhook needs its
 * secret (its receiver must tell scepd's notices from anyone's), mail
 * needs a sender and recipients, a user its password and the other way
 * round, and nothing is set that would silently be ignored.  The
 * thresholds are parsed and the secret files read.
 */
static int conf_finish_notify(struct scep_config *c, char *err, size_t errlen)
{
    char why[400];
    char *secret = NULL, *password = NULL;
    const char *orphan;
    int rc = SCEP_ERR_CONFIG;

    why[0] = '\0';
    if (scep_notify_parse_thresholds(c->notify_days, c->notify_thresholds,
                                     SCEP_NOTIFY_MAX_THRESHOLDS, &c->notify_nthresholds, why,
                                     sizeof(why)) != 0)
        goto out;
    if (c->notify_webhook_secret != NULL && c->notify_webhook_secret_file != NULL &&
        !c->notify_secret_from_file) {
        snprintf(why, sizeof(why),
                 "notify_webhook_secret and notify_webhook_secret_file are exclusive");
        goto out;
    }
    orphan = c->notify_webhook_url != NULL           ? NULL
             : c->notify_webhook_secret_file != NULL ? "notify_webhook_secret_file"
             : c->notify_webhook_secret != NULL      ? "notify_webhook_secret"
                                                     : NULL;
    if (orphan == NULL && c->smtp_url == NULL)
        orphan = c->smtp_from != NULL            ? "smtp_from"
                 : c->smtp_to != NULL            ? "smtp_to"
                 : c->smtp_user != NULL          ? "smtp_user"
                 : c->smtp_password_file != NULL ? "smtp_password_file"
                                                 : NULL;
    if (orphan != NULL) {
        snprintf(why, sizeof(why), "%s is set but %s is not", orphan,
                 strncmp(orphan, "smtp", 4) == 0 ? "smtp_url" : "notify_webhook_url");
        goto out;
    }
    if (c->notify_webhook_url != NULL && c->notify_webhook_secret == NULL &&
        c->notify_webhook_secret_file == NULL) {
        snprintf(why, sizeof(why),
                 "notify_webhook_url needs notify_webhook_secret_file (or notify_webhook_secret): "
                 "the receiver must be able to tell scepd's notices from anyone else's");
        goto out;
    }
    if (c->smtp_url != NULL && (c->smtp_from == NULL || c->smtp_to == NULL)) {
        snprintf(why, sizeof(why), "smtp_url needs smtp_from and smtp_to");
        goto out;
    }
    if ((c->smtp_user != NULL) != (c->smtp_password_file != NULL)) {
        snprintf(why, sizeof(why), "smtp_user and smtp_password_file go together");
        goto out;
    }
    if (c->notify_webhook_secret_file != NULL && !c->notify_secret_from_file) {
        rc = conf_read_secret("notify_webhook_secret_file", c->notify_webhook_secret_file,
                              S_IROTH | S_IWOTH, &secret, why, sizeof(why));
        if (rc != 0)
            goto out;
    }
    /* A password file is 0600 (or stricter): its group may not read it
     * either, unlike a challenge file that a web server's group shares. */
    if (c->smtp_password_file != NULL && c->smtp_password == NULL) {
        rc = conf_read_secret("smtp_password_file", c->smtp_password_file, S_IRWXG | S_IRWXO,
                              &password, why, sizeof(why));
        if (rc != 0)
            goto out;
    }
    if (secret != NULL) {
        c->notify_webhook_secret = secret;
        c->notify_secret_from_file = 1;
        secret = NULL;
    }
    if (password != NULL) {
        c->smtp_password = password;
        password = NULL;
    }
    rc = 0;
out:
    if (rc != 0)
        conf_err(err, errlen, "%s: %s", c->config_file != NULL ? c->config_file : "(flags)", why);
    if (secret != NULL) {
        OPENSSL_cleanse(secret, strlen(secret));
        free(secret);
    }
    if (password != NULL) {
        OPENSSL_cleanse(password, strlen(password));
        free(password);
    }
    return rc;
}

/*
 * The [admin] keys go together as the [tls] ones do: none means
 * anything without admin_listen, a certificate needs its key, and
 * metrics cannot move to a listener that is not there.  The files are
 * checked by scepd when it makes the listener (or issues its own).
 */
static int conf_check_admin(const struct scep_config *c, char *err, size_t errlen)
{
    int metrics_admin = c->metrics_listen != NULL && strcmp(c->metrics_listen, "admin") == 0;

    if (c->admin_listen == NULL) {
        const char *set = c->admin_tls_cert != NULL       ? "admin_tls_cert"
                          : c->admin_tls_key != NULL      ? "admin_tls_key"
                          : c->admin_client_ca != NULL    ? "admin_client_ca"
                          : c->admin_client_roles != NULL ? "admin_client_roles"
                          : metrics_admin                 ? "metrics_listen = admin"
                                                          : NULL;

        if (set != NULL) {
            conf_err(err, errlen, "%s is set but admin_listen is not", set);
            return SCEP_ERR_CONFIG;
        }
        return 0;
    }
    if ((c->admin_tls_cert == NULL) != (c->admin_tls_key == NULL)) {
        conf_err(err, errlen,
                 "admin_tls_cert and admin_tls_key go together (neither: scepd "
                 "issues its own)");
        return SCEP_ERR_CONFIG;
    }
    if (c->admin_client_roles != NULL && c->admin_client_ca == NULL) {
        conf_err(err, errlen, "admin_client_roles is set but admin_client_ca is not");
        return SCEP_ERR_CONFIG;
    }
    return scep_config_client_roles_check(c->admin_client_roles, err, errlen);
}

/*
 * Resolves what depends on other keys, after the file and the flags:
 * the database defaults to "sqlite:<state_dir>/scepd.db"; challenge_file
 * is read into challenge (both set is an error); the [tls] keys must go
 * together.  Returns 0 or SCEP_ERR_* with err set.
 */
/*
 * The URL of one of scepd's own resources (path, e.g. "/ocsp") on the
 * host of public_url: its scheme and authority, without the SCEP path.
 * *out: free with free(); NULL when public_url is not an absolute URL.
 */
static int conf_public_resource(const char *public_url, const char *path, char **out)
{
    const char *host, *end;
    size_t n;

    *out = NULL;
    if (public_url == NULL || (host = strstr(public_url, "://")) == NULL || host == public_url)
        return 0;
    host += 3;
    end = host + strcspn(host, "/?#");
    if (end == host)
        return 0;
    n = (size_t)(end - public_url) + strlen(path) + 1;
    if ((*out = malloc(n)) == NULL)
        return SCEP_ERR_NOMEM;
    snprintf(*out, n, "%.*s%s", (int)(end - public_url), public_url, path);
    return 0;
}

/*
 * The checks and files of one profile: challenge and challenge_file are
 * exclusive, as are the two forms of the webhook secret; a webhook needs
 * its secret; files are read.  err: "FILE:LINE: profile NAME: ..." for a
 * named profile.
 */
static int conf_finish_profile(const struct scep_config *c, struct scep_config_profile *cp,
                               char *err, size_t errlen)
{
    char where[300], why[400];
    char *chal = NULL, *secret = NULL;
    int rc = SCEP_ERR_CONFIG;

    where[0] = '\0';
    if (cp->name[0] != '\0')
        snprintf(where, sizeof(where),
                 "%s:%d: profile %s: ", c->config_file != NULL ? c->config_file : "(flags)",
                 cp->line, cp->name);
    why[0] = '\0';
    if (cp->challenge != NULL && cp->challenge_file != NULL && !cp->challenge_from_file) {
        snprintf(why, sizeof(why), "challenge and challenge_file are exclusive");
        goto out;
    }
    if (cp->webhook_secret != NULL && cp->webhook_secret_file != NULL && !cp->secret_from_file) {
        snprintf(why, sizeof(why), "webhook_secret and webhook_secret_file are exclusive");
        goto out;
    }
    if (cp->webhook_url != NULL && cp->webhook_secret == NULL && cp->webhook_secret_file == NULL) {
        snprintf(why, sizeof(why),
                 "webhook_url needs webhook_secret_file (or webhook_secret): the webhook must "
                 "be able to tell scepd's requests from anyone else's");
        goto out;
    }
    if (cp->open_enrollment && (cp->challenge != NULL || cp->challenge_file != NULL)) {
        snprintf(why, sizeof(why), "open_enrollment contradicts a challenge");
        goto out;
    }
    if (cp->challenge_file != NULL && !cp->challenge_from_file) {
        rc = conf_read_secret("challenge_file", cp->challenge_file, S_IROTH | S_IWOTH, &chal, why,
                              sizeof(why));
        if (rc != 0)
            goto out;
    }
    if (cp->webhook_secret_file != NULL && !cp->secret_from_file) {
        rc = conf_read_secret("webhook_secret_file", cp->webhook_secret_file, S_IROTH | S_IWOTH,
                              &secret, why, sizeof(why));
        if (rc != 0)
            goto out;
    }
    if (chal != NULL) {
        cp->challenge = chal;
        cp->challenge_from_file = 1;
        chal = NULL;
    }
    if (secret != NULL) {
        cp->webhook_secret = secret;
        cp->secret_from_file = 1;
        secret = NULL;
    }
    rc = 0;
out:
    if (rc != 0)
        conf_err(err, errlen, "%s%s", where, why);
    if (chal != NULL) {
        OPENSSL_cleanse(chal, strlen(chal));
        free(chal);
    }
    if (secret != NULL) {
        OPENSSL_cleanse(secret, strlen(secret));
        free(secret);
    }
    return rc;
}

int scep_config_finish(struct scep_config *c, char *err, size_t errlen)
{
    char *db = NULL;
    size_t n, i;
    int rc;

    rc = conf_check_tls(c, err, errlen);
    if (rc != 0)
        goto out;
    rc = conf_check_admin(c, err, errlen);
    if (rc != 0)
        goto out;
    rc = conf_finish_profile(c, &c->enroll, err, errlen);
    for (i = 0; rc == 0 && i < c->nprofiles; i++)
        rc = conf_finish_profile(c, &c->profiles[i], err, errlen);
    if (rc == 0)
        rc = conf_finish_notify(c, err, errlen);
    if (rc != 0)
        goto out;
    if (c->database == NULL) {
        n = strlen(c->state_dir) + sizeof("sqlite:/scepd.db");
        db = malloc(n);
        if (db == NULL) {
            rc = SCEP_ERR_NOMEM;
            goto out;
        }
        snprintf(db, n, "sqlite:%s/scepd.db", c->state_dir);
    }
    free(c->auto_crl_base);
    free(c->auto_ocsp_url);
    c->auto_crl_base = c->auto_ocsp_url = NULL;
    if ((rc = conf_public_resource(c->public_url, "/crl", &c->auto_crl_base)) != 0 ||
        (rc = conf_public_resource(c->public_url, "/ocsp", &c->auto_ocsp_url)) != 0)
        goto out;
    if (db != NULL) {
        c->database = db;
        db = NULL;
    }
    rc = 0;
out:
    free(db);
    return rc;
}

/* The profile called name ("" or NULL: the default one), or NULL. */
const struct scep_config_profile *scep_config_find_profile(const struct scep_config *c,
                                                           const char *name)
{
    size_t i;

    if (name == NULL || name[0] == '\0')
        return &c->enroll;
    for (i = 0; i < c->nprofiles; i++)
        if (strcmp(c->profiles[i].name, name) == 0)
            return &c->profiles[i];
    return NULL;
}

/* Fills o from c; strings borrow from c. */
void scep_config_ca_init_opts(const struct scep_config *c, struct scep_ca_init_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->subject = c->ca_subject;
    o->key_type = SCEP_KEY_RSA;
    o->rsa_bits = c->ca_rsa_bits;
    if (c->ca_key_type != NULL && strcmp(c->ca_key_type, "ec-p256") == 0) {
        o->key_type = SCEP_KEY_EC;
        o->ec_curve = NID_X9_62_prime256v1;
    } else if (c->ca_key_type != NULL && strcmp(c->ca_key_type, "ec-p384") == 0) {
        o->key_type = SCEP_KEY_EC;
        o->ec_curve = NID_secp384r1;
    }
    o->validity_days = c->ca_validity_days;
    /* SCEP key transport is RSA only, so an EC CA needs an RSA RA. */
    o->with_ra = c->ca_with_ra || o->key_type == SCEP_KEY_EC;
    o->ra_bits = c->ca_ra_rsa_bits;
}

/* Fills p (the issuance profile of cp) from c; strings borrow from c. */
void scep_config_profile(const struct scep_config *c, const struct scep_config_profile *cp,
                         struct scep_profile *p)
{
    memset(p, 0, sizeof(*p));
    p->validity_days = cp->validity_days;
    p->validity_seconds = cp->validity_seconds;
    p->key_usage = cp->key_usage;
    p->ext_key_usage = cp->ext_key_usage;
    p->crl_url = cp->crl_url != NULL ? cp->crl_url : c->auto_crl_base;
    p->crl_url_per_ca = cp->crl_url == NULL && c->auto_crl_base != NULL;
    p->ocsp_url = cp->ocsp_url != NULL ? cp->ocsp_url : c->auto_ocsp_url;
    p->ca_issuers_url = cp->ca_issuers_url;
    p->min_rsa_exponent = cp->min_rsa_exponent;
    /* checked when read; a config made by hand (NULL) keeps all three */
    if (cp->ec_curves == NULL || scep_ca_parse_curves(cp->ec_curves, &p->ec_curves) != 0)
        p->ec_curves = 0;
    p->allow_wildcard_dns = cp->allow_wildcard_dns;
}

/* One service profile from cp; strings borrow from c. */
static void conf_service_profile(const struct scep_config *c, const struct scep_config_profile *cp,
                                 struct scep_service_profile *sp)
{
    memset(sp, 0, sizeof(*sp));
    sp->name = cp->name;
    sp->challenge = cp->challenge;
    /* A named profile is never open by accident: without a static
     * challenge or a webhook it takes one-time challenges only.  (The
     * default profile gets a generated challenge from scepd instead.) */
    sp->require_challenge = cp->name[0] != '\0' && !cp->open_enrollment && cp->webhook_url == NULL;
    sp->allow_renewal = cp->renewal;
    sp->renewal_window_days = cp->renewal_window_days;
    /* Only the exact word turns approval on: the choice was validated,
     * and a config made by hand (NULL) keeps the old behaviour. */
    sp->manual_approval = cp->approval != NULL && strcmp(cp->approval, "manual") == 0;
    sp->allow_des = cp->allow_des;
    sp->webhook_url = cp->webhook_url;
    sp->webhook_secret = cp->webhook_secret;
    sp->webhook_timeout_ms = cp->webhook_timeout_ms;
    sp->rules = cp->rules;
    scep_config_profile(c, cp, &sp->profile);
}

/* Fills s (the service settings) from c; strings borrow from c. */
void scep_config_service(const struct scep_config *c, struct scep_service_config *s,
                         struct scep_service_profile *profiles)
{
    size_t i;

    memset(s, 0, sizeof(*s));
    conf_service_profile(c, &c->enroll, &s->def);
    for (i = 0; i < c->nprofiles; i++)
        conf_service_profile(c, &c->profiles[i], &profiles[i]);
    s->profiles = c->nprofiles > 0 ? profiles : NULL;
    s->nprofiles = c->nprofiles;
    s->crl_next_update_seconds = (long)c->crl_validity_hours * 3600L;
    s->ocsp_next_update_seconds = (long)c->ocsp_validity_minutes * 60L;
}

/* Frees every string of c and zeroes it; the secrets are wiped first.
 * Accepts NULL. */
void scep_config_clear(struct scep_config *c)
{
    size_t i;

    if (c == NULL)
        return;
    if (c->notify_webhook_secret != NULL)
        OPENSSL_cleanse(c->notify_webhook_secret, strlen(c->notify_webhook_secret));
    if (c->smtp_password != NULL) {
        OPENSSL_cleanse(c->smtp_password, strlen(c->smtp_password));
        free(c->smtp_password);
    }
    for (i = 0; i < CONF_NKEYS; i++)
        if (!(conf_keys[i].flags & CF_PROFILE) &&
            (conf_keys[i].type == CT_STRING || conf_keys[i].type == CT_CHOICE))
            free(*conf_str(c, &conf_keys[i]));
    conf_profile_clear(&c->enroll);
    for (i = 0; i < c->nprofiles; i++)
        conf_profile_clear(&c->profiles[i]);
    free(c->profiles);
    free(c->config_file);
    free(c->auto_crl_base);
    free(c->auto_ocsp_url);
    memset(c, 0, sizeof(*c));
}
