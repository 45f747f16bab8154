/*
 * scepd's metrics in the Prometheus text format 0.0.4, served at
 * /metrics.  Each worker owns a struct scepd_metrics and bumps it with
 * relaxed atomic adds (no lock on the hot path: the worker is its only
 * writer); a scrape, on whichever worker it lands, sums every worker's
 * counters.  The sum may mix a counter read just before and one read just
 * after an increment, which Prometheus tolerates.
 */
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <scep/error.h>
#include <scep/encoding.h>
#include <scep/message.h>

#include "scepd.h"

/* Upper bounds, in seconds, of the issuance histogram buckets. */
static const double hist_bounds[SCEPD_HIST_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1,
                                                       0.25,  0.5,  1.0,   2.5,  5.0};

static const char *const outcome_names[SCEPD_OUT_COUNT] = {"success", "failure", "pending",
                                                           "error"};

/* Maps the service's outcome text to enum scepd_outcome (unknown: error). */
int scepd_outcome_from_text(const char *outcome)
{
    int i;

    for (i = 0; outcome != NULL && i < SCEPD_OUT_COUNT; i++)
        if (strcmp(outcome, outcome_names[i]) == 0)
            return i;
    return SCEPD_OUT_ERROR;
}

/* Counts one request of operation op with outcome. */
void scepd_metrics_request(struct scepd_metrics *m, int op, int outcome)
{
    if (op < 0 || op >= SCEPD_OP_COUNT)
        op = SCEPD_OP_UNKNOWN;
    if (outcome < 0 || outcome >= SCEPD_OUT_COUNT)
        outcome = SCEPD_OUT_ERROR;
    atomic_fetch_add_explicit(&m->requests[op][outcome], 1, memory_order_relaxed);
}

/* Counts one CertRep FAILURE with fail_info. */
void scepd_metrics_refusal(struct scepd_metrics *m, int fail_info)
{
    if (fail_info < 0 || fail_info >= SCEPD_FAIL_INFO_COUNT)
        return;
    atomic_fetch_add_explicit(&m->refusals[fail_info], 1, memory_order_relaxed);
}

/* Adds one issuance taking seconds to the histogram. */
void scepd_metrics_issuance(struct scepd_metrics *m, double seconds)
{
    int b;

    if (seconds < 0)
        seconds = 0;
    for (b = 0; b < SCEPD_HIST_BUCKETS; b++)
        if (seconds <= hist_bounds[b])
            break;
    /* b == SCEPD_HIST_BUCKETS: only +Inf, which is the count itself. */
    if (b < SCEPD_HIST_BUCKETS)
        atomic_fetch_add_explicit(&m->issue_buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->issue_count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->issue_sum_ns, (uint64_t)(seconds * 1e9), memory_order_relaxed);
}

static uint64_t sum(struct scepd_metrics *const *m, size_t n, size_t off)
{
    uint64_t total = 0;
    size_t i;

    for (i = 0; i < n; i++)
        total +=
            atomic_load_explicit((_Atomic uint64_t *)((char *)m[i] + off), memory_order_relaxed);
    return total;
}

#define SUM(field) sum(m, n, offsetof(struct scepd_metrics, field))

/*
 * Appends the Prometheus text for the sum of n workers' metrics to out.
 * Returns 0, or -1 when out could not grow.
 */
