/*
 * One listener (listener.h) served on one worker: an evhttp on the
 * worker's event base, accepting on a dup() of the listener's socket,
 * with scepd's limits, connection accounting (conn.h) and the listener's
 * route table.  http.c turns each evhttp request into a request context
 * (request.h), runs the route's handler and writes the log line.
 */
#ifndef SCEPD_HTTP_H
#define SCEPD_HTTP_H

struct event_base;
struct scep_config;
struct scepd_app;
struct scepd_conns;
struct scepd_listener;
struct scepd_http; /* opaque */

/*
 * Serves l on base: handlers get app, connections are counted by conns
 * (all three borrowed; they must outlive the result).  Returns 0 or -1
 * after logging why; *out: scepd_http_free().
 */
int scepd_http_new(struct event_base *base, const struct scep_config *cfg,
                   const struct scepd_listener *l, struct scepd_app *app, struct scepd_conns *conns,
                   struct scepd_http **out);

/* Stops accepting (closes this worker's dup of the socket); requests on
 * open connections are still served.  Call after scepd_conns_stop(). */
void scepd_http_unbind(struct scepd_http *h);

/* Frees h, closing its open connections.  Accepts NULL. */
void scepd_http_free(struct scepd_http *h);

#endif
