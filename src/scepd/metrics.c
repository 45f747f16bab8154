/*
 * scepd's metrics in the Prometheus text format 0.0.4, served at
 * /metrics.  Each worker owns a struct scepd_metrics and bumps it with
 * relaxed atomic adds (no lock on the hot path: the worker is its only
 * writer); a scrape, on whichever worker it lands, sums every worker's
 * counters.  The sum may mix a counter read just before and one read just
 * after an increment, which Prometheus tolerates.
 *
 * Enrollment decisions are counted per profile name.  Each worker keeps
 * its own bounded name table (it alone writes it); a scrape merges the
 * workers' tables by name, so workers need not agree on an order.  The
 * CA's private-key operations come from the keyring's process-wide
 * counter and are rendered once, not summed per worker.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <scep/error.h>
#include <scep/encoding.h>
#include <scep/message.h>

#include "scepd.h"
#include "keyring/keyring.h"

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

static const char *const limit_names[SCEPD_LIMIT_COUNT] = {"address", "challenge", "admin_auth"};
static const char *const auth_fail_names[SCEPD_AUTH_FAIL_COUNT] = {"unknown", "revoked", "expired"};
static const char *const decision_names[SCEPD_DECISION_COUNT] = {"allow", "deny", "pending",
                                                                 "rate_limited"};
static const char *const via_names[SCEPD_VIA_COUNT] = {"static", "one-time", "webhook", "renewal",
                                                       "open"};

/* Counts one failed admin API authentication by why. */
void scepd_metrics_auth_failure(struct scepd_metrics *m, int why)
{
    if (why < 0 || why >= SCEPD_AUTH_FAIL_COUNT)
        return;
    atomic_fetch_add_explicit(&m->auth_failures[why], 1, memory_order_relaxed);
}

/* Counts one request refused by rate limit kind. */
void scepd_metrics_rate_limited(struct scepd_metrics *m, int kind)
{
    if (kind < 0 || kind >= SCEPD_LIMIT_COUNT)
        return;
    atomic_fetch_add_explicit(&m->rate_limited[kind], 1, memory_order_relaxed);
}

/*
 * The row of profile in m's table, adding it when there is room;
 * SCEPD_METRICS_OTHER for a name that cannot be kept.  Only m's own
 * worker calls this, so adding needs no lock: the name is complete
 * before the release store publishes it to a scrape.
 */
static size_t profile_row(struct scepd_metrics *m, const char *profile)
{
    size_t i, n = atomic_load_explicit(&m->nprofiles, memory_order_relaxed), len;

    if (profile == NULL || (len = strnlen(profile, SCEPD_METRICS_PROFILE_NAME)) == 0 ||
        len >= SCEPD_METRICS_PROFILE_NAME)
        return SCEPD_METRICS_OTHER;
    for (i = 0; i < n; i++)
        if (strcmp(m->profile_names[i], profile) == 0)
            return i;
    if (n >= SCEPD_METRICS_MAX_PROFILES)
        return SCEPD_METRICS_OTHER;
    memcpy(m->profile_names[n], profile, len + 1);
    atomic_store_explicit(&m->nprofiles, n + 1, memory_order_release);
    return n;
}

/* Counts one enrollment decision under profile (see scepd.h). */
void scepd_metrics_decision(struct scepd_metrics *m, const char *profile, int decision, int via)
{
    size_t row;

    if (decision < 0 || decision >= SCEPD_DECISION_COUNT ||
        (decision == SCEPD_DECISION_ALLOW && (via < 0 || via >= SCEPD_VIA_COUNT)))
        return;
    row = profile_row(m, profile);
    if (decision == SCEPD_DECISION_ALLOW)
        atomic_fetch_add_explicit(&m->allows[row][via], 1, memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&m->decisions[row][decision], 1, memory_order_relaxed);
}

