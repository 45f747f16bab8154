/*
 * scepd's asynchronous HTTP POST client (fetch.h): libcurl's multi
 * interface on a libevent base, in the shape libcurl documents for
 * event loops (curl_multi_socket_action(3)): libcurl tells us through
 * CURLMOPT_SOCKETFUNCTION which descriptors to watch for what, and
 * through CURLMOPT_TIMERFUNCTION when it next needs to run; we keep one
 * persistent event per descriptor and one timer, hand every readiness
 * and timeout back with curl_multi_socket_action(), and collect the
 * finished transfers with curl_multi_info_read().  No call here waits.
 */
#include "fetch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "policy/webhook.h"

/* One descriptor libcurl asked us to watch (its socketp). */
struct fetch_sock {
    struct scepd_fetcher *f;
    curl_socket_t fd;
    struct event *ev;
    struct fetch_sock *prev, *next;
};

/* One transfer in flight. */
struct scepd_fetch {
    struct scepd_fetcher *f;
    CURL *easy;
    struct curl_slist *hdrs;
    long timeout_ms;
    unsigned char *resp; /* the answer so far; at most SCEP_WEBHOOK_MAX_RESPONSE */
    size_t resp_len, resp_cap;
    int too_long;
    scepd_fetch_cb cb;
    void *arg;
    struct scepd_fetch *prev, *next;
};

struct scepd_fetcher {
    struct event_base *base;
    CURLM *multi;
    struct event *timer;       /* libcurl's one timeout */
    struct scepd_fetch *xfers; /* in flight */
    size_t nxfers;
    struct fetch_sock *socks; /* watched descriptors */
};

/* ---- transfers ---------------------------------------------------------- */

static void fetch_unlink(struct scepd_fetch *h)
{
    struct scepd_fetcher *f = h->f;

    if (h->prev != NULL)
        h->prev->next = h->next;
    else
        f->xfers = h->next;
    if (h->next != NULL)
        h->next->prev = h->prev;
    h->prev = h->next = NULL;
    f->nxfers--;
}

/* Frees an unlinked transfer that is no longer in the multi handle. */
static void fetch_free(struct scepd_fetch *h)
{
    if (h->easy != NULL)
        curl_easy_cleanup(h->easy);
    curl_slist_free_all(h->hdrs);
    free(h->resp);
    free(h);
}

/* CURLOPT_WRITEFUNCTION: keeps the answer, up to the cap; returning less
 * than given makes libcurl abort the transfer (CURLE_WRITE_ERROR). */
static size_t fetch_write(char *data, size_t size, size_t nmemb, void *arg)
{
    struct scepd_fetch *h = arg;
    size_t n = size * nmemb;

    if (n > SCEP_WEBHOOK_MAX_RESPONSE - h->resp_len) {
        h->too_long = 1;
        return 0;
    }
    if (h->resp_len + n > h->resp_cap) {
        size_t cap = h->resp_cap != 0 ? h->resp_cap : 1024;
        unsigned char *p;

        while (cap < h->resp_len + n)
            cap *= 2;
        if (cap > SCEP_WEBHOOK_MAX_RESPONSE)
            cap = SCEP_WEBHOOK_MAX_RESPONSE;
        p = realloc(h->resp, cap);
        if (p == NULL)
            return 0;
        h->resp = p;
        h->resp_cap = cap;
    }
    memcpy(h->resp + h->resp_len, data, n);
    h->resp_len += n;
    return n;
}

/* Hands every finished transfer to its callback and frees it. */
static void fetch_check_done(struct scepd_fetcher *f)
{
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(f->multi, &left)) != NULL) {
        struct scepd_fetch *h = NULL;
        CURL *easy = msg->easy_handle;
        CURLcode res = msg->data.result;
        long code = 0, os_errno = 0;
        char err[128];

        if (msg->msg != CURLMSG_DONE)
            continue;
        /* msg is invalid once the handle leaves the multi handle. */
        if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&h) != CURLE_OK || h == NULL)
            continue;
        err[0] = '\0';
        if (res == CURLE_OK) {
            if (curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK || code < 100 ||
                code > 999) {
                code = 0;
                snprintf(err, sizeof(err), "no HTTP status in the answer");
            }
        } else {
            (void)curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_errno);
            scep_webhook_transport_error((int)res, os_errno, h->timeout_ms, h->too_long, err,
                                         sizeof(err));
        }
        fetch_unlink(h);
        curl_multi_remove_handle(f->multi, easy);
        /* The callback may start or cancel other transfers: h is already
         * out of every list, so nothing it does reaches h. */
        if (code != 0)
            h->cb((int)code, h->resp_len > 0 ? h->resp : NULL, h->resp_len, NULL, h->arg);
        else
            h->cb(0, NULL, 0, err, h->arg);
        fetch_free(h);
    }
}

