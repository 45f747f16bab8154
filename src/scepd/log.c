/*
 * scepd's log: logfmt lines on stderr ("time=... level=info msg=request
 * key=value ...").  A line is built in a fixed buffer and written with a
 * single write(2), so lines from worker threads never interleave.  Values
 * are quoted when they hold spaces, quotes, '=' or control bytes, and
 * anything not printable ASCII is escaped, so bytes a client chose (a
 * transaction id, a path) cannot forge a line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "scepd.h"

/* Written once by main before workers start; read-only afterwards. */
static int log_min_level = SCEPD_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

/* Sets the least severe level written.  Returns 0, or -1 for an unknown name. */
int scepd_log_set_level(const char *name)
{
    int i;

    for (i = 0; i < 4; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            log_min_level = i;
            return 0;
        }
    }
    return -1;
}

/* Returns 1 when lines of level are written. */
int scepd_log_enabled(int level)
{
    return level >= log_min_level;
}

static void log_append(struct scepd_logline *l, const char *s, size_t n)
{
    /* Keep one byte for the final newline. */
    size_t room = sizeof(l->buf) - 1 - l->len;

    if (n > room) {
        n = room;
        l->truncated = 1;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void log_append_c(struct scepd_logline *l, char c)
{
    log_append(l, &c, 1);
}

/* Starts a line with time (UTC, milliseconds), level and msg. */
void scepd_log_begin(struct scepd_logline *l, int level, const char *msg)
{
    struct timespec ts;
    struct tm tm;
    char t[64];
    int n;

    l->len = 0;
    l->truncated = 0;
    l->level = level;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = snprintf(t, sizeof(t), "time=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    if (n > 0)
        log_append(l, t, (size_t)n < sizeof(t) ? (size_t)n : sizeof(t) - 1);
    scepd_log_str(l, "level", level_names[level >= 0 && level < 4 ? level : 1]);
    scepd_log_str(l, "msg", msg);
}

/* Bytes left in l before the final newline. */
static size_t log_room(const struct scepd_logline *l)
{
    return sizeof(l->buf) - 1 - l->len;
}

/*
 * Appends key=value for len bytes of value, quoted and escaped as needed.
 * A value that does not fit is cut between two whole characters or
 * escapes and its closing quote kept, so that a long hostile value can
 * shorten the line but never leave it unparsable; a pair without room
 * for even its key is dropped.
 */
void scepd_log_mem(struct scepd_logline *l, const char *key, const char *value, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t klen = strlen(key);
    int quote = len == 0;
    size_t i;

    for (i = 0; i < len && !quote; i++) {
        unsigned char c = (unsigned char)value[i];

        if (c <= ' ' || c >= 0x7f || c == '"' || c == '=' || c == '\\')
            quote = 1;
    }
    /* " key=" and, when quoted, both quotes. */
    if (log_room(l) < klen + 2 + (quote ? 2 : 0)) {
        l->truncated = 1;
        return;
    }
    log_append_c(l, ' ');
    log_append(l, key, klen);
    log_append_c(l, '=');
    if (quote)
        log_append_c(l, '"');
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)value[i];
        char esc[4];
        size_t n;

        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            n = 2;
        } else if (c < ' ' || c >= 0x7f) {
            esc[0] = '\\';
            esc[1] = 'x';
            esc[2] = hex[c >> 4];
            esc[3] = hex[c & 15];
            n = 4;
        } else {
            esc[0] = (char)c;
            n = 1;
        }
        if (log_room(l) < n + (quote ? 1 : 0)) {
            l->truncated = 1;
            break;
        }
        log_append(l, esc, n);
    }
    if (quote)
        log_append_c(l, '"');
}

/* Appends key=value; a NULL value is logged empty. */
void scepd_log_str(struct scepd_logline *l, const char *key, const char *value)
{
    if (value == NULL)
        value = "";
    scepd_log_mem(l, key, value, strlen(value));
}

void scepd_log_int(struct scepd_logline *l, const char *key, long long value)
{
    char v[32];

    snprintf(v, sizeof(v), "%lld", value);
    scepd_log_str(l, key, v);
}

void scepd_log_double(struct scepd_logline *l, const char *key, double value)
{
    char v[48];

    snprintf(v, sizeof(v), "%.1f", value);
    scepd_log_str(l, key, v);
}

/* Ends the line and writes it in one write(2) (stderr is unbuffered
 * anyway, but stdio may split a long line into several writes). */
void scepd_log_end(struct scepd_logline *l)
{
    size_t off = 0;

    if (!scepd_log_enabled(l->level))
        return;
    l->buf[l->len++] = '\n';
    while (off < l->len) {
        ssize_t w = write(STDERR_FILENO, l->buf + off, l->len - off);

        if (w <= 0)
            break;
        off += (size_t)w;
    }
}

/* Writes one line: msg and then key/value string pairs up to a NULL key. */
void scepd_log(int level, const char *msg, ...)
{
    struct scepd_logline l;
    const char *k;
    va_list ap;

    if (!scepd_log_enabled(level))
        return;
    scepd_log_begin(&l, level, msg);
    va_start(ap, msg);
    while ((k = va_arg(ap, const char *)) != NULL)
        scepd_log_str(&l, k, va_arg(ap, const char *));
    va_end(ap);
    scepd_log_end(&l);
}
