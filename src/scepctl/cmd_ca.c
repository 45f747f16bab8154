/*
 * scepctl ca: "ca show" describes the CA in the state directory (its
 * certificate, the RA if any, and the next CA waiting for its switch-over
 * time), and "ca rollover" prepares that next CA with scep_ca_next_create.
 * scepd promotes the next CA itself when activate-at passes and answers
 * GetNextCACert with it meanwhile, so clients can fetch it ahead of time.
 *
 * A rollover keeps the current CA's subject and key algorithm unless
 * flags say otherwise: a new CA that silently changed its name or key type
 * because the configuration still holds the defaults would surprise every
 * relying party.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/objects.h>

#include <scep/error.h>
#include "ca/ca.h"
#include "scepctl.h"

/* Longest lead time for --in, in days: beyond this is surely a typo. */
#define CTL_MAX_ROLLOVER_DAYS 36500

static int show(struct ctl *c)
{
    struct scep_ca *ca = NULL;
    X509 *ra, *next;
    time_t at;
    char buf[64];
    json_t *o = NULL, *n = NULL;
    int rc;

    rc = ctl_load_ca(c, &ca);
    if (rc != CTL_EXIT_OK)
        return rc;
    rc = CTL_EXIT_FAIL;
    ra = scep_ca_get0_ra_cert(ca);
    next = scep_ca_get0_next_cert(ca);
    at = scep_ca_next_activate_at(ca);

    if (!c->json) {
        printf("state directory: %s\n", c->cfg.state_dir);
        ctl_cert_print("CA", scep_ca_get0_cert(ca));
        if (ra != NULL)
            ctl_cert_print("RA", ra);
        else
            printf("RA\n  none (requests are encrypted to the CA certificate)\n");
        if (next != NULL) {
            ctl_cert_print("next CA", next);
            ctl_kv("  activate at:", ctl_iso_time((int64_t)at, buf, sizeof(buf)));
        } else {
            printf("next CA\n  none\n");
        }
        /* Newest first: "crl --ca previous" is the first one. */
        for (int i = 0; i < scep_ca_archive_count(ca); i++)
            ctl_cert_print(i == 0 ? "archived CA (previous)" : "archived CA",
                           scep_ca_get0_archived(ca, i));
        rc = CTL_EXIT_OK;
        goto out;
    }
    o = json_object();
    if (o == NULL)
        goto nomem;
    if (next != NULL) {
        n = ctl_cert_json(next);
        if (n == NULL || json_object_set_new(n, "activate_at", ctl_json_time((int64_t)at)) != 0)
            goto nomem;
    }
    if (json_object_set_new(o, "state_dir", json_string(c->cfg.state_dir)) != 0 ||
        json_object_set_new(o, "ca", ctl_cert_json(scep_ca_get0_cert(ca))) != 0 ||
        json_object_set_new(o, "ra", ra != NULL ? ctl_cert_json(ra) : json_null()) != 0)
        goto nomem;
    rc = json_object_set_new(o, "next", n != NULL ? n : json_null());
    n = NULL; /* stolen even on failure */
    if (rc != 0)
        goto nomem;
    if ((n = json_array()) == NULL)
        goto nomem;
    for (int i = 0; i < scep_ca_archive_count(ca); i++) {
        if (json_array_append_new(n, ctl_cert_json(scep_ca_get0_archived(ca, i))) != 0)
            goto nomem;
    }
    rc = json_object_set_new(o, "archived", n);
    n = NULL;
    if (rc != 0)
        goto nomem;
    rc = ctl_json_print(o);
    o = NULL;
    goto out;
nomem:
    ctl_err("out of memory");
    rc = CTL_EXIT_FAIL;
out:
    json_decref(n);
    json_decref(o);
    scep_ca_free(ca);
    return rc;
}

