/*
 * Replays seed corpora through a libFuzzer harness without libFuzzer, so
 * that every harness runs under CTest with any compiler: each argument is
 * a file or a directory whose regular files are fed, one by one, to
 * LLVMFuzzerTestOneInput().  Exits non-zero if an input cannot be read or
 * a directory holds no input (a crash ends the process anyway).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    long n;
    int rc = -1;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
        goto out;
    /* malloc(0) may return NULL; one spare byte avoids that case */
    if ((buf = malloc((size_t)n + 1)) == NULL)
        goto out;
    if (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)
        goto out;
    LLVMFuzzerTestOneInput(buf, (size_t)n);
    rc = 0;
out:
    if (rc != 0)
        fprintf(stderr, "driver: cannot read %s\n", path);
    free(buf);
    if (f != NULL)
        fclose(f);
    return rc;
}

int main(int argc, char **argv)
{
    int i, count = 0, failed = 0;

    if (LLVMFuzzerInitialize(&argc, &argv) != 0)
        return 1;

    for (i = 1; i < argc; i++) {
        struct stat st;
        DIR *d;
        struct dirent *e;

        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "driver: %s: not found\n", argv[i]);
            return 1;
        }
        if (!S_ISDIR(st.st_mode)) {
            failed |= run_file(argv[i]) != 0;
            count++;
            continue;
        }
        if ((d = opendir(argv[i])) == NULL)
            return 1;
        while ((e = readdir(d)) != NULL) {
            char path[4096];
            int n = snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);

            if (n < 0 || (size_t)n >= sizeof(path))
                continue;
            if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
                continue;
            failed |= run_file(path) != 0;
            count++;
        }
        closedir(d);
    }
    printf("driver: %d input(s)\n", count);
    return failed || count == 0;
}
