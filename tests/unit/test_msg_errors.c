/*
 * Every rejection rule of the pkiMessage decoder, verifier and decrypter,
 * driven by messages built attribute by attribute with the raw builder of
 * test_msg_fixture.h, plus Apple-style BER with indefinite lengths, which
 * must be accepted.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_msg_fixture.h"

static struct fx F;
static unsigned char *csr_env; /* EnvelopedData of the CSR to the CA */
static size_t csr_env_len;

static int setup(void **state)
{
    unsigned char *csr;
    size_t clen;

    fx_init(&F);
    csr = fx_csr_der(F.csr, &clen);
    csr_env = raw_envelope(&F, csr, clen, 0, &csr_env_len);
    free(csr);
    return 0;
}

static int teardown(void **state)
{
    free(csr_env);
    fx_free(&F);
    return 0;
}

/* Decodes a raw message and returns scep_msg_decode's result. */
static int decode_raw(const struct raw_msg *r)
{
    struct scep_msg *m = NULL;
    size_t len;
    unsigned char *der = raw_build(&F, r, &len);
    int rc = scep_msg_decode(der, len, &m);

    if (rc != 0)
        assert_null(m);
    scep_msg_free(m);
    free(der);
    return rc;
}

static void raw_pkcsreq(struct raw_msg *r)
{
    memset(r, 0, sizeof(*r));
    r->nsigners = 1;
    r->content = csr_env;
    r->content_len = csr_env_len;
    raw_request_attrs(r, "19");
}

/* The raw builder itself makes acceptable messages. */
static void test_raw_baseline(void **state)
{
    struct raw_msg r;
    struct scep_msg *m = NULL;
    unsigned char *der;
    size_t len;

    raw_pkcsreq(&r);
    der = raw_build(&F, &r, &len);
    assert_int_equal(scep_msg_decode(der, len, &m), 0);
    assert_int_equal(scep_msg_verify(m, NULL), 0);
    assert_int_equal(scep_msg_decrypt(m, F.ca_cert, F.ca_key), 0);
    assert_non_null(scep_msg_get0_csr(m));
    assert_string_equal(scep_msg_get0_transaction_id(m), "tid-1");
    scep_msg_free(m);
    free(der);
}

static void test_size_and_framing(void **state)
{
    struct raw_msg r;
    struct scep_msg *m = NULL;
    unsigned char *der, *big;
    size_t len;

    raw_pkcsreq(&r);
    der = raw_build(&F, &r, &len);
    big = calloc(1, SCEP_MAX_MESSAGE + 1);
    assert_non_null(big);
    memcpy(big, der, len);
    /* trailing byte */
    assert_int_equal(scep_msg_decode(big, len + 1, &m), SCEP_ERR_TRAILING);
    /* truncated */
    assert_int_equal(scep_msg_decode(big, len - 1, &m), SCEP_ERR_DER);
    assert_int_equal(scep_msg_decode(big, 0, &m), SCEP_ERR_DER);
    /* oversize, refused before parsing */
    assert_int_equal(scep_msg_decode(big, SCEP_MAX_MESSAGE + 1, &m), SCEP_ERR_TOO_LARGE);
    /* garbage */
    memset(big, 0x30, 64);
    assert_int_equal(scep_msg_decode(big, 64, &m), SCEP_ERR_DER);
    assert_null(m);
    free(big);
    free(der);
}

static void test_not_signed(void **state)
{
    struct scep_msg *m = NULL;

    assert_int_equal(scep_msg_decode(csr_env, csr_env_len, &m), SCEP_ERR_NOT_SIGNED);
    assert_null(m);
}

static void test_signer_count(void **state)
{
    struct raw_msg r;
    STACK_OF(X509) *certs = sk_X509_new_null();
    struct scep_msg *m = NULL;
    unsigned char *der = NULL;
    size_t len;

    raw_pkcsreq(&r);
    r.nsigners = 2;
    assert_int_equal(decode_raw(&r), SCEP_ERR_SIGNER_COUNT);
    sk_X509_push(certs, F.ca_cert);
    assert_int_equal(scep_certs_only_build(certs, NULL, &der, &len), 0);
    assert_int_equal(scep_msg_decode(der, len, &m), SCEP_ERR_SIGNER_COUNT);
    scep_free(der);
    sk_X509_free(certs);
}

