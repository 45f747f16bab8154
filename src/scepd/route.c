/*
 * scepd's route table (see route.h for the matching rules).  A fixed
 * array: the table is small, built once at start-up and read by every
 * worker without a lock, so a linear scan in insertion order is both the
 * simplest and a predictable rule for overlapping paths.
 */
#include "route.h"

#include <stdlib.h>
#include <string.h>

struct scepd_route {
    char path[SCEPD_MAX_ROUTE_PATH + 1];
    size_t path_len;
    enum scepd_match match;
    unsigned methods; /* with HEAD added where GET is */
    scepd_handler_fn *handler;
    const char *name;
};

struct scepd_router {
    struct scepd_route routes[SCEPD_MAX_ROUTES];
    size_t n;
};

/* Makes an empty table; *out: scepd_router_free().  Returns 0 or -1. */
int scepd_router_new(struct scepd_router **out)
{
    struct scepd_router *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return -1;
    *out = r;
    return 0;
}

/* Frees r.  Accepts NULL. */
void scepd_router_free(struct scepd_router *r)
{
    free(r);
}

/* Appends a route (see route.h).  Returns 0, or -1 for a bad argument
 * or a full table. */
int scepd_router_add(struct scepd_router *r, const char *path, enum scepd_match match,
                     unsigned methods, scepd_handler_fn *handler, const char *name)
{
    struct scepd_route *rt;
    size_t len;

    if (r == NULL || path == NULL || handler == NULL || methods == 0 || r->n >= SCEPD_MAX_ROUTES)
        return -1;
    if (match != SCEPD_MATCH_EXACT && match != SCEPD_MATCH_UNDER)
        return -1;
    len = strlen(path);
    if (len > SCEPD_MAX_ROUTE_PATH || (len > 0 && path[0] != '/'))
        return -1;
    /* "" is "every path", which only UNDER can mean. */
    if (len == 0 && match != SCEPD_MATCH_UNDER)
        return -1;
    rt = &r->routes[r->n];
    memcpy(rt->path, path, len);
    /* "/scep/" and "/scep" name one resource; "/" becomes "" (UNDER:
     * every path, EXACT: the root). */
    while (len > 0 && rt->path[len - 1] == '/')
        len--;
    if (len == 0 && match == SCEPD_MATCH_EXACT) {
        rt->path[0] = '/';
        len = 1;
    }
    rt->path[len] = '\0';
    rt->path_len = len;
    rt->match = match;
    rt->methods = methods;
    if (methods & SCEPD_M_GET)
        rt->methods |= SCEPD_M_HEAD;
    rt->handler = handler;
    rt->name = name != NULL ? name : "";
    r->n++;
    return 0;
}

/* Returns 1 when route rt's path covers the request path. */
static int route_path_matches(const struct scepd_route *rt, const char *path, size_t len)
{
    if (rt->match == SCEPD_MATCH_EXACT)
        return len == rt->path_len && memcmp(path, rt->path, len) == 0;
    if (len < rt->path_len || memcmp(path, rt->path, rt->path_len) != 0)
        return 0;
    return len == rt->path_len || path[rt->path_len] == '/';
}

/* Returns 1 when a and b name the same resource (same path and kind). */
static int route_same_path(const struct scepd_route *a, const struct scepd_route *b)
{
    return a->match == b->match && a->path_len == b->path_len &&
           memcmp(a->path, b->path, a->path_len) == 0;
}

/*
 * Finds the route for path and method; see route.h.  The first route
 * whose path matches names the resource; among the routes of that very
 * path, the first accepting method answers.
 */
int scepd_router_match(const struct scepd_router *r, const char *path, size_t len, unsigned method,
                       struct scepd_route_match *out)
{
    const struct scepd_route *first = NULL;
    unsigned allow = 0;
    size_t i;

    memset(out, 0, sizeof(*out));
    if (r == NULL || (path == NULL && len > 0))
        return SCEPD_ROUTE_NOT_FOUND;
    for (i = 0; i < r->n; i++) {
        const struct scepd_route *rt = &r->routes[i];

        if (first == NULL) {
            if (!route_path_matches(rt, path, len))
                continue;
            first = rt;
        } else if (!route_same_path(first, rt)) {
            continue;
        }
        if (rt->methods & method) {
            out->handler = rt->handler;
            out->name = rt->name;
            return SCEPD_ROUTE_OK;
        }
        allow |= rt->methods;
    }
    if (first == NULL)
        return SCEPD_ROUTE_NOT_FOUND;
    out->allow = allow;
    return SCEPD_ROUTE_METHOD;
}

/* Writes methods as an Allow value into buf (len bytes); returns buf. */
char *scepd_methods_allow(unsigned methods, char *buf, size_t len)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {
        {SCEPD_M_GET, "GET"},     {SCEPD_M_HEAD, "HEAD"},       {SCEPD_M_POST, "POST"},
        {SCEPD_M_PUT, "PUT"},     {SCEPD_M_DELETE, "DELETE"},   {SCEPD_M_OPTIONS, "OPTIONS"},
        {SCEPD_M_TRACE, "TRACE"}, {SCEPD_M_CONNECT, "CONNECT"}, {SCEPD_M_PATCH, "PATCH"},
    };
    size_t i, off = 0;

    if (len == 0)
        return buf;
    buf[0] = '\0';
    if (methods & SCEPD_M_GET)
        methods |= SCEPD_M_HEAD;
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        size_t n = strlen(names[i].name);
        size_t sep = off > 0 ? 2 : 0;

        if (!(methods & names[i].bit))
            continue;
        if (off + sep + n + 1 > len)
            break;
        if (sep)
            memcpy(buf + off, ", ", 2);
        memcpy(buf + off + sep, names[i].name, n);
        off += sep + n;
        buf[off] = '\0';
    }
    return buf;
}

/* Whether rest (n bytes) is "", "/" or SCEPD_CGI_SUFFIX. */
static int route_scep_tail(const char *rest, size_t n)
{
    size_t cgi = sizeof(SCEPD_CGI_SUFFIX) - 1;

    return n == 0 || (n == 1 && rest[0] == '/') ||
           (n == cgi && memcmp(rest, SCEPD_CGI_SUFFIX, cgi) == 0);
}

int scepd_scep_profile(const char *path, size_t len, const char *prefix, char *name, size_t size)
{
    size_t plen = strlen(prefix), n = 0;
    const char *rest;

    if (size == 0)
        return -1;
    name[0] = '\0';
    if (len < plen || memcmp(path, prefix, plen) != 0)
        return -1;
    rest = path + plen;
    len -= plen;
    if (route_scep_tail(rest, len))
        return 0;
    if (rest[0] != '/')
        return -1;
    rest++;
    len--;
    while (n < len && rest[n] != '/') {
        char ch = rest[n];

        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-'))
            return -1;
        n++;
    }
    /* "pkiclient.exe" has a '.', so it never reads as a profile name. */
    if (n == 0 || n >= size || !route_scep_tail(rest + n, len - n))
        return -1;
    memcpy(name, rest, n);
    name[n] = '\0';
    return 0;
}
