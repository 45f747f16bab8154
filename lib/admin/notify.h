/*
 * Expiry notifications (issue 8): which certificates are due for a
 * notice at a given time, the claim on each notice in the store before
 * it is sent, the documents sent (a signed JSON body per certificate
 * for the webhook, one digest mail per run), and the record of each
 * outcome with a capped exponential backoff for retries.
 *
 * Everything here takes its time as an argument and does no network
 * I/O: the sending is a struct scep_notify_transport the caller hands
 * in (scepd's notify thread passes libcurl's blocking webhook POST and
 * SMTP sender; unit tests pass fakes), so the whole round can be run
 * with a fixed `now`.  notify.c holds the selection and the round,
 * notify_body.c the documents.
 *
 * Thresholds are durations before not_after (30, 7 and 1 days by
 * default).  At `now`, a certificate is due for the smallest threshold
 * it has crossed (not_after - now <= threshold); the larger ones it
 * crossed while nobody looked are not announced late, since the smaller
 * one says more.  Each (certificate, threshold, channel) is one notice,
 * claimed once in the store (store.h, "Expiry notices"): several scepd
 * nodes sharing one database send it once between them.
 */
#ifndef SCEP_ADMIN_NOTIFY_H
#define SCEP_ADMIN_NOTIFY_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* Most thresholds one configuration may list. */
#define SCEP_NOTIFY_MAX_THRESHOLDS 8
/* Longest threshold accepted: ten years, in seconds. */
#define SCEP_NOTIFY_MAX_THRESHOLD (3650LL * 86400)
/* How long a claim holds before another node may take a notice over (its
 * claimer died or hung between claim and outcome): longer than any
 * round's sending, which the transports' timeouts bound. */
#define SCEP_NOTIFY_LEASE_SECONDS 900
/* The longest wait between retries of a failed notice. */
#define SCEP_NOTIFY_RETRY_MAX_SECONDS (6 * 3600)
/* Most certificates one digest mail lists; more are counted in a last
 * line and wait for the next round. */
#define SCEP_NOTIFY_MAIL_MAX_ITEMS 500

/* The channels, as stored in the notices table. */
#define SCEP_NOTIFY_CHANNEL_WEBHOOK "webhook"
#define SCEP_NOTIFY_CHANNEL_EMAIL "email"

/*
 * Parses a duration: a positive integer with an optional unit, d (days,
 * also the unit of a bare number), h, m (minutes) or s, e.g. "30", "7d",
 * "12h", "2m", "20s".  *out: seconds.  Returns 0 or SCEP_ERR_INVALID_ARG
 * (also beyond SCEP_NOTIFY_MAX_THRESHOLD).
 */
int scep_notify_parse_duration(const char *text, int64_t *out);

/*
 * Parses a threshold list, durations separated by commas ("30,7,1",
 * "20s, 10s"), into out (max entries), largest first; *n: how many.
 * Duplicates, an empty list and more than max are refused.  Returns 0
 * or SCEP_ERR_INVALID_ARG with err (errlen bytes) saying why.
 */
int scep_notify_parse_thresholds(const char *text, int64_t *out, size_t max, size_t *n, char *err,
                                 size_t errlen);

/* Writes a duration in its shortest exact unit ("30d", "12h", "2m",
 * "20s") into buf (len bytes).  Returns buf. */
const char *scep_notify_duration_text(int64_t seconds, char *buf, size_t len);

/* One certificate due for a notice.  Owned by its struct scep_notify_list. */
struct scep_notify_due {
    char *serial;
    char *subject;   /* RFC 2253 */
    char *sans;      /* the store's "DNS:a, IP:b" form, NULL: none */
    char *issuer;    /* RFC 2253 issuer name from the certificate, NULL if unreadable */
    char *issuer_fp; /* hex SHA-256 of the issuing CA, NULL: unknown */
    char *profile;   /* enrollment profile if known ("" the default one), NULL: unknown */
    int64_t not_before;
    int64_t not_after;
    int64_t threshold; /* the smallest threshold crossed, seconds; 0: none crossed */
};

/* A list of due certificates; clear with scep_notify_list_clear(). */
struct scep_notify_list {
    struct scep_notify_due *items;
    size_t n;
};

/*
 * Lists the certificates the store's expiry query (scep_store_list_expiring)
 * returns for (now, now + within], soonest first, each with the smallest
 * of the n thresholds (largest first, as parsed) it has crossed at now,
 * or 0.  The notify round asks with within = thresholds[0], so every item
 * has one; "scepctl expiring" asks with its own window.  Returns 0 with
 * *out filled (scep_notify_list_clear() frees it), or a negative
 * SCEP_ERR_*.
 */
int scep_admin_notify_due(struct scep_store *st, int64_t now, int64_t within,
                          const int64_t *thresholds, size_t n, struct scep_notify_list *out);

/* Frees the items of l and empties it.  Accepts NULL. */
void scep_notify_list_clear(struct scep_notify_list *l);

