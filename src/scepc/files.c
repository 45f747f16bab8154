/*
 * scepc file handling: reading keys and certificates (PEM or DER), and
 * writing results atomically through the shared writer
 * util_write_atomic() (lib/util/atomic_file.h: a temporary file in the
 * same directory, fsynced, renamed over the target, directory fsynced)
 * so that a reader (a VPN daemon, a crash, a failed run) never sees half
 * a file.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/pem.h>

#include "scepc.h"
#include "util/atomic_file.h"

/* True when path names an existing file. */
int file_exists(const char *path)
{
    struct stat st;

    return path != NULL && stat(path, &st) == 0;
}

/* Reads a private key in PEM or DER.  *out: EVP_PKEY_free().  Returns 0,
 * SCEP_ERR_NOT_FOUND or SCEP_ERR_IO. */
int load_key(const char *path, EVP_PKEY **out)
{
    BIO *b = BIO_new_file(path, "rb");
    EVP_PKEY *k;

    if (b == NULL)
        return errno == ENOENT ? SCEP_ERR_NOT_FOUND : SCEP_ERR_IO;
    k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    if (k == NULL) {
        (void)BIO_reset(b);
        k = d2i_PrivateKey_bio(b, NULL);
    }
    BIO_free(b);
    if (k == NULL)
        return SCEP_ERR_KEY;
    *out = k;
    return 0;
}

/* Reads the first certificate of a PEM or DER file.  *out: X509_free(). */
int load_cert(const char *path, X509 **out)
{
    BIO *b = BIO_new_file(path, "rb");
    X509 *x;

    if (b == NULL)
        return errno == ENOENT ? SCEP_ERR_NOT_FOUND : SCEP_ERR_IO;
    x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    if (x == NULL) {
        (void)BIO_reset(b);
        x = d2i_X509_bio(b, NULL);
    }
    BIO_free(b);
    if (x == NULL)
        return SCEP_ERR_DER;
    *out = x;
    return 0;
}

/* Writes a memory BIO's contents atomically. */
static int write_bio(const char *path, BIO *b, int mode)
{
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);

    if (n < 0)
        return SCEP_ERR_INTERNAL;
    return util_write_atomic(path, data, (size_t)n, (mode_t)mode, 0);
}

/* Writes key (PKCS#8, unencrypted) with mode 0600. */
int write_key(const char *path, EVP_PKEY *key, int format)
{
    BIO *b = BIO_new(BIO_s_mem());
    int ok, rc;

    if (b == NULL)
        return SCEP_ERR_NOMEM;
    ok = format == FMT_DER ? i2d_PrivateKey_bio(b, key)
                           : PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL);
    rc = ok ? write_bio(path, b, 0600) : SCEP_ERR_INTERNAL;
    BIO_free(b);
    return rc;
}

/* Writes certs[from .. from+count-1] (count < 0: to the end); DER holds
 * only the first of them, as DER has no way to concatenate. */
int write_certs(const char *path, STACK_OF(X509) *certs, int from, int count, int format)
{
    BIO *b = BIO_new(BIO_s_mem());
    int i, end, rc = SCEP_ERR_INTERNAL;

    if (b == NULL)
        return SCEP_ERR_NOMEM;
    end = count < 0 ? sk_X509_num(certs) : from + count;
    if (end > sk_X509_num(certs))
        end = sk_X509_num(certs);
    for (i = from; i < end; i++) {
        X509 *x = sk_X509_value(certs, i);

        if (format == FMT_DER) {
            if (!i2d_X509_bio(b, x))
                goto out;
            break;
        }
        if (!PEM_write_bio_X509(b, x))
            goto out;
    }
    rc = write_bio(path, b, 0644);
out:
    BIO_free(b);
    return rc;
}

/* Writes a CRL atomically, PEM or DER. */
int write_crl(const char *path, X509_CRL *crl, int format)
{
    BIO *b = BIO_new(BIO_s_mem());
    int ok, rc;

    if (b == NULL)
        return SCEP_ERR_NOMEM;
    ok = format == FMT_DER ? i2d_X509_CRL_bio(b, crl) : PEM_write_bio_X509_CRL(b, crl);
    rc = ok ? write_bio(path, b, 0644) : SCEP_ERR_INTERNAL;
    BIO_free(b);
    return rc;
}
