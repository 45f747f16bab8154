/*
 * libscep initialisation: loads the OpenSSL providers SCEP needs and
 * registers the RFC 8894 signed-attribute OIDs, once per process.  The
 * resulting table of ASN1_OBJECTs is written only inside a
 * CRYPTO_THREAD_run_once() and read-only afterwards, so every other
 * function of the message layer may use it from any thread.
 */
#include <stdlib.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/provider.h>

#include <scep/error.h>
#include <scep/message.h>

#include "msg_internal.h"

/* OIDs and names of the SCEP attributes, in enum msg_attr order. */
static const struct {
    const char *oid;
    const char *sn;
    const char *ln;
} attr_defs[MSG_ATTR_COUNT] = {
    {"2.16.840.1.113733.1.9.2", "messageType", "SCEP messageType"},
    {"2.16.840.1.113733.1.9.3", "pkiStatus", "SCEP pkiStatus"},
    {"2.16.840.1.113733.1.9.4", "failInfo", "SCEP failInfo"},
    {"2.16.840.1.113733.1.9.5", "senderNonce", "SCEP senderNonce"},
    {"2.16.840.1.113733.1.9.6", "recipientNonce", "SCEP recipientNonce"},
    {"2.16.840.1.113733.1.9.7", "transId", "SCEP transactionID"},
    {"1.3.6.1.5.5.7.24.1", "failInfoText", "SCEP failInfoText"},
};

/* Filled once by do_init() under CRYPTO_THREAD_run_once(). */
static const ASN1_OBJECT *attr_objs[MSG_ATTR_COUNT];
static int init_result = SCEP_ERR_INTERNAL;
/* Kept for the life of the process: a provider is unloaded when its last
 * handle goes, and holding them also keeps leak checkers from reporting
 * OpenSSL's provider tables at exit. */
static OSSL_PROVIDER *prov_legacy;
static OSSL_PROVIDER *prov_default;
static CRYPTO_ONCE init_once = CRYPTO_ONCE_STATIC_INIT;

/* The envelope ciphers SCEP allows (msg_envelope_*), and whether a
 * provider runs each: found once here, since a fetch by name per message
 * costs name lookups and a lock of OpenSSL's method store every time. */
static const int envelope_nids[] = {NID_aes_128_cbc, NID_aes_192_cbc, NID_aes_256_cbc,
                                    NID_des_ede3_cbc, NID_des_cbc};
#define NENVELOPE (sizeof(envelope_nids) / sizeof(envelope_nids[0]))
static int envelope_ok[NENVELOPE];

/* Single DES disappears when the legacy provider could not be loaded. */
static void find_ciphers(void)
{
    size_t i;

    for (i = 0; i < NENVELOPE; i++) {
        EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, OBJ_nid2sn(envelope_nids[i]), NULL);

        envelope_ok[i] = c != NULL;
        EVP_CIPHER_free(c);
    }
    ERR_clear_error();
}

static void do_init(void)
{
    size_t i;

    /*
     * Loading any provider explicitly stops OpenSSL from loading "default"
     * on its own, so both are loaded.  Single DES lives only in "legacy";
     * when that module is missing DES is simply unavailable and building
     * or opening a DES envelope reports SCEP_ERR_BAD_ALG.
     */
    prov_legacy = OSSL_PROVIDER_load(NULL, "legacy");
    if (prov_legacy == NULL)
        ERR_clear_error();
    if ((prov_default = OSSL_PROVIDER_load(NULL, "default")) == NULL)
        return;

    for (i = 0; i < MSG_ATTR_COUNT; i++) {
        /* OBJ_create() fails if the OID is already known (another library
         * in the process may have registered it), so ask first. */
        int nid = OBJ_txt2nid(attr_defs[i].oid);

        if (nid == NID_undef)
            nid = OBJ_create(attr_defs[i].oid, attr_defs[i].sn, attr_defs[i].ln);
        if (nid == NID_undef)
            return;
        /* OBJ_nid2obj() returns the table's own object: never freed. */
        attr_objs[i] = OBJ_nid2obj(nid);
        if (attr_objs[i] == NULL)
            return;
    }
    find_ciphers();
    init_result = 0;
}

/*
 * Loads the providers and registers the attribute OIDs.  Idempotent and
 * safe to call from several threads (later calls wait for the first).
 * Returns 0 or SCEP_ERR_INTERNAL when OpenSSL could not be set up.
 */
int scep_init(void)
{
    if (!CRYPTO_THREAD_run_once(&init_once, do_init))
        return SCEP_ERR_INTERNAL;
    return init_result;
}

/*
 * Used at the top of every entry point of the message layer so that a
 * caller who forgot scep_init() still gets registered OIDs.
 * Returns 0 or SCEP_ERR_INTERNAL.
 */
int msg_ready(void)
{
    return scep_init();
}

/*
 * 1 when nid is one of the envelope ciphers SCEP allows and a loaded
 * provider can run it, else 0 (also before a successful scep_init()).
 */
int msg_cipher_available(int nid)
{
    size_t i;

    for (i = 0; i < NENVELOPE; i++)
        if (envelope_nids[i] == nid)
            return envelope_ok[i];
    return 0;
}

/*
 * The registered ASN1_OBJECT for attribute a, borrowed from OpenSSL's
 * object table (never freed), or NULL before a successful scep_init().
 */
const ASN1_OBJECT *msg_attr_obj(enum msg_attr a)
{
    if ((int)a < 0 || a >= MSG_ATTR_COUNT)
        return NULL;
    return attr_objs[a];
}

/*
 * Frees a byte buffer or string that libscep returned.  They are all
 * allocated with OPENSSL_malloc(), so this is OPENSSL_free().
 */
void scep_free(void *p)
{
    OPENSSL_free(p);
}
