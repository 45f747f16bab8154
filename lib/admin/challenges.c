/*
 * One-time enrollment challenges: minting one (random text handed to
 * the administrator once, its SHA-256 kept in the store with what it may
 * admit), the one hash function the enrollment path looks a CSR's
 * challengePassword up with, the check of a request against the
 * challenge's binding (subject, subjectAltNames), and listing, revoking
 * and purging with their audit events.  scepctl, the admin API to come
 * and lib/service all call these; consuming a use is the store's, in the
 * transaction that stores the certificate or request.
 *
 * Names are compared decoded, never as printed text: OpenSSL prints
 * some names masked or escaped, so different names can print alike.
 * Bound SANs are kept as "TYPE:VALUE" lines and turned back into
 * GENERAL_NAMEs with the same parser that checked them at minting.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <scep/error.h>
#include <scep/limits.h>

#include "admin/admin.h"
#include "admin/secret_hash.h"
#include "ca/ca.h"

/* Room for the audit detail and for one side of a binding message. */
#define DETAIL_LEN 4096
#define NAMES_LEN 1024

/* The SAN types a challenge may bind, and their GENERAL_NAME types. */
static const struct {
    const char *name;
    int type;
} san_types[] = {
    {"DNS", GEN_DNS},
    {"IP", GEN_IPADD},
    {"email", GEN_EMAIL},
    {"URI", GEN_URI},
};

#define NSAN_TYPES (sizeof(san_types) / sizeof(san_types[0]))

