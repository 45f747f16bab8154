/*
 * lib/admin/tokens.c: minting API bearer tokens (the text, that the
 * store keeps only its hash, the audit event that never holds the
 * token), authenticating (hash lookup, revocation, expiry, unknown and
 * over-long input), the role names and order, listing and revoking with
 * audit events.  Runs against a real SQLite store in a temp directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <scep/error.h>

#include "admin/admin.h"
#include "store/store.h"
#include "testutil.h"

struct fx {
    char *dir;
    char path[600];
    struct scep_store *st;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    char uri[700];

    assert_non_null(f);
    f->dir = tu_tempdir();
    snprintf(f->path, sizeof(f->path), "%s/store.db", f->dir);
    snprintf(uri, sizeof(uri), "sqlite:%s", f->path);
    assert_int_equal(scep_store_open(uri, &f->st, NULL, 0), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    scep_store_close(f->st);
    tu_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

struct events {
    char kinds[8][32];
    char details[8][256];
    char actors[8][64];
    int n;
};

static int events_cb(const struct scep_audit_event *ev, void *arg)
{
    struct events *e = arg;

    if (e->n < 8) {
        snprintf(e->kinds[e->n], sizeof(e->kinds[0]), "%s", ev->kind);
        snprintf(e->details[e->n], sizeof(e->details[0]), "%s",
                 ev->detail != NULL ? ev->detail : "");
        snprintf(e->actors[e->n], sizeof(e->actors[0]), "%s", ev->actor);
    }
    e->n++;
    return 0;
}

/* 1 if the file at path holds the bytes of s. */
static int file_holds(const char *path, const char *s)
{
    size_t len = 0, n = strlen(s), i;
    unsigned char *b = tu_read_file(path, &len);
    int found = 0;

    if (b == NULL)
        return 0;
    for (i = 0; i + n <= len && !found; i++)
        found = memcmp(b + i, s, n) == 0;
    free(b);
    return found;
}

static void test_roles(void **state)
{
    (void)state;
    assert_string_equal(scep_admin_role_name(SCEP_ROLE_ADMIN), "admin");
    assert_string_equal(scep_admin_role_name(SCEP_ROLE_OPERATOR), "operator");
    assert_string_equal(scep_admin_role_name(SCEP_ROLE_AUDITOR), "auditor");
    assert_null(scep_admin_role_name(0));
    assert_null(scep_admin_role_name(4));
    assert_int_equal(scep_admin_role_code("operator"), SCEP_ROLE_OPERATOR);
    assert_int_equal(scep_admin_role_code("Admin"), -1);
    assert_int_equal(scep_admin_role_code(""), -1);
    assert_int_equal(scep_admin_role_code(NULL), -1);
    /* The order is the permission order. */
    assert_true(SCEP_ROLE_AUDITOR < SCEP_ROLE_OPERATOR && SCEP_ROLE_OPERATOR < SCEP_ROLE_ADMIN);
}

/* A minted token: prefixed hex of 256 bits, stored only as its hash;
 * the audit event names the token's name and role, never the text. */
static void test_mint_and_authenticate(void **state)
{
    struct fx *f = *state;
    struct scep_admin_principal p;
    struct scep_token_info *info = NULL;
    struct events ev;
    char *tok = NULL, hash[65];
    size_t i;

    assert_int_equal(scep_admin_token_new(f->st, "scepctl:root", "ci-bot", SCEP_ROLE_OPERATOR,
                                          86400, 1000, &tok, &info),
                     0);
    assert_int_equal(strlen(tok), SCEP_ADMIN_TOKEN_LEN);
    assert_memory_equal(tok, SCEP_ADMIN_TOKEN_PREFIX, strlen(SCEP_ADMIN_TOKEN_PREFIX));
    for (i = strlen(SCEP_ADMIN_TOKEN_PREFIX); tok[i] != '\0'; i++)
        assert_non_null(strchr("0123456789abcdef", tok[i]));
    assert_string_equal(info->name, "ci-bot");
    assert_string_equal(info->role, "operator");
    assert_int_equal(info->created_at, 1000);
    assert_int_equal(info->expires_at, 1000 + 86400);
    assert_string_equal(info->created_by, "scepctl:root");
    assert_int_equal(scep_admin_token_hash(tok, strlen(tok), hash), 0);
    assert_string_equal(info->hash, hash);
    assert_false(file_holds(f->path, tok));
    memset(&ev, 0, sizeof(ev));
    assert_int_equal(scep_store_list_audit(f->st, 0, events_cb, &ev), 0);
    assert_int_equal(ev.n, 1);
    assert_string_equal(ev.kinds[0], "token-new");
    assert_string_equal(ev.actors[0], "scepctl:root");
    assert_non_null(strstr(ev.details[0], "name=ci-bot"));
    assert_non_null(strstr(ev.details[0], "role=operator"));
    assert_null(strstr(ev.details[0], tok + strlen(SCEP_ADMIN_TOKEN_PREFIX)));

    memset(&p, 0, sizeof(p));
    assert_int_equal(scep_admin_token_authenticate(f->st, tok, strlen(tok), 2000, &p), 0);
    assert_string_equal(p.name, "ci-bot");
    assert_string_equal(p.actor, "api:ci-bot");
    assert_int_equal(p.role, SCEP_ROLE_OPERATOR);
    assert_int_equal(p.id, info->id);
    scep_token_info_free(info);
    info = NULL;
    /* The use is recorded. */
    assert_int_equal(scep_store_get_token_by_name(f->st, "ci-bot", &info), 0);
    assert_int_equal(info->last_used_at, 2000);
    scep_token_info_free(info);
    info = NULL;
    /* At its expiry and later: refused; a byte off, a prefix, empty and
     * over-long input: unknown. */
    assert_int_equal(scep_admin_token_authenticate(f->st, tok, strlen(tok), 1000 + 86400, &p),
                     SCEP_ERR_BAD_TIME);
    assert_int_equal(scep_admin_token_authenticate(f->st, tok, strlen(tok) - 1, 2000, &p),
                     SCEP_ERR_NOT_FOUND);
    tok[10] = tok[10] == 'a' ? 'b' : 'a';
    assert_int_equal(scep_admin_token_authenticate(f->st, tok, strlen(tok), 2000, &p),
                     SCEP_ERR_NOT_FOUND);
    assert_int_equal(scep_admin_token_authenticate(f->st, tok, 0, 2000, &p), SCEP_ERR_NOT_FOUND);
    {
        char big[300];

        memset(big, 'a', sizeof(big));
        assert_int_equal(scep_admin_token_authenticate(f->st, big, sizeof(big), 2000, &p),
                         SCEP_ERR_NOT_FOUND);
    }
    scep_admin_token_free(tok);
}

