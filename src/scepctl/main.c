/*
 * scepctl's main: global flags, configuration and dispatch to a command.
 *
 *   scepctl [--config FILE] [--KEY VALUE ...] [--json] COMMAND [ARGS]
 *
 * The configuration is built exactly as scepd builds it: defaults, then
 * the file named by --config, then every --KEY VALUE flag (any key of
 * scepd.conf(5), e.g. --state-dir, --database), then scep_config_finish.
 * Flags are collected first and applied after the file so that they win
 * wherever they appear before the command.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <scep/error.h>
#include <scep/message.h>
#include "scepctl.h"

/* Read when --config names no file and $SCEPD_CONFIG is unset. */
#define CTL_DEFAULT_CONFIG "/etc/scepd/scepd.conf"

/* Global flags before the command; config keys beyond this are refused as
 * a usage error rather than silently truncated. */
#define CTL_MAX_FLAGS 64

const struct ctl_command ctl_commands[] = {
    {"init", "create the CA in the state directory",
     "scepctl init [--key-type rsa|ec-p256|ec-p384] [--subject DN] [--rsa-bits N]\n"
     "             [--validity-days N] [--with-ra] [--ra-rsa-bits N]",
     ctl_cmd_init},
    {"ca", "show the CA, or prepare a rollover to a new CA",
     "scepctl ca show\n"
     "scepctl ca rollover (--activate-at YYYY-MM-DDTHH:MM:SSZ | --in DAYS)\n"
     "                    [--key-type rsa|ec-p256|ec-p384] [--subject DN] [--rsa-bits N]\n"
     "                    [--validity-days N] [--ra-rsa-bits N]",
     ctl_cmd_ca},
    {"list", "search the certificate inventory (issued and imported)",
     "scepctl list [--status valid|revoked|expired|superseded|external|all]\n"
     "             [--expiring DAYS|DAYSd] [--subject TEXT|DN] [--san TEXT]\n"
     "             [--issuer current|FINGERPRINT] [--profile NAME|default]\n"
     "             [--issued-after DATE] [--issued-before DATE] [--serial PREFIX]\n"
     "             [--limit N] [--json | --csv]",
     ctl_cmd_list},
    {"expiring", "list certificates expiring within a window, as expiry notices see them",
     "scepctl expiring [--within 30d|12h|90m|DAYS]", ctl_cmd_expiring},
    {"import", "add certificates scepd did not issue (files, folders, TLS endpoints)",
     "scepctl import [--max-file-size BYTES] [--max-files N] PATH...\n"
     "scepctl import --tls [--timeout SECONDS] HOST:PORT...",
     ctl_cmd_import},
    {"show", "show one certificate", "scepctl show SERIAL [--pem]", ctl_cmd_show},
    {"revoke", "revoke a certificate",
     "scepctl revoke SERIAL [--reason unspecified|keyCompromise|caCompromise|\n"
     "               affiliationChanged|superseded|cessationOfOperation|certificateHold]",
     ctl_cmd_revoke},
    {"unhold", "release a certificateHold: the certificate is valid again", "scepctl unhold SERIAL",
     ctl_cmd_unhold},
    {"crl", "issue the CRL of the current CA, or of an archived one",
     "scepctl crl [--ca current|previous|FINGERPRINT] [--out FILE] [--der]", ctl_cmd_crl},
    {"audit", "list or verify the audit trail", "scepctl audit [--after ID] [--verify]",
     ctl_cmd_audit},
    {"requests", "list enrollment requests waiting for approval (approval = manual)",
     "scepctl requests [--status pending|approved|rejected|issued|all]", ctl_cmd_requests},
    {"show-request", "show one enrollment request",
     "scepctl show-request ID|TRANSACTION_ID [--pem]", ctl_cmd_show_request},
    {"approve", "approve a pending request; scepd issues at the client's next poll",
     "scepctl approve ID|TRANSACTION_ID", ctl_cmd_approve},
    {"reject", "reject a pending request; the client's next poll gets FAILURE",
     "scepctl reject ID|TRANSACTION_ID [--reason TEXT]", ctl_cmd_reject},
    {"challenge", "mint, list, revoke or purge one-time enrollment challenges",
     "scepctl challenge new [--profile P] [--subject DN] [--san TYPE:VALUE]...\n"
     "                      [--ttl 30s|10m|1h|7d|SECONDS] [--uses N] [--json]\n"
     "scepctl challenge list [--all] [--json]\n"
     "scepctl challenge revoke ID\n"
     "scepctl challenge purge",
     ctl_cmd_challenge},
    {"token", "mint, list or revoke bearer tokens of the admin API",
     "scepctl token new --name NAME --role admin|operator|auditor\n"
     "                  [--ttl 30s|10m|1h|90d|SECONDS] [--json]\n"
     "scepctl token list [--json]\n"
     "scepctl token revoke NAME",
     ctl_cmd_token},
    {"migrate", "copy the whole store into another, empty database (SQLite to PostgreSQL)",
     "scepctl migrate --from sqlite:PATH --to postgresql://USER@HOST/DB", ctl_cmd_migrate},
    {NULL, NULL, NULL, NULL},
};