static void test_missing_attrs(void **state)
{
    struct raw_msg r;
    size_t skip;

    for (skip = 0; skip < 3; skip++) {
        raw_pkcsreq(&r);
        r.nattrs = 0;
        if (skip != 0)
            raw_add(&r, OID_MSGTYPE, V_ASN1_PRINTABLESTRING, "19", 2);
        if (skip != 1)
            raw_add(&r, OID_TRANSID, V_ASN1_PRINTABLESTRING, "tid-1", 5);
        if (skip != 2)
            raw_add(&r, OID_SNONCE, V_ASN1_OCTET_STRING, fx_nonce_a, 16);
        assert_int_equal(decode_raw(&r), SCEP_ERR_ATTR_MISSING);
    }
}

static void test_attr_types(void **state)
{
    struct raw_msg r;

    /* transactionID as UTF8String */
    raw_pkcsreq(&r);
    r.nattrs = 0;
    raw_add(&r, OID_MSGTYPE, V_ASN1_PRINTABLESTRING, "19", 2);
    raw_add(&r, OID_TRANSID, V_ASN1_UTF8STRING, "tid-1", 5);
    raw_add(&r, OID_SNONCE, V_ASN1_OCTET_STRING, fx_nonce_a, 16);
    assert_int_equal(decode_raw(&r), SCEP_ERR_ATTR_TYPE);
    /* senderNonce as PrintableString */
    raw_pkcsreq(&r);
    r.nattrs = 0;
    raw_add(&r, OID_MSGTYPE, V_ASN1_PRINTABLESTRING, "19", 2);
    raw_add(&r, OID_TRANSID, V_ASN1_PRINTABLESTRING, "tid-1", 5);
    raw_add(&r, OID_SNONCE, V_ASN1_PRINTABLESTRING, "AAAAAAAAAAAAAAAA", 16);
    assert_int_equal(decode_raw(&r), SCEP_ERR_ATTR_TYPE);
    /* messageType as INTEGER-ish IA5String */
    raw_pkcsreq(&r);
    r.nattrs = 0;
    raw_add(&r, OID_MSGTYPE, V_ASN1_IA5STRING, "19", 2);
    raw_add(&r, OID_TRANSID, V_ASN1_PRINTABLESTRING, "tid-1", 5);
    raw_add(&r, OID_SNONCE, V_ASN1_OCTET_STRING, fx_nonce_a, 16);
    assert_int_equal(decode_raw(&r), SCEP_ERR_ATTR_TYPE);
    /* a duplicated attribute */
    raw_pkcsreq(&r);
    raw_add(&r, OID_TRANSID, V_ASN1_PRINTABLESTRING, "tid-2", 5);
    assert_int_equal(decode_raw(&r), SCEP_ERR_ATTR_TYPE);
}

static void test_message_type(void **state)
{
    static const char *bad[] = {"18", "0", "4", "1234", "abc", "", "19 "};
    struct raw_msg r;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        raw_pkcsreq(&r);
        r.nattrs = 0;
        raw_request_attrs(&r, bad[i]);
        assert_int_equal(decode_raw(&r), SCEP_ERR_MSG_TYPE);
    }
}

