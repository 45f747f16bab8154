/*
 * The one way lib/admin keeps a secret it hands out (a one-time
 * challenge, an API token): the lowercase hex SHA-256 of its bytes, so
 * that the store can find it by equality and never holds the secret.
 */
#include <openssl/evp.h>

#include <scep/error.h>
#include "admin/secret_hash.h"

int admin_secret_hash(const void *secret, size_t len, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[32];
    unsigned int mdlen = 0;
    size_t i;

    if (!EVP_Digest(secret, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != sizeof(md))
        return SCEP_ERR_INTERNAL;
    for (i = 0; i < sizeof(md); i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0x0f];
    }
    out[64] = '\0';
    return 0;
}
