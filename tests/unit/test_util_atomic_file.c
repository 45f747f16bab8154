/*
 * The one atomic file writer (lib/util/atomic_file.c): it writes, it
 * replaces by rename (a reader holding the old file keeps the old bytes),
 * it sets the mode exactly whatever the umask, UTIL_WRITE_EXCL never
 * replaces, and every failure leaves the target as it was with no temp
 * file behind.  Failures are provoked in ways that work as root too: a
 * missing directory, a directory in the way, RLIMIT_FSIZE for a write
 * that fails halfway.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <scep/error.h>
#include "testutil.h"
#include "util/atomic_file.h"

struct fx {
    char *dir;
    char path[4096];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->dir = tu_tempdir();
    snprintf(f->path, sizeof(f->path), "%s/out.pem", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    tu_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* Number of entries in dir other than . and .. whose name contains
 * ".tmp.", the writer's temp files. */
static int temp_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;

    assert_non_null(d);
    while ((de = readdir(d)) != NULL)
        if (strstr(de->d_name, ".tmp.") != NULL)
            n++;
    closedir(d);
    return n;
}

/* Asserts that path holds exactly the NUL-terminated text want. */
static void assert_contents(const char *path, const char *want)
{
    size_t len = 0;
    unsigned char *got = tu_read_file(path, &len);

    assert_non_null(got);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(got, want, len);
    free(got);
}

static void test_writes_new_file(void **state)
{
    struct fx *f = *state;
    struct stat st;

    assert_int_equal(util_write_atomic(f->path, "hello\n", 6, 0644, 0), 0);
    assert_contents(f->path, "hello\n");
    assert_int_equal(stat(f->path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(temp_files(f->dir), 0);
    /* an empty file is a file too */
    assert_int_equal(util_write_atomic(f->path, NULL, 0, 0644, 0), 0);
    assert_contents(f->path, "");
}

static void test_replaces_by_rename(void **state)
{
    struct fx *f = *state;
    struct stat before, after;
    char buf[16] = {0};
    int fd;

    assert_int_equal(util_write_atomic(f->path, "old contents", 12, 0644, 0), 0);
    assert_int_equal(stat(f->path, &before), 0);
    /* A reader that opened the old file keeps reading the old bytes:
     * the new file is a new inode renamed over the name, never the old
     * file truncated and rewritten in place. */
    fd = open(f->path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(util_write_atomic(f->path, "new", 3, 0644, 0), 0);
    assert_int_equal(stat(f->path, &after), 0);
    assert_true(before.st_ino != after.st_ino);
    assert_int_equal(read(fd, buf, sizeof(buf) - 1), 12);
    assert_string_equal(buf, "old contents");
    close(fd);
    assert_contents(f->path, "new");
    assert_int_equal(temp_files(f->dir), 0);
}

static void test_mode_exact(void **state)
{
    struct fx *f = *state;
    mode_t old = umask(077);
    struct stat st;

    /* the umask would narrow 0644 to 0600; the writer sets it exactly */
    assert_int_equal(util_write_atomic(f->path, "pub", 3, 0644, 0), 0);
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    umask(022);
    /* a key: 0600 even where the umask would allow more, and replacing a
     * 0644 file does not keep the old mode */
    assert_int_equal(util_write_atomic(f->path, "key", 3, 0600, 0), 0);
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    umask(old);
}

static void test_exclusive(void **state)
{
    struct fx *f = *state;

    assert_int_equal(util_write_atomic(f->path, "first", 5, 0600, UTIL_WRITE_EXCL), 0);
    assert_contents(f->path, "first");
    assert_int_equal(util_write_atomic(f->path, "second", 6, 0600, UTIL_WRITE_EXCL),
                     SCEP_ERR_EXISTS);
    assert_contents(f->path, "first");
    assert_int_equal(temp_files(f->dir), 0);
}

static void test_failures_clean_up(void **state)
{
    struct fx *f = *state;
    char missing[4200], sub[4200], inside[4300];

    /* no such directory: nothing is created anywhere */
    snprintf(missing, sizeof(missing), "%s/nodir/out.pem", f->dir);
    assert_int_equal(util_write_atomic(missing, "x", 1, 0644, 0), SCEP_ERR_IO);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(temp_files(f->dir), 0);

    /* a non-empty directory where the file should go: rename fails, the
     * temp file is removed, the directory is untouched */
    snprintf(sub, sizeof(sub), "%s/taken", f->dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(inside, sizeof(inside), "%s/keep", sub);
    assert_int_equal(util_write_atomic(inside, "k", 1, 0644, 0), 0);
    assert_int_equal(util_write_atomic(sub, "x", 1, 0644, 0), SCEP_ERR_IO);
    assert_int_equal(temp_files(f->dir), 0);
    assert_contents(inside, "k");

    /* bad arguments are refused before anything is touched */
    assert_int_equal(util_write_atomic(NULL, "x", 1, 0644, 0), SCEP_ERR_INVALID_ARG);
    assert_int_equal(util_write_atomic("", "x", 1, 0644, 0), SCEP_ERR_INVALID_ARG);
    assert_int_equal(util_write_atomic(f->path, NULL, 1, 0644, 0), SCEP_ERR_INVALID_ARG);
    assert_int_equal(util_write_atomic(f->path, "x", 1, 0644, 0x80), SCEP_ERR_INVALID_ARG);
    assert_int_equal(util_write_atomic(f->path, "x", 1, 010000, 0), SCEP_ERR_INVALID_ARG);
    assert_int_equal(access(f->path, F_OK), -1);
}

static void test_write_fails_halfway(void **state)
{
    struct fx *f = *state;
    struct rlimit old, small;
    char big[4096];
    void (*prev)(int);
    int rc;

    assert_int_equal(util_write_atomic(f->path, "intact", 6, 0644, 0), 0);
    /* With RLIMIT_FSIZE at 100 bytes the write stops after 100 of 4096
     * (EFBIG; SIGXFSZ ignored), even for root. */
    memset(big, 'A', sizeof(big));
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    small = old;
    small.rlim_cur = 100;
    prev = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    rc = util_write_atomic(f->path, big, sizeof(big), 0644, 0);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);
    assert_int_equal(rc, SCEP_ERR_IO);
    assert_contents(f->path, "intact");
    assert_int_equal(temp_files(f->dir), 0);
}

static void test_fsync_dir(void **state)
{
    struct fx *f = *state;
    char missing[4200];

    assert_int_equal(util_fsync_dir(f->dir), 0);
    snprintf(missing, sizeof(missing), "%s/none", f->dir);
    assert_int_equal(util_fsync_dir(missing), SCEP_ERR_IO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_writes_new_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replaces_by_rename, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mode_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exclusive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failures_clean_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_fails_halfway, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fsync_dir, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