/* Looks a command up by name; NULL when there is none. */
const struct ctl_command *ctl_find_command(const char *name)
{
    for (const struct ctl_command *cmd = ctl_commands; cmd->name != NULL; cmd++) {
        if (strcmp(cmd->name, name) == 0)
            return cmd;
    }
    return NULL;
}

static void print_key_help(const char *key, const char *section, const char *help, void *arg)
{
    FILE *f = arg;
    char flag[64];
    size_t i;

    (void)section;
    for (i = 0; key[i] != '\0' && i + 1 < sizeof(flag); i++)
        flag[i] = key[i] == '_' ? '-' : key[i];
    flag[i] = '\0';
    fprintf(f, "  --%-22s %s\n", flag, help != NULL ? help : "");
}

static void usage(FILE *f)
{
    fprintf(f, "usage: scepctl [--config FILE] [--state-dir DIR] [--database URI] [--json]\n"
               "               [--KEY VALUE ...] COMMAND [ARGS]\n"
               "       scepctl COMMAND --help\n"
               "       scepctl --version\n\ncommands:\n");
    for (const struct ctl_command *cmd = ctl_commands; cmd->name != NULL; cmd++)
        fprintf(f, "  %-13s %s\n", cmd->name, cmd->summary);
    fprintf(f, "\nglobal flags:\n"
               "  --config FILE            read scepd.conf(5) from FILE\n"
               "  --json                   print JSON instead of tables\n"
               "  --help, --version\n"
               "\nconfiguration keys (scepd.conf(5)), each a flag --KEY VALUE:\n");
    scep_config_each_key(print_key_help, f);
    fprintf(f, "\nexit status: 0 ok, 1 the operation failed, 2 usage or configuration error\n");
}

/* "scepctl:<login name>", or the numeric uid when there is no name: the
 * audit trail records which administrator acted. */
static void set_actor(struct ctl *c)
{
    struct passwd *pw = getpwuid(geteuid());

    if (pw != NULL && pw->pw_name != NULL)
        snprintf(c->actor, sizeof(c->actor), "scepctl:%s", pw->pw_name);
    else
        snprintf(c->actor, sizeof(c->actor), "scepctl:%lu", (unsigned long)geteuid());
}

struct flag_pair {
    const char *key;
    const char *value;
};

/*
 * Splits "--name=value" or "--name value"; name points into a copy in buf.
 * Returns 0, or -1 when the value is missing.
 */
static int split_flag(int argc, char **argv, int *i, char *buf, size_t buflen, const char **name,
                      const char **value)
{
    const char *arg = argv[*i] + 2;
    const char *eq = strchr(arg, '=');

    if (eq != NULL) {
        size_t n = (size_t)(eq - arg);
        if (n >= buflen)
            n = buflen - 1;
        memcpy(buf, arg, n);
        buf[n] = '\0';
        *name = buf;
        *value = eq + 1;
        return 0;
    }
    snprintf(buf, buflen, "%s", arg);
    *name = buf;
    if (*i + 1 >= argc)
        return -1;
    *value = argv[++*i];
    return 0;
}

/* The file read when --config names none: $SCEPD_CONFIG, else the
 * conventional one when it is there (scepd(8) does the same). */
static const char *default_config(void)
{
    const char *env = getenv("SCEPD_CONFIG");

    if (env != NULL && env[0] != '\0')
        return env;
    return access(CTL_DEFAULT_CONFIG, R_OK) == 0 ? CTL_DEFAULT_CONFIG : NULL;
}

/*
 * Builds c->cfg: defaults, file (--config, $SCEPD_CONFIG or
 * /etc/scepd/scepd.conf), $SCEPD_STATE for state_dir (as the scripts
 * use it), flags, finish.  Returns an exit code.
 */
