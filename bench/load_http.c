/*
 * scep_load's HTTP: one blocking exchange over a libcurl easy handle that
 * the calling worker owns, so that connections are kept alive between a
 * worker's requests (as a device retrying or a batch enroller would) unless
 * the run asks for a fresh connection each time.  The reply body is
 * collected into a buffer that refuses to grow past LOAD_MAX_BODY.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <scep/error.h>

#include "load.h"

struct sink {
    unsigned char *buf;
    size_t len;
    size_t cap;
    int too_large;
};

/* libcurl's write callback: returning less than given aborts the transfer,
 * which is how the ceiling is enforced. */
static size_t sink_write(char *data, size_t size, size_t nmemb, void *arg)
{
    struct sink *s = arg;
    size_t n = size * nmemb;
    unsigned char *nb;
    size_t ncap;

    if (n > LOAD_MAX_BODY - s->len) {
        s->too_large = 1;
        return 0;
    }
    if (s->len + n > s->cap) {
        ncap = s->cap == 0 ? 8192 : s->cap;
        while (ncap < s->len + n)
            ncap *= 2;
        if (ncap > LOAD_MAX_BODY)
            ncap = LOAD_MAX_BODY;
        nb = realloc(s->buf, ncap);
        if (nb == NULL)
            return 0;
        s->buf = nb;
        s->cap = ncap;
    }
    memcpy(s->buf + s->len, data, n);
    s->len += n;
    return n;
}

/*
 * Returns a monotonic time in seconds, for intervals only.
 */
double load_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Makes an easy handle for the workers.  Returns NULL on failure; free
 * with curl_easy_cleanup().
 */
CURL *load_http_handle(int fresh_connection)
{
    CURL *h = curl_easy_init();

    if (h == NULL)
        return NULL;
    /* Without NOSIGNAL libcurl uses SIGALRM for DNS timeouts, which is
     * not safe with several threads. */
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, LOAD_HTTP_TIMEOUT);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "scep_load");
    /* Some servers answer a POST late when curl waits for "100 Continue"
     * first; SCEP bodies are small, so send them at once. */
    curl_easy_setopt(h, CURLOPT_EXPECT_100_TIMEOUT_MS, 0L);
    if (fresh_connection) {
        curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
    }
    return h;
}

/*
 * One GET (body NULL) or POST.  On success *r is filled and its body is
 * the caller's (load_http_reply_clear()).  Returns 0 or SCEP_ERR_HTTP /
 * SCEP_ERR_NOMEM with err filled.
 */
int load_http_exchange(CURL *h, const char *url, const unsigned char *body, size_t len,
                       struct load_http_reply *r, char *err, size_t errlen)
{
    struct sink s = {0};
    struct curl_slist *hdrs = NULL, *nh;
    char cerr[CURL_ERROR_SIZE] = "";
    const char *ct = NULL;
    long status = 0;
    CURLcode cc;
    int rc = SCEP_ERR_HTTP;

    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
    if (body != NULL) {
        nh = curl_slist_append(hdrs, "Content-Type: application/x-pki-message");
        if (nh == NULL) {
            rc = SCEP_ERR_NOMEM;
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        hdrs = nh;
        /* Drop curl's automatic "Expect: 100-continue". */
        nh = curl_slist_append(hdrs, "Expect:");
        if (nh == NULL) {
            rc = SCEP_ERR_NOMEM;
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        hdrs = nh;
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, (const char *)body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "%s: %s", url,
                 s.too_large ? "reply larger than the ceiling"
                             : (cerr[0] != '\0' ? cerr : curl_easy_strerror(cc)));
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
    memset(r, 0, sizeof(*r));
    r->status = status;
    snprintf(r->content_type, sizeof(r->content_type), "%s", ct != NULL ? ct : "");
    r->body = s.buf;
    r->len = s.len;
    s.buf = NULL;
    rc = 0;
out:
    /* The handle outlives this call: do not leave it pointing at our
     * stack or at the header list freed below. */
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, NULL);
    curl_slist_free_all(hdrs);
    free(s.buf);
    return rc;
}

/*
 * Frees r's body and zeroes r.  Accepts NULL.
 */
void load_http_reply_clear(struct load_http_reply *r)
{
    if (r == NULL)
        return;
    free(r->body);
    memset(r, 0, sizeof(*r));
}
