/*
 * The admin API's front door (api.h): the table of routes, matching a
 * request against it, authentication and roles, the failed-
 * authentication limit, problem replies, security headers, and the
 * small routes of its own (/healthz, /metrics when metrics_listen =
 * admin, /api/v1/openapi.json, /api/v1/me); the web console's files
 * (console.c) are served before any of it.  The operations are in
 * api_certs.c, api_ops.c and api_tokens.c; everything they change goes
 * through lib/admin.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/x509.h>

#include <scep/error.h>

#include "api.h"
#include "console.h"
#include "limits.h"
#include "request.h"
#include "route.h"
#include "scepd.h"

static api_fn api_healthz, api_metrics, api_openapi_get, api_me;

/* /metrics is the admin listener's only with metrics_listen = admin. */
static int api_metrics_here(const struct scep_config *cfg)
{
    return cfg->metrics_listen != NULL && strcmp(cfg->metrics_listen, "admin") == 0;
}

/*
 * Every route the admin listener serves, tried in order; the OpenAPI
 * document is made from this table (api_openapi.c).  An endpoint is one
 * line here and its handler.  role 0 needs no credential.
 */
const struct api_route api_routes[] = {
    {SCEPD_M_GET, "/healthz", 0, api_healthz, "getHealth",
     "Liveness: 200 while this worker's store answers", NULL, NULL, 200, "503", NULL},
    {SCEPD_M_GET, "/metrics", SCEP_ROLE_AUDITOR, api_metrics, "getMetrics",
     "Prometheus text of scepd's counters (metrics_listen = admin)", NULL, NULL, 200, "",
     api_metrics_here},
    {SCEPD_M_GET, "/api/v1/openapi.json", SCEP_ROLE_AUDITOR, api_openapi_get, "getOpenApi",
     "This document", NULL, NULL, 200, "", NULL},
    {SCEPD_M_GET, "/api/v1/me", SCEP_ROLE_AUDITOR, api_me, "getMe",
     "Who the credential authenticates as, and its role", NULL, NULL, 200, "", NULL},
    {SCEPD_M_GET, "/api/v1/certificates", SCEP_ROLE_AUDITOR, api_certs_list, "listCertificates",
     "Issued certificates, newest first, in pages", api_certs_query, NULL, 200, "400", NULL},
    {SCEPD_M_POST, "/api/v1/certificates/import", SCEP_ROLE_OPERATOR, api_cert_import,
     "importCertificates", "Add certificates issued elsewhere to the inventory (PEM or DER body)",
     NULL, "PemCertificates", 200, "400,413,415", NULL},
    {SCEPD_M_GET, "/api/v1/certificates/{serial}", SCEP_ROLE_AUDITOR, api_cert_get,
     "getCertificate", "One certificate with its PEM, chain and audit events", NULL, NULL, 200,
     "400,404", NULL},
    {SCEPD_M_POST, "/api/v1/certificates/{serial}/revoke", SCEP_ROLE_OPERATOR, api_cert_revoke,
     "revokeCertificate", "Revoke a certificate (CRLReason by name)", NULL, "RevokeRequest", 200,
     "400,404,409,413", NULL},
    {SCEPD_M_GET, "/api/v1/cas", SCEP_ROLE_AUDITOR, api_cas, "listCas",
     "The CA certificates (current, next, archived) with their CRLs' nextUpdate; CRL/OCSP URLs",
     NULL, NULL, 200, "", NULL},
    {SCEPD_M_GET, "/api/v1/stats", SCEP_ROLE_AUDITOR, api_stats, "getStats",
     "Certificates by state and profile, issued per day (30), expiring per week (52)", NULL, NULL,
     200, "", NULL},
    {SCEPD_M_POST, "/api/v1/challenges", SCEP_ROLE_OPERATOR, api_chal_new, "createChallenge",
     "Mint a one-time enrollment challenge (shown once)", NULL, "ChallengeRequest", 201, "400,413",
     NULL},
    {SCEPD_M_GET, "/api/v1/challenges", SCEP_ROLE_AUDITOR, api_chal_list, "listChallenges",
     "One-time challenges (never their text)", api_chal_query, NULL, 200, "400", NULL},
    {SCEPD_M_DELETE, "/api/v1/challenges/{id}", SCEP_ROLE_OPERATOR, api_chal_revoke,
     "revokeChallenge", "Revoke a challenge: it admits nothing from now on", NULL, NULL, 200,
     "400,404,409", NULL},
    {SCEPD_M_GET, "/api/v1/requests", SCEP_ROLE_AUDITOR, api_req_list, "listRequests",
     "Enrollment requests held for approval, oldest first", api_req_query, NULL, 200, "400", NULL},
    {SCEPD_M_POST, "/api/v1/requests/{id}/approve", SCEP_ROLE_OPERATOR, api_req_approve,
     "approveRequest", "Approve a pending request; scepd issues at the client's next poll", NULL,
     NULL, 200, "400,404,409,413", NULL},
    {SCEPD_M_POST, "/api/v1/requests/{id}/reject", SCEP_ROLE_OPERATOR, api_req_reject,
     "rejectRequest", "Reject a pending request", NULL, "RejectRequest", 200, "400,404,409,413",
     NULL},
    {SCEPD_M_GET, "/api/v1/audit", SCEP_ROLE_AUDITOR, api_audit_list, "listAudit",
     "Audit events after an id, oldest first", api_audit_query, NULL, 200, "400", NULL},
    {SCEPD_M_GET, "/api/v1/audit/verify", SCEP_ROLE_AUDITOR, api_audit_verify, "verifyAudit",
     "Recompute the audit hash chain", NULL, NULL, 200, "", NULL},
    {SCEPD_M_GET, "/api/v1/tokens", SCEP_ROLE_ADMIN, api_token_list, "listTokens",
     "API tokens (never the token or its hash)", NULL, NULL, 200, "", NULL},
    {SCEPD_M_POST, "/api/v1/tokens", SCEP_ROLE_ADMIN, api_token_new, "createToken",
     "Mint an API token (shown once)", NULL, "TokenRequest", 201, "400,409,413", NULL},
    {SCEPD_M_DELETE, "/api/v1/tokens/{name}", SCEP_ROLE_ADMIN, api_token_revoke, "revokeToken",
     "Revoke an API token", NULL, NULL, 200, "404,409", NULL},
};
const size_t api_nroutes = sizeof(api_routes) / sizeof(api_routes[0]);

