/*
 * The SQLite backend's base: one connection per struct sq_be (one per
 * worker thread), opened and configured here, with the helpers every
 * other sqlite_*.c file builds on (cached statements, transactions,
 * error capture, the one-row lookup, commit-with-audit) and the struct
 * scep_store_ops that store.c dispatches to.  What the tables hold and
 * how they change lives in sqlite_certs.c, sqlite_requests.c,
 * sqlite_audit.c and sqlite_migrate.c.
 *
 * Durability: WAL with synchronous=FULL fsyncs the log on every COMMIT,
 * so a certificate is on disk when scep_store_insert_cert() returns and
 * a kill -9 right after the response loses nothing.  Concurrency: every
 * connection waits up to BUSY_TIMEOUT_MS for the write lock (busy_wait:
 * short steps, since a write transaction here lasts about a
 * millisecond), and every write runs in BEGIN IMMEDIATE ... COMMIT, so
 * writers from several threads or processes serialise cleanly.  Any
 * failing statement rolls the whole transaction back: a call either
 * writes everything or nothing.
 */
#include "sqlite_be.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <scep/error.h>

/* How long a connection waits for another writer's lock before SQLite
 * gives up with SQLITE_BUSY. */
#define BUSY_TIMEOUT_MS 10000
/* Extra attempts at BEGIN/COMMIT when SQLite answers SQLITE_BUSY without
 * waiting (it does so e.g. while another connection recovers the WAL). */
#define BUSY_RETRIES 5
#define BUSY_RETRY_SLEEP_NS 20000000L
/* The same for the PRAGMAs run at open, which contend harder when many
 * connections open a new file at once: 250 x 20 ms = 5 s at most. */
#define OPEN_BUSY_RETRIES 250

/* busy_wait's first pause and its longest, in microseconds. */
#define BUSY_STEP_MIN_US 50
#define BUSY_STEP_MAX_US 1000

static const struct sq_query q_begin = {SQ_BEGIN, "BEGIN IMMEDIATE"};
static const struct sq_query q_commit = {SQ_COMMIT, "COMMIT"};
static const struct sq_query q_rollback = {SQ_ROLLBACK, "ROLLBACK"};

/* Writes " (permission denied)" for eno into buf, or "" for eno 0. */
static void errno_text(int eno, char *buf, size_t len)
{
    buf[0] = '\0';
    if (eno == 0)
        return;
    snprintf(buf, len, " (%s)", strerror(eno));
    /* "(Permission denied)" reads oddly after SQLite's lower-case
     * messages. */
    buf[2] = (char)tolower((unsigned char)buf[2]);
}

/* Writes "what: sqlite's message (system error)" into be->err, the
 * system error only when eno is not 0.  Returns SCEP_ERR_STORE. */
static int fail_errno(struct sq_be *be, const char *what, int eno)
{
    char sys[128];

    errno_text(eno, sys, sizeof(sys));
    snprintf(be->err, sizeof(be->err), "%s%s%s%s", what != NULL ? what : "",
             what != NULL ? ": " : "", be->db != NULL ? sqlite3_errmsg(be->db) : "no connection",
             sys);
    return SCEP_ERR_STORE;
}

/* Records the failure; see sqlite_be.h.  The system error is added only
 * for the result codes that come from a system call (opening, reading,
 * writing the files), where it is what tells "permission denied" from
 * "no space left"; elsewhere sqlite3_system_errno() may be stale. */
int sq_fail(struct sq_be *be, const char *what)
{
    int code, eno = 0;

    if (be->db != NULL) {
        code = sqlite3_extended_errcode(be->db) & 0xff;
        if (code == SQLITE_CANTOPEN || code == SQLITE_IOERR || code == SQLITE_READONLY ||
            code == SQLITE_FULL)
            eno = sqlite3_system_errno(be->db);
    }
    return fail_errno(be, what, eno);
}

