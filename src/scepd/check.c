/* scepd -t (check.h). */
#include "check.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <scep/error.h>

#include "listener.h"
#include "scepd.h"
#include "ca/ca.h"
#include "config/config.h"
#include "store/store.h"
#include "util/atomic_file.h"

/* The state directory: a directory scepd can write, or one it can make. */
static int check_state_dir(const char *dir, int *exists)
{
    struct stat st;
    char parent[4096];

    *exists = 0;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            fprintf(stderr, "scepd: state_dir %s: not a directory\n", dir);
            return -1;
        }
        if (access(dir, W_OK | X_OK) != 0) {
            fprintf(stderr, "scepd: state_dir %s: %s\n", dir, strerror(errno));
            return -1;
        }
        *exists = 1;
        return 0;
    }
    if (errno != ENOENT) {
        fprintf(stderr, "scepd: state_dir %s: %s\n", dir, strerror(errno));
        return -1;
    }
    /* Made on start with its missing parents: the nearest existing
     * ancestor must be writable. */
    if (util_dir_of(dir, parent, sizeof(parent)) != 0)
        snprintf(parent, sizeof(parent), ".");
    while (stat(parent, &st) != 0 && errno == ENOENT && strcmp(parent, "/") != 0 &&
           strcmp(parent, ".") != 0) {
        char up[4096];

        if (util_dir_of(parent, up, sizeof(up)) != 0)
            break;
        snprintf(parent, sizeof(parent), "%s", up);
    }
    if (access(parent, W_OK | X_OK) != 0) {
        fprintf(stderr, "scepd: state_dir %s cannot be created: %s: %s\n", dir, parent,
                strerror(errno));
        return -1;
    }
    printf("scepd: state_dir %s does not exist yet: it will be created (0700)\n", dir);
    return 0;
}

/* The CA: loads as a start would (key modes included), or will be made. */
static int check_ca(const struct scep_config *cfg, int dir_exists)
{
    struct scep_ca *ca = NULL;
    char fp[65];
    int err;

    if (!dir_exists || !scep_ca_exists(cfg->state_dir)) {
        printf("scepd: no CA in %s yet: one will be created (%s, %s)\n", cfg->state_dir,
               cfg->ca_subject, cfg->ca_key_type);
        return 0;
    }
    err = scep_ca_load(cfg->state_dir, &ca);
    if (err == SCEP_ERR_PERMISSIONS) {
        fprintf(stderr, "scepd: a CA key in %s is accessible by group or others (chmod 600)\n",
                cfg->state_dir);
        return -1;
    }
    if (err != 0) {
        fprintf(stderr, "scepd: cannot load the CA in %s: %s\n", cfg->state_dir,
                scep_strerror(err));
        return -1;
    }
    scepd_ca_fingerprint(ca, fp);
    printf("scepd: CA ok: %s (fingerprint %s, %d archived)\n", cfg->ca_subject, fp,
           scep_ca_archive_count(ca));
    scep_ca_free(ca);
    return 0;
}

/* The store: a SQLite file that is not there yet is made on start; any
 * other store must open (and answer) now. */
static int check_store(const struct scep_config *cfg)
{
    struct scep_store *st = NULL;
    char why[512], shown[1024];
    const char *path = NULL;
    struct stat sb;
    int err;

    scep_store_uri_redacted(cfg->database, shown, sizeof(shown));
    if (strncmp(cfg->database, "sqlite:", 7) == 0)
        path = cfg->database + 7;
    else if (cfg->database[0] == '/')
        path = cfg->database;
    if (path != NULL && stat(path, &sb) != 0 && errno == ENOENT) {
        printf("scepd: store %s does not exist yet: it will be created\n", shown);
        return 0;
    }
    err = scep_store_open(cfg->database, &st, why, sizeof(why));
    if (err == 0)
        err = scep_store_ping(st);
    scep_store_close(st);
    if (err != 0) {
        fprintf(stderr, "scepd: store %s: %s\n", shown, why[0] != '\0' ? why : scep_strerror(err));
        return -1;
    }
    printf("scepd: store ok: %s\n", shown);
    return 0;
}

