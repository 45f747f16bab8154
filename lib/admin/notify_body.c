/*
 * The documents of expiry notifications (notify.h): the webhook's JSON
 * object for one certificate and the digest mail for one round.  Pure:
 * the time comes in as an argument, nothing is sent from here.
 */
#include "admin/notify.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include <scep/error.h>

/* The longest line of the mail body before it is cut (RFC 5322 2.1.1
 * allows 998 characters; the margin leaves room for the label). */
#define MAIL_LINE_MAX 900

/* A growing message buffer with a ceiling. */
struct mbuf {
    char *p;
    size_t len, cap;
    int failed;
};

/* The ceiling of one digest: SCEP_NOTIFY_MAIL_MAX_ITEMS lines of each
 * kind at MAIL_LINE_MAX, with room to spare. */
#define MAIL_MAX_BYTES ((size_t)SCEP_NOTIFY_MAIL_MAX_ITEMS * 8 * (MAIL_LINE_MAX + 32) + 8192)

/* Appends n bytes of s. */
static void mb_add(struct mbuf *b, const char *s, size_t n)
{
    char *np;
    size_t cap;

    if (b->failed)
        return;
    if (n > MAIL_MAX_BYTES - b->len) {
        b->failed = 1;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        cap = b->cap == 0 ? 4096 : b->cap;
        while (cap < b->len + n + 1)
            cap *= 2;
        if ((np = realloc(b->p, cap)) == NULL) {
            b->failed = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* Appends a string literal, its length counted by the compiler. */
#define MB_LIT(b, lit) mb_add((b), (lit), sizeof(lit) - 1)

static void mb_printf(struct mbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends formatted text (short pieces: headers, numbers). */
static void mb_printf(struct mbuf *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        b->failed = 1;
        return;
    }
    mb_add(b, tmp, (size_t)n);
}

/*
 * Appends "label: value" and CRLF, value being certificate text: control
 * characters (CR, LF, TAB and the rest) become spaces, so that nothing in
 * a subject can end the line, start a header or a lone "." line, and the
 * value is cut at MAIL_LINE_MAX bytes, on a UTF-8 character boundary.
 */
static void mb_line(struct mbuf *b, const char *label, const char *value)
{
    char line[MAIL_LINE_MAX + 4] = "";
    size_t i, n = 0;
    int cut;

    if (value == NULL)
        value = "";
    mb_printf(b, "  %s: ", label);
    for (i = 0; value[i] != '\0' && n < MAIL_LINE_MAX; i++) {
        unsigned char c = (unsigned char)value[i];

        line[n++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    cut = value[i] != '\0';
    /* When the cut split a character, drop its continuation bytes and
     * then its lead byte. */
    if (cut) {
        while (n > 0 && ((unsigned char)line[n - 1] & 0xc0) == 0x80)
            n--;
        if (n > 0 && ((unsigned char)line[n - 1] & 0x80))
            n--;
    }
    mb_add(b, line, n);
    MB_LIT(b, "\r\n");
}

/* "2026-12-03 07:00:00 UTC" for t. */
static void utc_text(int64_t t, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (gmtime_r(&tt, &tm) == NULL || strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
        snprintf(buf, len, "%lld", (long long)t);
}

/* "3 days 4 hours", "12 minutes", "40 seconds": the time left, roughly,
 * for a person. */
static void left_text(int64_t s, char *buf, size_t len)
{
    if (s < 0)
        s = 0;
    if (s >= 86400)
        snprintf(buf, len, "%lld days %lld hours", (long long)(s / 86400),
                 (long long)(s % 86400 / 3600));
    else if (s >= 3600)
        snprintf(buf, len, "%lld hours %lld minutes", (long long)(s / 3600),
                 (long long)(s % 3600 / 60));
    else if (s >= 60)
        snprintf(buf, len, "%lld minutes", (long long)(s / 60));
    else
        snprintf(buf, len, "%lld seconds", (long long)s);
}

/* A JSON string or null for NULL; NULL from jansson (not UTF-8, no memory)
 * is caught by the caller's json_object_set_new check. */
static json_t *str_or_null(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

/* The store's "DNS:a, IP:b" as a JSON array of "DNS:a", "IP:b".  NULL on
 * failure. */
static json_t *sans_array(const char *sans)
{
    json_t *a = json_array();
    const char *p = sans, *end;
    size_t n;

    if (a == NULL)
        return NULL;
    while (p != NULL && *p != '\0') {
        while (*p == ' ' || *p == ',')
            p++;
        end = p + strcspn(p, ",");
        n = (size_t)(end - p);
        while (n > 0 && p[n - 1] == ' ')
            n--;
        if (n > 0 && json_array_append_new(a, json_stringn(p, n)) != 0) {
            json_decref(a);
            return NULL;
        }
        p = end;
    }
    return a;
}

/* Builds the webhook document; see notify.h.  *body: free(). */
int scep_notify_webhook_body(const struct scep_notify_due *d, int64_t now, char **body, size_t *len)
{
    json_t *o = NULL;
    char id[160], thr[32];
    char *text = NULL;
    int64_t left;
    int rc = SCEP_ERR_INVALID_ARG, bad = 0;

    if (d == NULL || d->serial == NULL || body == NULL || len == NULL)
        return rc;
    left = d->not_after - now;
    snprintf(id, sizeof(id), "%s/%lld", d->serial, (long long)d->threshold);
    scep_notify_duration_text(d->threshold, thr, sizeof(thr));
    if ((o = json_object()) == NULL) {
        rc = SCEP_ERR_NOMEM;
        goto out;
    }
    /* json_object_set_new takes the value even when it fails; a NULL
     * value (a string that is not UTF-8) fails it. */
    bad |= json_object_set_new(o, "event", json_string("certificate-expiring"));
    bad |= json_object_set_new(o, "notice_id", json_string(id));
    bad |= json_object_set_new(o, "serial", json_string(d->serial));
    bad |= json_object_set_new(o, "subject", str_or_null(d->subject));
    bad |= json_object_set_new(o, "sans", sans_array(d->sans));
    bad |= json_object_set_new(o, "issuer", str_or_null(d->issuer));
    bad |= json_object_set_new(o, "issuer_fp", str_or_null(d->issuer_fp));
    bad |= json_object_set_new(o, "profile", str_or_null(d->profile));
    bad |= json_object_set_new(o, "not_before", json_integer(d->not_before));
    bad |= json_object_set_new(o, "not_after", json_integer(d->not_after));
    bad |= json_object_set_new(o, "days_left", json_integer(left > 0 ? left / 86400 : 0));
    bad |= json_object_set_new(o, "seconds_left", json_integer(left > 0 ? left : 0));
    bad |= json_object_set_new(o, "threshold", json_string(thr));
    bad |= json_object_set_new(o, "threshold_seconds", json_integer(d->threshold));
    bad |= json_object_set_new(o, "time", json_integer(now));
    if (bad)
        goto out;
    text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text == NULL) {
        rc = SCEP_ERR_NOMEM;
        goto out;
    }
    *len = strlen(text);
    *body = text;
    rc = 0;
out:
    json_decref(o);
    return rc;
}

/* 1 when s (may be NULL) holds no CR, LF or other control character: it
 * may go into a header as it is. */
static int header_safe(const char *s)
{
    for (; s != NULL && *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 0;
    return s != NULL;
}

/* Builds the digest mail; see notify.h.  *msg: free(). */
int scep_notify_mail(const struct scep_notify_mail_hdr *hdr, const struct scep_notify_due *items,
                     size_t n, int64_t now, char **msg, size_t *len)
{
    struct mbuf b = {NULL, 0, 0, 0};
    char date[64], when[64], left[64], thr[32];
    const char *domain;
    time_t tt = (time_t)now;
    struct tm tm;
    size_t i, shown;

    if (hdr == NULL || !header_safe(hdr->from) || !header_safe(hdr->to) ||
        !header_safe(hdr->msgid_key) || (items == NULL && n > 0) || msg == NULL || len == NULL)
        return SCEP_ERR_INVALID_ARG;
    /* RFC 5322 3.3 date-time, in UTC; strftime's %a and %b are the
     * English names only in the C locale, so they are spelled here. */
    {
        static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
        static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

        if (gmtime_r(&tt, &tm) == NULL)
            return SCEP_ERR_INVALID_ARG;
        snprintf(date, sizeof(date), "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday],
                 tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                 tm.tm_sec);
    }
    domain = strrchr(hdr->from, '@');
    domain = domain != NULL && domain[1] != '\0' ? domain + 1 : "localhost";
    shown = n < SCEP_NOTIFY_MAIL_MAX_ITEMS ? n : SCEP_NOTIFY_MAIL_MAX_ITEMS;

    mb_printf(&b, "Date: %s\r\n", date);
    mb_printf(&b, "From: %s\r\n", hdr->from);
    MB_LIT(&b, "To: ");
    mb_add(&b, hdr->to, strlen(hdr->to));
    MB_LIT(&b, "\r\n");
    mb_printf(&b, "Subject: scepd: %zu certificate%s expiring soon\r\n", n, n == 1 ? "" : "s");
    /* The key is the claimer (host:pid:random) and the round's time; ':'
     * is not allowed in a dot-atom, so it becomes '.'. */
    MB_LIT(&b, "Message-ID: <");
    for (i = 0; hdr->msgid_key[i] != '\0'; i++) {
        char c = hdr->msgid_key[i];

        c = (c == ':' || c == ' ' || c == '@' || c == '<' || c == '>') ? '.' : c;
        mb_add(&b, &c, 1);
    }
    mb_printf(&b, ".%lld@%s>\r\n", (long long)now, domain);
    MB_LIT(&b, "MIME-Version: 1.0\r\n");
    MB_LIT(&b, "Content-Type: text/plain; charset=UTF-8\r\n");
    MB_LIT(&b, "Content-Transfer-Encoding: 8bit\r\n");
    MB_LIT(&b, "Auto-Submitted: auto-generated\r\n");
    MB_LIT(&b, "\r\n");

    utc_text(now, when, sizeof(when));
    mb_printf(&b, "These certificates expire soon (as of %s):\r\n\r\n", when);
    for (i = 0; i < shown; i++) {
        const struct scep_notify_due *d = &items[i];

        utc_text(d->not_after, when, sizeof(when));
        left_text(d->not_after - now, left, sizeof(left));
        scep_notify_duration_text(d->threshold, thr, sizeof(thr));
        mb_printf(&b, "%zu. serial %s\r\n", i + 1, d->serial != NULL ? d->serial : "?");
        mb_line(&b, "subject", d->subject);
        if (d->sans != NULL && d->sans[0] != '\0')
            mb_line(&b, "SANs", d->sans);
        mb_line(&b, "issuer", d->issuer != NULL ? d->issuer : "(unknown)");
        if (d->profile != NULL)
            mb_line(&b, "profile", d->profile[0] != '\0' ? d->profile : "(default)");
        mb_printf(&b, "  expires: %s (in %s; threshold %s)\r\n\r\n", when, left, thr);
    }
    if (shown < n)
        mb_printf(&b, "... and %zu more.\r\n\r\n", n - shown);
    MB_LIT(&b, "-- \r\nscepd expiry notifications\r\n");
    if (b.failed) {
        free(b.p);
        return SCEP_ERR_NOMEM;
    }
    *msg = b.p;
    *len = b.len;
    return 0;
}
