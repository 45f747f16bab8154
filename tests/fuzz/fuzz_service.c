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
#include "fuzz_service_ca.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The challenge the PKCSReq seeds carry. */
#define FUZZ_CHALLENGE "fuzz-challenge"

static char state_dir[512];
static struct scep_ca *fuzz_ca;
static struct scep_store *fuzz_store;
static struct scep_service *fuzz_svc;

/* Writes len bytes of text to dir/name, created 0600 (scep_ca_load
 * refuses a key file that group or others may read). */
static int write_file(const char *name, const char *text, size_t len)
{
    char path[600];
    int fd, n = snprintf(path, sizeof(path), "%s/%s", state_dir, name);
    ssize_t w;

    if (n < 0 || (size_t)n >= sizeof(path))
        return -1;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return -1;
    w = write(fd, text, len);
    if (close(fd) != 0 || w < 0 || (size_t)w != len)
        return -1;
    return 0;
}

/* Removes the state directory (it holds only plain files: the CA, the
 * database and SQLite's -wal/-shm). */
static void cleanup(void)
{
    DIR *d;
    struct dirent *e;
    char path[600];

    scep_service_free(fuzz_svc);
    scep_store_close(fuzz_store);
    scep_ca_free(fuzz_ca);
    fuzz_svc = NULL;
    fuzz_store = NULL;
    fuzz_ca = NULL;
    if (state_dir[0] == '\0' || (d = opendir(state_dir)) == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        int n;

        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        n = snprintf(path, sizeof(path), "%s/%s", state_dir, e->d_name);
        if (n > 0 && (size_t)n < sizeof(path))
            (void)unlink(path);
    }
    closedir(d);
    (void)rmdir(state_dir);
}

/* Picks a directory for the state: $TMPDIR, else /dev/shm (SQLite's fsync
 * per commit costs nothing there), else /tmp. */
static const char *temp_base(void)
{
    const char *t = getenv("TMPDIR");

    if (t != NULL && t[0] != '\0')
        return t;
    if (access("/dev/shm", W_OK) == 0)
        return "/dev/shm";
    return "/tmp";
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
    n = snprintf(state_dir, sizeof(state_dir), "%s/fuzz_service.XXXXXX", temp_base());
    if (n < 0 || (size_t)n >= sizeof(state_dir) || mkdtemp(state_dir) == NULL)
        abort();
    if (atexit(cleanup) != 0)
        abort();
    if (write_file("ca.crt", fuzz_service_ca_pem, strlen(fuzz_service_ca_pem)) != 0 ||
        write_file("ca.key", fuzz_key_pem, strlen(fuzz_key_pem)) != 0)
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
    cfg.challenge = FUZZ_CHALLENGE;
    cfg.allow_renewal = 1;
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
    rc = scep_service_pkioperation(fuzz_svc, data, size, "fuzz", &r);
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
