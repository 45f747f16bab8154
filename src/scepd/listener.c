/*
 * scepd's listeners (see listener.h): the listening socket of one
 * address and, for TLS, the SSL_CTX every worker's connections are made
 * from.  Everything that can be wrong with a TLS configuration (a missing
 * or unreadable file, a key that is not the certificate's, a bad client
 * CA file) is found here, before the server starts, and reported in one
 * line naming the key and the file.
 */
#include "listener.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

/* Pending connections the kernel queues for us. */
#define LISTENER_BACKLOG 1024

struct scepd_listener {
    char name[32];
    int fd;
    char host[256];
    int port;
    int wildcard;
    SSL_CTX *ssl_ctx;
    const struct scepd_router *routes;
};

static void listener_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void listener_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* The last OpenSSL error as words (the queue is emptied), for messages. */
static void listener_ssl_reason(char *buf, size_t len)
{
    unsigned long e = ERR_peek_last_error();

    if (e == 0)
        snprintf(buf, len, "unknown OpenSSL error");
    else
        ERR_error_string_n(e, buf, len);
    ERR_clear_error();
}

/*
 * Splits "HOST:PORT" / "[V6]:PORT" (already checked by the config) into
 * host (empty: any address) and port.
 */
static int listener_split(const char *listen, char *host, size_t hostlen, char *port,
                          size_t portlen)
{
    const char *colon;
    const char *h = listen;
    size_t hlen;

    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');

        if (close == NULL || close[1] != ':')
            return -1;
        h = listen + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(listen, ':');
        if (colon == NULL)
            return -1;
        hlen = (size_t)(colon - listen);
    }
    if (hlen >= hostlen || strlen(colon + 1) >= portlen)
        return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    memcpy(port, colon + 1, strlen(colon + 1) + 1);
    return 0;
}

/* Opens, binds and listens on lc->address; fills l->fd, host, port. */
static int listener_bind(struct scepd_listener *l, const struct scepd_listener_config *lc,
                         char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL, *ai;
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    char host[256], port[16];
    int fd = -1, one = 1, gai, saved = 0;
    int rc = -1;

    if (listener_split(lc->address, host, sizeof(host), port, sizeof(port)) != 0) {
        listener_err(err, errlen, "%s %s: bad address", l->name, lc->address);
        goto out;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    gai = getaddrinfo(host[0] != '\0' ? host : NULL, port, &hints, &res);
    if (gai != 0) {
        listener_err(err, errlen, "%s %s: cannot resolve: %s", l->name, lc->address,
                     gai_strerror(gai));
        goto out;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, LISTENER_BACKLOG) == 0)
            break;
        saved = errno;
        close(fd);
        fd = -1;
    }
    if (fd < 0) {
        listener_err(err, errlen, "%s %s: cannot listen: %s", l->name, lc->address,
                     strerror(saved));
        goto out;
    }
    /* Port 0 asks the kernel for one: read back which. */
    if (getsockname(fd, (struct sockaddr *)&ss, &sslen) != 0) {
        listener_err(err, errlen, "%s %s: getsockname: %s", l->name, lc->address, strerror(errno));
        goto out;
    }
    if (ss.ss_family == AF_INET6)
        l->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    else
        l->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    snprintf(l->host, sizeof(l->host), "%s", host[0] != '\0' ? host : "0.0.0.0");
    l->wildcard = host[0] == '\0' || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 ||
                  strcmp(host, "0:0:0:0:0:0:0:0") == 0;
    l->fd = fd;
    fd = -1;
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (res != NULL)
        freeaddrinfo(res);
    return rc;
}

/*
 * Checks that path can be opened for reading, so that the message says
 * "No such file" or "Permission denied" rather than OpenSSL's words for
 * it.  others_ok == 0: refuse a file others may read or write (a key).
 */
static int listener_check_file(const char *key, const char *path, int others_ok, char *err,
                               size_t errlen)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    int rc = -1;

    if (fd < 0) {
        listener_err(err, errlen, "%s %s: %s", key, path, strerror(errno));
        goto out;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        listener_err(err, errlen, "%s %s: not a regular file", key, path);
        goto out;
    }
    if (!others_ok && (st.st_mode & (S_IROTH | S_IWOTH))) {
        listener_err(err, errlen, "%s %s: readable or writable by others (chmod 600)", key, path);
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    return rc;
}

/* The PEM passphrase callback: none.  Without it OpenSSL would prompt on
 * the terminal for an encrypted key and a daemon would hang there. */
