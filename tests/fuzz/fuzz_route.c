/*
 * libFuzzer harness: scepd's route matching (src/scepd/route.c, compiled
 * into this program), which sees the raw path of every HTTP request.  The
 * first byte picks the method bit, the rest is the path (not
 * NUL-terminated, as http.c hands it over).  The table has scepd's shape:
 * exact routes, a prefix and the CGI path.  Checks that a match names a
 * handler, that a 405 names the methods of the resource and never the
 * one asked for, and that the Allow text fits and is terminated.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "route.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct scepd_router *table;

static void h_any(struct scepd_request *req, struct scepd_app *app)
{
    (void)req;
    (void)app;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (scepd_router_new(&table) != 0 ||
        scepd_router_add(table, "/healthz", SCEPD_MATCH_EXACT, SCEPD_M_GET, h_any, "h") != 0 ||
        scepd_router_add(table, "/scep/", SCEPD_MATCH_UNDER, SCEPD_M_GET | SCEPD_M_POST, h_any,
                         "s") != 0 ||
        scepd_router_add(table, "/cgi-bin/pkiclient.exe", SCEPD_MATCH_UNDER,
                         SCEPD_M_GET | SCEPD_M_POST, h_any, "s") != 0 ||
        scepd_router_add(table, "/api/v1/certs", SCEPD_MATCH_EXACT, SCEPD_M_DELETE, h_any, "d") !=
            0)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct scepd_route_match m;
    unsigned method;
    char allow[96];
    char *path;
    int rc;

    if (size == 0)
        return 0;
    method = 1u << (data[0] % 10); /* 0x200: a method no route knows */
    /* A copy of exactly size - 1 bytes, so ASan sees any over-read. */
    path = malloc(size - 1 > 0 ? size - 1 : 1);
    if (path == NULL)
        return 0;
    memcpy(path, data + 1, size - 1);
    rc = scepd_router_match(table, path, size - 1, method, &m);
    if (rc == SCEPD_ROUTE_OK && (m.handler == NULL || m.name == NULL))
        abort();
    if (rc == SCEPD_ROUTE_METHOD && (m.allow == 0 || (m.allow & method) != 0))
        abort();
    if (rc != SCEPD_ROUTE_OK && rc != SCEPD_ROUTE_METHOD && rc != SCEPD_ROUTE_NOT_FOUND)
        abort();
    scepd_methods_allow(m.allow, allow, sizeof(allow));
    if (memchr(allow, '\0', sizeof(allow)) == NULL)
        abort();
    free(path);
    return 0;
}
