/*
 * Key handles: the unprivileged side of the keyring.  A handle is an
 * OpenSSL EVP_PKEY that holds no private key, only a keyring reference
 * and the public half.  lib/ca and lib/msg pass it to X509_sign(),
 * X509_CRL_sign(), CMS_add1_signer() and CMS_decrypt() like any key; a
 * small built-in OpenSSL provider behind it hashes in-process and sends
 * only the digest (scep_keyring_sign_digest()) or the wrapped content
 * key (scep_keyring_decrypt()) to the keyring.
 *
 * This file and keyhandle.c (with keyhandle_ops.c behind it) are the
 * only place that builds such EVP_PKEYs.  A handle may be used from any
 * number of threads at once; build it once (at CA load), not per
 * request.
 */
#ifndef SCEP_KEYRING_KEYHANDLE_H
#define SCEP_KEYRING_KEYHANDLE_H

#include <openssl/evp.h>

#include "keyring/keyring.h"

/*
 * Makes a handle for key ref of kr (which must be loaded).  The handle
 * takes a reference on kr.  Returns 0, SCEP_ERR_NOT_FOUND, SCEP_ERR_KEY
 * or SCEP_ERR_INTERNAL.  *out: free with EVP_PKEY_free().
 */
int scep_keyhandle_new(struct scep_keyring *kr, const char *ref, EVP_PKEY **out);

/*
 * The public key of key ref as an ordinary OpenSSL key (decoded from the
 * keyring's SubjectPublicKeyInfo), for X509_set_pubkey() and
 * verification.  Returns 0 or SCEP_ERR_*.  *out: free with
 * EVP_PKEY_free().
 */
int scep_keyhandle_get1_pubkey(struct scep_keyring *kr, const char *ref, EVP_PKEY **out);

#endif
