/* Resolution for servers and connections: numeric addresses without a
 * thread, names through getaddrinfo in the loop's executor (asyncio runs
 * getaddrinfo in the default executor). */
#include "transport_internal.h"

#include <asynclib/executor.h>
#include <asynclib/task.h>

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int eai_code(int rc)
{
    switch (rc) {
    case 0:
        return 0;
    case EAI_NONAME:
        return AIO_EAI_NONAME;
    case EAI_AGAIN:
        return AIO_EAI_AGAIN;
    case EAI_FAIL:
        return AIO_EAI_FAIL;
    case EAI_FAMILY:
        return AIO_EAI_FAMILY;
    case EAI_SOCKTYPE:
        return AIO_EAI_SOCKTYPE;
    case EAI_SERVICE:
        return AIO_EAI_SERVICE;
    case EAI_BADFLAGS:
        return AIO_EAI_BADFLAGS;
#ifdef EAI_NODATA
    case EAI_NODATA:
        return AIO_EAI_NODATA;
#endif
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY:
        return AIO_EAI_ADDRFAMILY;
#endif
    case EAI_OVERFLOW:
        return AIO_EAI_OVERFLOW;
    case EAI_MEMORY:
        return -ENOMEM;
    case EAI_SYSTEM:
        return errno ? -errno : AIO_EAI_FAIL;
    default:
        return AIO_EAI_FAIL;
    }
}

typedef struct lookup {
    char *host;
    char port[8];
    struct addrinfo hints;
    struct addrinfo *res;
    int rc;
} lookup;

/* The lookup becomes the job's result: released by the result destructor
 * if the wait was cancelled, taken by the waiter otherwise. */
static int lookup_work(void *arg, void **result)
{
    lookup *l = arg;
    l->rc = eai_code(getaddrinfo(l->host, l->port, &l->hints, &l->res));
    *result = l;
    return 0;
}

static void lookup_free(void *arg)
{
    lookup *l = arg;
    if (l->res)
        freeaddrinfo(l->res);
    free(l->host);
    free(l);
}

int aio__resolve(al_loop *loop, const char *host, int port, int family, int flags,
                 struct addrinfo **res)
{
    if (port < 0 || port > 65535)
        return -EINVAL;
    struct addrinfo hints = {.ai_family = family,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = flags | AI_NUMERICHOST | AI_NUMERICSERV};
    char serv[8];
    snprintf(serv, sizeof serv, "%d", port);
    int rc = getaddrinfo(host, serv, &hints, res);
    if (rc != EAI_NONAME || !host)
        return eai_code(rc);
    hints.ai_flags &= ~AI_NUMERICHOST;
    if (!al_current_task() || al_loop_running() != loop)
        return eai_code(getaddrinfo(host, serv, &hints, res));
    lookup *l = calloc(1, sizeof *l);
    if (!l || !(l->host = strdup(host))) {
        free(l);
        return -ENOMEM;
    }
    memcpy(l->port, serv, sizeof serv);
    l->hints = hints;
    al_future *f;
    rc = al_loop_run_in_executor(loop, lookup_work, l, lookup_free, &f);
    if (rc < 0) {
        lookup_free(l);
        return rc;
    }
    rc = al_await(f);
    void *v = NULL;
    if (rc == 0)
        rc = al_future_take_result(f, &v);
    al_future_unref(f);
    if (rc < 0)
        return rc;
    l = v;
    rc = l->rc;
    *res = l->res;
    l->res = NULL;
    lookup_free(l);
    return rc;
}
