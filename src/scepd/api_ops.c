/*
 * The admin API's operations on challenges, held requests and the audit
 * trail: mint, list and revoke one-time challenges
 * (lib/admin/challenges.c), list, approve and reject requests
 * (requests.c), read the audit trail in pages and verify its hash chain
 * (audit.c).  Each handler checks its input field by field, so that a
 * 400 names the field, then calls lib/admin with the caller as actor.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <scep/error.h>
#include <scep/limits.h>

#include "api.h"
#include "request.h"
#include "scepd.h"

/* Parses a decimal integer in [min, max].  Returns 0 or -1. */
static int ops_int(const char *v, int64_t min, int64_t max, int64_t *out)
{
    char *end = NULL;
    long long n;

    if (v[0] < '0' || v[0] > '9')
        return -1;
    n = strtoll(v, &end, 10);
    if (*end != '\0' || n < min || n > max)
        return -1;
    *out = (int64_t)n;
    return 0;
}

/* The {id} of the path as a positive integer; replies 400 itself. */
static int id_of_path(struct api_ctx *c, int64_t *id)
{
    if (ops_int(c->params[0], 1, INT64_MAX, id) != 0) {
        api_problem(c, 400, "invalid-field", "Not an id", "id: a positive integer", "id");
        return -1;
    }
    return 0;
}

/* ---- challenges ---------------------------------------------------- */

/* A challenge record as JSON (never its text or hash).  New reference;
 * NULL on ENOMEM. */
static json_t *chal_json(const struct scep_challenge_info *ci, int64_t now)
{
    json_t *sans = json_array(), *o;
    const char *p = ci->sans;

    while (sans != NULL && p != NULL && *p != '\0') {
        const char *nl = strchr(p, '\n');
        size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);

        json_array_append_new(sans, json_stringn(p, n));
        p += n + (nl != NULL);
    }
    o = json_pack("{s:I, s:s, s:s, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o}", "id",
                  (json_int_t)ci->id, "profile", ci->profile != NULL ? ci->profile : "", "state",
                  scep_admin_challenge_state(ci, now), "uses", (json_int_t)ci->uses, "max_uses",
                  (json_int_t)ci->max_uses, "created_at", api_json_time(ci->created_at),
                  "expires_at", api_json_time(ci->expires_at), "revoked_at",
                  api_json_time(ci->revoked_at), "created_by", api_json_str(ci->created_by),
                  "subject", api_json_str(ci->subject), "sans",
                  ci->sans != NULL ? sans : json_null());
    if (ci->sans == NULL)
        json_decref(sans);
    return o;
}

/*
 * Checks spec so far with lib/admin's own rules; field names what was
 * just added, so that the 400 names it.  Returns 0, or -1 after
 * replying.
 */
static int chal_check(struct api_ctx *c, const struct scep_admin_challenge_spec *spec,
                      const char *field)
{
    char why[256];

    if (scep_admin_challenge_validate(spec, why, sizeof(why)) == 0)
        return 0;
    api_problem(c, 400, "invalid-field", "The challenge specification is not acceptable", why,
                field);
    return -1;
}

/* A body integer field: absent or null is 0. */
static int body_int(json_t *body, const char *key, int64_t *out)
{
    json_t *v = json_object_get(body, key);

    *out = 0;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) <= 0)
        return -1;
    *out = (int64_t)json_integer_value(v);
    return 0;
}

/* A body string field: absent or null is NULL.  Borrowed from body. */
static int body_str(json_t *body, const char *key, const char **out)
{
    json_t *v = json_object_get(body, key);

    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return -1;
    *out = json_string_value(v);
    return 0;
}

