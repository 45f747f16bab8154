/*
 * The inventory as people search it: turning a subject typed on a
 * command line into the text the store is searched for.  The store keeps
 * subjects in RFC 2253 form (most significant RDN last: "CN=dev,O=Example,
 * C=US"), which is also what every front end shows; people often type
 * OpenSSL's slash form instead (most significant first: "/C=US/O=Example/
 * CN=dev"), which names the same DN in the opposite order.  Searching
 * for the text as typed would miss, so a slash form is parsed (lib/ca,
 * the one DN parser) and written back as the store writes it.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include <scep/error.h>

#include "admin/admin.h"
#include "admin/certinfo.h"

int scep_admin_subject_query(const char *typed, char **out)
{
    X509_NAME *name = NULL;
    char *text = NULL;
    int rc;

    if (typed == NULL || out == NULL)
        return SCEP_ERR_INVALID_ARG;
    if (typed[0] != '/' || strchr(typed, '=') == NULL) {
        /* Already in the order shown: a comma-form DN or a bare word. */
        text = strdup(typed);
        if (text == NULL)
            return SCEP_ERR_NOMEM;
        *out = text;
        return 0;
    }
    rc = scep_ca_parse_name(typed, &name);
    if (rc != 0) {
        rc = SCEP_ERR_INVALID_ARG;
        goto out;
    }
    /* The same writer the service uses when it stores a subject, so the
     * escaping matches byte for byte. */
    rc = scep_name_rfc2253(name, &text);
    if (rc != 0)
        goto out;
    *out = text;
    text = NULL;
out:
    free(text);
    X509_NAME_free(name);
    return rc;
}
