/*
 * scepd's first-start preparation of the state directory, run before the
 * listener opens: make the directory (0700), create the CA when there is
 * none, settle the challenge password and load the CA.
 *
 * The challenge rule: an operator must never get an open enrollment by
 * accident.  When neither challenge nor challenge_file is configured,
 * scepd uses STATE/challenge, generating it once (16 random bytes in hex,
 * mode 0600) on the start that first needs it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <scep/error.h>
#include <scep/encoding.h>
#include <scep/message.h>

#include "scepd.h"
#include "ca/ca.h"

/* Random bytes in a generated challenge (hex doubles them). */
#define SETUP_CHALLENGE_BYTES 16

/* mkdir -p with mode for every directory it makes. */
static int setup_mkdir_p(const char *dir, mode_t mode)
{
    char path[4096];
    size_t i, n = strlen(dir);

    if (n == 0 || n >= sizeof(path))
        return -1;
    memcpy(path, dir, n + 1);
    for (i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        path[i] = '\0';
        if (mkdir(path, mode) != 0 && errno != EEXIST)
            return -1;
        path[i] = i == n ? '\0' : '/';
    }
    return 0;
}

/* Writes a new random challenge to path (O_EXCL, 0600). */
static int setup_write_challenge(const char *path)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[SETUP_CHALLENGE_BYTES];
    char text[2 * SETUP_CHALLENGE_BYTES + 1];
    size_t i, off = 0;
    int fd = -1;
    int rc = -1;

    if (RAND_bytes(raw, sizeof(raw)) != 1)
        goto out;
    for (i = 0; i < sizeof(raw); i++) {
        text[2 * i] = hex[raw[i] >> 4];
        text[2 * i + 1] = hex[raw[i] & 15];
    }
    text[sizeof(text) - 1] = '\n';
    /* O_EXCL: never overwrite a challenge an operator put there. */
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        goto out;
    while (off < sizeof(text)) {
        ssize_t w = write(fd, text + off, sizeof(text) - off);

        if (w <= 0)
            goto out;
        off += (size_t)w;
    }
    if (fsync(fd) != 0)
        goto out;
    rc = 0;
out:
    OPENSSL_cleanse(raw, sizeof(raw));
    OPENSSL_cleanse(text, sizeof(text));
    if (fd >= 0 && close(fd) != 0)
        rc = -1;
    if (rc != 0 && fd >= 0)
        unlink(path);
    return rc;
}

/*
 * Settles the default profile's challenge: configured, or read from
 * STATE/challenge, generated there first when missing.  A default
 * profile that a webhook guards, or that was declared open, needs none.
 * note receives what to print.
 */
static int setup_challenge(struct scep_config *cfg, char *note, size_t notelen)
{
    char path[4096];
    char err[512];
    struct stat st;
    int generated = 0;
    int rc;

    note[0] = '\0';
    if (cfg->enroll.challenge != NULL) {
        if (cfg->enroll.challenge_file != NULL)
            snprintf(note, notelen, "scepd: challenge password in %s", cfg->enroll.challenge_file);
        return SCEPD_EXIT_OK;
    }
    if (cfg->enroll.webhook_url != NULL || cfg->enroll.open_enrollment)
        return SCEPD_EXIT_OK;
    snprintf(path, sizeof(path), "%s/challenge", cfg->state_dir);
    if (stat(path, &st) != 0) {
        if (errno != ENOENT || setup_write_challenge(path) != 0) {
            fprintf(stderr, "scepd: cannot create challenge file %s: %s\n", path, strerror(errno));
            return SCEPD_EXIT_RUNTIME;
        }
        generated = 1;
    }
    rc = scep_config_set(cfg, "challenge_file", path, err, sizeof(err));
    if (rc == 0)
        rc = scep_config_finish(cfg, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "scepd: %s\n", err);
        return SCEPD_EXIT_RUNTIME;
    }
    if (generated) {
        scepd_log(SCEPD_INFO, "challenge-generated", "file", path, NULL);
        /* On a terminal the operator reads it at once; anywhere else (a
         * journal, a log file) the secret would be kept where others can
         * read it, so only its file is named. */
        if (isatty(STDOUT_FILENO))
            snprintf(note, notelen, "scepd: challenge password: %s", cfg->enroll.challenge);
        else
            snprintf(note, notelen, "scepd: challenge password generated in %s (mode 0600)", path);
    } else {
        snprintf(note, notelen, "scepd: challenge password in %s", path);
    }
    return SCEPD_EXIT_OK;
}

/* Lowercase hex SHA-256 of ca's certificate DER into out; "" on failure.
 * The same text scepctl prints and scepc --ca-fingerprint pins:
 * scep_cert_fingerprint() (lib/ca) computes it for all of them. */
void scepd_ca_fingerprint(const struct scep_ca *ca, char out[65])
{
    if (scep_cert_fingerprint(scep_ca_get0_cert(ca), out) != 0)
        out[0] = '\0';
}

/*
 * Prepares cfg->state_dir and loads the CA; see scepd.h.  On success *ca
 * holds a reference (scep_ca_free()).  Returns SCEPD_EXIT_OK or
 * SCEPD_EXIT_RUNTIME after telling the operator why on stderr.
 */
int scepd_setup(struct scep_config *cfg, struct scep_ca **ca, char *note, size_t notelen)
{
    struct scep_ca_init_opts opts;
    struct scep_ca *loaded = NULL;
    int err;
    int rc = SCEPD_EXIT_RUNTIME;

    if (setup_mkdir_p(cfg->state_dir, 0700) != 0) {
        fprintf(stderr, "scepd: cannot create state directory %s: %s\n", cfg->state_dir,
                strerror(errno));
        goto out;
    }
    if (!scep_ca_exists(cfg->state_dir)) {
        /* Say the real cause: the CA writer only knows its write failed. */
        if (access(cfg->state_dir, W_OK | X_OK) != 0) {
            fprintf(stderr, "scepd: cannot create a CA in %s: %s\n", cfg->state_dir,
                    strerror(errno));
            goto out;
        }
        scep_config_ca_init_opts(cfg, &opts);
        err = scep_ca_create(cfg->state_dir, &opts);
        if (err != 0) {
            fprintf(stderr, "scepd: cannot create a CA in %s: %s\n", cfg->state_dir,
                    scep_strerror(err));
            goto out;
        }
        scepd_log(SCEPD_INFO, "ca-created", "state_dir", cfg->state_dir, "subject", cfg->ca_subject,
                  "key_type", cfg->ca_key_type, NULL);
    }
    rc = setup_challenge(cfg, note, notelen);
    if (rc != SCEPD_EXIT_OK)
        goto out;
    rc = SCEPD_EXIT_RUNTIME;
    err = scep_ca_load(cfg->state_dir, &loaded);
    if (err == SCEP_ERR_PERMISSIONS) {
        fprintf(stderr,
                "scepd: refusing to start: a CA key in %s is accessible by group or others "
                "(chmod 600 %s/*.key)\n",
                cfg->state_dir, cfg->state_dir);
        goto out;
    }
    if (err != 0) {
        fprintf(stderr, "scepd: cannot load the CA in %s: %s\n", cfg->state_dir,
                scep_strerror(err));
        goto out;
    }
    {
        char fp[65];

        scepd_ca_fingerprint(loaded, fp);
        scepd_log(SCEPD_INFO, "ca-loaded", "state_dir", cfg->state_dir, "ca_fingerprint", fp, NULL);
    }
    *ca = loaded;
    loaded = NULL;
    rc = SCEPD_EXIT_OK;
out:
    scep_ca_free(loaded);
    return rc;
}
