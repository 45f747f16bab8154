/*
 * scepc enroll, renew and poll: get a certificate issued and write it.
 *
 * The engine (scepc_run_enroll / scepc_run_renew) is shared with scepc
 * watch.  Nothing is written unless the server issued a certificate: the
 * key is made in memory and saved with the certificate, both atomically.
 * The one exception is a request left PENDING past --max-wait: its new
 * key is saved so that "scepc poll" can pick the certificate up later.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509v3.h>

#include "opts.h"
#include "scepc.h"

#define POLL_MAX_DELAY 300L

/* "1m40s" style duration into buf. */
static const char *fmt_dur(long s, char *buf, size_t n)
{
    if (s >= 3600)
        snprintf(buf, n, "%ldh%02ldm%02lds", s / 3600, s / 60 % 60, s % 60);
    else if (s >= 60)
        snprintf(buf, n, "%ldm%02lds", s / 60, s % 60);
    else
        snprintf(buf, n, "%lds", s);
    return buf;
}

/* Polls a PENDING transaction with backoff until issued, refused or
 * eo->max_wait; returns 0 with *certs, or SCEP_ERR_*. */
static int wait_issued(struct scep_client *c, struct scep_txn *t, const struct enroll_opts *eo,
                       STACK_OF(X509) **certs)
{
    long waited = 0, delay = eo->poll_interval > 0 ? eo->poll_interval : 10;
    char b1[32], b2[32];
    int rc = SCEP_ERR_PENDING;

    while (rc == SCEP_ERR_PENDING) {
        long d = delay;

        if (waited >= eo->max_wait)
            break;
        if (d > eo->max_wait - waited)
            d = eo->max_wait - waited;
        if (!eo->quiet)
            fprintf(stderr, "%s: pending, next poll in %s, waited %s\n", scepc_prog,
                    fmt_dur(d, b1, sizeof(b1)), fmt_dur(waited, b2, sizeof(b2)));
        sleep((unsigned)d);
        waited += d;
        delay = delay * 2 > POLL_MAX_DELAY ? POLL_MAX_DELAY : delay * 2;
        rc = scep_client_poll(c, t, certs);
    }
    return rc;
}

/* Writes cert (and chain) per eo; key too when key is not NULL.  Returns
 * an exit code. */
static int save(const struct enroll_opts *eo, EVP_PKEY *key, STACK_OF(X509) *certs)
{
    if (key != NULL && write_key(eo->key_path, key, eo->format) != 0) {
        scepc_err("cannot write the key to %s: check the directory exists and is writable",
                  eo->key_path);
        return EX_SCEPC_FILE;
    }
    if (write_certs(eo->cert_path, certs, 0, 1, eo->format) != 0) {
        scepc_err("cannot write the certificate to %s", eo->cert_path);
        return EX_SCEPC_FILE;
    }
    if (eo->chain_path != NULL && sk_X509_num(certs) > 1 &&
        write_certs(eo->chain_path, certs, 1, -1, eo->format) != 0) {
        scepc_err("cannot write the chain to %s", eo->chain_path);
        return EX_SCEPC_FILE;
    }
    /* certbot's fullchain.pem: what a TLS server is given, PEM always. */
    if (eo->fullchain_path != NULL && write_certs(eo->fullchain_path, certs, 0, -1, FMT_PEM) != 0) {
        scepc_err("cannot write the full chain to %s", eo->fullchain_path);
        return EX_SCEPC_FILE;
    }
    return EX_SCEPC_OK;
}

/* Shared tail of enroll and renew: send, wait, save.  Returns an exit
 * code. */
