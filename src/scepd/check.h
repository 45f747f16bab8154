/*
 * scepd -t (--check-config): what a start would find wrong, without
 * starting (nginx -t, sshd -t).  The configuration is already read and
 * checked (every key, every profile, with FILE:LINE) when this runs;
 * here the state the configuration points at is checked the way a start
 * would use it, creating nothing: the state directory, the CA and its
 * key modes, the challenge file, the certificate store.
 */
#ifndef SCEPD_CHECK_H
#define SCEPD_CHECK_H

struct scep_config;

/*
 * Checks cfg's state; prints each finding to stderr ("scepd: ...") and,
 * when all is well, one summary line per part to stdout.  Returns
 * SCEPD_EXIT_OK or SCEPD_EXIT_USAGE (2, as for a configuration error).
 */
int scepd_check(const struct scep_config *cfg);

#endif