static void test_nonce_and_transid(void **state)
{
    static const unsigned char n17[17] = {0};
    char longid[SCEP_MAX_TRANSID + 1];
    struct raw_msg r;

    raw_pkcsreq(&r);
    r.nattrs = 0;
    raw_add(&r, OID_MSGTYPE, V_ASN1_PRINTABLESTRING, "19", 2);
    raw_add(&r, OID_TRANSID, V_ASN1_PRINTABLESTRING, "tid-1", 5);
    raw_add(&r, OID_SNONCE, V_ASN1_OCTET_STRING, fx_nonce_a, 15);
    assert_int_equal(decode_raw(&r), SCEP_ERR_NONCE);
    r.attrs[2].data = n17;
    r.attrs[2].len = 17;
    assert_int_equal(decode_raw(&r), SCEP_ERR_NONCE);
    /* recipientNonce in a request is optional but must be 16 bytes */
    r.attrs[2].data = fx_nonce_a;
    r.attrs[2].len = 16;
    raw_add(&r, OID_RNONCE, V_ASN1_OCTET_STRING, fx_nonce_b, 8);
    assert_int_equal(decode_raw(&r), SCEP_ERR_NONCE);

    raw_pkcsreq(&r);
    r.nattrs = 0;
    raw_add(&r, OID_MSGTYPE, V_ASN1_PRINTABLESTRING, "19", 2);
    raw_add(&r, OID_TRANSID, V_ASN1_PRINTABLESTRING, "", 0);
    raw_add(&r, OID_SNONCE, V_ASN1_OCTET_STRING, fx_nonce_a, 16);
    assert_int_equal(decode_raw(&r), SCEP_ERR_TRANSID);
    /* OpenSSL does not check PrintableString contents; we do */
    r.attrs[1].data = "tid\n1";
    r.attrs[1].len = 5;
    assert_int_equal(decode_raw(&r), SCEP_ERR_TRANSID);
    r.attrs[1].data = "tid\0001";
    assert_int_equal(decode_raw(&r), SCEP_ERR_TRANSID);
    memset(longid, 'A', sizeof(longid));
    r.attrs[1].data = longid;
    r.attrs[1].len = (int)sizeof(longid);
    assert_int_equal(decode_raw(&r), SCEP_ERR_TRANSID);
    r.attrs[1].len = SCEP_MAX_TRANSID;
    assert_int_equal(decode_raw(&r), 0);
    /* base64 transaction IDs (micromdm) are PrintableString */
    r.attrs[1].data = "q+/Zx9=";
    r.attrs[1].len = 7;
    assert_int_equal(decode_raw(&r), 0);
}

static void test_no_signer_cert(void **state)
{
    struct raw_msg r;

    raw_pkcsreq(&r);
    r.no_certs = 1;
    assert_int_equal(decode_raw(&r), SCEP_ERR_NO_SIGNER_CERT);
}

static void test_not_enveloped(void **state)
{
    struct raw_msg r;
    unsigned char *csr;
    size_t clen;

    raw_pkcsreq(&r);
    csr = fx_csr_der(F.csr, &clen);
    r.content = csr;
    r.content_len = clen;
    assert_int_equal(decode_raw(&r), SCEP_ERR_NOT_ENVELOPED);
    r.content = NULL;
    r.content_len = 0;
    assert_int_equal(decode_raw(&r), SCEP_ERR_NOT_ENVELOPED);
    free(csr);
}

static void test_certrep_status(void **state)
{
    struct raw_msg r;

    memset(&r, 0, sizeof(r));
    r.nsigners = 1;
    raw_request_attrs(&r, "3");
    /* no pkiStatus */
    raw_add(&r, OID_RNONCE, V_ASN1_OCTET_STRING, fx_nonce_b, 16);
    assert_int_equal(decode_raw(&r), SCEP_ERR_STATUS);
    /* pkiStatus 1 is not defined */
    raw_add(&r, OID_STATUS, V_ASN1_PRINTABLESTRING, "1", 1);
    assert_int_equal(decode_raw(&r), SCEP_ERR_STATUS);
    /* FAILURE without failInfo */
    r.attrs[r.nattrs - 1].data = "2";
    assert_int_equal(decode_raw(&r), SCEP_ERR_STATUS);
    /* failInfo out of range */
    raw_add(&r, OID_FAILINFO, V_ASN1_PRINTABLESTRING, "5", 1);
    assert_int_equal(decode_raw(&r), SCEP_ERR_STATUS);
    r.attrs[r.nattrs - 1].data = "4";
    assert_int_equal(decode_raw(&r), 0);
    /* PENDING needs no failInfo; a CertRep needs its recipientNonce */
    memset(&r, 0, sizeof(r));
    r.nsigners = 1;
    raw_request_attrs(&r, "3");
    raw_add(&r, OID_STATUS, V_ASN1_PRINTABLESTRING, "3", 1);
    assert_int_equal(decode_raw(&r), SCEP_ERR_ATTR_MISSING);
    raw_add(&r, OID_RNONCE, V_ASN1_OCTET_STRING, fx_nonce_b, 16);
    assert_int_equal(decode_raw(&r), 0);
    /* SUCCESS needs an envelope */
    r.attrs[3].data = "0";
    assert_int_equal(decode_raw(&r), SCEP_ERR_NOT_ENVELOPED);
}