/* Fills the key algorithm of io from cert's public key. */
static void key_from_cert(X509 *cert, struct scep_ca_init_opts *io, int keep_bits)
{
    EVP_PKEY *pk = X509_get0_pubkey(cert);
    char group[64];
    size_t glen = 0;

    if (pk == NULL)
        return;
    if (EVP_PKEY_is_a(pk, "RSA")) {
        io->key_type = SCEP_KEY_RSA;
        if (!keep_bits)
            io->rsa_bits = EVP_PKEY_get_bits(pk);
    } else if (EVP_PKEY_is_a(pk, "EC") &&
               EVP_PKEY_get_utf8_string_param(pk, "group", group, sizeof(group), &glen) == 1) {
        /* OpenSSL names the group by its short name ("prime256v1"),
         * which maps back to the NID scep_ca_create wants. */
        io->key_type = SCEP_KEY_EC;
        io->ec_curve = OBJ_sn2nid(group);
    }
}

static int rollover(struct ctl *c, int argc, char **argv)
{
    const char *at_s = NULL, *in_s = NULL, *key_type = NULL, *subject = NULL;
    const char *rsa_bits = NULL, *validity = NULL, *ra_bits = NULL;
    struct ctl_opt opts[] = {
        {"activate-at", &at_s, NULL},    {"in", &in_s, NULL},
        {"key-type", &key_type, NULL},   {"subject", &subject, NULL},
        {"rsa-bits", &rsa_bits, NULL},   {"validity-days", &validity, NULL},
        {"ra-rsa-bits", &ra_bits, NULL}, {NULL, NULL, NULL},
    };
    const struct ctl_command *cmd = ctl_find_command("ca");
    struct scep_ca_init_opts io;
    struct scep_ca *ca = NULL, *after = NULL;
    struct scep_store *st = NULL;
    char cur_subject[1024], buf[64], at_text[32], fp[65], detail[1600], nsub[1024];
    time_t at = 0, now = time(NULL);
    int64_t ca_end;
    long days;
    int npos = 0, rc, err;
    X509 *cur, *next;

    rc = ctl_parse_opts(c, argc, argv, opts, NULL, 0, &npos, cmd);
    if (rc != CTL_EXIT_OK)
        return rc < 0 ? CTL_EXIT_OK : rc;
    if ((at_s == NULL) == (in_s == NULL)) {
        ctl_err("ca rollover: give exactly one of --activate-at TIME or --in DAYS");
        return CTL_EXIT_USAGE;
    }
    if (at_s != NULL && ctl_parse_time(at_s, &at) != 0) {
        ctl_err("ca rollover: --activate-at %s: expected YYYY-MM-DDTHH:MM:SSZ (UTC)", at_s);
        return CTL_EXIT_USAGE;
    }
    if (in_s != NULL) {
        if (ctl_parse_long(in_s, 0, CTL_MAX_ROLLOVER_DAYS, &days) != 0) {
            ctl_err("ca rollover: --in %s: expected a number of days from 0 to %d", in_s,
                    CTL_MAX_ROLLOVER_DAYS);
            return CTL_EXIT_USAGE;
        }
        at = now + (time_t)days * 86400;
    }
    if ((rc = ctl_override(c, "ca rollover", "ca_key_type", key_type, "key-type")) != 0 ||
        (rc = ctl_override(c, "ca rollover", "ca_subject", subject, "subject")) != 0 ||
        (rc = ctl_override(c, "ca rollover", "ca_rsa_bits", rsa_bits, "rsa-bits")) != 0 ||
        (rc = ctl_override(c, "ca rollover", "ca_validity_days", validity, "validity-days")) != 0 ||
        (rc = ctl_override(c, "ca rollover", "ca_ra_rsa_bits", ra_bits, "ra-rsa-bits")) != 0)
        return rc;

    rc = ctl_load_ca(c, &ca);
    if (rc != CTL_EXIT_OK)
        return rc;
    rc = CTL_EXIT_FAIL;
    cur = scep_ca_get0_cert(ca);
    if (scep_ca_get0_next_cert(ca) != NULL) {
        ctl_err("ca rollover: a next CA is already waiting (activates at %s); it is left "
                "untouched (see \"scepctl ca show\")",
                ctl_iso_time((int64_t)scep_ca_next_activate_at(ca), buf, sizeof(buf)));
        goto out;
    }
    ca_end = ctl_asn1_time(X509_get0_notAfter(cur));
    if (ca_end != 0 && (int64_t)at >= ca_end) {
        ctl_err("ca rollover: the current CA expires at %s, before the switch-over; pick an "
                "earlier --activate-at or a smaller --in",
                ctl_iso_time(ca_end, buf, sizeof(buf)));
        goto out;
    }

    scep_config_ca_init_opts(&c->cfg, &io);
    if (key_type == NULL)
        key_from_cert(cur, &io, rsa_bits != NULL);
    if (subject == NULL)
        io.subject = ctl_x509_subject(cur, cur_subject, sizeof(cur_subject));
    if (scep_ca_get0_ra_cert(ca) != NULL) {
        EVP_PKEY *ra_key = X509_get0_pubkey(scep_ca_get0_ra_cert(ca));

        io.with_ra = 1;
        /* The next RA keeps the size of the current one, as the CA
         * keeps its key algorithm, unless asked otherwise. */
        if (ra_bits == NULL && ra_key != NULL)
            io.ra_bits = EVP_PKEY_get_bits(ra_key);
    }

    err = scep_ca_next_create(c->cfg.state_dir, &io, at);
    if (err == SCEP_ERR_EXISTS) {
        ctl_err("ca rollover: %s/next already holds a CA; it is left untouched", c->cfg.state_dir);
        goto out;
    }
    if (err != 0) {
        ctl_err("ca rollover: cannot create the next CA in %s/next: %s", c->cfg.state_dir,
                scep_strerror(err));
        goto out;
    }

    /* Reload to read the new certificate back as scepd will see it. */
    if (ctl_load_ca(c, &after) != CTL_EXIT_OK)
        goto out;
    next = scep_ca_get0_next_cert(after);
    if (next == NULL) /* activate-at already passed: the load promoted it */
        next = scep_ca_get0_cert(after);
    if (scep_cert_fingerprint(next, fp) != 0)
        fp[0] = '\0';
    ctl_iso_time((int64_t)at, at_text, sizeof(at_text));
    snprintf(detail, sizeof(detail), "activate_at=%s subject=\"%s\" sha256=%s", at_text,
             ctl_x509_subject(next, nsub, sizeof(nsub)), fp);
    if (ctl_open_store(c, &st) != CTL_EXIT_OK)
        goto out;
    if (ctl_audit(c, st, "ca-rollover", ctl_x509_serial(next, buf, sizeof(buf)), detail) !=
        CTL_EXIT_OK)
        goto out;

    if (c->json) {
        json_t *o = ctl_cert_json(next);
        if (o == NULL || json_object_set_new(o, "activate_at", ctl_json_time((int64_t)at)) != 0) {
            json_decref(o);
            ctl_err("out of memory");
            goto out;
        }
        rc = ctl_json_print(o);
        goto out;
    }
    if (scep_ca_get0_next_cert(after) == NULL) {
        ctl_cert_print("new CA created and already current (the former CA is archived)", next);
        printf("restart scepd to serve it.\n");
    } else {
        ctl_cert_print("next CA created", next);
        ctl_kv("  activate at:", at_text);
        printf("scepd serves it with GetNextCACert until then and switches over by itself.\n");
    }
    rc = CTL_EXIT_OK;
out:
    if (st != NULL)
        scep_store_close(st);
    scep_ca_free(after);
    scep_ca_free(ca);
    return rc;
}

/* scepctl ca show | rollover.  Returns an exit code. */
int ctl_cmd_ca(struct ctl *c, int argc, char **argv)
{
    const struct ctl_command *cmd = ctl_find_command("ca");

    if (argc >= 2 && strcmp(argv[1], "show") == 0) {
        const char *pos[1];
        int npos = 0;
        int rc = ctl_parse_opts(c, argc - 1, argv + 1, (const struct ctl_opt[]){{NULL, NULL, NULL}},
                                pos, 0, &npos, cmd);
        if (rc != CTL_EXIT_OK)
            return rc < 0 ? CTL_EXIT_OK : rc;
        return show(c);
    }
    if (argc >= 2 && strcmp(argv[1], "rollover") == 0)
        return rollover(c, argc - 1, argv + 1);
    if (argc < 2)
        ctl_err("ca: missing subcommand (show or rollover)");
    else
        ctl_err("ca: unknown subcommand \"%s\" (show or rollover)", argv[1]);
    fprintf(stderr, "usage: %s\n", cmd->usage);
    return CTL_EXIT_USAGE;
}