/*
 * The webhook document for one due certificate at now (notify_body.c): a
 * compact JSON object {"event": "certificate-expiring", "notice_id":
 * "SERIAL/THRESHOLD", serial, subject, sans [array], issuer, issuer_fp,
 * profile, not_before, not_after (Unix seconds), days_left (whole days
 * left, rounded down), seconds_left, threshold ("7d"), threshold_seconds,
 * time}; unknowns are null.  notice_id is the same on every attempt, so
 * a receiver can recognise a repeat (see scep_admin_notify_run).
 * Returns 0 with *body (NUL-terminated, *len bytes; free()), or
 * SCEP_ERR_INVALID_ARG (a string not UTF-8) / SCEP_ERR_NOMEM.
 */
int scep_notify_webhook_body(const struct scep_notify_due *d, int64_t now, char **body,
                             size_t *len);

/* The headers of a digest mail.  All borrowed. */
struct scep_notify_mail_hdr {
    const char *from;      /* "scepd@ca.example" (no CR or LF: checked by the config) */
    const char *to;        /* comma-separated addresses, as the To: header shows them */
    const char *msgid_key; /* unique to this message, e.g. claimer and round; for Message-ID */
};

/*
 * The digest mail for items[0..n) at now (notify_body.c): an RFC 5322
 * message with Date, From, To, Subject, Message-ID (<KEY.NOW@DOMAIN>,
 * DOMAIN from the From address), MIME-Version and a UTF-8 text/plain
 * body listing each certificate (serial, subject, SANs, issuer, profile,
 * not_after as UTC date, time left, threshold), at most
 * SCEP_NOTIFY_MAIL_MAX_ITEMS of them.  Lines end in CRLF and are cut
 * below RFC 5322's 998 characters; control characters in certificate
 * text become spaces, so no value can start a header or a line of its
 * own.  Returns 0 with *msg (NUL-terminated, *len bytes; free()), or
 * SCEP_ERR_INVALID_ARG / SCEP_ERR_NOMEM.
 */
int scep_notify_mail(const struct scep_notify_mail_hdr *hdr, const struct scep_notify_due *items,
                     size_t n, int64_t now, char **msg, size_t *len);

/*
 * How a round sends.  Each function returns 0 when the receiver took the
 * document (webhook: an HTTP 2xx; mail: the SMTP server accepted it),
 * else non-zero with err (errlen bytes) saying why, in the transports'
 * words ("timed out after 5000 ms", "connection refused").  arg is
 * passed through.  A NULL function turns its channel off.
 */
struct scep_notify_transport {
    int (*webhook)(void *arg, const char *body, size_t len, const char *signature, char *err,
                   size_t errlen);
    int (*mail)(void *arg, const char *msg, size_t len, char *err, size_t errlen);
    void *arg;
};

/* What a round needs to know.  All borrowed. */
struct scep_notify_config {
    const int64_t *thresholds; /* largest first (scep_notify_parse_thresholds) */
    size_t nthresholds;
    const unsigned char *webhook_secret; /* HMAC key of X-Scepd-Signature */
    size_t webhook_secret_len;
    const char *mail_from;
    const char *mail_to;
    const char *claimer;    /* unique to the process: "host:pid:random" */
    int64_t retry_base;     /* seconds before the first retry; doubled each time */
    int64_t retry_max;      /* the cap, <= SCEP_NOTIFY_RETRY_MAX_SECONDS usually */
    const atomic_int *stop; /* may be NULL; when set, the round ends after the send under way */
};

/* What a round did. */
struct scep_notify_report {
    size_t due;     /* certificates due at now */
    size_t claimed; /* notices this round claimed */
    size_t sent;    /* of those, delivered */
    size_t failed;  /* of those, failed (retried later) */
    size_t pending; /* due notices not delivered yet at the end of the round, anyone's */
    size_t mails;   /* digest mails sent */
};

/*
 * One round at now: lists what is due (scep_admin_notify_due with
 * within = the largest threshold), and for each channel the transport
 * has, claims each due notice (store.h) before sending it.  The webhook
 * gets one signed POST per claimed notice; the mail channel one digest
 * of every notice claimed this round (new ones and retries). Each
 * outcome is recorded under the claim: sent, or failed with the next
 * attempt retry_base * 2^(attempt-1) seconds on (at most retry_max).  A
 * notice recorded sent is never claimed again, so never sent twice; the
 * one case a receiver may see a notice again is a node that dies after
 * sending and before recording, whose claim another node takes over
 * after SCEP_NOTIFY_LEASE_SECONDS (notice_id tells the receiver).  With
 * stop set, claims already made this round are recorded failed and due
 * at once, so that the next start sends them without waiting for the
 * lease.  Returns 0 with *rep filled (may be NULL), or the store's
 * failure (what was recorded stays recorded).
 */
int scep_admin_notify_run(struct scep_store *st, const struct scep_notify_config *cfg,
                          const struct scep_notify_transport *tx, int64_t now,
                          struct scep_notify_report *rep);

#endif
