/* Hashing the secrets lib/admin mints (secret_hash.c); internal. */
#ifndef SCEP_ADMIN_SECRET_HASH_H
#define SCEP_ADMIN_SECRET_HASH_H

#include <stddef.h>

/* Lowercase hex SHA-256 of len bytes of secret into out (64 digits and a
 * NUL).  Returns 0 or SCEP_ERR_INTERNAL. */
int admin_secret_hash(const void *secret, size_t len, char out[65]);

#endif
