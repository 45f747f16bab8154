/*
 * CertRep round trips (SUCCESS with certificates or a CRL, FAILURE with
 * every failInfo and failInfoText, PENDING), their interop with the
 * PKCS#7 API that sscep-style clients use, the degenerate certs-only
 * SignedData and the GetNextCACert answer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/pkcs7.h>

#include "test_msg_fixture.h"

static struct fx F;

static int setup(void **state)
{
    fx_init(&F);
    return 0;
}

static int teardown(void **state)
{
    fx_free(&F);
    return 0;
}

static int has_cert(STACK_OF(X509) *sk, X509 *x)
{
    int i;

    for (i = 0; i < sk_X509_num(sk); i++)
        if (X509_cmp(sk_X509_value(sk, i), x) == 0)
            return 1;
    return 0;
}

static void check_common(struct scep_msg *m, int status)
{
    assert_int_equal(scep_msg_type(m), SCEP_MSG_CERTREP);
    assert_string_equal(scep_msg_get0_transaction_id(m), "0123456789abcdef0123456789abcdef");
    assert_non_null(scep_msg_get0_recipient_nonce(m));
    assert_memory_equal(scep_msg_get0_recipient_nonce(m), fx_nonce_a, 16);
    assert_memory_not_equal(scep_msg_get0_sender_nonce(m), fx_nonce_a, 16);
    assert_int_equal(scep_msg_status(m), status);
    assert_int_equal(X509_cmp(scep_msg_get0_signer_cert(m), F.ca_cert), 0);
    assert_int_equal(scep_msg_verify(m, F.ca_cert), 0);
    assert_int_equal(scep_msg_verify(m, NULL), 0);
    assert_int_equal(scep_msg_verify(m, F.ot_cert), SCEP_ERR_SIGNATURE);
    /* and back: a failed verify must not poison the next one */
    assert_int_equal(scep_msg_verify(m, F.ca_cert), 0);
}

static void test_success_matrix(void **state)
{
    static const char *ciphers[] = {"AES-128-CBC", "AES-256-CBC", "DES-EDE3-CBC", "DES-CBC"};
    static const char *mds[] = {"SHA1", "SHA224", "SHA256", "SHA384", "SHA512"};
    STACK_OF(X509) *certs = sk_X509_new_null();
    size_t c, d;
    int kt;

    assert_non_null(certs);
    sk_X509_push(certs, F.ot_cert); /* stands in for the issued certificate */
    sk_X509_push(certs, F.ca_cert);
    for (c = 0; c < 4; c++)
        for (d = 0; d < 5; d++)
            for (kt = 0; kt <= 1; kt++) {
                struct scep_msg_spec s;
                struct scep_msg *m = NULL;
                unsigned char *der = NULL;
                size_t len;
                EVP_CIPHER *ci = EVP_CIPHER_fetch(NULL, ciphers[c], NULL);

                assert_non_null(ci);
                fx_certrep_spec(&F, &s, SCEP_STATUS_SUCCESS, fx_nonce_a);
                s.certs = certs;
                s.cipher = ci;
                s.md = EVP_get_digestbyname(mds[d]);
                s.key_transport = kt;
                assert_int_equal(scep_msg_build(&s, &der, &len), 0);
                assert_int_equal(scep_msg_decode(der, len, &m), 0);
                check_common(m, SCEP_STATUS_SUCCESS);
                assert_int_equal(scep_msg_fail_info(m), -1);
                assert_int_equal(scep_msg_cipher_nid(m), EVP_CIPHER_get_nid(ci));
                assert_int_equal(scep_msg_digest_nid(m), EVP_MD_get_type(s.md));
                assert_int_equal(scep_msg_key_transport(m), kt);
                /* the CA cannot open what is encrypted to the client */
                assert_int_equal(scep_msg_decrypt(m, F.ca_cert, F.ca_key), SCEP_ERR_DECRYPT);
                assert_int_equal(scep_msg_decrypt(m, F.cl_cert, F.cl_key), 0);
                assert_int_equal(sk_X509_num(scep_msg_get0_certs(m)), 2);
                /* certificates is a DER SET OF: OpenSSL sorts it, so
                 * only membership can be checked, not order */
                assert_true(has_cert(scep_msg_get0_certs(m), F.ot_cert));
                assert_true(has_cert(scep_msg_get0_certs(m), F.ca_cert));
                assert_int_equal(sk_X509_CRL_num(scep_msg_get0_crls(m)), 0);
                scep_msg_free(m);
                scep_free(der);
                EVP_CIPHER_free(ci);
            }
    sk_X509_free(certs);
}

