/*
 * scepd's route table: which handler answers a request path, and with
 * which methods.  A listener serves one table (listener.h); the table is
 * built once at start-up and only read afterwards, by every worker.
 *
 * Matching is a pure function of the table, the path and the method: no
 * libevent, no I/O, so it is unit-tested on its own
 * (tests/unit/test_scepd_route.c).  The rules:
 *
 *   - Routes are tried in the order they were added; the first whose path
 *     matches decides the resource.  A path is matched EXACT ("/healthz"
 *     only) or UNDER ("/scep", "/scep/" and anything below "/scep/"; an
 *     empty path matches every path).
 *   - Several routes may share one path (same text and kind), each with
 *     its own methods and handler, as a REST resource will: the first of
 *     them that accepts the method answers.
 *   - HEAD is accepted wherever GET is; the handler runs as for GET and
 *     the HTTP layer sends no body.
 *   - A path that matches but no method: SCEPD_ROUTE_METHOD, with the
 *     methods the resource does accept for the Allow header (RFC 9110
 *     15.5.6).  No path matches: SCEPD_ROUTE_NOT_FOUND.
 *
 * Adding an endpoint is one scepd_router_add() call (see handlers.c).
 */
#ifndef SCEPD_ROUTE_H
#define SCEPD_ROUTE_H

#include <stddef.h>

/* Methods as bits, independent of libevent's numbering. */
#define SCEPD_M_GET 0x001u
#define SCEPD_M_HEAD 0x002u
#define SCEPD_M_POST 0x004u
#define SCEPD_M_PUT 0x008u
#define SCEPD_M_DELETE 0x010u
#define SCEPD_M_OPTIONS 0x020u
#define SCEPD_M_TRACE 0x040u
#define SCEPD_M_CONNECT 0x080u
#define SCEPD_M_PATCH 0x100u

/* How a route's path is compared with the request path. */
enum scepd_match {
    SCEPD_MATCH_EXACT = 0, /* the path itself */
    SCEPD_MATCH_UNDER = 1  /* the path, or the path followed by '/' and anything */
};

/* Results of scepd_router_match(). */
enum scepd_route_result { SCEPD_ROUTE_OK = 0, SCEPD_ROUTE_NOT_FOUND = 1, SCEPD_ROUTE_METHOD = 2 };

/* Most routes one table holds, and the longest route path. */
#define SCEPD_MAX_ROUTES 32
#define SCEPD_MAX_ROUTE_PATH 255

struct scepd_request;
struct scepd_app;

/*
 * A handler answers one request: it reads the request and writes exactly
 * one reply through request.h.  app is the worker's application state
 * (the SCEP service, the metrics), which the route table cannot hold
 * because the table is shared by every worker.
 */
typedef void scepd_handler_fn(struct scepd_request *req, struct scepd_app *app);

struct scepd_router; /* opaque */

/* What a match found; pointers borrow from the router. */
struct scepd_route_match {
    scepd_handler_fn *handler; /* SCEPD_ROUTE_OK only */
    const char *name;          /* the route's name (logs), SCEPD_ROUTE_OK only */
    unsigned allow;            /* SCEPD_ROUTE_METHOD: methods the path accepts */
};

/* Makes an empty table.  Returns 0 or -1 (out of memory); *out:
 * scepd_router_free(). */
int scepd_router_new(struct scepd_router **out);

/* Frees r.  Accepts NULL. */
void scepd_router_free(struct scepd_router *r);

/*
 * Appends a route: path (copied; must start with '/', or be "" with
 * SCEPD_MATCH_UNDER for every path; a trailing '/' is dropped so "/scep/"
 * and "/scep" are one route), match, methods (SCEPD_M_* bits; HEAD is
 * implied by GET), handler and a short static name.  Returns 0, or -1
 * for a bad argument or a full table.
 */
int scepd_router_add(struct scepd_router *r, const char *path, enum scepd_match match,
                     unsigned methods, scepd_handler_fn *handler, const char *name);

/*
 * Finds the route for path (len bytes, not NUL-terminated; no query) and
 * method (one SCEPD_M_* bit).  Fills *out and returns enum
 * scepd_route_result.
 */
int scepd_router_match(const struct scepd_router *r, const char *path, size_t len, unsigned method,
                       struct scepd_route_match *out);

/*
 * Writes methods as an Allow header value ("GET, HEAD, POST"; HEAD added
 * wherever GET is) into buf (len bytes, NUL-terminated, cut if short).
 * Returns buf.
 */
char *scepd_methods_allow(unsigned methods, char *buf, size_t len);

/* The suffix Cisco IOS and other clients append to the SCEP URL. */
#define SCEPD_CGI_SUFFIX "/pkiclient.exe"

/*
 * The SCEP profile that path (len bytes, raw) names below prefix (the
 * SCEP route's path, without a trailing '/'): "" for prefix itself,
 * prefix "/" and prefix "/pkiclient.exe"; NAME for prefix "/NAME", with
 * "/" or "/pkiclient.exe" optionally after it.  NAME is 1 to size-1 of
 * A-Z a-z 0-9 _ - (whether a profile of that name exists is the
 * service's question).  Returns 0 with name set (NUL-terminated), or -1
 * for any other path.
 */
int scepd_scep_profile(const char *path, size_t len, const char *prefix, char *name, size_t size);

#endif
