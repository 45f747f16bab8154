/*
 * libFuzzer harness: the degenerate certs-only SignedData parser.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <scep/scep.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One-time set-up outside the measured inputs, so that libFuzzer's leak
 * check does not count OpenSSL's provider and OID tables. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (scep_init() != 0)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    STACK_OF(X509) *certs = NULL;
    STACK_OF(X509_CRL) *crls = NULL;

    if (scep_certs_only_parse(data, size, &certs, &crls) == 0) {
        sk_X509_pop_free(certs, X509_free);
        sk_X509_CRL_pop_free(crls, X509_CRL_free);
    }
    return 0;
}
