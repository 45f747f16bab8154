/*
 * systemd readiness (sd_notify(3), Type=notify): one datagram to the
 * AF_UNIX socket named in $NOTIFY_SOCKET.  The protocol is a line of
 * text per state, so it is written here directly (about forty lines)
 * rather than linking libsystemd for one call; without $NOTIFY_SOCKET
 * (not under systemd) it does nothing.
 */
#ifndef SCEPD_SDNOTIFY_H
#define SCEPD_SDNOTIFY_H

/*
 * Sends state ("READY=1\nSTATUS=...", "STOPPING=1") to the service
 * manager.  Returns 1 when sent, 0 when there is no manager to tell,
 * -1 when sending failed (logged; the service goes on either way).
 */
int scepd_sd_notify(const char *state);

#endif
