/*
 * scepd's endpoints: the route table every listener serves today and the
 * handlers behind it.  SCEP (RFC 8894 4: GetCACaps, GetCACert,
 * GetNextCACert, PKIOperation by POST or GET) under the configured path
 * prefix and under /cgi-bin/pkiclient.exe, /healthz and /metrics, and
 * certificate status: CRLs at /crl and the OCSP responder at /ocsp
 * (RFC 6960 A.1), answered by the service's status functions.
 *
 * A handler reads the request and replies through request.h, and reaches
 * its worker's SCEP service and metrics through struct scepd_app; it
 * never sees evhttp or the worker.  A new endpoint is a handler here and
 * one line in scepd_routes_scep() (or in the table of its own listener).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include <scep/error.h>
#include <scep/encoding.h>
#include <scep/message.h>

#include "fetch.h"
#include "gauges.h"
#include "limits.h"
#include "procmetrics.h"
#include "policy/webhook.h"
#include "request.h"
#include "route.h"
#include "scepd.h"
#include "service/service.h"

/* The path every SCEP client falls back to (RFC 8894 4.1 examples). */
#define HANDLERS_CGI_PATH "/cgi-bin/pkiclient.exe"

/* Longest profile name in a path (scepd.conf(5)). */
#define SCEPD_MAX_PROFILE_NAME 32

/* The metrics' enum scepd_via for the service's word (NULL: none). */
static int scep_via(const char *via)
{
    static const char *const names[SCEPD_VIA_COUNT] = {"static", "one-time", "webhook", "renewal",
                                                       "open"};
    int i;

    for (i = 0; via != NULL && i < SCEPD_VIA_COUNT; i++)
        if (strcmp(via, names[i]) == 0)
            return i;
    return SCEPD_VIA_NONE;
}

/* Counts the enrollment decision the service made, by profile. */
static void scep_count_decision(struct scepd_app *app, const struct scep_reply *r)
{
    const char *profile = r->profile != NULL && r->profile[0] != '\0' ? r->profile : "default";

    if (r->msg_type != SCEP_MSG_PKCSREQ && r->msg_type != SCEP_MSG_RENEWALREQ)
        return;
    if (r->http_status == 429)
        scepd_metrics_decision(app->metrics, profile, SCEPD_DECISION_RATE_LIMITED, SCEPD_VIA_NONE);
    else if (r->outcome == NULL)
        return;
    else if (strcmp(r->outcome, "success") == 0)
        scepd_metrics_decision(app->metrics, profile, SCEPD_DECISION_ALLOW, scep_via(r->via));
    else if (strcmp(r->outcome, "failure") == 0)
        scepd_metrics_decision(app->metrics, profile, SCEPD_DECISION_DENY, SCEPD_VIA_NONE);
    else if (strcmp(r->outcome, "pending") == 0)
        scepd_metrics_decision(app->metrics, profile, SCEPD_DECISION_PENDING, SCEPD_VIA_NONE);
}

/* Counts a SCEP request in scepd_requests_total and friends. */
static void scep_count(struct scepd_request *req, struct scepd_app *app, int op)
{
    const struct scep_reply *r = scepd_request_result(req);
    int outcome;

    if (r->outcome != NULL)
        outcome = scepd_outcome_from_text(r->outcome);
    else
        outcome = scepd_request_status(req) == 200 ? SCEPD_OUT_SUCCESS : SCEPD_OUT_ERROR;
    scepd_metrics_request(app->metrics, op, outcome);
    if (outcome == SCEPD_OUT_FAILURE)
        scepd_metrics_refusal(app->metrics, r->fail_info);
    if (r->issue_seconds > 0)
        scepd_metrics_issuance(app->metrics, r->issue_seconds);
    if (op == SCEPD_OP_PKIOPERATION) {
        scep_count_decision(app, r);
        if (r->http_status == 429)
            scepd_metrics_rate_limited(app->metrics, SCEPD_LIMIT_CHALLENGE);
    }
}

/* Seconds a client is asked to wait after a 503 for an unreachable
 * database: about what a worker's reconnect backoff needs to try again. */
#define SCEPD_STORE_RETRY_AFTER "5"

/* Sends what the service put in the result: its body on 200, else its
 * reason. */
