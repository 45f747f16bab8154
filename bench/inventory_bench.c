/*
 * inventory_bench: how fast the inventory answers the two searches an
 * administrator runs on a large fleet, with ROWS certificates stored:
 * "what expires in the next 30 days" (scepctl list --expiring 30d: the
 * first page of 100, soonest first, a page of 100 deep in it by the
 * admin API's keyset cursor, and the whole answer walked) and a
 * subject substring search (scepctl list --subject TEXT: one device by
 * name, and one site of a few thousand).  Each query runs RUNS times
 * through scep_store_list_certs, the path scepctl takes, every row
 * copied out as a record; it prints the median, the fastest and the
 * slowest, and how many rows each answer held.
 *
 * The rows are test data, not a durable history: they are loaded with
 * scep_store_insert_certs in batches of BATCH (one transaction each),
 * skipped when the store already holds the last row of an earlier run.
 * Each certificate is issued at a uniformly random time in the past
 * year for a year, so about 30/365 of them (some 82,000 of a million)
 * expire in the next 30 days; 2% are revoked.  Subjects are
 * "CN=device-NNNNNNN.fleet.example,OU=site-SSS,O=Example Corp,C=US"
 * (500 sites), DER a 700-byte placeholder.
 *
 * Usage: inventory_bench [URI [ROWS [RUNS]]]
 *   default: sqlite:./inventory_bench.db 1000000 7
 *   PostgreSQL: any postgresql:// URI (tests/integration/pg.sh starts a
 *   private server); the trigram index needs pg_trgm (pg_migrate.c).
 *
 * Built with the project (bench/CMakeLists.txt) into
 * BUILD/bench/inventory_bench; not a CTest test, since its figures
 * depend on the machine.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <scep/error.h>

#include "store/store.h"

#define BATCH 50000
#define DER_LEN 700
#define SITES 500
#define YEAR (365 * 86400)
#define MAX_RUNS 101

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A small deterministic generator, so that two runs load the same
 * data. */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* The serial of row i: 16 bytes, as scepd's own, top bit clear. */
static void serial_of(long i, char *buf, size_t len)
{
    snprintf(buf, len, "5EED%028lX", (unsigned long)i);
}

/* One batch's records and the text they point at. */
struct batch {
    struct scep_cert_info ci[BATCH];
    char serial[BATCH][40];
    char subject[BATCH][96];
    char sans[BATCH][64];
};

static int fill(struct scep_store *st, long rows, int64_t now)
{
    static unsigned char der[DER_LEN];
    struct batch *b = calloc(1, sizeof(*b));
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    double t0 = now_s();
    long i = 0, n, k;
    int rc = 0;

    if (b == NULL)
        return SCEP_ERR_NOMEM;
    memset(der, 0xa5, sizeof(der));
    der[0] = 0x30;
    while (i < rows && rc == 0) {
        n = rows - i < BATCH ? rows - i : BATCH;
        for (k = 0; k < n; k++, i++) {
            struct scep_cert_info *ci = &b->ci[k];
            int64_t issued = now - (int64_t)(rnd(&seed) % YEAR);

            serial_of(i, b->serial[k], sizeof(b->serial[k]));
            snprintf(b->subject[k], sizeof(b->subject[k]),
                     "CN=device-%07ld.fleet.example,OU=site-%03ld,O=Example Corp,C=US", i,
                     i % SITES);
            snprintf(b->sans[k], sizeof(b->sans[k]), "DNS:device-%07ld.fleet.example", i);
            memset(ci, 0, sizeof(*ci));
            ci->serial = b->serial[k];
            ci->issuer_fp = "be0c1a5e00000000000000000000000000000000000000000000000000000000";
            ci->subject = b->subject[k];
            ci->sans = b->sans[k];
            ci->not_before = issued;
            ci->not_after = issued + YEAR;
            ci->issued_at = issued;
            ci->status = rnd(&seed) % 50 == 0 ? SCEP_CERT_REVOKED : SCEP_CERT_VALID;
            ci->revoked_at = ci->status == SCEP_CERT_REVOKED ? issued + 3600 : 0;
            ci->revocation_reason = ci->status == SCEP_CERT_REVOKED ? 1 : -1;
            ci->msg_type = "PKCSReq";
            ci->requester = "192.0.2.1";
            ci->der = der;
            ci->der_len = sizeof(der);
        }
        rc = scep_store_insert_certs(st, b->ci, (size_t)n, NULL);
        if (rc == 0 && (i % 200000 == 0 || i == rows))
            fprintf(stderr, "  %ld rows, %.1f s\n", i, now_s() - t0);
    }
    if (rc == 0)
        printf("filled %ld rows in %.1f s (%.0f rows/s)\n", rows, now_s() - t0,
               (double)rows / (now_s() - t0));
    free(b);
    return rc;
}

static int count_cb(const struct scep_cert_info *ci, void *arg)
{
    (void)ci;
    (*(long *)arg)++;
    return 0;
}

