/*
 * libFuzzer harness: the OCSP responder's request path, as scepd runs it
 * for every POST /ocsp body and decoded GET /ocsp/<base64>:
 * scep_admin_ocsp_answer() (lib/admin/ocsp.c) decodes the OCSPRequest,
 * finds each CertID's issuer, looks the serials up and signs the
 * answer.  At start-up it makes a throwaway state directory with the
 * fixed fuzz CA (fuzz_service_ca.h) and a SQLite store holding one
 * valid (serial 01) and one revoked (02, keyCompromise) certificate of
 * that CA, so that the seeds in corpus/ocsp (made with
 * "openssl ocsp -issuer fuzz-ca.pem -serial ... -reqout") reach every
 * answer: good, revoked, unknown, unauthorized, malformed; answers go
 * through a small response cache, as in scepd.
 *
 * Besides memory errors it checks: every input gets an OCSPResponse
 * that decodes, and a successful one verifies with the CA certificate.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ocsp.h>
#include <openssl/x509_vfy.h>

#include <scep/scep.h>

#include "admin/admin.h"
#include "ca/ca.h"
#include "store/store.h"

#include "fuzz_identity.h"
#include "fuzz_state.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char state_dir[512];
static struct scep_ca *fuzz_ca;
static struct scep_store *fuzz_store;
static X509_STORE *fuzz_trust;
static struct scep_ocsp_cache *fuzz_cache;

/* Removes the state directory (plain files only). */
static void cleanup(void)
{
    X509_STORE_free(fuzz_trust);
    scep_ocsp_cache_free(fuzz_cache);
    scep_store_close(fuzz_store);
    scep_ca_free(fuzz_ca);
    fuzz_state_remove(state_dir);
}

/* Stores a record for serial issued by the fuzz CA. */
static void add_cert(const char *serial, const char *issuer_fp)
{
    static const unsigned char der[1] = {0x30};
    struct scep_cert_info ci;
    int64_t now = (int64_t)time(NULL);

    memset(&ci, 0, sizeof(ci));
    ci.serial = (char *)serial;
    ci.issuer_fp = (char *)issuer_fp;
    ci.subject = (char *)"CN=fuzz";
    ci.not_before = now - 60;
    ci.not_after = now + 86400;
    ci.issued_at = now;
    ci.revocation_reason = -1;
    ci.der = (unsigned char *)der;
    ci.der_len = sizeof(der);
    if (scep_store_insert_cert(fuzz_store, &ci, NULL) != 0)
        abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char uri[600], fp[65];
    X509 *id_cert;
    EVP_PKEY *id_key;
    int n;

    (void)argc;
    (void)argv;
    if (scep_init() != 0 || fuzz_identity(&id_cert, &id_key) != 0)
        abort();
    fuzz_state_create("fuzz_ocsp", state_dir, sizeof(state_dir));
    if (atexit(cleanup) != 0)
        abort();
    if (scep_ca_load(state_dir, &fuzz_ca) != 0)
        abort();
    /* The signed seed is signed by this key: make sure it is the CA's. */
    if (X509_check_private_key(scep_ca_get0_cert(fuzz_ca), id_key) != 1)
        abort();
    n = snprintf(uri, sizeof(uri), "sqlite:%s/scepd.db", state_dir);
    if (n < 0 || (size_t)n >= sizeof(uri) || scep_store_open(uri, &fuzz_store, NULL, 0) != 0)
        abort();
    if (scep_cert_fingerprint(scep_ca_get0_cert(fuzz_ca), fp) != 0)
        abort();
    add_cert("01", fp);
    add_cert("02", fp);
    if (scep_store_revoke(fuzz_store, "02", 1, (int64_t)time(NULL), NULL) != 0)
        abort();
    if ((fuzz_trust = X509_STORE_new()) == NULL ||
        X509_STORE_add_cert(fuzz_trust, scep_ca_get0_cert(fuzz_ca)) != 1)
        abort();
    /* Small, so that collisions and replacement are exercised too. */
    if (scep_ocsp_cache_new(16, &fuzz_cache) != 0)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    OCSP_RESPONSE *resp = NULL;
    OCSP_BASICRESP *bs = NULL;
    unsigned char *out = NULL;
    const unsigned char *p;
    size_t len = 0;

    if (scep_admin_ocsp_answer(fuzz_store, fuzz_ca, NULL, fuzz_cache, data, size, 3600, &out, &len,
                               NULL) != 0)
        abort();
    p = out;
    if ((resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len)) == NULL || p != out + len)
        abort();
    if (OCSP_response_status(resp) == OCSP_RESPONSE_STATUS_SUCCESSFUL) {
        if ((bs = OCSP_response_get1_basic(resp)) == NULL ||
            OCSP_basic_verify(bs, NULL, fuzz_trust, 0) != 1)
            abort();
    }
    OCSP_BASICRESP_free(bs);
    OCSP_RESPONSE_free(resp);
    free(out);
    return 0;
}