static void scep_send_result(struct scepd_request *req)
{
    const struct scep_reply *r = scepd_request_result(req);

    if (r->http_status == 200)
        scepd_reply_send(req, 200,
                         r->content_type != NULL ? r->content_type : "application/octet-stream",
                         r->body, r->len);
    else {
        /* 503: the database is unreachable for now (RFC 9110 10.2.3);
         * a client that honours Retry-After comes back when a worker's
         * reconnect may have succeeded. */
        if (r->http_status == 503)
            (void)scepd_reply_header(req, "Retry-After", SCEPD_STORE_RETRY_AFTER);
        if (r->http_status == 429 && r->retry_after > 0) {
            char ra[24];

            snprintf(ra, sizeof(ra), "%ld", r->retry_after);
            (void)scepd_reply_header(req, "Retry-After", ra);
        }
        scepd_reply_text(req, r->http_status >= 400 ? r->http_status : 500,
                         r->reason[0] != '\0' ? r->reason : "internal error");
    }
}

/*
 * Refuses a PKIOperation from an address over its rate limit: 429 with
 * Retry-After, before the message is even decoded, so that it costs the
 * CA no private-key work.  Returns 1 when refused.
 */
static int scep_address_limited(struct scepd_request *req, struct scepd_app *app,
                                const char *profile)
{
    char ra[24];
    long retry = 0;

    if (scepd_limits_check_address(app->limits, scepd_request_peer(req), &retry))
        return 0;
    scepd_metrics_rate_limited(app->metrics, SCEPD_LIMIT_ADDRESS);
    scepd_metrics_decision(app->metrics, profile[0] != '\0' ? profile : "default",
                           SCEPD_DECISION_RATE_LIMITED, SCEPD_VIA_NONE);
    (void)scep_service_note_rate_limited(app->svc, "address", scepd_request_peer(req), profile);
    snprintf(ra, sizeof(ra), "%ld", retry > 0 ? retry : 1);
    (void)scepd_reply_header(req, "Retry-After", ra);
    scepd_reply_refuse(req, 429, "rate limited: too many requests from this address");
    return 1;
}

/* A PKIOperation waiting for its profile's webhook (fetch.h), with its
 * reply deferred (request.h).  Owned by the callbacks below. */
struct hook_wait {
    struct scepd_app *app;
    struct scepd_deferred *d;
    struct scep_pending *pend;
    struct scepd_fetch *fetch;
};

/* The client went away first: nothing to answer, nothing to issue. */
static void hook_abort(void *arg)
{
    struct hook_wait *w = arg;

    scepd_fetch_cancel(w->fetch);
    scep_pending_free(w->pend);
    free(w);
}

/* The webhook answered, failed or timed out: the service decides. */
static void hook_done(int status, const unsigned char *resp, size_t len, const char *terr,
                      void *arg)
{
    struct hook_wait *w = arg;
    struct scepd_request *req = scepd_deferred_request(w->d);

    /* A non-zero return has the result filled as a 500 with its reason;
     * resume frees the pending enrollment either way. */
    (void)scep_service_pkioperation_resume(w->app->svc, w->pend, status, resp, len, terr,
                                           scepd_request_result(req));
    scep_send_result(req);
    scep_count(req, w->app, SCEPD_OP_PKIOPERATION);
    scepd_deferred_done(w->d);
    free(w);
}

/*
 * Starts the webhook call pend waits for and defers the reply.  Returns
 * 1 when the reply is deferred or already sent and counted; 0 when the
 * call could not start before anything was deferred (out of memory):
 * then pend has been resumed as a failed call, which refuses the
 * enrollment (fail-closed), and the caller sends the result.
 */
static int hook_start(struct scepd_request *req, struct scepd_app *app, struct scep_pending *pend)
{
    struct scep_webhook_call call;
    struct hook_wait *w = calloc(1, sizeof(*w));
    char sig[sizeof(SCEP_WEBHOOK_SIG_HEADER) + SCEP_WEBHOOK_SIG_SIZE + 2];
    const char *headers[3];

    scep_pending_webhook(pend, &call);
    snprintf(sig, sizeof(sig), "%s: %s", SCEP_WEBHOOK_SIG_HEADER, call.signature);
    headers[0] = "Content-Type: application/json";
    headers[1] = sig;
    headers[2] = NULL;
    if (w == NULL || (w->d = scepd_request_defer(req)) == NULL ||
        scepd_fetch_post(app->fetcher, call.url, headers, call.body, call.len, call.timeout_ms,
                         hook_done, w, &w->fetch) != 0) {
        /* Deferred or not, this handler can still reply now. */
        (void)scep_service_pkioperation_resume(app->svc, pend, 0, NULL, 0,
                                               "the webhook call could not be started",
                                               scepd_request_result(req));
        if (w == NULL || w->d == NULL) {
            free(w);
            return 0;
        }
        scep_send_result(req);
        scep_count(req, app, SCEPD_OP_PKIOPERATION);
        scepd_deferred_done(w->d);
        free(w);
        return 1;
    }
    w->app = app;
    w->pend = pend;
    scepd_deferred_on_abort(w->d, hook_abort, w);
    return 1;
}

