/*
 * What a profile's pattern (scepd.conf(5), *_pattern) may be before glibc
 * compiles it.  regcomp() expands every repetition into copies of what it
 * repeats: "x+" becomes "xx*", "x{m,n}" n copies, and each applies to the
 * copies already made, so "a++++..." or "(a{99}){99}{99}" needs memory
 * exponential in its length (libFuzzer's config harness found one that
 * took over 2.7 GB).  So a pattern is measured first, by the same rule,
 * and one that would expand past RULES_REGEX_MAX_COST positions is
 * refused, as are back-references, which glibc accepts in EREs but which
 * make matching exponential in the length of a name the client chose.
 */
#include <stdio.h>

#include "policy/rules_int.h"

/* Positions of the expanded pattern.  Hostnames of up to eleven labels
 * of 1 to 63 characters, "[a-z0-9-]{1,63}(\.[a-z0-9-]{1,63}){0,10}",
 * cost 792; at this limit glibc compiles in a few milliseconds and at
 * most 17 MB (measured on the worst shapes, "(a|aa|aaa){1,340}" and
 * "(a?){680}"), where "(a{99}){99}{99}" would have needed gigabytes. */
#define RULES_REGEX_MAX_COST 2048ull
/* glibc's RE_DUP_MAX; a larger count is a regcomp error anyway. */
#define RULES_REGEX_MAX_DUP 32767ull

/* p at '[': the character after the bracket expression it opens (a
 * leading '^' and a first ']' are part of it; "[:alpha:]", "[.x.]" and
 * "[=x=]" may hold ']'). */
static const char *skip_bracket(const char *p)
{
    p++;
    if (*p == '^')
        p++;
    if (*p == ']')
        p++;
    while (*p != '\0' && *p != ']') {
        if (*p == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
            char close = p[1];

            p += 2;
            while (*p != '\0' && !(p[0] == close && p[1] == ']'))
                p++;
            if (*p != '\0')
                p += 2;
            continue;
        }
        p++;
    }
    return *p == ']' ? p + 1 : p;
}

/* A decimal count of at most 6 digits at *pp, advancing past it; -1 when
 * none. */
static long long read_count(const char **pp)
{
    const char *p = *pp;
    long long v = 0;
    int n = 0;

    while (*p >= '0' && *p <= '9' && n < 6) {
        v = v * 10 + (*p - '0');
        p++;
        n++;
    }
    if (n == 0 || (*p >= '0' && *p <= '9'))
        return -1;
    *pp = p;
    return v;
}

/*
 * p at '{': how many copies the interval asks for ("{m}", "{m,}", "{,n}",
 * "{m,n}"; at most RULES_REGEX_MAX_DUP + 1), with *pp past its '}'; 0
 * when it is no interval (glibc then refuses it or takes it literally).
 */
static unsigned long long read_interval(const char **pp)
{
    const char *p = *pp + 1;
    long long m = 0, n = -1;

    if (*p != ',' && (m = read_count(&p)) < 0)
        return 0;
    if (*p == ',') {
        p++;
        if (*p != '}' && (n = read_count(&p)) < 0)
            return 0;
    }
    if (*p != '}')
        return 0;
    *pp = p + 1;
    if (n < m)
        n = m;
    if (n > (long long)RULES_REGEX_MAX_DUP)
        n = (long long)RULES_REGEX_MAX_DUP;
    return (unsigned long long)n + 1;
}

/* One level of parentheses: the cost so far, and that of its last
 * piece, which a repetition that follows multiplies. */
struct level {
    unsigned long long sum, last;
};

int rules_regex_vet(const char *p, char *msg, size_t msglen)
{
    struct level st[RULES_REGEX_MAX_DEPTH + 1] = {{0, 0}};
    size_t d = 0;

    while (*p != '\0') {
        unsigned long long atom = 1, times = 0;

        if (*p == '\\') {
            if (p[1] >= '1' && p[1] <= '9') {
                snprintf(msg, msglen,
                         "back-reference \\%c: matching with one takes time "
                         "exponential in the name's length",
                         p[1]);
                return -1;
            }
            p += p[1] != '\0' ? 2 : 1;
        } else if (*p == '[') {
            p = skip_bracket(p);
        } else if (*p == '(') {
            if (d == RULES_REGEX_MAX_DEPTH) {
                snprintf(msg, msglen, "groups nested more than %d deep", RULES_REGEX_MAX_DEPTH);
                return -1;
            }
            st[++d] = (struct level){0, 0};
            p++;
            continue;
        } else if (*p == '|') {
            st[d].last = 0;
            p++;
            continue;
        } else if (*p == ')' && d > 0) {
            atom = st[d].sum > 0 ? st[d].sum : 1;
            d--;
            p++;
        } else if (*p == '*' || *p == '?' || *p == '+') {
            /* x+ is xx*; x* and x? add a branch around x, and glibc's
             * matching time grows with those (measured: "(a?){1020}"
             * took 134 ms on one 250-character name, "(a){1020}" well
             * under 1 ms), so they count as much. */
            times = 2;
            p++;
        } else if (*p == '{' && (times = read_interval(&p)) != 0) {
            /* p is past the interval */
        } else {
            p++;
        }
        if (times != 0) {
            /* Both factors are at most RULES_REGEX_MAX_COST and
             * RULES_REGEX_MAX_DUP + 1: no overflow. */
            unsigned long long grown = st[d].last * times + 1;

            st[d].sum = st[d].sum - st[d].last + grown;
            st[d].last = grown;
        } else {
            st[d].sum += atom;
            st[d].last = atom;
        }
        if (st[d].sum > RULES_REGEX_MAX_COST || st[d].last > RULES_REGEX_MAX_COST) {
            snprintf(msg, msglen,
                     "too complex: its repetitions expand to more than %llu "
                     "positions",
                     RULES_REGEX_MAX_COST);
            return -1;
        }
    }
    return 0;
}

int rules_regex_stray_paren(const char *p)
{
    size_t depth = 0;

    while (*p != '\0') {
        if (*p == '\\') {
            p += p[1] != '\0' ? 2 : 1;
            continue;
        }
        if (*p == '[') {
            p = skip_bracket(p);
            continue;
        }
        if (*p == '(')
            depth++;
        else if (*p == ')' && depth-- == 0)
            return 1;
        p++;
    }
    return 0;
}
