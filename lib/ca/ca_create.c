/*
 * Making a CA: a new key and self-signed certificate in the state
 * directory, plus an RSA RA certificate when the CA key is EC (SCEP key
 * transport needs RSA) or when asked for.  The same code makes the next
 * CA of a rollover in dir/next.  Files appear in an order that keeps a
 * half-finished run recognisable: keys first, ca.crt (for the current
 * CA) or activate-at (for the next CA) last, since those are what the
 * loader looks for.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <scep/error.h>
#include <scep/limits.h>

#include "ca/ca.h"
#include "ca/ca_internal.h"
#include "ca/fsutil.h"
#include "ca/keyring.h"

#define CA_DEFAULT_SUBJECT "CN=scepd CA"
#define CA_DEFAULT_RSA_BITS 3072
/* Longest CA validity we accept: a hundred years is already absurd. */
#define CA_MAX_DAYS 36500

/* Options with every default filled in and every value range-checked. */
struct ca_plan {
    X509_NAME *name;
    X509_NAME *ra_name; /* NULL: no RA */
    int key_type, rsa_bits, ec_curve, days, ra_bits;
};

static void plan_clear(struct ca_plan *p)
{
    X509_NAME_free(p->name);
    X509_NAME_free(p->ra_name);
    memset(p, 0, sizeof(*p));
}

/*
 * Derives the RA name from the CA name: the last CN gets " RA" appended,
 * or a CN "scepd RA" is added when there is none.  *out: X509_NAME_free().
 */
static int derive_ra_name(const X509_NAME *ca_name, X509_NAME **out)
{
    X509_NAME *n = NULL;
    X509_NAME_ENTRY *e;
    unsigned char *utf8 = NULL;
    char buf[SCEP_MAX_SUBJECT + 4];
    int loc = -1, last = -1, len, rc = SCEP_ERR_CONFIG;

    n = X509_NAME_dup(ca_name);
    if (n == NULL) {
        rc = SCEP_ERR_NOMEM;
        goto out;
    }
    while ((loc = X509_NAME_get_index_by_NID(n, NID_commonName, loc)) >= 0)
        last = loc;
    if (last < 0) {
        if (!X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8,
                                        (const unsigned char *)"scepd RA", -1, -1, 0))
            goto out;
    } else {
        e = X509_NAME_get_entry(n, last);
        /* ASN1_STRING_to_UTF8() converts whatever string type the entry has. */
        len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
        if (len < 0 || (size_t)len + 4 > sizeof(buf))
            goto out;
        memcpy(buf, utf8, (size_t)len);
        memcpy(buf + len, " RA", 4);
        /* Replace rather than X509_NAME_ENTRY_set_data(): editing an entry in
         * place leaves the name's cached DER encoding stale. */
        X509_NAME_ENTRY_free(X509_NAME_delete_entry(n, last));
        if (!X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8,
                                        (const unsigned char *)buf, len + 3, last, 0))
            goto out;
    }
    *out = n;
    n = NULL;
    rc = 0;
out:
    OPENSSL_free(utf8);
    X509_NAME_free(n);
    return rc;
}

/*
 * Turns opts into a plan.  force_ra makes an RA even for an RSA CA
 * without with_ra (the next CA of a CA that has one).
 */
static int plan_make(const struct scep_ca_init_opts *o, int force_ra, struct ca_plan *p)
{
    int rc = SCEP_ERR_CONFIG;

    memset(p, 0, sizeof(*p));
    if (o == NULL)
        return SCEP_ERR_INVALID_ARG;
    p->key_type = o->key_type;
    p->rsa_bits = o->rsa_bits != 0 ? o->rsa_bits : CA_DEFAULT_RSA_BITS;
    p->ra_bits = o->ra_bits != 0 ? o->ra_bits : CA_DEFAULT_RSA_BITS;
    p->ec_curve = o->ec_curve != 0 ? o->ec_curve : NID_X9_62_prime256v1;
    p->days = o->validity_days != 0 ? o->validity_days : CA_DEFAULT_DAYS;
    if (p->key_type != SCEP_KEY_RSA && p->key_type != SCEP_KEY_EC)
        goto out;
    if (p->rsa_bits < SCEP_MIN_RSA_BITS || p->rsa_bits > SCEP_MAX_RSA_BITS ||
        p->ra_bits < SCEP_MIN_RSA_BITS || p->ra_bits > SCEP_MAX_RSA_BITS)
        goto out;
    if (p->ec_curve != NID_X9_62_prime256v1 && p->ec_curve != NID_secp384r1)
        goto out;
    if (p->days < 1 || p->days > CA_MAX_DAYS)
        goto out;
    rc = ca_name_parse(o->subject != NULL ? o->subject : CA_DEFAULT_SUBJECT, &p->name);
    if (rc != 0)
        goto out;
    if (o->with_ra || force_ra || p->key_type == SCEP_KEY_EC) {
        if (o->ra_subject != NULL)
            rc = ca_name_parse(o->ra_subject, &p->ra_name);
        else
            rc = derive_ra_name(p->name, &p->ra_name);
        if (rc != 0)
            goto out;
    }
    rc = 0;
out:
    if (rc != 0)
        plan_clear(p);
    return rc;
}

