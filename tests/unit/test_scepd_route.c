/*
 * Unit tests of scepd's route table (src/scepd/route.c), which is a pure
 * function of the table, the path and the method: exact and prefix
 * matches, the precedence of earlier routes, HEAD wherever GET is, 405
 * with the Allow set of the matched resource, routes sharing a path with
 * different methods, the configured "/" prefix, and the limits of
 * scepd_router_add.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "route.h"

/* Handlers are only compared by address; they never run here. */
static void h_scep(struct scepd_request *req, struct scepd_app *app)
{
    (void)req;
    (void)app;
}

static void h_health(struct scepd_request *req, struct scepd_app *app)
{
    (void)req;
    (void)app;
}

static void h_list(struct scepd_request *req, struct scepd_app *app)
{
    (void)req;
    (void)app;
}

static void h_create(struct scepd_request *req, struct scepd_app *app)
{
    (void)req;
    (void)app;
}

/* scepd's own table with prefix. */
static struct scepd_router *scep_table(const char *prefix)
{
    struct scepd_router *r = NULL;

    assert_int_equal(scepd_router_new(&r), 0);
    assert_int_equal(
        scepd_router_add(r, "/healthz", SCEPD_MATCH_EXACT, SCEPD_M_GET, h_health, "healthz"), 0);
    assert_int_equal(
        scepd_router_add(r, prefix, SCEPD_MATCH_UNDER, SCEPD_M_GET | SCEPD_M_POST, h_scep, "scep"),
        0);
    assert_int_equal(scepd_router_add(r, "/cgi-bin/pkiclient.exe", SCEPD_MATCH_UNDER,
                                      SCEPD_M_GET | SCEPD_M_POST, h_scep, "scep"),
                     0);
    return r;
}

static int match(const struct scepd_router *r, const char *path, unsigned method,
                 struct scepd_route_match *m)
{
    return scepd_router_match(r, path, strlen(path), method, m);
}

static void test_prefix_and_suffixes(void **state)
{
    struct scepd_router *r = scep_table("/scep");
    struct scepd_route_match m;
    const char *yes[] = {"/scep",
                         "/scep/",
                         "/scep/pkiclient.exe",
                         "/scep/a/b",
                         "/cgi-bin/pkiclient.exe",
                         "/cgi-bin/pkiclient.exe/x"};
    const char *no[] = {"/scepx",    "/sce",       "/", "", "/cgi-bin/pkiclient.exe2",
                        "/healthz/", "/other/scep"};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        assert_int_equal(match(r, yes[i], SCEPD_M_GET, &m), SCEPD_ROUTE_OK);
        assert_ptr_equal(m.handler, h_scep);
        assert_string_equal(m.name, "scep");
    }
    for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        assert_int_equal(match(r, no[i], SCEPD_M_GET, &m), SCEPD_ROUTE_NOT_FOUND);
    assert_int_equal(match(r, "/healthz", SCEPD_M_GET, &m), SCEPD_ROUTE_OK);
    assert_ptr_equal(m.handler, h_health);
    scepd_router_free(r);
}

/* Not NUL-terminated input: only len bytes count. */
static void test_length_not_nul(void **state)
{
    struct scepd_router *r = scep_table("/scep");
    struct scepd_route_match m;
    const char buf[] = "/scepXYZ?operation=GetCACaps";

    (void)state;
    assert_int_equal(scepd_router_match(r, buf, 5, SCEPD_M_GET, &m), SCEPD_ROUTE_OK);
    assert_int_equal(scepd_router_match(r, buf, 6, SCEPD_M_GET, &m), SCEPD_ROUTE_NOT_FOUND);
    assert_int_equal(scepd_router_match(r, NULL, 0, SCEPD_M_GET, &m), SCEPD_ROUTE_NOT_FOUND);
    scepd_router_free(r);
}

