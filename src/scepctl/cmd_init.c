/*
 * scepctl init: creates the CA (and the RA, when asked or when the CA key
 * is EC) in the state directory and the database beside it, and records a
 * "ca-init" audit event.  The CA settings come from the configuration's
 * ca_* keys; the command's own flags override them.  An existing CA is
 * never overwritten: replacing a CA is what "ca rollover" is for.
 */
#include <stdio.h>
#include <string.h>

#include <scep/error.h>
#include "ca/ca.h"
#include "scepctl.h"

static void path_in(char *buf, size_t len, const char *dir, const char *file)
{
    snprintf(buf, len, "%s/%s", dir, file);
}

static int print_result(struct ctl *c, struct scep_ca *ca)
{
    X509 *cert = scep_ca_get0_cert(ca);
    X509 *ra = scep_ca_get0_ra_cert(ca);
    const char *dir = c->cfg.state_dir;
    char ca_crt[4096], ca_key[4096], ra_crt[4096], ra_key[4096];
    json_t *o = NULL, *files = NULL;

    path_in(ca_crt, sizeof(ca_crt), dir, "ca.crt");
    path_in(ca_key, sizeof(ca_key), dir, "ca.key");
    path_in(ra_crt, sizeof(ra_crt), dir, "ra.crt");
    path_in(ra_key, sizeof(ra_key), dir, "ra.key");

    if (!c->json) {
        printf("CA created in %s\n", dir);
        ctl_cert_print("CA certificate", cert);
        if (ra != NULL)
            ctl_cert_print("RA certificate", ra);
        printf("files\n");
        ctl_kv("  CA certificate:", ca_crt);
        ctl_kv("  CA key:", ca_key);
        if (ra != NULL) {
            ctl_kv("  RA certificate:", ra_crt);
            ctl_kv("  RA key:", ra_key);
        }
        ctl_kv("  database:", ctl_database(c));
        return CTL_EXIT_OK;
    }
    o = json_object();
    files = json_object();
    if (o == NULL || files == NULL)
        goto nomem;
    if (json_object_set_new(o, "state_dir", json_string(dir)) != 0 ||
        json_object_set_new(o, "ca", ctl_cert_json(cert)) != 0 ||
        json_object_set_new(o, "ra", ra != NULL ? ctl_cert_json(ra) : json_null()) != 0 ||
        json_object_set_new(files, "ca_cert", json_string(ca_crt)) != 0 ||
        json_object_set_new(files, "ca_key", json_string(ca_key)) != 0 ||
        json_object_set_new(files, "ra_cert", ra != NULL ? json_string(ra_crt) : json_null()) !=
            0 ||
        json_object_set_new(files, "ra_key", ra != NULL ? json_string(ra_key) : json_null()) != 0 ||
        json_object_set_new(files, "database", ctl_json_str(ctl_database(c))) != 0)
        goto nomem;
    if (json_object_set_new(o, "files", files) != 0) {
        files = NULL;
        goto nomem;
    }
    return ctl_json_print(o);
nomem:
    json_decref(files);
    json_decref(o);
    ctl_err("out of memory");
    return CTL_EXIT_FAIL;
}

/* scepctl init: see the file comment.  Returns an exit code. */
int ctl_cmd_init(struct ctl *c, int argc, char **argv)
{
    const char *key_type = NULL, *subject = NULL, *rsa_bits = NULL, *validity = NULL;
    const char *ra_bits = NULL;
    int with_ra = 0, npos = 0;
    struct ctl_opt opts[] = {
        {"key-type", &key_type, NULL},
        {"subject", &subject, NULL},
        {"rsa-bits", &rsa_bits, NULL},
        {"validity-days", &validity, NULL},
        {"with-ra", NULL, &with_ra},
        {"ra-rsa-bits", &ra_bits, NULL},
        {NULL, NULL, NULL},
    };
    struct scep_ca_init_opts io;
    struct scep_ca *ca = NULL;
    struct scep_store *st = NULL;
    char detail[1536], sub[1024], key[64], fp[65], serial[128];
    int rc;

    rc = ctl_parse_opts(c, argc, argv, opts, NULL, 0, &npos, ctl_find_command("init"));
    if (rc != CTL_EXIT_OK)
        return rc < 0 ? CTL_EXIT_OK : rc;
    if ((rc = ctl_override(c, "init", "ca_key_type", key_type, "key-type")) != CTL_EXIT_OK ||
        (rc = ctl_override(c, "init", "ca_subject", subject, "subject")) != CTL_EXIT_OK ||
        (rc = ctl_override(c, "init", "ca_rsa_bits", rsa_bits, "rsa-bits")) != CTL_EXIT_OK ||
        (rc = ctl_override(c, "init", "ca_validity_days", validity, "validity-days")) !=
            CTL_EXIT_OK ||
        (rc = ctl_override(c, "init", "ca_with_ra", with_ra ? "true" : NULL, "with-ra")) !=
            CTL_EXIT_OK ||
        (rc = ctl_override(c, "init", "ca_ra_rsa_bits", ra_bits, "ra-rsa-bits")) != CTL_EXIT_OK)
        return rc;

    rc = CTL_EXIT_FAIL;
    if (scep_ca_exists(c->cfg.state_dir)) {
        ctl_err("init: a CA already exists in %s; it is left untouched (use \"scepctl ca show\" "
                "to see it, or \"scepctl ca rollover\" to replace it)",
                c->cfg.state_dir);
        goto out;
    }
    scep_config_ca_init_opts(&c->cfg, &io);
    int err = scep_ca_create(c->cfg.state_dir, &io);
    if (err == SCEP_ERR_EXISTS) {
        ctl_err("init: a CA already exists in %s; it is left untouched", c->cfg.state_dir);
        goto out;
    }
    if (err != 0) {
        ctl_err("init: cannot create the CA in %s: %s (check the directory's permissions and "
                "the ca_* settings)",
                c->cfg.state_dir, scep_strerror(err));
        goto out;
    }
    if (ctl_load_ca(c, &ca) != CTL_EXIT_OK)
        goto out;
    if (ctl_open_store(c, &st) != CTL_EXIT_OK)
        goto out;

    X509 *cert = scep_ca_get0_cert(ca);
    if (scep_cert_fingerprint(cert, fp) != 0)
        fp[0] = '\0';
    snprintf(detail, sizeof(detail), "subject=\"%s\" key=\"%s\" sha256=%s ra=%s",
             ctl_x509_subject(cert, sub, sizeof(sub)), ctl_x509_keydesc(cert, key, sizeof(key)), fp,
             scep_ca_get0_ra_cert(ca) != NULL ? "yes" : "no");
    if (ctl_audit(c, st, "ca-init", ctl_x509_serial(cert, serial, sizeof(serial)), detail) !=
        CTL_EXIT_OK)
        goto out;
    rc = print_result(c, ca);
out:
    if (st != NULL)
        scep_store_close(st);
    scep_ca_free(ca);
    return rc;
}
