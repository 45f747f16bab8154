/*
 * scepd: the SCEP (RFC 8894) server.  This file is its front door:
 * command-line parsing, with one --flag generated from every key of the
 * configuration table (lib/config), then configuration in a fixed order
 * (defaults, --config FILE, flags, derived values), then the state
 * directory (setup.c) and the server (server.c).
 *
 * Exit status: 0 after a clean shutdown, 1 on a runtime failure, 2 on a
 * usage or configuration error.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <scep/error.h>
#include <scep/encoding.h>
#include <scep/message.h>

#include "check.h"
#include "procmetrics.h"
#include "scepd.h"
#include "ca/ca.h"

/* Keys in the configuration table and the rule keys: well under this;
 * more is a build that refuses to start (main_build_options). */
#define MAIN_MAX_KEYS 256
#define MAIN_OPT_BASE 256

/* Read when --config names no file and $SCEPD_CONFIG is unset. */
#define MAIN_DEFAULT_CONFIG "/etc/scepd/scepd.conf"

struct main_keys {
    struct option opts[MAIN_MAX_KEYS + 4];
    char names[MAIN_MAX_KEYS][64];
    const char *keys[MAIN_MAX_KEYS];
    int n;
    int overflow; /* a key did not fit: no flag may silently go missing */
};

/* A flag applied after the file: key index and value. */
struct main_flag {
    int key;
    const char *value;
};

static void main_collect_key(const char *key, const char *section, const char *help, void *arg)
{
    struct main_keys *k = arg;
    size_t i, len = strlen(key);

    (void)section;
    (void)help;
    if (k->n >= MAIN_MAX_KEYS || len >= sizeof(k->names[0])) {
        k->overflow = 1;
        return;
    }
    /* Flags are spelled with dashes: path_prefix -> --path-prefix. */
    for (i = 0; i <= len; i++)
        k->names[k->n][i] = key[i] == '_' ? '-' : key[i];
    k->keys[k->n] = key;
    k->opts[k->n].name = k->names[k->n];
    k->opts[k->n].has_arg = required_argument;
    k->opts[k->n].flag = NULL;
    k->opts[k->n].val = MAIN_OPT_BASE + k->n;
    k->n++;
}

