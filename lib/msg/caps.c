/*
 * GetCACaps (RFC 8894 3.5.2): formatting the keyword list a server
 * advertises and parsing the one a client receives.  Servers must use the
 * exact spellings; clients match them without regard to case and accept
 * CRLF or LF line ends, ignoring keywords they do not know (private ones
 * such as "Example.com-Foo", or the interim draft's "Update").
 */
#include <string.h>
#include <strings.h>

#include <scep/caps.h>
#include <scep/error.h>

/* Keywords in the order they are sent. */
static const struct {
    unsigned bit;
    const char *word;
} cap_words[] = {
    {SCEP_CAP_AES, "AES"},
    {SCEP_CAP_DES3, "DES3"},
    {SCEP_CAP_GET_NEXT_CA_CERT, "GetNextCACert"},
    {SCEP_CAP_POST_PKI_OPERATION, "POSTPKIOperation"},
    {SCEP_CAP_RENEWAL, "Renewal"},
    {SCEP_CAP_SHA1, "SHA-1"},
    {SCEP_CAP_SHA224, "SHA-224"},
    {SCEP_CAP_SHA256, "SHA-256"},
    {SCEP_CAP_SHA384, "SHA-384"},
    {SCEP_CAP_SHA512, "SHA-512"},
    {SCEP_CAP_SCEP_STANDARD, "SCEPStandard"},
};

#define CAP_COUNT (sizeof(cap_words) / sizeof(cap_words[0]))

/*
 * Writes one keyword per line, each ended by "\n", into buf (size bytes
 * including the NUL).  Returns the length without the NUL, or
 * SCEP_ERR_TOO_LARGE (buf too small) / SCEP_ERR_INVALID_ARG.
 */
int scep_caps_format(unsigned caps, char *buf, size_t size)
{
    size_t i, used = 0;

    if (buf == NULL || size == 0)
        return SCEP_ERR_INVALID_ARG;
    buf[0] = '\0';
    for (i = 0; i < CAP_COUNT; i++) {
        size_t wl;

        if ((caps & cap_words[i].bit) == 0)
            continue;
        wl = strlen(cap_words[i].word);
        /* word + "\n" + the final NUL must fit */
        if (size - used < wl + 2) {
            buf[0] = '\0';
            return SCEP_ERR_TOO_LARGE;
        }
        memcpy(buf + used, cap_words[i].word, wl);
        used += wl;
        buf[used++] = '\n';
        buf[used] = '\0';
    }
    return (int)used;
}

/* The bit of one keyword (len bytes), 0 when unknown. */
static unsigned cap_bit(const char *w, size_t len)
{
    size_t i;

    for (i = 0; i < CAP_COUNT; i++)
        if (strlen(cap_words[i].word) == len && strncasecmp(cap_words[i].word, w, len) == 0)
            return cap_words[i].bit;
    return 0;
}

/*
 * Parses a GetCACaps body (len bytes, not NUL-terminated).  Surrounding
 * blanks on a line are ignored.  SCEPStandard implies AES,
 * POSTPKIOperation and SHA-256 (RFC 8894 3.5.2).  Returns the bit set.
 */
unsigned scep_caps_parse(const char *body, size_t len)
{
    unsigned caps = 0;
    size_t i = 0;

    if (body == NULL)
        return 0;
    while (i < len) {
        size_t start = i, end;

        while (i < len && body[i] != '\n')
            i++;
        end = i;
        if (i < len)
            i++; /* skip the LF */
        while (start < end && (body[start] == ' ' || body[start] == '\t'))
            start++;
        while (end > start &&
               (body[end - 1] == '\r' || body[end - 1] == ' ' || body[end - 1] == '\t'))
            end--;
        caps |= cap_bit(body + start, end - start);
    }
    if (caps & SCEP_CAP_SCEP_STANDARD)
        caps |= SCEP_CAP_AES | SCEP_CAP_POST_PKI_OPERATION | SCEP_CAP_SHA256;
    return caps;
}
