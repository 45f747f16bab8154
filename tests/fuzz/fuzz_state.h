/*
 * The throwaway state directory of the harnesses that run the server's
 * code on a real CA and store (fuzz_service, fuzz_ocsp): made at
 * start-up under $TMPDIR, else /dev/shm (SQLite's fsync per commit costs
 * nothing there), else /tmp, holding the fixed fuzz CA
 * (fuzz_service_ca.h with the key of fuzz_identity.h) as ca.crt and
 * ca.key (0600: scep_ca_load refuses a key others may read), and removed
 * at exit.  Header-only, like the other fuzz fixtures; test-only.
 */
#ifndef SCEP_FUZZ_STATE_H
#define SCEP_FUZZ_STATE_H

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_identity.h"
#include "fuzz_service_ca.h"

/* Writes len bytes of text to dir/name, created 0600.  Returns 0 or -1. */
static inline int fuzz_state_write(const char *dir, const char *name, const char *text, size_t len)
{
    char path[600];
    int fd, n = snprintf(path, sizeof(path), "%s/%s", dir, name);
    ssize_t w;

    if (n < 0 || (size_t)n >= sizeof(path))
        return -1;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return -1;
    w = write(fd, text, len);
    if (close(fd) != 0 || w < 0 || (size_t)w != len)
        return -1;
    return 0;
}

/* Removes dir, which holds only plain files (the CA, the database and
 * SQLite's -wal/-shm).  Accepts "". */
static inline void fuzz_state_remove(const char *dir)
{
    DIR *d;
    struct dirent *e;
    char path[600];

    if (dir[0] == '\0' || (d = opendir(dir)) == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        int n;

        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        n = snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (n > 0 && (size_t)n < sizeof(path))
            (void)unlink(path);
    }
    closedir(d);
    (void)rmdir(dir);
}

/*
 * Makes a new directory named after harness in dir (size bytes) and
 * writes the fuzz CA into it.  Aborts on failure: a harness without its
 * state has nothing to run.
 */
static inline void fuzz_state_create(const char *harness, char *dir, size_t size)
{
    const char *base = getenv("TMPDIR");
    int n;

    if (base == NULL || base[0] == '\0')
        base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    n = snprintf(dir, size, "%s/%s.XXXXXX", base, harness);
    if (n < 0 || (size_t)n >= size || mkdtemp(dir) == NULL)
        abort();
    if (fuzz_state_write(dir, "ca.crt", fuzz_service_ca_pem, strlen(fuzz_service_ca_pem)) != 0 ||
        fuzz_state_write(dir, "ca.key", fuzz_key_pem, strlen(fuzz_key_pem)) != 0) {
        fuzz_state_remove(dir);
        abort();
    }
}

#endif
