/*
 * Expiry notifications: the durations, the due selection and one round
 * of claims, sends and outcomes (notify.h).  The documents are built in
 * notify_body.c; the sending is the caller's transport.
 */
#include "admin/notify.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/x509.h>

#include <scep/error.h>

#include "policy/webhook.h"

/* Parses a duration; see notify.h. */
int scep_notify_parse_duration(const char *text, int64_t *out)
{
    const char *p = text;
    int64_t v = 0, unit = 86400;

    if (text == NULL || !isdigit((unsigned char)*p))
        return SCEP_ERR_INVALID_ARG;
    /* By hand rather than strtoll: no sign, no spaces, no base prefix. */
    while (isdigit((unsigned char)*p)) {
        if (v > SCEP_NOTIFY_MAX_THRESHOLD)
            return SCEP_ERR_INVALID_ARG;
        v = v * 10 + (*p - '0');
        p++;
    }
    switch (*p) {
    case '\0':
    case 'd':
        break;
    case 'h':
        unit = 3600;
        break;
    case 'm':
        unit = 60;
        break;
    case 's':
        unit = 1;
        break;
    default:
        return SCEP_ERR_INVALID_ARG;
    }
    if (*p != '\0' && p[1] != '\0')
        return SCEP_ERR_INVALID_ARG;
    if (v <= 0 || v > SCEP_NOTIFY_MAX_THRESHOLD / unit)
        return SCEP_ERR_INVALID_ARG;
    *out = v * unit;
    return 0;
}

/* Parses a threshold list; see notify.h. */
int scep_notify_parse_thresholds(const char *text, int64_t *out, size_t max, size_t *n, char *err,
                                 size_t errlen)
{
    int64_t got[SCEP_NOTIFY_MAX_THRESHOLDS], v, t;
    char item[32];
    const char *p = text, *end;
    size_t count = 0, i, j, len;

    if (text == NULL || out == NULL || n == NULL || max == 0) {
        snprintf(err, errlen, "no thresholds");
        return SCEP_ERR_INVALID_ARG;
    }
    if (max > SCEP_NOTIFY_MAX_THRESHOLDS)
        max = SCEP_NOTIFY_MAX_THRESHOLDS;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        end = p + strcspn(p, ",");
        len = (size_t)(end - p);
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len == 0 || len >= sizeof(item)) {
            snprintf(err, errlen, "empty or over-long item in the threshold list");
            return SCEP_ERR_INVALID_ARG;
        }
        memcpy(item, p, len);
        item[len] = '\0';
        if (scep_notify_parse_duration(item, &v) != 0) {
            snprintf(err, errlen,
                     "\"%s\" is not a duration (a positive number of days, or with a unit: "
                     "d, h, m, s; at most 3650 days)",
                     item);
            return SCEP_ERR_INVALID_ARG;
        }
        if (count == max) {
            snprintf(err, errlen, "more than %zu thresholds", max);
            return SCEP_ERR_INVALID_ARG;
        }
        for (i = 0; i < count; i++)
            if (got[i] == v) {
                snprintf(err, errlen, "threshold \"%s\" is listed twice", item);
                return SCEP_ERR_INVALID_ARG;
            }
        got[count++] = v;
        if (*end == '\0')
            break;
        p = end + 1;
    }
    /* Largest first: the order the due selection walks them in. */
    for (i = 1; i < count; i++)
        for (j = i; j > 0 && got[j - 1] < got[j]; j--) {
            t = got[j];
            got[j] = got[j - 1];
            got[j - 1] = t;
        }
    memcpy(out, got, count * sizeof(*out));
    *n = count;
    return 0;
}

/* Writes a duration in its shortest exact unit; see notify.h. */
const char *scep_notify_duration_text(int64_t seconds, char *buf, size_t len)
{
    if (seconds > 0 && seconds % 86400 == 0)
        snprintf(buf, len, "%lldd", (long long)(seconds / 86400));
    else if (seconds > 0 && seconds % 3600 == 0)
        snprintf(buf, len, "%lldh", (long long)(seconds / 3600));
    else if (seconds > 0 && seconds % 60 == 0)
        snprintf(buf, len, "%lldm", (long long)(seconds / 60));
    else
        snprintf(buf, len, "%llds", (long long)seconds);
    return buf;
}

/* Frees what one item holds. */
static void due_clear(struct scep_notify_due *d)
{
    free(d->serial);
    free(d->subject);
    free(d->sans);
    free(d->issuer);
    free(d->issuer_fp);
    free(d->profile);
    memset(d, 0, sizeof(*d));
}

