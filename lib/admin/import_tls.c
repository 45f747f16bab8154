/*
 * Fetching the certificate chain a TLS endpoint serves, for the
 * inventory (scep_admin_import_tls in import.c stores it).  One TCP
 * connection per endpoint, one handshake, the peer's chain copied out,
 * the connection closed.  Nothing is verified, on purpose: the
 * inventory records what is served (an expired or self-signed
 * certificate is exactly what expiry monitoring must see), it does not
 * trust it, and no application data is exchanged.
 *
 * The peer's bytes are parsed by OpenSSL's handshake code only, with
 * its Certificate message bounded (SSL_CTX_set_max_cert_list) and the
 * chain cut at SCEP_ADMIN_TLS_CHAIN_MAX.  A deadline covers name
 * resolution's result, the connect and the handshake: the socket is
 * non-blocking and every wait is a poll() on what is left of it.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <scep/error.h>

#include "admin/admin.h"

/* Longest host name (RFC 1035 2.3.4) and a port. */
#define TLS_HOST_MAX 253
#define TLS_PORT_MAX 5

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Splits "host:port" or "[v6]:port" into host (hlen bytes) and port
 * (plen bytes).  *literal is set for an IP address, which gets no SNI
 * (RFC 6066 3: "Literal IPv4 and IPv6 addresses are not permitted").
 * 0 or SCEP_ERR_INVALID_ARG.
 */
static int split_hostport(const char *hp, char *host, size_t hlen, char *port, size_t plen,
                          int *literal)
{
    const char *colon, *h = hp;
    size_t n;
    unsigned char addr[16];

    if (hp[0] == '[') {
        const char *end = strchr(hp, ']');
        if (end == NULL || end[1] != ':')
            return SCEP_ERR_INVALID_ARG;
        h = hp + 1;
        n = (size_t)(end - h);
        colon = end + 1;
    } else {
        colon = strrchr(hp, ':');
        if (colon == NULL || memchr(hp, ':', (size_t)(colon - hp)) != NULL)
            return SCEP_ERR_INVALID_ARG; /* an IPv6 address needs brackets */
        n = (size_t)(colon - hp);
    }
    if (n == 0 || n >= hlen || n > TLS_HOST_MAX)
        return SCEP_ERR_INVALID_ARG;
    memcpy(host, h, n);
    host[n] = '\0';
    n = strlen(colon + 1);
    if (n == 0 || n > TLS_PORT_MAX || n >= plen || strspn(colon + 1, "0123456789") != n)
        return SCEP_ERR_INVALID_ARG;
    memcpy(port, colon + 1, n + 1);
    if (strtol(port, NULL, 10) < 1 || strtol(port, NULL, 10) > 65535)
        return SCEP_ERR_INVALID_ARG;
    *literal = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
    return 0;
}

/* Waits until fd is ready for events or the deadline passes.  0,
 * SCEP_ERR_IO (timed out: why says so). */
static int wait_fd(int fd, short events, int64_t deadline, char *why, size_t whylen)
{
    struct pollfd pfd;
    int64_t left;
    int n;

    for (;;) {
        left = deadline - mono_ms();
        if (left <= 0) {
            snprintf(why, whylen, "timed out");
            return SCEP_ERR_IO;
        }
        pfd.fd = fd;
        pfd.events = events;
        pfd.revents = 0;
        n = poll(&pfd, 1, (int)left);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR) {
            snprintf(why, whylen, "poll: %s", strerror(errno));
            return SCEP_ERR_IO;
        }
    }
}

/* Connects a non-blocking socket to host:port before deadline.  *fd:
 * close().  0, SCEP_ERR_NOT_FOUND or SCEP_ERR_IO with why. */
static int tcp_connect(const char *host, const char *port, int64_t deadline, int *fd_out, char *why,
                       size_t whylen)
{
    struct addrinfo hints, *res = NULL, *ai;
    int fd = -1, rc = SCEP_ERR_IO, err, gai;
    socklen_t elen;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG;
    gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0) {
        snprintf(why, whylen, "%s: %s", host, gai_strerror(gai));
        return SCEP_ERR_NOT_FOUND;
    }
    snprintf(why, whylen, "no address");
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            snprintf(why, whylen, "socket: %s", strerror(errno));
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        if (errno == EINPROGRESS && wait_fd(fd, POLLOUT, deadline, why, whylen) == 0) {
            err = 0;
            elen = sizeof(err);
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0 && err == 0)
                break;
            snprintf(why, whylen, "connect: %s", strerror(err != 0 ? err : errno));
        } else if (errno != EINPROGRESS) {
            snprintf(why, whylen, "connect: %s", strerror(errno));
        }
        close(fd);
        fd = -1;
    }
    if (fd < 0)
        goto out;
    *fd_out = fd;
    rc = 0;
