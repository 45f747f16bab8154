/*
 * Building a rule set from configuration text (rules.h): the table of
 * rule keys with their help and defaults, the parsers of each kind of
 * value (lists, integers, booleans, attribute names, patterns), and
 * copying and freeing.  The values come from scepd.conf, which the
 * administrator wrote: they are trusted, but a typing error must stop
 * scepd from starting with a reason, never silently widen a rule.  The
 * checks themselves are in rules_check.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/objects.h>

#include <scep/error.h>
#include <scep/limits.h>

#include "ca/ca.h"
#include "policy/rules.h"
#include "policy/rules_int.h"

/* A limit's value in a help text. */
#define STR_(x) #x
#define STR(x) STR_(x)

/* How much of a configured item a message quotes. */
#define SHOW_ITEM 64

enum rule_kind {
    K_KEY_TYPES,
    K_MIN_RSA_BITS,
    K_CURVES,
    K_SUBJECT_REQUIRED,
    K_SUBJECT_FORBIDDEN,
    K_SUBJECT_PATTERN,
    K_SUBJECT_MAX_LENGTH,
    K_SAN_TYPES,
    K_SAN_PATTERN,
    K_SAN_MAX,
    K_SAN_REQUIRED,
};

static const struct rule_key {
    const char *key;
    enum rule_kind kind;
    int slot;   /* patterns: index into scep_rules.pat */
    int target; /* patterns: the attribute's NID or a RULES_SAN_* bit */
    const char *help;
    const char *def;
} rule_keys[] = {
    {"key_types", K_KEY_TYPES, -1, 0, "key types a CSR may carry: comma list of rsa, ec", "rsa,ec"},
    {"min_rsa_bits", K_MIN_RSA_BITS, -1, 0,
     "smallest RSA modulus in bits (2048 to " STR(SCEP_MAX_RSA_BITS) ")", "2048"},
    {"allowed_curves", K_CURVES, -1, 0,
     "EC curves a CSR may use: comma list of P-256, P-384, P-521", "P-256,P-384,P-521"},
    {"subject_required", K_SUBJECT_REQUIRED, -1, 0,
     "subject attributes the subject must have: comma list of names (CN, O, OU, C, ...)", ""},
    {"subject_forbidden", K_SUBJECT_FORBIDDEN, -1, 0,
     "subject attributes the subject must not have: comma list of names", ""},
    {"subject_cn_pattern", K_SUBJECT_PATTERN, 0, NID_commonName,
     "POSIX extended regex every CN value must match whole", ""},
    {"subject_o_pattern", K_SUBJECT_PATTERN, 1, NID_organizationName,
     "POSIX extended regex every O value must match whole", ""},
    {"subject_ou_pattern", K_SUBJECT_PATTERN, 2, NID_organizationalUnitName,
     "POSIX extended regex every OU value must match whole", ""},
    {"subject_c_pattern", K_SUBJECT_PATTERN, 3, NID_countryName,
     "POSIX extended regex every C value must match whole", ""},
    {"subject_l_pattern", K_SUBJECT_PATTERN, 4, NID_localityName,
     "POSIX extended regex every L value must match whole", ""},
    {"subject_st_pattern", K_SUBJECT_PATTERN, 5, NID_stateOrProvinceName,
     "POSIX extended regex every ST value must match whole", ""},
    {"subject_email_pattern", K_SUBJECT_PATTERN, 6, NID_pkcs9_emailAddress,
     "POSIX extended regex every emailAddress value must match whole", ""},
    {"subject_serialnumber_pattern", K_SUBJECT_PATTERN, 7, NID_serialNumber,
     "POSIX extended regex every serialNumber value must match whole", ""},
    {"subject_uid_pattern", K_SUBJECT_PATTERN, 8, NID_userId,
     "POSIX extended regex every UID value must match whole", ""},
    {"subject_dc_pattern", K_SUBJECT_PATTERN, 9, NID_domainComponent,
     "POSIX extended regex every DC value must match whole", ""},
    {"subject_max_length", K_SUBJECT_MAX_LENGTH, -1, 0,
     "longest subject attribute value, in characters (1 to " STR(
         RULES_MAX_VALUE) "; 0 or empty: no rule)",
     ""},
    {"san_types", K_SAN_TYPES, -1, 0,
     "the only subjectAltName types allowed: comma list of dns, ip, email, uri (empty: every "
     "type the CA accepts, which adds directoryName and the UPN otherName)",
     ""},
    {"dns_pattern", K_SAN_PATTERN, 10, RULES_SAN_DNS,
     "POSIX extended regex every SAN dNSName must match whole", ""},
    {"ip_pattern", K_SAN_PATTERN, 11, RULES_SAN_IP,
     "POSIX extended regex every SAN iPAddress must match whole, as inet_ntop text", ""},
    {"email_pattern", K_SAN_PATTERN, 12, RULES_SAN_EMAIL,
     "POSIX extended regex every SAN rfc822Name must match whole", ""},
    {"uri_pattern", K_SAN_PATTERN, 13, RULES_SAN_URI,
     "POSIX extended regex every SAN URI must match whole", ""},
    {"san_max", K_SAN_MAX, -1, 0,
     "most subjectAltNames (1 to " STR(SCEP_MAX_SANS) "; 0 or empty: no rule)", ""},
    {"san_required", K_SAN_REQUIRED, -1, 0, "at least one subjectAltName (true/false)", "false"},
};