static void test_head_and_405(void **state)
{
    struct scepd_router *r = scep_table("/scep/");
    struct scepd_route_match m;
    char allow[96];

    (void)state;
    assert_int_equal(match(r, "/scep", SCEPD_M_HEAD, &m), SCEPD_ROUTE_OK);
    assert_int_equal(match(r, "/scep", SCEPD_M_POST, &m), SCEPD_ROUTE_OK);
    assert_int_equal(match(r, "/healthz", SCEPD_M_HEAD, &m), SCEPD_ROUTE_OK);

    assert_int_equal(match(r, "/scep", SCEPD_M_DELETE, &m), SCEPD_ROUTE_METHOD);
    assert_null(m.handler);
    assert_string_equal(scepd_methods_allow(m.allow, allow, sizeof(allow)), "GET, HEAD, POST");
    assert_int_equal(match(r, "/healthz", SCEPD_M_POST, &m), SCEPD_ROUTE_METHOD);
    assert_string_equal(scepd_methods_allow(m.allow, allow, sizeof(allow)), "GET, HEAD");
    /* An unknown method (0) matches no route's methods. */
    assert_int_equal(match(r, "/scep", 0, &m), SCEPD_ROUTE_METHOD);
    scepd_router_free(r);
}

/* path_prefix "/": SCEP on every path, but the routes before it win,
 * including their 405 (the first matching path names the resource). */
static void test_root_prefix(void **state)
{
    struct scepd_router *r = scep_table("/");
    struct scepd_route_match m;

    (void)state;
    assert_int_equal(match(r, "/", SCEPD_M_GET, &m), SCEPD_ROUTE_OK);
    assert_ptr_equal(m.handler, h_scep);
    assert_int_equal(match(r, "/anything/at/all", SCEPD_M_POST, &m), SCEPD_ROUTE_OK);
    assert_int_equal(match(r, "", SCEPD_M_GET, &m), SCEPD_ROUTE_OK);
    assert_int_equal(match(r, "/healthz", SCEPD_M_GET, &m), SCEPD_ROUTE_OK);
    assert_ptr_equal(m.handler, h_health);
    assert_int_equal(match(r, "/healthz", SCEPD_M_POST, &m), SCEPD_ROUTE_METHOD);
    scepd_router_free(r);
}

/* A REST resource: one path, a handler per method. */
static void test_shared_path(void **state)
{
    struct scepd_router *r = NULL;
    struct scepd_route_match m;
    char allow[96];

    (void)state;
    assert_int_equal(scepd_router_new(&r), 0);
    assert_int_equal(
        scepd_router_add(r, "/api/v1/certs", SCEPD_MATCH_EXACT, SCEPD_M_GET, h_list, "list"), 0);
    assert_int_equal(
        scepd_router_add(r, "/api/v1", SCEPD_MATCH_UNDER, SCEPD_M_GET, h_scep, "other"), 0);
    assert_int_equal(
        scepd_router_add(r, "/api/v1/certs", SCEPD_MATCH_EXACT, SCEPD_M_POST, h_create, "create"),
        0);
    assert_int_equal(match(r, "/api/v1/certs", SCEPD_M_GET, &m), SCEPD_ROUTE_OK);
    assert_ptr_equal(m.handler, h_list);
    assert_int_equal(match(r, "/api/v1/certs", SCEPD_M_POST, &m), SCEPD_ROUTE_OK);
    assert_ptr_equal(m.handler, h_create);
    assert_string_equal(m.name, "create");
    /* The UNDER route in between is another resource: not in Allow. */
    assert_int_equal(match(r, "/api/v1/certs", SCEPD_M_DELETE, &m), SCEPD_ROUTE_METHOD);
    assert_string_equal(scepd_methods_allow(m.allow, allow, sizeof(allow)), "GET, HEAD, POST");
    assert_int_equal(match(r, "/api/v1/other", SCEPD_M_GET, &m), SCEPD_ROUTE_OK);
    assert_ptr_equal(m.handler, h_scep);
    scepd_router_free(r);
}