/* ---- replies ------------------------------------------------------- */

/* The headers every admin reply carries: nothing is cached, sniffed or
 * framed, and a browser loads nothing on the strength of an answer. */
static void api_security_headers(struct scepd_request *req)
{
    (void)scepd_reply_header(req, "Cache-Control", "no-store");
    (void)scepd_reply_header(req, "X-Content-Type-Options", "nosniff");
    (void)scepd_reply_header(req, "X-Frame-Options", "DENY");
    (void)scepd_reply_header(req, "Content-Security-Policy",
                             "default-src 'none'; "
                             "frame-ancestors 'none'");
    (void)scepd_reply_header(req, "Referrer-Policy", "no-referrer");
}

/* Sends the JSON text of o with content_type; steals o. */
static void api_send(struct scepd_request *req, int status, const char *content_type, json_t *o)
{
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;

    json_decref(o);
    if (text == NULL) {
        scepd_reply_refuse(req, 500, "out of memory");
        return;
    }
    scepd_reply_send(req, status, content_type, text, strlen(text));
    free(text);
}

void api_send_json(struct api_ctx *c, int status, json_t *o)
{
    api_send(c->req, status, "application/json", o);
}

/* Sends a problem (RFC 9457) for req; see api_problem(). */
static void api_problem_req(struct scepd_request *req, int status, const char *slug,
                            const char *title, const char *detail, const char *field)
{
    char type[96];
    const char *path;
    size_t plen = 0;
    json_t *o;

    snprintf(type, sizeof(type), "%s%s", API_PROBLEM_PREFIX, slug);
    path = scepd_request_path(req, &plen);
    o = json_pack("{s:s, s:s, s:i, s:s%}", "type", type, "title", title, "status", status,
                  "instance", path != NULL ? path : "", plen);
    if (o != NULL && detail != NULL)
        json_object_set_new(o, "detail", json_string(detail));
    if (o != NULL && field != NULL)
        json_object_set_new(o, "field", json_string(field));
    /* The log line shows the problem too (outcome=error, reason=...). */
    if (status >= 400) {
        char reason[256];

        snprintf(reason, sizeof(reason), "%s%s%s", title, detail != NULL ? ": " : "",
                 detail != NULL ? detail : "");
        scepd_request_note_refusal(req, reason);
    }
    api_send(req, status, "application/problem+json", o);
}

