/*
 * The keyring: the only code in scepd that holds CA and RA private keys.
 * Its operations take and return bytes, never OpenSSL certificate, CRL,
 * CMS or key objects, so that the keys can move into a separate process
 * or a PKCS#11 token without callers changing:
 *
 *   - keys are named by a URI-like reference: "file:PATH" (a PEM private
 *     key no one but its owner may access) today; other schemes such as
 *     "pkcs11:" are refused with SCEP_ERR_UNSUPPORTED;
 *   - sign a digest that the caller computed (RSA PKCS#1 v1.5 with
 *     DigestInfo, or an ECDSA DER signature);
 *   - RSA-decrypt a key-transport blob (PKCS#1 v1.5 or OAEP);
 *   - hand out the public half: SubjectPublicKeyInfo DER, type and size,
 *     and the certificate DER a loader attached to the key.
 *
 * What the keyring receives is a digest, a wrapped key or a reference: it
 * parses no client bytes.  Certificates, CRLs and CMS are assembled on
 * the unprivileged side (see keyhandle.h, which wraps these operations in
 * an OpenSSL EVP_PKEY for lib/ca and lib/msg).
 *
 * A keyring is reference counted.  Every operation is safe to call from
 * several threads at once, also while another thread loads a key.
 */
#ifndef SCEP_KEYRING_KEYRING_H
#define SCEP_KEYRING_KEYRING_H

#include <stddef.h>
#include <stdint.h>

/* Largest signature or decrypted block the keyring produces (bytes): an
 * RSA modulus of SCEP_MAX_RSA_BITS (8192). */
#define SCEP_KEYRING_MAX_OUT 1024
/* Longest key reference accepted, scheme included. */
#define SCEP_KEYRING_MAX_REF 4096

struct scep_keyring; /* opaque, refcounted */

enum scep_keyring_type { SCEP_KEYRING_RSA = 0, SCEP_KEYRING_EC = 1 };

/* What a new key looks like (scep_keyring_generate()). */
struct scep_keyring_keyspec {
    int type;             /* enum scep_keyring_type */
    int rsa_bits;         /* RSA: SCEP_MIN_RSA_BITS..SCEP_MAX_RSA_BITS */
    const char *ec_curve; /* EC: "prime256v1" (P-256) or "secp384r1" (P-384) */
};

/* The public facts about a key. */
struct scep_keyring_info {
    int type;       /* enum scep_keyring_type */
    int bits;       /* RSA modulus or EC field size */
    size_t max_out; /* largest signature (or, RSA, decrypted block) in bytes */
};

enum scep_keyring_pad {
    SCEP_KEYRING_PAD_PKCS1 = 0, /* RSAES-PKCS1-v1_5 */
    SCEP_KEYRING_PAD_OAEP = 1   /* RSAES-OAEP */
};

/* How to decrypt (scep_keyring_decrypt()). */
struct scep_keyring_decrypt_opts {
    int pad;                    /* enum scep_keyring_pad */
    const char *oaep_md;        /* OAEP digest name; NULL: "SHA1" (RFC 8017 default) */
    const char *mgf1_md;        /* MGF1 digest name; NULL: the OAEP digest */
    const unsigned char *label; /* OAEP label; NULL: none */
    size_t label_len;
};

/* Makes an empty keyring.  *out: release with scep_keyring_free(). */
int scep_keyring_new(struct scep_keyring **out);

/* Takes a reference.  Returns kr. */
struct scep_keyring *scep_keyring_up_ref(struct scep_keyring *kr);

/* Drops a reference; the last one cleanses and frees every key.
 * Accepts NULL. */
void scep_keyring_free(struct scep_keyring *kr);

/*
 * Loads the key ref names into kr; later calls name it by the same
 * string.  "file:PATH": a PEM private key (RSA within the size limits,
 * or EC), read through the descriptor whose mode was checked; refused
 * with SCEP_ERR_PERMISSIONS when group or others may access it.
 * Returns 0 (also when ref is already loaded), SCEP_ERR_UNSUPPORTED for
 * another scheme, SCEP_ERR_INVALID_ARG for no scheme, SCEP_ERR_NOT_FOUND,
 * SCEP_ERR_KEY or SCEP_ERR_IO; scep_keyring_get0_error() says why.
 */
int scep_keyring_load(struct scep_keyring *kr, const char *ref);

/*
 * Generates a key as spec says, stores it where ref names ("file:PATH":
 * PKCS#8 PEM, mode 0600, written atomically; SCEP_ERR_EXISTS when PATH
 * exists) and loads it into kr.  Returns 0 or SCEP_ERR_*.
 */
