/*
 * Serving the web console's embedded files (console.h).  The headers
 * are the console's own, not the API's: the page may load its script,
 * style sheet and icon from this origin and talk to the API on it, and
 * nothing else (no inline script or style, no other origin, no frames,
 * no forms posted anywhere, no referrer).  The files are the same
 * until scepd is rebuilt, so an ETag lets a browser revalidate them
 * with a 304 instead of fetching them again.
 */
#include <string.h>

#include "console.h"
#include "request.h"
#include "route.h"

/* What the console may load: only its own files and its own API. */
#define CONSOLE_CSP                                                                                \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/* 1 when the If-None-Match value inm names etag (a list, or "*"). */
static int etag_matches(const char *inm, const char *etag)
{
    size_t n = strlen(etag);
    const char *p = inm;

    if (inm == NULL)
        return 0;
    if (strcmp(inm, "*") == 0)
        return 1;
    while ((p = strstr(p, etag)) != NULL) {
        /* A weak validator (W/"...") compares equal too (RFC 9110
         * 13.1.2: If-None-Match uses the weak comparison). */
        if ((p == inm || p[-1] == ' ' || p[-1] == ',' || p[-1] == '/') &&
            (p[n] == '\0' || p[n] == ',' || p[n] == ' '))
            return 1;
        p += n;
    }
    return 0;
}

int scepd_console_serve(struct scepd_request *req, unsigned method)
{
    const struct scepd_console_asset *a = NULL;
    const char *path;
    size_t len = 0, i;

    if (method != SCEPD_M_GET)
        return 0;
    path = scepd_request_path(req, &len);
    for (i = 0; path != NULL && i < scepd_console_nassets; i++) {
        if (strlen(scepd_console_assets[i].path) == len &&
            memcmp(scepd_console_assets[i].path, path, len) == 0) {
            a = &scepd_console_assets[i];
            break;
        }
    }
    if (a == NULL)
        return 0;
    (void)scepd_reply_header(req, "Content-Security-Policy", CONSOLE_CSP);
    (void)scepd_reply_header(req, "X-Frame-Options", "DENY");
    (void)scepd_reply_header(req, "X-Content-Type-Options", "nosniff");
    (void)scepd_reply_header(req, "Referrer-Policy", "no-referrer");
    (void)scepd_reply_header(req, "Cross-Origin-Opener-Policy", "same-origin");
    /* Revalidated at every load, so a new scepd's console is never
     * mixed with an old one's script. */
    (void)scepd_reply_header(req, "Cache-Control", "no-cache");
    (void)scepd_reply_header(req, "ETag", a->etag);
    if (etag_matches(scepd_request_header(req, "If-None-Match"), a->etag)) {
        scepd_reply_send(req, 304, a->type, NULL, 0);
        return 1;
    }
    scepd_reply_send(req, 200, a->type, a->data, a->len);
    return 1;
}
