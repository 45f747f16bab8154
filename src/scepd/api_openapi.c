/*
 * /api/v1/openapi.json: an OpenAPI 3.0 document made from api_routes[]
 * (api.c), the table the dispatcher matches requests against, with the
 * same predicate for routes the configuration turns off, so that the
 * document lists exactly the routes served, with their path and
 * query parameters, bodies, roles and statuses.  The request body
 * schemas are written here, next to nothing else: they are the only
 * part the table does not hold.
 */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "route.h"
#include "scepd.h"

/* The lowercase OpenAPI name of method bit m. */
static const char *oa_method(unsigned m)
{
    switch (m) {
    case SCEPD_M_GET:
        return "get";
    case SCEPD_M_POST:
        return "post";
    case SCEPD_M_PUT:
        return "put";
    case SCEPD_M_DELETE:
        return "delete";
    case SCEPD_M_PATCH:
        return "patch";
    default:
        return "options";
    }
}

/* The parameters of route r: its {path} segments and its query. */
static json_t *oa_params(const struct api_route *r)
{
    json_t *a = json_array();
    const char *p = r->pattern;
    size_t i;

    while (a != NULL && (p = strchr(p, '{')) != NULL) {
        const char *end = strchr(p, '}');

        if (end == NULL)
            break;
        json_array_append_new(a, json_pack("{s:s%, s:s, s:b, s:{s:s}}", "name", p + 1,
                                           (size_t)(end - p - 1), "in", "path", "required", 1,
                                           "schema", "type", "string"));
        p = end;
    }
    for (i = 0; a != NULL && r->query != NULL && r->query[i].name != NULL; i++)
        json_array_append_new(a,
                              json_pack("{s:s, s:s, s:s, s:b, s:{s:s}}", "name", r->query[i].name,
                                        "in", "query", "description", r->query[i].desc, "required",
                                        0, "schema", "type", r->query[i].type));
    return a;
}

/* The responses of route r: its success status, its errors (as the
 * Problem response) and, when authenticated, 401, 403 and 429. */
static json_t *oa_responses(const struct api_route *r)
{
    char codes[128], ok[8];
    const char *p;
    json_t *o = json_object();
    const char *ctype = strcmp(r->pattern, "/metrics") == 0 ? "text/plain" : "application/json";

    if (o == NULL)
        return NULL;
    snprintf(ok, sizeof(ok), "%d", r->status);
    json_object_set_new(o, ok,
                        json_pack("{s:s, s:{s:{s:{s:s}}}}", "description", r->summary, "content",
                                  ctype, "schema", "type",
                                  strcmp(ctype, "text/plain") == 0 ? "string" : "object"));
    snprintf(codes, sizeof(codes), "%s%s%s", r->errors, r->errors[0] != '\0' ? "," : "",
             r->role > 0 ? "401,403,429" : "");
    for (p = codes; *p != '\0';) {
        size_t n = strcspn(p, ",");
        char code[8];

        if (n > 0 && n < sizeof(code)) {
            memcpy(code, p, n);
            code[n] = '\0';
            json_object_set_new(o, code,
                                json_pack("{s:s}", "$ref", "#/components/responses/Problem"));
        }
        p += n + (p[n] == ',');
    }
    return o;
}

/* The schemas of the request bodies and of a problem. */
static json_t *oa_schemas(void)
{
    return json_pack(
        "{s:{s:s, s:{s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}}},"
        " s:{s:s, s:b, s:{s:{s:s, s:s}}},"
        " s:{s:s, s:b, s:{s:{s:s}, s:{s:s}, s:{s:s, s:{s:s}}, s:{s:s}, s:{s:s}}},"
        " s:{s:s, s:b, s:{s:{s:s}}},"
        " s:{s:s, s:b, s:[s, s], s:{s:{s:s}, s:{s:s, s:[s, s, s]}, s:{s:s}}}}",
        "Problem", "type", "object", "properties", "type", "type", "string", "title", "type",
        "string", "status", "type", "integer", "detail", "type", "string", "instance", "type",
        "string", "field", "type", "string", "RevokeRequest", "type", "object",
        "additionalProperties", 0, "properties", "reason", "type", "string", "description",
        "CRLReason name (RFC 5280 5.3.1), e.g. keyCompromise; absent: none", "ChallengeRequest",
        "type", "object", "additionalProperties", 0, "properties", "profile", "type", "string",
        "subject", "type", "string", "sans", "type", "array", "items", "type", "string", "ttl",
        "type", "integer", "uses", "type", "integer", "RejectRequest", "type", "object",
        "additionalProperties", 0, "properties", "reason", "type", "string", "TokenRequest", "type",
        "object", "additionalProperties", 0, "required", "name", "role", "properties", "name",
        "type", "string", "role", "type", "string", "enum", "admin", "operator", "auditor", "ttl",
        "type", "integer");
}

