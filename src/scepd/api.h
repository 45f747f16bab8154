/*
 * scepd's admin API: JSON over HTTPS on the admin listener (admin_listen),
 * a thin adapter over lib/admin.  The listener's route table has one
 * route, every path, to api_dispatch (api.c), which matches the request
 * against the API's own table of routes (method, a path pattern with
 * {parameters}, the least role, the handler): the same table
 * /api/v1/openapi.json is generated from (api_openapi.c), so that the
 * document lists exactly what is served.
 *
 * Every request is authenticated (a bearer token, lib/admin/tokens.c,
 * or a client certificate verified against admin_client_ca) except
 * /healthz; failed authentications are rate-limited per address
 * (limits.h) and counted.  Errors are application/problem+json (RFC
 * 9457) with a stable type URI; every reply carries the security
 * headers.  State changes are audited by lib/admin with the caller as
 * actor ("api:NAME").
 *
 * Handlers (api_certs.c, api_ops.c) get a struct api_ctx, parse their
 * query through api_query_apply() and their body through api_body(),
 * call lib/admin and answer with api_send_json() or api_problem().
 */
#ifndef SCEPD_API_H
#define SCEPD_API_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "admin/admin.h"
#include "common/server_limits.h"

struct scep_config;
struct scepd_request;
struct scepd_app;
struct scepd_router;

/* Path parameters one route has at most, and the bytes of one. */
#define API_MAX_PARAMS 2
#define API_PARAM_MAX 128

/* The prefix of every problem type (RFC 9457 3.1.1): a URN, so that the
 * identifier is stable and promises no web page. */
#define API_PROBLEM_PREFIX "urn:scepd:problem:"

struct api_route;

/* What a handler sees of one request; lives on api_dispatch's stack. */
struct api_ctx {
    struct scepd_request *req;
    struct scepd_app *app;
    const struct api_route *route;
    struct scep_admin_principal who;                /* the caller (empty for /healthz) */
    char params[API_MAX_PARAMS][API_PARAM_MAX + 1]; /* {parameters}, decoded */
};

typedef void api_fn(struct api_ctx *c);

/*
 * One query parameter a route accepts: its name, OpenAPI type
 * ("string", "integer", "boolean") and description, and how it is
 * applied to the handler's target (NULL: the handler reads it itself
 * from the target api_query_apply fills).  apply returns 0, or -1 with
 * why (whylen bytes) saying what is wrong with value.
 */
struct api_qparam {
    const char *name;
    const char *type;
    const char *desc;
    int (*apply)(const char *value, void *target, char *why, size_t whylen);
};

/* One API route; the table is api_routes[] (api.c). */
struct api_route {
    unsigned method;                /* one SCEPD_M_* bit (HEAD is answered as GET) */
    const char *pattern;            /* "/api/v1/certificates/{serial}" */
    int role;                       /* least enum scep_admin_role; 0: no authentication */
    api_fn *fn;                     /* the handler */
    const char *op_id;              /* OpenAPI operationId */
    const char *summary;            /* OpenAPI summary */
    const struct api_qparam *query; /* NULL-name terminated, or NULL: none */
    const char *body;               /* components/schemas name of the JSON body, or NULL */
    int status;                     /* the success status (200, 201) */
    const char *errors;             /* other statuses it answers, "400,404,409" */
    /* NULL: always served; else served (and documented) only when it
     * returns 1 for the configuration. */
    int (*enabled)(const struct scep_config *cfg);
};

/* The table of every route, and its length. */
extern const struct api_route api_routes[];
extern const size_t api_nroutes;

/* Adds the admin listener's one route (every path to the API) to r.
 * Returns 0 or -1. */
int scepd_routes_admin(struct scepd_router *r);

/*
 * Sends o (a reference is stolen, NULL: out of memory, 500) as
 * application/json with status, and the security headers.
 */
void api_send_json(struct api_ctx *c, int status, json_t *o);

/*
 * Sends an application/problem+json reply (RFC 9457): status, type
 * API_PROBLEM_PREFIX slug, title, detail (may be NULL) and, for a 400
 * about one input, field (may be NULL) naming it.
 */
void api_problem(struct api_ctx *c, int status, const char *slug, const char *title,
                 const char *detail, const char *field);

/* api_problem for a lib/admin or store failure rc (500, or 503 when the
 * database cannot be reached), naming what failed. */
void api_problem_store(struct api_ctx *c, int rc, const char *what);

/*
 * Applies the request's query string to target through the route's
 * parameters: each name=value (percent-decoded, at most
 * SCEP_API_MAX_PARAM bytes) goes to its parameter's apply.  A parameter
 * the route does not know, given twice, or refused by apply is a 400
 * naming it (sent here).  Returns 0, or -1 after replying.
 */
int api_query_apply(struct api_ctx *c, void *target);

/*
 * The request's JSON body as an object (api_body.c): at most
 * SCEP_API_MAX_BODY bytes (413), nesting at most SCEP_API_MAX_DEPTH,
 * no duplicate keys, an object (400).  An empty body is an empty object
 * when empty_ok.  Returns 0 with *out (json_decref), or -1 after
 * replying.
 */
int api_body(struct api_ctx *c, int empty_ok, json_t **out);

/*
 * The parser behind api_body, pure for the fuzzer: parses len bytes at
 * b with the limits above.  Returns 0 with *out (json_decref), 413 when
 * too large, or 400 with why (whylen bytes) saying what is wrong.
 */
int api_body_parse(const unsigned char *b, size_t len, json_t **out, char *why, size_t whylen);

/*
 * Checks that obj has no key outside the NULL-terminated allowed list.
 * Returns NULL, or the first unknown key (borrowed from obj).
 */
const char *api_body_unknown_key(json_t *obj, const char *const *allowed);

/* A Unix time as RFC 3339 UTC ("2026-12-02T07:38:24Z"), JSON null for
 * 0.  New reference (NULL on ENOMEM). */
json_t *api_json_time(int64_t t);

/* The SANs text of the store ("DNS:a, IP:b"; NULL: none) as a JSON
 * array of "TYPE:VALUE" strings.  New reference; NULL on ENOMEM. */
json_t *api_json_sans(const char *sans);

/* A string, JSON null for NULL.  New reference. */
json_t *api_json_str(const char *s);

/* "1"/"true" and "0"/"false" as apply functions write them (int *). */
int api_parse_bool(const char *value, int *out);

/* 1 when route r is served under cfg (its enabled predicate). */
int api_route_enabled(const struct api_route *r, const struct scep_config *cfg);

/* The /api/v1/openapi.json document of the routes of api_routes served
 * under cfg (api_openapi.c).  New reference; NULL on ENOMEM. */
json_t *api_openapi(const struct scep_config *cfg);

/* Handlers, by file. */
api_fn api_certs_list, api_cert_get, api_cert_revoke, api_cas; /* api_certs.c */
api_fn api_chal_new, api_chal_list, api_chal_revoke;           /* api_ops.c */
api_fn api_req_list, api_req_approve, api_req_reject, api_audit_list, api_audit_verify;
api_fn api_token_list, api_token_new, api_token_revoke; /* api_tokens.c */
api_fn api_cert_import;                                 /* api_import.c */
api_fn api_stats;                                       /* api_stats.c */
extern const struct api_qparam api_certs_query[], api_chal_query[], api_req_query[],
    api_audit_query[];

#endif