/* Frees the items of l and empties it.  Accepts NULL. */
void scep_notify_list_clear(struct scep_notify_list *l)
{
    size_t i;

    if (l == NULL)
        return;
    for (i = 0; i < l->n; i++)
        due_clear(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

/*
 * The issuer name of a stored certificate, RFC 2253, from its DER
 * (whatever issued it: an imported certificate names its own issuer).
 * *out: free(); NULL when the DER does not parse (the notice still goes
 * out, with a null issuer).  0 or SCEP_ERR_NOMEM.
 */
static int issuer_text(const unsigned char *der, size_t len, char **out)
{
    const unsigned char *p = der;
    X509 *x = NULL;
    BIO *b = NULL;
    char *text = NULL;
    long n;
    int rc = SCEP_ERR_NOMEM;

    *out = NULL;
    if (der == NULL || len == 0 || len > 0x7fffffff)
        return 0;
    /* d2i_X509 reads one certificate and may leave bytes after it; the
     * store's DER is ours or was checked on import, so trailing bytes
     * only mean "no issuer shown", not a refusal. */
    x = d2i_X509(NULL, &p, (long)len);
    if (x == NULL || p != der + len) {
        rc = 0;
        goto out;
    }
    if ((b = BIO_new(BIO_s_mem())) == NULL)
        goto out;
    if (X509_NAME_print_ex(b, X509_get_issuer_name(x), 0, XN_FLAG_RFC2253) < 0) {
        rc = 0;
        goto out;
    }
    n = BIO_pending(b);
    if (n < 0 || (text = malloc((size_t)n + 1)) == NULL)
        goto out;
    if (n > 0 && BIO_read(b, text, (int)n) != (int)n) {
        free(text);
        text = NULL;
        rc = 0;
        goto out;
    }
    text[n] = '\0';
    *out = text;
    rc = 0;
out:
    BIO_free(b);
    X509_free(x);
    return rc;
}

/* scep_admin_notify_due's walk. */
struct due_walk {
    struct scep_notify_list *l;
    size_t cap;
    int64_t now;
    const int64_t *thresholds;
    size_t n;
};

/* strdup() of s, NULL for NULL; *ok cleared when memory ran out. */
static char *dup_or_null(const char *s, int *ok)
{
    char *d;

    if (s == NULL)
        return NULL;
    if ((d = strdup(s)) == NULL)
        *ok = 0;
    return d;
}

/* scep_store_expiring_cb: one certificate into the list. */
static int due_add(const struct scep_cert_info *ci, const char *profile, void *arg)
{
    struct due_walk *w = arg;
    struct scep_notify_due d, *grown;
    int64_t left = ci->not_after - w->now;
    size_t i;
    int ok = 1;

    if (w->l->n == w->cap) {
        size_t cap = w->cap == 0 ? 16 : w->cap * 2;

        grown = realloc(w->l->items, cap * sizeof(*grown));
        if (grown == NULL)
            return SCEP_ERR_NOMEM;
        w->l->items = grown;
        w->cap = cap;
    }
    memset(&d, 0, sizeof(d));
    /* thresholds are largest first: the last one still >= left is the
     * smallest crossed. */
    for (i = 0; i < w->n; i++)
        if (left <= w->thresholds[i])
            d.threshold = w->thresholds[i];
    d.serial = dup_or_null(ci->serial, &ok);
    d.subject = dup_or_null(ci->subject, &ok);
    d.sans = dup_or_null(ci->sans, &ok);
    d.issuer_fp = dup_or_null(ci->issuer_fp, &ok);
    d.profile = dup_or_null(profile, &ok);
    d.not_before = ci->not_before;
    d.not_after = ci->not_after;
    if (!ok || issuer_text(ci->der, ci->der_len, &d.issuer) != 0) {
        due_clear(&d);
        return SCEP_ERR_NOMEM;
    }
    w->l->items[w->l->n++] = d;
    return 0;
}

/* Lists the due certificates; see notify.h.  *out: scep_notify_list_clear(). */
int scep_admin_notify_due(struct scep_store *st, int64_t now, int64_t within,
                          const int64_t *thresholds, size_t n, struct scep_notify_list *out)
{
    struct scep_notify_list l = {NULL, 0};
    struct due_walk w;
    int rc;

    if (st == NULL || out == NULL || within < 0 || (n > 0 && thresholds == NULL))
        return SCEP_ERR_INVALID_ARG;
    memset(&w, 0, sizeof(w));
    w.l = &l;
    w.now = now;
    w.thresholds = thresholds;
    w.n = n;
    rc = scep_store_list_expiring(st, now, now + within, due_add, &w);
    if (rc != 0) {
        scep_notify_list_clear(&l);
        return rc;
    }
    *out = l;
    return 0;
}

/* The wait before attempt + 1: base doubled per attempt made, capped. */
static int64_t retry_delay(const struct scep_notify_config *cfg, int64_t attempt)
{
    int64_t d = cfg->retry_base > 0 ? cfg->retry_base : 1;
    int64_t i;

    for (i = 1; i < attempt && d < cfg->retry_max; i++)
        d *= 2;
    return d < cfg->retry_max ? d : cfg->retry_max;
}

/* 1 when the caller asked the round to stop. */
static int stopping(const struct scep_notify_config *cfg)
{
    return cfg->stop != NULL && atomic_load(cfg->stop) != 0;
}

/*
 * Tries to claim notice k.  *claimed: 1 when this round holds it now,
 * 0 when it is not to be claimed (rep->pending counted unless it is
 * sent).  Returns 0 or the store's failure.
 */
static int claim(struct scep_store *st, const struct scep_notify_config *cfg,
                 const struct scep_notice_key *k, int64_t not_after, int64_t now, int64_t *attempt,
                 int *claimed, struct scep_notify_report *rep)
{
    struct scep_notice_info *ni = NULL;
    int rc;

    *claimed = 0;
    rc = scep_store_notice_claim(st, k, not_after, cfg->claimer, now,
                                 now + SCEP_NOTIFY_LEASE_SECONDS, attempt);
    if (rc == 0) {
        *claimed = 1;
        rep->claimed++;
        return 0;
    }
    if (rc != SCEP_ERR_EXISTS)
        return rc;
    /* Not ours: pending unless it went out already. */
    rc = scep_store_get_notice(st, k, &ni);
    if (rc == 0 && ni->state != SCEP_NOTICE_SENT)
        rep->pending++;
    scep_notice_info_free(ni);
    return rc == SCEP_ERR_NOT_FOUND ? 0 : rc;
}

/* Records the outcome of one claim.  A lost claim (the lease ran out and
 * another node took over) is not this round's failure: the other node
 * records its own outcome. */
static int finish(struct scep_store *st, const struct scep_notify_config *cfg,
                  const struct scep_notice_key *k, int64_t attempt, int sent, int64_t now,
                  int64_t next, const char *error, struct scep_notify_report *rep)
{
    int rc = scep_store_notice_finish(st, k, cfg->claimer, attempt, sent, now, next, error);

    if (rc == SCEP_ERR_NOT_FOUND)
        rc = 0;
    if (rc == 0 && sent)
        rep->sent++;
    if (rc == 0 && !sent) {
        rep->failed++;
        rep->pending++;
    }
    return rc;
}

/* The webhook channel: claim, sign, POST and record, one notice at a time. */
static int run_webhook(struct scep_store *st, const struct scep_notify_config *cfg,
                       const struct scep_notify_transport *tx, const struct scep_notify_list *due,
                       int64_t now, struct scep_notify_report *rep)
{
    char sig[SCEP_WEBHOOK_SIG_SIZE], err[256];
    struct scep_notice_key k;
    char *body = NULL;
    size_t i, len = 0;
    int64_t attempt = 0;
    int rc = 0, claimed, ok;

    for (i = 0; i < due->n && rc == 0; i++) {
        const struct scep_notify_due *d = &due->items[i];

        if (d->threshold == 0)
            continue;
        if (stopping(cfg)) {
            /* Not claimed: the next start (or another node) sends it. */
            rep->pending++;
            continue;
        }
        k.serial = d->serial;
        k.threshold = d->threshold;
        k.channel = SCEP_NOTIFY_CHANNEL_WEBHOOK;
        rc = claim(st, cfg, &k, d->not_after, now, &attempt, &claimed, rep);
        if (rc != 0 || !claimed)
            continue;
        err[0] = '\0';
        rc = scep_notify_webhook_body(d, now, &body, &len);
        if (rc == 0)
            rc = scep_webhook_sign(cfg->webhook_secret, cfg->webhook_secret_len, body, len, sig,
                                   sizeof(sig));
        if (rc != 0) {
            /* Cannot build it now; retried like a failed send, since the
             * claim must end one way or the other. */
            snprintf(err, sizeof(err), "cannot build the notice: %s", scep_strerror(rc));
            ok = 0;
        } else {
            ok = tx->webhook(tx->arg, body, len, sig, err, sizeof(err)) == 0;
        }
        free(body);
        body = NULL;
        rc = finish(st, cfg, &k, attempt, ok, now, ok ? 0 : now + retry_delay(cfg, attempt), err,
                    rep);
    }
    return rc;
}

/* One claim the mail channel holds until the digest's outcome. */
struct mail_claim {
    size_t item; /* index into the due list */
    int64_t attempt;
};

/* The mail channel: claim every due notice, send one digest of what was
 * claimed, record the one outcome on each. */
static int run_mail(struct scep_store *st, const struct scep_notify_config *cfg,
                    const struct scep_notify_transport *tx, const struct scep_notify_list *due,
                    int64_t now, struct scep_notify_report *rep)
{
    struct scep_notify_mail_hdr hdr;
    struct mail_claim *claims = NULL;
    struct scep_notify_due *items = NULL;
    struct scep_notice_key k;
    char err[256];
    char *msg = NULL;
    size_t i, nclaims = 0, len = 0;
    int64_t attempt = 0, next;
    int rc = 0, rc2, claimed, ok = 0;

    if (due->n == 0)
        return 0;
    claims = calloc(due->n, sizeof(*claims));
    items = calloc(due->n, sizeof(*items));
    if (claims == NULL || items == NULL) {
        rc = SCEP_ERR_NOMEM;
        goto out;
    }
    for (i = 0; i < due->n && nclaims < SCEP_NOTIFY_MAIL_MAX_ITEMS; i++) {
        const struct scep_notify_due *d = &due->items[i];

        if (d->threshold == 0)
            continue;
        k.serial = d->serial;
        k.threshold = d->threshold;
        k.channel = SCEP_NOTIFY_CHANNEL_EMAIL;
        rc = claim(st, cfg, &k, d->not_after, now, &attempt, &claimed, rep);
        if (rc != 0)
            break;
        if (claimed) {
            claims[nclaims].item = i;
            claims[nclaims].attempt = attempt;
            /* A shallow copy: the digest only reads it. */
            items[nclaims] = *d;
            nclaims++;
        }
    }
    /* Beyond the digest's cap: left for the next round, and counted as
     * pending without a look at each (some may be sent already; the cap
     * binds only past SCEP_NOTIFY_MAIL_MAX_ITEMS due certificates). */
    for (; rc == 0 && i < due->n; i++)
        if (due->items[i].threshold != 0)
            rep->pending++;
    if (nclaims == 0)
        goto out;
    err[0] = '\0';
    if (rc != 0 || stopping(cfg)) {
        /* The round ends before the digest: what was claimed is due again
         * at once rather than after the lease. */
        snprintf(err, sizeof(err), rc != 0 ? "store failure while claiming" : "scepd stopped");
        ok = 0;
        next = now;
    } else {
        hdr.from = cfg->mail_from;
        hdr.to = cfg->mail_to;
        hdr.msgid_key = cfg->claimer;
        rc2 = scep_notify_mail(&hdr, items, nclaims, now, &msg, &len);
        if (rc2 != 0)
            snprintf(err, sizeof(err), "cannot build the digest: %s", scep_strerror(rc2));
        else
            ok = tx->mail(tx->arg, msg, len, err, sizeof(err)) == 0;
        next = 0;
    }
    if (ok)
        rep->mails++;
    for (i = 0; i < nclaims; i++) {
        const struct scep_notify_due *d = &due->items[claims[i].item];

        k.serial = d->serial;
        k.threshold = d->threshold;
        k.channel = SCEP_NOTIFY_CHANNEL_EMAIL;
        rc2 = finish(st, cfg, &k, claims[i].attempt, ok, now,
                     ok ? 0 : (next != 0 ? next : now + retry_delay(cfg, claims[i].attempt)), err,
                     rep);
        if (rc == 0)
            rc = rc2;
    }
out:
    free(msg);
    free(claims);
    free(items);
    return rc;
}

/* One round; see notify.h. */
int scep_admin_notify_run(struct scep_store *st, const struct scep_notify_config *cfg,
                          const struct scep_notify_transport *tx, int64_t now,
                          struct scep_notify_report *rep)
{
    struct scep_notify_list due = {NULL, 0};
    struct scep_notify_report r;
    int rc = SCEP_ERR_INVALID_ARG;

    memset(&r, 0, sizeof(r));
    if (st == NULL || cfg == NULL || tx == NULL || cfg->nthresholds == 0 ||
        cfg->thresholds == NULL || cfg->claimer == NULL || cfg->retry_max <= 0)
        goto out;
    if (tx->mail != NULL && (cfg->mail_from == NULL || cfg->mail_to == NULL))
        goto out;
    rc =
        scep_admin_notify_due(st, now, cfg->thresholds[0], cfg->thresholds, cfg->nthresholds, &due);
    if (rc != 0)
        goto out;
    r.due = due.n;
    if (tx->webhook != NULL)
        rc = run_webhook(st, cfg, tx, &due, now, &r);
    if (rc == 0 && tx->mail != NULL)
        rc = run_mail(st, cfg, tx, &due, now, &r);
out:
    scep_notify_list_clear(&due);
    if (rep != NULL)
        *rep = r;
    return rc;
}