static void main_build_options(struct main_keys *k)
{
    static const struct option fixed[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", no_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };

    memset(k, 0, sizeof(*k));
    scep_config_each_key(main_collect_key, k);
    memcpy(&k->opts[k->n], fixed, sizeof(fixed));
}

static const char *help_section;

static void main_help_key(const char *key, const char *section, const char *help, void *arg)
{
    char flag[80];
    size_t i;

    (void)arg;
    if (help_section == NULL || strcmp(help_section, section) != 0) {
        printf("\n  [%s]\n", section);
        help_section = section;
    }
    snprintf(flag, sizeof(flag), "--%s", key);
    for (i = 2; flag[i] != '\0'; i++)
        if (flag[i] == '_')
            flag[i] = '-';
    printf("  %-24s %s\n", flag, help);
}

static void main_usage(FILE *fp)
{
    fprintf(fp, "usage: scepd [--config FILE] [--KEY VALUE ...]\n"
                "       scepd -t [--config FILE] [--KEY VALUE ...]\n"
                "       scepd --help | --version\n");
}

static void main_help(void)
{
    main_usage(stdout);
    printf("\nThe SCEP (RFC 8894) server.  Every configuration key (scepd.conf(5)) is also a\n"
           "flag; flags override the file.  Booleans take true/false, yes/no, on/off, 1/0.\n\n"
           "  -c, --config FILE        read configuration from FILE (INI); default\n"
           "                           $SCEPD_CONFIG, else /etc/scepd/scepd.conf if present\n"
           "  -t, --check-config       check the configuration and the state it names, then\n"
           "                           exit 0 (all well) or 2, creating nothing\n"
           "  -h, --help               this text\n"
           "  -V, --version            print the version\n");
    help_section = NULL;
    scep_config_each_key(main_help_key, NULL);
    printf("\nWithout a challenge or challenge_file, scepd uses STATE_DIR/challenge and makes\n"
           "it (random, mode 0600) on first start: enrollment is never open by accident.\n"
           "\nExit status: 0 clean shutdown (SIGTERM/SIGINT), 1 runtime failure,\n"
           "2 usage or configuration error.\n");
}

/* Parses, configures, prepares and serves; returns the exit status. */
int main(int argc, char **argv)
{
    struct main_keys keys;
    struct main_flag *flags = NULL;
    struct scep_config cfg;
    struct scep_ca *ca = NULL;
    const char *config_path = NULL;
    char err[512];
    char note[512];
    int nflags = 0, opt, i, e;
    int have_cfg = 0, check_only = 0;
    int rc = SCEPD_EXIT_USAGE;

    note[0] = '\0';
    scepd_process_started();
    main_build_options(&keys);
    if (keys.overflow) {
        fprintf(stderr, "scepd: internal error: more configuration keys than flags\n");
        rc = SCEPD_EXIT_RUNTIME;
        goto out;
    }
    flags = calloc((size_t)argc + 1, sizeof(*flags));
    if (flags == NULL) {
        rc = SCEPD_EXIT_RUNTIME;
        goto out;
    }
    /* First pass only collects: the file must be read before the flags
     * are applied, wherever --config stands on the line. */
    while ((opt = getopt_long(argc, argv, "c:htV", keys.opts, NULL)) != -1) {
        if (opt == 'c') {
            config_path = optarg;
        } else if (opt == 't') {
            check_only = 1;
        } else if (opt == 'h') {
            main_help();
            rc = SCEPD_EXIT_OK;
            goto out;
        } else if (opt == 'V') {
            printf("scepd %s\n", SCEPD_VERSION);
            rc = SCEPD_EXIT_OK;
            goto out;
        } else if (opt >= MAIN_OPT_BASE && opt < MAIN_OPT_BASE + keys.n) {
            flags[nflags].key = opt - MAIN_OPT_BASE;
            flags[nflags].value = optarg;
            nflags++;
        } else {
            main_usage(stderr);
            goto out;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "scepd: unexpected argument \"%s\"\n", argv[optind]);
        main_usage(stderr);
        goto out;
    }

    if (scep_config_defaults(&cfg) != 0) {
        rc = SCEPD_EXIT_RUNTIME;
        goto out;
    }
    have_cfg = 1;
    /* Without --config: $SCEPD_CONFIG, else the conventional file when
     * it is there (scepctl(8) reads the same). */
    if (config_path == NULL) {
        const char *env = getenv("SCEPD_CONFIG");

        if (env != NULL && env[0] != '\0')
            config_path = env;
        else if (access(MAIN_DEFAULT_CONFIG, R_OK) == 0)
            config_path = MAIN_DEFAULT_CONFIG;
    }
    if (config_path != NULL && scep_config_load_file(&cfg, config_path, err, sizeof(err)) != 0) {
        fprintf(stderr, "scepd: %s\n", err);
        goto out;
    }
    for (i = 0; i < nflags; i++) {
        if (scep_config_set(&cfg, keys.keys[flags[i].key], flags[i].value, err, sizeof(err)) != 0) {
            fprintf(stderr, "scepd: --%s: %s\n", keys.names[flags[i].key], err);
            goto out;
        }
    }
    e = scep_config_finish(&cfg, err, sizeof(err));
    if (e != 0) {
        fprintf(stderr, "scepd: %s\n", err);
        goto out;
    }
    if (scepd_log_set_level(cfg.log_level) != 0) {
        fprintf(stderr, "scepd: bad log_level\n");
        goto out;
    }

    rc = SCEPD_EXIT_RUNTIME;
    e = scep_init();
    if (e != 0) {
        fprintf(stderr, "scepd: library initialisation failed: %s\n", scep_strerror(e));
        goto out;
    }
    if (check_only) {
        rc = scepd_check(&cfg);
        goto out;
    }
    rc = scepd_setup(&cfg, &ca, note, sizeof(note));
    if (rc != SCEPD_EXIT_OK)
        goto out;
    rc = scepd_serve(&cfg, ca, note);
out:
    OPENSSL_cleanse(note, sizeof(note));
    scep_ca_free(ca);
    if (have_cfg)
        scep_config_clear(&cfg);
    free(flags);
    return rc;
}
