/*
 * The SQLite backend's substring search (sqlite_be.h): the FTS5 query
 * that finds the certificates whose subject or SANs contain a text.
 *
 * The trigram index answers a phrase by reading the posting list of
 * every trigram in it, and a fleet's names share most of theirs: in
 * "CN=device-0500000.fleet.example,OU=site-042" the trigrams of
 * "device-" and ".fleet" are in every row, so a phrase of the whole
 * text reads a million-entry list for each of them (about 100 ms with a
 * million certificates) to find one row.  Only the rare part of a text
 * narrows the search, so the query keeps the runs of trigrams that are
 * rare in a sample of stored names and leaves out the common ones; the
 * listing then checks every candidate against the whole text (instr),
 * so the answer is the same, only found faster.  The sample is a few
 * hundred rows at random rowids, taken again every SAMPLE_TTL seconds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <scep/error.h>

#include "sqlite_be.h"

/* How many names the sample holds, and how fresh it must be. */
#define SAMPLE_ROWS 400
#define SAMPLE_TTL 600
/* A sample this small says nothing: below it the whole phrase is used. */
#define SAMPLE_MIN 50
/* A trigram in at least 1/COMMON_DIV of the sampled names is common. */
#define COMMON_DIV 4
/* The longest text worth planning: longer ones are rare anyway. */
#define PLAN_MAX 256

struct sq_sample {
    int64_t taken_at;
    size_t n;
    char *names[2][SAMPLE_ROWS]; /* [0] subjects, [1] SANs; lowercase */
};

static void sample_clear(struct sq_sample *sm)
{
    size_t i;

    for (i = 0; i < sm->n; i++) {
        sqlite3_free(sm->names[0][i]);
        sqlite3_free(sm->names[1][i]);
    }
    sm->n = 0;
}

void sq_search_free(struct sq_be *be)
{
    if (be->sample == NULL)
        return;
    sample_clear(be->sample);
    free(be->sample);
    be->sample = NULL;
}

/* Reads up to SAMPLE_ROWS names at random rowids (each a seek, so the
 * cost does not grow with the table; a row met twice counts twice).  0, or -1 when
 * the table cannot be read (then no sample is used). */
static int sample_take(struct sq_be *be, struct sq_sample *sm, int64_t now)
{
    sqlite3_stmt *s = NULL;
    int64_t lo = 0, hi = 0, at;
    size_t i;
    int rc = -1;

    sample_clear(sm);
    if (sqlite3_prepare_v2(be->db, "SELECT min(rowid), max(rowid) FROM certificates", -1, &s,
                           NULL) != SQLITE_OK ||
        sqlite3_step(s) != SQLITE_ROW)
        goto out;
    lo = sqlite3_column_int64(s, 0);
    hi = sqlite3_column_int64(s, 1);
    sqlite3_finalize(s);
    s = NULL;
    if (sqlite3_prepare_v2(be->db,
                           "SELECT lower(subject), lower(sans) FROM certificates "
                           "WHERE rowid >= ?1 ORDER BY rowid LIMIT 1",
                           -1, &s, NULL) != SQLITE_OK)
        goto out;
    /* Random rowids, not evenly spaced ones: names are often numbered
     * in order, and a stride would sample only the numbers that share
     * its digits. */
    for (i = 0; i < SAMPLE_ROWS * 2 && sm->n < SAMPLE_ROWS && hi >= lo; i++) {
        const char *subj, *sans;
        uint64_t r;

        sqlite3_randomness(sizeof(r), &r);
        at = lo + (int64_t)(r % (uint64_t)(hi - lo + 1));
        sqlite3_reset(s);
        if (sqlite3_bind_int64(s, 1, at) != SQLITE_OK || sqlite3_step(s) != SQLITE_ROW)
            continue; /* a row deleted since: try another */
        subj = (const char *)sqlite3_column_text(s, 0);
        sans = (const char *)sqlite3_column_text(s, 1);
        sm->names[0][sm->n] = sqlite3_mprintf("%s", subj != NULL ? subj : "");
        sm->names[1][sm->n] = sqlite3_mprintf("%s", sans != NULL ? sans : "");
        if (sm->names[0][sm->n] == NULL || sm->names[1][sm->n] == NULL) {
            sqlite3_free(sm->names[0][sm->n]);
            sqlite3_free(sm->names[1][sm->n]);
            break;
        }
        sm->n++;
    }
    sm->taken_at = now;
    rc = 0;
out:
    sqlite3_finalize(s);
    return rc;
}

