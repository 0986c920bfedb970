/* al_run: asyncio.run. A fresh loop (or the caller's, al_run_on: asyncio's
 * Runner(loop_factory=...)), the main task to completion, then the tasks
 * left behind are cancelled and awaited, the executor is shut down and the
 * loop closed (and freed, when it was al_run's own). */
#include "interrupt.h"
#include "loop_internal.h"

#include <asynclib/error.h>
#include <asynclib/executor.h>
#include <asynclib/task.h>

#include <errno.h>
#include <stdlib.h>

#define AL_RUN_EXECUTOR_TIMEOUT 300.0 /* asyncio's constants.THREAD_JOIN_TIMEOUT */

static void cancel_leftovers(al_loop *loop)
{
    size_t n = al_loop_all_tasks(loop, NULL, 0);
    if (n == 0)
        return;
    al_task **tasks = malloc(n * sizeof *tasks);
    if (!tasks)
        return; /* al_loop_close will drop them and report each */
    al_loop_all_tasks(loop, tasks, n);
    for (size_t i = 0; i < n; i++) {
        al_future_ref(al_task_future(tasks[i]));
        al_task_cancel(tasks[i], NULL);
    }
    /* Run until every one of them is done (they may catch the cancellation
     * and take a while, as in asyncio's gather of the leftovers). */
    for (size_t i = 0; i < n; i++) {
        al_future *f = al_task_future(tasks[i]);
        if (!al_future_done(f))
            al_loop_run_until_complete(loop, f);
        int rc = al_future_error(f);
        if (rc < 0 && rc != AL_ECANCELLED)
            al__report(loop, "unhandled error during al_run() shutdown", rc, f, tasks[i]);
        al_future_unref(f);
    }
    free(tasks);
}

/* asyncio.Runner.run then Runner.close: the main task, the leftovers, the
 * executor, the loop's close. */
static int run_main_task(al_loop *loop, al_task_fn fn, void *arg, void **result)
{
    al_task *main_task;
    int rc = al_task_new(loop, fn, arg, NULL, &main_task);
    if (rc < 0)
        return rc; /* nothing was created: the loop is as it was */
    al_future *f = al_task_future(main_task);
    al_interrupt *in = al__interrupt_start(loop, main_task);
    rc = al_loop_run_until_complete(loop, f);
    if (al__interrupt_stop(in) && rc == AL_ECANCELLED)
        rc = -EINTR; /* Ctrl+C: asyncio's KeyboardInterrupt */
    if (rc == 0)
        al_future_take_result(f, result);
    al_task_unref(main_task);
    cancel_leftovers(loop);
    al_loop_shutdown_default_executor(loop, AL_RUN_EXECUTOR_TIMEOUT);
    /* One iteration that does not block: deliver the last completions. */
    al_loop_stop(loop);
    al_loop_run_forever(loop);
    al_loop_close(loop);
    return rc;
}

int al_run_on(al_loop *loop, al_task_fn fn, void *arg, void **result)
{
    if (!fn)
        return -EINVAL;
    int rc = al__loop_can_run(loop);
    return rc < 0 ? rc : run_main_task(loop, fn, arg, result);
}

int al_run(al_task_fn fn, void *arg, void **result)
{
    if (!fn)
        return -EINVAL;
    if (al_get_running_loop())
        return AL_ELOOPRUNNING;
    al_loop *loop = al_loop_new();
    if (!loop)
        return -ENOMEM;
    int rc = run_main_task(loop, fn, arg, result);
    al_loop_free(loop);
    return rc;
}
