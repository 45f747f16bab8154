/*
 * The libscep client handle: one SCEP URL, its capabilities and its CA/RA
 * certificates.
 *
 * This file holds everything that is cleartext HTTP in RFC 8894 (4.2
 * GetCACert, 4.5 GetCACaps, 4.6 GetNextCACert), the choice of the
 * encryption and signing certificates (2.2), fingerprint pinning, the
 * choice of cipher, digest and HTTP method for requests (3.5.2), and the
 * sending of a PKIOperation (4.3).  The PKIOperation messages themselves
 * are in pkiop.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/x509v3.h>

#include <scep/caps.h>
#include <scep/client.h>
#include <scep/encoding.h>
#include <scep/error.h>
#include <scep/limits.h>
#include <scep/message.h>

#include "client_int.h"

/* Longest URL we build: the base URL, the operation and the base64 of a
 * whole message (GET PKIOperation). */
#define CLIENT_MAX_BASE_URL 2048

/*
 * Records the sentence scep_client_get0_error() returns (see
 * client_int.h).  The sentence quotes bytes the server chose (its
 * Content-Type, a transport error, its failInfoText) and programs print
 * it to terminals and logs, so control characters -- C0, DEL, and the
 * UTF-8 encoded C1 range U+0080..U+009F with CSI -- become '?'.  Our own
 * text never holds any, so a well-behaved server's sentence is unchanged.
 */
void client_set_error(struct scep_client *c, const char *fmt, ...)
{
    va_list ap;
    size_t i;

    va_start(ap, fmt);
    vsnprintf(c->error, sizeof(c->error), fmt, ap);
    va_end(ap);
    for (i = 0; c->error[i] != '\0'; i++) {
        unsigned char ch = (unsigned char)c->error[i];
        unsigned char next = (unsigned char)c->error[i + 1];

        if (ch < 0x20 || ch == 0x7f) {
            c->error[i] = '?';
        } else if (ch == 0xc2 && next >= 0x80 && next <= 0x9f) {
            c->error[i] = '?';
            c->error[++i] = '?';
        }
    }
}

/*
 * Creates a client (see client.h).  On success *out is set and owns
 * opt->transport; free with scep_client_free().
 */
int scep_client_new(const struct scep_client_options *opt, struct scep_client **out)
{
    struct scep_client *c = NULL;
    int rc = SCEP_ERR_INVALID_ARG;

    if (opt == NULL || out == NULL || opt->url == NULL || opt->url[0] == '\0')
        goto out;
    if (strlen(opt->url) > CLIENT_MAX_BASE_URL)
        goto out;
    rc = SCEP_ERR_NOMEM;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        goto out;
    c->fail_info = -1;
    c->url = strdup(opt->url);
    if (c->url == NULL)
        goto out;
    if (opt->ca_ident != NULL && (c->ca_ident = strdup(opt->ca_ident)) == NULL)
        goto out;
    if (opt->ca_fingerprint != NULL) {
        memcpy(c->pin, opt->ca_fingerprint, SCEP_FINGERPRINT_LEN);
        c->has_pin = 1;
    }
    c->method = opt->method;
    c->cipher = opt->cipher;
    c->digest = opt->digest;
    if (opt->transport != NULL) {
        c->transport = *opt->transport;
    } else {
        rc = scep_transport_curl_new(&opt->curl, &c->transport);
        if (rc != 0)
            goto out;
    }
    *out = c;
    c = NULL;
    rc = 0;
out:
    scep_client_free(c);
    return rc;
}

/* Frees the client and its transport.  Accepts NULL. */
void scep_client_free(struct scep_client *c)
{
    if (c == NULL)
        return;
    scep_transport_release(&c->transport);
    sk_X509_pop_free(c->ca_certs, X509_free);
    EVP_CIPHER_free(c->des);
    free(c->url);
    free(c->ca_ident);
    free(c->fail_text);
    free(c);
}

