/*
 * Enrolling a device through the libscep client API: make a key and a
 * CSR, send a PKCSReq, print the issued certificate.  Build with
 * `cc enroll.c $(pkg-config --cflags --libs libscep)`.
 *
 * usage: example_enroll URL CHALLENGE SUBJECT    e.g. http://ca/scep s3cret CN=dev1
 */
#include <stdio.h>
#include <openssl/pem.h>
#include <scep/scep.h>

int main(int argc, char **argv)
{
    struct scep_client_options opt = {0};
    struct scep_client *c = NULL;
    EVP_PKEY *key = NULL;
    X509_REQ *csr = NULL;
    struct scep_txn *txn = NULL;
    STACK_OF(X509) *certs = NULL;
    int rc;

    if (argc != 4) {
        fprintf(stderr, "usage: %s URL CHALLENGE SUBJECT\n", argv[0]);
        return 2;
    }
    struct scep_csr_params p = {.subject = argv[3], .challenge = argv[2]};
    opt.url = argv[1];
    if ((rc = scep_init()) == 0 && (rc = scep_client_new(&opt, &c)) == 0 &&
        (rc = scep_key_generate_rsa(2048, &key)) == 0 && (rc = scep_csr_make(key, &p, &csr)) == 0 &&
        (rc = scep_txn_new_enroll(key, csr, &txn)) == 0 &&
        (rc = scep_client_enroll(c, txn, &certs)) == 0) {
        PEM_write_PrivateKey(stdout, key, NULL, NULL, 0, NULL, NULL);
        PEM_write_X509(stdout, sk_X509_value(certs, 0)); /* the issued certificate */
    } else {
        fprintf(stderr, "enroll: %s: %s\n", scep_strerror(rc), scep_client_get0_error(c));
    }
    sk_X509_pop_free(certs, X509_free);
    scep_txn_free(txn);
    X509_REQ_free(csr);
    EVP_PKEY_free(key);
    scep_client_free(c);
    return rc == 0 ? 0 : 1;
}
