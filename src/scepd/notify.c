/* The notify thread (notify.h): rounds of expiry notices and the counts
 * behind the certificate gauges. */
#include "notify.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include <scep/error.h>

#include "gauges.h"
#include "scepd.h"
#include "admin/notify.h"
#include "config/config.h"
#include "policy/smtp.h"
#include "policy/webhook.h"
#include "store/store.h"

struct scepd_notify {
    const struct scep_config *cfg;
    struct scepd_gauges *gauges;
    struct scep_store *st;
    char claimer[128]; /* host:pid:random, unique to this process */
    atomic_int stop;
    pthread_mutex_t lock; /* with wake: the sleep between rounds */
    pthread_cond_t wake;
    int sync_ok; /* lock and wake were made */
    pthread_t thread;
    int started;
};

/* The webhook transport: a signed POST; 2xx is delivered. */
static int notify_post(void *arg, const char *body, size_t len, const char *signature, char *err,
                       size_t errlen)
{
    struct scepd_notify *n = arg;
    unsigned char *resp = NULL;
    size_t resp_len = 0;
    int status = 0, rc;

    rc = scep_webhook_post_stoppable(n->cfg->notify_webhook_url, body, len, signature,
                                     n->cfg->notify_webhook_timeout_ms, &n->stop, &status, &resp,
                                     &resp_len, err, errlen);
    /* The answer's body says nothing a notice needs. */
    free(resp);
    if (rc != 0) {
        snprintf(err, errlen, "%s", scep_strerror(rc));
        return -1;
    }
    if (status == 0)
        return -1;
    if (status < 200 || status > 299) {
        snprintf(err, errlen, "webhook answered HTTP %d", status);
        return -1;
    }
    return 0;
}

/* The mail transport: one message through smtp_url. */
static int notify_mail(void *arg, const char *msg, size_t len, char *err, size_t errlen)
{
    struct scepd_notify *n = arg;
    struct scep_smtp_opts o;

    memset(&o, 0, sizeof(o));
    o.url = n->cfg->smtp_url;
    o.from = n->cfg->smtp_from;
    o.to = n->cfg->smtp_to;
    o.user = n->cfg->smtp_user;
    o.password = n->cfg->smtp_password;
    o.timeout_ms = (long)n->cfg->smtp_timeout_seconds * 1000L;
    o.stop = &n->stop;
    return scep_smtp_send_blocking(&o, msg, len, err, errlen) == 0 ? 0 : -1;
}

/* Counts the certificates into the gauges, with pending from the round. */
static void notify_count(struct scepd_notify *n, int64_t now, int64_t pending)
{
    struct scep_cert_counts c;
    struct scepd_gauge_counts g;
    int rc;

    if (n->gauges == NULL)
        return;
    rc = scep_store_count_certs(n->st, now, SCEPD_GAUGES_EXPIRING_WITHIN, &c);
    if (rc != 0) {
        scepd_log(SCEPD_WARN, "notify: cannot count certificates", "error", scep_strerror(rc),
                  "detail", scep_store_last_error(n->st), NULL);
        return;
    }
    g.valid = c.valid;
    g.revoked = c.revoked;
    g.expired = c.expired;
    g.expiring = c.expiring;
    g.pending = pending;
    g.counted_at = now;
    scepd_gauges_counts_set(n->gauges, &g);
}

/* One round: notices when a channel is configured, then the count. */
static void notify_round(struct scepd_notify *n)
{
    const struct scep_config *cfg = n->cfg;
    struct scep_notify_transport tx;
    struct scep_notify_config nc;
    struct scep_notify_report rep;
    int64_t now = (int64_t)time(NULL);
    int rc;

    memset(&rep, 0, sizeof(rep));
    memset(&tx, 0, sizeof(tx));
    tx.webhook = cfg->notify_webhook_url != NULL ? notify_post : NULL;
    tx.mail = cfg->smtp_url != NULL ? notify_mail : NULL;
    tx.arg = n;
    if (tx.webhook != NULL || tx.mail != NULL) {
        memset(&nc, 0, sizeof(nc));
        nc.thresholds = cfg->notify_thresholds;
        nc.nthresholds = cfg->notify_nthresholds;
        nc.webhook_secret = (const unsigned char *)cfg->notify_webhook_secret;
        nc.webhook_secret_len =
            cfg->notify_webhook_secret != NULL ? strlen(cfg->notify_webhook_secret) : 0;
        nc.mail_from = cfg->smtp_from;
        nc.mail_to = cfg->smtp_to;
        nc.claimer = n->claimer;
        /* A failed notice is retried at the next look, then ever later. */
        nc.retry_base = cfg->notify_interval_seconds;
        nc.retry_max = SCEP_NOTIFY_RETRY_MAX_SECONDS > cfg->notify_interval_seconds
                           ? SCEP_NOTIFY_RETRY_MAX_SECONDS
                           : cfg->notify_interval_seconds;
        nc.stop = &n->stop;
        rc = scep_admin_notify_run(n->st, &nc, &tx, now, &rep);
        if (rc != 0)
            scepd_log(SCEPD_WARN, "notify: round failed; retried at the next", "error",
                      scep_strerror(rc), "detail", scep_store_last_error(n->st), NULL);
        if (rep.claimed > 0 || rep.failed > 0) {
            struct scepd_logline l;

            scepd_log_begin(&l, rep.failed > 0 ? SCEPD_WARN : SCEPD_INFO, "notify-round");
            scepd_log_int(&l, "due", (long long)rep.due);
            scepd_log_int(&l, "claimed", (long long)rep.claimed);
            scepd_log_int(&l, "sent", (long long)rep.sent);
            scepd_log_int(&l, "failed", (long long)rep.failed);
            scepd_log_int(&l, "pending", (long long)rep.pending);
            scepd_log_int(&l, "mails", (long long)rep.mails);
            scepd_log_end(&l);
        }
    }
    notify_count(n, now, (int64_t)rep.pending);
}