int scepd_metrics_render(struct scepd_metrics *const *m, size_t n, struct evbuffer *out)
{
    uint64_t cum = 0, count;
    int op, oc, b, rc = 0;

    rc |= evbuffer_add_printf(out, "# HELP scepd_requests_total SCEP requests by operation and "
                                   "outcome.\n# TYPE scepd_requests_total counter\n") < 0;
    for (op = 0; op < SCEPD_OP_COUNT; op++)
        for (oc = 0; oc < SCEPD_OUT_COUNT; oc++)
            rc |= evbuffer_add_printf(out,
                                      "scepd_requests_total{operation=\"%s\",outcome=\"%s\"} "
                                      "%llu\n",
                                      scepd_op_name(op), outcome_names[oc],
                                      (unsigned long long)SUM(requests[op][oc])) < 0;

    rc |= evbuffer_add_printf(out, "# HELP scepd_refusals_total CertRep FAILURE replies by "
                                   "failInfo.\n# TYPE scepd_refusals_total counter\n") < 0;
    for (b = 0; b < SCEPD_FAIL_INFO_COUNT; b++)
        rc |= evbuffer_add_printf(out, "scepd_refusals_total{fail_info=\"%s\"} %llu\n",
                                  scep_fail_info_name(b), (unsigned long long)SUM(refusals[b])) < 0;

    rc |= evbuffer_add_printf(out, "# HELP scepd_issuance_seconds Time to issue and store a "
                                   "certificate.\n# TYPE scepd_issuance_seconds histogram\n") < 0;
    for (b = 0; b < SCEPD_HIST_BUCKETS; b++) {
        cum += SUM(issue_buckets[b]);
        rc |= evbuffer_add_printf(out, "scepd_issuance_seconds_bucket{le=\"%g\"} %llu\n",
                                  hist_bounds[b], (unsigned long long)cum) < 0;
    }
    /* A worker bumps its bucket before its count; reading in between must
     * not make +Inf smaller than the last finite bucket. */
    count = SUM(issue_count);
    if (count < cum)
        count = cum;
    rc |= evbuffer_add_printf(out, "scepd_issuance_seconds_bucket{le=\"+Inf\"} %llu\n",
                              (unsigned long long)count) < 0;
    rc |= evbuffer_add_printf(out, "scepd_issuance_seconds_sum %.9f\n",
                              (double)SUM(issue_sum_ns) / 1e9) < 0;
    rc |= evbuffer_add_printf(out, "scepd_issuance_seconds_count %llu\n",
                              (unsigned long long)count) < 0;

    {
        int64_t open = 0;
        size_t i;

        for (i = 0; i < n; i++)
            open += atomic_load_explicit(&m[i]->conns_open, memory_order_relaxed);
        rc |= evbuffer_add_printf(out,
                                  "# HELP scepd_connections Client connections open now.\n"
                                  "# TYPE scepd_connections gauge\n"
                                  "scepd_connections %lld\n",
                                  (long long)open) < 0;
    }
    rc |= evbuffer_add_printf(out,
                              "# HELP scepd_connections_accepted_total Client connections "
                              "accepted.\n# TYPE scepd_connections_accepted_total counter\n"
                              "scepd_connections_accepted_total %llu\n",
                              (unsigned long long)SUM(conns_accepted)) < 0;
    rc |= evbuffer_add_printf(out,
                              "# HELP scepd_accept_errors_total accept(2) failures, such as "
                              "EMFILE.\n# TYPE scepd_accept_errors_total counter\n"
                              "scepd_accept_errors_total %llu\n",
                              (unsigned long long)SUM(accept_errors)) < 0;
    rc |= evbuffer_add_printf(out,
                              "# HELP scepd_accept_paused_total Times a worker stopped "
                              "accepting at max_connections.\n"
                              "# TYPE scepd_accept_paused_total counter\n"
                              "scepd_accept_paused_total %llu\n",
                              (unsigned long long)SUM(accept_paused)) < 0;

    rc |= evbuffer_add_printf(out,
                              "# HELP scepd_read_deadlines_total Connections closed because "
                              "no whole request came within read_timeout.\n"
                              "# TYPE scepd_read_deadlines_total counter\n"
                              "scepd_read_deadlines_total %llu\n",
                              (unsigned long long)SUM(read_deadlines)) < 0;

    rc |= evbuffer_add_printf(out,
                              "# HELP scepd_build_info Build information.\n"
                              "# TYPE scepd_build_info gauge\n"
                              "scepd_build_info{version=\"%s\"} 1\n",
                              SCEPD_VERSION) < 0;
    return rc ? -1 : 0;
}