/* The TLS listeners' certificates and keys, loaded as a start would
 * load them.  The admin listener's own certificate (no admin_tls_cert)
 * is issued on start, so only its client CA is checked then. */
static int check_tls(const struct scep_config *cfg)
{
    struct scepd_listener_config lc;
    char err[512];
    int bad = 0;

    if (cfg->tls_listen != NULL) {
        memset(&lc, 0, sizeof(lc));
        lc.name = "tls_listen";
        lc.tls_cert = cfg->tls_cert;
        lc.tls_key = cfg->tls_key;
        lc.tls_client_ca = cfg->tls_client_ca;
        lc.client_verify = scepd_listener_verify_of(cfg->tls_client_verify);
        if (lc.tls_cert == NULL) {
            fprintf(stderr, "scepd: tls_listen needs tls_cert and tls_key\n");
            bad = -1;
        } else if (scepd_listener_check_tls(&lc, err, sizeof(err)) != 0) {
            fprintf(stderr, "scepd: %s\n", err);
            bad = -1;
        } else {
            printf("scepd: tls_listen %s: certificate and key ok\n", cfg->tls_listen);
        }
    }
    if (cfg->admin_listen != NULL) {
        memset(&lc, 0, sizeof(lc));
        lc.name = "admin_listen";
        lc.tls_cert = cfg->admin_tls_cert;
        lc.tls_key = cfg->admin_tls_key;
        lc.tls_client_ca = cfg->admin_client_ca;
        lc.client_verify =
            cfg->admin_client_ca != NULL ? SCEPD_TLS_VERIFY_OPTIONAL : SCEPD_TLS_VERIFY_NONE;
        if (lc.tls_cert == NULL && lc.tls_client_ca != NULL) {
            /* No certificate to load yet: the client CA file alone,
             * read by the loader the listener uses for it. */
            STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(lc.tls_client_ca);

            if (names == NULL) {
                fprintf(stderr, "scepd: admin_client_ca %s: no PEM CA certificate\n",
                        lc.tls_client_ca);
                bad = -1;
            }
            sk_X509_NAME_pop_free(names, X509_NAME_free);
            ERR_clear_error();
        }
        if (lc.tls_cert != NULL && scepd_listener_check_tls(&lc, err, sizeof(err)) != 0) {
            fprintf(stderr, "scepd: %s\n", err);
            bad = -1;
        } else if (lc.tls_cert != NULL) {
            printf("scepd: admin_listen %s: certificate and key ok\n", cfg->admin_listen);
        } else {
            printf("scepd: admin_listen %s: certificate issued by the CA on start (%s/admin)\n",
                   cfg->admin_listen, cfg->state_dir);
        }
    }
    return bad;
}

int scepd_check(const struct scep_config *cfg)
{
    int exists = 0, bad = 0;
    size_t i;

    if (check_state_dir(cfg->state_dir, &exists) != 0)
        return SCEPD_EXIT_USAGE;
    bad |= check_ca(cfg, exists);
    bad |= check_store(cfg);
    bad |= check_tls(cfg);
    if (cfg->enroll.challenge == NULL && cfg->enroll.webhook_url == NULL &&
        !cfg->enroll.open_enrollment)
        printf("scepd: default profile: challenge in %s/challenge (generated on first start)\n",
               cfg->state_dir);
    printf("scepd: profiles: default at %s", cfg->path_prefix);
    for (i = 0; i < cfg->nprofiles; i++)
        printf(", %s", cfg->profiles[i].name);
    printf("\n");
    if (bad)
        return SCEPD_EXIT_USAGE;
    printf("scepd: configuration %s ok\n", cfg->config_file != NULL ? cfg->config_file : "(flags)");
    return SCEPD_EXIT_OK;
}