/* Last failure's explanation, borrowed from c; "" when none. */
const char *scep_client_get0_error(const struct scep_client *c)
{
    return c ? c->error : "";
}

/* failInfo of the last CertRep FAILURE, or -1. */
int scep_client_fail_info(const struct scep_client *c)
{
    return c ? c->fail_info : -1;
}

/* failInfoText of the last CertRep FAILURE (borrowed), or NULL. */
const char *scep_client_get0_fail_text(const struct scep_client *c)
{
    return c ? c->fail_text : NULL;
}

/* Builds URL?operation=op[&message=msg] into a new string (free()).
 * msg is percent-escaped except for RFC 3986 unreserved characters and
 * '%' itself, so an already escaped base64 message passes unchanged. */
static char *make_url(const struct scep_client *c, const char *op, const char *msg)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t mlen = msg ? strlen(msg) : 0;
    size_t n = strlen(c->url) + strlen(op) + 3 * mlen + 32;
    char *u = malloc(n);
    size_t w;
    const char *p;

    if (u == NULL)
        return NULL;
    w = (size_t)snprintf(u, n, "%s%coperation=%s%s", c->url, strchr(c->url, '?') ? '&' : '?', op,
                         msg ? "&message=" : "");
    for (p = msg; p != NULL && *p != '\0'; p++) {
        unsigned char ch = (unsigned char)*p;

        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '.' || ch == '_' || ch == '~' || ch == '%') {
            u[w++] = (char)ch;
        } else {
            u[w++] = '%';
            u[w++] = hex[ch >> 4];
            u[w++] = hex[ch & 15];
        }
    }
    u[w] = '\0';
    return u;
}

/* GET of a cleartext operation; *resp filled on 0 (any HTTP status). */
static int http_get_op(struct scep_client *c, const char *op, const char *msg,
                       struct scep_http_response *resp)
{
    char *url = make_url(c, op, msg);
    int rc;

    if (url == NULL)
        return SCEP_ERR_NOMEM;
    rc = c->transport.get(c->transport.ctx, url, resp);
    if (rc != 0)
        client_set_error(c, "%s: %s", op, resp->error[0] ? resp->error : scep_strerror(rc));
    free(url);
    return rc;
}

/*
 * GetCACaps; a server that answers 404 or an empty body has no caps
 * (RFC 8894 3.5.1: a client must then assume the minimum).
 */
int scep_client_get_caps(struct scep_client *c, unsigned *caps)
{
    struct scep_http_response r = {0};
    int rc;

    if (c == NULL || caps == NULL)
        return SCEP_ERR_INVALID_ARG;
    if (c->have_caps) {
        *caps = c->caps;
        return 0;
    }
    rc = http_get_op(c, "GetCACaps", c->ca_ident, &r);
    if (rc != 0)
        goto out;
    if (r.status == 200) {
        c->caps = scep_caps_parse((const char *)r.body, r.len);
    } else if (r.status == 404 || r.status == 400 || r.status == 501) {
        c->caps = 0;
    } else {
        client_set_error(c, "GetCACaps: server answered HTTP %ld", r.status);
        rc = SCEP_ERR_HTTP;
        goto out;
    }
    c->have_caps = 1;
    *caps = c->caps;
    rc = 0;
out:
    scep_http_response_clear(&r);
    return rc;
}

/* Decodes one DER certificate filling all of der..len exactly. */
static X509 *der_cert(const unsigned char *der, size_t len)
{
    const unsigned char *p = der;
    X509 *x;

    if (len == 0 || len > SCEP_CLIENT_MAX_RESPONSE)
        return NULL;
    x = d2i_X509(NULL, &p, (long)len);
    if (x != NULL && p != der + len) {
        X509_free(x);
        x = NULL;
    }
    return x;
}

/* Parses a GetCACert body by its media type, falling back to trying both
 * forms when the type is missing or unknown. */