static int listener_no_passphrase(char *buf, int size, int rwflag, void *arg)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)arg;
    return -1;
}

/* Makes the SSL_CTX of a TLS listener into l->ssl_ctx (see listener.h). */
static int listener_tls(struct scepd_listener *l, const struct scepd_listener_config *lc, char *err,
                        size_t errlen)
{
    static const unsigned char sid_ctx[] = "scepd";
    STACK_OF(X509_NAME) *names = NULL;
    SSL_CTX *ctx = NULL;
    char why[256];
    int rc = -1;

    if (lc->tls_key == NULL) {
        listener_err(err, errlen, "%s: tls_cert is set but tls_key is not", l->name);
        goto out;
    }
    if (listener_check_file("tls_cert", lc->tls_cert, 1, err, errlen) != 0 ||
        listener_check_file("tls_key", lc->tls_key, 0, err, errlen) != 0)
        goto out;
    if (lc->tls_client_ca != NULL &&
        listener_check_file("tls_client_ca", lc->tls_client_ca, 1, err, errlen) != 0)
        goto out;
    if (lc->client_verify != SCEPD_TLS_VERIFY_NONE && lc->tls_client_ca == NULL) {
        listener_err(err, errlen, "tls_client_verify needs tls_client_ca");
        goto out;
    }
    ERR_clear_error();
    ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        listener_ssl_reason(why, sizeof(why));
        listener_err(err, errlen, "%s: cannot make an SSL_CTX: %s", l->name, why);
        goto out;
    }
    /* No SSLv3, TLS 1.0 or 1.1 (RFC 8996). */
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(ctx, SCEPD_TLS12_CIPHERS) != 1) {
        listener_ssl_reason(why, sizeof(why));
        listener_err(err, errlen, "%s: cannot set the TLS policy: %s", l->name, why);
        goto out;
    }
    /* Renegotiation is a DoS lever; a client closing without
     * close_notify is a normal end of a Content-Length reply. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                 SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_default_passwd_cb(ctx, listener_no_passphrase);
    /* The chain file may hold intermediates after the certificate. */
    if (SSL_CTX_use_certificate_chain_file(ctx, lc->tls_cert) != 1) {
        listener_ssl_reason(why, sizeof(why));
        listener_err(err, errlen, "tls_cert %s: not a PEM certificate: %s", lc->tls_cert, why);
        goto out;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, lc->tls_key, SSL_FILETYPE_PEM) != 1) {
        int reason = ERR_GET_REASON(ERR_peek_last_error());

        listener_ssl_reason(why, sizeof(why));
        /* OpenSSL already compares the key with the certificate here
         * when the key parses. */
        if (reason == X509_R_KEY_VALUES_MISMATCH || reason == X509_R_KEY_TYPE_MISMATCH)
            listener_err(err, errlen, "tls_key %s does not match tls_cert %s", lc->tls_key,
                         lc->tls_cert);
        else
            listener_err(err, errlen, "tls_key %s: not an unencrypted PEM private key: %s",
                         lc->tls_key, why);
        goto out;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ERR_clear_error();
        listener_err(err, errlen, "tls_key %s does not match tls_cert %s", lc->tls_key,
                     lc->tls_cert);
        goto out;
    }
    if (lc->tls_client_ca != NULL) {
        int mode = SSL_VERIFY_PEER;

        if (SSL_CTX_load_verify_locations(ctx, lc->tls_client_ca, NULL) != 1) {
            listener_ssl_reason(why, sizeof(why));
            listener_err(err, errlen, "tls_client_ca %s: no PEM CA certificate: %s",
                         lc->tls_client_ca, why);
            goto out;
        }
        /* The names sent in the CertificateRequest, so that a client
         * with several certificates picks one this CA issued. */
        names = SSL_load_client_CA_file(lc->tls_client_ca);
        if (names == NULL) {
            listener_ssl_reason(why, sizeof(why));
            listener_err(err, errlen, "tls_client_ca %s: no PEM CA certificate: %s",
                         lc->tls_client_ca, why);
            goto out;
        }
        SSL_CTX_set_client_CA_list(ctx, names);
        names = NULL;
        if (lc->client_verify == SCEPD_TLS_VERIFY_REQUIRE)
            mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        if (lc->client_verify != SCEPD_TLS_VERIFY_NONE)
            SSL_CTX_set_verify(ctx, mode, NULL);
        SSL_CTX_set_verify_depth(ctx, SCEPD_TLS_VERIFY_DEPTH);
        /* Without a session id context OpenSSL refuses to resume a
         * session on a context that verifies peers. */
        if (SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1) != 1) {
            listener_ssl_reason(why, sizeof(why));
            listener_err(err, errlen, "%s: %s", l->name, why);
            goto out;
        }
    }
    l->ssl_ctx = ctx;
    ctx = NULL;
    rc = 0;
