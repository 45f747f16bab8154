/*
 * The web console (console.c): static files (src/scepd/console/) built
 * into scepd by embed_assets.cmake and served on the admin listener at
 * / and /console/..., without authentication (they hold no data: the
 * page signs in with a token and calls the API), with a strict
 * Content-Security-Policy, an ETag and Cache-Control: no-cache.
 */
#ifndef SCEPD_CONSOLE_H
#define SCEPD_CONSOLE_H

#include <stddef.h>

struct scepd_request;

/* One embedded file. */
struct scepd_console_asset {
    const char *path; /* URL path: "/", "/console/app.js" */
    const char *type; /* Content-Type */
    const unsigned char *data;
    size_t len;
    const char *etag; /* quoted, as the ETag header carries it */
};

/* The embedded files (generated console_assets.c), and their number. */
extern const struct scepd_console_asset scepd_console_assets[];
extern const size_t scepd_console_nassets;

/*
 * Serves the console file at the request's path when there is one (GET
 * or HEAD): 200 with the file, or 304 when If-None-Match names its
 * ETag, with the console's security headers.  Returns 1 when it
 * replied, 0 when the path is no console file (the API's to answer).
 */
int scepd_console_serve(struct scepd_request *req, unsigned method);

#endif
