/*
 * Unit tests of what only the SQLite backend shows: the URI forms that
 * name a file, the reasons a failed open gives (taken from SQLite and
 * the system), the PRAGMAs a connection runs with (WAL), a failing
 * statement rolling the whole transaction back, and a certificate
 * surviving a kill -9 right after the insert returned.  The behaviour
 * every backend shares is in test_store_contract.c; migrations are in
 * test_store_sqlite_migrate.c, tampering and concurrency in
 * test_store_sqlite_audit.c.  Every test works on a fresh database file
 * in its own temporary directory.
 */
#include "test_store_common.h"

#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <scep/error.h>

/* Opens uri, expecting success, and closes it again. */
static void open_close(const char *uri)
{
    struct scep_store *st = NULL;
    char why[256] = "unset";

    if (scep_store_open(uri, &st, why, sizeof(why)) != 0)
        fail_msg("cannot open %s: %s", uri, why);
    assert_string_equal(why, "");
    scep_store_close(st);
}

/* Every way of naming the same file opens the same database. */
static void test_uri_forms(void **state)
{
    struct ts_db *d = *state;
    char url[700];

    open_close(d->uri);
    open_close(d->path);
    /* The URL form, sqlite:// followed by an absolute path. */
    snprintf(url, sizeof(url), "sqlite://%s", d->path);
    open_close(url);
    /* Schemes are case-insensitive (RFC 3986 3.1). */
    snprintf(url, sizeof(url), "SQLite:%s", d->path);
    open_close(url);
    assert_int_equal(ts_raw_int(d->path, "SELECT count(*) FROM crl_numbers"), 1);
    /* A relative plain path with a colon later on is still a path, as
     * long as what comes before the colon cannot be a scheme. */
    assert_int_equal(chdir(d->dir), 0);
    open_close("./rel:ative.db");
    assert_int_equal(access("rel:ative.db", F_OK), 0);
}

/* Opens uri expecting rc, and returns the reason in why. */
static void open_fails(const char *uri, int rc, char *why, size_t len)
{
    struct scep_store *st = NULL;

    assert_int_equal(scep_store_open(uri, &st, why, len), rc);
    assert_null(st);
}

static void test_open_reasons(void **state)
{
    struct ts_db *d = *state;
    char uri[700], why[512], want[800];

    /* No such directory: SQLite's words and the system's. */
    open_fails("sqlite:/nonexistent-dir/x/store.db", SCEP_ERR_STORE, why, sizeof(why));
    assert_string_equal(why, "sqlite:/nonexistent-dir/x/store.db: unable to open database file "
                             "(no such file or directory)");
    /* A plain path is named in its sqlite: form. */
    open_fails("/nonexistent-dir/x/store.db", SCEP_ERR_STORE, why, sizeof(why));
    assert_string_equal(why, "sqlite:/nonexistent-dir/x/store.db: unable to open database file "
                             "(no such file or directory)");
    /* A directory where the file should be. */
    snprintf(uri, sizeof(uri), "sqlite:%s", d->dir);
    open_fails(uri, SCEP_ERR_STORE, why, sizeof(why));
    snprintf(want, sizeof(want), "sqlite:%s: ", d->dir);
    assert_memory_equal(why, want, strlen(want));
    /* Something that is not a database. */
    {
        FILE *f = fopen(d->path, "w");

        assert_non_null(f);
        fputs("this is not a database, only some text that is long enough to be read as a "
              "header page by SQLite and rejected\n",
              f);
        fclose(f);
    }
    open_fails(d->uri, SCEP_ERR_STORE, why, sizeof(why));
    snprintf(want, sizeof(want), "sqlite:%s: ", d->path);
    assert_memory_equal(why, want, strlen(want));
    assert_non_null(strstr(why, "not a database"));
    open_fails("sqlite:", SCEP_ERR_INVALID_ARG, why, sizeof(why));
    assert_string_equal(why, "sqlite: names no database file");
    open_fails("sqlite://", SCEP_ERR_INVALID_ARG, why, sizeof(why));
    open_fails("mysql://h/db", SCEP_ERR_UNSUPPORTED, why, sizeof(why));
    assert_string_equal(why, "unknown store scheme \"mysql:\" (known: sqlite:, postgresql:)");
    /* The postgresql row opens its own backend (no server listens on
     * port 1): the reason is libpq's, after the scheme. */
    open_fails("postgresql://u@127.0.0.1:1/db", SCEP_ERR_STORE, why, sizeof(why));
    assert_memory_equal(why, "postgresql: ", strlen("postgresql: "));
}

/* What a process that may not write gets told: run as nobody when the
 * tests run as root (root may write anywhere). */
static int denied_reasons(const char *dir)
{
    char ro[600], file[600], uri[700], why[512], want[800];
    struct scep_store *st = NULL;
    FILE *f;

    snprintf(ro, sizeof(ro), "%s/ro", dir);
    snprintf(file, sizeof(file), "%s/ro.db", dir);
    /* A new file in a directory we may not write to. */
    snprintf(uri, sizeof(uri), "sqlite:%s/x.db", ro);
    if (scep_store_open(uri, &st, why, sizeof(why)) != SCEP_ERR_STORE)
        return 1;
    snprintf(want, sizeof(want), "%s: unable to open database file (permission denied)", uri);
    if (strcmp(why, want) != 0) {
        fprintf(stderr, "got \"%s\"\nwant \"%s\"\n", why, want);
        return 2;
    }
    /* An existing file we may only read. */
    f = fopen(file, "r");
    if (f == NULL)
        return 3;
    fclose(f);
    snprintf(uri, sizeof(uri), "sqlite:%s", file);
    if (scep_store_open(uri, &st, why, sizeof(why)) != SCEP_ERR_STORE)
        return 4;
    snprintf(want, sizeof(want), "%s: cannot write the database file (permission denied)", uri);
    if (strcmp(why, want) != 0) {
        fprintf(stderr, "got \"%s\"\nwant \"%s\"\n", why, want);
        return 5;
    }
    return 0;
}