static int run_txn(const struct conn_opts *co, const struct enroll_opts *eo, struct scep_txn *t,
                   EVP_PKEY *key, int key_is_new, int do_send)
{
    struct scep_client *c = NULL;
    STACK_OF(X509) *certs = NULL;
    int rc, ex;

    ex = scepc_client_new(co, &c);
    if (ex != 0)
        goto out;
    scepc_info(co, "transaction %s", scep_txn_get0_transaction_id(t));
    rc = do_send ? scep_client_enroll(c, t, &certs) : scep_client_poll(c, t, &certs);
    if (rc == SCEP_ERR_PENDING)
        rc = wait_issued(c, t, eo, &certs);
    if (rc == SCEP_ERR_PENDING) {
        if (key_is_new && write_key(eo->key_path, key, eo->format) != 0) {
            ex = EX_SCEPC_FILE;
            scepc_err("still pending, and the key cannot be saved to %s", eo->key_path);
            goto out;
        }
        scepc_err("still pending after %lds; the key is in %s: run \"scepc poll\" with the "
                  "same --key and --subject later",
                  eo->max_wait, eo->key_path);
        ex = EX_SCEPC_PENDING;
        goto out;
    }
    if (rc != 0) {
        ex = scepc_report(c, rc, do_send ? "the request" : "the poll");
        goto out;
    }
    ex = save(eo, key_is_new ? key : NULL, certs);
    if (ex == 0 && !eo->quiet) {
        char *subj = X509_NAME_oneline(X509_get_subject_name(sk_X509_value(certs, 0)), NULL, 0);

        fprintf(stderr, "%s: issued %s, written to %s\n", scepc_prog, subj ? subj : "",
                eo->cert_path);
        OPENSSL_free(subj);
    }
out:
    sk_X509_pop_free(certs, X509_free);
    scep_client_free(c);
    return ex;
}

/* Loads the key at eo->key_path or makes one when the file does not
 * exist.  Returns an exit code. */
static int get_key(const struct enroll_opts *eo, EVP_PKEY **key, int *is_new)
{
    int rc;

    if (!file_exists(eo->key_path)) {
        rc = scep_key_generate_rsa(eo->key_bits, key);
        if (rc != 0) {
            scepc_err("cannot make an RSA-%d key: %s", eo->key_bits, scep_strerror(rc));
            return EX_SCEPC_ERROR;
        }
        *is_new = 1;
        return 0;
    }
    rc = load_key(eo->key_path, key);
    if (rc != 0) {
        scepc_err("cannot read the private key %s (PEM or DER)", eo->key_path);
        return EX_SCEPC_FILE;
    }
    *is_new = 0;
    return 0;
}

/* Enrollment with PKCSReq.  Returns an exit code. */
int scepc_run_enroll(const struct conn_opts *co, const struct enroll_opts *eo)
{
    EVP_PKEY *key = NULL;
    X509_REQ *csr = NULL;
    struct scep_txn *t = NULL;
    struct scep_csr_params p = {0};
    int is_new = 0, rc, ex;

    ex = get_key(eo, &key, &is_new);
    if (ex != 0)
        goto out;
    p.subject = eo->subject;
    p.sans = eo->sans;
    p.nsans = eo->nsans;
    p.challenge = eo->challenge;
    rc = scep_csr_make(key, &p, &csr);
    if (rc == 0)
        rc = scep_txn_new_enroll(key, csr, &t);
    if (rc != 0) {
        scepc_err("cannot make the request: %s (subject like 'CN=dev1,O=Acme', SANs like "
                  "DNS:host, IP:192.0.2.1, email:a@b, URI:u)",
                  scep_strerror(rc));
        ex = EX_SCEPC_USAGE;
        goto out;
    }
    ex = run_txn(co, eo, t, key, is_new, 1);
out:
    scep_txn_free(t);
    X509_REQ_free(csr);
    EVP_PKEY_free(key);
    return ex;
}

/* The SANs of cert as "TYPE:value" strings in buf (for a renewal that
 * keeps them).  Returns the count. */
