/* The one hook between the pure loop and a layer that can wait on more
 * than time: the C form of subclassing BaseEventLoop.
 *
 * A loop implementation supplies an operations table and an opaque impl
 * pointer. The pure loop owns the ready queue and the timers and calls
 * ops->wait(timeout) as the only blocking step of every iteration; the I/O
 * loop's wait is a selector's select plus queueing of the ready fd
 * callbacks. All callbacks run on the loop's thread except wakeup.
 *
 * Worked examples: the two pure loops (al_loop_new, al_loop_new_virtual,
 * in asynclib/src/clock.c) are built exactly this way. Their impl holds
 * everything they wait on (a mutex, a condition variable, a woken flag,
 * the virtual clock and its count of work in flight); the core's struct
 * holds none of it. An implementation:
 *   1. allocates its impl (if al_loop_new_with_ops fails, it still owns it);
 *   2. reads it back with al_loop_impl(loop) in every operation;
 *   3. releases what only the loop's thread uses (a selector) in close,
 *      and what wakeup and time still use (the wakeup channel, a lock, the
 *      impl itself) in destroy: wakeup may be called from another thread
 *      after close, until the loop's memory goes.
 */
#ifndef ASYNCLIB_LOOP_OPS_H
#define ASYNCLIB_LOOP_OPS_H

#include <asynclib/export.h>
#include <asynclib/loop.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct al_loop_ops {
    const char *name;
    /* Monotonic seconds. */
    double (*time)(al_loop *loop);
    /* Blocks for at most timeout seconds (< 0: until woken; 0: poll) or until
     * wakeup. timeout is never NaN or infinite but may be huge (a timer
     * years away): a wait may cap it and return early, the loop recomputes.
     * Returns 0 or a negative code (reported, the loop goes on). */
    int (*wait)(al_loop *loop, double timeout);
    /* Any thread: makes the current or next wait return promptly. */
    void (*wakeup)(al_loop *loop);
    /* Releases what only the loop's thread uses (a selector); called once,
     * by al_loop_close (also via al_loop_free). May be NULL. time and
     * wakeup must keep working after it (see destroy). */
    void (*close)(al_loop *loop);
    /* Loop thread: work on another thread that will complete a future of
     * this loop began (delta +1) or ended (-1): an executor job. A loop
     * whose clock does not follow real time (the virtual loop) waits in
     * real time while any is in flight. May be NULL (ignored). */
    void (*external)(al_loop *loop, int delta);
    /* Releases the rest of impl once the loop's memory goes (its last
     * reference dropped, after close); nothing calls into ops afterwards.
     * May be NULL. */
    void (*destroy)(al_loop *loop);
} al_loop_ops;

/* A loop driven by ops; impl is the implementation's state, owned by it and
 * released in ops->close and ops->destroy. NULL on ENOMEM or a table without
 * time, wait or wakeup (impl is then still the caller's). ops must outlive
 * the loop (a static table). Members added later go at the end, so a table
 * written for an older version stays valid (use designated initializers). */
AL_API al_loop *al_loop_new_with_ops(const al_loop_ops *ops, void *impl);

/* The implementation state given to al_loop_new_with_ops and the
 * operations table. Any thread. */
AL_API void *al_loop_impl(const al_loop *loop);
AL_API const al_loop_ops *al_loop_get_ops(const al_loop *loop);

/* ---- persistent handles: events become ready callbacks without malloc ----
 *
 * Why this grew: an implementation whose wait learns of events (the I/O
 * loop: ready fds) turns them into ordinary ready callbacks of the current
 * iteration, as asyncio's _process_events does. Scheduling each with
 * al_call_soon would take a handle per event; instead the implementation
 * makes one handle per source (per fd and direction) when the source is
 * registered, keeps it as long as the registration, and queues that same
 * handle each time the source is ready. The pure loops do not use these. */

/* A handle for fn(loop, arg) that is not queued. *out is the caller's only
 * reference (release with al_handle_unref; al_handle_cancel makes a queued
 * run not happen and later queueing a no-op). The handle must not be given
 * to anyone else. Loop thread. Errors: -EINVAL, AL_ELOOPCLOSED, -ENOMEM;
 * AL_EWRONGTHREAD in debug mode. */
AL_API int al_loop_handle_new(al_loop *loop, al_callback_fn fn, void *arg, al_handle **out);

/* Appends h (made by al_loop_handle_new on this loop) to the ready queue:
 * called from ops->wait, it runs in the iteration that wait belongs to.
 * Returns 1 if queued, 0 if h is cancelled or already queued (a source
 * ready twice runs once), -EINVAL for NULL or another loop's handle.
 * Loop thread. */
AL_API int al_loop_queue_handle(al_loop *loop, al_handle *h);

/* The timeout the next iteration would pass to ops->wait, computed now: 0
 * when callbacks are ready or a stop was requested, the seconds to the
 * earliest timer that is not cancelled, or -1 when there is none. Why it is
 * here: a loop driven by another event system (aio_loop_timeout, libuv's
 * uv_backend_timeout) tells its host how long it may sleep. NaN for NULL.
 * Loop thread. */
AL_API double al_loop_next_timeout(al_loop *loop);

/* True when the next thing the running loop does is its wait: no callback
 * is ready (none left in this iteration, none queued for the next), no
 * stop was requested and this is not al_loop_run_once's single iteration.
 * Why it is here: the I/O loop's socket calls may then skip a read that
 * would only find nothing and go straight to the wait, and still resume
 * first if the data was there (nothing can run in between). False for
 * NULL or a loop that is not running. Loop thread. */
AL_API bool al_loop_waits_next(const al_loop *loop);

#ifdef __cplusplus
}
#endif
#endif