/* Returns 1 when the reply was deferred (it is sent and counted later). */
static int scep_pkioperation(struct scepd_request *req, struct scepd_app *app,
                             const struct scepd_query *q, const char *profile)
{
    struct scep_pending *pend = NULL;
    unsigned char *decoded = NULL;
    const unsigned char *msg = NULL;
    size_t len = 0;
    char why[128];
    int rc, deferred = 0;

    if (scep_address_limited(req, app, profile))
        return 0;

    if (scepd_request_method(req) == SCEPD_M_POST) {
        if (scepd_request_body(req, &msg, &len) != 0) {
            scepd_reply_refuse(req, 500, "out of memory");
            goto out;
        }
        if (len == 0) {
            scepd_reply_refuse(req, 400, "empty PKIOperation body");
            goto out;
        }
        if (len > app->srv->cfg->max_body || len > SCEP_MAX_MESSAGE) {
            scepd_reply_refuse(req, 413, "PKIOperation body too large");
            goto out;
        }
    } else {
        if (q->message == NULL || q->message_len == 0) {
            scepd_reply_refuse(req, 400, "PKIOperation GET without message");
            goto out;
        }
        rc = scep_query_message_decode(q->message, q->message_len, &decoded, &len);
        if (rc != 0) {
            snprintf(why, sizeof(why), "bad message parameter: %s", scep_strerror(rc));
            scepd_reply_refuse(req, 400, why);
            goto out;
        }
        msg = decoded;
    }
    /* The store would take the certificate into a deleted file and the
     * client would hold one that no restart knows: refuse instead. */
    if (!scepd_store_present(app->srv)) {
        scepd_reply_refuse(req, 503,
                           "certificate store unavailable: the database file was "
                           "removed or replaced; restart scepd");
        goto out;
    }
    /* A non-zero return has the result filled as a 500 with its reason. */
    (void)scep_service_pkioperation_begin(app->svc, profile, msg, len, scepd_request_peer(req),
                                          scepd_request_result(req), &pend);
    if (pend != NULL)
        deferred = hook_start(req, app, pend);
    if (!deferred)
        scep_send_result(req);
out:
    scep_free(decoded);
    return deferred;
}

/*
 * SCEP: the operation named in the query string.  HEAD is answered as
 * GET for the operations that only read (the route table lets it through
 * wherever GET is), but a HEAD PKIOperation would enroll a client that
 * never sees the answer, so it gets 405.
 */
/*
 * The profile the request path names: "" for the SCEP path itself and
 * for /cgi-bin/pkiclient.exe, NAME for <prefix>/NAME.  Returns 0, or -1
 * (with a 404 sent) for a path that names no profile of the service.
 */
static int scep_profile_of(struct scepd_request *req, struct scepd_app *app, char *name,
                           size_t size)
{
    char prefix[SCEPD_MAX_ROUTE_PATH + 1];
    const char *path;
    size_t len, plen;

    path = scepd_request_path(req, &len);
    snprintf(prefix, sizeof(prefix), "%s", app->srv->cfg->path_prefix);
    plen = strlen(prefix);
    while (plen > 0 && prefix[plen - 1] == '/')
        prefix[--plen] = '\0';
    if ((scepd_scep_profile(path, len, prefix, name, size) == 0 ||
         scepd_scep_profile(path, len, HANDLERS_CGI_PATH, name, size) == 0) &&
        scep_service_has_profile(app->svc, name))
        return 0;
    scepd_reply_refuse(req, 404, "no SCEP profile at this path");
    return -1;
}