static size_t cert_sans(X509 *cert, char buf[][300], size_t max)
{
    GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    size_t n = 0;
    int i;

    for (i = 0; i < sk_GENERAL_NAME_num(gens) && n < max; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        const ASN1_STRING *s = NULL;
        const char *pfx = NULL;
        char ip[INET6_ADDRSTRLEN];

        switch (g->type) {
        case GEN_DNS:
            pfx = "DNS:";
            s = g->d.dNSName;
            break;
        case GEN_EMAIL:
            pfx = "email:";
            s = g->d.rfc822Name;
            break;
        case GEN_URI:
            pfx = "URI:";
            s = g->d.uniformResourceIdentifier;
            break;
        case GEN_IPADD:
            if (g->d.iPAddress->length == 4 &&
                inet_ntop(AF_INET, g->d.iPAddress->data, ip, sizeof(ip)) != NULL)
                snprintf(buf[n++], 300, "IP:%s", ip);
            else if (g->d.iPAddress->length == 16 &&
                     inet_ntop(AF_INET6, g->d.iPAddress->data, ip, sizeof(ip)) != NULL)
                snprintf(buf[n++], 300, "IP:%s", ip);
            continue;
        default:
            continue;
        }
        snprintf(buf[n++], 300, "%s%.*s", pfx, ASN1_STRING_length(s),
                 (const char *)ASN1_STRING_get0_data(s));
    }
    GENERAL_NAMES_free(gens);
    return n;
}

/* Renewal with RenewalReq signed by the current certificate and key.
 * Returns an exit code. */
int scepc_run_renew(const struct conn_opts *co, const struct enroll_opts *eo)
{
    EVP_PKEY *cur_key = NULL, *new_key = NULL;
    X509 *cur = NULL;
    X509_REQ *csr = NULL;
    struct scep_txn *t = NULL;
    struct scep_csr_params p = {0};
    char *subj = NULL;
    static char sanbuf[64][300];
    const char *sans[64];
    size_t i;
    int rc, ex = EX_SCEPC_FILE;

    if (load_key(eo->key_path, &cur_key) != 0) {
        scepc_err("cannot read the current key %s", eo->key_path);
        goto out;
    }
    if (load_cert(eo->cert_path, &cur) != 0) {
        scepc_err("cannot read the current certificate %s", eo->cert_path);
        goto out;
    }
    if (eo->reuse_key) {
        if (!EVP_PKEY_up_ref(cur_key)) {
            ex = EX_SCEPC_ERROR;
            goto out;
        }
        new_key = cur_key;
    } else if (scep_key_generate_rsa(eo->key_bits, &new_key) != 0) {
        ex = EX_SCEPC_ERROR;
        scepc_err("cannot make a new RSA-%d key", eo->key_bits);
        goto out;
    }
    if (eo->subject != NULL) {
        p.subject = eo->subject;
    } else {
        /* XN_FLAG_RFC2253 reverses the order; print ours forward with the
         * same escaping so scep_subject_parse() reads it back. */
        BIO *b = BIO_new(BIO_s_mem());
        char *data = NULL;
        long n;

        if (b == NULL || X509_NAME_print_ex(b, X509_get_subject_name(cur), 0,
                                            (XN_FLAG_RFC2253 & ~XN_FLAG_DN_REV)) < 0) {
            BIO_free(b);
            ex = EX_SCEPC_ERROR;
            goto out;
        }
        n = BIO_get_mem_data(b, &data);
        subj = n > 0 ? strndup(data, (size_t)n) : NULL;
        BIO_free(b);
        if (subj == NULL) {
            ex = EX_SCEPC_ERROR;
            goto out;
        }
        p.subject = subj;
    }
    if (eo->nsans > 0) {
        p.sans = eo->sans;
        p.nsans = eo->nsans;
    } else {
        p.nsans = cert_sans(cur, sanbuf, 64);
        for (i = 0; i < p.nsans; i++)
            sans[i] = sanbuf[i];
        p.sans = sans;
    }
    p.challenge = eo->challenge;
    rc = scep_csr_make(new_key, &p, &csr);
    if (rc == 0)
        rc = scep_txn_new_renew(csr, cur, cur_key, &t);
    if (rc != 0) {
        scepc_err("cannot make the renewal request: %s", scep_strerror(rc));
        ex = rc == SCEP_ERR_KEY ? EX_SCEPC_FILE : EX_SCEPC_USAGE;
        goto out;
    }
    ex = run_txn(co, eo, t, new_key, !eo->reuse_key, 1);
out:
    free(subj);
    scep_txn_free(t);
    X509_REQ_free(csr);
    X509_free(cur);
    EVP_PKEY_free(cur_key);
    EVP_PKEY_free(new_key);
    return ex;
}

