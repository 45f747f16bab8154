/*
 * scepctl show: one certificate from the store (issued, or imported
 * into the inventory) with every field the store keeps, or with --pem the certificate itself in PEM
 * (so that "scepctl show SERIAL --pem > device.crt" hands it to another tool). The stored DER is
 * decoded through OpenSSL with its explicit length before it is printed, so a damaged record is
 * reported, not echoed.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <scep/error.h>
#include "admin/admin.h"
#include "scepctl.h"

/* Decodes the stored DER, refusing trailing bytes.  *out: X509_free(). */
static int decode_cert(const struct scep_cert_info *ci, X509 **out)
{
    const unsigned char *p = ci->der;
    X509 *x;

    if (ci->der == NULL || ci->der_len == 0 || ci->der_len > 1024 * 1024)
        return SCEP_ERR_DER;
    x = d2i_X509(NULL, &p, (long)ci->der_len);
    if (x == NULL)
        return SCEP_ERR_DER;
    if (p != ci->der + ci->der_len) {
        X509_free(x);
        return SCEP_ERR_TRAILING;
    }
    *out = x;
    return 0;
}

static void print_human(const struct scep_cert_info *ci, X509 *x, int64_t now)
{
    char buf[64], key[64], fp[65];
    const char *reason = scep_crl_reason_name(ci->revocation_reason);

    ctl_kv("serial:", ci->serial);
    ctl_kv("subject:", ci->subject);
    ctl_kv("SANs:", ci->sans);
    ctl_kv("status:", scep_admin_cert_status(ci, now));
    ctl_kv("not before:", ctl_iso_time(ci->not_before, buf, sizeof(buf)));
    ctl_kv("not after:", ctl_iso_time(ci->not_after, buf, sizeof(buf)));
    ctl_kv("issued at:", ctl_iso_time(ci->issued_at, buf, sizeof(buf)));
    if (ci->status == SCEP_CERT_REVOKED) {
        ctl_kv("revoked at:", ctl_iso_time(ci->revoked_at, buf, sizeof(buf)));
        ctl_kv("reason:", reason != NULL ? reason : "none given");
    }
    ctl_kv("key:", x != NULL ? ctl_x509_keydesc(x, key, sizeof(key)) : NULL);
    if (x != NULL && scep_cert_fingerprint(x, fp) == 0)
        ctl_kv("SHA-256:", fp);
    ctl_kv("public key SHA-256:", ci->pubkey_fp);
    ctl_kv("issuer SHA-256:", ci->issuer_fp);
    ctl_kv("request:", ci->msg_type);
    ctl_kv("transaction id:", ci->transaction_id);
    ctl_kv("requester:", ci->requester);
    if (ci->renewed_serial != NULL && ci->renewed_serial[0] != '\0')
        ctl_kv("renews:", ci->renewed_serial);
    if (ci->superseded_by != NULL && ci->superseded_by[0] != '\0') {
        ctl_kv("superseded by:", ci->superseded_by);
        ctl_kv("superseded at:", ctl_iso_time(ci->superseded_at, buf, sizeof(buf)));
    }
    ctl_kv("profile:", ci->profile != NULL && ci->profile[0] != '\0' ? ci->profile : "default");
    ctl_kv("source:", ci->source != NULL ? ci->source : "scep");
    if (ci->seen_at != NULL && ci->seen_at[0] != '\0')
        ctl_kv("seen at:", ci->seen_at);
    /* An external certificate is stored under its fingerprint (store.h);
     * its own serial and issuer are another CA's, shown from the DER. */
    if (x != NULL && ci->source != NULL && strcmp(ci->source, "scep") != 0) {
        char own[128], issuer[1024];
        ctl_kv("own serial:", ctl_x509_serial(x, own, sizeof(own)));
        ctl_kv("issuer:", ctl_x509_issuer(x, issuer, sizeof(issuer)));
    }
}

/* scepctl show SERIAL [--pem].  Returns an exit code. */
int ctl_cmd_show(struct ctl *c, int argc, char **argv)
{
    int pem = 0, npos = 0, rc, err;
    struct ctl_opt opts[] = {
        {"pem", NULL, &pem},
        {NULL, NULL, NULL},
    };
    const char *pos[1] = {NULL};
    char serial[CTL_MAX_SERIAL_HEX + 1], fp[65];
    struct scep_store *st = NULL;
    struct scep_cert_info *ci = NULL;
    X509 *x = NULL;
    int64_t now = (int64_t)time(NULL);

    rc = ctl_parse_opts(c, argc, argv, opts, pos, 1, &npos, ctl_find_command("show"));
    if (rc != CTL_EXIT_OK)
        return rc < 0 ? CTL_EXIT_OK : rc;
    rc = ctl_serial_arg("show", npos, pos[0], serial, sizeof(serial));
    if (rc != CTL_EXIT_OK)
        return rc;
    rc = ctl_open_store(c, &st);
    if (rc != CTL_EXIT_OK)
        return rc;
    rc = ctl_get_cert(c, st, "show", serial, &ci);
    if (rc != CTL_EXIT_OK)
        goto out;
    rc = CTL_EXIT_FAIL;
    err = decode_cert(ci, &x);
    if (err != 0 && pem) {
        ctl_err("show: the stored certificate %s cannot be decoded: %s", serial,
                scep_strerror(err));
        goto out;
    }
    if (pem) {
        if (PEM_write_X509(stdout, x) != 1) {
            ctl_err("show: cannot write the certificate");
            goto out;
        }
        rc = CTL_EXIT_OK;
        goto out;
    }
    if (c->json) {
        json_t *o = ctl_cert_info_json(ci, now, 1);
        if (o != NULL && x != NULL && scep_cert_fingerprint(x, fp) == 0 &&
            json_object_set_new(o, "fingerprint_sha256", json_string(fp)) != 0) {
            json_decref(o);
            o = NULL;
        }
        rc = ctl_json_print(o);
        goto out;
    }
    print_human(ci, x, now);
    if (err != 0)
        ctl_err("show: warning: the stored certificate cannot be decoded: %s", scep_strerror(err));
    rc = CTL_EXIT_OK;
out:
    X509_free(x);
    scep_cert_info_free(ci);
    scep_store_close(st);
    return rc;
}
