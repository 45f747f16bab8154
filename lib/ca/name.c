/*
 * The subject parser for CA and RA names given on the command line or in
 * the configuration: "CN=scepd CA,O=Example" (RFC 4514/2253 style, most
 * significant RDN last) or "/O=Example/CN=scepd CA" (OpenSSL's oneline
 * style, most significant first).  Only a fixed list of attribute names
 * is accepted, so a typo ("CM=") is an error instead of a surprise OID.
 * Multi-valued RDNs ("+") are not supported: a '+' is part of the value.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/objects.h>
#include <openssl/x509.h>

#include <scep/error.h>
#include <scep/limits.h>

#include "ca/ca_internal.h"

/* Attribute names a subject may use; OpenSSL knows each by short name. */
static const char *const allowed_attrs[] = {
    "CN",
    "C",
    "ST",
    "L",
    "O",
    "OU",
    "street",
    "DC",
    "UID",
    "serialNumber",
    "emailAddress",
    "title",
    "GN",
    "SN",
    "initials",
    "pseudonym",
    "generationQualifier",
    "description",
    "postalCode",
    "businessCategory",
    "organizationIdentifier",
};

/* Returns 1 when name (len bytes) is an allowed attribute name. */
static int attr_allowed(const char *name, size_t len)
{
    size_t i;

    for (i = 0; i < sizeof(allowed_attrs) / sizeof(allowed_attrs[0]); i++) {
        if (strlen(allowed_attrs[i]) == len && strncmp(allowed_attrs[i], name, len) == 0)
            return 1;
    }
    return 0;
}

/*
 * Parses one "NAME=value" component (raw, still escaped, len bytes) and
 * adds it at loc (0: front, -1: end).  Whitespace around the name and
 * leading whitespace of the value are dropped.  Returns 0 or SCEP_ERR_CONFIG.
 */
static int add_component(X509_NAME *name, const char *s, size_t len, int loc)
{
    char attr[32], value[SCEP_MAX_SUBJECT + 1];
    size_t i = 0, a = 0, v = 0;

    while (i < len && (s[i] == ' ' || s[i] == '\t'))
        i++;
    while (i < len && s[i] != '=' && s[i] != ' ' && s[i] != '\t') {
        if (a + 1 >= sizeof(attr))
            return SCEP_ERR_CONFIG;
        attr[a++] = s[i++];
    }
    attr[a] = '\0';
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i >= len || s[i] != '=' || !attr_allowed(attr, a))
        return SCEP_ERR_CONFIG;
    i++;
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
        i++;
    for (; i < len; i++) {
        char c = s[i];

        if (c == '\\') {
            if (++i >= len)
                return SCEP_ERR_CONFIG;
            c = s[i];
        }
        if ((unsigned char)c < 0x20 || c == 0x7f)
            return SCEP_ERR_CONFIG;
        if (v + 1 >= sizeof(value))
            return SCEP_ERR_CONFIG;
        value[v++] = c;
    }
    /* Trailing blanks before a separator are formatting, not data. */
    while (v > 0 && value[v - 1] == ' ')
        v--;
    value[v] = '\0';
    if (v == 0)
        return SCEP_ERR_CONFIG;
    /* MBSTRING_UTF8 lets OpenSSL pick PrintableString or UTF8String and
     * enforce per-attribute size rules (countryName is exactly 2). */
    if (!X509_NAME_add_entry_by_txt(name, attr, MBSTRING_UTF8, (const unsigned char *)value, (int)v,
                                    loc, 0))
        return SCEP_ERR_CONFIG;
    return 0;
}

/*
 * Parses a subject string into a new X509_NAME (see ca_internal.h).
 * *out: free with X509_NAME_free().
 */
int scep_ca_parse_name(const char *text, X509_NAME **out)
{
    X509_NAME *name = NULL;
    size_t len, start, i;
    char sep;
    int loc, rc = SCEP_ERR_CONFIG;

    if (text == NULL || out == NULL)
        return SCEP_ERR_INVALID_ARG;
    len = strlen(text);
    if (len == 0 || len > SCEP_MAX_SUBJECT)
        return SCEP_ERR_CONFIG;
    if (text[0] == '/') {
        sep = '/';
        start = 1;
        loc = -1;
    } else {
        sep = ',';
        start = 0;
        /* RFC 4514 writes the most significant RDN last: prepend each. */
        loc = 0;
    }
    name = X509_NAME_new();
    if (name == NULL) {
        rc = SCEP_ERR_NOMEM;
        goto out;
    }
    for (i = start; i <= len; i++) {
        if (i < len && text[i] == '\\') {
            if (i + 1 >= len)
                goto out; /* a dangling escape */
            i++;          /* skip the escaped character, whatever it is */
            continue;
        }
        if (i == len || text[i] == sep || (sep == ',' && text[i] == ';')) {
            if (add_component(name, text + start, i - start, loc) != 0)
                goto out;
            start = i + 1;
        }
    }
    if (X509_NAME_entry_count(name) == 0)
        goto out;
    *out = name;
    name = NULL;
    rc = 0;
out:
    X509_NAME_free(name);
    return rc;
}

/*
 * Derives the name of a certificate the CA makes for itself from the
 * CA's name: the last CN gets suffix appended (" RA", " OCSP
 * responder"), or a CN default_cn is added when there is none.  Returns
 * 0, SCEP_ERR_CONFIG when the CN would grow past SCEP_MAX_SUBJECT, or
 * SCEP_ERR_NOMEM.  *out: free with X509_NAME_free().
 */
int ca_name_with_suffix(const X509_NAME *ca_name, const char *suffix, const char *default_cn,
                        X509_NAME **out)
{
    X509_NAME *n = NULL;
    X509_NAME_ENTRY *e;
    unsigned char *utf8 = NULL;
    char buf[SCEP_MAX_SUBJECT + 1];
    size_t slen = strlen(suffix);
    int loc = -1, last = -1, len, rc = SCEP_ERR_CONFIG;

    n = X509_NAME_dup(ca_name);
    if (n == NULL) {
        rc = SCEP_ERR_NOMEM;
        goto out;
    }
    while ((loc = X509_NAME_get_index_by_NID(n, NID_commonName, loc)) >= 0)
        last = loc;
    if (last < 0) {
        if (!X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8,
                                        (const unsigned char *)default_cn, -1, -1, 0))
            goto out;
    } else {
        e = X509_NAME_get_entry(n, last);
        /* ASN1_STRING_to_UTF8() converts whatever string type the entry has. */
        len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
        if (len < 0 || (size_t)len + slen >= sizeof(buf))
            goto out;
        memcpy(buf, utf8, (size_t)len);
        memcpy(buf + len, suffix, slen + 1);
        /* Replace rather than X509_NAME_ENTRY_set_data(): editing an entry in
         * place leaves the name's cached DER encoding stale. */
        X509_NAME_ENTRY_free(X509_NAME_delete_entry(n, last));
        if (!X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8,
                                        (const unsigned char *)buf, len + (int)slen, last, 0))
            goto out;
    }
    *out = n;
    n = NULL;
    rc = 0;
out:
    OPENSSL_free(utf8);
    X509_NAME_free(n);
    return rc;
}
