/*
 * scepctl helpers shared by the commands: parsing a command's options and
 * the values people type (integers, times, serials, revocation reasons),
 * and the steps most commands begin or end with: opening the store,
 * loading the CA, reading a certificate record, and appending an audit
 * event.  Every failure here is
 * reported on stderr with what to do about it, so commands only pass the
 * exit code on.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <scep/error.h>
#include "ca/ca.h"
#include "admin/admin.h"
#include "scepctl.h"

static void usage_to(FILE *f, const struct ctl_command *cmd)
{
    fprintf(f, "usage: %s\n", cmd->usage);
}

/* Parses a command's options; see scepctl.h for the contract. */
int ctl_parse_opts(struct ctl *c, int argc, char **argv, const struct ctl_opt *opts,
                   const char **pos, int max_pos, int *npos, const struct ctl_command *cmd)
{
    int n = 0;
    int only_pos = 0;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const struct ctl_opt *o;
        size_t namelen;
        const char *eq;

        if (only_pos || arg[0] != '-' || strcmp(arg, "-") == 0) {
            if (n == max_pos) {
                ctl_err("%s: unexpected argument \"%s\"", cmd->name, arg);
                usage_to(stderr, cmd);
                return CTL_EXIT_USAGE;
            }
            pos[n++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage_to(stdout, cmd);
            return -1;
        }
        if (strcmp(arg, "--json") == 0) {
            c->json = 1;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0)
            goto unknown;
        arg += 2;
        eq = strchr(arg, '=');
        namelen = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
        for (o = opts; o->name != NULL; o++) {
            if (strlen(o->name) == namelen && strncmp(o->name, arg, namelen) == 0)
                break;
        }
        if (o->name == NULL)
            goto unknown;
        if (o->flag != NULL) {
            if (eq != NULL) {
                ctl_err("%s: --%s takes no value", cmd->name, o->name);
                usage_to(stderr, cmd);
                return CTL_EXIT_USAGE;
            }
            *o->flag = 1;
            continue;
        }
        if (eq != NULL) {
            *o->value = eq + 1;
        } else if (i + 1 < argc) {
            *o->value = argv[++i];
        } else {
            ctl_err("%s: --%s needs a value", cmd->name, o->name);
            usage_to(stderr, cmd);
            return CTL_EXIT_USAGE;
        }
        continue;
    unknown:
        ctl_err("%s: unknown option %s", cmd->name, argv[i]);
        usage_to(stderr, cmd);
        return CTL_EXIT_USAGE;
    }
    *npos = n;
    return CTL_EXIT_OK;
}

/* Decimal integer in [min, max], whole string.  Returns 0 or -1. */
int ctl_parse_long(const char *s, long min, long max, long *out)
{
    char *end = NULL;
    long v;

    if (s == NULL || s[0] == '\0' || isspace((unsigned char)s[0]))
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* n decimal digits at s into *v; -1 if any is not a digit. */
static int digits(const char *s, int n, int *v)
{
    int r = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        r = r * 10 + (s[i] - '0');
    }
    *v = r;
    return 0;
}

/* Strict "YYYY-MM-DDTHH:MM:SSZ".  Returns 0 with *out set, or -1. */
int ctl_parse_time(const char *s, time_t *out)
{
    struct tm tm, back;
    int y, mo, d, h, mi, se;
    time_t t;

    if (s == NULL || strlen(s) != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
        s[13] != ':' || s[16] != ':' || s[19] != 'Z')
        return -1;
    if (digits(s, 4, &y) != 0 || digits(s + 5, 2, &mo) != 0 || digits(s + 8, 2, &d) != 0 ||
        digits(s + 11, 2, &h) != 0 || digits(s + 14, 2, &mi) != 0 || digits(s + 17, 2, &se) != 0)
        return -1;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59)
        return -1;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    t = timegm(&tm);
    /* timegm normalises 2025-02-30 to March 2; converting back and
     * comparing catches dates that do not exist. */
    if (t == (time_t)-1 || gmtime_r(&t, &back) == NULL || back.tm_mday != d ||
        back.tm_mon != mo - 1 || back.tm_year != y - 1900)
        return -1;
    *out = t;
    return 0;
}

/* Checks a command's one SERIAL argument.  See scepctl.h. */
int ctl_serial_arg(const char *cmd, int npos, const char *arg, char *serial, size_t len)
{
    if (npos != 1) {
        ctl_err("%s: which certificate? give its serial (see \"scepctl list\")", cmd);
        return CTL_EXIT_USAGE;
    }
    if (scep_admin_normalize_serial(arg, serial, len) != 0) {
        ctl_err("%s: \"%s\" is not a serial number (hexadecimal, as \"scepctl list\" prints)", cmd,
                arg);
        return CTL_EXIT_USAGE;
    }
    return CTL_EXIT_OK;
}

/* Opens the store after checking a CA exists.  See scepctl.h. */
int ctl_open_store(struct ctl *c, struct scep_store **out)
{
    struct scep_store *st = NULL;
    char why[256];
    int rc;

    /* Without this check, SQLite would quietly create an empty database in
     * a mistyped state directory and "list" would report no certificates. */
    if (!scep_ca_exists(c->cfg.state_dir)) {
        ctl_err("no CA in %s: run \"scepctl init\" first, or pass --state-dir or --config "
                "to point at the scepd state directory",
                c->cfg.state_dir);
        return CTL_EXIT_FAIL;
    }
    rc = scep_store_open(c->cfg.database, &st, why, sizeof(why));
    if (rc != 0) {
        ctl_err("cannot open the database: %s (check --database and the permissions of %s)", why,
                c->cfg.state_dir);
        return CTL_EXIT_FAIL;
    }
    *out = st;
    return CTL_EXIT_OK;
}