int scep_keyring_generate(struct scep_keyring *kr, const char *ref,
                          const struct scep_keyring_keyspec *spec);

/*
 * Text of the last failed load or generate on kr ("" when none).  The
 * string belongs to kr and changes with the next load or generate.
 */
const char *scep_keyring_get0_error(const struct scep_keyring *kr);

/*
 * Attaches the certificate DER of key ref (copied; replaces an earlier
 * one).  The keyring keeps the bytes as given and does not parse them:
 * whoever attaches checks that the certificate belongs to the key.
 * Returns 0, SCEP_ERR_NOT_FOUND, SCEP_ERR_TOO_LARGE or SCEP_ERR_NOMEM.
 */
int scep_keyring_set_cert(struct scep_keyring *kr, const char *ref, const unsigned char *der,
                          size_t len);

/*
 * The certificate DER attached to key ref.  *der: free with free().
 * Returns 0, SCEP_ERR_NOT_FOUND (no such key or no certificate) or
 * SCEP_ERR_NOMEM.
 */
int scep_keyring_get1_cert(struct scep_keyring *kr, const char *ref, unsigned char **der,
                           size_t *len);

/*
 * The SubjectPublicKeyInfo DER of key ref.  *der: free with free().
 * Returns 0, SCEP_ERR_NOT_FOUND or SCEP_ERR_NOMEM.
 */
int scep_keyring_get1_spki(struct scep_keyring *kr, const char *ref, unsigned char **der,
                           size_t *len);

/*
 * Checks that spki (DER, len bytes) is the public half of key ref, byte
 * for byte as scep_keyring_get1_spki() encodes it (a certificate made
 * from this key carries exactly that encoding).  Returns 0 on a match,
 * SCEP_ERR_KEY on none, SCEP_ERR_NOT_FOUND without such a key.
 */
int scep_keyring_spki_matches(struct scep_keyring *kr, const char *ref, const unsigned char *spki,
                              size_t len);

/* Fills *info for key ref.  Returns 0 or SCEP_ERR_NOT_FOUND. */
int scep_keyring_get_info(struct scep_keyring *kr, const char *ref, struct scep_keyring_info *info);

/*
 * Signs a digest with key ref.  md names the digest algorithm ("SHA1",
 * "SHA224", "SHA256", "SHA384", "SHA512" or an OpenSSL alias of one);
 * dgst must be exactly that digest's length.  RSA keys produce a PKCS#1
 * v1.5 signature over the DigestInfo, EC keys a DER ECDSA-Sig-Value.
 * The signature goes to sig (sig_cap bytes), its length to *sig_len.
 * Returns 0, SCEP_ERR_NOT_FOUND, SCEP_ERR_BAD_ALG (unknown digest),
 * SCEP_ERR_INVALID_ARG (wrong digest length), SCEP_ERR_TOO_LARGE
 * (sig_cap below scep_keyring_info.max_out) or SCEP_ERR_INTERNAL.
 */
int scep_keyring_sign_digest(struct scep_keyring *kr, const char *ref, const char *md,
                             const unsigned char *dgst, size_t dgst_len, unsigned char *sig,
                             size_t sig_cap, size_t *sig_len);

/*
 * RSA-decrypts a key-transport blob (in, at most the modulus size) with
 * key ref as o says; the plaintext goes to out (out_cap bytes, at least
 * the modulus size), its length to *out_len.  For PKCS#1 v1.5 the
 * padding check is OpenSSL's constant-time one (with implicit rejection
 * where the OpenSSL release has it), and every failure is the same
 * SCEP_ERR_DECRYPT with the error queue cleared, so that the answer
 * tells a caller no more than "no key".  Callers that unwrap a content
 * key must still treat a failure like a wrong key (CMS does: it goes on
 * with a random key).  Returns 0, SCEP_ERR_NOT_FOUND, SCEP_ERR_KEY (not
 * an RSA key), SCEP_ERR_BAD_ALG (unknown OAEP digest),
 * SCEP_ERR_INVALID_ARG or SCEP_ERR_DECRYPT.
 */
int scep_keyring_decrypt(struct scep_keyring *kr, const char *ref,
                         const struct scep_keyring_decrypt_opts *o, const unsigned char *in,
                         size_t in_len, unsigned char *out, size_t out_cap, size_t *out_len);

/*
 * Private-key operations (signatures and decryptions, successful or not)
 * done by every keyring of this process since it started, whether asked
 * directly or through a key handle (keyhandle.h).  Each operation counts
 * once.  A relaxed atomic read: exact once the operations it should
 * cover have returned.
 */
uint64_t scep_keyring_private_ops(void);

#endif
