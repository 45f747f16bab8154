/*
 * Well-formedness of the names a CSR asks us to certify: the subject's
 * attribute values and the subjectAltNames.  A certificate is read by
 * many parsers; a name one of them reads differently from another (an
 * embedded NUL that C code stops at, a PrintableString holding what
 * PrintableString cannot hold, a 17-byte iPAddress) must never carry our
 * signature.  Strings are decoded by OpenSSL (ASN1_STRING_to_UTF8, which
 * also refuses malformed UTF-8 and BMP); only the rules OpenSSL has no
 * function for (the PKIX string types per attribute, LDH host names,
 * rfc822Name and URI syntax) are checked here, on the bytes with their
 * explicit lengths, never as C strings.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <scep/error.h>

#include "ca/ca.h"
#include "ca/ca_internal.h"

/* RFC 1035 2.3.4: a label is at most 63 octets, a name at most 253 in
 * text form (255 on the wire). */
#define NAME_MAX_LABEL 63
#define NAME_MAX_HOST 253
/* RFC 5321 4.5.3.1.1: the local part of a mailbox. */
#define NAME_MAX_LOCAL 64

/* The Microsoft UPN otherName (szOID_NT_PRINCIPAL_NAME), the one
 * otherName Windows and Intune clients ask for. */
#define NAME_OID_UPN "1.3.6.1.4.1.311.20.2.3"

/*
 * Refuses control characters in UTF-8 text (n bytes, already validated
 * by OpenSSL): C0 (NUL included), DEL and C1 (U+0080..U+009F, which
 * UTF-8 encodes as 0xC2 0x80..0x9F).  Returns 1 when clean.
 */
static int utf8_clean(const unsigned char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] == 0x7f)
            return 0;
        if (s[i] == 0xc2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f)
            return 0;
    }
    return 1;
}

/* Visible ASCII only (0x21..0x7e): dNSName, rfc822Name and URI. */
static int visible_ascii(const unsigned char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (s[i] < 0x21 || s[i] > 0x7e)
            return 0;
    return 1;
}

/*
 * The string types RFC 5280 allows for the attribute nid, as a check of
 * type: countryName, serialNumber and dnQualifier are PrintableString
 * (appendix A.1), emailAddress and domainComponent IA5String (RFC 4519
 * 2.4, RFC 5280 4.1.2.6); everything else a DirectoryString.
 */
static int type_allowed(int nid, int type)
{
    switch (nid) {
    case NID_countryName:
    case NID_serialNumber:
    case NID_dnQualifier:
        return type == V_ASN1_PRINTABLESTRING;
    case NID_pkcs9_emailAddress:
    case NID_domainComponent:
        return type == V_ASN1_IA5STRING;
    default:
        /* DirectoryString; IA5String is not one, but old requesters put
         * it in CN and it holds nothing ambiguous once checked below. */
        return type == V_ASN1_UTF8STRING || type == V_ASN1_PRINTABLESTRING ||
               type == V_ASN1_BMPSTRING || type == V_ASN1_UNIVERSALSTRING ||
               type == V_ASN1_T61STRING || type == V_ASN1_IA5STRING;
    }
}

/*
 * One string value: its type allowed (allowed_type 0: by type_allowed
 * for nid, else exactly that type), decodable, free of control
 * characters, and within its type's character set.  what names it in
 * why[].  Returns 0 or SCEP_ERR_CSR.
 */
