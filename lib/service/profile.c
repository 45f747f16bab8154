/*
 * The service's copies of its enrollment profiles: each profile's
 * challenge, renewal and approval settings, rules, webhook and issuance
 * profile, copied from the caller's configuration so that the service
 * owns what it reads on every request, and the look-up by the name a
 * URL gives.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include <scep/error.h>
#include <scep/limits.h>
#include "policy/rules.h"
#include "service/service_int.h"

/* Copies s (NULL stays NULL) into *dst.  Returns 0 or SCEP_ERR_NOMEM. */
static int copy_str(const char *s, char **dst)
{
    *dst = NULL;
    if (s == NULL)
        return 0;
    *dst = strdup(s);
    return *dst == NULL ? SCEP_ERR_NOMEM : 0;
}

/* Frees a secret string after wiping it. */
static void free_secret(char *s)
{
    if (s == NULL)
        return;
    OPENSSL_cleanse(s, strlen(s));
    free(s);
}

/*
 * A challenge longer than a CSR could carry is a configuration error
 * rather than a silently unmatchable password.
 */
int svc_profile_init(struct svc_profile *p, const struct scep_service_profile *sp, const char *name)
{
    int rc = SCEP_ERR_CONFIG;

    memset(p, 0, sizeof(*p));
    if (sp->challenge != NULL && strlen(sp->challenge) > SCEP_MAX_CHALLENGE)
        goto out;
    rc = SCEP_ERR_NOMEM;
    if (copy_str(name != NULL ? name : "", &p->name) != 0)
        goto out;
    if (sp->challenge != NULL && sp->challenge[0] != '\0') {
        if (copy_str(sp->challenge, &p->challenge) != 0)
            goto out;
        p->challenge_len = strlen(p->challenge);
    }
    p->require_challenge = sp->require_challenge;
    p->allow_renewal = sp->allow_renewal;
    p->renewal_window_days = sp->renewal_window_days > 0 ? sp->renewal_window_days : 0;
    p->manual_approval = sp->manual_approval;
    p->allow_des = sp->allow_des;
    if (sp->rules != NULL && scep_rules_copy(sp->rules, &p->rules) != 0)
        goto out;
    if (sp->webhook_url != NULL && sp->webhook_url[0] != '\0') {
        if (copy_str(sp->webhook_url, &p->webhook_url) != 0 ||
            copy_str(sp->webhook_secret != NULL ? sp->webhook_secret : "", &p->webhook_secret) != 0)
            goto out;
        p->webhook_secret_len = strlen(p->webhook_secret);
        p->webhook_timeout_ms =
            sp->webhook_timeout_ms > 0 ? sp->webhook_timeout_ms : SVC_WEBHOOK_TIMEOUT_MS;
    }
    p->profile = sp->profile;
    if (copy_str(sp->profile.key_usage, &p->key_usage) != 0 ||
        copy_str(sp->profile.ext_key_usage, &p->ext_key_usage) != 0 ||
        copy_str(sp->profile.crl_url, &p->crl_url) != 0 ||
        copy_str(sp->profile.ocsp_url, &p->ocsp_url) != 0 ||
        copy_str(sp->profile.ca_issuers_url, &p->ca_issuers_url) != 0)
        goto out;
    p->profile.key_usage = p->key_usage;
    p->profile.ext_key_usage = p->ext_key_usage;
    p->profile.crl_url = p->crl_url;
    p->profile.ocsp_url = p->ocsp_url;
    p->profile.ca_issuers_url = p->ca_issuers_url;
    rc = 0;
out:
    if (rc != 0)
        svc_profile_clear(p);
    return rc;
}

void svc_profile_clear(struct svc_profile *p)
{
    if (p == NULL)
        return;
    free(p->name);
    free_secret(p->challenge);
    scep_rules_free(p->rules);
    free(p->webhook_url);
    free_secret(p->webhook_secret);
    free(p->key_usage);
    free(p->ext_key_usage);
    free(p->crl_url);
    free(p->ocsp_url);
    free(p->ca_issuers_url);
    memset(p, 0, sizeof(*p));
}

const struct svc_profile *svc_find_profile(const struct scep_service *svc, const char *name)
{
    size_t i;

    if (name == NULL || name[0] == '\0')
        return &svc->profiles[0];
    for (i = 1; i < svc->nprofiles; i++)
        if (strcmp(svc->profiles[i].name, name) == 0)
            return &svc->profiles[i];
    return NULL;
}
