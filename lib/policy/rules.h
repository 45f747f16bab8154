/*
 * Per-profile enrollment rules: what a CSR may ask for under one SCEP
 * profile (a URL such as /scep/vpn with settings of its own), on top of
 * what the CA accepts from anyone (lib/ca: scep_ca_check_request).  The
 * CA decides whether a request is well formed and safe to sign; these
 * rules decide whether this profile wants it: key types and sizes,
 * curves, required, forbidden and pattern-matched subject attributes,
 * subjectAltName types, patterns and counts.
 *
 * A struct scep_rules is built once from configuration text (one
 * scep_rules_set per key; lib/config maps scepd.conf(5) keys onto it),
 * then never changed: scep_rules_check takes it const, and any number of
 * threads may check against one object at the same time.  The compiled
 * regular expressions are shared read-only; POSIX does not list regexec
 * among the functions that may be thread-unsafe, and glibc's takes a
 * lock of the regex_t for the few fields it updates, so concurrent
 * matching on one regex_t is safe.  Building (scep_rules_set) is not
 * thread-safe: finish it before sharing.
 *
 * Patterns are POSIX extended regular expressions from the administrator
 * (trusted); each must match a whole value (it is compiled as
 * "^(" pattern ")$"), case-sensitively and byte by byte (scepd does not
 * call setlocale, so the C locale applies: '.' is one byte of a UTF-8
 * value).  Values come from the CSR (untrusted): a value longer than
 * SCEP_MAX_SUBJECT bytes is refused before it reaches regexec, and a
 * value with a NUL byte never matches.
 *
 * The rule keys (an empty value: the default, which is "no rule"):
 *   key_types          rsa, ec (default both; other key types are the
 *                      CA's to refuse)                     SCEP_ERR_KEY
 *   min_rsa_bits       2048..SCEP_MAX_RSA_BITS (default 2048) SCEP_ERR_KEY
 *   allowed_curves     P-256, P-384, P-521 (default all)    SCEP_ERR_KEY
 *   subject_required, subject_forbidden
 *                      attribute names (CN, O, emailAddress, ...; SN or
 *                      LN, any case, or a dotted OID OpenSSL knows)
 *   subject_{cn,o,ou,c,l,st,email,serialnumber,uid,dc}_pattern
 *                      every value of that attribute (email:
 *                      emailAddress) matches, as UTF-8
 *   subject_max_length 0..SCEP_MAX_SUBJECT characters (not bytes) in the
 *                      longest attribute value; 0: no rule
 *   san_types          dns, ip, email, uri: the only types allowed.  Unset,
 *                      every type the CA accepts passes (these four,
 *                      directoryName and the UPN otherName; the CA
 *                      refuses the rest); set, every other type is refused
 *   dns_pattern, ip_pattern (inet_ntop text), email_pattern, uri_pattern
 *                      every SAN of that type matches
 *   san_max            0..SCEP_MAX_SANS subjectAltNames; 0: no rule
 *   san_required       true/false (yes/no/on/off/1/0): at least one SAN
 * Subject and SAN violations are SCEP_ERR_POLICY.  A rule that is off
 * does not read the part of the CSR it would check.
 */
#ifndef SCEP_POLICY_RULES_H
#define SCEP_POLICY_RULES_H

#include <stddef.h>
#include <openssl/x509.h>

struct scep_rules; /* opaque, immutable once built; shared read-only by many threads */

/*
 * Makes a permissive rule set: every rule at its default, which allows
 * everything the CA accepts.  *out: free with scep_rules_free().
 * Returns 0, SCEP_ERR_INVALID_ARG or SCEP_ERR_NOMEM.
 */
int scep_rules_new(struct scep_rules **out);

/*
 * Sets one rule from its configuration text.  key is one of the rule
 * keys (scep_rules_each_key lists them with their help); an empty value
 * turns the rule off (back to its default).  On failure the rule keeps
 * what it had.  Returns 0; SCEP_ERR_CONFIG with why[] holding a one-line
 * reason that starts with the key ("dns_pattern: regex error: Unmatched
 * ( or \\(", "key_types: unknown key type \"dsa\" (rsa, ec)"); or
 * SCEP_ERR_NOMEM, SCEP_ERR_INVALID_ARG.  why may be NULL (whylen 0).
 */
int scep_rules_set(struct scep_rules *r, const char *key, const char *value, char *why,
                   size_t whylen);

/* Returns 1 when key is one of the rule keys, else 0 (also for NULL). */
int scep_rules_is_key(const char *key);

/*
 * For documentation and --help: calls cb(key, help, def, arg) for every
 * rule key, in a fixed order.  help is one line; def is the default's
 * text ("" when the rule is off by default).  The strings are static.
 */
void scep_rules_each_key(void (*cb)(const char *key, const char *help, const char *def, void *arg),
                         void *arg);

/*
 * Checks csr (its signature already verified by the caller) under r.
 * subject: the subject the certificate will carry (a renewal's is the
 * old certificate's); NULL: the CSR's.  The subjectAltNames are always
 * the CSR's.  profile names the profile in messages (NULL or "":
 * "default").  Rules are checked in this order, the first broken one
 * reported: key, subject, subjectAltNames.  Returns 0; SCEP_ERR_KEY or
 * SCEP_ERR_POLICY with why[] naming the profile, the rule (its key) and
 * the offending value, non-printable bytes escaped and truncated to fit
 * ("profile vpn: SAN DNS:*.example.com does not match dns_pattern");
 * SCEP_ERR_CSR for a subject value or subjectAltName extension that
 * does not decode; SCEP_ERR_NOMEM; SCEP_ERR_INVALID_ARG.  why may be
 * NULL (whylen 0).
 */
int scep_rules_check(const struct scep_rules *r, const char *profile, X509_REQ *csr,
                     const X509_NAME *subject, char *why, size_t whylen);

/*
 * Deep copy of src (patterns compiled anew; nothing is shared with src,
 * which may be freed first).  *out: free with scep_rules_free().
 * Returns 0, SCEP_ERR_INVALID_ARG or SCEP_ERR_NOMEM.
 */
int scep_rules_copy(const struct scep_rules *src, struct scep_rules **out);

/* Frees r and everything it holds.  Accepts NULL. */
void scep_rules_free(struct scep_rules *r);

#endif
