/*
 * scepctl challenge: one-time enrollment challenges.  "new" mints one
 * through the library (scep_admin_challenge_new: random text, only its
 * hash stored, a "challenge-new" audit event) and prints the text alone
 * on stdout, so that OTP=$(scepctl challenge new) works, with the
 * details on stderr; "list" shows them (never a challenge's text: the
 * store does not have it), "revoke" ends one, "purge" deletes the ones
 * that can admit nothing any more.  The rules (limits, parsing of the
 * binding, audit events) are lib/admin's; this file parses the command
 * line and phrases the answers.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <scep/error.h>
#include <scep/limits.h>
#include "admin/admin.h"
#include "scepctl.h"

/* "default" for the default profile's "", for people. */
static const char *profile_shown(const char *p)
{
    return p == NULL || p[0] == '\0' ? "default" : p;
}

/* The bound SANs ("\n"-joined, NULL: none) as a JSON array, or JSON
 * null when there are none.  New reference; NULL on ENOMEM. */
static json_t *sans_json(const char *sans)
{
    json_t *a;
    const char *p = sans, *nl;
    size_t n;

    if (sans == NULL || sans[0] == '\0')
        return json_null();
    a = json_array();
    if (a == NULL)
        return NULL;
    while (*p != '\0') {
        nl = strchr(p, '\n');
        n = nl != NULL ? (size_t)(nl - p) : strlen(p);
        if (json_array_append_new(a, json_stringn(p, n)) != 0) {
            json_decref(a);
            return NULL;
        }
        p += n;
        if (*p == '\n')
            p++;
    }
    return a;
}

/* A JSON object for a challenge record (no text, no hash).  New
 * reference; NULL on ENOMEM. */
