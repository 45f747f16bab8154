/*
 * The keyring (see keyring.h): a small table of named private keys and
 * the byte-level operations on them.  Keys come from "file:" references
 * only for now; the scheme is parsed in one place (ref_path()) so that a
 * "pkcs11:" loader can be added beside it.  Private key material is read
 * into OpenSSL's secure heap and cleansed; EVP_PKEYs never leave this
 * file.  New key files are written with lib/util's atomic writer.
 *
 * Locking: the table is guarded by a read-write lock.  Loads and
 * certificate attachments take it for writing; every operation takes it
 * for reading, and OpenSSL allows any number of threads to use one
 * EVP_PKEY at once, each with its own EVP_PKEY_CTX.
 */
#include "keyring/keyring.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <scep/error.h>
#include <scep/limits.h>

#include "util/atomic_file.h"

/* Most keys one keyring holds: CA, RA, next CA, next RA and the archive
 * keys of a few rollovers are far fewer. */
#define KR_MAX_KEYS 64
/* Largest certificate DER a key may carry. */
#define KR_MAX_CERT (64 * 1024)
/* Largest key file read: an unencrypted PEM RSA-8192 key is under 7 KB. */
#define KR_MAX_KEY_FILE (64 * 1024)

/*
 * Private-key operations done by every keyring of the process
 * (scep_keyring_private_ops()).  Process-wide on purpose: it measures
 * the CA's work however many keyrings and workers share it, and a test
 * uses it to show that a refused request cost no RSA operation.  Key
 * handles (keyhandle_ops.c) reach private keys only through
 * scep_keyring_sign_digest() and scep_keyring_decrypt(), so counting
 * there counts every operation exactly once, whichever path it took.
 */
static _Atomic uint64_t kr_private_ops;

/* Digests a signature may be made over, fetched once per keyring. */
static const char *const kr_md_names[] = {"SHA1", "SHA224", "SHA256", "SHA384", "SHA512"};
#define KR_NUM_MDS (sizeof(kr_md_names) / sizeof(kr_md_names[0]))

struct kr_key {
    char *ref;
    EVP_PKEY *pkey;      /* the private key */
    unsigned char *spki; /* SubjectPublicKeyInfo DER */
    size_t spki_len;
    unsigned char *cert; /* attached certificate DER, NULL: none */
    size_t cert_len;
    struct scep_keyring_info info;
};

struct scep_keyring {
    atomic_int refs;
    pthread_rwlock_t lock;
    struct kr_key *keys[KR_MAX_KEYS];
    size_t n;
    EVP_MD *mds[KR_NUM_MDS];
    char err[256]; /* last load/generate failure, under the write lock */
};

static void key_free(struct kr_key *k)
{
    if (k == NULL)
        return;
    free(k->ref);
    EVP_PKEY_free(k->pkey); /* OpenSSL cleanses the key material */
    free(k->spki);
    free(k->cert);
    free(k);
}

/* Records why a load or generate failed; called with the write lock held. */
static void set_err(struct scep_keyring *kr, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(kr->err, sizeof(kr->err), fmt, ap);
    va_end(ap);
}

/* Makes an empty keyring.  *out: release with scep_keyring_free(). */
int scep_keyring_new(struct scep_keyring **out)
{
    struct scep_keyring *kr = NULL;
    size_t i;
    int rc = SCEP_ERR_NOMEM;

    if (out == NULL)
        return SCEP_ERR_INVALID_ARG;
    kr = calloc(1, sizeof(*kr));
    if (kr == NULL)
        goto out;
    atomic_init(&kr->refs, 1);
    if (pthread_rwlock_init(&kr->lock, NULL) != 0) {
        free(kr);
        kr = NULL;
        goto out;
    }
    /* Fetched once here rather than per signature: an explicit fetch
     * takes a lock and searches the method store. */
    rc = SCEP_ERR_INTERNAL;
    for (i = 0; i < KR_NUM_MDS; i++) {
        if ((kr->mds[i] = EVP_MD_fetch(NULL, kr_md_names[i], NULL)) == NULL)
            goto out;
    }
    *out = kr;
    kr = NULL;
    rc = 0;
out:
    scep_keyring_free(kr);
    return rc;
}

