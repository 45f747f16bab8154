/*
 * libFuzzer harness: the GetCACaps parser, and formatting what it found
 * (which must parse back to the same set).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
    char buf[256];
    unsigned caps = scep_caps_parse((const char *)data, size);
    int n = scep_caps_format(caps, buf, sizeof(buf));

    if (n < 0 || scep_caps_parse(buf, (size_t)n) != caps)
        abort();
    return 0;
}