static json_t *challenge_json(const struct scep_challenge_info *ci, int64_t now)
{
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    if (json_object_set_new(o, "id", json_integer((json_int_t)ci->id)) != 0 ||
        json_object_set_new(o, "profile", json_string(ci->profile != NULL ? ci->profile : "")) !=
            0 ||
        json_object_set_new(o, "state", json_string(scep_admin_challenge_state(ci, now))) != 0 ||
        json_object_set_new(o, "uses", json_integer((json_int_t)ci->uses)) != 0 ||
        json_object_set_new(o, "max_uses", json_integer((json_int_t)ci->max_uses)) != 0 ||
        json_object_set_new(o, "created_at", ctl_json_time(ci->created_at)) != 0 ||
        json_object_set_new(o, "expires_at", ctl_json_time(ci->expires_at)) != 0 ||
        json_object_set_new(o, "revoked_at", ctl_json_time(ci->revoked_at)) != 0 ||
        json_object_set_new(o, "created_by", ctl_json_str(ci->created_by)) != 0 ||
        json_object_set_new(o, "subject", ctl_json_str(ci->subject)) != 0 ||
        json_object_set_new(o, "sans", sans_json(ci->sans)) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The bound SANs ("\n"-joined) as "DNS:a,IP:b" into buf. */
static const char *sans_text(const char *sans, char *buf, size_t len)
{
    size_t i;

    snprintf(buf, len, "%s", sans != NULL ? sans : "any");
    for (i = 0; buf[i] != '\0'; i++) {
        if (buf[i] == '\n')
            buf[i] = ',';
    }
    return buf;
}

/* The binding for a table cell: "subject=..; DNS:a,IP:b", or "-". */
static const char *binding_text(const struct scep_challenge_info *ci, char *buf, size_t len)
{
    size_t i;

    if (ci->subject == NULL && ci->sans == NULL)
        return "-";
    snprintf(buf, len, "%s%s%s%s", ci->subject != NULL ? "subject=" : "",
             ci->subject != NULL ? ci->subject : "",
             ci->subject != NULL && ci->sans != NULL ? "; " : "", ci->sans != NULL ? ci->sans : "");
    for (i = 0; buf[i] != '\0'; i++) {
        if (buf[i] == '\n')
            buf[i] = ',';
    }
    return buf;
}

/*
 * Takes every "--san VALUE" / "--san=VALUE" out of argv[1..] into sans
 * (at most max, borrowed from argv), and the rest into rest (argv[0]
 * first).  Returns CTL_EXIT_OK, or CTL_EXIT_USAGE after saying why.
 */
static int take_sans(int argc, char **argv, const char **sans, size_t max, size_t *nsans,
                     char **rest, int *nrest)
{
    int i, n = 0;

    *nsans = 0;
    rest[n++] = argv[0];
    for (i = 1; i < argc; i++) {
        const char *v = NULL;

        if (strcmp(argv[i], "--") == 0) {
            while (i < argc)
                rest[n++] = argv[i++];
            break;
        }
        if (strcmp(argv[i], "--san") == 0) {
            if (i + 1 >= argc) {
                ctl_err("challenge new: --san needs a value (TYPE:VALUE)");
                return CTL_EXIT_USAGE;
            }
            v = argv[++i];
        } else if (strncmp(argv[i], "--san=", 6) == 0) {
            v = argv[i] + 6;
        }
        if (v == NULL) {
            rest[n++] = argv[i];
            continue;
        }
        if (*nsans == max) {
            ctl_err("challenge new: at most %zu --san", max);
            return CTL_EXIT_USAGE;
        }
        sans[(*nsans)++] = v;
    }
    *nrest = n;
    return CTL_EXIT_OK;
}

/* scepctl challenge new [...].  Returns an exit code. */
static int cmd_new(struct ctl *c, int argc, char **argv, const struct ctl_command *cmd)
{
    const char *profile = NULL, *subject = NULL, *ttl_s = NULL, *uses_s = NULL;
    struct ctl_opt opts[] = {
        {"profile", &profile, NULL}, {"subject", &subject, NULL}, {"ttl", &ttl_s, NULL},
        {"uses", &uses_s, NULL},     {NULL, NULL, NULL},
    };
    const char *sans[SCEP_MAX_SANS];
    char **rest = NULL;
    struct scep_admin_challenge_spec spec;
    struct scep_store *st = NULL;
    struct scep_challenge_info *info = NULL;
    char *challenge = NULL, why[512], when[32];
    json_t *o = NULL;
    long uses = 0;
    int nrest = 0, npos = 0, rc, err;

    memset(&spec, 0, sizeof(spec));
    rest = calloc((size_t)argc + 1, sizeof(*rest));
    if (rest == NULL) {
        ctl_err("challenge new: out of memory");
        return CTL_EXIT_FAIL;
    }
    rc = take_sans(argc, argv, sans, SCEP_MAX_SANS, &spec.nsans, rest, &nrest);
    if (rc != CTL_EXIT_OK)
        goto out;
    rc = ctl_parse_opts(c, nrest, rest, opts, NULL, 0, &npos, cmd);
    if (rc != CTL_EXIT_OK) {
        rc = rc < 0 ? CTL_EXIT_OK : rc;
        goto out;
    }
    rc = CTL_EXIT_USAGE;
    if (ttl_s != NULL && ctl_parse_duration(ttl_s, SCEP_ADMIN_CHALLENGE_TTL_MAX, &spec.ttl) != 0) {
        ctl_err("challenge new: --ttl %s: expected a lifetime of 1s to 365d such as 30s, 10m, 1h, "
                "7d or plain seconds",
                ttl_s);
        goto out;
    }
    if (uses_s != NULL && ctl_parse_long(uses_s, 1, SCEP_ADMIN_CHALLENGE_USES_MAX, &uses) != 0) {
        ctl_err("challenge new: --uses %s: expected a number from 1 to %d", uses_s,
                SCEP_ADMIN_CHALLENGE_USES_MAX);
        goto out;
    }
    spec.uses = uses;
    spec.profile = profile;
    spec.subject = subject;
    spec.sans = sans;
    /* Checked before the store is opened, so that a typo is a usage
     * error whatever state the installation is in. */
    if (scep_admin_challenge_validate(&spec, why, sizeof(why)) != 0) {
        ctl_err("challenge new: %s", why);
        goto out;
    }
    rc = ctl_open_store(c, &st);
    if (rc != CTL_EXIT_OK)
        goto out;
    rc = CTL_EXIT_FAIL;
    err = scep_admin_challenge_new(st, &spec, c->actor, &challenge, &info);
    if (err != 0) {
        ctl_err("challenge new: the database refused the challenge: %s (%s); nothing stored",
                scep_strerror(err), scep_store_last_error(st));
        goto out;
    }
    if (c->json) {
        o = challenge_json(info, (int64_t)time(NULL));
        if (o == NULL || json_object_set_new(o, "challenge", json_string(challenge)) != 0) {
            ctl_err("challenge new: out of memory");
            goto out;
        }
        rc = ctl_json_print(o);
        o = NULL;
        goto out;
    }
    /* The challenge alone on stdout; what it admits on stderr. */
    printf("%s\n", challenge);
    fprintf(stderr, "challenge %lld: profile %s, %lld use%s, expires %s\n", (long long)info->id,
            profile_shown(info->profile), (long long)info->max_uses, info->max_uses == 1 ? "" : "s",
            ctl_iso_time(info->expires_at, when, sizeof(when)));
    fprintf(stderr, "  subject: %s\n", info->subject != NULL ? info->subject : "any");
    fprintf(stderr, "  SANs:    %s\n", sans_text(info->sans, why, sizeof(why)));
    rc = CTL_EXIT_OK;
out:
    json_decref(o);
    scep_admin_challenge_free(challenge);
    scep_challenge_info_free(info);
    scep_store_close(st);
    free(rest);
    return rc;
}

struct chal_list {
    int64_t now;
    long count;
    json_t *array;
    struct ctl_table *table;
};

static int list_one(const struct scep_challenge_info *ci, void *arg)
{
    struct chal_list *cl = arg;
    char id[24], uses[48], expires[32], bind[1024];

    cl->count++;
    if (cl->array != NULL) {
        json_t *o = challenge_json(ci, cl->now);
        if (o == NULL || json_array_append_new(cl->array, o) != 0)
            return SCEP_ERR_NOMEM;
        return 0;
    }
    snprintf(id, sizeof(id), "%lld", (long long)ci->id);
    snprintf(uses, sizeof(uses), "%lld/%lld", (long long)ci->uses, (long long)ci->max_uses);
    const char *row[6] = {id,
                          profile_shown(ci->profile),
                          uses,
                          ctl_iso_time(ci->expires_at, expires, sizeof(expires)),
                          scep_admin_challenge_state(ci, cl->now),
                          binding_text(ci, bind, sizeof(bind))};
    return ctl_table_add(cl->table, row) == 0 ? 0 : SCEP_ERR_NOMEM;
}

/* scepctl challenge list [--all].  Returns an exit code. */
static int cmd_list(struct ctl *c, int argc, char **argv, const struct ctl_command *cmd)
{
    int all = 0;
    struct ctl_opt opts[] = {
        {"all", NULL, &all},
        {NULL, NULL, NULL},
    };
    static const char *const heads[6] = {"ID", "PROFILE", "USES", "EXPIRES", "STATE", "BINDING"};
    struct chal_list cl;
    struct scep_store *st = NULL;
    int npos = 0, rc, err;

    memset(&cl, 0, sizeof(cl));
    rc = ctl_parse_opts(c, argc, argv, opts, NULL, 0, &npos, cmd);
    if (rc != CTL_EXIT_OK)
        return rc < 0 ? CTL_EXIT_OK : rc;
    rc = ctl_open_store(c, &st);
    if (rc != CTL_EXIT_OK)
        return rc;
    rc = CTL_EXIT_FAIL;
    cl.now = (int64_t)time(NULL);
    if (c->json)
        cl.array = json_array();
    else
        cl.table = ctl_table_new(6, heads);
    if (cl.array == NULL && cl.table == NULL) {
        ctl_err("challenge list: out of memory");
        goto out;
    }
    err = scep_admin_challenge_list(st, all, list_one, &cl);
    if (err != 0) {
        ctl_err("challenge list: reading the database failed: %s (%s)", scep_strerror(err),
                scep_store_last_error(st));
        goto out;
    }
    if (c->json) {
        rc = ctl_json_print(cl.array);
        cl.array = NULL;
        goto out;
    }
    if (cl.count == 0)
        printf("no %schallenges in %s\n", all ? "" : "usable ", ctl_database(c));
    else
        ctl_table_print(cl.table);
    rc = CTL_EXIT_OK;
out:
    json_decref(cl.array);
    ctl_table_free(cl.table);
    scep_store_close(st);
    return rc;
}

/* scepctl challenge revoke ID.  Returns an exit code. */
static int cmd_revoke(struct ctl *c, int argc, char **argv, const struct ctl_command *cmd)
{
    struct ctl_opt opts[] = {
        {NULL, NULL, NULL},
    };
    const char *pos[1] = {NULL};
    struct scep_store *st = NULL;
    long id = 0;
    int npos = 0, rc, err;

    rc = ctl_parse_opts(c, argc, argv, opts, pos, 1, &npos, cmd);
    if (rc != CTL_EXIT_OK)
        return rc < 0 ? CTL_EXIT_OK : rc;
    if (npos != 1 || ctl_parse_long(pos[0], 1, LONG_MAX, &id) != 0) {
        ctl_err("challenge revoke: which challenge? give its id (see \"scepctl challenge list\")");
        return CTL_EXIT_USAGE;
    }
    rc = ctl_open_store(c, &st);
    if (rc != CTL_EXIT_OK)
        return rc;
    rc = CTL_EXIT_FAIL;
    err = scep_admin_challenge_revoke(st, c->actor, (int64_t)id, 0);
    if (err == SCEP_ERR_NOT_FOUND) {
        ctl_err("challenge revoke: no challenge with id %ld in %s (see \"scepctl challenge list "
                "--all\")",
                id, ctl_database(c));
        goto out;
    }
    if (err == SCEP_ERR_EXISTS) {
        ctl_err("challenge revoke: challenge %ld was already revoked; nothing changed", id);
        goto out;
    }
    if (err != 0) {
        ctl_err("challenge revoke: the database refused: %s (%s); nothing changed",
                scep_strerror(err), scep_store_last_error(st));
        goto out;
    }
    if (c->json) {
        json_t *o = json_pack("{s:I, s:s}", "id", (json_int_t)id, "state", "revoked");

        rc = o != NULL ? ctl_json_print(o) : CTL_EXIT_FAIL;
        goto out;
    }
    printf("revoked challenge %ld: it admits no enrollment from now on\n", id);
    rc = CTL_EXIT_OK;
out:
    scep_store_close(st);
    return rc;
}

/* scepctl challenge purge.  Returns an exit code. */
static int cmd_purge(struct ctl *c, int argc, char **argv, const struct ctl_command *cmd)
{
    struct ctl_opt opts[] = {
        {NULL, NULL, NULL},
    };
    struct scep_store *st = NULL;
    int64_t purged = 0;
    int npos = 0, rc, err;

    rc = ctl_parse_opts(c, argc, argv, opts, NULL, 0, &npos, cmd);
    if (rc != CTL_EXIT_OK)
        return rc < 0 ? CTL_EXIT_OK : rc;
    rc = ctl_open_store(c, &st);
    if (rc != CTL_EXIT_OK)
        return rc;
    rc = CTL_EXIT_FAIL;
    err = scep_admin_challenge_purge(st, c->actor, 0, &purged);
    if (err != 0) {
        ctl_err("challenge purge: the database refused: %s (%s); nothing deleted",
                scep_strerror(err), scep_store_last_error(st));
        goto out;
    }
    if (c->json) {
        json_t *o = json_pack("{s:I}", "purged", (json_int_t)purged);

        rc = o != NULL ? ctl_json_print(o) : CTL_EXIT_FAIL;
        goto out;
    }
    printf("purged %lld expired or revoked challenge%s\n", (long long)purged,
           purged == 1 ? "" : "s");
    rc = CTL_EXIT_OK;
out:
    scep_store_close(st);
    return rc;
}

/* scepctl challenge new|list|revoke|purge.  Returns an exit code. */
int ctl_cmd_challenge(struct ctl *c, int argc, char **argv)
{
    static const struct ctl_sub subs[] = {
        {"new", cmd_new},
        {"list", cmd_list},
        {"revoke", cmd_revoke},
        {"purge", cmd_purge},
    };

    return ctl_run_sub(c, argc, argv, "challenge", subs, sizeof(subs) / sizeof(subs[0]));
}