/* Takes a reference; returns kr. */
struct scep_keyring *scep_keyring_up_ref(struct scep_keyring *kr)
{
    if (kr != NULL)
        atomic_fetch_add_explicit(&kr->refs, 1, memory_order_relaxed);
    return kr;
}

/* Drops a reference; the last one frees every key.  Accepts NULL. */
void scep_keyring_free(struct scep_keyring *kr)
{
    size_t i;

    if (kr == NULL)
        return;
    /* acq_rel: the last holder must see every other holder's use finished. */
    if (atomic_fetch_sub_explicit(&kr->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (i = 0; i < kr->n; i++)
        key_free(kr->keys[i]);
    for (i = 0; i < KR_NUM_MDS; i++)
        EVP_MD_free(kr->mds[i]);
    pthread_rwlock_destroy(&kr->lock);
    free(kr);
}

/* Text of the last failed load or generate; owned by kr. */
const char *scep_keyring_get0_error(const struct scep_keyring *kr)
{
    return kr != NULL ? kr->err : "";
}

/* The entry named ref, NULL when none; called with the lock held. */
static struct kr_key *find_key(const struct scep_keyring *kr, const char *ref)
{
    size_t i;

    if (ref == NULL)
        return NULL;
    for (i = 0; i < kr->n; i++) {
        if (strcmp(kr->keys[i]->ref, ref) == 0)
            return kr->keys[i];
    }
    return NULL;
}

/*
 * Splits a reference: *path gets the part after "file:".  Returns 0,
 * SCEP_ERR_INVALID_ARG (empty, too long, no scheme) or
 * SCEP_ERR_UNSUPPORTED (a scheme other than "file").  The reason goes
 * to kr's error text.
 */
static int ref_path(struct scep_keyring *kr, const char *ref, const char **path)
{
    size_t n, i;

    if (ref == NULL || (n = strnlen(ref, SCEP_KEYRING_MAX_REF + 1)) == 0 ||
        n > SCEP_KEYRING_MAX_REF) {
        set_err(kr, "key reference empty or longer than %d bytes", SCEP_KEYRING_MAX_REF);
        return SCEP_ERR_INVALID_ARG;
    }
    /* RFC 3986 3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
    for (i = 0; i < n && ref[i] != ':'; i++) {
        char c = ref[i];
        int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');

        if (!alpha && (i == 0 || !((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.')))
            break;
    }
    if (i == 0 || i == n || ref[i] != ':') {
        set_err(kr, "key reference has no scheme (expected file:PATH)");
        return SCEP_ERR_INVALID_ARG;
    }
    if (i != 4 || strncmp(ref, "file", 4) != 0) {
        set_err(kr, "key reference scheme \"%.*s:\" is not supported (only file:PATH)", (int)i,
                ref);
        return SCEP_ERR_UNSUPPORTED;
    }
    if (ref[5] == '\0') {
        set_err(kr, "key reference file: names no path");
        return SCEP_ERR_INVALID_ARG;
    }
    *path = ref + 5;
    return 0;
}

/*
 * Reads a key file through an fd whose mode has been checked on that
 * same fd, so a swap between check and read cannot slip a wider file in.
 * *out: free with OPENSSL_secure_clear_free(*out, *cap).
 */
static int read_private_file(struct scep_keyring *kr, const char *path, unsigned char **out,
                             size_t *len, size_t *cap_out)
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
        set_err(kr, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        set_err(kr, "%s: not a regular file", path);
        goto out;
    }
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        set_err(kr, "%s: key file is accessible by group or others (mode %03o, needs 0600)", path,
                (unsigned)(st.st_mode & 0777));
        rc = SCEP_ERR_PERMISSIONS;
        goto out;
    }
    if (st.st_size <= 0 || st.st_size > KR_MAX_KEY_FILE) {
        set_err(kr, "%s: key file empty or too large", path);
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
            set_err(kr, "%s: %s", path, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        off += (size_t)n;
    }
    *out = buf;
    *len = off;
    *cap_out = cap;
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
 * Wraps pkey (taken over on success) in a new table entry named ref:
 * checks type and size, encodes the public half.  *out: key_free().
 */
static int key_make(struct scep_keyring *kr, const char *ref, EVP_PKEY *pkey, struct kr_key **out)
{
    struct kr_key *k = NULL;
    unsigned char *p;
    int n, rc = SCEP_ERR_KEY;

    k = calloc(1, sizeof(*k));
    if (k == NULL || (k->ref = strdup(ref)) == NULL) {
        rc = SCEP_ERR_NOMEM;
        goto out;
    }
    k->info.bits = EVP_PKEY_get_bits(pkey);
    if (EVP_PKEY_is_a(pkey, "RSA")) {
        if (k->info.bits < SCEP_MIN_RSA_BITS || k->info.bits > SCEP_MAX_RSA_BITS) {
            set_err(kr, "RSA key of %d bits outside %d..%d", k->info.bits, SCEP_MIN_RSA_BITS,
                    SCEP_MAX_RSA_BITS);
            goto out;
        }
        k->info.type = SCEP_KEYRING_RSA;
    } else if (EVP_PKEY_is_a(pkey, "EC")) {
        k->info.type = SCEP_KEYRING_EC;
    } else {
        set_err(kr, "key is neither RSA nor EC");
        goto out;
    }
    /* EVP_PKEY_get_size(): the largest signature (an RSA modulus, or a
     * DER ECDSA-Sig-Value with its worst-case padding bytes). */
    n = EVP_PKEY_get_size(pkey);
    if (n <= 0 || n > SCEP_KEYRING_MAX_OUT)
        goto out;
    k->info.max_out = (size_t)n;
    /* i2d_PUBKEY() encodes only the public half. */
    n = i2d_PUBKEY(pkey, NULL);
    if (n <= 0 || (k->spki = malloc((size_t)n)) == NULL) {
        rc = n <= 0 ? SCEP_ERR_INTERNAL : SCEP_ERR_NOMEM;
        goto out;
    }
    p = k->spki;
    if (i2d_PUBKEY(pkey, &p) != n) {
        rc = SCEP_ERR_INTERNAL;
        goto out;
    }
    k->spki_len = (size_t)n;
    k->pkey = pkey;
    *out = k;
    k = NULL;
    rc = 0;
out:
    key_free(k);
    return rc;
}

/* Adds k to the table (write lock held).  Returns 0 or SCEP_ERR_TOO_LARGE. */
static int key_add(struct scep_keyring *kr, struct kr_key *k)
{
    if (kr->n >= KR_MAX_KEYS) {
        set_err(kr, "keyring full (%d keys)", KR_MAX_KEYS);
        return SCEP_ERR_TOO_LARGE;
    }
    kr->keys[kr->n++] = k;
    return 0;
}

/* Loads "file:PATH" into a new entry (write lock held).  *out: key_free(). */
static int load_file(struct scep_keyring *kr, const char *ref, const char *path,
                     struct kr_key **out)
{
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0;
    BIO *bio = NULL;
    EVP_PKEY *pkey = NULL;
    int rc;

    if ((rc = read_private_file(kr, path, &buf, &len, &cap)) != 0)
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
    if (pkey == NULL) {
        set_err(kr, "%s: not an unencrypted PEM private key", path);
        goto out;
    }
    if ((rc = key_make(kr, ref, pkey, out)) != 0)
        goto out;
    pkey = NULL;
out:
    EVP_PKEY_free(pkey);
    BIO_free(bio);
    if (buf != NULL)
        OPENSSL_secure_clear_free(buf, cap);
    ERR_clear_error();
    return rc;
}

/* Loads the key ref names (see keyring.h).  Returns 0 or SCEP_ERR_*. */
int scep_keyring_load(struct scep_keyring *kr, const char *ref)
{
    struct kr_key *k = NULL;
    const char *path = NULL;
    int rc;

    if (kr == NULL || ref == NULL)
        return SCEP_ERR_INVALID_ARG;
    if (pthread_rwlock_wrlock(&kr->lock) != 0)
        return SCEP_ERR_INTERNAL;
    kr->err[0] = '\0';
    if ((rc = ref_path(kr, ref, &path)) != 0)
        goto out;
    if (find_key(kr, ref) != NULL) {
        rc = 0;
        goto out;
    }
    if ((rc = load_file(kr, ref, path, &k)) != 0 || (rc = key_add(kr, k)) != 0)
        goto out;
    k = NULL;
    rc = 0;
out:
    pthread_rwlock_unlock(&kr->lock);
    key_free(k);
    return rc;
}

/*
 * Generates a key per spec into *out (free with EVP_PKEY_free()).
 * Returns 0, SCEP_ERR_INVALID_ARG (size, type or curve) or
 * SCEP_ERR_INTERNAL.
 */
static int key_gen(struct scep_keyring *kr, const struct scep_keyring_keyspec *spec, EVP_PKEY **out)
{
    if (spec->type == SCEP_KEYRING_RSA) {
        if (spec->rsa_bits < SCEP_MIN_RSA_BITS || spec->rsa_bits > SCEP_MAX_RSA_BITS) {
            set_err(kr, "RSA key size %d outside %d..%d", spec->rsa_bits, SCEP_MIN_RSA_BITS,
                    SCEP_MAX_RSA_BITS);
            return SCEP_ERR_INVALID_ARG;
        }
        *out = EVP_RSA_gen((unsigned int)spec->rsa_bits);
    } else if (spec->type == SCEP_KEYRING_EC && spec->ec_curve != NULL &&
               (strcmp(spec->ec_curve, "prime256v1") == 0 ||
                strcmp(spec->ec_curve, "secp384r1") == 0)) {
        *out = EVP_EC_gen(spec->ec_curve);
    } else {
        set_err(kr, "unsupported key type or curve");
        return SCEP_ERR_INVALID_ARG;
    }
    if (*out == NULL) {
        set_err(kr, "key generation failed");
        return SCEP_ERR_INTERNAL;
    }
    return 0;
}

/*
 * Generates a key, writes it 0600 atomically as unencrypted PKCS#8 PEM
 * and loads it (see keyring.h).  Returns 0 or SCEP_ERR_*.
 */
int scep_keyring_generate(struct scep_keyring *kr, const char *ref,
                          const struct scep_keyring_keyspec *spec)
{
    struct kr_key *k = NULL;
    EVP_PKEY *pkey = NULL;
    BIO *mem = NULL;
    const char *path = NULL;
    struct stat st;
    char *pem = NULL;
    long pem_len;
    int rc;

    if (kr == NULL || ref == NULL || spec == NULL)
        return SCEP_ERR_INVALID_ARG;
    if (pthread_rwlock_wrlock(&kr->lock) != 0)
        return SCEP_ERR_INTERNAL;
    kr->err[0] = '\0';
    if ((rc = ref_path(kr, ref, &path)) != 0)
        goto out;
    rc = SCEP_ERR_EXISTS;
    /* Checked before generating (which takes a while for RSA); the
     * exclusive write below is what finally refuses an existing file. */
    if (find_key(kr, ref) != NULL || lstat(path, &st) == 0) {
        set_err(kr, "%s: exists already", path);
        goto out;
    }
    if ((rc = key_gen(kr, spec, &pkey)) != 0)
        goto out;
    rc = SCEP_ERR_INTERNAL;
    /* A secure-memory BIO: the PEM text is cleansed when it is freed. */
    mem = BIO_new(BIO_s_secmem());
    if (mem == NULL || !PEM_write_bio_PrivateKey(mem, pkey, NULL, NULL, 0, NULL, NULL))
        goto out;
    pem_len = BIO_get_mem_data(mem, &pem);
    if (pem_len <= 0)
        goto out;
    if ((rc = util_write_atomic(path, pem, (size_t)pem_len, 0600, UTIL_WRITE_EXCL)) != 0) {
        set_err(kr, "%s: cannot write key file", path);
        goto out;
    }
    if ((rc = key_make(kr, ref, pkey, &k)) != 0)
        goto out;
    pkey = NULL;
    if ((rc = key_add(kr, k)) != 0)
        goto out;
    k = NULL;
    rc = 0;
out:
    pthread_rwlock_unlock(&kr->lock);
    key_free(k);
    BIO_free(mem);
    EVP_PKEY_free(pkey);
    ERR_clear_error();
    return rc;
}

/* Attaches a copy of a certificate DER to key ref (see keyring.h). */
int scep_keyring_set_cert(struct scep_keyring *kr, const char *ref, const unsigned char *der,
                          size_t len)
{
    struct kr_key *k;
    unsigned char *copy = NULL;
    int rc = SCEP_ERR_TOO_LARGE;

    if (kr == NULL || ref == NULL || der == NULL || len == 0)
        return SCEP_ERR_INVALID_ARG;
    if (len > KR_MAX_CERT)
        return rc;
    if ((copy = malloc(len)) == NULL)
        return SCEP_ERR_NOMEM;
    memcpy(copy, der, len);
    if (pthread_rwlock_wrlock(&kr->lock) != 0) {
        free(copy);
        return SCEP_ERR_INTERNAL;
    }
    rc = SCEP_ERR_NOT_FOUND;
    if ((k = find_key(kr, ref)) != NULL) {
        free(k->cert);
        k->cert = copy;
        k->cert_len = len;
        copy = NULL;
        rc = 0;
    }
    pthread_rwlock_unlock(&kr->lock);
    free(copy);
    return rc;
}

/* Copies src (n bytes) into a new malloc()ed *out.  Returns 0 or SCEP_ERR_NOMEM. */
static int copy_out(const unsigned char *src, size_t n, unsigned char **out, size_t *len)
{
    unsigned char *p = malloc(n);

    if (p == NULL)
        return SCEP_ERR_NOMEM;
    memcpy(p, src, n);
    *out = p;
    *len = n;
    return 0;
}

/* The certificate attached to key ref.  *der: free with free(). */
int scep_keyring_get1_cert(struct scep_keyring *kr, const char *ref, unsigned char **der,
                           size_t *len)
{
    const struct kr_key *k;
    int rc = SCEP_ERR_NOT_FOUND;

    if (kr == NULL || der == NULL || len == NULL)
        return SCEP_ERR_INVALID_ARG;
    if (pthread_rwlock_rdlock(&kr->lock) != 0)
        return SCEP_ERR_INTERNAL;
    if ((k = find_key(kr, ref)) != NULL && k->cert != NULL)
        rc = copy_out(k->cert, k->cert_len, der, len);
    pthread_rwlock_unlock(&kr->lock);
    return rc;
}

/* The SubjectPublicKeyInfo DER of key ref.  *der: free with free(). */
int scep_keyring_get1_spki(struct scep_keyring *kr, const char *ref, unsigned char **der,
                           size_t *len)
{
    const struct kr_key *k;
    int rc = SCEP_ERR_NOT_FOUND;

    if (kr == NULL || der == NULL || len == NULL)
        return SCEP_ERR_INVALID_ARG;
    if (pthread_rwlock_rdlock(&kr->lock) != 0)
        return SCEP_ERR_INTERNAL;
    if ((k = find_key(kr, ref)) != NULL)
        rc = copy_out(k->spki, k->spki_len, der, len);
    pthread_rwlock_unlock(&kr->lock);
    return rc;
}

/* 0 when spki is key ref's public half byte for byte, else SCEP_ERR_KEY. */
int scep_keyring_spki_matches(struct scep_keyring *kr, const char *ref, const unsigned char *spki,
                              size_t len)
{
    const struct kr_key *k;
    int rc = SCEP_ERR_NOT_FOUND;

    if (kr == NULL || spki == NULL)
        return SCEP_ERR_INVALID_ARG;
    if (pthread_rwlock_rdlock(&kr->lock) != 0)
        return SCEP_ERR_INTERNAL;
    if ((k = find_key(kr, ref)) != NULL)
        rc = k->spki_len == len && memcmp(k->spki, spki, len) == 0 ? 0 : SCEP_ERR_KEY;
    pthread_rwlock_unlock(&kr->lock);
    return rc;
}

/* Fills *info for key ref.  Returns 0 or SCEP_ERR_NOT_FOUND. */
int scep_keyring_get_info(struct scep_keyring *kr, const char *ref, struct scep_keyring_info *info)
{
    const struct kr_key *k;
    int rc = SCEP_ERR_NOT_FOUND;

    if (kr == NULL || info == NULL)
        return SCEP_ERR_INVALID_ARG;
    if (pthread_rwlock_rdlock(&kr->lock) != 0)
        return SCEP_ERR_INTERNAL;
    if ((k = find_key(kr, ref)) != NULL) {
        *info = k->info;
        rc = 0;
    }
    pthread_rwlock_unlock(&kr->lock);
    return rc;
}

/* The prefetched digest that name names, NULL when it is not allowed. */
static const EVP_MD *find_md(const struct scep_keyring *kr, const char *name)
{
    size_t i;

    if (name == NULL)
        return NULL;
    /* EVP_MD_is_a() knows every alias ("SHA256", "SHA-256", "SHA2-256"). */
    for (i = 0; i < KR_NUM_MDS; i++) {
        if (EVP_MD_is_a(kr->mds[i], name))
            return kr->mds[i];
    }
    return NULL;
}

/* Signs a digest with key ref (see keyring.h).  Returns 0 or SCEP_ERR_*. */
int scep_keyring_sign_digest(struct scep_keyring *kr, const char *ref, const char *md,
                             const unsigned char *dgst, size_t dgst_len, unsigned char *sig,
                             size_t sig_cap, size_t *sig_len)
{
    const struct kr_key *k;
    const EVP_MD *m;
    EVP_PKEY_CTX *pctx = NULL;
    size_t n;
    int locked = 0, rc = SCEP_ERR_INVALID_ARG;

    if (kr == NULL || dgst == NULL || sig == NULL || sig_len == NULL)
        goto out;
    rc = SCEP_ERR_BAD_ALG;
    if ((m = find_md(kr, md)) == NULL)
        goto out;
    rc = SCEP_ERR_INVALID_ARG;
    if (dgst_len != (size_t)EVP_MD_get_size(m))
        goto out;
    rc = SCEP_ERR_INTERNAL;
    if (pthread_rwlock_rdlock(&kr->lock) != 0)
        goto out;
    locked = 1;
    rc = SCEP_ERR_NOT_FOUND;
    if ((k = find_key(kr, ref)) == NULL)
        goto out;
    rc = SCEP_ERR_TOO_LARGE;
    if (sig_cap < k->info.max_out)
        goto out;
    rc = SCEP_ERR_INTERNAL;
    /* EVP_PKEY_sign() on a digest: for RSA with the digest set, OpenSSL
     * wraps it in a DigestInfo and pads PKCS#1 v1.5 (its default); for EC
     * it returns the DER ECDSA-Sig-Value. */
    pctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);
    if (pctx == NULL || EVP_PKEY_sign_init(pctx) <= 0 ||
        EVP_PKEY_CTX_set_signature_md(pctx, m) <= 0)
        goto out;
    if (k->info.type == SCEP_KEYRING_RSA &&
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0)
        goto out;
    n = sig_cap;
    /* Counted when attempted: a failing signature costs the key as much. */
    atomic_fetch_add_explicit(&kr_private_ops, 1, memory_order_relaxed);
    if (EVP_PKEY_sign(pctx, sig, &n, dgst, dgst_len) <= 0)
        goto out;
    *sig_len = n;
    rc = 0;
out:
    if (locked)
        pthread_rwlock_unlock(&kr->lock);
    EVP_PKEY_CTX_free(pctx);
    if (rc != 0)
        ERR_clear_error();
    return rc;
}

/* Sets OAEP digests and label on pctx.  Returns 0, SCEP_ERR_BAD_ALG or SCEP_ERR_NOMEM. */
static int set_oaep(struct scep_keyring *kr, EVP_PKEY_CTX *pctx,
                    const struct scep_keyring_decrypt_opts *o)
{
    const EVP_MD *md, *mgf1;
    unsigned char *label = NULL;

    md = find_md(kr, o->oaep_md != NULL ? o->oaep_md : "SHA1");
    mgf1 = o->mgf1_md != NULL ? find_md(kr, o->mgf1_md) : md;
    if (md == NULL || mgf1 == NULL)
        return SCEP_ERR_BAD_ALG;
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
        EVP_PKEY_CTX_set_rsa_oaep_md(pctx, md) <= 0 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, mgf1) <= 0)
        return SCEP_ERR_INTERNAL;
    if (o->label != NULL && o->label_len > 0) {
        if (o->label_len > INT_MAX || (label = OPENSSL_memdup(o->label, o->label_len)) == NULL)
            return SCEP_ERR_NOMEM;
        /* set0: the context takes the label and frees it. */
        if (EVP_PKEY_CTX_set0_rsa_oaep_label(pctx, label, (int)o->label_len) <= 0) {
            OPENSSL_free(label);
            return SCEP_ERR_INTERNAL;
        }
    }
    return 0;
}