static int check_string(const ASN1_STRING *s, int nid, const char *what, char *why, size_t whylen)
{
    unsigned char *utf8 = NULL;
    const unsigned char *raw = ASN1_STRING_get0_data(s);
    int type = ASN1_STRING_type(s), rawlen = ASN1_STRING_length(s), n, rc = SCEP_ERR_CSR;

    if (!type_allowed(nid, type)) {
        snprintf(why, whylen, "%s: %s is not a string type allowed here (RFC 5280 4.1.2.4)", what,
                 ASN1_tag2str(type));
        goto out;
    }
    /* ASN1_STRING_to_UTF8 decodes by the string's type: it refuses
     * malformed UTF8String, odd-length BMPString and the like, and
     * allocates the result (OPENSSL_free). */
    n = ASN1_STRING_to_UTF8(&utf8, s);
    if (n < 0) {
        ERR_clear_error();
        snprintf(why, whylen, "%s: invalid %s encoding", what, ASN1_tag2str(type));
        goto out;
    }
    /* An embedded NUL makes the DER length and the C-string length
     * differ; utf8_clean refuses it together with the other controls. */
    if (!utf8_clean(utf8, (size_t)n)) {
        snprintf(why, whylen, "%s: control character or NUL in the value", what);
        goto out;
    }
    /* ASN1_PRINTABLE_type gives the narrowest type that holds the
     * bytes (it stops at a NUL, which was refused above). */
    if (type == V_ASN1_PRINTABLESTRING && rawlen > 0 &&
        ASN1_PRINTABLE_type(raw, rawlen) != V_ASN1_PRINTABLESTRING) {
        snprintf(why, whylen, "%s: character outside the PrintableString set (X.680 41.4)", what);
        goto out;
    }
    if (type == V_ASN1_IA5STRING && rawlen > 0 &&
        ASN1_PRINTABLE_type(raw, rawlen) == V_ASN1_T61STRING) {
        snprintf(why, whylen, "%s: non-ASCII byte in an IA5String", what);
        goto out;
    }
    if (nid == NID_countryName && rawlen != 2) {
        snprintf(why, whylen, "%s: countryName must be two letters (RFC 5280 A.1)", what);
        goto out;
    }
    rc = 0;
out:
    OPENSSL_free(utf8);
    return rc;
}

/*
 * Checks every attribute value of name; where says which name it is
 * ("subject", "subjectAltName directoryName").  Returns 0 or SCEP_ERR_CSR
 * with why[] set.
 */
int ca_check_name(const X509_NAME *name, const char *where, char *why, size_t whylen)
{
    char what[96];
    int i, n = X509_NAME_entry_count(name), rc;

    for (i = 0; i < n; i++) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
        int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));

        snprintf(what, sizeof(what), "%s %s", where,
                 nid != NID_undef ? OBJ_nid2sn(nid) : "attribute");
        if ((rc = check_string(X509_NAME_ENTRY_get_data(e), nid, what, why, whylen)) != 0)
            return rc;
    }
    return 0;
}

/*
 * An LDH host name (RFC 1035 2.3.1, RFC 1123 2.1) of n bytes: labels of
 * 1..63 letters, digits and hyphens, not starting or ending with a
 * hyphen, at most 253 bytes, no trailing dot.  A leading "*." is a
 * wildcard (RFC 6125 6.4.3) accepted only when wildcard is set, and
 * then only before at least two labels.  Returns 1 when valid.
 */
static int hostname_ok(const unsigned char *s, size_t n, int wildcard)
{
    size_t i, label = 0, labels = 0;

    if (wildcard && n >= 2 && s[0] == '*' && s[1] == '.') {
        s += 2;
        n -= 2;
        wildcard = 2; /* seen: two more labels needed */
    }
    if (n == 0 || n > NAME_MAX_HOST)
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char c = s[i];

        if (c == '.') {
            if (label == 0 || s[i - 1] == '-')
                return 0;
            label = 0;
            labels++;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-'))
            return 0;
        if (c == '-' && label == 0)
            return 0;
        if (++label > NAME_MAX_LABEL)
            return 0;
    }
    if (label == 0 || s[n - 1] == '-')
        return 0;
    labels++;
    return wildcard != 2 || labels >= 2;
}

/* local@domain (RFC 5280 4.2.1.6, RFC 5321 4.1.2): one '@', a local part
 * of visible ASCII without '@', a host name as domain. */
static int mailbox_ok(const unsigned char *s, size_t n)
{
    const unsigned char *at = memchr(s, '@', n);
    size_t local;

    if (at == NULL || !visible_ascii(s, n))
        return 0;
    local = (size_t)(at - s);
    if (local == 0 || local > NAME_MAX_LOCAL || memchr(at + 1, '@', n - local - 1) != NULL)
        return 0;
    return hostname_ok(at + 1, n - local - 1, 0);
}

/* A URI with a scheme (RFC 3986 3.1: ALPHA *( ALPHA / DIGIT / "+" / "-"
 * / "." ) ":") and something after it, all visible ASCII. */