/* CertRep SUCCESS to a GetCRL carries a CRL and no certificate. */
static void test_success_crl(void **state)
{
    struct scep_msg_spec s;
    struct scep_msg *m = NULL;
    STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
    X509_CRL *crl = fx_crl(&F);
    unsigned char *der = NULL;
    size_t len;

    sk_X509_CRL_push(crls, crl);
    fx_certrep_spec(&F, &s, SCEP_STATUS_SUCCESS, fx_nonce_a);
    s.crls = crls;
    assert_int_equal(scep_msg_build(&s, &der, &len), 0);
    assert_int_equal(scep_msg_decode(der, len, &m), 0);
    check_common(m, SCEP_STATUS_SUCCESS);
    assert_int_equal(scep_msg_decrypt(m, F.cl_cert, F.cl_key), 0);
    assert_int_equal(sk_X509_num(scep_msg_get0_certs(m)), 0);
    assert_int_equal(sk_X509_CRL_num(scep_msg_get0_crls(m)), 1);
    assert_int_equal(X509_CRL_cmp(sk_X509_CRL_value(scep_msg_get0_crls(m), 0), crl), 0);
    scep_msg_free(m);
    scep_free(der);
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
}

/* No eContent at all, and an sscep-style PKCS#7 client still verifies
 * the signature over the empty content. */
static void check_no_content(const unsigned char *der, size_t len)
{
    const unsigned char *p = der;
    CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
    ASN1_OCTET_STRING **pos;
    PKCS7 *p7;
    BIO *empty = BIO_new(BIO_s_mem());

    assert_non_null(cms);
    pos = CMS_get0_content(cms);
    assert_true(pos == NULL || *pos == NULL);
    assert_int_equal(OBJ_obj2nid(CMS_get0_eContentType(cms)), NID_pkcs7_data);
    CMS_ContentInfo_free(cms);

    p = der;
    p7 = d2i_PKCS7(NULL, &p, (long)len);
    assert_non_null(p7);
    assert_int_equal(PKCS7_verify(p7, NULL, NULL, empty, NULL, PKCS7_NOVERIFY | PKCS7_BINARY), 1);
    PKCS7_free(p7);
    BIO_free(empty);
}

static void test_failure_each_info(void **state)
{
    int fi;

    for (fi = SCEP_FAIL_BAD_ALG; fi <= SCEP_FAIL_BAD_CERT_ID; fi++) {
        struct scep_msg_spec s;
        struct scep_msg *m = NULL;
        unsigned char *der = NULL;
        size_t len;

        fx_certrep_spec(&F, &s, SCEP_STATUS_FAILURE, fx_nonce_a);
        s.fail_info = fi;
        s.fail_text = fi % 2 ? "challenge password wrong \xc3\xa9t\xc3\xa9" : NULL;
        assert_int_equal(scep_msg_build(&s, &der, &len), 0);
        check_no_content(der, len);
        assert_int_equal(scep_msg_decode(der, len, &m), 0);
        check_common(m, SCEP_STATUS_FAILURE);
        assert_int_equal(scep_msg_fail_info(m), fi);
        if (s.fail_text != NULL)
            assert_string_equal(scep_msg_get0_fail_text(m), s.fail_text);
        else
            assert_null(scep_msg_get0_fail_text(m));
        assert_int_equal(scep_msg_cipher_nid(m), NID_undef);
        assert_int_equal(scep_msg_key_transport(m), -1);
        /* nothing to decrypt: success, nothing done */
        assert_int_equal(scep_msg_decrypt(m, F.cl_cert, F.cl_key), 0);
        assert_null(scep_msg_get0_certs(m));
        scep_msg_free(m);
        scep_free(der);
    }
}

static void test_pending(void **state)
{
    struct scep_msg_spec s;
    struct scep_msg *m = NULL;
    unsigned char *der = NULL;
    size_t len;

    fx_certrep_spec(&F, &s, SCEP_STATUS_PENDING, fx_nonce_a);
    s.fail_info = 3; /* ignored outside FAILURE */
    assert_int_equal(scep_msg_build(&s, &der, &len), 0);
    check_no_content(der, len);
    assert_int_equal(scep_msg_decode(der, len, &m), 0);
    check_common(m, SCEP_STATUS_PENDING);
    assert_int_equal(scep_msg_fail_info(m), -1);
    assert_null(scep_msg_get0_fail_text(m));
    scep_msg_free(m);
    scep_free(der);
}