/* Flips the last byte of the signature or of the eContent. */
static unsigned char *tamper(const unsigned char *der, size_t len, int what, size_t *outlen)
{
    const unsigned char *p = der;
    CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
    ASN1_OCTET_STRING *os;
    unsigned char *out = NULL;
    int n;

    assert_non_null(cms);
    if (what == 0)
        os = CMS_SignerInfo_get0_signature(sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0));
    else
        os = *CMS_get0_content(cms);
    assert_non_null(os);
    {
        int l = ASN1_STRING_length(os);
        unsigned char *copy = malloc((size_t)l);

        memcpy(copy, ASN1_STRING_get0_data(os), (size_t)l);
        copy[l - 1] ^= 0x01;
        assert_int_equal(ASN1_OCTET_STRING_set(os, copy, l), 1);
        free(copy);
    }
    n = i2d_CMS_ContentInfo(cms, &out);
    assert_true(n > 0);
    *outlen = (size_t)n;
    CMS_ContentInfo_free(cms);
    return out;
}

static void test_tampered(void **state)
{
    struct scep_msg_spec s;
    struct scep_msg *m = NULL;
    unsigned char *der = NULL, *bad;
    size_t len, blen;
    int what;

    fx_request_spec(&F, &s, SCEP_MSG_PKCSREQ);
    assert_int_equal(scep_msg_build(&s, &der, &len), 0);
    for (what = 0; what < 2; what++) {
        bad = tamper(der, len, what, &blen);
        assert_int_equal(scep_msg_decode(bad, blen, &m), 0);
        assert_int_equal(scep_msg_verify(m, NULL), SCEP_ERR_SIGNATURE);
        assert_int_equal(scep_msg_verify(m, F.cl_cert), SCEP_ERR_SIGNATURE);
        scep_msg_free(m);
        m = NULL;
        OPENSSL_free(bad);
    }
    scep_free(der);
}

static void test_md5_refused(void **state)
{
    struct raw_msg r;
    struct scep_msg *m = NULL;
    unsigned char *der;
    size_t len;

    raw_pkcsreq(&r);
    r.md = EVP_md5();
    der = raw_build(&F, &r, &len);
    /* decoding still works, so a server can answer FAILURE badAlg */
    assert_int_equal(scep_msg_decode(der, len, &m), 0);
    assert_int_equal(scep_msg_digest_nid(m), NID_md5);
    assert_int_equal(scep_msg_verify(m, NULL), SCEP_ERR_BAD_ALG);
    scep_msg_free(m);
    free(der);
}

static void test_wrong_key(void **state)
{
    struct scep_msg_spec s;
    struct scep_msg *m = NULL;
    unsigned char *der = NULL;
    size_t len;
    int kt, rc;

    for (kt = SCEP_KT_RSA_PKCS1; kt <= SCEP_KT_RSA_OAEP; kt++) {
        fx_request_spec(&F, &s, SCEP_MSG_PKCSREQ);
        s.key_transport = kt;
        assert_int_equal(scep_msg_build(&s, &der, &len), 0);
        assert_int_equal(scep_msg_decode(der, len, &m), 0);
        /* not a recipient at all */
        assert_int_equal(scep_msg_decrypt(m, F.ot_cert, F.ot_key), SCEP_ERR_DECRYPT);
        /* the recipient's certificate with another key */
        rc = scep_msg_decrypt(m, F.ca_cert, F.ot_key);
        assert_true(rc == SCEP_ERR_DECRYPT || rc == SCEP_ERR_CONTENT);
        assert_null(scep_msg_get0_csr(m));
        assert_int_equal(scep_msg_decrypt(m, NULL, NULL), SCEP_ERR_INVALID_ARG);
        assert_int_equal(scep_msg_decrypt(m, F.ca_cert, F.ca_key), 0);
        scep_msg_free(m);
        m = NULL;
        scep_free(der);
    }
}

