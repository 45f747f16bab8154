/*
 * scepctl import: bring certificates scepd did not issue into the
 * inventory, as external certificates, so that "scepctl list --expiring"
 * and expiry monitoring cover them too.  PATHs are PEM or DER files, PEM
 * bundles or folders (recursively); with --tls they are HOST:PORT
 * endpoints whose served chain is recorded.  The work is lib/admin's
 * (scep_admin_import_paths, scep_admin_import_tls: the limits, the
 * parsing through OpenSSL, the "import" audit events); this file turns
 * flags into limits and reports one line (or JSON object) per
 * certificate or failure.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <scep/error.h>
#include "admin/admin.h"
#include "scepctl.h"

/* PATHs or endpoints one command line may name. */
#define CTL_IMPORT_MAX_ARGS 256

struct import_out {
    struct ctl *c;
    int64_t now;
    json_t *array; /* --json */
    struct ctl_table *table;
    int nomem;
};

/* Hears of one certificate or failure (scep_admin_import_cb). */
static void report(const char *where, int rc, const struct scep_cert_info *ci, const char *why,
                   void *arg)
{
    struct import_out *o = arg;
    const char *result = rc == 0                    ? "imported"
                         : rc == SCEP_ERR_EXISTS    ? "known"
                         : rc == SCEP_ERR_NOT_FOUND ? "skipped"
                                                    : "failed";
    char na[32];

    if (rc != 0 && rc != SCEP_ERR_EXISTS && rc != SCEP_ERR_NOT_FOUND) {
        /* Failures go to stderr in every mode, so a script sees them. */
        ctl_err("import: %s: %s", where, why != NULL && why[0] != '\0' ? why : scep_strerror(rc));
    }
    if (o->array != NULL) {
        json_t *j = ci != NULL ? ctl_cert_info_json(ci, o->now, 0) : json_object();
        if (j == NULL || json_object_set_new(j, "result", json_string(result)) != 0 ||
            json_object_set_new(j, "where", ctl_json_str(where)) != 0 ||
            (ci == NULL && json_object_set_new(j, "error", ctl_json_str(why)) != 0) ||
            json_array_append_new(o->array, j) != 0)
            o->nomem = 1;
        return;
    }
    if (ci == NULL)
        return;
    const char *row[5] = {result, ci->serial, ctl_iso_time(ci->not_after, na, sizeof(na)),
                          ci->subject, where};
    if (ctl_table_add(o->table, row) != 0)
        o->nomem = 1;
}

/* A byte count or file count flag in [1, max].  Returns an exit code. */
static int size_arg(const char *flag, const char *s, long max, size_t *out)
{
    long v;

    if (s == NULL)
        return CTL_EXIT_OK;
    if (ctl_parse_long(s, 1, max, &v) != 0) {
        ctl_err("import: --%s %s: expected a number from 1 to %ld", flag, s, max);
        return CTL_EXIT_USAGE;
    }
    *out = (size_t)v;
    return CTL_EXIT_OK;
}

/* scepctl import [--tls] [--timeout S] [--max-file-size B] [--max-files N]
 * PATH|HOST:PORT...  Returns an exit code. */
int ctl_cmd_import(struct ctl *c, int argc, char **argv)
{
    const char *timeout = NULL, *max_size = NULL, *max_files = NULL;
    int tls = 0, npos = 0, rc, err;
    struct ctl_opt opts[] = {
        {"tls", NULL, &tls},
        {"timeout", &timeout, NULL},
        {"max-file-size", &max_size, NULL},
        {"max-files", &max_files, NULL},
        {NULL, NULL, NULL},
    };
    static const char *const heads[5] = {"RESULT", "SERIAL", "NOT_AFTER", "SUBJECT", "SEEN_AT"};
    const char *pos[CTL_IMPORT_MAX_ARGS];
    struct scep_admin_import_limits lim;
    struct scep_admin_import_stats stats;
    struct import_out o;
    struct scep_store *st = NULL;
    long secs = 0;

    memset(&lim, 0, sizeof(lim));
    memset(&stats, 0, sizeof(stats));
    memset(&o, 0, sizeof(o));
    rc = ctl_parse_opts(c, argc, argv, opts, pos, CTL_IMPORT_MAX_ARGS, &npos,
                        ctl_find_command("import"));
    if (rc != CTL_EXIT_OK)
        return rc < 0 ? CTL_EXIT_OK : rc;
    if (npos == 0) {
        ctl_err("import: name at least one %s", tls ? "HOST:PORT" : "file or folder");
        return CTL_EXIT_USAGE;
    }
    if (timeout != NULL &&
        ctl_parse_long(timeout, 1, SCEP_ADMIN_TLS_TIMEOUT_CEILING / 1000, &secs) != 0) {
        ctl_err("import: --timeout %s: expected seconds from 1 to %d", timeout,
                SCEP_ADMIN_TLS_TIMEOUT_CEILING / 1000);
        return CTL_EXIT_USAGE;
    }
    if ((timeout != NULL && !tls) || (tls && (max_size != NULL || max_files != NULL))) {
        ctl_err("import: --timeout goes with --tls; --max-file-size and --max-files with files");
        return CTL_EXIT_USAGE;
    }
    if ((rc = size_arg("max-file-size", max_size, SCEP_ADMIN_IMPORT_FILE_CEILING,
                       &lim.max_file_bytes)) != CTL_EXIT_OK ||
        (rc = size_arg("max-files", max_files, SCEP_ADMIN_IMPORT_FILES_CEILING, &lim.max_files)) !=
            CTL_EXIT_OK)
        return rc;

    rc = ctl_open_store(c, &st);
    if (rc != CTL_EXIT_OK)
        return rc;
    rc = CTL_EXIT_FAIL;
    o.c = c;
    o.now = (int64_t)time(NULL);
    if (c->json)
        o.array = json_array();
    else
        o.table = ctl_table_new(5, heads);
    if (o.array == NULL && o.table == NULL) {
        ctl_err("out of memory");
        goto out;
    }
    if (tls)
        err = scep_admin_import_tls(st, c->actor, pos, (size_t)npos, (int)(secs * 1000), report, &o,
                                    &stats);
    else
        err = scep_admin_import_paths(st, c->actor, pos, (size_t)npos, &lim, report, &o, &stats);
    if (o.nomem) {
        ctl_err("out of memory");
        goto out;
    }
    if (o.array != NULL) {
        rc = ctl_json_print(o.array);
        o.array = NULL;
    } else {
        ctl_table_print(o.table);
        printf("%zu imported, %zu already known, %zu failed, %zu files skipped "
               "(%zu certificates in %zu %s)\n",
               stats.imported, stats.duplicates, stats.failed, stats.skipped, stats.certs,
               stats.files, tls ? "endpoints" : "files");
        rc = CTL_EXIT_OK;
    }
    if (err != 0 && rc == CTL_EXIT_OK)
        rc = CTL_EXIT_FAIL;
out:
    json_decref(o.array);
    ctl_table_free(o.table);
    scep_store_close(st);
    return rc;
}