static int parse_ca_body(const struct scep_http_response *r, STACK_OF(X509) **out)
{
    STACK_OF(X509) *certs = NULL;
    X509 *x = NULL;
    int ra = strstr(r->content_type, "x-x509-ca-ra-cert") != NULL;
    int rc;

    if (!ra) {
        x = der_cert(r->body, r->len);
        if (x != NULL) {
            certs = sk_X509_new_null();
            if (certs == NULL || !sk_X509_push(certs, x)) {
                X509_free(x);
                sk_X509_free(certs);
                return SCEP_ERR_NOMEM;
            }
            *out = certs;
            return 0;
        }
    }
    rc = scep_certs_only_parse(r->body, r->len, &certs, NULL);
    if (rc != 0)
        return rc;
    if (sk_X509_num(certs) < 1 || sk_X509_num(certs) > SCEP_MAX_CERTS) {
        sk_X509_pop_free(certs, X509_free);
        return SCEP_ERR_DER;
    }
    *out = certs;
    return 0;
}

static int fetch_ca(struct scep_client *c)
{
    struct scep_http_response r = {0};
    STACK_OF(X509) *certs = NULL;
    X509 *ca = NULL, *enc = NULL, *sign = NULL;
    int rc;

    rc = http_get_op(c, "GetCACert", c->ca_ident, &r);
    if (rc != 0)
        goto out;
    if (r.status != 200) {
        client_set_error(c, "GetCACert: server answered HTTP %ld; check the URL", r.status);
        rc = SCEP_ERR_HTTP;
        goto out;
    }
    rc = parse_ca_body(&r, &certs);
    if (rc != 0) {
        client_set_error(c,
                         "GetCACert: the answer (%s) is neither a DER certificate nor a "
                         "certs-only PKCS#7: %s",
                         r.content_type[0] ? r.content_type : "no type", scep_strerror(rc));
        goto out;
    }
    rc = scep_ca_select(certs, &ca, &enc, &sign);
    if (rc != 0) {
        client_set_error(c, "GetCACert: no certificate fit for encryption (RSA, "
                            "keyEncipherment) and signing (digitalSignature)");
        goto out;
    }
    if (c->has_pin) {
        rc = scep_ca_check_pin(certs, enc, sign, c->pin);
        if (rc != 0) {
            client_set_error(c, "GetCACert: no CA certificate matches the pinned SHA-256 "
                                "fingerprint; the server may not be who it claims");
            goto out;
        }
    }
    c->ca_certs = certs;
    c->ca = ca;
    c->enc = enc;
    c->sign = sign;
    certs = NULL;
    rc = 0;
out:
    sk_X509_pop_free(certs, X509_free);
    scep_http_response_clear(&r);
    return rc;
}

/* GetCACert, pin check and selection; cached (see client.h). */
int scep_client_fetch_ca(struct scep_client *c)
{
    if (c == NULL)
        return SCEP_ERR_INVALID_ARG;
    if (c->ca_certs != NULL)
        return 0;
    return fetch_ca(c);
}

/* Borrowed views of the fetched CA set (NULL before a fetch). */
STACK_OF(X509) *scep_client_get0_ca_certs(const struct scep_client *c)
{
    return c ? c->ca_certs : NULL;
}

X509 *scep_client_get0_ca_cert(const struct scep_client *c)
{
    return c ? c->ca : NULL;
}

X509 *scep_client_get0_enc_cert(const struct scep_client *c)
{
    return c ? c->enc : NULL;
}

X509 *scep_client_get0_sign_cert(const struct scep_client *c)
{
    return c ? c->sign : NULL;
}

/* GetNextCACert, verified against the current signing certificate.
 * *next: free with sk_X509_pop_free(.., X509_free). */
