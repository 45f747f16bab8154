/*
 * POST /api/v1/certificates/import: certificates someone else issued,
 * in the body as PEM (one or more CERTIFICATE blocks) or one DER
 * certificate, added to the inventory as external ones
 * (lib/admin/import_buf.c) so that expiry monitoring covers them.  The
 * body is bytes, not JSON: its media type says which, and its size is
 * bounded by SCEP_API_MAX_IMPORT before OpenSSL sees it.  Each stored
 * certificate is audited by lib/admin with the caller as actor; the
 * answer counts what was imported and what was known already.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <scep/error.h>

#include "api.h"
#include "request.h"
#include "scepd.h"

/* The media types an import body may have (the parameters after ';'
 * are ignored).  PEM, RFC 7468's and the common one; DER, RFC 2585's. */
static const char *const import_types[] = {
    "application/pem-certificate-chain",
    "application/x-pem-file",
    "application/pkix-cert",
    "application/octet-stream",
    "text/plain",
    NULL,
};

/* 1 when the Content-Type value ct names one of import_types. */
static int import_type_ok(const char *ct)
{
    size_t n, i;

    if (ct == NULL)
        return 0;
    n = strcspn(ct, "; \t");
    for (i = 0; import_types[i] != NULL; i++)
        if (strlen(import_types[i]) == n && strncasecmp(ct, import_types[i], n) == 0)
            return 1;
    return 0;
}

/* Adds each certificate's outcome to the items array (arg). */
static void import_one(const char *where, int rc, const struct scep_cert_info *ci, const char *why,
                       void *arg)
{
    json_t *items = arg, *o;

    (void)where;
    if (rc == 0 || rc == SCEP_ERR_EXISTS)
        o = json_pack("{s:s, s:o, s:o, s:o, s:o}", "result", rc == 0 ? "imported" : "duplicate",
                      "serial", api_json_str(ci != NULL ? ci->serial : NULL), "subject",
                      api_json_str(ci != NULL ? ci->subject : NULL), "fingerprint",
                      api_json_str(ci != NULL ? ci->fingerprint : NULL), "not_after",
                      ci != NULL ? api_json_time(ci->not_after) : json_null());
    else
        o = json_pack("{s:s, s:o}", "result", "failed", "detail", api_json_str(why));
    if (o != NULL)
        json_array_append_new(items, o);
}

void api_cert_import(struct api_ctx *c)
{
    struct scep_admin_import_stats st;
    const unsigned char *b = NULL;
    size_t len = 0;
    char why[256];
    json_t *items = NULL;
    int rc;

    if (!import_type_ok(scepd_request_header(c->req, "Content-Type"))) {
        api_problem(c, 415, "unsupported-media-type", "The body must be certificates",
                    "Content-Type: application/pem-certificate-chain (PEM) or "
                    "application/pkix-cert (DER)",
                    NULL);
        return;
    }
    if (scepd_request_body(c->req, &b, &len) != 0) {
        api_problem(c, 500, "internal", "Out of memory", NULL, NULL);
        return;
    }
    if (len > SCEP_API_MAX_IMPORT) {
        snprintf(why, sizeof(why), "at most %d bytes in one import", SCEP_API_MAX_IMPORT);
        api_problem(c, 413, "body-too-large", "Request body too large", why, NULL);
        return;
    }
    if (len == 0) {
        api_problem(c, 400, "invalid-body", "No certificate in the body",
                    "send PEM CERTIFICATE blocks or one DER certificate", NULL);
        return;
    }
    items = json_array();
    if (items == NULL) {
        api_problem(c, 500, "internal", "Out of memory", NULL, NULL);
        return;
    }
    memset(&st, 0, sizeof(st));
    rc = scep_admin_import_buffer(c->app->store, c->who.actor, b, len, c->who.actor, import_one,
                                  items, &st, why, sizeof(why));
    if (rc == SCEP_ERR_DER || rc == SCEP_ERR_TRAILING || rc == SCEP_ERR_NOT_FOUND ||
        (rc == SCEP_ERR_TOO_LARGE && st.certs == 0)) {
        api_problem(c, 400, "invalid-body", "The body does not hold acceptable certificates", why,
                    NULL);
        goto out;
    }
    if (rc != 0 && st.imported + st.duplicates == 0) {
        if (rc == SCEP_ERR_TOO_LARGE || rc == SCEP_ERR_INVALID_ARG)
            api_problem(c, 400, "invalid-body", "No certificate in the body could be stored", why,
                        NULL);
        else
            api_problem_store(c, rc, "importing");
        goto out;
    }
    /* A partial failure still answers 200: what was stored is stored,
     * and each item says how it went. */
    api_send_json(c, 200,
                  json_pack("{s:I, s:I, s:I, s:O}", "imported", (json_int_t)st.imported,
                            "duplicates", (json_int_t)st.duplicates, "failed",
                            (json_int_t)st.failed, "items", items));
out:
    json_decref(items);
}