/* Bad names, roles and lifetimes are refused before anything is
 * written; a name is unique, also once revoked. */
static void test_mint_refusals(void **state)
{
    struct fx *f = *state;
    char *tok = NULL;
    char longname[SCEP_ADMIN_TOKEN_NAME_MAX + 2];

    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(scep_admin_token_new(f->st, "t", "", SCEP_ROLE_ADMIN, 0, 0, &tok, NULL),
                     SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_admin_token_new(f->st, "t", "a b", SCEP_ROLE_ADMIN, 0, 0, &tok, NULL),
                     SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_admin_token_new(f->st, "t", longname, SCEP_ROLE_ADMIN, 0, 0, &tok, NULL),
                     SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_admin_token_new(f->st, "t", "x", 0, 0, 0, &tok, NULL),
                     SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_admin_token_new(f->st, "t", "x", SCEP_ROLE_ADMIN,
                                          SCEP_ADMIN_TOKEN_TTL_MAX + 1, 0, &tok, NULL),
                     SCEP_ERR_INVALID_ARG);
    assert_int_equal(scep_admin_token_new(f->st, "t", "x", SCEP_ROLE_ADMIN, -1, 0, &tok, NULL),
                     SCEP_ERR_INVALID_ARG);
    assert_null(tok);
    assert_int_equal(scep_admin_token_new(f->st, "t", "x", SCEP_ROLE_AUDITOR, 0, 0, &tok, NULL), 0);
    scep_admin_token_free(tok);
    tok = NULL;
    assert_int_equal(scep_admin_token_new(f->st, "t", "x", SCEP_ROLE_ADMIN, 0, 0, &tok, NULL),
                     SCEP_ERR_EXISTS);
    assert_int_equal(scep_admin_token_revoke(f->st, "t", "x", 0), 0);
    assert_int_equal(scep_admin_token_new(f->st, "t", "x", SCEP_ROLE_ADMIN, 0, 0, &tok, NULL),
                     SCEP_ERR_EXISTS);
    assert_null(tok);
}

struct listed {
    int n;
    char states[4][16];
};

static int list_cb(const struct scep_token_info *ti, void *arg)
{
    struct listed *l = arg;

    if (l->n < 4)
        snprintf(l->states[l->n], sizeof(l->states[0]), "%s", scep_admin_token_state(ti, 5000));
    l->n++;
    return 0;
}

/* Revocation ends a token at once, with its audit event; the list shows
 * each token's state. */
static void test_revoke_and_list(void **state)
{
    struct fx *f = *state;
    struct scep_admin_principal p;
    struct listed l;
    struct events ev;
    char *a = NULL, *b = NULL;

    assert_int_equal(scep_admin_token_new(f->st, "t", "a", SCEP_ROLE_ADMIN, 0, 1000, &a, NULL), 0);
    assert_int_equal(scep_admin_token_new(f->st, "t", "b", SCEP_ROLE_AUDITOR, 100, 1000, &b, NULL),
                     0);
    assert_int_equal(scep_admin_token_authenticate(f->st, a, strlen(a), 2000, &p), 0);
    assert_int_equal(scep_admin_token_revoke(f->st, "api:a", "a", 3000), 0);
    assert_int_equal(scep_admin_token_authenticate(f->st, a, strlen(a), 3001, &p),
                     SCEP_ERR_REJECTED);
    assert_int_equal(scep_admin_token_revoke(f->st, "api:a", "a", 3000), SCEP_ERR_EXISTS);
    assert_int_equal(scep_admin_token_revoke(f->st, "api:a", "zz", 3000), SCEP_ERR_NOT_FOUND);
    assert_int_equal(scep_admin_token_revoke(f->st, "api:a", "bad name", 3000),
                     SCEP_ERR_INVALID_ARG);
    memset(&l, 0, sizeof(l));
    assert_int_equal(scep_admin_token_list(f->st, list_cb, &l), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.states[0], "revoked");
    assert_string_equal(l.states[1], "expired");
    memset(&ev, 0, sizeof(ev));
    assert_int_equal(scep_store_list_audit(f->st, 0, events_cb, &ev), 0);
    assert_int_equal(ev.n, 3);
    assert_string_equal(ev.kinds[2], "token-revoke");
    assert_string_equal(ev.actors[2], "api:a");
    assert_string_equal(ev.details[2], "name=a");
    scep_admin_token_free(a);
    scep_admin_token_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roles),
        cmocka_unit_test_setup_teardown(test_mint_and_authenticate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mint_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke_and_list, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