static int load_config(struct ctl *c, const char *config_file, const struct flag_pair *flags,
                       int nflags)
{
    const char *state = getenv("SCEPD_STATE");
    char err[512] = "";
    int rc;

    rc = scep_config_defaults(&c->cfg);
    if (rc != 0) {
        ctl_err("cannot initialise the configuration: %s", scep_strerror(rc));
        return CTL_EXIT_FAIL;
    }
    if (config_file == NULL)
        config_file = default_config();
    if (config_file != NULL) {
        rc = scep_config_load_file(&c->cfg, config_file, err, sizeof(err));
        if (rc != 0) {
            ctl_err("%s", err[0] != '\0' ? err : scep_strerror(rc));
            return CTL_EXIT_USAGE;
        }
    }
    if (state != NULL && state[0] != '\0' &&
        scep_config_set(&c->cfg, "state_dir", state, err, sizeof(err)) != 0) {
        ctl_err("SCEPD_STATE: %s", err);
        return CTL_EXIT_USAGE;
    }
    for (int i = 0; i < nflags; i++) {
        rc = scep_config_set(&c->cfg, flags[i].key, flags[i].value, err, sizeof(err));
        if (rc != 0) {
            ctl_err("--%s: %s", flags[i].key, err[0] != '\0' ? err : scep_strerror(rc));
            return CTL_EXIT_USAGE;
        }
    }
    rc = scep_config_finish(&c->cfg, err, sizeof(err));
    if (rc != 0) {
        ctl_err("%s", err[0] != '\0' ? err : scep_strerror(rc));
        return CTL_EXIT_USAGE;
    }
    return CTL_EXIT_OK;
}

/* Parses the global flags, builds the configuration and runs one command;
 * returns its exit status (0, 1 or 2; see scepctl(8)). */
int main(int argc, char **argv)
{
    struct ctl c;
    struct flag_pair flags[CTL_MAX_FLAGS];
    char names[CTL_MAX_FLAGS][64];
    int nflags = 0;
    const char *config_file = NULL;
    const struct ctl_command *cmd;
    int i, rc;

    memset(&c, 0, sizeof(c));
    for (i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *name = NULL, *value = NULL;
        char buf[64];

        if (strcmp(arg, "--") == 0) {
            i++;
            break;
        }
        if (arg[0] != '-')
            break;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            return CTL_EXIT_OK;
        }
        if (strcmp(arg, "--version") == 0 || strcmp(arg, "-V") == 0) {
            printf("scepctl %s\n", SCEPCTL_VERSION);
            return CTL_EXIT_OK;
        }
        if (strcmp(arg, "--json") == 0) {
            c.json = 1;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0) {
            ctl_err("unknown option %s (see scepctl --help)", arg);
            return CTL_EXIT_USAGE;
        }
        if (split_flag(argc, argv, &i, buf, sizeof(buf), &name, &value) != 0) {
            ctl_err("option --%s needs a value", name);
            return CTL_EXIT_USAGE;
        }
        if (strcmp(name, "config") == 0) {
            config_file = value;
            continue;
        }
        if (!scep_config_is_key(name)) {
            ctl_err("unknown option --%s (see scepctl --help)", name);
            return CTL_EXIT_USAGE;
        }
        if (nflags == CTL_MAX_FLAGS) {
            ctl_err("too many flags");
            return CTL_EXIT_USAGE;
        }
        snprintf(names[nflags], sizeof(names[nflags]), "%s", name);
        flags[nflags].key = names[nflags];
        flags[nflags].value = value;
        nflags++;
    }
    if (i >= argc) {
        ctl_err("no command given");
        usage(stderr);
        return CTL_EXIT_USAGE;
    }
    if (strcmp(argv[i], "help") == 0) {
        if (i + 1 < argc && (cmd = ctl_find_command(argv[i + 1])) != NULL) {
            printf("usage: %s\n", cmd->usage);
            return CTL_EXIT_OK;
        }
        usage(stdout);
        return CTL_EXIT_OK;
    }
    cmd = ctl_find_command(argv[i]);
    if (cmd == NULL) {
        ctl_err("unknown command \"%s\" (see scepctl --help)", argv[i]);
        return CTL_EXIT_USAGE;
    }
    /* Per-command help must work even when the configuration is broken,
     * since that is when people read it. */
    for (int j = i + 1; j < argc; j++) {
        if (strcmp(argv[j], "--help") == 0 || strcmp(argv[j], "-h") == 0) {
            printf("usage: %s\n", cmd->usage);
            return CTL_EXIT_OK;
        }
    }

    rc = scep_init();
    if (rc != 0) {
        ctl_err("cannot initialise OpenSSL: %s", scep_strerror(rc));
        return CTL_EXIT_FAIL;
    }
    set_actor(&c);
    rc = load_config(&c, config_file, flags, nflags);
    if (rc == CTL_EXIT_OK)
        rc = cmd->run(&c, argc - i, argv + i);
    scep_config_clear(&c.cfg);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        ctl_err("writing to standard output failed: %s", strerror(errno));
        rc = CTL_EXIT_FAIL;
    }
    return rc;
}
