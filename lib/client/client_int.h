/*
 * Internal view of the libscep client handle, shared by client.c (caps,
 * CA certificates, HTTP) and pkiop.c (the PKIOperation exchanges).
 * The client_ functions below are hidden in libscep.so (only what
 * include/scep/ declares with SCEP_API is exported).
 */
#ifndef SCEP_CLIENT_INT_H
#define SCEP_CLIENT_INT_H

#include <scep/client.h>

struct scep_client {
    char *url;
    struct scep_transport transport;
    unsigned char pin[SCEP_FINGERPRINT_LEN];
    int has_pin;
    char *ca_ident;
    int method;
    int cipher;
    int digest;

    int have_caps;
    unsigned caps;

    STACK_OF(X509) *ca_certs; /* NULL until fetched */
    X509 *ca;                 /* borrowed from ca_certs */
    X509 *enc;
    X509 *sign;

    EVP_CIPHER *des; /* fetched on demand for SCEP_CIPHER_DES */

    int fail_info;
    char *fail_text;
    char error[512];
};

/* Records a sentence about the last failure (printf-style). */
void client_set_error(struct scep_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Sends one PKIOperation (der / len) by the method the caps call for and
 * returns the 200 response's body in *body / *blen (free with free()).
 * Returns 0, SCEP_ERR_HTTP (with the reason in c->error), SCEP_ERR_*.
 */
int client_pkioperation(struct scep_client *c, const unsigned char *der, size_t len,
                        unsigned char **body, size_t *blen);

#endif
