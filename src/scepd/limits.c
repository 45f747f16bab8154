/*
 * scepd's rate limits (limits.h): two lib/policy token-bucket tables and
 * the keys requests are counted under.  An address is reduced to the
 * host a client cannot vary cheaply: the port goes, an IPv4-mapped IPv6
 * address becomes its IPv4 address, an IPv6 address becomes its /64.
 * A challenge is counted under its SHA-256, so that no secret sits in
 * the table.
 */
#include "limits.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <scep/error.h>

#include "common/server_limits.h"
#include "policy/ratelimit.h"

struct scepd_limits {
    struct scep_ratelimit *addr; /* NULL: off */
    struct scep_ratelimit *chal; /* NULL: off */
    struct scep_ratelimit *auth; /* failed admin API authentications; NULL: off */
};

/* One table, or NULL (*out) when rate is off.  Returns 0 or SCEP_ERR_*. */
static int limit_new(double rate, int burst, size_t max_keys, struct scep_ratelimit **out)
{
    if (!(rate > 0))
        return 0;
    if (burst < 1)
        return SCEP_ERR_INVALID_ARG;
    return scep_ratelimit_new(rate, (unsigned)burst, max_keys, out);
}

/* Makes both limits (see limits.h).  *out: scepd_limits_free(). */
int scepd_limits_new(double addr_rate, int addr_burst, double chal_rate, int chal_burst,
                     struct scepd_limits **out)
{
    struct scepd_limits *l = NULL;
    int rc = SCEP_ERR_INVALID_ARG;

    if (out == NULL)
        goto out;
    rc = SCEP_ERR_NOMEM;
    if ((l = calloc(1, sizeof(*l))) == NULL)
        goto out;
    if ((rc = limit_new(addr_rate, addr_burst, SCEP_RATE_MAX_ADDRESSES, &l->addr)) != 0 ||
        (rc = limit_new(chal_rate, chal_burst, SCEP_RATE_MAX_CHALLENGES, &l->chal)) != 0)
        goto out;
    *out = l;
    l = NULL;
    rc = 0;
out:
    scepd_limits_free(l);
    return rc;
}

/* Frees l.  Accepts NULL. */
void scepd_limits_free(struct scepd_limits *l)
{
    if (l == NULL)
        return;
    scep_ratelimit_free(l->addr);
    scep_ratelimit_free(l->chal);
    scep_ratelimit_free(l->auth);
    free(l);
}

/* Copies the host part of peer (no brackets, no port, no zone) into
 * host.  Returns 0, or -1 when it does not fit or is empty. */
static int peer_host(const char *peer, char *host, size_t cap)
{
    const char *start = peer, *end, *colon;
    size_t n;

    if (peer[0] == '[') {
        /* "[V6]" or "[V6]:PORT" */
        start = peer + 1;
        if ((end = strchr(start, ']')) == NULL)
            return -1;
    } else if ((colon = strchr(peer, ':')) != NULL && strchr(colon + 1, ':') == NULL) {
        /* exactly one colon: "V4:PORT" (a bare IPv6 address has two or more) */
        end = colon;
    } else {
        end = peer + strlen(peer);
    }
    /* A zone ("fe80::1%eth0") names our interface, not the client. */
    if ((colon = memchr(start, '%', (size_t)(end - start))) != NULL)
        end = colon;
    n = (size_t)(end - start);
    if (n == 0 || n >= cap)
        return -1;
    memcpy(host, start, n);
    host[n] = '\0';
    return 0;
}

/* The key peer is counted under (see limits.h).  Returns 0 or -1. */
int scepd_limits_address_key(const char *peer, char *out, size_t outlen)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    unsigned char a[16];
    char host[INET6_ADDRSTRLEN + 16];
    size_t n;

    if (peer == NULL || out == NULL || peer_host(peer, host, sizeof(host)) != 0)
        return -1;
    if (inet_pton(AF_INET6, host, a) == 1) {
        if (memcmp(a, mapped, sizeof(mapped)) == 0) {
            if (inet_ntop(AF_INET, a + 12, out, (socklen_t)outlen) == NULL)
                return -1;
            return 0;
        }
        /* The /64: a host chooses its interface identifier freely. */
        memset(a + 8, 0, 8);
        if (inet_ntop(AF_INET6, a, out, (socklen_t)outlen) == NULL)
            return -1;
        n = strlen(out);
        if (n + 4 > outlen)
            return -1;
        memcpy(out + n, "/64", 4);
        return 0;
    }
    if (inet_pton(AF_INET, host, a) == 1)
        return inet_ntop(AF_INET, a, out, (socklen_t)outlen) != NULL ? 0 : -1;
    /* Not an address (a Unix socket name, say): counted as given. */
    n = strlen(host);
    if (n >= outlen)
        return -1;
    memcpy(out, host, n + 1);
    return 0;
}

/* One token for peer's host.  Returns 1 (allowed) or 0. */
int scepd_limits_check_address(struct scepd_limits *l, const char *peer, long *retry_after)
{
    char key[INET6_ADDRSTRLEN + 16];

    if (l == NULL || l->addr == NULL)
        return 1;
    /* An address we cannot read is not limited: every client would
     * share its bucket, and the listener accepted the connection. */
    if (scepd_limits_address_key(peer, key, sizeof(key)) != 0)
        return 1;
    return scep_ratelimit_take(l->addr, key, scep_ratelimit_now(), retry_after);
}

/* Adds the failed-authentication table (see limits.h). */
int scepd_limits_set_auth(struct scepd_limits *l, double rate, int burst)
{
    if (l == NULL || l->auth != NULL)
        return SCEP_ERR_INVALID_ARG;
    return limit_new(rate, burst, SCEP_RATE_MAX_ADDRESSES, &l->auth);
}

/* The key of peer in the auth table into key; 0, or -1 when unlimited. */
static int auth_key(struct scepd_limits *l, const char *peer, char *key, size_t len)
{
    if (l == NULL || l->auth == NULL)
        return -1;
    return scepd_limits_address_key(peer, key, len);
}

/* Whether peer may try to authenticate now (see limits.h). */
int scepd_limits_auth_allowed(struct scepd_limits *l, const char *peer, long *retry_after)
{
    char key[INET6_ADDRSTRLEN + 16];

    if (auth_key(l, peer, key, sizeof(key)) != 0)
        return 1;
    return scep_ratelimit_peek(l->auth, key, scep_ratelimit_now(), retry_after);
}

/* Counts a failed authentication of peer (see limits.h). */
int scepd_limits_auth_failed(struct scepd_limits *l, const char *peer, long *retry_after)
{
    char key[INET6_ADDRSTRLEN + 16];

    if (auth_key(l, peer, key, sizeof(key)) != 0)
        return 1;
    return scep_ratelimit_take(l->auth, key, scep_ratelimit_now(), retry_after);
}

/* The challenge table, which the SCEP service takes its tokens from. */
struct scep_ratelimit *scepd_limits_challenge(const struct scepd_limits *l)
{
    return l != NULL ? l->chal : NULL;
}