/* RSA-decrypts a key-transport blob with key ref (see keyring.h). */
int scep_keyring_decrypt(struct scep_keyring *kr, const char *ref,
                         const struct scep_keyring_decrypt_opts *o, const unsigned char *in,
                         size_t in_len, unsigned char *out, size_t out_cap, size_t *out_len)
{
    const struct kr_key *k;
    EVP_PKEY_CTX *pctx = NULL;
    size_t n;
    int locked = 0, rc = SCEP_ERR_INVALID_ARG;

    if (kr == NULL || o == NULL || in == NULL || out == NULL || out_len == NULL ||
        (o->pad != SCEP_KEYRING_PAD_PKCS1 && o->pad != SCEP_KEYRING_PAD_OAEP))
        goto out;
    rc = SCEP_ERR_INTERNAL;
    if (pthread_rwlock_rdlock(&kr->lock) != 0)
        goto out;
    locked = 1;
    rc = SCEP_ERR_NOT_FOUND;
    if ((k = find_key(kr, ref)) == NULL)
        goto out;
    rc = SCEP_ERR_KEY;
    if (k->info.type != SCEP_KEYRING_RSA)
        goto out;
    /* Both lengths are public: the ciphertext is at most one modulus
     * long (RFC 8017 makes it exactly that; OpenSSL, and so scepd before
     * the keyring, also takes one whose leading zero bytes were dropped),
     * and the output buffer must hold any plaintext that fits in one. */
    rc = SCEP_ERR_INVALID_ARG;
    if (in_len == 0 || in_len > k->info.max_out || out_cap < k->info.max_out)
        goto out;
    rc = SCEP_ERR_INTERNAL;
    pctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);
    if (pctx == NULL || EVP_PKEY_decrypt_init(pctx) <= 0)
        goto out;
    if (o->pad == SCEP_KEYRING_PAD_OAEP) {
        if ((rc = set_oaep(kr, pctx, o)) != 0)
            goto out;
    } else if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0) {
        goto out;
    }
    /* The PKCS#1 v1.5 context is left as OpenSSL makes it: a
     * constant-time padding check, and implicit rejection (a
     * deterministic random answer instead of an error) on releases that
     * have it.  Nothing here branches on the plaintext. */
    rc = SCEP_ERR_DECRYPT;
    n = out_cap;
    /* Counted whether or not the padding checks out: the RSA operation
     * is done either way. */
    atomic_fetch_add_explicit(&kr_private_ops, 1, memory_order_relaxed);
    if (EVP_PKEY_decrypt(pctx, out, &n, in, in_len) <= 0)
        goto out;
    *out_len = n;
    rc = 0;
out:
    if (locked)
        pthread_rwlock_unlock(&kr->lock);
    EVP_PKEY_CTX_free(pctx);
    if (rc != 0)
        ERR_clear_error();
    return rc;
}

/* Private-key operations of the process so far (see keyring.h). */
uint64_t scep_keyring_private_ops(void)
{
    return atomic_load_explicit(&kr_private_ops, memory_order_relaxed);
}
