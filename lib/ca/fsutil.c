/*
 * File-system helpers for the CA state directory.  Every file the CA
 * writes goes through ca_write_file() so that a crash at any instant
 * leaves either the old file or the complete new one, never a torn one:
 * the data is written to a temp name created with O_EXCL (so a stale or
 * hostile file cannot be reused), fsynced, renamed into place, and the
 * directory is fsynced so the rename itself survives a power cut.
 */
#include "ca/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include <scep/error.h>

/*
 * Copies the directory part of path into buf ("." when there is none).
 * Returns 0 or SCEP_ERR_TOO_LARGE.
 */
static int dir_of(const char *path, char *buf, size_t n)
{
    const char *slash = strrchr(path, '/');
    size_t dlen;

    if (slash == NULL) {
        if (n < 2)
            return SCEP_ERR_TOO_LARGE;
        memcpy(buf, ".", 2);
        return 0;
    }
    dlen = (size_t)(slash - path);
    if (dlen == 0)
        dlen = 1; /* "/name": the root directory */
    if (dlen + 1 > n)
        return SCEP_ERR_TOO_LARGE;
    memcpy(buf, path, dlen);
    buf[dlen] = '\0';
    return 0;
}

/*
 * Joins dir and name with one slash into buf of n bytes.  Returns 0 or
 * SCEP_ERR_TOO_LARGE when the result would not fit.
 */
int ca_path_join(char *buf, size_t n, const char *dir, const char *name)
{
    int w = snprintf(buf, n, "%s/%s", dir, name);

    if (w < 0 || (size_t)w >= n)
        return SCEP_ERR_TOO_LARGE;
    return 0;
}

/* Returns 1 when path names anything (lstat succeeds), else 0. */
int ca_path_exists(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0;
}

/*
 * Opens dir read-only and fsyncs it: on Linux this is what makes a
 * rename or create inside it durable.  Returns 0 or SCEP_ERR_IO.
 */
int ca_fsync_dir(const char *dir)
{
    int fd, rc = SCEP_ERR_IO;

    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return SCEP_ERR_IO;
    if (fsync(fd) == 0)
        rc = 0;
    close(fd);
    return rc;
}

/*
 * Renames from to to, then fsyncs to's directory.  Returns 0 or SCEP_ERR_IO.
 */
int ca_rename(const char *from, const char *to)
{
    char dir[PATH_MAX];

    if (dir_of(to, dir, sizeof(dir)) != 0)
        return SCEP_ERR_TOO_LARGE;
    if (rename(from, to) != 0)
        return SCEP_ERR_IO;
    return ca_fsync_dir(dir);
}

/*
 * Writes data atomically to path with mode (see fsutil.h).  The temp file
 * is removed on every failure path.  Returns 0 or SCEP_ERR_*.
 */
int ca_write_file(const char *path, const void *data, size_t len, mode_t mode, int exclusive)
{
    char tmp[PATH_MAX], dir[PATH_MAX];
    const unsigned char *p = data;
    int fd = -1, rc = SCEP_ERR_IO, made = 0;
    size_t off = 0;

    if (path == NULL || (data == NULL && len > 0))
        return SCEP_ERR_INVALID_ARG;
    if (dir_of(path, dir, sizeof(dir)) != 0)
        return SCEP_ERR_TOO_LARGE;
    {
        /* A random suffix: two threads writing the same path each get
         * their own temp file, and O_EXCL below never meets a stale one. */
        unsigned char rnd[8];
        int w;

        if (RAND_bytes(rnd, sizeof(rnd)) != 1)
            return SCEP_ERR_INTERNAL;
        w = snprintf(tmp, sizeof(tmp), "%s.tmp.%02x%02x%02x%02x%02x%02x%02x%02x", path, rnd[0],
                     rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
        if (w < 0 || (size_t)w >= sizeof(tmp))
            return SCEP_ERR_TOO_LARGE;
    }
    if (exclusive && ca_path_exists(path)) {
        rc = SCEP_ERR_EXISTS;
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        goto out;
    made = 1;
    /* The umask may have narrowed mode; fchmod makes it exact (and never wider
     * than the caller asked). */
    if (fchmod(fd, mode) != 0)
        goto out;
    while (off < len) {
        ssize_t n = write(fd, p + off, len - off);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            goto out;
        }
        off += (size_t)n;
    }
    if (fsync(fd) != 0)
        goto out;
    if (close(fd) != 0) {
        fd = -1;
        goto out;
    }
    fd = -1;
    if (exclusive) {
        /* link() fails with EEXIST instead of replacing, which closes the
         * race between the exists check above and the rename. */
        if (link(tmp, path) != 0) {
            rc = errno == EEXIST ? SCEP_ERR_EXISTS : SCEP_ERR_IO;
            goto out;
        }
        (void)unlink(tmp);
        made = 0;
    } else {
        if (rename(tmp, path) != 0)
            goto out;
        made = 0;
    }
    if (ca_fsync_dir(dir) != 0)
        goto out;
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (made)
        (void)unlink(tmp);
    return rc;
}

/*
 * Reads path whole, refusing files over CA_MAX_FILE.  *out is
 * NUL-terminated for convenience (not counted in *len); free with free().
 */
int ca_read_file(const char *path, unsigned char **out, size_t *len)
{
    unsigned char *buf = NULL;
    struct stat st;
    size_t off = 0;
    int fd = -1, rc = SCEP_ERR_IO;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = errno == ENOENT ? SCEP_ERR_NOT_FOUND : SCEP_ERR_IO;
        goto out;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        goto out;
    if (st.st_size < 0 || st.st_size > CA_MAX_FILE) {
        rc = SCEP_ERR_TOO_LARGE;
        goto out;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        rc = SCEP_ERR_NOMEM;
        goto out;
    }
    while (off < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + off, (size_t)st.st_size - off);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            goto out;
        }
        if (n == 0)
            break; /* shrank under us: take what is there */
        off += (size_t)n;
    }
    buf[off] = '\0';
    *out = buf;
    *len = off;
    buf = NULL;
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    free(buf);
    return rc;
}

/*
 * Creates dir 0700 if it is missing; an existing directory is accepted
 * as it is.  Returns 0 or SCEP_ERR_IO.
 */
int ca_mkdir_private(const char *dir)
{
    struct stat st;

    if (mkdir(dir, 0700) == 0)
        return 0;
    if (errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    return SCEP_ERR_IO;
}
