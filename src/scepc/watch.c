/*
 * scepc watch: keeps certificates fresh, as a long-running service.
 *
 * For each configured certificate it renews (RenewalReq signed by the
 * current certificate and key, scepc_run_renew()) once a share of the
 * lifetime has passed (default two thirds), swapping the files
 * atomically, then runs the post-renew command.  A failed renewal is
 * retried with exponential backoff, so a CA that is down for a while
 * costs nothing but log lines.
 *
 * Configuration: flags for one certificate, or an INI file (libinih):
 *
 *     [watch]                 ; defaults for every certificate
 *     url = http://ca/scep
 *     renew_at = 0.66
 *     [cert vpn]
 *     key = /etc/ipsec.d/private/key.pem
 *     cert = /etc/ipsec.d/certs/cert.pem
 *     hook = systemctl reload strongswan
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ini.h>

#include "opts.h"
#include "scepc.h"

#define WATCH_MAX_CERTS 32
#define WATCH_RETRY_MIN 5L
#define WATCH_RETRY_MAX 3600L

struct wcert {
    char *name;
    char *key;
    char *cert;
    char *chain;
    char *fullchain;
    char *url;
    char *hook;
    char *challenge;
    int reuse_key;
    time_t next_try;
    long backoff;
};

struct watch {
    /* defaults from [watch] or flags */
    char *url;
    char *fingerprint;
    char *hook;
    double renew_at;
    long check_interval;
    struct wcert certs[WATCH_MAX_CERTS];
    int ncerts;
    char err[256];
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* Parses a share of the lifetime: "0.66" or "66%"; 0 or -1. */
static int parse_share(const char *s, double *out)
{
    char *end = NULL;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s)
        return -1;
    if (*end == '%') {
        v /= 100.0;
        end++;
    }
    if (*end != '\0' || !(v > 0.0 && v < 1.0))
        return -1;
    *out = v;
    return 0;
}

static int set_str(char **dst, const char *v)
{
    char *d = strdup(v);

    if (d == NULL)
        return 0;
    free(*dst);
    *dst = d;
    return 1;
}

/* inih callback: returns nonzero to go on, 0 on an error. */
static int ini_cb(void *user, const char *section, const char *name, const char *value)
{
    struct watch *w = user;
    struct wcert *c;

    if (strcmp(section, "watch") == 0) {
        if (strcmp(name, "url") == 0)
            return set_str(&w->url, value);
        if (strcmp(name, "fingerprint") == 0)
            return set_str(&w->fingerprint, value);
        if (strcmp(name, "hook") == 0)
            return set_str(&w->hook, value);
        if (strcmp(name, "renew_at") == 0) {
            if (parse_share(value, &w->renew_at) == 0)
                return 1;
            snprintf(w->err, sizeof(w->err),
                     "renew_at = %.40s: give the share of the lifetime after which to renew, "
                     "above 0 and below 1 (0.66 or 66%%)",
                     value);
            return 0;
        }
        if (strcmp(name, "check_interval") == 0)
            return scepc_parse_long(value, 1, 86400, &w->check_interval) == 0;
        snprintf(w->err, sizeof(w->err), "unknown key %s in [watch]", name);
        return 0;
    }
    if (strncmp(section, "cert ", 5) != 0) {
        snprintf(w->err, sizeof(w->err), "unknown section [%s]; use [watch] or [cert NAME]",
                 section);
        return 0;
    }
    if (w->ncerts == 0 || strcmp(w->certs[w->ncerts - 1].name, section + 5) != 0) {
        if (w->ncerts == WATCH_MAX_CERTS) {
            snprintf(w->err, sizeof(w->err), "more than %d certificates", WATCH_MAX_CERTS);
            return 0;
        }
        if (!set_str(&w->certs[w->ncerts].name, section + 5))
            return 0;
        w->ncerts++;
    }
    c = &w->certs[w->ncerts - 1];
    if (strcmp(name, "key") == 0)
        return set_str(&c->key, value);
    if (strcmp(name, "cert") == 0)
        return set_str(&c->cert, value);
    if (strcmp(name, "chain") == 0)
        return set_str(&c->chain, value);
    if (strcmp(name, "fullchain") == 0)
        return set_str(&c->fullchain, value);
    if (strcmp(name, "url") == 0)
        return set_str(&c->url, value);
    if (strcmp(name, "hook") == 0)
        return set_str(&c->hook, value);
    if (strcmp(name, "challenge_file") == 0) {
        free(c->challenge);
        c->challenge = NULL;
        return scepc_read_challenge(value, &c->challenge) == 0;
    }
    if (strcmp(name, "reuse_key") == 0) {
        c->reuse_key =
            strcmp(value, "yes") == 0 || strcmp(value, "true") == 0 || strcmp(value, "1") == 0;
        return 1;
    }
    snprintf(w->err, sizeof(w->err), "unknown key %s in [%s]", name, section);
    return 0;
}

