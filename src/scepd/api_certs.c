/*
 * The admin API's certificate routes: the inventory in pages with the
 * store's filters, one certificate with its PEM and chain, revocation,
 * and the CA certificates.  Records come from lib/admin and go out as
 * JSON; nothing here decides what a status or a revocation means.
 *
 * A filter of GET /api/v1/certificates is one line in api_certs_query[]
 * with its apply function: it parses the value into struct cert_query
 * (the store's struct scep_cert_filter and the cursor), and the OpenAPI
 * document lists it from the same line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <scep/error.h>

#include "api.h"
#include "ca/ca.h"
#include "request.h"
#include "gauges.h"
#include "scepd.h"
#include "admin/certinfo.h"
#include "service/service.h"

/* What the query of GET /api/v1/certificates says. */
struct cert_query {
    const struct scep_ca *ca;
    struct scep_cert_filter f;
    char issuer_fp[65];
    char subject[SCEP_API_MAX_PARAM + 1];
    char san[SCEP_API_MAX_PARAM + 1];
    char profile[SCEP_API_MAX_PARAM + 1];
    struct scep_admin_cert_cursor cursor;
    int has_cursor;
    int cursor_expiry; /* the cursor came from a sort=expiry page */
    int64_t limit;
};

/* Parses a duration: seconds, or a number with s, m, h or d; 1 s to
 * 100 years.  Returns 0 or -1. */
static int parse_duration(const char *v, int64_t *out)
{
    char *end = NULL;
    long long n;
    int64_t unit = 1;

    if (v[0] < '0' || v[0] > '9')
        return -1;
    n = strtoll(v, &end, 10);
    if (end == v || n <= 0 || n > 3650000000LL)
        return -1;
    if (*end == 's' || *end == 'm' || *end == 'h' || *end == 'd') {
        unit = *end == 's' ? 1 : *end == 'm' ? 60 : *end == 'h' ? 3600 : 86400;
        end++;
    }
    if (*end != '\0' || n > 3153600000LL / unit)
        return -1;
    *out = (int64_t)n * unit;
    return 0;
}

/* Parses a decimal integer in [min, max].  Returns 0 or -1. */
static int parse_int(const char *v, int64_t min, int64_t max, int64_t *out)
{
    char *end = NULL;
    long long n;

    if (v[0] == '\0' || ((v[0] < '0' || v[0] > '9') && v[0] != '-'))
        return -1;
    n = strtoll(v, &end, 10);
    if (*end != '\0' || n < min || n > max)
        return -1;
    *out = (int64_t)n;
    return 0;
}

static int q_status(const char *v, void *t, char *why, size_t whylen)
{
    struct cert_query *q = t;

    if (strcmp(v, "valid") == 0) {
        q->f.status = SCEP_CERT_VALID;
        q->f.include_expired = 0;
    } else if (strcmp(v, "revoked") == 0) {
        q->f.status = SCEP_CERT_REVOKED;
    } else if (strcmp(v, "any") != 0) {
        snprintf(why, whylen, "status: expected valid, revoked or any");
        return -1;
    }
    return 0;
}

static int q_expiring(const char *v, void *t, char *why, size_t whylen)
{
    struct cert_query *q = t;
    int64_t s = 0;

    if (parse_duration(v, &s) != 0 || s > 0x7fffffff) {
        snprintf(why, whylen, "expiring: expected a duration such as 30d, 12h or seconds");
        return -1;
    }
    q->f.expiring_within = (int)s;
    q->f.include_expired = 0;
    return 0;
}

static int q_include_expired(const char *v, void *t, char *why, size_t whylen)
{
    struct cert_query *q = t;

    if (api_parse_bool(v, &q->f.include_expired) != 0) {
        snprintf(why, whylen, "include_expired: expected true or false");
        return -1;
    }
    return 0;
}

static int q_subject(const char *v, void *t, char *why, size_t whylen)
{
    struct cert_query *q = t;

    (void)why;
    (void)whylen;
    snprintf(q->subject, sizeof(q->subject), "%s", v);
    q->f.subject_like = q->subject;
    return 0;
}

static int q_san(const char *v, void *t, char *why, size_t whylen)
{
    struct cert_query *q = t;

    (void)why;
    (void)whylen;
    snprintf(q->san, sizeof(q->san), "%s", v);
    q->f.san_like = q->san;
    return 0;
}

/* profile: exactly this profile's certificates; "default" (or empty)
 * names the default profile, which the store keeps as "". */