static void scep_handler(struct scepd_request *req, struct scepd_app *app)
{
    char profile[SCEPD_MAX_PROFILE_NAME + 1];
    struct scepd_query q;
    const char *query;
    size_t qlen;

    if (scep_profile_of(req, app, profile, sizeof(profile)) != 0)
        return;
    query = scepd_request_query(req, &qlen);
    scepd_query_parse(query, qlen, &q);
    scepd_request_set_op(req, q.op);
    /* The message= that clients add to the GET operations is the old
     * CA-IDENT; it is ignored, never a reason to fail. */
    switch (q.op) {
    case SCEPD_OP_GETCACAPS:
        (void)scep_service_getcacaps(app->svc, profile, scepd_request_result(req));
        scep_send_result(req);
        break;
    case SCEPD_OP_GETCACERT:
        (void)scep_service_getcacert(app->svc, scepd_request_result(req));
        scep_send_result(req);
        break;
    case SCEPD_OP_GETNEXTCACERT:
        (void)scep_service_getnextcacert(app->svc, scepd_request_result(req));
        scep_send_result(req);
        break;
    case SCEPD_OP_PKIOPERATION:
        if (scepd_request_method(req) == SCEPD_M_HEAD) {
            scepd_reply_header(req, "Allow", "GET, POST");
            scepd_reply_refuse(req, 405, "PKIOperation is not answered to HEAD");
            break;
        }
        if (scep_pkioperation(req, app, &q, profile))
            return; /* counted when the webhook answered */
        break;
    default:
        scepd_reply_refuse(req, 400, "unknown operation");
        break;
    }
    scep_count(req, app, q.op);
}

/* /healthz: "ok", or 503 once the database file is gone or this
 * worker's database connection does not answer (a PostgreSQL server out
 * of reach), so that a load balancer sends enrollments elsewhere. */
static void healthz_handler(struct scepd_request *req, struct scepd_app *app)
{
    if (!scepd_store_present(app->srv) || scep_service_store_ping(app->svc) != 0) {
        (void)scepd_reply_header(req, "Retry-After", SCEPD_STORE_RETRY_AFTER);
        scepd_reply_refuse(req, 503, "certificate store unavailable");
    } else {
        scepd_reply_send(req, 200, "text/plain", "ok\n", 3);
    }
}

/* /metrics: the Prometheus text of every worker's counters, then the
 * gauges the background jobs last set (gauges.h). */
void scepd_metrics_handler(struct scepd_request *req, struct scepd_app *app)
{
    const struct scepd_server *srv = app->srv;
    struct evbuffer *buf = evbuffer_new();
    unsigned char *text;

    if (buf == NULL || scepd_metrics_render(srv->metrics_ptrs, (size_t)srv->nworkers, buf) != 0 ||
        scepd_gauges_render(srv->gauges, buf) != 0 || scepd_process_metrics_render(buf) != 0 ||
        (text = evbuffer_pullup(buf, -1)) == NULL) {
        scepd_reply_refuse(req, 500, "cannot render metrics");
        evbuffer_free(buf);
        return;
    }
    scepd_reply_send(req, 200, "text/plain; version=0.0.4", text, evbuffer_get_length(buf));
    evbuffer_free(buf);
}

/* Longest CA name in a /crl/<name>.crl path: a SHA-256 fingerprint. */
#define HANDLERS_MAX_CA_NAME 64

/*
 * Sets Cache-Control and Expires from what the service said about the
 * answer's lifetime (RFC 5019 6.2 for OCSP; the same for CRLs).
 */
static void status_cache_headers(struct scepd_request *req, const struct scep_reply *r)
{
    char v[96]; /* the longest max-age a long holds fits */
    time_t t;
    struct tm tm;

    if (r->http_status != 200 || r->max_age <= 0)
        return;
    snprintf(v, sizeof(v), "max-age=%ld, public, no-transform, must-revalidate", r->max_age);
    scepd_reply_header(req, "Cache-Control", v);
    t = (time_t)r->expires;
    if (gmtime_r(&t, &tm) != NULL && strftime(v, sizeof(v), "%a, %d %b %Y %H:%M:%S GMT", &tm) > 0)
        scepd_reply_header(req, "Expires", v);
}

/*
 * /crl: the current CA's CRL; /crl/<name>.crl: the CRL of the CA named
 * by its key identifier or fingerprint (hex, a prefix of 8 digits or
 * more), or "current" / "previous", as the CDP of issued certificates
 * names it.  Anything else below /crl is a 404.
 */
static void crl_handler(struct scepd_request *req, struct scepd_app *app)
{
    char which[HANDLERS_MAX_CA_NAME + 1];
    const char *path, *name = NULL;
    size_t len, n, i;

    path = scepd_request_path(req, &len);
    if (len > 5) { /* "/crl/" and more */
        n = len - 5;
        if (n <= 4 || n - 4 > HANDLERS_MAX_CA_NAME || memcmp(path + len - 4, ".crl", 4) != 0) {
            scepd_reply_refuse(req, 404, "no such CRL: use /crl or /crl/<CA key id>.crl");
            return;
        }
        memcpy(which, path + 5, n - 4);
        which[n - 4] = '\0';
        for (i = 0; which[i] != '\0'; i++) {
            if (!isalnum((unsigned char)which[i]) && which[i] != ':') {
                scepd_reply_refuse(req, 404, "no such CRL: use /crl or /crl/<CA key id>.crl");
                return;
            }
        }
        name = which;
    }
    (void)scep_service_crl(app->svc, name, scepd_request_result(req));
    status_cache_headers(req, scepd_request_result(req));
    scep_send_result(req);
}