void api_chal_new(struct api_ctx *c)
{
    static const char *const keys[] = {"profile", "subject", "sans", "ttl", "uses", NULL};
    struct scep_admin_challenge_spec spec;
    struct scep_challenge_info *info = NULL;
    const char *sans[SCEP_MAX_SANS];
    const char *bad;
    char *challenge = NULL;
    json_t *body = NULL, *js, *o;
    size_t i;
    int rc;

    memset(&spec, 0, sizeof(spec));
    if (api_body(c, 1, &body) != 0)
        return;
    if ((bad = api_body_unknown_key(body, keys)) != NULL) {
        api_problem(c, 400, "invalid-field", "Unknown field", bad, bad);
        goto out;
    }
    /* Field by field, each checked as it is added, so that a 400 names
     * the one that is wrong. */
    if (body_str(body, "profile", &spec.profile) != 0) {
        api_problem(c, 400, "invalid-field", "profile must be a string", NULL, "profile");
        goto out;
    }
    if (chal_check(c, &spec, "profile") != 0)
        goto out;
    if (body_str(body, "subject", &spec.subject) != 0) {
        api_problem(c, 400, "invalid-field", "subject must be a string", NULL, "subject");
        goto out;
    }
    if (chal_check(c, &spec, "subject") != 0)
        goto out;
    js = json_object_get(body, "sans");
    if (js != NULL && !json_is_null(js)) {
        if (!json_is_array(js) || json_array_size(js) > SCEP_MAX_SANS) {
            api_problem(c, 400, "invalid-field", "sans must be an array of TYPE:VALUE strings",
                        NULL, "sans");
            goto out;
        }
        for (i = 0; i < json_array_size(js); i++) {
            json_t *s = json_array_get(js, i);

            if (!json_is_string(s)) {
                api_problem(c, 400, "invalid-field", "sans must be an array of TYPE:VALUE strings",
                            NULL, "sans");
                goto out;
            }
            sans[i] = json_string_value(s);
        }
        spec.sans = sans;
        spec.nsans = json_array_size(js);
    }
    if (chal_check(c, &spec, "sans") != 0)
        goto out;
    /* A type error has no reply yet; chal_check's refusal has sent one. */
    if (body_int(body, "ttl", &spec.ttl) != 0 || chal_check(c, &spec, "ttl") != 0) {
        if (!scepd_request_status(c->req))
            api_problem(c, 400, "invalid-field", "ttl must be a positive integer of seconds", NULL,
                        "ttl");
        goto out;
    }
    if (body_int(body, "uses", &spec.uses) != 0 || chal_check(c, &spec, "uses") != 0) {
        if (!scepd_request_status(c->req))
            api_problem(c, 400, "invalid-field", "uses must be a positive integer", NULL, "uses");
        goto out;
    }
    rc = scep_admin_challenge_new(c->app->store, &spec, c->who.actor, &challenge, &info);
    if (rc != 0) {
        api_problem_store(c, rc, "storing the challenge");
        goto out;
    }
    o = chal_json(info, (int64_t)time(NULL));
    if (o != NULL && json_object_set_new(o, "challenge", json_string(challenge)) != 0) {
        json_decref(o);
        o = NULL;
    }
    api_send_json(c, 201, o);
out:
    scep_admin_challenge_free(challenge);
    scep_challenge_info_free(info);
    json_decref(body);
}

struct chal_query {
    int all;
};

static int q_all(const char *v, void *t, char *why, size_t whylen)
{
    struct chal_query *q = t;

    if (api_parse_bool(v, &q->all) != 0) {
        snprintf(why, whylen, "all: expected true or false");
        return -1;
    }
    return 0;
}

const struct api_qparam api_chal_query[] = {
    {"all", "boolean", "also expired, used-up and revoked ones (default false)", q_all},
    {NULL, NULL, NULL, NULL},
};

struct chal_walk {
    json_t *items;
    int64_t now;
};

static int chal_one(const struct scep_challenge_info *ci, void *arg)
{
    struct chal_walk *w = arg;
    json_t *o = chal_json(ci, w->now);

    return o != NULL && json_array_append_new(w->items, o) == 0 ? 0 : SCEP_ERR_NOMEM;
}