/*
 * Why path cannot be opened for reading and writing, as an errno, or 0
 * when nothing is found.  SQLite's own errno is that of its last
 * attempt, a read-only open, which for a new file in a directory we may
 * not write to says "no such file" instead of "permission denied".
 * AT_EACCESS: the effective ids, which are what open() uses.
 */
static int open_errno(const char *path)
{
    char dir[4096];
    const char *slash;
    size_t n;

    if (faccessat(AT_FDCWD, path, F_OK, AT_EACCESS) == 0)
        return faccessat(AT_FDCWD, path, R_OK | W_OK, AT_EACCESS) == 0 ? 0 : errno;
    if (errno != ENOENT)
        return errno;
    /* No such file: may it be created in its directory? */
    slash = strrchr(path, '/');
    if (slash == NULL) {
        snprintf(dir, sizeof(dir), ".");
    } else {
        n = slash == path ? 1 : (size_t)(slash - path);
        if (n >= sizeof(dir))
            return 0;
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    return faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) == 0 ? 0 : errno;
}

/* Hands out a cached prepared statement; see sqlite_be.h. */
int sq_stmt(struct sq_be *be, const struct sq_query *q, sqlite3_stmt **out)
{
    if (be->owner[q->slot] != NULL && be->owner[q->slot] != q) {
        snprintf(be->err, sizeof(be->err), "statement slot %d used by two queries", (int)q->slot);
        return SCEP_ERR_INTERNAL;
    }
    if (be->stmts[q->slot] == NULL) {
        /* PERSISTENT tells SQLite the statement is kept for long, so it
         * allocates it outside the short-lived lookaside pool. */
        if (sqlite3_prepare_v3(be->db, q->sql, -1, SQLITE_PREPARE_PERSISTENT, &be->stmts[q->slot],
                               NULL) != SQLITE_OK)
            return sq_fail(be, "prepare");
        be->owner[q->slot] = q;
    }
    *out = be->stmts[q->slot];
    return 0;
}

/* Resets a cached statement; see sqlite_be.h. */
void sq_done(sqlite3_stmt *s)
{
    if (s == NULL)
        return;
    /* reset repeats the last step's error code; it was already handled. */
    (void)sqlite3_reset(s);
    (void)sqlite3_clear_bindings(s);
}

static void busy_sleep(void)
{
    struct timespec ts = {0, BUSY_RETRY_SLEEP_NS};

    (void)nanosleep(&ts, NULL);
}

static int64_t mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * The busy handler: tries again after 50 us, doubling to 1 ms, until
 * BUSY_TIMEOUT_MS have passed since the first refusal.  SQLite's own
 * (sqlite3_busy_timeout) sleeps 1, 2, 5, 10, 15, 20, 25 ms between
 * tries: a worker that found the lock held by a commit of a millisecond
 * slept 8 ms or more (measured with two workers on ext4: 120-122
 * enrollments/s with SQLite's handler, 127-133 with this one;
 * bench/loop_ab.sh commit).  count is SQLite's number of earlier calls
 * in this wait; be->busy_since marks its start.
 */
static int busy_wait(void *arg, int count)
{
    struct sq_be *be = arg;
    int64_t now = mono_us();
    long us = BUSY_STEP_MAX_US;
    struct timespec ts;

    if (count == 0)
        be->busy_since = now;
    else if (now - be->busy_since >= (int64_t)BUSY_TIMEOUT_MS * 1000)
        return 0;
    if (count < 5)
        us = BUSY_STEP_MIN_US << count;
    if (us > BUSY_STEP_MAX_US)
        us = BUSY_STEP_MAX_US;
    ts.tv_sec = 0;
    ts.tv_nsec = us * 1000;
    (void)nanosleep(&ts, NULL);
    return 1;
}

/* Steps a cached no-result statement, retrying SQLITE_BUSY. */
static int step_retry(struct sq_be *be, const struct sq_query *q, const char *what)
{
    sqlite3_stmt *s = NULL;
    int rc, tries, src = SQLITE_BUSY;

    rc = sq_stmt(be, q, &s);
    if (rc != 0)
        return rc;
    for (tries = 0; tries <= BUSY_RETRIES; tries++) {
        src = sqlite3_step(s);
        sq_done(s);
        if ((src & 0xff) != SQLITE_BUSY)
            break;
        busy_sleep();
    }
    if (src != SQLITE_DONE)
        return sq_fail(be, what);
    return 0;
}

