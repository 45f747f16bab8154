/*
 * libFuzzer harness: a pkiMessage through decode, verify and decrypt
 * with the fixed fuzz identity (the seeds are encrypted to it).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <scep/scep.h>

#include "fuzz_identity.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One-time set-up outside the measured inputs, so that libFuzzer's leak
 * check does not count OpenSSL's provider and OID tables. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    X509 *cert;
    EVP_PKEY *key;

    (void)argc;
    (void)argv;
    if (scep_init() != 0 || fuzz_identity(&cert, &key) != 0)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct scep_msg *m = NULL;
    X509 *cert;
    EVP_PKEY *key;

    if (fuzz_identity(&cert, &key) != 0)
        return 0;
    if (scep_msg_decode(data, size, &m) != 0)
        return 0;
    (void)scep_msg_verify(m, NULL);
    (void)scep_msg_verify(m, cert);
    (void)scep_msg_decrypt(m, cert, key);
    scep_msg_free(m);
    return 0;
}
