/*
 * Listing certificates a page at a time, for front ends that show a
 * large inventory in parts (the admin API's cursor).  A page ends at a
 * record; the next starts after it in the listing's order, issued_at
 * descending or not_after ascending, then serial ascending (store.h): total
 * because serials are unique.  So a cursor stays valid while
 * certificates are added (they come first, before any cursor) and
 * revoked (a status change moves nothing).
 */
#include <string.h>

#include <scep/error.h>

#include "admin/admin.h"

struct page_walk {
    int64_t limit;
    int64_t sent;
    int more;
    scep_store_cert_cb cb;
    void *arg;
};

/* The walk's stop signal, told apart from any SCEP_ERR_* (negative) and
 * from a callback's own non-zero value by the flag it sets. */
#define PAGE_FULL 1

static int page_one(const struct scep_cert_info *ci, void *arg)
{
    struct page_walk *w = arg;

    if (w->sent == w->limit) {
        w->more = 1;
        return PAGE_FULL;
    }
    w->sent++;
    return w->cb(ci, w->arg);
}

int scep_admin_list_certs_page(struct scep_store *st, const struct scep_cert_filter *f,
                               const struct scep_admin_cert_cursor *after, int64_t limit,
                               scep_store_cert_cb cb, void *arg, int *more)
{
    struct scep_cert_filter copy;
    struct page_walk w;
    int rc;

    if (st == NULL || f == NULL || cb == NULL || more == NULL || limit < 1)
        return SCEP_ERR_INVALID_ARG;
    memset(&w, 0, sizeof(w));
    w.limit = limit;
    w.cb = cb;
    w.arg = arg;
    copy = *f;
    /* The store starts after the cursor and stops after limit + 1 rows:
     * the one past the page says there is more. */
    copy.limit = limit + 1;
    copy.after_key = after != NULL ? after->key : 0;
    copy.after_serial = after != NULL ? after->serial : NULL;
    rc = scep_store_list_certs(st, &copy, page_one, &w);
    if (rc == PAGE_FULL && w.more)
        rc = 0;
    if (rc != 0)
        return rc;
    *more = w.more;
    return 0;
}
