/*
 * The blocking webhook transport (webhook.h): one libcurl easy transfer
 * per call, for callers that have no event loop (unit tests, tools).
 * scepd's workers never call it: they POST through src/scepd/fetch.c on
 * their event loop, so that a slow hook holds up no other connection.
 * Both transports describe a failure with scep_webhook_transport_error()
 * below, so that the verdict's words do not depend on the transport.
 */
#include "policy/webhook.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include <scep/error.h>

/* The answer being read: capped at SCEP_WEBHOOK_MAX_RESPONSE. */
struct wh_buf {
    unsigned char *p;
    size_t len;
    int too_long;
    int nomem;
};

/* CURLOPT_WRITEFUNCTION: appends, or stops the transfer (returning
 * less than given) when the answer passes the cap. */
static size_t wh_write(char *data, size_t size, size_t nmemb, void *arg)
{
    struct wh_buf *b = arg;
    size_t n = size * nmemb;
    unsigned char *np;

    if (n > SCEP_WEBHOOK_MAX_RESPONSE - b->len) {
        b->too_long = 1;
        return 0;
    }
    if (n == 0)
        return 0;
    np = realloc(b->p, b->len + n);
    if (np == NULL) {
        b->nomem = 1;
        return 0;
    }
    memcpy(np + b->len, data, n);
    b->p = np;
    b->len += n;
    return n;
}

/* CURLOPT_XFERINFOFUNCTION: a non-zero return ends the transfer with
 * CURLE_ABORTED_BY_CALLBACK; libcurl calls it about once a second even
 * while nothing moves, so a stop is seen within a second. */
static int wh_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    const atomic_int *stop = arg;

    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return atomic_load(stop) != 0;
}

/* POSTs body and reads the answer; see webhook.h.  *resp: free(). */
int scep_webhook_post_blocking(const char *url, const char *body, size_t len, const char *signature,
                               long timeout_ms, int *status, unsigned char **resp, size_t *resp_len,
                               char *err, size_t errlen)
{
    return scep_webhook_post_stoppable(url, body, len, signature, timeout_ms, NULL, status, resp,
                                       resp_len, err, errlen);
}

/* As scep_webhook_post_blocking, ended early when *stop is set; see
 * webhook.h.  *resp: free(). */
int scep_webhook_post_stoppable(const char *url, const char *body, size_t len,
                                const char *signature, long timeout_ms, const atomic_int *stop,
                                int *status, unsigned char **resp, size_t *resp_len, char *err,
                                size_t errlen)
{
    struct curl_slist *hdrs = NULL, *nh;
    struct wh_buf b = {NULL, 0, 0, 0};
    CURL *h = NULL;
    CURLcode cc;
    long code = 0, os_errno = 0;
    char sighdr[sizeof(SCEP_WEBHOOK_SIG_HEADER) + 2 + SCEP_WEBHOOK_SIG_SIZE];
    int rc = SCEP_ERR_INVALID_ARG;

    if (url == NULL || (body == NULL && len > 0) || timeout_ms <= 0 || status == NULL ||
        resp == NULL || resp_len == NULL || err == NULL || errlen == 0)
        goto out;
    err[0] = '\0';
    if (signature != NULL && (size_t)snprintf(sighdr, sizeof(sighdr), "%s: %s",
                                              SCEP_WEBHOOK_SIG_HEADER, signature) >= sizeof(sighdr))
        goto out;
    rc = SCEP_ERR_INTERNAL;
    /* Reference-counted by libcurl; see webhook.h for threads. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        goto out;
    rc = SCEP_ERR_NOMEM;
    if ((h = curl_easy_init()) == NULL)
        goto out;
    if ((nh = curl_slist_append(hdrs, "Content-Type: application/json")) == NULL)
        goto out;
    hdrs = nh;
    /* No "Expect: 100-continue" round trip for a small body. */
    if ((nh = curl_slist_append(hdrs, "Expect:")) == NULL)
        goto out;
    hdrs = nh;
    if (signature != NULL) {
        if ((nh = curl_slist_append(hdrs, sighdr)) == NULL)
            goto out;
        hdrs = nh;
    }
    rc = SCEP_ERR_INTERNAL;
    /* The hook's URL is configuration, but its answers are not trusted:
     * no redirect is followed (a 3xx is a denial), only http and https
     * are spoken, and the whole exchange has one deadline. */
    if (curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body != NULL ? body : "") != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, wh_write) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &b) != CURLE_OK)
        goto out;
    if (stop != NULL && (curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, wh_progress) != CURLE_OK ||
                         curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)stop) != CURLE_OK ||
                         curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L) != CURLE_OK))
        goto out;
    cc = curl_easy_perform(h);
    if (b.nomem) {
        rc = SCEP_ERR_NOMEM;
        goto out;
    }
    if (cc != CURLE_OK) {
        (void)curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
        scep_webhook_transport_error((int)cc, os_errno, timeout_ms, b.too_long, err, errlen);
        free(b.p);
        b.p = NULL;
        b.len = 0;
    } else if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK || code < 100 ||
               code > 999) {
        code = 0;
        snprintf(err, errlen, "no HTTP status in the answer");
        free(b.p);
        b.p = NULL;
        b.len = 0;
    }
    *status = (int)code;
    *resp = b.p;
    *resp_len = b.len;
    b.p = NULL;
    rc = 0;
out:
    free(b.p);
    curl_slist_free_all(hdrs);
    if (h != NULL)
        curl_easy_cleanup(h);
    return rc;
}

/* Words a failed libcurl transfer; see webhook.h. */
void scep_webhook_transport_error(int curl_code, long os_errno, long timeout_ms, int too_long,
                                  char *err, size_t errlen)
{
    if (err == NULL || errlen == 0)
        return;
    if (too_long) {
        snprintf(err, errlen, "answer over %d bytes", SCEP_WEBHOOK_MAX_RESPONSE);
        return;
    }
    switch (curl_code) {
    case CURLE_OPERATION_TIMEDOUT:
        snprintf(err, errlen, "timed out after %ld ms", timeout_ms);
        break;
    case CURLE_COULDNT_CONNECT:
        /* libcurl's own text names host, port and elapsed time; the
         * errno is what an operator needs. */
        if (os_errno == ECONNREFUSED)
            snprintf(err, errlen, "connection refused");
        else if (os_errno != 0)
            snprintf(err, errlen, "cannot connect: %s", strerror((int)os_errno));
        else
            snprintf(err, errlen, "cannot connect");
        break;
    case CURLE_COULDNT_RESOLVE_HOST:
        snprintf(err, errlen, "cannot resolve the host name");
        break;
    case CURLE_UNSUPPORTED_PROTOCOL:
        snprintf(err, errlen, "URL scheme refused (http and https only)");
        break;
    case CURLE_GOT_NOTHING:
        snprintf(err, errlen, "connection closed without an answer");
        break;
    case CURLE_ABORTED_BY_CALLBACK:
        snprintf(err, errlen, "stopped (scepd is shutting down)");
        break;
    default:
        snprintf(err, errlen, "%s", curl_easy_strerror((CURLcode)curl_code));
        break;
    }
}
