/*
 * libFuzzer harness: the GetNextCACert answer, verified against the
 * fixed fuzz identity (the seeds are signed by it).
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
    STACK_OF(X509) *next = NULL;
    X509 *cert;
    EVP_PKEY *key;

    if (fuzz_identity(&cert, &key) != 0)
        return 0;
    if (scep_next_ca_parse(data, size, cert, &next) == 0)
        sk_X509_pop_free(next, X509_free);
    return 0;
}