int scep_client_get_next_ca(struct scep_client *c, STACK_OF(X509) **next)
{
    struct scep_http_response r = {0};
    STACK_OF(X509) *certs = NULL;
    unsigned caps = 0;
    int rc;

    if (c == NULL || next == NULL)
        return SCEP_ERR_INVALID_ARG;
    rc = scep_client_get_caps(c, &caps);
    if (rc != 0)
        goto out;
    if (!(caps & SCEP_CAP_GET_NEXT_CA_CERT)) {
        client_set_error(c, "the server does not list GetNextCACert: no CA rollover pending");
        rc = SCEP_ERR_UNSUPPORTED;
        goto out;
    }
    rc = scep_client_fetch_ca(c);
    if (rc != 0)
        goto out;
    rc = http_get_op(c, "GetNextCACert", c->ca_ident, &r);
    if (rc != 0)
        goto out;
    if (r.status != 200) {
        client_set_error(c, "GetNextCACert: server answered HTTP %ld", r.status);
        rc = SCEP_ERR_HTTP;
        goto out;
    }
    rc = scep_next_ca_parse(r.body, r.len, c->sign, &certs);
    if (rc != 0) {
        client_set_error(c, "GetNextCACert: answer not signed by the current CA: %s",
                         scep_strerror(rc));
        goto out;
    }
    *next = certs;
    certs = NULL;
    rc = 0;
out:
    sk_X509_pop_free(certs, X509_free);
    scep_http_response_clear(&r);
    return rc;
}

/* Cipher, digest and method for the next request (see client.h). */
int scep_client_algorithms(struct scep_client *c, const EVP_CIPHER **cipher, const EVP_MD **md,
                           int *use_post)
{
    unsigned caps = 0;
    int rc;

    if (c == NULL)
        return SCEP_ERR_INVALID_ARG;
    rc = scep_client_get_caps(c, &caps);
    if (rc != 0)
        return rc;
    if (cipher != NULL) {
        switch (c->cipher) {
        case SCEP_CIPHER_AES128:
            *cipher = EVP_aes_128_cbc();
            break;
        case SCEP_CIPHER_AES256:
            *cipher = EVP_aes_256_cbc();
            break;
        case SCEP_CIPHER_DES3:
            *cipher = EVP_des_ede3_cbc();
            break;
        case SCEP_CIPHER_DES:
            /* Single DES lives only in the legacy provider (loaded by
             * scep_init()), so it must be fetched; the client keeps the
             * fetched object alive until scep_client_free(). */
            if (c->des == NULL)
                c->des = EVP_CIPHER_fetch(NULL, "DES-CBC", NULL);
            if (c->des == NULL)
                return SCEP_ERR_BAD_ALG;
            *cipher = c->des;
            break;
        default:
            *cipher = (caps & (SCEP_CAP_AES | SCEP_CAP_SCEP_STANDARD)) ? EVP_aes_128_cbc()
                                                                       : EVP_des_ede3_cbc();
        }
    }
    if (md != NULL) {
        switch (c->digest) {
        case SCEP_DIGEST_SHA1:
            *md = EVP_sha1();
            break;
        case SCEP_DIGEST_SHA256:
            *md = EVP_sha256();
            break;
        case SCEP_DIGEST_SHA512:
            *md = EVP_sha512();
            break;
        default:
            if (caps & SCEP_CAP_SHA512)
                *md = EVP_sha512();
            else if (caps & (SCEP_CAP_SHA256 | SCEP_CAP_SCEP_STANDARD))
                *md = EVP_sha256();
            else
                *md = EVP_sha1();
        }
    }
    if (use_post != NULL) {
        if (c->method == SCEP_METHOD_POST)
            *use_post = 1;
        else if (c->method == SCEP_METHOD_GET)
            *use_post = 0;
        else
            *use_post = (caps & (SCEP_CAP_POST_PKI_OPERATION | SCEP_CAP_SCEP_STANDARD)) != 0;
    }
    return 0;
}

/*
 * Sends one PKIOperation by POST or GET as scep_client_algorithms() says
 * and returns a 200 answer's body (see client_int.h; free() it).
 */
