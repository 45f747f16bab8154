/*
 * The query string of a SCEP request: "operation=OP[&message=...]".  We
 * split it on '&' ourselves instead of using a form decoder, because the
 * message= value must reach scep_query_message_decode() raw: form
 * decoders turn '+' into a space, which corrupts base64 (RFC 8894 4.1;
 * the clients' dialects are listed in docs/scep-interop.md 1.2).  The
 * operation name is case-sensitive in RFC 8894 3.5, but some clients
 * change its case, so it is matched without regard to case.
 */
#include <string.h>
#include <strings.h>

#include "scepd.h"

static const char *const op_names[SCEPD_OP_COUNT] = {
    [SCEPD_OP_UNKNOWN] = "unknown",           [SCEPD_OP_GETCACAPS] = "GetCACaps",
    [SCEPD_OP_GETCACERT] = "GetCACert",       [SCEPD_OP_GETNEXTCACERT] = "GetNextCACert",
    [SCEPD_OP_PKIOPERATION] = "PKIOperation",
};

/* Longest operation value we try to match (the longest name is 13). */
#define QUERY_MAX_OP 32

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Matches an operation value, percent-decoding it first (a client may
 * escape a letter); anything undecodable or too long is unknown. */
static int query_match_op(const char *v, size_t len)
{
    char name[QUERY_MAX_OP + 1];
    size_t i, n = 0;
    int op;

    for (i = 0; i < len; i++) {
        char c = v[i];

        if (c == '%') {
            int hi, lo;

            if (i + 2 >= len)
                return SCEPD_OP_UNKNOWN;
            hi = hexval(v[i + 1]);
            lo = hexval(v[i + 2]);
            if (hi < 0 || lo < 0)
                return SCEPD_OP_UNKNOWN;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (n >= QUERY_MAX_OP || c == '\0')
            return SCEPD_OP_UNKNOWN;
        name[n++] = c;
    }
    name[n] = '\0';
    for (op = SCEPD_OP_GETCACAPS; op < SCEPD_OP_COUNT; op++)
        if (strcasecmp(name, op_names[op]) == 0)
            return op;
    return SCEPD_OP_UNKNOWN;
}

/*
 * Splits q (len bytes, without the '?') on '&' and fills out.  The first
 * operation= and the first message= win; other parameters are ignored.
 */
void scepd_query_parse(const char *q, size_t len, struct scepd_query *out)
{
    size_t pos = 0;

    out->op = SCEPD_OP_NONE;
    out->message = NULL;
    out->message_len = 0;
    while (q != NULL && pos < len) {
        const char *part = q + pos;
        const char *amp = memchr(part, '&', len - pos);
        size_t plen = amp != NULL ? (size_t)(amp - part) : len - pos;
        const char *eq = memchr(part, '=', plen);
        size_t klen = eq != NULL ? (size_t)(eq - part) : plen;
        const char *val = eq != NULL ? eq + 1 : part + plen;
        size_t vlen = eq != NULL ? plen - klen - 1 : 0;

        if (klen == 9 && strncasecmp(part, "operation", 9) == 0 && out->op == SCEPD_OP_NONE)
            out->op = query_match_op(val, vlen);
        else if (klen == 7 && strncasecmp(part, "message", 7) == 0 && out->message == NULL) {
            out->message = val;
            out->message_len = vlen;
        }
        pos += plen + 1;
    }
}

/* Returns the RFC spelling of op, "unknown" or "none"; never NULL. */
const char *scepd_op_name(int op)
{
    if (op == SCEPD_OP_NONE)
        return "none";
    if (op < 0 || op >= SCEPD_OP_COUNT)
        return "unknown";
    return op_names[op];
}
