/* Process metrics (procmetrics.h). */
#include "procmetrics.h"

#include <dirent.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

static double started_at;

void scepd_process_started(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    started_at = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Resident set size in bytes from /proc/self/statm, or -1. */
static long long rss_bytes(void)
{
    long long size = 0, resident = 0;
    long page = sysconf(_SC_PAGESIZE);
    FILE *fp = fopen("/proc/self/statm", "r");
    int n;

    if (fp == NULL)
        return -1;
    n = fscanf(fp, "%lld %lld", &size, &resident);
    fclose(fp);
    return n == 2 && page > 0 ? resident * page : -1;
}

/* Open descriptors: the entries of /proc/self/fd, less the one reading it. */
static long open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    long n = 0;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n > 0 ? n - 1 : 0;
}

int scepd_process_metrics_render(struct evbuffer *out)
{
    struct rusage ru;
    struct rlimit rl;
    long long rss = rss_bytes();
    long fds = open_fds();
    int rc = 0;

    if (getrusage(RUSAGE_SELF, &ru) == 0)
        rc |= evbuffer_add_printf(
                  out,
                  "# HELP process_cpu_seconds_total User and system CPU time spent, in seconds.\n"
                  "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.3f\n",
                  (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                      (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6) < 0;
    if (rss >= 0)
        rc |= evbuffer_add_printf(out,
                                  "# HELP process_resident_memory_bytes Resident memory size in "
                                  "bytes.\n# TYPE process_resident_memory_bytes gauge\n"
                                  "process_resident_memory_bytes %lld\n",
                                  rss) < 0;
    if (fds >= 0)
        rc |= evbuffer_add_printf(out,
                                  "# HELP process_open_fds Open file descriptors.\n"
                                  "# TYPE process_open_fds gauge\nprocess_open_fds %ld\n",
                                  fds) < 0;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        rc |= evbuffer_add_printf(out,
                                  "# HELP process_max_fds The most file descriptors it may open.\n"
                                  "# TYPE process_max_fds gauge\nprocess_max_fds %llu\n",
                                  (unsigned long long)rl.rlim_cur) < 0;
    if (started_at > 0)
        rc |= evbuffer_add_printf(out,
                                  "# HELP process_start_time_seconds Start time of the process "
                                  "since the epoch, in seconds.\n"
                                  "# TYPE process_start_time_seconds gauge\n"
                                  "process_start_time_seconds %.3f\n",
                                  started_at) < 0;
    return rc ? -1 : 0;
}