static void test_certrep_rejects(void **state)
{
    struct scep_msg_spec s;
    unsigned char *der = NULL;
    size_t len;

    fx_certrep_spec(&F, &s, SCEP_STATUS_FAILURE, NULL);
    assert_int_equal(scep_msg_build(&s, &der, &len), SCEP_ERR_NONCE);
    fx_certrep_spec(&F, &s, 1, fx_nonce_a);
    assert_int_equal(scep_msg_build(&s, &der, &len), SCEP_ERR_STATUS);
    fx_certrep_spec(&F, &s, SCEP_STATUS_FAILURE, fx_nonce_a);
    s.fail_info = 5;
    assert_int_equal(scep_msg_build(&s, &der, &len), SCEP_ERR_STATUS);
    fx_certrep_spec(&F, &s, SCEP_STATUS_SUCCESS, fx_nonce_a);
    assert_int_equal(scep_msg_build(&s, &der, &len), SCEP_ERR_INVALID_ARG); /* no certs */
    assert_null(der);
}

/* What an sscep-style client does with a CertRep SUCCESS: PKCS7 verify,
 * PKCS7 decrypt, and the degenerate SignedData inside. */
static void test_success_pkcs7_client(void **state)
{
    struct scep_msg_spec s;
    STACK_OF(X509) *certs = sk_X509_new_null();
    unsigned char *der = NULL;
    const unsigned char *p;
    size_t len;
    PKCS7 *p7, *env, *inner;
    BIO *content = BIO_new(BIO_s_mem());
    BIO *plain = BIO_new(BIO_s_mem());
    char *data;
    long n;

    sk_X509_push(certs, F.ot_cert);
    fx_certrep_spec(&F, &s, SCEP_STATUS_SUCCESS, fx_nonce_a);
    s.certs = certs;
    s.cipher = EVP_des_ede3_cbc();
    assert_int_equal(scep_msg_build(&s, &der, &len), 0);
    p = der;
    p7 = d2i_PKCS7(NULL, &p, (long)len);
    assert_non_null(p7);
    assert_int_equal(PKCS7_verify(p7, NULL, NULL, NULL, content, PKCS7_NOVERIFY | PKCS7_BINARY), 1);
    n = BIO_get_mem_data(content, &data);
    p = (const unsigned char *)data;
    env = d2i_PKCS7(NULL, &p, n);
    assert_non_null(env);
    assert_true(PKCS7_type_is_enveloped(env));
    assert_int_equal(PKCS7_decrypt(env, F.cl_key, F.cl_cert, plain, PKCS7_BINARY), 1);
    n = BIO_get_mem_data(plain, &data);
    p = (const unsigned char *)data;
    inner = d2i_PKCS7(NULL, &p, n);
    assert_non_null(inner);
    assert_true(PKCS7_type_is_signed(inner));
    assert_int_equal(sk_X509_num(inner->d.sign->cert), 1);
    assert_int_equal(X509_cmp(sk_X509_value(inner->d.sign->cert, 0), F.ot_cert), 0);
    PKCS7_free(inner);
    PKCS7_free(env);
    PKCS7_free(p7);
    BIO_free(content);
    BIO_free(plain);
    scep_free(der);
    sk_X509_free(certs);
}