/* The position of the last row a walk saw (by not_after). */
struct last_row {
    int64_t key;
    char serial[80];
};

static int last_cb(const struct scep_cert_info *ci, void *arg)
{
    struct last_row *l = arg;

    l->key = ci->not_after;
    snprintf(l->serial, sizeof(l->serial), "%s", ci->serial);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* Runs f runs times and prints the median, min and max in ms. */
static int timed(struct scep_store *st, const char *what, const struct scep_cert_filter *f,
                 int runs)
{
    double t[MAX_RUNS], t0;
    long rows = 0;
    int i, rc;

    for (i = 0; i < runs; i++) {
        rows = 0;
        t0 = now_s();
        rc = scep_store_list_certs(st, f, count_cb, &rows);
        t[i] = (now_s() - t0) * 1000.0;
        if (rc != 0) {
            fprintf(stderr, "%s: %s (%s)\n", what, scep_strerror(rc), scep_store_last_error(st));
            return rc;
        }
    }
    qsort(t, (size_t)runs, sizeof(t[0]), cmp_double);
    printf("%-44s %8ld rows  median %8.2f ms  min %8.2f  max %8.2f  (%d runs)\n", what, rows,
           t[runs / 2], t[0], t[runs - 1], runs);
    return 0;
}

int main(int argc, char **argv)
{
    const char *uri = argc > 1 ? argv[1] : "sqlite:./inventory_bench.db";
    long rows = argc > 2 ? strtol(argv[2], NULL, 10) : 1000000;
    int runs = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 7;
    struct scep_store *st = NULL;
    struct scep_cert_info *last = NULL;
    struct scep_cert_filter f;
    struct last_row deep;
    char why[256], serial[40], device[40];
    int64_t now = (int64_t)time(NULL);
    int rc;

    if (rows < 1 || runs < 1 || runs > MAX_RUNS) {
        fprintf(stderr, "usage: inventory_bench [URI [ROWS [RUNS (1-%d)]]]\n", MAX_RUNS);
        return 2;
    }
    rc = scep_store_open(uri, &st, why, sizeof(why));
    if (rc != 0) {
        fprintf(stderr, "open: %s\n", why);
        return 1;
    }
    serial_of(rows - 1, serial, sizeof(serial));
    if (scep_store_get_cert(st, serial, &last) == 0) {
        printf("store already holds the %ld rows; not filling\n", rows);
        scep_cert_info_free(last);
    } else if ((rc = fill(st, rows, now)) != 0) {
        fprintf(stderr, "fill: %s (%s)\n", scep_strerror(rc), scep_store_last_error(st));
        goto out;
    }

    /* scepctl list --expiring 30d: valid, not superseded, soonest first. */
    memset(&f, 0, sizeof(f));
    f.status = SCEP_CERT_VALID;
    f.expiring_within = 30 * 86400;
    f.superseded = SCEP_FILTER_NOT;
    f.order = SCEP_CERT_ORDER_EXPIRY;
    f.limit = 100;
    if ((rc = timed(st, "expiring in 30 days, first 100", &f, runs)) != 0)
        goto out;
    /* A page deep in that answer, by the keyset cursor the admin API
     * hands out: the 100 after the 50,000th. */
    f.limit = 50000;
    memset(&deep, 0, sizeof(deep));
    if ((rc = scep_store_list_certs(st, &f, last_cb, &deep)) != 0)
        goto out;
    if (deep.serial[0] != '\0') {
        f.limit = 100;
        f.after_key = deep.key;
        f.after_serial = deep.serial;
        if ((rc = timed(st, "expiring in 30 days, 100 after the 50,000th", &f, runs)) != 0)
            goto out;
        f.after_serial = NULL;
    }
    f.limit = 0;
    if ((rc = timed(st, "expiring in 30 days, all", &f, runs)) != 0)
        goto out;

    /* scepctl list --subject TEXT: every status, newest first. */
    memset(&f, 0, sizeof(f));
    f.status = -1;
    f.include_expired = 1;
    snprintf(device, sizeof(device), "device-%07ld.fleet", rows / 2);
    f.subject_like = device;
    if ((rc = timed(st, "subject contains \"device-NNNNNNN.fleet\"", &f, runs)) != 0)
        goto out;
    f.subject_like = "ou=site-042,";
    f.limit = 100;
    if ((rc = timed(st, "subject contains \"ou=site-042,\", first 100", &f, runs)) != 0)
        goto out;
    f.limit = 0;
    if ((rc = timed(st, "subject contains \"ou=site-042,\"", &f, runs)) != 0)
        goto out;
    f.subject_like = NULL;
    f.san_like = device;
    if ((rc = timed(st, "SANs contain \"device-NNNNNNN.fleet\"", &f, runs)) != 0)
        goto out;
    rc = 0;
out:
    scep_store_close(st);
    return rc == 0 ? 0 : 1;
}