out:
    sk_X509_NAME_pop_free(names, X509_NAME_free);
    SSL_CTX_free(ctx);
    return rc;
}

/* tls_client_verify's word as a mode (listener.h). */
enum scepd_tls_verify scepd_listener_verify_of(const char *word)
{
    if (word != NULL && strcmp(word, "require") == 0)
        return SCEPD_TLS_VERIFY_REQUIRE;
    if (word != NULL && strcmp(word, "optional") == 0)
        return SCEPD_TLS_VERIFY_OPTIONAL;
    return SCEPD_TLS_VERIFY_NONE;
}

/* scepd -t's check of a TLS listener's files (listener.h): the SSL_CTX
 * a start would make, made and dropped, so that both say the same. */
int scepd_listener_check_tls(const struct scepd_listener_config *lc, char *err, size_t errlen)
{
    struct scepd_listener l;
    int rc;

    memset(&l, 0, sizeof(l));
    l.fd = -1;
    snprintf(l.name, sizeof(l.name), "%s", lc->name != NULL ? lc->name : "listen");
    if (lc->tls_cert == NULL) {
        if (lc->tls_key == NULL)
            return 0;
        listener_err(err, errlen, "%s: tls_key is set but tls_cert is not", l.name);
        return -1;
    }
    rc = listener_tls(&l, lc, err, errlen);
    SSL_CTX_free(l.ssl_ctx);
    return rc;
}

/*
 * Makes a listener (see listener.h).  Returns 0 and *out
 * (scepd_listener_free()), or -1 with err set.
 */
int scepd_listener_new(const struct scepd_listener_config *lc, struct scepd_listener **out,
                       char *err, size_t errlen)
{
    struct scepd_listener *l = NULL;
    int rc = -1;

    if (lc == NULL || lc->address == NULL || lc->routes == NULL) {
        listener_err(err, errlen, "listener: missing address or routes");
        goto out;
    }
    l = calloc(1, sizeof(*l));
    if (l == NULL) {
        listener_err(err, errlen, "listener: out of memory");
        goto out;
    }
    l->fd = -1;
    snprintf(l->name, sizeof(l->name), "%s", lc->name != NULL ? lc->name : "listen");
    l->routes = lc->routes;
    /* TLS first: a bad certificate must not leave a port bound. */
    if (lc->tls_cert != NULL && listener_tls(l, lc, err, errlen) != 0)
        goto out;
    if (lc->tls_cert == NULL && lc->tls_key != NULL) {
        listener_err(err, errlen, "%s: tls_key is set but tls_cert is not", l->name);
        goto out;
    }
    if (listener_bind(l, lc, err, errlen) != 0)
        goto out;
    *out = l;
    l = NULL;
    rc = 0;
out:
    scepd_listener_free(l);
    return rc;
}

/* Closes the socket and frees the SSL_CTX.  Accepts NULL. */
void scepd_listener_free(struct scepd_listener *l)
{
    if (l == NULL)
        return;
    scepd_listener_close(l);
    SSL_CTX_free(l->ssl_ctx);
    free(l);
}

int scepd_listener_fd(const struct scepd_listener *l)
{
    return l->fd;
}

void scepd_listener_close(struct scepd_listener *l)
{
    if (l->fd >= 0) {
        close(l->fd);
        l->fd = -1;
    }
}

SSL_CTX *scepd_listener_get0_ssl_ctx(const struct scepd_listener *l)
{
    return l->ssl_ctx;
}

const struct scepd_router *scepd_listener_get0_routes(const struct scepd_listener *l)
{
    return l->routes;
}

const char *scepd_listener_name(const struct scepd_listener *l)
{
    return l->name;
}

const char *scepd_listener_host(const struct scepd_listener *l)
{
    return l->host;
}

int scepd_listener_port(const struct scepd_listener *l)
{
    return l->port;
}

int scepd_listener_wildcard(const struct scepd_listener *l)
{
    return l->wildcard;
}

/* "HOST:PORT" or "[V6]:PORT" into buf. */
void scepd_listener_address(const struct scepd_listener *l, char *buf, size_t len)
{
    if (strchr(l->host, ':') != NULL)
        snprintf(buf, len, "[%s]:%d", l->host, l->port);
    else
        snprintf(buf, len, "%s:%d", l->host, l->port);
}
