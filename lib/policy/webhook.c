/*
 * The pure half of webhook verification (webhook.h): the JSON document
 * sent to the hook, its HMAC signature, the verdict read from the
 * answer and the words for a failed transfer.  No I/O here: the
 * transports (webhook_http.c, scepd's fetch.c) move the bytes.
 *
 * The verdict is fail-closed: only a 2xx whose body is a JSON object
 * with a boolean "allow" that is true allows.  A hook answering with
 * something we cannot read is a misconfigured hook, and a misconfigured
 * gate must not open.
 */
#include "policy/webhook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <scep/error.h>

/* json_string() of s, or of "" for NULL; NULL when s is not UTF-8. */
static json_t *wh_str(const char *s)
{
    return json_string(s != NULL ? s : "");
}

/* json_string() of s, or JSON null for NULL. */
static json_t *wh_str_or_null(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

/* Adds key = v to obj, taking v; -1 when v is NULL (bad UTF-8 or no
 * memory) or the add fails. */
static int wh_set(json_t *obj, const char *key, json_t *v)
{
    if (v == NULL)
        return -1;
    return json_object_set_new(obj, key, v);
}

/* Builds the webhook body; see webhook.h.  *body: free(). */
int scep_webhook_body(const struct scep_webhook_input *in, char **body, size_t *len)
{
    json_t *root = NULL, *sans = NULL, *key = NULL;
    char *text = NULL;
    size_t i;
    int rc = SCEP_ERR_INVALID_ARG;

    if (in == NULL || body == NULL || len == NULL || (in->nsans > 0 && in->sans == NULL))
        goto out;
    root = json_object();
    sans = json_array();
    key = json_object();
    if (root == NULL || sans == NULL || key == NULL) {
        rc = SCEP_ERR_NOMEM;
        goto out;
    }
    /* json_string() refuses bytes that are not UTF-8: a CSR's strings
     * are decoded to UTF-8 by the caller, so a failure here is either
     * no memory or a caller's bug; both refuse rather than send a
     * document the hook would misread. */
    for (i = 0; i < in->nsans; i++)
        if (json_array_append_new(sans, wh_str(in->sans[i])) != 0)
            goto out;
    if (wh_set(key, "type", wh_str(in->key_type)) != 0 ||
        wh_set(key, "bits", json_integer(in->key_bits)) != 0 ||
        wh_set(key, "curve", wh_str_or_null(in->key_curve)) != 0)
        goto out;
    if (wh_set(root, "profile", wh_str(in->profile)) != 0 ||
        wh_set(root, "transaction_id", wh_str(in->transaction_id)) != 0 ||
        wh_set(root, "challenge", wh_str_or_null(in->challenge)) != 0 ||
        wh_set(root, "subject", wh_str(in->subject)) != 0)
        goto out;
    if (json_object_set(root, "sans", sans) != 0 || json_object_set(root, "key", key) != 0)
        goto out;
    if (wh_set(root, "requester", wh_str(in->requester)) != 0 ||
        wh_set(root, "message_type", wh_str(in->msg_type)) != 0 ||
        wh_set(root, "time", json_integer((json_int_t)time(NULL))) != 0)
        goto out;
    /* Keys in insertion order, so the document reads as documented. */
    text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text == NULL) {
        rc = SCEP_ERR_NOMEM;
        goto out;
    }
    /* jansson allocates with malloc() (we never change its allocator),
     * so the caller frees with free(). */
    *len = strlen(text);
    *body = text;
    text = NULL;
    rc = 0;
out:
    free(text);
    json_decref(sans);
    json_decref(key);
    json_decref(root);
    return rc;
}

