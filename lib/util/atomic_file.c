/*
 * The one atomic file writer (see atomic_file.h).  Why each step:
 *   - the temp file sits in the target's directory, because rename(2) is
 *     atomic only within one file system;
 *   - it is created with O_EXCL | O_NOFOLLOW and a random name, so that a
 *     stale or planted file (or a symlink) is never written through, and
 *     two threads writing the same target each get their own temp file;
 *   - it starts as 0600 and gets its final mode with fchmod() only once
 *     written, so a private key is never readable by others and the
 *     umask cannot narrow a public file's mode;
 *   - fsync() of the file before rename(), and of the directory after,
 *     orders the data before the name on disk.
 */
#include "util/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include <scep/error.h>

/* The directory part of path (see atomic_file.h). */
int util_dir_of(const char *path, char *buf, size_t n)
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
        dlen = 1;
    if (dlen + 1 > n)
        return SCEP_ERR_TOO_LARGE;
    memcpy(buf, path, dlen);
    buf[dlen] = '\0';
    return 0;
}

/* Fsyncs a directory (see atomic_file.h). */
int util_fsync_dir(const char *dir)
{
    int fd, rc = SCEP_ERR_IO, saved;

    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return SCEP_ERR_IO;
    if (fsync(fd) == 0)
        rc = 0;
    saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

/* Writes all of data to fd, retrying after EINTR and short writes.
 * Returns 0 or SCEP_ERR_IO (errno set). */
static int write_all(int fd, const unsigned char *p, size_t len)
{
    size_t off = 0;

    while (off < len) {
        ssize_t n = write(fd, p + off, len - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return SCEP_ERR_IO;
        if (n == 0) {
            errno = EIO;
            return SCEP_ERR_IO;
        }
        off += (size_t)n;
    }
    return 0;
}

/* Writes data atomically to path (see atomic_file.h). */
int util_write_atomic(const char *path, const void *data, size_t len, mode_t mode, unsigned flags)
{
    char tmp[PATH_MAX], dir[PATH_MAX];
    unsigned char rnd[8];
    int fd = -1, rc = SCEP_ERR_IO, made = 0, saved, w;

    if (path == NULL || path[0] == '\0' || (data == NULL && len > 0) ||
        (flags & ~UTIL_WRITE_EXCL) != 0 || (mode & ~(mode_t)07777) != 0)
        return SCEP_ERR_INVALID_ARG;
    if (util_dir_of(path, dir, sizeof(dir)) != 0)
        return SCEP_ERR_TOO_LARGE;
    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        return SCEP_ERR_INTERNAL;
    w = snprintf(tmp, sizeof(tmp), "%s.tmp.%02x%02x%02x%02x%02x%02x%02x%02x", path, rnd[0], rnd[1],
                 rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    if (w < 0 || (size_t)w >= sizeof(tmp))
        return SCEP_ERR_TOO_LARGE;
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        goto out;
    made = 1;
    if ((rc = write_all(fd, data, len)) != 0)
        goto out;
    rc = SCEP_ERR_IO;
    if (fchmod(fd, mode) != 0 || fsync(fd) != 0)
        goto out;
    w = close(fd);
    fd = -1;
    if (w != 0)
        goto out;
    if (flags & UTIL_WRITE_EXCL) {
        /* link() fails with EEXIST where rename() would replace. */
        if (link(tmp, path) != 0) {
            rc = errno == EEXIST ? SCEP_ERR_EXISTS : SCEP_ERR_IO;
            goto out;
        }
        (void)unlink(tmp);
    } else if (rename(tmp, path) != 0) {
        goto out;
    }
    made = 0;
    rc = util_fsync_dir(dir);
out:
    saved = errno;
    if (fd >= 0)
        close(fd);
    if (made)
        (void)unlink(tmp);
    errno = saved;
    return rc;
}