static void usage_enroll(FILE *fp, const char *cmd)
{
    fprintf(fp,
            "usage: scepc %s --url URL [--key FILE] [--cert FILE] [options]\n"
            "  --subject DN         'CN=dev1,O=Acme' (enroll, poll; renew keeps the old one)\n"
            "  --san TYPE:VALUE     DNS:, IP:, email:, URI: (repeatable)\n"
            "  --challenge SECRET   or --challenge-file FILE, or $SCEPC_CHALLENGE\n"
            "  --key FILE           private key; made (RSA) when missing, written 0600\n"
            "  --key-size BITS      2048 (default), 3072 or 4096\n"
            "  --cert FILE          certificate to write (renew: also the one to renew)\n"
            "  --chain FILE         CA chain from the CertRep (certbot's chain.pem)\n"
            "  --fullchain FILE     the certificate followed by the chain, PEM (fullchain.pem)\n"
            "  --format pem|der     output format (default pem)\n"
            "  --reuse-key          renew: keep the current key\n"
            "  --max-wait SECONDS   how long to poll a pending request (default 3600)\n"
            "  --poll-interval SEC  first poll delay, doubled up to 300 (default 10)\n"
            "  --fingerprint SHA256 pin the CA certificate\n"
            "  --method auto|get|post  --cipher auto|aes|aes256|des3|des\n"
            "  --digest auto|sha1|sha256|sha512  --ca-bundle FILE  --timeout SEC  --verbose\n",
            cmd);
}

/* Parses the options of enroll, renew and poll.  Returns -1 to go on, or
 * an exit code. */
static int parse_enroll(int argc, char **argv, const char *cmd, struct conn_opts *co,
                        struct enroll_opts *eo, char **challenge_buf)
{
    static const struct option longopts[] = {
        CONN_LONG_OPTIONS,
        {"challenge", required_argument, NULL, OPT_CHALLENGE},
        {"challenge-file", required_argument, NULL, OPT_CHALLENGE_FILE},
        {"subject", required_argument, NULL, OPT_SUBJECT},
        {"san", required_argument, NULL, OPT_SAN},
        {"key", required_argument, NULL, OPT_KEY},
        {"key-size", required_argument, NULL, OPT_KEY_SIZE},
        {"cert", required_argument, NULL, OPT_CERT},
        {"chain", required_argument, NULL, OPT_CHAIN},
        {"fullchain", required_argument, NULL, OPT_FULLCHAIN},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"max-wait", required_argument, NULL, OPT_MAX_WAIT},
        {"poll-interval", required_argument, NULL, OPT_POLL_INTERVAL},
        {"reuse-key", no_argument, NULL, OPT_REUSE_KEY},
        {NULL, 0, NULL, 0}};
    const char *chfile = NULL;
    long v;
    int opt, r;

    eo->key_bits = 2048;
    eo->max_wait = 3600;
    eo->poll_interval = 10;
    eo->key_path = "key.pem";
    eo->cert_path = "cert.pem";
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        r = scepc_conn_option(co, opt, optarg);
        if (r < 0)
            goto bad;
        if (r > 0)
            continue;
        switch (opt) {
        case OPT_CHALLENGE:
            eo->challenge = optarg;
            break;
        case OPT_CHALLENGE_FILE:
            chfile = optarg;
            break;
        case OPT_SUBJECT:
            eo->subject = optarg;
            break;
        case OPT_SAN:
            if (eo->nsans >= sizeof(eo->sans) / sizeof(eo->sans[0]))
                goto bad;
            eo->sans[eo->nsans++] = optarg;
            break;
        case OPT_KEY:
            eo->key_path = optarg;
            break;
        case OPT_CERT:
            eo->cert_path = optarg;
            break;
        case OPT_CHAIN:
            eo->chain_path = optarg;
            break;
        case OPT_FULLCHAIN:
            eo->fullchain_path = optarg;
            break;
        case OPT_REUSE_KEY:
            eo->reuse_key = 1;
            break;
        case OPT_KEY_SIZE:
            if (scepc_parse_long(optarg, 2048, 4096, &v) != 0 ||
                (v != 2048 && v != 3072 && v != 4096))
                goto bad;
            eo->key_bits = (int)v;
            break;
        case OPT_FORMAT:
            if (scepc_parse_format(optarg, &eo->format) != 0)
                goto bad;
            break;
        case OPT_MAX_WAIT:
            if (scepc_parse_long(optarg, 0, 30L * 24 * 3600, &eo->max_wait) != 0)
                goto bad;
            break;
        case OPT_POLL_INTERVAL:
            if (scepc_parse_long(optarg, 1, POLL_MAX_DELAY, &eo->poll_interval) != 0)
                goto bad;
            break;
        case OPT_HELP:
            usage_enroll(stdout, cmd);
            return EX_SCEPC_OK;
        default:
            goto bad;
        }
    }
    if (optind != argc)
        goto bad;
    if (eo->challenge == NULL && chfile != NULL) {
        if (scepc_read_challenge(chfile, challenge_buf) != 0) {
            scepc_err("cannot read a challenge from the first line of %s", chfile);
            return EX_SCEPC_FILE;
        }
        eo->challenge = *challenge_buf;
    }
    if (eo->challenge == NULL)
        eo->challenge = getenv("SCEPC_CHALLENGE");
    return -1;
