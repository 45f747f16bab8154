/*
 * The store's public entry points.  scep_store_open() reads the URI's
 * scheme and opens the backend that backends[] names for it; each other
 * scep_store_* function checks its arguments and forwards to that
 * backend through the struct scep_store_ops in store_backend.h.  Nothing
 * here knows SQL: the backends own their schema, transactions and
 * durability.
 */
#include "store_backend.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>

#include <scep/error.h>

/*
 * The backends, by URI scheme.  A plain path (no scheme) is the "sqlite"
 * row; another backend is one more row.
 */
static const struct scep_store_backend backends[] = {
    {"sqlite", NULL, "SQLite", scep_store_sqlite_open},
    {"postgresql", "postgres", "PostgreSQL", scep_store_pg_open},
};

#define NBACKENDS (sizeof(backends) / sizeof(backends[0]))

/* The backend a path without a scheme is opened with. */
#define PLAIN_PATH_SCHEME "sqlite"

/* The length of uri's scheme (RFC 3986 3.1: ALPHA *( ALPHA / DIGIT /
 * "+" / "-" / "." ) before a ':'), or 0 when it has none and is a plain
 * path. */
static size_t scheme_len(const char *uri)
{
    size_t n = 0;

    if (!isalpha((unsigned char)uri[0]))
        return 0;
    while (isalnum((unsigned char)uri[n]) || uri[n] == '+' || uri[n] == '-' || uri[n] == '.')
        n++;
    return uri[n] == ':' ? n : 0;
}

/* 1 if name (may be NULL) is the scheme of n bytes at s. */
static int scheme_is(const char *name, const char *s, size_t n)
{
    return name != NULL && strlen(name) == n && strncasecmp(name, s, n) == 0;
}

