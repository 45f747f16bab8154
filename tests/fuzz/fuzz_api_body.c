/*
 * libFuzzer harness: the admin API's request body parser
 * (src/scepd/api_body.c, compiled in), which sees every POST body on the
 * admin listener.  Checks the promises the handlers rely on: a body is
 * accepted only as a JSON object, nested no deeper than
 * SCEP_API_MAX_DEPTH, no longer than SCEP_API_MAX_BODY; a refusal leaves
 * no object and says why; the unknown-key check names a key of the
 * object or nothing.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

/* The nesting depth of v: 1 for an object of scalars. */
static int depth_of(json_t *v)
{
    const char *key;
    json_t *child;
    size_t i;
    int d = 0, cd;

    if (json_is_object(v)) {
        json_object_foreach(v, key, child)
        {
            cd = depth_of(child);
            if (cd > d)
                d = cd;
        }
        return d + 1;
    }
    if (json_is_array(v)) {
        json_array_foreach(v, i, child)
        {
            cd = depth_of(child);
            if (cd > d)
                d = cd;
        }
        return d + 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const allowed[] = {"reason", "profile", "sans", NULL};
    json_t *obj = (json_t *)1;
    char why[200];
    const char *bad;
    int rc = api_body_parse(data, size, &obj, why, sizeof(why));

    if (rc != 0) {
        if (obj != NULL || why[0] == '\0' || (rc != 400 && rc != 413))
            abort();
        if (rc == 413 && size <= SCEP_API_MAX_BODY)
            abort();
        return 0;
    }
    if (obj == NULL || !json_is_object(obj) || size > SCEP_API_MAX_BODY ||
        depth_of(obj) > SCEP_API_MAX_DEPTH)
        abort();
    bad = api_body_unknown_key(obj, allowed);
    if (bad != NULL && json_object_get(obj, bad) == NULL)
        abort();
    json_decref(obj);
    return 0;
}