static void test_certs_only(void **state)
{
    STACK_OF(X509) *certs = sk_X509_new_null(), *got = NULL;
    STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null(), *gotc = NULL;
    unsigned char *der = NULL, *bad;
    const unsigned char *p;
    size_t len;
    CMS_ContentInfo *cms;
    ASN1_OCTET_STRING **pos;

    sk_X509_push(certs, F.ca_cert);
    sk_X509_push(certs, F.ot_cert);
    sk_X509_CRL_push(crls, fx_crl(&F));
    assert_int_equal(scep_certs_only_build(certs, crls, &der, &len), 0);
    /* eContent absent, no signers, no digest algorithms (RFC 8894 3.4) */
    p = der;
    cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
    assert_non_null(cms);
    pos = CMS_get0_content(cms);
    assert_true(pos == NULL || *pos == NULL);
    assert_int_equal(sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)), 0);
    CMS_ContentInfo_free(cms);

    assert_int_equal(scep_certs_only_parse(der, len, &got, &gotc), 0);
    assert_int_equal(sk_X509_num(got), 2);
    assert_true(has_cert(got, F.ca_cert));
    assert_true(has_cert(got, F.ot_cert));
    assert_int_equal(sk_X509_CRL_num(gotc), 1);
    sk_X509_pop_free(got, X509_free);
    sk_X509_CRL_pop_free(gotc, X509_CRL_free);
    got = NULL;
    /* crls optional */
    assert_int_equal(scep_certs_only_parse(der, len, &got, NULL), 0);
    sk_X509_pop_free(got, X509_free);
    got = NULL;

    /* trailing byte */
    bad = malloc(len + 1);
    memcpy(bad, der, len);
    bad[len] = 0;
    assert_int_equal(scep_certs_only_parse(bad, len + 1, &got, NULL), SCEP_ERR_TRAILING);
    assert_int_equal(scep_certs_only_parse(bad, len - 1, &got, NULL), SCEP_ERR_DER);
    free(bad);
    scep_free(der);

    /* empty */
    assert_int_equal(scep_certs_only_build(NULL, NULL, &der, &len), 0);
    assert_int_equal(scep_certs_only_parse(der, len, &got, NULL), 0);
    assert_int_equal(sk_X509_num(got), 0);
    sk_X509_pop_free(got, X509_free);
    got = NULL;
    scep_free(der);

    sk_X509_free(certs);
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
}

/* A signed pkiMessage is not a certs-only structure. */
static void test_certs_only_rejects_signed(void **state)
{
    struct scep_msg_spec s;
    STACK_OF(X509) *got = NULL;
    unsigned char *der = NULL;
    size_t len;

    fx_certrep_spec(&F, &s, SCEP_STATUS_PENDING, fx_nonce_a);
    assert_int_equal(scep_msg_build(&s, &der, &len), 0);
    assert_int_equal(scep_certs_only_parse(der, len, &got, NULL), SCEP_ERR_SIGNER_COUNT);
    assert_null(got);
    scep_free(der);
}

static void test_next_ca(void **state)
{
    STACK_OF(X509) *next = sk_X509_new_null(), *got = NULL;
    unsigned char *der = NULL, *co = NULL;
    size_t len, colen;
    const unsigned char *p;
    PKCS7 *p7;

    sk_X509_push(next, F.ot_cert);
    sk_X509_push(next, F.cl_cert);
    assert_int_equal(scep_next_ca_build(next, F.ca_cert, F.ca_key, NULL, &der, &len), 0);
    assert_int_equal(scep_next_ca_parse(der, len, F.ca_cert, &got), 0);
    assert_int_equal(sk_X509_num(got), 2);
    assert_true(has_cert(got, F.ot_cert));
    assert_true(has_cert(got, F.cl_cert));
    sk_X509_pop_free(got, X509_free);
    got = NULL;
    /* the outer certificates hold only the signer: sscep looks inside */
    p = der;
    p7 = d2i_PKCS7(NULL, &p, (long)len);
    assert_non_null(p7);
    assert_int_equal(sk_X509_num(p7->d.sign->cert), 1);
    PKCS7_free(p7);

    assert_int_equal(scep_next_ca_parse(der, len, F.ot_cert, &got), SCEP_ERR_SIGNATURE);
    assert_int_equal(scep_next_ca_parse(der, len, NULL, &got), SCEP_ERR_INVALID_ARG);
    assert_null(got);
    scep_free(der);

    assert_int_equal(scep_next_ca_build(next, F.ca_cert, F.ca_key, EVP_md5(), &der, &len),
                     SCEP_ERR_BAD_ALG);
    assert_int_equal(scep_next_ca_build(NULL, F.ca_cert, F.ca_key, NULL, &der, &len),
                     SCEP_ERR_INVALID_ARG);

    /* a bare certs-only is not a signed GetNextCACert answer */
    assert_int_equal(scep_certs_only_build(next, NULL, &co, &colen), 0);
    assert_int_equal(scep_next_ca_parse(co, colen, F.ca_cert, &got), SCEP_ERR_SIGNER_COUNT);
    scep_free(co);
    sk_X509_free(next);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_success_matrix),    cmocka_unit_test(test_success_crl),
        cmocka_unit_test(test_failure_each_info), cmocka_unit_test(test_pending),
        cmocka_unit_test(test_certrep_rejects),   cmocka_unit_test(test_success_pkcs7_client),
        cmocka_unit_test(test_certs_only),        cmocka_unit_test(test_certs_only_rejects_signed),
        cmocka_unit_test(test_next_ca),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
