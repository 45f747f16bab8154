/*
 * Limits that only the server enforces: scepd's HTTP front end, its
 * timeouts and its workers, and the configuration that may lower them
 * (lib/config).  They are not part of libscep's API, so they live here
 * and not in include/scep/limits.h.  This header includes that one, so
 * that one include gives server code every hard limit, all kept in one
 * commented place (STYLE.md "Untrusted input").  Internal to the server.
 */
#ifndef SCEP_COMMON_SERVER_LIMITS_H
#define SCEP_COMMON_SERVER_LIMITS_H

#include <scep/limits.h>

/* HTTP request body for a POST PKIOperation. */
#define SCEP_MAX_BODY SCEP_MAX_MESSAGE

/* HTTP request line plus headers, total bytes.  libevent counts the
 * request line here, so this also caps a GET PKIOperation: 64 KiB lets
 * a base64 message of about 45 KiB of DER through (a 4096-bit request
 * with a chain is under 8 KiB), while an idle connection cannot make
 * scepd buffer more than this. */
#define SCEP_MAX_HEADERS (64 * 1024)

/* Seconds scepd waits for a request's headers and body, and for a reply
 * to be written, before it closes the connection. */
#define SCEP_READ_TIMEOUT_SECONDS 30
#define SCEP_WRITE_TIMEOUT_SECONDS 30

/* Concurrent connections one scepd worker accepts. */
#define SCEP_MAX_CONNECTIONS_PER_WORKER 1024

/* Connections one client address (an IPv6 /64) may hold open in the
 * whole process by default (max_connections_per_client).  A device
 * enrolls over one or two; a NAT gateway of many devices may need the
 * key raised.  Without it, one host can fill workers x max_connections
 * and hold every slot for read_timeout. */
#define SCEP_MAX_CONNECTIONS_PER_CLIENT 32

/* Bytes all partially read requests (headers, and a POST body so far)
 * may hold in the process by default (max_header_memory): 512 requests
 * of the largest headers (SCEP_MAX_HEADERS) at once.  Without a total,
 * 2,000 connections each holding 60 KiB of headers held 139 MB.  The
 * least is room for a few whole requests, so that a legitimate large
 * one is never the one shed; the most, a sanity bound. */
#define SCEP_MAX_HEADER_MEMORY (32 * 1024 * 1024)
#define SCEP_MIN_HEADER_MEMORY (1024 * 1024)
#define SCEP_MAX_HEADER_MEMORY_LIMIT (16LL * 1024 * 1024 * 1024)

/* An OCSP request (RFC 6960 4.1.1), POST body or decoded GET path.  An
 * unsigned request for one certificate is about 80 bytes; a signed one
 * with its signer's chain a few KiB.  Anything longer is refused as
 * malformedRequest before OpenSSL sees it. */
#define SCEP_MAX_OCSP_REQUEST (16 * 1024)

/* CertIDs in one OCSP request (its requestList).  Each costs a store
 * lookup; clients ask for one certificate at a time (RFC 5019 2.1.1
 * allows exactly one), so a few more is generous. */
#define SCEP_MAX_OCSP_CERTIDS 8

/* A webhook's answer (lib/policy/webhook.h), bytes read at most: a
 * verdict is a few dozen bytes; a longer answer is cut off and the
 * enrollment denied, so a hook cannot make a worker buffer more. */
#define SCEP_WEBHOOK_MAX_RESPONSE (64 * 1024)

/* Bytes of a webhook's "reason" string kept in a denial's text, which
 * reaches the log line and the client. */
#define SCEP_WEBHOOK_MAX_REASON 128

/* Worker threads at most (default: number of cores). */
#define SCEP_MAX_WORKERS 64

/* Buckets of each rate limit scepd keeps (client addresses; challenges),
 * allocated at start (about 200 bytes each).  Beyond this the least
 * useful bucket is forgotten (lib/policy/ratelimit.h), so a client
 * spraying addresses costs memory only up to here. */
#define SCEP_RATE_MAX_ADDRESSES 65536
#define SCEP_RATE_MAX_CHALLENGES 65536

/* The admin API (src/scepd/api*.c).  A request body is a small JSON
 * object (a revocation reason, a challenge's binding with its SANs):
 * 16 KiB holds SCEP_MAX_SANS names with room; larger is 413.  Nesting
 * deeper than 4 ({"sans": [...]} is 2) is refused before jansson builds
 * anything, and so are strings longer than a SAN or DN may be. */
#define SCEP_API_MAX_BODY (16 * 1024)
#define SCEP_API_MAX_DEPTH 4
/* Items one listing returns at most (?limit=), and by default. */
#define SCEP_API_MAX_LIMIT 1000
#define SCEP_API_DEFAULT_LIMIT 100
/* A query string's bytes at most, and one decoded parameter's. */
#define SCEP_API_MAX_QUERY 4096
#define SCEP_API_MAX_PARAM 1024
/* Bytes of one POST /certificates/import body (PEM or DER), which the
 * listener's max_body bounds too: dozens of PEM certificates. */
#define SCEP_API_MAX_IMPORT SCEP_MAX_BODY

#endif
