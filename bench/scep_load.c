/*
 * scep_load: SCEP enrollment load generator.
 *
 * N worker threads each enroll M times against one SCEP URL.  Before the
 * clock starts: GetCACert once (load_enroll.c picks the certificate to
 * encrypt to), and every worker makes its RSA key and self-signed signer
 * certificate, since key generation is the client's cost, not the
 * server's.  Then all workers start together, and each request is a fresh
 * CSR (new CN, the challenge) in a PKCSReq built with libscep, POSTed with
 * libcurl, whose CertRep is decoded, verified, decrypted and checked to
 * hold a certificate for the worker's key.  Anything short of that is a
 * failure.
 *
 * Prints the totals and the latency percentiles, then one machine-readable
 * "RESULT key=value ..." line that bench/run.sh parses.
 *
 * Exit status: 0 every enrollment succeeded; 1 a failure or a setup
 * error; 2 usage.
 */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/objects.h>

#include <scep/error.h>
#include <scep/message.h>

#include "load.h"

#define MAX_THREADS 256
#define MAX_REQUESTS 1000000

struct options {
    const char *url;
    const char *challenge;
    const char *cipher;
    const char *digest;
    const char *label;
    const char *serials; /* --serials FILE: each issued serial, a line each */
    long threads;
    long requests;
    long key_bits;
    int fresh_connection;
};

struct worker {
    const struct load_target *t;
    pthread_barrier_t *start;
    unsigned long run;
    int index;
    int key_bits;
    long n;
    double *total;      /* seconds, one per successful enrollment */
    double *round_trip; /* likewise */
    long ok;
    long failed;
    long http503;     /* failures answered 503 (store unavailable) */
    long http5xx;     /* failures answered another 5xx */
    FILE *serials;    /* shared; NULL without --serials */
    int reply_cipher; /* of the first CertRep, to report what the server used */
    int setup_failed;
    char first_error[320];
};

static void usage(FILE *fp)
{
    fprintf(fp, "usage: scep_load --url URL --challenge PW [--threads N] [--requests M]\n"
                "                 [--cipher aes128|aes192|aes256|des3|des]\n"
                "                 [--digest sha1|sha256|sha384|sha512] [--key-bits BITS]\n"
                "                 [--fresh-connection] [--label NAME] [--serials FILE]\n"
                "  N threads (default 4) each enroll M times (default 50).  Defaults:\n"
                "  AES-128-CBC, SHA-256, RSA-2048 requester keys, kept-alive connections.\n"
                "  --serials FILE gets the serial of every certificate received, a line\n"
                "  each, written as it arrives (a test checks them against the store).\n");
}

/* strtol with the whole string consumed and a range. */
static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end = NULL;
    long v;

    if (s == NULL || *s == '\0')
        return -1;
    v = strtol(s, &end, 10);
    if (*end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static const char *cipher_name(const char *s)
{
    static const char *const map[][2] = {{"aes128", "AES-128-CBC"},
                                         {"aes192", "AES-192-CBC"},
                                         {"aes256", "AES-256-CBC"},
                                         {"des3", "DES-EDE3-CBC"},
                                         {"des", "DES-CBC"}};
    size_t i;

    for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcasecmp(s, map[i][0]) == 0)
            return map[i][1];
    return NULL;
}

static const char *digest_name(const char *s)
{
    static const char *const map[][2] = {
        {"sha1", "SHA1"}, {"sha256", "SHA256"}, {"sha384", "SHA384"}, {"sha512", "SHA512"}};
    size_t i;

    for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcasecmp(s, map[i][0]) == 0)
            return map[i][1];
    return NULL;
}