static time_t asn1_to_time(const ASN1_TIME *t)
{
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    if (!ASN1_TIME_to_tm(t, &tm))
        return (time_t)-1;
    return timegm(&tm);
}

/* When c is due for renewal: notBefore + share * lifetime, or -1. */
static time_t due_time(const struct wcert *c, double share)
{
    X509 *x = NULL;
    time_t nb, na;

    if (load_cert(c->cert, &x) != 0)
        return (time_t)-1;
    nb = asn1_to_time(X509_get0_notBefore(x));
    na = asn1_to_time(X509_get0_notAfter(x));
    X509_free(x);
    if (nb == (time_t)-1 || na == (time_t)-1 || na <= nb)
        return (time_t)-1;
    return nb + (time_t)floor(share * (double)(na - nb));
}

/* Runs the hook through /bin/sh with SCEPC_CERT / SCEPC_KEY set;
 * returns its exit status or -1. */
static int run_hook(const char *hook, const struct wcert *c)
{
    pid_t pid;
    int st = 0;

    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        setenv("SCEPC_CERT", c->cert, 1);
        setenv("SCEPC_KEY", c->key, 1);
        setenv("SCEPC_NAME", c->name, 1);
        execl("/bin/sh", "sh", "-c", hook, (char *)NULL);
        _exit(127);
    }
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Renews c now; on success runs the hook.  Returns the exit code. */
static int renew_one(struct watch *w, struct wcert *c, const struct conn_opts *base)
{
    struct conn_opts co = *base;
    struct enroll_opts eo;
    const char *hook = c->hook ? c->hook : w->hook;
    int ex, hs;

    memset(&eo, 0, sizeof(eo));
    co.url = c->url ? c->url : w->url;
    co.fingerprint = w->fingerprint;
    eo.key_path = c->key;
    eo.cert_path = c->cert;
    eo.chain_path = c->chain;
    eo.fullchain_path = c->fullchain;
    eo.key_bits = 2048;
    eo.reuse_key = c->reuse_key;
    eo.challenge = c->challenge;
    eo.max_wait = 600;
    eo.poll_interval = 10;
    ex = scepc_run_renew(&co, &eo);
    if (ex != 0)
        return ex;
    fprintf(stderr, "%s: watch: renewed %s (%s)\n", scepc_prog, c->name, c->cert);
    if (hook != NULL) {
        hs = run_hook(hook, c);
        if (hs != 0)
            scepc_err("watch: post-renew command for %s exited with %d", c->name, hs);
    }
    return 0;
}

/* One pass over every certificate; returns the earliest time something
 * needs doing. */
static time_t watch_pass(struct watch *w, const struct conn_opts *base, int *failures)
{
    time_t now = time(NULL), wake = now + w->check_interval;
    int i;

    for (i = 0; i < w->ncerts && !stop_requested; i++) {
        struct wcert *c = &w->certs[i];
        time_t due;
        int ex;

        if (now < c->next_try) {
            if (c->next_try < wake)
                wake = c->next_try;
            continue;
        }
        due = due_time(c, w->renew_at);
        if (due == (time_t)-1) {
            scepc_err("watch: cannot read the certificate %s of %s; enroll it first with "
                      "scepc enroll",
                      c->cert, c->name);
            (*failures)++;
            continue;
        }
        if (now < due) {
            if (due < wake)
                wake = due;
            continue;
        }
        ex = renew_one(w, c, base);
        if (ex == 0) {
            c->backoff = 0;
            c->next_try = 0;
            wake = now; /* look at the new certificate's due time at once */
            continue;
        }
        (*failures)++;
        c->backoff = c->backoff ? c->backoff * 2 : WATCH_RETRY_MIN;
        if (c->backoff > WATCH_RETRY_MAX)
            c->backoff = WATCH_RETRY_MAX;
        c->next_try = now + c->backoff;
        scepc_err("watch: renewal of %s failed (exit %d), retrying in %lds", c->name, ex,
                  c->backoff);
        if (c->next_try < wake)
            wake = c->next_try;
    }
    return wake;
}

