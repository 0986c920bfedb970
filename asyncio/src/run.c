/* aio_run: asyncio.run on a fresh I/O loop. */
#include "io_internal.h"

#include <asynclib/executor.h>
#include <asynclib/task.h>

#include <errno.h>
#include <stdlib.h>

#define AIO_RUN_EXECUTOR_TIMEOUT 300.0 /* asyncio's constants.THREAD_JOIN_TIMEOUT */

/* asyncio.runners._cancel_all_tasks: cancel what is left, let it finish. */
static void cancel_leftovers(al_loop *loop)
{
    size_t n = al_loop_all_tasks(loop, NULL, 0);
    al_task **tasks = n ? malloc(n * sizeof *tasks) : NULL;
    if (!tasks)
        return; /* al_loop_close drops them and reports each */
    n = al_loop_all_tasks(loop, tasks, n);
    for (size_t i = 0; i < n; i++) {
        al_future_ref(al_task_future(tasks[i]));
        al_task_cancel(tasks[i], NULL);
    }
    for (size_t i = 0; i < n; i++) {
        al_future *f = al_task_future(tasks[i]);
        if (!al_future_done(f))
            al_loop_run_until_complete(loop, f);
        int rc = al_future_error(f);
        if (rc < 0 && rc != AL_ECANCELLED) {
            al_error_context ctx = {.message = "unhandled error during aio_run() shutdown",
                                    .error = rc,
                                    .future = f,
                                    .task = tasks[i]};
            al_loop_call_exception_handler(loop, &ctx);
        }
        al_future_unref(f);
    }
    free(tasks);
}

int aio_run(al_task_fn fn, void *arg, void **result, const char *backend)
{
    if (!fn)
        return -EINVAL;
    if (al_loop_running())
        return AL_ELOOPRUNNING;
    al_loop *loop;
    int rc = aio_loop_new(backend, &loop);
    if (rc < 0)
        return rc;
    al_task *main_task;
    rc = al_task_new(loop, fn, arg, NULL, &main_task);
    if (rc == 0) {
        al_future *f = al_task_future(main_task);
        bool interrupted = false;
        void *sigint = aio__sigint_begin(loop, main_task, &interrupted);
        rc = al_loop_run_until_complete(loop, f);
        aio__sigint_end(loop, sigint);
        if (interrupted && rc == AL_ECANCELLED)
            rc = -EINTR; /* Ctrl+C: asyncio's KeyboardInterrupt */
        if (rc == 0)
            al_future_take_result(f, result);
        al_task_unref(main_task);
        cancel_leftovers(loop);
        al_loop_shutdown_default_executor(loop, AIO_RUN_EXECUTOR_TIMEOUT);
        al_loop_stop(loop); /* one iteration that does not block */
        al_loop_run_forever(loop);
    }
    al_loop_free(loop);
    return rc;
}