bad:
    usage_enroll(stderr, cmd);
    return EX_SCEPC_USAGE;
}

/* scepc enroll. */
int cmd_enroll(int argc, char **argv)
{
    struct conn_opts co = {0};
    struct enroll_opts eo = {0};
    char *chbuf = NULL;
    int ex = parse_enroll(argc, argv, "enroll", &co, &eo, &chbuf);

    if (ex < 0) {
        if (eo.subject == NULL) {
            scepc_err("--subject is required, e.g. --subject 'CN=dev1'");
            ex = EX_SCEPC_USAGE;
        } else {
            ex = scepc_run_enroll(&co, &eo);
        }
    }
    free(chbuf);
    return ex;
}

/* scepc renew. */
int cmd_renew(int argc, char **argv)
{
    struct conn_opts co = {0};
    struct enroll_opts eo = {0};
    char *chbuf = NULL;
    int ex = parse_enroll(argc, argv, "renew", &co, &eo, &chbuf);

    if (ex < 0)
        ex = scepc_run_renew(&co, &eo);
    free(chbuf);
    return ex;
}

/* scepc poll: resume a pending PKCSReq made with --key and --subject. */
int cmd_poll(int argc, char **argv)
{
    struct conn_opts co = {0};
    struct enroll_opts eo = {0};
    EVP_PKEY *key = NULL;
    X509_REQ *csr = NULL;
    struct scep_txn *t = NULL;
    struct scep_csr_params p = {0};
    char *chbuf = NULL;
    int ex = parse_enroll(argc, argv, "poll", &co, &eo, &chbuf);

    if (ex >= 0)
        goto out;
    if (eo.subject == NULL) {
        scepc_err("--subject is required: the one the pending request was made with");
        ex = EX_SCEPC_USAGE;
        goto out;
    }
    if (load_key(eo.key_path, &key) != 0) {
        scepc_err("cannot read the key %s of the pending request", eo.key_path);
        ex = EX_SCEPC_FILE;
        goto out;
    }
    p.subject = eo.subject;
    if (scep_csr_make(key, &p, &csr) != 0 || scep_txn_new_enroll(key, csr, &t) != 0) {
        scepc_err("bad --subject '%s'", eo.subject);
        ex = EX_SCEPC_USAGE;
        goto out;
    }
    ex = run_txn(&co, &eo, t, key, 0, 0);
out:
    scep_txn_free(t);
    X509_REQ_free(csr);
    EVP_PKEY_free(key);
    free(chbuf);
    return ex;
}
