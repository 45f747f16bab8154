/*
 * scepc caps, cacert, getcert and getcrl: the subcommands that ask the
 * server something without enrolling.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>

#include "opts.h"
#include "scepc.h"

/* Parses argv into co plus the extra options of one subcommand. */
struct extra {
    const char *out;
    const char *key;
    const char *cert;
    const char *serial;
    int format;
};

static int parse(int argc, char **argv, const char *usage, struct conn_opts *co, struct extra *x)
{
    static const struct option longopts[] = {CONN_LONG_OPTIONS,
                                             {"out", required_argument, NULL, OPT_OUT},
                                             {"key", required_argument, NULL, OPT_KEY},
                                             {"cert", required_argument, NULL, OPT_CERT},
                                             {"serial", required_argument, NULL, OPT_SERIAL},
                                             {"format", required_argument, NULL, OPT_FORMAT},
                                             {NULL, 0, NULL, 0}};
    int opt, r;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        r = scepc_conn_option(co, opt, optarg);
        if (r < 0)
            goto bad;
        if (r > 0)
            continue;
        switch (opt) {
        case OPT_OUT:
            x->out = optarg;
            break;
        case OPT_KEY:
            x->key = optarg;
            break;
        case OPT_CERT:
            x->cert = optarg;
            break;
        case OPT_SERIAL:
            x->serial = optarg;
            break;
        case OPT_FORMAT:
            if (scepc_parse_format(optarg, &x->format) != 0)
                goto bad;
            break;
        case OPT_HELP:
            printf("usage: %s\n", usage);
            return EX_SCEPC_OK;
        default:
            goto bad;
        }
    }
    if (optind != argc)
        goto bad;
    return -1;
bad:
    fprintf(stderr, "usage: %s\n", usage);
    return EX_SCEPC_USAGE;
}

/* scepc caps: prints the server's capabilities, one per line. */
int cmd_caps(int argc, char **argv)
{
    struct conn_opts co = {0};
    struct extra x = {0};
    struct scep_client *c = NULL;
    unsigned caps = 0;
    char text[256];
    int rc, ex;

    ex = parse(argc, argv, "scepc caps --url URL", &co, &x);
    if (ex >= 0)
        return ex;
    ex = scepc_client_new(&co, &c);
    if (ex != 0)
        return ex;
    rc = scep_client_get_caps(c, &caps);
    if (rc != 0) {
        ex = scepc_report(c, rc, "GetCACaps");
    } else if (scep_caps_format(caps, text, sizeof(text)) >= 0) {
        fputs(text, stdout); /* the server's keywords as we understood them */
    } else {
        ex = 1;
    }
    scep_client_free(c);
    return ex;
}

static void print_cert(const char *role, X509 *x)
{
    unsigned char fp[SCEP_FINGERPRINT_LEN];
    char *subj = X509_NAME_oneline(X509_get_subject_name(x), NULL, 0);
    size_t i;

    printf("%-8s %s\n         sha256 ", role, subj ? subj : "?");
    /* Lowercase, as scepd and scepctl print it, so that one can be
     * compared with the other by eye or by grep. */
    if (scep_client_fingerprint(x, fp) == 0)
        for (i = 0; i < sizeof(fp); i++)
            printf("%02x", fp[i]);
    printf("\n");
    OPENSSL_free(subj);
}

/* scepc cacert: fetches, optionally pins, shows and saves the CA set. */
int cmd_cacert(int argc, char **argv)
{
    struct conn_opts co = {0};
    struct extra x = {0};
    struct scep_client *c = NULL;
    STACK_OF(X509) *certs;
    int rc, i, ex;

    ex = parse(argc, argv,
               "scepc cacert --url URL [--fingerprint SHA256] [--out FILE] [--format pem|der]", &co,
               &x);
    if (ex >= 0)
        return ex;
    ex = scepc_client_new(&co, &c);
    if (ex != 0)
        return ex;
    rc = scep_client_fetch_ca(c);
    if (rc != 0) {
        ex = scepc_report(c, rc, "GetCACert");
        goto out;
    }
    certs = scep_client_get0_ca_certs(c);
    for (i = 0; i < sk_X509_num(certs); i++) {
        X509 *y = sk_X509_value(certs, i);
        const char *role = y == scep_client_get0_ca_cert(c) ? "CA" : "cert";

        if (y != scep_client_get0_ca_cert(c) && y == scep_client_get0_enc_cert(c))
            role = y == scep_client_get0_sign_cert(c) ? "RA" : "RA-enc";
        else if (y != scep_client_get0_ca_cert(c) && y == scep_client_get0_sign_cert(c))
            role = "RA-sign";
        print_cert(role, y);
    }
    if (x.out != NULL && write_certs(x.out, certs, 0, -1, x.format) != 0) {
        scepc_err("cannot write %s", x.out);
        ex = EX_SCEPC_FILE;
    }
out:
    scep_client_free(c);
    return ex;
}