/* ---- libevent <-> libcurl ----------------------------------------------- */

/* A watched descriptor is ready. */
static void fetch_sock_event(evutil_socket_t fd, short what, void *arg)
{
    struct scepd_fetcher *f = arg;
    int action =
        ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    int running = 0;

    curl_multi_socket_action(f->multi, fd, action, &running);
    fetch_check_done(f);
}

/* libcurl's timer is due. */
static void fetch_timer_event(evutil_socket_t fd, short what, void *arg)
{
    struct scepd_fetcher *f = arg;
    int running = 0;

    (void)fd;
    (void)what;
    curl_multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    fetch_check_done(f);
}

static void fetch_sock_free(struct scepd_fetcher *f, struct fetch_sock *s)
{
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        f->socks = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    if (s->ev != NULL)
        event_free(s->ev);
    free(s);
}

/* CURLMOPT_SOCKETFUNCTION: watch fd for what (or stop watching it). */
static int fetch_sock_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct scepd_fetcher *f = userp;
    struct fetch_sock *s = socketp;
    short kind;

    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        /* libcurl forgets its own pointer to s. */
        if (s != NULL)
            fetch_sock_free(f, s);
        return 0;
    }
    if (s == NULL) {
        s = calloc(1, sizeof(*s));
        if (s == NULL)
            return -1; /* libcurl fails the transfer */
        s->f = f;
        s->fd = fd;
        s->next = f->socks;
        if (f->socks != NULL)
            f->socks->prev = s;
        f->socks = s;
        curl_multi_assign(f->multi, fd, s);
    }
    kind = (short)(((what & CURL_POLL_IN) ? EV_READ : 0) | ((what & CURL_POLL_OUT) ? EV_WRITE : 0) |
                   EV_PERSIST);
    /* An event's descriptor and kind are fixed once added: a change of
     * direction is a new event. */
    if (s->ev != NULL) {
        event_free(s->ev);
        s->ev = NULL;
    }
    s->ev = event_new(f->base, fd, kind, fetch_sock_event, f);
    if (s->ev == NULL || event_add(s->ev, NULL) != 0)
        return -1;
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: run libcurl after ms (-1: no timer).  Only
 * arms the timer: libcurl forbids calling it back from here. */
static int fetch_timer_cb(CURLM *multi, long ms, void *userp)
{
    struct scepd_fetcher *f = userp;
    struct timeval tv;

    (void)multi;
    if (ms < 0) {
        evtimer_del(f->timer);
        return 0;
    }
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    return evtimer_add(f->timer, &tv) == 0 ? 0 : -1;
}

/* ---- API ------------------------------------------------------------------ */

/* See fetch.h; free with scepd_fetcher_free(). */
struct scepd_fetcher *scepd_fetcher_new(struct event_base *base)
{
    struct scepd_fetcher *f = NULL;

    if (base == NULL)
        goto fail;
    f = calloc(1, sizeof(*f));
    if (f == NULL)
        goto fail;
    f->base = base;
    f->timer = evtimer_new(base, fetch_timer_event, f);
    f->multi = curl_multi_init();
    if (f->timer == NULL || f->multi == NULL)
        goto fail;
    if (curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, fetch_sock_cb) != CURLM_OK ||
        curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f) != CURLM_OK ||
        curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, fetch_timer_cb) != CURLM_OK ||
        curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, f) != CURLM_OK)
        goto fail;
    return f;
fail:
    scepd_fetcher_free(f);
    return NULL;
}