static int uri_ok(const unsigned char *s, size_t n)
{
    size_t i;

    if (n < 3 || !visible_ascii(s, n))
        return 0;
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return 0;
    for (i = 1; i < n; i++) {
        unsigned char c = s[i];

        if (c == ':')
            return i + 1 < n;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '-' || c == '.'))
            return 0;
    }
    return 0;
}

/* An IA5String GeneralName: its bytes with their length. */
static int ia5_name(const ASN1_IA5STRING *s, const unsigned char **d, size_t *n)
{
    if (s == NULL || ASN1_STRING_type(s) != V_ASN1_IA5STRING || ASN1_STRING_length(s) <= 0)
        return 0;
    *d = ASN1_STRING_get0_data(s);
    *n = (size_t)ASN1_STRING_length(s);
    return 1;
}

/* One GeneralName; i is its position for the message. */
static int check_general_name(const GENERAL_NAME *gn, int i, int wildcard, char *why, size_t whylen)
{
    const unsigned char *d;
    size_t n;
    char where[64];
    int len;

    switch (gn->type) {
    case GEN_IPADD:
        len = gn->d.iPAddress != NULL ? ASN1_STRING_length(gn->d.iPAddress) : -1;
        if (len != 4 && len != 16) {
            snprintf(why, whylen,
                     "subjectAltName %d: iPAddress of %d bytes, not 4 or 16 (RFC 5280 4.2.1.6)", i,
                     len);
            return SCEP_ERR_CSR;
        }
        return 0;
    case GEN_DNS:
        if (!ia5_name(gn->d.dNSName, &d, &n) || !hostname_ok(d, n, wildcard)) {
            snprintf(why, whylen,
                     "subjectAltName %d: dNSName is not a host name%s (RFC 5280 4.2.1.6)", i,
                     wildcard ? "" : " (wildcards need allow_wildcard_dns)");
            return SCEP_ERR_CSR;
        }
        return 0;
    case GEN_EMAIL:
        if (!ia5_name(gn->d.rfc822Name, &d, &n) || !mailbox_ok(d, n)) {
            snprintf(why, whylen,
                     "subjectAltName %d: rfc822Name is not local@domain (RFC 5280 4.2.1.6)", i);
            return SCEP_ERR_CSR;
        }
        return 0;
    case GEN_URI:
        if (!ia5_name(gn->d.uniformResourceIdentifier, &d, &n) || !uri_ok(d, n)) {
            snprintf(why, whylen,
                     "subjectAltName %d: URI without a scheme or with spaces or controls "
                     "(RFC 5280 4.2.1.6, RFC 3986 3)",
                     i);
            return SCEP_ERR_CSR;
        }
        return 0;
    case GEN_DIRNAME:
        snprintf(where, sizeof(where), "subjectAltName %d directoryName", i);
        return ca_check_name(gn->d.directoryName, where, why, whylen);
    case GEN_OTHERNAME: {
        /* Only the UPN, a UTF8String (MS-WCCE 2.2.2.7.5). */
        char oid[32];
        const ASN1_TYPE *v = gn->d.otherName->value;

        if (OBJ_obj2txt(oid, sizeof(oid), gn->d.otherName->type_id, 1) > 0 &&
            strcmp(oid, NAME_OID_UPN) == 0 && v != NULL && v->type == V_ASN1_UTF8STRING) {
            snprintf(where, sizeof(where), "subjectAltName %d UPN", i);
            return check_string(v->value.utf8string, NID_undef, where, why, whylen);
        }
        snprintf(why, whylen, "subjectAltName %d: otherName other than a UTF-8 UPN", i);
        return SCEP_ERR_CSR;
    }
    default:
        snprintf(why, whylen,
                 "subjectAltName %d: name type %d not accepted (dNSName, iPAddress, rfc822Name, "
                 "URI, directoryName, UPN)",
                 i, gn->type);
        return SCEP_ERR_CSR;
    }
}

/*
 * Checks every name of gens (see ca_internal.h).  Returns 0 or
 * SCEP_ERR_CSR with why[] set.
 */
int ca_check_general_names(const GENERAL_NAMES *gens, int allow_wildcard, char *why, size_t whylen)
{
    int i, rc;

    for (i = 0; i < sk_GENERAL_NAME_num(gens); i++)
        if ((rc = check_general_name(sk_GENERAL_NAME_value(gens, i), i, allow_wildcard, why,
                                     whylen)) != 0)
            return rc;
    return 0;
}