static void test_wrong_content(void **state)
{
    struct raw_msg r;
    struct scep_msg *m = NULL;
    unsigned char *der, *env, *cert = NULL, *csr, *csr2;
    size_t len, elen, clen;
    int n = i2d_X509(F.ca_cert, &cert);

    /* a certificate where a CSR should be */
    env = raw_envelope(&F, cert, (size_t)n, 0, &elen);
    raw_pkcsreq(&r);
    r.content = env;
    r.content_len = elen;
    der = raw_build(&F, &r, &len);
    assert_int_equal(scep_msg_decode(der, len, &m), 0);
    assert_int_equal(scep_msg_decrypt(m, F.ca_cert, F.ca_key), SCEP_ERR_CONTENT);
    assert_null(scep_msg_get0_csr(m));
    scep_msg_free(m);
    m = NULL;
    free(der);
    /* and a CSR where IssuerAndSerialNumber should be */
    raw_pkcsreq(&r);
    r.nattrs = 0;
    raw_request_attrs(&r, "21");
    der = raw_build(&F, &r, &len);
    assert_int_equal(scep_msg_decode(der, len, &m), 0);
    assert_int_equal(scep_msg_decrypt(m, F.ca_cert, F.ca_key), SCEP_ERR_CONTENT);
    scep_msg_free(m);
    m = NULL;
    free(der);
    free(env);
    /* a CSR followed by a stray byte */
    csr = fx_csr_der(F.csr, &clen);
    csr2 = malloc(clen + 1);
    memcpy(csr2, csr, clen);
    csr2[clen] = 0;
    env = raw_envelope(&F, csr2, clen + 1, 0, &elen);
    raw_pkcsreq(&r);
    r.content = env;
    r.content_len = elen;
    der = raw_build(&F, &r, &len);
    assert_int_equal(scep_msg_decode(der, len, &m), 0);
    assert_int_equal(scep_msg_decrypt(m, F.ca_cert, F.ca_key), SCEP_ERR_CONTENT);
    scep_msg_free(m);
    free(der);
    free(env);
    free(csr);
    free(csr2);
    OPENSSL_free(cert);
}

/* Apple sends BER with indefinite lengths, outside and in the envelope. */
static void test_ber_indefinite(void **state)
{
    struct raw_msg r;
    struct scep_msg *m = NULL;
    unsigned char *der, *env, *csr;
    size_t len, elen, clen;

    csr = fx_csr_der(F.csr, &clen);
    env = raw_envelope(&F, csr, clen, 1, &elen);
    assert_int_equal(env[1], 0x80);
    raw_pkcsreq(&r);
    r.content = env;
    r.content_len = elen;
    r.ber = 1;
    der = raw_build(&F, &r, &len);
    assert_int_equal(der[1], 0x80); /* outer SEQUENCE of indefinite length */
    assert_int_equal(scep_msg_decode(der, len, &m), 0);
    assert_int_equal(scep_msg_verify(m, NULL), 0);
    assert_int_equal(scep_msg_decrypt(m, F.ca_cert, F.ca_key), 0);
    assert_non_null(scep_msg_get0_csr(m));
    assert_int_equal(scep_msg_cipher_nid(m), NID_aes_128_cbc);
    scep_msg_free(m);
    m = NULL;
    /* trailing bytes after BER are still refused */
    der = realloc(der, len + 2);
    der[len] = 0;
    der[len + 1] = 0;
    assert_int_equal(scep_msg_decode(der, len + 2, &m), SCEP_ERR_TRAILING);
    free(der);
    free(env);
    free(csr);
}

static void test_names(void **state)
{
    assert_string_equal(scep_msg_type_name(SCEP_MSG_PKCSREQ), "PKCSReq");
    assert_string_equal(scep_msg_type_name(SCEP_MSG_CERTREP), "CertRep");
    assert_string_equal(scep_msg_type_name(SCEP_MSG_GETCRL), "GetCRL");
    assert_string_equal(scep_msg_type_name(18), "unknown");
    assert_int_equal(scep_init(), 0); /* idempotent */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raw_baseline),   cmocka_unit_test(test_size_and_framing),
        cmocka_unit_test(test_not_signed),     cmocka_unit_test(test_signer_count),
        cmocka_unit_test(test_missing_attrs),  cmocka_unit_test(test_attr_types),
        cmocka_unit_test(test_message_type),   cmocka_unit_test(test_nonce_and_transid),
        cmocka_unit_test(test_no_signer_cert), cmocka_unit_test(test_not_enveloped),
        cmocka_unit_test(test_certrep_status), cmocka_unit_test(test_tampered),
        cmocka_unit_test(test_md5_refused),    cmocka_unit_test(test_wrong_key),
        cmocka_unit_test(test_wrong_content),  cmocka_unit_test(test_ber_indefinite),
        cmocka_unit_test(test_names),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
