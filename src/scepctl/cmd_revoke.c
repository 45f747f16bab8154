/*
 * scepctl revoke: revokes an issued certificate through the library
 * (scep_admin_revoke: the record and its "revoke" audit event in one
 * transaction) and reports it.  The revocation
 * reaches relying parties with the next CRL ("scepctl crl"), and scepd
 * refuses renewals signed by a revoked certificate at once.
 *
 * "scepctl unhold" releases a certificateHold, the one revocation that is
 * not final (RFC 5280 5.3.1), through scep_admin_unhold.
 *
 * Without --reason no CRLReason is recorded: RFC 5280 5.3.1 says the
 * reasonCode extension should be absent rather than "unspecified", which
 * stays available for operators whose policy asks for it explicitly.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <scep/error.h>
#include "admin/admin.h"
#include "scepctl.h"

/* scepctl revoke SERIAL [--reason NAME].  Returns an exit code. */
int ctl_cmd_revoke(struct ctl *c, int argc, char **argv)
{
    const char *reason_s = NULL;
    struct ctl_opt opts[] = {
        {"reason", &reason_s, NULL},
        {NULL, NULL, NULL},
    };
    const char *pos[1] = {NULL};
    char serial[CTL_MAX_SERIAL_HEX + 1], when[32];
    struct scep_store *st = NULL;
    struct scep_cert_info *ci = NULL;
    int64_t now = (int64_t)time(NULL);
    int reason = -1, npos = 0, rc, err;

    rc = ctl_parse_opts(c, argc, argv, opts, pos, 1, &npos, ctl_find_command("revoke"));
    if (rc != CTL_EXIT_OK)
        return rc < 0 ? CTL_EXIT_OK : rc;
    rc = ctl_serial_arg("revoke", npos, pos[0], serial, sizeof(serial));
    if (rc != CTL_EXIT_OK)
        return rc;
    if (reason_s != NULL) {
        reason = scep_crl_reason_code(reason_s);
        if (reason < 0) {
            ctl_err("revoke: --reason %s: expected %s", reason_s, scep_crl_reason_list());
            return CTL_EXIT_USAGE;
        }
    }
    rc = ctl_open_store(c, &st);
    if (rc != CTL_EXIT_OK)
        return rc;
    rc = CTL_EXIT_FAIL;
    err = scep_admin_revoke(st, c->actor, serial, reason, now, &ci);
    if (err == SCEP_ERR_EXISTS) {
        struct scep_cert_info *was = NULL;

        if (scep_admin_get_cert(st, serial, &was) == 0)
            ctl_err("revoke: %s was already revoked at %s; nothing changed", serial,
                    ctl_iso_time(was->revoked_at, when, sizeof(when)));
        else
            ctl_err("revoke: %s was already revoked; nothing changed", serial);
        scep_cert_info_free(was);
        goto out;
    }
    if (err == SCEP_ERR_NOT_FOUND) {
        ctl_err("revoke: no certificate with serial %s (see \"scepctl list\")", serial);
        goto out;
    }
    if (err == SCEP_ERR_POLICY) {
        ctl_err("revoke: %s is an external certificate (scepctl import): its own CA revokes it, "
                "not this one; nothing changed",
                serial);
        goto out;
    }
    if (err != 0) {
        ctl_err("revoke: the database refused the revocation: %s; nothing changed",
                scep_strerror(err));
        goto out;
    }
    if (c->json) {
        json_t *o = json_object();
        if (o == NULL || json_object_set_new(o, "serial", json_string(serial)) != 0 ||
            json_object_set_new(o, "subject", ctl_json_str(ci->subject)) != 0 ||
            json_object_set_new(o, "status", json_string("revoked")) != 0 ||
            json_object_set_new(o, "revoked_at", ctl_json_time(now)) != 0 ||
            json_object_set_new(o, "reason", ctl_json_str(scep_crl_reason_name(reason))) != 0) {
            json_decref(o);
            o = NULL;
        }
        rc = ctl_json_print(o);
        goto out;
    }
    printf("revoked %s\n", serial);
    ctl_kv("  subject:", ci->subject);
    ctl_kv("  revoked at:", ctl_iso_time(now, when, sizeof(when)));
    ctl_kv("  reason:", reason >= 0 ? scep_crl_reason_name(reason) : "none given");
    printf("publish a new CRL with \"scepctl crl\" so that relying parties see it.\n");
    rc = CTL_EXIT_OK;
out:
    scep_cert_info_free(ci);
    scep_store_close(st);
    return rc;
}

/* scepctl unhold SERIAL.  Returns an exit code. */
int ctl_cmd_unhold(struct ctl *c, int argc, char **argv)
{
    struct ctl_opt opts[] = {
        {NULL, NULL, NULL},
    };
    const char *pos[1] = {NULL};
    char serial[CTL_MAX_SERIAL_HEX + 1];
    struct scep_store *st = NULL;
    struct scep_cert_info *ci = NULL;
    int npos = 0, rc, err;

    rc = ctl_parse_opts(c, argc, argv, opts, pos, 1, &npos, ctl_find_command("unhold"));
    if (rc != CTL_EXIT_OK)
        return rc < 0 ? CTL_EXIT_OK : rc;
    rc = ctl_serial_arg("unhold", npos, pos[0], serial, sizeof(serial));
    if (rc != CTL_EXIT_OK)
        return rc;
    rc = ctl_open_store(c, &st);
    if (rc != CTL_EXIT_OK)
        return rc;
    rc = CTL_EXIT_FAIL;
    err = scep_admin_unhold(st, c->actor, serial, &ci);
    if (err == SCEP_ERR_NOT_FOUND) {
        ctl_err("unhold: no certificate with serial %s (see \"scepctl list\")", serial);
        goto out;
    }
    if (err == SCEP_ERR_POLICY) {
        ctl_err("unhold: %s is not on hold (revoked with reason certificateHold); only a hold "
                "can be released, any other revocation is final; nothing changed",
                serial);
        goto out;
    }
    if (err != 0) {
        ctl_err("unhold: the database refused: %s; nothing changed", scep_strerror(err));
        goto out;
    }
    if (c->json) {
        json_t *o = json_object();
        if (o == NULL || json_object_set_new(o, "serial", json_string(serial)) != 0 ||
            json_object_set_new(o, "subject", ctl_json_str(ci->subject)) != 0 ||
            json_object_set_new(o, "status", json_string("valid")) != 0) {
            json_decref(o);
            o = NULL;
        }
        rc = ctl_json_print(o);
        goto out;
    }
    printf("released the hold on %s\n", serial);
    ctl_kv("  subject:", ci->subject);
    printf("publish a new CRL with \"scepctl crl\" so that relying parties see it.\n");
    rc = CTL_EXIT_OK;
out:
    scep_cert_info_free(ci);
    scep_store_close(st);
    return rc;
}
