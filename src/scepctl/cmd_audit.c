/*
 * scepctl audit: the store's append-only audit trail, oldest first, as a
 * table or JSON; with --verify, a recomputation of its hash chain that
 * names the first event whose hash does not match (an edited, inserted or
 * deleted row), so that tampering with the database is detected.
 */
#include <stdio.h>
#include <string.h>

#include <scep/error.h>
#include "admin/admin.h"
#include "scepctl.h"

struct audit_state {
    json_t *array;
    struct ctl_table *table;
    long count;
};

static int audit_one(const struct scep_audit_event *ev, void *arg)
{
    struct audit_state *as = arg;
    char id[32], when[32];

    as->count++;
    if (as->array != NULL) {
        json_t *o = json_object();
        if (o == NULL || json_object_set_new(o, "id", json_integer(ev->id)) != 0 ||
            json_object_set_new(o, "time", ctl_json_time(ev->time)) != 0 ||
            json_object_set_new(o, "kind", ctl_json_str(ev->kind)) != 0 ||
            json_object_set_new(o, "actor", ctl_json_str(ev->actor)) != 0 ||
            json_object_set_new(o, "transaction_id", ctl_json_str(ev->transaction_id)) != 0 ||
            json_object_set_new(o, "peer", ctl_json_str(ev->peer)) != 0 ||
            json_object_set_new(o, "serial", ctl_json_str(ev->serial)) != 0 ||
            json_object_set_new(o, "detail", ctl_json_str(ev->detail)) != 0 ||
            json_object_set_new(o, "hash", ctl_json_str(ev->hash)) != 0 ||
            json_array_append_new(as->array, o) != 0) {
            json_decref(o);
            return SCEP_ERR_NOMEM;
        }
        return 0;
    }
    snprintf(id, sizeof(id), "%lld", (long long)ev->id);
    const char *row[7] = {
        id,         ctl_iso_time(ev->time, when, sizeof(when)),       ev->kind,  ev->actor,
        ev->serial, ev->peer != NULL ? ev->peer : ev->transaction_id, ev->detail};
    return ctl_table_add(as->table, row) == 0 ? 0 : SCEP_ERR_NOMEM;
}

static int verify(struct ctl *c, struct scep_store *st)
{
    int64_t bad = 0;
    int err = scep_admin_verify_audit(st, &bad);

    if (err != 0 && bad > 0) {
        ctl_err("audit: the hash chain is broken at event %lld: that event or one before it "
                "was changed or removed; treat the database as tampered with and compare it "
                "with a backup",
                (long long)bad);
        if (c->json) {
            json_t *o = json_pack("{s:b,s:I}", "intact", 0, "first_bad_id", (json_int_t)bad);
            ctl_json_print(o);
        }
        return CTL_EXIT_FAIL;
    }
    if (err != 0) {
        ctl_err("audit: cannot verify the audit trail: %s", scep_strerror(err));
        return CTL_EXIT_FAIL;
    }
    if (c->json)
        return ctl_json_print(json_pack("{s:b,s:n}", "intact", 1, "first_bad_id"));
    printf("audit trail intact\n");
    return CTL_EXIT_OK;
}

/* scepctl audit [--after ID] [--verify].  Returns an exit code. */
int ctl_cmd_audit(struct ctl *c, int argc, char **argv)
{
    const char *after_s = NULL;
    int do_verify = 0, npos = 0, rc, err;
    struct ctl_opt opts[] = {
        {"after", &after_s, NULL},
        {"verify", NULL, &do_verify},
        {NULL, NULL, NULL},
    };
    static const char *const heads[7] = {
        "ID", "TIME", "KIND", "ACTOR", "SERIAL", "PEER/TRANSACTION", "DETAIL"};
    struct audit_state as;
    struct scep_store *st = NULL;
    long after = 0;

    memset(&as, 0, sizeof(as));
    rc = ctl_parse_opts(c, argc, argv, opts, NULL, 0, &npos, ctl_find_command("audit"));
    if (rc != CTL_EXIT_OK)
        return rc < 0 ? CTL_EXIT_OK : rc;
    if (after_s != NULL && ctl_parse_long(after_s, 0, 0x7fffffffL, &after) != 0) {
        ctl_err("audit: --after %s: expected an event id (a number)", after_s);
        return CTL_EXIT_USAGE;
    }
    if (do_verify && after_s != NULL) {
        ctl_err("audit: --verify checks the whole chain; it takes no --after");
        return CTL_EXIT_USAGE;
    }
    rc = ctl_open_store(c, &st);
    if (rc != CTL_EXIT_OK)
        return rc;
    if (do_verify) {
        rc = verify(c, st);
        goto out;
    }
    rc = CTL_EXIT_FAIL;
    if (c->json)
        as.array = json_array();
    else
        as.table = ctl_table_new(7, heads);
    if (as.array == NULL && as.table == NULL) {
        ctl_err("out of memory");
        goto out;
    }
    err = scep_admin_list_audit(st, (int64_t)after, audit_one, &as);
    if (err != 0) {
        ctl_err("audit: reading the audit trail failed: %s", scep_strerror(err));
        goto out;
    }
    if (as.array != NULL) {
        rc = ctl_json_print(as.array);
        as.array = NULL;
    } else {
        ctl_table_print(as.table);
        rc = CTL_EXIT_OK;
    }
out:
    json_decref(as.array);
    ctl_table_free(as.table);
    scep_store_close(st);
    return rc;
}