/*
 * /ocsp (RFC 6960 A.1): POST with the DER request as body, or GET with
 * it base64-encoded and percent-escaped after "/ocsp/".  The answer is
 * always an OCSPResponse with 200, refusals (malformedRequest,
 * unauthorized) included; only HTTP-level faults get other statuses.
 */
static void ocsp_handler(struct scepd_request *req, struct scepd_app *app)
{
    unsigned char *decoded = NULL;
    const unsigned char *der = NULL;
    const char *path;
    size_t len = 0, plen;
    const struct scep_reply *r;

    if (scepd_request_method(req) == SCEPD_M_POST) {
        if (scepd_request_body(req, &der, &len) != 0) {
            scepd_reply_refuse(req, 500, "out of memory");
            goto out;
        }
        if (len > SCEP_MAX_OCSP_REQUEST) {
            scepd_reply_refuse(req, 413, "OCSP request too large");
            goto out;
        }
    } else {
        path = scepd_request_path(req, &plen);
        if (plen <= 6) {
            scepd_reply_refuse(req, 400, "OCSP GET without a request: use /ocsp/<base64 DER>");
            goto out;
        }
        /* Base64 of SCEP_MAX_OCSP_REQUEST, escaped: a few times longer. */
        if (plen - 6 > 4 * SCEP_MAX_OCSP_REQUEST) {
            scepd_reply_refuse(req, 414, "OCSP request too large");
            goto out;
        }
        /* The same decoding as a SCEP message= value: percent escapes,
         * base64 with or without padding, '+' kept. */
        if (scep_query_message_decode(path + 6, plen - 6, &decoded, &len) != 0) {
            /* Not base64: a request OpenSSL cannot parse either. */
            len = 0;
        }
        der = decoded;
    }
    (void)scep_service_ocsp(app->svc, der, len, scepd_request_result(req));
    r = scepd_request_result(req);
    status_cache_headers(req, r);
    if (r->http_status == 200 && r->outcome != NULL && strcmp(r->outcome, "success") != 0) {
        struct scepd_logline l;

        scepd_log_begin(&l, SCEPD_INFO, "OCSP request refused");
        scepd_log_str(&l, "peer", scepd_request_peer(req));
        scepd_log_str(&l, "reason", r->reason);
        scepd_log_end(&l);
    }
    scep_send_result(req);
out:
    scep_free(decoded);
}

/* /healthz, and /metrics unless it is served elsewhere
 * (metrics_listen).  Returns 0 or -1. */
int scepd_routes_health(struct scepd_router *r, int with_metrics)
{
    int rc = 0;

    rc |=
        scepd_router_add(r, "/healthz", SCEPD_MATCH_EXACT, SCEPD_M_GET, healthz_handler, "healthz");
    if (with_metrics)
        rc |= scepd_router_add(r, "/metrics", SCEPD_MATCH_EXACT, SCEPD_M_GET, scepd_metrics_handler,
                               "metrics");
    return rc != 0 ? -1 : 0;
}

/*
 * Fills r with scepd's routes: prefix is path_prefix (a trailing '/' is
 * dropped; "/" serves SCEP on every path the other routes leave), with
 * /metrics when with_metrics.  The order is the precedence.  Returns 0
 * or -1 (table full, bad prefix).
 */
int scepd_routes_scep(struct scepd_router *r, const char *prefix, int with_metrics)
{
    int rc = 0;

    rc |= scepd_routes_health(r, with_metrics);
    rc |= scepd_router_add(r, "/crl", SCEPD_MATCH_UNDER, SCEPD_M_GET, crl_handler, "crl");
    rc |= scepd_router_add(r, "/ocsp", SCEPD_MATCH_UNDER, SCEPD_M_GET | SCEPD_M_POST, ocsp_handler,
                           "ocsp");
    rc |= scepd_router_add(r, prefix, SCEPD_MATCH_UNDER, SCEPD_M_GET | SCEPD_M_POST, scep_handler,
                           "scep");
    rc |= scepd_router_add(r, HANDLERS_CGI_PATH, SCEPD_MATCH_UNDER, SCEPD_M_GET | SCEPD_M_POST,
                           scep_handler, "scep");
    return rc != 0 ? -1 : 0;
}