/* Reads the --key and --cert that GetCert and GetCRL are signed with
 * and makes the client.  Returns 0 with all three set (EVP_PKEY_free(),
 * X509_free(), scep_client_free()), or an exit code after saying why. */
static int signer_client(const struct conn_opts *co, const struct extra *x, EVP_PKEY **keyp,
                         X509 **mep, struct scep_client **cp)
{
    EVP_PKEY *key = NULL;
    X509 *me = NULL;
    struct scep_client *c = NULL;
    int ex = EX_SCEPC_FILE;

    if (load_key(x->key, &key) != 0 || load_cert(x->cert, &me) != 0) {
        scepc_err("cannot read --key %s or --cert %s", x->key, x->cert);
        goto out;
    }
    ex = scepc_client_new(co, &c);
    if (ex != 0)
        goto out;
    *keyp = key;
    *mep = me;
    *cp = c;
    key = NULL;
    me = NULL;
out:
    X509_free(me);
    EVP_PKEY_free(key);
    return ex;
}

/* scepc getcert: a certificate by serial, asked with --cert/--key. */
int cmd_getcert(int argc, char **argv)
{
    struct conn_opts co = {0};
    struct extra x = {0};
    struct scep_client *c = NULL;
    EVP_PKEY *key = NULL;
    X509 *me = NULL, *got = NULL;
    BIGNUM *bn = NULL;
    ASN1_INTEGER *serial = NULL;
    STACK_OF(X509) *one = NULL;
    int rc, ex;

    ex = parse(argc, argv, "scepc getcert --url URL --key FILE --cert FILE --serial HEX --out FILE",
               &co, &x);
    if (ex >= 0)
        return ex;
    ex = EX_SCEPC_USAGE;
    if (x.key == NULL || x.cert == NULL || x.serial == NULL || x.out == NULL) {
        scepc_err("getcert needs --key, --cert (to sign with), --serial (hex) and --out");
        goto out;
    }
    if (BN_hex2bn(&bn, x.serial) != (int)strlen(x.serial) ||
        (serial = BN_to_ASN1_INTEGER(bn, NULL)) == NULL) {
        scepc_err("--serial wants the serial number in hex");
        goto out;
    }
    ex = signer_client(&co, &x, &key, &me, &c);
    if (ex != 0)
        goto out;
    rc = scep_client_get_cert(c, me, key, serial, &got);
    if (rc != 0) {
        ex = scepc_report(c, rc, "GetCert");
        goto out;
    }
    if ((one = sk_X509_new_null()) == NULL || !sk_X509_push(one, got) ||
        write_certs(x.out, one, 0, 1, x.format) != 0) {
        scepc_err("cannot write %s", x.out);
        ex = EX_SCEPC_FILE;
    }
out:
    sk_X509_free(one);
    X509_free(got);
    X509_free(me);
    EVP_PKEY_free(key);
    ASN1_INTEGER_free(serial);
    BN_free(bn);
    scep_client_free(c);
    return ex;
}

/* scepc getcrl: the CRL covering --cert, asked with --cert/--key. */
int cmd_getcrl(int argc, char **argv)
{
    struct conn_opts co = {0};
    struct extra x = {0};
    struct scep_client *c = NULL;
    EVP_PKEY *key = NULL;
    X509 *me = NULL;
    X509_CRL *crl = NULL;
    int rc, ex;

    ex = parse(argc, argv, "scepc getcrl --url URL --key FILE --cert FILE --out FILE", &co, &x);
    if (ex >= 0)
        return ex;
    ex = EX_SCEPC_USAGE;
    if (x.key == NULL || x.cert == NULL || x.out == NULL) {
        scepc_err("getcrl needs --key, --cert and --out");
        goto out;
    }
    ex = signer_client(&co, &x, &key, &me, &c);
    if (ex != 0)
        goto out;
    rc = scep_client_get_crl(c, me, key, &crl);
    if (rc != 0) {
        ex = scepc_report(c, rc, "GetCRL");
        goto out;
    }
    if (write_crl(x.out, crl, x.format) != 0) {
        scepc_err("cannot write %s", x.out);
        ex = EX_SCEPC_FILE;
    }
out:
    X509_CRL_free(crl);
    X509_free(me);
    EVP_PKEY_free(key);
    scep_client_free(c);
    return ex;
}
