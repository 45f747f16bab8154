/*
 * libFuzzer harness: the whole server pipeline of a PKIOperation, as
 * scepd runs it for every POST body or decoded GET message= value.  At
 * start-up it makes a throwaway state directory holding the fixed fuzz
 * CA (fuzz_service_ca.h, with the key of fuzz_identity.h), opens a SQLite
 * store there and builds a scep_service with a challenge and renewals on;
 * each input then goes through scep_service_pkioperation(): decode,
 * verify, decrypt, authorise, issue, store, CertRep.  The seeds in
 * corpus/service are real requests encrypted to that CA, so mutations
 * reach the policy and storage code and not only the DER parser.
 *
 * Besides memory errors it checks one property: a 200 answer is a
 * CertRep that decodes and verifies with the CA's SCEP certificate.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <scep/scep.h>

#include "ca/ca.h"
#include "service/service.h"
#include "store/store.h"

#include "fuzz_identity.h"
#include "fuzz_state.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The challenge the PKCSReq seeds carry. */
#define FUZZ_CHALLENGE "fuzz-challenge"

static char state_dir[512];
static struct scep_ca *fuzz_ca;
static struct scep_store *fuzz_store;
static struct scep_service *fuzz_svc;

/* Removes the state directory (it holds only plain files: the CA, the
 * database and SQLite's -wal/-shm). */
static void cleanup(void)
{
    scep_service_free(fuzz_svc);
    scep_store_close(fuzz_store);
    scep_ca_free(fuzz_ca);
    fuzz_svc = NULL;
    fuzz_store = NULL;
    fuzz_ca = NULL;
    fuzz_state_remove(state_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct scep_service_config cfg;
    char uri[600];
    X509 *id_cert;
    EVP_PKEY *id_key;
    int n;

    (void)argc;
    (void)argv;
    if (scep_init() != 0 || fuzz_identity(&id_cert, &id_key) != 0)
        abort();
    fuzz_state_create("fuzz_service", state_dir, sizeof(state_dir));
    if (atexit(cleanup) != 0)
        abort();
    if (scep_ca_load(state_dir, &fuzz_ca) != 0)
        abort();
    /* The seeds are encrypted to this key: make sure it is the CA's. */
    if (X509_check_private_key(scep_ca_get0_scep_cert(fuzz_ca), id_key) != 1)
        abort();
    n = snprintf(uri, sizeof(uri), "sqlite:%s/scepd.db", state_dir);
    if (n < 0 || (size_t)n >= sizeof(uri) || scep_store_open(uri, &fuzz_store, NULL, 0) != 0)
        abort();
    memset(&cfg, 0, sizeof(cfg));
    cfg.def.challenge = FUZZ_CHALLENGE;
    cfg.def.allow_renewal = 1;
    if (scep_service_new(fuzz_ca, fuzz_store, &cfg, &fuzz_svc) != 0)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct scep_reply r;
    struct scep_msg *m = NULL;
    int rc;

    memset(&r, 0, sizeof(r));
    rc = scep_service_pkioperation(fuzz_svc, NULL, data, size, "fuzz", &r);
    if (rc == 0 && r.http_status == 200) {
        /* Whatever came in, what goes out is a CertRep signed by us. */
        if (r.body == NULL || scep_msg_decode(r.body, r.len, &m) != 0 ||
            scep_msg_type(m) != SCEP_MSG_CERTREP ||
            scep_msg_verify(m, scep_ca_get0_scep_cert(fuzz_ca)) != 0)
            abort();
        scep_msg_free(m);
    }
    scep_reply_clear(&r);
    return 0;
}