/* Signs body; see webhook.h. */
int scep_webhook_sign(const unsigned char *secret, size_t secret_len, const char *body, size_t len,
                      char *out, size_t outlen)
{
    static const unsigned char empty[1];
    static const char hex[] = "0123456789abcdef";
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    unsigned int i;

    if (out == NULL || outlen < SCEP_WEBHOOK_SIG_SIZE)
        return SCEP_ERR_INVALID_ARG;
    out[0] = '\0';
    if ((secret == NULL && secret_len > 0) || (body == NULL && len > 0))
        return SCEP_ERR_INVALID_ARG;
    /* HMAC() reads a NULL key as "reuse the previous key" in some
     * OpenSSL versions; an empty secret is an empty key, never that. */
    if (HMAC(EVP_sha256(), secret != NULL ? secret : empty, (int)secret_len,
             body != NULL ? (const unsigned char *)body : empty, len, mac, &maclen) == NULL ||
        maclen != 32)
        return SCEP_ERR_INTERNAL;
    memcpy(out, "sha256=", 7);
    for (i = 0; i < maclen; i++) {
        out[7 + 2 * i] = hex[mac[i] >> 4];
        out[7 + 2 * i + 1] = hex[mac[i] & 0x0f];
    }
    out[7 + 2 * maclen] = '\0';
    return 0;
}

/*
 * Copies the hook's reason into out (outlen bytes): at most
 * SCEP_WEBHOOK_MAX_REASON bytes, control characters as spaces, cut on a
 * UTF-8 character boundary (jansson has already checked it is UTF-8).
 * The text reaches logs and a client's error reply.
 */
static void wh_reason(const char *s, size_t n, char *out, size_t outlen)
{
    size_t max = outlen - 1, i;

    if (max > SCEP_WEBHOOK_MAX_REASON)
        max = SCEP_WEBHOOK_MAX_REASON;
    if (n > max) {
        n = max;
        /* Back off continuation bytes (10xxxxxx) and the lead byte they
         * belong to, so that no character is cut in half. */
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    }
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];

        out[i] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
    }
    out[n] = '\0';
}

/* Reads the verdict; see webhook.h. */
int scep_webhook_verdict(int http_status, const unsigned char *body, size_t len,
                         const char *transport_error, char *why, size_t whylen)
{
    json_t *root = NULL, *allow, *reason;
    json_error_t jerr;
    char rtext[SCEP_WEBHOOK_MAX_REASON + 1];
    int verdict = 0;

    if (why == NULL || whylen == 0)
        return 0;
    why[0] = '\0';
    if (http_status == 0) {
        const char *t =
            transport_error != NULL && transport_error[0] != '\0' ? transport_error : "no answer";

        /* The transports word a timeout "timed out after N ms" and an
         * answer they cut off "answer ..."; either reads best after
         * "webhook"; anything else is a failure to reach the hook. */
        if (strncmp(t, "timed out", 9) == 0 || strncmp(t, "answer ", 7) == 0)
            snprintf(why, whylen, "webhook %s", t);
        else
            snprintf(why, whylen, "webhook unreachable: %s", t);
        goto out;
    }
    if (http_status < 200 || http_status > 299) {
        snprintf(why, whylen, "webhook answered HTTP %d", http_status);
        goto out;
    }
    /* 204 or an empty 200 says nothing, which is not "allow". */
    if (body == NULL || len == 0 || len > SCEP_WEBHOOK_MAX_RESPONSE)
        goto notjson;
    /* Duplicate keys: {"allow": false, "allow": true} must not be read
     * one way by us and another way by whoever audits the hook. */
    root = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL || !json_is_object(root))
        goto notjson;
    allow = json_object_get(root, "allow");
    if (allow == NULL || !json_is_boolean(allow))
        goto notjson;
    if (json_is_true(allow)) {
        verdict = 1;
        goto out;
    }
    reason = json_object_get(root, "reason");
    if (reason != NULL && json_is_string(reason) && json_string_length(reason) > 0) {
        wh_reason(json_string_value(reason), json_string_length(reason), rtext, sizeof(rtext));
        snprintf(why, whylen, "webhook denied: %s", rtext);
    } else
        snprintf(why, whylen, "webhook denied");
    goto out;
notjson:
    snprintf(why, whylen, "webhook answer is not JSON {\"allow\": bool}");
out:
    json_decref(root);
    return verdict;
}