/*
 * Sets notBefore (now - CA_BACKDATE_SECONDS) and notAfter (now + days,
 * capped at cap when not NULL) on cert.  Returns 0 or SCEP_ERR_INTERNAL.
 */
static int set_validity(X509 *cert, int days, const ASN1_TIME *cap)
{
    time_t now = time(NULL);

    /* X509_time_adj_ex() adjusts the certificate's own ASN1_TIME in place
     * and picks UTCTime or GeneralizedTime as RFC 5280 requires. */
    if (X509_time_adj_ex(X509_getm_notBefore(cert), 0, -CA_BACKDATE_SECONDS, &now) == NULL)
        return SCEP_ERR_INTERNAL;
    if (X509_time_adj_ex(X509_getm_notAfter(cert), days, 0, &now) == NULL)
        return SCEP_ERR_INTERNAL;
    if (cap != NULL && ASN1_TIME_compare(X509_get0_notAfter(cert), cap) > 0 &&
        !X509_set1_notAfter(cert, cap))
        return SCEP_ERR_INTERNAL;
    return 0;
}

/*
 * Builds and signs a certificate for subject_key named name, issued by
 * issuer/issuer_key, or self-signed with subject_key when issuer is
 * NULL.  bc and ku are the basicConstraints and keyUsage values.  An
 * issued certificate ends no later than its issuer.  *out: free with
 * X509_free().
 */
static int make_cert(struct scep_key *subject_key, X509_NAME *name, X509 *issuer,
                     struct scep_key *issuer_key, int days, const char *bc, const char *ku,
                     X509 **out)
{
    X509 *cert = NULL, *by;
    struct scep_key *signer = issuer != NULL ? issuer_key : subject_key;
    int rc = SCEP_ERR_INTERNAL;

    cert = X509_new();
    if (cert == NULL)
        goto out;
    /* A self-signed certificate is its own issuer: its AKI copies its own
     * SKI and its digest follows its own key. */
    by = issuer != NULL ? issuer : cert;
    if (!X509_set_version(cert, X509_VERSION_3) || ca_set_random_serial(cert) != 0 ||
        !X509_set_subject_name(cert, name) ||
        !X509_set_issuer_name(cert, issuer != NULL ? X509_get_subject_name(issuer) : name))
        goto out;
    if ((rc = set_validity(cert, days, issuer != NULL ? X509_get0_notAfter(issuer) : NULL)) != 0)
        goto out;
    if ((rc = scep_key_set_pubkey(subject_key, cert)) != 0)
        goto out;
    /* SKI before AKI: for a self-signed certificate the AKI copies it. */
    if ((rc = ca_add_ext(cert, by, NID_basic_constraints, bc)) != 0 ||
        (rc = ca_add_ext(cert, by, NID_key_usage, ku)) != 0 ||
        (rc = ca_add_ext(cert, by, NID_subject_key_identifier, "hash")) != 0 ||
        (rc = ca_add_ext(cert, by, NID_authority_key_identifier, "keyid:always")) != 0)
        goto out;
    if ((rc = scep_key_sign_cert(signer, cert, ca_md_for(by))) != 0)
        goto out;
    *out = cert;
    cert = NULL;
    rc = 0;
out:
    X509_free(cert);
    return rc;
}

/*
 * Builds and signs the self-signed CA certificate for key.  enc_ku adds
 * digitalSignature+keyEncipherment (an RSA CA that is its own SCEP
 * recipient: Apple and Windows refuse one without those bits).
 * *out: free with X509_free().
 */
static int make_ca_cert(struct scep_key *key, X509_NAME *name, int days, int enc_ku, X509 **out)
{
    return make_cert(key, name, NULL, NULL, days, "critical,CA:TRUE",
                     enc_ku ? "critical,keyCertSign,cRLSign,digitalSignature,keyEncipherment"
                            : "critical,keyCertSign,cRLSign",
                     out);
}

/*
 * Builds the RA certificate for ra_key, issued by ca_cert/ca_key: an
 * end-entity certificate for signing CertReps and receiving envelopes.
 * *out: free with X509_free().
 */
static int make_ra_cert(X509 *ca_cert, struct scep_key *ca_key, struct scep_key *ra_key,
                        X509_NAME *name, int days, X509 **out)
{
    return make_cert(ra_key, name, ca_cert, ca_key, days, "critical,CA:FALSE",
                     "critical,digitalSignature,keyEncipherment", out);
}

/*
 * Makes keys and certificates of plan p in dir: ca.key, ra.key, ra.crt,
 * then ca.crt.  Returns 0 or SCEP_ERR_*.
 */
