/*
 * store_bench: how many durable certificate inserts per second the store
 * sustains with several worker threads, each on its own connection, as
 * scepd's workers use it.  Every insert is one BEGIN IMMEDIATE ...
 * COMMIT with its audit event, fsynced before it returns, so the number
 * is bounded by the disk's sync latency; it prints the rate and the
 * median and 99th percentile latency of one insert.
 *
 * Usage: store_bench [URI [THREADS [PER_THREAD]]]
 *   default: sqlite:./store_bench.db 4 500 (the file is reused; remove
 *   it between runs for comparable numbers).
 *
 * Built with the project (bench/CMakeLists.txt, option SCEP_BUILD_BENCH)
 * into BUILD/bench/store_bench; not a CTest test, since its figure
 * depends on the disk.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <scep/error.h>

#include "store/store.h"

struct worker {
    const char *uri;
    int index;
    long n;
    double *lat; /* seconds, one per insert */
    int rc;
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *run(void *arg)
{
    struct worker *w = arg;
    struct scep_store *st = NULL;
    unsigned char der[600];
    char serial[40], subject[64], why[256];
    long i;

    w->rc = scep_store_open(w->uri, &st, why, sizeof(why));
    if (w->rc != 0) {
        fprintf(stderr, "open: %s\n", why);
        return NULL;
    }
    memset(der, 0xab, sizeof(der)); /* about the size of a P-256 certificate */
    der[0] = 0x30;
    for (i = 0; i < w->n; i++) {
        struct scep_cert_info ci;
        struct scep_audit_event ev;
        double t0;

        snprintf(serial, sizeof(serial), "%08lX%02X%08lX", (unsigned long)time(NULL), w->index,
                 (unsigned long)i);
        snprintf(subject, sizeof(subject), "CN=bench-%d-%ld", w->index, i);
        memset(&ci, 0, sizeof(ci));
        ci.serial = serial;
        ci.subject = subject;
        ci.not_before = (int64_t)time(NULL);
        ci.not_after = ci.not_before + 86400;
        ci.revocation_reason = -1;
        ci.der = der;
        ci.der_len = sizeof(der);
        memset(&ev, 0, sizeof(ev));
        ev.kind = "issue";
        ev.actor = "store_bench";
        ev.serial = serial;
        ev.detail = subject;
        t0 = now_s();
        w->rc = scep_store_insert_cert(st, &ci, &ev);
        w->lat[i] = now_s() - t0;
        if (w->rc != 0) {
            fprintf(stderr, "insert: %s: %s\n", scep_strerror(w->rc), scep_store_last_error(st));
            break;
        }
    }
    scep_store_close(st);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static long arg_long(const char *s, long dflt)
{
    char *end = NULL;
    long v;

    if (s == NULL)
        return dflt;
    v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || v <= 0 || v > 1000000)
        return -1;
    return v;
}

int main(int argc, char **argv)
{
    const char *uri = argc > 1 ? argv[1] : "sqlite:./store_bench.db";
    long threads = arg_long(argc > 2 ? argv[2] : NULL, 4);
    long per = arg_long(argc > 3 ? argv[3] : NULL, 500);
    pthread_t *th;
    struct worker *w;
    double *all, t0, elapsed;
    long i, total;
    int failed = 0;

    if (threads < 0 || threads > 256 || per < 0) {
        fprintf(stderr, "usage: store_bench [URI [THREADS [PER_THREAD]]]\n");
        return 2;
    }
    total = threads * per;
    th = calloc((size_t)threads, sizeof(*th));
    w = calloc((size_t)threads, sizeof(*w));
    all = calloc((size_t)total, sizeof(*all));
    if (th == NULL || w == NULL || all == NULL)
        return 1;
    t0 = now_s();
    for (i = 0; i < threads; i++) {
        w[i] = (struct worker){.uri = uri, .index = (int)i, .n = per, .lat = all + i * per};
        if (pthread_create(&th[i], NULL, run, &w[i]) != 0)
            return 1;
    }
    for (i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        if (w[i].rc != 0)
            failed = 1;
    }
    elapsed = now_s() - t0;
    if (failed) {
        fprintf(stderr, "store_bench: a worker failed\n");
        return 1;
    }
    qsort(all, (size_t)total, sizeof(*all), cmp_double);
    printf("%ld inserts by %ld threads in %.2f s: %.0f/s, p50 %.2f ms, p99 %.2f ms\n", total,
           threads, elapsed, (double)total / elapsed, all[total / 2] * 1e3,
           all[(total * 99) / 100] * 1e3);
    free(all);
    free(w);
    free(th);
    return 0;
}
