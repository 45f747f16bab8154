/*
 * scepctl list: the certificate inventory from the store, as an aligned
 * table (serial, status, not_after, source, profile, subject), a JSON
 * array (--json) or CSV (--csv, RFC 4180).  It searches by status,
 * expiry window, subject or SAN substring, issuer, profile, issue time
 * and serial prefix; the store does the filtering (lib/store indexes
 * each of these), this file only turns flags into a struct
 * scep_cert_filter and rows into output.  Also the
 * certificate-record-to-JSON conversion that "show" shares.
 *
 * "expired" and "superseded" are not stored statuses: the store knows
 * valid and revoked; a valid certificate whose notAfter has passed is
 * shown as expired, and one a renewal replaced as superseded
 * (scep_admin_cert_status).  "external" selects the certificates scepd
 * did not issue (scepctl import), whatever their status.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <scep/error.h>
#include "admin/admin.h"
#include "ca/ca.h"
#include "scepctl.h"

/* Longest --expiring window in days; the product with 86400 stays in an
 * int, which is what the store's filter holds. */
#define CTL_MAX_EXPIRING_DAYS 24800

/* Columns of --csv, in order (RFC 4180 2.3: a header line). */
static const char *const csv_heads[] = {"serial",
                                        "status",
                                        "not_before",
                                        "not_after",
                                        "subject",
                                        "sans",
                                        "profile",
                                        "source",
                                        "seen_at",
                                        "superseded_by",
                                        "issued_at",
                                        "revoked_at",
                                        "reason",
                                        "issuer_fingerprint",
                                        "fingerprint_sha256",
                                        "transaction_id"};
#define CSV_NCOLS (sizeof(csv_heads) / sizeof(csv_heads[0]))

/* JSON object for a certificate record.  New reference, NULL on ENOMEM. */
json_t *ctl_cert_info_json(const struct scep_cert_info *ci, int64_t now, int full)
{
    json_t *o = json_object();
    const char *reason = scep_crl_reason_name(ci->revocation_reason);

    if (o == NULL)
        return NULL;
    if (json_object_set_new(o, "serial", ctl_json_str(ci->serial)) != 0 ||
        json_object_set_new(o, "subject", ctl_json_str(ci->subject)) != 0 ||
        json_object_set_new(o, "sans", ctl_json_str(ci->sans)) != 0 ||
        json_object_set_new(o, "not_before", ctl_json_time(ci->not_before)) != 0 ||
        json_object_set_new(o, "not_after", ctl_json_time(ci->not_after)) != 0 ||
        json_object_set_new(o, "status", json_string(scep_admin_cert_status(ci, now))) != 0 ||
        json_object_set_new(o, "revoked_at", ctl_json_time(ci->revoked_at)) != 0 ||
        json_object_set_new(o, "reason",
                            ctl_json_str(ci->status == SCEP_CERT_REVOKED ? reason : NULL)) != 0 ||
        json_object_set_new(o, "transaction_id", ctl_json_str(ci->transaction_id)) != 0 ||
        json_object_set_new(o, "requester", ctl_json_str(ci->requester)) != 0 ||
        json_object_set_new(o, "msg_type", ctl_json_str(ci->msg_type)) != 0 ||
        json_object_set_new(
            o, "profile",
            json_string(ci->profile != NULL && ci->profile[0] != '\0' ? ci->profile : "default")) !=
            0 ||
        json_object_set_new(o, "source", json_string(ci->source != NULL ? ci->source : "scep")) !=
            0 ||
        json_object_set_new(o, "seen_at", ctl_json_str(ci->seen_at)) != 0 ||
        json_object_set_new(o, "superseded_by", ctl_json_str(ci->superseded_by)) != 0 ||
        json_object_set_new(o, "superseded_at", ctl_json_time(ci->superseded_at)) != 0)
        goto fail;
    if (full && (json_object_set_new(o, "issued_at", ctl_json_time(ci->issued_at)) != 0 ||
                 json_object_set_new(o, "issuer_fingerprint", ctl_json_str(ci->issuer_fp)) != 0 ||
                 json_object_set_new(o, "pubkey_fingerprint", ctl_json_str(ci->pubkey_fp)) != 0 ||
                 json_object_set_new(o, "renewed_serial", ctl_json_str(ci->renewed_serial)) != 0))
        goto fail;
    return o;
fail:
    json_decref(o);
    return NULL;
}