/* See fetch.h: in-flight transfers are dropped without their callbacks. */
void scepd_fetcher_free(struct scepd_fetcher *f)
{
    struct scepd_fetch *h;

    if (f == NULL)
        return;
    while ((h = f->xfers) != NULL) {
        fetch_unlink(h);
        curl_multi_remove_handle(f->multi, h->easy);
        fetch_free(h);
    }
    /* May still tell fetch_sock_cb about cached connections closing. */
    if (f->multi != NULL)
        curl_multi_cleanup(f->multi);
    while (f->socks != NULL)
        fetch_sock_free(f, f->socks);
    if (f->timer != NULL)
        event_free(f->timer);
    free(f);
}

/* Starts a POST; see fetch.h. */
int scepd_fetch_post(struct scepd_fetcher *f, const char *url, const char *const *headers,
                     const char *body, size_t len, long timeout_ms, scepd_fetch_cb cb, void *arg,
                     struct scepd_fetch **handle_out)
{
    struct scepd_fetch *h = NULL;
    struct curl_slist *nh;
    size_t i;

    if (f == NULL || url == NULL || (body == NULL && len > 0) || timeout_ms <= 0 || cb == NULL)
        goto fail;
    h = calloc(1, sizeof(*h));
    if (h == NULL || (h->easy = curl_easy_init()) == NULL)
        goto fail;
    h->f = f;
    h->timeout_ms = timeout_ms;
    h->cb = cb;
    h->arg = arg;
    /* No "Expect: 100-continue" round trip for a small body. */
    if ((nh = curl_slist_append(h->hdrs, "Expect:")) == NULL)
        goto fail;
    h->hdrs = nh;
    for (i = 0; headers != NULL && headers[i] != NULL; i++) {
        if ((nh = curl_slist_append(h->hdrs, headers[i])) == NULL)
            goto fail;
        h->hdrs = nh;
    }
    /* The URL is configuration but the answers are not trusted: no
     * redirect is followed (a 3xx is an answer like any other), only
     * http and https, one deadline for the whole exchange.  NOSIGNAL:
     * workers are threads, and libcurl's resolver timeouts would use
     * SIGALRM otherwise.  The size is set before COPYPOSTFIELDS, which
     * copies that many bytes (the body need not be a C string). */
    if (curl_easy_setopt(h->easy, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(h->easy, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(h->easy, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
        curl_easy_setopt(h->easy, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(h->easy, CURLOPT_TIMEOUT_MS, timeout_ms) != CURLE_OK ||
        curl_easy_setopt(h->easy, CURLOPT_HTTPHEADER, h->hdrs) != CURLE_OK ||
        curl_easy_setopt(h->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len) != CURLE_OK ||
        curl_easy_setopt(h->easy, CURLOPT_COPYPOSTFIELDS, body != NULL ? body : "") != CURLE_OK ||
        curl_easy_setopt(h->easy, CURLOPT_WRITEFUNCTION, fetch_write) != CURLE_OK ||
        curl_easy_setopt(h->easy, CURLOPT_WRITEDATA, h) != CURLE_OK ||
        curl_easy_setopt(h->easy, CURLOPT_PRIVATE, h) != CURLE_OK)
        goto fail;
    /* Only arms the timer (fetch_timer_cb): the transfer starts from the
     * loop, so cb never runs inside this call. */
    if (curl_multi_add_handle(f->multi, h->easy) != CURLM_OK)
        goto fail;
    h->next = f->xfers;
    if (f->xfers != NULL)
        f->xfers->prev = h;
    f->xfers = h;
    f->nxfers++;
    if (handle_out != NULL)
        *handle_out = h;
    return 0;
fail:
    if (h != NULL)
        fetch_free(h);
    return -1;
}

/* Cancels h without its callback; see fetch.h. */
void scepd_fetch_cancel(struct scepd_fetch *h)
{
    if (h == NULL)
        return;
    fetch_unlink(h);
    curl_multi_remove_handle(h->f->multi, h->easy);
    fetch_free(h);
}

size_t scepd_fetcher_pending(const struct scepd_fetcher *f)
{
    return f != NULL ? f->nxfers : 0;
}
