/*
 * Checking a CSR under a profile's rules (rules.h): its public key, the
 * subject the certificate will carry, and the subjectAltNames it asks
 * for.  The CSR is untrusted: strings are decoded by OpenSSL and handled
 * with their lengths, a value is bounded before it reaches regexec, and
 * whatever a message quotes is escaped, so that a refusal written to a
 * log cannot forge log lines.  Well-formedness is the CA's
 * (scep_ca_check_request); a rule that is off does not even read the
 * part of the CSR it would check, so a permissive rule set refuses
 * nothing.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/asn1.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <scep/error.h>
#include <scep/limits.h>

#include "ca/ca.h"
#include "policy/rules.h"
#include "policy/rules_int.h"

/* The most bytes of a value or profile name a message shows, escaped. */
#define SHOW_MAX 80

/* What a refusal needs: where it goes and the profile it names. */
struct check_ctx {
    char *why;
    size_t whylen;
    char profile[SHOW_MAX + 8];
};

/*
 * Escapes n bytes of s into out (size outlen > 4): printable ASCII as is
 * but '"' and '\\', everything else (controls, NUL, bytes of UTF-8
 * sequences) as \xNN; "..." when it had to stop early.
 */
static void show(char *out, size_t outlen, const unsigned char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i, o = 0;

    for (i = 0; i < n; i++) {
        unsigned char c = s[i];
        size_t need = c >= 0x20 && c < 0x7f ? (c == '"' || c == '\\' ? 2 : 1) : 4;

        /* Keep room for "..." and the NUL. */
        if (o + need + 4 > outlen)
            break;
        if (need == 1) {
            out[o++] = (char)c;
        } else if (need == 2) {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    if (i < n) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

/* Writes "profile P: " and the message into why[]; returns rc. */
static int refuse(const struct check_ctx *c, int rc, const char *fmt, ...)
{
    va_list ap;
    int w;

    if (c->why == NULL || c->whylen == 0)
        return rc;
    w = snprintf(c->why, c->whylen, "profile %s: ", c->profile);
    if (w < 0 || (size_t)w >= c->whylen)
        return rc;
    va_start(ap, fmt);
    vsnprintf(c->why + w, c->whylen - (size_t)w, fmt, ap);
    va_end(ap);
    return rc;
}

/* Canonical text of a set of bits, for "(key_types = rsa)". */
static void list_bits(char *out, size_t outlen, const char *const names[], const unsigned bitv[],
                      size_t n, unsigned bits)
{
    size_t k, o = 0;
    int w;

    out[0] = '\0';
    for (k = 0; k < n; k++) {
        if ((bits & bitv[k]) == 0)
            continue;
        w = snprintf(out + o, outlen - o, "%s%s", o > 0 ? "," : "", names[k]);
        if (w < 0 || (size_t)w >= outlen - o)
            return;
        o += (size_t)w;
    }
}

/*
 * Whether n bytes of s match pt as a whole.  The caller has bounded n
 * by RULES_MAX_VALUE.  A NUL byte never matches: regexec sees C strings
 * and would stop there, matching a prefix instead of the value.
 */
static int matches(const struct rules_pattern *pt, const unsigned char *s, size_t n)
{
    char buf[RULES_MAX_VALUE + 1];

    if (n > RULES_MAX_VALUE || memchr(s, '\0', n) != NULL)
        return 0;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return regexec(&pt->re, buf, 0, NULL, 0) == 0;
}

static int check_key(const struct scep_rules *r, const struct check_ctx *c, X509_REQ *csr)
{
    static const char *const key_names[] = {"rsa", "ec"};
    static const unsigned key_bits[] = {RULES_KEY_RSA, RULES_KEY_EC};
    static const char *const curve_names[] = {"P-256", "P-384", "P-521"};
    static const unsigned curve_bits[] = {SCEP_CURVE_P256, SCEP_CURVE_P384, SCEP_CURVE_P521};
    static const int curve_nids[] = {NID_X9_62_prime256v1, NID_secp384r1, NID_secp521r1};
    EVP_PKEY *pkey;
    char list[64], group[64];
    size_t glen = 0, k;
    unsigned bit = 0;
    int base, nid;

    if (r->key_types == RULES_KEY_ALL && r->min_rsa_bits == 0 && r->curves == 0)
        return 0;
    /* Borrowed from the CSR; NULL when its SubjectPublicKeyInfo does
     * not decode into a key OpenSSL knows. */
    if ((pkey = X509_REQ_get0_pubkey(csr)) == NULL)
        return refuse(c, SCEP_ERR_KEY, "CSR has no usable public key");
    base = EVP_PKEY_get_base_id(pkey);
    bit = base == EVP_PKEY_RSA ? RULES_KEY_RSA : base == EVP_PKEY_EC ? RULES_KEY_EC : 0;
    if (r->key_types != RULES_KEY_ALL && (bit & r->key_types) == 0) {
        const char *type = bit == RULES_KEY_RSA ? "RSA" : bit == RULES_KEY_EC ? "EC" : NULL;

        if (type == NULL && (type = OBJ_nid2sn(base)) == NULL)
            type = "unknown";
        ERR_clear_error();
        list_bits(list, sizeof(list), key_names, key_bits, 2, r->key_types);
        return refuse(c, SCEP_ERR_KEY, "key type %s not allowed (key_types = %s)", type, list);
    }
    if (bit == RULES_KEY_RSA && r->min_rsa_bits > 0 && EVP_PKEY_get_bits(pkey) < r->min_rsa_bits)
        return refuse(c, SCEP_ERR_KEY, "RSA key of %d bits is below min_rsa_bits %d",
                      EVP_PKEY_get_bits(pkey), r->min_rsa_bits);
    if (bit != RULES_KEY_EC || r->curves == 0)
        return 0;
    list_bits(list, sizeof(list), curve_names, curve_bits, 3, r->curves);
    /* The provider names the group "prime256v1" or "P-256" depending on
     * how the key was made; an explicitly parameterised curve has none. */
    if (!EVP_PKEY_get_group_name(pkey, group, sizeof(group), &glen)) {
        ERR_clear_error();
        return refuse(c, SCEP_ERR_KEY, "EC key without a named curve (allowed_curves = %s)", list);
    }
    if ((nid = OBJ_sn2nid(group)) == NID_undef)
        nid = EC_curve_nist2nid(group);
    for (k = 0, bit = 0; k < 3; k++)
        if (curve_nids[k] == nid)
            bit = curve_bits[k];
    if ((bit & r->curves) == 0) {
        const char *name = EC_curve_nid2nist(nid);
        char shown[SHOW_MAX + 8];

        show(shown, sizeof(shown), (const unsigned char *)(name != NULL ? name : group),
             strlen(name != NULL ? name : group));
        return refuse(c, SCEP_ERR_KEY, "EC curve %s not allowed (allowed_curves = %s)", shown,
                      list);
    }
    return 0;
}

/* The pattern rule of subject attribute nid, NULL when it has none. */
static const struct rules_pattern *subject_pattern(const struct scep_rules *r, int nid)
{
    size_t i;

    for (i = 0; i < RULES_NSUBJECT_PATTERNS; i++)
        if (r->pat[i].target == nid && r->pat[i].text != NULL)
            return &r->pat[i];
    return NULL;
}

/* Characters of valid UTF-8 (ASN1_STRING_to_UTF8's output): every byte
 * but the continuation bytes 10xxxxxx starts one. */
static size_t utf8_chars(const unsigned char *s, size_t n)
{
    size_t i, chars = 0;

    for (i = 0; i < n; i++)
        chars += (s[i] & 0xc0) != 0x80;
    return chars;
}

/* One attribute value: subject_max_length and its pattern. */
static int check_entry(const struct scep_rules *r, const struct check_ctx *c,
                       const X509_NAME_ENTRY *e)
{
    const struct rules_pattern *pt;
    unsigned char *utf8 = NULL;
    char shown[SHOW_MAX + 8];
    const char *sn;
    size_t chars;
    int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)), n, rc;

    pt = subject_pattern(r, nid);
    if (pt == NULL && r->subject_max_length == 0)
        return 0;
    sn = nid != NID_undef ? OBJ_nid2sn(nid) : "attribute";
    /* ASN1_STRING_to_UTF8 decodes by the string's type and refuses
     * malformed values; it allocates *utf8 (OPENSSL_free). */
    n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
    if (n < 0) {
        ERR_clear_error();
        return refuse(c, SCEP_ERR_CSR, "subject %s value does not decode", sn);
    }
    rc = SCEP_ERR_POLICY;
    chars = utf8_chars(utf8, (size_t)n);
    if (r->subject_max_length > 0 && chars > (size_t)r->subject_max_length) {
        refuse(c, rc, "subject %s of %zu characters exceeds subject_max_length %d", sn, chars,
               r->subject_max_length);
        goto out;
    }
    if (pt != NULL && n > RULES_MAX_VALUE) {
        refuse(c, rc, "subject %s of %d bytes is longer than %d, not matched against %s", sn, n,
               RULES_MAX_VALUE, pt->key);
        goto out;
    }
    if (pt != NULL && !matches(pt, utf8, (size_t)n)) {
        show(shown, sizeof(shown), utf8, (size_t)n);
        refuse(c, rc, "subject %s=\"%s\" does not match %s", sn, shown, pt->key);
        goto out;
    }
    rc = 0;
out:
    OPENSSL_free(utf8);
    return rc;
}

static int check_subject(const struct scep_rules *r, const struct check_ctx *c, X509_REQ *csr,
                         const X509_NAME *subject)
{
    const X509_NAME *subj = subject != NULL ? subject : X509_REQ_get_subject_name(csr);
    size_t i;
    int k, n, rc, any = r->nrequired > 0 || r->nforbidden > 0 || r->subject_max_length > 0;

    for (i = 0; i < RULES_NSUBJECT_PATTERNS; i++)
        any |= r->pat[i].text != NULL;
    if (!any)
        return 0;
    if (subj == NULL)
        return refuse(c, SCEP_ERR_CSR, "CSR has no subject");
    for (i = 0; i < r->nrequired; i++)
        if (X509_NAME_get_index_by_NID(subj, r->required[i], -1) < 0)
            return refuse(c, SCEP_ERR_POLICY,
                          "subject lacks required attribute %s (subject_required)",
                          OBJ_nid2sn(r->required[i]));
    for (i = 0; i < r->nforbidden; i++)
        if (X509_NAME_get_index_by_NID(subj, r->forbidden[i], -1) >= 0)
            return refuse(c, SCEP_ERR_POLICY,
                          "subject has forbidden attribute %s (subject_forbidden)",
                          OBJ_nid2sn(r->forbidden[i]));
    n = X509_NAME_entry_count(subj);
    for (k = 0; k < n; k++)
        if ((rc = check_entry(r, c, X509_NAME_get_entry(subj, k))) != 0)
            return rc;
    return 0;
}

/*
 * The CSR's subjectAltNames: *out NULL when it asks for none (free with
 * GENERAL_NAMES_free()).  Absent, repeated and undecodable are told
 * apart: only absent is "none".  Returns 0 or SCEP_ERR_CSR.
 */
static int csr_sans(const struct check_ctx *c, X509_REQ *csr, GENERAL_NAMES **out)
{
    STACK_OF(X509_EXTENSION) *exts;
    GENERAL_NAMES *gens = NULL;
    int crit = -1, rc = SCEP_ERR_CSR;

    *out = NULL;
    /* X509_REQ_get_extensions returns a new stack (empty, or NULL in
     * some OpenSSL 3 releases, when there is no extension request) and
     * NULL when the request attribute does not decode: look whether
     * one is there to tell those apart. */
    exts = X509_REQ_get_extensions(csr);
    if (exts == NULL) {
        ERR_clear_error();
        if (X509_REQ_get_attr_by_NID(csr, NID_ext_req, -1) >= 0 ||
            X509_REQ_get_attr_by_NID(csr, NID_ms_ext_req, -1) >= 0)
            return refuse(c, rc, "CSR extension request does not decode");
        return 0;
    }
    /* X509V3_get_d2i: NULL with crit -1 when absent, -2 when repeated,
     * and NULL with crit >= 0 when the extension does not decode. */
    gens = X509V3_get_d2i(exts, NID_subject_alt_name, &crit, NULL);
    ERR_clear_error();
    if (gens == NULL && crit == -2) {
        refuse(c, rc, "CSR subjectAltName repeated");
        goto out;
    }
    if (gens == NULL && crit != -1) {
        refuse(c, rc, "CSR subjectAltName does not decode");
        goto out;
    }
    *out = gens;
    rc = 0;
out:
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return rc;
}

/* How messages name a GeneralName type, and its san_types bit (0: none). */
static const char *san_type_name(int type, unsigned *bit)
{
    *bit = 0;
    switch (type) {
    case GEN_DNS:
        *bit = RULES_SAN_DNS;
        return "DNS";
    case GEN_IPADD:
        *bit = RULES_SAN_IP;
        return "IP";
    case GEN_EMAIL:
        *bit = RULES_SAN_EMAIL;
        return "email";
    case GEN_URI:
        *bit = RULES_SAN_URI;
        return "URI";
    case GEN_OTHERNAME:
        return "otherName";
    case GEN_DIRNAME:
        return "dirName";
    case GEN_RID:
        return "RID";
    case GEN_X400:
        return "x400Address";
    case GEN_EDIPARTY:
        return "ediPartyName";
    default:
        return "unknown";
    }
}

/* One subjectAltName: san_types and the pattern of its type. */
static int check_san(const struct scep_rules *r, const struct check_ctx *c, const GENERAL_NAME *gn)
{
    static const char *const san_names[] = {"dns", "ip", "email", "uri"};
    static const unsigned san_bits[] = {RULES_SAN_DNS, RULES_SAN_IP, RULES_SAN_EMAIL,
                                        RULES_SAN_URI};
    const struct rules_pattern *pt = NULL;
    const ASN1_STRING *s;
    const unsigned char *d;
    char list[32], ip[INET6_ADDRSTRLEN], shown[SHOW_MAX + 8];
    unsigned bit;
    const char *type = san_type_name(gn->type, &bit);
    size_t i, n;

    if (r->san_types != 0 && (bit & r->san_types) == 0) {
        list_bits(list, sizeof(list), san_names, san_bits, 4, r->san_types);
        return refuse(c, SCEP_ERR_POLICY, "SAN type %s not allowed (san_types = %s)", type, list);
    }
    for (i = RULES_NSUBJECT_PATTERNS; bit != 0 && i < RULES_NPATTERNS; i++)
        if ((unsigned)r->pat[i].target == bit && r->pat[i].text != NULL)
            pt = &r->pat[i];
    if (pt == NULL)
        return 0;
    /* dNSName, rfc822Name and URI are IA5Strings in the same union
     * member; iPAddress is an OCTET STRING of 4 or 16 bytes, matched as
     * the text inet_ntop makes of it. */
    s = gn->type == GEN_IPADD ? gn->d.iPAddress : gn->d.ia5;
    if (s == NULL)
        return refuse(c, SCEP_ERR_CSR, "SAN %s without a value", type);
    d = ASN1_STRING_get0_data(s);
    n = (size_t)ASN1_STRING_length(s);
    if (gn->type == GEN_IPADD) {
        if ((n != 4 && n != 16) ||
            inet_ntop(n == 4 ? AF_INET : AF_INET6, d, ip, sizeof(ip)) == NULL)
            return refuse(c, SCEP_ERR_CSR, "SAN iPAddress of %zu bytes, not 4 or 16", n);
        d = (const unsigned char *)ip;
        n = strlen(ip);
    }
    if (n > RULES_MAX_VALUE)
        return refuse(c, SCEP_ERR_POLICY,
                      "SAN %s of %zu bytes is longer than %d, not matched against %s", type, n,
                      RULES_MAX_VALUE, pt->key);
    if (!matches(pt, d, n)) {
        show(shown, sizeof(shown), d, n);
        return refuse(c, SCEP_ERR_POLICY, "SAN %s:%s does not match %s", type, shown, pt->key);
    }
    return 0;
}

static int check_sans(const struct scep_rules *r, const struct check_ctx *c, X509_REQ *csr)
{
    GENERAL_NAMES *gens = NULL;
    size_t i;
    int k, n, rc, any = r->san_types != 0 || r->san_max > 0 || r->san_required;

    for (i = RULES_NSUBJECT_PATTERNS; i < RULES_NPATTERNS; i++)
        any |= r->pat[i].text != NULL;
    if (!any)
        return 0;
    if ((rc = csr_sans(c, csr, &gens)) != 0)
        goto out;
    n = gens != NULL ? sk_GENERAL_NAME_num(gens) : 0;
    rc = SCEP_ERR_POLICY;
    if (n == 0 && r->san_required) {
        refuse(c, rc, "CSR has no SAN (san_required)");
        goto out;
    }
    /* The CA's own limit first: no more work than it allows. */
    if (n > SCEP_MAX_SANS) {
        refuse(c, rc, "%d SANs exceed the limit of %d", n, SCEP_MAX_SANS);
        goto out;
    }
    if (r->san_max > 0 && n > r->san_max) {
        refuse(c, rc, "%d SANs exceed san_max %d", n, r->san_max);
        goto out;
    }
    for (k = 0; k < n; k++)
        if ((rc = check_san(r, c, sk_GENERAL_NAME_value(gens, k))) != 0)
            goto out;
    rc = 0;
out:
    GENERAL_NAMES_free(gens);
    return rc;
}

/*
 * Checks csr under r (see rules.h).
 */
int scep_rules_check(const struct scep_rules *r, const char *profile, X509_REQ *csr,
                     const X509_NAME *subject, char *why, size_t whylen)
{
    struct check_ctx c;
    int rc;

    if (why != NULL && whylen > 0)
        why[0] = '\0';
    if (r == NULL || csr == NULL)
        return SCEP_ERR_INVALID_ARG;
    c.why = why;
    c.whylen = whylen;
    if (profile == NULL || profile[0] == '\0')
        profile = "default";
    show(c.profile, sizeof(c.profile), (const unsigned char *)profile, strlen(profile));
    if ((rc = check_key(r, &c, csr)) != 0)
        return rc;
    if ((rc = check_subject(r, &c, csr, subject)) != 0)
        return rc;
    return check_sans(r, &c, csr);
}