/* Starts a write transaction; see sqlite_be.h. */
int sq_begin(struct sq_be *be)
{
    return step_retry(be, &q_begin, "begin");
}

/* Commits; see sqlite_be.h. */
int sq_commit(struct sq_be *be)
{
    int rc = step_retry(be, &q_commit, "commit");

    if (rc != 0)
        sq_rollback(be);
    return rc;
}

/* Rolls back; see sqlite_be.h. */
void sq_rollback(struct sq_be *be)
{
    sqlite3_stmt *s = NULL;

    /* A failed statement may already have ended the transaction (SQLite
     * rolls back by itself on e.g. SQLITE_FULL); ROLLBACK outside one is
     * an error we do not want in be->err. */
    if (sqlite3_get_autocommit(be->db))
        return;
    if (sq_stmt(be, &q_rollback, &s) != 0)
        return;
    (void)sqlite3_step(s);
    sq_done(s);
}

/* Appends ev, if any, and commits; see sqlite_be.h. */
int sq_commit_audited(struct sq_be *be, const struct scep_audit_event *ev)
{
    int rc;

    if (ev != NULL) {
        rc = sq_audit_append(be, ev);
        if (rc != 0)
            return rc;
    }
    return sq_commit(be);
}

/* A rare DELETE with its audit event (sqlite_be.h). */
int sq_purge(struct sq_be *be, const char *sql, int64_t v, const char *what, int only_if_any,
             int64_t *purged, const struct scep_audit_event *ev)
{
    sqlite3_stmt *s = NULL;
    int64_t n = 0;
    int rc;

    rc = sq_begin(be);
    if (rc != 0)
        return rc;
    rc = SCEP_ERR_STORE;
    if (sqlite3_prepare_v2(be->db, sql, -1, &s, NULL) != SQLITE_OK) {
        sq_fail(be, what);
        goto out;
    }
    if (sqlite3_bind_int64(s, 1, v) != SQLITE_OK || sqlite3_step(s) != SQLITE_DONE) {
        sq_fail(be, what);
        goto out;
    }
    n = sqlite3_changes(be->db);
    rc = n > 0 || !only_if_any ? sq_commit_audited(be, ev) : sq_commit(be);
    if (rc != 0)
        goto out;
    *purged = n;
out:
    sqlite3_finalize(s);
    if (rc != 0)
        sq_rollback(be);
    return rc;
}

