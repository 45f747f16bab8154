/*
 * scepctl requests and show-request: the enrollment requests scepd holds
 * for an administrator when approval = manual (scepd.conf(5)).  "requests"
 * lists them oldest first (pending ones by default, the queue to work
 * through), "show-request" shows one with every field, or its PKCS#10 in
 * PEM.  Also the lookup by id or transactionID that approve and reject
 * share (cmd_decide.c), and the request-to-JSON conversion.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <scep/error.h>
#include "admin/admin.h"
#include "scepctl.h"

/* A stored CSR larger than this is not something scepd accepted; refuse
 * to decode it rather than hand OpenSSL an arbitrary blob. */
#define CTL_MAX_CSR_DER (256 * 1024)

static const char *const status_names[] = {"pending", "approved", "rejected", "issued"};

/* Name of an enum scep_request_status value; "unknown" otherwise. */
const char *ctl_request_status(int status)
{
    if (status < 0 || (size_t)status >= sizeof(status_names) / sizeof(status_names[0]))
        return "unknown";
    return status_names[status];
}

/* 1 if s is a non-empty run of ASCII digits. */
static int all_digits(const char *s)
{
    if (s[0] == '\0')
        return 0;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return 0;
    }
    return 1;
}

/* Finds a request by id or transactionID; see scepctl.h. */
int ctl_find_request(struct ctl *c, struct scep_store *st, const char *cmd, const char *arg,
                     struct scep_request_info **out)
{
    int err = scep_admin_find_request(st, arg, out);

    if (err == SCEP_ERR_INVALID_ARG) {
        if (arg[0] == '\0')
            ctl_err("%s: an empty argument names no request", cmd);
        else
            ctl_err("%s: request id %s is out of range (see \"scepctl requests\")", cmd, arg);
        return CTL_EXIT_USAGE;
    }
    if (err == SCEP_ERR_NOT_FOUND) {
        ctl_err("%s: no request with %s %s in %s (see \"scepctl requests --status all\")", cmd,
                all_digits(arg) ? "id" : "transaction id", arg, ctl_database(c));
        return CTL_EXIT_FAIL;
    }
    if (err != 0) {
        ctl_err("%s: reading the database failed: %s", cmd, scep_strerror(err));
        return CTL_EXIT_FAIL;
    }
    return CTL_EXIT_OK;
}

