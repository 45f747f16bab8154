/*
 * A blocking SMTP sender (libcurl) for scepd's expiry digests (issue 8),
 * beside the blocking webhook transport (webhook_http.c): one message
 * handed to one server per call, for a caller that has a thread of its
 * own to block (scepd's notify thread), never for a worker.
 */
#ifndef SCEP_POLICY_SMTP_H
#define SCEP_POLICY_SMTP_H

#include <stdatomic.h>
#include <stddef.h>

/* Most recipients of one message. */
#define SCEP_SMTP_MAX_RCPT 32

/* Where and how to send.  All borrowed. */
struct scep_smtp_opts {
    const char *url;        /* smtp://HOST[:PORT] (STARTTLS when offered) or smtps:// (TLS) */
    const char *from;       /* envelope sender, a bare address */
    const char *to;         /* recipients, bare addresses separated by commas */
    const char *user;       /* NULL: no AUTH */
    const char *password;   /* with user */
    long timeout_ms;        /* the whole exchange */
    const atomic_int *stop; /* may be NULL; when set, the exchange ends within about a second */
};

/*
 * 1 when s is a bare mail address as this sender takes it: local@domain,
 * printable ASCII, no space, comma, angle bracket, quote or control
 * character (so that it can go into MAIL FROM, RCPT TO and a header as it
 * is), at most 254 bytes.
 */
int scep_smtp_address_ok(const char *s, size_t len);

/*
 * Sends msg (len bytes, a whole RFC 5322 message with CRLF line ends)
 * through o->url: MAIL FROM o->from, RCPT TO each of o->to, DATA.  With
 * smtp:// the session is upgraded with STARTTLS when the server offers
 * it (CURLUSESSL_TRY: a server without it still gets the mail, in the
 * clear, as the URL asked); smtps:// is TLS from the start.  The
 * server's certificate is verified when TLS is used.  Lines starting
 * with "." are escaped by libcurl.  Returns 0 when the server accepted
 * the message; SCEP_ERR_IO with err (errlen bytes) saying why it did
 * not, in the words of the webhook transports ("timed out after 5000
 * ms", "connection refused", "server said 550"); SCEP_ERR_INVALID_ARG or
 * SCEP_ERR_NOMEM.  Thread-safe once curl_global_init() has run.
 */
int scep_smtp_send_blocking(const struct scep_smtp_opts *o, const char *msg, size_t len, char *err,
                            size_t errlen);

#endif