void api_chal_list(struct api_ctx *c)
{
    struct chal_query q = {0};
    struct chal_walk w;
    int rc;

    if (api_query_apply(c, &q) != 0)
        return;
    w.now = (int64_t)time(NULL);
    w.items = json_array();
    if (w.items == NULL) {
        api_problem(c, 500, "internal", "Out of memory", NULL, NULL);
        return;
    }
    rc = scep_admin_challenge_list(c->app->store, q.all, chal_one, &w);
    if (rc != 0) {
        json_decref(w.items);
        api_problem_store(c, rc, "listing challenges");
        return;
    }
    api_send_json(c, 200, json_pack("{s:o}", "items", w.items));
}

void api_chal_revoke(struct api_ctx *c)
{
    int64_t id = 0;
    int rc;

    if (id_of_path(c, &id) != 0)
        return;
    rc = scep_admin_challenge_revoke(c->app->store, c->who.actor, id, 0);
    if (rc == SCEP_ERR_NOT_FOUND) {
        api_problem(c, 404, "not-found", "No challenge with that id", c->params[0], NULL);
        return;
    }
    if (rc == SCEP_ERR_EXISTS) {
        api_problem(c, 409, "already-revoked", "The challenge is already revoked",
                    "nothing changed", NULL);
        return;
    }
    if (rc != 0) {
        api_problem_store(c, rc, "revoking the challenge");
        return;
    }
    api_send_json(c, 200, json_pack("{s:I, s:s}", "id", (json_int_t)id, "state", "revoked"));
}

/* ---- requests held for approval ------------------------------------ */

static const char *const req_status_names[] = {"pending", "approved", "rejected", "issued"};
#define REQ_NSTATUS (sizeof(req_status_names) / sizeof(req_status_names[0]))

static const char *req_status(int s)
{
    return s >= 0 && (size_t)s < REQ_NSTATUS ? req_status_names[s] : "unknown";
}

