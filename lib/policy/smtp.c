/*
 * The blocking SMTP sender (smtp.h): one libcurl easy transfer per
 * message.  libcurl speaks the protocol (EHLO, STARTTLS, AUTH, MAIL,
 * RCPT, DATA with dot-stuffing, QUIT); this file turns scepd's settings
 * into its options and its failures into one line for the log.
 */
#include "policy/smtp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include <scep/error.h>

#include "policy/webhook.h"

/* Longest address (RFC 5321 4.5.3.1.3's path, less the brackets). */
#define SMTP_MAX_ADDRESS 254

/* The message being uploaded. */
struct smtp_src {
    const char *p;
    size_t left;
};

/* CURLOPT_READFUNCTION: hands out the next piece of the message. */
static size_t smtp_read(char *buf, size_t size, size_t nitems, void *arg)
{
    struct smtp_src *s = arg;
    size_t n = size * nitems;

    if (n > s->left)
        n = s->left;
    memcpy(buf, s->p, n);
    s->p += n;
    s->left -= n;
    return n;
}

/* CURLOPT_XFERINFOFUNCTION: non-zero ends the exchange (a stop). */
static int smtp_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                         curl_off_t ulnow)
{
    const atomic_int *stop = arg;

    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return atomic_load(stop) != 0;
}

/* 1 when s is a bare address; see smtp.h. */
int scep_smtp_address_ok(const char *s, size_t len)
{
    const char *at = NULL;
    size_t i;

    if (s == NULL || len == 0 || len > SMTP_MAX_ADDRESS)
        return 0;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c <= 0x20 || c >= 0x7f || strchr("<>,;\"()[]\\", c) != NULL)
            return 0;
        if (c == '@') {
            if (at != NULL)
                return 0;
            at = s + i;
        }
    }
    return at != NULL && at != s && at != s + len - 1;
}

/* Builds the recipient list from the comma-separated to.  *out:
 * curl_slist_free_all().  0, SCEP_ERR_INVALID_ARG or SCEP_ERR_NOMEM. */
static int smtp_rcpts(const char *to, struct curl_slist **out)
{
    struct curl_slist *l = NULL, *nl;
    char addr[SMTP_MAX_ADDRESS + 3];
    const char *p = to, *end;
    size_t n, count = 0;
    int rc = SCEP_ERR_INVALID_ARG;

    while (*p != '\0') {
        while (*p == ' ' || *p == '\t')
            p++;
        end = p + strcspn(p, ",");
        n = (size_t)(end - p);
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (!scep_smtp_address_ok(p, n) || ++count > SCEP_SMTP_MAX_RCPT)
            goto out;
        /* RCPT TO takes the path in angle brackets; libcurl adds them
         * when missing, but saying it leaves nothing to guess. */
        snprintf(addr, sizeof(addr), "<%.*s>", (int)n, p);
        if ((nl = curl_slist_append(l, addr)) == NULL) {
            rc = SCEP_ERR_NOMEM;
            goto out;
        }
        l = nl;
        p = *end == ',' ? end + 1 : end;
    }
    if (l == NULL)
        goto out;
    *out = l;
    l = NULL;
    rc = 0;
out:
    curl_slist_free_all(l);
    return rc;
}

/* Words a failed transfer: the webhook transports' words for what they
 * share (timeouts, connecting), SMTP's own for the rest. */
static void smtp_error(CURL *h, CURLcode cc, long timeout_ms, char *err, size_t errlen)
{
    long os_errno = 0, code = 0;

    (void)curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
    (void)curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    switch (cc) {
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_GOT_NOTHING:
        scep_webhook_transport_error((int)cc, os_errno, timeout_ms, 0, err, errlen);
        break;
    case CURLE_UNSUPPORTED_PROTOCOL:
        snprintf(err, errlen, "URL scheme refused (smtp and smtps only)");
        break;
    case CURLE_ABORTED_BY_CALLBACK:
        snprintf(err, errlen, "stopped (scepd is shutting down)");
        break;
    case CURLE_LOGIN_DENIED:
        snprintf(err, errlen, "authentication refused (server said %ld)", code);
        break;
    default:
        if (code >= 400)
            snprintf(err, errlen, "server said %ld (%s)", code, curl_easy_strerror(cc));
        else
            snprintf(err, errlen, "%s", curl_easy_strerror(cc));
        break;
    }
}

/* Sends one message; see smtp.h. */
int scep_smtp_send_blocking(const struct scep_smtp_opts *o, const char *msg, size_t len, char *err,
                            size_t errlen)
{
    struct curl_slist *rcpt = NULL;
    struct smtp_src src;
    char from[SMTP_MAX_ADDRESS + 3];
    CURL *h = NULL;
    CURLcode cc;
    int rc = SCEP_ERR_INVALID_ARG;

    if (err == NULL || errlen == 0)
        return rc;
    err[0] = '\0';
    if (o == NULL || o->url == NULL || o->from == NULL || o->to == NULL || msg == NULL ||
        o->timeout_ms <= 0 || (o->user != NULL && o->password == NULL) ||
        !scep_smtp_address_ok(o->from, strlen(o->from))) {
        snprintf(err, errlen, "bad mail settings");
        goto out;
    }
    if (strncmp(o->url, "smtp://", 7) != 0 && strncmp(o->url, "smtps://", 8) != 0) {
        snprintf(err, errlen, "URL scheme refused (smtp and smtps only)");
        goto out;
    }
    rc = smtp_rcpts(o->to, &rcpt);
    if (rc != 0) {
        snprintf(err, errlen, "bad recipient list");
        goto out;
    }
    snprintf(from, sizeof(from), "<%s>", o->from);
    rc = SCEP_ERR_NOMEM;
    if ((h = curl_easy_init()) == NULL)
        goto out;
    src.p = msg;
    src.left = len;
    rc = SCEP_ERR_INTERNAL;
    /* CURLUSESSL_TRY: STARTTLS when the server offers it, plain SMTP
     * when it does not (smtp:// asked for no more); smtps:// is TLS
     * throughout regardless.  Only smtp and smtps are spoken, and the
     * whole exchange has one deadline, so a dead server cannot hold the
     * notify thread (or scepd's stop) for longer than timeout_ms. */
    if (curl_easy_setopt(h, CURLOPT_URL, o->url) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps") != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, o->timeout_ms) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_MAIL_FROM, from) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_READFUNCTION, smtp_read) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_READDATA, &src) != CURLE_OK)
        goto out;
    if (o->stop != NULL &&
        (curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, smtp_progress) != CURLE_OK ||
         curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)o->stop) != CURLE_OK ||
         curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L) != CURLE_OK))
        goto out;
    if (o->user != NULL && (curl_easy_setopt(h, CURLOPT_USERNAME, o->user) != CURLE_OK ||
                            curl_easy_setopt(h, CURLOPT_PASSWORD, o->password) != CURLE_OK))
        goto out;
    cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        smtp_error(h, cc, o->timeout_ms, err, errlen);
        rc = SCEP_ERR_IO;
        goto out;
    }
    rc = 0;
out:
    curl_slist_free_all(rcpt);
    if (h != NULL)
        curl_easy_cleanup(h);
    return rc;
}
