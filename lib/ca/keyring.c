/*
 * The keyring: the only code in scepd that holds CA and RA private keys.
 * A struct scep_key wraps one EVP_PKEY and offers narrow operations (sign
 * a certificate, sign a CRL, decrypt an envelope, sign a message) so that
 * the key can later live in a separate process or a PKCS#11 token without
 * touching the callers.  Keys are read only from files no one but the
 * owner may access, and written 0600 through the atomic writer in
 * fsutil.c.
 */
#include "ca/keyring.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <scep/error.h>
#include <scep/limits.h>
#include <scep/message.h>

#include "ca/ca.h"
#include "ca/fsutil.h"

struct scep_key {
    EVP_PKEY *pkey;
};

/*
 * Reads a key file through an fd whose mode has been checked on that
 * same fd, so a swap between check and read cannot slip a wider file in.
 * *out: cleanse and free with free_secret().
 */
static int read_private_file(const char *path, unsigned char **out, size_t *len)
{
    unsigned char *buf = NULL;
    size_t cap = 0, off = 0;
    struct stat st;
    int fd = -1, rc = SCEP_ERR_IO;

    /* Symlinks are followed (keys may live elsewhere); the mode check is on
     * what the fd actually opened. */
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = errno == ENOENT ? SCEP_ERR_NOT_FOUND : SCEP_ERR_IO;
        goto out;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        goto out;
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        rc = SCEP_ERR_PERMISSIONS;
        goto out;
    }
    if (st.st_size <= 0 || st.st_size > CA_MAX_FILE) {
        rc = st.st_size <= 0 ? SCEP_ERR_KEY : SCEP_ERR_TOO_LARGE;
        goto out;
    }
    cap = (size_t)st.st_size;
    buf = OPENSSL_secure_malloc(cap);
    if (buf == NULL) {
        rc = SCEP_ERR_NOMEM;
        goto out;
    }
    while (off < cap) {
        ssize_t n = read(fd, buf + off, cap - off);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            goto out;
        }
        if (n == 0)
            break;
        off += (size_t)n;
    }
    *out = buf;
    *len = off;
    buf = NULL;
    rc = 0;
out:
    if (buf != NULL)
        OPENSSL_secure_clear_free(buf, cap);
    if (fd >= 0)
        close(fd);
    return rc;
}

/*
 * Loads a PEM private key from path after checking that group and others
 * have no access to it.  *out: free with scep_key_free().
 */
int scep_key_load(const char *path, struct scep_key **out)
{
    struct scep_key *k = NULL;
    unsigned char *buf = NULL;
    size_t len = 0;
    BIO *bio = NULL;
    EVP_PKEY *pkey = NULL;
    int rc;

    if (path == NULL || out == NULL)
        return SCEP_ERR_INVALID_ARG;
    rc = read_private_file(path, &buf, &len);
    if (rc != 0)
        goto out;
    rc = SCEP_ERR_KEY;
    if (len > INT_MAX)
        goto out;
    bio = BIO_new_mem_buf(buf, (int)len);
    if (bio == NULL) {
        rc = SCEP_ERR_NOMEM;
        goto out;
    }
    /* With no callback OpenSSL takes the user data as the passphrase; an
     * empty one makes an encrypted key fail instead of prompting on a
     * terminal from inside the daemon. */
    pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, "");
    if (pkey == NULL)
        goto out;
    if (EVP_PKEY_is_a(pkey, "RSA")) {
        int bits = EVP_PKEY_get_bits(pkey);

        if (bits < SCEP_MIN_RSA_BITS || bits > SCEP_MAX_RSA_BITS)
            goto out;
    } else if (!EVP_PKEY_is_a(pkey, "EC")) {
        goto out;
    }
    k = calloc(1, sizeof(*k));
    if (k == NULL) {
        rc = SCEP_ERR_NOMEM;
        goto out;
    }
    k->pkey = pkey;
    pkey = NULL;
    *out = k;
    rc = 0;
out:
    EVP_PKEY_free(pkey);
    BIO_free(bio);
    if (buf != NULL)
        OPENSSL_secure_clear_free(buf, len);
    return rc;
}

/*
 * Generates an RSA or EC key, writes it as unencrypted PKCS#8 PEM to
 * path (0600, atomic, exclusive) and optionally returns it.
 * *out (when not NULL): free with scep_key_free().
 */
int scep_key_generate(const char *path, int key_type, int rsa_bits, int ec_curve,
                      struct scep_key **out)
{
    struct scep_key *k = NULL;
    EVP_PKEY *pkey = NULL;
    BIO *mem = NULL;
    char *pem = NULL;
    long pem_len;
    int rc = SCEP_ERR_INVALID_ARG;