static int q_profile(const char *v, void *t, char *why, size_t whylen)
{
    struct cert_query *q = t;

    (void)why;
    (void)whylen;
    snprintf(q->profile, sizeof(q->profile), "%s", strcmp(v, "default") == 0 ? "" : v);
    q->f.profile = q->profile;
    return 0;
}

/* issuer: a CA as scep_ca_find_issuer names it ("current", "previous",
 * a fingerprint or key id prefix of 8 hex digits or more). */
static int q_issuer(const char *v, void *t, char *why, size_t whylen)
{
    struct cert_query *q = t;
    X509 *issuer = NULL;

    if (scep_ca_find_issuer(q->ca, v, &issuer) != 0 ||
        scep_cert_fingerprint(issuer, q->issuer_fp) != 0) {
        snprintf(why, whylen, "issuer: no single CA of this server is called %s", v);
        return -1;
    }
    q->f.issuer_fp = q->issuer_fp;
    return 0;
}

/* cursor: "KEY.SERIAL" (newest first) or "eKEY.SERIAL" (sort=expiry),
 * as next_cursor gave it; checked against sort once all are read. */
static int q_cursor(const char *v, void *t, char *why, size_t whylen)
{
    struct cert_query *q = t;
    const char *dot;
    char num[24];
    int64_t at = 0;

    q->cursor_expiry = v[0] == 'e';
    if (q->cursor_expiry)
        v++;
    dot = strchr(v, '.');
    if (dot == NULL || (size_t)(dot - v) >= sizeof(num))
        goto bad;
    memcpy(num, v, (size_t)(dot - v));
    num[dot - v] = '\0';
    if (parse_int(num, 0, INT64_MAX, &at) != 0 ||
        scep_admin_normalize_serial(dot + 1, q->cursor.serial, sizeof(q->cursor.serial)) != 0)
        goto bad;
    q->cursor.key = at;
    q->has_cursor = 1;
    return 0;
bad:
    snprintf(why, whylen, "cursor: not a cursor this server gave (next_cursor)");
    return -1;
}

/* sort: issued (newest first, the default) or expiry (soonest to expire
 * first); the store pages either through an index. */
static int q_sort(const char *v, void *t, char *why, size_t whylen)
{
    struct cert_query *q = t;

    if (strcmp(v, "issued") == 0)
        q->f.order = SCEP_CERT_ORDER_ISSUED;
    else if (strcmp(v, "expiry") == 0)
        q->f.order = SCEP_CERT_ORDER_EXPIRY;
    else {
        snprintf(why, whylen, "sort: expected issued or expiry");
        return -1;
    }
    return 0;
}

static int q_limit(const char *v, void *t, char *why, size_t whylen)
{
    struct cert_query *q = t;

    if (parse_int(v, 1, SCEP_API_MAX_LIMIT, &q->limit) != 0) {
        snprintf(why, whylen, "limit: expected 1 to %d", SCEP_API_MAX_LIMIT);
        return -1;
    }
    return 0;
}

/* The filters of GET /api/v1/certificates, one line each. */
const struct api_qparam api_certs_query[] = {
    {"status", "string", "valid (not revoked, not expired), revoked, or any (default)", q_status},
    {"expiring", "string", "only valid ones expiring within this duration (30d, 12h, seconds)",
     q_expiring},
    {"include_expired", "boolean", "list certificates past notAfter too (default true)",
     q_include_expired},
    {"subject", "string", "a substring of the subject (RFC 2253 text)", q_subject},
    {"san", "string", "a substring of the subjectAltNames (\"DNS:host\", \"IP:192.0.2.1\")", q_san},
    {"profile", "string", "only this enrollment profile (default: the default profile)", q_profile},
    {"issuer", "string", "a CA: current, previous, or a fingerprint or key id prefix", q_issuer},
    {"sort", "string", "issued (newest first, default) or expiry (soonest to expire first)",
     q_sort},
    {"cursor", "string", "the next_cursor of the page before (with the same sort)", q_cursor},
    {"limit", "integer", "items per page, 1 to 1000 (default 100)", q_limit},
    {NULL, NULL, NULL, NULL},
};

