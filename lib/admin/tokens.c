/*
 * Bearer tokens of the admin API: minting (the text is shown once, only
 * its SHA-256 is stored), authenticating a request's token (hash lookup,
 * revocation, expiry), listing and revoking.  The admin API calls
 * scep_admin_token_authenticate on every request; scepctl mints, lists
 * and revokes.  Each change carries its audit event in the store's
 * transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <scep/error.h>

#include "admin/admin.h"
#include "admin/secret_hash.h"

/* Longest credential looked at: a token is SCEP_ADMIN_TOKEN_LEN bytes;
 * anything much longer is not one, and is not hashed. */
#define TOKEN_INPUT_MAX 256

/* Seconds between two writes of a token's last_used_at: a busy console
 * must not turn every read into a database write. */
#define TOKEN_TOUCH_SECONDS 60

const char *scep_admin_role_name(int role)
{
    switch (role) {
    case SCEP_ROLE_AUDITOR:
        return "auditor";
    case SCEP_ROLE_OPERATOR:
        return "operator";
    case SCEP_ROLE_ADMIN:
        return "admin";
    default:
        return NULL;
    }
}

int scep_admin_role_code(const char *name)
{
    int r;

    if (name == NULL)
        return -1;
    for (r = SCEP_ROLE_AUDITOR; r <= SCEP_ROLE_ADMIN; r++)
        if (strcmp(name, scep_admin_role_name(r)) == 0)
            return r;
    return -1;
}

/* 1 when name is 1 to SCEP_ADMIN_TOKEN_NAME_MAX of [A-Za-z0-9._-]: it
 * goes into the audit trail and logs as "api:NAME" unquoted. */
static int token_name_ok(const char *name)
{
    size_t i;

    if (name == NULL)
        return 0;
    for (i = 0; name[i] != '\0'; i++) {
        char c = name[i];

        if (i >= SCEP_ADMIN_TOKEN_NAME_MAX)
            return 0;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return i > 0;
}

int scep_admin_token_hash(const char *token, size_t len, char out[65])
{
    if (token == NULL || out == NULL)
        return SCEP_ERR_INVALID_ARG;
    return admin_secret_hash(token, len, out);
}

void scep_admin_token_free(char *token)
{
    if (token == NULL)
        return;
    OPENSSL_cleanse(token, strlen(token));
    free(token);
}

int scep_admin_token_new(struct scep_store *st, const char *actor, const char *name, int role,
                         int64_t ttl, int64_t now, char **token_out,
                         struct scep_token_info **info_out)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[SCEP_ADMIN_TOKEN_BYTES];
    char hash[65], detail[160], expiry[32];
    const size_t plen = sizeof(SCEP_ADMIN_TOKEN_PREFIX) - 1;
    struct scep_token_info ti;
    struct scep_audit_event ev;
    char *token = NULL;
    int64_t id = 0;
    size_t i;
    int rc = SCEP_ERR_INVALID_ARG;

    if (st == NULL || actor == NULL || token_out == NULL || !token_name_ok(name) ||
        scep_admin_role_name(role) == NULL || ttl < 0 || ttl > SCEP_ADMIN_TOKEN_TTL_MAX)
        goto out;
    rc = SCEP_ERR_NOMEM;
    token = malloc(SCEP_ADMIN_TOKEN_LEN + 1);
    if (token == NULL)
        goto out;
    rc = SCEP_ERR_INTERNAL;
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        goto out;
    memcpy(token, SCEP_ADMIN_TOKEN_PREFIX, plen);
    for (i = 0; i < sizeof(raw); i++) {
        token[plen + 2 * i] = hex[raw[i] >> 4];
        token[plen + 2 * i + 1] = hex[raw[i] & 0x0f];
    }
    token[SCEP_ADMIN_TOKEN_LEN] = '\0';
    rc = scep_admin_token_hash(token, SCEP_ADMIN_TOKEN_LEN, hash);
    if (rc != 0)
        goto out;
    if (now == 0)
        now = (int64_t)time(NULL);
    memset(&ti, 0, sizeof(ti));
    ti.name = (char *)name;
    ti.role = (char *)scep_admin_role_name(role);
    ti.hash = hash;
    ti.created_at = now;
    ti.expires_at = ttl > 0 ? now + ttl : 0;
    ti.created_by = (char *)actor;
    if (ttl > 0)
        snprintf(expiry, sizeof(expiry), "%lld", (long long)ti.expires_at);
    else
        snprintf(expiry, sizeof(expiry), "never");
    snprintf(detail, sizeof(detail), "name=%s role=%s expires_at=%s", name, ti.role, expiry);
    memset(&ev, 0, sizeof(ev));
    ev.time = now;
    ev.kind = "token-new";
    ev.actor = actor;
    ev.detail = detail;
    rc = scep_store_add_token(st, &ti, &ev, &id);
    if (rc != 0)
        goto out;
    if (info_out != NULL) {
        rc = scep_store_get_token_by_name(st, name, info_out);
        if (rc != 0)
            goto out;
    }
    *token_out = token;
    token = NULL;
    rc = 0;
out:
    OPENSSL_cleanse(raw, sizeof(raw));
    scep_admin_token_free(token);
    return rc;
}