void api_problem(struct api_ctx *c, int status, const char *slug, const char *title,
                 const char *detail, const char *field)
{
    api_problem_req(c->req, status, slug, title, detail, field);
}

void api_problem_store(struct api_ctx *c, int rc, const char *what)
{
    char detail[384];

    snprintf(detail, sizeof(detail), "%s: %s (%s)", what, scep_strerror(rc),
             scep_store_last_error(c->app->store));
    if (rc == SCEP_ERR_UNAVAILABLE) {
        (void)scepd_reply_header(c->req, "Retry-After", "5");
        api_problem(c, 503, "store-unavailable", "The certificate store cannot be reached", detail,
                    NULL);
        return;
    }
    api_problem(c, 500, "internal", "Internal error", detail, NULL);
}

json_t *api_json_time(int64_t t)
{
    char buf[32];
    time_t tt = (time_t)t;
    struct tm tm;

    if (t == 0 || gmtime_r(&tt, &tm) == NULL ||
        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        return json_null();
    return json_string(buf);
}

json_t *api_json_str(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

/* The SANs text of the store ("DNS:a, IP:b") as a JSON array.  New
 * reference; NULL on ENOMEM. */
json_t *api_json_sans(const char *sans)
{
    json_t *a = json_array();
    const char *p = sans;

    if (a == NULL || sans == NULL)
        return a;
    while (*p != '\0') {
        const char *sep = strstr(p, ", ");
        size_t n = sep != NULL ? (size_t)(sep - p) : strlen(p);

        if (n > 0 && json_array_append_new(a, json_stringn(p, n)) != 0) {
            json_decref(a);
            return NULL;
        }
        p += n;
        if (*p != '\0')
            p += 2;
    }
    return a;
}

int api_parse_bool(const char *value, int *out)
{
    if (strcmp(value, "1") == 0 || strcmp(value, "true") == 0) {
        *out = 1;
        return 0;
    }
    if (strcmp(value, "0") == 0 || strcmp(value, "false") == 0) {
        *out = 0;
        return 0;
    }
    return -1;
}

int api_route_enabled(const struct api_route *r, const struct scep_config *cfg)
{
    return r->enabled == NULL || r->enabled(cfg);
}

/* ---- matching ------------------------------------------------------ */

/* The value of hex digit ch, or -1. */
static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/*
 * Percent-decodes the n bytes at s into out (size bytes, NUL-ended).
 * '+' stays '+' (a path's and our query's convention alike: serials
 * and names never hold one).  A malformed escape, a NUL or a control
 * byte, or a result that does not fit is refused.  Returns 0 or -1.
 */
static int api_unescape(const char *s, size_t n, char *out, size_t size)
{
    size_t i, o = 0;

    for (i = 0; i < n; i++) {
        int ch = (unsigned char)s[i];

        if (ch == '%') {
            int hi, lo;

            if (i + 2 >= n)
                return -1;
            hi = hexval(s[i + 1]);
            lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            ch = hi * 16 + lo;
            i += 2;
        }
        if (ch < 0x20 || ch == 0x7f || o + 1 >= size)
            return -1;
        out[o++] = (char)ch;
    }
    out[o] = '\0';
    return 0;
}

/*
 * Matches path (len bytes, raw) against pattern segment by segment; a
 * "{name}" segment takes one non-empty segment, decoded into params.
 * A trailing '/' on the path is ignored.  Returns 1 on a match.
 */
static int api_match(const char *pattern, const char *path, size_t len,
                     char params[API_MAX_PARAMS][API_PARAM_MAX + 1])
{
    const char *p = pattern;
    size_t off = 0;
    int np = 0;

    if (len > 1 && path[len - 1] == '/')
        len--;
    while (*p != '\0') {
        const char *pend;
        size_t plen, seg;

        if (*p != '/' || off >= len || path[off] != '/')
            return 0;
        p++;
        off++;
        pend = strchr(p, '/');
        plen = pend != NULL ? (size_t)(pend - p) : strlen(p);
        for (seg = 0; off + seg < len && path[off + seg] != '/'; seg++)
            ;
        if (plen > 2 && p[0] == '{' && p[plen - 1] == '}') {
            if (seg == 0 || np >= API_MAX_PARAMS ||
                api_unescape(path + off, seg, params[np], sizeof(params[0])) != 0)
                return 0;
            np++;
        } else if (seg != plen || memcmp(p, path + off, plen) != 0) {
            return 0;
        }
        p += plen;
        off += seg;
    }
    return off == len;
}

/* ---- authentication ------------------------------------------------ */

/* The role of a verified client certificate: admin_client_roles by its
 * subject's CN, else admin_client_role (both validated at start). */
static int api_client_role(const struct scepd_app *app, X509 *cert)
{
    X509_NAME *subj = X509_get_subject_name(cert);
    char cn[256];
    int r;

    if (subj == NULL || X509_NAME_get_text_by_NID(subj, NID_commonName, cn, sizeof(cn)) <= 0)
        cn[0] = '\0';
    r = scep_admin_role_code(scep_config_client_role(app->srv->cfg, cn[0] != '\0' ? cn : NULL));
    return r > 0 ? r : SCEP_ROLE_AUDITOR;
}

/*
 * The principal of a verified client certificate: its subject's CN
 * (else the whole subject) with anything but [A-Za-z0-9._@-] made '_',
 * so that the actor "api-cert:NAME" is one plain word in the audit
 * trail and logs, with role.
 */
static void api_cert_principal(X509 *cert, int role, struct scep_admin_principal *p)
{
    X509_NAME *subj = X509_get_subject_name(cert);
    char cn[SCEP_ADMIN_TOKEN_NAME_MAX + 1] = "";
    size_t i;

    if (subj == NULL || X509_NAME_get_text_by_NID(subj, NID_commonName, cn, sizeof(cn)) <= 0)
        snprintf(cn, sizeof(cn), "unnamed");
    for (i = 0; cn[i] != '\0'; i++) {
        char ch = cn[i];

        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-' || ch == '@'))
            cn[i] = '_';
    }
    memset(p, 0, sizeof(*p));
    p->role = role;
    snprintf(p->name, sizeof(p->name), "%s", cn);
    snprintf(p->actor, sizeof(p->actor), "api-cert:%.*s", (int)sizeof(p->actor) - 10, cn);
}

/* Sends a 429 for a client over its failed-authentication limit. */
static void api_auth_limited(struct api_ctx *c, long retry)
{
    char ra[24];

    snprintf(ra, sizeof(ra), "%ld", retry > 0 ? retry : 1);
    (void)scepd_reply_header(c->req, "Retry-After", ra);
    scepd_metrics_rate_limited(c->app->metrics, SCEPD_LIMIT_ADMIN_AUTH);
    api_problem(c, 429, "rate-limited", "Too many failed authentications from this address",
                "wait for Retry-After seconds", NULL);
}

/* Sends a 401 with the challenge RFC 6750 3 asks for. */
static void api_unauthorized(struct api_ctx *c, const char *error, const char *detail)
{
    char hdr[128];

    if (error != NULL)
        snprintf(hdr, sizeof(hdr), "Bearer realm=\"scepd\", error=\"%s\"", error);
    else
        snprintf(hdr, sizeof(hdr), "Bearer realm=\"scepd\"");
    (void)scepd_reply_header(c->req, "WWW-Authenticate", hdr);
    api_problem(c, 401, "unauthorized", "Authentication required", detail, NULL);
}

/*
 * Authenticates the request into c->who: a bearer token when an
 * Authorization header is there (a bad one fails even if a client
 * certificate came too: the caller meant the token), else a client
 * certificate verified against admin_client_ca.  Returns 0, or -1
 * after replying (401, 429 or 503).
 */
static int api_authenticate(struct api_ctx *c)
{
    struct scepd_app *app = c->app;
    const char *peer = scepd_request_peer(c->req);
    const char *auth = scepd_request_header(c->req, "Authorization");
    X509 *cert = scepd_request_get0_peer_cert(c->req);
    long retry = 0;
    const char *tok;
    int rc, why;

    /* Asked before the credential is looked at, so that guessing stops
     * being tried once an address's failures have used up its burst. */
    if (!scepd_limits_auth_allowed(app->limits, peer, &retry)) {
        api_auth_limited(c, retry);
        return -1;
    }
    if (auth == NULL) {
        if (cert != NULL && app->srv->cfg->admin_client_ca != NULL) {
            api_cert_principal(cert, api_client_role(app, cert), &c->who);
            return 0;
        }
        api_unauthorized(c, NULL, "send Authorization: Bearer TOKEN (see scepctl token new)");
        return -1;
    }
    tok = NULL;
    /* RFC 6750 2.1: the scheme is case-insensitive, one space, the
     * token; nothing else is a bearer credential. */
    if (strncasecmp(auth, "Bearer ", 7) == 0 && auth[7] != '\0' && auth[7] != ' ')
        tok = auth + 7;
    rc = tok != NULL ? scep_admin_token_authenticate(app->store, tok, strlen(tok), 0, &c->who)
                     : SCEP_ERR_NOT_FOUND;
    if (rc == 0)
        return 0;
    if (rc != SCEP_ERR_NOT_FOUND && rc != SCEP_ERR_REJECTED && rc != SCEP_ERR_BAD_TIME) {
        memset(&c->who, 0, sizeof(c->who));
        api_problem_store(c, rc, "looking the token up");
        return -1;
    }
    why = rc == SCEP_ERR_REJECTED   ? SCEPD_AUTH_REVOKED
          : rc == SCEP_ERR_BAD_TIME ? SCEPD_AUTH_EXPIRED
                                    : SCEPD_AUTH_UNKNOWN;
    scepd_metrics_auth_failure(app->metrics, why);
    {
        struct scepd_logline l;

        scepd_log_begin(&l, SCEPD_WARN, "admin API authentication failed");
        scepd_log_str(&l, "peer", peer);
        scepd_log_str(&l, "reason",
                      why == SCEPD_AUTH_REVOKED   ? "revoked token"
                      : why == SCEPD_AUTH_EXPIRED ? "expired token"
                                                  : "unknown token");
        scepd_log_end(&l);
    }
    /* This failure counts; the one that empties the bucket is still
     * answered 401, the next ones 429 before any lookup. */
    (void)scepd_limits_auth_failed(app->limits, peer, &retry);
    /* The same words for every failure: which tokens exist, were
     * revoked or expired is for the logs, not for whoever holds one. */
    api_unauthorized(c, "invalid_token", "the token is unknown, revoked or expired");
    return -1;
}

/* ---- dispatch ------------------------------------------------------ */

/*
 * 1 when route r answers path under cfg.  A path that some route's
 * pattern names literally (/certificates/import) is that resource only:
 * the patterns with a {parameter} that would also take it
 * (/certificates/{serial}) do not apply, so that a wrong method there is
 * a 405 with the literal route's Allow, not a "bad serial" 400.
 */
static int api_route_answers(const struct api_route *r, const struct scep_config *cfg,
                             const char *path, size_t len, int literal,
                             char params[API_MAX_PARAMS][API_PARAM_MAX + 1])
{
    if (!api_route_enabled(r, cfg) || (literal && strchr(r->pattern, '{') != NULL))
        return 0;
    return api_match(r->pattern, path, len, params);
}

/* 1 when a route served under cfg names path without parameters. */
static int api_literal(const struct scep_config *cfg, const char *path, size_t len)
{
    char params[API_MAX_PARAMS][API_PARAM_MAX + 1];
    size_t i;

    for (i = 0; i < api_nroutes; i++)
        if (strchr(api_routes[i].pattern, '{') == NULL &&
            api_route_answers(&api_routes[i], cfg, path, len, 1, params))
            return 1;
    return 0;
}

/* The Allow value of the routes served under cfg that answer path. */
static unsigned api_allowed(const struct scep_config *cfg, const char *path, size_t len,
                            int literal)
{
    char params[API_MAX_PARAMS][API_PARAM_MAX + 1];
    unsigned allow = 0;
    size_t i;

    for (i = 0; i < api_nroutes; i++)
        if (api_route_answers(&api_routes[i], cfg, path, len, literal, params))
            allow |= api_routes[i].method;
    return allow;
}

/* Every request on the admin listener. */
static void api_dispatch(struct scepd_request *req, struct scepd_app *app)
{
    struct api_ctx c;
    unsigned method = scepd_request_method(req);
    const char *path;
    size_t len = 0, i;
    int literal;
    char who[SCEP_ADMIN_TOKEN_NAME_MAX + 64];

    memset(&c, 0, sizeof(c));
    c.req = req;
    c.app = app;
    if (method == SCEPD_M_HEAD)
        method = SCEPD_M_GET;
    /* The console's files (/, /console/...) carry headers of their own
     * and need no credential: they hold no data. */
    if (scepd_console_serve(req, method))
        return;
    api_security_headers(req);
    path = scepd_request_path(req, &len);
    literal = api_literal(app->srv->cfg, path, len);
    for (i = 0; i < api_nroutes; i++) {
        if (api_routes[i].method == method &&
            api_route_answers(&api_routes[i], app->srv->cfg, path, len, literal, c.params)) {
            c.route = &api_routes[i];
            break;
        }
    }
    if (c.route == NULL) {
        unsigned allow = api_allowed(app->srv->cfg, path, len, literal);
        char hdr[96];

        if (allow == 0) {
            api_problem(&c, 404, "no-route", "No such resource",
                        "see /api/v1/openapi.json for the routes served", NULL);
            return;
        }
        (void)scepd_reply_header(req, "Allow", scepd_methods_allow(allow, hdr, sizeof(hdr)));
        api_problem(&c, 405, "method-not-allowed", "Method not allowed on this resource", NULL,
                    NULL);
        return;
    }
    if (c.route->role > 0) {
        if (api_authenticate(&c) != 0)
            return;
        snprintf(who, sizeof(who), "%s role=%s", c.who.actor, scep_admin_role_name(c.who.role));
        scepd_request_note_principal(req, who);
        if (c.who.role < c.route->role) {
            char detail[128];

            snprintf(detail, sizeof(detail), "%s needs role %s; %s has %s", c.route->op_id,
                     scep_admin_role_name(c.route->role), c.who.name,
                     scep_admin_role_name(c.who.role));
            api_problem(&c, 403, "forbidden", "The credential's role does not allow this", detail,
                        NULL);
            return;
        }
    }
    c.route->fn(&c);
}

int scepd_routes_admin(struct scepd_router *r)
{
    /* One route for every path: the API matches its own table, so that
     * a miss is a problem+json 404/405 with the security headers too. */
    return scepd_router_add(r, "", SCEPD_MATCH_UNDER,
                            SCEPD_M_GET | SCEPD_M_POST | SCEPD_M_PUT | SCEPD_M_DELETE |
                                SCEPD_M_PATCH | SCEPD_M_OPTIONS,
                            api_dispatch, "admin");
}

/* ---- query strings ------------------------------------------------- */

int api_query_apply(struct api_ctx *c, void *target)
{
    const struct api_qparam *qp = c->route->query;
    const char *q, *end, *amp, *eq;
    char name[64], value[SCEP_API_MAX_PARAM + 1], why[256];
    unsigned seen = 0;
    size_t qlen = 0, i;

    q = scepd_request_query(c->req, &qlen);
    if (q == NULL || qlen == 0)
        return 0;
    if (qlen > SCEP_API_MAX_QUERY) {
        api_problem(c, 400, "invalid-query", "Query string too long", NULL, NULL);
        return -1;
    }
    end = q + qlen;
    while (q < end) {
        amp = memchr(q, '&', (size_t)(end - q));
        if (amp == NULL)
            amp = end;
        eq = memchr(q, '=', (size_t)(amp - q));
        if (amp == q) {
            q = amp + 1;
            continue;
        }
        if (api_unescape(q, (size_t)((eq != NULL ? eq : amp) - q), name, sizeof(name)) != 0) {
            api_problem(c, 400, "invalid-query", "Malformed query parameter name", NULL, NULL);
            return -1;
        }
        for (i = 0; qp != NULL && qp[i].name != NULL; i++)
            if (strcmp(qp[i].name, name) == 0)
                break;
        if (qp == NULL || qp[i].name == NULL) {
            api_problem(c, 400, "invalid-query", "Unknown query parameter", name, name);
            return -1;
        }
        if (i < 32 && (seen & (1u << i))) {
            api_problem(c, 400, "invalid-query", "Query parameter given twice", name, name);
            return -1;
        }
        if (i < 32)
            seen |= 1u << i;
        if (eq == NULL || api_unescape(eq + 1, (size_t)(amp - eq - 1), value, sizeof(value)) != 0) {
            api_problem(c, 400, "invalid-query", "Malformed or missing query parameter value", name,
                        name);
            return -1;
        }
        why[0] = '\0';
        if (qp[i].apply != NULL && qp[i].apply(value, target, why, sizeof(why)) != 0) {
            api_problem(c, 400, "invalid-query", "Invalid query parameter",
                        why[0] != '\0' ? why : name, name);
            return -1;
        }
        q = amp + 1;
    }
    return 0;
}

/* ---- bodies -------------------------------------------------------- */

int api_body(struct api_ctx *c, int empty_ok, json_t **out)
{
    const unsigned char *b = NULL;
    size_t len = 0;
    char why[200];
    int rc;

    if (scepd_request_body(c->req, &b, &len) != 0) {
        api_problem(c, 500, "internal", "Out of memory", NULL, NULL);
        return -1;
    }
    if (len == 0 && empty_ok) {
        *out = json_object();
        if (*out == NULL) {
            api_problem(c, 500, "internal", "Out of memory", NULL, NULL);
            return -1;
        }
        return 0;
    }
    rc = api_body_parse(b, len, out, why, sizeof(why));
    if (rc == 413) {
        api_problem(c, 413, "body-too-large", "Request body too large", why, NULL);
        return -1;
    }
    if (rc != 0) {
        api_problem(c, 400, "invalid-body", "Request body is not an acceptable JSON object", why,
                    NULL);
        return -1;
    }
    return 0;
}

/* ---- the API's own small routes ------------------------------------ */

/* /healthz on the admin listener: the same question as the public one. */
static void api_healthz(struct api_ctx *c)
{
    if (!scepd_store_present(c->app->srv) || scep_store_ping(c->app->store) != 0) {
        (void)scepd_reply_header(c->req, "Retry-After", "5");
        api_problem(c, 503, "store-unavailable", "The certificate store cannot be reached", NULL,
                    NULL);
        return;
    }
    api_send_json(c, 200, json_pack("{s:s}", "status", "ok"));
}

/* /metrics, routed here only with metrics_listen = admin. */
static void api_metrics(struct api_ctx *c)
{
    scepd_metrics_handler(c->req, c->app);
}

static void api_openapi_get(struct api_ctx *c)
{
    api_send_json(c, 200, api_openapi(c->app->srv->cfg));
}

static void api_me(struct api_ctx *c)
{
    api_send_json(c, 200,
                  json_pack("{s:s, s:s, s:s}", "name", c->who.name, "role",
                            scep_admin_role_name(c->who.role), "actor", c->who.actor));
}