/* A certificate record as JSON (no DER).  New reference; NULL on ENOMEM. */
static json_t *cert_json(const struct scep_cert_info *ci, int64_t now)
{
    const char *reason =
        ci->status == SCEP_CERT_REVOKED ? scep_crl_reason_name(ci->revocation_reason) : NULL;
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    if (json_object_set_new(o, "serial", api_json_str(ci->serial)) != 0 ||
        json_object_set_new(o, "status", json_string(scep_admin_cert_status(ci, now))) != 0 ||
        json_object_set_new(o, "subject", api_json_str(ci->subject)) != 0 ||
        json_object_set_new(o, "sans", api_json_sans(ci->sans)) != 0 ||
        json_object_set_new(o, "issuer_fingerprint", api_json_str(ci->issuer_fp)) != 0 ||
        json_object_set_new(o, "not_before", api_json_time(ci->not_before)) != 0 ||
        json_object_set_new(o, "not_after", api_json_time(ci->not_after)) != 0 ||
        json_object_set_new(o, "issued_at", api_json_time(ci->issued_at)) != 0 ||
        json_object_set_new(o, "revoked_at", api_json_time(ci->revoked_at)) != 0 ||
        json_object_set_new(o, "revocation_reason", api_json_str(reason)) != 0 ||
        json_object_set_new(o, "transaction_id", api_json_str(ci->transaction_id)) != 0 ||
        json_object_set_new(o, "requester", api_json_str(ci->requester)) != 0 ||
        json_object_set_new(o, "msg_type", api_json_str(ci->msg_type)) != 0 ||
        json_object_set_new(o, "pubkey_fingerprint", api_json_str(ci->pubkey_fp)) != 0 ||
        json_object_set_new(o, "renewed_serial", api_json_str(ci->renewed_serial)) != 0 ||
        json_object_set_new(o, "profile", api_json_str(ci->profile)) != 0 ||
        json_object_set_new(o, "source", api_json_str(ci->source)) != 0 ||
        json_object_set_new(o, "challenge_id",
                            ci->challenge_id > 0 ? json_integer((json_int_t)ci->challenge_id)
                                                 : json_null()) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

struct list_walk {
    json_t *items;
    int64_t now;
    struct scep_admin_cert_cursor last;
    int expiry;
};

static int list_one(const struct scep_cert_info *ci, void *arg)
{
    struct list_walk *w = arg;
    json_t *o = cert_json(ci, w->now);

    if (o == NULL || json_array_append_new(w->items, o) != 0)
        return SCEP_ERR_NOMEM;
    w->last.key = w->expiry ? ci->not_after : ci->issued_at;
    snprintf(w->last.serial, sizeof(w->last.serial), "%s", ci->serial != NULL ? ci->serial : "");
    return 0;
}

void api_certs_list(struct api_ctx *c)
{
    struct cert_query q;
    struct list_walk w;
    json_t *o = NULL;
    int more = 0, rc;

    memset(&q, 0, sizeof(q));
    q.ca = scep_service_get0_ca(c->app->svc);
    q.f.status = -1;
    q.f.include_expired = 1;
    q.limit = SCEP_API_DEFAULT_LIMIT;
    if (api_query_apply(c, &q) != 0)
        return;
    if (q.has_cursor && q.cursor_expiry != (q.f.order == SCEP_CERT_ORDER_EXPIRY)) {
        api_problem(c, 400, "invalid-query", "Cursor of another sort",
                    "cursor: it belongs to a listing with another sort", "cursor");
        return;
    }
    memset(&w, 0, sizeof(w));
    w.now = (int64_t)time(NULL);
    w.expiry = q.f.order == SCEP_CERT_ORDER_EXPIRY;
    w.items = json_array();
    if (w.items == NULL) {
        api_problem(c, 500, "internal", "Out of memory", NULL, NULL);
        return;
    }
    rc = scep_admin_list_certs_page(c->app->store, &q.f, q.has_cursor ? &q.cursor : NULL, q.limit,
                                    list_one, &w, &more);
    if (rc != 0) {
        json_decref(w.items);
        api_problem_store(c, rc, "listing certificates");
        return;
    }
    o = json_pack("{s:o}", "items", w.items);
    if (o != NULL && more) {
        char cur[24 + SCEP_ADMIN_SERIAL_MAX];

        snprintf(cur, sizeof(cur), "%s%lld.%s", w.expiry ? "e" : "", (long long)w.last.key,
                 w.last.serial);
        json_object_set_new(o, "next_cursor", json_string(cur));
    } else if (o != NULL) {
        json_object_set_new(o, "next_cursor", json_null());
    }
    api_send_json(c, 200, o);
}

/* PEM of the len bytes of DER at der (a certificate), as a JSON string;
 * NULL when it does not decode.  New reference. */
static json_t *pem_of_der(const unsigned char *der, size_t len)
{
    const unsigned char *p = der;
    X509 *x = len > 0 && len < 0x7fffffff ? d2i_X509(NULL, &p, (long)len) : NULL;
    json_t *s = NULL;

    /* Stored DER was written by this CA; trailing bytes would still mean
     * a record not to hand out as a certificate. */
    if (x != NULL && p == der + len) {
        BIO *b = BIO_new(BIO_s_mem());
        char *data = NULL;
        long n;

        if (b != NULL && PEM_write_bio_X509(b, x) && (n = BIO_get_mem_data(b, &data)) > 0)
            s = json_stringn(data, (size_t)n);
        BIO_free(b);
    }
    X509_free(x);
    return s;
}

/* PEM of a certificate we hold as X509.  New reference or NULL. */
static json_t *pem_of(X509 *x)
{
    unsigned char *der = NULL;
    int n = i2d_X509(x, &der);
    json_t *s = n > 0 ? pem_of_der(der, (size_t)n) : NULL;

    OPENSSL_free(der);
    return s;
}

/* The {serial} of the path, looked up; replies 400/404 itself.  *out:
 * scep_cert_info_free(). */
static int cert_of_path(struct api_ctx *c, struct scep_cert_info **out)
{
    int rc = scep_admin_get_cert(c->app->store, c->params[0], out);

    if (rc == SCEP_ERR_INVALID_ARG) {
        api_problem(c, 400, "invalid-field", "Not a serial number",
                    "serial: hex digits, colons allowed", "serial");
        return -1;
    }
    if (rc == SCEP_ERR_NOT_FOUND) {
        api_problem(c, 404, "not-found", "No certificate with that serial", c->params[0], NULL);
        return -1;
    }
    if (rc != 0) {
        api_problem_store(c, rc, "looking the certificate up");
        return -1;
    }
    return 0;
}

/* One audit event of the certificate, appended to the array (arg). */
static int event_one(const struct scep_audit_event *ev, void *arg)
{
    json_t *o = json_pack("{s:I, s:o, s:o, s:o, s:o, s:o}", "id", (json_int_t)ev->id, "time",
                          api_json_time(ev->time), "kind", api_json_str(ev->kind), "actor",
                          api_json_str(ev->actor), "peer", api_json_str(ev->peer), "detail",
                          api_json_str(ev->detail));

    return o != NULL && json_array_append_new(arg, o) == 0 ? 0 : SCEP_ERR_NOMEM;
}

void api_cert_get(struct api_ctx *c)
{
    struct scep_cert_info *ci = NULL;
    const struct scep_ca *ca = scep_service_get0_ca(c->app->svc);
    X509 *issuer = NULL;
    json_t *o, *chain;

    if (cert_of_path(c, &ci) != 0)
        return;
    o = cert_json(ci, (int64_t)time(NULL));
    chain = json_array();
    /* The chain a client needs: the CA that issued it (current or
     * archived), found by the fingerprint the record keeps. */
    if (ci->issuer_fp != NULL && scep_ca_find_by_fingerprint(ca, ci->issuer_fp, &issuer) == 0 &&
        chain != NULL)
        json_array_append_new(chain, pem_of(issuer));
    if (o == NULL || chain == NULL ||
        json_object_set_new(o, "pem", pem_of_der(ci->der, ci->der_len)) != 0 ||
        json_object_set_new(o, "chain", chain) != 0) {
        json_decref(o);
        o = NULL;
    }
    if (o != NULL) {
        json_t *events = json_array();
        int rc = events != NULL
                     ? scep_admin_cert_events(c->app->store, ci->serial, event_one, events)
                     : SCEP_ERR_NOMEM;

        if (rc != 0) {
            json_decref(events);
            json_decref(o);
            scep_cert_info_free(ci);
            api_problem_store(c, rc, "reading the certificate's audit events");
            return;
        }
        json_object_set_new(o, "events", events);
    }
    scep_cert_info_free(ci);
    api_send_json(c, 200, o);
}

void api_cert_revoke(struct api_ctx *c)
{
    static const char *const keys[] = {"reason", NULL};
    struct scep_cert_info *ci = NULL;
    json_t *body = NULL, *jr;
    const char *bad;
    char detail[256];
    int reason = -1, rc;

    if (api_body(c, 1, &body) != 0)
        return;
    if ((bad = api_body_unknown_key(body, keys)) != NULL) {
        api_problem(c, 400, "invalid-field", "Unknown field", bad, bad);
        goto out;
    }
    jr = json_object_get(body, "reason");
    if (jr != NULL && !json_is_null(jr)) {
        if (!json_is_string(jr) || (reason = scep_crl_reason_code(json_string_value(jr))) < -1) {
            snprintf(detail, sizeof(detail), "reason: one of %s", scep_crl_reason_list());
            api_problem(c, 400, "invalid-field", "Not a CRLReason an administrator may give",
                        detail, "reason");
            goto out;
        }
    }
    rc = scep_admin_revoke(c->app->store, c->who.actor, c->params[0], reason, (int64_t)time(NULL),
                           &ci);
    if (rc == SCEP_ERR_INVALID_ARG) {
        api_problem(c, 400, "invalid-field", "Not a serial number",
                    "serial: hex digits, colons allowed", "serial");
        goto out;
    }
    if (rc == SCEP_ERR_NOT_FOUND) {
        api_problem(c, 404, "not-found", "No certificate with that serial", c->params[0], NULL);
        goto out;
    }
    if (rc == SCEP_ERR_EXISTS) {
        api_problem(c, 409, "already-revoked", "The certificate is already revoked",
                    "nothing changed", NULL);
        goto out;
    }
    if (rc == SCEP_ERR_POLICY) {
        api_problem(c, 409, "not-revocable", "The certificate is not this CA's to revoke",
                    "an imported (external) certificate is only watched for expiry", NULL);
        goto out;
    }
    if (rc != 0) {
        api_problem_store(c, rc, "revoking");
        goto out;
    }
    api_send_json(c, 200, cert_json(ci, (int64_t)time(NULL)));
out:
    scep_cert_info_free(ci);
    json_decref(body);
}

/* Unix time of an ASN1_TIME, 0 when it does not convert. */
static int64_t asn1_unix(const ASN1_TIME *t)
{
    struct tm tm;

    if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
        return 0;
    return (int64_t)timegm(&tm);
}

/* One CA certificate as JSON, with the nextUpdate of the CRL the
 * publisher last wrote for it (g may be NULL; null when none is known).
 * New reference; NULL on ENOMEM. */
static json_t *ca_json(X509 *x, struct scepd_gauges *g)
{
    char fp[65] = "", kid[128] = "";
    char *subject = NULL;
    json_t *o;

    if (scep_cert_fingerprint(x, fp) != 0)
        fp[0] = '\0';
    if (scep_ca_key_id_hex(x, kid, sizeof(kid)) != 0)
        kid[0] = '\0';
    (void)scep_name_rfc2253(X509_get_subject_name(x), &subject);
    o = json_pack("{s:o, s:s, s:s, s:o, s:o, s:o}", "subject", api_json_str(subject), "key_id", kid,
                  "fingerprint", fp, "not_before", api_json_time(asn1_unix(X509_get0_notBefore(x))),
                  "not_after", api_json_time(asn1_unix(X509_get0_notAfter(x))), "pem", pem_of(x));
    free(subject);
    if (o != NULL) {
        int64_t next = 0;

        json_object_set_new(o, "crl_next_update",
                            kid[0] != '\0' && scepd_gauges_crl_next_update(g, kid, &next) == 0
                                ? api_json_time(next)
                                : json_null());
    }
    return o;
}

void api_cas(struct api_ctx *c)
{
    const struct scep_config *cfg = c->app->srv->cfg;
    struct scepd_gauges *g = c->app->srv->gauges;
    const struct scep_ca *ca = scep_service_get0_ca(c->app->svc);
    X509 *next = scep_ca_get0_next_cert(ca);
    json_t *o, *arch = json_array(), *n = NULL;
    int i;

    for (i = 0; arch != NULL && i < scep_ca_archive_count(ca); i++)
        json_array_append_new(arch, ca_json(scep_ca_get0_archived(ca, i), g));
    if (next != NULL) {
        n = ca_json(next, g);
        if (n != NULL)
            json_object_set_new(n, "activate_at",
                                api_json_time((int64_t)scep_ca_next_activate_at(ca)));
    }
    /* Where the default profile's certificates point relying parties:
     * its configured URLs, or scepd's own /crl and /ocsp derived from
     * public_url (null: none, relying parties are not told). */
    o = json_pack(
        "{s:o, s:o, s:o, s:{s:o, s:i}, s:{s:o, s:i}}", "current", ca_json(scep_ca_get0_cert(ca), g),
        "next", n != NULL ? n : json_null(), "archived", arch, "crl", "url",
        api_json_str(cfg->enroll.crl_url != NULL ? cfg->enroll.crl_url : cfg->auto_crl_base),
        "validity_hours", cfg->crl_validity_hours, "ocsp", "url",
        api_json_str(cfg->enroll.ocsp_url != NULL ? cfg->enroll.ocsp_url : cfg->auto_ocsp_url),
        "validity_minutes", cfg->ocsp_validity_minutes);
    api_send_json(c, 200, o);
}