/* Writes a message into why (whylen bytes; why may be NULL). */
static void set_why(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_why(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;

    if (why == NULL || whylen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

/* 1 if every byte of s is printable ASCII other than space: what a
 * host name, mailbox, URI or address is made of, and what keeps the
 * "\n"-joined list and the audit trail unambiguous. */
static int printable_token(const char *s)
{
    if (s[0] == '\0')
        return 0;
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return 0;
    }
    return 1;
}

/*
 * Parses one "TYPE:VALUE" into a new GENERAL_NAME.  The type name is
 * matched case-insensitively; canon (may be NULL) receives the canonical
 * spelling.  OpenSSL's a2i_GENERAL_NAME does the conversion (an IP
 * address must parse as IPv4 or IPv6; the others become IA5Strings), on
 * top of the token, '@' and ':' checks it does not make.  *out:
 * GENERAL_NAME_free().  0 or SCEP_ERR_INVALID_ARG with why set.
 */
static int san_parse(const char *item, GENERAL_NAME **out, const char **canon, char *why,
                     size_t whylen)
{
    const char *colon = strchr(item, ':'), *value;
    GENERAL_NAME *gen = NULL;
    size_t tlen, i;
    int type = -1;

    if (colon == NULL) {
        set_why(why, whylen, "SAN \"%s\" is not TYPE:VALUE (TYPE one of DNS, IP, email, URI)",
                item);
        return SCEP_ERR_INVALID_ARG;
    }
    tlen = (size_t)(colon - item);
    for (i = 0; i < NSAN_TYPES; i++) {
        if (strlen(san_types[i].name) == tlen && strncasecmp(item, san_types[i].name, tlen) == 0)
            break;
    }
    if (i == NSAN_TYPES) {
        set_why(why, whylen, "SAN \"%s\": unknown type (one of DNS, IP, email, URI)", item);
        return SCEP_ERR_INVALID_ARG;
    }
    type = san_types[i].type;
    value = colon + 1;
    if (strlen(value) > SCEP_ADMIN_CHALLENGE_SAN_MAX || !printable_token(value) ||
        (type == GEN_EMAIL && strchr(value, '@') == NULL) ||
        (type == GEN_URI && strchr(value, ':') == NULL)) {
        set_why(why, whylen, "SAN \"%s\" is not a valid %s name", item, san_types[i].name);
        return SCEP_ERR_INVALID_ARG;
    }
    /* The method and the configuration context matter only for
     * directoryName and otherName, which are not offered here. */
    gen = a2i_GENERAL_NAME(NULL, NULL, NULL, type, value, 0);
    if (gen == NULL) {
        ERR_clear_error();
        set_why(why, whylen, "SAN \"%s\" is not a valid %s name", item, san_types[i].name);
        return SCEP_ERR_INVALID_ARG;
    }
    if (canon != NULL)
        *canon = san_types[i].name;
    *out = gen;
    return 0;
}

/* 1 if names holds a name equal to gen (GENERAL_NAME_cmp: decoded). */
static int names_have(const GENERAL_NAMES *names, const GENERAL_NAME *gen)
{
    int i, n = names != NULL ? sk_GENERAL_NAME_num(names) : 0;

    for (i = 0; i < n; i++) {
        if (GENERAL_NAME_cmp(sk_GENERAL_NAME_value(names, i), (GENERAL_NAME *)gen) == 0)
            return 1;
    }
    return 0;
}

/*
 * Parses the stored "\n"-joined bound SANs (NULL or "": none) into a new
 * stack.  *out: sk_GENERAL_NAME_pop_free(.., GENERAL_NAME_free); NULL
 * when there are none.  0, SCEP_ERR_NOMEM, or SCEP_ERR_INVALID_ARG for
 * a stored item that no longer parses.
 */
static int bound_sans(const char *sans, GENERAL_NAMES **out, char *why, size_t whylen)
{
    GENERAL_NAMES *names = NULL;
    GENERAL_NAME *gen = NULL;
    char item[SCEP_ADMIN_CHALLENGE_SAN_MAX + 16];
    const char *p = sans, *nl;
    size_t n;
    int rc = SCEP_ERR_NOMEM;

    *out = NULL;
    if (sans == NULL || sans[0] == '\0')
        return 0;
    names = sk_GENERAL_NAME_new_null();
    if (names == NULL)
        goto out;
    while (*p != '\0') {
        nl = strchr(p, '\n');
        n = nl != NULL ? (size_t)(nl - p) : strlen(p);
        if (n >= sizeof(item) || sk_GENERAL_NAME_num(names) >= SCEP_MAX_SANS) {
            set_why(why, whylen, "the challenge's stored SANs are malformed");
            rc = SCEP_ERR_INVALID_ARG;
            goto out;
        }
        memcpy(item, p, n);
        item[n] = '\0';
        rc = san_parse(item, &gen, NULL, why, whylen);
        if (rc != 0)
            goto out;
        rc = SCEP_ERR_NOMEM;
        if (!sk_GENERAL_NAME_push(names, gen))
            goto out;
        gen = NULL;
        p += n;
        if (*p == '\n')
            p++;
    }
    *out = names;
    names = NULL;
    rc = 0;
out:
    GENERAL_NAME_free(gen);
    sk_GENERAL_NAME_pop_free(names, GENERAL_NAME_free);
    return rc;
}

/* 1 if profile is a name scepd.conf(5) could give a profile. */
static int valid_profile(const char *profile)
{
    size_t n = strlen(profile);

    if (n > SCEP_ADMIN_CHALLENGE_PROFILE_MAX)
        return 0;
    for (; *profile != '\0'; profile++) {
        char ch = *profile;

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-'))
            return 0;
    }
    return 1;
}

/*
 * Checks spec and, when canon is not NULL, writes the bound SANs in the
 * stored form ("TYPE:VALUE" with the canonical type name, joined by
 * "\n") into canon (canonlen bytes).  0 or SCEP_ERR_INVALID_ARG with why.
 */
static int check_spec(const struct scep_admin_challenge_spec *spec, char *canon, size_t canonlen,
                      char *why, size_t whylen)
{
    GENERAL_NAMES *seen = NULL;
    GENERAL_NAME *gen = NULL;
    X509_NAME *name = NULL;
    const char *type = NULL;
    size_t i, used = 0;
    int rc = SCEP_ERR_INVALID_ARG, w;

    if (why != NULL && whylen > 0)
        why[0] = '\0';
    if (canon != NULL && canonlen > 0)
        canon[0] = '\0';
    if (spec == NULL) {
        set_why(why, whylen, "no challenge specification");
        goto out;
    }
    if (spec->profile != NULL && !valid_profile(spec->profile)) {
        set_why(why, whylen,
                "profile \"%.64s\" is not a profile name (letters, digits, '.', '_', '-'; at "
                "most %d bytes)",
                spec->profile, SCEP_ADMIN_CHALLENGE_PROFILE_MAX);
        goto out;
    }
    if (spec->ttl < 0 || spec->ttl > SCEP_ADMIN_CHALLENGE_TTL_MAX) {
        set_why(why, whylen, "lifetime %lld s is out of range (1 s to 365 days)",
                (long long)spec->ttl);
        goto out;
    }
    if (spec->uses < 0 || spec->uses > SCEP_ADMIN_CHALLENGE_USES_MAX) {
        set_why(why, whylen, "uses %lld is out of range (1 to %d)", (long long)spec->uses,
                SCEP_ADMIN_CHALLENGE_USES_MAX);
        goto out;
    }
    if (spec->subject != NULL) {
        /* lib/ca's parser answers SCEP_ERR_CONFIG for every refusal:
         * unknown attribute, empty value, too long. */
        if (scep_ca_parse_name(spec->subject, &name) != 0) {
            ERR_clear_error();
            set_why(why, whylen,
                    "subject \"%.256s\" is not a DN (e.g. \"CN=device1,O=Example\"; known "
                    "attributes only, at most %d bytes)",
                    spec->subject, SCEP_MAX_SUBJECT);
            goto out;
        }
    }
    if (spec->nsans > 0 && spec->sans == NULL) {
        set_why(why, whylen, "SAN list missing");
        goto out;
    }
    if (spec->nsans > SCEP_MAX_SANS) {
        set_why(why, whylen, "too many SANs (at most %d)", SCEP_MAX_SANS);
        goto out;
    }
    seen = sk_GENERAL_NAME_new_null();
    if (seen == NULL) {
        rc = SCEP_ERR_NOMEM;
        goto out;
    }
    for (i = 0; i < spec->nsans; i++) {
        if (spec->sans[i] == NULL) {
            set_why(why, whylen, "SAN list holds a NULL");
            goto out;
        }
        rc = san_parse(spec->sans[i], &gen, &type, why, whylen);
        if (rc != 0)
            goto out;
        rc = SCEP_ERR_INVALID_ARG;
        /* A set: the same name twice is a slip worth pointing out. */
        if (names_have(seen, gen)) {
            set_why(why, whylen, "SAN \"%s\" is given twice", spec->sans[i]);
            goto out;
        }
        if (!sk_GENERAL_NAME_push(seen, gen)) {
            rc = SCEP_ERR_NOMEM;
            goto out;
        }
        gen = NULL;
        if (canon != NULL) {
            w = snprintf(canon + used, canonlen - used, "%s%s:%s", i > 0 ? "\n" : "", type,
                         strchr(spec->sans[i], ':') + 1);
            if (w < 0 || (size_t)w >= canonlen - used) {
                set_why(why, whylen, "the SANs are too long together");
                goto out;
            }
            used += (size_t)w;
        }
    }
    rc = 0;
out:
    GENERAL_NAME_free(gen);
    sk_GENERAL_NAME_pop_free(seen, GENERAL_NAME_free);
    X509_NAME_free(name);
    return rc;
}

int scep_admin_challenge_validate(const struct scep_admin_challenge_spec *spec, char *why,
                                  size_t whylen)
{
    return check_spec(spec, NULL, 0, why, whylen);
}

int scep_admin_challenge_hash(const char *challenge, size_t len,
                              char out[SCEP_ADMIN_CHALLENGE_HASH_HEX])
{
    if (challenge == NULL || out == NULL)
        return SCEP_ERR_INVALID_ARG;
    if (len > SCEP_MAX_CHALLENGE)
        return SCEP_ERR_TOO_LARGE;
    return admin_secret_hash(challenge, len, out);
}

void scep_admin_challenge_free(char *challenge)
{
    if (challenge == NULL)
        return;
    OPENSSL_clear_free(challenge, strlen(challenge));
}

/*
 * A new challenge text: SCEP_ADMIN_CHALLENGE_BYTES from the CSPRNG as
 * lowercase hex.  Hex, because a challengePassword travels as a
 * PrintableString or UTF8String in the CSR and is typed into device
 * profiles and MDM consoles: [0-9a-f] is PrintableString-safe, has no
 * '+', '/' or '=' that some clients mangle, no letters that look alike,
 * and no case to lose; 160 bits in 40 characters stays far below
 * SCEP_MAX_CHALLENGE.  *out: scep_admin_challenge_free().
 */
static int make_challenge(char **out)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char rnd[SCEP_ADMIN_CHALLENGE_BYTES];
    char *s = NULL;
    size_t i;
    int rc = SCEP_ERR_INTERNAL;

    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        goto out;
    s = OPENSSL_malloc(SCEP_ADMIN_CHALLENGE_LEN + 1);
    if (s == NULL) {
        rc = SCEP_ERR_NOMEM;
        goto out;
    }
    for (i = 0; i < sizeof(rnd); i++) {
        s[2 * i] = hex[rnd[i] >> 4];
        s[2 * i + 1] = hex[rnd[i] & 0x0f];
    }
    s[SCEP_ADMIN_CHALLENGE_LEN] = '\0';
    *out = s;
    rc = 0;
out:
    OPENSSL_cleanse(rnd, sizeof(rnd));
    return rc;
}

/* The SANs of a "\n"-joined list for a message or the audit trail,
 * comma-separated. */
static void sans_line(const char *sans, char *buf, size_t len)
{
    size_t i;

    /* Cut to the buffer on purpose: the line is for a human. */
    if (snprintf(buf, len, "%s", sans != NULL && sans[0] != '\0' ? sans : "none") < 0)
        buf[0] = '\0';
    for (i = 0; buf[i] != '\0'; i++) {
        if (buf[i] == '\n')
            buf[i] = ',';
    }
}

int scep_admin_challenge_new(struct scep_store *st, const struct scep_admin_challenge_spec *spec,
                             const char *actor, char **challenge_out,
                             struct scep_challenge_info **info_out)
{
    struct scep_challenge_info ci;
    struct scep_audit_event ev;
    char *challenge = NULL, hash[SCEP_ADMIN_CHALLENGE_HASH_HEX];
    char canon[SCEP_MAX_SANS * (SCEP_ADMIN_CHALLENGE_SAN_MAX + 8)];
    char detail[DETAIL_LEN], sanbuf[NAMES_LEN];
    int64_t now, id = 0;
    int rc;

    if (st == NULL || spec == NULL || actor == NULL || challenge_out == NULL)
        return SCEP_ERR_INVALID_ARG;
    rc = check_spec(spec, canon, sizeof(canon), NULL, 0);
    if (rc != 0)
        goto out;
    rc = make_challenge(&challenge);
    if (rc != 0)
        goto out;
    rc = scep_admin_challenge_hash(challenge, strlen(challenge), hash);
    if (rc != 0)
        goto out;
    now = spec->now != 0 ? spec->now : (int64_t)time(NULL);
    memset(&ci, 0, sizeof(ci));
    ci.hash = hash;
    ci.profile = (char *)(spec->profile != NULL ? spec->profile : "");
    ci.subject = (char *)spec->subject;
    ci.sans = spec->nsans > 0 ? canon : NULL;
    ci.max_uses = spec->uses != 0 ? spec->uses : 1;
    ci.created_at = now;
    ci.expires_at = now + (spec->ttl != 0 ? spec->ttl : SCEP_ADMIN_CHALLENGE_TTL_DEFAULT);
    ci.created_by = (char *)actor;
    /* What it admits, for whoever reads the trail later; the challenge
     * itself never goes in. */
    sans_line(ci.sans, sanbuf, sizeof(sanbuf));
    snprintf(detail, sizeof(detail), "profile=\"%s\" ttl=%lld uses=%lld subject=\"%s\" sans=\"%s\"",
             ci.profile, (long long)(ci.expires_at - now), (long long)ci.max_uses,
             ci.subject != NULL ? ci.subject : "any", ci.sans != NULL ? sanbuf : "any");
    memset(&ev, 0, sizeof(ev));
    ev.kind = "challenge-new";
    ev.actor = actor;
    ev.time = now;
    ev.detail = detail;
    rc = scep_store_add_challenge(st, &ci, &ev, &id);
    if (rc != 0)
        goto out;
    if (info_out != NULL && (rc = scep_store_get_challenge(st, id, info_out)) != 0)
        goto out;
    *challenge_out = challenge;
    challenge = NULL;
    rc = 0;
out:
    OPENSSL_cleanse(hash, sizeof(hash));
    scep_admin_challenge_free(challenge);
    return rc;
}

/* The names of gens (NULL: none) as one line, for a message: printed by
 * OpenSSL, used only for reading, never for comparing. */
static void names_text(const GENERAL_NAMES *gens, char *buf, size_t len)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *p = NULL;
    long n;
    int i, num = gens != NULL ? sk_GENERAL_NAME_num(gens) : 0;

    snprintf(buf, len, "none");
    if (b == NULL || num == 0)
        goto out;
    for (i = 0; i < num; i++) {
        if (i > 0)
            BIO_puts(b, ", ");
        GENERAL_NAME_print(b, sk_GENERAL_NAME_value(gens, i));
    }
    n = BIO_get_mem_data(b, &p);
    if (n > 0)
        snprintf(buf, len, "%.*s", (int)(n > (long)len ? (long)len : n), p);
out:
    BIO_free(b);
}