/* The database URI without its password.  See scepctl.h. */
const char *ctl_database(struct ctl *c)
{
    return scep_store_uri_redacted(c->cfg.database, c->db_shown, sizeof(c->db_shown));
}

/* Loads the CA with a helpful message on failure.  See scepctl.h. */
int ctl_load_ca(struct ctl *c, struct scep_ca **out)
{
    struct scep_ca *ca = NULL;
    int rc;

    if (!scep_ca_exists(c->cfg.state_dir)) {
        ctl_err("no CA in %s: run \"scepctl init\" first, or pass --state-dir or --config",
                c->cfg.state_dir);
        return CTL_EXIT_FAIL;
    }
    rc = scep_ca_load(c->cfg.state_dir, &ca);
    if (rc == SCEP_ERR_PERMISSIONS) {
        ctl_err("cannot load the CA in %s: a key file is accessible by group or others; "
                "run \"chmod 600 %s/*.key\" and try again",
                c->cfg.state_dir, c->cfg.state_dir);
        return CTL_EXIT_FAIL;
    }
    if (rc != 0) {
        ctl_err("cannot load the CA in %s: %s", c->cfg.state_dir, scep_strerror(rc));
        return CTL_EXIT_FAIL;
    }
    *out = ca;
    return CTL_EXIT_OK;
}

/* Appends an audit event as c->actor.  See scepctl.h. */
int ctl_audit(struct ctl *c, struct scep_store *st, const char *kind, const char *serial,
              const char *detail)
{
    int rc;

    rc = scep_admin_audit(st, c->actor, kind, serial, NULL, detail);
    if (rc != 0) {
        ctl_err("the %s succeeded but its audit event could not be written: %s", kind,
                scep_strerror(rc));
        return CTL_EXIT_FAIL;
    }
    return CTL_EXIT_OK;
}

/* Reads one certificate record by serial.  See scepctl.h. */
int ctl_get_cert(struct ctl *c, struct scep_store *st, const char *cmd, const char *serial,
                 struct scep_cert_info **out)
{
    struct scep_cert_info *ci = NULL;
    int err;

    err = scep_admin_get_cert(st, serial, &ci);
    if (err == SCEP_ERR_NOT_FOUND) {
        ctl_err("%s: no certificate with serial %s in %s (see \"scepctl list\")", cmd, serial,
                ctl_database(c));
        return CTL_EXIT_FAIL;
    }
    if (err != 0) {
        ctl_err("%s: reading the database failed: %s", cmd, scep_strerror(err));
        return CTL_EXIT_FAIL;
    }
    *out = ci;
    return CTL_EXIT_OK;
}

/* Sets configuration key to a command flag's value.  See scepctl.h. */
int ctl_override(struct ctl *c, const char *cmd, const char *key, const char *value,
                 const char *flag)
{
    char err[256] = "";

    if (value == NULL)
        return CTL_EXIT_OK;
    if (scep_config_set(&c->cfg, key, value, err, sizeof(err)) != 0) {
        ctl_err("%s: --%s %s: %s", cmd, flag, value, err[0] != '\0' ? err : "invalid value");
        return CTL_EXIT_USAGE;
    }
    return CTL_EXIT_OK;
}

/* Parses a lifetime; see scepctl.h. */
int ctl_parse_duration(const char *s, int64_t max, int64_t *out)
{
    char num[24];
    size_t n = strlen(s);
    long v = 0, unit = 1;

    if (n == 0 || n >= sizeof(num))
        return -1;
    memcpy(num, s, n + 1);
    switch (num[n - 1]) {
    case 's':
        unit = 1;
        break;
    case 'm':
        unit = 60;
        break;
    case 'h':
        unit = 3600;
        break;
    case 'd':
        unit = 86400;
        break;
    default:
        unit = 0;
        break;
    }
    if (unit != 0)
        num[n - 1] = '\0';
    else
        unit = 1;
    if (ctl_parse_long(num, 1, (long)(max / unit), &v) != 0)
        return -1;
    *out = (int64_t)v * unit;
    return 0;
}

/* Runs a subcommand; see scepctl.h. */
int ctl_run_sub(struct ctl *c, int argc, char **argv, const char *command,
                const struct ctl_sub *subs, size_t n)
{
    const struct ctl_command *cmd = ctl_find_command(command);
    const char *sub = argc > 1 ? argv[1] : "";
    char names[256];
    size_t i, len = 0;

    for (i = 0; i < n; i++)
        if (strcmp(sub, subs[i].name) == 0)
            return subs[i].run(c, argc - 1, argv + 1, cmd);
    names[0] = '\0';
    for (i = 0; i < n && len < sizeof(names); i++)
        len += (size_t)snprintf(names + len, sizeof(names) - len, "%s%s", i == 0 ? "" : ", ",
                                subs[i].name);
    if (sub[0] == '\0') {
        /* "new, list or revoke": the last comma becomes "or". */
        const char *last = strrchr(names, ',');

        if (last != NULL)
            ctl_err("%s: which one? %.*s or %s", command, (int)(last - names), names, last + 2);
        else
            ctl_err("%s: which one? %s", command, names);
    } else {
        ctl_err("%s: unknown subcommand \"%s\" (%s)", command, sub, names);
    }
    fprintf(stderr, "usage: %s\n", cmd->usage);
    return CTL_EXIT_USAGE;
}