/* The sample, taken or refreshed as needed; NULL when there is none. */
static const struct sq_sample *sample_get(struct sq_be *be)
{
    int64_t now = (int64_t)time(NULL);

    if (be->sample == NULL) {
        be->sample = calloc(1, sizeof(*be->sample));
        if (be->sample == NULL)
            return NULL;
        be->sample->taken_at = INT64_MIN;
    }
    if (be->sample->taken_at == INT64_MIN || now - be->sample->taken_at >= SAMPLE_TTL ||
        now < be->sample->taken_at) {
        if (sample_take(be, be->sample, now) != 0)
            return NULL;
    }
    return be->sample->n >= SAMPLE_MIN ? be->sample : NULL;
}

static int is_ascii(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s >= 0x80 || (unsigned char)*s < 0x20)
            return 0;
    return 1;
}

/* Appends `col : "text[0..n)"` (FTS5 quoting: " doubled) to q. */
static void append_phrase(sqlite3_str *q, const char *col, const char *text, size_t n)
{
    size_t i;

    sqlite3_str_appendf(q, "%s : \"", col);
    for (i = 0; i < n; i++) {
        if (text[i] == '"')
            sqlite3_str_appendchar(q, 1, '"');
        sqlite3_str_appendchar(q, 1, text[i]);
    }
    sqlite3_str_appendchar(q, 1, '"');
}

/* Marks in common[i] whether the trigram at text[i] is in at least a
 * COMMON_DIV-th of the sampled names of column c. */
static void mark_common(const struct sq_sample *sm, int c, const char *low, size_t n,
                        unsigned char *common)
{
    char tri[4];
    size_t i, k, hits;

    tri[3] = '\0';
    for (i = 0; i + 3 <= n; i++) {
        memcpy(tri, low + i, 3);
        for (k = 0, hits = 0; k < sm->n; k++)
            if (strstr(sm->names[c][k], tri) != NULL)
                hits++;
        common[i] = hits * COMMON_DIV >= sm->n;
    }
}

int sq_search_match(struct sq_be *be, const char *col, const char *text, char **out)
{
    const struct sq_sample *sm = NULL;
    unsigned char common[PLAN_MAX];
    char low[PLAN_MAX + 1];
    sqlite3_str *q = sqlite3_str_new(NULL);
    size_t n = strlen(text), i, start, runs = 0;
    int c = strcmp(col, "subject") == 0 ? 0 : 1;

    /* Plan only ASCII (lower() and the tokenizer fold it alike) of a
     * length worth it; anything else is the whole phrase. */
    if (n > 3 && n <= PLAN_MAX && is_ascii(text))
        sm = sample_get(be);
    if (sm != NULL) {
        for (i = 0; i < n; i++)
            low[i] = (char)(text[i] >= 'A' && text[i] <= 'Z' ? text[i] + 32 : text[i]);
        low[n] = '\0';
        mark_common(sm, c, low, n, common);
        /* Each maximal run of rare trigrams i..j is the substring
         * text[i, j + 3); the runs are ANDed. */
        for (i = 0; i + 3 <= n; i++) {
            if (common[i])
                continue;
            start = i;
            while (i + 1 + 3 <= n && !common[i + 1])
                i++;
            if (runs++ > 0)
                sqlite3_str_appendall(q, " AND ");
            append_phrase(q, col, text + start, i + 3 - start);
        }
    }
    if (runs == 0)
        append_phrase(q, col, text, n);
    if (sqlite3_str_errcode(q) != SQLITE_OK) {
        sqlite3_free(sqlite3_str_finish(q));
        return SCEP_ERR_NOMEM;
    }
    *out = sqlite3_str_finish(q);
    return *out != NULL ? 0 : SCEP_ERR_NOMEM;
}
