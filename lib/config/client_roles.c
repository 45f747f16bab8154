/*
 * admin_client_roles (config.h): which role a client certificate of the
 * admin API gets, from its subject's common name.  The value is a list
 * "PATTERN:ROLE, PATTERN:ROLE, ..." of fnmatch(3) patterns; the first
 * that matches the CN decides, and a CN that none matches gets
 * admin_client_role.  A pattern holds neither ',' nor ':' (a CN that
 * has them is matched with '?' or '*').  Parsed afresh on each call:
 * the list is short, and the caller then keeps no parsed copy to free.
 */
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include <scep/error.h>

#include "config/config.h"

#define ROLES_MAX 64
#define PATTERN_MAX 128

static int role_known(const char *r, size_t n)
{
    return (n == 7 && strncmp(r, "auditor", 7) == 0) ||
           (n == 8 && strncmp(r, "operator", 8) == 0) || (n == 5 && strncmp(r, "admin", 5) == 0);
}

static const char *skip_space(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

static const char *trim_end(const char *start, const char *p)
{
    while (p > start && (p[-1] == ' ' || p[-1] == '\t'))
        p--;
    return p;
}

/*
 * Walks the list: for each entry copies its pattern into pat and points
 * *role and *rlen at its role.  With cn set, stops at the first match and
 * returns 1.  Returns 0 at the end, or -1 with err set for a malformed
 * entry.
 */
static int walk(const char *map, const char *cn, const char **role, size_t *rlen, char *err,
                size_t errlen)
{
    const char *p = map, *end = map + strlen(map);
    char pat[PATTERN_MAX + 1];
    int n = 0;

    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma != NULL ? comma : end;
        const char *colon, *ps, *pe, *rs, *re;

        ps = skip_space(p, e);
        colon = memchr(ps, ':', (size_t)(e - ps));
        if (colon == NULL) {
            snprintf(err, errlen, "admin_client_roles: \"%.*s\": expected PATTERN:ROLE",
                     (int)(e - ps), ps);
            return -1;
        }
        pe = trim_end(ps, colon);
        rs = skip_space(colon + 1, e);
        re = trim_end(rs, e);
        if (pe == ps || (size_t)(pe - ps) > PATTERN_MAX) {
            snprintf(err, errlen, "admin_client_roles: a pattern must be 1 to %d characters",
                     PATTERN_MAX);
            return -1;
        }
        if (!role_known(rs, (size_t)(re - rs))) {
            snprintf(err, errlen,
                     "admin_client_roles: \"%.*s\": the role must be auditor, operator or admin",
                     (int)(re - rs), rs);
            return -1;
        }
        if (++n > ROLES_MAX) {
            snprintf(err, errlen, "admin_client_roles: more than %d entries", ROLES_MAX);
            return -1;
        }
        memcpy(pat, ps, (size_t)(pe - ps));
        pat[pe - ps] = '\0';
        if (cn != NULL && fnmatch(pat, cn, 0) == 0) {
            *role = rs;
            *rlen = (size_t)(re - rs);
            return 1;
        }
        p = comma != NULL ? comma + 1 : end;
    }
    return 0;
}

int scep_config_client_roles_check(const char *map, char *err, size_t errlen)
{
    const char *role;
    size_t rlen;

    if (map == NULL)
        return 0;
    if (strspn(map, " \t,") == strlen(map)) {
        snprintf(err, errlen, "admin_client_roles: empty (leave it out for none)");
        return SCEP_ERR_CONFIG;
    }
    return walk(map, NULL, &role, &rlen, err, errlen) < 0 ? SCEP_ERR_CONFIG : 0;
}

const char *scep_config_client_role(const struct scep_config *c, const char *cn)
{
    const char *role = NULL;
    size_t rlen = 0;
    char err[160];

    if (c->admin_client_roles != NULL && cn != NULL &&
        walk(c->admin_client_roles, cn, &role, &rlen, err, sizeof(err)) == 1)
        return rlen == 7 ? "auditor" : rlen == 8 ? "operator" : "admin";
    return c->admin_client_role;
}
