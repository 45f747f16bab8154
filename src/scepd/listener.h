/*
 * scepd's listeners.  A listener is one configured front door: an address
 * with its listening socket, plain HTTP or TLS, and the route table
 * (route.h) it serves.  scepd has a plain listener (listen) and, when
 * tls_listen is set, a TLS one serving the same SCEP routes; the admin
 * API of a later release adds another with its own table.
 *
 * Workers do not own listeners: every worker serves every listener
 * through its own evhttp on a dup() of the listener's socket (http.h), so
 * the kernel spreads connections over the workers with no lock of ours.
 * A TLS listener has one SSL_CTX, made and checked here at start-up and
 * then only read: every worker's connections make their SSL from it
 * (conn.h), which OpenSSL allows from several threads.
 *
 * TLS policy: TLS 1.2 at least; for TLS 1.2 only ECDHE key exchange with
 * AEAD ciphers (TLS 1.3 suites are all AEAD); no renegotiation.  Client
 * certificates are verified by OpenSSL against tls_client_ca during the
 * handshake: none (not asked for), optional (asked for; a certificate
 * that does not verify fails the handshake, none is accepted) or require
 * (a connection without a verified certificate fails the handshake).
 */
#ifndef SCEPD_LISTENER_H
#define SCEPD_LISTENER_H

#include <stddef.h>

#include <openssl/ssl.h>

struct scepd_router;
struct scepd_listener; /* opaque */

/* Client-certificate verification of a TLS listener. */
enum scepd_tls_verify {
    SCEPD_TLS_VERIFY_NONE = 0,
    SCEPD_TLS_VERIFY_OPTIONAL = 1,
    SCEPD_TLS_VERIFY_REQUIRE = 2
};

/* Longest certificate chain a client may present (client, CAs). */
#define SCEPD_TLS_VERIFY_DEPTH 4
/* TLS 1.2 cipher suites (TLS 1.3 keeps OpenSSL's default, all AEAD). */
#define SCEPD_TLS12_CIPHERS                                                                        \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                                   \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                                   \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

/* What a listener is made from; strings are only read during
 * scepd_listener_new(). */
struct scepd_listener_config {
    const char *name;          /* for messages: "listen", "tls_listen" */
    const char *address;       /* "HOST:PORT" or "[V6]:PORT"; port 0 picks one */
    const char *tls_cert;      /* PEM certificate (chain); NULL: plain HTTP */
    const char *tls_key;       /* PEM private key of tls_cert */
    const char *tls_client_ca; /* PEM CA certificates for client certificates, or NULL */
    enum scepd_tls_verify client_verify;
    const struct scepd_router *routes; /* borrowed: must outlive the listener */
};

/*
 * Makes a listener: for TLS loads and checks certificate and key (files
 * readable, key not readable by others, key matching the certificate)
 * and the client CA file, then binds and listens on the address.  On
 * failure returns -1 with a one-line reason in err (errlen bytes) and
 * nothing left open.  Returns 0; *out: scepd_listener_free().
 */
int scepd_listener_new(const struct scepd_listener_config *lc, struct scepd_listener **out,
                       char *err, size_t errlen);

/* Closes the socket and frees the SSL_CTX.  Accepts NULL. */
void scepd_listener_free(struct scepd_listener *l);

/*
 * Checks lc's TLS settings as scepd_listener_new() would (files present
 * with safe modes, certificate and key parse and match, client CA),
 * without binding.  0 (also when lc has no TLS), or -1 with err set.
 */
int scepd_listener_check_tls(const struct scepd_listener_config *lc, char *err, size_t errlen);

/* tls_client_verify's word ("none", "optional", "require"; the config
 * parser checked it) as a mode; anything else is none. */
enum scepd_tls_verify scepd_listener_verify_of(const char *word);

/* The listening socket, or -1 once closed.  Borrowed: dup() it. */
int scepd_listener_fd(const struct scepd_listener *l);

/* Closes the listening socket (shutdown: the kernel refuses new
 * connections once the workers' dups are gone too). */
void scepd_listener_close(struct scepd_listener *l);

/* The SSL_CTX of a TLS listener, NULL for plain HTTP.  Borrowed. */
SSL_CTX *scepd_listener_get0_ssl_ctx(const struct scepd_listener *l);

/* The route table served.  Borrowed. */
const struct scepd_router *scepd_listener_get0_routes(const struct scepd_listener *l);

/* The name given in the configuration ("listen", "tls_listen"). */
const char *scepd_listener_name(const struct scepd_listener *l);

/* The bound host ("0.0.0.0" for an empty host) and port (the real one
 * when 0 was asked for). */
const char *scepd_listener_host(const struct scepd_listener *l);
int scepd_listener_port(const struct scepd_listener *l);

/* 1 when bound to every address (0.0.0.0, ::), which no client can use
 * as a destination. */
int scepd_listener_wildcard(const struct scepd_listener *l);

/* "HOST:PORT" or "[V6]:PORT" of the bound socket into buf (len bytes). */
void scepd_listener_address(const struct scepd_listener *l, char *buf, size_t len);

#endif