/* --dry-run: each certificate's expiry and renewal time, nothing done.
 * Returns an exit code: 1 when a certificate cannot be read. */
static int watch_dry_run(struct watch *w)
{
    time_t now = time(NULL);
    int i, bad = 0;

    for (i = 0; i < w->ncerts; i++) {
        struct wcert *c = &w->certs[i];
        time_t due = due_time(c, w->renew_at);
        char when[32];
        struct tm tm;

        if (due == (time_t)-1) {
            scepc_err("watch: cannot read the certificate %s of %s", c->cert, c->name);
            bad = 1;
            continue;
        }
        if (gmtime_r(&due, &tm) == NULL ||
            strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
            snprintf(when, sizeof(when), "%lld", (long long)due);
        if (due <= now)
            printf("%s: %s: due now (since %s): would renew\n", c->name, c->cert, when);
        else
            printf("%s: %s: due at %s, in %llds\n", c->name, c->cert, when, (long long)(due - now));
    }
    return bad ? EX_SCEPC_ERROR : EX_SCEPC_OK;
}

static void watch_free(struct watch *w)
{
    int i;

    free(w->url);
    free(w->fingerprint);
    free(w->hook);
    for (i = 0; i < w->ncerts; i++) {
        free(w->certs[i].name);
        free(w->certs[i].key);
        free(w->certs[i].cert);
        free(w->certs[i].chain);
        free(w->certs[i].fullchain);
        free(w->certs[i].url);
        free(w->certs[i].hook);
        free(w->certs[i].challenge);
    }
}

static void usage_watch(FILE *fp)
{
    fprintf(fp, "usage: scepc watch --config FILE [--once | --dry-run]\n"
                "       scepc watch --url URL --key FILE --cert FILE [--hook CMD] [options]\n"
                "  --renew-at SHARE        renew after this share of the lifetime (default 0.667,\n"
                "                          or a percentage such as 50%%)\n"
                "  --check-interval SEC    longest sleep between checks (default 3600)\n"
                "  --hook CMD              run by /bin/sh after each renewal\n"
                "  --once                  one pass, then exit (for cron or timers)\n"
                "  --dry-run               say when each certificate is due, renew nothing\n"
                "  --chain FILE, --fullchain FILE   also write the chain / the full chain\n");
}

/* scepc watch. */
int cmd_watch(int argc, char **argv)
{
    static const struct option longopts[] = {
        CONN_LONG_OPTIONS,
        {"config", required_argument, NULL, OPT_CONFIG},
        {"key", required_argument, NULL, OPT_KEY},
        {"cert", required_argument, NULL, OPT_CERT},
        {"chain", required_argument, NULL, OPT_CHAIN},
        {"fullchain", required_argument, NULL, OPT_FULLCHAIN},
        {"dry-run", no_argument, NULL, OPT_DRY_RUN},
        {"hook", required_argument, NULL, OPT_HOOK},
        {"renew-at", required_argument, NULL, OPT_RENEW_AT},
        {"check-interval", required_argument, NULL, OPT_CHECK_INTERVAL},
        {"once", no_argument, NULL, OPT_ONCE},
        {"reuse-key", no_argument, NULL, OPT_REUSE_KEY},
        {NULL, 0, NULL, 0}};
    struct watch w;
    struct conn_opts co = {0};
    const char *config = NULL, *key = NULL, *cert = NULL, *chain = NULL, *hook = NULL;
    const char *fullchain = NULL;
    int dry_run = 0;
    double share = 0;
    long interval = 0;
    int once = 0, reuse = 0, opt, r, failures, ex = EX_SCEPC_USAGE;

    memset(&w, 0, sizeof(w));
    w.renew_at = 2.0 / 3.0;
    w.check_interval = 3600;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        r = scepc_conn_option(&co, opt, optarg);
        if (r < 0)
            goto bad;
        if (r > 0)
            continue;
        switch (opt) {
        case OPT_CONFIG:
            config = optarg;
            break;
        case OPT_KEY:
            key = optarg;
            break;
        case OPT_CERT:
            cert = optarg;
            break;
        case OPT_CHAIN:
            chain = optarg;
            break;
        case OPT_FULLCHAIN:
            fullchain = optarg;
            break;
        case OPT_DRY_RUN:
            dry_run = 1;
            break;
        case OPT_HOOK:
            hook = optarg;
            break;
        case OPT_ONCE:
            once = 1;
            break;
        case OPT_REUSE_KEY:
            reuse = 1;
            break;
        case OPT_RENEW_AT:
            if (parse_share(optarg, &share) != 0)
                goto bad;
            break;
        case OPT_CHECK_INTERVAL:
            if (scepc_parse_long(optarg, 1, 86400, &interval) != 0)
                goto bad;
            break;
        case OPT_HELP:
            usage_watch(stdout);
            ex = EX_SCEPC_OK;
            goto out;
        default:
            goto bad;
        }
    }
    if (optind != argc)
        goto bad;
    if (config != NULL) {
        r = ini_parse(config, ini_cb, &w);
        if (r != 0) {
            if (r < 0)
                scepc_err("cannot read %s", config);
            else
                scepc_err("%s:%d: %s", config, r, w.err[0] ? w.err : "syntax error");
            ex = r < 0 ? EX_SCEPC_FILE : EX_SCEPC_USAGE;
            goto out;
        }
    }
    /* Flags win over the file. */
    if ((co.url && !set_str(&w.url, co.url)) || (hook && !set_str(&w.hook, hook)) ||
        (co.fingerprint && !set_str(&w.fingerprint, co.fingerprint)))
        goto nomem;
    if (share > 0)
        w.renew_at = share;
    if (interval > 0)
        w.check_interval = interval;
    if (key != NULL || cert != NULL) {
        struct wcert *c = &w.certs[w.ncerts];

        if (key == NULL || cert == NULL || w.ncerts == WATCH_MAX_CERTS)
            goto bad;
        if (!set_str(&c->name, "default") || !set_str(&c->key, key) || !set_str(&c->cert, cert) ||
            (chain && !set_str(&c->chain, chain)) ||
            (fullchain && !set_str(&c->fullchain, fullchain)))
            goto nomem;
        c->reuse_key = reuse;
        w.ncerts++;
    }
    if (w.ncerts == 0) {
        scepc_err("watch: nothing to watch; give --key and --cert, or a --config file");
        goto bad;
    }
    for (r = 0; r < w.ncerts; r++) {
        if (w.certs[r].key == NULL || w.certs[r].cert == NULL ||
            (w.certs[r].url == NULL && w.url == NULL)) {
            scepc_err("watch: certificate %s needs key, cert and url", w.certs[r].name);
            goto bad;
        }
    }
    co.fingerprint = NULL; /* taken from w for each certificate */
    if (dry_run) {
        ex = watch_dry_run(&w);
        goto out;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    for (;;) {
        time_t wake, now;

        failures = 0;
        wake = watch_pass(&w, &co, &failures);
        if (once || stop_requested)
            break;
        now = time(NULL);
        if (wake > now)
            sleep((unsigned)(wake - now));
        if (stop_requested)
            break;
    }
    ex = once && failures ? EX_SCEPC_ERROR : EX_SCEPC_OK;
    goto out;
nomem:
    scepc_err("out of memory");
    ex = EX_SCEPC_ERROR;
    goto out;
bad:
    usage_watch(stderr);
    ex = EX_SCEPC_USAGE;
out:
    watch_free(&w);
    return ex;
}
