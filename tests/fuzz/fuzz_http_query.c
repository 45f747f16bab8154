/*
 * libFuzzer harness: scepd's query-string splitting (src/scepd/query.c,
 * compiled into this program), which sees the raw request target of
 * every HTTP request.  Checks that the message= value it hands on lies
 * inside the input, that the operation is one of enum scepd_op, and
 * feeds the message= value to the base64 decoder as http.c does.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <scep/scep.h>

#include "scepd.h"

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
    const char *q = (const char *)data;
    struct scepd_query out;
    unsigned char *msg = NULL;
    size_t len = 0;

    scepd_query_parse(q, size, &out);
    if (out.op < SCEPD_OP_NONE || out.op >= SCEPD_OP_COUNT || scepd_op_name(out.op) == NULL)
        abort();
    if (out.message != NULL) {
        if (out.message < q || out.message > q + size ||
            out.message_len > (size_t)(q + size - out.message))
            abort();
        if (scep_query_message_decode(out.message, out.message_len, &msg, &len) == 0)
            scep_free(msg);
    } else if (out.message_len != 0) {
        abort();
    }
    return 0;
}
