/*
 * scepctl migrate: moves the certificate database to another one, today
 * a single node's SQLite file into the PostgreSQL database that several
 * scepd nodes share.  The copy is lib/admin's (migrate.c), row by row
 * through the store, in one transaction on the target; this file opens
 * both stores, refuses what would be unsafe before anything is written,
 * and reports the counts.  The target must be empty: merging two stores
 * would collide ids and fork the audit chain, so there is no --force.
 */
#include <stdio.h>
#include <string.h>

#include <scep/error.h>
#include "admin/migrate.h"
#include "scepctl.h"

/* Opens uri for migrate's side (from or to), printing why not.
 * Returns CTL_EXIT_OK or CTL_EXIT_FAIL; *out: scep_store_close(). */
static int open_side(const char *side, const char *uri, const char *shown, struct scep_store **out)
{
    char why[512];
    int err = scep_store_open(uri, out, why, sizeof(why));

    if (err == 0)
        return CTL_EXIT_OK;
    ctl_err("migrate: cannot open the %s store %s: %s", side, shown, why);
    return CTL_EXIT_FAIL;
}

/* Prints the report: a table, or JSON with --json. */
static int report(struct ctl *c, const char *from, const char *to,
                  const struct scep_admin_migrate_report *rep)
{
    static const char *const heads[2] = {"TABLE", "ROWS"};
    struct ctl_table *t = NULL;
    json_t *o = NULL, *tables = NULL;
    char n[32];
    size_t i;

    if (c->json) {
        o = json_object();
        tables = json_object();
        if (o == NULL || tables == NULL)
            goto nomem;
        for (i = 0; i < rep->ntables; i++)
            if (json_object_set_new(tables, rep->table[i], json_integer(rep->rows[i])) != 0)
                goto nomem;
        if (json_object_set_new(o, "from", ctl_json_str(from)) != 0 ||
            json_object_set_new(o, "to", ctl_json_str(to)) != 0 ||
            json_object_set_new(o, "rows", tables) != 0)
            goto nomem;
        tables = NULL;
        if (json_object_set_new(o, "audit_intact", json_true()) != 0)
            goto nomem;
        return ctl_json_print(o);
    }
    if ((t = ctl_table_new(2, heads)) == NULL)
        goto nomem;
    for (i = 0; i < rep->ntables; i++) {
        const char *row[2] = {rep->table[i], n};

        snprintf(n, sizeof(n), "%lld", (long long)rep->rows[i]);
        if (ctl_table_add(t, row) != 0)
            goto nomem;
    }
    printf("copied %s to %s in one transaction; the audit trail verifies there\n", from, to);
    ctl_table_print(t);
    ctl_table_free(t);
    return CTL_EXIT_OK;
nomem:
    json_decref(o);
    json_decref(tables);
    ctl_table_free(t);
    ctl_err("out of memory");
    return CTL_EXIT_FAIL;
}

/* scepctl migrate --from URI --to URI.  Returns an exit code. */
int ctl_cmd_migrate(struct ctl *c, int argc, char **argv)
{
    const char *from = NULL, *to = NULL;
    struct ctl_opt opts[] = {
        {"from", &from, NULL},
        {"to", &to, NULL},
        {NULL, NULL, NULL},
    };
    struct scep_admin_migrate_report rep;
    struct scep_store *src = NULL, *dst = NULL;
    char from_shown[1024], to_shown[1024], why[1024];
    int npos = 0, rc, err;

    rc = ctl_parse_opts(c, argc, argv, opts, NULL, 0, &npos, ctl_find_command("migrate"));
    if (rc != CTL_EXIT_OK)
        return rc < 0 ? CTL_EXIT_OK : rc;
    if (from == NULL || to == NULL) {
        ctl_err("migrate: both --from and --to are needed, e.g. --from sqlite:%s/scepd.db --to "
                "postgresql://scepd@db.example/scepd",
                c->cfg.state_dir);
        return CTL_EXIT_USAGE;
    }
    scep_store_uri_redacted(from, from_shown, sizeof(from_shown));
    scep_store_uri_redacted(to, to_shown, sizeof(to_shown));
    if (strcmp(from, to) == 0) {
        ctl_err("migrate: --from and --to name the same store (%s)", from_shown);
        return CTL_EXIT_USAGE;
    }
    rc = open_side("source", from, from_shown, &src);
    if (rc == CTL_EXIT_OK)
        rc = open_side("target", to, to_shown, &dst);
    if (rc != CTL_EXIT_OK)
        goto out;
    err = scep_admin_migrate(src, dst, c->actor, from_shown, &rep, why, sizeof(why));
    if (err == SCEP_ERR_EXISTS) {
        ctl_err("migrate: %s is not empty (%s); nothing was copied. Migrate into a new, empty "
                "database: merging two stores would collide their ids and audit chains",
                to_shown, why);
        rc = CTL_EXIT_FAIL;
        goto out;
    }
    if (err != 0) {
        ctl_err("migrate: %s; nothing was copied to %s", why[0] != '\0' ? why : scep_strerror(err),
                to_shown);
        rc = CTL_EXIT_FAIL;
        goto out;
    }
    rc = report(c, from_shown, to_shown, &rep);
out:
    scep_store_close(src);
    scep_store_close(dst);
    return rc;
}