/* A request record as JSON (no CSR).  New reference; NULL on ENOMEM. */
static json_t *req_json(const struct scep_request_info *ri)
{
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    if (json_object_set_new(o, "id", json_integer((json_int_t)ri->id)) != 0 ||
        json_object_set_new(o, "transaction_id", api_json_str(ri->transaction_id)) != 0 ||
        json_object_set_new(o, "status", json_string(req_status(ri->status))) != 0 ||
        json_object_set_new(o, "subject", api_json_str(ri->subject)) != 0 ||
        json_object_set_new(o, "sans", api_json_sans(ri->sans)) != 0 ||
        json_object_set_new(o, "msg_type", api_json_str(ri->msg_type)) != 0 ||
        json_object_set_new(o, "requester", api_json_str(ri->requester)) != 0 ||
        json_object_set_new(o, "pubkey_fingerprint", api_json_str(ri->pubkey_fp)) != 0 ||
        json_object_set_new(o, "created_at", api_json_time(ri->created_at)) != 0 ||
        json_object_set_new(o, "decided_at", api_json_time(ri->decided_at)) != 0 ||
        json_object_set_new(o, "decided_by", api_json_str(ri->decided_by)) != 0 ||
        json_object_set_new(o, "reason", api_json_str(ri->reason)) != 0 ||
        json_object_set_new(o, "serial", api_json_str(ri->serial)) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

struct req_query {
    int status; /* -1: any */
    int64_t after;
    int64_t limit;
};

static int q_req_status(const char *v, void *t, char *why, size_t whylen)
{
    struct req_query *q = t;
    size_t i;

    if (strcmp(v, "any") == 0) {
        q->status = -1;
        return 0;
    }
    for (i = 0; i < REQ_NSTATUS; i++) {
        if (strcmp(v, req_status_names[i]) == 0) {
            q->status = (int)i;
            return 0;
        }
    }
    snprintf(why, whylen, "status: expected pending, approved, rejected, issued or any");
    return -1;
}

static int q_req_after(const char *v, void *t, char *why, size_t whylen)
{
    struct req_query *q = t;

    if (ops_int(v, 0, INT64_MAX, &q->after) != 0) {
        snprintf(why, whylen, "after: expected a request id");
        return -1;
    }
    return 0;
}

static int q_req_limit(const char *v, void *t, char *why, size_t whylen)
{
    struct req_query *q = t;

    if (ops_int(v, 1, SCEP_API_MAX_LIMIT, &q->limit) != 0) {
        snprintf(why, whylen, "limit: expected 1 to %d", SCEP_API_MAX_LIMIT);
        return -1;
    }
    return 0;
}

const struct api_qparam api_req_query[] = {
    {"status", "string", "pending (default), approved, rejected, issued or any", q_req_status},
    {"after", "integer", "only requests with a larger id (the last id of the page before)",
     q_req_after},
    {"limit", "integer", "items per page, 1 to 1000 (default 100)", q_req_limit},
    {NULL, NULL, NULL, NULL},
};

struct req_walk {
    json_t *items;
    const struct req_query *q;
    int64_t n;
    int more;
};

/* Stops the walk once the page is full: told apart from SCEP_ERR_*. */
#define OPS_PAGE_FULL 1

static int req_one(const struct scep_request_info *ri, void *arg)
{
    struct req_walk *w = arg;
    json_t *o;

    if (ri->id <= w->q->after)
        return 0;
    if (w->n == w->q->limit) {
        w->more = 1;
        return OPS_PAGE_FULL;
    }
    o = req_json(ri);
    if (o == NULL || json_array_append_new(w->items, o) != 0)
        return SCEP_ERR_NOMEM;
    w->n++;
    return 0;
}

void api_req_list(struct api_ctx *c)
{
    struct req_query q = {SCEP_REQ_PENDING, 0, SCEP_API_DEFAULT_LIMIT};
    struct req_walk w;
    json_t *o;
    int rc;

    if (api_query_apply(c, &q) != 0)
        return;
    memset(&w, 0, sizeof(w));
    w.q = &q;
    w.items = json_array();
    if (w.items == NULL) {
        api_problem(c, 500, "internal", "Out of memory", NULL, NULL);
        return;
    }
    rc = scep_admin_list_requests(c->app->store, q.status, req_one, &w);
    if (rc == OPS_PAGE_FULL && w.more)
        rc = 0;
    if (rc != 0) {
        json_decref(w.items);
        api_problem_store(c, rc, "listing requests");
        return;
    }
    o = json_pack("{s:o, s:b}", "items", w.items, "more", w.more);
    api_send_json(c, 200, o);
}

/* Approves or rejects the {id} of the path; see the two handlers. */
static void req_decide(struct api_ctx *c, int status)
{
    static const char *const keys[] = {"reason", NULL};
    static const char *const none[] = {NULL};
    struct scep_request_info *ri = NULL;
    const char *reason = NULL, *bad;
    json_t *body = NULL;
    int64_t id = 0;
    int rc;

    if (id_of_path(c, &id) != 0 || api_body(c, 1, &body) != 0)
        goto out;
    bad = api_body_unknown_key(body, status == SCEP_REQ_REJECTED ? keys : none);
    if (bad != NULL) {
        api_problem(c, 400, "invalid-field", "Unknown field", bad, bad);
        goto out;
    }
    if (body_str(body, "reason", &reason) != 0 ||
        (reason != NULL && (strlen(reason) > SCEP_ADMIN_REASON_MAX || strchr(reason, '\n')))) {
        api_problem(c, 400, "invalid-field", "reason must be one line of text",
                    "at most 512 bytes, no newline", "reason");
        goto out;
    }
    rc = scep_admin_decide(c->app->store, c->who.actor, id, status, reason, &ri);
    if (rc == SCEP_ERR_NOT_FOUND) {
        api_problem(c, 404, "not-found", "No request with that id", c->params[0], NULL);
        goto out;
    }
    if (rc == SCEP_ERR_EXISTS) {
        api_problem(c, 409, "not-pending", "The request is no longer pending", "nothing changed",
                    NULL);
        goto out;
    }
    if (rc == SCEP_ERR_INVALID_ARG) {
        api_problem(c, 400, "invalid-field", "reason is not acceptable", NULL, "reason");
        goto out;
    }
    if (rc != 0) {
        api_problem_store(c, rc, "deciding the request");
        goto out;
    }
    api_send_json(c, 200, req_json(ri));
out:
    scep_request_info_free(ri);
    json_decref(body);
}

void api_req_approve(struct api_ctx *c)
{
    req_decide(c, SCEP_REQ_APPROVED);
}

void api_req_reject(struct api_ctx *c)
{
    req_decide(c, SCEP_REQ_REJECTED);
}

/* ---- audit trail --------------------------------------------------- */

struct audit_query {
    int64_t after;
    int64_t limit;
};

static int q_audit_after(const char *v, void *t, char *why, size_t whylen)
{
    struct audit_query *q = t;

    if (ops_int(v, 0, INT64_MAX, &q->after) != 0) {
        snprintf(why, whylen, "after: expected an event id");
        return -1;
    }
    return 0;
}

static int q_audit_limit(const char *v, void *t, char *why, size_t whylen)
{
    struct audit_query *q = t;

    if (ops_int(v, 1, SCEP_API_MAX_LIMIT, &q->limit) != 0) {
        snprintf(why, whylen, "limit: expected 1 to %d", SCEP_API_MAX_LIMIT);
        return -1;
    }
    return 0;
}

const struct api_qparam api_audit_query[] = {
    {"after", "integer", "only events with a larger id (default 0: from the first)", q_audit_after},
    {"limit", "integer", "events per page, 1 to 1000 (default 100)", q_audit_limit},
    {NULL, NULL, NULL, NULL},
};

struct audit_walk {
    json_t *items;
    int64_t limit, n, last;
    int more;
};

static int audit_one(const struct scep_audit_event *ev, void *arg)
{
    struct audit_walk *w = arg;
    json_t *o;

    if (w->n == w->limit) {
        w->more = 1;
        return OPS_PAGE_FULL;
    }
    o = json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id", (json_int_t)ev->id, "time",
                  api_json_time(ev->time), "kind", api_json_str(ev->kind), "actor",
                  api_json_str(ev->actor), "transaction_id", api_json_str(ev->transaction_id),
                  "peer", api_json_str(ev->peer), "serial", api_json_str(ev->serial), "detail",
                  api_json_str(ev->detail), "hash", api_json_str(ev->hash));
    if (o == NULL || json_array_append_new(w->items, o) != 0)
        return SCEP_ERR_NOMEM;
    w->n++;
    w->last = ev->id;
    return 0;
}

void api_audit_list(struct api_ctx *c)
{
    struct audit_query q = {0, SCEP_API_DEFAULT_LIMIT};
    struct audit_walk w;
    int rc;

    if (api_query_apply(c, &q) != 0)
        return;
    memset(&w, 0, sizeof(w));
    w.limit = q.limit;
    w.last = q.after;
    w.items = json_array();
    if (w.items == NULL) {
        api_problem(c, 500, "internal", "Out of memory", NULL, NULL);
        return;
    }
    rc = scep_admin_list_audit(c->app->store, q.after, audit_one, &w);
    if (rc == OPS_PAGE_FULL && w.more)
        rc = 0;
    if (rc != 0) {
        json_decref(w.items);
        api_problem_store(c, rc, "reading the audit trail");
        return;
    }
    api_send_json(c, 200,
                  json_pack("{s:o, s:I, s:b}", "items", w.items, "next_after", (json_int_t)w.last,
                            "more", w.more));
}

void api_audit_verify(struct api_ctx *c)
{
    int64_t bad = 0;
    int rc = scep_admin_verify_audit(c->app->store, &bad);

    if (rc == 0) {
        api_send_json(c, 200, json_pack("{s:b, s:n}", "intact", 1, "first_bad_id"));
        return;
    }
    if (rc == SCEP_ERR_STORE && bad > 0) {
        api_send_json(c, 200,
                      json_pack("{s:b, s:I}", "intact", 0, "first_bad_id", (json_int_t)bad));
        return;
    }
    api_problem_store(c, rc, "verifying the audit trail");
}