/* The RFC 2253 text of name into buf ("-" when it cannot be printed). */
static void name_text(const X509_NAME *name, char *buf, size_t len)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *p = NULL;
    long n;

    snprintf(buf, len, "-");
    if (b == NULL || name == NULL)
        goto out;
    if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) < 0)
        goto out;
    n = BIO_get_mem_data(b, &p);
    if (n >= 0)
        snprintf(buf, len, "%.*s", (int)(n > (long)len ? (long)len : n), p);
out:
    BIO_free(b);
}

/* 1 if a and b hold the same names, as sets. */
static int same_names(const GENERAL_NAMES *a, const GENERAL_NAMES *b)
{
    int i, na = a != NULL ? sk_GENERAL_NAME_num(a) : 0, nb = b != NULL ? sk_GENERAL_NAME_num(b) : 0;

    for (i = 0; i < na; i++) {
        if (!names_have(b, sk_GENERAL_NAME_value(a, i)))
            return 0;
    }
    for (i = 0; i < nb; i++) {
        if (!names_have(a, sk_GENERAL_NAME_value(b, i)))
            return 0;
    }
    return 1;
}

int scep_admin_challenge_check_binding(const struct scep_challenge_info *ci,
                                       const X509_NAME *subject, X509_REQ *csr, char *why,
                                       size_t whylen)
{
    X509_NAME *bound = NULL;
    GENERAL_NAMES *want = NULL, *got = NULL;
    STACK_OF(X509_EXTENSION) *exts = NULL;
    char a[NAMES_LEN], b[NAMES_LEN];
    int rc = SCEP_ERR_INVALID_ARG, crit = -1;

    if (why != NULL && whylen > 0)
        why[0] = '\0';
    if (ci == NULL || csr == NULL || subject == NULL)
        goto out;
    if (ci->subject == NULL && ci->sans == NULL) {
        rc = 0;
        goto out;
    }
    if (ci->subject != NULL) {
        if (scep_ca_parse_name(ci->subject, &bound) != 0) {
            ERR_clear_error();
            set_why(why, whylen, "challenge's bound subject \"%.256s\" no longer parses",
                    ci->subject);
            rc = SCEP_ERR_POLICY;
            goto out;
        }
        if (X509_NAME_cmp(bound, subject) != 0) {
            name_text(subject, b, sizeof(b));
            set_why(why, whylen, "challenge is bound to subject %.400s, CSR asks for %.400s",
                    ci->subject, b);
            rc = SCEP_ERR_POLICY;
            goto out;
        }
    }
    rc = bound_sans(ci->sans, &want, why, whylen);
    if (rc == SCEP_ERR_INVALID_ARG)
        rc = SCEP_ERR_POLICY;
    if (rc != 0)
        goto out;
    /* The CSR's requested extensions, decoded by OpenSSL; more than one
     * subjectAltName (crit -2) is refused rather than picked from. */
    exts = X509_REQ_get_extensions(csr);
    if (exts != NULL) {
        got = X509V3_get_d2i(exts, NID_subject_alt_name, &crit, NULL);
        if (got == NULL && crit != -1) {
            ERR_clear_error();
            set_why(why, whylen, "CSR's subjectAltName extension is malformed or repeated");
            rc = SCEP_ERR_POLICY;
            goto out;
        }
    }
    if (!same_names(want, got)) {
        names_text(want, a, sizeof(a));
        names_text(got, b, sizeof(b));
        set_why(why, whylen, "challenge is bound to SANs %.400s, CSR asks for %.400s", a, b);
        rc = SCEP_ERR_POLICY;
        goto out;
    }
    rc = 0;
out:
    X509_NAME_free(bound);
    sk_GENERAL_NAME_pop_free(want, GENERAL_NAME_free);
    sk_GENERAL_NAME_pop_free(got, GENERAL_NAME_free);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return rc;
}

