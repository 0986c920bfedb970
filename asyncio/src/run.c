/* aio_run: asyncio.run on a fresh I/O loop, through al_run_on (asyncio's
 * Runner(loop_factory=...)). */
#include "io_internal.h"

#include <asynclib/task.h>

#include <errno.h>

int aio_run(al_task_fn fn, void *arg, void **result, const char *backend)
{
    if (!fn)
        return -EINVAL;
    if (al_get_running_loop())
        return AL_ELOOPRUNNING;
    al_loop *loop;
    int rc = aio_loop_new(backend, &loop);
    if (rc < 0)
        return rc;
    rc = al_run_on(loop, fn, arg, result);
    al_loop_free(loop);
    return rc;
}
