/*
 * Internals shared by keyhandle.c (the provider and its keymgmt) and
 * keyhandle_ops.c (its signature and asym-cipher): the key data behind
 * a handle, the digest table and the operation dispatch tables.
 * Nothing outside lib/keyring includes this.
 */
#ifndef SCEP_KEYRING_KEYHANDLE_INT_H
#define SCEP_KEYRING_KEYHANDLE_INT_H

#include <stddef.h>

#include <openssl/core.h>
#include <openssl/evp.h>

#include "keyring/keyring.h"

/* One digest the handles sign with: fetched once, with the DER
 * AlgorithmIdentifiers of its RSA and ECDSA signatures. */
struct kh_md {
    const char *name;
    EVP_MD *md;
    unsigned char aid_rsa[32], aid_ec[32];
    size_t aid_rsa_len, aid_ec_len;
};

/* A key: a keyring reference (kr NULL for a public key imported only to
 * be compared with a handle) and the public half. */
struct kh_key {
    int type; /* enum scep_keyring_type */
    struct scep_keyring *kr;
    char *ref;
    EVP_PKEY *pub;  /* default library context, public only */
    size_t max_out; /* from the keyring: signature / modulus bytes */
};

/*
 * The digest table entry for name (any OpenSSL alias: "SHA256",
 * "SHA2-256", ...), NULL when handles do not sign with it.  Borrowed
 * from a table that is read-only once the provider is loaded.
 */
const struct kh_md *kh_md_lookup(const char *name);

/* Dispatch tables of keyhandle_ops.c, registered by keyhandle.c. */
extern const OSSL_DISPATCH kh_sig_fns[];
extern const OSSL_DISPATCH kh_dec_fns[];

#endif