/* Registers the configured profile names (see scepd.h). */
void scepd_metrics_profiles(struct scepd_metrics *m, const char *const *names, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        (void)profile_row(m, names[i]);
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

/* Appends s as a label value: backslash, double quote and newline
 * escaped as the text format 0.0.4 requires.  Returns 0 or -1. */
static int add_label_value(struct evbuffer *out, const char *s)
{
    const char *run = s;
    int rc = 0;

    for (; *s != '\0'; s++) {
        const char *esc = *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : *s == '\n' ? "\\n" : NULL;

        if (esc == NULL)
            continue;
        rc |= evbuffer_add(out, run, (size_t)(s - run));
        rc |= evbuffer_add(out, esc, 2);
        run = s + 1;
    }
    rc |= evbuffer_add(out, run, (size_t)(s - run));
    return rc != 0 ? -1 : 0;
}

/* The decision counters of every worker, merged by profile name. */
struct decision_sum {
    const char *names[SCEPD_METRICS_MAX_PROFILES]; /* borrowed from the workers */
    size_t n;
    uint64_t decisions[SCEPD_METRICS_MAX_PROFILES + 1][SCEPD_DECISION_COUNT];
    uint64_t allows[SCEPD_METRICS_MAX_PROFILES + 1][SCEPD_VIA_COUNT];
};

/* Adds row r of worker w into row u of s. */
static void decision_add(struct decision_sum *s, size_t u, struct scepd_metrics *w, size_t r)
{
    int d, v;

    for (d = 0; d < SCEPD_DECISION_COUNT; d++)
        s->decisions[u][d] += atomic_load_explicit(&w->decisions[r][d], memory_order_relaxed);
    for (v = 0; v < SCEPD_VIA_COUNT; v++)
        s->allows[u][v] += atomic_load_explicit(&w->allows[r][v], memory_order_relaxed);
}

/* Merges n workers' decision counters into *s by profile name; names
 * beyond the bound join "other". */
static void decision_merge(struct scepd_metrics *const *m, size_t n, struct decision_sum *s)
{
    size_t i, j, u, np;

    memset(s, 0, sizeof(*s));
    for (i = 0; i < n; i++) {
        /* acquire: pairs with profile_row()'s release, so the names
         * below it are complete */
        np = atomic_load_explicit(&m[i]->nprofiles, memory_order_acquire);
        for (j = 0; j < np && j < SCEPD_METRICS_MAX_PROFILES; j++) {
            const char *name = m[i]->profile_names[j];

            for (u = 0; u < s->n && strcmp(s->names[u], name) != 0; u++)
                ;
            if (u == s->n) {
                if (s->n < SCEPD_METRICS_MAX_PROFILES)
                    s->names[s->n++] = name;
                else
                    u = SCEPD_METRICS_OTHER;
            }
            decision_add(s, u, m[i], j);
        }
        decision_add(s, SCEPD_METRICS_OTHER, m[i], SCEPD_METRICS_OTHER);
    }
}

/* Appends the rate-limit and decision families.  Returns 0 or -1. */
static int render_policy(struct scepd_metrics *const *m, size_t n, struct evbuffer *out)
{
    struct decision_sum *s = NULL;
    size_t u;
    uint64_t any;
    int k, d, v, rc = -1;

    /* About 5 KB: on the heap, not on a worker's stack. */
    if ((s = malloc(sizeof(*s))) == NULL)
        goto out;
    rc = 0;
    rc |=
        evbuffer_add_printf(out, "# HELP scepd_rate_limited_total Requests refused by a rate "
                                 "limit, by limit.\n# TYPE scepd_rate_limited_total counter\n") < 0;
    for (k = 0; k < SCEPD_LIMIT_COUNT; k++)
        rc |= evbuffer_add_printf(out, "scepd_rate_limited_total{limit=\"%s\"} %llu\n",
                                  limit_names[k], (unsigned long long)SUM(rate_limited[k])) < 0;
    rc |= evbuffer_add_printf(out, "# HELP scepd_admin_auth_failures_total Failed admin API "
                                   "authentications, by reason.\n"
                                   "# TYPE scepd_admin_auth_failures_total counter\n") < 0;
    for (k = 0; k < SCEPD_AUTH_FAIL_COUNT; k++)
        rc |=
            evbuffer_add_printf(out, "scepd_admin_auth_failures_total{reason=\"%s\"} %llu\n",
                                auth_fail_names[k], (unsigned long long)SUM(auth_failures[k])) < 0;

    decision_merge(m, n, s);
    rc |= evbuffer_add_printf(out, "# HELP scepd_enrollment_decisions_total Enrollment decisions "
                                   "by profile and decision; allows also by what allowed them "
                                   "(via).\n# TYPE scepd_enrollment_decisions_total counter\n") < 0;
    /* "other" only once something was counted there. */
    any = 0;
    for (d = 0; d < SCEPD_DECISION_COUNT; d++)
        any |= s->decisions[SCEPD_METRICS_OTHER][d];
    for (v = 0; v < SCEPD_VIA_COUNT; v++)
        any |= s->allows[SCEPD_METRICS_OTHER][v];
    for (u = 0; u < s->n + (any != 0); u++) {
        size_t row = u < s->n ? u : SCEPD_METRICS_OTHER;
        const char *name = u < s->n ? s->names[u] : "other";

        for (v = 0; v < SCEPD_VIA_COUNT; v++) {
            rc |= evbuffer_add_printf(out, "scepd_enrollment_decisions_total{profile=\"") < 0;
            rc |= add_label_value(out, name);
            rc |= evbuffer_add_printf(out, "\",decision=\"allow\",via=\"%s\"} %llu\n", via_names[v],
                                      (unsigned long long)s->allows[row][v]) < 0;
        }
        for (d = SCEPD_DECISION_ALLOW + 1; d < SCEPD_DECISION_COUNT; d++) {
            rc |= evbuffer_add_printf(out, "scepd_enrollment_decisions_total{profile=\"") < 0;
            rc |= add_label_value(out, name);
            rc |= evbuffer_add_printf(out, "\",decision=\"%s\"} %llu\n", decision_names[d],
                                      (unsigned long long)s->decisions[row][d]) < 0;
        }
    }
    rc = rc != 0 ? -1 : 0;
out:
    free(s);
    return rc;
}

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
                              "# HELP scepd_connections_refused_total Connections closed before "
                              "anything was read, by reason.\n"
                              "# TYPE scepd_connections_refused_total counter\n"
                              "scepd_connections_refused_total{reason=\"per_client\"} %llu\n",
                              (unsigned long long)SUM(conns_refused_per_client)) < 0;
    rc |= evbuffer_add_printf(out,
                              "# HELP scepd_connections_shed_total Connections closed early to "
                              "make room: idle in a nearly full worker, or holding the most of "
                              "partial requests over max_header_memory.\n"
                              "# TYPE scepd_connections_shed_total counter\n"
                              "scepd_connections_shed_total{reason=\"idle\"} %llu\n"
                              "scepd_connections_shed_total{reason=\"header_memory\"} %llu\n",
                              (unsigned long long)SUM(conns_shed_idle),
                              (unsigned long long)SUM(conns_shed_memory)) < 0;

    rc |= render_policy(m, n, out) != 0;
    rc |= evbuffer_add_printf(out,
                              "# HELP scepd_ca_private_key_operations_total Signatures and "
                              "decryptions with a CA or RA private key.\n"
                              "# TYPE scepd_ca_private_key_operations_total counter\n"
                              "scepd_ca_private_key_operations_total %llu\n",
                              (unsigned long long)scep_keyring_private_ops()) < 0;

    rc |= evbuffer_add_printf(out,
                              "# HELP scepd_build_info Build information.\n"
                              "# TYPE scepd_build_info gauge\n"
                              "scepd_build_info{version=\"%s\"} 1\n",
                              SCEPD_VERSION) < 0;
    return rc ? -1 : 0;
}
