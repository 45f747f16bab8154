/*
 * scepctl output: error messages on stderr, aligned text tables and
 * "key: value" blocks for people, JSON (jansson) for scripts, and the
 * formatting of times, subjects, serials and key descriptions that every
 * command shares.  All times are printed in UTC, ISO 8601.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "ca/ca.h"
#include "util/hex.h"
#include "scepctl.h"

/* Prints "scepctl: " and the formatted message and a newline to stderr. */
void ctl_err(const char *fmt, ...)
{
    va_list ap;

    fputs("scepctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* Formats t as ISO 8601 UTC into buf; "-" for 0.  Returns buf. */
const char *ctl_iso_time(int64_t t, char *buf, size_t len)
{
    struct tm tm;
    time_t tt = (time_t)t;

    if (len == 0)
        return buf;
    if (t == 0 || gmtime_r(&tt, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, len, "-");
    return buf;
}

/* A JSON string for t in ISO 8601 UTC, or null for 0.  New reference. */
json_t *ctl_json_time(int64_t t)
{
    char buf[32];

    if (t == 0)
        return json_null();
    return json_string(ctl_iso_time(t, buf, sizeof(buf)));
}

/* A JSON string for s, or null when s is NULL or empty.  New reference. */
json_t *ctl_json_str(const char *s)
{
    json_t *v;
    char *copy;
    size_t n;

    if (s == NULL || s[0] == '\0')
        return json_null();
    v = json_string(s);
    if (v != NULL)
        return v;
    /* json_string refuses invalid UTF-8 (a subject a client filled with
     * Latin-1, say).  Emitting the bytes unchecked would make the whole
     * document unparsable, so non-ASCII bytes become '?'. */
    n = strlen(s);
    copy = malloc(n + 1);
    if (copy == NULL)
        return NULL;
    for (size_t i = 0; i <= n; i++)
        copy[i] = (unsigned char)s[i] >= 0x80 ? '?' : s[i];
    v = json_string(copy);
    free(copy);
    return v;
}

/* Dumps v as indented JSON to stdout, stealing the reference. */
int ctl_json_print(json_t *v)
{
    int rc = CTL_EXIT_FAIL;

    if (v == NULL) {
        ctl_err("out of memory building JSON output");
        return CTL_EXIT_FAIL;
    }
    if (json_dumpf(v, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0) {
        ctl_err("cannot write JSON output");
        goto out;
    }
    fputc('\n', stdout);
    rc = CTL_EXIT_OK;
out:
    json_decref(v);
    return rc;
}

/* Replaces control characters in s, in place.  Subjects, SANs and
 * transaction ids come from clients; printed raw, an escape sequence in a
 * CSR's CN would reach the administrator's terminal. */
static void defang(char *s)
{
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
            *s = '?';
    }
}

struct ctl_table {
    int ncols;
    size_t nrows; /* including the header row */
    size_t cap;
    char **cells; /* nrows * ncols, row-major */
};

/* Makes a table with a header row; free with ctl_table_free(). */
struct ctl_table *ctl_table_new(int ncols, const char *const *heads)
{
    struct ctl_table *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return NULL;
    t->ncols = ncols;
    if (ctl_table_add(t, heads) != 0) {
        ctl_table_free(t);
        return NULL;
    }
    return t;
}

/* Appends a row of ncols strings (copied).  Returns 0 or -1. */
int ctl_table_add(struct ctl_table *t, const char *const *cells)
{
    size_t n = (size_t)t->ncols;

    if (t->nrows == t->cap) {
        size_t cap = t->cap == 0 ? 16 : t->cap * 2;
        char **p = realloc(t->cells, cap * n * sizeof(*p));
        if (p == NULL)
            return -1;
        t->cells = p;
        t->cap = cap;
    }
    for (size_t i = 0; i < n; i++) {
        char *s = strdup(cells[i] != NULL && cells[i][0] != '\0' ? cells[i] : "-");
        if (s != NULL)
            defang(s);
        if (s == NULL) {
            for (size_t j = 0; j < i; j++)
                free(t->cells[t->nrows * n + j]);
            return -1;
        }
        t->cells[t->nrows * n + i] = s;
    }
    t->nrows++;
    return 0;
}

/* Prints the table to stdout with columns padded to their widest cell. */
void ctl_table_print(const struct ctl_table *t)
{
    size_t n = (size_t)t->ncols;
    size_t width[16] = {0};

    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t i = 0; i < n && i < 16; i++) {
            size_t w = strlen(t->cells[r * n + i]);
            if (w > width[i])
                width[i] = w;
        }
    }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t i = 0; i < n; i++) {
            const char *s = t->cells[r * n + i];
            if (i + 1 == n || i >= 16)
                fputs(s, stdout);
            else
                printf("%-*s  ", (int)width[i], s);
        }
        fputc('\n', stdout);
    }
}

/* Frees a table and its cells.  Accepts NULL. */
void ctl_table_free(struct ctl_table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}

/* Prints one "key: value" line, keys padded so the values line up. */
void ctl_kv(const char *key, const char *value)
{
    printf("%-20s ", key);
    if (value == NULL || value[0] == '\0')
        value = "-";
    for (; *value != '\0'; value++) {
        unsigned char ch = (unsigned char)*value;
        putchar(ch < 0x20 || ch == 0x7f ? '?' : ch); /* see defang() */
    }
    putchar('\n');
}

