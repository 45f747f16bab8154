/*
 * The Prometheus process collector's families for scepd's /metrics
 * (process_cpu_seconds_total, process_resident_memory_bytes,
 * process_open_fds, process_max_fds, process_start_time_seconds) and a
 * build-info gauge, read from the kernel at each scrape (Linux /proc).
 */
#ifndef SCEPD_PROCMETRICS_H
#define SCEPD_PROCMETRICS_H

struct evbuffer;

/* Records the process's start (wall clock); called once from main. */
void scepd_process_started(void);

/* Appends the families to out.  A value /proc does not give is left
 * out, not made up.  Returns 0 or -1 (out of memory). */
int scepd_process_metrics_render(struct evbuffer *out);

#endif
