/*
 * scepctl crl: asks the one CRL builder (lib/admin/crl.c) for the CRL of
 * a CA — the current one by default, or with --ca an archived one
 * ("previous", or a fingerprint / key identifier prefix) whose
 * certificates are still in use after a rollover — and writes it: PEM
 * by default, DER with --der; to standard output, or with --out to a
 * file replaced atomically so that a web server publishing it never
 * serves half a CRL.  What the CRL lists and who signs it is decided in
 * the library, the same way for GetCRL.  The CRL made here becomes the
 * published one (scep_admin_crl_current with force): every scepd on the
 * store serves it from then on.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509.h>

#include <scep/error.h>
#include "admin/admin.h"
#include "ca/ca.h"
#include "util/atomic_file.h"
#include "scepctl.h"

/* Prints why --ca names no usable CA.  Returns CTL_EXIT_USAGE or CTL_EXIT_FAIL. */
static int bad_ca(const char *which, int err)
{
    if (err == SCEP_ERR_INVALID_ARG) {
        ctl_err("crl: --ca %s: expected current, previous, or at least 8 hex digits of one CA's "
                "fingerprint or key identifier (see \"scepctl ca show\")",
                which);
        return CTL_EXIT_USAGE;
    }
    if (strcmp(which, "previous") == 0)
        ctl_err("crl: --ca previous: this CA has not been rolled over, so there is no previous CA");
    else
        ctl_err("crl: --ca %s: no current or archived CA matches (see \"scepctl ca show\")", which);
    return CTL_EXIT_FAIL;
}

/* Replaces the DER CRL in *buf (free()) with its PEM form.  0 or SCEP_ERR_*. */
static int to_pem(unsigned char **buf, size_t *len)
{
    const unsigned char *p = *buf;
    unsigned char *pem = NULL;
    size_t pemlen = 0;
    X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)*len);
    int rc = SCEP_ERR_INTERNAL;

    if (crl != NULL && p == *buf + *len)
        rc = scep_admin_crl_encode(crl, 1, &pem, &pemlen);
    X509_CRL_free(crl);
    if (rc != 0)
        return rc;
    free(*buf);
    *buf = pem;
    *len = pemlen;
    return 0;
}

/* scepctl crl [--ca WHICH] [--out FILE] [--der].  Returns an exit code. */
int ctl_cmd_crl(struct ctl *c, int argc, char **argv)
{
    const char *out_path = NULL, *which = NULL;
    int der = 0, npos = 0, rc, err;
    struct ctl_opt opts[] = {
        {"ca", &which, NULL},
        {"out", &out_path, NULL},
        {"der", NULL, &der},
        {NULL, NULL, NULL},
    };
    struct scep_admin_crl_info info;
    struct scep_store *st = NULL;
    struct scep_ca *ca = NULL;
    X509 *issuer = NULL;
    unsigned char *enc = NULL;
    size_t enclen = 0;

    rc = ctl_parse_opts(c, argc, argv, opts, NULL, 0, &npos, ctl_find_command("crl"));
    if (rc != CTL_EXIT_OK)
        return rc < 0 ? CTL_EXIT_OK : rc;
    if (der && out_path == NULL && isatty(STDOUT_FILENO)) {
        ctl_err("crl: refusing to write DER to a terminal; use --out FILE or a redirection");
        return CTL_EXIT_USAGE;
    }
    rc = ctl_load_ca(c, &ca);
    if (rc != CTL_EXIT_OK)
        return rc;
    if ((err = scep_ca_find_issuer(ca, which, &issuer)) != 0) {
        rc = bad_ca(which, err);
        goto out;
    }
    rc = ctl_open_store(c, &st);
    if (rc != CTL_EXIT_OK)
        goto out;
    rc = CTL_EXIT_FAIL;
    err = scep_admin_crl_current(st, ca, issuer, (long)c->cfg.crl_validity_hours * 3600L, 1,
                                 c->actor, &enc, &enclen, &info);
    if (err == 0 && !der)
        err = to_pem(&enc, &enclen);
    if (err == SCEP_ERR_NOT_FOUND || err == SCEP_ERR_PERMISSIONS || err == SCEP_ERR_KEY) {
        ctl_err("crl: the key of that archived CA is missing or unusable in %s/archive: %s; no CRL "
                "was made",
                c->cfg.state_dir, scep_strerror(err));
        goto out;
    }
    if (err != 0) {
        ctl_err("crl: making the CRL failed: %s (%s); no CRL was made", scep_strerror(err),
                scep_store_last_error(st));
        goto out;
    }
    if (out_path != NULL) {
        /* A CRL is public. */
        if ((err = util_write_atomic(out_path, enc, enclen, 0644, 0)) != 0) {
            ctl_err("crl: cannot write %s: %s", out_path, scep_strerror(err));
            goto out;
        }
    } else if (fwrite(enc, 1, enclen, stdout) != enclen || fflush(stdout) != 0) {
        ctl_err("crl: writing to standard output failed");
        goto out;
    }
    if (out_path != NULL) {
        if (c->json) {
            json_t *o = json_object();
            if (o == NULL || json_object_set_new(o, "crl_number", json_integer(info.number)) != 0 ||
                json_object_set_new(o, "entries", json_integer((json_int_t)info.entries)) != 0 ||
                json_object_set_new(o, "issuer_fingerprint", json_string(info.issuer_fp)) != 0 ||
                json_object_set_new(o, "file", json_string(out_path)) != 0 ||
                json_object_set_new(o, "format", json_string(der ? "der" : "pem")) != 0) {
                json_decref(o);
                o = NULL;
            }
            rc = ctl_json_print(o);
            goto out;
        }
        printf("CRL number %lld with %zu entries written to %s\n", (long long)info.number,
               info.entries, out_path);
    }
    rc = CTL_EXIT_OK;
out:
    free(enc);
    scep_store_close(st);
    scep_ca_free(ca);
    return rc;
}
