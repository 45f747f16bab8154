/*
 * Small file-system helpers for the CA's state directory: crash-safe
 * writes (the shared atomic writer of lib/util), reading a whole small
 * file, and making private directories.  Internal to lib/ca.
 */
#ifndef SCEP_CA_FSUTIL_H
#define SCEP_CA_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

/* Largest file ca_read_file() accepts: certificates, keys and the
 * activate-at stamp are all far smaller. */
#define CA_MAX_FILE (1024 * 1024)

/*
 * Reads the whole file at path (at most CA_MAX_FILE bytes).  *out: free
 * with free().  SCEP_ERR_NOT_FOUND when it does not exist.
 */
int ca_read_file(const char *path, unsigned char **out, size_t *len);

/* Creates dir with mode 0700 unless it exists as a directory.
 * Returns 0 or SCEP_ERR_IO. */
int ca_mkdir_private(const char *dir);

/* Renames from to to and fsyncs the directory of to.  Returns 0 or SCEP_ERR_IO. */
int ca_rename(const char *from, const char *to);

/* Returns 1 when path exists (any type), 0 otherwise. */
int ca_path_exists(const char *path);

/* Joins dir and name into buf of size n.  Returns 0 or SCEP_ERR_TOO_LARGE. */
int ca_path_join(char *buf, size_t n, const char *dir, const char *name);

#endif