const char *scep_admin_challenge_state(const struct scep_challenge_info *ci, int64_t now)
{
    if (ci->revoked_at > 0)
        return "revoked";
    if (ci->uses >= ci->max_uses)
        return "used";
    if (ci->expires_at <= now)
        return "expired";
    return "active";
}

int scep_admin_challenge_list(struct scep_store *st, int include_spent, scep_store_challenge_cb cb,
                              void *arg)
{
    if (st == NULL || cb == NULL)
        return SCEP_ERR_INVALID_ARG;
    return scep_store_list_challenges(st, include_spent, cb, arg);
}

int scep_admin_challenge_revoke(struct scep_store *st, const char *actor, int64_t id, int64_t now)
{
    struct scep_audit_event ev;
    char detail[64];

    if (st == NULL || actor == NULL || id < 1 || now < 0)
        return SCEP_ERR_INVALID_ARG;
    if (now == 0)
        now = (int64_t)time(NULL);
    snprintf(detail, sizeof(detail), "challenge=%lld", (long long)id);
    memset(&ev, 0, sizeof(ev));
    ev.kind = "challenge-revoke";
    ev.actor = actor;
    ev.time = now;
    ev.detail = detail;
    return scep_store_revoke_challenge(st, id, now, &ev);
}

int scep_admin_challenge_purge(struct scep_store *st, const char *actor, int64_t now,
                               int64_t *purged)
{
    struct scep_audit_event ev;
    char detail[128];

    if (st == NULL || actor == NULL || now < 0)
        return SCEP_ERR_INVALID_ARG;
    if (now == 0)
        now = (int64_t)time(NULL);
    /* The count is the store's to find, inside its transaction; the
     * event says which rule ran and when. */
    snprintf(detail, sizeof(detail), "expired or revoked at %lld", (long long)now);
    memset(&ev, 0, sizeof(ev));
    ev.kind = "challenge-purge";
    ev.actor = actor;
    ev.time = now;
    ev.detail = detail;
    return scep_store_purge_challenges(st, now, purged, &ev);
}
