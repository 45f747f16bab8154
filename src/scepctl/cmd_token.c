/*
 * scepctl token: bearer tokens of scepd's admin API.  "token new" mints
 * one (lib/admin/tokens.c) and prints the token alone on stdout, once:
 * the store keeps only its SHA-256, so it cannot be shown again.  "token
 * list" shows names, roles and states (never a token or its hash);
 * "token revoke NAME" ends one at once.  Every change is audited with
 * the invoking user as actor.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include <scep/error.h>

#include "admin/admin.h"
#include "scepctl.h"

/* A JSON object for a token record (no token, no hash).  New reference;
 * NULL on ENOMEM. */
static json_t *token_json(const struct scep_token_info *ti, int64_t now)
{
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    if (json_object_set_new(o, "id", json_integer((json_int_t)ti->id)) != 0 ||
        json_object_set_new(o, "name", ctl_json_str(ti->name)) != 0 ||
        json_object_set_new(o, "role", ctl_json_str(ti->role)) != 0 ||
        json_object_set_new(o, "state", json_string(scep_admin_token_state(ti, now))) != 0 ||
        json_object_set_new(o, "created_at", ctl_json_time(ti->created_at)) != 0 ||
        json_object_set_new(o, "expires_at", ctl_json_time(ti->expires_at)) != 0 ||
        json_object_set_new(o, "revoked_at", ctl_json_time(ti->revoked_at)) != 0 ||
        json_object_set_new(o, "last_used_at", ctl_json_time(ti->last_used_at)) != 0 ||
        json_object_set_new(o, "created_by", ctl_json_str(ti->created_by)) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* scepctl token new --name NAME --role ROLE [--ttl TTL].  Returns an
 * exit code. */
static int cmd_new(struct ctl *c, int argc, char **argv, const struct ctl_command *cmd)
{
    const char *name = NULL, *role_s = NULL, *ttl_s = NULL;
    struct ctl_opt opts[] = {
        {"name", &name, NULL},
        {"role", &role_s, NULL},
        {"ttl", &ttl_s, NULL},
        {NULL, NULL, NULL},
    };
    struct scep_store *st = NULL;
    struct scep_token_info *info = NULL;
    char *token = NULL, when[32];
    json_t *o = NULL;
    int64_t ttl = 0;
    int npos = 0, role, rc, err;

    rc = ctl_parse_opts(c, argc, argv, opts, NULL, 0, &npos, cmd);
    if (rc != CTL_EXIT_OK)
        return rc < 0 ? CTL_EXIT_OK : rc;
    rc = CTL_EXIT_USAGE;
    if (name == NULL || name[0] == '\0') {
        ctl_err("token new: --name NAME is required (it names the token in the audit trail)");
        goto out;
    }
    role = scep_admin_role_code(role_s);
    if (role < 0) {
        ctl_err("token new: --role %s: expected admin, operator or auditor",
                role_s != NULL ? role_s : "(missing)");
        goto out;
    }
    if (ttl_s != NULL && ctl_parse_duration(ttl_s, SCEP_ADMIN_TOKEN_TTL_MAX, &ttl) != 0) {
        ctl_err("token new: --ttl %s: expected a lifetime of 1s to 3650d such as 12h, 90d or "
                "plain seconds",
                ttl_s);
        goto out;
    }
    rc = ctl_open_store(c, &st);
    if (rc != CTL_EXIT_OK)
        goto out;
    rc = CTL_EXIT_FAIL;
    err = scep_admin_token_new(st, c->actor, name, role, ttl, 0, &token, &info);
    if (err == SCEP_ERR_INVALID_ARG) {
        ctl_err("token new: --name %s: expected 1 to %d of A-Z a-z 0-9 . _ -", name,
                SCEP_ADMIN_TOKEN_NAME_MAX);
        rc = CTL_EXIT_USAGE;
        goto out;
    }
    if (err == SCEP_ERR_EXISTS) {
        ctl_err("token new: a token called %s exists (names are never reused, also after a "
                "revocation); choose another name",
                name);
        goto out;
    }
    if (err != 0) {
        ctl_err("token new: the database refused the token: %s (%s); nothing stored",
                scep_strerror(err), scep_store_last_error(st));
        goto out;
    }
    if (c->json) {
        o = token_json(info, (int64_t)time(NULL));
        if (o == NULL || json_object_set_new(o, "token", json_string(token)) != 0) {
            ctl_err("token new: out of memory");
            goto out;
        }
        rc = ctl_json_print(o);
        o = NULL;
        goto out;
    }
    /* The token alone on stdout (TOKEN=$(scepctl token new ...)); what
     * it is on stderr. */
    printf("%s\n", token);
    fprintf(stderr, "token %s: role %s, expires %s; shown once, only its hash is stored\n",
            info->name, info->role,
            info->expires_at != 0 ? ctl_iso_time(info->expires_at, when, sizeof(when)) : "never");
    rc = CTL_EXIT_OK;
out:
    json_decref(o);
    scep_admin_token_free(token);
    scep_token_info_free(info);
    scep_store_close(st);
    return rc;
}

struct tok_list {
    int64_t now;
    long count;
    json_t *array;
    struct ctl_table *table;
};

static int list_one(const struct scep_token_info *ti, void *arg)
{
    struct tok_list *tl = arg;
    char expires[32], used[32];

    tl->count++;
    if (tl->array != NULL) {
        json_t *o = token_json(ti, tl->now);
        if (o == NULL || json_array_append_new(tl->array, o) != 0)
            return SCEP_ERR_NOMEM;
        return 0;
    }
    const char *row[5] = {
        ti->name,
        ti->role,
        scep_admin_token_state(ti, tl->now),
        ti->expires_at != 0 ? ctl_iso_time(ti->expires_at, expires, sizeof(expires)) : "never",
        ti->last_used_at != 0 ? ctl_iso_time(ti->last_used_at, used, sizeof(used)) : "never",
    };
    return ctl_table_add(tl->table, row) == 0 ? 0 : SCEP_ERR_NOMEM;
}

/* scepctl token list.  Returns an exit code. */
static int cmd_list(struct ctl *c, int argc, char **argv, const struct ctl_command *cmd)
{
    struct ctl_opt opts[] = {
        {NULL, NULL, NULL},
    };
    static const char *const heads[5] = {"NAME", "ROLE", "STATE", "EXPIRES", "LAST USED"};
    struct tok_list tl;
    struct scep_store *st = NULL;
    int npos = 0, rc, err;

    memset(&tl, 0, sizeof(tl));
    rc = ctl_parse_opts(c, argc, argv, opts, NULL, 0, &npos, cmd);
    if (rc != CTL_EXIT_OK)
        return rc < 0 ? CTL_EXIT_OK : rc;
    rc = ctl_open_store(c, &st);
    if (rc != CTL_EXIT_OK)
        return rc;
    rc = CTL_EXIT_FAIL;
    tl.now = (int64_t)time(NULL);
    if (c->json)
        tl.array = json_array();
    else
        tl.table = ctl_table_new(5, heads);
    if (tl.array == NULL && tl.table == NULL) {
        ctl_err("token list: out of memory");
        goto out;
    }
    err = scep_admin_token_list(st, list_one, &tl);
    if (err != 0) {
        ctl_err("token list: reading the database failed: %s (%s)", scep_strerror(err),
                scep_store_last_error(st));
        goto out;
    }
    if (c->json) {
        rc = ctl_json_print(tl.array);
        tl.array = NULL;
        goto out;
    }
    if (tl.count == 0)
        printf("no tokens in %s\n", ctl_database(c));
    else
        ctl_table_print(tl.table);
    rc = CTL_EXIT_OK;
out:
    json_decref(tl.array);
    ctl_table_free(tl.table);
    scep_store_close(st);
    return rc;
}

/* scepctl token revoke NAME.  Returns an exit code. */
static int cmd_revoke(struct ctl *c, int argc, char **argv, const struct ctl_command *cmd)
{
    struct ctl_opt opts[] = {
        {NULL, NULL, NULL},
    };
    const char *pos[1] = {NULL};
    struct scep_store *st = NULL;
    int npos = 0, rc, err;

    rc = ctl_parse_opts(c, argc, argv, opts, pos, 1, &npos, cmd);
    if (rc != CTL_EXIT_OK)
        return rc < 0 ? CTL_EXIT_OK : rc;
    if (npos != 1) {
        ctl_err("token revoke: which token? give its name (see \"scepctl token list\")");
        return CTL_EXIT_USAGE;
    }
    rc = ctl_open_store(c, &st);
    if (rc != CTL_EXIT_OK)
        return rc;
    rc = CTL_EXIT_FAIL;
    err = scep_admin_token_revoke(st, c->actor, pos[0], 0);
    if (err == SCEP_ERR_NOT_FOUND || err == SCEP_ERR_INVALID_ARG) {
        ctl_err("token revoke: no token called %s in %s (see \"scepctl token list\")", pos[0],
                ctl_database(c));
        goto out;
    }
    if (err == SCEP_ERR_EXISTS) {
        ctl_err("token revoke: token %s was already revoked; nothing changed", pos[0]);
        goto out;
    }
    if (err != 0) {
        ctl_err("token revoke: the database refused: %s (%s); nothing changed", scep_strerror(err),
                scep_store_last_error(st));
        goto out;
    }
    if (c->json) {
        json_t *o = json_pack("{s:s, s:s}", "name", pos[0], "state", "revoked");

        rc = o != NULL ? ctl_json_print(o) : CTL_EXIT_FAIL;
        goto out;
    }
    printf("revoked token %s: the admin API refuses it from now on\n", pos[0]);
    rc = CTL_EXIT_OK;
out:
    scep_store_close(st);
    return rc;
}

/* scepctl token new|list|revoke.  Returns an exit code. */
int ctl_cmd_token(struct ctl *c, int argc, char **argv)
{
    static const struct ctl_sub subs[] = {
        {"new", cmd_new},
        {"list", cmd_list},
        {"revoke", cmd_revoke},
    };

    return ctl_run_sub(c, argc, argv, "token", subs, sizeof(subs) / sizeof(subs[0]));
}
