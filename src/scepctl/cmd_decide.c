/*
 * scepctl approve and reject: the administrator's decision on an
 * enrollment request that scepd holds PENDING (approval = manual),
 * recorded by the library (scep_admin_decide: the decision and its
 * "request-approve" / "request-reject" audit event in one transaction,
 * only while the request is pending), so two administrators acting at
 * once, or a decision repeated by mistake, change nothing the second
 * time (exit status 1).
 *
 * Nothing is issued here: the CA key stays with scepd, which issues an
 * approved request, or answers FAILURE for a rejected one, when the
 * client polls again (CertPoll, or its PKCSReq resent).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <scep/error.h>
#include "admin/admin.h"
#include "scepctl.h"

/* Explains why ri cannot be decided any more. */
static void not_pending(const char *cmd, const struct scep_request_info *ri)
{
    char when[32];

    if (ri->status == SCEP_REQ_PENDING) {
        /* Pending when read, decided by someone else before our write. */
        ctl_err("%s: request %lld was decided by someone else just now; nothing changed "
                "(see \"scepctl show-request %lld\")",
                cmd, (long long)ri->id, (long long)ri->id);
        return;
    }
    ctl_err("%s: request %lld is no longer pending: %s by %s at %s; nothing changed", cmd,
            (long long)ri->id, ctl_request_status(ri->status),
            ri->decided_by != NULL ? ri->decided_by : "unknown",
            ctl_iso_time(ri->decided_at, when, sizeof(when)));
}

/*
 * The shared body of approve and reject: finds the request, has the
 * library record the decision with its audit event, and reports.
 * Returns an exit code.
 */
static int decide(struct ctl *c, const char *cmd, const char *arg, int status, const char *reason)
{
    struct scep_store *st = NULL;
    struct scep_request_info *ri = NULL, *done = NULL;
    char id[24], when[32];
    int rc, err;

    rc = ctl_open_store(c, &st);
    if (rc != CTL_EXIT_OK)
        return rc;
    rc = ctl_find_request(c, st, cmd, arg, &ri);
    if (rc != CTL_EXIT_OK)
        goto out;
    rc = CTL_EXIT_FAIL;
    err = scep_admin_decide(st, c->actor, ri->id, status, reason, &done);
    if (err == SCEP_ERR_INVALID_ARG) {
        ctl_err("%s: --reason must be one line of at most %d characters", cmd,
                SCEP_ADMIN_REASON_MAX);
        rc = CTL_EXIT_USAGE;
        goto out;
    }
    if (err == SCEP_ERR_EXISTS || err == SCEP_ERR_NOT_FOUND) {
        /* Decided before us (or, in theory, removed); re-read so the
         * message names who won. */
        struct scep_request_info *now_ri = NULL;

        if (scep_admin_get_request(st, ri->id, &now_ri) == 0) {
            not_pending(cmd, now_ri);
            scep_request_info_free(now_ri);
        } else {
            ctl_err("%s: request %lld is gone; nothing changed", cmd, (long long)ri->id);
        }
        goto out;
    }
    if (err != 0) {
        ctl_err("%s: the database refused the decision: %s (%s); nothing changed", cmd,
                scep_strerror(err), scep_store_last_error(st));
        goto out;
    }
    if (c->json) {
        rc = ctl_json_print(ctl_request_json(done));
        goto out;
    }
    snprintf(id, sizeof(id), "%lld", (long long)done->id);
    printf("%s request %s\n", status == SCEP_REQ_APPROVED ? "approved" : "rejected", id);
    ctl_kv("  transaction id:", done->transaction_id);
    ctl_kv("  subject:", done->subject);
    ctl_kv("  requester:", done->requester);
    ctl_kv("  decided at:", ctl_iso_time(done->decided_at, when, sizeof(when)));
    if (status == SCEP_REQ_REJECTED) {
        ctl_kv("  reason:", done->reason != NULL ? done->reason : "none given");
        printf("the client's next poll is answered FAILURE (badRequest).\n");
    } else {
        printf("scepd issues the certificate when the client polls again.\n");
    }
    rc = CTL_EXIT_OK;
out:
    scep_request_info_free(done);
    scep_request_info_free(ri);
    scep_store_close(st);
    return rc;
}

/* scepctl approve ID|TRANSACTION_ID.  Returns an exit code. */
int ctl_cmd_approve(struct ctl *c, int argc, char **argv)
{
    struct ctl_opt opts[] = {
        {NULL, NULL, NULL},
    };
    const char *pos[1] = {NULL};
    int npos = 0, rc;

    rc = ctl_parse_opts(c, argc, argv, opts, pos, 1, &npos, ctl_find_command("approve"));
    if (rc != CTL_EXIT_OK)
        return rc < 0 ? CTL_EXIT_OK : rc;
    if (npos != 1) {
        ctl_err("approve: which request? give its id or transaction id (see \"scepctl "
                "requests\")");
        return CTL_EXIT_USAGE;
    }
    return decide(c, "approve", pos[0], SCEP_REQ_APPROVED, NULL);
}

/* scepctl reject ID|TRANSACTION_ID [--reason TEXT].  Returns an exit code. */
int ctl_cmd_reject(struct ctl *c, int argc, char **argv)
{
    const char *reason = NULL;
    struct ctl_opt opts[] = {
        {"reason", &reason, NULL},
        {NULL, NULL, NULL},
    };
    const char *pos[1] = {NULL};
    int npos = 0, rc;

    rc = ctl_parse_opts(c, argc, argv, opts, pos, 1, &npos, ctl_find_command("reject"));
    if (rc != CTL_EXIT_OK)
        return rc < 0 ? CTL_EXIT_OK : rc;
    if (npos != 1) {
        ctl_err("reject: which request? give its id or transaction id (see \"scepctl "
                "requests\")");
        return CTL_EXIT_USAGE;
    }
    return decide(c, "reject", pos[0], SCEP_REQ_REJECTED, reason);
}