/* Binds a string or NULL; see sqlite_be.h. */
int sq_bind_str(sqlite3_stmt *st, int i, const char *s)
{
    if (s == NULL)
        return sqlite3_bind_null(st, i);
    return sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

/* Copies text column i into a fresh string (NULL for SQL NULL); its
 * length comes from SQLite, not from a terminator.  See sqlite_be.h. */
int sq_dup_col(sqlite3_stmt *s, int i, char **out)
{
    const unsigned char *t;
    int n;
    char *p;

    *out = NULL;
    if (sqlite3_column_type(s, i) == SQLITE_NULL)
        return 0;
    t = sqlite3_column_text(s, i);
    n = sqlite3_column_bytes(s, i);
    if (t == NULL || n < 0)
        return SCEP_ERR_NOMEM;
    p = malloc((size_t)n + 1);
    if (p == NULL)
        return SCEP_ERR_NOMEM;
    memcpy(p, t, (size_t)n);
    p[n] = '\0';
    *out = p;
    return 0;
}

/* Binds, steps and sorts out the one-row answer; see sqlite_be.h. */
int sq_lookup(struct sq_be *be, const struct sq_query *q, const char *key, int64_t num,
              const char *what, sqlite3_stmt **out)
{
    sqlite3_stmt *s = NULL;
    int rc, src, brc;

    rc = sq_stmt(be, q, &s);
    if (rc != 0)
        return rc;
    rc = SCEP_ERR_STORE;
    brc = key != NULL ? sq_bind_str(s, 1, key) : sqlite3_bind_int64(s, 1, num);
    if (brc != SQLITE_OK) {
        sq_fail(be, "bind");
        goto out;
    }
    src = sqlite3_step(s);
    if (src == SQLITE_DONE) {
        rc = SCEP_ERR_NOT_FOUND;
        goto out;
    }
    if (src != SQLITE_ROW) {
        sq_fail(be, what);
        goto out;
    }
    *out = s;
    s = NULL;
    rc = 0;
out:
    sq_done(s);
    return rc;
}

static int sq_schema_version(void *vbe)
{
    return ((struct sq_be *)vbe)->version;
}

/* Seconds a database and its WAL must have been left alone before
 * sq_change_token vouches for them: more than the coarse clock's tick
 * that file times come from, by far. */
#define SQ_QUIET_SECONDS 2

/* Folds what stat says of a file that a commit changes into h (FNV-1a). */
static uint64_t sq_fold_stat(uint64_t h, const struct stat *st)
{
    const uint64_t v[] = {(uint64_t)st->st_dev,          (uint64_t)st->st_ino,
                          (uint64_t)st->st_size,         (uint64_t)st->st_mtim.tv_sec,
                          (uint64_t)st->st_mtim.tv_nsec, (uint64_t)st->st_ctim.tv_sec,
                          (uint64_t)st->st_ctim.tv_nsec};
    size_t i, j;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        for (j = 0; j < 8; j++) {
            h ^= (v[i] >> (8 * j)) & 0xffu;
            h *= 1099511628211ULL;
        }
    return h;
}

/*
 * See scep_store_change_token.  In WAL mode every commit, of any
 * connection, writes the -wal file (also after a checkpoint restarts
 * it), so its size or times move; the database file is folded in too,
 * for a file replaced or restored under us.
 */
static int sq_change_token(void *vbe, uint64_t *out)
{
    struct sq_be *be = vbe;
    const char *db = sqlite3_db_filename(be->db, "main");
    const char *wal;
    struct stat a, b;
    time_t now = time(NULL);

    if (db == NULL || db[0] == '\0' || (wal = sqlite3_filename_wal(db)) == NULL)
        return SCEP_ERR_UNSUPPORTED;
    if (stat(db, &a) != 0 || stat(wal, &b) != 0)
        return SCEP_ERR_UNAVAILABLE;
    if (now - a.st_mtim.tv_sec < SQ_QUIET_SECONDS || now - b.st_mtim.tv_sec < SQ_QUIET_SECONDS ||
        now - a.st_ctim.tv_sec < SQ_QUIET_SECONDS || now - b.st_ctim.tv_sec < SQ_QUIET_SECONDS)
        return SCEP_ERR_UNAVAILABLE;
    *out = sq_fold_stat(sq_fold_stat(1469598103934665603ULL, &a), &b);
    return 0;
}

static int sq_ping(void *vbe)
{
    struct sq_be *be = vbe;

    /* Reads the schema: a file that became unreadable or corrupt fails. */
    if (sqlite3_exec(be->db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL) != SQLITE_OK)
        return sq_fail(be, "ping");
    return 0;
}

static const char *sq_last_error(void *vbe)
{
    return ((struct sq_be *)vbe)->err;
}

static void sq_close(void *vbe)
{
    struct sq_be *be = vbe;
    int i;

    if (be == NULL)
        return;
    for (i = 0; i < SQ_NSTMT; i++)
        sqlite3_finalize(be->stmts[i]);
    /* With every statement finalized close cannot fail with SQLITE_BUSY;
     * the last connection to close checkpoints the WAL. */
    sqlite3_close(be->db);
    sq_search_free(be);
    (void)sq_unlock_crl(be);
    free(be->crl_lock_path);
    free(be);
}

static const struct scep_store_ops sqlite_ops = {
    .name = "sqlite",
    .close = sq_close,
    .schema_version = sq_schema_version,
    .insert_cert = sq_insert_cert,
    .insert_certs = sq_insert_certs,
    .get_cert = sq_get_cert,
    .get_cert_by_fingerprint = sq_get_cert_by_fingerprint,
    .get_cert_by_transaction = sq_get_cert_by_transaction,
    .list_certs = sq_list_certs,
    .revoke = sq_revoke,
    .unhold = sq_unhold,
    .audit = sq_audit,
    .list_audit = sq_list_audit,
    .verify_audit = sq_verify_audit,
    .next_crl_number = sq_next_crl_number,
    .get_crl = sq_get_crl,
    .put_crl = sq_put_crl,
    .try_lock_crl = sq_try_lock_crl,
    .unlock_crl = sq_unlock_crl,
    .add_request = sq_add_request,
    .get_request = sq_get_request,
    .get_request_by_transaction = sq_get_request_by_transaction,
    .list_requests = sq_list_requests,
    .decide_request = sq_decide_request,
    .issue_request = sq_issue_request,
    .add_challenge = sq_add_challenge,
    .get_challenge = sq_get_challenge,
    .list_challenges = sq_list_challenges,
    .revoke_challenge = sq_revoke_challenge,
    .purge_challenges = sq_purge_challenges,
    .purge_requests = sq_purge_requests,
    .list_expiring = sq_list_expiring,
    .count_certs = sq_count_certs,
    .notice_claim = sq_notice_claim,
    .notice_finish = sq_notice_finish,
    .get_notice = sq_get_notice,
    .add_token = sq_add_token,
    .get_token = sq_get_token,
    .list_tokens = sq_list_tokens,
    .revoke_token = sq_revoke_token,
    .touch_token = sq_touch_token,
    .ping = sq_ping,
    .change_token = sq_change_token,
    .last_error = sq_last_error,
    .export_rows = sq_export_rows,
    .import_begin = sq_import_begin,
    .import_row = sq_import_row,
    .import_commit = sq_import_commit,
    .import_abort = sq_import_abort,
    .count_certs_by_group = sq_count_certs_by_group,
    .cert_histogram = sq_cert_histogram,
};

/* Runs a PRAGMA that answers one row and checks the answer, if want is
 * not NULL, case-insensitively (journal_mode answers "wal"). */
static int pragma(struct sq_be *be, const char *sql, const char *want)
{
    sqlite3_stmt *s = NULL;
    const unsigned char *got;
    int rc = SCEP_ERR_STORE, src = SQLITE_BUSY, tries;

    if (sqlite3_prepare_v2(be->db, sql, -1, &s, NULL) != SQLITE_OK) {
        sq_fail(be, sql);
        goto out;
    }
    /* Switching the journal mode needs an exclusive lock, and SQLite
     * answers SQLITE_BUSY at once, without the busy handler, when waiting
     * could deadlock with another connection doing the same (several
     * workers opening a new database together).  Back off and retry. */
    for (tries = 0; tries < OPEN_BUSY_RETRIES; tries++) {
        src = sqlite3_step(s);
        if ((src & 0xff) != SQLITE_BUSY)
            break;
        (void)sqlite3_reset(s);
        busy_sleep();
    }
    if (src != SQLITE_ROW && src != SQLITE_DONE) {
        sq_fail(be, sql);
        goto out;
    }
    if (want != NULL) {
        got = src == SQLITE_ROW ? sqlite3_column_text(s, 0) : NULL;
        if (got == NULL || sqlite3_stricmp((const char *)got, want) != 0) {
            snprintf(be->err, sizeof(be->err), "%s: answered %s instead of %s", sql,
                     got != NULL ? (const char *)got : "nothing", want);
            goto out;
        }
    }
    rc = 0;
out:
    sqlite3_finalize(s);
    return rc;
}

/* The file a SQLite store URI names: "sqlite:PATH", "sqlite://PATH" (so
 * "sqlite:///abs/path" is /abs/path) or a plain PATH.  Borrowed from
 * uri. */
static const char *uri_path(const char *uri)
{
    static const char scheme[] = "sqlite:";

    if (strncasecmp(uri, scheme, sizeof(scheme) - 1) != 0)
        return uri;
    uri += sizeof(scheme) - 1;
    if (uri[0] == '/' && uri[1] == '/')
        uri += 2;
    return uri;
}

/*
 * Opens the database a SQLite store URI names, configures the connection
 * for durability and concurrent writers, and migrates the schema; see
 * store_backend.h.  A failure is described in why as "sqlite:PATH: what
 * went wrong", taken from the connection before it is closed.
 */
int scep_store_sqlite_open(const char *uri, const struct scep_store_ops **ops, void **out,
                           char *why, size_t whylen)
{
    int rc = SCEP_ERR_STORE;
    struct sq_be *be = NULL;
    const char *path = uri_path(uri);
    char sys[128];
    int eno;

    if (path[0] == '\0') {
        snprintf(why, whylen, "%s names no database file", uri);
        return SCEP_ERR_INVALID_ARG;
    }
    be = calloc(1, sizeof(*be));
    if (be == NULL) {
        snprintf(why, whylen, "sqlite:%s: out of memory", path);
        return SCEP_ERR_NOMEM;
    }
    be->crl_lock_fd = -1;
    if (strcmp(path, ":memory:") != 0) {
        size_t n = strlen(path) + sizeof(".crl-lock");

        if ((be->crl_lock_path = malloc(n)) == NULL) {
            free(be);
            snprintf(why, whylen, "sqlite:%s: out of memory", path);
            return SCEP_ERR_NOMEM;
        }
        snprintf(be->crl_lock_path, n, "%s.crl-lock", path);
    }
    /* The database holds requests and the audit trail: create it 0600
     * ourselves (SQLite would use 0644 less the umask).  SQLite gives its
     * -wal, -shm and -journal files the mode of the database file.  An
     * existing file is left as it is; O_EXCL makes that race-free, and a
     * failure other than EEXIST is reported by the open below. */
    if (strcmp(path, ":memory:") != 0) {
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

        if (fd >= 0)
            close(fd);
    }
    /* NOMUTEX: each connection belongs to one thread, so SQLite's
     * per-connection mutex would only cost time.  sqlite3_open_v2 hands
     * back a handle even when it fails, with the reason in it; sq_close()
     * closes it. */
    if (sqlite3_open_v2(path, &be->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        eno = open_errno(path);
        if (eno != 0)
            fail_errno(be, NULL, eno);
        else
            sq_fail(be, NULL);
        goto out;
    }
    /* A file we may not write is opened read-only without a word; say so
     * now rather than at the first PRAGMA that writes. */
    if (sqlite3_db_readonly(be->db, "main") == 1) {
        errno_text(open_errno(path), sys, sizeof(sys));
        snprintf(be->err, sizeof(be->err), "cannot write the database file%s", sys);
        goto out;
    }
    /* Extended codes tell a duplicate serial (CONSTRAINT_PRIMARYKEY)
     * apart from other failures. */
    sqlite3_extended_result_codes(be->db, 1);
    /* The timeout first: switching to WAL needs a lock that another
     * process opening the same file may hold. */
    if (sqlite3_busy_handler(be->db, busy_wait, be) != SQLITE_OK) {
        sq_fail(be, "busy_handler");
        goto out;
    }
    rc = pragma(be, "PRAGMA journal_mode=WAL", "wal");
    if (rc == 0)
        rc = pragma(be, "PRAGMA synchronous=FULL", NULL);
    if (rc == 0)
        rc = pragma(be, "PRAGMA foreign_keys=ON", NULL);
    if (rc == 0)
        rc = sq_migrate(be);
    if (rc != 0)
        goto out;
    *ops = &sqlite_ops;
    *out = be;
    be = NULL;
    rc = 0;
out:
    if (be != NULL)
        snprintf(why, whylen, "sqlite:%s: %s", path, be->err);
    sq_close(be);
    return rc;
}