#define NKEYS (sizeof(rule_keys) / sizeof(rule_keys[0]))

/* Writes a message into why[] when the caller gave one. */
static int say(char *why, size_t whylen, int rc, const char *fmt, ...)
{
    va_list ap;

    if (why != NULL && whylen > 0) {
        va_start(ap, fmt);
        vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static const struct rule_key *find_key(const char *key)
{
    size_t i;

    for (i = 0; key != NULL && i < NKEYS; i++)
        if (strcmp(rule_keys[i].key, key) == 0)
            return &rule_keys[i];
    return NULL;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/*
 * The next item of a comma (or blank) separated list at *p: *item and
 * *len, with *p moved past it.  Returns 0 at the end of the list.
 */
static int next_item(const char **p, const char **item, size_t *len)
{
    const char *s = *p;

    while (*s != '\0' && (is_blank(*s) || *s == ','))
        s++;
    if (*s == '\0')
        return 0;
    *item = s;
    while (*s != '\0' && !is_blank(*s) && *s != ',')
        s++;
    *len = (size_t)(s - *item);
    *p = s;
    return 1;
}

/* 1 when the value is empty or blank: the rule goes back to its default. */
static int is_empty(const char *value)
{
    while (is_blank(*value))
        value++;
    return *value == '\0';
}

/* Case-insensitive comparison of item (len bytes) with name. */
static int item_is(const char *item, size_t len, const char *name)
{
    return strlen(name) == len && strncasecmp(item, name, len) == 0;
}

/*
 * A list of names from names[] (case-insensitive) into bits; what names
 * the kind of item in the message.  Returns 0 or SCEP_ERR_CONFIG.
 */
static int parse_names(const char *key, const char *value, const char *what,
                       const char *const names[], const unsigned bitv[], size_t n, const char *all,
                       unsigned *out, char *why, size_t whylen)
{
    const char *p = value, *item;
    unsigned bits = 0;
    size_t len, k;

    while (next_item(&p, &item, &len)) {
        for (k = 0; k < n && !item_is(item, len, names[k]); k++)
            ;
        if (k == n)
            return say(why, whylen, SCEP_ERR_CONFIG, "%s: unknown %s \"%.*s\" (%s)", key, what,
                       (int)(len < SHOW_ITEM ? len : SHOW_ITEM), item, all);
        bits |= bitv[k];
    }
    *out = bits;
    return 0;
}

/*
 * A decimal integer from lo to hi, blanks around it allowed.  Returns 0
 * or SCEP_ERR_CONFIG.
 */
static int parse_int(const char *key, const char *value, long lo, long hi, int *out, char *why,
                     size_t whylen)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(value, &end, 10);
    while (is_blank(*end))
        end++;
    if (errno != 0 || end == value || *end != '\0' || v < lo || v > hi)
        return say(why, whylen, SCEP_ERR_CONFIG, "%s: \"%.*s\" is not an integer from %ld to %ld",
                   key, SHOW_ITEM, value, lo, hi);
    *out = (int)v;
    return 0;
}

/* The same words as scepd.conf's other booleans (lib/config). */
static int parse_bool(const char *key, const char *value, int *out, char *why, size_t whylen)
{
    static const char *const words[] = {"true", "yes", "on", "1", "false", "no", "off", "0"};
    const char *s = value;
    size_t len, k;

    while (is_blank(*s))
        s++;
    for (len = strlen(s); len > 0 && is_blank(s[len - 1]); len--)
        ;
    for (k = 0; k < sizeof(words) / sizeof(words[0]); k++)
        if (item_is(s, len, words[k])) {
            *out = k < 4; /* the first four say yes */
            return 0;
        }
    return say(why, whylen, SCEP_ERR_CONFIG,
               "%s: \"%.*s\" is not a boolean (true/false/yes/no/on/off/1/0)", key, SHOW_ITEM,
               value);
}

/*
 * The NID of the attribute type named by item (len bytes): its short
 * name, long name or dotted OID exactly as OpenSSL knows it (OBJ_txt2nid),
 * else a case-insensitive match of one object's short or long name, so
 * that "cn" and "emailaddress" work as they do in other tools.  Returns
 * the NID, NID_undef for none, or -1 when two objects match.
 */
static int attr_nid(const char *item, size_t len)
{
    char name[SHOW_ITEM + 1];
    int nid, i, last, found = NID_undef;

    if (len == 0 || len > SHOW_ITEM)
        return NID_undef;
    memcpy(name, item, len);
    name[len] = '\0';
    nid = OBJ_txt2nid(name);
    if (nid != NID_undef)
        return nid;
    /* OBJ_new_nid(0) hands out nothing: it returns the first unused NID,
     * the end of the built-in and added objects. */
    last = OBJ_new_nid(0);
    for (i = 1; i < last; i++) {
        /* OBJ_nid2sn/ln return NULL (and queue an error) for the gaps in
         * the built-in table. */
        const char *sn = OBJ_nid2sn(i), *ln = OBJ_nid2ln(i);

        if ((sn != NULL && strcasecmp(sn, name) == 0) ||
            (ln != NULL && strcasecmp(ln, name) == 0)) {
            if (found != NID_undef && found != i) {
                found = -1;
                break;
            }
            found = i;
        }
    }
    ERR_clear_error();
    return found;
}

/* A list of attribute names into nids[] (at most RULES_MAX_ATTRS, no
 * repeats).  Returns 0 or SCEP_ERR_CONFIG. */
static int parse_attrs(const char *key, const char *value, int nids[], size_t *count, char *why,
                       size_t whylen)
{
    int tmp[RULES_MAX_ATTRS] = {0}, nid;
    const char *p = value, *item;
    size_t len, n = 0, k;

    while (next_item(&p, &item, &len)) {
        nid = attr_nid(item, len);
        if (nid == -1)
            return say(why, whylen, SCEP_ERR_CONFIG,
                       "%s: attribute name \"%.*s\" is ambiguous (use its exact short name)", key,
                       (int)(len < SHOW_ITEM ? len : SHOW_ITEM), item);
        if (nid == NID_undef)
            return say(why, whylen, SCEP_ERR_CONFIG,
                       "%s: unknown attribute \"%.*s\" (CN, O, OU, C, L, ST, emailAddress, "
                       "serialNumber, UID, DC, ...)",
                       key, (int)(len < SHOW_ITEM ? len : SHOW_ITEM), item);
        for (k = 0; k < n && tmp[k] != nid; k++)
            ;
        if (k < n)
            continue;
        if (n == RULES_MAX_ATTRS)
            return say(why, whylen, SCEP_ERR_CONFIG, "%s: more than %d attributes", key,
                       RULES_MAX_ATTRS);
        tmp[n++] = nid;
    }
    memcpy(nids, tmp, n * sizeof(tmp[0]));
    *count = n;
    return 0;
}

/*
 * Compiles text into re as a whole-value match.  text is compiled alone
 * first, so that the error names what the administrator wrote.  re is
 * set only on success (free with regfree()).  Returns 0, SCEP_ERR_CONFIG
 * or SCEP_ERR_NOMEM.
 */
static int pattern_compile(const char *key, const char *text, regex_t *re, char *why, size_t whylen)
{
    regex_t alone;
    char msg[128], *anchored = NULL;
    size_t n = strlen(text);
    int err, rc = SCEP_ERR_CONFIG;

    if (rules_regex_vet(text, msg, sizeof(msg)) != 0) {
        say(why, whylen, rc, "%s: regex refused: %s", key, msg);
        goto out;
    }
    err = regcomp(&alone, text, REG_EXTENDED | REG_NOSUB);
    if (err != 0) {
        regerror(err, &alone, msg, sizeof(msg));
        say(why, whylen, rc, "%s: regex error: %s", key, msg);
        goto out;
    }
    regfree(&alone);
    if (rules_regex_stray_paren(text)) {
        say(why, whylen, rc, "%s: regex error: unmatched ) (write \\) for a literal one)", key);
        goto out;
    }
    rc = SCEP_ERR_NOMEM;
    if (n > SIZE_MAX - 5 || (anchored = malloc(n + 5)) == NULL)
        goto out;
    memcpy(anchored, "^(", 2);
    memcpy(anchored + 2, text, n);
    memcpy(anchored + 2 + n, ")$", 3);
    err = regcomp(re, anchored, REG_EXTENDED | REG_NOSUB);
    if (err != 0) {
        rc = err == REG_ESPACE ? SCEP_ERR_NOMEM : SCEP_ERR_CONFIG;
        regerror(err, re, msg, sizeof(msg));
        say(why, whylen, rc, "%s: regex error: %s", key, msg);
        goto out;
    }
    rc = 0;
out:
    free(anchored);
    return rc;
}

static void pattern_clear(struct rules_pattern *pt)
{
    if (pt->text != NULL)
        regfree(&pt->re);
    free(pt->text);
    pt->text = NULL;
}

/* Sets pattern pt from text (empty: off).  Returns 0 or SCEP_ERR_*. */
static int set_pattern(struct rules_pattern *pt, const char *text, char *why, size_t whylen)
{
    regex_t re;
    char *copy = NULL;
    int rc;

    if (*text == '\0') {
        pattern_clear(pt);
        return 0;
    }
    if ((copy = strdup(text)) == NULL)
        return SCEP_ERR_NOMEM;
    if ((rc = pattern_compile(pt->key, text, &re, why, whylen)) != 0) {
        free(copy);
        return rc;
    }
    pattern_clear(pt);
    pt->text = copy;
    pt->re = re;
    return 0;
}

/*
 * The curve list: the CA's own parser (scep_ca_parse_curves), item by
 * item so that a refusal can name the item.
 */
static int set_curves(struct scep_rules *r, const char *value, char *why, size_t whylen)
{
    char one[SHOW_ITEM + 1];
    const char *p = value, *item;
    unsigned bits = 0, bit;
    size_t len;

    while (next_item(&p, &item, &len)) {
        if (len > SHOW_ITEM)
            len = SHOW_ITEM;
        memcpy(one, item, len);
        one[len] = '\0';
        if (scep_ca_parse_curves(one, &bit) != 0)
            return say(why, whylen, SCEP_ERR_CONFIG,
                       "allowed_curves: unknown curve \"%s\" (P-256, P-384, P-521)", one);
        bits |= bit;
    }
    r->curves = bits;
    return 0;
}

/*
 * Sets one rule (see rules.h).
 */
int scep_rules_set(struct scep_rules *r, const char *key, const char *value, char *why,
                   size_t whylen)
{
    static const char *const key_names[] = {"rsa", "ec"};
    static const unsigned key_bits[] = {RULES_KEY_RSA, RULES_KEY_EC};
    static const char *const san_names[] = {"dns", "ip", "email", "uri"};
    static const unsigned san_bits[] = {RULES_SAN_DNS, RULES_SAN_IP, RULES_SAN_EMAIL,
                                        RULES_SAN_URI};
    const struct rule_key *k;
    unsigned bits = 0; /* set by parse_names; -O2 cannot see that it is on success */
    int v, rc;

    if (why != NULL && whylen > 0)
        why[0] = '\0';
    if (r == NULL || key == NULL || value == NULL)
        return say(why, whylen, SCEP_ERR_INVALID_ARG, "no rule set, key or value");
    if ((k = find_key(key)) == NULL)
        return say(why, whylen, SCEP_ERR_CONFIG, "unknown rule \"%.*s\"", SHOW_ITEM, key);
    switch (k->kind) {
    case K_KEY_TYPES:
        if ((rc = parse_names(k->key, value, "key type", key_names, key_bits, 2, "rsa, ec", &bits,
                              why, whylen)) != 0)
            return rc;
        r->key_types = bits != 0 ? bits : RULES_KEY_ALL;
        return 0;
    case K_MIN_RSA_BITS:
        /* Above SCEP_MAX_RSA_BITS the CA refuses every RSA key anyway. */
        v = 0;
        if (!is_empty(value) && (rc = parse_int(k->key, value, SCEP_MIN_RSA_BITS, SCEP_MAX_RSA_BITS,
                                                &v, why, whylen)) != 0)
            return rc;
        r->min_rsa_bits = v;
        return 0;
    case K_CURVES:
        return set_curves(r, value, why, whylen);
    case K_SUBJECT_REQUIRED:
        return parse_attrs(k->key, value, r->required, &r->nrequired, why, whylen);
    case K_SUBJECT_FORBIDDEN:
        return parse_attrs(k->key, value, r->forbidden, &r->nforbidden, why, whylen);
    case K_SUBJECT_PATTERN:
    case K_SAN_PATTERN:
        return set_pattern(&r->pat[k->slot], value, why, whylen);
    case K_SUBJECT_MAX_LENGTH:
        v = 0;
        if (!is_empty(value) &&
            (rc = parse_int(k->key, value, 0, RULES_MAX_VALUE, &v, why, whylen)) != 0)
            return rc;
        r->subject_max_length = v;
        return 0;
    case K_SAN_TYPES:
        if ((rc = parse_names(k->key, value, "SAN type", san_names, san_bits, 4,
                              "dns, ip, email, uri", &bits, why, whylen)) != 0)
            return rc;
        r->san_types = bits;
        return 0;
    case K_SAN_MAX:
        v = 0;
        if (!is_empty(value) &&
            (rc = parse_int(k->key, value, 0, SCEP_MAX_SANS, &v, why, whylen)) != 0)
            return rc;
        r->san_max = v;
        return 0;
    case K_SAN_REQUIRED:
        v = 0;
        if (!is_empty(value) && (rc = parse_bool(k->key, value, &v, why, whylen)) != 0)
            return rc;
        r->san_required = v;
        return 0;
    }
    return say(why, whylen, SCEP_ERR_INTERNAL, "%s: no parser", k->key);
}

/* Rule keys (see rules.h). */
int scep_rules_is_key(const char *key)
{
    return find_key(key) != NULL;
}

void scep_rules_each_key(void (*cb)(const char *key, const char *help, const char *def, void *arg),
                         void *arg)
{
    size_t i;

    for (i = 0; cb != NULL && i < NKEYS; i++)
        cb(rule_keys[i].key, rule_keys[i].help, rule_keys[i].def, arg);
}

/*
 * A permissive rule set (see rules.h).  *out: free with scep_rules_free().
 */
int scep_rules_new(struct scep_rules **out)
{
    struct scep_rules *r;
    size_t i;

    if (out == NULL)
        return SCEP_ERR_INVALID_ARG;
    if ((r = calloc(1, sizeof(*r))) == NULL)
        return SCEP_ERR_NOMEM;
    r->key_types = RULES_KEY_ALL;
    for (i = 0; i < NKEYS; i++) {
        if (rule_keys[i].slot < 0)
            continue;
        r->pat[rule_keys[i].slot].key = rule_keys[i].key;
        r->pat[rule_keys[i].slot].target = rule_keys[i].target;
    }
    *out = r;
    return 0;
}

/*
 * Deep copy (see rules.h): a regex_t holds pointers into its own
 * allocations and cannot be copied, so every pattern is compiled again
 * from its text.  *out: free with scep_rules_free().
 */
int scep_rules_copy(const struct scep_rules *src, struct scep_rules **out)
{
    struct scep_rules *r = NULL;
    size_t i;
    int rc = SCEP_ERR_INVALID_ARG;

    if (src == NULL || out == NULL)
        goto out;
    rc = SCEP_ERR_NOMEM;
    if ((r = malloc(sizeof(*r))) == NULL)
        goto out;
    *r = *src;
    for (i = 0; i < RULES_NPATTERNS; i++) {
        r->pat[i].text = NULL;
        memset(&r->pat[i].re, 0, sizeof(r->pat[i].re));
    }
    for (i = 0; i < RULES_NPATTERNS; i++)
        if (src->pat[i].text != NULL &&
            (rc = set_pattern(&r->pat[i], src->pat[i].text, NULL, 0)) != 0)
            goto out;
    *out = r;
    r = NULL;
    rc = 0;
out:
    scep_rules_free(r);
    return rc;
}

void scep_rules_free(struct scep_rules *r)
{
    size_t i;

    if (r == NULL)
        return;
    for (i = 0; i < RULES_NPATTERNS; i++)
        pattern_clear(&r->pat[i]);
    free(r);
}
