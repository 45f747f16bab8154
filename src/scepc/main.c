/*
 * scepc: the SCEP (RFC 8894) client command line.  A thin front end over
 * libscep's client API (include/scep/client.h); each subcommand lives in
 * its own file (query.c, enroll.c, watch.c).  See scepc(1).
 */
#include <stdlib.h>
#include <string.h>

#include "scepc.h"

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"caps", cmd_caps, "show the server's capabilities"},
    {"cacert", cmd_cacert, "fetch (and pin) the CA/RA certificates"},
    {"enroll", cmd_enroll, "get a certificate issued (PKCSReq)"},
    {"renew", cmd_renew, "renew a certificate (RenewalReq)"},
    {"poll", cmd_poll, "pick up a pending request (CertPoll)"},
    {"getcert", cmd_getcert, "fetch a certificate by serial (GetCert)"},
    {"getcrl", cmd_getcrl, "fetch the CRL for a certificate (GetCRL)"},
    {"watch", cmd_watch, "renew certificates before they expire, as a service"},
};

static void usage(FILE *f)
{
    size_t i;

    fprintf(f, "usage: scepc COMMAND [options]   (scepc COMMAND --help for options)\n\n");
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\nexample:\n"
               "  scepc enroll --url http://ca.example/scep --challenge-file secret \\\n"
               "        --subject 'CN=dev1' --key key.pem --cert cert.pem\n"
               "\nexit status:\n"
               "  0  success\n"
               "  1  other error\n"
               "  2  usage error\n"
               "  3  the server refused the request (wrong challenge, policy)\n"
               "  4  server unreachable, or it answered an HTTP error\n"
               "  5  CA certificate does not match --fingerprint\n"
               "  6  the server's answer is malformed, forged or tampered with\n"
               "  7  request still pending when --max-wait ran out\n"
               "  8  a local file could not be read or written\n");
}

int main(int argc, char **argv)
{
    size_t i;

    if (argc < 2) {
        usage(stderr);
        return EX_SCEPC_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return EX_SCEPC_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("scepc %s\n", SCEP_VERSION_STRING);
        return EX_SCEPC_OK;
    }
    if (scep_init() != 0) {
        scepc_err("cannot initialise OpenSSL (are the default and legacy providers installed?)");
        return EX_SCEPC_ERROR;
    }
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    scepc_err("unknown command '%s'", argv[1]);
    usage(stderr);
    return EX_SCEPC_USAGE;
}
