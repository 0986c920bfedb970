/* Resolution for servers and connections: numeric addresses without a
 * thread, names through aio_getaddrinfo (dns.c: the loop's executor, as
 * asyncio runs getaddrinfo in the default executor). */
#include "transport_internal.h"

#include <asyncio/dns.h>
#include <asynclib/task.h>

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int aio__resolve(al_loop *loop, const char *host, int port, int family, int flags,
                 struct addrinfo **res)
{
    return aio__resolve_type(loop, host, port, family, SOCK_STREAM, flags, res);
}

int aio__resolve_type(al_loop *loop, const char *host, int port, int family, int socktype,
                      int flags, struct addrinfo **res)
{
    if (port < 0 || port > 65535)
        return -EINVAL;
    struct addrinfo hints = {.ai_family = family,
                             .ai_socktype = socktype,
                             .ai_flags = flags | AI_NUMERICHOST | AI_NUMERICSERV};
    char serv[8];
    snprintf(serv, sizeof serv, "%d", port);
    int rc = getaddrinfo(host, serv, &hints, res);
    if (rc != EAI_NONAME || !host)
        return aio_eai_code(rc, errno);
    hints.ai_flags &= ~AI_NUMERICHOST;
    if (!al_current_task() || al_get_running_loop() != loop) {
        rc = getaddrinfo(host, serv, &hints, res);
        return aio_eai_code(rc, errno);
    }
    return aio_getaddrinfo(loop, host, serv, &hints, res);
}