/* Subject (RFC 2253) of x into buf; "" on failure. */
const char *ctl_x509_subject(X509 *x, char *buf, size_t len)
{
    BIO *b = NULL;
    int n;

    if (len == 0)
        return buf;
    buf[0] = '\0';
    b = BIO_new(BIO_s_mem());
    if (b == NULL)
        return buf;
    /* XN_FLAG_RFC2253 escapes as RFC 2253 wants but also dumps non-ASCII as
     * hex; dropping ESC_MSB keeps UTF-8 names readable. */
    if (X509_NAME_print_ex(b, X509_get_subject_name(x), 0,
                           XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
        n = BIO_read(b, buf, (int)(len - 1));
        buf[n > 0 ? n : 0] = '\0';
    }
    BIO_free(b);
    return buf;
}

/* Issuer (RFC 2253) of x into buf; "" on failure.  Same flags as
 * ctl_x509_subject(). */
const char *ctl_x509_issuer(X509 *x, char *buf, size_t len)
{
    BIO *b = NULL;
    int n;

    if (len == 0)
        return buf;
    buf[0] = '\0';
    b = BIO_new(BIO_s_mem());
    if (b == NULL)
        return buf;
    if (X509_NAME_print_ex(b, X509_get_issuer_name(x), 0,
                           XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
        n = BIO_read(b, buf, (int)(len - 1));
        buf[n > 0 ? n : 0] = '\0';
    }
    BIO_free(b);
    return buf;
}

/* Serial of x in the one serial convention (lib/util/hex.h) into buf;
 * "" on failure. */
const char *ctl_x509_serial(X509 *x, char *buf, size_t len)
{
    if (len == 0)
        return buf;
    if (util_serial_hex(X509_get0_serialNumber(x), buf, len) != 0)
        buf[0] = '\0';
    return buf;
}

/* "RSA 3072", "EC P-256" for x's public key into buf. */
const char *ctl_x509_keydesc(X509 *x, char *buf, size_t len)
{
    EVP_PKEY *pk = X509_get0_pubkey(x);
    char curve[64];
    size_t clen = 0;

    if (pk == NULL) {
        snprintf(buf, len, "unknown");
        return buf;
    }
    if (EVP_PKEY_is_a(pk, "RSA")) {
        snprintf(buf, len, "RSA %d", EVP_PKEY_get_bits(pk));
    } else if (EVP_PKEY_is_a(pk, "EC")) {
        /* The group name comes back as "prime256v1"; the NIST name is
         * what people type (and what --key-type ec-p256 says). */
        if (EVP_PKEY_get_utf8_string_param(pk, "group", curve, sizeof(curve), &clen) != 1)
            snprintf(curve, sizeof(curve), "unknown curve");
        int nid = OBJ_sn2nid(curve);
        const char *nist = nid != NID_undef ? EC_curve_nid2nist(nid) : NULL;
        snprintf(buf, len, "EC %s", nist != NULL ? nist : curve);
    } else {
        snprintf(buf, len, "%s %d", EVP_PKEY_get0_type_name(pk), EVP_PKEY_get_bits(pk));
    }
    return buf;
}

/* Unix time of an ASN1_TIME, or 0. */
int64_t ctl_asn1_time(const ASN1_TIME *t)
{
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return (int64_t)timegm(&tm);
}

/* JSON description of a CA/RA certificate.  New reference or NULL. */
json_t *ctl_cert_json(X509 *x)
{
    char subject[1024], serial[128], key[64], fp[65];
    json_t *o = NULL;

    if (scep_cert_fingerprint(x, fp) != 0)
        fp[0] = '\0';
    o = json_object();
    if (o == NULL)
        return NULL;
    if (json_object_set_new(o, "subject",
                            ctl_json_str(ctl_x509_subject(x, subject, sizeof(subject)))) != 0 ||
        json_object_set_new(o, "serial",
                            ctl_json_str(ctl_x509_serial(x, serial, sizeof(serial)))) != 0 ||
        json_object_set_new(o, "not_before",
                            ctl_json_time(ctl_asn1_time(X509_get0_notBefore(x)))) != 0 ||
        json_object_set_new(o, "not_after", ctl_json_time(ctl_asn1_time(X509_get0_notAfter(x)))) !=
            0 ||
        json_object_set_new(o, "key", ctl_json_str(ctl_x509_keydesc(x, key, sizeof(key)))) != 0 ||
        json_object_set_new(o, "fingerprint_sha256", ctl_json_str(fp)) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Prints a CA/RA certificate as "key: value" lines under title. */
void ctl_cert_print(const char *title, X509 *x)
{
    char buf[1024], fp[65];

    if (scep_cert_fingerprint(x, fp) != 0)
        fp[0] = '\0';
    printf("%s\n", title);
    ctl_kv("  subject:", ctl_x509_subject(x, buf, sizeof(buf)));
    ctl_kv("  serial:", ctl_x509_serial(x, buf, sizeof(buf)));
    ctl_kv("  not before:", ctl_iso_time(ctl_asn1_time(X509_get0_notBefore(x)), buf, sizeof(buf)));
    ctl_kv("  not after:", ctl_iso_time(ctl_asn1_time(X509_get0_notAfter(x)), buf, sizeof(buf)));
    ctl_kv("  key:", ctl_x509_keydesc(x, buf, sizeof(buf)));
    ctl_kv("  SHA-256:", fp);
}
