/*
 * scepc long options: ids and the table entries the subcommands share.
 */
#ifndef SCEPC_OPTS_H
#define SCEPC_OPTS_H

#include <getopt.h>

enum {
    OPT_URL = 256,
    OPT_FINGERPRINT,
    OPT_CA_BUNDLE,
    OPT_CA_IDENT,
    OPT_TIMEOUT,
    OPT_METHOD,
    OPT_CIPHER,
    OPT_DIGEST,
    OPT_VERBOSE,
    OPT_CHALLENGE,
    OPT_CHALLENGE_FILE,
    OPT_SUBJECT,
    OPT_SAN,
    OPT_KEY,
    OPT_KEY_SIZE,
    OPT_CERT,
    OPT_CHAIN,
    OPT_FULLCHAIN,
    OPT_DRY_RUN,
    OPT_FORMAT,
    OPT_MAX_WAIT,
    OPT_POLL_INTERVAL,
    OPT_REUSE_KEY,
    OPT_OUT,
    OPT_SERIAL,
    OPT_CONFIG,
    OPT_RENEW_AT,
    OPT_HOOK,
    OPT_ONCE,
    OPT_CHECK_INTERVAL,
    OPT_HELP
};

#define CONN_LONG_OPTIONS                                                                          \
    {"url", required_argument, NULL, OPT_URL},                                                     \
        {"fingerprint", required_argument, NULL, OPT_FINGERPRINT},                                 \
        {"ca-bundle", required_argument, NULL, OPT_CA_BUNDLE},                                     \
        {"ca-ident", required_argument, NULL, OPT_CA_IDENT},                                       \
        {"timeout", required_argument, NULL, OPT_TIMEOUT},                                         \
        {"method", required_argument, NULL, OPT_METHOD},                                           \
        {"cipher", required_argument, NULL, OPT_CIPHER},                                           \
        {"digest", required_argument, NULL, OPT_DIGEST},                                           \
        {"verbose", no_argument, NULL, OPT_VERBOSE},                                               \
    {                                                                                              \
        "help", no_argument, NULL, OPT_HELP                                                        \
    }

#endif