static void test_open_permission_denied(void **state)
{
    struct ts_db *d = *state;
    char ro[512], file[512];
    struct scep_store *st = NULL;
    int status = 0;
    pid_t pid;

    snprintf(ro, sizeof(ro), "%s/ro", d->dir);
    snprintf(file, sizeof(file), "%s/ro.db", d->dir);
    assert_int_equal(mkdir(ro, 0555), 0);
    snprintf(d->uri, sizeof(d->uri), "sqlite:%s", file);
    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    scep_store_close(st);
    assert_int_equal(chmod(file, 0444), 0);
    assert_int_equal(chmod(d->dir, 0755), 0);
    if (geteuid() != 0) {
        assert_int_equal(denied_reasons(d->dir), 0);
        return;
    }
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* 65534: nobody */
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(9);
        _exit(denied_reasons(d->dir));
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* A new database file, and the WAL and shared-memory files SQLite makes
 * beside it, are 0600 whatever the umask: they hold pending requests and
 * the audit trail.  An existing file keeps the mode it has. */
static void test_new_file_mode(void **state)
{
    struct ts_db *d = *state;
    char file[512], side[560];
    struct scep_store *st = NULL;
    struct stat sb;
    mode_t old = umask(022);

    snprintf(file, sizeof(file), "%s/mode.db", d->dir);
    snprintf(d->uri, sizeof(d->uri), "sqlite:%s", file);
    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    assert_int_equal(stat(file, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);
    snprintf(side, sizeof(side), "%s-wal", file);
    if (stat(side, &sb) == 0)
        assert_int_equal(sb.st_mode & 07777, 0600);
    snprintf(side, sizeof(side), "%s-shm", file);
    if (stat(side, &sb) == 0)
        assert_int_equal(sb.st_mode & 07777, 0600);
    scep_store_close(st);

    assert_int_equal(chmod(file, 0640), 0);
    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    scep_store_close(st);
    assert_int_equal(stat(file, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0640);
    umask(old);
}

/* The connection runs in WAL mode (persistent in the file), and the
 * indexes the listings need are there. */
static void test_pragmas(void **state)
{
    struct ts_db *d = *state;
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;

    open_close(d->uri);
    assert_int_equal(sqlite3_open(d->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    sqlite3_close(db);
}

static void test_store_error_rolls_back(void **state)
{
    struct ts_db *d = *state;
    struct scep_store *st = NULL;
    static const unsigned char der[] = {0x30, 0x00};
    struct scep_cert_info ci = ts_info("99", "CN=x", der, sizeof(der));
    struct scep_audit_event ev = {.kind = "issue", .actor = "scepd"};

    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    /* Make the audit insert fail after the certificate row went in: the
     * whole transaction must vanish. */
    ts_raw_exec(d->path, "CREATE TRIGGER no_audit BEFORE INSERT ON audit "
                         "BEGIN SELECT RAISE(ABORT, 'audit refused'); END");
    assert_int_equal(scep_store_insert_cert(st, &ci, &ev), SCEP_ERR_STORE);
    assert_true(strstr(scep_store_last_error(st), "audit refused") != NULL);
    scep_store_close(st);
    assert_int_equal(ts_raw_int(d->path, "SELECT count(*) FROM certificates"), 0);
    assert_int_equal(ts_raw_int(d->path, "SELECT count(*) FROM audit"), 0);
}

/* Inserts, then dies by SIGKILL the moment the call returns: the
 * certificate and its audit event must be there for the next process. */
static void test_kill_after_insert(void **state)
{
    struct ts_db *d = *state;
    struct scep_store *st = NULL;
    struct scep_cert_info *got = NULL;
    int64_t bad = -1;
    int status = 0;
    pid_t pid;

    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    scep_store_close(st);
    st = NULL;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        static const unsigned char der[] = {0x30, 0x02, 0x05, 0x00};
        struct scep_cert_info ci = ts_info("DEAD", "CN=killed", der, sizeof(der));
        struct scep_audit_event ev = {.kind = "issue", .actor = "scepd", .serial = "DEAD"};
        struct scep_store *cst = NULL;

        if (scep_store_open(d->uri, &cst, NULL, 0) != 0 ||
            scep_store_insert_cert(cst, &ci, &ev) != 0)
            _exit(3);
        /* No close, no checkpoint, no atexit: only what COMMIT did. */
        raise(SIGKILL);
        _exit(4);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
    assert_int_equal(scep_store_open(d->uri, &st, NULL, 0), 0);
    assert_int_equal(scep_store_get_cert(st, "DEAD", &got), 0);
    assert_string_equal(got->subject, "CN=killed");
    scep_cert_info_free(got);
    assert_int_equal(ts_audit_count(st), 1);
    assert_int_equal(scep_store_verify_audit(st, &bad), 0);
    scep_store_close(st);
    /* The journal mode is persistent in the file: WAL. */
    {
        sqlite3 *db = NULL;
        sqlite3_stmt *s = NULL;

        assert_int_equal(sqlite3_open(d->path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(s), SQLITE_ROW);
        assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
        sqlite3_finalize(s);
        sqlite3_close(db);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_uri_forms, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_open_reasons, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_open_permission_denied, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_pragmas, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_new_file_mode, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_store_error_rolls_back, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_kill_after_insert, ts_setup, ts_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