    if (path == NULL)
        goto out;
    if (ca_path_exists(path)) {
        rc = SCEP_ERR_EXISTS;
        goto out;
    }
    if (key_type == SCEP_KEY_RSA) {
        if (rsa_bits < SCEP_MIN_RSA_BITS || rsa_bits > SCEP_MAX_RSA_BITS)
            goto out;
        pkey = EVP_RSA_gen((unsigned int)rsa_bits);
    } else if (key_type == SCEP_KEY_EC) {
        if (ec_curve != NID_X9_62_prime256v1 && ec_curve != NID_secp384r1)
            goto out;
        pkey = EVP_EC_gen(OBJ_nid2sn(ec_curve));
    } else {
        goto out;
    }
    rc = SCEP_ERR_INTERNAL;
    if (pkey == NULL)
        goto out;
    mem = BIO_new(BIO_s_secmem());
    if (mem == NULL)
        goto out;
    if (!PEM_write_bio_PrivateKey(mem, pkey, NULL, NULL, 0, NULL, NULL))
        goto out;
    pem_len = BIO_get_mem_data(mem, &pem);
    if (pem_len <= 0)
        goto out;
    rc = ca_write_file(path, pem, (size_t)pem_len, 0600, 1);
    if (rc != 0)
        goto out;
    if (out != NULL) {
        k = calloc(1, sizeof(*k));
        if (k == NULL) {
            rc = SCEP_ERR_NOMEM;
            goto out;
        }
        k->pkey = pkey;
        pkey = NULL;
        *out = k;
    }
    rc = 0;
out:
    /* The secure-memory BIO cleanses the PEM text when freed. */
    BIO_free(mem);
    EVP_PKEY_free(pkey);
    return rc;
}

/* Frees a key (OpenSSL cleanses key material on free).  Accepts NULL. */
void scep_key_free(struct scep_key *k)
{
    if (k == NULL)
        return;
    EVP_PKEY_free(k->pkey);
    free(k);
}

/*
 * Sets cert's SubjectPublicKeyInfo to this key's public half.  Returns 0
 * or SCEP_ERR_INTERNAL.  X509_set_pubkey() encodes only the public part.
 */
int scep_key_set_pubkey(const struct scep_key *k, X509 *cert)
{
    if (k == NULL || cert == NULL)
        return SCEP_ERR_INVALID_ARG;
    return X509_set_pubkey(cert, k->pkey) == 1 ? 0 : SCEP_ERR_INTERNAL;
}

/* Returns 1 when cert's public key equals this key's public half, else 0. */
int scep_key_matches(const struct scep_key *k, X509 *cert)
{
    EVP_PKEY *pub;

    if (k == NULL || cert == NULL)
        return 0;
    pub = X509_get0_pubkey(cert);
    if (pub == NULL)
        return 0;
    /* EVP_PKEY_eq() compares parameters and public components only;
     * it returns -1/-2 for mismatched types, which is "no" here. */
    return EVP_PKEY_eq(pub, k->pkey) == 1;
}

/* Signs cert with md (NULL: SHA-256).  Returns 0 or SCEP_ERR_INTERNAL. */
int scep_key_sign_cert(const struct scep_key *k, X509 *cert, const EVP_MD *md)
{
    if (k == NULL || cert == NULL)
        return SCEP_ERR_INVALID_ARG;
    /* X509_sign() returns the signature length, 0 on failure. */
    return X509_sign(cert, k->pkey, md != NULL ? md : EVP_sha256()) > 0 ? 0 : SCEP_ERR_INTERNAL;
}

/* Signs crl with md (NULL: SHA-256).  Returns 0 or SCEP_ERR_INTERNAL. */
int scep_key_sign_crl(const struct scep_key *k, X509_CRL *crl, const EVP_MD *md)
{
    if (k == NULL || crl == NULL)
        return SCEP_ERR_INVALID_ARG;
    return X509_CRL_sign(crl, k->pkey, md != NULL ? md : EVP_sha256()) > 0 ? 0 : SCEP_ERR_INTERNAL;
}

/*
 * Decrypts a decoded request's envelope with this key, cert selecting
 * the RecipientInfo.  Returns what scep_msg_decrypt() returns.
 */
int scep_key_decrypt_msg(const struct scep_key *k, X509 *cert, struct scep_msg *m)
{
    if (k == NULL || cert == NULL || m == NULL)
        return SCEP_ERR_INVALID_ARG;
    return scep_msg_decrypt(m, cert, k->pkey);
}

/*
 * Builds the message spec describes, signed as cert with this key, on a
 * private copy of spec.  *der: free with scep_free().
 */
int scep_key_build_msg(const struct scep_key *k, X509 *cert, const struct scep_msg_spec *spec,
                       unsigned char **der, size_t *len)
{
    struct scep_msg_spec s;

    if (k == NULL || cert == NULL || spec == NULL || der == NULL || len == NULL)
        return SCEP_ERR_INVALID_ARG;
    s = *spec;
    s.signer_cert = cert;
    s.signer_key = k->pkey;
    return scep_msg_build(&s, der, len);
}

/*
 * Builds a GetNextCACert body holding next_certs, signed as cert with
 * this key.  *der: free with scep_free().
 */
int scep_key_build_next_ca(const struct scep_key *k, X509 *cert, STACK_OF(X509) * next_certs,
                           unsigned char **der, size_t *len)
{
    if (k == NULL || cert == NULL || next_certs == NULL || der == NULL || len == NULL)
        return SCEP_ERR_INVALID_ARG;
    return scep_next_ca_build(next_certs, cert, k->pkey, NULL, der, len);
}
