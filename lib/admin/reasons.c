/*
 * CRLReason names (RFC 5280 5.3.1), shared by every front end so that
 * "scepctl revoke --reason", the admin API and the audit trail spell
 * them the same way.
 */
#include <stddef.h>
#include <strings.h>

#include "admin/admin.h"

/* Codes 0..6 by index.  7 is unused, and removeFromCRL (8) and the
 * attribute-certificate reasons make no sense for an operator to pick. */
static const char *const reasons[] = {
    "unspecified", "keyCompromise",        "caCompromise",    "affiliationChanged",
    "superseded",  "cessationOfOperation", "certificateHold",
};

#define NREASONS (sizeof(reasons) / sizeof(reasons[0]))

const char *scep_crl_reason_name(int code)
{
    if (code < 0 || (size_t)code >= NREASONS)
        return NULL;
    return reasons[code];
}

int scep_crl_reason_code(const char *name)
{
    if (name == NULL)
        return -2;
    for (size_t i = 0; i < NREASONS; i++) {
        if (strcasecmp(name, reasons[i]) == 0)
            return (int)i;
    }
    return -2;
}

const char *scep_crl_reason_list(void)
{
    return "unspecified, keyCompromise, caCompromise, affiliationChanged, superseded, "
           "cessationOfOperation or certificateHold";
}
