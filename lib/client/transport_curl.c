/*
 * The default HTTP transport of the libscep client, over libcurl.
 *
 * It implements struct scep_transport: one easy handle per request (a
 * SCEP exchange is a handful of requests, so connection reuse buys
 * nothing), a ceiling on the response body, timeouts, an optional CA
 * bundle for HTTPS, and proxies from the environment through libcurl's
 * own defaults.  Redirects are not followed: a SCEP URL that moves is a
 * configuration error the operator should see.
 */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include <curl/curl.h>

#include <scep/client.h>
#include <scep/error.h>
#include <scep/scep.h>

#define CURL_DEFAULT_TIMEOUT 60L
#define CURL_DEFAULT_CONNECT_TIMEOUT 10L

struct curl_ctx {
    long timeout;
    long connect_timeout;
    char *ca_bundle;
    char *user_agent;
};

/* Response body being received, with its ceiling. */
struct sink {
    unsigned char *buf;
    size_t len;
    size_t cap;
    int too_large;
};

static size_t sink_write(char *data, size_t size, size_t nmemb, void *userp)
{
    struct sink *s = userp;
    size_t n = size * nmemb;
    unsigned char *nb;
    size_t ncap;

    if (n > SCEP_CLIENT_MAX_RESPONSE - s->len) {
        s->too_large = 1;
        return 0; /* makes libcurl abort with CURLE_WRITE_ERROR */
    }
    if (s->len + n > s->cap) {
        ncap = s->cap ? s->cap : 4096;
        while (ncap < s->len + n)
            ncap *= 2;
        if (ncap > SCEP_CLIENT_MAX_RESPONSE)
            ncap = SCEP_CLIENT_MAX_RESPONSE;
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

static int curl_request(void *vctx, const char *url, const unsigned char *body, size_t len,
                        const char *content_type, struct scep_http_response *out)
{
    struct curl_ctx *ctx = vctx;
    CURL *h = NULL;
    struct curl_slist *hdrs = NULL;
    struct sink s = {0};
    char errbuf[CURL_ERROR_SIZE] = "";
    char ctline[160];
    char *ct = NULL;
    long status = 0;
    CURLcode cc;
    int rc = SCEP_ERR_HTTP;

    memset(out, 0, sizeof(*out));
    h = curl_easy_init();
    if (h == NULL) {
        rc = SCEP_ERR_NOMEM;
        goto out;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    /* Without NOSIGNAL libcurl uses SIGALRM for DNS timeouts, which is
     * not safe in a threaded program embedding the library. */
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, ctx->timeout);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, ctx->connect_timeout);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    curl_easy_setopt(h, CURLOPT_USERAGENT, ctx->user_agent);
    if (ctx->ca_bundle != NULL)
        curl_easy_setopt(h, CURLOPT_CAINFO, ctx->ca_bundle);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    if (body != NULL) {
        snprintf(ctline, sizeof(ctline), "Content-Type: %s",
                 content_type ? content_type : "application/x-pki-message");
        hdrs = curl_slist_append(hdrs, ctline);
        /* curl would otherwise send "Expect: 100-continue" for bodies
         * over 1 KiB and wait a second for servers that never answer it. */
        if (hdrs != NULL)
            hdrs = curl_slist_append(hdrs, "Expect:");
        if (hdrs == NULL) {
            rc = SCEP_ERR_NOMEM;
            goto out;
        }
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, (const char *)body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }

    cc = curl_easy_perform(h);
    if (s.too_large) {
        snprintf(out->error, sizeof(out->error), "response larger than %d bytes",
                 SCEP_CLIENT_MAX_RESPONSE);
        rc = SCEP_ERR_TOO_LARGE;
        goto out;
    }
    if (cc != CURLE_OK) {
        snprintf(out->error, sizeof(out->error), "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
        rc = cc == CURLE_OUT_OF_MEMORY ? SCEP_ERR_NOMEM : SCEP_ERR_HTTP;
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    /* The pointer is owned by the handle and dies with it: copy now. */
    if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct != NULL)
        snprintf(out->content_type, sizeof(out->content_type), "%s", ct);
    out->status = status;
    out->body = s.buf;
    out->len = s.len;
    s.buf = NULL;
    rc = 0;
out:
    free(s.buf);
    curl_slist_free_all(hdrs);
    if (h != NULL)
        curl_easy_cleanup(h);
    return rc;
}

static int curl_get(void *ctx, const char *url, struct scep_http_response *out)
{
    return curl_request(ctx, url, NULL, 0, NULL, out);
}

static int curl_post(void *ctx, const char *url, const unsigned char *body, size_t len,
                     const char *content_type, struct scep_http_response *out)
{
    /* A NULL body would turn the request into a GET. */
    static const unsigned char empty[1];

    return curl_request(ctx, url, body ? body : empty, len, content_type, out);
}

static void curl_release(void *vctx)
{
    struct curl_ctx *ctx = vctx;

    if (ctx == NULL)
        return;
    free(ctx->ca_bundle);
    free(ctx->user_agent);
    free(ctx);
}

/*
 * Fills *out with a libcurl transport (see client.h).  The context is
 * freed by scep_transport_release().  Returns 0, SCEP_ERR_NOMEM, or
 * SCEP_ERR_INTERNAL when libcurl cannot initialise.
 */
int scep_transport_curl_new(const struct scep_curl_options *opt, struct scep_transport *out)
{
    struct curl_ctx *ctx = NULL;
    const char *ua;
    int rc = SCEP_ERR_NOMEM;

    if (out == NULL)
        return SCEP_ERR_INVALID_ARG;
    /* Reference-counted inside libcurl, so repeated calls are cheap; it is
     * never undone because other parts of the program may use libcurl. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        rc = SCEP_ERR_INTERNAL;
        goto out;
    }
    ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL)
        goto out;
    ctx->timeout = opt && opt->timeout_seconds > 0 ? opt->timeout_seconds : CURL_DEFAULT_TIMEOUT;
    ctx->connect_timeout = opt && opt->connect_timeout_seconds > 0 ? opt->connect_timeout_seconds
                                                                   : CURL_DEFAULT_CONNECT_TIMEOUT;
    if (opt && opt->ca_bundle) {
        ctx->ca_bundle = strdup(opt->ca_bundle);
        if (ctx->ca_bundle == NULL)
            goto out;
    }
    ua = opt && opt->user_agent ? opt->user_agent : "libscep/" SCEP_VERSION_STRING;
    ctx->user_agent = strdup(ua);
    if (ctx->user_agent == NULL)
        goto out;
    out->get = curl_get;
    out->post = curl_post;
    out->release = curl_release;
    out->ctx = ctx;
    ctx = NULL;
    rc = 0;
out:
    curl_release(ctx);
    return rc;
}

/*
 * Releases a transport's context through its own release function and
 * zeroes the struct.  Accepts NULL and a zeroed struct.
 */
void scep_transport_release(struct scep_transport *t)
{
    if (t == NULL)
        return;
    if (t->release != NULL)
        t->release(t->ctx);
    memset(t, 0, sizeof(*t));
}

/* Frees r's body and zeroes it.  Accepts NULL. */
void scep_http_response_clear(struct scep_http_response *r)
{
    if (r == NULL)
        return;
    free(r->body);
    memset(r, 0, sizeof(*r));
}