static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {{"url", required_argument, NULL, 'u'},
                                             {"challenge", required_argument, NULL, 'c'},
                                             {"threads", required_argument, NULL, 't'},
                                             {"requests", required_argument, NULL, 'n'},
                                             {"cipher", required_argument, NULL, 'C'},
                                             {"digest", required_argument, NULL, 'D'},
                                             {"key-bits", required_argument, NULL, 'k'},
                                             {"label", required_argument, NULL, 'l'},
                                             {"fresh-connection", no_argument, NULL, 'f'},
                                             {"serials", required_argument, NULL, 's'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int ch;

    *o = (struct options){.cipher = "aes128",
                          .digest = "sha256",
                          .label = "scep_load",
                          .threads = 4,
                          .requests = 50,
                          .key_bits = 2048};
    while ((ch = getopt_long(argc, argv, "u:c:t:n:C:D:k:l:fs:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'u':
            o->url = optarg;
            break;
        case 'c':
            o->challenge = optarg;
            break;
        case 't':
            if (parse_long(optarg, 1, MAX_THREADS, &o->threads) != 0)
                return -1;
            break;
        case 'n':
            if (parse_long(optarg, 1, MAX_REQUESTS, &o->requests) != 0)
                return -1;
            break;
        case 'C':
            o->cipher = optarg;
            break;
        case 'D':
            o->digest = optarg;
            break;
        case 'k':
            if (parse_long(optarg, 2048, 8192, &o->key_bits) != 0)
                return -1;
            break;
        case 'l':
            o->label = optarg;
            break;
        case 'f':
            o->fresh_connection = 1;
            break;
        case 's':
            o->serials = optarg;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            return -1;
        }
    }
    if (optind != argc || o->url == NULL || o->challenge == NULL ||
        o->threads * o->requests > MAX_REQUESTS || cipher_name(o->cipher) == NULL ||
        digest_name(o->digest) == NULL)
        return -1;
    return 0;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct load_identity id = {0};
    struct load_timing tm;
    CURL *h = NULL;
    char err[320];
    long i;

    if (load_identity_new(w->index, w->key_bits, &id, w->first_error, sizeof(w->first_error)) != 0)
        w->setup_failed = 1;
    else if ((h = load_http_handle(w->t->fresh_connection)) == NULL) {
        snprintf(w->first_error, sizeof(w->first_error), "curl_easy_init failed");
        w->setup_failed = 1;
    }
    /* Every worker reaches the barrier, failed or not, or main would
     * wait for it for ever. */
    pthread_barrier_wait(w->start);
    if (w->setup_failed)
        goto out;
    for (i = 0; i < w->n; i++) {
        if (load_enroll_once(h, w->t, &id, w->run, i, &tm, err, sizeof(err)) != 0) {
            if (w->failed++ == 0)
                snprintf(w->first_error, sizeof(w->first_error), "%s", err);
            if (tm.http_status == 503)
                w->http503++;
            else if (tm.http_status >= 500)
                w->http5xx++;
            ERR_clear_error();
            continue;
        }
        /* One call per line: stdio locks the stream for it, so lines of
         * two threads never interleave; flushed so that what a client
         * received is on disk whatever happens next. */
        if (w->serials != NULL && tm.serial[0] != '\0') {
            fprintf(w->serials, "%s\n", tm.serial);
            fflush(w->serials);
        }
        w->total[w->ok] = tm.total;
        w->round_trip[w->ok] = tm.round_trip;
        if (w->ok == 0)
            w->reply_cipher = tm.reply_cipher;
        w->ok++;
    }
out:
    if (h != NULL)
        curl_easy_cleanup(h);
    load_identity_clear(&id);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array, in milliseconds; p = 100 is
 * the largest value. */
static double pct_ms(const double *v, long n, int p)
{
    long k;

    if (n == 0)
        return 0.0;
    k = (n * p + 99) / 100; /* ceil(n * p / 100) */
    if (k < 1)
        k = 1;
    return v[k - 1] * 1e3;
}

/* Gathers the workers' latencies into one sorted array per kind. */
static long gather(struct worker *w, long nw, double *total, double *rtt)
{
    long i, j, n = 0;

    for (i = 0; i < nw; i++)
        for (j = 0; j < w[i].ok; j++) {
            total[n] = w[i].total[j];
            rtt[n] = w[i].round_trip[j];
            n++;
        }
    qsort(total, (size_t)n, sizeof(*total), cmp_double);
    qsort(rtt, (size_t)n, sizeof(*rtt), cmp_double);
    return n;
}

int main(int argc, char **argv)
{
    struct options o;
    struct load_target t = {0};
    struct worker *w = NULL;
    pthread_t *th = NULL;
    pthread_barrier_t start;
    EVP_CIPHER *cipher = NULL;
    EVP_MD *md = NULL;
    double *lat = NULL, *total = NULL, *rtt = NULL, t0, wall;
    char err[320], desc[128];
    long i, ok, failed = 0, created = 0, per, http503 = 0, http5xx = 0;
    FILE *serials = NULL;
    int barrier = 0, setup_failed = 0, status = 1, rc;

    if (parse_options(argc, argv, &o) != 0) {
        usage(stderr);
        return 2;
    }
    per = o.requests;
    rc = scep_init();
    if (rc != 0) {
        fprintf(stderr, "scep_load: scep_init: %s\n", scep_strerror(rc));
        return 1;
    }
    /* Not thread-safe: once, before any worker exists. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "scep_load: curl_global_init failed\n");
        return 1;
    }
    /* Fetched once and shared: fetched algorithms are immutable and may be
     * used from any thread.  DES needs the legacy provider scep_init()
     * loaded. */
    cipher = EVP_CIPHER_fetch(NULL, cipher_name(o.cipher), NULL);
    md = EVP_MD_fetch(NULL, digest_name(o.digest), NULL);
    if (cipher == NULL || md == NULL) {
        fprintf(stderr, "scep_load: %s or %s not available\n", o.cipher, o.digest);
        goto out;
    }
    t.url = o.url;
    t.challenge = o.challenge;
    t.cipher = cipher;
    t.md = md;
    t.fresh_connection = o.fresh_connection;
    rc = load_fetch_ca(&t, desc, sizeof(desc), err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "scep_load: %s\n", err);
        goto out;
    }

    th = calloc((size_t)o.threads, sizeof(*th));
    w = calloc((size_t)o.threads, sizeof(*w));
    lat = calloc((size_t)(o.threads * per) * 2, sizeof(*lat));
    total = calloc((size_t)(o.threads * per), sizeof(*total));
    rtt = calloc((size_t)(o.threads * per), sizeof(*rtt));
    if (th == NULL || w == NULL || lat == NULL || total == NULL || rtt == NULL) {
        fprintf(stderr, "scep_load: out of memory\n");
        goto out;
    }
    /* The main thread is the barrier's last party: the clock starts when
     * every worker has its key. */
    if (pthread_barrier_init(&start, NULL, (unsigned)o.threads + 1) != 0) {
        fprintf(stderr, "scep_load: pthread_barrier_init failed\n");
        goto out;
    }
    barrier = 1;
    if (o.serials != NULL && (serials = fopen(o.serials, "w")) == NULL) {
        fprintf(stderr, "scep_load: cannot write %s\n", o.serials);
        goto out;
    }
    printf("%s: %s  threads %ld x requests %ld  cipher %s  digest %s  key RSA-%ld  "
           "CA/RA %s%s\n",
           o.label, o.url, o.threads, per, cipher_name(o.cipher), digest_name(o.digest), o.key_bits,
           desc, o.fresh_connection ? "  fresh connections" : "");
    fflush(stdout);
    for (i = 0; i < o.threads; i++) {
        w[i] = (struct worker){.t = &t,
                               .start = &start,
                               .run = (unsigned long)time(NULL) ^ ((unsigned long)getpid() << 16),
                               .index = (int)i,
                               .key_bits = (int)o.key_bits,
                               .n = per,
                               .total = lat + 2 * i * per,
                               .round_trip = lat + (2 * i + 1) * per,
                               .serials = serials};
        if (pthread_create(&th[i], NULL, worker_main, &w[i]) != 0) {
            fprintf(stderr, "scep_load: pthread_create failed\n");
            /* The barrier can no longer fill: give up without waiting. */
            exit(1);
        }
        created++;
    }
    pthread_barrier_wait(&start);
    t0 = load_now();
    for (i = 0; i < created; i++)
        pthread_join(th[i], NULL);
    wall = load_now() - t0;

    for (i = 0; i < o.threads; i++) {
        failed += w[i].failed;
        http503 += w[i].http503;
        http5xx += w[i].http5xx;
        if (w[i].setup_failed) {
            setup_failed = 1;
            fprintf(stderr, "scep_load: worker %ld setup: %s\n", i, w[i].first_error);
        } else if (w[i].failed > 0) {
            fprintf(stderr, "scep_load: worker %ld: %ld failed, first: %s\n", i, w[i].failed,
                    w[i].first_error);
        }
    }
    if (setup_failed)
        goto out;
    ok = gather(w, o.threads, total, rtt);
    printf("requests %ld  failures %ld (HTTP 503: %ld, other 5xx: %ld)  wall %.3f s  "
           "enrollments/s %.2f\n",
           ok + failed, failed, http503, http5xx, wall, (double)ok / wall);
    for (i = 0; i < o.threads; i++)
        if (w[i].ok > 0) {
            printf("CertRep envelope cipher: %s\n", OBJ_nid2sn(w[i].reply_cipher));
            break;
        }
    printf("latency ms (whole enrollment)  p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n",
           pct_ms(total, ok, 50), pct_ms(total, ok, 90), pct_ms(total, ok, 99),
           pct_ms(total, ok, 100));
    printf("latency ms (HTTP round trip)   p50 %.2f  p90 %.2f  p99 %.2f\n", pct_ms(rtt, ok, 50),
           pct_ms(rtt, ok, 90), pct_ms(rtt, ok, 99));
    printf("RESULT label=%s requests=%ld failures=%ld wall_s=%.3f rate=%.2f p50_ms=%.2f "
           "p90_ms=%.2f p99_ms=%.2f max_ms=%.2f rtt_p50_ms=%.2f rtt_p90_ms=%.2f rtt_p99_ms=%.2f "
           "http503=%ld http5xx=%ld\n",
           o.label, ok + failed, failed, wall, (double)ok / wall, pct_ms(total, ok, 50),
           pct_ms(total, ok, 90), pct_ms(total, ok, 99), pct_ms(total, ok, 100),
           pct_ms(rtt, ok, 50), pct_ms(rtt, ok, 90), pct_ms(rtt, ok, 99), http503, http5xx);
    status = failed == 0 ? 0 : 1;
out:
    if (serials != NULL && fclose(serials) != 0) {
        fprintf(stderr, "scep_load: writing %s failed\n", o.serials);
        status = 1;
    }
    if (barrier)
        pthread_barrier_destroy(&start);
    free(rtt);
    free(total);
    free(lat);
    free(w);
    free(th);
    load_target_clear(&t);
    EVP_MD_free(md);
    EVP_CIPHER_free(cipher);
    curl_global_cleanup();
    return status;
}