/* Writes the names of the known schemes into buf, "sqlite:, postgresql:". */
static void known_schemes(char *buf, size_t len)
{
    size_t i, used = 0;
    int n;

    buf[0] = '\0';
    for (i = 0; i < NBACKENDS && used < len; i++) {
        n = snprintf(buf + used, len - used, "%s%s:", i > 0 ? ", " : "", backends[i].scheme);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

/*
 * Opens the store named by uri; see store.h for the schemes.  Returns 0
 * with *out set (close with scep_store_close()), or a negative
 * SCEP_ERR_* with the reason in why.  The reason never quotes the URI
 * beyond a SQLite path or the scheme: a PostgreSQL URI may hold a
 * password.
 */
int scep_store_open(const char *uri, struct scep_store **out, char *why, size_t whylen)
{
    int rc = SCEP_ERR_INVALID_ARG;
    struct scep_store *st = NULL;
    const struct scep_store_backend *b = NULL;
    const struct scep_store_ops *ops = NULL;
    void *be = NULL;
    const char *scheme;
    char known[128];
    size_t i, n;

    if (why == NULL)
        whylen = 0;
    if (whylen > 0)
        why[0] = '\0';
    if (uri == NULL) {
        snprintf(why, whylen, "no store URI given");
        goto out;
    }
    if (out == NULL) {
        snprintf(why, whylen, "nowhere to put the store handle");
        goto out;
    }
    if (uri[0] == '\0') {
        snprintf(why, whylen, "empty store URI");
        goto out;
    }
    n = scheme_len(uri);
    scheme = n > 0 ? uri : PLAIN_PATH_SCHEME;
    if (n == 0)
        n = strlen(PLAIN_PATH_SCHEME);
    for (i = 0; i < NBACKENDS && b == NULL; i++) {
        if (scheme_is(backends[i].scheme, scheme, n) || scheme_is(backends[i].alias, scheme, n))
            b = &backends[i];
    }
    if (b == NULL) {
        known_schemes(known, sizeof(known));
        snprintf(why, whylen, "unknown store scheme \"%.*s:\" (known: %s)", (int)(n > 32 ? 32 : n),
                 scheme, known);
        rc = SCEP_ERR_UNSUPPORTED;
        goto out;
    }
    st = calloc(1, sizeof(*st));
    if (st == NULL) {
        snprintf(why, whylen, "out of memory");
        rc = SCEP_ERR_NOMEM;
        goto out;
    }
    rc = b->open(uri, &ops, &be, why, whylen);
    if (rc != 0)
        goto out;
    st->ops = ops;
    st->be = be;
    *out = st;
    st = NULL;
    rc = 0;
out:
    free(st);
    return rc;
}

/* Appends n bytes of s to buf (used of len bytes so far), as far as
 * they fit with a NUL after them. */
static void put_n(char *buf, size_t len, size_t *used, const char *s, size_t n)
{
    if (*used + 1 >= len)
        return;
    if (n > len - 1 - *used)
        n = len - 1 - *used;
    memcpy(buf + *used, s, n);
    *used += n;
    buf[*used] = '\0';
}

/*
 * Copies uri with its passwords replaced; see store.h.  The authority is
 * what lies between "://" and the first '/', '?' or '#'; its userinfo
 * ends at its last '@' (RFC 3986 3.2).  In the query, every password=
 * value (up to the next '&' or '#') is replaced.
 */
const char *scep_store_uri_redacted(const char *uri, char *buf, size_t len)
{
    static const char mask[] = "***";
    const char *p, *auth, *end, *at = NULL, *colon, *q;
    size_t used = 0;

    if (buf == NULL || len == 0)
        return buf;
    buf[0] = '\0';
    if (uri == NULL)
        return buf;
    auth = strstr(uri, "://");
    if (auth == NULL) {
        put_n(buf, len, &used, uri, strlen(uri));
        return buf;
    }
    auth += 3;
    end = auth + strcspn(auth, "/?#");
    for (p = auth; p < end; p++)
        if (*p == '@')
            at = p;
    colon = at != NULL ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    if (colon != NULL) {
        put_n(buf, len, &used, uri, (size_t)(colon + 1 - uri));
        put_n(buf, len, &used, mask, strlen(mask));
        p = at;
    } else {
        p = uri;
    }
    q = strchr(end, '?');
    while (q != NULL) {
        q++;
        put_n(buf, len, &used, p, (size_t)(q - p));
        p = q;
        if (strncasecmp(q, "password=", 9) == 0) {
            put_n(buf, len, &used, q, 9);
            put_n(buf, len, &used, mask, strlen(mask));
            p = q + 9 + strcspn(q + 9, "&#");
        }
        q = strchr(p, '&');
    }
    put_n(buf, len, &used, p, strlen(p));
    return buf;
}

/* Closes the connection and frees st.  Accepts NULL. */
void scep_store_close(struct scep_store *st)
{
    if (st == NULL)
        return;
    st->ops->close(st->be);
    free(st);
}

/* Returns the schema version the store is at (after migrations), or a
 * negative SCEP_ERR_* for a NULL handle. */
int scep_store_schema_version(struct scep_store *st)
{
    if (st == NULL)
        return SCEP_ERR_INVALID_ARG;
    return st->ops->schema_version(st->be);
}

/* The room a certificate's fingerprint takes: 64 hex digits and a NUL. */
#define FP_HEX 65

/* Lowercase hex SHA-256 of der into out.  0 or SCEP_ERR_INTERNAL. */
static int der_fingerprint(const unsigned char *der, size_t len, char out[FP_HEX])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0, i;

    if (EVP_Digest(der, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        return SCEP_ERR_INTERNAL;
    for (i = 0; i < mdlen; i++) {
        out[2 * i] = digits[md[i] >> 4];
        out[2 * i + 1] = digits[md[i] & 0x0f];
    }
    out[2 * i] = '\0';
    return 0;
}

/* 1 if source (NULL: "scep") is one of SCEP_CERT_SOURCE_*. */
static int known_source(const char *source)
{
    return source == NULL || strcmp(source, SCEP_CERT_SOURCE_SCEP) == 0 ||
           strcmp(source, SCEP_CERT_SOURCE_IMPORT) == 0 ||
           strcmp(source, SCEP_CERT_SOURCE_TLS) == 0;
}

/*
 * The checks every inserted record passes (scep_store_insert_cert, the
 * bulk insert, issuing a request): the required fields, a known status
 * and source, and for an external certificate no issuer and no
 * revocation, since it is not ours (store.h, "The inventory").
 */
static int check_cert(const struct scep_cert_info *ci)
{
    if (ci == NULL || ci->serial == NULL || ci->serial[0] == '\0' || ci->subject == NULL ||
        ci->der == NULL || ci->der_len == 0)
        return SCEP_ERR_INVALID_ARG;
    if (ci->status != SCEP_CERT_VALID && ci->status != SCEP_CERT_REVOKED)
        return SCEP_ERR_INVALID_ARG;
    if (!known_source(ci->source))
        return SCEP_ERR_INVALID_ARG;
    if (ci->source != NULL && strcmp(ci->source, SCEP_CERT_SOURCE_SCEP) != 0 &&
        (ci->issuer_fp != NULL || ci->status != SCEP_CERT_VALID || ci->challenge_id != 0))
        return SCEP_ERR_INVALID_ARG;
    return 0;
}

/* A copy of ci (borrowing all its pointers) with fingerprint pointing
 * at fp, computed from the DER.  0 or SCEP_ERR_INTERNAL. */
static int with_fingerprint(const struct scep_cert_info *ci, struct scep_cert_info *copy,
                            char fp[FP_HEX])
{
    int rc = der_fingerprint(ci->der, ci->der_len, fp);

    if (rc != 0)
        return rc;
    *copy = *ci;
    copy->fingerprint = fp;
    return 0;
}

/*
 * Inserts ci and appends ev (may be NULL) in one durable transaction.
 * serial, subject and the DER are required.  Returns 0, SCEP_ERR_EXISTS
 * for a known serial or DER, SCEP_ERR_TRANSID_REUSE when the
 * transactionID already has a certificate (nothing written in either
 * case), or SCEP_ERR_STORE.
 */
int scep_store_insert_cert(struct scep_store *st, const struct scep_cert_info *ci,
                           const struct scep_audit_event *ev)
{
    struct scep_cert_info c;
    char fp[FP_HEX];
    int rc;

    if (st == NULL || (rc = check_cert(ci)) != 0)
        return SCEP_ERR_INVALID_ARG;
    if (ev != NULL && ev->kind == NULL)
        return SCEP_ERR_INVALID_ARG;
    if ((rc = with_fingerprint(ci, &c, fp)) != 0)
        return rc;
    return st->ops->insert_cert(st->be, &c, ev);
}

/* Most records one bulk insert takes: the fingerprints are computed
 * into one allocation before the transaction starts. */
#define BULK_MAX 1000000

/*
 * Inserts n records and ev in one transaction (see store.h).  The
 * records are checked and fingerprinted before anything is written, so
 * a bad one refuses the whole batch without a rollback.  Returns 0 or
 * the first failure.
 */
int scep_store_insert_certs(struct scep_store *st, const struct scep_cert_info *cis, size_t n,
                            const struct scep_audit_event *ev)
{
    struct scep_cert_info *copies = NULL;
    char(*fps)[FP_HEX] = NULL;
    size_t i;
    int rc = SCEP_ERR_INVALID_ARG;

    if (st == NULL || (cis == NULL && n > 0) || n > BULK_MAX || (ev != NULL && ev->kind == NULL))
        return SCEP_ERR_INVALID_ARG;
    if (n == 0 && ev == NULL)
        return 0;
    rc = SCEP_ERR_NOMEM;
    copies = calloc(n > 0 ? n : 1, sizeof(*copies));
    fps = calloc(n > 0 ? n : 1, sizeof(*fps));
    if (copies == NULL || fps == NULL)
        goto out;
    for (i = 0; i < n; i++) {
        if ((rc = check_cert(&cis[i])) != 0 || cis[i].challenge_id != 0) {
            rc = SCEP_ERR_INVALID_ARG;
            goto out;
        }
        if ((rc = with_fingerprint(&cis[i], &copies[i], fps[i])) != 0)
            goto out;
    }
    rc = st->ops->insert_certs(st->be, copies, n, ev);
out:
    free(copies);
    free(fps);
    return rc;
}

/* The store key of an external certificate (see store.h): the first
 * SCEP_EXTERNAL_KEY_BYTES of its fingerprint in the serial convention,
 * so that scepctl show and revoke find it like any serial. */
int scep_store_external_key(const char *fp, char out[SCEP_EXTERNAL_KEY_LEN])
{
    size_t i, pos = 0;

    if (fp == NULL || out == NULL || strlen(fp) != 64)
        return SCEP_ERR_INVALID_ARG;
    for (i = 0; i < 64; i++)
        if (!isxdigit((unsigned char)fp[i]))
            return SCEP_ERR_INVALID_ARG;
    /* Leading zero digits are dropped and a top bit gets a "00" in
     * front, as util_serial_text_normalize() spells any serial, so the
     * key survives being typed back. */
    for (i = 0; i < 2 * SCEP_EXTERNAL_KEY_BYTES - 1 && fp[i] == '0'; i++)
        ;
    if ((2 * SCEP_EXTERNAL_KEY_BYTES - i) % 2 == 1)
        out[pos++] = '0';
    else if (strchr("89abcdefABCDEF", fp[i]) != NULL)
        pos += (size_t)snprintf(out + pos, 3, "00");
    for (; i < 2 * SCEP_EXTERNAL_KEY_BYTES; i++)
        out[pos++] = (char)toupper((unsigned char)fp[i]);
    out[pos] = '\0';
    return 0;
}

/* Looks serial up.  Returns 0 with *out set (free with
 * scep_cert_info_free()), SCEP_ERR_NOT_FOUND, or SCEP_ERR_STORE. */
int scep_store_get_cert(struct scep_store *st, const char *serial, struct scep_cert_info **out)
{
    if (st == NULL || serial == NULL || out == NULL)
        return SCEP_ERR_INVALID_ARG;
    return st->ops->get_cert(st->be, serial, out);
}

/* Looks a certificate up by its DER's SHA-256 (64 hex digits, either
 * case).  Returns 0 with *out set (free with scep_cert_info_free()),
 * SCEP_ERR_NOT_FOUND, SCEP_ERR_INVALID_ARG, or SCEP_ERR_STORE. */
int scep_store_get_cert_by_fingerprint(struct scep_store *st, const char *fingerprint,
                                       struct scep_cert_info **out)
{
    char fp[FP_HEX];
    size_t i;

    if (st == NULL || fingerprint == NULL || out == NULL || strlen(fingerprint) != 64)
        return SCEP_ERR_INVALID_ARG;
    for (i = 0; i < 64; i++) {
        if (!isxdigit((unsigned char)fingerprint[i]))
            return SCEP_ERR_INVALID_ARG;
        fp[i] = (char)tolower((unsigned char)fingerprint[i]);
    }
    fp[64] = '\0';
    return st->ops->get_cert_by_fingerprint(st->be, fp, out);
}

/* The most recent certificate issued for transaction_id.  Returns 0 with
 * *out set (free with scep_cert_info_free()), SCEP_ERR_NOT_FOUND, or
 * SCEP_ERR_STORE. */
int scep_store_get_cert_by_transaction(struct scep_store *st, const char *transaction_id,
                                       struct scep_cert_info **out)
{
    if (st == NULL || transaction_id == NULL || out == NULL)
        return SCEP_ERR_INVALID_ARG;
    return st->ops->get_cert_by_transaction(st->be, transaction_id, out);
}

/*
 * Calls cb for each certificate matching f (NULL: every certificate that
 * has not expired), newest first; the record is borrowed for the call.
 * Returns 0, the first non-zero value cb returned, or SCEP_ERR_STORE.
 */
int scep_store_list_certs(struct scep_store *st, const struct scep_cert_filter *f,
                          scep_store_cert_cb cb, void *arg)
{
    struct scep_cert_filter all = {.status = -1,
                                   .expiring_within = 0,
                                   .include_expired = 0,
                                   .subject_like = NULL,
                                   .limit = 0,
                                   .issuer_fp = NULL};

    if (st == NULL || cb == NULL)
        return SCEP_ERR_INVALID_ARG;
    if (f == NULL)
        f = &all;
    if (f->status != -1 && f->status != SCEP_CERT_VALID && f->status != SCEP_CERT_REVOKED)
        return SCEP_ERR_INVALID_ARG;
    if (f->expiring_within < 0 || f->limit < 0 || f->issued_after < 0 || f->issued_before < 0 ||
        f->superseded_before < 0)
        return SCEP_ERR_INVALID_ARG;
    if (f->superseded != SCEP_FILTER_ANY && f->superseded != SCEP_FILTER_ONLY &&
        f->superseded != SCEP_FILTER_NOT)
        return SCEP_ERR_INVALID_ARG;
    if ((f->sources & ~(SCEP_CERT_SRC_SCEP | SCEP_CERT_SRC_EXTERNAL)) != 0)
        return SCEP_ERR_INVALID_ARG;
    if (f->order != SCEP_CERT_ORDER_ISSUED && f->order != SCEP_CERT_ORDER_EXPIRY)
        return SCEP_ERR_INVALID_ARG;
    /* The prefix becomes a range on the primary key, so it must be
     * hex digits as the store writes serials. */
    if (f->serial_prefix != NULL) {
        const char *p;
        if (f->serial_prefix[0] == '\0' || strlen(f->serial_prefix) > 64)
            return SCEP_ERR_INVALID_ARG;
        for (p = f->serial_prefix; *p != '\0'; p++)
            if (!((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'F')))
                return SCEP_ERR_INVALID_ARG;
    }
    if (f->after_serial != NULL && (f->after_serial[0] == '\0' || strlen(f->after_serial) > 128))
        return SCEP_ERR_INVALID_ARG;
    return st->ops->list_certs(st->be, f, cb, arg);
}

/*
 * Marks serial revoked with CRLReason reason at time at (0: now) and
 * appends ev (may be NULL), in one transaction.  Returns 0,
 * SCEP_ERR_NOT_FOUND, SCEP_ERR_EXISTS if already revoked, or
 * SCEP_ERR_STORE; nothing is written unless it returns 0.
 */
int scep_store_revoke(struct scep_store *st, const char *serial, int reason, int64_t at,
                      const struct scep_audit_event *ev)
{
    /* RFC 5280 5.3.1: CRLReason 0..10, 7 unused. */
    if (st == NULL || serial == NULL || reason < -1 || reason > 10 || reason == 7)
        return SCEP_ERR_INVALID_ARG;
    if (ev != NULL && ev->kind == NULL)
        return SCEP_ERR_INVALID_ARG;
    return st->ops->revoke(st->be, serial, reason, at, ev);
}

/*
 * Takes serial, on hold (revoked with CRLReason certificateHold), back
 * to valid with ev (may be NULL) appended, in one transaction.  Returns
 * 0, SCEP_ERR_NOT_FOUND, SCEP_ERR_POLICY when it is not on hold, or
 * SCEP_ERR_STORE; nothing is written unless it returns 0.
 */
int scep_store_unhold(struct scep_store *st, const char *serial, const struct scep_audit_event *ev)
{
    if (st == NULL || serial == NULL)
        return SCEP_ERR_INVALID_ARG;
    if (ev != NULL && ev->kind == NULL)
        return SCEP_ERR_INVALID_ARG;
    return st->ops->unhold(st->be, serial, ev);
}

/* Appends ev in its own durable transaction.  Returns 0 or SCEP_ERR_STORE. */
int scep_store_audit(struct scep_store *st, const struct scep_audit_event *ev)
{
    if (st == NULL || ev == NULL || ev->kind == NULL)
        return SCEP_ERR_INVALID_ARG;
    return st->ops->audit(st->be, ev);
}

/* Calls cb for each audit event with id > after_id, oldest first; the
 * event is borrowed for the call.  Returns 0, cb's first non-zero value,
 * or SCEP_ERR_STORE. */
int scep_store_list_audit(struct scep_store *st, int64_t after_id, scep_store_audit_cb cb,
                          void *arg)
{
    if (st == NULL || cb == NULL)
        return SCEP_ERR_INVALID_ARG;
    return st->ops->list_audit(st->be, after_id, cb, arg);
}

/* Recomputes the audit hash chain.  Returns 0 when intact, SCEP_ERR_STORE
 * with *bad_id set to the first broken event, or SCEP_ERR_STORE with
 * *bad_id 0 when the database itself failed. */
int scep_store_verify_audit(struct scep_store *st, int64_t *bad_id)
{
    if (st == NULL || bad_id == NULL)
        return SCEP_ERR_INVALID_ARG;
    *bad_id = 0;
    return st->ops->verify_audit(st->be, bad_id);
}

/* Allocates the next CRL number (1, 2, ...; durable before it returns).
 * Returns 0 with *out set, or SCEP_ERR_STORE. */
int scep_store_next_crl_number(struct scep_store *st, int64_t *out)
{
    if (st == NULL || out == NULL)
        return SCEP_ERR_INVALID_ARG;
    return st->ops->next_crl_number(st->be, out);
}

void scep_store_crl_clear(struct scep_store_crl *c)
{
    if (c == NULL)
        return;
    free(c->der);
    memset(c, 0, sizeof(*c));
}

/* A hex SHA-256, as every fingerprint in the store is. */
static int fp_ok(const char *fp)
{
    size_t i;

    if (fp == NULL || strlen(fp) != 64)
        return 0;
    for (i = 0; i < 64; i++)
        if (!((fp[i] >= '0' && fp[i] <= '9') || (fp[i] >= 'a' && fp[i] <= 'f')))
            return 0;
    return 1;
}

int64_t store_fp_prefix(const char *fp, int ndigits)
{
    int64_t v = 0;
    int i;

    for (i = 0; i < ndigits && i < 15 && fp[i] != '\0'; i++)
        v = v * 16 + (fp[i] >= 'a' ? fp[i] - 'a' + 10 : fp[i] - '0');
    return v;
}

int scep_store_get_crl(struct scep_store *st, const char *issuer_fp, struct scep_store_crl *out)
{
    if (out != NULL)
        memset(out, 0, sizeof(*out));
    if (st == NULL || out == NULL || !fp_ok(issuer_fp))
        return SCEP_ERR_INVALID_ARG;
    return st->ops->get_crl(st->be, issuer_fp, out);
}

int scep_store_put_crl(struct scep_store *st, const struct scep_store_crl *c)
{
    if (st == NULL || c == NULL || !fp_ok(c->issuer_fp) || c->der == NULL || c->len == 0 ||
        c->number <= 0)
        return SCEP_ERR_INVALID_ARG;
    return st->ops->put_crl(st->be, c);
}

int scep_store_try_lock_crl(struct scep_store *st, const char *issuer_fp, int *got)
{
    if (got != NULL)
        *got = 0;
    if (st == NULL || got == NULL || !fp_ok(issuer_fp))
        return SCEP_ERR_INVALID_ARG;
    return st->ops->try_lock_crl(st->be, issuer_fp, got);
}

int scep_store_unlock_crl(struct scep_store *st)
{
    if (st == NULL)
        return SCEP_ERR_INVALID_ARG;
    return st->ops->unlock_crl(st->be);
}

/* A trivial read on this connection (see store.h). */
int scep_store_ping(struct scep_store *st)
{
    if (st == NULL)
        return SCEP_ERR_INVALID_ARG;
    return st->ops->ping(st->be);
}

int scep_store_change_token(struct scep_store *st, uint64_t *out)
{
    if (st == NULL || out == NULL)
        return SCEP_ERR_INVALID_ARG;
    if (st->ops->change_token == NULL)
        return SCEP_ERR_UNSUPPORTED;
    return st->ops->change_token(st->be, out);
}

/* The text of the last backend failure on this connection ("" if none);
 * borrowed, valid until the next call on st. */
const char *scep_store_last_error(struct scep_store *st)
{
    if (st == NULL)
        return "";
    return st->ops->last_error(st->be);
}

/* Frees an owned record and every string in it.  Accepts NULL. */
void scep_cert_info_free(struct scep_cert_info *ci)
{
    if (ci == NULL)
        return;
    free(ci->serial);
    free(ci->issuer_fp);
    free(ci->subject);
    free(ci->sans);
    free(ci->transaction_id);
    free(ci->requester);
    free(ci->msg_type);
    free(ci->pubkey_fp);
    free(ci->renewed_serial);
    free(ci->der);
    free(ci->profile);
    free(ci->source);
    free(ci->seen_at);
    free(ci->fingerprint);
    free(ci->superseded_by);
    free(ci);
}

/* 1 if status is one of enum scep_request_status. */
static int valid_request_status(int status)
{
    return status == SCEP_REQ_PENDING || status == SCEP_REQ_APPROVED ||
           status == SCEP_REQ_REJECTED || status == SCEP_REQ_ISSUED;
}

/*
 * Stores ri as a new PENDING request and appends ev (may be NULL), in one
 * durable transaction.  transaction_id and the CSR are required; ri's
 * id, status and decision fields are ignored.  Returns 0 with *id (may
 * be NULL) set, SCEP_ERR_EXISTS for a known transaction id (nothing
 * written), or SCEP_ERR_STORE.
 */
int scep_store_add_request(struct scep_store *st, const struct scep_request_info *ri,
                           const struct scep_audit_event *ev, int64_t *id)
{
    if (st == NULL || ri == NULL || ri->transaction_id == NULL || ri->transaction_id[0] == '\0' ||
        ri->csr_der == NULL || ri->csr_len == 0)
        return SCEP_ERR_INVALID_ARG;
    if (ev != NULL && ev->kind == NULL)
        return SCEP_ERR_INVALID_ARG;
    return st->ops->add_request(st->be, ri, ev, id);
}

/* Looks request id up.  Returns 0 with *out set (free with
 * scep_request_info_free()), SCEP_ERR_NOT_FOUND, or SCEP_ERR_STORE. */
int scep_store_get_request(struct scep_store *st, int64_t id, struct scep_request_info **out)
{
    if (st == NULL || out == NULL)
        return SCEP_ERR_INVALID_ARG;
    return st->ops->get_request(st->be, id, out);
}

/* Looks a request up by its transactionID.  Returns 0 with *out set
 * (free with scep_request_info_free()), SCEP_ERR_NOT_FOUND, or
 * SCEP_ERR_STORE. */
int scep_store_get_request_by_transaction(struct scep_store *st, const char *transaction_id,
                                          struct scep_request_info **out)
{
    if (st == NULL || transaction_id == NULL || out == NULL)
        return SCEP_ERR_INVALID_ARG;
    return st->ops->get_request_by_transaction(st->be, transaction_id, out);
}

/*
 * Calls cb for each request with the given status (-1: any), oldest
 * first; the record is borrowed for the call.  Returns 0, the first
 * non-zero value cb returned, or SCEP_ERR_STORE.
 */
int scep_store_list_requests(struct scep_store *st, int status, scep_store_request_cb cb, void *arg)
{
    if (st == NULL || cb == NULL || (status != -1 && !valid_request_status(status)))
        return SCEP_ERR_INVALID_ARG;
    return st->ops->list_requests(st->be, status, cb, arg);
}

/*
 * Moves a PENDING request to status (SCEP_REQ_APPROVED or
 * SCEP_REQ_REJECTED), recording actor, reason (may be NULL) and the
 * time, and appends ev (may be NULL), in one transaction.  Returns 0,
 * SCEP_ERR_NOT_FOUND, SCEP_ERR_EXISTS when it is no longer pending, or
 * SCEP_ERR_STORE; nothing is written unless it returns 0.
 */
int scep_store_decide_request(struct scep_store *st, int64_t id, int status, const char *actor,
                              const char *reason, const struct scep_audit_event *ev)
{
    if (st == NULL || actor == NULL || (status != SCEP_REQ_APPROVED && status != SCEP_REQ_REJECTED))
        return SCEP_ERR_INVALID_ARG;
    if (ev != NULL && ev->kind == NULL)
        return SCEP_ERR_INVALID_ARG;
    return st->ops->decide_request(st->be, id, status, actor, reason, ev);
}

/*
 * Inserts ci (checked as scep_store_insert_cert() checks it) and marks
 * the APPROVED request id ISSUED with ci->serial, with ev (may be NULL)
 * appended, in one durable transaction.  Returns 0, SCEP_ERR_NOT_FOUND
 * for an unknown id, SCEP_ERR_INVALID_ARG when the request is not
 * APPROVED, SCEP_ERR_EXISTS for a duplicate serial,
 * SCEP_ERR_TRANSID_REUSE when the transactionID already has a
 * certificate, or SCEP_ERR_STORE; nothing is written unless it returns 0.
 */
int scep_store_issue_request(struct scep_store *st, int64_t id, const struct scep_cert_info *ci,
                             const struct scep_audit_event *ev)
{
    struct scep_cert_info c;
    char fp[FP_HEX];
    int rc;

    if (st == NULL || check_cert(ci) != 0)
        return SCEP_ERR_INVALID_ARG;
    if (ev != NULL && ev->kind == NULL)
        return SCEP_ERR_INVALID_ARG;
    if ((rc = with_fingerprint(ci, &c, fp)) != 0)
        return rc;
    return st->ops->issue_request(st->be, id, &c, ev);
}

/* Frees an owned request record and every string in it.  Accepts NULL. */
void scep_request_info_free(struct scep_request_info *ri)
{
    if (ri == NULL)
        return;
    free(ri->transaction_id);
    free(ri->subject);
    free(ri->sans);
    free(ri->pubkey_fp);
    free(ri->msg_type);
    free(ri->requester);
    free(ri->decided_by);
    free(ri->reason);
    free(ri->serial);
    free(ri->csr_der);
    free(ri->profile);
    free(ri);
}

/* 1 if s is 64 lowercase hex digits: the only form a challenge hash is
 * stored in, so that a lookup by hash cannot miss over letter case. */
static int valid_challenge_hash(const char *s)
{
    size_t i;

    if (s == NULL)
        return 0;
    for (i = 0; s[i] != '\0'; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    }
    return i == 64;
}

/*
 * Stores a new challenge with ev (may be NULL) in one transaction (see
 * store.h).  Returns 0 with *id_out (may be NULL) set,
 * SCEP_ERR_INVALID_ARG, SCEP_ERR_EXISTS for a known hash, or
 * SCEP_ERR_STORE.
 */
int scep_store_add_challenge(struct scep_store *st, const struct scep_challenge_info *ci,
                             const struct scep_audit_event *ev, int64_t *id_out)
{
    if (st == NULL || ci == NULL || !valid_challenge_hash(ci->hash) || ci->max_uses < 1 ||
        ci->expires_at <= 0)
        return SCEP_ERR_INVALID_ARG;
    if (ev != NULL && ev->kind == NULL)
        return SCEP_ERR_INVALID_ARG;
    return st->ops->add_challenge(st->be, ci, ev, id_out);
}

/* Looks a challenge up by hash.  Returns 0 with *out set (free with
 * scep_challenge_info_free()), SCEP_ERR_NOT_FOUND (also for a hash that
 * is not 64 lowercase hex digits: none is stored so), or SCEP_ERR_STORE. */
int scep_store_get_challenge_by_hash(struct scep_store *st, const char *hash,
                                     struct scep_challenge_info **out)
{
    if (st == NULL || hash == NULL || out == NULL)
        return SCEP_ERR_INVALID_ARG;
    if (!valid_challenge_hash(hash))
        return SCEP_ERR_NOT_FOUND;
    return st->ops->get_challenge(st->be, 0, hash, out);
}

/* Looks challenge id up.  Returns 0 with *out set (free with
 * scep_challenge_info_free()), SCEP_ERR_NOT_FOUND, or SCEP_ERR_STORE. */
int scep_store_get_challenge(struct scep_store *st, int64_t id, struct scep_challenge_info **out)
{
    if (st == NULL || out == NULL)
        return SCEP_ERR_INVALID_ARG;
    return st->ops->get_challenge(st->be, id, NULL, out);
}

/* Walks the challenges, oldest first, usable ones only unless
 * include_spent (see store.h); the record is borrowed for the call.
 * Returns 0, cb's first non-zero value, or SCEP_ERR_STORE. */
int scep_store_list_challenges(struct scep_store *st, int include_spent, scep_store_challenge_cb cb,
                               void *arg)
{
    if (st == NULL || cb == NULL)
        return SCEP_ERR_INVALID_ARG;
    return st->ops->list_challenges(st->be, include_spent != 0, (int64_t)time(NULL), cb, arg);
}

/* Revokes challenge id at at (0: now) with ev (may be NULL).  Returns 0,
 * SCEP_ERR_NOT_FOUND, SCEP_ERR_EXISTS when already revoked, or
 * SCEP_ERR_STORE; nothing is written unless it returns 0. */
int scep_store_revoke_challenge(struct scep_store *st, int64_t id, int64_t at,
                                const struct scep_audit_event *ev)
{
    if (st == NULL || at < 0)
        return SCEP_ERR_INVALID_ARG;
    if (ev != NULL && ev->kind == NULL)
        return SCEP_ERR_INVALID_ARG;
    return st->ops->revoke_challenge(st->be, id, at != 0 ? at : (int64_t)time(NULL), ev);
}

/* Deletes the challenges that can admit nothing any more at now (0: the
 * current time), with ev (may be NULL), in one transaction; *purged (may
 * be NULL) receives the count.  Returns 0 or SCEP_ERR_STORE. */
int scep_store_purge_challenges(struct scep_store *st, int64_t now, int64_t *purged,
                                const struct scep_audit_event *ev)
{
    int64_t n = 0;
    int rc;

    if (st == NULL || now < 0)
        return SCEP_ERR_INVALID_ARG;
    if (ev != NULL && ev->kind == NULL)
        return SCEP_ERR_INVALID_ARG;
    rc = st->ops->purge_challenges(st->be, now != 0 ? now : (int64_t)time(NULL), &n, ev);
    if (rc == 0 && purged != NULL)
        *purged = n;
    return rc;
}

/* The decided requests nothing waits for, decided before before
 * (store.h). */
int scep_store_purge_requests(struct scep_store *st, int64_t before, int64_t *purged,
                              const struct scep_audit_event *ev)
{
    int64_t n = 0;
    int rc;

    if (st == NULL || before < 0 || (ev != NULL && ev->kind == NULL))
        return SCEP_ERR_INVALID_ARG;
    rc = st->ops->purge_requests(st->be, before, &n, ev);
    if (rc == 0 && purged != NULL)
        *purged = n;
    return rc;
}

/* Frees an owned challenge record and every string in it.  Accepts NULL. */
void scep_challenge_info_free(struct scep_challenge_info *ci)
{
    if (ci == NULL)
        return;
    free(ci->hash);
    free(ci->profile);
    free(ci->subject);
    free(ci->sans);
    free(ci->created_by);
    free(ci);
}

/* Walks the certificates the expiry job watches; see store.h. */
int scep_store_list_expiring(struct scep_store *st, int64_t now, int64_t until,
                             scep_store_expiring_cb cb, void *arg)
{
    if (st == NULL || cb == NULL || now < 0 || until < now)
        return SCEP_ERR_INVALID_ARG;
    return st->ops->list_expiring(st->be, now, until, cb, arg);
}

/* Counts certificates by state; see store.h.  *out is set on success. */
int scep_store_count_certs(struct scep_store *st, int64_t now, int64_t within,
                           struct scep_cert_counts *out)
{
    struct scep_cert_counts c;
    int rc;

    if (st == NULL || out == NULL || now < 0 || within < 0)
        return SCEP_ERR_INVALID_ARG;
    memset(&c, 0, sizeof(c));
    rc = st->ops->count_certs(st->be, now, within, &c);
    if (rc == 0)
        *out = c;
    return rc;
}

/* 1 when k names a notice: a serial, a threshold >= 0 and a channel. */
static int notice_key_ok(const struct scep_notice_key *k)
{
    return k != NULL && k->serial != NULL && k->serial[0] != '\0' && k->threshold >= 0 &&
           k->channel != NULL && k->channel[0] != '\0';
}

/* Claims a notice; see store.h. */
int scep_store_notice_claim(struct scep_store *st, const struct scep_notice_key *k,
                            int64_t not_after, const char *claimer, int64_t now,
                            int64_t lease_until, int64_t *attempt)
{
    int64_t a = 0;
    int rc;

    if (st == NULL || !notice_key_ok(k) || claimer == NULL || claimer[0] == '\0' || now < 0 ||
        lease_until <= now)
        return SCEP_ERR_INVALID_ARG;
    rc = st->ops->notice_claim(st->be, k, not_after, claimer, now, lease_until, &a);
    if (rc == 0 && attempt != NULL)
        *attempt = a;
    return rc;
}

/* Records a claimed notice's outcome; see store.h. */
int scep_store_notice_finish(struct scep_store *st, const struct scep_notice_key *k,
                             const char *claimer, int64_t attempt, int sent, int64_t now,
                             int64_t next_attempt_at, const char *error)
{
    if (st == NULL || !notice_key_ok(k) || claimer == NULL || attempt < 1 || now < 0)
        return SCEP_ERR_INVALID_ARG;
    return st->ops->notice_finish(st->be, k, claimer, attempt, sent != 0, now,
                                  sent ? 0 : next_attempt_at, sent ? NULL : error);
}

/* Looks a notice up; see store.h. */
int scep_store_get_notice(struct scep_store *st, const struct scep_notice_key *k,
                          struct scep_notice_info **out)
{
    if (st == NULL || !notice_key_ok(k) || out == NULL)
        return SCEP_ERR_INVALID_ARG;
    return st->ops->get_notice(st->be, k, out);
}

/* Frees an owned notice record and every string in it.  Accepts NULL. */
void scep_notice_info_free(struct scep_notice_info *ni)
{
    if (ni == NULL)
        return;
    free(ni->serial);
    free(ni->channel);
    free(ni->claimed_by);
    free(ni->last_error);
    free(ni);
}

/* The longest token name the store takes; lib/admin/tokens.c keeps to a
 * narrower rule of its own. */
#define STORE_TOKEN_NAME_MAX 128

/*
 * Stores a new token with ev (may be NULL) in one transaction (see
 * store.h).  Returns 0 with *id_out (may be NULL) set,
 * SCEP_ERR_INVALID_ARG, SCEP_ERR_EXISTS for a known name or hash, or
 * SCEP_ERR_STORE.
 */
int scep_store_add_token(struct scep_store *st, const struct scep_token_info *ti,
                         const struct scep_audit_event *ev, int64_t *id_out)
{
    if (st == NULL || ti == NULL || ti->name == NULL || ti->name[0] == '\0' ||
        strlen(ti->name) > STORE_TOKEN_NAME_MAX || ti->role == NULL ||
        !valid_challenge_hash(ti->hash) || ti->expires_at < 0)
        return SCEP_ERR_INVALID_ARG;
    if (ev != NULL && ev->kind == NULL)
        return SCEP_ERR_INVALID_ARG;
    return st->ops->add_token(st->be, ti, ev, id_out);
}

/* Looks a token up by hash (64 lowercase hex digits: the only form one
 * is stored in).  Returns 0 with *out set (free with
 * scep_token_info_free()), SCEP_ERR_NOT_FOUND or SCEP_ERR_STORE. */
int scep_store_get_token_by_hash(struct scep_store *st, const char *hash,
                                 struct scep_token_info **out)
{
    if (st == NULL || hash == NULL || out == NULL)
        return SCEP_ERR_INVALID_ARG;
    if (!valid_challenge_hash(hash))
        return SCEP_ERR_NOT_FOUND;
    return st->ops->get_token(st->be, hash, NULL, out);
}

/* Looks a token up by name.  Returns 0 with *out set (free with
 * scep_token_info_free()), SCEP_ERR_NOT_FOUND or SCEP_ERR_STORE. */
int scep_store_get_token_by_name(struct scep_store *st, const char *name,
                                 struct scep_token_info **out)
{
    if (st == NULL || name == NULL || out == NULL)
        return SCEP_ERR_INVALID_ARG;
    return st->ops->get_token(st->be, NULL, name, out);
}

/* Walks every token, oldest first; the record is borrowed for the call.
 * Returns 0, cb's first non-zero value, or SCEP_ERR_STORE. */
int scep_store_list_tokens(struct scep_store *st, scep_store_token_cb cb, void *arg)
{
    if (st == NULL || cb == NULL)
        return SCEP_ERR_INVALID_ARG;
    return st->ops->list_tokens(st->be, cb, arg);
}

/* Revokes the token called name at at (0: now) with ev (may be NULL).
 * Returns 0, SCEP_ERR_NOT_FOUND, SCEP_ERR_EXISTS when already revoked,
 * or SCEP_ERR_STORE; nothing is written unless it returns 0. */
int scep_store_revoke_token(struct scep_store *st, const char *name, int64_t at,
                            const struct scep_audit_event *ev)
{
    if (st == NULL || name == NULL || at < 0)
        return SCEP_ERR_INVALID_ARG;
    if (ev != NULL && ev->kind == NULL)
        return SCEP_ERR_INVALID_ARG;
    return st->ops->revoke_token(st->be, name, at != 0 ? at : (int64_t)time(NULL), ev);
}

/* Moves token id's last_used_at forward to at.  Returns 0,
 * SCEP_ERR_NOT_FOUND or SCEP_ERR_STORE. */
int scep_store_touch_token(struct scep_store *st, int64_t id, int64_t at)
{
    if (st == NULL || id <= 0 || at <= 0)
        return SCEP_ERR_INVALID_ARG;
    return st->ops->touch_token(st->be, id, at);
}

/* Frees an owned token record and every string in it.  Accepts NULL. */
void scep_token_info_free(struct scep_token_info *ti)
{
    if (ti == NULL)
        return;
    free(ti->name);
    free(ti->role);
    free(ti->hash);
    free(ti->created_by);
    free(ti);
}

/* Counts certificates by (source, profile); see store.h. */
int scep_store_count_certs_by_group(struct scep_store *st, int64_t now, scep_store_group_cb cb,
                                    void *arg)
{
    if (st == NULL || cb == NULL || now < 0)
        return SCEP_ERR_INVALID_ARG;
    return st->ops->count_certs_by_group(st->be, now, cb, arg);
}

/* A histogram of issuance or expiry times; see store.h.  The buckets are
 * filled in a copy, so that counts is untouched on failure. */
int scep_store_cert_histogram(struct scep_store *st, int what, int64_t start, int64_t width,
                              size_t n, int64_t *counts)
{
    int64_t *c;
    int rc;

    if (st == NULL || counts == NULL || (what != SCEP_HIST_ISSUED && what != SCEP_HIST_EXPIRY) ||
        start < 0 || width < 1 || n < 1 || n > SCEP_HIST_MAX_BUCKETS ||
        width > (INT64_MAX - start) / (int64_t)n)
        return SCEP_ERR_INVALID_ARG;
    c = calloc(n, sizeof(*c));
    if (c == NULL)
        return SCEP_ERR_NOMEM;
    rc = st->ops->cert_histogram(st->be, what, start, width, n, c);
    if (rc == 0)
        memcpy(counts, c, n * sizeof(*c));
    free(c);
    return rc;
}