/* The schemas above and the PEM text of an import. */
static json_t *oa_all_schemas(void)
{
    json_t *o = oa_schemas();

    if (o != NULL)
        json_object_set_new(o, "PemCertificates",
                            json_pack("{s:s, s:s}", "type", "string", "description",
                                      "one or more PEM CERTIFICATE blocks (RFC 7468)"));
    return o;
}

json_t *api_openapi(const struct scep_config *cfg)
{
    json_t *doc = NULL, *paths = json_object();
    size_t i;

    if (paths == NULL)
        return NULL;
    for (i = 0; i < api_nroutes; i++) {
        const struct api_route *r = &api_routes[i];
        json_t *item, *op;

        if (!api_route_enabled(r, cfg))
            continue;
        item = json_object_get(paths, r->pattern);
        if (item == NULL) {
            item = json_object();
            if (item == NULL || json_object_set_new(paths, r->pattern, item) != 0)
                goto out;
        }
        op = json_pack("{s:s, s:s, s:o, s:o, s:s}", "operationId", r->op_id, "summary", r->summary,
                       "parameters", oa_params(r), "responses", oa_responses(r), "x-scepd-role",
                       r->role > 0 ? scep_admin_role_name(r->role) : "none");
        if (op == NULL)
            goto out;
        json_object_set_new(op, "security",
                            r->role > 0 ? json_pack("[{s:[]}]", "bearer") : json_array());
        if (r->body != NULL && strcmp(r->body, "PemCertificates") == 0) {
            /* The one body that is not JSON: certificates as bytes. */
            json_object_set_new(op, "requestBody",
                                json_pack("{s:b, s:{s:{s:{s:s}}, s:{s:{s:s, s:s}}}}", "required", 1,
                                          "content", "application/pem-certificate-chain", "schema",
                                          "$ref", "#/components/schemas/PemCertificates",
                                          "application/pkix-cert", "schema", "type", "string",
                                          "format", "binary"));
        } else if (r->body != NULL) {
            char ref[96];

            snprintf(ref, sizeof(ref), "#/components/schemas/%s", r->body);
            json_object_set_new(op, "requestBody",
                                json_pack("{s:b, s:{s:{s:{s:s}}}}", "required",
                                          r->method == SCEPD_M_POST && r->status == 201 &&
                                              strcmp(r->body, "TokenRequest") == 0,
                                          "content", "application/json", "schema", "$ref", ref));
        }
        if (json_object_set_new(item, oa_method(r->method), op) != 0)
            goto out;
    }
    doc = json_pack(
        "{s:s, s:{s:s, s:s, s:s}, s:o, s:{s:{s:{s:s, s:s, s:s}}, s:{s:{s:s, s:{s:{s:{s:s}}}}},"
        " s:o}}",
        "openapi", "3.0.3", "info", "title", "scepd admin API", "version", SCEPD_VERSION,
        "description",
        "The admin API of scepd(8): authenticate with Authorization: Bearer TOKEN "
        "(scepctl token new) or a client certificate (admin_client_ca). Errors are "
        "application/problem+json (RFC 9457).",
        "paths", paths, "components", "securitySchemes", "bearer", "type", "http", "scheme",
        "bearer", "description",
        "a token from scepctl token new; a client certificate verified against "
        "admin_client_ca is accepted instead (TLS, not described in OpenAPI 3.0)",
        "responses", "Problem", "description", "An error (RFC 9457)", "content",
        "application/problem+json", "schema", "$ref", "#/components/schemas/Problem", "schemas",
        oa_all_schemas());
    paths = NULL;
out:
    json_decref(paths);
    return doc;
}