out:
    freeaddrinfo(res);
    return rc;
}

/* The first OpenSSL error as text into why, or fallback. */
static void ssl_why(char *why, size_t whylen, const char *fallback)
{
    unsigned long e = ERR_get_error();
    char buf[160];

    if (e != 0) {
        ERR_error_string_n(e, buf, sizeof(buf));
        snprintf(why, whylen, "TLS handshake: %s", buf);
    } else {
        snprintf(why, whylen, "%s", fallback);
    }
    ERR_clear_error();
}

int scep_admin_tls_chain(const char *hostport, int timeout_ms, STACK_OF(X509) **out, char *why,
                         size_t whylen)
{
    char host[TLS_HOST_MAX + 1], port[TLS_PORT_MAX + 1];
    SSL_CTX *ctx = NULL;
    SSL *ssl = NULL;
    STACK_OF(X509) *chain, *sk = NULL;
    X509 *x;
    int64_t deadline;
    int fd = -1, literal = 0, rc, r, i, n;

    if (why == NULL)
        whylen = 0;
    if (whylen > 0)
        why[0] = '\0';
    if (hostport == NULL || out == NULL || timeout_ms < 0 ||
        timeout_ms > SCEP_ADMIN_TLS_TIMEOUT_CEILING)
        return SCEP_ERR_INVALID_ARG;
    if (split_hostport(hostport, host, sizeof(host), port, sizeof(port), &literal) != 0) {
        snprintf(why, whylen, "expected HOST:PORT or [IPv6]:PORT");
        return SCEP_ERR_INVALID_ARG;
    }
    deadline = mono_ms() + (timeout_ms > 0 ? timeout_ms : SCEP_ADMIN_TLS_TIMEOUT_MS);
    rc = tcp_connect(host, port, deadline, &fd, why, whylen);
    if (rc != 0)
        goto out;
    rc = SCEP_ERR_IO;
    ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        ssl_why(why, whylen, "cannot make a TLS context");
        goto out;
    }
    /* No verification: see the top of the file.  The chain is what the
     * server sent, whoever signed it. */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_max_cert_list(ctx, SCEP_ADMIN_TLS_CERT_LIST);
    /* Security level 0 and any protocol version OpenSSL still has: an
     * endpoint with a 1024-bit key, a SHA-1 signature or only TLS 1.0 is
     * exactly what an inventory must find, and no data is protected by
     * this handshake. */
    SSL_CTX_set_security_level(ctx, 0);
    (void)SSL_CTX_set_min_proto_version(ctx, 0);
    ssl = SSL_new(ctx);
    if (ssl == NULL || SSL_set_fd(ssl, fd) != 1 ||
        (!literal && SSL_set_tlsext_host_name(ssl, host) != 1)) {
        ssl_why(why, whylen, "cannot set up the TLS connection");
        goto out;
    }
    for (;;) {
        r = SSL_connect(ssl);
        if (r == 1)
            break;
        switch (SSL_get_error(ssl, r)) {
        case SSL_ERROR_WANT_READ:
            if (wait_fd(fd, POLLIN, deadline, why, whylen) != 0)
                goto out;
            continue;
        case SSL_ERROR_WANT_WRITE:
            if (wait_fd(fd, POLLOUT, deadline, why, whylen) != 0)
                goto out;
            continue;
        default:
            ssl_why(why, whylen, "TLS handshake failed (connection closed?)");
            goto out;
        }
    }
    /* On the client side the peer chain includes the leaf (SSL_get_peer_cert_chain(3)). */
    chain = SSL_get_peer_cert_chain(ssl);
    n = chain != NULL ? sk_X509_num(chain) : 0;
    if (n == 0) {
        snprintf(why, whylen, "the server sent no certificate");
        goto out;
    }
    sk = sk_X509_new_null();
    if (sk == NULL) {
        rc = SCEP_ERR_NOMEM;
        goto out;
    }
    for (i = 0; i < n && i < SCEP_ADMIN_TLS_CHAIN_MAX; i++) {
        x = sk_X509_value(chain, i);
        if (X509_up_ref(x) != 1) {
            rc = SCEP_ERR_NOMEM;
            goto out;
        }
        if (sk_X509_push(sk, x) == 0) {
            X509_free(x); /* the reference just taken */
            rc = SCEP_ERR_NOMEM;
            goto out;
        }
    }
    /* A courteous close; its answer does not matter. */
    (void)SSL_shutdown(ssl);
    *out = sk;
    sk = NULL;
    rc = 0;
out:
    sk_X509_pop_free(sk, X509_free);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    if (fd >= 0)
        close(fd);
    ERR_clear_error();
    return rc;
}