static void test_add_limits(void **state)
{
    struct scepd_router *r = NULL;
    char longpath[SCEPD_MAX_ROUTE_PATH + 2];
    int i;

    (void)state;
    assert_int_equal(scepd_router_new(&r), 0);
    assert_int_equal(scepd_router_add(r, "noslash", SCEPD_MATCH_EXACT, SCEPD_M_GET, h_scep, "x"),
                     -1);
    assert_int_equal(scepd_router_add(r, "", SCEPD_MATCH_EXACT, SCEPD_M_GET, h_scep, "x"), -1);
    assert_int_equal(scepd_router_add(r, "/x", SCEPD_MATCH_EXACT, 0, h_scep, "x"), -1);
    assert_int_equal(scepd_router_add(r, "/x", SCEPD_MATCH_EXACT, SCEPD_M_GET, NULL, "x"), -1);
    assert_int_equal(scepd_router_add(r, NULL, SCEPD_MATCH_EXACT, SCEPD_M_GET, h_scep, "x"), -1);
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    assert_int_equal(scepd_router_add(r, longpath, SCEPD_MATCH_EXACT, SCEPD_M_GET, h_scep, "x"),
                     -1);
    longpath[sizeof(longpath) - 2] = '\0';
    assert_int_equal(scepd_router_add(r, longpath, SCEPD_MATCH_EXACT, SCEPD_M_GET, h_scep, "x"), 0);
    for (i = 1; i < SCEPD_MAX_ROUTES; i++)
        assert_int_equal(scepd_router_add(r, "/y", SCEPD_MATCH_EXACT, SCEPD_M_GET, h_scep, "y"), 0);
    assert_int_equal(scepd_router_add(r, "/z", SCEPD_MATCH_EXACT, SCEPD_M_GET, h_scep, "z"), -1);
    scepd_router_free(r);
    scepd_router_free(NULL);
}

static void test_allow_text(void **state)
{
    char buf[96], tiny[8];

    (void)state;
    assert_string_equal(scepd_methods_allow(SCEPD_M_GET, buf, sizeof(buf)), "GET, HEAD");
    assert_string_equal(scepd_methods_allow(SCEPD_M_POST | SCEPD_M_DELETE, buf, sizeof(buf)),
                        "POST, DELETE");
    assert_string_equal(scepd_methods_allow(0, buf, sizeof(buf)), "");
    /* Cut at a whole name, always terminated. */
    assert_string_equal(scepd_methods_allow(SCEPD_M_GET | SCEPD_M_POST, tiny, sizeof(tiny)), "GET");
}

/* Which profile a SCEP path names: the prefix, "/NAME", and Cisco's
 * suffix after either; nothing deeper, no odd characters. */
static void test_scep_profile(void **state)
{
    static const struct {
        const char *path;
        int rc;
        const char *name;
    } cases[] = {
        {"/scep", 0, ""},
        {"/scep/", 0, ""},
        {"/scep/pkiclient.exe", 0, ""},
        {"/scep/wifi", 0, "wifi"},
        {"/scep/wifi/", 0, "wifi"},
        {"/scep/wifi/pkiclient.exe", 0, "wifi"},
        {"/scep/VPN_2-a", 0, "VPN_2-a"},
        {"/scep/wifi/deeper", -1, ""},
        {"/scep/wifi/pkiclient.exe/x", -1, ""},
        {"/scep//wifi", -1, ""},
        {"/scep/wi%66i", -1, ""},
        {"/scep/wi.fi", -1, ""},
        {"/scepwifi", -1, ""},
        {"/other/wifi", -1, ""},
        {"/scep/abcdefghijklmnopqrstuvwxyz0123456", -1, ""}, /* 33 characters */
        {"/scep/abcdefghijklmnopqrstuvwxyz012345", 0, "abcdefghijklmnopqrstuvwxyz012345"},
    };
    char name[33];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc =
            scepd_scep_profile(cases[i].path, strlen(cases[i].path), "/scep", name, sizeof(name));

        if (rc != cases[i].rc)
            fail_msg("%s: rc %d, want %d", cases[i].path, rc, cases[i].rc);
        if (rc == 0)
            assert_string_equal(name, cases[i].name);
    }
    /* "/" as the prefix (stored as ""): every first segment is a profile. */
    assert_int_equal(scepd_scep_profile("/vpn", 4, "", name, sizeof(name)), 0);
    assert_string_equal(name, "vpn");
    assert_int_equal(scepd_scep_profile("/", 1, "", name, sizeof(name)), 0);
    assert_string_equal(name, "");
    /* the length is the path's, not a NUL */
    assert_int_equal(scepd_scep_profile("/scep/wifiXX", 10, "/scep", name, sizeof(name)), 0);
    assert_string_equal(name, "wifi");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefix_and_suffixes), cmocka_unit_test(test_length_not_nul),
        cmocka_unit_test(test_head_and_405),        cmocka_unit_test(test_root_prefix),
        cmocka_unit_test(test_shared_path),         cmocka_unit_test(test_add_limits),
        cmocka_unit_test(test_allow_text),          cmocka_unit_test(test_scep_profile),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