int scep_admin_token_authenticate(struct scep_store *st, const char *token, size_t len, int64_t now,
                                  struct scep_admin_principal *out)
{
    struct scep_token_info *ti = NULL;
    char hash[65];
    int role, rc = SCEP_ERR_INVALID_ARG;

    if (st == NULL || token == NULL || out == NULL)
        goto out;
    rc = SCEP_ERR_NOT_FOUND;
    if (len == 0 || len > TOKEN_INPUT_MAX)
        goto out;
    rc = scep_admin_token_hash(token, len, hash);
    if (rc != 0)
        goto out;
    rc = scep_store_get_token_by_hash(st, hash, &ti);
    if (rc != 0)
        goto out;
    if (now == 0)
        now = (int64_t)time(NULL);
    rc = SCEP_ERR_REJECTED;
    if (ti->revoked_at != 0)
        goto out;
    rc = SCEP_ERR_BAD_TIME;
    if (ti->expires_at != 0 && now >= ti->expires_at)
        goto out;
    /* A role the store holds but this code does not know (written by a
     * newer scepd, or by hand) grants nothing. */
    rc = SCEP_ERR_NOT_FOUND;
    role = scep_admin_role_code(ti->role);
    if (role < 0 || ti->name == NULL || strlen(ti->name) > SCEP_ADMIN_TOKEN_NAME_MAX)
        goto out;
    if (now - ti->last_used_at >= TOKEN_TOUCH_SECONDS)
        (void)scep_store_touch_token(st, ti->id, now);
    memset(out, 0, sizeof(*out));
    out->id = ti->id;
    out->role = role;
    snprintf(out->name, sizeof(out->name), "%s", ti->name);
    snprintf(out->actor, sizeof(out->actor), "api:%s", ti->name);
    rc = 0;
out:
    scep_token_info_free(ti);
    return rc;
}

const char *scep_admin_token_state(const struct scep_token_info *ti, int64_t now)
{
    if (ti->revoked_at != 0)
        return "revoked";
    if (ti->expires_at != 0 && now >= ti->expires_at)
        return "expired";
    return "active";
}

int scep_admin_token_list(struct scep_store *st, scep_store_token_cb cb, void *arg)
{
    if (st == NULL || cb == NULL)
        return SCEP_ERR_INVALID_ARG;
    return scep_store_list_tokens(st, cb, arg);
}

int scep_admin_token_revoke(struct scep_store *st, const char *actor, const char *name, int64_t now)
{
    struct scep_audit_event ev;
    char detail[SCEP_ADMIN_TOKEN_NAME_MAX + 8];

    if (st == NULL || actor == NULL || !token_name_ok(name))
        return SCEP_ERR_INVALID_ARG;
    if (now == 0)
        now = (int64_t)time(NULL);
    snprintf(detail, sizeof(detail), "name=%s", name);
    memset(&ev, 0, sizeof(ev));
    ev.time = now;
    ev.kind = "token-revoke";
    ev.actor = actor;
    ev.detail = detail;
    return scep_store_revoke_token(st, name, now, &ev);
}
