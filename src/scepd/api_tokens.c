/*
 * The admin API's token routes, for the admin role: list tokens (never
 * a token or its hash), mint one (the token is in the 201 answer and
 * nowhere else), revoke one by name.  The same operations as scepctl
 * token, through lib/admin/tokens.c, audited with the caller as actor.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <scep/error.h>

#include "api.h"
#include "scepd.h"

/* A token record as JSON (no token, no hash).  New reference; NULL on
 * ENOMEM. */
static json_t *token_json(const struct scep_token_info *ti, int64_t now)
{
    return json_pack("{s:I, s:o, s:o, s:s, s:o, s:o, s:o, s:o, s:o}", "id", (json_int_t)ti->id,
                     "name", api_json_str(ti->name), "role", api_json_str(ti->role), "state",
                     scep_admin_token_state(ti, now), "created_at", api_json_time(ti->created_at),
                     "expires_at", api_json_time(ti->expires_at), "revoked_at",
                     api_json_time(ti->revoked_at), "last_used_at", api_json_time(ti->last_used_at),
                     "created_by", api_json_str(ti->created_by));
}

struct tok_walk {
    json_t *items;
    int64_t now;
};

static int tok_one(const struct scep_token_info *ti, void *arg)
{
    struct tok_walk *w = arg;
    json_t *o = token_json(ti, w->now);

    return o != NULL && json_array_append_new(w->items, o) == 0 ? 0 : SCEP_ERR_NOMEM;
}

void api_token_list(struct api_ctx *c)
{
    struct tok_walk w;
    int rc;

    w.now = (int64_t)time(NULL);
    w.items = json_array();
    if (w.items == NULL) {
        api_problem(c, 500, "internal", "Out of memory", NULL, NULL);
        return;
    }
    rc = scep_admin_token_list(c->app->store, tok_one, &w);
    if (rc != 0) {
        json_decref(w.items);
        api_problem_store(c, rc, "listing tokens");
        return;
    }
    api_send_json(c, 200, json_pack("{s:o}", "items", w.items));
}

void api_token_new(struct api_ctx *c)
{
    static const char *const keys[] = {"name", "role", "ttl", NULL};
    struct scep_token_info *info = NULL;
    json_t *body = NULL, *jn, *jr, *jt, *o;
    const char *bad;
    char *token = NULL;
    int64_t ttl = 0;
    int role, rc;

    if (api_body(c, 0, &body) != 0)
        return;
    if ((bad = api_body_unknown_key(body, keys)) != NULL) {
        api_problem(c, 400, "invalid-field", "Unknown field", bad, bad);
        goto out;
    }
    jn = json_object_get(body, "name");
    jr = json_object_get(body, "role");
    jt = json_object_get(body, "ttl");
    if (!json_is_string(jn)) {
        api_problem(c, 400, "invalid-field", "name is required: a string", NULL, "name");
        goto out;
    }
    role = json_is_string(jr) ? scep_admin_role_code(json_string_value(jr)) : -1;
    if (role < 0) {
        api_problem(c, 400, "invalid-field", "role: admin, operator or auditor", NULL, "role");
        goto out;
    }
    if (jt != NULL && !json_is_null(jt)) {
        if (!json_is_integer(jt) || json_integer_value(jt) <= 0 ||
            json_integer_value(jt) > SCEP_ADMIN_TOKEN_TTL_MAX) {
            api_problem(c, 400, "invalid-field", "ttl: seconds, 1 to ten years", NULL, "ttl");
            goto out;
        }
        ttl = (int64_t)json_integer_value(jt);
    }
    rc = scep_admin_token_new(c->app->store, c->who.actor, json_string_value(jn), role, ttl, 0,
                              &token, &info);
    if (rc == SCEP_ERR_INVALID_ARG) {
        api_problem(c, 400, "invalid-field", "name: 1 to 64 of A-Z a-z 0-9 . _ -", NULL, "name");
        goto out;
    }
    if (rc == SCEP_ERR_EXISTS) {
        api_problem(c, 409, "name-taken", "A token of that name exists (names are never reused)",
                    NULL, "name");
        goto out;
    }
    if (rc != 0) {
        api_problem_store(c, rc, "storing the token");
        goto out;
    }
    o = token_json(info, (int64_t)time(NULL));
    if (o != NULL && json_object_set_new(o, "token", json_string(token)) != 0) {
        json_decref(o);
        o = NULL;
    }
    api_send_json(c, 201, o);
out:
    scep_admin_token_free(token);
    scep_token_info_free(info);
    json_decref(body);
}

void api_token_revoke(struct api_ctx *c)
{
    int rc = scep_admin_token_revoke(c->app->store, c->who.actor, c->params[0], 0);

    if (rc == SCEP_ERR_NOT_FOUND || rc == SCEP_ERR_INVALID_ARG) {
        api_problem(c, 404, "not-found", "No token of that name", c->params[0], NULL);
        return;
    }
    if (rc == SCEP_ERR_EXISTS) {
        api_problem(c, 409, "already-revoked", "The token is already revoked", "nothing changed",
                    NULL);
        return;
    }
    if (rc != 0) {
        api_problem_store(c, rc, "revoking the token");
        return;
    }
    api_send_json(c, 200, json_pack("{s:s, s:s}", "name", c->params[0], "state", "revoked"));
}