static int make_ca_in(const char *dir, const struct ca_plan *p)
{
    char path[PATH_MAX];
    struct scep_key *key = NULL, *ra_key = NULL;
    X509 *cert = NULL, *ra = NULL;
    int rc;

    if ((rc = ca_path_join(path, sizeof(path), dir, CA_KEY)) != 0 ||
        (rc = scep_key_generate(path, p->key_type, p->rsa_bits, p->ec_curve, &key)) != 0)
        goto out;
    rc = make_ca_cert(key, p->name, p->days, p->key_type == SCEP_KEY_RSA && p->ra_name == NULL,
                      &cert);
    if (rc != 0)
        goto out;
    if (p->ra_name != NULL) {
        if ((rc = ca_path_join(path, sizeof(path), dir, RA_KEY)) != 0 ||
            (rc = scep_key_generate(path, SCEP_KEY_RSA, p->ra_bits, 0, &ra_key)) != 0)
            goto out;
        if ((rc = make_ra_cert(cert, key, ra_key, p->ra_name, p->days, &ra)) != 0)
            goto out;
        if ((rc = ca_path_join(path, sizeof(path), dir, RA_CRT)) != 0 ||
            (rc = ca_write_cert(path, ra, 1)) != 0)
            goto out;
    }
    if ((rc = ca_path_join(path, sizeof(path), dir, CA_CRT)) != 0 ||
        (rc = ca_write_cert(path, cert, 1)) != 0)
        goto out;
    rc = 0;
out:
    scep_key_free(key);
    scep_key_free(ra_key);
    X509_free(cert);
    X509_free(ra);
    return rc;
}

/*
 * Creates a new CA in dir (see ca.h).  Returns 0, SCEP_ERR_EXISTS when
 * dir already holds one, or another SCEP_ERR_*.
 */
int scep_ca_create(const char *dir, const struct scep_ca_init_opts *opts)
{
    struct ca_plan plan = {0};
    char path[PATH_MAX];
    int rc;

    if (dir == NULL || opts == NULL)
        return SCEP_ERR_INVALID_ARG;
    if ((rc = plan_make(opts, 0, &plan)) != 0)
        goto out;
    if ((rc = ca_mkdir_private(dir)) != 0)
        goto out;
    rc = SCEP_ERR_EXISTS;
    if (ca_path_join(path, sizeof(path), dir, CA_CRT) != 0 || ca_path_exists(path))
        goto out;
    if (ca_path_join(path, sizeof(path), dir, CA_KEY) != 0 || ca_path_exists(path))
        goto out;
    rc = make_ca_in(dir, &plan);
out:
    plan_clear(&plan);
    return rc;
}

/* Returns 1 when dir/ca.crt exists, else 0. */
int scep_ca_exists(const char *dir)
{
    char path[PATH_MAX];

    if (dir == NULL || ca_path_join(path, sizeof(path), dir, CA_CRT) != 0)
        return 0;
    return ca_path_exists(path);
}

/*
 * Removes what a crashed scep_ca_next_create() may have left in next/
 * (no activate-at: never announced, never used).  Returns 0 or SCEP_ERR_IO.
 */
static int clear_stale_next(const char *next)
{
    static const char *const names[] = {CA_CRT, CA_KEY, RA_CRT, RA_KEY};
    char path[PATH_MAX];
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (ca_path_join(path, sizeof(path), next, names[i]) != 0)
            return SCEP_ERR_TOO_LARGE;
        if (ca_path_exists(path) && unlink(path) != 0)
            return SCEP_ERR_IO;
    }
    return 0;
}

/*
 * Makes the next CA in dir/next to become current at activate_at (see
 * ca.h).  It gets an RA when the current CA has one, when it is EC, or
 * when opts ask.  Returns 0, SCEP_ERR_EXISTS, SCEP_ERR_NOT_FOUND (no
 * current CA) or another SCEP_ERR_*.
 */
int scep_ca_next_create(const char *dir, const struct scep_ca_init_opts *opts, time_t activate_at)
{
    struct ca_plan plan = {0};
    char next[PATH_MAX], path[PATH_MAX], stamp[32];
    int rc, w, has_ra;

    if (dir == NULL || opts == NULL || activate_at <= 0)
        return SCEP_ERR_INVALID_ARG;
    if (!scep_ca_exists(dir))
        return SCEP_ERR_NOT_FOUND;
    if ((rc = ca_path_join(path, sizeof(path), dir, RA_CRT)) != 0)
        goto out;
    has_ra = ca_path_exists(path);
    if ((rc = plan_make(opts, has_ra, &plan)) != 0)
        goto out;
    if ((rc = ca_path_join(next, sizeof(next), dir, NEXT_DIR)) != 0 ||
        (rc = ca_path_join(path, sizeof(path), next, ACTIVATE_AT)) != 0)
        goto out;
    if (ca_path_exists(path)) {
        rc = SCEP_ERR_EXISTS;
        goto out;
    }
    if ((rc = ca_mkdir_private(next)) != 0 || (rc = clear_stale_next(next)) != 0)
        goto out;
    if ((rc = make_ca_in(next, &plan)) != 0)
        goto out;
    w = snprintf(stamp, sizeof(stamp), "%lld\n", (long long)activate_at);
    if (w < 0 || (size_t)w >= sizeof(stamp)) {
        rc = SCEP_ERR_INTERNAL;
        goto out;
    }
    /* Written last: its presence is what makes the next CA exist. */
    rc = ca_write_file(path, stamp, (size_t)w, 0644, 1);
out:
    plan_clear(&plan);
    return rc;
}
