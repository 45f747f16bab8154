/*
 * scepc common pieces: messages, the connection options every subcommand
 * shares, turning them into a libscep client, and the mapping from
 * libscep errors to scepc's documented exit codes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"
#include "scepc.h"

const char *scepc_prog = "scepc";

/* Prints "scepc: message" on stderr. */
void scepc_err(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", scepc_prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* Progress text on stderr, only with --verbose. */
void scepc_info(const struct conn_opts *o, const char *fmt, ...)
{
    va_list ap;

    if (o == NULL || !o->verbose)
        return;
    fprintf(stderr, "%s: ", scepc_prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* "pem" or "der" (a --format value) to FMT_PEM or FMT_DER in *out.  0,
 * or -1 for any other word (*out untouched). */
int scepc_parse_format(const char *s, int *out)
{
    if (strcmp(s, "pem") == 0)
        *out = FMT_PEM;
    else if (strcmp(s, "der") == 0)
        *out = FMT_DER;
    else
        return -1;
    return 0;
}

/* strtol with every check: whole string, range.  0 or -1. */
int scepc_parse_long(const char *s, long min, long max, long *out)
{
    char *end = NULL;
    long v;

    if (s == NULL || *s == '\0')
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/*
 * Handles one of the connection options; returns 1 when opt was one,
 * 0 when it is not a connection option, -1 for a bad value.
 */
int scepc_conn_option(struct conn_opts *o, int opt, const char *arg)
{
    switch (opt) {
    case OPT_URL:
        o->url = arg;
        return 1;
    case OPT_FINGERPRINT:
        o->fingerprint = arg;
        return 1;
    case OPT_CA_BUNDLE:
        o->ca_bundle = arg;
        return 1;
    case OPT_CA_IDENT:
        o->ca_ident = arg;
        return 1;
    case OPT_VERBOSE:
        o->verbose = 1;
        return 1;
    case OPT_TIMEOUT:
        return scepc_parse_long(arg, 1, 3600, &o->timeout) == 0 ? 1 : -1;
    case OPT_METHOD:
        if (strcmp(arg, "auto") == 0)
            o->method = SCEP_METHOD_AUTO;
        else if (strcmp(arg, "get") == 0)
            o->method = SCEP_METHOD_GET;
        else if (strcmp(arg, "post") == 0)
            o->method = SCEP_METHOD_POST;
        else
            return -1;
        return 1;
    case OPT_CIPHER:
        if (strcmp(arg, "auto") == 0)
            o->cipher = SCEP_CIPHER_AUTO;
        else if (strcmp(arg, "aes") == 0 || strcmp(arg, "aes128") == 0)
            o->cipher = SCEP_CIPHER_AES128;
        else if (strcmp(arg, "aes256") == 0)
            o->cipher = SCEP_CIPHER_AES256;
        else if (strcmp(arg, "des3") == 0)
            o->cipher = SCEP_CIPHER_DES3;
        else if (strcmp(arg, "des") == 0)
            o->cipher = SCEP_CIPHER_DES;
        else
            return -1;
        return 1;
    case OPT_DIGEST:
        if (strcmp(arg, "auto") == 0)
            o->digest = SCEP_DIGEST_AUTO;
        else if (strcmp(arg, "sha1") == 0)
            o->digest = SCEP_DIGEST_SHA1;
        else if (strcmp(arg, "sha256") == 0)
            o->digest = SCEP_DIGEST_SHA256;
        else if (strcmp(arg, "sha512") == 0)
            o->digest = SCEP_DIGEST_SHA512;
        else
            return -1;
        return 1;
    default:
        return 0;
    }
}

/*
 * Makes the libscep client for o.  Returns an exit code (0 on success);
 * *out: scep_client_free().
 */
int scepc_client_new(const struct conn_opts *o, struct scep_client **out)
{
    struct scep_client_options co;
    unsigned char fp[SCEP_FINGERPRINT_LEN];
    int rc;

    if (o->url == NULL) {
        scepc_err("--url is required (for example --url http://ca.example/scep)");
        return EX_SCEPC_USAGE;
    }
    memset(&co, 0, sizeof(co));
    co.url = o->url;
    co.curl.timeout_seconds = o->timeout;
    co.curl.ca_bundle = o->ca_bundle;
    co.ca_ident = o->ca_ident;
    co.method = o->method;
    co.cipher = o->cipher;
    co.digest = o->digest;
    if (o->fingerprint != NULL) {
        if (scep_fingerprint_parse(o->fingerprint, fp) != 0) {
            scepc_err("--fingerprint wants the CA certificate's SHA-256 as 64 hex digits "
                      "(colons allowed)");
            return EX_SCEPC_USAGE;
        }
        co.ca_fingerprint = fp;
    }
    rc = scep_client_new(&co, out);
    if (rc != 0) {
        scepc_err("cannot set up the client: %s", scep_strerror(rc));
        return EX_SCEPC_ERROR;
    }
    return 0;
}

/* Maps a libscep error to an exit code (see scepc.h). */
int scepc_exit_code(int err)
{
    switch (err) {
    case 0:
        return EX_SCEPC_OK;
    case SCEP_ERR_FAILURE:
        return EX_SCEPC_REFUSED;
    case SCEP_ERR_HTTP:
    case SCEP_ERR_TOO_LARGE:
        return EX_SCEPC_UNREACHABLE;
    case SCEP_ERR_FINGERPRINT:
        return EX_SCEPC_FINGERPRINT;
    case SCEP_ERR_PENDING:
        return EX_SCEPC_PENDING;
    case SCEP_ERR_BASE64:
    case SCEP_ERR_DER:
    case SCEP_ERR_TRAILING:
    case SCEP_ERR_NOT_SIGNED:
    case SCEP_ERR_SIGNER_COUNT:
    case SCEP_ERR_NO_SIGNER_CERT:
    case SCEP_ERR_ATTR_MISSING:
    case SCEP_ERR_ATTR_TYPE:
    case SCEP_ERR_MSG_TYPE:
    case SCEP_ERR_NONCE:
    case SCEP_ERR_TRANSID:
    case SCEP_ERR_NOT_ENVELOPED:
    case SCEP_ERR_CONTENT:
    case SCEP_ERR_STATUS:
    case SCEP_ERR_SIGNATURE:
    case SCEP_ERR_DECRYPT:
        return EX_SCEPC_BAD_REPLY;
    default:
        return EX_SCEPC_ERROR;
    }
}

/*
 * The next step after a refusal, from what the CA said: its failInfo and
 * failInfoText (scepd's texts name the rule; other CAs' may say less).
 * A static string.
 */
static const char *refusal_hint(const struct scep_client *c)
{
    const char *text = scep_client_get0_fail_text(c);
    int fi = scep_client_fail_info(c);

    if (text == NULL)
        text = "";
    if (strstr(text, "challenge") != NULL)
        return "; check the challenge password (a one-time challenge admits one enrollment, "
               "at its own profile)";
    if (strstr(text, "renew") != NULL || strstr(text, "signer certificate") != NULL)
        return "; the certificate that signed the request cannot renew (expired, revoked, "
               "not from this CA, or not yet in its renewal window): enroll anew";
    if (strstr(text, "rejected by an administrator") != NULL)
        return "; an administrator rejected the request";
    if (strstr(text, "webhook") != NULL)
        return "; the service that vouches for enrollments at this profile said no";
    if (strstr(text, "subject") != NULL || strstr(text, "SAN") != NULL ||
        strstr(text, "subjectAltName") != NULL || strstr(text, "profile ") != NULL)
        return "; ask for a subject and names this profile allows";
    switch (fi) {
    case SCEP_FAIL_BAD_ALG:
        return "; use a key, digest and cipher the CA accepts (see scepc caps)";
    case SCEP_FAIL_BAD_TIME:
        return "; check this host's clock and the certificate's validity";
    case SCEP_FAIL_BAD_MESSAGE_CHECK:
        return "; the CA could not verify the request (key or signature)";
    case SCEP_FAIL_BAD_CERT_ID:
        return "; the CA knows no such request or certificate";
    default:
        return "";
    }
}

/*
 * Prints what went wrong with a hint at what to do next, and returns the
 * exit code for err.
 */
int scepc_report(struct scep_client *c, int err, const char *what)
{
    const char *detail = scep_client_get0_error(c);
    const char *hint = "";

    switch (scepc_exit_code(err)) {
    case EX_SCEPC_REFUSED:
        hint = refusal_hint(c);
        break;
    case EX_SCEPC_UNREACHABLE:
        hint = "; check --url, the network and that the server is running";
        break;
    case EX_SCEPC_FINGERPRINT:
        hint = "; do not trust this server until its CA fingerprint is confirmed";
        break;
    case EX_SCEPC_BAD_REPLY:
        hint = "; the answer may have been tampered with in transit; nothing was written";
        break;
    default:
        break;
    }
    scepc_err("%s failed: %s%s", what, detail && detail[0] ? detail : scep_strerror(err), hint);
    return scepc_exit_code(err);
}

/* Reads the first line of file into a new string (free()). 0 or -1. */
int scepc_read_challenge(const char *file, char **out)
{
    FILE *f = fopen(file, "r");
    char buf[SCEP_MAX_CHALLENGE + 2];
    size_t n;

    if (f == NULL)
        return -1;
    if (fgets(buf, sizeof(buf), f) == NULL) {
        fclose(f);
        return -1;
    }
    fclose(f);
    n = strcspn(buf, "\r\n");
    buf[n] = '\0';
    if (n == 0 || n > SCEP_MAX_CHALLENGE)
        return -1;
    *out = strdup(buf);
    return *out ? 0 : -1;
}
