/*
 * File-system helpers for the CA state directory.  Every file the CA
 * writes goes through the one atomic writer, util_write_atomic()
 * (lib/util/atomic_file.c: temp file with O_EXCL, fsync, rename, fsync of
 * the directory), so that a crash at any instant leaves either the old
 * file or the complete new one, never a torn one.  What is left here is
 * reading, directories, renames and paths.
 */
#include "ca/fsutil.h"
#include "util/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <scep/error.h>

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
 * Renames from to to, then fsyncs to's directory.  Returns 0 or SCEP_ERR_IO.
 */
int ca_rename(const char *from, const char *to)
{
    char dir[PATH_MAX];

    if (util_dir_of(to, dir, sizeof(dir)) != 0)
        return SCEP_ERR_TOO_LARGE;
    if (rename(from, to) != 0)
        return SCEP_ERR_IO;
    return util_fsync_dir(dir);
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
