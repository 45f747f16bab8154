/*
 * libFuzzer harness: the decoder of files given to scepctl import
 * (scep_admin_parse_certs: PEM bundles with other blocks among them, or
 * one DER certificate), and turning every certificate it accepts into
 * the record the store would keep (scep_certinfo_from_x509), as the
 * import does before anything is stored.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <openssl/x509.h>

#include <scep/error.h>
#include <scep/scep.h>

#include "admin/admin.h"
#include "admin/certinfo.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One-time set-up outside the measured inputs (OpenSSL's tables). */
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
    STACK_OF(X509) *sk = NULL;
    struct scep_cert_info ci;
    char why[256];
    int i, rc;

    rc = scep_admin_parse_certs(data, size, 0, &sk, why, sizeof(why));
    if (rc != 0) {
        if (sk != NULL)
            abort(); /* nothing handed out on failure */
        return 0;
    }
    if (sk_X509_num(sk) < 1 || sk_X509_num(sk) > SCEP_ADMIN_IMPORT_CERTS_PER_FILE)
        abort();
    for (i = 0; i < sk_X509_num(sk); i++) {
        if (scep_certinfo_from_x509(sk_X509_value(sk, i), NULL, &ci) == 0)
            scep_certinfo_clear(&ci);
    }
    sk_X509_pop_free(sk, X509_free);
    return 0;
}