/*
 * Writes s as one CSV field (RFC 4180 2.5-2.7): quoted when it holds a
 * comma, a double quote, CR or LF (or starts with a space, which some
 * readers trim), with quotes doubled.  NULL writes an empty field.
 */
static void csv_field(FILE *f, const char *s)
{
    if (s == NULL)
        return;
    if (strpbrk(s, ",\"\r\n") == NULL && s[0] != ' ') {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s != '\0'; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* Writes n fields as one CSV record, ended by CRLF (RFC 4180 2.1). */
static void csv_row(FILE *f, const char *const *fields, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            fputc(',', f);
        csv_field(f, fields[i]);
    }
    fputs("\r\n", f);
}

struct list_state {
    int64_t now;
    int only_expired; /* --status expired: filtered here, not in the store */
    long limit;       /* applied here when only_expired */
    long count;
    int csv;       /* --csv */
    json_t *array; /* --json */
    struct ctl_table *table;
};

static int list_one(const struct scep_cert_info *ci, void *arg)
{
    struct list_state *ls = arg;
    char na[32], nb[32], ia[32], ra[32];
    const char *status = scep_admin_cert_status(ci, ls->now);
    const char *profile = ci->profile != NULL && ci->profile[0] != '\0' ? ci->profile : "default";
    const char *source = ci->source != NULL ? ci->source : "scep";

    if (ls->only_expired && strcmp(status, "expired") != 0)
        return 0;
    if (ls->only_expired && ls->limit > 0 && ls->count >= ls->limit)
        return 0;
    ls->count++;
    if (ls->array != NULL) {
        json_t *o = ctl_cert_info_json(ci, ls->now, 0);
        if (o == NULL || json_array_append_new(ls->array, o) != 0)
            return SCEP_ERR_NOMEM;
        return 0;
    }
    if (ls->csv) {
        const char *reason =
            ci->status == SCEP_CERT_REVOKED ? scep_crl_reason_name(ci->revocation_reason) : NULL;
        const char *row[CSV_NCOLS] = {
            ci->serial,
            status,
            ctl_iso_time(ci->not_before, nb, sizeof(nb)),
            ctl_iso_time(ci->not_after, na, sizeof(na)),
            ci->subject,
            ci->sans,
            profile,
            source,
            ci->seen_at,
            ci->superseded_by,
            ctl_iso_time(ci->issued_at, ia, sizeof(ia)),
            ci->revoked_at != 0 ? ctl_iso_time(ci->revoked_at, ra, sizeof(ra)) : NULL,
            reason,
            ci->issuer_fp,
            ci->fingerprint,
            ci->transaction_id};
        csv_row(stdout, row, CSV_NCOLS);
        return 0;
    }
    const char *row[6] = {ci->serial, status,  ctl_iso_time(ci->not_after, na, sizeof(na)),
                          source,     profile, ci->subject};
    return ctl_table_add(ls->table, row) == 0 ? 0 : SCEP_ERR_NOMEM;
}

/* --expiring N or Nd (days).  Returns 0 with *days set, or -1. */
static int parse_days(const char *s, long *days)
{
    char buf[16];
    size_t n = strlen(s);

    if (n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, s, n + 1);
    if (buf[n - 1] == 'd' || buf[n - 1] == 'D')
        buf[n - 1] = '\0';
    return ctl_parse_long(buf, 1, CTL_MAX_EXPIRING_DAYS, days);
}

/* --issued-after/--issued-before: YYYY-MM-DD (midnight UTC) or
 * YYYY-MM-DDTHH:MM:SSZ.  Returns 0 with *out set, or -1. */
static int parse_day_or_time(const char *s, int64_t *out)
{
    char buf[32];
    time_t t;

    if (strlen(s) == 10) {
        snprintf(buf, sizeof(buf), "%sT00:00:00Z", s);
        s = buf;
    }
    if (ctl_parse_time(s, &t) != 0)
        return -1;
    *out = (int64_t)t;
    return 0;
}

/* --serial PREFIX: hex digits, colons allowed, into the store's
 * uppercase form in out.  Returns 0 or -1. */
static int serial_prefix(const char *s, char *out, size_t len)
{
    size_t n = 0;

    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s += 2;
    for (; *s != '\0'; s++) {
        if (*s == ':')
            continue;
        if (!isxdigit((unsigned char)*s) || n + 1 >= len)
            return -1;
        out[n++] = (char)toupper((unsigned char)*s);
    }
    out[n] = '\0';
    return n > 0 ? 0 : -1;
}

/* --issuer: "current" (the current CA) or a CA certificate's SHA-256 (64
 * hex digits, as "scepctl ca show" prints it) into out (65 bytes).
 * Returns an exit code. */
static int issuer_arg(struct ctl *c, const char *s, char out[65])
{
    struct scep_ca *ca = NULL;
    size_t i;
    int rc;

    if (strcmp(s, "current") == 0) {
        rc = ctl_load_ca(c, &ca);
        if (rc != CTL_EXIT_OK)
            return rc;
        rc = scep_cert_fingerprint(scep_ca_get0_cert(ca), out) == 0 ? CTL_EXIT_OK : CTL_EXIT_FAIL;
        if (rc != CTL_EXIT_OK)
            ctl_err("list: cannot compute the current CA's fingerprint");
        scep_ca_free(ca);
        return rc;
    }
    if (strlen(s) != 64) {
        ctl_err("list: --issuer %s: expected current or a CA's SHA-256 fingerprint (64 hex digits, "
                "see \"scepctl ca show\")",
                s);
        return CTL_EXIT_USAGE;
    }
    for (i = 0; i < 64; i++) {
        if (!isxdigit((unsigned char)s[i])) {
            ctl_err("list: --issuer %s: not hex", s);
            return CTL_EXIT_USAGE;
        }
        out[i] = (char)tolower((unsigned char)s[i]);
    }
    out[64] = '\0';
    return CTL_EXIT_OK;
}

/* Sets f (and ls) for --status.  Returns an exit code. */
static int status_arg(const char *status, struct scep_cert_filter *f, struct list_state *ls)
{
    f->status = -1;
    f->include_expired = 1;
    if (status == NULL || strcmp(status, "all") == 0)
        return CTL_EXIT_OK;
    if (strcmp(status, "valid") == 0) {
        f->status = SCEP_CERT_VALID;
        f->include_expired = 0;
        f->superseded = SCEP_FILTER_NOT; /* shown as superseded, so not "valid" */
    } else if (strcmp(status, "revoked") == 0) {
        f->status = SCEP_CERT_REVOKED;
    } else if (strcmp(status, "expired") == 0) {
        f->status = SCEP_CERT_VALID;
        ls->only_expired = 1;
    } else if (strcmp(status, "superseded") == 0) {
        f->status = SCEP_CERT_VALID;
        f->include_expired = 0;
        f->superseded = SCEP_FILTER_ONLY;
    } else if (strcmp(status, "external") == 0) {
        f->sources = SCEP_CERT_SRC_EXTERNAL;
    } else {
        ctl_err("list: --status %s: expected valid, revoked, expired, superseded, external or all",
                status);
        return CTL_EXIT_USAGE;
    }
    return CTL_EXIT_OK;
}

/* scepctl list.  Returns an exit code. */
int ctl_cmd_list(struct ctl *c, int argc, char **argv)
{
    const char *status = NULL, *expiring = NULL, *subject = NULL, *limit = NULL, *san = NULL;
    const char *issuer = NULL, *profile = NULL, *after = NULL, *before = NULL, *serial = NULL;
    int csv = 0;
    struct ctl_opt opts[] = {
        {"status", &status, NULL},
        {"expiring", &expiring, NULL},
        {"subject", &subject, NULL},
        {"san", &san, NULL},
        {"issuer", &issuer, NULL},
        {"profile", &profile, NULL},
        {"issued-after", &after, NULL},
        {"issued-before", &before, NULL},
        {"serial", &serial, NULL},
        {"limit", &limit, NULL},
        {"csv", NULL, &csv},
        {NULL, NULL, NULL},
    };
    static const char *const heads[6] = {"SERIAL", "STATUS",  "NOT_AFTER",
                                         "SOURCE", "PROFILE", "SUBJECT"};
    struct scep_cert_filter f;
    struct list_state ls;
    struct scep_store *st = NULL;
    char issuer_fp[65], prefix[CTL_MAX_SERIAL_HEX + 1];
    char *subject_q = NULL;
    long v;
    int npos = 0, rc, err;

    memset(&f, 0, sizeof(f));
    memset(&ls, 0, sizeof(ls));
    rc = ctl_parse_opts(c, argc, argv, opts, NULL, 0, &npos, ctl_find_command("list"));
    if (rc != CTL_EXIT_OK)
        return rc < 0 ? CTL_EXIT_OK : rc;
    if (csv && c->json) {
        ctl_err("list: --csv and --json exclude each other");
        return CTL_EXIT_USAGE;
    }
    rc = status_arg(status, &f, &ls);
    if (rc != CTL_EXIT_OK)
        return rc;
    if (expiring != NULL) {
        if (parse_days(expiring, &v) != 0) {
            ctl_err("list: --expiring %s: expected a number of days from 1 to %d (30 or 30d)",
                    expiring, CTL_MAX_EXPIRING_DAYS);
            return CTL_EXIT_USAGE;
        }
        if (ls.only_expired || f.status == SCEP_CERT_REVOKED) {
            ctl_err("list: --expiring selects valid certificates; it cannot be combined with "
                    "--status %s",
                    status);
            return CTL_EXIT_USAGE;
        }
        /* "Expiring" means still valid and running out soon, soonest
         * first; a renewed (superseded) one needs no action, so it is
         * left out unless asked for with --status superseded. */
        f.expiring_within = (int)(v * 86400);
        f.status = SCEP_CERT_VALID;
        f.include_expired = 0;
        if (f.superseded == SCEP_FILTER_ANY)
            f.superseded = SCEP_FILTER_NOT;
        f.order = SCEP_CERT_ORDER_EXPIRY;
    }
    if (limit != NULL) {
        if (ctl_parse_long(limit, 1, 1000000000L, &v) != 0) {
            ctl_err("list: --limit %s: expected a positive number", limit);
            return CTL_EXIT_USAGE;
        }
        if (ls.only_expired)
            ls.limit = v;
        else
            f.limit = v;
    }
    if (after != NULL && parse_day_or_time(after, &f.issued_after) != 0) {
        ctl_err("list: --issued-after %s: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ", after);
        return CTL_EXIT_USAGE;
    }
    if (before != NULL && parse_day_or_time(before, &f.issued_before) != 0) {
        ctl_err("list: --issued-before %s: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ", before);
        return CTL_EXIT_USAGE;
    }
    if (serial != NULL) {
        if (serial_prefix(serial, prefix, sizeof(prefix)) != 0) {
            ctl_err("list: --serial %s: expected the first hex digits of a serial", serial);
            return CTL_EXIT_USAGE;
        }
        f.serial_prefix = prefix;
    }
    if (profile != NULL)
        f.profile = strcmp(profile, "default") == 0 ? "" : profile;
    if (subject != NULL) {
        /* What the user typed, in the order the table shows subjects
         * (scep_admin_subject_query turns OpenSSL's /C=../CN=.. round). */
        err = scep_admin_subject_query(subject, &subject_q);
        if (err != 0) {
            ctl_err("list: --subject %s: %s", subject,
                    err == SCEP_ERR_INVALID_ARG ? "not a DN (/C=US/O=Example/CN=name)"
                                                : scep_strerror(err));
            return err == SCEP_ERR_INVALID_ARG ? CTL_EXIT_USAGE : CTL_EXIT_FAIL;
        }
        f.subject_like = subject_q;
    }
    f.san_like = san;

    rc = CTL_EXIT_OK;
    if (issuer != NULL) {
        rc = issuer_arg(c, issuer, issuer_fp);
        f.issuer_fp = issuer_fp;
    }
    if (rc == CTL_EXIT_OK)
        rc = ctl_open_store(c, &st);
    if (rc != CTL_EXIT_OK)
        goto out;
    rc = CTL_EXIT_FAIL;
    ls.now = (int64_t)time(NULL);
    ls.csv = csv;
    if (c->json)
        ls.array = json_array();
    else if (!csv)
        ls.table = ctl_table_new(6, heads);
    if (ls.array == NULL && ls.table == NULL && !csv) {
        ctl_err("out of memory");
        goto out;
    }
    if (csv)
        csv_row(stdout, csv_heads, CSV_NCOLS);
    err = scep_admin_list_certs(st, &f, list_one, &ls);
    if (err != 0) {
        ctl_err("list: reading the database %s failed: %s", ctl_database(c), scep_strerror(err));
        goto out;
    }
    if (ls.array != NULL) {
        rc = ctl_json_print(ls.array);
        ls.array = NULL;
    } else {
        if (ls.table != NULL)
            ctl_table_print(ls.table);
        rc = CTL_EXIT_OK;
    }
out:
    free(subject_q);
    json_decref(ls.array);
    ctl_table_free(ls.table);
    scep_store_close(st);
    return rc;
}
