/* The loop's default executor: a bounded pool of threads for blocking work
 * (asyncio's run_in_executor and shutdown_default_executor).
 *
 * Work runs on a pool thread; its outcome completes a future on the loop's
 * thread. Cancelling that future before the work started withdraws the
 * work; cancelling it later lets the work finish and discards its result
 * (through the result destructor). Threads are created lazily, up to the
 * maximum (default: number of CPUs + 4, at most 32).
 */
#ifndef ASYNCLIB_EXECUTOR_H
#define ASYNCLIB_EXECUTOR_H

#include <asynclib/export.h>
#include <asynclib/future.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Blocking work: runs on a pool thread. Returns 0 (or any non-negative
 * value) with *result (NULL when left unset), AL_ECANCELLED (the future
 * ends cancelled), or another negative code (the future's error). A result
 * stored in *result is released exactly once by the result_dtor, whatever
 * the function returned: moved into the future on success, released at
 * once when it failed, or when nobody wants it any more (the future was
 * cancelled, or the loop closed: then possibly on the pool thread). It
 * must not touch the loop except through al_call_soon_threadsafe. */
typedef int (*al_work_fn)(void *arg, void **result);

/* Submits fn(arg) and sets *out to a new future (the caller's reference)
 * that completes with its result (owned by the future; result_dtor may be
 * NULL) or error. Loop thread only. Errors: -EINVAL, AL_ELOOPCLOSED,
 * AL_EINVALIDSTATE after al_loop_shutdown_default_executor, -ENOMEM,
 * -EAGAIN (no thread could be created); nothing is submitted on error. */
AL_API int al_loop_run_in_executor(al_loop *loop, al_work_fn fn, void *arg,
                                   al_value_dtor result_dtor, al_future **out);

/* Sets the pool's maximum number of threads (>= 1), before first use.
 * AL_EINVALIDSTATE once the pool exists. */
AL_API int al_loop_set_executor_workers(al_loop *loop, int max_workers);

/* Lets queued work finish and waits up to timeout seconds for every pool
 * thread to exit. A negative timeout, AL_FOREVER and anything above 1e9 s
 * (31 years) mean no limit; NaN is -EINVAL (and nothing changes).
 * Returns 0, or AL_ETIMEOUT: the threads
 * still running finish their work and exit on their own. Later submissions
 * fail with AL_EINVALIDSTATE. Completions are delivered when the loop runs
 * again. Loop thread only, not from inside a running loop's callback if
 * work could wait on the loop. */
AL_API int al_loop_shutdown_default_executor(al_loop *loop, double timeout);

#ifdef __cplusplus
}
#endif
#endif