/* JSON object for a request record; see scepctl.h. */
json_t *ctl_request_json(const struct scep_request_info *ri)
{
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    if (json_object_set_new(o, "id", json_integer((json_int_t)ri->id)) != 0 ||
        json_object_set_new(o, "status", json_string(ctl_request_status(ri->status))) != 0 ||
        json_object_set_new(o, "transaction_id", ctl_json_str(ri->transaction_id)) != 0 ||
        json_object_set_new(o, "subject", ctl_json_str(ri->subject)) != 0 ||
        json_object_set_new(o, "sans", ctl_json_str(ri->sans)) != 0 ||
        json_object_set_new(o, "pubkey_fingerprint", ctl_json_str(ri->pubkey_fp)) != 0 ||
        json_object_set_new(o, "msg_type", ctl_json_str(ri->msg_type)) != 0 ||
        json_object_set_new(o, "requester", ctl_json_str(ri->requester)) != 0 ||
        json_object_set_new(o, "created_at", ctl_json_time(ri->created_at)) != 0 ||
        json_object_set_new(o, "decided_at", ctl_json_time(ri->decided_at)) != 0 ||
        json_object_set_new(o, "decided_by", ctl_json_str(ri->decided_by)) != 0 ||
        json_object_set_new(o, "reason", ctl_json_str(ri->reason)) != 0 ||
        json_object_set_new(o, "serial", ctl_json_str(ri->serial)) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

struct req_list {
    long count;
    json_t *array; /* --json */
    struct ctl_table *table;
};

static int list_one(const struct scep_request_info *ri, void *arg)
{
    struct req_list *rl = arg;
    char id[24], created[32];

    rl->count++;
    if (rl->array != NULL) {
        json_t *o = ctl_request_json(ri);
        if (o == NULL || json_array_append_new(rl->array, o) != 0)
            return SCEP_ERR_NOMEM;
        return 0;
    }
    snprintf(id, sizeof(id), "%lld", (long long)ri->id);
    const char *row[6] = {id,
                          ctl_request_status(ri->status),
                          ctl_iso_time(ri->created_at, created, sizeof(created)),
                          ri->transaction_id,
                          ri->subject,
                          ri->requester};
    return ctl_table_add(rl->table, row) == 0 ? 0 : SCEP_ERR_NOMEM;
}

/* scepctl requests [--status S].  Returns an exit code. */
int ctl_cmd_requests(struct ctl *c, int argc, char **argv)
{
    const char *status = NULL;
    struct ctl_opt opts[] = {
        {"status", &status, NULL},
        {NULL, NULL, NULL},
    };
    static const char *const heads[6] = {"ID",      "STATUS",   "CREATED", "TRANSACTION_ID",
                                         "SUBJECT", "REQUESTER"};
    struct req_list rl;
    struct scep_store *st = NULL;
    int npos = 0, want = SCEP_REQ_PENDING, rc, err;

    memset(&rl, 0, sizeof(rl));
    rc = ctl_parse_opts(c, argc, argv, opts, NULL, 0, &npos, ctl_find_command("requests"));
    if (rc != CTL_EXIT_OK)
        return rc < 0 ? CTL_EXIT_OK : rc;
    if (status != NULL) {
        if (strcmp(status, "all") == 0) {
            want = -1;
        } else {
            for (want = 0; want < (int)(sizeof(status_names) / sizeof(status_names[0])); want++) {
                if (strcmp(status, status_names[want]) == 0)
                    break;
            }
            if (want == (int)(sizeof(status_names) / sizeof(status_names[0]))) {
                ctl_err("requests: --status %s: expected pending, approved, rejected, issued or "
                        "all",
                        status);
                return CTL_EXIT_USAGE;
            }
        }
    }
    rc = ctl_open_store(c, &st);
    if (rc != CTL_EXIT_OK)
        return rc;
    rc = CTL_EXIT_FAIL;
    if (c->json)
        rl.array = json_array();
    else
        rl.table = ctl_table_new(6, heads);
    if (rl.array == NULL && rl.table == NULL) {
        ctl_err("out of memory");
        goto out;
    }
    err = scep_admin_list_requests(st, want, list_one, &rl);
    if (err != 0) {
        ctl_err("requests: reading the database %s failed: %s", ctl_database(c),
                scep_strerror(err));
        goto out;
    }
    if (rl.array != NULL) {
        rc = ctl_json_print(rl.array);
        rl.array = NULL;
        goto out;
    }
    /* An empty queue says so on stderr, so that stdout stays a table a
     * script can count rows of. */
    ctl_table_print(rl.table);
    if (rl.count == 0 && want == SCEP_REQ_PENDING)
        ctl_err("no request is waiting for approval");
    rc = CTL_EXIT_OK;
out:
    json_decref(rl.array);
    ctl_table_free(rl.table);
    scep_store_close(st);
    return rc;
}

/* Decodes the stored PKCS#10 with its explicit length, refusing trailing
 * bytes.  *out: X509_REQ_free().  0 or SCEP_ERR_*. */
static int decode_csr(const struct scep_request_info *ri, X509_REQ **out)
{
    const unsigned char *p = ri->csr_der;
    X509_REQ *req;

    if (ri->csr_der == NULL || ri->csr_len == 0 || ri->csr_len > CTL_MAX_CSR_DER)
        return SCEP_ERR_DER;
    req = d2i_X509_REQ(NULL, &p, (long)ri->csr_len);
    if (req == NULL)
        return SCEP_ERR_DER;
    if (p != ri->csr_der + ri->csr_len) {
        X509_REQ_free(req);
        return SCEP_ERR_TRAILING;
    }
    *out = req;
    return 0;
}

static void print_human(const struct scep_request_info *ri)
{
    char buf[32];

    snprintf(buf, sizeof(buf), "%lld", (long long)ri->id);
    ctl_kv("id:", buf);
    ctl_kv("status:", ctl_request_status(ri->status));
    ctl_kv("transaction id:", ri->transaction_id);
    ctl_kv("subject:", ri->subject);
    ctl_kv("SANs:", ri->sans);
    ctl_kv("request:", ri->msg_type);
    ctl_kv("requester:", ri->requester);
    ctl_kv("public key SHA-256:", ri->pubkey_fp);
    ctl_kv("created at:", ctl_iso_time(ri->created_at, buf, sizeof(buf)));
    if (ri->status != SCEP_REQ_PENDING) {
        ctl_kv("decided at:", ctl_iso_time(ri->decided_at, buf, sizeof(buf)));
        ctl_kv("decided by:", ri->decided_by);
    }
    if (ri->status == SCEP_REQ_REJECTED)
        ctl_kv("reason:", ri->reason);
    if (ri->status == SCEP_REQ_ISSUED)
        ctl_kv("certificate:", ri->serial);
}

/* scepctl show-request ID|TRANSACTION_ID [--pem].  Returns an exit code. */
int ctl_cmd_show_request(struct ctl *c, int argc, char **argv)
{
    int pem = 0, npos = 0, rc, err;
    struct ctl_opt opts[] = {
        {"pem", NULL, &pem},
        {NULL, NULL, NULL},
    };
    const char *pos[1] = {NULL};
    struct scep_store *st = NULL;
    struct scep_request_info *ri = NULL;
    X509_REQ *req = NULL;

    rc = ctl_parse_opts(c, argc, argv, opts, pos, 1, &npos, ctl_find_command("show-request"));
    if (rc != CTL_EXIT_OK)
        return rc < 0 ? CTL_EXIT_OK : rc;
    if (npos != 1) {
        ctl_err("show-request: which request? give its id or transaction id (see \"scepctl "
                "requests\")");
        return CTL_EXIT_USAGE;
    }
    rc = ctl_open_store(c, &st);
    if (rc != CTL_EXIT_OK)
        return rc;
    rc = ctl_find_request(c, st, "show-request", pos[0], &ri);
    if (rc != CTL_EXIT_OK)
        goto out;
    rc = CTL_EXIT_FAIL;
    if (pem) {
        err = decode_csr(ri, &req);
        if (err != 0) {
            ctl_err("show-request: the stored request %lld cannot be decoded: %s",
                    (long long)ri->id, scep_strerror(err));
            goto out;
        }
        if (PEM_write_X509_REQ(stdout, req) != 1) {
            ctl_err("show-request: cannot write the request");
            goto out;
        }
        rc = CTL_EXIT_OK;
        goto out;
    }
    if (c->json) {
        rc = ctl_json_print(ctl_request_json(ri));
        goto out;
    }
    print_human(ri);
    rc = CTL_EXIT_OK;
out:
    X509_REQ_free(req);
    scep_request_info_free(ri);
    scep_store_close(st);
    return rc;
}
