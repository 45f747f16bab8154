/*
 * Internals of the enrollment rules (rules.h) shared by the parser
 * (rules_parse.c: building, copying, freeing) and the checker
 * (rules_check.c).  Nothing outside lib/policy/rules_*.c includes this.
 */
#ifndef SCEP_POLICY_RULES_INT_H
#define SCEP_POLICY_RULES_INT_H

#include <regex.h>
#include <stddef.h>

#include <scep/limits.h>

/* key_types bits. */
#define RULES_KEY_RSA 1u
#define RULES_KEY_EC 2u
#define RULES_KEY_ALL (RULES_KEY_RSA | RULES_KEY_EC)

/* san_types bits: the four GeneralName types a rule can name. */
#define RULES_SAN_DNS 1u
#define RULES_SAN_IP 2u
#define RULES_SAN_EMAIL 4u
#define RULES_SAN_URI 8u
#define RULES_SAN_ALL (RULES_SAN_DNS | RULES_SAN_IP | RULES_SAN_EMAIL | RULES_SAN_URI)

/* Attributes one subject_required or subject_forbidden list may name:
 * more than there are attribute types in real subjects. */
#define RULES_MAX_ATTRS 32

/* The longest value (UTF-8 bytes) fed to regexec, and the largest
 * subject_max_length: no attribute value is longer than the whole
 * subject's text may be (SCEP_MAX_SUBJECT), and a subjectAltName value
 * gets the same bound.  Longer values are refused, never matched. */
#define RULES_MAX_VALUE SCEP_MAX_SUBJECT

/* Pattern rules: ten on subject attributes, then one per SAN type. */
#define RULES_NSUBJECT_PATTERNS 10
#define RULES_NPATTERNS (RULES_NSUBJECT_PATTERNS + 4)

struct rules_pattern {
    char *text;      /* the pattern as configured (free()); NULL: rule off */
    regex_t re;      /* "^(" text ")$", compiled when text != NULL */
    int target;      /* the attribute's NID, or a RULES_SAN_* bit */
    const char *key; /* static: the rule's key, for messages */
};

struct scep_rules {
    unsigned key_types;            /* RULES_KEY_* bits allowed; RULES_KEY_ALL: no rule */
    int min_rsa_bits;              /* 0: no rule beyond the CA's SCEP_MIN_RSA_BITS */
    unsigned curves;               /* SCEP_CURVE_* bits (ca/ca.h); 0: no rule */
    int required[RULES_MAX_ATTRS]; /* NIDs the subject must have */
    size_t nrequired;
    int forbidden[RULES_MAX_ATTRS]; /* NIDs the subject must not have */
    size_t nforbidden;
    int subject_max_length; /* characters of the longest value; 0: no rule */
    unsigned san_types;     /* RULES_SAN_* bits allowed; 0: no rule (any type the CA accepts) */
    int san_max;            /* most subjectAltNames; 0: no rule beyond SCEP_MAX_SANS */
    int san_required;       /* at least one subjectAltName */
    struct rules_pattern pat[RULES_NPATTERNS];
};

/* rules_regex.c: patterns checked before glibc compiles them. */
#define RULES_REGEX_MAX_DEPTH 32

/*
 * Whether regcomp() may be given pattern p: -1, with why in msg, when it
 * holds a back-reference, nests groups deeper than RULES_REGEX_MAX_DEPTH
 * or would expand into more positions than rules_regex.c allows; 0
 * otherwise (regcomp() may still find a syntax error).
 */
int rules_regex_vet(const char *p, char *msg, size_t msglen);

/*
 * Finds a ')' that closes no '(' of pattern p (already compiled alone,
 * so its syntax is valid).  glibc takes such a ')' as a literal, but
 * inside "^(" p ")$" it would close our group: "a)|(b" would become
 * "^(a)|(b)$", which matches anything starting with "a".  Returns 1
 * when there is one.
 */
int rules_regex_stray_paren(const char *p);

#endif
