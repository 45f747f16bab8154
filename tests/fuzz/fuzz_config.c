/*
 * libFuzzer harness: scepd.conf(5) as read from a file (libinih under
 * lib/config's reader: line lengths, sections, every key's value
 * parser, profile sections and their rule keys with their regular
 * expressions).  Each input is written to one file in a throwaway
 * directory and read into fresh defaults; scep_config_finish is left
 * out, since it opens the files a configuration names.  The reader must
 * answer every input with 0 or SCEP_ERR_CONFIG, and an error must carry
 * a reason.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <scep/error.h>
#include <scep/scep.h>
#include "config/config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_path[512];

static void fuzz_cleanup(void)
{
    if (fuzz_path[0] != '\0')
        (void)unlink(fuzz_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *tmp = getenv("TMPDIR");
    int fd;

    (void)argc;
    (void)argv;
    if (scep_init() != 0)
        abort();
    snprintf(fuzz_path, sizeof(fuzz_path), "%s/fuzz_config.XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    fd = mkstemp(fuzz_path);
    if (fd < 0)
        abort();
    close(fd);
    atexit(fuzz_cleanup);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct scep_config c;
    char err[512];
    FILE *fp;
    int rc;

    fp = fopen(fuzz_path, "w");
    if (fp == NULL || (size > 0 && fwrite(data, 1, size, fp) != size) || fclose(fp) != 0)
        abort();
    if (scep_config_defaults(&c) != 0)
        abort();
    err[0] = '\0';
    rc = scep_config_load_file(&c, fuzz_path, err, sizeof(err));
    if (rc != 0 && rc != SCEP_ERR_CONFIG && rc != SCEP_ERR_NOMEM)
        abort();
    if (rc != 0 && err[0] == '\0')
        abort();
    scep_config_clear(&c);
    return 0;
}
