/*
 * Crash-safe file replacement for every program and server library:
 * the one writer behind the CA's state files (lib/ca), scepc's keys and
 * certificates, and scepctl's CRL output.  A temp file beside the target
 * is created with O_EXCL and mode 0600, written in full, given its final
 * mode, fsynced, renamed over the target, and the directory is fsynced so
 * that the rename itself survives a power cut.  At every instant a
 * reader sees the old file or the complete new one, never a torn one.
 *
 * Part of the internal static library scep_util (lib/util/), which lib/ca
 * and the programs link; it is not in libscep.so.
 */
#ifndef SCEP_UTIL_ATOMIC_FILE_H
#define SCEP_UTIL_ATOMIC_FILE_H

#include <stddef.h>
#include <sys/types.h>

/* Flags of util_write_atomic(). */
#define UTIL_WRITE_EXCL 0x1u /* refuse with SCEP_ERR_EXISTS when path exists */

/*
 * Writes len bytes of data to path, replacing it atomically (see above),
 * with exactly mode as its permission bits (the umask does not narrow
 * them).  With UTIL_WRITE_EXCL an existing path is never replaced: the
 * temp file is linked into place, which fails instead of overwriting, so
 * two writers racing for the same name cannot both succeed.
 *
 * Returns 0; SCEP_ERR_INVALID_ARG; SCEP_ERR_TOO_LARGE when the temp name
 * would not fit PATH_MAX; SCEP_ERR_EXISTS (UTIL_WRITE_EXCL); or
 * SCEP_ERR_IO with errno set by the system call that failed.  On every
 * failure the temp file is removed and path is untouched, except when
 * only the final fsync of the directory failed (SCEP_ERR_IO): then path
 * already holds the new contents but may not survive a power cut.
 * Nothing is allocated.
 */
int util_write_atomic(const char *path, const void *data, size_t len, mode_t mode, unsigned flags);

/*
 * Copies the directory part of path into buf of n bytes ("." when there
 * is none, "/" for a name in the root).  Returns 0 or SCEP_ERR_TOO_LARGE;
 * allocates nothing.
 */
int util_dir_of(const char *path, char *buf, size_t n);

/*
 * Fsyncs directory dir, which is what makes a create or rename inside it
 * durable on Linux.  Returns 0 or SCEP_ERR_IO (errno set).
 */
int util_fsync_dir(const char *dir);

#endif