int client_pkioperation(struct scep_client *c, const unsigned char *der, size_t len,
                        unsigned char **body, size_t *blen)
{
    struct scep_http_response r = {0};
    char *b64 = NULL, *url = NULL;
    int use_post = 0;
    int rc;

    rc = scep_client_algorithms(c, NULL, NULL, &use_post);
    if (rc != 0)
        goto out;
    if (use_post) {
        url = make_url(c, "PKIOperation", NULL);
        if (url == NULL) {
            rc = SCEP_ERR_NOMEM;
            goto out;
        }
        rc = c->transport.post(c->transport.ctx, url, der, len, "application/x-pki-message", &r);
    } else {
        rc = scep_query_message_encode(der, len, &b64);
        if (rc != 0)
            goto out;
        url = make_url(c, "PKIOperation", b64);
        if (url == NULL) {
            rc = SCEP_ERR_NOMEM;
            goto out;
        }
        rc = c->transport.get(c->transport.ctx, url, &r);
    }
    if (rc != 0) {
        client_set_error(c, "PKIOperation: %s", r.error[0] ? r.error : scep_strerror(rc));
        goto out;
    }
    if (r.status != 200) {
        client_set_error(c, "PKIOperation (%s): server answered HTTP %ld",
                         use_post ? "POST" : "GET", r.status);
        rc = SCEP_ERR_HTTP;
        goto out;
    }
    *body = r.body;
    *blen = r.len;
    r.body = NULL;
    rc = 0;
out:
    scep_http_response_clear(&r);
    scep_free(b64);
    free(url);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Selection and pinning                                              */
/* ------------------------------------------------------------------ */

/* keyUsage bit test; X509_get_key_usage() answers UINT32_MAX when the
 * extension is absent, which we read as "any use". */
static int has_ku(X509 *x, uint32_t bit)
{
    return (X509_get_key_usage(x) & bit) != 0;
}

static int is_rsa(X509 *x)
{
    EVP_PKEY *pk = X509_get0_pubkey(x);

    return pk != NULL && EVP_PKEY_is_a(pk, "RSA");
}

/* True when x issued another CA certificate of the set (so x is not the
 * issuing CA but an upper level of the chain). */
static int issued_other_ca(STACK_OF(X509) *certs, X509 *x)
{
    int i;

    for (i = 0; i < sk_X509_num(certs); i++) {
        X509 *y = sk_X509_value(certs, i);

        if (y != x && X509_check_ca(y) && X509_check_issued(x, y) == X509_V_OK)
            return 1;
    }
    return 0;
}

/* Picks the issuing CA, encryption and signing certificates (client.h). */
int scep_ca_select(STACK_OF(X509) *certs, X509 **ca, X509 **enc, X509 **sign)
{
    X509 *the_ca = NULL, *e = NULL, *s = NULL, *first_ra = NULL;
    int i, n = sk_X509_num(certs);

    if (certs == NULL || n <= 0)
        return SCEP_ERR_NOT_FOUND;
    /* RA certificates: anything that is not a CA (X509_check_ca() also
     * counts old v1 self-signed roots as CAs, which is what we want). */
    for (i = 0; i < n; i++) {
        X509 *x = sk_X509_value(certs, i);

        if (X509_check_ca(x))
            continue;
        if (first_ra == NULL)
            first_ra = x;
        if (e == NULL && has_ku(x, KU_KEY_ENCIPHERMENT) && is_rsa(x))
            e = x;
        if (s == NULL && has_ku(x, KU_DIGITAL_SIGNATURE))
            s = x;
    }
    /* The issuing CA: the issuer of the RA when there is one, else the
     * lowest CA of the chain. */
    for (i = 0; i < n && the_ca == NULL; i++) {
        X509 *x = sk_X509_value(certs, i);

        if (!X509_check_ca(x))
            continue;
        if (first_ra != NULL) {
            if (X509_check_issued(x, first_ra) == X509_V_OK)
                the_ca = x;
        } else if (!issued_other_ca(certs, x)) {
            the_ca = x;
        }
    }
    if (the_ca == NULL && n == 1)
        the_ca = sk_X509_value(certs, 0);
    if (the_ca == NULL)
        return SCEP_ERR_NOT_FOUND;
    if (first_ra == NULL) {
        /* A CA that serves SCEP itself should carry digitalSignature and
         * keyEncipherment (RFC 8894 2.1.2), but micromdm's scepserver and
         * other small CAs issue theirs with keyCertSign/cRLSign only; with
         * no RA there is no other candidate, so such a CA is used as is. */
        if (is_rsa(the_ca))
            e = the_ca;
        s = the_ca;
    }
    if (e == NULL || s == NULL)
        return SCEP_ERR_NOT_FOUND;
    *ca = the_ca;
    *enc = e;
    *sign = s;
    return 0;
}

/* SHA-256 of cert's DER encoding. */
int scep_client_fingerprint(X509 *cert, unsigned char fp[SCEP_FINGERPRINT_LEN])
{
    unsigned int n = 0;

    if (cert == NULL || !X509_digest(cert, EVP_sha256(), fp, &n) || n != SCEP_FINGERPRINT_LEN)
        return SCEP_ERR_INTERNAL;
    return 0;
}

/* True when x is anchor or chains up to anchor through certs, each link
 * checked by name and by signature. */
static int chains_to(STACK_OF(X509) *certs, X509 *x, X509 *anchor)
{
    int depth, i;

    for (depth = 0; depth < SCEP_MAX_CHAIN_DEPTH; depth++) {
        X509 *up = NULL;

        if (X509_cmp(x, anchor) == 0)
            return 1;
        for (i = 0; i < sk_X509_num(certs) && up == NULL; i++) {
            X509 *y = sk_X509_value(certs, i);

            if (y != x && X509_check_issued(y, x) == X509_V_OK &&
                X509_verify(x, X509_get0_pubkey(y)) == 1)
                up = y;
        }
        if (up == NULL)
            return 0;
        x = up;
    }
    return 0;
}

/* Pin check (see client.h). */
int scep_ca_check_pin(STACK_OF(X509) *certs, X509 *enc, X509 *sign,
                      const unsigned char fp[SCEP_FINGERPRINT_LEN])
{
    unsigned char got[SCEP_FINGERPRINT_LEN];
    X509 *anchor = NULL;
    int i;

    for (i = 0; i < sk_X509_num(certs) && anchor == NULL; i++) {
        X509 *x = sk_X509_value(certs, i);

        if (scep_client_fingerprint(x, got) == 0 &&
            CRYPTO_memcmp(got, fp, SCEP_FINGERPRINT_LEN) == 0)
            anchor = x;
    }
    if (anchor == NULL)
        return SCEP_ERR_FINGERPRINT;
    if (!chains_to(certs, enc, anchor) || !chains_to(certs, sign, anchor))
        return SCEP_ERR_FINGERPRINT;
    return 0;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Parses 64 hex digits, ':' separators allowed (see client.h). */
int scep_fingerprint_parse(const char *text, unsigned char fp[SCEP_FINGERPRINT_LEN])
{
    unsigned char tmp[SCEP_FINGERPRINT_LEN];
    size_t n = 0;
    int hi = -1;
    const char *p;

    if (text == NULL)
        return SCEP_ERR_INVALID_ARG;
    for (p = text; *p != '\0'; p++) {
        int v;

        if (*p == ':' && hi < 0)
            continue;
        v = hexval((unsigned char)*p);
        if (v < 0 || (n == SCEP_FINGERPRINT_LEN))
            return SCEP_ERR_INVALID_ARG;
        if (hi < 0) {
            hi = v;
        } else {
            tmp[n++] = (unsigned char)(hi << 4 | v);
            hi = -1;
        }
    }
    if (n != SCEP_FINGERPRINT_LEN || hi >= 0)
        return SCEP_ERR_INVALID_ARG;
    memcpy(fp, tmp, sizeof(tmp));
    return 0;
}