/* The thread: a round, then sleep until the next or a stop. */
static void *notify_main(void *arg)
{
    struct scepd_notify *n = arg;
    struct timespec until;

    while (!atomic_load(&n->stop)) {
        notify_round(n);
        /* CLOCK_REALTIME, pthread_cond_timedwait's default: a clock step
         * only moves one round. */
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += n->cfg->notify_interval_seconds;
        pthread_mutex_lock(&n->lock);
        while (!atomic_load(&n->stop) &&
               pthread_cond_timedwait(&n->wake, &n->lock, &until) != ETIMEDOUT)
            ;
        pthread_mutex_unlock(&n->lock);
    }
    return NULL;
}

int scepd_notify_new(const struct scep_config *cfg, struct scepd_gauges *g,
                     struct scepd_notify **out)
{
    struct scepd_notify *n = NULL;
    unsigned char rnd[6];
    char host[64], why[256];
    int rc = -1;

    if ((n = calloc(1, sizeof(*n))) == NULL) {
        scepd_log(SCEPD_ERROR, "notify: out of memory", NULL);
        goto out;
    }
    n->cfg = cfg;
    n->gauges = g;
    atomic_init(&n->stop, 0);
    if (pthread_mutex_init(&n->lock, NULL) != 0)
        goto out;
    if (pthread_cond_init(&n->wake, NULL) != 0) {
        pthread_mutex_destroy(&n->lock);
        goto out;
    }
    n->sync_ok = 1;
    /* The claimer's name: the host and pid say who, for an operator
     * reading the notices table; the random part keeps two processes
     * apart even when a pid is reused or hosts share a name. */
    if (gethostname(host, sizeof(host) - 1) != 0)
        snprintf(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = '\0';
    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        scepd_log(SCEPD_ERROR, "notify: no random bytes", NULL);
        goto out;
    }
    snprintf(n->claimer, sizeof(n->claimer), "%s:%ld:%02x%02x%02x%02x%02x%02x", host,
             (long)getpid(), rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
    if (scep_store_open(cfg->database, &n->st, why, sizeof(why)) != 0) {
        scepd_log(SCEPD_ERROR, "notify: cannot open the store", "error", why, NULL);
        goto out;
    }
    *out = n;
    n = NULL;
    rc = 0;
out:
    scepd_notify_free(n);
    return rc;
}

int scepd_notify_start(struct scepd_notify *n)
{
    sigset_t all, old;
    int err;

    /* The thread takes no signals: main's loop handles them. */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    err = pthread_create(&n->thread, NULL, notify_main, n);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err != 0) {
        scepd_log(SCEPD_ERROR, "notify: cannot start the thread", "error", strerror(err), NULL);
        return -1;
    }
    n->started = 1;
    return 0;
}

void scepd_notify_stop(struct scepd_notify *n)
{
    if (n == NULL || !n->sync_ok)
        return;
    pthread_mutex_lock(&n->lock);
    atomic_store(&n->stop, 1);
    pthread_cond_signal(&n->wake);
    pthread_mutex_unlock(&n->lock);
}

void scepd_notify_free(struct scepd_notify *n)
{
    if (n == NULL)
        return;
    if (n->started) {
        scepd_notify_stop(n);
        pthread_join(n->thread, NULL);
    }
    scep_store_close(n->st);
    if (n->sync_ok) {
        pthread_cond_destroy(&n->wake);
        pthread_mutex_destroy(&n->lock);
    }
    free(n);
}
