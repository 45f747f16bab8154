/*
 * libFuzzer harness: the GET message= decoder, and the encoder on what
 * it decoded (which must decode back to the same bytes).
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
    unsigned char *out = NULL, *back = NULL;
    size_t len = 0, blen = 0;
    char *enc = NULL;

    if (scep_query_message_decode((const char *)data, size, &out, &len) != 0)
        return 0;
    if (scep_query_message_encode(out, len, &enc) != 0 ||
        scep_query_message_decode(enc, strlen(enc), &back, &blen) != 0 || blen != len ||
        memcmp(back, out, len) != 0)
        abort();
    scep_free(back);
    scep_free(enc);
    scep_free(out);
    return 0;
}
