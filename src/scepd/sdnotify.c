/* The sd_notify protocol (sdnotify.h). */
#include "sdnotify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "scepd.h"

int scepd_sd_notify(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa;
    socklen_t salen;
    size_t n;
    ssize_t sent;
    int fd, rc = -1;

    if (path == NULL || path[0] == '\0')
        return 0;
    n = strlen(path);
    /* A path or, with a leading '@', a name in the abstract namespace. */
    if ((path[0] != '/' && path[0] != '@') || n >= sizeof(sa.sun_path)) {
        scepd_log(SCEPD_WARN, "NOTIFY_SOCKET is not a socket path", NULL);
        return -1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, n);
    if (path[0] == '@')
        sa.sun_path[0] = '\0';
    salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto out;
    sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (const struct sockaddr *)&sa, salen);
    rc = sent == (ssize_t)strlen(state) ? 1 : -1;
out:
    if (rc < 0)
        scepd_log(SCEPD_WARN, "cannot notify the service manager", "error", strerror(errno), NULL);
    if (fd >= 0)
        close(fd);
    return rc;
}
