/*
 * The admin API's request bodies: bytes from the network to a JSON
 * object, with explicit limits, before any handler sees them.  jansson
 * does the parsing; what it does not bound is bounded here first: the
 * size, and the nesting depth (a cheap scan over the bytes, outside
 * strings, so that a body of 16 KiB of '[' costs no allocation).  Keys
 * may not repeat (JSON_REJECT_DUPLICATES: two "reason"s would let a
 * proxy and scepd read different requests), the top level must be an
 * object, and NUL bytes inside strings are refused (jansson's default
 * without JSON_ALLOW_NUL), so every string a handler sees is a C string.
 * Pure: tests/fuzz/fuzz_api_body.c drives it directly.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "api.h"

/* The deepest nesting of [ and { in b (len bytes) outside strings, or
 * SCEP_API_MAX_DEPTH + 1 as soon as it goes past the limit. */
static int api_body_depth(const unsigned char *b, size_t len)
{
    int depth = 0, max = 0, in_str = 0, esc = 0;
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char ch = b[i];

        if (in_str) {
            if (esc)
                esc = 0;
            else if (ch == '\\')
                esc = 1;
            else if (ch == '"')
                in_str = 0;
            continue;
        }
        if (ch == '"') {
            in_str = 1;
        } else if (ch == '[' || ch == '{') {
            if (++depth > max)
                max = depth;
            if (max > SCEP_API_MAX_DEPTH)
                return max;
        } else if ((ch == ']' || ch == '}') && depth > 0) {
            depth--;
        }
    }
    return max;
}

int api_body_parse(const unsigned char *b, size_t len, json_t **out, char *why, size_t whylen)
{
    json_error_t err;
    json_t *v;

    *out = NULL;
    if (why != NULL && whylen > 0)
        why[0] = '\0';
    if (len > SCEP_API_MAX_BODY) {
        snprintf(why, whylen, "at most %d bytes", SCEP_API_MAX_BODY);
        return 413;
    }
    if (b == NULL || len == 0) {
        snprintf(why, whylen, "empty body: a JSON object is expected");
        return 400;
    }
    if (api_body_depth(b, len) > SCEP_API_MAX_DEPTH) {
        snprintf(why, whylen, "nested deeper than %d levels", SCEP_API_MAX_DEPTH);
        return 400;
    }
    v = json_loadb((const char *)b, len, JSON_REJECT_DUPLICATES, &err);
    if (v == NULL) {
        snprintf(why, whylen, "line %d column %d: %s", err.line, err.column, err.text);
        return 400;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        snprintf(why, whylen, "the body must be a JSON object");
        return 400;
    }
    *out = v;
    return 0;
}

const char *api_body_unknown_key(json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *val;
    size_t i;

    json_object_foreach(obj, key, val)
    {
        for (i = 0; allowed[i] != NULL; i++)
            if (strcmp(allowed[i], key) == 0)
                break;
        if (allowed[i] == NULL)
            return key;
    }
    return NULL;
}
