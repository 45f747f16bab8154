/*
 * libFuzzer harness: the webhook answer (lib/policy/webhook.h), bytes a
 * hook on the network chose.  The first byte picks the HTTP status the
 * verdict sees (200, 204, 500 or no answer with the rest as the
 * transport's text); the verdict must always be 0 or 1, with a why that
 * is a string of its buffer, and allow only on a 2xx.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/webhook.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int statuses[] = {200, 204, 500, 0};
    char why[160], terr[64];
    int status, v;

    if (size == 0)
        return 0;
    status = statuses[data[0] % 4];
    data++;
    size--;
    if (status == 0) {
        size_t n = size < sizeof(terr) - 1 ? size : sizeof(terr) - 1;

        memcpy(terr, data, n);
        terr[n] = '\0';
        v = scep_webhook_verdict(0, NULL, 0, terr, why, sizeof(why));
    } else
        v = scep_webhook_verdict(status, data, size, NULL, why, sizeof(why));
    if ((v != 0 && v != 1) || memchr(why, '\0', sizeof(why)) == NULL)
        abort();
    if (v == 1 && (status < 200 || status > 299 || why[0] != '\0'))
        abort();
    if (v == 0 && strncmp(why, "webhook ", 8) != 0)
        abort();
    return 0;
}
