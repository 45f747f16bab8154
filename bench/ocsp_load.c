/*
 * ocsp_load: OCSP responder load generator.  THREADS workers each POST
 * the given DER OCSP requests (round robin, application/ocsp-request)
 * to URL over a kept-alive libcurl handle for SECONDS seconds, and
 * count the answers that are HTTP 200 OCSPResponses with status
 * successful.  Used by bench/ocsp_run.sh to compare scepd's /ocsp with
 * OpenSSL's own responder on the same CA and certificates.
 *
 * Usage: ocsp_load URL THREADS SECONDS REQUEST.der...
 * Prints one line: responses/s, ok, failed.  Exit status 0 when every
 * answer was a successful OCSPResponse, 1 otherwise, 2 on bad usage.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/ocsp.h>

/* Requests read at most, and their largest size. */
#define OL_MAX_REQUESTS 256
#define OL_MAX_REQUEST (16 * 1024)
/* Largest answer accepted. */
#define OL_MAX_BODY (64 * 1024)
#define OL_MAX_THREADS 64

struct ol_req {
    unsigned char *der;
    size_t len;
};

struct ol_run {
    const char *url;
    struct ol_req reqs[OL_MAX_REQUESTS];
    int nreqs;
    double until;
    _Atomic unsigned long ok, failed;
};

struct ol_body {
    unsigned char buf[OL_MAX_BODY];
    size_t len;
};

static double ol_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Collects the answer; returning short of n makes libcurl fail it. */
static size_t ol_write(char *data, size_t size, size_t nmemb, void *arg)
{
    struct ol_body *b = arg;
    size_t n = size * nmemb;

    if (n > sizeof(b->buf) - b->len)
        return 0;
    memcpy(b->buf + b->len, data, n);
    b->len += n;
    return n;
}

/* 1 when body is a successful OCSPResponse. */
static int ol_good(const struct ol_body *b)
{
    const unsigned char *p = b->buf;
    OCSP_RESPONSE *r = d2i_OCSP_RESPONSE(NULL, &p, (long)b->len);
    int ok = r != NULL && OCSP_response_status(r) == OCSP_RESPONSE_STATUS_SUCCESSFUL;

    OCSP_RESPONSE_free(r);
    return ok;
}

static void *ol_worker(void *arg)
{
    struct ol_run *run = arg;
    struct curl_slist *hdr = NULL;
    struct ol_body *b = malloc(sizeof(*b));
    CURL *h = curl_easy_init();
    long status;
    int i = 0;

    hdr = curl_slist_append(hdr, "Content-Type: application/ocsp-request");
    if (h == NULL || b == NULL || hdr == NULL) {
        atomic_fetch_add(&run->failed, 1);
        goto out;
    }
    curl_easy_setopt(h, CURLOPT_URL, run->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, ol_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    while (ol_now() < run->until) {
        const struct ol_req *q = &run->reqs[i++ % run->nreqs];

        b->len = 0;
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, q->der);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)q->len);
        status = 0;
        if (curl_easy_perform(h) == CURLE_OK &&
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status == 200 &&
            ol_good(b))
            atomic_fetch_add(&run->ok, 1);
        else
            atomic_fetch_add(&run->failed, 1);
    }
out:
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    free(b);
    return NULL;
}

/* Reads path (at most OL_MAX_REQUEST bytes) into q.  Returns 0 or -1. */
static int ol_read(const char *path, struct ol_req *q)
{
    FILE *f = fopen(path, "rb");
    size_t n;

    if (f == NULL || (q->der = malloc(OL_MAX_REQUEST)) == NULL) {
        if (f != NULL)
            fclose(f);
        return -1;
    }
    n = fread(q->der, 1, OL_MAX_REQUEST, f);
    fclose(f);
    if (n == 0 || n == OL_MAX_REQUEST)
        return -1;
    q->len = n;
    return 0;
}

int main(int argc, char **argv)
{
    static struct ol_run run;
    pthread_t th[OL_MAX_THREADS];
    int i, threads, started = 0;
    double seconds, t0, t1;
    char *end;

    if (argc < 5) {
        fprintf(stderr, "usage: ocsp_load URL THREADS SECONDS REQUEST.der...\n");
        return 2;
    }
    run.url = argv[1];
    threads = (int)strtol(argv[2], &end, 10);
    if (*end != '\0' || threads < 1 || threads > OL_MAX_THREADS)
        return 2;
    seconds = strtod(argv[3], &end);
    if (*end != '\0' || seconds <= 0)
        return 2;
    for (i = 4; i < argc && run.nreqs < OL_MAX_REQUESTS; i++) {
        if (ol_read(argv[i], &run.reqs[run.nreqs]) != 0) {
            fprintf(stderr, "ocsp_load: cannot read %s\n", argv[i]);
            return 2;
        }
        run.nreqs++;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    t0 = ol_now();
    run.until = t0 + seconds;
    for (i = 0; i < threads; i++) {
        if (pthread_create(&th[i], NULL, ol_worker, &run) != 0)
            break;
        started++;
    }
    for (i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    t1 = ol_now();
    printf("responses/s=%.0f ok=%lu failed=%lu seconds=%.2f threads=%d\n",
           (double)atomic_load(&run.ok) / (t1 - t0), atomic_load(&run.ok), atomic_load(&run.failed),
           t1 - t0, started);
    for (i = 0; i < run.nreqs; i++)
        free(run.reqs[i].der);
    curl_global_cleanup();
    return atomic_load(&run.failed) == 0 && started == threads ? 0 : 1;
}
